// Every mistake of a file at once, each at the key to change: rules between keys located at the key written last
// (ScenarioSources::keys, the layer order --set > scenario file > the files it extends), the distributions' mistakes
// reported with the rest of the file's, and the stand-ins of coupled rules chosen so that the search reads on.
#include <gpuhours/scenario/scenario.hpp>

#include "../support/cli.hpp"
#include "../support/scenario_error.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace gpuhours;

namespace {

const std::filesystem::path& kCatalog = test::kSourceCatalog;
const auto catalog_options = test::source_catalog;

// `text` as child.toml beside nothing else, extending the shipped flagship by its absolute path (line 1).
std::string load_child_error(const test::TempDir& dir, const std::string& text) {
    const auto child = dir.path / "child.toml";
    std::ofstream(child) << "extends = \"" << (kCatalog / "deepseek-v3.toml").string() << "\"\n" << text;
    return test::scenario_file_error(child, catalog_options()).what();
}

// The flagship as shipped with `overrides`: the error it is refused with.
ScenarioError flagship_error(std::vector<std::string> overrides) {
    LoadOptions options = catalog_options();
    options.overrides = std::move(overrides);
    return test::scenario_file_error(kCatalog / "deepseek-v3.toml", options);
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
    const ScenarioError e = flagship_error({"parallelism.tensor=3"});
    CHECK(e.where().file == "--set parallelism.tensor=3");
    CHECK_THAT(e.message(), Catch::Contains("3 × 1 × 16 × 128 = 6144 ≠ gpus 2048"));
    // A data degree not written is cluster.gpus over the model-parallel degrees, so a GPU count given by --set that
    // makes the batch indivisible is located at the argument, not at the batch written in the file (Megatron 1.7B:
    // TP1 PP1, micro-batch 4, batch 512; 48 GPUs: data 48, 48 × 4 = 192 does not divide 512).
    LoadOptions options = catalog_options();
    options.overrides = {"cluster.gpus=48"};
    const ScenarioError derived = test::scenario_file_error(kCatalog / "validation" / "megatron-1.7b.toml", options);
    CHECK(derived.where().file == "--set cluster.gpus=48");
    CHECK_THAT(derived.message(), Catch::Contains("global_batch = 512 is not divisible by data × micro_batch = 48 × 4 = 192"));
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

TEST_CASE("every claim's mistakes are reported in one round, each claim read on with a stand-in bound") {
    // Lines: 1 model … 8 global_batch, 9 [pricing], 10 gpu_hour (the small file below), 11 [[claims]], 12 text, 13
    // cost_within with its bounds swapped (value at column 15), 14 rung misspelt (column 8), 15 [[claims]], 16 text,
    // 17 mfu_above 1.5 (column 13), 18 [[claims]] stating nothing (reported at its header, 18:1), 19 text. The swapped bounds read on
    // swapped and the empty claim with a bound, so no claim "states nothing" because of the search itself.
    const std::string text = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 8\n[training]\ntokens = \"1B\"\n"
                             "sequence_length = 4096\nglobal_batch = 8\n[pricing]\ngpu_hour = \"$2\"\n"
                             "[[claims]]\ntext = \"a\"\ncost_within = [\"$6M\", \"$5M\"]\nrung = \"rentl\"\n"
                             "[[claims]]\ntext = \"b\"\nmfu_above = 1.5\n"
                             "[[claims]]\ntext = \"c\"\n";
    const std::string what = test::scenario_error(text, catalog_options()).what();
    CHECK_THAT(what, Catch::StartsWith("test.toml:13:15: error: `claims[0].cost_within` needs 0 < low < high"));
    CHECK_THAT(what, Catch::Contains("test.toml:14:8: error: `claims[0].rung` = \"rentl\" is not a cost rung"));
    CHECK_THAT(what, Catch::Contains("test.toml:17:13: error: `claims[1].mfu_above` is a fraction"));
    CHECK_THAT(what, Catch::Contains("test.toml:18:1: error: claims[2] states nothing to check"));
    CHECK_THAT(what, !Catch::Contains("claims[0] states nothing"));
    CHECK_THAT(what, !Catch::Contains("claims[1] states nothing"));
    CHECK_THAT(what, !Catch::Contains("check again"));  // nothing held back: the file reads cleanly once they are out
}

TEST_CASE("a phase's layout mistake is located at the phase's key, and the phase reads on with the scenario's degree") {
    // [parallelism] tensor 2 × pipeline 2 × data 4 = 16 (lines 6–9); the second phase (line 14) writes tensor = 3
    // (line 19, value at column 10): 3 × 2 × 4 = 24 ≠ 16. Located there, not at the top-level data = 4 written
    // earlier in the file; taken out, the phase's tensor is the scenario's 2 and nothing else is reported.
    const std::string text = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                             "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                             "[training]\nsequence_length = 4096\nglobal_batch = 64\n"
                             "[[phases]]\nname = \"a\"\ntokens = \"1B\"\n[[phases]]\nname = \"b\"\ntokens = \"1B\"\n"
                             "[phases.parallelism]\ntensor = 3\n";
    const ScenarioError e = test::scenario_error(text, catalog_options());
    CHECK(e.where().line == 20);
    CHECK(e.where().column == 10);
    CHECK_THAT(e.message(), Catch::Contains("3 × 1 × 2 × 4 = 24 ≠ gpus 16"));
    // 16 GPUs do not split into replicas of 3 × 2 = 6: the hint names a GPU count that would (24 with data = 4).
    CHECK_THAT(e.hint(), Catch::Contains("cluster.gpus to a multiple of 6 (e.g. 24 with data = 4)"));
    CHECK_THAT(std::string(e.what()), !Catch::Contains("check again"));
}

TEST_CASE("a child's range replaces the base file's whole, and its mistake is located in the child") {
    // The flagship's gpu_hour is { low = "$1.5", mode = "$2", high = "$3.5" } (deepseek-v3.toml). The child's
    // { low = "$1", high = "3" } (line 3) is a uniform range of its own, not merged with the base's mode; its `high`
    // (column 35) has no "$" while the one other bound has: named at the child's value.
    test::TempDir dir("all-errors-child-range");
    const std::string what = load_child_error(dir, "[pricing]\ngpu_hour = { low = \"$1\", high = \"3\" }\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:33: error: `pricing.gpu_hour.high` = \"3\" is not in the unit of `pricing.gpu_hour.low` = \"$1\""));
    CHECK_THAT(what, !Catch::Contains("deepseek-v3.toml:"));
    // Written right, the child's range is uniform($1, $3): the base's mode is gone.
    const auto child = dir.path / "ok.toml";
    std::ofstream(child) << "extends = \"" << (kCatalog / "deepseek-v3.toml").string() << "\"\n[pricing]\ngpu_hour = { low = \"$1\", high = \"$3\" }\n";
    const ScenarioSampler sampler(child, catalog_options());
    bool found = false;
    for (const auto& u : sampler.inputs()) {
        if (u.path != "pricing.gpu_hour") continue;
        found = true;
        CHECK(u.distribution == Distribution::uniform);
        CHECK(u.nominal() == Approx(2.0));  // the midpoint of $1 and $3
    }
    CHECK(found);
}

TEST_CASE("a { value = … } figure past its range is reported once, not also as a missing value") {
    // Taking the out-of-range value out of `{ value = …, source = … }` left the table without `value`, reported as
    // "missing required key" before the real mistake (a third fresh verifier, #12). The search now reads on with a
    // stand-in in range. The child (line 1 extends): [pricing] on line 2, gpu_hour on line 3 (its value at column 22),
    // [pricing.staff] on line 4, headcount on line 5 (value at column 23): both past their ranges ($10^9, 10^6).
    test::TempDir dir("all-errors-value-range");
    const std::string what = load_child_error(
        dir, "[pricing]\ngpu_hour = { value = \"$1e12\", source = \"x\" }\n[pricing.staff]\nheadcount = { value = 1e9, source = \"y\" }\n"
             "cost_per_year = \"$500K\"\nduration = \"1 year\"\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:22: error: `pricing.gpu_hour` = \"$1e12\" is beyond the supported range of prices per GPU-hour"));
    CHECK_THAT(what, Catch::Contains("child.toml:5:23: error: `pricing.staff.headcount` = 1000000000 is beyond the supported range"));
    CHECK_THAT(what, !Catch::Contains("missing required key"));
}

TEST_CASE("a claim's text given as a table or range is one mistake, not also a missing text") {
    // The child's [[claims]] (line 2) with text = { low = "$1", high = "$3" } (line 3, column 8): reported once, at the
    // value. Taking it out made "claims[0] has no `text`" come first (a third fresh verifier, #12); the stand-in text
    // put in its place was not put into a table's place, so the ranges' ends were then each refused for it too.
    test::TempDir dir("all-errors-claim-text");
    const std::string what = load_child_error(dir, "[[claims]]\ntext = { low = \"$1\", high = \"$3\" }\ncost_below = \"$6M\"\n");
    // (A child's [[claims]] replaces the base file's list: the claim is claims[0].)
    // With its hint: every type mistake now says what to write (a new user found some errors without one).
    CHECK_THAT(what, Catch::EndsWith("/child.toml:3:8: error: `claims[0].text` must be a string, not a table\n"
                                     "  write a string there (docs/scenario-language.md gives each key's type)"));
    CHECK_THAT(what, !Catch::Contains("has no `text`"));
    CHECK_THAT(what, !Catch::Contains("which a draw would be refused for"));
}

TEST_CASE("a --set table with `from` and a key misspelt like it ends, reporting the misspelt key") {
    // Every key a --set argument creates shares its position: the search renamed `from` itself (or the table's key
    // in its parent) to the suggestion `from`, read the same mistake again and spun forever (a fresh verifier, #12).
    for (const std::string& set : {std::string("cluster.chip={from=\"h100\", from2=1}"),
                                   std::string("pricing={from=\"h800-cluster-2024\", fromm=1}")}) {
        const ScenarioError e = flagship_error({set});
        INFO(e.what());
        CHECK(e.where().file == "--set " + set);
        CHECK_THAT(e.message(), Catch::StartsWith("unknown key `from"));
        CHECK_THAT(std::string(e.what()), !Catch::Contains("at the top level"));
    }
}

TEST_CASE("a range's bounds written with negative exponents are in one unit") {
    // "$2e-1" was read as the number 2 with the unit "$…e-1", so "$3" was "not in the unit of" it (a second fresh
    // verifier, #12). Both are dollars: uniform($0.2, $3), whose nominal value is the midpoint, $1.6.
    LoadOptions options = catalog_options();
    options.overrides = {"pricing.gpu_hour={low=\"$2e-1\", high=\"$3\"}"};
    const ScenarioSampler sampler(kCatalog / "deepseek-v3.toml", options);
    bool found = false;
    for (const auto& u : sampler.inputs()) {
        if (u.path != "pricing.gpu_hour") continue;
        found = true;
        CHECK(u.a == Approx(0.2));
        CHECK(u.b == Approx(3.0));
        CHECK(u.nominal() == Approx(1.6));
    }
    CHECK(found);
    // A bound in another unit is still refused.
    const ScenarioError e = flagship_error({"pricing.gpu_hour={low=\"$2e-1\", high=\"3e0 s\"}"});
    CHECK_THAT(e.message(), Catch::Contains("is not in the unit of"));
}

TEST_CASE("every mistaken --set argument is reported, with the file's mistakes") {
    // Three arguments each wrong on its own (a misspelt key, a price without its unit, a negative GPU count) and the
    // flagship as shipped: all three are reported in one message.
    const std::string what = flagship_error({"parallelism.pipline=4", "pricing.gpu_hour=2", "cluster.gpus=-16"}).what();
    CHECK_THAT(what, Catch::Contains("--set parallelism.pipline=4: error: unknown key `pipline`"));
    CHECK_THAT(what, Catch::Contains("--set pricing.gpu_hour=2: error: `pricing.gpu_hour` needs a unit"));
    CHECK_THAT(what, Catch::Contains("--set cluster.gpus=-16: error: `cluster.gpus` = -16 is out of range"));
}

TEST_CASE("a table --set over a name --set in place of the file's table reports only the rule it breaks") {
    // reliability = "none" by --set in place of the flagship's [reliability] table (line 87), then reliability.detect
    // by a second --set: the table { from = "none", detect = "1 min" } breaks one rule (none with other keys). The
    // search used to take the name out by putting the file's table back as the value of `from`, and reported a
    // second, spurious "`reliability.from` must be a string, not a table" at line 87 (session 51's audit).
    const std::string what = flagship_error({"reliability=\"none\"", "reliability.detect=\"1 min\""}).what();
    CHECK_THAT(what, Catch::Contains("--set reliability=\"none\": error: reliability is \"none\" (--set reliability=\"none\"), which "
                                     "turns reliability off, but `reliability.detect` is set too"));
    // A file's `reliability = "none"` (a name, not a table) and a --set of one key: located at the --set, the change,
    // in the words written (it was "simple.toml:…: `reliability.from = \"none\"` …", a fresh user's read, session 55).
    const std::string text = "model = \"llama-3.1-8b\"\nreliability = \"none\"\n[cluster]\nchip = \"h100\"\ngpus = 8\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 8\n";
    LoadOptions detect = catalog_options();
    detect.overrides = {"reliability.detect=\"1 min\""};
    CHECK_THAT(std::string(test::scenario_error(text, detect).what()),
               Catch::Contains("--set reliability.detect=\"1 min\": error: reliability is \"none\" (test.toml:2:15), which "
                               "turns reliability off, but `reliability.detect` is set too"));
    CHECK_THAT(what, !Catch::Contains("must be a string"));
    CHECK_THAT(what, !Catch::Contains("deepseek-v3.toml:87"));
}

TEST_CASE("a rule is held back only when the search changed a key it reads") {
    // The child over the flagship writes expert = 3 (line 3: 3 divides neither data × context = 128 nor the 256
    // routed experts), micro_batch = 0 (line 4, out of range: read on as 1) and recompute "selctive" (line 5, read on
    // as "selective"). The stand-ins change micro_batch and recompute, which the expert rule does not read, so it is
    // reported with them; [cluster] oversubscription = 0.5 (line 7) is a bound of one key, reported too.
    test::TempDir dir("all-errors-involves");
    const std::string what = load_child_error(dir, "[parallelism]\nexpert = 3\nmicro_batch = 0\nrecompute = \"selctive\"\n"
                                                   "[cluster]\noversubscription = 0.5\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:10: error: expert = 3 does not divide data × context = 128 × 1 = 128"));
    CHECK_THAT(what, Catch::Contains("child.toml:4:15: error: `parallelism.micro_batch` = 0 is out of range"));
    CHECK_THAT(what, Catch::Contains("child.toml:5:13: error: `parallelism.recompute` = \"selctive\" is not a known choice"));
    CHECK_THAT(what, Catch::Contains("child.toml:7:20: error: `cluster.oversubscription` = 0.5 must be from 1 to 1024"));
}

TEST_CASE("a second fresh-user round: units before order, an MTBF stand-in, a --set key, an unknown rule set") {
    // A small standalone file (lines: 1 model, 2 [cluster], 3 chip, 4 gpus, 5 [training], 6 tokens, 7 sequence_length,
    // 8 global_batch, 9 [reliability], 10 storage_bandwidth, 11 [[reliability.failures]], 12 name, 13 mtbf_per_gpu,
    // 14 [[reliability.failures]], 15 name, 16 a misspelt mtbf_per_nod, 17 [whatif], 18 rule).
    const std::string text = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 8\n[training]\ntokens = \"1B\"\n"
                             "sequence_length = 4096\nglobal_batch = 8\n[reliability]\n"
                             "storage_bandwidth = { low = \"200 Gb/s\", high = \"50 GB\" }\n"
                             "[[reliability.failures]]\nname = \"a\"\nmtbf_per_gpu = \"30 s\"\n"
                             "[[reliability.failures]]\nname = \"b\"\nmtbf_per_nod = \"5000 h\"\n"
                             "[whatif]\nrule = \"oct-2032\"\n";
    LoadOptions options = catalog_options();
    options.overrides = {"parallelism.tensr=2"};
    const std::string what = test::scenario_error(text, options).what();
    // "200 Gb/s" and "50 GB" are in different units (named at high, column 48), not "low < high" on bare numbers.
    CHECK_THAT(what, Catch::Contains("test.toml:10:48: error: `reliability.storage_bandwidth.high` = \"50 GB\" is not in the unit of"));
    CHECK_THAT(what, !Catch::Contains("needs low < high"));
    // 30 s is under the MTBF floor; read on as 50700 h, the class keeps an MTBF (no "needs exactly one of" for it).
    CHECK_THAT(what, Catch::Contains("test.toml:13:16: error: `reliability.failures[0].mtbf_per_gpu` = 30 s is below the supported range"));
    CHECK_THAT(what, !Catch::Contains("failures[0] needs exactly one of"));
    // The next class's misspelt key is in the same round.
    CHECK_THAT(what, Catch::Contains("test.toml:16:1: error: unknown key `mtbf_per_nod`"));
    // The rule set is checked by `check`, with a suggestion.
    CHECK_THAT(what, Catch::Contains("test.toml:18:8: error: `whatif.rule` = \"oct-2032\" is not a rule set"));
    // --set parallelism.tensr=2 without a [parallelism] table: the misspelt key is named, and nothing renames the
    // table it creates ("unknown key `tensor` at the top level" was printed before).
    CHECK_THAT(what, Catch::Contains("--set parallelism.tensr=2: error: unknown key `tensr`"));
    CHECK_THAT(what, !Catch::Contains("at the top level"));
}

TEST_CASE("a child's change that makes the model not fit is located at the child's key") {
    // A base file (Llama 3.1 8B on 16 H100, TP2 PP2 DP4, micro-batches of one 8,192-token sequence: it fits) and a
    // child writing micro_batch = 16 (line 3, value at column 15): 16 sequences per micro-batch hold about
    // 34 × 8,192 × 4,096 × 16 / 2 bytes ≈ 9.1 GB of activations per layer, 16 layers per stage: past the H100's
    // 80 GB. Located at the child's key, not the base file's [parallelism] table.
    test::TempDir dir("all-errors-fit");
    std::ofstream(dir.path / "base.toml") << "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                                             "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\nmicro_batch = 1\n"
                                             "[training]\ntokens = \"1T\"\nsequence_length = 8192\nglobal_batch = 64\n";
    const auto child = dir.path / "child.toml";
    std::ofstream(child) << "extends = \"base.toml\"\n[parallelism]\nmicro_batch = 16\n";
    require_fit(load_scenario(dir.path / "base.toml", catalog_options()));  // the base fits
    const Scenario s = load_scenario(child, catalog_options());
    try {
        require_fit(s);
        FAIL("expected the model not to fit");
    } catch (const ScenarioError& e) {
        CHECK(std::filesystem::path(e.where().file).filename() == "child.toml");
        CHECK(e.where().line == 3);
        CHECK(e.where().column == 15);
        CHECK_THAT(e.message(), Catch::Contains("the model does not fit"));
    }
}

TEST_CASE("a file missing several sections names them all at once") {
    // An empty file lacks model, [cluster] and [training]: one message names the three (it used to take a round each).
    const ScenarioError empty = test::scenario_error("", catalog_options());
    CHECK_THAT(empty.message(), Catch::Contains("the scenario has no `model`, `cluster`, `training`"));
    const ScenarioError model_only = test::scenario_error("model = \"llama-3.1-8b\"\n", catalog_options());
    CHECK_THAT(model_only.message(), Catch::Contains("the scenario has no `cluster`, `training`"));
    // A model catalog file given where a scenario goes (an audit: `gpuhours model scenarios/models/deepseek-v3.toml`)
    // is named as one, with the command that takes its name.
    const ScenarioError model_file = test::scenario_error("name = \"X\"\nlayers = 2\nhidden = 64\n", catalog_options());
    CHECK_THAT(model_file.message(), Catch::Contains("this is a model catalog file, not a scenario"));
    CHECK_THAT(model_file.hint(), Catch::Contains("`gpuhours model test`"));
}

TEST_CASE("a fourth fresh-user round: a claim without text, a schedule typo beside the batch, a two-bound range typo") {
    // The child over the flagship (lines: 2 [parallelism], 3 schedule misspelt, 4 [training], 5 global_batch not a
    // multiple of 128, 6 [cluster], 7 nic_bandwidth with `hgih` (key at column 37), 8 [[claims]] with no text (its
    // header, 8:1), 9 an MFU bound above 1 (column 13)). The divisibility of the batch does not read the schedule, so
    // the schedule's stand-in does not hold it back; the claim reads on with a stand-in text.
    test::TempDir dir("all-errors-round4");
    const std::string what = load_child_error(dir, "[parallelism]\nschedule = \"dual-pipe\"\n[training]\nglobal_batch = 15000\n"
                                                   "[cluster]\nnic_bandwidth = { low = \"300 Gb/s\", hgih = \"400 Gb/s\" }\n"
                                                   "[[claims]]\nmfu_above = 1.5\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:12: error: `parallelism.schedule` = \"dual-pipe\" is not a known choice"));
    CHECK_THAT(what, Catch::Contains("child.toml:5:16: error: global_batch = 15000 is not divisible by data × micro_batch = 128 × 1 = 128"));
    CHECK_THAT(what, Catch::Contains("child.toml:7:37: error: unknown key `hgih`"));
    CHECK_THAT(what, Catch::Contains("child.toml:8:1: error: claims[0] has no `text`"));
    CHECK_THAT(what, Catch::Contains("child.toml:9:13: error: `claims[0].mfu_above` is a fraction"));
    CHECK_THAT(what, !Catch::Contains("check again"));
}

TEST_CASE("an override taken out by the search puts back the value it replaced") {
    // --set phases.1.parallelism.context=3 on the flagship: its second phase (context 8, data 16 in the file) gets
    // 1 × 3 × 16 × 16 = 768 ≠ 2048 GPUs, located at the argument. Taken out, the phase reads on with the file's
    // context = 8, not the scenario's default of 1 (which made 1 × 1 × 16 × 16 = 256 ≠ 2048 an error in
    // deepseek-v3.toml, a file the user did not touch).
    const std::string what = flagship_error({"phases.1.parallelism.context=3"}).what();
    CHECK_THAT(what, Catch::StartsWith("--set phases.1.parallelism.context=3: error: phases[1]: tensor × context × pipeline × data = 1 × 3 × 16 × 16 = 768 ≠ gpus 2048"));
    CHECK_THAT(what, !Catch::Contains("deepseek-v3.toml:"));
}

TEST_CASE("a fifth fresh-user round: a shortened key, tables without a needed key, a --set list item, a ramp, two phases") {
    test::TempDir dir("all-errors-round5");
    // Child of the flagship (line 1 extends; line 2 unsets the base's what-if chips): failures[0] writes `mtbf`
    // (line 5), the start of mtbf_per_gpu and mtbf_per_node, too far from either by edit distance, so it is named by
    // prefix and read on as mtbf_per_gpu; failures[1]'s MTBF of 30 s (line 8, value at column 17) is under the 60 s
    // floor; [whatif] (line 9) is left with a deadline but neither chips nor a rule, read on with a stand-in chip;
    // pue = 0.5 (line 12, column 7). Four mistakes, one round, no "check again" line.
    const std::string what = load_child_error(dir, "unset = [\"whatif.chips\"]\n"
                                                   "[[reliability.failures]]\nname = \"GPU\"\nmtbf = \"100000 h\"\n"
                                                   "[[reliability.failures]]\nname = \"net\"\nmtbf_per_node = \"30 s\"\n"
                                                   "[whatif]\ndeadline = \"2 months\"\n[pricing]\npue = 0.5\n");
    CHECK_THAT(what, Catch::Contains("child.toml:5:1: error: unknown key `mtbf` in [reliability.failures[0]]\n"
                                     "  did you mean `mtbf_per_gpu` or `mtbf_per_node`?"));
    CHECK_THAT(what, Catch::Contains("child.toml:8:17: error: `reliability.failures[1].mtbf_per_node` = 30 s"));
    CHECK_THAT(what, Catch::Contains("child.toml:9:1: error: [whatif] needs chips or a rule"));
    CHECK_THAT(what, Catch::Contains("child.toml:12:7: error: `pricing.pue`"));
    CHECK(std::count(what.begin(), what.end(), '\n') >= 4);
    CHECK_THAT(what, !Catch::Contains("check again"));

    // A ramp starting at 1,000 sequences (line 5, value at column 23: `batch_ramp = { from = ` is 22 characters),
    // not a multiple of data × micro_batch = 128 × 1: located at `from`, read on with from = 128, so pue = 0.5 (line
    // 7) is reported too.
    const std::string ramp = load_child_error(dir, "[[phases]]\nname = \"a\"\ntokens = \"14T\"\n"
                                                   "batch_ramp = { from = 1000, tokens = \"400B\" }\n[pricing]\npue = 0.5\n");
    CHECK_THAT(ramp, Catch::StartsWith(dir.path.string() + "/child.toml:5:23: error: phases[0].batch_ramp.from = 1000 must be below"));
    CHECK_THAT(ramp, Catch::Contains("child.toml:7:7: error: `pricing.pue`"));
    CHECK_THAT(ramp, !Catch::Contains("check again"));

    // On the flagship by --set: an unknown chip as the second item of a list (named as chips[1], not chips[0], and
    // only it replaced), and two phases' degrees: phase 1's context = 3 gives 1 × 3 × 16 × 16 = 768 ≠ 2048, phase 2's
    // data = 5 gives 1 × 32 × 16 × 5 = 2560 ≠ 2048 (the file's phase 2 has context 32). A change in phase 1 does not
    // hold back phase 2's rule: three mistakes, each naming its phase, in the order of the arguments.
    const std::string set = flagship_error({"whatif.chips=[\"h800\",\"h1000\",\"h20\"]", "phases.1.parallelism.context=3",
                                            "phases.2.parallelism.data=5"}).what();
    CHECK_THAT(set, Catch::Contains("--set whatif.chips=[\"h800\",\"h1000\",\"h20\"]: error: `whatif.chips[1]` = \"h1000\""));
    CHECK_THAT(set, Catch::Contains("--set phases.1.parallelism.context=3: error: phases[1]: tensor × context × pipeline × data = 1 × 3 × 16 × 16 = 768"));
    CHECK_THAT(set, Catch::Contains("--set phases.2.parallelism.data=5: error: phases[2]: tensor × context × pipeline × data = 1 × 32 × 16 × 5 = 2560"));
    CHECK_THAT(set, !Catch::Contains("check again"));
    CHECK_THAT(set, !Catch::Contains("deepseek-v3.toml:"));
}

TEST_CASE("a sixth fresh-user round: a child's schedule, one-key rules, a fraction without its GPU count, claims and ranges") {
    test::TempDir dir("all-errors-round6");
    // Child of the flagship, one mistake per line named below (columns: the value after `key = `):
    //  4:18 schedule = "interleaved", virtual_stages = 2 (lines 3–4) over the base's batch of 120 micro-batches per
    //       replica on 16 stages: located at the child's key written last, not at the base's global_batch;
    //  5:9  order "tp-dp-pp", a rule of one key: reported although the search changed the layout before it;
    //  7:1  init_per_gpu_sq, the start of init_per_gpu_squared: suggested that, not init_per_gpu (3 edits away);
    //  9:14 stragglers without at_gpus, and 9:27 its fraction 1.5 > 1: both (taking the fraction out first hid the
    //       missing GPU count);
    //  11:35 a range's mode "2" without "$": once, at the mode, not again as the money it stands in for;
    //  15:1 cost_belwo beside rung = "research": the misspelling, not "a rung without a cost bound";
    //  18:21 wall_clock_within with one bound: read on with a duration pair (the example), not "states nothing".
    const std::string what = load_child_error(dir, "[parallelism]\nschedule = \"interleaved\"\nvirtual_stages = 2\norder = \"tp-dp-pp\"\n"
                                                   "[reliability]\ninit_per_gpu_sq = \"30 ns\"\n[reliability.overheads]\n"
                                                   "stragglers = { fraction = 1.5, source = \"guess\" }\n"
                                                   "[pricing]\ngpu_hour = { low = \"$1.5\", mode = \"2\", high = \"$3\" }\n"
                                                   "[[claims]]\ntext = \"research\"\nrung = \"research\"\ncost_belwo = \"$20M\"\n"
                                                   "[[claims]]\ntext = \"days\"\nwall_clock_within = [\"2 months\"]\n");
    CHECK_THAT(what, Catch::Contains("child.toml:4:18: error: the interleaved schedule needs micro-batches to be a multiple of pipeline stages"));
    CHECK_THAT(what, Catch::Contains("child.toml:5:9: error: `parallelism.order`"));
    CHECK_THAT(what, Catch::Contains("child.toml:7:1: error: unknown key `init_per_gpu_sq` in [reliability]\n  did you mean `init_per_gpu_squared`?"));
    CHECK_THAT(what, Catch::Contains("child.toml:9:14: error: `reliability.overheads.stragglers` needs at_gpus"));
    CHECK_THAT(what, Catch::Contains("child.toml:9:27: error: `reliability.overheads.stragglers.fraction` = 1.5"));
    CHECK_THAT(what, Catch::Contains("child.toml:11:35: error: `pricing.gpu_hour.mode` = \"2\" is not in the unit"));
    CHECK_THAT(what, !Catch::Contains("must start with \"$\""));
    CHECK_THAT(what, Catch::Contains("child.toml:15:1: error: unknown key `cost_belwo` in [claims[0]]"));
    CHECK_THAT(what, !Catch::Contains("names a cost rung"));
    CHECK_THAT(what, Catch::Contains("child.toml:18:21: error: `claims[1].wall_clock_within` must be a list of two bounds"));
    CHECK_THAT(what, Catch::Contains("e.g. wall_clock_within = [\"1 month\", \"2 months\"]"));
    CHECK_THAT(what, !Catch::Contains("states nothing"));
    CHECK_THAT(what, !Catch::Contains("deepseek-v3.toml:"));
}

TEST_CASE("a seventh fresh-user round: unset without extends, a --set at no index, rules that do not read what changed") {
    test::TempDir dir("all-errors-round7");
    // Child of the flagship (data = 128 written there): expert = 256 (line 3, column 10) does not divide data ×
    // context = 128; gpus = -2048 (line 5, column 8) is out of range, read on as 2048. The expert rule reads
    // expert, data and context, not the GPU count (data is written), so the search's change of gpus does not hold
    // it back. precision = "fp4" (line 7, column 13): the H800 has no FP4 peak, a rule of precision and chip,
    // reported too and read on in BF16 (fp8_recipe = "none" on line 8: the flagship's blockwise recipe would
    // otherwise follow as a second rule of precision).
    const std::string what = load_child_error(
        dir, "[parallelism]\nexpert = 256\n[cluster]\ngpus = -2048\n[training]\nprecision = \"fp4\"\nfp8_recipe = \"none\"\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:10: error: expert = 256 does not divide data × context = 128 × 1 = 128"));
    CHECK_THAT(what, Catch::Contains("child.toml:5:8: error: `cluster.gpus` = -2048"));
    CHECK_THAT(what, Catch::Contains("child.toml:7:13: error: chip \"h800"));
    CHECK_THAT(what, Catch::Contains("has no fp4 peak"));
    CHECK_THAT(what, !Catch::Contains("check again"));

    // `unset` without `extends` (line 1, column 9) in a whole scenario (Llama 3.1 8B on 16 H100) whose pue = 0.5
    // (line 8, column 7): both, in one round.
    const auto orphan = dir.path / "orphan.toml";
    std::ofstream(orphan) << "unset = [\"pricing.pue\"]\nmodel = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 16\n"
                             "[pricing]\ngpu_hour = \"$2\"\npue = 0.5\n"
                             "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 256\n[parallelism]\ntensor = 8\n";
    const std::string alone = test::scenario_file_error(orphan, catalog_options()).what();
    CHECK_THAT(alone, Catch::Contains("orphan.toml:1:9: error: `unset` removes keys a base file sets, but this file has no `extends`"));
    CHECK_THAT(alone, Catch::Contains("orphan.toml:8:7: error: `pricing.pue`"));

    // On the flagship (4 phases): --set phases.7.name names no phase; reported after the other argument's mistake,
    // which is still found (pricing.pue=0.5), in the order given.
    const std::string set = flagship_error({"pricing.pue=0.5", "phases.7.name=x"}).what();
    CHECK_THAT(set, Catch::StartsWith("--set pricing.pue=0.5: error: `pricing.pue`"));
    CHECK_THAT(set, Catch::Contains("\n--set phases.7.name=x: error: cannot set `phases.7.name`: `7` is not an index of the 4 entries"));
}

TEST_CASE("an attention kind set over a model with another kind's figures names the figure and the --set") {
    // The flagship's model is MLA (scenarios/models/deepseek-v3.toml: kv_lora_rank, q_lora_rank, …). --set
    // model.attention.kind="mha" left those "unknown key `kv_lora_rank` in [model.attention]" at the catalog file's
    // line, naming neither the --set nor why (session 51's audit). The first MLA figure in the table's order is named.
    const ScenarioError e = flagship_error({"model.attention.kind=\"mha\""});
    CHECK(e.where().file == "--set model.attention.kind=\"mha\"");
    CHECK_THAT(e.message(), Catch::Contains("is a figure of multi-head latent (mla) attention, but `model.attention.kind` = \"mha\""));
    CHECK_THAT(e.hint(), Catch::Contains("keep kind = \"mla\""));
}

TEST_CASE("a memory range whose low end cannot hold the model is refused, as its nominal would be") {
    // Child of the flagship: [cluster.chip] memory.capacity = { low = "40 GB", mode = "80 GB", high = "90 GB" } (line
    // 3, the table at column 19: `memory.capacity = ` is 18 characters). At 40 GB the H800 keeps 40 − 3.221 (the 3 GiB
    // reserve) = 36.78 GB for the model, below what the flagship's worst pipeline rank needs (it fits the nominal's
    // 76.78 GB). `check` passed the range and `run` ran every draw as if it fitted (session 51's audit); both refuse it
    // now, exit 2, located at the range. Loading does not (a reviewer's read: `plan` and `whatif`, which change the
    // layout or the chip, were refused at load), and a low end of 75 GB (71.78 GB usable) holds it and passes.
    test::TempDir dir("all-errors-memory-range");
    const auto child = dir.path / "child.toml";
    const auto write = [&](const char* low) {
        std::ofstream(child) << "extends = \"" << (kCatalog / "deepseek-v3.toml").string() << "\"\n"
                             << "[cluster.chip]\nmemory.capacity = { low = \"" << low << "\", mode = \"80 GB\", high = \"90 GB\" }\n";
    };
    write("40 GB");
    CHECK_NOTHROW(load_scenario(child, catalog_options()));
    const std::string catalog = " --catalog " + kCatalog.string();
    for (const char* command : {"check ", "run --samples 2 "}) {
        const auto r = test::run_cli(std::string(command) + child.string() + catalog);
        INFO(r.out);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.out, Catch::Contains("child.toml:3:19: error: cluster.chip.memory.capacity ~ triangular(40 GB, 80 GB, 90 GB) reaches "
                                          "40 GB, at which the model does not fit"));
        CHECK_THAT(r.out, Catch::Contains("has 36.78 GB usable: 40 GB as the device reports it"));
    }
    write("75 GB");
    CHECK(test::run_cli("check " + child.string() + catalog).exit_code == 0);
}

TEST_CASE("an eighth fresh-user round: a range end, another phase's one-key mistake, a name that starts several") {
    test::TempDir dir("all-errors-round8");
    // Child of the flagship: [cluster.chip] efficiency.attention = { low = 0.3, mode = 0.5, high = 1.2 } (line 3, the
    // table at column 24: `efficiency.attention = ` is 23 characters) reaches 1.2, which a draw would be refused
    // for (a fraction in (0, 1]); nic_link = 0 (line 4, column 23) is refused itself. Both in one round: the range's
    // ends are checked on the document the search read cleanly. whatif.chips[1] = "a100" (line 6, column 18) is
    // the start of two catalog chips: both suggested.
    const std::string what = load_child_error(dir, "[cluster.chip]\nefficiency.attention = { low = 0.3, mode = 0.5, high = 1.2 }\n"
                                                   "efficiency.nic_link = 0\n[whatif]\nchips = [\"h800\", \"a100\"]\n");
    CHECK_THAT(what, Catch::Contains("child.toml:3:24: error: cluster.chip.efficiency.attention ~ triangular(0.3, 0.5, 1.2) reaches 1.2"));
    CHECK_THAT(what, Catch::Contains("child.toml:4:23: error: `cluster.chip.efficiency.nic_link` = 0 must be a fraction in (0, 1]"));
    CHECK_THAT(what, Catch::Contains("child.toml:6:18: error: `whatif.chips[1]` = \"a100\" is not a chip in the catalog\n"
                                     "  did you mean \"a100-40gb\" or \"a100-80gb\"?"));

    // Phases: phases[1] (line 5) has neither tokens nor steps, read on with one step; phases[2]'s gpu_hour = "$-2"
    // (line 10, column 12) is a mistake of its own, not held back by the change in phases[1].
    const std::string phases = load_child_error(dir, "[[phases]]\nname = \"a\"\ntokens = \"14T\"\n[[phases]]\nname = \"b\"\n"
                                                     "[[phases]]\nname = \"c\"\nsteps = 10\ngpu_hour = \"$-2\"\n");
    CHECK_THAT(phases, Catch::Contains("child.toml:5:1: error: phases[1] needs exactly one of tokens or steps"));
    CHECK_THAT(phases, Catch::Contains("child.toml:10:12: error: `phases[2].gpu_hour` cannot be negative"));
    CHECK_THAT(phases, !Catch::Contains("check again"));
}

TEST_CASE("a ninth fresh-user round: unset through a chain, a table left wanting by unset, a string bound, two research sources") {
    test::TempDir dir("all-errors-round9");
    // child.toml extends the ownership variant, which extends the flagship: `unset` sees every key of the chain, so
    // pricing.pue (written in the flagship, two files down) is removed and the file reads on (no error names it).
    // It also unsets whatif.chips (line 2, the entry at column 25), which leaves the flagship's [whatif] with neither
    // chips nor a rule: located at that entry, not at the flagship's [whatif]. research_multiplier = 2 beside
    // [[pricing.research_runs]] (line 4, column 23) gives the research compute twice: located at the multiplier.
    // [cluster.chip] efficiency.gemm_fp8.high = "0.583", a number in quotes beside numbers (line 10, column 58).
    const auto child = dir.path / "child.toml";
    std::ofstream(child) << "extends = \"" << (kCatalog / "deepseek-v3-ownership.toml").string() << "\"\n"
                         << "unset = [\"pricing.pue\", \"whatif.chips\"]\n[pricing]\nresearch_multiplier = 2\n"
                         << "[[pricing.research_runs]]\nname = \"ablations\"\ngpu_hours = \"500K\"\nsource = \"guess\"\n"
                         << "[cluster.chip]\nefficiency.gemm_fp8 = { low = 0.477, mode = 0.53, high = \"0.583\" }\n";
    const std::string what = test::scenario_file_error(child, catalog_options()).what();
    CHECK_THAT(what, !Catch::Contains("pricing.pue"));
    CHECK_THAT(what, Catch::Contains("child.toml:2:25: error: [whatif] needs chips or a rule"));
    CHECK_THAT(what, Catch::Contains("child.toml:4:23: error: the research compute is given both as `pricing.research_multiplier`"));
    CHECK_THAT(what, Catch::Contains("child.toml:10:58: error: `cluster.chip.efficiency.gemm_fp8.high` = \"0.583\" is a string"));
    CHECK_THAT(what, !Catch::Contains("deepseek-v3.toml:"));

    // --set claims.0.text on a scenario without [[claims]], and reliability = "nonee": a message about what the
    // user wrote, and "none" suggested.
    const auto plain = dir.path / "plain.toml";
    std::ofstream(plain) << "model = \"llama-3.1-8b\"\nreliability = \"nonee\"\n[cluster]\nchip = \"h100\"\ngpus = 16\n"
                         << "[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 256\n[parallelism]\ntensor = 8\n";
    LoadOptions options = catalog_options();
    options.overrides = {"claims.0.text=x"};
    const std::string set = test::scenario_file_error(plain, options).what();
    CHECK_THAT(set, Catch::Contains("plain.toml:2:15: error: unknown reliability entry \"nonee\"\n  did you mean \"none\"?"));
    CHECK_THAT(set, Catch::Contains("--set claims.0.text=x: error: cannot set `claims.0.text`: the scenario has no `claims` list to index"));
}

TEST_CASE("a tenth fresh-user round: rules with zero, a child's micro_batch, a lengthened bound, unset not a list") {
    test::TempDir dir("all-errors-round10");
    // Child of the flagship: `unset = "pricing.pue"` (line 2, column 9) is not a list, reported and skipped;
    // micro_batch = 7 (line 4, column 15) makes the base's global batch 15,360 not divisible by 128 × 7 = 896:
    // located at the child's micro_batch, not the base's global_batch; prefetch = 2 (line 5, column 12) with the
    // base's zero = 1, a rule of prefetch and zero, reported although the search changed micro_batch; precision =
    // "fp4" (line 7, column 13) on the H800. In the price range, `sdev` (line 9) lengthens `sd` by two letters:
    // named as its misspelling at the key (column 44), not "missing sd" at the range.
    const std::string what = load_child_error(dir, "unset = \"pricing.pue\"\n[parallelism]\nmicro_batch = 7\nprefetch = 2\n"
                                                   "[training]\nprecision = \"fp4\"\n[pricing]\n"
                                                   "gpu_hour = { dist = \"normal\", mean = \"$2\", sdev = \"$0.3\" }\n");
    CHECK_THAT(what, Catch::Contains("child.toml:2:9: error: `unset` must be an array of dotted keys"));
    CHECK_THAT(what, Catch::Contains("child.toml:4:15: error: global_batch = 15360 is not divisible by data × micro_batch = 128 × 7 = 896"));
    CHECK_THAT(what, Catch::Contains("child.toml:5:12: error: `parallelism.prefetch` applies to ZeRO-3 / FSDP sharding only, but zero = 1"));
    CHECK_THAT(what, Catch::Contains("child.toml:7:13: error: chip \"h800"));
    CHECK_THAT(what, Catch::Contains("child.toml:9:44: error: unknown key `sdev` in [pricing.gpu_hour]\n  did you mean `sd`?"));
    CHECK_THAT(what, !Catch::Contains("deepseek-v3.toml:"));
}

TEST_CASE("a catalog name with a qualifier of the user's is offered the name it starts with") {
    // `chip = "h100-sxm"`: four edits from "h100", so no suggestion came (a new user's read, session 52), while
    // "llama-2-70" got one. A known name followed by "-", "_", " " or "." is offered, the longest such: "h100", not
    // "h100-pcie" (which "h100-sxm" does not start with).
    const std::string text = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100-sxm\"\ngpus = 8\n[training]\ntokens = \"1B\"\n"
                             "sequence_length = 4096\nglobal_batch = 8\n";
    const std::string what = test::scenario_error(text, catalog_options()).what();
    CHECK_THAT(what, Catch::Contains(":3:8: error: unknown chip \"h100-sxm\"\n  did you mean \"h100\"? Known chips:"));
    // A model name with a qualifier: the model it starts with.
    std::string model = text;
    model.replace(model.find("llama-3.1-8b"), 12, "llama-3.1-8b_instruct");
    model.replace(model.find("h100-sxm"), 8, "h100");
    CHECK_THAT(std::string(test::scenario_error(model, catalog_options()).what()), Catch::Contains("did you mean \"llama-3.1-8b\"?"));
    // A typo of a longer name is offered that name, not the shorter name it starts with ("h100-pcei": two edits from
    // "h100-pcie"; a reviewer's read: the qualifier rule came first and offered "h100").
    std::string typo = text;
    typo.replace(typo.find("h100-sxm"), 8, "h100-pcei");
    CHECK_THAT(std::string(test::scenario_error(typo, catalog_options()).what()), Catch::Contains("did you mean \"h100-pcie\"?"));
}

TEST_CASE("a catalog name typed with look-alike letters is offered the name") {
    // `chip = "h1OO"` (letter O for the digit zero, a fresh user's typo, session 54): two edits of four characters
    // from "h100", above suggest()'s third, so nothing was offered. With O read as 0 (and l, I as 1) it is no edit
    // from "h100", and "h100" is the only such name (h100-pcie is five more characters away).
    const std::string text = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h1OO\"\ngpus = 8\n[training]\ntokens = \"1B\"\n"
                             "sequence_length = 4096\nglobal_batch = 8\n";
    CHECK_THAT(std::string(test::scenario_error(text, catalog_options()).what()),
               Catch::Contains(":3:8: error: unknown chip \"h1OO\"\n  did you mean \"h100\"? Known chips:"));
    // "al00-80gb" (letter l for 1): one plain edit from both "a100-80gb" and "a800-80gb"; folded, none from the first.
    std::string ell = text;
    ell.replace(ell.find("h1OO"), 4, "al00-80gb");
    CHECK_THAT(std::string(test::scenario_error(ell, catalog_options()).what()), Catch::Contains("did you mean \"a100-80gb\"?"));
}

TEST_CASE("a claim whose bounds of one metric no value meets together is refused at the later bound") {
    // cost_below = "$6M" (line 13) and cost_above = "$7M" (line 14, value at column 14): no cost is both below $6M and
    // above $7M, so the claim would FAIL for every run whatever it costs (an audit found it judged "FAILS 0%").
    // Located at the later of the two; the same with a `*_within` that lies above a `*_below`. A below above an
    // above (cost between $5M and $7M) is a claim some runs meet: it loads.
    const std::string head = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 8\n[training]\ntokens = \"1B\"\n"
                             "sequence_length = 4096\nglobal_batch = 8\n[pricing]\ngpu_hour = \"$2\"\n[[claims]]\ntext = \"a\"\n";
    const ScenarioError e = test::scenario_error(head + "cost_below = \"$6M\"\ncost_above = \"$7M\"\n", catalog_options());
    CHECK(e.where().line == 14);
    CHECK(e.where().column == 14);
    CHECK_THAT(e.message(), Catch::Contains("`claims[0].cost_below` and `claims[0].cost_above` leave no cost that meets "
                                            "them all: claims[0] fails for every run"));
    const ScenarioError w = test::scenario_error(head + "wall_clock_within = [\"2 months\", \"3 months\"]\nwall_clock_below = "
                                                        "\"1 month\"\n", catalog_options());
    CHECK(w.where().line == 14);
    CHECK_THAT(w.message(), Catch::Contains("leave no wall_clock that meets them all"));
    CHECK_NOTHROW(load_scenario_from_string(head + "cost_below = \"$7M\"\ncost_above = \"$5M\"\n", "test.toml", catalog_options()));
}

TEST_CASE("an empty [[claims]] is said to lack both its text and a bound, and the search reads on past it") {
    // Lines 11 [[claims]] (empty), 12 [[claims]], 13 text, 14 mfu_above = 2 (column 13). The empty claim used to
    // end the search after its "has no `text`" (its stand-in text then stated nothing), hiding line 14's mistake.
    const std::string text = "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 8\n[training]\ntokens = \"1B\"\n"
                             "sequence_length = 4096\nglobal_batch = 8\n[pricing]\ngpu_hour = \"$2\"\n"
                             "[[claims]]\n[[claims]]\ntext = \"b\"\nmfu_above = 2\n";
    const std::string what = test::scenario_error(text, catalog_options()).what();
    CHECK_THAT(what, Catch::Contains("test.toml:11:1: error: claims[0] has no `text` and states nothing to check"));
    CHECK_THAT(what, Catch::Contains("test.toml:14:13: error: `claims[1].mfu_above` is a fraction"));
    CHECK_THAT(what, !Catch::Contains("cannot read past"));
}
