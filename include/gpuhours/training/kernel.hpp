// Operator timing on one GPU: how long each Op of the workload takes forward, in backward (input gradient and
// weight gradient separately, for zero-bubble and DualPipe schedules) and when recomputed.
//
// A roofline per kernel pass: time = max(FLOPs / (peak(precision) × efficiency), bytes / (HBM bandwidth ×
// efficiency.memory)), every efficiency a chip-catalog figure (scenarios/chips/, KernelEfficiency).
//   - GEMMs (OpKind::gemm, grouped_gemm): efficiency = efficiency.gemm × tile fraction × wave fraction of the
//     output's gemm_tile_m × gemm_tile_n tiling over the SMs left free by communication kernels (NVIDIA, Matrix
//     Multiplication Background User's Guide §3, "tile" and "wave quantization") × main-loop fraction (the
//     family's fixed time per tile, efficiency.gemm_tile_overhead, beside the tile's main loop over its K slice;
//     measured on the H200, scenarios/chips/h200.toml). Fewer tiles than free SMs are split along the inner
//     dimension (split-K), as cuBLAS does for small outputs with long inner dimensions. Where the chip lists a
//     narrower tile (gemm_tile_n_narrow), the tiling of the higher efficiency is taken, the narrow one only
//     without split-K: cuBLAS picks a tile per shape, and a narrower tile fills the waves of an output whose
//     wide tiles leave most of a wave idle (H200, M = 1,024: bench/gpu/results/h200-2026-11-30/gemm.csv).
//   - attention (OpKind::attention): a fused FlashAttention-class kernel at efficiency.attention × the chip's
//     attention_shape factor at the op's AttentionKernelShape (1 without a table or shape) of the
//     attention precision's peak; its backward executes 2.5 × the forward FLOPs (5 matrix products against the
//     forward's 2: it recomputes the scores), i.e. 1.25 × the workload's model backward FLOPs.
//   - elementwise, embedding, loss: memory-bound at efficiency.memory × HBM bandwidth.
//   - gradient accumulation (KernelContext::accumulation_bytes_per_parameter, GradientAccumulation): where the
//     framework adds each micro-batch's weight gradients into the accumulation buffer in kernels of their own,
//     every op's parameters on this GPU move that many bytes per micro-batch at efficiency.memory × HBM
//     bandwidth, after the weight-gradient GEMM (GEMMs) or in the op's backward (the embedding, norms)
//     (OpTime::accumulation). Its kernel launches (DeepSpeed: a cast and an add per parameter tensor) are not
//     counted: a few per layer against tens of the layer's own.
// Not modelled: kernel launch latency (the step adds it: StepSpec::cuda_graphs), power/clock throttling beyond what
// the catalog efficiencies imply, L2 reuse between kernels, and the gradient-accumulation traffic inside a fused
// weight-gradient GEMM (it reads and writes its FP32 output once: under 1 % of the GEMM's time at a few thousand
// tokens per micro-batch).
#pragma once

#include <gpuhours/hardware/hardware.hpp>
#include <gpuhours/units/precision.hpp>
#include <gpuhours/units/units.hpp>
#include <gpuhours/workload/workload.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace gpuhours {

// How each micro-batch's weight gradients reach the buffer they accumulate in (MixedPrecision::gradients) until the
// optimizer step. Bytes per parameter on this GPU per micro-batch, p and g the bytes of the parameters' and the
// gradients' formats (accumulation_bytes_per_parameter):
//   fused     0: the weight-gradient GEMM accumulates into the buffer in place (Megatron-LM's
//             --gradient-accumulation-fusion, on by default; Transformer Engine's fuse_wgrad_accumulation; what
//             Megatron-Core runs).
//   add       p + 2g: the GEMM writes the gradient in the parameters' format, then one kernel reads it and reads and
//             writes the buffer (Megatron-LM's `main_grad.add_(grad)` without the fusion; PyTorch's accumulation of
//             .grad over backward calls).
//   cast_add  p + 2g, plus 2g when the formats differ: the gradient is first cast into a temporary of the buffer's
//             format, written and read back (DeepSpeed's BF16 optimizer, deepspeed/runtime/bf16_optimizer.py
//             update_hp_grads: `hp_grad.add_(lp.grad.to(hp_grad.dtype))` after every micro-batch's backward).
// BLOOM's BF16 parameters and FP32 buffer: add 10 B, cast_add 18 B. The buffer is whole on each rank: the scenario
// reader refuses add and cast_add with ZeRO-2 and ZeRO-3, which reduce-scatter every micro-batch.
enum class GradientAccumulation { fused, add, cast_add };
std::string_view to_string(GradientAccumulation g);  // "fused", "add", "cast-add"
double accumulation_bytes_per_parameter(GradientAccumulation g, const MixedPrecision& precision);
// For the output headers: "" when fused, else `separator` and what the kernels move ("; gradients accumulated by add
// kernels after each micro-batch, 10 B per parameter" with separator "; ").
std::string describe_gradient_accumulation(GradientAccumulation g, const MixedPrecision& precision,
                                           std::string_view separator);

// What an operator runs on and in which formats.
struct KernelContext {
    const ChipProfile& chip;
    Precision gemm_precision = Precision::bf16;       // GEMM inputs: fp8 for DeepSeek-V3
    Precision attention_precision = Precision::bf16;  // the attention core: bf16 even in FP8 training
    int reserved_sms = 0;  // SMs held by communication kernels (DeepSeek-V3: 20 of 132); never take GEMM tiles
    // With FP8 GEMMs, the kernel family (and so the catalog efficiency) of the recipe; ignored otherwise.
    Fp8Recipe fp8_recipe = Fp8Recipe::delayed;
    // The SM clock as a fraction of the clock the catalog's efficiencies hold at (ClusterSpec::clock_factor: a
    // power cap): compute-bound passes take 1 / clock_factor as long; memory-bound passes are unchanged.
    double clock_factor = 1.0;
    // Bytes each parameter of an op moves per micro-batch to accumulate its gradient outside the weight-gradient
    // GEMM (accumulation_bytes_per_parameter; 0: fused).
    double accumulation_bytes_per_parameter = 0.0;
};

// SMs a compute kernel can use: chip.sm_count - reserved_sms. Throws Error when reserved_sms is negative or
// leaves no SM.
int available_sms(const KernelContext& context);

// The two backward GEMMs of C[m×n] = A[m×k]·B[k×n] (A: activations, B: weights):
//   input gradient  dA[m×k] = dC[m×n]·Bᵀ: output m×k, inner dimension n;
//   weight gradient dB[k×n] = Aᵀ·dC:     output k×n, inner dimension m.
// Each is 2·m·n·k FLOPs, like the forward; `count` is kept (grouped GEMMs).
GemmShape input_gradient_shape(const GemmShape& forward);
GemmShape weight_gradient_shape(const GemmShape& forward);

// How well one GEMM kernel (output shape.m × shape.n, inner shape.k, shape.count products in one grouped
// launch) uses the chip. Fractions multiply: total = chip.efficiency.gemm × tile_fraction × wave_fraction ×
// main_loop_fraction (the figure of the precision's kernel family: KernelEfficiency::fp8_gemm).
struct GemmEfficiency {
    long long tile_n = 0;      // the tiling's columns: gemm_tile_n, or gemm_tile_n_narrow where that one is faster
    long long tiles = 0;       // count × ceil(m / tile_m) × ceil(n / tile_n)
    long long split_k = 1;     // inner-dimension slices per tile (> 1 only when tiles < free SMs)
    long long waves = 0;       // ceil(tiles × split_k / free SMs)
    int sms = 0;               // free SMs (available_sms)
    double tile_fraction = 0;  // m·n / (tiled rows × tiled columns): work of partial tiles is wasted
    // tiles × split_k / (waves × chip.sm_count): the share of the whole chip's SM time doing tiles; the SMs
    // reserved for communication count as idle, so reserving them slows every GEMM.
    double wave_fraction = 0;
    // main loop / (main loop + the family's fixed time per tile, GemmTileOverhead): a tile's main loop over its K
    // slice takes 2 · tile_m · tile_n · K / split_k FLOPs at peak × figure / sm_count per SM; 1 without an overhead.
    double main_loop_fraction = 1.0;
    double total = 0;          // achieved / peak dense FLOP/s of the precision
};
// Throws Error for a non-positive dimension or count, or a chip whose catalog tile or gemm efficiency is unset.
GemmEfficiency gemm_efficiency(const GemmShape& shape, const KernelContext& context);

// Which term of the roofline set a pass's time.
enum class Bound { compute, memory };
std::string_view to_string(Bound b);

// One kernel pass: its time, the bound that set it, and the two roofline terms.
struct PassTime {
    Seconds time;          // max(compute, memory)
    Bound bound = Bound::compute;
    Seconds compute;       // executed FLOPs / achieved FLOP/s (zero for memory-bound kinds)
    Seconds memory;        // bytes / achieved HBM bandwidth
};

// Times of one Op for one micro-batch on one GPU.
//   GEMM: forward C = A·B; backward_input the dA GEMM; backward_weight the dB GEMM (each op.backward / 2 FLOPs).
//   Bytes: each of the three GEMMs reads two of A, B, C and writes the third, so each moves op.read +
//   op.written (+ split-K's FP32 partial sums: 2 × split_k × output elements × 4 B when split).
//   attention: backward_input is the whole fused backward (2.5 × forward FLOPs executed; reads Q, K, V, O, dO,
//   writes dQ, dK, dV: 2 × op.read + 2 × op.written bytes); backward_weight is zero.
//   elementwise, embedding, loss: forward moves op.read + op.written; backward reads the output gradient
//   (op.written) and the saved input (op.read) and writes the input gradient (op.read): 2 × op.read +
//   op.written bytes, all in backward_input. (Weight gradients of norms are folded in: they are tiny.)
//   recompute: forward time × op.recompute / op.forward — zero for ops without model FLOPs, so under full
//   recomputation the caller adds the forward time of the memory-bound ops (the Op does not mark them).
struct OpTime {
    PassTime forward;
    PassTime backward_input;   // dgrad (attention: the whole backward kernel; memory-bound ops: all backward)
    PassTime backward_weight;  // wgrad; zero for ops without a GEMM
    Seconds recompute;
    // The gradient-accumulation kernel's memory-bound time (KernelContext::accumulation_bytes_per_parameter),
    // already inside backward_weight (GEMMs) or backward_input (other ops with parameters), whose `bound` still
    // describes the op's own kernel.
    Seconds accumulation;

    // The pass that produces the op's weight gradient, which carries `accumulation`: the weight-gradient GEMM's,
    // else (no GEMM) the op's backward.
    [[nodiscard]] PassTime& gradient_pass() { return backward_weight.time.value() > 0.0 ? backward_weight : backward_input; }
    [[nodiscard]] const PassTime& gradient_pass() const {
        return backward_weight.time.value() > 0.0 ? backward_weight : backward_input;
    }
    [[nodiscard]] Seconds backward() const { return backward_input.time + backward_weight.time; }
    // forward + recompute + backward
    [[nodiscard]] Seconds total() const { return forward.time + recompute + backward(); }
};
// Throws Error when the chip lacks the precision the op needs, a GEMM op has no shape, or a catalog figure the
// op needs is unset (zero).
OpTime time_op(const Op& op, const KernelContext& context);

// Tensor-parallel communication overlap runs a GEMM as several GEMMs (Transformer Engine's userbuffers,
// transformer_engine/common/comm_gemm_overlap/comm_gemm_overlap.cpp):
//   rows     the ring exchange (split_overlap_ag_p2p, split_overlap_rs_p2p) multiplies each rank's shard of the
//            sequence as it arrives: `chunks` = t GEMMs of ⌈M / t⌉ rows, each reading the whole weight;
//   columns  the pipelined reduce-scatter (split_overlap_rs) splits the weight's output features into num_splits
//            (TE's default 4): GEMMs of ⌈N / chunks⌉ columns, each reading the whole input.
// One such GEMM of `op` (a GEMM with a shape): its shape, FLOPs (1 / chunks of op's), bytes (the operand it is not
// split along read whole, the other and the output 1 / chunks; op.read's split between activations and weights
// taken as M : N, as for equal element sizes) and no parameters (the gradient accumulation follows the weight
// gradient, which is not split). Time it with time_op; `chunks` of them take chunks × that time. Throws Error for
// an op without a GEMM shape or chunks < 1.
enum class GemmSplit { rows, columns };
Op gemm_chunk(const Op& op, int chunks, GemmSplit split);
// The pipelined reduce-scatter's GEMMs: Transformer Engine's num_splits for its `pipeline` method by default
// (transformer_engine/pytorch/module/base.py, initialize_ub: `"num_splits": tp_size if method == "ring_exchange"
// else 4`), which NeMo's H100 userbuffer configurations keep for proj_fprop and fc2_fprop.
inline constexpr int kPipelineSplits = 4;

// Sums over a block's ops, and each op's times in block order (for traces and breakdowns).
struct BlockTime {
    Seconds forward;
    Seconds backward_input;
    Seconds backward_weight;
    Seconds recompute;
    Seconds forward_memory_bound;  // the part of `forward` spent in memory-bound passes
    std::vector<OpTime> ops;       // ops[i] times block.ops[i]

    [[nodiscard]] Seconds backward() const { return backward_input + backward_weight; }
    [[nodiscard]] Seconds total() const { return forward + recompute + backward(); }
};
BlockTime time_block(const Block& block, const KernelContext& context);

}  // namespace gpuhours
