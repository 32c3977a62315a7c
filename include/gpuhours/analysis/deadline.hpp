// The deadline search of `gpuhours whatif --deadline`: the scenario re-planned at
// other GPU counts, and the fewest GPUs whose median wall clock meets a deadline.
#pragma once
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/workload/parallel.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

// The scenario re-planned for data-parallel degree `data` of its first simulated phase (every simulated phase's
// data degree scaled by the same factor, cluster.gpus = data × that phase's model-parallel ranks):
//   - a phase whose global batch no longer splits into whole micro-batches per replica, or into too few for its
//     pipeline schedule (DualPipe: an even count of at least 2 × stages; interleaved: a multiple of the stages),
//     grows its global batch to the smallest batch that does, as long as the batch in tokens stays within
//     `max_batch_tokens` (default: the phase's own tokens per batch, i.e. no growth); its batch ramp starts at the
//     same fraction of the new batch, rounded up to whole micro-batches per replica;
//   - the fabric gets the tiers (fat-tree) or the switch radix (two-tier multi-plane and rail-optimized fabrics,
//     doubled from the scenario's) the GPU count needs.
// A recipe other than the scenario's, which the deadline search tries beside it. A plan at more GPUs leaves fewer
// micro-batches per replica, which a schedule may refuse (DualPipe: at least 2 × stages) unless the global batch
// grows, and whose pipeline bubble grows: a smaller micro-batch or the 1F1B schedule (any count) keeps the batch
// instead, and a batch grown to the bound (--max-batch-tokens) shrinks the bubble. Written to [parallelism] and
// every simulated phase; 1F1B sets virtual_stages = 1.
struct Recipe {
    std::optional<Schedule> schedule;  // nullopt: each layout's own
    std::optional<int> micro_batch;    // sequences per micro-batch; nullopt: each layout's own
    // Every phase's batch grown to the largest the bound and the schedule allow (at least the smallest the
    // schedule needs; never below its own); false: grown only as far as the schedule needs.
    bool batch_to_bound = false;
    bool operator==(const Recipe&) const = default;
};

// The recipes the search tries for a layout, the scenario's own ({}) first, then in this order: the batch grown
// to the bound (when `batch_may_grow`: a bound above the phase's own tokens per batch), micro-batch 1 (when the
// layout's is larger), 1F1B (when the layout runs DualPipe or the interleaved schedule), and their combinations.
std::vector<Recipe> recipes_for(const ParallelLayout& p, bool batch_may_grow);

struct ScaledPlan {
    int data = 0;                        // the first simulated phase's data-parallel degree
    long long gpus = 0;
    std::vector<std::string> overrides;  // `--set` assignments that describe it (on top of the scenario's)
    std::string summary;                 // "TP1 PP16 DP640 EP64, global batch 20,480 (+33 %, 83.9M tokens)…"
    // Set when the plan needs a phase's batch beyond the bound: the phase and the tokens per batch it needs.
    std::optional<std::string> blocked;
    double needed_batch_tokens = 0.0;
    Recipe recipe;                       // {}: the scenario's schedule and micro-batch
};

// nullopt when `data` cannot be a scaled degree (a phase's degree would not be whole, or expert parallelism
// would not divide it). `recipe` replaces every layout's schedule and micro-batch (default: none replaced).
std::optional<ScaledPlan> scale_plan(const Scenario& s, int data, std::optional<double> max_batch_tokens,
                                     const Recipe& recipe = {});

// `tokens` rounded up to four significant digits as format_count writes it (83,886,080 → "83.89M", never
// "83.88M"): the --max-batch-tokens value that admits a batch of that many tokens.
std::string max_batch_tokens_text(double tokens);

struct DeadlineAnswer {
    std::optional<ScaledPlan> plan;      // the fewest GPUs that meet the deadline; nullopt: not reachable
    std::optional<double> days;          // their median wall clock
    std::string note;                    // one line: what was found, or why none was and what to change
    int probes = 0;                      // runs evaluated
};

// The median wall clock in days of the scenario with `overrides` on top of it, or nullopt when it cannot run;
// `error` receives the reason.
using DeadlineProbe = std::function<std::optional<double>(const std::vector<std::string>& overrides, std::string& error)>;

// The fewest GPUs (data-parallel degrees up to max_gpus / model-parallel ranks) meeting `deadline_days`, given the
// scenario's own median `own_days`. Assumes the wall clock does not rise with the GPU count (a stated
// assumption): gallops from the linear estimate own_days / deadline_days, then bisects to the exact degree. Each
// of recipes_for(first simulated phase's layout) is searched in turn, the others only below the fewest GPUs found
// so far; on a tie the earlier recipe (the scenario's own first) is the answer. `progress`, when set, is called
// after each run with the runs so far.
DeadlineAnswer search_deadline(const Scenario& s, double own_days, double deadline_days, int max_gpus,
                               std::optional<double> max_batch_tokens, const DeadlineProbe& probe,
                               const std::function<void(int runs)>& progress = {});

}  // namespace gpuhours
