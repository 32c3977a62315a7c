// `gpuhours run` end to end: phases, Monte Carlo, cost and claim verdicts, determinism.
#include "../support/cli.hpp"
#include "../support/scenarios.hpp"

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

using gpuhours::test::run_cli;

namespace {

const std::string kRoot = GPUHOURS_TEST_SOURCE_DIR;

// The number after `"key": ` in the first place it occurs after `after` in a JSON document.
double json_number(const std::string& json, const std::string& key, const std::string& after = "") {
    const std::size_t from = after.empty() ? 0 : json.find(after);
    REQUIRE(from != std::string::npos);
    const std::size_t at = json.find("\"" + key + "\": ", from);
    REQUIRE(at != std::string::npos);
    return std::stod(json.substr(at + key.size() + 4));
}

// A small run: Llama 3.1 8B on 16 H100, one failure class, a price range, a claim (tests/support/scenarios.hpp).
std::filesystem::path small_scenario() {
    return gpuhours::test::write_small_run(gpuhours::test::scratch_path("run-test"));
}

}  // namespace

TEST_CASE("the flagship run reports DeepSeek-V3's phases with their GPU-hours") {
    const auto r = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --json --samples 50");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    // DeepSeek-V3 report Table 1: pre-training 2,664K, context extension 119K, post-training 5K GPU-hours.
    const double pre = json_number(r.out, "gpu_hours", "\"name\": \"pre-training\"");
    const double ext32 = json_number(r.out, "gpu_hours", "\"name\": \"context extension 32K\"");
    const double ext128 = json_number(r.out, "gpu_hours", "\"name\": \"context extension 128K\"");
    const double post = json_number(r.out, "gpu_hours", "\"name\": \"post-training\"");
    WARN("pre-training " << pre << " (2,664K), context extension " << ext32 + ext128 << " (119K), post-training " << post);
    CHECK(pre == Approx(2'664'000.0).epsilon(0.10));
    // The long-context layout is not published; the scenario assumes context parallelism with 4K tokens per GPU
    // and full recomputation (the gathered K/V do not fit otherwise; see the scenario's comment): about 121K.
    CHECK(ext32 + ext128 == Approx(119'000.0).epsilon(0.10));
    CHECK(post == 5000.0);  // quoted from the report, not simulated
    // The claim's verdict and its probability are reported.
    CHECK_THAT(r.out, Catch::Contains("\"verdict\": \""));
    CHECK_THAT(r.out, Catch::Contains("\"text\": \"DeepSeek-V3's final training run cost under $6M and took under two months\""));
    // The cost criterion's break-even price: $6M / the nominal run's GPU-hours (the median run's, gpu_hours_p50), about
    // $2.13 (issue #18) — above DeepSeek's own $2, so at that price the cost criterion holds; the rental line is
    // GPU-hours × $2, below $6M.
    const double gpu_hours = json_number(r.out, "gpu_hours_p50");
    const double break_even = json_number(r.out, "break_even_usd_per_gpu_hour");
    CHECK(break_even == Approx(6e6 / gpu_hours).epsilon(1e-9));
    CHECK(break_even > 2.0);
    CHECK(json_number(r.out, "rental") == Approx(2.0 * gpu_hours).epsilon(1e-9));
}

TEST_CASE("the same seed gives byte-identical run output and another seed other samples") {
    const auto file = small_scenario().string();
    const auto a = run_cli("run " + file + " --json --samples 64 --seed 5");
    const auto b = run_cli("run " + file + " --json --samples 64 --seed 5");
    const auto c = run_cli("run " + file + " --json --samples 64 --seed 6");
    INFO(a.out);
    REQUIRE(a.exit_code == 0);
    CHECK(a.out == b.out);
    CHECK(a.out != c.out);
    // Rental cost = GPU-hours × price, so the median cost / median GPU-hours lies inside the $1.5–$3.5 range.
    const double cost = json_number(a.out, "cost_usd_p50");
    const double gpu_hours = json_number(a.out, "gpu_hours_p50");
    CHECK(cost / gpu_hours > 1.5);
    CHECK(cost / gpu_hours < 3.5);
}

TEST_CASE("run prints phases cost interruptions and the claim verdict") {
    const auto r = run_cli("run " + small_scenario().string() + " --samples 32");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("interruptions"));
    CHECK_THAT(r.out, Catch::Contains("goodput"));
    CHECK_THAT(r.out, Catch::Contains("cost "));
    CHECK_THAT(r.out, Catch::Contains("\"under $10K\""));
    CHECK(std::regex_search(r.out, std::regex("(HOLDS|FAILS|UNCERTAIN) — \"under \\$10K\"")));
}

TEST_CASE("a phase with its own price is charged apart from the others") {
    // Two phases without interruptions (reliability = "none": failures are on by default) or uncertain inputs, so the
    // run is deterministic and its cost is exactly Σ phase GPU-hours × phase price: "main" at the [pricing] $2,
    // "long" at its own $5.
    const auto dir = gpuhours::test::scratch_path("run-test");
    std::filesystem::create_directories(dir);
    const auto file = dir / "priced-phases.toml";
    std::ofstream(file) << "title = \"priced phases\"\nmodel = \"llama-3.1-8b\"\nreliability = \"none\"\n"
                           "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                           "[training]\nsequence_length = 8192\nglobal_batch = 64\n"
                           "[[phases]]\nname = \"main\"\ntokens = \"10B\"\n"
                           "[[phases]]\nname = \"long\"\nsteps = 100\nsequence_length = 16384\nglobal_batch = 32\nparallelism = { recompute = \"full\" }\ngpu_hour = \"$5\"\n"
                           "[pricing]\ngpu_hour = \"$2\"\n";
    const auto r = run_cli("run " + file.string() + " --json");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const double main_hours = json_number(r.out, "gpu_hours", "\"name\": \"main\"");
    const double long_hours = json_number(r.out, "gpu_hours", "\"name\": \"long\"");
    CHECK(json_number(r.out, "rental: main") == Approx(2.0 * main_hours));
    CHECK(json_number(r.out, "rental: long") == Approx(5.0 * long_hours));
    CHECK(json_number(r.out, "cost_usd_p50") == Approx(2.0 * main_hours + 5.0 * long_hours));

    // Without a [pricing] price, a phase without its own is an error at that phase.
    std::ofstream(file) << "title = \"priced phases\"\nmodel = \"llama-3.1-8b\"\n"
                           "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                           "[training]\nsequence_length = 8192\nglobal_batch = 64\n"
                           "[[phases]]\nname = \"main\"\ntokens = \"10B\"\n"
                           "[[phases]]\nname = \"long\"\nsteps = 100\ngpu_hour = \"$5\"\n";
    const auto bad = run_cli("run " + file.string());
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out, Catch::Contains("phase \"main\" has no rental price"));
}

namespace {

// The string after `"key": "` in a JSON document, up to its closing quote (no escapes in the figures read here).
std::string json_text(const std::string& json, const std::string& key) {
    const std::size_t at = json.find("\"" + key + "\": \"");
    REQUIRE(at != std::string::npos);
    const std::size_t from = at + key.size() + 5;
    return json.substr(from, json.find('"', from) - from);
}

}  // namespace

TEST_CASE("report, terminal and JSON agree on every headline number") {
    // The same scenario and seed through the three outputs: the headline wall clock, GPU-hours, cost and energy that
    // the JSON states (headline.*_text) appear verbatim in the terminal's run section and in the HTML report, and
    // the headline cost is the nominal run's (cost_statistic), equal to cost_usd in the run object.
    const std::string file = small_scenario().string();
    const auto json = run_cli("run " + file + " --json --samples 64 --seed 3");
    const auto terminal = run_cli("run " + file + " --samples 64 --seed 3");
    const auto html_path = gpuhours::test::scratch_path("run-test") / "headline.html";
    const auto report = run_cli("report " + file + " --samples 64 --seed 3 -o " + html_path.string());
    REQUIRE(json.exit_code == 0);
    REQUIRE(terminal.exit_code == 0);
    REQUIRE(report.exit_code == 0);
    std::ifstream in(html_path);
    const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(json_text(json.out, "cost_statistic") == "nominal");
    for (const std::string key : {"wall_clock_text", "gpu_hours_text", "cost_text", "energy_text"}) {
        const std::string figure = json_text(json.out, key);
        INFO(key << " = " << figure);
        REQUIRE_FALSE(figure.empty());
        CHECK_THAT(terminal.out, Catch::Contains(figure));
        CHECK_THAT(html, Catch::Contains(figure));
    }
    // The cost the terminal calls "cost" is the headline one, first on its line.
    CHECK_THAT(terminal.out, Catch::Contains("  cost           " + json_text(json.out, "cost_text") + " ("));
    // The claim's verdict and probability agree too.
    const std::string verdict = json_text(json.out, "verdict");
    CHECK_THAT(terminal.out, Catch::Contains(verdict + " — "));
    CHECK_THAT(html, Catch::Contains(verdict));
}

TEST_CASE("run and check say which reliability model a run used and that none means none") {
    // The same small run under the default fleet catalog and with reliability = "none" (--set): the output names the
    // catalog entry and both bases; with none it says so, and allocated equals steady-state (no failures or overheads).
    const std::string file = small_scenario().string();
    const auto by_default = run_cli("run " + file + " --samples 16");
    REQUIRE(by_default.exit_code == 0);
    CHECK_THAT(by_default.out, Catch::Contains("reliability    meta-llama3-h100"));
    CHECK_THAT(by_default.out, Catch::Contains("steady-state"));
    CHECK_THAT(by_default.out, Catch::Contains("allocated − steady-state"));
    CHECK_THAT(by_default.out, Catch::Contains("not modelled: stragglers"));
    const auto none = run_cli("run " + file + " --samples 16 --set reliability=none --json");
    REQUIRE(none.exit_code == 0);
    CHECK(json_text(none.out, "reliability") == "none");
    CHECK(json_number(none.out, "allocated_gpu_hours_p50") == Approx(json_number(none.out, "steady_state_gpu_hours_p50")));
    const auto checked = run_cli("check " + file + " --set reliability=none");
    REQUIRE(checked.exit_code == 0);
    CHECK_THAT(checked.out, Catch::Contains("reliability none: no failures"));
    // A basis that is neither is refused at the flag.
    const auto bad = run_cli("check " + file + " --set claims.0.basis=steady");
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out, Catch::Contains("is not a basis"));
}
