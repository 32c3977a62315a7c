// Kernel launches (ChipProfile::launch_gap, launch_host; StepSpec::cuda_graphs), the power cap's clock
// (ClusterSpec::clock_factor) and gradient accumulation outside the GEMMs (StepSpec::gradient_accumulation) in the step. One GPU, so the step is its compute stream followed by the optimizer and
// every expected number is a count of kernels times a figure, derived in the comment before its assertion.
#include <gpuhours/analysis/plan.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/workload/workload.hpp>

#include "../workload/models.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

using namespace gpuhours;

namespace {

std::filesystem::path catalog() { return std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios"; }

// A 2-layer Llama-like model (hidden 1024, FFN 4096, vocabulary 32,000) on one H100, 4 micro-batches of 512 tokens.
StepSpec one_gpu(Seconds gap, Seconds host, bool graphs) {
    StepSpec s;
    s.model = test::llama_like(2, 1024, 8, 2, 4096, 32000);
    s.cluster.chip = load_chip("h100", catalog());
    s.cluster.chip.launch_gap = gap;
    s.cluster.chip.launch_host = host;
    s.cluster.gpus = 1;
    s.cluster.gpus_per_node = 1;
    s.cluster.fabric = Fabric::single_node;
    s.cluster.nic_bandwidth = s.cluster.chip.nic_bandwidth;
    s.cluster.nic_latency = s.cluster.chip.nic_latency;
    s.sequence_length = 512;
    s.global_batch = 4;
    s.cuda_graphs = graphs;
    return s;
}

// Kernels of one micro-batch: every op is one kernel forward and one backward (its input gradient); a GEMM adds its
// weight-gradient kernel.
struct Kernels {
    long long forward = 0;
    long long backward = 0;
};
Kernels count_kernels(const StepSpec& s) {
    Kernels k;
    const MicroBatchShape shape{s.sequence_length, 1, AttentionMask::causal};
    for (const Block& b : model_ops(s.model, s.layout, s.precision, shape)) {
        for (const Op& op : b.ops) {
            ++k.forward;
            k.backward += (op.kind == OpKind::gemm || op.kind == OpKind::grouped_gemm) ? 2 : 1;
        }
    }
    return k;
}

}  // namespace

TEST_CASE("each kernel adds the GPU's launch gap, and a pass launched slower than it runs waits for the host", "[step][launch]") {
    const StepResult base = simulate_step(one_gpu(Seconds(0.0), Seconds(0.0), false));
    const Kernels k = count_kernels(one_gpu(Seconds(0.0), Seconds(0.0), false));
    REQUIRE(k.forward > 0);
    // 1 µs per kernel: 4 micro-batches × (forward + backward kernels) µs more.
    const StepResult gapped = simulate_step(one_gpu(Seconds(1e-6), Seconds(0.0), false));
    CHECK(gapped.step_time.value() - base.step_time.value() == Approx(4.0 * static_cast<double>(k.forward + k.backward) * 1e-6).epsilon(1e-6));
    // 1 ms of host time per kernel dwarfs every kernel of this model (each well under 1 ms), so every block's
    // pass takes its kernels × 1 ms and the step is 4 × (forward + backward kernels) ms before the optimizer.
    const StepResult host_bound = simulate_step(one_gpu(Seconds(0.0), Seconds(1e-3), false));
    CHECK(host_bound.step_time.value() - host_bound.breakdown.optimizer.value() ==
          Approx(4.0 * static_cast<double>(k.forward + k.backward) * 1e-3).epsilon(1e-6));
    // CUDA graphs launch without host time: the step is the base one again.
    const StepResult graphed = simulate_step(one_gpu(Seconds(0.0), Seconds(1e-3), true));
    CHECK(graphed.step_time.value() == Approx(base.step_time.value()).epsilon(1e-12));
    // The plan's bound keeps its identity with the simulated step on one GPU (tests/plan/plan_test.cpp): the step
    // less its optimizer, with gaps and with a host-bound pass.
    for (const StepSpec& s : {one_gpu(Seconds(1e-6), Seconds(0.0), false), one_gpu(Seconds(1e-6), Seconds(1e-3), false)}) {
        const StepResult r = simulate_step(s);
        CHECK(step_time_lower_bound(s).value() == Approx((r.step_time - r.breakdown.optimizer).value()).margin(1e-12));
    }
}

TEST_CASE("a power cap slows compute-bound kernels by the cube root of the dynamic power", "[kernel][power]") {
    // H200: TDP 700 W, idle 79.4 W (measured). A 400 W cap: ((400 − 79.4) / (700 − 79.4))^(1/3) = 0.51660^(1/3)
    // = 0.80244.
    ClusterSpec c;
    c.chip = load_chip("h200", catalog());
    CHECK(c.clock_factor() == 1.0);
    c.power_cap = Watts(400.0);
    const double factor = std::cbrt((400.0 - 79.4) / (700.0 - 79.4));
    CHECK(c.clock_factor() == Approx(0.80244).epsilon(1e-4));
    CHECK(c.clock_factor() == Approx(factor).epsilon(1e-12));
    c.power_cap = Watts(700.0);  // at the TDP: no change
    CHECK(c.clock_factor() == 1.0);
    // A compute-bound 8192³ GEMM takes 1 / 0.80244 as long; a memory-bound op keeps its time.
    Op gemm;
    gemm.name = "gemm";
    gemm.kind = OpKind::gemm;
    gemm.gemm = GemmShape{8192, 8192, 8192, 1};
    gemm.forward = Flops(2.0 * 8192.0 * 8192 * 8192);
    gemm.backward = gemm.forward * 2.0;
    gemm.read = Bytes(2.0 * 2 * 8192.0 * 8192);
    gemm.written = Bytes(2.0 * 8192.0 * 8192);
    Op copy;
    copy.name = "copy";
    copy.kind = OpKind::elementwise;
    copy.read = Bytes(1e9);
    copy.written = Bytes(1e9);
    const KernelContext full{c.chip};
    const KernelContext capped{c.chip, Precision::bf16, Precision::bf16, 0, Fp8Recipe::delayed, factor};
    CHECK(time_op(gemm, capped).forward.time.value() == Approx(time_op(gemm, full).forward.time.value() / factor).epsilon(1e-9));
    CHECK(time_op(copy, capped).forward.time.value() == Approx(time_op(copy, full).forward.time.value()).epsilon(1e-12));
}

TEST_CASE("gradient accumulation outside the GEMMs costs every parameter its bytes once per micro-batch", "[step][kernel]") {
    // One GPU, 4 micro-batches, BF16 parameters and FP32 gradients: cast-add moves 18 B per parameter per
    // micro-batch (2 read, 4 written and read back, 4 + 4 read and written), add 10 B. Every parameter of the model
    // is on this GPU (count_parameters' total, the embedding and the untied head included), so the step grows by
    // 4 × P × B / (HBM bandwidth × memory efficiency), the chip's catalog figures.
    StepSpec fused = one_gpu(Seconds(0.0), Seconds(0.0), true);
    StepSpec cast_add = fused;
    cast_add.gradient_accumulation = GradientAccumulation::cast_add;
    StepSpec add = fused;
    add.gradient_accumulation = GradientAccumulation::add;
    const double p = count_parameters(fused.model).total;
    const double rate = fused.cluster.chip.memory_bandwidth.value() * fused.cluster.chip.efficiency.memory;
    const double base = simulate_step(fused).step_time.value();
    CHECK(simulate_step(cast_add).step_time.value() - base == Approx(4.0 * p * 18.0 / rate).epsilon(1e-6));
    CHECK(simulate_step(add).step_time.value() - base == Approx(4.0 * p * 10.0 / rate).epsilon(1e-6));
    // The plan's bound still equals the step less its optimizer on one GPU.
    const StepResult r = simulate_step(cast_add);
    CHECK(step_time_lower_bound(cast_add).value() == Approx((r.step_time - r.breakdown.optimizer).value()).margin(1e-12));
}

TEST_CASE("under tensor-parallel overlap each GEMM chunk is a kernel the host launches", "[step][launch]") {
    // The model above on 2 H100 (TP 2, sequence parallel, overlap on), NVLink made free (1,000 TB/s, 1 ns) and 1 ms of
    // host time per kernel, so every block's pass takes its kernels × 1 ms. Overlapped, a GEMM after its all-gather
    // (ring exchange) runs as t = 2 kernels forward, one before its reduce-scatter (pipelined) as 4, and the latter's
    // input gradient (fed by a ring exchange) as 2: per micro-batch 1 more kernel forward for each GEMM after an
    // all-gather, 3 more forward and 1 more backward for each GEMM before a reduce-scatter.
    StepSpec s = one_gpu(Seconds(0.0), Seconds(1e-3), false);
    s.cluster.gpus = 2;
    s.cluster.gpus_per_node = 2;
    s.cluster.chip.scale_up_bandwidth = BytesPerSecond(1e15);
    s.cluster.chip.scale_up_latency = Seconds(1e-9);
    s.layout.tensor = 2;
    s.layout.sequence_parallel = true;
    s.layout.tp_comm_overlap = true;
    Kernels k = count_kernels(s);
    long long gathered = 0, scattered = 0;
    const MicroBatchShape shape{s.sequence_length, 1, AttentionMask::causal};
    for (const Block& b : model_ops(s.model, s.layout, s.precision, shape)) {
        for (const Op& op : b.ops) {
            if (op.kind != OpKind::gemm) continue;
            gathered += op.before.kind == Collective::tp_all_gather ? 1 : 0;
            scattered += op.after.kind == Collective::tp_reduce_scatter ? 1 : 0;
        }
    }
    REQUIRE(gathered == 5);   // qkv and fc1 of each layer, the head
    REQUIRE(scattered == 4);  // out and fc2 of each layer
    k.forward += gathered + 3 * scattered;
    k.backward += scattered;
    const StepResult r = simulate_step(s);
    // 4 micro-batches; the TP collectives' latencies (1 ns a step) are all that is added, under 1e-5 of the step.
    CHECK(r.step_time.value() - r.breakdown.optimizer.value() ==
          Approx(4.0 * static_cast<double>(k.forward + k.backward) * 1e-3).epsilon(1e-5));
}
