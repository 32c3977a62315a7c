// `gpuhours COMMAND --help`: every command has its own help, and it lists exactly the options its parser accepts.
// Checked from the outside: the options the help prints against those the parser names when it rejects an unknown
// one ("known options: …"), so a help that misses an option, or lists one the command refuses, fails here.
#include "../support/cli.hpp"
#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>

using gpuhours::test::run_cli;

namespace {

// Option names at the start of the help's option lines ("  --samples N   …", "  -o FILE   …").
std::set<std::string> options_in_help(const std::string& help) {
    std::set<std::string> names;
    std::istringstream lines(help);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("  -", 0) != 0) continue;
        std::string name = line.substr(2, line.find_first_of(" ,", 2) - 2);
        if (name != "--help" && name != "-h") names.insert(name);
    }
    return names;
}

// The names after "known options: " in the parser's error ("--json, --set VALUE, --catalog VALUE").
std::set<std::string> options_the_parser_knows(const std::string& error) {
    std::set<std::string> names;
    const auto at = error.find("known options: ");
    REQUIRE(at != std::string::npos);
    std::istringstream items(error.substr(at + 15, error.find('\n', at) - at - 15));
    for (std::string item; std::getline(items, item, ',');) {
        const auto start = item.find_first_not_of(' ');
        names.insert(item.substr(start, item.find(' ', start) - start));
    }
    return names;
}

}  // namespace

TEST_CASE("every command's help lists exactly the options its parser accepts, with usage and an example", "[cli][help]") {
    for (const char* command : {"run", "whatif", "report", "plan", "sweep", "compare", "capacity", "validate", "check", "model", "chips", "collective"}) {
        INFO(command);
        const auto help = run_cli(std::string(command) + " --help");
        REQUIRE(help.exit_code == 0);
        CHECK_THAT(help.out, Catch::StartsWith(std::string("usage: gpuhours ") + command));
        CHECK_THAT(help.out, Catch::Contains("\nexample:\n  gpuhours " + std::string(command)));
        CHECK(run_cli(std::string(command) + " -h").out == help.out);
        CHECK(run_cli(std::string("help ") + command).out == help.out);

        const auto refused = run_cli(std::string(command) + " --no-such-option");
        CHECK(refused.exit_code == 2);
        const std::set<std::string> known = options_the_parser_knows(refused.out);
        CHECK(options_in_help(help.out) == known);
        CHECK(known.size() >= 2);
    }
}

TEST_CASE("collective's help says how to call it — help for an unknown command is an error", "[cli][help]") {
    // The case: collective's options used to appear only in the error for an unknown one.
    const auto help = run_cli("collective --help");
    CHECK_THAT(help.out, Catch::Contains("usage: gpuhours collective OP --chip ID"));
    for (const char* option : {"--chip ID", "--gpus N", "--sizes SIZES", "--algorithm NAME", "--fabric NAME", "--tiers N", "--planes N"}) {
        CHECK_THAT(help.out, Catch::Contains(option));
    }
    const auto unknown = run_cli("help nothing");
    CHECK(unknown.exit_code == 2);
    CHECK_THAT(unknown.out, Catch::Contains("no command `nothing`"));
    // The global help still comes with no command, and names per-command help.
    CHECK_THAT(run_cli("help").out, Catch::Contains("gpuhours COMMAND --help"));
    // `gpuhours --help run` is `gpuhours help run`.
    CHECK(run_cli("--help run").out == run_cli("help run").out);
    CHECK_THAT(run_cli("--help run").out, Catch::StartsWith("usage: gpuhours run"));
    // Help on `help` itself is that global text (it says how `help` is called), not "no command `--help`".
    for (const char* self : {"help --help", "help -h", "help help"}) {
        const auto r = run_cli(self);
        INFO(self);
        CHECK(r.exit_code == 0);
        CHECK(r.out == run_cli("help").out);
    }
}

TEST_CASE("every command's help example runs as printed, from a directory holding the shipped scenarios", "[cli][help]") {
    // A help example is what a new user types first: each must exit 0. Run from a scratch directory with a
    // `scenarios` link (the examples' relative paths), so `report -o report.html` writes there. About 8 s in all.
    namespace fs = std::filesystem;
    const fs::path dir = gpuhours::test::scratch_path("help-examples");
    fs::create_directories(dir);
    fs::remove(dir / "scenarios");
    fs::create_directory_symlink(fs::path(GPUHOURS_TEST_SOURCE_DIR) / "scenarios", dir / "scenarios");
    for (const char* command : {"run", "whatif", "report", "plan", "sweep", "compare", "capacity", "validate", "check", "model", "chips", "collective"}) {
        const std::string help = run_cli(std::string(command) + " --help").out;
        const std::string marker = "\nexample:\n  gpuhours ";
        const auto at = help.find(marker);
        REQUIRE(at != std::string::npos);
        const std::string example = help.substr(at + marker.size(), help.find('\n', at + marker.size()) - at - marker.size());
        INFO(command << ": gpuhours " << example);
        const auto r = run_cli("--version >/dev/null; cd '" + dir.string() + "' && GPUHOURS_PROGRESS=off " + GPUHOURS_TEST_CLI + " " + example);
        INFO(r.out.substr(0, 2000));
        CHECK(r.exit_code == 0);
    }
    fs::remove_all(dir);
}

TEST_CASE("every command accepts --quiet", "[cli][help]") {
    // A script passes --quiet to whichever command it runs; `chips` refused it as an unknown option (a fresh user's
    // read, session 55) where the other eleven took it. Each command's help lists the options its parser accepts
    // (the test above), so the help of each must list it.
    for (const char* command : {"run", "whatif", "report", "plan", "sweep", "compare", "capacity", "validate", "check", "model", "chips", "collective"}) {
        INFO(command);
        CHECK_THAT(run_cli(std::string(command) + " --help").out, Catch::Contains("--quiet"));
    }
    const auto chips = run_cli("chips --quiet");
    CHECK(chips.exit_code == 0);
}

TEST_CASE("chips --help names every shipped rule set", "[cli][help]") {
    // An audit found hypothetical-nvlink-cap missing from the list: each scenarios/policy/*.toml is a rule set.
    const auto help = run_cli("chips --help");
    // The help wraps its lines: join them before looking for a name.
    std::string joined;
    for (const char c : help.out) joined += c == '\n' ? ' ' : c;
    int rules = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(GPUHOURS_TEST_SOURCE_DIR) + "/scenarios/policy")) {
        if (entry.path().extension() != ".toml") continue;
        ++rules;
        INFO(entry.path().stem().string());
        CHECK_THAT(joined, Catch::Contains(entry.path().stem().string()));
    }
    CHECK(rules >= 6);
}
