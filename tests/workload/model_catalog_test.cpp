// Every model in scenarios/models/ loads and its parameter count matches the size it quotes.
#include "models.hpp"

#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/workload/workload.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace gh = gpuhours;

TEST_CASE("Every catalog model's parameter count matches its published total", "[workload][catalog]") {
    const std::filesystem::path catalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";
    std::vector<std::string> ids;
    for (const auto& entry : std::filesystem::directory_iterator(catalog / "models")) {
        if (entry.path().extension() == ".toml") ids.push_back(entry.path().stem().string());
    }
    REQUIRE(ids.size() >= 12);
    for (const auto& id : ids) {
        CAPTURE(id);
        const gh::ModelSpec model = gh::load_model(id, catalog);
        REQUIRE(model.published_total_parameters.has_value());
        const auto count = gh::count_parameters(model);
        // Within 1% or half a unit of the last quoted digit ("1.7B", "70B"), see published_tolerance().
        const double published = *model.published_total_parameters;
        CHECK(count.total == Approx(published).margin(gh::test::published_tolerance(published)));
        if (model.published_active_parameters) {
            const double active = *model.published_active_parameters;
            CHECK(count.active == Approx(active).margin(gh::test::published_tolerance(active)));
        }
    }
}
