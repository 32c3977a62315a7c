// Workload model: see include/gpuhours/workload/workload.hpp for the contract. This file: names, validation,
// parameter counts, FLOPs per token and pipeline stages; the ops are in operators.cpp, the memory in memory.cpp.
//
// Notation in the comments: h hidden, V vocabulary, L layers, H query heads, g key/value heads, d head_dim
// (MLA: the non-rotary "nope" part), r MLA rotary dim, v value head dim, f dense FFN size, E routed experts,
// S shared experts, k top_k, fe expert FFN size, s sequence length, b micro-batch, t TP, c CP, e EP.
#include <gpuhours/workload/workload.hpp>

#include <gpuhours/units/error.hpp>

#include "workload_detail.hpp"

#include <fmt/format.h>

#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>
#include <string>
#include <utility>

namespace gpuhours {

std::string_view to_string(AttentionMask m) {
    switch (m) {
        case AttentionMask::causal: return "causal";
        case AttentionMask::full: return "full";
    }
    return "?";
}

std::string_view to_string(OpKind k) {
    switch (k) {
        case OpKind::gemm: return "gemm";
        case OpKind::grouped_gemm: return "grouped-gemm";
        case OpKind::attention: return "attention";
        case OpKind::elementwise: return "elementwise";
        case OpKind::embedding: return "embedding";
        case OpKind::loss: return "loss";
    }
    return "?";
}

std::string_view to_string(Collective c) {
    switch (c) {
        case Collective::none: return "none";
        case Collective::tp_all_reduce: return "tp-all-reduce";
        case Collective::tp_all_gather: return "tp-all-gather";
        case Collective::tp_reduce_scatter: return "tp-reduce-scatter";
        case Collective::cp_exchange: return "cp-exchange";
        case Collective::cp_state_gather: return "cp-state-gather";
        case Collective::ep_dispatch: return "ep-dispatch";
        case Collective::ep_combine: return "ep-combine";
        case Collective::etp_all_gather: return "etp-all-gather";
        case Collective::etp_reduce_scatter: return "etp-reduce-scatter";
        case Collective::pp_send: return "pp-send";
    }
    return "?";
}

std::string_view to_string(BlockKind k) {
    switch (k) {
        case BlockKind::embedding: return "embedding";
        case BlockKind::dense_layer: return "dense-layer";
        case BlockKind::moe_layer: return "moe-layer";
        case BlockKind::mtp: return "mtp";
        case BlockKind::head: return "head";
    }
    return "?";
}

Flops Block::forward() const {
    Flops f;
    for (const auto& op : ops) f += op.forward;
    return f;
}
Flops Block::backward() const {
    Flops f;
    for (const auto& op : ops) f += op.backward;
    return f;
}
Flops Block::recompute() const {
    Flops f;
    for (const auto& op : ops) f += op.recompute;
    return f;
}
double Block::parameters() const {
    double p = 0.0;
    for (const auto& op : ops) p += op.parameters;
    return p;
}

}  // namespace gpuhours

namespace gpuhours::detail {

// ---- validation ---------------------------------------------------------------------------------------------

void require(bool ok, const std::string& what) {
    if (!ok) throw Error("workload: " + what);
}

void validate(const ModelSpec& m) {
    const std::string who = m.id.empty() ? std::string("model") : "model '" + m.id + "'";
    require(m.layers > 0, who + ": layers must be positive");
    require(m.hidden > 0, who + ": hidden must be positive");
    require(m.vocab > 0, who + ": vocab must be positive");
    require(m.attention.heads > 0, who + ": attention heads must be positive");
    require(m.attention.head_dim > 0, who + ": attention head_dim must be positive");
    if (m.attention.kind == AttentionKind::gqa) {
        require(m.attention.kv_heads > 0 && m.attention.kv_heads <= m.attention.heads,
                who + ": gqa kv_heads must be between 1 and heads");
    }
    if (m.attention.kind == AttentionKind::mla) {
        require(m.attention.kv_lora_rank > 0, who + ": mla needs kv_lora_rank > 0");
        require(m.attention.rope_head_dim >= 0 && m.attention.q_lora_rank >= 0, who + ": mla ranks must be >= 0");
    }
    require(m.mtp_depth >= 0, who + ": mtp_depth must be >= 0");
    const int dense = m.moe ? m.moe->dense_layers : m.layers;
    require(dense >= 0 && dense <= m.layers, who + ": moe dense_layers must be between 0 and layers");
    if (m.moe) require(m.moe->layer_frequency >= 1, who + ": moe layer_frequency must be at least 1");
    require(m.attention.sliding_window >= 0 && m.attention.full_attention_every >= 0,
            who + ": attention sliding_window and full_attention_every must be >= 0");
    if (dense > 0 || (m.moe && m.moe->layer_frequency > 1)) require(m.mlp.ffn_hidden > 0, who + ": mlp ffn_hidden must be positive");
    if (m.moe) {
        require(m.moe->routed_experts > 0, who + ": moe routed_experts must be positive");
        require(m.moe->top_k > 0 && m.moe->top_k <= m.moe->routed_experts,
                who + ": moe top_k must be between 1 and routed_experts");
        require(m.moe->shared_experts >= 0, who + ": moe shared_experts must be >= 0");
        require(m.moe->expert_ffn_hidden > 0, who + ": moe expert_ffn_hidden must be positive");
        require(m.moe->load_cv >= 0.0 && m.moe->load_cv <= 4.0, who + ": moe load_cv must be between 0 and 4");
    }
    if (m.position == PositionKind::learned) {
        require(m.max_position_embeddings > 0, who + ": learned positions need max_position_embeddings > 0");
    }
}

void validate(const ParallelLayout& p) {
    require(p.tensor > 0 && p.pipeline > 0 && p.data > 0 && p.expert > 0 && p.context > 0 && p.virtual_stages > 0,
            "parallel degrees must be positive");
    require(p.expert_tensor >= 0, "expert_tensor must be positive (0: the tensor degree)");
    require((1LL * p.tensor * p.context * p.data) % (1LL * p.expert * p.expert_tensor_degree()) == 0,
            "expert × expert_tensor must divide tensor × context × data");
    require(p.micro_batch > 0, "micro_batch must be positive");
    require(p.zero_stage >= 0 && p.zero_stage <= 3, "zero_stage must be 0, 1, 2 or 3");
}

void validate(const MicroBatchShape& s) {
    require(s.sequence_length > 0, "sequence_length must be positive");
    require(s.micro_batch > 0, "micro_batch must be positive");
}

}  // namespace gpuhours::detail

namespace gpuhours {

double expert_load_factor(int routed_experts, int expert_parallel, double load_cv) {
    if (load_cv <= 0.0 || expert_parallel <= 1) return 1.0;
    // Kept per thread: every layout's MoE layers ask again (plan, sweeps), and 4,096 quantiles cost about a ms.
    thread_local std::map<std::tuple<int, int, double>, double> known;
    const auto key = std::make_tuple(routed_experts, expert_parallel, load_cv);
    if (const auto it = known.find(key); it != known.end()) return it->second;
    const double n = static_cast<double>(routed_experts) / expert_parallel;
    const double sigma2 = std::log1p(load_cv * load_cv / n);
    const double sigma = std::sqrt(sigma2);
    const boost::math::normal standard;
    constexpr int kPoints = 4096;
    double sum = 0.0;
    for (int i = 0; i < kPoints; ++i) {
        const double v = (i + 0.5) / kPoints;
        const double u = std::pow(v, 1.0 / expert_parallel);  // the max of N draws is at quantile v^(1/N)
        sum += std::exp(-0.5 * sigma2 + sigma * boost::math::quantile(standard, u));
    }
    if (known.size() > 4096) known.clear();
    return known[key] = sum / kPoints;
}

using detail::Context;
using detail::embedding_block;
using detail::make_context;
using detail::mtp_block;
using detail::norm_params;
using detail::require;
using detail::transformer_block;
using detail::validate;

// ---- parameters ---------------------------------------------------------------------------------------------

namespace {

// One GPU, no parallelism and no vocabulary padding: parameters and model FLOPs are counted for the model as
// published. Padding rows are work a step does (the ops of a real layout include them) but not model FLOPs, as
// PaLM defines MFU; Megatron's own formula counts the padded vocabulary, a difference of under 0.1 % of a step's
// FLOPs at the default multiple.
ParallelLayout unpadded_single_gpu() {
    ParallelLayout one;
    one.vocab_divisible_by = 1;
    return one;
}

}  // namespace

ParameterCount count_parameters(const ModelSpec& model) {
    validate(model);
    // Counted from the unsharded op lists, so the counts and the ops cannot disagree: one GPU, no parallelism.
    const ParallelLayout one = unpadded_single_gpu();
    const MixedPrecision precision;
    const MicroBatchShape shape{1, 1, AttentionMask::causal};
    const Context c = make_context(model, one, precision, shape);
    const double h = model.hidden;

    ParameterCount p;
    const double table = static_cast<double>(model.vocab) * h;
    p.embedding = embedding_block(c).parameters();
    p.output_head = model.tied_embeddings ? 0.0 : table;
    p.final_norm = norm_params(model, h);
    auto inactive_experts = [&](const Block& b) {
        // Routed-expert parameters a token does not use: (E - k)/E of them.
        if (!model.moe) return 0.0;
        double routed = 0.0;
        for (const auto& op : b.ops) {
            if (op.expert) routed += op.parameters;
        }
        return routed * (1.0 - static_cast<double>(model.moe->top_k) / model.moe->routed_experts);
    };
    // Layers differ in parameters only by their MLP (dense or MoE) and attention (softmax or linear): one block
    // of each kind present is built and counted for every layer of that kind (a window changes work, not weights).
    struct Kind {
        double parameters = 0.0;
        double active = 0.0;
        bool built = false;
    };
    Kind kinds[2][2];
    int moe_layers = 0;
    p.total = p.embedding + p.final_norm + p.output_head;
    p.active_with_embedding = p.total;
    for (int l = 0; l < model.layers; ++l) {
        const bool moe = is_moe_layer(model, l);
        const bool linear = is_linear_attention_layer(model, l);
        Kind& kind = kinds[moe ? 1 : 0][linear ? 1 : 0];
        if (!kind.built) {
            const Block b = transformer_block(c, l, moe ? BlockKind::moe_layer : BlockKind::dense_layer);
            kind = {b.parameters(), b.parameters() - inactive_experts(b), true};
            // The figures of one layer: the first of each kind (and its attention sub-block for the first layer).
            if (moe && p.per_moe_layer == 0.0) {
                p.per_moe_layer = kind.parameters;
                p.per_moe_layer_active = kind.active;
            }
            if (!moe && p.per_dense_layer == 0.0) p.per_dense_layer = kind.parameters;
            if (l == 0) {
                for (const auto& op : b.ops) {
                    if (op.name.rfind("attn.", 0) == 0) p.attention_per_layer += op.parameters;
                }
            }
        }
        moe_layers += moe ? 1 : 0;
        p.total += kind.parameters;
        p.active_with_embedding += kind.active;
    }
    p.moe_layers = moe_layers;
    p.dense_layers = model.layers - moe_layers;
    // The head multiplies by V·h weights whether tied or not; the input table is a lookup.
    p.active = p.active_with_embedding - p.embedding + (model.tied_embeddings ? table : 0.0);
    p.active_without_head = p.active - table;

    if (model.mtp_depth > 0) {
        const Block mtp = mtp_block(c, 0, 1);
        double module = mtp.parameters();  // excludes the shared embedding and head (pipeline = 1)
        p.mtp = module * model.mtp_depth;
        p.mtp_active = (module - inactive_experts(mtp) + table) * model.mtp_depth;
    }
    return p;
}

// ---- FLOPs per token ----------------------------------------------------------------------------------------

FlopsPerToken training_flops_breakdown(const ModelSpec& model, int sequence_length, AttentionMask mask) {
    require(sequence_length > 0, "sequence_length must be positive");
    // One sequence on one GPU; every model-FLOP op is counted once, then divided by the tokens.
    const ParallelLayout one = unpadded_single_gpu();
    const std::vector<Block> blocks =
        model_ops(model, one, MixedPrecision{}, MicroBatchShape{sequence_length, 1, mask});
    FlopsPerToken f;
    Flops mtp;
    for (const auto& b : blocks) {
        for (const auto& op : b.ops) {
            if (b.kind == BlockKind::mtp) {
                mtp += op.forward + op.backward;
            } else if (op.kind == OpKind::attention) {
                f.forward_attention += op.forward;
            } else {
                f.forward_matmul += op.forward;
            }
        }
    }
    const double s = sequence_length;
    f.forward_matmul /= s;
    f.forward_attention /= s;
    f.forward = f.forward_matmul + f.forward_attention;
    f.backward = f.forward * 2.0;
    f.total = f.forward + f.backward;
    f.mtp_total = mtp / s;
    return f;
}

Flops training_flops_per_token(const ModelSpec& model, int sequence_length, AttentionMask mask) {
    return training_flops_breakdown(model, sequence_length, mask).total;
}

// ---- pipeline stages ----------------------------------------------------------------------------------------

namespace detail {
std::vector<StageAssignment> chunk_assignments(const ModelSpec& model, const ParallelLayout& layout) {
    const int p = layout.pipeline;
    const auto layers = chunk_layers(model, p * layout.virtual_stages, layout.layers_per_chunk);
    std::vector<StageAssignment> out(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
        out[i].rank = static_cast<int>(i) % p;
        out[i].layers = layers[i];
    }
    out.front().embedding = true;
    out.back().head = true;
    return out;
}
}  // namespace detail

std::vector<std::vector<int>> chunk_layers(const ModelSpec& model, int chunks, const std::vector<int>& split) {
    validate(model);
    require(chunks >= 1, "the number of pipeline chunks must be positive");
    require(model.layers >= chunks, "model '" + model.id + "' has " + std::to_string(model.layers) +
                                        " layers, fewer than pipeline × virtual stages = " + std::to_string(chunks));
    if (!split.empty()) {
        require(split.size() == static_cast<std::size_t>(chunks),
                fmt::format("layers_per_stage has {} entries for {} pipeline chunks", split.size(), chunks));
        require(std::all_of(split.begin(), split.end(), [](int n) { return n >= 1; }) &&
                    std::accumulate(split.begin(), split.end(), 0LL) == model.layers,
                fmt::format("layers_per_stage must give every chunk at least one layer and sum to the model's {}", model.layers));
    }
    const int base = model.layers / chunks;
    const int extra = model.layers % chunks;  // chunks 1..extra get one more layer
    std::vector<std::vector<int>> out(static_cast<std::size_t>(chunks));
    int next = 0;
    for (int chunk = 0; chunk < chunks; ++chunk) {
        const int size = split.empty() ? base + ((chunk >= 1 && chunk <= extra) ? 1 : 0) : split[static_cast<std::size_t>(chunk)];
        for (int i = 0; i < size; ++i) out[static_cast<std::size_t>(chunk)].push_back(next++);
    }
    return out;
}

std::vector<StageAssignment> assign_stages(const ModelSpec& model, const ParallelLayout& layout) {
    validate(model);
    validate(layout);
    std::vector<StageAssignment> stages(static_cast<std::size_t>(layout.pipeline));
    for (int r = 0; r < layout.pipeline; ++r) stages[static_cast<std::size_t>(r)].rank = r;
    for (const StageAssignment& chunk : detail::chunk_assignments(model, layout)) {
        auto& stage = stages[static_cast<std::size_t>(chunk.rank)];
        stage.layers.insert(stage.layers.end(), chunk.layers.begin(), chunk.layers.end());
        stage.embedding = stage.embedding || chunk.embedding;
        stage.head = stage.head || chunk.head;
    }
    for (auto& stage : stages) std::sort(stage.layers.begin(), stage.layers.end());
    return stages;
}

}  // namespace gpuhours
