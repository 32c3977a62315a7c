// The words of headline figures, verdicts, the cost ladder and assumptions (include/gpuhours/report/verdicts.hpp).
#include <gpuhours/report/report.hpp>
#include <gpuhours/report/verdicts.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

namespace gpuhours::report {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// The assumption keys each rung rests on (prefixes of Assumption::key).
std::vector<std::string_view> rung_keys(CostRung r) {
    switch (r) {
        case CostRung::rental: return {"pricing.gpu_hour", "cluster.chip.price.rental_gpu_hour"};
        case CostRung::ownership:
            return {"pricing.ownership.", "pricing.electricity", "pricing.pue", "pricing.utilization", "pricing.host_power_share"};
        case CostRung::capital:
            return {"pricing.ownership.gpu_price", "pricing.ownership.server_overhead", "pricing.ownership.networking_"};
        case CostRung::research: return {"pricing.research_multiplier", "pricing.research_runs["};
        case CostRung::staff: return {"pricing.staff."};
    }
    return {};
}

// What is said of an uncertain step input whose grid moved no step time (RunEvaluation::uncertain_without_step_effect),
// in its assumption line and when it is listed alone.
constexpr std::string_view kIdleInput = "moves no step time of this run (simulated at its 5th, 25th, 75th and 95th percentiles)";

// "key = value (source)", or "key ~ distribution" for an uncertain input.
std::string assumption_text(const RunEvaluation& ev, const Assumption& a) {
    for (std::size_t i = 0; i < ev.uncertain_inputs.size(); ++i) {
        const std::string& u = ev.uncertain_inputs[i];
        if (!starts_with(u, a.key + " ~")) continue;
        const std::string basis = i < ev.uncertain_nominal_basis.size() ? ", " + ev.uncertain_nominal_basis[i] : "";
        // Listed still (the scenario gives it), but said to move nothing here (a new user read a BF16 run's FP8
        // efficiency range as an uncertainty of its figures).
        const std::string idle = i < ev.uncertain_without_step_effect.size() && ev.uncertain_without_step_effect[i]
                                     ? fmt::format("; {}", kIdleInput)
                                     : "";
        return fmt::format("{} (uncertain; nominal {}{}{}; {})", u, a.value, basis, idle, a.source);
    }
    return fmt::format("{} = {} ({})", a.key, a.value, a.source);
}

}  // namespace

namespace {

// The reliability line: the catalog entry, and which of its parts the scenario's own values replace, each
// labelled with where it comes from.
std::string reliability_line(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    const ReliabilitySpec& rel = s.reliability;
    const auto own = static_cast<std::size_t>(
        std::count_if(rel.failures.begin(), rel.failures.end(), [](const FailureClass& f) { return !f.from_catalog; }));
    std::vector<std::string> names;
    for (const auto& f : rel.failures) names.push_back(fmt::format("\"{}\"", f.name));
    const std::string classes = fmt::format("{} failure class{}", rel.failures.size(), rel.failures.size() == 1 ? "" : "es");
    std::string failures = own == 0 ? fmt::format("{} (the catalog's)", classes)
                         : own == rel.failures.size()
                             ? fmt::format("{} set in the scenario ({}; the catalog's not used)", classes, fmt::join(names, ", "))
                             : fmt::format("{} ({} set in the scenario)", classes, own);
    if (rel.failures.empty()) failures = "no failure classes";
    std::string restart = format_duration(ev.restart_time);
    if (ev.recovery) {
        const RecoveryParts& p = *ev.recovery;
        const double n = s.cluster.gpus;
        restart += fmt::format(" at {} GPUs (detect {}, replace {}, re-initialise {}, load the checkpoint {})", s.cluster.gpus,
                               format_duration(p.detect), format_duration(p.replace),
                               format_duration(p.init_per_gpu * n + p.init_per_gpu_squared * (n * n)),
                               format_duration(p.checkpoint_load));
    } else {
        restart += rel.restart_from_catalog ? " (the catalog's restart_time)"
                                            : " (restart_time, given in the scenario or a --set; the catalog's recovery parts "
                                              "not used)";
    }
    return fmt::format("{} (scenarios/reliability/{}.toml): {}; restart {}", rel.from, rel.from, failures, restart);
}

}  // namespace

namespace {

// The largest job the default fleet data was measured on: Llama 3's 54-day snapshot on 16,384 H100 (arXiv 2407.21783
// §3.3.4), whose counts give scenarios/reliability/meta-llama3-h100.toml's rates; MegaScale's restart figures are
// for "more than 10,000 GPUs" (arXiv 2402.15627).
constexpr int kFleetDataGpus = 16'384;

}  // namespace

std::string reliability_caution(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    if (s.reliability.from == "none" || s.reliability.failures.empty()) return {};
    double lost = 0.0;
    for (const auto& term : ev.allocation_terms) {
        if (term.key == "lost_work" || term.key == "restarts") lost += term.gpu_hours;
    }
    const double allocated = ev.gpu_hours_spread.mean;
    const double share = allocated > 0.0 ? lost / allocated : 0.0;
    std::string out;
    if (share > 0.2) {
        out = fmt::format("restarts and lost work take {:.0f}% of the allocated GPU-hours (goodput {:.0f}%)", 100.0 * share,
                          100.0 * ev.goodput_mean);
    }
    if (s.cluster.gpus > kFleetDataGpus) {
        std::string restart;
        if (ev.recovery) {
            const double n = s.cluster.gpus;
            restart = fmt::format("; the restart's N² initialisation term [U], {} of its {}, grows fastest",
                                  format_duration(Seconds(ev.recovery->init_per_gpu_squared.value() * n * n)), format_duration(ev.restart_time));
        }
        out += fmt::format("{}the failure rates and recovery parts come from jobs of up to {} GPUs (Llama 3, MegaScale): at {} GPUs "
                           "they are extrapolated (rates per GPU and per host{})",
                           out.empty() ? "" : "; ", with_commas(kFleetDataGpus), with_commas(s.cluster.gpus), restart);
    }
    return out;
}

BasisText basis_text(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    const ReliabilitySpec& rel = s.reliability;
    BasisText t;
    if (rel.from == "none") {
        t.reliability = "none (reliability = \"none\"): no failures, restarts or run overheads modelled; allocated = steady-state";
    } else {
        t.reliability = reliability_line(ev);
    }
    const Spread& st = ev.steady_state_gpu_hours_spread;
    const Spread& al = ev.gpu_hours_spread;
    // The nominal run's figure, then the samples' median and interval when anything is drawn.
    const auto samples = [&](const Spread& sp) {
        return ev.stochastic ? fmt::format("; over the samples: median {}, 90% interval {}–{}", with_commas(sp.p50), with_commas(sp.p05),
                                           with_commas(sp.p95))
                             : std::string();
    };
    t.steady_state = fmt::format("{} (steps × step time × GPUs, no failures or overheads){}", with_commas(ev.simulated_gpu_hours()),
                                 samples(st));
    t.allocated = fmt::format("{} (GPUs × wall clock: what the cluster is held for){}", with_commas(ev.nominal_gpu_hours), samples(al));
    // The difference of the two nominal figures above it; its parts are expectations, means over the samples.
    const double steady = ev.simulated_gpu_hours();
    const double diff = std::round(ev.nominal_gpu_hours) - std::round(steady);  // as the two figures print
    const double mean_diff = al.mean - st.mean;
    const auto signed_text = [](double x) { return fmt::format("{}{}", x < 0 ? "−" : "+", with_commas(std::abs(x))); };
    t.difference = fmt::format("{} GPU-hours ({:+.1f}%) at the nominal inputs", signed_text(diff), steady > 0 ? 100.0 * diff / steady : 0.0);
    if (ev.stochastic) t.difference += fmt::format("; its parts, means over the samples (which sum to {})", signed_text(mean_diff));
    for (const auto& term : ev.allocation_terms) {
        t.terms.push_back(fmt::format("{:<50} {:>12}  {:5.1f}% of steady-state", term.name, with_commas(term.gpu_hours),
                                      st.mean > 0 ? 100.0 * term.gpu_hours / st.mean : 0.0));
    }
    for (const auto& o : rel.overheads) {
        if (!o.fraction) t.not_modelled += (t.not_modelled.empty() ? "" : ", ") + o.name;
    }
    t.caution = reliability_caution(ev);
    return t;
}

Headline headline_of(const RunEvaluation& ev) {
    Headline h;
    h.wall_clock = fmt::format("{:.1f} days", ev.nominal_wall_clock_days);
    h.gpu_hours = with_commas(ev.nominal_gpu_hours);
    if (ev.nominal_cost) {
        h.cost = format_dollars(ev.nominal_cost->total);
        h.energy = format_energy(ev.nominal_cost->energy);
        const CostRung base = ev.nominal_ladder ? ev.nominal_ladder->base : CostRung::rental;
        h.cost_label = fmt::format("nominal inputs; rung {}, {}", rung_number(base), rung_title(base));
    }
    return h;
}

namespace {
// A break-even price per GPU-hour in cents, or to three significant digits below ten cents ($0.000112 is not
// "$0.00"), rounded toward the side the claim holds on, so that the sentence it stands in stays true: down for a
// price the claim needs to stay below ($2.13504 is "$2.13": "$2.14" was wrong for $2.138), up for one it needs to
// stay above. A price that three digits round to ten cents is printed in cents ($0.09996 up as "$0.10").
enum class Toward { down, up };
std::string hourly_price(double dollars, Toward toward) {
    const auto rounded = [&](double scale) {
        // A relative 1e-12 keeps a value that sits on a step in binary ($2.12 as 2.1199…) on that step.
        return toward == Toward::down ? std::floor(dollars * scale * (1.0 + 1e-12)) / scale
                                      : std::ceil(dollars * scale * (1.0 - 1e-12)) / scale;
    };
    if (dollars == 0.0 || std::abs(dollars) >= 0.1) return fmt::format("${:.2f}", rounded(100.0));
    // Three significant digits in fixed notation ($0.0000112, not $1.12e-05).
    const int decimals = 2 - static_cast<int>(std::floor(std::log10(std::abs(dollars))));
    const double value = rounded(std::pow(10.0, decimals));
    if (std::abs(value) >= 0.1) return fmt::format("${:.2f}", value);
    std::string digits = fmt::format("{:.{}f}", value, decimals);
    digits.erase(digits.find_last_not_of('0') + 1);  // as {:.3g} wrote them: $0.05, not $0.0500
    if (digits.back() == '.') digits.pop_back();
    return "$" + digits;
}
}  // namespace

std::string break_even_text(const CriterionResult& c) {
    if (!c.break_even_per_gpu_hour) return {};
    const std::string which = c.break_even_for_unpriced_phases
                                  ? "[pricing] price per GPU-hour for the phases without one of their own (the others "
                                    "at theirs)"
                                  : "all-in price per GPU-hour";
    if (c.bound == ClaimBound::within && c.break_even_low_per_gpu_hour) {
        std::string low = hourly_price(*c.break_even_low_per_gpu_hour, Toward::up);
        std::string high = hourly_price(*c.break_even_per_gpu_hour, Toward::down);
        // Bounds closer than the printed grain would print inverted ("$2.14 and $2.13"): four decimals then.
        if (std::stod(low.substr(1)) > std::stod(high.substr(1))) {
            low = fmt::format("${:.4f}", *c.break_even_low_per_gpu_hour);
            high = fmt::format("${:.4f}", *c.break_even_per_gpu_hour);
        }
        return fmt::format("break-even prices {} and {} per GPU-hour: any {} between them meets the bounds", low, high, which);
    }
    const bool above = c.bound == ClaimBound::above;
    return fmt::format("break-even price {} per GPU-hour: any {} {} meets the threshold",
                       hourly_price(*c.break_even_per_gpu_hour, above ? Toward::up : Toward::down), which,
                       above ? "above it" : "below it");
}

std::string input_break_even_text(const InputBreakEven& b) {
    if (!b.value) return fmt::format("{}: break-even {}", b.input, b.value_text);
    return fmt::format("{}: break-even {} (the criterion holds {}; {})", b.input, b.value_text, b.side, b.method);
}

std::string share_percent(double p) {
    // Whole percents, or as many decimals (up to three) as keep the printed share on its own side of the verdicts'
    // thresholds and of 0 and 100 %: 0.895 is "89.5%" beside an UNCERTAIN, not "90%" (an audit's case).
    constexpr double kMarks[] = {0.0, 0.1, 0.9, 1.0};
    for (int decimals = 0; decimals < 3; ++decimals) {
        const std::string text = fmt::format("{:.{}f}", 100.0 * p, decimals);
        const double shown = std::stod(text) / 100.0;  // as printed (fmt rounds ties to even)
        const bool crosses = std::any_of(std::begin(kMarks), std::end(kMarks), [&](double m) {
            return (p < m && shown >= m) || (p > m && shown <= m);
        });
        if (!crosses) return text + "%";
    }
    return fmt::format("{:.3f}%", 100.0 * p);
}

std::string criterion_probability_text(const CriterionResult& c) {
    std::string out = fmt::format("{} of runs", share_percent(c.probability));
    if (c.probability_run && c.probability_economic) {
        out += fmt::format(" ({} over the run's own uncertainty, {} over the economic assumptions)",
                           share_percent(*c.probability_run), share_percent(*c.probability_economic));
    }
    return out;
}

double share_standard_error(double p, int n) { return std::sqrt(std::max(0.0, p * (1.0 - p)) / std::max(1, n)); }

std::string share_error_suffix(double p, int n) {
    return n > 1 && p > 0.0 && p < 1.0 ? fmt::format(" ± {:.1f}%", 100 * share_standard_error(p, n)) : "";
}

std::string verdict_share_text(const ClaimVerdict& v, int samples) {
    return fmt::format("{} {}{} ({}{} at nominal)", to_string(v.verdict), share_percent(v.probability),
                       share_error_suffix(v.probability, samples), v.too_few_samples ? "too few samples to settle; " : "",
                       to_string(v.nominal_verdict));
}

void verdict_head_json(Json& j, const ClaimVerdict& v) {
    j.field("text", v.text).field("verdict", to_string(v.verdict)).field("probability", v.probability);
    if (v.interval) j.key("probability_interval_95").begin_array().value(v.interval->low).value(v.interval->high).end_array();
    else j.key("probability_interval_95").null();
    j.field("too_few_samples", v.too_few_samples).field("nominal_verdict", to_string(v.nominal_verdict));
}

std::string basis_clause(const ClaimVerdict& v) {
    const bool capital_only = v.rung == to_string(CostRung::capital) &&
                              std::all_of(v.criteria.begin(), v.criteria.end(), [](const CriterionResult& c) { return c.key.starts_with("cost"); });
    // MFU is the step's on either basis: a claim of MFU alone rests on no GPU-hours (a fresh user's read, session 55).
    const bool mfu_only = !v.criteria.empty() && std::all_of(v.criteria.begin(), v.criteria.end(), [](const CriterionResult& c) { return c.key.starts_with("mfu"); });
    return capital_only || mfu_only ? std::string() : fmt::format("judged on {} GPU-hours", to_string(v.basis));
}

namespace {
// A claim's share of n Monte Carlo samples with its sampling error (standard_error); at 0 or 1, how many samples say
// so; when too few samples settle the verdict, the share's 95 % interval and the threshold it crosses.
std::string share_of_samples(const ClaimVerdict& v, int n) {
    const double p = v.probability;
    std::string out = n <= 1                   ? fmt::format("{} (one sample", share_percent(p))
                      : p <= 0.0 || p >= 1.0   ? fmt::format("{} ({} of {} samples", share_percent(p), p <= 0.0 ? "none" : "all", n)
                                               : fmt::format("{} ± {:.1f}% (one standard error over {} samples", share_percent(p),
                                                             100 * share_standard_error(p, n), n);
    if (v.too_few_samples && v.interval) {
        out += fmt::format("; too few to settle a verdict: its 95% interval, {:.0f}–{:.0f}%, reaches {}; more --samples "
                           "narrow it",
                           std::floor(100 * v.interval->low), std::ceil(100 * v.interval->high),
                           p >= 0.5 ? "below 90%" : "above 10%");
    }
    return out + ")";
}
}  // namespace

std::string probability_text(const RunEvaluation& ev, const ClaimVerdict& v) {
    std::string out = ev.stochastic ? fmt::format("probability {} over all the uncertain inputs",
                                                  share_of_samples(v, ev.options.samples))
                                    : std::string("nothing uncertain: the nominal run decides");
    if (v.probability_run && v.probability_economic) {
        out += fmt::format(" ({} over the run's own uncertainty with prices at nominal, {} over the economic "
                           "assumptions with the run at nominal)",
                           share_percent(*v.probability_run), share_percent(*v.probability_economic));
    }
    out += fmt::format("; {} at the nominal inputs", to_string(v.nominal_verdict));
    if (!v.rung.empty()) {
        const CostRung r = *cost_rung_from_string(v.rung);
        out += fmt::format("; cost judged on rung {}, {}", rung_number(r), rung_title(r));
    }
    return out;
}

std::vector<LadderLine> ladder_lines(const RunEvaluation& ev) {
    std::vector<LadderLine> out;
    if (!ev.nominal_ladder) return out;
    for (const RungCost& rung : ev.nominal_ladder->rungs) {
        LadderLine line;
        line.number = rung_number(rung.rung);
        line.title = std::string(rung_title(rung.rung));
        if (rung.rung == ev.nominal_ladder->base) line.title += " (the headline cost)";
        line.cost = rung.cost ? format_dollars(*rung.cost) : "not priced";
        if (rung.cost) {
            std::string detail;
            for (const auto& l : rung.lines) detail += fmt::format("{}{} {}", detail.empty() ? "" : "; ", l.item, format_dollars(l.cost));
            // The capex is charged per year of the run (capex_share): a run longer than the hardware's amortisation
            // period is charged more than one life of it, which a short period written by mistake hides (an audit's
            // "1 day": 43 × the capital outlay).
            const auto& own = ev.scenario.pricing.ownership;
            if (rung.rung == CostRung::ownership && own && ev.nominal_wall_clock_days * 86400.0 > own->amortisation.value()) {
                detail += fmt::format("; note: the run ({:.1f} days) outlasts the amortisation period ({:.1f} days), so it is "
                                      "charged {:.2f} lives of the hardware (check pricing.ownership.amortisation)",
                                      ev.nominal_wall_clock_days, own->amortisation.value() / 86400.0,
                                      ev.nominal_wall_clock_days * 86400.0 / own->amortisation.value());
            }
            line.detail = detail;
        } else {
            line.detail = rung.missing;
        }
        for (const Assumption& a : ev.scenario.assumptions) {
            const auto keys = rung_keys(rung.rung);
            if (std::any_of(keys.begin(), keys.end(), [&](std::string_view k) { return starts_with(a.key, k); })) {
                line.inputs.push_back(assumption_text(ev, a));
            }
        }
        out.push_back(std::move(line));
    }
    return out;
}

std::vector<std::string> assumption_lines(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    std::vector<std::string> out;
    // An unpriced run rests on no price: the chip's catalog rental price and what a cost covers are left out (a
    // fresh user read them beside "cost: no [pricing] given", session 55).
    for (const Assumption& a : s.assumptions) {
        if (ev.priced || !a.key.starts_with("cluster.chip.price.")) out.push_back(assumption_text(ev, a));
    }
    for (std::size_t i = 0; i < ev.uncertain_inputs.size(); ++i) {
        const std::string& u = ev.uncertain_inputs[i];
        if (std::none_of(s.assumptions.begin(), s.assumptions.end(), [&](const Assumption& a) { return starts_with(u, a.key + " ~"); })) {
            const bool idle = i < ev.uncertain_without_step_effect.size() && ev.uncertain_without_step_effect[i];
            out.push_back(idle ? fmt::format("{} (uncertain; {})", u, kIdleInput) : u + " (uncertain)");
        }
    }
    if (s.reliability.failures.empty()) out.push_back("no interruptions");
    if (ev.priced) out.push_back(fmt::format("cost covers {}", s.pricing.includes));
    out.push_back(fmt::format("step times from the {} simulation with the {} network model; FLOPs counted as in the MFU line",
                              to_string(ev.options.mode), to_string(ev.options.network)));
    return out;
}

namespace {
Seconds busy(const StepBreakdown& b) { return b.compute + b.recompute + b.optimizer + b.exposed_total(); }
std::string three_decimals(Seconds t) { return fmt::format("{:.3f}", t.value()); }
}  // namespace

Seconds stage_imbalance(const StepResult& r) {
    if (r.stages.size() < 2) return Seconds(0);
    Seconds most(0), sum(0);
    for (const StageStep& st : r.stages) {
        most = std::max(most, busy(st.breakdown));
        sum = sum + busy(st.breakdown);
    }
    return most - sum / static_cast<double>(r.stages.size());
}

std::optional<std::string> stage_imbalance_note(const StepResult& r, int pipeline, Schedule schedule) {
    const Seconds wait = stage_imbalance(r);
    if (!(wait.value() >= 0.01 * r.step_time.value() && wait.value() >= 0.25 * r.breakdown.bubble.value())) return std::nullopt;
    const auto busiest = std::max_element(r.stages.begin(), r.stages.end(),
                                          [](const StageStep& a, const StageStep& b) { return busy(a.breakdown) < busy(b.breakdown); });
    const std::string holds = schedule == Schedule::dualpipe ? ""
                              : busiest->stage == pipeline - 1 ? "; it also runs the output head and loss"
                              : busiest->stage == 0            ? "; it also runs the embedding"
                                                               : "";
    return fmt::format("stage imbalance: stage {} is busy {} s (compute, recompute, optimizer, exposed communication), the "
                       "stages' mean {} s, so {} s of the {} s bubble is the other stages waiting for it and the rest is the "
                       "schedule's fill and drain{} (layers_per_stage moves layers between stages)",
                       busiest->stage, three_decimals(busy(busiest->breakdown)), three_decimals(busy(busiest->breakdown) - wait),
                       three_decimals(wait), three_decimals(r.breakdown.bubble), holds);
}

std::string mfu_text(const StepResult& r) {
    // One basis heads every output: the BF16 peak (what DeepSeek and Llama quote), full-attention FLOPs for the
    // MFU; the HFU counts causal FLOPs plus recomputation against the same peak. A step computed in another
    // format shows its own peak's figures after them, labelled.
    const std::string head = fmt::format("MFU {:.1f}% (BF16 peak, full-attention FLOPs: the basis used throughout; {:.1f}% "
                                         "causal); HFU {:.1f}% (BF16 peak; the FLOPs executed: {} attention, recomputation)",
                                         100 * r.mfu_bf16_full, 100 * r.mfu_bf16_causal, 100 * r.hfu_bf16,
                                         r.full_square_attention ? "full-square (materialized scores)" : "causal");
    if (r.compute_precision == Precision::bf16) return head;
    // Against BF16's peak a faster format (FP8 at up to 2 × it: scenario chip rules) may pass 100 %; the step's own
    // check keeps the FLOPs executed within the faster peak (step_breakdown.cpp), and the reader is told which.
    const std::string over = r.hfu_bf16 > 1.0 ? fmt::format(" (over 100 % of BF16's peak: the {} GEMMs run faster than it)",
                                                             to_string(r.compute_precision))
                                               : std::string();
    return fmt::format("{}{}; against the {} peak: MFU {:.1f}% ({:.1f}% causal), HFU {:.1f}%", head, over,
                       to_string(r.compute_precision), 100 * r.mfu_full, 100 * r.mfu_causal, 100 * r.hfu);
}

std::string checkpoint_basis(const RunEvaluation& ev) {
    const Scenario& s = ev.scenario;
    if (s.reliability.checkpoint_interval) return "given";
    if (!ev.job_mttf) return "no interruptions modelled, so no checkpoint is needed; the whole run";
    // Both at least one step (run::checkpoint_interval: a checkpoint needs a step boundary).
    if (s.reliability.async_checkpoint) return "asynchronous: one write time, writes back to back, at least one step";
    return "Young/Daly, at least one step";
}

std::string gpu_power_basis(const Scenario& s) {
    const bool capped = s.cluster.power_cap && s.cluster.power_cap->value() < s.cluster.chip.tdp.value();
    // The rest of the IT power (hosts, NICs, switches) as cost_of adds it: GPU power × (1 + host_power_share).
    const std::string hosts = s.pricing.host_power_share > 0.0
                                  ? fmt::format(", plus {:.0f}% of that for the rest of the IT (host_power_share)",
                                                100 * s.pricing.host_power_share)
                                  : std::string();
    if (!capped) return fmt::format("GPUs at {:.0f}% of TDP on average{}", 100 * s.pricing.utilization, hosts);
    return fmt::format("GPUs at {:.0f}% of their {} power cap on average{}", 100 * s.pricing.utilization,
                       format_power(*s.cluster.power_cap), hosts);
}

}  // namespace gpuhours::report
