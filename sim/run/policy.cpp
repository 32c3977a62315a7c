#include <gpuhours/run/policy.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace gpuhours {

namespace {

constexpr PolicyMetric kAllMetrics[] = {PolicyMetric::tpp, PolicyMetric::performance_density,
                                        PolicyMetric::interconnect_bidirectional_gb_s,
                                        PolicyMetric::memory_bandwidth_gb_s, PolicyMetric::memory_gb};

std::string_view unit_of(PolicyMetric m) {
    switch (m) {
        case PolicyMetric::interconnect_bidirectional_gb_s:
        case PolicyMetric::memory_bandwidth_gb_s: return " GB/s";
        case PolicyMetric::memory_gb: return " GB";
        case PolicyMetric::tpp:
        case PolicyMetric::performance_density: return "";
    }
    return "";
}

std::string with_unit(PolicyMetric m, double v) { return format_policy_number(v) + std::string(unit_of(m)); }

// The outcome of a condition and the comparisons that decided it.
struct Evaluation {
    Truth truth = Truth::no;
    std::vector<std::string> evidence;
};

void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

Evaluation evaluate_leaf(const Threshold& t, const ChipMetrics& m) {
    const std::optional<double> v = m.value(t.metric);
    if (!v) {
        const char* why = t.metric == PolicyMetric::performance_density ? " (die area not published)" : "";
        return {Truth::unknown, {fmt::format("{} unknown{}", label(t.metric), why)}};
    }
    // (bound, holds, operator when it holds, operator when it fails), in the order they are reported.
    struct Bound {
        std::optional<double> x;
        bool holds;
        const char* op_held;
        const char* op_failed;
    };
    const Bound bounds[] = {
        {t.at_least, t.at_least && *v >= *t.at_least, "≥", "<"},
        {t.above, t.above && *v > *t.above, ">", "≤"},
        {t.at_most, t.at_most && *v <= *t.at_most, "≤", ">"},
        {t.below, t.below && *v < *t.below, "<", "≥"},
    };
    const std::string subject = fmt::format("{} {}", label(t.metric), with_unit(t.metric, *v));
    std::string held;
    for (const Bound& b : bounds) {
        if (!b.x) continue;
        if (!b.holds) return {Truth::no, {fmt::format("{} {} {}", subject, b.op_failed, with_unit(t.metric, *b.x))}};
        held += fmt::format("{}{} {}", held.empty() ? "" : " and ", b.op_held, with_unit(t.metric, *b.x));
    }
    return {Truth::yes, {fmt::format("{} {}", subject, held)}};
}

Evaluation evaluate(const Condition& c, const ChipMetrics& m) {
    if (c.combine == Condition::Combine::leaf) return evaluate_leaf(c.threshold, m);
    std::vector<Evaluation> parts;
    parts.reserve(c.terms.size());
    for (const Condition& term : c.terms) parts.push_back(evaluate(term, m));
    // all: false if any term is false (the first false term says why); unknown if any is unknown; else true.
    // any: true if any term is true (the first true term says why); unknown if any is unknown; else false.
    const Truth decisive = c.combine == Condition::Combine::all ? Truth::no : Truth::yes;
    for (const Evaluation& e : parts) {
        if (e.truth == decisive) return e;
    }
    Evaluation out;
    const bool any_unknown =
        std::any_of(parts.begin(), parts.end(), [](const Evaluation& e) { return e.truth == Truth::unknown; });
    if (any_unknown) {
        out.truth = Truth::unknown;
        for (const Evaluation& e : parts) {
            if (e.truth == Truth::unknown) append(out.evidence, e.evidence);
        }
        return out;
    }
    out.truth = decisive == Truth::no ? Truth::yes : Truth::no;
    for (const Evaluation& e : parts) append(out.evidence, e.evidence);
    return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : std::string(separator)) + p;
    return out;
}

}  // namespace

std::string_view to_string(PolicyMetric m) {
    switch (m) {
        case PolicyMetric::tpp: return "tpp";
        case PolicyMetric::performance_density: return "performance_density";
        case PolicyMetric::interconnect_bidirectional_gb_s: return "interconnect_bidirectional_gb_s";
        case PolicyMetric::memory_bandwidth_gb_s: return "memory_bandwidth_gb_s";
        case PolicyMetric::memory_gb: return "memory_gb";
    }
    return "?";
}

std::string_view label(PolicyMetric m) {
    switch (m) {
        case PolicyMetric::tpp: return "TPP";
        case PolicyMetric::performance_density: return "PD";
        case PolicyMetric::interconnect_bidirectional_gb_s: return "I/O";
        case PolicyMetric::memory_bandwidth_gb_s: return "DRAM BW";
        case PolicyMetric::memory_gb: return "memory";
    }
    return "?";
}

std::optional<PolicyMetric> policy_metric_from_string(std::string_view name) {
    for (PolicyMetric m : kAllMetrics) {
        if (to_string(m) == name) return m;
    }
    return std::nullopt;
}

std::vector<std::string> policy_metric_names() {
    std::vector<std::string> names;
    for (PolicyMetric m : kAllMetrics) names.emplace_back(to_string(m));
    return names;
}

std::optional<double> ChipMetrics::value(PolicyMetric m) const {
    switch (m) {
        case PolicyMetric::tpp: return tpp;
        case PolicyMetric::performance_density: return performance_density;
        case PolicyMetric::interconnect_bidirectional_gb_s: return interconnect_bidirectional_gb_s;
        case PolicyMetric::memory_bandwidth_gb_s: return memory_bandwidth_gb_s;
        case PolicyMetric::memory_gb: return memory_gb;
    }
    return std::nullopt;
}

ChipMetrics metrics_of(const ChipProfile& chip) {
    ChipMetrics m;
    m.chip_id = chip.id;
    for (const auto& [format, rate] : chip.peak_dense) {
        if (format == Precision::fp64) continue;
        const double tpp = rate.value() / 1e12 * bit_length(format);
        // A tie goes to a 16-bit format, then an 8-bit one, then the rest: TF32 at half the BF16 rate (and FP8 or FP4
        // at twice or four times it) give the same TPP, and the reference reads TPP from the 16- and 8-bit figures
        // (chips-and-rules.md §3.1, §3.7: the A100's and the H100's from FP16).
        const auto preference = [](Precision p) { return bit_length(p) == 16 ? 0 : bit_length(p) == 8 ? 1 : 2; };
        if (tpp > m.tpp || (tpp == m.tpp && preference(format) < preference(m.tpp_basis))) {
            m.tpp = tpp;
            m.tpp_basis = format;
        }
    }
    if (chip.die_area_mm2 && *chip.die_area_mm2 > 0) m.performance_density = m.tpp / *chip.die_area_mm2;
    m.interconnect_bidirectional_gb_s = 2.0 * chip.scale_up_bandwidth.value() / 1e9;
    m.memory_bandwidth_gb_s = chip.memory_bandwidth.value() / 1e9;
    m.memory_gb = chip.memory_device.value() / 1e9;  // as the device reports it, before any framework reserve
    return m;
}

std::string Classification::why() const { return join(reasons, "; "); }

Classification classify(const ChipMetrics& metrics, const RuleSet& rules) {
    Classification out;
    out.chip_id = metrics.chip_id;
    out.metrics = metrics;
    std::vector<std::string> undecided;  // classes whose condition is unknown, with the unknown comparisons
    std::vector<std::string> ruled_out;  // "not 3A090.a: …" for the default class's explanation
    for (const RuleClass& c : rules.classes) {
        const Evaluation e = evaluate(c.condition, metrics);
        if (e.truth == Truth::yes) {
            if (!undecided.empty()) {
                out.determined = false;
                out.class_name = std::string(kUndetermined);
                out.reasons = undecided;
                out.reasons.push_back(fmt::format("else {}: {}", c.name, join(e.evidence, "; ")));
                return out;
            }
            out.class_name = c.name;
            out.reasons = e.evidence;
            return out;
        }
        if (e.truth == Truth::unknown) {
            undecided.push_back(fmt::format("{}? {}", c.name, join(e.evidence, "; ")));
        } else {
            ruled_out.push_back(fmt::format("not {}: {}", c.name, join(e.evidence, "; ")));
        }
    }
    if (!undecided.empty()) {
        out.determined = false;
        out.class_name = std::string(kUndetermined);
        out.reasons = undecided;
        out.reasons.push_back(fmt::format("else {}", rules.fallback.name));
        return out;
    }
    out.class_name = rules.fallback.name;
    out.reasons = ruled_out;
    return out;
}

Classification classify(const ChipProfile& chip, const RuleSet& rules) {
    Classification c = classify(metrics_of(chip), rules);
    const auto& vendors = rules.not_subject_vendors;
    if (!chip.vendor.empty() && std::find(vendors.begin(), vendors.end(), chip.vendor) != vendors.end()) {
        c.subject = false;
        c.reasons.push_back(fmt::format("not subject to the rule: a {} part (the rule set's not_subject says why)", chip.vendor));
    }
    return c;
}

bool permitted(const Classification& c, const RuleSet& rules) {
    if (!c.subject) return true;
    if (!c.determined) return false;
    if (c.class_name == rules.fallback.name) return rules.fallback.permitted;
    for (const auto& k : rules.classes) {
        if (k.name == c.class_name) return k.permitted;
    }
    return false;
}

std::string memory_scope_refusal(const RuleSet& rules) {
    return fmt::format("rule set {} classifies the memory on a package, not the chip: it cannot say which chips may be "
                       "shipped, so it cannot choose a what-if's chips",
                       rules.id);
}

std::string memory_scope_hint(const RuleSet& rules) {
    return fmt::format("see how it classifies each chip with `gpuhours chips --rule {}`, or name the chips (--chips) to show "
                       "its class beside them; for the chips an export rule permits use a chip rule (oct-2023, apr-2025-h20, jan-2026)",
                       rules.id);
}

std::string format_policy_number(double v) {
    if (std::fabs(v) < 100.0) {
        std::string s = fmt::format("{:.2f}", v);
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }
    const std::string digits = fmt::format("{:.0f}", std::fabs(v));
    std::string grouped;
    const std::size_t n = digits.size();
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0 && (n - i) % 3 == 0) grouped += ',';
        grouped += digits[i];
    }
    return (v < 0 ? "-" : "") + grouped;
}

}  // namespace gpuhours
