// The discrete-event kernel: a simulated clock, an event queue, tasks with dependencies, serial resources and
// pluggable external models (SimGrid-style). It knows nothing of GPUs, networks or training.
//
// Contract
// - Time is `SimTime` (integer picoseconds). Events are ordered by (time, sequence number); the sequence number
//   is assigned when an event is scheduled, so ties resolve in scheduling order and a run is deterministic.
// - A task starts once every task in `after` has finished and, when it names a serial resource, once every task
//   submitted to that resource before it has finished (a CUDA stream: one at a time, in submission order,
//   even when a later task becomes ready first).
// - A task's work is either a fixed duration, or "driven": the engine calls `on_start` and the task ends when
//   someone calls `Engine::finish(id)` — typically an external model's completion callback (a network model
//   finishing the task's flows). See network.hpp `add_flows_task`.
// - External models own events whose times change while they run (a flow's end moves when a competitor starts
//   or ends). The engine polls them with two calls: `next_event_time()` and `advance_to(t)`.
// - Observers see every task start and finish (tracing, energy accounting); they must not mutate the engine.
// - No global state: any number of engines may live in one process.
#pragma once

#include <gpuhours/units/units.hpp>

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gpuhours {

struct TaskId {
    std::uint32_t index = 0;
    friend constexpr auto operator<=>(TaskId, TaskId) = default;
};

struct ResourceId {
    std::uint32_t index = 0;
    friend constexpr auto operator<=>(ResourceId, ResourceId) = default;
};

// A component that owns events the engine cannot pre-schedule (SimGrid's "model" interface).
class ExternalModel {
public:
    ExternalModel() = default;
    ExternalModel(const ExternalModel&) = delete;
    ExternalModel& operator=(const ExternalModel&) = delete;
    virtual ~ExternalModel() = default;

    // Earliest time at which the model has something to do, or nullopt when it is idle. Never earlier than the
    // last time passed to advance_to.
    [[nodiscard]] virtual std::optional<SimTime> next_event_time() const = 0;
    // Moves the model's clock to `t` and fires what is due at `t` (e.g. flow-completion callbacks, which may
    // call Engine::finish). Called with non-decreasing `t`.
    virtual void advance_to(SimTime t) = 0;
};

// The task takes exactly `duration` once started.
struct FixedDuration {
    SimTime duration;
};

// The task ends when Engine::finish(id) is called. `on_start` runs at the start time with the task's id; it may
// call finish at once (a zero-length task) or hand the id to a model that finishes it later.
struct Driven {
    std::function<void(TaskId)> on_start;
};

struct TaskSpec {
    std::string name;
    std::optional<ResourceId> resource;  // serial resource, or nullopt: the task starts as soon as it is ready
    std::vector<TaskId> after;           // tasks that must finish first (must already exist)
    std::variant<FixedDuration, Driven> work = FixedDuration{};
};

enum class TaskPhase { started, finished };

struct TaskEvent {
    TaskPhase phase = TaskPhase::started;
    TaskId task;
    std::string_view name;
    std::optional<ResourceId> resource;
    std::string_view resource_name;  // empty when the task has no resource
    SimTime time;
};

class Engine {
public:
    Engine() = default;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    ResourceId add_resource(std::string name);
    // Adds a task; tasks may be added before or during run(). Dependencies that already finished count as met.
    // A ready task starts through an event at now(), so observers subscribed before run() see every start.
    TaskId add_task(TaskSpec spec);
    // The same as add_task for a fixed-duration task, without building a TaskSpec: `after` is read, not kept, so
    // a caller can reuse its buffer (a step adds about 10⁵ such tasks). `name` may be empty (unnamed).
    TaskId add_fixed_task(std::span<const TaskId> after, std::optional<ResourceId> resource, SimTime duration,
                          std::string_view name = {});
    // A plain event: `action` runs at `at` (≥ now()).
    void schedule(SimTime at, std::function<void()> action);
    // Registers a non-owning external model; it must outlive run().
    void add_model(ExternalModel& model);
    void subscribe(std::function<void(const TaskEvent&)> observer);
    // Completes a running Driven task at now(). Calling it for a task that is not a running Driven task is a
    // programmer error.
    void finish(TaskId task);
    // Reports how far run() has come — the share of the tasks added so far that have finished, 0 to 1 — to
    // `report` after every kProgressEvents events of the event loop (a run computed in one pass over the tasks
    // reports nothing). For progress bars: `report` must not add tasks or events.
    void set_progress(std::function<void(double)> report) { progress_ = std::move(report); }
    static constexpr std::uint64_t kProgressEvents = std::uint64_t{1} << 16;

    // Processes events until none are left; returns the time of the last one. Throws std::logic_error when
    // tasks remain unfinished (a Driven task nobody finished). When only fixed-duration tasks were added (no
    // Driven task, plain event, observer or pending model event), the times follow from the graph alone and are
    // computed in one pass over the tasks, O(tasks + dependencies), with the same result as the event loop.
    // Until the first run() or schedule(), add_task only records a task and its dependencies (no dependents list,
    // resource queue or start event); the event loop's structures are built from that record, in submission
    // order, when it is first needed, so events carry the same sequence numbers as if built at each add_task.
    SimTime run();

    [[nodiscard]] SimTime now() const { return now_; }
    [[nodiscard]] std::optional<SimTime> start_time(TaskId task) const {
        const SimTime t = tasks_.at(task.index).started;
        return t == kNotYet ? std::nullopt : std::optional<SimTime>(t);
    }
    [[nodiscard]] std::optional<SimTime> finish_time(TaskId task) const {
        const SimTime t = tasks_.at(task.index).finished;
        return t == kNotYet ? std::nullopt : std::optional<SimTime>(t);
    }
    [[nodiscard]] const std::string& name(TaskId task) const;
    [[nodiscard]] std::size_t task_count() const { return tasks_.size(); }
    // Events taken off the queue so far (task starts, task ends and plain events), for benchmarks.
    [[nodiscard]] std::uint64_t events_processed() const { return events_processed_; }

private:
    // 48 bytes: what the run reads. A name (read by observers and the trace) and a Driven task's on_start live in
    // side tables, so the common unnamed fixed-duration task carries neither a string nor a std::function.
    struct Task {
        SimTime duration;                       // FixedDuration's; unused for a Driven task
        SimTime started = kNotYet;
        SimTime finished = kNotYet;
        std::uint32_t resource = kNone;         // serial resource index, or kNone
        std::uint32_t unmet = 0;                // dependencies not yet finished
        std::uint32_t first_dependent = kNone;  // list in dependents_, in the order the dependents were added
        std::uint32_t last_dependent = kNone;
        std::uint32_t name = kNone;             // index in names_, or kNone (unnamed)
        std::uint32_t driven = kNone;           // index in driven_ (a Driven task's on_start), or kNone
        bool ready = false;
    };
    static constexpr std::uint32_t kNone = 0xFFFFFFFFu;
    static constexpr SimTime kNotYet = SimTime::from_picoseconds(-1);
    // One dependent of a task: the dependent, and the next entry of the same task's list (kNone at the end).
    struct DependentLink {
        std::uint32_t task = 0;
        std::uint32_t next = kNone;
    };
    // Tasks in chunks of 4,096: adding a task never moves the others (a step adds about 10⁵) and costs one
    // allocation per chunk, not one per few tasks as a deque of tasks this size does.
    class TaskStore {
    public:
        Task& operator[](std::size_t i) { return chunks_[i >> kShift][i & kMask]; }
        const Task& operator[](std::size_t i) const { return chunks_[i >> kShift][i & kMask]; }
        [[nodiscard]] std::size_t size() const { return size_; }
        const Task& at(std::size_t i) const {  // throws std::out_of_range
            if (i >= size_) out_of_range(i);
            return (*this)[i];
        }
        Task& emplace_back();  // a new task with Task's defaults, constructed in place

    private:
        [[noreturn]] static void out_of_range(std::size_t i);
        static constexpr std::size_t kShift = 12;
        static constexpr std::size_t kMask = (std::size_t{1} << kShift) - 1;
        std::vector<std::unique_ptr<Task[]>> chunks_;
        std::size_t size_ = 0;
    };
    struct Resource {
        std::string name;
        std::queue<TaskId> pending;  // submission order; front is the next to run
        bool busy = false;
    };
    enum class EventKind : std::uint8_t { start_task, finish_task, action };
    struct Event {
        SimTime time;
        std::uint64_t sequence = 0;
        EventKind kind = EventKind::action;
        std::uint32_t payload = 0;  // task index, or slot in actions_
        // std::priority_queue is a max-heap: "greater" means later.
        friend bool operator<(const Event& a, const Event& b) {
            if (a.time != b.time) return a.time > b.time;
            return a.sequence > b.sequence;
        }
    };

    void push(SimTime at, EventKind kind, std::uint32_t payload);
    // add_task's common parts: a new task on `resource`; then its dependencies: once linked_, links `after`,
    // queues the task on its resource and readies it (before that, records `after` in deps_ for link_all or
    // run_static).
    Task& new_task(std::optional<ResourceId> resource);
    void attach(TaskId id, std::span<const TaskId> after);
    // Gives `task` the name `name` (kept in names_) unless it is empty.
    void set_name(Task& task, std::string&& name);
    // The event loop's part of inserting task `id`: dependents lists, resource queue, readiness.
    void link(TaskId id, std::span<const TaskId> after);
    // Links every recorded task in submission order and switches insert to linking at once.
    void link_all();
    void make_ready(TaskId id);
    void try_start_resource(ResourceId r);
    void start(TaskId id);   // queues the start at now() (so tasks added before run() start inside it)
    void begin(TaskId id);   // the start itself
    void complete(TaskId id);
    void notify(TaskPhase phase, TaskId id);
    [[nodiscard]] bool static_schedule() const;
    SimTime run_static();

    TaskStore tasks_;
    // Before linked_: each task's dependencies, task i's in deps_[deps_end_[i − 1], deps_end_[i]) (from 0 for the
    // first task). run_static reads them; link_all turns them into dependents lists and empties both.
    bool linked_ = false;
    std::vector<TaskId> deps_;
    std::vector<std::uint32_t> deps_end_;
    std::vector<DependentLink> dependents_;
    std::vector<std::string> names_;                     // the names of named tasks
    std::vector<std::function<void(TaskId)>> driven_;  // Driven tasks' on_start
    std::vector<Resource> resources_;
    std::vector<std::function<void()>> actions_;
    std::vector<std::uint32_t> free_action_slots_;
    std::priority_queue<Event> queue_;
    std::vector<ExternalModel*> models_;
    std::vector<std::function<void(const TaskEvent&)>> observers_;
    SimTime now_ = SimTime::zero();
    std::uint64_t next_sequence_ = 0;
    std::uint64_t events_processed_ = 0;
    std::function<void(double)> progress_;
    std::size_t finished_count_ = 0;
};

}  // namespace gpuhours
