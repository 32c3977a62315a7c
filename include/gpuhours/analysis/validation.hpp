// Predictions against published training runs: every scenario in scenarios/validation/ carries a [published]
// table (paper, table, figures); validation simulates its step and sets each published figure beside the same
// figure predicted, in the paper's own convention.
#pragma once

#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gpuhours {

struct ValidationFigure {
    std::string name;        // "step time", "model TFLOP/s per GPU", "hardware TFLOP/s per GPU", "BF16 MFU", …
    std::string unit;        // "s", "TFLOP/s", "%", "GPU-hours", "tokens/s"
    double predicted = 0.0;
    double reported = 0.0;
    // One published measurement can be reported several ways: a step time, the throughput and MFU computed from it,
    // GPU-hours per trillion tokens. Figures of one case with the same `measurement` restate one measurement, and
    // only the first of them (`counted`) enters the error statistics, so a measurement counts once however many
    // ways its paper states it. Each phase's GPU-hours is a measurement of its own.
    int measurement = 0;
    bool counted = true;
    [[nodiscard]] double relative_error() const { return predicted / reported - 1.0; }  // +0.05 = 5% over
};

struct ValidationCase {
    std::string id;          // file stem, "megatron-145.6b"
    std::string title;
    std::string source;      // [published] source
    // Catalog figures this run was used to set ([published] informed): its figures then check consistency, not
    // predict, and stay out of the independent statistics. Empty for an independent case.
    std::vector<std::string> informed;
    std::vector<ValidationFigure> figures;
    StepResult step;
    [[nodiscard]] bool independent() const { return informed.empty(); }
};

// Error statistics over the counted figures (one per published measurement) of a set of cases.
struct ValidationStats {
    int measurements = 0;
    int cases = 0;
    double mean_absolute_error = 0.0;  // fraction: 0.05 = 5%
    double max_absolute_error = 0.0;
    // The median of the measurements' absolute errors (the middle one, or the mean of the two middle ones; 0 when
    // there is none): issue targets are stated as a median and a max.
    double median_absolute_error = 0.0;
    std::vector<double> absolute_errors;  // every counted measurement's, ascending once summarize_validation is done
    std::string max_case;              // the case and figure of the largest error; empty when there is none
    std::string max_figure;
};

struct ValidationSummary {
    ValidationStats independent;  // cases that informed no catalog figure: the predictions
    ValidationStats informed;     // cases a catalog figure was set on: consistency checks
    ValidationStats all;
    int figures_listed = 0;       // every figure printed, restatements included
};
ValidationSummary summarize_validation(const std::vector<ValidationCase>& cases);

// The figures a published run reported, predicted the same way:
//   step time; GPU-hours per trillion tokens = 10¹² / (global batch × sequence) × step time × GPUs / 3600;
//   model TFLOP/s per GPU with causal or full attention FLOPs as the paper counted (`attention`);
//   hardware TFLOP/s per GPU in Megatron-LM 2021's convention, 96·B·s·l·h²(…) per iteration: full attention and,
//   with full recomputation, a fourth forward pass (4/3 × model FLOPs when the backward is 2× the forward);
//   BF16 MFU with the paper's attention convention, in percent;
//   tokens per second per GPU = global batch × sequence / step time / GPUs.
// All of these restate the step (one measurement); each published phase's GPU-hours is a measurement of its own.
// Throws ScenarioError when the scenario has no [published] table.
// `cache` (optional) shares steps between cases: a run case whose first phase is another case's step reuses it.
ValidationCase validate_scenario(const std::filesystem::path& file, const LoadOptions& options = {},
                                 std::shared_ptr<StepCache> cache = nullptr);

// Every *.toml in `dir` with a [published] table, sorted by file name, simulated on all cores. `progress` (optional)
// is called with (cases done, cases) as each case finishes, from the worker threads one at a time.
std::vector<ValidationCase> validate_directory(const std::filesystem::path& dir, const LoadOptions& options = {},
                                               const std::function<void(int, int)>& progress = {});

// Mean of |relative error| over the counted figures of every case, one per published measurement (mean absolute
// percentage error, as a fraction): summarize_validation(cases).all.mean_absolute_error.
double mean_absolute_percentage_error(const std::vector<ValidationCase>& cases);

// What the validation says about a scenario's step before anyone reads its time: the known misses a step of its kind
// fell into (docs/moe.md, "Known misses"), one sentence each, for `run`, `report` and their JSON. Today one: an MoE
// step whose expert-parallel group stays inside one node (rank r on GPU r, nodes numbered in order; EP 1 included),
// the kind six runs NVIDIA published with Megatron-Bridge came out 61-264 % faster in the model than measured
// (scenarios/validation/megatron-bridge-*). Empty for dense models and expert groups that cross nodes.
std::vector<std::string> step_caveats(const Scenario& s);

}  // namespace gpuhours
