// Every model in scenarios/models/ loads and its parameter count matches the size it quotes.
#include "models.hpp"

#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/workload/workload.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace gh = gpuhours;

TEST_CASE("Every catalog model's parameter count matches its published total", "[workload][catalog]") {
    const std::filesystem::path catalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";
    std::vector<std::string> ids;
    for (const auto& entry : std::filesystem::directory_iterator(catalog / "models")) {
        if (entry.path().extension() == ".toml") ids.push_back(entry.path().stem().string());
    }
    REQUIRE(ids.size() >= 12);
    for (const auto& id : ids) {
        CAPTURE(id);
        const gh::ModelSpec model = gh::load_model(id, catalog);
        REQUIRE(model.published_total_parameters.has_value());
        const auto count = gh::count_parameters(model);
        // Within 1% or half a unit of the last quoted digit ("1.7B", "70B"), see published_tolerance().
        const double published = *model.published_total_parameters;
        CHECK(count.total == Approx(published).margin(gh::test::published_tolerance(published)));
        if (model.published_active_parameters) {
            const double active = *model.published_active_parameters;
            // The model card's convention (model.hpp): with or without the input-embedding table, the output head.
            const double ours = !model.published_active_counts_head        ? count.active_without_head
                                : model.published_active_counts_embedding ? count.active_with_embedding
                                                                           : count.active;
            CHECK(ours == Approx(active).margin(gh::test::published_tolerance(active)));
        }
    }
}

TEST_CASE("Layer patterns: Llama 4 Maverick's interleaved MoE and gpt-oss's sliding windows, counted by hand (#15)",
          "[workload][catalog]") {
    const std::filesystem::path catalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";
    SECTION("Llama 4 Maverick: MoE on every second layer, 400B total, 17B active with the input embedding") {
        const gh::ModelSpec m = gh::load_model("llama-4-maverick", catalog);
        // Per layer: attention 5120·5120·2 (q, o) + 5120·1024·2 (k, v) = 62,914,560, two RMSNorms 10,240.
        // Dense layers (0, 2, …, 46): SwiGLU 3·5120·16384 = 251,658,240. MoE layers (1, 3, …, 47): 129 experts
        // (128 routed + 1 shared) × 3·5120·8192 = 129 × 125,829,120 = 16,231,956,480 + router 5120·128 = 655,360.
        // Embedding and head 2 × 202,048·5120 = 2,068,971,520; final norm 5,120.
        // Total = 48·(62,914,560 + 10,240) + 24·251,658,240 + 24·16,232,611,840 + 2,068,971,520 + 5,120
        //       = 3,020,390,400 + 6,039,797,760 + 389,582,684,160 + 2,068,976,640 = 400,711,848,960.
        // Active: the same less 127 idle routed experts per MoE layer (24 × 127 × 125,829,120 = 383,527,157,760)
        //       = 17,184,691,200 with the input embedding, 16,150,205,440 without.
        const auto p = gh::count_parameters(m);
        CHECK(p.moe_layers == 24);
        CHECK(p.dense_layers == 24);
        CHECK_FALSE(gh::is_moe_layer(m, 0));
        CHECK(gh::is_moe_layer(m, 1));
        CHECK(gh::is_moe_layer(m, 47));
        CHECK(p.total == Approx(400'711'848'960.0).epsilon(1e-9));
        CHECK(p.active_with_embedding == Approx(17'184'691'200.0).epsilon(1e-9));
        CHECK(p.active == Approx(16'150'205'440.0).epsilon(1e-9));
        // Forward FLOPs per token: GEMMs 2 × (the active count less its norms, 48·10,240 + 5,120 = 496,640)
        // = 2 × 16,149,708,800; attention, causal, on every layer (the model file leaves Llama 4's chunked local
        // attention out): 2·(s/2)·40·(128 + 128) = 10,240·s per layer.
        for (const int s : {4096, 131072}) {
            CAPTURE(s);
            const auto f = gh::training_flops_breakdown(m, s, gh::AttentionMask::causal);
            CHECK(f.forward_matmul.value() == Approx(32'299'417'600.0).epsilon(1e-12));
            CHECK(f.forward_attention.value() == Approx(48.0 * 10240.0 * s).epsilon(1e-12));
        }
    }
    SECTION("gpt-oss-120b: 116.83B / 5.13B, and attention FLOPs through 128-token windows on half the layers") {
        const gh::ModelSpec m = gh::load_model("gpt-oss-120b", catalog);
        // Card (arXiv 2508.10925 Table 1): MLP 114.71B, attention 0.96B, embedding + unembedding 1.16B.
        // Attention per layer, biases included: q 2880·4096 + 4096, k and v 2880·512 + 512 each, o 4096·2880 +
        // 2880, sinks 64, pre-norm 2880 = 26,553,024. MoE per layer: 128 × (2880·5760 + 5760 + 2880·2880 + 2880)
        // = 128 × 24,891,840 = 3,186,155,520, router 2880·128 + 128 = 368,768, norm 2880.
        // Total = 36 × (26,553,024 + 3,186,527,168) + 2 × 201,088·2880 + 2880 = 115,670,886,912 + 1,158,266,880
        //       + 2,880 = 116,829,156,672.
        // Active (the card's convention: unembedding in, input embedding out): 36 × (26,553,024 + 4 × 24,891,840
        // + 371,648) + 579,133,440 + 2,880 = 36 × 126,492,032 + 579,136,320 = 5,132,849,472.
        const auto p = gh::count_parameters(m);
        CHECK(p.total == Approx(116'829'156'672.0).epsilon(1e-9));
        CHECK(p.active == Approx(5'132'849'472.0).epsilon(1e-9));
        CHECK(gh::is_windowed_layer(m, 0));
        CHECK_FALSE(gh::is_windowed_layer(m, 1));
        // Forward attention FLOPs per token: 2 × keys per query × 64 heads × (64 + 64) = 16,384 × keys, summed over
        // 18 full layers (causal: s/2 keys) and 18 windowed ones (w − w(w−1)/(2s) keys, w = 128).
        for (const int s : {4096, 131072}) {
            const double windowed = 128.0 - 128.0 * 127.0 / (2.0 * s);
            const double expected = 16384.0 * 18.0 * (s / 2.0 + windowed);
            CAPTURE(s);
            CHECK(gh::training_flops_breakdown(m, s, gh::AttentionMask::causal).forward_attention.value() ==
                  Approx(expected).epsilon(1e-9));
            // GEMMs, 2 × the active weights without biases, norms and sinks: per layer q 2880·4096, k and v
            // 2·2880·512, o 4096·2880 (26,542,080), 4 experts × (2880·5760 + 2880·2880) = 99,532,800, router
            // 2880·128 = 368,640: 126,443,520 × 36 = 4,551,966,720, + head 579,133,440 = 5,131,100,160.
            CHECK(gh::training_flops_breakdown(m, s, gh::AttentionMask::causal).forward_matmul.value() ==
                  Approx(2.0 * 5'131'100'160.0).epsilon(1e-12));
        }
        // At 128K the windows matter: without them the 36 layers' attention is 36/18 × s/2 ÷ (s/2 + 127.94) ≈ 2×.
    }
}

TEST_CASE("Layer patterns: MiniMax-Text-01's lightning (linear) attention on 7 layers of 8, counted by hand (#15)",
          "[workload][catalog]") {
    const std::filesystem::path catalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";
    const gh::ModelSpec m = gh::load_model("minimax-text-01", catalog);
    CHECK(gh::is_linear_attention_layer(m, 0));
    CHECK(gh::is_linear_attention_layer(m, 6));
    CHECK_FALSE(gh::is_linear_attention_layer(m, 7));
    CHECK_FALSE(gh::is_linear_attention_layer(m, 79));
    // h = 6144, H·d = 64·128 = 8192. A lightning layer's attention: qkv 6144·3·8192 = 150,994,944, gate 6144·8192
    // = 50,331,648, out 8192·6144 = 50,331,648 (GEMMs 251,658,240), its output RMSNorm 8,192, pre-norm 6,144:
    // 251,672,576. A softmax layer's (GQA 64/8): q 6144·8192 + k, v 2·6144·1024 + o 8192·6144 = 113,246,208,
    // pre-norm 6,144: 113,252,352. MoE per layer: 32 experts × 3·6144·9216 (169,869,312 each) = 5,435,817,984,
    // router 6144·32 = 196,608, norm 6,144. Embedding and head 200,064·6144 = 1,229,193,216 each, final norm 6,144.
    // Total = 70·251,672,576 + 10·113,252,352 + 80·5,436,020,736 + 2·1,229,193,216 + 6,144
    //       = 17,617,080,320 + 1,132,523,520 + 434,881,658,880 + 2,458,386,432 + 6,144 = 456,089,655,296 (456B).
    // Active: 30 idle experts per layer less (80·30·169,869,312 = 407,686,348,800): 48,403,306,496 with both
    // tables; without the input embedding 47,174,113,280; without the head too 45,944,920,064 (the card's 45.9B).
    const auto p = gh::count_parameters(m);
    CHECK(p.total == Approx(456'089'655'296.0).epsilon(1e-12));
    CHECK(p.active_with_embedding == Approx(48'403'306'496.0).epsilon(1e-12));
    CHECK(p.active == Approx(47'174'113'280.0).epsilon(1e-12));
    CHECK(p.active_without_head == Approx(45'944'920'064.0).epsilon(1e-12));
    // Forward FLOPs per token. GEMMs: 2 × (70·251,658,240 + 10·113,246,208 + 80·(2·169,869,312 + 196,608)
    // + 1,229,193,216) = 2 × 47,172,550,656 = 94,345,101,312. Lightning core (blocks of B = 256, d = 128, 64 heads):
    // 64·(4·d² + 4·B·d) = 64·196,608 = 12,582,912 per layer whatever s (a multiple of B): 880,803,840 for 70.
    // Softmax, causal: 2·(s/2)·64·(128 + 128) = 16,384·s per layer, 10 layers.
    for (const int s : {4096, 131072}) {
        CAPTURE(s);
        const auto f = gh::training_flops_breakdown(m, s, gh::AttentionMask::causal);
        CHECK(f.forward_matmul.value() == Approx(94'345'101'312.0).epsilon(1e-12));
        CHECK(f.forward_attention.value() == Approx(880'803'840.0 + 10.0 * 16384.0 * s).epsilon(1e-12));
        // 3 × forward: 287.69 GFLOP at 4K, 350.10 GFLOP at 128K.
        CHECK(f.total.value() == Approx(3.0 * (94'345'101'312.0 + 880'803'840.0 + 163'840.0 * s)).epsilon(1e-12));
    }
    // Were all 80 layers softmax, attention at 128K would be 80·16,384·131,072 = 171.8 GFLOP forward against
    // 22.36 GFLOP: the linear layers are what keeps a 1M-token context affordable.
    // A block that does not divide the sequence: s = 300 in blocks of 256 → Σb² = 256² + 44² = 67,472;
    // per head 4·128² + 4·128·67,472/300 = 65,536 + 115,152.2133… = 180,688.2133….
    const double lightning300 = 64.0 * (65'536.0 + 4.0 * 128.0 * 67'472.0 / 300.0);
    CHECK(gh::training_flops_breakdown(m, 300, gh::AttentionMask::causal).forward_attention.value() ==
          Approx(70.0 * lightning300 + 10.0 * 16384.0 * 300.0).epsilon(1e-12));
}
