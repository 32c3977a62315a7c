// Per-chunk pass templates: the segments of one model chunk's four pass kinds on one GPU — compute timed by the
// kernel model (kernel.hpp) from the workload's operators, recomputation, and the collectives between them —
// built once per chunk and reused by every micro-batch.
#include "step_builder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace gpuhours::detail {

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

// The passes of model chunk `chunk`, block by block, with each block's collectives where its ops need them.
StepBuilder::ChunkPasses StepBuilder::make_chunk(int chunk) const {
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

// The passes of model chunk `c`, built on first use.
const StepBuilder::ChunkPasses& StepBuilder::chunk(int c) {
    auto it = chunks_.find(c);
    if (it == chunks_.end()) it = chunks_.emplace(c, make_chunk(c)).first;
    return it->second;
}

// The segments of `pass` on `stage`.
const Segments& StepBuilder::segments(int stage, const Pass& pass) {
    const ChunkPasses& c = chunk(plan_->model_chunk(stage, pass));
    switch (pass.kind) {
        case PassKind::forward: return c.forward;
        case PassKind::backward: return c.backward;
        case PassKind::backward_input: return c.backward_input;
        case PassKind::backward_weight: return c.weight;
    }
    return c.forward;
}

}  // namespace gpuhours::detail
