// `gpuhours compare`: several scenarios (or one scenario under different `--set`s) evaluated side by side, with the
// inputs in which they differ, key by key.
#pragma once

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/analysis/whatif.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gpuhours {

struct CompareInput {
    std::filesystem::path file;
    LoadOptions load;   // catalog and the `--set` overrides of this column
    std::string label;  // the column's name: "1: deepseek-v3.toml"
};

// One scenario's results. `figures` holds what `whatif` shows per chip (fill_whatif_row): GPUs, layout, headline
// step time, MFU (BF16 peak, full attention), median days and GPU-hours, cost and energy at the nominal prices
// and the median wall clock (0 when unpriced), what limits the step, and the claim verdicts.
struct CompareColumn {
    std::string label;
    std::string file;
    std::string title;
    std::vector<std::string> overrides;  // the column's `--set` assignments (the ones for every column too), in order
    std::string chip;           // display name
    std::string model;          // display name
    double tokens = 0.0;        // every simulated phase's tokens
    double mfu_causal = 0.0;    // headline step: causal-attention FLOPs against the compute precision's peak
    std::string compute_precision;  // that precision ("fp8", "bf16"): mfu_causal compares across columns only when equal
    bool priced = false;
    // The rental price per GPU-hour's distribution when the scenario gives it as a range ("triangular($1.5, $2,
    // $3.5)"); nullopt when it is one figure (a claim's share on rung 1 then carries no price uncertainty).
    std::optional<std::string> price_range;
    // The cost's median over the Monte Carlo samples (the headline's rung), when the run is priced and stochastic:
    // beside the nominal cost, which sits at the price range's nominal (a mode is often low in a skewed range: the
    // flagship's nominal $5.62M against a $6.53M median, an audit's read of compare's one cost row).
    std::optional<double> cost_p50;
    WhatIfRow figures;
};

// An input in which the scenarios differ: its dotted key (scenario_inputs, or "resolved.…" for a value read from
// the resolved scenario: chip, model, GPUs, layout, tokens, global batch, price per GPU-hour) and its value in
// each column, nullopt where that scenario does not state it.
struct InputDifference {
    std::string key;
    std::vector<std::optional<std::string>> values;
};

struct CompareResult {
    std::vector<CompareColumn> columns;
    std::vector<InputDifference> differences;  // keys in first-seen order (the first scenario's document order)
    std::size_t same_inputs = 0;               // keys every scenario states with one value
    EvaluateOptions options;                   // as requested
};

// Evaluates each input with `options` (one step cache shared, the same seed for each, so that columns differ only
// by their inputs) and lists the differing inputs. At least two inputs. Throws what load_scenario and evaluate_run
// throw for the first input that fails (a compare needs every column). `progress(done, total)` after each column.
CompareResult run_compare(const std::vector<CompareInput>& inputs, const EvaluateOptions& options,
                          const std::function<void(int, int)>& progress = {});

}  // namespace gpuhours
