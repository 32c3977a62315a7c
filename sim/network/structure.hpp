// Hop distances to a GPU read from the fabric's structure (FabricGeometry, topology.hpp) instead of searched
// (Router::walk; issue #13). The search keeps an array over every vertex per destination class: at 131,072 GPUs,
// 280,576 vertices per array, and the arrays' set-up (first touches, filling, minimum over a node's leaves) was
// two thirds of the flagship's step. Here a destination costs its node's leaves, and a vertex's distance is read
// on demand in O(gpus_per_node).
//
// The argument (every builder's fabric; tests/network/structure_test.cpp checks it against the search for every
// vertex and every GPU of each builder's fabrics, both tier counts, one or several planes, partial leaves and
// pods). Let t be the destination GPU, on node n_t.
// - Inside a node the distances are fixed by its wiring: GPU–NVSwitch 1, GPU–GPU 2 (through the NVSwitch), GPU–own
//   NIC 1, GPU–another GPU's NIC 3, NIC–NVSwitch 2, NIC–NIC 4 (gpus_per_node = 1: no NVSwitch, GPU–NIC 1).
// - Nodes are joined only through network switches, and non-switch vertices lie in one node. So a shortest path
//   from a vertex v outside n_t leaves v's node by some NIC j to its leaf, at cost e_j = local(v, NIC j) + 1, and
//   d(v, t) = min_j e_j + d(leaf_j, t); for v inside n_t the path that stays inside (local(v, t)) is a candidate
//   too.
// - A shortest path from a switch u to t enters n_t last from some leaf w = leaf of n_t's NIC j, at cost
//   c_j = local(NIC j, t) + 1, so d(u, t) = min_j D(u, w_j) + c_j with D the switch-to-switch distance.
// - D(u, w) is needed for leaves w only, and is the fat-tree's closed form inside a component (two tiers: spine–leaf
//   1, leaf–leaf 2; three tiers: see to_leaf). Across components D is taken as infinite: a path between components
//   crosses some node x (6 hops from leaf to leaf through x's NICs, GPUs and NVSwitch), and every node has a NIC in
//   every component, so entering n_t through u's own component costs at most D(u, leaf of x) + 4 (the leaf
//   diameter) + c, which is never more than the path through x (its c on the far side is at least 2 less). Inside a
//   component a path through a node (6 hops) never beats the switches (at most 4).
#pragma once

#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/network/network.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gpuhours::detail {

class StructuralDistance {
public:
    // `topology` must carry a geometry (Topology::geometry()) and outlive this.
    explicit StructuralDistance(const Topology& topology);
    // Makes the GPU `dst` the destination: its node's leaves and their costs c_j, and the memo of switch distances
    // kept for that list (see memos_).
    void select(VertexId dst);
    // d(v, destination) in hops (255: none; never on a builder's fabric). O(gpus_per_node) for a node vertex; for a
    // switch O(the destination's leaves in its component) the first time for a list of leaves, then memoised.
    [[nodiscard]] std::uint8_t operator()(VertexId v) {
        if (v >= first_switch_) return static_cast<std::uint8_t>(from_switch(v));
        return node_distance(v);
    }
    // True when the far end u of v's out-link at adjacency position i (Topology::Adjacency) is a NIC below switch v
    // (d(v) = here) that cannot be on a shortest path from v, without working out d(u): outside the destination's
    // node, u leaves its node by v (d = here + 1) or by another of its node's NICs (5 hops to that NIC's leaf, then
    // at least the least c_j), so d(u) = here − 1 needs here ≥ 6 + that c. A leaf's NICs are half its links, and
    // only those of the destination's node can be next hops.
    [[nodiscard]] bool off_path(VertexId v, std::uint32_t i, int here) const {
        return v >= first_switch_ && far_node_[i] >= 0 && far_node_[i] != node_ && only_destination_nics(here);
    }

    // The equal-cost next hops of switch v toward the destination (d(v) = here), in v's adjacency order, appended
    // to `out` as link ids — what a scan of every out-link with off_path and this distance would give — without
    // looking at every out-link: v's adjacency is kept as runs of consecutive links whose far ends are switches of
    // one class (component, tier, pod) or node vertices. The switches of a class that are not among the
    // destination's leaves are all at one distance (to_leaf reads only the class), so such a run is in or out
    // whole; the destination's leaves in it are found by binary search and read one by one; a run of NICs matters
    // only below one of the destination's leaves (off_path). False, `out` untouched, where the test of off_path
    // does not hold (never on a builder's fabric): the caller then scans.
    // With `whole_run` given, next hops that are exactly one run of consecutive adjacency positions (a leaf's
    // uplinks toward another leaf: every spine of its plane) are not copied: *whole_run is set to them (link ids in
    // the adjacency's own array) and `out` is left untouched; otherwise *whole_run is empty.
    bool switch_next_hops(VertexId v, int here, std::vector<LinkId>& out, std::span<const std::uint32_t>* whole_run = nullptr);

private:
    // At a switch `here` hops from the destination, no NIC outside the destination's node is a next hop (the bound
    // of off_path).
    [[nodiscard]] bool only_destination_nics(int here) const { return here < 6 + via_min_; }
    // Whether switch u is one of the destination's entry leaves.
    [[nodiscard]] bool entry_leaf(VertexId u) const {
        return std::any_of(via_->begin(), via_->end(), [&](const auto& e) { return e.first == u; });
    }
    struct Position {
        VertexKind kind = VertexKind::gpu;
        int local = 0;  // a GPU's or NIC's index in its node; −1 for the NVSwitch
    };
    struct NodeVertex {  // a node vertex's place, packed (read for every neighbour a walk looks at)
        std::int32_t node = 0;
        std::int32_t local = 0;  // a node may hold more than 32,767 GPUs (gpus_per_node up to 100,000)
        std::uint8_t kind = 0;
    };
    [[nodiscard]] static int local_distance(Position a, Position b);
    [[nodiscard]] int to_leaf(VertexId u, VertexId leaf) const;  // D(u, leaf) for a switch u; kFar across components
    // d(u, destination) for a switch u, memoised (the walk reads it for every neighbour it looks at).
    int from_switch(VertexId u) {
        const std::size_t s = u - first_switch_;
        return memo_[s] != 0 ? memo_[s] : fill_switch(s);
    }
    int fill_switch(std::size_t s);
    [[nodiscard]] std::uint8_t node_distance(VertexId v);

    static constexpr int kFar = 255;
    const Topology& topology_;
    const FabricGeometry& geometry_;
    VertexId first_switch_ = 0;
    int gpus_per_node_ = 1;
    // The destination: its node and local index, and its node's leaves with c_j (one entry per leaf, lowest c).
    int node_ = 0;
    int local_ = 0;
    const EntryList* via_ = nullptr;  // sorted by the leaf's component (a key of memos_)
    const std::uint32_t* via_begin_ = nullptr;  // component k's entries: via_[via_begin_[k] .. via_begin_[k + 1])
    int via_min_ = kFar;  // the least c_j: no path from a switch is shorter
    std::vector<NodeVertex> nodes_;  // by vertex, below first_switch
    std::vector<std::int32_t> far_node_;  // by adjacency position: the node of the link's far end, −1 for a switch
    struct Run {
        std::uint32_t begin = 0, end = 0;  // adjacency positions
        bool nics = false;                 // far ends are node vertices; else switches of one class
        bool sorted = false;               // far ends ascending (the destination's leaves are found by binary search)
    };
    std::vector<Run> runs_;                 // every switch's runs, in adjacency order
    std::vector<std::uint32_t> run_begin_;  // switch s's runs: runs_[run_begin_[s] .. run_begin_[s + 1])
    void build_runs();
    // A switch's distance depends on the destination's leaves and their c_j alone, which every GPU i of the nodes
    // under the same leaves shares: one memo per such list, d per switch (vertex − first_switch), 0 where not yet
    // worked out (a switch is at least 2 hops from a GPU). Bounded: all forgotten past 64 MB (found again, not
    // wrong).
    struct Memo {
        std::vector<std::uint8_t> distance;   // per switch
        std::vector<std::uint32_t> via_begin;  // the list's entries by component (via_begin_)
        int via_min = kFar;
    };
    std::unordered_map<EntryList, Memo, EntryListHash> memos_;
    std::size_t memo_bytes_ = 0;
    std::uint8_t* memo_ = nullptr;  // the current destination's
    // Per GPU vertex: its list's entry in memos_ once selected (null: not yet, or forgotten with the memos), so that
    // selecting a GPU again costs a lookup (the flows of a ring phase have a destination each: at 131,072 GPUs the
    // list's rebuilding and hashing was 12 % of the step).
    std::vector<std::pair<const EntryList, Memo>*> memo_of_gpu_;
    EntryList scratch_;  // the list being built
    int components_ = 0;
    // Nodes of many GPUs (kWideNode or more: a TPU pod's or a large NVLink domain's thousands) keep, per node and
    // destination, the least and second-least cost of leaving by one of their NICs (from_switch of its leaf) and the
    // NIC of the least, so that node_distance's minimum over a vertex's other NICs is O(1) after the node's first
    // vertex instead of O(gpus_per_node) per vertex: a route through a 4,992-GPU node's NVSwitch reads the distance
    // of its 9,984 neighbours (95 % of a step on such a node was this loop). Valid while `stamp` equals
    // exits_stamp_, which select() advances.
    static constexpr int kWideNode = 32;
    struct NodeExits {
        std::uint32_t stamp = 0;
        std::uint8_t least = kFar;
        std::uint8_t second = kFar;
        std::int32_t at = -1;  // the local index of a NIC with the least cost
    };
    std::vector<NodeExits> exits_;  // by node, only for wide nodes
    // A wide node's leaves, each once, in the order of a destination's list (select), for the node last selected.
    std::vector<VertexId> node_leaves_;
    int leaves_node_ = -1;
    std::uint32_t exits_stamp_ = 0;
    const NodeExits& exits_of(int node);
};

}  // namespace gpuhours::detail
