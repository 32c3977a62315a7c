// The command-line front end as a user meets it: exit codes, messages on stderr, output on stdout.
#include "../support/cli.hpp"
#include "../support/json.hpp"

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>

namespace {

using Result = gpuhours::test::CliResult;
Result run(const std::string& arguments) { return gpuhours::test::run_cli(arguments); }

const std::string kRoot = GPUHOURS_TEST_SOURCE_DIR;
const std::string kFlagship = kRoot + "/scenarios/deepseek-v3.toml";

}  // namespace

TEST_CASE("check --json of an invalid scenario says so in JSON, where the mistake is, and exits 2") {
    // A notebook validating with `check --json` got nothing on stdout for an invalid file (a fresh user's hunt,
    // session 38): now "valid": false and the first mistake, located (line 5 holds the misspelt key, the file's
    // only mistake).
    const std::string dir = (gpuhours::test::scratch_path("cli-check-json")).string();
    std::filesystem::create_directories(dir);
    const std::string file = dir + "/typo.toml";
    std::ofstream(file) << "model = \"llama-3.1-8b\"\n[cluster]\nchip = \"h100\"\ngpus = 8\nnic_bandwith = \"400 Gb/s\"\n"
                           "[parallelism]\ndata = 8\n[training]\ntokens = \"1B\"\nsequence_length = 4096\nglobal_batch = 8\n";
    const Result r = run("check --json " + file + " --catalog " + kRoot + "/scenarios");
    INFO(r.out);
    CHECK(r.exit_code == 2);
    const auto at = r.out.find("{\n");  // stdout, after the message on stderr
    REQUIRE(at != std::string::npos);
    const auto doc = gpuhours::test::JsonReader(r.out.substr(at)).document();
    CHECK_FALSE(std::get<bool>(doc["valid"].v));
    CHECK(doc["error"]["line"].number() == 5);
    CHECK_THAT(doc["error"]["message"].string(), Catch::Contains("unknown key `nic_bandwith`"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("gpuhours alone prints help and succeeds") {
    const Result r = run("");
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("usage: gpuhours COMMAND"));
}

TEST_CASE("an unknown command exits 2 with a suggestion") {
    const Result r = run("chekc " + kFlagship);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("did you mean `check`?"));
}

TEST_CASE("check validates the flagship and prints the resolved layout") {
    const Result r = run("check " + kFlagship);
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("valid"));
    CHECK_THAT(r.out, Catch::Contains("tensor 1 × context 1 × pipeline 16 × data 128 = 2048 GPUs"));
    // 61 layers over 16 stages: floor 3, remainder 13, so stages hold 3 or 4 layers.
    CHECK_THAT(r.out, Catch::Contains("uneven: 3 to 4 layers"));
}

TEST_CASE("a misspelt key exits 2 naming file:line:column and the right key") {
    const std::filesystem::path dir = gpuhours::test::scratch_path("cli-test");
    std::filesystem::create_directories(dir);
    const auto file = dir / "typo.toml";
    std::ofstream(file) << "extends = \"" << kFlagship << "\"\n[parallelism]\npipline = 16\n";
    const Result r = run("check " + file.string());
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains(file.string() + ":3:1: error: unknown key `pipline` in [parallelism]"));
    CHECK_THAT(r.out, Catch::Contains("did you mean `pipeline`?"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("an override that breaks the layout exits 2 with the numbers") {
    const Result r = run("check " + kFlagship + " --set cluster.gpus=4096");
    CHECK(r.exit_code == 2);
    // 1 × 1 × 16 × 128 = 2048, not 4096.
    CHECK_THAT(r.out, Catch::Contains("1 × 1 × 16 × 128 = 2048 ≠ gpus 4096"));
}

TEST_CASE("a failing command prints nothing on stdout") {
    const std::string command = std::string(GPUHOURS_TEST_CLI) + " check " + kFlagship + " --set cluster.gpus=4096 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 256> buffer{};
    const std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe);
    pclose(pipe);
    CHECK(n == 0);
}

TEST_CASE("chips lists the catalog") {
    const Result r = run("chips");
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("h800") && Catch::Contains("NVIDIA H800 SXM5") && Catch::Contains("200 GB/s"));
}

TEST_CASE("the same command gives byte-identical JSON") {
    const Result a = run("check " + kFlagship + " --json");
    const Result b = run("check " + kFlagship + " --json");
    CHECK(a.exit_code == 0);
    CHECK(a.out == b.out);
    CHECK_THAT(a.out, Catch::Contains("\"schema_version\": 3"));
}

TEST_CASE("an unknown option exits 2 and lists the known ones") {
    const Result r = run("chips --jsn");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("did you mean --json?"));
}

TEST_CASE("check and model state the vocabulary as trained: padded to a multiple of 128 × TP") {
    // GPT-3's 50,257-token vocabulary on 2 of its layers at TP 8. 128 × 8 = 1024; 50,257 / 1024 = 49.1, so
    // Megatron trains 50 × 1024 = 51,200 rows. With vocab_divisible_by = 1 the multiple is 8: 6,283 × 8 = 50,264.
    // The model by name alone is on one GPU: 393 × 128 = 50,304.
    const std::string dir = (gpuhours::test::scratch_path("cli-vocab")).string();
    std::filesystem::create_directories(dir);
    const std::string file = dir + "/gpt3.toml";
    std::ofstream(file) << "model = { from = \"gpt-3-175b\", layers = 2 }\n[cluster]\nchip = \"h100\"\ngpus = 8\n"
                           "[parallelism]\ntensor = 8\n[training]\ntokens = \"1B\"\nsequence_length = 2048\n"
                           "global_batch = 8\n";
    const std::string catalog = " --catalog " + kRoot + "/scenarios";
    const Result check = run("check " + file + catalog);
    INFO(check.out);
    CHECK(check.exit_code == 0);
    CHECK_THAT(check.out, Catch::Contains("vocab 50257 (padded to 51200, a multiple of 128 × tensor 8)"));
    const Result unpadded = run("check " + file + catalog + " --set parallelism.vocab_divisible_by=1");
    CHECK_THAT(unpadded.out, Catch::Contains("vocab 50257 (padded to 50264, a multiple of 1 × tensor 8)"));
    const Result json = run("check --json " + file + catalog);
    CHECK_THAT(json.out, Catch::Contains("\"vocab_padded\": 51200"));
    const Result model = run("model " + file + catalog);
    INFO(model.out);
    CHECK_THAT(model.out, Catch::Contains("vocabulary 50257 (padded to 51200, a multiple of 128 × tensor 8)"));
    CHECK_THAT(run("model gpt-3-175b").out, Catch::Contains("vocabulary 50257 (padded to 50304, a multiple of 128 × tensor 1)"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("run notes that an MoE step with its expert group inside a node came out fast against the published runs") {
    // Qwen3-30B-A3B on 8 B200 with EP8: the expert group is GPUs 0-7, one node; the validation row is +264 %
    // (docs/moe.md, "Known misses"). The flagship's EP64 spans 8 nodes of 8: no note.
    const Result inside = run("run " + kRoot + "/scenarios/validation/megatron-bridge-qwen3-30b-mxfp8-b200.toml --samples 1");
    INFO(inside.out);
    CHECK(inside.exit_code == 0);
    CHECK_THAT(inside.out, Catch::Contains("note: the expert-parallel group stays inside one node"));
    CHECK_THAT(inside.out, Catch::Contains("read this step time as optimistic"));
    const Result across = run("run " + kFlagship + " --samples 1");
    CHECK(across.exit_code == 0);
    CHECK_THAT(across.out, !Catch::Contains("note: the expert-parallel group"));
    // The same caveat in the JSON (step.caveats) and in the HTML report's breakdown; an empty list for the flagship.
    const std::string qwen = kRoot + "/scenarios/validation/megatron-bridge-qwen3-30b-mxfp8-b200.toml";
    const Result json = run("run " + qwen + " --samples 1 --json");
    CHECK_THAT(json.out, Catch::Contains("\"caveats\": [\n      \"the expert-parallel group stays inside one node"));
    CHECK_THAT(run("run " + kFlagship + " --samples 1 --json").out, Catch::Contains("\"caveats\": []"));
    // With expert = 1 there is no expert-parallel group: the note says what the step is instead.
    const Result ep1 = run("run " + qwen + " --samples 1 --set parallelism.expert=1 --set parallelism.zero=3");
    INFO(ep1.out);
    CHECK_THAT(ep1.out, Catch::Contains("note: every GPU holds all the experts (expert = 1)"));
    const gpuhours::test::TempDir dir("cli-caveat-report");
    const std::filesystem::path html = dir.path / "report.html";
    const Result report = run("report " + qwen + " --samples 1 -o " + html.string());
    REQUIRE(report.exit_code == 0);
    std::ifstream in(html);
    const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_THAT(page, Catch::Contains("<p class=\"note\">Note: the expert-parallel group stays inside one node"));
    // whatif says it per chip: Qwen3-30B-A3B moved to 8 H100 keeps EP8 on GPUs 0-7, one node of 8; the flagship
    // on H20 (8 per node) keeps EP64 over 8 nodes: an empty list.
    const Result whatif = run("whatif " + qwen + " --chips h100 --samples 1");
    INFO(whatif.out);
    CHECK(whatif.exit_code == 0);
    CHECK_THAT(whatif.out, Catch::Contains("note (h100): the expert-parallel group stays inside one node"));
    CHECK_THAT(run("whatif " + qwen + " --chips h100 --samples 1 --json").out,
               Catch::Contains("\"caveats\": [\n        \"the expert-parallel group stays inside one node"));
    const Result flagship_h20 = run("whatif " + kFlagship + " --chips h20 --samples 1 --json");
    CHECK_THAT(flagship_h20.out, Catch::Contains("\"caveats\": []"));
    CHECK_THAT(flagship_h20.out, !Catch::Contains("stays inside one node"));
}
