#include <gpuhours/network/collective.hpp>
#include <gpuhours/engine/engine.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/training/placement.hpp>
#include <gpuhours/training/schedule.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/hardware/topology.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

namespace gpuhours {

std::string_view to_string(SimulationMode m) { return m == SimulationMode::symmetric ? "symmetric" : "full"; }

std::string_view to_string(CommAxis a) {
    switch (a) {
        case CommAxis::tensor: return "tensor";
        case CommAxis::context: return "context";
        case CommAxis::expert: return "expert";
        case CommAxis::pipeline: return "pipeline";
        case CommAxis::data: return "data";
    }
    return "?";
}

Seconds StepBreakdown::exposed_total() const {
    Seconds total;
    for (const auto& e : exposed) total += e;
    return total;
}

namespace {

std::size_t axis_index(CommAxis a) { return static_cast<std::size_t>(a); }

// A collective a segment of a pass needs: which group, what, how big (nccl-tests size convention).
struct CommSpec {
    CollectiveKind kind = CollectiveKind::all_reduce;
    GroupKind group = GroupKind::tensor;
    Bytes size;
    CommAxis axis = CommAxis::tensor;
};

enum class SegmentKind { compute, recompute, comm };

struct Segment {
    SegmentKind kind = SegmentKind::compute;
    SimTime duration;  // compute, recompute
    CommSpec comm;     // comm
    std::string label;
};

using Segments = std::vector<Segment>;

// What kind of task a task id is, for the breakdown and the trace.
enum class TaskRole { compute, recompute, optimizer, comm, p2p };

struct TaskInfo {
    TaskRole role = TaskRole::compute;
    CommAxis axis = CommAxis::tensor;
    std::vector<int> ranks;  // simulated ranks the task belongs to (a group collective: every member)
};

SimTime to_sim(Seconds s) { return SimTime::from_seconds(s); }

// Node-limited routing (DeepSeek-V3: each token to at most M nodes, forwarded inside the node over NVLink)
// deduplicates a token's copies per node: it crosses the scale-out network at most min(M, k) times instead of k.
// Approximation: the whole all-to-all is scaled by min(M, k)/k when the expert group spans more nodes than M.
double dispatch_factor(const ModelSpec& model, const ParallelLayout& layout, int gpus_per_node) {
    if (!model.moe || model.moe->max_nodes_per_token <= 0) return 1.0;
    const int nodes_spanned = (layout.expert + gpus_per_node - 1) / gpus_per_node;
    const int limit = model.moe->max_nodes_per_token;
    if (nodes_spanned <= limit) return 1.0;
    return static_cast<double>(std::min(limit, model.moe->top_k)) / model.moe->top_k;
}

class StepBuilder {
public:
    explicit StepBuilder(const StepSpec& spec)
        : spec_(spec),
          layout_(spec.layout),
          placement_(spec.layout, spec.cluster.gpus),
          topology_(build_topology(spec.cluster)),
          network_(make_network(spec.network, topology_)),
          kernel_{spec.cluster.chip, spec.precision.compute, Precision::bf16, spec.layout.communication_sms} {
        const long long per_step = 1LL * layout_.data * layout_.micro_batch;
        if (spec.global_batch <= 0 || spec.global_batch % per_step != 0) {
            throw Error(fmt::format("global batch {} is not a multiple of data × micro_batch = {}", spec.global_batch,
                                    per_step));
        }
        micro_batches_ = static_cast<int>(spec.global_batch / per_step);
        if (layout_.schedule == Schedule::dualpipe && (micro_batches_ < 2 * layout_.pipeline || micro_batches_ % 2)) {
            throw Error(fmt::format("DualPipe needs an even number of at least 2 × pipeline = {} micro-batches per "
                                    "replica; this layout has {} (global batch {} / (data {} × micro_batch {}))",
                                    2 * layout_.pipeline, micro_batches_, spec.global_batch, layout_.data,
                                    layout_.micro_batch),
                        "raise the global batch, or lower data or micro_batch");
        }
        plan_ = std::make_unique<PipelinePlan>(
            make_pipeline_plan(layout_.schedule, layout_.pipeline, micro_batches_, layout_.virtual_stages));
        shape_ = MicroBatchShape{spec.sequence_length, layout_.micro_batch, AttentionMask::causal};
        blocks_ = model_ops(spec.model, layout_, spec.precision, shape_);
        chunk_layers_ = chunk_layers(spec.model, plan_->model_chunks());
        dispatch_factor_ = dispatch_factor(spec.model, layout_, spec.cluster.gpus_per_node);
        engine_.add_model(*network_);

        const int p = layout_.pipeline;
        stage_ranks_.resize(static_cast<std::size_t>(p));
        for (int s = 0; s < p; ++s) {
            if (spec.mode == SimulationMode::symmetric) {
                stage_ranks_[static_cast<std::size_t>(s)] = {placement_.rank_of(0, 0, 0, s)};
            } else {
                for (int r = 0; r < placement_.ranks(); ++r) {
                    if (placement_.coord(r).pp == s) stage_ranks_[static_cast<std::size_t>(s)].push_back(r);
                }
            }
        }
        for (const auto& ranks : stage_ranks_) {
            for (int r : ranks) {
                compute_[r] = engine_.add_resource(fmt::format("rank{}/compute", r));
                simulated_.push_back(r);
            }
        }
        std::sort(simulated_.begin(), simulated_.end());
    }

    StepResult run();

private:
    // ---- per-chunk pass templates -----------------------------------------------------------------------
    std::vector<const Block*> chunk_blocks(int chunk) const {
        std::vector<const Block*> out;
        const int last = plan_->model_chunks() - 1;
        const auto& layers = chunk_layers_[static_cast<std::size_t>(chunk)];
        for (const auto& block : blocks_) {
            switch (block.kind) {
                case BlockKind::embedding:
                    if (chunk == 0) out.push_back(&block);
                    break;
                case BlockKind::dense_layer:
                case BlockKind::moe_layer:
                    if (std::find(layers.begin(), layers.end(), block.layer) != layers.end()) out.push_back(&block);
                    break;
                case BlockKind::mtp:
                case BlockKind::head:
                    if (chunk == last) out.push_back(&block);
                    break;
            }
        }
        return out;
    }

    std::optional<CommSpec> comm_spec(const Communication& c, bool backward) const {
        const double t = layout_.tensor;
        const double cp = layout_.context;
        switch (c.kind) {
            case Collective::none:
            case Collective::pp_send: return std::nullopt;
            case Collective::tp_all_reduce:
                if (layout_.tensor == 1) return std::nullopt;
                return CommSpec{CollectiveKind::all_reduce, GroupKind::tensor, c.bytes, CommAxis::tensor};
            case Collective::tp_all_gather:
                if (layout_.tensor == 1) return std::nullopt;
                return CommSpec{backward ? CollectiveKind::reduce_scatter : CollectiveKind::all_gather,
                                GroupKind::tensor, c.bytes * t, CommAxis::tensor};
            case Collective::tp_reduce_scatter:
                if (layout_.tensor == 1) return std::nullopt;
                return CommSpec{backward ? CollectiveKind::all_gather : CollectiveKind::reduce_scatter,
                                GroupKind::tensor, c.bytes, CommAxis::tensor};
            case Collective::cp_exchange:
                if (layout_.context == 1) return std::nullopt;
                return CommSpec{backward ? CollectiveKind::reduce_scatter : CollectiveKind::all_gather,
                                GroupKind::context, c.bytes * cp, CommAxis::context};
            case Collective::ep_dispatch:
            case Collective::ep_combine:
                if (layout_.expert == 1) return std::nullopt;
                return CommSpec{CollectiveKind::all_to_all, GroupKind::expert, c.bytes * dispatch_factor_,
                                CommAxis::expert};
        }
        return std::nullopt;
    }

    // Memory traffic of attention that materializes its s×s scores (AttentionKernel::materialized), forward:
    // the QKᵀ GEMM writes the scores, the softmax reads them and writes the probabilities, the context GEMM reads
    // them: 4 passes of e bytes over (heads/t)·T·s elements (the full square: the fused scale-mask-softmax of
    // Megatron-LM computes masked entries too); dropout adds a read, a write and a 1-byte mask. Backward moves about
    // twice as much. Zero for fused kernels, which keep the scores on chip.
    Seconds materialized_attention(const Op& op) const {
        if (spec_.attention_kernel != AttentionKernel::materialized || op.kind != OpKind::attention) return Seconds(0);
        const AttentionSpec& at = spec_.model.attention;
        const double heads = static_cast<double>(at.heads) / layout_.tensor;
        const double tokens = static_cast<double>(layout_.micro_batch) * spec_.sequence_length / layout_.context;
        const double e = bytes_per_element(spec_.precision.activations);
        const double per_element = 4.0 * e + (spec_.dropout ? 2.0 * e + 1.0 : 0.0);
        const Bytes bytes(heads * tokens * spec_.sequence_length * per_element);
        return bytes / (spec_.cluster.chip.memory_bandwidth * spec_.cluster.chip.efficiency.memory);
    }

    // The four pass kinds of one model chunk: forward, full backward, backward-input, backward-weight.
    struct ChunkPasses {
        Segments forward, backward, backward_input, weight;
        double dense_parameters = 0.0;   // this GPU's parameters in the chunk, excluding routed experts
        double expert_parameters = 0.0;  // routed-expert parameters on this GPU
        Flops recompute_flops;
    };

    ChunkPasses make_chunk(int chunk) const {
        ChunkPasses out;
        const bool full_recompute = layout_.recompute == Recompute::full;
        auto flush = [](Segments& segs, SimTime& acc, SegmentKind kind, const std::string& label) {
            if (acc.picoseconds() > 0) segs.push_back(Segment{kind, acc, {}, label});
            acc = SimTime::zero();
        };
        for (const Block* block : chunk_blocks(chunk)) {
            const std::string name =
                block->layer >= 0 ? fmt::format("{} {}", to_string(block->kind), block->layer) : std::string(to_string(block->kind));
            // forward
            Segments fwd;
            SimTime acc;
            for (const Op& op : block->ops) {
                if (auto c = comm_spec(op.before, false)) {
                    flush(fwd, acc, SegmentKind::compute, name);
                    fwd.push_back(Segment{SegmentKind::comm, {}, *c, std::string(to_string(op.before.kind))});
                }
                acc += to_sim(time_op(op, kernel_).forward.time + materialized_attention(op));
                if (auto c = comm_spec(op.after, false)) {
                    flush(fwd, acc, SegmentKind::compute, name);
                    fwd.push_back(Segment{SegmentKind::comm, {}, *c, std::string(to_string(op.after.kind))});
                }
                if (op.expert) out.expert_parameters += op.parameters;
                else out.dense_parameters += op.parameters;
                out.recompute_flops += op.recompute;
            }
            flush(fwd, acc, SegmentKind::compute, name);
            out.forward.insert(out.forward.end(), fwd.begin(), fwd.end());

            // backward (blocks in reverse order, ops in reverse order), with and without the weight gradient
            auto backward = [&](bool with_weight) {
                Segments bwd;
                SimTime recompute;
                if (full_recompute && block->kind != BlockKind::embedding && block->kind != BlockKind::head) {
                    // Full recomputation replays a layer's forward, collectives included. The embedding and the
                    // head (final norm, output projection, loss) are outside the checkpointed layers, as in
                    // Megatron-LM, and carry no recompute FLOPs in the workload (apply_recompute).
                    for (Segment s : fwd) {
                        if (s.kind == SegmentKind::compute) s.kind = SegmentKind::recompute;
                        bwd.push_back(s);
                    }
                } else {
                    for (const Op& op : block->ops) {
                        recompute += to_sim(time_op(op, kernel_).recompute);
                        if (op.recompute.value() > 0) recompute += to_sim(materialized_attention(op));
                    }
                    if (recompute.picoseconds() > 0) bwd.push_back(Segment{SegmentKind::recompute, recompute, {}, name});
                }
                SimTime a;
                for (auto it = block->ops.rbegin(); it != block->ops.rend(); ++it) {
                    const OpTime t = time_op(*it, kernel_);
                    if (auto c = comm_spec(it->after, true)) {
                        flush(bwd, a, SegmentKind::compute, name);
                        bwd.push_back(Segment{SegmentKind::comm, {}, *c, std::string(to_string(it->after.kind))});
                    }
                    a += to_sim(t.backward_input.time + materialized_attention(*it) * 2.0);
                    if (with_weight) a += to_sim(t.backward_weight.time);
                    if (auto c = comm_spec(it->before, true)) {
                        flush(bwd, a, SegmentKind::compute, name);
                        bwd.push_back(Segment{SegmentKind::comm, {}, *c, std::string(to_string(it->before.kind))});
                    }
                }
                flush(bwd, a, SegmentKind::compute, name);
                return bwd;
            };
            Segments b = backward(true);
            Segments bi = backward(false);
            out.backward.insert(out.backward.begin(), b.begin(), b.end());
            out.backward_input.insert(out.backward_input.begin(), bi.begin(), bi.end());
            SimTime w;
            for (const Op& op : block->ops) w += to_sim(time_op(op, kernel_).backward_weight.time);
            if (w.picoseconds() > 0) out.weight.insert(out.weight.begin(), Segment{SegmentKind::compute, w, {}, name + " W"});
        }
        return out;
    }

    const ChunkPasses& chunk(int c) {
        auto it = chunks_.find(c);
        if (it == chunks_.end()) it = chunks_.emplace(c, make_chunk(c)).first;
        return it->second;
    }

    const Segments& segments(int stage, const Pass& pass) {
        const ChunkPasses& c = chunk(plan_->model_chunk(stage, pass));
        switch (pass.kind) {
            case PassKind::forward: return c.forward;
            case PassKind::backward: return c.backward;
            case PassKind::backward_input: return c.backward_input;
            case PassKind::backward_weight: return c.weight;
        }
        return c.forward;
    }

    // ---- collectives ------------------------------------------------------------------------------------
    std::vector<VertexId> vertices(const std::vector<int>& ranks) const {
        std::vector<VertexId> v;
        v.reserve(ranks.size());
        for (int r : ranks) v.push_back(topology_.gpu(r));
        return v;
    }

    bool spans_nodes(const std::vector<int>& ranks) const {
        const int gpn = spec_.cluster.gpus_per_node;
        for (int r : ranks) {
            if (r / gpn != ranks.front() / gpn) return true;
        }
        return false;
    }

    // Symmetric mode: the time of `c` for the group of `rank`, with every group of the same kind in the stage
    // running at once when the groups cross nodes (they may share NICs and switches); cached.
    SimTime symmetric_time(const CommSpec& c, int rank) {
        const std::vector<int> group = placement_.group(c.group, rank);
        const auto key = std::make_tuple(static_cast<int>(c.kind), c.size.value(), static_cast<int>(c.group),
                                         placement_.coord(rank).pp);
        if (auto it = comm_cache_.find(key); it != comm_cache_.end()) return it->second;
        CollectiveRequest request{c.kind, c.size, vertices(group), std::nullopt, 0};
        const bool crosses = spans_nodes(group);
        // A collective with a single algorithm that crosses nodes is timed with its concurrent groups only
        // (the representative alone would be discarded: the concurrent time is never shorter).
        const auto algorithms = supported_algorithms(c.kind);
        std::optional<CollectiveResult> alone_result;
        if (!crosses || algorithms.size() > 1) alone_result = simulate_collective(*network_, request);
        const CollectiveAlgorithm algorithm = alone_result ? alone_result->algorithm : algorithms.front();
        SimTime time = alone_result ? to_sim(alone_result->time) : SimTime::zero();
        bool merged_done = false;
        if (crosses) {
            // Every group of this kind in the stage, planned with the algorithm chosen for the representative.
            std::set<int> seen;
            std::vector<CollectivePlan> plans;
            std::size_t flows = 0;
            const int stage = placement_.coord(rank).pp;
            for (int r = 0; r < placement_.ranks(); ++r) {
                if (placement_.coord(r).pp != stage) continue;
                const auto g = placement_.group(c.group, r);
                if (!seen.insert(g.front()).second) continue;
                CollectiveRequest req{c.kind, c.size, vertices(g), algorithm, 0};
                plans.push_back(plan_collective(topology_, req, algorithm));
                for (const auto& phase : plans.back().phases) {
                    if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) flows += set->flows.size();
                    else flows += g.size() * (g.size() - 1);
                }
            }
            if (plans.size() > 1 && flows <= MaxMinNetwork::kExactFlowLimit) {
                CollectivePlan merged = plans.front();
                for (std::size_t i = 0; i < merged.phases.size(); ++i) {
                    FlowSet all;
                    for (const auto& plan : plans) {
                        const auto& phase = plan.phases.at(i);
                        if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) {
                            all.flows.insert(all.flows.end(), set->flows.begin(), set->flows.end());
                        } else {
                            const auto& pairs = std::get<AllPairs>(phase.traffic);
                            for (VertexId a : pairs.ranks) {
                                for (VertexId b : pairs.ranks) {
                                    if (a != b) all.flows.push_back(FlowSpec{a, b, pairs.bytes_per_pair});
                                }
                            }
                        }
                    }
                    merged.phases[i].traffic = std::move(all);
                }
                time = std::max(time, to_sim(run_plan(*network_, merged, request).time));
                merged_done = true;
            }
        }
        if (!alone_result && !merged_done) time = to_sim(simulate_collective(*network_, request).time);
        comm_cache_.emplace(key, time);
        return time;
    }

    SimTime p2p_time(int from_stage, int to_stage, Bytes bytes) {
        const auto key = std::make_tuple(from_stage, to_stage, bytes.value());
        if (auto it = p2p_cache_.find(key); it != p2p_cache_.end()) return it->second;
        // Every replica's pipeline sends at once: one flow per (tensor, context, data) rank of the stage.
        std::vector<FlowSpec> flows;
        for (int r = 0; r < placement_.ranks(); ++r) {
            const RankCoord c = placement_.coord(r);
            if (c.pp != from_stage) continue;
            flows.push_back(FlowSpec{topology_.gpu(r), topology_.gpu(placement_.rank_of(c.tp, c.cp, c.dp, to_stage)),
                                     bytes});
        }
        const SimTime t = to_sim(network_->run_phase(flows).time);
        p2p_cache_.emplace(key, t);
        return t;
    }

    Bytes activation_bytes() const {
        const double tokens = static_cast<double>(layout_.micro_batch) * spec_.sequence_length / layout_.context;
        const double shard = layout_.sequence_parallel ? layout_.tensor : 1.0;
        return Bytes(tokens * spec_.model.hidden / shard * bytes_per_element(spec_.precision.activations));
    }

    // ---- task creation ----------------------------------------------------------------------------------
    TaskId add(TaskSpec spec, TaskRole role, CommAxis axis, std::vector<int> ranks) {
        const TaskId id = engine_.add_task(std::move(spec));
        info_.resize(id.index + 1);
        info_[id.index] = TaskInfo{role, axis, std::move(ranks)};
        return id;
    }

    // Adds `seg` for every simulated rank of `stage`; `prev[i]` is rank i's last task of this chain.
    void add_segment(int stage, const Segment& seg, const std::string& label,
                     std::vector<std::vector<TaskId>>& after) {
        const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
        if (seg.kind != SegmentKind::comm) {
            for (std::size_t i = 0; i < ranks.size(); ++i) {
                const int r = ranks[i];
                // Recomputation is named apart so a trace (and the HTML report's timeline) can tell it from the pass.
                TaskSpec t{seg.kind == SegmentKind::recompute ? label + " recompute" : label, compute_.at(r), after[i],
                           FixedDuration{seg.duration}};
                const TaskId id = add(std::move(t), seg.kind == SegmentKind::recompute ? TaskRole::recompute : TaskRole::compute,
                                      CommAxis::tensor, {r});
                after[i] = {id};
            }
            return;
        }
        if (spec_.mode == SimulationMode::symmetric) {
            for (std::size_t i = 0; i < ranks.size(); ++i) {
                const int r = ranks[i];
                const SimTime d = symmetric_time(seg.comm, r);
                std::vector<TaskId> deps = after[i];
                if (auto it = last_comm_.find(r); it != last_comm_.end()) deps.push_back(it->second);
                const TaskId id = add(TaskSpec{label, std::nullopt, deps, FixedDuration{d}}, TaskRole::comm,
                                      seg.comm.axis, {r});
                last_comm_[r] = id;
                after[i] = {id};
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
                if (auto it = last_comm_.find(member); it != last_comm_.end()) deps.push_back(it->second);
            }
            std::sort(deps.begin(), deps.end());
            deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
            CollectiveRequest request{seg.comm.kind, seg.comm.size, vertices(group), std::nullopt, 0};
            const auto algorithm = algorithm_for(request, group);
            CollectivePlan plan = plan_collective(topology_, request, algorithm);
            TaskSpec t{label, std::nullopt, deps, FixedDuration{}};
            const TaskId placeholder = add_collective_task(engine_, *network_, std::move(plan), std::move(t));
            info_.resize(placeholder.index + 1);
            info_[placeholder.index] = TaskInfo{TaskRole::comm, seg.comm.axis, group};
            for (int member : group) {
                done.insert(member);
                last_comm_[member] = placeholder;
                after[index_of.at(member)] = {placeholder};
            }
        }
    }

    // The algorithm the symmetric mode picks for the same collective (so both modes run the same one).
    CollectiveAlgorithm algorithm_for(const CollectiveRequest& request, const std::vector<int>& group) {
        const auto key = std::make_tuple(static_cast<int>(request.kind), request.size.value(), group.front(),
                                         static_cast<int>(group.size()));
        if (auto it = algorithm_cache_.find(key); it != algorithm_cache_.end()) return it->second;
        const CollectiveAlgorithm a = simulate_collective(*network_, request).algorithm;
        algorithm_cache_.emplace(key, a);
        return a;
    }

    // Adds the p2p transfer feeding `to_stage` from `from_stage`'s pass end; returns, per rank of `to_stage`,
    // the task to wait for.
    std::vector<TaskId> add_p2p(int from_stage, int to_stage, const std::vector<TaskId>& producer_ends,
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
                out[i] = add(TaskSpec{label, std::nullopt, {producer_ends.at(pos)},
                                      FixedDuration{p2p_time(from_stage, to_stage, bytes)}},
                             TaskRole::p2p, CommAxis::pipeline, {to[i]});
            } else {
                const TaskId id = add_flows_task(engine_, *network_, TaskSpec{label, std::nullopt, {producer_ends.at(pos)}, FixedDuration{}},
                                                 {FlowSpec{topology_.gpu(src), topology_.gpu(to[i]), bytes}});
                info_.resize(id.index + 1);
                info_[id.index] = TaskInfo{TaskRole::p2p, CommAxis::pipeline, {to[i]}};
                out[i] = id;
            }
        }
        return out;
    }

    // Per stage and pass slot (0 = main pass, 1 = overlapped pass), each rank's last task of that pass.
    struct Added {
        std::vector<TaskId> ends[2];
    };

    void add_op(OpRef ref);
    // Reduction of `local_chunk` after the stage's last op (no overlap with backward).
    void sync_after_all(int stage, int local_chunk) {
        const int last = static_cast<int>(plan_->ops(stage).size()) - 1;
        const Added& done = added_.at({stage, last});
        std::vector<TaskId> ends = done.ends[0];
        for (std::size_t i = 0; i < ends.size(); ++i) {
            std::vector<TaskId> deps{done.ends[0][i]};
            if (!done.ends[1].empty()) deps.push_back(done.ends[1][i]);
            ends[i] = add(TaskSpec{"backward done", compute_.at(stage_ranks_[static_cast<std::size_t>(stage)][i]), deps, FixedDuration{}},
                          TaskRole::p2p, CommAxis::pipeline, {});
        }
        add_data_parallel_sync(stage, local_chunk, ends);
    }
    void add_data_parallel_sync(int stage, int local_chunk, const std::vector<TaskId>& after_ends);
    void add_optimizer(int stage);
    StepResult collect(SimTime makespan);

    const StepSpec& spec_;
    ParallelLayout layout_;
    Placement placement_;
    Topology topology_;
    std::unique_ptr<NetworkModel> network_;
    KernelContext kernel_;
    Engine engine_;
    std::unique_ptr<PipelinePlan> plan_;
    MicroBatchShape shape_;
    std::vector<Block> blocks_;
    std::vector<std::vector<int>> chunk_layers_;
    double dispatch_factor_ = 1.0;
    int micro_batches_ = 0;

    std::vector<std::vector<int>> stage_ranks_;
    std::vector<int> simulated_;
    std::map<int, ResourceId> compute_;
    std::map<int, TaskId> last_comm_;
    std::map<int, std::vector<TaskId>> grad_sync_;  // per rank: the data-parallel reductions of its chunks
    std::map<std::pair<int, int>, Added> added_;    // (stage, op index)
    std::vector<TaskInfo> info_;
    std::map<int, ChunkPasses> chunks_;
    std::map<std::tuple<int, double, int, int>, SimTime> comm_cache_;
    std::map<std::tuple<int, double, int, int>, CollectiveAlgorithm> algorithm_cache_;
    std::map<std::tuple<int, int, double>, SimTime> p2p_cache_;
};

void StepBuilder::add_op(OpRef ref) {
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
                const auto p2p = add_p2p(dep.op.stage, ref.stage, ends,
                                         fmt::format("pp {}→{} mb{}", dep.op.stage, ref.stage, passes[pi].micro_batch));
                for (std::size_t i = 0; i < ranks.size(); ++i) after[pi][i].push_back(p2p[i]);
            } else {
                for (std::size_t i = 0; i < ranks.size(); ++i) after[pi][i].push_back(ends.at(i));
            }
        }
    }

    // Chains, interleaved one segment at a time so an overlapped pair shares the two streams.
    std::vector<const Segments*> segs;
    std::vector<std::string> labels;
    for (const Pass& pass : passes) {
        segs.push_back(&segments(ref.stage, pass));
        labels.push_back(fmt::format("{}{}.c{}", to_string(pass.kind), pass.micro_batch,
                                     plan_->model_chunk(ref.stage, pass)));
    }
    std::size_t longest = 0;
    for (const auto* s : segs) longest = std::max(longest, s->size());
    for (std::size_t k = 0; k < longest; ++k) {
        for (std::size_t pi = 0; pi < passes.size(); ++pi) {
            if (k >= segs[pi]->size()) continue;
            const Segment& seg = (*segs[pi])[k];
            add_segment(ref.stage, seg, labels[pi] + " " + seg.label, after[pi]);
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
                added.ends[pi][i] = add(TaskSpec{labels[pi] + " end", std::nullopt, after[pi][i], FixedDuration{}},
                                        TaskRole::p2p, CommAxis::pipeline, {});
            }
        }
    }
}

// Gradient reduction of one chunk over the data-parallel groups, on the communication stream, as soon as the
// stage's last gradient-producing pass of that chunk is done (overlapping the rest of its backward work).
void StepBuilder::add_data_parallel_sync(int stage, int local_chunk, const std::vector<TaskId>& after_ends) {
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
    const ChunkPasses& c = chunk(plan_->model_chunk(stage, Pass{PassKind::backward, 0, local_chunk}));
    const double grad_bytes = bytes_per_element(spec_.precision.gradients);
    const CollectiveKind kind = layout_.zero_stage >= 1 ? CollectiveKind::reduce_scatter : CollectiveKind::all_reduce;
    std::vector<std::vector<TaskId>> after(ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) after[i] = {after_ends.at(i)};
    const int dense_group = layout_.data * layout_.context;
    const int expert_group = layout_.data * layout_.context / layout_.expert;
    if (dense_group > 1 && c.dense_parameters > 0) {
        Segment seg{SegmentKind::comm, {}, CommSpec{kind, GroupKind::data_context, Bytes(c.dense_parameters * grad_bytes), CommAxis::data}, "grad sync"};
        add_segment(stage, seg, fmt::format("dp {} c{}", to_string(kind), local_chunk), after);
    }
    if (expert_group > 1 && c.expert_parameters > 0) {
        Segment seg{SegmentKind::comm, {}, CommSpec{kind, GroupKind::expert_data, Bytes(c.expert_parameters * grad_bytes), CommAxis::data}, "expert grad sync"};
        add_segment(stage, seg, fmt::format("expert-dp {} c{}", to_string(kind), local_chunk), after);
    }
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        auto& list = grad_sync_[ranks[i]];
        list.insert(list.end(), after[i].begin(), after[i].end());
    }
}

// The optimizer step (memory-bound: reads gradients, reads and writes the master weights and both Adam moments,
// writes the working weights), then ZeRO's all-gather of the updated parameters. Megatron can overlap that
// all-gather with the next step's forward; here it is counted inside the step (conservative).
void StepBuilder::add_optimizer(int stage) {
    const auto& ranks = stage_ranks_[static_cast<std::size_t>(stage)];
    double dense = 0.0;
    double expert = 0.0;
    for (int lc = 0; lc < plan_->chunks_per_stage(); ++lc) {
        const ChunkPasses& c = chunk(plan_->model_chunk(stage, Pass{PassKind::backward, 0, lc}));
        dense += c.dense_parameters;
        expert += c.expert_parameters;
    }
    const double dense_group = static_cast<double>(layout_.data) * layout_.context;
    const double expert_group = dense_group / layout_.expert;
    const double local = layout_.zero_stage >= 1 ? dense / dense_group + expert / expert_group : dense + expert;
    const auto& pr = spec_.precision;
    const double touched = bytes_per_element(pr.gradients) + 2.0 * bytes_per_element(pr.master_weights) +
                           4.0 * bytes_per_element(pr.optimizer_state) + bytes_per_element(pr.parameters);
    const SimTime duration = to_sim(Bytes(local * touched) /
                                    (spec_.cluster.chip.memory_bandwidth * spec_.cluster.chip.efficiency.memory));
    std::vector<std::vector<TaskId>> after(ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        const int r = ranks[i];
        after[i] = grad_sync_[r];
        const TaskId id = add(TaskSpec{"optimizer", compute_.at(r), after[i], FixedDuration{duration}},
                              TaskRole::optimizer, CommAxis::data, {r});
        after[i] = {id};
    }
    if (layout_.zero_stage >= 1) {
        const double param_bytes = bytes_per_element(pr.parameters);
        if (dense_group > 1 && dense > 0) {
            add_segment(stage, Segment{SegmentKind::comm, {}, CommSpec{CollectiveKind::all_gather, GroupKind::data_context, Bytes(dense * param_bytes), CommAxis::data}, "param gather"},
                        "dp all-gather params", after);
        }
        if (expert_group > 1 && expert > 0) {
            add_segment(stage, Segment{SegmentKind::comm, {}, CommSpec{CollectiveKind::all_gather, GroupKind::expert_data, Bytes(expert * param_bytes), CommAxis::data}, "expert param gather"},
                        "expert-dp all-gather params", after);
        }
    }
}

StepResult StepBuilder::run() {
    const int p = layout_.pipeline;
    // The last op of each stage that produces gradients of each local chunk (a B, or the W of a split backward).
    std::vector<std::map<int, int>> sync_after(static_cast<std::size_t>(p));  // stage: op index → local chunk
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

    // Symmetric mode: time every collective stage by stage before building the graph, so the router's
    // per-destination distance cache serves one stage's GPUs at a time instead of thrashing across stages.
    if (spec_.mode == SimulationMode::symmetric) {
        for (int s = 0; s < p; ++s) {
            const int rank = stage_ranks_[static_cast<std::size_t>(s)].front();
            for (int lc = 0; lc < plan_->chunks_per_stage(); ++lc) {
                for (PassKind kind : {PassKind::forward, PassKind::backward, PassKind::backward_input}) {
                    for (const Segment& seg : segments(s, Pass{kind, 0, lc})) {
                        if (seg.kind == SegmentKind::comm) (void)symmetric_time(seg.comm, rank);
                    }
                }
            }
            if (s + 1 < p) {
                (void)p2p_time(s, s + 1, activation_bytes());
                (void)p2p_time(s + 1, s, activation_bytes());
            }
        }
    }

    // Add ops in an order that respects cross-stage dependencies, keeping each stage's own order.
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
                add_op(ref);
                if (!layout_.overlap_gradient_reduce && c + 1 == ops.size()) {
                    // Without overlap every chunk's reduction waits for the stage's whole backward.
                    for (const auto& [index, lc] : sync_after[static_cast<std::size_t>(s)]) sync_after_all(s, lc);
                } else if (auto it = sync_after[static_cast<std::size_t>(s)].find(ref.index);
                           layout_.overlap_gradient_reduce && it != sync_after[static_cast<std::size_t>(s)].end()) {
                    const Added& done = added_.at({s, ref.index});
                    std::vector<TaskId> ends = done.ends[0];
                    const PipelineOp& op = plan_->op(ref);
                    if (op.overlapped) {
                        for (std::size_t i = 0; i < ends.size(); ++i) {
                            ends[i] = add(TaskSpec{"grads ready", std::nullopt, {done.ends[0][i], done.ends[1][i]}, FixedDuration{}},
                                          TaskRole::p2p, CommAxis::pipeline, {});
                        }
                    }
                    // Several chunks can end in the same op (DualPipe's last op); sync each.
                    for (const auto& [index, lc] : sync_after[static_cast<std::size_t>(s)]) {
                        if (index == ref.index) add_data_parallel_sync(s, lc, ends);
                    }
                }
                ++c;
                --remaining;
                progress = true;
            }
        }
        if (!progress) throw std::logic_error("pipeline plan dependencies form a cycle");
    }
    for (int s = 0; s < p; ++s) add_optimizer(s);
    const SimTime makespan = engine_.run();
    return collect(makespan);
}

StepResult StepBuilder::collect(SimTime makespan) {
    StepResult result;
    result.step_time = makespan.to_seconds();
    result.micro_batches = micro_batches_;
    result.simulated_ranks = static_cast<int>(simulated_.size());
    result.tasks = engine_.task_count();
    result.mode = spec_.mode;
    result.compute_precision = spec_.precision.compute;

    struct Interval {
        std::int64_t start;
        std::int64_t end;
        std::size_t axis;
    };
    std::map<int, std::vector<Interval>> busy;     // compute stream, any role
    std::map<int, std::vector<Interval>> comms;    // the rank's collectives and incoming p2p
    std::map<int, StepBreakdown> per_rank;
    for (std::uint32_t i = 0; i < info_.size(); ++i) {
        const TaskId id{i};
        const auto start = engine_.start_time(id);
        const auto end = engine_.finish_time(id);
        if (!start || !end) continue;
        const TaskInfo& t = info_[i];
        const Seconds d = (*end - *start).to_seconds();
        for (int r : t.ranks) {
            StepBreakdown& b = per_rank[r];
            switch (t.role) {
                case TaskRole::compute: b.compute += d; busy[r].push_back({start->picoseconds(), end->picoseconds(), 0}); break;
                case TaskRole::recompute: b.recompute += d; busy[r].push_back({start->picoseconds(), end->picoseconds(), 0}); break;
                case TaskRole::optimizer: b.optimizer += d; busy[r].push_back({start->picoseconds(), end->picoseconds(), 0}); break;
                case TaskRole::comm:
                case TaskRole::p2p:
                    b.on_link[axis_index(t.axis)] += d;
                    comms[r].push_back({start->picoseconds(), end->picoseconds(), axis_index(t.axis)});
                    break;
            }
            if (spec_.record_trace) {
                const char* stream = t.role == TaskRole::comm ? "comm" : t.role == TaskRole::p2p ? "p2p" : "compute";
                result.trace.push_back(TraceEvent{r, stream, engine_.name(id), *start, *end});
            }
        }
    }
    // Idle gaps of each compute stream: covered by the rank's own collectives → exposed on that axis (the one
    // that started first where several overlap); otherwise → bubble.
    for (int r : simulated_) {
        StepBreakdown& b = per_rank[r];
        auto& intervals = busy[r];
        std::sort(intervals.begin(), intervals.end(), [](const Interval& a, const Interval& c) { return a.start < c.start; });
        auto& cs = comms[r];
        std::sort(cs.begin(), cs.end(), [](const Interval& a, const Interval& c) { return a.start < c.start; });
        std::int64_t t = 0;
        auto account_gap = [&](std::int64_t a, std::int64_t z) {
            if (z <= a) return;
            std::int64_t cursor = a;
            std::int64_t covered = 0;
            for (const auto& c : cs) {
                if (c.start >= z) break;
                if (c.end <= cursor) continue;
                const std::int64_t from = std::max(c.start, cursor);
                const std::int64_t to = std::min(c.end, z);
                if (to > from) {
                    b.exposed[c.axis] += SimTime::from_picoseconds(to - from).to_seconds();
                    covered += to - from;
                    cursor = to;
                }
            }
            b.bubble += SimTime::from_picoseconds(z - a - covered).to_seconds();
        };
        for (const auto& iv : intervals) {
            account_gap(t, iv.start);
            t = std::max(t, iv.end);
        }
        account_gap(t, makespan.picoseconds());
    }
    // Means over simulated ranks, and one row per stage (its first simulated rank).
    const double n = static_cast<double>(simulated_.size());
    for (int r : simulated_) {
        const StepBreakdown& b = per_rank[r];
        result.breakdown.compute += b.compute / n;
        result.breakdown.recompute += b.recompute / n;
        result.breakdown.optimizer += b.optimizer / n;
        result.breakdown.bubble += b.bubble / n;
        for (std::size_t a = 0; a < kCommAxes.size(); ++a) {
            result.breakdown.exposed[a] += b.exposed[a] / n;
            result.breakdown.on_link[a] += b.on_link[a] / n;
        }
    }
    for (int s = 0; s < layout_.pipeline; ++s) {
        const int r = stage_ranks_[static_cast<std::size_t>(s)].front();
        result.stages.push_back(StageStep{s, r, per_rank[r]});
    }

    // FLOPs and utilisation.
    const double tokens = static_cast<double>(spec_.global_batch) * spec_.sequence_length;
    const double gpus = spec_.cluster.gpus;
    result.model_flops_causal = training_flops_per_token(spec_.model, spec_.sequence_length, AttentionMask::causal) * tokens;
    result.model_flops_full = training_flops_per_token(spec_.model, spec_.sequence_length, AttentionMask::full) * tokens;
    Flops recompute;
    for (int s = 0; s < layout_.pipeline; ++s) {
        for (int lc = 0; lc < plan_->chunks_per_stage(); ++lc) {
            recompute += chunk(plan_->model_chunk(s, Pass{PassKind::backward, 0, lc})).recompute_flops;
        }
    }
    // Per-GPU recomputation per micro-batch, summed over stages, × micro-batches × GPUs per stage.
    const double per_stage_gpus = gpus / layout_.pipeline;
    result.hardware_flops = result.model_flops_causal + recompute * (micro_batches_ * per_stage_gpus);
    const Seconds t = result.step_time;
    const FlopsPerSecond peak = spec_.cluster.chip.peak(spec_.precision.compute);
    const FlopsPerSecond bf16 = spec_.cluster.chip.peak(Precision::bf16);
    result.model_flops_per_gpu = result.model_flops_causal / t / gpus;
    result.mfu_causal = (result.model_flops_causal / t / gpus) / peak;
    result.mfu_full = (result.model_flops_full / t / gpus) / peak;
    result.mfu_bf16_causal = (result.model_flops_causal / t / gpus) / bf16;
    result.mfu_bf16_full = (result.model_flops_full / t / gpus) / bf16;
    result.hfu = (result.hardware_flops / t / gpus) / peak;

    MemoryOptions memory;
    memory.micro_batches = micro_batches_;
    memory.attention_kernel = spec_.attention_kernel;
    memory.dropout = spec_.dropout;
    result.memory = memory_per_stage(spec_.model, layout_, spec_.precision, shape_, memory);
    return result;
}

}  // namespace

StepResult simulate_step(const StepSpec& spec) {
    StepBuilder builder(spec);
    return builder.run();
}

}  // namespace gpuhours
