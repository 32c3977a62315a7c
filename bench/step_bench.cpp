// Benchmark: wall and CPU time of simulating one training step. Not a test: scripts/bench.sh runs it and
// docs/performance.md keeps the figures.
//   build/bench/gpuhours_bench_step [scenario.toml [--mode symmetric|full] [--set key=value]…]
// Default: the flagship (DeepSeek-V3 on 2,048 H800) in symmetric mode, then a 64-GPU dense scenario in both modes.
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>

#include <fmt/format.h>

#include <malloc.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void bench(const std::filesystem::path& file, gpuhours::SimulationMode mode, const std::vector<std::string>& overrides) {
    gpuhours::LoadOptions options;
    options.overrides = overrides;
    const gpuhours::Scenario s = gpuhours::load_scenario(file, options);
    gpuhours::StepSpec spec = gpuhours::step_spec_of(s);
    spec.mode = mode;
    const auto start = Clock::now();
    const std::clock_t cpu_start = std::clock();
    const gpuhours::StepResult r = gpuhours::simulate_step(spec);
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    fmt::print("{:<45} {:>9} mode: {:>6} GPUs, {:>5} simulated, {:>9} tasks ({} engine tasks), step {:.3f} s simulated in "
               "{:.3f} s wall, {:.3f} s CPU\n",
               file.filename().string(), to_string(mode), s.cluster.gpus, r.simulated_ranks, r.tasks, r.engine_tasks,
               r.step_time.value(), wall, cpu);
}

}  // namespace

int main(int argc, char** argv) {
    // The allocator as the gpuhours command sets it (sim/cli/main.cpp): without it this benchmark page-faults its
    // task tables afresh each step and overstates the command's cost (about 10 % of the DeepSeek-V3 step).
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    const std::filesystem::path root = std::filesystem::path(GPUHOURS_BENCH_SOURCE_DIR) / "scenarios";
    if (argc > 1) {
        // FILE [--mode M] [--set k=v]…, or several files.
        std::vector<std::string> overrides;
        gpuhours::SimulationMode mode = gpuhours::SimulationMode::symmetric;
        std::vector<std::string> files;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--set" && i + 1 < argc) overrides.emplace_back(argv[++i]);
            else if (a == "--mode" && i + 1 < argc) mode = std::string(argv[++i]) == "full" ? gpuhours::SimulationMode::full
                                                                                           : gpuhours::SimulationMode::symmetric;
            else files.push_back(a);
        }
        try {
            for (const auto& f : files) bench(f, mode, overrides);
        } catch (const gpuhours::Error& e) {
            fmt::print(stderr, "gpuhours_bench_step: {}\n", e.what());
            return 2;
        }
        return 0;
    }
    bench(root / "deepseek-v3.toml", gpuhours::SimulationMode::symmetric, {});
    // A 64-GPU dense case (Llama 3.1 8B, TP 8 × PP 2 × DP 4) in both modes.
    const std::vector<std::string> small{"cluster.gpus=64", "parallelism.data=4", "parallelism.pipeline=2",
                                         "parallelism.virtual_stages=1", "parallelism.schedule=1f1b",
                                         "training.global_batch=64", "model=llama-3.1-8b",
                                         "parallelism.sequence_parallel=true", "parallelism.context=1"};
    bench(root / "validation" / "llama-3.1-405b-8k-16384.toml", gpuhours::SimulationMode::symmetric, small);
    bench(root / "validation" / "llama-3.1-405b-8k-16384.toml", gpuhours::SimulationMode::full, small);
    return 0;
}
