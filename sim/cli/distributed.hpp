// How a sweep's points are spread over processes: one process (local_runner.cpp, the default build) or the ranks
// of an MPI job (mpi_runner.cpp, built with -DGPUHOURS_MPI=ON). The sweep command and main() are written against
// this interface only, so the default build has no MPI dependency.
#pragma once

#include <gpuhours/analysis/sweep.hpp>

#include <string>
#include <vector>

namespace gpuhours::cli::distributed {

// Joins the process group for the life of the process (MPI_Init_thread / MPI_Finalize); a no-op without MPI.
// Exactly one, in main().
class Session {
public:
    Session(int& argc, char**& argv);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
};

// Throws Error when this build has no MPI but an MPI launcher started several copies of it (OMPI_COMM_WORLD_SIZE or
// PMI_SIZE above 1 in the environment): each copy would run the whole sweep and race the others on its journal.
// A no-op in the MPI build.
void refuse_launcher_without_mpi();

[[nodiscard]] int rank();  // 0 without MPI
[[nodiscard]] int size();  // 1 without MPI
// Worker threads for this process when the user gives none: every core, or under MPI this rank's share of the
// cores of its node.
[[nodiscard]] unsigned default_threads();
// The root's `text`, on every rank (what the others pass is ignored).
[[nodiscard]] std::string broadcast(const std::string& text);

// Evaluates `todo` across the ranks: point i of `todo` on rank i % size, with `options.threads` threads inside each
// rank. On the root, options.on_row sees every row as it arrives (its own and those other ranks send it, so the
// root's journal covers the whole job) and the result is every row sorted by point; elsewhere the result is
// empty. An error during the run on any rank is printed and ends the whole job (MPI_Abort) rather than leave the
// other ranks waiting; without MPI it is rethrown.
std::vector<SweepRow> run(const SweepPlan& plan, const std::vector<SweepPoint>& todo, const SweepRunOptions& options);

}  // namespace gpuhours::cli::distributed
