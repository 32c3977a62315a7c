// Distances read from the fabric's structure (sim/network/structure.hpp) against the breadth-first search, and the
// routes and phase times built on them against those of the search.
#include <gpuhours/hardware/topology.hpp>
#include <gpuhours/network/network.hpp>

#include "../support/fabrics.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

using namespace gpuhours;
using gpuhours::test::build_fabric;
using gpuhours::test::builder_fabrics;
using gpuhours::test::FabricCase;


TEST_CASE("Distances read from the fabric's structure equal a breadth-first search on every builder's fabric", "[network][routing][structure]") {
    // d(v, t) for every vertex v and every GPU t: the structure's (StructuralDistance, through Router::distance) must be
    // the search's, exactly; so must every route between GPUs, since both pick among the same equal-cost next hops.
    for (const FabricCase& c : builder_fabrics()) {
        INFO(c.name);
        const Topology t = build_fabric(c);
        REQUIRE(t.geometry() != nullptr);
        Router searched(t);
        searched.set_structure(false);
        Router structural(t);
        for (const VertexId dst : t.gpus()) {
            REQUIRE(structural.structural(dst));
            REQUIRE_FALSE(searched.structural(dst));
            INFO("destination " << t.describe(dst));
            const std::vector<std::uint8_t> expected = searched.search_distances_to(dst);
            for (VertexId v = 0; v < t.vertex_count(); ++v) REQUIRE(structural.distance(v, dst) == expected[v]);
        }
        // Every GPU pair, source-major (destinations interleaved, so each is selected again and again).
        std::vector<FlowSpec> pairs;
        for (const VertexId src : t.gpus()) {
            for (const VertexId dst : t.gpus()) pairs.push_back(FlowSpec{src, dst, Bytes(1)});
        }
        const RouteTable expected = searched.routes(pairs);
        const RouteTable got = structural.routes(pairs);
        REQUIRE(got.size() == expected.size());
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            INFO("route " << t.describe(pairs[i].src) << " → " << t.describe(pairs[i].dst));
            REQUIRE(std::ranges::equal(got.links_of(i), expected.links_of(i)));
            REQUIRE(got.latency[i] == expected.latency[i]);
        }
    }
}

TEST_CASE("Routes between GPUs of one node equal the search on the same fabric without its geometry", "[network][routing][structure]") {
    // Router::walk takes a pair inside one node straight up to the node's NVSwitch and down (walk_in_node) when the
    // topology has its builder's geometry. The reference is the same graph with one isolated vertex added, which
    // drops the geometry, routed by breadth-first search through pick_next_hop: every intra-node route and latency
    // must be the same, on every builder's fabric (both directions, every pair of the first two nodes).
    for (const FabricCase& c : builder_fabrics()) {
        INFO(c.name);
        const Topology t = build_fabric(c);
        REQUIRE(t.geometry() != nullptr);
        Topology plain = t;
        plain.add_vertex(VertexInfo{VertexKind::leaf_switch, -1, 1000000, -1});
        REQUIRE(plain.geometry() == nullptr);
        Router fast(t);
        Router searched(plain);
        searched.set_structure(false);
        const int gpn = t.gpus_per_node();
        const int nodes = std::min<int>(2, static_cast<int>(t.gpus().size()) / std::max(gpn, 1));
        std::size_t pairs = 0;
        for (int node = 0; node < nodes; ++node) {
            for (int a = 0; a < gpn; ++a) {
                for (int b = 0; b < gpn; ++b) {
                    if (a == b) continue;
                    const VertexId src = t.gpu(node * gpn + a);
                    const VertexId dst = t.gpu(node * gpn + b);
                    INFO("route " << t.describe(src) << " → " << t.describe(dst));
                    const Route got = fast.route(src, dst);
                    const Route expected = searched.route(src, dst);
                    REQUIRE(got.links == expected.links);
                    REQUIRE(got.latency == expected.latency);
                    REQUIRE(got.links.size() == 2);
                    ++pairs;
                }
            }
        }
        CHECK(pairs == static_cast<std::size_t>(nodes * gpn * (gpn - 1)));
    }
}

TEST_CASE("A phase routed by structure has the searched phase's time and limiting link", "[network][structure]") {
    // An all-to-all among every GPU, and a shifted pairing (GPU g sends to g + gpus/2 + 1): the max-min answers of a
    // network routing by structure and of one routing by search are the same to the last bit.
    for (const FabricCase& c : builder_fabrics()) {
        INFO(c.name);
        const Topology t = build_fabric(c);
        MaxMinNetwork by_structure(t);
        MaxMinNetwork by_search(t);
        by_search.router().set_structure(false);
        by_structure.set_relabel(false);
        by_search.set_relabel(false);
        std::vector<FlowSpec> shifted;
        const std::size_t n = t.gpus().size();
        for (std::size_t g = 0; g < n; ++g) {
            shifted.push_back(FlowSpec{t.gpus()[g], t.gpus()[(g + n / 2 + 1) % n], Bytes(1e6 + 1e3 * static_cast<double>(g))});
        }
        const PhaseResult a = by_structure.run_all_to_all(t.gpus(), Bytes(1e6));
        const PhaseResult b = by_search.run_all_to_all(t.gpus(), Bytes(1e6));
        CHECK(a.time == b.time);
        CHECK(a.limiting_link == b.limiting_link);
        CHECK(a.max_latency == b.max_latency);
        if (n > 1) {
            const PhaseResult p = by_structure.run_phase(shifted);
            const PhaseResult q = by_search.run_phase(shifted);
            CHECK(p.time == q.time);
            CHECK(p.limiting_link == q.limiting_link);
        }
    }
}

TEST_CASE("A fabric changed after building is routed by search", "[network][structure]") {
    // The geometry describes what the builder made; one more cable (a shortcut between two GPUs' NICs on
    // different leaves) makes it wrong, so the topology drops it and the router searches: the route from GPU 0 to
    // GPU 8 takes the shortcut, 3 hops (GPU → NIC → NIC → GPU) instead of 6 through a spine.
    Topology t = build_fabric(FabricCase{"fat-tree", Fabric::fat_tree, 16, 8, 2, 1, 16});
    REQUIRE(t.geometry() != nullptr);
    VertexId nic0 = 0, nic8 = 0;
    for (VertexId v = 0; v < t.vertex_count(); ++v) {
        if (t.vertex(v).kind == VertexKind::nic && t.vertex(v).index == 0) nic0 = v;
        if (t.vertex(v).kind == VertexKind::nic && t.vertex(v).index == 8) nic8 = v;
    }
    t.add_cable(nic0, nic8, LinkSpec{LinkKind::nic, gigabytes_per_second(50), 1.0, Seconds(0.0)});
    CHECK(t.geometry() == nullptr);
    Router router(t);
    CHECK_FALSE(router.structural(t.gpu(8)));
    CHECK(router.route(t.gpu(0), t.gpu(8)).links.size() == 3);
}
