// Coupled sweeps: `--derive parallelism.data` re-plans each point's data-parallel degree from its cluster.gpus
// (scale_plan), `--zip` varies several keys together, and the mistakes either makes possible are errors that say
// which GPU counts or which flag would work.
#include "../support/cli.hpp"
#include "../support/json.hpp"
#include "../support/scenarios.hpp"
#include "../support/temp_dir.hpp"

#include <gpuhours/analysis/sweep.hpp>
#include <gpuhours/units/error.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using gpuhours::test::run_cli;
namespace fs = std::filesystem;

namespace {

// The small run (tests/support/scenarios.hpp): Llama 3.1 8B on 16 H100 in nodes of 8, TP2 PP2 DP4 (4 GPUs per
// data-parallel replica), global batch 64 sequences of 8,192 tokens, 1F1B, micro-batch 1.
gpuhours::SweepPlan derived_plan(const fs::path& file, const std::string& gpus, std::optional<double> max_batch_tokens = {}) {
    gpuhours::SweepPlan plan;
    plan.scenario = file;
    plan.derive_data = true;
    plan.max_batch_tokens = max_batch_tokens;
    plan.axes.push_back(gpuhours::parse_sweep_axis("cluster.gpus=" + gpus));
    plan.points = gpuhours::sweep_points(plan.axes, std::nullopt, 1);
    return plan;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string error_of(const gpuhours::SweepPlan& plan, std::size_t point) {
    std::string derived;
    try {
        (void)gpuhours::point_overrides(plan, plan.points.at(point), derived);
    } catch (const gpuhours::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a derived point's data degree is its GPU count over the GPUs of one replica", "[sweep][derive]") {
    const gpuhours::test::TempDir scratch("derive-degrees-" + std::to_string(::getpid()));
    const auto file = gpuhours::test::write_small_run(scratch.path);
    const auto plan = derived_plan(file, "8,32,64");
    // One replica is TP2 × PP2 = 4 GPUs: 8 GPUs → data 2, 32 → 8, 64 → 16. The batch of 64 splits into 32, 8 and
    // 4 micro-batches per replica, all at least the 2 stages 1F1B needs, so no batch grows and none is written.
    const int expected[] = {2, 8, 16};
    for (std::size_t i = 0; i < 3; ++i) {
        std::string derived;
        const auto o = gpuhours::point_overrides(plan, plan.points[i], derived);
        INFO(derived);
        CHECK(has(o, fmt::format("cluster.gpus={}", expected[i] * 4)));
        CHECK(has(o, fmt::format("parallelism.data={}", expected[i])));
        CHECK_FALSE(std::any_of(o.begin(), o.end(), [](const std::string& x) { return x.starts_with("training.global_batch"); }));
        CHECK(derived == fmt::format("cluster.gpus={};parallelism.data={}", expected[i] * 4, expected[i]));
    }
}

TEST_CASE("a GPU count no data degree reaches names the counts nearest it that work", "[sweep][derive]") {
    const gpuhours::test::TempDir scratch("derive-unreachable-" + std::to_string(::getpid()));
    const auto file = gpuhours::test::write_small_run(scratch.path);
    const auto plan = derived_plan(file, "10,12,24");
    // 10 is not a multiple of the 4 GPUs of a replica, and 12 (data 3) is not whole nodes of 8. Nearest below: 8
    // (data 2, 32 micro-batches); above: 12 is not whole nodes, 16 (data 4) is the scenario's own.
    CHECK_THAT(error_of(plan, 0), Catch::Contains("cluster.gpus=10: no data-parallel degree gives 10 GPUs") &&
                                      Catch::Contains("GPU counts that work near it: 8 or 16"));
    CHECK_THAT(error_of(plan, 1), Catch::Contains("cluster.gpus=12") && Catch::Contains("8 or 16"));
    // 24 GPUs: data 6 does not divide the batch of 64; the smallest batch it divides is 66 (11 per replica),
    // 66 × 8,192 = 540,672 tokens against the scenario's 64 × 8,192 = 524,288: beyond the bound by default, and the
    // flag value that admits it is 540,672 rounded up to four digits, 540.7K.
    CHECK_THAT(error_of(plan, 2), Catch::Contains("cluster.gpus=24") && Catch::Contains("global batch of 66") &&
                                      Catch::Contains("--max-batch-tokens 540.7K"));
    // With a bound of 600K tokens the batch grows to 66.
    const auto grown = derived_plan(file, "24", 600e3);
    std::string derived;
    const auto o = gpuhours::point_overrides(grown, grown.points[0], derived);
    CHECK(has(o, "parallelism.data=6"));
    CHECK(has(o, "training.global_batch=66"));
}

TEST_CASE("a derived sweep's row is the run of the scenario written for that GPU count", "[sweep][derive]") {
    const gpuhours::test::TempDir scratch("derive-end-to-end-" + std::to_string(::getpid()));
    const auto& dir = scratch.path;
    const auto file = gpuhours::test::write_small_run(dir).string();
    const auto r = run_cli("sweep " + file + " --vary cluster.gpus=8,16,32 --derive parallelism.data --samples 2 -o " +
                           (dir / "out.json").string());
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::JsonReader(gpuhours::test::read_text(dir / "out.json")).document();
    const auto& rows = doc["rows"].array();
    REQUIRE(rows.size() == 3);
    // Data degrees 8 / 4 = 2, 16 / 4 = 4, 32 / 4 = 8.
    CHECK(rows[0]["layout"].string() == "TP2 CP1 PP2 DP2 EP1");
    CHECK(rows[1]["layout"].string() == "TP2 CP1 PP2 DP4 EP1");
    CHECK(rows[2]["layout"].string() == "TP2 CP1 PP2 DP8 EP1");
    CHECK(rows[2]["gpus"].number() == 32);
    CHECK(rows[2]["derived"].string() == "cluster.gpus=32;parallelism.data=8");
    CHECK(doc["derive"].array().at(0).string() == "parallelism.data");
    // The same run written by hand (--set both keys), with the same seed and samples, gives the same figures.
    const auto run = run_cli("run " + file + " --set cluster.gpus=32 --set parallelism.data=8 --samples 2 --json");
    REQUIRE(run.exit_code == 0);
    const auto by_hand = gpuhours::test::JsonReader(run.out).document();
    CHECK(rows[2]["wall_clock_days_p50"].number() == by_hand["run"]["wall_clock_days_p50"].number());
    CHECK(rows[2]["cost_usd_p50"].number() == by_hand["run"]["cost_usd_p50"].number());
    // Four times the GPUs of the 8-GPU point finish sooner; the step at data 8 does a quarter of the per-replica
    // work of data 2, so the wall clock falls by more than half (communication keeps it above a quarter).
    CHECK(rows[2]["wall_clock_days_p50"].number() < 0.5 * rows[0]["wall_clock_days_p50"].number());
    CHECK(rows[2]["wall_clock_days_p50"].number() > 0.25 * rows[0]["wall_clock_days_p50"].number());
}

TEST_CASE("a derived sweep's mistakes exit 2 before any point runs, naming the flag", "[sweep][derive]") {
    const gpuhours::test::TempDir scratch("derive-mistakes-" + std::to_string(::getpid()));
    const auto& dir = scratch.path;
    const auto file = gpuhours::test::write_small_run(dir).string();
    struct Case {
        std::string args, says;
    };
    const Case cases[] = {
        {"--vary cluster.gpus=8,16 --derive parallelism.tensor", "--derive parallelism.tensor is not a key"},
        {"--vary pricing.gpu_hour=1,2 --derive parallelism.data", "add --vary cluster.gpus="},
        {"--vary cluster.gpus=8,16 --vary parallelism.data=2,4 --derive parallelism.data", "--vary parallelism.data=2,4 sets a data degree"},
        {"--vary cluster.gpus=8,16 --set parallelism.data=2 --derive parallelism.data", "--set parallelism.data=2 sets a data degree"},
        {"--vary cluster.gpus=8,16 --max-batch-tokens 1M", "add --derive parallelism.data"},
        {"--vary cluster.gpus=8,16 --vary parallelism.data=2 --zip", "--vary cluster.gpus=8,16 has 2 values and --vary parallelism.data=2 has 1"},
    };
    for (const auto& c : cases) {
        const auto r = run_cli("sweep " + file + " " + c.args + " -o " + (dir / "out.csv").string());
        INFO(c.args << "\n" << r.out);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.out, Catch::Contains(c.says));
        CHECK_FALSE(fs::exists(dir / "out.csv"));
    }
    // A count no degree reaches is a point's error row (the others run), exit 2.
    const auto r = run_cli("sweep " + file + " --vary cluster.gpus=10,16 --derive parallelism.data --samples 1 -o " +
                           (dir / "rows.csv").string());
    INFO(r.out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(gpuhours::test::read_text(dir / "rows.csv"), Catch::Contains("GPU counts that work near it: 8 or 16"));
}

TEST_CASE("zipped axes vary together: point i takes the i-th value of every axis", "[sweep][zip]") {
    const std::vector<gpuhours::SweepAxis> axes{gpuhours::parse_sweep_axis("cluster.gpus=16,32,64"),
                                                gpuhours::parse_sweep_axis("parallelism.data=4,8,16")};
    const auto points = gpuhours::sweep_points(axes, std::nullopt, 1, gpuhours::SweepCombine::zip);
    // Three points, not the grid's 3 × 3 = 9.
    REQUIRE(points.size() == 3);
    CHECK(points[1].key() == "cluster.gpus=32;parallelism.data=8");
    CHECK(points[2].key() == "cluster.gpus=64;parallelism.data=16");
    CHECK_THROWS_AS(gpuhours::sweep_points(axes, 5, 1, gpuhours::SweepCombine::zip), gpuhours::Error);
    const std::vector<gpuhours::SweepAxis> uneven{axes[0], gpuhours::parse_sweep_axis("parallelism.data=4,8")};
    CHECK_THROWS_AS(gpuhours::sweep_points(uneven, std::nullopt, 1, gpuhours::SweepCombine::zip), gpuhours::Error);
}

TEST_CASE("gpuhours sweep --zip runs point i with the i-th value of every axis, as run with both --set", "[sweep][zip]") {
    const gpuhours::test::TempDir scratch("zip-end-to-end-" + std::to_string(::getpid()));
    const auto& dir = scratch.path;
    const auto file = gpuhours::test::write_small_run(dir).string();
    // The small run (TP2 PP2, 4 GPUs per replica): 8 GPUs with data 2 and 32 with data 8 are two points, not the
    // grid's four (whose crossed pairs, 8 GPUs with data 8 and 32 with data 2, are not layouts at all).
    const auto r = run_cli("sweep " + file + " --vary cluster.gpus=8,32 --vary parallelism.data=2,8 --zip --samples 2 -o " +
                           (dir / "zip.json").string());
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const auto doc = gpuhours::test::JsonReader(gpuhours::test::read_text(dir / "zip.json")).document();
    const auto& rows = doc["rows"].array();
    REQUIRE(rows.size() == 2);
    CHECK(rows[0]["layout"].string() == "TP2 CP1 PP2 DP2 EP1");
    CHECK(rows[1]["layout"].string() == "TP2 CP1 PP2 DP8 EP1");
    const auto run = run_cli("run " + file + " --set cluster.gpus=32 --set parallelism.data=8 --samples 2 --json");
    REQUIRE(run.exit_code == 0);
    const auto by_hand = gpuhours::test::JsonReader(run.out).document();
    CHECK(rows[1]["wall_clock_days_p50"].number() == by_hand["run"]["wall_clock_days_p50"].number());
    // Zipped axes take repeats: 8, 32, 8 GPUs with data 2, 8, 2 are three points, the third the first's values again.
    // The rows were merged by their points' keys and the repeat was dropped (3 points evaluated, 2 rows written; an
    // audit of sweep, session 52); the repeat's key carries its index, as a --random draw's does.
    const auto points = gpuhours::sweep_points({gpuhours::parse_sweep_axis("cluster.gpus=8,32,8"), gpuhours::parse_sweep_axis("parallelism.data=2,8,2")},
                                               std::nullopt, 1, gpuhours::SweepCombine::zip);
    REQUIRE(points.size() == 3);
    CHECK(points[0].key() == "cluster.gpus=8;parallelism.data=2");
    CHECK(points[2].key() == "draw=2;cluster.gpus=8;parallelism.data=2");
    const auto repeat = run_cli("sweep " + file + " --vary cluster.gpus=8,32,8 --vary parallelism.data=2,8,2 --zip --samples 2 -o " +
                                (dir / "repeat.json").string());
    INFO(repeat.out);
    REQUIRE(repeat.exit_code == 0);
    const auto again = gpuhours::test::JsonReader(gpuhours::test::read_text(dir / "repeat.json")).document();
    REQUIRE(again["rows"].array().size() == 3);
    CHECK(again["rows"].array()[2]["layout"].string() == "TP2 CP1 PP2 DP2 EP1");
    CHECK(again["rows"].array()[2]["wall_clock_days_p50"].number() == again["rows"].array()[0]["wall_clock_days_p50"].number());
}

TEST_CASE("a sweep that varies the chip as a key says what it does not re-derive", "[sweep]") {
    const gpuhours::test::TempDir scratch("sweep-chip-" + std::to_string(::getpid()));
    const auto file = gpuhours::test::write_small_run(scratch.path).string();
    const auto chips = run_cli("sweep " + file + " --vary cluster.chip=h100,h800 --samples 1");
    INFO(chips.out);
    REQUIRE(chips.exit_code == 0);
    CHECK_THAT(chips.out, Catch::Contains("the chip is varied as a key") && Catch::Contains("`gpuhours whatif` re-derives them"));
    const auto gpus = run_cli("sweep " + file + " --vary cluster.gpus=8,16 --derive parallelism.data --samples 1");
    REQUIRE(gpus.exit_code == 0);
    CHECK_THAT(gpus.out, !Catch::Contains("the chip is varied"));
}
