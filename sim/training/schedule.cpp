#include <gpuhours/training/schedule.hpp>

#include <gpuhours/engine/engine.hpp>
#include <gpuhours/units/error.hpp>

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>

namespace gpuhours {

std::string_view to_string(PassKind kind) {
    switch (kind) {
        case PassKind::forward: return "F";
        case PassKind::backward: return "B";
        case PassKind::backward_input: return "Bi";
        case PassKind::backward_weight: return "W";
    }
    return "?";
}

PipelineOpKind PipelineOp::kind() const {
    if (overlapped) return PipelineOpKind::forward_backward;
    switch (pass.kind) {
        case PassKind::forward: return PipelineOpKind::forward;
        case PassKind::backward: return PipelineOpKind::backward;
        case PassKind::backward_input: return PipelineOpKind::backward_input;
        case PassKind::backward_weight: return PipelineOpKind::backward_weight;
    }
    return PipelineOpKind::forward;
}

namespace {

std::string pass_label(const Pass& p) {
    std::string s(to_string(p.kind));
    s += std::to_string(p.micro_batch);
    if (p.local_chunk != 0) s += ".c" + std::to_string(p.local_chunk);
    return s;
}

}  // namespace

std::string PipelineOp::label() const {
    std::string s = pass_label(pass);
    if (overlapped) s += "&" + pass_label(*overlapped);
    return s;
}

// ---- plan and dependency index ------------------------------------------------------------------------------

PipelinePlan::PipelinePlan(Schedule schedule, int stages, int micro_batches, int virtual_stages,
                           std::vector<std::vector<PipelineOp>> ops)
    : schedule_(schedule), stages_(stages), micro_batches_(micro_batches), virtual_stages_(virtual_stages),
      ops_(std::move(ops)) {
    if (stages_ < 1 || micro_batches_ < 1 || virtual_stages_ < 1 || ops_.size() != static_cast<std::size_t>(stages_))
        throw std::logic_error("PipelinePlan: shape does not match the op lists");
    index_.assign(static_cast<std::size_t>(3 * micro_batches_ * model_chunks()), std::nullopt);
    // How each (micro-batch, chunk) finished its backward: 0 none, 1 full B, 2 Bi (needs a W).
    std::vector<int> backward_form(static_cast<std::size_t>(micro_batches_ * model_chunks()), 0);
    for (int s = 0; s < stages_; ++s) {
        const auto& list = ops_[static_cast<std::size_t>(s)];
        for (int i = 0; i < static_cast<int>(list.size()); ++i) {
            const PipelineOp& o = list[static_cast<std::size_t>(i)];
            if (o.overlapped && (o.pass.kind != PassKind::forward || o.overlapped->kind != PassKind::backward))
                throw std::logic_error("PipelinePlan: an overlapped op must pair an F with a full B");
            for (const Pass* p : {&o.pass, o.overlapped ? &*o.overlapped : nullptr}) {
                if (p == nullptr) continue;
                if (p->micro_batch < 0 || p->micro_batch >= micro_batches_ || p->local_chunk < 0 ||
                    p->local_chunk >= chunks_per_stage() ||
                    (schedule_ == Schedule::dualpipe && p->local_chunk != direction(p->micro_batch)))
                    throw std::logic_error("PipelinePlan: pass " + pass_label(*p) + " out of range");
                const int chunk = model_chunk(s, *p);
                const Slot slot = p->kind == PassKind::forward           ? slot_forward
                                  : p->kind == PassKind::backward_weight ? slot_weight
                                                                         : slot_backward;
                auto& entry = index_[key(slot, p->micro_batch, chunk)];
                if (entry) throw std::logic_error("PipelinePlan: pass " + pass_label(*p) + " appears twice");
                entry = OpRef{s, i};
                if (slot == slot_backward)
                    backward_form[static_cast<std::size_t>(p->micro_batch * model_chunks() + chunk)] =
                        p->kind == PassKind::backward ? 1 : 2;
            }
        }
    }
    for (int mb = 0; mb < micro_batches_; ++mb) {
        for (int c = 0; c < model_chunks(); ++c) {
            const int form = backward_form[static_cast<std::size_t>(mb * model_chunks() + c)];
            const bool has_w = find(slot_weight, mb, c).has_value();
            if (!find(slot_forward, mb, c) || form == 0 || (form == 2) != has_w)
                throw std::logic_error("PipelinePlan: micro-batch " + std::to_string(mb) + " chunk " +
                                       std::to_string(c) + " lacks its F, its B, or a W matching a Bi");
        }
    }
}

int PipelinePlan::chunks_per_stage() const {
    if (schedule_ == Schedule::interleaved) return virtual_stages_;
    if (schedule_ == Schedule::dualpipe) return 2;
    return 1;
}

int PipelinePlan::model_chunks() const {
    return schedule_ == Schedule::interleaved ? stages_ * virtual_stages_ : stages_;
}

const PipelineOp& PipelinePlan::op(OpRef ref) const {
    return ops_.at(static_cast<std::size_t>(ref.stage)).at(static_cast<std::size_t>(ref.index));
}

std::size_t PipelinePlan::op_count() const {
    std::size_t n = 0;
    for (const auto& list : ops_) n += list.size();
    return n;
}

int PipelinePlan::direction(int micro_batch) const {
    if (schedule_ != Schedule::dualpipe) return 0;
    return micro_batch < micro_batches_ / 2 ? 0 : 1;
}

int PipelinePlan::held_chunk(int stage, int local_chunk) const {
    switch (schedule_) {
        case Schedule::interleaved: return local_chunk * stages_ + stage;
        case Schedule::dualpipe: return local_chunk == 0 ? stage : stages_ - 1 - stage;
        default: return stage;
    }
}

int PipelinePlan::model_chunk(int stage, const Pass& pass) const {
    switch (schedule_) {
        case Schedule::interleaved: return pass.local_chunk * stages_ + stage;
        case Schedule::dualpipe: return direction(pass.micro_batch) == 0 ? stage : stages_ - 1 - stage;
        default: return stage;
    }
}

std::size_t PipelinePlan::key(Slot slot, int micro_batch, int chunk) const {
    return static_cast<std::size_t>((static_cast<int>(slot) * micro_batches_ + micro_batch) * model_chunks() + chunk);
}

std::optional<OpRef> PipelinePlan::find(Slot slot, int micro_batch, int chunk) const {
    return index_[key(slot, micro_batch, chunk)];
}

void PipelinePlan::add_pass_dependencies(OpRef ref, const Pass& pass, std::vector<OpDependency>& out) const {
    const int chunk = model_chunk(ref.stage, pass);
    auto need = [&](Slot slot, int c) {
        const std::optional<OpRef> producer = find(slot, pass.micro_batch, c);
        if (!producer) throw std::logic_error("PipelinePlan: missing producer of " + pass_label(pass));
        if (*producer == ref) return;
        const OpDependency dep{*producer, producer->stage != ref.stage};
        if (std::find_if(out.begin(), out.end(), [&](const OpDependency& d) { return d.op == dep.op; }) == out.end())
            out.push_back(dep);
    };
    switch (pass.kind) {
        case PassKind::forward:
            if (chunk > 0) need(slot_forward, chunk - 1);
            break;
        case PassKind::backward:
        case PassKind::backward_input:
            if (chunk + 1 < model_chunks()) need(slot_backward, chunk + 1);
            need(slot_forward, chunk);
            break;
        case PassKind::backward_weight: need(slot_backward, chunk); break;
    }
}

std::vector<OpDependency> PipelinePlan::dependencies(OpRef ref) const {
    const PipelineOp& o = op(ref);
    std::vector<OpDependency> out;
    add_pass_dependencies(ref, o.pass, out);
    if (o.overlapped) add_pass_dependencies(ref, *o.overlapped, out);
    return out;
}

// ---- schedule generators ------------------------------------------------------------------------------------

namespace {

using StageOps = std::vector<PipelineOp>;

PipelineOp single(PassKind kind, int micro_batch, int local_chunk = 0) {
    return PipelineOp{Pass{kind, micro_batch, local_chunk}, std::nullopt};
}

// One steady-state round of the 1F1B orders: F then B, or under combined 1F1B (Megatron-Core's
// --overlap-moe-expert-parallel-comm, "1F1B A2A overlap"; core.pipeline_parallel.combined_1f1b) one F&B op, the
// forward of one micro-batch beside the backward of another, so that one's expert all-to-all hides behind the
// other's compute. Combined orders take one more warm-up forward per stage, so that no round pairs a backward
// with the forward it needs (without it the last stage's rounds are F i, B i); with one pipeline stage the order
// is F0, F1&B0, …, F(m−1)&B(m−2), B(m−1), that of combined_1f1b_schedule_for_no_pipelining. Only the rounds pair:
// where the warm-up takes every forward (m·v at most the warm-up), nothing does.
void steady_round(StageOps& ops, const PipelineOp& forward, const PipelineOp& backward, bool combined) {
    if (!combined) {
        ops.push_back(forward);
        ops.push_back(backward);
        return;
    }
    PipelineOp pair = forward;
    pair.overlapped = backward.pass;
    ops.push_back(pair);
}

// GPipe (Huang et al. 2019): every stage runs all forwards in micro-batch order, then all backwards in reverse
// micro-batch order. All m activation sets are alive at the turn.
std::vector<StageOps> gpipe_order(int p, int m) {
    std::vector<StageOps> stages(static_cast<std::size_t>(p));
    for (auto& ops : stages) {
        for (int i = 0; i < m; ++i) ops.push_back(single(PassKind::forward, i));
        for (int i = m - 1; i >= 0; --i) ops.push_back(single(PassKind::backward, i));
    }
    return stages;
}

// 1F1B, PipeDream-Flush (Narayanan et al. 2021 §2.2.1; Megatron-LM forward_backward_pipelining_without_interleaving):
// stage r runs w = min(p−r−1, m) warm-up forwards, then m−w rounds of (F, B), then the w outstanding backwards.
// `combined`: combined 1F1B (steady_round).
std::vector<StageOps> one_f_one_b_order(int p, int m, bool combined = false) {
    std::vector<StageOps> stages(static_cast<std::size_t>(p));
    for (int r = 0; r < p; ++r) {
        auto& ops = stages[static_cast<std::size_t>(r)];
        const int warmup = std::min(p - r - 1 + (combined ? 1 : 0), m);
        for (int i = 0; i < warmup; ++i) ops.push_back(single(PassKind::forward, i));
        for (int i = 0; i < m - warmup; ++i) {
            steady_round(ops, single(PassKind::forward, warmup + i), single(PassKind::backward, i), combined);
        }
        for (int i = m - warmup; i < m; ++i) ops.push_back(single(PassKind::backward, i));
    }
    return stages;
}

// Interleaved 1F1B (Narayanan et al. 2021 §2.2.2; Megatron-LM forward_backward_pipelining_with_interleaving).
// The stage's m·v (micro-batch, chunk) forwards are numbered k = 0..m·v−1: k runs micro-batch
// ⌊k/(p·v)⌋·p + k mod p through local chunk ⌊(k mod p·v)/p⌋ — groups of p micro-batches visit chunk 0, then 1, ….
// Backward number k visits chunks in reverse (v−1−that chunk). Warm-up: (p−r−1)·2 + (v−1)·p forwards, capped at
// m·v; then rounds of (F, B); then the remaining backwards. Megatron runs everything as warm-up when m = p; this
// plan keeps the general formula, which is also deadlock-free there (see the tests).
std::vector<StageOps> interleaved_order(int p, int m, int v, bool combined = false) {
    std::vector<StageOps> stages(static_cast<std::size_t>(p));
    const int total = m * v;
    auto micro_batch = [&](int k) { return (k / (p * v)) * p + k % p; };
    auto forward_chunk = [&](int k) { return (k % (p * v)) / p; };
    for (int r = 0; r < p; ++r) {
        auto& ops = stages[static_cast<std::size_t>(r)];
        auto fwd = [&](int k) { return single(PassKind::forward, micro_batch(k), forward_chunk(k)); };
        auto bwd = [&](int k) { return single(PassKind::backward, micro_batch(k), v - 1 - forward_chunk(k)); };
        const int warmup = std::min((p - r - 1) * 2 + (v - 1) * p + (combined ? 1 : 0), total);
        for (int k = 0; k < warmup; ++k) ops.push_back(fwd(k));
        for (int i = 0; i < total - warmup; ++i) steady_round(ops, fwd(warmup + i), bwd(i), combined);
        for (int k = total - warmup; k < total; ++k) ops.push_back(bwd(k));
    }
    return stages;
}

// ZB-H1 (Qi et al. 2024, "Zero Bubble Pipeline Parallelism", §3.1, Fig. 3 top). The 1F1B order with every B split
// into Bi (on the critical path, runs where 1F1B runs B) and W (weight gradient). Stage r lets up to r W passes
// trail their Bi; the trailing W passes run after the last Bi and fill the drain bubble that 1F1B leaves at
// the end of the later stages. Activations: stage r holds (p−r−1) warm-up + 1 + r trailing = p sets at most,
// stage 0's 1F1B peak.
// Compute-only bubble per stage for m ≥ p, with Bi = B − W: (p−1)·max(F + Bi − W, F, Bi). The paper's ZB-H1 bubble,
// (p−1)(T_F + T_B − T_W) with its B the input-gradient pass alone (our Bi), is the first term ((p−1)(F + B − 2W) with
// our B, the whole backward; not ZB-H2's, which is (p−1)(T_F + T_B − 2T_W) in the paper's terms); the others are floors no W can fill: stage p−1 waits (p−1)·F for its first forward, and
// stage 0 waits (p−1)·Bi after its warm-up for its first input gradient before it has any W to run.
std::vector<StageOps> zb_h1_order(int p, int m) {
    std::vector<StageOps> stages(static_cast<std::size_t>(p));
    for (int r = 0; r < p; ++r) {
        auto& ops = stages[static_cast<std::size_t>(r)];
        std::deque<int> pending;  // micro-batches whose Bi ran and whose W has not
        auto backward = [&](int i) {
            ops.push_back(single(PassKind::backward_input, i));
            pending.push_back(i);
            if (static_cast<int>(pending.size()) > r) {
                ops.push_back(single(PassKind::backward_weight, pending.front()));
                pending.pop_front();
            }
        };
        const int warmup = std::min(p - r - 1, m);
        for (int i = 0; i < warmup; ++i) ops.push_back(single(PassKind::forward, i));
        for (int i = 0; i < m - warmup; ++i) {
            ops.push_back(single(PassKind::forward, warmup + i));
            backward(i);
        }
        for (int i = m - warmup; i < m; ++i) backward(i);
        for (const int i : pending) ops.push_back(single(PassKind::backward_weight, i));
    }
    return stages;
}

// DualPipe (DeepSeek-V3 §3.2.1, Fig. 5; phase structure of deepseek-ai/DualPipe `DualPipe.step`).
// Per stage r: h = min(r, p−1−r) is its distance from the nearer end; "phase 0" is the direction entering at
// that end (down for the first half of the stages, up for the second half), "phase 1" the other. With n = m/2
// micro-batches per direction and H = p/2:
//   1 nF0       2(H−h−1) × F0
//   2 nF0F1     (h+1) × [F0, F1]
//   3 nB1W1F1   (H−h−1) × [Bi1, W1, F1]                 (zero-bubble split)
//   4 main      (n−p+h+1) × [F0&B1, F1&B0]              (overlapped pairs; the two middle stages run their
//                                                        first F0 and B1 separately, as the reference does)
//   5 nB1F1B0   (H−h−1) × [B1, F1&B0]
//   6 nB1B0     (h+1) × [B1, B0], the second half of these backwards split as Bi (W later)
//   7 nWB0      (H−h−1) × [W, Bi0]
//   8 nW        (h+1) × W
// Forwards and backwards of one direction run in micro-batch order; W passes run in the order of their Bi.
std::vector<StageOps> dualpipe_order(int p, int m) {
    std::vector<StageOps> stages(static_cast<std::size_t>(p));
    const int half = p / 2;
    const int n = m / 2;
    for (int r = 0; r < p; ++r) {
        auto& ops = stages[static_cast<std::size_t>(r)];
        const int h = std::min(r, p - 1 - r);
        const int flip = r >= half ? 1 : 0;
        const bool middle = h == half - 1;
        int next_forward[2] = {0, 0};
        int next_backward[2] = {0, 0};
        std::deque<Pass> pending_w;
        auto fwd_pass = [&](int phase) {
            const int dir = phase ^ flip;
            return Pass{PassKind::forward, dir * n + next_forward[dir]++, dir};
        };
        auto bwd_pass = [&](int phase, bool split) {
            const int dir = phase ^ flip;
            const Pass b{split ? PassKind::backward_input : PassKind::backward, dir * n + next_backward[dir]++, dir};
            if (split) pending_w.push_back(Pass{PassKind::backward_weight, b.micro_batch, b.local_chunk});
            return b;
        };
        auto F = [&](int phase) { ops.push_back(PipelineOp{fwd_pass(phase), std::nullopt}); };
        auto B = [&](int phase, bool split) { ops.push_back(PipelineOp{bwd_pass(phase, split), std::nullopt}); };
        auto FB = [&](int f_phase, int b_phase) {
            const Pass f = fwd_pass(f_phase);
            ops.push_back(PipelineOp{f, bwd_pass(b_phase, false)});
        };
        auto W = [&] {
            ops.push_back(PipelineOp{pending_w.front(), std::nullopt});
            pending_w.pop_front();
        };

        for (int i = 0; i < 2 * (half - h - 1); ++i) F(0);
        for (int i = 0; i < h + 1; ++i) {
            F(0);
            F(1);
        }
        for (int i = 0; i < half - h - 1; ++i) {
            B(1, true);
            W();
            F(1);
        }
        for (int i = 0; i < n - p + h + 1; ++i) {
            if (i == 0 && middle) {
                F(0);
                B(1, false);
            } else {
                FB(0, 1);
            }
            FB(1, 0);
        }
        for (int i = 0; i < half - h - 1; ++i) {
            B(1, false);
            FB(1, 0);
        }
        // Phase 6 splits from its middle on: for odd h from the B1 of round (h+1)/2, for even h from the B0 of
        // round h/2; h+1 of its 2(h+1) backwards end up split.
        const int rounds = h + 1;
        bool split = false;
        for (int i = 0; i < rounds; ++i) {
            if (i == rounds / 2 && h % 2 == 1) split = true;
            B(1, split);
            if (i == rounds / 2 && h % 2 == 0) split = true;
            B(0, split);
        }
        for (int i = 0; i < half - h - 1; ++i) {
            W();
            B(0, true);
        }
        while (!pending_w.empty()) W();
    }
    return stages;
}

// The first rule of make_pipeline_plan that the arguments break, or none. Returned, not thrown: the layout search
// and the scenario's hints test many shapes, most of them refused.
std::optional<Error> arguments_error(Schedule schedule, int p, int m, int v, bool combined) {
    const std::string name(to_string(schedule));
    if (combined && !combined_1f1b_pairs(schedule, p))
        return Error("combined 1F1B (expert all-to-all overlap) pairs the forwards and backwards of the 1F1B order: it "
                     "needs the interleaved schedule, or 1f1b with one pipeline stage, not " + name + " on " +
                         std::to_string(p) + " stage" + (p == 1 ? "" : "s") + " (Megatron-Core requires virtual pipeline "
                         "stages when pipelining)",
                     "use schedule = \"interleaved\" with virtual stages ≥ 2, or turn the overlap off");
    if (p < 1) return Error("pipeline stages = " + std::to_string(p) + " must be at least 1");
    if (m < 1) return Error("micro-batches = " + std::to_string(m) + " must be at least 1");
    if (v < 1) return Error("virtual stages = " + std::to_string(v) + " must be at least 1");
    if (schedule != Schedule::interleaved && v != 1)
        return Error("virtual stages = " + std::to_string(v) + " only applies to the interleaved schedule, not " + name,
                     "set virtual stages to 1, or use schedule = \"interleaved\"");
    if (schedule == Schedule::interleaved) {
        if (v < 2)
            return Error("the interleaved schedule needs at least 2 virtual stages per pipeline stage, got " +
                             std::to_string(v),
                         "set virtual stages ≥ 2, or use schedule = \"1f1b\"");
        if (p < 2) return Error("the interleaved schedule needs at least 2 pipeline stages, got 1");
        if (m % p != 0)
            return Error("the interleaved schedule needs micro-batches to be a multiple of pipeline stages "
                         "(Megatron-LM); got " + std::to_string(m) + " micro-batches on " + std::to_string(p) + " stages",
                         "use " + std::to_string((m / p + 1) * p) + " micro-batches");
    }
    if (schedule == Schedule::dualpipe) {
        if (p % 2 != 0)
            return Error("DualPipe needs an even number of pipeline stages, got " + std::to_string(p),
                         "use " + std::to_string(p + 1) + " stages");
        if (m % 2 != 0 || m < 2 * p)
            return Error("DualPipe needs an even number of micro-batches, at least twice the pipeline stages (half "
                         "enter at each end); got " + std::to_string(m) + " on " + std::to_string(p) + " stages",
                         "use at least " + std::to_string(std::max(2 * p, m + m % 2)) + " micro-batches");
    }
    return std::nullopt;
}

}  // namespace

bool combined_1f1b_pairs(Schedule schedule, int stages) {
    return schedule == Schedule::interleaved || (schedule == Schedule::one_f_one_b && stages == 1);
}

std::optional<Error> pipeline_shape_error(Schedule schedule, int stages, int micro_batches, int virtual_stages,
                                          bool combined) {
    return arguments_error(schedule, stages, micro_batches, virtual_stages, combined);
}

void check_pipeline_shape(Schedule schedule, int stages, int micro_batches, int virtual_stages, bool combined) {
    if (auto error = arguments_error(schedule, stages, micro_batches, virtual_stages, combined)) throw *error;
}

PipelinePlan make_pipeline_plan(Schedule schedule, int stages, int micro_batches, int virtual_stages, bool combined) {
    check_pipeline_shape(schedule, stages, micro_batches, virtual_stages, combined);
    std::vector<StageOps> ops;
    switch (schedule) {
        case Schedule::gpipe: ops = gpipe_order(stages, micro_batches); break;
        case Schedule::one_f_one_b: ops = one_f_one_b_order(stages, micro_batches, combined); break;
        case Schedule::interleaved: ops = interleaved_order(stages, micro_batches, virtual_stages, combined); break;
        case Schedule::zero_bubble: ops = zb_h1_order(stages, micro_batches); break;
        case Schedule::dualpipe: ops = dualpipe_order(stages, micro_batches); break;
    }
    return PipelinePlan(schedule, stages, micro_batches, virtual_stages, std::move(ops));
}

int peak_activations(const PipelinePlan& plan, int stage) {
    int held = 0;
    int peak = 0;
    auto release = [](const Pass& p) { return p.kind == PassKind::backward || p.kind == PassKind::backward_weight; };
    for (const PipelineOp& o : plan.ops(stage)) {
        if (o.pass.kind == PassKind::forward) peak = std::max(peak, ++held);
        if (release(o.pass)) --held;
        if (o.overlapped && release(*o.overlapped)) --held;
    }
    return peak;
}

// ---- compute-only run on the engine -------------------------------------------------------------------------

SimTime op_duration(const PipelineOp& op, const PassDurations& d) {
    switch (op.kind()) {
        case PipelineOpKind::forward: return d.forward;
        case PipelineOpKind::backward: return d.backward;
        case PipelineOpKind::backward_input: return d.backward - d.weight;
        case PipelineOpKind::backward_weight: return d.weight;
        case PipelineOpKind::forward_backward: return d.forward_backward;
    }
    return SimTime::zero();
}

double PipelineTiming::bubble_fraction() const {
    if (stages.empty() || makespan == SimTime::zero()) return 0.0;
    std::int64_t idle = 0;
    for (const StageTime& s : stages) idle += s.idle.picoseconds();
    return static_cast<double>(idle) /
           (static_cast<double>(makespan.picoseconds()) * static_cast<double>(stages.size()));
}

PipelineTiming simulate_compute_only(const PipelinePlan& plan, const PassDurations& durations) {
    const SimTime zero = SimTime::zero();
    if (durations.forward < zero || durations.backward < zero || durations.weight < zero ||
        durations.forward_backward < zero || durations.p2p_latency < zero)
        throw Error("pass durations and p2p latency must not be negative");
    if (durations.weight > durations.backward)
        throw Error("the weight-gradient pass W cannot take longer than the full backward B it is part of",
                    "set weight ≤ backward");

    const int p = plan.stages();
    Engine engine;
    std::vector<ResourceId> resource;
    for (int s = 0; s < p; ++s) resource.push_back(engine.add_resource("stage " + std::to_string(s)));

    // Ops are added in an order where every producer precedes its consumers (Kahn's algorithm over the stage
    // orders plus the plan's dependencies), so each stage's ops are submitted to its resource in plan order.
    std::vector<std::vector<TaskId>> task(static_cast<std::size_t>(p));
    std::vector<std::vector<std::optional<TaskId>>> send(static_cast<std::size_t>(p));
    for (int s = 0; s < p; ++s) send[static_cast<std::size_t>(s)].resize(plan.ops(s).size());
    auto added = [&](OpRef r) { return r.index < static_cast<int>(task[static_cast<std::size_t>(r.stage)].size()); };
    std::size_t remaining = plan.op_count();
    while (remaining > 0) {
        bool progress = false;
        for (int s = 0; s < p; ++s) {
            auto& mine = task[static_cast<std::size_t>(s)];
            while (mine.size() < plan.ops(s).size()) {
                const OpRef ref{s, static_cast<int>(mine.size())};
                const std::vector<OpDependency> deps = plan.dependencies(ref);
                if (!std::all_of(deps.begin(), deps.end(), [&](const OpDependency& d) { return added(d.op); })) break;
                TaskSpec spec;
                const PipelineOp& o = plan.op(ref);
                spec.name = "stage " + std::to_string(s) + " " + o.label();
                spec.resource = resource[static_cast<std::size_t>(s)];
                spec.work = FixedDuration{op_duration(o, durations)};
                for (const OpDependency& d : deps) {
                    const TaskId producer =
                        task[static_cast<std::size_t>(d.op.stage)][static_cast<std::size_t>(d.op.index)];
                    if (!d.cross_stage || durations.p2p_latency == zero) {
                        spec.after.push_back(producer);
                        continue;
                    }
                    auto& link = send[static_cast<std::size_t>(d.op.stage)][static_cast<std::size_t>(d.op.index)];
                    if (!link) {
                        link = engine.add_task(TaskSpec{"p2p after " + engine.name(producer), std::nullopt,
                                                        {producer}, FixedDuration{durations.p2p_latency}});
                    }
                    spec.after.push_back(*link);
                }
                mine.push_back(engine.add_task(std::move(spec)));
                --remaining;
                progress = true;
            }
        }
        if (!progress) {
            std::string stuck;
            for (int s = 0; s < p; ++s) {
                const std::size_t next = task[static_cast<std::size_t>(s)].size();
                if (next < plan.ops(s).size())
                    stuck += " stage " + std::to_string(s) + " at " + plan.ops(s)[next].label() + ";";
            }
            throw std::logic_error("pipeline plan deadlocks:" + stuck);
        }
    }

    engine.run();
    PipelineTiming timing;
    timing.stages.resize(static_cast<std::size_t>(p));
    timing.op_start.resize(static_cast<std::size_t>(p));
    for (int s = 0; s < p; ++s) {
        for (std::size_t i = 0; i < plan.ops(s).size(); ++i) {
            const TaskId id = task[static_cast<std::size_t>(s)][i];
            timing.op_start[static_cast<std::size_t>(s)].push_back(*engine.start_time(id));
            timing.stages[static_cast<std::size_t>(s)].busy += op_duration(plan.ops(s)[i], durations);
            timing.makespan = std::max(timing.makespan, *engine.finish_time(id));
        }
    }
    for (StageTime& st : timing.stages) st.idle = timing.makespan - st.busy;
    return timing;
}

}  // namespace gpuhours
