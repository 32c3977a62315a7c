// The operators of one micro-batch on one GPU, block by block (notation: workload.cpp).
#include <gpuhours/workload/workload.hpp>

#include "workload_detail.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace gpuhours::detail {
namespace {

enum class Split { column, row, replicated };

}  // namespace

Context make_context(const ModelSpec& m, const ParallelLayout& layout, const MixedPrecision& precision,
                     const MicroBatchShape& shape) {
    Context c{m};
    c.t = layout.tensor;
    c.sp = layout.sequence_parallel && layout.tensor > 1;
    c.cp = layout.context;
    c.cp_ring = layout.cp_comm_type == CpCommType::p2p;
    c.ep = layout.expert;
    c.et = layout.expert_tensor_degree();
    c.b = shape.micro_batch;
    c.s = shape.sequence_length;
    c.tokens = c.b * c.s / c.cp;
    c.tokens_rep = c.sp ? c.tokens / c.t : c.tokens;
    c.V = static_cast<double>(layout.padded_vocab(m.vocab));
    c.mask = shape.mask == AttentionMask::causal ? 0.5 : 1.0;
    c.e_act = bytes_per_element(precision.activations);
    c.e_dispatch = all_to_all_bytes_per_element(precision.dispatch.value_or(precision.activations));
    c.e_combine = all_to_all_bytes_per_element(precision.combine.value_or(precision.activations));
    c.e_w = bytes_per_element(precision.parameters);
    c.recompute = layout.recompute;
    c.recompute_modules = layout.recompute_modules;
    c.recompute_num_layers = layout.recompute_num_layers;
    if (layout.recompute == Recompute::full && layout.recompute_num_layers > 0) {
        c.chunk_position.assign(static_cast<std::size_t>(m.layers), 0);
        for (const auto& chunk : chunk_layers(m, layout.pipeline * layout.virtual_stages, layout.layers_per_chunk)) {
            for (std::size_t i = 0; i < chunk.size(); ++i) c.chunk_position[static_cast<std::size_t>(chunk[i])] = static_cast<int>(i);
        }
    }
    c.fp8 = precision.compute == Precision::fp8;
    c.bf16_start = precision.bf16_layers_at_start;
    c.bf16_end = precision.bf16_layers_at_end;
    c.fp8_recipe = precision.gemm_recipe();
    return c;
}

LayerRecompute layer_recompute(const Context& c, int layer, bool mtp) {
    LayerRecompute r;
    if (c.recompute == Recompute::full) {
        // The block method counts the chunk's transformer layers; an MTP module (outside them) replays only
        // under the uniform method.
        r.full = c.recompute_num_layers == 0 ||
                 (!mtp && layer >= 0 && static_cast<std::size_t>(layer) < c.chunk_position.size() &&
                  c.chunk_position[static_cast<std::size_t>(layer)] < c.recompute_num_layers);
        return r;
    }
    if (c.recompute != Recompute::selective) return r;
    const bool mla = c.m.attention.kind == AttentionKind::mla;
    if (c.recompute_modules == 0) {  // the default set (ParallelLayout::recompute_modules)
        // Megatron-Core's default (--recompute-modules core_attn) for every model; with MLA DeepSeek-V3's own set
        // (§3.3.2: RMSNorm, the MLA up-projections and the SwiGLU output recomputed).
        r.core_attn = true;
        r.mla_up_proj = mla;
        r.layernorm = mla;
        r.moe_act = mla;
        r.dense_product = mla;
        return r;
    }
    const auto has = [&](RecomputeModule m) { return (c.recompute_modules & static_cast<unsigned>(m)) != 0; };
    r.core_attn = has(RecomputeModule::core_attn);
    r.mla_up_proj = has(RecomputeModule::mla_up_proj) && mla;
    r.layernorm = has(RecomputeModule::layernorm);
    r.mlp = has(RecomputeModule::mlp);
    r.moe_act = has(RecomputeModule::moe_act);
    r.shared_experts = has(RecomputeModule::shared_experts);
    return r;
}

namespace {

long long whole(double x) { return std::llround(x); }

// A weight GEMM on `tokens` rows: in → out features, split over TP as Megatron does (column: output features;
// row: input features, partial sums reduced after; replicated: whole on every TP rank).
// A GEMM of `tokens` rows, `in` → `out` features, split over `degree` ranks (the tensor group, or for routed
// experts the expert-tensor group).
Op gemm_over(const Context& c, std::string name, double in, double out, Split split, bool bias, double tokens, double degree) {
    const double k = split == Split::row ? in / degree : in;
    const double n = split == Split::column ? out / degree : out;
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

Op gemm(const Context& c, std::string name, double in, double out, Split split, bool bias, double tokens) {
    return gemm_over(c, std::move(name), in, out, split, bias, tokens, c.t);
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

Communication comm(Collective kind, double bytes) { return Communication{kind, Bytes(bytes), std::nullopt}; }

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

// Keys each query attends to, on average over a sequence of s: s × mask (the causal mask halves the s×s square,
// the convention of Megatron-LM's and PaLM's FLOP counts); through a causal sliding window of w ≤ s, query i
// attends to min(i + 1, w) keys, Σ = s·w − w(w − 1)/2, so w − w(w − 1)/(2s) on average (a bidirectional
// window: min(w, s)).
double keys_per_query(const Context& c, bool windowed) {
    const double w = c.m.attention.sliding_window;
    if (!windowed || w >= c.s) return c.s * c.mask;
    return c.mask < 1.0 ? w - w * (w - 1.0) / (2.0 * c.s) : w;
}

// The attention core: scores Q·Kᵀ (2·T·keys·H·qk per GPU, keys per query as above) and context P·V
// (2·T·keys·H·v). Reads Q for the local queries and K, V for all s keys of the b sequences. Attention sinks add
// one logit per head (parameters, no matrix work).
Op attention_core(const Context& c, const AttentionDims& a, bool windowed) {
    const double heads = a.heads / c.t;
    const double kv_heads = a.kv_heads / c.t;
    Op op;
    op.name = "attn.core";
    op.kind = OpKind::attention;
    op.forward = Flops(2.0 * c.tokens * keys_per_query(c, windowed) * heads * (a.qk_dim + a.v_dim));
    if (c.m.attention.sinks) op.parameters = heads;
    op.backward = op.forward * 2.0;
    op.read = Bytes((c.tokens * heads * a.qk_dim + c.b * c.s * kv_heads * (a.qk_dim + a.v_dim)) * c.e_act);
    op.written = Bytes(c.tokens * heads * a.v_dim * c.e_act);
    if (c.cp > 1) op.before = comm(Collective::cp_exchange, c.tokens * kv_heads * (a.qk_dim + a.v_dim) * c.e_act);
    // One kernel call's keys: the ring's steps each pair the local queries with s/cp keys; gathered keys are walked
    // whole; a shorter sliding window bounds either.
    const double keys = c.cp > 1 && c.cp_ring ? c.s / c.cp : c.s;
    const double w = c.m.attention.sliding_window;
    op.attention_shape = AttentionKernelShape{windowed && w > 0 && w < keys ? w : keys, static_cast<int>(a.qk_dim)};
    return op;
}

// Σ over a sequence's blocks of (block length)² for `s` tokens in blocks of `block`: full blocks and the rest.
double sum_of_squared_blocks(double s, double block) {
    const double full = std::floor(s / block);
    const double rest = s - full * block;
    return full * block * block + rest * rest;
}

// The linear-attention core of one layer, block-wise (Lightning Attention-2, arXiv 2401.04658 Alg. 1; the
// Hugging Face MiniMaxLightningAttention forward), per head with head dimension d and blocks of B tokens:
//   inside a block of b tokens, (Q·Kᵀ ⊙ decay mask)·V: 2·b²·d + 2·b²·d, the masked products computed whole;
//   between blocks, Q·state (2·d² per token) and the state update Kᵀ·V (2·d² per token).
// So 4·d² + 4·d·Σb²/s per token (4·d² + 4·B·d when B divides s: MiniMax's d = 128, B = 256 give 12·d²) —
// linear in s. The attention mask does not change it (no bidirectional variant is trained). Context parallel
// splits each sequence into chunks of s/c tokens whose states are all-gathered (LASP-2, arXiv 2502.07563): each
// GPU sends b sequences' H/t states of d × d.
Op linear_attention_core(const Context& c, const AttentionDims& a) {
    const double heads = a.heads / c.t;
    const double d = a.qk_dim;
    const double local = c.s / c.cp;  // tokens of one sequence on this GPU
    const double block = c.m.attention.linear_block;
    Op op;
    op.name = "attn.linear_core";
    op.kind = OpKind::attention;
    op.forward = Flops(c.tokens * heads * (4.0 * d * d + 4.0 * d * sum_of_squared_blocks(local, block) / local));
    op.backward = op.forward * 2.0;
    op.read = Bytes(c.tokens * heads * 3.0 * d * c.e_act);
    op.written = Bytes(c.tokens * heads * d * c.e_act);
    if (c.cp > 1) op.before = comm(Collective::cp_state_gather, c.b * heads * d * d * c.e_act);
    return op;
}

// A linear-attention layer's attention block (AttentionSpec::linear): fused Q, K, V projection h → 3·H·d with
// SiLU, the core above, RMSNorm over H·d, the output gate sigmoid(W_g·x) (h → H·d) multiplied in, and the output
// projection H·d → h. Column-parallel projections, row-parallel output, as for softmax attention.
void add_linear_attention(const Context& c, std::vector<Op>& ops) {
    const ModelSpec& m = c.m;
    const AttentionDims a = attention_dims(m);
    const double h = m.hidden;
    const double width = a.heads * a.qk_dim;  // H·d
    ops.push_back(elementwise(c, "attn.norm", c.tokens_rep, h, h, norm_params(m, h)));
    ops.push_back(gemm(c, "attn.qkv", h, 3.0 * width, Split::column, m.bias, c.tokens));
    ops.back().before = tp_before(c);
    ops.push_back(elementwise(c, "attn.qkv_act", c.tokens, 3.0 * width / c.t, 3.0 * width / c.t));
    ops.push_back(linear_attention_core(c, a));
    ops.push_back(elementwise(c, "attn.out_norm", c.tokens, width / c.t, width / c.t, norm_params(m, width) / c.t));
    ops.push_back(gemm(c, "attn.gate", h, width, Split::column, m.bias, c.tokens));
    ops.push_back(elementwise(c, "attn.gate_mul", c.tokens, 2.0 * width / c.t, width / c.t));
    ops.push_back(gemm(c, "attn.out", width, h, Split::row, m.bias, c.tokens));
    ops.back().after = tp_after(c, c.tokens);
    ops.push_back(elementwise(c, "attn.residual", c.tokens_rep, 2.0 * h, h));
}

void add_attention(const Context& c, std::vector<Op>& ops, bool windowed) {
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
    ops.push_back(attention_core(c, a, windowed));
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
// S shared experts on every token. Routed experts are split over the expert-tensor group (et ranks; et = t by
// default) and over EP by whole experts; with balanced routing each GPU processes T·k routed token-slots (T/t·k·et
// under SP), its E/e experts each receiving an equal share; under imbalance the slowest rank's load (below).
void add_moe(const Context& c, std::vector<Op>& ops) {
    const ModelSpec& m = c.m;
    const MoeSpec& moe = *m.moe;
    const double h = m.hidden;
    const double E = moe.routed_experts;
    const double k = moe.top_k;
    const double fe = moe.expert_ffn_hidden;
    ops.push_back(elementwise(c, "moe.norm", c.tokens_rep, h, h, norm_params(m, h)));
    ops.push_back(gemm(c, "moe.router", h, E, Split::replicated, m.bias, c.tokens_rep));  // gpt-oss: biased
    ops.push_back(elementwise(c, "moe.topk", c.tokens_rep, E, 2.0 * k));
    // Token permutation: each token's row copied once per routed slot into expert-contiguous send buffers
    // (the un-permutation on the way back is part of moe.combine below).
    ops.push_back(elementwise(c, "moe.permute", c.tokens_rep, h, k * h));

    const double local_experts = E / c.ep;
    // Token-slots each GPU's experts compute: its own tokens' k slots (balanced routing), gathered over the
    // expert-tensor group, whose ranks each hold 1/et of every local expert. Without sequence parallelism a tensor
    // group's ranks hold copies of its tokens, and et = t (the scenario's rules): the t ranks split the T tokens'
    // work as they split a dense MLP's.
    // Under expert load imbalance (MoeSpec::load_cv) the slowest expert-parallel rank sets the layer's pace: its
    // slots, and the all-to-all bytes it receives, are `hot` times the mean (expert_load_factor); 1 when balanced.
    const double hot = expert_load_factor(moe.routed_experts, static_cast<int>(c.ep), moe.load_cv);
    const bool own_tokens = c.t == 1 || c.sp;
    const double slots = (own_tokens ? c.tokens_rep * k * c.et : c.tokens * k) * hot;
    const double up = gated(m.mlp.kind) ? 2.0 * fe : fe;
    auto grouped = [&](std::string name, double in, double out, Split split) {
        Op op = gemm_over(c, std::move(name), in, out, split, m.bias, slots, c.et);
        op.kind = OpKind::grouped_gemm;
        op.expert = true;
        op.read += Bytes(op.parameters * (local_experts - 1.0) * c.e_w);  // every local expert's weights
        op.parameters *= local_experts;
        // Balanced routing spreads the slots evenly over the local experts. With fewer slots than local experts (a
        // few tokens per micro-batch), the grouped GEMM runs one row for each expert that received a slot and skips
        // the others: count = the slots (at least one), m = 1.
        if (slots >= local_experts) {
            op.gemm->m = whole(slots / local_experts);
            op.gemm->count = whole(local_experts);
        } else {
            op.gemm->m = 1;
            op.gemm->count = std::max(1LL, whole(slots));
        }
        return op;
    };
    // Dispatch sends tokens in the dispatch format; its backward returns their gradients in the combine format.
    const double sent = c.tokens_rep * k * hot;  // token-slots per GPU in an all-to-all, at the slowest rank's load
    const Communication dispatch{Collective::ep_dispatch, Bytes(sent * h * c.e_dispatch), Bytes(sent * h * c.e_combine)};
    const Communication combine{Collective::ep_combine, Bytes(sent * h * c.e_combine), Bytes(sent * h * c.e_dispatch)};
    Op fc1 = grouped("moe.routed.fc1", h, up, Split::column);
    Op fc2 = grouped("moe.routed.fc2", fe, h, Split::row);
    const bool etp = own_tokens && c.et > 1;
    if (etp) {
        // Expert tensor parallelism (Megatron-Core's all-to-all dispatcher): after the all-to-all, the tokens are
        // all-gathered over the expert-tensor group and sorted by local expert (sort_chunks_by_idxs); after fc2,
        // unsorted and reduce-scattered back before the combine. The sort is the op between the two collectives
        // (modelled after the dispatch and before the gather, over the gathered rows; no bytes with one local
        // expert, which Megatron does not sort), its inverse likewise between the reduce-scatter and the combine.
        const double sorted = local_experts > 1.0 ? slots : 0.0;
        Op sort = elementwise(c, "moe.sort", sorted, h, h);
        sort.before = dispatch;
        sort.after = Communication{Collective::etp_all_gather, Bytes(sent * h * c.e_dispatch), Bytes(sent * h * c.e_combine)};
        ops.push_back(std::move(sort));
        ops.push_back(std::move(fc1));
        ops.push_back(elementwise(c, "moe.routed.act", slots, up / c.et, fe / c.et));
        fc2.after = Communication{Collective::etp_reduce_scatter, Bytes(slots * h * c.e_combine), Bytes(slots * h * c.e_dispatch)};
        ops.push_back(std::move(fc2));
        Op unsort = elementwise(c, "moe.unsort", sorted, h, h);
        unsort.after = combine;
        ops.push_back(std::move(unsort));
    } else {
        fc1.before = dispatch;
        ops.push_back(std::move(fc1));
        ops.push_back(elementwise(c, "moe.routed.act", slots, up / c.et, fe / c.et));
        fc2.after = combine;
        ops.push_back(std::move(fc2));
    }
    if (moe.shared_experts > 0) {
        // The S shared experts act as one MLP of intermediate size S·fe.
        const std::size_t first = ops.size();
        add_mlp(c, ops, "moe.shared", moe.shared_experts * fe, c.tokens);
        ops[first].before = tp_before(c);
        ops.back().after = tp_after(c, c.tokens);
    }
    ops.push_back(elementwise(c, "moe.combine", c.tokens_rep, (k + 2.0) * h, h));
}

// The FLOPs replayed in backward (layer_recompute): full, the whole layer's forward; selective, by module — the
// attention core (Korthikanti §5), MLA's up-projections that rebuild Q, K, V from the stored latents (DeepSeek-V3,
// arXiv 2412.19437 §3.3: "recomputation of RMSNorm and MLA up-projection"), a dense MLP's GEMMs, the shared
// experts' GEMMs. Norms and activation functions carry no model FLOPs.
void apply_recompute(const Context& c, Block& block) {
    const LayerRecompute r = layer_recompute(c, block.layer, block.kind == BlockKind::mtp);
    block.full_recompute = r.full;
    for (auto& op : block.ops) {
        const std::string_view n = op.name;
        const bool replay = r.full || (r.core_attn && op.kind == OpKind::attention) ||
                            (r.mla_up_proj && (n == "attn.q_up" || n == "attn.kv_up")) ||
                            (r.mlp && (n == "mlp.fc1" || n == "mlp.fc2")) ||
                            (r.shared_experts && (n == "moe.shared.fc1" || n == "moe.shared.fc2"));
        if (replay) op.recompute = op.forward;
    }
}

// FP8 training quantizes each GEMM's BF16 inputs in kernels of their own (DeepSeek-V3 §3.3; Transformer
// Engine's recipes): forward, the input activations A[m×k] (before the collective feeding the GEMM: DeepSeek
// dispatches FP8); backward, the output gradient dY[m×n], for both backward GEMMs. The bytes per element are the
// recipe's (fp8_quantisation_bytes: one or two reads, one or two FP8 copies with their scales). Memory-bound;
// one op before every GEMM of a transformer layer, carrying both passes. The weights' per-step cast is counted
// with the optimizer step (training/step_sync.cpp).
void add_quantization(const Context& c, std::vector<Op>& ops) {
    if (!c.fp8) return;
    const QuantisationBytes per = fp8_quantisation_bytes(c.fp8_recipe, false);
    std::vector<Op> out;
    out.reserve(ops.size() * 2);
    for (auto& op : ops) {
        // The MoE router (gating) stays in BF16, as DeepSeek-V3 keeps it (arXiv 2412.19437 §3.3.1).
        if ((op.kind == OpKind::gemm || op.kind == OpKind::grouped_gemm) && op.gemm && op.name != "moe.router") {
            const double count = static_cast<double>(op.gemm->count);
            const double inputs = static_cast<double>(op.gemm->m) * static_cast<double>(op.gemm->k) * count;
            const double gradients = static_cast<double>(op.gemm->m) * static_cast<double>(op.gemm->n) * count;
            Op q;
            q.name = op.name + ".quant";
            q.kind = OpKind::elementwise;
            q.read = Bytes(inputs * per.read);
            q.written = Bytes(inputs * per.written);
            q.backward_bytes = Bytes(gradients * (per.read + per.written));
            out.push_back(std::move(q));
            op.fp8 = true;
        }
        out.push_back(std::move(op));
    }
    ops = std::move(out);
}

}  // namespace

bool kept_in_bf16(const Context& c, int layer) { return c.fp8 && (layer < c.bf16_start || layer >= c.m.layers - c.bf16_end); }

Block transformer_block(const Context& c, int layer, BlockKind kind) {
    Block block;
    block.kind = kind;
    block.layer = layer;
    if (is_linear_attention_layer(c.m, layer)) {
        add_linear_attention(c, block.ops);
    } else {
        add_attention(c, block.ops, is_windowed_layer(c.m, layer));
    }
    if (is_moe_layer(c.m, layer)) {
        add_moe(c, block.ops);
    } else {
        add_dense_mlp(c, block.ops);
    }
    // The first and last layers an FP8 recipe keeps in BF16 (MTP modules are not among the decoder's layers).
    if (kind == BlockKind::mtp || !kept_in_bf16(c, layer)) add_quantization(c, block.ops);
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
    op.parameters = c.V * h / c.t;
    if (m.position == PositionKind::learned) op.parameters += static_cast<double>(m.max_position_embeddings) * h;
    op.read = Bytes(c.tokens * h * c.e_w * (m.position == PositionKind::learned ? 2.0 : 1.0));
    op.written = Bytes(c.tokens * h * c.e_act);
    op.after = tp_after(c, c.tokens);
    block.ops.push_back(std::move(op));
    return block;
}

namespace {

// Final norm, vocabulary-parallel output projection (h → V, column split) and the softmax cross-entropy
// (fp32 logits). `holds_weights`: whether this op owns its V·h weights on this GPU (a tied head on the same
// rank as the embedding does not; a tied head on another pipeline rank keeps a copy, as Megatron does).
void add_head(const Context& c, std::vector<Op>& ops, const std::string& prefix, bool holds_weights) {
    const ModelSpec& m = c.m;
    const double h = m.hidden;
    const double V = c.V;
    ops.push_back(elementwise(c, prefix + ".final_norm", c.tokens_rep, h, h, norm_params(m, h)));
    Op head = gemm(c, prefix + ".output", h, V, Split::column, false, c.tokens);
    head.before = tp_before(c);
    if (!holds_weights) head.parameters = 0.0;
    head.embedding_copy = m.tied_embeddings && holds_weights;
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

}  // namespace

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
    lookup.parameters = pipeline > 1 ? c.V * h / c.t : 0.0;
    lookup.embedding_copy = pipeline > 1;
    lookup.read = Bytes(c.tokens * h * c.e_w);
    lookup.written = Bytes(c.tokens * h * c.e_act);
    block.ops.push_back(std::move(lookup));
    block.ops.push_back(elementwise(c, "mtp.norm_hidden", c.tokens_rep, h, h, norm_params(m, h)));
    block.ops.push_back(elementwise(c, "mtp.norm_embed", c.tokens_rep, h, h, norm_params(m, h)));
    // The projection is a linear layer like the transformer's (FP8 in an FP8 step: DeepSeek-V3 §3.3.1 keeps only the
    // embedding, the output head, gating, norms and attention in BF16); the shared head after the layer stays BF16.
    std::vector<Op> projection{gemm(c, "mtp.proj", 2.0 * h, h, Split::replicated, false, c.tokens_rep)};
    add_quantization(c, projection);
    for (auto& op : projection) block.ops.push_back(std::move(op));
    Block layer = transformer_block(c, m.layers - 1, BlockKind::mtp);
    block.full_recompute = layer.full_recompute;
    for (auto& op : layer.ops) {
        op.name = "mtp." + op.name;
        block.ops.push_back(std::move(op));
    }
    add_head(c, block.ops, "mtp.head", false);
    return block;
}

}  // namespace gpuhours::detail

namespace gpuhours {

using detail::Context;
using detail::embedding_block;
using detail::head_block;
using detail::is_moe_layer;
using detail::make_context;
using detail::mtp_block;
using detail::require;
using detail::transformer_block;
using detail::validate;

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
    // A transformer layer's ops depend on its index only through these five properties: a layer like one built
    // already is that block copied (plan builds the ops of every layout it screens and simulates: issue #13).
    struct Kind {
        bool linear, windowed, moe, full_recompute, bf16;
        bool operator==(const Kind&) const = default;
    };
    std::vector<std::pair<Kind, std::size_t>> built;  // each kind's first block, by its index in `blocks`
    for (int l = 0; l < model.layers; ++l) {
        const Kind kind{is_linear_attention_layer(model, l), is_windowed_layer(model, l), is_moe_layer(model, l),
                        layer_recompute(c, l, false).full, kept_in_bf16(c, l)};
        const auto same = std::find_if(built.begin(), built.end(), [&](const auto& b) { return b.first == kind; });
        if (same != built.end()) {
            Block copy = blocks[same->second];
            copy.layer = l;
            blocks.push_back(std::move(copy));
            continue;
        }
        built.emplace_back(kind, blocks.size());
        blocks.push_back(transformer_block(c, l, kind.moe ? BlockKind::moe_layer : BlockKind::dense_layer));
    }
    for (int d = 0; d < model.mtp_depth; ++d) blocks.push_back(mtp_block(c, d, layout.pipeline));
    blocks.push_back(head_block(c, layout.pipeline));
    return blocks;
}

}  // namespace gpuhours
