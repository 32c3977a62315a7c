// Claims on the two bases (claims.hpp's GpuHourBasis): the same threshold judged on steady-state and allocated
// GPU-hours, with a run overhead that makes allocated exactly 1.2 × steady-state (no failures, nothing stochastic).
#include <gpuhours/analysis/evaluation.hpp>

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
