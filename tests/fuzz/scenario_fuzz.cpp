// Scenario mutation fuzzer: the `gpuhours` command, run as a user would, on mutants of the shipped scenarios.
//
// Each mutant is a seed scenario (scenarios/*.toml, scenarios/validation/*.toml) with one to four edits — a value
// replaced by an extreme or mistyped one, a number scaled by powers of ten, a unit swapped, a key misspelt,
// dropped, duplicated or moved, a table header renamed, nested, duplicated or made an array, bytes flipped or
// the file cut short — or the seed unchanged with a `--set` override of one of its keys. Every mutant goes through
// `gpuhours check` and `gpuhours run --quiet --samples 1` in a child process limited in wall-clock time and memory
// (setrlimit), and each outcome is classified:
//   crash        killed by a signal (not by the time limit)
//   sanitizer    an AddressSanitizer / UndefinedBehaviorSanitizer / LeakSanitizer report on stderr
//   timeout      past --timeout seconds (or its CPU-time twin)
//   memory       a peak resident size past --memory-mb (measured even when no limit is set)
//   bad exit     an exit code other than 0 (done) and 2 (the user's mistake); 1 is an internal error
//   unlocated    exit 2 without a file:line:column or one of the command's --set arguments in the message
//   disagreement check and run disagree on validity
// The first five fail the run (exit 1); the last two are counted and printed, and fail it only with --strict. Each
// such mutant is written to --save DIR with the commands that reproduce it. Same --seed and --mutants give the same mutants: mutant i is drawn from a generator
// seeded by (seed, i) alone, so `--only i` replays one.
//
// Standard library and POSIX only: it tests the binary, not the library.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

// ---- options ----------------------------------------------------------------------------------------------

struct Options {
    std::string cli;                 // the gpuhours binary
    fs::path root = ".";             // the source tree: its scenarios/ is the catalog and the corpus
    std::vector<std::string> seeds;  // seed files relative to root; empty: every shipped scenario
    long mutants = 300;
    std::uint64_t seed = 12;
    std::optional<long> only;        // replay one mutant
    long from = 0;                   // the first mutant's index: mutants from .. from + mutants − 1 (a shard of a run)
    double timeout = 30.0;           // seconds per command
    long memory_mb = 2048;           // address-space limit per command; 0: none (ASan builds)
    int jobs = 2;                    // mutants in flight
    fs::path save;                   // where failing mutants go; empty: not kept
    bool strict = false;             // disagreements fail too
    bool verbose = false;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "scenario_fuzz: " << why << "\n"
              << "usage: scenario_fuzz --cli GPUHOURS [--root DIR] [--mutants N] [--from I] [--seed S] [--only I]\n"
                 "                     [--timeout S] [--memory-mb M] [--jobs J] [--save DIR] [--strict] [--verbose] [SEED.toml …]\n";
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        try {
            if (a == "--cli") o.cli = value();
            else if (a == "--root") o.root = value();
            else if (a == "--mutants") o.mutants = std::stol(value());
            else if (a == "--seed") o.seed = std::stoull(value());
            else if (a == "--only") o.only = std::stol(value());
            else if (a == "--from") o.from = std::max(0L, std::stol(value()));
            else if (a == "--timeout") o.timeout = std::stod(value());
            else if (a == "--memory-mb") o.memory_mb = std::stol(value());
            else if (a == "--jobs") o.jobs = std::max(1, std::stoi(value()));
            else if (a == "--save") o.save = value();
            else if (a == "--strict") o.strict = true;
            else if (a == "--verbose") o.verbose = true;
            else if (a.starts_with("--")) usage("unknown option " + a);
            else o.seeds.push_back(a);
        } catch (const std::exception&) {
            usage("bad value for " + a);
        }
    }
    if (o.cli.empty()) usage("--cli is required");
    return o;
}

// ---- the corpus -------------------------------------------------------------------------------------------

struct Seed {
    std::string rel;   // path under root, e.g. scenarios/validation/megatron-7.5b.toml
    std::string text;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<Seed> load_seeds(const Options& o) {
    std::vector<std::string> rels = o.seeds;
    if (rels.empty()) {
        for (const char* dir : {"scenarios", "scenarios/validation"}) {
            for (const auto& e : fs::directory_iterator(o.root / dir)) {
                if (e.is_regular_file() && e.path().extension() == ".toml") {
                    rels.push_back(fs::relative(e.path(), o.root).generic_string());
                }
            }
        }
    }
    std::sort(rels.begin(), rels.end());  // directory order is not deterministic
    std::vector<Seed> out;
    for (const auto& rel : rels) out.push_back({rel, slurp(o.root / rel)});
    if (out.empty()) usage("no seed scenarios found");
    return out;
}

// ---- mutations --------------------------------------------------------------------------------------------

using Rng = std::mt19937_64;

std::size_t pick(Rng& rng, std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); }
template <class T, std::size_t N>
const T& pick(Rng& rng, const std::array<T, N>& a) { return a[pick(rng, N)]; }

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = text.find('\n', start);
        if (end == std::string::npos) {
            if (start < text.size()) lines.push_back(text.substr(start));
            break;
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

// A `key = value` line: where the value starts, and the dotted path of the key under its table.
struct Assignment {
    std::size_t line = 0;
    std::size_t value_at = 0;
    std::string path;
};

std::vector<Assignment> assignments(const std::vector<std::string>& lines) {
    static const std::regex header(R"(^\s*\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]\]?)");
    static const std::regex assign(R"(^\s*([A-Za-z0-9_.\-]+)\s*=\s*)");
    std::vector<Assignment> out;
    std::string table;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::smatch m;
        if (std::regex_search(lines[i], m, header)) {
            table = m[1];
        } else if (std::regex_search(lines[i], m, assign)) {
            out.push_back({i, static_cast<std::size_t>(m.length(0)), table.empty() ? m[1].str() : table + "." + m[1].str()});
        }
    }
    return out;
}

constexpr std::array<std::string_view, 24> kExtremeValues{
    "0", "-1", "1e-300", "1e300", "2147483647", "2147483648", "9223372036854775807", "-9223372036854775808",
    "0.5", "-0.0", "nan", "inf", "-inf", "1.5", "3", "1000000", "\"\"", "\"x\"", "true", "{}", "[]", "[1, 2]",
    "{ value = 1 }", "\"1e-30 TFLOPS\""};
constexpr std::array<std::string_view, 22> kUnits{
    "TFLOPS", "PFLOPS", "FLOPS", "GB/s", "Gb/s", "TB/s", "B/s", "us", "ns", "ms", "s", "h", "days", "months",
    "years", "W", "kW", "GB", "PB", "GiB", "T", "furlongs"};
constexpr std::array<std::string_view, 12> kNumbers{
    "0", "-1", "1e-30", "1e30", "0.000001", "999999999999", "1e308", "nan", "1.5", "-0", "4.2e-7", "12345678"};

// The line of assignment `a` (its value runs to the end of the line; a trailing comment goes with it).
std::string& value_line(std::vector<std::string>& lines, const Assignment& a) { return lines[a.line]; }

void replace_value(std::vector<std::string>& lines, const Assignment& a, std::string_view v) {
    value_line(lines, a) = lines[a.line].substr(0, a.value_at) + std::string(v);
}

// Multiplies the first number of the line's value by 10^k.
void scale_number(std::vector<std::string>& lines, const Assignment& a, Rng& rng) {
    std::string& l = value_line(lines, a);
    static const std::regex number(R"([-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)");
    std::smatch m;
    const std::string tail = l.substr(a.value_at);
    if (!std::regex_search(tail, m, number)) return;
    const int k = static_cast<int>(pick(rng, 37)) - 18;
    const std::string scaled = m.str() + "e" + std::to_string(k);
    // A number with an exponent already gets the new one appended as a factor string would not parse; replace it.
    const std::string repl = m[2].matched ? "1e" + std::to_string(k) : scaled;
    l = l.substr(0, a.value_at) + m.prefix().str() + repl + m.suffix().str();
}

// Multiplies the first number of the line's value by a small factor (an integer stays an integer): mostly a
// scenario that still loads, so the simulator itself is exercised — other degrees, sizes, batches, rates.
void nudge_number(std::vector<std::string>& lines, const Assignment& a, Rng& rng) {
    std::string& l = value_line(lines, a);
    static const std::regex number(R"([0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
    static constexpr std::array<double, 10> kFactors{0.5, 2.0, 3.0, 1.5, 10.0, 0.1, 4.0, 16.0, 0.125, 0.25};
    std::smatch m;
    const std::string tail = l.substr(a.value_at);
    if (!std::regex_search(tail, m, number)) return;
    const double v = std::strtod(m.str().c_str(), nullptr) * pick(rng, kFactors);
    std::ostringstream text;
    if (!m[1].matched && !m[2].matched) text << static_cast<long long>(std::max(1.0, std::round(v)));
    else text << v;
    l = l.substr(0, a.value_at) + m.prefix().str() + text.str() + m.suffix().str();
}

// Swaps the unit in a quoted "number unit" value, or replaces its number.
void mutate_unit(std::vector<std::string>& lines, const Assignment& a, Rng& rng) {
    std::string& l = value_line(lines, a);
    static const std::regex quoted(R"re("\s*([-+0-9.eE]+)\s*([^"]*)")re");
    std::smatch m;
    const std::string tail = l.substr(a.value_at);
    if (!std::regex_search(tail, m, quoted)) return;
    std::string number = m[1];
    std::string unit = m[2];
    if (rng() % 2 == 0) unit = std::string(pick(rng, kUnits));
    else number = std::string(pick(rng, kNumbers));
    l = l.substr(0, a.value_at) + m.prefix().str() + "\"" + number + (rng() % 4 == 0 ? "" : " ") + unit + "\"" +
        m.suffix().str();
}

void misspell_key(std::vector<std::string>& lines, const Assignment& a, Rng& rng) {
    std::string& l = value_line(lines, a);
    const std::size_t start = l.find_first_not_of(" \t");
    const std::size_t end = l.find_first_of(" =", start);
    if (start == std::string::npos || end == std::string::npos || end <= start) return;
    const std::size_t at = start + pick(rng, end - start);
    switch (pick(rng, 4)) {
        case 0: l.erase(at, 1); break;
        case 1: l.insert(at, 1, l[at]); break;
        case 2: l.insert(at, "."); break;   // a dotted key: a new nesting level
        default: l[at] = static_cast<char>('a' + pick(rng, 26)); break;
    }
}

void mutate_header(std::vector<std::string>& lines, Rng& rng) {
    std::vector<std::size_t> headers;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].find('[') == lines[i].find_first_not_of(" \t") && lines[i].find('[') != std::string::npos) {
            headers.push_back(i);
        }
    }
    if (headers.empty()) return;
    const std::size_t i = headers[pick(rng, headers.size())];
    std::string& l = lines[i];
    switch (pick(rng, 5)) {
        case 0: lines.erase(lines.begin() + static_cast<long>(i)); break;                       // drop the header
        case 1: lines.insert(lines.begin() + static_cast<long>(pick(rng, lines.size())), l); break;  // duplicate
        case 2: if (l.find("[[") == std::string::npos) l = "[" + l + "]"; else l = l.substr(1, l.size() - 2); break;
        case 3: { const std::size_t close = l.find(']'); if (close != std::string::npos) l.insert(close, ".extra"); break; }
        default: { const std::size_t open = l.find('[') + 1; if (open < l.size()) l.insert(open, "x"); break; }
    }
}

void mutate_bytes(std::string& text, Rng& rng) {
    static constexpr std::string_view kAlphabet = "[]{}=.,\"'#\n 0123456789-+eE_abxyzGTMBs/\\\xff";
    switch (pick(rng, 3)) {
        case 0: text.resize(pick(rng, text.size())); break;
        case 1: if (!text.empty()) text[pick(rng, text.size())] = kAlphabet[pick(rng, kAlphabet.size())]; break;
        default: if (!text.empty()) text.erase(pick(rng, text.size()), 1 + pick(rng, 16)); break;
    }
}

struct Mutant {
    std::size_t seed = 0;          // index into the corpus
    std::string text;              // the scenario file
    std::vector<std::string> set;  // --set overrides, given to both commands
    std::string what;              // the edits, for the report
};

Mutant make_mutant(const std::vector<Seed>& corpus, std::uint64_t seed, long index) {
    Rng rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(index));
    Mutant m;
    m.seed = pick(rng, corpus.size());
    std::vector<std::string> lines = split_lines(corpus[m.seed].text);
    if (pick(rng, 5) == 0) {  // the seed as shipped, with one --set of one of its keys (or an unknown one)
        m.text = corpus[m.seed].text;
        const auto as = assignments(lines);
        std::string path = as.empty() ? "cluster.gpus" : as[pick(rng, as.size())].path;
        if (pick(rng, 6) == 0) path += ".deeper";
        std::string value(pick(rng, kExtremeValues));
        if (pick(rng, 3) == 0) value = "\"" + std::string(pick(rng, kNumbers)) + " " + std::string(pick(rng, kUnits)) + "\"";
        if (pick(rng, 2) == 0 && !as.empty()) {  // the seed's own value, nudged
            const Assignment& a = as[pick(rng, as.size())];
            std::vector<std::string> one{lines[a.line]};
            nudge_number(one, {0, a.value_at, a.path}, rng);
            path = a.path;
            value = one[0].substr(a.value_at);
            if (const std::size_t hash = value.find(" #"); hash != std::string::npos) value.resize(hash);
        }
        m.set.push_back(path + "=" + value);
        m.what = "--set " + m.set.back();
        return m;
    }
    std::string text;
    const int edits = pick(rng, 2) == 0 ? 1 : 1 + static_cast<int>(pick(rng, 4));
    for (int e = 0; e < edits; ++e) {
        const auto as = assignments(lines);
        if (as.empty()) break;
        const Assignment& a = as[pick(rng, as.size())];
        switch (pick(rng, 12)) {
            case 9: case 10: case 11: nudge_number(lines, a, rng); m.what += "nudge " + a.path + "; "; break;
            case 0: case 1: replace_value(lines, a, pick(rng, kExtremeValues)); m.what += "value " + a.path + "; "; break;
            case 2: scale_number(lines, a, rng); m.what += "scale " + a.path + "; "; break;
            case 3: mutate_unit(lines, a, rng); m.what += "unit " + a.path + "; "; break;
            case 4: misspell_key(lines, a, rng); m.what += "key " + a.path + "; "; break;
            case 5: lines.erase(lines.begin() + static_cast<long>(a.line)); m.what += "drop " + a.path + "; "; break;
            case 6: {  // the line again, elsewhere (a duplicate key, or a key in another table)
                const std::string l = lines[a.line];
                lines.insert(lines.begin() + static_cast<long>(pick(rng, lines.size() + 1)), l);
                m.what += "move " + a.path + "; ";
                break;
            }
            case 7: mutate_header(lines, rng); m.what += "table; "; break;
            default: {
                text = join_lines(lines);
                mutate_bytes(text, rng);
                lines = split_lines(text);
                m.what += "bytes; ";
                break;
            }
        }
    }
    m.text = join_lines(lines);
    return m;
}

// ---- running a command ------------------------------------------------------------------------------------

struct Outcome {
    bool signalled = false;
    int signal = 0;
    int exit_code = 0;
    bool timed_out = false;
    double seconds = 0.0;
    long peak_mb = 0;
    std::string err;  // stderr
};

Outcome run_command(const Options& o, const std::vector<std::string>& args, const fs::path& err_file) {
    Outcome out;
    // Everything the child needs is prepared before fork: between fork and exec a child of a threaded process may
    // only make async-signal-safe calls (no allocation).
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(o.cli.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const rlim_t bytes = static_cast<rlim_t>(o.memory_mb) << 20;
    const rlimit as{bytes, bytes};
    // CPU time as a second guard against a child the wall-clock loop cannot stop; generous, as a run may use
    // several threads.
    const rlim_t cpu = static_cast<rlim_t>(o.timeout * 8) + 2;
    const rlimit cpu_limit{cpu, cpu + 1};
    const rlimit no_core{0, 0};
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(1);
    }
    if (pid == 0) {
        setpgid(0, 0);
        const int null = open("/dev/null", O_RDWR);
        const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (null < 0 || err < 0) _exit(126);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err, 2);
        if (o.memory_mb > 0) setrlimit(RLIMIT_AS, &as);
        setrlimit(RLIMIT_CPU, &cpu_limit);
        setrlimit(RLIMIT_CORE, &no_core);
        execv(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    for (;;) {
        const pid_t r = wait4(pid, &status, WNOHANG, &usage);
        if (r == pid) break;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > o.timeout && !out.timed_out) {
            out.timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.peak_mb = usage.ru_maxrss / 1024;
    if (WIFSIGNALED(status)) {
        out.signalled = true;
        out.signal = WTERMSIG(status);
        if (out.signal == SIGXCPU) out.timed_out = true;
    } else {
        out.exit_code = WEXITSTATUS(status);
    }
    out.err = slurp(err_file);
    return out;
}

// ---- classification ---------------------------------------------------------------------------------------

enum class Kind { ok, crash, sanitizer, timeout, memory, bad_exit, unlocated };
constexpr std::array<const char*, 7> kKindNames{"ok", "crash", "sanitizer", "timeout", "memory", "bad exit", "unlocated"};

// An error's location: file:line:column, or one of the `--set` arguments the command was given ("--set key=value:
// error: …"), quoted as given. Any other flag-like word does not count (the command's own flags, --quiet and
// --samples 1, are never wrong).
bool located(const std::string& err, const std::vector<std::string>& sets) {
    static const std::regex position(R"([^\s:]+:[0-9]+:[0-9]+)");
    if (std::regex_search(err, position)) return true;
    return std::any_of(sets.begin(), sets.end(), [&](const std::string& set) { return err.find("--set " + set) != std::string::npos; });
}

Kind classify(const Options& o, const Outcome& r, const std::vector<std::string>& sets) {
    if (r.err.find("Sanitizer") != std::string::npos || r.err.find("runtime error:") != std::string::npos) {
        return Kind::sanitizer;
    }
    if (r.timed_out) return Kind::timeout;
    if (r.signalled) return Kind::crash;
    if (o.memory_mb > 0 && r.peak_mb > o.memory_mb) return Kind::memory;
    if (r.exit_code != 0 && r.exit_code != 2) return Kind::bad_exit;
    if (r.exit_code == 2 && !located(r.err, sets)) return Kind::unlocated;
    return Kind::ok;
}

std::string first_line(const std::string& s) {
    const std::size_t nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

struct Tally {
    long mutants = 0;
    long commands = 0;
    std::array<long, kKindNames.size()> kinds{};
    long valid = 0;                  // check said valid
    long run_ok = 0;
    long check_valid_run_fails = 0;  // disagreements, one way
    long check_invalid_run_ok = 0;   // and the other
    double slowest = 0.0;
    long peak_mb = 0;
    std::vector<std::string> examples;  // a few disagreements and failures, for the report
};

struct Job {
    long index = 0;
    Mutant mutant;
    fs::path file;
    std::array<Outcome, 2> outcomes;  // check, run
};

std::vector<std::string> command_args(const Job& job, bool run) {
    std::vector<std::string> args;
    if (run) args = {"run", "--quiet", "--samples", "1"};
    else args = {"check"};
    for (const auto& s : job.mutant.set) {
        args.push_back("--set");
        args.push_back(s);
    }
    args.push_back(job.file.string());
    return args;
}

std::string shell_line(const std::vector<std::string>& args) {
    std::string out = "gpuhours";
    for (const auto& a : args) out += " '" + a + "'";
    return out;
}

void record(const Options& o, const std::vector<Seed>& corpus, Job& job, Tally& t) {
    ++t.mutants;
    std::string why;
    for (int c = 0; c < 2; ++c) {
        const Outcome& r = job.outcomes[static_cast<std::size_t>(c)];
        ++t.commands;
        t.slowest = std::max(t.slowest, r.seconds);
        t.peak_mb = std::max(t.peak_mb, r.peak_mb);
        const Kind k = classify(o, r, job.mutant.set);
        ++t.kinds[static_cast<std::size_t>(k)];
        if (k != Kind::ok) {
            why += std::string(kKindNames[static_cast<std::size_t>(k)]) + " in " + (c == 0 ? "check" : "run") + " (exit " +
                   (r.signalled ? "signal " + std::to_string(r.signal) : std::to_string(r.exit_code)) + "): " +
                   first_line(r.err) + "\n";
        }
    }
    const Outcome& check = job.outcomes[0];
    const Outcome& run = job.outcomes[1];
    if (check.exit_code == 0 && !check.signalled) ++t.valid;
    if (run.exit_code == 0 && !run.signalled) ++t.run_ok;
    std::string disagreement;
    if (check.exit_code == 0 && run.exit_code == 2) {
        ++t.check_valid_run_fails;
        disagreement = "check valid, run exit 2: " + first_line(run.err);
    } else if (check.exit_code == 2 && run.exit_code == 0) {
        ++t.check_invalid_run_ok;
        disagreement = "check exit 2, run exit 0: " + first_line(check.err);
    }
    const std::string label = "mutant " + std::to_string(job.index) + " of " + corpus[job.mutant.seed].rel + " [" +
                              job.mutant.what + "]";
    if (!why.empty() || !disagreement.empty()) {
        if (t.examples.size() < 60) {
            t.examples.push_back(label + "\n    " + (disagreement.empty() ? "" : disagreement + "\n    ") + why);
        }
        if (!o.save.empty()) {
            fs::create_directories(o.save);
            const fs::path keep = o.save / ("mutant-" + std::to_string(job.index) + ".toml");
            std::ofstream(keep, std::ios::binary) << job.mutant.text;
            std::ofstream(o.save / ("mutant-" + std::to_string(job.index) + ".txt"))
                << label << "\nseed file " << corpus[job.mutant.seed].rel << " (save it beside that file to run it)\n"
                << shell_line(command_args(job, false)) << "\n" << shell_line(command_args(job, true)) << "\n"
                << why << disagreement << "\n--- check stderr\n" << check.err << "--- run stderr\n" << run.err;
        }
    }
    if (o.verbose) {
        // Each command's wall seconds and peak resident MB, so that a sanitizer shard (run without a memory
        // limit) names the mutants to replay in a normal build against --memory-mb.
        std::cerr << label << ": check " << check.exit_code << " (" << check.seconds << " s, " << check.peak_mb
                  << " MB), run " << run.exit_code << " (" << run.seconds << " s, " << run.peak_mb << " MB)\n    "
                  << first_line(check.err) << "\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const std::vector<Seed> corpus = load_seeds(o);

    // A private copy of the scenario tree: mutants are written beside their seed, so `extends` and the catalog
    // lookup (the nearest scenarios/ with chips/ and models/) resolve as for the shipped file.
    char tmpl[] = "/tmp/gpuhours-fuzz-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const fs::path work = tmpl;
    fs::copy(o.root / "scenarios", work / "scenarios", fs::copy_options::recursive);
    for (const auto& s : corpus) fs::create_directories((work / s.rel).parent_path());

    // Mutant i depends on (seed, i) alone, so shards --from A --mutants N and --from A+N … of one seed together are
    // the run of their total count.
    const long first = o.only ? *o.only : o.from;
    const long last = o.only ? *o.only + 1 : o.from + o.mutants;
    Tally tally;
    const auto start = std::chrono::steady_clock::now();
    // Mutants in batches of --jobs, each on its own thread (fork/exec and a wait loop); recorded in index order.
    for (long base = first; base < last; base += o.jobs) {
        std::vector<Job> jobs;
        for (long i = base; i < std::min(last, base + o.jobs); ++i) {
            Job job;
            job.index = i;
            job.mutant = make_mutant(corpus, o.seed, i);
            const fs::path seed_path = work / corpus[job.mutant.seed].rel;
            job.file = seed_path.parent_path() / ("fuzz-" + std::to_string(i) + ".toml");
            std::ofstream(job.file, std::ios::binary) << job.mutant.text;
            jobs.push_back(std::move(job));
        }
        std::vector<std::thread> threads;
        for (auto& job : jobs) {
            threads.emplace_back([&o, &job, &work] {
                const fs::path err = work / ("stderr-" + std::to_string(job.index));
                job.outcomes[0] = run_command(o, command_args(job, false), err);
                job.outcomes[1] = run_command(o, command_args(job, true), err);
                fs::remove(err);
            });
        }
        for (auto& t : threads) t.join();
        for (auto& job : jobs) {
            record(o, corpus, job, tally);
            fs::remove(job.file);
        }
    }
    fs::remove_all(work);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    long failures = 0;  // unlocated (the last kind) is counted, not failed, unless --strict
    for (std::size_t k = 1; k + 1 < kKindNames.size(); ++k) failures += tally.kinds[k];
    std::printf("scenario_fuzz: %ld mutants (indices %ld–%ld) of %zu seed scenarios (seed %llu), %ld commands in %.0f s\n",
                tally.mutants, first, last - 1, corpus.size(), static_cast<unsigned long long>(o.seed), tally.commands, seconds);
    std::printf("  check valid %ld, run exit 0 %ld; slowest command %.1f s, largest peak resident %ld MB\n", tally.valid,
                tally.run_ok, tally.slowest, tally.peak_mb);
    std::printf("  crashes %ld, sanitizer reports %ld, timeouts (> %.0f s) %ld, over %ld MB %ld, exits other than 0 and 2 "
                "%ld, exit 2 without a location %ld\n",
                tally.kinds[1], tally.kinds[2], o.timeout, tally.kinds[3], o.memory_mb, tally.kinds[4], tally.kinds[5],
                tally.kinds[6]);
    std::printf("  disagreements: check valid but run exit 2: %ld; check exit 2 but run exit 0: %ld\n",
                tally.check_valid_run_fails, tally.check_invalid_run_ok);
    for (const auto& e : tally.examples) std::printf("  %s\n", e.c_str());
    const bool fail = failures > 0 || (o.strict && tally.kinds.back() + tally.check_valid_run_fails +
                                                      tally.check_invalid_run_ok > 0);
    return fail ? 1 : 0;
}
