// `gpuhours report`: the run's evaluation as one self-contained HTML page (html.hpp), written atomically.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/units/error.hpp>
#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/report/html.hpp>
#include <gpuhours/report/output_file.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/analysis/whatif.hpp>

#include <fmt/format.h>


#include <optional>
#include <string_view>
#include <ostream>
#include <string>

namespace gpuhours::cli {

int cmd_report(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "report");
    const std::string& file = single_positional(args, "report", "SCENARIO");
    // -o is required: a report never silently overwrites a file the user did not name.
    std::string output = args.get("--output", args.get("-o"));
    if (output.empty()) {
        throw Error("gpuhours report needs the file to write", "add -o FILE, e.g. gpuhours report " + file + " -o report.html");
    }
    const std::string flag = args.has("-o") ? "-o" : "--output";
    report::check_output_path(output, flag);  // before minutes of simulation, not after
    // The report is a page: a name that promises data would hold HTML (a script reading FILE.json got a page).
    const std::string ext = lowercase_extension(output);  // x.JSON too
    if (ext == ".json" || ext == ".csv") {
        throw Error(fmt::format("{} {}: gpuhours report writes an HTML page, not {}", flag, output, ext.substr(1)),
                    fmt::format("name it .html; for the figures as data use gpuhours run {} --json (or --csv)", file));
    }
    if (ext != ".html" && ext != ".htm") {  // as compare and capacity name their pages
        throw Error(fmt::format("{} {}: gpuhours report writes an HTML page; the name should say so", flag, output),
                    "name the file .html");
    }
    const ScenarioSampler sampler(file, load_options(args));
    require_memory_ranges_fit(sampler);  // as `check` refuses it
    EvaluateOptions options = evaluate_options(args);
    // The comparison's flags are read now, before the run is evaluated: a mistaken value is an error then, not
    // after minutes; and --deadline or --max-gpus without a comparison to apply to would be silently ignored.
    std::optional<WhatIfRequest> request;
    const bool capacity_asked = args.has("--capacity");
    if (sampler.nominal().whatif.requested() || args.has("--chips") || args.has("--rule")) {
        request = whatif_request(args, sampler.nominal());
    } else {
        for (const char* ignored : {"--deadline", "--max-gpus", "--max-batch-tokens"}) {
            if (args.has(ignored) && !(capacity_asked && std::string_view(ignored) != "--max-gpus")) {
                throw Error(fmt::format("{} applies to a chip comparison, and this report has none", ignored),
                            fmt::format("add --chips or --rule (or a [whatif] table to the scenario), or drop {}", ignored));
            }
        }
    }
    std::optional<CapacityRequest> capacity;
    if (capacity_asked) {
        capacity = capacity_request(args, sampler.nominal());
    } else {
        for (const char* ignored : {"--gpus", "--budget", "--same-price", "--family", "--tokens-per-parameter", "--tokens"}) {
            // --same-price prices the chip comparison too (whatif_request reads it): refused only without either.
            if (args.has(ignored) && !(request && std::string_view(ignored) == "--same-price")) {
                throw Error(fmt::format("{} applies to the capacity section, which this report has not been asked for", ignored),
                            fmt::format("add --capacity, or drop {}", ignored));
            }
        }
    }
    options.record_trace = true;  // the step timeline
    options.step_cache = std::make_shared<StepCache>();  // the what-if's own chip reuses the run's steps
    ProgressBar steps("simulating steps", args);
    options.step_progress = [&](double done, int total) { steps.update(done, total); };
    ProgressBar progress("Monte Carlo", args);
    options.progress = [&](int done, int total) { progress.update(done, total); };
    const RunEvaluation ev = evaluate_run(sampler, options);

    // The comparison across chips, when the scenario's [whatif] or the flags ask for one.
    std::optional<WhatIfResult> whatif;
    if (request) {
        EvaluateOptions per_chip = evaluate_options(args);
        if (!args.has("--samples")) per_chip.samples = 100;
        per_chip.step_cache = options.step_cache;
        ProgressBar chips("chips", args);
        whatif = run_whatif(file, load_options(args), *request, per_chip,
                            [&](int done, int total) { chips.update(done, total); });
    }
    const WhatIfResult* comparison = whatif ? &*whatif : nullptr;
    std::optional<CapacityResult> trains;
    if (capacity) {
        EvaluateOptions runs = evaluate_options(args);
        if (!args.has("--samples")) runs.samples = 50;  // as gpuhours capacity
        ProgressBar bar("capacity", args);
        trains = run_capacity(file, load_options(args), *capacity, runs, [&](int done, int total) { bar.update(done, total); });
    }

    const std::string page = report::html_report(ev, comparison, trains ? &*trains : nullptr);
    report::write_file_atomically(output, page, flag);
    out << fmt::format("report: {} ({}; open it in a browser)\n", output, format_bytes(Bytes(static_cast<double>(page.size()))));
    return trains ? capacity_exit_code(*trains, args) : 0;  // as `gpuhours capacity`: the page is written either way
}

}  // namespace gpuhours::cli
