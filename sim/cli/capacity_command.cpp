// `gpuhours capacity`: what a cluster trains by a deadline (analysis/capacity.hpp), as text or JSON.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/analysis/capacity.hpp>
#include <gpuhours/report/capacity.hpp>
#include <gpuhours/report/output_file.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/units/units.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <ostream>
#include <string>

namespace gpuhours::cli {

CapacityRequest capacity_request(const ParsedArgs& args, const Scenario& s) {
    CapacityRequest request;
    request.gpus = whole_number_option(args, "--gpus", s.cluster.gpus, 1, limits::kGpus);
    if (const auto d = deadline_option(args)) {
        request.deadline = *d;
    } else if (s.whatif.deadline) {
        request.deadline = *s.whatif.deadline;
    } else {
        throw Error("capacity needs a deadline", "pass --deadline \"2 months\", or give the scenario [whatif] deadline = \"…\"");
    }
    if (const auto b = budget_option(args)) {
        request.budget = *b;
        if (!s.pricing.gpu_hour && !s.pricing.ownership) {
            throw Error("--budget needs a priced scenario, and this one has no [pricing]", "add [pricing] gpu_hour = \"$2\" (or ownership)");
        }
    }
    if (args.has("--chips")) request.chips = split_list(args.get("--chips"), ',');
    else request.chips = s.whatif.chips;
    require_distinct_chips(request.chips, args, s);
    for (auto c = request.chips.begin(); c != request.chips.end(); ++c) {
        if (c->empty()) throw Error(fmt::format("--chips {} has an empty name", args.get("--chips")), "e.g. --chips b200,h100");
        (void)for_flag("--chips", *c, [&] { return load_chip(*c, catalog_dir(args)); });  // unknown: named now, with the known ones
    }
    request.max_batch_tokens = max_batch_tokens_option(args, s);
    require_price_for_same_price(args, s);
    request.same_price = args.has("--same-price");
    if (args.has("--tokens-per-parameter") && args.has("--tokens")) {
        throw Error("give either --tokens-per-parameter or --tokens, not both");
    }
    if ((args.has("--tokens-per-parameter") || args.has("--tokens")) && !args.has("--family")) {
        throw Error("--tokens-per-parameter and --tokens set the token target of a model family's rungs", "add --family NAME (e.g. llama-dense)");
    }
    if (args.has("--family")) {
        request.family = for_flag("--family", args.get("--family"), [&] { return load_model_family(args.get("--family"), catalog_dir(args)); });
    }
    if (args.has("--tokens-per-parameter")) {
        const std::string text = args.get("--tokens-per-parameter");
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !(v > 0)) {
            throw Error(fmt::format("--tokens-per-parameter {} is not a positive number", text), "e.g. --tokens-per-parameter 20 (Chinchilla)");
        }
        // 10^-3 to 10^6: Chinchilla is 20, Llama 3 8B about 1,900 (a fresh verifier, #12: 1e9 was "not positive",
        // 1e-300 ran every rung to nothing).
        if (!(v >= 1e-3 && v <= 1e6)) {
            throw Error(fmt::format("--tokens-per-parameter {} is {} the supported range (limit 0.001 to 1000000)", text,
                                    limits::range_side(v, 1e6)),
                        "e.g. --tokens-per-parameter 20 (Chinchilla)");
        }
        request.tokens_per_parameter = v;
    }
    // Up to the token counts a scenario takes (limits::kTokensMax); at least a million (a run of fewer is not a
    // training run: every rung failed with exit 0).
    if (args.has("--tokens")) {
        request.tokens = static_cast<double>(whole_number_option(args, "--tokens", 0, 1'000'000, static_cast<long long>(limits::kTokensMax)));
    }
    return request;
}

int cmd_capacity(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "capacity");
    const std::string& file = single_positional(args, "capacity", "SCENARIO");
    const LoadOptions load = load_options(args);
    const Scenario s = load_scenario(file, load);
    const CapacityRequest request = capacity_request(args, s);
    const PageOrJson output = page_or_json_output(args);  // before the runs, not after
    EvaluateOptions options = evaluate_options(args);
    if (!args.has("--samples")) options.samples = 50;
    ProgressBar progress("capacity", args);
    const CapacityResult result = run_capacity(file, load, request, options, [&](int done, int total) { progress.update(done, total); });
    if (output.path.empty()) {
        out << (args.has("--json") ? report::capacity_json(result) : report::capacity_text(result));
    } else {
        const std::string text = output.html ? report::capacity_html(result) : report::capacity_json(result);
        report::write_file_atomically(output.path, text, output.flag);
        out << fmt::format("capacity: {}{}\n", output.path, output.html ? " (open it in a browser)" : "");
    }
    return capacity_exit_code(result, args);
}

int capacity_exit_code(const CapacityResult& result, const ParsedArgs& args) {
    const bool any = std::any_of(result.tokens.begin(), result.tokens.end(), [](const TokenCapacity& t) { return t.feasible; });
    if (any) return 0;
    // Exit 2 said on stderr too, naming the flags that set the question (`--gpus 7` exited 2 with only a note in the
    // table; a fresh verifier, #12).
    std::cerr << fmt::format("gpuhours: error: no chip trains the scenario's model on {} GPU{} within the deadline (each chip's note "
                             "says why)\n  change {} or --deadline{}\n",
                             result.gpus, result.gpus == 1 ? "" : "s", args.has("--gpus") ? "--gpus" : "the GPU count (--gpus)",
                             result.budget ? ", or --budget" : "");
    return 2;
}

}  // namespace gpuhours::cli
