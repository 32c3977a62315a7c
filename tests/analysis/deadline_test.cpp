// The deadline search (include/gpuhours/analysis/deadline.hpp): plans at other GPU counts derived by hand from the
// flagship's file, and the search driven by a probe with a known wall clock, so the answer is a closed form.
#include "../support/cli.hpp"

#include <gpuhours/analysis/deadline.hpp>
#include <gpuhours/analysis/evaluation.hpp>
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
    // The summary says the ramp's start moved (3,072 → 4,480), not only the override list.
    CHECK_THAT(grown->summary, Catch::Contains("batch ramp of phase \"pre-training\" from 4,480 (was 3,072"));

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
    // Its ramp: 3,072 × 15,360 / 15,360 = 3,072 = 16 × 192, whole micro-batches: unmoved, unsaid.
    CHECK_THAT(even->summary, !Catch::Contains("batch ramp"));
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

TEST_CASE("a plan past one node of a one-node scenario runs on a fat-tree, and says so", "[deadline]") {
    // megatron-1.7b (TP1 PP1, micro-batch 4, batch 512) on 8 GPUs: one node, so its fabric is "single-node" by
    // default. At data 32 (4 nodes: 512 / 32 = 16 sequences, 4 micro-batches per replica) the plan must name a
    // fabric that connects nodes — the default one, a two-tier fat-tree of the scenario's 64-port switches
    // (it holds 64 × 32 = 2,048 GPUs) — not "the scenario's fabric (one node)".
    LoadOptions eight;
    eight.overrides = {"cluster.gpus=8"};
    const Scenario s = load_scenario(kSource / "scenarios" / "validation" / "megatron-1.7b.toml", eight);
    REQUIRE(s.cluster.fabric == Fabric::single_node);
    const auto plan = scale_plan(s, 32, std::nullopt);
    REQUIRE(plan);
    CHECK(has(plan->overrides, "cluster.fabric=\"fat-tree\""));
    CHECK_THAT(plan->summary, Catch::Contains("a 2-tier fat-tree of 64-port switches (the default fabric of more than one node)"));
    LoadOptions at = eight;
    at.overrides.insert(at.overrides.end(), plan->overrides.begin(), plan->overrides.end());
    CHECK(load_scenario(kSource / "scenarios" / "validation" / "megatron-1.7b.toml", at).cluster.fabric == Fabric::fat_tree);
}

TEST_CASE("the deadline search finds the fewest GPUs for a known wall clock, in few runs", "[deadline]") {
    const Scenario s = flagship();
    // A probe whose wall clock is exactly inverse in the data degree: days(d) = 300 × 128 / d. For a deadline of
    // 61 days the degree needed is 128 × 300 / 61 = 629.5; the flagship's plans are at multiples of 64 (experts
    // divide the degree of every phase: d and d / 8 × 8), so the answer is data 640, 10,240 GPUs, 60.0 days.
    // The other recipes (1F1B, alone or with the batch grown to the bound) do not fit in this probe.
    int runs = 0;
    const DeadlineProbe probe = [&](const std::vector<std::string>& overrides, std::string& error) -> std::optional<double> {
        ++runs;
        if (has(overrides, "parallelism.schedule=\"1f1b\"")) {
            error = "1F1B does not fit";
            return std::nullopt;
        }
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
    // handful of runs, not thousands. The other recipes are searched below data 640 only, from the plan nearest
    // the estimate (576): the batch grown to the bound does not help this probe (576: 66.7 days, the last plan
    // below 640), and 1F1B cannot run above the scenario's degree (a ceiling), so one run each.
    CHECK(grown.probes == runs);
    CHECK(runs <= 12 + 3);

    // Without a batch bound, data 640 would need 83.9M tokens per batch: the note says so and gives the flag.
    const DeadlineAnswer bounded = search_deadline(s, 300.0, 61.0, 1 << 17, std::nullopt, probe);
    CHECK_FALSE(bounded.plan);
    CHECK_THAT(bounded.note, Catch::Contains("--max-batch-tokens 83.89M") && Catch::Contains("10,240 GPUs") &&
                                 Catch::Contains("nor with schedule \"1f1b\""));

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

TEST_CASE("a deadline below the run's compute lower bound at --max-gpus is answered without a run", "[deadline]") {
    const Scenario s = flagship();
    // The flagship trains 14.8T tokens of 37B activated parameters in FP8 (blockwise recipe) on H800s: about
    // 6 × 37e9 × 14.8e12 = 3.29e24 GEMM FLOPs, at 1,978.9 TFLOP/s × 0.53 (h800.toml's gemm_fp8_blockwise) on each
    // of 131,072 GPUs: 3.29e24 / (131,072 × 1.049e15) = 23,900 s = 0.28 days; attention (BF16 peak × its efficiency)
    // adds some. A 1-hour deadline (0.042 days) is out of reach at every GPU count the search may try, so no run
    // is simulated (each would take seconds at 131,072 GPUs; `whatif --deadline "1 min"` took 20 s before).
    int runs = 0;
    const DeadlineProbe probe = [&](const std::vector<std::string>&, std::string&) -> std::optional<double> {
        ++runs;
        return 1.0;
    };
    const DeadlineAnswer hour = search_deadline(s, 51.5, 1.0 / 24, 1 << 17, std::nullopt, probe);
    CHECK_FALSE(hour.plan);
    CHECK(runs == 0);
    CHECK_THAT(hour.note, Catch::StartsWith("not reached: on 131,072 GPUs (--max-gpus) the run's FLOPs alone take 0."));
    const double days = shortest_compute_seconds(s, 1 << 17) / 86400.0;
    CHECK(days > 0.28);
    CHECK(days < 0.28 * 1.5);
    // On 1,024 GPUs (--max-gpus 1024) the same bound is 128 times longer: 36 to 54 days, so a 30-day deadline is out
    // of reach there too, and a 2-day deadline on 131,072 GPUs is not refused by the bound (the search runs).
    const DeadlineAnswer small = search_deadline(s, 51.5, 30.0, 1024, std::nullopt, probe);
    CHECK(runs == 0);
    CHECK_THAT(small.note, Catch::Contains("on 1,024 GPUs"));
    (void)search_deadline(s, 51.5, 2.0, 1 << 17, std::nullopt, probe);
    CHECK(runs > 0);
}

TEST_CASE("the deadline search tries 1F1B where DualPipe would need a larger batch, and a batch grown to the bound", "[deadline]") {
    const Scenario s = flagship();
    // The flagship's layout (PP16, DualPipe: an even count of micro-batches per replica, at least 32) with a probe
    // whose wall clock is a closed form in the data degree d and the pre-training batch B (m = B / d micro-batches
    // per replica; B = 15,360 unless the plan writes phases.0.global_batch).
    const auto degree = [](const std::vector<std::string>& overrides, const std::string& key, double otherwise) {
        for (const auto& o : overrides) {
            if (o.starts_with(key + "=")) return std::stod(o.substr(key.size() + 1));
        }
        return otherwise;
    };
    // (1) 1F1B: days = 12,800 / d + 12.5 (a bubble share of 15 × d / 15,360); DualPipe: 12,800 / d + 5. Deadline
    // 25 days, no batch bound. DualPipe keeps the batch only up to d = 480 (15,360 / 480 = 32); the largest plan
    // there, 448 (a multiple of 64), takes 33.6 days: not reached. 1F1B takes any count: 12,800 / d + 12.5 ≤ 25
    // from d = 1,024 (exactly 25.0): 16,384 GPUs, batch 15,360 (15 micro-batches per replica).
    const DeadlineProbe bubble = [&](const std::vector<std::string>& o, std::string&) -> std::optional<double> {
        const double d = degree(o, "phases.0.parallelism.data", 128);
        return 12800.0 / d + (has(o, "parallelism.schedule=\"1f1b\"") ? 12.5 : 5.0);
    };
    const DeadlineAnswer one = search_deadline(s, 105.0, 25.0, 1 << 17, std::nullopt, bubble);
    REQUIRE(one.plan);
    CHECK(one.plan->data == 1024);
    CHECK(one.plan->gpus == 16384);
    CHECK(*one.days == Approx(25.0));
    CHECK(has(one.plan->overrides, "phases.0.parallelism.schedule=\"1f1b\""));
    CHECK(std::none_of(one.plan->overrides.begin(), one.plan->overrides.end(), [](const std::string& x) { return x.find("global_batch") != std::string::npos; }));
    CHECK_THAT(one.note, Catch::Contains("schedule \"1f1b\" instead of \"dualpipe\", which needs ≥ 32 micro-batches per replica"));
    // DualPipe with a larger batch would need fewer GPUs: 12,800 / d + 5 ≤ 25 from d = 640 (10,240 GPUs, 25.0 days),
    // with 32 × 640 = 20,480 sequences of 4,096 tokens (83.89M); the note gives that option and its flag.
    CHECK_THAT(one.note, Catch::Contains("with --max-batch-tokens 83.89M and the scenario's schedule, at most 10,240 GPUs (25.0 days there;"));

    // (2) DualPipe whose bubble shrinks with m: days = (12,800 / d) × (1 + 16 / m); 1F1B does not fit. Bound
    // 84,000,000 tokens (20,507 sequences of 4,096), deadline 40 days.
    //   Batch grown only as the schedule needs: d = 512: 15,360 / 512 = 30 < 32 → m = 32, B = 16,384 (67.1M tokens,
    //   within the bound): 25 × 1.5 = 37.5 days ✓; d = 448: 34.3 → m = 36, B = 16,128: 28.571 × 1.444 = 41.27 ✗.
    //   Batch grown to the bound: d = 448: ⌊20,507.8 / 448⌋ = 45 → the even 44, B = 19,712: 28.571 × (1 + 16 / 44)
    //   = 38.961 ✓; d = 384: ⌊53.4⌋ → 52: 33.333 × 1.3077 = 43.59 ✗. The answer: data 448, 7,168 GPUs.
    const DeadlineProbe shrinking = [&](const std::vector<std::string>& o, std::string& error) -> std::optional<double> {
        if (has(o, "parallelism.schedule=\"1f1b\"")) {
            error = "1F1B does not fit";
            return std::nullopt;
        }
        const double d = degree(o, "phases.0.parallelism.data", 128);
        const double m = degree(o, "phases.0.global_batch", 15360) / d;
        return 12800.0 / d * (1 + 16 / m);
    };
    const DeadlineAnswer grown = search_deadline(s, 12800.0 / 128 * (1 + 16.0 / 120), 40.0, 1 << 17, 84e6, shrinking);
    REQUIRE(grown.plan);
    CHECK(grown.plan->data == 448);
    CHECK(grown.plan->gpus == 7168);
    CHECK(*grown.days == Approx(12800.0 / 448 * (1 + 16.0 / 44)));
    CHECK(has(grown.plan->overrides, "phases.0.global_batch=19712"));
    CHECK(grown.plan->recipe.batch_to_bound);
    CHECK_THAT(grown.note, Catch::Contains("batch grown to the bound"));
}

TEST_CASE("gpuhours whatif --deadline reports the GPUs, layout and fabric, and refuses a bad batch bound", "[deadline]") {
    const std::string flagship_file = (kSource / "scenarios" / "deepseek-v3.toml").string();
    const auto bad = run_cli("whatif " + flagship_file + " --chips h800 --deadline '2 months' --max-batch-tokens lots");
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out, Catch::Contains("--max-batch-tokens"));
}
