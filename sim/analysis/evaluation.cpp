// A whole scenario evaluated (include/gpuhours/analysis/evaluation.hpp).
#include <gpuhours/analysis/evaluation.hpp>

#include <gpuhours/units/error.hpp>

#include "parallel_for.hpp"
#include "step_counter.hpp"
#include "run_inputs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <atomic>
#include <cmath>
#include <map>

namespace gpuhours {
namespace {

using detail::levels_of;
using detail::parallel_for;
using detail::reliability_of;
using detail::StepCounter;
using detail::require_supported_interruptions;
using detail::thread_count;

double percentile(std::vector<double> values, double q) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(values.size() - 1, lo + 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

Spread spread_of(std::vector<double> values) {
    Spread out;
    if (values.empty()) return out;
    double sum = 0;
    for (double v : values) sum += v;
    out.mean = sum / static_cast<double>(values.size());
    std::sort(values.begin(), values.end());
    out.p05 = percentile(values, 0.05);
    out.p50 = percentile(values, 0.5);
    out.p95 = percentile(values, 0.95);
    return out;
}

double RunEvaluation::simulated_gpu_hours() const {
    double sum = 0;
    for (const auto& ph : phases) sum += ph.gpu_hours;
    return sum;
}

namespace {

// The percentiles at which an uncertain step input is simulated, besides its nominal value (see the header).
// Four, not more: each costs every distinct step shape once more (the flagship's `run`: 7 steps each, about 0.1 s of
// wall on 2 cores; with the 0.1st and 99.9th percentiles too it came to 0.63–0.91 s against the 1 s target).
constexpr std::array<double, 4> kGridQuantiles{0.05, 0.25, 0.75, 0.95};

// The distinct steps of a run: one per (phase index, global batch) that carries tokens.
struct StepTable {
    std::vector<std::pair<std::size_t, int>> keys;  // (phase index, batch), in simulation order
    std::size_t first_simulated = 0;                 // the first phase that is simulated, not quoted

    std::size_t index(std::size_t phase, int batch) const {
        return static_cast<std::size_t>(std::find(keys.begin(), keys.end(), std::make_pair(phase, batch)) - keys.begin());
    }
};

bool changes_steps(const UncertainInput& input) {
    return input.path.rfind("pricing.", 0) != 0 && input.path.rfind("reliability.", 0) != 0;
}

StepSpec spec_for(const Scenario& base, const PhaseSpec& ph, int batch, const EvaluateOptions& options) {
    StepSpec spec = step_spec_of(scenario_of_phase(base, ph, batch));
    spec.mode = options.mode;
    spec.network = options.network;
    return spec;
}

// Steps: one simulation per distinct (phase, global batch), memory-checked first; the headline step (the first
// simulated phase at its full batch) records the trace when asked.
StepTable simulate_distinct_steps(RunEvaluation& ev, StepCache& cache, StepCounter& counter, const EvaluateOptions& options) {
    const Scenario& s = ev.scenario;
    StepTable table;
    std::vector<StepSpec> specs;
    std::optional<std::size_t> first_simulated;
    for (std::size_t p = 0; p < s.phases.size(); ++p) {
        const PhaseSpec& ph = s.phases[p];
        if (ph.quoted_gpu_hours) continue;
        if (!first_simulated) first_simulated = p;
        for (const auto& [batch, tokens] : levels_of(ph)) {
            const auto key = std::make_pair(p, batch);
            if (tokens <= 0 || std::find(table.keys.begin(), table.keys.end(), key) != table.keys.end()) continue;
            require_fit(scenario_of_phase(s, ph, batch));
            table.keys.push_back(key);
            specs.push_back(spec_for(s, ph, batch, options));
            specs.back().record_trace = options.record_trace && p == *first_simulated && batch == ph.training.global_batch;
        }
    }
    if (!first_simulated) throw Error("the scenario has no phase to simulate", "give at least one phase with tokens or steps");
    table.first_simulated = *first_simulated;
    counter.total = static_cast<int>(specs.size()) * (1 + static_cast<int>(kGridQuantiles.size()) * counter.step_inputs);
    ev.steps.resize(specs.size());
    parallel_for(specs.size(), thread_count(options.threads, specs.size()), [&](std::size_t i, unsigned thread) {
        ev.steps[i] = counter.simulate(cache, specs[i], thread);
        check_step_figures(ev.steps[i]);
        counter.finished();
    });
    ev.headline = table.index(table.first_simulated, s.phases[table.first_simulated].training.global_batch);
    return table;
}

// Phases: each simulated phase's segments (one per batch level) with their step counts and compute time; quoted
// phases carry their quoted GPU-hours.
void add_phase_outcomes(RunEvaluation& ev, const StepTable& table) {
    const Scenario& s = ev.scenario;
    const bool phase_prices = first_priced_phase(s) != nullptr;
    for (std::size_t p = 0; p < s.phases.size(); ++p) {
        const PhaseSpec& ph = s.phases[p];
        PhaseOutcome rep;
        rep.name = ph.name;
        rep.sequence_length = ph.training.sequence_length;
        rep.gpu_hour = ph.gpu_hour;
        if (phase_prices && !ph.gpu_hour && !s.pricing.gpu_hour) {
            throw ScenarioError(ph.where, fmt::format("phase \"{}\" has no rental price: other phases give gpu_hour but [pricing] does not", ph.name),
                                "give this phase a gpu_hour, or set [pricing] gpu_hour for the phases without their own");
        }
        if (ph.quoted_gpu_hours) {
            rep.quoted = true;
            rep.quoted_source = ph.quoted_source;
            rep.gpu_hours = *ph.quoted_gpu_hours;
            rep.compute_time = hours(rep.gpu_hours / s.cluster.gpus);
            ev.phases.push_back(rep);
            continue;
        }
        for (const auto& [batch, tokens] : levels_of(ph)) {
            if (tokens <= 0) continue;
            const std::size_t idx = table.index(p, batch);
            const double tokens_per_step = static_cast<double>(batch) * ph.training.sequence_length;
            SegmentResult seg{batch, tokens, tokens / tokens_per_step, idx};
            rep.compute_time += ev.steps[idx].step_time * seg.steps;
            rep.segments.push_back(seg);
        }
        rep.gpu_hours = in_hours(rep.compute_time) * s.cluster.gpus;
        ev.phases.push_back(rep);
    }
}

// The values an uncertain step input is simulated at: its grid quantiles and its nominal value, ascending, each once
// (a point or a narrow distribution gives fewer).
std::vector<double> grid_of(const UncertainInput& input) {
    std::vector<double> at{input.nominal()};
    for (const double q : kGridQuantiles) at.push_back(input.quantile(q));
    std::sort(at.begin(), at.end());
    at.erase(std::unique(at.begin(), at.end()), at.end());
    return at;
}

// One uncertain step input's effect: the step-time ratio of each distinct step at each value of the input's grid,
// the other inputs nominal (one input at a time, see the header).
struct Sensitivity {
    std::size_t input = 0;
    std::vector<double> at;                  // the grid, ascending (the nominal value among them, ratio 1)
    std::vector<std::vector<double>> ratio;  // per step key, per grid value: its step time over the nominal one

    // The ratio at x, piecewise-linear through the grid's points; past its ends, along the end segment.
    [[nodiscard]] double at_value(std::size_t key, double x) const {
        if (at.size() < 2) return 1.0;
        const std::size_t hi = std::clamp<std::size_t>(
            static_cast<std::size_t>(std::upper_bound(at.begin(), at.end(), x) - at.begin()), 1, at.size() - 1);
        const std::vector<double>& r = ratio[key];
        return r[hi - 1] + (r[hi] - r[hi - 1]) * (x - at[hi - 1]) / (at[hi] - at[hi - 1]);
    }
};

struct StepSensitivities {
    std::vector<Sensitivity> inputs;
    bool sample_scenarios = false;  // pricing or reliability inputs: re-read the scenario per sample

    // The factor on step `key`'s time for one draw of the inputs: the product over inputs of each one's ratio,
    // interpolated through its grid.
    double factor(const std::vector<double>& values, std::size_t key) const {
        double f = 1.0;
        for (const auto& sens : inputs) f *= sens.at_value(key, values[sens.input]);
        return f;
    }
};

StepSensitivities step_sensitivities(RunEvaluation& ev, const ScenarioSampler& sampler, const StepTable& table,
                                     StepCache& cache, StepCounter& counter, const EvaluateOptions& options) {
    StepSensitivities out;
    const auto& inputs = sampler.inputs();
    const auto& keys = table.keys;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        ev.uncertain_inputs.push_back(inputs[i].describe());
        ev.uncertain_nominal_basis.push_back(inputs[i].nominal_basis());
        ev.uncertain_without_step_effect.push_back(false);
        if (!changes_steps(inputs[i])) {
            out.sample_scenarios = true;
            continue;
        }
        Sensitivity sens{i, grid_of(inputs[i]), {}};
        // Every grid value but the nominal one (ratio 1, not simulated again), each with every step key.
        std::vector<std::size_t> shifted_at;
        std::vector<StepSpec> shifted_specs;
        for (std::size_t g = 0; g < sens.at.size(); ++g) {
            if (sens.at[g] == inputs[i].nominal()) continue;
            std::vector<double> values = sampler.nominal_values();
            values[i] = sens.at[g];
            const Scenario shifted = sampler.with(values);
            for (const auto& key : keys) {
                shifted_specs.push_back(spec_for(shifted, shifted.phases.at(key.first), key.second, options));
                shifted_at.push_back(g);
            }
        }
        std::vector<StepResult> shifted_steps(shifted_specs.size());
        parallel_for(shifted_specs.size(), thread_count(options.threads, shifted_specs.size()),
                     [&](std::size_t k, unsigned thread) {
                         shifted_steps[k] = counter.simulate(cache, shifted_specs[k], thread);
                         check_step_figures(shifted_steps[k]);
                         counter.finished();
                     });
        // Grid values counted in the progress total but not simulated (equal to another or to the nominal one).
        for (std::size_t skipped = shifted_specs.size(); skipped < kGridQuantiles.size() * keys.size(); ++skipped) counter.finished();
        sens.ratio.assign(keys.size(), std::vector<double>(sens.at.size(), 1.0));
        for (std::size_t k = 0; k < shifted_steps.size(); ++k) {
            sens.ratio[k % keys.size()][shifted_at[k]] = shifted_steps[k].step_time / ev.steps[k % keys.size()].step_time;
        }
        bool idle = true;
        for (const auto& r : sens.ratio) idle = idle && std::all_of(r.begin(), r.end(), [](double x) { return x == 1.0; });
        ev.uncertain_without_step_effect.back() = idle;
        out.inputs.push_back(std::move(sens));
    }
    return out;
}

// The run's Monte Carlo samples: interruptions over the simulated segments, each sample with its own draw of
// the uncertain inputs (step times scaled by the sensitivities; pricing and reliability re-read when drawn).
struct MonteCarlo {
    RunInputs run;                   // the nominal run
    std::vector<RunSample> runs;     // one per sample
    std::vector<PricingSpec> pricing;  // each sample's pricing
    double quoted_gpu_hours = 0;     // GPU-hours of quoted phases, outside the simulated run
    Seconds nominal_wall;            // the nominal run's allocated wall clock, quoted phases included (nominal_replay)
    std::vector<double> step_factor; // each sample's headline step time over the nominal one (its MFU is the nominal / it)
};

// Sample i's seed: a function of the run seed and i only, so results do not depend on threads, and a replay of the
// samples (the failure rates' break-even) draws the same interruptions.
std::uint64_t sample_seed(std::uint64_t seed, std::size_t i) { return seed * 1'000'003ULL + i; }

// The nominal run's interruptions are replayed over this many fixed seeds (sample_seed(kNominalSeed, i), i < N),
// whatever --samples and --seed are: the nominal figures are the run at every input's nominal value, not the median
// of the samples, which also draw the uncertain inputs and move with their count and seed. N is odd so that the
// median is one replay.
constexpr std::size_t kNominalReplays = 201;
constexpr std::uint64_t kNominalSeed = 0x6e6f6d696e616cULL;  // "nominal"

// The median wall clock of `run` over the fixed replays (one replay when it has no failure class: nothing is drawn).
// Throws the run's error when it cannot finish.
Seconds median_replay(const RunInputs& run, std::uint64_t seed, unsigned threads) {
    const std::size_t n = run.reliability.classes.empty() ? 1 : kNominalReplays;
    std::vector<double> walls(n);
    parallel_for(n, thread_count(threads, n),
                 [&](std::size_t i, unsigned) { walls[i] = simulate_run(run, sample_seed(seed, i)).wall_clock.value(); });
    return Seconds(percentile(walls, 0.5));
}

MonteCarlo run_monte_carlo(RunEvaluation& ev, const ScenarioSampler& sampler, const StepSensitivities& sensitivities,
                           const EvaluateOptions& options) {
    const Scenario& s = ev.scenario;
    MonteCarlo mc;
    RunInputs& run = mc.run;
    run.gpus = s.cluster.gpus;
    run.gpus_per_host = s.cluster.host_gpus();
    run.reliability = reliability_of(s);
    run.overheads = run_overheads_of(s);
    ev.restart_time = run.reliability.restart_time;
    if (!s.reliability.restart_given && s.reliability.from != "none") ev.recovery = recovery_parts_of(s);
    ev.checkpoint_write = run.reliability.checkpoint_write;
    ev.checkpoint_size = checkpoint_bytes(s);
    std::vector<std::size_t> segment_keys;  // step index of each run segment
    for (const auto& ph : ev.phases) {
        if (ph.quoted) mc.quoted_gpu_hours += ph.gpu_hours;
        for (const auto& seg : ph.segments) {
            run.segments.push_back(RunSegment{ph.name, seg.steps, ev.steps[seg.step].step_time, seg.tokens});
            segment_keys.push_back(seg.step);
        }
    }
    // Before any replay plays them one by one. `check` applies the same limit with every step at its compute lower
    // bound; the simulated steps are longer, so `run` alone refuses a run between the two, and says so (the fuzz's
    // mutant 3637 of seed 1, session 20).
    if (!run.segments.empty()) {
        require_supported_interruptions(s, run, "; `check` counts them with every step at its compute lower bound (the chip's "
                                                "peaks) and knows the steps' simulated length only by simulating them, as `run` does");
    }
    ev.stochastic = !s.reliability.failures.empty() || !sampler.inputs().empty();
    const int samples = options.nominal_only ? 1 : options.samples > 0 ? options.samples : (ev.stochastic ? 200 : 1);
    ev.options.samples = samples;
    mc.runs.resize(static_cast<std::size_t>(samples));
    mc.step_factor.assign(static_cast<std::size_t>(samples), 1.0);
    mc.pricing.assign(static_cast<std::size_t>(samples), s.pricing);
    std::atomic<int> done{0};
    parallel_for(static_cast<std::size_t>(samples), thread_count(options.threads, static_cast<std::size_t>(samples)),
                 [&](std::size_t i, unsigned t) {
                     const std::uint64_t seed = sample_seed(options.seed, i);
                     const std::vector<double> values = sampler.draw(seed ^ 0x9e3779b97f4a7c15ULL);
                     RunInputs mine = run;
                     if (sensitivities.sample_scenarios) {
                         const Scenario drawn = sampler.with(values);
                         mine.reliability = reliability_of(drawn);
                         mine.overheads = run_overheads_of(drawn);
                         mc.pricing[i] = drawn.pricing;
                     }
                     for (std::size_t k = 0; k < mine.segments.size(); ++k) {
                         mine.segments[k].step_time = mine.segments[k].step_time * sensitivities.factor(values, segment_keys[k]);
                     }
                     mc.step_factor[i] = sensitivities.factor(values, ev.headline);
                     mc.runs[i] = simulate_run(mine, seed);
                     const int finished = ++done;
                     if (t == 0 && options.progress) options.progress(finished, samples);
                 });
    mc.nominal_wall = median_replay(run, kNominalSeed, options.threads) + hours(mc.quoted_gpu_hours / s.cluster.gpus);
    if (options.progress) options.progress(samples, samples);
    return mc;
}

// The cost model's inputs for one run: wall clock, power, prices; phases with their own price as rental shares
// (each phase's share of the GPU-hours, interruptions spread in proportion).
CostInputs cost_inputs(const RunEvaluation& ev, Seconds wall, const PricingSpec& pr) {
    const Scenario& s = ev.scenario;
    CostInputs c;
    c.gpus = s.cluster.gpus;
    c.wall_clock = wall;
    // Under a power cap the board draws at most the cap.
    const Watts board = s.cluster.power_cap && s.cluster.power_cap->value() < s.cluster.chip.tdp.value() ? *s.cluster.power_cap
                                                                                                         : s.cluster.chip.tdp;
    c.gpu_power = board * pr.utilization;
    c.pue = pr.pue;
    c.host_power_share = pr.host_power_share;
    c.electricity = pr.electricity;
    c.gpu_hour = pr.gpu_hour;
    c.ownership = pr.ownership;
    if (first_priced_phase(s) != nullptr) {
        const double total_gpu_hours = ev.simulated_gpu_hours();
        for (const auto& ph : ev.phases) {
            c.rental_shares.push_back(RentalShare{fmt::format("rental: {}", ph.name), ph.gpu_hours / total_gpu_hours,
                                                  ph.gpu_hour ? *ph.gpu_hour : *pr.gpu_hour});
        }
    }
    return c;
}

LadderInputs ladder_inputs(const RunEvaluation& ev, Seconds wall, const PricingSpec& pr) {
    LadderInputs in{cost_inputs(ev, wall, pr), ev.scenario.cluster.chip.rental_gpu_hour, pr.research_multiplier, pr.research_runs, pr.staff};
    return in;
}

// With phases at prices of their own, a cost bound's break-even is the [pricing] price, paid by the phases without
// one, at which the nominal run costs the bound: (bound − the priced phases' cost) / the other phases' GPU-hours,
// the run's `gpu_hours` split in proportion to the phases' simulated GPU-hours as cost_inputs splits it. None when
// every phase has its own price or the priced phases alone pass the bound (an audit found "any price below $2.14"
// printed, the single-price figure, where the run failed at $2.10 beside a $10 phase).
void phase_priced_break_evens(ClaimVerdict& v, const RunEvaluation& ev, double gpu_hours) {
    const double total = ev.simulated_gpu_hours();
    double own = 0.0;   // the priced phases' cost ($)
    double rest = 0.0;  // the other phases' GPU-hours
    for (const auto& ph : ev.phases) {
        const double hours = total > 0.0 ? gpu_hours * ph.gpu_hours / total : 0.0;
        if (ph.gpu_hour) own += hours * ph.gpu_hour->value();
        else rest += hours;
    }
    const auto at = [&](double bound) -> std::optional<double> {
        if (rest <= 0.0 || bound <= own) return std::nullopt;
        return (bound - own) / rest;
    };
    for (auto& c : v.criteria) {
        if (!c.break_even_per_gpu_hour) continue;
        c.break_even_for_unpriced_phases = true;
        if (c.bound == ClaimBound::above) {
            c.break_even_per_gpu_hour = at(c.low.value_or(0.0));
        } else {
            c.break_even_per_gpu_hour = at(c.high.value_or(0.0));
            if (c.bound == ClaimBound::within) c.break_even_low_per_gpu_hour = at(c.low.value_or(0.0));
        }
        if (!c.break_even_per_gpu_hour) c.break_even_low_per_gpu_hour.reset();
    }
}

// One run's figures with the cost of every rung (NaN where a rung is not priced).
struct PricedRun {
    RunMetrics metrics;  // cost: the scenario's own basis
    std::array<double, std::size(kCostRungs)> rungs{};
};

PricedRun priced_run(const RunEvaluation& ev, Seconds wall, const PricingSpec& pr, double mfu) {
    const Scenario& s = ev.scenario;
    PricedRun out;
    out.metrics.wall_clock = wall;
    out.metrics.gpu_hours = in_hours(wall) * s.cluster.gpus;
    out.metrics.mfu = mfu;
    out.rungs.fill(std::numeric_limits<double>::quiet_NaN());
    if (ev.priced) {
        const CostBreakdown cb = cost_of(cost_inputs(ev, wall, pr));
        out.metrics.cost = cb.total;
        out.metrics.energy = cb.energy;
        const CostLadder ladder = cost_ladder(ladder_inputs(ev, wall, pr));
        for (const auto& rung : ladder.rungs) {
            if (rung.cost) out.rungs[static_cast<std::size_t>(rung.rung)] = rung.cost->value();
        }
    }
    return out;
}

// The samples three ways: as drawn; the run's own uncertainty only (prices at nominal); the economic
// assumptions only (the run at its nominal wall clock, prices drawn).
struct Samples {
    std::vector<PricedRun> all, run_only, economic_only;
    // The same on the steady-state basis: each sample's wall clock without failures, restarts or overheads.
    std::vector<PricedRun> steady_all, steady_run_only, steady_economic_only;
    const std::vector<PricedRun>& of(GpuHourBasis b, int which) const {
        const bool steady = b == GpuHourBasis::steady_state;
        if (which == 0) return steady ? steady_all : all;
        return which == 1 ? (steady ? steady_run_only : run_only) : (steady ? steady_economic_only : economic_only);
    }
};

// The steady-state wall clock of the nominal run: Σ phases' GPU-hours at their simulated steps / GPUs.
Seconds nominal_steady_wall(const RunEvaluation& ev) { return hours(ev.simulated_gpu_hours() / ev.scenario.cluster.gpus); }

// Allocated − steady-state, term by term (means over the samples, GPU-hours).
void add_allocation_terms(RunEvaluation& ev, const MonteCarlo& mc) {
    const double n = static_cast<double>(mc.runs.size());
    const double gpus = ev.scenario.cluster.gpus;
    double lost = 0, restarting = 0, checkpointing = 0, overheads = 0;
    for (const auto& r : mc.runs) {
        lost += in_hours(r.lost_work);
        restarting += in_hours(r.restarting);
        checkpointing += in_hours(r.checkpointing);
        overheads += in_hours(r.overheads);
    }
    ev.allocation_terms.push_back({"lost_work", "lost work since the last checkpoint", lost / n * gpus});
    ev.allocation_terms.push_back({"restarts",
                                   ev.recovery ? "restarts (detect, replace, re-initialise, load)" : "restarts (restart_time each)",
                                   restarting / n * gpus});
    ev.allocation_terms.push_back({"checkpoint_writes", "blocking checkpoint writes", checkpointing / n * gpus});
    // Each overhead's share of the overhead time, in proportion to its fraction.
    double total_fraction = 0;
    for (const auto& o : mc.run.overheads) total_fraction += o.fraction;
    for (const auto& o : mc.run.overheads) {
        std::string key = o.name;  // "data-loader stalls" → "data_loader_stalls", as the scenario key
        std::replace_if(key.begin(), key.end(), [](char c) { return c == ' ' || c == '-'; }, '_');
        ev.allocation_terms.push_back({key, o.name, total_fraction > 0 ? overheads / n * gpus * o.fraction / total_fraction : 0.0});
    }
}

// Each sample's wall clock, GPU-hours, cost and energy, and their spreads.
Samples sample_metrics(RunEvaluation& ev, const MonteCarlo& mc) {
    const Scenario& s = ev.scenario;
    ev.priced = prices_run(s);
    const Seconds quoted_time = hours(mc.quoted_gpu_hours / s.cluster.gpus);
    Samples out;
    // The nominal headline step's MFU, and each sample's: the same FLOPs over its own step time.
    const double mfu = ev.headline_step().mfu_bf16_full;
    const auto sample_mfu = [&](std::size_t k) { return mfu / mc.step_factor[k]; };
    for (std::size_t k = 0; k < mc.runs.size(); ++k) {
        const Seconds wall = mc.runs[k].wall_clock + quoted_time;
        const PricedRun run = priced_run(ev, wall, mc.pricing[k], sample_mfu(k));
        const RunMetrics& m = run.metrics;
        out.all.push_back(run);
        ev.wall_clock_days.push_back(in_days(wall));
        ev.gpu_hours.push_back(m.gpu_hours);
        ev.cost_usd.push_back(m.cost.value());
        ev.energy_mwh.push_back(m.energy.value() / 3.6e9);
    }
    for (std::size_t k = 0; k < mc.runs.size(); ++k) {
        const Seconds steady_wall = mc.runs[k].productive + quoted_time;
        const PricedRun run = priced_run(ev, steady_wall, mc.pricing[k], sample_mfu(k));
        out.steady_all.push_back(run);
        ev.steady_state_gpu_hours.push_back(run.metrics.gpu_hours);
        out.steady_run_only.push_back(priced_run(ev, steady_wall, s.pricing, sample_mfu(k)));
        out.steady_economic_only.push_back(priced_run(ev, nominal_steady_wall(ev), mc.pricing[k], mfu));
    }
    ev.steady_state_gpu_hours_spread = spread_of(ev.steady_state_gpu_hours);
    ev.wall_clock_days_spread = spread_of(ev.wall_clock_days);
    ev.gpu_hours_spread = spread_of(ev.gpu_hours);
    ev.cost_spread = spread_of(ev.cost_usd);
    ev.energy_spread = spread_of(ev.energy_mwh);
    for (std::size_t k = 0; k < mc.runs.size(); ++k) {
        out.run_only.push_back(priced_run(ev, mc.runs[k].wall_clock + quoted_time, s.pricing, sample_mfu(k)));
        out.economic_only.push_back(priced_run(ev, mc.nominal_wall, mc.pricing[k], mfu));
    }
    return out;
}

// The metrics of `runs` with the cost of `rung` in place of the basis cost.
std::vector<RunMetrics> on_rung(const std::vector<PricedRun>& runs, std::optional<CostRung> rung) {
    std::vector<RunMetrics> out;
    out.reserve(runs.size());
    for (const auto& r : runs) {
        RunMetrics m = r.metrics;
        if (rung) m.cost = Dollars(r.rungs[static_cast<std::size_t>(*rung)]);
        out.push_back(m);
    }
    return out;
}

// The figure of the nominal run with uncertain input `i` at `x`, every other input nominal: for a [pricing]
// input, re-priced exactly; for a step input, its step times scaled by the sensitivity's factor.
struct Trial {
    const RunEvaluation& ev;
    const ScenarioSampler& sampler;
    const StepSensitivities& sensitivities;
    const MonteCarlo& mc;
    GpuHourBasis basis = GpuHourBasis::allocated;  // the claim's: which nominal wall clock the trial scales

    std::optional<PricedRun> at(std::size_t i, double x) const {
        const UncertainInput& input = sampler.inputs()[i];
        std::vector<double> values = sampler.nominal_values();
        values[i] = x;
        const double mfu = ev.headline_step().mfu_bf16_full;
        if (input.path.rfind("pricing.", 0) == 0) return priced_run(ev, nominal_wall(), sampler.with(values).pricing, mfu);
        if (input.path.rfind("reliability.", 0) == 0) return std::nullopt;
        // Step input: the simulated time scales by each segment's factor; quoted phases do not.
        double nominal_time = 0, scaled_time = 0;
        for (std::size_t k = 0; k < mc.run.segments.size(); ++k) {
            const double t = mc.run.segments[k].steps * mc.run.segments[k].step_time.value();
            nominal_time += t;
            scaled_time += t * sensitivities.factor(values, segment_step(k));
        }
        return priced_run(ev, scaled_wall(scaled_time / nominal_time), ev.scenario.pricing,
                          mfu / sensitivities.factor(values, ev.headline));
    }

    // The nominal wall clock on the claim's basis.
    Seconds nominal_wall() const {
        return basis == GpuHourBasis::steady_state ? nominal_steady_wall(ev) : mc.nominal_wall;
    }

    // The nominal wall clock with its simulated part × `ratio` (quoted phases unchanged).
    Seconds scaled_wall(double ratio) const {
        const Seconds quoted = hours(mc.quoted_gpu_hours / ev.scenario.cluster.gpus);
        return quoted + (nominal_wall() - quoted) * ratio;
    }

    std::size_t segment_step(std::size_t k) const {
        std::size_t n = 0;
        for (const auto& ph : ev.phases) {
            for (const auto& seg : ph.segments) {
                if (n++ == k) return seg.step;
            }
        }
        return ev.headline;
    }
};

// The thresholds of `claim` with only its criterion `key` ("cost_below", …) kept, to judge that criterion alone.
ClaimThresholds only_criterion(const ClaimSpec& claim, const std::string& key) {
    ClaimThresholds only;
    only.written = claim.thresholds.written;
    const ClaimThresholds& t = claim.thresholds;
    if (key == "cost_below") only.cost_below = t.cost_below;
    else if (key == "cost_above") only.cost_above = t.cost_above;
    else if (key == "wall_clock_below") only.wall_clock_below = t.wall_clock_below;
    else if (key == "wall_clock_above") only.wall_clock_above = t.wall_clock_above;
    else if (key == "gpu_hours_below") only.gpu_hours_below = t.gpu_hours_below;
    else if (key == "gpu_hours_above") only.gpu_hours_above = t.gpu_hours_above;
    else if (key == "mfu_above") only.mfu_above = t.mfu_above;
    else if (key == "mfu_below") only.mfu_below = t.mfu_below;
    else if (key == "energy_below") only.energy_below = t.energy_below;
    else if (key == "energy_above") only.energy_above = t.energy_above;
    else if (key == "cost_within") only.cost_within = t.cost_within;
    else if (key == "wall_clock_within") only.wall_clock_within = t.wall_clock_within;
    else if (key == "gpu_hours_within") only.gpu_hours_within = t.gpu_hours_within;
    else if (key == "mfu_within") only.mfu_within = t.mfu_within;
    else if (key == "energy_within") only.energy_within = t.energy_within;
    return only;
}

// Criterion `key` of `claim` as one-sided criteria, each with its bound: itself for a `*_below` or `*_above`; for a
// `*_within`, the criterion above its low and the one below its high (each flips at its own break-even).
std::vector<std::pair<ClaimThresholds, ClaimBound>> one_sided(const ClaimSpec& claim, const CriterionResult& c) {
    if (c.bound != ClaimBound::within) return {{only_criterion(claim, c.key), c.bound}};
    const ClaimThresholds& t = claim.thresholds;
    ClaimThresholds a, b;
    a.written = b.written = t.written;
    if (c.key == "cost_within") a.cost_above = t.cost_within->low, b.cost_below = t.cost_within->high;
    else if (c.key == "wall_clock_within") a.wall_clock_above = t.wall_clock_within->low, b.wall_clock_below = t.wall_clock_within->high;
    else if (c.key == "gpu_hours_within") a.gpu_hours_above = t.gpu_hours_within->low, b.gpu_hours_below = t.gpu_hours_within->high;
    else if (c.key == "mfu_within") a.mfu_above = t.mfu_within->low, b.mfu_below = t.mfu_within->high;
    else a.energy_above = t.energy_within->low, b.energy_below = t.energy_within->high;
    return {{a, ClaimBound::above}, {b, ClaimBound::below}};
}

// The figure criterion `key` ("cost_below", "mfu_within", …) bounds, of one run.
double criterion_figure(const std::string& key, const RunMetrics& m) {
    if (key.rfind("cost", 0) == 0) return m.cost.value();
    if (key.rfind("wall_clock", 0) == 0) return m.wall_clock.value();
    if (key.rfind("gpu_hours", 0) == 0) return m.gpu_hours;
    if (key.rfind("mfu", 0) == 0) return m.mfu;
    return m.energy.value();
}

// Whether uncertain input `i` enters criterion `c` at all: a reliability input every allocated-basis criterion but
// MFU; any other the ones whose figure moves across the input's range (a price outside the claim's rung, a
// research multiplier under a rung-1 claim, the price under an energy or wall-clock criterion do not).
bool enters(const Trial& trial, std::size_t i, const ClaimSpec& claim, const CriterionResult& c, std::optional<CostRung> rung) {
    const UncertainInput& input = trial.sampler.inputs()[i];
    if (input.path.rfind("reliability.", 0) == 0) return claim.basis == GpuHourBasis::allocated && c.key.rfind("mfu", 0) != 0;
    const auto figure = [&](double x) {
        const auto run = trial.at(i, x);
        return run ? criterion_figure(c.key, on_rung({*run}, rung).front()) : 0.0;
    };
    const double lo = figure(input.quantile(0.001)), hi = figure(input.quantile(0.999));
    const auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
    return !same(lo, hi) || !same(lo, figure(input.quantile(0.5)));
}

// The value of each uncertain input that enters criterion `c` of `claim` at which it flips on the nominal run (see
// the header).
std::vector<InputBreakEven> input_break_evens(const Trial& trial, const ClaimSpec& claim, const CriterionResult& c,
                                              std::optional<CostRung> rung) {
    std::vector<InputBreakEven> out;
    const auto& inputs = trial.sampler.inputs();
    const ClaimThresholds only = only_criterion(claim, c.key);  // so that holds() below judges it alone
    const auto sides = one_sided(claim, c);                      // a two-sided bound: each side flips on its own
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const UncertainInput& input = inputs[i];
        if (!enters(trial, i, claim, c, rung)) continue;
        InputBreakEven b;
        b.input = input.path;
        const auto holds = [&](const ClaimThresholds& t, double x) -> std::optional<bool> {
            const auto run = trial.at(i, x);
            if (!run) return std::nullopt;
            return probability_met(t, on_rung({*run}, rung)) == 1.0;
        };
        // The range searched: the distribution's 0.1st to 99.9th percentile.
        const double lo0 = input.quantile(0.001), hi0 = input.quantile(0.999);
        const auto at_lo = holds(only, lo0), at_hi = holds(only, hi0);
        if (!at_lo || !at_hi) {
            b.value_text = "not derived: a reliability input's break-even needs the interruptions re-simulated per trial value";
            out.push_back(b);
            continue;
        }
        const bool pricing = input.path.rfind("pricing.", 0) == 0;
        b.method = pricing ? "bisection over the cost model, re-priced exactly at each trial value"
                           : "bisection over the step times scaled by the sensitivity's interpolation (the 5th, 25th, 75th and 95th percentiles and the nominal value simulated)";
        bool flipped = false;
        for (const auto& [side, bound] : sides) {
            double lo = lo0, hi = hi0;
            const bool holds_low = *holds(side, lo);
            if (holds_low == *holds(side, hi)) continue;  // this side does not flip in the range
            for (int it = 0; it < 60; ++it) {
                const double mid = 0.5 * (lo + hi);
                if (*holds(side, mid) == holds_low) lo = mid;
                else hi = mid;
            }
            InputBreakEven e = b;
            e.value = 0.5 * (lo + hi);
            e.value_text = input.text(*e.value);
            e.side = holds_low ? "below it" : "above it";
            // A two-sided bound's side: which of its bounds this value meets.
            if (sides.size() > 1) e.side += bound == ClaimBound::above ? ", where the figure crosses the low bound" : ", where the figure crosses the high bound";
            out.push_back(e);
            flipped = true;
        }
        if (!flipped) {
            b.value_text = fmt::format("none between {} and {} (the input's 0.1st and 99.9th percentiles, the range searched): the "
                                       "criterion {} across that range", input.text(lo0), input.text(hi0),
                                       *at_lo ? "holds" : "fails");
            out.push_back(b);
        }
    }
    return out;
}

// The break-even of the failure rates: the factor k on every failure class's rate at which criterion `c` flips on
// the nominal run. The run is replayed with the rates × k over the nominal run's fixed seeds (median_replay; common
// random numbers, so the median wall clock grows with k), and the nominal wall clock is scaled by
// median(k) / median(1), so that k = 1 is the nominal run exactly. Bisection on log k over [1/1000, 100] (a fleet 100 times less reliable than the scenario's is past any published one). Only allocated-basis cost,
// wall-clock, GPU-hour and energy criteria depend on failures; none when the run has no failure class.
class FailureScale {
public:
    FailureScale(const Trial& trial, std::uint64_t seed, unsigned threads) : trial_(trial), seed_(seed), threads_(threads) {}

    // The break-evens of criterion `c`: one for a one-sided bound, one per side that flips for a two-sided one (or
    // one "none" when neither does); empty when failures do not enter it.
    std::vector<InputBreakEven> break_evens(const ClaimSpec& claim, const CriterionResult& c, std::optional<CostRung> rung) {
        const MonteCarlo& mc = trial_.mc;
        if (mc.run.reliability.classes.empty() || claim.basis != GpuHourBasis::allocated) return {};
        if (c.key.rfind("mfu", 0) == 0) return {};
        if (rung == CostRung::capital && c.key.rfind("cost", 0) == 0) return {};  // the capital outlay has no failures in it
        InputBreakEven b;
        b.input = "reliability.failures (every class's rate × k)";
        b.method = "bisection over the nominal run replayed with the rates scaled (same seeds)";
        const auto holds = [&](const ClaimThresholds& t, ClaimBound bound, double log_k) {
            const auto wall = wall_at(log_k);
            if (!wall) return bound == ClaimBound::above;  // a run that never finishes exceeds every upper bound
            const double mfu = trial_.ev.headline_step().mfu_bf16_full;
            return probability_met(t, on_rung({priced_run(trial_.ev, *wall, trial_.ev.scenario.pricing, mfu)}, rung)) == 1.0;
        };
        const double lo0 = std::log(1e-3), hi0 = std::log(1e2);
        const auto sides = one_sided(claim, c);
        std::vector<InputBreakEven> out;
        for (const auto& [side, bound] : sides) {
            double lo = lo0, hi = hi0;
            const bool at_lo = holds(side, bound, lo);
            if (at_lo == holds(side, bound, hi)) continue;
            for (int it = 0; it < 24; ++it) {
                const double mid = 0.5 * (lo + hi);
                if (holds(side, bound, mid) == at_lo) lo = mid;
                else hi = mid;
            }
            InputBreakEven e = b;
            const double k = std::exp(0.5 * (lo + hi));
            e.value = k;
            e.value_text = fmt::format("× {:.3g} the scenario's rates", k);
            e.side = at_lo ? "below it" : "above it";
            if (sides.size() > 1) e.side += bound == ClaimBound::above ? ", where the figure crosses the low bound" : ", where the figure crosses the high bound";
            out.push_back(e);
        }
        if (out.empty()) {
            const ClaimThresholds only = only_criterion(claim, c.key);
            b.value_text = fmt::format("none between × 0.001 and × 100 the scenario's rates: the criterion {} across that range",
                                       holds(only, c.bound == ClaimBound::within ? ClaimBound::below : c.bound, lo0) ? "holds" : "fails");
            out.push_back(b);
        }
        return out;
    }

private:
    // The nominal wall clock with every rate × e^log_k; nullopt when the run never finishes at that rate.
    std::optional<Seconds> wall_at(double log_k) {
        if (const auto it = memo_.find(log_k); it != memo_.end()) return it->second;
        const auto median = [&](double k) -> std::optional<double> {
            RunInputs run = trial_.mc.run;
            for (auto& fc : run.reliability.classes) fc.rate_per_unit_hour *= k;
            try {
                // Past 10^4 interruptions (the search reaches × 100 the rates) replays are long and their median is
                // the closed form's mean to well within a percent; past 10^7 simulate_run refuses the run.
                const Seconds mean = expected_run_wall_clock(run);
                const double n = expected_interruptions(run.reliability, run.gpus, run.gpus_per_host, mean);
                if (n > 1e4) return n > 1e7 ? std::nullopt : std::optional<double>(mean.value());
                return median_replay(run, seed_, threads_).value();
            } catch (const Error&) {
                return std::nullopt;  // more interruptions than a run can finish under
            }
        };
        if (!base_) base_ = median(1.0);
        std::optional<Seconds> out;
        const auto m = median(std::exp(log_k));
        if (m && base_ && *base_ > 0) out = trial_.scaled_wall(*m / *base_);  // the trial's basis is allocated
        memo_.emplace(log_k, out);
        return out;
    }

    const Trial& trial_;
    std::uint64_t seed_;
    unsigned threads_;
    std::optional<double> base_;
    std::map<double, std::optional<Seconds>> memo_;
};

// The nominal run (every input at its nominal value, the median of its fixed failure replays: median_replay), its
// cost, and each claim judged against it and against the samples.
void judge_claims(RunEvaluation& ev, const Samples& samples, const Trial& trial) {
    const Scenario& s = ev.scenario;
    const double mfu = ev.headline_step().mfu_bf16_full;
    const Seconds nominal_wall = trial.mc.nominal_wall;
    ev.nominal_wall_clock_days = in_days(nominal_wall);
    ev.nominal_gpu_hours = in_hours(nominal_wall) * s.cluster.gpus;
    const PricedRun nominal = priced_run(ev, nominal_wall, s.pricing, mfu);
    const PricedRun nominal_steady = priced_run(ev, nominal_steady_wall(ev), s.pricing, mfu);
    if (ev.priced) {
        ev.nominal_cost = cost_of(cost_inputs(ev, nominal_wall, s.pricing));
        ev.nominal_steady_cost = cost_of(cost_inputs(ev, nominal_steady_wall(ev), s.pricing));
        ev.nominal_ladder = cost_ladder(ladder_inputs(ev, nominal_wall, s.pricing));
    }
    check_claims_priced(s);  // read_scenario has checked it; a scenario built in code may not have been read
    if (!ev.options.judge_claims) return;
    FailureScale failures(trial, kNominalSeed, ev.options.threads);
    for (const auto& claim : s.claims) {
        std::optional<CostRung> rung;
        if (claim.has_cost()) {
            rung = claim.rung.value_or(ev.nominal_ladder->base);
            const RungCost& priced_rung = ev.nominal_ladder->at(*rung);
            if (!priced_rung.cost) throw unpriced_rung_error(claim, *rung, priced_rung.missing);
        }
        const std::vector<RunMetrics> all = on_rung(samples.of(claim.basis, 0), rung);
        const PricedRun& nominal_run = claim.basis == GpuHourBasis::steady_state ? nominal_steady : nominal;
        ClaimVerdict v = judge_claim(claim.text, claim.thresholds, on_rung({nominal_run}, rung).front(),
                                     ev.stochastic ? all : std::vector<RunMetrics>{});
        if (rung) v.rung = std::string(to_string(*rung));
        // The break-even price per GPU-hour (threshold / the final run's GPU-hours) is rung 1's: on another rung the
        // cost is not GPU-hours × one price, so it would mislead; the inputs' break-evens below still apply.
        if (rung && *rung != CostRung::rental) {
            for (auto& c : v.criteria) {
                c.break_even_per_gpu_hour.reset();
                c.break_even_low_per_gpu_hour.reset();
            }
        } else if (rung && first_priced_phase(s) != nullptr) {
            phase_priced_break_evens(v, ev, on_rung({nominal_run}, rung).front().gpu_hours);
        }
        v.basis = claim.basis;
        if (ev.stochastic && ev.run_uncertain && ev.economic_uncertain) {
            v.probability_run = probability_met(claim.thresholds, on_rung(samples.of(claim.basis, 1), rung));
            v.probability_economic = probability_met(claim.thresholds, on_rung(samples.of(claim.basis, 2), rung));
            for (auto& c : v.criteria) {
                const ClaimThresholds only = only_criterion(claim, c.key);
                c.probability_run = probability_met(only, on_rung(samples.of(claim.basis, 1), rung));
                c.probability_economic = probability_met(only, on_rung(samples.of(claim.basis, 2), rung));
            }
        }
        const Trial on_basis{trial.ev, trial.sampler, trial.sensitivities, trial.mc, claim.basis};
        for (auto& c : v.criteria) {
            if (!ev.options.break_evens) break;
            c.input_break_evens = input_break_evens(on_basis, claim, c, rung);
            for (auto& f : failures.break_evens(claim, c, rung)) c.input_break_evens.push_back(std::move(f));
        }
        ev.verdicts.push_back(std::move(v));
    }
}

// Interruptions and goodput averaged over the samples; the job's MTTF and checkpoint interval.
void summarize_reliability(RunEvaluation& ev, const MonteCarlo& mc) {
    double interruptions = 0, goodput = 0;
    for (const auto& r : mc.runs) {
        interruptions += r.interruptions;
        goodput += r.goodput();
    }
    const auto samples = static_cast<double>(mc.runs.size());
    ev.interruptions_mean = interruptions / samples;
    ev.goodput_mean = goodput / samples;
    ev.job_mttf = job_mttf(mc.run.reliability, mc.run.gpus, mc.run.gpus_per_host);
    ev.checkpoint_interval = checkpoint_interval(mc.run);
    add_allocation_terms(ev, mc);
}

}  // namespace

namespace {

// `f()`, with a step that outlasts simulated time (SimTimeRangeError, which has no position) reported at the keys
// that set a step's length (step_length_source).
template <class F>
auto locating_step_length(const Scenario& s, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const SimTimeRangeError& e) {
        throw ScenarioError(step_length_source(s), e.message() + " (the chip's figures, the model and the batch set a step's "
                                                                 "length: located at one of them, the last the scenario writes; "
                                                                 "`check` bounds a step by its FLOPs at the chip's peaks only, and "
                                                                 "knows a memory-bound or communication task's length only by "
                                                                 "simulating the step, as `run` does)",
                            e.hint());
    }
}

}  // namespace

RunEvaluation evaluate_run(const ScenarioSampler& sampler, const EvaluateOptions& options) {
    RunEvaluation ev;
    ev.scenario = sampler.nominal();
    ev.options = options;
    ev.options.step_cache = nullptr;  // the evaluation keeps its results, not the cache or the callbacks
    ev.options.progress = {};
    ev.options.step_progress = {};
    const std::shared_ptr<StepCache> cache = options.step_cache ? options.step_cache : std::make_shared<StepCache>();
    StepCounter counter{options};
    counter.step_inputs = static_cast<int>(std::count_if(sampler.inputs().begin(), sampler.inputs().end(), changes_steps));
    require_run_can_finish(ev.scenario);  // what `check` refuses without simulating, refused the same way here
    const StepTable table = locating_step_length(ev.scenario, [&] { return simulate_distinct_steps(ev, *cache, counter, options); });
    add_phase_outcomes(ev, table);
    if (options.nominal_only) {  // one Monte Carlo sample: the nominal wall clock is the fixed replays' median
        ev.nominal_wall_clock_days = in_days(run_monte_carlo(ev, sampler, StepSensitivities{}, options).nominal_wall);
        return ev;
    }
    const StepSensitivities sensitivities =
        locating_step_length(ev.scenario, [&] { return step_sensitivities(ev, sampler, table, *cache, counter, options); });
    const MonteCarlo mc = run_monte_carlo(ev, sampler, sensitivities, options);
    const Samples samples = sample_metrics(ev, mc);
    ev.economic_uncertain = std::any_of(sampler.inputs().begin(), sampler.inputs().end(),
                                        [](const UncertainInput& u) { return u.path.rfind("pricing.", 0) == 0; });
    ev.run_uncertain = !ev.scenario.reliability.failures.empty() ||
                       std::any_of(sampler.inputs().begin(), sampler.inputs().end(),
                                   [](const UncertainInput& u) { return u.path.rfind("pricing.", 0) != 0; });
    judge_claims(ev, samples, Trial{ev, sampler, sensitivities, mc});
    summarize_reliability(ev, mc);
    check_run_figures(ev);
    return ev;
}

}  // namespace gpuhours
