// The MFU line every output heads with (report::mfu_text): the BF16 basis first, the compute format's peak beside
// it, and a word when the BF16 figure passes 100 % because the compute format runs faster than BF16.
#include <gpuhours/report/verdicts.hpp>
#include <gpuhours/training/step.hpp>

#include <catch2/catch.hpp>

using namespace gpuhours;

TEST_CASE("the MFU line says why a figure against BF16's peak passes 100 %", "[report]") {
    StepResult r;
    r.compute_precision = Precision::bf16;
    r.mfu_bf16_full = 0.45;
    r.mfu_bf16_causal = 0.40;
    r.hfu_bf16 = 0.50;
    const std::string bf16 = report::mfu_text(r);
    CHECK_THAT(bf16, Catch::StartsWith("MFU 45.0% (BF16 peak, full-attention FLOPs"));
    CHECK_THAT(bf16, !Catch::Contains("against the") && !Catch::Contains("over 100 %"));

    // An FP8 step on a chip whose FP8 peak is 2 × BF16's, executing 1.2 × BF16's peak in FLOPs: 60 % of the FP8 peak.
    r.compute_precision = Precision::fp8;
    r.mfu_bf16_full = 1.1;
    r.mfu_bf16_causal = 1.0;
    r.hfu_bf16 = 1.2;
    r.mfu_full = 0.55;
    r.mfu_causal = 0.5;
    r.hfu = 0.6;
    const std::string fp8 = report::mfu_text(r);
    CHECK_THAT(fp8, Catch::Contains("HFU 120.0% (BF16 peak; the FLOPs executed: causal attention, recomputation) "
                                    "(over 100 % of BF16's peak: the fp8 GEMMs run faster than it); "
                                    "against the fp8 peak: MFU 55.0% (50.0% causal), HFU 60.0%"));
    // Below 100 % of BF16's peak there is nothing to explain.
    r.hfu_bf16 = 0.9;
    CHECK_THAT(report::mfu_text(r), !Catch::Contains("over 100 %"));
}

TEST_CASE("a break-even price below ten cents keeps three significant digits", "[report]") {
    // A $1 cost claim over 8,928 GPU-hours breaks even at $1 / 8,928 = $0.000112 per GPU-hour: "$0.00" read as
    // zero, and "any price below $0.00" contradicted a nominal $0.00 that holds.
    CriterionResult c;
    c.bound = ClaimBound::below;
    c.break_even_per_gpu_hour = 1.0 / 8928.0;
    CHECK(report::break_even_text(c) == "break-even price $0.000112 per GPU-hour: any all-in price per GPU-hour below it "
                                        "meets the threshold");
    // Ten cents and above in cents, as before.
    c.break_even_per_gpu_hour = 2.1249;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even price $2.12 per GPU-hour"));
    c.bound = ClaimBound::within;
    c.break_even_low_per_gpu_hour = 0.05;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even prices $0.05 and $2.12 per GPU-hour"));
    // $0.09996 to three significant digits is 0.1000: printed in cents as $0.10, like every price from ten cents
    // up, not as "$0.1".
    c.break_even_low_per_gpu_hour = 0.09996;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even prices $0.10 and $2.12 per GPU-hour"));
    // A within's low end rounds up (a price must stay above it): $0.09994 is $0.10 too; its high end rounds down.
    c.break_even_low_per_gpu_hour = 0.09994;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even prices $0.10 and $2.12 per GPU-hour"));
    c.break_even_low_per_gpu_hour = 0.09984;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even prices $0.0999 and $2.12 per GPU-hour"));
    // A hundredth of a cent and less in fixed notation: $1 / 89,286 GPU-hours = $0.0000111999…, rounded up (a
    // within's low end) to three digits: $0.0000112 (not "$1.12e-05").
    c.break_even_low_per_gpu_hour = 1.0 / 89286.0;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even prices $0.0000112 and $2.12 per GPU-hour"));
}

TEST_CASE("a break-even price is rounded toward the side its claim holds on", "[report]") {
    // The flagship's $6M over 2,810,253 GPU-hours breaks even at $2.13504: "below $2.14" was false at $2.138 (an
    // audit's case: the claim fails there), so a "below" price rounds down to $2.13 and an "above" one up.
    CriterionResult c;
    c.bound = ClaimBound::below;
    c.break_even_per_gpu_hour = 2.13504;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even price $2.13 per GPU-hour: any all-in price per "
                                                             "GPU-hour below it"));
    // GPT-4's "more than $100M" over its GPU-hours breaks even at $1.1422: above it means at or above $1.15 printed.
    c.bound = ClaimBound::above;
    c.break_even_per_gpu_hour = 1.1422;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even price $1.15 per GPU-hour: any all-in price per "
                                                             "GPU-hour above it"));
    // A price on a cent stays on it ($2.12 is 2.11999… in binary).
    c.break_even_per_gpu_hour = 2.12;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even price $2.12 per GPU-hour"));
    c.bound = ClaimBound::below;
    CHECK_THAT(report::break_even_text(c), Catch::StartsWith("break-even price $2.12 per GPU-hour"));
}

TEST_CASE("a claim's share is printed on its own side of the verdicts' thresholds", "[report]") {
    // 179 of 200 samples = 0.895: whole percents print "90%" (fmt rounds the tie 89.5 to even, 90) beside an
    // UNCERTAIN that needs 90 %; one decimal keeps it below: "89.5%". 100 × 0.905 is 90.5 exactly, a tie that rounds
    // to even, "90%", on the mark itself: one decimal again, "90.5%". 0.915 is plainly above: "92%" (91.5 to even).
    CHECK(report::share_percent(0.895) == "89.5%");
    CHECK(report::share_percent(0.905) == "90.5%");
    CHECK(report::share_percent(0.915) == "92%");
    CHECK(report::share_percent(0.35) == "35%");
    // Near 10 %: 0.104 → "10%" would read as at most 10 % (FAILS): "10.4%". Near the ends: 0.9996 is not "100%".
    CHECK(report::share_percent(0.104) == "10.4%");
    CHECK(report::share_percent(0.9996) == "99.96%");
    CHECK(report::share_percent(1.0) == "100%");
    CHECK(report::share_percent(0.0) == "0%");
}

TEST_CASE("the pipeline bubble's share that is stages waiting for the busiest is named", "[report]") {
    // Three stages of a 10 s step: busy 8, 8 and 9.5 s (bubbles 2, 2, 0.5; mean bubble 1.5 s). The mean busy is
    // 8.5 s, so 9.5 − 8.5 = 1.0 s of the 1.5 s bubble is waiting for stage 2 (the last: the output head); with
    // every stage as busy as it, the bubble would be its own 0.5 s.
    StepResult r;
    r.step_time = Seconds(10);
    r.breakdown.bubble = Seconds(1.5);
    for (const double compute : {8.0, 8.0, 9.5}) {
        StageStep st;
        st.stage = static_cast<int>(r.stages.size());
        st.breakdown.compute = Seconds(compute);
        st.breakdown.bubble = Seconds(10 - compute);
        r.stages.push_back(st);
    }
    CHECK(report::stage_imbalance(r).value() == Approx(1.0).epsilon(1e-12));
    const auto note = report::stage_imbalance_note(r, 3, Schedule::one_f_one_b);
    REQUIRE(note.has_value());
    CHECK(*note == "stage imbalance: stage 2 is busy 9.500 s (compute, recompute, optimizer, exposed communication), the "
                   "stages' mean 8.500 s, so 1.000 s of the 1.500 s bubble is the other stages waiting for it and the rest "
                   "is the schedule's fill and drain; it also runs the output head and loss (layers_per_stage moves layers "
                   "between stages)");
    // Balanced stages: nothing to say.
    r.stages[2].breakdown.compute = Seconds(8.0);
    CHECK_FALSE(report::stage_imbalance_note(r, 3, Schedule::one_f_one_b).has_value());
}
