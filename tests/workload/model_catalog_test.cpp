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
            // The model card's convention (model.hpp): with or without the input-embedding table.
            const double ours = model.published_active_counts_embedding ? count.active_with_embedding : count.active;
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
        }
        // At 128K the windows matter: without them the 36 layers' attention is 36/18 × s/2 ÷ (s/2 + 127.94) ≈ 2×.
    }
}
