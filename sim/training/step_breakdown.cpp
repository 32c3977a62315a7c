// The step's summary once the engine has run: where each simulated GPU's time went (compute, recompute,
// optimizer, communication exposed and on link per axis, bubble), its means and per-stage rows, the trace,
// FLOPs and utilisation (MFU, HFU), and memory per stage.
#include "step_builder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

namespace gpuhours::detail {

namespace {

// A busy span of a stream, in picoseconds; a collective's axis (axis_index), 0 on the compute stream; the task's
// place in the order the spans were collected (task order, a merged run's segments numbered in theirs).
struct Interval {
    std::int64_t start;
    std::int64_t end;
    std::uint32_t axis;
    std::uint32_t task;
};

// By start, ties in task order.
bool before(const Interval& x, const Interval& y) { return x.start != y.start ? x.start < y.start : x.task < y.task; }
bool strictly_increasing(std::span<const Interval> v) {
    return std::adjacent_find(v.begin(), v.end(), [](const Interval& a, const Interval& c) { return a.start >= c.start; }) ==
           v.end();
}

// Sorts by start, ties in task order. Intervals already in strictly increasing start (most: a stream's tasks run in
// submission order) are left as they are.
void sort_by_start(std::span<Interval> v) {
    if (strictly_increasing(v)) return;
    std::sort(v.begin(), v.end(), before);
}

// Where a simulated rank's spans are kept, one lane per stream: the compute stream (compute, recompute,
// optimizer), the communication stream, incoming pipeline sends, the data-parallel gather stream and reduction
// stream. A stream's tasks run one after the other in task order, so its lane is (nearly always) already sorted.
enum Lane : std::size_t { compute_lane, comm_lane, p2p_lane, gather_lane, reduce_lane, lane_count };

// The trace's stream name of a task of `role`.
const char* stream_of(TaskRole role) {
    switch (role) {
        case TaskRole::comm: return "comm";
        case TaskRole::dp_comm: return "dp";
        case TaskRole::dp_reduce: return "dp reduce";
        case TaskRole::p2p: return "p2p";
        case TaskRole::compute:
        case TaskRole::recompute:
        case TaskRole::optimizer: return "compute";
    }
    return "compute";
}

Lane lane_of(TaskRole role) {
    switch (role) {
        case TaskRole::compute:
        case TaskRole::recompute:
        case TaskRole::optimizer: return compute_lane;
        case TaskRole::comm: return comm_lane;
        case TaskRole::p2p: return p2p_lane;
        case TaskRole::dp_comm: return gather_lane;
        case TaskRole::dp_reduce: return reduce_lane;
    }
    return compute_lane;
}

// Lanes `a` and `b` as one sequence sorted by start, ties in task order, into `out`.
void sorted_union(std::span<Interval> a, std::span<Interval> b, std::vector<Interval>& out) {
    sort_by_start(a);
    sort_by_start(b);
    out.resize(a.size() + b.size());
    std::merge(a.begin(), a.end(), b.begin(), b.end(), out.begin(), before);
}

// One rank's times in whole picoseconds (exact sums, whatever the order the spans come in), made seconds at the end.
struct Totals {
    std::int64_t compute = 0, recompute = 0, optimizer = 0, bubble = 0;
    std::array<std::int64_t, kCommAxes.size()> exposed{}, on_link{};

    void add(TaskRole role, CommAxis axis, std::int64_t d) {
        switch (role) {
            case TaskRole::compute: compute += d; break;
            case TaskRole::recompute: recompute += d; break;
            case TaskRole::optimizer: optimizer += d; break;
            case TaskRole::comm:
            case TaskRole::dp_comm:
            case TaskRole::dp_reduce:
            case TaskRole::p2p: on_link[axis_index(axis)] += d; break;
        }
    }
    // Another's sums (a merged run's, laid out as one span: its inner exposure included).
    void add(const Totals& o) {
        compute += o.compute;
        recompute += o.recompute;
        optimizer += o.optimizer;
        bubble += o.bubble;
        for (std::size_t a = 0; a < kCommAxes.size(); ++a) {
            exposed[a] += o.exposed[a];
            on_link[a] += o.on_link[a];
        }
    }
    void into(StepBreakdown& b) const {
        auto s = [](std::int64_t ps) { return SimTime::from_picoseconds(ps).to_seconds(); };
        b.compute = s(compute);
        b.recompute = s(recompute);
        b.optimizer = s(optimizer);
        b.bubble = s(bubble);
        for (std::size_t a = 0; a < kCommAxes.size(); ++a) {
            b.exposed[a] = s(exposed[a]);
            b.on_link[a] = s(on_link[a]);
        }
    }
};

// A merged run's shape: its compute span from its first compute segment's start to its last one's end (offsets from
// the task's start), the collectives before and after it, the starts of those inside it, and its sums.
struct Shape {
    bool computes = false;
    std::uint32_t first_compute = 0, last_compute = 0;  // segment indices in the run
    std::int64_t begin = 0, end = 0;
    std::vector<std::int64_t> inner_starts;  // offsets of the collectives between them, increasing
    Totals sums;                             // compute, recompute, on_link of every segment; exposed: the inner ones
};

// The shapes of StepBuilder's runs (`runs`: first, count; `segments`: duration, role, axis).
template <class Runs, class Segments>
std::vector<Shape> shapes_of(const Runs& runs, const Segments& segments) {
    std::vector<Shape> shapes(runs.size());
    for (std::size_t r = 0; r < runs.size(); ++r) {
        Shape& sh = shapes[r];
        std::int64_t at = 0;
        for (std::uint32_t j = 0; j < runs[r].count; ++j) {
            const auto& seg = segments[runs[r].first + j];
            const std::int64_t d = seg.duration.picoseconds();
            sh.sums.add(seg.role, seg.axis, d);
            if (seg.role != TaskRole::comm) {
                if (!sh.computes) {
                    sh.begin = at;
                    sh.first_compute = j;
                }
                sh.computes = true;
                sh.last_compute = j;
                sh.end = at + d;
            }
            at += d;
        }
        at = 0;
        for (std::uint32_t j = 0; j < runs[r].count; ++j) {
            const auto& seg = segments[runs[r].first + j];
            if (seg.role == TaskRole::comm && sh.computes && j > sh.first_compute && j < sh.last_compute) {
                sh.inner_starts.push_back(at);
                sh.sums.exposed[axis_index(seg.axis)] += seg.duration.picoseconds();
            }
            at += seg.duration.picoseconds();
        }
    }
    return shapes;
}

// Each rank's incoming pipeline sends, by start, with the latest end so far.
class Sends {
public:
    explicit Sends(std::size_t ranks) : sends_(ranks), reach_(ranks) {}
    void add(std::size_t k, std::int64_t start, std::int64_t end) { sends_[k].emplace_back(start, end); }
    void sort() {
        for (std::size_t k = 0; k < sends_.size(); ++k) {
            std::sort(sends_[k].begin(), sends_[k].end());
            for (const auto& [s, e] : sends_[k]) reach_[k].push_back(std::max(reach_[k].empty() ? e : reach_[k].back(), e));
        }
    }
    // Whether a send into rank k is in flight where one of the inner collectives of a run of shape `sh` started at
    // `s0` starts (a send from [cs, ce) with cs ≤ start < ce).
    [[nodiscard]] bool reach_inside(std::size_t k, const Shape& sh, std::int64_t s0) const {
        const std::int64_t from = s0 + sh.begin, to = s0 + sh.end;
        const auto& list = sends_[k];
        auto i = static_cast<std::size_t>(std::upper_bound(reach_[k].begin(), reach_[k].end(), from) - reach_[k].begin());
        for (; i < list.size() && list[i].first < to; ++i) {
            const auto [cs, ce] = list[i];
            if (ce <= from) continue;
            const auto it = std::lower_bound(sh.inner_starts.begin(), sh.inner_starts.end(), cs - s0);
            if (it != sh.inner_starts.end() && s0 + *it < ce) return true;
        }
        return false;
    }

private:
    std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> sends_;
    std::vector<std::vector<std::int64_t>> reach_;
};

// The part of each idle gap [a, z) covered by the collectives of `cs` (sorted by start), in increasing time:
// exposed on that axis (the one that started first where several overlap; the first in task order where they
// start together). Gaps must come in increasing time, so the collectives that ended before a gap can be skipped for
// good: with reach[i] the latest end among cs[0..i], every collective before the first i with reach[i] > a ended by
// a. This keeps the accounting linear in intervals.
class Coverage {
public:
    Coverage(std::span<const Interval> cs, std::vector<std::int64_t>& reach) : cs_(cs), reach_(reach) {
        reach_.resize(cs_.size());
        for (std::size_t i = 0; i < cs_.size(); ++i) reach_[i] = std::max(i > 0 ? reach_[i - 1] : cs_[i].end, cs_[i].end);
    }
    // Adds the covered part of [a, z) to `t.exposed`; calls hole(from, to) for each uncovered piece, in order.
    template <class Hole>
    void account(Totals& t, std::int64_t a, std::int64_t z, Hole&& hole) {
        if (z <= a) return;
        while (first_ < cs_.size() && reach_[first_] <= a) ++first_;
        std::int64_t cursor = a;
        for (std::size_t i = first_; i < cs_.size(); ++i) {
            const Interval& c = cs_[i];
            if (c.start >= z) break;
            if (c.end <= cursor) continue;
            const std::int64_t from = std::max(c.start, cursor);
            const std::int64_t to = std::min(c.end, z);
            if (to > from) {
                if (from > cursor) hole(cursor, from);
                t.exposed[c.axis] += to - from;
                cursor = to;
            }
        }
        if (z > cursor) hole(cursor, z);
    }

private:
    std::span<const Interval> cs_;
    std::vector<std::int64_t>& reach_;
    std::size_t first_ = 0;
};

// Scratch of account_idle, reused across ranks.
struct IdleScratch {
    std::vector<Interval> in_line, beside;
    std::vector<std::int64_t> in_line_reach, beside_reach;
};

// Idle gaps of one compute stream until `makespan`: covered by the rank's collectives that its passes wait for in
// line (the communication stream and pipeline sends) → exposed on that axis; what they leave uncovered but the
// data-parallel streams' collectives cover (ZeRO-3 gathers, gradient buckets, which the compute stream waits for
// only at a gather or at the optimizer) → exposed on theirs; the rest → bubble. `lanes`: the rank's spans by Lane.
// A merged run's compute span holds gaps that its own collectives fill exactly and that nothing else in line
// reaches (rank_breakdowns checks it, and counts their exposure with the run's sums).
void account_idle(Totals& totals, std::array<std::span<Interval>, lane_count> lanes, IdleScratch& scratch,
                  std::int64_t makespan) {
    std::span<Interval> intervals = lanes[compute_lane];
    sort_by_start(intervals);
    sorted_union(lanes[comm_lane], lanes[p2p_lane], scratch.in_line);
    sorted_union(lanes[gather_lane], lanes[reduce_lane], scratch.beside);
    Coverage in_line(scratch.in_line, scratch.in_line_reach);
    Coverage beside(scratch.beside, scratch.beside_reach);
    auto bubble = [&](std::int64_t from, std::int64_t to) { totals.bubble += to - from; };
    auto hole = [&](std::int64_t from, std::int64_t to) { beside.account(totals, from, to, bubble); };
    std::int64_t t = 0;
    for (const auto& iv : intervals) {
        in_line.account(totals, t, iv.start, hole);
        t = std::max(t, iv.end);
    }
    in_line.account(totals, t, makespan, hole);
}

}  // namespace

// The step's result from the engine's schedule of `makespan`.
StepResult StepBuilder::collect(SimTime makespan) {
    StepResult result;
    result.step_time = makespan.to_seconds();
    result.micro_batches = micro_batches_;
    result.simulated_ranks = static_cast<int>(simulated_.size());
    result.tasks = engine_.task_count() + merged_away_;
    result.engine_tasks = engine_.task_count();
    result.mode = spec_.mode;
    result.compute_precision = spec_.precision.compute;

    const std::vector<StepBreakdown> per_rank = rank_breakdowns(makespan, result.trace);
    // Means over simulated ranks, and one row per stage (its first simulated rank).
    const double n = static_cast<double>(simulated_.size());
    for (const StepBreakdown& b : per_rank) {
        result.breakdown.compute += b.compute / n;
        result.breakdown.recompute += b.recompute / n;
        result.breakdown.optimizer += b.optimizer / n;
        result.breakdown.bubble += b.bubble / n;
        for (std::size_t a = 0; a < kCommAxes.size(); ++a) {
            result.breakdown.exposed[a] += b.exposed[a] / n;
            result.breakdown.on_link[a] += b.on_link[a] / n;
            result.breakdown.volume[a] += b.volume[a] / n;
        }
    }
    for (int s = 0; s < layout_.pipeline; ++s) {
        const int r = stage_ranks_[static_cast<std::size_t>(s)].front();
        result.stages.push_back(StageStep{s, r, per_rank[slot_of(r)]});
    }

    add_flops(result);

    MemoryOptions memory;
    memory.micro_batches = micro_batches_;
    memory.attention_kernel = spec_.attention_kernel;
    memory.dropout = spec_.dropout;
    result.memory = memory_per_stage(spec_.model, layout_, spec_.precision, shape_, memory);
    return result;
}

// Each simulated GPU's breakdown, from the engine's start and finish times of every task; the trace events as well
// when StepSpec::record_trace. Spans go into one array, each rank's lanes in a range of it counted beforehand. A
// merged run (add_merged) is one compute span whose inner gaps its own collectives fill, unless a pipeline send
// into the rank is in flight where one of those collectives starts (then the collective started first, or together,
// may be the send: the run is laid out segment by segment and accounted like any other spans).
std::vector<StepBreakdown> StepBuilder::rank_breakdowns(SimTime makespan, std::vector<TraceEvent>& trace) {
    const std::size_t n = simulated_.size();
    const auto tasks = static_cast<std::uint32_t>(std::min(info_.size(), engine_.task_count()));

    const std::vector<Shape> shapes = shapes_of(runs_, run_segments_);
    Sends sends(n);
    for (std::uint32_t i = 0; i < tasks; ++i) {
        const TaskInfo& t = info_[i];
        if (t.role != TaskRole::p2p || t.rank < 0 || t.group >= 0) continue;
        const auto start = engine_.start_time(TaskId{i});
        const auto end = engine_.finish_time(TaskId{i});
        if (start && end) sends.add(slot_of(t.rank), start->picoseconds(), end->picoseconds());
    }
    sends.sort();

    std::vector<std::uint8_t> as_span(tasks, 0);
    std::vector<std::size_t> fill(n * lane_count + 1, 0);  // counts, then each lane's next free place
    for (std::uint32_t i = 0; i < tasks; ++i) {
        const TaskInfo& t = info_[i];
        if (t.run >= 0) {
            const Run& run = runs_[static_cast<std::size_t>(t.run)];
            const Shape& sh = shapes[static_cast<std::size_t>(t.run)];
            const std::size_t k = slot_of(t.rank);
            const auto start = engine_.start_time(TaskId{i});
            if (start && sh.computes && !sends.reach_inside(k, sh, start->picoseconds())) {
                as_span[i] = 1;
                ++fill[k * lane_count + compute_lane + 1];
                fill[k * lane_count + comm_lane + 1] += sh.first_compute + (run.count - 1 - sh.last_compute);
                continue;
            }
            for (std::uint32_t j = run.first; j < run.first + run.count; ++j) {
                ++fill[k * lane_count + lane_of(run_segments_[j].role) + 1];
            }
            continue;
        }
        if (t.group < 0) {
            if (t.rank >= 0) ++fill[slot_of(t.rank) * lane_count + lane_of(t.role) + 1];
            continue;
        }
        for (int r : ranks_of(t)) ++fill[slot_of(r) * lane_count + lane_of(t.role) + 1];
    }
    for (std::size_t j = 1; j < fill.size(); ++j) fill[j] += fill[j - 1];
    const std::vector<std::size_t> begin = fill;
    std::vector<Interval> spans(fill.back());
    std::vector<Totals> totals(n);
    // Spans are numbered in task order, a merged task's segments in theirs (ties in line are broken by it).
    std::uint32_t order = 0;
    for (std::uint32_t i = 0; i < tasks; ++i) {
        const TaskId id{i};
        const auto start = engine_.start_time(id);
        const auto end = engine_.finish_time(id);
        if (!start || !end) continue;
        const TaskInfo& t = info_[i];
        if (t.rank < 0 && t.group < 0) continue;  // no rank's (a pass's end marker)
        if (t.run >= 0) {  // its segments one after the other from its start, as their own tasks ran
            const Run& run = runs_[static_cast<std::size_t>(t.run)];
            const Shape& sh = shapes[static_cast<std::size_t>(t.run)];
            const std::size_t k = slot_of(t.rank);
            const std::uint32_t base = order;
            order += run.count;
            const std::int64_t s0 = start->picoseconds();
            auto comm_span = [&](std::uint32_t j, std::int64_t at) {
                const RunSegment& seg = run_segments_[run.first + j];
                spans[fill[k * lane_count + comm_lane]++] =
                    Interval{at, at + seg.duration.picoseconds(), static_cast<std::uint32_t>(axis_index(seg.axis)), base + j};
                return at + seg.duration.picoseconds();
            };
            if (as_span[i]) {  // the collectives before its compute span, the span, the collectives after it
                totals[k].add(sh.sums);
                std::int64_t at = s0;
                for (std::uint32_t j = 0; j < sh.first_compute; ++j) at = comm_span(j, at);
                spans[fill[k * lane_count + compute_lane]++] = Interval{s0 + sh.begin, s0 + sh.end, 0, base + sh.first_compute};
                at = s0 + sh.end;
                for (std::uint32_t j = sh.last_compute + 1; j < run.count; ++j) at = comm_span(j, at);
                continue;
            }
            std::int64_t at = s0;
            for (std::uint32_t j = 0; j < run.count; ++j) {
                const RunSegment& seg = run_segments_[run.first + j];
                const std::int64_t to = at + seg.duration.picoseconds();
                const Lane lane = lane_of(seg.role);
                totals[k].add(seg.role, seg.axis, seg.duration.picoseconds());
                spans[fill[k * lane_count + lane]++] =
                    Interval{at, to, static_cast<std::uint32_t>(lane == compute_lane ? 0 : axis_index(seg.axis)), base + j};
                at = to;
            }
            continue;
        }
        const std::uint32_t index = order++;
        const std::int64_t d = (*end - *start).picoseconds();
        const Lane lane = lane_of(t.role);
        const auto axis = static_cast<std::uint32_t>(lane == compute_lane ? 0 : axis_index(t.axis));
        // The task's ranks: its one rank, or (full mode) its group's members.
        const std::span<const int> ranks = t.group < 0 ? std::span<const int>(&t.rank, 1) : ranks_of(t);
        for (int r : ranks) {
            const std::size_t k = slot_of(r);
            totals[k].add(t.role, t.axis, d);
            spans[fill[k * lane_count + lane]++] = Interval{start->picoseconds(), end->picoseconds(), axis, index};
            if (spec_.record_trace) trace.push_back(TraceEvent{r, stream_of(t.role), engine_.name(id), *start, *end, t.from_stage});
        }
    }
    IdleScratch scratch;
    std::vector<StepBreakdown> per_rank(n);
    for (std::size_t k = 0; k < n; ++k) {
        std::array<std::span<Interval>, lane_count> lanes;
        for (std::size_t l = 0; l < lane_count; ++l) {
            const std::size_t j = k * lane_count + l;
            lanes[l] = std::span<Interval>(spans).subspan(begin[j], fill[j] - begin[j]);
        }
        account_idle(totals[k], lanes, scratch, makespan.picoseconds());
        totals[k].into(per_rank[k]);
        per_rank[k].volume = volume_[k];
    }
    return per_rank;
}

// FLOPs and utilisation.
void StepBuilder::add_flops(StepResult& result) {
    const double tokens = static_cast<double>(spec_.global_batch) * spec_.sequence_length;
    const double gpus = spec_.cluster.gpus;
    result.model_flops_causal = training_flops_per_token(spec_.model, spec_.sequence_length, AttentionMask::causal) * tokens;
    result.model_flops_full = training_flops_per_token(spec_.model, spec_.sequence_length, AttentionMask::full) * tokens;
    // Per-GPU recomputation of one micro-batch: each model chunk it runs through once. Not every stage's local chunks:
    // under DualPipe a stage holds two chunks (its own and stage p−1−s's, one per direction), so that sum counted
    // every chunk twice and HFU's recomputation double (the flagship's 44.6 % for 41.9 %: a researcher's read).
    Flops recompute;
    for (int c = 0; c < plan_->model_chunks(); ++c) recompute += chunk(c).recompute_flops;
    // Per-GPU recomputation per micro-batch, summed over the chunks, × micro-batches × GPUs per stage.
    const double per_stage_gpus = gpus / layout_.pipeline;
    result.full_square_attention = spec_.attention_kernel == AttentionKernel::materialized;
    result.hardware_flops = (result.full_square_attention ? result.model_flops_full : result.model_flops_causal) +
                            recompute * (micro_batches_ * per_stage_gpus);
    const Seconds t = result.step_time;
    const FlopsPerSecond peak = spec_.cluster.chip.peak(spec_.precision.compute);
    const FlopsPerSecond bf16 = spec_.cluster.chip.peak(Precision::bf16);
    result.model_flops_per_gpu = result.model_flops_causal / t / gpus;
    result.mfu_causal = (result.model_flops_causal / t / gpus) / peak;
    result.mfu_full = (result.model_flops_full / t / gpus) / peak;
    result.mfu_bf16_causal = (result.model_flops_causal / t / gpus) / bf16;
    result.mfu_bf16_full = (result.model_flops_full / t / gpus) / bf16;
    result.hfu = (result.hardware_flops / t / gpus) / peak;
    result.hfu_bf16 = (result.hardware_flops / t / gpus) / bf16;
    // No kernel runs faster than its format's peak (training/kernel.hpp): GEMMs in the compute format, attention at
    // most at the larger of that peak and BF16's. FLOPs executed faster than the larger peak are a bug in the step,
    // never a figure to print (#12: MFU over 100 % is an internal check).
    const double fastest = std::max(peak.value(), bf16.value());
    const double executed = result.hardware_flops.value() / t.value() / gpus;
    if (!(executed <= fastest * (1 + 1e-9)) || !(result.mfu_full >= 0.0)) {
        throw std::logic_error(fmt::format("the step executed {:.4g} FLOP/s per GPU, above the chip's fastest peak used ({:.4g}): "
                                           "HFU {:.1f}% against it",
                                           executed, fastest, 100 * executed / fastest));
    }
}

}  // namespace gpuhours::detail
