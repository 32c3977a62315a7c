// Compute-restriction what-ifs: the same scenario re-run on other chips (or every chip a rule set permits), with
// a layout re-derived when the scenario's own does not fit, and the GPU count each chip needs to meet a deadline.
#pragma once

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/workload/parallel.hpp>
#include <gpuhours/run/policy.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/units/units.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

// What bounds a run's step on a chip, from its breakdown: the largest of
//   compute           kernels bound by the tensor cores (time at the achieved FLOP/s)
//   HBM bandwidth     kernels bound by memory traffic (elementwise, norms, attention at small sizes, …)
//   NVLink            exposed communication of groups that stay inside a node (scale-up domain)
//   network           exposed communication of groups that span nodes
//   pipeline bubble   idle stages
// and "memory capacity" when the scenario's layout does not fit on the chip and had to be re-derived.
enum class Limiter { compute, hbm, nvlink, network, bubble, memory_capacity };
std::string_view to_string(Limiter l);

struct WhatIfRequest {
    // Catalog ids; empty with a rule: every catalog chip the rule permits, after the scenario's own chip as the
    // reference row when the rule does not permit it.
    std::vector<std::string> chips;
    std::optional<RuleSet> rule;            // classify each chip; with no chips given, keep the permitted ones
    std::optional<Seconds> deadline;        // find the GPU count each chip needs to finish within it
    std::vector<std::string> overrides;     // applied to every variant (hypothetical chips: cluster.chip.…=…)
    int max_gpus = 1 << 17;                 // deadline search limit
    // Deadline search: the largest global batch, in tokens, a phase may grow to when more data-parallel replicas
    // leave it too few micro-batches for its schedule; nullopt: each phase's own batch (no growth).
    std::optional<double> max_batch_tokens;
    bool same_price = false;                // keep the scenario's GPU-hour price for every chip (no catalog prices)
    // The Monte Carlo samples of the scenario's own chip's row (EvaluateOptions::samples: 0 is its default), so that
    // it reproduces `gpuhours run`'s headline; nullopt: the options' own, as every other chip.
    std::optional<int> own_samples;
};

struct WhatIfRow {
    std::string chip;                  // catalog id
    std::string chip_name;             // display name
    // The scenario's own chip as written ([cluster.chip] table included), unswapped: the headline run; listed
    // first as the reference when a rule does not permit it.
    bool reference = false;
    std::string classification;        // under the rule: "not controlled", "licence required", …; empty without a rule
    std::string classification_reason;
    bool subject = true;               // false: the rule does not reach the chip's vendor (permitted whatever its class)
    bool permitted = true;             // under the rule (true without one): false for a chip the rule does not permit
                                       // (the reference row when the rule chose the chips; any chip --chips names)
    int gpus = 0;
    ParallelLayout layout;             // as simulated
    // The scenario's setup was changed for this chip (the text's †): its layout did not fit, or an efficiency, the
    // communication SMs, a precision, the NIC or the node size was carried over or re-derived; `layout_note` says what.
    bool layout_rederived = false;
    std::string layout_note;
    // The `--set` assignments that make the scenario this chip's (the chip, what was re-derived for it); with the
    // command's own --set they re-run the row: `gpuhours run SCENARIO --set …`. Empty for the scenario's own chip.
    std::vector<std::string> chip_overrides;
    int samples = 0;  // the Monte Carlo runs its claims' shares are over (the scenario's own row: as `run` takes them)
    bool feasible = true;              // false: no layout fits or the run cannot be simulated; `error` says why
    std::string error;
    double step_time_s = 0.0;          // the headline step
    double mfu_bf16 = 0.0;             // of the headline step, full-attention FLOPs, BF16 peak
    // The nominal run's (every input nominal, failures replayed over fixed seeds), as `gpuhours run`'s headline.
    double wall_clock_days = 0.0;
    double gpu_hours = 0.0;               // allocated: what the cluster is held for
    double steady_state_gpu_hours = 0.0;  // steps × step time × GPUs, no failures or overheads
    double price_gpu_hour = 0.0;       // the nominal rental price per GPU-hour the row is costed at; 0 when unpriced
    std::string price_note;            // where that price comes from: "catalog: <source>" or "the scenario's …"
    // The chip has no catalog price and is costed at another chip's (the scenario's): its cost and cost claims say
    // nothing about this chip's market (an audit: a GB200 at the H800's $2 "HOLDS" beside a B200 at $4.89 that fails).
    bool price_borrowed = false;
    double cost_usd = 0.0;             // the nominal run's; 0 when unpriced
    std::string cost_basis;            // the rung cost_usd is on: "rung 1, the final run at rental prices"; empty unpriced
    double energy_mwh = 0.0;           // at the median wall clock; 0 when unpriced
    Limiter limiter = Limiter::compute;
    std::vector<std::pair<Limiter, double>> limiter_seconds;  // the step time each bound accounts for, largest first
    std::vector<ClaimVerdict> verdicts;
    // Where the step model is known to be optimistic for this chip's run (step_caveats, analysis/validation.hpp):
    // a chip with a larger scale-up domain can bring an expert-parallel group inside one node.
    std::vector<std::string> caveats;
    std::optional<int> deadline_gpus;  // GPUs needed to meet the deadline; nullopt: not reachable (see deadline_note)
    std::optional<double> deadline_days;        // their median wall clock, days
    std::string deadline_layout;                // their layout, batch and fabric, in words
    std::vector<std::string> deadline_overrides;  // `--set` assignments that give that run (with the chip's own)
    std::string deadline_note;                  // one line: the answer, or why there is none and what to change
};

// The row's limiter as printed: its name, and for "memory capacity" (the layout had to change to fit) also what
// bounds the re-derived step, the largest share of limiter_seconds: "memory capacity, then compute".
std::string limiter_label(const WhatIfRow& row);
// Whether the row's cost (on rung 1, the rental price) and a claim's cost criterion rest on a borrowed price
// (WhatIfRow::price_borrowed): tables mark them §. A claim on the ownership or capital rung does not.
bool cost_on_borrowed_price(const WhatIfRow& row);
bool claim_on_borrowed_price(const WhatIfRow& row, const ClaimVerdict& v);
// The row's class as tables print it: "3A090.a", or "3A090.a (not subject)" where the rule does not reach the chip's
// vendor (WhatIfRow::subject); empty without a rule.
std::string class_label(const WhatIfRow& row);

struct WhatIfResult {
    std::string scenario_title;
    std::optional<std::string> rule;   // rule set id
    std::optional<RuleSet> rule_set;   // the rule set itself (title, source, note) when there is one
    std::optional<Seconds> deadline;
    std::vector<WhatIfRow> rows;       // in the order of the request's chips (catalog order for a rule)
    // With a rule choosing the chips (no --chips): the catalog chips it does not permit, left out, each with its
    // class, in catalog order (the scenario's own chip, run as the reference row, not among them).
    std::vector<std::pair<std::string, std::string>> not_permitted;
    // What every swapped chip keeps from the scenario's [cluster.chip] table (ScenarioSources::chip_overrides):
    // values written for the scenario's own chip, such as a calibrated efficiency, carried to the others. Not the
    // keys a --set gives (the command's overrides, which apply to every chip as given).
    std::vector<std::string> carried;
};

// What § means, naming the feasible rows priced at a borrowed price: "§ gb200, tpu-v5p: no catalog rental price, …"
// (no final stop), as whatif prints it under its table and the report under its own; empty when no row is.
std::string borrowed_price_note(const WhatIfResult& result);

// The figures of an evaluated run into `row`: GPUs, the first simulated phase's layout, the headline step's time
// and MFU (BF16, full attention), median wall clock and GPU-hours, cost and energy at the nominal prices and the
// median wall clock (0 unpriced), what limits the step (memory capacity when row.layout_rederived says the layout
// did not fit), and the claim verdicts. The chip, price and deadline fields are left as they are.
void fill_whatif_row(WhatIfRow& row, const RunEvaluation& ev);

// The scenario put on a catalog chip the way `whatif` swaps chips: `overrides` (on top of `extra`, which come
// first) set the chip, the communication SMs at the scenario's share of the chip's SMs, BF16 where the chip has
// no peak for the compute precision, more recomputation or ZeRO where the layout does not fit, and the chip's
// catalog rental price unless `same_price` (or the chip has none, or is the scenario's own: then only `extra`).
// `note` says what was re-derived and where the price comes from. Throws ScenarioError when no layout fits.
// With `fit` false the memory fit is left out (no recomputation or ZeRO added): for a caller that changes the data
// degree after the swap and fits there (fit_swapped), since the memory a layout needs depends on it (ZeRO shards
// over the data-parallel ranks: Llama 3.1 405B TP8 PP16 on H100 needs 121.4 GB at data 1, 71.01 GB at data 78).
struct ChipSwap {
    std::vector<std::string> overrides;
    std::string note;
    double price_gpu_hour = 0.0;  // 0: unpriced
};
ChipSwap chip_swap(const std::filesystem::path& file, const LoadOptions& base, const std::string& chip,
                   const std::vector<std::string>& extra, bool same_price = false, bool fit = true);

// The memory fit chip_swap leaves out with `fit` false, at `overrides` (the swap's, then the caller's degrees):
// more recomputation, then more ZeRO, where the layout does not fit on `chip` (never a recompute or ZeRO stage
// `extra` or `base` sets); on the scenario's own chip only when its file fits as written. `note` names what was
// added (empty when nothing). Throws ScenarioError when no layout fits.
struct MemoryFit {
    std::vector<std::string> overrides;
    std::string note;
};
MemoryFit fit_swapped(const std::filesystem::path& file, const LoadOptions& base, const std::string& chip,
                      const std::vector<std::string>& extra, const std::vector<std::string>& overrides);

// Evaluates `file` once per chip. Options (mode, network, samples, seed) as for evaluate_run; each variant uses
// the same seed, so rows differ only by the chip. `progress(done, total)` is called after each chip's row.
WhatIfResult run_whatif(const std::filesystem::path& file, const LoadOptions& base, const WhatIfRequest& request,
                        const EvaluateOptions& options, const std::function<void(int, int)>& progress = {});

}  // namespace gpuhours
