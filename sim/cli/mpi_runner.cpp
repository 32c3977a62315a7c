// distributed.hpp over MPI (built with -DGPUHOURS_MPI=ON). Every rank computes the same plan and the same list of
// points still to do (the root reads the journal and broadcasts it); point i of that list runs on rank i % size.
// Each finished row travels to the root at once (MPI_Send of its journal line), so the root's journal holds
// every rank's finished points and a resumed job redoes only the points in flight when it stopped. The root
// writes the one result file; the other ranks write nothing.
//
// Threads: MPI_THREAD_FUNNELED. Worker threads only evaluate points; MPI is called from the main thread (on_row and
// poll of run_sweep_points run there).
#include "distributed.hpp"

#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <thread>

namespace gpuhours::cli::distributed {
namespace {

constexpr int kRowTag = 7;

void check(int code, const char* what) {
    if (code != MPI_SUCCESS) throw std::runtime_error(fmt::format("{} failed (MPI error {})", what, code));
}

// The journal line of a row is its wire form too; the fingerprint travels empty (the root adds its own).
void send_row(const SweepRow& row) {
    const std::string line = journal_line(row, "");
    check(MPI_Send(line.data(), static_cast<int>(line.size()), MPI_CHAR, 0, kRowTag, MPI_COMM_WORLD), "MPI_Send");
}

SweepRow receive_row(const MPI_Status& probed) {
    int count = 0;
    check(MPI_Get_count(&probed, MPI_CHAR, &count), "MPI_Get_count");
    std::string line(static_cast<std::size_t>(count), '\0');
    check(MPI_Recv(line.data(), count, MPI_CHAR, probed.MPI_SOURCE, kRowTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    while (!line.empty() && line.back() == '\n') line.pop_back();
    auto entry = parse_journal_line(line);
    if (!entry) throw std::runtime_error(fmt::format("a row from rank {} did not parse", probed.MPI_SOURCE));
    return std::move(entry->row);
}

}  // namespace

Session::Session(int& argc, char**& argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    // Results never depend on errors being returned; stop the job on any MPI error instead of continuing.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
}

Session::~Session() { MPI_Finalize(); }

int rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int size() {
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

void refuse_launcher_without_mpi() {}

unsigned default_threads() {
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int on_node = 1;
    MPI_Comm_size(node, &on_node);
    MPI_Comm_free(&node);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return std::max(1u, cores / static_cast<unsigned>(std::max(1, on_node)));
}

std::string broadcast(const std::string& text) {
    unsigned long long length = text.size();
    MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    std::string out = rank() == 0 ? text : std::string(static_cast<std::size_t>(length), '\0');
    // In pieces below INT_MAX bytes each.
    constexpr std::size_t kPiece = 1u << 30;
    for (std::size_t at = 0; at < out.size(); at += kPiece) {
        const auto n = static_cast<int>(std::min(kPiece, out.size() - at));
        MPI_Bcast(out.data() + at, n, MPI_CHAR, 0, MPI_COMM_WORLD);
    }
    return out;
}

std::vector<SweepRow> run(const SweepPlan& plan, const std::vector<SweepPoint>& todo, const SweepRunOptions& options) {
    const int ranks = size();
    const int me = rank();
    if (ranks == 1) return run_sweep_points(plan, todo, options);
    std::vector<SweepPoint> mine;
    for (std::size_t i = static_cast<std::size_t>(me); i < todo.size(); i += static_cast<std::size_t>(ranks)) {
        mine.push_back(todo[i]);
    }
    try {
        if (me != 0) {
            SweepRunOptions local = options;
            local.on_row = send_row;
            local.poll = nullptr;
            run_sweep_points(plan, mine, local);
            return {};
        }
        const std::size_t expected = todo.size() - mine.size();  // rows the other ranks will send
        std::vector<SweepRow> remote;
        auto take = [&](const MPI_Status& status) {
            SweepRow row = receive_row(status);
            if (options.on_row) options.on_row(row);
            remote.push_back(std::move(row));
        };
        SweepRunOptions local = options;
        local.poll = [&] {  // rows that have arrived, without waiting
            while (remote.size() < expected) {
                int arrived = 0;
                MPI_Status status;
                check(MPI_Iprobe(MPI_ANY_SOURCE, kRowTag, MPI_COMM_WORLD, &arrived, &status), "MPI_Iprobe");
                if (arrived == 0) break;
                take(status);
            }
        };
        std::vector<SweepRow> rows = run_sweep_points(plan, mine, local);
        while (remote.size() < expected) {
            MPI_Status status;
            check(MPI_Probe(MPI_ANY_SOURCE, kRowTag, MPI_COMM_WORLD, &status), "MPI_Probe");
            take(status);
        }
        rows.insert(rows.end(), std::make_move_iterator(remote.begin()), std::make_move_iterator(remote.end()));
        std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.point < b.point; });
        return rows;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gpuhours (rank %d of %d): %s\n", me, ranks, e.what());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, dynamic_cast<const Error*>(&e) != nullptr ? 2 : 1);
        throw;  // not reached
    }
}

}  // namespace gpuhours::cli::distributed
