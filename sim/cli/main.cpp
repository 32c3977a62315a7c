// The composition root of the command-line front end: parses the command, runs it, and turns user errors into
// exit code 2. Output of a command is buffered and printed only when the command succeeds, so a failing command
// never leaves half a table on stdout. In the MPI build every rank runs the command and only rank 0 prints.
#include "commands.hpp"
#include "distributed.hpp"
#include "help.hpp"

#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/units/units.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kHelp = R"(gpuhours — how long, how many GPU-hours and how many dollars a training run takes

usage: gpuhours COMMAND [arguments] [options]

commands:
  run SCENARIO          simulate one training step (step time, breakdown, MFU, memory) and the run's length;
                        --mode symmetric|full, --network flow|alpha-beta, --trace step.json, --json
  whatif SCENARIO       the run on other chips: --chips h100,h800,h20, or --rule oct-2023 (the chips it permits,
                        after the scenario's own as the reference);
                        --deadline "2 months" finds each chip's GPU count; each chip at its catalog price
                        (--same-price: the scenario's for all); --set cluster.chip.… for hypothetical
                        chips; days, GPU-hours, cost, energy, what limits each, claim verdicts; --json
  validate              every scenario in scenarios/validation/ against its paper: predicted, reported, error,
                        mean absolute percentage error; --dir DIR, --json
  report SCENARIO -o FILE
                        the run as one self-contained HTML page (verdicts, summary, step timeline, time,
                        cost and memory charts); -o is required; --samples, --seed, --mode, --network as for run
  check SCENARIO        validate a scenario and print it resolved (catalogs, derived degrees, stages, memory fit)
  model NAME|SCENARIO   parameters (total, active), training FLOPs per token, memory per GPU with breakdown
  chips                 the chip catalog as a table; --rule NAME classifies each chip under an export-control
                        rule set (scenarios/policy/: oct-2022, oct-2023, dec-2024-hbm, apr-2025-h20, jan-2026, …)
  collective OP         simulate one collective (all-reduce, reduce-scatter, all-gather, all-to-all, broadcast,
                        send-recv) over a cluster, like nccl-tests: time, algorithm and bus bandwidth per size
  plan SCENARIO         search tensor, context, pipeline, data and expert degrees, micro-batch, recompute,
                        schedule and virtual stages for the fastest layouts that fit (docs/plan.md);
                        --top N (default 5), --fix AXIS=V1,V2 (e.g. tensor=8, schedule=1f1b,interleaved),
                        --threads N, --prune (skip candidates by bound), --json
  sweep SCENARIO        evaluate the scenario at every point of a grid or a random sample, on all cores:
                        --vary KEY=V1,V2,… | KEY=START:STOP:STEP | KEY=START:STOP:*FACTOR | KEY=LOW~HIGH (with
                        --random N); -o FILE.csv|FILE.json (else a table), --resume an interrupted sweep,
                        --threads N; --derive parallelism.data re-plans each cluster.gpus, --zip pairs the
                        axes; under `mpirun -np N` (MPI build) the points are split across ranks.
                        See docs/sweep.md
  compare A.toml B.toml …
                        scenarios side by side: the inputs that differ, key by key, and days, GPU-hours, cost,
                        energy, MFU and what limits each; --set B:KEY=VALUE changes one scenario only;
                        --json, -o FILE.html|FILE.json
  capacity SCENARIO     what a cluster trains by a deadline: --gpus N --deadline "2 months" [--budget $X]
                        [--chips b200,h100]: the most tokens of the scenario's model on each chip; --family
                        llama-dense: the largest model of a family trained to 20 tokens per parameter
  help [COMMAND]        this text, or COMMAND's usage with every option (also `gpuhours COMMAND --help`)

common options:
  --json                machine-readable output (field names carry units; schema_version 4)
  --set KEY=VALUE       override a scenario key, e.g. --set cluster.gpus=4096 --set cluster.chip=h100
  --catalog DIR         directory with chips/ and models/ (default: the scenarios/ next to the scenario file,
                        else the shipped catalog, DATA/scenarios)

  gpuhours --data-dir   prints DATA, where the shipped scenarios (scenarios/: catalogs, the flagship,
                        validation/) and the notebooks' Python helper (python/) are: PREFIX/share/gpuhours for
                        an installed gpuhours, else the source tree it was built from
  gpuhours --version    prints the version

exit codes: 0 success, 2 a mistake in the input (the message names file:line:column and what to change),
            1 an internal error.
)";

// Writes `text` to stdout (on the root rank) and returns `code`; 2, with a message, when it cannot be written (a full
// disk, a closed pipe): the output is what was asked for, help and --version included, and lost is a failure.
int emit(const std::string& text, int code, bool root) {
    if (!root) return code;
    std::cout << text;
    std::cout.flush();
    if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::cerr << "gpuhours: error: cannot write the output to stdout: " << std::strerror(errno) << "\n"
                  << "  check where stdout goes (a full disk or a closed pipe), or write a file with -o where the command has it\n";
        return 2;
    }
    return code;
}

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF). Names
// and values from the command line end up in JSON, CSV and HTML, which must stay valid.
bool valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
        const unsigned char c = byte(i);
        std::size_t n = 0;
        unsigned min = 0;
        unsigned code = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            min = 0x80;
            code = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            min = 0x800;
            code = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            min = 0x10000;
            code = c & 0x07u;
        } else {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= text.size() || (byte(i + k) & 0xC0u) != 0x80u) return false;
            code = (code << 6) | (byte(i + k) & 0x3Fu);
        }
        if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    // glibc hands blocks above its mmap threshold (128 KiB, raised to at most 32 MiB as they are freed) back to the
    // kernel, and trims a heap's free top past twice that: every step simulation then page-faults its task tables
    // afresh (27K page faults and about a sixth of `run`'s CPU on the flagship, `perf stat -e page-faults`). Kept
    // in the heap up to these bounds, they are reused from step to step (16K page faults). Outputs are unchanged.
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    // A closed pipe on stdout (`gpuhours run … | true`) is a write error like a full disk: exit 2 with a message from
    // emit(), not death by SIGPIPE (exit 141, which a script cannot tell from a crash; issue #12 asks 2 for a lost
    // output). The process starts no other program, so nothing inherits the ignored signal.
    std::signal(SIGPIPE, SIG_IGN);
    const gpuhours::cli::distributed::Session session(argc, argv);
    const bool root = gpuhours::cli::distributed::rank() == 0;
    std::vector<std::string> args(argv + 1, argv + argc);
    // `gpuhours help COMMAND`, `gpuhours COMMAND --help` and `-h`: that command's own help (help.cpp).
    if (args.size() >= 2 && (args[0] == "help" || gpuhours::cli::asks_for_help({args.begin() + 1, args.end()}))) {
        const std::string& name = args[0] == "help" ? args[1] : args[0];
        if (name == "help" || name == "--help" || name == "-h") {  // help on `help` itself: the global text says how
            return emit(kHelp, 0, root);
        }
        if (const gpuhours::cli::CommandHelp* c = gpuhours::cli::command_help(name)) return emit(gpuhours::cli::render_help(*c), 0, root);
        if (args[0] == "help") {
            if (root) std::cerr << fmt::format("gpuhours: error: no command `{}`\n  commands: {}\n", name, fmt::join(gpuhours::cli::command_names(), ", "));
            return 2;
        }
    }
    // `gpuhours --help run`: as `gpuhours help run`.
    if (args.size() >= 2 && (args[0] == "--help" || args[0] == "-h")) {
        if (const gpuhours::cli::CommandHelp* c = gpuhours::cli::command_help(args[1])) return emit(gpuhours::cli::render_help(*c), 0, root);
    }
    if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") return emit(kHelp, 0, root);
    if ((args[0] == "--version" || args[0] == "--data-dir") && args.size() > 1) {
        if (root) std::cerr << fmt::format("gpuhours: error: {} takes no arguments, got {}\n  run gpuhours {} alone\n", args[0], args.size() - 1, args[0]);
        return 2;
    }
    if (args[0] == "--version") return emit("gpuhours 0.1.0\n", 0, root);
    // One line, the path alone, for scripts and the notebooks' first cell (python/gpuhours/__init__.py).
    if (args[0] == "--data-dir") return emit(gpuhours::data_dir().string() + "\n", 0, root);
    const std::string command = args[0];
    args.erase(args.begin());
    std::ostringstream out;
    try {
        // The command's own arguments (the command name is checked with the others before it is named anywhere).
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (!valid_utf8(args[i])) {
                throw gpuhours::Error(fmt::format("argument {} of the command line is not valid UTF-8 text", i + 2),
                                      "write names, values and paths in UTF-8");
            }
        }
        if (!valid_utf8(command)) throw gpuhours::Error("the command name is not valid UTF-8 text", "name a command: gpuhours help");
        int code = 0;
        if (command == "check") code = gpuhours::cli::cmd_check(args, out);
        else if (command == "model") code = gpuhours::cli::cmd_model(args, out);
        else if (command == "chips") code = gpuhours::cli::cmd_chips(args, out);
        else if (command == "run") code = gpuhours::cli::cmd_run(args, out);
        else if (command == "collective") code = gpuhours::cli::cmd_collective(args, out);
        else if (command == "whatif") code = gpuhours::cli::cmd_whatif(args, out);
        else if (command == "validate") code = gpuhours::cli::cmd_validate(args, out);
        else if (command == "report") code = gpuhours::cli::cmd_report(args, out);
        else if (command == "plan") code = gpuhours::cli::cmd_plan(args, out);
        else if (command == "sweep") code = gpuhours::cli::cmd_sweep(args, out);
        else if (command == "compare") code = gpuhours::cli::cmd_compare(args, out);
        else if (command == "capacity") code = gpuhours::cli::cmd_capacity(args, out);
        else {
            const std::vector<std::string> known_commands = gpuhours::cli::command_names();
            std::string hint = fmt::format("commands: {}", fmt::join(known_commands, ", "));
            for (const std::string& known : known_commands) {
                if (gpuhours::edit_distance(command, known) <= 2) hint = fmt::format("did you mean `{}`? ({})", known, hint);
            }
            throw gpuhours::Error(fmt::format("unknown command `{}`", command), hint);
        }
        return emit(out.str(), code, root);
    } catch (const gpuhours::Error& e) {
        // A command that takes --json and was asked for it writes the mistake as JSON on stdout too, so that a
        // notebook parsing stdout reads "valid": false and where (check --json does the same for a scenario).
        const gpuhours::cli::CommandHelp* help = gpuhours::cli::command_help(command);
        const bool takes_json = help != nullptr && std::any_of(help->options.begin(), help->options.end(),
                                                               [](const auto& o) { return o.name == "--json"; });
        if (root) std::cerr << "gpuhours: " << e.what() << "\n";
        const auto end = gpuhours::cli::options_end(args);  // what follows "--" is positional
        if (root && takes_json && std::find(args.cbegin(), end, "--json") != end) {
            (void)emit(gpuhours::cli::mistake_json(e), 2, root);
        }
        return 2;
    } catch (const gpuhours::UnitError& e) {
        // A unit string the command did not catch and locate itself: still the user's input, so exit 2.
        if (root) std::cerr << "gpuhours: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "gpuhours: internal error: " << e.what() << "\n";
        return 1;
    }
}
