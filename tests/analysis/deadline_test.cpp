// The deadline search (include/gpuhours/analysis/deadline.hpp): plans at other GPU counts derived by hand from the
// flagship's file, and the search driven by a probe with a known wall clock, so the answer is a closed form.
#include "../support/cli.hpp"

#include <gpuhours/analysis/deadline.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

using namespace gpuhours;
using gpuhours::test::run_cli;

namespace {

const std::filesystem::path kSource = GPUHOURS_TEST_SOURCE_DIR;

Scenario flagship() { return load_scenario(kSource / "scenarios" / "deepseek-v3.toml"); }

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("a plan at more GPUs grows the batches the schedule cannot feed, ramp and step counts with them", "[deadline]") {
    const Scenario s = flagship();
    // The flagship (scenarios/deepseek-v3.toml): PP16 EP64, data 128, micro-batch 1, DualPipe (an even number of
    // micro-batches per replica, at least 2 × 16 = 32). At data 640 (5 ×):
    //   pre-training: 15,360 / 640 = 24 micro-batches < 32 → 32 × 640 = 20,480 sequences of 4,096 tokens
    //     = 83,886,080 tokens; its ramp from 3,072 scales to 3,072 × 20,480 / 15,360 = 4,096, rounded up to whole
    //     micro-batches per replica: 7 × 640 = 4,480;
    //   context extension 32K: data 16 × 5 = 80, 1,920 / 80 = 24 → 32 × 80 = 2,560; its 1,000 steps keep its tokens:
    //     1,000 × 1,920 / 2,560 = 750 steps;
    //   context extension 128K: data 4 × 5 = 20, 480 / 20 = 24 → 640; 1,000 × 480 / 640 = 750 steps;
    //   GPUs: 640 × 16 = 10,240 (8 planes of 1,280 NICs: a radix-64 two-tier plane holds 64 × 32 = 2,048).
    const auto grown = scale_plan(s, 640, 84e6);
    REQUIRE(grown);
    CHECK(grown->gpus == 10240);
    CHECK_FALSE(grown->blocked);
    const auto& o = grown->overrides;
    CHECK(has(o, "cluster.gpus=10240"));
    CHECK(has(o, "phases.0.parallelism.data=640"));
    CHECK(has(o, "phases.0.global_batch=20480"));
    CHECK(has(o, "phases.0.batch_ramp.from=4480"));
    CHECK(has(o, "phases.1.parallelism.data=80"));
    CHECK(has(o, "phases.1.global_batch=2560"));
    CHECK(has(o, "phases.1.steps=750"));
    CHECK(has(o, "phases.2.global_batch=640"));
    CHECK(has(o, "phases.2.steps=750"));
    CHECK(has(o, "training.global_batch=20480"));
    CHECK(std::none_of(o.begin(), o.end(), [](const std::string& x) { return x.starts_with("cluster.switch_radix"); }));

    // Without a bound the batch may not grow: the plan says which phase needs how many tokens.
    const auto bounded = scale_plan(s, 640, std::nullopt);
    REQUIRE(bounded);
    REQUIRE(bounded->blocked);
    CHECK_THAT(*bounded->blocked, Catch::Contains("pre-training") && Catch::Contains("20,480"));
    CHECK(bounded->needed_batch_tokens == Approx(20480.0 * 4096));

    // At data 192 the batches still split evenly (15,360 / 192 = 80, 1,920 / 24 = 80, 480 / 6 = 80): nothing
    // grows, only degrees change. At data 100 the experts (64) do not divide the degree: no plan.
    const auto even = scale_plan(s, 192, std::nullopt);
    REQUIRE(even);
    CHECK_FALSE(even->blocked);
    CHECK(std::none_of(even->overrides.begin(), even->overrides.end(), [](const std::string& x) { return x.find("global_batch") != std::string::npos; }));
    CHECK_FALSE(scale_plan(s, 100, std::nullopt));

    // The plan runs: the scenario with its overrides loads, with the batch and step count derived above.
    LoadOptions at;
    at.overrides = grown->overrides;
    const Scenario big = load_scenario(kSource / "scenarios" / "deepseek-v3.toml", at);
    CHECK(big.phases.at(0).training.global_batch == 20480);
    CHECK(big.phases.at(1).tokens == Approx(s.phases.at(1).tokens));
}

TEST_CASE("a plan past a two-tier fabric's reach gets three tiers or larger switches", "[deadline]") {
    // Megatron 145.6B (TP8 PP8, data 24 on a fat-tree of 64-port switches; a two-tier one holds 64 × 32 = 2,048
    // GPUs). Data 200 is 12,800 GPUs: three tiers (64³ / 4 = 65,536). The flagship's multi-plane fabric is two-tier
    // only: at data 8,192 (131,072 GPUs, 16,384 NICs per plane) it needs leaves ≥ 16,384 / (k / 2) ≤ k, so
    // k² ≥ 32,768: k = 256 (doubling from 64).
    const Scenario m = load_scenario(kSource / "scenarios" / "validation" / "megatron-145.6b.toml");
    const auto tree = scale_plan(m, 200, 1e12);
    REQUIRE(tree);
    CHECK(has(tree->overrides, "cluster.tiers=3"));
    CHECK_THAT(tree->summary, Catch::Contains("three-tier"));
    const auto planes = scale_plan(flagship(), 8192, 1e12);
    REQUIRE(planes);
    CHECK(has(planes->overrides, "cluster.switch_radix=256"));
}

TEST_CASE("the deadline search finds the fewest GPUs for a known wall clock, in few runs", "[deadline]") {
    const Scenario s = flagship();
    // A probe whose wall clock is exactly inverse in the data degree: days(d) = 300 × 128 / d. For a deadline of
    // 61 days the degree needed is 128 × 300 / 61 = 629.5; the flagship's plans are at multiples of 64 (experts
    // divide the degree of every phase: d and d / 8 × 8), so the answer is data 640, 10,240 GPUs, 60.0 days.
    int runs = 0;
    const DeadlineProbe probe = [&](const std::vector<std::string>& overrides, std::string&) -> std::optional<double> {
        ++runs;
        for (const auto& o : overrides) {
            if (o.starts_with("phases.0.parallelism.data=")) return 300.0 * 128 / std::stod(o.substr(o.find('=') + 1));
        }
        return 300.0;  // the scenario's own degree
    };
    const DeadlineAnswer grown = search_deadline(s, 300.0, 61.0, 1 << 17, 1e9, probe);
    REQUIRE(grown.plan);
    CHECK(grown.plan->data == 640);
    CHECK(grown.plan->gpus == 10240);
    CHECK(*grown.days == Approx(60.0));
    // 2,048 plans (multiples of 64 up to 131,072 GPUs / 16): galloping from the estimate and bisecting takes a
    // handful of runs, not thousands.
    CHECK(grown.probes == runs);
    CHECK(runs <= 12);

    // Without a batch bound, data 640 would need 83.9M tokens per batch: the note says so and gives the flag.
    const DeadlineAnswer bounded = search_deadline(s, 300.0, 61.0, 1 << 17, std::nullopt, probe);
    CHECK_FALSE(bounded.plan);
    CHECK_THAT(bounded.note, Catch::Contains("--max-batch-tokens 83.89M") && Catch::Contains("10,240 GPUs"));

    // A count that cannot run above the scenario's own degree is a ceiling, and its reason is in the note.
    const DeadlineProbe failing = [&](const std::vector<std::string>& overrides, std::string& error) -> std::optional<double> {
        for (const auto& o : overrides) {
            if (!o.starts_with("phases.0.parallelism.data=")) continue;
            const int d = std::stoi(o.substr(o.find('=') + 1));
            if (d > 256) {
                error = "a made-up limit";
                return std::nullopt;
            }
            return 300.0 * 128 / d;
        }
        return 300.0;
    };
    const DeadlineAnswer ceiling = search_deadline(s, 300.0, 61.0, 1 << 17, 1e9, failing);
    CHECK_FALSE(ceiling.plan);
    CHECK_THAT(ceiling.note, Catch::Contains("a made-up limit"));
}

TEST_CASE("gpuhours whatif --deadline reports the GPUs, layout and fabric, and refuses a bad batch bound", "[deadline]") {
    const std::string flagship_file = (kSource / "scenarios" / "deepseek-v3.toml").string();
    const auto bad = run_cli("whatif " + flagship_file + " --chips h800 --deadline '2 months' --max-batch-tokens lots");
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out, Catch::Contains("--max-batch-tokens"));
}
