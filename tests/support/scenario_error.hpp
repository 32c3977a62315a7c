// The ScenarioError a scenario text is refused with (the test fails when it loads).
#pragma once

#include <gpuhours/scenario/scenario.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

namespace gpuhours::test {

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
