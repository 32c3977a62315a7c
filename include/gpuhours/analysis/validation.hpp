// Predictions against published training runs: every scenario in scenarios/validation/ carries a [published]
// table (paper, table, figures); validation simulates its step and sets each published figure beside the same
// figure predicted, in the paper's own convention.
#pragma once

#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace gpuhours {

struct ValidationFigure {
    std::string name;        // "step time", "model TFLOP/s per GPU", "hardware TFLOP/s per GPU", "BF16 MFU", …
    std::string unit;        // "s", "TFLOP/s", "%", "GPU-hours"
    double predicted = 0.0;
    double reported = 0.0;
    [[nodiscard]] double relative_error() const { return predicted / reported - 1.0; }  // +0.05 = 5% over
};

struct ValidationCase {
    std::string id;          // file stem, "megatron-145.6b"
    std::string title;
    std::string source;      // [published] source
    std::vector<ValidationFigure> figures;
    StepResult step;
};

// The figures a published run reported, predicted the same way:
//   step time; GPU-hours per trillion tokens = 10¹² / (global batch × sequence) × step time × GPUs / 3600;
//   model TFLOP/s per GPU with causal or full attention FLOPs as the paper counted (`attention`);
//   hardware TFLOP/s per GPU in Megatron-LM 2021's convention, 96·B·s·l·h²(…) per iteration: full attention and,
//   with full recomputation, a fourth forward pass (4/3 × model FLOPs when the backward is 2× the forward);
//   BF16 MFU with the paper's attention convention, in percent.
// Throws ScenarioError when the scenario has no [published] table.
// `cache` (optional) shares steps between cases: a run case whose first phase is another case's step reuses it.
ValidationCase validate_scenario(const std::filesystem::path& file, const LoadOptions& options = {},
                                 std::shared_ptr<StepCache> cache = nullptr);

// Every *.toml in `dir` with a [published] table, sorted by file name, simulated on all cores.
std::vector<ValidationCase> validate_directory(const std::filesystem::path& dir, const LoadOptions& options = {});

// Mean of |relative error| over every figure of every case (mean absolute percentage error, as a fraction).
double mean_absolute_percentage_error(const std::vector<ValidationCase>& cases);

}  // namespace gpuhours
