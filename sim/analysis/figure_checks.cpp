// The internal checks on simulated figures (include/gpuhours/analysis/evaluation.hpp): a step or run figure that
// cannot be (non-finite, negative, an MFU over 100 %) is a bug, reported as one, never printed.
#include <gpuhours/analysis/evaluation.hpp>

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace gpuhours {

namespace {

void internal_check(bool ok, std::string_view figure, double value) {
    if (!ok) {
        throw std::logic_error(fmt::format("the simulation produced {} = {}, an impossible figure; it is not reported "
                                           "(please file a bug with the scenario)",
                                           figure, value));
    }
}

bool finite_non_negative(double v) { return std::isfinite(v) && v >= 0.0; }

}  // namespace

void check_step_figures(const StepResult& step) {
    // 100 % plus the rounding of a sum of picosecond-rounded task times.
    constexpr double kAtMostOne = 1.0 + 1e-9;
    const double t = step.step_time.value();
    internal_check(std::isfinite(t) && t > 0.0, "a step time (s)", t);
    for (const auto& [name, flops] : {std::pair{"model FLOPs (causal)", step.model_flops_causal},
                                      std::pair{"model FLOPs (full)", step.model_flops_full},
                                      std::pair{"hardware FLOPs", step.hardware_flops}}) {
        internal_check(finite_non_negative(flops.value()), name, flops.value());
    }
    internal_check(finite_non_negative(step.mfu_causal) && step.mfu_causal <= kAtMostOne, "an MFU", step.mfu_causal);
    internal_check(finite_non_negative(step.hfu) && step.hfu <= kAtMostOne, "an HFU", step.hfu);
    for (const double mfu : {step.mfu_full, step.mfu_bf16_causal, step.mfu_bf16_full, step.hfu_bf16}) {
        internal_check(finite_non_negative(mfu), "an MFU or HFU", mfu);
    }
}

void check_run_figures(const RunEvaluation& ev) {
    for (const auto* samples : {&ev.wall_clock_days, &ev.gpu_hours, &ev.steady_state_gpu_hours, &ev.cost_usd, &ev.energy_mwh}) {
        for (const double v : *samples) internal_check(finite_non_negative(v), "a run figure", v);
    }
}

}  // namespace gpuhours
