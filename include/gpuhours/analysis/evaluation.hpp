// A whole scenario evaluated: the composition of the layers below it, with nothing printed. Scenario → one step
// simulation per distinct step shape (phase, batch-ramp level) → run segments → Monte Carlo over interruptions
// and uncertain inputs → cost and energy → claim verdicts. `gpuhours run`, `whatif`, `sweep` and `report` all
// print or compare RunEvaluations; none of them re-implements a part of it.
//
// Uncertain inputs that change the step (chip, model, layout, training) are simulated one at a time on a grid: each
// at its 5th, 25th, 75th and 95th percentiles with every other input nominal (every distinct step shape at each),
// and a sample's step time is the nominal one times, for each such input, the step-time ratio interpolated
// piecewise-linearly through the grid's points and (nominal, 1) — issue #13 item 4's grid; below the 5th or above
// the 95th percentile, along the end segment. Documented approximation: effects combine
// multiplicatively and interactions between step inputs are ignored (a joint grid would cost the grid's size to the
// power of their number). Pricing and reliability inputs are drawn per sample exactly.
#pragma once

#include <gpuhours/run/claims.hpp>
#include <gpuhours/run/economics.hpp>
#include <gpuhours/network/network.hpp>
#include <gpuhours/run/run.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/units/units.hpp>

#include <cstddef>
#include <memory>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

struct EvaluateOptions {
    SimulationMode mode = SimulationMode::symmetric;
    NetworkKind network = NetworkKind::flow;
    int samples = 0;              // Monte Carlo runs; 0: 200 when anything is stochastic, else 1
    std::uint64_t seed = 1;
    bool record_trace = false;    // keep the headline step's trace (StepResult::trace)
    unsigned threads = 0;         // 0: all cores. Results never depend on it.
    // Called as samples finish (done, total), from one thread; for a progress bar.
    std::function<void(int, int)> progress;
    // Called as step simulations progress (done, total: the distinct steps and the sensitivity steps; `done` counts
    // the finished ones whole and adds each one under way's share of its events, so it can be fractional and grows
    // while a long step runs), from the worker threads (the callee synchronises); for a progress bar.
    std::function<void(double, int)> step_progress;
    // Steps already simulated, shared by the evaluations of one question (sweep points, what-if variants and
    // deadline probes, validation cases) so that no step is simulated twice; null: a cache of this evaluation only.
    std::shared_ptr<StepCache> step_cache;
    // Only the nominal wall clock is wanted (the deadline search's runs): the distinct steps, the phases and
    // nominal_wall_clock_days are filled; no sensitivity steps, one Monte Carlo sample, no claims, no cost.
    bool nominal_only = false;
    // false: the claims are not judged (RunEvaluation::verdicts empty); a search's runs need the run's figures only,
    // and a claim's break-evens replay the run many times over.
    bool judge_claims = true;
    // false: the claims are judged (verdicts, shares, break-even prices) without each criterion's input and
    // failure-rate break-evens, whose bisections replay the run hundreds of times (about two thirds of a 7-point
    // price sweep's CPU); for evaluations whose output shows none: sweep points, what-if rows, compare's columns.
    bool break_evens = true;
};

// One batch level of a phase: `steps` steps of the simulated step `step` (an index into RunEvaluation::steps).
struct SegmentResult {
    int global_batch = 0;
    double tokens = 0.0;
    double steps = 0.0;
    std::size_t step = 0;
};

struct PhaseOutcome {
    std::string name;
    int sequence_length = 0;
    bool quoted = false;              // GPU-hours taken from a source, not simulated
    std::string quoted_source;
    std::vector<SegmentResult> segments;  // empty when quoted
    Seconds compute_time;             // Σ steps × step time, no interruptions (quoted: GPU-hours / GPUs)
    double gpu_hours = 0.0;           // at compute_time, or quoted
    std::optional<Dollars> gpu_hour;  // the phase's own rental price, when it has one
};

// Percentiles over the Monte Carlo samples (all equal when nothing is stochastic).
struct Spread {
    double p05 = 0.0, p50 = 0.0, p95 = 0.0, mean = 0.0;
};
Spread spread_of(std::vector<double> values);

struct RunEvaluation {
    Scenario scenario;                 // the nominal scenario
    EvaluateOptions options;           // as run (samples resolved)
    std::vector<StepResult> steps;     // one per distinct step shape
    std::size_t headline = 0;          // the first simulated phase at its full batch
    std::vector<PhaseOutcome> phases;
    bool stochastic = false;           // interruptions or uncertain inputs: the figures are distributions
    std::vector<std::string> uncertain_inputs;  // UncertainInput::describe() of each
    std::vector<std::string> uncertain_nominal_basis;  // UncertainInput::nominal_basis() of each, in the same order
    // Of each, in the same order: a step input (chip, model, layout, training) whose grid moved no step time of this
    // run at all (an FP8 efficiency under BF16 compute), so that it is not read as an uncertainty the figures carry.
    std::vector<bool> uncertain_without_step_effect;

    // Per Monte Carlo sample, in sample order (byte-identical for a seed).
    std::vector<double> wall_clock_days;
    std::vector<double> gpu_hours;     // GPUs × wall clock
    std::vector<double> cost_usd;      // 0 when unpriced
    std::vector<double> energy_mwh;    // 0 when unpriced
    Spread wall_clock_days_spread, gpu_hours_spread, cost_spread, energy_spread;
    // The nominal run: every uncertain input at its nominal value, its interruptions replayed over 201 fixed seeds
    // (the median replay; one replay without failure classes), quoted phases included. Independent of --samples.
    double nominal_wall_clock_days = 0.0;
    double nominal_gpu_hours = 0.0;    // GPUs × nominal wall clock (allocated basis)

    // The two bases (claims.hpp's GpuHourBasis), per sample: `gpu_hours` above is the allocated basis (GPUs × wall
    // clock); this is the steady state (GPUs × Σ steps × step time of the sample's step-time draw, quoted phases
    // included), what DeepSeek-V3's 2,664K is.
    std::vector<double> steady_state_gpu_hours;
    Spread steady_state_gpu_hours_spread;
    // Allocated − steady-state GPU-hours, term by term: means over the samples of GPUs × each term of RunSample (lost
    // work, restarts, checkpoint writes) and of each overhead, in that order. They sum to the difference of the means.
    struct AllocationTerm {
        std::string key;      // stable, for JSON: "lost_work", "restarts", "checkpoint_writes", or the overhead's key
        std::string name;     // as printed: "lost work since the last checkpoint", "restarts (…)", …
        double gpu_hours = 0.0;
    };
    std::vector<AllocationTerm> allocation_terms;
    Seconds restart_time;                   // per interruption, as the run used it
    std::optional<RecoveryParts> recovery;  // its parts, when the scenario gives no restart_time

    double interruptions_mean = 0.0;
    double goodput_mean = 1.0;
    std::optional<Seconds> job_mttf;   // nullopt: no failure classes
    Seconds checkpoint_interval;
    Seconds checkpoint_write;          // as given, or derived from the checkpoint size and storage bandwidth
    Bytes checkpoint_size;             // model and optimizer state written per checkpoint

    bool priced = false;
    // The headline cost: the scenario's own basis (rental, else ownership) of the nominal run (wall clock
    // nominal_wall_clock_days, every input at its nominal value). The samples' median and interval are labelled apart wherever they are shown.
    std::optional<CostBreakdown> nominal_cost;
    // The same prices on the nominal run's steady-state GPU-hours (simulated_gpu_hours: no failures or overheads),
    // the basis of a reported "GPU-hours × price" such as DeepSeek-V3's 2.788M × $2 = $5.576M; set with nominal_cost.
    std::optional<CostBreakdown> nominal_steady_cost;
    std::optional<CostLadder> nominal_ladder;   // every rung of the cost ladder, as nominal_cost
    // Where the samples' uncertainty comes from: the run's own (step inputs, reliability inputs, interruptions)
    // and the economic assumptions' (uncertain [pricing] inputs). ClaimVerdict::probability_run / _economic
    // split the probability when both are present.
    bool run_uncertain = false;
    bool economic_uncertain = false;
    std::vector<ClaimVerdict> verdicts;

    [[nodiscard]] const StepResult& headline_step() const { return steps.at(headline); }
    [[nodiscard]] double simulated_gpu_hours() const;  // Σ phases' GPU-hours, no interruptions, quoted included
};

// Internal checks on the figures an analysis is about to report. Each throws std::logic_error — the CLI's
// "internal error", exit 1 — so that an absurd figure is never printed: the scenario layer (limits.hpp) and SimTime
// reject the inputs that could cause one, so one that gets here is a bug.
// A step: time positive and finite; FLOPs, MFU and HFU finite and not negative; MFU (causal) and HFU against the
// compute format's peak at most 100 %. (Full-attention MFU counts products a causal kernel skips, and BF16 MFU of an
// FP8 step is against a lower peak: either may pass 100 %, and is only required finite.)
void check_step_figures(const StepResult& step);
// A run: every Monte Carlo sample's wall clock, GPU-hours, cost and energy finite and not negative.
void check_run_figures(const RunEvaluation& ev);

// Evaluates a scenario. Each claim's criteria also get the break-even value of each uncertain input
// (InputBreakEven): the value at which the nominal run's criterion flips, every other input nominal, found by
// bisection over the trial value's figure — re-priced exactly for a [pricing] input; for a step input, the step
// times scaled by the sensitivity's interpolation (the Monte Carlo's own approximation, see above); not derived
// for reliability inputs (it would need the interruptions re-simulated per trial) nor for `*_within` bounds. Only
// the inputs that enter a criterion are listed for it: a figure that does not move across the input's range (a
// research multiplier under a rung-1 cost, a price under a wall clock) has no break-even to give.
// Throws ScenarioError (a layout that does not fit, a claim on cost without pricing) and
// Error (a schedule the layout cannot run).
RunEvaluation evaluate_run(const ScenarioSampler& sampler, const EvaluateOptions& options = {});

// `check`'s counterpart of the run's "practically never finishes" refusal (run.hpp, require_run_finishes), without
// simulating a step: every simulated phase's steps at their compute lower bound, model FLOPs (causal attention) at
// the chip's peak for the phase's compute precision on every GPU — no step is faster, and the expected interruptions
// grow with the work and with the (computed) checkpoint interval, so a scenario refused here is refused by `run`
// too. Throws Error located at the restart, interval or failure-class key.
void require_run_can_finish(const Scenario& s);

// The steps a run of `s` trains, as `run` counts them: over its simulated phases (a quoted phase has none), each
// batch-ramp level's tokens / (its global batch × the phase's sequence length). Fractional where a phase given in
// tokens ends inside a step. `rounded`: each level's count rounded as run's phase table prints it, so that a total
// printed beside that table is the sum of its rows (check printed 244,458 beside rows summing to 244,457).
double planned_steps(const Scenario& s, bool rounded = false);

// A sentence naming the batch-ramp levels of `ph` that run at a larger batch than their midpoint's, raised to the
// least batch the phase's schedule takes with its data degree and micro-batch (DualPipe: 2 × pipeline micro-batches
// per replica; the flagship's ramp from 3,072 on 256 replicas runs its first two levels at 8,192), for the output to
// say so; nullopt when none is raised (a quoted phase, or a phase without a ramp, has none).
std::optional<std::string> raised_ramp_note(const PhaseSpec& ph);

// A lower bound on the compute time of the scenario's simulated phases on `gpus` GPUs, in seconds: every token of
// every phase (each batch-ramp level's) at its shortest time on one GPU — GEMM FLOPs at the chip's best GEMM rate
// (a peak times its GEMM efficiency), attention FLOPs at the larger peak times the attention efficiency — divided
// by `gpus`, with no communication, bubble, memory-bound kernel, optimizer or failure. No simulated run is faster.
// The deadline search (deadline.hpp) answers a deadline below it without simulating a step.
double shortest_compute_seconds(const Scenario& s, long long gpus);

}  // namespace gpuhours
