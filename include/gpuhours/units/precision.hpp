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

    friend bool operator==(const MixedPrecision&, const MixedPrecision&) = default;
};

// All formats, in declaration order (for tables and "expected one of" messages).
inline constexpr Precision kAllPrecisions[] = {Precision::fp64, Precision::fp32, Precision::tf32, Precision::bf16,
                                               Precision::fp16, Precision::fp8,  Precision::int8, Precision::fp4};

}  // namespace gpuhours
