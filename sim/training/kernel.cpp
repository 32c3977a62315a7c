#include <gpuhours/units/error.hpp>
#include <gpuhours/training/kernel.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace gpuhours {

namespace {

// FlashAttention's backward runs 5 matrix products (S = Q·Kᵀ recomputed, dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K,
// dK = dSᵀ·Q) against the forward's 2 (Dao 2023, FlashAttention-2, arXiv 2307.08691 §4.1 counts backward as
// 2.5 × forward FLOPs). The workload's model backward is 2 × forward, so the kernel executes 2.5 / 2 = 1.25 ×
// the model backward FLOPs. The catalog's `attention` efficiency is read in the same executed-FLOPs terms that
// FlashAttention benchmarks report, so both passes use it unchanged.
constexpr double kAttentionBackwardExecutedPerModel = 2.5 / 2.0;

// Bytes of one FP32 partial sum of a split-K GEMM (written by each slice, read back by the reduction).
constexpr double kSplitKPartialBytes = 4.0;

Error missing_figure(const ChipProfile& chip, std::string_view key, std::string_view example) {
    return Error(fmt::format("chip \"{}\" has no usable efficiency.{} for the kernel model", chip.id, key),
                 fmt::format("set `{} = {{ value = {}, source = \"…\" }}` in the [efficiency] table of its catalog "
                             "entry",
                             key, example));
}

void require_fraction(const ChipProfile& chip, double value, std::string_view key) {
    if (!(value > 0.0 && value <= 1.0)) throw missing_figure(chip, key, "0.8");
}

long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

PassTime roofline(Seconds compute, Bytes bytes, const ChipProfile& chip, double clock_factor) {
    require_fraction(chip, chip.efficiency.memory, "memory");
    if (!(chip.memory_bandwidth.value() > 0.0)) {
        throw Error(fmt::format("chip \"{}\" has no memory bandwidth", chip.id),
                    "set [memory] bandwidth in its catalog entry");
    }
    PassTime pass;
    pass.compute = compute / clock_factor;
    pass.memory = bytes / (chip.memory_bandwidth * chip.efficiency.memory);
    pass.bound = pass.compute > pass.memory ? Bound::compute : Bound::memory;  // a tie (0 = 0) is memory
    pass.time = std::max(pass.compute, pass.memory);
    return pass;
}

// One GEMM kernel of `shape` doing `flops` and moving `bytes` (before split-K's partial sums).
PassTime gemm_pass(const GemmShape& shape, Flops flops, Bytes bytes, const KernelContext& context) {
    const GemmEfficiency e = gemm_efficiency(shape, context);
    const FlopsPerSecond rate = context.chip.peak(context.gemm_precision) * e.total;
    if (e.split_k > 1) {
        const double outputs = static_cast<double>(shape.m) * static_cast<double>(shape.n) *
                               static_cast<double>(shape.count);
        bytes += Bytes(2.0 * static_cast<double>(e.split_k) * outputs * kSplitKPartialBytes);
    }
    return roofline(flops / rate, bytes, context.chip, context.clock_factor);
}

OpTime time_gemm(const Op& op, const KernelContext& context) {
    if (!op.gemm) {
        throw Error(fmt::format("GEMM operator \"{}\" has no shape", op.name),
                    "the workload gives every gemm and grouped_gemm op a GemmShape");
    }
    const GemmShape& shape = *op.gemm;
    const Bytes bytes = op.read + op.written;  // each of the three GEMMs touches A, B and C once
    // A GEMM the FP8 recipe leaves in BF16 (op.fp8 false in an FP8 step: the output head, which DeepSeek-V3 keeps
    // in BF16, arXiv 2412.19437 §3.3.1, as Megatron-Core's non-TE output layer does) runs at BF16's peak and figure.
    KernelContext own = context;
    if (context.gemm_precision == Precision::fp8 && !op.fp8) own.gemm_precision = Precision::bf16;
    OpTime t;
    t.forward = gemm_pass(shape, op.forward, bytes, own);
    t.backward_input = gemm_pass(input_gradient_shape(shape), op.backward * 0.5, bytes, own);
    t.backward_weight = gemm_pass(weight_gradient_shape(shape), op.backward * 0.5, bytes, own);
    return t;
}

OpTime time_attention(const Op& op, const KernelContext& context) {
    const ChipProfile& chip = context.chip;
    require_fraction(chip, chip.efficiency.attention, "attention");
    // The catalog's figure at its reference shape, times the measured shape dependence at this call's shape.
    const double shape = op.attention_shape ? chip.efficiency.attention_shape.factor(op.attention_shape->sequence,
                                                                                       op.attention_shape->head_dim)
                                            : 1.0;
    const FlopsPerSecond rate = chip.peak(context.attention_precision) * (chip.efficiency.attention * shape);
    OpTime t;
    t.forward = roofline(op.forward / rate, op.read + op.written, chip, context.clock_factor);
    // Backward reads Q, K, V (op.read), O and dO (2 × op.written) and writes dQ, dK, dV (op.read).
    t.backward_input = roofline(op.backward * kAttentionBackwardExecutedPerModel / rate,
                                op.read * 2.0 + op.written * 2.0, chip, context.clock_factor);
    return t;
}

OpTime time_memory_bound(const Op& op, const KernelContext& context) {
    OpTime t;
    t.forward = roofline(Seconds(0.0), op.read + op.written, context.chip, 1.0);
    // Backward reads dY (op.written) and the saved input X (op.read), writes dX (op.read) — unless the op says
    // what it moves (an FP8 quantisation op: the cast of dY).
    t.backward_input = roofline(Seconds(0.0), op.backward_bytes ? *op.backward_bytes : op.read * 2.0 + op.written,
                                context.chip, 1.0);
    return t;
}

}  // namespace

int available_sms(const KernelContext& context) {
    const ChipProfile& chip = context.chip;
    if (chip.sm_count <= 0) {
        throw Error(fmt::format("chip \"{}\" has no SM count", chip.id), "set [compute] sm_count in its catalog entry");
    }
    if (context.reserved_sms < 0 || context.reserved_sms >= chip.sm_count) {
        throw Error(fmt::format("{} SMs reserved for communication on chip \"{}\", which has {}", context.reserved_sms,
                                chip.id, chip.sm_count),
                    fmt::format("reserve between 0 and {} SMs (DeepSeek-V3 reserves 20 of 132)", chip.sm_count - 1));
    }
    return chip.sm_count - context.reserved_sms;
}

GemmShape input_gradient_shape(const GemmShape& forward) {
    return GemmShape{forward.m, forward.k, forward.n, forward.count};
}

GemmShape weight_gradient_shape(const GemmShape& forward) {
    return GemmShape{forward.k, forward.n, forward.m, forward.count};
}

namespace {

// The efficiency of `shape` tiled tile_m × tile_n (gemm_efficiency's model, one tiling); `large_gemm` the family's
// figure, `overhead` its fixed time per tile.
GemmEfficiency tiled_efficiency(const GemmShape& shape, const KernelContext& context, long long tile_m, long long tile_n,
                                double large_gemm, Seconds overhead) {
    const ChipProfile& chip = context.chip;
    GemmEfficiency e;
    e.tile_n = tile_n;
    e.sms = available_sms(context);
    const long long rows = ceil_div(shape.m, tile_m);
    const long long cols = ceil_div(shape.n, tile_n);
    e.tiles = shape.count * rows * cols;
    e.tile_fraction = (static_cast<double>(shape.m) / static_cast<double>(rows * tile_m)) *
                      (static_cast<double>(shape.n) / static_cast<double>(cols * tile_n));
    // Split-K: with fewer tiles than free SMs, each tile's inner dimension is cut into slices of at least
    // tile_m (so a slice's main loop stays at least as long as the tile is tall), one slice per SM.
    if (e.tiles < e.sms) e.split_k = std::clamp<long long>(e.sms / e.tiles, 1, std::max(1LL, shape.k / tile_m));
    const long long units = e.tiles * e.split_k;
    e.waves = ceil_div(units, e.sms);
    e.wave_fraction = static_cast<double>(units) / (static_cast<double>(e.waves) * chip.sm_count);
    e.total = large_gemm * e.tile_fraction * e.wave_fraction;
    // The family's fixed time per tile (GemmTileOverhead) beside the tile's main loop over its K slice, which runs
    // at the family's figure on one SM: 2 · tile_m · tile_n · (K / split_k) / (peak × figure / SMs).
    if (overhead.value() > 0.0) {
        const double per_sm = chip.peak(context.gemm_precision).value() * large_gemm / static_cast<double>(chip.sm_count);
        const double slice = static_cast<double>(shape.k) / static_cast<double>(e.split_k);
        const double main_loop = 2.0 * static_cast<double>(tile_m * tile_n) * slice / per_sm;
        e.main_loop_fraction = main_loop / (main_loop + overhead.value());
        e.total *= e.main_loop_fraction;
    }
    return e;
}

}  // namespace

GemmEfficiency gemm_efficiency(const GemmShape& shape, const KernelContext& context) {
    const ChipProfile& chip = context.chip;
    if (shape.m <= 0 || shape.n <= 0 || shape.k <= 0 || shape.count <= 0) {
        throw Error(fmt::format("GEMM shape m = {}, n = {}, k = {}, count = {} has a dimension below 1", shape.m,
                                shape.n, shape.k, shape.count));
    }
    const Fp8Recipe recipe = context.gemm_precision == Precision::fp8
                                 ? (context.fp8_recipe == Fp8Recipe::none ? Fp8Recipe::delayed : context.fp8_recipe)
                                 : Fp8Recipe::none;
    const double large_gemm = chip.efficiency.fp8_gemm(recipe);
    require_fraction(chip, large_gemm, fp8_efficiency_key(recipe));
    if (chip.efficiency.gemm_tile_m <= 0) throw missing_figure(chip, "gemm_tile_m", "128");
    if (chip.efficiency.gemm_tile_n <= 0) throw missing_figure(chip, "gemm_tile_n", "256");
    const Seconds overhead = chip.efficiency.gemm_tile_overhead.of(recipe);
    const GemmEfficiency wide = tiled_efficiency(shape, context, chip.efficiency.gemm_tile_m, chip.efficiency.gemm_tile_n,
                                                 large_gemm, overhead);
    if (chip.efficiency.gemm_tile_n_narrow <= 0 || chip.efficiency.gemm_tile_n_narrow >= chip.efficiency.gemm_tile_n) return wide;
    const GemmEfficiency narrow = tiled_efficiency(shape, context, chip.efficiency.gemm_tile_m,
                                                   chip.efficiency.gemm_tile_n_narrow, large_gemm, overhead);
    return narrow.split_k == 1 && narrow.total > wide.total ? narrow : wide;
}

std::string_view to_string(Bound b) {
    switch (b) {
        case Bound::compute: return "compute";
        case Bound::memory: return "memory";
    }
    return "?";
}

std::string_view to_string(GradientAccumulation g) {
    switch (g) {
        case GradientAccumulation::fused: return "fused";
        case GradientAccumulation::add: return "add";
        case GradientAccumulation::cast_add: return "cast-add";
    }
    return "?";
}

double accumulation_bytes_per_parameter(GradientAccumulation g, const MixedPrecision& precision) {
    const double p = bytes_per_element(precision.parameters);
    const double b = bytes_per_element(precision.gradients);
    switch (g) {
        case GradientAccumulation::fused: return 0.0;
        case GradientAccumulation::add: return p + 2.0 * b;
        case GradientAccumulation::cast_add: return p + 2.0 * b + (precision.parameters != precision.gradients ? 2.0 * b : 0.0);
    }
    return 0.0;
}

std::string describe_gradient_accumulation(GradientAccumulation g, const MixedPrecision& precision,
                                           std::string_view separator) {
    if (g == GradientAccumulation::fused) return "";
    return fmt::format("{}gradients accumulated by {} kernels after each micro-batch, {:g} B per parameter", separator,
                       to_string(g), accumulation_bytes_per_parameter(g, precision));
}

OpTime time_op(const Op& op, const KernelContext& context) {
    OpTime t;
    switch (op.kind) {
        case OpKind::gemm:
        case OpKind::grouped_gemm: t = time_gemm(op, context); break;
        case OpKind::attention: t = time_attention(op, context); break;
        case OpKind::elementwise:
        case OpKind::embedding:
        case OpKind::loss: t = time_memory_bound(op, context); break;
    }
    if (op.forward.value() > 0.0) t.recompute = t.forward.time * (op.recompute / op.forward);
    if (context.accumulation_bytes_per_parameter > 0.0 && op.parameters > 0.0) {
        // The accumulation kernel after the op's gradient: its own memory-bound pass, added to the pass that
        // produces the gradient (the weight-gradient GEMM's, else the op's backward).
        const PassTime add = roofline(Seconds(0.0), Bytes(op.parameters * context.accumulation_bytes_per_parameter),
                                      context.chip, 1.0);
        PassTime& into = t.gradient_pass();
        into.time += add.time;
        into.memory += add.memory;
        t.accumulation = add.time;
    }
    return t;
}

Op gemm_chunk(const Op& op, int chunks, GemmSplit split) {
    if (!op.gemm || chunks < 1) {
        throw Error(fmt::format("operator \"{}\" cannot be split into {} GEMMs", op.name, chunks),
                    "split a GEMM with a shape into one or more chunks");
    }
    Op c = op;
    const double n = static_cast<double>(chunks);
    const double m_rows = static_cast<double>(op.gemm->m), n_cols = static_cast<double>(op.gemm->n);
    const double activations = m_rows / (m_rows + n_cols);  // of op.read: A[m×k] against B[k×n]
    if (split == GemmSplit::rows) {
        c.gemm->m = ceil_div(op.gemm->m, chunks);
        c.read = op.read * ((1.0 - activations) + activations / n);
    } else {
        c.gemm->n = ceil_div(op.gemm->n, chunks);
        c.read = op.read * (activations + (1.0 - activations) / n);
    }
    c.written = op.written / n;
    c.forward = op.forward / n;
    c.backward = op.backward / n;
    c.recompute = op.recompute / n;
    c.parameters = 0.0;
    return c;
}

BlockTime time_block(const Block& block, const KernelContext& context) {
    BlockTime b;
    b.ops.reserve(block.ops.size());
    for (const Op& op : block.ops) {
        OpTime t = time_op(op, context);
        b.forward += t.forward.time;
        b.backward_input += t.backward_input.time;
        b.backward_weight += t.backward_weight.time;
        b.recompute += t.recompute;
        if (t.forward.bound == Bound::memory) b.forward_memory_bound += t.forward.time;
        b.ops.push_back(std::move(t));
    }
    return b;
}

}  // namespace gpuhours
