// Egalitarian processor sharing (Kleinrock, "Queueing Systems, Vol. 2", 1976, §4.4): a server whose k jobs in
// progress each advance at 1/k of the server's rate; work-conserving, so the last job of a busy period ends when
// the sum of the period's work has been served. A job's work is given as the time it would take alone.
//
// An ExternalModel of the engine (engine.hpp): `task(…)` makes a Driven task that, once started, is served by one
// of the model's servers and finishes there. It knows nothing of GPUs or networks; the step uses one server per
// simulated rank for its data-parallel collectives in symmetric mode (training/step.hpp).
//
// Exactness. Each server keeps a virtual clock V (a double, in picoseconds) that advances at 1/k per unit of real
// time while k jobs are in progress; a job arriving at V = v with work w ends when V reaches v + w (its tag). Times
// are integer picoseconds: the next end is the real time at which V reaches the smallest tag, rounded up to a whole
// picosecond, so a job never ends before its work is done (up to the rounding of V, which is exact while k ≤ 2 and
// under a picosecond otherwise) and ends at most 1 ps × (the arrivals and ends in its busy period) late. Jobs whose
// tags are equal as doubles end together, in the order they started. Deterministic: the same calls give the same
// times.
#pragma once

#include <gpuhours/engine/engine.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpuhours {

class ProcessorSharing final : public ExternalModel {
public:
    // `servers` servers, numbered 0 … servers − 1. The model must be registered with `engine` (add_model) before
    // run() and outlive it; the constructor registers it.
    ProcessorSharing(Engine& engine, std::size_t servers);

    // A task on `server` (< servers) that, once its dependencies have finished, takes `work` alone and longer while it
    // shares the server; `work` ≥ 0 (zero ends at once). Throws std::out_of_range for a server out of range.
    TaskId task(std::size_t server, SimTime work, std::vector<TaskId> after, std::string name = {});

    [[nodiscard]] std::optional<SimTime> next_event_time() const override;
    void advance_to(SimTime t) override;

    // Jobs in progress on `server` now.
    [[nodiscard]] std::size_t in_progress(std::size_t server) const { return servers_.at(server).jobs.size(); }

private:
    struct Job {
        double tag = 0.0;  // the virtual time at which it ends, in picoseconds
        std::uint64_t order = 0;
        TaskId task;
    };
    struct Server {
        double virtual_now = 0.0;  // V, picoseconds of one job's service
        SimTime last;              // the real time V was last brought to
        std::vector<Job> jobs;     // in progress, a min-heap on (tag, order)
    };
    void arrive(std::size_t server, SimTime work, TaskId task);
    void bring_to(Server& s, SimTime t) const;
    [[nodiscard]] std::optional<SimTime> next_end(const Server& s) const;

    Engine& engine_;
    std::vector<Server> servers_;
    std::uint64_t arrivals_ = 0;
};

}  // namespace gpuhours
