// Parameter counts against hand derivations and published sizes.
#include "models.hpp"

#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/workload/workload.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

namespace gh = gpuhours;
using gh::test::published_tolerance;

TEST_CASE("DeepSeek-V3 counts 671B total and 37B active parameters, with the MTP module apart",
          "[workload][parameters]") {
    const auto p = gh::count_parameters(gh::test::deepseek_v3());
    // MLA attention per layer (h = 7168, H = 128, d = 128, r = 64, v = 128):
    //   W_DQ 7168·1536 = 11,010,048; W_UQ 1536·128·192 = 37,748,736; W_DKV+W_KR 7168·576 = 4,128,768;
    //   W_UKV 512·128·256 = 16,777,216; W_O 16384·7168 = 117,440,512 → 187,105,280
    //   + q/kv norms 1536 + 512 + the layer's two RMSNorms 2·7168 → 187,121,664.
    // Dense layer: + SwiGLU 3·7168·18432 = 396,361,728 → 583,483,392.
    // MoE layer: + 257 experts · 3·7168·2048 (44,040,192) = 11,318,329,344 + router 256·7168 = 1,835,008
    //   → 11,507,286,016.
    // Total: 3·583,483,392 + 58·11,507,286,016 + 2·129280·7168 (embedding + head) + 7168 = 671,026,404,352.
    CHECK(p.per_dense_layer == Approx(583'483'392.0).epsilon(1e-12));
    CHECK(p.per_moe_layer == Approx(11'507'286'016.0).epsilon(1e-12));
    CHECK(p.total == Approx(671'026'404'352.0).epsilon(1e-12));
    CHECK(p.total == Approx(671e9).margin(published_tolerance(671e9)));
    // Active: MoE layer with 9 of 257 experts: 187,121,664 + 9·44,040,192 + 1,835,008 = 585,318,400;
    //   3·583,483,392 + 58·585,318,400 + head 926,679,040 + final norm 7168 = 36,625,603,584 (the input table is
    //   a lookup). Published "37B" is two significant digits: 36.63B rounds to it, 37.55B (with the table) not.
    CHECK(p.active == Approx(36'625'603'584.0).epsilon(1e-12));
    CHECK(p.active_with_embedding == Approx(36'625'603'584.0 + 926'679'040.0).epsilon(1e-12));
    CHECK(p.active == Approx(37e9).margin(published_tolerance(37e9)));
    // MTP: one MoE layer 11,507,286,016 + projection 2·7168·7168 = 102,760,448 + three RMSNorms 3·7168
    //   = 11,610,067,968; with the checkpoint's copies of embedding and head (1,853,358,080) 13.46B, DeepSeek's
    //   "14B" (685B − 671B).
    CHECK(p.mtp == Approx(11'610'067'968.0).epsilon(1e-12));
    CHECK((p.mtp + p.embedding + p.output_head) / 1e9 == Approx(13.46).margin(0.01));
    CHECK(p.dense_layers == 3);
    CHECK(p.moe_layers == 58);
}

TEST_CASE("DeepSeek-V2 counts 236B total and 21B active parameters", "[workload][parameters]") {
    const auto p = gh::count_parameters(gh::test::deepseek_v2());
    // Attention: 5120·1536 + 1536·24576 + 5120·576 + 512·32768 + 16384·5120 = 149,225,472 + norms 12,288
    //   = 149,237,760. Dense layer + 3·5120·12288 = 188,743,680 → 337,981,440.
    // MoE layer: 162 experts · 3·5120·1536 (23,592,960) = 3,822,059,520 + router 819,200 → 3,972,116,480.
    // Total: 337,981,440 + 59·3,972,116,480 + 2·102400·5120 + 5120 = 235,741,434,880.
    CHECK(p.total == Approx(235'741'434'880.0).epsilon(1e-12));
    CHECK(p.total == Approx(236e9).margin(published_tolerance(236e9)));
    // Active MoE layer: 149,237,760 + 8·23,592,960 + 819,200 = 338,800,640;
    //   337,981,440 + 59·338,800,640 + 524,288,000 + 5120 = 20,851,512,320.
    CHECK(p.active == Approx(20'851'512'320.0).epsilon(1e-12));
    CHECK(p.active == Approx(21e9).margin(published_tolerance(21e9)));
    CHECK(p.mtp == 0.0);
}

TEST_CASE("Qwen3-235B-A22B counts 235B total and 22B active parameters, as docs/models.md derives",
          "[workload][parameters]") {
    const auto p = gh::count_parameters(gh::test::qwen3_235b_a22b());
    // Attention per layer (h = 4096, 64 query and 4 KV heads of d = 128): QKV 4096·(64 + 2·4)·128 = 37,748,736;
    //   O 8192·4096 = 33,554,432; the layer's two RMSNorms 2·4096 → 71,311,360.
    // MoE layer: + 128 experts · 3·4096·1536 (18,874,368) = 2,415,919,104 + router 4096·128 = 524,288
    //   → 2,487,754,752; every one of the 94 layers → 233,848,946,688.
    // Total: + embedding and head 2·151936·4096 = 1,244,659,712 + final norm 4096 = 235,093,610,496.
    CHECK(p.dense_layers == 0);
    CHECK(p.moe_layers == 94);
    CHECK(p.per_moe_layer == Approx(2'487'754'752.0).epsilon(1e-12));
    CHECK(p.total == Approx(235'093'610'496.0).epsilon(1e-12));
    // The model card's "235B": three significant digits, so within half a billion (published_tolerance: 2.35B).
    CHECK(p.total == Approx(235e9).margin(0.5e9));
    // Active MoE layer, 8 of 128 experts: 71,311,360 + 8·18,874,368 + 524,288 = 222,830,592; ×94 = 20,946,075,648
    //   + head 622,329,856 + final norm 4096 = 21,568,409,600 (the input table is a lookup); 22,190,739,456 with it.
    //   The card's "22B" (two digits, ±0.5B) holds either way.
    CHECK(p.per_moe_layer_active == Approx(222'830'592.0).epsilon(1e-12));
    CHECK(p.active == Approx(21'568'409'600.0).epsilon(1e-12));
    CHECK(p.active_with_embedding == Approx(22'190'739'456.0).epsilon(1e-12));
    CHECK(p.active == Approx(22e9).margin(0.5e9));
}

TEST_CASE("The shipped Qwen3-235B-A22B model file is the architecture of its config.json", "[workload][catalog]") {
    const gh::ModelSpec file =
        gh::load_model("qwen3-235b-a22b", std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios");
    gh::ModelSpec expected = gh::test::qwen3_235b_a22b();
    expected.display_name = file.display_name;
    expected.published_total_parameters = 235e9;
    expected.published_active_parameters = 22e9;
    CHECK(file == expected);
}

TEST_CASE("The shipped Qwen3-30B-A3B counts 30.5B parameters, 29.9B outside the embeddings, 3.04B active",
          "[workload][parameters][catalog]") {
    const gh::ModelSpec m =
        gh::load_model("qwen3-30b-a3b", std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios");
    const auto p = gh::count_parameters(m);
    // Layer (h = 2048, 32 query heads and 4 KV heads of 128): Q and O 2·2048·4096 = 16,777,216, K and V
    //   2·2048·512 = 2,097,152, two RMSNorms 4,096 → 18,878,464; router 2048·128 = 262,144; 128 experts of
    //   3·2048·768 = 4,718,592 → 603,979,776. Per layer 623,120,384; ×48 = 29,909,778,432.
    //   + embedding and head 2·151936·2048 = 622,329,856 + final norm 2048 = 30,532,110,336 (the card's "30.5B").
    CHECK(p.per_moe_layer == Approx(623'120'384.0).epsilon(1e-12));
    CHECK(p.total == Approx(30'532'110'336.0).epsilon(1e-12));
    CHECK(p.total == Approx(30.5e9).margin(published_tolerance(30.5e9)));
    // The card's "29.9B" non-embedding parameters: the total less the input table and the head, 29,909,780,480.
    CHECK(p.total - p.embedding - p.output_head == Approx(29.9e9).margin(published_tolerance(29.9e9)));
    // Active layer, 8 of 128 experts: 18,878,464 + 262,144 + 8·4,718,592 = 56,889,344; ×48 = 2,730,688,512
    //   + head 311,164,928 + final norm 2048 = 3,041,855,488; with the input table 3,353,020,416, which the card
    //   writes "3.3B" (its last digit cut, not rounded).
    CHECK(p.per_moe_layer_active == Approx(56'889'344.0).epsilon(1e-12));
    CHECK(p.active == Approx(3'041'855'488.0).epsilon(1e-12));
    CHECK(p.active_with_embedding == Approx(3'353'020'416.0).epsilon(1e-12));
}

TEST_CASE("Llama 3.1 405B counts 405.9B parameters", "[workload][parameters]") {
    const auto p = gh::count_parameters(gh::test::llama_3_1_405b());
    // Layer: Q and O 2·16384² = 536,870,912; K and V 2·16384·1024 = 33,554,432; SwiGLU 3·16384·53248
    //   = 2,617,245,696; two RMSNorms 32,768 → 3,187,703,808. ×126 = 401,650,679,808.
    // + embedding and head 2·128256·16384 = 4,202,692,608 + final norm 16,384 = 405,853,388,800.
    CHECK(p.per_dense_layer == Approx(3'187'703'808.0).epsilon(1e-12));
    CHECK(p.total == Approx(405'853'388'800.0).epsilon(1e-12));
    CHECK(p.total == Approx(405e9).epsilon(0.01));
    CHECK(p.active_with_embedding == Approx(p.total).epsilon(1e-12));
}

TEST_CASE("GPT-3 175B counts 174.6B parameters with tied embeddings and learned positions",
          "[workload][parameters]") {
    const auto p = gh::count_parameters(gh::test::gpt_3_175b());
    // 12·l·h² + 13·l·h + (V + s)·h + final LayerNorm 2h, with l = 96, h = 12288, V = 50257, s = 2048:
    //   173,946,175,488 + 15,335,424 + 642,723,840 + 24,576 = 174,604,259,328.
    CHECK(p.total == Approx(174'604'259'328.0).epsilon(1e-12));
    CHECK(p.total == Approx(175e9).epsilon(0.01));
    CHECK(p.output_head == 0.0);
    // Active counts the tied table once, for the head's multiply; the position table is a lookup.
    CHECK(p.active == Approx(p.total - 2048.0 * 12288.0).epsilon(1e-12));
}

TEST_CASE("The Megatron weak-scaling family matches Narayanan et al.'s closed form and Table 1",
          "[workload][parameters]") {
    struct Row {
        double published;  // Table 1, billions
        int heads, hidden, layers;
    };
    const Row rows[] = {{1.7, 24, 2304, 24}, {7.5, 32, 4096, 36}, {39.1, 64, 8192, 48},
                        {145.6, 96, 12288, 80}, {529.6, 128, 20480, 105}};
    for (const Row& row : rows) {
        CAPTURE(row.published);
        const auto p = gh::count_parameters(gh::test::gpt_like(row.layers, row.hidden, row.heads, 51200));
        // arXiv 2104.04473 §5.1: P = 12·l·h²·(1 + 13/(12h) + (V + s)/(12·l·h)), V = 51,200, s = 2,048. The
        // formula leaves out the final LayerNorm (2h), which our count includes.
        const double l = row.layers;
        const double h = row.hidden;
        const double closed = 12.0 * l * h * h * (1.0 + 13.0 / (12.0 * h) + (51200.0 + 2048.0) / (12.0 * l * h));
        CHECK(p.total == Approx(closed + 2.0 * h).epsilon(1e-12));
        // 1.652B for the 1.7B row (two significant digits); the others within 1%.
        CHECK(p.total == Approx(row.published * 1e9).margin(published_tolerance(row.published * 1e9)));
    }
}

TEST_CASE("Counting a model with no layers throws a gpuhours error", "[workload][parameters]") {
    gh::ModelSpec empty;
    CHECK_THROWS_AS(gh::count_parameters(empty), gh::Error);
    auto bad = gh::test::deepseek_v3();
    bad.moe->top_k = 300;  // more than the 256 routed experts
    CHECK_THROWS_AS(gh::count_parameters(bad), gh::Error);
}

TEST_CASE("The published-size tolerance is 1% or half the last quoted digit", "[workload][parameters]") {
    CHECK(published_tolerance(671e9) == Approx(6.71e9));
    CHECK(published_tolerance(1.7e9) == Approx(0.05e9));
    CHECK(published_tolerance(529.6e9) == Approx(5.296e9));
    CHECK(published_tolerance(70e9) == Approx(5e9));
}
