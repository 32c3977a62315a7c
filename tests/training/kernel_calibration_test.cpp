// The kernel model (sim/training/kernel.cpp) with the catalog's Hopper figures against measured kernels: rows of
// bench/gpu/results/h200-2026-11-30/ (cuBLAS and cuDNN through PyTorch 2.11 on an H200 SXM at sustained power)
// and DeepGEMM's published H800 table. Each case quotes the measured row, derives the model's time in its comment
// and states the tolerance; the shapes the model misses are here too, with the size and direction of the miss,
// so that a change to the shape model shows up as a moved figure rather than a silent one.
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace gpuhours;

namespace {

const std::filesystem::path kCatalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";

// One GEMM launch C[m×n] = A[m×k]·B[k×n] (`count` of them grouped), as the benchmark ran it: A and B in
// `input_bytes` per element, C in BF16.
Op measured_gemm(long long m, long long n, long long k, double input_bytes, long long count = 1) {
    const double md = static_cast<double>(m), nd = static_cast<double>(n), kd = static_cast<double>(k);
    const double c = static_cast<double>(count);
    Op op;
    op.name = "bench.gemm";
    op.kind = count == 1 ? OpKind::gemm : OpKind::grouped_gemm;
    op.gemm = GemmShape{m, n, k, count};
    op.forward = Flops(2.0 * md * nd * kd * c);
    op.backward = op.forward * 2.0;
    op.read = Bytes((md * kd + kd * nd) * input_bytes * c);
    op.written = Bytes(md * nd * 2.0 * c);
    op.fp8 = true;  // quantized when the step runs FP8 (a layer's GEMM; the output head is not)
    return op;
}

// Model time of one measured GEMM launch: the forward pass of the op of the executed shape.
// FP8 GEMMs run the kernels of `recipe` (delayed: cuBLAS's per-tensor scaling, gemm_fp8).
double gemm_seconds(const ChipProfile& chip, Precision precision, long long m, long long n, long long k,
                    long long count = 1, Fp8Recipe recipe = Fp8Recipe::delayed) {
    const double bytes = precision == Precision::fp8 ? 1.0 : 2.0;
    return time_op(measured_gemm(m, n, k, bytes, count), KernelContext{chip, precision, Precision::bf16, 0, recipe})
        .forward.time.value();
}

// Causal attention, b × h × s² with head dims d_qk / d_v, in FlashAttention's count: forward
// 2·b·h·s²·(d_qk + d_v) / 2 (causal halves it), backward 2 × forward in the model (the kernel executes 1.25 × that).
double attention_seconds(const ChipProfile& chip, double b, double h, double s, double dqk, double dv) {
    Op op;
    op.name = "bench.attention";
    op.kind = OpKind::attention;
    op.forward = Flops(2.0 * b * h * s * s * (dqk + dv) / 2.0);
    op.backward = op.forward * 2.0;
    op.read = Bytes(b * h * s * (2.0 * dqk + dv) * 2.0);
    op.written = Bytes(b * h * s * dv * 2.0);
    op.attention_shape = AttentionKernelShape{s, static_cast<int>(dqk)};
    const OpTime t = time_op(op, KernelContext{chip});
    return t.forward.time.value() + t.backward_input.time.value();
}

}  // namespace

// h200.toml: gemm 0.725 with gemm_tile_overhead 1.4 µs, gemm_fp8 0.67 with 2.2 µs, gemm_fp8_rowwise 0.65 with 2.7 µs;
// 989.4 / 1,978.9 TFLOP/s, 132 SMs, 128 × 256 tiles. A shape whose tiles fill w waves of 132 SMs with t tiles runs
// at figure × t / (132 · w) × L / (L + overhead), L the main loop of one tile: 2 · 128 · 256 · K FLOPs at
// peak × figure / 132 per SM (BF16: K × 12.060 ns; FP8 tensor-wise K × 6.524 ns; row-wise K × 6.725 ns).
TEST_CASE("large bf16 gemms measured on the h200 are timed within 6 percent", "[kernel][calibration]") {
    const ChipProfile chip = load_chip("h200", kCatalog);
    const auto bf16 = Precision::bf16;
    // gemm.csv fwd 8192 × 16384 × 8192: 3.2376 ms (679.2 TFLOP/s). 64 × 64 = 4096 tiles = 31.03 → 32 waves,
    // 4096 / 4224 = 0.9697; L = 98.80 µs, 98.80 / 100.20 = 0.98603:
    // 2.1990e12 / (989.4e12 × 0.725 × 0.9697 × 0.98603) = 3.2062 ms, −1.0 %.
    CHECK(gemm_seconds(chip, bf16, 8192, 16384, 8192) == Approx(3.2376e-3).epsilon(0.06));
    // fwd 16384 × 24576 × 16384: 18.748 ms (703.8). 128 × 96 = 12288 tiles → 94 waves, 12288 / 12408 = 0.9903;
    // L = 197.59 µs, 0.99296: 1.3194e13 / (989.4e12 × 0.725 × 0.9903 × 0.99296) = 18.705 ms, −0.2 %.
    CHECK(gemm_seconds(chip, bf16, 16384, 24576, 16384) == Approx(18.748e-3).epsilon(0.06));
    // fwd 2048 × 6144 × 12288: 0.45554 ms (678.8). 16 × 24 = 384 tiles → 3 waves, 0.9697; L = 148.19 µs, 0.99064:
    // 3.0924e11 / (989.4e12 × 0.725 × 0.9697 × 0.99064) = 0.44878 ms, −1.5 %.
    CHECK(gemm_seconds(chip, bf16, 2048, 6144, 12288) == Approx(0.45554e-3).epsilon(0.06));
    // dgrad of 8192 × 16384 × 4096 (dY·W: output 8192 × 4096, inner 16384): 1.5804 ms (695.7). 64 × 16 = 1024
    // tiles → 8 waves, 0.9697; L = 197.59 µs, 0.99296: 1.0995e12 / (989.4e12 × 0.725 × 0.9697 × 0.99296) = 1.5919 ms,
    // +0.7 %.
    CHECK(gemm_seconds(chip, bf16, 8192, 4096, 16384) == Approx(1.5804e-3).epsilon(0.06));
    // wgrad (dYᵀ·X: output 16384 × 4096, inner 8192): 1.6127 ms (681.8). 128 × 16 = 2048 tiles → 16 waves, 0.9697,
    // 0.98603: 1.6031 ms, −0.6 %.
    CHECK(gemm_seconds(chip, bf16, 16384, 4096, 8192) == Approx(1.6127e-3).epsilon(0.06));
    // Short K: fwd 4096 × 7168 × 2048: 186.69 µs (644.2). 32 × 28 = 896 tiles → 7 waves, 896 / 924 = 0.9697;
    // L = 24.70 µs, 24.70 / 26.10 = 0.94636: 1.2026e11 / (989.4e12 × 0.725 × 0.9697 × 0.94636) = 182.69 µs, −2.1 %.
    CHECK(gemm_seconds(chip, bf16, 4096, 7168, 2048) == Approx(186.69e-6).epsilon(0.06));
    // Shorter: fwd 4096 × 7168 × 1024: 94.655 µs (635.2); L = 12.349 µs, 0.89818: 6.0130e10 / (989.4e12 × 0.725 ×
    // 0.9697 × 0.89818) = 96.25 µs, +1.7 % (without the tile overhead, at the former 0.71: 87.1 µs, −8.0 %).
    CHECK(gemm_seconds(chip, bf16, 4096, 7168, 1024) == Approx(94.655e-6).epsilon(0.06));
}

TEST_CASE("fp8 gemms measured on the h200 are timed within 6 percent at every inner dimension", "[kernel][calibration]") {
    const ChipProfile chip = load_chip("h200", kCatalog);
    // gemm_fp8.csv tensorwise 8192 × 16384 × 8192: 1.7907 ms (1,228.0 TFLOP/s). 4096 tiles, 0.9697; L = 53.45 µs,
    // 53.45 / 55.65 = 0.96047: 2.1990e12 / (1978.9e12 × 0.67 × 0.9697 × 0.96047) = 1.7810 ms, −0.5 %.
    CHECK(gemm_seconds(chip, Precision::fp8, 8192, 16384, 8192) == Approx(1.7907e-3).epsilon(0.06));
    // 2048 × 6144 × 12288: 258.24 µs (1,197.5). 384 tiles, 0.9697; L = 80.17 µs, 0.97329:
    // 3.0924e11 / (1978.9e12 × 0.67 × 0.9697 × 0.97329) = 247.1 µs, −4.3 %.
    CHECK(gemm_seconds(chip, Precision::fp8, 2048, 6144, 12288) == Approx(258.24e-6).epsilon(0.06));
    // 16384 × 24576 × 16384: 9.9936 ms (1,320.3). 12288 tiles, 0.9903; L = 106.90 µs, 0.97983:
    // 1.3194e13 / (1978.9e12 × 0.67 × 0.9903 × 0.97983) = 10.256 ms, +2.6 %.
    CHECK(gemm_seconds(chip, Precision::fp8, 16384, 24576, 16384) == Approx(9.9936e-3).epsilon(0.06));
    // Short K, where the fixed time per tile shows: 4096 × 7168 × 2048: 113.998 µs (1,054.9). 896 tiles, 0.9697;
    // L = 13.36 µs, 13.36 / 15.56 = 0.85863: 1.2026e11 / (1978.9e12 × 0.67 × 0.9697 × 0.85863) = 108.94 µs, −4.4 %
    // (without the overhead 14 % fast).
    CHECK(gemm_seconds(chip, Precision::fp8, 4096, 7168, 2048) == Approx(113.998e-6).epsilon(0.06));
    // 4096 × 7168 × 1024: 65.445 µs (918.8); L = 6.681 µs, 0.75229: 6.0130e10 / (1978.9e12 × 0.67 × 0.9697 ×
    // 0.75229) = 62.17 µs, −5.0 % (without the overhead 25 % fast).
    CHECK(gemm_seconds(chip, Precision::fp8, 4096, 7168, 1024) == Approx(65.445e-6).epsilon(0.06));
    // Row-wise scaling (0.65, 2.7 µs): 8192 × 16384 × 8192: 1.7773 ms (1,237.3); L = 55.09 µs, 0.95328:
    // 2.1990e12 / (1978.9e12 × 0.65 × 0.9697 × 0.95328) = 1.8494 ms, +4.1 %. 4096 × 7168 × 1024: 68.269 µs (880.8);
    // L = 6.887 µs, 0.71836: 6.0130e10 / (1978.9e12 × 0.65 × 0.9697 × 0.71836) = 67.11 µs, −1.7 %.
    CHECK(gemm_seconds(chip, Precision::fp8, 8192, 16384, 8192, 1, Fp8Recipe::rowwise) == Approx(1.7773e-3).epsilon(0.06));
    CHECK(gemm_seconds(chip, Precision::fp8, 4096, 7168, 1024, 1, Fp8Recipe::rowwise) == Approx(68.269e-6).epsilon(0.06));
}

TEST_CASE("the shapes the kernel model misses are stated with the size of the miss", "[kernel][calibration]") {
    const ChipProfile chip = load_chip("h200", kCatalog);
    // Small M in one wave: fwd 1024 × 4096 × 4096 measured 47.926 µs (716.9). 8 × 16 = 128 tiles, split-K
    // 132 / 128 = 1, one wave of 128 / 132; L = 49.40 µs, 0.97244: 3.4360e10 / (989.4e12 × 0.725 × 0.9697 × 0.97244)
    // = 50.80 µs, +6.0 %: the one wave's tiles run faster than the large shapes' median. Within 10 %.
    CHECK(gemm_seconds(chip, Precision::bf16, 1024, 4096, 4096) == Approx(47.926e-6).epsilon(0.10));
    // M = 256 with few tiles: fwd 256 × 4096 × 4096 measured 14.953 µs (574.5). 2 × 16 = 32 tiles, split-K
    // 132 / 32 = 4 → one wave of 128 / 132; compute 13.75 µs (slices of K = 1,024: L = 12.349 µs, 0.89818), but the
    // model's split-K writes and reads 2 × 4 × 256 × 4096 FP32 partial sums (33.6 MB) on top of A, B and C (37.7 MB):
    // 71.3 MB / (4.8e12 × 0.89) = 16.69 µs, memory-bound and 11.6 % slow (cuBLAS reduces the slices in L2 or
    // does not split as far). Within 20 %.
    CHECK(gemm_seconds(chip, Precision::bf16, 256, 4096, 4096) == Approx(14.953e-6).epsilon(0.20));
    // Small square: fwd 1024³ measured 6.910 µs (310.8). 8 × 4 = 32 tiles, split-K 4; compute 4.49 µs, bytes
    // 6.3 MB + 2 × 4 × 1024² × 4 = 33.6 MB of partial sums: 39.8 MB / 4.272e12 = 9.33 µs, 35 % slow. Within 40 %.
    CHECK(gemm_seconds(chip, Precision::bf16, 1024, 1024, 1024) == Approx(6.910e-6).epsilon(0.40));
}

TEST_CASE("deepgemm's published h800 grouped gemms at sustained power are timed within 12 percent",
          "[kernel][calibration]") {
    // h800.toml gemm_fp8_blockwise 0.53 (the blockwise recipe's kernels) = the median of these four rows through the model's quantisation (0.617) × 0.853, the
    // sustained / burst ratio measured for FP8 on the same GH100 compute (repeat.csv against gemm_fp8.csv). The
    // DeepGEMM README (Feb 2025, H800) rows are bursts, so each expected time is the row's rate × 0.853.
    const ChipProfile chip = load_chip("h800", kCatalog);
    // 4 groups × 8192 × 4096 × 7168: 1,297 TFLOP/s → 1,106.3 sustained; 9.6207e11 FLOPs → 0.86963 ms. Model:
    // 4 × 64 × 16 = 4096 tiles → 32 waves, 0.9697: 9.6207e11 / (1978.9e12 × 0.53 × 0.9697) = 0.94596 ms, +8.8 %.
    const double up = 2.0 * 4 * 8192 * 4096 * 7168.0;
    CHECK(gemm_seconds(chip, Precision::fp8, 8192, 4096, 7168, 4, Fp8Recipe::blockwise) == Approx(up / (1297e12 * 0.853)).epsilon(0.12));
    // 4 groups × 8192 × 7168 × 2048: 1,099 → 937.4 sustained; 4.8103e11 FLOPs → 0.51314 ms. Model: 7168 tiles →
    // 55 waves, 7168 / 7260 = 0.9873: 4.8103e11 / (1978.9e12 × 0.53 × 0.9873) = 0.46454 ms, −9.5 % (short K again).
    const double down = 2.0 * 4 * 8192 * 7168 * 2048.0;
    CHECK(gemm_seconds(chip, Precision::fp8, 8192, 7168, 2048, 4, Fp8Recipe::blockwise) == Approx(down / (1099e12 * 0.853)).epsilon(0.12));
}

TEST_CASE("cudnn causal attention measured on the h200 is timed within 3 percent forward plus backward at every measured shape",
          "[kernel][calibration]") {
    const ChipProfile chip = load_chip("h200", kCatalog);
    // h200.toml attention 0.548 at head dim 128 and sequence 16,384, times attention_shape's factor at the kernel's
    // shape. The model's forward + backward executes 1 + 2 × 1.25 = 3.5 × the forward FLOPs, as the benchmark
    // counts them, at 989.4e12 × 0.548 × factor. Rows of attention.csv (cudnn, fwd+bwd):
    // 2 × 32 × 8192², d 128: 3.8483e12 FLOPs in 7.0125 ms (548.8); factor 0.986: 534.6 TFLOP/s, 7.198 ms, +2.6 %.
    CHECK(attention_seconds(chip, 2, 32, 8192, 128, 128) == Approx(7.0125e-3).epsilon(0.03));
    // 4 × 32 × 4096², d 128: 1.9242e12 in 3.6760 ms (523.4); factor 0.940: 509.7, 3.775 ms, +2.7 %.
    CHECK(attention_seconds(chip, 4, 32, 4096, 128, 128) == Approx(3.6760e-3).epsilon(0.03));
    // Short sequences, which the single figure (0.53) timed 30 % and 17 % fast:
    // 16 × 32 × 1024², d 128: 4.8104e11 in 1.3211 ms (364.1); factor 0.676: 366.5, 1.3125 ms, −0.6 %.
    CHECK(attention_seconds(chip, 16, 32, 1024, 128, 128) == Approx(1.3211e-3).epsilon(0.03));
    // 8 × 64 × 2048², d 128: 1.9242e12 in 4.1278 ms (466.1); factor 0.832: 451.1, 4.265 ms, +3.3 % — the two
    // head counts' mean (451.5) is the factor's, and this row is the faster of them.
    CHECK(attention_seconds(chip, 8, 64, 2048, 128, 128) == Approx(4.1278e-3).epsilon(0.04));
    // MLA's head dims at DeepSeek-V3's 4,096 tokens, 4 × 128 × 4096², d_qk 192, d_v 128: 9.6207e12 in 21.777 ms
    // (441.8); factor 0.814: 441.4, 21.797 ms, +0.1 % (the single figure gave 18.35 ms, −16 %).
    CHECK(attention_seconds(chip, 4, 128, 4096, 192, 128) == Approx(21.777e-3).epsilon(0.03));
    // 1 × 128 × 16384², d_qk 192: 3.8483e13 in 79.938 ms (481.4); factor 0.887: 480.9, 80.02 ms, +0.1 %.
    CHECK(attention_seconds(chip, 1, 128, 16384, 192, 128) == Approx(79.938e-3).epsilon(0.03));
}

// Transformer Engine's GEMM profiling guide (docs/examples/gemm_profiling/gemm_profiling.rst, "Worked Example: 5B
// Model on H200"; benchmarks/gemm/benchmark_gemm.py on an H200 NVL, CUDA events): the 12 GEMMs of a layer with
// hidden 4,096 and FFN 16,384 at M = 15,872 tokens take 20.285 ms per layer in FP8 current scaling with TE's
// quantisation ("autocast": each te.Linear call casts its input and its weight) and 16.785 ms pre-quantised, so the
// quantisation costs 3.500 ms [R/D]. The model's kernels for it (units/precision.hpp, tensorwise: 4 B read for the
// amax and the cast, 2 B written for the FP8 copy and its transpose, per element) over both operands of the 12 rows:
//   Fprop, inputs M·K: 15,872 · (3 · 4,096 + 16,384) = 455,081,984; weights K·N: 4,096 · 12,288 + 4,096² +
//     2 · 4,096 · 16,384 = 201,326,592;
//   Dgrad, inputs M·N: 15,872 · (12,288 + 4,096 + 16,384 + 4,096) = 585,105,408; weights 201,326,592;
//   Wgrad, inputs K·M (Xᵀ): 455,081,984; the other operand M·N (dY): 585,105,408;
//   2,483,027,968 elements × 6 B = 14,898,167,808 B at 4.8 TB/s × 0.89 (h200.toml) = 3.487 ms, −0.4 %.
// The benchmark's weights need no transposed copy when its input takes no gradient, which would make the model's
// count 5 B for them (3.256 ms, −7 %); hence 8 %. This checks the quantisation kernels of the FP8 dense rows of
// scenarios/validation/, which all came out 2.5–6 % fast (tests/validation): their cost is not what is missing.
TEST_CASE("transformer engine's current-scaling quantisation on the h200 costs what the model's cast kernels take",
          "[kernel][calibration]") {
    const ChipProfile chip = load_chip("h200", kCatalog);
    const QuantisationBytes per = fp8_quantisation_bytes(Fp8Recipe::tensorwise, false);
    CHECK(per.read == 4.0);
    CHECK(per.written == 2.0);
    const double elements = 2.0 * 455'081'984.0 + 2.0 * 585'105'408.0 + 2.0 * 201'326'592.0;
    Op cast;
    cast.name = "bench.quantise";
    cast.kind = OpKind::elementwise;
    cast.read = Bytes(elements * per.read);
    cast.written = Bytes(elements * per.written);
    const double model = time_op(cast, KernelContext{chip}).forward.time.value();
    const double measured = (20.285 - 16.785) * 1e-3;
    WARN("TE current-scaling quantisation, H200: model " << model * 1e3 << " ms, measured " << measured * 1e3 << " ms");
    CHECK(model == Approx(measured).epsilon(0.08));
}
