// `gpuhours sweep`: a scenario evaluated at every point of a grid or a random sample (docs/sweep.md). The
// composition root of a sweep: specs → points → the journal of an interrupted run → points still to do, spread
// over threads (and MPI ranks, distributed.hpp) → rows sorted by point → one result file written whole.
#include "commands.hpp"
#include "help.hpp"
#include "distributed.hpp"

#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/report/output_file.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/analysis/sweep.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <ostream>
#include <system_error>

namespace gpuhours::cli {
namespace {

enum class Format { csv, json, table };

Format format_of(const ParsedArgs& args, const std::string& output) {
    std::string name = args.get("--format");
    if (args.has("--format") && name.empty()) throw Error("--format needs a format, got an empty one", "use --format csv, json or table");
    const std::string ext = lowercase_extension(output);
    const std::string by_name = ext == ".csv" ? "csv" : ext == ".json" ? "json" : "";
    // A file named for one format and asked in the other would hold what its name does not say.
    if (!output.empty() && !by_name.empty() && (name == "csv" || name == "json") && name != by_name) {
        throw Error(fmt::format("--format {} and the file {} name two formats", name, output),
                    fmt::format("name the file .{} or leave --format out", name));
    }
    if (name.empty() && !output.empty()) {
        name = by_name;
        if (name.empty()) {
            throw Error(fmt::format("cannot tell the format of {} from its extension", output),
                        "name the file .csv or .json, or pass --format csv|json");
        }
    }
    if (name.empty() || name == "table") {
        if (!output.empty()) throw Error("--format table is for the terminal", "write a file with --format csv or --format json");
        return Format::table;
    }
    if (name == "csv") return Format::csv;
    if (name == "json") return Format::json;
    throw Error(fmt::format("--format {} is not a format", name), "use --format csv, json or table");
}

// The result file (-o or --output, empty for stdout), the flag that named it and its format; the file and its
// journal (written as rows finish) checked before any point is evaluated.
struct Output {
    std::string path, flag;
    Format format = Format::table;
};

// The catalogs the scenario reads, so that -o naming one is refused before any point runs (a reviewer's read: refused
// only at the rename, after every point, with a journal left beside the catalog). A scenario that reads only with the
// points' values still records what it read before its mistake.
void refuse_output_onto_inputs(const std::string& file, const LoadOptions& load, const std::string& output, const std::string& flag) {
    if (output.empty()) return;
    try {
        (void)load_scenario(file, load);
    } catch (const Error&) {
    }
    report::check_output_path(output, flag);
}

Output output_of(const ParsedArgs& args) {
    Output o;
    o.path = args.get("--output");
    if (args.has("-o")) o.path = args.get("-o");
    o.flag = args.has("-o") ? "-o" : "--output";
    if (args.has("-o") || args.has("--output")) {  // a directory or a missing one said as such, before its format
        report::check_output_path(o.path, o.flag);
        report::check_output_path(journal_path(o.path), fmt::format("{} (its journal)", o.flag));
    }
    o.format = format_of(args, o.path);
    return o;
}

// Any error row makes the exit code 2 (docs/sweep.md), said on stderr with the first error row's message: the rows
// still come out whole, so a script sees both the figures of the valid points and that some points were not valid
// scenarios, and a user sees why without opening the file (`--vary pricing.gpu_hour=1.5,2`, prices without a unit,
// said only "2 of 2 points are not a valid scenario").
int exit_code_of(const SweepResult& result) {
    if (result.errors() == 0) return 0;
    const auto first = std::find_if(result.rows.begin(), result.rows.end(), [](const SweepRow& r) { return !r.ok; });
    std::cerr << fmt::format("gpuhours: error: {} of {} points {} not a valid scenario (status error; the rows say why); "
                             "point {}: {}\n",
                             result.errors(), result.rows.size(), result.errors() == 1 ? "is" : "are", first->point,
                             first->error);
    return 2;
}

// The axes against --set, and --derive and --max-batch-tokens into the plan, checked before anything runs.
void read_coupling(const ParsedArgs& args, SweepPlan& plan) {
    for (const auto& axis : plan.axes) {
        for (const auto& set : plan.load.overrides) {
            if (set.starts_with(axis.key + "=")) {
                throw Error(fmt::format("{} is given both by --set {} and by --vary {}", axis.key, set, axis.spec),
                            "drop one of them");
            }
        }
    }
    if (args.has("--derive")) {
        const std::string key = args.get("--derive");
        if (key != "parallelism.data") {
            throw Error(fmt::format("--derive {} is not a key sweep can derive", key),
                        "use --derive parallelism.data (every phase's data degree re-planned from cluster.gpus)");
        }
        plan.derive_data = true;
        const bool has_gpus = std::any_of(plan.axes.begin(), plan.axes.end(), [](const SweepAxis& a) { return a.key == "cluster.gpus"; });
        if (!has_gpus) {
            throw Error("--derive parallelism.data re-plans each point from its GPU count, and no --vary gives one",
                        "add --vary cluster.gpus=V1,V2,… (e.g. 1024,2048,4096)");
        }
        auto derived_key = [](const std::string& k) {
            return k == "parallelism.data" || (k.starts_with("phases.") && k.ends_with(".parallelism.data"));
        };
        for (const auto& axis : plan.axes) {
            if (derived_key(axis.key)) {
                throw Error(fmt::format("--vary {} sets a data degree that --derive parallelism.data derives", axis.spec),
                            "drop one of them (or vary both keys together with --zip and no --derive)");
            }
        }
        for (const auto& set : plan.load.overrides) {
            if (derived_key(set.substr(0, set.find('=')))) {
                throw Error(fmt::format("--set {} sets a data degree that --derive parallelism.data derives", set),
                            "drop one of them");
            }
        }
    }
    if (args.has("--max-batch-tokens")) {
        if (!plan.derive_data) {
            throw Error("--max-batch-tokens bounds the batches --derive parallelism.data grows",
                        "add --derive parallelism.data, or drop --max-batch-tokens");
        }
        plan.max_batch_tokens = static_cast<double>(whole_number_option(args, "--max-batch-tokens", 0, 1, 1LL << 50));
    }
}

// An axis whose key the scenario does not have (`--vary parallelism.dat=…`) fails every point alike: refused once,
// before the sweep runs, at the flag (a scenario-language audit, session 51: a misspelt key over a million points ran
// each to its error row). Judged on the first point's own values (not re-planned by --derive), and only for an
// unknown key that is the axis's own: a key misspelt inside one value (`cluster.chip={frm="h100"},h800`) is that
// point's mistake. Every rank reads the same files and arguments, so all refuse alike.
void refuse_unknown_axis_key(const SweepPlan& plan) {
    if (plan.points.empty()) return;
    LoadOptions load = plan.load;
    const std::vector<std::string> own = plan.points.front().overrides();
    load.overrides.insert(load.overrides.end(), own.begin(), own.end());
    try {
        (void)load_scenario(plan.scenario, load);
    } catch (const ScenarioError& e) {
        for (const SweepAxis& axis : plan.axes) {
            const auto dot = axis.key.rfind('.');
            const std::string unknown =
                dot == std::string::npos ? fmt::format("unknown key `{}` at the top level", axis.key)
                                         : fmt::format("unknown key `{}` in [{}]", axis.key.substr(dot + 1), axis.key.substr(0, dot));
            // An unknown key, or one that cannot be set at all (an index past the scenario's list: phases.7.steps).
            if (e.message() != unknown && !e.message().starts_with(fmt::format("cannot set `{}`", axis.key))) continue;
            // The hint's first line is this mistake's; the search's other mistakes follow it (read with the axis's
            // first value as a --set, they are not the user's: "--set parallelism.dat=1: … data = 1").
            const std::string hint = e.hint().substr(0, e.hint().find('\n'));
            throw Error(fmt::format("--vary {}: {}", axis.spec, e.message()),
                        fmt::format("{}{}every point of the axis would fail alike", hint, hint.empty() ? "" : "; "));
        }
    } catch (const Error&) {
        // A point's own mistake: its row says it.
    }
}

// The journal's finished rows on the wire from the root to the other ranks: 'E' when reading it failed (the root
// throws the error, the others stop quietly), else 'O' and the rows' journal lines.
constexpr char kFailed = 'E';
constexpr char kRows = 'O';

}  // namespace

int cmd_sweep(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "sweep");
    const std::string& file = single_positional(args, "sweep", "SCENARIO");
    distributed::refuse_launcher_without_mpi();
    const bool root = distributed::rank() == 0;

    SweepPlan plan;
    plan.scenario = file;
    plan.load = load_options(args);
    plan.evaluate = evaluate_options(args);
    const std::vector<std::string> specs = args.get_all("--vary");
    if (specs.empty()) {
        throw Error("`gpuhours sweep` needs at least one --vary",
                    "e.g. --vary cluster.gpus=1024,2048,4096 --vary cluster.chip=h800,h20; see docs/sweep.md");
    }
    for (const auto& spec : specs) plan.axes.push_back(parse_sweep_axis(spec));
    read_coupling(args, plan);
    const Output result_file = output_of(args);
    const std::string& output = result_file.path;
    const std::string& flag = result_file.flag;
    const Format format = result_file.format;
    // What no point can repair (TOML syntax, files, `extends`, a malformed --set) stops the sweep before it starts.
    check_scenario_document(file, plan.load);
    refuse_output_onto_inputs(file, plan.load, output, flag);
    std::optional<std::size_t> random;
    if (args.has("--random")) random = static_cast<std::size_t>(whole_number_option(args, "--random", 0, 1, limits::kSweepPoints));
    const SweepCombine combine = args.has("--zip") ? SweepCombine::zip : SweepCombine::grid;
    plan.points = sweep_points(plan.axes, random, plan.evaluate.seed, combine);
    refuse_unknown_axis_key(plan);

    const bool resume = args.has("--resume");
    if (resume && output.empty()) throw Error("--resume needs the output file of the sweep to resume", "pass -o FILE as before");
    const unsigned threads = static_cast<unsigned>(
        whole_number_option(args, "--threads", distributed::default_threads(), 1, 4096));
    const std::string fingerprint = sweep_fingerprint(plan);

    // ---- the journal of an interrupted run: the root reads it, every rank learns which points are done -------
    const std::filesystem::path journal = output.empty() ? std::filesystem::path() : journal_path(output);
    std::vector<SweepRow> finished;
    std::optional<SweepJournal> journal_file;  // the root's
    std::string wire(1, kRows);
    if (root) {
        try {
            if (!journal.empty() && std::filesystem::exists(journal)) {
                if (!resume) {
                    throw Error(fmt::format("{} holds the finished points of an interrupted sweep", journal.string()),
                                fmt::format("pass --resume to finish that sweep, or delete {} to start over",
                                            journal.string()));
                }
                finished = read_journal(journal, fingerprint);
            }
            if (!journal.empty()) journal_file.emplace(journal, fingerprint);
        } catch (const Error&) {
            (void)distributed::broadcast(std::string(1, kFailed));
            throw;
        }
        for (const auto& row : finished) wire += journal_line(row, fingerprint);
    }
    wire = distributed::broadcast(wire);
    if (wire.front() == kFailed) return 2;  // not the root: the root reports the error
    if (!root) {
        std::size_t start = 1;
        while (start < wire.size()) {
            const std::size_t end = wire.find('\n', start);
            auto entry = parse_journal_line(std::string_view(wire).substr(start, end - start));
            if (entry) finished.push_back(std::move(entry->row));
            start = end == std::string::npos ? wire.size() : end + 1;
        }
    }
    const std::vector<SweepPoint> todo = points_to_do(plan, finished);
    const std::size_t resumed = plan.points.size() - todo.size();

    // ---- run the rest ------------------------------------------------------------------------------------
    ProgressBar progress("sweep", args);
    int done = static_cast<int>(resumed);
    const int total = static_cast<int>(plan.points.size());
    SweepRunOptions run_options;
    run_options.threads = threads;
    if (root) {
        run_options.on_row = [&](const SweepRow& row) {
            if (journal_file) journal_file->append(row);
            progress.update(++done, total);
        };
    }
    const std::vector<SweepRow> fresh = distributed::run(plan, todo, run_options);
    if (!root) return 0;

    // ---- one result, written whole --------------------------------------------------------------------------
    SweepResult result;
    result.scenario = file;
    result.vary = specs;
    result.random = random;
    result.options = plan.evaluate;
    for (const auto& axis : plan.axes) result.axis_keys.push_back(axis.key);
    result.derive_data = plan.derive_data;
    result.zip = combine == SweepCombine::zip;
    result.rows = merge_rows(plan, finished, fresh);
    const std::string text = format == Format::csv    ? report::sweep_csv(result)
                             : format == Format::json ? report::sweep_json(result)
                                                      : report::sweep_table(result);
    const int code = exit_code_of(result);
    if (output.empty()) {
        out << text;
        return code;
    }
    report::write_file_atomically(output, text, flag);
    journal_file.reset();
    std::error_code ignored;
    std::filesystem::remove(journal, ignored);
    const int ranks = distributed::size();
    out << fmt::format("{}: {} points ({} ok, {} error{}); {} evaluated{}{}\n", output, result.rows.size(),
                       result.rows.size() - result.errors(), result.errors(), result.errors() == 1 ? "" : "s",
                       fresh.size(), ranks > 1 ? fmt::format(" by {} MPI ranks", ranks) : "",
                       resumed > 0 ? fmt::format(", {} resumed from the journal", resumed) : "");
    return code;
}

}  // namespace gpuhours::cli
