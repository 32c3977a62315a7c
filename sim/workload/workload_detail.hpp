// The workload layer's shared internals: validation, architecture arithmetic, the per-GPU Context, block builders.
#pragma once

#include <gpuhours/workload/workload.hpp>

#include <string>

namespace gpuhours::detail {

// ---- validation (workload.cpp) ----------------------------------------------------------------------------

// Throws Error("workload: " + what) unless `ok`.
void require(bool ok, const std::string& what);
void validate(const ModelSpec& m);
void validate(const ParallelLayout& p);
void validate(const MicroBatchShape& s);

// ---- architecture arithmetic shared by parameters, ops and memory ---------------------------------------

using gpuhours::is_moe_layer;

inline double norm_params(const ModelSpec& m, double width) {
    // RMSNorm: one gain per feature; LayerNorm: gain and bias.
    return m.norm == NormKind::layernorm ? 2.0 * width : width;
}

inline bool gated(MlpKind k) { return k == MlpKind::swiglu; }

// Attention geometry after MLA decompression.
struct AttentionDims {
    double heads = 0;     // H
    double kv_heads = 0;  // g (mla: H, decompressed per head)
    double qk_dim = 0;    // per-head query/key width: d (mla: d + r)
    double v_dim = 0;     // per-head value width
};

inline AttentionDims attention_dims(const ModelSpec& m) {
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

// ---- pipeline chunks (workload.cpp) ------------------------------------------------------------------------

// The p·v model chunks (ParallelLayout::pipeline × virtual_stages) in model order, each as the StageAssignment of
// the rank that holds it (model chunk i on rank i mod p: local chunk j of rank r is model chunk j·p + r); the
// embedding on the first, the head on the last. assign_stages merges them by rank.
std::vector<StageAssignment> chunk_assignments(const ModelSpec& model, const ParallelLayout& layout);

// ---- operator construction (operators.cpp) ----------------------------------------------------------------

// Everything one GPU's share of a micro-batch needs.
struct Context {
    const ModelSpec& m;
    double t = 1;       // tensor parallel
    bool sp = false;    // sequence parallel (only meaningful with t > 1)
    double cp = 1;      // context parallel
    bool cp_ring = true;  // its keys and values exchanged round a ring (CpCommType::p2p) rather than all-gathered
    double ep = 1;      // expert parallel
    double et = 1;      // expert tensor parallel (ParallelLayout::expert_tensor_degree)
    double b = 1;       // sequences per micro-batch
    double s = 0;       // full sequence length (keys each query may attend to)
    double tokens = 0;  // T = b·s/c: tokens inside the TP region on this GPU
    double tokens_rep = 0;  // tokens of the ops outside the TP region: T/t with SP, T without
    double V = 0;       // vocabulary rows as trained: the model's, padded (ParallelLayout::padded_vocab)
    double mask = 0.5;  // fraction of the s×s products computed
    double e_act = 2;   // bytes per stored/moved activation element
    double e_dispatch = 2;  // bytes per element of an expert all-to-all in the dispatch direction (scales included)
    double e_combine = 2;   // … in the combine direction
    double e_w = 2;     // bytes per working weight element
    Recompute recompute = Recompute::none;
    unsigned recompute_modules = 0;      // ParallelLayout::recompute_modules
    int recompute_num_layers = 0;        // ParallelLayout::recompute_num_layers
    std::vector<int> chunk_position{};   // per layer, its index in its model chunk (the block method only)
    bool fp8 = false;   // GEMMs in FP8: their inputs are quantized by separate kernels
    int bf16_start = 0;  // … except the first bf16_start and the last bf16_end transformer layers
    int bf16_end = 0;    //   (MixedPrecision::bf16_layers_at_start / _at_end)
    Fp8Recipe fp8_recipe = Fp8Recipe::none;  // how (units/precision.hpp)
};

Context make_context(const ModelSpec& m, const ParallelLayout& layout, const MixedPrecision& precision,
                     const MicroBatchShape& shape);

// Whether transformer layer `layer` of an FP8 step is one its recipe keeps in BF16 (Context::bf16_start, bf16_end).
bool kept_in_bf16(const Context& c, int layer);

// What one layer recomputes (ParallelLayout::recompute, recompute_num_layers, recompute_modules): the whole layer,
// or the selective modules (RecomputeModule). dense_product: a gated dense MLP's product, which only the default
// selective set of an MLA model drops (as DeepSeek-V3 recomputes the SwiGLU output). `mtp`: an MTP module's layer.
struct LayerRecompute {
    bool full = false;
    bool core_attn = false;
    bool mla_up_proj = false;
    bool layernorm = false;
    bool mlp = false;
    bool moe_act = false;
    bool dense_product = false;
    bool shared_experts = false;
};
LayerRecompute layer_recompute(const Context& c, int layer, bool mtp = false);

// One transformer layer's ops (attention, then the MLP or MoE block), quantization and recompute applied.
Block transformer_block(const Context& c, int layer, BlockKind kind);
// Vocabulary-parallel embedding (rows split over TP; the partial lookups are summed across TP), plus a learned
// position table replicated on every TP rank.
Block embedding_block(const Context& c);
// One MTP module (DeepSeek-V3 §2.2): h' = M·[RMSNorm(h_prev); RMSNorm(Emb(t_{i+k}))] with M ∈ R^{h×2h}, then one
// transformer layer (the model's last-layer kind), then the shared head. The embedding and head weights are the
// main model's; on a pipeline rank other than the embedding's, the embedding is a copy (as for tied heads).
Block mtp_block(const Context& c, int depth, int pipeline);

}  // namespace gpuhours::detail
