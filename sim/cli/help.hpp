// Per-command help: each command's usage, summary, options (with their values, units and defaults) and an
// example, in one table (help.cpp) that the commands also parse their options from.
#pragma once

#include "commands.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gpuhours::cli {

struct OptionHelp {
    std::string name;   // "--samples", "-o"
    std::string value;  // what follows it ("N", "FILE"); empty for a flag
    std::string text;   // what it does, its unit and its default
};

struct CommandHelp {
    std::string name;     // "run"
    std::string usage;    // "gpuhours run SCENARIO [options]"
    std::string summary;
    std::vector<OptionHelp> options;
    std::string example;
};

const std::vector<CommandHelp>& all_command_help();  // in the order the global help lists the commands
// Every command's name, in the table's order, then "help" (for the "unknown command" hint).
std::vector<std::string> command_names();
const CommandHelp* command_help(std::string_view name);  // nullptr for an unknown command
// The command's help text: usage, summary, every option with its value and text, --help, an example.
std::string render_help(const CommandHelp& c);
// parse_args with the options of `command`'s table (flags: no value; the others: one value).
ParsedArgs parse_command_args(const Args& raw, std::string_view command);
// Whether the arguments after a command ask for its help (--help or -h).
bool asks_for_help(const Args& args);
// Where the options end: at "--" (POSIX; parse_args makes what follows positional), else the end of `args`.
Args::const_iterator options_end(const Args& args);

}  // namespace gpuhours::cli
