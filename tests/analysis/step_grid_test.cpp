// Uncertain step inputs simulated on a grid (evaluation.hpp; issue #13 item 4): the Monte Carlo's step times and the
// break-even search interpolate through the steps simulated at the input's 5th, 25th, 75th and 95th percentiles,
// not only at its 5th and 95th.
#include <gpuhours/analysis/evaluation.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace gpuhours;

namespace {

// Llama 3.1 8B on 16 H100 (TP2 PP2 DP4), no failures: the wall clock is the steps × the step time, and the step is
// mostly GEMMs, so its time goes nearly as 1 / the GEMM efficiency — curved across the input's range.
std::string small(const std::string& efficiency, const std::string& claims) {
    return "title = \"grid\"\nmodel = \"llama-3.1-8b\"\n"
           "[cluster]\ngpus = 16\ngpus_per_node = 8\n"
           "[cluster.chip]\nfrom = \"h100\"\nefficiency.gemm = " + efficiency + "\n"
           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
           "[training]\ntokens = \"2B\"\nsequence_length = 8192\nglobal_batch = 64\n"
           "[reliability]\nfailures = []\n" + claims;
}

RunEvaluation evaluate_text(const std::filesystem::path& dir, const std::string& text) {
    const auto file = dir / "grid.toml";
    std::ofstream(file) << text;
    return evaluate_run(ScenarioSampler(file));
}

}  // namespace

TEST_CASE("a step input's break-even lands on a grid percentile where the run's wall clock is that percentile's", "[analysis][claims]") {
    // efficiency.gemm ~ triangular(0.4, 0.6, 0.8): its 25th percentile is 0.4 + √(0.25 × 0.4 × 0.2) = 0.4 + √0.02
    // = 0.541421 (the triangle's quantile below the mode, F(mode) = 0.5). The claim's threshold is the wall clock of
    // the same scenario with the efficiency fixed there, so the nominal run (0.6: faster) holds and the break-even
    // is the value where the interpolated wall clock reaches it: exactly the 25th percentile when that step is
    // simulated (the interpolation passes through it). Interpolating linearly between the 5th percentile
    // (0.4 + √0.004 = 0.463246) and the nominal instead, 1 / x's chord lies above the curve and would put the
    // break-even near 0.55 (1.6 % off).
    const test::TempDir dir("step-grid");
    const double p25 = 0.4 + std::sqrt(0.02);
    const RunEvaluation fixed = evaluate_text(dir.path, small(fmt::format("{:.17g}", p25), ""));
    REQUIRE_FALSE(fixed.stochastic);
    const std::string claim =
        fmt::format("[[claims]]\ntext = \"fast\"\nwall_clock_below = \"{:.12f} days\"\n", fixed.nominal_wall_clock_days);
    const RunEvaluation ev = evaluate_text(dir.path, small("{ low = 0.4, mode = 0.6, high = 0.8 }", claim));
    REQUIRE(ev.verdicts.size() == 1);
    CHECK(ev.verdicts[0].nominal_verdict == Verdict::holds);
    const auto& evens = ev.verdicts[0].criteria.at(0).input_break_evens;
    REQUIRE(evens.size() == 1);
    CHECK(evens[0].input == "cluster.chip.efficiency.gemm");
    REQUIRE(evens[0].value.has_value());
    CHECK(*evens[0].value == Approx(p25).epsilon(1e-6));
    CHECK(evens[0].side == "above it");
}

TEST_CASE("a run's step progress counts a full-mode step under way by its share of events, up to the total", "[analysis]") {
    // The small scenario above in full mode: one distinct step (one phase, one batch, nothing uncertain), so the
    // total is 1. Its 16 GPUs × 16 micro-batches of 16 layers per stage come to well over 32,768 engine tasks, so
    // the engine reports at least once while the step runs (Engine::kProgressEvents = 65,536 events, two per task):
    // a fractional count in (0, 1). The last report is the finished step, 1 of 1; none exceeds the total.
    const test::TempDir dir("step-progress");
    const auto file = dir.path / "grid.toml";
    std::ofstream(file) << small("0.7", "");
    EvaluateOptions options;
    options.mode = SimulationMode::full;
    options.threads = 1;
    std::vector<std::pair<double, int>> reports;
    options.step_progress = [&](double done, int total) { reports.emplace_back(done, total); };
    const RunEvaluation ev = evaluate_run(ScenarioSampler(file), options);
    REQUIRE(ev.headline_step().engine_tasks >= 32768);
    REQUIRE(reports.size() >= 2);
    for (const auto& [done, total] : reports) {
        CHECK(total == 1);
        CHECK(done >= 0.0);
        CHECK(done <= 1.0);
    }
    CHECK(reports.front().first > 0.0);
    CHECK(reports.front().first < 1.0);
    CHECK(reports.back().first == 1.0);
    CHECK(std::is_sorted(reports.begin(), reports.end()));
}
