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

// Interruptions of one kind, as a rate per GPU-hour (or per host-hour: mtbf_per_node counts host servers, not
// scale-up domains) of wall-clock time.
struct FailureClass {
    std::string name;                       // "GPU", "network", "host", …
    double rate_per_unit_hour = 0.0;        // interruptions per GPU-hour (per_node: per host-hour)
    bool per_node = false;
    SourceRef where;                        // the MTBF's position in the scenario, for errors (unknown: none)
    std::string source;                     // where the rate comes from (the scenario's `source`); may be empty
    bool from_catalog = false;              // read from the reliability catalog entry, not written in the scenario
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

// Recovery after one interruption, in parts (used when the scenario gives no single restart_time):
//   R(N) = detect + replace + N · init_per_gpu + N² · init_per_gpu_squared + checkpoint_load
// for N GPUs. The communicator term is linear with a quadratic tail: SPARe (arXiv 2603.00357) finds restart latency
// growing quadratically or worse with N at 100k–600k GPUs (global communicator initialisation); the default
// coefficients (scenarios/reliability/*.toml) carry their sources and [U] labels.
struct RecoveryParts {
    Seconds detect;                // failure noticed (a crash at once, a hang after the collective timeout)
    Seconds replace;               // a spare node swapped in or the bad one drained, job rescheduled
    Seconds init_per_gpu;          // seconds of rank and communicator initialisation per GPU in the job
    Seconds init_per_gpu_squared;  // seconds per GPU² (the global-communicator tail)
    Seconds checkpoint_load;       // reading the checkpoint back: its size / the storage's read bandwidth
};
// R(N) above, in seconds. Throws Error on a negative or non-finite part or a GPU count below 1.
Seconds recovery_time(const RecoveryParts& parts, int gpus);

// A named run overhead that lengthens every step by a fraction of its time (evaluation pauses, data-loader stalls,
// stragglers): productive time W becomes W · (1 + Σ fractions), exposed to interruptions like any work.
struct RunOverhead {
    std::string name;       // "stragglers", "evaluation pauses", …
    double fraction = 0.0;  // ≥ 0: extra time per unit of steady-state step time
};

struct RunInputs {
    int gpus = 0;
    int gpus_per_host = 8;  // GPUs per host server, the unit of the per-node failure classes (ClusterSpec::gpus_per_host)
    std::vector<RunSegment> segments;  // in order
    ReliabilityModel reliability;
    std::vector<RunOverhead> overheads;  // empty: none
};

// The straggler slowdown of a synchronous job of N GPUs: s(N) = s_ref · ln N / ln N_ref (0 for N = 1), from one
// published point (s_ref at N_ref GPUs) and the extreme-value argument that the slowest of N ranks sets the step
// and its expected excess grows like ln N for light-tailed per-rank delays [U: the form; docs/reliability-model.md].
// Throws Error on N < 1, N_ref < 2 or a negative or non-finite s_ref.
double straggler_slowdown(double s_ref, int n_ref, int gpus);

// Expected interruptions of the job over `wall_clock`: Σ rate × units × hours (units = GPUs, or ⌈gpus /
// gpus_per_host⌉ hosts for the per-node classes).
double expected_interruptions(const ReliabilityModel& model, int gpus, int gpus_per_host, Seconds wall_clock);
// Job-level mean time to interruption: 1 / Σ rate × units; nullopt with no failure classes (never fails).
std::optional<Seconds> job_mttf(const ReliabilityModel& model, int gpus, int gpus_per_host);
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
// That closed form for a run's inputs: its work (overheads included), job MTTF, checkpoint interval, blocking write
// (0 when asynchronous) and restart; the work alone when nothing fails. The mean of simulate_run's wall clock (but
// for the write after the last piece, which simulate_run skips). Throws as simulate_run does on invalid inputs.
Seconds expected_run_wall_clock(const RunInputs& inputs);

// Throws Error (located at the restart time when it is the longer stretch, else the given checkpoint interval, else
// the most frequent failure class) when the run is expected to be interrupted more than 10^7 times under the
// closed form above: it would practically never finish. simulate_run applies it; `check` applies it to the run at
// its compute lower bound (analysis/evaluation.hpp, require_run_can_finish).
void require_run_finishes(const RunInputs& inputs);

// One Monte Carlo realisation of the run.
struct RunSample {
    Seconds wall_clock;      // start to finish, interruptions included
    Seconds productive;      // Σ steps × step time (work that survived), without overheads: the steady state
    Seconds overheads;       // productive × Σ RunOverhead::fraction (the overheads' share of surviving work)
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
// overheads + lost_work + checkpointing + restarting. Overheads lengthen the work to be done (and so its exposure to
// interruptions); lost work is counted at the lengthened rate.
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
