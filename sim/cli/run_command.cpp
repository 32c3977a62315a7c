// `gpuhours run`: the composition root of a whole run. Scenario → one step simulation per distinct step shape
// (phase, batch-ramp level) → run segments → Monte Carlo over interruptions and uncertain inputs → cost, energy →
// claim verdicts → report.
#include "commands.hpp"

#include <gpuhours/claims.hpp>
#include <gpuhours/economics.hpp>
#include <gpuhours/error.hpp>
#include <gpuhours/report.hpp>
#include <gpuhours/run.hpp>
#include <gpuhours/scenario.hpp>
#include <gpuhours/step.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <ostream>
#include <thread>
#include <unistd.h>

namespace gpuhours::cli {
namespace {

// Batch-ramp levels simulated per ramping phase: the ramp's tokens are split evenly over them, each level at the
// batch reached at its midpoint, rounded down to whole micro-batches per replica (a documented approximation of
// a continuous ramp).
constexpr int kRampLevels = 4;

struct SimulatedSegment {
    std::string phase;
    int global_batch = 0;
    double tokens = 0;
    double steps = 0;
    const StepResult* step = nullptr;
};

struct PhaseReport {
    const PhaseSpec* phase = nullptr;
    std::vector<SimulatedSegment> segments;  // empty for a quoted phase
    Seconds compute_time;                    // Σ steps × step time (no interruptions)
    double gpu_hours = 0;                    // at that time, or quoted
};

Scenario phase_scenario(const Scenario& s, const PhaseSpec& ph, int global_batch) {
    Scenario copy = s;
    copy.training = ph.training;
    copy.training.global_batch = global_batch;
    copy.parallel = ph.parallel;
    return copy;
}

std::string seconds_text(Seconds t) { return fmt::format("{:.3f}", t.value()); }
std::string share(Seconds part, Seconds whole) {
    return whole.value() > 0 ? fmt::format("{:.1f}%", 100.0 * part.value() / whole.value()) : "—";
}

double percentile(std::vector<double> values, double q) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(values.size() - 1, lo + 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

class Progress {
public:
    explicit Progress(int total) : total_(total), enabled_(total > 1 && isatty(STDERR_FILENO) != 0) {}
    void update(int done) {
        if (!enabled_) return;
        const int width = 30;
        const int filled = done * width / total_;
        std::fprintf(stderr, "\rMonte Carlo [%s%s] %d/%d", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                     std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), done, total_);
        if (done == total_) std::fprintf(stderr, "\r%*s\r", 60, "");
        std::fflush(stderr);
    }

private:
    int total_;
    bool enabled_;
};

// Simulates independent steps on all cores (each simulation is self-contained: no shared state).
std::vector<StepResult> simulate_all(const std::vector<StepSpec>& specs) {
    std::vector<StepResult> results(specs.size());
    const unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), static_cast<unsigned>(specs.size())));
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(threads);
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                for (std::size_t i = t; i < specs.size(); i += threads) results[i] = simulate_step(specs[i]);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    }
    for (auto& th : pool) th.join();
    for (const auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }
    return results;
}

}  // namespace

int cmd_run(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_args(raw, {"--json", "--csv", "--stages"},
                                       {"--set", "--catalog", "--mode", "--network", "--trace", "--samples", "--seed"});
    const std::string& file = single_positional(args, "run", "SCENARIO");
    const ScenarioSampler sampler(file, load_options(args));
    const Scenario s = sampler.nominal();

    SimulationMode mode = SimulationMode::symmetric;
    const std::string mode_text = args.get("--mode", "symmetric");
    if (mode_text == "full") mode = SimulationMode::full;
    else if (mode_text != "symmetric") throw Error(fmt::format("--mode {} is not a mode", mode_text), "use --mode symmetric or --mode full");
    const std::string network_text = args.get("--network", "flow");
    const auto network = network_kind_from_string(network_text);
    if (!network) throw Error(fmt::format("--network {} is not a network model", network_text), "use --network flow or --network alpha-beta");
    const std::string trace_path = args.get("--trace");
    auto whole_number = [&](const std::string& flag, long long fallback, long long min, long long max) {
        if (!args.has(flag)) return fallback;
        const std::string text = args.get(flag);
        double v = 0;
        try {
            v = parse_count(text);
        } catch (const UnitError&) {
            throw Error(fmt::format("{} {} is not a whole number", flag, text));
        }
        if (v != std::floor(v) || v < static_cast<double>(min) || v > static_cast<double>(max)) {
            throw Error(fmt::format("{} {} must be a whole number from {} to {}", flag, text, min, max));
        }
        return static_cast<long long>(v);
    };
    const std::uint64_t seed = static_cast<std::uint64_t>(whole_number("--seed", 1, 0, 1LL << 62));

    // ---- steps: one simulation per distinct (phase, global batch) ----------------------------------------
    std::map<std::pair<const PhaseSpec*, int>, StepResult> steps;
    std::vector<PhaseReport> phases;
    const StepResult* headline = nullptr;  // the first simulated phase at its full batch
    auto levels_of = [](const PhaseSpec& ph) {
        std::vector<std::pair<int, double>> levels;  // (global batch, tokens)
        double ramp_tokens = 0;
        if (ph.ramp) {
            const int unit = ph.parallel.data * ph.parallel.micro_batch;
            ramp_tokens = ph.ramp->tokens;
            for (int j = 0; j < kRampLevels; ++j) {
                const double mid = ph.ramp->from + (ph.training.global_batch - ph.ramp->from) * (j + 0.5) / kRampLevels;
                const int batch = std::max(unit, static_cast<int>(mid) / unit * unit);
                levels.emplace_back(batch, ramp_tokens / kRampLevels);
            }
        }
        levels.emplace_back(ph.training.global_batch, ph.tokens - ramp_tokens);
        return levels;
    };
    auto spec_for = [&](const Scenario& base, const PhaseSpec& ph, int batch) {
        const Scenario sc = phase_scenario(base, ph, batch);
        StepSpec spec = step_spec_of(sc);
        spec.mode = mode;
        spec.network = *network;
        return spec;
    };
    const auto first_simulated_it =
        std::find_if(s.phases.begin(), s.phases.end(), [](const PhaseSpec& x) { return !x.quoted_gpu_hours; });
    const PhaseSpec* first_simulated = first_simulated_it == s.phases.end() ? nullptr : &*first_simulated_it;
    // Every distinct step shape, memory-checked, then simulated on all cores.
    std::vector<std::pair<const PhaseSpec*, int>> keys;
    std::vector<StepSpec> specs;
    for (const PhaseSpec& ph : s.phases) {
        if (ph.quoted_gpu_hours) continue;
        for (const auto& [batch, tokens] : levels_of(ph)) {
            const auto key = std::make_pair(&ph, batch);
            if (tokens <= 0 || std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
            const Scenario sc = phase_scenario(s, ph, batch);
            require_fit(sc, check_fit(sc.model, sc.parallel, sc.training.precision, shape_of(sc),
                                      sc.cluster.chip.memory_capacity, memory_options_of(sc)));
            keys.push_back(key);
            specs.push_back(spec_for(s, ph, batch));
            // The trace is of the headline step: the first simulated phase at its full batch.
            specs.back().record_trace = !trace_path.empty() && &ph == first_simulated && batch == ph.training.global_batch;
        }
    }
    {
        std::vector<StepResult> results = simulate_all(specs);
        for (std::size_t i = 0; i < keys.size(); ++i) steps.emplace(keys[i], std::move(results[i]));
    }
    for (const PhaseSpec& ph : s.phases) {
        PhaseReport rep;
        rep.phase = &ph;
        if (ph.quoted_gpu_hours) {
            rep.gpu_hours = *ph.quoted_gpu_hours;
            phases.push_back(rep);
            continue;
        }
        for (const auto& [batch, tokens] : levels_of(ph)) {
            if (tokens <= 0) continue;
            const StepResult& r = steps.at({&ph, batch});
            const double tokens_per_step = static_cast<double>(batch) * ph.training.sequence_length;
            SimulatedSegment seg{ph.name, batch, tokens, tokens / tokens_per_step, &r};
            rep.compute_time += r.step_time * seg.steps;
            rep.segments.push_back(seg);
        }
        rep.gpu_hours = in_hours(rep.compute_time) * s.cluster.gpus;
        if (headline == nullptr) headline = &steps.at({&ph, ph.training.global_batch});
        phases.push_back(rep);
    }
    if (headline == nullptr) throw Error("the scenario has no phase to simulate", "give at least one phase with tokens or steps");

    // ---- uncertain inputs of the step: one-at-a-time sensitivity ------------------------------------------
    // An input that changes the step (chip, model, layout, training) is simulated at its 5th and 95th percentiles
    // with every other input nominal; a sample's step time is the nominal one times, for each such input, the
    // ratio interpolated piecewise-linearly through (p05, r05), (nominal, 1), (p95, r95). Documented
    // approximation: effects combine multiplicatively, interactions are ignored.
    struct Sensitivity {
        std::size_t input = 0;
        double lo = 0, mid = 0, hi = 0;
        std::map<std::pair<std::size_t, int>, std::pair<double, double>> ratio;  // (phase index, batch) → (r05, r95)
    };
    std::vector<Sensitivity> sensitivities;
    const auto& inputs = sampler.inputs();
    bool sample_scenarios = false;  // pricing or reliability inputs: re-read the scenario per sample
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const std::string& path = inputs[i].path;
        if (path.rfind("pricing.", 0) == 0 || path.rfind("reliability.", 0) == 0) {
            sample_scenarios = true;
            continue;
        }
        Sensitivity sens{i, inputs[i].quantile(0.05), inputs[i].nominal(), inputs[i].quantile(0.95), {}};
        std::vector<StepSpec> shifted_specs;
        for (int side = 0; side < 2; ++side) {
            std::vector<double> values = sampler.nominal_values();
            values[i] = side == 0 ? sens.lo : sens.hi;
            const Scenario shifted = sampler.with(values);
            for (const auto& key : keys) {
                const auto phase_index = static_cast<std::size_t>(key.first - s.phases.data());
                shifted_specs.push_back(spec_for(shifted, shifted.phases.at(phase_index), key.second));
            }
        }
        const std::vector<StepResult> shifted_steps = simulate_all(shifted_specs);
        for (std::size_t k = 0; k < shifted_steps.size(); ++k) {
            const auto& key = keys[k % keys.size()];
            const auto phase_index = static_cast<std::size_t>(key.first - s.phases.data());
            const double r = shifted_steps[k].step_time / steps.at(key).step_time;
            auto& entry = sens.ratio[{phase_index, key.second}];
            (k < keys.size() ? entry.first : entry.second) = r;
        }
        sensitivities.push_back(std::move(sens));
    }
    auto step_factor = [&](const std::vector<double>& values, std::size_t phase_index, int batch) {
        double f = 1.0;
        for (const auto& sens : sensitivities) {
            const auto& [r_lo, r_hi] = sens.ratio.at({phase_index, batch});
            const double x = values[sens.input];
            if (x <= sens.mid) f *= sens.mid > sens.lo ? 1.0 + (r_lo - 1.0) * (sens.mid - x) / (sens.mid - sens.lo) : 1.0;
            else f *= sens.hi > sens.mid ? 1.0 + (r_hi - 1.0) * (x - sens.mid) / (sens.hi - sens.mid) : 1.0;
        }
        return f;
    };
    if (!trace_path.empty()) report::write_file_atomically(trace_path, report::chrome_trace(headline->trace));

    // ---- the run: interruptions over the simulated segments, Monte Carlo -----------------------------------
    RunInputs run;
    run.gpus = s.cluster.gpus;
    run.gpus_per_node = s.cluster.gpus_per_node;
    run.reliability = ReliabilityModel{s.reliability.failures, s.reliability.restart_time, s.reliability.checkpoint_write,
                                       s.reliability.async_checkpoint, s.reliability.checkpoint_interval};
    double quoted_gpu_hours = 0;
    std::vector<std::pair<std::size_t, int>> segment_keys;  // (phase index, batch) of each run segment
    for (const auto& ph : phases) {
        if (ph.phase->quoted_gpu_hours) quoted_gpu_hours += ph.gpu_hours;
        for (const auto& seg : ph.segments) {
            run.segments.push_back(RunSegment{seg.phase, seg.steps, seg.step->step_time, seg.tokens});
            segment_keys.emplace_back(static_cast<std::size_t>(ph.phase - s.phases.data()), seg.global_batch);
        }
    }
    const bool stochastic = !s.reliability.failures.empty() || !inputs.empty();
    const int samples = static_cast<int>(whole_number("--samples", stochastic ? 200 : 1, 1, 1'000'000));
    std::vector<RunSample> runs(static_cast<std::size_t>(samples));
    std::vector<PricingSpec> pricing(static_cast<std::size_t>(samples), s.pricing);
    {
        Progress progress(samples);
        const unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), static_cast<unsigned>(samples)));
        std::vector<std::thread> pool;
        std::atomic<int> done{0};
        for (unsigned t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                for (int i = static_cast<int>(t); i < samples; i += static_cast<int>(threads)) {
                    // Sample i's seed depends only on the run seed and i, so results do not depend on threads.
                    const std::uint64_t sample_seed = seed * 1'000'003ULL + static_cast<std::uint64_t>(i);
                    Random rng(sample_seed ^ 0x9e3779b97f4a7c15ULL);
                    const std::vector<double> values = sampler.draw(rng);
                    RunInputs mine = run;
                    if (sample_scenarios) {
                        const Scenario drawn = sampler.with(values);
                        mine.reliability = ReliabilityModel{drawn.reliability.failures, drawn.reliability.restart_time,
                                                            drawn.reliability.checkpoint_write, drawn.reliability.async_checkpoint,
                                                            drawn.reliability.checkpoint_interval};
                        pricing[static_cast<std::size_t>(i)] = drawn.pricing;
                    }
                    for (std::size_t k = 0; k < mine.segments.size(); ++k) {
                        mine.segments[k].step_time = mine.segments[k].step_time * step_factor(values, segment_keys[k].first, segment_keys[k].second);
                    }
                    runs[static_cast<std::size_t>(i)] = simulate_run(mine, sample_seed);
                    const int finished = ++done;
                    if (t == 0) progress.update(finished);  // one thread draws
                }
            });
        }
        for (auto& th : pool) th.join();
        progress.update(samples);
    }

    // ---- cost, energy, claims ---------------------------------------------------------------------------
    auto cost_for = [&](Seconds wall, const PricingSpec& pr) {
        CostInputs c;
        c.gpus = s.cluster.gpus;
        c.wall_clock = wall;
        c.gpu_power = s.cluster.chip.tdp * pr.utilization;
        c.pue = pr.pue;
        c.host_power_share = pr.host_power_share;
        c.electricity = pr.electricity;
        c.gpu_hour = pr.gpu_hour;
        c.ownership = pr.ownership;
        return c;
    };
    const bool priced = s.pricing.gpu_hour.has_value() || s.pricing.ownership.has_value();
    const Seconds quoted_time = hours(quoted_gpu_hours / s.cluster.gpus);
    std::vector<RunMetrics> metrics;
    std::vector<double> wall_days;
    std::vector<double> gpu_hours_samples;
    std::vector<double> cost_samples;
    const double mfu = headline->mfu_bf16_full;
    for (std::size_t k = 0; k < runs.size(); ++k) {
        const RunSample& sample = runs[k];
        const Seconds wall = sample.wall_clock + quoted_time;
        RunMetrics m;
        m.wall_clock = wall;
        m.gpu_hours = in_hours(wall) * s.cluster.gpus;
        m.mfu = mfu;
        if (priced) {
            const CostBreakdown cb = cost_of(cost_for(wall, pricing[k]));
            m.cost = cb.total;
            m.energy = cb.energy;
        }
        metrics.push_back(m);
        wall_days.push_back(in_days(wall));
        gpu_hours_samples.push_back(m.gpu_hours);
        cost_samples.push_back(m.cost.value());
    }
    // The nominal run: the median sample's wall clock (the run itself when nothing is stochastic).
    const Seconds nominal_wall = days(percentile(wall_days, 0.5));
    RunMetrics nominal{Dollars(percentile(cost_samples, 0.5)), nominal_wall, in_hours(nominal_wall) * s.cluster.gpus, mfu, Joules()};
    std::optional<CostBreakdown> nominal_cost;
    if (priced) {
        nominal_cost = cost_of(cost_for(nominal_wall, s.pricing));
        nominal.cost = nominal_cost->total;
        nominal.energy = nominal_cost->energy;
    }
    std::vector<ClaimVerdict> verdicts;
    for (const auto& claim : s.claims) {
        ClaimThresholds th{claim.cost_below, claim.wall_clock_below, claim.gpu_hours_below, claim.mfu_above, claim.energy_below};
        if (th.cost_below && !priced) {
            throw ScenarioError(claim.where, "the claim states a cost but the scenario has no [pricing]",
                                "add [pricing] gpu_hour = \"$2\" (rental) or [pricing.ownership]");
        }
        verdicts.push_back(judge_claim(claim.text, th, nominal, stochastic ? metrics : std::vector<RunMetrics>{}));
    }
    double interruptions_mean = 0;
    double goodput_mean = 0;
    for (const auto& r : runs) {
        interruptions_mean += r.interruptions;
        goodput_mean += r.goodput();
    }
    interruptions_mean /= samples;
    goodput_mean /= samples;
    const auto mttf = job_mttf(run.reliability, run.gpus, run.gpus_per_node);
    const Seconds interval = checkpoint_interval(run);

    // ---- report -----------------------------------------------------------------------------------------
    if (args.has("--json") || args.has("--csv")) {
        if (args.has("--csv")) {
            report::Table t({"phase", "global_batch", "sequence_length", "tokens", "steps", "step_time_s", "gpu_hours", "quoted"});
            for (const auto& ph : phases) {
                if (ph.phase->quoted_gpu_hours) {
                    t.add_row({ph.phase->name, "", "", "", "", "", fmt::format("{}", ph.gpu_hours), "true"});
                }
                for (const auto& seg : ph.segments) {
                    t.add_row({seg.phase, std::to_string(seg.global_batch), std::to_string(ph.phase->training.sequence_length),
                               fmt::format("{}", seg.tokens), fmt::format("{}", seg.steps),
                               fmt::format("{}", seg.step->step_time.value()),
                               fmt::format("{}", in_hours(seg.step->step_time * seg.steps) * s.cluster.gpus), "false"});
                }
            }
            out << t.render_csv();
            return 0;
        }
        report::Json j;
        j.begin_object().field("schema_version", 1).field("title", s.title).field("seed", static_cast<std::int64_t>(seed));
        j.field("samples", samples).field("mode", to_string(mode)).field("network", to_string(*network));
        j.key("phases").begin_array();
        for (const auto& ph : phases) {
            j.begin_object().field("name", ph.phase->name).field("gpu_hours", ph.gpu_hours);
            j.field("quoted", ph.phase->quoted_gpu_hours.has_value());
            if (ph.phase->quoted_gpu_hours) j.field("source", ph.phase->quoted_source);
            j.field("compute_time_s", ph.compute_time.value());
            j.key("segments").begin_array();
            for (const auto& seg : ph.segments) {
                j.begin_object().field("global_batch", seg.global_batch).field("tokens", seg.tokens).field("steps", seg.steps);
                j.field("step_time_s", seg.step->step_time.value()).field("mfu_bf16_full", seg.step->mfu_bf16_full).end_object();
            }
            j.end_array().end_object();
        }
        j.end_array();
        const StepResult& r = *headline;
        j.key("step").begin_object();
        j.field("step_time_s", r.step_time.value()).field("micro_batches", r.micro_batches);
        j.field("simulated_ranks", r.simulated_ranks).field("tasks", static_cast<std::int64_t>(r.tasks));
        j.field("compute_s", r.breakdown.compute.value()).field("recompute_s", r.breakdown.recompute.value());
        j.field("optimizer_s", r.breakdown.optimizer.value()).field("bubble_s", r.breakdown.bubble.value());
        j.key("exposed_communication_s").begin_object();
        for (CommAxis a : kCommAxes) j.field(to_string(a), r.breakdown.exposed[static_cast<std::size_t>(a)].value());
        j.end_object();
        j.key("communication_on_link_s").begin_object();
        for (CommAxis a : kCommAxes) j.field(to_string(a), r.breakdown.on_link[static_cast<std::size_t>(a)].value());
        j.end_object();
        j.field("model_flop_per_s_per_gpu", r.model_flops_per_gpu.value());
        j.field("mfu_causal", r.mfu_causal).field("mfu_full", r.mfu_full);
        j.field("mfu_bf16_causal", r.mfu_bf16_causal).field("mfu_bf16_full", r.mfu_bf16_full).field("hfu", r.hfu);
        j.field("mfu_peak_precision", to_string(r.compute_precision));
        j.end_object();
        j.key("run").begin_object();
        j.field("tokens", s.training.tokens);
        j.field("wall_clock_days_p05", percentile(wall_days, 0.05)).field("wall_clock_days_p50", percentile(wall_days, 0.5));
        j.field("wall_clock_days_p95", percentile(wall_days, 0.95));
        j.field("gpu_hours_p50", percentile(gpu_hours_samples, 0.5));
        j.field("interruptions_mean", interruptions_mean).field("goodput_mean", goodput_mean);
        j.field("checkpoint_interval_s", interval.value());
        if (nominal_cost) {
            j.field("cost_usd_p05", percentile(cost_samples, 0.05)).field("cost_usd_p50", percentile(cost_samples, 0.5));
            j.field("cost_usd_p95", percentile(cost_samples, 0.95)).field("cost_basis", nominal_cost->basis);
            j.field("cost_includes", s.pricing.includes).field("energy_mwh_p50", nominal_cost->energy.value() / 3.6e9);
            j.key("cost_lines_usd").begin_object();
            for (const auto& line : nominal_cost->lines) j.field(line.item, line.cost.value());
            j.end_object();
        }
        j.end_object();
        j.key("uncertain_inputs").begin_array();
        for (const auto& u : inputs) j.value(u.describe());
        j.end_array();
        j.key("claims").begin_array();
        for (const auto& v : verdicts) {
            j.begin_object().field("text", v.text).field("verdict", to_string(v.verdict)).field("probability", v.probability);
            j.key("criteria").begin_array();
            for (const auto& c : v.criteria) {
                j.begin_object().field("name", c.name).field("threshold", c.threshold).field("nominal", c.nominal);
                j.field("margin", c.margin).field("probability", c.probability).end_object();
            }
            j.end_array().end_object();
        }
        j.end_array();
        j.end_object();
        out << j.str();
        return 0;
    }

    const auto& p = s.parallel;
    const StepResult& r = *headline;
    out << fmt::format("{}\n", s.title);
    out << fmt::format("{} × {}, TP{} CP{} PP{} DP{} EP{}, {} schedule; {} simulation ({} GPUs simulated), {} network model\n\n",
                       s.cluster.gpus, s.cluster.chip.display_name, p.tensor, p.context, p.pipeline, p.data, p.expert,
                       to_string(p.schedule), to_string(r.mode), r.simulated_ranks, to_string(*network));

    report::Table pt({"phase", "sequence", "global batch", "tokens", "steps", "step time", "days", "GPU-hours"});
    double total_gpu_hours = 0;
    for (const auto& ph : phases) {
        total_gpu_hours += ph.gpu_hours;
        if (ph.phase->quoted_gpu_hours) {
            pt.add_row({ph.phase->name, "—", "—", "—", "—", "quoted", fmt::format("{:.1f}", ph.gpu_hours / s.cluster.gpus / 24.0),
                        report::with_commas(ph.gpu_hours)});
            continue;
        }
        for (const auto& seg : ph.segments) {
            const Seconds t = seg.step->step_time * seg.steps;
            pt.add_row({seg.phase, std::to_string(ph.phase->training.sequence_length), std::to_string(seg.global_batch),
                        format_count(seg.tokens), report::with_commas(seg.steps), fmt::format("{:.3f} s", seg.step->step_time.value()),
                        fmt::format("{:.1f}", in_days(t)), report::with_commas(in_hours(t) * s.cluster.gpus)});
        }
    }
    pt.add_row({"total (no interruptions)", "", "", format_count(s.training.tokens), "", "", "", report::with_commas(total_gpu_hours)});
    out << pt.render() << "\n";
    for (const auto& ph : phases) {
        if (ph.phase->quoted_gpu_hours) out << fmt::format("{}: GPU-hours quoted, not simulated ({})\n", ph.phase->name, ph.phase->quoted_source);
    }

    out << fmt::format("\nstep ({}, batch {})  {} s; MFU {:.1f}% of the {} peak ({:.1f}% full attention), {:.1f}% of BF16 "
                       "({:.1f}% full); HFU {:.1f}%\n",
                       s.phases.front().name, s.phases.front().training.global_batch, seconds_text(r.step_time), 100 * r.mfu_causal,
                       to_string(r.compute_precision), 100 * r.mfu_full, 100 * r.mfu_bf16_causal, 100 * r.mfu_bf16_full, 100 * r.hfu);
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
    if (args.has("--stages")) {
        report::Table st({"stage", "compute s", "recompute s", "exposed comm s", "bubble s", "memory", "fits"});
        for (const auto& stage : r.stages) {
            const auto& m = r.memory.at(static_cast<std::size_t>(stage.stage));
            st.add_row({std::to_string(stage.stage), seconds_text(stage.breakdown.compute), seconds_text(stage.breakdown.recompute),
                        seconds_text(stage.breakdown.exposed_total()), seconds_text(stage.breakdown.bubble), format_bytes(m.total()),
                        m.total() <= s.cluster.chip.memory_capacity ? "yes" : "NO"});
        }
        out << "\n" << st.render();
    }

    out << "\nrun\n";
    if (stochastic) {
        out << fmt::format("  interruptions  {:.1f} expected (job MTTF {}), checkpoint every {} ({}), goodput {:.1f}%\n",
                           interruptions_mean, mttf ? format_duration(*mttf) : "∞", format_duration(interval),
                           s.reliability.checkpoint_interval ? "given" : "Young/Daly", 100 * goodput_mean);
        out << fmt::format("  wall clock     {:.1f} days median, 90% interval {:.1f}–{:.1f} days ({} Monte Carlo runs, seed {})\n",
                           percentile(wall_days, 0.5), percentile(wall_days, 0.05), percentile(wall_days, 0.95), samples, seed);
    } else {
        out << fmt::format("  wall clock     {:.1f} days (no interruptions modelled: add [[reliability.failures]])\n", percentile(wall_days, 0.5));
    }
    out << fmt::format("  GPU-hours      {}\n", report::with_commas(percentile(gpu_hours_samples, 0.5)));
    if (nominal_cost) {
        out << fmt::format("  cost           {} ({}; includes: {})", format_dollars(nominal_cost->total), nominal_cost->basis, s.pricing.includes);
        if (stochastic) out << fmt::format(", 90% interval {}–{}", format_dollars(Dollars(percentile(cost_samples, 0.05))), format_dollars(Dollars(percentile(cost_samples, 0.95))));
        out << "\n";
        for (const auto& line : nominal_cost->lines) out << fmt::format("    {:<28} {}\n", line.item, format_dollars(line.cost));
        out << fmt::format("  energy         {} (facility, PUE {:g})\n", format_energy(nominal_cost->energy), s.pricing.pue);
    } else {
        out << "  cost           no [pricing] given\n";
    }
    if (!verdicts.empty()) out << "\nclaims\n";
    for (const auto& v : verdicts) {
        out << fmt::format("  {} — \"{}\" (probability {:.0f}%)\n", to_string(v.verdict), v.text, 100 * v.probability);
        for (const auto& c : v.criteria) {
            out << fmt::format("    {} {}: nominal {}, margin {:+.1f}%, holds in {:.0f}% of runs\n", c.name, c.threshold, c.nominal,
                               100 * c.margin, 100 * c.probability);
        }
    }
    out << "\nassumptions the figures rest on\n";
    for (const auto& u : inputs) out << fmt::format("  {}\n", u.describe());
    for (const auto& f : s.reliability.failures) {
        out << fmt::format("  interruptions \"{}\": one per {} {}-hours\n", f.name, report::with_commas(1.0 / f.rate_per_unit_hour),
                           f.per_node ? "node" : "GPU");
    }
    if (s.reliability.failures.empty()) out << "  no interruptions\n";
    out << fmt::format("  cost covers {}\n", s.pricing.includes);
    out << fmt::format("  step times from the {} simulation with the {} network model; FLOPs counted as in the MFU line\n",
                       to_string(mode), to_string(*network));
    if (!trace_path.empty()) out << fmt::format("\ntrace: {} ({} events; open it in Perfetto or chrome://tracing)\n", trace_path, headline->trace.size());
    return 0;
}

}  // namespace gpuhours::cli
