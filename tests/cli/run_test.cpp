// `gpuhours run` end to end: phases, Monte Carlo, cost and claim verdicts, determinism.
#include "../support/cli.hpp"
#include "../support/json.hpp"
#include "../support/scenarios.hpp"

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

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
    // The long-context layout is not published; the scenario assumes context parallelism with 4K tokens per GPU,
    // full recomputation and Megatron-Core's ring exchange of K/V (cp_comm_type p2p): about 106K, −11 %. With the
    // K/V all-gathered instead (exposed, as Llama 3 does) about 143K, +20 %: the report's 119K lies between the two
    // ways of running the unpublished layout, so the check is the width of that bracket (25 %).
    CHECK(ext32 + ext128 == Approx(119'000.0).epsilon(0.25));
    CHECK(post == 5000.0);  // quoted from the report, not simulated
    // The claim's verdict and its probability are reported.
    CHECK_THAT(r.out, Catch::Contains("\"verdict\": \""));
    CHECK_THAT(r.out, Catch::Contains("\"text\": \"DeepSeek-V3's final training run cost under $6M and took under two months\""));
    // The cost criterion's break-even price: $6M / the nominal run's GPU-hours (the headline's): about 2.82M allocated
    // GPU-hours, so about $2.13 — above DeepSeek's own $2, so at that price the cost criterion holds; the rental
    // line is GPU-hours × $2, below $6M.
    const double gpu_hours = json_number(r.out, "gpu_hours", "\"headline\"");
    const double break_even = json_number(r.out, "break_even_usd_per_gpu_hour");
    CHECK(break_even == Approx(6e6 / gpu_hours).epsilon(1e-9));
    CHECK(break_even > 2.0);
    CHECK(json_number(r.out, "rental") == Approx(2.0 * gpu_hours).epsilon(1e-9));
}

TEST_CASE("the phase table names a batch ramp's levels") {
    // The flagship ramps 3,072 → 15,360 sequences in 4 levels, each at its interval's midpoint batch:
    // 3,072 + 12,288 × (k − ½)/4 = 4,608, 7,680, 10,752, 13,824. The four rows read "pre-training" like the phase's own
    // batch row, which a new user took for a mistake (session 52): they are "ramp k/4", the last row the phase's.
    const auto r = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --samples 2");
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("\npre-training, ramp 1/4    4096      4608 "));
    CHECK_THAT(r.out, Catch::Contains("\npre-training, ramp 4/4    4096      13824 "));
    CHECK_THAT(r.out, Catch::Contains("\npre-training              4096      15360 "));
    // The CSV says the same in a column of its own (the phase's name stays its key): ramp_level 1 … 4, then empty.
    const auto csv = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --samples 2 --csv");
    REQUIRE(csv.exit_code == 0);
    CHECK_THAT(csv.out, Catch::StartsWith("phase,ramp_level,global_batch,sequence_length,tokens,steps,"));
    CHECK_THAT(csv.out, Catch::Contains("\npre-training,1,4608,4096,"));
    CHECK_THAT(csv.out, Catch::Contains("\npre-training,4,13824,4096,"));
    CHECK_THAT(csv.out, Catch::Contains("\npre-training,,15360,4096,"));
    // `days` beside the step time, as the text's column: the row's steps × step time / 86,400.
    CHECK_THAT(csv.out, Catch::StartsWith("phase,ramp_level,global_batch,sequence_length,tokens,steps,step_time_s,days,gpu_hours,quoted\n"));
    const std::size_t row = csv.out.find("\npre-training,,15360,4096,");
    REQUIRE(row != std::string::npos);
    std::vector<double> cells;
    std::stringstream line(csv.out.substr(row + 1, csv.out.find('\n', row + 1) - row - 1));
    for (std::string cell; std::getline(line, cell, ',');) cells.push_back(cell.empty() ? 0.0 : std::atof(cell.c_str()));
    REQUIRE(cells.size() == 10);
    CHECK(cells[7] == Approx(cells[5] * cells[6] / 86400.0).epsilon(1e-9));
    CHECK(cells[8] == Approx(cells[5] * cells[6] / 3600.0 * 2048).epsilon(1e-9));
    // --stages has no place in the CSV: refused, not ignored.
    const auto stages = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --samples 2 --csv --stages");
    CHECK(stages.exit_code == 2);
    CHECK_THAT(stages.out, Catch::Contains("--stages adds a table to the text output; --csv writes the phase table only"));
}

TEST_CASE("a run longer than the hardware's amortisation period is said to be charged more than one life of it") {
    // The ownership scenario at a 30-day amortisation: the run (about 57 days) is charged about 1.9 lives of the
    // capex (capex_share is linear in the run's length), which a mistyped period hides in a large figure.
    const auto r = run_cli("run " + kRoot + "/scenarios/deepseek-v3-ownership.toml --samples 2 --set "
                           "pricing.ownership.amortisation='\"30 days\"'");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("days) outlasts the amortisation period (30.0 days), so it is charged 1."));
    CHECK_THAT(r.out, Catch::Contains("lives of the hardware (check pricing.ownership.amortisation)"));
    const auto four_years = run_cli("run " + kRoot + "/scenarios/deepseek-v3-ownership.toml --samples 2");
    CHECK_THAT(four_years.out, !Catch::Contains("outlasts the amortisation period"));
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

namespace {

// Llama 3.1 8B on 16 H100 in two phases: "main" (10B tokens) at the [pricing] $2 per GPU-hour and "long" (100 steps
// at 16K, full recomputation) at its own $5. `reliability`: a line after the model's, e.g. reliability = "none".
std::filesystem::path write_priced_phases(const std::string& name, const std::string& reliability) {
    const auto dir = gpuhours::test::scratch_path("run-test");
    std::filesystem::create_directories(dir);
    const auto file = dir / name;
    std::ofstream(file) << "title = \"priced phases\"\nmodel = \"llama-3.1-8b\"\n" << reliability
                        << "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                           "[training]\nsequence_length = 8192\nglobal_batch = 64\n"
                           "[[phases]]\nname = \"main\"\ntokens = \"10B\"\n"
                           "[[phases]]\nname = \"long\"\nsteps = 100\nsequence_length = 16384\nglobal_batch = 32\nparallelism = { recompute = \"full\" }\ngpu_hour = \"$5\"\n"
                           "[pricing]\ngpu_hour = \"$2\"\n";
    return file;
}

}  // namespace

TEST_CASE("the cost is also given on steady-state GPU-hours, the basis of a reported GPU-hours × price") {
    // The priced phases below with the default reliability (failures on): the cost is on allocated GPU-hours (GPUs ×
    // wall clock, restarts and lost work included), and cost_usd_steady_state puts the same prices on the phases'
    // own GPU-hours (steps × step time × GPUs): exactly $2 × main + $5 × long, below the allocated cost.
    const auto file = write_priced_phases("steady-cost.toml", "");
    const auto r = run_cli("run " + file.string() + " --json --samples 20");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const double main_hours = json_number(r.out, "gpu_hours", "\"name\": \"main\"");
    const double long_hours = json_number(r.out, "gpu_hours", "\"name\": \"long\"");
    const double steady = json_number(r.out, "cost_usd_steady_state");
    CHECK(steady == Approx(2.0 * main_hours + 5.0 * long_hours).epsilon(1e-9));
    CHECK(json_number(r.out, "cost_usd") > steady);
    const auto text = run_cli("run " + file.string() + " --samples 20");
    CHECK_THAT(text.out, Catch::Contains("steady-state $") && Catch::Contains("the basis of a reported GPU-hours × price"));
}

TEST_CASE("a phase with its own price is charged apart from the others") {
    // Two phases without interruptions (reliability = "none": failures are on by default) or uncertain inputs, so the
    // run is deterministic and its cost is exactly Σ phase GPU-hours × phase price: "main" at the [pricing] $2,
    // "long" at its own $5.
    const auto file = write_priced_phases("priced-phases.toml", "reliability = \"none\"\n");
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

TEST_CASE("with phases priced apart, a cost bound's break-even is the price of the phases without their own") {
    // "main" at the [pricing] price p, "long" at its own $5, no interruptions: cost = p × main_hours + 5 × long_hours,
    // which is the bound $1K at p = (1000 − 5 × long_hours) / main_hours. An audit found the single-price figure
    // ($1K / all the GPU-hours) printed as "any all-in price below it", false beside a dearer phase.
    const auto file = write_priced_phases("priced-claim.toml", "reliability = \"none\"\n");
    std::ofstream(file, std::ios::app) << "[[claims]]\ntext = \"under a thousand dollars\"\ncost_below = \"$1K\"\n";
    const auto r = run_cli("run " + file.string() + " --json");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const double main_hours = json_number(r.out, "gpu_hours", "\"name\": \"main\"");
    const double long_hours = json_number(r.out, "gpu_hours", "\"name\": \"long\"");
    REQUIRE(5.0 * long_hours < 1000.0);
    CHECK(json_number(r.out, "break_even_usd_per_gpu_hour") == Approx((1000.0 - 5.0 * long_hours) / main_hours));
    const auto text = run_cli("run " + file.string());
    CHECK_THAT(text.out, Catch::Contains(fmt::format("break-even price ${:.2f} per GPU-hour: any [pricing] price per GPU-hour "
                                                     "for the phases without one of their own (the others at theirs) below it",
                                                     std::floor((1000.0 - 5.0 * long_hours) / main_hours * 100.0) / 100.0)));
}

TEST_CASE("one sample does not settle a verdict, and the energy and checkpoint lines name what they rest on") {
    // The small run (a failure class, a price range, a claim): one sample's share is 0 or 100 %, whose 95 % interval
    // (Wilson) is 0–79.3 % or 20.7–100 %, printed with its ends rounded outward ("0–80%", "20–100%"): the verdict is UNCERTAIN, "too few to settle a verdict".
    const auto file = small_scenario();
    const auto one = run_cli("run " + file.string() + " --samples 1 --set pricing.host_power_share=0.3");
    INFO(one.out);
    REQUIRE(one.exit_code == 0);
    CHECK_THAT(one.out, Catch::Contains("UNCERTAIN — "));
    CHECK_THAT(one.out, Catch::Contains("(one sample; too few to settle a verdict: its 95% interval, "));
    // The energy line names the hosts' share its figure includes (energy = GPU power × 1.3 × PUE × time).
    CHECK_THAT(one.out, Catch::Contains("plus 30% of that for the rest of the IT (host_power_share)"));
    // Nothing interrupts a run without failure classes: its checkpoint interval is the whole run, said so.
    const auto none = run_cli("run " + file.string() + " --samples 4 --set reliability='\"none\"'");
    INFO(none.out);
    CHECK_THAT(none.out, Catch::Contains("(no interruptions modelled, so no checkpoint is needed; the whole run)"));
}

TEST_CASE("report, terminal and JSON agree on every headline number") {
    // The flagship, same seed and samples through the three outputs. The JSON's numbers are the reference; each is
    // written the way the page and the terminal print it, derived here from the number (not copied from either
    // text), and must appear in both: wall clock, GPU-hours and cost (the nominal run's), MFU (the BF16
    // basis every output heads with), the claim's verdict and probability and the cost criterion's break-even price.
    const std::string file = kRoot + "/scenarios/deepseek-v3.toml";
    const std::string flags = " --samples 32 --seed 3";
    const auto json = run_cli("run " + file + " --json" + flags);
    const auto terminal = run_cli("run " + file + flags);
    const auto html_path = gpuhours::test::scratch_path("run-test") / "headline.html";
    std::filesystem::create_directories(html_path.parent_path());
    const auto report = run_cli("report " + file + flags + " -o " + html_path.string());
    REQUIRE(json.exit_code == 0);
    REQUIRE(terminal.exit_code == 0);
    REQUIRE(report.exit_code == 0);
    std::ifstream in(html_path);
    const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto doc = gpuhours::test::parse_json(json.out);
    const auto& headline = doc["headline"];
    const auto& run = doc["run"];
    const auto& claim = doc["claims"].array().at(0);
    const auto& cost_criterion = claim["criteria"].array().at(0);
    REQUIRE(cost_criterion["key"].string() == "cost_below");

    // Within the JSON: the headline is the nominal run — its GPU-hours are its wall clock × 24 h × 2,048 GPUs — and its
    // cost, the step's MFU on the BF16 basis; the break-even price is the threshold over the nominal run's
    // GPU-hours, $6M / about 2.6M.
    CHECK(headline["gpu_hours"].number() == Approx(headline["wall_clock_days"].number() * 24.0 * 2048.0).epsilon(1e-12));
    CHECK(run["wall_clock_days_p05"].number() <= headline["wall_clock_days"].number());
    CHECK(headline["wall_clock_days"].number() <= run["wall_clock_days_p95"].number());
    CHECK(headline["cost_usd"].number() == run["cost_usd"].number());
    CHECK(json_text(json.out, "cost_statistic") == "nominal");
    CHECK(doc["step"]["mfu"].number() == doc["step"]["mfu_bf16_full"].number());
    const double break_even = cost_criterion["break_even_usd_per_gpu_hour"].number();
    CHECK(break_even == Approx(6e6 / headline["gpu_hours"].number()).epsilon(1e-9));

    // As printed: days to one decimal; GPU-hours whole, with thousands separators; the cost (between $1M and $10M
    // here) in millions to four significant digits, a trailing zero dropped ($5.63M for 5.6296e6); MFU and probability as percentages (one decimal, none); the break-even
    // price in cents.
    const auto commas = [](double v) {
        std::string digits = std::to_string(std::llround(v));
        for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
        return digits;
    };
    const double cost = headline["cost_usd"].number();
    REQUIRE(cost >= 1e6);
    REQUIRE(cost < 1e7);
    const std::vector<std::string> figures{
        fmt::format("{:.1f} days", headline["wall_clock_days"].number()),
        commas(headline["gpu_hours"].number()),
        fmt::format("${:.4g}M", cost / 1e6),
        fmt::format("MFU {:.1f}% (BF16 peak", 100 * doc["step"]["mfu"].number()),
        fmt::format("{} — ", claim["verdict"].string()),
        // With its sampling error: one binomial standard error √(p(1 − p)/n) over the 32 samples.
        fmt::format("probability {:.0f}% ± {:.1f}% (one standard error over 32 samples) over all the uncertain inputs",
                    100 * claim["probability"].number(),
                    100 * std::sqrt(claim["probability"].number() * (1 - claim["probability"].number()) / 32.0)),
        // The break-even price rounded down to the cent: the claim is a cost *below*, met at any price under it.
        fmt::format("break-even price ${:.2f} per GPU-hour", std::floor(break_even * 100.0) / 100.0),
    };
    for (const std::string& figure : figures) {
        INFO(figure);
        CHECK_THAT(terminal.out, Catch::Contains(figure));
        if (figure.ends_with(" — ")) CHECK_THAT(html, Catch::Contains(claim["verdict"].string()));
        else CHECK_THAT(html, Catch::Contains(figure));
    }
    // And the texts the JSON gives for them are those figures.
    CHECK(json_text(json.out, "wall_clock_text") == figures[0]);
    CHECK(json_text(json.out, "gpu_hours_text") == figures[1]);
    CHECK(json_text(json.out, "cost_text") == figures[2]);
    // The cost the terminal calls "cost" is the headline one, first on its line.
    CHECK_THAT(terminal.out, Catch::Contains("  cost           " + figures[2] + " ("));
    // The page's comparison across chips ([whatif]) runs the scenario's own H800 as written, so its row is the
    // headline: the same days, GPU-hours, cost and claim verdict with its probability.
    const std::size_t from = html.find("<section id=\"comparison\"");
    REQUIRE(from != std::string::npos);
    const std::string comparison = html.substr(from, html.find("</section>", from) - from);
    const std::size_t own = comparison.rfind("(scenario&#39;s own)");  // the table, after the charts
    REQUIRE(own != std::string::npos);
    const std::string row = comparison.substr(own, comparison.find("</tr>", own) - own);
    for (const std::string& figure : {fmt::format(">{:.1f}<", headline["wall_clock_days"].number()), figures[1], figures[2],
                                      // with one binomial standard error over the 32 samples
                                      fmt::format("{} {:.0f}% ± {:.1f}% ({} at nominal)", claim["verdict"].string(),
                                                  100 * claim["probability"].number(),
                                                  100 * std::sqrt(claim["probability"].number() * (1 - claim["probability"].number()) / 32.0),
                                                  claim["nominal_verdict"].string())}) {
        INFO(figure);
        CHECK_THAT(row, Catch::Contains(figure));
    }
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

TEST_CASE("a run's JSON heads its MFU and HFU with the terminal's basis and labels the FP8 peak's beside it") {
    // The flagship computes in FP8 on the H800 (scenarios/chips/h800.toml: BF16 989.4, FP8 1,978.9 dense TFLOP/s).
    // `mfu` and `hfu` are the BF16 peak's (the terminal's "the basis used throughout"); the same FLOPs against the
    // FP8 peak are the BF16 figures × 989.4 / 1,978.9 (the FLOPs and step time are the same, only the peak differs).
    const auto r = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --json --samples 1");
    const auto text = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --samples 1");
    REQUIRE(r.exit_code == 0);
    REQUIRE(text.exit_code == 0);
    const auto step = gpuhours::test::parse_json(r.out)["step"];
    const double ratio = 989.4 / 1978.9;
    CHECK(step["mfu"].number() == step["mfu_bf16_full"].number());
    CHECK(step["hfu"].number() == step["hfu_bf16"].number());
    CHECK(step["compute_precision"].string() == "fp8");
    CHECK(step["mfu_fp8_peak_full"].number() == Approx(step["mfu"].number() * ratio).epsilon(1e-9));
    CHECK(step["mfu_fp8_peak_causal"].number() == Approx(step["mfu_bf16_causal"].number() * ratio).epsilon(1e-9));
    CHECK(step["hfu_fp8_peak"].number() == Approx(step["hfu"].number() * ratio).epsilon(1e-9));
    CHECK_FALSE(step.has("mfu_full"));  // the unlabelled compute-peak names are gone
    // The terminal prints the same headline figures on the same basis, the FP8 peak's labelled after them.
    CHECK_THAT(text.out, Catch::Contains(fmt::format("MFU {:.1f}% (BF16 peak", 100 * step["mfu"].number())));
    // HFU counts what runs (causal attention, recomputation), so it may read below the full-attention MFU: said so.
    CHECK_THAT(text.out, Catch::Contains(fmt::format("HFU {:.1f}% (BF16 peak; the FLOPs executed: causal attention, recomputation)",
                                                     100 * step["hfu"].number())));
    CHECK_THAT(text.out, Catch::Contains(fmt::format("against the fp8 peak: MFU {:.1f}%", 100 * step["mfu_fp8_peak_full"].number())));
}

TEST_CASE("a run's JSON has every pipeline stage's breakdown and memory, which --stages prints") {
    // The flagship's 16 pipeline stages (PP16): each stage is busy or waiting for the whole step, so its compute,
    // recomputation, optimizer, exposed communication and bubble add up to the step time; the mean of the stages'
    // compute is the step's compute (the breakdown's mean per GPU). Its memory is check's per-rank figure (below).
    const auto r = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --json --samples 1");
    REQUIRE(r.exit_code == 0);
    const auto step = gpuhours::test::parse_json(r.out)["step"];
    const auto& stages = step["stages"].array();
    REQUIRE(stages.size() == 16);
    double compute = 0;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const auto& st = stages[i];
        CHECK(st["stage"].number() == static_cast<double>(i));
        const double sum = st["compute_s"].number() + st["recompute_s"].number() + st["optimizer_s"].number() +
                           st["exposed_communication_s"].number() + st["bubble_s"].number();
        CHECK(sum == Approx(step["step_time_s"].number()).epsilon(1e-6));
        CHECK(std::get<bool>(st["fits"].v));
        compute += st["compute_s"].number() / 16;
    }
    CHECK(compute == Approx(step["compute_s"].number()).epsilon(1e-9));
    // DualPipe's end ranks hold stages 0 and 15 (the embedding, the head and the MTP module), the embedding once
    // (memory_test derives the parameter count: 926,679,040 fewer than two 1F1B ranks): 55.38 GB as `model` prints
    // it, below the middle ranks' 61.06 GB (it was 61.00 GB with the embedding counted twice, session 50).
    CHECK(stages[0]["memory_bytes"].number() == Approx(55.38e9).epsilon(0.001));
    CHECK(stages[15]["memory_bytes"].number() == stages[0]["memory_bytes"].number());
    CHECK(stages[0]["memory_bytes"].number() < stages[2]["memory_bytes"].number());
    // The text table has the optimizer's column, so that its rows add up too.
    CHECK_THAT(run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --stages --samples 1").out, Catch::Contains("optimizer s"));
}

TEST_CASE("a scenario that unsets the rental price is costed at the chip catalog's, and says so") {
    // The small run extended with unset = ["pricing.gpu_hour"]: [pricing] stays (its other keys) but prices
    // nothing, so rung 1 falls back to the H100 catalog's rental price, $2.35 per GPU-hour
    // (scenarios/chips/h100.toml), listed under the assumptions with that file. The nominal cost is then
    // $2.35 × the headline GPU-hours.
    const auto dir = gpuhours::test::scratch_path("run-test-unset");
    gpuhours::test::write_small_run(dir);
    std::ofstream(dir / "unset.toml") << "extends = \"small.toml\"\nunset = [\"pricing.gpu_hour\"]\n";
    const auto json = run_cli("run " + (dir / "unset.toml").string() + " --json --samples 4");
    const auto text = run_cli("run " + (dir / "unset.toml").string() + " --samples 4");
    INFO(json.out);
    REQUIRE(json.exit_code == 0);
    REQUIRE(text.exit_code == 0);
    const auto doc = gpuhours::test::parse_json(json.out);
    CHECK(doc["headline"]["cost_usd"].number() == Approx(2.35 * doc["headline"]["gpu_hours"].number()).epsilon(1e-9));
    CHECK_THAT(text.out, Catch::Contains("cluster.chip.price.rental_gpu_hour = $2.35 ("));
    CHECK_THAT(text.out, Catch::Contains("scenarios/chips/h100.toml"));
    // On a chip whose catalog entry has no rental price (the H20) nothing prices the run: the claim is refused,
    // and the message says that [pricing] exists but prices nothing, and what to add.
    std::ofstream(dir / "unpriced.toml") << "extends = \"small.toml\"\nunset = [\"pricing.gpu_hour\"]\n[cluster]\nchip = \"h20\"\n";
    const auto refused = run_cli("check " + (dir / "unpriced.toml").string());
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.out, Catch::Contains("[pricing] prices nothing"));
    CHECK_THAT(refused.out, Catch::Contains("no catalog rental price"));
    CHECK_THAT(refused.out, Catch::Contains("add gpu_hour"));
}

TEST_CASE("the reliability line and the assumptions say which reliability figures the run uses") {
    // The small run names no catalog entry (so the default, meta-llama3-h100) but writes its own failure class
    // ("GPU") and restart_time (10 min, printed as 600 s): the line labels both as set in the scenario, and the catalog's recovery
    // parts (detect, replace, initialisation, the checkpoint load at read_bandwidth), which restart_time replaces,
    // are not listed among the assumptions.
    const auto r = run_cli("run " + small_scenario().string() + " --samples 4");
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("1 failure class set in the scenario (\"GPU\"; the catalog's not used)"));
    CHECK_THAT(r.out, Catch::Contains("restart 600 s (restart_time, given in the scenario or a --set; the catalog's recovery "
                                      "parts not used)"));
    // Written at line 16 of small.toml (tests/support/scenarios.hpp: [reliability] is line 15): the source names it.
    CHECK_THAT(r.out, Catch::Contains("reliability.restart_time = 10 min (set in the scenario (" + small_scenario().string() + ":16))"));
    for (const char* unused : {"reliability.detect", "reliability.replace", "reliability.init_per_gpu", "reliability.read_bandwidth"}) {
        INFO(unused);
        CHECK_THAT(r.out, !Catch::Contains(std::string(unused) + " = "));
    }
}

TEST_CASE("a criterion lists the break-evens of only the inputs that enter it") {
    // The flagship under ownership judges "under $6M" on rung 1: the H800 catalog's rental price × GPU-hours. Of its
    // uncertain inputs the FP8 GEMM efficiency (through the step time) and the failure rates (through the wall
    // clock) enter that cost and the wall clock; the research multiplier enters only rung 4, so neither criterion
    // lists it.
    const auto r = run_cli("run " + kRoot + "/scenarios/deepseek-v3-ownership.toml --json --samples 4");
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::parse_json(r.out);
    for (const auto& criterion : doc["claims"].array().at(0)["criteria"].array()) {
        std::vector<std::string> inputs;
        for (const auto& b : criterion["input_break_evens"].array()) inputs.push_back(b["input"].string());
        INFO(criterion["key"].string());
        CHECK(std::find(inputs.begin(), inputs.end(), "pricing.research_multiplier") == inputs.end());
        CHECK(std::find(inputs.begin(), inputs.end(), "cluster.chip.efficiency.gemm_fp8_blockwise") != inputs.end());
    }
}

TEST_CASE("the nominal run does not depend on the number of samples") {
    // The headline (wall clock, GPU-hours, cost) and each claim's nominal value are the run at every input's nominal
    // value, its interruptions replayed over fixed seeds: 16 and 48 samples of the same seed draw other uncertain
    // inputs (the samples' medians differ) but give the same nominal run, to the last digit.
    const std::string file = small_scenario().string();
    const auto few = run_cli("run " + file + " --json --samples 16 --seed 5");
    const auto more = run_cli("run " + file + " --json --samples 48 --seed 5");
    REQUIRE(few.exit_code == 0);
    REQUIRE(more.exit_code == 0);
    const auto a = gpuhours::test::parse_json(few.out);
    const auto b = gpuhours::test::parse_json(more.out);
    CHECK(a["run"]["cost_usd_p50"].number() != b["run"]["cost_usd_p50"].number());
    for (const char* key : {"wall_clock_days", "gpu_hours", "cost_usd", "energy_mwh"}) {
        INFO(key);
        CHECK(a["headline"][key].number() == b["headline"][key].number());
    }
    const auto& criteria_a = a["claims"].array().at(0)["criteria"].array();
    const auto& criteria_b = b["claims"].array().at(0)["criteria"].array();
    REQUIRE(criteria_a.size() == criteria_b.size());
    for (std::size_t i = 0; i < criteria_a.size(); ++i) CHECK(criteria_a[i]["nominal"].string() == criteria_b[i]["nominal"].string());
}

TEST_CASE("MFU and two-sided claims are judged sample by sample, and the nominal run does not move with the seed") {
    // The flagship's FP8 GEMM efficiency is triangular(0.477, 0.53, 0.583): each sample's step time, and so its MFU
    // (the same FLOPs over its own step time), moves with it. A bound just below the nominal MFU (43.8%) holds in
    // some samples and not others, so its share of runs lies strictly between 0 and 1 (it was 100% whatever the
    // bound: every sample carried the nominal MFU). A one-criterion claim's split (run's own / economic) is its
    // criterion's.
    const auto dir = gpuhours::test::scratch_path("run-mfu-claims");
    std::filesystem::create_directories(dir);
    const auto file = dir / "mfu.toml";
    std::ofstream(file) << "extends = \"" << kRoot << "/scenarios/deepseek-v3.toml\"\n"
                        << "[[claims]]\ntext = \"mfu\"\nmfu_above = 0.437\n"
                        << "[[claims]]\ntext = \"within\"\nwall_clock_within = [\"55 days\", \"59 days\"]\n";
    const auto r = run_cli("run " + file.string() + " --json --samples 60 --seed 2");
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::parse_json(r.out);
    const auto& mfu = doc["claims"].array().at(0);
    CHECK(mfu["nominal_verdict"].string() == "HOLDS");
    CHECK(mfu["probability"].number() > 0.0);
    CHECK(mfu["probability"].number() < 1.0);
    // MFU is the step's on either basis: the MFU claim names none (it read "judged on allocated GPU-hours"), the
    // wall-clock claim its default.
    CHECK(std::holds_alternative<std::nullptr_t>(mfu["basis"].v));
    CHECK(doc["claims"].array().at(1)["basis"].string() == "allocated");
    const auto& within = doc["claims"].array().at(1);
    const auto& criterion = within["criteria"].array().at(0);
    CHECK(criterion["probability_run"].number() == within["probability_run"].number());
    CHECK(criterion["probability_economic"].number() == within["probability_economic"].number());
    // Another seed draws other samples, but the nominal run's failure replays are fixed: the same headline.
    const auto other = run_cli("run " + file.string() + " --json --samples 60 --seed 9");
    REQUIRE(other.exit_code == 0);
    CHECK(gpuhours::test::parse_json(other.out)["headline"]["gpu_hours"].number() == doc["headline"]["gpu_hours"].number());
}

TEST_CASE("a default the energy rests on is listed among the assumptions") {
    // The small run's [pricing] writes gpu_hour only: the energy is at PUE 1, utilization 1 and no host power, the
    // defaults, each listed as such.
    const auto r = run_cli("run " + small_scenario().string() + " --samples 4");
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("pricing.pue = 1 (default, not written"));
    CHECK_THAT(r.out, Catch::Contains("pricing.utilization = 1 (default, not written"));
    CHECK_THAT(r.out, Catch::Contains("pricing.host_power_share = 0 (default, not written"));
}

TEST_CASE("allocated − steady-state is the difference of the two nominal figures, and the chip's peaks are assumptions") {
    // The small run (H100, one failure class): the line under the two GPU-hour figures gives their difference at
    // the nominal inputs, allocated − steady-state, up to the rounding of each to a whole GPU-hour (±1); its parts
    // are labelled as means over the samples. The H100's BF16 peak, 989.4 TFLOP/s in scenarios/chips/h100.toml, is
    // listed among the assumptions with the catalog file, as the step's compute time and every MFU rest on it.
    const auto r = run_cli("run " + small_scenario().string() + " --samples 16");
    REQUIRE(r.exit_code == 0);
    const auto number = [&](const std::string& pattern) {
        std::smatch m;
        REQUIRE(std::regex_search(r.out, m, std::regex(pattern)));
        std::string digits = m[1].str();
        digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
        return std::stod(digits);
    };
    const double steady = number("steady-state ([0-9,]+) \\(steps");
    const double allocated = number("allocated +([0-9,]+) \\(GPUs");
    const double difference = number("allocated − steady-state = \\+([0-9,]+) GPU-hours \\([^)]*\\) at the nominal inputs; its parts, means");
    CHECK(std::abs(difference - (allocated - steady)) <= 1.0);
    CHECK_THAT(r.out, Catch::Contains("cluster.chip.compute.bf16 = 989.4 TFLOP/s ("));
    CHECK_THAT(r.out, Catch::Contains("(scenarios/chips/h100.toml)"));
}

TEST_CASE("a two-sided cost bound has a break-even price at each bound the price range crosses") {
    // The small run (price $1.5–$3.5, nothing else priced): its cost is GPU-hours × price, so `cost_within = [L, H]`
    // holds for prices between L / GPU-hours and H / GPU-hours. With L and H the costs at $2 and $3 (from the nominal
    // run's GPU-hours G), the break-evens are $2 (the figure crosses the low bound; holds above it) and $3 (the high
    // bound; holds below it), to the bisection's precision; both inside the range searched ($1.5–$3.5).
    const auto dir = gpuhours::test::scratch_path("run-within");
    const auto file = gpuhours::test::write_small_run(dir);
    const auto first = run_cli("run " + file.string() + " --json --samples 4");
    REQUIRE(first.exit_code == 0);
    const double g = json_number(first.out, "gpu_hours", "\"headline\"");
    std::ofstream(dir / "within.toml") << "extends = \"small.toml\"\n[[claims]]\ntext = \"between\"\n"
                                       << fmt::format("cost_within = [\"${:.2f}\", \"${:.2f}\"]\n", 2.0 * g, 3.0 * g);
    const auto r = run_cli("run " + (dir / "within.toml").string() + " --json --samples 4");
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::parse_json(r.out);
    std::vector<std::pair<double, std::string>> prices;
    for (const auto& b : doc["claims"].array().at(0)["criteria"].array().at(0)["input_break_evens"].array()) {
        if (b["input"].string() == "pricing.gpu_hour") prices.emplace_back(b["value"].number(), b["holds"].string());
    }
    REQUIRE(prices.size() == 2);
    CHECK(prices[0].first == Approx(2.0).epsilon(1e-3));
    CHECK_THAT(prices[0].second, Catch::StartsWith("above it, where the figure crosses the low bound"));
    CHECK(prices[1].first == Approx(3.0).epsilon(1e-3));
    CHECK_THAT(prices[1].second, Catch::StartsWith("below it, where the figure crosses the high bound"));
}

TEST_CASE("the run's own definition heads the assumptions, and a capital claim rests on no GPU-hours") {
    // The small run: Llama 3.1 8B on 16 H100, 20B tokens, batch 64 × 8,192 (tests/support/scenarios.hpp: gpus on
    // line 5, tokens on 12). Its model line gives the parameter counts (8.03B total for Llama 3.1 8B, within 1%).
    const auto r = run_cli("run " + small_scenario().string() + " --samples 4");
    REQUIRE(r.exit_code == 0);
    const std::size_t at = r.out.find("assumptions the figures rest on\n");
    REQUIRE(at != std::string::npos);
    const std::string list = r.out.substr(at);
    CHECK_THAT(list, Catch::Contains("  model = Llama 3.1 8B (8.03B total"));
    CHECK_THAT(list, Catch::Contains("  cluster.gpus = 16 (set in the scenario (") && Catch::Contains("small.toml:5))"));
    CHECK_THAT(list, Catch::Contains("  training.tokens = 20B (set in the scenario (") && Catch::Contains("small.toml:12))"));
    CHECK_THAT(list, Catch::Contains("  training.global_batch = 64 sequences"));
    CHECK_THAT(list, Catch::Contains("  reliability.async_checkpoint = false (default, not written"));
    // The layout (TP2 PP2 DP4) and the network are listed; a layout key given on the command line is the line's source.
    CHECK_THAT(list, Catch::Contains("  parallelism = TP2 CP1 PP2 DP4 EP1, "));
    CHECK_THAT(list, Catch::Contains("  cluster.fabric = "));
    // Every format the state is kept in: the small run writes none, so BF16 compute and the defaults.
    CHECK_THAT(list, Catch::Contains("  training.precision = compute bf16, parameters bf16, master weights fp32, optimizer state fp32, "
                                     "gradients fp32, activations bf16"));
    // None of those keys is written, so the line's source is the default, not the file's first line (it read
    // "set in the scenario (small.toml:1)": an audit); with one of them set on the command line, the rest default.
    CHECK_THAT(list, Catch::Contains("expert dispatch bf16, combine bf16 (default, not written in the scenario)\n"));
    // An FP16 run keeps FP16 activations by default (the same 2 B; the label read bf16 under fp16 compute).
    const auto fp16 = run_cli("run " + small_scenario().string() + " --samples 1 --set training.precision=\"fp16\"");
    CHECK_THAT(fp16.out, Catch::Contains("training.precision = compute fp16, parameters bf16, master weights fp32, optimizer state "
                                         "fp32, gradients fp32, activations fp16"));
    const auto set = run_cli("run " + small_scenario().string() + " --samples 4 --set parallelism.recompute=full");
    REQUIRE(set.exit_code == 0);
    CHECK_THAT(set.out, Catch::Contains("recompute full, micro_batch 1, 0 communication SMs (set on the command line (--set parallelism.recompute=full); "
                                        "the rest set in the scenario ("));
    // Two arguments on one line: both named.
    const auto two = run_cli("run " + small_scenario().string() + " --samples 4 --set training.activations=fp32 --set training.gradients=bf16");
    REQUIRE(two.exit_code == 0);
    CHECK_THAT(two.out, Catch::Contains("(set on the command line (--set training.activations=fp32; --set training.gradients=bf16); the rest "
                                        "default, not written in the scenario)"));
    // A claim on rung 3 (the capital outlay) with only a cost bound: judged on that rung, but neither "judged on …
    // GPU-hours" nor a failure rate's break-even, as the outlay depends on neither.
    const auto dir = gpuhours::test::scratch_path("run-capital");
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "capital.toml") << "extends = \"" << kRoot << "/scenarios/deepseek-v3-ownership.toml\"\n"
                                        << "[[claims]]\ntext = \"capital\"\ncost_below = \"$100M\"\nrung = \"capital\"\n";
    const auto capital = run_cli("run " + (dir / "capital.toml").string() + " --samples 4");
    REQUIRE(capital.exit_code == 0);
    const std::size_t claim = capital.out.find("\"capital\" (");
    REQUIRE(claim != std::string::npos);
    const std::string block = capital.out.substr(claim, capital.out.find("\nassumptions", claim) - claim);
    CHECK_THAT(block, Catch::Contains("cost judged on rung 3, the cluster's total capital outlay)"));
    CHECK_THAT(block, !Catch::Contains("GPU-hours)"));
    CHECK_THAT(block, !Catch::Contains("reliability.failures"));
}

TEST_CASE("an explicit layer split paces the pipeline by its heaviest stage, and a wrong one is refused where it is written") {
    const gpuhours::test::TempDir scratch("layer-split-" + std::to_string(::getpid()));
    const auto file = gpuhours::test::write_small_run(scratch.path).string();
    const auto step = [&](const std::string& split) {
        const auto r = run_cli("run " + file + " --samples 1 --json" + (split.empty() ? "" : " --set 'parallelism.layers_per_stage=" + split + "'"));
        INFO(r.out);
        REQUIRE(r.exit_code == 0);
        return gpuhours::test::JsonReader(r.out).document()["step"]["step_time_s"].number();
    };
    // Llama 3.1 8B (32 layers) on PP2: the even split is [16, 16], the same step as no split at all.
    const double even = step("");
    CHECK(step("[16, 16]") == even);
    // The last stage also holds the output head: 2 × 4,096 × 128,256 / TP2 = 525M FLOPs per token forward, against
    // a layer's 2 × 218M / 2 = 218M — about 2.4 layers. [17, 15] weighs about 17 against 17.4 where [16, 16] weighs
    // 16 against 18.4, so it is faster; [20, 12] (20 against 14.4) is slower than both.
    CHECK(step("[17, 15]") < even);
    CHECK(step("[20, 12]") > even);
    // Counts that are not one per chunk summing to the layers are refused at the key, before anything runs.
    std::ofstream(scratch.path / "bad.toml") << "extends = \"small.toml\"\n[parallelism]\nlayers_per_stage = [16, 15]\n";
    const auto bad = run_cli("check " + (scratch.path / "bad.toml").string());
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out, Catch::Contains("bad.toml:3:") && Catch::Contains("layers_per_stage gives 2 chunks summing to 31 layers") &&
                            Catch::Contains("give 2 counts, rank 0's chunk first, that sum to 32"));
}

TEST_CASE("an unpriced run's JSON has every cost and energy key, null, as whatif's and compare's") {
    // scenarios/validation/megatron-1.7b.toml has no [pricing]: nothing to cost. A notebook reading
    // headline.cost_usd must find the key with null (docs/schemas.md, version 3), not a missing key.
    const auto out = run_cli("run " + kRoot + "/scenarios/validation/megatron-1.7b.toml --json --samples 4");
    REQUIRE(out.exit_code == 0);
    const auto doc = gpuhours::test::parse_json(out.out);
    const auto is_null = [](const gpuhours::test::JsonValue& v) { return std::holds_alternative<std::nullptr_t>(v.v); };
    for (const char* key : {"cost_usd", "cost_text", "cost_label", "energy_mwh", "energy_text"}) {
        INFO(key);
        REQUIRE(doc["headline"].has(key));
        CHECK(is_null(doc["headline"][key]));
    }
    for (const char* key : {"cost_usd", "cost_usd_p05", "cost_usd_p50", "cost_usd_p95", "cost_basis", "energy_mwh_p50", "cost_lines_usd"}) {
        INFO(key);
        REQUIRE(doc["run"].has(key));
        CHECK(is_null(doc["run"][key]));
    }
    REQUIRE(doc.has("cost_ladder"));
    CHECK(is_null(doc["cost_ladder"]));
    // A priced run still writes numbers there (the small run prices its GPU-hours).
    const auto priced = gpuhours::test::parse_json(run_cli("run " + small_scenario().string() + " --json --samples 4").out);
    CHECK(priced["headline"]["cost_usd"].number() > 0.0);
    // Its text lists no price or cost coverage among the assumptions it rests on (the A100's catalog rental price and
    // "cost covers final run" were listed beside "cost: no [pricing] given"); the priced run lists what its cost covers.
    const auto text = run_cli("run " + kRoot + "/scenarios/validation/megatron-1.7b.toml --samples 4");
    REQUIRE(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains("no [pricing] given"));
    CHECK_THAT(text.out, !Catch::Contains("cluster.chip.price.rental_gpu_hour") && !Catch::Contains("cost covers"));
    CHECK_THAT(run_cli("run " + small_scenario().string() + " --samples 4").out, Catch::Contains("cost covers"));
}

TEST_CASE("batch-ramp levels raised to the least batch the schedule takes are said under the phases table") {
    // The flagship on 4,096 GPUs (data 256): its ramp from 3,072 to 15,360 sequences has four levels at the
    // midpoints 3,072 + 12,288 × (0.125, 0.375, 0.625, 0.875) = 4,608, 7,680, 10,752 and 13,824. DualPipe takes at
    // least 2 × pipeline = 32 micro-batches per replica: 256 × 1 × 32 = 8,192 sequences, so the first two run at
    // 8,192 (two table rows alike) and the others at their own (multiples of 2 × 256 = 512: 10,752 = 21 × 512).
    const std::string flagship = kRoot + "/scenarios/deepseek-v3.toml";
    const auto wide = run_cli("run " + flagship + " --samples 2 --set cluster.gpus=4096 --set parallelism.data=256 "
                              "--set phases.1.parallelism.data=32 --set phases.2.parallelism.data=8");
    REQUIRE(wide.exit_code == 0);
    CHECK_THAT(wide.out, Catch::Contains("pre-training: the batch ramp's levels at 4,608, 7,680 sequences are below the least batch "
                                         "the dualpipe schedule takes with data = 256 and micro_batch = 1 (8,192: 2 × pipeline = 32 "
                                         "micro-batches per replica), so they run at 8,192"));
    // On its own 2,048 GPUs (data 128) the least is 128 × 32 = 4,096, below the first midpoint: nothing to say.
    const auto own = run_cli("run " + flagship + " --samples 2");
    REQUIRE(own.exit_code == 0);
    CHECK_THAT(own.out, !Catch::Contains("batch ramp's level"));
}

TEST_CASE("a claim criterion's threshold and nominal value are in the JSON as numbers named with their unit") {
    // The flagship's claim: cost_below = "$6M" and wall_clock_below = "2 months". The numbers beside the texts:
    // threshold_high_usd = 6e6; 2 months = 2 × 365.25 / 12 days (parse_duration's month, a twelfth of a Julian year)
    // = 60.875 days; the nominal values are the headline's cost and wall clock (the same nominal run).
    const auto out = run_cli("run " + kRoot + "/scenarios/deepseek-v3.toml --json --samples 4");
    REQUIRE(out.exit_code == 0);
    const auto doc = gpuhours::test::parse_json(out.out);
    const auto& criteria = doc["claims"].array().at(0)["criteria"].array();
    REQUIRE(criteria.size() == 2);
    const auto& cost = criteria.at(0);
    REQUIRE(cost["key"].string() == "cost_below");
    CHECK(cost["threshold_high_usd"].number() == Approx(6e6));
    CHECK_FALSE(cost.has("threshold_low_usd"));
    CHECK(cost["nominal_usd"].number() == doc["headline"]["cost_usd"].number());
    const auto& wall = criteria.at(1);
    REQUIRE(wall["key"].string() == "wall_clock_below");
    CHECK(wall["threshold_high_days"].number() == Approx(60.875).epsilon(1e-12));
    CHECK(wall["nominal_days"].number() == doc["headline"]["wall_clock_days"].number());
}

TEST_CASE("whatif says when a claim's cost is judged on another rung than its cost column") {
    // deepseek-v3-ownership.toml costs its run on rung 2 (amortised ownership) while its claim says rung = "rental":
    // the H100's rung-2 cost sits under the claim's $6M beside FAILS, judged on rung 1 (an analyst's read).
    const auto r = run_cli("whatif " + kRoot + "/scenarios/deepseek-v3-ownership.toml --chips h800,h100 --samples 10 --quiet");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("its cost is judged on rung 1 (the") &&
                          Catch::Contains("not on the cost column's rung 2"));
    // The rental scenario's claim is on its own cost column's rung: no such line.
    const auto rental = run_cli("whatif " + kRoot + "/scenarios/deepseek-v3.toml --chips h800,h100 --samples 10 --quiet");
    REQUIRE(rental.exit_code == 0);
    CHECK_THAT(rental.out, !Catch::Contains("its cost is judged on rung"));
}

TEST_CASE("a run too long for the supported interruptions is blamed on its tokens, not on a restart time the file writes") {
    // Project ATOM writes restart_time = "15 min" (line 38) and fails about every 18,281 s (job MTTF): each piece of
    // checkpoint interval, write and restart needs at most one MTTF, so 10^18 tokens' 1.47 × 10^7 interruptions are the
    // run's length, the --set's to fix (an audit found the restart time's line named, with a hint about restarts).
    const auto r = run_cli("run " + kRoot + "/scenarios/project-atom.toml --set training.tokens=1e18");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::StartsWith("gpuhours: --set training.tokens=1e18: error: the run expects "));
    CHECK_THAT(r.out, Catch::Contains("beyond the supported range of interruptions"));
}

TEST_CASE("a run whose pieces need many tries is blamed on its restart, not on its tokens") {
    // Llama 3 8B on NVIDIA's recipe with the catalog's failure rates (job MTTF about 2.05 × 10^7 s) and a 10-year
    // restart: every piece of work needs e^(3.16 × 10^8 / 2.05 × 10^7) tries, about 1.96 × 10^6 interruptions in all,
    // beyond the limit. `check` passes it (its steps at their compute lower bound); run refuses it at the --set that
    // caused it (an audit found it located at the file's tokens with a hint about tokens).
    const auto r = run_cli("run " + kRoot + "/scenarios/validation/megatron-bridge-llama3-8b-fp8-h100.toml --set "
                           "reliability.restart_time='\"10 years\"'");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::StartsWith("gpuhours: --set reliability.restart_time=\"10 years\": error: the run expects "));
    CHECK_THAT(r.out, Catch::Contains("each piece of work needs many tries"));
    CHECK_THAT(r.out, Catch::Contains("shorten the restart"));
}

TEST_CASE("an uncertain step input that moves no step time is said to, beside one that does") {
    // Nemotron-4 340B trains in BF16 on H100 (scenarios/validation/nemotron-4-340b-1536.toml): an FP8 GEMM
    // efficiency range runs no kernel there, so its grid (5th, 25th, 75th, 95th percentiles) leaves every step time
    // exactly as it was; the BF16 GEMM efficiency's range moves them. A new user read the flagship's FP8 range, kept
    // on a BF16 copy, as an uncertainty of the figures (session 54).
    const auto r = run_cli("run " + kRoot + "/scenarios/validation/nemotron-4-340b-1536.toml --quiet --samples 2"
                           " --set 'cluster.chip.efficiency.gemm_fp8={low=0.6, mode=0.67, high=0.7}'"
                           " --set 'cluster.chip.efficiency.gemm={low=0.7, mode=0.725, high=0.75}'");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("gemm_fp8 ~ triangular(0.6, 0.67, 0.7) (uncertain; moves no step time of this run"));
    CHECK_THAT(r.out, Catch::Contains("gemm ~ triangular(0.7, 0.725, 0.75) (uncertain; nominal 0.725"));
    CHECK_THAT(r.out, !Catch::Contains("gemm ~ triangular(0.7, 0.725, 0.75) (uncertain; moves no step time"));
}
