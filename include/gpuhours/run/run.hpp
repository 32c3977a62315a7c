// A whole training run over simulated steps: phases, interruptions, checkpoints and restarts.
//
// The step simulator gives each phase's step time; this layer multiplies by the steps, then plays the run's
// failures as a Poisson process over wall-clock time (Monte Carlo over seeds): each interruption loses the work
// since the last completed checkpoint plus a detection-and-restart time; checkpoints cost their write time
// (blocking) or nothing on the critical path (asynchronous, DeepSeek/MegaScale style). The checkpoint interval is
// given or chosen by the Young/Daly optimum. Deterministic: the same seed gives the same samples on every
// platform (the generator and the distributions are implemented here, not taken from <random>'s
// implementation-defined distributions).
#pragma once

#include <gpuhours/units/error.hpp>
#include <gpuhours/units/units.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

// One stretch of identical steps (a phase, or one level of a batch-size ramp).
struct RunSegment {
    std::string phase;   // "pre-training", "context extension 32K", …
    double steps = 0.0;  // may be fractional (tokens / tokens per step)
    Seconds step_time;
    double tokens = 0.0;
};

// Interruptions of one kind, as a rate per GPU-hour (or per node-hour) of wall-clock time.
struct FailureClass {
    std::string name;                       // "GPU", "network", "host", …
    double rate_per_unit_hour = 0.0;        // interruptions per GPU-hour (per_node: per node-hour)
    bool per_node = false;
    SourceRef where;                        // the MTBF's position in the scenario, for errors (unknown: none)
    std::string source;                     // where the rate comes from (the scenario's `source`); may be empty
};

struct ReliabilityModel {
    std::vector<FailureClass> classes;      // empty: no interruptions
    Seconds restart_time;                   // detection + restart + reload after each interruption
    Seconds checkpoint_write;               // time to write one checkpoint
    bool async_checkpoint = false;          // true: writing does not stop training (only the snapshot, ignored)
    std::optional<Seconds> checkpoint_interval;  // nullopt: Young/Daly optimum for the job's MTTF
    // Positions of reliability.restart_time, checkpoint_write and checkpoint_interval in the scenario, so that a
    // run that cannot finish names the key to change (unknown when not written).
    SourceRef restart_where, write_where, interval_where;
};

struct RunInputs {
    int gpus = 0;
    int gpus_per_node = 8;
    std::vector<RunSegment> segments;  // in order
    ReliabilityModel reliability;
};

// Expected interruptions of the job over `wall_clock`: Σ rate × units × hours (units = GPUs or nodes).
double expected_interruptions(const ReliabilityModel& model, int gpus, int gpus_per_node, Seconds wall_clock);
// Job-level mean time to interruption: 1 / Σ rate × units; nullopt with no failure classes (never fails).
std::optional<Seconds> job_mttf(const ReliabilityModel& model, int gpus, int gpus_per_node);
// Young/Daly first-order optimum: √(2 · δ · M) for checkpoint write time δ and MTTF M.
Seconds young_daly_interval(Seconds checkpoint_write, Seconds mttf);
// The interval the run uses: the given one, or Young/Daly (or the whole run when the job never fails).
// (Added by the run layer:) with asynchronous checkpoints the critical-path cost is 0 and Young/Daly would give 0,
// so the computed interval is one write time (back-to-back writes); a computed interval is never shorter than the
// shortest step time.
Seconds checkpoint_interval(const RunInputs& inputs);

// Closed form of the expected wall-clock time of W seconds of productive work with exponential failures of rate λ
// (MTTF M = 1/λ), checkpoint interval τ, checkpoint cost C (0 when asynchronous) and restart time R, failures
// possible at any time (Daly 2006's model): E[T] = M · e^{R/M} · (e^{(τ+C)/M} − 1) · W / τ.
Seconds expected_wall_clock(Seconds work, Seconds mttf, Seconds interval, Seconds checkpoint_cost, Seconds restart);

// One Monte Carlo realisation of the run.
struct RunSample {
    Seconds wall_clock;      // start to finish, interruptions included
    Seconds productive;      // Σ steps × step time (work that survived)
    Seconds lost_work;       // work redone after interruptions
    Seconds checkpointing;   // blocking checkpoint time on the critical path
    Seconds restarting;      // Σ restart times
    int interruptions = 0;
    [[nodiscard]] double goodput() const { return wall_clock.value() > 0 ? productive / wall_clock : 1.0; }
};

// Plays the run once. Throws Error on non-positive step times or GPU counts.
// (Added by the run layer:) also on negative or non-finite times, rates or step counts, an empty segment list, and
// a run expected to be interrupted more than 10^7 times (it would practically never finish). No checkpoint is
// written after the final piece of work; an interruption during a restart starts the restart again; a blocking
// write cut short counts in `checkpointing`, its interval's work in `lost_work`; wall_clock = productive +
// lost_work + checkpointing + restarting.
RunSample simulate_run(const RunInputs& inputs, std::uint64_t seed);

// Deterministic, platform-independent random numbers (splitmix64-seeded xoshiro256**).
class Random {
public:
    explicit Random(std::uint64_t seed);
    std::uint64_t next();
    double uniform();                       // [0, 1)
    double exponential(double rate);        // mean 1/rate
    double normal(double mean, double sd);  // Box–Muller
    double triangular(double low, double mode, double high);

private:
    std::uint64_t s_[4];
};

}  // namespace gpuhours
