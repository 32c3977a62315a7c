// Workload model: see include/gpuhours/workload/workload.hpp for the contract.
//
// Notation in the comments: h hidden, V vocabulary, L layers, H query heads, g key/value heads, d head_dim
// (MLA: the non-rotary "nope" part), r MLA rotary dim, v value head dim, f dense FFN size, E routed experts,
// S shared experts, k top_k, fe expert FFN size, s sequence length, b micro-batch, t TP, c CP, e EP.
#include <gpuhours/workload/workload.hpp>

#include <gpuhours/units/error.hpp>

#include <algorithm>
#include <cmath>
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
        case Collective::ep_dispatch: return "ep-dispatch";
        case Collective::ep_combine: return "ep-combine";
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

namespace {

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
    if (dense > 0) require(m.mlp.ffn_hidden > 0, who + ": mlp ffn_hidden must be positive");
    if (m.moe) {
        require(m.moe->routed_experts > 0, who + ": moe routed_experts must be positive");
        require(m.moe->top_k > 0 && m.moe->top_k <= m.moe->routed_experts,
                who + ": moe top_k must be between 1 and routed_experts");
        require(m.moe->shared_experts >= 0, who + ": moe shared_experts must be >= 0");
        require(m.moe->expert_ffn_hidden > 0, who + ": moe expert_ffn_hidden must be positive");
    }
    if (m.position == PositionKind::learned) {
        require(m.max_position_embeddings > 0, who + ": learned positions need max_position_embeddings > 0");
    }
}

void validate(const ParallelLayout& p) {
    require(p.tensor > 0 && p.pipeline > 0 && p.data > 0 && p.expert > 0 && p.context > 0 && p.virtual_stages > 0,
            "parallel degrees must be positive");
    require(p.micro_batch > 0, "micro_batch must be positive");
    require(p.zero_stage >= 0 && p.zero_stage <= 3, "zero_stage must be 0, 1, 2 or 3");
}

void validate(const MicroBatchShape& s) {
    require(s.sequence_length > 0, "sequence_length must be positive");
    require(s.micro_batch > 0, "micro_batch must be positive");
}

// ---- architecture arithmetic shared by parameters, ops and memory ---------------------------------------

bool is_moe_layer(const ModelSpec& m, int layer) { return m.moe.has_value() && layer >= m.moe->dense_layers; }

double norm_params(const ModelSpec& m, double width) {
    // RMSNorm: one gain per feature; LayerNorm: gain and bias.
    return m.norm == NormKind::layernorm ? 2.0 * width : width;
}

bool gated(MlpKind k) { return k == MlpKind::swiglu; }

// Attention geometry after MLA decompression.
struct AttentionDims {
    double heads = 0;     // H
    double kv_heads = 0;  // g (mla: H, decompressed per head)
    double qk_dim = 0;    // per-head query/key width: d (mla: d + r)
    double v_dim = 0;     // per-head value width
};

AttentionDims attention_dims(const ModelSpec& m) {
    const auto& a = m.attention;
    AttentionDims d;
    d.heads = a.heads;
    switch (a.kind) {
        case AttentionKind::mha:
            d.kv_heads = a.heads;
            d.qk_dim = a.head_dim;
            d.v_dim = a.head_dim;
            break;
        case AttentionKind::gqa:
            d.kv_heads = a.kv_heads;
            d.qk_dim = a.head_dim;
            d.v_dim = a.head_dim;
            break;
        case AttentionKind::mla:
            d.kv_heads = a.heads;
            d.qk_dim = a.head_dim + a.rope_head_dim;
            d.v_dim = a.v_head_dim > 0 ? a.v_head_dim : a.head_dim;
            break;
    }
    return d;
}

// ---- operator construction ------------------------------------------------------------------------------

enum class Split { column, row, replicated };

// Everything one GPU's share of a micro-batch needs.
struct Context {
    const ModelSpec& m;
    double t = 1;       // tensor parallel
    bool sp = false;    // sequence parallel (only meaningful with t > 1)
    double cp = 1;      // context parallel
    double ep = 1;      // expert parallel
    double b = 1;       // sequences per micro-batch
    double s = 0;       // full sequence length (keys each query may attend to)
    double tokens = 0;  // T = b·s/c: tokens inside the TP region on this GPU
    double tokens_rep = 0;  // tokens of the ops outside the TP region: T/t with SP, T without
    double mask = 0.5;  // fraction of the s×s products computed
    double e_act = 2;   // bytes per stored/moved activation element
    double e_w = 2;     // bytes per working weight element
    Recompute recompute = Recompute::none;
    bool fp8 = false;   // GEMMs in FP8: their inputs are quantized by separate kernels
};

Context make_context(const ModelSpec& m, const ParallelLayout& layout, const MixedPrecision& precision,
                     const MicroBatchShape& shape) {
    Context c{m};
    c.t = layout.tensor;
    c.sp = layout.sequence_parallel && layout.tensor > 1;
    c.cp = layout.context;
    c.ep = layout.expert;
    c.b = shape.micro_batch;
    c.s = shape.sequence_length;
    c.tokens = c.b * c.s / c.cp;
    c.tokens_rep = c.sp ? c.tokens / c.t : c.tokens;
    c.mask = shape.mask == AttentionMask::causal ? 0.5 : 1.0;
    c.e_act = bytes_per_element(precision.activations);
    c.e_w = bytes_per_element(precision.parameters);
    c.recompute = layout.recompute;
    c.fp8 = precision.compute == Precision::fp8;
    return c;
}

long long whole(double x) { return std::llround(x); }

// A weight GEMM on `tokens` rows: in → out features, split over TP as Megatron does (column: output features;
// row: input features, partial sums reduced after; replicated: whole on every TP rank).
Op gemm(const Context& c, std::string name, double in, double out, Split split, bool bias, double tokens) {
    const double k = split == Split::row ? in / c.t : in;
    const double n = split == Split::column ? out / c.t : out;
    Op op;
    op.name = std::move(name);
    op.kind = OpKind::gemm;
    op.gemm = GemmShape{whole(tokens), whole(n), whole(k), 1};
    op.parameters = k * n + (bias ? n : 0.0);
    op.forward = Flops(2.0 * tokens * n * k);
    op.backward = op.forward * 2.0;
    op.read = Bytes(op.parameters * c.e_w + tokens * k * c.e_act);
    op.written = Bytes(tokens * n * c.e_act);
    return op;
}

// Memory-bound op over `tokens` rows reading `in` and writing `out` features per row; `params` replicated.
Op elementwise(const Context& c, std::string name, double tokens, double in, double out, double params = 0.0) {
    Op op;
    op.name = std::move(name);
    op.kind = OpKind::elementwise;
    op.parameters = params;
    op.read = Bytes(tokens * in * c.e_act + params * c.e_w);
    op.written = Bytes(tokens * out * c.e_act);
    return op;
}

Communication comm(Collective kind, double bytes) { return Communication{kind, Bytes(bytes)}; }

// Collective after a row-parallel GEMM whose full output is `tokens × h`.
Communication tp_after(const Context& c, double tokens) {
    if (c.t <= 1) return {};
    return comm(c.sp ? Collective::tp_reduce_scatter : Collective::tp_all_reduce, tokens * c.m.hidden * c.e_act);
}
// Collective before a column-parallel GEMM fed from the sequence-parallel region.
Communication tp_before(const Context& c) {
    if (!c.sp) return {};
    return comm(Collective::tp_all_gather, c.tokens_rep * c.m.hidden * c.e_act);
}

// The attention core: scores Q·Kᵀ (2·T·s·H·qk per GPU before the mask) and context P·V (2·T·s·H·v), the
// causal mask halving both. Reads Q for the local queries and K, V for all s keys of the b sequences.
Op attention_core(const Context& c, const AttentionDims& a) {
    const double heads = a.heads / c.t;
    const double kv_heads = a.kv_heads / c.t;
    Op op;
    op.name = "attn.core";
    op.kind = OpKind::attention;
    op.forward = Flops(2.0 * c.tokens * c.s * c.mask * heads * (a.qk_dim + a.v_dim));
    op.backward = op.forward * 2.0;
    op.read = Bytes((c.tokens * heads * a.qk_dim + c.b * c.s * kv_heads * (a.qk_dim + a.v_dim)) * c.e_act);
    op.written = Bytes(c.tokens * heads * a.v_dim * c.e_act);
    if (c.cp > 1) op.before = comm(Collective::cp_exchange, c.tokens * kv_heads * (a.qk_dim + a.v_dim) * c.e_act);
    return op;
}

void add_attention(const Context& c, std::vector<Op>& ops) {
    const ModelSpec& m = c.m;
    const auto& at = m.attention;
    const AttentionDims a = attention_dims(m);
    const double h = m.hidden;
    ops.push_back(elementwise(c, "attn.norm", c.tokens_rep, h, h, norm_params(m, h)));
    if (at.kind == AttentionKind::mla) {
        // MLA (DeepSeek-V2 §2.1.2–2.1.3): c_Q = W_DQ·x (q_lora), q = W_UQ·RMSNorm(c_Q) (H·(d+r));
        // [c_KV; k_R] = W_DKV·x (kv_lora + r, the rotary key shared by all heads); [k_C; v] = W_UKV·RMSNorm(c_KV)
        // (H·(d+v)). The down-projections are replicated across TP and run on the sequence shard; their small
        // latents are all-gathered before the column-parallel up-projections (Megatron-Core's MLA).
        const double qk = a.qk_dim;
        const double latent = (at.q_lora_rank > 0 ? at.q_lora_rank : 0) + at.kv_lora_rank + at.rope_head_dim;
        if (at.q_lora_rank > 0) {
            ops.push_back(gemm(c, "attn.q_down", h, at.q_lora_rank, Split::replicated, m.bias, c.tokens_rep));
            ops.push_back(elementwise(c, "attn.q_norm", c.tokens_rep, at.q_lora_rank, at.q_lora_rank,
                                      norm_params(m, at.q_lora_rank)));
        }
        ops.push_back(gemm(c, "attn.kv_down", h, at.kv_lora_rank + at.rope_head_dim, Split::replicated, m.bias,
                           c.tokens_rep));
        ops.push_back(elementwise(c, "attn.kv_norm", c.tokens_rep, at.kv_lora_rank, at.kv_lora_rank,
                                  norm_params(m, at.kv_lora_rank)));
        if (c.sp) ops.back().after = comm(Collective::tp_all_gather, c.tokens_rep * latent * c.e_act);
        if (at.q_lora_rank > 0) {
            ops.push_back(gemm(c, "attn.q_up", at.q_lora_rank, a.heads * qk, Split::column, m.bias, c.tokens));
        } else {
            ops.push_back(gemm(c, "attn.q", h, a.heads * qk, Split::column, m.bias, c.tokens));
            ops.back().before = tp_before(c);
        }
        ops.push_back(gemm(c, "attn.kv_up", at.kv_lora_rank, a.heads * (at.head_dim + a.v_dim), Split::column,
                           m.bias, c.tokens));
        ops.push_back(elementwise(c, "attn.rope", c.tokens, a.heads / c.t * at.rope_head_dim + at.rope_head_dim,
                                  a.heads / c.t * at.rope_head_dim + at.rope_head_dim));
    } else {
        // Fused Q, K, V projection: h → (H + 2g)·d.
        ops.push_back(gemm(c, "attn.qkv", h, (a.heads + 2.0 * a.kv_heads) * a.qk_dim, Split::column, m.bias,
                           c.tokens));
        ops.back().before = tp_before(c);
        if (m.position == PositionKind::rope) {
            const double width = (a.heads + a.kv_heads) / c.t * a.qk_dim;
            ops.push_back(elementwise(c, "attn.rope", c.tokens, width, width));
        }
    }
    ops.push_back(attention_core(c, a));
    ops.push_back(gemm(c, "attn.out", a.heads * a.v_dim, h, Split::row, m.bias, c.tokens));
    ops.back().after = tp_after(c, c.tokens);
    ops.push_back(elementwise(c, "attn.residual", c.tokens_rep, 2.0 * h, h));
}

// A (possibly gated) MLP of intermediate size f on `tokens` rows, names prefixed; fc1 fuses gate and up.
void add_mlp(const Context& c, std::vector<Op>& ops, const std::string& prefix, double f, double tokens) {
    const ModelSpec& m = c.m;
    const double h = m.hidden;
    const double up = gated(m.mlp.kind) ? 2.0 * f : f;
    ops.push_back(gemm(c, prefix + ".fc1", h, up, Split::column, m.bias, tokens));
    ops.push_back(elementwise(c, prefix + ".act", tokens, up / c.t, f / c.t));
    ops.push_back(gemm(c, prefix + ".fc2", f, h, Split::row, m.bias, tokens));
}

void add_dense_mlp(const Context& c, std::vector<Op>& ops) {
    const double h = c.m.hidden;
    ops.push_back(elementwise(c, "mlp.norm", c.tokens_rep, h, h, norm_params(c.m, h)));
    const std::size_t first = ops.size();
    add_mlp(c, ops, "mlp", c.m.mlp.ffn_hidden, c.tokens);
    ops[first].before = tp_before(c);
    ops.back().after = tp_after(c, c.tokens);
    ops.push_back(elementwise(c, "mlp.residual", c.tokens_rep, 2.0 * h, h));
}

// MoE block (DeepSeekMoE): router logits h → E on every token, top-k selection, k routed experts per token,
// S shared experts on every token. Experts are split over TP like the dense MLP (expert-TP = TP) and over EP
// by whole experts; with perfect balance each GPU processes T·k routed token-slots, E/e experts each receiving
// T·k·e/E of them.
void add_moe(const Context& c, std::vector<Op>& ops) {
    const ModelSpec& m = c.m;
    const MoeSpec& moe = *m.moe;
    const double h = m.hidden;
    const double E = moe.routed_experts;
    const double k = moe.top_k;
    const double fe = moe.expert_ffn_hidden;
    ops.push_back(elementwise(c, "moe.norm", c.tokens_rep, h, h, norm_params(m, h)));
    ops.push_back(gemm(c, "moe.router", h, E, Split::replicated, false, c.tokens_rep));
    ops.push_back(elementwise(c, "moe.topk", c.tokens_rep, E, 2.0 * k));
    // Token permutation: each token's row copied once per routed slot into expert-contiguous send buffers
    // (the un-permutation on the way back is part of moe.combine below).
    ops.push_back(elementwise(c, "moe.permute", c.tokens_rep, h, k * h));

    const double local_experts = E / c.ep;
    const double slots = c.tokens * k;
    const double up = gated(m.mlp.kind) ? 2.0 * fe : fe;
    auto grouped = [&](std::string name, double in, double out, Split split) {
        Op op = gemm(c, std::move(name), in, out, split, m.bias, slots);
        op.kind = OpKind::grouped_gemm;
        op.expert = true;
        op.read += Bytes(op.parameters * (local_experts - 1.0) * c.e_w);  // every local expert's weights
        op.parameters *= local_experts;
        op.gemm->m = whole(slots / local_experts);
        op.gemm->count = whole(local_experts);
        return op;
    };
    Op fc1 = grouped("moe.routed.fc1", h, up, Split::column);
    fc1.before = comm(Collective::ep_dispatch, c.tokens_rep * k * h * c.e_act);
    ops.push_back(std::move(fc1));
    ops.push_back(elementwise(c, "moe.routed.act", slots, up / c.t, fe / c.t));
    Op fc2 = grouped("moe.routed.fc2", fe, h, Split::row);
    fc2.after = comm(Collective::ep_combine, c.tokens_rep * k * h * c.e_act);
    ops.push_back(std::move(fc2));
    if (moe.shared_experts > 0) {
        // The S shared experts act as one MLP of intermediate size S·fe.
        const std::size_t first = ops.size();
        add_mlp(c, ops, "moe.shared", moe.shared_experts * fe, c.tokens);
        ops[first].before = tp_before(c);
        ops.back().after = tp_after(c, c.tokens);
    }
    ops.push_back(elementwise(c, "moe.combine", c.tokens_rep, (k + 2.0) * h, h));
}

// Selective: the attention core (Korthikanti §5); for MLA also the up-projections that rebuild Q, K, V from the
// stored latents, as DeepSeek-V3 does (arXiv 2412.19437 §3.3: "recomputation of RMSNorm and MLA
// up-projection"; the norms carry no model FLOPs). Full: the whole layer's forward.
void apply_recompute(const Context& c, Block& block) {
    const bool mla = c.m.attention.kind == AttentionKind::mla;
    for (auto& op : block.ops) {
        if (c.recompute == Recompute::full) op.recompute = op.forward;
        if (c.recompute == Recompute::selective) {
            const bool up = op.name == "attn.q_up" || op.name == "attn.kv_up";
            if (op.kind == OpKind::attention || (mla && up)) op.recompute = op.forward;
        }
    }
}

// FP8 training (DeepSeek-V3 §3.3) quantizes each GEMM's input activations to FP8 with fine-grained scales in a
// kernel of its own: read the BF16 input (2 bytes), write 1 byte plus one FP32 scale per 128 elements.
// Memory-bound; inserted before every GEMM and before the collective feeding it (DeepSeek dispatches FP8).
void add_quantization(const Context& c, std::vector<Op>& ops) {
    if (!c.fp8) return;
    std::vector<Op> out;
    out.reserve(ops.size() * 2);
    for (auto& op : ops) {
        if ((op.kind == OpKind::gemm || op.kind == OpKind::grouped_gemm) && op.gemm) {
            const double elements = static_cast<double>(op.gemm->m) * static_cast<double>(op.gemm->k) *
                                    static_cast<double>(op.gemm->count);
            Op q;
            q.name = op.name + ".quant";
            q.kind = OpKind::elementwise;
            q.read = Bytes(elements * 2.0);
            q.written = Bytes(elements * (1.0 + 4.0 / 128.0));
            out.push_back(std::move(q));
        }
        out.push_back(std::move(op));
    }
    ops = std::move(out);
}

Block transformer_block(const Context& c, int layer, BlockKind kind) {
    Block block;
    block.kind = kind;
    block.layer = layer;
    add_attention(c, block.ops);
    if (is_moe_layer(c.m, layer)) {
        add_moe(c, block.ops);
    } else {
        add_dense_mlp(c, block.ops);
    }
    add_quantization(c, block.ops);
    apply_recompute(c, block);
    return block;
}

// Vocabulary-parallel embedding (rows split over TP; the partial lookups are summed across TP), plus a learned
// position table replicated on every TP rank.
Block embedding_block(const Context& c) {
    const ModelSpec& m = c.m;
    const double h = m.hidden;
    Block block;
    block.kind = BlockKind::embedding;
    Op op;
    op.name = "embed.lookup";
    op.kind = OpKind::embedding;
    op.parameters = static_cast<double>(m.vocab) * h / c.t;
    if (m.position == PositionKind::learned) op.parameters += static_cast<double>(m.max_position_embeddings) * h;
    op.read = Bytes(c.tokens * h * c.e_w * (m.position == PositionKind::learned ? 2.0 : 1.0));
    op.written = Bytes(c.tokens * h * c.e_act);
    op.after = tp_after(c, c.tokens);
    block.ops.push_back(std::move(op));
    return block;
}

// Final norm, vocabulary-parallel output projection (h → V, column split) and the softmax cross-entropy
// (fp32 logits). `holds_weights`: whether this op owns its V·h weights on this GPU (a tied head on the same
// rank as the embedding does not; a tied head on another pipeline rank keeps a copy, as Megatron does).
void add_head(const Context& c, std::vector<Op>& ops, const std::string& prefix, bool holds_weights) {
    const ModelSpec& m = c.m;
    const double h = m.hidden;
    const double V = m.vocab;
    ops.push_back(elementwise(c, prefix + ".final_norm", c.tokens_rep, h, h, norm_params(m, h)));
    Op head = gemm(c, prefix + ".output", h, V, Split::column, false, c.tokens);
    head.before = tp_before(c);
    if (!holds_weights) head.parameters = 0.0;
    ops.push_back(std::move(head));
    Op loss;
    loss.name = prefix + ".loss";
    loss.kind = OpKind::loss;
    loss.read = Bytes(c.tokens * V / c.t * c.e_act);
    loss.written = Bytes(c.tokens * V / c.t * 4.0);
    if (c.t > 1) loss.after = comm(Collective::tp_all_reduce, c.tokens * 3.0 * 4.0);  // max, sum-exp, target logit
    ops.push_back(std::move(loss));
}

bool head_holds_weights(const ModelSpec& m, int pipeline) { return !m.tied_embeddings || pipeline > 1; }

Block head_block(const Context& c, int pipeline) {
    Block block;
    block.kind = BlockKind::head;
    add_head(c, block.ops, "head", head_holds_weights(c.m, pipeline));
    return block;
}

// One MTP module (DeepSeek-V3 §2.2): h' = M·[RMSNorm(h_prev); RMSNorm(Emb(t_{i+k}))] with M ∈ R^{h×2h}, then one
// transformer layer (the model's last-layer kind), then the shared head. The embedding and head weights are the
// main model's; on a pipeline rank other than the embedding's, the embedding is a copy (as for tied heads).
Block mtp_block(const Context& c, int depth, int pipeline) {
    const ModelSpec& m = c.m;
    const double h = m.hidden;
    Block block;
    block.kind = BlockKind::mtp;
    block.layer = depth;
    Op lookup;
    lookup.name = "mtp.embed";
    lookup.kind = OpKind::embedding;
    lookup.parameters = pipeline > 1 ? static_cast<double>(m.vocab) * h / c.t : 0.0;
    lookup.read = Bytes(c.tokens * h * c.e_w);
    lookup.written = Bytes(c.tokens * h * c.e_act);
    block.ops.push_back(std::move(lookup));
    block.ops.push_back(elementwise(c, "mtp.norm_hidden", c.tokens_rep, h, h, norm_params(m, h)));
    block.ops.push_back(elementwise(c, "mtp.norm_embed", c.tokens_rep, h, h, norm_params(m, h)));
    block.ops.push_back(gemm(c, "mtp.proj", 2.0 * h, h, Split::replicated, false, c.tokens_rep));
    Block layer = transformer_block(c, m.layers - 1, BlockKind::mtp);
    for (auto& op : layer.ops) {
        op.name = "mtp." + op.name;
        block.ops.push_back(std::move(op));
    }
    add_head(c, block.ops, "mtp.head", false);
    return block;
}

// ---- activation memory ------------------------------------------------------------------------------------
//
// Generalisation of Korthikanti et al. 2022 (arXiv 2205.05198 §4.1). Counted per token on this GPU, in
// elements of `e` bytes (precision.activations) unless marked; T = b·s/c tokens, "rep" = 1/t with SP else 1
// (tensors outside the TP region: replicated without SP, sequence-sharded with it).
//
// Attention block, what backward needs:
//   norm input h·rep                         (Korthikanti: 2sbh, one of the two layernorms' 4sbh)
//   projection input = norm output h·rep     (2sbh "QKV input")
//   MHA/GQA: Q H·d/t, K g·d/t, V g·d/t       (4sbh for Q,K and 2sbh for V when g = H)
//   MLA:     c_Q and RMSNorm(c_Q): 2·q_lora·rep; [c_KV;k_R] and RMSNorm(c_KV): (2·kv_lora + r)·rep;
//            Q H·(d+r)/t, K H·(d+r)/t, V H·v/t (the decompressed heads)
//   attention output O = out-proj input H·v/t   (2sbh)
//   core, materialized: softmax output H·s/t; with dropout also its 1-byte mask and output (5as²b in all);
//         fused: the log-sum-exp, H/t fp32 values (the s×s tensors are recomputed in backward by the kernel)
//   dropout mask after the projection h·rep, 1 byte      (sbh)
// Dense MLP block:
//   norm input h·rep, fc1 input h·rep        (2sbh + 2sbh)
//   GELU / squared ReLU: fc1 output f/t and activation output f/t   (8sbh + 8sbh at f = 4h)
//   SwiGLU: gate f/t, up f/t and their product f/t (fc2 input): three tensors of f/t
//   dropout mask h·rep, 1 byte               (sbh)
// MoE block:
//   norm input h·rep, router/dispatch input h·rep, router probabilities E·rep in fp32
//   routed, per token k slots: the dispatched input h, the intermediate (as the MLP above, fe/t) and the expert
//   output h (the combine's backward needs it for the gate-probability gradient)
//   shared experts: as a dense MLP of size S·fe (its input is the dispatch input, not counted again)
//   dropout mask h·rep, 1 byte
// With MHA, GELU, f = 4h, materialized attention, dropout, e = 2: 34·s·b·h + 5·a·s²·b without parallelism —
// exactly Korthikanti's eq. (1); and the same terms reproduce eqs. (2)–(3) under TP and SP.
// Recompute: selective drops the attention core's stored tensors (the s×s ones or the LSE), as in
// Korthikanti §5, and a gated MLP's product (see below); full keeps only the layer input h·rep (Korthikanti's 2sbh per layer, sharded by SP).
// Approximations: the residual stream is not stored separately (the norm input is it); the rotary inputs are
// not stored (rotation is linear); bias gradients need nothing extra; MoE balance is perfect.
double layer_activation_elements_bytes(const Context& c, int layer, const MemoryOptions& options) {
    const ModelSpec& m = c.m;
    const auto& at = m.attention;
    const AttentionDims a = attention_dims(m);
    const double h = m.hidden;
    const double rep = c.sp ? 1.0 / c.t : 1.0;
    const double e = c.e_act;
    const double mask_byte = options.dropout ? 1.0 : 0.0;
    const double T = c.tokens;

    if (c.recompute == Recompute::full) return T * h * rep * e;

    double per_token = 0.0;  // bytes
    // attention block
    // MLA under selective recompute (DeepSeek-V3 §3.3) keeps only the norms' inputs and the latents: the norm
    // outputs and the decompressed Q, K, V are rebuilt in backward.
    const bool mla_selective = at.kind == AttentionKind::mla && c.recompute == Recompute::selective;
    per_token += (mla_selective ? 1.0 : 2.0) * h * rep * e;
    if (at.kind == AttentionKind::mla) {
        const double kept = mla_selective ? 1.0 : 2.0;  // c_Q and c_KV, and (without recompute) their norms
        per_token += kept * at.q_lora_rank * rep * e;
        per_token += (kept * at.kv_lora_rank + at.rope_head_dim) * rep * e;
        if (!mla_selective) per_token += (2.0 * a.heads * a.qk_dim + a.heads * a.v_dim) / c.t * e;
    } else {
        per_token += (a.heads + a.kv_heads) * a.qk_dim / c.t * e + a.kv_heads * a.v_dim / c.t * e;
    }
    per_token += a.heads * a.v_dim / c.t * e;
    per_token += h * rep * mask_byte;
    double core_per_token = 0.0;
    if (options.attention_kernel == AttentionKernel::materialized) {
        // s keys per query; dropout adds a 1-byte mask and a second e-byte s×s tensor.
        core_per_token = a.heads / c.t * c.s * (e + (options.dropout ? 1.0 + e : 0.0));
    } else {
        core_per_token = a.heads / c.t * 4.0;
    }
    if (c.recompute == Recompute::none) per_token += core_per_token;

    // MLP / MoE block
    per_token += (mla_selective ? 1.0 : 2.0) * h * rep * e + h * rep * mask_byte;
    // Stored intermediate tensors per MLP. Under selective recompute a gated MLP keeps only the gate and up
    // projections and recomputes their elementwise product in backward, as DeepSeek-V3 does ("cache the inputs
    // of the SwiGLU operator and recompute its output", arXiv 2412.19437 §3.3.2) and Kimi K2's selective
    // recompute of SwiGLU; Korthikanti's selective mode (GELU MLPs) is unchanged.
    const double tensors =
        gated(m.mlp.kind) ? (c.recompute == Recompute::selective ? 2.0 : 3.0) : 2.0;
    if (is_moe_layer(m, layer)) {
        const MoeSpec& moe = *m.moe;
        per_token += moe.routed_experts * rep * 4.0;
        per_token += moe.top_k * (2.0 * h + tensors * moe.expert_ffn_hidden / c.t) * e;
        per_token += tensors * moe.shared_experts * moe.expert_ffn_hidden / c.t * e;
    } else {
        per_token += tensors * m.mlp.ffn_hidden / c.t * e;
    }
    return T * per_token;
}

// Stored activations of the head (final norm input, projection input, fp32 logits for the cross-entropy:
// Korthikanti §4.3's 4·s·b·V/t) per micro-batch.
double head_activation_bytes(const Context& c) {
    const double rep = c.sp ? 1.0 / c.t : 1.0;
    return c.tokens * (2.0 * c.m.hidden * rep * c.e_act + static_cast<double>(c.m.vocab) / c.t * 4.0);
}

}  // namespace

// ---- parameters ---------------------------------------------------------------------------------------------

ParameterCount count_parameters(const ModelSpec& model) {
    validate(model);
    // Counted from the unsharded op lists, so the counts and the ops cannot disagree: one GPU, no parallelism.
    const ParallelLayout one;
    const MixedPrecision precision;
    const MicroBatchShape shape{1, 1, AttentionMask::causal};
    const Context c = make_context(model, one, precision, shape);
    const double h = model.hidden;

    ParameterCount p;
    const double table = static_cast<double>(model.vocab) * h;
    p.embedding = embedding_block(c).parameters();
    p.output_head = model.tied_embeddings ? 0.0 : table;
    p.final_norm = norm_params(model, h);
    const int moe_layers = model.moe ? model.layers - model.moe->dense_layers : 0;
    p.moe_layers = moe_layers;
    p.dense_layers = model.layers - moe_layers;

    auto inactive_experts = [&](const Block& b) {
        // Routed-expert parameters a token does not use: (E - k)/E of them.
        if (!model.moe) return 0.0;
        double routed = 0.0;
        for (const auto& op : b.ops) {
            if (op.expert) routed += op.parameters;
        }
        return routed * (1.0 - static_cast<double>(model.moe->top_k) / model.moe->routed_experts);
    };
    double attention = 0.0;
    {
        const Block first = transformer_block(c, 0, BlockKind::dense_layer);
        for (const auto& op : first.ops) {
            if (op.name.rfind("attn.", 0) == 0) attention += op.parameters;
        }
    }
    p.attention_per_layer = attention;
    if (p.dense_layers > 0) p.per_dense_layer = transformer_block(c, 0, BlockKind::dense_layer).parameters();
    if (moe_layers > 0) {
        const Block b = transformer_block(c, model.layers - 1, BlockKind::moe_layer);
        p.per_moe_layer = b.parameters();
        p.per_moe_layer_active = p.per_moe_layer - inactive_experts(b);
    }
    p.total = p.embedding + p.per_dense_layer * p.dense_layers + p.per_moe_layer * moe_layers + p.final_norm +
              p.output_head;
    p.active_with_embedding = p.total - (p.per_moe_layer - p.per_moe_layer_active) * moe_layers;
    // The head multiplies by V·h weights whether tied or not; the input table is a lookup.
    p.active = p.active_with_embedding - p.embedding + (model.tied_embeddings ? table : 0.0);

    if (model.mtp_depth > 0) {
        const Block mtp = mtp_block(c, 0, 1);
        double module = mtp.parameters();  // excludes the shared embedding and head (pipeline = 1)
        p.mtp = module * model.mtp_depth;
        p.mtp_active = (module - inactive_experts(mtp) + table) * model.mtp_depth;
    }
    return p;
}

// ---- operators ----------------------------------------------------------------------------------------------

Block layer_ops(const ModelSpec& model, int layer, const ParallelLayout& layout, const MixedPrecision& precision,
                const MicroBatchShape& shape) {
    validate(model);
    validate(layout);
    validate(shape);
    require(layer >= 0 && layer < model.layers,
            "layer " + std::to_string(layer) + " out of range [0, " + std::to_string(model.layers) + ")");
    const Context c = make_context(model, layout, precision, shape);
    return transformer_block(c, layer, is_moe_layer(model, layer) ? BlockKind::moe_layer : BlockKind::dense_layer);
}

std::vector<Block> model_ops(const ModelSpec& model, const ParallelLayout& layout, const MixedPrecision& precision,
                             const MicroBatchShape& shape) {
    validate(model);
    validate(layout);
    validate(shape);
    const Context c = make_context(model, layout, precision, shape);
    std::vector<Block> blocks;
    blocks.reserve(static_cast<std::size_t>(model.layers + model.mtp_depth + 2));
    blocks.push_back(embedding_block(c));
    for (int l = 0; l < model.layers; ++l) {
        blocks.push_back(
            transformer_block(c, l, is_moe_layer(model, l) ? BlockKind::moe_layer : BlockKind::dense_layer));
    }
    for (int d = 0; d < model.mtp_depth; ++d) blocks.push_back(mtp_block(c, d, layout.pipeline));
    blocks.push_back(head_block(c, layout.pipeline));
    return blocks;
}

// ---- FLOPs per token ----------------------------------------------------------------------------------------

FlopsPerToken training_flops_breakdown(const ModelSpec& model, int sequence_length, AttentionMask mask) {
    require(sequence_length > 0, "sequence_length must be positive");
    // One sequence on one GPU; every model-FLOP op is counted once, then divided by the tokens.
    const ParallelLayout one;
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

std::vector<std::vector<int>> chunk_layers(const ModelSpec& model, int chunks) {
    validate(model);
    require(chunks >= 1, "the number of pipeline chunks must be positive");
    require(model.layers >= chunks, "model '" + model.id + "' has " + std::to_string(model.layers) +
                                        " layers, fewer than pipeline × virtual stages = " + std::to_string(chunks));
    const int base = model.layers / chunks;
    const int extra = model.layers % chunks;  // chunks 1..extra get one more layer
    std::vector<std::vector<int>> out(static_cast<std::size_t>(chunks));
    int next = 0;
    for (int chunk = 0; chunk < chunks; ++chunk) {
        const int size = base + ((chunk >= 1 && chunk <= extra) ? 1 : 0);
        for (int i = 0; i < size; ++i) out[static_cast<std::size_t>(chunk)].push_back(next++);
    }
    return out;
}

std::vector<StageAssignment> assign_stages(const ModelSpec& model, const ParallelLayout& layout) {
    validate(model);
    validate(layout);
    const int p = layout.pipeline;
    const auto chunks = chunk_layers(model, p * layout.virtual_stages);
    std::vector<StageAssignment> stages(static_cast<std::size_t>(p));
    for (std::size_t chunk = 0; chunk < chunks.size(); ++chunk) {
        auto& stage = stages[chunk % static_cast<std::size_t>(p)];
        stage.layers.insert(stage.layers.end(), chunks[chunk].begin(), chunks[chunk].end());
    }
    for (int r = 0; r < p; ++r) {
        auto& stage = stages[static_cast<std::size_t>(r)];
        stage.rank = r;
        std::sort(stage.layers.begin(), stage.layers.end());
    }
    stages.front().embedding = true;
    stages.back().head = true;
    return stages;
}

// ---- memory -------------------------------------------------------------------------------------------------

Bytes layer_activation_bytes(const ModelSpec& model, int layer, const ParallelLayout& layout,
                             const MixedPrecision& precision, const MicroBatchShape& shape,
                             const MemoryOptions& options) {
    validate(model);
    validate(layout);
    validate(shape);
    require(layer >= 0 && layer < model.layers, "layer out of range");
    const Context c = make_context(model, layout, precision, shape);
    return Bytes(layer_activation_elements_bytes(c, layer, options));
}

double in_flight_micro_batches(const ParallelLayout& layout, int rank, const MemoryOptions& options) {
    validate(layout);
    require(rank >= 0 && rank < layout.pipeline, "pipeline rank out of range");
    require(options.micro_batches >= 0, "micro_batches must be >= 0");
    const double p = layout.pipeline;
    // Unknown m: GPipe keeps p (the fewest that fill its pipeline); the others are not limited by m.
    const bool known = options.micro_batches > 0;
    const double m = known ? options.micro_batches : (layout.schedule == Schedule::gpipe ? p : 1e300);
    const double v = layout.virtual_stages;
    double n = 0.0;
    switch (layout.schedule) {
        case Schedule::gpipe: n = m; break;
        case Schedule::one_f_one_b:
        case Schedule::zero_bubble: n = std::min(m, p - rank); break;
        case Schedule::interleaved: n = std::min(m, std::max(1.0, p + (p - 1.0) / v - rank)); break;
        case Schedule::dualpipe: n = std::min(m, p + 1.0); break;
    }
    return std::max(1.0, n);
}

std::vector<MemoryBreakdown::Term> MemoryBreakdown::terms() const {
    return {{"parameters", parameters},
            {"gradients", gradients},
            {"optimizer state", optimizer_state},
            {"activations", activations},
            {"buffers", buffers}};
}

Bytes MemoryBreakdown::total() const { return parameters + gradients + optimizer_state + activations + buffers; }

MemoryBreakdown::Term MemoryBreakdown::largest_term() const {
    const auto all = terms();
    Term best = all.front();
    for (const auto& t : all) {
        if (t.bytes > best.bytes) best = t;
    }
    return best;
}

std::vector<MemoryBreakdown> memory_per_stage(const ModelSpec& model, const ParallelLayout& layout,
                                              const MixedPrecision& precision, const MicroBatchShape& shape,
                                              const MemoryOptions& options) {
    const std::vector<Block> blocks = model_ops(model, layout, precision, shape);  // validates
    const Context c = make_context(model, layout, precision, shape);
    const auto stages = assign_stages(model, layout);

    // ZeRO groups: dense parameters over data × context, routed experts over data × context / expert.
    const double dp_dense = static_cast<double>(layout.data) * layout.context;
    const double dp_expert = std::max(1.0, dp_dense / layout.expert);
    const double param_bytes = bytes_per_element(precision.parameters);
    const double grad_bytes = bytes_per_element(precision.gradients);
    // Optimizer: the fp32 master copy (none when the working weights already are in that format) and Adam's
    // two moments.
    const double master_bytes =
        precision.master_weights == precision.parameters ? 0.0 : bytes_per_element(precision.master_weights);
    const double optimizer_bytes = master_bytes + 2.0 * bytes_per_element(precision.optimizer_state);
    // DualPipe: rank r holds chunk r (forward direction, p - r micro-batches in flight) and chunk p - 1 - r
    // (reverse direction, r + 1 in flight): twice the parameters of one stage and p + 1 micro-batches of one
    // stage's activations, DeepSeek-V3 Table 2's "2×" and "PP + 1". [U] Gradients and optimizer state are held
    // for both chunks too.
    const bool dual = layout.schedule == Schedule::dualpipe;
    const int p = layout.pipeline;

    auto block_of_layer = [&](int layer) -> const Block& { return blocks[static_cast<std::size_t>(layer + 1)]; };

    std::vector<MemoryBreakdown> out;
    out.reserve(stages.size());
    auto activation_bytes = [&](const StageAssignment& stage) {
        double bytes = 0.0;
        for (int l : stage.layers) bytes += layer_activation_elements_bytes(c, l, options);
        if (stage.embedding && options.dropout) {
            bytes += c.tokens * model.hidden * (c.sp ? 1.0 / c.t : 1.0);  // embedding dropout mask
        }
        if (stage.head) {
            for (int d = 0; d < model.mtp_depth; ++d) {
                bytes += layer_activation_elements_bytes(c, model.layers - 1, options) + head_activation_bytes(c) +
                         2.0 * c.tokens * model.hidden * c.e_act;
            }
            bytes += head_activation_bytes(c);
        }
        return bytes;
    };

    for (const auto& own : stages) {
        // The chunks this rank holds and the micro-batches each keeps in flight.
        std::vector<std::pair<const StageAssignment*, double>> chunks;
        if (dual && p > 1) {
            chunks.emplace_back(&own, p - own.rank);
            chunks.emplace_back(&stages[static_cast<std::size_t>(p - 1 - own.rank)], own.rank + 1.0);
        } else {
            chunks.emplace_back(&own, in_flight_micro_batches(layout, own.rank, options));
        }
        std::vector<const Block*> held;
        for (const auto& [stage_ptr, unused] : chunks) {
            const StageAssignment& stage = *stage_ptr;
            if (stage.embedding) held.push_back(&blocks.front());
            for (int l : stage.layers) held.push_back(&block_of_layer(l));
            if (stage.head) {
                for (int d = 0; d < model.mtp_depth; ++d) {
                    held.push_back(&blocks[static_cast<std::size_t>(model.layers + 1 + d)]);
                }
                held.push_back(&blocks.back());
            }
        }
        double dense = 0.0;
        double expert = 0.0;
        double largest_block = 0.0;
        for (const Block* b : held) {
            double in_block = 0.0;
            for (const auto& op : b->ops) {
                (op.expert ? expert : dense) += op.parameters;
                in_block += op.parameters;
            }
            largest_block = std::max(largest_block, in_block);
        }

        MemoryBreakdown mb;
        mb.stage = own.rank;
        mb.parameter_count = dense + expert;
        auto sharded = [&](double bytes_per, bool shard) {
            return shard ? dense * bytes_per / dp_dense + expert * bytes_per / dp_expert : (dense + expert) * bytes_per;
        };
        mb.parameters = Bytes(sharded(param_bytes, layout.zero_stage >= 3));
        mb.gradients = Bytes(sharded(grad_bytes, layout.zero_stage >= 2));
        mb.optimizer_state = Bytes(sharded(optimizer_bytes, layout.zero_stage >= 1));
        // ZeRO-3 gathers one block's weights to compute it and prefetches the next: two blocks' worth.
        if (layout.zero_stage >= 3) mb.buffers = Bytes(2.0 * largest_block * param_bytes);

        double activations = 0.0;
        for (const auto& [stage_ptr, in_flight] : chunks) activations += activation_bytes(*stage_ptr) * in_flight;
        mb.micro_batches_in_flight = in_flight_micro_batches(layout, own.rank, options);
        mb.activations = Bytes(activations);
        out.push_back(mb);
    }
    return out;
}

MemoryBreakdown memory_per_gpu(const ModelSpec& model, const ParallelLayout& layout, const MixedPrecision& precision,
                               const MicroBatchShape& shape, const MemoryOptions& options) {
    const auto stages = memory_per_stage(model, layout, precision, shape, options);
    MemoryBreakdown worst = stages.front();
    for (const auto& s : stages) {
        if (s.total() > worst.total()) worst = s;
    }
    return worst;
}

FitCheck check_fit(const MemoryBreakdown& breakdown, Bytes capacity) {
    FitCheck f;
    f.breakdown = breakdown;
    f.capacity = capacity;
    f.headroom = capacity - breakdown.total();
    f.fits = breakdown.total() <= capacity;
    return f;
}

FitCheck check_fit(const ModelSpec& model, const ParallelLayout& layout, const MixedPrecision& precision,
                   const MicroBatchShape& shape, Bytes capacity, const MemoryOptions& options) {
    return check_fit(memory_per_gpu(model, layout, precision, shape, options), capacity);
}

}  // namespace gpuhours
