#include "commands.hpp"
#include "help.hpp"

#include <cstdlib>
#include <gpuhours/training/kernel.hpp>
#include <gpuhours/report/schema.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/report/output_file.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/training/step.hpp>
#include <gpuhours/workload/workload.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <iostream>
#include <ostream>
#include <unistd.h>

namespace gpuhours::cli {

// ---- argument parsing -----------------------------------------------------------------------------------

bool ParsedArgs::has(const std::string& name) const {
    return std::any_of(options.begin(), options.end(), [&](const auto& o) { return o.first == name; });
}

std::string ParsedArgs::get(const std::string& name, const std::string& fallback) const {
    std::string value = fallback;
    for (const auto& [k, v] : options) {
        if (k == name) value = v;  // the last occurrence wins
    }
    return value;
}

std::vector<std::string> ParsedArgs::get_all(const std::string& name) const {
    std::vector<std::string> values;
    for (const auto& [k, v] : options) {
        if (k == name) values.push_back(v);
    }
    return values;
}

namespace {

// The options that may be given more than once (each occurrence adds one): every other valued option is given once,
// so that `-o a.html -o b.html` is not read as b.html alone.
bool repeatable(const std::string& name) { return name == "--set" || name == "--fix" || name == "--vary"; }

// An argument that is an option rather than a value: "-" and then not a digit or a point ("-1", "-0.5" and "-" are
// values). A value that begins with '-' is written OPTION=VALUE.
bool looks_like_option(const std::string& arg) {
    return arg.size() >= 2 && arg[0] == '-' && !(std::isdigit(static_cast<unsigned char>(arg[1])) != 0 || arg[1] == '.');
}

}  // namespace

ParsedArgs parse_args(const Args& args, const std::vector<std::string>& flags, const std::vector<std::string>& valued) {
    ParsedArgs parsed;
    auto known_list = [&] {
        std::string list;
        for (const auto& f : flags) list += (list.empty() ? "" : ", ") + f;
        for (const auto& v : valued) list += (list.empty() ? "" : ", ") + v + " VALUE";
        return list.empty() ? std::string("none") : list;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--") {  // the end of the options (POSIX): what follows is positional, a file named "-x" too
            parsed.positional.insert(parsed.positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
            break;
        }
        if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
            parsed.positional.push_back(arg);
            continue;
        }
        std::string name = arg;
        std::optional<std::string> value;
        if (const std::size_t eq = arg.find('='); eq != std::string::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
            if (value) throw Error(fmt::format("option {} takes no value", name));
            parsed.options.emplace_back(name, "");
        } else if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
            if (!value) {
                if (i + 1 >= args.size()) {
                    throw Error(fmt::format("option {} needs a value", name), fmt::format("write {} VALUE (`gpuhours help` lists each option's value)", name));
                }
                if (looks_like_option(args[i + 1])) {
                    throw Error(fmt::format("option {} needs a value, but the next argument is the option {}", name, args[i + 1]),
                                fmt::format("write {} VALUE; a value that begins with '-' as {}=VALUE", name, name));
                }
                value = args[++i];
            }
            if (!repeatable(name) && parsed.has(name)) {
                throw Error(fmt::format("option {} is given twice ({} and {})", name, parsed.get(name), *value),
                            fmt::format("give {} once", name));
            }
            const std::string alias = name == "-o" ? "--output" : name == "--output" ? "-o" : "";
            if (!alias.empty() && parsed.has(alias)) throw Error("give either -o or --output, not both");
            parsed.options.emplace_back(name, *value);
        } else {
            std::vector<std::string> all = flags;
            all.insert(all.end(), valued.begin(), valued.end());
            std::string hint = fmt::format("known options: {}", known_list());
            std::optional<std::string> best;
            std::size_t best_distance = 3;
            for (const auto& k : all) {
                const std::size_t d = edit_distance(name, k);
                if (d < best_distance) { best_distance = d; best = k; }
            }
            if (best) hint = fmt::format("did you mean {}? ({})", *best, hint);
            throw Error(fmt::format("unknown option {}", name), hint);
        }
    }
    return parsed;
}

long long whole_number(const std::string& flag, const std::string& text, long long min, long long max) {
    // "--gpus 12", but "--fix micro_batch=0" for an assignment's value.
    const std::string given = flag.ends_with('=') ? flag + text : flag + " " + text;
    // Plain digits are read exactly (a seed of 9,007,199,254,740,993 is that seed, not the double next to it);
    // suffixed or exponent forms ("4K", "1e6") through parse_count, and refused where a double cannot hold them
    // exactly (beyond 2^53).
    const bool digits = !text.empty() && text.size() <= 19 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
        const unsigned long long exact = std::strtoull(text.c_str(), nullptr, 10);
        if (exact > static_cast<unsigned long long>(max)) {
            throw Error(fmt::format("{} is beyond the supported range (limit {})", given, max),
                        fmt::format("use a whole number from {} to {}", min, max));
        }
        const auto value = static_cast<long long>(exact);
        if (value < min) throw Error(fmt::format("{} must be a whole number from {} to {}", given, min, max));
        return value;
    }
    double v = 0;
    try {
        v = parse_count(text);
    } catch (const UnitError&) {
        throw Error(fmt::format("{} is not a whole number", given), fmt::format("use a whole number from {} to {}", min, max));
    }
    if (v < static_cast<double>(min)) throw Error(fmt::format("{} must be a whole number from {} to {}", given, min, max));
    constexpr double kExactDouble = 9007199254740992.0;  // 2^53: every whole number up to it is a double exactly
    if (v > kExactDouble && v <= static_cast<double>(max)) {
        throw Error(fmt::format("{} is not exact beyond 2^53 in this form", given),
                    "write it in plain digits (e.g. 9007199254740993)");
    }
    if (v > static_cast<double>(max)) {
        throw Error(fmt::format("{} is beyond the supported range (limit {})", given, max),
                    fmt::format("use a whole number from {} to {}", min, max));
    }
    if (v != std::floor(v) || v < static_cast<double>(min)) {
        throw Error(fmt::format("{} must be a whole number from {} to {}", given, min, max));
    }
    return static_cast<long long>(v);
}

long long whole_number_option(const ParsedArgs& args, const std::string& flag, long long fallback, long long min, long long max) {
    return args.has(flag) ? whole_number(flag, args.get(flag), min, max) : fallback;
}

void chip_json(report::Json& j, const Scenario& s) {
    j.field("chip", catalog_id(s.cluster.chip)).field("chip_modified", fmt::format("{}", fmt::join(s.sources.chip_overrides, ";")));
}

void memory_bytes_json(report::Json& j, const ChipProfile& chip) {
    const WholeBytes b = whole_bytes(chip);
    j.field("capacity_bytes", b.usable).field("device_bytes", b.device).field("reserve_bytes", b.reserve);
    j.field("device_basis", chip.memory_nameplate ? "nameplate" : "exposed");
}

namespace {

// `flag`'s value read by `parse` (a missing or wrong unit is an Error naming the flag, with `unit_hint`) and held to
// the range `in_range` (else "FLAG VALUE is below (beyond) the supported range of WHAT (limit RANGE)", with `hint`:
// below when `low` is itself out of range and the value is under it); nullopt when the flag is absent.
template <class Q>
std::optional<Q> ranged_option(const ParsedArgs& args, const std::string& flag, Q (*parse)(std::string_view), bool (*in_range)(double),
                               std::string_view what, std::string_view range, std::string_view unit_hint, std::string_view hint,
                               double low) {
    if (!args.has(flag)) return std::nullopt;
    const std::string text = args.get(flag);
    std::optional<Q> q;
    try {
        q = parse(text);
    } catch (const UnitError& e) {
        throw Error(fmt::format("{} {}: {}", flag, text, e.what()), std::string(unit_hint));
    }
    if (!in_range(q->value())) {
        throw Error(fmt::format("{} {} is {} the supported range of {} (limit {})", flag, text, q->value() < low ? "below" : "beyond",
                                what, range),
                    std::string(hint));
    }
    return q;
}

}  // namespace

std::optional<Seconds> deadline_option(const ParsedArgs& args) {
    return ranged_option<Seconds>(
        args, "--deadline", parse_duration, [](double v) { return v >= limits::kDeadlineMin && v <= limits::kDeadlineMax; }, "deadlines",
        "1 hour to 100 years", "write a duration, e.g. --deadline \"2 months\"", "e.g. --deadline \"2 months\"", limits::kDeadlineMin);
}

std::optional<Dollars> budget_option(const ParsedArgs& args) {
    return ranged_option<Dollars>(
        args, "--budget", parse_dollars, [](double v) { return v > 0.0 && v <= limits::kBudgetMax; }, "budgets",
        fmt::format("above $0, at most ${:g}", limits::kBudgetMax),
        args.has("--budget") && args.get("--budget").find('$') == std::string::npos
            ? "e.g. --budget '$500M'; if you typed a $, quote it: unquoted, the shell replaces $5 (or $1, …) with its "
              "own variable before gpuhours sees it"
            : "e.g. --budget '$500M'",
        "e.g. --budget '$500M'", std::numeric_limits<double>::min());
}

std::optional<double> max_batch_tokens_option(const ParsedArgs& args, const Scenario& s) {
    if (!args.has("--max-batch-tokens")) return std::nullopt;
    const auto tokens = static_cast<double>(whole_number_option(args, "--max-batch-tokens", 0, 1, 1LL << 50));
    std::optional<double> smallest;  // the smallest simulated phase's own global batch, in tokens
    for (const PhaseSpec& ph : s.phases) {
        if (ph.quoted_gpu_hours) continue;
        const double own = static_cast<double>(ph.training.global_batch) * ph.training.sequence_length;
        smallest = smallest ? std::min(*smallest, own) : own;
    }
    if (smallest && tokens < *smallest) {
        throw Error(fmt::format("--max-batch-tokens {} is below the scenario's own global batch ({} tokens): it bounds how far a "
                                "batch may grow, and no batch is shrunk", args.get("--max-batch-tokens"), report::with_commas(*smallest)),
                    fmt::format("give at least {}, or leave --max-batch-tokens out (the batches stay the scenario's)", report::with_commas(*smallest)));
    }
    return tokens;
}

std::vector<std::string> split_list(const std::string& text, char separator) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find(separator, start);
        std::string item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        // Spaces around an item are not part of it ("h100, h800" names two chips, not " h800").
        const std::size_t first = item.find_first_not_of(" \t");
        item = first == std::string::npos ? std::string() : item.substr(first, item.find_last_not_of(" \t") - first + 1);
        out.push_back(std::move(item));
        if (end == std::string::npos) return out;
        start = end + 1;
    }
}

EvaluateOptions evaluate_options(const ParsedArgs& args) {
    EvaluateOptions o;
    const std::string mode_text = args.get("--mode", "symmetric");
    if (mode_text == "full") o.mode = SimulationMode::full;
    else if (mode_text != "symmetric") throw Error(fmt::format("--mode {} is not a mode", mode_text), "use --mode symmetric or --mode full");
    const std::string network_text = args.get("--network", "flow");
    const auto network = network_kind_from_string(network_text);
    if (!network) throw Error(fmt::format("--network {} is not a network model", network_text), "use --network flow or --network alpha-beta");
    o.network = *network;
    o.seed = static_cast<std::uint64_t>(whole_number_option(args, "--seed", 1, 0, 1LL << 62));
    o.samples = static_cast<int>(whole_number_option(args, "--samples", 0, 1, limits::kSamples));
    return o;
}

namespace {

// --catalog names a catalog directory: one holding chips/ and models/ (a missing or wrong one was blamed on the
// scenario's `model` line, with an empty list of known models; a fresh verifier, #12).
std::string catalog_option(const ParsedArgs& args) {
    const std::string dir = args.get("--catalog");
    if (args.has("--catalog") && dir.empty()) {  // an empty name is a mistake, not "the default catalog"
        throw Error("--catalog needs a directory, got an empty name", "name the scenarios/ directory that holds chips/ and models/, or leave --catalog out");
    }
    std::error_code ec;
    if (!dir.empty() && !(std::filesystem::is_directory(std::filesystem::path(dir) / "chips", ec) &&
                          std::filesystem::is_directory(std::filesystem::path(dir) / "models", ec))) {
        throw Error(fmt::format("--catalog {} is not a catalog directory: it has no chips/ and models/ directories", dir),
                    "name the scenarios/ directory that holds chips/, models/, pricing/, … (e.g. --catalog scenarios)");
    }
    return dir;
}

}  // namespace

LoadOptions load_options(const ParsedArgs& args) {
    LoadOptions options;
    options.catalog_dir = catalog_option(args);  // empty: the scenario's own (load_scenario, run_whatif, run_capacity)
    options.overrides = args.get_all("--set");
    return options;
}

std::filesystem::path catalog_dir(const ParsedArgs& args) {
    const std::string dir = catalog_option(args);
    if (!dir.empty()) return dir;
    // The scenario's own catalog, as loading it uses: a chip, rule set or family a command names beside the scenario
    // (whatif's chips, its [whatif] rule, capacity's --family) is looked up where `check` looked it up.
    std::error_code ec;
    if (!args.positional.empty() && std::filesystem::is_regular_file(args.positional.front(), ec)) {
        return find_catalog_dir(args.positional.front());
    }
    return default_catalog_dir();
}

void write_rule_set_json(report::Json& j, const RuleSet& rules) {
    j.begin_object().field("id", rules.id).field("title", rules.title).field("source", rules.source);
    if (rules.note.empty()) j.key("note").null();
    else j.field("note", rules.note);
    j.field("scope", rules.memory_scope ? "memory" : "chip");
    if (rules.not_subject_vendors.empty()) {
        j.key("not_subject").null();
    } else {
        j.key("not_subject").begin_object().key("vendors").begin_array();
        for (const auto& v : rules.not_subject_vendors) j.value(v);
        j.end_array().field("source", rules.not_subject_source).end_object();
    }
    j.end_object();
}

std::string lowercase_extension(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return ext;
}

const std::string& single_positional(const ParsedArgs& args, const char* command, const char* what) {
    if (args.positional.size() != 1) {
        throw Error(fmt::format("`gpuhours {}` takes one {}, got {}", command, what, args.positional.size()),
                    fmt::format("usage: gpuhours {} {} [options]; see `gpuhours help`", command, what));
    }
    return args.positional.front();
}


std::string vocab_text(int vocab, const ParallelLayout& p) {
    const long long padded = p.padded_vocab(vocab);
    if (padded == vocab) return std::to_string(vocab);
    return fmt::format("{} (padded to {}, a multiple of {} × tensor {})", vocab, padded, p.vocab_divisible_by, p.tensor);
}

namespace {

// A pipeline rank's layers as contiguous runs, "0–2 & 64–66" for an interleaved rank's two chunks (each run a chunk,
// or chunks that happen to adjoin), "5" for a single layer, "none" for none.
std::string layers_text(const StageAssignment& stage) {
    if (stage.layers.empty()) return "none";
    std::string text;
    for (std::size_t first = 0; first < stage.layers.size();) {
        std::size_t last = first;
        while (last + 1 < stage.layers.size() && stage.layers[last + 1] == stage.layers[last] + 1) ++last;
        text += text.empty() ? "" : " & ";
        text += first == last ? std::to_string(stage.layers[first])
                              : fmt::format("{}–{}", stage.layers[first], stage.layers[last]);
        first = last + 1;
    }
    return text;
}

void write_scenario_json(report::Json& j, const Scenario& s) {
    const auto& c = s.cluster;
    const auto& p = s.parallel;
    const auto& t = s.training;
    j.field("title", s.title);
    j.key("model").begin_object();
    j.field("id", s.model.id).field("name", s.model.display_name).field("layers", s.model.layers);
    j.field("hidden", s.model.hidden).field("vocab", s.model.vocab);
    j.field("vocab_padded", static_cast<std::int64_t>(s.parallel.padded_vocab(s.model.vocab)));
    j.end_object();
    j.key("cluster").begin_object();
    chip_json(j, s);
    j.field("chip_name", c.chip.display_name).field("gpus", c.gpus);
    j.field("gpus_per_node", c.gpus_per_node).field("nodes", c.nodes()).field("fabric", to_string(c.fabric));
    j.field("gpus_per_host", c.host_gpus()).field("hosts", c.hosts());
    j.field("nic_bandwidth_bytes_per_s", c.nic_bandwidth.value());
    j.field("scale_up_bandwidth_bytes_per_s", c.chip.scale_up_bandwidth.value());
    j.field("oversubscription", c.oversubscription).field("planes", c.planes);
    j.end_object();
    j.key("parallelism").begin_object();
    j.field("tensor", p.tensor).field("pipeline", p.pipeline).field("data", p.data).field("expert", p.expert);
    j.field("expert_tensor", p.expert_tensor_degree());
    j.field("context", p.context).field("sequence_parallel", p.sequence_parallel).field("zero", p.zero_stage);
    j.field("micro_batch", p.micro_batch).field("virtual_stages", p.virtual_stages);
    j.field("schedule", to_string(p.schedule)).field("recompute", to_string(p.recompute)).field("order", p.order);
    j.field("recompute_num_layers", p.recompute_num_layers).field("recompute_modules", describe_recompute_modules(p.recompute_modules));
    j.field("overlap_gradient_reduce", p.overlap_gradient_reduce).field("combined_1f1b", p.combined_1f1b).field("vocab_divisible_by", p.vocab_divisible_by);
    j.field("moe_shared_expert_overlap", p.moe_shared_expert_overlap);
    j.field("moe_token_dispatcher", to_string(p.moe_dispatcher));
    j.field("tp_comm_overlap", p.tp_comm_overlap);
    if (p.tp_comm_overlap) j.field("tp_comm_overlap_sms", p.tp_comm_overlap_sms);
    if (p.zero_stage >= 3) {
        j.field("prefetch", p.prefetch).field("reshard_after_forward", p.reshard_after_forward);
        j.field("shard_group", p.dense_shard_ranks());
    } else {
        j.field("gradient_bucket_parameters", static_cast<std::int64_t>(p.gradient_bucket_parameters()));
        j.field("overlap_param_gather", p.param_gather_overlaps());
    }
    j.field("cp_comm_type", to_string(p.cp_comm_type)).field("context_parallel", describe_context_parallel(p));
    j.field("data_parallel", describe_data_parallel(p));
    j.end_object();
    j.key("training").begin_object();
    j.field("tokens", t.tokens).field("sequence_length", t.sequence_length).field("global_batch", t.global_batch);
    j.field("precision", to_string(t.precision.compute));
    j.field("fp8_recipe", to_string(t.precision.fp8_recipe)).field("fp8_param_gather", t.precision.fp8_param_gather);
    j.field("bf16_layers_at_start", t.precision.bf16_layers_at_start).field("bf16_layers_at_end", t.precision.bf16_layers_at_end);
    j.field("micro_batches_per_step", t.global_batch / (p.data * p.micro_batch));
    j.field("steps", planned_steps(s));
    j.end_object();
    j.key("reliability").begin_object();
    j.field("from", s.reliability.from).field("failure_classes", static_cast<std::int64_t>(s.reliability.failures.size()));
    j.field("restart_s", restart_time_of(s).value()).end_object();
    j.key("claims").begin_array();
    for (const auto& claim : s.claims) j.begin_object().field("text", claim.text).field("basis", to_string(claim.basis)).end_object();
    j.end_array();
}

// The scenario as `run` would accept it: loaded, its memory fit (into `fit`) and every written phase's, and a run
// that can finish. Throws the first mistake.
Scenario checked_scenario(const ParsedArgs& args, const std::string& file, FitCheck& fit) {
    Scenario s = load_scenario(file, load_options(args));
    fit = check_fit(s.model, s.parallel, s.training.precision, shape_of(s), s.cluster.chip.memory_capacity, memory_options_of(s));
    require_fit(s, fit);
    // Every written phase must fit too, as `run` requires: at its own batch, the most micro-batches in flight (a
    // batch ramp's smaller levels hold no more). Without [[phases]] the one phase is the scenario checked above.
    for (const PhaseSpec& ph : s.phases) {
        if (s.phases_given && !ph.quoted_gpu_hours) require_fit(scenario_of_phase(s, ph, ph.training.global_batch));
    }
    // A memory figure's range whose ends could not hold the model, as `run` refuses it.
    require_memory_ranges_fit(ScenarioSampler(file, load_options(args)));
    // A run that would practically never finish even at the steps' compute lower bound, as `run` refuses it.
    require_run_can_finish(s);
    require_whatif_chips(s, args, file);
    return s;
}

// `check --json`'s verdict on an invalid scenario: the first mistake, located (line and column 0 when unknown); the
// others follow in its hint, as printed.
std::string invalid_json(const Error& e) {
    report::Json j;
    j.begin_object().field("schema_version", report::kJsonSchemaVersion).field("valid", false);
    j.key("error").begin_object().field("file", e.where().file).field("line", e.where().line);
    j.field("column", e.where().column).field("message", e.message()).field("hint", e.hint()).end_object();
    // Every mistake found, each with its own position and hint (the first's hint without the others' text).
    j.key("errors").begin_array();
    const auto* scenario = dynamic_cast<const ScenarioError*>(&e);
    std::vector<ScenarioError::Mistake> mistakes = scenario != nullptr ? scenario->mistakes() : std::vector<ScenarioError::Mistake>{};
    if (mistakes.empty()) mistakes.push_back({e.where(), e.message(), e.hint()});
    for (const auto& m : mistakes) {
        j.begin_object().field("file", m.where.file).field("line", m.where.line).field("column", m.where.column);
        j.field("message", m.message).field("hint", m.hint).end_object();
    }
    j.end_array();
    return j.end_object().str();
}

// A node wider than the chip's scale-up domain, said where check describes the cluster (not only among run's
// assumptions, where a researcher found it).
// " (36 hosts of 4)": the hosts (the unit of the per-node failure rates) where they are not the nodes, as a GB200
// rack's 18 compute trays of 4 GPUs; empty where they are.
std::string hosts_text(const ClusterSpec& c) {
    if (c.host_gpus() == c.gpus_per_node) return {};
    return fmt::format(" ({} host{} of {})", c.hosts(), c.hosts() == 1 ? "" : "s", c.host_gpus());
}

void print_node_note(const ClusterSpec& c, std::ostream& out) {
    if (c.gpus_per_node <= c.chip.scale_up_domain) return;
    out << fmt::format("          nodes of {} are above the {}'s scale-up domain of {}: a hypothetical node, simulated as one "
                       "scale-up domain of {} at the chip's rate\n",
                       c.gpus_per_node, c.chip.display_name, c.chip.scale_up_domain, c.gpus_per_node);
}

int check_command(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "check");
    const std::string& file = single_positional(args, "check", "SCENARIO");
    std::optional<Scenario> loaded;
    FitCheck fit;
    try {
        loaded = checked_scenario(args, file, fit);
    } catch (const Error& e) {
        // --json: the verdict as JSON on stdout too (a notebook reads "valid": false and where), then the message on
        // stderr and exit 2 as without it.
        if (!args.has("--json")) throw;
        out << invalid_json(e);
        std::cerr << "gpuhours: " << e.what() << "\n";  // as main prints a mistake (capacity_exit_code does alike)
        return 2;
    }
    const Scenario& s = *loaded;
    if (args.has("--json")) {
        report::Json j;
        j.begin_object().field("schema_version", report::kJsonSchemaVersion).field("valid", true);
        write_scenario_json(j, s);
        j.key("memory").begin_object();
        j.field("fits", fit.fits).field("peak_bytes", fit.breakdown.total().value());
        memory_bytes_json(j, s.cluster.chip);
        j.end_object();
        j.end_object();
        out << j.str();
    } else {
        const auto& c = s.cluster;
        const auto& p = s.parallel;
        const auto& t = s.training;
        out << fmt::format("{}: valid\n\n", file);
        out << fmt::format("title     {}\n", s.title);
        out << fmt::format("model     {} ({}): {} layers, hidden {}, vocab {}{}\n", s.model.display_name, s.model.id,
                           s.model.layers, s.model.hidden, vocab_text(s.model.vocab, p),
                           s.model.moe ? fmt::format(", MoE {} routed + {} shared experts, top-{}",
                                                     s.model.moe->routed_experts, s.model.moe->shared_experts,
                                                     s.model.moe->top_k)
                                       : std::string());
        out << fmt::format("cluster   {} × {} ({}), {} node{} of {}{}, {} fabric, NIC {} per GPU, scale-up {} per GPU "
                           "per direction\n",
                           c.gpus, c.chip.display_name, c.chip.id, c.nodes(), c.nodes() == 1 ? "" : "s", c.gpus_per_node, hosts_text(c), to_string(c.fabric),
                           format_bandwidth(c.nic_bandwidth), format_bandwidth(c.chip.scale_up_bandwidth));
        print_node_note(c, out);
        out << fmt::format("layout    tensor {} × context {} × pipeline {} × data {} = {} GPUs; expert {}{}; zero {}; "
                           "{} schedule{}; recompute {}\n",
                           p.tensor, p.context, p.pipeline, p.data, p.total_ranks(), p.expert,
                           p.folds_experts() ? fmt::format(" × expert tensor {} (MoE parallel folding: {} expert-data ranks)",
                                                           p.expert_tensor_degree(), p.expert_data_ranks())
                                             : std::string(),
                           p.zero_stage,
                           describe_schedule(p),
                           p.virtual_stages > 1 ? fmt::format(" ({} virtual stages)", p.virtual_stages) : "",
                           describe_recompute(p));
        if (const std::string cp = describe_context_parallel(p); !cp.empty()) out << fmt::format("          context parallel: {}\n", cp);
        if (const std::string dp = describe_data_parallel(p); !dp.empty()) out << fmt::format("          data parallel: {}\n", dp);
        if (const std::string ep = describe_expert_dispatch(p, s.model.moe.has_value());
            !ep.empty()) {
            out << fmt::format("          expert parallel: {}\n", ep);
        }
        const auto stages = assign_stages(s.model, p);
        std::vector<std::size_t> sizes;
        for (const auto& st : stages) sizes.push_back(st.layers.size());
        const auto [lo, hi] = std::minmax_element(sizes.begin(), sizes.end());
        if (*lo == *hi) {
            out << fmt::format("stages    {} layers on each of {} pipeline ranks", *lo, stages.size());
        } else {
            out << fmt::format("stages    uneven: {} to {} layers per pipeline rank", *lo, *hi);
        }
        if (*lo != *hi || p.virtual_stages > 1) {
            // Interleaved ranks hold several chunks: name the rank before its runs, so that ranges do not read as one.
            out << (p.virtual_stages > 1 ? ":" : " (");
            for (std::size_t i = 0; i < stages.size(); ++i) {
                if (p.virtual_stages > 1) out << fmt::format("{} rank {}: {}", i ? ";" : "", i, layers_text(stages[i]));
                else out << (i ? ", " : "") << layers_text(stages[i]);
            }
            out << (p.virtual_stages > 1 ? "" : ")");
        }
        out << "\n";
        if (p.schedule == Schedule::dualpipe) {
            out << "          DualPipe: rank r also holds the layers of rank p−1−r (two copies of the parameters) and "
                   "runs micro-batches from both ends\n";
        }
        if (p.combined_1f1b) {
            out << "          combined 1F1B: each steady-state round runs one micro-batch's forward beside another's "
                   "backward, their expert all-to-alls overlapping the other's compute\n";
        }
        if (p.moe_shared_expert_overlap) {
            out << "          shared-expert overlap: each MoE layer's shared experts run beside its dispatch and combine "
                   "all-to-alls (fc1 and the activation beside the dispatch, fc2 beside the combine; backward likewise)\n";
        }
        if (p.tp_comm_overlap) {
            out << fmt::format("          TP communication overlap: sequence parallelism's all-gathers and reduce-scatters run in "
                               "chunks beside their GEMMs ({} SMs taken from the GEMMs they run beside)\n",
                               p.tp_comm_overlap_sms);
        }
        const int micro = t.global_batch / (p.data * p.micro_batch);
        const std::size_t simulated = static_cast<std::size_t>(
            std::count_if(s.phases.begin(), s.phases.end(), [](const PhaseSpec& ph) { return !ph.quoted_gpu_hours; }));
        out << fmt::format("training  {} tokens, sequence {}, global batch {} ({} micro-batches of {} per replica), "
                           "{} compute; {} steps{}\n",
                           format_count(t.tokens), t.sequence_length, t.global_batch, micro, p.micro_batch,
                           describe_compute_precision(t.precision), report::with_commas(planned_steps(s, true)),
                           simulated > 1 ? fmt::format(" over its {} simulated phases (batch ramps included)", simulated) : "");
        out << fmt::format("kernels   {}{}\n", describe_launches(c.chip, t.cuda_graphs),
                           describe_gradient_accumulation(t.gradient_accumulation, t.precision, "; "));
        if (c.power_cap) out << fmt::format("power     {}\n", c.describe_power_cap());
        if (s.reliability.from == "none") {
            out << "reliability none: no failures, restarts or run overheads modelled\n";
        } else {
            out << fmt::format("reliability {} (scenarios/reliability/): {} failure classes, {} per restart at {} GPUs\n",
                               s.reliability.from, s.reliability.failures.size(), format_duration(restart_time_of(s)), c.gpus);
        }
        out << fmt::format("memory    {} of {} per GPU at the worst pipeline rank ({}): {}\n",
                           format_bytes(fit.breakdown.total()), format_bytes(fit.capacity), fit.breakdown.stage,
                           fit.fits ? "fits" : "DOES NOT FIT");
        out << fmt::format("          {}\n", c.chip.memory_basis());
        for (const auto& claim : s.claims) out << fmt::format("claim     \"{}\"\n", claim.text);
    }
    return 0;
}

}  // namespace

int cmd_check(const Args& args, std::ostream& out) { return check_command(args, out); }
std::string mistake_json(const Error& e) { return invalid_json(e); }

WholeBytes whole_bytes(const ChipProfile& chip) {
    WholeBytes b;
    b.device = static_cast<std::int64_t>(std::llround(chip.memory_device.value()));
    b.reserve = static_cast<std::int64_t>(std::llround(chip.memory_reserve.value()));
    b.usable = b.device - b.reserve;
    return b;
}

void require_price_for_same_price(const ParsedArgs& args, const Scenario& s) {
    if (!args.has("--same-price") || s.pricing.gpu_hour || first_priced_phase(s) != nullptr) return;
    // The rental prices the scenario writes ([pricing] gpu_hour, a phase's own) are kept for every chip (whatif.cpp,
    // price_variant); an ownership scenario's rung 1 follows each chip's catalog whatever the flag says.
    throw Error("--same-price keeps the scenario's rental price per GPU-hour for every chip, and this scenario has none "
                "([pricing] gpu_hour)",
                s.pricing.ownership ? "an ownership scenario's cost stays on its own basis for every chip; leave --same-price out"
                                    : "add [pricing] gpu_hour = \"$2\" to the scenario, or leave --same-price out");
}

PageOrJson page_or_json_output(const ParsedArgs& args) {
    PageOrJson o;
    if (!args.has("-o") && !args.has("--output")) return o;
    o.flag = args.has("-o") ? "-o" : "--output";
    o.path = args.get(o.flag);
    report::check_output_path(o.path, o.flag);  // an empty name is refused here, not taken for "no file"
    if (args.has("--json")) {  // the file's extension chooses its format; --json would be silently dropped
        throw Error(fmt::format("--json prints to stdout, and {} {} writes a file: give one of them", o.flag, o.path),
                    fmt::format("for the data in a file name it .json ({} result.json); for it on stdout leave {} out", o.flag, o.flag));
    }
    const std::string ext = lowercase_extension(o.path);  // x.HTML too
    if (ext == ".html" || ext == ".htm") o.html = true;
    else if (ext != ".json") {
        throw Error(fmt::format("{} {}: cannot tell the format from the extension", o.flag, o.path),
                    "name the file .html (a page) or .json");
    }
    return o;
}

}  // namespace gpuhours::cli
