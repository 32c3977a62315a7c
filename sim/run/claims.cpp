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

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <cstddef>
#include <functional>

namespace gpuhours {

std::string_view to_string(GpuHourBasis b) { return b == GpuHourBasis::steady_state ? "steady-state" : "allocated"; }

std::optional<GpuHourBasis> gpu_hour_basis_from_string(std::string_view text) {
    if (text == "steady-state") return GpuHourBasis::steady_state;
    if (text == "allocated") return GpuHourBasis::allocated;
    return std::nullopt;
}

std::string_view to_string(Verdict v) {
    switch (v) {
        case Verdict::holds: return "HOLDS";
        case Verdict::fails: return "FAILS";
        case Verdict::uncertain: return "UNCERTAIN";
    }
    return "?";
}

namespace {

// One criterion of a claim, in plain numbers: the metric it reads, its bound(s) and how to print a value of it.
struct Criterion {
    std::string name;
    std::string key;
    ClaimBound bound;
    double low = 0.0;   // above, within
    double high = 0.0;  // below, within
    std::function<double(const RunMetrics&)> metric;
    std::function<std::string(double)> format;
    std::string written;  // the threshold as the scenario wrote it, when its unit differs from `format`'s
    std::string written_low;  // a `within`'s low bound so (`written` is then its high bound's)

    [[nodiscard]] bool holds(const RunMetrics& m) const {
        const double v = metric(m);
        switch (bound) {
            case ClaimBound::below: return v < high;
            case ClaimBound::above: return v > low;
            case ClaimBound::within: return v > low && v < high;
        }
        return false;
    }
    [[nodiscard]] double margin(const RunMetrics& m) const {
        const double v = metric(m);
        const double to_high = (high - v) / high;
        const double to_low = (v - low) / low;
        switch (bound) {
            case ClaimBound::below: return to_high;
            case ClaimBound::above: return to_low;
            case ClaimBound::within: return std::min(to_high, to_low);
        }
        return 0.0;
    }
    [[nodiscard]] std::string bound_text(double value, const std::string& as_written) const {
        const std::string formatted = format(value);
        return as_written.empty() ? formatted : fmt::format("{} ({})", as_written, formatted);
    }
    [[nodiscard]] std::string threshold_text() const {
        switch (bound) {
            case ClaimBound::below: return "< " + bound_text(high, written);
            case ClaimBound::above: return "> " + bound_text(low, written);
            case ClaimBound::within: return fmt::format("within ({}, {})", bound_text(low, written_low), bound_text(high, written));
        }
        return {};
    }
};

std::string format_percent(double fraction) { return fmt::format("{:.4g}%", fraction * 100.0); }
std::string format_days(double seconds) { return fmt::format("{:.1f} days", in_days(Seconds(seconds))); }

void require_positive(double value, std::string_view key, std::string_view example) {
    if (!std::isfinite(value) || value <= 0.0) {
        throw Error(fmt::format("claim threshold `{}` is {}; it must be a positive number", key, value),
                    fmt::format("set `{}` to a positive value, e.g. {}", key, example));
    }
}

void require_fraction(double value, std::string_view key) {
    if (!(value > 0.0 && value < 1.0)) {
        throw Error(fmt::format("claim threshold `{}` is {}; it must be a fraction between 0 and 1", key, value),
                    fmt::format("write `{}` as a fraction, e.g. 0.4 for 40%", key));
    }
}

// The written text of `key` when its unit is not the one the value prints in (a duration not in days).
std::string written_of(const ClaimThresholds& t, const std::string& key, bool duration) {
    for (const auto& [k, text] : t.written) {
        if (k != key) continue;
        if (duration && text.find("day") == std::string::npos) return text;
        return {};
    }
    return {};
}

// The criteria of one metric: its below, above and within bounds, each checked.
template <class Q, class Value>
void add_metric(std::vector<Criterion>& out, const ClaimThresholds& t, const std::string& name, const std::string& stem,
                const std::optional<Q>& below, const std::optional<Q>& above, const std::optional<Within<Q>>& within,
                Value value, std::function<std::string(double)> format, std::string_view example, bool fraction = false,
                bool duration = false) {
    const auto raw = [](const Q& q) {
        if constexpr (std::is_arithmetic_v<Q>) return static_cast<double>(q);
        else return q.value();
    };
    const auto check = [&](double v, const std::string& key) {
        if (fraction) require_fraction(v, key);
        else require_positive(v, key, example);
    };
    const std::function<double(const RunMetrics&)> metric = value;
    if (below) {
        const std::string key = stem + "_below";
        check(raw(*below), key);
        out.push_back({name, key, ClaimBound::below, 0.0, raw(*below), metric, format, written_of(t, key, duration), {}});
    }
    if (above) {
        const std::string key = stem + "_above";
        check(raw(*above), key);
        out.push_back({name, key, ClaimBound::above, raw(*above), 0.0, metric, format, written_of(t, key, duration), {}});
    }
    if (within) {
        const std::string key = stem + "_within";
        check(raw(within->low), key);
        check(raw(within->high), key);
        if (!(raw(within->low) < raw(within->high))) {
            throw Error(fmt::format("claim threshold `{}` has its low bound at or above its high bound", key),
                        fmt::format("write `{} = [low, high]` with low < high", key));
        }
        out.push_back({name, key, ClaimBound::within, raw(within->low), raw(within->high), metric, format,
                       written_of(t, key + "[1]", duration), written_of(t, key + "[0]", duration)});
    }
}

std::vector<Criterion> criteria_of(const ClaimThresholds& t) {
    std::vector<Criterion> out;
    add_metric(out, t, "cost", "cost", t.cost_below, t.cost_above, t.cost_within,
               [](const RunMetrics& m) { return m.cost.value(); }, [](double v) { return format_dollars(Dollars(v)); },
               "\"$6M\"");
    add_metric(out, t, "wall clock", "wall_clock", t.wall_clock_below, t.wall_clock_above, t.wall_clock_within,
               [](const RunMetrics& m) { return m.wall_clock.value(); }, format_days, "\"2 months\"", false, true);
    add_metric(out, t, "GPU-hours", "gpu_hours", t.gpu_hours_below, t.gpu_hours_above, t.gpu_hours_within,
               [](const RunMetrics& m) { return m.gpu_hours; }, [](double v) { return format_count(v) + " GPU-hours"; },
               "\"2.788M\"");
    add_metric(out, t, "MFU", "mfu", t.mfu_below, t.mfu_above, t.mfu_within, [](const RunMetrics& m) { return m.mfu; },
               format_percent, "0.4", true);
    add_metric(out, t, "energy", "energy", t.energy_below, t.energy_above, t.energy_within,
               [](const RunMetrics& m) { return m.energy.value(); }, [](double v) { return format_energy(Joules(v)); },
               "\"5 GWh\"");
    return out;
}

constexpr std::string_view kCriterionKeys =
    "add at least one of cost_below, cost_above, cost_within, wall_clock_below, wall_clock_above, wall_clock_within, "
    "gpu_hours_below, gpu_hours_above, gpu_hours_within, mfu_above, mfu_below, mfu_within, energy_below, energy_above, "
    "energy_within";

double fraction(std::size_t count, std::size_t n) { return static_cast<double>(count) / static_cast<double>(n); }

}  // namespace

ClaimVerdict judge_claim(const std::string& text, const ClaimThresholds& thresholds, const RunMetrics& nominal,
                         const std::vector<RunMetrics>& samples, double confidence) {
    const std::vector<Criterion> criteria = criteria_of(thresholds);
    if (criteria.empty()) {
        throw Error(fmt::format("claim \"{}\" states no criterion to check", text), std::string(kCriterionKeys));
    }
    if (!(confidence > 0.5 && confidence <= 1.0)) {
        throw Error(fmt::format("claim confidence is {}; it must be above 0.5 and at most 1", confidence),
                    "use e.g. 0.9: HOLDS needs the share of samples meeting the claim at 90% or more (its 95% interval's "
                    "low end), FAILS the share missing it");
    }

    ClaimVerdict out;
    out.text = text;
    for (const auto& c : criteria) {
        CriterionResult r;
        r.name = c.name;
        r.key = c.key;
        r.bound = c.bound;
        r.threshold = c.threshold_text();
        r.nominal = c.format(c.metric(nominal));
        r.nominal_value = c.metric(nominal);
        if (c.bound != ClaimBound::below) r.low = c.low;
        if (c.bound != ClaimBound::above) r.high = c.high;
        r.margin = c.margin(nominal);
        if (c.name == "cost" && nominal.gpu_hours > 0.0) {
            // Cost = GPU-hours × price per GPU-hour, so the price that meets a bound exactly is bound / GPU-hours.
            if (c.bound != ClaimBound::above) r.break_even_per_gpu_hour = c.high / nominal.gpu_hours;
            if (c.bound == ClaimBound::above) r.break_even_per_gpu_hour = c.low / nominal.gpu_hours;
            if (c.bound == ClaimBound::within) r.break_even_low_per_gpu_hour = c.low / nominal.gpu_hours;
        }
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
    std::size_t met_all = 0;  // samples in which every criterion holds
    if (samples.empty()) {
        out.probability = all_hold(nominal) ? 1.0 : 0.0;
        failing = 1.0 - out.probability;
    } else {
        for (const auto& s : samples) met_all += all_hold(s) ? 1U : 0U;
        out.probability = fraction(met_all, samples.size());
        failing = fraction(samples.size() - met_all, samples.size());
    }

    // Over samples, the share's 95 % interval decides: the low end of the share meeting the claim for HOLDS, of the
    // share missing it (1 − the high end) for FAILS.
    double holds_low = out.probability;
    double fails_low = failing;
    if (!samples.empty()) {
        out.interval = wilson_interval(met_all, samples.size());
        holds_low = out.interval->low;
        fails_low = 1.0 - out.interval->high;
    }
    if (holds_low >= confidence) {
        out.verdict = Verdict::holds;
    } else if (fails_low >= confidence) {
        out.verdict = Verdict::fails;
    } else {
        out.verdict = Verdict::uncertain;
        out.too_few_samples = share_alone_settles(out.probability, failing, confidence);
    }
    return out;
}

bool share_alone_settles(double met, double failing, double confidence) {
    return met >= confidence || failing >= confidence;
}

ProbabilityInterval wilson_interval(std::size_t met, std::size_t n) {
    if (n < 1 || met > n) {
        throw Error(fmt::format("a share of {} in {} samples has no interval", met, n), "give n ≥ 1 samples and met ≤ n");
    }
    constexpr double z = 1.959963984540054;  // the standard normal's 97.5th percentile
    const double nn = static_cast<double>(n);
    const double p = static_cast<double>(met) / nn;
    const double z2n = z * z / nn;
    const double centre = (p + z2n / 2.0) / (1.0 + z2n);
    const double half = z * std::sqrt(p * (1.0 - p) / nn + z2n / (4.0 * nn)) / (1.0 + z2n);
    // At p̂ = 0 or 1 one end is exactly 0 or 1; clamped against rounding.
    return ProbabilityInterval{met == 0 ? 0.0 : std::max(0.0, centre - half), met == n ? 1.0 : std::min(1.0, centre + half)};
}

double probability_met(const ClaimThresholds& thresholds, const std::vector<RunMetrics>& samples) {
    const std::vector<Criterion> criteria = criteria_of(thresholds);
    if (samples.empty()) return 0.0;
    std::size_t met = 0;
    for (const auto& m : samples) {
        met += std::all_of(criteria.begin(), criteria.end(), [&](const Criterion& c) { return c.holds(m); }) ? 1U : 0U;
    }
    return fraction(met, samples.size());
}

std::string_view break_even_side(ClaimBound bound) {
    switch (bound) {
        case ClaimBound::below: return "below it";
        case ClaimBound::above: return "above it";
        case ClaimBound::within: return "between the two";
    }
    return "";
}

}  // namespace gpuhours
