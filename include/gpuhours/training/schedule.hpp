// Pipeline schedules as generators of per-stage operation order (training layer).
//
// A schedule turns (stages p, micro-batches m, virtual stages v) into, for every pipeline stage, the ordered list
// of passes it runs. The order on a stage is a contract: the step simulator submits a stage's ops to one serial
// resource (a CUDA stream) in exactly this order. What an op waits for on other stages is given by
// `PipelinePlan::dependencies`; nothing about time, FLOPs or bytes lives here.
//
// Vocabulary
// - F: forward of one micro-batch through one model chunk.
// - B: full backward (input gradient + weight gradient).
// - Bi: input-gradient-only backward (zero-bubble split; Qi et al., "Zero Bubble Pipeline Parallelism",
//   arXiv 2401.10241, §2), whose weight gradient runs later as W.
// - W: weight-gradient pass of a Bi that ran earlier on the same stage.
// - F&B: DualPipe's overlapped pair (DeepSeek-V3, arXiv 2412.19437, §3.2.1, Fig. 4–5): a forward of one direction
//   and a full backward of the other direction, run as one op so that each half's communication can hide behind
//   the other half's compute. Combined 1F1B (below) pairs a forward and a backward of two micro-batches the same
//   way.
//
// Model chunks. The model is cut into `model_chunks()` pieces that every micro-batch runs in order 0, 1, …:
// - GPipe, 1F1B, ZB-H1: p chunks, chunk c on stage c (local chunk 0).
// - Interleaved: p·v chunks; stage r holds local chunks 0..v−1, local chunk j being model chunk j·p + r
//   (Narayanan et al. 2021, §2.2).
// - DualPipe: p chunks; micro-batches 0..m/2−1 flow "down" (direction 0: chunk c on stage c) and micro-batches
//   m/2..m−1 flow "up" (direction 1: chunk c on stage p−1−c). Stage i therefore holds chunk i and chunk p−1−i, so
//   every chunk's parameters exist twice (DeepSeek-V3 Table 2: "Parameter 2×"). An op's local chunk is its
//   direction.
#pragma once

#include <gpuhours/workload/parallel.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/units/units.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuhours {

enum class PassKind {
    forward,          // F
    backward,         // B: input + weight gradient
    backward_input,   // Bi: input gradient only; its W follows later on the same stage
    backward_weight,  // W
};
std::string_view to_string(PassKind kind);  // "F", "B", "Bi", "W"

// One pass of one micro-batch through one model chunk held by the stage that runs it.
struct Pass {
    PassKind kind = PassKind::forward;
    int micro_batch = 0;  // 0..m−1 (DualPipe: counted over both directions, see above)
    int local_chunk = 0;  // interleaved: virtual stage 0..v−1; DualPipe: direction 0 or 1; otherwise 0
    friend bool operator==(const Pass&, const Pass&) = default;
};

enum class PipelineOpKind { forward, backward, backward_input, backward_weight, forward_backward };

// One entry of a stage's order: a single pass, or an overlapped F&B pair (DualPipe, combined 1F1B).
struct PipelineOp {
    Pass pass;                       // the forward, for an F&B pair
    std::optional<Pass> overlapped;  // F&B only: the full backward (another micro-batch) sharing this op

    [[nodiscard]] PipelineOpKind kind() const;
    // "F3", "F3.c1" (local chunk shown when non-zero), "Bi3", "W3", "F3&B9.c1".
    [[nodiscard]] std::string label() const;
};

// Position of an op: its stage and its index in that stage's order.
struct OpRef {
    int stage = 0;
    int index = 0;
    friend bool operator==(const OpRef&, const OpRef&) = default;
};

// What an op waits for besides the op before it on its own stage.
struct OpDependency {
    OpRef op;
    bool cross_stage = false;  // true: the producer is on another stage (a p2p transfer sits in between)
};

class PipelinePlan {
public:
    // Builds the dependency index. Every (pass kind, micro-batch, model chunk) must appear at most once and the
    // ops must be consistent with the schedule's chunk layout; a violation is a programmer error
    // (std::logic_error). Use make_pipeline_plan to build one.
    PipelinePlan(Schedule schedule, int stages, int micro_batches, int virtual_stages,
                 std::vector<std::vector<PipelineOp>> ops);

    [[nodiscard]] Schedule schedule() const { return schedule_; }
    [[nodiscard]] int stages() const { return stages_; }
    [[nodiscard]] int micro_batches() const { return micro_batches_; }
    [[nodiscard]] int virtual_stages() const { return virtual_stages_; }
    // Chunks held by one stage: v for interleaved, 2 for DualPipe, else 1.
    [[nodiscard]] int chunks_per_stage() const;
    // Chunks a micro-batch runs through, in order: p·v for interleaved, else p.
    [[nodiscard]] int model_chunks() const;
    [[nodiscard]] const std::vector<PipelineOp>& ops(int stage) const {
        return ops_.at(static_cast<std::size_t>(stage));
    }
    [[nodiscard]] const PipelineOp& op(OpRef ref) const;
    [[nodiscard]] std::size_t op_count() const;

    // The model chunk a rank of `stage` holds as its `local_chunk` (0..chunks_per_stage()−1): interleaved, virtual
    // stage v's chunk v·p + stage; DualPipe, chunk `stage` (direction 0) and chunk p−1−stage (direction 1); else the
    // stage's one. For what a rank holds whatever runs (its parameters, gradients, optimizer).
    [[nodiscard]] int held_chunk(int stage, int local_chunk) const;
    // Model chunk (0..model_chunks()−1, in the order the micro-batch runs them) of `pass` on `stage`.
    [[nodiscard]] int model_chunk(int stage, const Pass& pass) const;
    // DualPipe: 0 for micro-batches entering at stage 0, 1 for those entering at stage p−1; otherwise 0.
    [[nodiscard]] int direction(int micro_batch) const;

    // The ops `ref` waits for, besides its predecessor on the same stage (implied by the order):
    // - F of chunk c waits for F of chunk c−1 (same micro-batch), on the stage holding c−1;
    // - B/Bi of chunk c waits for B/Bi of chunk c+1 on the stage holding c+1, and for its own F;
    // - W waits for its Bi.
    // An F&B op waits for the union of its two passes' dependencies. Deduplicated, in no promised order.
    [[nodiscard]] std::vector<OpDependency> dependencies(OpRef ref) const;

private:
    enum Slot { slot_forward = 0, slot_backward = 1, slot_weight = 2 };
    [[nodiscard]] std::size_t key(Slot slot, int micro_batch, int chunk) const;
    [[nodiscard]] std::optional<OpRef> find(Slot slot, int micro_batch, int chunk) const;
    void add_pass_dependencies(OpRef ref, const Pass& pass, std::vector<OpDependency>& out) const;

    Schedule schedule_;
    int stages_;
    int micro_batches_;
    int virtual_stages_;
    std::vector<std::vector<PipelineOp>> ops_;
    std::vector<std::optional<OpRef>> index_;  // key(slot, micro-batch, model chunk) → where that pass runs
};

// The per-stage order of `schedule` for p stages, m micro-batches and v virtual stages (chunks per stage; must be
// 1 unless the schedule is interleaved). Throws gpuhours::Error when the arguments do not fit the schedule:
// - all: p ≥ 1, m ≥ 1, v ≥ 1;
// - interleaved: v ≥ 2, p ≥ 2, m a multiple of p (Megatron-LM's requirement for this order);
// - DualPipe: p even, m even and m ≥ 2p (m counts both directions: m/2 enter at each end; the reference
//   implementation deepseek-ai/DualPipe asserts the same).
//
// Orders (each documented at its generator in sim/training/schedule.cpp):
// - GPipe: all m forwards in micro-batch order, then all m backwards in reverse micro-batch order (last in,
//   first out, as autograd would run one backward over the whole mini-batch).
// - 1F1B (PipeDream-Flush, Megatron non-interleaved): stage r runs min(p−r−1, m) warm-up forwards, then
//   alternates F, B, then drains the remaining backwards.
// - Interleaved 1F1B (Megatron-LM, Narayanan et al. 2021 §2.2.2): (p−r−1)·2 + (v−1)·p warm-up forwards (capped at
//   m·v); chunks cycle in groups of p micro-batches; backwards visit chunks in reverse.
// - Zero bubble ZB-H1 (Qi et al. 2024, §3.1, Fig. 3): 1F1B with B split into Bi and W; stage r lets up to r
//   W passes lag behind their Bi, so its activations peak at p, the same as 1F1B's stage 0. Compute-only bubble
//   per stage (m ≥ p): (p−1)·max(F + Bi − W, F, Bi), i.e. the paper's (p−1)(F + B − 2W) while W ≤ F and W ≤ Bi.
// - DualPipe (DeepSeek-V3 §3.2.1, Fig. 5; phases as in deepseek-ai/DualPipe `DualPipe.step`): eight phases
//   nF0, nF0F1, nB1W1F1, nF0B1F1B0 (main, overlapped pairs), nB1F1B0, nB1B0, nWB0, nW, with phase 0 meaning the
//   direction whose entry the stage is closer to. Compute-only, the two middle stages idle exactly DeepSeek-V3
//   Table 2's (p/2 − 1)(F&B + B − 3W) when F = Bi = W (the proportions of Fig. 5); outer stages run fewer
//   overlapped pairs, so they are busier and idle less. Elsewhere the expression is only an idealisation: with
//   W heavier than F or Bi it understates the bubble (it can reach zero, yet the middle stages wait
//   (p/2 − 1)·F for their first forward); with Bi heavier than W this order idles somewhat less than it says.
// - Combined 1F1B (`combined`; Megatron-Core's --overlap-moe-expert-parallel-comm, "1F1B A2A overlap"): the
//   1F1B or interleaved order with one more warm-up forward per stage, whose steady rounds of (F, B) each run as
//   one F&B op, the forward of one micro-batch beside the backward of another, so that one's expert all-to-all
//   hides behind the other's compute. Needs the interleaved schedule, or 1F1B with one stage (Megatron-Core
//   requires virtual pipeline stages when pipelining); the extra warm-up forward holds one more chunk's
//   activations.
PipelinePlan make_pipeline_plan(Schedule schedule, int stages, int micro_batches, int virtual_stages = 1,
                                bool combined = false);
// Whether combined 1F1B can pair the rounds of `schedule` on `stages` pipeline stages: the interleaved order, or
// 1F1B on one stage (Megatron-Core requires virtual pipeline stages when pipelining). The one rule make_pipeline_plan,
// the scenario's check, the layout search and the deadline search apply.
[[nodiscard]] bool combined_1f1b_pairs(Schedule schedule, int stages);
// The argument checks of make_pipeline_plan alone (the rules listed above), without building the order: for
// callers that screen many layouts (the layout search). Throws gpuhours::Error naming what to change.
void check_pipeline_shape(Schedule schedule, int stages, int micro_batches, int virtual_stages = 1, bool combined = false);
// The same rules, the first one broken returned rather than thrown (std::nullopt when the shape is accepted): for
// callers that test many shapes, most of them refused (the layout search, the scenario's hints).
[[nodiscard]] std::optional<Error> pipeline_shape_error(Schedule schedule, int stages, int micro_batches,
                                                        int virtual_stages = 1, bool combined = false);

// Peak number of activation sets (one micro-batch through one chunk) held at once on `stage`, counting a set from
// the start of its F to the end of its B or W. An F&B op counts its forward before releasing its backward, and a
// Bi releases nothing (the W still needs the layer inputs): a conservative, whole-chunk approximation of what
// ZB's memory analysis (Qi et al. §3.1) and DeepSeek-V3 Table 2 ("Activation") count.
int peak_activations(const PipelinePlan& plan, int stage);

// Durations of one pass of one micro-batch through one chunk, for compute-only runs (every stage alike).
struct PassDurations {
    SimTime forward;           // F
    SimTime backward;          // B, full (input + weight); a Bi takes backward − weight
    SimTime weight;            // W; must not exceed `backward`
    SimTime forward_backward;  // F&B overlapped pair (DualPipe); at most forward + backward when overlap helps
    SimTime p2p_latency;       // added to every cross-stage dependency
};

// Duration of `op` under `d`.
SimTime op_duration(const PipelineOp& op, const PassDurations& d);

struct StageTime {
    SimTime busy;  // sum of the stage's op durations
    SimTime idle;  // makespan − busy: warm-up, waiting and drain bubbles together
};

struct PipelineTiming {
    SimTime makespan;  // from time 0 to the end of the last op on any stage
    std::vector<StageTime> stages;
    std::vector<std::vector<SimTime>> op_start;  // [stage][index in the stage's order]

    // Total idle over total stage time: Σ idle / (p · makespan).
    [[nodiscard]] double bubble_fraction() const;
};

// Runs `plan` on an Engine with one serial resource per stage and one task per op (plus one zero-resource
// latency task after each op that feeds another stage, when p2p_latency > 0), and returns the makespan and each
// stage's busy and idle time. Compute only: no bandwidth, no contention, no memory limits. Throws gpuhours::Error
// for negative durations or weight > backward; throws std::logic_error if the plan's dependencies and stage
// orders form a cycle (a schedule bug).
PipelineTiming simulate_compute_only(const PipelinePlan& plan, const PassDurations& durations);

}  // namespace gpuhours
