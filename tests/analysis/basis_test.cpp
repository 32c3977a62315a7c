// Claims on the two bases (claims.hpp's GpuHourBasis): the same threshold judged on steady-state and allocated
// GPU-hours, with a run overhead that makes allocated exactly 1.2 × steady-state (no failures, nothing stochastic).
#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/report/verdicts.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fstream>
#include <string>

using namespace gpuhours;

namespace {

std::string small(const std::string& claims) {
    return "title = \"basis\"\nmodel = \"llama-3.1-8b\"\n"
           "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
           "[training]\ntokens = \"2B\"\nsequence_length = 8192\nglobal_batch = 64\n"
           "[reliability]\nfailures = []\n"
           "[reliability.overheads]\nevaluation_pauses = { fraction = 0.2, source = \"test\" }\n" +
           claims;
}

// `text` (the small run) with one failure class of `mtbf_hours` per GPU, a 30-minute restart, 1-minute blocking
// writes and checkpoints every 20 minutes in place of its empty failure list.
std::string with_failure_class(std::string text, double mtbf_hours) {
    const std::string none = "[reliability]\nfailures = []\n";
    text.replace(text.find(none), none.size(),
                 fmt::format("[reliability]\nrestart_time = \"30 min\"\ncheckpoint_write = \"1 min\"\n"
                             "checkpoint_interval = \"20 min\"\n[[reliability.failures]]\nname = \"GPU\"\n"
                             "mtbf_per_gpu = \"{:.6f} h\"\nsource = \"test\"\n", mtbf_hours));
    return text;
}

RunEvaluation evaluate_text(const std::filesystem::path& dir, const std::string& text) {
    const auto file = dir / "basis.toml";
    std::ofstream(file) << text;
    return evaluate_run(ScenarioSampler(file));
}

}  // namespace

TEST_CASE("a claim is judged on its own basis: steady-state holds where allocated fails", "[analysis][claims]") {
    const test::TempDir dir("basis");
    const RunEvaluation plain = evaluate_text(dir.path, small(""));
    REQUIRE_FALSE(plain.stochastic);
    const double steady = plain.steady_state_gpu_hours_spread.p50;
    // No failures: allocated = steady × (1 + 0.2) exactly, and the one term is the overhead's 0.2 × steady.
    CHECK(plain.gpu_hours_spread.p50 == Approx(1.2 * steady).epsilon(1e-9));
    REQUIRE(plain.allocation_terms.size() == 4);
    CHECK(plain.allocation_terms[3].name == "evaluation pauses");
    CHECK(plain.allocation_terms[3].gpu_hours == Approx(0.2 * steady).epsilon(1e-9));
    // A threshold of 1.1 × steady-state: below it on the steady-state basis, above it allocated.
    const std::string claims = fmt::format(
        "[[claims]]\ntext = \"a\"\ngpu_hours_below = {0:.0f}\nbasis = \"steady-state\"\n"
        "[[claims]]\ntext = \"b\"\ngpu_hours_below = {0:.0f}\n",
        1.1 * steady);
    const RunEvaluation ev = evaluate_text(dir.path, small(claims));
    REQUIRE(ev.verdicts.size() == 2);
    CHECK(ev.verdicts[0].basis == GpuHourBasis::steady_state);
    CHECK(ev.verdicts[0].verdict == Verdict::holds);
    CHECK(ev.verdicts[1].basis == GpuHourBasis::allocated);
    CHECK(ev.verdicts[1].verdict == Verdict::fails);
}

TEST_CASE("the failure rates' break-even is the factor at which the claim flips, checked by re-running at it", "[analysis][claims]") {
    // One failure class, one interruption per 1,000 GPU-hours (a 16-GPU job's MTTF is 62.5 h), a 30-minute restart
    // and checkpoints every 20 minutes. The threshold is the no-failure wall clock × 1.25: the nominal run holds,
    // a fleet some k times less reliable does not. evaluate_run finds k by bisection over its Monte Carlo replayed
    // with the rates × k on the same seeds; independently, a scenario whose MTBF is 1,000 h / (0.95 k) must hold
    // and one with 1,000 h / (1.05 k) must fail (the rate is 1 / MTBF, and the samples' seeds are the same).
    const test::TempDir dir("failure-break-even");
    const auto with = [](double mtbf_hours, const std::string& claims) {
        std::string text = small(claims);
        return with_failure_class(text, mtbf_hours);
    };
    const RunEvaluation plain = evaluate_text(dir.path, small(""));
    const double threshold_days = 1.25 * plain.wall_clock_days_spread.p50;
    const std::string claim = fmt::format("[[claims]]\ntext = \"fast\"\nwall_clock_below = \"{:.6f} days\"\n", threshold_days);
    const RunEvaluation ev = evaluate_text(dir.path, with(1000, claim));
    REQUIRE(ev.verdicts.size() == 1);
    CHECK(ev.verdicts[0].nominal_verdict == Verdict::holds);
    const auto& evens = ev.verdicts[0].criteria.at(0).input_break_evens;
    REQUIRE_FALSE(evens.empty());
    const InputBreakEven& f = evens.back();
    CHECK_THAT(f.input, Catch::StartsWith("reliability.failures"));
    REQUIRE(f.value.has_value());
    const double k = *f.value;
    CHECK(k > 1.0);
    CHECK(f.side == "below it");
    CHECK(evaluate_text(dir.path, with(1000 / (0.95 * k), claim)).verdicts[0].nominal_verdict == Verdict::holds);
    CHECK(evaluate_text(dir.path, with(1000 / (1.05 * k), claim)).verdicts[0].nominal_verdict == Verdict::fails);
}

TEST_CASE("without break-evens a claim is judged alike and its bisections are skipped", "[analysis][claims]") {
    // EvaluateOptions::break_evens = false (sweep points, what-if rows, compare's columns, whose outputs show no
    // break-evens): the verdict, its share and nominal verdict, and the break-even price are the same figures; only
    // the inputs' and failure rates' break-evens (the bisections that replay the run) are left empty.
    const test::TempDir dir("no-break-evens");
    const RunEvaluation plain = evaluate_text(dir.path, small(""));
    const std::string claim = fmt::format("[[claims]]\ntext = \"fast\"\nwall_clock_below = \"{:.6f} days\"\n",
                                          1.25 * plain.wall_clock_days_spread.p50);
    const auto file = dir.path / "basis.toml";
    std::ofstream(file) << with_failure_class(small(claim), 1000);
    const RunEvaluation with = evaluate_run(ScenarioSampler(file));
    EvaluateOptions options;
    options.break_evens = false;
    const RunEvaluation without = evaluate_run(ScenarioSampler(file), options);
    REQUIRE(with.verdicts.size() == 1);
    REQUIRE(without.verdicts.size() == 1);
    CHECK(without.verdicts[0].verdict == with.verdicts[0].verdict);
    CHECK(without.verdicts[0].probability == with.verdicts[0].probability);
    CHECK(without.verdicts[0].nominal_verdict == with.verdicts[0].nominal_verdict);
    CHECK(without.nominal_gpu_hours == with.nominal_gpu_hours);
    CHECK_FALSE(with.verdicts[0].criteria.at(0).input_break_evens.empty());
    CHECK(without.verdicts[0].criteria.at(0).input_break_evens.empty());
}

TEST_CASE("a failure-rate break-even past 10^4 interruptions comes from the closed form, and still flips the claim", "[analysis][claims]") {
    // The run above made 5,000 times longer (10T tokens: about 22,000 h of work with the 20 % overhead), so at the
    // k where the claim flips (a wall clock 1.5 × the failure-free one: Daly's E[T]/W = M e^{R/M} (e^{(τ+C)/M} − 1)/τ
    // reaches 1.5 near M = 62.5 h / k ≈ 2.5 h, k ≈ 25) the run has about 13,000 interruptions: the search takes the
    // closed form's mean there instead of 201 replays (a search up to × 100 the rates on a large job would replay
    // up to 10^7 interruptions 201 times per step of the bisection). The nominal verdicts re-run at 0.9 k and 1.1 k
    // replay the run as always and must hold and fail.
    const test::TempDir dir("failure-break-even-closed-form");
    const auto with = [](double mtbf_hours, const std::string& claims) {
        std::string text = small(claims);
        text.replace(text.find("tokens = \"2B\""), std::string("tokens = \"2B\"").size(), "tokens = \"10T\"");
        return with_failure_class(text, mtbf_hours);
    };
    const RunEvaluation none = evaluate_text(dir.path, with(1e9, ""));
    const double threshold_days = 1.5 * none.nominal_wall_clock_days;
    const std::string claim = fmt::format("[[claims]]\ntext = \"fast\"\nwall_clock_below = \"{:.6f} days\"\n", threshold_days);
    const RunEvaluation ev = evaluate_text(dir.path, with(1000, claim));
    REQUIRE(ev.verdicts.size() == 1);
    CHECK(ev.verdicts[0].nominal_verdict == Verdict::holds);
    const InputBreakEven& f = ev.verdicts[0].criteria.at(0).input_break_evens.back();
    REQUIRE(f.value.has_value());
    const double k = *f.value;
    CHECK(k > 10.0);
    CHECK(k < 50.0);
    CHECK(evaluate_text(dir.path, with(1000 / (0.9 * k), claim)).verdicts[0].nominal_verdict == Verdict::holds);
    CHECK(evaluate_text(dir.path, with(1000 / (1.1 * k), claim)).verdicts[0].nominal_verdict == Verdict::fails);
}

TEST_CASE("a claim on rung 4 prints no rung-1 break-even price — the price's own break-even counts the research runs", "[analysis][claims]") {
    // Rented at $2 with one research run of G_r = 1,000 GPU-hours: rung 4 = $2 × (G + G_r) for the final run's G
    // GPU-hours (no failures: G = allocated). A bound of $2 × (G + G_r) × 1.1 flips at the price
    // 1.1 × $2 = $2.20 per GPU-hour, not at the bound / G that rung 1's line would print.
    const test::TempDir dir("rung4-break-even");
    const RunEvaluation plain = evaluate_text(dir.path, small(""));
    const double g = plain.gpu_hours_spread.p50;
    const std::string text = small(fmt::format(
        "[pricing]\ngpu_hour = {{ low = \"$1\", mode = \"$2\", high = \"$4\" }}\n[[pricing.research_runs]]\nname = \"r\"\n"
        "gpu_hours = 1000\nsource = \"test\"\n[[claims]]\ntext = \"c\"\ncost_below = \"${:.2f}\"\nrung = \"research\"\n",
        2.0 * (g + 1000.0) * 1.1));
    const RunEvaluation ev = evaluate_text(dir.path, text);
    const CriterionResult& c = ev.verdicts.at(0).criteria.at(0);
    CHECK_FALSE(c.break_even_per_gpu_hour.has_value());
    REQUIRE_FALSE(c.input_break_evens.empty());
    CHECK(c.input_break_evens.front().input == "pricing.gpu_hour");
    REQUIRE(c.input_break_evens.front().value.has_value());
    CHECK(*c.input_break_evens.front().value == Approx(2.2).epsilon(1e-3));
}

TEST_CASE("the run says when restarts dominate and when its fleet data is extrapolated", "[analysis][reliability]") {
    const test::TempDir dir("caution");
    // The small run without failures: nothing to say.
    CHECK(report::basis_text(evaluate_text(dir.path, small(""))).caution.empty());
    // One failure per GPU every 20 h on 16 GPUs (job MTTF M = 1.25 h) against a restart R = 0.5 h, 1-minute blocking
    // writes δ and checkpoints every τ = 20 min. Daly's expected wall clock per unit of work (the work includes the
    // 0.2 overhead): M e^{R/M} (e^{(τ+δ)/M} − 1) / τ = 1.25 × e^0.4 × (e^0.28 − 1) / (1/3) = 1.808, of which the
    // writes are δ/τ = 0.05: restarts and lost work take (0.808 − 0.05) / 1.808 ≈ 42 % of the allocated GPU-hours
    // (the Monte Carlo's own share, printed, within 0.35–0.50), above the 20 % the caution starts at.
    const RunEvaluation heavy = evaluate_text(dir.path, with_failure_class(small(""), 20.0));
    double lost = 0.0;
    for (const auto& term : heavy.allocation_terms) {
        if (term.key == "lost_work" || term.key == "restarts") lost += term.gpu_hours;
    }
    const double share = lost / heavy.gpu_hours_spread.mean;
    CHECK(share > 0.35);
    CHECK(share < 0.50);
    const std::string caution = report::basis_text(heavy).caution;
    CHECK_THAT(caution, Catch::StartsWith(fmt::format("restarts and lost work take {:.0f}% of the allocated GPU-hours", 100.0 * share)));
    // 16 GPUs lie within the 16,384 the fleet data was measured on: no extrapolation said.
    CHECK_THAT(caution, !Catch::Contains("extrapolated"));
    // A rare failure (one per 20,000,000 GPU-hours: restarts a sliver of the time) on 32,768 GPUs, above the fleet
    // data's 16,384: said to be extrapolated, and no restart share.
    std::string big = with_failure_class(small(""), 2e7);
    big.replace(big.find("gpus = 16\n"), 10, "gpus = 32768\ntiers = 3\n");
    big.replace(big.find("data = 4\n"), 9, "data = 8192\n");
    big.replace(big.find("global_batch = 64\n"), 18, "global_batch = 65536\n");
    big.replace(big.find("tokens = \"2B\""), 13, "tokens = \"2T\"");
    const std::string wide = report::basis_text(evaluate_text(dir.path, big)).caution;
    CHECK_THAT(wide, Catch::StartsWith("the failure rates and recovery parts come from jobs of up to 16,384 GPUs"));
    CHECK_THAT(wide, Catch::Contains("at 32,768 GPUs they are extrapolated"));
}
