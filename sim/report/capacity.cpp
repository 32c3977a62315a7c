// The outputs of `gpuhours capacity` (include/gpuhours/report/capacity.hpp).
#include <gpuhours/report/schema.hpp>
#include <gpuhours/report/capacity.hpp>

#include "html_parts.hpp"

#include <gpuhours/report/report.hpp>
#include <gpuhours/report/svg.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace gpuhours::report {
namespace {

std::string money(double usd, bool priced) { return priced ? format_dollars(Dollars(usd)) : "—"; }

// Days to two decimals, or three significant figures under a day (a 1B model's run: "0.00431", not "0.00").
std::string days_text(double days) { return days >= 1.0 ? fmt::format("{:.2f}", days) : fmt::format("{:.3g}", days); }

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

// The tables of the text output as rows (the text and the HTML page share them).
struct Tables {
    std::vector<std::string> token_head{"chip", "GPUs", "layout", "most tokens", "days", "cost", "fewest over", "runs"};
    std::vector<std::string> family_head{"chip", "model", "parameters", "tokens", "GPUs", "days", "cost", "meets"};
    std::vector<std::vector<std::string>> tokens, family;
    std::string notes, family_notes, answers;  // lines, each beginning with two spaces and ending in '\n'
};

// Whether the answers carry a cost: the scenario prices its runs, or a budget was asked (which needs a price).
bool priced_of(const CapacityResult& r) { return r.priced || r.budget.has_value(); }

Tables tables_of(const CapacityResult& r) {
    Tables out;
    const bool priced = priced_of(r);
    for (const auto& row : r.tokens) {
        if (!row.feasible) {
            out.tokens.push_back({row.chip_name.empty() ? row.chip : row.chip_name,
                                  row.plan.gpus ? with_commas(static_cast<double>(row.plan.gpus)) : "—", "—", "—", "—", "—", "—",
                                  std::to_string(row.probes)});
            out.notes += fmt::format("  {}: {}\n", row.chip, row.note);
            continue;
        }
        const std::string layout = row.plan.layout.substr(0, row.plan.layout.find(','));
        out.tokens.push_back({row.chip_name, with_commas(static_cast<double>(row.plan.gpus)), layout, format_count(row.tokens),
                              days_text(row.days), money(row.cost_usd, priced),
                              row.tokens_over > 0 ? fmt::format("{}: {:.2f} days, over the {}", format_count(row.tokens_over),
                                                                row.days_over, row.bound)
                                                  : "—",
                              std::to_string(row.probes)});
        // Far from 1, say why: what does not scale with the searched phase's tokens weighs more (or less) there.
        const std::string why_not_linear =
            std::abs(row.linearity - 1.0) <= 0.05 ? ""
            : fmt::format(" (what does not scale with the searched tokens — other phases given in steps or tokens, a batch "
                          "ramp, quoted phases — weighs {} at {} tokens)",
                          row.linearity > 1.0 ? "more" : "less", format_count(row.tokens));
        out.notes += fmt::format("  {}: {}; wall clock per token {:.3f}× this layout's at the scenario's own tokens{}{}{}{}\n",
                                 row.chip, row.plan.layout, row.linearity, why_not_linear,
                                 row.plan.gpus_note.empty() ? "" : "; " + row.plan.gpus_note,
                                 row.plan.chip_note.empty() ? "" : "; " + row.plan.chip_note, row.note.empty() ? "" : "; " + row.note);
    }
    for (const auto& fam : r.family) {
        for (const auto& rung : fam.rungs) {
            out.family.push_back({fam.chip_name, rung.model, rung.parameters > 0 ? format_count(rung.parameters) : "—",
                                  rung.tokens > 0 ? format_count(rung.tokens) : "—",
                                  rung.plan.gpus ? with_commas(static_cast<double>(rung.plan.gpus)) : "—",
                                  rung.ran ? days_text(rung.days) : "—", rung.ran ? money(rung.cost_usd, priced) : "—",
                                  rung.ran ? (rung.meets ? "yes" : "no: " + rung.note) : "did not run: " + rung.note});
            if (rung.ran && !rung.plan.gpus_note.empty()) {
                out.family_notes += fmt::format("  {} on {}: {}\n", rung.model, fam.chip, rung.plan.gpus_note);
            }
        }
        if (!fam.largest) {
            out.answers += fmt::format("  {}: no rung of the family meets it\n", fam.chip_name);
            continue;
        }
        const RungCapacity& a = fam.rungs[*fam.largest];
        out.answers += fmt::format("  {}: {} ({} parameters, {} tokens, {:.1f} days), {}\n", fam.chip_name, a.model,
                                   format_count(a.parameters), format_count(a.tokens), a.days, a.plan.layout);
    }
    return out;
}

std::string heading(const CapacityResult& r) {
    return fmt::format("{} GPUs, deadline {:.2f} days{}; days{} are the medians of each run's Monte Carlo samples",
                       with_commas(static_cast<double>(r.gpus)), in_days(r.deadline),
                       r.budget ? fmt::format(", budget {}", format_dollars(*r.budget)) : "", priced_of(r) ? " and cost" : "");
}

// (a)'s table heading: which tokens are searched, where the scenario has several phases (an analyst read the
// flagship's 15.72T as the whole run's, which adds 125.8B tokens of context extension).
std::string token_heading(const CapacityResult& r) {
    if (r.searched_phase.empty()) return "the most tokens of the scenario's model";
    return fmt::format("the most tokens of the scenario's model in its phase \"{}\"{}", r.searched_phase,
                       r.other_phases == 0 ? std::string()
                       : r.other_phases == 1 ? std::string(", its other phase run as written")
                                             : fmt::format(", its {} other phases run as written", r.other_phases));
}

std::string family_heading(const CapacityResult& r) {
    return fmt::format("the largest {} model trained to {}", r.family_name,
                       r.family_tokens ? format_count(*r.family_tokens) + " tokens"
                                       : fmt::format("{:g} tokens per parameter", r.tokens_per_parameter));
}

}  // namespace

std::string capacity_text(const CapacityResult& r) {
    std::string out = fmt::format("{}\n{}\n\n", r.title, heading(r));
    const Tables tables = tables_of(r);
    out += token_heading(r) + "\n";
    Table t(tables.token_head);
    for (const auto& row : tables.tokens) t.add_row(row);
    out += t.render() + tables.notes;
    if (r.family_name.empty()) return out;
    out += fmt::format("\n{}\n", family_heading(r));
    Table f(tables.family_head);
    for (const auto& row : tables.family) f.add_row(row);
    return out + f.render() + tables.family_notes + "largest:\n" + tables.answers;
}

std::string capacity_json(const CapacityResult& r) {
    Json j;
    j.begin_object().field("schema_version", kJsonSchemaVersion).field("scenario", r.title);
    j.field("gpus", static_cast<std::int64_t>(r.gpus)).field("deadline_days", in_days(r.deadline));
    if (r.budget) j.field("budget_usd", r.budget->value());
    else j.key("budget_usd").null();
    j.field("seed", static_cast<std::int64_t>(r.options.seed));
    if (r.options.samples > 0) j.field("samples", r.options.samples);
    else j.key("samples").null();
    const bool priced = priced_of(r);
    // A figure that does not exist is null, never 0 (0 tokens in 0 days for $0 reads as an answer): an infeasible
    // chip's, and the cost of an unpriced scenario.
    const auto number = [&j](const char* key, double value, bool exists) {
        if (exists) j.field(key, value);
        else j.key(key).null();
    };
    j.key("tokens").begin_array();
    for (const auto& t : r.tokens) {
        const bool ok = t.feasible;
        j.begin_object().field("chip", t.chip).field("chip_name", t.chip_name).field("feasible", t.feasible);
        if (ok) j.field("gpus", static_cast<std::int64_t>(t.plan.gpus)).field("layout", t.plan.layout);
        else j.key("gpus").null().key("layout").null();
        overrides_json(j, answer_overrides(t));
        j.field("tokens_key", t.tokens_key);
        number("tokens", t.tokens, ok);
        number("wall_clock_days_p50", t.days, ok);
        number("cost_usd", t.cost_usd, ok && priced);
        number("gpu_hours_p50", t.gpu_hours, ok);
        // No count over the limits when the search stopped at the end of the supported range (`note` says so).
        const bool over = ok && !t.bound.empty();
        if (over) j.field("bound", t.bound);
        else j.key("bound").null();
        number("tokens_over", t.tokens_over, over);
        number("wall_clock_days_over", t.days_over, over);
        j.field("probes", t.probes);
        number("linearity", t.linearity, ok);
        j.field("chip_note", t.plan.chip_note).field("gpus_note", t.plan.gpus_note).field("note", t.note);
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
            number("wall_clock_days_p50", rung.days, rung.ran);
            number("cost_usd", rung.cost_usd, rung.ran && priced);
            j.field("gpus_note", rung.plan.gpus_note).field("note", rung.note).end_object();
        }
        j.end_array().end_object();
    }
    j.end_array().end_object();
    return j.end_object().str();
}

std::string capacity_html(const CapacityResult& r) {
    using detail::paragraph;
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    out += fmt::format("<title>{} — gpuhours capacity</title>\n", svg::escape(r.title));
    out += fmt::format("<style>{}</style>\n</head>\n<body>\n<main>\n", detail::kStyle);
    out += fmt::format("<header><h1>{}</h1>\n", svg::escape(r.title)) + paragraph(heading(r), "subtitle") + "</header>\n";
    out += capacity_sections(r);
    out += "<footer>";
    out += paragraph(fmt::format("Made by gpuhours capacity: {} simulation, {} network model, seed {}. The same scenario and seed "
                                 "give this page byte for byte.",
                                 to_string(r.options.mode), to_string(r.options.network), r.options.seed));
    return out + "</footer>\n</main>\n</body>\n</html>\n";
}

std::string capacity_sections(const CapacityResult& r) {
    using detail::paragraph;
    using detail::table;
    const Tables tables = tables_of(r);
    std::string out = R"(<section id="capacity-tokens"><h2>The most tokens of the scenario's model</h2>)"
                      "\n";
    out += paragraph(heading(r) + (r.searched_phase.empty() ? "" : "; " + token_heading(r)), "note");
    out += table(tables.token_head, tables.tokens, {1, 3, 4, 5, 7}, "wide");
    svg::BarChart tokens;
    tokens.series.push_back({"most tokens", "#0072B2"});
    tokens.legend = false;
    std::string described;
    for (const auto& row : r.tokens) {
        const std::string name = row.chip_name.empty() ? row.chip : row.chip_name;
        const std::string most = row.feasible ? format_count(row.tokens) + " tokens" : "none";
        // In trillions: the axis's ticks read 14, not 14,000,000,000,000.
        tokens.bars.push_back({name, {row.feasible ? row.tokens / 1e12 : 0.0}, most, {fmt::format("{}: {}", name, most)}});
        described += fmt::format("{}{}: {}", described.empty() ? "" : "; ", name, row.feasible ? format_count(row.tokens) : "none");
    }
    tokens.frame = {"capacity-tokens-chart", "Most tokens by chip", fmt::format("The most tokens each chip trains: {}.", described),
                    "tokens (trillions, 10¹²)", "chip", detail::kChartWidth};
    out += svg::bar_chart(tokens);
    out += paragraph(tables.notes, "note") + "</section>\n";
    if (!r.family_name.empty()) {
        out += R"(<section id="capacity-family"><h2>)" + svg::escape(family_heading(r)) + "</h2>\n";
        out += table(tables.family_head, tables.family, {2, 3, 4, 5, 6}, "wide");
        svg::BarChart days;
        days.series.push_back({"wall clock", "#009E73"});
        days.legend = false;
        days.markers.push_back({in_days(r.deadline), "deadline", "#B00020", true});
        std::string rungs;
        for (const auto& fam : r.family) {
            for (const auto& rung : fam.rungs) {
                if (!rung.ran) continue;
                const std::string label = fmt::format("{} · {}", fam.chip, rung.model);
                const std::string days_text = fmt::format("{:.1f} days{}", rung.days, rung.meets ? "" : " (over)");
                days.bars.push_back({label, {rung.days}, days_text, {fmt::format("{}: {}", label, days_text)}});
                rungs += fmt::format("{}{}: {:.1f} days", rungs.empty() ? "" : "; ", label, rung.days);
            }
        }
        days.frame = {"capacity-family-chart", "Wall clock of each rung", fmt::format("Median wall clock of each rung against the deadline: {}.", rungs),
                      "wall clock (days)", "chip · model", detail::kChartWidth};
        out += svg::bar_chart(days);
        if (!tables.family_notes.empty()) out += paragraph(tables.family_notes, "note");
        out += paragraph("Largest: " + tables.answers, "note") + "</section>\n";
    }
    return out;
}

}  // namespace gpuhours::report
