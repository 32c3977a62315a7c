// The layout search (`gpuhours plan`): which tensor, context, pipeline, data and expert degrees, micro-batch,
// recomputation, pipeline schedule and virtual stages give the fastest step for a scenario's model, cluster and
// [training], among the layouts that obey the layout rules and fit in memory.
//
// Method (each stage is cheaper than the next and removes candidates before it):
//   1. enumerate the search space (PlanSpace, below) in a fixed order;
//   2. rules: validate_layout() (the scenario's own checks) and check_pipeline_shape() (the schedule's);
//   3. memory: check_fit() of the worst pipeline rank against the chip's capacity (closed form) — a layout that
//      does not fit is never simulated;
//   4. bound: step_time_lower_bound(), a closed-form time the simulated step can never beat;
//   5. simulate the survivors with simulate_step (symmetric mode) in ascending order of their bound, in waves of
//      PlanOptions::wave candidates run in parallel; before each wave, every candidate whose bound exceeds the
//      N-th best simulated time so far is pruned (and, the list being sorted, so is everything after it).
// The top N is exact: a candidate in the true top N has bound ≤ its time ≤ the N-th best time of any subset, so
// it is never pruned. Results do not depend on the number of threads or the order in which simulations finish:
// waves have a fixed size, results are stored by candidate index, and ties are broken by LayoutKey.
//
// Kept from the scenario (not searched): ZeRO stage, precision, rank order, communication SMs, gradient-reduce
// overlap and sequence parallelism (switched off where tensor = 1, which it needs). The step is the scenario's
// [training] (sequence length, global batch): the first phase when [[phases]] change them.
#pragma once

#include <gpuhours/workload/parallel.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/units/units.hpp>
#include <gpuhours/workload/workload.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace gpuhours {

// The values searched per axis. An empty list takes the default, derived from the scenario:
//   tensor:          divisors of cluster.gpus_per_node (tensor parallelism stays inside a node);
//   pipeline:        divisors of cluster.gpus up to the model's layers;
//   context:         {1}, and 2, 4, 8, 16 dividing the sequence when it is ≥ 16,384 tokens or the scenario
//                    already uses context parallelism (then its own degree too);
//   expert:          {1} for a dense model; for an MoE model the divisors of its routed experts;
//   expert_tensor:   the scenario's own (ParallelLayout::expert_tensor; unset, each candidate's tensor degree);
//                    given, each value per candidate (a value equal to the candidate's tensor is the candidate
//                    unfolded, stored as 0); ignored for a dense model;
//   micro_batch:     1, 2, 4, … up to max_micro_batch;
//   recompute:       none, selective, full;
//   schedules:       gpipe, 1f1b, zero-bubble, dualpipe (even pipeline only) and interleaved with each virtual
//                    stage count v in 2..max_virtual_stages for which pipeline × v ≤ the layers (chunks that do not
//                    divide them split them as `run` does, within one layer of each other, as Megatron-Core's
//                    pipeline layout allows: Llama 3 405B ran 126 layers on PP16 × 2). With pipeline = 1 every
//                    schedule is the same: only 1f1b is enumerated.
// data = gpus / (tensor × context × pipeline); a (tensor, context, pipeline) whose product does not divide the
// GPUs has no data degree and is not enumerated. Everything else (heads divisible by tensor, expert dividing
// data × context, global batch divisible by data × micro_batch, interleaved micro-batches a multiple of the
// pipeline, …) is left to the rules, and counted there.
struct PlanSpace {
    std::vector<int> tensor;
    std::vector<int> pipeline;
    std::vector<int> context;
    std::vector<int> expert;
    std::vector<int> expert_tensor;
    std::vector<int> micro_batch;
    std::vector<Recompute> recompute;
    std::vector<Schedule> schedules;       // interleaved stands for every admissible virtual stage count
    std::vector<int> virtual_stages;       // interleaved's v values; empty: 2..max_virtual_stages
    int max_micro_batch = 8;
    int max_virtual_stages = 8;
};

struct PlanOptions {
    PlanSpace space;
    int top = 5;            // candidates reported (and the N of the pruning threshold); ≥ 1
    unsigned threads = 0;   // simulation threads; 0: std::thread::hardware_concurrency()
    int wave = 4;           // with prune: candidates simulated between threshold updates (fixed: results never
                            // depend on threads); without, every survivor runs in one wave
    bool prune = true;      // false: simulate every candidate that passes the rules and the memory check
    // Called (from the simulating thread) just before each simulate_step, with the layout about to be simulated;
    // must be thread-safe. For tests and progress display; leave empty otherwise.
    std::function<void(const ParallelLayout&)> on_simulate;
    // Called (from the simulating thread, thread-safe) after each candidate is simulated and once when pruning ends
    // the queue, with the candidates settled so far and the queue's length (those that passed the rules and the
    // memory check): `done` reaches `total` when the search ends. For a progress bar; leave empty otherwise.
    std::function<void(std::size_t done, std::size_t total)> on_progress;
};

// The searched coordinates of a layout, in the order used to break ties: tensor, context, pipeline, data, expert,
// micro-batch, schedule, virtual stages, recompute.
using LayoutKey = std::tuple<int, int, int, int, int, int, int, int, int, int>;
LayoutKey layout_key(const ParallelLayout& layout);
// "TP8 CP1 PP8 DP24 EP1 mb1 interleaved×2 recompute=full"
std::string describe_layout(const ParallelLayout& layout);

enum class CandidateFate {
    rejected_by_rule,    // a layout rule or the schedule's shape rules
    rejected_by_memory,  // the worst pipeline rank does not fit
    pruned_by_bound,     // its lower bound exceeded the N-th best simulated time
    failed_in_simulation,  // simulate_step threw gpuhours::Error (reason says why)
    simulated,
    feasible,            // passed the rules and the memory check, not yet simulated (screen_layout's answer only)
};
std::string_view to_string(CandidateFate f);

struct PlanCandidate {
    ParallelLayout layout;
    int micro_batches = 0;        // per pipeline replica per step (global batch / (data × micro_batch)); 0 if not whole
    CandidateFate fate = CandidateFate::rejected_by_rule;
    std::string reason;           // the rule's or the simulator's message; the largest memory term when too big
    std::optional<FitCheck> fit;  // from the memory check onwards
    Seconds lower_bound;          // from the bound onwards
    std::optional<StepResult> step;  // simulated candidates only
    bool scenario_layout = false;    // the scenario's own [parallelism]
};

// One term of the breakdown, runner-up minus winner (positive: where the runner-up loses time).
struct TermDifference {
    std::string term;  // "compute", "recompute", "optimizer", "pipeline bubble", "exposed tensor communication", …
    Seconds winner;
    Seconds runner_up;
    [[nodiscard]] Seconds difference() const { return runner_up - winner; }
};

// Why the runner-up loses: the step-time difference split over the breakdown terms (mean per GPU, which sum to
// the step time, so the differences sum to the step-time difference), and what differs in the layouts.
struct RunnerUpExplanation {
    Seconds difference;                 // runner-up step time − winner step time (≥ 0)
    std::vector<TermDifference> terms;  // every term, in the breakdown's order
    std::size_t largest = 0;            // index into terms of the largest positive difference
    std::vector<std::string> changes;   // "schedule interleaved×2 → 1f1b", in LayoutKey order
};

// What differs from `from` to `to`, as the runner-up explanation lists it: "tensor 2 → 1", "schedule 1f1b →
// interleaved×2", "recompute none → full", in LayoutKey order. An expert-tensor degree is named only where a layout
// sets it (unset it follows `tensor`).
std::vector<std::string> layout_changes(const ParallelLayout& from, const ParallelLayout& to);

struct PlanCounts {
    std::size_t enumerated = 0;          // the search space (excluding the scenario's layout when outside it)
    std::size_t rejected_by_rule = 0;
    std::size_t rejected_by_memory = 0;
    std::size_t pruned_by_bound = 0;
    std::size_t failed_in_simulation = 0;
    std::size_t simulated = 0;
};

struct PlanResult {
    // Every candidate in enumeration order; the scenario's own layout is among them (appended at the end when
    // outside the search space). Its simulation is never pruned, so it can be compared.
    std::vector<PlanCandidate> candidates;
    // Indices of the search space's simulated candidates, fastest first (ties: LayoutKey); the scenario's layout is
    // among them only when inside the space (outside, it is compared, not counted: scenario_rank is where it would stand).
    std::vector<std::size_t> ranking;
    std::size_t scenario_index = 0;     // index of the scenario's layout in `candidates`
    bool scenario_in_space = false;     // whether the search space contains the scenario's layout
    // The scenario layout's 1-based rank among all feasible candidates, when it is known exactly (it was
    // simulated and is no slower than the N-th best, so every pruned candidate is slower); otherwise
    // scenario_rank_at_least bounds it from below (candidates pruned with a bound under its time may be faster).
    std::optional<std::size_t> scenario_rank;
    std::size_t scenario_rank_at_least = 0;  // 0 when the scenario's layout was not simulated
    PlanCounts counts;                  // over the search space (the scenario's layout only when inside it)
    std::optional<RunnerUpExplanation> runner_up;  // when at least two candidates were simulated
    int top = 0;

    [[nodiscard]] const PlanCandidate& best() const { return candidates.at(ranking.at(0)); }
    [[nodiscard]] const PlanCandidate& scenario() const { return candidates.at(scenario_index); }
};

// The layouts of the search space in enumeration order (tensor, context, pipeline, expert, micro-batch,
// recompute, schedule with its virtual stages; nested loops in that order), each carrying the scenario's kept
// fields. Throws gpuhours::Error for a space value below 1 or options out of range.
std::vector<ParallelLayout> enumerate_layouts(const Scenario& s, const PlanSpace& space = {});

// A time the symmetric simulation of `spec` can never beat (compute only: no communication, no optimizer, no
// materialized-attention traffic; every term of it is also in the simulated step). Per pipeline stage s:
//   head_s: the forward of micro-batch 0 through the model chunks before the first chunk s holds;
//   busy_s: every forward, backward and recompute the stage's compute stream runs (kernel model, kernel.hpp);
//   tail_s: GPipe, 1F1B, interleaved: the stage's last op is the backward of its first chunk, after which that
//           micro-batch's backward still runs through every earlier chunk; zero-bubble and DualPipe: 0.
// bound = max_s head_s + busy_s + tail_s. With equal stages under 1F1B this is (m + p − 1)(F + B), the ideal
// pipeline bubble included; interleaved, (m·v + p − 1)(f + b) with per-chunk times f, b.
// Throws gpuhours::Error when the global batch does not split into micro-batches.
Seconds step_time_lower_bound(const StepSpec& spec);

// The closed-form part of the search for one layout (rules, memory, bound): fate rejected_by_rule,
// rejected_by_memory (with `fit`), or feasible (with `fit` and `lower_bound`). For benchmarks and callers that
// screen their own layouts.
PlanCandidate screen_layout(const Scenario& s, const ParallelLayout& layout);

// The search. Throws gpuhours::Error for bad options (top < 1, wave < 1, a space value below 1).
PlanResult plan_layouts(const Scenario& s, const PlanOptions& options = {});

}  // namespace gpuhours
