// What a run is made of (run_inputs.hpp), and the check that it can finish (analysis/evaluation.hpp,
// require_run_can_finish).
#include <gpuhours/analysis/evaluation.hpp>

#include "run_inputs.hpp"

#include <gpuhours/scenario/limits.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

namespace gpuhours {
namespace detail {

namespace {

// The batch-ramp levels of a ramping phase as planned (the batch at each level's midpoint) and as run (rounded down
// to the schedule's steps, at least the least batch it takes, at most the phase's own), with that least batch.
struct RampLevels {
    std::vector<std::pair<double, int>> planned_and_run;
    long long least = 0;
};

RampLevels ramp_levels(const PhaseSpec& ph) {
    RampLevels out;
    const ParallelLayout& l = ph.parallel;
    const long long per_replica = 1LL * l.data * l.micro_batch;
    const int steps_of = l.schedule == Schedule::dualpipe ? 2 : l.schedule == Schedule::interleaved ? l.pipeline : 1;
    const long long unit = per_replica * steps_of;
    out.least = l.schedule == Schedule::dualpipe ? per_replica * 2 * l.pipeline : unit;
    for (int j = 0; j < kRampLevels; ++j) {
        const double mid = ph.ramp->from + (ph.training.global_batch - ph.ramp->from) * (j + 0.5) / kRampLevels;
        const long long rounded = std::max(out.least, static_cast<long long>(mid) / unit * unit);
        // Never past the phase's own batch, which the scenario layer checked against the schedule.
        out.planned_and_run.emplace_back(mid, static_cast<int>(std::min<long long>(rounded, ph.training.global_batch)));
    }
    return out;
}

}  // namespace

std::vector<std::pair<int, double>> levels_of(const PhaseSpec& ph) {
    std::vector<std::pair<int, double>> levels;
    double ramp_tokens = 0;
    if (ph.ramp) {
        ramp_tokens = ph.ramp->tokens;
        for (const auto& [planned, batch] : ramp_levels(ph).planned_and_run) levels.emplace_back(batch, ramp_tokens / kRampLevels);
    }
    levels.emplace_back(ph.training.global_batch, ph.tokens - ramp_tokens);
    return levels;
}

}  // namespace detail

std::optional<std::string> raised_ramp_note(const PhaseSpec& ph) {
    if (!ph.ramp || ph.quoted_gpu_hours) return std::nullopt;
    const detail::RampLevels r = detail::ramp_levels(ph);
    std::vector<std::string> raised;
    for (const auto& [planned, batch] : r.planned_and_run) {
        if (planned < static_cast<double>(r.least) && batch == r.least) raised.push_back(with_commas(planned));
    }
    if (raised.empty()) return std::nullopt;
    const ParallelLayout& l = ph.parallel;
    return fmt::format("{}: the batch ramp's level{} at {} sequences {} below the least batch the {} schedule takes with data = {} "
                       "and micro_batch = {} ({}{}), so {} at {}",
                       ph.name, raised.size() == 1 ? "" : "s", fmt::join(raised, ", "), raised.size() == 1 ? "is" : "are",
                       to_string(l.schedule), with_commas(l.data), l.micro_batch, with_commas(static_cast<double>(r.least)),
                       l.schedule == Schedule::dualpipe ? fmt::format(": 2 × pipeline = {} micro-batches per replica", 2 * l.pipeline) : "",
                       raised.size() == 1 ? "it runs" : "they run", with_commas(static_cast<double>(r.least)));
}

double planned_steps(const Scenario& s, bool rounded) {
    double steps = 0.0;
    for (const PhaseSpec& ph : s.phases) {
        if (ph.quoted_gpu_hours) continue;
        for (const auto& [batch, tokens] : detail::levels_of(ph)) {
            if (tokens <= 0) continue;
            const double level = tokens / (static_cast<double>(batch) * ph.training.sequence_length);
            steps += rounded ? std::round(level) : level;
        }
    }
    return steps;
}

namespace detail {

bool pieces_need_many_tries(const RunInputs& run) {
    const ReliabilityModel& m = run.reliability;
    const std::optional<Seconds> mttf = job_mttf(m, run.gpus, run.gpus_per_host);
    if (!mttf) return false;
    const double cost = m.async_checkpoint ? 0.0 : m.checkpoint_write.value();
    return checkpoint_interval(run).value() + cost + m.restart_time.value() > mttf->value();
}

void require_supported_interruptions(const Scenario& s, const RunInputs& run, std::string_view why) {
    const Seconds wall = expected_run_wall_clock(run);
    const double n = expected_interruptions(run.reliability, run.gpus, run.gpus_per_host, wall);
    if (n <= limits::kInterruptionsMax) return;
    // Pieces of work that need many tries each (checkpoint interval, write and restart longer than the job's MTTF) make
    // the count the reliability figures', located at the restart (else the interval); pieces that mostly finish make
    // it the run's length, the tokens' (an audit: restart_time = "10 years" was located at the tokens, and 10^18
    // tokens at a restart time the file wrote).
    const ReliabilityModel& m = run.reliability;
    const SourceRef at = m.restart_where.known() ? m.restart_where : m.interval_where;
    if (pieces_need_many_tries(run) && at.known()) {
        const double cost = m.async_checkpoint ? 0.0 : m.checkpoint_write.value();
        throw ScenarioError(at,
                            fmt::format("the run expects {:.3g} interruptions over {:.3g} days: each piece of work needs "
                                        "many tries, its checkpoint interval, write and restart ({:.3g} s) outlasting the "
                                        "job's mean time between interruptions ({:.3g} s): beyond the supported range of "
                                        "interruptions (limit {:g}){}",
                                        n, wall.value() / 86400.0, checkpoint_interval(run).value() + cost + m.restart_time.value(),
                                        job_mttf(m, run.gpus, run.gpus_per_host)->value(), limits::kInterruptionsMax, why),
                            "shorten the restart (reliability.restart_time, or its parts) or the checkpoint interval, or "
                            "check the failure rates");
    }
    throw ScenarioError(run_length_source(s),
                        fmt::format("the run expects {:.3g} interruptions over {:.3g} days: beyond the supported range of "
                                    "interruptions (limit {:g}; published runs have hundreds to thousands, and each is played "
                                    "in every Monte Carlo sample and replay){}",
                                    n, wall.value() / 86400.0, limits::kInterruptionsMax, why),
                        "check the training tokens for a wrong unit or exponent, and the failure rates");
}

ReliabilityModel reliability_of(const Scenario& s) {
    ReliabilityModel model{s.reliability.failures, restart_time_of(s), checkpoint_write_time(s),
                           s.reliability.async_checkpoint, s.reliability.checkpoint_interval, {}, {}, {}};
    model.restart_where = s.sources.at("reliability.restart_time", {});
    // A composed restart: the first of its parts the scenario writes (a catalog's own are not the user's to fix).
    for (const char* key : {"reliability.detect", "reliability.replace", "reliability.init_per_gpu", "reliability.init_per_gpu_squared",
                            "reliability.read_bandwidth"}) {
        if (!model.restart_where.known()) model.restart_where = s.sources.at(key, {});
    }
    model.write_where = s.sources.at("reliability.checkpoint_write", s.sources.at("reliability.storage_bandwidth", {}));
    model.interval_where = s.sources.at("reliability.checkpoint_interval", {});
    return model;
}

}  // namespace detail

namespace {

// A lower bound on one training token's compute time on one GPU, s: its GEMM FLOPs at the fastest GEMM rate the
// chip has (BF16's peak times the GEMM efficiency, or the compute format's peak times its GEMM efficiency, for FP8
// the recipe's), its attention FLOPs at the larger of the two peaks times the attention efficiency. The kernel model
// never runs faster (training/kernel.hpp: tile and wave quantisation, SMs taken by communication, and power caps only
// slow a kernel). 0 where a figure is missing (the kernel model refuses the chip then).
double shortest_token_time(const ChipProfile& chip, const MixedPrecision& p, const FlopsPerToken& f) {
    auto peak_of = [&](Precision q) {
        const auto it = chip.peak_dense.find(q);
        return it == chip.peak_dense.end() ? 0.0 : it->second.value();
    };
    const Fp8Recipe recipe =
        p.compute == Precision::fp8 ? (p.fp8_recipe == Fp8Recipe::none ? Fp8Recipe::delayed : p.fp8_recipe) : Fp8Recipe::none;
    const double gemm = std::max(peak_of(Precision::bf16) * chip.efficiency.gemm, peak_of(p.compute) * chip.efficiency.fp8_gemm(recipe));
    const double attention = std::max(peak_of(Precision::bf16), peak_of(p.compute)) * chip.efficiency.attention;
    if (!(gemm > 0.0) || !(attention > 0.0)) return 0.0;
    return 3.0 * f.forward_matmul.value() / gemm + 3.0 * f.forward_attention.value() / attention;
}

}  // namespace

void require_run_can_finish(const Scenario& s) {
    RunInputs run;
    run.gpus = s.cluster.gpus;
    run.gpus_per_host = s.cluster.host_gpus();
    run.reliability = detail::reliability_of(s);
    // Asynchronous checkpoints are written back to back at most: a write finishes before the next snapshot is taken
    // (PyTorch's async save waits for the previous one), so an interval shorter than a write cannot run (an analyst's
    // read: an interval of 1 s beside a 60-s write of 5.4 TB, about 60 writes in flight, cut the lost work to
    // nothing).
    if (const ReliabilityModel& m = run.reliability;
        m.async_checkpoint && m.checkpoint_interval && *m.checkpoint_interval < m.checkpoint_write && !m.classes.empty()) {
        throw ScenarioError(m.interval_where.known() ? m.interval_where : s.sources.file,
                            fmt::format("an asynchronous checkpoint every {} is shorter than its write, {}: each write must "
                                        "finish before the next snapshot is taken",
                                        format_duration(*m.checkpoint_interval), format_duration(m.checkpoint_write)),
                            fmt::format("set reliability.checkpoint_interval to {} or more, or leave it out (asynchronous "
                                        "checkpoints then follow one another, one write time apart)",
                                        format_duration(m.checkpoint_write)));
    }
    run.overheads = run_overheads_of(s);
    for (const PhaseSpec& ph : s.phases) {
        if (ph.quoted_gpu_hours) continue;
        const int sequence = ph.training.sequence_length;
        const FlopsPerToken flops = training_flops_breakdown(s.model, sequence, AttentionMask::causal);
        const double flops_per_token = flops.total.value();
        const double peak = s.cluster.chip.peak(ph.training.precision.compute).value() * s.cluster.gpus;
        const double token_time = shortest_token_time(s.cluster.chip, ph.training.precision, flops);
        for (const auto& [batch, tokens] : detail::levels_of(ph)) {
            if (tokens <= 0 || !(peak > 0.0)) continue;
            const double tokens_per_step = static_cast<double>(batch) * sequence;
            // A step simulated on SimTime's picoseconds must last under about 106 days; this bound is what `check`
            // can know without simulating it (a step between the bound and the limit fails in `run`, located the same).
            const double shortest_step = tokens_per_step * token_time / s.cluster.gpus;
            if (shortest_step >= SimTime::kMaxSeconds) {
                throw ScenarioError(step_length_source(s),
                                    fmt::format("a step{} ({} sequences of {} tokens) takes at least {:.3g} s on {} GPUs even at the chip's peaks times "
                                                "its GEMM and attention efficiencies: beyond the supported range of simulated time (limit "
                                                "{:g} s, about 106 days)",
                                                s.phases_given ? fmt::format(" of phase \"{}\"", ph.name) : std::string(), batch,
                                                sequence, shortest_step, s.cluster.gpus, SimTime::kMaxSeconds),
                                    "check the chip's peaks and efficiencies, and the model and batch sizes, for a wrong unit or exponent");
            }
            run.segments.push_back(RunSegment{ph.name, tokens / tokens_per_step, Seconds(tokens_per_step * flops_per_token / peak), tokens});
        }
    }
    if (!run.segments.empty()) {
        // Pieces that mostly finish between interruptions (λ(τ + C + R) ≤ 1: each needs at most e ≈ 2.7 tries on
        // average) make a count beyond the limit the run's length, the tokens' to fix: judged first, so that it is not
        // blamed on the restart (an audit: training.tokens = 1e18 was located at the restart time).
        bool length_first = false;
        try {
            length_first = !detail::pieces_need_many_tries(run);
        } catch (const Error&) {
            // Inputs the run model refuses: require_run_finishes below says so, located.
        }
        if (length_first) detail::require_supported_interruptions(s, run);
        try {
            require_run_finishes(run);
        } catch (const Error& e) {
            // The rule couples the restart, the checkpoint interval and the failure rates. The run's own choice
            // (the restart when it is the longer stretch, else the interval, else the worst class) stands within one
            // file; a key of a later layer moves it there (a --set failure class over a base file's restart time is
            // the --set's mistake).
            const ReliabilityModel& m = run.reliability;
            SourceRef at = e.where();
            const auto consider = [&](const SourceRef& w) {
                if (w.known() && (!at.known() || (w.file != at.file && written_after(s, w, at)))) at = w;
            };
            consider(m.restart_where);
            if (m.checkpoint_interval) consider(m.interval_where);
            for (const FailureClass& c : m.classes) consider(c.where);
            throw Error(at, e.message(), e.hint());
        }
        detail::require_supported_interruptions(s, run);
    }
}

double shortest_compute_seconds(const Scenario& s, long long gpus) {
    double seconds = 0.0;
    for (const PhaseSpec& ph : s.phases) {
        if (ph.quoted_gpu_hours) continue;
        const FlopsPerToken flops = training_flops_breakdown(s.model, ph.training.sequence_length, AttentionMask::causal);
        const double token_time = shortest_token_time(s.cluster.chip, ph.training.precision, flops);
        for (const auto& level : detail::levels_of(ph)) seconds += level.second * token_time;
    }
    return seconds / static_cast<double>(std::max(1LL, gpus));
}

}  // namespace gpuhours
