// Flows on the cluster graph: routing, bandwidth sharing and latency, behind one narrow interface with two
// implementations:
// - MaxMinNetwork: a fluid flow model. Concurrent flows share every link max-min fairly (progressive
//   filling), re-solved whenever a flow starts transmitting or ends. A flow first waits its route's latency
//   (sum of per-link latencies, no bandwidth used), then sends its bytes at its fair rate.
// - AlphaBetaNetwork: α–β with serialized endpoints. A flow alone takes route latency + bytes / (slowest link
//   on its route); flows that leave by the same first link (a GPU's NVLink or NIC port) or arrive by the same
//   last link are sent one after another (injection bandwidth, as in LogGP's G). A phase (`run_phase`,
//   `run_all_to_all`) lasts max(every flow alone, every endpoint link's serialized bytes / bottleneck rates + the
//   longest latency among its flows, the congestion bound: every link's bytes / its rate + the longest route
//   latency), so links inside the fabric that many flows cross (a multi-plane fabric's spine uplinks under an
//   all-to-all) are not shared for free. Fast, and a lower bound on the flow model: an all-to-all's n−1 flows
//   per GPU take their port n−1 times as long, and its spine load bounds it as the flow model's does (within
//   10 % of it on the fabrics tested in tests/network/network_test.cpp). In the engine (`start_flow`), endpoint
//   links are first-come, first-served: a flow starts sending when both its first and last links are free, and
//   links inside the fabric are not shared there.
// Both run standalone (`run_phase`, for collectives and tests) and under the engine (`start_flow` plus the
// ExternalModel two-call interface; `add_flows_task` makes an engine task that ends when its flows end).
//
// Routing: shortest paths in hops. Among equal-cost next hops a switch picks deterministically by destination
// (index = (destination key + current vertex) mod candidates, where the key is the destination's GPU index) —
// the destination-based "D-mod-k" spreading of InfiniBand fat-tree routing — except at a GPU whose NVLink and NIC
// ports are both on shortest paths (a destination on another rail or plane), which takes NVLink first and leaves
// by the NIC of the local GPU on the destination's rail (NCCL's PXN, DeepEP). Routes therefore depend only on
// the destination from any given vertex, all flows to one destination form a tree, and the same input gives
// the same routes. Capacities used for sharing are effective bandwidths (nominal × catalog efficiency).
#pragma once

#include <gpuhours/engine/engine.hpp>
#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/units/units.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gpuhours {

// ---- max-min fair sharing, standalone ------------------------------------------------------------------

struct MaxMinProblem {
    std::vector<BytesPerSecond> capacities;           // per link
    std::vector<std::vector<std::size_t>> flow_links;  // the links each flow crosses
    // Optional, per link: when several links saturate at the same share, the lowest preference is reported as
    // the flows' bottleneck (ties then by link index). Empty: link index order.
    std::vector<int> link_preference;
};

struct MaxMinSolution {
    // Rate per flow. A flow that crosses no link is unconstrained: +infinity.
    std::vector<BytesPerSecond> rates;
    // The link whose saturation fixed each flow's rate; nullopt for unconstrained flows.
    std::vector<std::optional<std::size_t>> bottleneck;
};

// Progressive filling: raise all unfrozen flows' rates together; when a link saturates, freeze its flows at its
// fair share; repeat. Cost O(I log I) for I flow-link incidences.
MaxMinSolution solve_max_min(const MaxMinProblem& problem);

// ---- routing ----------------------------------------------------------------------------------------------

namespace detail {
class StructuralDistance;  // sim/network/structure.hpp
// A destination's entry switches with their hop counts to it, (w, c_w), and the hash that keys what is kept per
// such list: Router's shared arrays and StructuralDistance's switch memos.
using EntryList = std::vector<std::pair<VertexId, int>>;
struct EntryListHash {
    std::size_t operator()(const EntryList& entries) const;
};
}  // namespace detail

struct FlowSpec {
    VertexId src = 0;
    VertexId dst = 0;
    Bytes size;
};

struct Route {
    std::vector<LinkId> links;  // in order from src to dst; empty when src == dst
    Seconds latency;            // sum of the links' latencies
};

// Many routes in one table (no vector per route): route i's links, in order from src to dst, are
// links[begin[i] .. end[i]) (empty when src == dst), and latency[i] is the sum of their latencies.
struct RouteTable {
    std::vector<LinkId> links;
    std::vector<std::uint32_t> begin, end;
    std::vector<Seconds> latency;
    [[nodiscard]] std::size_t size() const { return latency.size(); }
    [[nodiscard]] std::span<const LinkId> links_of(std::size_t i) const {
        return {links.data() + begin[i], static_cast<std::size_t>(end[i] - begin[i])};
    }
};

// Shortest-path routing with destination-based ECMP (see the file comment). Keeps bounded caches of hop
// distances (to switches, and shared by destinations under the same switches; see distances_to), so the topology
// must not change once routing started. Throws Error when dst cannot be reached from src.
class Router {
public:
    explicit Router(const Topology& topology);
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;
    [[nodiscard]] Route route(VertexId src, VertexId dst);
    // The routes of `flows`, in their order, found grouped by destination (each destination's distances and
    // next hops are then found once for all its flows). The same routes as route() one by one.
    [[nodiscard]] RouteTable routes(std::span<const FlowSpec> flows);
    // The same into `out` (its storage reused: a caller routing phase after phase allocates once).
    void routes(std::span<const FlowSpec> flows, RouteTable& out);
    // Hop distance from every vertex to `dst` (kUnreachable where none), from the arrays below (also where routes
    // read the structure: for every vertex at once they cost less); valid until the next call.
    // For a destination that is not a network switch (a GPU, a NIC, an NVSwitch) it is derived from the distances
    // to the few network switches next to it rather than searched: with S the network switches (leaf, spine, core)
    // and c_w the length of the shortest path from switch w to dst through non-switch vertices only (dst's node:
    // its GPUs, NVSwitch and NICs), every shortest path that leaves the node ends with its last switch w, so
    // d(v, dst) = min(local(v), shared(v)) with shared(v) = min_w d(v, w) + c_w and local(v) the paths that stay in
    // the node. `shared` depends only on the list of (w, c_w), which destinations under the same switches share
    // (GPU i of every node on one leaf): it is built once per distinct list (O(vertices × its switches)) and kept;
    // a destination then costs its node's local search. Entries that never give the minimum are dropped first
    // (drop_dominated); a list of one switch uses that switch's array plus c_w, with no array of its own. The
    // switches' arrays are derived per attachment group from a few multi-source searches
    // (derive_group_distances). Exact: the same distances as the search.
    const std::vector<std::uint8_t>& distances_to(VertexId dst);
    // The breadth-first search itself, over reversed links (for tests and for switches).
    std::vector<std::uint8_t> search_distances_to(VertexId dst);
    // The link `v` forwards on toward `dst` (v ≠ dst, reachable); needs distances_to(dst).
    [[nodiscard]] LinkId next_hop(VertexId v, VertexId dst, const std::vector<std::uint8_t>& dist) const;
    [[nodiscard]] const Topology& topology() const { return topology_; }
    // How many switches' distances were derived from their attachment group rather than searched (for tests).
    [[nodiscard]] std::size_t derived_switches() const { return derived_switches_; }
    // Routes to a GPU on a builder's fabric (Topology::geometry()) read their distances from its structure
    // (structure.hpp: the same distances, nothing per vertex per destination) unless this is turned off (the
    // reference the tests compare with). Off as well for a hand-made graph and for destinations that are not GPUs.
    void set_structure(bool on);
    // Whether routes to `dst` use the structure.
    [[nodiscard]] bool structural(VertexId dst) const;
    // d(v, dst) as routes see it: from the structure where structural(dst), else from the arrays.
    [[nodiscard]] std::uint8_t distance(VertexId v, VertexId dst);

    // The rule among the equal-cost next hops of `v` toward `dst`, `candidates` in v's adjacency order (at least
    // one): at a GPU with more than one, the first NVLink (scale-up) link among the first 64 (PXN, see
    // pick_next_hop); otherwise candidates[(k + v) mod |candidates|], k the number of the destination's NIC in its
    // fabric, leaf by leaf (Topology::destination_key of its GPU; for a GPU or NIC), or a switch's index within its
    // kind (destination-based spreading as a subnet manager's fat-tree routing sets it: a shift is congestion-free).
    // The phase relabelling and the step's stage translation check every logged choice under an automorphism, but
    // take a GPU's choice of its one scale-up link as mapping by itself (maps_by_itself, sim/network/relabel.cpp):
    // a change to the GPU rule must change that too.
    [[nodiscard]] LinkId choose(VertexId v, VertexId dst, std::span<const LinkId> candidates) const;

    // The choices a routing made where it had more than one equal-cost next hop, as the relabelling of a phase
    // (relabel.hpp) must check them: choice i was made at vertex[i] toward destination[i] among
    // candidates[begin[i] .. begin[i+1]) (adjacency order) and took chosen[i].
    // A choice among more than kMaxCandidates (a leaf of a radix-256 fabric choosing among 128 spines) is not
    // logged; the log is then marked incomplete and proves nothing.
    struct ChoiceLog {
        static constexpr std::size_t kMaxCandidates = 64;
        std::vector<VertexId> vertex, destination;
        std::vector<LinkId> chosen, candidates;
        std::vector<std::uint32_t> begin{0};
        bool complete = true;
        std::uint64_t routing = 0;  // which routing made it (its owner numbers them; equal logs, equal numbers)
        void clear() {
            complete = true;
            vertex.clear();
            destination.clear();
            chosen.clear();
            candidates.clear();
            begin.assign(1, 0);
        }
        [[nodiscard]] std::size_t size() const { return vertex.size(); }
    };
    // From now on, every next hop the router chooses among more than one is appended to `log` (null: none). Next
    // hops remembered from before are forgotten, so every choice of the routes that follow is logged.
    void log_choices(ChoiceLog* log) {
        choice_log_ = log;
        current_valid_ = false;
    }

    static constexpr std::uint8_t kUnreachable = 255;

private:
    void build_reversed_links();
    std::vector<std::uint8_t> search_from(std::span<const VertexId> sources);
    const std::vector<std::uint8_t>& switch_distances_to(VertexId w);
    void make_switch_room(std::size_t arrays);
    // Fills the switch cache with the distances to every switch of w's attachment group, derived from a few
    // multi-source searches instead of one search per switch (routing.cpp explains the equations). False when the
    // group is too large to be worth it; the caller then searches.
    bool derive_group_distances(VertexId w);
    struct AttachmentGroup {
        std::vector<VertexId> members;                                       // w first
        std::vector<std::vector<std::pair<VertexId, std::uint8_t>>> reach;  // per member: (region vertex y, r_e(y))
        std::vector<int> closure;                                            // T*(e → f) at [e · k + f]
    };
    bool find_group(VertexId w, AttachmentGroup& g);
    void close_transits(AttachmentGroup& g);
    // Distance from every vertex to the nearest of `sources` (sorted), kept by that set (bounded like the arrays).
    const std::vector<std::uint8_t>& distances_to_set(const std::vector<VertexId>& sources);
    struct IdsHash {
        std::size_t operator()(const std::vector<VertexId>& ids) const;
    };
    std::unordered_map<std::vector<VertexId>, std::vector<std::uint8_t>, IdsHash> set_cache_;
    std::size_t set_cache_bytes_ = 0;
    std::size_t derived_switches_ = 0;
    const std::vector<std::uint8_t>& group_minimum(const std::vector<VertexId>& key,
                                                   const std::vector<std::vector<VertexId>>& sets);
    std::unordered_map<std::vector<VertexId>, std::vector<std::uint8_t>, IdsHash> minimum_cache_;
    std::vector<std::uint8_t> in_region_;  // derive_group_distances' scratch: in-region distance, 255 elsewhere
    // The local search from dst: vertices reached without crossing a network switch (leaf, spine, core), and the
    // network switches met with their c_w.
    void local_search(VertexId dst, std::vector<std::pair<VertexId, std::uint8_t>>& local,
                      std::vector<std::pair<VertexId, int>>& via);
    template <class Distance>
    [[nodiscard]] LinkId pick_next_hop(VertexId v, VertexId dst, const Distance& dist) const;
    using Via = detail::EntryList;  // (w, c_w), sorted by w
    // shared(v) for a list of (w, c_w) (see distances_to); null when the list is empty (nothing beyond the node).
    const std::vector<std::uint8_t>* shared_distances(const Via& via);
    // Drops the entries of `via` that never give the minimum: (w', c') when another (w, c) has d(w', w) + c ≤ c'
    // (then d(v, w) + c ≤ d(v, w') + c' at every v, by the triangle inequality). A rail-optimised node's NICs on
    // the other rails' leaves (c = 4) lose to its own rail's leaf (c = 2, two hops away): one entry remains.
    void drop_dominated(Via& via);
    // Makes `dst` the current destination: read from the structure when `by_structure` and structural(dst); else its
    // shared array and its local region marked (local_stamp_). Its next hops are forgotten (hop_stamp_). Nothing
    // to do when it already is, the same way.
    void select(VertexId dst, bool by_structure);
    [[nodiscard]] std::uint8_t current_distance(VertexId v) const;  // d(v, current destination)

    const Topology& topology_;
    bool use_structure_ = false;  // set_structure: on, and the topology has a geometry
    std::unique_ptr<detail::StructuralDistance> structure_;  // built at its first use
    bool current_structural_ = false;  // the current destination's distances come from structure_
    ChoiceLog* choice_log_ = nullptr;
    mutable std::vector<LinkId> wide_;  // pick_next_hop's candidates when there are more than 64
    std::unordered_map<VertexId, std::vector<std::uint8_t>> cache_;  // distances_to's arrays
    std::unordered_map<VertexId, std::vector<std::uint8_t>> switch_cache_;  // distances to each switch, kept
    std::size_t switch_cache_bytes_ = 0;
    std::unordered_map<Via, std::vector<std::uint8_t>, detail::EntryListHash> shared_cache_;  // shared(·) by (w, c_w) list
    std::size_t shared_cache_bytes_ = 0;
    struct Region {
        std::vector<std::pair<VertexId, std::uint8_t>> local;  // vertices reached without a network switch, and d
        Via via;
    };
    std::unordered_map<VertexId, Region> regions_;  // per non-switch destination
    // The current destination.
    VertexId current_ = 0;
    bool current_valid_ = false;
    const std::vector<std::uint8_t>* current_shared_ = nullptr;
    std::uint8_t current_offset_ = 0;  // added to current_shared_'s entries (a one-switch list: d(v, w) + c_w)
    std::vector<std::uint32_t> local_stamp_;  // v is in the current destination's local region when == generation_
    std::vector<std::uint8_t> local_value_;   // and local(v) is this
    // Appends the links of the route from src to dst (src ≠ dst) to `out`; returns its latency.
    Seconds walk(VertexId src, VertexId dst, std::vector<LinkId>& out);
    // The route between two GPUs of one node on a builder's topology: up to the node's NVSwitch and down, the only
    // path of two hops (through the NICs it takes four), so pick_next_hop would find one candidate at each and log
    // no choice. Appends it and returns its latency; nullopt for any other pair (walked as usual).
    std::optional<Seconds> walk_in_node(VertexId src, VertexId dst, std::vector<LinkId>& out) const;
    template <class Distance>
    Seconds walk_with(VertexId src, VertexId dst, std::vector<LinkId>& out, const Distance& dist);
    std::vector<std::uint32_t> hop_stamp_;  // next hop of v toward the current destination known when == generation_
    std::vector<LinkId> hop_link_;
    std::uint32_t generation_ = 0;
    std::vector<std::uint32_t> flows_to_;  // routes(): per destination vertex, its flows in the phase (then reset)
    std::vector<std::uint32_t> visited_;  // local_search's marks: visited when equal to stamp_
    std::uint32_t stamp_ = 0;
    std::vector<std::uint32_t> queue_;
    std::vector<std::uint32_t> in_offsets_;  // reversed adjacency, built on first use
    std::vector<std::uint32_t> in_from_;
};

class NodeTranslation;  // network/automorphism.hpp

namespace detail {
class PhaseRelabeller;  // sim/network/relabel.hpp
}

// ---- network models -----------------------------------------------------------------------------------------

struct FlowId {
    std::uint64_t value = 0;
    friend constexpr auto operator<=>(FlowId, FlowId) = default;
};

// Flows that start together on an otherwise idle network; the phase ends when the last one does.
struct PhaseResult {
    Seconds time;
    // The link that limited the last flow to finish (its max-min bottleneck, or its slowest link under α–β);
    // nullopt when the phase had no bytes to move.
    std::optional<LinkId> limiting_link;
    Seconds max_latency;  // the longest route latency among the phase's flows
};

enum class NetworkKind { flow, alpha_beta };
std::string_view to_string(NetworkKind k);                      // "flow", "alpha-beta"
std::optional<NetworkKind> network_kind_from_string(std::string_view name);

class NetworkModel : public ExternalModel {
public:
    using FlowCallback = std::function<void(FlowId, SimTime)>;

    explicit NetworkModel(const Topology& topology) : router_(topology) {}

    [[nodiscard]] virtual NetworkKind kind() const = 0;
    [[nodiscard]] const Topology& topology() const { return router_.topology(); }
    Router& router() { return router_; }

    // Engine mode: starts a flow at `now` (≥ the last advance_to); `on_done` runs inside advance_to when its last
    // byte arrives.
    virtual FlowId start_flow(SimTime now, const FlowSpec& flow, FlowCallback on_done) = 0;

    // Standalone: `flows` all start at time 0 on an idle network (independent of engine-mode flows).
    virtual PhaseResult run_phase(std::span<const FlowSpec> flows) = 0;
    // Standalone: every rank sends `bytes_per_pair` to every other rank at once. Equivalent to run_phase over
    // the n(n−1) flows; large cases use aggregated per-destination routing trees (see implementations).
    virtual PhaseResult run_all_to_all(std::span<const VertexId> ranks, Bytes bytes_per_pair) = 0;
    // A translation of this model's topology (network/automorphism.hpp) that standalone phases may be answered by
    // (MaxMinNetwork: one leaf's flows for a stage-wide phase); null: none, the default. Ignored by models that
    // have no use for it.
    virtual void use_translation(std::shared_ptr<const NodeTranslation> translation) { (void)translation; }

private:
    Router router_;
};

// Max-min fluid model. Above `kExactFlowLimit` concurrent flows, `run_phase` and `run_all_to_all` report the
// congestion bound instead of simulating the fluid dynamics: max over links of (bytes crossing the link /
// capacity) + the longest route latency. That equals the max-min makespan when the most loaded links carry
// equal-size flows that all share them to the end (the symmetric collectives at that scale) and is a lower
// bound otherwise; it keeps a 2,048-rank all-to-all (4.2M flows) well under a second.
class MaxMinNetwork final : public NetworkModel {
public:
    static constexpr std::size_t kExactFlowLimit = 1u << 17;

    explicit MaxMinNetwork(const Topology& topology);
    ~MaxMinNetwork() override;

    [[nodiscard]] NetworkKind kind() const override { return NetworkKind::flow; }
    FlowId start_flow(SimTime now, const FlowSpec& flow, FlowCallback on_done) override;
    PhaseResult run_phase(std::span<const FlowSpec> flows) override;
    PhaseResult run_all_to_all(std::span<const VertexId> ranks, Bytes bytes_per_pair) override;
    [[nodiscard]] std::optional<SimTime> next_event_time() const override;
    void advance_to(SimTime t) override;

    class Fluid;       // the fluid state machine (network.cpp)
    struct PhaseMemo;  // standalone phases already solved, by canonical form (network.cpp)
    struct BlockChecks;  // run_phase_by_blocks's checks and scratch (sim/network/phase_memo.hpp)

    // Standalone phases answered from the memo instead of solved (for tests and benchmarks).
    [[nodiscard]] std::uint64_t phases_reused() const { return phases_reused_; }
    // Standalone phases answered from one of their link-disjoint parts (see memo_ below; for tests and benchmarks).
    [[nodiscard]] std::uint64_t phases_split() const { return phases_split_; }
    // A phase of at least kMinBlockFlows flows whose blocks of GPUs (translation->gpu_shift() consecutive GPUs: the
    // nodes under one leaf, as the step proves it) mostly repeat one block's flows moved along, is answered from that
    // block and the blocks that differ, when the moved copies are proven link-disjoint from them and from each other
    // (sim/network/phase_blocks.cpp has the argument): the same time and latency to the last bit as the whole
    // phase, whose max-min answer is its parts' latest (see memo_ below), each copy a part of the proven block's
    // forms. The limiting link is one that limits as long: a copy's may be named for the block's, or the block's
    // own where the whole solve would name a copy's, or, among parts ending together, another part's. Only with split
    // parts on (set_split_parts), and only a translation proven on this topology (link counts compared; another
    // is ignored). A stage of 8,192 GPUs on 8 leaves: 2 blocks routed and solved instead of 8.
    void use_translation(std::shared_ptr<const NodeTranslation> translation) override;
    static constexpr std::size_t kMinBlockFlows = 512;
    [[nodiscard]] std::uint64_t phases_by_blocks() const { return phases_by_blocks_; }
    // Standalone phases routed (neither the last phase's pairs again, nor a routing kept from before, nor a
    // relabelling; for tests and benchmarks).
    [[nodiscard]] std::uint64_t phases_routed() const { return routings_; }
    // Off: every phase is solved whole, never from one of its parts (the reference the tests compare with).
    void set_split_parts(bool on) { split_parts_ = on; }
    // Standalone phases answered as a relabelling of an earlier one, proven before routing (counted in
    // phases_reused too; see relabel_ below).
    [[nodiscard]] std::uint64_t phases_relabelled() const { return phases_relabelled_; }
    // Off: every phase is routed (the reference the tests compare with). `every_phase`: tried on every phase, not
    // only on those of many flows per GPU where the proof costs less than routing (tests, on small fabrics).
    void set_relabel(bool on, bool every_phase = false);

private:
    std::unique_ptr<Fluid> fluid_;
    // Engine mode's routes by (source, destination): a route is a function of the topology and its two ends alone
    // (Router::route; next hops by distance and Router::choose), and full mode starts the same pairs' flows every
    // micro-batch and layer, so each pair is routed once. Bounded (RouteCache::kMaxLinks link ids, cleared when full).
    struct RouteCache;
    std::unique_ptr<RouteCache> route_cache_;
    // `run_phase` keeps the result of each phase it solves under the phase's canonical form: its flows in order,
    // each with its size, its route latency and its links relabelled by first appearance, each link described
    // at its first appearance by its capacity and reporting preference. A phase with the same form is the same
    // max-min problem with the links renamed (on a symmetric fabric: another pipeline stage's groups, another
    // replica's pipeline sends, the next step of a ring), so it has the same rates at every instant and the
    // same end; its limiting link is the one under the same label. A phase is solved in its canonical form
    // (links by label, so ties among links of equal share go by label, not by link id): every phase of one form
    // gets the same answer to the last bit, whichever was solved first, and `run_phase` is a pure function of
    // the topology and the flows (callers may keep its results across networks of one topology). Bounded
    // (kMemoWords, cleared when full).
    // A phase whose flows fall into link-disjoint parts (no link crossed by flows of two parts: the concurrent groups
    // of a collective on separate leaves, replicas' sends under separate leaf pairs) that all have one canonical
    // form is answered by its first part alone, solved or found in the memo: the parts start together and have
    // the same trajectory, so the whole phase's fluid meets the same events at the same times, and each part's
    // rates (progressive filling touches only the part's own links, whose labels keep their order) and bytes left
    // are those of the part alone, bit for bit. Its limiting link is the first part's link under the same label,
    // taking the part whose limited flow comes first in the phase, as the whole solve would. Parts of different forms
    // are solved one by one (each solved or found in the memo) and the phase lasts as long as its latest part; its
    // limiting link is that part's (among parts ending at one instant: the lower preference, then the limited flow
    // first in the phase). That is each part's own fluid; the whole solve, whose events interleave the parts',
    // advances every flow's bytes at the other parts' events too and can differ from it in the last bits (a
    // picosecond's rounding). A solve costs events × flows of one part instead of the whole phase: a phase of 845
    // parts of mixed forms (a ring step over 24,960 GPUs in nodes of 12) took 39 s whole, 2 s by parts. Tested
    // equal to the whole solve, bit for bit where the parts are alike and to a relative 1e-9 where not, on
    // fat-trees of two and three tiers, multi-plane and rail-optimised fabrics (tests/network/phase_parts_test.cpp).
    // A phase whose flows all stay inside nodes, every node's flows the first node's moved (same local GPUs and
    // sizes, in an order that keeps each node's k-th flow after the k-th of the nodes before it), is answered by the
    // first node's flows before anything is routed: those are the parts solve_by_parts would answer from, and the
    // limiting link it would name (detail::first_node_flows, sim/network/phase_memo.hpp; the intra-node phases of
    // hierarchical collectives, 12 % of a 65,536-GPU hierarchical all-reduce's CPU).
    std::unique_ptr<PhaseMemo> memo_;
    std::uint64_t phases_reused_ = 0;
    std::uint64_t phases_split_ = 0;
    bool split_parts_ = true;
    // Before routing a phase (of at most kExactFlowLimit flows), `run_phase` looks for a phase it routed before
    // whose flows this one's are under an automorphism of the topology that it can prove, with every equal-cost
    // choice the router made mapping too (sim/network/relabel.hpp has the argument and the search). Then the
    // routes are that phase's renamed and so is the answer: its time and latency, and the image of its limiting
    // link. Another pipeline stage's collectives on a regular fabric are found so, without routing them.
    std::unique_ptr<detail::PhaseRelabeller> relabel_;
    std::uint64_t phases_relabelled_ = 0;
    std::uint64_t routings_ = 0;  // phases routed (numbers their choice logs)
    bool relabel_on_ = true;
    // use_translation's: the translation, the disjointness checks made (by the pairs of the flows solved, B0's block
    // and the copies' shifts; phase_blocks.cpp), and whether run_phase is answering a phase by blocks (not tried
    // again inside).
    std::optional<PhaseResult> run_phase_by_blocks(std::span<const FlowSpec> flows);
    std::shared_ptr<const NodeTranslation> translation_;
    std::unique_ptr<BlockChecks> block_checks_;
    std::uint64_t phases_by_blocks_ = 0;
    bool in_blocks_ = false;
};

class AlphaBetaNetwork final : public NetworkModel {
public:
    explicit AlphaBetaNetwork(const Topology& topology);

    [[nodiscard]] NetworkKind kind() const override { return NetworkKind::alpha_beta; }
    FlowId start_flow(SimTime now, const FlowSpec& flow, FlowCallback on_done) override;
    PhaseResult run_phase(std::span<const FlowSpec> flows) override;
    PhaseResult run_all_to_all(std::span<const VertexId> ranks, Bytes bytes_per_pair) override;
    [[nodiscard]] std::optional<SimTime> next_event_time() const override;
    void advance_to(SimTime t) override;

private:
    struct Pending {
        SimTime at;
        std::uint64_t id = 0;
        friend bool operator<(const Pending& a, const Pending& b) { return a.at != b.at ? a.at > b.at : a.id > b.id; }
    };
    std::vector<Pending> heap_;  // min-heap by (time, id)
    std::unordered_map<LinkId, SimTime> busy_until_;  // engine mode: when each endpoint link is free again
    std::unordered_map<std::uint64_t, FlowCallback> callbacks_;
    std::uint64_t next_id_ = 0;
};

std::unique_ptr<NetworkModel> make_network(NetworkKind kind, const Topology& topology);

// An engine task that starts `flows` on `network` when it starts and finishes when the last of them arrives
// (at once when `flows` is empty). `task.work` is replaced. `network` must be registered with
// engine.add_model and outlive the run.
TaskId add_flows_task(Engine& engine, NetworkModel& network, TaskSpec task, std::vector<FlowSpec> flows);

}  // namespace gpuhours
