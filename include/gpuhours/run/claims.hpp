// Verdicts on public claims ("under $6M in under two months") from the run's metrics, with the probability that
// the claim holds under the scenario's stated uncertainty.
#pragma once

#include <gpuhours/units/units.hpp>

#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

// The run's figures a claim can speak of, for one Monte Carlo sample (or the nominal run).
struct RunMetrics {
    Dollars cost;
    Seconds wall_clock;
    double gpu_hours = 0.0;
    double mfu = 0.0;
    Joules energy;
};

// A closed interval [low, high] a metric must fall strictly inside (`*_within = [low, high]`).
template <class Q>
struct Within {
    Q low{};
    Q high{};
};

// What a claim says, one optional bound per metric and direction. Units: cost in dollars, wall clock in seconds
// (the whole run, interruptions included), GPU-hours, MFU as a fraction of the BF16 peak with full-attention FLOPs,
// energy in joules (facility). Every bound is strict: "below $6M" is not met by exactly $6M.
struct ClaimThresholds {
    std::optional<Dollars> cost_below, cost_above;
    std::optional<Seconds> wall_clock_below, wall_clock_above;
    std::optional<double> gpu_hours_below, gpu_hours_above;
    std::optional<double> mfu_above, mfu_below;
    std::optional<Joules> energy_below, energy_above;
    std::optional<Within<Dollars>> cost_within;
    std::optional<Within<Seconds>> wall_clock_within;
    std::optional<Within<double>> gpu_hours_within;
    std::optional<Within<double>> mfu_within;
    std::optional<Within<Joules>> energy_within;
    // The threshold as the scenario wrote it, by key ("wall_clock_below" → "2 months"; a `*_within` key → "low, high"
    // as written): printed beside the normalised value where the unit differs, "2 months (60.9 days)".
    std::vector<std::pair<std::string, std::string>> written;
};

// Which GPU-hours a claim speaks of. steady_state: steps × step time × GPUs, no failures, restarts or overheads
// (DeepSeek-V3's 2,664K is of this kind: 3.7 days per trillion tokens on 2,048 GPUs); allocated: what the cluster is
// held for, interruptions, restarts, checkpoint writes and overheads included (Llama 3's 30.84M). The basis applies
// to every criterion of the claim: GPU-hours, wall clock, cost and energy (MFU is the step's either way).
enum class GpuHourBasis { allocated, steady_state };
std::string_view to_string(GpuHourBasis b);                                // "allocated", "steady-state"
std::optional<GpuHourBasis> gpu_hour_basis_from_string(std::string_view);  // nullopt: unknown

enum class Verdict { holds, fails, uncertain };
std::string_view to_string(Verdict v);  // "HOLDS", "FAILS", "UNCERTAIN"

// Which way a criterion bounds its metric.
enum class ClaimBound { below, above, within };

// The value of one uncertain input at which a criterion flips, every other input at its nominal value.
struct InputBreakEven {
    std::string input;             // "pricing.gpu_hour", "cluster.chip.efficiency.gemm_fp8"
    std::optional<double> value;   // nullopt: the criterion does not flip within the searched range
    std::string value_text;        // the value as the scenario would write it ("$2.13"), or why there is none
    std::string method;            // how it was found: "closed form (cost linear in it)", "bisection over …"
    std::string side;              // where the claim holds: "below it" / "above it"
};

struct CriterionResult {
    std::string name;        // "cost", "wall clock", …
    std::string key;         // the scenario key: "cost_below", "wall_clock_above", "mfu_within", …
    ClaimBound bound = ClaimBound::below;
    std::string threshold;   // "< $6M", "> 2 months (60.9 days)", "within [$5M, $7M]"
    std::string nominal;     // the nominal run's value, with unit
    // The same as numbers, in the metric's SI unit (dollars, seconds, GPU-hours, a fraction, joules): the nominal
    // run's value, and the bounds the criterion has (below: high; above: low; within: both; nullopt otherwise).
    double nominal_value = 0.0;
    std::optional<double> low, high;
    // Relative headroom of the nominal run (> 0 holds): below (threshold − value)/threshold, above
    // (value − threshold)/threshold, within the smaller of the two against its bound.
    double margin = 0.0;
    double probability = 0.0;  // fraction of samples in which this criterion holds
    // When both kinds of input vary (ClaimVerdict::probability_run / _economic): this criterion's probability over
    // the run's own uncertainty (prices at nominal) and over the economic assumptions (the run at nominal).
    std::optional<double> probability_run, probability_economic;
    // Cost criteria: the cost per GPU-hour at which the nominal run costs exactly the threshold, threshold /
    // the nominal run's GPU-hours ($ per GPU-hour). On a rental basis (cost = GPU-hours × price) it is the break-even
    // rental price: a `cost_below` claim holds at any price below it, a `cost_above` one at any price above it;
    // `cost_within` has the upper bound's here and the lower bound's in break_even_low_per_gpu_hour. nullopt for
    // other criteria, or without GPU-hours.
    std::optional<double> break_even_per_gpu_hour;
    std::optional<double> break_even_low_per_gpu_hour;
    // The scenario prices some phases on their own: the break-evens are [pricing]'s price for the other phases'
    // GPU-hours, the priced phases' cost held (evaluate_run); false: one price for every GPU-hour.
    bool break_even_for_unpriced_phases = false;
    std::vector<InputBreakEven> input_break_evens;  // filled by the caller that can vary inputs (evaluate_run)
};

// A share's 95 % interval: both ends fractions in [0, 1], low ≤ high.
struct ProbabilityInterval {
    double low = 0.0;
    double high = 1.0;
};

// The Wilson score interval of a binomial share, `met` successes of `n` (n ≥ 1) trials, at z = 1.959964 (95 %,
// two-sided): (p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n) (E. B. Wilson, JASA 22 (1927) 209–212;
// recommended over the Wald interval p̂ ± z √(p̂(1 − p̂)/n), which is empty at p̂ = 0 or 1, by Agresti and Coull,
// The American Statistician 52 (1998) 119–126). Throws Error for n < 1 or met > n.
ProbabilityInterval wilson_interval(std::size_t met, std::size_t n);

struct ClaimVerdict {
    std::string text;
    Verdict verdict = Verdict::uncertain;
    double probability = 0.0;  // fraction of samples in which every criterion holds
    // The Wilson score interval of `probability` at 95 % (wilson_interval) over the samples; nullopt when the nominal
    // run decides (no samples).
    std::optional<ProbabilityInterval> interval;
    // The samples' share alone reaches the confidence on one side (it would have read HOLDS or FAILS), but its 95 %
    // interval still crosses the confidence: the verdict is UNCERTAIN until more samples settle it.
    bool too_few_samples = false;
    // The verdict of the nominal run alone (every input at its nominal value, e.g. the quoted price): HOLDS when it
    // meets every criterion, else FAILS. Beside `verdict`, which weighs the samples of the uncertain inputs.
    Verdict nominal_verdict = Verdict::fails;
    // The probability split by where the uncertainty comes from (filled by evaluate_run when both kinds vary):
    // the run's own (step and reliability inputs drawn, prices and other economic inputs at nominal) and the
    // economic assumptions' (prices drawn, the run at its nominal wall clock).
    std::optional<double> probability_run;
    std::optional<double> probability_economic;
    std::string rung;  // the cost rung a cost criterion is judged on ("rental", "ownership", …); empty: no cost
    GpuHourBasis basis = GpuHourBasis::allocated;  // the basis the claim was judged on (ClaimSpec's)
    std::vector<CriterionResult> criteria;
};

// HOLDS when the probability is at least `confidence`, FAILS when at most 1 − confidence, UNCERTAIN otherwise; over
// samples, judged on the share's 95 % interval (wilson_interval): HOLDS when its low end is at least `confidence`,
// FAILS when its high end is at most 1 − confidence, so that a share from few samples (one sample: 0 or 100 %) is
// not stated as settled (`too_few_samples` says when the share alone would have been). With no samples, the
// nominal run decides (probability 1 or 0). Throws Error for a claim with no criterion.
// Thresholds are strict ("below" means value < threshold; a tie does not meet the claim). Throws Error too for a
// non-positive or non-finite threshold, an MFU bound outside (0, 1), a `*_within` whose low is not below its high,
// or a confidence outside (0.5, 1].
// Whether the shares of samples meeting and failing a claim (fractions 0–1, summing to 1) would settle its verdict on
// their own: either at least `confidence`. An UNCERTAIN verdict of which this is true is one its samples are too
// few to settle (ClaimVerdict::too_few_samples; the sweep table derives it from a row's verdict and share).
bool share_alone_settles(double met, double failing, double confidence = 0.9);
// The fraction of `samples` that meet every criterion of `thresholds` (0 for no samples). Throws as judge_claim.
double probability_met(const ClaimThresholds& thresholds, const std::vector<RunMetrics>& samples);

// The break-even text of a cost criterion's bound ("any all-in price per GPU-hour below it meets the threshold").
std::string_view break_even_side(ClaimBound bound);

ClaimVerdict judge_claim(const std::string& text, const ClaimThresholds& thresholds, const RunMetrics& nominal,
                         const std::vector<RunMetrics>& samples, double confidence = 0.9);

}  // namespace gpuhours
