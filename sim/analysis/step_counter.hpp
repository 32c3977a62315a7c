// Progress of a run's step simulations (sim/analysis/evaluation.cpp): private to sim/analysis.
#pragma once

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/training/step.hpp>

#include "parallel_for.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <vector>

namespace gpuhours::detail {

// Step simulations, reported to EvaluateOptions::step_progress: the distinct steps, then for each uncertain step
// input a shifted copy of each per grid quantile (evaluation.cpp, step_sensitivities). Those finished count whole;
// each one under way on a worker thread adds the share of its events done (StepProgressScope), so that a step of
// minutes (full mode at thousands of GPUs) moves the bar and its estimate while it runs.
struct StepCounter {
    const EvaluateOptions& options;
    int step_inputs = 0;  // uncertain inputs that change a step (not pricing or reliability)
    int total = 0;
    std::atomic<int> done{0};
    // Per worker thread (as many as parallel_for can start), the share of its step done.
    std::vector<std::atomic<double>> running =
        std::vector<std::atomic<double>>(thread_count(options.threads, std::numeric_limits<std::size_t>::max()));

    // cache.simulate(spec) on worker thread `thread` (parallel_for's), reporting its progress.
    StepResult simulate(StepCache& cache, const StepSpec& spec, unsigned thread) {
        if (!options.step_progress) return cache.simulate(spec);
        const StepProgressScope scope([this, thread](double share) {
            running[thread] = share;
            report();
        });
        StepResult result = cache.simulate(spec);
        running[thread] = 0.0;
        return result;
    }
    void finished() {
        ++done;
        if (options.step_progress) report();
    }
    void report() {
        double d = done;
        for (const auto& r : running) d += r;
        options.step_progress(std::min(d, static_cast<double>(total)), total);
    }
};

}  // namespace gpuhours::detail
