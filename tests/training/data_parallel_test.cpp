// Data-parallel traffic as events of the step (include/gpuhours/training/step.hpp): ZeRO-3 / FSDP full sharding
// (ParallelLayout::zero_stage 3) — per-unit parameter all-gathers before forward and backward, per-unit gradient
// reduce-scatters after backward — and gradient buckets under ZeRO 0–2, both on a data-parallel stream of their
// own; the communication volume against its closed form, the trace, what prefetching and bucketing hide, and the
// memory. (The scenario keys: tests/scenario/scenario_test.cpp.) One H100 node (4 GPUs, DP 4) and a 2-layer model
// keep each case in milliseconds. Every expected number is derived in the comment before its assertion.
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/workload/workload.hpp>

#include "../workload/models.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace gpuhours;

namespace {

std::filesystem::path catalog() { return std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios"; }

// `gpus` H100s (scenarios/chips/h100.toml) on one NVSwitch node.
ClusterSpec node(int gpus) {
    ClusterSpec c;
    c.chip = load_chip("h100", catalog());
    c.gpus = gpus;
    c.gpus_per_node = gpus;
    c.fabric = Fabric::single_node;
    c.nic_bandwidth = c.chip.nic_bandwidth;
    c.nic_latency = c.chip.nic_latency;
    return c;
}

// Llama-style, 2 layers, hidden 1024, 8 heads of 128, 2 KV heads, SwiGLU 4096, vocabulary 32,000, untied. Its
// parameters, by hand:
//   a layer: Q and O 2 × 1024² = 2,097,152; K and V 2 × 1024 × 256 = 524,288; MLP 3 × 1024 × 4096 = 12,582,912;
//            two RMSNorms 2 × 1024 = 2,048; in all 15,206,400;
//   embedding 32,000 × 1024 = 32,768,000; head 32,768,000 plus the final norm's 1,024.
//   Ψ = 2 × 15,206,400 + 32,768,000 + 32,768,000 + 1,024 = 95,949,824.
constexpr double kParameters = 95'949'824.0;

StepSpec sharded_spec(int micro_batches, int prefetch = 1, bool reshard = true) {
    StepSpec s;
    s.model = test::llama_like(2, 1024, 8, 2, 4096, 32000);
    s.cluster = node(4);
    s.layout.data = 4;
    s.layout.zero_stage = 3;
    s.layout.prefetch = prefetch;
    s.layout.reshard_after_forward = reshard;
    s.precision.gradients = Precision::bf16;  // reduce-scatter in BF16 (FSDP MixedPrecision reduce_dtype)
    s.sequence_length = 2048;
    s.global_batch = 4 * micro_batches;
    return s;
}

// `s` moved to 16 H100s, 2 nodes of 8 on a fat-tree, with tensor parallelism `tensor` and the rest data parallel;
// the same micro-batches per replica.
StepSpec two_nodes(StepSpec s, int tensor) {
    const int micro_batches = s.global_batch / s.layout.data;
    s.cluster = node(16);
    s.cluster.gpus_per_node = 8;
    s.cluster.fabric = Fabric::fat_tree;
    s.layout.tensor = tensor;
    s.layout.data = 16 / tensor;
    s.global_batch = s.layout.data * micro_batches;
    return s;
}

double data_volume(const StepResult& r) { return r.breakdown.volume[static_cast<std::size_t>(CommAxis::data)].value(); }
double data_on_link(const StepResult& r) { return r.breakdown.on_link[static_cast<std::size_t>(CommAxis::data)].value(); }
double data_exposed(const StepResult& r) { return r.breakdown.exposed[static_cast<std::size_t>(CommAxis::data)].value(); }

}  // namespace

TEST_CASE("ZeRO-3 moves three times the parameter bytes per micro-batch over the data-parallel group", "[step][zero3]") {
    // The model's count first (the closed form above), so the volume below is checked against a number derived
    // without the simulator.
    CHECK(count_parameters(test::llama_like(2, 1024, 8, 2, 4096, 32000)).total == Approx(kParameters));
    // ZeRO-3 (Rajbhandari et al. 2020, §7.2.2: "3Ψ" per step, against 2Ψ for data parallelism): every unit's
    // BF16 parameters are all-gathered before its forward (2Ψ bytes) and again before its backward (2Ψ), and its
    // BF16 gradients reduce-scattered after it (2Ψ): 6Ψ = 575,698,944 bytes per micro-batch, in the nccl-tests
    // size convention (the whole gathered or reduced buffer) — less the head's second gather: the head is the
    // last unit of the forward and keeps its weights for the backward right after (FSDP2 does not reshard its
    // root module after forward), 2 × 32,769,024 B. Per micro-batch: 575,698,944 − 65,538,048 = 510,160,896 B.
    constexpr double kHead = 32'769'024.0;
    const double per_micro_batch = 3.0 * 2.0 * kParameters - 2.0 * kHead;
    const StepResult one = simulate_step(sharded_spec(1));
    CHECK(data_volume(one) == Approx(per_micro_batch).epsilon(1e-12));
    // Each micro-batch gathers and reduces again (FSDP resharding after forward, ZeRO-3's per-micro-batch
    // reduce-scatter): 3 micro-batches, 3 × that.
    const StepResult three = simulate_step(sharded_spec(3));
    CHECK(data_volume(three) == Approx(3.0 * per_micro_batch).epsilon(1e-12));
    // Without resharding after forward (FSDP SHARD_GRAD_OP) the backward needs no second gather: 2 × 2Ψ.
    const StepResult kept = simulate_step(sharded_spec(1, 1, false));
    CHECK(data_volume(kept) == Approx(2.0 * 2.0 * kParameters).epsilon(1e-12));
    // ZeRO-1 for comparison: one gradient reduce-scatter (2Ψ) and one parameter all-gather (2Ψ) per step, however
    // many micro-batches.
    StepSpec zero1 = sharded_spec(3);
    zero1.layout.zero_stage = 1;
    CHECK(data_volume(simulate_step(zero1)) == Approx(2.0 * 2.0 * kParameters).epsilon(1e-12));
}

namespace {

// Rank 0's trace events on `stream`, by start time.
std::vector<const TraceEvent*> on_stream(const StepResult& r, const std::string& stream) {
    std::vector<const TraceEvent*> out;
    for (const TraceEvent& e : r.trace) {
        if (e.stream == stream && e.rank == 0) out.push_back(&e);
    }
    std::sort(out.begin(), out.end(), [](const TraceEvent* a, const TraceEvent* b) { return a->start < b->start; });
    return out;
}

}  // namespace

TEST_CASE("ZeRO-3's trace shows each unit's gathers and reduce-scatter on the data-parallel streams", "[step][zero3]") {
    // Units: the embedding, 2 layers, the head = 4. Per micro-batch: 4 gathers before the forward, 3 before the
    // backward (not the head's), 4 reduce-scatters; 2 micro-batches on the one simulated GPU: 14 gathers on the
    // "dp" stream and 8 reduce-scatters on "dp reduce" (FSDP2's separate streams), each naming its unit.
    StepSpec s = sharded_spec(2);
    s.record_trace = true;
    const StepResult r = simulate_step(s);
    const auto gathers = on_stream(r, "dp");
    const auto reductions = on_stream(r, "dp reduce");
    CHECK(gathers.size() == 14);
    CHECK(reductions.size() == 8);
    for (const TraceEvent* e : gathers) CHECK(e->name.find("param all-gather (") != std::string::npos);
    for (const TraceEvent* e : reductions) CHECK(e->name.find("grad reduce-scatter (") != std::string::npos);
    int head_gathers = 0;
    for (const TraceEvent* e : gathers) head_gathers += e->name.ends_with("(head)") ? 1 : 0;
    CHECK(head_gathers == 2);  // one per micro-batch, before its forward
    // Each stream is serial: its events never overlap.
    for (const auto* list : {&gathers, &reductions}) {
        for (std::size_t i = 1; i < list->size(); ++i) CHECK((*list)[i]->start >= (*list)[i - 1]->end);
    }
}

TEST_CASE("without prefetch every ZeRO-3 gather is exposed — prefetching one unit hides part of them", "[step][zero3]") {
    // prefetch 0: a unit's gather is issued only once the previous unit's compute is done, and the compute waits
    // for it. Reduce-scatters run on their own stream beside the backward; only the last one (the embedding's,
    // the last unit of the backward) holds up the optimizer. With one micro-batch and no pipeline nothing else
    // runs, so the exposed data-parallel time is every gather plus that last reduce-scatter, read from the trace,
    // and the step is compute + optimizer + that.
    StepSpec spec = sharded_spec(1, 0);
    spec.record_trace = true;
    const StepResult serial = simulate_step(spec);
    double gathers = 0.0;
    for (const TraceEvent* e : on_stream(serial, "dp")) gathers += (e->end - e->start).to_seconds().value();
    const auto reductions = on_stream(serial, "dp reduce");
    REQUIRE(!reductions.empty());
    const TraceEvent& last = *reductions.back();
    CHECK(last.name.ends_with("(embedding)"));
    const double exposed = gathers + (last.end - last.start).to_seconds().value();
    CHECK(data_exposed(serial) == Approx(exposed).epsilon(1e-9));
    const double expected = serial.breakdown.compute.value() + serial.breakdown.optimizer.value() + exposed;
    CHECK(serial.step_time.value() == Approx(expected).epsilon(1e-9));
    // prefetch 1: the same collectives (same volume), but the next unit's gather runs while this unit computes, so
    // less is exposed and the step is shorter by what was hidden. (Their time on the link differs: a gather that
    // overlaps a reduce-scatter shares the links with it and lasts longer, processor_sharing_test.cpp.)
    const StepResult ahead = simulate_step(sharded_spec(1, 1));
    CHECK(data_volume(ahead) == Approx(data_volume(serial)));
    CHECK(data_exposed(ahead) < 0.9 * data_exposed(serial));
    CHECK(ahead.step_time.value() == Approx(serial.step_time.value() - (data_exposed(serial) - data_exposed(ahead))).epsilon(1e-9));
}

TEST_CASE("ZeRO-3 memory holds the prefetched units and, without resharding, every unit's weights", "[step][zero3]") {
    // The largest unit is the embedding or the head, 32,768,000 (+1,024 for the head's norm) parameters; BF16.
    // prefetch 2: the unit computing and 2 ahead, 3 × 32,769,024 × 2 B of gather buffers, and that unit's whole
    // gradients (BF16 here) waiting for its reduce-scatter, 32,769,024 × 2 B: 4 × 32,769,024 × 2 = 262,152,192 B;
    // the sharded parameters Ψ × 2 B / 4.
    const MicroBatchShape shape{2048, 1, AttentionMask::causal};
    StepSpec s = sharded_spec(1, 2);
    MemoryBreakdown m = memory_per_gpu(s.model, s.layout, s.precision, shape);
    CHECK(m.buffers.value() == Approx(4.0 * 32'769'024.0 * 2.0));
    CHECK(m.parameters.value() == Approx(kParameters * 2.0 / 4.0));
    // reshard_after_forward = false keeps each unit's gathered weights until its backward: at the end of the
    // forward every unit is whole, Ψ × 2 B, and no gather buffer is counted apart; the gradients' buffer stays.
    s = sharded_spec(1, 1, false);
    m = memory_per_gpu(s.model, s.layout, s.precision, shape);
    CHECK(m.parameters.value() == Approx(kParameters * 2.0));
    CHECK(m.buffers.value() == Approx(32'769'024.0 * 2.0));
}

TEST_CASE("symmetric and full modes agree on a ZeRO-3 step across nodes", "[step][zero3]") {
    // 16 H100s, 2 nodes of 8 on a fat-tree, TP 2 (inside a node) × DP 8: each data-parallel group (stride 2) has 4
    // GPUs in each node, so every gather and reduce-scatter crosses the NICs with the other TP rank's group beside
    // it — the concurrency symmetric mode times each collective with. A unit's reduce-scatter also runs beside the
    // next unit's gather (two data-parallel streams) on the same NICs: full mode shares the links flow by flow,
    // symmetric mode shares its rank's links between the two as one processor-sharing server (each at 1/2 while
    // both run). Before that sharing symmetric mode was 9.8 % faster here (and 23-32 % on a 512-GPU Llama 3.1 70B
    // FSDP step); now it is within a few per cent, a little slower (it shares the collectives' latency too, where
    // full mode shares only their bytes): measured +3.1 % at prefetch 0, +2.6 % at prefetch 1. Both move the same
    // volume.
    for (const int prefetch : {0, 1}) {
        StepSpec s = two_nodes(sharded_spec(2, prefetch), 2);
        const StepResult sym = simulate_step(s);
        s.mode = SimulationMode::full;
        const StepResult full = simulate_step(s);
        INFO("prefetch " << prefetch);
        CHECK(full.simulated_ranks == 16);
        CHECK(sym.step_time.value() == Approx(full.step_time.value()).epsilon(0.04));
        CHECK(data_volume(full) == Approx(data_volume(sym)).epsilon(1e-12));
        // Ψ / 2 per GPU under TP 2 (the norms are replicated, not split: close, not equal), 3 × 2 B per micro-batch
        // less the head's second gather (H / 2 × 2 B), 2 micro-batches: about 2 × (3Ψ − H) bytes.
        CHECK(data_volume(sym) == Approx(2.0 * (3.0 * kParameters - 32'769'024.0)).epsilon(0.01));
    }
}

TEST_CASE("hybrid sharding gathers inside a node and all-reduces the reduced shard across nodes", "[step][zero3]") {
    // 16 H100s, 2 nodes of 8 on a fat-tree, DP 16, ZeRO-3 with shard_group 8 (FSDP HYBRID_SHARD: one node per
    // shard group, two replicas). Per micro-batch, per GPU: the gathers before forward and backward, 2Ψ bytes each,
    // and the reduce-scatter, 2Ψ, all inside the node; then each unit's reduced eighth, 2Ψ / 8, all-reduced with
    // the other node's GPU at the same position: 6Ψ + Ψ/4 = 6.25Ψ bytes per micro-batch, less the head's second
    // gather (2 × 32,769,024 B).
    StepSpec s = two_nodes(sharded_spec(1), 1);
    const StepResult full_shard = simulate_step(s);
    s.layout.shard_group = 8;
    s.record_trace = true;
    const StepResult hybrid = simulate_step(s);
    CHECK(data_volume(hybrid) == Approx(6.25 * kParameters - 2.0 * 32'769'024.0).epsilon(1e-12));
    // One replica all-reduce per unit (4 units) per micro-batch, on the data-parallel stream.
    int replica = 0;
    for (const TraceEvent& e : hybrid.trace) {
        if (e.name.find("grad replica all-reduce (") != std::string::npos && e.rank == 0) ++replica;
    }
    CHECK(replica == 4);
    // Full sharding over the 16 GPUs moves 6Ψ. (Here, with a NIC per GPU and two nodes, its rings cross the
    // nodes on 8 NICs at once and are about as fast as the node's; hybrid sharding's extra all-reduces then cost
    // more than they save: measured 2.23 ms on the link against 2.00 ms. Its gain is at scale, where full
    // sharding's collectives span hundreds of nodes.)
    CHECK(data_volume(full_shard) == Approx(6.0 * kParameters - 2.0 * 32'769'024.0).epsilon(1e-12));
    // Memory: dense parameters sharded over the 8 GPUs of the shard group, not 16.
    const MemoryBreakdown m = memory_per_gpu(s.model, s.layout, s.precision, MicroBatchShape{2048, 1, AttentionMask::causal});
    CHECK(m.parameters.value() == Approx(kParameters * 2.0 / 8.0));
}

TEST_CASE("under hybrid sharding symmetric mode shares a rank's NIC and its node's links apart, as full mode does", "[step][zero3]") {
    // The hybrid case above (gathers and reduce-scatters inside each node, the replica all-reduce across the two
    // nodes), one micro-batch of 512 tokens so that the collectives weigh against the compute. Symmetric mode shares
    // a rank's data-parallel collectives on two processor-sharing servers: its node's links (gathers, reduce-
    // scatters) and its NIC (the replica all-reduces); one server for all (a first version) made a gather and a
    // replica all-reduce that overlap each run at half pace, though in full mode their flows take different links:
    // symmetric came out 8.0 % above full mode on a Llama 3.1 8B case (a reviewer's read), and here 7.4 %. Now +2.9 %.
    StepSpec s = two_nodes(sharded_spec(1), 1);
    s.sequence_length = 512;
    s.layout.shard_group = 8;
    const StepResult sym = simulate_step(s);
    s.mode = SimulationMode::full;
    const StepResult full = simulate_step(s);
    CHECK(full.simulated_ranks == 16);
    CHECK(sym.step_time.value() == Approx(full.step_time.value()).epsilon(0.04));
    CHECK(data_volume(full) == Approx(data_volume(sym)).epsilon(1e-12));
}

TEST_CASE("DualPipe sums the gradients of its two copies of each layer over the mirror pair before the optimizer", "[step][dualpipe]") {
    // DualPipe on 2 stages: rank 0 runs stage 0 (layer 0, the embedding) for one direction's micro-batches and
    // stage 1 (layer 1, the final norm and the head) for the other's; rank 1 the other way round. Each holds all Ψ
    // parameters, and each copy's gradients count one direction only: DeepSeek's reference adds the mirror's before
    // the optimizer. One replica (DP 1), ZeRO-0, BF16 gradients: an all-reduce of both chunks' parameters × 2 B over
    // the pair, the only data-parallel traffic, at the step's end (nothing left to hide it): all of it exposed, 2Ψ
    // bytes. (Until session 50 the sum took stage 0's chunk twice, the embedding and layer 0, 47,974,400 × 2 =
    // Ψ − 1,024 by this model's symmetry, so the test read it as Ψ less the final norm.)
    StepSpec s = sharded_spec(4);
    s.cluster = node(2);
    s.layout.data = 1;
    s.layout.pipeline = 2;
    s.layout.zero_stage = 0;
    s.layout.schedule = Schedule::dualpipe;
    s.global_batch = 4;
    const StepResult sym = simulate_step(s);
    CHECK(data_volume(sym) == Approx(2.0 * kParameters).epsilon(1e-12));
    CHECK(data_exposed(sym) > 0.0);
    CHECK(data_exposed(sym) == Approx(data_on_link(sym)).epsilon(1e-9));
    // Full mode runs the same pair as one collective over both GPUs: the same step (the pair is the whole cluster).
    s.mode = SimulationMode::full;
    const StepResult full = simulate_step(s);
    CHECK(full.step_time.value() == Approx(sym.step_time.value()).epsilon(1e-9));
    CHECK(data_volume(full) == Approx(data_volume(sym)).epsilon(1e-12));
    // Tied embeddings: the head's weights are the embedding's, a copy on a pipeline rank without the embedding; here
    // both ranks hold both, so the pair sums the tensor once: Ψ less the head's 32,768,000, 2 × (Ψ − 32,768,000)
    // bytes (it would sum the copy too, as memory held it twice until session 50).
    StepSpec tied = s;
    tied.mode = SimulationMode::symmetric;
    tied.model.tied_embeddings = true;
    CHECK(data_volume(simulate_step(tied)) == Approx(2.0 * (kParameters - 32'768'000.0)).epsilon(1e-12));
    // ZeRO-1 over 2 replicas (4 GPUs): per GPU the gradient buckets' reduce-scatter (Ψ × 2 B, nccl-tests' whole
    // buffer; the buckets count every parameter) and the all-gather of the updated parameters (Ψ × 2 B), then the
    // pair sums its reduce-scattered half, an all-reduce of Ψ / 2 × 2 B: 4Ψ + Ψ = 5Ψ bytes.
    StepSpec z = sharded_spec(4);
    z.layout.data = 2;
    z.layout.pipeline = 2;
    z.layout.zero_stage = 1;
    z.layout.schedule = Schedule::dualpipe;
    z.global_batch = 8;
    CHECK(data_volume(simulate_step(z)) == Approx(5.0 * kParameters).epsilon(1e-12));
}

TEST_CASE("under hybrid sharding DualPipe's mirror pair sums the shard group's share, not the whole group's", "[step][dualpipe]") {
    // DualPipe on 2 stages × data 4 (8 H100 in one node), ZeRO-3. Once a stage's gradients are reduced, a rank holds
    // 1 / dense_shard_ranks of its stage's dense parameters: 1/4 under full sharding, 1/2 with shard_group 2 (FSDP
    // HYBRID_SHARD: reduce-scattered over 2, all-reduced across the 2 replicas), and the mirror pair sums that share
    // (it summed 1/(data × context) = 1/4 under both, session 49's "left" list). So the mirror all-reduce moves
    // twice the bytes with shard_group 2: its time, an all-reduce of 2 GPUs over NVLink (about 16 MB against
    // 32 MB, so bandwidth-bound: α is microseconds, the bytes tens of them), doubles within 10 %.
    StepSpec s = sharded_spec(4);
    s.cluster = node(8);
    s.layout.data = 4;
    s.layout.pipeline = 2;
    s.layout.schedule = Schedule::dualpipe;
    s.global_batch = 16;
    s.record_trace = true;
    const auto mirror_time = [](const StepResult& r) {
        for (const TraceEvent& e : r.trace) {
            if (e.name == "mirror grad all-reduce" && e.rank == 0) return (e.end - e.start).to_seconds().value();
        }
        return 0.0;
    };
    const double full_shard = mirror_time(simulate_step(s));
    s.layout.shard_group = 2;
    const double hybrid = mirror_time(simulate_step(s));
    REQUIRE(full_shard > 0.0);
    CHECK(hybrid / full_shard == Approx(2.0).epsilon(0.1));
}

// ---- gradient buckets (ZeRO 0–2) -------------------------------------------------------------------------------

TEST_CASE("gradient buckets are launched as the backward fills them, in backward order", "[step][buckets]") {
    // ZeRO-0, overlap on, buckets of 20,000,000 parameters. Units in backward order and the buckets they fill:
    //   head 32,769,024 → one bucket (12,769,024 left); layer 1 +15,206,400 = 27,975,424 → one (7,975,424 left);
    //   layer 0 +15,206,400 = 23,181,824 → one (3,181,824 left); embedding +32,768,000 = 35,949,824 → one, and
    //   the pass's end flushes the last 15,949,824.
    // Five all-reduces on the data-parallel reduction stream ("dp reduce"), 4 × 20M + 15,949,824 = Ψ parameters: with FP32 gradients the
    // volume is 4Ψ bytes, once per step whatever the micro-batch count (only the last backward reduces).
    StepSpec s = sharded_spec(2);
    s.layout.zero_stage = 0;
    s.layout.gradient_bucket = 20'000'000;
    s.precision.gradients = Precision::fp32;
    s.record_trace = true;
    const StepResult r = simulate_step(s);
    int buckets = 0;
    for (const TraceEvent& e : r.trace) {
        if (e.name.ends_with("grad bucket")) {
            ++buckets;
            CHECK(e.stream == "dp reduce");
        }
    }
    CHECK(buckets == 5);
    CHECK(data_volume(r) == Approx(4.0 * kParameters).epsilon(1e-12));
}

TEST_CASE("gradient buckets overlap the backward — without overlap the whole reduction is exposed", "[step][buckets]") {
    // One micro-batch, no pipeline, ZeRO-1 (reduce-scatter per bucket, then the parameter all-gather after the
    // optimizer). Without overlap the reduction waits for the whole backward and the compute stream has nothing
    // else to do: all of its time is exposed (and so is the all-gather's).
    StepSpec s = sharded_spec(1);
    s.layout.zero_stage = 1;
    s.layout.gradient_bucket = 20'000'000;
    s.layout.overlap_gradient_reduce = false;
    const StepResult after = simulate_step(s);
    CHECK(data_exposed(after) == Approx(data_on_link(after)).epsilon(1e-9));
    // With overlap, the buckets of the head and the layers reduce while the rest of the backward computes: the same
    // volume (Ψ gradient bytes + Ψ parameter bytes), less exposed, a shorter step by what is hidden.
    s.layout.overlap_gradient_reduce = true;
    const StepResult overlapped = simulate_step(s);
    CHECK(data_volume(overlapped) == Approx(data_volume(after)).epsilon(1e-12));
    CHECK(data_exposed(overlapped) < 0.9 * data_exposed(after));
    CHECK(overlapped.step_time.value() < after.step_time.value());
}

TEST_CASE("ZeRO-1's parameter all-gather runs beside the next forward, each unit's forward after its own gather (#14)", "[step]") {
    // ZeRO-1 on the 4-GPU node, 2 micro-batches. Without overlap_param_gather the updated parameters are
    // all-gathered in one collective after the optimizer (2Ψ bytes, on the communication stream), and the step
    // ends with it. With it (Megatron-Core --overlap-param-gather; NeMo's per-layer granularity) the 4 units'
    // gathers (embedding, 2 layers, head: 2Ψ in all, the same volume) are issued in order on the data-parallel
    // stream when the step starts, each unit's first forward starts no earlier than its own gather's end, the
    // second micro-batch's forward waits for none, and the step ends with the optimizer. What changes is exposed
    // data-parallel time only: the step shortens by exactly the exposed time it loses (the breakdown's identity).
    StepSpec off = sharded_spec(2);
    off.layout.zero_stage = 1;
    off.layout.overlap_param_gather = false;
    off.record_trace = true;
    StepSpec on = off;
    on.layout.overlap_param_gather = true;
    const StepResult a = simulate_step(off);
    const StepResult b = simulate_step(on);
    CHECK(data_volume(a) == Approx(2.0 * 2.0 * kParameters).epsilon(1e-12));
    CHECK(data_volume(b) == Approx(data_volume(a)).epsilon(1e-12));
    // Off: the gather follows the optimizer and ends the step.
    const auto comm = on_stream(a, "comm");
    REQUIRE(!comm.empty());
    CHECK(comm.back()->name.find("dp all-gather params") != std::string::npos);
    CHECK(comm.back()->end.to_seconds().value() == Approx(a.step_time.value()).epsilon(1e-12));
    // On: four gathers from t = 0, one after the other, each before its unit's first forward.
    const auto gathers = on_stream(b, "dp");
    REQUIRE(gathers.size() == 4);
    CHECK(gathers.front()->start.picoseconds() == 0);
    const char* units[] = {"embedding", "dense-layer 0", "dense-layer 1", "head"};
    for (std::size_t u = 0; u < 4; ++u) {
        CHECK(gathers[u]->name.ends_with(std::string("(") + units[u] + ")"));
        if (u > 0) CHECK(gathers[u]->start >= gathers[u - 1]->end);
        const auto compute = on_stream(b, "compute");
        const auto first = std::find_if(compute.begin(), compute.end(),
                                        [&](const TraceEvent* e) { return e->name == std::string("F0.c0 ") + units[u]; });
        REQUIRE(first != compute.end());
        CHECK((*first)->start >= gathers[u]->end);
    }
    for (const TraceEvent* e : on_stream(b, "comm")) CHECK(e->name.find("all-gather params") == std::string::npos);
    CHECK(b.step_time.value() < a.step_time.value());
    CHECK(a.step_time.value() - b.step_time.value() == Approx(data_exposed(a) - data_exposed(b)).epsilon(1e-6));
}

TEST_CASE("FP8 weights gathered in FP8 move 1 B per element and are cast on the shard (#14)", "[step][fp8]") {
    // The 2-layer model with FP8 GEMMs (delayed scaling) on the 4-GPU node. Its FP8 GEMMs' weights are the layers'
    // (the embedding and the head stay in BF16): per layer Q, O 2,097,152 + K, V 524,288 + MLP 12,582,912 =
    // 15,204,352, so F = 30,408,704 on every GPU.
    constexpr double kFp8Weights = 2.0 * 15'204'352.0;
    auto spec = [](int zero, bool gather) {
        StepSpec s = sharded_spec(2);
        s.layout.zero_stage = zero;
        s.precision.compute = Precision::fp8;
        s.precision.fp8_recipe = Fp8Recipe::delayed;
        s.precision.fp8_param_gather = gather;
        return s;
    };
    // ZeRO-1: one parameter all-gather per step; F of its 2Ψ bytes go at 1 B instead of 2: F bytes fewer.
    const StepResult z1 = simulate_step(spec(1, false));
    const StepResult z1_fp8 = simulate_step(spec(1, true));
    CHECK(data_volume(z1) - data_volume(z1_fp8) == Approx(kFp8Weights).epsilon(1e-9));
    // The optimizer casts the GPU's shard F/4 (recipe's weight-cast bytes c each) and re-lays out the gathered
    // copy (2 B each) instead of casting all F: its time changes by (F/4 · c + 2F − F · c) / (HBM × efficiency).
    const QuantisationBytes cast = fp8_quantisation_bytes(Fp8Recipe::delayed, true);
    const double c = cast.read + cast.written;
    const ChipProfile chip = spec(1, false).cluster.chip;
    const double bandwidth = chip.memory_bandwidth.value() * chip.efficiency.memory;
    CHECK(z1_fp8.breakdown.optimizer.value() - z1.breakdown.optimizer.value() ==
          Approx((kFp8Weights / 4.0 * c + 2.0 * kFp8Weights - kFp8Weights * c) / bandwidth).epsilon(1e-6));
    // ZeRO-3 (resharding after forward): each micro-batch gathers every layer twice (forward and backward), 2
    // micro-batches: 4F bytes fewer.
    CHECK(data_volume(simulate_step(spec(3, false))) - data_volume(simulate_step(spec(3, true))) ==
          Approx(4.0 * kFp8Weights).epsilon(1e-9));
}
