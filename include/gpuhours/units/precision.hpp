// Numeric formats of compute and storage.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gpuhours {

enum class Precision { fp64, fp32, tf32, bf16, fp16, fp8, int8, fp4 };

// Bytes one element occupies in this format (fp4: 0.5).
double bytes_per_element(Precision p);
// Bit length of the multiply's inputs, as used by the export-control TPP formula.
int bit_length(Precision p);
std::string_view to_string(Precision p);
// "bf16", "fp8", …; nullopt for an unknown name.
std::optional<Precision> precision_from_string(std::string_view name);
// How FP8 GEMM operands are scaled, by Megatron-Core's `--fp8-recipe` names (Transformer Engine's recipes) and
// torchao's float8 rowwise recipe. Each sets the GEMM kernel the chip runs (its catalog efficiency) and the
// quantisation kernels around it (fp8_quantisation_bytes).
//   none        no FP8 GEMMs (the value with any precision other than fp8)
//   delayed     one FP32 scale per tensor from an amax history (TE DelayedScaling; Megatron's default recipe)
//   tensorwise  one FP32 scale per tensor from the tensor's own amax (TE Float8CurrentScaling)
//   rowwise     one FP32 scale per row along the inner dimension (torchao Float8 "rowwise", torchtitan)
//   blockwise   1×128 activation and gradient tiles, 128×128 weight blocks, FP32 scales (DeepSeek-V3 §3.3.2;
//               TE Float8BlockScaling; DeepGEMM on Hopper)
//   mxfp8       1×32 blocks with a power-of-two E8M0 scale, scaled by the tensor cores (OCP MX; Blackwell)
enum class Fp8Recipe { none, delayed, tensorwise, rowwise, blockwise, mxfp8 };
std::string_view to_string(Fp8Recipe r);
std::optional<Fp8Recipe> fp8_recipe_from_string(std::string_view name);
inline constexpr Fp8Recipe kAllFp8Recipes[] = {Fp8Recipe::none,    Fp8Recipe::delayed,   Fp8Recipe::tensorwise,
                                               Fp8Recipe::rowwise, Fp8Recipe::blockwise, Fp8Recipe::mxfp8};

// HBM bytes per element of a BF16 tensor that a recipe's quantisation kernels read and write to make the FP8
// operands a forward GEMM and its two backward GEMMs need. Activations and output gradients: per use (each
// micro-batch); weights: once per step (the FP8 copy is kept across a step's micro-batches: TE's
// `is_first_microbatch`). Sources (Transformer Engine user guide, "Low precision training", 2025–26):
//   - every GEMM input is read once in BF16 (2 B) to be cast; current scaling ("tensorwise") reads it twice,
//     first for the amax (TE: "Quantization is a memory-bound operation that requires reading the tensor
//     twice"); delayed scaling takes the scale from the amax history and finds the new amax in the same pass;
//   - the backward GEMMs take the tensor along its other axis (wgrad = Xᵀ·dY contracts over tokens). Per-tensor
//     FP8 on Hopper and Ada needs a physically transposed copy (TE "Transpose handling"; cuBLAS FP8 GEMMs are TN
//     only), written in the same fused cast-transpose kernel: 1 + 1 B. (Blackwell takes either layout; the
//     copy is counted there too, so per-tensor recipes on Blackwell are pessimistic by 1 B per element.)
//   - 1-D block scales run along the contraction axis, so the row-wise and column-wise copies are quantised
//     separately from the BF16 source (TE Float8BlockScaling: "Both versions must be quantized separately"),
//     each 1 B plus its scales: blockwise one FP32 per 128 (4/128 B), mxfp8 one E8M0 byte per 32 (1/32 B);
//     one kernel reads the source once and writes both. rowwise (torchao) scales each copy along its own inner
//     axis, a pass per axis (two reads); its per-row scales are negligible.
//   - blockwise weights use 128×128 blocks: one copy (one FP32 scale per 16,384 elements) whose column-wise
//     form is its transpose (TE: "columnwise data can be created from rowwise data by transposing"): one more
//     read and write of 1 B.
struct QuantisationBytes {
    double read = 0.0;
    double written = 0.0;
};
// `weights`: the per-step cast of the weights; otherwise an activation or output gradient. none: {0, 0}.
QuantisationBytes fp8_quantisation_bytes(Fp8Recipe recipe, bool weights);

// Bytes per element of an FP8 GEMM's input as the recipe's framework keeps it for the backward (the weight-gradient
// GEMM's operand). Transformer Engine (delayed, tensorwise, blockwise, mxfp8) saves the quantized input and drops
// its row-wise copy, keeping the column-wise one that wgrad reads (pytorch/module/linear.py: `inputmat.update_usage(
// rowwise_usage=False)` before `saved_inputmat = inputmat`; layernorm_linear.py the same for the norm's output; the
// grouped linear of the experts for each expert's input): 1 B plus its scales — blockwise one FP32 per 128 (4/128 B),
// mxfp8 one E8M0 byte per 32 (1/32 B), the per-tensor recipes one scale per tensor (0). torchao's rowwise recipe
// saves the high-precision input (float8/float8_linear.py: `ctx.save_for_backward(input_hp, weight_hp_t)`):
// nullopt, as for none (not an FP8 GEMM).
std::optional<double> fp8_saved_input_bytes(Fp8Recipe recipe);

// Which format each kind of training state is kept in (mixed-precision training).
struct MixedPrecision {
    Precision compute = Precision::bf16;          // GEMM inputs (fp8 for DeepSeek-V3)
    Precision parameters = Precision::bf16;       // the working copy of the weights used by forward/backward
    Precision master_weights = Precision::fp32;   // the optimizer's copy
    Precision optimizer_state = Precision::fp32;  // each of Adam's two moments (DeepSeek-V3: bf16)
    Precision gradients = Precision::fp32;        // gradient accumulation buffers
    Precision activations = Precision::bf16;      // stored activations
    // Expert-parallel all-to-alls (DeepSeek-V3 §3.3.2, DeepEP): the dispatch direction (tokens to their experts
    // forward; the activation gradients before the down-projection backward) and the combine direction (expert
    // outputs back forward; the input gradients backward). nullopt: the activations' format.
    std::optional<Precision> dispatch;
    std::optional<Precision> combine;
    // The FP8 recipe of the GEMMs: none unless compute is fp8; with fp8 the scenario's `fp8_recipe` (default
    // delayed, as Megatron-Core's `--fp8-recipe`).
    Fp8Recipe fp8_recipe = Fp8Recipe::none;
    // The FP8 GEMMs' weights all-gathered in FP8 (1 B per element) instead of the parameters' format: Megatron-Core's
    // --fp8-param-gather under the distributed optimizer (NeMo: "reducing the all-gather overhead by half"), FSDP2's
    // float8 all-gather (torchao's enable_fsdp_float8_all_gather). The weights are cast on the GPU's shard before
    // the gather instead of whole after it. Only with compute fp8 and a parameter all-gather (ZeRO ≥ 1).
    bool fp8_param_gather = false;
    // FP8 steps: the first and the last transformer layers kept in BF16 — Megatron-Core's --first-last-layers-bf16
    // with --num-layers-at-start-in-bf16 and --num-layers-at-end-in-bf16, which the FP8 current-scaling preset of
    // NeMo and Megatron-Bridge sets to 1 and 1 (bf16_with_fp8_current_scaling_mixed). Their GEMMs run at BF16's
    // rate without quantisation kernels; their weights are cast and gathered in the parameters' format. 0: none.
    int bf16_layers_at_start = 0;
    int bf16_layers_at_end = 0;

    // The recipe the GEMMs run: none unless compute is fp8; with fp8, fp8_recipe, or delayed where it is left at
    // none (a MixedPrecision built in code; the scenario reader never leaves it so).
    [[nodiscard]] Fp8Recipe gemm_recipe() const {
        if (compute != Precision::fp8) return Fp8Recipe::none;
        return fp8_recipe == Fp8Recipe::none ? Fp8Recipe::delayed : fp8_recipe;
    }

    friend bool operator==(const MixedPrecision&, const MixedPrecision&) = default;
};

// The GEMM format for headers: "bf16", "fp8 (blockwise scaling)", "fp8 (delayed scaling, weights all-gathered in FP8)".
std::string describe_compute_precision(const MixedPrecision& p);

// Bytes per element an expert all-to-all moves in format `p`: bytes_per_element, plus for fp8 one fp32 scale per
// 128 elements (DeepSeek-V3's 1×128 activation tiles, which DeepEP's FP8 dispatch carries: a 7,168-wide token is
// 7,168 B + 56 × 4 B = 7,392 B, shared/reference/fleet-and-microbenchmarks.md) — 1.03125 B; for fp4 one FP8 (E4M3)
// scale per 16 elements, NVFP4's blocks (NVIDIA's NVFP4 format for Blackwell; MXFP4 would be one E8M0 per 32,
// 0.53125 B) — 0.5625 B [U: no FP4 dispatch kernel is published; an MoE audit of session 50 found 0.5, no scales].
double all_to_all_bytes_per_element(Precision p);

// All formats, in declaration order (for tables and "expected one of" messages).
inline constexpr Precision kAllPrecisions[] = {Precision::fp64, Precision::fp32, Precision::tf32, Precision::bf16,
                                               Precision::fp16, Precision::fp8,  Precision::int8, Precision::fp4};

}  // namespace gpuhours
