#include <gpuhours/analysis/plan.hpp>

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/training/schedule.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

namespace gpuhours {

std::string_view to_string(CandidateFate f) {
    switch (f) {
        case CandidateFate::rejected_by_rule: return "rejected by rule";
        case CandidateFate::rejected_by_memory: return "rejected by memory";
        case CandidateFate::pruned_by_bound: return "pruned by bound";
        case CandidateFate::failed_in_simulation: return "failed in simulation";
        case CandidateFate::simulated: return "simulated";
        case CandidateFate::feasible: return "feasible";
    }
    return "?";
}

LayoutKey layout_key(const ParallelLayout& l) {
    return {l.tensor, l.context, l.pipeline, l.data, l.expert, l.expert_tensor_degree(), l.micro_batch,
            static_cast<int>(l.schedule), l.virtual_stages, static_cast<int>(l.recompute)};
}

namespace {

std::string schedule_text(const ParallelLayout& l) {
    const std::string combined = l.combined_1f1b ? " + combined 1F1B" : "";
    if (l.schedule == Schedule::interleaved) return fmt::format("interleaved×{}{}", l.virtual_stages, combined);
    return std::string(to_string(l.schedule)) + combined;
}

}  // namespace

std::string describe_layout(const ParallelLayout& l) {
    return fmt::format("{} mb{} {} recompute={}", describe_degrees(l), l.micro_batch, schedule_text(l), to_string(l.recompute));
}

// ---- the search space ---------------------------------------------------------------------------------------

namespace {

std::vector<int> divisors(long long n, long long up_to) {
    std::vector<int> out;
    for (long long d = 1; d <= std::min(n, up_to); ++d) {
        if (n % d == 0) out.push_back(static_cast<int>(d));
    }
    return out;
}

void require_positive(const std::vector<int>& values, const char* axis) {
    for (int v : values) {
        if (v < 1) throw Error(fmt::format("layout search: {} = {} must be at least 1", axis, v));
    }
}

struct Axes {
    std::vector<int> tensor, context, pipeline, expert, expert_tensor, micro_batch, virtual_stages;
    std::vector<Recompute> recompute;
    std::vector<Schedule> schedules;
};

Axes axes_of(const Scenario& s, const PlanSpace& space) {
    if (space.max_micro_batch < 1) throw Error("layout search: max_micro_batch must be at least 1");
    if (space.max_virtual_stages < 2 && space.virtual_stages.empty()) {
        throw Error("layout search: max_virtual_stages must be at least 2");
    }
    Axes a;
    a.tensor = space.tensor.empty() ? divisors(s.cluster.gpus_per_node, s.cluster.gpus) : space.tensor;
    a.pipeline = space.pipeline.empty() ? divisors(s.cluster.gpus, s.model.layers) : space.pipeline;
    if (!space.context.empty()) {
        a.context = space.context;
    } else {
        a.context = {1};
        const int seq = s.training.sequence_length;
        if (seq >= 16384 || s.parallel.context > 1) {
            for (int cp : {2, 4, 8, 16}) {
                if (seq % cp == 0) a.context.push_back(cp);
            }
            a.context.push_back(s.parallel.context);
        }
    }
    if (!space.expert.empty()) a.expert = space.expert;
    else if (s.model.moe) a.expert = divisors(s.model.moe->routed_experts, s.model.moe->routed_experts);
    else a.expert = {1};
    if (!s.model.moe) a.expert_tensor = {0};
    else if (!space.expert_tensor.empty()) a.expert_tensor = space.expert_tensor;
    // The scenario's, and ETP 1 (folded wherever tensor > 1) when the scenario has sequence parallelism, which a
    // folded layout with tensor > 1 needs (the candidates keep the scenario's choice; without it the rules would
    // refuse every folded candidate).
    else if (s.parallel.sequence_parallel) a.expert_tensor = {s.parallel.expert_tensor, 1};
    else a.expert_tensor = {s.parallel.expert_tensor};
    if (!space.micro_batch.empty()) {
        a.micro_batch = space.micro_batch;
    } else {
        for (int mb = 1; mb <= space.max_micro_batch; mb *= 2) a.micro_batch.push_back(mb);
    }
    if (!space.virtual_stages.empty()) {
        a.virtual_stages = space.virtual_stages;
    } else {
        for (int v = 2; v <= space.max_virtual_stages; ++v) a.virtual_stages.push_back(v);
    }
    a.recompute = space.recompute.empty() ? std::vector<Recompute>{Recompute::none, Recompute::selective, Recompute::full}
                                          : space.recompute;
    a.schedules = space.schedules.empty()
                      ? std::vector<Schedule>{Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved,
                                              Schedule::zero_bubble, Schedule::dualpipe}
                      : space.schedules;
    for (auto* axis : {&a.tensor, &a.context, &a.pipeline, &a.expert, &a.expert_tensor, &a.micro_batch, &a.virtual_stages}) {
        std::sort(axis->begin(), axis->end());
        axis->erase(std::unique(axis->begin(), axis->end()), axis->end());
    }
    require_positive(a.tensor, "tensor");
    require_positive(a.context, "context");
    require_positive(a.pipeline, "pipeline");
    require_positive(a.expert, "expert");
    if (!space.expert_tensor.empty() && s.model.moe) require_positive(a.expert_tensor, "expert_tensor");
    require_positive(a.micro_batch, "micro_batch");
    require_positive(a.virtual_stages, "virtual_stages");
    auto dedupe = [](auto& v) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    };
    dedupe(a.recompute);
    dedupe(a.schedules);
    return a;
}

// (schedule, virtual stages) pairs enumerated for `pipeline` stages of a model with `layers` layers.
std::vector<std::pair<Schedule, int>> schedule_variants(const Axes& a, int pipeline, int layers) {
    std::vector<std::pair<Schedule, int>> out;
    auto has = [&](Schedule x) { return std::find(a.schedules.begin(), a.schedules.end(), x) != a.schedules.end(); };
    if (pipeline == 1) {
        // One stage: every schedule runs the same passes; only the plain order is kept.
        if (has(Schedule::gpipe) || has(Schedule::one_f_one_b) || has(Schedule::zero_bubble)) {
            out.emplace_back(Schedule::one_f_one_b, 1);
        }
        return out;
    }
    for (Schedule sch : a.schedules) {
        switch (sch) {
            case Schedule::gpipe:
            case Schedule::one_f_one_b:
            case Schedule::zero_bubble: out.emplace_back(sch, 1); break;
            case Schedule::dualpipe:
                if (pipeline % 2 == 0) out.emplace_back(sch, 1);
                break;
            case Schedule::interleaved:
                for (int v : a.virtual_stages) {
                    // At least one layer per chunk; chunks that do not divide the layers split them as run does
                    // (the default split, within one layer of each other: Llama 3 405B's 126 layers on PP16 × 2).
                    if (v >= 2 && 1LL * pipeline * v <= layers) out.emplace_back(sch, v);
                }
                break;
        }
    }
    return out;
}

// The (expert, expert_tensor) pairs of a candidate with tensor degree `tp`: expert_tensor equal to tp is stored as 0
// (unfolded), once (the default axis {0, 1} gives the unfolded layout twice when tp is 1).
std::vector<std::pair<int, int>> expert_pairs(const Axes& a, int tp) {
    std::vector<std::pair<int, int>> out;
    for (const int ep : a.expert) {
        for (const int et : a.expert_tensor) {
            const std::pair<int, int> pair{ep, et == tp ? 0 : et};
            if (std::find(out.begin(), out.end(), pair) == out.end()) out.push_back(pair);
        }
    }
    return out;
}

}  // namespace

std::vector<ParallelLayout> enumerate_layouts(const Scenario& s, const PlanSpace& space) {
    const Axes a = axes_of(s, space);
    std::vector<ParallelLayout> out;
    const long long gpus = s.cluster.gpus;
    for (int tp : a.tensor) {
        for (int cp : a.context) {
            for (int pp : a.pipeline) {
                const long long model_parallel = 1LL * tp * cp * pp;
                if (gpus % model_parallel != 0) continue;  // no whole data degree
                const auto variants = schedule_variants(a, pp, s.model.layers);
                for (const auto& [ep, et] : expert_pairs(a, tp)) {
                    for (int mb : a.micro_batch) {
                        for (Recompute rc : a.recompute) {
                            for (const auto& [schedule, v] : variants) {
                                ParallelLayout l = s.parallel;
                                l.tensor = tp;
                                l.context = cp;
                                l.pipeline = pp;
                                l.data = static_cast<int>(gpus / model_parallel);
                                l.expert = ep;
                                l.expert_tensor = et;
                                l.micro_batch = mb;
                                l.recompute = rc;
                                // The scenario's recompute refinements apply to their own mode only: its
                                // recompute_num_layers to full, its recompute_modules to selective (a candidate without
                                // recomputation kept N and was refused by rule: a researcher's read).
                                if (rc != Recompute::full) l.recompute_num_layers = 0;
                                if (rc != Recompute::selective) l.recompute_modules = 0;
                                l.schedule = schedule;
                                l.virtual_stages = v;
                                // The scenario's layer split holds for its own chunk count only; other counts split evenly.
                                if (pp != s.parallel.pipeline || v != s.parallel.virtual_stages) l.layers_per_chunk.clear();
                                l.sequence_parallel = s.parallel.sequence_parallel && tp > 1;
                                l.tp_comm_overlap = s.parallel.tp_comm_overlap && l.sequence_parallel;
                                // The scenario's combined 1F1B where the candidate can take it (an expert all-to-all,
                                // and 1F1B rounds to pair: interleaved, or 1F1B on one stage); off elsewhere.
                                l.combined_1f1b = s.parallel.combined_1f1b && ep > 1 && combined_1f1b_pairs(schedule, pp);
                                // The scenario's shared-expert overlap where an all-to-all runs and no schedule
                                // overlaps it with another micro-batch (DualPipe) instead.
                                l.moe_shared_expert_overlap =
                                    s.parallel.moe_shared_expert_overlap && ep > 1 && schedule != Schedule::dualpipe;
                                out.push_back(l);
                            }
                        }
                    }
                }
            }
        }
    }
    return out;
}

// ---- the lower bound ----------------------------------------------------------------------------------------

namespace {

SimTime to_sim(Seconds s) { return SimTime::from_seconds(s); }

// Compute-stream time of one micro-batch through one model chunk, summed per op and rounded per op to whole
// picoseconds exactly as the step builder does (so the bound never exceeds the simulation by a rounding).
struct ChunkCompute {
    SimTime forward;
    SimTime backward;   // input + weight gradient + recomputation
    SimTime recompute;  // the part of `backward` spent recomputing
};

// Under tensor-parallel communication overlap the step runs a GEMM beside a TP collective as several
// (step_passes.cpp: t of M / t rows, or kPipelineSplits of N / kPipelineSplits columns beside a pipelined
// reduce-scatter), which may take less time than the whole GEMM (a chunk of few tiles is split along K and fills the
// waves better). For any GEMM next to a TP collective: the least of the whole GEMM's and the two splits' forward and
// input-gradient times (the chunks together, their launch gaps left out), on either SM count (`overlap`: with the
// SMs the pipelined reduce-scatter takes), so that the bound stays below whichever the step uses. `whole` otherwise.
OpTime overlap_split(const StepSpec& spec, const Op& op, const KernelContext& kernel, const KernelContext& overlap,
                     const OpTime& whole) {
    const int t = spec.layout.tensor;
    const bool beside = op.before.kind == Collective::tp_all_gather || op.after.kind == Collective::tp_reduce_scatter;
    if (!spec.layout.tp_comm_overlap || op.kind != OpKind::gemm || !op.gemm || t < 2 || !beside) return whole;
    OpTime least = whole;
    for (const KernelContext* context : {&kernel, &overlap}) {
        for (const auto& [chunks, split] : {std::pair{t, GemmSplit::rows}, std::pair{kPipelineSplits, GemmSplit::columns}}) {
            const OpTime one = time_op(gemm_chunk(op, chunks, split), *context);
            least.forward.time = std::min(least.forward.time, one.forward.time * static_cast<double>(chunks));
            least.backward_input.time = std::min(least.backward_input.time, one.backward_input.time * static_cast<double>(chunks));
        }
    }
    return least;
}

std::vector<ChunkCompute> chunk_compute(const StepSpec& spec, int chunks) {
    const ParallelLayout& layout = spec.layout;
    const MicroBatchShape shape{spec.sequence_length, layout.micro_batch, AttentionMask::causal};
    const std::vector<Block> blocks = model_ops(spec.model, layout, spec.precision, shape);
    const KernelContext kernel = kernel_context(spec, layout.communication_sms);
    const KernelContext overlap = kernel_context(spec, layout.communication_sms + (layout.tp_comm_overlap ? layout.tp_comm_overlap_sms : 0));
    const auto layers = chunk_layers(spec.model, chunks, layout.layers_per_chunk);
    std::vector<int> chunk_of_layer(static_cast<std::size_t>(spec.model.layers), 0);
    for (std::size_t c = 0; c < layers.size(); ++c) {
        for (int l : layers[c]) chunk_of_layer[static_cast<std::size_t>(l)] = static_cast<int>(c);
    }
    // Kernel launches as the step builder times them (step_passes.cpp): a GPU gap per kernel, and a block's pass
    // waits for the host when its kernels launch slower than they run.
    const SimTime gap = to_sim(spec.cluster.chip.launch_gap);
    const SimTime host = spec.cuda_graphs ? SimTime::zero() : to_sim(spec.cluster.chip.launch_host);
    const auto launched = [&](SimTime busy, std::int64_t kernels) { return std::max(busy, host * kernels); };
    std::vector<ChunkCompute> out(static_cast<std::size_t>(chunks));
    for (const Block& block : blocks) {
        int chunk = 0;
        switch (block.kind) {
            case BlockKind::embedding: chunk = 0; break;
            case BlockKind::dense_layer:
            case BlockKind::moe_layer: chunk = chunk_of_layer[static_cast<std::size_t>(block.layer)]; break;
            case BlockKind::mtp:
            case BlockKind::head: chunk = chunks - 1; break;
        }
        SimTime forward, backward, recompute;
        std::int64_t backward_kernels = 0;
        for (const Op& op : block.ops) {
            const OpTime t = time_op(op, kernel);
            const OpTime least = overlap_split(spec, op, kernel, overlap, t);  // never above t
            forward += to_sim(least.forward.time) + gap;
            backward += to_sim(least.backward_input.time) + gap;
            ++backward_kernels;
            if (t.backward_weight.time.value() > 0.0) {
                backward += to_sim(t.backward_weight.time) + gap;
                ++backward_kernels;
            }
            if (!block.full_recompute && op.recompute.value() > 0.0) {
                recompute += to_sim(t.recompute) + gap;
                ++backward_kernels;
            }
        }
        forward = launched(forward, static_cast<std::int64_t>(block.ops.size()));
        // Full recomputation replays the block's forward (the layers the layout recomputes, as the step builder
        // does); otherwise the ops' own recompute times (selective).
        SimTime pass = launched(backward + recompute, backward_kernels);
        if (block.full_recompute) {
            recompute = forward;
            pass = launched(backward, backward_kernels) + recompute;
        } else {
            recompute = pass - backward;  // a launch stall counted with the recomputation it precedes: a bound only
        }
        ChunkCompute& c = out[static_cast<std::size_t>(chunk)];
        c.forward += forward;
        c.backward += pass;
        c.recompute += recompute;
    }
    return out;
}

}  // namespace

Seconds step_time_lower_bound(const StepSpec& spec) {
    const ParallelLayout& l = spec.layout;
    const long long per_step = 1LL * l.data * l.micro_batch;
    if (spec.global_batch <= 0 || per_step <= 0 || spec.global_batch % per_step != 0) {
        throw Error(fmt::format("global batch {} is not a multiple of data × micro_batch = {}", spec.global_batch, per_step));
    }
    const auto m = static_cast<std::int64_t>(spec.global_batch / per_step);
    const int p = l.pipeline;
    const bool interleaved = l.schedule == Schedule::interleaved;
    const bool dual = l.schedule == Schedule::dualpipe;
    const int chunks = interleaved ? p * l.virtual_stages : p;
    const std::vector<ChunkCompute> c = chunk_compute(spec, chunks);
    // prefix_forward[k] = Σ_{j<k} forward of chunk j (one micro-batch); likewise backward.
    std::vector<SimTime> prefix_forward(static_cast<std::size_t>(chunks) + 1), prefix_backward(static_cast<std::size_t>(chunks) + 1);
    for (std::size_t k = 0; k < c.size(); ++k) {
        prefix_forward[k + 1] = prefix_forward[k] + c[k].forward;
        prefix_backward[k + 1] = prefix_backward[k] + c[k].backward;
    }
    auto work = [&](int chunk, std::int64_t micro_batches) {
        const ChunkCompute& x = c[static_cast<std::size_t>(chunk)];
        return (x.forward + x.backward) * micro_batches;
    };
    SimTime bound;
    for (int s = 0; s < p; ++s) {
        SimTime head, busy, tail;
        if (dual) {
            // Stage s runs chunk s for the m/2 micro-batches entering at stage 0 and chunk p−1−s for the m/2
            // entering at stage p−1; its first op waits for the shorter of the two forward chains.
            busy = work(s, m / 2) + work(p - 1 - s, m / 2);
            head = std::min(prefix_forward[static_cast<std::size_t>(s)], prefix_forward[static_cast<std::size_t>(p - 1 - s)]);
        } else {
            // Stage s holds chunks s, s + p, … (one chunk unless interleaved); every one runs all m micro-batches.
            for (int chunk = s; chunk < chunks; chunk += p) busy += work(chunk, m);
            head = prefix_forward[static_cast<std::size_t>(s)];
            // GPipe, 1F1B and interleaved end every stage with the backward of its first chunk (checked against
            // the generated orders in tests/plan/plan_test.cpp); that micro-batch's backward then still runs
            // through chunks s−1, …, 0. Zero-bubble may end with weight passes, so no tail is claimed for it.
            if (l.schedule != Schedule::zero_bubble) tail = prefix_backward[static_cast<std::size_t>(s)];
        }
        bound = std::max(bound, head + busy + tail);
    }
    return bound.to_seconds();
}

// ---- the search ---------------------------------------------------------------------------------------------

namespace {

// Runs f(i) for i in [0, n) on up to `threads` threads (dynamic assignment; results must be stored by index).
// The exception of the lowest index that threw is rethrown, so the error reported does not depend on timing.
template <class F>
void parallel_for(std::size_t n, unsigned threads, F&& f) {
    if (n == 0) return;
    const unsigned workers = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(n)));
    std::atomic<std::size_t> next{0};
    std::vector<std::exception_ptr> errors(n);
    auto body = [&] {
        for (std::size_t i = next++; i < n; i = next++) {
            try {
                f(i);
            } catch (...) {
                errors[i] = std::current_exception();
            }
        }
    };
    if (workers == 1) {
        body();
    } else {
        std::vector<std::thread> pool;
        pool.reserve(workers);
        for (unsigned t = 0; t < workers; ++t) pool.emplace_back(body);
        for (auto& th : pool) th.join();
    }
    for (const auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }
}

StepSpec spec_for(const Scenario& s, const ParallelLayout& layout) {
    StepSpec spec = step_spec_of(s);
    spec.layout = layout;
    spec.mode = SimulationMode::symmetric;
    return spec;
}

// Rules, memory and bound of one candidate (everything before simulation). `scratch` is a copy of the scenario
// whose layout is overwritten.
void screen(PlanCandidate& c, Scenario& scratch) {
    const ParallelLayout& l = c.layout;
    scratch.parallel = l;
    const int gb = scratch.training.global_batch;
    const long long per_step = 1LL * l.data * l.micro_batch;
    c.micro_batches = gb % per_step == 0 ? static_cast<int>(gb / per_step) : 0;
    try {
        validate_layout(scratch);
    } catch (const Error& e) {
        c.fate = CandidateFate::rejected_by_rule;
        c.reason = e.message();
        return;
    }
    if (const auto error = pipeline_shape_error(l.schedule, l.pipeline, c.micro_batches, l.virtual_stages, l.combined_1f1b)) {
        c.fate = CandidateFate::rejected_by_rule;
        c.reason = error->message();
        return;
    }
    try {
        MemoryOptions memory;
        memory.micro_batches = c.micro_batches;
        memory.attention_kernel = scratch.training.attention_kernel;
        memory.dropout = scratch.training.dropout;
        const MicroBatchShape shape{scratch.training.sequence_length, l.micro_batch, AttentionMask::causal};
        c.fit = check_fit(scratch.model, l, scratch.training.precision, shape, scratch.cluster.chip.memory_capacity, memory);
        if (!c.fit->fits) {
            const auto largest = c.fit->breakdown.largest_term();
            c.fate = CandidateFate::rejected_by_memory;
            c.reason = fmt::format("needs {} per GPU on pipeline rank {}, the chip has {} (largest term: {}, {})",
                                   format_bytes(c.fit->breakdown.total()), c.fit->breakdown.stage,
                                   format_bytes(c.fit->capacity), largest.name, format_bytes(largest.bytes));
            return;
        }
        c.lower_bound = step_time_lower_bound(spec_for(scratch, l));
    } catch (const Error& e) {
        // The workload's own shape rules (e.g. a dimension the tensor degree does not divide).
        c.fate = CandidateFate::rejected_by_rule;
        c.reason = e.message();
        return;
    }
    c.fate = CandidateFate::feasible;
}

struct TermValue {
    std::string name;
    Seconds value;
};

std::vector<TermValue> terms_of(const StepBreakdown& b) {
    std::vector<TermValue> t{{"compute", b.compute}, {"recompute", b.recompute}, {"optimizer", b.optimizer},
                             {"pipeline bubble", b.bubble}};
    for (CommAxis a : kCommAxes) {
        t.push_back({fmt::format("exposed {} communication", to_string(a)), b.exposed[static_cast<std::size_t>(a)]});
    }
    return t;
}


}  // namespace

std::vector<std::string> layout_changes(const ParallelLayout& from, const ParallelLayout& to) {
    std::vector<std::string> out;
    auto degree = [&](const char* name, int a, int b) {
        if (a != b) out.push_back(fmt::format("{} {} → {}", name, a, b));
    };
    degree("tensor", from.tensor, to.tensor);
    degree("context", from.context, to.context);
    degree("pipeline", from.pipeline, to.pipeline);
    degree("data", from.data, to.data);
    degree("expert", from.expert, to.expert);
    // Unset, the expert-tensor degree follows `tensor` and says nothing more (a dense model's plan listed
    // "expert tensor 2 → 1" beside "tensor 2 → 1": a new user's read).
    if (from.expert_tensor > 0 || to.expert_tensor > 0) {
        degree("expert tensor", from.expert_tensor_degree(), to.expert_tensor_degree());
    }
    degree("micro-batch", from.micro_batch, to.micro_batch);
    if (from.schedule != to.schedule || from.virtual_stages != to.virtual_stages) {
        out.push_back(fmt::format("schedule {} → {}", schedule_text(from), schedule_text(to)));
    }
    if (from.recompute != to.recompute) {
        out.push_back(fmt::format("recompute {} → {}", to_string(from.recompute), to_string(to.recompute)));
    }
    return out;
}

PlanCandidate screen_layout(const Scenario& s, const ParallelLayout& layout) {
    Scenario scratch = s;
    PlanCandidate c;
    c.layout = layout;
    screen(c, scratch);
    return c;
}

namespace {

// Every layout of the space as a candidate; the scenario's own layout found in the space by its key, or appended.
PlanResult enumerate_candidates(const Scenario& s, const PlanOptions& options) {
    PlanResult result;
    result.top = options.top;
    for (const ParallelLayout& l : enumerate_layouts(s, options.space)) {
        PlanCandidate c;
        c.layout = l;
        result.candidates.push_back(std::move(c));
    }
    result.counts.enumerated = result.candidates.size();
    const LayoutKey own_key = layout_key(s.parallel);
    const auto own = std::find_if(result.candidates.begin(), result.candidates.end(),
                                  [&](const PlanCandidate& c) { return layout_key(c.layout) == own_key; });
    result.scenario_in_space = own != result.candidates.end();
    if (result.scenario_in_space) {
        result.scenario_index = static_cast<std::size_t>(own - result.candidates.begin());
    } else {
        PlanCandidate c;
        c.layout = s.parallel;
        result.candidates.push_back(std::move(c));
        result.scenario_index = result.candidates.size() - 1;
    }
    result.candidates[result.scenario_index].scenario_layout = true;
    return result;
}

// Rules, memory and bound: closed forms, all candidates, in parallel (one scenario copy per task chunk).
void screen_all(const Scenario& s, PlanResult& result, unsigned threads) {
    const std::size_t n = result.candidates.size();
    const std::size_t block = 64;
    parallel_for((n + block - 1) / block, threads, [&](std::size_t b) {
        Scenario scratch = s;
        for (std::size_t i = b * block; i < std::min(n, (b + 1) * block); ++i) screen(result.candidates[i], scratch);
    });
}

// Survivors simulated in ascending order of their bound (ties: LayoutKey), the scenario's layout first and never
// pruned, in waves; once `top` step times are known, a candidate whose bound exceeds the top-th best is pruned
// with everything after it.
void simulate_in_bound_order(const Scenario& s, PlanResult& result, const PlanOptions& options, unsigned threads) {
    std::vector<std::size_t> queue;
    for (std::size_t i = 0; i < result.candidates.size(); ++i) {
        if (i != result.scenario_index && result.candidates[i].fate == CandidateFate::feasible) queue.push_back(i);
    }
    std::sort(queue.begin(), queue.end(), [&](std::size_t a, std::size_t b) {
        const auto& x = result.candidates[a];
        const auto& y = result.candidates[b];
        if (x.lower_bound != y.lower_bound) return x.lower_bound < y.lower_bound;
        return layout_key(x.layout) < layout_key(y.layout);
    });
    if (result.candidates[result.scenario_index].fate == CandidateFate::feasible) {
        queue.insert(queue.begin(), result.scenario_index);
    }

    std::vector<Seconds> times;  // simulated step times so far, for the threshold
    // Collective and send times kept across the candidates (a pure function of the cluster, the network model and
    // the ranks; CommTimeCache): candidates on one placement time each collective once, and those that differ only
    // in their expert degrees share the sends and the groups without experts.
    CommTimeCache comm_times;
    auto threshold = [&] {
        if (!options.prune || times.size() < static_cast<std::size_t>(options.top)) {
            return Seconds(std::numeric_limits<double>::infinity());
        }
        std::vector<Seconds> sorted = times;
        std::nth_element(sorted.begin(), sorted.begin() + (options.top - 1), sorted.end());
        return sorted[static_cast<std::size_t>(options.top - 1)];
    };
    // Without pruning no threshold is read between waves: one wave of everything keeps every thread busy to the
    // end (waves of 4 on 2 threads left one idle at each wave's end, 15 % of `plan --exhaustive`'s wall time).
    const std::size_t wave_size = options.prune ? static_cast<std::size_t>(options.wave) : queue.size();
    std::atomic<std::size_t> settled{0};  // simulated or pruned, for on_progress
    bool pruned_rest = false;              // the bound ended the queue: done once this wave is simulated
    std::size_t next = 0;
    while (next < queue.size()) {
        const Seconds limit = threshold();
        std::vector<std::size_t> wave;
        while (next < queue.size() && wave.size() < wave_size) {
            const std::size_t i = queue[next];
            if (i != result.scenario_index && result.candidates[i].lower_bound > limit) {
                // Sorted by bound: this candidate and everything after it are pruned.
                for (; next < queue.size(); ++next) result.candidates[queue[next]].fate = CandidateFate::pruned_by_bound;
                pruned_rest = true;
                break;
            }
            wave.push_back(i);
            ++next;
        }
        parallel_for(wave.size(), threads, [&](std::size_t k) {
            PlanCandidate& c = result.candidates[wave[k]];
            if (options.on_simulate) options.on_simulate(c.layout);
            try {
                c.step = simulate_step(spec_for(s, c.layout), &comm_times);
                check_step_figures(*c.step);
                c.fate = CandidateFate::simulated;
            } catch (const Error& e) {
                c.fate = CandidateFate::failed_in_simulation;
                c.reason = e.message();
            }
            if (options.on_progress) options.on_progress(++settled, queue.size());
        });
        for (std::size_t i : wave) {
            if (result.candidates[i].step) times.push_back(result.candidates[i].step->step_time);
        }
        if (pruned_rest && options.on_progress) options.on_progress(queue.size(), queue.size());
    }
}

// Counts (over the search space; the scenario's layout is counted only when inside it).
void count_fates(PlanResult& result) {
    for (std::size_t i = 0; i < result.candidates.size(); ++i) {
        if (!result.scenario_in_space && i == result.scenario_index) continue;
        switch (result.candidates[i].fate) {
            case CandidateFate::rejected_by_rule: ++result.counts.rejected_by_rule; break;
            case CandidateFate::rejected_by_memory: ++result.counts.rejected_by_memory; break;
            case CandidateFate::pruned_by_bound: ++result.counts.pruned_by_bound; break;
            case CandidateFate::failed_in_simulation: ++result.counts.failed_in_simulation; break;
            case CandidateFate::simulated: ++result.counts.simulated; break;
            case CandidateFate::feasible: break;  // every feasible candidate was simulated or pruned above
        }
    }
}

// Ranking: simulated candidates by step time, ties by LayoutKey; the scenario layout's rank, exact unless a pruned
// candidate's bound leaves room to be faster than it.
void rank_candidates(PlanResult& result) {
    for (std::size_t i = 0; i < result.candidates.size(); ++i) {
        // The scenario's layout outside the search space is compared, not counted: it takes no rank from the others.
        if (!result.scenario_in_space && i == result.scenario_index) continue;
        if (result.candidates[i].step) result.ranking.push_back(i);
    }
    const auto faster = [&](std::size_t a, std::size_t b) {
        const auto& x = result.candidates[a];
        const auto& y = result.candidates[b];
        if (x.step->step_time != y.step->step_time) return x.step->step_time < y.step->step_time;
        return layout_key(x.layout) < layout_key(y.layout);
    };
    std::sort(result.ranking.begin(), result.ranking.end(), faster);
    const PlanCandidate& mine = result.candidates[result.scenario_index];
    if (mine.step) {
        // Its place among the ranked: itself when inside the space, else where it would stand.
        const auto pos = static_cast<std::size_t>(
            result.scenario_in_space
                ? std::find(result.ranking.begin(), result.ranking.end(), result.scenario_index) - result.ranking.begin()
                : std::partition_point(result.ranking.begin(), result.ranking.end(),
                                       [&](std::size_t i) { return faster(i, result.scenario_index); }) -
                      result.ranking.begin());
        std::size_t could_be_faster = 0;
        for (const auto& c : result.candidates) {
            if (c.fate == CandidateFate::pruned_by_bound && c.lower_bound <= mine.step->step_time) ++could_be_faster;
        }
        result.scenario_rank_at_least = pos + 1;
        if (could_be_faster == 0) result.scenario_rank = pos + 1;
    }
}

// Why the runner-up loses: each breakdown term of the two best layouts, the largest difference, the layout changes.
void explain_runner_up(PlanResult& result) {
    if (result.ranking.size() < 2) return;
    const PlanCandidate& winner = result.candidates[result.ranking[0]];
    const PlanCandidate& second = result.candidates[result.ranking[1]];
    RunnerUpExplanation why;
    why.difference = second.step->step_time - winner.step->step_time;
    const auto w = terms_of(winner.step->breakdown);
    const auto r = terms_of(second.step->breakdown);
    for (std::size_t k = 0; k < w.size(); ++k) {
        why.terms.push_back(TermDifference{w[k].name, w[k].value, r[k].value});
        if (why.terms[k].difference() > why.terms[why.largest].difference()) why.largest = k;
    }
    why.changes = layout_changes(winner.layout, second.layout);
    result.runner_up = std::move(why);
}

}  // namespace

PlanResult plan_layouts(const Scenario& s, const PlanOptions& options) {
    if (options.top < 1) throw Error(fmt::format("layout search: top = {} must be at least 1", options.top));
    if (options.wave < 1) throw Error(fmt::format("layout search: wave = {} must be at least 1", options.wave));
    const unsigned threads = options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    PlanResult result = enumerate_candidates(s, options);
    screen_all(s, result, threads);
    simulate_in_bound_order(s, result, options, threads);
    count_fates(result);
    rank_candidates(result);
    explain_runner_up(result);
    return result;
}

}  // namespace gpuhours
