// The HTML report (html.hpp). Sections mirror `gpuhours run` (sim/cli/run_command.cpp): same figures, same
// wording, plus charts.
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/report/html.hpp>
#include <gpuhours/analysis/validation.hpp>
#include <gpuhours/report/capacity.hpp>

#include "html_parts.hpp"

#include <gpuhours/report/report.hpp>
#include <gpuhours/report/svg.hpp>
#include <gpuhours/report/verdicts.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace gpuhours::report {

namespace detail {

using svg::escape;

// ---- small HTML helpers ------------------------------------------------------------------------------------

std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<std::size_t>& numeric, std::string_view css_class) {
    auto is_numeric = [&](std::size_t i) { return std::find(numeric.begin(), numeric.end(), i) != numeric.end(); };
    std::string out = css_class.empty() ? "<table>" : fmt::format(R"(<table class="{}">)", css_class);
    out += "<thead><tr>";
    for (std::size_t i = 0; i < head.size(); ++i) {
        out += fmt::format("<th{}>{}</th>", is_numeric(i) ? R"( class="num")" : "", escape(head[i]));
    }
    out += "</tr></thead><tbody>";
    for (const auto& row : rows) {
        out += "<tr>";
        for (std::size_t i = 0; i < row.size(); ++i) {
            out += fmt::format("<td{}>{}</td>", is_numeric(i) ? R"( class="num")" : "", escape(row[i]));
        }
        out += "</tr>";
    }
    out += "</tbody></table>\n";
    return out;
}

std::string paragraph(std::string_view text, std::string_view css_class) {
    return css_class.empty() ? fmt::format("<p>{}</p>\n", escape(text))
                             : fmt::format(R"(<p class="{}">{}</p>)"
                                           "\n",
                                           css_class, escape(text));
}

std::string figure(std::string_view label, std::string_view value, std::string_view note) {
    return fmt::format(R"(<div class="figure"><div class="label">{}</div><div class="value">{}</div><div class="note">{}</div></div>)",
                       escape(label), escape(value), escape(note));
}

svg::TickFormat dollar_ticks(double largest) {
    if (largest >= 1e9) return [](double v) { return fmt::format("${}B", v / 1e9); };
    if (largest >= 1e6) return [](double v) { return fmt::format("${}M", v / 1e6); };
    if (largest >= 1e4) return [](double v) { return fmt::format("${}K", v / 1e3); };
    return [](double v) { return fmt::format("${}", v); };
}

const std::string_view kStyle = R"(
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #222; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1020px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.subtitle { color: #555; margin: 0 0 18px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 18px 20px; margin: 0 0 18px; }
.verdict { display: flex; gap: 20px; align-items: flex-start; border: 2px solid; border-radius: 8px; padding: 14px 16px; margin: 0 0 12px; }
.verdict .badge { font-size: 28px; font-weight: 800; letter-spacing: 0.03em; min-width: 180px; }
.verdict .body { flex: 1; }
.verdict.holds { background: #eaf6ee; border-color: #1b7f3b; } .verdict.holds .badge { color: #1b7f3b; }
.verdict.fails { background: #fdecee; border-color: #b00020; } .verdict.fails .badge { color: #b00020; }
.verdict.uncertain { background: #fff5da; border-color: #a86b00; } .verdict.uncertain .badge { color: #8a5800; }
.claim { font-size: 19px; font-weight: 600; margin: 0 0 4px; }
.probability { margin: 0 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
table.wide { font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6ea; text-align: left; vertical-align: top; }
th { background: #f1f3f5; font-weight: 600; }
.verdict th { background: rgba(255, 255, 255, 0.6); }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; margin: 0 0 14px; }
.figure { border: 1px solid #e3e6ea; border-radius: 6px; padding: 8px 12px; }
.figure .label { color: #555; font-size: 13px; }
.figure .value { font-size: 22px; font-weight: 700; }
.figure .note { color: #555; font-size: 12px; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 10px 0 16px; }
p.note { color: #555; }
p.warning { color: #b00020; font-weight: 600; }
footer { color: #666; font-size: 13px; text-align: center; }
)";

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100.0 * fraction); }

}  // namespace detail

namespace {

using detail::comparison_section;
using detail::dollar_ticks;
using detail::figure;
using detail::kChartWidth;
using detail::kStyle;
using detail::paragraph;
using detail::percent;
using detail::table;
using svg::escape;


std::string seconds_text(Seconds t) { return fmt::format("{:.3f}", t.value()); }
std::string share(Seconds part, Seconds whole) {
    return whole.value() > 0 ? percent(part.value() / whole.value()) : "—";
}

// ---- verdicts and assumptions ------------------------------------------------------------------------------

std::string_view verdict_class(Verdict v) {
    switch (v) {
        case Verdict::holds: return "holds";
        case Verdict::fails: return "fails";
        case Verdict::uncertain: return "uncertain";
    }
    return "uncertain";
}

std::string claims_section(const RunEvaluation& ev) {
    std::string out = R"(<section id="claims"><h2>Claims</h2>)"
                      "\n";
    if (ev.verdicts.empty()) out += paragraph("The scenario states no claims ([[claims]] in the scenario file).", "note");
    for (const ClaimVerdict& v : ev.verdicts) {
        out += fmt::format(R"(<div class="verdict {}"><div class="badge">{}</div><div class="body">)", verdict_class(v.verdict),
                           escape(to_string(v.verdict)));
        out += fmt::format(R"(<p class="claim">“{}”</p>)", escape(v.text));
        const std::string basis = basis_clause(v);
        out += paragraph(fmt::format("Verdict over {}{}{}: {}. HOLDS needs the claim met in at least 90% of runs, "
                                     "FAILS in at most 10%, judged on the share's 95% interval (few runs settle neither).",
                                     ev.stochastic ? fmt::format("{} Monte Carlo run{}", ev.options.samples, ev.options.samples == 1 ? "" : "s") : "the nominal run",
                                     basis.empty() ? "" : ", ", basis, probability_text(ev, v)),
                         "probability");
        std::vector<std::vector<std::string>> rows;
        for (const CriterionResult& c : v.criteria) {
            rows.push_back({fmt::format("{} {}", c.name, c.threshold), c.nominal, fmt::format("{:+.1f}%", 100 * c.margin),
                            criterion_probability_text(c)});
        }
        out += table({"criterion", "nominal", "margin", "holds in (of runs)"}, rows, {1, 2, 3});
        for (const CriterionResult& c : v.criteria) {
            if (const std::string be = break_even_text(c); !be.empty()) out += paragraph(fmt::format("{} {}: {}", c.name, c.threshold, be), "break-even");
            for (const auto& b : c.input_break_evens) {
                out += paragraph(fmt::format("{} {}: {}", c.name, c.threshold, input_break_even_text(b)), "break-even");
            }
        }
        out += "</div></div>\n";
    }
    out += "<h3>Assumptions the figures rest on</h3>\n<ul>";
    for (const auto& line : assumption_lines(ev)) out += fmt::format("<li>{}</li>", escape(line));
    out += "</ul>\n</section>\n";
    return out;
}

// ---- run summary -------------------------------------------------------------------------------------------

std::string summary_section(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    const StepResult& r = ev.headline_step();
    std::string out = R"(<section id="summary"><h2>Run summary</h2>)"
                      "\n";
    out += R"(<div class="figures">)";
    const auto& wc = ev.wall_clock_days_spread;
    const Headline head = headline_of(ev);
    out += figure("wall clock", head.wall_clock,
                  ev.stochastic ? fmt::format("nominal inputs; over the samples: median {:.1f}, 90% interval {:.1f}–{:.1f} days",
                                              wc.p50, wc.p05, wc.p95)
                                : "nothing stochastic");
    const BasisText basis = basis_text(ev);
    out += figure("GPU-hours (allocated)", head.gpu_hours, fmt::format("{} GPUs × wall clock{}", s.cluster.gpus, ev.stochastic ? " (nominal inputs)" : ""));
    out += figure("GPU-hours (steady-state)", with_commas(ev.simulated_gpu_hours()),
                  fmt::format("steps × step time × GPUs{}", ev.stochastic ? " (nominal inputs)" : ""));
    if (ev.nominal_cost) {
        const CostBreakdown& c = *ev.nominal_cost;
        out += figure("cost", head.cost,
                      ev.stochastic ? fmt::format("{}; {}; over the samples: median {}, 90% interval {}–{}", c.basis, head.cost_label,
                                                  format_dollars(Dollars(ev.cost_spread.p50)),
                                                  format_dollars(Dollars(ev.cost_spread.p05)),
                                                  format_dollars(Dollars(ev.cost_spread.p95)))
                                    : fmt::format("{}; {}", c.basis, head.cost_label));
        out += figure("energy", head.energy, fmt::format("facility, PUE {:g}; nominal inputs", s.pricing.pue));
    } else {
        out += figure("cost", "—", "no [pricing] given");
    }
    if (ev.stochastic) {
        out += figure("interruptions", fmt::format("{:.1f} expected", ev.interruptions_mean),
                      fmt::format("mean over the samples; job MTTF {}; checkpoint every {} ({})", ev.job_mttf ? format_duration(*ev.job_mttf) : "∞",
                                  format_duration(ev.checkpoint_interval),
                                  checkpoint_basis(ev)));
        out += figure("goodput", percent(ev.goodput_mean), "useful training time / wall clock, mean over the samples");
    }
    out += "</div>\n";
    out += paragraph(fmt::format("Reliability: {}.", basis.reliability));
    if (s.reliability.from != "none") {
        std::string terms;
        for (const auto& term : ev.allocation_terms) {
            terms += fmt::format("{}{} {}", terms.empty() ? "" : "; ", term.name, with_commas(term.gpu_hours));
        }
        out += paragraph(fmt::format("Allocated − steady-state = {}: {}{}.", basis.difference, terms,
                                     basis.not_modelled.empty() ? "" : "; not modelled: " + basis.not_modelled));
        if (!basis.caution.empty()) out += paragraph(fmt::format("Caution: {}.", basis.caution));
    }

    const auto& p = s.parallel;
    out += paragraph(fmt::format("{} × {}, {}, {} schedule; {} simulation ({} GPU{} simulated), {} "
                                 "network model; {}.",
                                 s.cluster.gpus, s.cluster.chip.display_name, describe_degrees(p), describe_schedule(p), to_string(r.mode), r.simulated_ranks,
                                 r.simulated_ranks == 1 ? "" : "s",
                                 to_string(ev.options.network),
                                 ev.stochastic ? fmt::format("{} Monte Carlo run{}, seed {}", ev.options.samples, ev.options.samples == 1 ? "" : "s", ev.options.seed)
                                               : std::string("deterministic: one run")));
    if (const std::string tp = describe_tensor_parallel(p); !tp.empty()) out += paragraph(fmt::format("Tensor parallel: {}.", tp));
    if (const std::string cp = describe_context_parallel(p); !cp.empty()) out += paragraph(fmt::format("Context parallel: {}.", cp));
    if (const std::string dp = describe_data_parallel(p); !dp.empty()) out += paragraph(fmt::format("Data parallel: {}.", dp));
    if (const std::string ep = describe_expert_dispatch(p, s.model.moe.has_value());
        !ep.empty()) {
        out += paragraph(fmt::format("Expert parallel: {}.", ep));
    }
    out += paragraph(fmt::format("Compute: {} GEMMs, recompute {}{}; kernels: {}.", describe_compute_precision(s.training.precision),
                                 describe_recompute(p),
                                 describe_gradient_accumulation(s.training.gradient_accumulation, s.training.precision, "; "),
                                 describe_launches(s.cluster.chip, s.training.cuda_graphs)));
    if (s.cluster.power_cap) out += paragraph(s.cluster.describe_power_cap() + ".");

    std::vector<std::vector<std::string>> rows;
    double total_gpu_hours = 0;
    std::vector<std::string> quoted_notes;
    for (const auto& ph : ev.phases) {
        total_gpu_hours += ph.gpu_hours;
        if (ph.quoted) {
            rows.push_back({ph.name, "—", "—", "—", "—", "quoted", fmt::format("{:.1f}", ph.gpu_hours / s.cluster.gpus / 24.0),
                            with_commas(ph.gpu_hours)});
            quoted_notes.push_back(fmt::format("{}: GPU-hours quoted, not simulated ({})", ph.name, ph.quoted_source));
            continue;
        }
        for (const auto& seg : ph.segments) {
            const Seconds t = ev.steps[seg.step].step_time * seg.steps;
            rows.push_back({ph.name, std::to_string(ph.sequence_length), std::to_string(seg.global_batch), format_count(seg.tokens),
                            with_commas(seg.steps), fmt::format("{:.3f} s", ev.steps[seg.step].step_time.value()),
                            fmt::format("{:.1f}", in_days(t)), with_commas(in_hours(t) * s.cluster.gpus)});
        }
    }
    rows.push_back({"total (no interruptions)", "", "", format_count(s.training.tokens), "", "", "", with_commas(total_gpu_hours)});
    out += "<h3>Phases</h3>\n";
    out += table({"phase", "sequence", "global batch", "tokens", "steps", "step time", "days", "GPU-hours"}, rows,
                 {1, 2, 3, 4, 5, 6, 7});
    for (const auto& q : quoted_notes) out += paragraph(q, "note");
    out += paragraph(fmt::format("Headline step ({}, batch {}): {} s; {}.", s.phases.front().name,
                                 s.phases.front().training.global_batch, seconds_text(r.step_time), mfu_text(r)));
    out += "</section>\n";
    return out;
}

// ---- step timeline -----------------------------------------------------------------------------------------

// What a traced task is, from its stream and its name (sim/training/step.cpp names compute tasks "<pass><micro-batch>.c<chunk>
// <block>", recomputation "… recompute", and the optimizer "optimizer").
enum class Work { forward, backward, weight, recompute, optimizer, other, collective, p2p };
struct WorkStyle {
    std::string_view name;
    std::string_view colour;
};
constexpr std::array<WorkStyle, 8> kWork{{{"forward", "#0072B2"},
                                          {"backward", "#E69F00"},
                                          {"weight gradient (W)", "#8C6D31"},
                                          {"recompute", "#CC79A7"},
                                          {"optimizer", "#009E73"},
                                          {"other compute", "#999999"},
                                          {"collective (comm stream)", "#555555"},
                                          {"pipeline send/receive", "#D55E00"}}};

std::string_view first_word(std::string_view name) { return name.substr(0, name.find(' ')); }

bool pass_of(std::string_view token, std::string_view kind) {
    return token.size() > kind.size() && token.substr(0, kind.size()) == kind &&
           std::isdigit(static_cast<unsigned char>(token[kind.size()])) != 0;
}

Work classify(const TraceEvent& e) {
    if (e.stream == "comm" || e.stream == "dp" || e.stream == "dp reduce") return Work::collective;
    if (e.stream == "p2p") return Work::p2p;
    const std::string_view name = e.name;
    if (name == "optimizer") return Work::optimizer;
    constexpr std::string_view kRecompute = " recompute";
    if (name.size() > kRecompute.size() && name.substr(name.size() - kRecompute.size()) == kRecompute) return Work::recompute;
    const std::string_view token = first_word(name);
    if (pass_of(token, "F")) return Work::forward;
    if (pass_of(token, "B") || pass_of(token, "Bi")) return Work::backward;
    if (pass_of(token, "W")) return Work::weight;
    return Work::other;
}

// The window shown: from the step's start until every stage has finished kBackwardPasses backward passes, so the
// chart shows the pipeline filling and the first micro-batches of the steady state. Falls back to the whole step
// when names cannot be read.
constexpr int kBackwardPasses = 1;
constexpr std::size_t kMaxBars = 6000;  // keeps the page under a megabyte: about 110 bytes a bar

// One trace event placed on the chart: row 2·stage for compute, 2·stage + 1 for communication.
struct TimelineItem {
    int row, lane;
    Work work;
    std::int64_t start, end;  // ps
    const TraceEvent* event;
};

// One bar of the chart: consecutive pieces of one pass or collective merged.
struct TimelineBar {
    int row, lane;
    Work work;
    std::int64_t start, end;  // ps
    std::string_view key;
    std::size_t pieces;
};

// The trace events of each stage's representative rank, by row, lane and start.
std::vector<TimelineItem> timeline_items(const StepResult& r) {
    std::map<int, int> stage_of;  // representative rank → stage
    for (const StageStep& st : r.stages) stage_of.emplace(st.rank, st.stage);
    std::vector<TimelineItem> items;
    for (const TraceEvent& e : r.trace) {
        const auto it = stage_of.find(e.rank);
        if (it == stage_of.end() || e.end <= e.start) continue;
        const Work w = classify(e);
        const int row = 2 * it->second + (w == Work::collective || w == Work::p2p ? 1 : 0);
        const int lane = w == Work::collective ? 1 : w == Work::p2p ? 2 : 0;
        items.push_back({row, lane, w, e.start.picoseconds(), e.end.picoseconds(), &e});
    }
    std::sort(items.begin(), items.end(), [](const TimelineItem& a, const TimelineItem& b) {
        return std::tie(a.row, a.lane, a.start, a.end, a.event->name) < std::tie(b.row, b.lane, b.start, b.end, b.event->name);
    });
    return items;
}

// Window end (s): per stage, the last moment of its kBackwardPasses-th backward pass (in order of first start);
// the whole step when a stage has fewer.
double timeline_window_end(const StepResult& r, const std::vector<TimelineItem>& items) {
    const int stages = static_cast<int>(r.stages.size());
    std::int64_t window_end = 0;
    bool whole_step = false;
    for (int stage = 0; stage < stages; ++stage) {
        std::vector<std::string_view> order;
        std::map<std::string_view, std::int64_t> last_end;
        for (const TimelineItem& i : items) {
            if (i.row != 2 * stage || (i.work != Work::backward && i.work != Work::recompute)) continue;
            const std::string_view token = first_word(i.event->name);
            auto [at, inserted] = last_end.emplace(token, i.end);
            if (inserted) order.push_back(token);
            else at->second = std::max(at->second, i.end);
        }
        if (order.size() < static_cast<std::size_t>(kBackwardPasses)) {
            whole_step = true;
            break;
        }
        window_end = std::max(window_end, last_end.at(order[kBackwardPasses - 1]));
    }
    const double step_s = r.step_time.value();
    double end_s = whole_step ? step_s : std::min(step_s, static_cast<double>(window_end) * 1e-12);
    if (end_s <= 0.0) end_s = step_s;
    return end_s;
}

// Bars: consecutive pieces of one pass (or one collective) closer than half a pixel merge into one. Past kMaxBars
// the window is cut at the kMaxBars-th start (end_s shrinks and cap_note says so).
std::vector<TimelineBar> timeline_bars(const std::vector<TimelineItem>& items, double& end_s, std::string& cap_note) {
    const auto gap_ps = static_cast<std::int64_t>(0.5 * end_s * 1e12 / kChartWidth);
    const auto end_ps = static_cast<std::int64_t>(std::llround(end_s * 1e12));
    std::vector<TimelineBar> bars;
    for (const TimelineItem& i : items) {
        if (i.start >= end_ps) continue;
        const std::string_view key = i.work == Work::collective || i.work == Work::p2p ? std::string_view(i.event->name)
                                                                                      : first_word(i.event->name);
        if (!bars.empty()) {
            TimelineBar& b = bars.back();
            if (b.row == i.row && b.lane == i.lane && b.work == i.work && b.key == key && i.start - b.end <= gap_ps) {
                b.end = std::max(b.end, i.end);
                ++b.pieces;
                continue;
            }
        }
        bars.push_back({i.row, i.lane, i.work, i.start, i.end, key, 1});
    }
    if (bars.size() > kMaxBars) {
        std::vector<std::int64_t> starts;
        for (const TimelineBar& b : bars) starts.push_back(b.start);
        std::nth_element(starts.begin(), starts.begin() + static_cast<std::ptrdiff_t>(kMaxBars), starts.end());
        const std::int64_t cut = starts[kMaxBars];
        end_s = std::max(1e-12, static_cast<double>(cut) * 1e-12);
        std::erase_if(bars, [&](const TimelineBar& b) { return b.start >= cut; });
        cap_note = fmt::format(" (cut at {} bars)", kMaxBars);
    }
    return bars;
}

std::string timeline_section(const RunEvaluation& ev) {
    const StepResult& r = ev.headline_step();
    std::string out = R"(<section id="timeline"><h2>Step timeline</h2>)"
                      "\n";
    if (r.trace.empty()) {
        out += paragraph("No trace of the headline step was recorded.", "note");
        return out + "</section>\n";
    }
    const int stages = static_cast<int>(r.stages.size());
    const std::vector<TimelineItem> items = timeline_items(r);
    const double step_s = r.step_time.value();
    double end_s = timeline_window_end(r, items);
    std::string cap_note;
    const std::vector<TimelineBar> bars = timeline_bars(items, end_s, cap_note);

    svg::Gantt g;
    for (const WorkStyle& w : kWork) g.series.push_back({std::string(w.name), std::string(w.colour)});
    for (int stage = 0; stage < stages; ++stage) {
        g.rows.push_back({fmt::format("stage {} (rank {})", stage, r.stages[static_cast<std::size_t>(stage)].rank), false});
        g.rows.push_back({"comm · p2p", true});
    }
    for (const TimelineBar& b : bars) {
        const double start = static_cast<double>(b.start) * 1e-12;
        const double dur = static_cast<double>(b.end - b.start) * 1e-12;
        std::string tip = b.work == Work::collective || b.work == Work::p2p
                              ? fmt::format("{} {:.2f} ms", b.key, dur * 1e3)
                              : fmt::format("{} {} {:.2f} ms", b.key, kWork[static_cast<std::size_t>(b.work)].name, dur * 1e3);
        g.bars.push_back({b.row, start, start + dur, static_cast<int>(b.work), b.lane, std::move(tip)});
    }
    g.window_start = 0.0;
    g.window_end = end_s;
    g.frame = {"timeline-chart",
               "Step timeline: the first micro-batches of every pipeline stage",
               fmt::format("Gantt chart of the first {:.3f} s of the {:.3f} s headline step{}: for each of the {} pipeline "
                           "stages, the compute stream (forward, backward, recompute, optimizer) and below it the "
                           "communication stream (collectives) and pipeline sends. {} bars.",
                           end_s, step_s, cap_note, stages, g.bars.size()),
               "time since the step began (s)",
               "",
               kChartWidth};
    out += paragraph(fmt::format("The first {:.3f} s of the {:.3f} s headline step ({} micro-batches per pipeline per step){}: "
                                 "each stage's representative GPU until every stage has finished its first backward pass. "
                                 "Each stage has a compute row and, thin below it, its collectives (upper half) and "
                                 "pipeline sends (lower half). Hover over a bar for its pass and duration; for the whole "
                                 "step, write a Perfetto trace with gpuhours run --trace step.json.",
                                 end_s, step_s, r.micro_batches, cap_note));
    out += svg::gantt(g);
    out += "\n</section>\n";
    return out;
}

// ---- where the step goes -----------------------------------------------------------------------------------

struct Part {
    std::string name;
    std::string colour;
};

// The breakdown's parts in the order of the run table; communication axes only where any stage has any.
std::vector<Part> breakdown_parts(const StepResult& r, std::vector<CommAxis>& axes) {
    constexpr std::array<std::string_view, 5> kAxisColour{"#E69F00", "#F0E442", "#D55E00", "#56B4E9", "#8C6D31"};
    std::vector<Part> parts{{"compute", "#0072B2"}, {"recompute", "#CC79A7"}, {"optimizer", "#009E73"}};
    for (CommAxis a : kCommAxes) {
        const auto i = static_cast<std::size_t>(a);
        bool any = r.breakdown.on_link[i].value() != 0 || r.breakdown.exposed[i].value() != 0;
        for (const auto& st : r.stages) any = any || st.breakdown.exposed[i].value() != 0;
        if (!any) continue;
        axes.push_back(a);
        parts.push_back({fmt::format("exposed {} comm", to_string(a)), std::string(kAxisColour[i])});
    }
    parts.push_back({"pipeline bubble", "#BDBDBD"});
    return parts;
}

std::vector<double> breakdown_values(const StepBreakdown& b, const std::vector<CommAxis>& axes) {
    std::vector<double> v{b.compute.value(), b.recompute.value(), b.optimizer.value()};
    for (CommAxis a : axes) v.push_back(b.exposed[static_cast<std::size_t>(a)].value());
    v.push_back(b.bubble.value());
    return v;
}

std::string breakdown_section(const RunEvaluation& ev) {
    const StepResult& r = ev.headline_step();
    std::vector<CommAxis> axes;
    const std::vector<Part> parts = breakdown_parts(r, axes);
    std::string out = R"(<section id="breakdown"><h2>Where the step goes</h2>)"
                      "\n";

    svg::BarChart whole;
    for (const Part& p : parts) whole.series.push_back({p.name, p.colour});
    const std::vector<double> values = breakdown_values(r.breakdown, axes);
    svg::StackedBar bar{"mean per GPU", values, fmt::format("{} s", seconds_text(r.step_time)), {}};
    std::string described;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string text = fmt::format("{}: {:.3f} s ({})", parts[i].name, values[i], share(Seconds(values[i]), r.step_time));
        bar.tips.push_back(text);
        described += (described.empty() ? "" : "; ") + text;
    }
    whole.bars.push_back(bar);
    whole.frame = {"breakdown-chart",
                   fmt::format("Where the {:.3f} s step goes (mean per GPU)", r.step_time.value()),
                   fmt::format("Stacked bar of the headline step's time per GPU: {}.", described),
                   "time per step (s)",
                   "",
                   kChartWidth};
    out += svg::bar_chart(whole);

    std::vector<std::vector<std::string>> rows;
    const Seconds t = r.step_time;
    rows.push_back({"compute (forward + backward)", seconds_text(r.breakdown.compute), share(r.breakdown.compute, t)});
    rows.push_back({"recompute", seconds_text(r.breakdown.recompute), share(r.breakdown.recompute, t)});
    rows.push_back({"optimizer", seconds_text(r.breakdown.optimizer), share(r.breakdown.optimizer, t)});
    for (CommAxis a : kCommAxes) {
        const auto i = static_cast<std::size_t>(a);
        if (r.breakdown.on_link[i].value() == 0 && r.breakdown.exposed[i].value() == 0) continue;
        rows.push_back({fmt::format("exposed {} communication ({} s on the link)", to_string(a), seconds_text(r.breakdown.on_link[i])),
                        seconds_text(r.breakdown.exposed[i]), share(r.breakdown.exposed[i], t)});
    }
    rows.push_back({"pipeline bubble", seconds_text(r.breakdown.bubble), share(r.breakdown.bubble, t)});
    out += table({"where the step goes (mean per GPU)", "seconds", "share"}, rows, {1, 2});
    for (const std::string& c : step_caveats(ev.scenario)) out += paragraph("Note: " + c + ".", "note");
    const ParallelLayout& headline_layout = ev.scenario.phases.front().parallel;
    if (const auto note = stage_imbalance_note(r, headline_layout.pipeline, headline_layout.schedule)) {
        out += paragraph("Note: " + *note + ".", "note");
    }

    svg::BarChart per_stage;
    for (const Part& p : parts) per_stage.series.push_back({p.name, p.colour});
    std::string stage_text;
    for (const StageStep& st : r.stages) {
        const std::vector<double> v = breakdown_values(st.breakdown, axes);
        svg::StackedBar b{fmt::format("stage {}", st.stage), v, {}, {}};
        for (std::size_t i = 0; i < parts.size(); ++i) {
            b.tips.push_back(fmt::format("stage {} {}: {:.3f} s ({})", st.stage, parts[i].name, v[i], share(Seconds(v[i]), t)));
        }
        b.note = fmt::format("bubble {}", share(st.breakdown.bubble, t));
        // Every part of the bar, so that the text sums to the stage's step as the bar does.
        stage_text += fmt::format("{}stage {}: compute {:.3f} s, recompute {:.3f} s, optimizer {:.3f} s, exposed communication {:.3f} s, "
                                  "bubble {:.3f} s",
                                  stage_text.empty() ? "" : "; ", st.stage, st.breakdown.compute.value(), st.breakdown.recompute.value(),
                                  st.breakdown.optimizer.value(), st.breakdown.exposed_total().value(), st.breakdown.bubble.value());
        per_stage.bars.push_back(std::move(b));
    }
    per_stage.frame = {"breakdown-stages",
                       "Per pipeline stage (its representative GPU)",
                       fmt::format("Stacked bars of each pipeline stage's step time: {}.", stage_text),
                       "time per step (s)",
                       "pipeline stage",
                       kChartWidth};
    per_stage.legend = false;  // the same colours as the chart above
    out += "<h3>Per pipeline stage</h3>\n";
    out += paragraph("The same colours as the bar above; the note gives each stage's bubble as a share of the step.", "note");
    out += svg::bar_chart(per_stage);
    out += "\n</section>\n";
    return out;
}

// ---- cost, energy and their spread -------------------------------------------------------------------------

std::string cost_section(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    std::string out = R"(<section id="cost"><h2>Cost and energy</h2>)"
                      "\n";
    if (ev.nominal_cost) {
        const CostBreakdown& c = *ev.nominal_cost;
        std::vector<std::vector<std::string>> rows;
        for (const auto& line : c.lines) rows.push_back({line.item, format_dollars(line.cost)});
        rows.push_back({fmt::format("total ({})", c.basis), format_dollars(c.total)});
        out += paragraph(fmt::format("The nominal run (every input nominal); includes: {}.", s.pricing.includes));
        out += table({"cost line", "cost"}, rows, {1});
        // The steady-state cost, as `run` prints it: the basis of a reported GPU-hours × price (DeepSeek's $5.576M).
        if (ev.nominal_steady_cost && format_dollars(ev.nominal_steady_cost->total) != format_dollars(c.total)) {
            out += paragraph(fmt::format("The total is on allocated GPU-hours (what the cluster is held for). On steady-state "
                                         "GPU-hours (steps × step time × GPUs, the basis of a reported GPU-hours × price) the "
                                         "same prices give {}.", format_dollars(ev.nominal_steady_cost->total)));
        }
        std::vector<std::vector<std::string>> ladder;
        for (const auto& rung : ladder_lines(ev)) {
            std::string inputs;
            for (const auto& input : rung.inputs) inputs += (inputs.empty() ? "" : "; ") + input;
            ladder.push_back({fmt::format("{}. {}", rung.number, rung.title), rung.cost, rung.detail, inputs});
        }
        out += "<h3>Cost ladder</h3>\n";
        // The rung each cost claim of this scenario speaks of, in words (the flagship's: DeepSeek's $5.576M is rung 1).
        std::string about;
        for (const auto& v : ev.verdicts) {
            const auto r = v.rung.empty() ? std::nullopt : cost_rung_from_string(v.rung);
            if (!r) continue;
            about += fmt::format(" The claim “{}” is about rung {}, {}.", v.text, rung_number(*r), rung_title(*r));
        }
        out += paragraph("Each rung is its own figure (Epoch AI, Cottier et al. 2024, arXiv 2405.21015): a claim names the rung "
                         "it speaks of." + about);
        out += table({"rung", "cost", "made of", "inputs and sources"}, ladder, {1});
        out += paragraph(fmt::format("Energy: {} (facility, PUE {:g}; {}).", format_energy(c.energy), s.pricing.pue,
                                     gpu_power_basis(s)));
    } else {
        out += paragraph("No [pricing] given: cost and energy are not computed.", "note");
    }
    if (!ev.stochastic) {
        out += paragraph("Nothing in the scenario is uncertain (no interruptions, no ranges): every figure is a single "
                         "value, so there is no spread to draw.",
                         "note");
        return out + "</section>\n";
    }
    out += fmt::format("<h3>Spread over {} Monte Carlo run{} (seed {})</h3>\n", ev.options.samples, ev.options.samples == 1 ? "" : "s", ev.options.seed);
    if (ev.nominal_cost) {
        svg::Histogram h;
        h.samples = ev.cost_usd;
        double largest = 0.0;
        for (double v : h.samples) largest = std::max(largest, v);
        std::string thresholds;
        for (const ClaimSpec& claim : s.claims) {
            // Thresholds on the headline rung only: the histogram is of the headline cost's samples.
            if (claim.rung && ev.nominal_ladder && *claim.rung != ev.nominal_ladder->base) continue;
            for (const auto& [bound, below] : {std::pair{claim.thresholds.cost_below, true}, std::pair{claim.thresholds.cost_above, false}}) {
                if (!bound) continue;
                const double v = bound->value();
                largest = std::max(largest, v);
                if (std::any_of(h.markers.begin(), h.markers.end(), [&](const svg::Marker& m) { return m.value == v; })) continue;
                h.markers.push_back({v, fmt::format("claim: cost {} {}", below ? "<" : ">", format_dollars(*bound)), "#B00020", false});
                thresholds += fmt::format("; the claim's threshold {} {} is met in {:.0f}% of runs", below ? "<" : ">", format_dollars(*bound),
                                          100.0 * static_cast<double>(std::count_if(ev.cost_usd.begin(), ev.cost_usd.end(),
                                                                                    [&](double c) { return below ? c < v : c > v; })) /
                                              static_cast<double>(ev.cost_usd.size()));
            }
        }
        h.markers.push_back({ev.nominal_cost->total.value(), fmt::format("headline (nominal) {}", format_dollars(ev.nominal_cost->total)), "#0072B2", false});
        h.markers.push_back({ev.cost_spread.p50, fmt::format("median of runs {}", format_dollars(Dollars(ev.cost_spread.p50))), "#222222", true});
        h.tick_format = dollar_ticks(largest);
        h.bin_format = [](double v) { return format_dollars(Dollars(v)); };
        h.frame = {"cost-histogram",
                   "Total cost across Monte Carlo runs",
                   fmt::format("Histogram of the cost of {} Monte Carlo runs (the headline cost, {}, is the nominal run's): "
                               "median {}, 90% interval {}–{}{}.",
                               ev.cost_usd.size(), format_dollars(ev.nominal_cost->total), format_dollars(Dollars(ev.cost_spread.p50)), format_dollars(Dollars(ev.cost_spread.p05)),
                               format_dollars(Dollars(ev.cost_spread.p95)), thresholds),
                   "cost of the run (US dollars)",
                   "runs",
                   kChartWidth};
        out += svg::histogram(h);
    }
    svg::Histogram w;
    w.samples = ev.wall_clock_days;
    w.colour = "#009E73";
    w.bin_edge_format = [](double v, double width) {  // one decimal more than the bins' width needs, at least one
        int decimals = 1;
        while (decimals < 6 && width < 2.0 * std::pow(10.0, -decimals)) ++decimals;
        return fmt::format("{:.{}f} days", v, decimals);
    };
    std::string thresholds;
    for (const ClaimSpec& claim : s.claims) {
        if (!claim.thresholds.wall_clock_below) continue;
        const double v = in_days(*claim.thresholds.wall_clock_below);
        if (std::any_of(w.markers.begin(), w.markers.end(), [&](const svg::Marker& m) { return m.value == v; })) continue;
        // The threshold as written beside its days, as the terminal prints it ("2 months (60.9 days)").
        std::string as_written = fmt::format("{:.1f} days", v);
        for (const auto& [key, text] : claim.thresholds.written) {
            if (key == "wall_clock_below" && text.find("day") == std::string::npos) as_written = fmt::format("{} ({:.1f} days)", text, v);
        }
        w.markers.push_back({v, fmt::format("claim: wall clock < {}", as_written), "#B00020", false});
        thresholds += fmt::format("; the claim's threshold of {} is met in {:.0f}% of runs", as_written,
                                  100.0 * static_cast<double>(std::count_if(ev.wall_clock_days.begin(), ev.wall_clock_days.end(),
                                                                            [&](double d) { return d < v; })) /
                                      static_cast<double>(ev.wall_clock_days.size()));
    }
    w.markers.push_back({ev.nominal_wall_clock_days, fmt::format("headline (nominal) {:.1f} days", ev.nominal_wall_clock_days), "#0072B2", false});
    w.markers.push_back({ev.wall_clock_days_spread.p50, fmt::format("median of runs {:.1f} days", ev.wall_clock_days_spread.p50), "#222222", true});
    w.frame = {"wall-clock-histogram",
               "Wall clock across Monte Carlo runs",
               fmt::format("Histogram of the wall clock of {} Monte Carlo runs: median {:.1f} days, 90% interval {:.1f}–{:.1f} "
                           "days{}.",
                           ev.wall_clock_days.size(), ev.wall_clock_days_spread.p50, ev.wall_clock_days_spread.p05,
                           ev.wall_clock_days_spread.p95, thresholds),
               "wall clock (days)",
               "runs",
               kChartWidth};
    out += svg::histogram(w);
    return out + "</section>\n";
}

// ---- memory ------------------------------------------------------------------------------------------------

std::string memory_section(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    const StepResult& r = ev.headline_step();
    std::string out = R"(<section id="memory"><h2>Memory per pipeline rank</h2>)"
                      "\n";
    if (r.memory.empty()) return out + paragraph("No memory breakdown.", "note") + "</section>\n";
    constexpr std::array<std::string_view, 5> kColours{"#0072B2", "#56B4E9", "#009E73", "#E69F00", "#CC79A7"};
    svg::BarChart c;
    for (std::size_t i = 0; const auto& term : r.memory.front().terms()) {
        c.series.push_back({std::string(term.name), std::string(kColours[i++ % kColours.size()])});
    }
    const Bytes capacity = s.cluster.chip.memory_capacity;
    std::string described;
    int over = 0;
    for (const MemoryBreakdown& m : r.memory) {
        svg::StackedBar b{fmt::format("rank {}", m.stage), {}, {}, {}};
        for (const auto& term : m.terms()) {
            b.values.push_back(term.bytes.value() / 1e9);
            b.tips.push_back(fmt::format("rank {} {}: {}", m.stage, term.name, format_bytes(term.bytes)));
        }
        const bool fits = m.total() <= capacity;
        if (!fits) ++over;
        b.note = fmt::format("{}{}", format_bytes(m.total()), fits ? "" : " — does not fit");
        described += fmt::format("{}rank {} {}", described.empty() ? "" : "; ", m.stage, format_bytes(m.total()));
        c.bars.push_back(std::move(b));
    }
    c.markers.push_back({capacity.value() / 1e9, fmt::format("{} capacity {}", s.cluster.chip.display_name, format_bytes(capacity)),
                         "#B00020", false});
    c.frame = {"memory-chart",
               "Memory per GPU by pipeline rank (headline step)",
               fmt::format("Stacked bars of each pipeline rank's memory per GPU (parameters, gradients, optimizer state, "
                           "activations, buffers) against the {} capacity of {}: {}.",
                           s.cluster.chip.display_name, format_bytes(capacity), described),
               "memory per GPU (GB, 10⁹ bytes)",
               "pipeline rank",
               kChartWidth};
    // The capacity is what is left for the model's tensors (ChipProfile::memory_basis: the device's bytes less the
    // framework reserve), as `model` and `check` state it.
    const std::string basis = fmt::format("Capacity: {}. Not modelled apart: transient workspaces beyond the reserve.",
                                          s.cluster.chip.memory_basis());
    out += paragraph(over == 0 ? "Every rank fits in the chip's memory. " + basis
                               : fmt::format("{} ranks do not fit in the chip's memory. {}", over, basis),
                     over == 0 ? "" : "warning");
    out += svg::bar_chart(c);
    return out + "\n</section>\n";
}

// ---- what-if comparison ------------------------------------------------------------------------------------




}  // namespace

std::string html_report(const RunEvaluation& ev, const WhatIfResult* comparison, const CapacityResult* capacity) {
    const Scenario& s = ev.scenario;
    std::string out;
    out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    out += fmt::format("<title>{} — gpuhours report</title>\n", escape(s.title));
    out += fmt::format("<style>{}</style>\n</head>\n<body>\n<main>\n", kStyle);
    out += fmt::format("<header><h1>{}</h1>\n", escape(s.title));
    out += paragraph(fmt::format("{} × {} · {} · {} tokens", s.cluster.gpus, s.cluster.chip.display_name, s.model.display_name,
                                 format_count(s.training.tokens)),
                     "subtitle");
    out += "</header>\n";
    out += claims_section(ev);
    out += summary_section(ev);
    out += timeline_section(ev);
    out += breakdown_section(ev);
    out += cost_section(ev);
    out += memory_section(ev);
    if (comparison != nullptr) {
        const std::string basis = ev.nominal_ladder ? fmt::format("rung {}, {}", rung_number(ev.nominal_ladder->base),
                                                                  rung_title(ev.nominal_ladder->base))
                                                    : std::string();
        out += comparison_section(*comparison, basis);
    }
    if (capacity != nullptr) out += capacity_sections(*capacity);
    out += "<footer>";
    out += paragraph(fmt::format("Made by gpuhours: {} simulation, {} network model, {} Monte Carlo runs, seed {}. The same "
                                 "scenario and seed give this page byte for byte.",
                                 to_string(ev.options.mode), to_string(ev.options.network), ev.options.samples,
                                 ev.options.seed));
    out += "</footer>\n";
    out += "</main>\n</body>\n</html>\n";
    return out;
}

}  // namespace gpuhours::report
