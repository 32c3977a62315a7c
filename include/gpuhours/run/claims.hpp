// Verdicts on public claims ("under $6M in under two months") from the run's metrics, with the probability that
// the claim holds under the scenario's stated uncertainty.
#pragma once

#include <gpuhours/units/units.hpp>

#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

// The run's figures a claim can speak of, for one Monte Carlo sample (or the nominal run).
struct RunMetrics {
    Dollars cost;
    Seconds wall_clock;
    double gpu_hours = 0.0;
    double mfu = 0.0;
    Joules energy;
};

struct ClaimThresholds {
    std::optional<Dollars> cost_below;
    std::optional<Seconds> wall_clock_below;
    std::optional<double> gpu_hours_below;
    std::optional<double> mfu_above;
    std::optional<Joules> energy_below;
};

enum class Verdict { holds, fails, uncertain };
std::string_view to_string(Verdict v);  // "HOLDS", "FAILS", "UNCERTAIN"

struct CriterionResult {
    std::string name;        // "cost", "wall clock", …
    std::string threshold;   // "< $6M"
    std::string nominal;     // the nominal run's value, with unit
    double margin = 0.0;     // relative headroom of the nominal run: (threshold − value)/threshold (> 0 holds)
    double probability = 0.0;  // fraction of samples in which this criterion holds
    // Cost criteria: the cost per GPU-hour at which the nominal run costs exactly the threshold, threshold /
    // the nominal run's GPU-hours ($ per GPU-hour). On a rental basis (cost = GPU-hours × price) it is the break-even
    // rental price: the claim holds at any price below it. nullopt for other criteria, or without GPU-hours.
    std::optional<double> break_even_per_gpu_hour;
};

struct ClaimVerdict {
    std::string text;
    Verdict verdict = Verdict::uncertain;
    double probability = 0.0;  // fraction of samples in which every criterion holds
    // The verdict of the nominal run alone (every input at its nominal value, e.g. the quoted price): HOLDS when it
    // meets every criterion, else FAILS. Beside `verdict`, which weighs the samples of the uncertain inputs.
    Verdict nominal_verdict = Verdict::fails;
    std::vector<CriterionResult> criteria;
};

// HOLDS when the probability is at least `confidence`, FAILS when at most 1 − confidence, UNCERTAIN otherwise.
// With no samples, the nominal run decides (probability 1 or 0). Throws Error for a claim with no criterion.
// Thresholds are strict ("below" means value < threshold; a tie does not meet the claim). Throws Error too for a
// non-positive or non-finite threshold, an `mfu_above` outside (0, 1), or a confidence outside (0.5, 1].
ClaimVerdict judge_claim(const std::string& text, const ClaimThresholds& thresholds, const RunMetrics& nominal,
                         const std::vector<RunMetrics>& samples, double confidence = 0.9);

}  // namespace gpuhours
