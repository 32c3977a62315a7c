// A training run as the user described it: the only layer that reads TOML. Produces plain validated structs
// with catalogs resolved and units normalised; everything downstream receives these by reference.
#pragma once

#include <gpuhours/error.hpp>
#include <gpuhours/hardware.hpp>
#include <gpuhours/model.hpp>
#include <gpuhours/parallel.hpp>
#include <gpuhours/precision.hpp>
#include <gpuhours/units.hpp>
#include <gpuhours/workload.hpp>

#include <filesystem>
#include <optional>
#include <string>
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
    bool dropout = false;  // dropout layers (GPT-3 / Megatron 2021); Llama 3 and DeepSeek pre-train without
};

// Provisional shape (the run-simulation issue fills it out).
struct ReliabilitySpec {
    std::optional<Seconds> gpu_mtbf;          // mean time between interruptions caused by one GPU
    std::optional<Seconds> restart_time;
    std::optional<Seconds> checkpoint_interval;
};

// Provisional shape (the run-simulation issue fills it out).
struct PricingSpec {
    std::optional<Dollars> gpu_hour;       // rental price per GPU-hour
    std::optional<EnergyPrice> electricity;
    std::optional<double> pue;
};

struct ClaimSpec {
    std::string text;
    std::optional<Dollars> cost_below;
    std::optional<Seconds> wall_clock_below;
    std::optional<double> gpu_hours_below;
    std::optional<double> mfu_above;
    std::optional<Joules> energy_below;
    SourceRef where;
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
};

// Positions of the tables, so checks that span sections can point at the line to fix.
struct ScenarioSources {
    SourceRef file;
    SourceRef model, cluster, parallelism, training;
};

struct Scenario {
    std::string title;
    ModelSpec model;
    ClusterSpec cluster;
    ParallelLayout parallel;
    TrainingSpec training;
    ReliabilitySpec reliability;
    PricingSpec pricing;
    std::vector<ClaimSpec> claims;
    std::optional<PublishedSpec> published;
    ScenarioSources sources;
};

struct LoadOptions {
    // Directory holding chips/ and models/. Empty: the nearest `scenarios/` at or above the scenario's
    // directory that has chips/ and models/, else the catalog installed with the source tree.
    std::filesystem::path catalog_dir;
    // "--set" overrides, "section.key=value"; the value is read as TOML, or as a string if it is not TOML.
    std::vector<std::string> overrides;
};

// Reads, merges (`extends`), overrides, resolves catalog names, and validates. Throws ScenarioError.
Scenario load_scenario(const std::filesystem::path& file, const LoadOptions& options = {});
// Parses a scenario from memory (tests, fuzzing); `name` is used in messages.
Scenario load_scenario_from_string(std::string_view text, const std::string& name, const LoadOptions& options = {});

// Catalog access by name ("h800", "deepseek-v3"); unknown names list the known ones.
ChipProfile load_chip(const std::string& name, const std::filesystem::path& catalog_dir = {});
ModelSpec load_model(const std::string& name, const std::filesystem::path& catalog_dir = {});
std::vector<std::string> catalog_names(const std::filesystem::path& catalog_dir, const std::string& kind);
std::filesystem::path default_catalog_dir();

}  // namespace gpuhours
