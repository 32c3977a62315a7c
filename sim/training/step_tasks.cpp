// Engine tasks of the pipeline: each op's passes as chains of segments on every simulated GPU's compute and
// communication streams, with the point-to-point sends between stages, added in dependency order.
#include "step_builder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace gpuhours::detail {

// Adds an engine task and records its role, axis and ranks.
TaskId StepBuilder::add(TaskSpec spec, TaskRole role, CommAxis axis, int rank) {
    const TaskId id = engine_.add_task(std::move(spec));
    set_info(id, TaskInfo{role, axis, rank, -1});
    return id;
}

TaskId StepBuilder::add_fixed(std::span<const TaskId> after, std::optional<ResourceId> resource, SimTime duration,
                              std::string_view name, TaskRole role, CommAxis axis, int rank) {
    const TaskId id = engine_.add_fixed_task(after, resource, duration, name);
    set_info(id, TaskInfo{role, axis, rank, -1});
    return id;
}

void StepBuilder::set_info(TaskId id, TaskInfo info) {
    if (id.index == info_.size()) {  // the common case: tasks are added one by one
        info_.push_back(info);
        return;
    }
    if (info_.size() <= id.index) info_.resize(id.index + 1);  // engine tasks of no rank in between (full mode)
    info_[id.index] = info;
}

std::span<const int> StepBuilder::ranks_of(const TaskInfo& info) const {
    if (info.group >= 0) return task_groups_[static_cast<std::size_t>(info.group)];
    if (info.rank >= 0) return {&info.rank, 1};
    return {};
}

// Adds `seg` for every simulated rank of `stage`; `after[i]` is rank i's last tasks of this chain, replaced by the
// segment's task. A collective goes on `stream` (per rank, its last task; the communication stream by default).
void StepBuilder::add_segment(int stage, const Segment& seg, const std::string& label,
                              std::vector<std::vector<TaskId>>& after, Stream* stream) {
    if (stream == nullptr) stream = &last_comm_;
    const TaskRole comm_role = stream == &last_dp_comm_     ? TaskRole::dp_comm
                               : stream == &last_dp_reduce_ ? TaskRole::dp_reduce
                                                            : TaskRole::comm;
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
    if (seg.kind == SegmentKind::compute || seg.kind == SegmentKind::recompute) {
        const bool recompute = seg.kind == SegmentKind::recompute;
        // Recomputation is named apart so a trace (and the HTML report's timeline) can tell it from the pass.
        std::string recompute_label;
        std::string_view name = label;
        if (recompute && !label.empty()) {
            recompute_label = label + " recompute";
            name = recompute_label;
        }
        for (std::size_t i = 0; i < ranks.size(); ++i) {
            const int r = ranks[i];
            // after[i] is replaced below by the task (its buffer reused).
            const TaskId id = add_fixed(after[i], compute_[slot_of(r)], seg.duration, name,
                                        recompute ? TaskRole::recompute : TaskRole::compute, CommAxis::tensor, r);
            after[i].assign(1, id);
        }
        return;
    }
    if (spec_.mode == SimulationMode::symmetric) {
        for (std::size_t i = 0; i < ranks.size(); ++i) {
            const int r = ranks[i];
            const std::size_t k = slot_of(r);
            volume_[k][axis_index(seg.comm.axis)] += seg.comm.size;
            if (seg.timed_stage != stage) {
                seg.timed = symmetric_time(seg.comm, r);
                seg.timed_stage = stage;
            }
            const SimTime d = seg.timed;
            std::vector<TaskId>& deps = after[i];  // replaced below by the task (its buffer reused)
            if (const auto last = (*stream)[k]) deps.push_back(*last);
            TaskId id;
            if (dp_links_ && comm_role != TaskRole::comm) {
                id = dp_links_->task(dp_server(seg.comm.group, r), d, deps, label);
                set_info(id, TaskInfo{comm_role, seg.comm.axis, r, -1});
            } else {
                id = add_fixed(deps, std::nullopt, d, label, comm_role, seg.comm.axis, r);
            }
            (*stream)[k] = id;
            deps.assign(1, id);
        }
        return;
    }
    // Full mode: one engine task per group, its flows sharing links with whatever is in flight.
    std::map<int, std::size_t> index_of;
    for (std::size_t i = 0; i < ranks.size(); ++i) index_of[ranks[i]] = i;
    std::set<int> done;
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        if (done.contains(ranks[i])) continue;
        const std::vector<int> group = placement_.group(seg.comm.group, ranks[i]);
        std::vector<TaskId> deps;
        for (int member : group) {
            const auto& a = after[index_of.at(member)];
            deps.insert(deps.end(), a.begin(), a.end());
            if (const auto last = (*stream)[slot_of(member)]) deps.push_back(*last);
        }
        std::sort(deps.begin(), deps.end());
        deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
        const CollectiveRequest request = request_for(seg.comm, vertices(group));
        const auto algorithm = request.algorithm ? *request.algorithm : algorithm_for(request, group);
        CollectivePlan plan = plan_collective(topology_, request, algorithm);
        TaskSpec t{label, std::nullopt, deps, FixedDuration{}};
        const TaskId placeholder = add_collective_task(engine_, *network_, std::move(plan), std::move(t));
        task_groups_.push_back(group);
        set_info(placeholder, TaskInfo{comm_role, seg.comm.axis, -1, static_cast<int>(task_groups_.size() - 1)});
        for (int member : group) {
            if (index_of.contains(member)) volume_[slot_of(member)][axis_index(seg.comm.axis)] += seg.comm.size;
            done.insert(member);
            (*stream)[slot_of(member)] = placeholder;
            after[index_of.at(member)] = {placeholder};
        }
    }
}

// The processor-sharing server of `rank`'s data-parallel collectives over groups of kind `group`: its scale-up
// server (2k) when the group stays inside a node, its NIC server (2k + 1) when it spans nodes.
std::size_t StepBuilder::dp_server(GroupKind group, int rank) {
    auto [it, added] = dp_servers_.try_emplace(std::pair(static_cast<int>(group), rank), 0);
    if (added) it->second = 2 * slot_of(rank) + (spans_nodes(placement_.group(group, rank)) ? 1 : 0);
    return it->second;
}

// Symmetric mode merges the middle of a run of in-chain segments (compute, recompute, comm) into one task: exact,
// because the run is a chain and its streams are first-in first-out. Once the run's first compute segment has
// started, every compute task added before it has finished; once its first comm segment has started, every
// collective on the communication stream before it has. Past both (the head), each segment starts when the one
// before it ends, so the middle's segments follow one another from the middle's start. The last segment of each
// kind (the tail) stays a task of its own, so each stream is free again exactly when its last segment ends. The
// merged task holds the compute stream when it has a compute segment and is the communication stream's last task
// when it has a collective; the breakdown expands it into its segments (rank_breakdowns). A run of one kind
// merges everything after its first segment.
namespace {
bool in_chain(const Segment& seg) {
    return seg.kind == SegmentKind::compute || seg.kind == SegmentKind::recompute || seg.kind == SegmentKind::comm;
}
bool on_compute(const Segment& seg) { return seg.kind != SegmentKind::comm; }
}  // namespace

std::size_t StepBuilder::add_run(int stage, const Segments& segs, std::size_t k, std::vector<std::vector<TaskId>>& after) {
    std::size_t end = k;
    std::optional<std::size_t> first_compute, first_comm, last_compute, last_comm;
    while (end < segs.size() && in_chain(segs[end])) {
        auto& first = on_compute(segs[end]) ? first_compute : first_comm;
        if (!first) first = end;
        (on_compute(segs[end]) ? last_compute : last_comm) = end;
        ++end;
    }
    std::size_t head_end = k + 1;  // [k, head_end) one task each
    std::size_t tail = end;        // [tail, end) one task each
    if (first_compute && first_comm) {
        head_end = std::max(*first_compute, *first_comm) + 1;
        tail = std::min(*last_compute, *last_comm);
    }
    static const std::string unnamed;
    if (tail < head_end + 2) {  // nothing worth merging
        for (std::size_t i = k; i < end; ++i) add_segment(stage, segs[i], unnamed, after);
        return end;
    }
    for (std::size_t i = k; i < head_end; ++i) add_segment(stage, segs[i], unnamed, after);
    add_merged(stage, segs, head_end, tail, after);
    for (std::size_t i = tail; i < end; ++i) add_segment(stage, segs[i], unnamed, after);
    return end;
}

void StepBuilder::add_merged(int stage, const Segments& segs, std::size_t a, std::size_t b,
                             std::vector<std::vector<TaskId>>& after) {
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
    // The run's segments and duration, found once per pass template and stage (symmetric mode: one rank per stage,
    // every micro-batch the same run).
    auto [found, added] = run_of_.try_emplace({&segs[a], b - a, stage}, runs_.size());
    if (added) {
        Run run;
        run.first = static_cast<std::uint32_t>(run_segments_.size());
        run.count = static_cast<std::uint32_t>(b - a);
        for (std::size_t j = a; j < b; ++j) {
            const Segment& seg = segs[j];
            if (on_compute(seg)) {
                run_segments_.push_back({seg.duration, seg.kind == SegmentKind::recompute ? TaskRole::recompute : TaskRole::compute,
                                         CommAxis::tensor, Bytes(0.0)});
                run.total += seg.duration;
                run.computes = true;
                continue;
            }
            if (seg.timed_stage != stage) {
                seg.timed = symmetric_time(seg.comm, ranks.front());
                seg.timed_stage = stage;
            }
            run_segments_.push_back({seg.timed, TaskRole::comm, seg.comm.axis, seg.comm.size});
            run.total += seg.timed;
            run.communicates = true;
        }
        runs_.push_back(run);
    }
    const std::size_t index = found->second;
    const Run& run = runs_[index];
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        const int r = ranks[i];
        const std::size_t k = slot_of(r);
        for (std::uint32_t j = run.first; j < run.first + run.count; ++j) {
            const RunSegment& seg = run_segments_[j];
            if (seg.role == TaskRole::comm) volume_[k][axis_index(seg.axis)] += seg.bytes;
        }
        std::vector<TaskId>& deps = after[i];  // replaced below by the task (its buffer reused)
        if (run.communicates) {
            if (const auto last = last_comm_[k]) deps.push_back(*last);
        }
        const TaskId id = add_fixed(deps, run.computes ? std::optional<ResourceId>(compute_[k]) : std::nullopt, run.total, {},
                                    TaskRole::compute, CommAxis::tensor, r);
        info_[id.index].run = static_cast<int>(index);
        merged_away_ += run.count - 1;
        if (run.communicates) last_comm_[k] = id;
        deps.assign(1, id);
    }
}

// A data-parallel collective (SegmentKind::dp_comm), starting once the chain's tasks so far (`after`) are done,
// without the chain waiting for it: a ZeRO-3 gather goes on the gather stream and is recorded in `issued` under its
// unit for the pass's wait; a gradient reduction (ZeRO-3's per unit, a bucket's) goes on the reduction stream and
// is awaited by the optimizer.
void StepBuilder::add_dp_segment(int stage, const Segment& seg, const std::string& label,
                                 const std::vector<std::vector<TaskId>>& after, Issued& issued) {
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
    std::vector<std::vector<TaskId>> tasks = seg.at_step_start ? std::vector<std::vector<TaskId>>(ranks.size()) : after;
    add_segment(stage, seg, label, tasks, seg.slot >= 0 ? &last_dp_comm_ : &last_dp_reduce_);
    if (seg.slot >= 0) {
        auto& slot = issued[seg.slot];
        slot.resize(ranks.size());
        for (std::size_t i = 0; i < ranks.size(); ++i) slot[i].insert(slot[i].end(), tasks[i].begin(), tasks[i].end());
        return;
    }
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        auto& list = grad_sync_[slot_of(ranks[i])];
        list.insert(list.end(), tasks[i].begin(), tasks[i].end());
    }
}

// Adds the p2p transfer feeding `to_stage` from `from_stage`'s pass end; returns, per rank of `to_stage`,
// the task to wait for.
std::vector<TaskId> StepBuilder::add_p2p(int from_stage, int to_stage, const std::vector<TaskId>& producer_ends,
                                         const std::string& label) {
    const auto& from = stage_ranks_[static_cast<std::size_t>(from_stage)];
    const auto& to = stage_ranks_[static_cast<std::size_t>(to_stage)];
    std::vector<TaskId> out(to.size());
    const Bytes bytes = activation_bytes();
    for (std::size_t i = 0; i < to.size(); ++i) {
        const RankCoord c = placement_.coord(to[i]);
        const int src = placement_.rank_of(c.tp, c.cp, c.dp, from_stage);
        const auto pos = static_cast<std::size_t>(std::find(from.begin(), from.end(), src) - from.begin());
        if (spec_.mode == SimulationMode::symmetric) {
            out[i] = add_fixed({&producer_ends.at(pos), 1}, std::nullopt, p2p_time(from_stage, to_stage, bytes), label,
                               TaskRole::p2p, CommAxis::pipeline, to[i]);
        } else {
            const TaskId id = add_flows_task(engine_, *network_, TaskSpec{label, std::nullopt, {producer_ends.at(pos)}, FixedDuration{}},
                                             {FlowSpec{topology_.gpu(src), topology_.gpu(to[i]), bytes}});
            set_info(id, TaskInfo{TaskRole::p2p, CommAxis::pipeline, to[i], -1});
            out[i] = id;
        }
        info_[out[i].index].from_stage = from_stage;  // the trace's track per sending stage (report::chrome_trace)
    }
    return out;
}

// Adds op `ref`'s passes; `sync_after`: its stage's sync points (the pass that completes a chunk's gradients
// takes the segments that launch its gradient buckets).
void StepBuilder::add_op(OpRef ref, const std::multimap<int, int>& sync_after) {
    const PipelineOp& op = plan_->op(ref);
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(ref.stage)];
    std::vector<Pass> passes{op.pass};
    if (op.overlapped) passes.push_back(*op.overlapped);

    // Entry dependencies of each pass, per rank.
    std::vector<std::vector<std::vector<TaskId>>> after(passes.size(),
                                                        std::vector<std::vector<TaskId>>(ranks.size()));
    for (const OpDependency& dep : plan_->dependencies(ref)) {
        const PipelineOp& producer = plan_->op(dep.op);
        const Added& done = added_.at({dep.op.stage, dep.op.index});
        for (std::size_t pi = 0; pi < passes.size(); ++pi) {
            // The dependency belongs to the consumer pass of the same micro-batch; the producer's pass likewise.
            int slot = -1;
            if (producer.pass.micro_batch == passes[pi].micro_batch) slot = 0;
            else if (producer.overlapped && producer.overlapped->micro_batch == passes[pi].micro_batch) slot = 1;
            if (slot < 0) continue;
            const auto& ends = done.ends[slot];
            if (dep.cross_stage) {
                // Named for the trace only, as the tasks below (no string per send without one).
                const auto p2p = add_p2p(dep.op.stage, ref.stage, ends,
                                         spec_.record_trace ? fmt::format("pp {}→{} mb{}", dep.op.stage, ref.stage,
                                                                          passes[pi].micro_batch)
                                                            : std::string());
                for (std::size_t i = 0; i < ranks.size(); ++i) after[pi][i].push_back(p2p[i]);
            } else {
                for (std::size_t i = 0; i < ranks.size(); ++i) after[pi][i].push_back(ends.at(i));
            }
        }
    }

    // An overlapped pair (DualPipe's F&B, combined 1F1B) starts once both its inputs have arrived: its forward and
    // backward run interleaved layer by layer, so neither begins alone (DualPipe's _forward_backward_chunk waits
    // for both receives before it computes, deepseek-ai/DualPipe dualpipe.py).
    if (passes.size() == 2) {
        for (std::size_t i = 0; i < ranks.size(); ++i) {
            std::vector<TaskId> both = after[0][i];
            both.insert(both.end(), after[1][i].begin(), after[1][i].end());
            after[0][i] = both;
            after[1][i] = std::move(both);
        }
    }

    // Chains, interleaved one segment at a time so an overlapped pair shares the two streams. Task names are
    // read only by the trace: without one, tasks go unnamed (no string per task).
    const bool named = spec_.record_trace;
    std::vector<const Segments*> segs;
    std::vector<std::string> labels;
    auto completes = [&](const Pass& pass) {
        if (pass.kind != PassKind::backward && pass.kind != PassKind::backward_weight) return false;
        const auto [first, last] = sync_after.equal_range(ref.index);
        return std::any_of(first, last, [&](const auto& point) { return point.second == pass.local_chunk; });
    };
    // The step's first forward of each chunk on this stage (the stage's ops are added in its own order).
    auto first = [&](const Pass& pass) {
        if (pass.kind != PassKind::forward) return false;
        auto& seen = forward_seen_[{ref.stage, pass.local_chunk}];
        if (seen) return false;
        seen = true;
        return true;
    };
    for (const Pass& pass : passes) {
        segs.push_back(&segments(ref.stage, pass, completes(pass), first(pass)));
        labels.push_back(named ? fmt::format("{}{}.c{}", to_string(pass.kind), pass.micro_batch,
                                             plan_->model_chunk(ref.stage, pass))
                               : std::string());
    }
    std::size_t longest = 0;
    for (const auto* s : segs) longest = std::max(longest, s->size());
    std::vector<Issued> issued(passes.size());
    std::string label;  // a segment's task name: empty unless named
    // One pass alone on its streams, in symmetric mode and without a trace: runs of in-chain segments merged.
    const bool merge = passes.size() == 1 && spec_.mode == SimulationMode::symmetric && !named;
    for (std::size_t k = 0; k < longest; ++k) {
        if (merge && in_chain((*segs[0])[k])) {
            k = add_run(ref.stage, *segs[0], k, after[0]) - 1;
            continue;
        }
        for (std::size_t pi = 0; pi < passes.size(); ++pi) {
            if (k >= segs[pi]->size()) continue;
            const Segment& seg = (*segs[pi])[k];
            if (named) label = labels[pi] + " " + seg.label;
            if (seg.kind == SegmentKind::dp_comm) {
                add_dp_segment(ref.stage, seg, label, after[pi], issued[pi]);
            } else if (seg.kind == SegmentKind::comm_async) {
                // On the communication stream once the chain so far is done; the chain goes on without it.
                std::vector<std::vector<TaskId>> tasks = after[pi];
                add_segment(ref.stage, seg, label, tasks);
                issued[pi][seg.slot] = std::move(tasks);
            } else if (seg.kind == SegmentKind::wait) {
                const auto& gathered = issued[pi].at(seg.slot);
                for (std::size_t i = 0; i < ranks.size(); ++i) {
                    after[pi][i].insert(after[pi][i].end(), gathered[i].begin(), gathered[i].end());
                }
            } else {
                add_segment(ref.stage, seg, label, after[pi]);
            }
        }
    }
    Added& added = added_[{ref.stage, ref.index}];
    for (std::size_t pi = 0; pi < passes.size(); ++pi) {
        added.ends[pi].resize(ranks.size());
        for (std::size_t i = 0; i < ranks.size(); ++i) {
            // A pass with no segments ends when its inputs are ready: a zero-length marker task.
            if (after[pi][i].size() == 1 && segs[pi]->size() > 0) {
                added.ends[pi][i] = after[pi][i].front();
            } else {
                added.ends[pi][i] = add(TaskSpec{named ? labels[pi] + " end" : std::string(), std::nullopt, after[pi][i], FixedDuration{}},
                                        TaskRole::p2p, CommAxis::pipeline, -1);
            }
        }
    }
}

// Adds every op of the pipeline plan in an order that respects cross-stage dependencies, keeping each stage's own
// order; after each op, the data-parallel reduction of any chunk whose gradients it completes (step_sync.cpp).
void StepBuilder::add_pipeline_ops(const SyncPoints& sync_after) {
    const int p = layout_.pipeline;
    std::vector<std::size_t> cursor(static_cast<std::size_t>(p), 0);
    std::size_t remaining = plan_->op_count();
    while (remaining > 0) {
        bool progress = false;
        for (int s = 0; s < p; ++s) {
            const auto& ops = plan_->ops(s);
            auto& c = cursor[static_cast<std::size_t>(s)];
            while (c < ops.size()) {
                const OpRef ref{s, static_cast<int>(c)};
                bool ready = true;
                for (const auto& dep : plan_->dependencies(ref)) {
                    if (!added_.contains({dep.op.stage, dep.op.index})) { ready = false; break; }
                }
                if (!ready) break;
                add_op(ref, sync_after[static_cast<std::size_t>(s)]);
                add_gradient_sync(ref, sync_after[static_cast<std::size_t>(s)]);
                ++c;
                --remaining;
                progress = true;
            }
        }
        if (!progress) throw std::logic_error("pipeline plan dependencies form a cycle");
    }
}

}  // namespace gpuhours::detail
