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

    friend bool operator==(const MixedPrecision&, const MixedPrecision&) = default;
};

// Bytes per element an expert all-to-all moves in format `p`: bytes_per_element, plus for fp8 one fp32 scale per
// 128 elements (DeepSeek-V3's 1×128 activation tiles, which DeepEP's FP8 dispatch carries: a 7,168-wide token is
// 7,168 B + 56 × 4 B = 7,392 B, shared/reference/fleet-and-microbenchmarks.md) — 1.03125 B.
double all_to_all_bytes_per_element(Precision p);

// All formats, in declaration order (for tables and "expected one of" messages).
inline constexpr Precision kAllPrecisions[] = {Precision::fp64, Precision::fp32, Precision::tf32, Precision::bf16,
                                               Precision::fp16, Precision::fp8,  Precision::int8, Precision::fp4};

}  // namespace gpuhours
