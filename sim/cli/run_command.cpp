// `gpuhours run`: the composition root of a whole run. Scenario → one step simulation per distinct step shape
// (phase, batch-ramp level) → run segments → Monte Carlo over interruptions and uncertain inputs → cost, energy →
// claim verdicts → report.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/training/kernel.hpp>
#include <gpuhours/report/schema.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/analysis/validation.hpp>
#include <gpuhours/report/output_file.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/report/verdicts.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <utility>

namespace gpuhours::cli {
namespace {

std::string seconds_text(Seconds t) { return fmt::format("{:.3f}", t.value()); }
std::string share(Seconds part, Seconds whole) {
    return whole.value() > 0 ? fmt::format("{:.1f}%", 100.0 * part.value() / whole.value()) : "—";
}

// Segment k's level of its phase's batch ramp, 1 … n (the segments before the last, the phase's own batch); nullopt
// for the last. The text table names it "ramp k/n", the CSV's ramp_level column gives k.
std::optional<std::size_t> ramp_level(const PhaseOutcome& ph, std::size_t k) {
    if (k + 1 >= ph.segments.size()) return std::nullopt;
    return k + 1;
}

// --csv: one row per phase segment (quoted phases as one row of GPU-hours).
void write_csv(const RunEvaluation& ev, std::ostream& out) {
    const Scenario& s = ev.scenario;
    // `days` as the text table's column: steps × step time, no interruptions (an audit missed it in the CSV).
    report::Table t({"phase", "ramp_level", "global_batch", "sequence_length", "tokens", "steps", "step_time_s", "days",
                     "gpu_hours", "quoted"});
    for (const auto& ph : ev.phases) {
        if (ph.quoted) {
            t.add_row({ph.name, "", "", "", "", "", "", "", fmt::format("{}", ph.gpu_hours), "true"});
        }
        for (std::size_t k = 0; k < ph.segments.size(); ++k) {
            const auto& seg = ph.segments[k];
            // A batch ramp's levels, 1 … n, as the text table names them ("ramp 1/4"); empty at the phase's own batch.
            const auto ramp = ramp_level(ph, k);
            const std::string level = ramp ? std::to_string(*ramp) : std::string();
            t.add_row({ph.name, level, std::to_string(seg.global_batch), std::to_string(ph.sequence_length),
                       fmt::format("{}", seg.tokens), fmt::format("{}", seg.steps),
                       fmt::format("{}", ev.steps[seg.step].step_time.value()),
                       fmt::format("{}", (ev.steps[seg.step].step_time * seg.steps).value() / 86400.0),
                       fmt::format("{}", in_hours(ev.steps[seg.step].step_time * seg.steps) * s.cluster.gpus), "false"});
        }
    }
    out << t.render_csv();
}

void json_phases(report::Json& j, const RunEvaluation& ev) {
    j.key("phases").begin_array();
    for (const auto& ph : ev.phases) {
        j.begin_object().field("name", ph.name).field("gpu_hours", ph.gpu_hours);
        j.field("quoted", ph.quoted);
        if (ph.quoted) j.field("source", ph.quoted_source);
        j.field("compute_time_s", ph.compute_time.value());
        j.key("segments").begin_array();
        for (const auto& seg : ph.segments) {
            j.begin_object().field("global_batch", seg.global_batch).field("tokens", seg.tokens).field("steps", seg.steps);
            j.field("step_time_s", ev.steps[seg.step].step_time.value()).field("mfu_bf16_full", ev.steps[seg.step].mfu_bf16_full).end_object();
        }
        j.end_array().end_object();
    }
    j.end_array();
}

void json_step(report::Json& j, const StepResult& r, const Scenario& s) {
    j.key("step").begin_object();
    j.field("fp8_recipe", to_string(s.training.precision.fp8_recipe)).field("recompute", describe_recompute(s.parallel));
    j.field("cuda_graphs", s.training.cuda_graphs).field("clock_factor", s.cluster.clock_factor());
    j.field("gradient_accumulation", to_string(s.training.gradient_accumulation));
    j.key("caveats").begin_array();
    for (const std::string& c : step_caveats(s)) j.value(c);
    j.end_array();
    if (s.cluster.power_cap) j.field("power_cap_w", s.cluster.power_cap->value());
    j.field("step_time_s", r.step_time.value()).field("micro_batches", r.micro_batches);
    j.field("simulated_ranks", r.simulated_ranks).field("tasks", static_cast<std::int64_t>(r.tasks));
    j.field("compute_s", r.breakdown.compute.value()).field("recompute_s", r.breakdown.recompute.value());
    j.field("optimizer_s", r.breakdown.optimizer.value()).field("bubble_s", r.breakdown.bubble.value());
    j.field("stage_imbalance_s", report::stage_imbalance(r).value());
    j.key("exposed_communication_s").begin_object();
    for (CommAxis a : kCommAxes) j.field(to_string(a), r.breakdown.exposed[static_cast<std::size_t>(a)].value());
    j.end_object();
    j.key("communication_on_link_s").begin_object();
    for (CommAxis a : kCommAxes) j.field(to_string(a), r.breakdown.on_link[static_cast<std::size_t>(a)].value());
    j.end_object();
    // One object per simulated pipeline stage, as `--stages` prints them (a researcher's read: a notebook had no
    // per-stage figures but the text table): seconds per GPU of that stage, and its memory against the usable capacity.
    j.key("stages").begin_array();
    for (const auto& stage : r.stages) {
        const auto& m = r.memory.at(static_cast<std::size_t>(stage.stage));
        j.begin_object().field("stage", stage.stage).field("compute_s", stage.breakdown.compute.value());
        j.field("recompute_s", stage.breakdown.recompute.value()).field("optimizer_s", stage.breakdown.optimizer.value());
        j.field("exposed_communication_s", stage.breakdown.exposed_total().value()).field("bubble_s", stage.breakdown.bubble.value());
        j.field("memory_bytes", m.total().value()).field("fits", m.total() <= s.cluster.chip.memory_capacity).end_object();
    }
    j.end_array();
    j.field("model_flop_per_s_per_gpu", r.model_flops_per_gpu.value());
    // The terminal's basis heads (mfu, hfu: BF16 peak; the MFU with full-attention FLOPs); the compute format's
    // peak beside it under names that carry the format, when it is not BF16.
    j.field("mfu", r.mfu_bf16_full).field("hfu", r.hfu_bf16).field("mfu_basis", "bf16 peak, full-attention FLOPs");
    j.field("mfu_bf16_full", r.mfu_bf16_full).field("mfu_bf16_causal", r.mfu_bf16_causal).field("hfu_bf16", r.hfu_bf16);
    j.field("compute_precision", to_string(r.compute_precision));
    if (r.compute_precision != Precision::bf16) {
        const std::string peak = std::string(to_string(r.compute_precision)) + "_peak";
        j.field("mfu_" + peak + "_full", r.mfu_full).field("mfu_" + peak + "_causal", r.mfu_causal);
        j.field("hfu_" + peak, r.hfu);
    }
    j.end_object();
}

void json_run(report::Json& j, const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    j.key("run").begin_object();
    j.field("tokens", s.training.tokens);
    j.field("wall_clock_days_p05", ev.wall_clock_days_spread.p05).field("wall_clock_days_p50", ev.wall_clock_days_spread.p50);
    j.field("wall_clock_days_p95", ev.wall_clock_days_spread.p95);
    j.field("gpu_hours_p50", ev.gpu_hours_spread.p50);
    j.field("allocated_gpu_hours_p05", ev.gpu_hours_spread.p05).field("allocated_gpu_hours_p50", ev.gpu_hours_spread.p50);
    j.field("allocated_gpu_hours_p95", ev.gpu_hours_spread.p95).field("allocated_gpu_hours_mean", ev.gpu_hours_spread.mean);
    const Spread& st = ev.steady_state_gpu_hours_spread;
    j.field("steady_state_gpu_hours_p05", st.p05).field("steady_state_gpu_hours_p50", st.p50);
    j.field("steady_state_gpu_hours_p95", st.p95).field("steady_state_gpu_hours_mean", st.mean);
    j.key("allocation_terms_gpu_hours").begin_object();
    for (const auto& term : ev.allocation_terms) j.field(term.key, term.gpu_hours);
    j.end_object();
    j.field("reliability", s.reliability.from).field("restart_s", ev.restart_time.value());
    j.key("overheads_not_modelled").begin_array();
    for (const auto& o : s.reliability.overheads) {
        if (!o.fraction) j.value(o.name);
    }
    j.end_array();
    j.field("interruptions_mean", ev.interruptions_mean).field("goodput_mean", ev.goodput_mean);
    j.field("reliability_caution", report::reliability_caution(ev));
    j.field("checkpoint_interval_s", ev.checkpoint_interval.value());
    if (ev.nominal_cost) {
        const auto& cost = *ev.nominal_cost;
        j.field("cost_usd_p05", ev.cost_spread.p05).field("cost_usd_p50", ev.cost_spread.p50);
        j.field("cost_usd_p95", ev.cost_spread.p95).field("cost_basis", cost.basis);
        if (ev.nominal_steady_cost) j.field("cost_usd_steady_state", ev.nominal_steady_cost->total.value());
        else j.key("cost_usd_steady_state").null();
        j.field("cost_includes", s.pricing.includes).field("energy_mwh_p50", ev.energy_spread.p50);
        j.key("cost_lines_usd").begin_object();
        for (const auto& line : cost.lines) j.field(line.item, line.cost.value());
        j.end_object();
        j.field("cost_usd", cost.total.value()).field("cost_statistic", "nominal");
    } else {
        // Unpriced: every cost and energy key present and null (docs/schemas.md, version 3), as whatif and compare.
        for (const char* key : {"cost_usd_p05", "cost_usd_p50", "cost_usd_p95", "cost_basis", "cost_usd_steady_state",
                                "cost_includes", "energy_mwh_p50", "cost_lines_usd", "cost_usd", "cost_statistic"}) {
            j.key(key).null();
        }
    }
    j.end_object();
    if (!ev.nominal_ladder) j.key("cost_ladder").null();
    if (ev.nominal_ladder) {
        j.key("cost_ladder").begin_array();
        for (const auto& rung : ev.nominal_ladder->rungs) {
            j.begin_object().field("rung", rung_number(rung.rung)).field("name", to_string(rung.rung)).field("title", rung_title(rung.rung));
            if (rung.cost) j.field("cost_usd", rung.cost->value());
            else j.field("missing", rung.missing);
            j.key("lines_usd").begin_object();
            for (const auto& line : rung.lines) j.field(line.item, line.cost.value());
            j.end_object().end_object();
        }
        j.end_array();
    }
    const report::Headline h = report::headline_of(ev);
    j.key("headline").begin_object().field("wall_clock_days", ev.nominal_wall_clock_days).field("wall_clock_text", h.wall_clock);
    j.field("gpu_hours", ev.nominal_gpu_hours).field("gpu_hours_text", h.gpu_hours);
    j.field("steady_state_gpu_hours", ev.simulated_gpu_hours());
    if (ev.nominal_cost) {
        j.field("cost_usd", ev.nominal_cost->total.value()).field("cost_text", h.cost).field("cost_label", h.cost_label);
        j.field("energy_mwh", ev.nominal_cost->energy.value() / 3.6e9).field("energy_text", h.energy);
    } else {
        for (const char* key : {"cost_usd", "cost_text", "cost_label", "energy_mwh", "energy_text"}) j.key(key).null();
    }
    j.end_object();
    j.key("assumptions").begin_array();
    for (const auto& a : ev.scenario.assumptions) j.begin_object().field("key", a.key).field("value", a.value).field("source", a.source).end_object();
    j.end_array();
}

// A claim criterion's unit in JSON field names, and the divisor from its SI figure (CriterionResult::nominal_value)
// to it, the one the headline divides by (so the two agree to the last bit): cost in dollars (usd), wall clock in
// days, GPU-hours, MFU as a fraction (mfu), energy in megawatt-hours. A criterion of another metric is not written
// under a wrong unit: an internal error until it is listed here.
std::pair<std::string, double> criterion_unit(const std::string& key) {
    if (key.starts_with("cost")) return {"usd", 1.0};
    if (key.starts_with("wall_clock")) return {"days", 86400.0};
    if (key.starts_with("gpu_hours")) return {"gpu_hours", 1.0};
    if (key.starts_with("mfu")) return {"mfu", 1.0};
    if (key.starts_with("energy")) return {"mwh", 3.6e9};
    throw std::logic_error("claim criterion " + key + " has no unit for its JSON fields (run_command.cpp, criterion_unit)");
}

void json_claims(report::Json& j, const RunEvaluation& ev) {
    j.key("uncertain_inputs").begin_array();
    for (const auto& u : ev.uncertain_inputs) j.value(u);
    j.end_array();
    j.key("claims").begin_array();
    for (const auto& v : ev.verdicts) {
        j.begin_object();
        report::verdict_head_json(j, v);
        if (v.probability_run) j.field("probability_run", *v.probability_run);
        if (v.probability_economic) j.field("probability_economic", *v.probability_economic);
        if (!v.rung.empty()) j.field("rung", v.rung);
        // Null for a claim on the capital outlay or on MFU alone, which rest on no GPU-hours (report::basis_clause).
        if (report::basis_clause(v).empty()) j.key("basis").null();
        else j.field("basis", to_string(v.basis));
        j.key("criteria").begin_array();
        for (const auto& c : v.criteria) {
            j.begin_object().field("name", c.name).field("threshold", c.threshold).field("nominal", c.nominal);
            // The same as numbers, named with their unit (docs/schemas.md): nominal_<unit>, threshold_low_<unit> and
            // threshold_high_<unit> (the bounds the criterion has).
            const auto [unit, divisor] = criterion_unit(c.key);
            j.field("nominal_" + unit, c.nominal_value / divisor);
            if (c.low) j.field("threshold_low_" + unit, *c.low / divisor);
            if (c.high) j.field("threshold_high_" + unit, *c.high / divisor);
            j.field("margin", c.margin).field("probability", c.probability);
            if (c.probability_run) j.field("probability_run", *c.probability_run);
            if (c.probability_economic) j.field("probability_economic", *c.probability_economic);
            j.field("key", c.key);
            if (c.break_even_per_gpu_hour) j.field("break_even_usd_per_gpu_hour", *c.break_even_per_gpu_hour);
            if (c.break_even_low_per_gpu_hour) j.field("break_even_low_usd_per_gpu_hour", *c.break_even_low_per_gpu_hour);
            if (c.break_even_per_gpu_hour) j.field("break_even_for_unpriced_phases", c.break_even_for_unpriced_phases);
            j.key("input_break_evens").begin_array();
            for (const auto& b : c.input_break_evens) {
                j.begin_object().field("input", b.input).field("text", b.value_text);
                if (b.value) j.field("value", *b.value).field("holds", b.side).field("method", b.method);
                j.end_object();
            }
            j.end_array();
            j.end_object();
        }
        j.end_array().end_object();
    }
    j.end_array();
}

// --json: the schema of docs/schemas.md (schema_version 4).
void write_json(const RunEvaluation& ev, std::ostream& out) {
    const Scenario& s = ev.scenario;
    report::Json j;
    j.begin_object().field("schema_version", report::kJsonSchemaVersion).field("title", s.title).field("seed", static_cast<std::int64_t>(ev.options.seed));
    j.field("samples", ev.options.samples).field("mode", to_string(ev.options.mode)).field("network", to_string(ev.options.network));
    json_phases(j, ev);
    json_step(j, ev.headline_step(), ev.scenario);
    json_run(j, ev);
    json_claims(j, ev);
    j.end_object();
    out << j.str();
}

// The title, the layout line and the phase table with its total.
void print_phases(const RunEvaluation& ev, std::ostream& out) {
    const Scenario& s = ev.scenario;
    const auto& p = s.parallel;
    const StepResult& r = ev.headline_step();
    out << fmt::format("{}\n", s.title);
    out << fmt::format("{} × {}, {}, {} schedule; {} simulation ({} GPU{} simulated), {} network model\n",
                       s.cluster.gpus, s.cluster.chip.display_name, describe_degrees(p),
                       describe_schedule(p), to_string(r.mode), r.simulated_ranks, r.simulated_ranks == 1 ? "" : "s",
                       to_string(ev.options.network));
    if (const std::string tp = describe_tensor_parallel(p); !tp.empty()) out << fmt::format("tensor parallel: {}\n", tp);
    if (const std::string cp = describe_context_parallel(p); !cp.empty()) out << fmt::format("context parallel: {}\n", cp);
    if (const std::string dp = describe_data_parallel(p); !dp.empty()) out << fmt::format("data parallel: {}\n", dp);
    if (const std::string ep = describe_expert_dispatch(p, s.model.moe.has_value());
        !ep.empty()) {
        out << fmt::format("expert parallel: {}\n", ep);
    }
    out << fmt::format("compute: {} GEMMs, recompute {}{}; kernels: {}\n", describe_compute_precision(s.training.precision),
                       describe_recompute(p),
                       describe_gradient_accumulation(s.training.gradient_accumulation, s.training.precision, "; "),
                       describe_launches(s.cluster.chip, s.training.cuda_graphs));
    if (s.cluster.power_cap) out << fmt::format("{}\n", s.cluster.describe_power_cap());
    out << "\n";

    report::Table pt({"phase", "sequence", "global batch", "tokens", "steps", "step time", "days", "GPU-hours"});
    double total_gpu_hours = 0;
    for (const auto& ph : ev.phases) {
        total_gpu_hours += ph.gpu_hours;
        if (ph.quoted) {
            pt.add_row({ph.name, "—", "—", "—", "—", "quoted", fmt::format("{:.1f}", ph.gpu_hours / s.cluster.gpus / 24.0),
                        report::with_commas(ph.gpu_hours)});
            continue;
        }
        for (std::size_t k = 0; k < ph.segments.size(); ++k) {
            const auto& seg = ph.segments[k];
            const Seconds t = ev.steps[seg.step].step_time * seg.steps;
            // A batch ramp's levels before the phase's own batch are named as such (four unlabelled rows of one phase
            // read as a mistake to a new user, session 52).
            const auto ramp = ramp_level(ph, k);
            const std::string name = ramp ? fmt::format("{}, ramp {}/{}", ph.name, *ramp, ph.segments.size() - 1) : ph.name;
            pt.add_row({name, std::to_string(ph.sequence_length), std::to_string(seg.global_batch),
                        format_count(seg.tokens), report::with_commas(seg.steps), fmt::format("{:.3f} s", ev.steps[seg.step].step_time.value()),
                        fmt::format("{:.1f}", in_days(t)), report::with_commas(in_hours(t) * s.cluster.gpus)});
        }
    }
    pt.add_row({"total (no interruptions)", "", "", format_count(s.training.tokens), "", "", "", report::with_commas(total_gpu_hours)});
    out << pt.render() << "\n";
    for (const auto& ph : ev.phases) {
        if (ph.quoted) out << fmt::format("{}: GPU-hours quoted, not simulated ({})\n", ph.name, ph.quoted_source);
    }
    for (const PhaseSpec& ph : s.phases) {
        if (const auto note = raised_ramp_note(ph)) out << *note << "\n";
    }
}

// The headline step: MFU/HFU, where its time goes, and with --stages one row per pipeline stage.
void print_step(const RunEvaluation& ev, bool stages, std::ostream& out) {
    const Scenario& s = ev.scenario;
    const StepResult& r = ev.headline_step();
    out << fmt::format("\nstep ({}, batch {})  {} s; {}\n", s.phases.front().name, s.phases.front().training.global_batch,
                       seconds_text(r.step_time), report::mfu_text(r));
    report::Table b({"where the step goes (mean per GPU)", "seconds", "share"});
    const Seconds t = r.step_time;
    b.add_row({"compute (forward + backward)", seconds_text(r.breakdown.compute), share(r.breakdown.compute, t)});
    b.add_row({"recompute", seconds_text(r.breakdown.recompute), share(r.breakdown.recompute, t)});
    b.add_row({"optimizer", seconds_text(r.breakdown.optimizer), share(r.breakdown.optimizer, t)});
    for (CommAxis a : kCommAxes) {
        const auto i = static_cast<std::size_t>(a);
        if (r.breakdown.on_link[i].value() == 0 && r.breakdown.exposed[i].value() == 0) continue;
        b.add_row({fmt::format("exposed {} communication ({} s on the link)", to_string(a), seconds_text(r.breakdown.on_link[i])),
                   seconds_text(r.breakdown.exposed[i]), share(r.breakdown.exposed[i], t)});
    }
    b.add_row({"pipeline bubble", seconds_text(r.breakdown.bubble), share(r.breakdown.bubble, t)});
    out << b.render();
    for (const std::string& c : step_caveats(s)) out << "note: " << c << "\n";
    if (const auto note = report::stage_imbalance_note(r, s.phases.front().parallel.pipeline, s.phases.front().parallel.schedule)) {
        out << "note: " << *note << "\n";
    }
    if (!stages) return;
    report::Table st({"stage", "compute s", "recompute s", "optimizer s", "exposed comm s", "bubble s", "memory", "fits"});
    for (const auto& stage : r.stages) {
        const auto& m = r.memory.at(static_cast<std::size_t>(stage.stage));
        st.add_row({std::to_string(stage.stage), seconds_text(stage.breakdown.compute), seconds_text(stage.breakdown.recompute),
                    seconds_text(stage.breakdown.optimizer), seconds_text(stage.breakdown.exposed_total()),
                    seconds_text(stage.breakdown.bubble), format_bytes(m.total()), m.total() <= s.cluster.chip.memory_capacity ? "yes" : "NO"});
    }
    out << "\n" << st.render();
}

// The run: interruptions, wall clock, GPU-hours, cost lines and energy.
void print_run(const RunEvaluation& ev, std::ostream& out) {
    const Scenario& s = ev.scenario;
    out << "\nrun\n";
    const report::BasisText b = report::basis_text(ev);
    out << fmt::format("  reliability    {}\n", b.reliability);
    if (ev.stochastic) {
        out << fmt::format("  interruptions  {:.1f} expected (mean over the samples; job MTTF {}), checkpoint every {} ({}), "
                           "goodput {:.1f}% (mean over the samples)\n",
                           ev.interruptions_mean, ev.job_mttf ? format_duration(*ev.job_mttf) : "∞", format_duration(ev.checkpoint_interval),
                           report::checkpoint_basis(ev), 100 * ev.goodput_mean);
        out << fmt::format("  wall clock     {:.1f} days (nominal inputs); over the samples: median {:.1f}, 90% interval {:.1f}–{:.1f} days "
                           "({} Monte Carlo run{}, seed {})\n",
                           ev.nominal_wall_clock_days, ev.wall_clock_days_spread.p50, ev.wall_clock_days_spread.p05,
                           ev.wall_clock_days_spread.p95, ev.options.samples, ev.options.samples == 1 ? "" : "s", ev.options.seed);
    } else {
        out << fmt::format("  wall clock     {:.1f} days (nothing stochastic: no failure classes and no uncertain inputs)\n",
                           ev.wall_clock_days_spread.p50);
    }
    const report::Headline h = report::headline_of(ev);
    out << fmt::format("  GPU-hours      steady-state {}\n", b.steady_state);
    out << fmt::format("                 allocated    {}\n", b.allocated);
    if (s.reliability.from != "none") {
        out << fmt::format("    allocated − steady-state = {}:\n", b.difference);
        for (const auto& term : b.terms) out << fmt::format("      {}\n", term);
        if (!b.not_modelled.empty()) out << fmt::format("      not modelled: {}\n", b.not_modelled);
        if (!b.caution.empty()) out << fmt::format("    caution: {}\n", b.caution);
    }
    if (ev.nominal_cost) {
        const auto& cost = *ev.nominal_cost;
        out << fmt::format("  cost           {} ({}; {}; includes: {})", h.cost, cost.basis, h.cost_label, s.pricing.includes);
        if (ev.stochastic) {
            out << fmt::format("; over the samples: median {}, 90% interval {}–{}", format_dollars(Dollars(ev.cost_spread.p50)),
                               format_dollars(Dollars(ev.cost_spread.p05)), format_dollars(Dollars(ev.cost_spread.p95)));
        }
        out << "\n";
        // Not repeated where the two bases agree (reliability = "none": allocated = steady-state).
        if (ev.nominal_steady_cost && format_dollars(ev.nominal_steady_cost->total) != h.cost) {
            out << fmt::format("                 steady-state {} (the same prices on the steady-state GPU-hours: the basis of a "
                               "reported GPU-hours × price; the figure above is on allocated GPU-hours)\n",
                               format_dollars(ev.nominal_steady_cost->total));
        }
        for (const auto& line : cost.lines) out << fmt::format("    {:<28} {}\n", line.item, format_dollars(line.cost));
        out << fmt::format("  energy         {} (facility, PUE {:g}; {}; nominal inputs)\n", h.energy, s.pricing.pue,
                           report::gpu_power_basis(s));
        out << "\ncost ladder (each rung its own figure; Epoch AI, arXiv 2405.21015)\n";
        for (const auto& rung : report::ladder_lines(ev)) {
            out << fmt::format("  rung {}  {:<52} {:>12}  {}\n", rung.number, rung.title, rung.cost, rung.detail);
            for (const auto& input : rung.inputs) out << fmt::format("          {}\n", input);
        }
    } else {
        out << "  cost           no [pricing] given\n";
    }
}

// Each claim's verdict with its criteria, then the assumptions the figures rest on.
void print_claims(const RunEvaluation& ev, std::ostream& out) {
    if (!ev.verdicts.empty()) out << "\nclaims\n";
    for (const auto& v : ev.verdicts) {
        const std::string basis = report::basis_clause(v);
        out << fmt::format("  {} — \"{}\" ({}{}{})\n", to_string(v.verdict), v.text, report::probability_text(ev, v),
                           basis.empty() ? "" : "; ", basis);
        for (const auto& c : v.criteria) {
            out << fmt::format("    {} {}: nominal {}, margin {:+.1f}%, holds in {}\n", c.name, c.threshold, c.nominal,
                               100 * c.margin, report::criterion_probability_text(c));
            if (const std::string be = report::break_even_text(c); !be.empty()) out << fmt::format("      {}\n", be);
            for (const auto& b : c.input_break_evens) out << fmt::format("      {}\n", report::input_break_even_text(b));
        }
    }
    out << "\nassumptions the figures rest on\n";
    for (const auto& line : report::assumption_lines(ev)) out << fmt::format("  {}\n", line);
}

// `--set cluster.chip=X` swaps the chip under figures written for the scenario's own: the communication SMs stay the
// count written (20 of the H800's 132 become 20 of the H20's 78), where `whatif --chips` keeps the scenario's share of
// the SMs, so the two differ by that much (an audit: 101.1 s against whatif's 91.7 s on the H20, unexplained).
std::optional<std::string> swapped_chip_note(const std::vector<std::string>& overrides, const Scenario& s) {
    const auto any = [&](auto&& pred) { return std::any_of(overrides.begin(), overrides.end(), pred); };
    const bool swapped = any([](const std::string& o) { return o.starts_with("cluster.chip=") || o.starts_with("cluster.chip.from="); });
    // SMs set on the command line too are the user's choice for this chip: nothing to say.
    const bool sms_set = any([](const std::string& o) { return o.find("communication_sms") != std::string::npos; });
    const int sms = s.phases.front().parallel.communication_sms;
    if (!swapped || sms_set || sms <= 0 || s.cluster.chip.sm_count <= 0) return std::nullopt;
    return fmt::format("--set swapped the chip: parallelism.communication_sms = {} (written for the scenario's own chip) "
                       "is {:.0f}% of the {}'s {} SMs here; `gpuhours whatif --chips` keeps the scenario's share of the SMs "
                       "instead, so its row for this chip can differ (set parallelism.communication_sms to choose)",
                       sms, 100.0 * sms / s.cluster.chip.sm_count, s.cluster.chip.display_name, s.cluster.chip.sm_count);
}

// A later layer that names another chip (`from` in a child's [cluster.chip], or --set cluster.chip.from) keeps the
// figures an earlier layer wrote beside the chip it named: a child of the flagship with `from = "b200"` still drew
// the FP8 GEMM efficiency around the H800's 0.53, not the B200's 0.55 (a fresh user's read, session 55; `whatif
// --chips` re-centres such a range on each chip's own figure, so the two differed unexplained).
std::optional<std::string> carried_chip_figures_note(const Scenario& s) {
    const auto from = s.sources.keys.find("cluster.chip.from");
    if (from == s.sources.keys.end() || !from->second.known()) return std::nullopt;
    std::vector<std::string> carried;
    for (const std::string& key : s.sources.chip_overrides) {
        const SourceRef at = s.sources.at("cluster.chip." + key, SourceRef{});
        if (at.known() && at.file != from->second.file) carried.push_back(fmt::format("{} ({})", key, at.to_string()));
    }
    if (carried.empty()) return std::nullopt;
    return fmt::format("the chip is the {}, named by `from` at {}, and [cluster.chip] keeps {} written in another layer beside "
                       "the chip that layer named: {}; {} the catalog's own figure{} for this chip (`gpuhours whatif --chips` "
                       "re-centres a range on each chip's own figure instead; write the key again beside `from` to choose)",
                       s.cluster.chip.display_name, from->second.to_string(), carried.size() == 1 ? "a figure" : "figures",
                       fmt::join(carried, ", "), carried.size() == 1 ? "it replaces" : "they replace", carried.size() == 1 ? "" : "s");
}

}  // namespace

int cmd_run(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "run");
    if (args.has("--json") && args.has("--csv")) throw Error("give either --json or --csv, not both", "each writes the whole output in its own format");
    // The CSV is the phase table alone: --stages was ignored there without a word (an audit).
    if (args.has("--csv") && args.has("--stages")) {
        throw Error("--stages adds a table to the text output; --csv writes the phase table only",
                    "drop --stages, or use --json, whose step.stages[] has every pipeline stage's figures");
    }
    if (args.has("--trace")) report::check_output_path(args.get("--trace"), "--trace");  // before any work
    const std::string& file = single_positional(args, "run", "SCENARIO");
    const ScenarioSampler sampler(file, load_options(args));
    require_memory_ranges_fit(sampler);  // as `check` refuses it
    EvaluateOptions options = evaluate_options(args);
    const std::string trace_path = args.get("--trace");
    options.record_trace = !trace_path.empty();
    ProgressBar steps("simulating steps", args);
    options.step_progress = [&](double done, int total) { steps.update(done, total); };
    ProgressBar progress("Monte Carlo", args);
    options.progress = [&](int done, int total) { progress.update(done, total); };
    const RunEvaluation ev = evaluate_run(sampler, options);
    if (!trace_path.empty()) report::write_file_atomically(trace_path, report::chrome_trace(ev.headline_step().trace), "--trace");
    if (args.has("--csv")) {
        write_csv(ev, out);
        return 0;
    }
    if (args.has("--json")) {
        write_json(ev, out);
        return 0;
    }
    print_phases(ev, out);
    print_step(ev, args.has("--stages"), out);
    if (const auto note = swapped_chip_note(load_options(args).overrides, ev.scenario)) out << "note: " << *note << "\n";
    if (const auto note = carried_chip_figures_note(ev.scenario)) out << "note: " << *note << "\n";
    print_run(ev, out);
    print_claims(ev, out);
    if (!trace_path.empty()) {
        out << fmt::format("\ntrace: {} ({} events; open it in Perfetto or chrome://tracing)\n", trace_path, ev.headline_step().trace.size());
    }
    return 0;
}

}  // namespace gpuhours::cli
