// Sweeps: --vary specs and the points they give, rows independent of threads and completion order, the journal
// and resume, error rows, and the `gpuhours sweep` command end to end.
#include "../support/cli.hpp"
#include "../support/json.hpp"
#include "../support/scenarios.hpp"

#include <gpuhours/units/error.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/analysis/sweep.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <variant>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using gpuhours::test::run_cli;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> values_of(const std::string& spec) { return gpuhours::parse_sweep_axis(spec).values; }

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A fresh directory per test (ctest runs test cases in parallel processes).
fs::path test_dir(const std::string& name) {
    const auto dir = gpuhours::test::scratch_path("sweep-test") / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// A small, fast run (tests/support/scenarios.hpp): Llama 3.1 8B on 16 H100 (TP2 PP2 DP4), one failure class, a
// price range, one claim. The layout fixes data = 4, so only 16 GPUs are valid unless parallelism.data changes.
fs::path small_scenario(const fs::path& dir) { return gpuhours::test::write_small_run(dir); }

// The plan `gpuhours sweep FILE --vary …  --samples S --seed 1` builds (same fingerprint as the command's).
gpuhours::SweepPlan plan_of(const fs::path& file, const std::vector<std::string>& specs, int samples) {
    gpuhours::SweepPlan plan;
    plan.scenario = file;
    plan.evaluate.samples = samples;
    plan.evaluate.seed = 1;
    for (const auto& s : specs) plan.axes.push_back(gpuhours::parse_sweep_axis(s));
    plan.points = gpuhours::sweep_points(plan.axes, std::nullopt, plan.evaluate.seed);
    return plan;
}

// A row with every field set to something distinct, for round trips.
gpuhours::SweepRow sample_row() {
    gpuhours::SweepRow r;
    r.point = 7;
    r.values = {{"cluster.gpus", "2048"}, {"cluster.chip.nvlink", "\"200 GB/s\""}};
    r.key = "cluster.gpus=2048;cluster.chip.nvlink=\"200 GB/s\"";
    r.ok = true;
    r.error = "quote \" backslash \\ tab \t bell \x07 end";
    r.chip = "h800";
    r.gpus = 2048;
    r.layout = "TP8 CP1 PP16 DP16 EP64";
    r.step_time_s = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits to round-trip
    r.mfu_causal = 1.0 / 3.0;
    r.wall_clock_days_p05 = 55.5;
    r.wall_clock_days_p50 = 57.25;
    r.wall_clock_days_p95 = 60.125;
    r.gpu_hours_p50 = 2.664e6;
    r.priced = true;
    r.cost_usd_p05 = 5.1e6;
    r.cost_usd_p50 = 5.328e6;
    r.cost_usd_p95 = 5.9e6;
    r.energy_mwh_p50 = std::nan("");  // non-finite travels as null
    r.mfu_bf16 = 0.4391;
    r.wall_clock_days = 57.2;
    r.gpu_hours = 2.81e6;
    r.steady_state_gpu_hours = 2.77e6;
    r.cost_usd = 5.623e6;
    r.energy_mwh = 1889.5;
    r.claims = {{"under $6M", "HOLDS", 0.93, "HOLDS"}, {"two months, \"strict\"", "UNCERTAIN", 0.5, ""}};  // the second from an older journal
    r.samples = 40;
    return r;
}

}  // namespace

// ---- specs and points ----------------------------------------------------------------------------------------

TEST_CASE("a grid is the Cartesian product of the axes in --vary order, the last axis varying fastest", "[sweep]") {
    const std::vector<gpuhours::SweepAxis> axes{gpuhours::parse_sweep_axis("cluster.gpus=1024,2048,4096"),
                                                gpuhours::parse_sweep_axis("cluster.chip=h800,h20")};
    const auto points = gpuhours::sweep_points(axes, std::nullopt, 1);
    // 3 GPU counts × 2 chips = 6 points; nested loops as written: gpus outer, chip inner.
    const std::vector<std::string> expected{
        "cluster.gpus=1024;cluster.chip=h800", "cluster.gpus=1024;cluster.chip=h20",
        "cluster.gpus=2048;cluster.chip=h800", "cluster.gpus=2048;cluster.chip=h20",
        "cluster.gpus=4096;cluster.chip=h800", "cluster.gpus=4096;cluster.chip=h20",
    };
    REQUIRE(points.size() == expected.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
        CHECK(points[i].index == i);
        CHECK(points[i].key() == expected[i]);
    }
    CHECK(points[3].overrides() == std::vector<std::string>{"cluster.gpus=2048", "cluster.chip=h20"});
}

TEST_CASE("a range includes its stop, keeps its unit, and a geometric range multiplies", "[sweep]") {
    // 1.5 + k·0.5 for k = 0..4 reaches 3.5 exactly.
    CHECK(values_of("pricing.gpu_hour=1.5:3.5:0.5") == std::vector<std::string>{"1.5", "2", "2.5", "3", "3.5"});
    // 1024·2^k ≤ 8192: k = 0..3.
    CHECK(values_of("cluster.gpus=1024:8192:*2") == std::vector<std::string>{"1024", "2048", "4096", "8192"});
    // (0.3 − 0.1) / 0.1 is 1.9999999999999998 in doubles; the stop still counts, and 0.1 + 2·0.1 prints as 0.3.
    CHECK(values_of("x.y=0.1:0.3:0.1") == std::vector<std::string>{"0.1", "0.2", "0.3"});
    // A negative step counts down; 10 − 5k ≥ 0: k = 0..2.
    CHECK(values_of("x.y=10:0:-5") == std::vector<std::string>{"10", "5", "0"});
    // 10 + 4k ≤ 20: k = 0..2 (20 itself is not reached).
    CHECK(values_of("x.y=10:20:4") == std::vector<std::string>{"10", "14", "18"});
    // The unit around the numbers is kept; the step may be bare.
    CHECK(values_of("pricing.gpu_hour=$1.5:$3.5:$1") == std::vector<std::string>{"$1.5", "$2.5", "$3.5"});
    CHECK(values_of("cluster.nic_bandwidth=100 GB/s:400 GB/s:*2") ==
          std::vector<std::string>{"100 GB/s", "200 GB/s", "400 GB/s"});
    // Lists split on top-level commas only.
    CHECK(values_of("cluster.chip=h800, h20 ,\"a,b\"") == std::vector<std::string>{"h800", "h20", "\"a,b\""});
    CHECK(values_of("cluster.chip=h100") == std::vector<std::string>{"h100"});
}

TEST_CASE("random points are reproducible by seed, within bounds, and differ for another seed", "[sweep]") {
    const std::vector<gpuhours::SweepAxis> axes{gpuhours::parse_sweep_axis("pricing.gpu_hour=$1.5~$3.5"),
                                                gpuhours::parse_sweep_axis("cluster.gpus=16~64"),
                                                gpuhours::parse_sweep_axis("cluster.chip=h100,h800")};
    const auto a = gpuhours::sweep_points(axes, 40, 7);
    const auto b = gpuhours::sweep_points(axes, 40, 7);
    const auto c = gpuhours::sweep_points(axes, 40, 8);
    REQUIRE(a.size() == 40);
    std::set<std::string> chips;
    std::set<std::string> distinct;
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].key() == b[i].key());
        distinct.insert(a[i].key());
        const std::string price = a[i].values[0].second;
        REQUIRE(price.front() == '$');
        const double p = std::stod(price.substr(1));
        CHECK(p >= 1.5);
        CHECK(p <= 3.5);
        // Both bounds whole: whole draws, printed without a decimal point.
        const std::string gpus = a[i].values[1].second;
        CHECK(gpus.find_first_not_of("0123456789") == std::string::npos);
        CHECK(std::stoi(gpus) >= 16);
        CHECK(std::stoi(gpus) <= 64);
        chips.insert(a[i].values[2].second);
    }
    CHECK(chips == std::set<std::string>{"h100", "h800"});  // 40 fair coin flips are all alike with p = 2^-39
    CHECK(distinct.size() == 40);  // continuous prices: no two points alike
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i) same += a[i].key() == c[i].key() ? 1 : 0;
    CHECK(same == 0);
}

TEST_CASE("a negative money step may carry its sign before the dollar", "[sweep]") {
    // "-$1" is how an amount is written; it was refused as a different unit from "$3" ("$-1" worked).
    const auto points = gpuhours::sweep_points({gpuhours::parse_sweep_axis("pricing.gpu_hour=$3:$1:-$1")}, std::nullopt, 1);
    std::vector<std::string> values;
    for (const auto& p : points) values.push_back(p.values[0].second);
    CHECK(values == std::vector<std::string>{"$3", "$2", "$1"});
}

TEST_CASE("a random range with a unit is drawn continuously, whole bounds or not", "[sweep]") {
    // "1T~2T" tokens and "$1~$3" have whole mantissas but are quantities: whole draws gave only 1T and 2T (203 and 197
    // of 400) and whole dollars. Twenty continuous draws are pairwise distinct with probability 1, and lie within.
    for (const char* spec : {"training.tokens=1T~2T", "pricing.gpu_hour=$1~$3"}) {
        INFO(spec);
        const auto points = gpuhours::sweep_points({gpuhours::parse_sweep_axis(spec)}, 20, 5);
        std::set<std::string> values;
        for (const auto& p : points) values.insert(p.values[0].second);
        CHECK(values.size() == 20);
    }
    const auto tokens = gpuhours::sweep_points({gpuhours::parse_sweep_axis("training.tokens=1T~2T")}, 20, 5);
    for (const auto& p : tokens) {
        const std::string& v = p.values[0].second;
        REQUIRE(v.back() == 'T');
        CHECK(std::stod(v.substr(0, v.size() - 1)) >= 1.0);
        CHECK(std::stod(v.substr(0, v.size() - 1)) <= 2.0);
    }
}

TEST_CASE("equal random draws are distinct points, each its own row", "[sweep]") {
    // Ten whole draws from {1, 2}: by the pigeonhole principle some repeat. Each is a sample of its own (the journal
    // keyed points by their values, so `--random 5` over whole dollars gave 2 rows; a fresh verifier, #12).
    const auto points = gpuhours::sweep_points({gpuhours::parse_sweep_axis("parallelism.micro_batch=1~2")}, 10, 3);
    REQUIRE(points.size() == 10);
    std::set<std::string> keys;
    std::set<std::string> values;
    for (const auto& p : points) {
        keys.insert(p.key());
        values.insert(p.values[0].second);
        CHECK_THAT(p.key(), Catch::StartsWith(fmt::format("draw={};parallelism.micro_batch=", p.index)));
    }
    CHECK(keys.size() == 10);
    CHECK(values.size() <= 2);
}

TEST_CASE("a malformed --vary spec is an error that says what to write", "[sweep]") {
    for (const char* bad : {"cluster.gpus", "cluster.gpus=", "=1,2", "cluster..gpus=1", "cluster.gpus=1,,2",
                            "x.y=1:2", "x.y=1:5:-1", "x.y=1:5:0", "x.y=a:b:c", "x.y=1:8:*1", "x.y=$1~2 GB/s",
                            "x.y=3~1", "x.y=1~2~3"}) {
        INFO(bad);
        CHECK_THROWS_AS(gpuhours::parse_sweep_axis(bad), gpuhours::Error);
    }
    const std::vector<gpuhours::SweepAxis> random_axis{gpuhours::parse_sweep_axis("x.y=1~2")};
    CHECK_THROWS_WITH(gpuhours::sweep_points(random_axis, std::nullopt, 1), Catch::Contains("--random"));
    const std::vector<gpuhours::SweepAxis> twice{gpuhours::parse_sweep_axis("x.y=1,2"), gpuhours::parse_sweep_axis("x.y=3")};
    CHECK_THROWS_AS(gpuhours::sweep_points(twice, std::nullopt, 1), gpuhours::Error);
}

// ---- running -------------------------------------------------------------------------------------------------

TEST_CASE("rows come back sorted by point whatever order the points finish in", "[sweep]") {
    gpuhours::SweepPlan plan;
    plan.axes = {gpuhours::parse_sweep_axis("x.y=0,1,2,3")};
    plan.points = gpuhours::sweep_points(plan.axes, std::nullopt, 1);
    // Point i may finish only once the row of point i + 1 has been handed over: with four threads, one per point,
    // they finish 3, 2, 1, 0 — the reverse of their order.
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::size_t> completion;  // rows in the order on_row saw them
    gpuhours::SweepRunOptions options;
    options.threads = 4;
    options.evaluate = [&](const gpuhours::SweepPoint& p) {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] {
            return p.index == 3 || std::find(completion.begin(), completion.end(), p.index + 1) != completion.end();
        });
        gpuhours::SweepRow row;
        row.point = p.index;
        row.key = p.key();
        row.ok = true;
        return row;
    };
    options.on_row = [&](const gpuhours::SweepRow& r) {
        std::lock_guard lock(mutex);
        completion.push_back(r.point);
        cv.notify_all();
    };
    const auto rows = gpuhours::run_sweep_points(plan, plan.points, options);
    CHECK(completion == std::vector<std::size_t>{3, 2, 1, 0});
    REQUIRE(rows.size() == 4);
    for (std::size_t i = 0; i < rows.size(); ++i) CHECK(rows[i].point == i);
}

TEST_CASE("a sweep's output is byte-identical with one thread and with two", "[sweep]") {
    const auto dir = test_dir("threads");
    const auto file = small_scenario(dir).string();
    const std::string sweep = "sweep " + file + " --vary 'pricing.gpu_hour=$1.5,$2.5,$3.5' --vary training.tokens=10B,20B --samples 8";
    for (const char* ext : {".csv", ".json"}) {
        const auto one = run_cli(sweep + " --threads 1 -o " + (dir / (std::string("one") + ext)).string());
        const auto two = run_cli(sweep + " --threads 2 -o " + (dir / (std::string("two") + ext)).string());
        INFO(one.out << two.out);
        REQUIRE(one.exit_code == 0);
        REQUIRE(two.exit_code == 0);
        const std::string a = read_text(dir / (std::string("one") + ext));
        CHECK(a == read_text(dir / (std::string("two") + ext)));
        // 3 prices × 2 token budgets = 6 points, all valid.
        CHECK_THAT(one.out, Catch::Contains("6 points (6 ok, 0 errors); 6 evaluated"));
        CHECK_FALSE(fs::exists(dir / (std::string("one") + ext + ".partial")));  // the journal is gone
    }
    // CSV: a header and one line per point.
    const std::string csv = read_text(dir / "one.csv");
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 7);
    CHECK_THAT(csv, Catch::StartsWith("point,pricing.gpu_hour,training.tokens,status,chip,chip_modified,gpus,layout,step_time_s,"
                                      "mfu_bf16,mfu_causal,wall_clock_days,gpu_hours,steady_state_gpu_hours,cost_usd,energy_mwh,"
                                      "wall_clock_days_p05,wall_clock_days_p50,wall_clock_days_p95,"
                                      "gpu_hours_p50,steady_state_gpu_hours_p50,cost_usd_p05,cost_usd_p50,cost_usd_p95,energy_mwh_p50,"
                                      "samples,claim_1_verdict,claim_1_probability,claim_1_probability_se,claim_1_nominal_verdict,error\n"));
    CHECK_THAT(read_text(dir / "one.json"), Catch::Contains("\"schema_version\": 4"));
}

TEST_CASE("a sweep's nominal columns are the run's headline figures for the same point", "[sweep]") {
    // The medians over the samples differ from the nominal run wherever an input's range is skewed (the flagship's
    // price: a $6.56M median cost against the $5.623M every other command prints); the nominal columns must be what
    // `run --json`'s headline gives for the scenario with the point's value set, to the last digit written.
    const auto dir = test_dir("nominal");
    const auto file = small_scenario(dir).string();
    const auto r = run_cli("sweep " + file + " --vary 'training.tokens=10B' --samples 8 -o " + (dir / "n.csv").string());
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const std::string csv = read_text(dir / "n.csv");
    const auto cells = [](const std::string& line) {
        std::vector<std::string> out;
        std::size_t from = 0;
        for (std::size_t comma; (comma = line.find(',', from)) != std::string::npos; from = comma + 1) out.push_back(line.substr(from, comma - from));
        out.push_back(line.substr(from));
        return out;
    };
    const std::size_t eol = csv.find('\n');
    const auto header = cells(csv.substr(0, eol));
    const auto row = cells(csv.substr(eol + 1, csv.find('\n', eol + 1) - eol - 1));
    const auto column = [&](const std::string& name) {
        const auto at = std::find(header.begin(), header.end(), name);
        REQUIRE(at != header.end());
        return std::stod(row.at(static_cast<std::size_t>(at - header.begin())));
    };
    const auto run = gpuhours::test::parse_json(run_cli("run " + file + " --set training.tokens=10B --samples 8 --json").out);
    const auto& headline = run["headline"];
    CHECK(column("wall_clock_days") == Approx(headline["wall_clock_days"].number()).epsilon(1e-12));
    CHECK(column("gpu_hours") == Approx(headline["gpu_hours"].number()).epsilon(1e-12));
    // run's headline steady-state GPU-hours (steps × step time × GPUs), which a row had only as the samples' median.
    CHECK(column("steady_state_gpu_hours") == Approx(headline["steady_state_gpu_hours"].number()).epsilon(1e-12));
    CHECK(column("cost_usd") == Approx(headline["cost_usd"].number()).epsilon(1e-12));
    CHECK(column("energy_mwh") == Approx(headline["energy_mwh"].number()).epsilon(1e-12));
    CHECK(column("mfu_bf16") == Approx(run["step"]["mfu_bf16_full"].number()).epsilon(1e-12));
}

TEST_CASE("a claim's share carries its samples and one binomial standard error, as run prints it", "[sweep]") {
    // CSV and JSON: --samples 8 gives samples = 8 on every row, and each share p has the standard error
    // √(p(1 − p)/8) (p = k/8: 0 at k = 0 or 8, √(0.25/8) = 0.1768 at k = 4).
    const auto dir = test_dir("share-error");
    const auto file = small_scenario(dir).string();
    const auto r = run_cli("sweep " + file + " --vary 'pricing.gpu_hour=$1.5,$3.5' --samples 8 -o " + (dir / "s.json").string());
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::parse_json(read_text(dir / "s.json"));
    REQUIRE(doc["rows"].array().size() == 2);
    for (const auto& row : doc["rows"].array()) {
        CHECK(row["samples"].number() == 8);
        REQUIRE(row["claims"].array().size() == 1);
        const auto& claim = row["claims"].array()[0];
        const double p = claim["probability"].number();
        CHECK(p * 8 == Approx(std::round(p * 8)).margin(1e-9));  // a share of 8 samples
        CHECK(claim["standard_error"].number() == Approx(std::sqrt(p * (1 - p) / 8)).margin(1e-12));
    }
    // The table: a share of 41 % over 1,000 samples is 41% ± 1.6% (√(0.41 × 0.59 / 1,000) = 0.01555); none at 100 %,
    // and none where the samples are unknown (a row resumed from an older journal).
    gpuhours::SweepResult result;
    result.rows = {sample_row(), sample_row(), sample_row()};
    result.rows[0].claims = {{"c", "UNCERTAIN", 0.41, ""}};
    result.rows[0].samples = 1000;
    result.rows[1].claims = {{"c", "HOLDS", 1.0, ""}};
    result.rows[1].samples = 1000;
    result.rows[2].claims = {{"c", "UNCERTAIN", 0.41, ""}};
    result.rows[2].samples = 0;
    const std::string table = gpuhours::report::sweep_table(result);
    CHECK_THAT(table, Catch::Contains("UNCERTAIN (41% ± 1.6%)"));
    CHECK_THAT(table, Catch::Contains("HOLDS (100%)"));
    CHECK_THAT(table, Catch::Contains("UNCERTAIN (41%)"));
    const std::string csv = gpuhours::report::sweep_csv(result);
    CHECK_THAT(csv, Catch::Contains(",1000,UNCERTAIN,0.41,0.015553"));
    // The nominal run's verdict beside an unsettled share, as run and whatif give it (a 110-day run against "under
    // two months" read "UNCERTAIN (0%; too few samples)" at 20 samples): in the table, the CSV and the JSON; not
    // beside a settled one; none from a row of an older journal (the first two rows above).
    result.rows[2].claims = {{"c", "UNCERTAIN", 0.0, "FAILS"}};
    result.rows[2].samples = 20;
    result.rows[1].claims = {{"c", "HOLDS", 1.0, "HOLDS"}};
    const std::string nominal = gpuhours::report::sweep_table(result);
    CHECK_THAT(nominal, Catch::Contains("UNCERTAIN (0%; too few samples; FAILS at nominal)"));
    CHECK_THAT(nominal, Catch::Contains("HOLDS (100%)") && !Catch::Contains("HOLDS at nominal"));
    CHECK_THAT(gpuhours::report::sweep_csv(result), Catch::Contains(",20,UNCERTAIN,0,0,FAILS"));
    CHECK_THAT(gpuhours::report::sweep_json(result), Catch::Contains("\"nominal_verdict\": \"FAILS\"") && Catch::Contains("\"nominal_verdict\": null"));
}

TEST_CASE("the chip column is the catalog id, and a changed figure is named in chip_modified", "[sweep]") {
    const auto dir = test_dir("chip-modified");
    const auto file = small_scenario(dir).string();
    // The first sweep keeps the catalog H100; the second sweep sets its GEMM efficiency on top of it (from = "h100").
    for (const auto& [vary, name] : {std::pair{"'pricing.gpu_hour=$2'", "plain.csv"},
                                     std::pair{"cluster.chip.efficiency.gemm=0.6", "changed.csv"}}) {
        const auto r = run_cli("sweep " + file + " --vary " + vary + " --samples 2 -o " + (dir / name).string());
        INFO(r.out);
        REQUIRE(r.exit_code == 0);
    }
    // Columns: point, the varied key, status, chip, chip_modified, …
    auto second_line = [&](const char* name) {
        const std::string csv = read_text(dir / name);
        const std::size_t from = csv.find('\n') + 1;
        return csv.substr(from, csv.find('\n', from) - from);
    };
    CHECK_THAT(second_line("plain.csv"), Catch::StartsWith("0,$2,ok,h100,,16,"));
    CHECK_THAT(second_line("changed.csv"), Catch::StartsWith("0,0.6,ok,h100,efficiency.gemm,16,"));
}

TEST_CASE("an invalid point gets an error row and the other points still run", "[sweep]") {
    const auto dir = test_dir("invalid");
    const auto file = small_scenario(dir).string();
    // The scenario's layout is TP2 × PP2 × DP4 = 16 ranks, so cluster.gpus = 32 alone does not add up.
    const auto r = run_cli("sweep " + file + " --vary cluster.gpus=16,32 --samples 4 -o " + (dir / "out.json").string());
    INFO(r.out);
    REQUIRE(r.exit_code == 2);  // any error row (docs/sweep.md), with every row still written
    CHECK_THAT(r.out, Catch::Contains("2 points (1 ok, 1 error)"));
    const std::string json = read_text(dir / "out.json");
    CHECK_THAT(json, Catch::Contains("\"status\": \"ok\""));
    CHECK_THAT(json, Catch::Contains("\"status\": \"error\""));
    CHECK_THAT(json, Catch::Contains("≠ gpus 32"));
    CHECK_THAT(json, Catch::Contains("\"errors\": 1"));
}

TEST_CASE("a bad --vary spec exits 2 before anything runs", "[sweep]") {
    const auto dir = test_dir("bad-spec");
    const auto file = small_scenario(dir).string();
    const auto out = dir / "out.csv";
    for (const char* spec : {"cluster.gpus=16:32", "cluster.gpus", "'pricing.gpu_hour=$1~$3'"}) {
        const auto r = run_cli("sweep " + file + " --vary " + spec + " -o " + out.string());
        INFO(spec << ": " << r.out);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.out, Catch::Contains("--vary"));
    }
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(gpuhours::journal_path(out)));
    CHECK(run_cli("sweep " + file + " -o " + out.string()).exit_code == 2);  // no --vary at all
}

// ---- journal and resume --------------------------------------------------------------------------------------

TEST_CASE("a journal line reads back as the row it was written from, and any cut-short line is rejected", "[sweep]") {
    const gpuhours::SweepRow row = sample_row();
    const std::string line = gpuhours::journal_line(row, "0123456789abcdef");
    REQUIRE(line.back() == '\n');
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);  // one line, whatever the strings hold
    const auto entry = gpuhours::parse_journal_line(std::string_view(line).substr(0, line.size() - 1));
    REQUIRE(entry);
    CHECK(entry->fingerprint == "0123456789abcdef");
    // Writing the parsed row again gives the same bytes: every field, exact doubles included, survived.
    CHECK(gpuhours::journal_line(entry->row, "0123456789abcdef") == line);
    CHECK(entry->row.step_time_s == row.step_time_s);
    CHECK(entry->row.samples == 40);
    CHECK(entry->row.error == row.error);
    CHECK(std::isnan(entry->row.energy_mwh_p50));
    // A JSON object is complete only with its closing brace: every shorter prefix is refused.
    for (std::size_t n = 0; n + 1 < line.size(); ++n) {
        INFO(n);
        CHECK_FALSE(gpuhours::parse_journal_line(std::string_view(line).substr(0, n)));
    }
}

TEST_CASE("opening a journal drops a cut-short last line, and reading one ignores it", "[sweep]") {
    const auto dir = test_dir("journal");
    const auto path = dir / "out.csv.partial";
    gpuhours::SweepRow first = sample_row();
    first.key = "a=1";
    gpuhours::SweepRow second = sample_row();
    second.key = "a=2";
    const std::string line = gpuhours::journal_line(first, "f");
    std::ofstream(path, std::ios::binary) << line << gpuhours::journal_line(second, "f").substr(0, 40);
    CHECK(gpuhours::read_journal(path, "f").size() == 1);  // the cut-short line is ignored
    {
        gpuhours::SweepJournal journal(path, "f");
        journal.append(second);
    }
    // The file is the first line and the second written whole, nothing of the cut-short write.
    CHECK(read_text(path) == line + gpuhours::journal_line(second, "f"));
    const auto rows = gpuhours::read_journal(path, "f");
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].key == "a=2");
}

TEST_CASE("a journal row without the nominal run's figures is evaluated again, not resumed with empty cells", "[sweep]") {
    // A journal written before the nominal columns existed has no "wall_clock_days" (nor the others) in its rows:
    // read back, such a row would give empty cells where an uninterrupted sweep writes numbers, so read_journal
    // leaves it out (its point runs again). A row with them reads back with them.
    const auto dir = test_dir("journal-old");
    const auto path = dir / "out.csv.partial";
    gpuhours::SweepRow fresh = sample_row();
    fresh.key = "a=1";
    gpuhours::SweepRow old = sample_row();
    old.key = "a=2";
    std::string old_line = gpuhours::journal_line(old, "f");
    for (const char* key : {"mfu_bf16", "wall_clock_days", "gpu_hours", "steady_state_gpu_hours", "cost_usd", "energy_mwh"}) {
        const std::string field = std::string(",\"") + key + "\":";
        const auto at = old_line.find(field);
        REQUIRE(at != std::string::npos);
        old_line.erase(at, old_line.find(',', at + 1) - at);
    }
    REQUIRE(old_line.find("wall_clock_days\":") == std::string::npos);
    REQUIRE(gpuhours::parse_journal_line(std::string_view(old_line).substr(0, old_line.size() - 1)));  // still a valid line
    std::ofstream(path, std::ios::binary) << gpuhours::journal_line(fresh, "f") << old_line;
    const auto rows = gpuhours::read_journal(path, "f");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].key == "a=1");
    CHECK(rows[0].wall_clock_days == 57.2);
    CHECK(rows[0].cost_usd == 5.623e6);
}

TEST_CASE("resuming evaluates only the unfinished points and writes what an uninterrupted sweep writes", "[sweep]") {
    const auto dir = test_dir("resume");
    const auto file = small_scenario(dir);
    const std::vector<std::string> specs{"pricing.gpu_hour=$1.5,$2.5", "training.tokens=10B,20B,30B"};
    const std::string vary = " --vary 'pricing.gpu_hour=$1.5,$2.5' --vary training.tokens=10B,20B,30B --samples 8";
    const auto plan = plan_of(file, specs, 8);
    REQUIRE(plan.points.size() == 6);  // 2 prices × 3 token budgets
    const std::string fingerprint = gpuhours::sweep_fingerprint(plan);

    // Uninterrupted.
    const auto whole = run_cli("sweep " + file.string() + vary + " -o " + (dir / "whole.csv").string());
    INFO(whole.out);
    REQUIRE(whole.exit_code == 0);
    REQUIRE_THAT(whole.out, Catch::Contains("6 points (6 ok, 0 errors)"));

    // Interrupted: points 0, 2 and 5 done, point 3 cut short mid-write.
    const auto out = dir / "resumed.csv";
    {
        std::ofstream journal(gpuhours::journal_path(out), std::ios::binary);
        for (std::size_t i : {0u, 2u, 5u}) journal << gpuhours::journal_line(gpuhours::evaluate_point(plan, plan.points[i]), fingerprint);
        journal << gpuhours::journal_line(gpuhours::evaluate_point(plan, plan.points[3]), fingerprint).substr(0, 100);
    }

    SECTION("the library evaluates exactly the points the journal lacks") {
        const auto finished = gpuhours::read_journal(gpuhours::journal_path(out), fingerprint);
        const auto todo = gpuhours::points_to_do(plan, finished);
        std::mutex mutex;
        std::set<std::size_t> evaluated;
        gpuhours::SweepRunOptions options;
        options.threads = 2;
        options.evaluate = [&](const gpuhours::SweepPoint& p) {
            {
                std::lock_guard lock(mutex);
                evaluated.insert(p.index);
            }
            return gpuhours::evaluate_point(plan, p);
        };
        const auto fresh = gpuhours::run_sweep_points(plan, todo, options);
        CHECK(evaluated == std::set<std::size_t>{1, 3, 4});  // 6 points less the 3 whole lines of the journal
        gpuhours::SweepResult result;
        result.axis_keys = {"pricing.gpu_hour", "training.tokens"};
        result.rows = gpuhours::merge_rows(plan, finished, fresh);
        CHECK(gpuhours::report::sweep_csv(result) == read_text(dir / "whole.csv"));
    }
    SECTION("the command resumes, reuses the journal's rows, and removes the journal") {
        const auto r = run_cli("sweep " + file.string() + vary + " --resume -o " + out.string());
        INFO(r.out);
        REQUIRE(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("3 evaluated, 3 resumed from the journal"));
        CHECK(read_text(out) == read_text(dir / "whole.csv"));
        CHECK_FALSE(fs::exists(gpuhours::journal_path(out)));
    }
    SECTION("a journaled row is taken as it is, not evaluated again") {
        // Point 1 journaled with a step time no evaluation gives: it must reach the output unchanged.
        gpuhours::SweepRow marked = gpuhours::evaluate_point(plan, plan.points[1]);
        marked.step_time_s = 12345.5;
        {
            std::ofstream journal(gpuhours::journal_path(out), std::ios::binary | std::ios::app);
            journal << "\n" << gpuhours::journal_line(marked, fingerprint);  // ends the cut-short line first
        }
        // The cut-short line, now ended by a newline, is a damaged line in the middle: refused.
        const auto damaged = run_cli("sweep " + file.string() + vary + " --resume -o " + out.string());
        CHECK(damaged.exit_code == 2);
        CHECK_THAT(damaged.out, Catch::Contains("damaged line"));
        // Without it the journal is whole.
        std::ofstream(gpuhours::journal_path(out), std::ios::binary) << gpuhours::journal_line(marked, fingerprint);
        const auto r = run_cli("sweep " + file.string() + vary + " --resume -o " + out.string());
        INFO(r.out);
        REQUIRE(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("5 evaluated, 1 resumed"));
        CHECK_THAT(read_text(out), Catch::Contains(",12345.5,"));
    }
}

TEST_CASE("a journal left by a sweep of another scenario is refused, and an existing journal needs --resume", "[sweep]") {
    const auto dir = test_dir("stale");
    const auto file = small_scenario(dir);
    const auto plan = plan_of(file, {"pricing.gpu_hour=$1.5,$2.5"}, 4);
    const auto out = dir / "out.csv";
    std::ofstream(gpuhours::journal_path(out), std::ios::binary)
        << gpuhours::journal_line(gpuhours::evaluate_point(plan, plan.points[0]), gpuhours::sweep_fingerprint(plan));
    const std::string command = "sweep " + file.string() + " --vary 'pricing.gpu_hour=$1.5,$2.5' --samples 4 -o " + out.string();

    const auto without = run_cli(command);
    INFO(without.out);
    CHECK(without.exit_code == 2);
    CHECK_THAT(without.out, Catch::Contains("--resume"));

    // Other options (another seed) make the journal's rows stale.
    const auto reseeded = run_cli(command + " --seed 2 --resume");
    CHECK(reseeded.exit_code == 2);
    CHECK_THAT(reseeded.out, Catch::Contains("another scenario file or other options"));

    // So does an edited scenario.
    std::ofstream(file, std::ios::app) << "# edited\n";
    const auto edited = run_cli(command + " --resume");
    CHECK(edited.exit_code == 2);
    CHECK_THAT(edited.out, Catch::Contains("another scenario file or other options"));
    CHECK_FALSE(fs::exists(out));
    CHECK(fs::exists(gpuhours::journal_path(out)));  // refused, not deleted
}

TEST_CASE("a price sweep simulates its step once: points that differ only in price reuse it", "[sweep][cache]") {
    // The small run has one phase at one batch and no uncertain step input, so each point has exactly one step;
    // a price cannot change a step, so 3 points need 1 simulation and reuse it twice.
    const auto dir = test_dir("price-cache");
    auto plan = plan_of(small_scenario(dir), {"pricing.gpu_hour=$1.5,$2.5,$3.5"}, 4);
    plan.evaluate.step_cache = std::make_shared<gpuhours::StepCache>();
    gpuhours::SweepRunOptions options;
    options.threads = 2;
    const auto rows = gpuhours::run_sweep_points(plan, plan.points, options);
    REQUIRE(rows.size() == 3);
    for (const auto& r : rows) {
        INFO(r.error);
        CHECK(r.ok);
        CHECK(r.step_time_s == rows.front().step_time_s);
    }
    CHECK(plan.evaluate.step_cache->counts().simulated == 1);
    CHECK(plan.evaluate.step_cache->counts().reused == 2);
}

TEST_CASE("an axis whose key the scenario lacks is refused once, before any point runs", "[sweep]") {
    // `--vary parallelism.dat=…` (for data) fails every point alike: a million-point range of it ran each point to an
    // error row (and listing its values took a minute: the duplicate check searched the values before each). Now one
    // message at the flag, exit 2, no output file; a key the scenario has still gives each point its own row.
    const auto dir = test_dir("unknown-axis");
    const auto file = small_scenario(dir).string();
    const auto r = run_cli("sweep " + file + " --vary parallelism.dat=1:1000000:1 -o " + (dir / "u.csv").string());
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("error: --vary parallelism.dat=1:1000000:1: unknown key `dat` in [parallelism]") &&
                          Catch::Contains("did you mean `data`?; every point of the axis would fail alike"));
    // Only this mistake's hint: the search read the axis's first value as `--set parallelism.dat=1` and its follow-on
    // layout error ("data = 1 × …") is not the user's (an audit of sweep, session 52).
    CHECK_THAT(r.out, !Catch::Contains("--set parallelism.dat"));
    CHECK_FALSE(std::filesystem::exists(dir / "u.csv"));
    // An index past the scenario's list cannot be set at any value: refused once too (each point was an error row).
    const auto index = run_cli("sweep " + file + " --vary phases.7.steps=1,2");
    CHECK(index.exit_code == 2);
    CHECK_THAT(index.out, Catch::Contains("error: --vary phases.7.steps=1,2: cannot set `phases.7.steps`") &&
                              Catch::Contains("every point of the axis would fail alike"));
    // A key misspelt inside one value (an inline chip on `frm`) is that point's mistake: the other point runs.
    const auto inner = run_cli("sweep " + file + " --vary 'cluster.chip={frm=\"h100\"},h100' --samples 2");
    CHECK_THAT(inner.out, Catch::Contains("1 of 2 points is not a valid scenario"));
}

#ifndef GPUHOURS_TEST_MPI_BUILD  // an MPI build takes the launcher's copies as its ranks
TEST_CASE("a sweep of a build without MPI refuses to run as several copies under an MPI launcher", "[sweep]") {
    // `mpirun -np 2` of the default build started two whole sweeps racing on one journal: one wrote the file, the
    // other failed with "… holds the finished points … pass --resume" (an audit of sweep, session 52). The launcher
    // is known by OpenMPI's OMPI_COMM_WORLD_SIZE (or PMI_SIZE): above 1 the sweep is refused before any point runs,
    // exit 2, no file; 1 (a launcher of one copy) runs as usual.
    const gpuhours::test::TempDir dir("sweep-no-mpi");
    const std::string sweep = std::string(" ") + GPUHOURS_TEST_CLI + " sweep " + std::string(GPUHOURS_TEST_SOURCE_DIR) +
                              "/scenarios/validation/megatron-1.7b.toml --vary parallelism.micro_batch=1,2 --samples 2 -o " +
                              (dir.path / "out.csv").string() + " >/dev/null 2>&1";
    const int refused = std::system(("GPUHOURS_PROGRESS=off OMPI_COMM_WORLD_SIZE=2" + sweep).c_str());
    CHECK((WIFEXITED(refused) && WEXITSTATUS(refused) == 2));
    CHECK_FALSE(std::filesystem::exists(dir.path / "out.csv"));
    CHECK_FALSE(std::filesystem::exists(dir.path / "out.csv.partial"));
    const int one = std::system(("GPUHOURS_PROGRESS=off OMPI_COMM_WORLD_SIZE=1" + sweep).c_str());
    CHECK((WIFEXITED(one) && WEXITSTATUS(one) == 0));
    CHECK(std::filesystem::exists(dir.path / "out.csv"));
}
#endif

TEST_CASE("the sweep table's MFU is run's headline: full-attention FLOPs over the BF16 peak", "[sweep]") {
    // The flagship runs in FP8: its causal FLOPs over the FP8 peak (the CSV's mfu_causal) are less than half of run's
    // headline (full-attention FLOPs over the BF16 peak), and the table showed the former (19.6 % beside run's 44.0 %;
    // an audit of sweep, session 52). The table's cell is run's JSON `mfu` to one decimal.
    const std::string flagship = std::string(GPUHOURS_TEST_SOURCE_DIR) + "/scenarios/deepseek-v3.toml";
    const auto table = run_cli("sweep " + flagship + " --vary 'pricing.gpu_hour=$2' --samples 2");
    REQUIRE(table.exit_code == 0);
    const auto run = gpuhours::test::JsonReader(run_cli("run " + flagship + " --samples 2 --json").out).document();
    const double mfu = run["step"]["mfu"].number();
    CHECK(mfu > 0.4);  // the BF16 basis: well above the FP8-peak figure
    CHECK_THAT(table.out, Catch::Contains(fmt::format("  {:.1f}%  ", 100 * mfu)));
    CHECK_THAT(table.out, Catch::Contains("* MFU: full-attention model FLOPs over the BF16 peak, as run's and plan's headline"));
}

TEST_CASE("a sweep's JSON error row has every field of an ok row, null", "[sweep]") {
    // Megatron 1.7B at 32 GPUs is a layout; at 33 it is not (no data degree makes 33): one ok row, one error row. The
    // error row had only point, values, status and error, where docs/sweep.md promises `samples` in every row and
    // docs/schemas.md a null for a figure that does not exist (an audit of sweep, session 52).
    const auto dir = test_dir("error-row-fields");
    const auto r = run_cli("sweep " + std::string(GPUHOURS_TEST_SOURCE_DIR) + "/scenarios/validation/megatron-1.7b.toml "
                           "--vary cluster.gpus=32,33 --samples 2 -o " + (dir / "e.json").string());
    INFO(r.out);
    const auto doc = gpuhours::test::parse_json(read_text(dir / "e.json"));
    const auto& rows = doc["rows"].array();
    REQUIRE(rows.size() == 2);
    REQUIRE(rows[0]["status"].string() == "ok");
    REQUIRE(rows[1]["status"].string() == "error");
    std::vector<std::string> ok_keys, error_keys;
    for (const auto& [k, v] : rows[0].object()) ok_keys.push_back(k);
    for (const auto& [k, v] : rows[1].object()) error_keys.push_back(k);
    CHECK(ok_keys == error_keys);
    CHECK(std::holds_alternative<std::nullptr_t>(rows[1]["samples"].v));
    CHECK(std::holds_alternative<std::nullptr_t>(rows[1]["step_time_s"].v));
    CHECK(std::holds_alternative<std::nullptr_t>(rows[0]["error"].v));
}
