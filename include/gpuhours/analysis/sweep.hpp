// Sweeps: one scenario evaluated at many points, each point a set of overrides ("cluster.gpus=2048") applied like
// `--set`. Points come from grids (lists and ranges, Cartesian product) or random samples; each is evaluated with
// evaluate_run and reduced to one SweepRow. Finished rows can be journaled one line each, so an interrupted sweep
// resumes without redoing them (docs/sweep.md).
//
// Determinism: the points are a function of the specs and the seed; a row is a function of its point, the scenario
// and the options — never of the thread count, the rank count or the order in which points finish.
#pragma once

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpuhours {

// One `--vary KEY=VALUES`. VALUES is one of
//   a list         v1,v2,v3            each value as `--set` reads it (TOML, else a string); commas inside quotes
//                                      or brackets do not split
//   a range        start:stop:step     arithmetic, stop included when reached: 1.5:3.5:0.5 → 1.5,2,2.5,3,3.5
//                  start:stop:*factor  geometric: 1024:8192:*2 → 1024,2048,4096,8192
//   a random range low~high            uniform (needs --random N); whole numbers when both bounds are written as
//                                      whole numbers
// Numbers may carry a unit around them, the same on every number of the spec ("$1.5:$3.5:$0.5", "100 GB/s~400
// GB/s"); the step may be written bare. A single value (no comma, colon or tilde) is a one-point list.
struct SweepAxis {
    struct Uniform {
        double low = 0.0, high = 0.0;
        bool whole = false;          // draw whole numbers
        std::string prefix, suffix;  // the unit text around the number
    };
    std::string key;                  // "cluster.gpus"
    std::string spec;                 // as written, for messages and the JSON output
    std::vector<std::string> values;  // list and range axes: the override text of each value
    std::optional<Uniform> uniform;   // random range axes
};

// Parses one --vary spec. Throws Error saying what to write instead.
SweepAxis parse_sweep_axis(std::string_view spec);

struct SweepPoint {
    std::size_t index = 0;                                    // position in the sweep, from 0
    std::vector<std::pair<std::string, std::string>> values;  // (key, value text) in --vary order
    // A --random draw, or a zipped point that repeats an earlier one's values: such points may repeat, so the
    // index is in the key.
    bool drawn = false;
    // Canonical id: "cluster.gpus=2048;cluster.chip=h800"; a draw's (or a zipped repeat's) with its index first,
    // "draw=3;pricing.gpu_hour=$2" (two equal draws are two points: `--random 5` over whole dollars gave 2 rows).
    [[nodiscard]] std::string key() const;
    [[nodiscard]] std::vector<std::string> overrides() const;  // "cluster.gpus=2048", …
};

// How list and range axes combine into points: every combination (grid), or side by side (zip: point i takes
// the i-th value of every axis, so `--vary cluster.gpus=1024,2048 --vary parallelism.data=64,128 --zip` is two
// points).
enum class SweepCombine { grid, zip };

// Without `random_count`: the grid, the Cartesian product of the axes in --vary order, the first axis varying
// slowest (nested loops as written), or with SweepCombine::zip the axes side by side (every axis must have the
// same number of values); a random range axis is an error. With it: that many points, each axis drawn
// independently — a random range uniformly, a list or range by picking one of its values uniformly — from a
// generator seeded by `seed` (same seed, same points); zip is then an error. Throws Error for two axes on one key,
// axes of different lengths zipped, or a grid of more than 10^7 points.
std::vector<SweepPoint> sweep_points(const std::vector<SweepAxis>& axes, std::optional<std::size_t> random_count,
                                     std::uint64_t seed, SweepCombine combine = SweepCombine::grid);

// A claim's verdict at one point.
struct SweepClaim {
    std::string text;
    std::string verdict;       // to_string(Verdict)
    double probability = 0.0;  // of the claim holding, over the Monte Carlo samples
    // The nominal run's verdict alone (HOLDS / FAILS), as `run` gives it beside the share; empty when a journal
    // written before it is resumed.
    std::string nominal_verdict;
};

// One point's result. Field names carry units; `ok == false` rows carry only the point and the error.
struct SweepRow {
    std::size_t point = 0;
    std::string key;                                          // SweepPoint::key()
    std::vector<std::pair<std::string, std::string>> values;  // the point's (key, value text)
    bool ok = false;
    std::string error;  // the message (one line) when !ok
    std::string chip;           // the catalog id ("h800"), also when the scenario changes some of its figures
    std::string chip_modified;  // the figures it changes, ";"-separated ("efficiency.gemm_fp8"); empty: as catalogued
    int gpus = 0;
    std::string layout;  // "TP2 CP1 PP2 DP4 EP1"
    double step_time_s = 0.0;  // the headline step
    double mfu_causal = 0.0;   // of the headline step, against the compute precision's peak
    double wall_clock_days_p05 = 0.0, wall_clock_days_p50 = 0.0, wall_clock_days_p95 = 0.0;
    double gpu_hours_p50 = 0.0;               // allocated: what the cluster is held for (failures, restarts, overheads)
    double steady_state_gpu_hours_p50 = 0.0;  // steps × step time × GPUs (the basis DeepSeek-V3 reports)
    bool priced = false;  // cost and energy are meaningful only when the scenario has [pricing]
    double cost_usd_p05 = 0.0, cost_usd_p50 = 0.0, cost_usd_p95 = 0.0;
    double energy_mwh_p50 = 0.0;
    // The nominal run's figures, as `run`'s headline, `whatif`, `compare` and `report` give them (every uncertain
    // input at its nominal value: RunEvaluation::nominal_*); the _p50 columns are the Monte Carlo samples' medians.
    // NaN where unknown: an error row, or an ok row read from a journal written before these existed (read_journal
    // leaves those out, so that their points are evaluated again).
    double mfu_bf16 = std::numeric_limits<double>::quiet_NaN();         // headline step, BF16 peak, full attention
    double wall_clock_days = std::numeric_limits<double>::quiet_NaN();
    double gpu_hours = std::numeric_limits<double>::quiet_NaN();        // allocated
    // steps × step time × GPUs (run's headline steady-state GPU-hours, the basis DeepSeek-V3 reports)
    double steady_state_gpu_hours = std::numeric_limits<double>::quiet_NaN();
    double cost_usd = std::numeric_limits<double>::quiet_NaN();         // when priced
    double energy_mwh = std::numeric_limits<double>::quiet_NaN();       // when priced
    std::vector<SweepClaim> claims;  // in the scenario's [[claims]] order
    // The Monte Carlo samples the point's run took (EvaluateOptions::samples, or its default), which a claim's probability is a
    // share of; 0 where unknown (an error row, or an ok row read from a journal written before it existed).
    int samples = 0;
    // With SweepPlan::derive_data: the `--set` assignments the point's cluster.gpus was re-planned with
    // (scale_plan, deadline.hpp), ";"-separated ("cluster.gpus=1024;phases.0.parallelism.data=64;…"); else empty.
    std::string derived;
};

// What a sweep evaluates: the scenario, the options every point shares, and the points.
struct SweepPlan {
    std::filesystem::path scenario;
    LoadOptions load;          // catalog and --set overrides, applied before each point's own
    EvaluateOptions evaluate;  // mode, network, samples, seed (threads and progress are set per point)
    std::vector<SweepAxis> axes;
    std::vector<SweepPoint> points;
    // `--derive parallelism.data`: each point's cluster.gpus re-plans the scenario (scale_plan, deadline.hpp) instead
    // of being set alone: the first simulated phase's data degree = GPUs / its model-parallel ranks (tensor ×
    // context × pipeline), every phase's degree scaled in proportion, batches that no longer feed the schedule
    // grown within `max_batch_tokens` (nullopt: no growth), the fabric's tiers or switch radix derived. A point
    // whose GPU count no degree reaches, or whose batch would pass the bound, is an error row that says which
    // counts work or which --max-batch-tokens would.
    bool derive_data = false;
    std::optional<double> max_batch_tokens;
};

// The overrides `point` is evaluated with under `plan`: its own, or with plan.derive_data its cluster.gpus
// replaced by the re-planned scenario's assignments (`derived` receives them ";"-joined). Throws Error (naming
// `cluster.gpus=N` and what to change) when the point has no cluster.gpus, the count is not whole, no data degree
// reaches it, or a phase's batch would pass plan.max_batch_tokens; ScenarioError when the scenario with the
// point's other values does not load.
std::vector<std::string> point_overrides(const SweepPlan& plan, const SweepPoint& point, std::string& derived);

// A hash (16 hex digits, FNV-1a 64) of what a row depends on besides its point: the scenario file's bytes, the
// catalog directory, the --set overrides, and the mode, network, samples and seed. A journal written under another
// fingerprint is stale. Not covered: edits to files the scenario `extends` or to catalog files.
std::string sweep_fingerprint(const SweepPlan& plan);

// Evaluates one point with `threads` threads inside it. Never throws for a bad point: a gpuhours::Error (a layout
// that does not fit, a key that does not exist) becomes a row with ok == false and the message.
SweepRow evaluate_point(const SweepPlan& plan, const SweepPoint& point, unsigned threads = 1);

using PointEvaluator = std::function<SweepRow(const SweepPoint&)>;

struct SweepRunOptions {
    // Worker threads in this process; 0: all cores. Points run min(threads, points) at a time, each with
    // threads / that many threads inside it.
    unsigned threads = 0;
    // Evaluates one point; empty: evaluate_point. Called from worker threads (tests inject a counting one).
    PointEvaluator evaluate;
    // Called for each finished row in completion order, always from the calling thread (for a journal, a progress
    // bar, or sending the row to another MPI rank).
    std::function<void(const SweepRow&)> on_row;
    // When set, called from the calling thread about every 10 ms while it waits for rows (polling MPI).
    std::function<void()> poll;
};

// Evaluates `todo` in parallel and returns their rows sorted by point index. An exception other than a point's
// own error (one escaping a custom evaluator or on_row) stops the sweep and is rethrown after the workers finish.
std::vector<SweepRow> run_sweep_points(const SweepPlan& plan, const std::vector<SweepPoint>& todo,
                                       const SweepRunOptions& options);

// ---- journal: finished rows, one JSON object per line ----------------------------------------------------------

// The journal kept next to an output file: FILE + ".partial".
std::filesystem::path journal_path(const std::filesystem::path& output);

// One row as a single line of JSON (ending in '\n') tagged with the plan's fingerprint; doubles in shortest
// round-trip form, so a row read back is identical to the one written. Also the form rows travel between ranks.
std::string journal_line(const SweepRow& row, std::string_view fingerprint);
struct JournalEntry {
    std::string fingerprint;
    SweepRow row;
};
// Parses one line (without its '\n'); nullopt when it is not a complete journal entry.
std::optional<JournalEntry> parse_journal_line(std::string_view line);

// The rows a journal holds for `fingerprint`. A last line without its newline (a write cut short) is ignored.
// Throws Error when an entry has another fingerprint (a journal of another scenario or options: refused, with
// what to do), or a complete line does not parse.
std::vector<SweepRow> read_journal(const std::filesystem::path& path, std::string_view fingerprint);

// Appends rows to a journal. Each row is one write(2) of one whole line, so a killed process leaves at most an
// incomplete last line, which read_journal ignores; opening drops such a line first. The file is fsync'ed after a
// write at most once per kSyncInterval and when closed: a machine that goes down loses at most the rows of the
// last interval (an fsync per row costs more than evaluating a small scenario).
class SweepJournal {
public:
    SweepJournal(const std::filesystem::path& path, std::string fingerprint);
    ~SweepJournal();
    SweepJournal(const SweepJournal&) = delete;
    SweepJournal& operator=(const SweepJournal&) = delete;
    void append(const SweepRow& row);  // throws Error naming the path when the write fails

    static constexpr std::chrono::milliseconds kSyncInterval{1000};

private:
    std::filesystem::path path_;
    std::string fingerprint_;
    int fd_ = -1;
    std::chrono::steady_clock::time_point last_sync_{};  // the epoch: the first row is synced
};

// ---- the whole sweep -------------------------------------------------------------------------------------------

// A finished sweep as the report layer prints it.
struct SweepResult {
    std::string scenario;                // as given
    std::vector<std::string> vary;       // the specs as written
    std::optional<std::size_t> random;   // --random N
    EvaluateOptions options;             // as requested (samples 0: automatic)
    std::vector<std::string> axis_keys;  // one column each
    bool derive_data = false;            // --derive parallelism.data: rows carry `derived`
    bool zip = false;                    // --zip
    std::vector<SweepRow> rows;          // sorted by point
    [[nodiscard]] std::size_t errors() const;
};

// Rows of `finished` (read from a journal) whose key is a point of the plan, re-indexed to the plan, plus
// `fresh`, sorted by point. A point in both keeps the finished row.
std::vector<SweepRow> merge_rows(const SweepPlan& plan, const std::vector<SweepRow>& finished,
                                 const std::vector<SweepRow>& fresh);
// The points of the plan that have no row in `finished`, in order.
std::vector<SweepPoint> points_to_do(const SweepPlan& plan, const std::vector<SweepRow>& finished);

}  // namespace gpuhours
