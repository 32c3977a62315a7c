// Stage translation (issue #13): symmetric mode times each collective once per class of pipeline stages that the
// fabric's symmetry proves alike, instead of once per stage.
//
// The argument. Let c be a stage and s another, and π an automorphism of the topology (network/automorphism.hpp)
// that sends the GPU of c's rank with coordinates (tensor, context, data) to the GPU of s's rank with the same
// coordinates, proven as a swap closure seeded with those pairs. symmetric_time's answer for a collective at a
// stage is a function of (a) the lists of GPUs it plans over — the representative group, and when that crosses
// nodes (by rank arithmetic: CommGroups::crosses, compared) every group of its kind in the stage, in order — (b)
// which of those GPUs share a node (the only thing plan_collective reads of the topology besides the GPUs: by_node
// groups ranks by node, nodes in order of first appearance) and (c) the max-min answers of the phases of flows the
// plans make (each phase of at most MaxMinNetwork::kExactFlowLimit flows, checked in routed_pairs: above it the
// network answers with a bound whose ties go by link id). Take an answer timed at
// stage t and the same collective asked at stage s, both in c's class, and π = π_s ∘ π_t (each π an involution
// between c and its stage, so π sends t's GPUs to s's, coordinate by coordinate). If
//   1. s's lists are π of t's, element by element (checked: a vertex comparison per GPU listed),
//   2. π keeps which of those GPUs share a node (checked over the GPUs listed, and for each stage image over c's
//      GPUs: node(u) = node(w) exactly when node(π u) = node(π w)), so every plan at s is π of the plan at t, flow
//      by flow, in the same order, and
//   3. every choice the router made among equal-cost next hops on the routes of those plans' flows maps under π
//      (checked on a log of routing every (source, destination) pair of every plan of every algorithm tried at t:
//      AutomorphismProver::choices_map),
// then every route at s is π of the route at t, link by link, so each phase at s has the canonical form of the
// phase at t and the same max-min answer to the last bit (relabel.hpp), and so the same collective time, the same
// algorithm chosen, and the same answer. Any check that fails leaves the collective to be timed at s as before:
// the translation only ever skips work whose answer it has proven, and symmetric mode's results do not change.
//
// Before any of this, copies_time tries a cheaper proof that needs no automorphism and no routing: a stage's groups
// that are link-disjoint copies of one pattern (network/automorphism.hpp, leaf_local_copies: each on nodes of its
// own, under one leaf per local index, a node's NICs on one leaf or each on its own). Their merged plans then give
// the representative's time alone, and that time depends on the pattern only, so one timing answers every stage
// whose groups have it (the expert groups of the flagship's layout at any scale: 129 groups per stage at 131,072
// GPUs).
//
// On a two-tier fabric whose stages are whole leaves, a third proof needs neither closures nor logs: the translation
// by one stage's nodes, proven once from the fabric's geometry with the rotation of the spines that carries the
// leaves' destination-based spreading (stage_shift; NodeTranslation, network/automorphism.hpp). Then every plan,
// route and phase at stage s is π^k of those at t, and the answer is t's when its lists map element by element and
// every phase the representative's plans run has at most MaxMinNetwork::kExactFlowLimit flows (phases_exact: the
// network's answer above it need not be kept by π to the last bit). It answers a stage's collectives
// (translated_time), its pipeline sends (sends_time), and a collective of a new size over groups timed before
// at another stage, timed on those groups to find their routings kept (move_to_timed_stage).
#include "step_builder.hpp"

#include <algorithm>
#include <unordered_map>

namespace gpuhours::detail {

namespace {

thread_local bool translation_on = true;
thread_local std::size_t translations = 0;

// The canonical stages a new stage is tried against, at most (each try costs a swap closure).
constexpr std::size_t kCanonicalTries = 4;
// Answers kept per collective (from different stages: where the first stage's class differs from a later one's).
// Where the fabric's symmetry does not carry a collective (its routes cross switches whose destination-based
// spreading the swap does not commute with), it does not carry the other sizes of that kind over that group
// either: after one failed check the kind is timed stage by stage without further logs or checks (each costs
// about a routing of its pairs).
constexpr std::size_t kKept = 2;
// Stages of more GPUs than this are not tried by swap closures: a swap closure of two such stages (some hundred
// thousand links) and its checks cost about what timing the stage's collectives does (the flagship's layout at
// 131,072 GPUs, 8,192 per stage: 10.9 G instructions with translation, 10.4 G without; at 16,384 GPUs, 1,024 per
// stage: 1.86 G against 2.00 G; at 2,048, 128 per stage: 0.25 G against 0.33 G; session 24). The translation by
// whole stages (stage_shift) has no such bound: it is proven once, in O(vertices + links).
constexpr std::size_t kMaxStageGpus = 4096;
// The pairs routed for carries()'s sampled check before a full log.
constexpr std::size_t kSamplePairs = 512;
// A timed collective whose plans have more distinct (source, destination) pairs than this is not kept: logging
// their routing costs about as much as timing the collective again at another stage.
constexpr std::size_t kMaxLoggedPairs = std::size_t{1} << 17;

}  // namespace

bool set_stage_translation(bool on) {
    const bool was = translation_on;
    translation_on = on;
    return was;
}

std::size_t stage_translations() { return translations; }

void StepBuilder::CommGroups::add(const std::vector<VertexId>& group) {
    vertices.insert(vertices.end(), group.begin(), group.end());
    offsets.push_back(static_cast<std::uint32_t>(vertices.size()));
}

// The representative group of `rank`, then, when it crosses nodes, each group of the kind in the stage once, in
// the order of their smallest rank: a rank already in a group found earlier is skipped before its group is built
// (building every member's group would cost the stage's size times the group's).
StepBuilder::CommGroups StepBuilder::comm_groups(const CommSpec& c, int rank) {
    const auto key = std::make_pair(static_cast<int>(c.group), rank);
    if (const auto it = groups_of_.find(key); it != groups_of_.end()) return it->second;
    CommGroups groups = list_groups(c, rank);
    if (groups.crosses) groups.copies = leaf_local_copies(topology_, groups.vertices, groups.offsets);
    groups_of_.emplace(key, groups);
    return groups;
}

StepBuilder::CommGroups StepBuilder::list_groups(const CommSpec& c, int rank) {
    CommGroups groups;
    const std::vector<int> group = placement_.group(c.group, rank);
    groups.add(vertices(group));
    groups.crosses = spans_nodes(group);
    if (!groups.crosses) return groups;
    const int stage = placement_.coord(rank).pp;
    // Every group of a kind but the pipeline's and DualPipe's mirror pairs keeps its ranks' stage, and rank numbers
    // are linear in the coordinates (Placement::rank_of): stage s's groups, in the order listed below, are stage t's
    // with every rank moved by rank_of(0, 0, 0, s) − rank_of(0, 0, 0, t). So a kind's groups are listed once and moved.
    ListedStage* listed = nullptr;
    if (c.group != GroupKind::pipeline && c.group != GroupKind::mirror) {
        listed = &listed_stages_[static_cast<int>(c.group)];
        if (listed->stage >= 0) {
            const int move = placement_.rank_of(0, 0, 0, stage) - placement_.rank_of(0, 0, 0, listed->stage);
            groups.vertices.reserve(groups.vertices.size() + listed->ranks.size());
            for (std::size_t i = 0; i + 1 < listed->offsets.size(); ++i) {
                for (std::uint32_t k = listed->offsets[i]; k < listed->offsets[i + 1]; ++k) groups.vertices.push_back(topology_.gpu(listed->ranks[k] + move));
                groups.offsets.push_back(static_cast<std::uint32_t>(groups.vertices.size()));
            }
            return groups;
        }
    }
    covered_.resize(static_cast<std::size_t>(placement_.ranks()), 0);
    std::vector<int> marked;  // the ranks covered_ marks, cleared after
    for (const int r : all_ranks_of_stage(stage)) {
        if (covered_[static_cast<std::size_t>(r)]) continue;
        const auto g = placement_.group(c.group, r);
        for (const int member : g) {
            covered_[static_cast<std::size_t>(member)] = 1;
            marked.push_back(member);
        }
        groups.add(vertices(g));
        if (listed != nullptr) {
            listed->ranks.insert(listed->ranks.end(), g.begin(), g.end());
            listed->offsets.push_back(static_cast<std::uint32_t>(listed->ranks.size()));
        }
    }
    for (const int r : marked) covered_[static_cast<std::size_t>(r)] = 0;
    if (listed != nullptr) listed->stage = stage;
    return groups;
}

std::optional<SimTime> StepBuilder::copies_time(const CommSpec& c, const CommGroups& groups) {
    if (!translation_on || !groups.crosses) return std::nullopt;
    // Found when the groups were listed (list_groups): it depends on them alone.
    std::optional<std::vector<int>> pattern = groups.copies;
    if (!pattern) return std::nullopt;
    auto key = std::make_tuple(static_cast<int>(c.kind), c.size.value(), static_cast<int>(c.group), c.node_merge,
                               c.gpu_merge, std::move(*pattern));
    if (const auto it = local_copies_.find(key); it != local_copies_.end()) {
        ++translations;  // timed at another stage (symmetric_time's own cache answers a stage's repeats)
        return it->second;
    }
    // The representative alone with its best algorithm: what the merged plans of every group would give.
    const SimTime time = to_sim(simulate_collective(*network_, request_for(c, groups.at(0))).time);
    local_copies_.emplace(std::move(key), time);
    return time;
}

bool StepBuilder::keeps_nodes(std::span<const VertexId> u, std::span<const VertexId> w) const {
    std::unordered_map<int, int> image_of, preimage_of;
    for (std::size_t i = 0; i < u.size(); ++i) {
        const int a = topology_.vertex(u[i]).node;
        const int b = topology_.vertex(w[i]).node;
        if (image_of.try_emplace(a, b).first->second != b || preimage_of.try_emplace(b, a).first->second != a) return false;
    }
    return true;
}

const StepBuilder::StageImage& StepBuilder::stage_image(int stage) {
    if (stage_images_.empty()) stage_images_.resize(static_cast<std::size_t>(layout_.pipeline));
    StageImage& image = stage_images_[static_cast<std::size_t>(stage)];
    if (image.canonical >= 0) return image;
    const auto gpus_of = [&](int s) { return vertices(ranks_by_coordinates(s)); };
    const std::vector<VertexId> mine = gpus_of(stage);
    for (std::size_t k = 0; k < std::min(canonical_stages_.size(), kCanonicalTries); ++k) {
        const int c = canonical_stages_[k];
        const std::vector<VertexId> theirs = gpus_of(c);
        std::optional<Automorphism> map = prover().prove_swap(theirs, mine);
        if (!map || !keeps_nodes(theirs, mine)) continue;
        image.canonical = c;
        image.map = std::move(*map);
        return image;
    }
    image.canonical = stage;
    canonical_stages_.push_back(stage);
    return image;
}

// Every (source, destination) pair the plans of `timed` route, sorted, as source × 2^32 + destination: the
// representative with every algorithm plan_collective gives it (a superset of those simulate_collective tries: it
// skips trees on one node, and hierarchical on uneven nodes, which throws), the stage's groups with the one they
// were planned with. More pairs than symmetric_time ran only make the check stricter. nullopt when a phase of the
// representative's plans has more than MaxMinNetwork::kExactFlowLimit flows: the network answers those with a
// congestion bound or aggregated routing trees, whose ties and sums go by link and vertex id, which an automorphism
// need not keep (the stage's groups' merged phases are run only below it).
std::optional<std::vector<std::uint64_t>> StepBuilder::routed_pairs(const Timed& timed) const {
    std::vector<std::uint64_t> pairs;
    const auto pair = [](VertexId a, VertexId b) { return static_cast<std::uint64_t>(a) << 32 | b; };
    bool exact = true;
    const auto add_plan = [&](const CollectivePlan& plan, bool representative) {
        for (const auto& phase : plan.phases) {
            if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) {
                exact = exact && (!representative || set->flows.size() <= MaxMinNetwork::kExactFlowLimit);
                for (const FlowSpec& f : set->flows) {
                    if (f.src != f.dst) pairs.push_back(pair(f.src, f.dst));
                }
            } else {
                const auto& all = std::get<AllPairs>(phase.traffic);
                const std::size_t n = all.ranks.size();
                exact = exact && (!representative || n * (n - 1) <= MaxMinNetwork::kExactFlowLimit);
                for (const VertexId a : all.ranks) {
                    for (const VertexId b : all.ranks) {
                        if (a != b) pairs.push_back(pair(a, b));
                    }
                }
            }
        }
    };
    for (std::size_t i = 0; i < timed.groups.size(); ++i) {
        const CollectiveRequest request = request_for(timed.comm, timed.groups.at(i));
        for (const CollectiveAlgorithm a : algorithms_for(timed.comm)) {
            if (i > 0 && a != timed.algorithm) continue;
            try {
                add_plan(plan_collective(topology_, request, a), i == 0);
            } catch (const Error&) {
            }
        }
    }
    if (!exact) return std::nullopt;
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    return pairs;
}

// The choices of routing `pairs` (every choice that maps by itself dropped: drop_self_mapping).
Router::ChoiceLog StepBuilder::route_logged(std::span<const std::uint64_t> pairs) {
    std::vector<FlowSpec> flows;
    flows.reserve(pairs.size());
    for (const std::uint64_t p : pairs) flows.push_back(FlowSpec{p >> 32, p & 0xffffffffu, Bytes(1.0)});
    Router::ChoiceLog log;
    Router& router = network_->router();
    router.log_choices(&log);
    try {
        (void)router.routes(flows);
    } catch (...) {
        router.log_choices(nullptr);
        throw;
    }
    router.log_choices(nullptr);
    prover().drop_self_mapping(log);
    return log;
}

AutomorphismProver& StepBuilder::prover() {
    if (!prover_) prover_ = std::make_unique<AutomorphismProver>(topology_);
    return *prover_;
}

// Whether `timed` carries to `stage` under π = then ∘ first (its groups already found to map): every choice of
// routing its pairs maps. The routing is logged once per pair set (logs are shared by equal sets: an all-gather
// and a reduce-scatter over one group, a dispatch and its combine) and each check is kept. Before the first full
// log of a pair set, a strided sample of at most kSamplePairs of its pairs is routed and checked: where the
// symmetry fails, it mostly fails on every leaf boundary the pairs cross, so the sample finds it for a fraction of
// the routing.
bool StepBuilder::carries(Timed& timed, int stage, const Automorphism& first, const Automorphism& then) {
    if (timed.log == 0) {
        std::optional<std::vector<std::uint64_t>> routed = routed_pairs(timed);
        if (!routed) return false;
        std::vector<std::uint64_t>& pairs = *routed;
        auto it = log_of_pairs_.find(pairs);
        if (it == log_of_pairs_.end()) {
            if (pairs.size() > kSamplePairs) {
                std::vector<std::uint64_t> sample;
                const std::size_t stride = (pairs.size() + kSamplePairs - 1) / kSamplePairs;
                for (std::size_t i = 0; i < pairs.size(); i += stride) sample.push_back(pairs[i]);
                if (!prover().choices_map(network_->router(), route_logged(sample), first, &then)) return false;
            }
            Router::ChoiceLog log = route_logged(pairs);
            it = log_of_pairs_.emplace(std::move(pairs), choice_logs_.size()).first;
            choice_logs_.push_back(std::move(log));
        }
        timed.log = it->second + 1;
    }
    const std::size_t log = timed.log - 1;
    const auto check = std::make_tuple(log, timed.stage, stage);
    auto held = log_checks_.find(check);
    if (held == log_checks_.end()) {
        held = log_checks_.emplace(check, prover().choices_map(network_->router(), choice_logs_[log], first, &then)).first;
    }
    return held->second;
}

std::optional<SimTime> StepBuilder::translated_time(const CommSpec& c, int stage, const CommGroups& groups) {
    if (!translation_on || network_->kind() != NetworkKind::flow) return std::nullopt;
    const auto found = timed_.find(std::make_tuple(static_cast<int>(c.kind), c.size.value(), static_cast<int>(c.group), c.node_merge, c.gpu_merge));
    if (found == timed_.end()) return std::nullopt;  // timed at no stage yet (and no closure spent on it)
    // First the translation by whole stages, proven once from the fabric's geometry: no closure, no routing.
    if (const NodeTranslation* shift = stage_shift()) {
        for (const Timed& timed : found->second) {
            if (timed.exact && timed.groups.offsets == groups.offsets && timed.groups.crosses == groups.crosses &&
                shift->maps(topology_, timed.groups.vertices, groups.vertices)) {
                ++translations;
                return timed.time;
            }
        }
    }
    if (untranslatable_.contains(std::make_pair(static_cast<int>(c.kind), static_cast<int>(c.group)))) return std::nullopt;
    for (Timed& timed : found->second) {
        if (!timed.loggable || timed.groups.offsets != groups.offsets || timed.groups.crosses != groups.crosses) continue;
        // Stage images are proven only here, when an answer could be carried.
        const StageImage& to = stage_image(stage);
        const StageImage& from = stage_image(timed.stage);
        if (from.canonical != to.canonical) continue;
        const Automorphism& first = from.map;  // t → c (identity when t is c)
        const Automorphism& then = to.map;     // c → s (identity when s is c)
        // The lists map element by element, and π keeps which of their GPUs share a node (stage_image checked it
        // over the stages' GPUs; a group reaching outside the stage is covered here).
        bool maps = true;
        for (std::size_t i = 0; i < groups.vertices.size() && maps; ++i) {
            maps = then.vertex(first.vertex(timed.groups.vertices[i])) == groups.vertices[i];
        }
        if (!maps || !keeps_nodes(timed.groups.vertices, groups.vertices)) continue;
        if (!carries(timed, stage, first, then)) {
            untranslatable_.emplace(static_cast<int>(c.kind), static_cast<int>(c.group));
            return std::nullopt;
        }
        ++translations;
        return timed.time;
    }
    return std::nullopt;
}

bool StepBuilder::phases_exact(const CommSpec& c, const std::vector<VertexId>& group) {
    // The plans' flow counts depend on the kind, the algorithms tried (node-forwarded when merged) and the group.
    auto key = std::make_tuple(static_cast<int>(c.kind), c.node_merge > 0.0, group);
    if (const auto it = exact_phases_.find(key); it != exact_phases_.end()) return it->second;
    const CollectiveRequest request = request_for(c, group);
    for (const CollectiveAlgorithm a : algorithms_for(c)) {
        CollectivePlan plan;
        try {
            plan = plan_collective(topology_, request, a);
        } catch (const Error&) {
            continue;  // not run either (simulate_collective skips an algorithm that cannot plan)
        }
        for (const auto& phase : plan.phases) {
            std::size_t flows = 0;
            if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) {
                flows = set->flows.size();
            } else {
                const std::size_t n = std::get<AllPairs>(phase.traffic).ranks.size();
                flows = n * (n - 1);
            }
            if (flows > MaxMinNetwork::kExactFlowLimit) return exact_phases_[std::move(key)] = false;
        }
    }
    return exact_phases_[std::move(key)] = true;
}

const NodeTranslation* StepBuilder::stage_shift() {
    if (!translation_on || network_->kind() != NetworkKind::flow) return nullptr;
    if (!stage_shift_tried_) {
        stage_shift_tried_ = true;
        const int per_node = topology_.gpus_per_node();
        const int stage_gpus = layout_.pipeline > 1 ? placement_.ranks() / layout_.pipeline : 0;
        if (per_node > 0 && stage_gpus > 0 && stage_gpus % per_node == 0) {
            const auto prove = [&](int nodes) -> std::shared_ptr<const NodeTranslation> {
                if (comm_times_ != nullptr) return comm_times_->node_translation(topology_, nodes);
                auto proof = NodeTranslation::prove(topology_, nodes);
                return proof ? std::make_shared<const NodeTranslation>(std::move(*proof)) : nullptr;
            };
            const int stage_nodes = stage_gpus / per_node;
            const int leaf_nodes = NodeTranslation::nodes_per_leaf(topology_);
            if (leaf_nodes > 0 && leaf_nodes < stage_nodes && stage_nodes % leaf_nodes == 0) stage_shift_ = prove(leaf_nodes);
            if (!stage_shift_) stage_shift_ = prove(stage_nodes);
            network_->use_translation(stage_shift_);
        }
    }
    return stage_shift_.get();
}

SimTime StepBuilder::sends_time(std::span<const FlowSpec> flows) {
    const NodeTranslation* shift = flows.size() <= MaxMinNetwork::kExactFlowLimit ? stage_shift() : nullptr;
    std::vector<VertexId> ends;  // source, destination, … (for NodeTranslation::maps)
    if (shift != nullptr) {
        ends.reserve(2 * flows.size());
        for (const FlowSpec& f : flows) {
            ends.push_back(f.src);
            ends.push_back(f.dst);
        }
        for (const TimedSends& timed : timed_sends_) {
            if (timed.sizes.size() != flows.size()) continue;
            bool sizes = true;
            for (std::size_t i = 0; i < flows.size() && sizes; ++i) sizes = timed.sizes[i] == flows[i].size.value();
            if (sizes && shift->maps(topology_, timed.ends, ends)) {
                ++translations;
                return timed.time;
            }
        }
    }
    const SimTime time = to_sim(network_->run_phase(flows).time);
    if (shift != nullptr && timed_sends_.size() < kKept) {
        std::vector<double> sizes;
        sizes.reserve(flows.size());
        for (const FlowSpec& f : flows) sizes.push_back(f.size.value());
        timed_sends_.push_back(TimedSends{std::move(ends), std::move(sizes), time});
    }
    return time;
}

std::optional<int> StepBuilder::move_to_timed_stage(const CommSpec& c, CommGroups& groups) {
    const NodeTranslation* shift = stage_shift();
    if (shift == nullptr) return std::nullopt;
    for (const auto& [key, kept] : timed_) {
        if (std::get<0>(key) != static_cast<int>(c.kind) || std::get<2>(key) != static_cast<int>(c.group) ||
            std::get<3>(key) != c.node_merge || std::get<4>(key) != c.gpu_merge) {
            continue;
        }
        for (const Timed& timed : kept) {
            if (!timed.exact || timed.groups.offsets != groups.offsets || timed.groups.crosses != groups.crosses) continue;
            if (!shift->maps(topology_, timed.groups.vertices, groups.vertices)) continue;
            groups = timed.groups;
            return timed.stage;
        }
    }
    return std::nullopt;
}

void StepBuilder::remember_translation(const CommSpec& c, int stage, CommGroups groups, CollectiveAlgorithm algorithm,
                                       SimTime time) {
    if (!translation_on || network_->kind() != NetworkKind::flow || layout_.pipeline < 2) return;
    const bool by_shift = stage_shift() != nullptr && phases_exact(c, groups.at(0));
    bool loggable = static_cast<std::size_t>(placement_.ranks() / layout_.pipeline) <= kMaxStageGpus &&
                    !untranslatable_.contains(std::make_pair(static_cast<int>(c.kind), static_cast<int>(c.group)));
    // An estimate of the pairs its plans route (an all-to-all's n(n−1) per group; about 4n for rings and trees).
    std::size_t pairs = 0;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const std::size_t n = groups.offsets[i + 1] - groups.offsets[i];
        pairs += c.kind == CollectiveKind::all_to_all ? n * (n - 1) : 4 * n;
    }
    loggable = loggable && pairs <= kMaxLoggedPairs;
    if (!loggable && !by_shift) return;
    std::vector<Timed>& kept = timed_[std::make_tuple(static_cast<int>(c.kind), c.size.value(), static_cast<int>(c.group), c.node_merge, c.gpu_merge)];
    if (kept.size() >= kKept) return;
    kept.push_back(Timed{time, stage, std::move(groups), 0, c, algorithm, loggable, by_shift});
}

}  // namespace gpuhours::detail
