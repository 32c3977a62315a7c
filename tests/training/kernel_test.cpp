// Operator timing on one GPU (include/gpuhours/training/kernel.hpp): GEMM roofline with tile and wave quantisation,
// split-K, reserved SMs, FP8 peaks, fused attention, memory-bound ops, and a whole Llama-3.1-8B-like layer.
// Every expected number is derived in the comment before its assertion.
#include <gpuhours/units/error.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace gpuhours;

namespace {

// An H100 SXM5 with the catalog's figures (scenarios/chips/h100.toml): 989.4 / 1978.9 TFLOP/s dense BF16 /
// FP8, 3.35 TB/s, 132 SMs, gemm 0.75, attention 0.55, memory 0.85, 128 × 256 GEMM tiles.
ChipProfile h100_like() {
    ChipProfile chip;
    chip.id = "h100-like";
    chip.peak_dense[Precision::bf16] = teraflops(989.4);
    chip.peak_dense[Precision::fp8] = teraflops(1978.9);
    chip.memory_capacity = gigabytes(80);
    chip.memory_bandwidth = BytesPerSecond(3.35e12);
    chip.sm_count = 132;
    chip.efficiency.gemm = 0.75;
    chip.efficiency.gemm_fp8 = 0.75;  // equal to gemm here, so FP8 gains exactly the peak ratio
    chip.efficiency.attention = 0.55;
    chip.efficiency.memory = 0.85;
    chip.efficiency.gemm_tile_m = 128;
    chip.efficiency.gemm_tile_n = 256;
    return chip;
}

// An A100-like chip: BF16 only, so FP8 must be refused.
ChipProfile a100_like() {
    ChipProfile chip = h100_like();
    chip.id = "a100-like";
    chip.peak_dense.clear();
    chip.peak_dense[Precision::bf16] = teraflops(312.0);
    chip.sm_count = 108;
    return chip;
}

// A BF16 weight GEMM C[m×n] = A[m×k]·B[k×n] as the workload builds it: reads the weights and the input
// activations, writes the output, 2 bytes an element; backward = 2 × forward.
Op gemm_op(long long m, long long n, long long k, long long count = 1) {
    const double md = static_cast<double>(m);
    const double nd = static_cast<double>(n);
    const double kd = static_cast<double>(k);
    const double c = static_cast<double>(count);
    Op op;
    op.name = "test.gemm";
    op.kind = count == 1 ? OpKind::gemm : OpKind::grouped_gemm;
    op.gemm = GemmShape{m, n, k, count};
    op.forward = Flops(2.0 * md * nd * kd * c);
    op.backward = op.forward * 2.0;
    op.read = Bytes((kd * nd + md * kd) * 2.0 * c);
    op.written = Bytes(md * nd * 2.0 * c);
    op.parameters = kd * nd * c;
    op.fp8 = true;  // quantized when the step runs FP8 (a layer's GEMM; the output head is not)
    return op;
}

Op elementwise_op(double read, double written) {
    Op op;
    op.name = "test.elementwise";
    op.kind = OpKind::elementwise;
    op.read = Bytes(read);
    op.written = Bytes(written);
    return op;
}

constexpr double kBf16 = 989.4e12;
constexpr double kFp8 = 1978.9e12;
constexpr double kHbm = 3.35e12 * 0.85;  // achieved bytes/s of memory-bound kernels

}  // namespace

TEST_CASE("a large square bf16 gemm runs at the catalog gemm efficiency less its last partial wave", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext context{chip};

    // 8192³: 64 × 32 = 2048 full 128×256 tiles over 132 SMs = 15.52 waves, so 16 waves and a wave fraction of
    // 2048 / (16 × 132) = 0.969697. 2·8192³ = 1.0995e12 FLOPs / (989.4e12 × 0.75 × 0.969697) = 1.5280 ms; the
    // unquantised figure 2·8192³ / (989.4e12 × 0.75) = 1.4817 ms is 2112 / 2048 = 3.1% faster. (No power-of-two
    // tile count fills 132 SMs exactly, so "within 1% of the unquantised figure" cannot hold for this shape.)
    const Op op = gemm_op(8192, 8192, 8192);
    const OpTime t = time_op(op, context);
    const double flops = 2.0 * 8192.0 * 8192.0 * 8192.0;
    CHECK(t.forward.bound == Bound::compute);
    CHECK(t.forward.time.value() == Approx(flops / (kBf16 * 0.75 * 2048.0 / 2112.0)).epsilon(1e-9));
    CHECK(t.forward.time.value() == Approx(1.5280e-3).epsilon(1e-3));
    CHECK(t.forward.time.value() / (flops / (kBf16 * 0.75)) == Approx(2112.0 / 2048.0).epsilon(1e-9));

    // Full tiles and full waves: m = 128 × 132 = 16896, n = k = 8192 → 132 × 32 = 4224 tiles = exactly 32
    // waves. Time = 2·16896·8192² / (989.4e12 × 0.75) = 3.0561 ms, the catalog efficiency itself (within 1%).
    const OpTime full = time_op(gemm_op(16896, 8192, 8192), context);
    const double full_flops = 2.0 * 16896.0 * 8192.0 * 8192.0;
    CHECK(full.forward.time.value() == Approx(full_flops / (kBf16 * 0.75)).epsilon(0.01));
    CHECK(gemm_efficiency(GemmShape{16896, 8192, 8192, 1}, context).total == Approx(0.75).epsilon(1e-12));
}

TEST_CASE("tile quantisation makes one row past a tile cost as much as two full tiles", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext context{chip};
    // n = 256 × 66 = 16896 and k = 4096. m = 129 needs ceil(129/128) = 2 row tiles, as m = 256 does: 2 × 66 =
    // 132 tiles, one full wave in both. Tile fraction 129/256 = 0.50391 vs 1. The compute term is
    // 2·129·16896·4096 / (989.4e12 × 0.75 × 129/256) = 2·256·16896·4096 / (989.4e12 × 0.75) = 47.76 µs for both.
    const GemmEfficiency e129 = gemm_efficiency(GemmShape{129, 16896, 4096, 1}, context);
    const GemmEfficiency e256 = gemm_efficiency(GemmShape{256, 16896, 4096, 1}, context);
    CHECK(e129.tiles == 132);
    CHECK(e256.tiles == 132);
    CHECK(e129.tile_fraction == Approx(129.0 / 256.0).epsilon(1e-12));
    CHECK(e256.tile_fraction == Approx(1.0).epsilon(1e-12));

    const Seconds t129 = time_op(gemm_op(129, 16896, 4096), context).forward.compute;
    const Seconds t256 = time_op(gemm_op(256, 16896, 4096), context).forward.compute;
    CHECK(t129.value() == Approx(t256.value()).epsilon(1e-12));
    CHECK(t256.value() == Approx(2.0 * 256 * 16896 * 4096 / (kBf16 * 0.75)).epsilon(1e-12));
    CHECK(t256.value() == Approx(47.76e-6).epsilon(1e-3));
}

TEST_CASE("wave quantisation makes one tile more than the SMs take two waves", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext context{chip};
    // S = 132 SMs. 132 tiles: m = 512 (4 row tiles), n = 8448 (33 column tiles), one wave, wave fraction 1.
    // 133 tiles: m = 896 (7), n = 4864 (19), two waves, wave fraction 133 / (2 × 132) = 0.50379: the efficiency
    // halves (×132/264 per tile). With k = 8192 both stay compute-bound (FLOPs per byte 1/(1/m + 1/n + 1/k) =
    // 456 and 693, above the ridge 989.4e12 × 0.75 / 2.8475e12 = 261). Work grows by 133/132, so the time
    // ratio is (133/132) / (133/264) = 2 exactly.
    const GemmEfficiency one = gemm_efficiency(GemmShape{512, 8448, 8192, 1}, context);
    const GemmEfficiency two = gemm_efficiency(GemmShape{896, 4864, 8192, 1}, context);
    CHECK(one.tiles == 132);
    CHECK(one.waves == 1);
    CHECK(one.wave_fraction == Approx(1.0).epsilon(1e-12));
    CHECK(two.tiles == 133);
    CHECK(two.waves == 2);
    CHECK(two.wave_fraction == Approx(133.0 / 264.0).epsilon(1e-12));

    const OpTime t_one = time_op(gemm_op(512, 8448, 8192), context);
    const OpTime t_two = time_op(gemm_op(896, 4864, 8192), context);
    CHECK(t_one.forward.bound == Bound::compute);
    CHECK(t_two.forward.bound == Bound::compute);
    CHECK(t_two.forward.time / t_one.forward.time == Approx(2.0).epsilon(1e-9));
}

TEST_CASE("reserving 20 of 132 SMs for communication slows wave-limited gemms by the lost waves", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext all{chip};
    const KernelContext deepseek{chip, Precision::bf16, Precision::bf16, 20};
    CHECK(available_sms(deepseek) == 112);

    // 8192³: 2048 tiles. On 132 SMs: 16 waves. On 112 free SMs: ceil(2048/112) = ceil(18.29) = 19 waves. Each
    // wave takes as long as before, so the time grows by 19/16 = 1.1875 (the 132/112 = 1.179 of lost SMs plus
    // a worse last wave). Wave fraction: 2048 / (19 × 132) = 0.81659.
    const OpTime big_all = time_op(gemm_op(8192, 8192, 8192), all);
    const OpTime big_reserved = time_op(gemm_op(8192, 8192, 8192), deepseek);
    CHECK(gemm_efficiency(GemmShape{8192, 8192, 8192, 1}, deepseek).waves == 19);
    CHECK(gemm_efficiency(GemmShape{8192, 8192, 8192, 1}, deepseek).wave_fraction ==
          Approx(2048.0 / (19.0 * 132.0)).epsilon(1e-12));
    CHECK(big_reserved.forward.time / big_all.forward.time == Approx(19.0 / 16.0).epsilon(1e-9));

    // 132 tiles (m = 512, n = 8448, k = 8192): one wave on 132 SMs, two on 112 → exactly 2× slower.
    const OpTime one_wave_all = time_op(gemm_op(512, 8448, 8192), all);
    const OpTime one_wave_reserved = time_op(gemm_op(512, 8448, 8192), deepseek);
    CHECK(one_wave_reserved.forward.time / one_wave_all.forward.time == Approx(2.0).epsilon(1e-9));

    // Memory-bound ops do not use the tile model: the reservation leaves them unchanged.
    const Op norm = elementwise_op(67.1e6, 67.1e6);
    CHECK(time_op(norm, deepseek).forward.time.value() == Approx(time_op(norm, all).forward.time.value()));
}

TEST_CASE("fp8 halves a compute-bound gemm and a chip without fp8 refuses it", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext bf16{chip};
    const KernelContext fp8{chip, Precision::fp8};
    // 8192³ in FP8: 1.0995e12 / (1978.9e12 × 0.727273) = 0.76393 ms, compute-bound (2730 FLOPs per byte of
    // the BF16-sized traffic the op carries vs a ridge of 1978.9e12 × 0.727 / 2.8475e12 = 505). Ratio to BF16:
    // 1978.9 / 989.4 = 2.0001.
    const Op op = gemm_op(8192, 8192, 8192);
    const OpTime t_bf16 = time_op(op, bf16);
    const OpTime t_fp8 = time_op(op, fp8);
    CHECK(t_fp8.forward.bound == Bound::compute);
    CHECK(t_bf16.forward.time / t_fp8.forward.time == Approx(kFp8 / kBf16).epsilon(1e-9));
    CHECK(t_bf16.backward() / t_fp8.backward() == Approx(kFp8 / kBf16).epsilon(1e-9));
    CHECK(t_fp8.forward.time.value() == Approx(0.76393e-3).epsilon(1e-3));

    // FP8 GEMMs use their own catalog efficiency: at gemm_fp8 = 0.40 against
    // gemm = 0.75 the speed-up over BF16 is 2.0001 × 0.40 / 0.75 = 1.0667.
    ChipProfile calibrated = chip;
    calibrated.efficiency.gemm_fp8 = 0.40;
    const OpTime t_cal = time_op(op, KernelContext{calibrated, Precision::fp8});
    CHECK(t_bf16.forward.time / t_cal.forward.time == Approx(kFp8 / kBf16 * 0.40 / 0.75).epsilon(1e-9));

    const ChipProfile a100 = a100_like();
    CHECK_THROWS_AS(time_op(op, KernelContext{a100, Precision::fp8}), Error);
    CHECK_NOTHROW(time_op(op, KernelContext{a100, Precision::bf16}));

    // A GEMM the recipe leaves in BF16 (op.fp8 false in an FP8 step: the output head) runs at the BF16 peak and
    // figure however the step's GEMMs run: the same 8192³ takes t_bf16 in either context.
    Op head = op;
    head.fp8 = false;
    CHECK(time_op(head, fp8).forward.time.value() == Approx(t_bf16.forward.time.value()).epsilon(1e-12));
    CHECK(time_op(head, fp8).backward().value() == Approx(t_bf16.backward().value()).epsilon(1e-12));
}

TEST_CASE("a memory-bound elementwise op streams its bytes at the catalog share of hbm bandwidth", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext context{chip};
    // An RMSNorm over 8192 tokens × 4096 features in BF16: reads and writes 8192·4096·2 = 67,108,864 B each.
    // Forward: 134,217,728 B / (3.35e12 × 0.85 = 2.8475e12 B/s) = 47.135 µs.
    // Backward reads dY (67.1 MB) and X (67.1 MB) and writes dX (67.1 MB): 201,326,592 B → 70.703 µs (1.5×).
    const double side = 8192.0 * 4096.0 * 2.0;
    const OpTime t = time_op(elementwise_op(side, side), context);
    CHECK(t.forward.bound == Bound::memory);
    CHECK(t.forward.time.value() == Approx(2.0 * side / kHbm).epsilon(1e-12));
    CHECK(t.forward.time.value() == Approx(47.135e-6).epsilon(1e-4));
    CHECK(t.backward_input.time.value() == Approx(3.0 * side / kHbm).epsilon(1e-12));
    CHECK(t.backward_weight.time.value() == 0.0);
    CHECK(t.recompute.value() == 0.0);
}

TEST_CASE("a gemm with little work and big weights is memory-bound", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext context{chip};
    // m = 16 tokens through an 8192 × 8192 BF16 weight: 2·16·8192² = 2.1475e9 FLOPs.
    // Tiles: 1 × 32 = 32 < 132 SMs, so split-K: min(132/32 = 4, 8192/128 = 64) = 4 slices → 128 units, one
    // wave, wave fraction 128/132; tile fraction 16/128. Efficiency 0.75 × 0.125 × 0.969697 = 0.090909 →
    // compute 2.1475e9 / (989.4e12 × 0.090909) = 23.875 µs.
    // Bytes: weights 134,217,728 + input 262,144 + output 262,144 + split-K partials 2 × 4 × 16·8192 × 4 B =
    // 4,194,304 → 138,936,320 B / 2.8475e12 = 48.793 µs > 23.875 µs: memory-bound.
    // Crossover: for m ≤ 128 the compute term is constant (FLOPs and tile fraction both ∝ m) at 23.875 µs while
    // the weights alone take 47.1 µs, so every such m is memory-bound; at m = 384 (96 tiles, no split, wave
    // fraction 96/132) compute is 2·384·8192² / (989.4e12 × 0.75 × 96/132) = 95.50 µs against memory
    // (134.2e6 + 6.3e6 + 6.3e6) B / 2.8475e12 = 51.55 µs: compute-bound.
    const OpTime small = time_op(gemm_op(16, 8192, 8192), context);
    CHECK(gemm_efficiency(GemmShape{16, 8192, 8192, 1}, context).split_k == 4);
    CHECK(small.forward.bound == Bound::memory);
    CHECK(small.forward.compute.value() == Approx(23.875e-6).epsilon(1e-4));
    CHECK(small.forward.time.value() == Approx(138'936'320.0 / kHbm).epsilon(1e-12));

    const OpTime larger = time_op(gemm_op(384, 8192, 8192), context);
    CHECK(larger.forward.bound == Bound::compute);
    CHECK(larger.forward.time.value() == Approx(2.0 * 384 * 8192.0 * 8192.0 / (kBf16 * 0.75 * 96 / 132)).epsilon(1e-9));
    CHECK(larger.forward.memory.value() == Approx(51.55e-6).epsilon(1e-3));
}

TEST_CASE("the backward of a gemm is an input-gradient and a weight-gradient gemm of their own shapes", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext context{chip};
    // Forward C[8192×1408] = A[8192×4096]·B[4096×1408]; each pass 2·8192·1408·4096 = 94,489,280,512 FLOPs.
    //   forward  output 8192×1408: 64 × 6 = 384 tiles, tile fraction 1408/1536, 3 waves → 384/396;
    //            efficiency 0.75 × 0.916667 × 0.969697 = 0.666667 → 94.489e9 / 659.60e12 = 143.25 µs.
    //   dgrad    output 8192×4096 (inner 1408): 64 × 16 = 1024 full tiles, 8 waves → 1024/1056;
    //            efficiency 0.727273 → 94.489e9 / 719.56e12 = 131.31 µs.
    //   wgrad    output 4096×1408 (inner 8192): 32 × 6 = 192 tiles, tile fraction 1408/1536, 2 waves →
    //            192/264; efficiency 0.75 × 0.916667 × 0.727273 = 0.5 → 94.489e9 / 494.70e12 = 191.00 µs.
    // All compute-bound: each moves (4096·1408 + 8192·4096 + 8192·1408) × 2 B = 101.7 MB → 35.7 µs.
    const GemmShape shape{8192, 1408, 4096, 1};
    CHECK(input_gradient_shape(shape).m == 8192);
    CHECK(input_gradient_shape(shape).n == 4096);
    CHECK(input_gradient_shape(shape).k == 1408);
    CHECK(weight_gradient_shape(shape).m == 4096);
    CHECK(weight_gradient_shape(shape).n == 1408);
    CHECK(weight_gradient_shape(shape).k == 8192);

    const OpTime t = time_op(gemm_op(8192, 1408, 4096), context);
    const double f = 2.0 * 8192 * 1408 * 4096;
    CHECK(t.forward.time.value() == Approx(f / (kBf16 * 0.75 * (1408.0 / 1536) * (384.0 / 396))).epsilon(1e-9));
    CHECK(t.backward_input.time.value() == Approx(f / (kBf16 * 0.75 * (1024.0 / 1056))).epsilon(1e-9));
    CHECK(t.backward_weight.time.value() == Approx(f / (kBf16 * 0.5)).epsilon(1e-9));
    CHECK(t.forward.time.value() == Approx(143.25e-6).epsilon(1e-4));
    CHECK(t.backward_input.time.value() == Approx(131.31e-6).epsilon(1e-4));
    CHECK(t.backward_weight.time.value() == Approx(191.00e-6).epsilon(1e-4));
    CHECK(t.backward().value() == Approx(131.31e-6 + 191.00e-6).epsilon(1e-4));
    CHECK(t.backward_input.bound == Bound::compute);
    CHECK(t.backward_weight.bound == Bound::compute);
}

TEST_CASE("a grouped gemm spreads the tiles of all its experts over the SMs in one launch", "[kernel]") {
    const ChipProfile chip = h100_like();
    const KernelContext context{chip};
    // 4 experts of m = 512, n = 8448 (132 tiles each): 528 tiles = exactly 4 waves, wave fraction 1, the same
    // efficiency as one expert alone (0.75); four launches of 132 tiles would also be full waves. With 3
    // experts of 133 tiles each (m = 896, n = 4864): 399 tiles in one launch → ceil(399/132) = 4 waves, wave
    // fraction 399/528 = 0.75568, where three separate launches would take 2 waves each (133/264 = 0.50379).
    CHECK(gemm_efficiency(GemmShape{512, 8448, 8192, 4}, context).total == Approx(0.75).epsilon(1e-12));
    const GemmEfficiency grouped = gemm_efficiency(GemmShape{896, 4864, 8192, 3}, context);
    CHECK(grouped.tiles == 399);
    CHECK(grouped.waves == 4);
    CHECK(grouped.wave_fraction == Approx(399.0 / 528.0).epsilon(1e-12));
    // Time of the grouped op: 3 × 2·896·4864·8192 FLOPs / (989.4e12 × 0.75 × 399/528).
    const OpTime t = time_op(gemm_op(896, 4864, 8192, 3), context);
    CHECK(t.forward.time.value() ==
          Approx(3.0 * 2 * 896 * 4864 * 8192.0 / (kBf16 * 0.75 * 399.0 / 528.0)).epsilon(1e-9));
}

TEST_CASE("a fixed time per tile shares each tile with its main loop: split-K slices, grouped experts, reserved SMs", "[kernel]") {
    ChipProfile chip = h100_like();
    chip.efficiency.gemm_tile_overhead.gemm = Seconds(1.4e-6);
    // One SM's main-loop rate at the figure: 989.4e12 × 0.75 / 132 = 5.6216e12 FLOP/s; a 128 × 256 tile does
    // 2 · 128 · 256 = 65,536 FLOPs per unit of K.
    const double per_sm = 989.4e12 * 0.75 / 132.0;
    // 8192³: 2,048 tiles in 16 waves (2,048 / 2,112), no split; L = 65,536 × 8,192 / 5.6216e12 = 95.50 µs, so the main
    // loop keeps 95.50 / 96.90 = 0.98555 of each tile's time.
    const double l_full = 65536.0 * 8192.0 / per_sm;
    const GemmEfficiency full = gemm_efficiency(GemmShape{8192, 8192, 8192, 1}, KernelContext{chip});
    CHECK(full.main_loop_fraction == Approx(l_full / (l_full + 1.4e-6)).epsilon(1e-12));
    CHECK(full.total == Approx(0.75 * 2048.0 / 2112.0 * l_full / (l_full + 1.4e-6)).epsilon(1e-12));
    // 4 experts of 256 × 512 × 4096 with 20 of 132 SMs reserved: 4 × 2 × 2 = 16 tiles on 112 free SMs, split-K
    // min(112 / 16, 4096 / 128) = 7 slices of 4096 / 7 = 585.14 K each, 112 units in one wave (112 / 132 of the chip).
    // Each slice pays the overhead: L = 65,536 × 585.14 / 5.6216e12 = 6.822 µs, fraction 6.822 / 8.222 = 0.8297.
    const GemmEfficiency split = gemm_efficiency(GemmShape{256, 512, 4096, 4}, KernelContext{chip, Precision::bf16, Precision::bf16, 20});
    REQUIRE(split.split_k == 7);
    const double l_slice = 65536.0 * (4096.0 / 7.0) / per_sm;
    CHECK(split.main_loop_fraction == Approx(l_slice / (l_slice + 1.4e-6)).epsilon(1e-12));
    CHECK(split.total == Approx(0.75 * 112.0 / 132.0 * l_slice / (l_slice + 1.4e-6)).epsilon(1e-12));
    // The overhead belongs to the BF16 family only: the FP8 GEMMs (gemm_fp8, no time set) keep their figure.
    CHECK(gemm_efficiency(GemmShape{8192, 8192, 8192, 1}, KernelContext{chip, Precision::fp8}).main_loop_fraction == 1.0);
    // Under a power cap the whole tile (main loop and overhead) runs at the capped clock: 8192³'s forward takes
    // 2 · 8192³ / (989.4e12 × total) / 0.8 at clock factor 0.8.
    KernelContext capped{chip};
    capped.clock_factor = 0.8;
    CHECK(time_op(gemm_op(8192, 8192, 8192), capped).forward.time.value() ==
          Approx(2.0 * 8192.0 * 8192 * 8192 / (kBf16 * full.total) / 0.8).epsilon(1e-9));
}

TEST_CASE("a narrower second tile is taken where it fills the waves better, never where it needs split-K", "[kernel]") {
    ChipProfile chip = h100_like();
    chip.efficiency.gemm_tile_n_narrow = 128;
    const KernelContext context{chip};
    // 1,024 × 6,144 × 8,192 (no tile overhead): 128 × 256 tiles 8 × 24 = 192, two waves of 132, wave fraction
    // 192 / 264 = 0.72727; 128 × 128 tiles 8 × 48 = 384, three waves, 384 / 396 = 0.96970: the narrow one, at
    // 0.75 × 384 / 396 (the measured H200 rows of this shape run at 0.96 of the large shapes' rate, h200.toml).
    const GemmEfficiency narrow = gemm_efficiency(GemmShape{1024, 6144, 8192, 1}, context);
    CHECK(narrow.tile_n == 128);
    CHECK(narrow.tiles == 384);
    CHECK(narrow.waves == 3);
    CHECK(narrow.total == Approx(0.75 * 384.0 / 396.0).epsilon(1e-12));
    // Without the narrow tile the same shape keeps the wide tiling: 0.75 × 192 / 264; so with a "narrow" tile not
    // narrower than the wide one (unused): 128 × 128 wide tiles, 384 of them in 3 waves, 0.75 × 384 / 396.
    CHECK(gemm_efficiency(GemmShape{1024, 6144, 8192, 1}, KernelContext{h100_like()}).total == Approx(0.75 * 192.0 / 264.0).epsilon(1e-12));
    ChipProfile same = h100_like();
    same.efficiency.gemm_tile_n = 128;
    same.efficiency.gemm_tile_n_narrow = 128;
    const GemmEfficiency one_tile = gemm_efficiency(GemmShape{1024, 6144, 8192, 1}, KernelContext{same});
    CHECK(one_tile.tile_n == 128);
    CHECK(one_tile.total == Approx(0.75 * 384.0 / 396.0).epsilon(1e-12));
    // 256 × 4,096 × 8,192: wide 2 × 16 = 32 tiles, split-K min(132 / 32, 8,192 / 128) = 4, 128 units in one wave
    // (128 / 132); narrow 2 × 32 = 64 tiles would need split-K too, so it is not a candidate: the wide tiling.
    const GemmEfficiency small = gemm_efficiency(GemmShape{256, 4096, 8192, 1}, context);
    CHECK(small.tile_n == 256);
    CHECK(small.split_k == 4);
    CHECK(small.total == Approx(0.75 * 128.0 / 132.0).epsilon(1e-12));
    // Equal wave fractions: 4,096 × 4,096 × 1,024 with 1.4 µs per tile. Wide 32 × 16 = 512 tiles, 4 waves (512 /
    // 528); narrow 1,024 tiles, 8 waves (1,024 / 1,056, the same fraction), but each narrow tile's main loop is half
    // as long beside the same fixed time: L = 65,536 × 1,024 / (989.4e12 × 0.75 / 132) = 11.94 µs wide, 5.97 µs
    // narrow, fractions 0.895 against 0.810: the wide tiling.
    chip.efficiency.gemm_tile_overhead.gemm = Seconds(1.4e-6);
    const double l_wide = 65536.0 * 1024.0 / (989.4e12 * 0.75 / 132.0);
    const GemmEfficiency even = gemm_efficiency(GemmShape{4096, 4096, 1024, 1}, KernelContext{chip});
    CHECK(even.tile_n == 256);
    CHECK(even.total == Approx(0.75 * 512.0 / 528.0 * l_wide / (l_wide + 1.4e-6)).epsilon(1e-12));
}

TEST_CASE("fused attention runs at the attention efficiency and its backward recomputes the scores", "[kernel]") {
    const ChipProfile chip = h100_like();
    // FP8 GEMMs but BF16 attention, as DeepSeek-V3 trains.
    const KernelContext context{chip, Precision::fp8, Precision::bf16};
    // Llama-3.1-8B attention core at sequence 8192, causal: 2·8192·8192·0.5·32·(128 + 128) = 549.76e9 FLOPs.
    // Forward 549.76e9 / (989.4e12 × 0.55) = 1.0103 ms. Backward executes 2.5 × forward FLOPs (5 products vs
    // 2) = 1.25 × the model's 2 × forward: 2.5258 ms. Selective recompute repeats the forward: 1.0103 ms.
    Op op;
    op.name = "attn.core";
    op.kind = OpKind::attention;
    op.forward = Flops(2.0 * 8192 * 8192 * 0.5 * 32 * 256);
    op.backward = op.forward * 2.0;
    op.recompute = op.forward;
    op.read = Bytes((8192.0 * 32 * 128 + 8192.0 * 8 * 256) * 2);
    op.written = Bytes(8192.0 * 32 * 128 * 2);
    const OpTime t = time_op(op, context);
    CHECK(t.forward.bound == Bound::compute);
    CHECK(t.forward.time.value() == Approx(op.forward.value() / (kBf16 * 0.55)).epsilon(1e-12));
    CHECK(t.forward.time.value() == Approx(1.0103e-3).epsilon(1e-4));
    CHECK(t.backward_input.time.value() == Approx(2.5 * op.forward.value() / (kBf16 * 0.55)).epsilon(1e-12));
    CHECK(t.backward_weight.time.value() == 0.0);
    CHECK(t.recompute.value() == Approx(t.forward.time.value()).epsilon(1e-12));
    CHECK(t.total().value() == Approx((1.0 + 2.5 + 1.0) * op.forward.value() / (kBf16 * 0.55)).epsilon(1e-12));
}

TEST_CASE("fused attention's shape table scales the reference efficiency, interpolated in log sequence and head dim", "[kernel]") {
    // A two-by-two table: head dims 64 and 128, sequences 1,024 and 4,096; factors (64) 0.4, 0.6 and (128) 0.6, 1.0.
    AttentionShapeTable table;
    table.sequence = {1024, 4096};
    table.rows = {{64, {0.4, 0.6}}, {128, {0.6, 1.0}}};
    // At a measured point, its factor.
    CHECK(table.factor(4096, 128) == Approx(1.0).epsilon(1e-12));
    CHECK(table.factor(1024, 64) == Approx(0.4).epsilon(1e-12));
    // 2,048 tokens lie halfway between 1,024 and 4,096 in log2 (10, 11, 12): 0.6 + (1.0 − 0.6) / 2 = 0.8 at head dim 128.
    CHECK(table.factor(2048, 128) == Approx(0.8).epsilon(1e-12));
    // Head dim 96 lies halfway between 64 and 128: at 2,048 tokens (0.5 + 0.8) / 2 = 0.65.
    CHECK(table.factor(2048, 96) == Approx(0.65).epsilon(1e-12));
    // Outside the measured range the nearest end holds: 512 tokens as 1,024, 65,536 as 4,096, head dim 256 as 128.
    CHECK(table.factor(512, 128) == Approx(0.6).epsilon(1e-12));
    CHECK(table.factor(65536, 64) == Approx(0.6).epsilon(1e-12));
    CHECK(table.factor(4096, 256) == Approx(1.0).epsilon(1e-12));
    CHECK(AttentionShapeTable{}.factor(2048, 128) == 1.0);
    CHECK_THROWS_AS(table.factor(0, 128), Error);

    // The kernel runs at attention × factor: the 8B-like core of the case above at 2,048 tokens per call and head dim
    // 128 takes 1 / 0.8 as long as at the reference; an op without a shape (linear attention) keeps the reference.
    ChipProfile chip = h100_like();
    chip.efficiency.attention_shape = table;
    Op op;
    op.name = "attn.core";
    op.kind = OpKind::attention;
    op.forward = Flops(2.0 * 8192 * 8192 * 0.5 * 32 * 256);
    op.backward = op.forward * 2.0;
    op.read = Bytes((8192.0 * 32 * 128 + 8192.0 * 8 * 256) * 2);
    op.written = Bytes(8192.0 * 32 * 128 * 2);
    const double reference = time_op(op, KernelContext{chip}).forward.time.value();
    CHECK(reference == Approx(op.forward.value() / (kBf16 * 0.55)).epsilon(1e-12));
    op.attention_shape = AttentionKernelShape{2048, 128};
    CHECK(time_op(op, KernelContext{chip}).forward.time.value() == Approx(reference / 0.8).epsilon(1e-12));
    CHECK(time_op(op, KernelContext{chip}).backward_input.time.value() == Approx(2.5 * reference / 0.8).epsilon(1e-12));
}

TEST_CASE("bad kernel inputs are errors that name the fix", "[kernel]") {
    const ChipProfile chip = h100_like();
    CHECK_THROWS_AS(available_sms(KernelContext{chip, Precision::bf16, Precision::bf16, 132}), Error);
    CHECK_THROWS_AS(available_sms(KernelContext{chip, Precision::bf16, Precision::bf16, -1}), Error);
    Op shapeless = gemm_op(128, 256, 64);
    shapeless.gemm.reset();
    CHECK_THROWS_AS(time_op(shapeless, KernelContext{chip}), Error);
    CHECK_THROWS_AS(gemm_efficiency(GemmShape{0, 256, 64, 1}, KernelContext{chip}), Error);
    ChipProfile untiled = chip;
    untiled.efficiency.gemm_tile_n = 0;
    CHECK_THROWS_WITH(time_op(gemm_op(128, 256, 64), KernelContext{untiled}), Catch::Contains("gemm_tile_n"));
}

TEST_CASE("a llama-3.1-8b-like layer on an h100-like chip runs forward at a plausible share of peak", "[kernel]") {
    // Llama 3.1 8B (arXiv 2407.21783 Table 3): hidden 4096, 32 heads / 8 KV heads of 128, SwiGLU 14336; one
    // sequence of 8192 tokens, no parallelism, BF16, causal.
    ModelSpec m;
    m.layers = 32;
    m.hidden = 4096;
    m.vocab = 128256;
    m.attention.kind = AttentionKind::gqa;
    m.attention.heads = 32;
    m.attention.kv_heads = 8;
    m.attention.head_dim = 128;
    m.mlp = {MlpKind::swiglu, 14336};
    const Block block = layer_ops(m, 0, ParallelLayout{}, MixedPrecision{}, MicroBatchShape{8192, 1, AttentionMask::causal});

    const ChipProfile chip = h100_like();
    const BlockTime t = time_block(block, KernelContext{chip});
    REQUIRE(t.ops.size() == block.ops.size());

    // Model FLOPs forward: GEMMs 2·8192·4096·(6144 + 4096 + 28672 + 14336) = 3.5734e12; attention core
    // 2·8192·8192·0.5·32·256 = 0.5498e12; total 4.1232e12.
    // Expected time: GEMMs at 989.4e12 × 0.75 × wave fractions 0.970–0.987 (qkv 1536 tiles → 12 waves, out
    // 512 → 4, fc1 7168 → 55, fc2 1024 → 8): about 4.93 ms; attention 0.5498e12 / (989.4e12 × 0.55) =
    // 1.01 ms; norms, rope, SwiGLU and residuals move about 1.54 GB at 2.8475e12 B/s: 0.54 ms. About 6.5 ms
    // (the model gives 6.47 ms).
    // Sanity band [5.5, 7.5] ms: below 5.5 would need the GEMMs near peak, above 7.5 a lost factor somewhere.
    const double flops = block.forward().value();
    CHECK(flops == Approx(4.1232e12).epsilon(1e-3));
    CHECK(t.forward.value() > 5.5e-3);
    CHECK(t.forward.value() < 7.5e-3);
    CHECK(t.forward_memory_bound.value() == Approx(0.54e-3).epsilon(0.05));

    // Model FLOP/s per GPU = 4.1232e12 / 6.47 ms = 637 TFLOP/s = 64% of the BF16 peak: inside [30%, 80%]
    // (kernel-level, before communication and pipeline bubbles; end-to-end runs report 38–43%).
    const double achieved = flops / t.forward.value();
    INFO("forward " << t.forward.value() * 1e3 << " ms, " << achieved / 1e12 << " TFLOP/s per GPU");
    CHECK(achieved > 0.30 * kBf16);
    CHECK(achieved < 0.80 * kBf16);

    // Backward: GEMMs 2× forward (dgrad + wgrad), attention 2.5×, memory-bound ops 1.5×: between 2× and 2.5×.
    CHECK(t.backward() / t.forward > 2.0);
    CHECK(t.backward() / t.forward < 2.5);
    CHECK(t.recompute.value() == 0.0);  // no recomputation in the default layout
}

TEST_CASE("every catalog chip times a large bf16 gemm", "[kernel]") {
    const std::filesystem::path catalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";
    for (const auto& name : catalog_names(catalog, "chips")) {
        INFO("chip " << name);
        const ChipProfile chip = load_chip(name, catalog);
        CHECK(chip.efficiency.gemm_tile_m > 0);
        CHECK(chip.efficiency.gemm_tile_n > 0);
        // 8192³ can never beat the catalog efficiency of peak, and with ≥ 2 waves loses at most half of it.
        const OpTime t = time_op(gemm_op(8192, 8192, 8192), KernelContext{chip});
        const double at_catalog = 2.0 * 8192.0 * 8192.0 * 8192.0 / (chip.peak(Precision::bf16).value() * chip.efficiency.gemm);
        CHECK(t.forward.time.value() >= at_catalog * (1.0 - 1e-12));
        CHECK(t.forward.time.value() <= at_catalog * 2.0);
    }
}

TEST_CASE("an FP8 GEMM runs at its recipe's catalog efficiency", "[kernel][fp8]") {
    const std::filesystem::path catalog = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios";
    // 8192³ on the H800: 64 × 32 = 2,048 tiles of 128 × 256 on 132 SMs, 16 waves (2,112 slots), the same for every
    // recipe; each recipe's catalog figure and fixed time per tile (h800.toml, as h200.toml): per-tensor (delayed,
    // tensorwise) 0.67 with 2.2 µs, rowwise 0.65 with 2.7 µs, blockwise (DeepGEMM) 0.53 with none. A tile's main loop
    // is 2 · 128 · 256 · 8192 = 5.3687e8 FLOPs at 1978.9e12 × figure / 132 per SM: 53.450 µs at 0.67, 55.094 µs at
    // 0.65, so the main-loop fractions are 53.450 / 55.650 and 55.094 / 57.794. Compute-bound at 2 · 8192³ =
    // 1.0995e12 FLOPs: 1.0995e12 / (1978.9e12 × 0.67 × 2048/2112 × 0.96047) = 0.8904 ms for delayed.
    const ChipProfile h800 = load_chip("h800", catalog);
    const Op op = gemm_op(8192, 8192, 8192);
    const auto seconds = [&](Fp8Recipe recipe) {
        return time_op(op, KernelContext{h800, Precision::fp8, Precision::bf16, 0, recipe}).forward.time.value();
    };
    const double main_delayed = 53.450 / (53.450 + 2.2);
    const double main_rowwise = 55.094 / (55.094 + 2.7);
    CHECK(seconds(Fp8Recipe::delayed) ==
          Approx(2.0 * 8192.0 * 8192 * 8192 / (1978.9e12 * 0.67 * 2048.0 / 2112.0 * main_delayed)).epsilon(1e-4));
    CHECK(seconds(Fp8Recipe::tensorwise) == Approx(seconds(Fp8Recipe::delayed)));
    CHECK(seconds(Fp8Recipe::rowwise) == Approx(seconds(Fp8Recipe::delayed) * (0.67 * main_delayed) / (0.65 * main_rowwise)).epsilon(1e-4));
    CHECK(seconds(Fp8Recipe::blockwise) == Approx(seconds(Fp8Recipe::delayed) * (0.67 * main_delayed) / 0.53).epsilon(1e-4));
    // The H800 has no MXFP8 kernels (Blackwell's): the kernel model names the missing figure.
    CHECK_THROWS_WITH(seconds(Fp8Recipe::mxfp8), Catch::Contains("efficiency.gemm_mxfp8"));
    // The B200 has them: 0.51 of its 4,500 TFLOP/s FP8 peak (b200.toml). 8192³: 2,048 tiles on 148 SMs, 14 waves (2,072 slots).
    const ChipProfile b200 = load_chip("b200", catalog);
    const double mx = time_op(op, KernelContext{b200, Precision::fp8, Precision::bf16, 0, Fp8Recipe::mxfp8}).forward.time.value();
    CHECK(mx == Approx(2.0 * 8192.0 * 8192 * 8192 / (4500e12 * 0.51 * 2048.0 / 2072.0)));
    // BF16 GEMMs ignore the recipe.
    CHECK(time_op(op, KernelContext{h800, Precision::bf16, Precision::bf16, 0, Fp8Recipe::mxfp8}).forward.time.value() ==
          Approx(time_op(op, KernelContext{h800}).forward.time.value()));
}

TEST_CASE("gradient accumulation outside the GEMM adds its bytes per parameter to the weight-gradient pass", "[kernel]") {
    // Bytes per parameter per micro-batch, BF16 parameters (p = 2) and an FP32 buffer (g = 4):
    //   add = p + 2g = 2 + 8 = 10; cast-add = p + 2g + 2g = 18 (the .to() temporary written and read back);
    //   with BF16 gradients (g = 2) the cast is a no-op: cast-add = add = 2 + 4 = 6.
    MixedPrecision mixed;  // bf16 parameters, fp32 gradients
    CHECK(accumulation_bytes_per_parameter(GradientAccumulation::fused, mixed) == 0.0);
    CHECK(accumulation_bytes_per_parameter(GradientAccumulation::add, mixed) == 10.0);
    CHECK(accumulation_bytes_per_parameter(GradientAccumulation::cast_add, mixed) == 18.0);
    MixedPrecision bf16_grads;
    bf16_grads.gradients = Precision::bf16;
    CHECK(accumulation_bytes_per_parameter(GradientAccumulation::cast_add, bf16_grads) == 6.0);
    CHECK(to_string(GradientAccumulation::cast_add) == "cast-add");

    // A 4096 × 4096 × 4096 GEMM holds k·n = 16,777,216 parameters. Under cast-add its weight-gradient pass gains
    // 16,777,216 × 18 B / (3.35e12 B/s × 0.85) = 106.05 µs; forward and input gradient are unchanged.
    const ChipProfile chip = h100_like();
    const KernelContext fused{chip};
    KernelContext unfused{chip};
    unfused.accumulation_bytes_per_parameter = 18.0;
    const Op op = gemm_op(4096, 4096, 4096);
    const OpTime a = time_op(op, fused);
    const OpTime b = time_op(op, unfused);
    CHECK((b.backward_weight.time - a.backward_weight.time).value() == Approx(16777216.0 * 18 / (3.35e12 * 0.85)).epsilon(1e-9));
    CHECK((b.backward_weight.time - a.backward_weight.time).value() == Approx(106.05e-6).epsilon(1e-3));
    CHECK(b.forward.time.value() == a.forward.time.value());
    CHECK(b.backward_input.time.value() == a.backward_input.time.value());

    // An op without a weight-gradient GEMM (a norm with h = 4,096 gains) adds to its backward: 4,096 × 18 B at
    // the same rate = 25.89 ns; an op without parameters adds nothing.
    Op norm;
    norm.name = "test.norm";
    norm.kind = OpKind::elementwise;
    norm.read = Bytes(4096.0 * 4096 * 2);
    norm.written = Bytes(4096.0 * 4096 * 2);
    norm.parameters = 4096;
    CHECK((time_op(norm, unfused).backward_input.time - time_op(norm, fused).backward_input.time).value() ==
          Approx(4096.0 * 18 / (3.35e12 * 0.85)).epsilon(1e-9));
    norm.parameters = 0;
    CHECK(time_op(norm, unfused).backward_input.time.value() == time_op(norm, fused).backward_input.time.value());
}
