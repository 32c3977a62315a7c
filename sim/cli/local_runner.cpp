// distributed.hpp for the default build: one process, every core.
#include "distributed.hpp"

#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace gpuhours::cli::distributed {

Session::Session(int& /*argc*/, char**& /*argv*/) {}
Session::~Session() = default;

void refuse_launcher_without_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
        const char* value = std::getenv(name);
        if (value == nullptr) continue;
        char* end = nullptr;
        const long copies = std::strtol(value, &end, 10);
        if (end == value || copies <= 1) continue;
        throw Error(fmt::format("this gpuhours was built without MPI, but an MPI launcher started {} copies of it ({}={}): each "
                                "would run the whole sweep and race the others on its journal",
                                copies, name, copies),
                    "run the sweep without mpirun (it uses every core of this machine), or build with "
                    "-DGPUHOURS_MPI=ON (docs/sweep.md) to spread its points over the ranks");
    }
}

int rank() { return 0; }
int size() { return 1; }
unsigned default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }
std::string broadcast(const std::string& text) { return text; }

std::vector<SweepRow> run(const SweepPlan& plan, const std::vector<SweepPoint>& todo, const SweepRunOptions& options) {
    return run_sweep_points(plan, todo, options);
}

}  // namespace gpuhours::cli::distributed
