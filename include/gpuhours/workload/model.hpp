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

    friend bool operator==(const AttentionSpec&, const AttentionSpec&) = default;
};

struct MlpSpec {
    MlpKind kind = MlpKind::gelu;
    int ffn_hidden = 0;  // dense layers' intermediate size

    friend bool operator==(const MlpSpec&, const MlpSpec&) = default;
};

// Mixture of experts. Layers [0, dense_layers) use the dense MLP; the rest are MoE.
struct MoeSpec {
    int routed_experts = 0;
    int shared_experts = 0;
    int top_k = 0;
    int expert_ffn_hidden = 0;   // intermediate size of one routed (and shared) expert
    int dense_layers = 0;        // leading layers that stay dense
    int max_nodes_per_token = 0; // node-limited routing (DeepSeek-V3: 4); 0 = unlimited

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

    friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

}  // namespace gpuhours
