// The internal checks on figures before they are reported: an impossible step time or MFU is a bug, and fails
// loudly (std::logic_error, the CLI's "internal error") instead of being printed.
#include <gpuhours/analysis/evaluation.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>

using namespace gpuhours;

namespace {

// A plausible step: 10 s; 40 % MFU against the compute format's peak, 45 % HFU.
StepResult plausible_step() {
    StepResult r;
    r.step_time = seconds(10);
    r.model_flops_causal = Flops(4e18);
    r.model_flops_full = Flops(5e18);
    r.hardware_flops = Flops(4.5e18);
    r.mfu_causal = 0.40;
    r.mfu_full = 0.50;
    r.mfu_bf16_causal = 0.80;  // an FP8 step against the BF16 peak: may pass 100 %, and this one nearly does
    r.mfu_bf16_full = 1.00;
    r.hfu = 0.45;
    return r;
}

}  // namespace

TEST_CASE("a step's impossible figures are an internal error, not a report") {
    CHECK_NOTHROW(check_step_figures(plausible_step()));
    SECTION("an MFU of 10^34 % (the wrapped-time symptom of issue #12)") {
        StepResult r = plausible_step();
        r.mfu_causal = 1e32;
        CHECK_THROWS_AS(check_step_figures(r), std::logic_error);
    }
    SECTION("an HFU just over 100 %") {
        // 100 % + 1e-6 is past the 1e-9 allowed for picosecond rounding.
        StepResult r = plausible_step();
        r.hfu = 1.0 + 1e-6;
        CHECK_THROWS_AS(check_step_figures(r), std::logic_error);
    }
    SECTION("a negative, zero or non-finite step time") {
        for (const double t : {-1.0, 0.0, std::nan(""), static_cast<double>(INFINITY)}) {
            StepResult r = plausible_step();
            r.step_time = seconds(t);
            CHECK_THROWS_AS(check_step_figures(r), std::logic_error);
        }
    }
    SECTION("a non-finite MFU of any kind") {
        StepResult r = plausible_step();
        r.mfu_bf16_full = std::nan("");
        CHECK_THROWS_AS(check_step_figures(r), std::logic_error);
    }
}

TEST_CASE("a run's impossible figures are an internal error, not a report") {
    RunEvaluation ev;
    ev.wall_clock_days = {30.0, 31.0};
    ev.cost_usd = {1e6, 1.1e6};
    CHECK_NOTHROW(check_run_figures(ev));
    ev.wall_clock_days.push_back(-1.0);
    CHECK_THROWS_AS(check_run_figures(ev), std::logic_error);
}
