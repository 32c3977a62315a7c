// `gpuhours report`: the run's evaluation as one self-contained HTML page (html.hpp), written atomically.
#include "commands.hpp"

#include <gpuhours/error.hpp>
#include <gpuhours/evaluation.hpp>
#include <gpuhours/html.hpp>
#include <gpuhours/report.hpp>
#include <gpuhours/whatif.hpp>

#include <fmt/format.h>

#include <ostream>
#include <string>

namespace gpuhours::cli {

int cmd_report(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_args(raw, {}, {"-o", "--output", "--set", "--catalog", "--mode", "--network", "--samples", "--seed"});
    const std::string& file = single_positional(args, "report", "SCENARIO");
    // -o is required: a report never silently overwrites a file the user did not name.
    std::string output = args.get("--output", args.get("-o"));
    if (args.has("-o") && args.has("--output")) throw Error("give either -o or --output, not both");
    if (output.empty()) {
        throw Error("gpuhours report needs the file to write", "add -o FILE, e.g. gpuhours report " + file + " -o report.html");
    }
    const ScenarioSampler sampler(file, load_options(args));
    EvaluateOptions options = evaluate_options(args);
    options.record_trace = true;  // the step timeline
    ProgressBar progress("Monte Carlo");
    options.progress = [&](int done, int total) { progress.update(done, total); };
    const RunEvaluation ev = evaluate_run(sampler, options);

    // TODO(lead): run_whatif when the scenario has [whatif], and pass its result here.
    const WhatIfResult* comparison = nullptr;

    const std::string page = report::html_report(ev, comparison);
    report::write_file_atomically(output, page);
    out << fmt::format("report: {} ({} KB; open it in a browser)\n", output, (page.size() + 512) / 1024);
    return 0;
}

}  // namespace gpuhours::cli
