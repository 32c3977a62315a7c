// Claim verdicts (include/gpuhours/run/claims.hpp).
//
// Contract details the header leaves open:
//   - "below" and "above" are strict: a value equal to its threshold does not satisfy the claim (a claim of
//     "under $6M" is not met by exactly $6M). A NaN metric satisfies nothing.
//   - The FAILS test compares the fraction of failing samples with `confidence` (failing / n ≥ confidence), which
//     is the same as probability ≤ 1 − confidence but free of the rounding in 1 − 0.9 = 0.0999….
#include <gpuhours/run/claims.hpp>
#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstddef>
#include <functional>

namespace gpuhours {

std::string_view to_string(Verdict v) {
    switch (v) {
        case Verdict::holds: return "HOLDS";
        case Verdict::fails: return "FAILS";
        case Verdict::uncertain: return "UNCERTAIN";
    }
    return "?";
}

namespace {

enum class Direction { below, above };

// One criterion of a claim, in plain numbers: the metric it reads and how to print a value of it.
struct Criterion {
    std::string name;
    Direction direction;
    double threshold;
    std::function<double(const RunMetrics&)> metric;
    std::function<std::string(double)> format;

    [[nodiscard]] bool holds(const RunMetrics& m) const {
        const double v = metric(m);
        return direction == Direction::below ? v < threshold : v > threshold;
    }
    [[nodiscard]] double margin(const RunMetrics& m) const {
        const double v = metric(m);
        return direction == Direction::below ? (threshold - v) / threshold : (v - threshold) / threshold;
    }
    [[nodiscard]] std::string threshold_text() const {
        return fmt::format("{} {}", direction == Direction::below ? "<" : ">", format(threshold));
    }
};

std::string format_percent(double fraction) { return fmt::format("{:.4g}%", fraction * 100.0); }

void require_positive(double value, std::string_view key, std::string_view example) {
    if (!std::isfinite(value) || value <= 0.0) {
        throw Error(fmt::format("claim threshold `{}` is {}; it must be a positive number", key, value),
                    fmt::format("set `{}` to a positive value, e.g. {}", key, example));
    }
}

std::vector<Criterion> criteria_of(const ClaimThresholds& t) {
    std::vector<Criterion> out;
    if (t.cost_below) {
        require_positive(t.cost_below->value(), "cost_below", "\"$6M\"");
        out.push_back({"cost", Direction::below, t.cost_below->value(), [](const RunMetrics& m) { return m.cost.value(); },
                       [](double v) { return format_dollars(Dollars(v)); }});
    }
    if (t.wall_clock_below) {
        require_positive(t.wall_clock_below->value(), "wall_clock_below", "\"2 months\"");
        out.push_back({"wall clock", Direction::below, t.wall_clock_below->value(),
                       [](const RunMetrics& m) { return m.wall_clock.value(); },
                       [](double v) { return format_duration(Seconds(v)); }});
    }
    if (t.gpu_hours_below) {
        require_positive(*t.gpu_hours_below, "gpu_hours_below", "\"2.788M\"");
        out.push_back({"GPU-hours", Direction::below, *t.gpu_hours_below, [](const RunMetrics& m) { return m.gpu_hours; },
                       [](double v) { return format_count(v) + " GPU-hours"; }});
    }
    if (t.mfu_above) {
        if (!(*t.mfu_above > 0.0 && *t.mfu_above < 1.0)) {
            throw Error(fmt::format("claim threshold `mfu_above` is {}; it must be a fraction between 0 and 1",
                                    *t.mfu_above),
                        "write `mfu_above = 0.4` for 40%");
        }
        out.push_back({"MFU", Direction::above, *t.mfu_above, [](const RunMetrics& m) { return m.mfu; }, format_percent});
    }
    if (t.energy_below) {
        require_positive(t.energy_below->value(), "energy_below", "\"5 GWh\"");
        out.push_back({"energy", Direction::below, t.energy_below->value(),
                       [](const RunMetrics& m) { return m.energy.value(); },
                       [](double v) { return format_energy(Joules(v)); }});
    }
    return out;
}

double fraction(std::size_t count, std::size_t n) { return static_cast<double>(count) / static_cast<double>(n); }

}  // namespace

ClaimVerdict judge_claim(const std::string& text, const ClaimThresholds& thresholds, const RunMetrics& nominal,
                         const std::vector<RunMetrics>& samples, double confidence) {
    const std::vector<Criterion> criteria = criteria_of(thresholds);
    if (criteria.empty()) {
        throw Error(fmt::format("claim \"{}\" states no criterion to check", text),
                    "add at least one of cost_below, wall_clock_below, gpu_hours_below, mfu_above, energy_below");
    }
    if (!(confidence > 0.5 && confidence <= 1.0)) {
        throw Error(fmt::format("claim confidence is {}; it must be above 0.5 and at most 1", confidence),
                    "use e.g. 0.9: HOLDS needs 90% of samples to meet the claim, FAILS needs 90% to miss it");
    }

    ClaimVerdict out;
    out.text = text;
    for (const auto& c : criteria) {
        CriterionResult r;
        r.name = c.name;
        r.threshold = c.threshold_text();
        r.nominal = c.format(c.metric(nominal));
        r.margin = c.margin(nominal);
        if (c.name == "cost" && nominal.gpu_hours > 0.0) r.break_even_per_gpu_hour = c.threshold / nominal.gpu_hours;
        if (samples.empty()) {
            r.probability = c.holds(nominal) ? 1.0 : 0.0;
        } else {
            std::size_t met = 0;
            for (const auto& s : samples) met += c.holds(s) ? 1U : 0U;
            r.probability = fraction(met, samples.size());
        }
        out.criteria.push_back(std::move(r));
    }

    const auto all_hold = [&](const RunMetrics& m) {
        for (const auto& c : criteria) {
            if (!c.holds(m)) return false;
        }
        return true;
    };
    out.nominal_verdict = all_hold(nominal) ? Verdict::holds : Verdict::fails;
    double failing = 0.0;  // fraction of samples in which some criterion fails
    if (samples.empty()) {
        out.probability = all_hold(nominal) ? 1.0 : 0.0;
        failing = 1.0 - out.probability;
    } else {
        std::size_t met = 0;
        for (const auto& s : samples) met += all_hold(s) ? 1U : 0U;
        out.probability = fraction(met, samples.size());
        failing = fraction(samples.size() - met, samples.size());
    }

    if (out.probability >= confidence) {
        out.verdict = Verdict::holds;
    } else if (failing >= confidence) {
        out.verdict = Verdict::fails;
    } else {
        out.verdict = Verdict::uncertain;
    }
    return out;
}

}  // namespace gpuhours
