// The ScenarioError a scenario text is refused with (the test fails when it loads).
#pragma once

#include <gpuhours/scenario/scenario.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace gpuhours::test {

// The source tree's catalogs (scenarios/: chips, models, reliability, pricing).
inline const std::filesystem::path kSourceCatalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";

// Load options that read the source tree's catalogs.
inline LoadOptions source_catalog() {
    LoadOptions o;
    o.catalog_dir = kSourceCatalog;
    return o;
}

// The ScenarioError scenario file `file` is refused with (the test fails when it loads).
inline ScenarioError scenario_file_error(const std::filesystem::path& file, const LoadOptions& options) {
    try {
        (void)load_scenario(file, options);
    } catch (const ScenarioError& e) {
        return e;
    }
    FAIL("expected a ScenarioError");
    throw std::logic_error("unreachable");
}

inline ScenarioError scenario_error(const std::string& text, const LoadOptions& options, const std::string& name = "test.toml") {
    try {
        (void)load_scenario_from_string(text, name, options);
    } catch (const ScenarioError& e) {
        return e;
    }
    FAIL("expected a ScenarioError");
    throw std::logic_error("unreachable");
}

}  // namespace gpuhours::test
