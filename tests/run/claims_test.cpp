// Claim verdicts (include/gpuhours/run/claims.hpp). Every expected number is derived in a comment first.
#include <gpuhours/run/claims.hpp>
#include <gpuhours/units/error.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace gpuhours;

namespace {

// DeepSeek-V3 (arXiv 2412.19437 §1): $5.576M at $2/GPU-hour; pre-training 2,664K GPU-hours / 2,048 GPUs
// = 1,300.8 h = 54.2 days, "less than two months".
RunMetrics deepseek_nominal() {
    RunMetrics m;
    m.cost = Dollars(5.576e6);
    m.wall_clock = days(54.2);
    m.gpu_hours = 2.788e6;
    m.mfu = 0.4373;
    m.energy = Joules(2'236'416.0 * kJoulesPerKwh);
    return m;
}

// "under $6M in under two months"; "2 months" is 2 × 30.4375 = 60.875 days (units.hpp).
ClaimThresholds six_million_in_two_months() {
    ClaimThresholds t;
    t.cost_below = parse_dollars("$6M");
    t.wall_clock_below = parse_duration("2 months");
    return t;
}

// `n` samples of the nominal run, the first `over` of them costing `over_cost`.
std::vector<RunMetrics> samples_with_costs(int n, int over, Dollars over_cost, Dollars under_cost) {
    std::vector<RunMetrics> out;
    for (int i = 0; i < n; ++i) {
        RunMetrics m = deepseek_nominal();
        m.cost = i < over ? over_cost : under_cost;
        out.push_back(m);
    }
    return out;
}

}  // namespace

TEST_CASE("verdicts print in capitals", "[claims]") {
    CHECK(to_string(Verdict::holds) == "HOLDS");
    CHECK(to_string(Verdict::fails) == "FAILS");
    CHECK(to_string(Verdict::uncertain) == "UNCERTAIN");
}

TEST_CASE("DeepSeek's under 6 million dollars in under two months holds on the nominal run", "[claims]") {
    const ClaimThresholds t = six_million_in_two_months();
    REQUIRE(t.wall_clock_below->value() == Approx(days(60.875).value()));
    const ClaimVerdict v = judge_claim("under $6M in under two months", t, deepseek_nominal(), {});
    // No samples: the nominal run decides, and it meets both criteria ⇒ probability 1, HOLDS (nominally too).
    CHECK(v.verdict == Verdict::holds);
    CHECK(v.nominal_verdict == Verdict::holds);
    CHECK(v.probability == 1.0);
    CHECK(v.text == "under $6M in under two months");
    REQUIRE(v.criteria.size() == 2);
    // cost: (6 − 5.576) / 6 = 0.424 / 6 = 0.070667 (7.07%).
    CHECK(v.criteria[0].name == "cost");
    CHECK(v.criteria[0].threshold == "< $6M");
    CHECK(v.criteria[0].nominal == "$5.576M");
    CHECK(v.criteria[0].margin == Approx(0.0706667).epsilon(1e-5));
    CHECK(v.criteria[0].probability == 1.0);
    // wall clock: (60.875 − 54.2) / 60.875 = 6.675 / 60.875 = 0.109651 (10.97%); 60.875 prints as 60.9 days.
    CHECK(v.criteria[1].name == "wall clock");
    CHECK(v.criteria[1].threshold == "< 60.9 days");
    CHECK(v.criteria[1].nominal == "54.2 days");
    CHECK(v.criteria[1].margin == Approx(0.109651).epsilon(1e-5));
    // Break-even: $6M / 2.788M GPU-hours = $2.1521 per GPU-hour — above DeepSeek's own $2, so the claim holds at
    // its price; only the cost criterion has one.
    REQUIRE(v.criteria[0].break_even_per_gpu_hour.has_value());
    CHECK(*v.criteria[0].break_even_per_gpu_hour == Approx(6e6 / 2.788e6));
    CHECK(*v.criteria[0].break_even_per_gpu_hour == Approx(2.1521).epsilon(1e-4));
    CHECK_FALSE(v.criteria[1].break_even_per_gpu_hour.has_value());
}

TEST_CASE("a claim that 70 percent of samples meet is uncertain at confidence 0.9", "[claims]") {
    // 10 samples, 3 cost $6.2M (> $6M) and 7 cost $5.5M; all take 54.2 days.
    // cost probability = 7/10 = 0.7; wall clock = 10/10 = 1; overall = 7/10 = 0.7.
    // 0.7 < 0.9 (not HOLDS) and 0.7 > 1 − 0.9 = 0.1 (not FAILS) ⇒ UNCERTAIN.
    const auto samples = samples_with_costs(10, 3, Dollars(6.2e6), Dollars(5.5e6));
    const ClaimVerdict v = judge_claim("under $6M in under two months", six_million_in_two_months(),
                                       deepseek_nominal(), samples, 0.9);
    CHECK(v.probability == Approx(0.7));
    CHECK(v.verdict == Verdict::uncertain);
    // The nominal run ($5.576M, 54.2 days) meets both, whatever the samples say: HOLDS at the nominal inputs.
    CHECK(v.nominal_verdict == Verdict::holds);
    REQUIRE(v.criteria.size() == 2);
    CHECK(v.criteria[0].probability == Approx(0.7));
    CHECK(v.criteria[1].probability == 1.0);
    // The margin is the nominal run's: still (6 − 5.576) / 6 = 0.070667.
    CHECK(v.criteria[0].margin == Approx(0.0706667).epsilon(1e-5));
}

TEST_CASE("a claim that 95 percent of samples meet holds at confidence 0.9 once the samples settle it", "[claims]") {
    // 200 samples, 10 over budget ⇒ probability 190/200 = 0.95. Its Wilson 95 % interval (z = 1.96, z²/n = 0.019207):
    // centre (0.95 + 0.009604) / 1.019207 = 0.94152, half-width 1.96 √(0.95 · 0.05 / 200 + 0.019207 / 800) / 1.019207
    // = 1.96 · 0.016171 / 1.019207 = 0.03110 ⇒ [0.9104, 0.9726]: its low end ≥ 0.9 ⇒ HOLDS.
    const auto many = samples_with_costs(200, 10, Dollars(6.2e6), Dollars(5.5e6));
    const ClaimVerdict v = judge_claim("under $6M", six_million_in_two_months(), deepseek_nominal(), many, 0.9);
    CHECK(v.probability == Approx(0.95));
    REQUIRE(v.interval.has_value());
    CHECK(v.interval->low == Approx(0.9104).epsilon(1e-3));
    CHECK(v.interval->high == Approx(0.9726).epsilon(1e-3));
    CHECK(v.verdict == Verdict::holds);
    CHECK_FALSE(v.too_few_samples);
    // The same share over 20 samples (1 over): z²/n = 0.19207, centre 1.04604 / 1.19207 = 0.87750, half-width
    // 1.96 √(0.002375 + 0.0024009) / 1.19207 = 0.11363 ⇒ [0.7639, 0.9911] (the textbook Wilson interval of 19/20):
    // it reaches below 0.9, so 20 samples do not settle it ⇒ UNCERTAIN, too few samples.
    const auto few = samples_with_costs(20, 1, Dollars(6.2e6), Dollars(5.5e6));
    const ClaimVerdict w = judge_claim("under $6M", six_million_in_two_months(), deepseek_nominal(), few, 0.9);
    CHECK(w.probability == Approx(0.95));
    CHECK(w.interval->low == Approx(0.7639).epsilon(1e-3));
    CHECK(w.interval->high == Approx(0.9911).epsilon(1e-3));
    CHECK(w.verdict == Verdict::uncertain);
    CHECK(w.too_few_samples);
}

TEST_CASE("the Wilson interval of a share at its ends, and how many samples settle a verdict", "[claims]") {
    // At p̂ = 1 the low end is n / (n + z²) (the ± term equals the centre's distance from 1): 20 / 23.8415 = 0.8389,
    // 34 / 37.8415 = 0.8985, 35 / 38.8415 = 0.9011 ⇒ all of 35 samples is the fewest that HOLDS at 0.9. One sample:
    // 1 / 4.8415 = 0.2065. At p̂ = 0 the high end is z² / (n + z²): 3.8415 / 43.8415 = 0.0876 for 40 samples.
    CHECK(wilson_interval(20, 20).low == Approx(0.8389).epsilon(1e-3));
    CHECK(wilson_interval(20, 20).high == 1.0);
    CHECK(wilson_interval(34, 34).low < 0.9);
    CHECK(wilson_interval(35, 35).low >= 0.9);
    CHECK(wilson_interval(1, 1).low == Approx(0.2065).epsilon(1e-3));
    CHECK(wilson_interval(0, 40).low == 0.0);
    CHECK(wilson_interval(0, 40).high == Approx(0.0876).epsilon(1e-3));
    CHECK_THROWS_AS(wilson_interval(0, 0), Error);
    CHECK_THROWS_AS(wilson_interval(3, 2), Error);
}

TEST_CASE("a claim no sample meets fails", "[claims]") {
    // 40 samples all cost $6.5M > $6M ⇒ probability 0; the interval's high end 3.8415 / 43.8415 = 0.0876 ≤ 0.1 ⇒
    // FAILS, though the nominal run meets it.
    const auto samples = samples_with_costs(40, 40, Dollars(6.5e6), Dollars(5.5e6));
    const ClaimVerdict v = judge_claim("under $6M in under two months", six_million_in_two_months(),
                                       deepseek_nominal(), samples, 0.9);
    CHECK(v.probability == 0.0);
    CHECK(v.verdict == Verdict::fails);
    CHECK(v.criteria[0].probability == 0.0);
    CHECK(v.criteria[1].probability == 1.0);
}

TEST_CASE("one sample in ten meeting the claim: the share alone would fail it, ten samples do not settle it", "[claims]") {
    // 1/10 = 0.1: the failing share 9/10 = 0.9 alone reaches the confidence, but the Wilson interval of 1/10
    // (z²/n = 0.38415: centre 0.29207 / 1.38415 = 0.21101, half-width 1.96 √(0.009 + 0.0096) / 1.38415 = 0.19314)
    // is [0.0179, 0.4042]: its high end is above 0.1 ⇒ UNCERTAIN, too few samples.
    const auto samples = samples_with_costs(10, 9, Dollars(6.5e6), Dollars(5.5e6));
    const ClaimVerdict v = judge_claim("under $6M", six_million_in_two_months(), deepseek_nominal(), samples, 0.9);
    CHECK(v.probability == Approx(0.1));
    CHECK(v.interval->high == Approx(0.4042).epsilon(1e-3));
    CHECK(v.verdict == Verdict::uncertain);
    CHECK(v.too_few_samples);
}

TEST_CASE("overall probability counts samples where every criterion holds at once", "[claims]") {
    // 10 samples: 2 over budget (samples 0–1), 2 over time (samples 8–9, 61 days > 60.875).
    // cost 8/10 = 0.8, wall clock 8/10 = 0.8, both together 6/10 = 0.6 (not 0.8 × 0.8 = 0.64).
    auto samples = samples_with_costs(10, 2, Dollars(6.2e6), Dollars(5.5e6));
    samples[8].wall_clock = days(61.0);
    samples[9].wall_clock = days(61.0);
    const ClaimVerdict v = judge_claim("under $6M in under two months", six_million_in_two_months(),
                                       deepseek_nominal(), samples, 0.9);
    CHECK(v.criteria[0].probability == Approx(0.8));
    CHECK(v.criteria[1].probability == Approx(0.8));
    CHECK(v.probability == Approx(0.6));
    CHECK(v.verdict == Verdict::uncertain);
}

TEST_CASE("mfu_above measures its margin in the other direction", "[claims]") {
    // MFU 43.73% against "> 40%": margin (0.4373 − 0.4) / 0.4 = 0.0373 / 0.4 = 0.09325 ⇒ HOLDS.
    ClaimThresholds t;
    t.mfu_above = 0.4;
    const ClaimVerdict v = judge_claim("above 40% MFU", t, deepseek_nominal(), {});
    REQUIRE(v.criteria.size() == 1);
    CHECK(v.criteria[0].name == "MFU");
    CHECK(v.criteria[0].threshold == "> 40%");
    CHECK(v.criteria[0].nominal == "43.73%");
    CHECK(v.criteria[0].margin == Approx(0.09325));
    CHECK(v.verdict == Verdict::holds);

    // MFU 35%: margin (0.35 − 0.4) / 0.4 = −0.125 ⇒ FAILS with probability 0.
    RunMetrics low = deepseek_nominal();
    low.mfu = 0.35;
    const ClaimVerdict w = judge_claim("above 40% MFU", t, low, {});
    CHECK(w.criteria[0].margin == Approx(-0.125));
    CHECK(w.probability == 0.0);
    CHECK(w.verdict == Verdict::fails);
}

TEST_CASE("GPU-hour and energy thresholds print with their units", "[claims]") {
    // GPU-hours: (2.8M − 2.788M) / 2.8M = 0.012 / 2.8 = 0.0042857.
    // Energy: 2,236,416 kWh = 2.236 GWh against 3 GWh: (3 − 2.236416) / 3 = 0.254528.
    ClaimThresholds t;
    t.gpu_hours_below = 2.8e6;
    t.energy_below = parse_energy("3 GWh");
    const ClaimVerdict v = judge_claim("under 2.8M GPU-hours and 3 GWh", t, deepseek_nominal(), {});
    REQUIRE(v.criteria.size() == 2);
    CHECK(v.criteria[0].threshold == "< 2.8M GPU-hours");
    CHECK(v.criteria[0].nominal == "2.788M GPU-hours");
    CHECK(v.criteria[0].margin == Approx(0.0042857).epsilon(1e-4));
    CHECK(v.criteria[1].name == "energy");
    CHECK(v.criteria[1].threshold == "< 3 GWh");
    CHECK(v.criteria[1].nominal == "2.236 GWh");
    CHECK(v.criteria[1].margin == Approx(0.254528));
    CHECK(v.verdict == Verdict::holds);
}

TEST_CASE("a value equal to its threshold does not meet the claim", "[claims]") {
    // "under $6M" with exactly $6M: margin (6 − 6) / 6 = 0, not strictly below ⇒ FAILS.
    RunMetrics m = deepseek_nominal();
    m.cost = Dollars(6e6);
    ClaimThresholds t;
    t.cost_below = Dollars(6e6);
    const ClaimVerdict v = judge_claim("under $6M", t, m, {});
    CHECK(v.criteria[0].margin == 0.0);
    CHECK(v.verdict == Verdict::fails);
}

TEST_CASE("a claim with no criterion is an error", "[claims]") {
    CHECK_THROWS_AS(judge_claim("cheap and fast", ClaimThresholds{}, deepseek_nominal(), {}), Error);
    CHECK_THROWS_WITH(judge_claim("cheap and fast", ClaimThresholds{}, deepseek_nominal(), {}),
                      Catch::Contains("cost_below"));
}

TEST_CASE("impossible thresholds and confidences are errors", "[claims]") {
    ClaimThresholds percent;
    percent.mfu_above = 40.0;  // meant 0.4
    CHECK_THROWS_WITH(judge_claim("above 40% MFU", percent, deepseek_nominal(), {}), Catch::Contains("0.4"));
    ClaimThresholds negative;
    negative.cost_below = Dollars(-1.0);
    CHECK_THROWS_AS(judge_claim("under -$1", negative, deepseek_nominal(), {}), Error);
    CHECK_THROWS_AS(judge_claim("under $6M", six_million_in_two_months(), deepseek_nominal(), {}, 0.4), Error);
    CHECK_THROWS_AS(judge_claim("under $6M", six_million_in_two_months(), deepseek_nominal(), {}, 1.5), Error);
}

TEST_CASE("the nominal verdict is the nominal run's alone", "[claims]") {
    // Under $5M: the nominal $5.576M misses it ((5 − 5.576) / 5 = −11.5 %) ⇒ FAILS at the nominal inputs, while 40
    // samples at $4.9M all meet it ⇒ probability 1, HOLDS over the uncertain inputs (40 samples: the interval's low
    // end 40 / 43.8415 = 0.912 ≥ 0.9). The two are reported apart.
    ClaimThresholds t;
    t.cost_below = parse_dollars("$5M");
    const auto samples = samples_with_costs(40, 0, Dollars(6e6), Dollars(4.9e6));
    const ClaimVerdict v = judge_claim("under $5M", t, deepseek_nominal(), samples, 0.9);
    CHECK(v.verdict == Verdict::holds);
    CHECK(v.nominal_verdict == Verdict::fails);
    CHECK(v.criteria[0].margin == Approx(-0.1152));
    // Break-even: $5M / 2.788M GPU-hours = $1.7934 per GPU-hour.
    CHECK(*v.criteria[0].break_even_per_gpu_hour == Approx(1.7934).epsilon(1e-4));
}

TEST_CASE("cost_above holds above its threshold and its break-even price is the one above which it holds", "[claims]") {
    // "GPT-4 cost more than $100M": a run of 57M GPU-hours at $1 costs $57M, so the claim fails nominally; margin
    // (57 − 100) / 100 = −0.43. Break-even: $100M / 57M GPU-hours = $1.7544 per GPU-hour, above which it holds.
    RunMetrics m = deepseek_nominal();
    m.gpu_hours = 57e6;
    m.cost = Dollars(57e6);
    ClaimThresholds t;
    t.cost_above = parse_dollars("$100M");
    const ClaimVerdict v = judge_claim("more than $100M", t, m, {});
    CHECK(v.verdict == Verdict::fails);
    REQUIRE(v.criteria.size() == 1);
    CHECK(v.criteria[0].key == "cost_above");
    CHECK(v.criteria[0].threshold == "> $100M");
    CHECK(v.criteria[0].margin == Approx(-0.43));
    REQUIRE(v.criteria[0].break_even_per_gpu_hour.has_value());
    CHECK(*v.criteria[0].break_even_per_gpu_hour == Approx(1.7544).epsilon(1e-4));
    // At $2 the same run costs $114M > $100M: it holds.
    m.cost = Dollars(114e6);
    CHECK(judge_claim("more than $100M", t, m, {}).verdict == Verdict::holds);
}

TEST_CASE("a within bound holds strictly inside and has a break-even price at each end", "[claims]") {
    // $5.576M within ($5M, $6M): margins (6 − 5.576)/6 = 0.0707 and (5.576 − 5)/5 = 0.1152; the smaller, 0.0707.
    // Break-evens: $5M / 2.788M = $1.7934 and $6M / 2.788M = $2.1521 per GPU-hour.
    ClaimThresholds t;
    t.cost_within = Within<Dollars>{Dollars(5e6), Dollars(6e6)};
    const ClaimVerdict v = judge_claim("between $5M and $6M", t, deepseek_nominal(), {});
    CHECK(v.verdict == Verdict::holds);
    CHECK(v.criteria[0].margin == Approx(0.0706667).epsilon(1e-5));
    CHECK(*v.criteria[0].break_even_low_per_gpu_hour == Approx(1.7934).epsilon(1e-4));
    CHECK(*v.criteria[0].break_even_per_gpu_hour == Approx(2.1521).epsilon(1e-4));
    t.cost_within = Within<Dollars>{Dollars(6e6), Dollars(7e6)};
    CHECK(judge_claim("between $6M and $7M", t, deepseek_nominal(), {}).verdict == Verdict::fails);
}

TEST_CASE("a duration threshold prints in the user's own terms beside days", "[claims]") {
    // "2 months" = 60.875 days, printed to one decimal as 60.9 days beside the text as written.
    ClaimThresholds t = six_million_in_two_months();
    t.written.emplace_back("wall_clock_below", "2 months");
    const ClaimVerdict v = judge_claim("two months", t, deepseek_nominal(), {});
    CHECK(v.criteria[1].threshold == "< 2 months (60.9 days)");
}
