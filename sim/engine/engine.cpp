#include <gpuhours/engine/engine.hpp>

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>

namespace gpuhours {

ResourceId Engine::add_resource(std::string name) {
    Resource r;
    r.name = std::move(name);
    resources_.push_back(std::move(r));
    return ResourceId{static_cast<std::uint32_t>(resources_.size() - 1)};
}

void Engine::TaskStore::out_of_range(std::size_t i) { throw std::out_of_range("engine: no task " + std::to_string(i)); }

Engine::Task& Engine::TaskStore::emplace_back() {
    // make_unique<Task[]> value-initialises the chunk: each task already holds Task's defaults.
    if ((size_ >> kShift) == chunks_.size()) chunks_.push_back(std::make_unique<Task[]>(kMask + 1));
    return (*this)[size_++];
}

TaskId Engine::add_task(TaskSpec spec) {
    assert(!std::holds_alternative<Driven>(spec.work) || std::get<Driven>(spec.work).on_start);
    assert(!std::holds_alternative<FixedDuration>(spec.work) || std::get<FixedDuration>(spec.work).duration >= SimTime::zero());
    const TaskId id{static_cast<std::uint32_t>(tasks_.size())};
    Task& task = new_task(spec.resource);
    if (auto* fixed = std::get_if<FixedDuration>(&spec.work)) {
        task.duration = fixed->duration;
    } else {
        task.driven = static_cast<std::uint32_t>(driven_.size());
        driven_.push_back(std::move(std::get<Driven>(spec.work).on_start));
    }
    set_name(task, std::move(spec.name));
    attach(id, spec.after);
    return id;
}

TaskId Engine::add_fixed_task(std::span<const TaskId> after, std::optional<ResourceId> resource, SimTime duration,
                              std::string_view name) {
    assert(duration >= SimTime::zero());
    const TaskId id{static_cast<std::uint32_t>(tasks_.size())};
    Task& task = new_task(resource);
    task.duration = duration;
    if (!name.empty()) set_name(task, std::string(name));
    if (linked_) {
        link(id, after);
        return id;
    }
    assert(std::all_of(after.begin(), after.end(), [&](TaskId d) { return d.index < id.index; }) &&
           "a dependency must be added before its dependent");
    // attach's record, without the call (about 10⁵ tasks); push_back, cheaper than a range insert of one or two
    for (const TaskId dep : after) deps_.push_back(dep);
    deps_end_.push_back(static_cast<std::uint32_t>(deps_.size()));
    return id;
}

Engine::Task& Engine::new_task(std::optional<ResourceId> resource) {
    Task& task = tasks_.emplace_back();
    if (resource) {
        assert(resource->index < resources_.size() && "unknown resource");
        task.resource = resource->index;
    }
    return task;
}

void Engine::set_name(Task& task, std::string&& name) {
    if (name.empty()) return;
    task.name = static_cast<std::uint32_t>(names_.size());
    names_.push_back(std::move(name));
}

void Engine::attach(TaskId id, std::span<const TaskId> after) {
    if (linked_) {
        link(id, after);
        return;
    }
    for (const TaskId dep : after) {
        assert(dep.index < id.index && "a dependency must be added before its dependent");
        deps_.push_back(dep);
    }
    deps_end_.push_back(static_cast<std::uint32_t>(deps_.size()));
}

void Engine::link(TaskId id, std::span<const TaskId> after) {
    Task& task = tasks_[id.index];
    for (const TaskId dep : after) {
        assert(dep.index < id.index && "a dependency must be added before its dependent");
        Task& producer = tasks_[dep.index];
        if (producer.finished != kNotYet) continue;
        ++task.unmet;
        const auto entry = static_cast<std::uint32_t>(dependents_.size());
        dependents_.push_back(DependentLink{id.index, kNone});
        if (producer.last_dependent == kNone) producer.first_dependent = entry;
        else dependents_[producer.last_dependent].next = entry;
        producer.last_dependent = entry;
    }
    if (task.resource != kNone) resources_[task.resource].pending.push(id);
    if (task.unmet == 0) make_ready(id);
}

// Replays insert's linking for every task recorded so far, in submission order: the same dependents lists, queues
// and start events (with the same sequence numbers) as linking each at its add_task, since nothing has run yet.
void Engine::link_all() {
    if (linked_) return;
    linked_ = true;
    std::uint32_t begin = 0;
    for (std::uint32_t i = 0; i < deps_end_.size(); ++i) {
        link(TaskId{i}, std::span<const TaskId>(deps_).subspan(begin, deps_end_[i] - begin));
        begin = deps_end_[i];
    }
    deps_ = {};
    deps_end_ = {};
}

void Engine::schedule(SimTime at, std::function<void()> action) {
    assert(at >= now_ && "cannot schedule in the past");
    link_all();  // tasks added before this event keep their start events' earlier sequence numbers
    std::uint32_t slot = 0;
    if (!free_action_slots_.empty()) {
        slot = free_action_slots_.back();
        free_action_slots_.pop_back();
        actions_[slot] = std::move(action);
    } else {
        slot = static_cast<std::uint32_t>(actions_.size());
        actions_.push_back(std::move(action));
    }
    push(at, EventKind::action, slot);
}

void Engine::add_model(ExternalModel& model) { models_.push_back(&model); }

void Engine::subscribe(std::function<void(const TaskEvent&)> observer) { observers_.push_back(std::move(observer)); }

void Engine::finish(TaskId task) {
    assert(task.index < tasks_.size());
    [[maybe_unused]] const Task& t = tasks_[task.index];
    assert(t.driven != kNone && t.started != kNotYet && t.finished == kNotYet && "finish() needs a running Driven task");
    push(now_, EventKind::finish_task, task.index);
}

void Engine::push(SimTime at, EventKind kind, std::uint32_t payload) {
    queue_.push(Event{at, next_sequence_++, kind, payload});
}

void Engine::make_ready(TaskId id) {
    Task& task = tasks_[id.index];
    task.ready = true;
    if (task.resource != kNone) {
        try_start_resource(ResourceId{task.resource});
    } else {
        start(id);
    }
}

void Engine::try_start_resource(ResourceId r) {
    Resource& res = resources_[r.index];
    if (res.busy || res.pending.empty()) return;
    const TaskId head = res.pending.front();
    if (!tasks_[head.index].ready) return;  // strict submission order: a later ready task waits for the head
    res.busy = true;
    start(head);
}

void Engine::start(TaskId id) { push(now_, EventKind::start_task, id.index); }

void Engine::begin(TaskId id) {
    Task& task = tasks_[id.index];
    task.started = now_;
    notify(TaskPhase::started, id);
    if (task.driven == kNone) {
        push(now_ + task.duration, EventKind::finish_task, id.index);
    } else {
        // Copy: on_start may add tasks, which can reallocate driven_.
        const std::function<void(TaskId)> on_start = driven_[task.driven];
        on_start(id);
    }
}

void Engine::complete(TaskId id) {
    tasks_[id.index].finished = now_;
    ++finished_count_;
    notify(TaskPhase::finished, id);
    if (const std::uint32_t r = tasks_[id.index].resource; r != kNone) {
        Resource& res = resources_[r];
        res.busy = false;
        res.pending.pop();
        try_start_resource(ResourceId{r});
    }
    // Index walk: starting a dependent may add tasks and dependents (reallocating dependents_); a task that has
    // finished gains no dependents, so its list is fixed.
    for (std::uint32_t link = tasks_[id.index].first_dependent; link != kNone; link = dependents_[link].next) {
        const TaskId dep{dependents_[link].task};
        if (--tasks_[dep.index].unmet == 0) make_ready(dep);
    }
}

void Engine::notify(TaskPhase phase, TaskId id) {
    if (observers_.empty()) return;
    const Task& task = tasks_[id.index];
    TaskEvent event;
    event.phase = phase;
    event.task = id;
    event.name = name(id);
    if (task.resource != kNone) {
        event.resource = ResourceId{task.resource};
        event.resource_name = resources_[task.resource].name;
    }
    event.time = now_;
    for (const auto& observer : observers_) observer(event);
}

// Whether run() may compute every time in one pass over the tasks (run_static): nothing has run yet, and nothing
// but fixed-duration tasks can happen — no Driven task, plain event, observer or external model's event.
bool Engine::static_schedule() const {
    if (linked_) return false;
    if (now_ != SimTime::zero() || finished_count_ != 0 || events_processed_ != 0) return false;
    if (!driven_.empty() || !actions_.empty() || !observers_.empty()) return false;
    for (const ExternalModel* model : models_) {
        if (model->next_event_time()) return false;
    }
    return true;
}

// Fixed-duration tasks whose dependencies and resource predecessors all come earlier in submission order (add_task
// requires it of dependencies, and a resource runs its tasks in submission order) have times set by the graph
// alone: start = max(the dependencies' finishes, the resource's previous task's finish), finish = start + duration.
// The event loop would reach the same times (a task starts at the event time its last constraint ends, a zero
// duration included), so one pass in index order replaces two queued events per task. Counts the events the loop
// would have processed (a start and a finish per task).
SimTime Engine::run_static() {
    std::vector<SimTime> resource_free(resources_.size(), SimTime::zero());
    SimTime end = SimTime::zero();
    std::uint32_t begin = 0;
    for (std::uint32_t i = 0; i < tasks_.size(); ++i) {
        Task& task = tasks_[i];
        SimTime start = SimTime::zero();
        for (std::uint32_t d = begin; d < deps_end_[i]; ++d) start = std::max(start, tasks_[deps_[d].index].finished);
        begin = deps_end_[i];
        if (task.resource != kNone) start = std::max(start, resource_free[task.resource]);
        const SimTime finish = start + task.duration;
        task.started = start;
        task.finished = finish;
        task.ready = true;
        if (task.resource != kNone) resource_free[task.resource] = finish;
        end = std::max(end, finish);
    }
    // Every task has finished: tasks added later see their dependencies met and link at once.
    linked_ = true;
    deps_ = {};
    deps_end_ = {};
    finished_count_ = tasks_.size();
    events_processed_ += 2 * tasks_.size();
    now_ = end;
    return now_;
}

SimTime Engine::run() {
    if (static_schedule()) return run_static();
    link_all();
    for (;;) {
        std::optional<SimTime> next;
        if (!queue_.empty()) next = queue_.top().time;
        for (const ExternalModel* model : models_) {
            if (const std::optional<SimTime> t = model->next_event_time()) {
                assert(*t >= now_ && "an external model reported an event in the past");
                if (!next || *t < *next) next = t;
            }
        }
        if (!next) break;
        now_ = *next;
        for (ExternalModel* model : models_) model->advance_to(now_);
        while (!queue_.empty() && queue_.top().time == now_) {
            const Event event = queue_.top();
            queue_.pop();
            ++events_processed_;
            switch (event.kind) {
                case EventKind::action: {
                    std::function<void()> action = std::move(actions_[event.payload]);
                    actions_[event.payload] = nullptr;
                    free_action_slots_.push_back(event.payload);
                    action();
                    break;
                }
                case EventKind::start_task: begin(TaskId{event.payload}); break;
                case EventKind::finish_task: complete(TaskId{event.payload}); break;
            }
            if (progress_ && events_processed_ % kProgressEvents == 0 && tasks_.size() > 0) {
                progress_(static_cast<double>(finished_count_) / static_cast<double>(tasks_.size()));
            }
        }
    }
    if (finished_count_ != tasks_.size()) {
        throw std::logic_error("engine: " + std::to_string(tasks_.size() - finished_count_) +
                               " task(s) never finished (a Driven task that nobody finished?)");
    }
    return now_;
}

const std::string& Engine::name(TaskId task) const {
    static const std::string unnamed;
    const std::uint32_t n = tasks_.at(task.index).name;
    return n == kNone ? unnamed : names_[n];
}

}  // namespace gpuhours
