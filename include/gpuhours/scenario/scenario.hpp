// A training run as the user described it: the only layer that reads TOML. Produces plain validated structs
// with catalogs resolved and units normalised; everything downstream receives these by reference.
#pragma once

#include <gpuhours/units/error.hpp>
#include <gpuhours/hardware/hardware.hpp>
#include <gpuhours/workload/model.hpp>
#include <gpuhours/workload/parallel.hpp>
#include <gpuhours/run/policy.hpp>
#include <gpuhours/units/precision.hpp>
#include <gpuhours/run/claims.hpp>
#include <gpuhours/run/economics.hpp>
#include <gpuhours/run/run.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/units/units.hpp>
#include <gpuhours/workload/workload.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpuhours {

struct TrainingSpec {
    double tokens = 0.0;          // training tokens of the main phase
    int sequence_length = 0;
    int global_batch = 0;         // sequences per optimizer step
    MixedPrecision precision;
    // How attention runs: FlashAttention-class fused kernels (default), or the s×s scores materialized in memory
    // (Megatron-LM 2021's fused softmax), which costs memory traffic and activation memory.
    AttentionKernel attention_kernel = AttentionKernel::fused;
    // Kernels launched from CUDA graphs captured per layer (Transformer Engine's make_graphed_callables; Megatron
    // --cuda-graph-impl): no per-kernel host launch cost. false: eager launches (the frameworks' default).
    bool cuda_graphs = false;
    bool dropout = false;  // dropout layers (GPT-3 / Megatron 2021); Llama 3 and DeepSeek pre-train without
    // How weight gradients accumulate over micro-batches (training/kernel.hpp): fused in the weight-gradient GEMM
    // (Megatron's default), or added by kernels of their own (`add`; DeepSpeed's BF16 optimizer: `cast-add`).
    GradientAccumulation gradient_accumulation = GradientAccumulation::fused;
};

// A named run overhead as read ([reliability.overheads]): a fraction of step time, or not modelled.
struct OverheadSpec {
    std::string name;            // "evaluation pauses", "data-loader stalls", "loss-spike rollbacks", "stragglers"
    std::optional<double> fraction;  // nullopt: not modelled (no published figure), printed as such
    // Stragglers only: s_ref at n_ref GPUs, scaled to the job by straggler_slowdown() (run.hpp).
    std::optional<int> n_ref;
    std::string source;
};

// Interruptions, recovery, checkpoints and overheads (run.hpp's ReliabilityModel, with positions). Filled from the
// catalog entry `from` (scenarios/reliability/<name>.toml; default kDefaultReliability) with the scenario's own
// [reliability] keys on top; `reliability = "none"` turns every part off.
inline constexpr std::string_view kDefaultReliability = "meta-llama3-h100";
struct ReliabilitySpec {
    std::string from;                            // the catalog entry; "none": no failures, recovery or overheads
    std::vector<FailureClass> failures;          // [[reliability.failures]]; empty: the run never fails
    Seconds restart_time;                        // detection + restart + reload, per interruption (when given)
    bool restart_given = false;                  // restart_time written: it replaces the recovery parts
    bool restart_from_catalog = false;           // that restart_time is the catalog entry's, not the scenario's
    // Recovery parts (run.hpp's RecoveryParts without the load, which is checkpoint_bytes() / read_bandwidth).
    Seconds detect, replace, init_per_gpu, init_per_gpu_squared;
    std::optional<BytesPerSecond> read_bandwidth;  // checkpoint load; nullopt: storage_bandwidth, else no load time
    std::vector<OverheadSpec> overheads;         // in the catalog's order
    Seconds checkpoint_write;                    // time to write one checkpoint
    bool async_checkpoint = false;
    std::optional<Seconds> checkpoint_interval;  // nullopt: Young/Daly
    // Aggregate write bandwidth of the checkpoint storage. When given (instead of checkpoint_write), a checkpoint
    // takes its size (model and optimizer state, checkpoint_bytes()) / this bandwidth.
    std::optional<BytesPerSecond> storage_bandwidth;
};

// What the run costs (economics.hpp's CostInputs, without the run's figures).
struct PricingSpec {
    std::optional<Dollars> gpu_hour;         // rental price per GPU-hour (all-in)
    std::optional<EnergyPrice> electricity;
    double pue = 1.0;
    double utilization = 1.0;                // average GPU power as a fraction of TDP
    double host_power_share = 0.0;           // non-GPU IT power as a fraction of GPU power
    std::optional<Ownership> ownership;      // [pricing.ownership]
    std::string includes = "final run";      // what the cost covers, shown beside every cost
    // The cost ladder's upper rungs (economics.hpp): total development compute / the final run's (≥ 1), and R&D
    // staff ([pricing.staff]: headcount, cost_per_year, duration).
    std::optional<double> research_multiplier;
    std::vector<ResearchRun> research_runs;  // [[pricing.research_runs]]: or the research compute as a list of runs
    std::optional<Staff> staff;
    std::string from;                        // the pricing catalog entry (scenarios/pricing/) under it, if any
};

// A fixed input a figure rests on, for the "assumptions" list: its dotted key, its value as written, and where it
// comes from (a catalog's `source` text, or "set in the scenario").
struct Assumption {
    std::string key;     // "pricing.ownership.gpu_price", "cluster.chip.efficiency.gemm_fp8"
    std::string value;   // "$27.5K", "0.45"
    std::string source;
};

// A stretch of training with its own sequence length, batch and (optionally) layout: pre-training with a batch
// ramp, context extension, post-training. A phase may instead quote GPU-hours it does not simulate.
struct BatchRamp {
    int from = 0;        // global batch at the start of the phase
    double tokens = 0;   // tokens over which it grows linearly to the phase's global batch
};

struct PhaseSpec {
    std::string name;
    double tokens = 0.0;
    bool by_steps = false;              // the file gave `steps` (tokens = steps × global batch × sequence length)
    TrainingSpec training;              // sequence length, global batch, precision of this phase
    ParallelLayout parallel;            // this phase's layout (the scenario's unless [phases.parallelism] says)
    std::optional<BatchRamp> ramp;
    std::optional<double> quoted_gpu_hours;  // not simulated: GPU-hours taken from a source
    std::string quoted_source;
    std::optional<Dollars> gpu_hour;    // this phase's rental price, when it differs from [pricing] gpu_hour
    SourceRef where;
};

// A [[claims]] entry: its text, its bounds (claims.hpp: `*_below`, `*_above`, `*_within` per metric), and the cost
// rung its cost bounds speak of (`rung`, a CostRung name; nullopt: the scenario's own basis, rental when a rental
// price is given, else ownership).
struct ClaimSpec {
    std::string text;
    ClaimThresholds thresholds;
    std::optional<CostRung> rung;
    GpuHourBasis basis = GpuHourBasis::allocated;  // `basis = "steady-state"` or "allocated" (default)
    SourceRef where;
    [[nodiscard]] bool has_cost() const {
        return thresholds.cost_below || thresholds.cost_above || thresholds.cost_within;
    }
};

// Figures a published run reported, for validation scenarios (scenarios/validation/). FLOP conventions:
// model FLOPs count GEMMs and full (non-causal) attention, PaLM/Megatron style; "hardware" adds recomputation.
struct PublishedSpec {
    std::string source;                           // paper, table
    bool causal_attention_flops = false;          // the paper counted causal (halved) attention FLOPs
    std::optional<Seconds> step_time;
    std::optional<double> model_tflops_per_gpu;     // model FLOPs (full attention) per second per GPU, in TFLOP/s
    std::optional<double> hardware_tflops_per_gpu;  // the same plus recomputation (Megatron-LM 2021's convention)
    std::optional<double> mfu_bf16;                 // model FLOPs (full attention) / BF16 peak
    std::optional<double> gpu_hours_per_trillion_tokens;
    std::optional<double> tokens_per_second_per_gpu;  // training throughput: global batch × sequence / step time / GPUs
    std::vector<std::pair<std::string, double>> phase_gpu_hours;  // [published.phase_gpu_hours]: phase name → GPU-hours
    // Catalog figures fitted on this run ("chips/a100-80gb.toml efficiency.gemm"): `validate` then reports it as a
    // consistency check, outside the independent error statistics. Empty: an independent prediction.
    std::vector<std::string> informed;
};

// [whatif]: the chips (or the rule set) and deadline a what-if compares, for `whatif` and `report`.
struct WhatIfSpec {
    std::vector<std::string> chips;
    std::vector<SourceRef> chip_where;  // each chip's item in the list (a repeat is refused there)
    std::string rule;                 // rule set id; empty: none
    std::optional<Seconds> deadline;
    SourceRef where;
    [[nodiscard]] bool requested() const { return !chips.empty() || !rule.empty(); }
};

// Positions of the tables, so checks that span sections can point at the line to fix.
struct ScenarioSources {
    SourceRef file;
    SourceRef model, cluster, parallelism, training;
    // The keys a [cluster.chip] table with `from` sets on top of its catalog chip ("efficiency.gemm_fp8"), in
    // document order; empty when the chip is a catalog name or an inline definition. A chip swap keeps them.
    std::vector<std::string> chip_overrides;
    // Where each value of the merged document is written, by dotted path ("training.global_batch",
    // "parallelism.pipeline", "reliability.failures[0].mtbf_per_gpu"): a file position or the `--set` argument.
    // A phase's scenario (read_phases) maps "training.*" and "parallelism.*" to the phase's own keys.
    std::map<std::string, SourceRef, std::less<>> keys;
    // The position of `key`, else `fallback` (a key not written: a default, or a catalog's).
    [[nodiscard]] SourceRef at(std::string_view key, const SourceRef& fallback) const;
};

struct Scenario {
    std::string title;
    ModelSpec model;
    ClusterSpec cluster;
    ParallelLayout parallel;
    TrainingSpec training;
    ReliabilitySpec reliability;
    PricingSpec pricing;
    std::vector<PhaseSpec> phases;  // [[phases]], or one phase made from [training]
    bool phases_given = false;      // the file has [[phases]] (overrides can address phases.N)
    std::vector<ClaimSpec> claims;
    std::optional<PublishedSpec> published;
    WhatIfSpec whatif;
    ScenarioSources sources;
    // The fixed inputs cost and time rest on, in order: the chip's efficiency for the compute format and its
    // rental price, every [pricing] figure, each failure class (uncertain inputs are listed apart).
    std::vector<Assumption> assumptions;
};

struct LoadOptions {
    // Directory holding chips/ and models/. Empty: the nearest `scenarios/` at or above the scenario's
    // directory that has chips/ and models/, else default_catalog_dir() (the installed data, or the source tree's).
    std::filesystem::path catalog_dir;
    // "--set" overrides, "section.key=value"; the value is read as TOML, or as a string if it is not TOML.
    std::vector<std::string> overrides;
};

// A numeric input given as a distribution instead of a value. Forms (values are numbers or unit strings of one
// unit, e.g. "$1.5" and "$3.5"):
//   { low = X, high = Y }                        uniform
//   { low = X, mode = M, high = Y }              triangular
//   { dist = "normal", mean = X, sd = Y }        normal
//   { dist = "lognormal", low = X, high = Y }    lognormal with X and Y its 5th and 95th percentiles
// The scenario's nominal value is the mode, the midpoint (uniform), the mean (normal) or the median (lognormal).
enum class Distribution { uniform, triangular, normal, lognormal };

struct UncertainInput {
    std::string path;   // "pricing.gpu_hour", "cluster.chip.efficiency.gemm_fp8"
    Distribution distribution = Distribution::uniform;
    double a = 0, b = 0, c = 0;  // uniform: low, high; triangular: low, mode, high; normal: mean, sd;
                                 // lognormal: mu, sigma of the underlying normal
    std::string prefix, suffix;  // the unit text around the number ("$", " TB/s"), so samples read like the file
    SourceRef where;
    [[nodiscard]] double nominal() const;
    [[nodiscard]] double quantile(double q) const;  // 0 < q < 1
    // Every value a draw can take: [low, high] for uniform and triangular; for normal and lognormal the central
    // 1 − 2 × 10⁻⁶ of the mass (mean ± 4.7534 sd of the normal, exp of it for lognormal), to which draw() is
    // truncated, so that checking both ends (check_uncertain_ranges) covers every draw.
    [[nodiscard]] std::pair<double, double> range() const;
    [[nodiscard]] double draw(Random& rng) const;
    [[nodiscard]] std::string describe() const;     // "pricing.gpu_hour ~ uniform($1.5, $3.5)"
    [[nodiscard]] std::string distribution_text() const;  // the same without the path: "uniform($1.5, $3.5)"
    // Which value of the distribution nominal() is, and where it lies in it when that is not the middle: "the
    // midpoint", "the mean", "the median", or for a triangle "the mode; 25% of draws lie below it" ((mode − low) /
    // (high − low), the triangle's CDF at its mode).
    [[nodiscard]] std::string nominal_basis() const;
    [[nodiscard]] std::string text(double value) const;  // the value with its unit, as the file would write it
};

// A scenario whose uncertain inputs can be set: nominal() is what load_scenario returns; with(values) reads the
// scenario with input i set to values[i] (same validation as the file). Cheap enough to call per Monte Carlo
// sample (it re-reads the merged document and the catalog files it names).
class ScenarioSampler {
public:
    ScenarioSampler(const std::filesystem::path& file, const LoadOptions& options = {});
    [[nodiscard]] const std::vector<UncertainInput>& inputs() const { return inputs_; }
    // The input at `path` ("pricing.gpu_hour"); nullptr when that key is not uncertain here.
    [[nodiscard]] const UncertainInput* input(std::string_view path) const;
    [[nodiscard]] Scenario nominal() const;
    [[nodiscard]] Scenario with(const std::vector<double>& values) const;
    [[nodiscard]] std::vector<double> nominal_values() const;
    // One Monte Carlo sample's values. Common random numbers: input k's value depends on `seed` and k's path only
    // (each input draws from its own stream, Random(seed mixed with a hash of the path)), so that fixing, adding or
    // removing another input leaves it unchanged: two scenarios that differ in one input compare sample by sample on
    // the same draws of the rest (compare's columns, a what-if's rows).
    [[nodiscard]] std::vector<double> draw(std::uint64_t seed) const;

private:
    std::filesystem::path file_;
    LoadOptions options_;
    std::shared_ptr<const void> document_;  // the merged document (scenario layer internals)
    std::vector<UncertainInput> inputs_;
};

// The inputs a scenario file states, as the file resolves them (`extends` merged, `unset` and `--set` applied; catalog
// names not expanded): every value of the merged document as a dotted key and its TOML text, in the merged
// document's order (a table's keys sorted, as toml++ keeps them). Tables, inline ones included, are flattened ("cluster.chip.from", "pricing.gpu_hour.mode"); an array of tables
// indexes its entries ("phases[1].global_batch"); other arrays are one value ("[\"h800\", \"h20\"]"). Strings are
// quoted, numbers written shortest. For `gpuhours compare`. Throws ScenarioError as load_scenario does for the
// document (TOML syntax, `extends`, a malformed override); the sections are not validated.
std::vector<std::pair<std::string, std::string>> scenario_inputs(const std::filesystem::path& file, const LoadOptions& options = {});

// Reads, merges (`extends`), overrides, resolves catalog names, and validates. Throws ScenarioError.
Scenario load_scenario(const std::filesystem::path& file, const LoadOptions& options = {});
// The scenario file read as TOML, with `extends` and `--set` applied, but not validated as a scenario: what no
// change of a key can repair (syntax, missing or unreadable files, nesting, malformed overrides). A sweep checks
// this before its points, each of which may make an invalid base valid. Throws ScenarioError.
void check_scenario_document(const std::filesystem::path& file, const LoadOptions& options = {});
// A scenario file's bytes, read as every scenario, `extends` and catalog file is: a regular file within
// limits::kInputFileBytes, opened without blocking. Throws ScenarioError naming the file.
std::string read_scenario_text(const std::filesystem::path& file);
// Parses a scenario from memory (tests, fuzzing); `name` is used in messages.
Scenario load_scenario_from_string(std::string_view text, const std::string& name, const LoadOptions& options = {});

// The rules a layout must obey for the scenario's model, cluster and [training] (tensor × context × pipeline ×
// data = gpus, heads and key/value heads divisible by tensor, expert parallelism carved out of data × context,
// pipeline chunks ≤ layers, schedule and virtual stages, sequence divisible by context, global batch divisible by
// data × micro_batch, …): the checks load_scenario runs, for callers that change `s.parallel` (the layout
// search). Throws ScenarioError pointing at the [parallelism] table.
void validate_layout(const Scenario& s);

// Whether the scenario prices its run: a rental price, ownership figures, or a phase's own price.
bool prices_run(const Scenario& s);
// The first phase with its own rental price (`gpu_hour`), or nullptr when no phase has one.
const PhaseSpec* first_priced_phase(const Scenario& s);
// Throws ScenarioError at the first claim that states a cost or an energy when the scenario prices nothing (energy
// is reported only for a priced run), or that names a cost rung the scenario does not price (rung_needs; the
// unnamed rung is the scenario's own basis, priced whenever the run is). read_scenario calls it, so `check` refuses
// what `run` would.
void check_claims_priced(const Scenario& s);
// The error for `claim`, about `rung`, which the scenario does not price: `missing` says what the rung lacks.
ScenarioError unpriced_rung_error(const ClaimSpec& claim, CostRung rung, std::string_view missing);
// Throws ScenarioError at the first phase without a rental price when another phase gives one and [pricing] does not
// (the run could not cost it).
void check_phase_prices(const Scenario& s);

// The step of a scenario's [training] and [parallelism] (symmetric mode, flow network; callers change those).
StepSpec step_spec_of(const Scenario& s);

// The scenario as one phase runs it: the phase's [training] (its sequence length and precision, at
// `global_batch`, or the phase's own when 0) and layout.
Scenario scenario_of_phase(const Scenario& s, const PhaseSpec& phase, int global_batch = 0);

// The memory view of a scenario's [training] and layout: its micro-batch shape, the options of the memory
// model, and the fit of its worst pipeline rank in the chip's memory.
MicroBatchShape shape_of(const Scenario& s);
MemoryOptions memory_options_of(const Scenario& s);
FitCheck fit_of(const Scenario& s);
// Throws ScenarioError naming the largest term and what to change when the worst pipeline rank does not fit.
void require_fit(const Scenario& s, const FitCheck& fit);
void require_fit(const Scenario& s);
// require_fit of the scenario and of every phase it writes (each at its own batch, the most micro-batches in flight:
// a batch ramp's smaller levels hold no more), as `run` requires; quoted phases are not simulated.
void require_every_phase_fits(const Scenario& s);
// A memory figure's range (cluster.chip.memory.capacity or memory.reserve given as a distribution) held to the fit
// require_fit asks of the nominal at both of its ends, every written phase included: `check`, `run` and `report`
// refuse a range whose draws could not hold the model (a capacity range down to 40 GB ran every draw as if it fitted;
// session 51's audit). Not part of loading: `plan` and `whatif` change the layout a chip holds. Throws ScenarioError
// located at the range.
void require_memory_ranges_fit(const ScenarioSampler& sampler);

// Bytes one checkpoint writes: every parameter's master copy and its optimizer moments (two, Adam), each in its
// format; the working copy and gradients are not saved (they are derived from the master copy or recomputed).
Bytes checkpoint_bytes(const Scenario& s);
// The time one checkpoint write takes: reliability.checkpoint_write, or checkpoint_bytes() / storage_bandwidth.
Seconds checkpoint_write_time(const Scenario& s);
// The recovery parts of the scenario (the load: checkpoint_bytes() / read_bandwidth, else / storage_bandwidth, else 0).
RecoveryParts recovery_parts_of(const Scenario& s);
// Time per interruption: reliability.restart_time when written, else recovery_time(recovery_parts_of(s), gpus).
Seconds restart_time_of(const Scenario& s);
// The overheads that lengthen steps, each resolved for the scenario's GPU count (stragglers scaled by
// straggler_slowdown); overheads not modelled are left out.
std::vector<RunOverhead> run_overheads_of(const Scenario& s);

// Where a step too long for simulated time (SimTime: about 106 days) is blamed: of the keys that set how much a step
// computes and how fast — the chip's figures (cluster.chip, cluster.chip.*), the model (model, model.*), the GPU
// count and power cap, the batch, micro-batch and sequence length of [training] or a phase — the one written last (a
// `--set` argument, else the scenario file, else a file it extends); else the scenario file.
SourceRef step_length_source(const Scenario& s);
// Whether position `a` was written after `b` among the scenario's layers: a `--set` argument after the scenario file,
// the scenario file after a file it extends (or a catalog entry), and further down within one file. A rule between
// keys is located at the one written last: the value the user changed last.
bool written_after(const Scenario& s, const SourceRef& a, const SourceRef& b);
// Where a run with too many interruptions is blamed: of the tokens keys ([training] tokens, a phase's tokens or
// steps), the one written last, as step_length_source; else the scenario file.
SourceRef run_length_source(const Scenario& s);

// Catalog access by name ("h800", "deepseek-v3"); unknown names list the known ones.
ChipProfile load_chip(const std::string& name, const std::filesystem::path& catalog_dir = {});
ModelSpec load_model(const std::string& name, const std::filesystem::path& catalog_dir = {});
std::vector<std::string> catalog_names(const std::filesystem::path& catalog_dir, const std::string& kind);
// The catalog chip a scenario's chip comes from: its id without the " (modified)" that a [cluster.chip] table with
// `from` and overrides adds ("h800 (modified)" → "h800"); "inline" for a chip defined whole in the scenario.
std::string catalog_id(const ChipProfile& chip);
// Where the shipped data is: a directory holding scenarios/ (the catalogs — chips/, models/, policy/ —, the flagship
// and validation/) and python/ (the notebooks' helper). For an installed gpuhours, `<executable's directory>/../share/
// gpuhours` (found through /proc/self/exe, so the install can move); else the source tree the binary was built from.
std::filesystem::path data_dir();
// data_dir() / "scenarios": the catalog used when neither --catalog nor a scenarios/ beside the scenario names one.
std::filesystem::path default_catalog_dir();

// The catalog a scenario file's names resolve in when no directory is given (LoadOptions::catalog_dir empty): the
// nearest directory at or above the file's that has chips/ and models/ (or a scenarios/ that has them), else
// default_catalog_dir(). Throws Error (naming the path and --catalog) when that catalog, its chips/ or models/, or
// the directory it sits in is writable by others: anyone could have planted it (under /tmp, say).
std::filesystem::path find_catalog_dir(const std::filesystem::path& scenario_file);

// Export-control rule sets, `<catalog_dir>/policy/<name>.toml` (schema: scenarios/policy/README.md). Unknown
// names list the known ones; unknown keys are errors at file:line:col with a suggestion. Throws ScenarioError.
RuleSet load_rule_set(const std::string& name, const std::filesystem::path& catalog_dir = {});
// Parses a rule set from memory (tests); `name` is used in messages and, without `.toml`, as the id.
RuleSet load_rule_set_from_string(std::string_view text, const std::string& name);
std::vector<std::string> rule_set_names(const std::filesystem::path& catalog_dir = {});

}  // namespace gpuhours
