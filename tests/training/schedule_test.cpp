// Pipeline schedules: op orders, dependencies, activation peaks and compute-only bubbles against closed forms.
// Durations are whole microseconds so every expected makespan is exact in integer picoseconds.
#include <gpuhours/units/error.hpp>
#include <gpuhours/training/schedule.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace gpuhours;

namespace {

SimTime us(std::int64_t n) { return SimTime::from_picoseconds(n * 1'000'000); }

PassDurations durations(std::int64_t f, std::int64_t b, std::int64_t w = 0, std::int64_t fb = 0,
                        std::int64_t latency = 0) {
    return PassDurations{us(f), us(b), us(w), us(fb), us(latency)};
}

std::string labels(const PipelinePlan& plan, int stage) {
    std::string s;
    for (const PipelineOp& op : plan.ops(stage)) s += (s.empty() ? "" : " ") + op.label();
    return s;
}

int count_kind(const PipelinePlan& plan, int stage, PipelineOpKind kind) {
    int n = 0;
    for (const PipelineOp& op : plan.ops(stage)) n += op.kind() == kind ? 1 : 0;
    return n;
}

// The shapes every schedule is exercised on: (p, m, v), filtered by what the schedule accepts.
std::vector<std::tuple<Schedule, int, int, int>> valid_shapes() {
    std::vector<std::tuple<Schedule, int, int, int>> shapes;
    for (int p = 1; p <= 8; ++p) {
        for (int m = 1; m <= 3 * p + 2; ++m) {
            shapes.emplace_back(Schedule::gpipe, p, m, 1);
            shapes.emplace_back(Schedule::one_f_one_b, p, m, 1);
            shapes.emplace_back(Schedule::zero_bubble, p, m, 1);
            if (p >= 2 && m % p == 0)
                for (int v = 2; v <= 4; ++v) shapes.emplace_back(Schedule::interleaved, p, m, v);
            if (p % 2 == 0 && m % 2 == 0 && m >= 2 * p) shapes.emplace_back(Schedule::dualpipe, p, m, 1);
        }
    }
    return shapes;
}

}  // namespace

// ---- orders ---------------------------------------------------------------------------------------------------

TEST_CASE("GPipe runs every forward, then the backwards in reverse micro-batch order", "[schedule]") {
    const PipelinePlan plan = make_pipeline_plan(Schedule::gpipe, 2, 3);
    CHECK(labels(plan, 0) == "F0 F1 F2 B2 B1 B0");
    CHECK(labels(plan, 1) == "F0 F1 F2 B2 B1 B0");
}

TEST_CASE("1F1B warms up p minus rank minus 1 forwards, alternates, then drains", "[schedule]") {
    // p = 4, m = 6. Stage 1: warm-up min(4 − 1 − 1, 6) = 2 forwards; 4 rounds of (F, B); 2 drain backwards.
    const PipelinePlan plan = make_pipeline_plan(Schedule::one_f_one_b, 4, 6);
    CHECK(labels(plan, 1) == "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 B4 B5");
    CHECK(labels(plan, 3) == "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5");
    // m < p caps the warm-up at m: stage 0 of p = 4 with m = 2 runs both forwards first.
    CHECK(labels(make_pipeline_plan(Schedule::one_f_one_b, 4, 2), 0) == "F0 F1 B0 B1");
}

TEST_CASE("interleaved 1F1B cycles chunks in groups of p micro-batches after its longer warm-up", "[schedule]") {
    // p = 2, m = 4, v = 2: forward number k runs micro-batch ⌊k/4⌋·2 + k mod 2 on chunk ⌊(k mod 4)/2⌋:
    // k = 0..7 → (0,c0) (1,c0) (0,c1) (1,c1) (2,c0) (3,c0) (2,c1) (3,c1); backward k uses chunk 1 − that.
    // Stage 0 warm-up: (2 − 0 − 1)·2 + (2 − 1)·2 = 4; stage 1: 0·2 + 2 = 2.
    const PipelinePlan plan = make_pipeline_plan(Schedule::interleaved, 2, 4, 2);
    CHECK(labels(plan, 0) == "F0 F1 F0.c1 F1.c1 F2 B0.c1 F3 B1.c1 F2.c1 B0 F3.c1 B1 B2.c1 B3.c1 B2 B3");
    CHECK(labels(plan, 1) == "F0 F1 F0.c1 B0.c1 F1.c1 B1.c1 F2 B0 F3 B1 F2.c1 B2.c1 F3.c1 B3.c1 B2 B3");
    // Local chunk j of stage r is model chunk j·p + r.
    CHECK(plan.model_chunks() == 4);
    CHECK(plan.model_chunk(1, Pass{PassKind::forward, 0, 1}) == 3);
}

TEST_CASE("ZB-H1 splits every backward and lets stage r's weight passes trail by r", "[schedule]") {
    // p = 3, m = 4. Stage 0 (r = 0): 1F1B with each B as Bi then W at once.
    // Stage 2 (r = 2): no warm-up; W0 waits until two Bi are outstanding, the last two W close the step.
    const PipelinePlan plan = make_pipeline_plan(Schedule::zero_bubble, 3, 4);
    CHECK(labels(plan, 0) == "F0 F1 F2 Bi0 W0 F3 Bi1 W1 Bi2 W2 Bi3 W3");
    CHECK(labels(plan, 2) == "F0 Bi0 F1 Bi1 F2 Bi2 W0 F3 Bi3 W1 W2 W3");
}

TEST_CASE("DualPipe stages follow the reference implementation's eight phases", "[schedule]") {
    // p = 4, m = 8: n = 4 micro-batches per direction (0..3 enter at stage 0, 4..7 at stage 3), H = 2.
    // Stage 0 (h = 0, phase 0 = down, phase 1 = up):
    //   1 nF0     2(H−h−1) = 2:  F0 F1
    //   2 nF0F1   h+1 = 1:       F2 F4.c1
    //   3 nB1W1F1 H−h−1 = 1:     Bi4.c1 W4.c1 F5.c1
    //   4 main    n−p+h+1 = 1:   F3&B5.c1 F6.c1&B0
    //   5 nB1F1B0 1:             B6.c1 F7.c1&B1
    //   6 nB1B0   1 round, h even: B7.c1 then (split from here) Bi2
    //   7 nWB0    1:             W2 Bi3
    //   8 nW      the rest:      W3
    const PipelinePlan plan = make_pipeline_plan(Schedule::dualpipe, 4, 8);
    CHECK(labels(plan, 0) == "F0 F1 F2 F4.c1 Bi4.c1 W4.c1 F5.c1 F3&B5.c1 F6.c1&B0 B6.c1 F7.c1&B1 B7.c1 Bi2 W2 Bi3 W3");
    // Stage 1 (h = 1, a middle stage): phase 2 has 2 rounds; its first main round runs F2 and B4.c1 apart
    // (the reference does not overlap that pair); phase 6 has 2 rounds, h odd: the second round is split.
    CHECK(labels(plan, 1) == "F0 F4.c1 F1 F5.c1 F2 B4.c1 F6.c1&B0 F3&B5.c1 F7.c1&B1 B6.c1 B2 Bi7.c1 Bi3 W7.c1 W3");
    // Stage 3 mirrors stage 0 with the directions swapped (phase 0 = up for the second half).
    CHECK(labels(plan, 3) ==
          "F4.c1 F5.c1 F6.c1 F0 Bi0 W0 F1 F7.c1&B1 F2&B4.c1 B2 F3&B5.c1 B3 Bi6.c1 W6.c1 Bi7.c1 W7.c1");
    // Stage i holds chunk i (down) and chunk p−1−i (up).
    CHECK(plan.model_chunk(0, Pass{PassKind::forward, 0, 0}) == 0);
    CHECK(plan.model_chunk(0, Pass{PassKind::forward, 4, 1}) == 3);
    CHECK(plan.direction(3) == 0);
    CHECK(plan.direction(4) == 1);
}

// ---- structure --------------------------------------------------------------------------------------------

TEST_CASE("every schedule runs each pass of each micro-batch and chunk exactly once", "[schedule]") {
    for (const auto& [schedule, p, m, v] : valid_shapes()) {
        INFO(to_string(schedule) << " p=" << p << " m=" << m << " v=" << v);
        const PipelinePlan plan = make_pipeline_plan(schedule, p, m, v);
        // (kind, micro-batch, model chunk) → times seen; B and Bi both count as "the backward".
        std::map<std::tuple<int, int, int>, int> seen;
        for (int s = 0; s < p; ++s) {
            for (const PipelineOp& op : plan.ops(s)) {
                for (const Pass* pass : {&op.pass, op.overlapped ? &*op.overlapped : nullptr}) {
                    if (pass == nullptr) continue;
                    const int kind = pass->kind == PassKind::backward_input ? static_cast<int>(PassKind::backward)
                                                                             : static_cast<int>(pass->kind);
                    ++seen[{kind, pass->micro_batch, plan.model_chunk(s, *pass)}];
                }
            }
        }
        int weights = 0;
        for (const auto& [k, n] : seen) {
            CHECK(n == 1);
            weights += std::get<0>(k) == static_cast<int>(PassKind::backward_weight) ? 1 : 0;
        }
        const int chunks = m * plan.model_chunks();
        CHECK(static_cast<int>(seen.size()) == 2 * chunks + weights);
        if (schedule == Schedule::zero_bubble) CHECK(weights == chunks);
        if (schedule == Schedule::gpipe || schedule == Schedule::one_f_one_b || schedule == Schedule::interleaved)
            CHECK(weights == 0);
    }
}

TEST_CASE("dependencies link chunks across stages in both DualPipe directions", "[schedule]") {
    const PipelinePlan plan = make_pipeline_plan(Schedule::dualpipe, 4, 8);
    auto where = [&](int stage, const std::string& label) {
        const auto& ops = plan.ops(stage);
        for (int i = 0; i < static_cast<int>(ops.size()); ++i)
            if (ops[static_cast<std::size_t>(i)].label() == label) return OpRef{stage, i};
        FAIL("no op " << label << " on stage " << stage);
        return OpRef{};
    };
    auto deps = [&](OpRef ref) {
        std::vector<std::string> out;
        for (const OpDependency& d : plan.dependencies(ref))
            out.push_back(std::to_string(d.op.stage) + ":" + plan.op(d.op).label() + (d.cross_stage ? "" : "(local)"));
        std::sort(out.begin(), out.end());
        return out;
    };
    // Up direction: micro-batch 4 enters at stage 3 (its chunk 0) and reaches stage 2 next.
    CHECK(deps(where(3, "F4.c1")).empty());
    CHECK(deps(where(2, "F4.c1")) == std::vector<std::string>{"3:F4.c1"});
    // Its backward starts at stage 0 (its last chunk, after the loss) and flows back up to stage 3.
    CHECK(deps(where(0, "Bi4.c1")) == std::vector<std::string>{"0:F4.c1(local)"});
    CHECK(deps(where(1, "B4.c1")) == std::vector<std::string>{"0:Bi4.c1", "1:F4.c1(local)"});
    CHECK(deps(where(0, "W4.c1")) == std::vector<std::string>{"0:Bi4.c1(local)"});
    // On stage 0, F3 runs the first down chunk and B5.c1 the last up chunk (the loss): only B5.c1's own F.
    CHECK(deps(where(0, "F3&B5.c1")) == std::vector<std::string>{"0:F5.c1(local)"});
    // On stage 1 the pair waits for both halves' producers, which are one op on stage 0 (listed once), and
    // for its own F5.c1.
    CHECK(deps(where(1, "F3&B5.c1")) == std::vector<std::string>{"0:F3&B5.c1", "1:F5.c1(local)"});
}

TEST_CASE("every plan runs to completion on the engine without deadlock", "[schedule]") {
    for (const auto& [schedule, p, m, v] : valid_shapes()) {
        INFO(to_string(schedule) << " p=" << p << " m=" << m << " v=" << v);
        const PipelinePlan plan = make_pipeline_plan(schedule, p, m, v);
        const PipelineTiming t = simulate_compute_only(plan, durations(3, 5, 2, 6, 1));
        CHECK(t.makespan > SimTime::zero());
        for (const StageTime& s : t.stages) CHECK(s.idle >= SimTime::zero());
    }
}

TEST_CASE("a plan whose stage orders wait on each other is reported as a deadlock", "[schedule]") {
    // Stage 0 runs B0 before F1, stage 1 runs F1 before B0: B0 on stage 0 needs stage 1's B0, which waits
    // behind F1 on stage 1, which needs stage 0's F1, which waits behind B0.
    std::vector<std::vector<PipelineOp>> ops{
        {{Pass{PassKind::forward, 0, 0}, {}}, {Pass{PassKind::backward, 0, 0}, {}},
         {Pass{PassKind::forward, 1, 0}, {}}, {Pass{PassKind::backward, 1, 0}, {}}},
        {{Pass{PassKind::forward, 0, 0}, {}}, {Pass{PassKind::forward, 1, 0}, {}},
         {Pass{PassKind::backward, 0, 0}, {}}, {Pass{PassKind::backward, 1, 0}, {}}}};
    const PipelinePlan plan(Schedule::one_f_one_b, 2, 2, 1, std::move(ops));
    CHECK_THROWS_AS(simulate_compute_only(plan, durations(1, 2)), std::logic_error);
}

// ---- activation memory ------------------------------------------------------------------------------------

TEST_CASE("1F1B stage r holds p minus r micro-batches at its peak", "[schedule]") {
    // Warm-up p − r − 1 forwards plus the first steady forward before the first backward frees one.
    const PipelinePlan plan = make_pipeline_plan(Schedule::one_f_one_b, 8, 16);
    for (int r = 0; r < 8; ++r) CHECK(peak_activations(plan, r) == 8 - r);
    // With fewer micro-batches than stages: min(p − r, m).
    const PipelinePlan short_plan = make_pipeline_plan(Schedule::one_f_one_b, 8, 3);
    for (int r = 0; r < 8; ++r) CHECK(peak_activations(short_plan, r) == std::min(8 - r, 3));
    // GPipe holds every micro-batch.
    CHECK(peak_activations(make_pipeline_plan(Schedule::gpipe, 4, 12), 3) == 12);
}

TEST_CASE("ZB-H1 holds at most p micro-batches on every stage, 1F1B's peak", "[schedule]") {
    // Stage r: (p − r − 1) warm-up + 1 + r whose W trails = p, counting a set until its W.
    for (const int p : {2, 4, 8}) {
        const PipelinePlan plan = make_pipeline_plan(Schedule::zero_bubble, p, 3 * p);
        for (int r = 0; r < p; ++r) CHECK(peak_activations(plan, r) == p);
    }
}

TEST_CASE("DualPipe holds at most p plus 1 activation sets per stage", "[schedule]") {
    // DeepSeek-V3 Table 2: activation "PP + 1" (in units of one micro-batch through one 1/p chunk).
    for (const int p : {2, 4, 6, 8, 16}) {
        for (const int m : {2 * p, 2 * p + 2, 4 * p}) {
            INFO("p=" << p << " m=" << m);
            const PipelinePlan plan = make_pipeline_plan(Schedule::dualpipe, p, m);
            int highest = 0;
            for (int r = 0; r < p; ++r) {
                CHECK(peak_activations(plan, r) <= p + 1);
                highest = std::max(highest, peak_activations(plan, r));
            }
            CHECK(highest == p + 1);
        }
    }
}

// ---- bubbles against closed forms -------------------------------------------------------------------------

TEST_CASE("GPipe and 1F1B bubbles are (p-1)/(m+p-1) of the step", "[schedule]") {
    // p = 4, m = 8, F = 1 µs, B = 2 µs (B = 2F). GPipe: the last stage's forwards end at (p − 1 + m)·F, the
    // backwards then drain back in (m + p − 1)·B, so makespan = (m + p − 1)(F + B) = 11·3 = 33 µs. 1F1B keeps
    // the same fill and drain, only reorders the middle, so the same 33 µs. Each stage is busy m(F + B) = 24 µs;
    // idle 9 µs = (p − 1)(F + B); fraction 9/33 = 3/11 = (p − 1)/(m + p − 1).
    for (const Schedule s : {Schedule::gpipe, Schedule::one_f_one_b}) {
        INFO(to_string(s));
        const PipelineTiming t = simulate_compute_only(make_pipeline_plan(s, 4, 8), durations(1, 2));
        CHECK(t.makespan == us(33));
        for (const StageTime& st : t.stages) {
            CHECK(st.busy == us(24));
            CHECK(st.idle == us(9));
        }
        CHECK(t.bubble_fraction() == Approx(3.0 / 11.0));
    }
    // F = B = 1 µs, p = 8, m = 4 (fewer micro-batches than stages): (4 + 7)·2 = 22 µs, fraction 7/11.
    const PipelineTiming t = simulate_compute_only(make_pipeline_plan(Schedule::one_f_one_b, 8, 4), durations(1, 1));
    CHECK(t.makespan == us(22));
    CHECK(t.bubble_fraction() == Approx(7.0 / 11.0));
}

TEST_CASE("point-to-point latency adds 2(p-1) latencies to GPipe's fill and drain", "[schedule]") {
    // Each of the p − 1 forward hops and p − 1 backward hops on the critical path waits one latency l:
    // makespan = (m + p − 1)(F + B) + 2(p − 1)·l = 11·3 + 2·3·5 = 63 µs for p = 4, m = 8, F = 1, B = 2, l = 5.
    const PipelineTiming t = simulate_compute_only(make_pipeline_plan(Schedule::gpipe, 4, 8), durations(1, 2, 0, 0, 5));
    CHECK(t.makespan == us(63));
}

TEST_CASE("interleaved 1F1B shrinks the bubble to (p-1)/(v*m+p-1)", "[schedule]") {
    // A stage's forward takes f and backward b over its whole share of layers; with v chunks each chunk takes
    // F = f/v, B = b/v. Busy per stage: m·v·(F + B) = m(f + b). The fill is p − 1 chunk forwards and the drain
    // p − 1 chunk backwards, and Megatron's order (m a multiple of p) leaves no gap in between, so
    // makespan = (v·m + p − 1)(F + B) and the fraction is (p − 1)/(v·m + p − 1).
    // p = 4, m = 8, v = 2, F = 1 µs, B = 2 µs (f = 2, b = 4): (16 + 3)·3 = 57 µs; fraction 3/19
    // (1F1B with f = 2, b = 4 would take (8 + 3)·6 = 66 µs, fraction 3/11).
    const PipelineTiming t2 =
        simulate_compute_only(make_pipeline_plan(Schedule::interleaved, 4, 8, 2), durations(1, 2));
    CHECK(t2.makespan == us(57));
    for (const StageTime& st : t2.stages) CHECK(st.idle == us(9));
    CHECK(t2.bubble_fraction() == Approx(3.0 / 19.0));
    // v = 4, same chunk durations (f = 4, b = 8): (32 + 3)·3 = 105 µs; fraction 3/35.
    const PipelineTiming t4 =
        simulate_compute_only(make_pipeline_plan(Schedule::interleaved, 4, 8, 4), durations(1, 2));
    CHECK(t4.makespan == us(105));
    CHECK(t4.bubble_fraction() == Approx(3.0 / 35.0));
    // m = p (Megatron runs all-warm-up there; this plan keeps the formula and still meets the bound):
    // p = 4, m = 4, v = 2: (8 + 3)·3 = 33 µs.
    const PipelinePlan square = make_pipeline_plan(Schedule::interleaved, 4, 4, 2);
    CHECK(simulate_compute_only(square, durations(1, 2)).makespan == us(33));
}

TEST_CASE("ZB-H1's bubble is (p-1)(F+B-2W) while W is no longer than F or B-W", "[schedule]") {
    // B is the full backward, Bi = B − W its input-gradient part. Every stage is busy m(F + B).
    // Exact relation for this order when m ≥ p (checked here and by a parameter sweep while writing it):
    //   idle per stage = (p − 1)·max(F + Bi − W, F, Bi),
    // which is the ZB paper's / DeepSeek-V3 Table 2's (p − 1)(F + B − 2W) when W ≤ F and W ≤ Bi. The floors
    // are real: stage p − 1 waits (p − 1)·F for its first forward, and stage 0 waits (p − 1)·Bi after its warm-up
    // for the first input gradient, with no W of its own yet to run; every stage has the same busy time and
    // the same makespan, so every stage's idle is at least both.
    //
    // p = 4, m = 8, F = Bi = W = 1 µs (B = 2): (p − 1)(F + B − 2W) = 3·1 = 3 µs; makespan 8·3 + 3 = 27 µs,
    // against 1F1B's (8 + 3)(1 + 2) = 33 µs with the same passes.
    const PipelinePlan plan = make_pipeline_plan(Schedule::zero_bubble, 4, 8);
    const PipelineTiming t = simulate_compute_only(plan, durations(1, 2, 1));
    CHECK(t.makespan == us(27));
    for (const StageTime& st : t.stages) CHECK(st.idle == us(3));
    CHECK(t.bubble_fraction() == Approx(3.0 / 27.0));
    // F = 2, B = 4, W = 1 (Bi = 3): 3·(2 + 4 − 2) = 12 µs; makespan 8·6 + 12 = 60 µs.
    CHECK(simulate_compute_only(plan, durations(2, 4, 1)).makespan == us(60));
    // W larger than F: F = 1, B = 3, W = 2 (Bi = 1). Table 2 would give 3·(1 + 3 − 4) = 0, but the last stage
    // still waits 3·F = 3 µs for its first forward: makespan 8·4 + 3 = 35 µs.
    CHECK(simulate_compute_only(plan, durations(1, 3, 2)).makespan == us(35));
}

TEST_CASE("DualPipe's middle-stage bubble matches DeepSeek-V3 Table 2 when F = B-W = W", "[schedule]") {
    // Table 2: bubble (PP/2 − 1)(F&B + B − 3W). Per stage the busy time differs: stage r with h = min(r, p−1−r)
    // runs K(h) overlapped pairs, the other forwards and backwards alone (F, B, or Bi + W). The two middle
    // stages run the most pairs, K = m − p − 1 (2 per main round over n − p/2 rounds, less the pair the
    // reference splits), so they idle the most; their idle is what the table's expression describes.
    // Exact relation tested (found to hold for p = 2…16, several m and every F&B in [B, F + B], with
    // F = Bi = W, the proportions of the paper's Fig. 5):
    //   makespan = (m − p − 1)·F&B + (p + 1)(F + B) + (p/2 − 1)(F&B + B − 3W).
    // p = 4, m = 8, F = Bi = W = 2 µs (B = 4), F&B = 5 µs (overlap hides 1 µs of the 6):
    //   middle busy = 3·5 + 5·6 = 45 µs; table = 1·(5 + 4 − 6) = 3 µs; makespan = 48 µs.
    // With p = 4 every stage runs 3 pairs, so every stage idles 3 µs.
    {
        const PipelinePlan plan = make_pipeline_plan(Schedule::dualpipe, 4, 8);
        CHECK(count_kind(plan, 1, PipelineOpKind::forward_backward) == 3);
        const PipelineTiming t = simulate_compute_only(plan, durations(2, 4, 2, 5));
        CHECK(t.makespan == us(48));
        for (const StageTime& st : t.stages) CHECK(st.idle == us(3));
    }
    // p = 8, m = 20 (Fig. 5's shape), same passes: middle busy = 11·5 + 9·6 = 109 µs;
    // table = 3·(5 + 4 − 6) = 9 µs; makespan = 118 µs. Stage 0 (h = 0) runs 2(n − p + 1) + (p/2 − 1) = 9 pairs,
    // two fewer than the middle, each costing 6 − 5 = 1 µs more: it idles 9 − 2 = 7 µs; stage 1, 8 µs.
    {
        const PipelinePlan plan = make_pipeline_plan(Schedule::dualpipe, 8, 20);
        CHECK(count_kind(plan, 3, PipelineOpKind::forward_backward) == 11);
        CHECK(count_kind(plan, 0, PipelineOpKind::forward_backward) == 9);
        const PipelineTiming t = simulate_compute_only(plan, durations(2, 4, 2, 5));
        CHECK(t.makespan == us(118));
        const std::vector<std::int64_t> idle_us{7, 8, 9, 9, 9, 9, 8, 7};
        for (std::size_t r = 0; r < 8; ++r) CHECK(t.stages[r].idle == us(idle_us[r]));
        // Without overlap (F&B = F + B = 6 µs) every stage idles the table's 3·(6 + 4 − 6) = 12 µs:
        // makespan = 20·6 + 12 = 132 µs.
        const PipelineTiming flat = simulate_compute_only(plan, durations(2, 4, 2, 6));
        CHECK(flat.makespan == us(132));
        for (const StageTime& st : flat.stages) CHECK(st.idle == us(12));
    }
}

TEST_CASE("DualPipe's Table 2 bubble is an idealisation that fails for a heavy W", "[schedule]") {
    // p = 8, m = 16, F = 2, B = 4, W = 3 (Bi = 1), F&B = 5: the table gives 3·(5 + 4 − 9) = 0 µs. A middle stage
    // (h = p/2 − 1) cannot start before the first forward reaches it from the nearer end, (p/2 − 1)·F = 6 µs,
    // so its idle is at least 6 µs — the expression, like ZB's, presumes W no heavier than F and B − W.
    const PipelinePlan plan = make_pipeline_plan(Schedule::dualpipe, 8, 16);
    const PipelineTiming t = simulate_compute_only(plan, durations(2, 4, 3, 5));
    CHECK(t.stages[3].idle >= us(6));
    CHECK(t.stages[4].idle >= us(6));
    CHECK(t.op_start[3].front() == us(6));
}

// ---- invalid input ----------------------------------------------------------------------------------------

TEST_CASE("schedule arguments that do not fit the schedule are errors that say what to change", "[schedule]") {
    using Catch::Matchers::Contains;
    CHECK_THROWS_AS(make_pipeline_plan(Schedule::one_f_one_b, 0, 4), Error);
    CHECK_THROWS_AS(make_pipeline_plan(Schedule::gpipe, 4, 0), Error);
    CHECK_THROWS_WITH(make_pipeline_plan(Schedule::one_f_one_b, 4, 8, 2), Contains("only applies to the interleaved"));
    CHECK_THROWS_WITH(make_pipeline_plan(Schedule::interleaved, 4, 8, 1), Contains("at least 2 virtual stages"));
    CHECK_THROWS_WITH(make_pipeline_plan(Schedule::interleaved, 4, 10, 2), Contains("multiple of pipeline stages"));
    CHECK_THROWS_WITH(make_pipeline_plan(Schedule::interleaved, 4, 10, 2), Contains("use 12 micro-batches"));
    CHECK_THROWS_AS(make_pipeline_plan(Schedule::interleaved, 1, 4, 2), Error);
    CHECK_THROWS_WITH(make_pipeline_plan(Schedule::dualpipe, 5, 20), Contains("even number of pipeline stages"));
    CHECK_THROWS_WITH(make_pipeline_plan(Schedule::dualpipe, 4, 9), Contains("even number of micro-batches"));
    CHECK_THROWS_WITH(make_pipeline_plan(Schedule::dualpipe, 4, 6), Contains("use at least 8 micro-batches"));
    CHECK_NOTHROW(make_pipeline_plan(Schedule::dualpipe, 4, 8));

    const PipelinePlan plan = make_pipeline_plan(Schedule::zero_bubble, 2, 2);
    CHECK_THROWS_WITH(simulate_compute_only(plan, durations(1, 2, 3)), Contains("weight ≤ backward"));
    CHECK_THROWS_AS(simulate_compute_only(plan, PassDurations{us(-1), us(1), us(0), us(0), us(0)}), Error);
}

// ---- combined 1F1B ----------------------------------------------------------------------------------------------

TEST_CASE("combined 1F1B runs each steady round's forward beside an earlier micro-batch's backward", "[schedule]") {
    // One stage, m = 4 (Megatron-Core's combined_1f1b_schedule_for_no_pipelining): one warm-up forward, then
    // F(i+1) & B(i), then the last backward.
    CHECK(labels(make_pipeline_plan(Schedule::one_f_one_b, 1, 4, 1, true), 0) == "F0 F1&B0 F2&B1 F3&B2 B3");
    // Interleaved, p = 2, v = 2, m = 4. Forward k runs micro-batch ⌊k/4⌋·2 + k mod 2 through local chunk
    // ⌊(k mod 4)/2⌋: k = 0..7 → F0 F1 F0.c1 F1.c1 F2 F3 F2.c1 F3.c1; backward k the same micro-batch through the
    // other chunk: B0.c1 B1.c1 B0 B1 B2.c1 B3.c1 B2 B3. Stage 1's warm-up (p − r − 1)·2 + (v − 1)·p = 2 forwards
    // plus combined's one = 3; then forward 3 + i beside backward i for i = 0..4; then backwards 5..7.
    CHECK(labels(make_pipeline_plan(Schedule::interleaved, 2, 4, 2, true), 1) ==
          "F0 F1 F0.c1 F1.c1&B0.c1 F2&B1.c1 F3&B0 F2.c1&B1 F3.c1&B2.c1 B3.c1 B2 B3");
    // Without the extra warm-up forward the last stage's first round would pair F0.c1 with B0.c1, the backward
    // of the forward beside it.
    CHECK(labels(make_pipeline_plan(Schedule::interleaved, 2, 4, 2), 1) ==
          "F0 F1 F0.c1 B0.c1 F1.c1 B1.c1 F2 B0 F3 B1 F2.c1 B2.c1 F3.c1 B3.c1 B2 B3");
}

TEST_CASE("combined 1F1B plans run to completion without deadlock, and one stage takes F + (m-1)·F&B + B", "[schedule]") {
    for (int p = 2; p <= 8; ++p) {
        for (const int m : {p, 2 * p, 3 * p}) {
            for (int v = 2; v <= 4; ++v) {
                INFO("interleaved p=" << p << " m=" << m << " v=" << v);
                const PipelinePlan plan = make_pipeline_plan(Schedule::interleaved, p, m, v, true);
                CHECK(simulate_compute_only(plan, durations(3, 5, 2, 6, 1)).makespan > SimTime::zero());
                // Every stage runs its steady rounds as pairs of two micro-batches.
                for (int r = 0; r < p; ++r) {
                    for (const PipelineOp& op : plan.ops(r)) {
                        if (op.overlapped) CHECK(op.overlapped->micro_batch != op.pass.micro_batch);
                    }
                }
            }
        }
    }
    // One stage, serial: F0, then m − 1 pairs, then the last B. F = 3, B = 5, F&B = 6 µs, m = 4: 3 + 3·6 + 5 = 26.
    const PipelinePlan one = make_pipeline_plan(Schedule::one_f_one_b, 1, 4, 1, true);
    CHECK(simulate_compute_only(one, durations(3, 5, 0, 6)).makespan == us(26));
    // m = 1 has no round to pair: F0 B0.
    CHECK(labels(make_pipeline_plan(Schedule::one_f_one_b, 1, 1, 1, true), 0) == "F0 B0");
}

TEST_CASE("combined 1F1B holds one more chunk than its schedule", "[schedule]") {
    // One stage: F(i+1) is allocated before B(i) frees its set, so 2 at the peak (plain 1F1B: 1).
    CHECK(peak_activations(make_pipeline_plan(Schedule::one_f_one_b, 1, 8, 1, true), 0) == 2);
    CHECK(peak_activations(make_pipeline_plan(Schedule::one_f_one_b, 1, 8), 0) == 1);
    // Interleaved rank 0: warm-up (p − 1)·2 + (v − 1)·p + 1 forwards and the first pair's forward: v·p + p chunks,
    // p + p/v micro-batches (in_flight_micro_batches: p + (p − 1)/v + 1/v).
    for (const int p : {2, 4, 8}) {
        for (const int v : {2, 3}) {
            INFO("p=" << p << " v=" << v);
            CHECK(peak_activations(make_pipeline_plan(Schedule::interleaved, p, 4 * p, v, true), 0) == v * p + p);
            CHECK(peak_activations(make_pipeline_plan(Schedule::interleaved, p, 4 * p, v), 0) == v * p + p - 1);
        }
    }
}

TEST_CASE("combined 1F1B is refused where the 1F1B order has no rounds to pair", "[schedule]") {
    CHECK_THROWS_AS(make_pipeline_plan(Schedule::one_f_one_b, 2, 8, 1, true), Error);
    CHECK_THROWS_AS(make_pipeline_plan(Schedule::dualpipe, 2, 8, 1, true), Error);
    CHECK_THROWS_AS(make_pipeline_plan(Schedule::gpipe, 1, 8, 1, true), Error);
    CHECK_THROWS_AS(check_pipeline_shape(Schedule::zero_bubble, 1, 8, 1, true), Error);
    CHECK_NOTHROW(check_pipeline_shape(Schedule::interleaved, 2, 8, 2, true));
}

TEST_CASE("pipeline_shape_error returns the rule check_pipeline_shape throws, and nothing for an accepted shape",
          "[schedule]") {
    // Interleaved on 4 stages with 6 micro-batches: 6 is not a multiple of 4, the next multiple is 8.
    const auto error = pipeline_shape_error(Schedule::interleaved, 4, 6, 2);
    REQUIRE(error.has_value());
    CHECK(error->message() == "the interleaved schedule needs micro-batches to be a multiple of pipeline stages "
                              "(Megatron-LM); got 6 micro-batches on 4 stages");
    CHECK(error->hint() == "use 8 micro-batches");
    try {
        check_pipeline_shape(Schedule::interleaved, 4, 6, 2);
        FAIL("check_pipeline_shape accepted 6 micro-batches on 4 interleaved stages");
    } catch (const Error& thrown) {
        CHECK(thrown.message() == error->message());
        CHECK(thrown.hint() == error->hint());
    }
    // DualPipe on 4 stages needs an even count of at least 8: 8 is accepted, 6 is not.
    CHECK_FALSE(pipeline_shape_error(Schedule::dualpipe, 4, 8).has_value());
    CHECK(pipeline_shape_error(Schedule::dualpipe, 4, 6).has_value());
    CHECK_FALSE(pipeline_shape_error(Schedule::one_f_one_b, 1, 8, 1, true).has_value());
}
