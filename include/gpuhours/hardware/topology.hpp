// The cluster as a graph: GPUs, NVSwitches, NICs and leaf/spine/core switches joined by links.
//
// Representation: vertices (`VertexInfo`) and directed links in arrays, with a compressed out-adjacency for
// routing. A link is stored as its two ends and the index of its figures in a table of the distinct figures the
// graph has (`LinkRecord`, 12 bytes; a fabric has a handful of kinds of link), and read back whole as a `LinkInfo`;
// at 131,072 GPUs the 1,048,576 links of a multi-plane fabric took 48 MB as LinkInfo (issue #13). `boost_graph()`
// (topology_graph.hpp) gives the same as a Boost.Graph adjacency_list (vertices carrying `VertexInfo`, edges the
// index of their `LinkInfo`) for Boost's algorithms. The Boost graph is built on demand,
// not kept: a directed adjacency_list allocates each edge's property on the heap, and at 131,072 GPUs building and
// freeing those 607,232 edges was 13 % of a step that never read them (issue #13). Every physical cable is two
// directed edges, one per direction, each with its own bandwidth, so contention in one direction never slows the
// other (full-duplex links).
//
// Link figures (per direction):
// - gpu ↔ nvswitch ("scale_up"): the chip's scale_up_bandwidth; latency scale_up_latency / 2 per edge, so a
//   GPU-to-GPU message through the switch costs scale_up_latency (the chip figure is measured end to end).
//   An NVSwitch is one vertex of unlimited internal capacity (a non-blocking crossbar).
// - gpu ↔ nic ("host", the PCIe attachment): the NIC bandwidth, no latency (folded into the NIC figure).
// - nic ↔ leaf ("nic"): the NIC bandwidth; latency nic_latency / 2 per edge, so a same-leaf message costs
//   nic_latency (DeepSeek measured 2.8 µs on IB).
// - switch ↔ switch ("fabric"): latency nic_latency / 6 per edge. Assumption calibrated on DeepSeek's IB
//   figures (arXiv 2505.09343): cross-leaf 3.7 µs vs same-leaf 2.8 µs is +0.9 µs for two more hops, ≈ 2.8/6 each.
// Achievable fractions (`LinkInfo::efficiency`) come from the chip catalog: scale_up_link on NVLink edges,
// nic_link on every scale-out edge (host, nic, fabric). Nothing here has a built-in physical figure.
//
// Fat-tree sizing (switch_radix = k): a leaf serves k/2 NICs. Oversubscription o is modelled by running every
// switch-to-switch link at a port's rate over o (NIC bandwidth / o), not by changing port counts — so a full leaf's
// 2:1 uplinks are exactly half its NICs' capacity (trade-off: integer port counts of a real 2:1 build, e.g. 43 down /
// 21 up on a 64-port leaf, are not reproduced). A partly filled leaf or pod keeps every uplink at that rate (ports
// to spare, not slower ones: until session 44 its links were scaled by its fill, which held one flow leaving a
// quarter-filled leaf to a quarter of a NIC). Two tiers: k/2 spines, each leaf
// wired to every spine, at most k leaves (k²/2 GPUs). Three tiers: pods of k/2 leaves and k/2 aggregation
// switches, aggregation switch j of every pod wired to the k/2 core switches of group j, at most k pods
// (k³/4 GPUs); the aggregation tier is not oversubscribed.
// Rail-optimised: NIC of local GPU i of every node sits on rail i's leaf (or leaves); all leaves share the spines.
// Multi-plane: NIC of local GPU i sits on plane (i mod planes); each plane is its own two-tier fat-tree with no
// link between planes (DeepSeek-V3's MPFT: 8 planes). Cross-plane traffic must first cross NVLink.
#pragma once

#include <gpuhours/hardware/hardware.hpp>
#include <gpuhours/units/units.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpuhours {

using VertexId = std::size_t;  // Boost vertex descriptor (vecS): 0..vertex_count()-1
using LinkId = std::size_t;    // index into Topology::links(); one direction of one cable

enum class VertexKind { gpu, nvswitch, nic, leaf_switch, spine_switch, core_switch };
enum class LinkKind { scale_up, host, nic, fabric };

std::string_view to_string(VertexKind k);
// A leaf, spine (aggregation) or core switch: the vertices that join nodes.
[[nodiscard]] bool is_network_switch(VertexKind k);
// "NVLink", "PCIe", "NIC", "fabric".
std::string_view to_string(LinkKind k);

struct VertexInfo {
    VertexKind kind = VertexKind::gpu;
    int node = -1;   // node index for GPUs, NVSwitches and NICs; -1 for network switches
    int index = -1;  // GPU: global GPU index; NIC: index of its GPU; switch: index within its kind
    int group = -1;  // rail or plane of a NIC or switch; pod of a leaf/spine in three tiers; -1 when none

    friend bool operator==(const VertexInfo&, const VertexInfo&) = default;
};

struct LinkInfo {
    VertexId from = 0;
    VertexId to = 0;
    LinkKind kind = LinkKind::scale_up;
    BytesPerSecond bandwidth;  // nominal, this direction
    double efficiency = 1.0;   // achievable fraction of `bandwidth` (chip catalog)
    Seconds latency;           // per traversal

    [[nodiscard]] BytesPerSecond effective_bandwidth() const { return bandwidth * efficiency; }

    friend bool operator==(const LinkInfo&, const LinkInfo&) = default;
};

struct LinkSpec {
    LinkKind kind = LinkKind::scale_up;
    BytesPerSecond bandwidth;  // per direction
    double efficiency = 1.0;
    Seconds latency;  // per direction

    friend bool operator==(const LinkSpec&, const LinkSpec&) = default;
};

// One directed link as Topology stores it: its ends (vertex ids) and its figures' index in Topology::link_specs().
struct LinkRecord {
    std::uint32_t from = 0;
    std::uint32_t to = 0;
    std::uint32_t spec = 0;

    friend bool operator==(const LinkRecord&, const LinkRecord&) = default;
};

class Topology;

// Every link of a topology in id order, each read as a LinkInfo (by value): `links()[l]`, `links().size()`, and a
// range-for over `const LinkInfo&`. A view: valid while its topology lives and gains no link.
class LinkList {
public:
    class iterator {
    public:
        using value_type = LinkInfo;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const Topology* t, LinkId l) : t_(t), l_(l) {}
        LinkInfo operator*() const;
        iterator& operator++() {
            ++l_;
            return *this;
        }
        iterator operator++(int) {
            iterator before = *this;
            ++l_;
            return before;
        }
        friend bool operator==(const iterator& a, const iterator& b) { return a.l_ == b.l_; }

    private:
        const Topology* t_ = nullptr;
        LinkId l_ = 0;
    };

    explicit LinkList(const Topology& t) : t_(&t) {}
    [[nodiscard]] LinkInfo operator[](LinkId l) const;  // unchecked, as a vector's (Topology::link checks)
    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] bool empty() const { return size() == 0; }
    [[nodiscard]] iterator begin() const { return iterator(t_, 0); }
    [[nodiscard]] iterator end() const { return iterator(t_, size()); }
    // Same length and every link equal (ends and figures).
    friend bool operator==(const LinkList& a, const LinkList& b);

private:
    const Topology* t_;
};

// What a builder knows of the graph it made, so that hop distances can be read from the structure instead of
// searched (Router; tests/network/structure_test.cpp compares the two on every builder's fabrics):
// - every node alike: gpus_per_node GPUs, one NVSwitch cabled to each when gpus_per_node > 1, and (unless the
//   fabric is single-node) one NIC per GPU, cabled to its GPU and to exactly one leaf (`nic_leaf`);
// - the network switches in components joined only through nodes (the planes of a multi-plane fabric; one
//   component otherwise), each a two-tier fat-tree (every leaf of the component cabled to every spine of it; no
//   spine when it has one leaf) or, with `three_tier`, a three-tier one (a leaf cabled to every aggregation switch
//   of its pod; aggregation switch `slot` of every pod cabled to every core of group `slot`).
// Node vertices come first and network switches after them (`first_switch`). Any change to the graph after
// building drops it (a hand-changed fabric is routed by search).
struct FabricGeometry {
    struct Place {
        int component = 0;  // which switches are joined by switches alone
        int tier = 0;       // 0 leaf, 1 spine (aggregation switch in three tiers), 2 core
        int pod = 0;        // three tiers: the pod of a leaf or aggregation switch
        int slot = 0;       // three tiers: an aggregation switch's index in its pod; a core's group
    };
    bool three_tier = false;
    // Set by the two-tier builders (fat-tree within two tiers, rail-optimized, multi-plane), which make every node
    // alike (its vertices in one block, in the same order, with their links in the same order and of the same
    // figures), cable each NIC to its leaf with one LinkSpec, and cable every leaf of a switch component to every
    // spine of it in spine order, each uplink and its reverse at a port's rate (NIC bandwidth / oversubscription): what
    // NodeTranslation::prove then takes from the builder instead of checking link by link.
    bool uniform_two_tier = false;
    std::vector<VertexId> nic_leaf;  // by global GPU index: the leaf its NIC is cabled to (empty: no NICs)
    VertexId first_switch = 0;
    std::vector<Place> switches;  // by vertex − first_switch
};

class Topology {
public:
    Topology() = default;

    // Building blocks (builders below use these; tests may build small hand-made graphs).
    VertexId add_vertex(VertexInfo info);
    // Room for `links` directed links, so that a builder's graph of 10^6 links is not copied as it grows.
    void reserve_links(std::size_t links) { links_.reserve(links); }
    // Room for `vertices` vertices (the same, for the 10^5 vertices of a large cluster).
    void reserve_vertices(std::size_t vertices) { vertices_.reserve(vertices); }
    // One cable: two directed edges. Returns the id of the a→b direction; b→a is that id + 1.
    // Throws Error on a non-positive bandwidth, an efficiency outside (0, 1] or a negative latency.
    LinkId add_cable(VertexId a, VertexId b, const LinkSpec& spec);
    // One direction only.
    LinkId add_link(VertexId from, VertexId to, const LinkSpec& spec);

    [[nodiscard]] std::size_t vertex_count() const { return vertices_.size(); }
    [[nodiscard]] const VertexInfo& vertex(VertexId v) const { return vertices_[v]; }
    // Link l whole; throws std::out_of_range past the last link.
    [[nodiscard]] LinkInfo link(LinkId l) const;
    [[nodiscard]] LinkList links() const { return LinkList(*this); }
    [[nodiscard]] std::size_t link_count() const { return links_.size(); }
    // The stored form: each link's ends and figures' index, and the distinct figures in order of first use.
    [[nodiscard]] const std::vector<LinkRecord>& link_records() const { return links_; }
    [[nodiscard]] const std::vector<LinkSpec>& link_specs() const { return link_specs_; }
    // GPU vertices by global GPU index.
    [[nodiscard]] const std::vector<VertexId>& gpus() const { return gpus_; }
    [[nodiscard]] VertexId gpu(int index) const { return gpus_.at(static_cast<std::size_t>(index)); }
    [[nodiscard]] int gpus_per_node() const { return gpus_per_node_; }
    void set_gpus_per_node(int n) { gpus_per_node_ = n; }
    // The number a GPU's NIC has in its own fabric, leaf by leaf (the ECMP key of Router::choose): the NICs of a
    // plane (multi-plane) or of the whole switched fabric (fat-tree, rail-optimized) numbered leaf after leaf in
    // building order, `switch_radix / 2` numbers per leaf, so the n-th NIC cabled to leaf l gets l × radix/2 + n.
    // A subnet manager's fat-tree routing numbers its compute nodes so, and spreading routes by that number makes
    // a shift pattern (every NIC of one leaf to the matching NIC of another) congestion-free (OpenSM's
    // doc/current-routing.txt: "optimizes routing of fat-trees for congestion-free \"shift\" communication
    // pattern"). On a fat-tree it equals the GPU index; on a multi-plane fabric it is the index within the plane
    // (GPU index / planes), where the GPU index would step by the plane count and send a leaf's destinations to
    // 1/planes of the spines. Builders set it; without it (a hand-made graph, a single node) the GPU index.
    [[nodiscard]] int destination_key(int gpu_index) const {
        const auto i = static_cast<std::size_t>(gpu_index);
        return i < destination_keys_.size() ? destination_keys_[i] : gpu_index;
    }
    void set_destination_keys(std::vector<int> keys) { destination_keys_ = std::move(keys); }

    // "gpu12", "nic12", "nvswitch1", "leaf3", "spine0", "core7" (with "plane2/" or "rail2/" where it applies).
    [[nodiscard]] std::string describe(VertexId v) const;
    // "NIC (nic→leaf) 45 GB/s": kind, endpoint kinds, effective bandwidth.
    [[nodiscard]] std::string describe_link(LinkId l) const;

    // Compressed out-adjacency (built lazily, invalidated by additions), used by routing for speed.
    struct Adjacency {
        std::vector<std::uint32_t> offsets;  // vertex v's out-links are links[offsets[v] .. offsets[v+1])
        std::vector<std::uint32_t> links;    // link ids, in insertion order (deterministic)
        std::vector<std::uint32_t> to;       // each one's far end (links[i]'s `to`), read in order by routing
    };
    [[nodiscard]] const Adjacency& adjacency() const;

    // Set by builders: which fabric produced the graph ("single-node", "fat-tree", …).
    std::string fabric;
    // The builder's structure (see FabricGeometry); null for a hand-made graph or once the graph was changed.
    [[nodiscard]] const FabricGeometry* geometry() const { return geometry_valid_ ? &geometry_ : nullptr; }
    void set_geometry(FabricGeometry geometry) {
        geometry_ = std::move(geometry);
        geometry_valid_ = true;
    }

private:
    // The index of `spec` in link_specs_, added (and checked: Error as add_link's) when new.
    std::uint32_t figures_index(const LinkSpec& spec);
    LinkId push_link(VertexId from, VertexId to, std::uint32_t figures);

    std::vector<VertexInfo> vertices_;
    std::vector<LinkRecord> links_;
    std::vector<LinkSpec> link_specs_;  // distinct figures, in order of first use (checked once each)
    std::vector<VertexId> gpus_;
    int gpus_per_node_ = 0;
    std::vector<int> destination_keys_;  // by GPU index (destination_key)
    mutable Adjacency adjacency_;
    mutable bool adjacency_valid_ = false;
    FabricGeometry geometry_;
    bool geometry_valid_ = false;
};

namespace detail {
inline LinkInfo read_link(const Topology& t, LinkId l) {  // unchecked: l < t.link_count()
    const LinkRecord& r = t.link_records()[l];
    const LinkSpec& s = t.link_specs()[r.spec];
    return LinkInfo{r.from, r.to, s.kind, s.bandwidth, s.efficiency, s.latency};
}
}  // namespace detail

inline LinkInfo Topology::link(LinkId l) const {
    if (l >= links_.size()) throw std::out_of_range("Topology::link: no such link");
    return detail::read_link(*this, l);
}

inline LinkInfo LinkList::iterator::operator*() const { return detail::read_link(*t_, l_); }
inline LinkInfo LinkList::operator[](LinkId l) const { return detail::read_link(*t_, l); }
inline std::size_t LinkList::size() const { return t_->link_count(); }
inline bool operator==(const LinkList& a, const LinkList& b) {
    if (a.size() != b.size()) return false;
    for (LinkId l = 0; l < a.size(); ++l) {
        if (!(a[l] == b[l])) return false;
    }
    return true;
}

// Builds the graph `spec.fabric` names. Throws gpuhours::Error naming the field to change on invalid input
// (non-positive counts, gpus not divisible by gpus_per_node, missing or negative bandwidth, a cluster too big
// for the fat-tree's tiers and radix, …).
Topology build_topology(const ClusterSpec& spec);
// The size rule of the fabric alone (what build_topology checks first, without building): a two-tier fabric has
// at most switch_radix leaves of switch_radix / 2 NICs (per plane or rail set), a three-tier fat-tree at most
// switch_radix pods. Throws gpuhours::Error (no position) when the cluster does not fit; the scenario layer
// locates it.
void check_fabric_size(const ClusterSpec& spec);
Topology build_single_node(const ClusterSpec& spec);
Topology build_fat_tree(const ClusterSpec& spec);
Topology build_rail_optimized(const ClusterSpec& spec);
Topology build_multi_plane(const ClusterSpec& spec);

// Maximum flow, in nominal bandwidth per direction, from the first half of the GPUs (by index) to the second
// half (push-relabel on the graph with a super-source and super-sink). For a full-bisection fat-tree this is
// gpus/2 × NIC bandwidth; 2:1 oversubscription halves it. Throws Error when there are fewer than 2 GPUs.
BytesPerSecond bisection_bandwidth(const Topology& topology);

}  // namespace gpuhours
