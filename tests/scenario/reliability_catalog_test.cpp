// The reliability catalog (scenarios/reliability/) and the scenario's `reliability`: on by default, "none", `from`,
// overrides, every figure sourced, and located errors for what `run` would refuse.
#include <gpuhours/scenario/scenario.hpp>

#include "../support/scenario_error.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace gpuhours;

namespace {

const std::string kBase =
    "title = \"t\"\nmodel = \"llama-3.1-8b\"\n"
    "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
    "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
    "[training]\ntokens = \"20B\"\nsequence_length = 8192\nglobal_batch = 64\n";

std::string error_text(const std::string& text) {
    const ScenarioError e = test::scenario_error(text, {});
    return e.what();
}

}  // namespace

TEST_CASE("a scenario without reliability gets the default fleet catalog, and its figures are assumptions", "[scenario][reliability]") {
    const Scenario s = load_scenario_from_string(kBase, "t.toml");
    CHECK(s.reliability.from == std::string(kDefaultReliability));
    CHECK(s.reliability.failures.size() == 7);
    CHECK(s.reliability.detect.value() == 300.0);
    CHECK(s.reliability.replace.value() == 540.0);
    REQUIRE(s.reliability.storage_bandwidth);
    CHECK(s.reliability.storage_bandwidth->value() == 2e12);
    // Five named overheads, none with a figure by default (printed "not modelled").
    CHECK(s.reliability.overheads.size() == 5);
    for (const auto& o : s.reliability.overheads) CHECK_FALSE(o.fraction);
    CHECK(run_overheads_of(s).empty());
    bool detect_sourced = false;
    for (const auto& a : s.assumptions) {
        if (a.key == "reliability.detect") detect_sourced = a.source.find("ByteRobust") != std::string::npos;
    }
    CHECK(detect_sourced);
}

TEST_CASE("the scenario's own reliability keys replace the catalog's", "[scenario][reliability]") {
    const Scenario s = load_scenario_from_string(kBase +
                                                     "[reliability]\ncheckpoint_write = \"30 s\"\ndetect = \"1 min\"\n"
                                                     "[[reliability.failures]]\nname = \"GPU\"\nmtbf_per_gpu = \"2000 h\"\n"
                                                     "[reliability.overheads]\nevaluation_pauses = { fraction = 0.01, source = \"x\" }\n",
                                                 "t.toml");
    CHECK(s.reliability.failures.size() == 1);           // the array is replaced, not appended to
    CHECK_FALSE(s.reliability.storage_bandwidth);        // checkpoint_write replaces the catalog's storage bandwidth
    REQUIRE(s.reliability.read_bandwidth);               // which still serves the load: 2 TB/s
    CHECK(s.reliability.read_bandwidth->value() == 2e12);
    CHECK(checkpoint_write_time(s).value() == 30.0);
    CHECK(s.reliability.detect.value() == 60.0);
    CHECK(s.reliability.replace.value() == 540.0);       // the rest stays the catalog's
    const auto overheads = run_overheads_of(s);
    REQUIRE(overheads.size() == 1);
    CHECK(overheads[0].name == "evaluation pauses");
    CHECK(overheads[0].fraction == 0.01);
}

TEST_CASE("stragglers given at a reference size are scaled to the job", "[scenario][reliability]") {
    // 9% at 65,536 GPUs, job of 16 GPUs: 0.09 × ln 16 / ln 65,536 = 0.09 × 4/16 = 0.0225.
    const Scenario s = load_scenario_from_string(
        kBase + "[reliability.overheads]\nstragglers = { fraction = 0.09, at_gpus = 65536, source = \"PRISM\" }\n", "t.toml");
    const auto overheads = run_overheads_of(s);
    REQUIRE(overheads.size() == 1);
    CHECK(overheads[0].fraction == Approx(0.0225).epsilon(1e-12));
}

TEST_CASE("reliability = none turns failures, restarts and overheads off and is listed as an assumption", "[scenario][reliability]") {
    const Scenario s = load_scenario_from_string("reliability = \"none\"\n" + kBase, "t.toml");
    CHECK(s.reliability.from == "none");
    CHECK(s.reliability.failures.empty());
    CHECK(s.reliability.overheads.empty());
    bool listed = false;
    for (const auto& a : s.assumptions) listed = listed || (a.key == "reliability" && a.value == "none");
    CHECK(listed);
}

TEST_CASE("reliability mistakes are refused at the key", "[scenario][reliability]") {
    // An unknown catalog entry: at the name, with the known ones.
    const std::string unknown = error_text("reliability = \"meta-llama3\"\n" + kBase);
    CHECK(unknown.find("t.toml:1:") != std::string::npos);
    CHECK(unknown.find("unknown reliability entry \"meta-llama3\"") != std::string::npos);
    // "none" with other keys.
    CHECK(error_text(kBase + "[reliability]\nfrom = \"none\"\ndetect = \"1 min\"\n").find("turns reliability off") != std::string::npos);
    // A negative detection time, an overhead fraction over 1 (both on line 16: kBase is 14 lines, then the table
    // header), stragglers without at_gpus, an unknown overhead.
    CHECK(error_text(kBase + "[reliability]\ndetect = \"-1 min\"\n").find("t.toml:16:") != std::string::npos);
    CHECK(error_text(kBase + "[reliability.overheads]\nscheduling = { fraction = 1.5 }\n").find("t.toml:16:") != std::string::npos);
    CHECK(error_text(kBase + "[reliability.overheads]\nstragglers = { fraction = 0.1 }\n").find("at_gpus") != std::string::npos);
    CHECK(error_text(kBase + "[reliability.overheads]\nstragglerz = { fraction = 0.1 }\n").find("stragglers") != std::string::npos);
    // A read bandwidth outside the supported range.
    CHECK(error_text(kBase + "[reliability]\nread_bandwidth = \"1 B/s\"\n").find("supported range") != std::string::npos);
    // restart_time and one of the parts it replaces, both written in the scenario: at the part (line 17: the table
    // header on 15, restart_time on 16), not dropped without a word (a reliability audit).
    const std::string both = error_text(kBase + "[reliability]\nrestart_time = \"10 min\"\ndetect = \"1 min\"\n");
    CHECK(both.find("t.toml:17:") != std::string::npos);
    CHECK(both.find("reliability.detect is given with reliability.restart_time") != std::string::npos);
    // Two failure classes of one name, and an empty name: at the second's name (line 19: its block header on 18).
    const std::string twice = error_text(kBase + "[[reliability.failures]]\nname = \"GPU\"\nmtbf_per_gpu = \"50000 h\"\n"
                                                 "[[reliability.failures]]\nname = \"GPU\"\nmtbf_per_gpu = \"60000 h\"\n");
    CHECK(twice.find("t.toml:19:") != std::string::npos);
    CHECK(twice.find("reliability.failures[0] and [1] are both named \"GPU\"") != std::string::npos);
    CHECK(error_text(kBase + "[[reliability.failures]]\nname = \"\"\nmtbf_per_gpu = \"50000 h\"\n").find("name is empty") !=
          std::string::npos);
    // A claim's basis that is neither.
    CHECK(error_text(kBase + "[[claims]]\ntext = \"x\"\ngpu_hours_below = 100\nbasis = \"steady\"\n").find("is not a basis") !=
          std::string::npos);
}

TEST_CASE("every figure of every reliability catalog entry has a source", "[scenario][reliability]") {
    const auto dir = std::filesystem::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios" / "reliability";
    int entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ".toml") continue;
        ++entries;
        std::ifstream in(e.path());
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            ++n;
            const bool figure = line.find(" = { value = ") != std::string::npos || line.rfind("mtbf_per_", 0) == 0 ||
                                line.find("= { fraction") != std::string::npos;
            if (figure && line.rfind("mtbf_per_", 0) != 0) {
                INFO(e.path().filename().string() << ":" << n);
                CHECK(line.find("source = \"") != std::string::npos);
            }
        }
        // Each entry loads: a scenario that names it reads every figure.
        const Scenario s = load_scenario_from_string(kBase + "[reliability]\nfrom = \"" + e.path().stem().string() + "\"\n", "t.toml");
        for (const auto& f : s.reliability.failures) {
            INFO(f.name);
            CHECK(f.source.find("[D]") != std::string::npos);
        }
    }
    CHECK(entries >= 2);
}
