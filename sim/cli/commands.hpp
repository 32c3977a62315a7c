// The CLI's commands. Each takes the arguments after the command name, writes to `out`, and returns the exit
// code; user mistakes are thrown as gpuhours::Error and turned into exit code 2 by main().
#pragma once

#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/analysis/capacity.hpp>
#include <gpuhours/analysis/whatif.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/workload/workload.hpp>

#include <filesystem>
#include <iosfwd>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace gpuhours::cli {

using Args = std::vector<std::string>;

int cmd_check(const Args& args, std::ostream& out);
// The document a command asked for --json writes on stdout when it stops at a mistake (exit 2, the message on stderr
// as always): {"schema_version", "valid": false, "error": {file, line, column, message, hint}}, as `check --json` of
// an invalid scenario (docs/schemas.md).
std::string mistake_json(const Error& e);
// A chip's memory as the JSON and CSV write it (chips, check, model): whole bytes. The catalog's figures are exact in
// their own unit, not in bytes ("79.15 GiB" is 84,986,665,369.6 B), so device and reserve are rounded to the nearest
// byte and usable is their difference, so that usable = device − reserve holds exactly in the output too.
struct WholeBytes {
    std::int64_t device = 0;
    std::int64_t reserve = 0;
    std::int64_t usable = 0;
};
WholeBytes whole_bytes(const ChipProfile& chip);
int cmd_model(const Args& args, std::ostream& out);
int cmd_chips(const Args& args, std::ostream& out);       // sim/cli/chips_command.cpp
int cmd_run(const Args& args, std::ostream& out);
int cmd_collective(const Args& args, std::ostream& out);  // sim/cli/collective_command.cpp
int cmd_whatif(const Args& args, std::ostream& out);      // sim/cli/whatif_command.cpp
int cmd_validate(const Args& args, std::ostream& out);    // sim/cli/validate_command.cpp
int cmd_report(const Args& args, std::ostream& out);      // sim/cli/report_command.cpp
int cmd_plan(const Args& args, std::ostream& out);        // sim/cli/plan_command.cpp
int cmd_sweep(const Args& args, std::ostream& out);       // sim/cli/sweep_command.cpp
int cmd_compare(const Args& args, std::ostream& out);     // sim/cli/compare_command.cpp
int cmd_capacity(const Args& args, std::ostream& out);    // sim/cli/capacity_command.cpp

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
// The chip as sweep, whatif, check and plan name it in JSON: `chip`, its catalog id, and `chip_modified`, the figures
// the scenario sets on top of it (";"-separated; empty for the catalog chip as it is).
void chip_json(report::Json& j, const Scenario& s);
// A chip's memory in check's and model's JSON, in whole bytes as `chips --json` has it (whole_bytes).
void memory_bytes_json(report::Json& j, const ChipProfile& chip);
// "50257 (padded to 51200, a multiple of 128 × tensor 8)", or the vocabulary alone when padding adds nothing.
std::string vocab_text(int vocab, const ParallelLayout& p);
LoadOptions load_options(const ParsedArgs& args);                 // --catalog, --set
std::filesystem::path catalog_dir(const ParsedArgs& args);
// A rule set as JSON (chips --json's and whatif --json's `rule_set`): id, title, source, note (null when none),
// scope ("chip" or "memory") and not_subject ({vendors, source}, null when none).
void write_rule_set_json(report::Json& j, const RuleSet& rules);
// A path's extension in lower case ("out.HTML" → ".html"; "" without one): what names an output file's format.
std::string lowercase_extension(const std::string& path);
// `text`, the value of `flag`, as a whole number within [min, max]; throws Error naming the flag otherwise.
long long whole_number(const std::string& flag, const std::string& text, long long min, long long max);
// A whole number given as `flag`, within [min, max]; `fallback` when absent. Throws Error otherwise.
long long whole_number_option(const ParsedArgs& args, const std::string& flag, long long fallback, long long min, long long max);
// `f()`, where a mistake in a flag's value is reported as that flag's ("--chips x: unknown chip \"x\""): an error
// `f` throws without a position (a catalog lookup of the value) is rethrown with the flag and the value in front.
template <class F>
auto for_flag(const std::string& flag, const std::string& value, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error& e) {
        if (e.where().known()) throw;
        throw Error(flag + " " + value + ": " + e.message(), e.hint());
    }
}
// --deadline as a duration within limits::kDeadlineMin to kDeadlineMax (one hour to 100 years); nullopt when the
// flag is absent. A value without a unit, not positive or out of range is an Error naming the flag.
std::optional<Seconds> deadline_option(const ParsedArgs& args);
// --budget in dollars, above $0 and at most limits::kBudgetMax ($10^12); nullopt when the flag is absent.
std::optional<Dollars> budget_option(const ParsedArgs& args);
// --max-batch-tokens: the largest global batch, in tokens, that a phase may grow to (nullopt when absent); refused
// below every simulated phase's own batch, where it could bound nothing (a batch is never shrunk).
std::optional<double> max_batch_tokens_option(const ParsedArgs& args, const Scenario& s);
// "a,b,c" → {"a", "b", "c"}; "a, b" → {"a", "b"} (spaces around an item dropped; empty items kept: callers say
// what an empty one means).
std::vector<std::string> split_list(const std::string& text, char separator);
// --mode, --network, --samples, --seed (the options every command that evaluates a run takes).
EvaluateOptions evaluate_options(const ParsedArgs& args);

// The what-if a command asked for: --chips, --rule, --deadline, --max-gpus, else the scenario's [whatif].
WhatIfRequest whatif_request(const ParsedArgs& args, const Scenario& s);
// Refuses a chip named twice (a what-if or capacity row each): in --chips, naming the flag, else in the scenario's
// [whatif] chips, at that table.
void require_distinct_chips(const std::vector<std::string>& chips, const ParsedArgs& args, const Scenario& s);
// The scenario's [whatif] chips as `whatif` and `report` would read them, for `check`: no chip twice (located at
// its item) and each catalog entry readable (an auditor's read: a broken b200.toml passed check and run).
void require_whatif_chips(const Scenario& s, const ParsedArgs& args, const std::string& file);

// The capacity question a command asked for (`capacity`, `report --capacity`): --gpus (default the scenario's),
// --deadline and --chips (default its [whatif]'s; a deadline is required), --budget, --max-batch-tokens,
// --same-price, --family with --tokens-per-parameter or --tokens. Mistakes are Errors naming the flag.
CapacityRequest capacity_request(const ParsedArgs& args, const Scenario& s);
// 0 when some chip answers the capacity question, else 2 with an error on stderr naming the flags to change
// (`capacity`, and `report --capacity` after writing its page).
int capacity_exit_code(const CapacityResult& result, const ParsedArgs& args);

// How progress goes to stderr: `bar` (a terminal: one line redrawn in place), `lines` (a pipe or a file: a plain
// line at each tenth of the work), `off` (--quiet). The environment variable GPUHOURS_PROGRESS (bar, lines or off)
// overrides the choice, e.g. for tests that read stderr.
enum class ProgressStyle { off, bar, lines };
ProgressStyle progress_style(const ParsedArgs& args);
// Whether progress goes to a terminal's stderr (ProgressStyle::bar).
bool progress_wanted(const ParsedArgs& args);
// Seconds from a bar's making before it shows: GPUHOURS_PROGRESS_AFTER (0 or more), 1 when unset or empty. Throws Error
// naming the variable for anything else.
double progress_delay();

// Progress on stderr with the time elapsed and an estimate of the time left (at the rate measured since the first
// update), shown from the first update progress_delay() (one second) or more after the bar was made: as a bar redrawn at most ten
// times a second, or as a plain line each time the work done passes another tenth (progress_style), and then a
// closing "done" line. Thread-safe: workers may report their own completions. The bar is cleared when the work is
// done or the bar is destroyed.
class ProgressBar {
public:
    ProgressBar(std::string label, const ParsedArgs& args);
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;
    // `done` of `total` units of work (steps, samples, points); a fractional `done` is shown to one decimal.
    void update(double done, int total);

private:
    void clear();
    void finish_lines();
    std::mutex mutex_;
    std::string label_;
    ProgressStyle style_;
    double delay_ = 1.0;  // progress_delay()
    bool drawn_ = false;
    int tenths_shown_ = 0;  // lines: the last tenth of the work a line was printed for
    bool lines_finished_ = false;  // lines: the closing line was printed
    std::chrono::steady_clock::time_point made_;   // the bar shows from delay_ after this
    std::chrono::steady_clock::time_point first_;  // the first update: the rate is measured from here
    double first_done_ = -1.0;                     // work done at the first update (negative: no update yet)
    double last_done_ = 0.0;                       // the most work reported so far: a smaller count is not drawn
    bool finished_ = false;                        // the work is done and the bar cleared: later updates are late
    std::chrono::steady_clock::time_point drawn_at_;
};

const std::string& single_positional(const ParsedArgs& args, const char* command, const char* what);

// --same-price keeps the scenario's [pricing] gpu_hour for every chip: refused (naming the flag) when the scenario
// has none (an ownership scenario, or none at all), as it would be ignored without a word.
void require_price_for_same_price(const ParsedArgs& args, const Scenario& s);

// `compare` and `capacity`'s -o / --output: the file named (empty when neither flag is given), the flag as typed,
// and whether it is a page (.html) or JSON (.json). Refused before any run: both flags, an empty or directory
// name (report::check_output_path), another extension.
struct PageOrJson {
    std::string path;
    std::string flag;
    bool html = false;
};
PageOrJson page_or_json_output(const ParsedArgs& args);

}  // namespace gpuhours::cli
