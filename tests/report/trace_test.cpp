// The Chrome/Perfetto trace: pipeline receives on one track per sending stage, and no two slices on one track that
// overlap without nesting (Perfetto draws such a pair mis-nested), checked on hand-made events and on the flagship's
// DualPipe step as `gpuhours run --trace` writes it.
#include "../support/cli.hpp"
#include "../support/json.hpp"
#include "../support/temp_dir.hpp"

#include <gpuhours/report/report.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace gh = gpuhours;
using gh::test::JsonValue;

namespace {

struct Slice {
    double start = 0;  // µs
    double end = 0;
    std::string name;
};

struct Trace {
    std::map<std::pair<int, int>, std::vector<Slice>> tracks;  // (pid, tid) → its complete ("X") events
    std::map<std::pair<int, int>, std::string> track_names;    // thread_name metadata
};

Trace read_trace(const std::string& text) {
    const JsonValue doc = gh::test::parse_json(text);
    Trace t;
    for (const JsonValue& e : doc["traceEvents"].array()) {
        const std::pair<int, int> key{static_cast<int>(e["pid"].number()), e.has("tid") ? static_cast<int>(e["tid"].number()) : -1};
        if (e["ph"].string() == "X") {
            t.tracks[key].push_back({e["ts"].number(), e["ts"].number() + e["dur"].number(), e["name"].string()});
        } else if (e["name"].string() == "thread_name") {
            t.track_names[key] = e["args"]["name"].string();
        }
    }
    return t;
}

// Pairs of slices on one track that overlap without one containing the other. Times are picoseconds printed as
// microseconds, so a shared end may differ in the last bit: 1e-7 µs (0.1 ps) is within rounding.
int partial_overlaps(std::vector<Slice> slices, std::string& example) {
    constexpr double eps = 1e-7;
    std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
        return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    int count = 0;
    std::vector<const Slice*> open;  // the slices enclosing the current start, outermost first
    for (const Slice& s : slices) {
        while (!open.empty() && open.back()->end <= s.start + eps) open.pop_back();
        if (!open.empty() && s.end > open.back()->end + eps) {
            if (count++ == 0) example = open.back()->name + " and " + s.name;
            continue;  // not pushed: a later slice is judged against the well-nested ones
        }
        open.push_back(&s);
    }
    return count;
}

gh::SimTime us(std::int64_t n) { return gh::SimTime::from_picoseconds(n * 1'000'000); }

}  // namespace

TEST_CASE("A GPU's pipeline receives go on one track per sending stage, concurrent ones on further lanes",
          "[report][trace]") {
    // Rank 5 receives from stage 0 at [0, 10) and [5, 15) µs (overlapping, neither inside the other) and [20, 30),
    // and from stage 2 at [2, 8); it computes at [0, 40). Expected tracks: compute; p2p from stage 0 with [0, 10) and
    // [20, 30); its second lane with [5, 15); p2p from stage 2.
    const std::vector<gh::TraceEvent> events{
        {5, "p2p", "pp 0→1 mb1", us(5), us(15), 0}, {5, "compute", "F0", us(0), us(40)},
        {5, "p2p", "pp 2→1 mb0", us(2), us(8), 2},  {5, "p2p", "pp 0→1 mb0", us(0), us(10), 0},
        {5, "p2p", "pp 0→1 mb2", us(20), us(30), 0},
    };
    const Trace t = read_trace(gh::report::chrome_trace(events));
    std::map<std::string, std::vector<std::string>> by_name;
    for (const auto& [key, slices] : t.tracks) {
        REQUIRE(key.first == 5);
        for (const Slice& s : slices) by_name[t.track_names.at(key)].push_back(s.name);
    }
    CHECK(by_name.size() == 4);
    CHECK(by_name["compute"] == std::vector<std::string>{"F0"});
    CHECK(by_name["p2p from stage 0"] == std::vector<std::string>{"pp 0→1 mb0", "pp 0→1 mb2"});
    CHECK(by_name["p2p from stage 0 (2)"] == std::vector<std::string>{"pp 0→1 mb1"});
    CHECK(by_name["p2p from stage 2"] == std::vector<std::string>{"pp 2→1 mb0"});
    // Thread ids follow the display order: compute, then the stage-0 lanes, then stage 2.
    CHECK(t.track_names.at({5, 0}) == "compute");
    CHECK(t.track_names.at({5, 1}) == "p2p from stage 0");
    CHECK(t.track_names.at({5, 2}) == "p2p from stage 0 (2)");
    CHECK(t.track_names.at({5, 3}) == "p2p from stage 2");
}

TEST_CASE("The flagship's DualPipe trace has no partially overlapping slices on any track", "[report][trace][cli]") {
    const gh::test::TempDir dir("trace-test");
    const std::string file = (dir.path / "step.json").string();
    const auto r = gh::test::run_cli("run " + std::string(GPUHOURS_TEST_SOURCE_DIR) +
                                     "/scenarios/deepseek-v3.toml --samples 1 --trace " + file);
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const Trace t = read_trace(text.str());

    // Symmetric mode simulates one GPU per pipeline stage: 16 processes.
    std::map<int, int> p2p_tracks;  // pid → tracks named "p2p from stage …"
    std::size_t slices = 0;
    for (const auto& [key, events] : t.tracks) {
        INFO("pid " << key.first << " tid " << key.second << " (" << t.track_names.at(key) << ")");
        std::string example;
        const int overlaps = partial_overlaps(events, example);
        INFO("first: " << example);
        CHECK(overlaps == 0);
        if (t.track_names.at(key).rfind("p2p from stage", 0) == 0) ++p2p_tracks[key.first];
        slices += events.size();
    }
    CHECK(slices > 1000);
    // DualPipe feeds micro-batches in from both ends, so every stage between the two ends receives from both
    // neighbours (two directions: at least two p2p tracks), and the end stages from their one neighbour.
    REQUIRE(p2p_tracks.size() == 16);
    for (const auto& [pid, n] : p2p_tracks) CHECK(n >= 1);
    int both = 0;
    for (const auto& [pid, n] : p2p_tracks) both += n >= 2 ? 1 : 0;
    CHECK(both >= 16 - 2);
}
