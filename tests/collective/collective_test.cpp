#include <gpuhours/network/collective.hpp>
#include <gpuhours/engine/engine.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/hardware/topology.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>

using namespace gpuhours;

namespace {

// Figures written out in the test (not read from the catalog).
struct ChipFigures {
    double nvlink_gbps = 450;  // per direction
    double nvlink_latency_us = 3;
    double nic_gbps = 50;      // per GPU, per direction
    double nic_latency_us = 2.8;
    double scale_up_efficiency = 1.0;
    double nic_efficiency = 1.0;
};

ClusterSpec cluster(int gpus, int gpus_per_node, const ChipFigures& f, Fabric fabric = Fabric::fat_tree) {
    ClusterSpec spec;
    spec.chip.id = "test";
    spec.chip.scale_up_bandwidth = gigabytes_per_second(f.nvlink_gbps);
    spec.chip.scale_up_latency = microseconds(f.nvlink_latency_us);
    spec.chip.efficiency.scale_up_link = f.scale_up_efficiency;
    spec.chip.efficiency.nic_link = f.nic_efficiency;
    spec.gpus = gpus;
    spec.gpus_per_node = gpus_per_node;
    spec.fabric = gpus == gpus_per_node ? Fabric::single_node : fabric;
    spec.nic_bandwidth = gigabytes_per_second(f.nic_gbps);
    spec.nic_latency = microseconds(f.nic_latency_us);
    return spec;
}

CollectiveRequest request(const Topology& t, CollectiveKind kind, Bytes size, std::optional<CollectiveAlgorithm> a) {
    CollectiveRequest r;
    r.kind = kind;
    r.size = size;
    r.ranks = t.gpus();
    r.algorithm = a;
    return r;
}

// 8 GPUs on one NVSwitch, B = 100 GB/s per direction, α = 2 µs GPU to GPU, efficiency 1.
ChipFigures closed_form_chip() {
    ChipFigures f;
    f.nvlink_gbps = 100;
    f.nvlink_latency_us = 2;
    return f;
}

}  // namespace

TEST_CASE("Ring all-reduce takes 2(n-1)/n S/B + 2(n-1) alpha") {
    // Each of the 2(n−1) ring steps sends S/n from every GPU to the next; every GPU→switch and switch→GPU link
    // carries one flow, so a step is α + (S/n)/B. n = 8, S = 1 GiB, B = 100 GB/s, α = 2 µs:
    // 2·7/8 · 1,073,741,824 / 1e11 + 14 · 2e-6 = 0.0187905 + 0.000028 = 0.0188185 s.
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    const double expected = 2.0 * 7.0 / 8.0 * 1073741824.0 / 1e11 + 14 * 2e-6;
    for (NetworkKind kind : {NetworkKind::flow, NetworkKind::alpha_beta}) {
        auto net = make_network(kind, t);
        const CollectiveResult r = simulate_collective(*net, request(t, CollectiveKind::all_reduce, gibibytes(1), CollectiveAlgorithm::ring));
        CHECK(r.time.value() == Approx(expected).epsilon(0.01));
        // busbw = algbw · 2(n−1)/n = S/T · 1.75 ≈ B when latency is small.
        CHECK(r.bus_bandwidth.value() == Approx(1e11).epsilon(0.01));
    }
}

TEST_CASE("Ring reduce-scatter and all-gather take (n-1)/n S/B + (n-1) alpha") {
    // n − 1 steps of α + (S/n)/B: 7/8 · 1 GiB / 100 GB/s + 7 · 2 µs = 0.00939524 + 0.000014 = 0.00940924 s.
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    const double expected = 7.0 / 8.0 * 1073741824.0 / 1e11 + 7 * 2e-6;
    MaxMinNetwork net(t);
    for (CollectiveKind kind : {CollectiveKind::reduce_scatter, CollectiveKind::all_gather}) {
        const CollectiveResult r = simulate_collective(net, request(t, kind, gibibytes(1), std::nullopt));
        CHECK(r.algorithm == CollectiveAlgorithm::ring);
        CHECK(r.time.value() == Approx(expected).epsilon(0.01));
    }
}

TEST_CASE("All-to-all on one switch takes (n-1)/n S/B + alpha") {
    // Every GPU sends S/n to each of the n − 1 others at once; its one uplink of B carries all n − 1 flows (and
    // its downlink receives n − 1), so each runs at B/(n−1): time = α + (n−1)(S/n)/B
    // = 2 µs + 7/8 · 1 GiB / 100 GB/s = 0.00939724 s; busbw = S/T · (n−1)/n ≈ B.
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    MaxMinNetwork net(t);
    const CollectiveResult r = simulate_collective(net, request(t, CollectiveKind::all_to_all, gibibytes(1), std::nullopt));
    CHECK(r.algorithm == CollectiveAlgorithm::direct);
    CHECK(r.time.value() == Approx(7.0 / 8.0 * 1073741824.0 / 1e11 + 2e-6).epsilon(0.01));
    CHECK(r.bus_bandwidth.value() == Approx(1e11).epsilon(0.01));
    CHECK(r.limiting_link_description.rfind("NVLink", 0) == 0);
}

TEST_CASE("The alpha-beta all-to-all is limited by each GPU's port, as the flow model's") {
    // 2 nodes of 8 GPUs on a fat-tree (closed-form chip: NVLink 100 GB/s, NIC 50 GB/s, one NIC per GPU). Every
    // GPU sends 64 MiB to each of the 15 others: 7 over NVLink, 8 through its NIC. Its NIC port serializes the
    // 8 inter-node flows: 8 × 64 MiB / 50 GB/s = 10.7 ms, which is also what the flow model's NIC sharing gives,
    // so the two agree within 10% (without endpoint serialization α–β said 64 MiB / 50 GB/s = 1.3 ms, 8× fast).
    const Topology t = build_topology(cluster(16, 8, closed_form_chip()));
    MaxMinNetwork flow(t);
    AlphaBetaNetwork ab(t);
    std::vector<VertexId> ranks;
    for (int g = 0; g < 16; ++g) ranks.push_back(t.gpu(g));
    const Bytes pair = Bytes(64.0 * 1048576.0);
    const double expected = 8.0 * 64.0 * 1048576.0 / 50e9;
    const double by_flow = flow.run_all_to_all(ranks, pair).time.value();
    const double by_ab = ab.run_all_to_all(ranks, pair).time.value();
    CHECK(by_ab == Approx(expected).epsilon(0.01));
    CHECK(by_ab == Approx(by_flow).epsilon(0.10));
    // The same phase as explicit flows gives the same time.
    std::vector<FlowSpec> flows;
    for (const VertexId a : ranks) {
        for (const VertexId b : ranks) {
            if (a != b) flows.push_back(FlowSpec{a, b, pair});
        }
    }
    CHECK(ab.run_phase(flows).time.value() == Approx(by_ab).epsilon(1e-9));
}

TEST_CASE("The aggregated all-to-all bound agrees with the fluid simulation on a symmetric fabric") {
    // Above MaxMinNetwork::kExactFlowLimit flows the model reports max link load / capacity + latency. On one
    // switch every uplink carries (n−1)·S/n, which the fluid model also finishes at that time: check the two
    // paths agree by comparing run_all_to_all (exact here) with the closed form for the bound.
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    MaxMinNetwork net(t);
    const PhaseResult exact = net.run_all_to_all(t.gpus(), gibibytes(1) / 8.0);
    const double bound = 7.0 * (1073741824.0 / 8.0) / 1e11 + 2e-6;
    CHECK(exact.time.value() == Approx(bound).epsilon(1e-6));
}

TEST_CASE("All-reduce bus bandwidth on 8 H100 is near the per-direction NVLink bandwidth times the catalog efficiency") {
    // H100: 450 GB/s per direction; efficiency 0.8 (a figure for this test) ⇒ busbw ≈ 360 GB/s at 8 GiB,
    // where the 14 · 3 µs of latency is 0.1% of the 41.7 ms transfer.
    ChipFigures h100;
    h100.scale_up_efficiency = 0.8;
    const Topology t = build_topology(cluster(8, 8, h100));
    MaxMinNetwork net(t);
    const CollectiveResult r = simulate_collective(net, request(t, CollectiveKind::all_reduce, gibibytes(8), std::nullopt));
    CHECK(r.bus_bandwidth.value() == Approx(360e9).epsilon(0.01));
    CHECK(r.limiting_link_description.rfind("NVLink", 0) == 0);

    SECTION("and on 8 H800 at most 400/900 of that") {
        // H800 NVLink: 400 GB/s bidirectional = 200 per direction ⇒ busbw ≈ 160 GB/s = 400/900 · 360.
        ChipFigures h800 = h100;
        h800.nvlink_gbps = 200;
        const Topology t800 = build_topology(cluster(8, 8, h800));
        MaxMinNetwork net800(t800);
        const CollectiveResult r800 = simulate_collective(net800, request(t800, CollectiveKind::all_reduce, gibibytes(8), std::nullopt));
        CHECK(r800.bus_bandwidth.value() <= 400.0 / 900.0 * r.bus_bandwidth.value() * 1.005);
        CHECK(r800.bus_bandwidth.value() == Approx(160e9).epsilon(0.01));
    }
}

TEST_CASE("On two nodes the NIC limits all-reduce and the result names it") {
    // 2 × 8 H100 on a fat-tree, NVLink 450 × 0.8 = 360 GB/s, NIC 50 × 0.9 = 45 GB/s per GPU.
    // 8 rail-aligned rings, each with 1/8 of the data: per step a GPU's NVLink carries 7 of the 8 rings'
    // chunks (7/8 · S/n at 360 GB/s) and its NIC one ring's chunk (1/8 · S/n at 45 GB/s) ⇒ the NIC is slower:
    // step = (S/n) / (8 · 45 GB/s) ⇒ busbw ≈ 8 · 45 = 360 GB/s (NCCL: busbw ≈ the node's NIC bandwidth per GPU).
    ChipFigures h100;
    h100.scale_up_efficiency = 0.8;
    h100.nic_efficiency = 0.9;
    const Topology t = build_topology(cluster(16, 8, h100));
    MaxMinNetwork net(t);
    const CollectiveResult r = simulate_collective(net, request(t, CollectiveKind::all_reduce, gibibytes(8), CollectiveAlgorithm::ring));
    CHECK(r.channels == 8);
    CHECK(r.bus_bandwidth.value() == Approx(360e9).epsilon(0.01));
    CHECK(r.limiting_link_description == "NIC (nic→leaf) 45 GB/s");

    SECTION("and with one GPU per node a single NIC carries the ring: busbw ≈ 45 GB/s") {
        // 16 single-GPU nodes: one ring, every step crosses a NIC at 45 GB/s.
        const Topology t1 = build_topology(cluster(16, 1, h100));
        MaxMinNetwork net1(t1);
        const CollectiveResult r1 = simulate_collective(net1, request(t1, CollectiveKind::all_reduce, gibibytes(8), CollectiveAlgorithm::ring));
        CHECK(r1.bus_bandwidth.value() == Approx(45e9).epsilon(0.01));
        CHECK(r1.limiting_link_description.rfind("NIC", 0) == 0);
    }
}

TEST_CASE("A 2:1 oversubscribed fat-tree halves cross-leaf all-to-all bandwidth") {
    // Radix 8 ⇒ 4 NICs per leaf, 4 spines; 8 single-GPU nodes ⇒ leaves {0..3} and {4..7}. Cross-leaf all-to-all:
    // every GPU on one leaf sends S to every GPU on the other (32 flows). Destination-based spreading sends the
    // 4 flows to one destination through one spine, a different spine per destination.
    // 1:1: leaf–spine links carry 4 × 50 / 4 = 50 GB/s; every NIC and every leaf–spine link holds 4 flows ⇒
    //      12.5 GB/s each; cross-leaf bandwidth = 16 flows × 12.5 = 200 GB/s per direction.
    // 2:1: leaf–spine links carry 25 GB/s ⇒ 6.25 GB/s per flow ⇒ 100 GB/s: half, and the time doubles.
    ChipFigures f;
    ClusterSpec spec = cluster(8, 1, f);
    spec.switch_radix = 8;
    auto cross_leaf_time = [&](double oversubscription) {
        spec.oversubscription = oversubscription;
        const Topology t = build_topology(spec);
        std::vector<FlowSpec> flows;
        for (int a = 0; a < 4; ++a) {
            for (int b = 4; b < 8; ++b) {
                flows.push_back(FlowSpec{t.gpu(a), t.gpu(b), gigabytes(1)});
                flows.push_back(FlowSpec{t.gpu(b), t.gpu(a), gigabytes(1)});
            }
        }
        MaxMinNetwork net(t);
        const PhaseResult r = net.run_phase(flows);
        // Bytes crossing per direction / time.
        return std::pair{16e9 / (r.time - r.max_latency).value(), t.describe_link(*r.limiting_link)};
    };
    const auto [full, full_limit] = cross_leaf_time(1.0);
    const auto [half, half_limit] = cross_leaf_time(2.0);
    CHECK(full == Approx(200e9).epsilon(1e-6));
    CHECK(half == Approx(100e9).epsilon(1e-6));
    CHECK(full_limit.rfind("NIC", 0) == 0);
    CHECK(half_limit.rfind("fabric (leaf→spine)", 0) == 0);

    SECTION("while a full all-to-all over both leaves slows by only 8/7") {
        // All 8 GPUs, S per rank ⇒ S/8 per pair. 1:1: each NIC carries 7 flows ⇒ T1 = 7 (S/8) / 50 GB/s.
        // 2:1: each leaf–spine link (25 GB/s) carries 4 cross-leaf flows ⇒ 6.25 GB/s each, while the 3 same-leaf
        // flows of a NIC are faster; T2 = (S/8) / 6.25 GB/s ⇒ T2/T1 = 50 / (7 · 6.25) = 8/7.
        auto all_to_all_time = [&](double oversubscription) {
            spec.oversubscription = oversubscription;
            const Topology t = build_topology(spec);
            MaxMinNetwork net(t);
            return net.run_all_to_all(t.gpus(), gigabytes(1)).time.value();
        };
        CHECK(all_to_all_time(2.0) / all_to_all_time(1.0) == Approx(8.0 / 7.0).epsilon(0.001));
    }
}

TEST_CASE("Hierarchical and tree all-reduce run on two nodes and automatic choice keeps the fastest") {
    ChipFigures h100;
    h100.scale_up_efficiency = 0.8;
    h100.nic_efficiency = 0.9;
    const Topology t = build_topology(cluster(16, 8, h100));
    MaxMinNetwork net(t);
    for (const Bytes size : {bytes(65536), gibibytes(1)}) {
        std::optional<Seconds> best;
        for (CollectiveAlgorithm a : {CollectiveAlgorithm::ring, CollectiveAlgorithm::tree, CollectiveAlgorithm::hierarchical}) {
            const CollectiveResult r = simulate_collective(net, request(t, CollectiveKind::all_reduce, size, a));
            CHECK(r.time.value() > 0.0);
            if (!best || r.time < *best) best = r.time;
        }
        const CollectiveResult chosen = simulate_collective(net, request(t, CollectiveKind::all_reduce, size, std::nullopt));
        CHECK(chosen.time == *best);
    }
}

TEST_CASE("NCCL's tree over nodes: every NIC moves 2S/k, and the latency grows with log M, not M (#14)") {
    // 4 nodes of 8 GPUs under one leaf switch (radix 64: 32 NICs), NICs of 50 GB/s, NVLink 450 GB/s, efficiency 1.
    // Per rail, tree A over nodes 0..3 in order: 1 → 2, 3 → 2, 2 → 0; tree B mirrored: 2 → 1, 0 → 1, 1 → 3. Each
    // edge carries S/(2·8) up and down, so node 2's NIC receives 2 children's reduce + its parent's broadcast in A
    // and a broadcast in B: 4 × S/16 = S/4 (node 1 likewise, the other tree); the bound 2·(S/8)/B = S/(4B).
    // NVLink: 2·7/8·S per GPU at 450 GB/s, less. So the pipelined phase's flows end at S/(4B) = 5.369 ms plus
    // their route's latency α (NIC to NIC, measured below by a 0-byte send), and a chunk's round trip adds
    // 2·(8 − 1) chain hops + 2·⌊log₂ 4⌋ tree hops, 17 more hops of the phase's slowest route (NVLink's, 3 µs).
    ChipFigures f;
    const Topology t = build_topology(cluster(32, 8, f));
    MaxMinNetwork net(t);
    const CollectiveResult tree = simulate_collective(net, request(t, CollectiveKind::all_reduce, gibibytes(1), CollectiveAlgorithm::tree));
    auto latency = [&](int from, int to) {
        CollectiveRequest send;
        send.kind = CollectiveKind::send_recv;
        send.ranks = {t.gpu(from), t.gpu(to)};
        return simulate_collective(net, send).time.value();
    };
    const double alpha = latency(0, 8);  // 2.8 µs
    const double nvlink = latency(0, 1);  // 3 µs
    CHECK(alpha == Approx(2.8e-6));
    CHECK(nvlink == Approx(3e-6));
    const double bound = 1073741824.0 / 4.0 / 5e10;
    CHECK(tree.time.value() == Approx(bound + alpha + 17.0 * nvlink).epsilon(1e-9));
    CHECK(tree.limiting_link_description.find("NIC") != std::string::npos);
    // 256 nodes (2,048 GPUs, a two-tier fat-tree): the same bytes per NIC; the rings' latency is 2·255 steps,
    // the tree's 2·7 + 2·8 = 30 hops. The tree stays within 1.5 × the two-level bound (issue #14's target) and
    // beats the rings.
    const Topology big = build_topology(cluster(2048, 8, f));
    MaxMinNetwork big_net(big);
    const auto time = [&](CollectiveAlgorithm a) {
        return simulate_collective(big_net, request(big, CollectiveKind::all_reduce, gibibytes(1), a)).time.value();
    };
    const double big_tree = time(CollectiveAlgorithm::tree);
    CHECK(big_tree >= bound);
    CHECK(big_tree <= 1.5 * bound);
    CHECK(big_tree < time(CollectiveAlgorithm::hierarchical));
    CHECK(big_tree < time(CollectiveAlgorithm::ring));
}

TEST_CASE("the tree all-reduce inside one node is NCCL's chain: 2(n - 1) hops, never faster than the ring") {
    // 8 GPUs on one NVSwitch, B = 100 GB/s, α = 2 µs (closed_form_chip). Two chains of S/2 each, the second
    // reversed: a middle rank sends S/2 up and S/2 down on each, 2S through its port: 2S/B. A chunk's round trip
    // crosses 2 × 7 = 14 hops: the phase's flows end at 2S/B + α, and 13 more hops add 13α.
    //   S = 1 GB: 2e9 / 1e11 = 20 ms + 14 × 2 µs = 20.028 ms; the ring: 2 × 7/8 × 1e9 / 1e11 = 17.5 ms + 14 × 2 µs.
    //   S = 8 B: 14α = 28 µs, the ring's 2 × 7 steps alike (a binary tree's 2⌊log₂ 8⌋ = 6 hops gave 12 µs).
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    MaxMinNetwork net(t);
    const auto time = [&](Bytes size, CollectiveAlgorithm a) {
        return simulate_collective(net, request(t, CollectiveKind::all_reduce, size, a)).time.value();
    };
    CHECK(time(gigabytes(1), CollectiveAlgorithm::tree) == Approx(0.020028).epsilon(1e-9));
    CHECK(time(gigabytes(1), CollectiveAlgorithm::ring) == Approx(0.017528).epsilon(1e-9));
    CHECK(time(Bytes(8.0), CollectiveAlgorithm::tree) == Approx(28e-6).epsilon(1e-3));
    CHECK(time(Bytes(8.0), CollectiveAlgorithm::tree) >= time(Bytes(8.0), CollectiveAlgorithm::ring) * (1 - 1e-6));
}

TEST_CASE("Hierarchical all-reduce with one GPU per node equals the inter-node ring") {
    // k = 1: no intra-node phases; the inter-node ring moves 2(N−1)/N · S over NICs of 50 GB/s:
    // 4 nodes, S = 1 GB: 1.5 · 1e9 / 5e10 = 0.03 s plus 6 steps of route latency.
    ChipFigures f;
    const Topology t = build_topology(cluster(4, 1, f));
    MaxMinNetwork net(t);
    const CollectiveResult ring = simulate_collective(net, request(t, CollectiveKind::all_reduce, gigabytes(1), CollectiveAlgorithm::ring));
    const CollectiveResult hier = simulate_collective(net, request(t, CollectiveKind::all_reduce, gigabytes(1), CollectiveAlgorithm::hierarchical));
    CHECK(hier.time.value() == Approx(ring.time.value()));
    CHECK(ring.time.value() == Approx(0.03).epsilon(0.01));
}

TEST_CASE("Broadcast and send-recv move S at the slowest link's rate") {
    // Single node, B = 100 GB/s: send of 1 GB = α + 1e9/1e11 = 2 µs + 10 ms; pipelined broadcast the same
    // bandwidth term plus (n−1) hops of latency: 10 ms + 7 · 2 µs.
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    MaxMinNetwork net(t);
    CollectiveRequest send;
    send.kind = CollectiveKind::send_recv;
    send.size = gigabytes(1);
    send.ranks = {t.gpu(0), t.gpu(5)};
    CHECK(simulate_collective(net, send).time.value() == Approx(0.01 + 2e-6));
    CollectiveRequest bcast = request(t, CollectiveKind::broadcast, gigabytes(1), std::nullopt);
    bcast.root = 3;
    CHECK(simulate_collective(net, bcast).time.value() == Approx(0.01 + 7 * 2e-6));
}

TEST_CASE("Bus bandwidth factors follow NCCL's definitions") {
    CHECK(bus_bandwidth_factor(CollectiveKind::all_reduce, 8) == Approx(1.75));
    CHECK(bus_bandwidth_factor(CollectiveKind::reduce_scatter, 8) == Approx(0.875));
    CHECK(bus_bandwidth_factor(CollectiveKind::all_gather, 4) == Approx(0.75));
    CHECK(bus_bandwidth_factor(CollectiveKind::all_to_all, 2) == Approx(0.5));
    CHECK(bus_bandwidth_factor(CollectiveKind::broadcast, 16) == Approx(1.0));
}

TEST_CASE("A collective task under the engine takes as long as the standalone plan") {
    // Ring all-reduce on one node has no pipelined-latency term, so running every step's flows on the engine
    // must give the symmetric shortcut's time (to a picosecond per step of rounding).
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    MaxMinNetwork standalone(t);
    const CollectiveRequest req = request(t, CollectiveKind::all_reduce, bytes(64e6), CollectiveAlgorithm::ring);
    const CollectiveResult expected = simulate_collective(standalone, req);
    Engine engine;
    MaxMinNetwork live(t);
    engine.add_model(live);
    TaskSpec task;
    task.name = "allreduce";
    const TaskId id = add_collective_task(engine, live, plan_collective(t, req, CollectiveAlgorithm::ring), task);
    engine.run();
    CHECK(engine.finish_time(id)->to_seconds().value() == Approx(expected.time.value()).epsilon(1e-6));
}

TEST_CASE("Bad collective requests are rejected with what to change") {
    const Topology t = build_topology(cluster(8, 8, closed_form_chip()));
    MaxMinNetwork net(t);
    CollectiveRequest r = request(t, CollectiveKind::all_to_all, gigabytes(1), CollectiveAlgorithm::ring);
    CHECK_THROWS_WITH(simulate_collective(net, r), Catch::Contains("has no ring algorithm"));
    CHECK_THROWS_AS(simulate_collective(net, r), AlgorithmUnsupportedError);
    r = request(t, CollectiveKind::send_recv, gigabytes(1), std::nullopt);
    CHECK_THROWS_WITH(simulate_collective(net, r), Catch::Contains("exactly 2 ranks"));
    r = request(t, CollectiveKind::all_reduce, gigabytes(1), CollectiveAlgorithm::hierarchical);
    CHECK_THROWS_WITH(simulate_collective(net, r), Catch::Contains("at least 2 nodes"));
    CHECK_THROWS_AS(simulate_collective(net, r), AlgorithmUnsupportedError);
    r = request(t, CollectiveKind::all_reduce, gigabytes(1), std::nullopt);
    r.ranks.push_back(r.ranks.front());
    CHECK_THROWS_AS(simulate_collective(net, r), Error);
    // A request's own mistakes are not the algorithm's, even with one named: the CLI names --algorithm only on
    // AlgorithmUnsupportedError (it blamed the flag for every error, session 51's audit).
    r = request(t, CollectiveKind::all_reduce, gigabytes(1), CollectiveAlgorithm::ring);
    r.ranks.push_back(r.ranks.front());
    bool algorithm_blamed = false;
    bool request_blamed = false;
    try {
        (void)simulate_collective(net, r);
    } catch (const AlgorithmUnsupportedError&) {
        algorithm_blamed = true;
    } catch (const Error& e) {
        request_blamed = true;
        CHECK_THAT(e.message(), Catch::Contains("twice"));
    }
    CHECK_FALSE(algorithm_blamed);
    CHECK(request_blamed);
}

TEST_CASE("All-to-all across N nodes reaches one NIC's rate × N/(N−1) on every multi-node fabric (issue #15)") {
    // nccl-tests (issues #130, #267, shared/reference/fleet-and-microbenchmarks.md): across N nodes of 8 GPUs,
    // one NIC each, the network share decides an all-to-all's time. Each GPU sends S/(8N) to each of 8N ranks;
    // (N−1)/N of its S leaves the node, and the node's 8 NICs carry those 8 × S(N−1)/N bytes evenly, S(N−1)/N
    // each: T = S(N−1)/N / B_nic and algbw = S/T = B_nic × N/(N−1) (NVLink at 450 GB/s is never the limit).
    // With B_nic = 50 GB/s: N = 2 → 100, 4 → 66.7, 8 → 57.1, 16 → 53.3 GB/s. On multi-plane and rail-optimized
    // fabrics a GPU reaches another rail through NVLink first (PXN); destination-based ECMP alone put the sender's
    // own NIC on half the paths and gave exactly 2/3 of this.
    ChipFigures f;
    const Bytes size = gibibytes(1);
    for (const Fabric fabric : {Fabric::fat_tree, Fabric::multi_plane, Fabric::rail_optimized}) {
        for (const int nodes : {2, 4, 8, 16}) {
            ClusterSpec spec = cluster(8 * nodes, 8, f, fabric);
            spec.planes = 8;
            const Topology t = build_topology(spec);
            MaxMinNetwork net(t);
            const PhaseResult r = net.run_all_to_all(t.gpus(), size / static_cast<double>(8 * nodes));
            const double algbw = size.value() / (r.time - r.max_latency).value();
            const double expected = 50e9 * nodes / (nodes - 1.0);
            INFO(to_string(fabric) << ", " << nodes << " nodes: algbw " << algbw / 1e9 << " GB/s");
            CHECK(algbw == Approx(expected).epsilon(0.05));
        }
    }
}

TEST_CASE("DeepSeek-V3's EP64 dispatch and combine take DeepEP's measured times on 8 nodes of H800 (issue #15)") {
    // DeepEP's normal kernels (shared/reference/fleet-and-microbenchmarks.md): H800, one 400 Gb/s NIC per GPU,
    // 4,096 tokens per GPU, hidden 7,168, top-8 experts on at most 4 nodes; EP64 dispatch 51 GB/s, combine 50 GB/s
    // of RDMA bottleneck bandwidth ⇒ dispatch 2.1–2.4 ms, combine 4.1–4.7 ms (the reference's derivation).
    // Bytes per GPU as the step sends them: 4096 × 8 copies × 7,168, deduplicated per node — at most 4 nodes of 8
    // copies: × 4/8 (step_passes.cpp, dispatch_factor) — FP8 dispatch at 1.03125 B per element (ops_test),
    // BF16 combine at 2 B: dispatch 121,110,528 B, combine 234,881,024 B, spread over the 64 ranks.
    // Expected with a NIC of 50 GB/s × 0.90 = 45 GB/s (the H800 catalog's efficiency until session 17; today's 0.97
    // gives 2.18 and 4.24 ms, also inside DeepEP's ranges): 7/8 of each buffer leaves the node, so
    // dispatch = 121.1 MB × 7/8 / 45 GB/s = 2.35 ms, combine = 234.9 MB × 7/8 / 45 GB/s = 4.57 ms (+ latency).
    // The step runs it node-forwarded (S unmerged, node_merge 4/8): the same NIC bytes, 0.5 × 8 × S/64 to each of 7
    // nodes; its NVLink relay moves 7 × 8 × S/64 = 7S/8 per GPU at 200 × 0.80 = 160 GB/s, 1.3 and 2.6 ms, under
    // the NIC's times: the same figures.
    ChipFigures f;
    f.nvlink_gbps = 200;
    f.scale_up_efficiency = 0.80;
    f.nic_efficiency = 0.90;
    ClusterSpec spec = cluster(64, 8, f, Fabric::multi_plane);
    spec.planes = 8;
    const Topology t = build_topology(spec);
    MaxMinNetwork net(t);
    const double copies = 4096.0 * 8 * 7168 * 4.0 / 8.0;
    const double pairs_dispatch = net.run_all_to_all(t.gpus(), Bytes(copies * 1.03125 / 64)).time.value();
    const double pairs_combine = net.run_all_to_all(t.gpus(), Bytes(copies * 2.0 / 64)).time.value();
    CollectiveRequest r = request(t, CollectiveKind::all_to_all, Bytes(copies * 2.0 * 1.03125), CollectiveAlgorithm::node_forwarded);
    r.node_merge = 0.5;
    const double dispatch = simulate_collective(net, r).time.value();
    r.size = Bytes(copies * 2.0 * 2.0);
    const double combine = simulate_collective(net, r).time.value();
    INFO("dispatch " << dispatch * 1e3 << " ms, combine " << combine * 1e3 << " ms (uniform pairs: " << pairs_dispatch * 1e3
                     << ", " << pairs_combine * 1e3 << " ms)");
    for (const double d : {dispatch, pairs_dispatch}) {
        CHECK(d == Approx(2.35e-3).epsilon(0.02));
        CHECK(d > 2.1e-3);
        CHECK(d < 2.4e-3);
    }
    for (const double c : {combine, pairs_combine}) {
        CHECK(c == Approx(4.57e-3).epsilon(0.02));
        CHECK(c > 4.1e-3);
        CHECK(c < 4.7e-3);
    }
}

TEST_CASE("A node-forwarded all-to-all sends once per node over RDMA and relays over NVLink (DeepEP's normal kernels)") {
    // 2 nodes × 4 GPUs (n = 8, M = 2, g = 4), S = 8 GB per rank, merge f = 0.25. Plan: rank i of each node sends
    // f·g·S/n = 0.25 · 4 · 1 GB = 1 GB to rank i of the other node (8 flows) and M·S/n = 2 GB to each other rank of
    // its own node (4 × 3 = 12 flows per node, 24): 32 flows, one phase.
    ChipFigures f;
    f.nvlink_gbps = 100;
    const Topology t = build_topology(cluster(8, 4, f));
    CollectiveRequest r = request(t, CollectiveKind::all_to_all, gigabytes(8), CollectiveAlgorithm::node_forwarded);
    r.node_merge = 0.25;
    const CollectivePlan plan = plan_collective(t, r, CollectiveAlgorithm::node_forwarded);
    REQUIRE(plan.phases.size() == 1);
    const auto& flows = std::get<FlowSet>(plan.phases[0].traffic).flows;
    REQUIRE(flows.size() == 32);
    int remote = 0;
    for (const FlowSpec& flow : flows) {
        const int a = t.vertex(flow.src).node, b = t.vertex(flow.dst).node;
        CHECK(flow.size.value() == Approx(a != b ? 1e9 : 2e9));
        if (a != b) {
            ++remote;
            // The same position in the other node: GPU index + 4 or − 4.
            const auto at = [&](VertexId v) { return std::find(t.gpus().begin(), t.gpus().end(), v) - t.gpus().begin(); };
            CHECK(std::abs(at(flow.src) - at(flow.dst)) == 4);
        }
    }
    CHECK(remote == 8);
    // Timing. Each GPU's NIC (50 GB/s) carries 1 GB out: 20 ms; its NVLink port (100 GB/s) 3 × 2 GB = 6 GB: 60 ms,
    // the bound. Plus two route latencies (the relay's hop; pipeline_hops 2), the longest route GPU–NIC–leaf–NIC–GPU
    // being a few µs: 60 ms within 0.1 %.
    MaxMinNetwork net(t);
    const CollectiveResult res = simulate_collective(net, r);
    CHECK(res.algorithm == CollectiveAlgorithm::node_forwarded);
    CHECK(res.time.value() == Approx(0.060).epsilon(0.001));
    // With NVLink at 450 GB/s (6 GB: 13.3 ms) the NIC bounds it: 1 GB / 50 GB/s = 20 ms; direct with every pair
    // scaled by f moves the same NIC bytes (4 remote peers × f · S/n = 1 GB), so the same time.
    const Topology fast = build_topology(cluster(8, 4, ChipFigures{}));
    MaxMinNetwork fast_net(fast);
    r.ranks = fast.gpus();
    CHECK(simulate_collective(fast_net, r).time.value() == Approx(0.020).epsilon(0.001));
    CHECK(fast_net.run_all_to_all(fast.gpus(), Bytes(8e9 * 0.25 / 8)).time.value() == Approx(0.020).epsilon(0.001));
    // Sent once per GPU (gpu_merge 0.75): the relay carries M × 0.75 × S/n = 1.5 GB to each peer, 4.5 GB per NVLink
    // port at 100 GB/s: 45 ms, still above the NIC's 20 ms; the RDMA flows keep their 1 GB.
    r.ranks = t.gpus();
    r.gpu_merge = 0.75;
    const CollectivePlan merged = plan_collective(t, r, CollectiveAlgorithm::node_forwarded);
    for (const FlowSpec& flow : std::get<FlowSet>(merged.phases[0].traffic).flows) {
        CHECK(flow.size.value() == Approx(t.vertex(flow.src).node != t.vertex(flow.dst).node ? 1e9 : 1.5e9));
    }
    CHECK(simulate_collective(net, r).time.value() == Approx(0.045).epsilon(0.001));
    r.gpu_merge = 0.25;
    // One node: every pair at once with S/n × gpu_merge (DeepEP's intranode kernels; nothing to forward).
    const Topology one = build_topology(cluster(4, 4, f));
    r.ranks = one.gpus();
    const CollectivePlan inside = plan_collective(one, r, CollectiveAlgorithm::node_forwarded);
    REQUIRE(inside.phases.size() == 1);
    CHECK(std::get<AllPairs>(inside.phases[0].traffic).bytes_per_pair.value() == Approx(8e9 * 0.25 / 4));
    r.gpu_merge = 1.0;
    // The merge is a share of copies.
    r.node_merge = 0.0;
    CHECK_THROWS_WITH(plan_collective(one, r, CollectiveAlgorithm::node_forwarded), Catch::Contains("outside (0, 1]"));
    r.node_merge = 1.5;
    CHECK_THROWS_WITH(plan_collective(one, r, CollectiveAlgorithm::node_forwarded), Catch::Contains("outside (0, 1]"));
    r.node_merge = 1.0;
    r.gpu_merge = -0.5;
    CHECK_THROWS_WITH(plan_collective(one, r, CollectiveAlgorithm::node_forwarded), Catch::Contains("GPU merge -0.5 is outside (0, 1]"));
    r.gpu_merge = 1.0;
    r.kind = CollectiveKind::all_reduce;
    r.node_merge = 1.0;
    CHECK_THROWS_WITH(plan_collective(one, r, CollectiveAlgorithm::node_forwarded), Catch::Contains("has no node-forwarded"));
}
