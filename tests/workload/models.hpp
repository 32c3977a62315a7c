// Model architectures built directly in C++ for the workload tests (independent of the TOML loader), with the
// same figures and sources as scenarios/models/*.toml.
#pragma once

#include <gpuhours/workload/model.hpp>
#include <gpuhours/workload/parallel.hpp>

#include <algorithm>
#include <cmath>

namespace gpuhours::test {

// Dense GQA / MHA transformer with RMSNorm, RoPE, no biases, untied embeddings (Llama style).
inline ModelSpec llama_like(int layers, int hidden, int heads, int kv_heads, int ffn, int vocab) {
    ModelSpec m;
    m.layers = layers;
    m.hidden = hidden;
    m.vocab = vocab;
    m.attention.kind = kv_heads == heads ? AttentionKind::mha : AttentionKind::gqa;
    m.attention.heads = heads;
    m.attention.kv_heads = kv_heads;
    m.attention.head_dim = hidden / heads;
    m.mlp = {MlpKind::swiglu, ffn};
    return m;
}

// arXiv 2407.21783 Table 3.
inline ModelSpec llama_3_1_405b() {
    ModelSpec m = llama_like(126, 16384, 128, 8, 53248, 128256);
    m.id = "llama-3.1-405b";
    return m;
}

// GPT-2-style model (learned positions, LayerNorm, biases, GELU 4h, tied embeddings, sequence 2,048).
inline ModelSpec gpt_like(int layers, int hidden, int heads, int vocab) {
    ModelSpec m;
    m.layers = layers;
    m.hidden = hidden;
    m.vocab = vocab;
    m.tied_embeddings = true;
    m.bias = true;
    m.norm = NormKind::layernorm;
    m.position = PositionKind::learned;
    m.max_position_embeddings = 2048;
    m.attention.kind = AttentionKind::mha;
    m.attention.heads = heads;
    m.attention.kv_heads = heads;
    m.attention.head_dim = hidden / heads;
    m.mlp = {MlpKind::gelu, 4 * hidden};
    return m;
}

// arXiv 2005.14165 Table 2.1.
inline ModelSpec gpt_3_175b() {
    ModelSpec m = gpt_like(96, 12288, 96, 50257);
    m.id = "gpt-3-175b";
    return m;
}

// arXiv 2412.19437 §4.2 and the Hugging Face config.
inline ModelSpec deepseek_v3() {
    ModelSpec m;
    m.id = "deepseek-v3";
    m.layers = 61;
    m.hidden = 7168;
    m.vocab = 129280;
    m.attention.kind = AttentionKind::mla;
    m.attention.heads = 128;
    m.attention.kv_heads = 128;
    m.attention.head_dim = 128;
    m.attention.q_lora_rank = 1536;
    m.attention.kv_lora_rank = 512;
    m.attention.rope_head_dim = 64;
    m.attention.v_head_dim = 128;
    m.mlp = {MlpKind::swiglu, 18432};
    m.moe = MoeSpec{256, 1, 8, 2048, 3, 4};
    m.mtp_depth = 1;
    return m;
}

// arXiv 2405.04434 §3.1.2.
inline ModelSpec deepseek_v2() {
    ModelSpec m = deepseek_v3();
    m.id = "deepseek-v2";
    m.layers = 60;
    m.hidden = 5120;
    m.vocab = 102400;
    m.mlp = {MlpKind::swiglu, 12288};
    m.moe = MoeSpec{160, 2, 6, 1536, 1, 0};
    m.mtp_depth = 0;
    return m;
}

// Hugging Face Qwen/Qwen3-235B-A22B config.json: 94 layers, hidden 4096, 64 query and 4 KV heads of 128, 128
// experts (top 8) of intermediate size 1536 in every layer, no shared expert, vocabulary 151,936, untied.
inline ModelSpec qwen3_235b_a22b() {
    ModelSpec m = llama_like(94, 4096, 64, 4, 12288, 151936);
    m.id = "qwen3-235b-a22b";
    m.attention.head_dim = 128;
    m.moe = MoeSpec{128, 0, 8, 1536, 0, 0};
    return m;
}

// MiniMax-Text-01 (arXiv 2501.08313; scenarios/models/minimax-text-01.toml): 80 layers, lightning attention on 7
// of 8 (softmax GQA 64/8 × 128 on layers 7, 15, …), 32 experts top 2 of 9216, vocabulary 200,064.
inline ModelSpec minimax_text_01() {
    ModelSpec m = llama_like(80, 6144, 64, 8, 9216, 200064);
    m.id = "minimax-text-01";
    m.attention.head_dim = 128;
    m.attention.linear = true;
    m.attention.softmax_every = 8;
    m.attention.linear_block = 256;
    m.moe = MoeSpec{32, 0, 2, 9216, 0, 0};
    return m;
}

// Tensor parallel `t` with sequence parallelism, nothing else.
inline ParallelLayout tensor_sequence_parallel(int t) {
    ParallelLayout p;
    p.tensor = t;
    p.sequence_parallel = true;
    return p;
}

// A published size is quoted to a few significant digits ("1.7B", "671B"); the comparison allows 1% or half a
// unit in the last quoted digit, whichever is larger. Narayanan et al.'s own closed form gives 1.652B for the
// model they print as "1.7B": the printed figure is rounded, not wrong.
inline double published_tolerance(double published) {
    double unit = std::pow(10.0, std::floor(std::log10(published)) - 5.0);
    for (int digits = 1; digits <= 6; ++digits) {
        const double u = std::pow(10.0, std::floor(std::log10(published)) - (digits - 1));
        if (std::abs(std::round(published / u) * u - published) <= 1e-9 * published) {
            unit = u;
            break;
        }
    }
    return std::max(0.01 * published, 0.5 * unit);
}

}  // namespace gpuhours::test
