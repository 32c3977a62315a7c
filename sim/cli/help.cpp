// Every command's usage and options, in one table: the parser reads its accepted options from it
// (parse_command_args), and `gpuhours COMMAND --help` prints it, so the help cannot miss an option the command takes.
#include "help.hpp"

#include <gpuhours/units/error.hpp>
#include <gpuhours/units/input_files.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace gpuhours::cli {
namespace {

const OptionHelp kJson{"--json", "", "machine-readable output (field names carry units; schema_version 4)"};
const OptionHelp kSet{"--set", "KEY=VALUE", "override a scenario key; repeatable (e.g. --set cluster.chip=h100)"};
const OptionHelp kCatalog{"--catalog", "DIR", "directory with chips/ and models/ (default: the scenarios/ next to the scenario, else the shipped one: `gpuhours --data-dir`/scenarios)"};
const OptionHelp kMode{"--mode", "MODE", "symmetric (default: one rank per pipeline stage) or full (every rank)"};
const OptionHelp kNetwork{"--network", "MODEL", "flow (default: max-min sharing of links) or alpha-beta (latency + bytes / slowest link; flows sharing a GPU port or NIC are serialized, and a phase lasts at least its most loaded link's bytes / rate)"};
const OptionHelp kSamples{"--samples", "N", "Monte Carlo samples (default 200 when anything is uncertain, else 1; at most 100,000)"};
const OptionHelp kSeed{"--seed", "N", "random seed (default 1); the same seed gives the same output"};
const OptionHelp kQuiet{"--quiet", "", "no progress bar on stderr"};

std::vector<CommandHelp> make_table() {
    return {
        {"run", "gpuhours run SCENARIO [options]",
         "simulate one training step (time, breakdown, MFU, memory) and the whole run (days, GPU-hours, cost, claims)",
         {kJson, {"--csv", "", "the phase table as CSV"}, {"--stages", "", "a breakdown per pipeline stage"}, kQuiet, kSet,
          kCatalog, kMode, kNetwork, {"--trace", "FILE", "write the step's timeline as a Chrome/Perfetto trace (JSON)"},
          kSamples, kSeed},
         "gpuhours run scenarios/deepseek-v3.toml --set 'pricing.gpu_hour=$2.5' --samples 1000"},
        {"whatif", "gpuhours whatif SCENARIO [options]",
         "the run on other chips, or on every chip an export-control rule permits (docs/whatif.md)",
         {kJson, kQuiet, {"--same-price", "", "keep the scenario's GPU-hour price for every chip (default: each chip's catalog price)"},
          kSet, kCatalog, {"--chips", "ID,ID,…", "catalog chips to compare (default: the scenario's [whatif] chips)"},
          {"--rule", "RULE", "an export-control rule set (scenarios/policy/): the chips it permits, or classify --chips (default: the scenario's [whatif] rule, if any)"},
          {"--deadline", "DURATION", "find the GPUs each chip needs to finish within it, e.g. \"2 months\" (default: the scenario's [whatif] deadline, if any)"},
          {"--max-gpus", "N", "the deadline search's limit (default 131072)"},
          {"--max-batch-tokens", "N", "the deadline search: largest global batch in tokens a phase may grow to, e.g. 84M (default: its own)"},
          kMode, kNetwork,
          {"--samples", "N", "Monte Carlo samples per chip (default 100)"}, kSeed},
         "gpuhours whatif scenarios/deepseek-v3.toml --chips h800,h100,h20 --deadline \"2 months\""},
        {"report", "gpuhours report SCENARIO -o FILE [options]",
         "the run as one self-contained HTML page (verdicts, summary, step timeline, cost and memory charts)",
         {kQuiet, {"-o", "FILE", "the HTML file to write (required; written whole or not at all)"},
          {"--output", "FILE", "the same as -o"}, kSet, kCatalog, kMode, kNetwork, kSamples, kSeed,
          {"--chips", "ID,ID,…", "add a chip comparison (as whatif --chips; default: the scenario's [whatif] chips)"},
          {"--rule", "RULE", "add a comparison over the chips a rule permits (as whatif --rule; default: the scenario's [whatif] rule, if any)"},
          {"--deadline", "DURATION", "add each chip's GPU count for the deadline (as whatif --deadline; default: the scenario's [whatif] deadline, if any)"},
          {"--max-gpus", "N", "the deadline search's limit (default 131072)"},
          {"--max-batch-tokens", "N", "as whatif --max-batch-tokens (and capacity's, with --capacity)"},
          {"--capacity", "", "add what the cluster trains by the deadline (as gpuhours capacity; its flags below)"},
          {"--gpus", "N", "with --capacity: GPUs available (default: the scenario's)"},
          {"--budget", "DOLLARS", "with --capacity: cost to stay within"},
          {"--same-price", "", "the scenario's GPU-hour price for every chip (the chip comparison and --capacity)"},
          {"--family", "NAME", "with --capacity: the largest rung of a model family (llama-dense, deepseek-moe)"},
          {"--tokens-per-parameter", "R", "with --capacity --family: each rung's token target per parameter (default 20)"},
          {"--tokens", "N", "with --capacity --family: one token target for every rung"}},
         "gpuhours report scenarios/deepseek-v3.toml -o report.html"},
        {"plan", "gpuhours plan SCENARIO [options]",
         "search tensor, context, pipeline, data and expert degrees, micro-batch, recompute, schedule and virtual stages "
         "for the fastest layouts that fit (docs/plan.md)",
         {kJson, {"--prune", "", "skip candidates whose lower bound exceeds the N-th best time so far: the top N stays exact, "
                                 "other ranks become bounds (faster on large searches)"},
          {"--exhaustive", "", "simulate every candidate that passes the rules and fits (the default; kept for scripts)"},
          kQuiet, kSet, kCatalog,
          {"--top", "N", "layouts to list (default 5)"}, {"--threads", "N", "worker threads (default: every core)"},
          {"--fix", "AXIS=V1,V2", "restrict one axis, e.g. tensor=8 or schedule=1f1b,interleaved; repeatable"}},
         "gpuhours plan scenarios/validation/megatron-1.7b.toml --top 3"},
        {"sweep", "gpuhours sweep SCENARIO --vary KEY=VALUES [options]",
         "evaluate the scenario at every point of a grid or a random sample, on all cores (docs/sweep.md)",
         {{"--resume", "", "continue an interrupted sweep into the same -o file"}, kQuiet,
          {"--vary", "KEY=VALUES", "V1,V2,… | START:STOP:STEP | START:STOP:*FACTOR | LOW~HIGH (with --random); repeatable"},
          {"--random", "N", "N random points instead of the grid"},
          {"--zip", "", "vary the --vary axes together (point i takes each axis's i-th value) instead of as a grid"},
          {"--derive", "KEY", "parallelism.data: re-plan every phase's data degree (and batches, fabric) from each point's cluster.gpus"},
          {"--max-batch-tokens", "N", "with --derive: largest global batch in tokens a phase may grow to, e.g. 84M (default: its own)"},
          {"-o", "FILE", "write FILE.csv or FILE.json (default: a table on stdout)"}, {"--output", "FILE", "the same as -o"},
          {"--format", "FORMAT", "csv, json, or table (stdout only; the default without -o); with -o: from its extension"},
          {"--threads", "N", "worker threads (default: every core)"}, kSet, kCatalog, kMode, kNetwork, kSamples, kSeed},
         "gpuhours sweep scenarios/deepseek-v3.toml --vary cluster.gpus=2048,4096,6144 --derive parallelism.data"},
        {"compare", "gpuhours compare A.toml B.toml [C.toml …] [options]",
         "scenarios side by side: the inputs that differ, key by key, and days, GPU-hours, cost, energy, MFU and what "
         "limits each",
         {kJson, kQuiet, {"--set", "[X:]KEY=VALUE", "override a key in every scenario, or with X: (A, B, …, in the order given) in that one only; repeatable"},
          kCatalog, kMode, kNetwork, kSamples, kSeed,
          {"-o", "FILE", "write FILE.html (a page with charts) or FILE.json, whole or not at all"},
          {"--output", "FILE", "the same as -o"}},
         "gpuhours compare scenarios/deepseek-v3.toml scenarios/deepseek-v3.toml --set 'B:pricing.gpu_hour=$3'"},
        {"capacity", "gpuhours capacity SCENARIO [--gpus N] [--deadline DURATION] [options]",
         "what a cluster trains by a deadline: the most tokens of the scenario's model on each chip, and with --family "
         "the largest model of a family trained to a token target (docs/capacity.md)",
         {kJson, kQuiet, kSet, kCatalog, kMode, kNetwork,
          {"--samples", "N", "Monte Carlo samples per run (default 50)"}, kSeed,
          {"--gpus", "N", "GPUs available (default: the scenario's); the largest count the layout reaches within them is used"},
          {"--deadline", "DURATION", "median wall clock to finish within, e.g. \"2 months\" (default: the scenario's [whatif] deadline)"},
          {"--budget", "DOLLARS", "median cost to stay within (as the deadline, over the Monte Carlo samples), e.g. '$500M' (default: none)"},
          {"--chips", "ID,ID,…", "catalog chips (default: the scenario's [whatif] chips, else its own)"},
          {"--same-price", "", "keep the scenario's GPU-hour price for every chip (default: each chip's catalog price)"},
          {"--max-batch-tokens", "N", "largest global batch in tokens a phase may grow to when re-planned (default: 1.25 × its own)"},
          {"--family", "NAME", "a model family (scenarios/families/: llama-dense, deepseek-moe): the largest rung trainable"},
          {"--tokens-per-parameter", "R", "with --family: each rung's token target per parameter (default 20, Chinchilla)"},
          {"--tokens", "N", "with --family: one token target for every rung instead, e.g. 15T"},
          {"-o", "FILE", "write FILE.html (a page with charts) or FILE.json, whole or not at all"},
          {"--output", "FILE", "the same as -o"}},
         "gpuhours capacity scenarios/project-atom.toml --gpus 10000 --deadline \"2 months\" --family llama-dense"},
        {"validate", "gpuhours validate [options]",
         "every scenario in scenarios/validation/ against its paper: predicted, reported, error, MAPE",
         {kJson, kQuiet, {"--dir", "DIR", "another directory of validation scenarios (default: scenarios/validation/ of the catalog)"}, kCatalog}, "gpuhours validate --json"},
        {"check", "gpuhours check SCENARIO [options]",
         "validate a scenario and print it resolved (catalogs, derived degrees, stages, memory fit)",
         {kJson, kQuiet, kSet, kCatalog}, "gpuhours check scenarios/deepseek-v3.toml"},
        {"model", "gpuhours model NAME|SCENARIO [options]",
         "parameters (total, active), training FLOPs per token, memory per GPU with its breakdown",
         {kJson, kQuiet, kSet, kCatalog, {"--sequence-length", "N", "tokens per sequence for the FLOPs (default: the scenario's, else 4096, or a learned position table's length when shorter)"}},
         "gpuhours model deepseek-v3"},
        {"chips", "gpuhours chips [options]",
         "the chip catalog: peaks, HBM, bandwidths per direction, TDP, die area, rental price",
         {kJson, kQuiet, {"--csv", "", "the catalog as data: one row per chip, figures in SI units (docs/schemas.md)"}, kCatalog,
          {"--rule", "RULE", "classify every chip under an export-control rule set (scenarios/policy/: oct-2022, oct-2023, dec-2024-hbm, "
                             "apr-2025-h20, jan-2026, hypothetical-nvlink-cap); "
                             "the table keeps to 120 columns, each chip's reasons under it"},
          {"--wide", "", "with --rule: every column (name, memory, domain, NIC, TDP, die area, price) and the reasons in one table"}},
         "gpuhours chips --rule oct-2023"},
        {"collective", "gpuhours collective OP --chip ID [options]",
         "simulate one collective (all-reduce, reduce-scatter, all-gather, all-to-all, broadcast, send-recv) over a "
         "cluster, like nccl-tests: time, algorithm and bus bandwidth per size",
         {kJson, kQuiet, {"--chip", "ID", "the catalog chip (required)"}, {"--gpus", "N", "GPUs in the collective (default 8; all-to-all at most 16,384)"},
          {"--gpus-per-node", "N", "GPUs per node (default: the chip's scale-up domain, at most --gpus)"},
          {"--sizes", "SIZES", "message sizes: a list (1MiB,1GiB) or a doubling range START:STOP (default 1MiB:8GiB)"},
          {"--algorithm", "NAME", "ring, tree, hierarchical, direct, node-forwarded (all-to-all as DeepEP routes it: RDMA to the same position on each node, relayed over NVLink) or auto (default: the fastest)"},
          {"--node-merge", "SHARE", "node-forwarded: the share of a token's copies to a node left when it is sent once there, in (0, 1] (default 1: every copy)"},
          {"--gpu-merge", "SHARE", "node-forwarded: the share of a token's copies to a GPU left when it is sent once there, in (0, 1] (default 1)"},
          {"--fabric", "NAME", "single-node, fat-tree, rail-optimized or multi-plane (default: fat-tree across nodes)"},
          kNetwork, kCatalog, {"--oversubscription", "RATIO", "leaf uplink oversubscription, e.g. 2:1 (default 1:1)"},
          {"--tiers", "N", "fat-tree tiers, 2 or 3 (default: 3 when two cannot hold the GPUs)"},
          {"--planes", "N", "planes of a multi-plane fabric (default: GPUs per node)"},
          {"--switch-radix", "N", "switch ports (default 64)"},
          {"--nic-bandwidth", "RATE", "NIC bandwidth per GPU per direction, e.g. \"400 Gb/s\" (default: the chip's)"}},
         "gpuhours collective all-reduce --chip h100 --gpus 1024 --sizes 1GiB"},
    };
}

}  // namespace

std::vector<std::string> command_names() {
    std::vector<std::string> names;
    for (const CommandHelp& c : all_command_help()) names.push_back(c.name);
    names.emplace_back("help");
    return names;
}

const std::vector<CommandHelp>& all_command_help() {
    static const std::vector<CommandHelp> table = make_table();
    return table;
}

const CommandHelp* command_help(std::string_view name) {
    const auto& table = all_command_help();
    const auto it = std::find_if(table.begin(), table.end(), [&](const CommandHelp& c) { return c.name == name; });
    return it == table.end() ? nullptr : &*it;
}

std::string render_help(const CommandHelp& c) {
    std::string out = fmt::format("usage: {}\n\n{}\n\noptions:\n", c.usage, c.summary);
    for (const OptionHelp& o : c.options) {
        const std::string left = o.value.empty() ? o.name : o.name + " " + o.value;
        out += fmt::format("  {:<24}{}{}\n", left, left.size() >= 24 ? "\n" + std::string(26, ' ') : "", o.text);
    }
    out += fmt::format("  {:<24}{}\n\nexample:\n  {}\n", "--help, -h", "this text", c.example);
    return out;
}

ParsedArgs parse_command_args(const Args& raw, std::string_view command) {
    const CommandHelp* c = command_help(command);
    if (c == nullptr) throw Error(fmt::format("no option table for command `{}`", command));
    std::vector<std::string> flags, valued;
    for (const OptionHelp& o : c->options) (o.value.empty() ? flags : valued).push_back(o.name);
    ParsedArgs parsed = parse_args(raw, flags, valued);
    // A positional argument that names a file is an input before it is read: an output option checked before any
    // work (run --trace, report -o, sweep -o) is then refused on it too (units/input_files.hpp).
    for (const std::string& p : parsed.positional) note_input_path(p);
    return parsed;
}

Args::const_iterator options_end(const Args& args) { return std::find(args.begin(), args.end(), "--"); }

bool asks_for_help(const Args& args) {
    // A file named "--help" after "--" is a file.
    return std::any_of(args.begin(), options_end(args), [](const std::string& a) { return a == "--help" || a == "-h"; });
}

}  // namespace gpuhours::cli
