// Memory per GPU, stage by stage: activations, parameters, gradients, optimizer state (notation: workload.cpp).
#include <gpuhours/workload/workload.hpp>

#include "workload_detail.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <utility>

namespace gpuhours::detail {
namespace {

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
//   routed, per token k slots: the dispatched input h (fc1's input) and the intermediate (as the MLP above, fe/et
//   with et the expert-tensor degree); with et ≠ t a GPU holds et/t slots per token and slot (its T/t tokens
//   gathered over et ranks). Not the expert output: Megatron-Core since early 2025 (Transformer Engine PR 1468 moved
//   the probabilities into the expert MLP, so that the un-permutation's large input need not be kept) weights each
//   slot by its gate probability inside the experts, on the activation before fc2 (experts.py: TEGroupedMLP's fused
//   weighted bias-activation kernels, GroupedMLP's `activation_func_with_probs`, SequentialMLP's per-token scale),
//   so every dispatcher un-permutes a plain sum whose backward is a gather and stores nothing (token_dispatcher.py:
//   `unpermute` without probabilities); the fused kernels' probability gradient reads fc1's output, already counted.
//   Not modelled: the older combine that multiplied the un-permuted outputs (it stored them, h per slot),
//   `moe_apply_probs_on_input` (top-1: the unscaled input kept as well), and an unfused act·p, which keeps act(x)
//   shared experts: as a dense MLP of size S·fe (its input is the dispatch input, not counted again)
//   dropout mask h·rep, 1 byte
// With MHA, GELU, f = 4h, materialized attention, dropout, e = 2: 34·s·b·h + 5·a·s²·b without parallelism —
// exactly Korthikanti's eq. (1); and the same terms reproduce eqs. (2)–(3) under TP and SP.
// Recompute: selective drops the attention core's stored tensors (the s×s ones or the LSE), as in
// Korthikanti §5, and a gated MLP's product (see below); full keeps only the layer input h·rep (Korthikanti's 2sbh per layer, sharded by SP).
// Approximations: the residual stream is not stored separately (the norm input is it); the rotary inputs are
// not stored (rotation is linear); bias gradients need nothing extra; MoE balance is perfect.

// The widths every term above is written in.
struct Widths {
    double h;          // hidden
    double rep;        // 1/t with SP, else 1
    double e;          // bytes per activation element
    double mask_byte;  // 1 with dropout
    double g;          // bytes per element of a GEMM input kept only for its weight gradient (e, or less under FP8)
};
// FP8 GEMMs keep their inputs as the recipe's framework saves them (fp8_saved_input_bytes, units/precision.hpp):
// a norm's output before its projection, a gated product or activation before the down-projection, the attention
// output before the out-projection, an expert's dispatched input. Each GEMM saves its own copy (Megatron-Core's
// Transformer Engine layers: a norm fused with its projection, TELayerNormColumnParallelLinear, saves its output
// once; MLA's separate q and kv down-projections each save one), and a tensor another operator keeps too (the
// attention output, which a fused attention core's backward reads; the MoE norm's output, which the router saves
// for its weight gradient, megatron/core/transformer/moe/router.py) is kept in the activations' format beside it.
// The layers an FP8 step keeps in BF16 (kept_in_bf16; never an MTP module's, operators.cpp) and the BF16 head
// keep e.
Widths widths(const Context& c, const MemoryOptions& options, int layer, bool mtp) {
    double g = c.e_act;
    if (c.fp8 && (mtp || !kept_in_bf16(c, layer))) {
        if (const auto saved = fp8_saved_input_bytes(c.fp8_recipe)) g = std::min(c.e_act, *saved);
    }
    return {static_cast<double>(c.m.hidden), c.sp ? 1.0 / c.t : 1.0, c.e_act, options.dropout ? 1.0 : 0.0, g};
}

// The attention block's stored bytes per token of a softmax-attention layer (the list above), less what `r`
// recomputes.
double softmax_attention_bytes_per_token(const Context& c, const Widths& w, const MemoryOptions& options,
                                         const LayerRecompute& r) {
    const auto& at = c.m.attention;
    const AttentionDims a = attention_dims(c.m);
    const auto [h, rep, e, mask_byte, g] = w;
    double per_token = 0.0;
    // The norm's input, and its output (the projection's input) unless layernorm is recomputed: one copy shared
    // by every projection in the activations' format, one per projection when narrower (MLA: q and kv down).
    const double projections = at.kind == AttentionKind::mla && g < e ? 2.0 : 1.0;
    per_token += h * rep * e + (r.layernorm ? 0.0 : projections * h * rep * g);
    if (at.kind == AttentionKind::mla) {
        // mla_up_proj (DeepSeek-V3 §3.3) keeps only the latents: their norm outputs (the up-projections' inputs)
        // and the decompressed Q, K, V are rebuilt in backward.
        const double norms = r.mla_up_proj ? 0.0 : 1.0;
        per_token += (at.q_lora_rank + at.kv_lora_rank + at.rope_head_dim) * rep * e;
        per_token += norms * (at.q_lora_rank + at.kv_lora_rank) * rep * g;
        if (!r.mla_up_proj) per_token += (2.0 * a.heads * a.qk_dim + a.heads * a.v_dim) / c.t * e;
    } else {
        per_token += (a.heads + a.kv_heads) * a.qk_dim / c.t * e + a.kv_heads * a.v_dim / c.t * e;
    }
    // The attention output: a fused core's backward reads it (unless the core is recomputed: its checkpoint keeps
    // Q, K and V), a materialized one's reads the probabilities and V; the out-projection keeps its own copy when
    // that is narrower.
    const bool core_keeps_output = options.attention_kernel == AttentionKernel::fused && !r.core_attn;
    per_token += a.heads * a.v_dim / c.t * (core_keeps_output ? e + (g < e ? g : 0.0) : g);
    per_token += h * rep * mask_byte;
    double core_per_token = 0.0;
    if (options.attention_kernel == AttentionKernel::materialized) {
        // s keys per query; dropout adds a 1-byte mask and a second e-byte s×s tensor.
        core_per_token = a.heads / c.t * c.s * (e + (options.dropout ? 1.0 + e : 0.0));
    } else {
        core_per_token = a.heads / c.t * 4.0;
    }
    if (!r.core_attn) per_token += core_per_token;
    return per_token;
}

// `mtp`: the layer of an MTP module (outside the chunks' layers that the block method counts).
double layer_activation_elements_bytes(const Context& c, int layer, const MemoryOptions& options, bool mtp = false) {
    const ModelSpec& m = c.m;
    const AttentionDims a = attention_dims(m);
    const Widths w = widths(c, options, layer, mtp);
    const auto [h, rep, e, mask_byte, g] = w;
    const double T = c.tokens;

    const LayerRecompute r = layer_recompute(c, layer, mtp);
    if (r.full) return T * h * rep * e;

    double per_token = 0.0;  // bytes
    // attention block
    if (is_linear_attention_layer(m, layer)) {
        // Linear attention: norm input and projection input h·rep; Q, K, V after SiLU 3·H·d/t; the core's output
        // (the out-norm's input), the gate's pre-activation and the out-projection input H·d/t each. The
        // kernel keeps no per-block state: its backward rebuilds the states from K and V (Lightning
        // Attention-2, arXiv 2401.04658 Alg. 2), so recompute has no core tensor to drop.
        per_token += h * rep * e + (r.layernorm ? 0.0 : h * rep * g) + 5.0 * a.heads * a.qk_dim / c.t * e +
                     a.heads * a.qk_dim / c.t * g + h * rep * mask_byte;
    } else {
        per_token += softmax_attention_bytes_per_token(c, w, options, r);
    }
    // MLP / MoE block: the norm's input, its output unless layernorm is recomputed (a dense MLP's fc1 input; in an
    // MoE layer the router's input in e, and the shared experts' fc1 input beside it when narrower), the dropout
    // mask.
    const bool moe_layer = is_moe_layer(m, layer);
    double norm_output = g;
    if (moe_layer) norm_output = e + (g < e && m.moe->shared_experts > 0 && !r.shared_experts ? g : 0.0);
    per_token += h * rep * e + (r.layernorm ? 0.0 : h * rep * norm_output) + h * rep * mask_byte;
    // Stored intermediate tensors per MLP. A gated MLP whose product is recomputed keeps only the gate and up
    // projections, as DeepSeek-V3 does ("cache the inputs of the SwiGLU operator and recompute its output",
    // arXiv 2412.19437 §3.3.2) and Kimi K2's selective recompute of SwiGLU (the default selective set; moe_act for
    // the experts); Korthikanti's selective mode (GELU MLPs) is unchanged. A recomputed MLP (mlp, shared_experts)
    // keeps only its input, which the norm's output above already is.
    // Bytes per intermediate element: the gate and up outputs (or fc1's output) in e for the activation's backward,
    // the product (or activation output) as the down-projection's input, g.
    const auto tensors = [&](bool product_dropped) {
        return gated(m.mlp.kind) ? 2.0 * e + (product_dropped ? 0.0 : g) : e + g;
    };
    if (moe_layer) {
        const MoeSpec& moe = *m.moe;
        per_token += moe.routed_experts * rep * 4.0;
        // A GPU's expert token-slots per token of T and top-k slot (operators.cpp, add_moe): its own tokens
        // (T/t under SP) gathered over the expert-tensor group, so et/t; T's copies without SP (et = t); et at t = 1.
        // Mean loads under imbalance (MoeSpec::load_cv): each layer's fullest rank is another (the experts' loads
        // are drawn per layer), so a rank's activations over its layers stay near the mean; the time follows the
        // slowest rank of each layer instead (operators.cpp, add_moe).
        const double slots = c.sp ? c.et / c.t : (c.t == 1 ? c.et : 1.0);
        per_token += moe.top_k * slots * (h * g + tensors(r.moe_act) * moe.expert_ffn_hidden / c.et);
        if (!r.shared_experts) per_token += tensors(r.moe_act) * moe.shared_experts * moe.expert_ffn_hidden / c.t;
    } else if (!r.mlp) {
        per_token += tensors(r.dense_product) * m.mlp.ffn_hidden / c.t;
    }
    return T * per_token;
}

// Stored activations of the head (final norm input, projection input, fp32 logits for the cross-entropy:
// Korthikanti §4.3's 4·s·b·V/t) per micro-batch.
double head_activation_bytes(const Context& c) {
    const double rep = c.sp ? 1.0 / c.t : 1.0;
    return c.tokens * (2.0 * c.m.hidden * rep * c.e_act + c.V / c.t * 4.0);
}

// One chunk a rank holds: its layers, the micro-batches it keeps in flight (chunk_in_flight) and the activation bytes
// of one of them.
struct Held {
    const StageAssignment* stage;
    double in_flight;
    double bytes;
};

// The parameters of the blocks `chunks` hold (blocks: model_ops' embedding, layers, MTP modules, head), dense and
// routed-expert apart, and the largest block's (ZeRO-3's gathered unit).
// largest_gathered: the bytes of the largest block as ZeRO-3 gathers it, `param_bytes` per parameter, or with FP8
// parameter gathers (`fp8_gather`) 1 B for an FP8 GEMM's weights and `param_bytes` for the rest (the BF16 head,
// norms, the router), as the step gathers it (StepBuilder::param_gather_bytes).
struct HeldParameters {
    double dense = 0.0;
    double expert = 0.0;
    double largest_block = 0.0;
    double largest_gathered = 0.0;
};
HeldParameters held_parameters(const ModelSpec& model, const std::vector<Block>& blocks, const std::vector<Held>& chunks,
                               double param_bytes, bool fp8_gather) {
    std::vector<const Block*> held;
    bool embedding = false;  // the rank holds the input embedding: its copies (MTP lookups, a tied head) are not apart
    for (const Held& h : chunks) {
        const StageAssignment& stage = *h.stage;
        embedding = embedding || stage.embedding;
        if (stage.embedding) held.push_back(&blocks.front());
        for (int l : stage.layers) held.push_back(&blocks[static_cast<std::size_t>(l + 1)]);
        if (stage.head) {
            for (int d = 0; d < model.mtp_depth; ++d) held.push_back(&blocks[static_cast<std::size_t>(model.layers + 1 + d)]);
            held.push_back(&blocks.back());
        }
    }
    HeldParameters out;
    for (const Block* b : held) {
        double in_block = 0.0;
        double gathered = 0.0;
        for (const auto& op : b->ops) {
            // DualPipe's first and last ranks hold the embedding and the head and MTP modules: one copy of the
            // embedding, shared (DeepSeek-V3 §3.2.1), where the ops count one apart (memory and plan audits, session 50:
            // 5.6 GB too much on the flagship's ranks 0 and 15).
            if (embedding && op.embedding_copy) continue;
            (op.expert ? out.expert : out.dense) += op.parameters;
            in_block += op.parameters;
            gathered += op.parameters * (fp8_gather && op.fp8 ? 1.0 : param_bytes);
        }
        out.largest_block = std::max(out.largest_block, in_block);
        out.largest_gathered = std::max(out.largest_gathered, gathered);
    }
    return out;
}

}  // namespace
}  // namespace gpuhours::detail

namespace gpuhours {

using detail::Context;
using detail::head_activation_bytes;
using detail::chunk_assignments;
using detail::Held;
using detail::held_parameters;
using detail::layer_activation_elements_bytes;
using detail::layer_recompute;
using detail::make_context;
using detail::require;
using detail::validate;

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

std::vector<double> chunk_in_flight(const ParallelLayout& layout, int rank, const MemoryOptions& options,
                                    std::span<const double> chunk_bytes) {
    validate(layout);
    require(rank >= 0 && rank < layout.pipeline, "pipeline rank out of range");
    require(options.micro_batches >= 0, "micro_batches must be >= 0");
    const double p = layout.pipeline;
    // Unknown m: GPipe keeps p (the fewest that fill its pipeline); the others are not limited by m.
    const bool known = options.micro_batches > 0;
    const double m = known ? options.micro_batches : (layout.schedule == Schedule::gpipe ? p : 1e300);
    const double combined = layout.combined_1f1b ? 1.0 : 0.0;
    switch (layout.schedule) {
        case Schedule::gpipe: return {m};
        case Schedule::one_f_one_b: return {std::max(1.0, std::min(m, p - rank + combined))};
        // ZB-H1 keeps 1F1B's warm-up but lets stage r's last r weight-gradient passes trail (Qi et al. 2024, §3.1):
        // a set held until its W, (p − r − 1) + 1 + r = p on every stage (sim/training/schedule.cpp; schedule_test).
        case Schedule::zero_bubble: return {std::max(1.0, std::min(m, p + combined))};
        case Schedule::interleaved: {
            // Forward k runs local chunk ⌊(k mod p·v)/p⌋ and backward k frees local chunk v − 1 − that
            // (interleaved_order, sim/training/schedule.cpp). Of the first n forwards, F(j, n) ran chunk j.
            const int v = layout.virtual_stages;
            const double period = p * v;
            const auto F = [&](int j, double n) {
                const double full = std::floor(n / period);
                return full * p + std::clamp(n - full * period - j * p, 0.0, p);
            };
            const double total = m * v;
            const double warmup = std::min(2.0 * (p - rank - 1.0) + (v - 1.0) * p + combined, total);
            std::vector<double> best(static_cast<std::size_t>(v));
            // Every forward before any backward (the warm-up takes them all): one peak, every set.
            if (warmup >= total) {
                for (int j = 0; j < v; ++j) best[static_cast<std::size_t>(j)] = F(j, total);
                return best;
            }
            // A peak follows each round's forward, before its backward: forwards 0..warmup + i run, backwards
            // 0..i − 1. Its composition repeats with the period p·v in i (each chunk gains p forwards and loses p
            // backwards per period), so one period holds every composition; the heaviest by chunk_bytes is kept.
            double best_weight = -1.0;
            const double rounds = std::min(total - warmup, period);
            std::vector<double> held(static_cast<std::size_t>(v));
            for (double i = 0; i < rounds; ++i) {
                double weight = 0.0;
                for (int j = 0; j < v; ++j) {
                    held[static_cast<std::size_t>(j)] = F(j, warmup + i + 1.0) - F(v - 1 - j, i);
                    weight += held[static_cast<std::size_t>(j)] *
                              (chunk_bytes.empty() ? 1.0 : chunk_bytes[static_cast<std::size_t>(j)]);
                }
                if (weight > best_weight) {
                    best_weight = weight;
                    best = held;
                }
            }
            return best;
        }
        case Schedule::dualpipe:
            if (layout.pipeline == 1) return {std::min(m, 2.0)};
            return {p - rank, rank + 1.0};
    }
    return {1.0};
}

double in_flight_micro_batches(const ParallelLayout& layout, int rank, const MemoryOptions& options) {
    const auto chunks = chunk_in_flight(layout, rank, options);
    double n = 0.0;
    for (double c : chunks) n += c;
    if (layout.schedule == Schedule::interleaved) n /= layout.virtual_stages;
    if (layout.schedule == Schedule::dualpipe && options.micro_batches > 0) n = std::min<double>(n, options.micro_batches);
    return std::max(1.0, n);
}

namespace {

// Full recompute keeps a layer's input only, but its backward first replays the layer's forward, which stores
// what the layer stores without recompute until that layer's backward ends (torch.utils.checkpoint; Megatron-Core's
// CheckpointFunction, one layer at a time under the uniform method, the first k of a chunk under the block
// method): one micro-batch's worth of the largest such layer above its kept input, at most one at a time. Before
// session 54 it was left out, and a 1.7B model at micro-batch 4 with materialized attention showed half its peak
// activations (an audit: 2.68 GB stored, 2.66 GB more while a layer is replayed).
double replay_peak_bytes(const Context& c, const std::vector<Held>& chunks, const MemoryOptions& options) {
    if (c.recompute != Recompute::full) return 0.0;
    Context stored = c;
    stored.recompute = Recompute::none;
    double peak = 0.0;
    for (const Held& h : chunks) {
        for (int l : h.stage->layers) {
            if (!layer_recompute(c, l).full) continue;
            peak = std::max(peak, layer_activation_elements_bytes(stored, l, options) - layer_activation_elements_bytes(c, l, options));
        }
    }
    return peak;
}

}  // namespace

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

    // ZeRO groups: dense parameters over data × context (over a shard group under hybrid sharding), routed
    // experts over their expert-data group (data × context / expert; folded, tensor × context × data / (expert ×
    // expert_tensor)).
    const double dp_dense = layout.dense_shard_ranks();
    const double dp_expert = std::max(1, layout.expert_data_ranks());
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
                bytes += layer_activation_elements_bytes(c, model.layers - 1, options, true) + head_activation_bytes(c) +
                         2.0 * c.tokens * model.hidden * c.e_act;
            }
            bytes += head_activation_bytes(c);
        }
        return bytes;
    };

    const int v = layout.virtual_stages;
    const std::vector<StageAssignment> model_chunks =
        layout.schedule == Schedule::interleaved ? chunk_assignments(model, layout) : std::vector<StageAssignment>{};

    for (const auto& own : stages) {
        std::vector<Held> chunks;
        if (dual && p > 1) {
            const auto counts = chunk_in_flight(layout, own.rank, options);
            const StageAssignment& mirror = stages[static_cast<std::size_t>(p - 1 - own.rank)];
            chunks.push_back({&own, counts[0], activation_bytes(own)});
            chunks.push_back({&mirror, counts[1], activation_bytes(mirror)});
        } else if (!model_chunks.empty()) {
            std::vector<double> bytes(static_cast<std::size_t>(v));
            for (int j = 0; j < v; ++j) bytes[static_cast<std::size_t>(j)] = activation_bytes(model_chunks[static_cast<std::size_t>(j * p + own.rank)]);
            const auto heaviest = chunk_in_flight(layout, own.rank, options, bytes);
            for (int j = 0; j < v; ++j) {
                const auto k = static_cast<std::size_t>(j);
                chunks.push_back({&model_chunks[k * static_cast<std::size_t>(p) + static_cast<std::size_t>(own.rank)], heaviest[k], bytes[k]});
            }
        } else {
            chunks.push_back({&own, in_flight_micro_batches(layout, own.rank, options), activation_bytes(own)});
        }
        // FP8 parameter gathers (fp8_param_gather: FSDP2's float8 all-gather, Megatron's --fp8-param-gather) bring an
        // FP8 GEMM's weights in 1 B per element, the rest in the parameters' format.
        const bool fp8_gather = precision.fp8_param_gather && precision.compute == Precision::fp8;
        const auto [dense, expert, largest_block, largest_gathered] = held_parameters(model, blocks, chunks, param_bytes, fp8_gather);

        MemoryBreakdown mb;
        mb.stage = own.rank;
        mb.parameter_count = dense + expert;
        auto sharded = [&](double bytes_per, bool shard) {
            return shard ? dense * bytes_per / dp_dense + expert * bytes_per / dp_expert : (dense + expert) * bytes_per;
        };
        // ZeRO-3 / FSDP without resharding after forward keeps every unit's gathered weights from its forward to
        // its backward: at the step's peak (the end of the forward) the stage holds all of them.
        const bool params_sharded = layout.zero_stage >= 3 && layout.reshard_after_forward;
        mb.parameters = Bytes(sharded(param_bytes, params_sharded));
        mb.gradients = Bytes(sharded(grad_bytes, layout.zero_stage >= 2));
        mb.optimizer_state = Bytes(sharded(optimizer_bytes, layout.zero_stage >= 1));
        // ZeRO-3 gathers one unit's weights to compute it and `prefetch` more ahead of it, each at the largest unit's
        // gathered bytes (an FP8 gather's BF16 head at 2 B: it was priced at 1 B, 1.05 GB short on Llama 3 8B, a
        // memory audit of session 50).
        if (params_sharded) mb.buffers = Bytes((1.0 + layout.prefetch) * largest_gathered);
        // And each unit's gradients are produced whole, in the gradients' format, and held until its reduce-scatter
        // (FSDP2's reduce-scatter input, DeepSpeed's ZeRO-3 gradient bucket): at the peak, the start of the backward
        // with every activation still stored, counted at the stage's largest unit (the head's on the last stage: a
        // researcher's read, 2.1 GB for Llama 3.1 8B's head in FP32).
        if (layout.zero_stage >= 3) mb.buffers += Bytes(largest_block * grad_bytes);

        double activations = 0.0;
        for (const Held& h : chunks) activations += h.bytes * h.in_flight;
        mb.replayed_layer = Bytes(replay_peak_bytes(c, chunks, options));
        activations += mb.replayed_layer.value();
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
