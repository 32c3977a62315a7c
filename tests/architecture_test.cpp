// Layers are a dependency rule (shared/ARCHITECTURE.md): a header may include gpuhours headers of its own layer
// or below, never above. This test reads the public headers and checks every #include <gpuhours/…>.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

namespace {

// Layer rank of each public header, lowest first (shared/ARCHITECTURE.md, "Layers").
const std::map<std::string, int>& layer_of() {
    static const std::map<std::string, int> layers{
        {"units.hpp", 0},      {"error.hpp", 0},    {"precision.hpp", 0}, {"engine.hpp", 1},
        {"hardware.hpp", 2},   {"topology.hpp", 2}, {"network.hpp", 3},   {"collective.hpp", 3},
        {"model.hpp", 4},      {"parallel.hpp", 4}, {"workload.hpp", 4},  {"training.hpp", 5},
        {"step.hpp", 5},      {"placement.hpp", 5},       {"schedule.hpp", 5}, {"kernel.hpp", 5}, {"run.hpp", 6},      {"economics.hpp", 6}, {"policy.hpp", 6},
        {"claims.hpp", 6},     {"scenario.hpp", 7}, {"evaluation.hpp", 8}, {"whatif.hpp", 8}, {"validation.hpp", 8}, {"plan.hpp", 8}, {"sweep.hpp", 8},
        {"report.hpp", 9},     {"svg.hpp", 9},      {"html.hpp", 9},
    };
    return layers;
}

}  // namespace

TEST_CASE("no public header includes a header of a higher layer") {
    const std::filesystem::path dir = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "include" / "gpuhours";
    const std::regex include_re(R"(#include\s*<gpuhours/([a-z_]+\.hpp)>)");
    int checked = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        INFO("header " << name);
        const auto own = layer_of().find(name);
        REQUIRE(own != layer_of().end());  // a new header must be given its layer above
        std::ifstream in(entry.path());
        std::string line;
        while (std::getline(in, line)) {
            std::smatch m;
            if (!std::regex_search(line, m, include_re)) continue;
            const auto dep = layer_of().find(m[1].str());
            INFO("includes " << m[1].str());
            REQUIRE(dep != layer_of().end());
            CHECK(dep->second <= own->second);
            ++checked;
        }
    }
    CHECK(checked > 5);
}
