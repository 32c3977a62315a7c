// Running a sweep: its fingerprint, one row per point evaluated on worker threads, finished and fresh rows merged.
#include <gpuhours/analysis/sweep.hpp>

#include <gpuhours/analysis/deadline.hpp>

#include <gpuhours/run/claims.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/run/run.hpp>
#include <gpuhours/units/units.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <climits>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

namespace gpuhours {
namespace {

// A message on one line: each line break and the indentation after it become "; ".
std::string one_line(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n' && text[i] != '\r') {
            out += text[i];
            continue;
        }
        while (i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\n' || text[i + 1] == '\r')) ++i;
        out += "; ";
    }
    return out;
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

// The GPU count of data degree `k` when the scenario can be re-planned there on whole nodes ("2,048", or "2,560
// (with --max-batch-tokens 42M)" when a phase's batch has to grow past the bound); nullopt otherwise.
std::optional<std::string> count_that_works(const Scenario& s, long long k, long long model_parallel,
                                            std::optional<double> max_batch_tokens) {
    if (k < 1 || k > INT_MAX || (k * model_parallel) % s.cluster.gpus_per_node != 0) return std::nullopt;
    const auto plan = scale_plan(s, static_cast<int>(k), max_batch_tokens);
    if (!plan) return std::nullopt;
    std::string text = with_commas(static_cast<double>(plan->gpus));
    if (plan->blocked) text += fmt::format(" (with --max-batch-tokens {})", max_batch_tokens_text(plan->needed_batch_tokens));
    return text;
}

// The counts that work nearest data degree `d` (below and above, within 4,096 degrees): "8 or 16"; "none within …"
// when there are none.
std::string counts_near(const Scenario& s, long long d, long long model_parallel, std::optional<double> max_batch_tokens) {
    std::vector<std::string> found;
    for (long long k = d; k >= 1 && k > d - 4096; --k) {
        if (auto text = count_that_works(s, k, model_parallel, max_batch_tokens)) {
            found.push_back(std::move(*text));
            break;
        }
    }
    for (long long k = d + 1; k < d + 4096 && k <= INT_MAX; ++k) {
        if (auto text = count_that_works(s, k, model_parallel, max_batch_tokens)) {
            found.push_back(std::move(*text));
            break;
        }
    }
    if (found.empty()) return fmt::format("none within 4,096 data-parallel degrees of {}", d);
    return fmt::format("{}", fmt::join(found, " or "));
}

}  // namespace

// ---- derived points --------------------------------------------------------------------------------------------

std::vector<std::string> point_overrides(const SweepPlan& plan, const SweepPoint& point, std::string& derived) {
    derived.clear();
    if (!plan.derive_data) return point.overrides();
    std::vector<std::string> rest;
    std::string gpus_text;
    for (const auto& [key, value] : point.values) {
        if (key == "cluster.gpus") gpus_text = value;
        else rest.push_back(key + "=" + value);
    }
    if (gpus_text.empty()) {
        throw Error("--derive parallelism.data re-plans each point from its cluster.gpus, and this point has none",
                    "add --vary cluster.gpus=…");
    }
    long long gpus = 0;
    const auto [end, ec] = std::from_chars(gpus_text.data(), gpus_text.data() + gpus_text.size(), gpus);
    if (ec != std::errc() || end != gpus_text.data() + gpus_text.size() || gpus < 1) {
        throw Error(fmt::format("cluster.gpus={} is not a whole number of GPUs", gpus_text), "vary cluster.gpus over whole numbers");
    }
    LoadOptions load = plan.load;
    load.overrides.insert(load.overrides.end(), rest.begin(), rest.end());
    const Scenario s = load_scenario(plan.scenario, load);
    const PhaseSpec* first = nullptr;
    for (const PhaseSpec& ph : s.phases) {
        if (!ph.quoted_gpu_hours) {
            first = &ph;
            break;
        }
    }
    if (first == nullptr) throw Error("every phase quotes its GPU-hours: there is no data-parallel degree to derive");
    const ParallelLayout& p = first->parallel;
    const long long mp = p.model_parallel_ranks();
    std::optional<ScaledPlan> scaled;
    const bool whole_nodes = gpus % s.cluster.gpus_per_node == 0;
    if (whole_nodes && gpus % mp == 0 && gpus / mp <= INT_MAX) {
        scaled = scale_plan(s, static_cast<int>(gpus / mp), plan.max_batch_tokens);
    }
    if (!scaled) {
        throw Error(fmt::format("cluster.gpus={}: no data-parallel degree gives {} GPUs with the scenario's layout (each "
                                "replica takes TP{} × CP{} × PP{} = {} GPUs, on whole nodes of {}; every phase's data "
                                "degree scales with the first's{})",
                                gpus_text, with_commas(static_cast<double>(gpus)), p.tensor, p.context, p.pipeline, mp,
                                s.cluster.gpus_per_node,
                                p.expert > 1 ? fmt::format(" and expert parallelism {} must divide it", p.expert) : ""),
                    fmt::format("GPU counts that work near it: {}", counts_near(s, gpus / mp, mp, plan.max_batch_tokens)));
    }
    if (scaled->blocked) {
        throw Error(fmt::format("cluster.gpus={}: {}", gpus_text, *scaled->blocked),
                    fmt::format("pass --max-batch-tokens {} to let the batch grow that far",
                                max_batch_tokens_text(scaled->needed_batch_tokens)));
    }
    derived = fmt::format("{}", fmt::join(scaled->overrides, ";"));
    rest.insert(rest.end(), scaled->overrides.begin(), scaled->overrides.end());
    return rest;
}

// ---- evaluation ------------------------------------------------------------------------------------------------

std::string sweep_fingerprint(const SweepPlan& plan) {
    const std::string bytes = read_scenario_text(plan.scenario);
    std::uint64_t h = 0xcbf29ce484222325ULL;
    // Each field length-prefixed so that no two different inputs concatenate alike.
    auto add = [&](std::string_view field) {
        h = fnv1a(h, fmt::format("{}:", field.size()));
        h = fnv1a(h, field);
    };
    // The journal's format and meaning: 2 since claims' verdicts are judged on their 95 % interval (session 53), so
    // that --resume does not mix rows judged under the two rules.
    add("gpuhours-sweep-2");
    add(bytes);
    add(plan.load.catalog_dir.string());
    for (const auto& o : plan.load.overrides) add(o);
    // Only when asked for, so that the fingerprints of sweeps without them stay as they were.
    if (plan.derive_data) add("derive parallelism.data");
    if (plan.max_batch_tokens) add(fmt::format("max batch tokens {}", *plan.max_batch_tokens));
    add(to_string(plan.evaluate.mode));
    add(to_string(plan.evaluate.network));
    add(fmt::format("{}", plan.evaluate.samples));
    add(fmt::format("{}", plan.evaluate.seed));
    return fmt::format("{:016x}", h);
}

// A point's error as the user wrote its cause: the scenario layer locates a point's value as the override it is
// applied as ("--set cluster.gpus=48"); it is the --vary value that made the point (a user's own --set of the same
// text keeps its name).
std::string vary_located(std::string text, const SweepPlan& plan, const SweepPoint& point) {
    for (const std::string& o : point.overrides()) {
        if (std::find(plan.load.overrides.begin(), plan.load.overrides.end(), o) != plan.load.overrides.end()) continue;
        const std::string set = "--set " + o;
        for (std::size_t at = text.find(set); at != std::string::npos; at = text.find(set, at + 1)) {
            const std::size_t end = at + set.size();
            if (end < text.size() && text[end] != ':' && text[end] != ' ' && text[end] != ')' && text[end] != ',') continue;  // a longer value
            text.replace(at, set.size(), "--vary " + o);
        }
    }
    return text;
}

SweepRow evaluate_point(const SweepPlan& plan, const SweepPoint& point, unsigned threads) {
    SweepRow row;
    row.point = point.index;
    row.key = point.key();
    row.values = point.values;
    try {
        LoadOptions load = plan.load;
        for (auto& o : point_overrides(plan, point, row.derived)) load.overrides.push_back(std::move(o));
        const ScenarioSampler sampler(plan.scenario, load);
        EvaluateOptions options = plan.evaluate;
        options.threads = std::max(1u, threads);
        options.progress = {};
        options.record_trace = false;
        options.break_evens = false;  // a point's row shows verdicts and shares, no break-evens
        const RunEvaluation ev = evaluate_run(sampler, options);
        const Scenario& s = ev.scenario;
        const StepResult& step = ev.headline_step();
        const auto& p = s.parallel;
        row.ok = true;
        row.chip = catalog_id(s.cluster.chip);
        row.chip_modified = fmt::format("{}", fmt::join(s.sources.chip_overrides, ";"));
        row.gpus = s.cluster.gpus;
        row.layout = describe_degrees(p);
        row.step_time_s = step.step_time.value();
        row.mfu_causal = step.mfu_causal;
        row.wall_clock_days_p05 = ev.wall_clock_days_spread.p05;
        row.wall_clock_days_p50 = ev.wall_clock_days_spread.p50;
        row.wall_clock_days_p95 = ev.wall_clock_days_spread.p95;
        row.gpu_hours_p50 = ev.gpu_hours_spread.p50;
        row.steady_state_gpu_hours_p50 = ev.steady_state_gpu_hours_spread.p50;
        row.priced = ev.priced;
        if (ev.priced) {
            row.cost_usd_p05 = ev.cost_spread.p05;
            row.cost_usd_p50 = ev.cost_spread.p50;
            row.cost_usd_p95 = ev.cost_spread.p95;
            row.energy_mwh_p50 = ev.energy_spread.p50;
        }
        row.mfu_bf16 = step.mfu_bf16_full;
        row.wall_clock_days = ev.nominal_wall_clock_days;
        row.gpu_hours = ev.nominal_gpu_hours;
        row.steady_state_gpu_hours = ev.simulated_gpu_hours();
        if (ev.priced && ev.nominal_cost) {
            row.cost_usd = ev.nominal_cost->total.value();
            row.energy_mwh = ev.nominal_cost->energy.value() / 3.6e9;
        }
        for (const auto& v : ev.verdicts) {
            row.claims.push_back({v.text, std::string(to_string(v.verdict)), v.probability, std::string(to_string(v.nominal_verdict))});
        }
        row.samples = ev.options.samples;
    } catch (const Error& e) {
        SweepRow failed;
        failed.point = row.point;
        failed.key = std::move(row.key);
        failed.values = std::move(row.values);
        failed.derived = std::move(row.derived);
        failed.error = one_line(vary_located(e.what(), plan, point));
        return failed;
    }
    return row;
}

std::vector<SweepRow> run_sweep_points(const SweepPlan& plan, const std::vector<SweepPoint>& todo,
                                       const SweepRunOptions& options) {
    // One step cache for every point: points that differ only in price, reliability or claims share their steps.
    SweepPlan shared = plan;
    if (!shared.evaluate.step_cache) shared.evaluate.step_cache = std::make_shared<StepCache>();
    std::vector<SweepRow> rows;
    if (todo.empty()) return rows;
    const unsigned total = options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    const auto outer = static_cast<unsigned>(std::min<std::size_t>(todo.size(), total));  // ≥ 1: todo is not empty
    // Each point may use every core: points that share their steps (a price sweep) wait on the one simulating them
    // (StepCache), so dividing the cores among points would leave all but one idle; points that do not share
    // them oversubscribe the cores by `outer` at most.
    const unsigned inner = total;
    const PointEvaluator evaluate = options.evaluate
        ? options.evaluate
        : PointEvaluator([&shared, inner](const SweepPoint& point) { return evaluate_point(shared, point, inner); });

    std::mutex mutex;
    std::condition_variable ready;
    std::deque<SweepRow> finished;  // guarded by mutex
    unsigned workers_done = 0;      // guarded by mutex
    std::exception_ptr failure;     // guarded by mutex: the first error
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};

    std::vector<std::thread> pool;
    pool.reserve(outer);
    for (unsigned t = 0; t < outer; ++t) {
        pool.emplace_back([&] {
            try {
                while (!stop.load()) {
                    const std::size_t i = next.fetch_add(1);
                    if (i >= todo.size()) break;
                    SweepRow row = evaluate(todo[i]);
                    std::lock_guard lock(mutex);
                    finished.push_back(std::move(row));
                    ready.notify_one();
                }
            } catch (...) {
                stop = true;
                std::lock_guard lock(mutex);
                if (!failure) failure = std::current_exception();
            }
            std::lock_guard lock(mutex);
            ++workers_done;
            ready.notify_one();
        });
    }

    // The calling thread hands rows to on_row one at a time, in completion order.
    try {
        while (true) {
            std::deque<SweepRow> batch;
            bool all_done = false;
            {
                std::unique_lock lock(mutex);
                auto woken = [&] { return !finished.empty() || workers_done == outer; };
                if (options.poll) ready.wait_for(lock, std::chrono::milliseconds(10), woken);
                else ready.wait(lock, woken);
                batch.swap(finished);
                all_done = workers_done == outer;
            }
            if (options.poll) options.poll();
            for (auto& row : batch) {
                if (options.on_row) options.on_row(row);
                rows.push_back(std::move(row));
            }
            if (all_done) {
                std::lock_guard lock(mutex);
                if (finished.empty()) break;
            }
        }
    } catch (...) {
        stop = true;
        for (auto& th : pool) th.join();
        throw;
    }
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
    std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.point < b.point; });
    return rows;
}

// ---- the whole sweep -------------------------------------------------------------------------------------------

std::size_t SweepResult::errors() const {
    return static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [](const SweepRow& r) { return !r.ok; }));
}

std::vector<SweepPoint> points_to_do(const SweepPlan& plan, const std::vector<SweepRow>& finished) {
    std::map<std::string, bool> done;
    for (const auto& r : finished) done[r.key] = true;
    std::vector<SweepPoint> todo;
    for (const auto& p : plan.points) {
        if (!done.contains(p.key())) todo.push_back(p);
    }
    return todo;
}

std::vector<SweepRow> merge_rows(const SweepPlan& plan, const std::vector<SweepRow>& finished,
                                 const std::vector<SweepRow>& fresh) {
    std::map<std::string, std::size_t> index;
    for (const auto& p : plan.points) index.emplace(p.key(), p.index);
    std::vector<SweepRow> rows;
    std::map<std::size_t, bool> have;
    for (const auto* source : {&finished, &fresh}) {
        for (const auto& r : *source) {
            const auto it = index.find(r.key);
            if (it == index.end() || have.contains(it->second)) continue;
            have[it->second] = true;
            rows.push_back(r);
            rows.back().point = it->second;
        }
    }
    std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.point < b.point; });
    return rows;
}

}  // namespace gpuhours
