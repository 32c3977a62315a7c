// What MaxMinNetwork's standalone phases share between network.cpp (the fluid) and phase_memo.cpp (the memo's
// canonical forms and the link-disjoint parts of a phase): the memo itself and the functions on it.
#pragma once

#include <gpuhours/network/network.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace gpuhours {

namespace detail {
// One 64-bit word mixed into a hash (the memo's keys, routings' pairs, run_phase_by_blocks's checks).
inline void hash_word(std::uint64_t& h, std::uint64_t w) { h = (h ^ w) * 0x100000001B3ull + (h >> 29); }

// A hash of n (source, destination) pairs, pair i read as ends(i).
template <class Ends>
std::uint64_t pairs_hash(std::size_t n, Ends ends) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (std::size_t i = 0; i < n; ++i) {
        const auto [src, dst] = ends(i);
        hash_word(h, static_cast<std::uint64_t>(src));
        hash_word(h, static_cast<std::uint64_t>(dst));
    }
    return h;
}
}  // namespace detail

// Phases solved so far, by canonical form (see network.hpp). A key is a sequence of 64-bit words:
// per flow [size bits, route latency bits, link count, labels…], and after a label's first use the link's
// [capacity bits, preference]. Labels are first-appearance indices, so the form is the same for two phases
// exactly when one is the other with its links renamed one-to-one, capacities and preferences kept.
struct MaxMinNetwork::PhaseMemo {
    struct Hash {
        std::size_t operator()(const std::vector<std::uint64_t>& words) const {
            std::uint64_t h = 0x9E3779B97F4A7C15ull ^ words.size();
            for (const std::uint64_t w : words) detail::hash_word(h, w);
            return static_cast<std::size_t>(h);
        }
    };
    struct Entry {
        Seconds time;
        std::int64_t limiting_label = -1;     // the limiting link's label, -1 when none
        std::uint32_t limiting_position = 0;  // the flow (in the solved order) that link limited
    };
    static constexpr std::size_t kMemoWords = std::size_t{1} << 24;  // 128 MiB of keys, then cleared

    std::unordered_map<std::vector<std::uint64_t>, Entry, Hash> entries;
    std::size_t words = 0;
    std::vector<std::int32_t> label_of;  // per link id: its label in the key being built, -1 when unseen
    std::vector<LinkId> link_of;         // per label: the link id
    // Scratch of run_phase, kept between phases: the routes, the key being built, the routes by label.
    RouteTable routes;
    std::vector<std::uint64_t> key;
    std::vector<LinkId> labelled;
    // The (source, destination) of each flow of the last phase routed, and the position in `key` of each flow's
    // size word. A phase with the same pairs in the same order (a collective's step timed again at another size:
    // about 40 % of the flows of the DeepSeek-V3 step, issue #13) has the same routes, labels, `link_of` and
    // `labelled`; only its size words differ, so it is neither routed nor put into canonical form again.
    std::vector<std::pair<VertexId, VertexId>> routed_pairs;
    Router::ChoiceLog choices;  // the choices made routing them (when relabelling is on; relabel.hpp)
    std::vector<std::uint32_t> size_word;
    bool routed = false;
    // Routings of earlier phases, for a phase whose pairs, in order, come back after other phases came between (a
    // data-parallel ring timed at five sizes, 15–30 phases apart, at 131,072 GPUs; issue #13): its routes and the
    // choices logged routing them are taken from here (detail::recall) instead of routing it again. A route is a
    // function of the topology and its flow's two ends (Router), so these are the routes a new routing would give,
    // and the log is the one it would make. The canonical form is built again (sizes and labels are the new
    // phase's). Most recently used last; at most kRecallBytes of pairs, routes and logs, the oldest dropped first.
    struct Routing {
        std::uint64_t hash = 0;  // of `pairs` (pairs_hash)
        std::vector<std::pair<VertexId, VertexId>> pairs;
        RouteTable routes;
        Router::ChoiceLog choices;
        std::size_t bytes = 0;
    };
    static constexpr std::size_t kRecallBytes = std::size_t{128} << 20;
    std::vector<Routing> earlier;
    std::size_t earlier_bytes = 0;
    // The phase's link-disjoint parts (split_parts): part p's flows are part_flows[part_begin[p] .. part_begin[p+1])
    // in phase order, parts in the order of their first flow; and the scratch that finds them.
    std::vector<std::uint32_t> part_begin, part_flows;
    std::vector<std::uint32_t> parent;        // union-find over flows
    std::vector<std::int32_t> flow_on_link;   // per link id: a flow crossing it, -1 when none
    std::vector<std::uint64_t> part_key, other_key;  // the first part's canonical form, and another's compared with it
    std::vector<LinkId> part_link_of, other_link_of;  // their links by label
    std::vector<LinkId> part_labelled, other_labelled;  // their routes by label
};

namespace detail {
// A flow moved back by its source's block (run_phase_by_blocks): GPU indices and size bits.
struct MovedFlow {
    std::size_t src = 0, dst = 0;
    std::uint64_t size = 0;
    bool operator==(const MovedFlow&) const = default;
};

// One of run_phase_by_blocks's disjointness checks (sim/network/phase_blocks.cpp), a function of the pairs solved,
// which blocks' flows among them are each repeated pattern's first (B0_k) and the copies' shifts: whether the copies
// were link-disjoint, and for each pattern whether its B0 shares a link with the rest of the flows solved.
struct BlockCheck {
    std::uint64_t hash = 0;
    std::vector<std::size_t> b0;                       // each pattern's first block
    std::vector<std::pair<VertexId, VertexId>> pairs;  // of the flows solved (the blocks' and the others')
    std::vector<std::vector<std::uint32_t>> shifts;    // each pattern's copies', in blocks from its first
    bool disjoint = false;
    std::vector<char> shared;                          // by pattern
};
}  // namespace detail

// The checks made (at most kKept, the oldest dropped first), and scratch, -1 where unset.
struct MaxMinNetwork::BlockChecks {
    using Check = detail::BlockCheck;
    static constexpr std::size_t kKept = 32;
    std::vector<Check> checks;
    std::vector<std::int32_t> owner;  // by link id
    std::vector<std::int32_t> slot;   // by block: its place among the phase's blocks, -1 where none
    std::vector<detail::MovedFlow> moved;  // by flow of the phase being split, and its block's place
    std::vector<std::size_t> block_of;
    RouteTable routes;
};

namespace detail {

// Preference for reporting a bottleneck among links that saturate together: the NIC port before its PCIe
// attachment, NVLink before the fabric (lower first).
int link_preference(LinkKind k);

// Seconds rounded up to whole picoseconds (SimTime); zero for non-positive times.
SimTime ceil_time(double seconds);

// Congestion bound over explicit routes: max over links of load (bytes) / capacity, plus `max_latency`; the limiting
// link is the most loaded one (ties by link_preference).
PhaseResult congestion_bound(const Topology& topology, const std::vector<double>& load, Seconds max_latency);

// Vertices reachable toward a destination, by decreasing hop distance `dist` (farthest first), so that pushing each
// source's bytes one hop at a time visits a vertex only after everything upstream of it.
std::vector<std::uint32_t> by_distance_desc(const std::vector<std::uint8_t>& dist);

// The canonical form of the flows `order` (indices into flows and routes, in that order; empty: every flow) into
// `key`, the link of each label into `link_of` and each route entry's label into `labelled` (at the routes'
// positions). See PhaseMemo. `size_word`, when given: each flow's size word's position in `key`, in `order`.
void canonical_form(const Topology& topology, std::span<const FlowSpec> flows, const RouteTable& routes,
                    std::span<const std::uint32_t> order, MaxMinNetwork::PhaseMemo& memo, std::vector<std::uint64_t>& key,
                    std::vector<LinkId>& link_of, std::vector<LinkId>& labelled,
                    std::vector<std::uint32_t>* size_word = nullptr);

// The max-min fluid of the flows `order` in their canonical form (`link_of` and `labelled` from canonical_form):
// links by label, so ties among equal shares break by label (network.cpp).
MaxMinNetwork::PhaseMemo::Entry solve_canonical(const Topology& topology, std::span<const FlowSpec> flows,
                                                const RouteTable& routes, std::span<const std::uint32_t> order,
                                                const std::vector<LinkId>& link_of, const std::vector<LinkId>& labelled);

// Whether `flows` go between the same (source, destination) pairs as `pairs`, in the same order.
bool same_pairs(std::span<const FlowSpec> flows, const std::vector<std::pair<VertexId, VertexId>>& pairs);

// Keeps the routing in memo's scratch (routed_pairs, routes, choices; when memo.routed) among memo.earlier, making
// room by dropping the oldest; the scratch is left to be routed into (its buffers may be an older routing's).
void stash(MaxMinNetwork::PhaseMemo& memo);
// When memo.earlier holds a routing of `flows`' (source, destination) pairs in their order: swaps it into memo's
// scratch (routed_pairs, routes, choices; memo.routed false until the canonical form is built again), the scratch's
// routing taking its place when it was one (memo.routed), and true. False, nothing changed, otherwise.
bool recall(MaxMinNetwork::PhaseMemo& memo, std::span<const FlowSpec> flows);

// Keeps `entry` under `key` (the memo is cleared when full).
void keep(MaxMinNetwork::PhaseMemo& memo, const std::vector<std::uint64_t>& key, const MaxMinNetwork::PhaseMemo::Entry& entry);

// A phase of link-disjoint parts (network.hpp), as the whole phase's entry (labels and positions of the whole
// canonical form, which must be in memo.link_of): parts of one canonical form answered by the first, parts of
// different forms solved one by one (the latest part's time and limiting link); nullopt when the phase is one part.
// `reused`: whether the part (every part) was found in the memo.
std::optional<MaxMinNetwork::PhaseMemo::Entry> solve_by_parts(const Topology& topology, std::span<const FlowSpec> flows,
                                                              const RouteTable& routes, MaxMinNetwork::PhaseMemo& memo,
                                                              bool& reused);

// A phase whose flows all run inside nodes (a GPU to a GPU of its own node, at least two nodes), node after node
// the same: every node has as many flows as the first node met, its k-th flow goes between the same local GPUs with
// the same size as the first node's k-th, and comes later in the phase than the k-th of every node met before it.
// Then the nodes are link-disjoint parts of one canonical form (a node's routes stay on its own NVSwitch), and
// solve_by_parts answers the whole phase by the first node's flows alone, naming a link of the first node; those
// flows go into `first` and the answer is true. Only on a topology with its builder's geometry (nodes alike).
// O(flows); false at the first flow that leaves its node, which makes it cheap for every other phase.
bool first_node_flows(const Topology& topology, std::span<const FlowSpec> flows, std::vector<FlowSpec>& first);

}  // namespace detail
}  // namespace gpuhours
