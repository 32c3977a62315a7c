#include <gpuhours/units/error.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/hardware/topology_graph.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace gpuhours;

namespace {

// H100-like figures written out here (tests do not read the catalog): 450 GB/s NVLink per direction,
// 50 GB/s NIC per GPU, efficiencies 1 so nominal and effective bandwidths agree.
ClusterSpec cluster(int gpus, int gpus_per_node, Fabric fabric) {
    ClusterSpec spec;
    spec.chip.id = "test-h100";
    spec.chip.scale_up_bandwidth = gigabytes_per_second(450);
    spec.chip.scale_up_latency = microseconds(3);
    spec.chip.efficiency.scale_up_link = 1.0;
    spec.chip.efficiency.nic_link = 1.0;
    spec.gpus = gpus;
    spec.gpus_per_node = gpus_per_node;
    spec.fabric = fabric;
    spec.nic_bandwidth = gigabytes_per_second(50);
    spec.nic_latency = microseconds(2.8);
    return spec;
}

std::size_t count(const Topology& t, VertexKind kind) {
    std::size_t n = 0;
    for (VertexId v = 0; v < t.vertex_count(); ++v) n += t.vertex(v).kind == kind;
    return n;
}

// The switch a GPU's NIC is cabled to.
VertexId leaf_of(const Topology& t, VertexId gpu) {
    for (const LinkInfo& l : t.links()) {
        if (l.from == gpu && t.vertex(l.to).kind == VertexKind::nic) {
            for (const LinkInfo& m : t.links()) {
                if (m.from == l.to && t.vertex(m.to).kind == VertexKind::leaf_switch) return m.to;
            }
        }
    }
    FAIL("no leaf");
    return 0;
}

}  // namespace

TEST_CASE("A single node joins its GPUs through one NVSwitch with two directed links per GPU") {
    const Topology t = build_topology(cluster(8, 8, Fabric::single_node));
    CHECK(count(t, VertexKind::gpu) == 8);
    CHECK(count(t, VertexKind::nvswitch) == 1);
    CHECK(t.links().size() == 16);
    // Bisection: 4 GPUs on each side, each sending 450 GB/s into the switch ⇒ 4 × 450 = 1,800 GB/s.
    CHECK(bisection_bandwidth(t).value() == Approx(1800e9));
}

TEST_CASE("boost_graph() is the topology as a Boost.Graph: every vertex with its info, every link an edge carrying its id") {
    // Two nodes of 4 GPUs on a fat-tree: the Boost graph must hold exactly the topology's vertices, each with its
    // info, and one edge per directed link from its `from` to its `to`, a vertex's edges in link order.
    const Topology t = build_topology(cluster(8, 4, Fabric::fat_tree));
    const TopologyGraph g = boost_graph(t);
    REQUIRE(boost::num_vertices(g) == t.vertex_count());
    REQUIRE(boost::num_edges(g) == t.links().size());
    for (VertexId v = 0; v < t.vertex_count(); ++v) {
        CHECK(g[v].kind == t.vertex(v).kind);
        CHECK(g[v].index == t.vertex(v).index);
        CHECK(g[v].node == t.vertex(v).node);
        LinkId previous = 0;
        bool first = true;
        for (const auto e : boost::make_iterator_range(boost::out_edges(v, g))) {
            const LinkId l = g[e];
            CHECK(t.link(l).from == v);
            CHECK(t.link(l).to == boost::target(e, g));
            CHECK((first || l > previous));  // a vertex's edges in link order
            previous = l;
            first = false;
        }
    }
}

TEST_CASE("Two nodes on a fat-tree have a bisection of one NIC per GPU on one side") {
    const Topology t = build_topology(cluster(16, 8, Fabric::fat_tree));
    CHECK(count(t, VertexKind::nic) == 16);
    CHECK(count(t, VertexKind::leaf_switch) == 1);  // radix 64: 32 NICs fit on one leaf
    CHECK(count(t, VertexKind::spine_switch) == 0);
    // Node 0 vs node 1: all traffic leaves through node 0's 8 NICs ⇒ 8 × 50 = 400 GB/s.
    CHECK(bisection_bandwidth(t).value() == Approx(400e9));
}

TEST_CASE("A 2:1 oversubscribed fat-tree has half the bisection bandwidth of a 1:1 one") {
    // Radix 8 ⇒ 4 NICs per leaf; 16 GPUs, 2 per node ⇒ 4 leaves, 4 spines. GPUs 0–7 sit on leaves 0–1.
    // 1:1: each leaf's uplinks total 4 × 50 = 200 GB/s ⇒ the cut is min(8 NICs × 50, 2 leaves × 200) = 400 GB/s.
    // 2:1: uplinks total 100 GB/s per leaf ⇒ 2 × 100 = 200 GB/s, half.
    ClusterSpec spec = cluster(16, 2, Fabric::fat_tree);
    spec.switch_radix = 8;
    const BytesPerSecond full = bisection_bandwidth(build_topology(spec));
    spec.oversubscription = 2.0;
    const BytesPerSecond half = bisection_bandwidth(build_topology(spec));
    CHECK(full.value() == Approx(400e9));
    CHECK(half.value() == Approx(200e9));
}

TEST_CASE("A three-tier fat-tree keeps full bisection across pods") {
    // Radix 8: pods of 4 leaves × 4 NICs = 16 GPUs; 64 GPUs (8 per node) ⇒ 4 pods, 16 core switches.
    // Full bisection: 32 GPUs × 50 GB/s = 1,600 GB/s.
    ClusterSpec spec = cluster(64, 8, Fabric::fat_tree);
    spec.switch_radix = 8;
    spec.tiers = 3;
    const Topology t = build_topology(spec);
    CHECK(count(t, VertexKind::core_switch) == 16);
    CHECK(count(t, VertexKind::leaf_switch) == 16);
    CHECK(bisection_bandwidth(t).value() == Approx(1600e9));
}

TEST_CASE("A partly filled leaf or pod has switch links at a port's rate, so one flow leaving it runs at a NIC's") {
    // Two tiers, radix 8 ⇒ 4 NICs per leaf and 4 spines; 10 GPUs, 2 per node ⇒ leaves of 4, 4 and 2 NICs. Every
    // leaf-to-spine link runs at a port's rate, 50 GB/s (1:1), the last leaf's too: it has ports to spare, not
    // slower ones (they were 50 × 2 / 4 = 25 GB/s, which held one flow leaving it to half a NIC). So 1 GB from GPU 9
    // (the last leaf) to GPU 0 (the first) takes 1 / 50 = 20 ms plus the route's microseconds of latency.
    ClusterSpec two = cluster(10, 2, Fabric::fat_tree);
    two.switch_radix = 8;
    const Topology t = build_topology(two);
    REQUIRE(count(t, VertexKind::leaf_switch) == 3);
    for (const LinkInfo& l : t.links()) {
        if (t.vertex(l.from).kind == VertexKind::leaf_switch && t.vertex(l.to).kind == VertexKind::spine_switch) {
            CHECK(l.bandwidth.value() == Approx(50e9));
        }
    }
    MaxMinNetwork network(t);
    const std::vector<FlowSpec> one{FlowSpec{t.gpu(9), t.gpu(0), gigabytes(1)}};
    CHECK(network.run_phase(one).time.value() == Approx(0.020).margin(1e-4));
    // Three tiers, radix 8 ⇒ pods of 4 leaves × 4 NICs; 40 GPUs, 4 per node ⇒ 10 leaves in pods of 4, 4 and 2. The
    // last pod's aggregation-to-core links run at 50 GB/s too (they were 2 leaves × 50 / 4 = 25 GB/s), so 1 GB from
    // GPU 39 (the last pod) to GPU 0 (the first), through a core switch, also takes 20 ms.
    ClusterSpec three = cluster(40, 4, Fabric::fat_tree);
    three.switch_radix = 8;
    three.tiers = 3;
    const Topology u = build_topology(three);
    REQUIRE(count(u, VertexKind::core_switch) == 16);
    for (const LinkInfo& l : u.links()) {
        if (l.kind == LinkKind::fabric) CHECK(l.bandwidth.value() == Approx(50e9));
    }
    MaxMinNetwork across(u);
    const std::vector<FlowSpec> far{FlowSpec{u.gpu(39), u.gpu(0), gigabytes(1)}};
    CHECK(across.run_phase(far).time.value() == Approx(0.020).margin(1e-4));
}

TEST_CASE("A rail-optimised fabric puts GPU i of every node on rail i's leaf") {
    const Topology t = build_topology(cluster(32, 8, Fabric::rail_optimized));
    CHECK(count(t, VertexKind::leaf_switch) == 8);
    CHECK(leaf_of(t, t.gpu(3)) == leaf_of(t, t.gpu(8 + 3)));
    CHECK(leaf_of(t, t.gpu(3)) == leaf_of(t, t.gpu(24 + 3)));
    CHECK(leaf_of(t, t.gpu(3)) != leaf_of(t, t.gpu(4)));
}

TEST_CASE("A multi-plane fabric has no link between planes, so cross-plane traffic crosses NVLink first") {
    // DeepSeek-V3's MPFT: 8 planes, NIC i of each node on plane i.
    ClusterSpec spec = cluster(32, 8, Fabric::multi_plane);
    spec.planes = 8;
    const Topology t = build_topology(spec);
    CHECK(count(t, VertexKind::leaf_switch) == 8);
    CHECK(leaf_of(t, t.gpu(1)) == leaf_of(t, t.gpu(9)));
    CHECK(leaf_of(t, t.gpu(1)) != leaf_of(t, t.gpu(2)));
    Router router(t);
    // GPU 0 (node 0, plane 0) to GPU 9 (node 1, plane 1): the shortest routes are 6 hops and cross NVLink on one
    // side — gpu0→nvswitch→gpu1→nic→leaf(plane 1)→nic→gpu9, or via plane 0 and gpu8→nvswitch→gpu9.
    const Route r = router.route(t.gpu(0), t.gpu(9));
    REQUIRE(r.links.size() == 6);
    const auto nvlink_hops = std::count_if(r.links.begin(), r.links.end(),
                                           [&](LinkId l) { return t.link(l).kind == LinkKind::scale_up; });
    CHECK(nvlink_hops == 2);
}

TEST_CASE("Builders reject bad clusters with a message that says what to change") {
    ClusterSpec spec = cluster(12, 8, Fabric::fat_tree);
    CHECK_THROWS_WITH(build_topology(spec), Catch::Contains("not a multiple of gpus_per_node"));
    spec = cluster(16, 8, Fabric::fat_tree);
    spec.nic_bandwidth = gigabytes_per_second(-50);
    CHECK_THROWS_WITH(build_topology(spec), Catch::Contains("nic_bandwidth"));
    spec = cluster(0, 8, Fabric::fat_tree);
    CHECK_THROWS_AS(build_topology(spec), Error);
    spec = cluster(16, 8, Fabric::single_node);
    CHECK_THROWS_WITH(build_topology(spec), Catch::Contains("gpus_per_node = gpus"));
    // Two tiers of radix 8 hold 8 leaves × 4 NICs = 32 GPUs.
    spec = cluster(64, 8, Fabric::fat_tree);
    spec.switch_radix = 8;
    CHECK_THROWS_WITH(build_topology(spec), Catch::Contains("tiers = 3"));
    spec = cluster(16, 8, Fabric::fat_tree);
    spec.chip.efficiency.nic_link = 0.0;
    CHECK_THROWS_WITH(build_topology(spec), Catch::Contains("efficiency"));
}

TEST_CASE("A fabric too small for its GPUs names the switch radix that would connect them") {
    // Multi-plane, 8 planes, radix 64: a plane of k / 2 = 32 NICs per leaf on at most k = 64 leaves holds
    // 64 × 32 = 2,048 NICs, i.e. 16,384 GPUs. 32,768 GPUs put 4,096 NICs on each plane: 128 leaves of 32, more than
    // 64; radix 128 holds 128 × 64 = 8,192 per plane. Two-tier only, so the hint names the radix, not tiers.
    ClusterSpec planes = cluster(32768, 8, Fabric::multi_plane);
    planes.planes = 8;
    try {
        check_fabric_size(planes);
        FAIL("32,768 GPUs fit a radix-64 two-tier multi-plane fabric");
    } catch (const Error& e) {
        CHECK_THAT(e.message(), Catch::Contains("this cluster needs 128"));
        CHECK_THAT(e.hint(), Catch::Contains("cluster.switch_radix = 128") && !Catch::Contains("tiers"));
    }
    planes.switch_radix = 128;
    CHECK_NOTHROW(check_fabric_size(planes));
    // A two-tier fat-tree of radix 64 holds 64 × 32 = 2,048 GPUs; 4,096 need three tiers (64³ / 4 = 65,536) or
    // radix 128 (128 × 64 = 8,192).
    ClusterSpec tree = cluster(4096, 8, Fabric::fat_tree);
    try {
        check_fabric_size(tree);
        FAIL("4,096 GPUs fit a radix-64 two-tier fat-tree");
    } catch (const Error& e) {
        CHECK_THAT(e.hint(), Catch::Contains("set cluster.tiers = 3, or cluster.switch_radix = 128"));
    }
    // 1,048,576 GPUs: three tiers of radix 64 hold only 65,536, so the hint gives three tiers the radix they need
    // (k³/4 ≥ 2^20: k = 256 → 4,194,304; k = 128 → 524,288 is too few), or two tiers of radix 2,048 (2,048² / 2 =
    // 2,097,152; 1,024 → 524,288 is too few). It said "set cluster.tiers = 3", which is then refused.
    tree.gpus = 1'048'576;
    try {
        check_fabric_size(tree);
        FAIL("2^20 GPUs fit a radix-64 two-tier fat-tree");
    } catch (const Error& e) {
        CHECK_THAT(e.hint(), Catch::Contains("set cluster.tiers = 3 with cluster.switch_radix = 256, or cluster.switch_radix = 2048"));
    }
}

TEST_CASE("A fabric's links are stored as their ends and one of a handful of figures, and read back whole") {
    // 32 GPUs, 8 per node, on a multi-plane fabric of 8 planes, radix 8: per GPU an NVLink cable (450 GB/s, 1.5 µs
    // a direction), a PCIe cable to its NIC (50 GB/s, no latency), a NIC cable to its plane's leaf (50 GB/s,
    // 1.4 µs) — each plane has 4 NICs, so one leaf and no spine. Three distinct figures, so three table entries,
    // whatever the link count: 32 GPUs × 3 cables × 2 directions = 192 links.
    ClusterSpec narrow = cluster(32, 8, Fabric::multi_plane);
    narrow.planes = 8;
    narrow.switch_radix = 8;
    const Topology t = build_topology(narrow);
    REQUIRE(t.link_count() == 192);
    CHECK(t.link_specs().size() == 3);
    // The same on 1:1 with spines: 64 GPUs in 8 planes of 8 NICs at radix 8 (two leaves of 4 and 4 spines a plane);
    // the uplinks at a port's rate (50 GB/s) with 2.8 / 6 µs of latency are a fourth figure.
    ClusterSpec wide = cluster(64, 8, Fabric::multi_plane);
    wide.planes = 8;
    wide.switch_radix = 8;
    const Topology u = build_topology(wide);
    CHECK(u.link_specs().size() == 4);
    // Every link read back carries its kind's figures, in the view, the iterator and link(l) alike.
    for (LinkId l = 0; l < u.link_count(); ++l) {
        const LinkInfo a = u.link(l);
        const LinkInfo b = u.links()[l];
        CHECK(a == b);
        const double expected = a.kind == LinkKind::scale_up ? 450e9 : 50e9;
        CHECK(a.bandwidth.value() == Approx(expected));
        if (a.kind == LinkKind::fabric) CHECK(a.latency.value() == Approx(2.8e-6 / 6.0));
        if (a.kind == LinkKind::nic) CHECK(a.latency.value() == Approx(1.4e-6));
    }
    std::size_t walked = 0;
    for (const LinkInfo& l : u.links()) CHECK(l == u.link(walked++));
    CHECK(walked == u.link_count());
    CHECK_THROWS_AS(u.link(u.link_count()), std::out_of_range);
}
