// Processor sharing (include/gpuhours/engine/processor_sharing.hpp): jobs on one server each advance at 1/k while k
// are in progress, work-conserving; servers are independent. Every expected time is worked out by hand in the
// comment before it (times in picoseconds).
#include <gpuhours/engine/engine.hpp>
#include <gpuhours/engine/processor_sharing.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

using namespace gpuhours;

namespace {

SimTime ps(std::int64_t v) { return SimTime::from_picoseconds(v); }

std::int64_t started(const Engine& e, TaskId t) { return e.start_time(t).value().picoseconds(); }
std::int64_t finished(const Engine& e, TaskId t) { return e.finish_time(t).value().picoseconds(); }

}  // namespace

TEST_CASE("Two jobs started together share the server until the shorter ends, and the busy period is their work's sum") {
    Engine engine;
    ProcessorSharing server(engine, 1);
    const TaskId a = server.task(0, ps(10), {}, "a");
    const TaskId b = server.task(0, ps(30), {}, "b");
    engine.run();
    // Both at 1/2: a's 10 are served by t = 20, b has 30 − 10 = 20 left, alone: ends at 40 = 10 + 30.
    CHECK(finished(engine, a) == 20);
    CHECK(finished(engine, b) == 40);
}

TEST_CASE("A job that arrives later slows the one in progress from its arrival on") {
    Engine engine;
    ProcessorSharing server(engine, 1);
    const TaskId a = server.task(0, ps(10), {}, "a");
    const TaskId wait = engine.add_fixed_task({}, std::nullopt, ps(4), "wait");
    const std::vector<TaskId> after{wait};
    const TaskId b = server.task(0, ps(10), after, "b");
    engine.run();
    // a alone for 4 (6 left); then both at 1/2: a ends 12 later, at 16, when b has 6 served (4 left); b alone
    // ends at 20 = 10 + 10 (the server never idled).
    CHECK(started(engine, b) == 4);
    CHECK(finished(engine, a) == 16);
    CHECK(finished(engine, b) == 20);
}

TEST_CASE("Jobs on different servers do not share, and a dependent starts when its processor-shared task ends") {
    Engine engine;
    ProcessorSharing servers(engine, 2);
    const TaskId a = servers.task(0, ps(10), {}, "a");
    const TaskId b = servers.task(1, ps(30), {}, "b");
    const std::vector<TaskId> after{a};
    const TaskId next = engine.add_fixed_task(after, std::nullopt, ps(5), "next");
    engine.run();
    // Each alone on its server: 10 and 30; `next` runs 10 … 15.
    CHECK(finished(engine, a) == 10);
    CHECK(finished(engine, b) == 30);
    CHECK(started(engine, next) == 10);
    CHECK(finished(engine, next) == 15);
}

TEST_CASE("Equal tags end together, zero work ends at once, and times are whole picoseconds, never early") {
    Engine engine;
    ProcessorSharing server(engine, 1);
    // Three jobs of 1 ps at once: each at 1/3, all served at t = 3.
    const TaskId a = server.task(0, ps(1), {}, "a");
    const TaskId b = server.task(0, ps(1), {}, "b");
    const TaskId c = server.task(0, ps(1), {}, "c");
    const TaskId zero = server.task(0, ps(0), {}, "zero");
    engine.run();
    CHECK(finished(engine, a) == 3);
    CHECK(finished(engine, b) == 3);
    CHECK(finished(engine, c) == 3);
    CHECK(finished(engine, zero) == 0);

    // Work 2 and 3 together: at 1/2 the first is served at t = 4 (the second has 1 left), the second alone at 5.
    Engine second;
    ProcessorSharing s2(second, 1);
    const TaskId x = s2.task(0, ps(2), {}, "x");
    const TaskId y = s2.task(0, ps(3), {}, "y");
    second.run();
    CHECK(finished(second, x) == 4);
    CHECK(finished(second, y) == 5);
}

TEST_CASE("An end between two picoseconds is rounded up, and the lateness carries to the jobs still in progress") {
    Engine engine;
    ProcessorSharing server(engine, 1);
    const TaskId a = server.task(0, ps(1), {}, "a");
    const TaskId b = server.task(0, ps(1), {}, "b");
    const TaskId wait = engine.add_fixed_task({}, std::nullopt, ps(1), "wait");
    const std::vector<TaskId> after{wait};
    const TaskId c = server.task(0, ps(1), after, "c");
    engine.run();
    // Exactly: a and b at 1/2 until t = 1 (0.5 each left); then three at 1/3: a and b served at t = 2.5, c has 0.5
    // left, alone: ends at 3. In whole picoseconds: V = 0.5 at t = 1, tags a = b = 1, c = 1.5; the next end is
    // 1 + ⌈(1 − 0.5) × 3⌉ = 1 + ⌈1.5⌉ = 3 (half a picosecond late); then V = 0.5 + 2/3, c alone with 1.5 − 1.1667 =
    // 0.333 left: ⌈0.333⌉ = 1 more, t = 4 (one picosecond late: one rounding in its busy period before its own).
    CHECK(finished(engine, a) == 3);
    CHECK(finished(engine, b) == 3);
    CHECK(started(engine, c) == 1);
    CHECK(finished(engine, c) == 4);
}

TEST_CASE("A job ending on one server starts its dependent on another at the same instant") {
    Engine engine;
    ProcessorSharing servers(engine, 2);
    const TaskId a = servers.task(0, ps(10), {}, "a");
    const TaskId b = servers.task(1, ps(20), {}, "b");
    const std::vector<TaskId> after{a};
    const TaskId c = servers.task(1, ps(10), after, "c");
    engine.run();
    // a alone on server 0 ends at 10; c arrives on server 1 at 10, where b has 10 left: both at 1/2, b and c each
    // have 10 to serve, ending together at 30 (= 20 + 10, the server's work).
    CHECK(finished(engine, a) == 10);
    CHECK(started(engine, c) == 10);
    CHECK(finished(engine, b) == 30);
    CHECK(finished(engine, c) == 30);
}

TEST_CASE("Processor sharing refuses a server out of range and negative work") {
    Engine engine;
    ProcessorSharing server(engine, 1);
    CHECK_THROWS_AS(server.task(1, ps(1), {}), std::out_of_range);
    CHECK_THROWS_AS(server.task(0, ps(-1), {}), std::invalid_argument);
}
