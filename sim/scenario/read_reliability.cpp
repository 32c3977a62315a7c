// Reads `reliability`: a fleet reliability catalog entry (scenarios/reliability/<name>.toml; kDefaultReliability when
// the scenario says nothing) with the scenario's own [reliability] keys on top, or "none".
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/scenario/limits.hpp>

#include <fmt/format.h>

#include <array>

namespace gpuhours::detail {
namespace {

struct OverheadKey {
    std::string_view key;   // in [reliability.overheads]
    std::string_view name;  // as printed
};
constexpr std::array kOverheadKeys{OverheadKey{"stragglers", "stragglers"},
                                   OverheadKey{"evaluation_pauses", "evaluation pauses"},
                                   OverheadKey{"data_loader_stalls", "data-loader stalls"},
                                   OverheadKey{"loss_spike_rollbacks", "loss-spike rollbacks"},
                                   OverheadKey{"scheduling", "scheduling"}};

// Reads the figures of the merged [reliability] table, each a value or { value = …, source = "…" }, and notes
// each one read as an assumption (its source, or "set in the scenario").
class ReliabilityReader {
public:
    ReliabilityReader(const Node& table, std::vector<Assumption>& out, std::string catalog)
        : r_(table, "reliability"), out_(out), catalog_(std::move(catalog)) {}
    TableReader& reader() { return r_; }

    // Figures read while `noting` is off (the recovery parts a restart_time replaces) are checked but not listed.
    const Node* figure(std::string_view key) {
        return note_figure(r_, key, noting ? out_ : unlisted_,
                           [&](const std::string& source, const SourceRef& where) { return source_text(source, where); });
    }
    bool from_catalog(const SourceRef& where) const { return !catalog_.empty() && where.file.ends_with(catalog_ + ".toml"); }
    std::string source_text(const std::string& source, const SourceRef& where) const {
        const bool catalog = from_catalog(where);
        if (source.empty()) return catalog ? fmt::format("scenarios/reliability/{}.toml", catalog_) : set_in_scenario(where);
        return catalog ? fmt::format("{} (scenarios/reliability/{}.toml)", source, catalog_) : source;
    }
    bool noting = true;
    Seconds duration(std::string_view key, std::string_view example, Seconds fallback) {
        const Node* n = figure(key);
        if (n == nullptr) return fallback;
        const std::string path = r_.path_of(key);
        const Seconds v = detail::as_quantity(*n, path, parse_duration, example);
        if (v.value() < 0) throw ScenarioError(n->where, fmt::format("`{}` cannot be negative", path));
        require_within(v.value(), *n, path, "reliability durations", 0.0, limits::kReliabilityDurationMax, "s",
                       "restarts and checkpoint writes take minutes, intervals minutes to hours; check the unit");
        return v;
    }
    std::optional<BytesPerSecond> bandwidth(std::string_view key) {
        const Node* n = figure(key);
        if (n == nullptr) return std::nullopt;
        const std::string path = r_.path_of(key);
        const BytesPerSecond b = detail::as_quantity(*n, path, parse_bandwidth, "2 TB/s");
        require_positive(b.value(), *n, path, "a bandwidth");
        require_within(b.value(), *n, path, "bandwidths", limits::kBandwidthMin, limits::kBandwidthMax, "B/s");
        return b;
    }

private:
    TableReader r_;
    std::vector<Assumption>& out_;
    std::vector<Assumption> unlisted_;
    std::string catalog_;
};

FailureClass read_failure(const Node& item, const std::string& name, const ReliabilityReader& rr) {
    TableReader fr(detail::as_table(item, name), name);
    FailureClass c;
    c.name = detail::as_string(fr.required("name", "name the kind of interruption, e.g. \"GPU\""), fr.path_of("name"));
    const Node* gpu = fr.optional("mtbf_per_gpu");
    const Node* node_mtbf = fr.optional("mtbf_per_node");
    if ((gpu == nullptr) == (node_mtbf == nullptr)) {
        const std::string message = fmt::format("{} needs exactly one of mtbf_per_gpu or mtbf_per_node", name);
        const std::string hint = "e.g. mtbf_per_gpu = \"50700 h\": one interruption per 50,700 GPU-hours";
        // Both given: located at the second, the value the search for every mistake can take out and read on.
        if (gpu != nullptr) throw ScenarioError(node_mtbf->where, message, hint);
        // Neither: a misspelt (`mtbf_per_gpus`) or shortened (`mtbf`) key is the mistake to name, or another
        // unknown key; else the class reads on with the hint's MTBF for the search for every mistake.
        fr.name_misspelling_of({"mtbf_per_gpu", "mtbf_per_node"});
        fr.allow("source");
        fr.finish();
        throw MissingKeyError(item.where, message, hint, "mtbf_per_gpu", stand_in(item.where, Node::Kind::string, 0, 0.0, "50700 h"));
    }
    const Node& n = gpu ? *gpu : *node_mtbf;
    const std::string path = fr.path_of(gpu ? "mtbf_per_gpu" : "mtbf_per_node");
    const Seconds mtbf = detail::as_quantity(n, path, parse_duration, "50700 h");
    require_positive(mtbf.value(), n, path, "a mean time between failures");
    if (!(mtbf.value() >= limits::kMtbfMin && mtbf.value() <= limits::kMtbfMax)) {
        // A one-key mistake: the search for every mistake reads on with the hint's example (the class keeps its MTBF).
        throw KeyError(n.where, n.where, false,
                       fmt::format("`{}` = {:g} s is {} the supported range of mean times between "
                                   "failures (limit {:g} s to {:g} s: a minute to 10^9 hours)", path, mtbf.value(),
                                   limits::range_side(mtbf.value(), limits::kMtbfMax), limits::kMtbfMin, limits::kMtbfMax),
                       "an MTBF per GPU or node is thousands of hours (e.g. \"50700 h\"); check the unit",
                       stand_in(n.where, Node::Kind::string, 0, 0.0, "50700 h"));
    }
    c.where = n.where;
    c.rate_per_unit_hour = 1.0 / in_hours(mtbf);
    c.per_node = node_mtbf != nullptr;
    std::string source;
    if (const Node* src = fr.optional("source")) source = detail::as_string(*src, fr.path_of("source"));
    // A rate set on the command line over a catalog class is the user's, not the catalog source's.
    c.source = n.where.file.starts_with("--set ") ? set_in_scenario(n.where) : rr.source_text(source, item.where);
    c.from_catalog = rr.from_catalog(item.where);
    fr.finish();
    return c;
}

std::vector<FailureClass> read_failures(const Node& f, const ReliabilityReader& rr) {
    if (f.kind != Node::Kind::array) {
        throw ScenarioError(f.where, "`reliability.failures` must be an array of tables",
                            "write each kind as a [[reliability.failures]] block");
    }
    std::vector<FailureClass> out;
    for (std::size_t i = 0; i < f.items.size(); ++i) {
        out.push_back(read_failure(f.items[i], fmt::format("reliability.failures[{}]", i), rr));
        // A class is named in every listing of the interruptions: an empty or repeated name is a mistake, not two
        // rates to add up silently.
        const Node* name = f.items[i].find("name");
        const SourceRef where = name != nullptr ? name->where : f.items[i].where;
        if (out.back().name.empty()) {
            throw ScenarioError(where, fmt::format("reliability.failures[{}].name is empty", i),
                                "name the kind of interruption, e.g. \"GPU\"");
        }
        for (std::size_t j = 0; j + 1 < out.size(); ++j) {
            if (out[j].name == out.back().name) {
                throw ScenarioError(where, fmt::format("reliability.failures[{}] and [{}] are both named \"{}\"", j, i, out.back().name),
                                    "give each kind of interruption its own name, or give one class the sum of their rates");
            }
        }
    }
    return out;
}

// [reliability.overheads]: each known overhead { fraction = …, source = "…" } (stragglers also at_gpus), or
// { source = "…" } alone: not modelled.
std::vector<OverheadSpec> read_overheads(const Node& node, const ReliabilityReader& rr) {
    TableReader r(detail::as_table(node, "reliability.overheads"), "reliability.overheads");
    std::vector<OverheadSpec> out;
    for (const OverheadKey& k : kOverheadKeys) {
        const Node* n = r.optional(k.key);
        if (n == nullptr) continue;
        const std::string path = r.path_of(k.key);
        TableReader o(detail::as_table(*n, path), path);
        OverheadSpec spec;
        spec.name = std::string(k.name);
        std::string source;
        if (const Node* src = o.optional("source")) source = detail::as_string(*src, o.path_of("source"));
        spec.source = rr.source_text(source, n->where);
        const Node* f = o.optional("fraction");
        if (k.key == "stragglers") {
            // A fraction without the GPU count it was measured at, checked before the fraction's own range (taking a
            // bad fraction out would hide it): located at the table that lacks it (the later layer's, when a
            // scenario's table merges into the catalog's); the search for every mistake reads on with the hint's
            // GPU count added.
            const Node* g = o.optional("at_gpus");
            if (f != nullptr && g == nullptr) {
                // At the fraction when it was written elsewhere than the table (a --set over the catalog's stragglers
                // table was blamed on the catalog's line; a fresh verifier, #12): the search takes the fraction out.
                const std::string message = fmt::format("`{}` needs at_gpus: the GPU count its fraction was measured at", path);
                if (f->where.file != n->where.file) {
                    throw ScenarioError(f->where, message, "e.g. stragglers = { fraction = 0.09, at_gpus = 65536, source = \"…\" }");
                }
                throw MissingKeyError(n->where, message,
                                      "e.g. stragglers = { fraction = 0.09, at_gpus = 65536, source = \"…\" }", "at_gpus",
                                      stand_in(n->where, Node::Kind::integer, 65536));
            }
            if (g != nullptr) spec.n_ref = detail::as_int(*g, o.path_of("at_gpus"), 2, 10'000'000);
        }
        if (f != nullptr) {
            const double v = detail::as_number(*f, o.path_of("fraction"));
            if (!(v >= 0.0 && v <= 1.0)) {
                throw KeyError(f->where, f->where, false,
                               fmt::format("`{}` = {} must be a fraction of step time from 0 to 1", o.path_of("fraction"), v),
                               "e.g. 0.02 for 2% more time per step", stand_in(f->where, Node::Kind::floating, 0, 0.02));
            }
            spec.fraction = v;
        }
        o.finish();
        out.push_back(std::move(spec));
    }
    r.finish();
    return out;
}

// The catalog entry under the scenario's table: the scenario's keys win, and a checkpoint_write or
// storage_bandwidth of the scenario replaces the catalog's other way of giving the write time.
Node merged_table(const Node* given, const std::string& name, const std::filesystem::path& catalog_dir, const SourceRef& where) {
    Node base = load_catalog_entry("reliability", name, catalog_dir, where);
    if (given == nullptr || given->kind != Node::Kind::table) return base;
    Node overlay = *given;
    overlay.erase("from");
    if (overlay.find("checkpoint_write")) {
        // The storage still serves the load after an interruption: its bandwidth becomes the read bandwidth.
        if (const Node* b = base.find("storage_bandwidth"); b != nullptr && base.find("read_bandwidth") == nullptr) {
            Node moved = *b;
            base.set("read_bandwidth", std::move(moved), b->where);
        }
        base.erase("storage_bandwidth");
    }
    if (overlay.find("storage_bandwidth")) base.erase("checkpoint_write");
    detail::merge_into(base, std::move(overlay));
    return base;
}

}  // namespace

ReliabilitySpec read_reliability(const Node* given, const std::filesystem::path& catalog_dir, std::vector<Assumption>& assumptions) {
    ReliabilitySpec s;
    s.from = std::string(kDefaultReliability);
    SourceRef from_where;  // where the entry is named; unknown: the default
    if (given != nullptr && given->kind == Node::Kind::string && !given->from_range) {
        s.from = given->text;
        from_where = given->where;
    } else if (given != nullptr) {
        const Node& table = detail::as_table(*given, "reliability");
        if (const Node* f = table.find("from")) {
            s.from = detail::as_string(*f, "reliability.from");
            from_where = f->where;
        }
    }
    if (s.from == "none") {
        if (given != nullptr && given->kind == Node::Kind::table && given->fields.size() > 1) {
            // At the first other key a --set wrote (a file's `reliability = "none"` and a --set of one of its keys:
            // the --set is the change; it was blamed on the file, in words the user never wrote, a fresh user's read,
            // session 55), else at `from`, whose position from_where is here.
            SourceRef at = from_where;
            std::string other;
            for (const auto& [key, value] : given->fields) {
                if (key == "from") continue;
                if (other.empty()) other = key;
                if (value.where.file.starts_with("--set") && !from_where.file.starts_with("--set")) {
                    at = value.where;
                    other = key;
                    break;
                }
            }
            throw ScenarioError(at, fmt::format("reliability is \"none\" ({}), which turns reliability off, but `reliability.{}` is set too",
                                                from_where.to_string(), other),
                                "remove the other keys, or name a catalog entry (scenarios/reliability/) to start from");
        }
        return s;
    }
    // The default entry comes from the shipped catalog when the scenario's own catalog has none (a catalog made
    // before scenarios/reliability/ existed, or one that only holds chips and models).
    std::filesystem::path dir = catalog_dir;
    std::error_code ec;
    if (!from_where.known() && !std::filesystem::is_regular_file(dir / "reliability" / (s.from + ".toml"), ec)) dir = default_catalog_dir();
    const Node node = merged_table(given, s.from, dir, from_where);
    ReliabilityReader rr(node, assumptions, s.from);
    TableReader& r = rr.reader();
    r.allow("from");
    if (const Node* src = r.optional("source")) (void)detail::as_string(*src, "reliability.source");
    if (r.has("restart_time")) {
        s.restart_time = rr.duration("restart_time", "15 min", Seconds(0));
        s.restart_given = true;
        s.restart_from_catalog = rr.from_catalog(r.table().find("restart_time")->where);
    }
    // A given restart_time replaces the recovery parts (detect, replace, initialisation, the checkpoint load at
    // read_bandwidth): still checked, not listed among the assumptions as if they were used. The scenario writing
    // both is a mistake (its parts would be dropped without a word); a restart_time over a catalog's parts is not.
    if (s.restart_given && !s.restart_from_catalog) {
        for (const char* part : {"detect", "replace", "init_per_gpu", "init_per_gpu_squared", "read_bandwidth"}) {
            const Node* n = r.table().find(part);
            if (n != nullptr && !rr.from_catalog(n->where)) {
                throw ScenarioError(n->where, fmt::format("reliability.{} is given with reliability.restart_time, which replaces it", part),
                                    "give restart_time (the whole restart) or its parts (detect, replace, init_per_gpu, "
                                    "init_per_gpu_squared, read_bandwidth), not both");
            }
        }
    }
    rr.noting = !s.restart_given;
    s.detect = rr.duration("detect", "5 min", Seconds(0));
    s.replace = rr.duration("replace", "9 min", Seconds(0));
    s.init_per_gpu = rr.duration("init_per_gpu", "3 ms", Seconds(0));
    s.init_per_gpu_squared = rr.duration("init_per_gpu_squared", "30 ns", Seconds(0));
    rr.noting = true;
    s.checkpoint_write = rr.duration("checkpoint_write", "1 min", Seconds(0));
    if (r.has("storage_bandwidth") && r.has("checkpoint_write")) {
        throw ScenarioError(r.table().find("storage_bandwidth")->where,
                            "give one of reliability.checkpoint_write and reliability.storage_bandwidth",
                            "checkpoint_write is the time of one write; storage_bandwidth derives it from the checkpoint's size");
    }
    s.storage_bandwidth = rr.bandwidth("storage_bandwidth");
    rr.noting = !s.restart_given;
    s.read_bandwidth = rr.bandwidth("read_bandwidth");
    rr.noting = true;
    if (const Node* a = r.optional("async_checkpoint")) {
        s.async_checkpoint = detail::as_bool(*a, "reliability.async_checkpoint");
        assumptions.push_back({"reliability.async_checkpoint", s.async_checkpoint ? "true" : "false",
                               rr.from_catalog(a->where) ? fmt::format("scenarios/reliability/{}.toml", s.from) : set_in_scenario(a->where)});
    } else {
        assumptions.push_back({"reliability.async_checkpoint", "false",
                               "default, not written: checkpoint writes block training for their duration"});
    }
    if (r.has("checkpoint_interval")) {
        s.checkpoint_interval = rr.duration("checkpoint_interval", "30 min", Seconds(0));
        if (s.checkpoint_interval->value() <= 0) {
            throw ScenarioError(r.table().find("checkpoint_interval")->where, "`reliability.checkpoint_interval` must be positive",
                                "leave it out to use the Young/Daly optimum");
        }
        if (s.checkpoint_interval->value() < limits::kCheckpointIntervalMin) {
            // A one-key mistake: the search for every mistake reads on with the hint's example.
            const SourceRef& where = r.table().find("checkpoint_interval")->where;
            throw KeyError(where, where, false,
                           fmt::format("`reliability.checkpoint_interval` = {:g} s is below the supported range of checkpoint "
                                       "intervals (limit at least {:g} s): a checkpoint is taken at a step boundary",
                                       s.checkpoint_interval->value(), limits::kCheckpointIntervalMin),
                           "checkpoints are minutes apart (e.g. \"30 min\"); check the unit, or leave it out for the Young/Daly optimum",
                           stand_in(where, Node::Kind::string, 0, 0.0, "30 min"));
        }
    }
    if (const Node* f = r.optional("failures")) s.failures = read_failures(*f, rr);
    if (const Node* o = r.optional("overheads")) s.overheads = read_overheads(*o, rr);
    r.finish();
    return s;
}

}  // namespace gpuhours::detail
