// `gpuhours compare`: scenarios evaluated side by side (analysis/compare.hpp), as text, JSON or an HTML page
// (report/compare.hpp) written through the atomic writer.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/analysis/compare.hpp>
#include <gpuhours/report/compare.hpp>
#include <gpuhours/report/output_file.hpp>
#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace gpuhours::cli {
namespace {

constexpr std::size_t kMaxScenarios = 26;  // labelled A to Z

std::string label_of(std::size_t i) { return std::string(1, static_cast<char>('A' + i)); }

// The columns: one per positional scenario, labelled A, B, …; `--set KEY=VALUE` applies to every one,
// `--set B:KEY=VALUE` to column B only (after the shared ones).
std::vector<CompareInput> inputs_of(const ParsedArgs& args, std::vector<std::vector<std::string>>& own) {
    const auto& files = args.positional;
    if (files.size() < 2) {
        throw Error(fmt::format("compare needs at least two scenarios, and got {}", files.size()),
                    "gpuhours compare A.toml B.toml (the same file twice with --set B:KEY=VALUE compares one change)");
    }
    if (files.size() > kMaxScenarios) {
        throw Error(fmt::format("compare takes at most {} scenarios (A to Z), and got {}", kMaxScenarios, files.size()));
    }
    std::vector<CompareInput> inputs(files.size());
    const std::filesystem::path catalog = catalog_dir(args);
    for (std::size_t i = 0; i < files.size(); ++i) {
        inputs[i].file = files[i];
        inputs[i].label = label_of(i);
        inputs[i].load.catalog_dir = catalog;
    }
    own.assign(files.size(), {});
    for (const std::string& set : args.get_all("--set")) {
        const bool targeted = set.size() > 2 && set[1] == ':' && set[0] >= 'A' && set[0] <= 'Z';
        if (set.size() > 2 && set[1] == ':' && set[0] >= 'a' && set[0] <= 'z') {  // no key starts "x:"
            const char upper = static_cast<char>(set[0] - 'a' + 'A');
            throw Error(fmt::format("--set {}: scenario letters are capitals", set),
                        fmt::format("write --set {}{} for scenario {} alone, or --set {} for every scenario", upper,
                                    set.substr(1), upper, set.substr(2)));
        }
        if (!targeted) {
            for (auto& in : inputs) in.load.overrides.push_back(set);
            continue;
        }
        const std::size_t column = static_cast<std::size_t>(set[0] - 'A');
        if (column >= files.size()) {
            throw Error(fmt::format("--set {} names scenario {}, and there are {} (A to {})", set, set[0], files.size(),
                                    label_of(files.size() - 1)),
                        "use the letter of a scenario given, in order: the first is A");
        }
        own[column].push_back(set.substr(2));
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
        for (const auto& o : own[i]) inputs[i].load.overrides.push_back(o);
    }
    return inputs;
}

// A mistake in a column's own --set named as the user typed it ("--set B:cluster.gpu=64"), not as the loader
// read it, without its letter: the location and every line of the hint that names it (the loader lists a file's
// other mistakes there). A --set given the same way to two columns keeps the first column's letter.
ScenarioError with_letters(const Error& e, const std::vector<CompareInput>& inputs,
                           const std::vector<std::vector<std::string>>& own) {
    SourceRef where = e.where();
    std::string hint = e.hint();
    const auto* scenario = dynamic_cast<const ScenarioError*>(&e);
    std::vector<ScenarioError::Mistake> mistakes = scenario != nullptr ? scenario->mistakes() : std::vector<ScenarioError::Mistake>{};
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        for (const std::string& o : own[i]) {
            const std::string seen = "--set " + o;
            const std::string typed = "--set " + inputs[i].label + ":" + o;
            if (where.file == seen) where.file = typed;
            for (auto& m : mistakes) {
                if (m.where.file == seen) m.where.file = typed;
            }
            for (std::size_t at = hint.find(seen + ":"); at != std::string::npos; at = hint.find(seen + ":", at + typed.size())) {
                hint.replace(at, seen.size(), typed);
            }
        }
    }
    ScenarioError relabelled(where, e.message(), hint);
    relabelled.set_mistakes(std::move(mistakes));  // check --json's `errors`, each with its letter (a reviewer's read)
    return relabelled;
}

}  // namespace

int cmd_compare(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "compare");
    const PageOrJson output = page_or_json_output(args);  // before the runs, not after
    std::vector<std::vector<std::string>> own;  // each column's own --set, without its letter
    const std::vector<CompareInput> inputs = inputs_of(args, own);
    // Every document first (TOML, extends, --set), so that a typo in the last file stops before any run.
    CompareResult result;
    try {
        for (const auto& in : inputs) check_scenario_document(in.file, in.load);
        ProgressBar progress("compare", args);
        result = run_compare(inputs, evaluate_options(args), [&](int done, int total) { progress.update(done, total); });
    } catch (const Error& e) {
        if (!e.where().file.starts_with("--set ")) throw;
        throw with_letters(e, inputs, own);
    }
    if (output.path.empty()) {
        out << (args.has("--json") ? report::compare_json(result) : report::compare_text(result));
        return 0;
    }
    const std::string text = output.html ? report::compare_html(result) : report::compare_json(result);
    report::write_file_atomically(output.path, text, output.flag);
    out << fmt::format("compare: {} ({} scenarios{})\n", output.path, result.columns.size(),
                       output.html ? "; open it in a browser" : "");
    return 0;
}

}  // namespace gpuhours::cli
