"""Derives the Hopper catalog's GEMM figures and fixed times per tile (scenarios/chips/h200.toml: [efficiency] gemm,
gemm_fp8, gemm_fp8_rowwise and gemm_tile_overhead) from the measured rows in bench/gpu/results/h200-2026-11-30/,
read through the kernel model of sim/training/kernel.cpp, and prints how well each pair reproduces the rows, by
the inner dimension K each kernel executes. Needs no GPU: python3 bench/gpu/fit_gemm_tile_overhead.py [RESULTS_DIR]

The model of one GEMM kernel C[m×n] = A[m×k]·B[k×n] (kernel.hpp): 128 × 256 output tiles on 132 SMs, split-K when
there are fewer tiles than SMs (slices of at least 128 of K), tiles in waves, or 128 × 128 tiles (gemm_tile_n_narrow)
where those need no split-K and give the higher efficiency; efficiency = figure × tile fraction ×
wave fraction × L / (L + c), L = 2 · 128 · 256 · (K / split_k) / (peak × figure / 132) the main loop of one tile, c
the family's fixed time per tile; the time is the larger of FLOPs at that rate and bytes at 0.89 of 4.8 TB/s.
A gradient row of gemm.csv names its forward shape (m, n, k): dgrad runs m × k over n, wgrad k × n over m.

The fit takes the rows with M ≥ 2,048 and N ≥ 4,096 (the shapes the figure describes), searches c on a 0.1 µs grid
with the figure at the median of the rows' asymptotic efficiency, and keeps the c whose median error is flattest in
K. It prints that fit, then the catalog's pair (a near-flat fit of the same rows, chosen for its smaller median
error) and the model without a tile overhead, each with its errors by K; then the catalog's pair on the shorter
outputs (M = 256 and 1,024), with the narrow tile and without it."""
import csv
import math
import os
import statistics
import sys

PEAK = {"bf16": 989.4e12, "fp8": 1978.9e12}
SMS, TILE_M, TILE_N = 132, 128, 256
TILE_N_NARROW = 128  # gemm_tile_n_narrow (scenarios/chips/h200.toml)
HBM = 4.8e12 * 0.89


def executed(row):
    """(M, N, K) of the kernel a row timed."""
    m, n, k = int(row["m"]), int(row["n"]), int(row["k"])
    layout = row.get("layout", "fwd")
    if layout == "dgrad":
        return m, k, n
    if layout == "wgrad":
        return k, n, m
    return m, n, k


def tiled_parts(m, n, k, peak, figure, c, tile_n):
    """Quantisation (tile × wave fraction), main-loop fraction and split-K of one tiling, TILE_M × tile_n."""
    tiles = math.ceil(m / TILE_M) * math.ceil(n / tile_n)
    split = 1
    if tiles < SMS:
        split = max(1, min(SMS // tiles, max(1, k // TILE_M)))
    units = tiles * split
    waves = math.ceil(units / SMS)
    tile_fraction = (m / (math.ceil(m / TILE_M) * TILE_M)) * (n / (math.ceil(n / tile_n) * tile_n))
    main = 2 * TILE_M * tile_n * (k / split) / (peak * figure / SMS)
    return tile_fraction * units / (waves * SMS), main / (main + c * 1e-6), split


def efficiency_parts(m, n, k, peak, figure, c, narrow=TILE_N_NARROW):
    """As gemm_efficiency in kernel.cpp: the wide tiling, or the narrow one (gemm_tile_n_narrow; 0 for none) where it
    needs no split-K and its quantisation × main-loop fraction is higher."""
    wide = tiled_parts(m, n, k, peak, figure, c, TILE_N)
    if not narrow:
        return wide
    thin = tiled_parts(m, n, k, peak, figure, c, narrow)
    return thin if thin[2] == 1 and thin[0] * thin[1] > wide[0] * wide[1] else wide


def model_seconds(m, n, k, peak, figure, c, input_bytes, narrow=TILE_N_NARROW):
    quantised, main, split = efficiency_parts(m, n, k, peak, figure, c, narrow)
    compute = 2 * m * n * k / (peak * figure * quantised * main)
    moved = (m * k + k * n) * input_bytes + m * n * 2 + (2 * split * m * n * 4 if split > 1 else 0)
    return max(compute, moved / HBM)


def fit(rows, precision, input_bytes):
    large = [r for r in rows if r[0] >= 2048 and r[1] >= 4096]
    best = None
    for tenth in range(0, 60):
        c = tenth / 10
        asymptotic = sorted(tflops * 1e12 / PEAK[precision] / q / f
                            for (m, n, k, tflops) in large
                            for q, f, _ in [efficiency_parts(m, n, k, PEAK[precision], 0.7, c)])
        # The main-loop fraction depends on the figure itself; two passes settle it.
        figure = statistics.median(asymptotic)
        asymptotic = sorted(tflops * 1e12 / PEAK[precision] / q / f
                            for (m, n, k, tflops) in large
                            for q, f, _ in [efficiency_parts(m, n, k, PEAK[precision], figure, c)])
        figure = round(statistics.median(asymptotic), 3)
        by_k = {}
        for (m, n, k, tflops) in large:
            seconds = 2 * m * n * k / (tflops * 1e12)
            by_k.setdefault(k, []).append(model_seconds(m, n, k, PEAK[precision], figure, c, input_bytes) / seconds - 1)
        flatness = max(abs(statistics.median(v)) for v in by_k.values())
        if best is None or flatness < best[0]:
            best = (flatness, figure, c, by_k, asymptotic)
    return best


# The catalog's pairs (scenarios/chips/h200.toml, as h100.toml and h800.toml): figure, fixed time per tile in µs.
CATALOG = {"gemm": (0.725, 1.4), "gemm_fp8": (0.67, 2.2), "gemm_fp8_rowwise": (0.65, 2.7)}


def errors_by_k(rows, precision, input_bytes, figure, c):
    by_k = {}
    for (m, n, k, tflops) in rows:
        if m >= 2048 and n >= 4096:
            seconds = 2 * m * n * k / (tflops * 1e12)
            by_k.setdefault(k, []).append(model_seconds(m, n, k, PEAK[precision], figure, c, input_bytes) / seconds - 1)
    return by_k


def describe(label, by_k):
    errors = sorted(abs(e) for v in by_k.values() for e in v)
    print(f"  {label}: |error| median {statistics.median(errors):.1%}, 90th percentile {errors[int(0.9 * len(errors))]:.1%}; "
          "median error by K: " + ", ".join(f"{k}: {statistics.median(v):+.1%}" for k, v in sorted(by_k.items())))


def report(key, rows, precision, input_bytes):
    flatness, figure, c, by_k, asymptotic = fit(rows, precision, input_bytes)
    p10, p90 = asymptotic[len(asymptotic) // 10], asymptotic[9 * len(asymptotic) // 10]
    print(f"{key} ({sum(1 for r in rows if r[0] >= 2048 and r[1] >= 4096)} rows with M >= 2048, N >= 4096)")
    print(f"  flattest fit: figure {figure} (10th-90th percentile {p10:.3f}-{p90:.3f}), {c:.1f} us per tile")
    describe("flattest fit", by_k)
    cat_figure, cat_c = CATALOG[key]
    describe(f"catalog {cat_figure}, {cat_c} us", errors_by_k(rows, precision, input_bytes, cat_figure, cat_c))
    describe("without a tile overhead (figure at K >= 4096's median)",
             errors_by_k(rows, precision, input_bytes, {"gemm": 0.71, "gemm_fp8": 0.64, "gemm_fp8_rowwise": 0.62}[key], 0.0))
    # Outside the fit: the shorter outputs (M = 256 and 1,024, N >= 4,096), where the tiling decides, with the
    # catalog's pair, the narrow tile on and off.
    for narrow in (TILE_N_NARROW, 0):
        by_m = {}
        for (m, n, k, tflops) in rows:
            if m < 2048 and n >= 4096:
                seconds = 2 * m * n * k / (tflops * 1e12)
                by_m.setdefault(m, []).append(model_seconds(m, n, k, PEAK[precision], cat_figure, cat_c, input_bytes, narrow) / seconds - 1)
        print(f"  M < 2048, N >= 4096, catalog pair, {'narrow tile ' + str(narrow) if narrow else 'wide tile only'}: " +
              "; ".join(f"M = {m}: median {statistics.median(v):+.1%}, 90th percentile |error| "
                        f"{sorted(abs(e) for e in v)[int(0.9 * len(v))]:.1%} ({len(v)} rows)" for m, v in sorted(by_m.items())))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results", "h200-2026-11-30")
    with open(os.path.join(results, "gemm.csv")) as f:
        bf16 = [executed(r) + (float(r["tflops"]),) for r in csv.DictReader(f)]
    with open(os.path.join(results, "gemm_fp8.csv")) as f:
        fp8 = list(csv.DictReader(f))
    report("gemm", bf16, "bf16", 2)
    for scaling, key in (("tensorwise", "gemm_fp8"), ("rowwise", "gemm_fp8_rowwise")):
        rows = [executed(r) + (float(r["tflops"]),) for r in fp8 if r["scaling"] == scaling]
        report(key, rows, "fp8", 1)


if __name__ == "__main__":
    main()
