// The chip catalog: every file loads through the scenario loader, every figure carries a source, and the
// headline figures agree with shared/reference/chips-and-rules.md.
#include <gpuhours/scenario/scenario.hpp>

#include <catch2/catch.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

using namespace gpuhours;

namespace {
const std::filesystem::path kCatalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";

// Export-control TPP = max over formats of dense TFLOP/s × bit length (chips-and-rules.md §3.1).
double tpp(const ChipProfile& chip) {
    double best = 0.0;
    for (const auto& [format, rate] : chip.peak_dense) {
        if (format == Precision::fp64) continue;  // 3A090 counts the AI formats; FP64 never sets the maximum
        best = std::max(best, rate.value() / 1e12 * bit_length(format));
    }
    return best;
}
}  // namespace

TEST_CASE("the chip catalog has the chips the project promises") {
    const auto names = catalog_names(kCatalog, "chips");
    for (const char* required : {"h100", "h800", "h20", "a100-80gb", "a800-80gb", "h200", "b200", "l20",
                                 "ascend-910b", "mi300x"}) {
        INFO(required);
        CHECK(std::find(names.begin(), names.end(), required) != names.end());
    }
}

TEST_CASE("every catalog chip loads and every figure in it has a source") {
    for (const auto& name : catalog_names(kCatalog, "chips")) {
        INFO("chip " << name);
        const ChipProfile chip = load_chip(name, kCatalog);
        CHECK(chip.id == name);
        CHECK(chip.peak_dense.contains(Precision::bf16));
        CHECK(chip.memory_capacity.value() > 0);
        CHECK(chip.efficiency.gemm > 0);

        const toml::table doc = toml::parse_file((kCatalog / "chips" / (name + ".toml")).string());
        int figures = 0;
        for (const auto& [section, node] : doc) {
            const auto* table = node.as_table();
            if (table == nullptr) continue;
            for (const auto& [key, value] : *table) {
                if (key == "process") continue;  // a plain label, not a figure
                INFO(section.str() << "." << key.str());
                const auto* figure = value.as_table();
                REQUIRE(figure != nullptr);
                const auto source = (*figure)["source"].value<std::string>();
                REQUIRE(source.has_value());
                CHECK(source->size() > 5);
                ++figures;
            }
        }
        CHECK(figures >= 12);
    }
}

TEST_CASE("catalog figures match the reference table") {
    const ChipProfile h100 = load_chip("h100", kCatalog);
    const ChipProfile h800 = load_chip("h800", kCatalog);
    const ChipProfile h20 = load_chip("h20", kCatalog);
    const ChipProfile a800 = load_chip("a800-80gb", kCatalog);
    // NVLink per direction: H100 900/2 = 450 GB/s, H800 400/2 = 200 GB/s, so H800/H100 = 400/900.
    CHECK(h100.scale_up_bandwidth.value() == 450e9);
    CHECK(h800.scale_up_bandwidth.value() / h100.scale_up_bandwidth.value() == Approx(400.0 / 900.0));
    // Same compute: the H800 cut only NVLink and FP64.
    CHECK(h800.peak(Precision::bf16) == h100.peak(Precision::bf16));
    CHECK(h800.peak(Precision::fp8).value() == Approx(1978.9e12));
    // H20: 148 dense BF16 TFLOP/s, 96 GB at 4.0 TB/s, full 900 GB/s NVLink. The device exposes nvidia-smi's 97,871
    // MiB less the H100's driver share (81,559 MiB − 79.15 GiB = 81,559 − 81,049.6 ≈ 509 MiB): 97,362 MiB =
    // 97,362 × 2^20 = 102,091,456,512 B (6.3 % above the nameplate 96 × 10^9); fits use that less the 3 GiB
    // framework reserve = 102,091,456,512 − 3,221,225,472 = 98,870,231,040 B.
    CHECK(h20.peak(Precision::bf16).value() == Approx(148e12));
    CHECK(h20.memory_device.value() == 102'091'456'512.0);
    CHECK(h20.memory_reserve.value() == 3.0 * 1073741824.0);
    CHECK(h20.memory_capacity.value() == 98'870'231'040.0);
    CHECK_FALSE(h20.memory_nameplate);
    // H100 as CUDA exposes it: 79.15 GiB = 79.15 × 2^30 = 84,986,665,369.6 B; usable 76.15 GiB.
    CHECK(h100.memory_device.value() == Approx(84'986'665'369.6).epsilon(1e-12));
    CHECK(h100.memory_capacity.value() == Approx(76.15 * 1073741824.0).epsilon(1e-12));
    CHECK(h20.memory_bandwidth.value() == Approx(4.0e12));
    CHECK(h20.scale_up_bandwidth.value() == 450e9);
    // TPP (chips-and-rules.md §3.7): H100 15,831 (FP8 1,978.9 × 8), H20 2,368, A800 4,992 (FP16 312 × 16).
    CHECK(tpp(h100) == Approx(15831).margin(1));
    CHECK(tpp(h800) == Approx(15831).margin(1));
    CHECK(tpp(h20) == Approx(2368).margin(1));
    CHECK(tpp(a800) == Approx(4992).margin(1));
    // Performance density of the H100: 15,831 / 814 mm² = 19.45.
    REQUIRE(h100.die_area_mm2.has_value());
    CHECK(tpp(h100) / *h100.die_area_mm2 == Approx(19.45).margin(0.01));
}

TEST_CASE("an unknown chip name lists the catalog") {
    CHECK_THROWS_WITH(load_chip("h900", kCatalog), Catch::Contains("unknown chip \"h900\"") && Catch::Contains("h800"));
}

TEST_CASE("catalog rental prices are the reference's, and absent where it has none") {
    // shared/reference/chips-and-rules.md §2.3: DeepSeek's $2.00 per H800-hour; the SemiAnalysis H100 index at $2.35
    // (Mar 2026); both A100s at the midpoint of the 2026 A100 range $0.8–1.5 = $1.15 (one date and market: AWS's Jan
    // 2025 $1.844 for the 40 GB part made it cost 60 % more than the 80 GB one); Google's $4.20 per TPU v5p
    // chip-hour; the B200 at the midpoint of $3.75–6.03 = $4.89. The H20 has no rental price there.
    const std::pair<const char*, double> expected[] = {{"h800", 2.00}, {"h100", 2.35}, {"a100-40gb", (0.8 + 1.5) / 2},
                                                       {"a100-80gb", (0.8 + 1.5) / 2}, {"tpu-v5p", 4.20},
                                                       {"b200", (3.75 + 6.03) / 2}};
    for (const auto& [name, price] : expected) {
        INFO(name);
        const ChipProfile chip = load_chip(name, kCatalog);
        REQUIRE(chip.rental_gpu_hour.has_value());
        CHECK(chip.rental_gpu_hour->value() == Approx(price).epsilon(0.001));
        CHECK_THAT(chip.rental_source, Catch::Contains("chips-and-rules §2.3"));
    }
    CHECK_FALSE(load_chip("h20", kCatalog).rental_gpu_hour.has_value());
}
