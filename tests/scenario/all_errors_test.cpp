// Every mistake of a file at once, each at the key to change: rules between keys located at the key written last
// (ScenarioSources::keys, the layer order --set > scenario file > the files it extends), the distributions' mistakes
// reported with the rest of the file's, and the stand-ins of coupled rules chosen so that the search reads on.
#include <gpuhours/scenario/scenario.hpp>

#include "../support/scenario_error.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

using namespace gpuhours;

namespace {

const std::filesystem::path& kCatalog = test::kSourceCatalog;
const auto catalog_options = test::source_catalog;

// `text` as child.toml beside nothing else, extending the shipped flagship by its absolute path (line 1).
std::string load_child_error(const test::TempDir& dir, const std::string& text) {
    const auto child = dir.path / "child.toml";
    std::ofstream(child) << "extends = \"" << (kCatalog / "deepseek-v3.toml").string() << "\"\n" << text;
    try {
        (void)load_scenario(child, catalog_options());
    } catch (const ScenarioError& e) {
        return e.what();
    }
    FAIL("expected a ScenarioError");
    return {};
}

}  // namespace

TEST_CASE("a layout rule over a base file's degrees is located at the child's key, and the search reads past it") {
    // The flagship: gpus 2048, tensor 1 × context 1 × pipeline 16 × data 128, expert 64, all in deepseek-v3.toml.
    // The child writes data = 100 (line 3, value at column 8): 1 × 1 × 16 × 100 = 1600 ≠ 2048. The rule is located
    // there, not at the base file's [parallelism] table; the search puts data = 2048 / 16 = 128 in its place and
    // reads on to the PUE below it (line 5, column 7).
    test::TempDir dir("all-errors-layout");
    const std::string what = load_child_error(dir, "[parallelism]\ndata = 100\n[pricing]\npue = 0.5\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:8: error: tensor × context × pipeline × data = 1 × 1 × 16 × 100 = 1600 ≠ gpus 2048"));
    CHECK_THAT(what, Catch::Contains("e.g. data = 128"));
    CHECK_THAT(what, Catch::Contains("child.toml:5:7: error: `pricing.pue`"));
    CHECK_THAT(what, !Catch::Contains("deepseek-v3.toml:"));
}

TEST_CASE("a rule given by --set is located at the --set argument, over the files' keys") {
    // tensor = 3 over the flagship's 1 × 1 × 16 × 128 = 2048: 3 × 16 × 128 = 6144 ≠ 2048, at the argument.
    LoadOptions options = catalog_options();
    options.overrides = {"parallelism.tensor=3"};
    try {
        (void)load_scenario(kCatalog / "deepseek-v3.toml", options);
        FAIL("expected a ScenarioError");
    } catch (const ScenarioError& e) {
        CHECK(e.where().file == "--set parallelism.tensor=3");
        CHECK_THAT(e.message(), Catch::Contains("3 × 1 × 16 × 128 = 6144 ≠ gpus 2048"));
    }
}

TEST_CASE("a mistake in a distribution is reported with the rest of the file's mistakes, in file order") {
    // `hgih` for `high` in the child's gemm_fp8 range (line 5, key at column 51) and tensor = 0 (line 3, value at
    // column 10): both in one message, tensor first. The range is read on as its mode (0.53).
    test::TempDir dir("all-errors-range");
    const std::string what = load_child_error(dir, "[parallelism]\ntensor = 0\n[cluster.chip]\n"
                                                   "efficiency.gemm_fp8 = { low = 0.477, mode = 0.53, hgih = 0.583 }\n");
    const auto tensor = what.find("child.toml:3:10: error: `parallelism.tensor` = 0 is out of range");
    const auto range = what.find("child.toml:5:51: error: unknown key `hgih`");
    REQUIRE(tensor != std::string::npos);
    REQUIRE(range != std::string::npos);
    CHECK(tensor < range);
    CHECK_THAT(what, Catch::Contains("did you mean `high`?"));
    CHECK_THAT(what, !Catch::Contains("ranges are read before the rest of the file"));
}

TEST_CASE("the global batch a divisibility error suggests is one the pipeline schedule accepts") {
    // The flagship: data 128 × micro_batch 1 = 128 sequences per micro-batch round, DualPipe on 16 stages (an even
    // number of micro-batches, at least 2 × 16). 15361 is not a multiple of 128; the next multiple, 15488, is 121
    // micro-batches (odd: DualPipe refuses it); 15616 = 122 × 128 is even and ≥ 32, so that is the example.
    test::TempDir dir("all-errors-batch");
    const std::string what = load_child_error(dir, "[training]\nglobal_batch = 15361\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:16: error: global_batch = 15361 is not divisible by data × micro_batch = 128 × 1 = 128"));
    CHECK_THAT(what, Catch::Contains("e.g. 15616"));
    // Read on with 15616, the schedule's rule does not fail in its turn: nothing is set aside.
    CHECK_THAT(what, !Catch::Contains("may follow"));
}

TEST_CASE("a fabric rule is located at the key that shapes the fabric") {
    // A single-node fabric cannot hold 16 GPUs of 8 per node: at `fabric` (line 6, value at column 10).
    const std::string text = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                             "fabric = \"single-node\"\n[training]\ntokens = \"1T\"\nsequence_length = 8192\nglobal_batch = 64\n";
    const ScenarioError e = test::scenario_error(text, catalog_options());
    CHECK(e.where().line == 6);
    CHECK(e.where().column == 10);
    CHECK_THAT(e.message(), Catch::Contains("fabric = \"single-node\" but gpus = 16"));
}
