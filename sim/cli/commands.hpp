// The CLI's commands. Each takes the arguments after the command name, writes to `out`, and returns the exit
// code; user mistakes are thrown as gpuhours::Error and turned into exit code 2 by main().
#pragma once

#include <gpuhours/scenario.hpp>
#include <gpuhours/workload.hpp>

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace gpuhours::cli {

using Args = std::vector<std::string>;

int cmd_check(const Args& args, std::ostream& out);
int cmd_model(const Args& args, std::ostream& out);
int cmd_chips(const Args& args, std::ostream& out);
int cmd_run(const Args& args, std::ostream& out);
int cmd_collective(const Args& args, std::ostream& out);  // sim/cli/collective_command.cpp
int cmd_plan(const Args& args, std::ostream& out);        // sim/cli/plan_command.cpp

// Shared option parsing: "--flag", "--key value" and "--key=value". Unknown options are errors that list the
// known ones.
struct ParsedArgs {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> options;  // in order; flags have an empty value
    [[nodiscard]] bool has(const std::string& name) const;
    [[nodiscard]] std::string get(const std::string& name, const std::string& fallback = {}) const;
    [[nodiscard]] std::vector<std::string> get_all(const std::string& name) const;
};
// `flags` take no value; `valued` take one. Throws gpuhours::Error on an unknown option or a missing value.
ParsedArgs parse_args(const Args& args, const std::vector<std::string>& flags, const std::vector<std::string>& valued);

// Shared by the commands (commands.cpp).
LoadOptions load_options(const ParsedArgs& args);                 // --catalog, --set
std::filesystem::path catalog_dir(const ParsedArgs& args);
const std::string& single_positional(const ParsedArgs& args, const char* command, const char* what);
MicroBatchShape shape_of(const Scenario& s);                      // the scenario's [training] and layout
MemoryOptions memory_options_of(const Scenario& s);
// Throws ScenarioError (exit 2) naming the largest term when the worst pipeline rank does not fit.
void require_fit(const Scenario& s, const FitCheck& fit);

}  // namespace gpuhours::cli
