// The run layer: closed forms for interruptions and checkpointing, and the Monte Carlo play of one run.
//
// Model (Daly 2006, "A higher order estimate of the optimum checkpoint interval for restart dumps", FGCS 22):
// interruptions form a Poisson process of constant rate λ = Σ rate × units over wall-clock time and can strike at
// any moment — during work, during a blocking checkpoint write and during a restart. An interruption rolls the run
// back to the last completed checkpoint and costs a restart of R seconds (which a further interruption can cut
// short, starting it again). Work is checkpointed every τ seconds of productive time; the final piece of work after
// the last checkpoint only needs to finish (no checkpoint is written at the end).
//
// Deliberate approximations:
// - Checkpoints fall on exact multiples of τ of productive time, not on step boundaries (a step is seconds; τ is
//   minutes to hours). Segments (phases) run back to back and only add up to the work W; the failure rate does not
//   change between phases.
// - An asynchronous checkpoint costs nothing on the critical path but becomes durable `checkpoint_write` (δ) after
//   its snapshot: an interruption in that window rolls back to the last snapshot whose write had finished, one
//   interval (or more when δ > τ) further back, so an interruption loses τ/2 + δ of work on average instead of τ/2
//   (simulate_run; a reliability audit, session 49). The closed form (expected_wall_clock with C = 0) leaves that
//   extra loss out: it is what the checkpoint interval and the finishing check use, not the run's figures.
#include <gpuhours/units/error.hpp>
#include <gpuhours/run/run.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>

namespace gpuhours {

namespace {

bool finite_nonnegative(double v) { return std::isfinite(v) && v >= 0.0; }
bool finite_positive(double v) { return std::isfinite(v) && v > 0.0; }

void validate_units(int gpus, int gpus_per_host) {
    if (gpus <= 0) {
        throw Error(fmt::format("the run has {} GPUs; it needs at least one", gpus),
                    "set cluster.gpus to the number of GPUs in the job");
    }
    if (gpus_per_host <= 0) {
        throw Error(fmt::format("the run has {} GPUs per host; it needs at least one", gpus_per_host),
                    "set cluster.gpus_per_host to the GPUs in one server (8 for an HGX board, 4 for a GB200 compute tray)");
    }
}

void validate_model(const ReliabilityModel& model) {
    for (const FailureClass& c : model.classes) {
        if (!finite_nonnegative(c.rate_per_unit_hour)) {
            throw Error(fmt::format("failure class \"{}\" has a rate of {} per {}-hour; it must be a finite number of 0 "
                                    "or more",
                                    c.name, c.rate_per_unit_hour, c.per_node ? "node" : "GPU"),
                        "give reliability.failures a positive mtbf_per_gpu or mtbf_per_node, e.g. \"50700 h\"");
        }
    }
    if (!finite_nonnegative(model.restart_time.value())) {
        throw Error(fmt::format("the restart time is {} s; it must be a finite duration of 0 s or more",
                                model.restart_time.value()),
                    "set reliability.restart_time, e.g. \"15 min\"");
    }
    if (!finite_nonnegative(model.checkpoint_write.value())) {
        throw Error(fmt::format("the checkpoint write time is {} s; it must be a finite duration of 0 s or more",
                                model.checkpoint_write.value()),
                    "set reliability.checkpoint_write, e.g. \"1 min\"");
    }
    if (model.checkpoint_interval && !finite_positive(model.checkpoint_interval->value())) {
        throw Error(fmt::format("the checkpoint interval is {} s; it must be a positive finite duration",
                                model.checkpoint_interval->value()),
                    "set reliability.checkpoint_interval, e.g. \"30 min\", or leave it out for the Young/Daly optimum");
    }
}

void validate_inputs(const RunInputs& inputs) {
    validate_units(inputs.gpus, inputs.gpus_per_host);
    for (const RunOverhead& o : inputs.overheads) {
        if (!finite_nonnegative(o.fraction)) {
            throw Error(fmt::format("the run overhead \"{}\" is {} of step time; it must be a finite fraction of 0 or more",
                                    o.name, o.fraction),
                        "set the overhead's fraction in [reliability.overheads], e.g. 0.02");
        }
    }
    if (inputs.segments.empty()) {
        throw Error("the run has no segments", "give the run at least one phase with steps and a step time");
    }
    for (const RunSegment& s : inputs.segments) {
        if (!finite_nonnegative(s.steps)) {
            throw Error(fmt::format("phase \"{}\" has {} steps; it needs a finite number of 0 or more", s.phase, s.steps),
                        "check the phase's tokens and batch size");
        }
        if (!finite_positive(s.step_time.value())) {
            throw Error(fmt::format("phase \"{}\" has a step time of {} s; it must be positive and finite", s.phase,
                                    s.step_time.value()),
                        "check the phase's parallel layout and batch: the step simulator gave no usable time");
        }
    }
    validate_model(inputs.reliability);
}

// Interruptions per second of the whole job: Σ rate × units / 3600. Units are GPUs, or host servers (the classes
// given per node; a partly filled host counts as one).
double job_rate_per_second(const ReliabilityModel& model, int gpus, int gpus_per_host) {
    const double hosts = std::ceil(static_cast<double>(gpus) / static_cast<double>(gpus_per_host));
    double per_hour = 0.0;
    for (const FailureClass& c : model.classes) {
        per_hour += c.rate_per_unit_hour * (c.per_node ? hosts : static_cast<double>(gpus));
    }
    return per_hour / 3600.0;
}

// The key responsible for a run that cannot finish: the restart time when it is the longer stretch that must pass
// without an interruption, else the given checkpoint interval, else the failure class with the highest rate.
SourceRef never_finishes_where(const ReliabilityModel& model, double cycle, double restart) {
    if (restart >= cycle && model.restart_where.known()) return model.restart_where;
    if (model.checkpoint_interval && model.interval_where.known()) return model.interval_where;
    const FailureClass* worst = nullptr;
    for (const FailureClass& c : model.classes) {
        if (worst == nullptr || c.rate_per_unit_hour > worst->rate_per_unit_hour) worst = &c;
    }
    return worst != nullptr ? worst->where : SourceRef{};
}

// A count for a message: "1.2e+08", or "more than 10^308" when it overflowed.
std::string count_text(double count) {
    return std::isfinite(count) ? fmt::format("{:.3g}", count) : std::string("more than 10^308");
}

// Σ steps × step time: the steady state, without overheads.
Seconds steady_work(const RunInputs& inputs) {
    Seconds w;
    for (const RunSegment& s : inputs.segments) w += s.step_time * s.steps;
    return w;
}

double overhead_factor(const RunInputs& inputs) {
    double f = 1.0;
    for (const RunOverhead& o : inputs.overheads) f += o.fraction;
    return f;
}

// The work to be done: the steady state lengthened by the overheads.
Seconds total_work(const RunInputs& inputs) { return steady_work(inputs) * overhead_factor(inputs); }

Seconds shortest_step(const RunInputs& inputs) {
    Seconds best(std::numeric_limits<double>::infinity());
    for (const RunSegment& s : inputs.segments) best = std::min(best, s.step_time);
    return best;
}

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31U);
}

}  // namespace

double expected_interruptions(const ReliabilityModel& model, int gpus, int gpus_per_host, Seconds wall_clock) {
    validate_units(gpus, gpus_per_host);
    validate_model(model);
    if (!finite_nonnegative(wall_clock.value())) {
        throw Error(fmt::format("the wall-clock time is {} s; it must be a finite duration of 0 s or more",
                                wall_clock.value()),
                    "give the run's duration, e.g. \"54 days\"");
    }
    return job_rate_per_second(model, gpus, gpus_per_host) * wall_clock.value();
}

std::optional<Seconds> job_mttf(const ReliabilityModel& model, int gpus, int gpus_per_host) {
    validate_units(gpus, gpus_per_host);
    validate_model(model);
    const double rate = job_rate_per_second(model, gpus, gpus_per_host);
    if (rate <= 0.0) return std::nullopt;  // no classes, or only zero rates: the job never fails
    return Seconds(1.0 / rate);
}

Seconds young_daly_interval(Seconds checkpoint_write, Seconds mttf) {
    if (!finite_nonnegative(checkpoint_write.value())) {
        throw Error(fmt::format("the checkpoint write time is {} s; it must be a finite duration of 0 s or more",
                                checkpoint_write.value()),
                    "set reliability.checkpoint_write, e.g. \"1 min\"");
    }
    if (!finite_positive(mttf.value())) {
        throw Error(fmt::format("the mean time to interruption is {} s; it must be positive and finite", mttf.value()),
                    "check the failure rates in reliability.failures");
    }
    // Young 1974, Daly 2006 first order: τ = √(2 δ M).
    return Seconds(std::sqrt(2.0 * checkpoint_write.value() * mttf.value()));
}

// The interval the run uses:
// - the given one;
// - the whole run (work W) when the job never fails;
// - blocking: Young/Daly √(2 δ M);
// - asynchronous: the closed form with C = 0 only improves as τ shrinks, so checkpoint as often as a write can
//   finish: τ = δ, back-to-back writes (DeepSeek LLM's 5-minute async saves are of this kind).
// A computed interval is never shorter than one step (a checkpoint needs a step boundary).
Seconds checkpoint_interval(const RunInputs& inputs) {
    validate_inputs(inputs);
    const ReliabilityModel& model = inputs.reliability;
    if (model.checkpoint_interval) return *model.checkpoint_interval;
    const Seconds step = shortest_step(inputs);
    const std::optional<Seconds> mttf = job_mttf(model, inputs.gpus, inputs.gpus_per_host);
    if (!mttf) return std::max(total_work(inputs), step);
    const Seconds candidate =
        model.async_checkpoint ? model.checkpoint_write : young_daly_interval(model.checkpoint_write, *mttf);
    return std::max(candidate, step);
}

// Derivation (renewal–reward, Daly 2006 eq. 11 without the first-order truncation). A piece needs t = τ + C seconds
// without an interruption; interruptions arrive at rate λ = 1/M. Let T be the time to get through the piece and
// X ~ Exp(λ) the time to the next interruption. Either X ≥ t (probability e^{−λt}) and T = t, or X < t and
// T = X + (time to finish a restart) + T', with T' an independent copy of T. A restart needs R seconds without an
// interruption and starts again after each one, so by the same argument with no restart-after-restart term its
// expected time is E[min(X,R)] / P(X ≥ R) = (1 − e^{−λR})/λ · e^{λR} = (e^{λR} − 1)/λ. With
// E[min(X,t)] = (1 − e^{−λt})/λ:
//   E[T] = (1 − e^{−λt})/λ + (1 − e^{−λt}) · ((e^{λR} − 1)/λ + E[T])
//   E[T] · e^{−λt} = (1 − e^{−λt}) · e^{λR}/λ
//   E[T] = M · e^{R/M} · (e^{t/M} − 1).
// W/τ pieces give E[T_total] = M · e^{R/M} · (e^{(τ+C)/M} − 1) · W/τ, as the header states. (The simulation writes
// no checkpoint after the final piece, so it expects C less for that piece; the difference is one term.)
Seconds expected_wall_clock(Seconds work, Seconds mttf, Seconds interval, Seconds checkpoint_cost, Seconds restart) {
    if (!finite_nonnegative(work.value())) {
        throw Error(fmt::format("the work is {} s; it must be a finite duration of 0 s or more", work.value()),
                    "give the productive time of the run (Σ steps × step time)");
    }
    if (!finite_positive(mttf.value())) {
        throw Error(fmt::format("the mean time to interruption is {} s; it must be positive and finite", mttf.value()),
                    "check the failure rates in reliability.failures");
    }
    if (!finite_positive(interval.value())) {
        throw Error(fmt::format("the checkpoint interval is {} s; it must be positive and finite", interval.value()),
                    "set reliability.checkpoint_interval, e.g. \"30 min\"");
    }
    if (!finite_nonnegative(checkpoint_cost.value()) || !finite_nonnegative(restart.value())) {
        throw Error(fmt::format("the checkpoint cost ({} s) and restart time ({} s) must be finite durations of 0 s or more",
                                checkpoint_cost.value(), restart.value()),
                    "set reliability.checkpoint_write and reliability.restart_time, e.g. \"1 min\" and \"15 min\"");
    }
    const double m = mttf.value();
    // expm1 keeps the small-(τ+C)/M case accurate (it tends to (τ+C)·W/τ, the failure-free time).
    const double per_piece = m * std::exp(restart.value() / m) * std::expm1((interval + checkpoint_cost).value() / m);
    return Seconds(per_piece * (work / interval));
}

Seconds expected_run_wall_clock(const RunInputs& inputs) {
    validate_inputs(inputs);
    const ReliabilityModel& model = inputs.reliability;
    const auto mttf = job_mttf(model, inputs.gpus, inputs.gpus_per_host);
    if (!mttf) return total_work(inputs);
    return expected_wall_clock(total_work(inputs), *mttf, checkpoint_interval(inputs),
                               model.async_checkpoint ? Seconds(0.0) : model.checkpoint_write, model.restart_time);
}

// A run that would practically never finish (each piece or restart far longer than the time between
// interruptions: e^{λ(τ+C+R)} attempts) is a mistake in the inputs, not something to play.
void require_run_finishes(const RunInputs& inputs) {
    validate_inputs(inputs);
    const ReliabilityModel& model = inputs.reliability;
    const double work = total_work(inputs).value();
    const double rate = job_rate_per_second(model, inputs.gpus, inputs.gpus_per_host);
    if (work <= 0.0 || rate <= 0.0) return;
    const double tau = checkpoint_interval(inputs).value();
    const double cost = model.async_checkpoint ? 0.0 : model.checkpoint_write.value();
    const double restart = model.restart_time.value();
    const double cycle = tau + cost;
    const Seconds expected = expected_wall_clock(Seconds(work), Seconds(1.0 / rate), Seconds(tau), Seconds(cost), Seconds(restart));
    if (!(rate * expected.value() <= 1e7)) {
        throw Error(never_finishes_where(model, cycle, restart),
                    fmt::format("the job is interrupted every {:.3g} s on average but needs {:.3g} s of checkpoint "
                                "interval and {:.3g} s of restart without one; it would practically never finish ({} "
                                "interruptions expected)",
                                1.0 / rate, cycle, restart, count_text(rate * expected.value())),
                    "shorten reliability.checkpoint_interval or the restart (reliability.restart_time, or its parts detect, replace, init_per_gpu, init_per_gpu_squared), or check the failure rates");
    }
}

RunSample simulate_run(const RunInputs& inputs, std::uint64_t seed) {
    validate_inputs(inputs);
    const ReliabilityModel& model = inputs.reliability;
    const double work = total_work(inputs).value();
    const double steady = steady_work(inputs).value();
    RunSample sample;
    if (work <= 0.0) return sample;

    const double tau = checkpoint_interval(inputs).value();
    const double cost = model.async_checkpoint ? 0.0 : model.checkpoint_write.value();
    const double restart = model.restart_time.value();
    const double rate = job_rate_per_second(model, inputs.gpus, inputs.gpus_per_host);

    // Pieces of work between checkpoints, counted as integers so that a run of exactly k intervals writes exactly
    // k − 1 checkpoints (W/τ within 1e-9 of an integer counts as that integer).
    const double ratio = work / tau;
    if (ratio > 1e15) {
        throw Error(model.checkpoint_interval ? model.interval_where : model.write_where,
                    fmt::format("the checkpoint interval of {} s is too short for {} s of work (more than 10^15 "
                                "checkpoints)", tau, work),
                    "set reliability.checkpoint_interval to minutes or more, or check the phases' tokens and steps");
    }
    double pieces_d = std::ceil(ratio);
    if (std::abs(ratio - std::round(ratio)) <= 1e-9 * std::max(1.0, ratio)) pieces_d = std::max(1.0, std::round(ratio));
    const auto pieces = static_cast<std::int64_t>(pieces_d);
    const double final_piece = work - static_cast<double>(pieces - 1) * tau;  // in (0, τ]
    const double cycle = tau + cost;

    require_run_finishes(inputs);

    Random random(seed);
    const double never = std::numeric_limits<double>::infinity();
    auto draw_failure = [&](double now) { return rate > 0.0 ? now + random.exponential(rate) : never; };

    // Asynchronous writes: the snapshots not yet durable `into` seconds into the current piece, the last one first
    // (taken `into`, `into` + τ, … ago; durable once δ old). Only snapshots taken since the run last resumed count:
    // the one it resumed from was durable.
    const double durable_after = model.async_checkpoint ? model.checkpoint_write.value() : 0.0;
    const auto not_durable = [&](double into) -> std::int64_t {
        if (durable_after <= into) return 0;
        return static_cast<std::int64_t>(std::ceil((durable_after - into) / tau));
    };

    double t = 0.0;
    double lost = 0.0;
    double checkpointing = 0.0;
    double restarting = 0.0;
    int interruptions = 0;
    std::int64_t committed = 0;  // pieces behind a completed checkpoint
    std::int64_t fresh = 0;      // of those, the pieces completed since the run last started or resumed
    double next_failure = draw_failure(t);

    for (;;) {
        // Full pieces (work + checkpoint) that complete before the next interruption, all at once.
        const std::int64_t to_checkpoint = pieces - 1 - committed;
        if (to_checkpoint > 0) {
            const double fit = std::floor((next_failure - t) / cycle);
            const std::int64_t k = fit >= static_cast<double>(to_checkpoint) ? to_checkpoint : static_cast<std::int64_t>(fit);
            t += static_cast<double>(k) * cycle;
            checkpointing += static_cast<double>(k) * cost;
            committed += k;
            fresh += k;
        }
        if (committed == pieces - 1) {
            if (t + final_piece <= next_failure) {  // the last piece finishes
                t += final_piece;
                break;
            }
        }
        {  // interrupted inside a piece: during its work, or during its blocking checkpoint write
            const double into = std::max(0.0, next_failure - t);
            lost += std::min(into, tau);
            checkpointing += std::max(0.0, into - tau);
            // Back to the last durable snapshot: the pieces behind the snapshots still being written are lost too.
            const std::int64_t back = std::min(fresh, not_durable(into));
            committed -= back;
            lost += static_cast<double>(back) * tau;
            fresh = 0;
        }
        t = next_failure;
        ++interruptions;
        // Restart; an interruption during it starts it again.
        next_failure = draw_failure(t);
        while (next_failure < t + restart) {
            restarting += next_failure - t;
            t = next_failure;
            ++interruptions;
            next_failure = draw_failure(t);
        }
        restarting += restart;
        t += restart;
    }

    sample.wall_clock = Seconds(t);
    sample.productive = Seconds(steady);
    sample.overheads = Seconds(work - steady);
    sample.lost_work = Seconds(lost);
    sample.checkpointing = Seconds(checkpointing);
    sample.restarting = Seconds(restarting);
    sample.interruptions = interruptions;
    return sample;
}

Seconds recovery_time(const RecoveryParts& parts, int gpus) {
    if (gpus < 1) {
        throw Error(fmt::format("the recovery of a job of {} GPUs is not defined; it needs at least one", gpus),
                    "set cluster.gpus to the number of GPUs in the job");
    }
    for (const auto& [name, v] : {std::pair{"detect", parts.detect}, std::pair{"replace", parts.replace},
                                  std::pair{"init_per_gpu", parts.init_per_gpu},
                                  std::pair{"init_per_gpu_squared", parts.init_per_gpu_squared},
                                  std::pair{"checkpoint load", parts.checkpoint_load}}) {
        if (!finite_nonnegative(v.value())) {
            throw Error(fmt::format("the recovery part {} is {} s; it must be a finite duration of 0 s or more", name, v.value()),
                        "set reliability.detect, replace, init_per_gpu and init_per_gpu_squared to durations of 0 or more");
        }
    }
    const double n = gpus;
    return parts.detect + parts.replace + parts.init_per_gpu * n + parts.init_per_gpu_squared * (n * n) + parts.checkpoint_load;
}

double straggler_slowdown(double s_ref, int n_ref, int gpus) {
    if (gpus < 1 || n_ref < 2 || !finite_nonnegative(s_ref)) {
        throw Error(fmt::format("a straggler slowdown needs a reference of at least 2 GPUs, a slowdown of 0 or more and a job "
                                "of at least 1 GPU; got {} at {} GPUs for {} GPUs", s_ref, n_ref, gpus),
                    "set reliability.overheads.stragglers = { fraction = 0.09, at_gpus = 65536 }");
    }
    return s_ref * std::log(static_cast<double>(gpus)) / std::log(static_cast<double>(n_ref));
}

// ---- Random: splitmix64 seeding, xoshiro256** (Blackman & Vigna 2018, prng.di.unimi.it) ----------------------
// Only integer arithmetic, the top 53 bits for doubles, and the inversion / Box–Muller formulas below, so the same
// seed gives the same numbers on every platform. (std::log, std::cos and std::sqrt: sqrt is exact under IEEE 754;
// log and cos come from the C library, correctly rounded in glibc and within 1 ulp elsewhere.)

Random::Random(std::uint64_t seed) : s_{} {
    std::uint64_t x = seed;
    for (std::uint64_t& word : s_) word = splitmix64(x);
}

std::uint64_t Random::next() {
    const std::uint64_t result = std::rotl(s_[1] * 5U, 7) * 9U;
    const std::uint64_t t = s_[1] << 17U;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
}

double Random::uniform() { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }

double Random::exponential(double rate) {
    if (!finite_positive(rate)) {
        throw Error(fmt::format("an exponential distribution needs a positive finite rate, got {}", rate),
                    "give a positive rate (1 / mean)");
    }
    // Inversion: X = −ln(1 − U) / rate, with 1 − U in (0, 1] so the logarithm is finite.
    return -std::log(1.0 - uniform()) / rate;
}

double Random::normal(double mean, double sd) {
    if (!std::isfinite(mean) || !finite_nonnegative(sd)) {
        throw Error(fmt::format("a normal distribution needs a finite mean and a standard deviation of 0 or more, got "
                                "mean {} and sd {}",
                                mean, sd),
                    "give a finite mean and a non-negative standard deviation");
    }
    // Box–Muller, the cosine branch only (no cached second value, so the state stays the four words).
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double Random::triangular(double low, double mode, double high) {
    if (!std::isfinite(low) || !std::isfinite(mode) || !std::isfinite(high) || !(low <= mode && mode <= high)) {
        throw Error(fmt::format("a triangular distribution needs low ≤ mode ≤ high, got {}, {}, {}", low, mode, high),
                    "order the three values as low, most likely, high");
    }
    if (low == high) return low;
    // Inversion of the CDF: F(mode) = (mode − low)/(high − low).
    const double u = uniform();
    const double width = high - low;
    if (u < (mode - low) / width) return low + std::sqrt(u * width * (mode - low));
    return high - std::sqrt((1.0 - u) * width * (high - mode));
}

}  // namespace gpuhours
