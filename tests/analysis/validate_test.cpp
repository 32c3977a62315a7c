// `gpuhours validate` and validation.hpp: published figures beside predicted ones. The accuracy itself is asserted
// in tests/validation/ (one case per paper table); here, that the command lists what it should and its arithmetic.
#include "../support/cli.hpp"

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/analysis/validation.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

using namespace gpuhours;
using gpuhours::test::run_cli;

namespace {

const std::filesystem::path kSource = GPUHOURS_TEST_SOURCE_DIR;

// The number after the first `"key": ` in a JSON document.
double json_number_after(const std::string& json, const std::string& key) {
    const std::size_t at = json.find("\"" + key + "\": ");
    REQUIRE(at != std::string::npos);
    return std::stod(json.substr(at + key.size() + 4));
}

std::filesystem::path two_megatron_runs() {
    const auto dir = gpuhours::test::scratch_path("validate-test");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    for (const char* name : {"megatron-1.7b.toml", "megatron-7.5b.toml"}) {
        std::filesystem::copy_file(kSource / "scenarios" / "validation" / name, dir / name);
    }
    return dir;
}

}  // namespace

TEST_CASE("validation predicts each published figure in the paper's convention", "[validate]") {
    LoadOptions o;
    o.catalog_dir = kSource / "scenarios";
    const ValidationCase c = validate_scenario(kSource / "scenarios" / "validation" / "megatron-1.7b.toml", o);
    REQUIRE(c.figures.size() == 1);
    // Megatron-LM counts full recomputation as a fourth forward pass: 4/3 × model FLOPs (full attention) per
    // second per GPU, in TFLOP/s; 32 GPUs (Table 1).
    const double expected = c.step.model_flops_full.value() * 4.0 / 3.0 / c.step.step_time.value() / 32 / 1e12;
    CHECK(c.figures[0].predicted == Approx(expected));
    CHECK(c.figures[0].reported == 137.0);
    CHECK(c.figures[0].relative_error() == Approx(expected / 137.0 - 1.0));
}

TEST_CASE("published GPU-hours of a phase group are compared with the sum of its phases", "[validate]") {
    // Two phases named "long 16K" and "long 32K" are both covered by "long"; "main" only by itself.
    const auto dir = gpuhours::test::scratch_path("validate-phases");
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "phases.toml") << "title = \"phases\"\nmodel = \"llama-3.1-8b\"\n"
                                          "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                                          "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\nrecompute = \"full\"\n"
                                          "[training]\nsequence_length = 8192\nglobal_batch = 64\n"
                                          "[[phases]]\nname = \"main\"\ntokens = \"1B\"\n"
                                          "[[phases]]\nname = \"long 16K\"\nsteps = 10\nsequence_length = 16384\nglobal_batch = 32\n"
                                          "[[phases]]\nname = \"long 32K\"\nsteps = 10\nsequence_length = 32768\nglobal_batch = 16\n"
                                          "[published]\nsource = \"test\"\n"
                                          "[published.phase_gpu_hours]\nmain = 100\nlong = 50\n";
    LoadOptions o;
    o.catalog_dir = kSource / "scenarios";
    const ValidationCase c = validate_scenario(dir / "phases.toml", o);
    REQUIRE(c.figures.size() == 2);
    EvaluateOptions one;
    one.samples = 1;
    const RunEvaluation ev = evaluate_run(ScenarioSampler(dir / "phases.toml", o), one);
    auto figure = [&](const std::string& name) {
        for (const auto& f : c.figures) {
            if (f.name == name) return f;
        }
        FAIL("no figure " << name);
        return ValidationFigure{};
    };
    CHECK(figure("GPU-hours, main").predicted == Approx(ev.phases[0].gpu_hours));
    CHECK(figure("GPU-hours, long").predicted == Approx(ev.phases[1].gpu_hours + ev.phases[2].gpu_hours));
    CHECK(figure("GPU-hours, long").reported == 50.0);
}

TEST_CASE("gpuhours validate lists each run with its error and the mean absolute percentage error", "[validate]") {
    const auto dir = two_megatron_runs();
    const auto r = run_cli("validate --dir " + dir.string() + " --json");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    // The MAPE is the mean of the two |error_percent| values listed (recomputed here from the JSON).
    const std::regex error_re("\"error_percent\": (-?[0-9.e+-]+)");
    double sum = 0;
    int n = 0;
    for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), error_re); it != std::sregex_iterator(); ++it) {
        sum += std::fabs(std::stod((*it)[1].str()));
        ++n;
    }
    REQUIRE(n == 2);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex("\"mean_absolute_percentage_error\": ([0-9.e+-]+)")));
    CHECK(std::stod(m[1].str()) == Approx(sum / n));
    CHECK_THAT(r.out, Catch::Contains("\"id\": \"megatron-1.7b\""));
    CHECK_THAT(r.out, Catch::Contains("\"id\": \"megatron-7.5b\""));

    const auto text = run_cli("validate --dir " + dir.string());
    CHECK(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains("all: mean absolute percentage error"));
    CHECK_THAT(text.out, Catch::Contains("over 2 measurements of 2 runs"));
    CHECK_THAT(text.out, Catch::Contains("Narayanan et al. 2021"));
    const auto missing = run_cli("validate --dir " + (dir / "nowhere").string());
    CHECK(missing.exit_code == 2);
}

namespace {

// Llama 3.1 8B on 16 H100 (the small run of tests/support/scenarios.hpp) with a [published] table holding `published`.
std::filesystem::path small_published_run(const std::filesystem::path& dir, const std::string& name, const std::string& published) {
    std::filesystem::create_directories(dir);
    const auto file = dir / (name + ".toml");
    std::ofstream(file) << "title = \"" << name << "\"\nmodel = \"llama-3.1-8b\"\n"
                           "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                           "[training]\ntokens = \"1B\"\nsequence_length = 8192\nglobal_batch = 64\n"
                           "[published]\nsource = \"test\"\n" << published;
    return file;
}

}  // namespace

TEST_CASE("a step published four ways counts once and tokens per second per gpu is a published figure", "[validate]") {
    const auto dir = gpuhours::test::scratch_path("validate-once");
    std::filesystem::remove_all(dir);
    // Reported: step 2 s, and the same step restated as throughput, TFLOP/s and MFU, each deliberately off by a
    // different amount; only the step time (listed first) enters the statistics.
    const auto file = small_published_run(dir, "four-ways", "step_time = \"2 s\"\ntokens_per_second_per_gpu = 10000\n"
                                                            "model_tflops_per_gpu = 300\nmfu_bf16 = 0.4\n");
    LoadOptions o;
    o.catalog_dir = kSource / "scenarios";
    const ValidationCase c = validate_scenario(file, o);
    REQUIRE(c.figures.size() == 4);
    CHECK(c.independent());
    CHECK(c.figures[0].name == "step time");
    CHECK(c.figures[1].name == "tokens per second per GPU");
    // Tokens per second per GPU = 64 sequences × 8192 tokens / step time / 16 GPUs = 32,768 / step time.
    CHECK(c.figures[1].predicted == Approx(32768.0 / c.step.step_time.value()).epsilon(1e-12));
    CHECK(c.figures[1].unit == "tokens/s");
    int counted = 0;
    for (const auto& f : c.figures) {
        CHECK(f.measurement == 0);
        counted += f.counted ? 1 : 0;
    }
    CHECK(counted == 1);
    CHECK(c.figures[0].counted);
    const ValidationSummary s = summarize_validation({c});
    CHECK(s.all.measurements == 1);
    CHECK(s.figures_listed == 4);
    CHECK(s.independent.mean_absolute_error == Approx(std::fabs(c.step.step_time.value() / 2.0 - 1.0)).epsilon(1e-12));
    CHECK(mean_absolute_percentage_error({c}) == Approx(s.all.mean_absolute_error).epsilon(1e-12));
}

TEST_CASE("a case that informed a catalog figure is reported apart from the independent ones", "[validate]") {
    const auto dir = gpuhours::test::scratch_path("validate-informed");
    std::filesystem::remove_all(dir);
    // Two cases of the same step: one reported at 1 s (independent), one at 4 s that informed a figure. The
    // independent statistics hold only the first: mean = max = |t / 1 − 1|; the informed ones only the second.
    small_published_run(dir, "a-independent", "step_time = \"1 s\"\n");
    small_published_run(dir, "b-informed", "step_time = \"4 s\"\ninformed = [\"chips/h100.toml efficiency.gemm\"]\n");
    LoadOptions o;
    o.catalog_dir = kSource / "scenarios";
    const auto cases = validate_directory(dir, o);
    REQUIRE(cases.size() == 2);
    const double t = cases[0].step.step_time.value();
    CHECK_FALSE(cases[1].independent());
    CHECK(cases[1].informed == std::vector<std::string>{"chips/h100.toml efficiency.gemm"});
    const ValidationSummary s = summarize_validation(cases);
    CHECK(s.independent.measurements == 1);
    CHECK(s.independent.max_absolute_error == Approx(std::fabs(t - 1.0)).epsilon(1e-12));
    CHECK(s.independent.max_case == "a-independent");
    CHECK(s.informed.measurements == 1);
    CHECK(s.informed.mean_absolute_error == Approx(std::fabs(t / 4.0 - 1.0)).epsilon(1e-12));
    CHECK(s.all.measurements == 2);
    // Medians: one measurement each is its own error; over both, the mean of the two middle (all) ones.
    CHECK(s.independent.median_absolute_error == Approx(std::fabs(t - 1.0)).epsilon(1e-12));
    CHECK(s.all.median_absolute_error == Approx(0.5 * (std::fabs(t - 1.0) + std::fabs(t / 4.0 - 1.0))).epsilon(1e-12));

    const auto r = run_cli("validate --dir " + dir.string());
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("independent (no catalog figure set on them): 1 published measurement of 1 run:"));
    CHECK_THAT(r.out, Catch::Contains("informed: chips/h100.toml efficiency.gemm"));
    // The title names the directory read, and the independent line its median (one measurement: its own error).
    CHECK_THAT(r.out, Catch::Contains("Predictions against published training runs (" + dir.string() + ";"));
    CHECK_THAT(r.out, Catch::Contains(fmt::format("; median {:.1f}%", 100.0 * std::fabs(t - 1.0))));
    const auto j = run_cli("validate --dir " + dir.string() + " --json");
    CHECK_THAT(j.out, Catch::Contains("\"independent\": false"));
    CHECK_THAT(j.out, Catch::Contains("\"max_case\": \"a-independent\""));
    // The JSON has the text's median too (an audit found it only in the text).
    CHECK(json_number_after(j.out, "median_absolute_percentage_error") == Approx(100.0 * std::fabs(t - 1.0)).epsilon(1e-9));
}

TEST_CASE("published.informed must be an array of catalog figures", "[validate]") {
    const auto dir = gpuhours::test::scratch_path("validate-bad-informed");
    std::filesystem::remove_all(dir);
    const auto file = small_published_run(dir, "bad", "step_time = \"1 s\"\ninformed = \"chips/h100.toml\"\n");
    const auto r = run_cli("check " + file.string());
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("bad.toml:18:"));
    CHECK_THAT(r.out, Catch::Contains("published.informed"));
    // Each entry names an existing catalog file and key: a misspelt figure would otherwise make the case "informed"
    // by nothing and drop it from the independent set. Refused at the entry (line 18).
    for (const auto& [entry, message] : std::vector<std::pair<std::string, std::string>>{
             {"chips/h100.toml efficiency.gemmm", "has no key efficiency.gemmm"},
             {"chips/h1000.toml efficiency.gemm", "no catalog file"},
             {"chips/h100.toml", "is not \"<catalog file> <key>\""}}) {
        const auto bad = small_published_run(dir, "entry", "step_time = \"1 s\"\ninformed = [\"" + entry + "\"]\n");
        const auto e = run_cli("check " + bad.string());
        CHECK(e.exit_code == 2);
        CHECK_THAT(e.out, Catch::Contains("entry.toml:18:") && Catch::Contains(message));
    }
}

