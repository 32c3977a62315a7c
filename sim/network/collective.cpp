#include <gpuhours/network/collective.hpp>
#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <span>

namespace gpuhours {

std::string_view to_string(CollectiveKind k) {
    switch (k) {
        case CollectiveKind::all_reduce: return "all-reduce";
        case CollectiveKind::reduce_scatter: return "reduce-scatter";
        case CollectiveKind::all_gather: return "all-gather";
        case CollectiveKind::all_to_all: return "all-to-all";
        case CollectiveKind::broadcast: return "broadcast";
        case CollectiveKind::send_recv: return "send-recv";
    }
    return "?";
}

std::string_view to_string(CollectiveAlgorithm a) {
    switch (a) {
        case CollectiveAlgorithm::ring: return "ring";
        case CollectiveAlgorithm::tree: return "tree";
        case CollectiveAlgorithm::hierarchical: return "hierarchical";
        case CollectiveAlgorithm::direct: return "direct";
        case CollectiveAlgorithm::node_forwarded: return "node-forwarded";
    }
    return "?";
}

std::optional<CollectiveKind> collective_kind_from_string(std::string_view name) {
    for (CollectiveKind k : {CollectiveKind::all_reduce, CollectiveKind::reduce_scatter, CollectiveKind::all_gather,
                             CollectiveKind::all_to_all, CollectiveKind::broadcast, CollectiveKind::send_recv}) {
        if (to_string(k) == name) return k;
    }
    return std::nullopt;
}

std::optional<CollectiveAlgorithm> collective_algorithm_from_string(std::string_view name) {
    for (CollectiveAlgorithm a : {CollectiveAlgorithm::ring, CollectiveAlgorithm::tree, CollectiveAlgorithm::hierarchical,
                                  CollectiveAlgorithm::direct, CollectiveAlgorithm::node_forwarded}) {
        if (to_string(a) == name) return a;
    }
    return std::nullopt;
}

std::vector<CollectiveAlgorithm> supported_algorithms(CollectiveKind kind) {
    switch (kind) {
        case CollectiveKind::all_reduce:
            return {CollectiveAlgorithm::ring, CollectiveAlgorithm::hierarchical, CollectiveAlgorithm::tree};
        case CollectiveKind::reduce_scatter:
        case CollectiveKind::all_gather:
        case CollectiveKind::broadcast: return {CollectiveAlgorithm::ring};
        case CollectiveKind::all_to_all:
        case CollectiveKind::send_recv: return {CollectiveAlgorithm::direct};
    }
    return {};
}

double bus_bandwidth_factor(CollectiveKind kind, std::size_t ranks) {
    const auto n = static_cast<double>(ranks);
    if (ranks == 0) return 0.0;
    switch (kind) {
        case CollectiveKind::all_reduce: return 2.0 * (n - 1.0) / n;
        case CollectiveKind::reduce_scatter:
        case CollectiveKind::all_gather:
        case CollectiveKind::all_to_all: return (n - 1.0) / n;
        case CollectiveKind::broadcast:
        case CollectiveKind::send_recv: return 1.0;
    }
    return 1.0;
}

namespace {

// Ranks grouped by node, nodes in order of first appearance, ranks in given order within a node: group g is
// ranks[begin[g] .. begin[g + 1]). Flat (symmetric mode plans thousands of groups per step, a strided one with a
// node per rank: a vector per node cost more than the plan's flows).
class NodeGroups {
public:
    [[nodiscard]] std::size_t size() const { return begin_.size() - 1; }
    [[nodiscard]] std::span<const VertexId> operator[](std::size_t g) const {
        return {ranks_.data() + begin_[g], static_cast<std::size_t>(begin_[g + 1] - begin_[g])};
    }
    [[nodiscard]] std::span<const VertexId> front() const { return (*this)[0]; }
    struct Iterator {
        const NodeGroups* groups;
        std::size_t g;
        std::span<const VertexId> operator*() const { return (*groups)[g]; }
        Iterator& operator++() {
            ++g;
            return *this;
        }
        bool operator!=(const Iterator& o) const { return g != o.g; }
    };
    [[nodiscard]] Iterator begin() const { return {this, 0}; }
    [[nodiscard]] Iterator end() const { return {this, size()}; }

    NodeGroups(const Topology& topology, const std::vector<VertexId>& ranks) {
        // A node's group in this call: slot[node] where stamp[node] is this call's (no map, no clearing).
        thread_local std::vector<std::uint32_t> stamp, slot;
        thread_local std::uint32_t now = 0;
        if (++now == 0) {
            std::fill(stamp.begin(), stamp.end(), 0);
            now = 1;
        }
        std::vector<std::uint32_t> group_of(ranks.size());
        std::vector<std::uint32_t> count;
        for (std::size_t i = 0; i < ranks.size(); ++i) {
            const int node = topology.vertex(ranks[i]).node;
            if (node < 0) {  // not in a node (never a GPU of a builder's fabric): a group of its own
                group_of[i] = static_cast<std::uint32_t>(count.size());
                count.push_back(1);
                continue;
            }
            const auto at = static_cast<std::size_t>(node);
            if (at >= stamp.size()) {
                stamp.resize(std::max(at + 1, 2 * stamp.size()), 0);
                slot.resize(stamp.size(), 0);
            }
            if (stamp[at] != now) {
                stamp[at] = now;
                slot[at] = static_cast<std::uint32_t>(count.size());
                count.push_back(0);
            }
            group_of[i] = slot[at];
            ++count[slot[at]];
        }
        begin_.assign(count.size() + 1, 0);
        for (std::size_t g = 0; g < count.size(); ++g) begin_[g + 1] = begin_[g] + count[g];
        ranks_.resize(ranks.size());
        std::vector<std::uint32_t> next(begin_.begin(), begin_.end() - 1);
        for (std::size_t i = 0; i < ranks.size(); ++i) ranks_[next[group_of[i]]++] = ranks[i];
    }

private:
    std::vector<VertexId> ranks_;
    std::vector<std::uint32_t> begin_;
};

NodeGroups by_node(const Topology& topology, const std::vector<VertexId>& ranks) { return NodeGroups(topology, ranks); }

template <class Groups>
bool uniform(const Groups& groups) {
    for (const auto& g : groups) {
        if (g.size() != groups.front().size()) return false;
    }
    return true;
}

// NCCL-style rings (see collective.hpp): k rail-aligned rings on ≥ 2 nodes of k ranks each, else one ring.
std::vector<std::vector<VertexId>> make_rings(const Topology& topology, const std::vector<VertexId>& ranks) {
    const auto groups = by_node(topology, ranks);
    const std::size_t k = groups.front().size();
    if (groups.size() < 2 || k < 2 || !uniform(groups)) return {ranks};
    std::vector<std::vector<VertexId>> rings;
    rings.reserve(k);
    const auto ki = static_cast<long>(k);
    for (long c = 0; c < ki; ++c) {
        std::vector<VertexId> ring;
        ring.reserve(ranks.size());
        for (std::size_t m = 0; m < groups.size(); ++m) {
            const long first = ((c - static_cast<long>(m)) % ki + ki) % ki;
            for (long j = 0; j < ki; ++j) ring.push_back(groups[m][static_cast<std::size_t>((first + j) % ki)]);
        }
        rings.push_back(std::move(ring));
    }
    return rings;
}

// One step of every ring: each rank sends `bytes_per_ring` to its successor.
template <class Rings>
FlowSet ring_step(const Rings& rings, Bytes bytes_per_ring) {
    FlowSet set;
    std::size_t flows = 0;
    for (const auto& ring : rings) flows += ring.size() < 2 ? 0 : ring.size();
    set.flows.reserve(flows);
    for (const auto& ring : rings) {
        if (ring.size() < 2) continue;
        for (std::size_t i = 0; i < ring.size(); ++i) set.flows.push_back(FlowSpec{ring[i], ring[(i + 1) % ring.size()], bytes_per_ring});
    }
    return set;
}

void validate(const Topology& topology, const CollectiveRequest& request, CollectiveAlgorithm algorithm) {
    if (request.ranks.empty()) throw Error(fmt::format("{} needs at least one rank", to_string(request.kind)), "add ranks to the group");
    for (const VertexId r : request.ranks) {
        if (r >= topology.vertex_count() || topology.vertex(r).kind != VertexKind::gpu) {
            throw Error(fmt::format("rank vertex {} of a {} is not a GPU", r, to_string(request.kind)),
                        "use Topology::gpu(index) to name ranks");
        }
    }
    std::vector<VertexId> sorted = request.ranks;
    std::sort(sorted.begin(), sorted.end());
    if (const auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end()) {
        throw Error(fmt::format("{} lists {} twice", to_string(request.kind), topology.describe(*twice)), "list each GPU once");
    }
    if (request.size.value() < 0.0) throw Error(fmt::format("{} size is negative", to_string(request.kind)), "use a size of 0 B or more");
    auto supported = supported_algorithms(request.kind);
    if (request.kind == CollectiveKind::all_to_all) supported.push_back(CollectiveAlgorithm::node_forwarded);
    if (std::find(supported.begin(), supported.end(), algorithm) == supported.end()) {
        std::string list;
        for (const auto a : supported) list += (list.empty() ? "" : ", ") + std::string(to_string(a));
        throw AlgorithmUnsupportedError(fmt::format("{} has no {} algorithm", to_string(request.kind), to_string(algorithm)),
                    fmt::format("use one of: {}", list));
    }
    if (request.kind == CollectiveKind::send_recv && request.ranks.size() != 2) {
        throw Error(fmt::format("send-recv needs exactly 2 ranks (sender, receiver), got {}", request.ranks.size()),
                    "pass the sender then the receiver");
    }
    for (const auto& [merge, what] : {std::pair{request.node_merge, "node"}, std::pair{request.gpu_merge, "GPU"}}) {
        if (!(merge > 0.0 && merge <= 1.0)) {
            throw Error(fmt::format("{} {} merge {} is outside (0, 1]", to_string(request.kind), what, merge),
                        fmt::format("give the share of a token's copies sent to a {}, 1 for every copy", what));
        }
    }
    if (request.root >= request.ranks.size()) {
        throw Error(fmt::format("root {} is out of range for {} ranks", request.root, request.ranks.size()),
                    "use a root index below the number of ranks");
    }
}

int floor_log2(std::size_t n) {
    int d = 0;
    while ((std::size_t{2} << d) <= n) ++d;
    return d;
}

// The parent of node i ≥ 1 in an in-order binary tree over nodes 0..m−1 rooted at 0: with b the lowest set bit of
// i, the node that clears b and sets 2b (its children are i ± b/2, so most edges join nearby nodes, which share
// leaf switches), or i − b when that is past the end. Depth ⌈log₂ m⌉.
std::size_t in_order_parent(std::size_t i, std::size_t m) {
    const std::size_t b = i & (~i + 1);
    const std::size_t up = (i ^ b) | (b << 1);
    return up < m ? up : i ^ b;
}

// NCCL's tree all-reduce (ncclTopoCompute's tree pattern; Sanders et al.'s double binary tree) on ranks that sit k
// per node on M ≥ 2 nodes: channel c of k reduces its share inside each node along a chain to local rank c, whose
// NIC (rail c) carries it through two binary trees over the nodes — tree A in order (in_order_parent), tree B the
// same over the nodes mirrored, so a node interior in one is a leaf of the other — each with half of the share,
// up (reduce) and down (broadcast), and back along the chain. NCCL pipelines chunks through every stage at once,
// so the plan is one phase of concurrent flows: per node a ring of chain
// traffic (each GPU sends and receives 2(k−1)/k of the buffer over NVLink, as k chains rotated through the node
// do), and per rail and tree both directions of every edge with S/(2k); a chunk's round trip crosses 2(k−1) chain
// hops and 2·⌊log₂ M⌋ tree hops. Each NIC then moves 2S/k each way — the two-level bound's bytes — with a
// latency logarithmic in M (a ring's grows as 2(M−1)). False (nothing planned) on one node or uneven nodes.
bool tree_over_nodes(const Topology& topology, const std::vector<VertexId>& ranks, Bytes size, CollectivePlan& plan) {
    const auto groups = by_node(topology, ranks);
    if (groups.size() < 2 || !uniform(groups)) return false;
    const std::size_t k = groups.front().size();
    const std::size_t m = groups.size();
    const double kd = static_cast<double>(k);
    FlowSet set;
    if (k > 1) {
        const Bytes chain = size * (2.0 * (kd - 1.0) / kd);
        for (const auto& g : groups) {
            for (std::size_t i = 0; i < k; ++i) set.flows.push_back(FlowSpec{g[i], g[(i + 1) % k], chain});
        }
    }
    const Bytes half = size / kd / 2.0;
    for (std::size_t c = 0; c < k; ++c) {
        for (int tree = 0; tree < 2; ++tree) {
            // Tree B is tree A on the nodes mirrored (M even: A's leaves are B's interior nodes) or shifted by one
            // (M odd: the same but for one node, interior in both).
            auto at = [&](std::size_t pos) {
                const std::size_t node = tree == 0 ? pos : (m % 2 == 0 ? m - 1 - pos : (pos + 1) % m);
                return groups[node][c];
            };
            for (std::size_t i = 1; i < m; ++i) {
                const std::size_t parent = in_order_parent(i, m);
                set.flows.push_back(FlowSpec{at(i), at(parent), half});  // reduce
                set.flows.push_back(FlowSpec{at(parent), at(i), half});  // broadcast
            }
        }
    }
    plan.channels = static_cast<int>(2 * k);
    plan.phases.push_back(CollectivePhase{"chains in nodes + double binary trees over nodes (pipelined)", std::move(set), 1,
                                          static_cast<int>(2 * (k - 1)) + 2 * floor_log2(m)});
    return true;
}

// An all-to-all (see the header). Direct: every pair at once with S/n. Node-forwarded (DeepEP's): one phase of RDMA
// flows, rank i of each node to rank i of every other, node_merge × g × S/n each, and NVLink flows between every
// two ranks of a node, M × gpu_merge × S/n each; on one node the pairs with S/n × gpu_merge, on uneven nodes with
// S/n × node_merge.
void plan_all_to_all(const Topology& topology, const CollectiveRequest& request, CollectiveAlgorithm algorithm,
                     CollectivePlan& plan) {
    const double n = static_cast<double>(request.ranks.size());
    const auto pairs = [&](double merge) {
        plan.phases.push_back(CollectivePhase{"all pairs", AllPairs{request.ranks, request.size * merge / n}, 1, 1});
    };
    if (algorithm != CollectiveAlgorithm::node_forwarded) return pairs(1.0);
    const auto groups = by_node(topology, request.ranks);
    if (groups.size() < 2) return pairs(request.gpu_merge);
    if (!uniform(groups)) return pairs(request.node_merge);
    const std::size_t g = groups.front().size();
    const std::size_t m = groups.size();
    const Bytes rdma = request.size * (request.node_merge * static_cast<double>(g) / n);
    const Bytes relay = request.size * (static_cast<double>(m) * request.gpu_merge / n);
    FlowSet set;
    set.flows.reserve(m * g * (m - 1 + g - 1));
    for (std::size_t a = 0; a < m; ++a) {
        for (std::size_t i = 0; i < g; ++i) {
            for (std::size_t b = 0; b < m; ++b) {
                if (b != a) set.flows.push_back(FlowSpec{groups[a][i], groups[b][i], rdma});
            }
            for (std::size_t j = 0; j < g; ++j) {
                if (j != i) set.flows.push_back(FlowSpec{groups[a][i], groups[a][j], relay});
            }
        }
    }
    plan.channels = static_cast<int>(g);
    // A token crosses two routes (RDMA, then NVLink), pipelined: one more route latency than a single hop.
    plan.phases.push_back(CollectivePhase{"once per node to the same position (RDMA), forwarded in the node (NVLink)",
                                          std::move(set), 1, 2});
}

}  // namespace

CollectivePlan plan_collective(const Topology& topology, const CollectiveRequest& request, CollectiveAlgorithm algorithm) {
    validate(topology, request, algorithm);
    CollectivePlan plan;
    plan.kind = request.kind;
    plan.algorithm = algorithm;
    const std::vector<VertexId>& ranks = request.ranks;
    const std::size_t n = ranks.size();
    const double nd = static_cast<double>(n);
    const Bytes size = request.size;
    if (n == 1) return plan;  // nothing moves

    switch (request.kind) {
        case CollectiveKind::all_reduce:
        case CollectiveKind::reduce_scatter:
        case CollectiveKind::all_gather: {
            if (algorithm == CollectiveAlgorithm::ring) {
                const auto rings = make_rings(topology, ranks);
                plan.channels = static_cast<int>(rings.size());
                const auto steps = static_cast<std::int64_t>(request.kind == CollectiveKind::all_reduce ? 2 * (n - 1) : n - 1);
                plan.phases.push_back(CollectivePhase{"ring step", ring_step(rings, size / nd / static_cast<double>(rings.size())), steps, 1});
            } else if (algorithm == CollectiveAlgorithm::tree && tree_over_nodes(topology, ranks, size, plan)) {
                // NCCL's tree: chains inside the nodes, double binary trees between them (tree_over_nodes).
            } else if (algorithm == CollectiveAlgorithm::tree) {
                // Two trees of half the data each, every rank but a root sending S/2 up (reduce) and S/2 down
                // (broadcast) per tree: 2S in all. On one node NCCL's tree is a chain (ncclTopoCompute's tree
                // pattern; the binary trees join nodes only): position i's parent is i − 1, the second chain the
                // first reversed, and a chunk's round trip crosses 2(n − 1) hops (an audit of the collectives,
                // session 51: a binary tree's 2⌊log₂ n⌋ made `--algorithm tree` on 8 H100 three times faster than
                // ring on small messages, a tree NCCL does not run; `auto` keeps ring on one node). Otherwise (ranks
                // over nodes unevenly, which tree_over_nodes leaves) a double binary tree in rank order: parent
                // (i − 1)/2, the second tree shifted by n/2, 2⌊log₂ n⌋ hops.
                const bool chain = by_node(topology, ranks).size() == 1;
                FlowSet set;
                const Bytes half = size / 2.0;
                for (int tree = 0; tree < 2; ++tree) {
                    auto at = [&](std::size_t pos) {
                        if (chain) return ranks[tree == 0 ? pos : n - 1 - pos];
                        return ranks[(pos + (tree == 0 ? 0 : n / 2)) % n];
                    };
                    for (std::size_t i = 1; i < n; ++i) {
                        const VertexId child = at(i);
                        const VertexId parent = at(chain ? i - 1 : (i - 1) / 2);
                        set.flows.push_back(FlowSpec{child, parent, half});   // reduce
                        set.flows.push_back(FlowSpec{parent, child, half});   // broadcast
                    }
                }
                plan.channels = 2;
                plan.phases.push_back(chain ? CollectivePhase{"two chains in the node (pipelined reduce + broadcast)", std::move(set), 1,
                                                              static_cast<int>(2 * (n - 1))}
                                            : CollectivePhase{"double binary tree (pipelined reduce + broadcast)", std::move(set), 1,
                                                              2 * floor_log2(n)});
            } else {  // hierarchical
                const auto groups = by_node(topology, ranks);
                if (groups.size() < 2 || !uniform(groups)) {
                    throw AlgorithmUnsupportedError("hierarchical all-reduce needs the same number of ranks on each of at least 2 nodes",
                                "use algorithm ring or tree for this group");
                }
                const std::size_t k = groups.front().size();
                const double kd = static_cast<double>(k);
                const double nodes = static_cast<double>(groups.size());
                plan.channels = static_cast<int>(k);
                if (k > 1) {
                    FlowSet intra = ring_step(groups, size / kd);
                    plan.phases.push_back(CollectivePhase{"intra-node reduce-scatter step", intra, static_cast<std::int64_t>(k - 1), 1});
                }
                std::vector<std::vector<VertexId>> rails(k);
                for (std::size_t j = 0; j < k; ++j) {
                    for (const auto& g : groups) rails[j].push_back(g[j]);
                }
                plan.phases.push_back(CollectivePhase{"inter-node all-reduce step", ring_step(rails, size / kd / nodes),
                                                      static_cast<std::int64_t>(2 * (groups.size() - 1)), 1});
                if (k > 1) {
                    plan.phases.push_back(CollectivePhase{"intra-node all-gather step", ring_step(groups, size / kd),
                                                          static_cast<std::int64_t>(k - 1), 1});
                }
            }
            break;
        }
        case CollectiveKind::all_to_all: plan_all_to_all(topology, request, algorithm, plan); break;
        case CollectiveKind::broadcast: {
            std::vector<VertexId> rotated(ranks.begin() + static_cast<std::ptrdiff_t>(request.root), ranks.end());
            rotated.insert(rotated.end(), ranks.begin(), ranks.begin() + static_cast<std::ptrdiff_t>(request.root));
            const auto rings = make_rings(topology, rotated);
            FlowSet set;
            const Bytes per_ring = size / static_cast<double>(rings.size());
            for (auto ring : rings) {
                // Start each chain at the root.
                std::rotate(ring.begin(), std::find(ring.begin(), ring.end(), rotated.front()), ring.end());
                for (std::size_t i = 0; i + 1 < ring.size(); ++i) set.flows.push_back(FlowSpec{ring[i], ring[i + 1], per_ring});
            }
            plan.channels = static_cast<int>(rings.size());
            plan.phases.push_back(CollectivePhase{"pipelined chain", std::move(set), 1, static_cast<int>(n - 1)});
            break;
        }
        case CollectiveKind::send_recv:
            plan.phases.push_back(CollectivePhase{"send", FlowSet{{FlowSpec{ranks[0], ranks[1], size}}}, 1, 1});
            break;
    }
    return plan;
}

CollectiveResult run_plan(NetworkModel& network, const CollectivePlan& plan, const CollectiveRequest& request) {
    CollectiveResult result;
    result.kind = plan.kind;
    result.algorithm = plan.algorithm;
    result.ranks = request.ranks.size();
    result.channels = plan.channels;
    result.size = request.size;
    Seconds worst_phase{0.0};
    for (const CollectivePhase& phase : plan.phases) {
        PhaseResult r;
        if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) {
            r = network.run_phase(set->flows);
        } else {
            const auto& pairs = std::get<AllPairs>(phase.traffic);
            r = network.run_all_to_all(pairs.ranks, pairs.bytes_per_pair);
        }
        const Seconds once = r.time + r.max_latency * static_cast<double>(phase.pipeline_hops - 1);
        const Seconds total = once * static_cast<double>(phase.repeat);
        result.time += total;
        result.latency += std::min(once, r.max_latency * static_cast<double>(phase.pipeline_hops)) * static_cast<double>(phase.repeat);
        if (r.limiting_link && (total > worst_phase || !result.limiting_link)) {
            worst_phase = total;
            result.limiting_link = r.limiting_link;
        }
    }
    if (result.time.value() > 0.0) {
        result.algorithm_bandwidth = request.size / result.time;
        result.bus_bandwidth = result.algorithm_bandwidth * bus_bandwidth_factor(plan.kind, result.ranks);
    }
    if (result.limiting_link) result.limiting_link_description = network.topology().describe_link(*result.limiting_link);
    return result;
}

CollectiveResult simulate_collective(NetworkModel& network, const CollectiveRequest& request) {
    if (request.algorithm) return run_plan(network, plan_collective(network.topology(), request, *request.algorithm), request);
    const auto candidates = supported_algorithms(request.kind);
    std::optional<CollectiveResult> best;
    for (const CollectiveAlgorithm a : candidates) {
        if (a == CollectiveAlgorithm::hierarchical || a == CollectiveAlgorithm::tree) {
            const auto groups = by_node(network.topology(), request.ranks);
            if (request.ranks.empty() || groups.size() < 2) continue;  // one node: ring
            if (a == CollectiveAlgorithm::hierarchical && !uniform(groups)) continue;
        }
        CollectiveResult r = run_plan(network, plan_collective(network.topology(), request, a), request);
        if (!best || r.time < best->time) best = std::move(r);
    }
    if (!best) return run_plan(network, plan_collective(network.topology(), request, candidates.front()), request);
    return *best;
}

// ---- engine mode -------------------------------------------------------------------------------------------

namespace {

struct CollectiveRun {
    Engine* engine = nullptr;
    NetworkModel* network = nullptr;
    CollectivePlan plan;
    TaskId task;
    std::size_t phase = 0;
    std::int64_t repetition = 0;
    std::size_t outstanding = 0;
};

void start_step(const std::shared_ptr<CollectiveRun>& run) {
    while (run->phase < run->plan.phases.size() && run->repetition >= run->plan.phases[run->phase].repeat) {
        ++run->phase;
        run->repetition = 0;
    }
    if (run->phase >= run->plan.phases.size()) {
        run->engine->finish(run->task);
        return;
    }
    const CollectivePhase& phase = run->plan.phases[run->phase];
    ++run->repetition;
    std::vector<FlowSpec> flows;
    if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) {
        flows = set->flows;
    } else {
        const auto& pairs = std::get<AllPairs>(phase.traffic);
        for (const VertexId s : pairs.ranks) {
            for (const VertexId d : pairs.ranks) {
                if (s != d) flows.push_back(FlowSpec{s, d, pairs.bytes_per_pair});
            }
        }
    }
    if (flows.empty()) {
        start_step(run);
        return;
    }
    run->outstanding = flows.size();
    for (const FlowSpec& f : flows) {
        run->network->start_flow(run->engine->now(), f, [run](FlowId, SimTime) {
            if (--run->outstanding == 0) start_step(run);
        });
    }
}

}  // namespace

TaskId add_collective_task(Engine& engine, NetworkModel& network, CollectivePlan plan, TaskSpec task) {
    auto shared_plan = std::make_shared<CollectivePlan>(std::move(plan));
    task.work = Driven{[&engine, &network, shared_plan](TaskId id) {
        auto run = std::make_shared<CollectiveRun>();
        run->engine = &engine;
        run->network = &network;
        run->plan = *shared_plan;
        run->task = id;
        start_step(run);
    }};
    return engine.add_task(std::move(task));
}

}  // namespace gpuhours
