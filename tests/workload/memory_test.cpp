// Memory per GPU: Korthikanti et al.'s activation formulas, FP8 storage, ZeRO, pipeline stages (per chunk), and the fit check.
#include "models.hpp"

#include <gpuhours/training/schedule.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/workload/workload.hpp>

#include <catch2/catch.hpp>

namespace gh = gpuhours;

namespace {

// Llama 3 405B as trained at 8K (arXiv 2407.21783 Table 4): TP8 × PP16 × DP64 on 8,192 H100, SP, micro-batch 1.
// Its FSDP "does not reshard after forward" (§3.3.2): parameters stay whole, gradients and optimizer state are
// sharded over DP — ZeRO-2's memory. 1F1B here (Llama used interleaved 1F1B).
gh::ParallelLayout llama_405b_layout() {
    gh::ParallelLayout p;
    p.tensor = 8;
    p.pipeline = 16;
    p.data = 64;
    p.sequence_parallel = true;
    p.zero_stage = 2;
    p.micro_batch = 1;
    return p;
}

}  // namespace

TEST_CASE("Llama 3.1 405B fits an 80 GB H100 with TP8 PP16 SP and sharded optimizer state",
          "[workload][memory]") {
    const auto model = gh::test::llama_3_1_405b();
    const gh::MixedPrecision bf16;  // bf16 weights, fp32 master, fp32 Adam moments, fp32 gradients
    const auto fit = gh::check_fit(model, llama_405b_layout(), bf16, {8192, 1, gh::AttentionMask::causal},
                                   gh::gigabytes(80));
    // Stages hold 7, 8 × 14, 7 layers; under 1F1B rank r keeps 16 − r micro-batches, so rank 1 (8 layers × 15)
    // is the worst: rank 0 has 7 × 16.
    // Parameters per GPU: per layer QKV 16384·2304 + O 2048·16384 + fc1 16384·13312 + fc2 6656·16384
    //   + norms 32,768 = 398,491,648; ×8 = 3,187,933,184.
    //   parameters 2 B → 6,375,866,368; gradients 4 B / 64 → 199,245,824; optimizer 12 B / 64 → 597,737,472.
    // Activations per token per layer (bytes): norm inputs and GEMM inputs 4·16384/8·2 = 16,384; Q and O
    //   2·2048·2 = 8,192; K, V 2·128·2 = 512; LSE 16·4 = 64; SwiGLU 3·6656·2 = 39,936 → 65,088;
    //   ×8192 tokens ×8 layers ×15 micro-batches = 63,984,107,520.
    // Total 71,156,957,184 B = 71.2 GB < 80 GB.
    const auto& m = fit.breakdown;
    CHECK(m.stage == 1);
    CHECK(m.parameter_count == Approx(3'187'933'184.0).epsilon(1e-12));
    CHECK(m.parameters.value() == Approx(6'375'866'368.0).epsilon(1e-12));
    CHECK(m.gradients.value() == Approx(199'245'824.0).epsilon(1e-12));
    CHECK(m.optimizer_state.value() == Approx(597'737'472.0).epsilon(1e-12));
    CHECK(m.activations.value() == Approx(63'984'107'520.0).epsilon(1e-12));
    CHECK(m.total().value() == Approx(71'156'957'184.0).epsilon(1e-12));
    CHECK(fit.fits);
    CHECK(fit.headroom.value() == Approx(80e9 - 71'156'957'184.0).epsilon(1e-12));
    CHECK(m.largest_term().name == "activations");
}

TEST_CASE("Llama 3.1 405B does not fit one GPU without model parallelism", "[workload][memory]") {
    auto layout = llama_405b_layout();
    layout.tensor = 1;
    layout.pipeline = 1;
    layout.sequence_parallel = false;
    const auto fit = gh::check_fit(gh::test::llama_3_1_405b(), layout, gh::MixedPrecision{},
                                   {8192, 1, gh::AttentionMask::causal}, gh::gigabytes(80));
    // The bf16 weights alone are 2 · 405,853,388,800 = 811.7 GB.
    CHECK_FALSE(fit.fits);
    CHECK(fit.headroom.value() < 0.0);
    CHECK(fit.breakdown.parameters.value() == Approx(2.0 * 405'853'388'800.0).epsilon(1e-12));
    CHECK(fit.breakdown.largest_term().name == "parameters");
    const auto terms = fit.breakdown.terms();
    REQUIRE(terms.size() == 5);
    CHECK(terms[0].name == "parameters");
    CHECK(terms[1].name == "gradients");
    CHECK(terms[2].name == "optimizer state");
    CHECK(terms[3].name == "activations");
    CHECK(terms[4].name == "buffers");
    for (int i = 0; i < 4; ++i) CHECK(terms[static_cast<std::size_t>(i)].bytes.value() > 0.0);
}

TEST_CASE("Activation memory reproduces Korthikanti et al.'s formulas on GPT-3 175B", "[workload][memory]") {
    // arXiv 2205.05198 §4: s = 2048, b = 1, h = 12288, a = 96, t = 8, 16-bit activations, dropout, the s×s
    // softmax stored. s·b·h = 25,165,824 and 5·a·s/h = 80.
    const auto model = gh::test::gpt_3_175b();
    const gh::MixedPrecision bf16;
    const gh::MicroBatchShape shape{2048, 1, gh::AttentionMask::causal};
    gh::MemoryOptions korthikanti;
    korthikanti.attention_kernel = gh::AttentionKernel::materialized;
    korthikanti.dropout = true;
    const double sbh = 2048.0 * 12288.0;
    auto per_layer = [&](int t, bool sp, gh::Recompute r) {
        gh::ParallelLayout p;
        p.tensor = t;
        p.sequence_parallel = sp;
        p.recompute = r;
        return gh::layer_activation_bytes(model, 0, p, bf16, shape, korthikanti).value();
    };
    // Eq. (1), no parallelism: sbh·(34 + 80) = 114·sbh = 2,868,903,936.
    CHECK(per_layer(1, false, gh::Recompute::none) == Approx(114.0 * sbh).epsilon(1e-12));
    // Eq. (2), TP 8: sbh·(10 + 24/8 + 80/8) = 23·sbh = 578,813,952.
    CHECK(per_layer(8, false, gh::Recompute::none) == Approx(23.0 * sbh).epsilon(1e-12));
    // Eq. (4), TP 8 + SP: sbh·(34/8 + 80/8) = 14.25·sbh = 358,612,992.
    CHECK(per_layer(8, true, gh::Recompute::none) == Approx(14.25 * sbh).epsilon(1e-12));
    // Eq. (6), selective recompute with TP 8 + SP: sbh·34/8 = 4.25·sbh = 106,954,752.
    CHECK(per_layer(8, true, gh::Recompute::selective) == Approx(4.25 * sbh).epsilon(1e-12));
    // Selective with TP only: sbh·(10 + 24/8) = 13·sbh.
    CHECK(per_layer(8, false, gh::Recompute::selective) == Approx(13.0 * sbh).epsilon(1e-12));
    // Full recompute keeps each layer's input, 2·sbh (§4.2, Table 2); with SP that input is sharded: 2·sbh/8.
    CHECK(per_layer(8, false, gh::Recompute::full) == Approx(2.0 * sbh).epsilon(1e-12));
    CHECK(per_layer(8, true, gh::Recompute::full) == Approx(2.0 * sbh / 8.0).epsilon(1e-12));
}

TEST_CASE("Full recompute holds one replayed layer's activations above the kept inputs", "[workload][memory]") {
    // GPT-3 175B as above (s = 2048, b = 1, h = 12288, a = 96; materialized attention, dropout, BF16), TP 8 with SP,
    // 8 pipeline stages of 12 layers, 1F1B over 8 micro-batches. Rank 1 (no embedding, no head) holds
    // min(p − r, m) = 7 micro-batches. Full recompute keeps each layer's input, 2·sbh/8 = 0.25·sbh (eq. above), so
    // 12 · 0.25 · 7 = 21·sbh; the backward replays one layer's forward at a time, which stores eq. (4)'s 14.25·sbh
    // with its input already kept: 14·sbh more (torch.utils.checkpoint; Megatron-Core's CheckpointFunction).
    // Total 35·sbh = 880,803,840 B. Without recompute: 12 · 14.25 · 7 = 1,197·sbh, nothing replayed.
    const auto model = gh::test::gpt_3_175b();
    const gh::MicroBatchShape shape{2048, 1, gh::AttentionMask::causal};
    gh::MemoryOptions options;
    options.attention_kernel = gh::AttentionKernel::materialized;
    options.dropout = true;
    options.micro_batches = 8;
    const double sbh = 2048.0 * 12288.0;
    gh::ParallelLayout p;
    p.tensor = 8;
    p.sequence_parallel = true;
    p.pipeline = 8;
    p.recompute = gh::Recompute::full;
    const auto full = gh::memory_per_stage(model, p, gh::MixedPrecision{}, shape, options);
    REQUIRE(full.size() == 8);
    CHECK(full[1].micro_batches_in_flight == 7.0);
    CHECK(full[1].replayed_layer.value() == Approx(14.0 * sbh).epsilon(1e-12));
    CHECK(full[1].activations.value() == Approx(35.0 * sbh).epsilon(1e-12));
    // The block method with 3 layers per chunk recomputed: the other 9 keep everything; still one layer replayed.
    //   (3 · 0.25 + 9 · 14.25) · 7 + 14 = 917.0·sbh.
    p.recompute_num_layers = 3;
    const auto block = gh::memory_per_stage(model, p, gh::MixedPrecision{}, shape, options);
    CHECK(block[1].activations.value() == Approx(917.0 * sbh).epsilon(1e-12));
    p.recompute = gh::Recompute::none;
    p.recompute_num_layers = 0;
    const auto none = gh::memory_per_stage(model, p, gh::MixedPrecision{}, shape, options);
    CHECK(none[1].replayed_layer.value() == 0.0);
    CHECK(none[1].activations.value() == Approx(1197.0 * sbh).epsilon(1e-12));
}

TEST_CASE("A fused attention kernel stores no sequence-squared tensor", "[workload][memory]") {
    // Without dropout and with FlashAttention, a GPT-3 layer at TP 8 + SP keeps, per token: norm/GEMM inputs
    // 4h/8·2 = 12,288 B, Q, K, V, O 4·h/8·2 = 12,288 B, LSE 12·4 = 48 B, GELU in/out 2·4h/8·2 = 24,576 B
    // → 49,200 B; ×2048 tokens = 100,761,600 — independent of s² (the materialized kernel adds 2·a·s/t·s·b).
    gh::ParallelLayout p;
    p.tensor = 8;
    p.sequence_parallel = true;
    const auto bytes = gh::layer_activation_bytes(gh::test::gpt_3_175b(), 0, p, gh::MixedPrecision{},
                                                  {2048, 1, gh::AttentionMask::causal});
    CHECK(bytes.value() == Approx(100'761'600.0).epsilon(1e-12));
}

TEST_CASE("ZeRO stages shard optimizer state, then gradients, then parameters over data parallelism",
          "[workload][memory]") {
    const auto model = gh::test::llama_like(32, 4096, 32, 8, 14336, 128256);  // Llama 3.1 8B
    gh::ParallelLayout p;
    p.data = 8;
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    std::vector<gh::MemoryBreakdown> by_stage;
    for (int z = 0; z <= 3; ++z) {
        p.zero_stage = z;
        by_stage.push_back(gh::memory_per_gpu(model, p, gh::MixedPrecision{}, shape));
    }
    const double n = gh::count_parameters(model).total;
    // ZeRO-0: 2 + 4 + 12 = 18 bytes per parameter.
    CHECK(by_stage[0].parameters.value() == Approx(2.0 * n));
    CHECK(by_stage[0].gradients.value() == Approx(4.0 * n));
    CHECK(by_stage[0].optimizer_state.value() == Approx(12.0 * n));
    CHECK(by_stage[1].optimizer_state.value() == Approx(12.0 * n / 8.0));
    CHECK(by_stage[1].gradients.value() == Approx(4.0 * n));
    CHECK(by_stage[2].gradients.value() == Approx(4.0 * n / 8.0));
    CHECK(by_stage[2].parameters.value() == Approx(2.0 * n));
    CHECK(by_stage[3].parameters.value() == Approx(2.0 * n / 8.0));
    // ZeRO-3 gathers two blocks at a time, in bf16; the largest block here is the head: 128256·4096 weights
    // + the final norm's 4096. And that unit's whole gradients, 4 B (FP32) each, wait for its reduce-scatter:
    // 2 × 2 + 4 = 8 B per element of the head.
    const double head = 128256.0 * 4096.0 + 4096.0;
    CHECK(by_stage[3].buffers.value() == Approx((2.0 * 2.0 + 4.0) * head).epsilon(1e-12));
    CHECK(by_stage[0].buffers.value() == 0.0);
    // With FP8 compute and FP8 parameter gathers (FSDP2's float8 all-gather) an FP8 GEMM's weights are gathered at
    // 1 B per element and everything else in BF16. The head is not an FP8 GEMM (it stays BF16), so the largest unit
    // here is gathered as before: the buffers do not shrink (they were priced at 1 B, a memory audit of session 50).
    gh::MixedPrecision fp8;
    fp8.compute = gh::Precision::fp8;
    fp8.fp8_param_gather = true;
    CHECK(gh::memory_per_gpu(model, p, fp8, shape).buffers.value() == Approx((2.0 * 2.0 + 4.0) * head).epsilon(1e-12));
    // With a 1,000-token vocabulary the largest unit is a layer: its GEMMs 4096 × (4096 + 2 × 1024 + 4096) +
    // 3 × 4096 × 14,336 = 41,943,040 + 176,160,768 = 218,103,808 weights gathered at 1 B, its two norms' 8,192 at 2 B;
    // two such units (prefetch 1), and its 218,112,000 gradients at 4 B.
    const auto small_vocab = gh::test::llama_like(32, 4096, 32, 8, 14336, 1000);
    const double layer_gemms = 218'103'808.0, layer_norms = 8'192.0;
    CHECK(gh::memory_per_gpu(small_vocab, p, fp8, shape).buffers.value() ==
          Approx(2.0 * (layer_gemms * 1.0 + layer_norms * 2.0) + 4.0 * (layer_gemms + layer_norms)).epsilon(1e-12));
}

TEST_CASE("DeepSeek-V3's bf16 moments and expert parallelism shrink its optimizer state",
          "[workload][memory]") {
    // PP16 × EP64 × DP128, ZeRO-1, DualPipe (arXiv 2412.19437 §3.2). Optimizer bytes per parameter:
    // fp32 master 4 + two bf16 moments 2·2 = 8 (vs 12 with fp32 moments).
    const auto model = gh::test::deepseek_v3();
    gh::ParallelLayout p;
    p.pipeline = 16;
    p.expert = 64;
    p.data = 128;
    p.zero_stage = 1;
    p.schedule = gh::Schedule::dualpipe;
    gh::MixedPrecision v3;
    v3.optimizer_state = gh::Precision::bf16;
    const auto stages = gh::memory_per_stage(model, p, v3, {4096, 1, gh::AttentionMask::causal});
    REQUIRE(stages.size() == 16);
    // Under DualPipe rank 1 holds chunk 1 (layers 3..6) and chunk 14 (layers 55..57): 7 MoE layers.
    // Per layer on one GPU: attention 187,121,664 + router 1,835,008 + shared expert 44,040,192 (dense,
    //   ZeRO over 128) and 4 routed experts 176,160,768 (ZeRO over 128/64 = 2).
    const double dense = 7.0 * (187'121'664.0 + 1'835'008.0 + 44'040'192.0);
    const double expert = 7.0 * 176'160'768.0;
    CHECK(stages[1].parameter_count == Approx(dense + expert).epsilon(1e-12));
    CHECK(stages[1].optimizer_state.value() == Approx(8.0 * dense / 128.0 + 8.0 * expert / 2.0).epsilon(1e-12));
    CHECK(stages[1].micro_batches_in_flight == 17.0);  // PP + 1
    // Activations: chunk 1 with 15 micro-batches in flight, chunk 14 with 2, both all-MoE layers of equal size.
    gh::ParallelLayout single = p;
    single.pipeline = 1;
    single.schedule = gh::Schedule::one_f_one_b;
    const double layer =
        gh::layer_activation_bytes(model, 10, single, v3, {4096, 1, gh::AttentionMask::causal}).value();
    CHECK(stages[1].activations.value() == Approx((15.0 * 4.0 + 2.0 * 3.0) * layer).epsilon(1e-12));
    // Rank 0 holds stage 0 (the embedding, layers 0..2) and stage 15 (the last layers, the head and the MTP module)
    // as 1F1B's ranks 0 and 15 do, but the MTP module's embedding lookup is the embedding it already holds
    // (DeepSeek-V3 §3.2.1: DualPipe puts both on one rank to share them physically): one copy of V × h =
    // 129,280 × 7,168 = 926,679,040 parameters fewer than the two 1F1B ranks (it counted both: 5.6 GB too much,
    // memory and plan audits of session 50).
    gh::ParallelLayout one = p;
    one.schedule = gh::Schedule::one_f_one_b;
    const auto apart = gh::memory_per_stage(model, one, v3, {4096, 1, gh::AttentionMask::causal});
    CHECK(stages[0].parameter_count == Approx(apart[0].parameter_count + apart[15].parameter_count - 129'280.0 * 7'168.0).epsilon(1e-12));
    CHECK(stages[15].parameter_count == Approx(stages[0].parameter_count).epsilon(1e-12));
}

TEST_CASE("Whole experts under tensor parallelism store a quarter of the gathered tokens", "[workload][memory]") {
    // DeepSeek-V3 layer 10 (MoE, top-8, hidden 7,168, experts of 2,048), one 4,096-token sequence, TP 4 with SP,
    // EP 8, BF16, no recomputation. Routed experts store per slot the dispatched input (h; not the expert output:
    // Megatron-Core applies the gate probability before fc2, so the combine stores nothing) and three fe/et
    // tensors of the gated MLP. expert_tensor 4: the GPU's 1,024 tokens gathered over 4 ranks, 4,096 · 8 slots of
    // h + 3·fe/4; expert_tensor 1: its own 1,024 · 8 slots of h + 3·fe. Everything else is equal, so the
    // difference is 7,168 · 2 B · (4,096 · 8 − 1,024 · 8) = 352,321,536 B (the fe terms cancel: 4,096 · 3fe/4 =
    // 1,024 · 3fe).
    const auto model = gh::test::deepseek_v3();
    gh::ParallelLayout p;
    p.tensor = 4;
    p.sequence_parallel = true;
    p.expert = 8;
    p.data = 8;
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    const double split = gh::layer_activation_bytes(model, 10, p, gh::MixedPrecision{}, shape).value();
    p.expert_tensor = 1;
    const double whole = gh::layer_activation_bytes(model, 10, p, gh::MixedPrecision{}, shape).value();
    CHECK(split - whole == Approx(352'321'536.0).epsilon(1e-9));
}

TEST_CASE("Uneven pipeline stages give the remainder to the ranks after the first", "[workload][memory]") {
    gh::ParallelLayout p;
    p.pipeline = 16;
    // 126 = 16·7 + 14: chunks 1..14 get 8 layers, the first and last 7 (Llama 3's layout).
    const auto llama = gh::assign_stages(gh::test::llama_3_1_405b(), p);
    REQUIRE(llama.size() == 16);
    CHECK(llama[0].layers.size() == 7);
    CHECK(llama[1].layers.size() == 8);
    CHECK(llama[14].layers.size() == 8);
    CHECK(llama[15].layers.size() == 7);
    CHECK(llama[0].embedding);
    CHECK(llama[15].head);
    CHECK(llama[15].layers.back() == 125);
    // 61 = 16·3 + 13: ranks 1..13 get 4, ranks 0, 14 and 15 get 3.
    const auto v3 = gh::assign_stages(gh::test::deepseek_v3(), p);
    CHECK(v3[0].layers.size() == 3);
    CHECK(v3[13].layers.size() == 4);
    CHECK(v3[14].layers.size() == 3);
    // Interleaved with 2 virtual stages: 32 chunks of 126 layers; rank 0 holds chunks 0 and 16.
    p.virtual_stages = 2;
    const auto interleaved = gh::assign_stages(gh::test::llama_3_1_405b(), p);
    CHECK(interleaved[0].layers.front() == 0);
    CHECK(interleaved[0].layers.size() == 3 + 4);  // chunk 0: 3 layers, chunk 16: 4 (126 = 32·3 + 30)
    p.pipeline = 127;
    CHECK_THROWS_AS(gh::assign_stages(gh::test::llama_3_1_405b(), p), gh::Error);
}

TEST_CASE("An explicit layer split puts the given layers on each chunk, in order", "[workload][memory]") {
    gh::ParallelLayout p;
    p.pipeline = 16;
    // DeepSeek-V3's 61 layers on 16 stages with the last stage lighter (it also holds the output head and the MTP
    // module): 15 stages of 4 layers would be 60, so [4 × 15, 1] sums to 61; rank 15 holds layer 60 alone.
    p.layers_per_chunk = std::vector<int>(15, 4);
    p.layers_per_chunk.push_back(1);
    const auto v3 = gh::assign_stages(gh::test::deepseek_v3(), p);
    REQUIRE(v3.size() == 16);
    CHECK(v3[0].layers == std::vector<int>{0, 1, 2, 3});
    CHECK(v3[14].layers == std::vector<int>{56, 57, 58, 59});
    CHECK(v3[15].layers == std::vector<int>{60});
    CHECK(v3[15].head);
    // Interleaved, 2 virtual stages on 2 ranks of Llama 3.1 8B (32 layers): chunks [10, 6, 6, 10]; rank 0 holds
    // chunks 0 and 2 (layers 0–9 and 16–21), rank 1 chunks 1 and 3 (10–15 and 22–31).
    gh::ParallelLayout v;
    v.pipeline = 2;
    v.virtual_stages = 2;
    v.schedule = gh::Schedule::interleaved;
    v.layers_per_chunk = {10, 6, 6, 10};
    const gh::ModelSpec m8 = gh::test::llama_like(32, 4096, 32, 8, 14336, 128256);  // Llama 3.1 8B (Table 3)
    const auto eight = gh::assign_stages(m8, v);
    CHECK(eight[0].layers.size() == 16);
    CHECK(eight[0].layers.back() == 21);
    CHECK(eight[1].layers.front() == 10);
    CHECK(eight[1].layers.back() == 31);
    // A split that does not fit the chunks or the model is an error, not a silent fallback.
    v.layers_per_chunk = {10, 6, 16};
    CHECK_THROWS_AS(gh::assign_stages(m8, v), gh::Error);
    v.layers_per_chunk = {10, 6, 6, 11};
    CHECK_THROWS_AS(gh::assign_stages(m8, v), gh::Error);
    v.layers_per_chunk = {16, 0, 6, 10};
    CHECK_THROWS_AS(gh::assign_stages(m8, v), gh::Error);
}

TEST_CASE("Each pipeline schedule keeps its stated number of micro-batches in flight", "[workload][memory]") {
    gh::ParallelLayout p;
    p.pipeline = 8;
    gh::MemoryOptions opts;
    opts.micro_batches = 32;
    p.schedule = gh::Schedule::gpipe;
    CHECK(gh::in_flight_micro_batches(p, 0, opts) == 32.0);
    p.schedule = gh::Schedule::one_f_one_b;
    CHECK(gh::in_flight_micro_batches(p, 0, opts) == 8.0);
    CHECK(gh::in_flight_micro_batches(p, 7, opts) == 1.0);
    p.schedule = gh::Schedule::interleaved;
    p.virtual_stages = 4;
    CHECK(gh::in_flight_micro_batches(p, 0, opts) == Approx(8.0 + 7.0 / 4.0));  // Korthikanti §4.2.3
    // ZB-H1: rank r keeps its 1F1B warm-up (p − r − 1), the micro-batch in its steady round and r whose W trails
    // (held until the W): p = 8 on rank 0 and on rank 7 alike (1F1B's rank 7 holds 1); at most m (here 4).
    p.schedule = gh::Schedule::zero_bubble;
    CHECK(gh::in_flight_micro_batches(p, 0, opts) == 8.0);
    CHECK(gh::in_flight_micro_batches(p, 7, opts) == 8.0);
    gh::MemoryOptions four = opts;
    four.micro_batches = 4;
    CHECK(gh::in_flight_micro_batches(p, 7, four) == 4.0);
    p.schedule = gh::Schedule::dualpipe;
    CHECK(gh::in_flight_micro_batches(p, 3, opts) == 9.0);
}

TEST_CASE("Selective recompute on an MLA model also rebuilds Q, K, V, the norm outputs and the SwiGLU products", "[workload][memory]") {
    // DeepSeek-V3 §3.3 recomputes RMSNorm and the MLA up-projections. Per token of an MoE layer at TP 1, bf16,
    // fused attention, the saving over no recompute is: Q and K 2·128·192 + V 128·128 = 65,536 elements, the
    // four norm outputs 7168 + 1536 + 512 + 7168 = 16,384, and the LSE 128 fp32 → (65,536 + 16,384)·2 + 512
    // = 164,352 bytes per token. SwiGLU products are recomputed too (§3.3.2): 8 routed slots + 1 shared expert
    // of 2,048 each = 18,432 elements = 36,864 bytes. Total 164,352 + 36,864 = 201,216 bytes per token.
    const auto model = gh::test::deepseek_v3();
    gh::ParallelLayout p;
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    const double none = gh::layer_activation_bytes(model, 10, p, gh::MixedPrecision{}, shape).value();
    p.recompute = gh::Recompute::selective;
    const double selective = gh::layer_activation_bytes(model, 10, p, gh::MixedPrecision{}, shape).value();
    CHECK(none - selective == Approx(4096.0 * 201'216.0).epsilon(1e-12));
    // Recompute FLOPs: attention core + q_up + kv_up forward.
    const auto block = gh::layer_ops(model, 10, p, gh::MixedPrecision{}, shape);
    // core 2·4096·4096·½·128·320 = 687,194,767,360; q_up 2·4096·24576·1536 = 309,237,645,312;
    // kv_up 2·4096·32768·512 = 137,438,953,472.
    CHECK(block.recompute().value() ==
          Approx(687'194'767'360.0 + 309'237'645'312.0 + 137'438'953'472.0).epsilon(1e-12));
}

TEST_CASE("A lightning (linear) attention layer stores its inputs, Q, K, V and three H·d tensors, no state (#15)",
          "[workload][memory]") {
    const gh::ModelSpec m = gh::test::minimax_text_01();
    const gh::ParallelLayout p = gh::test::tensor_sequence_parallel(8);
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    // Per token, bf16, TP 8 with SP, no dropout, no recompute (h = 6144, H·d = 8192, 32 experts top 2 of 9216):
    //   linear attention: 2·h/8·2 = 3,072 (norm and projection inputs) + 6·8192/8·2 = 12,288 → 15,360;
    //   MoE block: 2·h/8·2 = 3,072, router probabilities 32/8·4 = 16, 2 slots × (6144 + 3·9216/8)·2 = 38,400
    //   (per slot the dispatched input and the gated MLP's three tensors) → 41,488.
    //   Layer 0: 56,848 B × 4096 tokens = 232,849,408 B.
    CHECK(gh::layer_activation_bytes(m, 0, p, gh::MixedPrecision{}, shape).value() ==
          Approx(232'849'408.0).epsilon(1e-12));
    // Layer 7 (softmax, GQA 64/8, fused kernel): 3,072 + (64 + 8)·128/8·2 + 8·128/8·2 + 64·128/8·2 + LSE 64/8·4
    //   = 3,072 + 2,304 + 256 + 2,048 + 32 = 7,712, + 41,488 = 49,200 B × 4096 = 201,523,200 B.
    CHECK(gh::layer_activation_bytes(m, 7, p, gh::MixedPrecision{}, shape).value() ==
          Approx(201'523'200.0).epsilon(1e-12));
}

TEST_CASE("Recompute modules and the block method drop the activations Korthikanti's terms name", "[workload][memory]") {
    // GPT-3 175B as in the test above, TP 8 + SP, the s×s softmax stored, dropout: no recompute 14.25·sbh per
    // layer, of which the attention core is 80/8 = 10·sbh, the GELU MLP's fc1 output and activation output
    // 2 × 4h/8 × 2 B = 2·sbh, the two norms' outputs 2 × h/8 × 2 B = 0.5·sbh.
    const auto model = gh::test::gpt_3_175b();
    const gh::MicroBatchShape shape{2048, 1, gh::AttentionMask::causal};
    gh::MemoryOptions korthikanti;
    korthikanti.attention_kernel = gh::AttentionKernel::materialized;
    korthikanti.dropout = true;
    const double sbh = 2048.0 * 12288.0;
    gh::ParallelLayout p;
    p.tensor = 8;
    p.sequence_parallel = true;
    auto per_layer = [&](int layer, unsigned modules) {
        gh::ParallelLayout q = p;
        q.recompute_modules = modules;
        return gh::layer_activation_bytes(model, layer, q, gh::MixedPrecision{}, shape, korthikanti).value();
    };
    const auto bit = [](gh::RecomputeModule m) { return static_cast<unsigned>(m); };
    p.recompute = gh::Recompute::selective;
    CHECK(per_layer(0, bit(gh::RecomputeModule::core_attn)) == Approx(4.25 * sbh).epsilon(1e-12));  // eq. (6)
    CHECK(per_layer(0, bit(gh::RecomputeModule::core_attn) | bit(gh::RecomputeModule::mlp)) == Approx(2.25 * sbh).epsilon(1e-12));
    CHECK(per_layer(0, bit(gh::RecomputeModule::core_attn) | bit(gh::RecomputeModule::layernorm)) ==
          Approx(3.75 * sbh).epsilon(1e-12));
    CHECK(per_layer(0, bit(gh::RecomputeModule::mlp)) == Approx(12.25 * sbh).epsilon(1e-12));
    // The block method: 96 layers on 8 stages = 12 per chunk; the first 3 of each chunk keep only their input
    // (2·sbh/8), the others everything (14.25·sbh).
    p.recompute = gh::Recompute::full;
    p.pipeline = 8;
    p.recompute_num_layers = 3;
    CHECK(per_layer(2, 0) == Approx(0.25 * sbh).epsilon(1e-12));
    CHECK(per_layer(3, 0) == Approx(14.25 * sbh).epsilon(1e-12));
    CHECK(per_layer(12, 0) == Approx(0.25 * sbh).epsilon(1e-12));
    CHECK(per_layer(23, 0) == Approx(14.25 * sbh).epsilon(1e-12));
}

namespace {
gh::ParallelLayout interleaved_layout(int pipeline, int virtual_stages, bool combined = false) {
    gh::ParallelLayout p;
    p.pipeline = pipeline;
    p.virtual_stages = virtual_stages;
    p.schedule = gh::Schedule::interleaved;
    p.combined_1f1b = combined;
    return p;
}
}  // namespace

TEST_CASE("Interleaved ranks hold Megatron's warm-up forwards and one more, chunk by chunk as the plan runs them",
          "[workload][memory]") {
    const gh::ParallelLayout p = interleaved_layout(8, 4);
    gh::MemoryOptions opts;
    opts.micro_batches = 32;
    // Rank 3: N = 2(p − r − 1) + (v − 1)p + 1 = 2·4 + 3·8 + 1 = 33 chunk-micro-batches; 33/v = 8.25 micro-batches
    // (the rank-minus approximation gave 8 + 7/4 − 3 = 6.75). The forwards run groups of p = 8 per local chunk:
    // 32 fill chunks 0–3 with 8 each, the 33rd starts chunk 0 again: {9, 8, 8, 8}.
    CHECK(gh::in_flight_micro_batches(p, 3, opts) == 8.25);
    CHECK(gh::chunk_in_flight(p, 3, opts) == std::vector<double>{9, 8, 8, 8});
    // The last rank: N = 0 + 24 + 1 = 25: {8, 8, 8, 1}; 25/4 = 6.25.
    CHECK(gh::chunk_in_flight(p, 7, opts) == std::vector<double>{8, 8, 8, 1});
    // Few micro-batches cap N at m·v: m = 8 gives 32 on rank 0 (N would be 39): every forward before a backward.
    opts.micro_batches = 8;
    CHECK(gh::chunk_in_flight(p, 0, opts) == std::vector<double>{8, 8, 8, 8});

    // Against the plan's own order (make_pipeline_plan): walk each rank's ops, counting sets per local chunk; at the
    // first moment the count reaches its peak (peak_activations), the per-chunk composition must be chunk_in_flight.
    for (const int pp : {2, 4, 8}) {
        for (const int v : {2, 3, 4}) {
            for (const int m : {pp, 2 * pp, 4 * pp}) {
                for (const bool combined : {false, true}) {
                    if (combined && m * v <= 2 * (pp - 1) + (v - 1) * pp + 1) continue;  // no round to pair
                    INFO("p=" << pp << " v=" << v << " m=" << m << " combined=" << combined);
                    const gh::PipelinePlan plan = gh::make_pipeline_plan(gh::Schedule::interleaved, pp, m, v, combined);
                    const gh::ParallelLayout layout = interleaved_layout(pp, v, combined);
                    gh::MemoryOptions o;
                    o.micro_batches = m;
                    for (int r = 0; r < pp; ++r) {
                        const int peak = gh::peak_activations(plan, r);
                        std::vector<double> held(static_cast<std::size_t>(v), 0.0);
                        std::vector<double> at_peak;
                        int total = 0;
                        for (const gh::PipelineOp& op : plan.ops(r)) {
                            if (op.pass.kind == gh::PassKind::forward) {
                                held[static_cast<std::size_t>(op.pass.local_chunk)] += 1;
                                if (++total == peak && at_peak.empty()) at_peak = held;
                            } else {
                                held[static_cast<std::size_t>(op.pass.local_chunk)] -= 1;
                                --total;
                            }
                            if (op.overlapped && op.overlapped->kind != gh::PassKind::forward) {
                                held[static_cast<std::size_t>(op.overlapped->local_chunk)] -= 1;
                                --total;
                            }
                        }
                        CHECK(gh::chunk_in_flight(layout, r, o) == at_peak);
                        CHECK(gh::in_flight_micro_batches(layout, r, o) == Approx(peak / static_cast<double>(v)));
                    }
                }
            }
        }
    }
}

TEST_CASE("Interleaved memory weighs each chunk's layers, embedding and head by the sets it holds", "[workload][memory]") {
    // 8 layers, p = 2, v = 2: model chunks {0,1} {2,3} {4,5} {6,7}; rank 1 holds chunks 1 and 3 (the head's).
    // m = 4: rank 1's N = 0 + 2 + 1 = 3 → {2, 1}: two sets of chunk 1, one of chunk 3. Activations =
    // 2·(layers 2, 3) + 1·(layers 6, 7 + head). With every layer alike (A bytes) and the head H:
    // 4A + 2A + H = 6A + H; the old whole-stage count (p + (p − 1)/v − r = 1.5 micro-batches of 4A + H) gave 6A + 1.5H.
    const auto model = gh::test::llama_like(8, 1024, 8, 8, 4096, 32000);
    const gh::ParallelLayout p = interleaved_layout(2, 2);
    gh::MemoryOptions opts;
    opts.micro_batches = 4;
    const gh::MicroBatchShape shape{2048, 1, gh::AttentionMask::causal};
    const double A = gh::layer_activation_bytes(model, 2, p, gh::MixedPrecision{}, shape, opts).value();
    // The head: final norm input and projection input h·2 B, fp32 logits V·4 B, per token (head_activation_bytes).
    const double H = 2048.0 * (2.0 * 1024 * 2 + 32000.0 * 4.0);
    const auto stages = gh::memory_per_stage(model, p, gh::MixedPrecision{}, shape, opts);
    CHECK(stages[1].activations.value() == Approx(6.0 * A + H).epsilon(1e-12));
    CHECK(stages[1].micro_batches_in_flight == 1.5);
}

TEST_CASE("FP8 GEMMs keep their weight-gradient inputs in FP8, and the attention output twice", "[workload][memory]") {
    // Llama 3 8B (h 4,096, 32 heads of 128, GQA 8, SwiGLU 14,336), TP 1, BF16 activations. Under FP8 (Transformer
    // Engine) the inputs only wgrad reads drop from 2 B to the recipe's saved bytes g: the attention norm's output
    // and the MLP norm's output (h each), the SwiGLU product (f); the attention output gains an FP8 copy (H·d) beside
    // the core's BF16 one. Per token: Δ = (g − 2)·(2h + f) + g·H·d.
    //   delayed (g = 1):      −(8,192 + 14,336) + 4,096 = −18,432 B
    //   mxfp8 (g = 1 + 1/32): −0.96875·22,528 + 1.03125·4,096 = −21,824 + 4,224 = −17,600 B
    //   rowwise (torchao saves the BF16 input): 0; a layer kept in BF16: 0.
    const auto model = gh::test::llama_like(32, 4096, 32, 8, 14336, 128256);
    const gh::ParallelLayout p;
    const gh::MicroBatchShape shape{8192, 1, gh::AttentionMask::causal};
    const double tokens = 8192.0;
    gh::MixedPrecision bf16;
    const double base = gh::layer_activation_bytes(model, 5, p, bf16, shape).value();
    gh::MixedPrecision fp8;
    fp8.compute = gh::Precision::fp8;
    fp8.fp8_recipe = gh::Fp8Recipe::delayed;
    CHECK(gh::layer_activation_bytes(model, 5, p, fp8, shape).value() - base == Approx(-18'432.0 * tokens).epsilon(1e-12));
    fp8.fp8_recipe = gh::Fp8Recipe::mxfp8;
    CHECK(gh::layer_activation_bytes(model, 5, p, fp8, shape).value() - base == Approx(-17'600.0 * tokens).epsilon(1e-12));
    fp8.fp8_recipe = gh::Fp8Recipe::rowwise;
    CHECK(gh::layer_activation_bytes(model, 5, p, fp8, shape).value() == Approx(base).epsilon(1e-12));
    fp8.fp8_recipe = gh::Fp8Recipe::delayed;
    fp8.bf16_layers_at_start = 1;
    CHECK(gh::layer_activation_bytes(model, 0, p, fp8, shape).value() == Approx(base).epsilon(1e-12));
    CHECK(gh::layer_activation_bytes(model, 1, p, fp8, shape).value() - base == Approx(-18'432.0 * tokens).epsilon(1e-12));
    // Without a fused core keeping the output (materialized scores: P·V's backward reads P and V; or the core
    // recomputed from its checkpointed Q, K, V), the attention output is the out-projection's FP8 copy alone:
    // Δ = (g − 2)·(2h + f + H·d) = −(8,192 + 14,336 + 4,096) = −26,624 B. Selective recompute's default set on a
    // model without MLA is Megatron-Core's (core_attn alone): the core replays from its checkpointed Q, K, V and the
    // SwiGLU product stays stored, so the same −26,624 B (DeepSeek-V3's set, which also drops the product f, is
    // the default only with MLA: −(8,192 + 4,096) = −12,288 B then).
    gh::MemoryOptions materialized;
    materialized.attention_kernel = gh::AttentionKernel::materialized;
    CHECK(gh::layer_activation_bytes(model, 5, p, fp8, shape, materialized).value() -
              gh::layer_activation_bytes(model, 5, p, bf16, shape, materialized).value() ==
          Approx(-26'624.0 * tokens).epsilon(1e-12));
    gh::ParallelLayout selective;
    selective.recompute = gh::Recompute::selective;
    CHECK(gh::layer_activation_bytes(model, 5, selective, fp8, shape).value() -
              gh::layer_activation_bytes(model, 5, selective, bf16, shape).value() ==
          Approx(-26'624.0 * tokens).epsilon(1e-12));
    // The default set is Megatron-Core's `--recompute-modules core_attn` here, byte for byte.
    gh::ParallelLayout core_only = selective;
    core_only.recompute_modules = static_cast<unsigned>(gh::RecomputeModule::core_attn);
    CHECK(gh::layer_activation_bytes(model, 5, selective, bf16, shape).value() ==
          Approx(gh::layer_activation_bytes(model, 5, core_only, bf16, shape).value()).epsilon(1e-12));
    // Activations already stored in FP8 (DeepSeek-V3's `activations = "fp8"`): one copy each, nothing moves.
    fp8.bf16_layers_at_start = 0;
    fp8.activations = gh::Precision::fp8;
    gh::MixedPrecision bf16_compute_fp8_store;
    bf16_compute_fp8_store.activations = gh::Precision::fp8;
    CHECK(gh::layer_activation_bytes(model, 5, p, fp8, shape).value() ==
          Approx(gh::layer_activation_bytes(model, 5, p, bf16_compute_fp8_store, shape).value()).epsilon(1e-12));
}

TEST_CASE("FP8 MLA and MoE layers keep a copy per projection and the router's BF16 input", "[workload][memory]") {
    // DeepSeek-V3 layer 10 (MLA, MoE with one shared expert), TP 1, fused attention, no recompute, BF16 activations,
    // FP8 delayed (g = 1, e = 2). Per token, against BF16 compute:
    //   attention norm output: q-down and kv-down each save an FP8 copy: 2·h·1 against one BF16 copy h·2: 0
    //   the latents' norm outputs (q and kv up-projections' inputs): (1,536 + 512)·(1 − 2) = −2,048
    //   attention output: the core's BF16 copy stays, the out-projection adds H·v·1 = 128·128 = +16,384
    //   MoE norm output: the router saves it in BF16, the shared expert's fc1 adds an FP8 copy: +7,168
    //   routed slots: top-8 × (dispatched input h + SwiGLU product 2,048) × (1 − 2) = 8·(−9,216) = −73,728
    //   shared expert's product: 2,048·(1 − 2) = −2,048
    //   Δ = −2,048 + 16,384 + 7,168 − 73,728 − 2,048 = −54,272 B
    const auto model = gh::test::deepseek_v3();
    const gh::ParallelLayout p;
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    gh::MixedPrecision fp8;
    fp8.compute = gh::Precision::fp8;
    fp8.fp8_recipe = gh::Fp8Recipe::delayed;
    CHECK(gh::layer_activation_bytes(model, 10, p, fp8, shape).value() -
              gh::layer_activation_bytes(model, 10, p, gh::MixedPrecision{}, shape).value() ==
          Approx(-54'272.0 * 4096.0).epsilon(1e-12));
}

TEST_CASE("Interleaved memory takes the heaviest composition the 1F1B rounds reach", "[workload][memory]") {
    // With chunks of unequal bytes, the sets held after each round's forward move between chunks; walk the plan's
    // own order (make_pipeline_plan) and keep the largest Σ bytes_j · held_j after any forward: chunk_in_flight
    // with those bytes must give a composition of exactly that weight, with the peak's count of sets.
    for (const int pp : {2, 4, 8}) {
        for (const int v : {2, 3, 4}) {
            for (const int m : {pp, 2 * pp, 4 * pp}) {
                INFO("p=" << pp << " v=" << v << " m=" << m);
                const gh::PipelinePlan plan = gh::make_pipeline_plan(gh::Schedule::interleaved, pp, m, v);
                const gh::ParallelLayout layout = interleaved_layout(pp, v);
                gh::MemoryOptions o;
                o.micro_batches = m;
                std::vector<double> bytes(static_cast<std::size_t>(v));
                for (int j = 0; j < v; ++j) bytes[static_cast<std::size_t>(j)] = 1.0 + 3.0 * j * j;  // 1, 4, 13, 28
                for (int r = 0; r < pp; ++r) {
                    std::vector<double> held(static_cast<std::size_t>(v), 0.0);
                    double heaviest = 0.0;
                    for (const gh::PipelineOp& op : plan.ops(r)) {
                        const auto j = static_cast<std::size_t>(op.pass.local_chunk);
                        held[j] += op.pass.kind == gh::PassKind::forward ? 1.0 : -1.0;
                        double weight = 0.0;
                        for (std::size_t k = 0; k < held.size(); ++k) weight += held[k] * bytes[k];
                        heaviest = std::max(heaviest, weight);
                    }
                    const auto got = gh::chunk_in_flight(layout, r, o, bytes);
                    double weight = 0.0, sets = 0.0;
                    for (std::size_t k = 0; k < got.size(); ++k) {
                        weight += got[k] * bytes[k];
                        sets += got[k];
                    }
                    CHECK(weight == heaviest);
                    CHECK(sets == gh::peak_activations(plan, r));
                }
            }
        }
    }
    // By hand, p = 2, v = 2, m = 4, rank 1 (N = 3): round 0 holds {2, 1}; round 1 (F of k = 3, chunk 1; B 0 freed
    // chunk 1) {2, 1}; round 2 (F k = 4, chunk 0; B 1 freed chunk 1) {3, 0}. With chunk 0 the heavier, {3, 0}.
    const std::vector<double> heavy_first{2.0, 1.0};
    gh::MemoryOptions four;
    four.micro_batches = 4;
    CHECK(gh::chunk_in_flight(interleaved_layout(2, 2), 1, four, heavy_first) == std::vector<double>{3, 0});
}
