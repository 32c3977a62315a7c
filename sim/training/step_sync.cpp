// Data-parallel sync and the optimizer: where each chunk's gradients are complete, their reduction over the
// data-parallel groups after the stage's whole backward when reductions do not overlap it (with overlap the
// gradient buckets are launched inside the passes, step_passes.cpp), the optimizer step, and ZeRO's all-gather of
// the updated parameters.
#include "step_builder.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace gpuhours::detail {

// The last op of each stage that produces gradients of each local chunk (a B, or the W of a split backward).
StepBuilder::SyncPoints StepBuilder::gradient_sync_points() const {
    const int p = layout_.pipeline;
    SyncPoints sync_after(static_cast<std::size_t>(p));  // stage: op index → local chunk
    for (int s = 0; s < p; ++s) {
        const auto& ops = plan_->ops(s);
        for (int lc = 0; lc < plan_->chunks_per_stage(); ++lc) {
            for (int i = static_cast<int>(ops.size()) - 1; i >= 0; --i) {
                const PipelineOp& op = ops[static_cast<std::size_t>(i)];
                auto produces = [&](const Pass& pass) {
                    return pass.local_chunk == lc &&
                           (pass.kind == PassKind::backward || pass.kind == PassKind::backward_weight);
                };
                if (produces(op.pass) || (op.overlapped && produces(*op.overlapped))) {
                    sync_after[static_cast<std::size_t>(s)].emplace(i, lc);
                    break;
                }
            }
        }
    }
    return sync_after;
}

// The reductions that follow op `ref` of a stage (`sync_after`: that stage's sync points). With overlap they are
// inside the passes that complete each chunk's gradients (gradient buckets, step_passes.cpp), as are ZeRO-3's;
// without, every chunk's reduction waits for the stage's whole backward.
void StepBuilder::add_gradient_sync(OpRef ref, const std::multimap<int, int>& sync_after) {
    if (layout_.zero_stage >= 3 || layout_.overlap_gradient_reduce) return;
    if (static_cast<std::size_t>(ref.index) + 1 != plan_->ops(ref.stage).size()) return;
    for (const auto& [index, lc] : sync_after) sync_after_all(ref.stage, lc);
}

// Reduction of `local_chunk` after the stage's last op (no overlap with backward).
void StepBuilder::sync_after_all(int stage, int local_chunk) {
    const int last = static_cast<int>(plan_->ops(stage).size()) - 1;
    const Added& done = added_.at({stage, last});
    std::vector<TaskId> ends = done.ends[0];
    for (std::size_t i = 0; i < ends.size(); ++i) {
        std::vector<TaskId> deps{done.ends[0][i]};
        if (!done.ends[1].empty()) deps.push_back(done.ends[1][i]);
        ends[i] = add(TaskSpec{"backward done", compute_[slot_of(stage_ranks_[static_cast<std::size_t>(stage)][i])], deps, FixedDuration{}},
                      TaskRole::p2p, CommAxis::pipeline, -1);
    }
    add_data_parallel_sync(stage, local_chunk, ends);
}

// Gradient reduction of one chunk over the data-parallel groups, on the communication stream, once `after_ends`
// (the stage's whole backward) are done.
void StepBuilder::add_data_parallel_sync(int stage, int local_chunk, const std::vector<TaskId>& after_ends) {
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
    const ChunkPasses& c = chunk(plan_->held_chunk(stage, local_chunk));
    const double grad_bytes = bytes_per_element(spec_.precision.gradients);
    const CollectiveKind kind = layout_.zero_stage >= 1 ? CollectiveKind::reduce_scatter : CollectiveKind::all_reduce;
    std::vector<std::vector<TaskId>> after(ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) after[i] = {after_ends.at(i)};
    const int dense_group = layout_.data * layout_.context;
    const int expert_group = layout_.expert_data_ranks();
    if (dense_group > 1 && c.dense_parameters > 0) {
        Segment seg{SegmentKind::comm, {}, CommSpec{kind, GroupKind::data_context, Bytes(c.dense_parameters * grad_bytes), CommAxis::data}, "grad sync"};
        add_segment(stage, seg, fmt::format("dp {} c{}", to_string(kind), local_chunk), after);
    }
    if (expert_group > 1 && c.expert_parameters > 0) {
        Segment seg{SegmentKind::comm, {}, CommSpec{kind, GroupKind::expert_data, Bytes(c.expert_parameters * grad_bytes), CommAxis::data}, "expert grad sync"};
        add_segment(stage, seg, fmt::format("expert-dp {} c{}", to_string(kind), local_chunk), after);
    }
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        auto& list = grad_sync_[slot_of(ranks[i])];
        list.insert(list.end(), after[i].begin(), after[i].end());
    }
}

double StepBuilder::reduced_locally(double dense, double expert) const {
    if (layout_.zero_stage < 1) return dense + expert;
    return dense / layout_.dense_shard_ranks() + expert / layout_.expert_data_ranks();
}

// DualPipe keeps two copies of every layer: rank (…, pp) runs stage pp's layers for one direction's micro-batches
// and stage p − 1 − pp's for the other's, as its mirror rank (…, p − 1 − pp) does the other way round, so each copy's
// gradients count one direction only. The two are summed (DeepSeek's reference, deepseek-ai/DualPipe
// examples/example_dualpipe.py, adds the mirror's gradients before the optimizer): here an all-reduce over the pair
// of each rank's gradients as the data-parallel reduction left them (its shard under ZeRO ≥ 1: the reduce-scatter's
// 1/dense_shard_ranks of the dense and 1/expert-data of the expert gradients; all of them under ZeRO-0), once both
// ranks' backward and reductions are done; the optimizer waits for it. Both ranks hold the same two chunks' layers,
// so the same bytes.
void StepBuilder::add_mirror_sync() {
    const int p = layout_.pipeline;
    const std::string label = spec_.record_trace ? std::string("mirror grad all-reduce") : std::string();
    for (int s = 0; s < p / 2; ++s) {
        double dense = 0.0;
        double expert = 0.0;
        for (int lc = 0; lc < plan_->chunks_per_stage(); ++lc) {
            const ChunkPasses& c = chunk(plan_->held_chunk(s, lc));
            dense += c.dense_parameters;
            expert += c.expert_parameters;
        }
        const double elements = reduced_locally(dense, expert);
        const CommSpec comm{CollectiveKind::all_reduce, GroupKind::mirror,
                            Bytes(elements * bytes_per_element(spec_.precision.gradients)), CommAxis::data};
        const auto& ranks = stage_ranks_[static_cast<std::size_t>(s)];
        for (const int r : ranks) {
            const std::vector<int> pair = placement_.group(GroupKind::mirror, r);
            std::vector<TaskId> deps;
            for (const int member : pair) {
                // Its stage's last op (the backward is done) and its data-parallel reductions (none at DP 1).
                const int stage = placement_.coord(member).pp;
                const auto& members = stage_ranks_[static_cast<std::size_t>(stage)];
                const auto i = static_cast<std::size_t>(std::find(members.begin(), members.end(), member) - members.begin());
                const Added& done = added_.at({stage, static_cast<int>(plan_->ops(stage).size()) - 1});
                for (const auto& ends : done.ends) {
                    if (!ends.empty()) deps.push_back(ends.at(i));
                }
                const auto& sync = grad_sync_[slot_of(member)];
                deps.insert(deps.end(), sync.begin(), sync.end());
                if (const auto last = last_comm_[slot_of(member)]) deps.push_back(*last);
            }
            std::sort(deps.begin(), deps.end());
            deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
            if (spec_.mode == SimulationMode::symmetric) {
                // Each rank of the pair its own task of the pair's time (both simulated: each stage's representative).
                // Timed once: stage s's mirror groups are stage p − 1 − s's, the same collective over the same pairs.
                const SimTime time = symmetric_time(comm, pair.front());
                for (const int member : pair) {
                    const std::size_t k = slot_of(member);
                    volume_[k][axis_index(comm.axis)] += comm.size;
                    const TaskId id = add_fixed(deps, std::nullopt, time, label, TaskRole::comm, comm.axis, member);
                    last_comm_[k] = id;
                    grad_sync_[k] = {id};
                }
            } else {
                const CollectiveRequest request = request_for(comm, vertices(pair));
                const CollectiveAlgorithm algorithm = algorithms_for(comm).front();  // as symmetric mode
                const TaskId id = add_collective_task(engine_, *network_, plan_collective(topology_, request, algorithm),
                                                      TaskSpec{label, std::nullopt, deps, FixedDuration{}});
                task_groups_.push_back(pair);
                set_info(id, TaskInfo{TaskRole::comm, comm.axis, -1, static_cast<int>(task_groups_.size() - 1)});
                for (const int member : pair) {
                    const std::size_t k = slot_of(member);
                    volume_[k][axis_index(comm.axis)] += comm.size;
                    last_comm_[k] = id;
                    grad_sync_[k] = {id};
                }
            }
        }
    }
}

// The optimizer step (memory-bound: reads gradients, reads and writes the master weights and both Adam moments,
// writes the working weights), then ZeRO-1/2's all-gather of the updated parameters unless it overlaps the next
// step's forward (ParallelLayout::param_gather_overlaps: the first forward passes gather, step_passes.cpp).
void StepBuilder::add_optimizer(int stage) {
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
    double dense = 0.0;
    double expert = 0.0;
    double dense_fp8 = 0.0;
    double expert_fp8 = 0.0;
    for (int lc = 0; lc < plan_->chunks_per_stage(); ++lc) {
        const ChunkPasses& c = chunk(plan_->held_chunk(stage, lc));
        dense += c.dense_parameters;
        expert += c.expert_parameters;
        for (const auto& [d, x] : c.unit_fp8) {
            dense_fp8 += d;
            expert_fp8 += x;
        }
    }
    const double dense_group = static_cast<double>(layout_.data) * layout_.context;
    const double expert_group = layout_.expert_data_ranks();
    // Under hybrid sharding each GPU updates its shard group's 1/S of the dense parameters.
    const double local = reduced_locally(dense, expert);
    const auto& pr = spec_.precision;
    const double touched = bytes_per_element(pr.gradients) + 2.0 * bytes_per_element(pr.master_weights) +
                           4.0 * bytes_per_element(pr.optimizer_state) + bytes_per_element(pr.parameters);
    // FP8 GEMMs' weights are cast once per step by the recipe's kernels (fp8_quantisation_bytes), every weight
    // the GPU's GEMMs use. Gathered in FP8 (fp8_param_gather) they are cast on this GPU's shard before the gather,
    // and the gathered copy is re-laid out for the backward's transposed operand (1 B read, 1 B written per
    // element) [U: TE builds that copy from the gathered FP8 data].
    const QuantisationBytes cast = fp8_quantisation_bytes(pr.gemm_recipe(), true);
    const double fp8 = dense_fp8 + expert_fp8;
    const bool shard_cast = pr.fp8_param_gather && layout_.zero_stage >= 1;  // a phase may run ZeRO-0 without a gather
    const double cast_elements = shard_cast ? dense_fp8 / layout_.dense_shard_ranks() + expert_fp8 / expert_group : fp8;
    const double moved = local * touched + cast_elements * (cast.read + cast.written) + (shard_cast ? 2.0 * fp8 : 0.0);
    const SimTime duration = to_sim(Bytes(moved) /
                                    (spec_.cluster.chip.memory_bandwidth * spec_.cluster.chip.efficiency.memory));
    std::vector<std::vector<TaskId>> after(ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        const int r = ranks[i];
        after[i] = grad_sync_[slot_of(r)];
        const TaskId id = add(TaskSpec{"optimizer", compute_[slot_of(r)], after[i], FixedDuration{duration}},
                              TaskRole::optimizer, CommAxis::data, r);
        after[i] = {id};
    }
    // ZeRO-1 and -2 gather the updated parameters; ZeRO-3 keeps them sharded until each unit's next gather.
    if (layout_.zero_stage >= 1 && layout_.zero_stage < 3 && !layout_.param_gather_overlaps()) {
        if (dense_group > 1 && dense > 0) {
            add_segment(stage, Segment{SegmentKind::comm, {}, CommSpec{CollectiveKind::all_gather, GroupKind::data_context, Bytes(param_gather_bytes(dense, dense_fp8)), CommAxis::data}, "param gather"},
                        "dp all-gather params", after);
        }
        if (expert_group > 1 && expert > 0) {
            add_segment(stage, Segment{SegmentKind::comm, {}, CommSpec{CollectiveKind::all_gather, GroupKind::expert_data, Bytes(param_gather_bytes(expert, expert_fp8)), CommAxis::data}, "expert param gather"},
                        "expert-dp all-gather params", after);
        }
    }
}

}  // namespace gpuhours::detail
