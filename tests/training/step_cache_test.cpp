// StepCache (include/gpuhours/training/step.hpp): a specification seen before is answered from memory, equal to a
// fresh simulation; any field that differs, however deep in the specification, is a new simulation; the trace
// is the one field a cached result may drop; errors are kept. Small models on the catalog's H100, so each case
// runs in milliseconds.
#include <gpuhours/units/error.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>

#include "../workload/models.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>
#include <vector>

using namespace gpuhours;

namespace {

// Llama-style 4 layers, hidden 2048, on 16 H100 (2 nodes of 8, two-tier fat-tree), TP2 PP2 DP4, 1F1B,
// 4 micro-batches per replica: a step of a few hundred tasks with tensor, pipeline and data traffic.
StepSpec small_spec() {
    StepSpec s;
    s.model = test::llama_like(4, 2048, 16, 4, 8192, 32000);
    s.cluster.chip = load_chip("h100", std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios");
    s.cluster.gpus = 16;
    s.cluster.gpus_per_node = 8;
    s.cluster.fabric = Fabric::fat_tree;
    s.cluster.nic_bandwidth = s.cluster.chip.nic_bandwidth;
    s.cluster.nic_latency = s.cluster.chip.nic_latency;
    s.layout.tensor = 2;
    s.layout.pipeline = 2;
    s.layout.data = 4;
    s.sequence_length = 2048;
    s.global_batch = 4 * 4;  // data × micro-batch 1 × 4 micro-batches per replica
    return s;
}

}  // namespace

TEST_CASE("a step asked for twice is simulated once and answered with the same result", "[step][cache]") {
    StepCache cache;
    const StepSpec spec = small_spec();
    const StepResult fresh = simulate_step(spec);
    const StepResult first = cache.simulate(spec);
    const StepResult second = cache.simulate(spec);
    // The simulation is deterministic, so the cached answer equals an independent simulation exactly.
    CHECK(first.step_time == fresh.step_time);
    CHECK(second.step_time == fresh.step_time);
    CHECK(second.breakdown.bubble == fresh.breakdown.bubble);
    CHECK(second.mfu_causal == fresh.mfu_causal);
    CHECK(second.tasks == fresh.tasks);
    CHECK(cache.counts().simulated == 1);
    CHECK(cache.counts().reused == 1);
}

TEST_CASE("a step that differs in any field, however deep, is simulated anew", "[step][cache]") {
    StepCache cache;
    const StepSpec base = small_spec();
    (void)cache.simulate(base);
    StepSpec slower_gemm = base;  // a field three levels down: cluster.chip.efficiency.gemm
    slower_gemm.cluster.chip.efficiency.gemm *= 0.5;
    StepSpec more_micro_batches = base;
    more_micro_batches.global_batch *= 2;
    StepSpec other_nic = base;  // a field the bucket hash does not read
    other_nic.cluster.nic_bandwidth = other_nic.cluster.nic_bandwidth * 0.5;
    const StepResult a = cache.simulate(slower_gemm);
    const StepResult b = cache.simulate(more_micro_batches);
    const StepResult c = cache.simulate(other_nic);
    CHECK(cache.counts().simulated == 4);
    CHECK(cache.counts().reused == 0);
    // Halving GEMM efficiency roughly doubles GEMM time: the step must be slower, not the cached base.
    CHECK(a.step_time > cache.simulate(base).step_time);
    CHECK(b.step_time == simulate_step(more_micro_batches).step_time);
    CHECK(c.step_time == simulate_step(other_nic).step_time);
}

TEST_CASE("a traced result answers an untraced request without its trace, not the other way round", "[step][cache]") {
    StepCache cache;
    StepSpec traced = small_spec();
    traced.record_trace = true;
    const StepSpec untraced = small_spec();
    const StepResult with_trace = cache.simulate(traced);
    REQUIRE_FALSE(with_trace.trace.empty());
    const StepResult without = cache.simulate(untraced);
    CHECK(without.trace.empty());
    CHECK(without.step_time == with_trace.step_time);
    CHECK(cache.counts().simulated == 1);
    CHECK(cache.counts().reused == 1);

    StepCache other;
    (void)other.simulate(untraced);
    const StepResult later = other.simulate(traced);  // an untraced result cannot supply the trace
    CHECK_FALSE(later.trace.empty());
    CHECK(other.counts().simulated == 2);
}

TEST_CASE("a step that cannot run throws its error every time it is asked for", "[step][cache]") {
    StepCache cache;
    StepSpec spec = small_spec();
    // DualPipe needs at least 2 × pipeline micro-batches per replica (here 2 × 2 = 4 > 2 given).
    spec.layout.schedule = Schedule::dualpipe;
    spec.global_batch = spec.layout.data * 2;
    CHECK_THROWS_AS(cache.simulate(spec), Error);
    CHECK_THROWS_AS(cache.simulate(spec), Error);
    CHECK(cache.counts().simulated == 1);
    CHECK(cache.counts().reused == 1);
}

TEST_CASE("threads asking for the same step at once get one simulation", "[step][cache]") {
    StepCache cache;
    const StepSpec spec = small_spec();
    std::vector<double> times(4, 0.0);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < times.size(); ++i) {
        threads.emplace_back([&, i] { times[i] = cache.simulate(spec).step_time.value(); });
    }
    for (auto& t : threads) t.join();
    for (double t : times) CHECK(t == times.front());
    CHECK(cache.counts().simulated == 1);
    CHECK(cache.counts().reused == 3);
}

TEST_CASE("collective times kept across steps answer only steps of the same cluster, network and placement", "[step][cache]") {
    const StepSpec a = small_spec();
    StepSpec longer = a;  // the same collectives, twice the micro-batches
    longer.global_batch = 2 * a.global_batch;
    StepSpec slower = a;  // the same placement on NICs of half the bandwidth: every cross-node time changes
    slower.cluster.nic_bandwidth = a.cluster.nic_bandwidth * 0.5;
    StepSpec reordered = a;  // data innermost: other ranks form each group
    reordered.layout.order = "dp-tp-cp-ep-pp";
    StepSpec efficient = a;  // a kernel efficiency (the Monte Carlo's kind of input): compute only
    efficient.cluster.chip.efficiency.gemm *= 0.9;

    CommTimeCache times;
    const auto table = [&](const StepSpec& s) { return times.table_for(s, build_topology(s.cluster)); };
    CHECK(table(a) == table(longer));
    CHECK(table(a) == table(efficient));
    CHECK(table(a) != table(slower));
    CHECK(table(a) != table(reordered));
    // Every step through one cache equals its own simulation exactly (a time kept under too coarse a key would
    // hand `slower` or `reordered` the times of `a`, whose cross-node traffic is faster or on other ranks).
    for (const StepSpec* s : std::vector<const StepSpec*>{&a, &longer, &slower, &reordered, &efficient}) {
        const StepResult shared = simulate_step(*s, &times);
        const StepResult own = simulate_step(*s);
        CHECK(shared.step_time == own.step_time);
        CHECK(shared.breakdown.exposed == own.breakdown.exposed);
    }
    CHECK(simulate_step(slower).step_time != simulate_step(a).step_time);
}

TEST_CASE("layouts that differ only in expert parallelism share the times of their sends and groups without experts",
          "[step][cache]") {
    // A small MoE (4 layers, 16 routed experts, top-4, one shared) on 32 H100 (4 nodes of 8): PP 2 × DP 16 with EP
    // 2, 4 or 16 (each divides data × context = 16); a stage is 2 nodes, so its data ring and EP 16 cross them. The
    // data, pipeline and tensor groups and the pipeline sends are the same ranks in all three (Placement::rank_of
    // reads no expert degree), the expert all-to-alls are not.
    StepSpec ep2 = small_spec();
    ep2.model.moe = MoeSpec{16, 1, 4, 1024, 0, 0};
    ep2.cluster.gpus = 32;
    ep2.layout.tensor = 1;
    ep2.layout.data = 16;
    ep2.layout.expert = 2;
    ep2.global_batch = 16 * 4;
    StepSpec ep16 = ep2;
    ep16.layout.expert = 16;
    StepSpec ep4 = ep2;
    ep4.layout.expert = 4;
    StepSpec more_data = ep2;  // PP 1 × DP 32: other data groups and no sends; must not share
    more_data.layout.pipeline = 1;
    more_data.layout.data = 32;
    more_data.global_batch = 32 * 4;
    // TP 2 × DP 8 with data innermost: the data groups are other ranks than under the default order (data strided
    // by the tensor degree); the two must not share.
    StepSpec tp2 = ep2;
    tp2.layout.tensor = 2;
    tp2.layout.data = 8;
    tp2.layout.sequence_parallel = true;
    tp2.global_batch = 8 * 4;
    StepSpec reordered = tp2;
    reordered.layout.order = "dp-tp-cp-ep-pp";

    CommTimeCache times;
    const auto tables = [&](const StepSpec& s) { return times.tables_for(s, build_topology(s.cluster)); };
    CHECK(tables(ep2).dense == tables(ep16).dense);
    CHECK(tables(ep2).dense == tables(ep4).dense);
    CHECK(tables(ep2).all != tables(ep16).all);
    CHECK(tables(ep2).dense != tables(more_data).dense);
    CHECK(tables(tp2).dense != tables(reordered).dense);
    // Without experts the two tables are one: the full placement is the dense one.
    const StepSpec dense = small_spec();
    CHECK(tables(dense).all == tables(dense).dense);

    // Every step through the one cache, in an order where each finds the others' times, equals its own simulation
    // to the last bit: a time kept under too coarse a key (an all-to-all under the dense key, or another data group)
    // would differ.
    for (const StepSpec* s : std::vector<const StepSpec*>{&ep2, &ep16, &ep4, &more_data, &tp2, &reordered, &ep2}) {
        const StepResult shared = simulate_step(*s, &times);
        const StepResult own = simulate_step(*s);
        CHECK(shared.step_time == own.step_time);
        CHECK(shared.breakdown.exposed == own.breakdown.exposed);
        CHECK(shared.breakdown.on_link == own.breakdown.on_link);
    }
    // The layouts' expert all-to-alls do differ (EP 2 inside a node, EP 16 over two), so the shared dense times did
    // not make them equal.
    CHECK(simulate_step(ep2).breakdown.on_link != simulate_step(ep16).breakdown.on_link);
    // Nor are the reordered data groups the same traffic (8 ranks strided over the stage's two nodes, against one
    // node's 8), so a dense key without the order would have been caught above.
    CHECK(simulate_step(tp2).breakdown.on_link != simulate_step(reordered).breakdown.on_link);
}

TEST_CASE("steps through one cache share the topology of their cluster, built once and kept by content", "[step][cache]") {
    const StepSpec a = small_spec();
    StepSpec efficient = a;  // a GEMM efficiency: not read by the topology's builder, so the same graph
    efficient.cluster.chip.efficiency.gemm *= 0.9;
    StepSpec slower = a;  // NICs of half the bandwidth: other links
    slower.cluster.nic_bandwidth = a.cluster.nic_bandwidth * 0.5;

    CommTimeCache times;
    const std::shared_ptr<const Topology> first = times.topology_for(a.cluster);
    REQUIRE(first != nullptr);
    CHECK(times.topology_for(a.cluster) == first);          // asked again: the one built
    CHECK(times.topology_for(efficient.cluster) == first);  // another cluster, the same graph: kept once
    const std::shared_ptr<const Topology> other = times.topology_for(slower.cluster);
    CHECK(other != first);
    CHECK(other->links() != first->links());  // its NIC cables at half the bandwidth
    // The shared topology is the builder's own, link for link (16 GPUs: 2 nodes of 8 with their NVSwitch and NICs).
    const Topology fresh = build_topology(a.cluster);
    CHECK(first->links() == fresh.links());
    CHECK(first->vertex_count() == fresh.vertex_count());
    // Past kMaxBuilt other topologies, the first is built anew (a different object, equal in content).
    for (std::size_t k = 1; k <= CommTimeCache::kMaxBuilt; ++k) {
        StepSpec s = a;
        s.cluster.nic_bandwidth = a.cluster.nic_bandwidth * (1.0 + 0.1 * static_cast<double>(k));
        (void)times.topology_for(s.cluster);
    }
    const std::shared_ptr<const Topology> again = times.topology_for(a.cluster);
    CHECK(again != first);
    CHECK(again->links() == first->links());
    // And a step through the cache equals its own simulation.
    CHECK(simulate_step(efficient, &times).step_time == simulate_step(efficient).step_time);
}
