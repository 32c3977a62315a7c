// Collective and pipeline-send timing on the cluster's network: in symmetric mode each collective is timed once
// per stage with its concurrent groups, and each stage-to-stage send with every replica's sends; both cached,
// in the step and across steps (CommTimeCache).
// Full mode takes from here its groups' GPUs and the algorithm the symmetric mode would pick (so both run the same).
#include "step_builder.hpp"

#include <algorithm>
#include <optional>
#include <span>
#include <unordered_map>
#include <variant>

namespace gpuhours::detail {

// The topology vertices of `ranks`' GPUs.
std::vector<VertexId> StepBuilder::vertices(const std::vector<int>& ranks) const {
    std::vector<VertexId> v;
    v.reserve(ranks.size());
    for (int r : ranks) v.push_back(topology_.gpu(r));
    return v;
}

// Whether `ranks` are on more than one node.
bool StepBuilder::spans_nodes(const std::vector<int>& ranks) const {
    return gpuhours::spans_nodes(ranks, spec_.cluster.gpus_per_node);
}

std::vector<int> StepBuilder::ranks_by_coordinates(int stage) const {
    std::vector<int> ranks;
    ranks.reserve(static_cast<std::size_t>(layout_.tensor) * layout_.context * layout_.data);
    for (int tp = 0; tp < layout_.tensor; ++tp) {
        for (int cp = 0; cp < layout_.context; ++cp) {
            for (int dp = 0; dp < layout_.data; ++dp) ranks.push_back(placement_.rank_of(tp, cp, dp, stage));
        }
    }
    return ranks;
}

const std::vector<int>& StepBuilder::all_ranks_of_stage(int stage) {
    auto [it, added] = all_stage_ranks_.try_emplace(stage);
    if (added) {
        it->second = ranks_by_coordinates(stage);
        std::sort(it->second.begin(), it->second.end());
    }
    return it->second;
}

CollectiveRequest StepBuilder::request_for(const CommSpec& c, std::vector<VertexId> ranks) {
    CollectiveRequest request{c.kind, c.size, std::move(ranks), std::nullopt, 0};
    if (c.node_merge > 0.0) {
        request.size = c.size / c.node_merge;
        request.node_merge = c.node_merge;
        request.gpu_merge = c.gpu_merge;
        request.algorithm = CollectiveAlgorithm::node_forwarded;
    }
    return request;
}

std::vector<CollectiveAlgorithm> StepBuilder::algorithms_for(const CommSpec& c) {
    if (c.node_merge > 0.0) return {CollectiveAlgorithm::node_forwarded};
    // DualPipe's mirror pair: between two ranks every algorithm is one exchange each way; the ring's is timed.
    if (c.group == GroupKind::mirror) return {CollectiveAlgorithm::ring};
    return supported_algorithms(c.kind);
}

CommTimeCache::Table* StepBuilder::shared_table(GroupKind group) const {
    switch (group) {
        case GroupKind::expert:
        case GroupKind::expert_data:
        case GroupKind::expert_tensor: return shared_times_.get();
        case GroupKind::tensor:
        case GroupKind::context:
        case GroupKind::data:
        case GroupKind::pipeline:
        case GroupKind::mirror:
        case GroupKind::data_context:
        case GroupKind::shard:
        case GroupKind::replica: return shared_dense_times_.get();
    }
    return shared_times_.get();
}

// The node of each of `ranks`, numbered in order of first appearance (what plan_collective reads of the topology).
std::vector<std::uint32_t> StepBuilder::node_pattern(std::span<const VertexId> ranks) const {
    std::vector<std::uint32_t> out(ranks.size());
    std::vector<int> small;                         // nodes in order, while few
    std::unordered_map<int, std::uint32_t> number;  // node → its number, once many
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        const int node = topology_.vertex(ranks[i]).node;
        if (number.empty()) {
            const auto it = std::find(small.begin(), small.end(), node);
            if (it != small.end()) {
                out[i] = static_cast<std::uint32_t>(it - small.begin());
                continue;
            }
            if (small.size() < 16) {
                out[i] = static_cast<std::uint32_t>(small.size());
                small.push_back(node);
                continue;
            }
            for (std::size_t k = 0; k < small.size(); ++k) number.emplace(small[k], static_cast<std::uint32_t>(k));
        }
        out[i] = number.try_emplace(node, static_cast<std::uint32_t>(number.size())).first->second;
    }
    return out;
}

std::optional<StepBuilder::PlanTemplate> StepBuilder::PlanTemplate::of(const CollectivePlan& plan, std::span<const VertexId> ranks) {
    PlanTemplate t;
    t.plan = plan;
    std::unordered_map<VertexId, std::uint32_t> position;
    for (std::size_t i = 0; i < ranks.size(); ++i) position.emplace(ranks[i], static_cast<std::uint32_t>(i));
    const auto at = [&](VertexId v) -> std::optional<std::uint32_t> {
        const auto it = position.find(v);
        return it == position.end() ? std::nullopt : std::optional<std::uint32_t>(it->second);
    };
    for (const CollectivePhase& phase : plan.phases) {
        std::vector<std::uint32_t> ends;
        if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) {
            for (const FlowSpec& f : set->flows) {
                const auto a = at(f.src), b = at(f.dst);
                if (!a || !b) return std::nullopt;  // an end that is not a rank: planned anew
                ends.push_back(*a);
                ends.push_back(*b);
            }
        } else {
            for (const VertexId v : std::get<AllPairs>(phase.traffic).ranks) {
                const auto a = at(v);
                if (!a) return std::nullopt;
                ends.push_back(*a);
            }
        }
        t.positions.push_back(std::move(ends));
    }
    return t;
}

CollectivePlan StepBuilder::PlanTemplate::instance(std::span<const VertexId> ranks) const {
    CollectivePlan out = plan;
    for (std::size_t p = 0; p < out.phases.size(); ++p) {
        const std::vector<std::uint32_t>& ends = positions[p];
        if (auto* set = std::get_if<FlowSet>(&out.phases[p].traffic)) {
            for (std::size_t i = 0; i < set->flows.size(); ++i) {
                set->flows[i].src = ranks[ends[2 * i]];
                set->flows[i].dst = ranks[ends[2 * i + 1]];
            }
        } else {
            auto& all = std::get<AllPairs>(out.phases[p].traffic).ranks;
            for (std::size_t i = 0; i < all.size(); ++i) all[i] = ranks[ends[i]];
        }
    }
    return out;
}

// Symmetric mode: the time of `c` for the group of `rank`, with every group of the same kind in the stage
// running at once when the groups cross nodes (they may share NICs and switches); cached, and carried to the
// stage's class (step_translation.cpp).
SimTime StepBuilder::symmetric_time(const CommSpec& c, int rank) {
    const int stage = placement_.coord(rank).pp;
    const auto key = std::make_tuple(static_cast<int>(c.kind), c.size.value(), static_cast<int>(c.group), stage, c.node_merge, c.gpu_merge);
    if (auto it = comm_cache_.find(key); it != comm_cache_.end()) return it->second;
    CommTimeCache::Table* shared = shared_table(c.group);
    if (shared) {
        if (const auto t = shared->find(shared->collectives, key)) return comm_cache_[key] = *t;
    }
    CommGroups groups = comm_groups(c, rank);
    if (const auto t = copies_time(c, groups)) {
        comm_cache_.emplace(key, *t);
        if (shared) shared->keep(shared->collectives, key, *t);
        return *t;
    }
    if (const auto t = translated_time(c, stage, groups)) {
        comm_cache_.emplace(key, *t);
        if (shared) shared->keep(shared->collectives, key, *t);
        return *t;
    }
    // Timed where the same groups were timed before at another size, when the translation proves the stages alike.
    const int timed_stage = move_to_timed_stage(c, groups).value_or(stage);
    const CollectiveRequest request = request_for(c, groups.at(0));
    const bool crosses = groups.crosses;
    // A collective with a single algorithm that crosses nodes is timed with its concurrent groups only
    // (the representative alone would be discarded: the concurrent time is never shorter).
    const auto algorithms = algorithms_for(c);
    std::optional<CollectiveResult> alone_result;
    if (!crosses || algorithms.size() > 1) alone_result = simulate_collective(*network_, request);
    const CollectiveAlgorithm algorithm = alone_result ? alone_result->algorithm : algorithms.front();
    SimTime time = alone_result ? to_sim(alone_result->time) : SimTime::zero();
    bool merged_done = false;
    if (crosses) {
        // Every group of this kind in the stage (comm_groups: groups 1, 2, …), planned with the algorithm chosen
        // for the representative.
        // A group that cannot run that algorithm (a hierarchical all-reduce needs as many ranks on every node; a
        // stage's groups straddle nodes unevenly when gpus_per_node is not a multiple of their stride: BLOOM's layout
        // on 3-GPU nodes), or whose plan has other phases, is left out of the merge: its contention with the others is
        // not modelled (the merged time is still at least the representative's alone).
        // The representative's own plan (it is among groups 1, 2, …) gives the phases the others must match.
        std::optional<std::size_t> own;
        const auto members = [&](std::size_t i) {
            return std::span<const VertexId>(groups.vertices).subspan(groups.offsets[i], groups.offsets[i + 1] - groups.offsets[i]);
        };
        for (std::size_t i = 1; i < groups.size() && !own; ++i) {
            if (std::ranges::equal(members(i), members(0))) own = i;
        }
        std::optional<CollectivePlan> own_plan;
        if (own) own_plan = plan_collective(topology_, request_for(c, groups.at(*own)), algorithm);
        const bool has_own = own_plan.has_value();
        const std::size_t own_phases = has_own ? own_plan->phases.size() : 0;
        // A group whose ranks fall on nodes as the representative's do gets its plan by putting its ranks in place of
        // the representative's, position by position (PlanTemplate): plan_collective reads nothing else of the
        // topology (by_node's grouping and the ranks' kinds), so it would plan the same flows.
        std::optional<PlanTemplate> reference;  // made when a second group needs it
        std::vector<std::uint32_t> reference_nodes;
        if (has_own && groups.size() > 2) {
            reference = PlanTemplate::of(*own_plan, members(*own));
            if (reference) reference_nodes = node_pattern(members(*own));
        }
        std::vector<CollectivePlan> plans;
        std::size_t flows = 0;
        for (std::size_t i = 1; i < groups.size(); ++i) {
            const CollectiveRequest req = request_for(c, groups.at(i));
            if (own && i == *own) {
                plans.push_back(std::move(*own_plan));
            } else if (reference && node_pattern(members(i)) == reference_nodes) {
                plans.push_back(reference->instance(members(i)));
            } else {
                try {
                    CollectivePlan plan = plan_collective(topology_, req, algorithm);
                    const std::size_t phases = has_own ? own_phases : plans.empty() ? plan.phases.size() : plans.front().phases.size();
                    if (plan.phases.size() != phases) continue;
                    plans.push_back(std::move(plan));
                } catch (const Error&) {
                    continue;
                }
            }
            const std::size_t n = req.ranks.size();
            for (const auto& phase : plans.back().phases) {
                if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) flows += set->flows.size();
                else flows += n * (n - 1);
            }
            if (flows > MaxMinNetwork::kExactFlowLimit) break;  // not merged (below): the other groups need no plan
        }
        if (plans.size() > 1 && flows <= MaxMinNetwork::kExactFlowLimit) {
            CollectivePlan merged = plans.front();
            for (std::size_t i = 0; i < merged.phases.size(); ++i) {
                FlowSet all;
                std::size_t count = 0;
                for (const auto& plan : plans) {
                    const auto& phase = plan.phases.at(i);
                    if (const auto* set = std::get_if<FlowSet>(&phase.traffic)) count += set->flows.size();
                    else count += std::get<AllPairs>(phase.traffic).ranks.size() * std::get<AllPairs>(phase.traffic).ranks.size();
                }
                all.flows.reserve(count);
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
    if (shared) shared->keep(shared->collectives, key, time);
    remember_translation(c, timed_stage, std::move(groups), algorithm, time);
    return time;
}

// Symmetric mode: the time of one pipeline send from `from_stage` to `to_stage`; cached.
SimTime StepBuilder::p2p_time(int from_stage, int to_stage, Bytes bytes) {
    const auto key = std::make_tuple(from_stage, to_stage, bytes.value());
    if (auto it = p2p_cache_.find(key); it != p2p_cache_.end()) return it->second;
    if (shared_dense_times_) {
        if (const auto t = shared_dense_times_->find(shared_dense_times_->sends, key)) return p2p_cache_[key] = *t;
    }
    // Every replica's pipeline sends at once: one flow per (tensor, context, data) rank of the stage.
    // Rank numbers are linear in the coordinates (Placement::rank_of), so a rank's peer at `to_stage` is the rank
    // one whole pipeline distance away.
    const int to_peer = placement_.rank_of(0, 0, 0, to_stage) - placement_.rank_of(0, 0, 0, from_stage);
    const std::vector<int>& ranks = all_ranks_of_stage(from_stage);
    std::vector<FlowSpec> flows;
    flows.reserve(ranks.size());
    for (const int r : ranks) flows.push_back(FlowSpec{topology_.gpu(r), topology_.gpu(r + to_peer), bytes});
    const SimTime t = sends_time(flows);
    p2p_cache_.emplace(key, t);
    if (shared_dense_times_) shared_dense_times_->keep(shared_dense_times_->sends, key, t);
    return t;
}

// One micro-batch's activations sent between stages (sharded over tensor ranks with sequence parallelism).
Bytes StepBuilder::activation_bytes() const {
    const double tokens = static_cast<double>(layout_.micro_batch) * spec_.sequence_length / layout_.context;
    const double shard = layout_.sequence_parallel ? layout_.tensor : 1.0;
    return Bytes(tokens * spec_.model.hidden / shard * bytes_per_element(spec_.precision.activations));
}

// The algorithm the symmetric mode picks for the same collective (so both modes run the same one).
CollectiveAlgorithm StepBuilder::algorithm_for(const CollectiveRequest& request, const std::vector<int>& group) {
    const auto key = std::make_tuple(static_cast<int>(request.kind), request.size.value(), group.front(),
                                     static_cast<int>(group.size()));
    if (auto it = algorithm_cache_.find(key); it != algorithm_cache_.end()) return it->second;
    const CollectiveAlgorithm a = simulate_collective(*network_, request).algorithm;
    algorithm_cache_.emplace(key, a);
    return a;
}

// Symmetric mode: time every collective stage by stage before building the graph, so the router's
// distance caches serve one stage's GPUs at a time instead of thrashing across stages.
void StepBuilder::time_collectives() {
    const int p = layout_.pipeline;
    for (int s = 0; s < p; ++s) {
        const int rank = stage_ranks_[static_cast<std::size_t>(s)].front();
        for (int lc = 0; lc < plan_->chunks_per_stage(); ++lc) {
            for (PassKind kind : {PassKind::forward, PassKind::backward, PassKind::backward_input}) {
                for (const Segment& seg : segments(s, Pass{kind, 0, lc})) {
                    if (seg.kind == SegmentKind::comm || seg.kind == SegmentKind::comm_async) (void)symmetric_time(seg.comm, rank);
                }
            }
        }
        if (s + 1 < p) {
            (void)p2p_time(s, s + 1, activation_bytes());
            (void)p2p_time(s + 1, s, activation_bytes());
        }
    }
}

}  // namespace gpuhours::detail
