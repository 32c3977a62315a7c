// The architecture of a transformer to train: what is trained, independent of where and how.
// Plain validated data; the catalog files under scenarios/models/ fill it.
#pragma once

#include <optional>
#include <string>

namespace gpuhours {

enum class AttentionKind { mha, gqa, mla };
enum class MlpKind { gelu, swiglu, squared_relu };
enum class NormKind { layernorm, rmsnorm };
enum class PositionKind { learned, rope, alibi };

struct AttentionSpec {
    AttentionKind kind = AttentionKind::mha;
    int heads = 0;
    int kv_heads = 0;     // mha: = heads; gqa: groups; mla: = heads (decompressed per head)
    int head_dim = 0;     // per-head q/k dimension (mla: the non-rope "nope" part)
    // Multi-head latent attention (DeepSeek-V2/V3) only; 0 otherwise.
    int q_lora_rank = 0;       // d'_c; 0 = queries projected directly from the hidden state
    int kv_lora_rank = 0;      // d_c
    int rope_head_dim = 0;     // d^R_h, decoupled rotary part of q and k
    int v_head_dim = 0;        // value head dimension (mla); 0 means = head_dim
    // Sliding-window attention (Mistral, gpt-oss, Gemma): each query attends to at most `sliding_window` keys
    // (itself and the window − 1 before it); 0 = every layer attends to the whole sequence. With a window,
    // every `full_attention_every`-th layer (layers k−1, 2k−1, …; gpt-oss: 2, Gemma 3: 6) keeps full attention;
    // 0 = every layer is windowed.
    int sliding_window = 0;
    int full_attention_every = 0;
    // Attention sinks (gpt-oss): one learned logit per head added to the softmax's denominator; `heads`
    // parameters per layer and no matrix work.
    bool sinks = false;
    // Linear ("lightning") attention layers (MiniMax-01, arXiv 2501.08313 §2.1; the block-wise algorithm of
    // Lightning Attention-2, arXiv 2401.04658): every layer attends linearly except every `softmax_every`-th
    // (layers k−1, 2k−1, …; MiniMax-Text-01: 8, "a softmax attention after every 7 lightning attention layers"),
    // which keeps the softmax attention `kind` describes; 0 = every layer linear. A linear layer projects the
    // hidden state to queries, keys and values of all `heads` × `head_dim` (no grouping; SiLU applied), keeps a
    // head_dim × head_dim state per head, normalises its output (RMSNorm over heads × head_dim), gates it with
    // sigmoid(W_g·x) and projects it back (the Hugging Face MiniMaxLightningAttention module). The sequence is
    // processed in blocks of `linear_block` tokens (MiniMax: block_size 256): products inside a block are masked
    // ones, between blocks they go through the state.
    bool linear = false;
    int softmax_every = 0;
    int linear_block = 256;

    friend bool operator==(const AttentionSpec&, const AttentionSpec&) = default;
};

struct MlpSpec {
    MlpKind kind = MlpKind::gelu;
    int ffn_hidden = 0;  // dense layers' intermediate size

    friend bool operator==(const MlpSpec&, const MlpSpec&) = default;
};

// Mixture of experts. Layers [0, dense_layers) use the dense MLP; after them every `layer_frequency`-th layer is
// MoE (layers dense_layers + k−1, + 2k−1, …: Megatron-Core's --moe-layer-freq, Hugging Face Llama 4's
// interleave_moe_layer_step; 1 = all of them) and the others dense.
struct MoeSpec {
    int routed_experts = 0;
    int shared_experts = 0;
    int top_k = 0;
    int expert_ffn_hidden = 0;   // intermediate size of one routed (and shared) expert
    int dense_layers = 0;        // leading layers that stay dense
    int max_nodes_per_token = 0; // node-limited routing (DeepSeek-V3: 4); 0 = unlimited
    int layer_frequency = 1;     // every k-th layer after the dense ones is MoE (Llama 4 Maverick: 2)
    // Expert load imbalance: the coefficient of variation (sd / mean) of the routed experts' token loads within a
    // step, loads log-normal; 0 = balanced (every expert T·k/E slots). See expert_load_factor (workload.hpp).
    double load_cv = 0.0;

    friend bool operator==(const MoeSpec&, const MoeSpec&) = default;
};

struct ModelSpec {
    std::string id;            // catalog name: "deepseek-v3"
    std::string display_name;  // "DeepSeek-V3"
    int layers = 0;
    int hidden = 0;
    int vocab = 0;
    bool tied_embeddings = false;
    bool bias = false;                     // linear-layer biases (GPT-2/3 style)
    NormKind norm = NormKind::rmsnorm;
    PositionKind position = PositionKind::rope;
    int max_position_embeddings = 0;       // learned positions only
    AttentionSpec attention;
    MlpSpec mlp;
    std::optional<MoeSpec> moe;
    int mtp_depth = 0;                     // multi-token-prediction modules (DeepSeek-V3: 1)
    // Published figures the catalog quotes, for validation only (never used in the simulation).
    std::optional<double> published_total_parameters;
    std::optional<double> published_active_parameters;
    // Whether the published active count includes the input-embedding table (Meta's Llama 4: yes; DeepSeek,
    // OpenAI's gpt-oss: no); compared with ParameterCount::active_with_embedding or ::active accordingly.
    bool published_active_counts_embedding = false;
    // Whether it includes the output head (most cards: yes; MiniMax-01's 45.9B: no, neither table is counted);
    // false compares ParameterCount::active_without_head.
    bool published_active_counts_head = true;

    friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

// Whether layer `layer` (0-based) has routed experts (MoeSpec: dense_layers, then every layer_frequency-th).
inline bool is_moe_layer(const ModelSpec& m, int layer) {
    if (!m.moe.has_value() || layer < m.moe->dense_layers) return false;
    const int k = m.moe->layer_frequency > 0 ? m.moe->layer_frequency : 1;
    return (layer - m.moe->dense_layers) % k == k - 1;
}
// Whether layer `layer` attends linearly (AttentionSpec: linear, softmax_every).
inline bool is_linear_attention_layer(const ModelSpec& m, int layer) {
    if (!m.attention.linear) return false;
    const int k = m.attention.softmax_every;
    return k <= 0 || (layer + 1) % k != 0;
}
// Whether layer `layer` attends through a sliding window (AttentionSpec: sliding_window, full_attention_every);
// a window applies to softmax attention only, never to a linear layer.
inline bool is_windowed_layer(const ModelSpec& m, int layer) {
    if (m.attention.sliding_window <= 0 || is_linear_attention_layer(m, layer)) return false;
    const int k = m.attention.full_attention_every;
    return k <= 0 || (layer + 1) % k != 0;
}

}  // namespace gpuhours
