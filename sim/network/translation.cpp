// NodeTranslation (include/gpuhours/network/automorphism.hpp): a translation by whole nodes proven from the
// builder's geometry, with the rotation of the spines that carries the leaves' destination-based spreading.
#include <gpuhours/network/automorphism.hpp>
#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace gpuhours {

namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

bool same_figures(const LinkInfo& a, const LinkInfo& b) {
    return a.kind == b.kind && a.bandwidth.value() == b.bandwidth.value() && a.efficiency == b.efficiency &&
           a.latency.value() == b.latency.value();
}

// The vertex map being built: image and preimage, each vertex given one image and each image one preimage.
class Bijection {
public:
    explicit Bijection(std::size_t n) : image_(n, kNone), preimage_(n, kNone) {}
    bool map(VertexId v, VertexId w) {
        if (image_[v] == kNone) {
            if (preimage_[w] != kNone) return false;
            image_[v] = static_cast<std::uint32_t>(w);
            preimage_[w] = static_cast<std::uint32_t>(v);
            return true;
        }
        return image_[v] == w;
    }
    [[nodiscard]] std::uint32_t operator[](VertexId v) const { return image_[v]; }

private:
    std::vector<std::uint32_t> image_, preimage_;
};

// Every node has its NICs all on one leaf, or no two of them in one component of the switches (the header's
// argument: a node's switch then never chooses among relay GPUs).
bool nics_placed_alike(const Topology& topology, const FabricGeometry& geometry) {
    const std::size_t per_node = static_cast<std::size_t>(topology.gpus_per_node());
    std::vector<int> components;
    for (std::size_t first = 0; first < geometry.nic_leaf.size(); first += per_node) {
        const VertexId leaf = geometry.nic_leaf[first];
        bool one_leaf = true;
        components.clear();
        for (std::size_t g = first; g < first + per_node; ++g) {
            one_leaf = one_leaf && geometry.nic_leaf[g] == leaf;
            components.push_back(geometry.switches[geometry.nic_leaf[g] - geometry.first_switch].component);
        }
        if (one_leaf) continue;
        std::sort(components.begin(), components.end());
        if (std::adjacent_find(components.begin(), components.end()) != components.end()) return false;
    }
    return true;
}

// What both proofs require before any map (the header's refusals): a builder's two-tier geometry with NICs, whole
// nodes, a shift in (0, nodes), and NICs placed alike. The GPU count, node count and the shift in GPUs.
struct Frame {
    std::size_t gpus = 0;
    std::size_t nodes = 0;
    std::size_t shift = 0;
};

std::optional<Frame> frame_of(const Topology& topology, int node_shift) {
    const FabricGeometry* geometry = topology.geometry();
    if (geometry == nullptr || geometry->three_tier || geometry->nic_leaf.empty()) return std::nullopt;
    const std::size_t gpus = topology.gpus().size();
    const int per_node = topology.gpus_per_node();
    if (per_node <= 0 || gpus == 0 || gpus % static_cast<std::size_t>(per_node) != 0 || geometry->nic_leaf.size() != gpus) {
        return std::nullopt;
    }
    const std::size_t nodes = gpus / static_cast<std::size_t>(per_node);
    if (node_shift <= 0 || static_cast<std::size_t>(node_shift) >= nodes) return std::nullopt;
    if (topology.vertex_count() >= kNone || !nics_placed_alike(topology, *geometry)) return std::nullopt;
    return Frame{gpus, nodes, static_cast<std::size_t>(node_shift) * static_cast<std::size_t>(per_node)};
}

// A leaf's uplinks (links to switches), in adjacency order.
void uplinks_of(const Topology::Adjacency& adj, VertexId first_switch, VertexId leaf, std::vector<std::uint32_t>& out) {
    out.clear();
    for (std::uint32_t i = adj.offsets[leaf]; i < adj.offsets[leaf + 1]; ++i) {
        if (adj.to[i] >= first_switch) out.push_back(adj.links[i]);
    }
}

// The leaves (by vertex) and the one uplink count S of all of them; nullopt when the counts differ.
std::optional<std::size_t> uplink_count(const Topology& topology, const FabricGeometry& geometry, std::vector<VertexId>& leaves) {
    const Topology::Adjacency& adj = topology.adjacency();
    leaves.clear();
    for (VertexId v = geometry.first_switch; v < topology.vertex_count(); ++v) {
        if (topology.vertex(v).kind == VertexKind::leaf_switch) leaves.push_back(v);
    }
    std::vector<std::uint32_t> up;
    std::size_t s = 0;
    for (std::size_t k = 0; k < leaves.size(); ++k) {
        uplinks_of(adj, geometry.first_switch, leaves[k], up);
        if (k == 0) s = up.size();
        if (up.size() != s) return std::nullopt;
    }
    return s;
}

// The step δ (mod S) that every GPU's destination key moves by under the shift; nullopt when it is not one step.
std::optional<std::size_t> key_step(const Topology& topology, const Frame& f, std::size_t s) {
    if (s <= 1) return std::size_t{0};
    const auto key = [&](std::size_t g) { return static_cast<std::size_t>(topology.destination_key(static_cast<int>(g))) % s; };
    const std::size_t delta = (key(f.shift % f.gpus) + s - key(0)) % s;
    for (std::size_t g = 0; g < f.gpus; ++g) {
        if ((key(g) + delta) % s != key((g + f.shift) % f.gpus)) return std::nullopt;
    }
    return delta;
}

// Each leaf's uplinks onto its image's, rotated by ρ = δ + π(ℓ) − ℓ (mod S), of the same figures: the spines'
// images. False when a spine would get two images, or (with `every_leaf_mapped`) a leaf has none; otherwise a leaf
// without an image (no NICs) is left for the caller to find unmapped.
bool map_spines(const Topology& topology, const FabricGeometry& geometry, const std::vector<VertexId>& leaves,
                std::size_t s, std::size_t delta, Bijection& pi, bool every_leaf_mapped) {
    const Topology::Adjacency& adj = topology.adjacency();
    std::vector<std::uint32_t> up, up_image;
    for (const VertexId leaf : leaves) {
        const std::uint32_t image = pi[leaf];
        if (image == kNone) {
            if (every_leaf_mapped) return false;
            continue;
        }
        if (s == 0) continue;
        uplinks_of(adj, geometry.first_switch, leaf, up);
        uplinks_of(adj, geometry.first_switch, image, up_image);
        const std::size_t rho = (delta + image % s + s - leaf % s) % s;
        for (std::size_t i = 0; i < s; ++i) {
            const LinkInfo& a = topology.link(up[i]);
            const LinkInfo& b = topology.link(up_image[(i + rho) % s]);
            if (!same_figures(a, b) || !pi.map(a.to, b.to)) return false;
        }
    }
    return true;
}

// Steps 2 and 3 of the argument, as both proofs take them: the leaves' one uplink count S, the destination keys'
// step δ, and the spines' images (map_spines). False when any of them refuses.
bool map_spines_from_leaves(const Topology& topology, const FabricGeometry& geometry, const Frame& f, Bijection& pi,
                            bool every_leaf_mapped) {
    std::vector<VertexId> leaves;
    const std::optional<std::size_t> s = uplink_count(topology, geometry, leaves);
    if (!s) return false;
    const std::optional<std::size_t> delta = key_step(topology, f, *s);
    return delta && map_spines(topology, geometry, leaves, *s, *delta, pi, every_leaf_mapped);
}

}  // namespace

std::optional<NodeTranslation> NodeTranslation::prove(const Topology& topology, int node_shift) {
    const FabricGeometry* geometry = topology.geometry();
    if (geometry == nullptr || !geometry->uniform_two_tier) return prove_link_by_link(topology, node_shift);
    const std::optional<Frame> f = frame_of(topology, node_shift);
    if (!f) return std::nullopt;
    const std::size_t n = topology.vertex_count();
    const VertexId first_switch = geometry->first_switch;
    // The builder's nodes are blocks of vertices of one size, in node order (build_nodes): π moves them by whole
    // blocks. Checked on every node vertex's kind and on the GPUs (each onto the GPU `shift` further).
    if (first_switch == 0 || first_switch % f->nodes != 0) return std::nullopt;
    const std::size_t vertex_shift = static_cast<std::size_t>(node_shift) * (first_switch / f->nodes);
    for (VertexId v = 0; v < first_switch; ++v) {
        if (topology.vertex(v).kind != topology.vertex((v + vertex_shift) % first_switch).kind) return std::nullopt;
    }
    Bijection pi(n);  // the switches' images; node vertices are not entered
    for (std::size_t g = 0; g < f->gpus; ++g) {
        const std::size_t h = (g + f->shift) % f->gpus;
        if ((topology.gpus()[g] + vertex_shift) % first_switch != topology.gpus()[h]) return std::nullopt;
        if (!pi.map(geometry->nic_leaf[g], geometry->nic_leaf[h])) return std::nullopt;
    }
    if (!map_spines_from_leaves(topology, *geometry, *f, pi, true)) return std::nullopt;
    // Every switch onto one of its kind and group with as many links: injective on the switches, so onto them.
    const Topology::Adjacency& adj = topology.adjacency();
    const auto degree = [&](VertexId v) { return adj.offsets[v + 1] - adj.offsets[v]; };
    NodeTranslation t;
    t.switch_image_.resize(n - first_switch);
    for (VertexId v = first_switch; v < n; ++v) {
        const std::uint32_t w = pi[v];
        if (w == kNone || w < first_switch) return std::nullopt;
        const VertexInfo& a = topology.vertex(v);
        const VertexInfo& b = topology.vertex(w);
        if (a.kind != b.kind || a.group != b.group || degree(v) != degree(w)) return std::nullopt;
        t.switch_image_[v - first_switch] = w;
    }
    t.topology_ = &topology;
    t.shift_ = f->shift;
    t.gpus_ = f->gpus;
    t.links_ = topology.links().size();
    t.node_vertices_ = first_switch;
    t.vertex_shift_ = vertex_shift;
    return t;
}

LinkId NodeTranslation::link_image(const Topology& topology, LinkId l) const {
    if (!link_image_.empty()) return link_image_[l];
    const LinkInfo& link = topology.link(l);
    const Topology::Adjacency& adj = topology.adjacency();
    const VertexId from = vertex_image(link.from);
    if (link.from < node_vertices_) {
        // A node's vertex: the link at the same place among its image's out-links (a vertex's out-links are in
        // link-id order: bisection).
        const auto first = adj.links.begin() + adj.offsets[link.from], last = adj.links.begin() + adj.offsets[link.from + 1];
        const auto it = std::lower_bound(first, last, static_cast<std::uint32_t>(l));
        if (it != last && *it == l) return adj.links[adj.offsets[from] + static_cast<std::size_t>(it - first)];
    }
    // A switch's: its image's one link to the far end's image. The builders cable a switch's neighbours in vertex
    // order (a leaf's NICs, then its spines; a spine's leaves), so its far ends are found by bisection; by a scan
    // where they are not in order.
    const auto to = static_cast<std::uint32_t>(vertex_image(link.to));
    const auto first = adj.to.begin() + adj.offsets[from], last = adj.to.begin() + adj.offsets[from + 1];
    if (const auto it = std::lower_bound(first, last, to); it != last && *it == to) return adj.links[static_cast<std::size_t>(it - adj.to.begin())];
    for (auto it = first; it != last; ++it) {
        if (*it == to) return adj.links[static_cast<std::size_t>(it - adj.to.begin())];
    }
    throw Error(fmt::format("internal: link {} has no image under a proven node translation", l));
}

std::optional<NodeTranslation> NodeTranslation::prove_link_by_link(const Topology& topology, int node_shift) {
    const std::optional<Frame> f = frame_of(topology, node_shift);
    if (!f) return std::nullopt;
    const FabricGeometry* geometry = topology.geometry();
    const std::size_t gpus = f->gpus;
    const std::size_t shift = f->shift;
    const Topology::Adjacency& adj = topology.adjacency();
    const auto& links = topology.links();
    const std::size_t n = topology.vertex_count();
    const auto degree = [&](VertexId v) { return adj.offsets[v + 1] - adj.offsets[v]; };
    // Node vertices come first and network switches after them (FabricGeometry).
    const VertexId first_switch = geometry->first_switch;
    const auto is_switch = [first_switch](VertexId v) { return v >= first_switch; };
    Bijection pi(n);

    // 1. Each GPU onto the GPU `shift` further, its neighbours (its node's switch and NIC) in adjacency order onto the
    //    image's, and its NIC's leaf onto the image NIC's leaf.
    for (std::size_t g = 0; g < gpus; ++g) {
        const std::size_t h = (g + shift) % gpus;
        const VertexId v = topology.gpus()[g];
        const VertexId w = topology.gpus()[h];
        if (!pi.map(v, w) || degree(v) != degree(w)) return std::nullopt;
        int other = 0;  // links that are not NVLink: one at most, so that a choice at a GPU is PXN's or none
        for (std::uint32_t i = 0; i < degree(v); ++i) {
            const VertexId a = adj.to[adj.offsets[v] + i];
            other += links[adj.links[adj.offsets[v] + i]].kind == LinkKind::scale_up ? 0 : 1;
            if (other > 1 || is_switch(a) || !pi.map(a, adj.to[adj.offsets[w] + i])) return std::nullopt;
        }
        if (!pi.map(geometry->nic_leaf[g], geometry->nic_leaf[h])) return std::nullopt;
    }

    // 2. The leaves' uplinks (links to switches), in adjacency order: one count S for every leaf, and the key step δ.
    // 3. Each leaf's uplinks onto its image's, rotated by ρ = δ + π(ℓ) − ℓ (mod S): the spines' images.
    if (!map_spines_from_leaves(topology, *geometry, *f, pi, false)) return std::nullopt;

    // 4. A bijection of every vertex (one image each, injective: onto), keeping kinds and groups, whose every link is
    //    a link of the same figures: a node's vertices' links in the same order, a switch's as a set.
    std::vector<std::uint32_t> link_to(n, kNone);  // per far end, the link from the image switch to it
    std::vector<std::uint32_t> link_image(links.size(), kNone);  // each link is one vertex's out-link: all set below
    for (VertexId v = 0; v < n; ++v) {
        const std::uint32_t w = pi[v];
        if (w == kNone) return std::nullopt;
        const VertexInfo& a = topology.vertex(v);
        const VertexInfo& b = topology.vertex(w);
        if (a.kind != b.kind || a.group != b.group || degree(v) != degree(w)) return std::nullopt;
        if (!is_switch(v)) {
            for (std::uint32_t i = 0; i < degree(v); ++i) {
                const std::uint32_t l = adj.offsets[v] + i, m = adj.offsets[w] + i;
                if (adj.to[m] != pi[adj.to[l]] || !same_figures(links[adj.links[l]], links[adj.links[m]])) return std::nullopt;
                link_image[adj.links[l]] = static_cast<std::uint32_t>(adj.links[m]);
            }
            continue;
        }
        bool ok = true;
        for (std::uint32_t m = adj.offsets[w]; m < adj.offsets[w + 1]; ++m) {
            ok = ok && link_to[adj.to[m]] == kNone;  // two links from one switch to one vertex: refused
            link_to[adj.to[m]] = adj.links[m];
        }
        for (std::uint32_t l = adj.offsets[v]; l < adj.offsets[v + 1] && ok; ++l) {
            const std::uint32_t m = link_to[pi[adj.to[l]]];
            ok = m != kNone && same_figures(links[adj.links[l]], links[m]);
            if (ok) link_image[adj.links[l]] = m;
        }
        for (std::uint32_t m = adj.offsets[w]; m < adj.offsets[w + 1]; ++m) link_to[adj.to[m]] = kNone;
        if (!ok) return std::nullopt;
    }
    if (std::find(link_image.begin(), link_image.end(), kNone) != link_image.end()) return std::nullopt;  // not a link's out-link
    NodeTranslation t;
    t.topology_ = &topology;
    t.shift_ = shift;
    t.gpus_ = gpus;
    t.links_ = link_image.size();
    t.link_image_ = std::move(link_image);
    return t;
}

int NodeTranslation::nodes_per_leaf(const Topology& topology) {
    const FabricGeometry* geometry = topology.geometry();
    const int per_node = topology.gpus_per_node();
    if (geometry == nullptr || geometry->nic_leaf.empty() || per_node <= 0 ||
        geometry->nic_leaf.size() < static_cast<std::size_t>(per_node)) {
        return 0;
    }
    const VertexId leaf = geometry->nic_leaf.front();
    const auto on_leaf = std::count(geometry->nic_leaf.begin(), geometry->nic_leaf.end(), leaf);
    const auto of_first_node = std::count(geometry->nic_leaf.begin(), geometry->nic_leaf.begin() + per_node, leaf);
    return on_leaf % of_first_node == 0 ? static_cast<int>(on_leaf / of_first_node) : 0;
}

bool NodeTranslation::maps(const Topology& topology, std::span<const VertexId> from, std::span<const VertexId> to) const {
    if (from.size() != to.size() || gpus_ == 0) return false;
    if (from.empty()) return true;
    const auto index = [&](VertexId v) -> std::size_t {
        const VertexInfo& info = topology.vertex(v);
        return info.kind == VertexKind::gpu && info.index >= 0 ? static_cast<std::size_t>(info.index) : gpus_;
    };
    const std::size_t first = index(from[0]), first_image = index(to[0]);
    if (first >= gpus_ || first_image >= gpus_) return false;
    const std::size_t d = (first_image + gpus_ - first) % gpus_;
    if (d % shift_ != 0) return false;
    for (std::size_t i = 0; i < from.size(); ++i) {
        const std::size_t g = index(from[i]);
        if (g >= gpus_ || index(to[i]) != (g + d) % gpus_) return false;
    }
    return true;
}

}  // namespace gpuhours
