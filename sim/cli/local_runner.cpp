// distributed.hpp for the default build: one process, every core.
#include "distributed.hpp"

#include <algorithm>
#include <thread>

namespace gpuhours::cli::distributed {

Session::Session(int& /*argc*/, char**& /*argv*/) {}
Session::~Session() = default;

int rank() { return 0; }
int size() { return 1; }
unsigned default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }
std::string broadcast(const std::string& text) { return text; }

std::vector<SweepRow> run(const SweepPlan& plan, const std::vector<SweepPoint>& todo, const SweepRunOptions& options) {
    return run_sweep_points(plan, todo, options);
}

}  // namespace gpuhours::cli::distributed
