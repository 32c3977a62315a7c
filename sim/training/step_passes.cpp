// Per-chunk pass templates: the segments of one model chunk's four pass kinds on one GPU — compute timed by the
// kernel model (kernel.hpp) from the workload's operators, recomputation, and the collectives between them —
// built once per chunk and reused by every micro-batch.
#include "step_builder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace gpuhours::detail {

std::size_t StepBuilder::OpTimeKeyHash::operator()(const std::array<std::uint64_t, 17>& k) const {
    std::uint64_t h = 0x9E3779B97F4A7C15ull;
    for (const std::uint64_t w : k) h = (h ^ w) * 0x100000001B3ull + (h >> 29);
    return static_cast<std::size_t>(h);
}

OpTime StepBuilder::op_time(const Op& op, const KernelContext& kernel) const {
    const std::uint64_t context = &kernel == &kernel_ ? 1 : &kernel == &kernel_overlap_ ? 2 : 0;
    if (context == 0) return time_op(op, kernel);
    const auto word = [](double x) { return std::bit_cast<std::uint64_t>(x); };
    const GemmShape g = op.gemm.value_or(GemmShape{-1, -1, -1, -1});
    const AttentionKernelShape a = op.attention_shape.value_or(AttentionKernelShape{-1.0, -1});
    const std::array<std::uint64_t, 17> key{context, static_cast<std::uint64_t>(op.kind) | (op.fp8 ? 0x100u : 0u), word(op.forward.value()),
                                            word(op.backward.value()), word(op.recompute.value()), word(op.read.value()),
                                            word(op.written.value()), op.backward_bytes ? 1u : 0u,
                                            word(op.backward_bytes.value_or(Bytes(0.0)).value()), op.gemm ? 1u : 0u,
                                            static_cast<std::uint64_t>(g.m), static_cast<std::uint64_t>(g.n),
                                            static_cast<std::uint64_t>(g.k), static_cast<std::uint64_t>(g.count),
                                            word(a.sequence), static_cast<std::uint64_t>(a.head_dim),
                                            word(op.parameters)};  // the gradient accumulation's bytes
    if (const auto it = op_times_.find(key); it != op_times_.end()) return it->second;
    return op_times_.emplace(key, time_op(op, kernel)).first->second;
}

OpTime StepBuilder::chunk_time(const Op& op, const KernelContext& kernel, int chunks, GemmSplit split) const {
    if (!op.gemm || chunks <= 1) return op_time(op, kernel);
    return op_time(gemm_chunk(op, chunks, split), kernel);
}

namespace {
// C(pool − held, k) / C(pool, k) = Π_{i<k} (pool − held − i) / (pool − i): the chance that none of a token's k
// experts, drawn uniformly without repeats from `pool` of them, is among `held`. A pool of fewer than k (node-limited
// routing to nodes holding fewer than k experts, which no router can fill) takes every expert: 0 when any is held.
double all_missed(double pool, double held, int k) {
    double missed = 1.0;
    for (int i = 0; i < k; ++i) {
        if (pool - i <= 0.0) return held > 0.0 ? 0.0 : 1.0;
        missed *= std::max(0.0, pool - held - i) / (pool - i);
    }
    return missed;
}
}  // namespace

// The share of a token's k expert copies that the expert all-to-all carries (ParallelLayout::moe_dispatcher).
// The alltoall dispatcher sends every copy: 1. DeepEP's kernels send a token once to each node holding one of its
// experts and forward it over NVLink inside the node, so a token crosses the scale-out network once per distinct
// remote node. Node i, holding c_i of the group's G GPUs and so e_i = E · c_i / G of the E experts, is hit unless all
// k experts come from the others: P_i = 1 − C(E − e_i, k) / C(E, k) under routing uniform over the experts. With
// node-limited routing over more nodes than the limit M (DeepSeek-V3: M = 4), a token goes to the M nodes chosen for
// their experts instead: min(M, k) nodes, each hit, and never more than the unlimited token reaches. One factor f is chosen so that the bytes crossing nodes are the
// merged expectation: a source on node j sends k (1 − c_j / G) copies across nodes where DeepEP sends Σ_{i≠j} P_i,
// so f = Σ_j (c_j/G) Σ_{i≠j} P_i / (k Σ_j (c_j/G)(1 − c_j/G)), which is D / k (D = Σ_i P_i) when the nodes hold
// equal shares. On equal nodes the all-to-all runs node-forwarded (collective.hpp): f × g × S/n to each other node's
// rank at the sender's position, whose NVLink relay sends a token once per GPU (gpu_merge). On uneven nodes its
// pairs are uniform, each scaled by f, the relay inside each node undercounted alike. A group inside one node: 1
// (its pairs carry gpu_merge, DeepEP's intranode kernels).
double dispatch_factor(const ModelSpec& model, const Placement& placement, int gpus_per_node, MoeDispatcher dispatcher) {
    if (!model.moe || dispatcher != MoeDispatcher::deepep) return 1.0;
    // Rank 0's expert group's members per node (its members are tensor ranks apart, or expert-tensor ranks folded).
    const std::vector<int> group = placement.group(GroupKind::expert, 0);
    std::map<int, int> members;
    for (const int r : group) ++members[r / gpus_per_node];
    const int nodes = static_cast<int>(members.size());
    if (nodes <= 1) return 1.0;
    const int k = model.moe->top_k;
    const int limit = model.moe->max_nodes_per_token;
    // With Σ_j c_j/G = 1: the numerator is D − Σ_j (c_j/G) P_j, the denominator k (1 − Σ_j (c_j/G)²).
    const double experts = model.moe->routed_experts;
    const double size = static_cast<double>(group.size());
    double hits = 0.0, own_hits = 0.0, own_share = 0.0;  // D, Σ (c_j/G) P_j, Σ (c_j/G)²
    for (const auto& [node, count] : members) {
        const double share = count / size;
        const double missed = all_missed(experts, experts * share, k);
        hits += 1.0 - missed;
        own_hits += share * (1.0 - missed);
        own_share += share * share;
    }
    const double unlimited = (hits - own_hits) / (k * (1.0 - own_share));
    // Node-limited routing over more than M of the group's nodes: a token reaches min(M, k) nodes (each chosen node
    // holds one of its top affinities, DeepSeek-V3 §2.1.2), but never more than routing without the limit would: a
    // limit of 6 of 8 nodes at k = 8 sent 6/8 of the copies where the unlimited token reaches 5.3 nodes (an MoE
    // audit, session 50: tightening the limit from none to 6 made dispatch 13 % slower).
    if (limit > 0 && nodes > limit) return std::min(static_cast<double>(std::min(limit, k)) / k, unlimited);
    return unlimited;
}

// DeepEP's kernels send a token once to each GPU holding one of its experts (the intranode kernels, and the NVLink
// relay of the internode ones) where the alltoall dispatcher sends every copy. A GPU of the group's G holds e = E/G
// experts and receives k/G copies of a token on average; routing uniform over the experts hits it with
// P = 1 − C(E − e, k) / C(E, k), so the share of copies left is P · G / k. Under node-limited routing over more than M
// of the group's N nodes, a token draws its k experts from the M · E / N of its chosen nodes, and a GPU is hit with
// P = (M / N) (1 − C(ME/N − e, k) / C(ME/N, k)). 1 for the alltoall dispatcher.
double gpu_merge(const ModelSpec& model, const Placement& placement, int gpus_per_node, MoeDispatcher dispatcher) {
    if (!model.moe || dispatcher != MoeDispatcher::deepep) return 1.0;
    const std::vector<int> group = placement.group(GroupKind::expert, 0);
    std::set<int> nodes;
    for (const int r : group) nodes.insert(r / gpus_per_node);
    const double size = static_cast<double>(group.size());
    const double experts = model.moe->routed_experts;
    const int k = model.moe->top_k;
    const int limit = model.moe->max_nodes_per_token;
    const double spanned = static_cast<double>(nodes.size());
    const double reach = limit > 0 && spanned > limit ? limit / spanned : 1.0;  // the share of nodes a token reaches
    const double hit = reach * (1.0 - all_missed(experts * reach, experts / size, k));
    return std::min(1.0, hit * size / k);
}

// The blocks of model chunk `chunk`: its layers, the embedding in the first chunk, MTP and the head in the last.
std::vector<const Block*> StepBuilder::chunk_blocks(int chunk) const {
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

// The collective a workload communication needs (backward runs the transposed one); none on a group of one GPU.
std::optional<CommSpec> StepBuilder::comm_spec(const Communication& c, bool backward) const {
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
        case Collective::cp_state_gather:
            if (layout_.context == 1) return std::nullopt;
            return CommSpec{backward ? CollectiveKind::reduce_scatter : CollectiveKind::all_gather,
                            GroupKind::context, c.bytes * cp, CommAxis::context};
        case Collective::ep_dispatch:
        case Collective::ep_combine:
            // Under the deepep dispatcher, node-forwarded with the dispatch factor as its node merge (CommSpec).
            if (layout_.expert == 1) return std::nullopt;
            return CommSpec{CollectiveKind::all_to_all, GroupKind::expert,
                            (backward ? c.backward_bytes.value_or(c.bytes) : c.bytes) * dispatch_factor_, CommAxis::expert,
                            layout_.moe_dispatcher == MoeDispatcher::deepep ? dispatch_factor_ : 0.0,
                            gpu_merge_};
        case Collective::etp_all_gather:
        case Collective::etp_reduce_scatter: {
            // The transposed collective in backward moves the gradients' format (Communication::backward_bytes).
            const int et = layout_.expert_tensor_degree();
            if (et == 1) return std::nullopt;
            const Bytes bytes = backward ? c.backward_bytes.value_or(c.bytes) : c.bytes;
            if (c.kind == Collective::etp_all_gather) {
                return CommSpec{backward ? CollectiveKind::reduce_scatter : CollectiveKind::all_gather, GroupKind::expert_tensor,
                                bytes * static_cast<double>(et), CommAxis::tensor};
            }
            return CommSpec{backward ? CollectiveKind::all_gather : CollectiveKind::reduce_scatter, GroupKind::expert_tensor,
                            bytes, CommAxis::tensor};
        }
    }
    return std::nullopt;
}

// Memory traffic of attention that materializes its s×s scores (AttentionKernel::materialized), forward:
// the QKᵀ GEMM writes the scores, the softmax reads them and writes the probabilities, the context GEMM reads
// them: 4 passes of e bytes over (heads/t)·T·s elements (the full square: the fused scale-mask-softmax of
// Megatron-LM computes masked entries too); dropout adds a read, a write and a 1-byte mask. Backward moves about
// twice as much. Zero for fused kernels, which keep the scores on chip.
Seconds StepBuilder::materialized_attention(const Op& op) const {
    if (spec_.attention_kernel != AttentionKernel::materialized || op.kind != OpKind::attention) return Seconds(0);
    const AttentionSpec& at = spec_.model.attention;
    const double heads = static_cast<double>(at.heads) / layout_.tensor;
    const double tokens = static_cast<double>(layout_.micro_batch) * spec_.sequence_length / layout_.context;
    const double e = bytes_per_element(spec_.precision.activations);
    const double per_element = 4.0 * e + (spec_.dropout ? 2.0 * e + 1.0 : 0.0);
    const Bytes bytes(heads * tokens * spec_.sequence_length * per_element);
    return bytes / (spec_.cluster.chip.memory_bandwidth * spec_.cluster.chip.efficiency.memory);
}

namespace {

// Ends the compute accumulated in `acc` as one segment of `kind`.
void flush(Segments& segs, SimTime& acc, SegmentKind kind, const std::string& label) {
    if (acc.picoseconds() > 0) segs.push_back(Segment{kind, acc, {}, label});
    acc = SimTime::zero();
}

// Tensor-parallel communication overlap (ParallelLayout::tp_comm_overlap): whether `c`, one of `op`'s collectives,
// runs beside its GEMM — sequence parallelism's gather into a column-parallel GEMM and reduce-scatter out of a
// row-parallel one (not MLA's latent gather after a norm, which frameworks do not overlap).
bool overlaps(const ParallelLayout& l, const Op& op, const Communication& c) {
    if (!l.tp_comm_overlap || op.kind != OpKind::gemm) return false;
    return (&c == &op.before && c.kind == Collective::tp_all_gather) || (&c == &op.after && c.kind == Collective::tp_reduce_scatter);
}

// A GEMM's time in t chunks: all but one chunk's share, and that one's.
std::pair<SimTime, SimTime> split_last(SimTime whole, int t) {
    const SimTime most = SimTime::from_picoseconds(whole.picoseconds() / t * (t - 1));
    return {most, whole - most};
}

// The collectives launched on the communication stream (one after the other), `beside` of compute on the chain
// meanwhile, then a wait for each (slots below -1, `next_slot` counting down, one per collective overlapped in the
// chunk). `names`: each collective's name in the trace.
void overlapped(Segments& segs, std::initializer_list<std::pair<CommSpec, std::string>> comms, SimTime beside,
                const std::string& label, int& next_slot) {
    const int first = next_slot;
    for (const auto& [c, what] : comms) segs.push_back(Segment{SegmentKind::comm_async, {}, c, what + " (overlapped)", next_slot--});
    if (beside.picoseconds() > 0) segs.push_back(Segment{SegmentKind::compute, beside, {}, label});
    int slot = first;
    for (const auto& [c, what] : comms) segs.push_back(Segment{SegmentKind::wait, {}, {}, "wait for " + what, slot--});
}

void overlapped(Segments& segs, const CommSpec& c, const Communication& what, SimTime beside, const std::string& label,
                int& next_slot) {
    overlapped(segs, {{c, std::string(to_string(what.kind))}}, beside, label, next_slot);
}

// Ring attention (CpCommType::p2p): whether `op` exchanges its keys and values round the context-parallel ring
// beside its own compute.
bool cp_ring(const ParallelLayout& l, const Op& op) {
    return l.context > 1 && l.cp_comm_type == CpCommType::p2p && op.before.kind == Collective::cp_exchange;
}

// Shared-expert overlap (ParallelLayout::moe_shared_expert_overlap): a MoE block's shared-expert ops split where
// Megatron-Core's SharedExpertMLP splits them — fc1 (after its FP8 quantisation, if any) and the activation
// beside the dispatch (linear_fc1_forward_and_act), fc2 beside the combine (linear_fc2_forward). Empty when the
// overlap is off, the block has no shared experts, or no all-to-all runs (expert = 1).
bool is_shared_expert(const Op& op) { return op.name.starts_with("moe.shared."); }

struct SharedSplit {
    std::vector<const Op*> with_dispatch;
    std::vector<const Op*> with_combine;
    [[nodiscard]] bool on() const { return !with_dispatch.empty() && !with_combine.empty(); }
};

SharedSplit shared_split(const ParallelLayout& l, const Block& block) {
    SharedSplit out;
    if (!l.moe_shared_expert_overlap || l.expert < 2) return out;
    bool past_act = false;
    for (const Op& op : block.ops) {
        if (!is_shared_expert(op)) continue;
        (past_act ? out.with_combine : out.with_dispatch).push_back(&op);
        past_act = past_act || op.name == "moe.shared.act";
    }
    return out;
}

}  // namespace

void StepBuilder::append_collectives(Segments& out, const std::vector<const Op*>& ops, bool before, bool backward) const {
    for (const Op* op : ops) {
        const Communication& c = before ? op->before : op->after;
        if (const auto spec = comm_spec(c, backward)) out.push_back(Segment{SegmentKind::comm, {}, *spec, std::string(to_string(c.kind))});
    }
}

void StepBuilder::launch_bound(Segments& pass, SimTime busy, int kernels, const std::string& name) const {
    const SimTime host = launch_host_ * static_cast<std::int64_t>(kernels);
    if (host > busy) pass.insert(pass.begin(), Segment{SegmentKind::compute, host - busy, {}, name + " (kernel launch wait)"});
}

// One block's forward: its ops' compute, split by the collectives they need (overlapped ones beside their GEMM).
Segments StepBuilder::forward_segments(const Block& block, const std::string& name, int& next_slot) const {
    Segments fwd;
    SimTime acc;
    SimTime busy;
    int kernels = 0;
    const int t = layout_.tensor;
    auto forward_time = [&](const Op& op, const KernelContext& kernel) {
        return to_sim(op_time(op, kernel).forward.time + materialized_attention(op)) + launch_gap_;
    };
    // Shared experts beside the all-to-alls: their compute leaves the chain, their own collectives stay on it.
    const SharedSplit shared = shared_split(layout_, block);
    SimTime beside_dispatch;
    SimTime beside_combine;
    if (shared.on()) {
        for (const Op* op : shared.with_dispatch) beside_dispatch += forward_time(*op, kernel_);
        for (const Op* op : shared.with_combine) beside_combine += forward_time(*op, kernel_);
    }
    busy += beside_dispatch + beside_combine;
    for (const Op& op : block.ops) {
        if (shared.on() && is_shared_expert(op)) continue;
        const auto before = comm_spec(op.before, false);
        const auto after = comm_spec(op.after, false);
        const bool kv_ring = before && cp_ring(layout_, op);
        const bool ring = before && (overlaps(layout_, op, op.before) || kv_ring);
        const bool pipelined = after && overlaps(layout_, op, op.after);
        const KernelContext& kernel = pipelined ? kernel_overlap_ : kernel_;
        // Overlapped with its tensor-parallel collective, the GEMM runs as several (gemm_chunk, kernel.hpp): t of
        // M / t rows beside a ring exchange, kPipelineSplits of N / kPipelineSplits columns beside a pipelined
        // reduce-scatter.
        const int chunks = !op.gemm || t < 2 ? 1 : pipelined ? kPipelineSplits : ring && !kv_ring ? t : 1;
        const SimTime g = chunks > 1 ? (to_sim(chunk_time(op, kernel, chunks, pipelined ? GemmSplit::columns : GemmSplit::rows).forward.time) +
                                        launch_gap_) * static_cast<std::int64_t>(chunks)
                                     : forward_time(op, kernel);
        busy += g;
        kernels += chunks;
        if (ring) {
            // Ring exchange: the GEMM's t chunks (ring attention: its cp steps, one per K/V chunk) run as their
            // shards arrive; the last chunk waits for the gather.
            flush(fwd, acc, SegmentKind::compute, name);
            const auto [most, last] = split_last(g, kv_ring ? layout_.context : t);
            overlapped(fwd, *before, op.before, most, name, next_slot);
            acc += last;
        } else {
            if (before) {
                flush(fwd, acc, SegmentKind::compute, name);
                if (shared.on() && op.before.kind == Collective::ep_dispatch) {
                    // The shared experts' input gather (pre_forward_comm), then fc1 and the activation beside the dispatch.
                    append_collectives(fwd, shared.with_dispatch, true, false);
                    overlapped(fwd, *before, op.before, beside_dispatch, name, next_slot);
                } else {
                    fwd.push_back(Segment{SegmentKind::comm, {}, *before, std::string(to_string(op.before.kind))});
                }
            }
            if (!pipelined) acc += g;
        }
        if (pipelined) {
            // Pipelined reduce-scatter: the first chunk's GEMM, then the other chunks' GEMMs beside the
            // reduce-scatter of the chunks before them, then the last chunk's reduce-scatter alone.
            const int s = kPipelineSplits;  // the chunks g was timed as
            const auto [rest, first] = split_last(g, s);
            acc += first;
            flush(fwd, acc, SegmentKind::compute, name);
            CommSpec most = *after;
            most.size = after->size * ((s - 1.0) / s);
            overlapped(fwd, most, op.after, rest, name, next_slot);
            CommSpec tail = *after;
            tail.size = after->size - most.size;
            fwd.push_back(Segment{SegmentKind::comm, {}, tail, std::string(to_string(op.after.kind))});
        } else if (after) {
            flush(fwd, acc, SegmentKind::compute, name);
            if (shared.on() && op.after.kind == Collective::ep_combine) {
                // fc2 beside the combine, then the shared experts' output reduce-scatter (post_forward_comm).
                overlapped(fwd, *after, op.after, beside_combine, name, next_slot);
                append_collectives(fwd, shared.with_combine, false, false);
            } else {
                fwd.push_back(Segment{SegmentKind::comm, {}, *after, std::string(to_string(op.after.kind))});
            }
        }
    }
    flush(fwd, acc, SegmentKind::compute, name);
    launch_bound(fwd, busy, kernels + (shared.on() ? static_cast<int>(shared.with_dispatch.size() + shared.with_combine.size()) : 0), name);
    return fwd;
}

// One block's backward, ops in reverse (`with_weight`: with the weight gradients; a zero-bubble input pass without),
// after the recomputation it needs.
Segments StepBuilder::backward_segments(const Block& block, const Segments& fwd, const std::string& name, bool with_weight,
                                        int& next_slot) const {
    Segments bwd;
    const int tensor = layout_.tensor;
    SimTime recompute;
    SimTime busy;
    int kernels = 0;
    if (block.full_recompute) {
        // Full recomputation replays a layer's forward, collectives included. The embedding and the
        // head (final norm, output projection, loss) are outside the checkpointed layers, as in
        // Megatron-LM, and carry no recompute FLOPs in the workload (apply_recompute).
        for (Segment s : fwd) {
            if (s.kind == SegmentKind::compute) s.kind = SegmentKind::recompute;
            bwd.push_back(s);
        }
    } else {
        for (const Op& op : block.ops) {
            recompute += to_sim(op_time(op, kernel_).recompute);
            if (op.recompute.value() > 0) {
                recompute += to_sim(materialized_attention(op)) + launch_gap_;
                ++kernels;
            }
        }
        busy += recompute;
        if (recompute.picoseconds() > 0) bwd.push_back(Segment{SegmentKind::recompute, recompute, {}, name});
    }
    // Shared experts beside the all-to-alls' backward (the forward's split, reversed): fc2's gradients beside the
    // combine's backward, the activation's and fc1's beside the dispatch's; their own collectives stay on the chain.
    const SharedSplit shared = shared_split(layout_, block);
    auto side = [&](const std::vector<const Op*>& ops) {
        SimTime sum;
        for (const Op* op : ops) {
            const OpTime t = op_time(*op, kernel_);
            sum += to_sim(t.backward_input.time + materialized_attention(*op) * 2.0) + launch_gap_;
            ++kernels;
            if (with_weight && t.backward_weight.time.value() > 0.0) {
                sum += to_sim(t.backward_weight.time) + launch_gap_;
                ++kernels;
            }
        }
        return sum;
    };
    const SimTime beside_combine = shared.on() ? side(shared.with_combine) : SimTime{};
    const SimTime beside_dispatch = shared.on() ? side(shared.with_dispatch) : SimTime{};
    busy += beside_combine + beside_dispatch;
    SimTime a;
    for (auto it = block.ops.rbegin(); it != block.ops.rend(); ++it) {
        if (shared.on() && is_shared_expert(*it)) continue;
        const auto gather = comm_spec(it->after, true);   // the output gradient's (gathered, under SP)
        const auto scatter = comm_spec(it->before, true);  // the input gradient's (reduce-scattered, under SP)
        // Bulk overlap: the input gradient's reduce-scatter beside the weight-gradient GEMM.
        const bool bulk = scatter && with_weight && overlaps(layout_, *it, it->before);
        const OpTime t = op_time(*it, kernel_);
        // Fed by a ring exchange, the input-gradient GEMM runs as `tensor` chunks, as in the forward.
        const bool ring_in = gather && overlaps(layout_, *it, it->after) && it->gemm && tensor > 1;
        const SimTime input = ring_in ? (to_sim(chunk_time(*it, kernel_, tensor, GemmSplit::rows).backward_input.time) + launch_gap_) *
                                            static_cast<std::int64_t>(tensor)
                                      : to_sim(t.backward_input.time + materialized_attention(*it) * 2.0) + launch_gap_;
        const bool weight_kernel = with_weight && t.backward_weight.time.value() > 0.0;
        const SimTime weight = weight_kernel ? to_sim((bulk ? op_time(*it, kernel_overlap_) : t).backward_weight.time) + launch_gap_
                                             : SimTime{};
        busy += input + weight;
        kernels += (weight_kernel ? 1 : 0) + (ring_in ? tensor : 1);
        if (scatter && it->before.kind == Collective::cp_exchange) {
            // Context parallel: the backward needs every key and value again (the forward kept its own chunk
            // only) and returns dK, dV to their owners.
            const CommSpec kv = *comm_spec(it->before, false);
            flush(bwd, a, SegmentKind::compute, name);
            if (cp_ring(layout_, *it)) {
                // Ring: K, V and the partial dK, dV travel beside the cp − 1 steps before the last.
                const auto [most, last] = split_last(input, layout_.context);
                overlapped(bwd, {{kv, "cp-exchange K/V"}, {*scatter, "cp-exchange dK/dV"}}, most, name, next_slot);
                a += last + weight;
            } else {
                bwd.push_back(Segment{SegmentKind::comm, {}, kv, "cp-exchange K/V"});
                a += input + weight;
                flush(bwd, a, SegmentKind::compute, name);
                bwd.push_back(Segment{SegmentKind::comm, {}, *scatter, "cp-exchange dK/dV"});
            }
            continue;
        }
        if (gather && overlaps(layout_, *it, it->after)) {
            // Ring exchange feeding the input-gradient GEMM, as in the forward.
            flush(bwd, a, SegmentKind::compute, name);
            const auto [most, last] = split_last(input, tensor);
            overlapped(bwd, *gather, it->after, most, name, next_slot);
            a += last;
        } else {
            if (gather) {
                flush(bwd, a, SegmentKind::compute, name);
                if (shared.on() && it->after.kind == Collective::ep_combine) {
                    append_collectives(bwd, shared.with_combine, false, true);
                    overlapped(bwd, *gather, it->after, beside_combine, name, next_slot);
                } else {
                    bwd.push_back(Segment{SegmentKind::comm, {}, *gather, std::string(to_string(it->after.kind))});
                }
            }
            a += input;
        }
        if (bulk) {
            flush(bwd, a, SegmentKind::compute, name);
            overlapped(bwd, *scatter, it->before, weight, name, next_slot);
            continue;
        }
        a += weight;
        if (scatter) {
            flush(bwd, a, SegmentKind::compute, name);
            if (shared.on() && it->before.kind == Collective::ep_dispatch) {
                overlapped(bwd, *scatter, it->before, beside_dispatch, name, next_slot);
                append_collectives(bwd, shared.with_dispatch, true, true);
            } else {
                bwd.push_back(Segment{SegmentKind::comm, {}, *scatter, std::string(to_string(it->before.kind))});
            }
        }
    }
    flush(bwd, a, SegmentKind::compute, name);
    // Under full recomputation the replayed forward carries its own launch stall (forward_segments).
    launch_bound(bwd, busy, kernels, name);
    return bwd;
}

// The passes of model chunk `chunk`, block by block, with each block's collectives where its ops need them. Each
// block is a unit of ZeRO-3 / FSDP sharding (FSDP wraps each transformer layer; the embedding and the head are
// units of their own), so its segments are kept per unit and assembled into passes by assemble_passes.
StepBuilder::ChunkPasses StepBuilder::make_chunk(int chunk) const {
    ChunkPasses out;
    int next_slot = -2;  // the chunk's overlapped tensor-parallel collectives
    for (const Block* block : chunk_blocks(chunk)) {
        // Segment labels are read only by the trace (step_tasks.cpp names tasks only then): without one they stay
        // short (no string allocated per segment copy).
        const std::string name = !spec_.record_trace ? std::string()
                                 : block->layer >= 0 ? fmt::format("{} {}", to_string(block->kind), block->layer)
                                                     : std::string(to_string(block->kind));
        Segments fwd = forward_segments(*block, name, next_slot);
        double dense = 0.0;
        double expert = 0.0;
        std::pair<double, double> fp8{0.0, 0.0};
        for (const Op& op : block->ops) {
            out.recompute_flops += op.recompute;
            // DualPipe's ranks that hold the head and the MTP modules hold the embedding too: its copies are that one
            // tensor, reduced and updated once (DeepSeek-V3 §3.2.1; memory counts it so, memory.cpp held_parameters).
            if (op.embedding_copy && layout_.schedule == Schedule::dualpipe) continue;
            (op.expert ? expert : dense) += op.parameters;
            if (op.fp8) (op.expert ? fp8.second : fp8.first) += op.parameters;
        }
        out.dense_parameters += dense;
        out.expert_parameters += expert;
        out.unit_parameters.emplace_back(dense, expert);
        out.unit_fp8.push_back(fp8);
        out.unit_names.push_back(name);
        out.unit_backward.push_back(backward_segments(*block, fwd, name, true, next_slot));
        out.unit_backward_input.push_back(backward_segments(*block, fwd, name, false, next_slot));
        out.unit_forward.push_back(std::move(fwd));  // after the backward passes, which replay it under full recompute
        SimTime w;
        for (const Op& op : block->ops) w += to_sim(op_time(op, kernel_).backward_weight.time);
        Segments weight;
        if (w.picoseconds() > 0) weight.push_back(Segment{SegmentKind::compute, w, {}, name + " W"});
        out.unit_weight.push_back(std::move(weight));
    }
    out.holds_head = chunk == plan_->model_chunks() - 1;
    assemble_passes(out);
    return out;
}

// ZeRO-3 / FSDP collectives of unit `unit` over the data-parallel groups: its parameters' all-gather (nccl-tests
// size: the whole gathered unit, parameter bytes), or its gradients' reduce-scatter (the whole unit, gradient
// bytes); routed experts over their own data-parallel group. None on a group of one GPU.
std::vector<Segment> StepBuilder::shard_collectives(const ChunkPasses& c, std::size_t unit, bool gradients) const {
    std::vector<Segment> out;
    const auto [dense, expert] = c.unit_parameters[unit];
    const auto [dense_fp8, expert_fp8] = c.unit_fp8[unit];
    const int dense_group = layout_.data * layout_.context;
    const int expert_group = layout_.expert_data_ranks();
    const double e = bytes_per_element(gradients ? spec_.precision.gradients : spec_.precision.parameters);
    const double dense_bytes = gradients ? dense * e : param_gather_bytes(dense, dense_fp8);
    const double expert_bytes = gradients ? expert * e : param_gather_bytes(expert, expert_fp8);
    const CollectiveKind kind = gradients ? CollectiveKind::reduce_scatter : CollectiveKind::all_gather;
    const int slot = gradients ? -1 : static_cast<int>(unit);
    const std::string label = fmt::format("{} ({})", gradients ? "grad reduce-scatter" : "param all-gather", c.unit_names[unit]);
    // Hybrid sharding: gathers and reduce-scatters inside the shard group, then the reduced shard all-reduced
    // across the replicas (the same unit's 1/S of the gradients on each).
    const int shard = layout_.dense_shard_ranks();
    const GroupKind within = shard == dense_group ? GroupKind::data_context : GroupKind::shard;
    if (shard > 1 && dense > 0) {
        out.push_back(Segment{SegmentKind::dp_comm, {}, CommSpec{kind, within, Bytes(dense_bytes), CommAxis::data}, label, slot});
    }
    if (gradients && dense_group > shard && dense > 0) {
        out.push_back(Segment{SegmentKind::dp_comm, {}, CommSpec{CollectiveKind::all_reduce, GroupKind::replica, Bytes(dense * e / shard), CommAxis::data},
                              fmt::format("grad replica all-reduce ({})", c.unit_names[unit]), slot});
    }
    if (expert_group > 1 && expert > 0) {
        out.push_back(Segment{SegmentKind::dp_comm, {}, CommSpec{kind, GroupKind::expert_data, Bytes(expert_bytes), CommAxis::data},
                              "expert " + label, slot});
    }
    return out;
}

double StepBuilder::param_gather_bytes(double parameters, double fp8) const {
    const double e = bytes_per_element(spec_.precision.parameters);
    if (!spec_.precision.fp8_param_gather) return parameters * e;
    return (parameters - fp8) * e + fp8 * bytes_per_element(Precision::fp8);
}

// Whether gradient buckets are reduced during the backward (ZeRO 0–2 with overlap).
bool StepBuilder::buckets_overlap() const { return layout_.overlap_gradient_reduce && layout_.zero_stage < 3; }

// The gradient buckets (ParallelLayout::gradient_bucket_parameters() each) filled by the gradients produced so far
// (`pending_*`, parameters not yet in a launched bucket; reduced by what is launched): one reduction per full
// bucket, dense and routed-expert gradients in buckets of their own (their data-parallel groups differ); `flush`:
// the rest too, as the last bucket.
// All-reduce, or reduce-scatter under ZeRO-1/2 (the distributed optimizer); nccl-tests size: the bucket's
// gradient bytes.
std::vector<Segment> StepBuilder::bucket_collectives(double& pending_dense, double& pending_expert, bool flush) const {
    std::vector<Segment> out;
    const double bucket = layout_.gradient_bucket_parameters();
    const double e = bytes_per_element(spec_.precision.gradients);
    const CollectiveKind kind = layout_.zero_stage >= 1 ? CollectiveKind::reduce_scatter : CollectiveKind::all_reduce;
    const int dense_group = layout_.data * layout_.context;
    const int expert_group = layout_.expert_data_ranks();
    auto launch = [&](double& pending, int group, GroupKind kind_of_group, const char* label) {
        if (group <= 1) {
            pending = 0.0;
            return;
        }
        while (pending >= bucket || (flush && pending > 0.0)) {
            const double n = std::min(pending, bucket);
            out.push_back(Segment{SegmentKind::dp_comm, {}, CommSpec{kind, kind_of_group, Bytes(n * e), CommAxis::data}, label, -1});
            pending -= n;
        }
    };
    launch(pending_dense, dense_group, GroupKind::data_context, "grad bucket");
    launch(pending_expert, expert_group, GroupKind::expert_data, "expert grad bucket");
    return out;
}

// The chunk's passes from its units: forward in unit order, the backward kinds in reverse. Under ZeRO-3 each pass
// that needs a unit's weights (forward; backward and backward-input unless the weights stay gathered after the
// forward) waits for the unit's gather, issued `prefetch` + 1 units ahead: gathers are issued at the pass's start
// for the first units, then one whenever a unit's compute is done (so with prefetch 1 unit k + 1's gather runs
// while unit k computes, as FSDP's prefetch does). Passes that produce weight gradients (backward, weight) issue
// each unit's reduce-scatter as soon as its compute is done. The head, the last unit of the forward, keeps its
// weights for the backward that follows (FSDP2 does not reshard the root module after forward: "its parameters
// would typically be immediately all-gathered for backward", torch.distributed.fsdp.fully_shard). Under ZeRO 0–2
// with overlap, the variants that
// complete the chunk's gradients launch each gradient bucket once the unit that fills it is done, and the last
// (partial) bucket at the pass's end.
void StepBuilder::assemble_passes(ChunkPasses& c) const {
    const std::size_t n = c.unit_forward.size();
    const bool sharded = layout_.zero_stage >= 3;
    enum class Reduce { none, units, buckets };
    auto pass = [&](const std::vector<Segments>& units, bool reverse, bool gather, Reduce reduce) {
        Segments out;
        std::vector<std::size_t> order(n);
        for (std::size_t k = 0; k < n; ++k) order[k] = reverse ? n - 1 - k : k;
        // The head's weights stay gathered from its forward to its backward passes.
        auto gathers = [&](std::size_t u) { return sharded && gather && !(reverse && c.holds_head && u + 1 == n); };
        auto issue = [&](std::size_t k) {
            if (k >= n || !gathers(order[k])) return;
            for (Segment& s : shard_collectives(c, order[k], false)) out.push_back(std::move(s));
        };
        const std::size_t ahead = static_cast<std::size_t>(layout_.prefetch);
        for (std::size_t k = 0; k <= ahead && k < n; ++k) issue(k);
        double pending_dense = 0.0;
        double pending_expert = 0.0;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t u = order[k];
            if (gathers(u) && !shard_collectives(c, u, false).empty()) {
                out.push_back(Segment{SegmentKind::wait, {}, {}, "wait for params", static_cast<int>(u)});
            }
            out.insert(out.end(), units[u].begin(), units[u].end());
            if (reduce == Reduce::units) {
                for (Segment& s : shard_collectives(c, u, true)) out.push_back(std::move(s));
            } else if (reduce == Reduce::buckets) {
                pending_dense += c.unit_parameters[u].first;
                pending_expert += c.unit_parameters[u].second;
                for (Segment& s : bucket_collectives(pending_dense, pending_expert, k + 1 == n)) out.push_back(std::move(s));
            }
            issue(k + ahead + 1);
        }
        return out;
    };
    const bool regather = layout_.reshard_after_forward;
    const Reduce grads = sharded ? Reduce::units : Reduce::none;
    c.forward = pass(c.unit_forward, false, true, Reduce::none);
    c.backward = pass(c.unit_backward, true, regather, grads);
    c.backward_input = pass(c.unit_backward_input, true, regather, Reduce::none);
    c.weight = pass(c.unit_weight, true, false, grads);
    const Reduce last = buckets_overlap() ? Reduce::buckets : grads;
    c.backward_reduce = pass(c.unit_backward, true, regather, last);
    c.weight_reduce = pass(c.unit_weight, true, false, last);
    if (layout_.param_gather_overlaps()) {
        // ZeRO-1/2's parameter all-gathers, every unit's issued in order at the step's start; each unit's forward
        // waits for its own, or with pipeline parallelism the chunk's first unit for all of them (NeMo's
        // granularity, ParallelLayout::overlap_param_gather).
        Segments& out = c.forward_gather;
        Segments waits;
        for (std::size_t u = 0; u < n; ++u) {
            const std::vector<Segment> gathers = shard_collectives(c, u, false);
            for (Segment s : gathers) {
                s.at_step_start = true;
                out.push_back(std::move(s));
            }
            if (!gathers.empty()) waits.push_back(Segment{SegmentKind::wait, {}, {}, "wait for params", static_cast<int>(u)});
        }
        for (std::size_t u = 0; u < n; ++u) {
            if (layout_.pipeline > 1 && u == 0) out.insert(out.end(), waits.begin(), waits.end());
            if (layout_.pipeline == 1) {
                for (const Segment& w : waits) {
                    if (w.slot == static_cast<int>(u)) out.push_back(w);
                }
            }
            out.insert(out.end(), c.unit_forward[u].begin(), c.unit_forward[u].end());
        }
    }
    // The passes are what the task graph reads; the units' parameters stay for the optimizer and the memory.
    c.unit_forward = {};
    c.unit_backward = {};
    c.unit_backward_input = {};
    c.unit_weight = {};
}

// The passes of model chunk `c`, built on first use.
const StepBuilder::ChunkPasses& StepBuilder::chunk(int c) {
    auto it = chunks_.find(c);
    if (it == chunks_.end()) it = chunks_.emplace(c, make_chunk(c)).first;
    return it->second;
}

// The segments of `pass` on `stage`.
const Segments& StepBuilder::segments(int stage, const Pass& pass, bool reduce, bool first) {
    const ChunkPasses& c = chunk(plan_->model_chunk(stage, pass));
    switch (pass.kind) {
        case PassKind::forward: return first && !c.forward_gather.empty() ? c.forward_gather : c.forward;
        case PassKind::backward: return reduce ? c.backward_reduce : c.backward;
        case PassKind::backward_input: return c.backward_input;
        case PassKind::backward_weight: return reduce ? c.weight_reduce : c.weight;
    }
    return c.forward;
}

}  // namespace gpuhours::detail
