// `gpuhours whatif`: the scenario re-run on other chips, or on every chip a rule set permits; with --deadline,
// the GPU count each chip needs. The work is run_whatif (whatif.hpp); this file parses flags and prints.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/report/schema.hpp>
#include <gpuhours/report/verdicts.hpp>
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/analysis/whatif.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ostream>

namespace gpuhours::cli {
namespace {

std::string layout_text(const ParallelLayout& p) {
    std::string text = fmt::format("TP{} PP{} DP{}", p.tensor, p.pipeline, p.data);
    if (p.context > 1) text += fmt::format(" CP{}", p.context);
    if (p.expert > 1) text += fmt::format(" EP{}", p.expert);
    if (p.folds_experts()) text += fmt::format(" ETP{}", p.expert_tensor_degree());
    return text;
}

// Each claim's verdict and share; § where the claim's cost is priced at a rental price borrowed from the scenario's
// chip (a fresh user read a GB200 row's "HOLDS 100%" on the H800's $2 as the GB200 meeting the claim, session 55).
std::string verdicts_text(const WhatIfRow& row) {
    std::string text;
    for (const auto& v : row.verdicts) {
        if (!text.empty()) text += ", ";
        text += report::verdict_share_text(v, row.samples);
        if (claim_on_borrowed_price(row, v)) text += " §";
    }
    return text.empty() ? "—" : text;
}

double limiter_value(const WhatIfRow& row, Limiter l) {
    for (const auto& [k, v] : row.limiter_seconds) {
        if (k == l) return v;
    }
    return 0.0;
}

// The comparison as JSON (schema_version 4).
std::string whatif_json(const WhatIfResult& result, const LoadOptions& options) {
    report::Json j;
    j.begin_object().field("schema_version", report::kJsonSchemaVersion).field("title", result.scenario_title);
    // Every key always present (null where it does not apply), so that a reader indexing a row never misses one.
    if (result.rule) j.field("rule", *result.rule);
    else j.key("rule").null();
    j.key("rule_set");
    if (result.rule_set) write_rule_set_json(j, *result.rule_set);
    else j.null();
    if (result.deadline) j.field("deadline_days", in_days(*result.deadline));
    else j.key("deadline_days").null();
    j.key("overrides").begin_array();
    for (const auto& o : options.overrides) j.value(o);
    j.end_array();
    j.key("carried_from_scenario_chip").begin_array();
    for (const auto& c : result.carried) j.value(c);
    j.end_array();
    j.key("not_permitted").begin_array();
    for (const auto& [chip, cls] : result.not_permitted) j.begin_object().field("chip", chip).field("class", cls).end_object();
    j.end_array();
    j.key("rows").begin_array();
    for (const auto& r : result.rows) {
        j.begin_object().field("chip", r.chip).field("chip_name", r.chip_name).field("reference", r.reference);
        j.field("feasible", r.feasible);
        if (!r.classification.empty()) {
            j.field("class", r.classification).field("class_reason", r.classification_reason).field("subject", r.subject);
            j.field("permitted", r.permitted);
        }
        else j.key("class").null().key("class_reason").null().key("subject").null().key("permitted").null();
        if (!r.feasible) {
            j.field("error", r.error).end_object();
            continue;
        }
        j.key("error").null();
        j.field("gpus", r.gpus).field("layout", layout_text(r.layout)).field("layout_rederived", r.layout_rederived);
        j.field("layout_note", r.layout_note);
        j.key("chip_set").begin_array();
        for (const auto& o : r.chip_overrides) j.value(o);
        j.end_array();
        j.field("step_time_s", r.step_time_s).field("mfu_bf16_full", r.mfu_bf16);
        j.field("wall_clock_days", r.wall_clock_days).field("gpu_hours", r.gpu_hours);
        j.field("steady_state_gpu_hours", r.steady_state_gpu_hours);
        if (!r.cost_basis.empty()) {
            j.field("price_gpu_hour_usd", r.price_gpu_hour).field("price_note", r.price_note).field("price_borrowed", r.price_borrowed);
            j.field("cost_usd", r.cost_usd).field("cost_basis", r.cost_basis).field("energy_mwh", r.energy_mwh);
        } else {  // unpriced: null, as compare and run write it (a notebook would otherwise sum $0)
            j.key("price_gpu_hour_usd").null().key("price_note").null().key("price_borrowed").null();
            j.key("cost_usd").null().key("cost_basis").null().key("energy_mwh").null();
        }
        j.field("limiter", to_string(r.limiter));
        j.key("caveats").begin_array();
        for (const auto& c : r.caveats) j.value(c);
        j.end_array();
        j.key("limiter_seconds").begin_object();
        for (const auto& [k, v] : r.limiter_seconds) j.field(to_string(k), v);
        j.end_object();
        j.key("claims").begin_array();
        for (const auto& v : r.verdicts) {
            j.begin_object();
            report::verdict_head_json(j, v);
            j.end_object();
        }
        j.end_array();
        if (result.deadline && r.deadline_gpus) {
            j.field("deadline_gpus", *r.deadline_gpus).field("deadline_days", *r.deadline_days);
            j.field("deadline_layout", r.deadline_layout);
            j.key("deadline_set").begin_array();
            for (const auto& o : r.deadline_overrides) j.value(o);
            j.end_array();
        } else {
            j.key("deadline_gpus").null().key("deadline_days").null().key("deadline_layout").null().key("deadline_set").null();
        }
        if (result.deadline) j.field("deadline_note", r.deadline_note);
        else j.key("deadline_note").null();
        j.end_object();
    }
    j.end_array().end_object();
    return j.str();
}

}  // namespace

void require_distinct_chips(const std::vector<std::string>& chips, const ParsedArgs& args, const Scenario& s) {
    for (auto c = chips.begin(); c != chips.end(); ++c) {
        if (std::find(chips.begin(), c, *c) == c) continue;
        if (args.has("--chips")) throw Error(fmt::format("--chips {} names {} twice", args.get("--chips"), *c), "name each chip once");
        const auto i = static_cast<std::size_t>(c - chips.begin());
        throw ScenarioError(i < s.whatif.chip_where.size() ? s.whatif.chip_where[i] : s.whatif.where,
                            fmt::format("`whatif.chips[{}]` names \"{}\" twice", i, *c), "name each chip once: a row per chip");
    }
}

void require_whatif_chips(const Scenario& s, const ParsedArgs& args, const std::string& file) {
    require_distinct_chips(s.whatif.chips, ParsedArgs{}, s);
    const LoadOptions options = load_options(args);
    const std::filesystem::path dir = options.catalog_dir.empty() ? find_catalog_dir(file) : options.catalog_dir;
    for (const std::string& chip : s.whatif.chips) (void)load_chip(chip, dir);
}

WhatIfRequest whatif_request(const ParsedArgs& args, const Scenario& s) {
    WhatIfRequest request;
    if (args.has("--chips")) {
        for (auto& chip : split_list(args.get("--chips"), ',')) {
            if (chip.empty()) throw Error(fmt::format("--chips {} has an empty name", args.get("--chips")), "e.g. --chips h800,h20");
            (void)for_flag("--chips", chip, [&] { return load_chip(chip, catalog_dir(args)); });  // unknown: named now
            request.chips.push_back(std::move(chip));
        }
    }
    else if (!args.has("--rule")) request.chips = s.whatif.chips;  // --rule alone: the chips it permits, not [whatif]'s
    require_distinct_chips(request.chips, args, s);
    const std::string rule = args.has("--rule") ? args.get("--rule") : s.whatif.rule;
    if (args.has("--rule")) request.rule = for_flag("--rule", rule, [&] { return load_rule_set(rule, catalog_dir(args)); });
    else if (!rule.empty()) request.rule = load_rule_set(rule, catalog_dir(args));
    request.deadline = deadline_option(args);
    if (!request.deadline) request.deadline = s.whatif.deadline;
    request.max_gpus = static_cast<int>(whole_number_option(args, "--max-gpus", request.max_gpus, 1, limits::kGpus));
    // Both bound the deadline search alone: without a deadline they would be read and never used.
    for (const char* flag : {"--max-gpus", "--max-batch-tokens"}) {
        if (args.has(flag) && !request.deadline) {
            throw Error(fmt::format("{} bounds the deadline search, and this what-if has no deadline", flag),
                        fmt::format("add --deadline \"2 months\" (or a deadline in the scenario's [whatif] table), or leave {} out", flag));
        }
    }
    request.max_batch_tokens = max_batch_tokens_option(args, s);
    require_price_for_same_price(args, s);
    request.same_price = args.has("--same-price");
    request.own_samples = evaluate_options(args).samples;  // the scenario's own chip as `run` evaluates it
    if (request.chips.empty() && !request.rule) {
        throw Error("nothing to compare", "give --chips h100,h800,h20 or --rule oct-2023 (or a [whatif] table in the scenario)");
    }
    if (request.chips.empty() && request.rule && request.rule->memory_scope && args.has("--rule")) {
        throw Error(fmt::format("--rule {}: {}", rule, memory_scope_refusal(*request.rule)), memory_scope_hint(*request.rule));
    }
    return request;
}

namespace {

// The table's columns up to the claims: the cost column names its rung when the rows share one (an ownership
// scenario's is rung 2, beside rung 1's price per GPU-hour).
std::vector<std::string> table_header(const WhatIfResult& result) {
    std::vector<std::string> header{"chip"};
    if (result.rule) header.push_back(fmt::format("class ({})", *result.rule));
    std::string basis;
    for (const auto& r : result.rows) {
        if (r.feasible && !r.cost_basis.empty()) basis = basis.empty() || basis == r.cost_basis ? r.cost_basis : "mixed";
    }
    const std::string cost_head = basis.empty() || basis == "mixed" ? "cost" : fmt::format("cost ({})", basis.substr(0, basis.find(',')));
    const std::string price_head = basis.starts_with("rung 1") || basis.empty() ? "$/GPU-h" : "$/GPU-h (rung 1)";
    for (const std::string& h : {std::string("GPUs"), std::string("layout"), std::string("step"), std::string("MFU (BF16 peak, full attn)"),
                                 std::string("days"), std::string("GPU-hours"), std::string("steady-state"), price_head, cost_head,
                                 std::string("energy"), std::string("limited by")}) {
        header.push_back(h);
    }
    return header;
}

// Under the split table: the chips that cannot run and why, each re-derivation's † note, and each chip's known
// misses (step_caveats) as `note (chip):` lines.
void print_row_notes(const WhatIfResult& result, std::ostream& out) {
    bool cannot = false;
    for (const auto& r : result.rows) {
        if (r.feasible) continue;
        if (!cannot) out << "\ncannot run\n";
        cannot = true;
        out << fmt::format("  {}: {}\n", r.chip, r.error);
    }
    bool notes = false;
    for (const auto& r : result.rows) {
        if (!r.feasible || r.layout_note.empty()) continue;
        if (!notes) out << "\n";
        notes = true;
        out << fmt::format("† {}: {}\n", r.chip, r.layout_note);
    }
    bool caveats = false;
    for (const auto& r : result.rows) {
        if (!r.feasible) continue;
        for (const auto& c : r.caveats) {
            if (!caveats) out << "\n";
            caveats = true;
            out << fmt::format("note ({}): {}.\n", r.chip, c);
        }
    }
}

// Where each chip's step goes: the limiter table's seconds, one row per chip that ran.
void print_step_table(const WhatIfResult& result, std::ostream& out) {
    out << "\nwhere each chip's step goes (seconds per GPU; communication counted where it is exposed)\n";
    report::Table b({"chip", "compute", "HBM-bound", "NVLink", "network", "bubble", "step"});
    for (const auto& r : result.rows) {
        if (!r.feasible) continue;
        b.add_row({r.chip, fmt::format("{:.2f}", limiter_value(r, Limiter::compute)), fmt::format("{:.2f}", limiter_value(r, Limiter::hbm)),
                   fmt::format("{:.2f}", limiter_value(r, Limiter::nvlink)), fmt::format("{:.2f}", limiter_value(r, Limiter::network)),
                   fmt::format("{:.2f}", limiter_value(r, Limiter::bubble)), fmt::format("{:.2f}", r.step_time_s)});
    }
    out << b.render();
}

// A claim's cost criterion judged on another rung than the cost column's (the claim's `rung`, e.g. rental on an
// ownership scenario): said under the table, so that a cost below the claim's threshold beside FAILS reads right (an
// analyst's read of the ownership scenario: H100 $3.853M on rung 2, FAILS on rung 1 at $6.574M).
void print_rung_mismatch(const WhatIfResult& result, std::ostream& out) {
    std::vector<std::string> said;
    for (const auto& r : result.rows) {
        if (!r.feasible || r.cost_basis.empty()) continue;
        for (const auto& v : r.verdicts) {
            const std::optional<CostRung> rung = cost_rung_from_string(v.rung);
            if (!rung || r.cost_basis.starts_with(fmt::format("rung {},", rung_number(*rung)))) continue;
            const std::string line = fmt::format("\"{}\": its cost is judged on rung {} ({}), not on the cost column's {}", v.text,
                                                 rung_number(*rung), rung_title(*rung), r.cost_basis);
            if (std::find(said.begin(), said.end(), line) == said.end()) said.push_back(line);
        }
    }
    for (const auto& line : said) out << report::wrap_text("claim " + line, 120, 2);
}

// Each row's class under the rule (and whether the rule permits it), the catalog chips it leaves out, and the rule
// set's title, source, note and the vendors it does not reach.
void print_classification(const WhatIfResult& result, std::ostream& out) {
    if (!result.rule) return;
    out << "\nclassification\n";
    for (const auto& r : result.rows) {
        out << fmt::format("  {}: {} — {}{}\n", r.chip, r.classification, r.classification_reason,
                           r.permitted ? ""
                           : r.reference ? "; not permitted under this rule: the scenario's own chip, run as written as the reference row"
                                         : "; not permitted under this rule");
    }
    if (!result.not_permitted.empty()) {
        std::vector<std::string> left;
        for (const auto& [chip, cls] : result.not_permitted) left.push_back(fmt::format("{} ({})", chip, cls));
        out << report::wrap_text(fmt::format("Not permitted under {}, so not compared: {}", *result.rule, fmt::join(left, ", ")), 120, 2);
    }
    if (result.rule_set) {  // what the rule is and what it leaves out: its note names what is not modelled
        const RuleSet& rs = *result.rule_set;
        out << report::wrap_text(fmt::format("Rule set {}: {}", rs.id, rs.title), 120, 2);
        out << report::wrap_text("Source: " + rs.source, 120, 2);
        if (!rs.note.empty()) out << report::wrap_text("Note: " + rs.note, 120, 2);
        if (!rs.not_subject_vendors.empty()) {
            out << report::wrap_text(fmt::format("Not subject: {} parts, whatever their class ({})",
                                                 fmt::join(rs.not_subject_vendors, ", "), rs.not_subject_source),
                                     120, 2);
        }
    }
}

}  // namespace

int cmd_whatif(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "whatif");
    const std::string& file = single_positional(args, "whatif", "SCENARIO");
    const LoadOptions options = load_options(args);
    const Scenario s = load_scenario(file, options);
    // A scenario that would practically never finish is refused as `check` and `run` refuse it, before any chip runs.
    require_run_can_finish(s);
    const WhatIfRequest request = whatif_request(args, s);
    EvaluateOptions eval = evaluate_options(args);
    if (!args.has("--samples")) eval.samples = 100;  // per chip: enough for medians (deadline runs take the nominal inputs only)
    WhatIfResult result;
    {
        ProgressBar chips(request.deadline ? "chips and deadline runs" : "chips", args);
        result = run_whatif(file, options, request, eval, [&](int done, int total) { chips.update(done, total); });
    }
    const bool modified = !options.overrides.empty();

    if (args.has("--json")) {
        out << whatif_json(result, options);
        return 0;
    }

    out << fmt::format("{} — what if it ran on other chips\n", result.scenario_title);
    if (modified) out << fmt::format("every chip modified by: {}\n", fmt::join(options.overrides, " "));
    out << "\n";
    std::vector<std::string> header = table_header(result);
    // The scenario's own row is evaluated as `run` evaluates it, which may take another sample count: say so.
    int own_runs = eval.samples;
    for (const auto& r : result.rows) {
        if (r.reference && r.feasible && r.samples != eval.samples) own_runs = r.samples;
    }
    header.push_back(own_runs == eval.samples ? fmt::format("claims (verdict, share of {} runs)", eval.samples)
                                              : fmt::format("claims (verdict, share of {} runs; {} for the scenario's own)", eval.samples, own_runs));
    // The deadline as written beside days, as a claim's threshold prints ("2 months (60.9 days)"); under a day with
    // three significant digits ("1 hour (0.0417 days)", not "(0.0 days)").
    const auto days_text = [](double d) { return d < 1.0 ? fmt::format("{:.3g} days", d) : fmt::format("{:.1f} days", d); };
    const std::string deadline_text =
        !result.deadline ? std::string()
        : args.has("--deadline") ? fmt::format("{} ({})", args.get("--deadline"), days_text(in_days(*result.deadline)))
                                 : days_text(in_days(*result.deadline));
    if (result.deadline) header.push_back(fmt::format("GPUs for {}", deadline_text));
    report::Table t(header);
    for (const auto& r : result.rows) {
        std::vector<std::string> row{r.chip + (modified ? "*" : "") + (r.reference ? " (scenario's own)" : "")};
        if (result.rule) row.push_back(class_label(r));
        if (!r.feasible) {
            row.push_back("cannot run (below)");  // the reason, often long, under the table
            while (row.size() < header.size()) row.push_back("");
            t.add_row(row);
            continue;
        }
        row.push_back(std::to_string(r.gpus));
        row.push_back(layout_text(r.layout) + (r.layout_rederived ? " †" : ""));
        row.push_back(fmt::format("{:.2f} s", r.step_time_s));
        row.push_back(fmt::format("{:.1f}%", 100 * r.mfu_bf16));
        row.push_back(fmt::format("{:.1f}", r.wall_clock_days));
        row.push_back(report::with_commas(r.gpu_hours));
        row.push_back(report::with_commas(r.steady_state_gpu_hours));
        // § a price borrowed from the scenario's chip (the note under the table): its cost compares no markets.
        // The cost column is marked only where it is that rental price's (rung 1); an ownership scenario's is not.
        const std::string borrowed = r.price_borrowed ? " §" : "";
        const std::string cost_borrowed = cost_on_borrowed_price(r) ? " §" : "";
        row.push_back(r.price_gpu_hour > 0 ? fmt::format("${:.2f}{}", r.price_gpu_hour, borrowed) : "—");
        row.push_back(r.cost_usd > 0 ? format_dollars(Dollars(r.cost_usd)) + cost_borrowed : "—");
        row.push_back(r.energy_mwh > 0 ? format_energy(Joules(r.energy_mwh * 3.6e9)) : "—");
        row.push_back(limiter_label(r));
        row.push_back(verdicts_text(r));
        if (result.deadline) row.push_back(r.deadline_gpus ? report::with_commas(*r.deadline_gpus) : "not reached");
        t.add_row(row);
    }
    out << t.render();
    print_rung_mismatch(result, out);

    print_step_table(result, out);
    print_row_notes(result, out);
    bool priced = false;
    for (const auto& r : result.rows) priced = priced || (r.feasible && r.price_gpu_hour > 0);
    if (priced) {
        out << "\nprice per GPU-hour (nominal; a catalog price is one figure, while a row at the scenario's price keeps "
               "its range, if any: a claim's share near 100% or 0% on a catalog-priced row may reflect that fixed price, and "
               "its date and market, rather than a safer or riskier run; --same-price prices every chip as the scenario does)\n";
        for (const auto& r : result.rows) {
            if (r.feasible && r.price_gpu_hour > 0) out << fmt::format("  {}: ${:.2f}, {}\n", r.chip, r.price_gpu_hour, r.price_note);
        }
        if (const std::string note = borrowed_price_note(result); !note.empty()) out << "  " << note << "\n";
    }
    if (!result.carried.empty()) {
        out << fmt::format("\ncarried from the scenario's [cluster.chip] to every chip: {} (values set for the scenario's own "
                           "chip, kept as they are unless a † note re-centres a range on a chip's own figure)\n",
                           fmt::join(result.carried, ", "));
    }
    print_classification(result, out);
    if (result.deadline) {
        out << fmt::format("\nGPUs to finish within {} (the nominal run's wall clock; the data-parallel degree of every phase scaled; a batch "
                           "grows only as far as --max-batch-tokens allows, by default not at all; where the scenario's schedule would "
                           "need a larger batch, 1F1B and micro-batch 1 are tried too)\n",
                           deadline_text);
        for (const auto& r : result.rows) {
            if (r.feasible) out << fmt::format("  {}: {}\n", r.chip, r.deadline_note);
        }
    }
    out << "\nThe limiter is the largest share of the step: compute- or HBM-bound kernels (roofline per operator), exposed\n"
           "communication inside a node (NVLink) or across nodes (network), the pipeline bubble; \"memory capacity\" when the\n"
           "scenario's layout had to change to fit.\n";
    return 0;
}

}  // namespace gpuhours::cli
