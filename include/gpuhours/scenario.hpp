// A training run as the user described it: the only layer that reads TOML. Produces plain validated structs
// with catalogs resolved and units normalised; everything downstream receives these by reference.
#pragma once

#include <gpuhours/error.hpp>
#include <gpuhours/hardware.hpp>
#include <gpuhours/model.hpp>
#include <gpuhours/parallel.hpp>
#include <gpuhours/precision.hpp>
#include <gpuhours/units.hpp>

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
