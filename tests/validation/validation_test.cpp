// Predictions against published training runs (shared/reference/published-runs.md), one catalog for all cases:
// every scenario in scenarios/validation/ cites its paper and table in [published]. Each case prints predicted
// beside reported; the tolerances are the project's targets (issue 4):
//   Megatron-LM 2021 Table 1: TFLOP/s per GPU (their convention: full attention, recomputation counted) ±10%;
//   Llama 3 Table 4: BF16 MFU ±5 points; DeepSeek-V3 (ISCA'25 §4): step time and GPU-hours per trillion tokens ±10%.
// No catalog figure is fitted to these cases: the kernel efficiencies come from micro-benchmarks (scenarios/chips/).
// When they were first (issue 14), llama-3.1-405b-8k-8192 missed the 5-point target (37.2% against 43%) and was
// held to 15% instead; with tensor-parallel communication overlapped as on Hopper frameworks (the Llama scenarios'
// tp_comm_overlap, an assumption their headers state) all three Llama cases are back within 5 points. Since session 42
// the overlapped GEMMs run as Transformer Engine's chunks (t of M/t rows beside a ring exchange, 1,024 here; 4 of N/4
// columns beside a pipelined reduce-scatter) and Hopper may take a 128 × 128 tile: 38.9 / 39.4 / 34.2 % against 43 / 41 / 38 % (−4.1 / −1.6 / −3.8 points; 41.1 / 41.6 / 35.2 % before).
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

using namespace gpuhours;

namespace {

const std::filesystem::path kValidation = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios" / "validation";

struct Outcome {
    Scenario scenario;
    StepResult step;
};

Outcome simulate(const std::string& name) {
    Scenario s = load_scenario(kValidation / (name + ".toml"));
    return Outcome{s, simulate_step(step_spec_of(s))};
}

// Megatron-LM's throughput counts full recomputation as a fourth forward pass and full (non-causal) attention:
// F = 96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h)) per iteration (Narayanan et al. 2021 §5.1) = 4/3 × model FLOPs with
// full attention when the backward is 2× the forward.
double megatron_tflops(const Outcome& o) {
    const double factor = o.scenario.parallel.recompute == Recompute::full ? 4.0 / 3.0 : 1.0;
    return o.step.model_flops_full.value() * factor / o.step.step_time.value() / o.scenario.cluster.gpus / 1e12;
}

// Tokens per second per GPU, as Megatron-Bridge's performance summary states it: global batch × sequence / step
// time / GPUs.
double tokens_per_second_per_gpu(const Outcome& o) {
    const double tokens = static_cast<double>(o.scenario.training.global_batch) * o.scenario.training.sequence_length;
    return tokens / o.step.step_time.value() / o.scenario.cluster.gpus;
}

// Prints predicted beside reported (`unit`, the case's source) and checks them within `tolerance` relative; returns
// the relative error.
double check_relative(const std::string& name, const Outcome& o, double predicted, double reported, const char* unit,
                      double tolerance) {
    WARN(name << ": predicted " << predicted << " " << unit << ", reported " << reported << " ("
              << o.scenario.published->source << "), error " << 100.0 * (predicted / reported - 1.0) << "%");
    CHECK(predicted == Approx(reported).epsilon(tolerance));
    return predicted / reported - 1.0;
}

void check_megatron(const std::string& name) {
    const Outcome o = simulate(name);
    REQUIRE(o.scenario.published.has_value());
    (void)check_relative(name, o, megatron_tflops(o), *o.scenario.published->hardware_tflops_per_gpu, "TFLOP/s per GPU", 0.10);
}

double check_megatron_bridge(const std::string& name, double tolerance) {
    const Outcome o = simulate(name);
    REQUIRE(o.scenario.published.has_value());
    return check_relative(name, o, tokens_per_second_per_gpu(o), *o.scenario.published->tokens_per_second_per_gpu,
                          "tokens/s per GPU", tolerance);
}

void check_llama(const std::string& name) {
    const Outcome o = simulate(name);
    REQUIRE(o.scenario.published.has_value());
    const auto& pub = *o.scenario.published;
    const double reported = *pub.mfu_bf16 * 100.0;
    const double predicted = 100.0 * (pub.causal_attention_flops ? o.step.mfu_bf16_causal : o.step.mfu_bf16_full);
    WARN(name << ": predicted BF16 MFU " << predicted << "%, reported " << reported << "% (" << pub.source
              << "); step " << o.step.step_time.value() << " s");
    CHECK(std::fabs(predicted - reported) <= 5.0);
}

}  // namespace

TEST_CASE("Megatron-LM 1.7B weak-scaling throughput is within 10 percent of Table 1", "[validation]") {
    check_megatron("megatron-1.7b");
}
TEST_CASE("Megatron-LM 7.5B weak-scaling throughput is within 10 percent of Table 1", "[validation]") {
    check_megatron("megatron-7.5b");
}
TEST_CASE("Megatron-LM 39.1B weak-scaling throughput is within 10 percent of Table 1", "[validation]") {
    check_megatron("megatron-39.1b");
}
TEST_CASE("Megatron-LM 145.6B weak-scaling throughput is within 10 percent of Table 1", "[validation]") {
    check_megatron("megatron-145.6b");
}
TEST_CASE("Megatron-LM 529.6B weak-scaling throughput is within 10 percent of Table 1", "[validation]") {
    check_megatron("megatron-529.6b");
}
TEST_CASE("Llama 3.1 405B on 8192 H100 at 8K is within 5 MFU points of Table 4", "[validation]") {
    // 40.7% predicted against 43% (−2.3 points); 37.2% (−5.8) with the TP traffic exposed.
    check_llama("llama-3.1-405b-8k-8192");
}
TEST_CASE("Llama 3.1 405B on 16384 H100 at 8K is within 5 MFU points of Table 4", "[validation]") {
    check_llama("llama-3.1-405b-8k-16384");
}
TEST_CASE("Llama 3.1 405B on 16384 H100 at 128K with context parallelism is within 5 MFU points of Table 4",
          "[validation]") {
    check_llama("llama-3.1-405b-128k-16384");
}

TEST_CASE("The DeepSeek-V3 step and GPU-hours per trillion tokens are within 10 percent of the measured run",
          "[validation]") {
    const Outcome o = simulate("deepseek-v3");
    REQUIRE(o.scenario.published.has_value());
    const auto& pub = *o.scenario.published;
    // GPU-hours per trillion tokens = 1e12 / tokens per step × step time × GPUs / 3600. DeepSeek: 15,360 × 4,096
    // tokens per step, 19.926 s, 2,048 GPUs → 1e12 / 62,914,560 × 19.926 × 2,048 / 3,600 = 180.2K (the report's 180K).
    const double tokens_per_step = static_cast<double>(o.scenario.training.global_batch) * o.scenario.training.sequence_length;
    const double per_trillion = 1e12 / tokens_per_step * o.step.step_time.value() * o.scenario.cluster.gpus / 3600.0;
    WARN("DeepSeek-V3: predicted step " << o.step.step_time.value() << " s vs reported " << pub.step_time->value()
                                        << " s; GPU-hours per trillion tokens " << per_trillion << " vs "
                                        << *pub.gpu_hours_per_trillion_tokens << "; BF16 MFU (full attention) "
                                        << 100.0 * o.step.mfu_bf16_full << "% vs " << 100.0 * *pub.mfu_bf16 << "%");
    // 19.93 s predicted against 19.926 s (−0.0 %). No figure is fitted to this step: the H800's block-scaled FP8
    // GEMM efficiency is DeepGEMM's published kernel rate at sustained power (0.53; 0.45 fitted to this step gave
    // 19.9 s), its NVLink the part's own 160 GB/s, its NICs nccl-tests' 48–49 GB/s per 400 Gb/s CX-7 (0.97 of line
    // rate), MLA's attention core (head dims 192 / 128, 4,096-token calls) the measured 0.446 of peak
    // (attention 0.548 × attention_shape 0.814; with one 0.53 for every shape the step was 17.91 s, −10.1 %), the
    // output heads in BF16 as DeepSeek-V3 §3.3.1 keeps them (at the FP8 rate: 18.41 s). The heads load DualPipe's
    // end ranks (15.2 s of compute against 11.9 s): the step rests on the default pipeline split, DeepSeek's being
    // unpublished; other splits give 16.50–21.19 s (−17 % to +6 %), a wider spread than this check's. Not modelled, all on the side of a slower step: expert load imbalance (the step waits for the
    // busiest expert rank; no sourced default, docs/moe.md), the 20 communication SMs' effect on non-GEMM kernels.
    // This check holds the project's ±10 % (it was held at 12 % from session 17 until the attention shapes were
    // measured).
    CHECK(o.step.step_time.value() == Approx(pub.step_time->value()).epsilon(0.10));
    CHECK(per_trillion == Approx(*pub.gpu_hours_per_trillion_tokens).epsilon(0.10));
}

// NVIDIA's published FP8 current-scaling recipes (Megatron-Bridge's performance summary, DGX-H100 and DGX-B200), each
// scenario the recipe's layout as its header gives it; #14's target for independent dense cases is 5 % median and
// 12 % max, #15's for MoE 6 % median and 15 % max. First measured 2026-12-03 with the preset's first and last layers
// in BF16; the performance scripts turn those off (scripts/performance/utils/precision.py, get_precision_config
// ("fp8_cs")), and with every layer in FP8 (session 29): Llama 3 8B H100 +4.3 % (+1.8 before), 70B H100 +2.9 %
// (−1.4), 8B B200 +0.7 % (−1.7), Llama 3.1 405B B200 +5.9 % (+1.9), DeepSeek-V3 H100 (force-balanced routing)
// −2.2 % (−3.9); Llama 3.1 405B H100 (TP8 CP2 PP8 VP8) +20.9 % (+17.1), the one miss, held to a band so that a
// regression or a fix still shows. Its B200 counterpart (TP4) is +5.9 %, so 405B B200 was held at 7 %. Since session
// 42 the GEMMs beside an overlapped TP collective run as the chunks Transformer Engine runs (t of M/t rows beside a
// ring exchange, 4 of N/4 columns beside a pipelined reduce-scatter: gemm_chunk, training/kernel.hpp), and Hopper's
// kernel model may take a 128 × 128 tile (h200.toml, gemm_tile_n_narrow, from the measured M = 1,024 rows): 405B
// H100 +14.5 % (its row chunks are 4,096 / 8 = 512 rows),
// 405B B200 +3.2 % (1,024-row chunks), 70B H100 +2.4 %, DeepSeek-V3 H100 −3.1 %; the 8B rows have no TP and did not
// move. The band of the miss moved with it (+10 % to +20 %); 405B B200 and DeepSeek-V3 are now held at 5 %. All five
// dense rows moved 2.5–4 points fast when their last BF16 layers went to FP8. The quantisation kernels are not what is missing (kernel_calibration_test: TE's
// measured current-scaling cast overhead on the H200 within 0.4 %); the FP8 GEMMs at these shapes or the layers'
// other costs may be (#14, a Hopper TE measurement).
TEST_CASE("Megatron-Bridge's FP8 recipes are within 5 percent in tokens per second, but one", "[validation]") {
    (void)check_megatron_bridge("megatron-bridge-llama3-8b-fp8-h100", 0.05);
    (void)check_megatron_bridge("megatron-bridge-llama3-70b-fp8-h100", 0.05);
    (void)check_megatron_bridge("megatron-bridge-llama3-8b-fp8-b200", 0.05);
    (void)check_megatron_bridge("megatron-bridge-llama3.1-405b-fp8-b200", 0.05);
    (void)check_megatron_bridge("megatron-bridge-deepseek-v3-fp8-h100", 0.05);
    // The miss, stated as a band (+10 % to +20 %): a change that moves it out either way fails here and says so.
    CHECK(check_megatron_bridge("megatron-bridge-llama3.1-405b-fp8-h100", 0.20) > 0.10);
}

// The MoE rows of the same summary (force-balanced routing, no imbalance in them), each scenario the recipe's layout
// as its header gives it. First measured 2026-12-03 (session 29), all fast, and far outside #15's 6 % median and 15 %
// max: Qwen3-235B FP8 on 256 H100 (TP2 PP8 VP4 EP32) +22.5 % (+2.7 % without the recipe's all-to-all overlap,
// combined_1f1b, which runs under FP8: Megatron-Bridge's comm_overlap.py asks for a BF16 or FP16 model, and FP8
// recipes build on a BF16 model); DeepSeek-V3 MXFP8 on 256 B200 (PP16 EP8, the recipe's layer split) +61.0 %;
// gpt-oss-120b BF16 on 64 H100 (PP4 EP8) +81.3 %; gpt-oss-120b BF16 on 64 B200 (EP8) +131.9 %; Qwen3-235B MXFP8 on 64 B200 (PP8 VP2
// EP8) +103.5 %; Qwen3-30B-A3B FP8 on 16 H100 (PP2 VP24 EP8, MBS 2) +212.2 % and MXFP8 on 8 B200 (EP8, MBS 1) +264.0 %.
// Since session 35 the deepep dispatcher sends a token once per GPU inside the node, as DeepEP's kernels do (fewer
// NVLink bytes, so faster still): DeepSeek-V3 B200 +65.1 %, gpt-oss H100 +84.0 %, B200 +133.4 %, Qwen3-30B-A3B H100
// +240.0 %, B200 +299.8 %; the Qwen3-235B rows are pinned to the alltoall dispatcher and did not move.
// Since session 37 Hopper's GEMMs carry a fixed time per tile (h200.toml, gemm_tile_overhead): short-K expert GEMMs
// run slower on the H100, gpt-oss +81.2 %, Qwen3-30B-A3B +232.1 %, Qwen3-235B-A22B +21.7 %; the B200 rows did not move.
// The real runs reach 5-12 % of the FP8 peak (121-557 model TFLOP/s), the H100 and the B200 alike,
// where the model's GEMMs alone run at 0.51-0.71 of it; what the runs spend the rest on (kernel launches and host
// synchronisation with many small expert GEMMs, per-expert waves, the non-GEMM MoE kernels) is not measured here
// (docs/moe.md, "Known misses"). Each is held to a band around its first figure, so that a change that moves one
// either way fails here and says so, and a fix shows.
TEST_CASE("Megatron-Bridge's MoE recipes: the known misses, each held to its band", "[validation]") {
    // Each band is the first figure ± about a quarter of it.
    const auto band = [](const std::string& name, double low, double high) {
        const Outcome o = simulate(name);
        REQUIRE(o.scenario.published.has_value());
        const double reported = *o.scenario.published->tokens_per_second_per_gpu;
        const double error = tokens_per_second_per_gpu(o) / reported - 1.0;
        WARN(name << ": predicted " << tokens_per_second_per_gpu(o) << " tokens/s per GPU, reported " << reported
                  << ", error " << 100.0 * error << "% (the known miss, held to " << 100.0 * low << "% to "
                  << 100.0 * high << "%)");
        CHECK(error > low);
        CHECK(error < high);
    };
    band("megatron-bridge-qwen3-235b-fp8-h100", 0.15, 0.30);
    band("megatron-bridge-deepseek-v3-mxfp8-b200", 0.45, 0.75);
    band("megatron-bridge-gpt-oss-120b-bf16-h100", 0.60, 1.00);
    band("megatron-bridge-gpt-oss-120b-bf16-b200", 1.00, 1.60);
    band("megatron-bridge-qwen3-235b-mxfp8-b200", 0.80, 1.30);
    band("megatron-bridge-qwen3-30b-fp8-h100", 1.60, 2.60);
    band("megatron-bridge-qwen3-30b-mxfp8-b200", 2.00, 3.30);
}

// Two more dense steps that no catalog figure was set on (session 30), each a miss held to a band around its first
// figure so that a fix or a regression shows (step time, model against reported):
//   BLOOM 176B on 384 A100 (BigScience's tr11-176B-ml README, iteration 85,376: 104.70 s), Megatron-DeepSpeed with
//   its inherited dropout, unoverlapped gradient reduction and unfused BF16-optimizer accumulation
//   (gradient_accumulation = "cast-add", about 5.4 s of the model's step): 98.42 s, −6.0 %.
//   Nemotron-4 340B on 1,536 / 3,072 / 6,144 H100 (arXiv 2406.11704 Table 2: 10.3 / 10.3 / 8.0 s): 8.997 / 9.005 /
//   7.001 s, −12.6 / −12.6 / −12.5 %, with the report's TP8 PP12 and the scenario's unpublished choices (2
//   interleaved chunks, TP communication overlapped; 4 or 8 chunks shorten the step 5–9 %, no overlap lengthens it
//   8 %). With the Llama 3.1 405B FP8 row on 1,024 H100 above (+20.9 % in tokens/s), the largest NVIDIA-run H100
//   steps came out 12–17 % short, where 8B and 70B are within 5 %. Since session 42 (the overlapped GEMMs as
//   Transformer Engine's chunks, Hopper's narrow tile; see above): 9.554 / 9.562 / 7.433 s, −7.2 / −7.2 / −7.1 %,
//   held to −12 % to −2 %; BLOOM (A100, no TP overlap) did not move.
TEST_CASE("BLOOM's and Nemotron-4 340B's steps: misses held to their bands", "[validation]") {
    const auto band = [](const std::string& name, double low, double high) {
        const Outcome o = simulate(name);
        REQUIRE(o.scenario.published.has_value());
        REQUIRE(o.scenario.published->step_time.has_value());
        const double reported = o.scenario.published->step_time->value();
        const double error = o.step.step_time.value() / reported - 1.0;
        WARN(name << ": predicted step " << o.step.step_time.value() << " s, reported " << reported << " s, error "
                  << 100.0 * error << "% (held to " << 100.0 * low << "% to " << 100.0 * high << "%)");
        CHECK(error > low);
        CHECK(error < high);
    };
    band("bloom-176b-384", -0.13, -0.03);
    band("nemotron-4-340b-1536", -0.12, -0.02);
    band("nemotron-4-340b-3072", -0.12, -0.02);
    band("nemotron-4-340b-6144", -0.12, -0.02);
}
