// The outputs of `gpuhours compare` (include/gpuhours/report/compare.hpp).
#include <gpuhours/report/schema.hpp>
#include <gpuhours/report/compare.hpp>

#include "html_parts.hpp"

#include <gpuhours/report/report.hpp>
#include <gpuhours/report/verdicts.hpp>
#include <gpuhours/report/svg.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace gpuhours::report {
namespace {

std::string layout_text(const ParallelLayout& p) {
    return describe_degrees(p);
}

// The nominal cost with the rung it is on (scenarios on different rungs are not the same cost).
std::string cost_text(const CompareColumn& c) {
    if (!c.priced) return "—";
    const std::string& basis = c.figures.cost_basis;  // "rung 2, …": the rung's number
    return format_dollars(Dollars(c.figures.cost_usd)) + (basis.empty() ? "" : " (" + basis.substr(0, basis.find(',')) + ")");
}
std::string energy_text(const CompareColumn& c) {
    return c.priced ? format_energy(Joules(c.figures.energy_mwh * 3.6e9)) : "—";  // as `run` prints it (1.736 GWh)
}

std::string verdicts_text(const CompareColumn& c) {
    std::string out;
    for (std::size_t i = 0; i < c.figures.verdicts.size(); ++i) {
        const auto& v = c.figures.verdicts[i];
        out += (i ? "; " : "") + verdict_share_text(v, c.figures.samples);
    }
    return out.empty() ? "—" : out;
}

// The results, one row per figure and one column per scenario (the text and HTML tables).
std::vector<std::vector<std::string>> result_rows(const CompareResult& r) {
    struct Line {
        const char* name;
        std::string (*cell)(const CompareColumn&);
    };
    static const Line lines[] = {
        {"title", [](const CompareColumn& c) { return c.title; }},
        {"chip", [](const CompareColumn& c) { return c.chip; }},
        {"model", [](const CompareColumn& c) { return c.model; }},
        {"GPUs", [](const CompareColumn& c) { return with_commas(c.figures.gpus); }},
        {"layout", [](const CompareColumn& c) { return layout_text(c.figures.layout); }},
        {"tokens", [](const CompareColumn& c) { return format_count(c.tokens); }},
        {"step time", [](const CompareColumn& c) { return fmt::format("{:.3f} s", c.figures.step_time_s); }},
        // `run`'s basis first (BF16 peak, full-attention FLOPs), the other labelled beside it.
        {"MFU (BF16 peak, full attention)", [](const CompareColumn& c) { return fmt::format("{:.1f}%", 100 * c.figures.mfu_bf16); }},
        // Each side against its own compute precision's peak, so the peak is named beside the figure (an FP8 run's
        // 19.6 % beside a BF16 run's 39.4 % read as half the efficiency: an analyst's read); the row above is the
        // one basis both share.
        {"MFU (own compute precision's peak, causal)",
         [](const CompareColumn& c) { return fmt::format("{:.1f}% of the {} peak", 100 * c.mfu_causal, c.compute_precision); }},
        {"days", [](const CompareColumn& c) { return fmt::format("{:.1f}", c.figures.wall_clock_days); }},
        {"GPU-hours", [](const CompareColumn& c) { return with_commas(c.figures.gpu_hours); }},
        {"cost (nominal prices)", &cost_text},
        {"cost (median over the samples)",
         [](const CompareColumn& c) { return c.cost_p50 ? format_dollars(Dollars(*c.cost_p50)) : std::string("—"); }},
        {"energy (facility)", &energy_text},
        {"limited by", [](const CompareColumn& c) { return std::string(to_string(c.figures.limiter)); }},
        {"claims", &verdicts_text},
    };
    std::vector<std::vector<std::string>> rows;
    for (const Line& l : lines) {
        std::vector<std::string> row{l.name};
        for (const auto& c : r.columns) row.push_back(l.cell(c));
        rows.push_back(std::move(row));
    }
    return rows;
}

std::vector<std::string> header(const CompareResult& r, const char* first) {
    std::vector<std::string> h{first};
    for (const auto& c : r.columns) h.push_back(c.label);
    return h;
}

std::vector<std::vector<std::string>> difference_rows(const CompareResult& r) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : r.differences) {
        std::vector<std::string> row{d.key};
        for (const auto& v : d.values) row.push_back(v.value_or("—"));
        rows.push_back(std::move(row));
    }
    return rows;
}

// "×1.50" of column c's figure to the first column's; "—" when the first's is 0.
std::string ratio(double value, double first) { return first > 0 ? fmt::format("×{:.3f}", value / first) : "—"; }

// Each scenario after the first against the first: "B against A: days ×1.398, GPU-hours ×11.182, cost …", with the
// rungs named where the costs are on different ones (the text and the page both end with these).
std::vector<std::string> ratio_lines(const CompareResult& r) {
    std::vector<std::string> lines;
    const CompareColumn& first = r.columns.front();
    for (std::size_t i = 1; i < r.columns.size(); ++i) {
        const auto& f = r.columns[i].figures;
        std::string line = fmt::format("{} against {}: days {}, GPU-hours {}", r.columns[i].label, first.label,
                                       ratio(f.wall_clock_days, first.figures.wall_clock_days),
                                       ratio(f.gpu_hours, first.figures.gpu_hours));
        if (r.columns[i].priced && first.priced) {
            line += fmt::format(", cost {}, energy {}", ratio(f.cost_usd, first.figures.cost_usd),
                                ratio(f.energy_mwh, first.figures.energy_mwh));
            if (f.cost_basis != first.figures.cost_basis) {
                line += fmt::format(" (the costs are on different rungs: {} is {}, {} is {})", r.columns[i].label, f.cost_basis,
                                    first.label, first.figures.cost_basis);
            }
        }
        lines.push_back(std::move(line));
    }
    // A claim's share over the samples weighs the price's range where a column has one; where another column prices
    // the GPU-hour at one figure (an ownership scenario's rung 1 at the catalog's price), its share carries no price
    // uncertainty, and a HOLDS 100% beside an UNCERTAIN may say only that (an analyst's read).
    // Only where a claim is judged on a rung-1 (rental) cost and the priced columns differ in having a range.
    const auto rental_claim = [](const CompareColumn& c) {
        return std::any_of(c.figures.verdicts.begin(), c.figures.verdicts.end(),
                           [](const ClaimVerdict& v) { return v.rung == to_string(CostRung::rental); });
    };
    const auto priced_with = [&](bool range) {
        return std::any_of(r.columns.begin(), r.columns.end(),
                           [&](const CompareColumn& c) { return c.priced && c.price_range.has_value() == range; });
    };
    if (priced_with(true) && priced_with(false) && std::any_of(r.columns.begin(), r.columns.end(), rental_claim)) {
        std::vector<std::string> parts;
        for (const CompareColumn& c : r.columns) {
            if (!c.priced) continue;
            parts.push_back(c.price_range ? fmt::format("{} draws its price per GPU-hour from {}", c.label, *c.price_range)
                                          : fmt::format("{} prices it at one figure (no price uncertainty in its share)", c.label));
        }
        lines.push_back(fmt::format("claims' shares: {}", fmt::join(parts, "; ")));
    }
    return lines;
}

}  // namespace

std::string compare_text(const CompareResult& r) {
    std::string out;
    std::vector<std::string> chip_set;  // columns whose chip a --set changes
    for (const auto& c : r.columns) {
        std::string sets;
        for (const std::string& o : c.overrides) {
            sets += fmt::format(", --set {}", o);
            if (o.starts_with("cluster.chip=") || o.starts_with("cluster.chip.from=")) chip_set.push_back(c.label);
        }
        out += fmt::format("{}  {} ({}{})\n", c.label, c.title, c.file, sets);
    }
    if (!chip_set.empty()) {
        // A price per GPU-hour the scenario writes, and its ownership figures, stay; a price it took from the chip
        // catalog follows the new chip (an economics audit, session 50: the note said every price stays).
        out += fmt::format("\n{} {} its chip by --set: the SMs reserved for communication, the NIC, the precisions, a price\n"
                           "per GPU-hour the scenario writes and its [pricing.ownership] figures (GPU price, servers) stay as the\n"
                           "scenario writes them (a price taken from the chip catalog follows the new chip), and `cluster.chip=`\n"
                           "drops what its [cluster.chip] table sets (efficiency ranges; `cluster.chip.from=` keeps them);\n"
                           "`gpuhours whatif` re-derives these for a chip swap\n",
                           fmt::join(chip_set, ", "), chip_set.size() == 1 ? "sets" : "set");
    }
    out += fmt::format("\ninputs that differ ({}; {} the same)\n", r.differences.size(), r.same_inputs);
    if (r.differences.empty()) {
        out += "  none\n";
    } else {
        Table t(header(r, "key"));
        for (auto& row : difference_rows(r)) t.add_row(std::move(row));
        out += t.render();
    }
    out += "\nresults\n";
    Table results(header(r, "figure"));
    for (auto& row : result_rows(r)) results.add_row(std::move(row));
    out += results.render();
    for (const auto& line : ratio_lines(r)) out += "\n" + line;
    return out + "\n";
}

std::string compare_json(const CompareResult& r) {
    Json j;
    j.begin_object().field("schema_version", kJsonSchemaVersion);
    j.field("seed", static_cast<std::int64_t>(r.options.seed));
    if (r.options.samples > 0) j.field("samples", r.options.samples);
    else j.key("samples").null();
    j.key("scenarios").begin_array();
    for (const auto& c : r.columns) {
        const WhatIfRow& f = c.figures;
        j.begin_object().field("label", c.label).field("file", c.file).field("title", c.title);
        j.key("set").begin_array();
        for (const std::string& o : c.overrides) j.value(o);
        j.end_array();
        j.field("chip", f.chip).field("chip_name", c.chip).field("model", c.model).field("gpus", f.gpus);
        j.field("layout", layout_text(f.layout)).field("tokens", c.tokens).field("step_time_s", f.step_time_s);
        j.field("mfu_causal", c.mfu_causal).field("compute_precision", c.compute_precision).field("mfu_bf16", f.mfu_bf16);
        j.field("wall_clock_days", f.wall_clock_days).field("gpu_hours", f.gpu_hours);
        if (c.priced) j.field("cost_usd", f.cost_usd).field("cost_basis", c.figures.cost_basis).field("energy_mwh", f.energy_mwh);
        else j.key("cost_usd").null().key("cost_basis").null().key("energy_mwh").null();
        if (c.price_range) j.field("price_range", *c.price_range);
        else j.key("price_range").null();
        if (c.cost_p50) j.field("cost_usd_p50", *c.cost_p50);
        else j.key("cost_usd_p50").null();
        j.field("limited_by", to_string(f.limiter));
        j.key("claims").begin_array();
        for (const auto& v : f.verdicts) {
            j.begin_object();
            verdict_head_json(j, v);
            j.end_object();
        }
        j.end_array().end_object();
    }
    j.end_array();
    j.key("differences").begin_array();
    for (const auto& d : r.differences) {
        j.begin_object().field("key", d.key).key("values").begin_array();
        for (const auto& v : d.values) {
            if (v) j.value(*v);
            else j.null();
        }
        j.end_array().end_object();
    }
    j.end_array();
    j.field("same_inputs", static_cast<std::int64_t>(r.same_inputs));
    j.end_object();
    return j.str();
}

std::string compare_html(const CompareResult& r) {
    using detail::paragraph;
    using detail::table;
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    out += "<title>gpuhours compare</title>\n";
    out += fmt::format("<style>{}</style>\n</head>\n<body>\n<main>\n", detail::kStyle);
    out += "<header><h1>Scenarios side by side</h1>\n";
    std::string names;
    for (const auto& c : r.columns) names += fmt::format("{}{}: {}", names.empty() ? "" : " · ", c.label, c.title);
    out += paragraph(names, "subtitle") + "</header>\n";
    out += R"(<section id="compare"><h2>Compared</h2>)"
           "\n";
    out += paragraph(fmt::format("Inputs that differ ({}; {} the same):", r.differences.size(), r.same_inputs));
    if (!r.differences.empty()) out += table(header(r, "key"), difference_rows(r), {}, "wide");
    std::vector<std::size_t> numeric;
    for (std::size_t i = 1; i <= r.columns.size(); ++i) numeric.push_back(i);
    out += table(header(r, "figure"), result_rows(r), numeric, "wide");
    for (const auto& line : ratio_lines(r)) out += paragraph(line);
    struct Chart {
        const char* id;
        const char* title;
        const char* axis;
        double WhatIfRow::*field;
        bool money;
    };
    const Chart charts[] = {{"compare-days", "Wall clock (nominal inputs)", "wall clock (days)", &WhatIfRow::wall_clock_days, false},
                            {"compare-cost", "Cost (nominal prices)", "cost of the run (US dollars)", &WhatIfRow::cost_usd, true}};
    for (const Chart& ch : charts) {
        double largest = 0.0;
        bool all_priced = true;
        for (const auto& c : r.columns) {
            largest = std::max(largest, c.figures.*ch.field);
            all_priced = all_priced && c.priced;
        }
        if (ch.money && !all_priced) continue;
        svg::BarChart b;
        b.series.push_back({ch.title, ch.money ? "#E69F00" : "#0072B2"});
        b.legend = false;
        if (ch.money) b.tick_format = detail::dollar_ticks(largest);
        std::string described;
        for (const auto& c : r.columns) {
            const double v = c.figures.*ch.field;
            const std::string value = ch.money ? format_dollars(Dollars(v)) : fmt::format("{:.1f} days", v);
            described += fmt::format("{}{}: {}", described.empty() ? "" : "; ", c.label, value);
            b.bars.push_back({c.label, {v}, fmt::format("{} · {}-bound", value, to_string(c.figures.limiter)),
                              {fmt::format("{}: {}", c.label, value)}});
        }
        b.frame = {ch.id, std::string(ch.title) + " by scenario", fmt::format("{} of each scenario: {}.", ch.title, described),
                   ch.axis, "scenario", detail::kChartWidth};
        out += svg::bar_chart(b);
    }
    out += "</section>\n<footer>";
    out += paragraph(fmt::format("Made by gpuhours compare: {} simulation, {} network model, seed {}. The same scenarios and "
                                 "seed give this page byte for byte.",
                                 to_string(r.options.mode), to_string(r.options.network), r.options.seed));
    out += "</footer>\n</main>\n</body>\n</html>\n";
    return out;
}

}  // namespace gpuhours::report
