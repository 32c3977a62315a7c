// The chip catalog: every file loads through the scenario loader, every figure carries a source, and the
// headline figures agree with shared/reference/chips-and-rules.md.
#include <gpuhours/scenario/scenario.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <optional>

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
                                 "ascend-910b", "mi300x", "h800-pcie", "a800-40gb", "l2"}) {
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
    // H100 as CUDA exposes it: 79.15 GiB = 79.15 × 2^30 = 84,986,665,369.6 B, read in whole bytes rounded down:
    // 84,986,665,369; usable less the 3 GiB reserve (3,221,225,472): 81,765,439,897.
    CHECK(h100.memory_device.value() == 84'986'665'369.0);
    CHECK(h100.memory_capacity.value() == 81'765'439'897.0);
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

TEST_CASE("the H800 PCIe, A800 40GB and L2 carry the reference's figures and their siblings' conventions") {
    // chips-and-rules.md §2.1, rows "H800 PCIe", "A800" and "L2"; links per direction (bidirectional / 2).
    const ChipProfile h100_pcie = load_chip("h100-pcie", kCatalog);
    const ChipProfile h800_pcie = load_chip("h800-pcie", kCatalog);
    // As the H100 PCIe: 756 BF16, 1,513 FP8 dense, 2.0 TB/s, 114 SMs, 814 mm², bridged pairs; NVLink bridge 400 GB/s
    // bidirectional ⇒ 400 / 2 = 200 GB/s per direction (the H100 PCIe's 600 ⇒ 300); 350 W.
    CHECK(h800_pcie.peak(Precision::bf16).value() == Approx(756e12));
    CHECK(h800_pcie.peak(Precision::fp8).value() == Approx(1513e12));
    CHECK(h800_pcie.memory_bandwidth.value() == Approx(2.0e12));
    CHECK(h800_pcie.scale_up_bandwidth.value() == Approx(200e9));
    CHECK(h800_pcie.scale_up_bandwidth.value() / h100_pcie.scale_up_bandwidth.value() == Approx(400.0 / 600.0));
    CHECK(h800_pcie.scale_up_domain == 2);
    CHECK(h800_pcie.tdp.value() == Approx(350.0));
    CHECK(h800_pcie.die_area_mm2 == std::optional<double>(814.0));
    // Carried from h100-pcie.toml: memory as CUDA exposes it, SMs, NIC and every kernel efficiency.
    CHECK(h800_pcie.memory_device == h100_pcie.memory_device);
    CHECK(h800_pcie.memory_capacity == h100_pcie.memory_capacity);
    CHECK(h800_pcie.sm_count == h100_pcie.sm_count);
    CHECK(h800_pcie.nic_bandwidth == h100_pcie.nic_bandwidth);
    CHECK(h800_pcie.efficiency == h100_pcie.efficiency);

    const ChipProfile a100_40 = load_chip("a100-40gb", kCatalog);
    const ChipProfile a800_40 = load_chip("a800-40gb", kCatalog);
    // As the A100 40GB: 312 BF16/FP16 dense, no FP8, 1,555 GB/s, 400 W, 826 mm²; NVLink 400 GB/s bidirectional ⇒ 200.
    CHECK(a800_40.peak(Precision::bf16).value() == Approx(312e12));
    CHECK_FALSE(a800_40.peak_dense.contains(Precision::fp8));
    CHECK(a800_40.memory_bandwidth.value() == Approx(1555e9));
    CHECK(a800_40.scale_up_bandwidth.value() == Approx(200e9));
    CHECK(a800_40.scale_up_domain == 8);
    CHECK(a800_40.tdp.value() == Approx(400.0));
    CHECK(a800_40.die_area_mm2 == std::optional<double>(826.0));
    // 39.50 GiB exposed, as a100-40gb.toml: 39.50 × 2^30 = 42,412,802,048 B, less the 3 GiB reserve.
    CHECK(a800_40.memory_device.value() == Approx(39.50 * 1073741824.0).epsilon(1e-12));
    CHECK(a800_40.memory_capacity == a100_40.memory_capacity);
    CHECK(a800_40.efficiency == a100_40.efficiency);
    // No A800 price in the reference (§2.3): none, as a800-80gb.toml, where the A100 40GB has one.
    CHECK(a100_40.rental_gpu_hour.has_value());
    CHECK_FALSE(a800_40.rental_gpu_hour.has_value());

    const ChipProfile l20 = load_chip("l20", kCatalog);
    const ChipProfile l2 = load_chip("l2", kCatalog);
    // 96.5 BF16, 193 FP8 dense; TF32 96.5 / 2 = 48.25 (the table's 48.3 rounded); 300 GB/s; no NVLink (PCIe, domain 1).
    CHECK(l2.peak(Precision::bf16).value() == Approx(96.5e12));
    CHECK(l2.peak(Precision::fp8).value() == Approx(193e12));
    CHECK(l2.peak(Precision::tf32).value() == Approx(48.25e12));
    CHECK(l2.memory_bandwidth.value() == Approx(300e9));
    CHECK(l2.scale_up_domain == 1);
    CHECK(l2.scale_up_bandwidth == l20.scale_up_bandwidth);  // PCIe Gen4 x16, 64 / 2 = 32 GB/s, as l20.toml
    // 24 GB nameplate (what the device exposes is unpublished): 24 × 10^9 B, less 3 GiB = 20,778,774,528 B usable.
    CHECK(l2.memory_nameplate);
    CHECK(l2.memory_device.value() == 24e9);
    CHECK(l2.memory_capacity.value() == 24e9 - 3.0 * 1073741824.0);
    // ~120 W [U]; die ~295 mm² [U].
    CHECK(l2.tdp.value() == Approx(120.0));
    CHECK(l2.die_area_mm2 == std::optional<double>(295.0));
    // Carried from l20.toml: SMs, NIC, latencies and every kernel efficiency; no price.
    CHECK(l2.sm_count == l20.sm_count);
    CHECK(l2.nic_bandwidth == l20.nic_bandwidth);
    CHECK(l2.nic_latency == l20.nic_latency);
    CHECK(l2.efficiency == l20.efficiency);
    CHECK_FALSE(l2.rental_gpu_hour.has_value());
    CHECK_FALSE(h800_pcie.rental_gpu_hour.has_value());
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

TEST_CASE("a catalog others could write is refused when walking up from a scenario, naming --catalog") {
    // A directory with chips/ and models/ beside the scenario is its catalog (find_catalog_dir). The same directory
    // with chips/ writable by others (as anything under /tmp could be planted) is refused, naming the path and the
    // way to use it anyway: passing it over would run on the shipped catalog's figures unsaid (a reviewer's read).
    const gpuhours::test::TempDir dir("catalog-trust");
    const std::filesystem::path project = dir.path / "project";
    std::filesystem::create_directories(project / "chips");
    std::filesystem::create_directories(project / "models");
    for (const auto& p : {project, project / "chips", project / "models"}) {
        std::filesystem::permissions(p, std::filesystem::perms::others_write, std::filesystem::perm_options::remove);
    }
    const std::filesystem::path scenario = project / "run.toml";
    CHECK(find_catalog_dir(scenario) == project);
    std::filesystem::permissions(project / "chips", std::filesystem::perms::others_write, std::filesystem::perm_options::add);
    CHECK_THROWS_WITH(find_catalog_dir(scenario), Catch::Contains((project / "chips").string() + " is writable by others") &&
                                                      Catch::Contains("pass --catalog " + project.string()));
}

TEST_CASE("a catalog file changed between two loads is read anew") {
    // parse_document_file reuses a file's parse while its text is unchanged (the loader read the flagship's chip 21
    // times). Rewriting the file with a figure of the same length (so the same size, likely the same modification
    // time) must give the new figure: the text is compared byte for byte, not the size or the time.
    const gpuhours::test::TempDir dir("catalog-reparse");
    std::filesystem::create_directories(dir.path / "chips");
    const std::string text = gpuhours::test::read_text(kCatalog / "chips" / "h100.toml");
    const std::string tdp = "tdp = { value = \"700 W\"";
    REQUIRE(text.find(tdp) != std::string::npos);
    const auto write = [&](const std::string& watts) {
        std::string changed = text;
        changed.replace(changed.find(tdp), tdp.size(), "tdp = { value = \"" + watts + " W\"");
        std::ofstream(dir.path / "chips" / "h100.toml", std::ios::binary | std::ios::trunc) << changed;
    };
    write("700");
    CHECK(load_chip("h100", dir.path).tdp.value() == 700.0);
    CHECK(load_chip("h100", dir.path).tdp.value() == 700.0);  // the kept parse
    write("650");
    CHECK(load_chip("h100", dir.path).tdp.value() == 650.0);
}
