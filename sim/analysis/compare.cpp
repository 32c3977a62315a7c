// `gpuhours compare` (include/gpuhours/analysis/compare.hpp): evaluated columns and the inputs that differ.
#include <gpuhours/analysis/compare.hpp>

#include <gpuhours/units/error.hpp>
#include <gpuhours/units/units.hpp>

#include <fmt/format.h>

#include <algorithm>

#include <map>
#include <memory>

namespace gpuhours {
namespace {

// The values a reader compares once the scenario is resolved (catalogs read, degrees derived).
std::vector<std::pair<std::string, std::string>> resolved_inputs(const Scenario& s) {
    const ParallelLayout& p = s.parallel;
    std::vector<std::pair<std::string, std::string>> out{
        {"resolved.chip", s.cluster.chip.display_name},
        {"resolved.model", s.model.display_name},
        {"resolved.gpus", fmt::format("{}", s.cluster.gpus)},
        {"resolved.layout", describe_degrees(p)},
        {"resolved.global_batch", fmt::format("{}", s.training.global_batch)},
    };
    double tokens = 0.0;
    for (const PhaseSpec& ph : s.phases) tokens += ph.quoted_gpu_hours ? 0.0 : ph.tokens;
    out.emplace_back("resolved.tokens", format_count(tokens));
    if (s.pricing.gpu_hour) out.emplace_back("resolved.gpu_hour", format_dollars(*s.pricing.gpu_hour));
    else if (s.pricing.ownership && s.cluster.chip.rental_gpu_hour) {
        // No rental price written in an ownership scenario: rung 1 is priced at the chip catalog's. (An unpriced
        // scenario prices nothing: no price is shown.)
        out.emplace_back("resolved.gpu_hour", format_dollars(*s.cluster.chip.rental_gpu_hour) + " (the chip catalog's, rung 1 only)");
    }
    return out;
}

}  // namespace

CompareResult run_compare(const std::vector<CompareInput>& inputs, const EvaluateOptions& options,
                          const std::function<void(int, int)>& progress) {
    if (inputs.size() < 2) throw Error("compare needs at least two scenarios", "gpuhours compare A.toml B.toml [C.toml …]");
    CompareResult result;
    result.options = options;
    EvaluateOptions shared = options;
    if (!shared.step_cache) shared.step_cache = std::make_shared<StepCache>();
    shared.record_trace = false;
    shared.break_evens = false;  // the columns show verdicts and shares, no break-evens
    // key → value per column, and the keys in first-seen order.
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::optional<std::string>>> values;
    const std::size_t n = inputs.size();
    auto note = [&](std::size_t column, const std::string& key, const std::string& value) {
        auto [it, fresh] = values.try_emplace(key, std::vector<std::optional<std::string>>(n));
        if (fresh) order.push_back(key);
        it->second[column] = value;
    };
    for (std::size_t i = 0; i < n; ++i) {
        const CompareInput& in = inputs[i];
        for (const auto& [key, value] : scenario_inputs(in.file, in.load)) note(i, key, value);
        const ScenarioSampler sampler(in.file, in.load);
        const RunEvaluation ev = evaluate_run(sampler, shared);
        for (const auto& [key, value] : resolved_inputs(ev.scenario)) note(i, key, value);
        CompareColumn c;
        c.label = in.label;
        c.file = in.file.string();
        c.title = ev.scenario.title;
        c.overrides = in.load.overrides;
        c.chip = ev.scenario.cluster.chip.display_name;
        c.model = ev.scenario.model.display_name;
        for (const PhaseSpec& ph : ev.scenario.phases) c.tokens += ph.quoted_gpu_hours ? 0.0 : ph.tokens;
        c.mfu_causal = ev.headline_step().mfu_causal;
        c.compute_precision = std::string(to_string(ev.scenario.training.precision.compute));
        c.priced = ev.priced;
        if (const UncertainInput* price = sampler.input("pricing.gpu_hour")) c.price_range = price->distribution_text();
        if (ev.priced && ev.stochastic) c.cost_p50 = ev.cost_spread.p50;
        c.figures.chip = catalog_id(ev.scenario.cluster.chip);
        c.figures.chip_name = c.chip;
        fill_whatif_row(c.figures, ev);
        result.columns.push_back(std::move(c));
        if (progress) progress(static_cast<int>(i + 1), static_cast<int>(n));
    }
    // Inputs as written first, then what they resolve to: a key only a later column writes came after the first
    // column's resolved rows (first-seen order alone).
    std::stable_partition(order.begin(), order.end(), [](const std::string& key) { return !key.starts_with("resolved."); });
    for (const std::string& key : order) {
        const auto& v = values.at(key);
        bool same = true;
        for (const auto& x : v) same = same && x == v.front();
        if (same) ++result.same_inputs;
        else result.differences.push_back({key, v});
    }
    return result;
}

}  // namespace gpuhours
