// Device memory as software sees it (#14 item 5): a chip's capacity is what CUDA exposes, fits are checked against
// it less the framework reserve, and the fit verdict states all three.
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/units/error.hpp>

#include "../support/cli.hpp"
#include "../support/scenario_error.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

using namespace gpuhours;

namespace {

LoadOptions catalog() {
    LoadOptions o;
    o.catalog_dir = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";
    return o;
}

// Llama 3.1 8B on 16 H100s whose [memory] the scenario sets (from line 8: capacity on 8, reserve on 9).
std::string run_with_memory(const std::string& memory_lines) {
    return "title = \"memory\"\nmodel = \"llama-3.1-8b\"\n"
           "[cluster]\ngpus = 16\ngpus_per_node = 8\n"
           "[cluster.chip]\nfrom = \"h100\"\n" +
           memory_lines +
           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
           "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 64\n";
}

}  // namespace

TEST_CASE("a fit is checked against the device's bytes less the framework reserve", "[memory]") {
    // 80 GB as a datasheet says and a 4 GiB reserve: 80e9 − 4 × 2^30 = 75,705,032,704 B usable.
    const Scenario s = load_scenario_from_string(
        run_with_memory("memory.capacity = { value = \"80 GB\", source = \"t\" }\n"
                        "memory.reserve = { value = \"4 GiB\", source = \"t\" }\n"),
        "memory.toml", catalog());
    CHECK(s.cluster.chip.memory_device.value() == 80e9);
    CHECK(s.cluster.chip.memory_reserve.value() == 4.0 * 1073741824.0);
    CHECK(s.cluster.chip.memory_capacity.value() == 75'705'032'704.0);
    CHECK(fit_of(s).capacity.value() == 75'705'032'704.0);
    CHECK_THAT(s.cluster.chip.memory_basis(), Catch::Contains("75.71 GB usable: 80 GB as the device reports it less a 4.295 GB framework reserve"));
    // The catalog H100 as CUDA exposes it: 79.15 GiB = 84,986,665,369.6 B, in whole bytes rounded down
    // 84,986,665,369, less 3 GiB (3,221,225,472) = 81,765,439,897 B usable.
    const Scenario catalog_h100 = load_scenario_from_string(run_with_memory(""), "memory.toml", catalog());
    CHECK(catalog_h100.cluster.chip.memory_capacity.value() == 81'765'439'897.0);
}

TEST_CASE("a fit verdict states the reserve it subtracted", "[memory]") {
    test::TempDir dir("device-memory");
    const auto file = dir.path / "memory.toml";
    std::ofstream(file) << run_with_memory("");
    const auto r = test::run_cli("check " + file.string());
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("as the device reports it less a 3.221 GB framework reserve (CUDA context, NCCL buffers, allocator fragmentation)"));
    const auto m = test::run_cli("model " + file.string());
    CHECK_THAT(m.out, Catch::Contains("framework reserve"));
}

TEST_CASE("a reserve as large as the capacity is refused where it is written", "[memory]") {
    const ScenarioError e = test::scenario_error(
        run_with_memory("memory.capacity = { value = \"80 GB\", source = \"t\" }\n"
                        "memory.reserve = { value = \"90 GB\", source = \"t\" }\n"),
        catalog(), "memory.toml");
    CHECK_THAT(e.what(), Catch::Contains("memory.toml:9:"));
    CHECK_THAT(e.what(), Catch::Contains("reserve"));
}

TEST_CASE("a capacity published but not measured says so, and an unknown basis is refused where it is written", "[memory]") {
    // basis = "nameplate": the same bytes and fit (80e9 − 3 × 2^30 = 76,778,774,528 B usable), the text says that
    // the figure is the published one.
    const Scenario s = load_scenario_from_string(
        run_with_memory("memory.capacity = { value = \"80 GB\", source = \"t\" }\n"
                        "memory.basis = { value = \"nameplate\", source = \"t\" }\n"),
        "memory.toml", catalog());
    CHECK(s.cluster.chip.memory_nameplate);
    CHECK(s.cluster.chip.memory_capacity.value() == 76'778'774'528.0);
    CHECK_THAT(s.cluster.chip.memory_basis(),
               Catch::Contains("76.78 GB usable: 80 GB as published (what the device exposes is not published) less a "
                               "3.221 GB framework reserve"));
    // The catalog's Ascend 910B is one such part; the H100 is not.
    LoadOptions o = catalog();
    CHECK(load_chip("ascend-910b", o.catalog_dir).memory_nameplate);
    CHECK_FALSE(load_chip("h100", o.catalog_dir).memory_nameplate);
    const ScenarioError e = test::scenario_error(
        run_with_memory("memory.basis = { value = \"datasheet\", source = \"t\" }\n"), catalog(), "memory.toml");
    CHECK_THAT(e.what(), Catch::Contains("memory.toml:8:"));
    CHECK_THAT(e.what(), Catch::Contains("is not a capacity basis"));
    CHECK_THAT(e.what(), Catch::Contains("\"nameplate\""));
}
