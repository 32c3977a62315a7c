#include <gpuhours/units/precision.hpp>

#include <iterator>

namespace gpuhours {

double bytes_per_element(Precision p) {
    switch (p) {
        case Precision::fp64: return 8.0;
        case Precision::fp32: return 4.0;
        case Precision::tf32: return 4.0;  // stored as fp32
        case Precision::bf16: return 2.0;
        case Precision::fp16: return 2.0;
        case Precision::fp8: return 1.0;
        case Precision::int8: return 1.0;
        case Precision::fp4: return 0.5;
    }
    return 0.0;
}

double all_to_all_bytes_per_element(Precision p) {
    if (p == Precision::fp8) return 1.0 + 4.0 / 128.0;
    if (p == Precision::fp4) return 0.5 + 1.0 / 16.0;
    return bytes_per_element(p);
}

int bit_length(Precision p) {
    switch (p) {
        case Precision::fp64: return 64;
        case Precision::fp32: return 32;
        case Precision::tf32: return 32;  // 3A090 counts the input bit length; TF32 inputs are 32-bit words
        case Precision::bf16: return 16;
        case Precision::fp16: return 16;
        case Precision::fp8: return 8;
        case Precision::int8: return 8;
        case Precision::fp4: return 4;
    }
    return 0;
}

std::string_view to_string(Precision p) {
    switch (p) {
        case Precision::fp64: return "fp64";
        case Precision::fp32: return "fp32";
        case Precision::tf32: return "tf32";
        case Precision::bf16: return "bf16";
        case Precision::fp16: return "fp16";
        case Precision::fp8: return "fp8";
        case Precision::int8: return "int8";
        case Precision::fp4: return "fp4";
    }
    return "?";
}

std::optional<Precision> precision_from_string(std::string_view name) {
    for (Precision p : kAllPrecisions) {
        if (to_string(p) == name) return p;
    }
    return std::nullopt;
}

std::string_view to_string(Fp8Recipe r) {
    constexpr std::string_view kNames[] = {"none", "delayed", "tensorwise", "rowwise", "blockwise", "mxfp8"};  // enum order
    const auto i = static_cast<std::size_t>(r);
    return i < std::size(kNames) ? kNames[i] : "?";
}

std::optional<Fp8Recipe> fp8_recipe_from_string(std::string_view name) {
    for (Fp8Recipe r : kAllFp8Recipes) {
        if (to_string(r) == name) return r;
    }
    return std::nullopt;
}

std::string describe_compute_precision(const MixedPrecision& p) {
    std::string out(to_string(p.compute));
    if (p.fp8_recipe != Fp8Recipe::none) {
        out += " (" + std::string(to_string(p.fp8_recipe)) + " scaling" + (p.fp8_param_gather ? ", weights all-gathered in FP8" : "");
        if (p.bf16_layers_at_start > 0 || p.bf16_layers_at_end > 0) {
            out += ", the first " + std::to_string(p.bf16_layers_at_start) + " and last " + std::to_string(p.bf16_layers_at_end) +
                   " layers in BF16";
        }
        out += ")";
    }
    return out;
}

QuantisationBytes fp8_quantisation_bytes(Fp8Recipe recipe, bool weights) {
    switch (recipe) {
        case Fp8Recipe::none: return {0.0, 0.0};
        case Fp8Recipe::delayed: return {2.0, 2.0};                 // one read; FP8 copy + transposed copy
        case Fp8Recipe::tensorwise: return {4.0, 2.0};              // amax pass + cast pass
        case Fp8Recipe::rowwise: return {4.0, 2.0};                 // a scaled pass per axis
        case Fp8Recipe::blockwise:
            if (weights) return {2.0 + 1.0, 1.0 + 4.0 / 16384.0 + 1.0};  // 128×128 blocks, then their transpose
            return {2.0, 2.0 * (1.0 + 4.0 / 128.0)};                    // 1×128 and 128×1 copies
        case Fp8Recipe::mxfp8: return {2.0, 2.0 * (1.0 + 1.0 / 32.0)};  // row- and column-wise 1×32 copies
    }
    return {0.0, 0.0};
}

std::optional<double> fp8_saved_input_bytes(Fp8Recipe recipe) {
    switch (recipe) {
        case Fp8Recipe::none:
        case Fp8Recipe::rowwise: return std::nullopt;
        case Fp8Recipe::delayed:
        case Fp8Recipe::tensorwise: return 1.0;
        case Fp8Recipe::blockwise: return 1.0 + 4.0 / 128.0;
        case Fp8Recipe::mxfp8: return 1.0 + 1.0 / 32.0;
    }
    return std::nullopt;
}

}  // namespace gpuhours
