// The outputs of `gpuhours capacity` (include/gpuhours/report/capacity.hpp).
#include <gpuhours/report/capacity.hpp>

#include <gpuhours/report/report.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace gpuhours::report {
namespace {

std::string money(double usd, bool priced) { return priced ? format_dollars(Dollars(usd)) : "—"; }

// The answer's assignments: the plan's, then the tokens.
std::vector<std::string> answer_overrides(const TokenCapacity& t) {
    std::vector<std::string> o = t.plan.overrides;
    if (t.feasible) o.push_back(fmt::format("{}={:.0f}", t.tokens_key, t.tokens));
    return o;
}

void overrides_json(Json& j, const std::vector<std::string>& overrides) {
    j.key("overrides").begin_array();
    for (const auto& o : overrides) j.value(o);
    j.end_array();
}

}  // namespace

std::string capacity_text(const CapacityResult& r) {
    std::string out = fmt::format("{}\n{} GPUs, deadline {:.2f} days (median wall clock){}\n\n", r.title,
                                  with_commas(static_cast<double>(r.gpus)), in_days(r.deadline),
                                  r.budget ? fmt::format(", budget {}", format_dollars(*r.budget)) : "");
    const bool priced = r.budget.has_value() ||
                        std::any_of(r.tokens.begin(), r.tokens.end(), [](const TokenCapacity& t) { return t.cost_usd > 0; });
    out += "the most tokens of the scenario's model\n";
    Table t({"chip", "GPUs", "layout", "most tokens", "days", "cost", "fewest over", "runs"});
    std::string notes;
    for (const auto& row : r.tokens) {
        if (!row.feasible) {
            t.add_row({row.chip_name.empty() ? row.chip : row.chip_name, row.plan.gpus ? with_commas(static_cast<double>(row.plan.gpus)) : "—",
                       "—", "—", "—", "—", "—", std::to_string(row.probes)});
            notes += fmt::format("  {}: {}\n", row.chip, row.note);
            continue;
        }
        const std::string layout = row.plan.layout.substr(0, row.plan.layout.find(','));
        t.add_row({row.chip_name, with_commas(static_cast<double>(row.plan.gpus)), layout, format_count(row.tokens),
                   fmt::format("{:.2f}", row.days), money(row.cost_usd, priced),
                   row.tokens_over > 0 ? fmt::format("{}: {:.2f} days, over the {}", format_count(row.tokens_over), row.days_over, row.bound) : "—",
                   std::to_string(row.probes)});
        notes += fmt::format("  {}: {}; wall clock per token {:.3f}× the scenario's own{}{}\n", row.chip, row.plan.layout, row.linearity,
                             row.plan.chip_note.empty() ? "" : "; " + row.plan.chip_note, row.note.empty() ? "" : "; " + row.note);
    }
    out += t.render() + notes;
    if (r.family_name.empty()) return out;
    out += fmt::format("\nthe largest {} model trained to {}\n", r.family_name,
                       r.family_tokens ? format_count(*r.family_tokens) + " tokens"
                                       : fmt::format("{:g} tokens per parameter", r.tokens_per_parameter));
    Table f({"chip", "model", "parameters", "tokens", "GPUs", "days", "cost", "meets"});
    std::string answers;
    for (const auto& fam : r.family) {
        for (const auto& rung : fam.rungs) {
            f.add_row({fam.chip_name, rung.model, rung.parameters > 0 ? format_count(rung.parameters) : "—",
                       rung.tokens > 0 ? format_count(rung.tokens) : "—",
                       rung.plan.gpus ? with_commas(static_cast<double>(rung.plan.gpus)) : "—",
                       rung.ran ? fmt::format("{:.2f}", rung.days) : "—", rung.ran ? money(rung.cost_usd, priced) : "—",
                       rung.ran ? (rung.meets ? "yes" : "no: " + rung.note) : "did not run: " + rung.note});
        }
        answers += fam.largest ? fmt::format("  {}: {} ({} parameters, {} tokens, {:.1f} days), {}\n", fam.chip_name,
                                             fam.rungs[*fam.largest].model, format_count(fam.rungs[*fam.largest].parameters),
                                             format_count(fam.rungs[*fam.largest].tokens), fam.rungs[*fam.largest].days,
                                             fam.rungs[*fam.largest].plan.layout)
                               : fmt::format("  {}: no rung of the family meets it\n", fam.chip_name);
    }
    return out + f.render() + "largest:\n" + answers;
}

std::string capacity_json(const CapacityResult& r) {
    Json j;
    j.begin_object().field("schema_version", 1).field("scenario", r.title);
    j.field("gpus", static_cast<std::int64_t>(r.gpus)).field("deadline_days", in_days(r.deadline));
    if (r.budget) j.field("budget_usd", r.budget->value());
    else j.key("budget_usd").null();
    j.field("seed", static_cast<std::int64_t>(r.options.seed));
    if (r.options.samples > 0) j.field("samples", r.options.samples);
    else j.key("samples").null();
    j.key("tokens").begin_array();
    for (const auto& t : r.tokens) {
        j.begin_object().field("chip", t.chip).field("chip_name", t.chip_name).field("feasible", t.feasible);
        j.field("gpus", static_cast<std::int64_t>(t.plan.gpus)).field("layout", t.plan.layout);
        overrides_json(j, answer_overrides(t));
        j.field("tokens_key", t.tokens_key).field("tokens", t.tokens).field("wall_clock_days_p50", t.days);
        j.field("cost_usd", t.cost_usd).field("gpu_hours_p50", t.gpu_hours).field("bound", t.bound);
        j.field("tokens_over", t.tokens_over).field("wall_clock_days_over", t.days_over);
        j.field("probes", t.probes).field("linearity", t.linearity).field("chip_note", t.plan.chip_note).field("note", t.note);
        j.end_object();
    }
    j.end_array();
    if (r.family_name.empty()) {
        j.key("family").null();
        return j.end_object().str();
    }
    j.key("family").begin_object().field("name", r.family_name).field("tokens_per_parameter", r.tokens_per_parameter);
    if (r.family_tokens) j.field("tokens", *r.family_tokens);
    else j.key("tokens").null();
    j.key("chips").begin_array();
    for (const auto& fam : r.family) {
        j.begin_object().field("chip", fam.chip);
        if (fam.largest) j.field("largest", fam.rungs[*fam.largest].model);
        else j.key("largest").null();
        j.key("rungs").begin_array();
        for (const auto& rung : fam.rungs) {
            j.begin_object().field("model", rung.model).field("model_name", rung.model_name).field("parameters", rung.parameters);
            j.field("tokens", rung.tokens).field("ran", rung.ran).field("meets", rung.meets);
            j.field("gpus", static_cast<std::int64_t>(rung.plan.gpus)).field("layout", rung.plan.layout);
            overrides_json(j, rung.plan.overrides);
            j.field("wall_clock_days_p50", rung.days).field("cost_usd", rung.cost_usd).field("note", rung.note).end_object();
        }
        j.end_array().end_object();
    }
    j.end_array().end_object();
    return j.end_object().str();
}

}  // namespace gpuhours::report
