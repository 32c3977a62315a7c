// The per-operator lists the step simulator consumes: shapes, sharding, collectives, recomputation.
#include "models.hpp"

#include <gpuhours/units/error.hpp>
#include <gpuhours/workload/workload.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>

namespace gh = gpuhours;

namespace {

const gh::Op& find(const gh::Block& block, const std::string& name) {
    for (const auto& op : block.ops) {
        if (op.name == name) return op;
    }
    FAIL("no op named " << name);
    return block.ops.front();
}

}  // namespace

TEST_CASE("A Llama layer's GEMMs have Megatron's tensor-parallel shapes and collectives", "[workload][ops]") {
    gh::ParallelLayout p;
    p.tensor = 8;
    p.micro_batch = 1;
    const auto block = gh::layer_ops(gh::test::llama_3_1_405b(), 5, p, gh::MixedPrecision{},
                                     {8192, 1, gh::AttentionMask::causal});
    CHECK(block.kind == gh::BlockKind::dense_layer);
    // QKV: m = 8192 tokens, n = (128 + 2·8)·128/8 = 2304, k = 16384.
    const auto& qkv = find(block, "attn.qkv");
    REQUIRE(qkv.gemm);
    CHECK(qkv.gemm->m == 8192);
    CHECK(qkv.gemm->n == 2304);
    CHECK(qkv.gemm->k == 16384);
    CHECK(qkv.forward.value() == Approx(2.0 * 8192 * 2304 * 16384));
    CHECK(qkv.backward.value() == Approx(2.0 * qkv.forward.value()));
    // Without SP the row-parallel output projection is followed by an all-reduce of the full 8192 × 16384 bf16
    // activations = 268,435,456 B.
    const auto& out = find(block, "attn.out");
    CHECK(out.after.kind == gh::Collective::tp_all_reduce);
    CHECK(out.after.bytes.value() == Approx(8192.0 * 16384 * 2));
    CHECK(find(block, "mlp.fc2").after.kind == gh::Collective::tp_all_reduce);
    // With SP: all-gather of the 1/8 sequence shard before QKV, reduce-scatter after the projection.
    p.sequence_parallel = true;
    const auto sp = gh::layer_ops(gh::test::llama_3_1_405b(), 5, p, gh::MixedPrecision{},
                                  {8192, 1, gh::AttentionMask::causal});
    CHECK(find(sp, "attn.qkv").before.kind == gh::Collective::tp_all_gather);
    CHECK(find(sp, "attn.qkv").before.bytes.value() == Approx(1024.0 * 16384 * 2));
    CHECK(find(sp, "attn.out").after.kind == gh::Collective::tp_reduce_scatter);
}

TEST_CASE("Tensor parallelism with SP divides an MLA layer's FLOPs by the TP degree", "[workload][ops]") {
    // The replicated MLA down-projections and router run on the 1/t sequence shard under SP, so every model
    // FLOP is divided by t; expert parallelism leaves the per-GPU FLOPs unchanged (T·k slots per GPU) and
    // divides the routed parameters.
    const auto model = gh::test::deepseek_v3();
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    gh::ParallelLayout one;
    gh::ParallelLayout tp;
    tp.tensor = 4;
    tp.sequence_parallel = true;
    gh::ParallelLayout ep;
    ep.expert = 8;
    ep.data = 8;
    const auto a = gh::layer_ops(model, 10, one, gh::MixedPrecision{}, shape);
    const auto b = gh::layer_ops(model, 10, tp, gh::MixedPrecision{}, shape);
    const auto c = gh::layer_ops(model, 10, ep, gh::MixedPrecision{}, shape);
    CHECK(a.kind == gh::BlockKind::moe_layer);
    CHECK(b.forward().value() == Approx(a.forward().value() / 4.0).epsilon(1e-12));
    CHECK(c.forward().value() == Approx(a.forward().value()).epsilon(1e-12));
    // 256 routed experts · 3·7168·2048 = 11,274,289,152 on one GPU; 32 experts' worth with EP 8.
    const auto& fc1 = find(c, "moe.routed.fc1");
    CHECK(fc1.kind == gh::OpKind::grouped_gemm);
    CHECK(fc1.expert);
    REQUIRE(fc1.gemm);
    CHECK(fc1.gemm->count == 32);
    CHECK(fc1.gemm->m == 4096 * 8 / 32);  // 4096 tokens · top-8 over 32 local experts = 1024 rows each
    CHECK(fc1.gemm->n == 4096);           // gate and up, 2·2048
    CHECK(fc1.before.kind == gh::Collective::ep_dispatch);
    CHECK(find(c, "moe.routed.fc2").after.kind == gh::Collective::ep_combine);
    CHECK(find(c, "moe.routed.fc1").parameters + find(c, "moe.routed.fc2").parameters ==
          Approx(11'274'289'152.0 / 8.0));
}

TEST_CASE("A grouped GEMM with fewer token-slots than local experts runs one row per slot", "[workload][ops]") {
    // DeepSeek-V3 layer 10 (256 routed experts, top-8), no expert parallelism: 256 local experts. 16 tokens give
    // 16 · 8 = 128 slots, half a row per expert: the grouped GEMM runs 128 experts of one row (the other 128 get no
    // token); 4 tokens give 32 experts of one row; 64 tokens give 512 slots, 2 rows for each of the 256 experts.
    // (Before, 128 slots rounded to 0 rows per expert and the step failed: "GEMM shape m = 0 …".)
    const auto model = gh::test::deepseek_v3();
    const gh::ParallelLayout l;
    const auto shape_of = [&](int tokens) {
        const auto ops = gh::layer_ops(model, 10, l, gh::MixedPrecision{}, gh::MicroBatchShape{tokens, 1, gh::AttentionMask::causal});
        return *find(ops, "moe.routed.fc1").gemm;
    };
    CHECK(shape_of(16).m == 1);
    CHECK(shape_of(16).count == 128);
    CHECK(shape_of(4).m == 1);
    CHECK(shape_of(4).count == 32);
    CHECK(shape_of(64).m == 2);
    CHECK(shape_of(64).count == 256);
}

TEST_CASE("Expert tensor parallelism gathers the dispatched tokens and splits the experts' GEMMs over its ranks",
          "[workload][ops]") {
    // DeepSeek-V3 layer 10 (MoE: 256 routed experts of 2,048, top-8, hidden 7,168), one 4,096-token sequence,
    // TP 4 with SP (1,024 tokens per GPU outside the TP region), EP 8: 32 local experts. BF16 throughout.
    const auto model = gh::test::deepseek_v3();
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    gh::ParallelLayout l;
    l.tensor = 4;
    l.sequence_parallel = true;
    l.expert = 8;
    l.data = 8;
    // expert_tensor = tensor (4, the default): each GPU dispatches its 1,024 tokens' 8 slots (1,024·8·7,168·2 B =
    // 117,440,512 B), the expert-tensor group gathers them (117,440,512 B per GPU's shard), 32,768 slots are computed
    // on 1/4 of each local expert (fc1: m = 32,768 / 32 = 1,024 rows per expert, n = 2·2,048 / 4 = 1,024), fc2's
    // 32,768 × 7,168 partial outputs (469,762,048 B) are reduce-scattered, then combined.
    const auto four = gh::layer_ops(model, 10, l, gh::MixedPrecision{}, shape);
    const auto& sort = find(four, "moe.sort");
    CHECK(sort.before.kind == gh::Collective::ep_dispatch);
    CHECK(sort.before.bytes.value() == Approx(117'440'512.0));
    CHECK(sort.after.kind == gh::Collective::etp_all_gather);
    CHECK(sort.after.bytes.value() == Approx(117'440'512.0));
    const auto& fc1 = find(four, "moe.routed.fc1");
    REQUIRE(fc1.gemm);
    CHECK(fc1.gemm->m == 1024);
    CHECK(fc1.gemm->n == 1024);
    CHECK(fc1.gemm->count == 32);
    CHECK(fc1.before.kind == gh::Collective::none);
    CHECK(find(four, "moe.routed.fc2").after.kind == gh::Collective::etp_reduce_scatter);
    CHECK(find(four, "moe.routed.fc2").after.bytes.value() == Approx(32768.0 * 7168 * 2));
    CHECK(find(four, "moe.unsort").after.kind == gh::Collective::ep_combine);
    // expert_tensor = 1 (folded): 8,192 slots on whole experts (m = 256, n = 4,096), no gather, no sort.
    l.expert_tensor = 1;
    const auto one = gh::layer_ops(model, 10, l, gh::MixedPrecision{}, shape);
    const auto& whole = find(one, "moe.routed.fc1");
    REQUIRE(whole.gemm);
    CHECK(whole.gemm->m == 256);
    CHECK(whole.gemm->n == 4096);
    CHECK(whole.before.kind == gh::Collective::ep_dispatch);
    CHECK(whole.before.bytes.value() == Approx(117'440'512.0));
    for (const auto& op : one.ops) CHECK(op.name != "moe.sort");
    // The same FLOPs per GPU either way (2 · 8,192 · 7,168 · 4,096 = 481,036,337,152 for fc1), 4 × the routed
    // parameters per GPU with whole experts: 32 · 7,168 · 4,096 = 939,524,096 for fc1.
    CHECK(fc1.forward.value() == Approx(481'036'337'152.0));
    CHECK(whole.forward.value() == Approx(481'036'337'152.0));
    CHECK(whole.parameters == Approx(939'524'096.0));
    CHECK(fc1.parameters == Approx(939'524'096.0 / 4.0));
}

TEST_CASE("The slowest expert-parallel rank's load factor matches a Monte Carlo of log-normal expert loads",
          "[workload][ops]") {
    // Balanced routing or a single expert-parallel rank: exactly 1 (the figures of a balanced model do not move).
    CHECK(gh::expert_load_factor(256, 64, 0.0) == 1.0);
    CHECK(gh::expert_load_factor(256, 1, 0.5) == 1.0);
    // Against the definition: E experts' loads log-normal with mean 1 and coefficient of variation c (σ² = ln(1 + c²),
    // μ = −σ²/2), summed over each rank's E/EP experts; the largest rank sum over its mean E/EP, averaged over 4,000
    // draws (sampling error about 0.3 %). The Fenton–Wilkinson approximation is within 2.5 % for c ≤ 1 at 4–16
    // experts per rank (checked separately, a Python Monte Carlo of 1,500 draws: 256/64 at c 0.5: 1.737 vs 1.738; c 1.0: 2.839 vs
    // 2.768), so 3 % here.
    auto monte_carlo = [](int experts, int ep, double c) {
        std::mt19937_64 rng(12345);
        const double s2 = std::log1p(c * c);
        std::lognormal_distribution<double> load(-0.5 * s2, std::sqrt(s2));
        const int per_rank = experts / ep;
        double sum = 0.0;
        constexpr int kDraws = 4000;
        for (int d = 0; d < kDraws; ++d) {
            double largest = 0.0;
            for (int r = 0; r < ep; ++r) {
                double rank = 0.0;
                for (int e = 0; e < per_rank; ++e) rank += load(rng);
                largest = std::max(largest, rank);
            }
            sum += largest / per_rank;
        }
        return sum / kDraws;
    };
    for (const auto& [experts, ep, c] : {std::tuple{256, 64, 0.3}, std::tuple{256, 64, 0.5}, std::tuple{128, 32, 1.0},
                                          std::tuple{64, 8, 0.5}, std::tuple{16, 8, 1.0}}) {
        INFO(experts << " experts over " << ep << " ranks, c = " << c);
        CHECK(gh::expert_load_factor(experts, ep, c) == Approx(monte_carlo(experts, ep, c)).epsilon(0.03));
    }
    // More spread or fewer experts per rank: a slower slowest rank.
    CHECK(gh::expert_load_factor(256, 64, 0.5) > gh::expert_load_factor(256, 64, 0.3));
    CHECK(gh::expert_load_factor(256, 64, 0.5) > gh::expert_load_factor(256, 8, 0.5));
    // In the ops: DeepSeek-V3 at EP 64 with c = 0.5 (factor f ≈ 1.74): the routed GEMMs' FLOPs and the all-to-all
    // bytes are f times the balanced ones; the attention's are unchanged.
    auto model = gh::test::deepseek_v3();
    gh::ParallelLayout ep;
    ep.expert = 64;
    ep.data = 64;
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    const auto balanced = gh::layer_ops(model, 10, ep, gh::MixedPrecision{}, shape);
    model.moe->load_cv = 0.5;
    const auto skewed = gh::layer_ops(model, 10, ep, gh::MixedPrecision{}, shape);
    const double f = gh::expert_load_factor(256, 64, 0.5);
    CHECK(f == Approx(1.74).epsilon(0.02));
    CHECK(find(skewed, "moe.routed.fc1").forward.value() == Approx(f * find(balanced, "moe.routed.fc1").forward.value()).epsilon(1e-12));
    CHECK(find(skewed, "moe.routed.fc1").before.bytes.value() ==
          Approx(f * find(balanced, "moe.routed.fc1").before.bytes.value()).epsilon(1e-12));
    CHECK(find(skewed, "moe.routed.fc2").after.bytes.value() ==
          Approx(f * find(balanced, "moe.routed.fc2").after.bytes.value()).epsilon(1e-12));
    CHECK(find(skewed, "attn.core").forward.value() == find(balanced, "attn.core").forward.value());
}

TEST_CASE("Expert all-to-alls move the dispatch and combine formats each way, FP8 with its 1×128 scales",
          "[workload][ops]") {
    // DeepSeek-V3 §3.3.2 / DeepEP: 4,096 tokens × top-8 copies × hidden 7,168 per GPU and MoE layer.
    // FP8 dispatch: 1 B per element + one fp32 scale per 128 elements = 1.03125 B (7,392 B per token):
    //   4096 · 8 · 7168 · 1.03125 = 242,221,056 B. BF16 combine: 4096 · 8 · 7168 · 2 = 469,762,048 B.
    // Backward, the transposed all-to-alls swap them: combine's gradient (to the experts) travels in the dispatch
    // format, dispatch's gradient (back to the tokens) in the combine format.
    const auto model = gh::test::deepseek_v3();
    gh::ParallelLayout ep;
    ep.expert = 64;
    ep.data = 64;
    gh::MixedPrecision mp;
    mp.activations = gh::Precision::fp8;
    mp.dispatch = gh::Precision::fp8;
    mp.combine = gh::Precision::bf16;
    const auto block = gh::layer_ops(model, 10, ep, mp, {4096, 1, gh::AttentionMask::causal});
    const auto& dispatch = find(block, "moe.routed.fc1").before;
    const auto& combine = find(block, "moe.routed.fc2").after;
    CHECK(dispatch.bytes.value() == Approx(242'221'056.0));
    CHECK(combine.bytes.value() == Approx(469'762'048.0));
    REQUIRE(dispatch.backward_bytes);
    REQUIRE(combine.backward_bytes);
    CHECK(dispatch.backward_bytes->value() == Approx(469'762'048.0));
    CHECK(combine.backward_bytes->value() == Approx(242'221'056.0));
    // Unset, both follow the activations' format: fp8 → 1.03125 B each way.
    gh::MixedPrecision unset;
    unset.activations = gh::Precision::fp8;
    const auto same = gh::layer_ops(model, 10, ep, unset, {4096, 1, gh::AttentionMask::causal});
    CHECK(find(same, "moe.routed.fc2").after.bytes.value() == Approx(242'221'056.0));
    // FP4 dispatch carries NVFP4's FP8 scale per 16 elements: 0.5 + 1/16 = 0.5625 B, 4096 · 8 · 7168 · 0.5625 =
    // 132,120,576 B (it was 0.5 B, no scales: an MoE audit of session 50).
    gh::MixedPrecision fp4 = mp;
    fp4.dispatch = gh::Precision::fp4;
    const auto four = gh::layer_ops(model, 10, ep, fp4, {4096, 1, gh::AttentionMask::causal});
    CHECK(find(four, "moe.routed.fc1").before.bytes.value() == Approx(132'120'576.0));
}

TEST_CASE("Recompute modes add the attention core or the whole layer to the FLOPs", "[workload][ops]") {
    const auto model = gh::test::gpt_3_175b();
    const gh::MicroBatchShape shape{2048, 1, gh::AttentionMask::causal};
    gh::ParallelLayout p;
    p.recompute = gh::Recompute::none;
    CHECK(gh::layer_ops(model, 0, p, gh::MixedPrecision{}, shape).recompute().value() == 0.0);
    p.recompute = gh::Recompute::selective;
    const auto selective = gh::layer_ops(model, 0, p, gh::MixedPrecision{}, shape);
    // Causal core of one sequence: 2·2048·2048·½·96·(128 + 128) = 103,079,215,104.
    CHECK(selective.recompute().value() == Approx(103'079'215'104.0).epsilon(1e-12));
    CHECK(find(selective, "attn.core").recompute.value() == Approx(103'079'215'104.0).epsilon(1e-12));
    p.recompute = gh::Recompute::full;
    const auto full = gh::layer_ops(model, 0, p, gh::MixedPrecision{}, shape);
    CHECK(full.recompute().value() == Approx(full.forward().value()).epsilon(1e-12));
}

TEST_CASE("The model's op list runs embedding, layers, MTP, head in order", "[workload][ops]") {
    const auto blocks = gh::model_ops(gh::test::deepseek_v3(), gh::ParallelLayout{}, gh::MixedPrecision{},
                                      {4096, 1, gh::AttentionMask::causal});
    REQUIRE(blocks.size() == 1 + 61 + 1 + 1);
    CHECK(blocks.front().kind == gh::BlockKind::embedding);
    CHECK(blocks[1].kind == gh::BlockKind::dense_layer);
    CHECK(blocks[3].kind == gh::BlockKind::dense_layer);
    CHECK(blocks[4].kind == gh::BlockKind::moe_layer);
    CHECK(blocks[62].kind == gh::BlockKind::mtp);
    CHECK(blocks.back().kind == gh::BlockKind::head);
    CHECK(find(blocks.back(), "head.loss").kind == gh::OpKind::loss);
}

TEST_CASE("Nonsense inputs throw gpuhours errors instead of crashing", "[workload][ops]") {
    const auto model = gh::test::llama_3_1_405b();
    gh::ParallelLayout p;
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    CHECK_THROWS_AS(gh::layer_ops(model, 126, p, gh::MixedPrecision{}, shape), gh::Error);
    CHECK_THROWS_AS(gh::layer_ops(model, 0, p, gh::MixedPrecision{}, {0, 1, gh::AttentionMask::causal}), gh::Error);
    p.tensor = 0;
    CHECK_THROWS_AS(gh::layer_ops(model, 0, p, gh::MixedPrecision{}, shape), gh::Error);
    CHECK_THROWS_AS(gh::training_flops_per_token(model, -1, gh::AttentionMask::full), gh::Error);
}

TEST_CASE("The vocabulary is padded to a multiple of 128 × TP, adding only the padded rows' work", "[workload][ops]") {
    // GPT-2-style, vocabulary 50,257 (GPT-3's), hidden 1024, TP 2, one 2,048-token sequence per micro-batch.
    const gh::ModelSpec model = gh::test::gpt_like(2, 1024, 16, 50257);
    gh::ParallelLayout padded;
    padded.tensor = 2;
    CHECK(padded.vocab_divisible_by == 128);  // Megatron-LM's --make-vocab-size-divisible-by default
    // 128 × 2 = 256; 50,257 / 256 = 196.3, so 197 × 256 = 50,432 rows (Megatron pads GPT-2's vocabulary the same).
    CHECK(padded.padded_vocab(50257) == 50432);
    gh::ParallelLayout bare = padded;
    bare.vocab_divisible_by = 1;
    // A multiple of 1 × TP only: 50,258 rows, so each rank holds 25,129 (not 25,128.5).
    CHECK(bare.padded_vocab(50257) == 50258);
    CHECK(padded.padded_vocab(51200) == 51200);  // already a multiple: unchanged

    const gh::MicroBatchShape shape{2048, 1, gh::AttentionMask::causal};
    auto totals = [&](const gh::ParallelLayout& layout) {
        double forward = 0.0, parameters = 0.0;
        for (const auto& block : gh::model_ops(model, layout, gh::MixedPrecision{}, shape)) {
            for (const auto& op : block.ops) {
                forward += op.forward.value();
                parameters += op.parameters;
            }
        }
        return std::pair{forward, parameters};
    };
    const auto [forward_padded, parameters_padded] = totals(padded);
    const auto [forward_bare, parameters_bare] = totals(bare);
    // The only model-FLOP op with a vocabulary dimension is the head GEMM, column-split over TP: 2 · T · h · V / t
    // forward. The 174 extra rows (50,432 − 50,258) add 2 · 2048 · 1024 · 174 / 2 = 364,904,448 FLOPs per GPU.
    CHECK(forward_padded - forward_bare == Approx(2.0 * 2048 * 1024 * 174 / 2).epsilon(1e-12));
    // The tied embedding holds the table once per rank: 174 / 2 = 87 more rows of 1024 = 89,088 parameters.
    CHECK(parameters_padded - parameters_bare == Approx(87.0 * 1024).epsilon(1e-12));
    // Model FLOPs and parameter counts are the model's own: padding is work, not model FLOPs. The tied table is
    // 50,257 × 1024 and the learned positions 2048 × 1024, unpadded.
    CHECK(gh::count_parameters(model).embedding == 50257.0 * 1024 + 2048.0 * 1024);
    gh::ModelSpec round = model;
    round.vocab = 50258;  // what the FLOP count would see if it padded to even one more row
    CHECK(gh::training_flops_per_token(model, 2048, gh::AttentionMask::causal).value() <
          gh::training_flops_per_token(round, 2048, gh::AttentionMask::causal).value());
}

TEST_CASE("A lightning (linear) attention layer: Megatron's TP shapes, its block-wise core, its CP state exchange (#15)",
          "[workload][ops]") {
    const gh::ModelSpec m = gh::test::minimax_text_01();
    const gh::ParallelLayout p = gh::test::tensor_sequence_parallel(8);
    const gh::MicroBatchShape shape{4096, 1, gh::AttentionMask::causal};
    const auto block = gh::layer_ops(m, 0, p, gh::MixedPrecision{}, shape);
    // h = 6144, H·d = 8192. QKV: m = 4096 tokens, n = 3·8192/8 = 3072, k = 6144; SP all-gathers the 512-token
    // shard first (512·6144·2 B).
    const auto& qkv = find(block, "attn.qkv");
    REQUIRE(qkv.gemm);
    CHECK(qkv.gemm->m == 4096);
    CHECK(qkv.gemm->n == 3072);
    CHECK(qkv.gemm->k == 6144);
    CHECK(qkv.before.kind == gh::Collective::tp_all_gather);
    CHECK(qkv.before.bytes.value() == Approx(512.0 * 6144 * 2));
    // The gate h → H·d/8 = 1024 per GPU; the row-parallel output 1024 → 6144, reduce-scattered (4096·6144·2 B).
    CHECK(find(block, "attn.gate").gemm->n == 1024);
    const auto& out = find(block, "attn.out");
    CHECK(out.gemm->k == 1024);
    CHECK(out.after.kind == gh::Collective::tp_reduce_scatter);
    CHECK(out.after.bytes.value() == Approx(4096.0 * 6144 * 2));
    // Core: 4096 tokens × 64/8 heads × (4·128² + 4·256·128 = 196,608) = 6,442,450,944 FLOPs forward, 2× backward;
    // no softmax-attention core in the layer.
    const auto& core = find(block, "attn.linear_core");
    CHECK(core.kind == gh::OpKind::attention);
    CHECK(core.forward.value() == Approx(4096.0 * 8 * 196'608).epsilon(1e-12));
    CHECK(core.backward.value() == Approx(2.0 * core.forward.value()));
    for (const auto& op : block.ops) CHECK(op.name != "attn.core");
    // Layer 7 keeps softmax attention (GQA 64/8): a fused qkv of (64 + 16)·128/8 = 1280 columns.
    const auto softmax = gh::layer_ops(m, 7, p, gh::MixedPrecision{}, shape);
    CHECK(find(softmax, "attn.qkv").gemm->n == 1280);
    // Context parallel 2, no TP: each GPU has 2048 tokens of the sequence (8 blocks), the same 196,608 per head
    // and token, and all-gathers its 64 heads' 128 × 128 states: 64·16,384·2 B = 2,097,152 B.
    gh::ParallelLayout cp;
    cp.context = 2;
    const auto cp_block = gh::layer_ops(m, 0, cp, gh::MixedPrecision{}, shape);
    const auto& cp_core = find(cp_block, "attn.linear_core");
    CHECK(cp_core.forward.value() == Approx(2048.0 * 64 * 196'608).epsilon(1e-12));
    CHECK(cp_core.before.kind == gh::Collective::cp_state_gather);
    CHECK(cp_core.before.bytes.value() == Approx(2'097'152.0));
}

TEST_CASE("Each FP8 recipe's quantisation ops move the bytes its kernels read and write", "[workload][ops][fp8]") {
    // Llama 3.1 405B layer with TP 8, 8,192 tokens: attn.qkv is A[8192 × 16384] · B[16384 × 2304] (the test above),
    // so its quantisation op casts 8192 · 16384 = 134,217,728 input elements forward and the output gradient dY,
    // 8192 · 2304 = 18,874,368 elements, backward.
    gh::ParallelLayout p;
    p.tensor = 8;
    const double inputs = 8192.0 * 16384;
    const double gradients = 8192.0 * 2304;
    struct Case {
        gh::Fp8Recipe recipe;
        double read, written;  // bytes per element, derived from the kernels (units/precision.hpp)
    };
    const Case cases[] = {
        {gh::Fp8Recipe::delayed, 2.0, 2.0},                  // one BF16 read; FP8 + transposed FP8 copy
        {gh::Fp8Recipe::tensorwise, 4.0, 2.0},               // a second read for the tensor's amax
        {gh::Fp8Recipe::rowwise, 4.0, 2.0},                  // a scaled pass per axis
        {gh::Fp8Recipe::blockwise, 2.0, 2.0 * 1.03125},      // 1×128 and 128×1 copies, an FP32 scale per 128
        {gh::Fp8Recipe::mxfp8, 2.0, 2.0 * 1.03125},          // 1×32 copies both ways, an E8M0 byte per 32
    };
    for (const Case& c : cases) {
        INFO(gh::to_string(c.recipe));
        gh::MixedPrecision mp;
        mp.compute = gh::Precision::fp8;
        mp.fp8_recipe = c.recipe;
        const auto block = gh::layer_ops(gh::test::llama_3_1_405b(), 5, p, mp, {8192, 1, gh::AttentionMask::causal});
        const auto& q = find(block, "attn.qkv.quant");
        CHECK(q.kind == gh::OpKind::elementwise);
        CHECK(q.read.value() == Approx(inputs * c.read));
        CHECK(q.written.value() == Approx(inputs * c.written));
        REQUIRE(q.backward_bytes);
        CHECK(q.backward_bytes->value() == Approx(gradients * (c.read + c.written)));
        CHECK(find(block, "attn.qkv").fp8);
    }
    // Weights, once per step: blockwise 128×128 blocks are cast once (2 B read, 1 B + 4 B per 16,384 written) and
    // transposed (1 B each way): 3 B read, 2.000244 B written; the others as their activations.
    const auto w = gh::fp8_quantisation_bytes(gh::Fp8Recipe::blockwise, true);
    CHECK(w.read == Approx(3.0));
    CHECK(w.written == Approx(2.0 + 4.0 / 16384.0));
    CHECK(gh::fp8_quantisation_bytes(gh::Fp8Recipe::delayed, true).written == Approx(2.0));
    // BF16 GEMMs have no quantisation ops and are not FP8.
    const auto bf16 = gh::layer_ops(gh::test::llama_3_1_405b(), 5, p, gh::MixedPrecision{}, {8192, 1, gh::AttentionMask::causal});
    for (const auto& op : bf16.ops) {
        CHECK(op.name.find(".quant") == std::string::npos);
        CHECK_FALSE(op.fp8);
    }
    CHECK(gh::fp8_quantisation_bytes(gh::Fp8Recipe::none, false).read == 0.0);
}

TEST_CASE("Recompute modules replay their GEMMs, and the block method only a chunk's first layers", "[workload][ops]") {
    const auto model = gh::test::gpt_3_175b();
    const gh::MicroBatchShape shape{2048, 1, gh::AttentionMask::causal};
    gh::ParallelLayout p;
    p.recompute = gh::Recompute::selective;
    p.recompute_modules = static_cast<unsigned>(gh::RecomputeModule::mlp);
    const auto mlp = gh::layer_ops(model, 0, p, gh::MixedPrecision{}, shape);
    // fc1 and fc2 of one 2,048-token sequence: 2 × 2·2048·12288·49152 = 4,947,802,324,992 FLOPs; no attention core.
    CHECK(mlp.recompute().value() == Approx(2.0 * 2.0 * 2048 * 12288 * 49152.0).epsilon(1e-12));
    CHECK(find(mlp, "attn.core").recompute.value() == 0.0);
    CHECK_FALSE(mlp.full_recompute);
    // Full by the block method, 96 layers on 8 stages (12 per chunk), 3 layers per chunk: layers 0–2 and 12–14
    // replay their forward, 3 and 15 nothing.
    p.recompute = gh::Recompute::full;
    p.recompute_modules = 0;
    p.pipeline = 8;
    p.recompute_num_layers = 3;
    const auto blocks = gh::model_ops(model, p, gh::MixedPrecision{}, shape);
    const auto& b = [&](int layer) -> const gh::Block& { return blocks[static_cast<std::size_t>(layer + 1)]; };
    for (int layer : {0, 2, 12, 14}) {
        INFO("layer " << layer);
        CHECK(b(layer).full_recompute);
        CHECK(b(layer).recompute().value() == Approx(b(layer).forward().value()).epsilon(1e-12));
    }
    for (int layer : {3, 11, 15, 95}) {
        INFO("layer " << layer);
        CHECK_FALSE(b(layer).full_recompute);
        CHECK(b(layer).recompute().value() == 0.0);
    }
    // The uniform method (no layer count) replays every layer.
    p.recompute_num_layers = 0;
    CHECK(gh::model_ops(model, p, gh::MixedPrecision{}, shape)[50].full_recompute);
}
