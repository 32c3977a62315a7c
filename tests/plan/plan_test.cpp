// The layout search (include/gpuhours/analysis/plan.hpp): the size of the search space and the rules counted by hand on a
// tiny model, the memory screen, the lower bound against the simulation, pruning against exhaustive search,
// determinism over thread counts, the Megatron-LM 145.6B case and the CLI. The tiny model (4 layers, hidden
// 1024, 8 heads) on 8 H100 simulates in milliseconds; the Megatron case runs a restricted space (see there).
#include <gpuhours/units/error.hpp>
#include <gpuhours/analysis/plan.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/schedule.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/workload/workload.hpp>

#include "../support/cli.hpp"
#include "../support/json.hpp"
#include "../workload/models.hpp"

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace gpuhours;

namespace {

const std::filesystem::path kRoot = GPUHOURS_TEST_SOURCE_DIR;

LoadOptions catalog_options() {
    LoadOptions o;
    o.catalog_dir = kRoot / "scenarios";
    return o;
}

// A tiny dense model on 8 H100 (2 nodes of 4): 4 layers, 8 heads (every tensor degree 1, 2, 4 divides them),
// sequence 1,024 (< 16K: no context parallelism searched), global batch 16.
const std::string kTiny = R"(title = "tiny"
[model]
name = "tiny"
layers = 4
hidden = 1024
vocab = 32000
norm = "rmsnorm"
position = "rope"
[model.attention]
kind = "mha"
heads = 8
head_dim = 128
[model.mlp]
kind = "swiglu"
ffn_hidden = 4096
[cluster]
chip = "h100"
gpus = 8
gpus_per_node = 4
[parallelism]
tensor = 2
pipeline = 2
micro_batch = 1
[training]
tokens = "1B"
sequence_length = 1024
global_batch = 16
)";

Scenario tiny() { return load_scenario_from_string(kTiny, "tiny.toml", catalog_options()); }

std::filesystem::path tiny_file() {
    const auto dir = gpuhours::test::scratch_path("plan-test");
    std::filesystem::create_directories(dir);
    const auto file = dir / "tiny.toml";
    std::ofstream(file) << kTiny;
    return file;
}

std::vector<LayoutKey> top_keys(const PlanResult& r, std::size_t n) {
    std::vector<LayoutKey> keys;
    for (std::size_t k = 0; k < std::min(n, r.ranking.size()); ++k) keys.push_back(layout_key(r.candidates[r.ranking[k]].layout));
    return keys;
}

// The tiny scenario's space cut to tensor 1, pipeline 2 and no recomputation, unpruned: 4 micro-batch sizes × 5
// schedules = 20 candidates.
PlanOptions tp1_pp2_none() {
    PlanOptions o;
    o.prune = false;
    o.space.tensor = {1};
    o.space.pipeline = {2};
    o.space.recompute = {Recompute::none};
    return o;
}

}  // namespace

TEST_CASE("the search space of a tiny scenario has the number of layouts counted by hand", "[plan]") {
    const Scenario s = tiny();
    // tensor ∈ divisors of gpus_per_node 4 = {1, 2, 4}; pipeline ∈ divisors of 8 GPUs up to 4 layers = {1, 2, 4};
    // context {1} (sequence 1,024 < 16K); expert {1} (dense); micro-batch {1, 2, 4, 8}; recompute 3 modes.
    // (tensor, pipeline) pairs whose product divides 8: all but (4, 4) → 8 pairs.
    // Schedules per pipeline degree: p = 1 → 1 (1f1b only); p = 2 → gpipe, 1f1b, zero-bubble, dualpipe and
    // interleaved with v = 2 (4 layers % (2·v) = 0 only for v = 2) → 5; p = 4 → the four plain ones (4 % 4v ≠ 0
    // for v ≥ 2; dualpipe: 4 is even) → 4.
    // Per tensor degree: t = 1: 1 + 5 + 4 = 10; t = 2: 10; t = 4: 1 + 5 = 6 → 26 (layout, schedule) pairs,
    // × 4 micro-batches × 3 recompute modes = 312.
    CHECK(enumerate_layouts(s).size() == 312);
    const PlanResult r = plan_layouts(s, tp1_pp2_none());
    // tensor 1, pipeline 2 ⇒ data 4; 4 micro-batch sizes × 5 schedules = 20 candidates. Rules, with m = 16 /
    // (4 · mb) micro-batches: mb = 8 → 16 is not divisible by 32: 5 rejected; interleaved needs m % 2 = 0:
    // m = 1 (mb 4) rejected; DualPipe needs m even and ≥ 2·2: m = 2 and m = 1 rejected → 5 + 1 + 2 = 8.
    // Memory: a 4-layer, hidden-1,024 model needs a few GB of the H100's 80 GB → 0 rejected. Exhaustive: the other
    // 12 are simulated.
    CHECK(r.counts.enumerated == 20);
    CHECK(r.counts.rejected_by_rule == 8);
    CHECK(r.counts.rejected_by_memory == 0);
    CHECK(r.counts.pruned_by_bound == 0);
    CHECK(r.counts.simulated == 12);
    // The scenario's TP2 layout is outside this space: appended, evaluated, and not counted: the ranking holds the
    // 12 simulated candidates of the space only, and the scenario's rank is where it would stand among them (it
    // took a rank of its own before, pushing the candidates after it down by one: a fresh user's hunt, session 37).
    CHECK_FALSE(r.scenario_in_space);
    CHECK(r.scenario().step.has_value());
    CHECK(r.ranking.size() == 12);
    CHECK(std::find(r.ranking.begin(), r.ranking.end(), r.scenario_index) == r.ranking.end());
    REQUIRE(r.scenario_rank.has_value());
    const Seconds mine = r.scenario().step->step_time;
    const auto faster = std::count_if(r.ranking.begin(), r.ranking.end(),
                                      [&](std::size_t i) { return r.candidates[i].step->step_time < mine; });
    CHECK(*r.scenario_rank == static_cast<std::size_t>(faster) + 1);
}

TEST_CASE("the scenario's recompute refinements reach only the candidates of their own mode", "[plan]") {
    // The tiny scenario with full recomputation of the first layer of each chunk (recompute_num_layers = 1) and a
    // selective module set (core_attn, which only selective recomputation reads): the none candidates must run without either (the rules refuse recompute_num_layers
    // without full recomputation: every none and selective candidate was refused, a researcher's read), so the
    // space restricted to tensor 1, pipeline 2 and recompute none counts as the plain scenario's: 8 of 20 refused.
    Scenario s = tiny();
    s.parallel.recompute = Recompute::full;
    s.parallel.recompute_num_layers = 1;
    s.parallel.recompute_modules = static_cast<unsigned>(RecomputeModule::core_attn);
    const PlanResult r = plan_layouts(s, tp1_pp2_none());
    CHECK(r.counts.enumerated == 20);
    CHECK(r.counts.rejected_by_rule == 8);
    CHECK(r.counts.simulated == 12);
    for (const std::size_t i : r.ranking) {
        CHECK(r.candidates[i].layout.recompute_num_layers == 0);
        CHECK(r.candidates[i].layout.recompute_modules == 0u);
    }
}

TEST_CASE("a layout that does not fit in memory is never simulated", "[plan]") {
    Scenario s = tiny();
    PlanOptions o;
    o.prune = false;
    o.space.recompute = {Recompute::none, Recompute::full};
    o.space.micro_batch = {1, 4};
    // The worst-rank memory of every layout that passes the rules, computed here with the workload's closed form;
    // the capacity is set between the smallest and the largest so that some fit and some do not.
    std::vector<std::pair<LayoutKey, Bytes>> need;
    {
        const PlanResult all = plan_layouts(s, o);  // 80 GB: everything that passes the rules fits
        for (const auto& c : all.candidates) {
            if (c.fate != CandidateFate::simulated) continue;
            MemoryOptions m;
            m.micro_batches = c.micro_batches;
            const MicroBatchShape shape{s.training.sequence_length, c.layout.micro_batch, AttentionMask::causal};
            need.emplace_back(layout_key(c.layout), memory_per_gpu(s.model, c.layout, s.training.precision, shape, m).total());
        }
    }
    REQUIRE(need.size() > 10);
    std::vector<Bytes> sorted;
    for (const auto& [k, b] : need) sorted.push_back(b);
    std::sort(sorted.begin(), sorted.end());
    const Bytes capacity = sorted[sorted.size() / 2];
    s.cluster.chip.memory_capacity = capacity;

    std::mutex lock;
    std::set<LayoutKey> simulated;
    o.on_simulate = [&](const ParallelLayout& l) {
        const std::lock_guard<std::mutex> guard(lock);
        simulated.insert(layout_key(l));
    };
    const PlanResult r = plan_layouts(s, o);
    // Exactly the layouts needing at most the capacity are simulated (plus the scenario's own when it fits).
    std::set<LayoutKey> fitting;
    for (const auto& [k, b] : need) {
        if (b <= capacity) fitting.insert(k);
    }
    const std::size_t too_big = need.size() - fitting.size();
    CHECK(too_big > 0);
    CHECK(r.counts.rejected_by_memory == too_big);
    for (const auto& [k, b] : need) {
        INFO("layout needing " << format_bytes(b) << " of " << format_bytes(capacity));
        CHECK(simulated.contains(k) == (b <= capacity));
    }
}

TEST_CASE("on one GPU the lower bound is the simulated step less its optimizer", "[plan]") {
    // One GPU runs no collective and has no pipeline: the simulated step is the compute stream's m × (F + B + R)
    // followed by the optimizer, and the bound counts exactly the first part (per-op times rounded to picoseconds
    // as the simulator does). The identity holds for every recompute mode and micro-batch size.
    Scenario s = tiny();
    s.cluster.gpus = 1;
    s.cluster.gpus_per_node = 1;
    for (Recompute rc : {Recompute::none, Recompute::selective, Recompute::full}) {
        for (int mb : {1, 4}) {
            ParallelLayout l;
            l.micro_batch = mb;
            l.recompute = rc;
            StepSpec spec = step_spec_of(s);
            spec.cluster = s.cluster;
            spec.layout = l;
            const StepResult step = simulate_step(spec);
            INFO("recompute " << to_string(rc) << ", micro-batch " << mb);
            CHECK(step_time_lower_bound(spec).value() ==
                  Approx((step.step_time - step.breakdown.optimizer).value()).margin(1e-12));
        }
    }
}

TEST_CASE("under tensor-parallel overlap the bound stays below the step, whether the chunks are slower or faster", "[plan]") {
    // The step runs an overlapped GEMM as Transformer Engine's chunks (t of M/t rows, 4 of N/4 columns), which the
    // kernel model may time slower than the whole GEMM (more, emptier waves; the weight read by every row chunk) or
    // faster (a chunk of fewer tiles than SMs is split along K). One node of B200 or H100, TP 2 or 8 with sequence
    // parallelism and overlap (24 SMs), NVLink made free so that compute alone sets the step, CUDA graphs: the bound
    // (the step's compute without the optimizer) may not exceed the simulated step less its optimizer. With every
    // GEMM timed whole in the bound, the first two shapes broke it (B200: 2.8131 ms against 2.7902, +0.8 %; H100 with
    // no overlap SMs: +0.5 %; found by a sweep of 3,240 shapes, session 42).
    struct Case {
        const char* chip;
        int tensor, hidden, ffn, seq, overlap_sms;
    };
    for (const Case& c : {Case{"b200", 2, 5120, 16640, 1024, 24}, Case{"h100", 2, 5120, 16640, 1024, 0},
                          Case{"b200", 8, 15360, 41216, 1024, 24}, Case{"h100", 8, 8192, 28672, 2048, 24}}) {
        StepSpec s;
        s.model = test::llama_like(2, c.hidden, c.hidden / 128, 8, c.ffn, 32000);
        s.cluster.chip = load_chip(c.chip, kRoot / "scenarios");
        s.cluster.gpus = c.tensor;
        s.cluster.gpus_per_node = c.tensor;
        s.cluster.fabric = Fabric::single_node;
        s.cluster.nic_bandwidth = s.cluster.chip.nic_bandwidth;
        s.cluster.nic_latency = s.cluster.chip.nic_latency;
        s.cluster.chip.scale_up_bandwidth = BytesPerSecond(1e15);
        s.cluster.chip.scale_up_latency = Seconds(1e-9);
        s.layout.tensor = c.tensor;
        s.layout.sequence_parallel = true;
        s.layout.tp_comm_overlap = true;
        s.layout.tp_comm_overlap_sms = c.overlap_sms;
        s.sequence_length = c.seq;
        s.global_batch = 1;
        s.cuda_graphs = true;
        const StepResult r = simulate_step(s);
        INFO(c.chip << ": TP " << c.tensor << ", hidden " << c.hidden << ", FFN " << c.ffn << ", " << c.seq << " tokens");
        CHECK(step_time_lower_bound(s).value() <= (r.step_time - r.breakdown.optimizer).value() * (1.0 + 1e-12));
    }
}

TEST_CASE("GPipe, 1F1B and interleaved end every stage with the backward of its first chunk", "[plan]") {
    // The bound's tail (the last micro-batch's backward through the earlier chunks after a stage's last op)
    // rests on this property of the generated orders; checked over stages, micro-batches and virtual stages.
    int checked = 0;
    for (int p : {2, 3, 4, 8}) {
        for (int m : {1, 2, 3, 4, 8, 12, 16}) {
            for (Schedule sch : {Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved}) {
                for (int v : {1, 2, 3}) {
                    if ((sch == Schedule::interleaved) != (v > 1) || (sch == Schedule::interleaved && m % p != 0)) continue;
                    const PipelinePlan plan = make_pipeline_plan(sch, p, m, v);
                    for (int stage = 0; stage < p; ++stage) {
                        const PipelineOp& last = plan.ops(stage).back();
                        INFO(to_string(sch) << " p=" << p << " m=" << m << " v=" << v << " stage " << stage);
                        CHECK(last.kind() == PipelineOpKind::backward);
                        CHECK(last.pass.local_chunk == 0);
                        ++checked;
                    }
                }
            }
        }
    }
    CHECK(checked > 200);
}

TEST_CASE("pruning never drops the true best layouts and the bound never exceeds the simulation", "[plan]") {
    const Scenario s = tiny();
    PlanOptions exhaustive;
    exhaustive.prune = false;
    exhaustive.top = 3;
    const PlanResult all = plan_layouts(s, exhaustive);
    // Every feasible layout simulated: the bound is a lower bound on each of them.
    REQUIRE(all.counts.simulated > 100);
    for (const auto& c : all.candidates) {
        if (!c.step) continue;
        INFO(describe_layout(c.layout));
        CHECK(c.lower_bound <= c.step->step_time);
    }
    PlanOptions pruned = exhaustive;
    pruned.prune = true;
    const PlanResult some = plan_layouts(s, pruned);
    // The search must actually prune here, or the comparison shows nothing.
    CHECK(some.counts.pruned_by_bound > 0);
    CHECK(some.counts.simulated + some.counts.pruned_by_bound == all.counts.simulated);
    // The same three best layouts, with the same step times.
    CHECK(top_keys(some, 3) == top_keys(all, 3));
    for (std::size_t k = 0; k < 3; ++k) {
        CHECK(some.candidates[some.ranking[k]].step->step_time == all.candidates[all.ranking[k]].step->step_time);
    }
}

TEST_CASE("the search gives the same result on one thread and on two", "[plan]") {
    const Scenario s = tiny();
    PlanOptions one;
    one.threads = 1;
    one.top = 4;
    PlanOptions two = one;
    two.threads = 2;
    const PlanResult a = plan_layouts(s, one);
    const PlanResult b = plan_layouts(s, two);
    REQUIRE(a.candidates.size() == b.candidates.size());
    CHECK(a.ranking == b.ranking);
    CHECK(a.counts.simulated == b.counts.simulated);
    CHECK(a.counts.pruned_by_bound == b.counts.pruned_by_bound);
    for (std::size_t i = 0; i < a.candidates.size(); ++i) {
        CHECK(a.candidates[i].fate == b.candidates[i].fate);
        if (a.candidates[i].step) CHECK(a.candidates[i].step->step_time == b.candidates[i].step->step_time);
    }
    REQUIRE(a.runner_up);
    REQUIRE(b.runner_up);
    CHECK(a.runner_up->difference == b.runner_up->difference);
}

TEST_CASE("the runner-up explanation splits the step-time difference over the breakdown terms", "[plan]") {
    const PlanResult r = plan_layouts(tiny());
    REQUIRE(r.runner_up);
    const auto& why = *r.runner_up;
    const StepResult& winner = *r.best().step;
    const StepResult& second = *r.candidates[r.ranking[1]].step;
    // The breakdown's terms sum to the step time (step.hpp), so their differences sum to the time difference.
    Seconds sum;
    for (const auto& t : why.terms) sum += t.difference();
    CHECK(why.difference == second.step_time - winner.step_time);
    CHECK(sum.value() == Approx(why.difference.value()).margin(1e-9));
    // The largest is the maximum difference; the layouts differ somewhere unless they tie.
    for (const auto& t : why.terms) CHECK(t.difference() <= why.terms[why.largest].difference());
    CHECK_FALSE(why.changes.empty());
}

TEST_CASE("a layout change names the expert-tensor degree only where a layout sets it", "[plan]") {
    // Unset, expert_tensor follows tensor: TP2 → TP1 is one change (a dense model's plan read "tensor 2 → 1, …,
    // expert tensor 2 → 1": a new user). Set on either side (MoE parallel folding), it is its own change.
    ParallelLayout a;
    a.tensor = 2;
    a.data = 2;
    ParallelLayout b;
    b.tensor = 1;
    b.data = 4;
    CHECK(layout_changes(a, b) == std::vector<std::string>{"tensor 2 → 1", "data 2 → 4"});
    a.expert_tensor = 2;
    CHECK(layout_changes(a, b) == std::vector<std::string>{"tensor 2 → 1", "data 2 → 4", "expert tensor 2 → 1"});
    b.expert_tensor = 2;
    CHECK(layout_changes(a, b) == std::vector<std::string>{"tensor 2 → 1", "data 2 → 4"});
}

TEST_CASE("the layout search beats or equals Megatron-LM's published 145.6B layout", "[plan]") {
    const Scenario s = load_scenario(kRoot / "scenarios" / "validation" / "megatron-145.6b.toml");
    // Restricted for the test's runtime (each step simulation of this case takes about 0.25 s; the suite also
    // runs under ASan at -O1): tensor 8 (a whole DGX node, as published), full recomputation and micro-batch 1
    // (as published), pipeline 8 (published) or 16, every schedule. `gpuhours plan` on the whole space: docs/plan.md.
    PlanOptions o;
    o.top = 1;
    o.space.tensor = {8};
    o.space.recompute = {Recompute::full};
    o.space.micro_batch = {1};
    o.space.pipeline = {8, 16};
    const PlanResult r = plan_layouts(s, o);
    // Schedules: p = 8: gpipe, 1f1b, zero-bubble, dualpipe, interleaved with v ∈ 2..8 (8v ≤ 80 layers: at least one
    // per chunk, uneven chunks split as run splits them) → 11; p = 16: the four plain ones and v ∈ 2..5 (16v ≤ 80)
    // → 8. 19 candidates.
    CHECK(r.counts.enumerated == 19);
    // The published layout (TP8 PP8 DP24, interleaved with 2 virtual stages) is in the space and simulated.
    REQUIRE(r.scenario_in_space);
    REQUIRE(r.scenario().fate == CandidateFate::simulated);
    // Its time, re-simulated here from the scenario as `gpuhours run` does, equals the search's figure.
    const StepResult published = simulate_step(step_spec_of(s));
    CHECK(r.scenario().step->step_time == published.step_time);
    // The winner, re-simulated independently from its layout, is at least as fast as the published layout.
    REQUIRE_FALSE(r.ranking.empty());
    StepSpec spec = step_spec_of(s);
    spec.layout = r.best().layout;
    const StepResult winner = simulate_step(spec);
    CHECK(winner.step_time == r.best().step->step_time);
    CHECK(winner.step_time <= published.step_time);
    // The bound holds on this case too: no simulated candidate beat its own lower bound.
    for (const auto& c : r.candidates) {
        if (c.step) CHECK(c.lower_bound <= c.step->step_time);
    }
    WARN("Megatron-LM 145.6B: best " << describe_layout(r.best().layout) << " " << winner.step_time.value()
                                      << " s; published layout " << published.step_time.value() << " s (rank "
                                      << r.scenario_rank_at_least << ")");
}

TEST_CASE("gpuhours plan prints the top layouts, the counts and the runner-up", "[plan]") {
    const std::string file = tiny_file().string();
    const std::string catalog = " --catalog " + (kRoot / "scenarios").string();
    const auto r = test::run_cli("plan " + file + catalog + " --top 2");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("step time"));
    CHECK_THAT(r.out, Catch::Contains("candidates: 312 enumerated"));  // counted by hand above
    CHECK_THAT(r.out, Catch::Contains("scenario's layout (TP2 CP1 PP2 DP2 EP1 mb1 1f1b recompute=none)"));
    CHECK_THAT(r.out, Catch::Contains("why the runner-up loses"));
    const auto j = test::run_cli("plan " + file + catalog + " --top 2 --json");
    REQUIRE(j.exit_code == 0);
    CHECK_THAT(j.out, Catch::Contains("\"schema_version\": 4"));
    CHECK_THAT(j.out, Catch::Contains("\"step_time_s\": "));
    CHECK_THAT(j.out, Catch::Contains("\"memory_peak_bytes\": "));
    CHECK_THAT(j.out, Catch::Contains("\"enumerated\": 312"));
    // Byte-identical on one thread and on two.
    const auto one = test::run_cli("plan " + file + catalog + " --top 2 --json --threads 1");
    const auto two = test::run_cli("plan " + file + catalog + " --top 2 --json --threads 2");
    CHECK(one.out == two.out);
    CHECK(one.out == j.out);
    // The table's MFU is on run's headline basis (full-attention FLOPs over the BF16 peak), the best row's figure
    // the JSON's mfu_bf16_full of the first layout (it was causal FLOPs over the compute format's peak).
    CHECK_THAT(r.out, Catch::Contains("MFU: full-attention model FLOPs over the BF16 peak, as run's headline"));
    const auto doc = test::JsonReader(j.out).document();
    // The chip as sweep and check write it (plan wrote "h100 (modified)" with no chip_modified), whole bytes of
    // headroom, and a scenario layout's rank_at_least only where it was simulated (an audit of plan, session 52).
    CHECK(doc["chip"].string() == test::JsonReader(test::run_cli("check " + file + catalog + " --json").out).document()["cluster"]["chip"].string());
    CHECK(doc.has("chip_modified"));
    const double headroom = doc["top"].array().at(0)["memory_headroom_bytes"].number();
    CHECK(headroom == std::floor(headroom));
    const double best_mfu = doc["top"].array().at(0)["mfu_bf16_full"].number();
    CHECK_THAT(r.out, Catch::Contains(fmt::format("{:.1f}%", 100 * best_mfu)));
}

TEST_CASE("gpuhours plan rejects a bad --top, --fix or scenario with exit code 2", "[plan]") {
    const std::string file = tiny_file().string();
    const std::string catalog = " --catalog " + (kRoot / "scenarios").string();
    for (const char* bad : {"--top 0", "--top two", "--top 1.5", "--fix tensr=8", "--fix schedule=1f2b", "--fix tensor=0"}) {
        const auto r = test::run_cli("plan " + file + catalog + " " + bad);
        INFO(bad << "\n" << r.out);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.out, Catch::Contains("gpuhours: error: "));
    }
    const auto missing = test::run_cli("plan /nonexistent/scenario.toml");
    CHECK(missing.exit_code == 2);
    // A --fix that no layout of the GPU count can have empties the space: refused at the flag, where it printed
    // "rank 1 of 0 feasible layouts" and exit 0. 3 divides no power of two.
    const auto empty = test::run_cli("plan " + file + catalog + " --fix tensor=3");
    INFO(empty.out);
    CHECK(empty.exit_code == 2);
    CHECK_THAT(empty.out, Catch::Contains("gpuhours: error: --fix tensor=3: the layout search holds no layout of "));
}

// DeepSeek-V2-Lite (64 routed experts, 2 shared) on 16 H100, pipeline 1, EP 8, with `overlap` (a [parallelism] line).
std::string moe_search(const std::string& overlap) {
    return R"(title = "moe"
model = "deepseek-v2-lite"
[cluster]
chip = "h100"
gpus = 16
gpus_per_node = 8
[parallelism]
tensor = 1
pipeline = 1
data = 16
expert = 8
)" + overlap + R"(
[training]
tokens = "1B"
sequence_length = 4096
global_batch = 64
)";
}

TEST_CASE("the layout search keeps the scenario's combined 1F1B where a candidate can take it, and ranks the rest without it", "[plan]") {
    // With combined 1F1B, every enumerated layout gets combined_1f1b exactly when it has an expert all-to-all
    // (expert > 1) and 1F1B rounds to pair (1f1b on one stage, or interleaved): DualPipe, ZB-H1, GPipe and 1F1B over
    // several stages are searched without it.
    const Scenario s = load_scenario_from_string(moe_search("combined_1f1b = true"), "moe.toml", catalog_options());
    REQUIRE(s.parallel.combined_1f1b);
    std::size_t on = 0;
    std::size_t off = 0;
    for (const ParallelLayout& l : enumerate_layouts(s)) {
        const bool takes = l.expert > 1 && (l.schedule == Schedule::interleaved ||
                                            (l.schedule == Schedule::one_f_one_b && l.pipeline == 1));
        CHECK(l.combined_1f1b == takes);
        (l.combined_1f1b ? on : off) += 1;
    }
    CHECK(on > 0);
    CHECK(off > 0);
}

TEST_CASE("the layout search keeps the scenario's shared-expert overlap where an all-to-all runs outside DualPipe (#15)", "[plan]") {
    // With moe_shared_expert_overlap instead: every enumerated layout keeps it exactly when it has an expert
    // all-to-all (expert > 1) and its schedule is not DualPipe (which overlaps the all-to-all with another
    // micro-batch instead).
    const Scenario s = load_scenario_from_string(moe_search("moe_shared_expert_overlap = true"), "moe.toml", catalog_options());
    REQUIRE(s.parallel.moe_shared_expert_overlap);
    std::size_t on = 0;
    std::size_t off = 0;
    for (const ParallelLayout& l : enumerate_layouts(s)) {
        CHECK(l.moe_shared_expert_overlap == (l.expert > 1 && l.schedule != Schedule::dualpipe));
        CHECK_FALSE(l.combined_1f1b);
        (l.moe_shared_expert_overlap ? on : off) += 1;
    }
    CHECK(on > 0);
    CHECK(off > 0);
}

TEST_CASE("the layout search tries each expert_tensor degree per candidate, the tensor degree's as the unfolded layout", "[plan]") {
    // DeepSeek-V2-Lite on 16 H100 (2 nodes of 8), the scenario at TP 2 × DP 8 with sequence parallelism. With --fix expert_tensor=1,2 every
    // candidate comes twice: once unfolded (the value equal to its tensor degree, stored as 0; for tensor 4 or 8
    // neither value is, so both are folded) and once with the other value. By default, with sequence parallelism, the
    // axis is {the scenario's (0: unfolded), 1}: twice for tensor > 1 (unfolded, and folded at ETP 1), once for tensor 1 (both unfolded).
    std::string text = moe_search("sequence_parallel = true");
    text.replace(text.find("tensor = 1"), 10, "tensor = 2");
    text.replace(text.find("data = 16"), 9, "data = 8");
    const Scenario s = load_scenario_from_string(text, "moe.toml", catalog_options());
    PlanSpace space;
    const std::vector<ParallelLayout> plain = enumerate_layouts(s, space);
    space.expert_tensor = {1, 2};
    const std::vector<ParallelLayout> both = enumerate_layouts(s, space);
    std::map<int, std::size_t> plain_by_tp, both_by_tp;
    for (const ParallelLayout& l : plain) {
        ++plain_by_tp[l.tensor];
        CHECK((l.expert_tensor == 0 || (l.expert_tensor == 1 && l.tensor > 1)));
    }
    for (const ParallelLayout& l : both) {
        ++both_by_tp[l.tensor];
        if (l.tensor <= 2) CHECK((l.expert_tensor == 0 || l.expert_tensor == 3 - l.tensor));
        else CHECK((l.expert_tensor == 1 || l.expert_tensor == 2));
    }
    REQUIRE(both_by_tp.size() == 4);  // tensor 1, 2, 4, 8
    REQUIRE(plain_by_tp.size() == 4);
    for (const auto& [tp, n] : both_by_tp) CHECK(plain_by_tp[tp] * (tp == 1 ? 2 : 1) == n);
    // Without sequence parallelism a folded candidate with tensor > 1 is refused by rule, so the default axis is
    // the scenario's alone: every candidate unfolded.
    const Scenario no_sp = load_scenario_from_string(moe_search(""), "moe.toml", catalog_options());
    for (const ParallelLayout& l : enumerate_layouts(no_sp, PlanSpace{})) CHECK(l.expert_tensor == 0);
    // TP 2 × DP 8, EP 8, 1F1B on one stage: folded with expert_tensor 1, the expert group is a stage's 8 first
    // ranks (one node); unfolded, it is carved from the data ranks at one tensor rank (stride 2: both nodes) and the
    // experts add the expert-tensor gather and reduce-scatter. The same FLOPs: the folded layout ranks first.
    PlanOptions o;
    o.prune = false;
    o.space = space;
    o.space.tensor = {2};
    o.space.pipeline = {1};
    o.space.expert = {8};
    o.space.micro_batch = {1};
    o.space.recompute = {Recompute::none};
    o.space.schedules = {Schedule::one_f_one_b};
    const PlanResult r = plan_layouts(s, o);
    CHECK(r.counts.simulated == 2);
    REQUIRE(r.ranking.size() == 2);
    const ParallelLayout& best = r.candidates[r.ranking[0]].layout;
    CHECK(best.expert_tensor == 1);
    CHECK(best.folds_experts());
    CHECK(describe_layout(best) == "TP2 CP1 PP1 DP8 EP8 ETP1 mb1 1f1b recompute=none");
}

TEST_CASE("gpuhours plan names the rules it refused layouts by and the layout closest to fitting", "[plan]") {
    // Megatron 39.1B on 512 A100 with TP2 PP2 fixed: DP 128, global batch 1,536. No layout passes (a researcher read
    // "45 rejected by rule, 63 by memory" with neither named). A micro-batch of 8 needs 128 × 8 = 1,024 to divide
    // 1,536, the most common refusal; the closest to fitting is printed with its need and shortfall, whose
    // difference is the A100's usable 81.77 GB.
    const std::string file = (kRoot / "scenarios" / "validation" / "megatron-39.1b.toml").string();
    const auto r = test::run_cli("plan " + file + " --prune --fix tensor=2 --fix pipeline=2");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("refused by rule (") &&
                          Catch::Contains("layouts): global_batch = 1536 is not divisible by data × micro_batch = 128 × 8 = 1024"));
    const auto at = r.out.find("closest to fitting: TP2 CP1 PP2 DP128");
    REQUIRE(at != std::string::npos);
    const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
    double need = 0, over = 0;
    REQUIRE(std::sscanf(line.c_str() + line.find(" needs ") + 7, "%lf", &need) == 1);
    REQUIRE(std::sscanf(line.c_str() + line.find(" (") + 2, "%lf", &over) == 1);
    CHECK(need - over == Approx(81.77).margin(0.01));  // GB, as printed to four digits
}

TEST_CASE("plan says how to run its best layout, each phase with its own degrees given the data its GPUs leave", "[plan]") {
    // The flagship's search over PP 8 or 16, EP 32, 64 or 256, DualPipe, micro-batch 1 and selective recomputation:
    // rank 1 is PP8 DP256 EP256. Its context-extension phases write their own context (8 and 32) and data (16 and 4);
    // under PP8 with TP1 their GPUs leave data 2,048 / (1 × 8 × 8) = 32 and 2,048 / (1 × 32 × 8) = 8. Rank 1 written
    // back without those failed `check` on phases[1] (1 × 8 × 8 × 16 = 1,024 ≠ 2,048; an audit of plan, session 52).
    const std::string flagship = (kRoot / "scenarios" / "deepseek-v3.toml").string();
    const auto r = test::run_cli("plan " + flagship + " --top 3 --fix tensor=1 --fix pipeline=8,16 --fix expert=32,64,256 --fix micro_batch=1 "
                                 "--fix schedule=dualpipe --fix recompute=selective");
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const std::string sets = "--set 'parallelism.pipeline=8' --set 'parallelism.data=256' --set 'parallelism.expert=256' "
                             "--set 'phases.1.parallelism.data=32' --set 'phases.2.parallelism.data=8'";
    // The path and every argument in single quotes, for a shell.
    CHECK_THAT(r.out, Catch::Contains("to run rank 1 (the search is over the first phase;") && Catch::Contains("'" + flagship + "' " + sets + "\n"));
    // What it prints is what `check` takes.
    CHECK(test::run_cli("check " + flagship + " " + sets).exit_code == 0);
    // Megatron 145.6B is interleaved over 2 virtual stages; a DualPipe rank 1 needs virtual_stages = 1 too (the line
    // was refused, "virtual_stages = 2 needs schedule = interleaved"; a new user's read, session 52). Data 12 =
    // 1,536 GPUs / (TP8 × PP16).
    const std::string megatron = (kRoot / "scenarios" / "validation" / "megatron-145.6b.toml").string();
    const auto m = test::run_cli("plan " + megatron + " --fix tensor=8 --fix pipeline=16 --fix schedule=dualpipe --fix micro_batch=1 "
                                 "--fix recompute=selective");
    INFO(m.out);
    const std::string dualpipe = "--set 'parallelism.pipeline=16' --set 'parallelism.data=12' --set 'parallelism.schedule=\"dualpipe\"' "
                                 "--set 'parallelism.virtual_stages=1' --set 'parallelism.recompute=\"selective\"'";
    CHECK_THAT(m.out, Catch::Contains("to run rank 1: gpuhours run '" + megatron + "' " + dualpipe + "\n"));
    // A scenario whose layout fields the search changes beyond the degrees (Llama 3 8B's recipe: recompute_num_layers
    // for full recomputation, sequence parallelism at TP > 1): the line sets those too and reads back as rank 1 (it
    // was refused, "recompute_num_layers applies to recompute = full"; a reviewer's read, session 52).
    const std::string llama = (kRoot / "scenarios" / "validation" / "megatron-bridge-llama3-8b-fp8-h100.toml").string();
    const auto l8 = test::run_cli("plan " + llama + " --fix recompute=selective --fix tensor=1 --fix pipeline=1");
    INFO(l8.out);
    CHECK_THAT(l8.out, Catch::Contains("to run rank 1: gpuhours run '" + llama + "'"));
    CHECK_THAT(l8.out, !Catch::Contains("refused") && !Catch::Contains("cannot be written"));
    CHECK(test::run_cli("check " + megatron + " " + dualpipe).exit_code == 0);
}
