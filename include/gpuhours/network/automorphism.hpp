// Automorphisms of a cluster topology, proven, and the routings they carry over (issue #13: symmetric mode times
// a pipeline stage's collectives once per class of stages that the fabric's symmetry proves alike).
//
// An automorphism π is a permutation of the vertices and links that maps every link to a link of the same kind,
// bandwidth, efficiency and latency, and keeps each vertex's kind and group. Hop distances are kept
// (d(π u, π v) = d(u, v)), so the equal-cost next hops of π(v) toward π(dst) are the images of those of v toward
// dst. The router's pick among them (Router::choose) reads the candidates' adjacency order and the destination's
// index, which π need not keep, so a routing carries over only where every choice it made among more than one
// candidate is checked at its image (choices_map). When it holds, every route between the images of two ends is
// the image of the route between them, link by link, so any phase of flows between images is the image phase: the
// same max-min answer to the last bit (its canonical form is the same; sim/network/relabel.hpp has the argument in
// full, and proves automorphisms the same way, as swap closures).
#pragma once

#include <gpuhours/network/network.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace gpuhours {

namespace detail {
class SwapClosure;  // sim/network/relabel.hpp
}

// A proven automorphism, kept as the vertices and links it moves (sorted, with their images); identity elsewhere.
// Default-constructed: the identity.
class Automorphism {
public:
    [[nodiscard]] VertexId vertex(VertexId v) const;
    [[nodiscard]] LinkId link(LinkId l) const;
    [[nodiscard]] std::size_t vertices_moved() const { return vertices_.size(); }

private:
    friend class AutomorphismProver;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> vertices_;  // (vertex, image), vertex increasing
    std::vector<std::pair<std::uint32_t, std::uint32_t>> links_;     // (link, image), link increasing
};

// Proves automorphisms of one topology (which must not change afterwards) as swap closures: the seeds from[i] ↔
// to[i] extended over the graph, each swapped pair's links matched with each other's (relabel.hpp). Its scratch
// is sized to the topology at the first proof (some 30 bytes per vertex and link).
class AutomorphismProver {
public:
    explicit AutomorphismProver(const Topology& topology);
    ~AutomorphismProver();
    AutomorphismProver(const AutomorphismProver&) = delete;
    AutomorphismProver& operator=(const AutomorphismProver&) = delete;

    // The involution that swaps from[i] with to[i] (fixes it where the two are equal) and extends them to the whole
    // graph; nullopt when the closure finds none (a conflict, or a link without a match). Throws Error when `from`
    // and `to` differ in length or name a vertex the topology does not have.
    std::optional<Automorphism> prove_swap(std::span<const VertexId> from, std::span<const VertexId> to);

    // Whether every choice in `log` (made by a routing on this topology; Router::log_choices) maps under
    // π = then ∘ first (first applied first; `then` may be null): at π of the choice's vertex, toward π of its
    // destination, among the images of its candidates put in that vertex's adjacency order, Router::choose picks π
    // of the link chosen. False for an incomplete log (a choice among more than ChoiceLog::kMaxCandidates was not
    // logged, so nothing is proven).
    bool choices_map(const Router& router, const Router::ChoiceLog& log, const Automorphism& first,
                     const Automorphism* then);
    // Drops from `log` the choices every automorphism maps (a GPU with a single scale-up link that took it: PXN),
    // so that checks read only the others; choices_map skips them anyway.
    void drop_self_mapping(Router::ChoiceLog& log) const;

private:
    const Topology& topology_;
    std::unique_ptr<detail::SwapClosure> closure_;
    std::vector<char> marked_;  // choices_map's scratch, per link, left all 0
    std::vector<LinkId> ordered_;
    std::vector<std::uint32_t> vertex_image_, link_image_;  // choices_map's π, dense, left the identity
};

// Groups of GPUs that run one collective at once, proven to be link-disjoint copies of one another from the
// fabric's structure alone, before any flow is listed or routed (issue #13: a stage's concurrent expert groups
// cost one group's simulation however many there are).
//
// `vertices` lists GPU vertices group after group: group i is vertices[offsets[i] .. offsets[i + 1]). Group 0 is
// the representative; groups 1, 2, … are those that run at once (the representative's own group among them).
// Returns the representative's pattern — per member, in order, the index of its node among the group's nodes
// (by first appearance) and its local index on the node — when
//   (1) no node holds members of two of the groups 1, 2, …;
//   (2) on each group's nodes, the NICs of one local index are all cabled to one leaf (FabricGeometry::nic_leaf);
//   (3) every group has the representative's pattern;
//   (4) on each group's nodes, all NICs are cabled to one leaf, or each to a leaf of its own (one plane or rail per
//       local index: not a multi-plane fabric with fewer planes than GPUs per node, nor nodes straddling leaves).
// Then a route between two members of a group never leaves their nodes and the leaf of the destination's local
// index, and makes no choice among equal-cost hops: to a GPU of another node it goes out by the source's own NIC
// when every NIC is on one leaf (4 hops, shorter than any other path), else by NVLink first (Router's tie rule) to
// the one local GPU whose NIC is on the destination's leaf. (With several GPUs on that leaf the relay would be
// picked by vertex id, which differs from node to node: the counterexample that condition 4 excludes, 12-GPU nodes
// on 4 planes.) So no two groups' flows share a link (nodes are disjoint, and each NIC cable belongs to one node),
// and each group's flows are the representative's renamed node for node and leaf for leaf; every node is alike and
// every NIC cable alike on a builder's fabric, so each group's phases have the representative's max-min answer, the
// concurrent phase its answer too, and that answer depends on the pattern alone, not on which nodes or leaves hold
// the group.
// nullopt when any condition fails, and on a fabric without a builder's geometry or NICs (Topology::geometry()).
// Cost O(nodes + members × nodes per group). Tested against the merged flow solution on every builder's fabrics
// (tests/network/automorphism_test.cpp).
std::optional<std::vector<int>> leaf_local_copies(const Topology& topology, std::span<const VertexId> vertices,
                                                  std::span<const std::uint32_t> offsets);

}  // namespace gpuhours

namespace gpuhours {

// A translation of the cluster by whole nodes — GPU g ↦ g + shift (mod the GPU count), every vertex of a node onto
// the same vertex of the node `node_shift` further, each leaf onto its image NIC's leaf, each spine onto a spine —
// proven from the builder's geometry to be an automorphism that carries every routing choice (issue #13: a pipeline
// stage of thousands of GPUs answered as another stage moved along the fabric, without routing its flows).
//
// The argument. π is built from the GPUs (and their neighbours, in adjacency order) and the NICs' leaves, then
// checked to be a bijection of the vertices that keeps each vertex's kind and group and maps every link to a link
// of the same kind, bandwidth, efficiency and latency (a node's vertices with their links in the same order; a
// switch's links as a set, with no two links from one switch to one vertex). Hop distances are then kept. Of the
// router's choices among equal-cost next hops (Router::choose: candidates in adjacency order, the one at (key(dst)
// + v) mod count), only a leaf's, among its uplinks, can have several candidates: a spine has one link down to each
// leaf; a NIC one way up and one down; a GPU picks its NVLink first (PXN) and has one other link; and a node's
// switch meets a destination on another node only when the node's NICs lie each in a component (plane) of their
// own, through the one GPU whose NIC is in the destination's — which is required: every node has its NICs all on
// one leaf, or no two in one component. So an uplink taken at leaf ℓ for destination d has index i = (key(d) + ℓ)
// mod S and its image must be the uplink at π(ℓ) with index (key(π d) + π(ℓ)) mod S = i + ρ_ℓ, where ρ_ℓ = δ +
// π(ℓ) − ℓ (mod S) and δ = key(π d) − key(d) (mod S), required the same for every GPU. π is defined on the spines
// by exactly that rotation of each leaf's uplinks (U(ℓ)[i] ↦ U(π ℓ)[(i + ρ_ℓ) mod S]), which must give each spine
// one image whatever leaf it is reached from. Then every route between the images of two GPUs is the image of the
// route between them, link by link, and so every phase of flows between images is the image phase: the same
// canonical form (sim/network/relabel.hpp) and the same max-min answer to the last bit, for a phase of at most
// MaxMinNetwork::kExactFlowLimit flows (above it the network's congestion bound breaks near-ties by link id, which π
// reorders: callers keep to the limit). π^k is then proven too: any shift by a multiple of `node_shift` nodes.
//
// Refused (nullopt): a fabric without a builder's geometry or NICs, three tiers, a shift that is not a whole number
// of nodes in (0, nodes), leaves of different uplink counts, any check above failing — e.g. a shift by part of a
// leaf (the flagship's stage at 2,048 GPUs is 16 nodes, half a leaf of 32), a last leaf partly filled, a leaf count
// per component that is not a multiple of S (the leaf that wraps round would need another rotation: 6 leaves under
// 4 spines), nodes straddling leaves.
//
// Two ways to the same answer. prove_link_by_link checks every vertex and link as above: O(vertices + links), some
// 12 bytes per vertex while proving and 4 bytes per link kept (link_image); the flagship's layout at 131,072 GPUs:
// about 140 M instructions besides the adjacency, a seventh of its step. prove() does that on any fabric but a
// two-tier builder's (FabricGeometry::uniform_two_tier), whose nodes, NIC cables and leaf-to-spine cabling are alike
// by construction: there it checks what the builder does not fix — the GPUs onto their images' vertices, the NICs'
// leaves one onto one, the destination keys' step δ, each leaf's uplinks onto its image's rotated by ρ (one image
// per spine), and every switch mapped onto one of its kind, group and degree — in O(GPUs + leaves × S), and finds a
// link's image when asked (link_image: the node vertices moved by whole nodes, the switches by the map it kept).
// tests/network/node_translation_test.cpp requires the two to accept the same shifts and give every link the same
// image on every builder's fabrics.
class NodeTranslation {
public:
    static std::optional<NodeTranslation> prove(const Topology& topology, int node_shift);
    static std::optional<NodeTranslation> prove_link_by_link(const Topology& topology, int node_shift);

    // The shift in GPUs (node_shift × GPUs per node) and the GPU count it wraps at.
    [[nodiscard]] std::size_t gpu_shift() const { return shift_; }
    [[nodiscard]] std::size_t gpus() const { return gpus_; }
    // Whether `to` is π^k of `from` element by element (both GPU vertices of `topology`) for one k ≥ 0: every GPU
    // index moved by the same multiple of gpu_shift(), modulo gpus(). False for lists of different lengths or a
    // vertex that is not a GPU. O(elements).
    [[nodiscard]] bool maps(const Topology& topology, std::span<const VertexId> from, std::span<const VertexId> to) const;
    // The image of link `l` of `topology` (the one it was proven on) under π (one shift): a link of the same kind and
    // figures. Every link of the topology has one, and no two the same (π is a bijection of the vertices and of the
    // links). O(1) after prove_link_by_link; O(log degree) of the link's source after an attested proof (the link's
    // place among its source's out-links, or the image source's link to the image of its far end).
    [[nodiscard]] LinkId link_image(const Topology& topology, LinkId l) const;
    // The link count of the topology it was proven on.
    [[nodiscard]] std::size_t links() const { return links_; }
    // Whether prove() took the builder's attestation (link images found when asked) rather than checking link by link.
    [[nodiscard]] bool attested() const { return link_image_.empty(); }
    // Whether `topology` is the object it was proven on (its address, and the same link count): what a user checks
    // before asking link_image, which reads the topology it is given.
    [[nodiscard]] bool proven_on(const Topology& topology) const {
        return &topology == topology_ && topology.links().size() == links_;
    }
    // The nodes whose NICs share the first GPU's leaf, one per NIC of the node on it (the nodes under one leaf; 0
    // without a builder's geometry or NICs): the shortest translation prove() can accept, and a candidate for it.
    static int nodes_per_leaf(const Topology& topology);

private:
    [[nodiscard]] VertexId vertex_image(VertexId v) const {
        return v < node_vertices_ ? (v + vertex_shift_) % node_vertices_ : switch_image_[v - node_vertices_];
    }

    const Topology* topology_ = nullptr;  // the one it was proven on: compared, never read (proven_on)
    std::size_t shift_ = 0;
    std::size_t gpus_ = 0;
    std::size_t links_ = 0;
    std::vector<std::uint32_t> link_image_;  // prove_link_by_link: by link id (4 bytes a link: 4 MB at 131,072 GPUs)
    // Attested (link_image_ empty): the nodes' vertices [0, node_vertices_), moved by vertex_shift_ (node_shift ×
    // vertices per node) modulo node_vertices_; each switch's image, by vertex − node_vertices_.
    VertexId node_vertices_ = 0;
    std::size_t vertex_shift_ = 0;
    std::vector<std::uint32_t> switch_image_;
};

}  // namespace gpuhours
