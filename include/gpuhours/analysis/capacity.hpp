// `gpuhours capacity`: what a fixed cluster can train by a deadline (and within a budget) — the inverse of `run`.
//
// (a) The most tokens: the scenario's model on each chip (whatif's chip swap, chip_swap in whatif.hpp) at the
//     largest GPU count its layout reaches within the GPUs given (scale_plan in deadline.hpp: data-parallel degree
//     = GPUs / model-parallel ranks, rounded down; batches grown within a bound, the fabric derived), with its
//     first simulated phase's tokens searched. For a fixed layout the wall clock is close to linear in tokens:
//     steps = tokens / tokens per batch at one step time, interruptions and checkpoints in proportion to the run's
//     length, plus what does not scale (a batch ramp over fixed tokens, phases given in steps, quoted phases). So
//     the search fits a line through the last two runs (secant), starting from the scenario's own tokens, and
//     keeps a bracket: the most tokens found that meet the deadline (and budget) and the fewest that do not,
//     until they are within `precision` of each other. Every answer is a forward simulation; `linearity` reports
//     how far from proportional the wall clock was.
// (b) Along a model family (scenarios/families/, family.hpp): each rung's model on the chip with the rung's
//     layout, re-planned to the GPUs, trained to its token target (tokens_per_parameter × total parameters, or a
//     given count); the largest rung that meets the deadline (and budget).
#pragma once

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/scenario/family.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/units/units.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

struct CapacityRequest {
    std::vector<std::string> chips;          // catalog ids; empty: the scenario's own chip
    long long gpus = 0;                      // GPUs available
    Seconds deadline;                        // median wall clock must be at most this
    std::optional<Dollars> budget;           // the samples' median cost, at most this (as the median wall clock the deadline)
    // The largest global batch, in tokens, a phase may grow to when the GPU count leaves it too few micro-batches
    // or splits it unevenly (scale_plan); nullopt: 1.25 × the phase's own.
    std::optional<double> max_batch_tokens;
    std::vector<std::string> overrides;      // --set, under every variant
    bool same_price = false;                 // the scenario's price for every chip (default: each chip's catalog price)
    double precision = 0.01;                 // the token search stops when (fewest failing) ≤ (most meeting) × (1 + this)
    // (b)
    std::optional<ModelFamily> family;
    double tokens_per_parameter = 20.0;      // Chinchilla (Hoffmann et al. 2022, arXiv 2203.15556): ~20 tokens per parameter
    std::optional<double> tokens;            // a fixed token target for every rung instead of the ratio
};

// A cluster as planned for one chip: the GPUs its layout uses and the assignments that give it.
struct CapacityPlan {
    long long gpus = 0;                   // ≤ CapacityRequest::gpus
    std::string layout;                   // scale_plan's summary: "TP8 CP1 PP16 DP78 EP1, global batch 2,106 (grown…)…"
    std::vector<std::string> overrides;   // chip swap, then the re-plan (without the tokens)
    std::string chip_note;                // what the chip swap re-derived, and the price
    // Why fewer GPUs than asked, when a larger data degree was refused by the batch bound: "2,304 of the 10,000
    // GPUs: more replicas would need …"; empty when the count is the most whole nodes of replicas that fit.
    std::string gpus_note;
};

// (a) for one chip.
struct TokenCapacity {
    std::string chip, chip_name;
    bool feasible = false;        // false: `note` says why (nothing fits, no count reaches, not even the least tokens meet)
    CapacityPlan plan;
    std::string tokens_key;       // "training.tokens" or "phases.N.tokens": the key the search sets
    double tokens = 0.0;          // the most tokens found that meet the deadline (and budget)
    double days = 0.0;            // its median wall clock
    double cost_usd = 0.0;        // its cost, the samples' median (0 unpriced)
    double gpu_hours = 0.0;
    std::string bound;            // "deadline" or "budget": which one the next tokens would break
    double tokens_over = 0.0;     // the fewest tokens found that do not meet it (≤ tokens × (1 + precision))
    double days_over = 0.0, cost_over_usd = 0.0;
    double linearity = 0.0;       // (days / tokens at the answer) / (days / tokens at the scenario's own tokens)
    int probes = 0;               // runs evaluated
    std::string note;
};

// (b) one rung on one chip.
struct RungCapacity {
    std::string model, model_name;
    double parameters = 0.0;      // total
    double tokens = 0.0;          // its target
    bool ran = false;             // false: `note` says why (does not fit, no count reaches)
    bool meets = false;
    CapacityPlan plan;
    double days = 0.0, cost_usd = 0.0;  // medians over the samples, as TokenCapacity's
    std::string note;
};

struct FamilyCapacity {
    std::string chip, chip_name;
    std::vector<RungCapacity> rungs;  // smallest first; evaluated until one fails after one that met
    std::optional<std::size_t> largest;  // the largest rung that meets
};

struct CapacityResult {
    std::string title;
    long long gpus = 0;
    Seconds deadline;
    std::optional<Dollars> budget;
    bool priced = false;                 // the scenario prices its runs (prices_run): the answers carry a cost
    // The phase whose tokens (a) searches, when the scenario has [[phases]]: its name, and how many other phases
    // run as written beside it (the flagship: "pre-training", 3: two context extensions and quoted post-training).
    std::string searched_phase;
    std::size_t other_phases = 0;
    std::vector<TokenCapacity> tokens;   // one per chip
    std::string family_name;             // empty: no (b)
    double tokens_per_parameter = 0.0;
    std::optional<double> family_tokens;
    std::vector<FamilyCapacity> family;  // one per chip
    EvaluateOptions options;
};

// The scenario on `chip` re-planned to at most `gpus` GPUs (the largest data-parallel degree whose count is within
// them, on whole nodes). Throws Error saying why when none is (fewer GPUs than one replica) or when nothing fits.
CapacityPlan plan_capacity(const std::filesystem::path& file, const LoadOptions& base, const std::string& chip,
                           long long gpus, const std::vector<std::string>& extra, std::optional<double> max_batch_tokens,
                           bool same_price);

// Answers (a) for every chip, and (b) when a family is given. Options as for evaluate_run (one step cache shared).
// `progress(done, total)` after each chip's (a) and each rung. Throws for a request that cannot be answered at all
// (no GPUs, a scenario that does not load); a chip that cannot run is an infeasible row.
CapacityResult run_capacity(const std::filesystem::path& file, const LoadOptions& base, const CapacityRequest& request,
                            const EvaluateOptions& options, const std::function<void(int, int)>& progress = {});

}  // namespace gpuhours
