// What-ifs across chips (include/gpuhours/analysis/whatif.hpp) and `gpuhours whatif`. Small scenarios (Llama 3.1 8B on 16
// GPUs) keep each case to seconds; the flagship's what-if is in the notes, not here.
#include "../support/cli.hpp"

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/analysis/whatif.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

using namespace gpuhours;
using gpuhours::test::run_cli;

namespace {

const std::filesystem::path kCatalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";

std::filesystem::path write_scenario(const std::string& name, const std::string& text) {
    const auto dir = gpuhours::test::scratch_path("whatif-test");
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name) << text;
    return dir / name;
}

LoadOptions catalog() {
    LoadOptions o;
    o.catalog_dir = kCatalog;
    return o;
}

EvaluateOptions quick() {
    EvaluateOptions o;
    o.samples = 1;
    return o;
}

// Tensor parallelism over a whole node: its all-reduces run on NVLink. PP1, so there is no bubble.
const std::string kTensor8 = "title = \"tp8\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                             "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\nsequence_parallel = true\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 16\n"
                             "[pricing]\ngpu_hour = \"$2\"\n";

double seconds_of(const WhatIfRow& row, Limiter l) {
    for (const auto& [k, v] : row.limiter_seconds) {
        if (k == l) return v;
    }
    return 0.0;
}

const WhatIfRow& row_of(const WhatIfResult& r, const std::string& chip) {
    const auto it = std::find_if(r.rows.begin(), r.rows.end(), [&](const WhatIfRow& x) { return x.chip == chip; });
    REQUIRE(it != r.rows.end());
    return *it;
}

}  // namespace

TEST_CASE("H800 against H100 differs by the NVLink time of tensor parallelism", "[whatif]") {
    // The H800 is an H100 with NVLink cut from 450 to 200 GB/s per direction: same peaks, same HBM, same
    // efficiencies (catalog). So the compute and HBM-bound seconds must be identical, and the step-time difference
    // must sit in the NVLink column (tensor-parallel all-reduces inside the node), the network column (data
    // parallelism over InfiniBand) being the same NIC on both.
    WhatIfRequest request;
    request.chips = {"h100", "h800"};
    const WhatIfResult r = run_whatif(write_scenario("tp8.toml", kTensor8), catalog(), request, quick());
    const WhatIfRow& h100 = row_of(r, "h100");
    const WhatIfRow& h800 = row_of(r, "h800");
    REQUIRE(h100.feasible);
    REQUIRE(h800.feasible);
    CHECK(seconds_of(h800, Limiter::compute) == Approx(seconds_of(h100, Limiter::compute)));
    CHECK(seconds_of(h800, Limiter::hbm) == Approx(seconds_of(h100, Limiter::hbm)));
    const double step_delta = h800.step_time_s - h100.step_time_s;
    const double nvlink_delta = seconds_of(h800, Limiter::nvlink) - seconds_of(h100, Limiter::nvlink);
    INFO("step " << h100.step_time_s << " → " << h800.step_time_s << " s, NVLink " << seconds_of(h100, Limiter::nvlink) << " → "
                 << seconds_of(h800, Limiter::nvlink) << " s");
    CHECK(step_delta > 0.0);
    CHECK(nvlink_delta == Approx(step_delta).epsilon(0.10));
    // Bandwidth-bound all-reduces scale with 1/bandwidth: at most 450/200 = 2.25× slower (latency terms are equal
    // on both, so the ratio is below that), and more than 1.
    const double ratio = seconds_of(h800, Limiter::nvlink) / seconds_of(h100, Limiter::nvlink);
    CHECK(ratio > 1.0);
    CHECK(ratio <= 2.25 + 1e-9);
    // The days follow the step: same tokens, so days scale with the step time, up to the blocking part of the
    // checkpoint writes the default reliability model adds (a whole number of them, one per Young/Daly interval of
    // about 994 s, each 48 ms for this 16-GPU Llama 3.1 8B at 2 TB/s): at most 0.048 / 994 = 4.8e-5 of the days,
    // so the ratios agree within 1e-4.
    CHECK(h800.wall_clock_days / h100.wall_clock_days == Approx(h800.step_time_s / h100.step_time_s).epsilon(1e-4));
    // Both bases per row: steady-state GPU-hours = steps × step time × GPUs, 1B / (16 × 8,192) = 7,629.39 steps
    // × the step × 16 GPUs / 3,600; allocated adds the failures' and checkpoints' time, so it is not below it.
    for (const WhatIfRow* row : {&h100, &h800}) {
        CHECK(row->steady_state_gpu_hours == Approx(1e9 / (16.0 * 8192.0) * row->step_time_s * 16.0 / 3600.0).epsilon(1e-6));
        CHECK(row->gpu_hours >= row->steady_state_gpu_hours);
    }
}

TEST_CASE("the H20 is compute-bound and slower in proportion to its achieved FLOP/s", "[whatif]") {
    // H20: 148 dense BF16 TFLOP/s at GEMM efficiency 0.80 = 118.4 achieved; H100: 989.4 × 0.725 = 717.3 (less its
    // 1.4 µs per tile, about 2 % at this TP8 layout's inner dimensions of 512–8,192; the H20 has none). Compute seconds
    // should scale by about 717.3 / 118.4 = 6.06, taken as 6.0 (tile and wave quantisation differ with the H20's 78
    // SMs against 132, and attention runs at its own efficiency, hence ±20%).
    WhatIfRequest request;
    request.chips = {"h100", "h20"};
    const WhatIfResult r = run_whatif(write_scenario("tp8.toml", kTensor8), catalog(), request, quick());
    const WhatIfRow& h20 = row_of(r, "h20");
    REQUIRE(h20.feasible);
    CHECK(h20.limiter == Limiter::compute);
    CHECK(seconds_of(h20, Limiter::compute) / seconds_of(row_of(r, "h100"), Limiter::compute) == Approx(6.0).epsilon(0.20));
}

TEST_CASE("a layout that does not fit on a smaller chip gets more recomputation and says so", "[whatif]") {
    // TP2 PP2 DP4 at 8K with no recomputation: fits the H100's 80 GB but not the A100's 40 GB (checked here with the
    // memory model directly); the what-if must re-derive the layout, note it and call memory capacity the limiter.
    const std::string text = "title = \"fit\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                             "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 64\n";
    const auto file = write_scenario("fit.toml", text);
    LoadOptions small = catalog();
    small.overrides = {"cluster.chip=\"a100-40gb\""};
    REQUIRE(fit_of(load_scenario(file, catalog())).fits);
    REQUIRE_FALSE(fit_of(load_scenario(file, small)).fits);

    WhatIfRequest request;
    request.chips = {"h100", "a100-40gb"};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    CHECK_FALSE(row_of(r, "h100").layout_rederived);
    const WhatIfRow& a100 = row_of(r, "a100-40gb");
    REQUIRE(a100.feasible);
    CHECK(a100.layout_rederived);
    CHECK(a100.layout.recompute != Recompute::none);
    CHECK_THAT(a100.layout_note, Catch::Contains("does not fit"));
    CHECK(a100.limiter == Limiter::memory_capacity);
    // Printed with what bounds the re-derived step (an analyst read "memory capacity" on a step that is mostly
    // compute as the whole story): the largest of its limiter seconds.
    REQUIRE_FALSE(a100.limiter_seconds.empty());
    CHECK(limiter_label(a100) == "memory capacity, then " + std::string(to_string(a100.limiter_seconds.front().first)));
    CHECK(limiter_label(row_of(r, "h100")) == std::string(to_string(row_of(r, "h100").limiter)));

    // The scenario's own chip with its HBM capped by the command's --set (40 GB, as the A100's) no longer fits
    // either: its row is re-derived the same way, not left as the one chip that "cannot run" under the cap.
    WhatIfRequest capped = request;
    capped.overrides = {"cluster.chip.memory.capacity=\"40 GB\""};
    LoadOptions capped_options = catalog();
    capped_options.overrides = capped.overrides;
    REQUIRE_FALSE(fit_of(load_scenario(file, capped_options)).fits);
    const WhatIfResult c = run_whatif(file, catalog(), capped, quick());
    const WhatIfRow& own = row_of(c, "h100");
    REQUIRE(own.feasible);
    CHECK(own.reference);
    CHECK(own.layout_rederived);
    CHECK(own.layout.recompute != Recompute::none);
    CHECK_THAT(own.layout_note, Catch::Contains("does not fit"));
    CHECK(own.limiter == Limiter::memory_capacity);
    // The cap is the command's, so it is not listed as carried from the scenario's [cluster.chip].
    CHECK(c.carried.empty());
    // A recomputation the command gives is kept: under the same cap with recompute "none", only ZeRO moves.
    WhatIfRequest kept = capped;
    kept.overrides.push_back("parallelism.recompute=\"none\"");
    const WhatIfResult k = run_whatif(file, catalog(), kept, quick());
    const WhatIfRow& none = row_of(k, "h100");
    REQUIRE(none.feasible);
    CHECK(none.layout.recompute == Recompute::none);
    CHECK(none.layout.zero_stage > 0);
    CHECK_THAT(none.layout_note, Catch::Contains("parallelism.zero=") && !Catch::Contains("recompute"));

    // A scenario that does not fit as written is not re-fitted on its own row: that row fails as `run` refuses it,
    // rather than showing another layout as the scenario's own (a reviewer's read); a swapped chip still is.
    std::string written = text;
    written.replace(written.find("chip = \"h100\""), std::string("chip = \"h100\"").size(), "chip = \"a100-40gb\"");
    const auto nofit = write_scenario("nofit.toml", written);
    REQUIRE_FALSE(fit_of(load_scenario(nofit, catalog())).fits);
    const WhatIfResult n = run_whatif(nofit, catalog(), request, quick());
    CHECK_FALSE(row_of(n, "a100-40gb").feasible);
    CHECK_THAT(row_of(n, "a100-40gb").error, Catch::Contains("does not fit"));
    CHECK(row_of(n, "h100").feasible);
}

TEST_CASE("a rule classes the chip a --set makes, not the catalog's", "[whatif]") {
    // Every chip's NVLink capped at 200 GB/s per direction by --set (a plan audit, session 50: the H100 row ran capped
    // but was classed at its catalog 900 GB/s). Under oct-2022, 3A090.a asks TPP ≥ 4,800 and I/O ≥ 600 GB/s
    // bidirectional: the capped H100 has TPP 1,978.9 × 8 = 15,831 but I/O 2 × 200 = 400 < 600, so it is not
    // controlled (the A800/H800 case). Without the cap it is 3A090.a (900 × 2 = 1,800 GB/s).
    WhatIfRequest request;
    request.chips = {"h100"};
    request.rule = load_rule_set("oct-2022", kCatalog);
    const auto file = write_scenario("tp8-h800.toml", std::string(kTensor8).replace(kTensor8.find("\"h100\""), 6, "\"h800\""));
    LoadOptions capped = catalog();
    capped.overrides = {"cluster.chip.scale_up.bandwidth=\"200 GB/s\""};
    CHECK(row_of(run_whatif(file, capped, request, quick()), "h100").classification == "not controlled");
    CHECK(row_of(run_whatif(file, catalog(), request, quick()), "h100").classification == "3A090.a");
    // A rule without chips picks the chips it permits by the same hypothetical figures: under the hypothetical
    // NVLink cap (hypothetical-nvlink-cap.toml: permitted below TPP 4,800 with I/O ≤ 400 GB/s) the capped H20
    // (TPP 296 × 8 = 2,368, I/O 400) is compared; uncapped (900 GB/s) it is not.
    request.chips.clear();
    request.rule = load_rule_set("hypothetical-nvlink-cap", kCatalog);
    const auto has_h20 = [](const WhatIfResult& r) {
        return std::any_of(r.rows.begin(), r.rows.end(), [](const WhatIfRow& row) { return row.chip == "h20"; });
    };
    CHECK(has_h20(run_whatif(file, capped, request, quick())));
    CHECK_FALSE(has_h20(run_whatif(file, catalog(), request, quick())));
    // The cap written in the scenario's own [cluster.chip] table travels with every swapped chip (a reviewer's read:
    // the classification dropped it): the H20 row runs at 200 GB/s and is classed so, exportable without licence.
    std::string capped_text = kTensor8;
    capped_text.erase(capped_text.find("chip = \"h100\"\n"), 14);
    capped_text.replace(capped_text.find("gpus_per_node = 8\n"), 18,
                        "gpus_per_node = 8\n[cluster.chip]\nfrom = \"h100\"\nscale_up.bandwidth = \"200 GB/s\"\n");
    const auto table = write_scenario("tp8-capped.toml", capped_text);
    request.chips = {"h20"};
    CHECK(row_of(run_whatif(table, catalog(), request, quick()), "h20").classification == "exportable without licence");
}

TEST_CASE("a rule without chips compares the chips it permits, after the scenario's own as the reference", "[whatif]") {
    // Under the October 2023 rule only the H20, the L2 and the L20 are outside 3A090 (policy tests, reference §3.7).
    // The scenario's H100 is controlled, so it comes first as the reference row, run as the scenario has it.
    WhatIfRequest request;
    request.rule = load_rule_set("oct-2023", kCatalog);
    const WhatIfResult r = run_whatif(write_scenario("tp8.toml", kTensor8), catalog(), request, quick());
    // The Ascend parts are 3A090.a by their figures (TPP 6,016 and 12,480 ≥ 4,800) but PRC-origin, which the rule
    // does not reach (oct-2023.toml's not_subject): kept, in catalog order, marked not subject.
    REQUIRE(r.rows.size() == 6);
    CHECK(r.rows[0].chip == "h100");
    CHECK(r.rows[0].reference);
    CHECK(r.rows[0].classification == "3A090.a");
    CHECK(r.rows[0].step_time_s ==
          Approx(evaluate_run(ScenarioSampler(write_scenario("tp8.toml", kTensor8), catalog()), quick()).headline_step().step_time.value()));
    CHECK(r.rows[1].chip == "ascend-910b");
    CHECK(r.rows[2].chip == "ascend-910c");
    CHECK(r.rows[3].chip == "h20");
    CHECK(r.rows[4].chip == "l2");
    CHECK(r.rows[5].chip == "l20");
    CHECK_FALSE(r.rows[0].permitted);
    for (std::size_t i = 1; i < r.rows.size(); ++i) {
        CHECK_FALSE(r.rows[i].reference);
        CHECK(r.rows[i].permitted);
        CHECK(r.rows[i].subject == (i >= 3));
        CHECK(class_label(r.rows[i]) == (i >= 3 ? "not controlled" : "3A090.a (not subject)"));
    }
    // The rest of the catalog is 3A090.a and subject (policy_test's table): said to be left out, in catalog order,
    // the scenario's own H100 (the reference row) not among them.
    const std::vector<std::pair<std::string, std::string>> left = {
        {"a100-40gb", "3A090.a"}, {"a100-80gb", "3A090.a"}, {"a800-40gb", "3A090.a"}, {"a800-80gb", "3A090.a"},
        {"b200", "3A090.a"},      {"gaudi3", "3A090.a"},    {"gb200", "3A090.a"},     {"h100-pcie", "3A090.a"},
        {"h200", "3A090.a"},      {"h800", "3A090.a"},      {"h800-pcie", "3A090.a"}, {"l40s", "3A090.a"},
        {"mi300x", "3A090.a"},    {"tpu-v5p", "3A090.a"}};
    CHECK(r.not_permitted == left);
}

TEST_CASE("a rule given with --rule compares what it permits even when the scenario's [whatif] lists other chips", "[whatif]") {
    // The [whatif] table names the H100 and the A100, both controlled under oct-2023: with --rule the rows are the
    // scenario's H800 (reference) and the permitted H20 and L20; without it, the table's chips.
    const auto file = write_scenario("listed.toml", "title = \"listed\"\nmodel = \"llama-3.1-8b\"\n"
                                                    "[cluster]\nchip = \"h800\"\ngpus = 16\ngpus_per_node = 8\n"
                                                    "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\n"
                                                    "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 16\n"
                                                    "[whatif]\nchips = [\"h100\", \"a100-80gb\"]\n");
    const auto ruled_all = run_cli("whatif " + file.string() + " --rule oct-2023 --samples 1 --json");
    INFO(ruled_all.out);
    REQUIRE(ruled_all.exit_code == 0);
    // The chips the rule leaves out are listed before the rows (not_permitted): read the rows alone.
    CHECK_THAT(ruled_all.out, Catch::Contains("\"not_permitted\": [\n    {\n      \"chip\": \"a100-40gb\",\n      \"class\": \"3A090.a\""));
    const auto rows_at = ruled_all.out.find("\"rows\": [");
    REQUIRE(rows_at != std::string::npos);
    const test::CliResult ruled{ruled_all.exit_code, ruled_all.out.substr(rows_at)};
    // One reference row, the H800, first.
    const auto reference = ruled.out.find("\"reference\": true");
    REQUIRE(reference != std::string::npos);
    CHECK(ruled.out.find("\"reference\": true", reference + 1) == std::string::npos);
    CHECK(ruled.out.find("\"chip\": \"h800\"") < reference);
    CHECK(ruled.out.find("\"chip\": \"h20\"") > reference);
    CHECK_THAT(ruled.out, Catch::Contains("\"chip\": \"h20\""));
    CHECK_THAT(ruled.out, Catch::Contains("\"chip\": \"l20\""));
    CHECK_FALSE(ruled.out.find("\"chip\": \"h100\"") != std::string::npos);
    CHECK_FALSE(ruled.out.find("\"chip\": \"a100-80gb\"") != std::string::npos);
    // A scenario whose chip the rule permits (the L20 under oct-2023, beside the H20) has it first, as the reference,
    // not in the catalog's order among the others (the H20 came first).
    const auto permitted = run_cli("whatif " + file.string() + " --rule oct-2023 --samples 1 --json --set 'cluster.chip=\"l20\"'");
    INFO(permitted.out);
    REQUIRE(permitted.exit_code == 0);
    const auto first_chip = permitted.out.find("\"chip\": \"", permitted.out.find("\"rows\": ["));
    REQUIRE(first_chip != std::string::npos);
    CHECK(permitted.out.compare(first_chip, 13, "\"chip\": \"l20\"") == 0);
    const auto listed = run_cli("whatif " + file.string() + " --samples 1 --json");
    REQUIRE(listed.exit_code == 0);
    CHECK_THAT(listed.out, Catch::Contains("\"chip\": \"h100\""));
    CHECK_THAT(listed.out, Catch::Contains("\"chip\": \"a100-80gb\""));
    // A space after the comma is not part of the name: "h100, a100-80gb" names the same two chips (it was refused as
    // an unknown chip " a100-80gb").
    const auto spaced = run_cli("whatif " + file.string() + " --chips 'h100, a100-80gb' --samples 1 --json");
    INFO(spaced.out);
    REQUIRE(spaced.exit_code == 0);
    CHECK_THAT(spaced.out, Catch::Contains("\"chip\": \"h100\"") && Catch::Contains("\"chip\": \"a100-80gb\""));
}

TEST_CASE("SMs reserved for communication move to another chip as the same share of its SMs", "[whatif]") {
    // The scenario reserves 20 of the H800's 132 SMs. On the Ascend 910B (24 AI cores) the same share is
    // 20 × 24 / 132 = 3.6 → 4 cores; on the H20 (78 SMs) 20 × 78 / 132 = 11.8 → 12. Each row must match the
    // scenario written directly for that chip with that reservation (±1 %), and differ from carrying the count 20
    // (which leaves the 910B 4 cores for compute, about 5× slower than 20).
    const std::string text = "title = \"sms\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\nchip = \"h800\"\ngpus = 16\ngpus_per_node = 8\n"
                             "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\nsequence_parallel = true\n"
                             "recompute = \"full\"\ncommunication_sms = 20\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 16\n";
    const auto file = write_scenario("sms.toml", text);
    auto direct = [&](const std::string& chip, int sms) {
        LoadOptions o = catalog();
        o.overrides = {"cluster.chip=\"" + chip + "\"", "parallelism.communication_sms=" + std::to_string(sms)};
        return evaluate_run(ScenarioSampler(file, o), quick()).headline_step().step_time.value();
    };
    WhatIfRequest request;
    request.chips = {"ascend-910b", "h20"};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    const WhatIfRow& ascend = row_of(r, "ascend-910b");
    const WhatIfRow& h20 = row_of(r, "h20");
    REQUIRE(ascend.feasible);
    REQUIRE(h20.feasible);
    CHECK(ascend.step_time_s == Approx(direct("ascend-910b", 4)).epsilon(0.01));
    CHECK(h20.step_time_s == Approx(direct("h20", 12)).epsilon(0.01));
    CHECK(direct("ascend-910b", 20) > 2.0 * ascend.step_time_s);
    CHECK_THAT(ascend.layout_note, Catch::Contains("communication SMs 20 of 132 → 4 of 24"));
    CHECK_THAT(h20.layout_note, Catch::Contains("communication SMs 20 of 132 → 12 of 78"));
    CHECK(r.carried.empty());  // a catalog name: nothing set on top of the chip
}

TEST_CASE("a figure the user gives by --set is kept on every chip, not re-derived by the swap", "[whatif]") {
    // The same scenario as above (20 of the H800's 132 SMs for communication, 8 GPUs per node, the H800 catalog's
    // 400 Gb/s NIC written in [cluster]). Asked with --set parallelism.communication_sms=20, the H20's row must keep
    // 20 (not the share 12), so its step equals the scenario written for the H20 with 20, and not the one with 12;
    // likewise --set cluster.nic_bandwidth="400 Gb/s" on the A800, whose catalog NIC (200 Gb/s) the swap would
    // otherwise put in its place, and --set cluster.gpus_per_node=4 on the GB200, whose rack the swap would give.
    const std::string text = "title = \"sms\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\nchip = \"h800\"\ngpus = 16\ngpus_per_node = 8\nnic_bandwidth = \"400 Gb/s\"\n"
                             "[parallelism]\ntensor = 4\npipeline = 1\ndata = 4\nsequence_parallel = true\n"
                             "recompute = \"full\"\ncommunication_sms = 20\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 16\n";
    const auto file = write_scenario("user-set.toml", text);
    auto direct = [&](std::vector<std::string> overrides) {
        LoadOptions o = catalog();
        o.overrides = std::move(overrides);
        return evaluate_run(ScenarioSampler(file, o), quick()).headline_step().step_time.value();
    };
    const auto has = [](const std::vector<std::string>& list, const std::string& x) {
        return std::find(list.begin(), list.end(), x) != list.end();
    };
    WhatIfRequest request;
    request.chips = {"h20"};
    request.overrides = {"parallelism.communication_sms=20"};
    const WhatIfRow h20 = row_of(run_whatif(file, catalog(), request, quick()), "h20");
    REQUIRE(h20.feasible);
    CHECK_FALSE(has(h20.chip_overrides, "parallelism.communication_sms=12"));
    CHECK_THAT(h20.layout_note, !Catch::Contains("communication SMs"));
    const double with20 = direct({"cluster.chip.from=\"h20\"", "parallelism.communication_sms=20"});
    const double with12 = direct({"cluster.chip.from=\"h20\"", "parallelism.communication_sms=12"});
    CHECK(h20.step_time_s == Approx(with20).epsilon(1e-9));
    CHECK(with20 != Approx(with12).epsilon(1e-6));  // the check above can tell the two apart

    request.chips = {"a800-80gb"};
    request.overrides = {"cluster.nic_bandwidth=\"400 Gb/s\""};
    const WhatIfRow a800 = row_of(run_whatif(file, catalog(), request, quick()), "a800-80gb");
    REQUIRE(a800.feasible);
    CHECK_FALSE(has(a800.chip_overrides, "cluster.nic_bandwidth=\"200 Gb/s\""));
    CHECK_THAT(a800.layout_note, !Catch::Contains("NIC 400 → 200"));

    // The node: the scenario's 8 is the H800's domain, which the swap would widen to the GB200's 16 of 16 GPUs (its
    // domain is 72); the user's --set of the same 8 keeps it.
    request.chips = {"gb200"};
    request.overrides = {"cluster.gpus_per_node=8"};
    const WhatIfRow gb200 = row_of(run_whatif(file, catalog(), request, quick()), "gb200");
    REQUIRE(gb200.feasible);
    CHECK_FALSE(has(gb200.chip_overrides, "cluster.gpus_per_node=16"));
    CHECK_THAT(gb200.layout_note, !Catch::Contains("nodes of"));
    // Kept on the H100 PCIe, whose NVLink bridges pairs (domain 2), the same node is one the chip is not built into:
    // the row says so.
    request.chips = {"h100-pcie"};
    const WhatIfRow pcie = row_of(run_whatif(file, catalog(), request, quick()), "h100-pcie");
    REQUIRE(pcie.feasible);
    CHECK_THAT(pcie.layout_note, Catch::Contains("nodes of 8 kept, above the NVIDIA H100 PCIe's scale-up domain of 2: a hypothetical node"));
    // Without the --set the swap does re-derive each (what the three checks above rule out).
    request.overrides = {};
    request.chips = {"h20", "a800-80gb", "gb200"};
    const WhatIfResult swapped = run_whatif(file, catalog(), request, quick());
    CHECK(has(row_of(swapped, "h20").chip_overrides, "parallelism.communication_sms=12"));
    CHECK(has(row_of(swapped, "a800-80gb").chip_overrides, "cluster.nic_bandwidth=\"200 Gb/s\""));
    CHECK_THAT(row_of(swapped, "gb200").layout_note, Catch::Contains("nodes of 8 →"));
}

TEST_CASE("the flagship on the Ascend 910B and the H20 runs as the scenarios written for those chips", "[whatif]") {
    // scenarios/deepseek-v3.toml (H800, 20 of 132 SMs for communication, FP8 with a ±10 % range around the H800's
    // FP8 GEMM efficiency) swapped to each chip must give the step of the scenario written directly for it (±1 %):
    //   Ascend 910B: 20 × 24 / 132 = 3.6 → 4 AI cores; no FP8, so BF16 GEMMs, activations and dispatch, and the
    //     FP8 range unused; the flagship's NIC is the H800 catalog's 400 Gb/s, so the 910B's own catalog NIC
    //     (200 Gb/s); the pre-training layout no longer fits the 910B's 64 GB less its reserve, so full
    //     recomputation (the first step of the re-derivation that fits);
    //   H20: 20 × 78 / 132 = 11.8 → 12 SMs; the FP8 range re-centred on the H20's own catalog figure, which at
    //     nominal is the catalog's (the direct scenario drops the override).
    const std::filesystem::path flagship = kCatalog / "deepseek-v3.toml";
    const auto ascend_file = write_scenario("flagship-910b.toml",
                                            "extends = \"" + flagship.string() + "\"\n"
                                            "unset = [\"cluster.chip.efficiency.gemm_fp8_blockwise\", \"cluster.nic_bandwidth\"]\n"
                                            "[cluster.chip]\nfrom = \"ascend-910b\"\n"
                                            "[parallelism]\ncommunication_sms = 4\nrecompute = \"full\"\n[training]\nprecision = \"bf16\"\nfp8_recipe = \"none\"\n"
                                            "activations = \"bf16\"\ndispatch_precision = \"bf16\"\n");
    const auto h20_file = write_scenario("flagship-h20.toml",
                                         "extends = \"" + flagship.string() + "\"\nunset = [\"cluster.chip.efficiency.gemm_fp8_blockwise\"]\n"
                                         "[cluster.chip]\nfrom = \"h20\"\n[parallelism]\ncommunication_sms = 12\n");
    auto direct = [&](const std::filesystem::path& file) {
        return evaluate_run(ScenarioSampler(file, catalog()), quick()).headline_step().step_time.value();
    };
    WhatIfRequest request;
    request.chips = {"ascend-910b", "h20"};
    const WhatIfResult r = run_whatif(flagship, catalog(), request, quick());
    const WhatIfRow& ascend = row_of(r, "ascend-910b");
    const WhatIfRow& h20 = row_of(r, "h20");
    REQUIRE(ascend.feasible);
    REQUIRE(h20.feasible);
    CHECK(ascend.step_time_s == Approx(direct(ascend_file)).epsilon(0.01));
    CHECK(h20.step_time_s == Approx(direct(h20_file)).epsilon(0.01));
    CHECK_THAT(ascend.layout_note, Catch::Contains("efficiency.gemm_fp8_blockwise: not used on the Huawei Ascend 910B") &&
                                       Catch::Contains("4 of 24") && Catch::Contains("BF16 GEMMs") &&
                                       Catch::Contains("no FP8: activations, dispatch_precision in BF16") &&
                                       Catch::Contains("NIC 400 → 200 Gb/s") && Catch::Contains("parallelism.recompute=\"full\""));
    // The swap's assignments re-run the row: the scenario with them gives its step.
    LoadOptions again = catalog();
    again.overrides = ascend.chip_overrides;
    CHECK(evaluate_run(ScenarioSampler(flagship, again), quick()).headline_step().step_time.value() == Approx(ascend.step_time_s).epsilon(1e-9));
    CHECK_THAT(h20.layout_note, Catch::Contains("12 of 78"));
    // The re-centred range as assignments to paste into --set: 0.477 and 0.583 around the H800's 0.53 are ±10 %, so
    // around the H20's 0.60 they are 0.54 and 0.66, written so (not 0.5399999999999999 and 0.6599999999999999, the
    // products' last bits).
    const auto has = [&](const std::string& x) {
        return std::find(h20.chip_overrides.begin(), h20.chip_overrides.end(), x) != h20.chip_overrides.end();
    };
    CHECK(has("cluster.chip.efficiency.gemm_fp8_blockwise.low=0.54"));
    CHECK(has("cluster.chip.efficiency.gemm_fp8_blockwise.high=0.66"));
}

TEST_CASE("values a [cluster.chip] table sets on top of its chip are listed as carried to every chip", "[whatif]") {
    // `from = "h800"` plus a calibrated GEMM efficiency and a memory figure: a swap keeps both, and says so.
    const std::string text = "title = \"carried\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\ngpus = 16\ngpus_per_node = 8\n"
                             "[cluster.chip]\nfrom = \"h800\"\nefficiency.gemm = 0.7\n"
                             "memory.capacity = { value = \"80 GB\", source = \"test\" }\n"
                             "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 16\n";
    const auto file = write_scenario("carried.toml", text);
    CHECK(load_scenario(file, catalog()).sources.chip_overrides == std::vector<std::string>{"efficiency.gemm", "memory.capacity"});
    WhatIfRequest request;
    request.chips = {"h100"};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    CHECK(r.carried == std::vector<std::string>{"efficiency.gemm", "memory.capacity"});
    const auto cli = run_cli("whatif " + file.string() + " --chips h100 --samples 1");
    CHECK_THAT(cli.out, Catch::Contains("carried from the scenario's [cluster.chip] to every chip: efficiency.gemm, memory.capacity"));
    // A key the command's --set gives is the user's figure for every chip, listed as the table's modification, not
    // as carried from the scenario (an analyst read a --set NVLink cap as "carried from the scenario's").
    request.overrides = {"cluster.chip.memory.capacity=\"70 GB\""};
    CHECK(run_whatif(file, catalog(), request, quick()).carried == std::vector<std::string>{"efficiency.gemm"});
}

TEST_CASE("a range set around the scenario's own chip's efficiency is re-centred on each other chip's", "[whatif]") {
    // The scenario puts ±10 % around the H800's catalog BF16 GEMM efficiency (0.725): an uncertainty on that chip's
    // figure, not a figure for other chips. On the A100 80 GB (catalog 0.76) the same relative range is
    // 0.684–0.76–0.836, so the swapped row's nominal step must equal the scenario written directly for the A100
    // with no override (±0.1 %), and differ from carrying 0.725 over (the A100's GEMMs 0.76/0.725 = 4.8 % faster).
    const std::string text = "title = \"recentred\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\ngpus = 16\ngpus_per_node = 8\n"
                             "[cluster.chip]\nfrom = \"h800\"\nefficiency.gemm = { low = 0.6525, mode = 0.725, high = 0.7975 }\n"
                             "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\nsequence_parallel = true\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 16\n";
    const auto file = write_scenario("recentred.toml", text);
    auto direct = [&](const std::vector<std::string>& overrides) {
        LoadOptions o = catalog();
        o.overrides = overrides;
        return evaluate_run(ScenarioSampler(file, o), quick()).headline_step().step_time.value();
    };
    WhatIfRequest request;
    request.chips = {"a100-80gb"};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    const WhatIfRow& a100 = row_of(r, "a100-80gb");
    REQUIRE(a100.feasible);
    const double own = direct({"cluster.chip=\"a100-80gb\""});
    const double carried = direct({"cluster.chip.from=\"a100-80gb\"", "cluster.chip.efficiency.gemm=0.725"});
    CHECK(a100.step_time_s == Approx(own).epsilon(0.001));
    CHECK(carried > 1.01 * own);
    CHECK_THAT(a100.layout_note, Catch::Contains("efficiency.gemm: the scenario's range around the NVIDIA H800 SXM5's 0.725"));
}

TEST_CASE("the deadline search finds the smallest GPU count that meets the deadline", "[whatif]") {
    // TP2 PP2 (4 model-parallel GPUs) with global batch 64 and micro-batch 1: data degrees must divide 64, so the
    // candidates are 1, 2, 4, 8, 16, 32, 64 replicas. Take a deadline of 0.6 × the wall clock at data 4 (16 GPUs):
    // data 4 misses it, and data 8 halves the micro-batches per replica (step about half), so 32 GPUs should be the
    // answer. Checked independently by evaluating the scenario at 16 and 32 GPUs.
    const std::string text = "title = \"deadline\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                             "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                             "[training]\ntokens = \"5B\"\nsequence_length = 4096\nglobal_batch = 64\n";
    const auto file = write_scenario("deadline.toml", text);
    const double days16 = evaluate_run(ScenarioSampler(file, catalog()), quick()).wall_clock_days_spread.p50;
    LoadOptions at32 = catalog();
    at32.overrides = {"cluster.gpus=32", "parallelism.data=8"};
    const double days32 = evaluate_run(ScenarioSampler(file, at32), quick()).wall_clock_days_spread.p50;
    const double deadline = 0.6 * days16;
    REQUIRE(days32 <= deadline);

    WhatIfRequest request;
    request.chips = {"h100"};
    request.deadline = days(deadline);
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    REQUIRE(r.rows.at(0).deadline_gpus.has_value());
    CHECK(*r.rows.at(0).deadline_gpus == 32);
    // A deadline no GPU count can meet (a millisecond) is reported, not an error: below the run's compute lower
    // bound on --max-gpus GPUs, said without a run.
    request.deadline = Seconds(1e-3);
    request.max_gpus = 64;
    const WhatIfResult instant = run_whatif(file, catalog(), request, quick());
    CHECK_FALSE(instant.rows.at(0).deadline_gpus.has_value());
    CHECK_THAT(instant.rows.at(0).deadline_note, Catch::StartsWith("not reached: on 64 GPUs (--max-gpus) the run's FLOPs alone take"));
    // Just above that bound (1 % over it: the simulated run adds communication, the bubble and restarts to it) the
    // search runs, and reaches no count either.
    request.deadline = Seconds(1.01 * shortest_compute_seconds(load_scenario(file, catalog()), 64));
    const WhatIfResult none = run_whatif(file, catalog(), request, quick());
    CHECK_FALSE(none.rows.at(0).deadline_gpus.has_value());
    // max_gpus 64 allows data up to 16 (× 4 model-parallel GPUs): the note names the largest count that ran, that
    // batches grown as far as the schedule needs (data 3, 5, 6, … round the batch of 64 up) do not help either, and
    // how to let the search grow the batch further (no bound was given).
    CHECK_THAT(none.rows.at(0).deadline_note, Catch::Contains("the most GPUs that ran with the scenario's schedule, 64,") &&
                                                  Catch::Contains("nor with batches grown as far as the schedule needs") &&
                                                  Catch::Contains("--max-batch-tokens N lets the search grow"));
}

TEST_CASE("the deadline search judges each GPU count's memory at its own data degree", "[whatif]") {
    // Project ATOM (Llama 3.1 405B, TP8 PP16, ZeRO-2 over the data-parallel ranks) on 512 H100 (data 4, batch 2,108):
    // without recomputation the worst rank needs 83.11 GB of the H100's 81.77 (`gpuhours check`), and with
    // selective recomputation (Megatron-Core's default set, core_attn: the SwiGLU product stays stored) 83.05 GB, so
    // the row takes full recomputation (23.15 GB). At the deadline's larger degree the optimizer state is sharded 17
    // times finer and no recomputation is needed (data 68: 71.11 GB); the answer runs without it, says so in
    // deadline_overrides, and the row's overrides with those re-run the answer's days exactly.
    const auto file = kCatalog / "project-atom.toml";
    LoadOptions base = catalog();
    base.overrides = {"parallelism.data=4", "cluster.gpus=512", "training.global_batch=2108"};
    WhatIfRequest request;
    request.chips = {"h100"};
    request.deadline = days(152.0);
    const WhatIfResult r = run_whatif(file, base, request, quick());
    const WhatIfRow& row = r.rows.at(0);
    INFO(row.error << row.deadline_note);
    REQUIRE(row.deadline_gpus.has_value());
    CHECK(std::find(row.chip_overrides.begin(), row.chip_overrides.end(), "parallelism.recompute=\"full\"") != row.chip_overrides.end());
    const auto& set = row.deadline_overrides;
    CHECK(std::find(set.begin(), set.end(), "parallelism.recompute=\"none\"") != set.end());
    LoadOptions again = base;
    again.overrides.insert(again.overrides.end(), row.chip_overrides.begin(), row.chip_overrides.end());
    again.overrides.insert(again.overrides.end(), set.begin(), set.end());
    EvaluateOptions nominal = quick();
    nominal.nominal_only = true;
    CHECK(evaluate_run(ScenarioSampler(file, again), nominal).nominal_wall_clock_days == Approx(*row.deadline_days).epsilon(1e-12));
}

TEST_CASE("gpuhours whatif prints the comparison and refuses a request without chips", "[whatif]") {
    const auto file = write_scenario("tp8.toml", kTensor8);
    const auto r = run_cli("whatif " + file.string() + " --chips h100,h800 --samples 1");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("limited by"));
    CHECK_THAT(r.out, Catch::Contains("NVLink"));
    const auto json = run_cli("whatif " + file.string() + " --chips h800 --samples 1 --json");
    CHECK(json.exit_code == 0);
    CHECK_THAT(json.out, Catch::Contains("\"schema_version\": 4"));
    CHECK_THAT(json.out, Catch::Contains("\"step_time_s\": "));
    // Keys that do not apply are null, never missing (a notebook's row["deadline_gpus"] raised KeyError): no rule,
    // no deadline, a feasible row.
    for (const char* key : {"\"rule\": null", "\"deadline_days\": null", "\"class\": null", "\"class_reason\": null",
                            "\"error\": null", "\"deadline_gpus\": null", "\"deadline_set\": null", "\"deadline_note\": null"}) {
        CHECK_THAT(json.out, Catch::Contains(key));
    }
    // Each chip once: a duplicate gave the same row twice.
    const auto twice = run_cli("whatif " + file.string() + " --chips h100,h800,h100 --samples 1");
    CHECK(twice.exit_code == 2);
    CHECK_THAT(twice.out, Catch::Contains("--chips h100,h800,h100 names h100 twice"));
    // ... and in the scenario's [whatif] chips, located there.
    const auto listed = run_cli("whatif " + file.string() + " --samples 1 --set 'whatif.chips=[\"h100\", \"h100\"]'");
    CHECK(listed.exit_code == 2);
    CHECK_THAT(listed.out, Catch::Contains("error: `whatif.chips[1]` names \"h100\" twice"));
    const auto none = run_cli("whatif " + file.string());
    CHECK(none.exit_code == 2);
    CHECK_THAT(none.out, Catch::Contains("--chips"));
    const auto unknown = run_cli("whatif " + file.string() + " --chips h1000");
    CHECK(unknown.exit_code == 2);
    CHECK_THAT(unknown.out, Catch::Contains("h100"));
    const auto bad_deadline = run_cli("whatif " + file.string() + " --chips h100 --deadline soon");
    CHECK(bad_deadline.exit_code == 2);
}

TEST_CASE("a swapped chip is priced at its catalog rental price unless one price is kept for all", "[whatif]") {
    // The scenario rents its H100s at $2 per GPU-hour. The B200's catalog price is $4.89 (the midpoint of $3.75–6.03,
    // scenarios/chips/b200.toml); the H20 has none in the reference, so it keeps the scenario's $2; the H100 is the
    // scenario's own chip and keeps its price. With only a GPU-hour price, a row's cost is its GPU-hours × its price
    // (both at the median wall clock; ±1 %).
    const auto file = write_scenario("tp8.toml", kTensor8);
    WhatIfRequest request;
    request.chips = {"h100", "b200", "h20"};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    const WhatIfRow& h100 = row_of(r, "h100");
    const WhatIfRow& b200 = row_of(r, "b200");
    const WhatIfRow& h20 = row_of(r, "h20");
    REQUIRE(b200.feasible);
    CHECK(h100.price_gpu_hour == Approx(2.0));
    CHECK(h100.price_note == "the scenario's");
    CHECK(b200.price_gpu_hour == Approx(4.89));
    CHECK_THAT(b200.price_note, Catch::StartsWith("catalog: midpoint of specialist clouds' $3.75–6.03"));
    // Rung 1 of the nominal run: its GPU-hours × the price, both the row's (exact up to rounding).
    CHECK(b200.cost_usd == Approx(b200.gpu_hours * 4.89).epsilon(1e-9));
    CHECK(h20.price_gpu_hour == Approx(2.0));
    CHECK_THAT(h20.price_note, Catch::Contains("no catalog price"));
    CHECK(h20.cost_usd == Approx(h20.gpu_hours * 2.0).epsilon(1e-9));

    request.same_price = true;
    const WhatIfResult same = run_whatif(file, catalog(), request, quick());
    CHECK(row_of(same, "b200").price_gpu_hour == Approx(2.0));
    CHECK(row_of(same, "b200").cost_usd == Approx(row_of(same, "b200").gpu_hours * 2.0).epsilon(1e-9));
}

TEST_CASE("a scenario priced only by its phases gets the swapped chip's catalog price on every phase", "[whatif]") {
    // The tp8 run without [pricing], its two phases rented at $2 each (an economics audit, session 50: the row showed
    // the B200's $4.89 while its cost was GPU-hours × $2, and a claim was judged at $2). The B200 row must be costed at
    // the price it shows: cost = GPU-hours × $4.89 (both the row's; exact up to rounding), and the H100 row at $2.
    const std::string phased = "title = \"tp8\"\nmodel = \"llama-3.1-8b\"\n"
                               "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                               "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\nsequence_parallel = true\n"
                               "[training]\nsequence_length = 8192\nglobal_batch = 16\n"
                               "[[phases]]\nname = \"a\"\ntokens = \"1B\"\ngpu_hour = \"$2\"\n"
                               "[[phases]]\nname = \"b\"\nsteps = 100\ngpu_hour = \"$2\"\n";
    const auto file = write_scenario("phase-priced.toml", phased);
    WhatIfRequest request;
    request.chips = {"h100", "b200"};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    const WhatIfRow& h100 = row_of(r, "h100");
    const WhatIfRow& b200 = row_of(r, "b200");
    REQUIRE(b200.feasible);
    CHECK(h100.price_gpu_hour == Approx(2.0));
    CHECK(h100.cost_usd == Approx(h100.gpu_hours * 2.0).epsilon(1e-9));
    CHECK(b200.price_gpu_hour == Approx(4.89));
    CHECK_THAT(b200.price_note, Catch::StartsWith("catalog: "));
    CHECK(b200.cost_usd == Approx(b200.gpu_hours * 4.89).epsilon(1e-9));
    // An ownership table beside the phases' prices (a reviewer's read: it sent the row down the ownership branch,
    // which left the phases at $2 under a $4.89 label): the phases' rental prices still follow the chip.
    const auto owned = write_scenario("phase-priced-owned.toml", phased + "[pricing]\nfrom = \"h800-cluster-2024\"\n");
    const WhatIfResult o = run_whatif(owned, catalog(), request, quick());
    CHECK(row_of(o, "b200").price_gpu_hour == Approx(4.89));
    CHECK(row_of(o, "b200").cost_usd == Approx(row_of(o, "b200").gpu_hours * 4.89).epsilon(1e-9));
    // --same-price keeps the phases' $2 for every chip (it was refused: "this scenario has none").
    const auto same = run_cli("whatif " + file.string() + " --chips h100,b200 --same-price --samples 2 --json");
    REQUIRE(same.exit_code == 0);
    CHECK_THAT(same.out, Catch::Contains("\"price_gpu_hour_usd\": 2"));
    CHECK_THAT(same.out, !Catch::Contains("\"price_gpu_hour_usd\": 4.89"));
    // Phases at $2 and $3: the own row's one price column shows the first priced phase's ($2) and its note gives the
    // spread (a reviewer's read, session 50: the row showed $2 unsaid).
    std::string spread = phased;
    spread.replace(spread.rfind("\"$2\""), 4, "\"$3\"");
    const auto two = write_scenario("phase-priced-two.toml", spread);
    const WhatIfResult two_result = run_whatif(two, catalog(), request, quick());
    const WhatIfRow& own = row_of(two_result, "h100");
    CHECK(own.price_gpu_hour == Approx(2.0));
    CHECK_THAT(own.price_note, Catch::Contains("phases at $2.00 to $3.00 (the column shows $2.00"));
    CHECK_THAT(row_of(run_whatif(file, catalog(), request, quick()), "h100").price_note, !Catch::Contains("phases at"));
    // [pricing] $2 beside two phases at $3 each: no phase is charged $2, so the column shows $3 (a reviewer's read).
    std::string both = phased;
    while (both.find("\"$2\"") != std::string::npos) both.replace(both.find("\"$2\""), 4, "\"$3\"");
    const auto priced = write_scenario("phase-priced-both.toml", both + "[pricing]\ngpu_hour = \"$2\"\n");
    CHECK(row_of(run_whatif(priced, catalog(), request, quick()), "h100").price_gpu_hour == Approx(3.0));
}

TEST_CASE("the scenario's own chip, modified in [cluster.chip], is the headline run in a what-if, not the catalog's", "[whatif]") {
    // The tp8 run with its H100 modified ([cluster.chip] efficiency.gemm set well below the catalog's) and the price
    // uncertain. Its own chip's row must be the run `gpuhours run` evaluates: the same scenario, seed and sample
    // count (own_samples 0: evaluate_run's default, while the other chips run at 3 samples), so the figures are
    // equal exactly, not approximately. The catalog's H100 would be faster (its higher efficiency): a swap shows.
    const auto file = write_scenario("own-chip.toml",
                                     "title = \"own chip\"\nmodel = \"llama-3.1-8b\"\n"
                                     "[cluster]\ngpus = 16\ngpus_per_node = 8\n"
                                     "[cluster.chip]\nfrom = \"h100\"\nefficiency.gemm = 0.3\n"
                                     "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\nsequence_parallel = true\n"
                                     "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 16\n"
                                     "[pricing]\ngpu_hour = { low = \"$1.5\", mode = \"$2\", high = \"$3.5\" }\n"
                                     "[[claims]]\ntext = \"under $600\"\ncost_below = \"$600\"\n");
    WhatIfRequest request;
    request.chips = {"h100", "h800"};
    request.own_samples = 0;
    EvaluateOptions three;
    three.samples = 3;
    const WhatIfResult r = run_whatif(file, catalog(), request, three);
    const RunEvaluation headline = evaluate_run(ScenarioSampler(file, catalog()), EvaluateOptions{});
    const WhatIfRow& own = row_of(r, "h100");
    CHECK(own.reference);
    CHECK_FALSE(row_of(r, "h800").reference);
    CHECK(own.step_time_s == headline.headline_step().step_time.value());
    CHECK(own.wall_clock_days == headline.nominal_wall_clock_days);
    CHECK(own.gpu_hours == headline.nominal_gpu_hours);
    CHECK(own.cost_usd == headline.nominal_cost->total.value());
    REQUIRE(own.verdicts.size() == 1);
    CHECK(own.verdicts[0].probability == headline.verdicts[0].probability);
    // The text table labels the row as the scenario's own.
    const auto table = run_cli("whatif " + file.string() + " --chips h100,h800 --samples 2");
    REQUIRE(table.exit_code == 0);
    CHECK_THAT(table.out, Catch::Contains("h100 (scenario's own)"));
}

TEST_CASE("under ownership pricing, a chip without a catalog rental price keeps the scenario chip's for rung 1", "[whatif]") {
    // The tp8 layout on 16 H800 costed as an owned cluster (scenarios/pricing/h800-cluster-2024.toml, no
    // pricing.gpu_hour): rung 1 is priced at each chip's catalog rental price. The H800's is $2.00; the H20 has none,
    // so it is given the H800's $2.00, said so, and its claim about rung 1 is judged (it used to be a row that
    // "cannot run" because the claim's rung had no price).
    const std::string owned = "title = \"owned\"\nmodel = \"llama-3.1-8b\"\n"
                              "[cluster]\nchip = \"h800\"\ngpus = 16\ngpus_per_node = 8\n"
                              "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\nsequence_parallel = true\n"
                              "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 16\n"
                              "[pricing]\nfrom = \"h800-cluster-2024\"\n"
                              "[[claims]]\ntext = \"under $1M at rental prices\"\ncost_below = \"$1M\"\nrung = \"rental\"\n";
    const auto file = write_scenario("owned.toml", owned);
    WhatIfRequest request;
    request.chips = {"h800", "h20"};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    const WhatIfRow& h800 = row_of(r, "h800");
    const WhatIfRow& h20 = row_of(r, "h20");
    REQUIRE(h20.feasible);
    CHECK(h800.price_gpu_hour == Approx(2.0));
    CHECK_THAT(h800.price_note, Catch::StartsWith("the chip's catalog price (rung 1 only"));
    CHECK(h20.price_gpu_hour == Approx(2.0));
    CHECK_THAT(h20.price_note, Catch::StartsWith("the NVIDIA H800 SXM5's catalog price, as this chip has none"));
    // A few hundred GPU-hours at $2 are far under $1M: the claim holds on both chips, at nominal too.
    REQUIRE(h20.verdicts.size() == 1);
    CHECK(h20.verdicts.front().nominal_verdict == Verdict::holds);
}

TEST_CASE("a chip without the scenario's FP8 recipe runs per-tensor scaling and says so", "[whatif][fp8]") {
    // The flagship's blockwise recipe (DeepGEMM's kernels) has a catalog figure on the H800 and B200 but not on the
    // MI300X, which has an FP8 peak and per-tensor FP8 GEMMs (gemm_fp8): the MI300X runs delayed scaling and the
    // note says why; the flagship's range around the H800's blockwise figure is unused there.
    WhatIfRequest request;
    request.chips = {"mi300x"};
    const WhatIfResult r = run_whatif(kCatalog / "deepseek-v3.toml", catalog(), request, quick());
    const WhatIfRow& mi = row_of(r, "mi300x");
    REQUIRE(mi.feasible);
    CHECK_THAT(mi.layout_note, Catch::Contains("no blockwise FP8 figure: per-tensor (delayed) scaling"));
    CHECK_THAT(mi.layout_note, Catch::Contains("efficiency.gemm_fp8_blockwise: not used on the AMD Instinct MI300X"));
}

TEST_CASE("a node of the scenario chip's scale-up domain becomes the swapped chip's own domain", "[whatif]") {
    // kTensor8's nodes of 8 are the H100's NVSwitch domain. The H100 PCIe joins GPUs by NVLink bridges in pairs
    // (catalog domain 2): TP 8 over nodes of 8 gave it 8-GPU NVLink at the bridge's rate. Its row now runs nodes of 2,
    // which is the scenario written for the chip by hand (chip and node changed, everything else as written: its NIC
    // is the catalog's by default). The H200 has the H100's domain: nothing moves and nothing is said.
    WhatIfRequest request;
    request.chips = {"h100-pcie", "h200"};
    const WhatIfResult r = run_whatif(write_scenario("tp8.toml", kTensor8), catalog(), request, quick());
    const WhatIfRow& pcie = row_of(r, "h100-pcie");
    REQUIRE(pcie.feasible);
    CHECK_THAT(pcie.layout_note, Catch::Contains("nodes of 8 → 2 GPUs (NVIDIA H100 PCIe's scale-up domain 2)"));
    // Its TP 8 now spans 8 / 2 = 4 nodes, said so (a plan audit, session 50: nothing said the layout crossed the network).
    CHECK_THAT(pcie.layout_note, Catch::Contains("tensor parallelism 8 kept, now across 4 nodes: its collectives cross the network"));
    std::string by_hand = kTensor8;
    by_hand.replace(by_hand.find("chip = \"h100\""), 13, "chip = \"h100-pcie\"");
    by_hand.replace(by_hand.find("gpus_per_node = 8"), 17, "gpus_per_node = 2");
    const double expected =
        evaluate_run(ScenarioSampler(write_scenario("tp8-pcie.toml", by_hand), catalog()), quick()).headline_step().step_time.value();
    CHECK(pcie.step_time_s == Approx(expected).epsilon(1e-12));
    CHECK_THAT(row_of(r, "h200").layout_note, !Catch::Contains("nodes of"));
    // A host size the scenario writes is kept on every chip; said where the chip's [host] figure differs (GB200: trays
    // of 4), not where it agrees (H200: 8-GPU boards).
    std::string hosted = kTensor8;
    hosted.replace(hosted.find("gpus_per_node = 8"), 17, "gpus_per_node = 8\ngpus_per_host = 8");
    WhatIfRequest gb;
    gb.chips = {"gb200", "h200"};
    const WhatIfResult h = run_whatif(write_scenario("tp8-hosted.toml", hosted), catalog(), gb, quick());
    CHECK_THAT(row_of(h, "gb200").layout_note, Catch::Contains("hosts of 8 GPUs kept (the scenario's cluster.gpus_per_host;"));
    CHECK_THAT(row_of(h, "h200").layout_note, !Catch::Contains("hosts of"));
}

TEST_CASE("a chip without an FP8 peak runs BF16 and gathers its weights in BF16", "[whatif][fp8]") {
    // Megatron-Bridge's Llama 3 8B FP8 recipe gathers its weights in FP8 (fp8_param_gather = true), which the
    // scenario layer refuses beside BF16. On the A100 (no FP8 peak) the swap to BF16 left it set, and the row failed
    // naming the scenario's line, though the file is valid.
    WhatIfRequest request;
    request.chips = {"a100-80gb"};
    const WhatIfResult r = run_whatif(kCatalog / "validation" / "megatron-bridge-llama3-8b-fp8-h100.toml", catalog(), request, quick());
    const WhatIfRow& a100 = row_of(r, "a100-80gb");
    INFO(a100.error);
    REQUIRE(a100.feasible);
    CHECK_THAT(a100.layout_note, Catch::Contains("no fp8 peak: BF16 GEMMs, weights gathered in BF16"));
}

TEST_CASE("the deadline search on a chip of small nodes tries only whole nodes", "[whatif]") {
    // Megatron's 1.7B (TP1 PP1, 32 A100) on the H100 PCIe runs in its bridged pairs (nodes of 2). The search took data
    // degree 93 (93 GPUs, not whole nodes of 2), failed to build the fabric and reported "not reached", though an even
    // count meets 3 days. Now every count it tries is whole nodes: the answer is even, and the run it names, re-run,
    // meets the deadline.
    WhatIfRequest request;
    request.chips = {"h100-pcie"};
    request.deadline = days(3.0);
    request.max_batch_tokens = 16e6;
    const auto file = kCatalog / "validation" / "megatron-1.7b.toml";
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    const WhatIfRow& pcie = row_of(r, "h100-pcie");
    INFO(pcie.deadline_note);
    REQUIRE(pcie.deadline_gpus.has_value());
    CHECK(*pcie.deadline_gpus % 2 == 0);
    LoadOptions at = catalog();
    at.overrides = {"cluster.chip.from=\"h100-pcie\"", "cluster.gpus_per_node=2"};
    at.overrides.insert(at.overrides.end(), pcie.deadline_overrides.begin(), pcie.deadline_overrides.end());
    CHECK(evaluate_run(ScenarioSampler(file, at), quick()).wall_clock_days_spread.p50 <= 3.0);
}

TEST_CASE("a scale-up bandwidth capped for every chip leaves each its own link efficiency, and the row says so", "[whatif]") {
    // The H800's catalog reaches 0.80 of its NVLink line rate (DeepSeek's 160 of 200 GB/s), the H100's 0.82 (NCCL's
    // 370 of 450): at one capped 100 GB/s the rows still differ by that, which the H100's row now names.
    const std::string text = "title = \"nvlink cap\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\nchip = \"h800\"\ngpus = 16\ngpus_per_node = 8\n"
                             "[parallelism]\ntensor = 8\npipeline = 1\ndata = 2\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 16\n";
    const auto file = write_scenario("nvlink_cap.toml", text);
    WhatIfRequest request;
    request.chips = {"h800", "h100"};
    request.overrides = {"cluster.chip.scale_up.bandwidth=\"100 GB/s\""};
    const WhatIfResult r = run_whatif(file, catalog(), request, quick());
    CHECK_THAT(row_of(r, "h100").layout_note, Catch::Contains("scale-up link efficiency 0.82 (its catalog's; the NVIDIA H800 SXM5's 0.8)"));
    CHECK_THAT(row_of(r, "h800").layout_note, !Catch::Contains("scale-up link efficiency"));
    // Without the cap, nothing is said (each chip's own bandwidth and efficiency are its catalog's anyway).
    request.overrides.clear();
    const WhatIfResult plain = run_whatif(file, catalog(), request, quick());
    CHECK_THAT(row_of(plain, "h100").layout_note, !Catch::Contains("scale-up link efficiency"));
}

TEST_CASE("a scenario that reads only with the command's --set still gets its own row", "[whatif]") {
    // The file lacks cluster.gpus, which the command's --set supplies: the reference row's check of the file as
    // written (does it fit without the overrides?) cannot read it, and judges it with them instead of failing.
    const std::string text = "title = \"needs a set\"\nmodel = \"llama-3.1-8b\"\n"
                             "[cluster]\nchip = \"h100\"\ngpus_per_node = 8\n"
                             "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 64\n";
    const auto file = write_scenario("needs_set.toml", text);
    CHECK_THROWS_AS(load_scenario(file, catalog()), ScenarioError);
    LoadOptions with_gpus = catalog();
    with_gpus.overrides = {"cluster.gpus=16"};
    WhatIfRequest request;
    request.chips = {"h100"};
    const WhatIfResult r = run_whatif(file, with_gpus, request, quick());
    CHECK(row_of(r, "h100").feasible);
    CHECK(row_of(r, "h100").reference);
}
