#include <gpuhours/engine/engine.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace gpuhours;

namespace {

SimTime ps(std::int64_t v) { return SimTime::from_picoseconds(v); }

TaskSpec fixed(std::string name, std::int64_t duration_ps, std::vector<TaskId> after = {},
               std::optional<ResourceId> resource = std::nullopt) {
    TaskSpec spec;
    spec.name = std::move(name);
    spec.after = std::move(after);
    spec.resource = resource;
    spec.work = FixedDuration{ps(duration_ps)};
    return spec;
}

// "name:started@t" / "name:finished@t" for every task event, in the order the engine reports them.
std::vector<std::string> trace_of(Engine& engine) {
    auto trace = std::make_shared<std::vector<std::string>>();
    engine.subscribe([trace](const TaskEvent& e) {
        trace->push_back(std::string(e.name) + (e.phase == TaskPhase::started ? ":started@" : ":finished@") +
                         std::to_string(e.time.picoseconds()));
    });
    engine.run();
    return *trace;
}

}  // namespace

TEST_CASE("Events scheduled for the same time run in the order they were scheduled") {
    Engine engine;
    std::vector<int> order;
    // Scheduled out of time order; the two at t = 5 ps must keep their scheduling order (sequence numbers).
    engine.schedule(ps(5), [&] { order.push_back(1); });
    engine.schedule(ps(3), [&] { order.push_back(0); });
    engine.schedule(ps(5), [&] { order.push_back(2); });
    engine.schedule(ps(5), [&] { order.push_back(3); });
    const SimTime end = engine.run();
    CHECK(order == std::vector<int>{0, 1, 2, 3});
    CHECK(end == ps(5));
    CHECK(engine.events_processed() == 4);  // plain events only: no tasks
}

TEST_CASE("Tasks that finish at the same time finish in submission order, identically on every run") {
    auto build = [](Engine& engine) {
        // Three independent 10 ps tasks all finish at 10 ps; a fourth waits for all of them.
        const TaskId c = engine.add_task(fixed("c", 10));
        const TaskId a = engine.add_task(fixed("a", 10));
        const TaskId b = engine.add_task(fixed("b", 10));
        engine.add_task(fixed("join", 1, {a, b, c}));
    };
    Engine first;
    build(first);
    Engine second;
    build(second);
    const auto t1 = trace_of(first);
    const auto t2 = trace_of(second);
    CHECK(t1 == t2);
    CHECK(t1 == std::vector<std::string>{"c:started@0", "a:started@0", "b:started@0", "c:finished@10", "a:finished@10",
                                         "b:finished@10", "join:started@10", "join:finished@11"});
}

TEST_CASE("Tasks on one serial resource run one at a time in submission order") {
    Engine engine;
    const ResourceId stream = engine.add_resource("gpu0/compute");
    // blocker: 100 ps, no resource. On the stream, in submission order: A (10 ps), B (20 ps, after blocker),
    // C (5 ps, no dependency). C is ready at 0 but a stream runs in submission order, so it waits for B:
    // A 0→10, B waits for blocker → 100→120, C 120→125.
    const TaskId blocker = engine.add_task(fixed("blocker", 100));
    const TaskId a = engine.add_task(fixed("A", 10, {}, stream));
    const TaskId b = engine.add_task(fixed("B", 20, {blocker}, stream));
    const TaskId c = engine.add_task(fixed("C", 5, {}, stream));
    engine.run();
    CHECK(engine.start_time(a) == ps(0));
    CHECK(engine.finish_time(a) == ps(10));
    CHECK(engine.start_time(b) == ps(100));
    CHECK(engine.finish_time(b) == ps(120));
    CHECK(engine.start_time(c) == ps(120));
    CHECK(engine.finish_time(c) == ps(125));
}

TEST_CASE("A task starts when the last of its dependencies finishes") {
    Engine engine;
    // a ends at 10 ps, b at 30 ps ⇒ c starts at max(10, 30) = 30 ps and ends at 30 + 7 = 37 ps.
    const TaskId a = engine.add_task(fixed("a", 10));
    const TaskId b = engine.add_task(fixed("b", 30));
    const TaskId c = engine.add_task(fixed("c", 7, {a, b}));
    CHECK(engine.run() == ps(37));
    CHECK(engine.start_time(c) == ps(30));
}

TEST_CASE("Observers see each task start and finish with its resource") {
    Engine engine;
    const ResourceId r = engine.add_resource("gpu3/comm");
    engine.add_task(fixed("send", 4, {}, r));
    std::vector<std::string> seen;
    engine.subscribe([&](const TaskEvent& e) {
        seen.push_back(std::string(e.resource_name) + " " + std::string(e.name) + " " + std::to_string(e.time.picoseconds()));
    });
    engine.run();
    // Starts are events too, so an observer subscribed after add_task but before run() sees both.
    CHECK(seen == std::vector<std::string>{"gpu3/comm send 0", "gpu3/comm send 4"});
}

TEST_CASE("A driven task ends when someone calls finish, and its dependents follow") {
    Engine engine;
    TaskSpec driven;
    driven.name = "driven";
    driven.work = Driven{[&engine](TaskId id) { engine.schedule(engine.now() + ps(42), [&engine, id] { engine.finish(id); }); }};
    const TaskId d = engine.add_task(std::move(driven));
    const TaskId after = engine.add_task(fixed("after", 8, {d}));
    CHECK(engine.run() == ps(50));
    CHECK(engine.finish_time(d) == ps(42));
    CHECK(engine.start_time(after) == ps(42));
}

namespace {

// A model with fixed event times that records when it was advanced and finishes a task at its last event.
class ScriptedModel final : public ExternalModel {
public:
    std::vector<SimTime> events;
    std::vector<std::int64_t> advanced;
    std::function<void(SimTime)> on_event;
    [[nodiscard]] std::optional<SimTime> next_event_time() const override {
        if (next_ >= events.size()) return std::nullopt;
        return events[next_];
    }
    void advance_to(SimTime t) override {
        advanced.push_back(t.picoseconds());
        while (next_ < events.size() && events[next_] <= t) {
            if (on_event) on_event(events[next_]);
            ++next_;
        }
    }

private:
    std::size_t next_ = 0;
};

}  // namespace

TEST_CASE("External models are polled for their next event and advanced before the queue at that time") {
    Engine engine;
    ScriptedModel model;
    model.events = {ps(15), ps(40)};
    engine.add_model(model);
    std::vector<std::string> log;
    engine.schedule(ps(20), [&] { log.push_back("queue@20"); });
    model.on_event = [&](SimTime t) { log.push_back("model@" + std::to_string(t.picoseconds())); };
    CHECK(engine.run() == ps(40));
    CHECK(log == std::vector<std::string>{"model@15", "queue@20", "model@40"});
    CHECK(model.advanced == std::vector<std::int64_t>{15, 20, 40});
}

TEST_CASE("A graph of fixed-duration tasks gets the same times in one pass as through the event loop") {
    // Resource R runs x (10 ps), then y, then z, in submission order. y waits for w (25 ps, no resource) and
    // z for nothing but R; q waits for z and x, and is zero-length; v has no resource and waits for q.
    //   x: 0–10; w: 0–25; y: max(25, 10) = 25–30; z: after y on R: 30–37 (z is ready at 0 but R is strict FIFO);
    //   q: max(37, 10) = 37–37; v: 37–41. Makespan 41.
    auto build = [](Engine& engine) {
        const ResourceId r = engine.add_resource("R");
        const TaskId w = engine.add_task(fixed("w", 25));
        const TaskId x = engine.add_task(fixed("x", 10, {}, r));
        engine.add_task(fixed("y", 5, {w}, r));
        const TaskId z = engine.add_fixed_task({}, r, ps(7), "z");
        const TaskId q = engine.add_fixed_task(std::vector<TaskId>{z, x}, std::nullopt, ps(0));
        engine.add_fixed_task(std::vector<TaskId>{q}, std::nullopt, ps(4), "v");
    };
    Engine one_pass;  // no observer, no Driven task: run() takes the one-pass path
    build(one_pass);
    CHECK(one_pass.run() == ps(41));
    Engine looped;
    build(looped);
    (void)trace_of(looped);  // an observer: run() takes the event loop
    const std::vector<std::int64_t> starts{0, 0, 25, 30, 37, 37};
    const std::vector<std::int64_t> finishes{25, 10, 30, 37, 37, 41};
    for (std::uint32_t i = 0; i < 6; ++i) {
        CHECK(one_pass.start_time(TaskId{i}) == ps(starts[i]));
        CHECK(one_pass.finish_time(TaskId{i}) == ps(finishes[i]));
        CHECK(looped.start_time(TaskId{i}) == one_pass.start_time(TaskId{i}));
        CHECK(looped.finish_time(TaskId{i}) == one_pass.finish_time(TaskId{i}));
    }
    CHECK(one_pass.events_processed() == looped.events_processed());  // 2 per task: 12
    CHECK(one_pass.events_processed() == 12);
    CHECK(one_pass.name(TaskId{3}) == "z");
}

TEST_CASE("Tasks added before a plain event start before it at the same time, as if linked when added") {
    // Until run() or schedule(), add_task only records; schedule() links what was recorded first, so a's start
    // event (sequence 0) precedes the action (1), which precedes b's start (2): at t = 0 the queue runs a's start
    // (queuing its finish, 3), the action, b's start (queuing 4), then a's finish and b's.
    Engine engine;
    std::vector<std::string> log;
    engine.subscribe([&](const TaskEvent& e) {
        log.push_back(std::string(e.name) + (e.phase == TaskPhase::started ? ":started" : ":finished"));
    });
    engine.add_task(fixed("a", 0));
    engine.schedule(ps(0), [&] { log.push_back("action"); });
    engine.add_task(fixed("b", 0));
    CHECK(engine.run() == ps(0));
    CHECK(log == std::vector<std::string>{"a:started", "action", "b:started", "a:finished", "b:finished"});
}

TEST_CASE("A graph gets the same times whether recorded until run() or linked at each add_task") {
    // Resource R: x (10 ps) then y (5 ps, after w: 25 ps, no resource) then z (7 ps); q (zero-length) after z and
    // x; v (4 ps) after q. Times: w 0–25, x 0–10, y max(25, 10) = 25–30, z 30–37, q 37–37, v 37–41.
    const std::vector<std::int64_t> starts{0, 0, 25, 30, 37, 37};
    const std::vector<std::int64_t> finishes{25, 10, 30, 37, 37, 41};
    auto build = [](Engine& engine) {
        const ResourceId r = engine.add_resource("R");
        const TaskId w = engine.add_fixed_task({}, std::nullopt, ps(25));
        const TaskId x = engine.add_fixed_task({}, r, ps(10));
        engine.add_fixed_task(std::vector<TaskId>{w}, r, ps(5));
        const TaskId z = engine.add_fixed_task({}, r, ps(7));
        const TaskId q = engine.add_fixed_task(std::vector<TaskId>{z, x}, std::nullopt, ps(0));
        engine.add_fixed_task(std::vector<TaskId>{q}, std::nullopt, ps(4));
    };
    Engine recorded;  // one pass over the record
    build(recorded);
    Engine linked;    // a plain event first: every task is linked as it is added, and run() loops over events
    linked.schedule(ps(0), [] {});
    build(linked);
    CHECK(recorded.run() == ps(41));
    CHECK(linked.run() == ps(41));
    for (std::uint32_t i = 0; i < 6; ++i) {
        CHECK(recorded.start_time(TaskId{i}) == ps(starts[i]));
        CHECK(recorded.finish_time(TaskId{i}) == ps(finishes[i]));
        CHECK(linked.start_time(TaskId{i}) == ps(starts[i]));
        CHECK(linked.finish_time(TaskId{i}) == ps(finishes[i]));
    }
    CHECK(recorded.events_processed() == 12);      // a start and a finish per task
    CHECK(linked.events_processed() == 12 + 1);    // and the plain event
}

TEST_CASE("Tasks added after a one-pass run start at its end when their dependencies are met") {
    // First run: a (10 ps) then b (5 ps) on R, one pass: ends at 15. Then c (3 ps) on R after a, and d (2 ps)
    // after c: a and R are free by 15, so c runs 15–18 and d 18–20, through the event loop.
    Engine engine;
    const ResourceId r = engine.add_resource("R");
    const TaskId a = engine.add_fixed_task({}, r, ps(10));
    engine.add_fixed_task({}, r, ps(5));
    CHECK(engine.run() == ps(15));
    const TaskId c = engine.add_fixed_task(std::vector<TaskId>{a}, r, ps(3));
    const TaskId d = engine.add_fixed_task(std::vector<TaskId>{c}, std::nullopt, ps(2));
    CHECK(engine.run() == ps(20));
    CHECK(engine.start_time(c) == ps(15));
    CHECK(engine.start_time(d) == ps(18));
    CHECK(engine.finish_time(d) == ps(20));
}

TEST_CASE("The event loop reports the share of tasks finished every kProgressEvents events") {
    // A chain of 70,000 tasks of 1 ps each, every one waiting for the one before; an observer keeps run() on the
    // event loop. Each task takes two events, its start then its finish (a dependent starts through an event), so
    // event 2k + 2 is the finish of task k (from 0). kProgressEvents = 65,536: the reports come after events 65,536
    // (task 32,767 finished: 32,768 of 70,000 done) and 131,072 (65,536 done); there are 140,000 events in all.
    REQUIRE(Engine::kProgressEvents == 65536);
    Engine engine;
    const int n = 70000;
    std::vector<TaskId> previous;
    for (int i = 0; i < n; ++i) previous = {engine.add_fixed_task(previous, std::nullopt, ps(1))};
    engine.subscribe([](const TaskEvent&) {});
    std::vector<double> reports;
    engine.set_progress([&](double share) { reports.push_back(share); });
    CHECK(engine.run() == ps(n));
    CHECK(engine.events_processed() == 2u * n);
    REQUIRE(reports.size() == 2);
    CHECK(reports[0] == 32768.0 / n);
    CHECK(reports[1] == 65536.0 / n);
    // A run computed in one pass (no observer) reports nothing.
    Engine one_pass;
    previous.clear();
    for (int i = 0; i < n; ++i) previous = {one_pass.add_fixed_task(previous, std::nullopt, ps(1))};
    bool reported = false;
    one_pass.set_progress([&](double) { reported = true; });
    CHECK(one_pass.run() == ps(n));
    CHECK_FALSE(reported);
}
