// Export-control classification of the chip catalog (chips-and-rules.md Part 3). Expected classes come from
// the reference's table §3.7 ("Oct 2022 test", "Oct 2023+ class", "Jan 2026 case-by-case eligible?").
#include <gpuhours/run/policy.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include "../support/cli.hpp"
#include "../support/scenario_error.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <map>
#include <string>

using namespace gpuhours;

namespace {
const std::filesystem::path kCatalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";

std::map<std::string, std::string> classify_catalog(const std::string& rule) {
    const RuleSet rules = load_rule_set(rule, kCatalog);
    std::map<std::string, std::string> out;
    for (const auto& name : catalog_names(kCatalog, "chips")) {
        const Classification c = classify(load_chip(name, kCatalog), rules);
        INFO(name << ": " << c.why());
        CHECK(c.determined);
        out[name] = c.class_name;
    }
    return out;
}

void check_table(const std::map<std::string, std::string>& got, const std::map<std::string, std::string>& expected) {
    CHECK(got.size() == expected.size());  // every catalog chip has an expectation
    for (const auto& [chip, cls] : expected) {
        INFO(chip);
        REQUIRE(got.count(chip) == 1);
        CHECK(got.at(chip) == cls);
    }
}
}  // namespace

TEST_CASE("TPP and performance density of every catalog chip match the reference table", "[policy]") {
    // chips-and-rules.md §3.7, TPP = max over formats of dense TFLOP/s × bit length, ±1.
    const std::map<std::string, double> tpp = {
        {"h100", 15831},       // FP8 1,978.9 × 8
        {"h100-pcie", 12104},  // FP8 1,513 × 8
        {"h800", 15831},       // as H100
        {"h800-pcie", 12104},  // as H100 PCIe: FP8 1,513 × 8
        {"h20", 2368},         // BF16 148 × 16 = FP8 296 × 8
        {"a100-40gb", 4992},   // FP16 312 × 16
        {"a100-80gb", 4992},
        {"a800-80gb", 4992},
        {"a800-40gb", 4992},   // as A100: FP16 312 × 16
        {"h200", 15831},
        {"b200", 36000},       // BF16 2,250 × 16
        {"gb200", 40000},      // BF16 2,500 × 16
        {"l40s", 5864},        // FP8 733 × 8
        {"l20", 1912},         // table: BF16 119.5 × 16 = FP8 239 × 8 = 1,912; the catalog's TF32 is the exact
                               // 119.5 / 2 = 59.75 (59.75 × 32 = 1,912), not the spec table's rounded 59.8 (1,913.6)
        {"l2", 1544},          // FP8 193 × 8 = BF16 96.5 × 16 = 1,544; TF32 the exact 96.5 / 2 = 48.25 (× 32 = 1,544),
                               // not the spec table's rounded 48.3 (1,545.6)
        {"ascend-910b", 6016}, // FP16 376 × 16, the top of the table's 5,120–6,016 range (catalog SKU)
        {"ascend-910c", 12480},// BF16 780 × 16
        {"mi300x", 20919},     // FP8 2,614.9 × 8 = 20,919.2 (BF16 1,307.4 × 16 = 20,918.4)
        {"gaudi3", 29360},     // BF16 1,835 × 16
        {"tpu-v5p", 7344},     // BF16 459 × 16
    };
    for (const auto& [chip, expected] : tpp) {
        INFO(chip);
        CHECK(metrics_of(load_chip(chip, kCatalog)).tpp == Approx(expected).margin(1));
    }
    // PD = TPP / die mm²: H100 15,831 / 814 = 19.45; H100 PCIe 12,104 / 814 = 14.87; H20 2,368 / 814 = 2.91;
    // A100 4,992 / 826 = 6.04; L40S 5,864 / 608.5 = 9.64; L20 1,912 / 608.5 = 3.14; H800 PCIe as H100 PCIe 14.87;
    // A800 40GB as A100 6.04; L2 1,544 / 295 [U die] = 5.234 (table: ~5.2 [U die]). L20: 1,912 / 608.5 = 3.1422.
    const std::map<std::string, double> pd = {{"h100", 19.45},     {"h100-pcie", 14.87}, {"h20", 2.91},
                                              {"a100-80gb", 6.04}, {"l40s", 9.64},       {"l20", 3.14},
                                              {"h800-pcie", 14.87}, {"a800-40gb", 6.04}, {"l2", 5.23}};
    for (const auto& [chip, expected] : pd) {
        INFO(chip);
        const auto m = metrics_of(load_chip(chip, kCatalog));
        REQUIRE(m.performance_density.has_value());
        CHECK(*m.performance_density == Approx(expected).margin(0.01));
    }
    // No published die area: PD unknown, never guessed.
    for (const char* chip : {"b200", "mi300x", "gaudi3", "tpu-v5p", "ascend-910c"}) {
        INFO(chip);
        CHECK_FALSE(metrics_of(load_chip(chip, kCatalog)).performance_density.has_value());
    }
}

TEST_CASE("the October 2022 rule catches chips with both TPP and I/O over the line", "[policy]") {
    // 3A090.a = TPP ≥ 4,800 AND bidirectional I/O ≥ 600 GB/s; I/O = scale-up per direction × 2.
    check_table(classify_catalog("oct-2022"), {
        {"h100", "3A090.a"},            // 15,831; 450 × 2 = 900 GB/s
        {"h100-pcie", "3A090.a"},       // 12,104; NVLink bridge 300 × 2 = 600 ≥ 600 (table: "controlled? [U]")
        {"h800", "not controlled"},     // 15,831 but 200 × 2 = 400 < 600
        {"h800-pcie", "not controlled"},// 12,104 but NVLink bridge 200 × 2 = 400 < 600 (table: not controlled)
        {"h20", "not controlled"},      // TPP 2,368 < 4,800
        {"a100-40gb", "3A090.a"},       // 4,992; 600 GB/s
        {"a100-80gb", "3A090.a"},
        {"a800-80gb", "not controlled"},// 4,992 but 400 < 600
        {"a800-40gb", "not controlled"},// 4,992 but 400 < 600
        {"h200", "3A090.a"},
        {"b200", "3A090.a"},            // 1,800 GB/s
        {"gb200", "3A090.a"},
        {"l40s", "not controlled"},     // PCIe only, 64 GB/s
        {"l20", "not controlled"},      // TPP 1,912
        {"l2", "not controlled"},       // TPP 1,544 < 4,800
        {"mi300x", "3A090.a"},          // 448 × 2 = 896 GB/s
        {"gaudi3", "3A090.a"},          // 525 × 2 = 1,050 GB/s (table: 1.2 TB/s with all 24 ports)
        // Not decided by the table ("—" or "(≥ 4,800)"), asserted from the catalog figures:
        {"ascend-910b", "not controlled"},  // 6,016 but HCCS 196 × 2 = 392 GB/s < 600
        {"ascend-910c", "3A090.a"},         // 12,480; 392 × 2 = 784 GB/s
        {"tpu-v5p", "3A090.a"},             // 7,344; ICI 600 × 2 = 1,200 GB/s (direction [U] in the catalog)
    });
}

TEST_CASE("the October 2023 rule catches H800 and A800 but not H20, L20 or L2", "[policy]") {
    // 3A090.a = TPP ≥ 4,800 OR (TPP ≥ 1,600 AND PD ≥ 5.92); .b = (2,400 ≤ TPP < 4,800 AND 1.6 ≤ PD < 5.92) OR
    // (TPP ≥ 1,600 AND 3.2 ≤ PD < 5.92). Table §3.7: every chip 3A090.a except H20, L20 and L2 (outside).
    check_table(classify_catalog("oct-2023"), {
        {"h100", "3A090.a"},  {"h100-pcie", "3A090.a"}, {"h800", "3A090.a"},   // TPP 15,831 ≥ 4,800
        {"a100-40gb", "3A090.a"}, {"a100-80gb", "3A090.a"}, {"a800-80gb", "3A090.a"},  // 4,992 ≥ 4,800
        {"h200", "3A090.a"},  {"b200", "3A090.a"},      {"gb200", "3A090.a"},
        {"l40s", "3A090.a"},  // 5,864
        {"ascend-910b", "3A090.a"}, {"ascend-910c", "3A090.a"}, {"mi300x", "3A090.a"}, {"gaudi3", "3A090.a"},
        {"tpu-v5p", "3A090.a"},  // TPP ≥ 4,800 decides it even where PD is unknown
        {"h20", "not controlled"},  // TPP 2,368 < 2,400 and PD 2.91 < 3.2
        {"l20", "not controlled"},  // TPP 1,912 < 2,400 and PD 1,912 / 608.5 = 3.142 < 3.2 (by a hair; table: 3.14)
        {"h800-pcie", "3A090.a"},   // 12,104 ≥ 4,800
        {"a800-40gb", "3A090.a"},   // 4,992 ≥ 4,800
        {"l2", "not controlled"},   // TPP 1,544 < 1,600: no prong can hold, whatever the [U] die (PD 5.23)
    });
}

TEST_CASE("the April 2025 H20 letter keeps the October 2023 classes and catches the H20 by its bandwidth", "[policy]") {
    // apr-2025-h20.toml: the Oct 2023 classes first (every chip but H20, L20 and L2 is 3A090.a, as in the case above),
    // then "licence required (Apr 2025)" for memory bandwidth ≥ 4,000 GB/s or bidirectional interconnect ≥ 900 GB/s
    // (the H20's own figures, chips-and-rules.md §3.6), else not controlled.
    check_table(classify_catalog("apr-2025-h20"), {
        {"h100", "3A090.a"},  {"h100-pcie", "3A090.a"}, {"h800", "3A090.a"},   // TPP 15,831 / 12,104 ≥ 4,800
        {"a100-40gb", "3A090.a"}, {"a100-80gb", "3A090.a"}, {"a800-80gb", "3A090.a"},  // 4,992 ≥ 4,800
        {"h200", "3A090.a"},  {"b200", "3A090.a"},      {"gb200", "3A090.a"},
        {"l40s", "3A090.a"},  // 5,864
        {"ascend-910b", "3A090.a"}, {"ascend-910c", "3A090.a"}, {"mi300x", "3A090.a"}, {"gaudi3", "3A090.a"},
        {"tpu-v5p", "3A090.a"},
        {"h20", "licence required (Apr 2025)"},  // TPP 2,368, PD 2.91: outside 3A090; DRAM 4.0 TB/s ≥ 4,000 GB/s
        {"l20", "not controlled"},               // outside 3A090; DRAM 864 GB/s < 4,000, PCIe 32 × 2 = 64 GB/s < 900
        {"h800-pcie", "3A090.a"}, {"a800-40gb", "3A090.a"},  // 12,104 / 4,992 ≥ 4,800
        {"l2", "not controlled"},                // outside 3A090; DRAM 300 GB/s < 4,000, PCIe 64 GB/s < 900
    });
    const RuleSet rules = load_rule_set("apr-2025-h20", kCatalog);
    const Classification h20 = classify(load_chip("h20", kCatalog), rules);
    CHECK_FALSE(permitted(h20, rules));  // none licensed before about August 2025
    CHECK_THAT(h20.why(), Catch::Contains("DRAM BW 4,000 GB/s ≥ 4,000 GB/s"));
    // The interconnect prong alone: an H20 whose memory were an L20's (864 GB/s) is still caught by its NVLink,
    // 450 × 2 = 900 GB/s ≥ 900.
    ChipProfile narrow = load_chip("h20", kCatalog);
    narrow.memory_bandwidth = load_chip("l20", kCatalog).memory_bandwidth;
    CHECK(classify(narrow, rules).class_name == "licence required (Apr 2025)");
    CHECK(permitted(classify(load_chip("l20", kCatalog), rules), rules));
}

TEST_CASE("a TPP that formats tie is named by its 16-bit figure, as the reference reads it", "[policy]") {
    // A100: TF32 156 TFLOP/s × 32 = 4,992 = BF16 312 × 16 = INT8 624 TOPS × 8 (chips-and-rules.md §3.7 reads it from
    // FP16): a 16-bit format is named, not TF32 (it read "tf32") nor INT8. B200: BF16 2,250 × 16 = FP8 4,500 × 8 =
    // 36,000 (and FP4 twice FP8): BF16, not FP4. H20: BF16 148 × 16 = FP8 296 × 8 = 2,368: BF16.
    const ChipMetrics a100 = metrics_of(load_chip("a100-80gb", kCatalog));
    CHECK(a100.tpp == Approx(4992.0));
    CHECK(bit_length(a100.tpp_basis) == 16);
    const ChipMetrics b200 = metrics_of(load_chip("b200", kCatalog));
    CHECK(b200.tpp == Approx(36000.0));
    CHECK(bit_length(b200.tpp_basis) == 16);
    const ChipMetrics h20 = metrics_of(load_chip("h20", kCatalog));
    CHECK(h20.tpp == Approx(2368.0));
    CHECK(bit_length(h20.tpp_basis) == 16);
}

TEST_CASE("the explanation of a classification quotes the numbers that decided it", "[policy]") {
    const RuleSet oct2022 = load_rule_set("oct-2022", kCatalog);
    const RuleSet oct2023 = load_rule_set("oct-2023", kCatalog);
    const Classification h800_2022 = classify(load_chip("h800", kCatalog), oct2022);
    CHECK(h800_2022.class_name == "not controlled");
    CHECK(h800_2022.why() == "not 3A090.a: I/O 400 GB/s < 600 GB/s");
    const Classification h800_2023 = classify(load_chip("h800", kCatalog), oct2023);
    CHECK(h800_2023.why() == "TPP 15,831 ≥ 4,800");
    const Classification a800_2022 = classify(load_chip("a800-80gb", kCatalog), oct2022);
    CHECK(a800_2022.why() == "not 3A090.a: I/O 400 GB/s < 600 GB/s");
    CHECK(classify(load_chip("a800-80gb", kCatalog), oct2023).why() == "TPP 4,992 ≥ 4,800");
    const Classification h20 = classify(load_chip("h20", kCatalog), oct2023);
    CHECK(h20.why() == "not 3A090.a: TPP 2,368 < 4,800; PD 2.91 < 5.92; not 3A090.b: TPP 2,368 < 2,400; PD 2.91 < 3.2");
    const Classification l20 = classify(load_chip("l20", kCatalog), oct2023);
    CHECK(l20.why() == "not 3A090.a: TPP 1,912 < 4,800; PD 3.14 < 5.92; not 3A090.b: TPP 1,912 < 2,400; PD 3.14 < 3.2");
    const Classification h100 = classify(load_chip("h100", kCatalog), oct2022);
    CHECK(h100.class_name == "3A090.a");
    CHECK(h100.why() == "TPP 15,831 ≥ 4,800; I/O 900 GB/s ≥ 600 GB/s");
}

TEST_CASE("the H800 PCIe, A800 40GB and L2 have the reference's TPP and its Oct 2022 and Oct 2023 verdicts", "[policy]") {
    // chips-and-rules.md §3.7, rows "H800 PCIe", "A800" and "L2"; I/O = scale-up per direction × 2.
    const RuleSet oct2022 = load_rule_set("oct-2022", kCatalog);
    const RuleSet oct2023 = load_rule_set("oct-2023", kCatalog);

    const ChipProfile h800_pcie = load_chip("h800-pcie", kCatalog);
    // TPP = 1,513 TFLOP/s FP8 × 8 = 12,104 (above BF16 756 × 16 = 12,096), so FP8 sets it.
    CHECK(metrics_of(h800_pcie).tpp == Approx(12104.0));
    CHECK(bit_length(metrics_of(h800_pcie).tpp_basis) == 8);
    // Oct 2022: TPP 12,104 ≥ 4,800 but I/O = NVLink bridge 200 GB/s × 2 = 400 GB/s < 600 ⇒ not controlled.
    CHECK(classify(h800_pcie, oct2022).class_name == "not controlled");
    CHECK(classify(h800_pcie, oct2022).why() == "not 3A090.a: I/O 400 GB/s < 600 GB/s");
    // Oct 2023: TPP 12,104 ≥ 4,800 ⇒ 3A090.a, not permitted.
    CHECK(classify(h800_pcie, oct2023).class_name == "3A090.a");
    CHECK(classify(h800_pcie, oct2023).why() == "TPP 12,104 ≥ 4,800");
    CHECK_FALSE(permitted(classify(h800_pcie, oct2023), oct2023));

    const ChipProfile a800_40 = load_chip("a800-40gb", kCatalog);
    // TPP = 312 TFLOP/s FP16 × 16 = 4,992 (= INT8 624 × 8 = TF32 156 × 32): a 16-bit format is named.
    CHECK(metrics_of(a800_40).tpp == Approx(4992.0));
    CHECK(bit_length(metrics_of(a800_40).tpp_basis) == 16);
    // Oct 2022: TPP 4,992 ≥ 4,800 but I/O = NVLink 200 GB/s × 2 = 400 GB/s < 600 ⇒ not controlled.
    CHECK(classify(a800_40, oct2022).class_name == "not controlled");
    CHECK(classify(a800_40, oct2022).why() == "not 3A090.a: I/O 400 GB/s < 600 GB/s");
    // Oct 2023: TPP 4,992 ≥ 4,800 ⇒ 3A090.a.
    CHECK(classify(a800_40, oct2023).class_name == "3A090.a");
    CHECK(classify(a800_40, oct2023).why() == "TPP 4,992 ≥ 4,800");

    const ChipProfile l2 = load_chip("l2", kCatalog);
    // TPP = 193 TFLOP/s FP8 × 8 = 1,544 = BF16 96.5 × 16 = TF32 48.25 × 32: a 16-bit format is named.
    CHECK(metrics_of(l2).tpp == Approx(1544.0));
    CHECK(bit_length(metrics_of(l2).tpp_basis) == 16);
    // PD = 1,544 / 295 mm² [U die] = 5.234.
    REQUIRE(metrics_of(l2).performance_density.has_value());
    CHECK(*metrics_of(l2).performance_density == Approx(1544.0 / 295.0));
    // Oct 2022: TPP 1,544 < 4,800 ⇒ not controlled (the I/O, PCIe 32 × 2 = 64 GB/s, is not reached).
    CHECK(classify(l2, oct2022).class_name == "not controlled");
    CHECK(classify(l2, oct2022).why() == "not 3A090.a: TPP 1,544 < 4,800");
    // Oct 2023: .a needs TPP ≥ 4,800 or (TPP ≥ 1,600 and PD ≥ 5.92); .b needs TPP ≥ 2,400 or TPP ≥ 1,600 in each
    // prong: 1,544 < 1,600 fails all four, whatever the die ⇒ not controlled, permitted.
    CHECK(classify(l2, oct2023).class_name == "not controlled");
    CHECK(classify(l2, oct2023).why() ==
          "not 3A090.a: TPP 1,544 < 4,800; TPP 1,544 < 1,600; not 3A090.b: TPP 1,544 < 2,400; TPP 1,544 < 1,600");
    CHECK(permitted(classify(l2, oct2023), oct2023));
    // Without its [U] die area the class is still decided: TPP alone settles every prong.
    ChipProfile no_die = l2;
    no_die.die_area_mm2.reset();
    CHECK(classify(no_die, oct2023).determined);
    CHECK(classify(no_die, oct2023).class_name == "not controlled");
}

TEST_CASE("the January 2026 rule admits H200 and MI300X to case-by-case review but not Blackwell", "[policy]") {
    // Eligible: TPP < 21,000 AND DRAM bandwidth < 6,500 GB/s.
    const std::string yes = "eligible for case-by-case review";
    const std::string no = "presumption of denial";
    check_table(classify_catalog("jan-2026"), {
        {"h200", yes},     // 15,831 < 21,000; 4,800 < 6,500 GB/s
        {"mi300x", yes},   // 20,919 < 21,000; 5,300 < 6,500 GB/s
        {"b200", no},      // 36,000 ≥ 21,000
        {"gb200", no},     // 40,000
        {"gaudi3", no},    // 29,360
        {"h100", yes},  {"h100-pcie", yes}, {"h800", yes}, {"h20", yes}, {"a100-40gb", yes}, {"a100-80gb", yes},
        {"a800-80gb", yes}, {"l40s", yes}, {"l20", yes},
        {"h800-pcie", yes},  // 12,104 < 21,000; 2,000 < 6,500 GB/s
        {"a800-40gb", yes},  // 4,992; 1,555 GB/s
        {"l2", yes},         // 1,544; 300 GB/s
        {"tpu-v5p", yes},  // "yes on TPP (not sold as a chip)"
        // The table says n/a (PRC-origin, out of scope); the technical test alone passes: 6,016 / 12,480 TPP.
        {"ascend-910b", yes}, {"ascend-910c", yes},
    });
    const Classification b200 = classify(load_chip("b200", kCatalog), load_rule_set("jan-2026", kCatalog));
    CHECK(b200.why() == "not eligible for case-by-case review: TPP 36,000 ≥ 21,000");
    const Classification h200 = classify(load_chip("h200", kCatalog), load_rule_set("jan-2026", kCatalog));
    CHECK(h200.why() == "TPP 15,831 < 21,000; DRAM BW 4,800 GB/s < 6,500 GB/s");
}

TEST_CASE("the December 2024 HBM rule flags every HBM part and no GDDR part", "[policy]") {
    // Proxy for 3A090.c (bandwidth density > 2 GB/s/mm², no package areas in the catalog): DRAM ≥ 1,000 GB/s.
    const std::string hbm = "3A090.c HBM";
    std::map<std::string, std::string> expected;
    for (const auto& name : catalog_names(kCatalog, "chips")) expected[name] = hbm;
    expected["l20"] = "no 3A090.c memory";   // GDDR6, 864 GB/s
    expected["l40s"] = "no 3A090.c memory";  // GDDR6, 864 GB/s
    expected["l2"] = "no 3A090.c memory";    // GDDR6, 300 GB/s
    check_table(classify_catalog("dec-2024-hbm"), expected);
}

TEST_CASE("the hypothetical NVLink cap catches the H20 on bandwidth alone", "[policy]") {
    // Exportable iff TPP < 4,800 AND I/O ≤ 400 GB/s: only the L20 (1,912; 64 GB/s) and the L2 (1,544; 64 GB/s). The
    // H20 (2,368) fails on 900 GB/s of NVLink; the H800 PCIe and A800 40GB (400 GB/s ≤ 400) on TPP 12,104 / 4,992.
    std::map<std::string, std::string> expected;
    for (const auto& name : catalog_names(kCatalog, "chips")) expected[name] = "licence required";
    expected["l20"] = "exportable without licence";
    expected["l2"] = "exportable without licence";
    check_table(classify_catalog("hypothetical-nvlink-cap"), expected);
    const Classification h20 =
        classify(load_chip("h20", kCatalog), load_rule_set("hypothetical-nvlink-cap", kCatalog));
    CHECK(h20.why() == "not exportable without licence: I/O 900 GB/s > 400 GB/s");
}

TEST_CASE("a chip without a published die area is undetermined when only density can decide", "[policy]") {
    // An L20 without its die area: TPP 1,912 < 4,800, so 3A090.a hinges on PD ≥ 5.92, unknown.
    ChipProfile chip = load_chip("l20", kCatalog);
    chip.die_area_mm2.reset();
    const Classification c = classify(chip, load_rule_set("oct-2023", kCatalog));
    CHECK_FALSE(c.determined);
    CHECK(c.class_name == std::string(kUndetermined));
    CHECK_THAT(c.why(), Catch::Contains("3A090.a? PD unknown (die area not published)"));
}

TEST_CASE("every rule file loads and cites its source", "[policy]") {
    const auto names = rule_set_names(kCatalog);
    for (const char* required : {"oct-2022", "oct-2023", "dec-2024-hbm", "apr-2025-h20", "jan-2026", "hypothetical-nvlink-cap"}) {
        INFO(required);
        CHECK(std::find(names.begin(), names.end(), required) != names.end());
    }
    for (const auto& name : names) {
        INFO(name);
        const RuleSet r = load_rule_set(name, kCatalog);
        CHECK(r.id == name);
        CHECK_FALSE(r.source.empty());
        CHECK_FALSE(r.classes.empty());
        for (const auto& c : r.classes) CHECK_FALSE(c.source.empty());
    }
}

TEST_CASE("a misspelt key in a rule file is an error at its position with a suggestion", "[policy]") {
    const std::string text =
        "title = \"t\"\n"
        "source = \"s\"\n"
        "[[classes]]\n"
        "name = \"a\"\n"
        "source = \"s\"\n"
        "any = [{ metric = \"tpp\", at_lest = 4800 }]\n"
        "[default]\n"
        "name = \"not controlled\"\n";
    CHECK_THROWS_WITH(load_rule_set_from_string(text, "bad.toml"),
                      Catch::Contains("bad.toml:6:") && Catch::Contains("unknown key `at_lest`") &&
                          Catch::Contains("did you mean `at_least`?"));
}

TEST_CASE("an unknown metric in a rule file lists the known metrics", "[policy]") {
    const std::string text =
        "title = \"t\"\nsource = \"s\"\n[[classes]]\nname = \"a\"\nsource = \"s\"\n"
        "all = [{ metric = \"tpps\", at_least = 1 }]\n[default]\nname = \"n\"\n";
    CHECK_THROWS_WITH(load_rule_set_from_string(text, "bad.toml"),
                      Catch::Contains("bad.toml:6:") && Catch::Contains("did you mean \"tpp\"") &&
                          Catch::Contains("performance_density"));
}

TEST_CASE("an unknown rule set name lists the known ones", "[policy]") {
    CHECK_THROWS_WITH(load_rule_set("oct-2024", kCatalog),
                      Catch::Contains("unknown rule set \"oct-2024\"") && Catch::Contains("oct-2023") &&
                          Catch::Contains("jan-2026"));
}

TEST_CASE("gpuhours chips with a rule classifies the catalog", "[policy]") {
    const auto r = gpuhours::test::run_cli("chips --rule oct-2023");
    CHECK(r.exit_code == 0);
    INFO(r.out);
    const auto line_start = r.out.find("h800 ");
    REQUIRE(line_start != std::string::npos);
    const std::string line = r.out.substr(line_start, r.out.find('\n', line_start) - line_start);
    CHECK_THAT(line, Catch::Contains("3A090.a") && Catch::Contains("15,831"));
    CHECK_THAT(r.out, Catch::Contains("88 FR 73458"));
}

TEST_CASE("gpuhours chips --rule keeps to 120 columns, and --wide gives every column", "[policy]") {
    // Terminal columns of a line: its UTF-8 code points (the table's "—", "≥" and "²" are one column each).
    auto columns = [](const std::string& line) {
        return std::count_if(line.begin(), line.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
    };
    for (const char* rule : {"oct-2022", "oct-2023", "dec-2024-hbm", "apr-2025-h20", "jan-2026"}) {
        const auto r = gpuhours::test::run_cli(std::string("chips --rule ") + rule);
        INFO(r.out);
        REQUIRE(r.exit_code == 0);
        std::istringstream lines(r.out);
        for (std::string line; std::getline(lines, line);) {
            INFO(line);
            CHECK(columns(line) <= 120);
        }
        // The H20's reasons, listed under the table rather than in a column.
        CHECK_THAT(r.out, Catch::Contains("\nwhy\n") && Catch::Contains("  h20          "));
    }
    const auto wide = gpuhours::test::run_cli("chips --rule oct-2023 --wide");
    REQUIRE(wide.exit_code == 0);
    const std::string header = wide.out.substr(0, wide.out.find('\n'));
    CHECK_THAT(header, Catch::Contains("name") && Catch::Contains("TDP") && Catch::Contains("why"));
    CHECK_THAT(wide.out, Catch::Contains("NVIDIA H800 SXM5"));
}

TEST_CASE("gpuhours chips with a rule writes the class in JSON", "[policy]") {
    const auto r = gpuhours::test::run_cli("chips --rule jan-2026 --json");
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("\"id\":\"jan-2026\"") || Catch::Contains("\"id\": \"jan-2026\""));
    CHECK_THAT(r.out, Catch::Contains("presumption of denial") && Catch::Contains("TPP 36,000 ≥ 21,000"));
}

TEST_CASE("gpuhours chips with an unknown rule exits 2 and lists the known rules", "[policy]") {
    const auto r = gpuhours::test::run_cli("chips --rule oct-2099");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("unknown rule set") && Catch::Contains("oct-2022") &&
                          Catch::Contains("jan-2026"));
}

TEST_CASE("gpuhours chips without a rule prints no policy columns", "[policy]") {
    const auto r = gpuhours::test::run_cli("chips");
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, !Catch::Contains("TPP") && !Catch::Contains("3A090"));
}

TEST_CASE("a rule set says which of its classes are permitted", "[policy]") {
    // Under Oct 2023 only the default class ("not controlled") ships without a licence: H20 yes, H800 no.
    const RuleSet oct2023 = load_rule_set("oct-2023", kCatalog);
    CHECK(permitted(classify(load_chip("h20", kCatalog), oct2023), oct2023));
    CHECK_FALSE(permitted(classify(load_chip("h800", kCatalog), oct2023), oct2023));
    // Jan 2026 marks its first class permitted (case-by-case licences) and its default not: H200 yes, B200 no.
    const RuleSet jan2026 = load_rule_set("jan-2026", kCatalog);
    CHECK(permitted(classify(load_chip("h200", kCatalog), jan2026), jan2026));
    CHECK_FALSE(permitted(classify(load_chip("b200", kCatalog), jan2026), jan2026));
    // A chip whose class depends on an unknown die area is never counted as permitted.
    Classification undetermined;
    undetermined.determined = false;
    undetermined.class_name = std::string(kUndetermined);
    CHECK_FALSE(permitted(undetermined, oct2023));
}

TEST_CASE("a PRC-origin part keeps its class but is not subject to a US export rule, so a what-if keeps it", "[policy]") {
    // chips-and-rules.md §3.7: Ascend 910B TPP 376 × 16 = 6,016 ≥ 4,800 ⇒ "3A090.a-class", Jan 2026 eligibility
    // "n/a (PRC-origin)": a Huawei part sold in China is not a US export. Each chip rule file says so
    // (not_subject.vendors = ["Huawei"]).
    for (const char* rule : {"oct-2022", "oct-2023", "apr-2025-h20", "jan-2026", "hypothetical-nvlink-cap"}) {
        INFO(rule);
        const RuleSet rules = load_rule_set(rule, kCatalog);
        const Classification ascend = classify(load_chip("ascend-910b", kCatalog), rules);
        CHECK_FALSE(ascend.subject);
        CHECK(permitted(ascend, rules));
        CHECK_THAT(ascend.why(), Catch::Contains("not subject to the rule: a Huawei part"));
        // An NVIDIA part is subject: the H800 stays 3A090.a and not permitted under Oct 2023.
        CHECK(classify(load_chip("h800", kCatalog), rules).subject);
    }
    // The chips table marks them † and says why under it.
    const auto table = test::run_cli("chips --rule oct-2023");
    INFO(table.out);
    CHECK(std::count(table.out.begin(), table.out.end(), '\n') > 17);
    CHECK_THAT(table.out, Catch::Contains("3A090.a †") && Catch::Contains("† not subject to the rule, whatever its class: a part of Huawei"));
    const RuleSet oct2023 = load_rule_set("oct-2023", kCatalog);
    const Classification ascend = classify(load_chip("ascend-910b", kCatalog), oct2023);
    CHECK(ascend.class_name == "3A090.a");  // the technical class is kept: TPP 6,016 ≥ 4,800
    CHECK_FALSE(permitted(classify(load_chip("h800", kCatalog), oct2023), oct2023));
    // The memory rule reaches no vendor in particular; it classifies memory, not chips.
    const RuleSet hbm = load_rule_set("dec-2024-hbm", kCatalog);
    CHECK(hbm.memory_scope);
    CHECK_FALSE(oct2023.memory_scope);
    CHECK(classify(load_chip("ascend-910b", kCatalog), hbm).subject);
}

TEST_CASE("a rule file's scope and not_subject table are read and their mistakes located", "[policy]") {
    const std::string head = "title = \"t\"\nsource = \"s\"\n";
    const std::string tail = "[[classes]]\nname = \"a\"\nsource = \"s\"\nall = [{ metric = \"tpp\", at_least = 1 }]\n"
                             "[default]\nname = \"b\"\n";
    CHECK(load_rule_set_from_string(head + "scope = \"memory\"\n" + tail, "r.toml").memory_scope);
    CHECK_FALSE(load_rule_set_from_string(head + "scope = \"chip\"\n" + tail, "r.toml").memory_scope);
    CHECK_THROWS_WITH(load_rule_set_from_string(head + "scope = \"package\"\n" + tail, "r.toml"),
                      Catch::Contains("r.toml:3:") && Catch::Contains("is not what a rule set classifies"));
    const RuleSet r = load_rule_set_from_string(
        head + "not_subject = { vendors = [\"Huawei\", \"Cambricon\"], source = \"x\" }\n" + tail, "r.toml");
    CHECK(r.not_subject_vendors == std::vector<std::string>{"Huawei", "Cambricon"});
    CHECK(r.not_subject_source == "x");
    CHECK_THROWS_WITH(load_rule_set_from_string(head + "not_subject = { vendors = [], source = \"x\" }\n" + tail, "r.toml"),
                      Catch::Contains("r.toml:3:") && Catch::Contains("non-empty list"));
    CHECK_THROWS_WITH(load_rule_set_from_string(head + "not_subject = { vendors = [\"Huawei\"] }\n" + tail, "r.toml"),
                      Catch::Contains("source"));
}

TEST_CASE("whatif refuses a memory rule as the chooser of its chips, and shows the rule it classifies by", "[policy]") {
    // dec-2024-hbm classifies the HBM on a package (3A090.c), not whether the chip may ship: `whatif --rule` alone
    // would have kept the two GDDR parts as "permitted" (an analyst's read).
    const auto r = test::run_cli("whatif " + (kCatalog / "deepseek-v3.toml").string() + " --rule dec-2024-hbm --quiet");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("--rule dec-2024-hbm") && Catch::Contains("classifies the memory on a package"));
    CHECK_THAT(r.out, Catch::Contains("gpuhours chips --rule dec-2024-hbm"));
    // With chips named it only classifies them, and prints the rule's title, source and note.
    const auto named = test::run_cli("whatif " + (kCatalog / "deepseek-v3.toml").string() +
                                     " --rule jan-2026 --chips h800,ascend-910b --samples 20 --quiet");
    INFO(named.out);
    CHECK(named.exit_code == 0);
    CHECK_THAT(named.out, Catch::Contains("eligible for case-by-case review (not subject)"));
    CHECK_THAT(named.out, Catch::Contains("Rule set jan-2026: January 15, 2026 rule"));
    CHECK_THAT(named.out, Catch::Contains("Note: Only the technical test is modelled."));
}

TEST_CASE("a scenario's [whatif] rule of memory scope without chips is refused where it is written", "[policy]") {
    // Llama 3.1 8B on 16 H100; line 16 holds the rule.
    const std::string base = "title = \"t\"\nmodel = \"llama-3.1-8b\"\n[cluster]\ngpus = 16\ngpus_per_node = 8\n"
                             "chip = \"h100\"\n[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 64\n[whatif]\n";
    const ScenarioError e = test::scenario_error(base + "rule = \"dec-2024-hbm\"\n", test::source_catalog(), "w.toml");
    CHECK_THAT(e.what(), Catch::Contains("w.toml:16:") && Catch::Contains("classifies the memory on a package"));
    // With chips it only classifies them; a chip rule alone chooses them.
    CHECK_NOTHROW(load_scenario_from_string(base + "chips = [\"h100\", \"h20\"]\nrule = \"dec-2024-hbm\"\n", "w.toml",
                                            test::source_catalog()));
    CHECK_NOTHROW(load_scenario_from_string(base + "rule = \"oct-2023\"\n", "w.toml", test::source_catalog()));
}

TEST_CASE("a not_subject vendor no catalog chip has is refused where it is written, with the nearest one", "[policy]") {
    // "huawei" matches no chip's `vendor` ("Huawei"): it would reach nothing.
    const gpuhours::test::TempDir dir("rule-vendor-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir.path / "policy");
    std::filesystem::copy(kCatalog / "chips", dir.path / "chips", std::filesystem::copy_options::recursive);
    std::ofstream(dir.path / "policy" / "t.toml") << "title = \"t\"\nsource = \"s\"\n"
                                                   "not_subject = { vendors = [\"huawei\"], source = \"x\" }\n"
                                                   "[[classes]]\nname = \"a\"\nsource = \"s\"\nall = [{ metric = \"tpp\", at_least = 1 }]\n"
                                                   "[default]\nname = \"b\"\n";
    CHECK_THROWS_WITH(load_rule_set("t", dir.path),
                      Catch::Contains("t.toml:3:") && Catch::Contains("\"huawei\" is no catalog chip's vendor") &&
                          Catch::Contains("did you mean \"Huawei\"?"));
}
