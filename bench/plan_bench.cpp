// Benchmark: layouts evaluated per second by the layout search (gpuhours plan). Not a test: run by hand, put the
// figures in the notes. The anchor (issue #6): Calculon evaluates about 500 layouts per second per core, closed form.
//   build/bench/gpuhours_bench_plan [scenario.toml] [--simulations N] [--threads N]
// Default: the Megatron-LM 145.6B case (scenarios/validation/megatron-145.6b.toml) on its whole search space.
// Reports, on one thread: the closed-form screen per layout (rules, then the memory fit of those that pass them,
// then the lower bound of those that fit), step simulations per second (symmetric mode) on the N feasible
// layouts of lowest bound, and the whole search (plan_layouts) on the given threads.
#include <gpuhours/analysis/plan.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/schedule.hpp>
#include <gpuhours/training/step.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void rate(const char* what, std::size_t n, double seconds) {
    fmt::print("  {:<44} {:>6} layouts in {:>8.3f} s  = {:>10.0f} layouts/s\n", what, n, seconds,
               seconds > 0 ? static_cast<double>(n) / seconds : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
    std::filesystem::path file =
        std::filesystem::path(GPUHOURS_BENCH_SOURCE_DIR) / "scenarios" / "validation" / "megatron-145.6b.toml";
    std::size_t simulations = 16;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--simulations" && i + 1 < argc) simulations = static_cast<std::size_t>(std::atol(argv[++i]));
        else if (arg == "--threads" && i + 1 < argc) threads = static_cast<unsigned>(std::atol(argv[++i]));
        else file = arg;
    }
    const gpuhours::Scenario s = gpuhours::load_scenario(file);
    const std::vector<gpuhours::ParallelLayout> layouts = gpuhours::enumerate_layouts(s);
    fmt::print("{}: {} GPUs, {} layouts in the default search space\n", file.filename().string(), s.cluster.gpus,
               layouts.size());

    // ---- closed form, one thread, stage by stage --------------------------------------------------------------
    fmt::print("closed form, 1 thread\n");
    gpuhours::Scenario scratch = s;
    std::vector<gpuhours::ParallelLayout> lawful;
    auto start = Clock::now();
    for (const auto& l : layouts) {
        scratch.parallel = l;
        const long long per_step = 1LL * l.data * l.micro_batch;
        try {
            gpuhours::validate_layout(scratch);
            gpuhours::check_pipeline_shape(l.schedule, l.pipeline, static_cast<int>(s.training.global_batch / per_step),
                                           l.virtual_stages);
            lawful.push_back(l);
        } catch (const gpuhours::Error&) {
        }
    }
    rate("rules (validate_layout, check_pipeline_shape)", layouts.size(), since(start));
    std::vector<gpuhours::ParallelLayout> fitting;
    start = Clock::now();
    for (const auto& l : lawful) {
        gpuhours::MemoryOptions m;
        m.micro_batches = static_cast<int>(s.training.global_batch / (1LL * l.data * l.micro_batch));
        m.attention_kernel = s.training.attention_kernel;
        m.dropout = s.training.dropout;
        const gpuhours::MicroBatchShape shape{s.training.sequence_length, l.micro_batch, gpuhours::AttentionMask::causal};
        if (gpuhours::check_fit(s.model, l, s.training.precision, shape, s.cluster.chip.memory_capacity, m).fits) {
            fitting.push_back(l);
        }
    }
    rate("memory fit (check_fit) of those", lawful.size(), since(start));
    std::vector<std::pair<gpuhours::Seconds, std::size_t>> bounds;
    start = Clock::now();
    for (std::size_t i = 0; i < fitting.size(); ++i) {
        gpuhours::StepSpec spec = gpuhours::step_spec_of(s);
        spec.layout = fitting[i];
        bounds.emplace_back(gpuhours::step_time_lower_bound(spec), i);
    }
    rate("lower bound of those that fit", fitting.size(), since(start));
    start = Clock::now();
    std::size_t feasible = 0;
    for (const auto& l : layouts) feasible += gpuhours::screen_layout(s, l).fate == gpuhours::CandidateFate::feasible;
    const double screen_s = since(start);
    rate("whole screen (screen_layout) per layout", layouts.size(), screen_s);
    fmt::print("  {} of {} pass the rules, {} fit in memory ({} by screen_layout)\n", lawful.size(), layouts.size(),
               fitting.size(), feasible);

    // ---- simulations, one thread ------------------------------------------------------------------------------
    std::sort(bounds.begin(), bounds.end());
    const std::size_t n = std::min(simulations, bounds.size());
    start = Clock::now();
    for (std::size_t k = 0; k < n; ++k) {
        gpuhours::StepSpec spec = gpuhours::step_spec_of(s);
        spec.layout = fitting[bounds[k].second];
        (void)gpuhours::simulate_step(spec);
    }
    fmt::print("step simulation (symmetric), 1 thread, the {} feasible layouts of lowest bound\n", n);
    rate("simulate_step", n, since(start));

    // ---- the whole search ---------------------------------------------------------------------------------------
    gpuhours::PlanOptions options;
    options.threads = threads;
    start = Clock::now();
    const gpuhours::PlanResult r = gpuhours::plan_layouts(s, options);
    const double whole = since(start);
    const auto& c = r.counts;
    fmt::print("whole search (plan_layouts, top {}, {} threads): {:.2f} s; {} enumerated, {} rejected by rule, {} by memory, "
               "{} pruned by bound, {} simulated\n",
               options.top, threads, whole, c.enumerated, c.rejected_by_rule, c.rejected_by_memory, c.pruned_by_bound,
               c.simulated);
    fmt::print("  = {:.1f} layouts of the space evaluated per second ({:.1f} per second per thread)\n",
               static_cast<double>(c.enumerated) / whole, static_cast<double>(c.enumerated) / whole / threads);
    fmt::print("  best: {} {:.3f} s\n", gpuhours::describe_layout(r.best().layout), r.best().step->step_time.value());
    return 0;
}
