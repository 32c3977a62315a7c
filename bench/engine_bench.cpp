// Engine throughput: events per second of wall time.
//
// Workload: `streams` serial resources, each with a chain of `tasks_per_stream` fixed-duration tasks, plus a
// cross-stream dependency every 4th task (a pipeline's send→recv), and as many plain events. Each task costs
// two events (start, finish).
#include <gpuhours/engine/engine.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace gpuhours;

int main() {
    constexpr int streams = 64;
    constexpr int tasks_per_stream = 8'000;
    Engine engine;
    std::vector<ResourceId> resources;
    for (int s = 0; s < streams; ++s) resources.push_back(engine.add_resource("stream" + std::to_string(s)));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<TaskId> previous(streams);
    for (int i = 0; i < tasks_per_stream; ++i) {
        for (int s = 0; s < streams; ++s) {
            TaskSpec spec;
            spec.name = "op";
            spec.resource = resources[static_cast<std::size_t>(s)];
            spec.work = FixedDuration{SimTime::from_picoseconds(1000 + (i * 7 + s * 13) % 500)};
            if (i > 0 && i % 4 == 0 && s > 0) spec.after.push_back(previous[static_cast<std::size_t>(s - 1)]);
            previous[static_cast<std::size_t>(s)] = engine.add_task(std::move(spec));
        }
    }
    std::uint64_t fired = 0;
    for (int i = 0; i < streams * tasks_per_stream; ++i) {
        engine.schedule(SimTime::from_picoseconds(static_cast<std::int64_t>(i) * 37 % 10'000'000), [&fired] { ++fired; });
    }
    const auto t1 = std::chrono::steady_clock::now();
    const SimTime end = engine.run();
    const auto t2 = std::chrono::steady_clock::now();
    const double build_s = std::chrono::duration<double>(t1 - t0).count();
    const double run_s = std::chrono::duration<double>(t2 - t1).count();
    const auto events = static_cast<double>(engine.events_processed());
    std::printf("engine: %zu tasks on %d streams + %llu plain events\n", engine.task_count(), streams,
                static_cast<unsigned long long>(fired));
    std::printf("  build %.3f s, run %.3f s, %.0f events, %.2f M events/s, simulated end %.3f us\n", build_s, run_s,
                events, events / run_s / 1e6, end.to_seconds().value() * 1e6);
    return 0;
}
