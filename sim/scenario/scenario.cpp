// Loading a scenario: `extends` and `--set` merged into one document, its sections read, derived views of it.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/workload/workload.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <cctype>
#include <cmath>
#include <set>
#include <tuple>

namespace gpuhours::detail {

// ---- readers shared by the sections ----------------------------------------------------------------------

void require_positive(double value, const Node& node, std::string_view path, std::string_view what) {
    if (!(value > 0.0)) {
        // Stand-in: 1, written as the value was: a string's number (with its sign) replaced by 1, its unit kept
        // ("-2 months" reads on as "1 months", "$0" as "$1", a count string "-5" as "1").
        auto one = std::make_shared<Node>(node);
        if (node.kind == Node::Kind::string) {
            const std::string& t = node.text;
            const std::size_t start = t.find_first_of("-+.0123456789");
            std::size_t end = start == std::string::npos ? t.size() : start + 1;
            while (end < t.size() && (std::isdigit(static_cast<unsigned char>(t[end])) || t[end] == '.' || t[end] == ',')) ++end;
            one->text = start == std::string::npos ? "1" : t.substr(0, start) + "1" + t.substr(end);
        } else {
            one->kind = Node::Kind::integer;
            one->integer = 1;
        }
        throw detail::KeyError(node.where, node.where, false,
                               fmt::format("`{}` must be positive ({} cannot be zero or negative)", path, what),
                               "check the sign and the number", std::move(one));
    }
}

void require_within(double value, const Node& node, std::string_view path, std::string_view what, double lo,
                    double hi, std::string_view unit, std::string_view hint) {
    if (value >= lo && value <= hi) return;
    // The search for every mistake reads on with the nearest value in range (a count string as a count string, a
    // quantity in `unit`), so that a required key is not then reported missing.
    const double nearest = value > hi ? hi : lo;
    std::shared_ptr<const Node> within;
    if (node.kind == Node::Kind::integer) within = detail::stand_in(node.where, Node::Kind::integer, static_cast<std::int64_t>(nearest));
    if (node.kind == Node::Kind::floating) within = detail::stand_in(node.where, Node::Kind::floating, 0, nearest);
    if (node.kind == Node::Kind::string) {
        // A quantity in its base unit ("3.6e+21 J", "$1e+12"), which its parser reads: taking it out made a claim
        // "state nothing to check" or lack its text (a fresh verifier, #12).
        const std::string number = fmt::format("{:g}", nearest);
        within = detail::stand_in(node.where, Node::Kind::string, 0, 0.0,
                                  unit.empty() ? number : unit == "$" ? "$" + number : number + " " + std::string(unit));
    }
    // Durations as written ("11 years", "2 us"), not in seconds ("3.47134e+08 s"); other quantities in their unit.
    const auto text = [&](double v) {
        if (unit == "B") return format_bytes(Bytes(v));  // "80 MB", not "8e+07 B"
        if (unit == "B/s") return format_bandwidth(BytesPerSecond(v));
        if (unit != "s") return fmt::format("{:g}{}{}", v, unit.empty() ? "" : " ", unit);
        if (std::fabs(v) >= 2 * 365.25 * 86400.0) return fmt::format("{:.4g} years", v / (365.25 * 86400.0));
        return format_duration(Seconds(v));
    };
    const char* side = limits::range_side(value, hi);
    throw detail::KeyError(node.where, node.where, false,
                        unit == "s" || unit == "B" || unit == "B/s" ? fmt::format("`{}` = {} is {} the supported range of {} (limit {} to {})", path,
                                                  text(value), side, what, text(lo), text(hi))
                                    : fmt::format("`{}` = {:g}{}{} is {} the supported range of {} (limit {:g} to {:g}{}{})",
                                                  path, value, unit.empty() ? "" : " ", unit, side, what, lo, hi,
                                                  unit.empty() ? "" : " ", unit),
                        hint.empty() ? std::string("a figure this far from any real chip's is a wrong unit or exponent; "
                                                   "past the range, simulated work outlasts what the simulator's time can hold")
                                     : std::string(hint),
                        std::move(within));
}

SourceRef key_where(const Node& table, std::string_view key) {
    for (std::size_t i = 0; i < table.fields.size(); ++i) {
        if (table.fields[i].first == key) return table.key_sources[i];
    }
    return table.where;
}

void record_positions(const Node& root, std::map<std::string, SourceRef, std::less<>>& out) {
    // Bounded by the document's nesting limit (limits::kNestingDepth), like every walk of it.
    auto walk = [&](auto&& self, const Node& node, const std::string& path) -> void {
        if (!path.empty()) out[path] = node.where;
        if (node.kind == Node::Kind::table) {
            for (const auto& [key, value] : node.fields) self(self, value, path.empty() ? key : path + "." + key);
        } else if (node.kind == Node::Kind::array) {
            for (std::size_t i = 0; i < node.items.size(); ++i) self(self, node.items[i], fmt::format("{}[{}]", path, i));
        }
    };
    walk(walk, root, "");
}

int read_int(TableReader& r, std::string_view key, int min, int max, std::optional<int> fallback) {
    if (const Node* node = r.optional(key)) return detail::as_int(*node, r.path_of(key), min, max);
    if (fallback) return *fallback;
    return detail::as_int(r.required(key), r.path_of(key), min, max);
}

int read_limited(TableReader& r, std::string_view key, int min, int limit, std::string_view what,
                 std::optional<int> fallback) {
    // A whole number past the limit, however large (past 32 bits too: it was "out of range, use a value from 1 to
    // 2147483647", a range the limit then refused): said as beyond the supported range, with the range that works.
    // Every fallback is within its limit.
    if (const Node* node = r.optional(key); node != nullptr && node->kind == Node::Kind::integer && node->integer > limit) {
        auto within = std::make_shared<Node>(*node);
        within->integer = limit;
        throw detail::KeyError(node->where, node->where, false,
                               fmt::format("`{}` = {} is beyond the supported range of {} (limit {})", r.path_of(key),
                                           node->integer, what, limit),
                               fmt::format("use a value from {} to {}", min, limit), std::move(within));
    }
    return read_int(r, key, min, limit, fallback);
}

// ---- the document --------------------------------------------------------------------------------------

namespace {

// `unset = ["pricing.gpu_hour", …]`: each dotted key removed from `base` before the including file is merged over
// it (so the including file may set it again). A key the base does not set is an error at its array element: added
// to `mistakes` and skipped when given, else thrown.
void apply_unset(Node& base, const Node& unset, std::vector<ScenarioError>* mistakes) {
    if (unset.kind != Node::Kind::array) {
        ScenarioError e(unset.where, "`unset` must be an array of dotted keys", "e.g. unset = [\"pricing.gpu_hour\"]");
        if (mistakes == nullptr) throw e;
        mistakes->push_back(std::move(e));  // nothing removed: the merge goes on
        return;
    }
    std::vector<std::string> named;
    for (std::size_t i = 0; i < unset.items.size(); ++i) {
        const Node& item = unset.items[i];
        const std::string path = detail::as_string(item, fmt::format("unset[{}]", i));
        // A key named twice: the second is said as such (it read "which the base file does not set", an auditor's
        // read, though the base does set it: the first took it out).
        if (std::find(named.begin(), named.end(), path) != named.end()) {
            ScenarioError e(item.where, fmt::format("`unset` names `{}` twice", path), "name each key once");
            if (mistakes == nullptr) throw e;
            mistakes->push_back(std::move(e));
            continue;
        }
        named.push_back(path);
        Node* table = &base;
        std::size_t start = 0;
        while (true) {
            const std::size_t dot = path.find('.', start);
            const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            Node* next = table->kind == Node::Kind::table && !key.empty() ? table->find(key) : nullptr;
            if (next == nullptr) {
                std::vector<std::string> known;
                if (table->kind == Node::Kind::table) {
                    for (const auto& field : table->fields) known.push_back(field.first);
                }
                std::string hint = "name a key the base file sets, as a dotted path, e.g. \"pricing.gpu_hour\"";
                if (auto best = detail::suggest(key, known)) hint = fmt::format("did you mean `{}`? ({})", *best, hint);
                ScenarioError e(item.where, fmt::format("`unset` names `{}`, which the base file does not set", path), hint);
                if (mistakes == nullptr) throw e;
                mistakes->push_back(std::move(e));  // nothing to remove: the merge goes on
                break;
            }
            if (dot == std::string::npos) {
                table->erase(key);
                // The table as this file leaves it: a mistake about it as a whole ([whatif] left with neither chips
                // nor a rule) is located at the `unset` entry that changed it, not in the base file.
                if (table != &base) table->where = item.where;
                break;
            }
            table = next;
            start = dot + 1;
        }
    }
}

}  // namespace

// `extends` and `--set` applied: the document the scenario is read from.
namespace {

// The name a file has once the file system resolves it (one it cannot resolve, say over-long, stays as written:
// opening it then fails with a located message).
std::string canonical_of(const std::filesystem::path& p) {
    std::error_code ec;
    std::filesystem::path c = std::filesystem::weakly_canonical(p, ec);
    return ec ? p.lexically_normal().string() : c.string();
}

// `root`, the text of `file`, with the files it extends merged under it (deep merge, this file wins): the chain below
// is resolved first, so that this file's `unset` sees every key the files below it set. `seen`: the files of the
// chain so far (a cycle is an error).
Node resolve_extends(Node root, const std::filesystem::path& file, std::set<std::string>& seen, std::vector<ScenarioError>* mistakes) {
    const Node* ext = root.find("extends");
    if (ext == nullptr) return root;
    const std::string name = detail::as_string(*ext, "extends");
    if (name.empty()) throw ScenarioError(ext->where, "`extends` is empty", "name the scenario file this one builds on");
    if (seen.size() >= static_cast<std::size_t>(limits::kExtendsDepth)) {  // a 33rd file would be added
        throw ScenarioError(ext->where,
                            fmt::format("the `extends` chain is beyond the supported range (limit {} files)", limits::kExtendsDepth),
                            "extend a file that holds more of the shared keys itself");
    }
    const std::filesystem::path base_path = file.parent_path() / name;
    if (!seen.insert(canonical_of(base_path)).second) {
        throw ScenarioError(ext->where, fmt::format("`extends` = \"{}\" forms a cycle", name),
                            "remove the extends that leads back to a file already included");
    }
    Node base = resolve_extends(detail::parse_document_file(base_path.string(), ext->where), base_path, seen, mistakes);
    if (const Node* unset = root.find("unset")) {
        apply_unset(base, *unset, mistakes);
        root.erase("unset");
    }
    root.erase("extends");
    detail::merge_into(base, std::move(root));
    return base;
}

}  // namespace

Node merge_document(Node root, const std::filesystem::path& file, const LoadOptions& options, std::vector<ScenarioError>* mistakes) {
    std::set<std::string> seen{canonical_of(file)};
    root = resolve_extends(std::move(root), file, seen, mistakes);
    // With `mistakes`, each of these is reported with the rest of the file's, and what it names is skipped.
    if (const Node* unset = root.find("unset")) {
        ScenarioError e(unset->where, "`unset` removes keys a base file sets, but this file has no `extends`",
                        "add `extends = \"base.toml\"` or remove `unset`");
        if (mistakes == nullptr) throw e;
        mistakes->push_back(std::move(e));
        root.erase("unset");
    }
    for (const auto& assignment : options.overrides) {
        try {
            detail::apply_override(root, assignment);
        } catch (const ScenarioError& e) {  // an override that names no place in the document (phases.3 of 2)
            if (mistakes == nullptr) throw;
            mistakes->push_back(e);
        }
    }
    return root;
}

namespace {

// The chip figures a run's time and rental cost rest on: its peaks and bandwidths, the efficiencies (calibrated or
// assumed, per the catalog's source), the TDP and the catalog's rental price, each with the catalog's source, or
// "set in the scenario" where [cluster.chip] overrides it.
std::vector<Assumption> chip_assumptions(const Scenario& s, const Node& chip_slot, const std::filesystem::path& catalog_dir) {
    std::vector<Assumption> out;
    const auto [table, id] = resolve_slot(chip_slot, "chips", "cluster.chip", catalog_dir);
    const bool fp8 = s.training.precision.compute == Precision::fp8;
    const std::string name = id.substr(0, id.find(" (modified)"));
    const std::string origin = id == "inline" ? std::string("the scenario's chip") : fmt::format("scenarios/chips/{}.toml", name);
    const auto add = [&](const std::string& section, const std::string& key, const std::string& value) {
        const Node* sec = table.find(section);
        const Node* figure = sec != nullptr ? sec->find(key) : nullptr;
        if (figure == nullptr) return;
        const Node* source = figure->kind == Node::Kind::table ? figure->find("source") : nullptr;
        // A source written in the scenario's [cluster.chip] is its own; the catalog's is named with its file.
        const bool catalog = source != nullptr && source->where.file.ends_with(name + ".toml") && id != "inline";
        out.push_back({fmt::format("cluster.chip.{}.{}", section, key), value,
                       source == nullptr || source->kind != Node::Kind::string ? set_in_scenario(figure->where)
                       : catalog                                                 ? fmt::format("{} ({})", source->text, origin)
                                                                                 : source->text});
    };
    // The calibration figures the step rests on (GEMMs in the compute format, attention, HBM streaming, the links)
    // and the power the energy is counted at.
    const ChipProfile& chip = s.cluster.chip;
    // The peaks the step's compute time and every MFU rest on (BF16, the MFU basis; the compute format's), and the
    // bandwidths the memory-bound kernels and the collectives run at.
    const auto peak = [&](Precision p) {
        const auto it = chip.peak_dense.find(p);
        if (it != chip.peak_dense.end()) add("compute", std::string(to_string(p)), format_flops_rate(it->second));
    };
    peak(Precision::bf16);
    if (s.training.precision.compute != Precision::bf16) peak(s.training.precision.compute);
    add("compute", "sm_count", fmt::format("{}", chip.sm_count));  // the kernels' wave quantisation, communication SMs
    add("memory", "capacity", format_bytes(chip.memory_device));    // the memory fit
    add("memory", "reserve", format_bytes(chip.memory_reserve));
    add("memory", "bandwidth", format_bandwidth(chip.memory_bandwidth));
    add("scale_up", "bandwidth", format_bandwidth(chip.scale_up_bandwidth));
    add("scale_up", "domain", fmt::format("{}", chip.scale_up_domain));
    add("scale_up", "latency", format_duration(chip.scale_up_latency));
    // The host size the per-node failure classes count, where the chip's entry gives it and the cluster does not.
    const bool per_node = std::any_of(s.reliability.failures.begin(), s.reliability.failures.end(), [](const auto& f) { return f.per_node; });
    if (per_node && chip.gpus_per_host > 0 && chip.gpus_per_host == s.cluster.gpus_per_host &&
        !s.sources.keys.contains("cluster.gpus_per_host")) {
        add("host", "gpus", fmt::format("{}", chip.gpus_per_host));
    }
    // The chip's NIC figures, unless [cluster] writes its own (listed with the network).
    if (!s.sources.keys.contains("cluster.nic_bandwidth")) add("scale_out", "nic_bandwidth", format_bandwidth(chip.nic_bandwidth));
    if (!s.sources.keys.contains("cluster.nic_latency")) add("scale_out", "latency", format_duration(chip.nic_latency));
    const Fp8Recipe recipe = fp8 ? s.training.precision.fp8_recipe : Fp8Recipe::none;
    add("efficiency", std::string(fp8_efficiency_key(recipe)), fmt::format("{:g}", chip.efficiency.fp8_gemm(recipe)));
    // The GEMMs an FP8 recipe leaves in BF16 (the output head, and whatever the recipe keeps out of FP8) run at gemm's.
    if (recipe != Fp8Recipe::none) {
        add("efficiency", std::string(fp8_efficiency_key(Fp8Recipe::none)), fmt::format("{:g}", chip.efficiency.fp8_gemm(Fp8Recipe::none)));
    }
    // The fixed time per GEMM tile of each of the run's kernel families (the GEMMs an FP8 recipe leaves in BF16 run
    // gemm's), one line each: a family's time written in the scenario or with --set is the user's (never credited to
    // the catalog's source), and is listed even at zero.
    if (const Node* eff = table.find("efficiency"); eff != nullptr) {
        if (const Node* overheads = eff->find("gemm_tile_overhead"); overheads != nullptr && overheads->kind == Node::Kind::table) {
            const Node* source = overheads->find("source");
            for (const Fp8Recipe r : recipe == Fp8Recipe::none ? std::vector{recipe} : std::vector{recipe, Fp8Recipe::none}) {
                const std::string key(fp8_efficiency_key(r));
                const Node* t = overheads->find(key);
                if (t == nullptr) continue;
                // The table's source speaks for the times written beside it (in the same file); a time another layer
                // wrote is located where it was written.
                const bool sourced = source != nullptr && source->kind == Node::Kind::string && source->where.file == t->where.file;
                const bool catalog = sourced && id != "inline" && source->where.file.ends_with(name + ".toml");
                out.push_back({fmt::format("cluster.chip.efficiency.gemm_tile_overhead.{}", key),
                               format_duration(chip.efficiency.gemm_tile_overhead.of(r)) + " per tile",
                               !sourced ? set_in_scenario(t->where) : catalog ? fmt::format("{} ({})", source->text, origin) : source->text});
            }
        }
    }
    add("efficiency", "gemm_tile_m", fmt::format("{}", chip.efficiency.gemm_tile_m));
    add("efficiency", "gemm_tile_n", fmt::format("{}", chip.efficiency.gemm_tile_n));
    if (const int narrow = chip.efficiency.gemm_tile_n_narrow; narrow > 0 || s.sources.keys.contains("cluster.chip.efficiency.gemm_tile_n_narrow")) {
        add("efficiency", "gemm_tile_n_narrow",
            narrow <= 0                             ? std::string("0 (one tile only)")
            : narrow >= chip.efficiency.gemm_tile_n ? fmt::format("{} (not narrower than gemm_tile_n = {}: unused, one tile only)", narrow,
                                                                  chip.efficiency.gemm_tile_n)
                                                    : fmt::format("{}", narrow));
    }
    add("efficiency", "attention", fmt::format("{:g}", chip.efficiency.attention));
    if (!chip.efficiency.attention_shape.empty()) {
        // The factor at this run's attention kernel: the first softmax attention core of the model's layers.
        std::string at = "no softmax attention in this model";
        for (int layer = 0; layer < s.model.layers; ++layer) {
            Block block;
            try {
                block = layer_ops(s.model, layer, s.parallel, s.training.precision, shape_of(s));
            } catch (const Error&) {
                at.clear();  // a layout the workload refuses: the scenario's checks report it, located
                break;
            }
            const auto core = std::find_if(block.ops.begin(), block.ops.end(), [](const Op& op) { return op.attention_shape.has_value(); });
            if (core == block.ops.end()) continue;
            const AttentionKernelShape& k = *core->attention_shape;
            const double factor = chip.efficiency.attention_shape.factor(k.sequence, k.head_dim);
            at = fmt::format("× {:.3g} at this run's attention kernel ({:g} tokens per call, head dim {}): {:.3g}", factor,
                             k.sequence, k.head_dim, chip.efficiency.attention * factor);
            break;
        }
        if (!at.empty()) add("efficiency", "attention_shape", at);
    }
    add("efficiency", "memory", fmt::format("{:g}", chip.efficiency.memory));
    add("efficiency", "scale_up_link", fmt::format("{:g}", chip.efficiency.scale_up_link));
    add("efficiency", "nic_link", fmt::format("{:g}", chip.efficiency.nic_link));
    add("power", "tdp", fmt::format("{:g} W", chip.tdp.value()));
    if (s.cluster.power_cap) add("power", "idle", format_power(chip.idle_power));  // the power cap's clock model
    if (!s.training.cuda_graphs) add("launch", "host_per_kernel", format_duration(chip.launch_host));
    add("launch", "gap_per_kernel", format_duration(chip.launch_gap));
    if (!s.pricing.gpu_hour && s.cluster.chip.rental_gpu_hour) add("price", "rental_gpu_hour", format_dollars(*s.cluster.chip.rental_gpu_hour));
    return out;
}

}  // namespace

std::vector<ScenarioError> range_end_mistakes(const Node& document, const std::vector<UncertainInput>& inputs,
                                              const std::filesystem::path& file, const LoadOptions& options) {
    std::vector<ScenarioError> out;
    for (const UncertainInput& u : inputs) {
        const auto [low, high] = u.range();
        for (const double end : {low, high}) {
            Node doc = document;
            if (!set_value(doc, u, end)) break;  // taken out by the search for every mistake: nothing to check
            try {
                (void)read_merged_once(doc, file, options);
            } catch (const Error& e) {
                const bool tail = u.distribution == Distribution::normal || u.distribution == Distribution::lognormal;
                out.emplace_back(u.where, fmt::format("{} reaches {}{}, which a draw would be refused for: {}", u.describe(), u.text(end),
                                                      tail ? " (its range is tested at ± 4.75 sd, where draws are truncated)" : "",
                                                      e.message()),
                                 e.hint().empty() ? std::string("keep the range within what the key accepts")
                                                  : fmt::format("keep the range within what the key accepts ({})", e.hint()));
                break;  // one mistake per range
            }
        }
    }
    return out;
}

namespace {

// A [pricing] table that prices nothing (an `extends` that unsets pricing.gpu_hour and adds no ownership): rung 1
// at the chip catalog's rental price, which chip_assumptions lists with its source. Without one, a claim that
// states a cost is refused here, saying what is missing (check_claims_priced covers a scenario with no [pricing]).
void price_from_chip_catalog(Scenario& s) {
    if (prices_run(s)) return;
    if (s.cluster.chip.rental_gpu_hour) {
        s.pricing.gpu_hour = s.cluster.chip.rental_gpu_hour;
        return;
    }
    for (const ClaimSpec& claim : s.claims) {
        if (!claim.has_cost()) continue;
        throw ScenarioError(claim.where,
                            fmt::format("the claim states a cost but [pricing] prices nothing: it has no gpu_hour and no "
                                        "[pricing.ownership], and the chip ({}) has no catalog rental price",
                                        s.cluster.chip.display_name),
                            "add gpu_hour = \"$2\" (rental) or a [pricing.ownership] table to [pricing]");
    }
}

}  // namespace

namespace {

// The top-level sections a scenario needs, all named at once when several are missing (an empty file); one missing
// is left to the reader, whose message names it with its own hint.
void require_sections(const Node& root, const SourceRef& file) {
    std::vector<std::string> missing;
    for (const char* key : {"model", "cluster", "training"}) {
        if (root.find(key) == nullptr) missing.push_back(fmt::format("`{}`", key));
    }
    if (missing.size() > 1) {
        // A catalog file given where a scenario goes (`gpuhours model scenarios/models/deepseek-v3.toml`): name it.
        const std::string stem = std::filesystem::path(file.file).stem().string();
        if (root.find("layers") != nullptr && root.find("hidden") != nullptr) {
            throw ScenarioError(file, fmt::format("this is a model catalog file, not a scenario (it has no {})", fmt::join(missing, ", ")),
                                fmt::format("name the model instead: `gpuhours model {}`, or model = \"{}\" in a scenario", stem, stem));
        }
        if (root.find("compute") != nullptr && root.find("vendor") != nullptr) {
            throw ScenarioError(file, fmt::format("this is a chip catalog file, not a scenario (it has no {})", fmt::join(missing, ", ")),
                                fmt::format("name the chip in a scenario's [cluster]: chip = \"{}\" (`gpuhours chips` lists them)", stem));
        }
        throw ScenarioError(file, fmt::format("the scenario has no {}", fmt::join(missing, ", ")),
                            "a scenario needs at least: model = \"llama-3.1-8b\"; [cluster] with chip and gpus; [training] with "
                            "tokens, sequence_length and global_batch (docs/scenario-language.md has a complete example)");
    }
}

}  // namespace

namespace {

// The run as the scenario defines it (model, GPUs, tokens, batch, sequence, precision, layout, network), each where
// it is written.
std::vector<Assumption> run_assumptions(const Scenario& s) {
    const ParameterCount parameters = count_parameters(s.model);
    const ParallelLayout& p = s.parallel;
    const ClusterSpec& c = s.cluster;
    const MixedPrecision& mp = s.training.precision;
    // A key nothing wrote is a default (an audit and a new user read "set in the scenario (tiny.toml:1)" for one).
    const std::string by_default = "default, not written in the scenario";
    const auto defined = [&](const std::string& key, const std::string& value) -> Assumption {
        const auto it = s.sources.keys.find(key);
        return {key, value, it != s.sources.keys.end() && it->second.known() ? set_in_scenario(it->second) : by_default};
    };
    // The source of a line that groups several keys (`in_group`): every --set among them, then where the others were
    // written last ("set on the command line (--set a; --set b); the rest set in the scenario (file:line)"; a base
    // file's line when only the base a scenario extends writes them), or the default for those none writes.
    const auto group_source = [&](const std::function<bool(const std::string&)>& in_group) {
        std::vector<std::string> flags;
        std::optional<SourceRef> latest;
        for (const auto& [key, where] : s.sources.keys) {
            if (!in_group(key) || !where.known()) continue;
            if (where.file.starts_with("--set ")) {
                if (std::find(flags.begin(), flags.end(), where.file) == flags.end()) flags.push_back(where.file);
                continue;
            }
            if (!latest || written_after(s, where, *latest)) latest = where;
        }
        const std::string rest = latest ? set_in_scenario(*latest) : by_default;
        if (flags.empty()) return rest;
        return fmt::format("set on the command line ({}); the rest {}", fmt::join(flags, "; "), rest);
    };
    const auto under = [](std::string prefix) { return [prefix](const std::string& key) { return key.starts_with(prefix); }; };
    const auto among = [](std::vector<std::string> keys) {
        return [keys](const std::string& key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); };
    };
    std::vector<Assumption> out = {
        Assumption{"model", fmt::format("{} ({} total, {} active parameters)", s.model.display_name, format_count(parameters.total),
                                        format_count(parameters.active)),
                   group_source(under("model"))},
        defined("cluster.gpus", fmt::format("{}", s.cluster.gpus)),
        s.phases_given ? Assumption{"training.tokens", fmt::format("{} over {} phases", format_count(s.training.tokens), s.phases.size()),
                                    "the [[phases]]' tokens and steps, " + set_in_scenario(s.phases.front().where)}
                       : defined("training.tokens", format_count(s.training.tokens)),
        defined("training.global_batch", fmt::format("{} sequences", s.training.global_batch)),
        defined("training.sequence_length", fmt::format("{} tokens", s.training.sequence_length)),
        // Every format the state is kept and moved in, sourced from the precision key written last.
        Assumption{"training.precision",
                   fmt::format("compute {}, parameters {}, master weights {}, optimizer state {}, gradients {}, activations {}, "
                               "expert dispatch {}, combine {}", to_string(mp.compute), to_string(mp.parameters),
                               to_string(mp.master_weights), to_string(mp.optimizer_state), to_string(mp.gradients),
                               to_string(mp.activations), to_string(mp.dispatch.value_or(mp.activations)),
                               to_string(mp.combine.value_or(mp.activations))),
                   group_source(among({"training.precision", "training.parameters", "training.master_weights", "training.optimizer_state",
                                       "training.gradients", "training.activations", "training.dispatch_precision",
                                       "training.combine_precision"}))},
        // The layout and the network the step is simulated on.
        Assumption{"parallelism", fmt::format("TP{} CP{} PP{} DP{} EP{}{}{}{}{}{}, {} schedule, ZeRO-{}, recompute {}, micro_batch {}, {} communication SMs",
                                              p.tensor, p.context, p.pipeline, p.data, p.expert,
                                              p.folds_experts() ? fmt::format(" ETP{} (MoE parallel folding)", p.expert_tensor_degree()) : std::string(),
                                              p.sequence_parallel ? " with sequence parallelism" : "",
                                              p.tp_comm_overlap ? fmt::format(" and TP communication overlap ({} SMs)", p.tp_comm_overlap_sms) : std::string(),
                                              p.context > 1 ? fmt::format(", CP exchange {}", to_string(p.cp_comm_type)) : std::string(),
                                              p.moe_shared_expert_overlap ? ", shared experts beside the all-to-all" : "",
                                              describe_schedule(p), p.zero_stage, describe_recompute(p), p.micro_batch, p.communication_sms),
                   group_source(under("parallelism."))},
        // One node has no scale-out network to describe (an audit read "single-node, 2 tiers").
        Assumption{"cluster.fabric", c.fabric == Fabric::single_node
                                         ? std::string("single-node: one scale-up domain, no scale-out network")
                                         : fmt::format("{}, {} tiers, {} plane{}, oversubscription {:g}:1, NIC {} per GPU, NIC latency {}",
                                                       to_string(c.fabric), c.tiers, c.planes, c.planes == 1 ? "" : "s", c.oversubscription,
                                                       format_bandwidth(c.nic_bandwidth), format_duration(c.nic_latency)),
                   group_source(among({"cluster.fabric", "cluster.tiers", "cluster.planes", "cluster.oversubscription", "cluster.nic_bandwidth",
                                       "cluster.nic_latency"}))},
    };
    // A node wider than the chip's scale-up domain is a machine the chip is not built into: said, not refused (a
    // what-if on a larger NVLink domain is a fair question).
    if (c.gpus_per_node > c.chip.scale_up_domain) {
        out.push_back(defined("cluster.gpus_per_node",
                              fmt::format("{} GPUs, above the {}'s scale-up domain of {}: simulated as one scale-up domain of {} "
                                          "at the chip's {} per GPU, a hypothetical node",
                                          c.gpus_per_node, c.chip.display_name, c.chip.scale_up_domain, c.gpus_per_node,
                                          format_bandwidth(c.chip.scale_up_bandwidth))));
    }
    // Each phase as it runs (its tokens, batch, sequence and layout), where its keys are written.
    for (std::size_t i = 0; s.phases_given && i < s.phases.size(); ++i) {
        const PhaseSpec& ph = s.phases[i];
        if (ph.quoted_gpu_hours) continue;
        const ParallelLayout& q = ph.parallel;
        out.push_back({fmt::format("phases[{}]", i),
                       fmt::format("\"{}\": {} tokens, batch {} × {}, {}, recompute {}{}", ph.name, format_count(ph.tokens),
                                   ph.training.global_batch, ph.training.sequence_length, describe_degrees(q),
                                   describe_recompute(q), ph.ramp ? fmt::format(", batch ramp from {}", ph.ramp->from) : ""),
                       group_source(under(fmt::format("phases[{}].", i)))});
    }
    return out;
}

// The run's phases: [[phases]] (their tokens summed into [training]'s), else one phase made of [training].
void set_phases(Scenario& s, const Node& root, const Node& training, const Node* parallel_node) {
    if (const Node* phases = root.find("phases")) {
        s.phases = read_phases(*phases, s, training, parallel_node);
        s.phases_given = true;
        s.training.tokens = 0;
        for (const auto& ph : s.phases) s.training.tokens += ph.tokens;
        // The run's tokens within the range each phase's are held to (two phases of 9e17 ran 69,745,431 days).
        if (!(s.training.tokens <= limits::kTokensMax)) {
            throw ScenarioError(s.phases.back().where, fmt::format("the phases' tokens sum to {:g}, beyond the supported range of token counts (limit {:g})",
                                                                   s.training.tokens, limits::kTokensMax),
                                "the largest published pre-training runs are tens of trillions of tokens (\"15T\"); check the counts' suffixes");
        }
    } else {
        PhaseSpec only;
        only.name = "training";
        only.tokens = s.training.tokens;
        only.training = s.training;
        only.parallel = s.parallel;
        only.where = s.sources.training;
        if (const Node* t = training.find("tokens")) {
            require_whole_step(only.tokens, static_cast<double>(s.training.global_batch) * s.training.sequence_length, *t,
                               "training.tokens", false);
        }
        s.phases.push_back(only);
    }
}

}  // namespace

Scenario read_merged_once(const Node& root, const std::filesystem::path& file, const LoadOptions& options) {
    const std::filesystem::path catalog_dir = options.catalog_dir.empty() ? find_catalog_dir(file) : options.catalog_dir;
    Scenario s;
    s.sources.file = SourceRef{file.string(), 1, 1};
    record_positions(root, s.sources.keys);
    TableReader r(root, "");
    if (const Node* t = r.optional("title")) s.title = detail::as_string(*t, "title");

    require_sections(root, s.sources.file);
    detail::require_model_not_misplaced(root);
    const Node& model_slot = r.required("model", "add `model = \"deepseek-v3\"` (a name from scenarios/models/) or a [model] table");
    s.sources.model = model_slot.where;
    {
        auto [table, id] = resolve_slot(model_slot, "models", "model", catalog_dir);
        s.model = read_model(table, id, model_slot.kind == Node::Kind::string ? std::string() : std::string("model"));
    }
    const Node& cluster = detail::as_table(r.required("cluster"), "cluster");
    s.sources.cluster = cluster.where;
    s.cluster = read_cluster(cluster, catalog_dir);
    check_cluster_size(s);
    if (const Node* chip = cluster.find("chip"); chip != nullptr && chip->kind == Node::Kind::table && chip->find("from")) {
        // What [cluster.chip] sets on top of its catalog chip, as dotted keys (leaves; a figure table is one leaf).
        auto collect = [&](auto&& self, const Node& table, const std::string& prefix) -> void {
            for (const auto& [key, value] : table.fields) {
                if (prefix.empty() && key == "from") continue;
                const bool figure = value.find("value") || value.find("low") || value.find("mean") || value.find("dist");
                if (value.kind == Node::Kind::table && !figure) self(self, value, prefix + key + ".");
                else s.sources.chip_overrides.push_back(prefix + key);
            }
        };
        collect(collect, *chip, "");
    }

    const Node& training = detail::as_table(r.required("training"), "training");
    s.sources.training = training.where;
    const Node* phases_node = root.find("phases");
    const bool has_phases = phases_node != nullptr;
    s.training = read_training(training, s.cluster.chip, !has_phases);
    std::vector<Assumption> replaced_tokens;
    if (const Node* tokens = training.find("tokens"); tokens != nullptr && has_phases) {
        // [[phases]] give the run's tokens (their sum). Written in the same layer as [training] tokens, or an earlier
        // one, the tokens would be ignored: refused. Given by a later layer (the scenario file over a file it
        // extends, or --set phases=… over a file), they replace the tokens, as any later layer overrides an earlier
        // one, and the assumptions say so.
        if (detail::layer_of(s, tokens->where) >= detail::layer_of(s, phases_node->where)) {
            throw detail::KeyError(tokens->where, tokens->where, false,
                                   fmt::format("`training.tokens` would be ignored: [[phases]] ({}) give the run's tokens",
                                               phases_node->where.file),
                                   "remove it; each [[phases]] table gives its own tokens or steps (the run trains their sum)");
        }
        replaced_tokens.push_back({"training.tokens", "replaced by [[phases]]",
                                       fmt::format("[[phases]] from {} give the run's tokens in place of {}'s", phases_node->where.file,
                                                   tokens->where.file)});
    }

    int data_given = 0;
    if (const Node* parallel = r.optional("parallelism")) {
        s.sources.parallelism = parallel->where;
        s.parallel = read_parallelism(detail::as_table(*parallel, "parallelism"), s.cluster.gpus, &data_given);
    } else {
        s.parallel.data = s.cluster.gpus;
    }
    std::vector<Assumption> reliability_assumptions;
    s.reliability = read_reliability(r.optional("reliability"), catalog_dir, reliability_assumptions);
    std::vector<Assumption> pricing_assumptions;
    if (const Node* n = r.optional("pricing")) {
        s.pricing = read_pricing(detail::as_table(*n, "pricing"), catalog_dir, pricing_assumptions);
    }
    if (const Node* n = r.optional("claims")) {
        if (n->kind != Node::Kind::array) {
            throw ScenarioError(n->where, "`claims` must be an array of tables", "write each claim as a [[claims]] block");
        }
        for (std::size_t i = 0; i < n->items.size(); ++i) s.claims.push_back(read_claim(n->items[i], i));
    }
    if (const Node* n = r.optional("published")) s.published = read_published(detail::as_table(*n, "published"), catalog_dir);
    if (const Node* n = r.optional("whatif")) s.whatif = read_whatif(detail::as_table(*n, "whatif"), catalog_dir);
    r.allow("phases");
    r.allow("extends");
    r.finish();
    if (s.title.empty()) s.title = file.stem().string();
    s.assumptions = chip_assumptions(s, *cluster.find("chip"), catalog_dir);
    s.assumptions.insert(s.assumptions.end(), pricing_assumptions.begin(), pricing_assumptions.end());
    if (s.reliability.from == "none") {
        s.assumptions.push_back({"reliability", "none", "no failures, restarts or run overheads modelled (reliability = \"none\")"});
    }
    s.assumptions.insert(s.assumptions.end(), reliability_assumptions.begin(), reliability_assumptions.end());
    s.assumptions.insert(s.assumptions.end(), replaced_tokens.begin(), replaced_tokens.end());
    // A per-node class counts host servers (cluster.gpus_per_host), which the output says with where the size came from.
    const std::string host = fmt::format(
        "host-hours (hosts of {} GPUs: {})", s.cluster.gpus_per_host,
        s.sources.keys.contains("cluster.gpus_per_host") ? "cluster.gpus_per_host"
        : s.cluster.chip.gpus_per_host == s.cluster.gpus_per_host ? fmt::format("chip {}'s [host] figure", s.cluster.chip.id)
        : s.cluster.chip.gpus_per_host > 0
            ? fmt::format("the node, cluster.gpus_per_node; chip {}'s [host] figure of {} neither divides nor fills it: set "
                          "cluster.gpus_per_host, a divisor or a multiple of the node, for another server size",
                          s.cluster.chip.id, s.cluster.chip.gpus_per_host)
            : std::string("the node, cluster.gpus_per_node; the chip's entry has no [host] figure"));
    for (const auto& f : s.reliability.failures) {
        s.assumptions.push_back({fmt::format("reliability.failures \"{}\"", f.name),
                                 fmt::format("one interruption per {:.0f} {}", 1.0 / f.rate_per_unit_hour, f.per_node ? host : std::string("GPU-hours")),
                                 f.source.empty() ? set_in_scenario(f.where) : f.source});
    }
    validate_layout(s, data_given != 0);
    const Node* parallel_node = root.find("parallelism");
    if (root.find("phases") != nullptr) (void)r.has("phases");
    set_phases(s, root, training, parallel_node);
    if (root.find("pricing") != nullptr) price_from_chip_catalog(s);
    check_phase_prices(s);
    check_claims_priced(s);
    const std::vector<Assumption> run = run_assumptions(s);  // first among the assumptions: every figure rests on these
    s.assumptions.insert(s.assumptions.begin(), run.begin(), run.end());
    return s;
}

}  // namespace gpuhours::detail

namespace gpuhours {

using detail::Node;

namespace {

Scenario read_scenario(Node root, const std::filesystem::path& file, const LoadOptions& options) {
    std::vector<ScenarioError> range_mistakes;  // an `unset` entry's and the ranges' mistakes, reported with the rest
    Node merged = detail::merge_document(std::move(root), file, options, &range_mistakes);
    const auto inputs = detail::extract_uncertain(merged, range_mistakes);
    return detail::read_merged(merged, file, options, range_mistakes, &inputs);
}

}  // namespace

SourceRef ScenarioSources::at(std::string_view key, const SourceRef& fallback) const {
    const auto it = keys.find(key);
    return it != keys.end() && it->second.known() ? it->second : fallback;
}

StepSpec step_spec_of(const Scenario& s) {
    StepSpec spec{s.model, s.cluster, s.parallel, s.training.precision, s.training.sequence_length, s.training.global_batch};
    spec.attention_kernel = s.training.attention_kernel;
    spec.dropout = s.training.dropout;
    spec.cuda_graphs = s.training.cuda_graphs;
    spec.gradient_accumulation = s.training.gradient_accumulation;
    return spec;
}

Bytes checkpoint_bytes(const Scenario& s) {
    const double params = count_parameters(s.model).total;
    const MixedPrecision& p = s.training.precision;
    return Bytes(params * (bytes_per_element(p.master_weights) + 2.0 * bytes_per_element(p.optimizer_state)));
}

Seconds checkpoint_write_time(const Scenario& s) {
    if (s.reliability.storage_bandwidth) return checkpoint_bytes(s) / *s.reliability.storage_bandwidth;
    return s.reliability.checkpoint_write;
}

RecoveryParts recovery_parts_of(const Scenario& s) {
    const ReliabilitySpec& r = s.reliability;
    RecoveryParts p{r.detect, r.replace, r.init_per_gpu, r.init_per_gpu_squared, Seconds(0)};
    if (const auto& read = r.read_bandwidth ? r.read_bandwidth : r.storage_bandwidth) p.checkpoint_load = checkpoint_bytes(s) / *read;
    return p;
}

Seconds restart_time_of(const Scenario& s) {
    if (s.reliability.restart_given || s.reliability.from == "none") return s.reliability.restart_time;
    return recovery_time(recovery_parts_of(s), s.cluster.gpus);
}

std::vector<RunOverhead> run_overheads_of(const Scenario& s) {
    std::vector<RunOverhead> out;
    for (const OverheadSpec& o : s.reliability.overheads) {
        if (!o.fraction) continue;
        const double f = o.n_ref ? straggler_slowdown(*o.fraction, *o.n_ref, s.cluster.gpus) : *o.fraction;
        out.push_back({o.name, f});
    }
    return out;
}

Scenario scenario_of_phase(const Scenario& s, const PhaseSpec& phase, int global_batch) {
    Scenario copy = s;
    copy.training = phase.training;
    if (global_batch > 0) copy.training.global_batch = global_batch;
    copy.parallel = phase.parallel;
    // A written phase's rules (its memory fit) are about the phase: point at its [[phases]] table, and at its own
    // keys where it writes them ("phases[1].sequence_length" stands for training.sequence_length).
    if (s.phases_given && phase.where.known()) {
        copy.sources.parallelism = phase.where;
        std::string prefix;
        for (const auto& [key, where] : s.sources.keys) {
            if (key.starts_with("phases[") && key.find('.') == std::string::npos && detail::same_place(where, phase.where)) {
                prefix = key + ".";
            }
        }
        if (!prefix.empty()) {
            for (const auto& [key, where] : s.sources.keys) {
                if (!key.starts_with(prefix)) continue;
                copy.sources.keys[detail::scenario_key_of_phase(key.substr(prefix.size()))] = where;
            }
        }
    }
    return copy;
}

Scenario load_scenario(const std::filesystem::path& file, const LoadOptions& options) {
    Node root = detail::parse_document_file(file.string());
    return read_scenario(std::move(root), file, options);
}

void check_scenario_document(const std::filesystem::path& file, const LoadOptions& options) {
    (void)detail::merge_document(detail::parse_document_file(file.string()), file, options);
}

namespace {

std::string node_text(const Node& n) {
    switch (n.kind) {
        case Node::Kind::string: return fmt::format("\"{}\"", n.text);
        case Node::Kind::integer: return fmt::format("{}", n.integer);
        case Node::Kind::floating: return fmt::format("{}", n.floating);
        case Node::Kind::boolean: return n.boolean ? "true" : "false";
        case Node::Kind::array: {
            std::string out = "[";
            for (std::size_t i = 0; i < n.items.size(); ++i) out += (i ? ", " : "") + node_text(n.items[i]);
            return out + "]";
        }
        case Node::Kind::table: {
            std::string out = "{";
            for (std::size_t i = 0; i < n.fields.size(); ++i) out += fmt::format("{} {} = {}", i ? "," : "", n.fields[i].first, node_text(n.fields[i].second));
            return out + " }";
        }
        case Node::Kind::other: return n.text;
    }
    return n.text;
}

void flatten(const Node& n, const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
    if (n.kind == Node::Kind::table) {
        for (const auto& [key, child] : n.fields) flatten(child, path.empty() ? key : path + "." + key, out);
        return;
    }
    const bool tables = n.kind == Node::Kind::array && !n.items.empty() &&
                        std::all_of(n.items.begin(), n.items.end(), [](const Node& i) { return i.kind == Node::Kind::table; });
    if (tables) {
        for (std::size_t i = 0; i < n.items.size(); ++i) flatten(n.items[i], fmt::format("{}[{}]", path, i), out);
        return;
    }
    out.emplace_back(path, node_text(n));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> scenario_inputs(const std::filesystem::path& file, const LoadOptions& options) {
    const Node merged = detail::merge_document(detail::parse_document_file(file.string()), file, options);
    std::vector<std::pair<std::string, std::string>> out;
    flatten(merged, "", out);
    return out;
}

std::string read_scenario_text(const std::filesystem::path& file) { return detail::read_input_file(file.string()); }

Scenario load_scenario_from_string(std::string_view text, const std::string& name, const LoadOptions& options) {
    Node root = detail::parse_document(text, name);
    return read_scenario(std::move(root), std::filesystem::path(name), options);
}

}  // namespace gpuhours

namespace gpuhours {

const PhaseSpec* first_priced_phase(const Scenario& s) {
    const auto it = std::find_if(s.phases.begin(), s.phases.end(), [](const PhaseSpec& ph) { return ph.gpu_hour.has_value(); });
    return it == s.phases.end() ? nullptr : &*it;
}

bool prices_run(const Scenario& s) {
    return s.pricing.gpu_hour.has_value() || s.pricing.ownership.has_value() ||
           first_priced_phase(s) != nullptr;
}

void check_phase_prices(const Scenario& s) {
    // A phase's own rental price asks one of every phase, or of [pricing]: `run` refused the rest only when costing
    // them, after `check` said valid (a fresh verifier, #12).
    const bool phase_prices = first_priced_phase(s) != nullptr;
    for (const PhaseSpec& ph : s.phases) {
        if (phase_prices && !ph.gpu_hour && !s.pricing.gpu_hour) {
            throw ScenarioError(ph.where, fmt::format("phase \"{}\" has no rental price: other phases give gpu_hour but [pricing] does not", ph.name),
                                "give this phase a gpu_hour, or set [pricing] gpu_hour for the phases without their own");
        }
    }
}

ScenarioError unpriced_rung_error(const ClaimSpec& claim, CostRung rung, std::string_view missing) {
    return ScenarioError(claim.where,
                         fmt::format("the claim is about rung {} ({}), which the scenario does not price: {}",
                                     rung_number(rung), rung_title(rung), missing),
                         "give the rung its inputs, or set the claim's `rung` to one that is priced");
}

void check_claims_priced(const Scenario& s) {
    const bool priced = prices_run(s);
    const PricingSpec& p = s.pricing;
    const bool rental = p.gpu_hour || s.cluster.chip.rental_gpu_hour ||
                        first_priced_phase(s) != nullptr;
    for (const ClaimSpec& claim : s.claims) {
        const ClaimThresholds& t = claim.thresholds;
        if (!priced && claim.has_cost()) {
            throw ScenarioError(claim.where, "the claim states a cost but the scenario has no [pricing]",
                                "add [pricing] gpu_hour = \"$2\" (rental) or [pricing.ownership]");
        }
        if (!priced && (t.energy_below || t.energy_above || t.energy_within)) {
            // Energy comes from the same inputs as the cost (PUE, utilisation, host power); unpriced, it would be
            // judged as 0 kWh.
            throw ScenarioError(claim.where, "the claim states an energy but the scenario prices nothing: energy is "
                                             "reported only for a priced run",
                                "add [pricing] with its pue (e.g. 1.2) and gpu_hour = \"$2\" (or [pricing.ownership])");
        }
        if (!claim.has_cost() || !claim.rung) continue;
        bool given = false;  // the rung's inputs (the base rung is priced: prices_run)
        switch (*claim.rung) {
            case CostRung::rental: given = rental; break;
            case CostRung::ownership:
            case CostRung::capital: given = p.ownership.has_value(); break;
            case CostRung::research: given = p.research_multiplier.has_value() || !p.research_runs.empty(); break;
            case CostRung::staff: given = p.staff.has_value(); break;
        }
        if (!given) throw unpriced_rung_error(claim, *claim.rung, rung_needs(*claim.rung));
    }
}

}  // namespace gpuhours
