// The HTML report's "Across chips" section (html_report with a what-if comparison).
#include "html_parts.hpp"

#include <gpuhours/analysis/whatif.hpp>
#include <gpuhours/report/html.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/report/svg.hpp>
#include <gpuhours/report/verdicts.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace gpuhours::report::detail {

namespace {

// A row's chip; the scenario's own, [cluster.chip] table and all, says so (its figures are the headline's).
std::string chip_label(const WhatIfRow& row) {
    return (row.chip_name.empty() ? row.chip : row.chip_name) + (row.reference ? " (scenario's own)" : "");
}

// Under the comparison table: why claims' shares differ in kind between rows, where each price comes from, each
// row's caveats (as whatif prints them), and the claims' texts.
std::string comparison_notes(const WhatIfResult& w, const std::vector<std::string>& claim_texts) {
    std::string out;
    // The claims' probabilities are not comparable across chips when the scenario prices its own chip over a range:
    // a chip at its catalog price is priced at one figure, a chip at the scenario's price (no catalog price, or
    // --same-price) keeps the range.
    out += paragraph("A claim's probability weighs each row's own uncertain inputs: a row at the scenario's price per "
                     "GPU-hour (its own chip, a chip without a catalog price, every chip under --same-price) keeps the "
                     "scenario's range, while a row at its catalog price is priced at one figure, so a share near 100% or "
                     "0% there may reflect a fixed price rather than a safer or riskier run.", "note");
    // How many samples each row's shares are of: the scenario's own chip runs at `run`'s count, the others at whatif's
    // (a share's standard error depends on it; the page did not say; an audit of the report, session 52).
    if (!claim_texts.empty()) {
        std::vector<std::pair<int, std::string>> counts;  // samples → the chips at that count
        for (const auto& row : w.rows) {
            if (!row.feasible || row.samples <= 0) continue;  // 0: not known
            auto at = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == row.samples; });
            if (at == counts.end()) counts.emplace_back(row.samples, row.chip);
            else at->second += ", " + row.chip;
        }
        std::string said;
        for (const auto& [n, chips] : counts) said += fmt::format("{}{} over {} Monte Carlo sample{}", said.empty() ? "" : "; ", chips, n, n == 1 ? "" : "s");
        if (!said.empty()) out += paragraph(fmt::format("Claim shares: {}.", said), "note");
    }
    // Where each chip's price per GPU-hour comes from, as the terminal lists it.
    for (const auto& row : w.rows) {
        if (row.feasible && row.price_gpu_hour > 0) {
            out += paragraph(fmt::format("Price per GPU-hour on {}: {}, {}.", row.chip_name.empty() ? row.chip : row.chip_name,
                                         format_dollars(Dollars(row.price_gpu_hour)),
                                         row.price_note), "note");
        }
    }
    // § as `whatif` explains it under its table (the page marked nothing: a fresh user, session 55).
    if (const std::string note = borrowed_price_note(w); !note.empty()) out += paragraph(note + ".", "note");
    // Where a row's step is known to be optimistic or rests on an assumed figure, as `whatif` notes it under its table.
    for (const auto& row : w.rows) {
        if (!row.feasible) continue;
        for (const std::string& c : row.caveats) out += paragraph(fmt::format("Note ({}): {}.", row.chip, c), "note");
    }
    // Under a rule, what the terminal's "classification" block says (an audit of the report, session 52: the page gave
    // each row's class only, not whether the rule permits it, which catalog chips it leaves out, or why).
    if (w.rule) {
        for (const auto& row : w.rows) {
            out += paragraph(fmt::format("Classification of {} under {}: {} — {}{}.", row.chip, *w.rule, class_label(row), row.classification_reason,
                                         row.permitted ? ""
                                         : row.reference ? "; not permitted under this rule: the scenario's own chip, run as written as the reference row"
                                                         : "; not permitted under this rule"),
                             "note");
        }
        if (!w.not_permitted.empty()) {
            std::string left;
            for (const auto& [chip, cls] : w.not_permitted) left += fmt::format("{}{} ({})", left.empty() ? "" : ", ", chip, cls);
            out += paragraph(fmt::format("Not permitted under {}, so not compared: {}.", *w.rule, left), "note");
        }
        if (w.rule_set && !w.rule_set->not_subject_vendors.empty()) {
            std::string vendors;
            for (const auto& v : w.rule_set->not_subject_vendors) vendors += (vendors.empty() ? "" : ", ") + v;
            out += paragraph(fmt::format("Not subject to {}: {} parts, whatever their class ({}).", *w.rule, vendors,
                                         w.rule_set->not_subject_source), "note");
        }
    }
    if (claim_texts.size() == 1) out += paragraph(fmt::format("Claim: “{}”", claim_texts.front()), "note");
    for (std::size_t i = 0; claim_texts.size() > 1 && i < claim_texts.size(); ++i) {
        out += paragraph(fmt::format("Claim {}: “{}”", i + 1, claim_texts[i]), "note");
    }
    return out;
}

// `cost_basis`: the rung the scenario's cost is on ("rung 2, …"), every chip's row costed on it.
}  // namespace

std::string comparison_section(const WhatIfResult& w, const std::string& cost_basis) {
    std::string out = R"(<section id="comparison"><h2>Across chips</h2>)"
                      "\n";
    std::string context = fmt::format("The same scenario on each chip, same seed");
    if (w.rule) context += fmt::format("; classified under the rule set {}", *w.rule);
    if (w.rule_set) context += fmt::format(" ({}; {})", w.rule_set->title, w.rule_set->note.empty() ? w.rule_set->source : w.rule_set->note);
    if (w.deadline) context += fmt::format("; deadline {}", format_duration(*w.deadline));
    out += paragraph(context + ".");
    struct Metric {
        std::string id, title, axis;
        double WhatIfRow::*field;
        bool money;
    };
    const std::vector<Metric> metrics{
        {"whatif-days", "Wall clock (nominal inputs)", "wall clock (days)", &WhatIfRow::wall_clock_days, false},
        {"whatif-cost", "Cost", "cost of the run (US dollars)", &WhatIfRow::cost_usd, true},
        {"whatif-gpu-hours", "Allocated GPU-hours (nominal inputs)", "GPU-hours held (GPUs × wall clock)", &WhatIfRow::gpu_hours, false},
    };
    for (const Metric& m : metrics) {
        double largest = 0.0;
        for (const auto& row : w.rows) largest = std::max(largest, row.feasible ? row.*m.field : 0.0);
        if (m.money && largest <= 0.0) continue;  // unpriced
        svg::BarChart c;
        c.series.push_back({m.title, m.money ? "#E69F00" : m.field == &WhatIfRow::wall_clock_days ? "#0072B2" : "#009E73"});
        c.legend = false;
        if (m.money) c.tick_format = dollar_ticks(largest);
        std::string described;
        for (const auto& row : w.rows) {
            const std::string name = chip_label(row);
            svg::StackedBar b{name, {}, {}, {}};
            std::string value;
            if (row.feasible) {
                const double v = row.*m.field;
                value = m.money ? format_dollars(Dollars(v)) + (cost_on_borrowed_price(row) ? " §" : "")
                        : m.field == &WhatIfRow::wall_clock_days ? fmt::format("{:.1f} days", v)
                                                                      : with_commas(v);
                b.values.push_back(v);
                b.tips.push_back(fmt::format("{}: {}", m.title, value));  // as the page prints it, not the raw double
                b.note = fmt::format("{} · step limited by {}", value, limiter_label(row));
            } else {
                value = "infeasible";
                b.note = "infeasible";
            }
            described += fmt::format("{}{}: {}", described.empty() ? "" : "; ", name, value);
            c.bars.push_back(std::move(b));
        }
        c.frame = {m.id, m.title + " by chip", fmt::format("{} of the run on each chip: {}.", m.title, described), m.axis, "chip",
                   kChartWidth};
        out += svg::bar_chart(c);
    }
    // The claims' texts once, under the table; each row gives its verdicts in the same order.
    std::vector<std::string> claim_texts;
    for (const auto& row : w.rows) {
        for (const auto& v : row.verdicts) claim_texts.push_back(v.text);
        if (!claim_texts.empty()) break;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : w.rows) {
        std::string verdicts;
        for (std::size_t i = 0; i < row.verdicts.size(); ++i) {
            const auto& v = row.verdicts[i];
            verdicts += fmt::format("{}{}{}{}", i ? "; " : "", claim_texts.size() > 1 ? fmt::format("{}: ", i + 1) : "", verdict_share_text(v, row.samples),
                                    claim_on_borrowed_price(row, v) ? " §" : "");
        }
        const std::string name = chip_label(row);
        if (!row.feasible) {
            rows.push_back({name, class_label(row), std::to_string(row.gpus), "—", "—", "—", "—", "—", "—", "infeasible: " + row.error, "", ""});
            continue;
        }
        std::string deadline;
        if (w.deadline) deadline = row.deadline_gpus ? with_commas(*row.deadline_gpus) : "not reachable";
        if (!row.deadline_note.empty()) deadline += (deadline.empty() ? "" : " — ") + row.deadline_note;
        // The note says what was carried over or changed for this chip (efficiencies re-centred, communication SMs,
        // precision, and the layout only when it did not fit): shown as it is, not always as a layout change.
        rows.push_back({name + (row.layout_rederived && !row.layout_note.empty() ? " (" + row.layout_note + ")" : ""), class_label(row),
                        std::to_string(row.gpus), fmt::format("{:.3f} s", row.step_time_s), percent(row.mfu_bf16),
                        fmt::format("{:.1f}", row.wall_clock_days), with_commas(row.gpu_hours),
                        with_commas(row.steady_state_gpu_hours),
                        row.cost_usd > 0 ? format_dollars(Dollars(row.cost_usd)) + (cost_on_borrowed_price(row) ? " §" : "") : "—",
                        limiter_label(row), verdicts, deadline});
    }
    const std::vector<std::string> head{"chip", "classification", "GPUs", "step time", "MFU (BF16)", "days", "GPU-hours",
                                        "steady-state GPU-hours", cost_basis.empty() ? "cost" : fmt::format("cost ({})", cost_basis),
                                        "limited by", claim_texts.size() > 1 ? "claims (samples; nominal)" : "claim (samples; nominal)",
                                        "GPUs for the deadline"};
    const std::vector<std::size_t> numeric{2, 3, 4, 5, 6, 7, 8};
    // Only the columns with data: no classification without a rule, no cost unpriced, no deadline column without one.
    std::vector<std::string> kept_head;
    std::vector<std::size_t> kept_numeric;
    std::vector<std::vector<std::string>> kept_rows(rows.size());
    for (std::size_t c = 0; c < head.size(); ++c) {
        const bool data = std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return !r[c].empty() && r[c] != "—"; });
        if (!data && c > 0) continue;
        if (std::find(numeric.begin(), numeric.end(), c) != numeric.end()) kept_numeric.push_back(kept_head.size());
        kept_head.push_back(head[c]);
        for (std::size_t r = 0; r < rows.size(); ++r) kept_rows[r].push_back(rows[r][c]);
    }
    out += table(kept_head, kept_rows, kept_numeric, "wide");
    out += comparison_notes(w, claim_texts);
    return out + "</section>\n";
}


}  // namespace gpuhours::report::detail
