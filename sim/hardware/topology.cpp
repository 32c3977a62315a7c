#include <gpuhours/units/error.hpp>
#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/hardware/topology_graph.hpp>

#include <boost/graph/push_relabel_max_flow.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>

namespace gpuhours {

std::string_view to_string(VertexKind k) {
    switch (k) {
        case VertexKind::gpu: return "gpu";
        case VertexKind::nvswitch: return "nvswitch";
        case VertexKind::nic: return "nic";
        case VertexKind::leaf_switch: return "leaf";
        case VertexKind::spine_switch: return "spine";
        case VertexKind::core_switch: return "core";
    }
    return "?";
}

bool is_network_switch(VertexKind k) {
    return k == VertexKind::leaf_switch || k == VertexKind::spine_switch || k == VertexKind::core_switch;
}

std::string_view to_string(LinkKind k) {
    switch (k) {
        case LinkKind::scale_up: return "NVLink";
        case LinkKind::host: return "PCIe";
        case LinkKind::nic: return "NIC";
        case LinkKind::fabric: return "fabric";
    }
    return "?";
}

VertexId Topology::add_vertex(VertexInfo info) {
    adjacency_valid_ = false;
    geometry_valid_ = false;
    const VertexId v = vertices_.size();
    if (v >= std::numeric_limits<std::uint32_t>::max()) {  // LinkRecord keeps a link's ends in 32 bits
        throw Error("a topology holds at most 4,294,967,295 vertices", "simulate fewer GPUs");
    }
    vertices_.push_back(info);
    if (info.kind == VertexKind::gpu) {
        if (info.index < 0) vertices_[v].index = static_cast<int>(gpus_.size());
        gpus_.push_back(v);
    }
    return v;
}

std::uint32_t Topology::figures_index(const LinkSpec& spec) {
    // Most links repeat the figures of the link before them, and a fabric has a handful of distinct ones, each
    // checked when first seen.
    if (!links_.empty() && link_specs_[links_.back().spec] == spec) return links_.back().spec;
    const auto found = std::find(link_specs_.begin(), link_specs_.end(), spec);
    if (found != link_specs_.end()) return static_cast<std::uint32_t>(found - link_specs_.begin());
    if (!(spec.bandwidth.value() > 0.0) || !std::isfinite(spec.bandwidth.value())) {
        throw Error(fmt::format("a {} link needs a positive bandwidth, got {} B/s", to_string(spec.kind),
                                spec.bandwidth.value()),
                    "set the chip's scale_up_bandwidth / the cluster's nic_bandwidth to a positive figure");
    }
    if (!(spec.efficiency > 0.0 && spec.efficiency <= 1.0)) {
        throw Error(fmt::format("a {} link needs an achievable efficiency in (0, 1], got {}", to_string(spec.kind),
                                spec.efficiency),
                    "set the chip's efficiency.scale_up_link / efficiency.nic_link in its catalog entry");
    }
    if (spec.latency.value() < 0.0) {
        throw Error(fmt::format("a {} link cannot have a negative latency", to_string(spec.kind)),
                    "set scale_up_latency / nic_latency to zero or more");
    }
    link_specs_.push_back(spec);
    return static_cast<std::uint32_t>(link_specs_.size() - 1);
}

LinkId Topology::push_link(VertexId from, VertexId to, std::uint32_t figures) {
    assert(from < vertex_count() && to < vertex_count());
    adjacency_valid_ = false;
    geometry_valid_ = false;
    const LinkId id = links_.size();
    links_.push_back(LinkRecord{static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to), figures});
    return id;
}

LinkId Topology::add_link(VertexId from, VertexId to, const LinkSpec& spec) {
    return push_link(from, to, figures_index(spec));
}

TopologyGraph boost_graph(const Topology& topology) {
    TopologyGraph g;
    for (VertexId v = 0; v < topology.vertex_count(); ++v) {
        // add_vertex without a property, then assign: the property overload trips a false -Wuninitialized inside
        // Boost's named_graph under the sanitizer build.
        boost::add_vertex(g);
        g[v] = topology.vertex(v);
    }
    const auto& links = topology.link_records();
    for (LinkId l = 0; l < links.size(); ++l) boost::add_edge(links[l].from, links[l].to, l, g);
    return g;
}

LinkId Topology::add_cable(VertexId a, VertexId b, const LinkSpec& spec) {
    const std::uint32_t figures = figures_index(spec);
    const LinkId forward = push_link(a, b, figures);
    push_link(b, a, figures);
    return forward;
}

std::string Topology::describe(VertexId v) const {
    const VertexInfo& info = vertices_[v];
    std::string prefix;
    if (info.group >= 0 && info.kind != VertexKind::gpu) {
        if (fabric == "multi-plane") prefix = fmt::format("plane{}/", info.group);
        else if (fabric == "rail-optimized" && info.kind != VertexKind::spine_switch) prefix = fmt::format("rail{}/", info.group);
        else if (info.kind == VertexKind::leaf_switch || info.kind == VertexKind::spine_switch) prefix = fmt::format("pod{}/", info.group);
    }
    const int index = info.kind == VertexKind::nvswitch ? info.node : info.index;
    return fmt::format("{}{}{}", prefix, to_string(info.kind), index);
}

std::string Topology::describe_link(LinkId l) const {
    const LinkInfo link = this->link(l);
    return fmt::format("{} ({}→{}) {}", to_string(link.kind), to_string(vertices_[link.from].kind),
                       to_string(vertices_[link.to].kind), format_bandwidth(link.effective_bandwidth()));
}

const Topology::Adjacency& Topology::adjacency() const {
    if (adjacency_valid_) return adjacency_;
    const std::size_t n = vertex_count();
    adjacency_.offsets.assign(n + 1, 0);
    for (const LinkRecord& link : links_) ++adjacency_.offsets[link.from + 1];
    for (std::size_t v = 0; v < n; ++v) adjacency_.offsets[v + 1] += adjacency_.offsets[v];
    adjacency_.links.assign(links_.size(), 0);
    std::vector<std::uint32_t> cursor(adjacency_.offsets.begin(), adjacency_.offsets.end() - 1);
    for (std::size_t l = 0; l < links_.size(); ++l) adjacency_.links[cursor[links_[l].from]++] = static_cast<std::uint32_t>(l);
    adjacency_.to.resize(links_.size());
    for (std::size_t i = 0; i < links_.size(); ++i) adjacency_.to[i] = static_cast<std::uint32_t>(links_[adjacency_.links[i]].to);
    adjacency_valid_ = true;
    return adjacency_;
}

// ---- builders ---------------------------------------------------------------------------------------------

namespace {

void require(bool ok, const std::string& message, const std::string& hint) {
    if (!ok) throw Error(message, hint);
}

// Leaves (of switch_radix / 2 NICs) the fabric's two-tier sets need in all, to compare with the radix (each spine
// has that many ports); for a three-tier fat-tree, the pods; 0 for one node.
long long leaves_needed(const ClusterSpec& spec) {
    const long long half = spec.switch_radix / 2;
    auto leaves = [&](long long nics) { return (nics + half - 1) / half; };
    switch (spec.fabric) {
        case Fabric::fat_tree: return spec.tiers == 3 ? (leaves(spec.gpus) + half - 1) / half : leaves(spec.gpus);
        case Fabric::rail_optimized: return spec.gpus_per_node * leaves(spec.nodes());
        case Fabric::multi_plane: return spec.planes > 0 ? leaves(spec.gpus / spec.planes) : 0;
        case Fabric::single_node: return 0;
    }
    return 0;
}

std::string too_big_hint(const ClusterSpec& spec) {
    const long long k = spec.switch_radix;
    // The smallest radix (doubling) that connects these GPUs with the fabric's tiers.
    auto smallest_radix = [](ClusterSpec c) {
        while (leaves_needed(c) > c.switch_radix && c.switch_radix < (1 << 20)) c.switch_radix *= 2;
        return c.switch_radix;
    };
    const int larger = smallest_radix(spec);
    if (spec.fabric == Fabric::fat_tree && spec.tiers == 2) {
        // Three tiers only where they hold the GPUs at this radix; else with the radix three tiers need.
        ClusterSpec three = spec;
        three.tiers = 3;
        const int three_radix = smallest_radix(three);
        const std::string tiers = three_radix == k ? std::string("set cluster.tiers = 3")
                                                   : fmt::format("set cluster.tiers = 3 with cluster.switch_radix = {}", three_radix);
        return fmt::format("with switch_radix = {} a two-tier fat-tree holds {} GPUs and a three-tier one {}; "
                           "{}, or cluster.switch_radix = {}",
                           k, k * k / 2, k * k * k / 4, tiers, larger);
    }
    return fmt::format("{} fabrics are {} here: set cluster.switch_radix = {} (or use fewer GPUs)", to_string(spec.fabric),
                       spec.fabric == Fabric::fat_tree ? "three-tier at most" : "two-tier", larger);
}

// Leaves (of switch_radix / 2 NICs) each two-tier set of the fabric needs, and for a three-tier fat-tree its pods.
void check_size(const ClusterSpec& spec) {
    if (spec.fabric == Fabric::single_node || spec.switch_radix < 4 || spec.gpus_per_node <= 0) return;
    const long long k = spec.switch_radix;
    const long long needed = leaves_needed(spec);
    if (spec.fabric == Fabric::fat_tree && spec.tiers == 3) {
        if (needed > k) {
            throw Error(fmt::format("a three-tier fat-tree with switch_radix = {} holds at most {} GPUs, got {}", k,
                                    k * k * k / 4, spec.gpus),
                        too_big_hint(spec));
        }
        return;
    }
    if (needed > k) {
        throw Error(fmt::format("a two-tier {} with switch_radix = {} has at most {} leaves, this cluster needs {}",
                                to_string(spec.fabric), k, k, needed),
                    too_big_hint(spec));
    }
}

void validate(const ClusterSpec& spec) {
    require(spec.gpus > 0, fmt::format("cluster.gpus must be positive, got {}", spec.gpus), "set cluster.gpus to 1 or more");
    require(spec.gpus_per_node > 0, fmt::format("cluster.gpus_per_node must be positive, got {}", spec.gpus_per_node),
            "set cluster.gpus_per_node (8 for HGX/DGX nodes)");
    require(spec.gpus % spec.gpus_per_node == 0,
            fmt::format("cluster.gpus = {} is not a multiple of gpus_per_node = {}", spec.gpus, spec.gpus_per_node),
            spec.gpus < spec.gpus_per_node  // no whole node below: the one multiple above, or smaller nodes
                ? fmt::format("use {} GPUs (one node), or change gpus_per_node to a divisor of {}", spec.gpus_per_node, spec.gpus)
                : fmt::format("use {} or {} GPUs, or change gpus_per_node", spec.gpus / spec.gpus_per_node * spec.gpus_per_node,
                              (spec.gpus / spec.gpus_per_node + 1) * spec.gpus_per_node));
    if (spec.gpus_per_node > 1) {
        require(spec.chip.scale_up_bandwidth.value() > 0.0,
                fmt::format("chip \"{}\" has no positive scale_up_bandwidth, needed for {} GPUs per node", spec.chip.id,
                            spec.gpus_per_node),
                "set [interconnect] scale_up_bandwidth in the chip's catalog entry, or use gpus_per_node = 1");
        require(spec.chip.scale_up_latency.value() >= 0.0, "chip scale_up_latency is negative", "set it to zero or more");
    }
    if (spec.nodes() > 1 || spec.fabric != Fabric::single_node) {
        require(spec.nic_bandwidth.value() > 0.0,
                fmt::format("cluster.nic_bandwidth must be positive for a {} fabric, got {} B/s", to_string(spec.fabric),
                            spec.nic_bandwidth.value()),
                "set cluster.nic_bandwidth (e.g. \"50 GB/s\" for one 400 Gb/s NIC per GPU)");
        require(spec.nic_latency.value() >= 0.0, "cluster.nic_latency is negative", "set it to zero or more");
        require(spec.oversubscription >= 1.0,
                fmt::format("cluster.oversubscription must be 1 or more (2 means 2:1), got {}", spec.oversubscription),
                "use 1 for a full-bisection fabric");
        require(spec.switch_radix >= 4 && spec.switch_radix % 2 == 0,
                fmt::format("cluster.switch_radix must be an even number ≥ 4, got {}", spec.switch_radix),
                "64-port switches are typical (Quantum-2 NDR)");
        require(spec.tiers == 2 || spec.tiers == 3, fmt::format("cluster.tiers must be 2 or 3, got {}", spec.tiers),
                "use 2 for up to radix²/2 GPUs, 3 beyond");
        check_size(spec);
    }
}

LinkSpec scale_up_link(const ClusterSpec& spec) {
    return LinkSpec{LinkKind::scale_up, spec.chip.scale_up_bandwidth, spec.chip.efficiency.scale_up_link,
                    spec.chip.scale_up_latency / 2.0};
}
LinkSpec host_link(const ClusterSpec& spec) {
    return LinkSpec{LinkKind::host, spec.nic_bandwidth, spec.chip.efficiency.nic_link, Seconds(0.0)};
}
LinkSpec nic_link(const ClusterSpec& spec) {
    return LinkSpec{LinkKind::nic, spec.nic_bandwidth, spec.chip.efficiency.nic_link, spec.nic_latency / 2.0};
}
LinkSpec fabric_link(const ClusterSpec& spec, BytesPerSecond bandwidth) {
    return LinkSpec{LinkKind::fabric, bandwidth, spec.chip.efficiency.nic_link, spec.nic_latency / 6.0};
}

// GPUs (and their NVSwitch) of every node; NICs when `with_nics`. Returns NIC vertices by global GPU index.
std::vector<VertexId> build_nodes(Topology& topo, const ClusterSpec& spec, bool with_nics) {
    std::vector<VertexId> nics;
    // Per GPU: its NVSwitch cable and its NIC's two (host and leaf), two directions each, and about as many again
    // for the switches above (a two-tier non-blocking fabric has one uplink per NIC, a three-tier one two).
    topo.reserve_links(static_cast<std::size_t>(spec.gpus) * (with_nics ? 12 : 2));
    // Per node its GPUs, NVSwitch and NICs; and about a switch per 8 NICs above them (a two-tier leaf of radix 16
    // serves 8 NICs and adds as many spines between leaves).
    const auto gpus = static_cast<std::size_t>(spec.gpus);
    topo.reserve_vertices(gpus * (with_nics ? 2 : 1) + static_cast<std::size_t>(spec.nodes()) + (with_nics ? gpus / 8 : 0));
    for (int node = 0; node < spec.nodes(); ++node) {
        std::optional<VertexId> nvswitch;
        if (spec.gpus_per_node > 1) nvswitch = topo.add_vertex(VertexInfo{VertexKind::nvswitch, node, node, -1});
        for (int local = 0; local < spec.gpus_per_node; ++local) {
            const int index = node * spec.gpus_per_node + local;
            const VertexId gpu = topo.add_vertex(VertexInfo{VertexKind::gpu, node, index, -1});
            if (nvswitch) topo.add_cable(gpu, *nvswitch, scale_up_link(spec));
            if (with_nics) {
                const VertexId nic = topo.add_vertex(VertexInfo{VertexKind::nic, node, index, -1});
                topo.add_cable(gpu, nic, host_link(spec));
                nics.push_back(nic);
            }
        }
    }
    topo.set_gpus_per_node(spec.gpus_per_node);
    return nics;
}


// Leaves over `leaf_members` (NIC lists), each leaf wired to `spines` (created here, shared by all leaves),
// every uplink at a port's rate, NIC bandwidth / oversubscription (a full leaf's uplinks: its NICs' / oversubscription).
void two_tier(Topology& topo, const ClusterSpec& spec, const std::vector<std::vector<VertexId>>& leaf_members,
              const std::vector<int>& leaf_group, int spine_group) {
    const int half = spec.switch_radix / 2;
    assert(static_cast<int>(leaf_members.size()) <= spec.switch_radix);  // check_fabric_size, in validate()
    std::vector<VertexId> leaves;
    for (std::size_t i = 0; i < leaf_members.size(); ++i) {
        const VertexId leaf = topo.add_vertex(VertexInfo{VertexKind::leaf_switch, -1, static_cast<int>(i), leaf_group[i]});
        for (const VertexId nic : leaf_members[i]) topo.add_cable(nic, leaf, nic_link(spec));
        leaves.push_back(leaf);
    }
    if (leaves.size() < 2) return;
    std::vector<VertexId> spines;
    for (int s = 0; s < half; ++s) spines.push_back(topo.add_vertex(VertexInfo{VertexKind::spine_switch, -1, s, spine_group}));
    for (std::size_t i = 0; i < leaves.size(); ++i) {
        // Every uplink at a port's rate (a NIC's, over the oversubscription), whatever the leaf's fill: a partly filled
        // leaf has ports to spare, not slower ones (its links at members/half of that made one flow leaving it crawl).
        const BytesPerSecond up = spec.nic_bandwidth / spec.oversubscription;
        for (const VertexId spine : spines) topo.add_cable(leaves[i], spine, fabric_link(spec, up));
    }
}

std::vector<std::vector<VertexId>> chunk(const std::vector<VertexId>& nics, int per_leaf) {
    std::vector<std::vector<VertexId>> out;
    for (std::size_t i = 0; i < nics.size(); i += static_cast<std::size_t>(per_leaf)) {
        out.emplace_back(nics.begin() + static_cast<std::ptrdiff_t>(i),
                         nics.begin() + static_cast<std::ptrdiff_t>(std::min(nics.size(), i + static_cast<std::size_t>(per_leaf))));
    }
    return out;
}

// Topology::destination_key for every GPU with a NIC: leaves numbered in building order within their component
// (a plane of a multi-plane fabric; the whole fabric otherwise), NICs in the order they were cabled to their leaf.
void set_destination_keys(Topology& topo, const ClusterSpec& spec, bool planes) {
    const int half = spec.switch_radix / 2;
    std::vector<int> keys(topo.gpus().size(), -1);
    std::vector<int> leaf_number(topo.vertex_count(), -1);  // by leaf: its number within its component
    std::vector<int> cabled(topo.vertex_count(), 0);        // by leaf: NICs cabled to it so far
    std::map<int, int> leaves_in;                           // component → leaves numbered so far
    const std::vector<LinkSpec>& figures = topo.link_specs();
    for (const LinkRecord& link : topo.link_records()) {
        if (figures[link.spec].kind != LinkKind::nic || topo.vertex(link.from).kind != VertexKind::nic) continue;
        if (leaf_number[link.to] < 0) leaf_number[link.to] = leaves_in[planes ? topo.vertex(link.to).group : 0]++;
        keys[static_cast<std::size_t>(topo.vertex(link.from).index)] = leaf_number[link.to] * half + cabled[link.to]++;
    }
    if (std::find(keys.begin(), keys.end(), -1) == keys.end()) topo.set_destination_keys(std::move(keys));
}

// The structure the builders made (FabricGeometry), read back from the graph: each NIC's leaf, and each network
// switch's component, tier and, in three tiers, pod and slot. `planes`: a switch's group is its component (the
// planes of a multi-plane fabric); otherwise all switches form one. Node vertices were all added before the first
// switch (build_nodes); a graph where they were not is left without a geometry (routed by search).
// `uniform_two_tier`: the caller is one of the two-tier builders FabricGeometry::uniform_two_tier names.
void set_structure(Topology& topo, const ClusterSpec& spec, bool planes, bool uniform_two_tier) {
    set_destination_keys(topo, spec, planes);
    FabricGeometry g;
    g.uniform_two_tier = uniform_two_tier;
    const std::size_t n = topo.vertex_count();
    const auto is_switch = [&](VertexId v) { return is_network_switch(topo.vertex(v).kind); };
    g.first_switch = n;
    for (VertexId v = 0; v < n; ++v) {
        if (is_switch(v)) {
            g.first_switch = v;
            break;
        }
    }
    for (VertexId v = g.first_switch; v < n; ++v) {
        if (!is_switch(v)) return;
        g.three_tier = g.three_tier || topo.vertex(v).kind == VertexKind::core_switch;
    }
    const int half = spec.switch_radix / 2;
    for (VertexId v = g.first_switch; v < n; ++v) {
        const VertexInfo& info = topo.vertex(v);
        FabricGeometry::Place place;
        place.component = planes ? info.group : 0;
        place.tier = info.kind == VertexKind::leaf_switch ? 0 : info.kind == VertexKind::spine_switch ? 1 : 2;
        if (g.three_tier) {
            if (place.tier < 2) place.pod = info.group;
            if (place.tier == 1) place.slot = info.index - info.group * half;
            if (place.tier == 2) place.slot = info.index / half;
        }
        g.switches.push_back(place);
    }
    const std::vector<LinkSpec>& figures = topo.link_specs();
    for (const LinkRecord& link : topo.link_records()) {
        if (figures[link.spec].kind != LinkKind::nic || topo.vertex(link.from).kind != VertexKind::nic) continue;
        if (g.nic_leaf.empty()) g.nic_leaf.assign(topo.gpus().size(), 0);
        g.nic_leaf[static_cast<std::size_t>(topo.vertex(link.from).index)] = link.to;
    }
    topo.set_geometry(std::move(g));
}

}  // namespace

Topology build_single_node(const ClusterSpec& spec) {
    validate(spec);
    require(spec.gpus == spec.gpus_per_node,
            fmt::format("a single-node fabric has gpus = gpus_per_node, got {} and {}", spec.gpus, spec.gpus_per_node),
            "set gpus_per_node = gpus, or choose fabric = \"fat-tree\" for several nodes");
    Topology topo;
    topo.fabric = "single-node";
    build_nodes(topo, spec, false);
    set_structure(topo, spec, false, false);
    return topo;
}

Topology build_fat_tree(const ClusterSpec& spec) {
    validate(spec);
    Topology topo;
    topo.fabric = "fat-tree";
    const std::vector<VertexId> nics = build_nodes(topo, spec, true);
    const int half = spec.switch_radix / 2;
    const auto members = chunk(nics, half);
    if (spec.tiers == 2 || static_cast<int>(members.size()) <= half) {
        two_tier(topo, spec, members, std::vector<int>(members.size(), -1), -1);
        set_structure(topo, spec, false, true);
        return topo;
    }
    // Three tiers: pods of `half` leaves and `half` aggregation switches; core groups of `half` switches.
    const int pods = static_cast<int>((members.size() + static_cast<std::size_t>(half) - 1) / static_cast<std::size_t>(half));
    assert(pods <= spec.switch_radix);  // check_fabric_size, in validate()
    std::vector<VertexId> cores;
    for (int c = 0; c < half * half; ++c) cores.push_back(topo.add_vertex(VertexInfo{VertexKind::core_switch, -1, c, -1}));
    for (int pod = 0; pod < pods; ++pod) {
        std::vector<VertexId> aggs;
        for (int a = 0; a < half; ++a) aggs.push_back(topo.add_vertex(VertexInfo{VertexKind::spine_switch, -1, pod * half + a, pod}));
        // Every switch-to-switch link at a port's rate (a NIC's, over the oversubscription), as in two_tier: a partly
        // filled leaf or pod has ports to spare, not slower ones.
        const BytesPerSecond up = spec.nic_bandwidth / spec.oversubscription;
        for (int l = 0; l < half; ++l) {
            const std::size_t i = static_cast<std::size_t>(pod * half + l);
            if (i >= members.size()) break;
            const VertexId leaf = topo.add_vertex(VertexInfo{VertexKind::leaf_switch, -1, static_cast<int>(i), pod});
            for (const VertexId nic : members[i]) topo.add_cable(nic, leaf, nic_link(spec));
            for (const VertexId agg : aggs) topo.add_cable(leaf, agg, fabric_link(spec, up));
        }
        for (int a = 0; a < half; ++a) {
            for (int c = 0; c < half; ++c) topo.add_cable(aggs[static_cast<std::size_t>(a)],
                                                          cores[static_cast<std::size_t>(a * half + c)], fabric_link(spec, up));
        }
    }
    set_structure(topo, spec, false, false);
    return topo;
}

Topology build_rail_optimized(const ClusterSpec& spec) {
    validate(spec);
    Topology topo;
    topo.fabric = "rail-optimized";
    const std::vector<VertexId> nics = build_nodes(topo, spec, true);
    const int half = spec.switch_radix / 2;
    std::vector<std::vector<VertexId>> members;
    std::vector<int> groups;
    for (int rail = 0; rail < spec.gpus_per_node; ++rail) {
        std::vector<VertexId> rail_nics;
        for (int node = 0; node < spec.nodes(); ++node) rail_nics.push_back(nics[static_cast<std::size_t>(node * spec.gpus_per_node + rail)]);
        for (auto& leaf : chunk(rail_nics, half)) {
            members.push_back(std::move(leaf));
            groups.push_back(rail);
        }
    }
    two_tier(topo, spec, members, groups, -1);
    set_structure(topo, spec, false, true);
    return topo;
}

Topology build_multi_plane(const ClusterSpec& spec) {
    validate(spec);
    require(spec.planes >= 1 && spec.gpus_per_node % spec.planes == 0,
            fmt::format("cluster.planes = {} must be at least 1 and divide gpus_per_node = {}", spec.planes, spec.gpus_per_node),
            "DeepSeek-V3's fabric has planes = gpus_per_node = 8");
    Topology topo;
    topo.fabric = "multi-plane";
    const std::vector<VertexId> nics = build_nodes(topo, spec, true);
    const int half = spec.switch_radix / 2;
    for (int plane = 0; plane < spec.planes; ++plane) {
        // The NICs of local indices plane, plane + planes, … of every node, in GPU order.
        std::vector<VertexId> plane_nics;
        plane_nics.reserve(nics.size() / static_cast<std::size_t>(spec.planes));
        for (int node = 0; node < spec.nodes(); ++node) {
            for (int local = plane; local < spec.gpus_per_node; local += spec.planes) {
                plane_nics.push_back(nics[static_cast<std::size_t>(node * spec.gpus_per_node + local)]);
            }
        }
        const auto members = chunk(plane_nics, half);
        two_tier(topo, spec, members, std::vector<int>(members.size(), plane), plane);
    }
    set_structure(topo, spec, true, true);
    return topo;
}

void check_fabric_size(const ClusterSpec& spec) { check_size(spec); }

Topology build_topology(const ClusterSpec& spec) {
    switch (spec.fabric) {
        case Fabric::single_node: return build_single_node(spec);
        case Fabric::fat_tree: return build_fat_tree(spec);
        case Fabric::rail_optimized: return build_rail_optimized(spec);
        case Fabric::multi_plane: return build_multi_plane(spec);
    }
    throw Error("unknown fabric");
}

// ---- bisection ----------------------------------------------------------------------------------------------

BytesPerSecond bisection_bandwidth(const Topology& topology) {
    const auto& gpus = topology.gpus();
    if (gpus.size() < 2) throw Error("bisection bandwidth needs at least 2 GPUs", "add GPUs to the cluster");
    using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
    using FlowGraph = boost::adjacency_list<
        boost::vecS, boost::vecS, boost::directedS, boost::no_property,
        boost::property<boost::edge_capacity_t, std::int64_t,
                        boost::property<boost::edge_residual_capacity_t, std::int64_t,
                                        boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
    // Capacities in kB/s as integers: push-relabel is exact on integers; 1 kB/s resolution is ample.
    constexpr double kUnit = 1e3;
    const std::size_t n = topology.vertex_count();
    FlowGraph g(n + 2);
    const auto source = static_cast<Traits::vertex_descriptor>(n);
    const auto sink = static_cast<Traits::vertex_descriptor>(n + 1);
    auto capacity = boost::get(boost::edge_capacity, g);
    auto reverse = boost::get(boost::edge_reverse, g);
    auto add = [&](std::size_t a, std::size_t b, std::int64_t cap) {
        const auto e = boost::add_edge(a, b, g).first;
        const auto r = boost::add_edge(b, a, g).first;
        capacity[e] = cap;
        capacity[r] = 0;
        reverse[e] = r;
        reverse[r] = e;
    };
    std::int64_t total = 0;
    for (const LinkInfo& link : topology.links()) {
        const auto cap = static_cast<std::int64_t>(std::llround(link.bandwidth.value() / kUnit));
        add(link.from, link.to, cap);
        total += cap;
    }
    const std::size_t half = gpus.size() / 2;
    for (std::size_t i = 0; i < gpus.size(); ++i) {
        if (i < half) add(source, gpus[i], total + 1);
        else if (i >= gpus.size() - half) add(gpus[i], sink, total + 1);
    }
    const std::int64_t flow = boost::push_relabel_max_flow(g, source, sink);
    return BytesPerSecond(static_cast<double>(flow) * kUnit);
}

}  // namespace gpuhours
