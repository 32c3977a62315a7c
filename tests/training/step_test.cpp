// The step simulator (include/gpuhours/training/step.hpp): symmetric against full mode, the compute-only pipeline closed
// form, DualPipe's all-to-all overlap, the breakdown's accounting identity, recomputation, MFU, traces,
// determinism and errors. Models are small (4–8 layers, hidden 1024–4096) so every case runs in milliseconds;
// the chip is the catalog's H100 SXM5 (scenarios/chips/h100.toml). Every expected number or relation is derived
// in the comment before its assertion.
#include <gpuhours/engine/engine.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/schedule.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/workload/workload.hpp>

#include "../workload/models.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace gpuhours;

namespace {

std::filesystem::path catalog() { return std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios"; }

// The catalog's H100 SXM5: 989.4 TFLOP/s BF16, 1978.9 FP8, 3.35 TB/s HBM at 0.85, NVLink 450 GB/s per direction
// at 0.80 with 3.33 µs latency, a 400 Gb/s NIC per GPU at 0.90 with 2.8 µs latency, 132 SMs. Its kernel-launch
// figures are set to zero, so that a pass is the sum of its ops' kernel times as the closed forms below assume; the
// launch model has its own tests (launch_test.cpp).
ChipProfile h100() {
    ChipProfile chip = load_chip("h100", catalog());
    chip.launch_host = Seconds(0.0);
    chip.launch_gap = Seconds(0.0);
    return chip;
}

// `gpus` H100s, 8 per node (fewer when the cluster is one smaller node), on a two-tier fat-tree of 64-port
// switches (a leaf serves 32 NICs = 4 nodes) or one NVSwitch node.
ClusterSpec cluster(int gpus, Fabric fabric = Fabric::fat_tree) {
    ClusterSpec c;
    c.chip = h100();
    c.gpus = gpus;
    c.gpus_per_node = std::min(gpus, 8);
    c.fabric = fabric;
    c.nic_bandwidth = c.chip.nic_bandwidth;
    c.nic_latency = c.chip.nic_latency;
    return c;
}

// A dense Llama-style model: GQA, SwiGLU, RMSNorm, RoPE, untied embeddings.
ModelSpec dense_model(int layers, int hidden, int ffn, int vocab) {
    return test::llama_like(layers, hidden, hidden / 128, std::max(1, hidden / 512), ffn, vocab);
}

// A small MoE: 4 layers, all MoE, 16 routed experts (top-4) of intermediate 1024 plus one shared expert.
ModelSpec moe_model() {
    ModelSpec m = test::llama_like(4, 2048, 16, 16, 8192, 32000);
    m.moe = MoeSpec{16, 1, 4, 1024, 0, 0};
    return m;
}

StepSpec spec_for(ModelSpec model, ClusterSpec cl, ParallelLayout layout, int micro_batches_per_replica,
                  int sequence_length = 2048) {
    StepSpec s;
    s.model = std::move(model);
    s.cluster = std::move(cl);
    s.layout = std::move(layout);
    s.sequence_length = sequence_length;
    s.global_batch = s.layout.data * s.layout.micro_batch * micro_batches_per_replica;
    return s;
}

ParallelLayout layout(int tensor, int pipeline, int data) {
    ParallelLayout l;
    l.tensor = tensor;
    l.pipeline = pipeline;
    l.data = data;
    return l;
}

// compute + recompute + optimizer + Σ exposed + bubble of one breakdown.
Seconds accounted(const StepBreakdown& b) { return b.compute + b.recompute + b.optimizer + b.exposed_total() + b.bubble; }

double exposed(const StepBreakdown& b, CommAxis axis) { return b.exposed[static_cast<std::size_t>(axis)].value(); }
double on_link(const StepBreakdown& b, CommAxis axis) { return b.on_link[static_cast<std::size_t>(axis)].value(); }

// One node of p GPUs whose NVLink is so fast (1 PB/s, 1 ns) that a pipeline send of a few MB takes nanoseconds:
// the compute-only regime of the schedule's closed forms.
ClusterSpec fast_node(int gpus) {
    ClusterSpec c = cluster(gpus, Fabric::single_node);
    c.chip.scale_up_bandwidth = BytesPerSecond(1e15);
    c.chip.scale_up_latency = Seconds(1e-9);
    return c;
}

// One node of `gpus` GPUs whose NVLink is made slow (1 GB/s, 1 ns): every collective over it outlasts the compute
// overlapped with it, so an overlap saves exactly that compute.
ClusterSpec slow_node(int gpus) {
    ClusterSpec c = cluster(gpus, Fabric::single_node);
    c.chip.scale_up_bandwidth = BytesPerSecond(1e9);
    c.chip.scale_up_latency = Seconds(1e-9);
    return c;
}

// Forward and backward time of one transformer layer of `model` on one GPU under `l`, from the kernel model.
BlockTime layer_time(const StepSpec& s) {
    const MicroBatchShape shape{s.sequence_length, s.layout.micro_batch, AttentionMask::causal};
    const Block block = layer_ops(s.model, 0, s.layout, s.precision, shape);
    return time_block(block, KernelContext{s.cluster.chip, s.precision.compute, Precision::bf16, 0});
}

// Forward and backward time of one micro-batch through pipeline stage `stage` (its layers, and the embedding or
// the final norm, head and loss where the stage holds them), from the kernel model: what the step simulator
// puts on that stage's compute stream for an F and a B when no collective splits them.
struct StagePasses {
    double forward = 0.0;
    double backward = 0.0;
};
StagePasses stage_passes(const StepSpec& s, int stage) {
    const MicroBatchShape shape{s.sequence_length, s.layout.micro_batch, AttentionMask::causal};
    const StageAssignment a = assign_stages(s.model, s.layout).at(static_cast<std::size_t>(stage));
    const KernelContext context{s.cluster.chip, s.precision.compute, Precision::bf16, 0};
    StagePasses out;
    for (const Block& block : model_ops(s.model, s.layout, s.precision, shape)) {
        const bool held = (block.kind == BlockKind::embedding && a.embedding) ||
                          (block.kind == BlockKind::head && a.head) ||
                          std::find(a.layers.begin(), a.layers.end(), block.layer) != a.layers.end();
        if (!held || block.kind == BlockKind::mtp) continue;
        const BlockTime t = time_block(block, context);
        out.forward += t.forward.value();
        out.backward += t.backward().value();
    }
    return out;
}

}  // namespace

// ---- symmetric against full ------------------------------------------------------------------------------------

TEST_CASE("symmetric and full modes agree within 1% with TP 8 inside nodes and PP and DP across nodes", "[step]") {
    // 64 H100s = 8 nodes × 8 on a fat-tree, TP 8 (one node, sequence parallel) × PP 2 × DP 4, 1F1B, 8 micro-batches
    // of one 2,048-token sequence per replica; 4 dense layers of hidden 4096. Rank order tp-cp-ep-dp-pp: stage 0
    // is nodes 0–3 (leaf 0), stage 1 nodes 4–7 (leaf 1); a DP group (stride 8) is one GPU in each of 4 nodes.
    // Symmetric mode times every collective once with all groups of its kind in the stage running at once, which
    // is what happens in the full simulation as long as collectives of different kinds do not share a link at the
    // same moment. Here the only such overlap is stage 1's gradient all-reduce with its last pipeline send to
    // stage 0 (both leave stage 1's NICs). Symmetric mode times that send alone (sim/training/step.cpp p2p_time); in full
    // mode it shares its NIC with the flows the all-reduce's tree puts there and takes several times as
    // long. With sequence parallelism the send is 2048 × 4096 × 2 B / 8 = 2.1 MB, 47 µs at 45 GB/s: +0.14 ms on
    // a 35 ms step (measured: full 0.38% longer). Without sequence parallelism it is 16.8 MB, 373 µs alone, and
    // full mode is 1.1 ms (2.8%) longer: a limit of symmetry (collectives of different kinds are never timed
    // together), not a bug, and the reason this case runs with sequence parallelism.
    ParallelLayout l = layout(8, 2, 4);
    l.sequence_parallel = true;
    StepSpec spec = spec_for(dense_model(4, 4096, 14336, 32000), cluster(64), l, 8);
    const StepResult sym = simulate_step(spec);
    spec.mode = SimulationMode::full;
    const StepResult full = simulate_step(spec);
    // Symmetric simulates one GPU per stage, full all 64.
    CHECK(sym.simulated_ranks == 2);
    CHECK(full.simulated_ranks == 64);
    CHECK(full.step_time.value() == Approx(sym.step_time.value()).epsilon(0.01));
    // Kernels are timed the same way in both modes: mean compute per GPU is identical (up to picosecond rounding).
    CHECK(full.breakdown.compute.value() == Approx(sym.breakdown.compute.value()).epsilon(1e-9));
    // The same with the tensor-parallel collectives overlapped with their GEMMs (launched on the communication
    // stream, awaited later): full mode runs each as one task per group, symmetric as one per simulated rank.
    spec.layout.tp_comm_overlap = true;
    spec.mode = SimulationMode::symmetric;
    const StepResult sym_overlap = simulate_step(spec);
    spec.mode = SimulationMode::full;
    const StepResult full_overlap = simulate_step(spec);
    CHECK(full_overlap.step_time.value() == Approx(sym_overlap.step_time.value()).epsilon(0.01));
    // The overlap hides tensor-parallel traffic; the step is not shorter for it at this size: the overlapped GEMMs run
    // as Transformer Engine's chunks (2,048 / 8 = 256 rows beside a ring exchange, a quarter of the columns beside a
    // pipelined reduce-scatter), whose tiles fill the waves worse than the whole GEMM's (35.67 against 34.88 ms).
    CHECK(exposed(sym_overlap.breakdown, CommAxis::tensor) < exposed(sym.breakdown, CommAxis::tensor));
}

TEST_CASE("symmetric and full modes agree within 1% with data parallelism across nodes under ZeRO-1", "[step]") {
    // 64 H100s, TP 4 (half a node, sequence parallel) × PP 2 × DP 8, ZeRO-1 (gradient reduce-scatter, parameter
    // all-gather), 1F1B with 4 micro-batches; 8 layers of hidden 2048. A DP group (stride 4) has 2 GPUs on each of
    // 4 nodes, so every gradient reduce-scatter and parameter all-gather crosses the NICs, with the 4 groups of a
    // stage (one per TP rank) sharing them: the concurrency symmetric mode assumes.
    ParallelLayout l = layout(4, 2, 8);
    l.sequence_parallel = true;
    l.zero_stage = 1;
    StepSpec spec = spec_for(dense_model(8, 2048, 8192, 32000), cluster(64), l, 4);
    const StepResult sym = simulate_step(spec);
    spec.mode = SimulationMode::full;
    const StepResult full = simulate_step(spec);
    // Measured: full 0.25% longer.
    CHECK(full.step_time.value() == Approx(sym.step_time.value()).epsilon(0.01));
    // The data-parallel traffic is real and on the NICs: its exposed time (the compute stream waiting for the
    // reduce-scatter and the all-gather) is at least 10% of the step in both modes.
    CHECK(exposed(sym.breakdown, CommAxis::data) > 0.1 * sym.step_time.value());
    CHECK(exposed(full.breakdown, CommAxis::data) == Approx(exposed(sym.breakdown, CommAxis::data)).epsilon(0.01));
}

TEST_CASE("A full-mode step reports its progress to the thread's StepProgressScope and is not changed by it", "[step]") {
    // The 64-GPU layout of the first case above in full mode with 32 micro-batches per replica: each engine task
    // takes a start and a finish event, so 2 × tasks ≥ Engine::kProgressEvents (65,536) events mean at least one
    // report. Each report is the share of tasks finished at that moment: in (0, 1), never
    // falling. The result does not depend on being watched; without a scope nothing is reported, and a nested scope
    // reports in place of the outer one until it ends.
    ParallelLayout l = layout(8, 2, 4);
    l.sequence_parallel = true;
    StepSpec spec = spec_for(dense_model(4, 4096, 14336, 32000), cluster(64), l, 32);
    spec.mode = SimulationMode::full;
    CHECK(StepProgressScope::current() == nullptr);
    const StepResult alone = simulate_step(spec);
    std::vector<double> outer_reports, inner_reports;
    StepResult watched;
    {
        const StepProgressScope outer([&](double share) { outer_reports.push_back(share); });
        {
            const StepProgressScope inner([&](double share) { inner_reports.push_back(share); });
            watched = simulate_step(spec);
        }
        REQUIRE(StepProgressScope::current() != nullptr);
        CHECK(outer_reports.empty());
        (void)simulate_step(spec);
    }
    CHECK(StepProgressScope::current() == nullptr);
    CHECK(watched.step_time == alone.step_time);
    CHECK(watched.breakdown.compute == alone.breakdown.compute);
    REQUIRE(2 * alone.engine_tasks >= Engine::kProgressEvents);
    REQUIRE_FALSE(inner_reports.empty());
    CHECK(outer_reports == inner_reports);  // the same step, the same events
    CHECK(std::is_sorted(inner_reports.begin(), inner_reports.end()));
    CHECK(inner_reports.front() > 0.0);
    CHECK(inner_reports.back() < 1.0);
}

TEST_CASE("DeepEP-style dispatch sends a token once per node its experts sit on: the all-to-all carries the expected "
          "distinct nodes per token (#15)", "[step]") {
    // 32 H100s = 4 nodes of 8, TP 1 × PP 1 × DP 32 with EP 16: rank order tp-cp-ep-dp-pp puts rank 0's expert group
    // on ranks 0–15, nodes 0 and 1, 8 of the model's 16 routed experts on each; top-4 routing, no node limit.
    // alltoall sends a token's 4 copies. DeepEP-style, node j is missed only when all 4 experts come from the other
    // node's 8: C(8, 4) / C(16, 4) = 70 / 1820; distinct nodes per token D = 2 × (1 − 70/1820) = 1.923077, so the
    // all-to-all carries D / 4 = 0.4807692 of the copies (every dispatch and combine, forward and backward).
    ParallelLayout l = layout(1, 1, 32);
    l.expert = 16;
    StepSpec spec = spec_for(moe_model(), cluster(32), l, 2);
    const auto expert_volume = [](const StepResult& r) { return r.breakdown.volume[static_cast<std::size_t>(CommAxis::expert)].value(); };
    REQUIRE(spec.layout.moe_dispatcher == MoeDispatcher::deepep);  // the default
    const StepResult deepep = simulate_step(spec);
    spec.layout.moe_dispatcher = MoeDispatcher::alltoall;
    const StepResult alltoall = simulate_step(spec);
    REQUIRE(expert_volume(alltoall) > 0.0);
    CHECK(expert_volume(deepep) == Approx(expert_volume(alltoall) * 2.0 * (1.0 - 70.0 / 1820.0) / 4.0).epsilon(1e-12));
    CHECK(deepep.step_time < alltoall.step_time);
    // Node-limited routing to one node (M = 1 < 2 nodes): a token reaches the M nodes chosen for their experts,
    // min(M, k) / k = 1/4 of the copies under deepep; alltoall keeps them all.
    spec.model.moe->max_nodes_per_token = 1;
    spec.layout.moe_dispatcher = MoeDispatcher::deepep;
    CHECK(expert_volume(simulate_step(spec)) == Approx(expert_volume(alltoall) / 4.0).epsilon(1e-12));
    spec.layout.moe_dispatcher = MoeDispatcher::alltoall;
    CHECK(expert_volume(simulate_step(spec)) == expert_volume(alltoall));
    // A limit the group does not exceed (M = 2 on its 2 nodes) leaves routing over every expert: the uniform figure.
    spec.model.moe->max_nodes_per_token = 2;
    spec.layout.moe_dispatcher = MoeDispatcher::deepep;
    CHECK(expert_volume(simulate_step(spec)) == Approx(expert_volume(deepep)).epsilon(1e-12));
    spec.model.moe->max_nodes_per_token = 0;
    // 64 routed experts on the same 16 GPUs: 32 per node, e_j ≠ the node's GPUs. D = 2 (1 − C(32, 4) / C(64, 4)) =
    // 2 (1 − 35,960 / 635,376); the all-to-all carries D / 4 = 0.4717018 of what alltoall sends with the same model.
    {
        StepSpec wide = spec;
        wide.model.moe->routed_experts = 64;
        wide.layout.moe_dispatcher = MoeDispatcher::alltoall;
        const double all = expert_volume(simulate_step(wide));
        wide.layout.moe_dispatcher = MoeDispatcher::deepep;
        CHECK(expert_volume(simulate_step(wide)) == Approx(all * 2.0 * (1.0 - 35960.0 / 635376.0) / 4.0).epsilon(1e-12));
    }
    // A group unevenly over its nodes: 24 GPUs (3 nodes), DP 24 with EP 12 puts rank 0's group on 8 GPUs of node 0
    // and 4 of node 1 (c = 8, 4 of G = 12), holding e = 32 and 16 of 48 experts. Node 0 is hit with
    // P_0 = 1 − C(16, 4)/C(48, 4) = 1 − 1,820/194,580, node 1 with P_1 = 1 − C(32, 4)/C(48, 4) = 1 − 35,960/194,580.
    // A source on node 0 (share 2/3) sends 4 · 1/3 copies across nodes with alltoall and P_1 with DeepEP; one on
    // node 1 (1/3) sends 4 · 2/3 and P_0. The factor keeping the bytes across nodes: (2/3 · P_1 + 1/3 · P_0) /
    // (4 · (2/3 · 1/3 + 1/3 · 2/3)) = 0.4914431.
    {
        StepSpec uneven = spec_for(moe_model(), cluster(24), layout(1, 1, 24), 2);
        uneven.model.moe->routed_experts = 48;
        uneven.layout.expert = 12;
        uneven.layout.moe_dispatcher = MoeDispatcher::alltoall;
        const double all = expert_volume(simulate_step(uneven));
        uneven.layout.moe_dispatcher = MoeDispatcher::deepep;
        const double p0 = 1.0 - 1820.0 / 194580.0, p1 = 1.0 - 35960.0 / 194580.0;
        const double factor = (2.0 / 3.0 * p1 + 1.0 / 3.0 * p0) / (4.0 * (2.0 / 3.0 * 1.0 / 3.0 + 1.0 / 3.0 * 2.0 / 3.0));
        CHECK(factor == Approx(0.4914431).epsilon(1e-6));
        CHECK(expert_volume(simulate_step(uneven)) == Approx(all * factor).epsilon(1e-12));
    }
    // The step runs the deepep all-to-all node-forwarded (collective.hpp): seen where NVLink is the bound. With
    // NVLink cut to 25 GB/s per direction (the NIC: 50), alltoall's pairs put 7 × S/16 = 0.4375 S on a GPU's NVLink
    // port against S/2 on its NIC, NVLink-bound (0.4375 / 25 > 0.5 / 50 at any efficiencies within 10 % of each
    // other). Forwarded, each GPU relays M × S/n = 2S/16 to each of 7 peers, 0.875 S, still NVLink-bound: twice
    // alltoall's time (each GPU holds 1 of the 16 experts, so the GPU merge is 1). Uniform pairs scaled by the
    // dispatch factor would have put 0.48 × 0.4375 S there instead. Latency pulls the ratio a little below 2.
    {
        StepSpec slow = spec;
        slow.model.moe->max_nodes_per_token = 0;
        slow.layout.expert = 16;
        slow.cluster.chip.scale_up_bandwidth = gigabytes_per_second(25);
        slow.layout.moe_dispatcher = MoeDispatcher::alltoall;
        const double pairs_time = on_link(simulate_step(slow).breakdown, CommAxis::expert);
        slow.layout.moe_dispatcher = MoeDispatcher::deepep;
        const double forwarded_time = on_link(simulate_step(slow).breakdown, CommAxis::expert);
        INFO("expert time on the link with slow NVLink, deepep / alltoall: " << forwarded_time / pairs_time);
        CHECK(forwarded_time / pairs_time == Approx(2.0).epsilon(0.05));
    }
    // Node-limited routing to nodes holding fewer experts than a token needs: TP 4 puts the EP-16 group's members 4
    // ranks apart, 2 per node over 8 nodes (128 GPUs), 2 experts per node; with M = 1 a token's 4 experts cannot
    // come from one node's 2. The GPU merge then takes every expert of the reached node (its 2 GPUs hit, P = 1/8
    // each, f_GPU = 1/8 × 16/4 = 0.5) instead of dividing by zero: the step stays finite.
    {
        StepSpec sparse = spec_for(moe_model(), cluster(128), layout(4, 1, 32), 2);
        sparse.layout.expert = 16;
        sparse.model.moe->max_nodes_per_token = 1;
        const StepResult r = simulate_step(sparse);
        CHECK(std::isfinite(r.step_time.value()));
        CHECK(on_link(r.breakdown, CommAxis::expert) > 0.0);
    }
    // A limit that spreads tokens wider than routing without it would (an MoE audit, session 50): 64 GPUs = 8 nodes,
    // EP 64, 64 routed experts (8 per node), top-4. Unlimited, a node is missed with C(56, 4) / C(64, 4) =
    // 367,290 / 635,376, so D = 8 × (1 − 0.5780671) = 3.375463 nodes and f = D / 4 = 0.8438657 (equal nodes).
    // M = 4 of 8 would say min(4, 4) / 4 = 1, every copy: more than no limit. A token never reaches more nodes under
    // a limit than without it, so M = 4 (or 6) carries the unlimited 0.8438657; M = 2 carries min(2, 4) / 4 = 1/2.
    {
        StepSpec wide = spec_for(moe_model(), cluster(64), layout(1, 1, 64), 2);
        wide.model.moe->routed_experts = 64;
        wide.layout.expert = 64;
        wide.layout.moe_dispatcher = MoeDispatcher::alltoall;
        const double all = expert_volume(simulate_step(wide));
        wide.layout.moe_dispatcher = MoeDispatcher::deepep;
        const double unlimited = 8.0 * (1.0 - 367290.0 / 635376.0) / 4.0;
        REQUIRE(unlimited == Approx(0.8438657).epsilon(1e-6));
        CHECK(expert_volume(simulate_step(wide)) == Approx(all * unlimited).epsilon(1e-12));
        for (const int limit : {4, 6}) {
            wide.model.moe->max_nodes_per_token = limit;
            CHECK(expert_volume(simulate_step(wide)) == Approx(all * unlimited).epsilon(1e-12));
        }
        wide.model.moe->max_nodes_per_token = 2;
        CHECK(expert_volume(simulate_step(wide)) == Approx(all * 0.5).epsilon(1e-12));
    }
    // EP 8 keeps each group inside one node: no copy crosses the network, and the volume (a rank's buffer) is
    // alltoall's. DeepEP's intranode kernels send a token once per GPU: each of the 8 GPUs holds e = 2 of the 16
    // experts and is hit with P = 1 − C(14, 4)/C(16, 4) = 1 − 1001/1820 = 0.45, where alltoall sends it k/G = 4/8
    // copies, so the pairs carry P · 8/4 = 0.9 of the bytes: every all-to-all's time falls to between 0.9 and 1 of
    // alltoall's (its latency unchanged).
    spec.model.moe->max_nodes_per_token = 0;
    spec.layout.expert = 8;
    spec.layout.moe_dispatcher = MoeDispatcher::alltoall;
    const StepResult pairs = simulate_step(spec);
    spec.layout.moe_dispatcher = MoeDispatcher::deepep;
    const StepResult once = simulate_step(spec);
    CHECK(expert_volume(once) == expert_volume(pairs));
    const double ratio = on_link(once.breakdown, CommAxis::expert) / on_link(pairs.breakdown, CommAxis::expert);
    INFO("expert time on the link, deepep / alltoall: " << ratio);
    CHECK(ratio >= 0.9);
    CHECK(ratio < 0.95);
}

// ---- compute-only pipeline ---------------------------------------------------------------------------------------

TEST_CASE("a compute-only 1F1B step matches the pipeline closed form", "[step]") {
    // PP 4 over the 4 GPUs of one node whose NVLink is made negligible (fast_node), TP 1, DP 1, 8 micro-batches of
    // one 2,048-token sequence; 8 layers of hidden 4096 (2 per stage) and a 512-token vocabulary. With uniform
    // stages of forward F and backward B per micro-batch, 1F1B ends (Narayanan et al. 2021, §2.2.1)
    //   T = (m + p − 1)·(F + B) + optimizer of stage 0,
    // stage 0 being the last to finish (its last backward is the step's last pass), and stage 0 idles
    // (p − 1)·(F + B): a bubble fraction (p − 1)/(m + p − 1) = 3/11 of the pipeline time.
    const int p = 4;
    const int m = 8;
    const StepSpec spec = spec_for(dense_model(8, 4096, 14336, 512), fast_node(p), layout(1, p, 1), m);
    const StepResult r = simulate_step(spec);
    const BlockTime lt = layer_time(spec);
    const double F = 2.0 * lt.forward.value();
    const double B = 2.0 * lt.backward().value();
    // Optimizer (sim/training/step.cpp add_optimizer, memory-bound): each of stage 0's parameters (2 layers + the
    // 512 × 4096 embedding table) touches 4 B of FP32 gradient, reads and writes 4 B of master weight and two
    // 4 B Adam moments, and writes a 2 B working copy: 30 B, at the catalog's HBM bandwidth × memory efficiency
    // (3.35 TB/s × 0.85).
    const MicroBatchShape shape{spec.sequence_length, 1, AttentionMask::causal};
    const double params = 2.0 * layer_ops(spec.model, 0, spec.layout, spec.precision, shape).parameters() + 512.0 * 4096.0;
    const ChipProfile& chip = spec.cluster.chip;
    const double optimizer = params * 30.0 / (chip.memory_bandwidth.value() * chip.efficiency.memory);
    CHECK(r.stages[0].breakdown.optimizer.value() == Approx(optimizer).epsilon(1e-6));
    // The stages are not quite uniform: stage 0 adds the embedding lookup, stage 3 the final norm, the
    // 4096 × 512 head and the loss — about 1% of a stage's F + B (under 2%, checked next). The last stage sets
    // the pace for m of the m + p − 1 slots, so the uniform closed form holds to 1% (measured 0.7%) and the
    // bubble fraction to 3%.
    const StagePasses first = stage_passes(spec, 0);
    const StagePasses middle = stage_passes(spec, 1);
    const StagePasses last = stage_passes(spec, p - 1);
    CHECK(middle.forward == Approx(F).epsilon(1e-12));
    CHECK(last.forward + last.backward < 1.02 * (F + B));
    CHECK(r.step_time.value() == Approx((m + p - 1) * (F + B) + optimizer).epsilon(0.01));
    CHECK(r.stages[0].breakdown.bubble.value() / (r.step_time.value() - optimizer) ==
          Approx(double(p - 1) / (m + p - 1)).epsilon(0.03));
    // Exactly, with the last stage the slowest (F' + B' > F + B) and never starved — stage p − 2 runs ahead of it —
    // the critical path is micro-batch 0's forward down to the last stage, that stage's m forwards and backwards
    // back to back, micro-batch m − 1's backward up to stage 0, then stage 0's optimizer:
    //   T = (F₀ + (p − 2)·F) + m·(F' + B') + ((p − 2)·B + B₀) + optimizer,
    // and stage 0's bubble is T − m·(F₀ + B₀) − optimizer. The pipeline sends on that path (2(p − 1) of 16.8 MB
    // at 1 PB/s + 1 ns ≈ 17 ns each, 0.1 µs in all) and picosecond rounding are far below the 1e-5 tolerance.
    REQUIRE(last.forward + last.backward > middle.forward + middle.backward);
    const double exact = first.forward + (p - 2) * middle.forward + m * (last.forward + last.backward) +
                         (p - 2) * middle.backward + first.backward + optimizer;
    CHECK(r.step_time.value() == Approx(exact).epsilon(1e-5));
    CHECK(r.stages[0].breakdown.bubble.value() ==
          Approx(exact - m * (first.forward + first.backward) - optimizer).epsilon(1e-5));
    // Communication is negligible by construction: the pipeline sends expose less than 10 µs in all.
    CHECK(r.breakdown.exposed_total().value() < 1e-5);
}

TEST_CASE("a step of a model with linear (lightning) attention layers runs their ops, its FLOPs in closed form (#15)", "[step]") {
    // Two layers of hidden 1024 (8 query heads of 128, 2 KV heads, SwiGLU 4096), vocabulary 512; layer 0 linear,
    // layer 1 softmax (softmax_every = 2); one GPU, 2 micro-batches of one 8,192-token sequence.
    ModelSpec model = dense_model(2, 1024, 4096, 512);
    model.attention.linear = true;
    model.attention.softmax_every = 2;
    const int m = 2;
    const int s = 8192;
    const StepSpec spec = spec_for(model, cluster(1, Fabric::single_node), layout(1, 1, 1), m, s);
    const StepResult r = simulate_step(spec);
    // Per token: GEMM weights 5·1024·1024 (linear layer: qkv 3, gate 1, out 1) + 1024·(1024 + 2·256) + 1024·1024
    // (GQA q, k, v, o) + 2·3·1024·4096 (SwiGLU) + 512·1024 (head) = 33,554,432, forward 2× that = 67,108,864; the
    // linear core 8 heads × (4·128² + 4·256·128) = 1,572,864; the causal softmax core 2·(s/2)·8·(128 + 128)
    // = 16,777,216. Training = 3 × 85,458,944 = 256,376,832 FLOPs per token, × 2 sequences of 8,192 tokens.
    CHECK(r.model_flops_causal.value() == Approx(256'376'832.0 * 2 * s).epsilon(1e-12));
    // Nothing to communicate on one GPU: the step is m forward and backward passes of the model's ops from the
    // kernel model, then the optimizer.
    const StagePasses passes = stage_passes(spec, 0);
    CHECK(r.step_time.value() ==
          Approx(m * (passes.forward + passes.backward) + r.stages[0].breakdown.optimizer.value()).epsilon(1e-6));
    // The same layers with softmax attention in both: layer 0 computes s/2 keys per query (16,777,216 instead of
    // 1,572,864 forward per token) with GQA's 2,621,440 GEMM weights instead of 5,242,880: 15,204,352 − 2 ×
    // 2,621,440 = 9,961,472 more forward FLOPs per token, × 3 × 16,384 tokens.
    ModelSpec softmax = model;
    softmax.attention.linear = false;
    const StepResult all_softmax = simulate_step(spec_for(softmax, cluster(1, Fabric::single_node), layout(1, 1, 1), m, s));
    CHECK(all_softmax.model_flops_causal.value() - r.model_flops_causal.value() ==
          Approx(3.0 * 9'961'472.0 * 2 * s).epsilon(1e-12));
    CHECK(all_softmax.step_time > r.step_time);
}

TEST_CASE("tensor-parallel communication overlap hides each GEMM's share and charges its SMs (#14)", "[step]") {
    // One node of 8 H100 (TP 8 with SP, nothing else), 2 layers of hidden 4096, one 4,096-token micro-batch. The
    // NVLink is made slow (1 GB/s, 1 ns) so that every TP collective C outlasts the GEMM G beside it. Overlapped,
    // a GEMM runs as several (Transformer Engine's userbuffers), each timed at its own shape by the kernel model:
    // beside a ring exchange t = 8 of 4,096 / 8 = 512 rows (g: one of them), beside the pipelined reduce-scatter 4
    // of a quarter of the columns (g': one, with 24 fewer SMs); then, per op,
    //   column-parallel GEMM after its all-gather, ring exchange:   C + G → max(C, 8g·7/8) + g = C + g
    //     its backward, the input gradient's reduce-scatter beside the weight gradient W (bulk): W + C → C
    //   row-parallel GEMM before its reduce-scatter, pipelined:      G + C → g' + max(C·3/4, 3g') + C/4 = g' + C
    //     its backward, the output gradient's all-gather into the input-gradient GEMM D (ring): C + D → C + d
    // so the step shortens by Σ G − g + W (column) + Σ (G − g') + D − d (row), the collectives' split costing
    // only latency (1 ns a step). A chunk is 1/8 (1/4) of the GEMM's FLOPs; it reads the operand it is not split
    // along whole: the weight (k × n) for a row chunk, the input (m × k) for a column chunk.
    const ClusterSpec cl = slow_node(8);
    ParallelLayout l = layout(8, 1, 1);
    l.sequence_parallel = true;
    const StepSpec plain = spec_for(dense_model(2, 4096, 14336, 512), cl, l, 1, 4096);
    StepSpec overlap = plain;
    overlap.layout.tp_comm_overlap = true;
    const StepResult a = simulate_step(plain);
    const StepResult b = simulate_step(overlap);
    const KernelContext full{cl.chip, Precision::bf16, Precision::bf16, 0};
    const KernelContext fewer{cl.chip, Precision::bf16, Precision::bf16, 24};
    double saving = 0.0;
    double column = 0.0;
    double row = 0.0;
    for (const Block& block : model_ops(plain.model, l, plain.precision, MicroBatchShape{4096, 1, AttentionMask::causal})) {
        for (const Op& op : block.ops) {
            if (op.kind != OpKind::gemm) continue;
            const OpTime t = time_op(op, full);
            REQUIRE(op.gemm->m == 4096);
            const double m = 4096.0, n = static_cast<double>(op.gemm->n), k = static_cast<double>(op.gemm->k);
            Op rows = op;  // one of the 8 row chunks: 512 × n × k, reading the whole weight
            rows.gemm->m = 512;
            rows.forward = op.forward / 8.0;
            rows.backward = op.backward / 8.0;
            rows.read = Bytes((k * n + 512.0 * k) * 2.0);
            rows.written = op.written / 8.0;
            rows.parameters = 0.0;
            Op columns = op;  // one of the 4 column chunks: 4,096 × n/4 × k, reading the whole input
            columns.gemm->n = (op.gemm->n + 3) / 4;
            columns.forward = op.forward / 4.0;
            columns.backward = op.backward / 4.0;
            columns.read = Bytes((m * k + k * n / 4.0) * 2.0);
            columns.written = op.written / 4.0;
            columns.parameters = 0.0;
            REQUIRE(op.read.value() == Approx((m * k + k * n) * 2.0));  // BF16 operands, as the shares above take
            if (op.before.kind == Collective::tp_all_gather) {
                saving += t.forward.time.value() - time_op(rows, full).forward.time.value() + t.backward_weight.time.value();
                ++column;
            }
            if (op.after.kind == Collective::tp_reduce_scatter) {
                saving += t.forward.time.value() - time_op(columns, fewer).forward.time.value() + t.backward_input.time.value() -
                          time_op(rows, full).backward_input.time.value();
                ++row;
            }
        }
    }
    // qkv and fc1 of each layer and the head; out and fc2 of each layer.
    CHECK(column == 5);
    CHECK(row == 4);
    CHECK(a.step_time.value() - b.step_time.value() == Approx(saving).epsilon(1e-4));
    // The same bytes cross the links; what is exposed drops by the hidden compute.
    CHECK(on_link(b.breakdown, CommAxis::tensor) == Approx(on_link(a.breakdown, CommAxis::tensor)).epsilon(1e-4));
    CHECK(exposed(b.breakdown, CommAxis::tensor) < exposed(a.breakdown, CommAxis::tensor));
}

TEST_CASE("ring context parallelism hides half the attention core behind a slow K/V exchange, all-gather exposes it (#14)", "[step]") {
    // One node of 2 H100 (CP 2, nothing else), 2 layers of hidden 4096 (32 heads, 8 KV heads of 128), one
    // 16,384-token sequence: 8,192 tokens per GPU. NVLink made slow (1 GB/s, 1 ns) so that each K/V collective
    // C (a 64 MiB all-gather, below) outlasts the attention core beside it. Per layer, A = the core's forward
    // time, B = its backward (the kernels differ: the gathered core walks all 16,384 keys per call, a ring step
    // 8,192, so the H100's attention_shape factor is 1.0 for the first and 0.986 for the second, head dim 128):
    //   all_gather: forward C + A_g; backward C (K, V again) + B_g + C (dK, dV reduce-scatter)
    //   p2p (ring, cp = 2 steps): forward max(C, A_r/2) + A_r/2 = C + A_r/2; backward both exchanges one after the
    //   other on the communication stream beside B_r/2, then B_r/2: 2C + B_r/2
    // so the ring's step is shorter by Σ over layers (A_g + B_g) − (A_r + B_r)/2, and both move the same bytes.
    const ClusterSpec cl = slow_node(2);
    ParallelLayout l = layout(1, 1, 1);
    l.context = 2;
    l.cp_comm_type = CpCommType::all_gather;
    // The context-parallel ranks hold the same weights: their gradients are reduced over data × context = 2, over
    // the slow link too; after the whole backward (no overlap), so that the step ends a fixed time after it.
    l.overlap_gradient_reduce = false;
    const StepSpec gather = spec_for(dense_model(2, 4096, 14336, 512), cl, l, 1, 16384);
    StepSpec ring = gather;
    ring.layout.cp_comm_type = CpCommType::p2p;
    const StepResult a = simulate_step(gather);
    const StepResult b = simulate_step(ring);
    const KernelContext context{cl.chip, Precision::bf16, Precision::bf16, 0};
    double saving = 0.0;
    int cores = 0;
    for (const auto& [layout, share] : {std::pair{gather.layout, 1.0}, std::pair{ring.layout, -0.5}}) {
        for (const Block& block : model_ops(gather.model, layout, gather.precision, MicroBatchShape{16384, 1, AttentionMask::causal})) {
            for (const Op& op : block.ops) {
                if (op.before.kind != Collective::cp_exchange) continue;
                const OpTime t = time_op(op, context);
                saving += share * (t.forward.time.value() + t.backward_input.time.value());
                ++cores;
            }
        }
    }
    CHECK(cores == 4);
    CHECK(a.step_time.value() - b.step_time.value() == Approx(saving).epsilon(1e-4));
    // Per layer: the forward all-gather, the backward's second all-gather and the dK/dV reduce-scatter, each of the
    // whole gathered K and V, nccl-tests size: 16,384 tokens × 8 KV heads × (128 + 128) × 2 B = 64 MiB; 3 × 2
    // layers × 64 MiB = 402,653,184 B per GPU either way.
    CHECK(a.breakdown.volume[static_cast<std::size_t>(CommAxis::context)].value() == Approx(402'653'184.0));
    CHECK(b.breakdown.volume[static_cast<std::size_t>(CommAxis::context)].value() == Approx(402'653'184.0));
    CHECK(exposed(b.breakdown, CommAxis::context) < exposed(a.breakdown, CommAxis::context));
}

TEST_CASE("shared-expert overlap hides the shared experts' compute behind a slow all-to-all (#15)", "[step]") {
    // One node of 8 H100 (EP 8 over DP 8, nothing else), the small MoE above (4 MoE layers of hidden 2,048, top-4
    // of 16 routed experts, one shared expert of 1,024), 2 micro-batches of one 4,096-token sequence per GPU. NVLink
    // made slow (1 GB/s, 1 ns), so that each all-to-all A (4,096 tokens × 4 slots × 2,048 × 2 B = 64 MiB per GPU,
    // 7/8 of it leaving the GPU: about 59 ms) outlasts the shared experts' compute S beside it (fc1: 4,096 × 2,048 ×
    // 2,048 × 2 ≈ 34 GFLOP, tens of µs). Per layer and micro-batch, with S1 = fc1 and the activation, S2 = fc2:
    //   plain:      forward A_dispatch + S1 + A_combine + S2, backward A_combine' + S2' + A_dispatch' + S1'
    //   overlapped: each pair max(A, S) = A   (S' = input- and weight-gradient time)
    // so the step is shorter by 2 micro-batches × Σ over the layers' shared ops of forward + input-gradient +
    // weight-gradient time, and the all-to-alls move the same bytes.
    const ClusterSpec cl = slow_node(8);
    ParallelLayout l = layout(1, 1, 8);
    l.expert = 8;
    l.overlap_gradient_reduce = false;  // the data-parallel all-reduce after the whole backward: a fixed tail
    const StepSpec plain = spec_for(moe_model(), cl, l, 2, 4096);
    StepSpec overlap = plain;
    overlap.layout.moe_shared_expert_overlap = true;
    const StepResult a = simulate_step(plain);
    const StepResult b = simulate_step(overlap);
    const KernelContext context{cl.chip, Precision::bf16, Precision::bf16, 0};
    double shared = 0.0;
    int ops = 0;
    for (const Block& block : model_ops(plain.model, l, plain.precision, MicroBatchShape{4096, 1, AttentionMask::causal})) {
        for (const Op& op : block.ops) {
            if (!op.name.starts_with("moe.shared.")) continue;
            const OpTime t = time_op(op, context);
            shared += t.forward.time.value() + t.backward_input.time.value() + t.backward_weight.time.value();
            ++ops;
        }
    }
    CHECK(ops == 12);  // fc1, act, fc2 in each of the 4 layers
    CHECK(a.step_time.value() - b.step_time.value() == Approx(2.0 * shared).epsilon(1e-4));
    CHECK(on_link(b.breakdown, CommAxis::expert) == Approx(on_link(a.breakdown, CommAxis::expert)).epsilon(1e-9));
    CHECK(exposed(b.breakdown, CommAxis::expert) < exposed(a.breakdown, CommAxis::expert));
}

TEST_CASE("a folded MoE layout (expert_tensor 1 under TP 2) agrees between symmetric and full modes", "[step]") {
    // 32 H100s (4 nodes), TP 2 with SP × PP 2 × DP 8, EP 16 with expert_tensor 1: EP 16 does not divide data 8, so
    // the MoE layers fold a stage's 16 ranks (tp fastest) into one expert group of 16 = the stage's two nodes;
    // every all-to-all crosses the NICs. Expert-data groups are of one rank (2 · 8 / 16). 4 micro-batches.
    ParallelLayout l = layout(2, 2, 8);
    l.sequence_parallel = true;
    l.expert = 16;
    l.expert_tensor = 1;
    StepSpec spec = spec_for(moe_model(), cluster(32), l, 4);
    const StepResult sym = simulate_step(spec);
    spec.mode = SimulationMode::full;
    const StepResult full = simulate_step(spec);
    CHECK(full.simulated_ranks == 32);
    // Full mode runs every group on the ranks placement gives it; symmetric mode times one stage's groups together
    // and each pipeline send alone. Measured with the default (deepep, node-forwarded) dispatcher: full 2.1% longer,
    // expert all-to-all on the link 2.1% longer — as unfolded layouts whose all-to-alls cross the NICs (TP 1 × DP 16
    // with EP 16: 2.5% and 4.2%; TP 2 with EP 8 over data: 2.0% and 1.5%); with the alltoall dispatcher (uniform
    // pairs) 1.3% and 1.0% (1.2/1.2, 1.8/1.5). In full mode the gradient reduction overlapped with the backward
    // shares each NIC with the all-to-all, which symmetric mode times apart; node-forwarded, a GPU's all-to-all
    // crosses its NIC as one RDMA flow per other node instead of one per remote GPU, so under max-min sharing the
    // reduction's flow takes a larger share of that NIC (a reviewer's check: NVLink 222× faster leaves the gap as it
    // is; an unbounded NIC, or the reduction not overlapped, removes it).
    CHECK(full.step_time.value() == Approx(sym.step_time.value()).epsilon(0.03));
    CHECK(on_link(full.breakdown, CommAxis::expert) == Approx(on_link(sym.breakdown, CommAxis::expert)).epsilon(0.03));
    CHECK(full.step_time > sym.step_time);
    // The same layout with the experts split over the tensor pair (expert_tensor = tensor = 2, unfolded: EP 16 over
    // data 8 is then refused, so EP 8): it adds the expert-tensor gather and reduce-scatter to the tensor axis.
    spec.mode = SimulationMode::symmetric;
    spec.layout.expert = 8;
    spec.layout.expert_tensor = 2;
    const StepResult split = simulate_step(spec);
    spec.layout.expert_tensor = 1;
    const StepResult whole = simulate_step(spec);
    CHECK(on_link(split.breakdown, CommAxis::tensor) > on_link(whole.breakdown, CommAxis::tensor));
}

// ---- DualPipe --------------------------------------------------------------------------------------------------

TEST_CASE("DualPipe exposes less all-to-all time than 1F1B on an MoE model with experts across nodes", "[step]") {
    // 32 H100s (4 nodes), PP 2 × DP 16, EP 16: an expert group is 16 consecutive ranks of a stage (TP 1), i.e.
    // two nodes, so every dispatch and combine all-to-all crosses the NICs. 8 micro-batches per replica (DualPipe
    // needs an even number ≥ 2p = 4). Same model, cluster and batch under both schedules.
    ParallelLayout l = layout(1, 2, 16);
    l.expert = 16;
    StepSpec spec = spec_for(moe_model(), cluster(32), l, 8);
    const StepResult one_f_one_b = simulate_step(spec);
    spec.layout.schedule = Schedule::dualpipe;
    const StepResult dualpipe = simulate_step(spec);
    // Both schedules run the same all-to-alls (8 micro-batches × 4 MoE layers × dispatch and combine, forward and
    // backward, per GPU), each timed once standalone in symmetric mode: the same time on the link.
    CHECK(on_link(dualpipe.breakdown, CommAxis::expert) ==
          Approx(on_link(one_f_one_b.breakdown, CommAxis::expert)).epsilon(1e-9));
    // 1F1B runs one pass at a time: while an all-to-all is in flight its compute stream has nothing else to do,
    // so every second of it is exposed.
    CHECK(exposed(one_f_one_b.breakdown, CommAxis::expert) ==
          Approx(on_link(one_f_one_b.breakdown, CommAxis::expert)).epsilon(1e-9));
    // DualPipe's F&B pairs run one direction's forward interleaved with the other's backward, so an all-to-all
    // of one hides behind the other's compute. Its middle phase is most of the step at m = 4p, so well over 10%
    // of the all-to-all time must be hidden (measured: 28%).
    CHECK(exposed(dualpipe.breakdown, CommAxis::expert) < 0.9 * exposed(one_f_one_b.breakdown, CommAxis::expert));
    // The step is shorter, less its data-parallel part (measured 37.1 ms against 51.5 ms): DualPipe holds two copies of every layer,
    // so under ZeRO-0 its gradient all-reduce over 16 replicas moves twice 1F1B's bytes and the mirror pair then sums
    // the copies' gradients, exposed at the step's end.
    const double data_extra = exposed(dualpipe.breakdown, CommAxis::data) - exposed(one_f_one_b.breakdown, CommAxis::data);
    CHECK(data_extra > 0.0);
    CHECK(dualpipe.step_time.value() - data_extra < one_f_one_b.step_time.value());
}

TEST_CASE("combined 1F1B hides expert all-to-all behind another micro-batch's compute, with and without pipelining", "[step]") {
    // The DualPipe case's model and cluster: experts over two nodes, every all-to-all across the NICs.
    // (a) PP 1 × DP 32, EP 16, 8 micro-batches: 1F1B with one stage against combined 1F1B (F0, F(i+1)&B(i), B7).
    // (b) PP 2 × DP 16, EP 16, interleaved with 2 virtual stages, 8 micro-batches: without and with combined.
    for (const int pipeline : {1, 2}) {
        INFO("pipeline " << pipeline);
        ParallelLayout l = layout(1, pipeline, 32 / pipeline);
        l.expert = 16;
        if (pipeline > 1) {
            l.schedule = Schedule::interleaved;
            l.virtual_stages = 2;
        }
        StepSpec spec = spec_for(moe_model(), cluster(32), l, 8);
        const StepResult plain = simulate_step(spec);
        spec.layout.combined_1f1b = true;
        const StepResult combined = simulate_step(spec);
        // The same all-to-alls on the link (each timed once standalone in symmetric mode) and the same compute.
        CHECK(on_link(combined.breakdown, CommAxis::expert) == Approx(on_link(plain.breakdown, CommAxis::expert)).epsilon(1e-9));
        CHECK(combined.breakdown.compute.value() == Approx(plain.breakdown.compute.value()).epsilon(1e-9));
        // Plain 1F1B (one stage) runs one pass at a time: every second of all-to-all is exposed.
        if (pipeline == 1) {
            CHECK(exposed(plain.breakdown, CommAxis::expert) == Approx(on_link(plain.breakdown, CommAxis::expert)).epsilon(1e-9));
        }
        // Combined: 7 of the 8 micro-batches' forwards run beside another's backward (one stage), so most
        // all-to-all time can hide; well over 10 % of it must (DualPipe's case hides 28 %).
        CHECK(exposed(combined.breakdown, CommAxis::expert) < 0.9 * exposed(plain.breakdown, CommAxis::expert));
        CHECK(combined.step_time < plain.step_time);
        // The step cannot beat its compute stream: compute plus bubble and whatever stays exposed.
        CHECK(combined.step_time.value() >= combined.breakdown.compute.value());
    }
}

// ---- breakdown ---------------------------------------------------------------------------------------------------

TEST_CASE("every stage's breakdown adds up to the step time", "[step]") {
    // sim/training/step.cpp collect(): a GPU's compute stream is one serial resource, so its compute, recompute and
    // optimizer tasks never overlap; every gap between them (and after the last, up to the makespan) is split
    // into the part covered by that GPU's own collectives or incoming pipeline sends (exposed, per axis) and the
    // rest (bubble). The five terms therefore partition [0, step time] for every simulated GPU, and so does their
    // mean: compute + recompute + optimizer + Σ exposed + bubble = step time, up to rounding of picosecond sums.
    struct Case {
        std::string name;
        StepSpec spec;
    };
    std::vector<Case> cases;
    {
        ParallelLayout l = layout(4, 2, 2);
        StepSpec s = spec_for(dense_model(4, 1024, 4096, 32000), cluster(16), l, 4);
        s.mode = SimulationMode::full;
        cases.push_back({"full mode, TP 4 × PP 2 × DP 2", s});
    }
    {
        ParallelLayout l = layout(1, 2, 16);
        l.expert = 16;
        l.schedule = Schedule::dualpipe;
        cases.push_back({"DualPipe MoE", spec_for(moe_model(), cluster(32), l, 8)});
    }
    {
        ParallelLayout l = layout(2, 4, 1);
        l.recompute = Recompute::full;
        l.schedule = Schedule::interleaved;
        l.virtual_stages = 2;
        cases.push_back({"interleaved, full recompute", spec_for(dense_model(8, 2048, 8192, 32000), cluster(8, Fabric::single_node), l, 4)});
    }
    {
        ParallelLayout l = layout(2, 4, 1);
        l.schedule = Schedule::zero_bubble;
        l.recompute = Recompute::selective;
        cases.push_back({"zero bubble, selective recompute", spec_for(dense_model(8, 2048, 8192, 32000), cluster(8, Fabric::single_node), l, 8)});
    }
    for (const Case& c : cases) {
        INFO(c.name);
        const StepResult r = simulate_step(c.spec);
        REQUIRE(r.stages.size() == static_cast<std::size_t>(c.spec.layout.pipeline));
        for (const StageStep& st : r.stages) {
            INFO("stage " << st.stage);
            CHECK(accounted(st.breakdown).value() == Approx(r.step_time.value()).epsilon(1e-6));
        }
        CHECK(accounted(r.breakdown).value() == Approx(r.step_time.value()).epsilon(1e-6));
        // Exposed time is part of the time on the link, never more.
        for (CommAxis a : kCommAxes) CHECK(exposed(r.breakdown, a) <= on_link(r.breakdown, a) * (1 + 1e-9));
    }
}

// ---- recomputation -----------------------------------------------------------------------------------------------

TEST_CASE("full recomputation adds one forward of every layer to the time and the hardware FLOPs", "[step]") {
    // The compute-only pipeline of the closed-form test (PP 4 on one fast node, 8 layers of hidden 4096, 2 per
    // stage), with a 32,000-token vocabulary so the head is about a quarter of the last stage's work. Full
    // recomputation (Megatron-LM --recompute-granularity full) re-runs each transformer layer's forward before
    // its backward; the embedding, head and loss sit outside the checkpointed layers and are not re-run.
    const int p = 4;
    const int m = 8;
    ParallelLayout l = layout(1, p, 1);
    l.recompute = Recompute::full;
    const StepSpec spec = spec_for(dense_model(8, 4096, 14336, 32000), fast_node(p), l, m);
    const StepResult r = simulate_step(spec);
    // Each stage re-runs the forward of its 2 layers once per micro-batch: recompute = m × 2 × F_layer on every
    // stage, the last (head) stage included — the head's forward is not part of it.
    const double f_layer = layer_time(spec).forward.value();
    for (const StageStep& st : r.stages) {
        INFO("stage " << st.stage);
        CHECK(st.breakdown.recompute.value() == Approx(m * 2 * f_layer).epsilon(1e-6));
    }
    // Every stage's B grows by the recomputed forward R = 2·F_layer (the head's stage too: the head is not re-run).
    // On the critical path of the closed-form test, T = (F₀ + (p − 2)·F) + m·(F' + B') + ((p − 2)·B + B₀) +
    // optimizer, that is m + 1 + (p − 2) = m + p − 1 backwards: the step grows by (m + p − 1)·R.
    ParallelLayout none = l;
    none.recompute = Recompute::none;
    const StepResult base = simulate_step(spec_for(spec.model, spec.cluster, none, m));
    CHECK(r.step_time.value() - base.step_time.value() == Approx((m + p - 1) * 2 * f_layer).epsilon(1e-5));

    // Hardware FLOPs = model FLOPs (causal) + the recomputed forward FLOPs of every layer, i.e. the whole
    // forward less the output head's 2·h·V per token (the embedding is a lookup without model FLOPs):
    //   hardware − model = tokens × (forward per token − 2 × 4096 × 32000).
    // Checked on a layout with tensor and data parallelism too, where sim/training/step.cpp scales each GPU's shard by the
    // GPUs of a stage (t·d) and the micro-batches.
    ParallelLayout sharded = layout(2, 2, 2);
    sharded.recompute = Recompute::full;
    // And under schedules whose stages hold several chunks: DualPipe (stage s holds chunks s and p−1−s: summing the
    // stages' local chunks counted every layer's recomputation twice) and interleaving (v = 2, 1 layer per chunk).
    ParallelLayout dual = l;
    dual.schedule = Schedule::dualpipe;
    ParallelLayout interleaved = l;
    interleaved.schedule = Schedule::interleaved;
    interleaved.virtual_stages = 2;
    for (const StepSpec& s : {spec, spec_for(spec.model, cluster(8, Fabric::single_node), sharded, 4),
                              spec_for(spec.model, fast_node(p), dual, m), spec_for(spec.model, fast_node(p), interleaved, m)}) {
        const StepResult x = simulate_step(s);
        const double tokens = static_cast<double>(s.global_batch) * s.sequence_length;
        const FlopsPerToken f = training_flops_breakdown(s.model, s.sequence_length, AttentionMask::causal);
        const double recomputed = tokens * (f.forward.value() - 2.0 * 4096.0 * 32000.0);
        CHECK(x.hardware_flops.value() == Approx(x.model_flops_causal.value() + recomputed).epsilon(1e-9));
        // HFU / MFU (both causal, same peak) = hardware / model = 1 + (forward − head)/(3 × forward) ≈ 1.31.
        CHECK(x.hfu > x.mfu_causal);
        CHECK(x.hfu / x.mfu_causal == Approx(x.hardware_flops / x.model_flops_causal).epsilon(1e-12));
    }
}

TEST_CASE("first_last_layers_bf16 runs an FP8 step's first and last layers at BF16's rate without quantisation (#14)", "[step]") {
    // One fast H100 node of 1 GPU (no collectives), 4 layers of hidden 4096, per-tensor FP8 (delayed), 2 micro-batches.
    // Kept in BF16, layers 0 and 3 lose their quantisation kernels and run their GEMMs at the BF16 peak and gemm
    // figure: each of them, per micro-batch, takes (F + B) of the layer as built under the recipe with the flag
    // (layer 0's ops) instead of (F + B) of an FP8 layer (layer 1's), so the compute stream grows by
    // 2 micro-batches × 2 layers × the difference. The launch figures are zero (h100() above).
    const int m = 2;
    StepSpec fp8 = spec_for(dense_model(4, 4096, 14336, 512), fast_node(1), layout(1, 1, 1), m);
    fp8.precision.compute = Precision::fp8;
    fp8.precision.fp8_recipe = Fp8Recipe::delayed;
    StepSpec kept = fp8;
    kept.precision.bf16_layers_at_start = 1;
    kept.precision.bf16_layers_at_end = 1;
    const MicroBatchShape shape{kept.sequence_length, 1, AttentionMask::causal};
    const KernelContext context{kept.cluster.chip, Precision::fp8, Precision::bf16, 0, Fp8Recipe::delayed};
    const Block bf16_layer = layer_ops(kept.model, 0, kept.layout, kept.precision, shape);
    const Block fp8_layer = layer_ops(kept.model, 1, kept.layout, kept.precision, shape);
    const auto quantisation = [](const Block& b) {
        return std::count_if(b.ops.begin(), b.ops.end(), [](const Op& op) { return op.name.ends_with(".quant"); });
    };
    CHECK(quantisation(bf16_layer) == 0);
    CHECK(quantisation(fp8_layer) > 0);
    CHECK(layer_ops(kept.model, 3, kept.layout, kept.precision, shape).ops.size() == bf16_layer.ops.size());
    const BlockTime b16 = time_block(bf16_layer, context);
    const BlockTime f8 = time_block(fp8_layer, context);
    const double delta = (b16.forward + b16.backward()).value() - (f8.forward + f8.backward()).value();
    CHECK(delta > 0.0);  // BF16 GEMMs at half the FP8 peak outweigh the quantisation kernels they drop
    const StepResult a = simulate_step(fp8);
    const StepResult b = simulate_step(kept);
    CHECK(b.breakdown.compute.value() - a.breakdown.compute.value() == Approx(m * 2 * delta).epsilon(1e-6));
}

// ---- FLOPs and MFU -----------------------------------------------------------------------------------------------

TEST_CASE("MFU is model FLOPs over peak times GPUs times step time", "[step]") {
    // FP8 GEMMs on 16 H100s (TP 4 × PP 2 × DP 2, 4 layers of hidden 1024, 4 micro-batches of 2,048 tokens per
    // replica: global batch 8 sequences = 16,384 tokens).
    ParallelLayout l = layout(4, 2, 2);
    StepSpec spec = spec_for(dense_model(4, 1024, 4096, 32000), cluster(16), l, 4);
    spec.precision.compute = Precision::fp8;
    const StepResult r = simulate_step(spec);
    const double gpus = 16.0;
    const double t = r.step_time.value();
    const double fp8_peak = spec.cluster.chip.peak(Precision::fp8).value();    // 1978.9e12
    const double bf16_peak = spec.cluster.chip.peak(Precision::bf16).value();  // 989.4e12
    // Model FLOPs are the workload's per-token training FLOPs times the step's tokens.
    const double tokens = 8.0 * 2048.0;
    CHECK(r.model_flops_causal.value() ==
          Approx(training_flops_per_token(spec.model, 2048, AttentionMask::causal).value() * tokens).epsilon(1e-12));
    CHECK(r.model_flops_full.value() ==
          Approx(training_flops_per_token(spec.model, 2048, AttentionMask::full).value() * tokens).epsilon(1e-12));
    // Full attention counts the other half of the s × s score and context products: 3 (forward + backward) × 2
    // products × 2·s·h/2 per layer and token = 6·L·h·s per token (PaLM's 12·L·H·Q·T is the full count).
    CHECK(r.model_flops_full.value() - r.model_flops_causal.value() ==
          Approx(6.0 * 4 * 1024 * 2048 * tokens).epsilon(1e-9));
    // The definitions, closed: MFU × peak × GPUs × step time = model FLOPs, against the compute format's peak
    // (FP8, 1978.9 TFLOP/s) and against BF16 (989.4 TFLOP/s) as DeepSeek and Llama quote.
    CHECK(r.mfu_bf16_full * bf16_peak * gpus * t == Approx(r.model_flops_full.value()).epsilon(1e-12));
    CHECK(r.mfu_bf16_causal * bf16_peak * gpus * t == Approx(r.model_flops_causal.value()).epsilon(1e-12));
    CHECK(r.mfu_full * fp8_peak * gpus * t == Approx(r.model_flops_full.value()).epsilon(1e-12));
    CHECK(r.mfu_causal * fp8_peak * gpus * t == Approx(r.model_flops_causal.value()).epsilon(1e-12));
    // So the BF16 figures are the FP8 ones times the peaks' ratio, 1978.9 / 989.4 = 2.0001.
    CHECK(r.mfu_bf16_full / r.mfu_full == Approx(fp8_peak / bf16_peak).epsilon(1e-12));
    CHECK(r.model_flops_per_gpu.value() * gpus * t == Approx(r.model_flops_causal.value()).epsilon(1e-12));
    // Without recomputation hardware FLOPs are the model FLOPs, and HFU is the causal MFU.
    CHECK(r.hardware_flops.value() == Approx(r.model_flops_causal.value()).epsilon(1e-12));
    CHECK(r.hfu == Approx(r.mfu_causal).epsilon(1e-12));
    CHECK_FALSE(r.full_square_attention);

    // Scores materialized (Megatron-LM 2021: baddbmm and bmm over the whole s × s square around a fused
    // scale-mask-softmax): the kernels execute the full count, so hardware FLOPs are the full-attention model
    // FLOPs (before, the causal ones: the masked half was neither timed nor counted).
    StepSpec square = spec;
    square.attention_kernel = AttentionKernel::materialized;
    const StepResult m = simulate_step(square);
    CHECK(m.full_square_attention);
    CHECK(m.hardware_flops.value() == Approx(m.model_flops_full.value()).epsilon(1e-12));
}

// ---- trace and determinism -------------------------------------------------------------------------------------

TEST_CASE("the trace covers every simulated rank and never overlaps on a compute stream", "[step]") {
    // Full mode on 16 GPUs (2 nodes), TP 4 × PP 2 × DP 2, 4 micro-batches: all 16 GPUs are simulated; each runs
    // kernels on its compute stream and tensor-parallel all-reduces (and its gradient all-reduce) on its comm
    // stream, and every rank of a stage receives pipeline sends.
    StepSpec spec = spec_for(dense_model(4, 1024, 4096, 32000), cluster(16), layout(4, 2, 2), 4);
    spec.mode = SimulationMode::full;
    spec.record_trace = true;
    const StepResult r = simulate_step(spec);
    REQUIRE(r.simulated_ranks == 16);
    std::map<int, std::vector<const TraceEvent*>> compute;
    std::map<int, int> comm;
    std::map<int, int> p2p;
    for (const TraceEvent& e : r.trace) {
        CHECK(e.start <= e.end);
        CHECK(e.end.to_seconds().value() <= r.step_time.value());
        if (e.stream == "compute") compute[e.rank].push_back(&e);
        if (e.stream == "comm") ++comm[e.rank];
        if (e.stream == "p2p") ++p2p[e.rank];
    }
    for (int rank = 0; rank < 16; ++rank) {
        INFO("rank " << rank);
        CHECK(compute[rank].size() > 0);
        CHECK(comm[rank] > 0);
        CHECK(p2p[rank] > 0);
        // One serial stream: sorted by start, each event starts no earlier than the previous one ended.
        auto& events = compute[rank];
        std::sort(events.begin(), events.end(), [](const TraceEvent* a, const TraceEvent* b) { return a->start < b->start; });
        for (std::size_t i = 1; i < events.size(); ++i) CHECK(events[i]->start >= events[i - 1]->end);
    }
    // Symmetric mode simulates (and traces) only stage representatives: ranks 0 and 8 (pp stride tp·dp = 8).
    spec.mode = SimulationMode::symmetric;
    std::map<int, int> traced;
    for (const TraceEvent& e : simulate_step(spec).trace) ++traced[e.rank];
    CHECK(traced.size() == 2);
    CHECK(traced.count(0) == 1);
    CHECK(traced.count(8) == 1);
}

TEST_CASE("two runs of the same step give the same step time and the same trace", "[step]") {
    // Determinism is part of the API (shared/STYLE.md): events are ordered by (time, sequence number) and times
    // are integer picoseconds, so a full-mode run with contending flows repeats exactly.
    StepSpec spec = spec_for(dense_model(4, 1024, 4096, 32000), cluster(16), layout(4, 2, 2), 4);
    spec.mode = SimulationMode::full;
    spec.record_trace = true;
    const StepResult a = simulate_step(spec);
    const StepResult b = simulate_step(spec);
    CHECK(a.step_time.value() == b.step_time.value());
    CHECK(a.tasks == b.tasks);
    REQUIRE(a.trace.size() == b.trace.size());
    std::size_t differing = 0;
    for (std::size_t i = 0; i < a.trace.size(); ++i) {
        const TraceEvent& x = a.trace[i];
        const TraceEvent& y = b.trace[i];
        if (x.rank != y.rank || x.stream != y.stream || x.name != y.name || x.start != y.start || x.end != y.end) {
            ++differing;
        }
    }
    CHECK(differing == 0);
}

TEST_CASE("merging a pass's chained segments into one task changes nothing in the step", "[step]") {
    // Symmetric mode without a trace adds the middle of each run of chained compute and tensor-parallel segments
    // as one engine task (StepBuilder::add_run); with a trace every segment is a task of its own. Both must give
    // the same schedule to the picosecond, so every figure of the breakdown is equal bit for bit, on schedules
    // whose passes wait on other stages (1F1B, GPipe), with recomputation and with gradient buckets. The breakdown
    // takes a merged run as one compute span whose inner gaps its own collectives fill, or segment by segment where
    // a pipeline send is in flight at one of them: two of the three cases meet both (20 runs as spans, 4 laid out).
    struct Case {
        const char* name;
        Schedule schedule;
        Recompute recompute;
        int data;
    };
    for (const Case& c : {Case{"1f1b", Schedule::one_f_one_b, Recompute::selective, 1},
                          Case{"gpipe", Schedule::gpipe, Recompute::full, 1},
                          Case{"1f1b, buckets", Schedule::one_f_one_b, Recompute::none, 2}}) {
        INFO(c.name);
        ParallelLayout l = layout(4, 2, c.data);
        l.schedule = c.schedule;
        l.recompute = c.recompute;
        l.sequence_parallel = true;
        StepSpec spec = spec_for(dense_model(4, 2048, 8192, 32000), cluster(8 * c.data), l, 6);
        const StepResult merged = simulate_step(spec);
        spec.record_trace = true;
        const StepResult each = simulate_step(spec);
        CHECK(each.engine_tasks == each.tasks);     // traced: one task per operation
        CHECK(merged.engine_tasks < merged.tasks);  // untraced: some runs merged
        CHECK(merged.tasks == each.tasks);
        CHECK(merged.step_time.value() == each.step_time.value());
        REQUIRE(merged.stages.size() == each.stages.size());
        for (std::size_t s = 0; s < merged.stages.size(); ++s) {
            const StepBreakdown& a = merged.stages[s].breakdown;
            const StepBreakdown& b = each.stages[s].breakdown;
            CHECK(a.compute.value() == b.compute.value());
            CHECK(a.recompute.value() == b.recompute.value());
            CHECK(a.bubble.value() == b.bubble.value());
            for (std::size_t x = 0; x < kCommAxes.size(); ++x) {
                CHECK(a.exposed[x].value() == b.exposed[x].value());
                CHECK(a.on_link[x].value() == b.on_link[x].value());
                CHECK(a.volume[x].value() == b.volume[x].value());
            }
        }
    }
}

// ---- errors ------------------------------------------------------------------------------------------------------

TEST_CASE("a DualPipe F&B pair starts its forward only once its backward's gradient has arrived too", "[step]") {
    // DeepSeek's reference (_forward_backward_chunk) waits for both receives before it computes a pair: its forward
    // and backward run interleaved layer by layer. A researcher's audit found the pair's forward started as soon as
    // its own activation arrived (the forward of micro-batch 6 on rank 0 began 2.8 ms before micro-batch 0's
    // gradient came), shrinking the bubble about 12 % below an independent schedule simulation. PP 4 on one node, 8
    // micro-batches: for every pair (F a & B b) on every rank, no task of F a starts before the last transfer of
    // micro-batch b into that rank has ended (its gradient arrives after its activation did).
    ParallelLayout l = layout(1, 4, 1);
    l.schedule = Schedule::dualpipe;
    StepSpec spec = spec_for(dense_model(8, 2048, 8192, 32000), cluster(4), l, 8);
    spec.record_trace = true;
    const StepResult r = simulate_step(spec);
    const PipelinePlan plan = make_pipeline_plan(Schedule::dualpipe, 4, 8);
    int pairs = 0;
    for (int stage = 0; stage < 4; ++stage) {
        for (const PipelineOp& op : plan.ops(stage)) {
            if (!op.overlapped) continue;
            ++pairs;
            const std::string forward = "F" + std::to_string(op.pass.micro_batch) + ".";
            const std::string into = "mb" + std::to_string(op.overlapped->micro_batch);
            SimTime arrived = SimTime::zero(), first = SimTime::from_seconds(Seconds(1e6));
            for (const TraceEvent& e : r.trace) {
                if (e.rank != stage) continue;
                if (e.stream == "p2p" && e.name.ends_with(into)) arrived = std::max(arrived, e.end);
                if (e.stream == "compute" && e.name.starts_with(forward)) first = std::min(first, e.start);
            }
            INFO("stage " << stage << ": " << op.label());
            CHECK(arrived > SimTime::zero());
            CHECK(first >= arrived);
        }
    }
    CHECK(pairs > 0);
}

TEST_CASE("DualPipe with fewer than twice as many micro-batches as stages is refused with the numbers", "[step]") {
    using Catch::Matchers::Contains;
    // PP 4 needs an even m ≥ 2 × 4 = 8; global batch 6 over DP 1 and micro-batch 1 gives m = 6.
    ParallelLayout l = layout(1, 4, 1);
    l.schedule = Schedule::dualpipe;
    StepSpec spec = spec_for(dense_model(4, 1024, 4096, 32000), cluster(4, Fabric::single_node), l, 6);
    CHECK_THROWS_AS(simulate_step(spec), Error);
    CHECK_THROWS_WITH(simulate_step(spec), Contains("2 × pipeline = 8") && Contains("has 6"));
    // m = 9 is enough but odd: the two directions need m/2 micro-batches each.
    spec.global_batch = 9;
    CHECK_THROWS_WITH(simulate_step(spec), Contains("even") && Contains("has 9"));
    // m = 8 runs.
    spec.global_batch = 8;
    CHECK_NOTHROW(simulate_step(spec));
}

TEST_CASE("a global batch that does not divide into data-parallel micro-batches is refused", "[step]") {
    using Catch::Matchers::Contains;
    // DP 2 × micro-batch 2 = 4 sequences per micro-batch step; 6 is not a multiple.
    ParallelLayout l = layout(1, 2, 2);
    l.micro_batch = 2;
    StepSpec spec = spec_for(dense_model(4, 1024, 4096, 32000), cluster(4, Fabric::single_node), l, 1);
    spec.global_batch = 6;
    CHECK_THROWS_AS(simulate_step(spec), Error);
    CHECK_THROWS_WITH(simulate_step(spec), Contains("global batch 6") && Contains("= 4"));
}
