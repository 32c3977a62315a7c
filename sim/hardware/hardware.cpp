#include <gpuhours/units/error.hpp>
#include <gpuhours/hardware/hardware.hpp>

#include <fmt/format.h>

#include <cmath>

namespace gpuhours {

namespace {

// Where `x` falls between the ascending points at(0) … at(n − 1): the index of the lower one and the weight of the
// upper (0 at or below the first point, 1 at or above the last, so the ends are held).
template <typename At>
std::pair<std::size_t, double> bracket(std::size_t n, At at, double x) {
    if (n < 2 || x <= at(0)) return {0, 0.0};
    if (x >= at(n - 1)) return {n - 2, 1.0};
    std::size_t i = 0;
    while (at(i + 1) < x) ++i;
    return {i, (x - at(i)) / (at(i + 1) - at(i))};
}

}  // namespace

double AttentionShapeTable::factor(double kernel_sequence, int head_dim) const {
    if (rows.empty()) return 1.0;
    if (!(kernel_sequence > 0.0) || head_dim <= 0) {
        throw Error(fmt::format("attention kernel shape {} tokens × head dim {} is not positive", kernel_sequence, head_dim),
                    "the workload gives every softmax attention core its sequence and head dimension");
    }
    const auto [si, sw] = bracket(sequence.size(), [&](std::size_t i) { return std::log2(sequence[i]); }, std::log2(kernel_sequence));
    const auto along = [&](const std::vector<double>& f) { return f.size() < 2 ? f.front() : f[si] + sw * (f[si + 1] - f[si]); };
    const auto [di, dw] = bracket(rows.size(), [&](std::size_t i) { return static_cast<double>(rows[i].first); }, head_dim);
    const double low = along(rows[di].second);
    return rows.size() < 2 ? low : low + dw * (along(rows[di + 1].second) - low);
}

namespace {

// The figure of `recipe`'s GEMM kernel family among one per family (none: BF16/FP16 GEMMs; delayed and tensorwise
// share cuBLAS's per-tensor kernels).
template <typename T>
T of_family(Fp8Recipe recipe, const T& none, const T& per_tensor, const T& rowwise, const T& blockwise, const T& mxfp8) {
    switch (recipe) {
        case Fp8Recipe::none: return none;
        case Fp8Recipe::delayed:
        case Fp8Recipe::tensorwise: return per_tensor;
        case Fp8Recipe::rowwise: return rowwise;
        case Fp8Recipe::blockwise: return blockwise;
        case Fp8Recipe::mxfp8: return mxfp8;
    }
    return none;
}

}  // namespace

double KernelEfficiency::fp8_gemm(Fp8Recipe recipe) const {
    return of_family(recipe, gemm, gemm_fp8, gemm_fp8_rowwise, gemm_fp8_blockwise, gemm_mxfp8);
}

Seconds GemmTileOverhead::of(Fp8Recipe recipe) const {
    return of_family(recipe, gemm, gemm_fp8, gemm_fp8_rowwise, gemm_fp8_blockwise, gemm_mxfp8);
}

std::string_view fp8_efficiency_key(Fp8Recipe recipe) {
    switch (recipe) {
        case Fp8Recipe::none: return "gemm";
        case Fp8Recipe::delayed:
        case Fp8Recipe::tensorwise: return "gemm_fp8";
        case Fp8Recipe::rowwise: return "gemm_fp8_rowwise";
        case Fp8Recipe::blockwise: return "gemm_fp8_blockwise";
        case Fp8Recipe::mxfp8: return "gemm_mxfp8";
    }
    return "gemm";
}

std::string ClusterSpec::describe_power_cap() const {
    if (!power_cap) return {};
    return fmt::format("power cap {} per GPU (TDP {}): SM clock × {:.3f} for compute-bound kernels (dynamic power ∝ f³ above "
                       "the {} idle draw, an assumption), energy counted at the cap",
                       format_power(*power_cap), format_power(chip.tdp), clock_factor(), format_power(chip.idle_power));
}

std::string describe_launches(const ChipProfile& chip, bool cuda_graphs) {
    if (chip.launch_host.value() <= 0.0 && chip.launch_gap.value() <= 0.0) {
        return fmt::format("launch costs not modelled (chip \"{}\" has no [launch] figures)", chip.id);
    }
    if (cuda_graphs) {
        return fmt::format("CUDA graphs (cuda_graphs = true): no host launch cost, {} of GPU gap per kernel",
                           format_duration(chip.launch_gap));
    }
    return fmt::format("eager, {} of host time and {} of GPU gap per kernel (cuda_graphs = true removes the host time)",
                       format_duration(chip.launch_host), format_duration(chip.launch_gap));
}

double ClusterSpec::clock_factor() const {
    if (!power_cap || !(power_cap->value() < chip.tdp.value())) return 1.0;
    const double dynamic_at_tdp = chip.tdp.value() - chip.idle_power.value();
    const double dynamic_at_cap = power_cap->value() - chip.idle_power.value();
    if (!(dynamic_at_tdp > 0.0) || !(dynamic_at_cap > 0.0)) return 1.0;  // refused when read (read_cluster)
    return std::cbrt(dynamic_at_cap / dynamic_at_tdp);
}

FlopsPerSecond ChipProfile::peak(Precision p) const {
    if (auto it = peak_dense.find(p); it != peak_dense.end()) return it->second;
    std::string supported;
    for (const auto& [format, rate] : peak_dense) {
        if (!supported.empty()) supported += ", ";
        supported += to_string(format);
    }
    throw Error(fmt::format("chip \"{}\" has no {} peak in its catalog entry", id, to_string(p)),
                fmt::format("use one of the formats it supports ({}), or add a [compute] {} figure", supported,
                            to_string(p)));
}

std::string ChipProfile::memory_basis() const {
    const std::string device = memory_nameplate
                                   ? fmt::format("{} as published (what the device exposes is not published)",
                                                 format_bytes(memory_device))
                                   : fmt::format("{} as the device reports it", format_bytes(memory_device));
    if (memory_reserve.value() <= 0.0) {
        return fmt::format("{} usable: {} (no framework reserve: none in the chip's entry, or a reserve of 0 set)",
                           format_bytes(memory_capacity), device);
    }
    return fmt::format("{} usable: {} less a {} framework reserve (CUDA context, NCCL buffers, allocator "
                       "fragmentation)",
                       format_bytes(memory_capacity), device, format_bytes(memory_reserve));
}

std::string_view to_string(Fabric f) {
    switch (f) {
        case Fabric::single_node: return "single-node";
        case Fabric::fat_tree: return "fat-tree";
        case Fabric::rail_optimized: return "rail-optimized";
        case Fabric::multi_plane: return "multi-plane";
    }
    return "?";
}

std::optional<Fabric> fabric_from_string(std::string_view name) {
    for (Fabric f : {Fabric::single_node, Fabric::fat_tree, Fabric::rail_optimized, Fabric::multi_plane}) {
        if (to_string(f) == name) return f;
    }
    return std::nullopt;
}

}  // namespace gpuhours
