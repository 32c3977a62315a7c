// The words of a run's headline figures, verdicts, cost ladder and assumptions: one text for each, shared by the
// terminal (`gpuhours run`) and the HTML report so that the two never disagree, and by the JSON's labels.
#pragma once

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/run/claims.hpp>
#include <gpuhours/report/report.hpp>

#include <string>
#include <vector>

namespace gpuhours::report {

// The statistic every output calls "the" figure, and how it is labelled. Cost and energy: the nominal run (every
// input at its nominal value, the median wall clock); wall clock and GPU-hours: the median over the samples.
struct Headline {
    std::string wall_clock;  // "57.2 days"
    std::string gpu_hours;   // "2,809,888"
    std::string cost;        // "$5.62M" (empty when unpriced)
    std::string energy;      // "1.888 GWh" (empty when unpriced)
    std::string cost_label;  // "nominal inputs, rental: the final run at rental prices"
};
Headline headline_of(const RunEvaluation& ev);
// Where the checkpoint interval comes from, as run::checkpoint_interval chooses it: "given", "Young/Daly" (the
// optimum for blocking writes), the asynchronous writes' own time, or the whole run when nothing interrupts it.
std::string checkpoint_basis(const RunEvaluation& ev);
// The GPUs' power the energy is counted at, as cost_inputs takes it: "GPUs at 80% of TDP on average", or under a
// power cap below the TDP "GPUs at 80% of their 400 W power cap on average"; with a host_power_share, ", plus 30% of
// that for the rest of the IT (host_power_share)".
std::string gpu_power_basis(const Scenario& s);

// The two bases and how the run gets from one to the other, in words shared by the terminal and the report:
// `reliability` — the catalog entry or "none" and the restart per interruption with its parts; `steady_state` and
// `allocated` — the two GPU-hour figures (medians) with their 90% intervals; `difference` — allocated − steady-state
// (means); `terms` — that difference term by term (means, GPU-hours, each with its share of steady-state), summing to
// it; `not_modelled` — the named overheads without a figure.
struct BasisText {
    std::string reliability;
    std::string steady_state;
    std::string allocated;
    std::string difference;
    std::vector<std::string> terms;
    std::string not_modelled;  // empty: every named overhead has a figure (or reliability is "none")
    // Where the run's reliability figures deserve caution, else empty: restarts and lost work above 20 % of the
    // allocated GPU-hours, and a job above the 16,384 GPUs the fleet data behind the default rates and recovery parts
    // was measured on (Llama 3's snapshot; MegaScale's restarts above 10,000 GPUs), with the restart's N² term [U].
    std::string caution;
};
BasisText basis_text(const RunEvaluation& ev);
// BasisText::caution alone (the JSON's run.reliability_caution), without the rest of the text.
std::string reliability_caution(const RunEvaluation& ev);

// A cost criterion's break-even price per GPU-hour in words ("break-even price $2.13 per GPU-hour: any all-in
// price per GPU-hour below it meets the threshold"); empty for other criteria.
std::string break_even_text(const CriterionResult& c);
// One uncertain input's break-even ("pricing.gpu_hour flips it at $2.13 (holds below it; closed form …)").
std::string input_break_even_text(const InputBreakEven& b);
// The claim's probabilities, each labelled: over every uncertain input (the headline, with one binomial standard
// error, √(p(1 − p)/n) over the n samples, or "all"/"none of n"), then the run's own
// uncertainty and the economic assumptions' apart when both vary, and the verdict at the nominal inputs.
std::string probability_text(const RunEvaluation& ev, const ClaimVerdict& v);
// One binomial standard error of a share p (0..1) of n Monte Carlo samples, √(p(1 − p)/n): the spread another seed
// would give (0 at p = 0 or 1; n < 1 is taken as 1).
[[nodiscard]] double share_standard_error(double p, int n);
// That error as a suffix of a printed share, " ± 3.5%"; empty at 0 %, 100 % or one sample (nothing to spread).
[[nodiscard]] std::string share_error_suffix(double p, int n);
// A share (0..1) as a percentage: whole percents, or up to three decimals where rounding would carry it across a
// verdict's threshold (10 %, 90 %) or to 0 % or 100 %: "89.5%", not "90%" beside an UNCERTAIN.
[[nodiscard]] std::string share_percent(double p);
// A claim's verdict over the samples with its share and one binomial standard error √(p(1 − p)/n) over the n
// `samples` (none at 0 %, 100 % or one sample), then the nominal run's: "UNCERTAIN 45% ± 3.5% (HOLDS at nominal)";
// "(too few samples to settle; HOLDS at nominal)" when the share alone reached a verdict its 95 % interval does not
// (what-if, compare and the report's across-chips rows, whose figures are the nominal run's).
std::string verdict_share_text(const ClaimVerdict& v, int samples);
// A claim's head fields in JSON, written into the open object: `text`, `verdict`, `probability`,
// `probability_interval_95` ([low, high]: the Wilson interval over the samples; null when the nominal run decides),
// `too_few_samples` (ClaimVerdict's) and `nominal_verdict` (run, what-if and compare share them; docs/schemas.md).
void verdict_head_json(Json& j, const ClaimVerdict& v);
// The GPU-hours the claim was judged on, as a clause ("judged on allocated GPU-hours"); empty for a claim whose
// every criterion is a cost on rung 3 (the cluster's capital outlay does not depend on GPU-hours).
std::string basis_clause(const ClaimVerdict& v);
// One criterion's share of runs it holds in ("54% of runs"), with the run's own and the economic assumptions'
// apart when both vary ("54% of runs (100% over the run's own uncertainty, 55% over the economic assumptions)").
std::string criterion_probability_text(const CriterionResult& c);

// The cost ladder, one line per rung: "rung 1  the final run at rental prices  $5.62M  2,809,888 GPU-hours × $2".
struct LadderLine {
    int number = 0;
    std::string title;
    std::string cost;    // "$5.62M", or "not priced"
    std::string detail;  // how it is made up, or what is missing
    std::vector<std::string> inputs;  // "key = value (source)" of each input the rung rests on
};
std::vector<LadderLine> ladder_lines(const RunEvaluation& ev);

// Every fixed input the figures rest on with its value and source ("pricing.pue = 1.2 (set in the scenario)"),
// then the uncertain inputs' distributions and the simulation's own assumptions.
std::vector<std::string> assumption_lines(const RunEvaluation& ev);

// The headline step's MFU on the one basis used everywhere (BF16 peak, full-attention FLOPs: the basis of claims and
// of DeepSeek's and Llama 3's reports), with the compute format's peak beside it, labelled.
std::string mfu_text(const StepResult& r);

// How much of the step's mean pipeline bubble is the stages waiting for the busiest one. A stage's busy time is its
// compute, recompute, optimizer and exposed communication (the rest of the step is its bubble), so the mean bubble
// is step − mean busy, of which max busy − mean busy is waiting for the busiest stage (its own bubble being the
// schedule's fill and drain). 0 with one stage.
Seconds stage_imbalance(const StepResult& r);
// A note when that wait is at least 1 % of the step and a quarter of the bubble: "stage 7 is busy 9.771 s …, the
// stages' mean 8.640 s: 1.131 s of the 1.348 s bubble is the other stages waiting for it …", naming the embedding or
// the output head where the busiest stage holds it (`pipeline` stages, `schedule`); nullopt otherwise.
std::optional<std::string> stage_imbalance_note(const StepResult& r, int pipeline, Schedule schedule);

}  // namespace gpuhours::report
