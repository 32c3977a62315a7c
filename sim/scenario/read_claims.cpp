// Reads the figures a scenario is checked against: [[claims]], [published] and the [whatif] comparison.
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <filesystem>
#include <memory>
#include <system_error>
#include <type_traits>

namespace gpuhours::detail {

namespace {

// An example pair of bounds, [low, high]: strings with their unit, or numbers.
struct WithinExample {
    std::string low, high;
    bool numbers = false;
    [[nodiscard]] std::string text() const {
        return numbers ? fmt::format("[{}, {}]", low, high) : fmt::format("[\"{}\", \"{}\"]", low, high);
    }
    // The pair as a value at `where`: the stand-in for the search for every mistake.
    [[nodiscard]] std::shared_ptr<const Node> at(const SourceRef& where) const {
        auto list = std::make_shared<Node>();
        list->kind = Node::Kind::array;
        list->where = where;
        for (const std::string& v : {low, high}) {
            list->items.push_back(numbers ? *stand_in(where, Node::Kind::floating, 0, std::stod(v))
                                          : *stand_in(where, Node::Kind::string, 0, 0.0, v));
        }
        return list;
    }
};

// A bound as a plain number: a count or fraction as it is, a quantity (dollars, seconds, joules) by its value.
template <class Q>
double raw_value(const Q& q) {
    if constexpr (std::is_arithmetic_v<Q>) return static_cast<double>(q);
    else return q.value();
}

// The two bounds of `key = [low, high]`, each read by `read` (a quantity or a number) at its own position; a list
// of another length is a mistake of this key alone, read on with `example`.
template <class Q, class Read>
std::optional<Within<Q>> read_within(TableReader& r, std::string_view key, Read read, const WithinExample& example) {
    const Node* n = r.optional(key);
    if (n == nullptr) return std::nullopt;
    const std::string path = r.path_of(key);
    if (n->kind != Node::Kind::array || n->items.size() != 2) {
        throw KeyError(n->where, n->where, false, fmt::format("`{}` must be a list of two bounds, [low, high]", path),
                       fmt::format("e.g. {} = {}", key, example.text()), example.at(n->where));
    }
    Within<Q> w{read(n->items[0], path + "[0]"), read(n->items[1], path + "[1]")};
    if (!(raw_value(w.low) > 0) || !(raw_value(w.low) < raw_value(w.high))) {
        // For the search for every mistake, the claim reads on with its bounds swapped (it keeps a bound to check).
        auto swapped = std::make_shared<Node>(*n);
        std::swap(swapped->items[0], swapped->items[1]);
        throw KeyError(n->where, n->where, false, fmt::format("`{}` needs 0 < low < high", path), "put the lower bound first",
                       std::move(swapped));
    }
    return w;
}

// The text of a threshold as written (a string value), for printing beside its normalised value.
void remember_written(ClaimThresholds& t, TableReader& r, std::string_view key) {
    const Node* n = r.table().find(key);
    if (n != nullptr && n->kind == Node::Kind::string) t.written.emplace_back(std::string(key), n->text);
    // A `*_within` pair's bounds as `key[0]` and `key[1]`.
    for (std::size_t i = 0; n != nullptr && n->kind == Node::Kind::array && i < n->items.size() && i < 2; ++i) {
        if (n->items[i].kind == Node::Kind::string) t.written.emplace_back(fmt::format("{}[{}]", key, i), n->items[i].text);
    }
}

// A claim read on in the search for every mistake with a bound of its own (`mfu_below = 0.999`), so that a claim that
// states nothing does not end the search and the claims after it keep their index.
void with_stand_in_bound(Node& claim, const SourceRef& where) {
    Node bound;
    bound.kind = Node::Kind::floating;
    bound.floating = 0.999;
    bound.where = where;
    claim.set("mfu_below", std::move(bound), where);
}

// A claim's `text`, quoting it. For the search for every mistake, a claim without one, or with one that is not a
// string, reads on with a stand-in text (its other mistakes show too).
std::string claim_text(const Node& node, TableReader& r, const std::string& name) {
    if (node.kind == Node::Kind::table && node.find("text") == nullptr) {
        auto with_text = std::make_shared<Node>(node);
        Node text;
        text.kind = Node::Kind::string;
        text.text = name;
        text.where = node.where;
        with_text->set("text", std::move(text), node.where);
        // No bound either (an empty [[claims]]): both said at once, and the stand-in gets a bound too, so that the
        // search reads on to the claims after it (an audit: it stopped here, hiding a later claim's mistake).
        const bool bounded = std::any_of(node.fields.begin(), node.fields.end(), [](const auto& f) {
            return f.first.ends_with("_below") || f.first.ends_with("_above") || f.first.ends_with("_within");
        });
        if (!bounded) {
            with_stand_in_bound(*with_text, node.where);
            throw CoupledError(node.where, fmt::format("{} has no `text` and states nothing to check", name),
                               "add `text = \"…\"` quoting the claim and a bound: cost_below / cost_above / cost_within, "
                               "and the same for wall_clock, gpu_hours, mfu and energy",
                               std::move(with_text));
        }
        throw CoupledError(node.where, fmt::format("{} has no `text`", name), "add `text = \"…\"` quoting the claim", std::move(with_text));
    }
    const Node& text = r.required("text", "add `text = \"…\"` quoting the claim");
    std::string quoted;
    try {
        quoted = detail::as_string(text, r.path_of("text"));
    } catch (const ScenarioError& e) {
        // A table or range taken out made a spurious "has no `text`" come first (a third fresh verifier, #12).
        throw detail::KeyError(e.where(), text.where, false, e.message(), e.hint(), stand_in(text.where, Node::Kind::string, 0, 0.0, name));
    }
    // An empty text is refused as a missing one is (an auditor's read): every verdict quotes it.
    if (quoted.find_first_not_of(" \t") == std::string::npos) {
        throw detail::KeyError(text.where, text.where, false, fmt::format("`{}` is empty", r.path_of("text")),
                               "quote the claim being judged, e.g. text = \"trained for under $6M\"",
                               stand_in(text.where, Node::Kind::string, 0, 0.0, name));
    }
    return quoted;
}

// A bound or a `*_within` pair as plain numbers (raw_value), nullopt when not given.
template <class Q>
std::optional<double> raw(const std::optional<Q>& q) {
    if (!q) return std::nullopt;
    return raw_value(*q);
}
template <class Q>
std::optional<std::pair<double, double>> raw(const std::optional<Within<Q>>& w) {
    if (!w) return std::nullopt;
    return std::make_pair(raw_value(w->low), raw_value(w->high));
}

// One metric's bounds (`<metric>_below`, `_above`, `_within`) that no value meets together — cost_below = "$6M" with
// cost_above = "$7M" — make a claim that fails for every run whatever it costs (an audit found it accepted, judged
// FAILS at 0 %). Located at the last-written of the bounds (a --set after the file's).
void require_some_value_meets(TableReader& r, const std::string& name, std::string_view metric, std::optional<double> below,
                              std::optional<double> above, std::optional<std::pair<double, double>> within) {
    double low = -std::numeric_limits<double>::infinity();
    double high = std::numeric_limits<double>::infinity();
    if (above) low = *above;
    if (below) high = *below;
    if (within) {
        low = std::max(low, within->first);
        high = std::min(high, within->second);
    }
    if (low < high) return;
    const Node* last = nullptr;
    std::vector<std::string> keys;
    for (const char* suffix : {"_below", "_above", "_within"}) {
        const std::string key = fmt::format("{}{}", metric, suffix);
        const Node* n = r.table().find(key);
        if (n == nullptr) continue;
        keys.push_back(fmt::format("`{}`", r.path_of(key)));
        const auto later = [](const SourceRef& a, const SourceRef& b) {
            if (a.file != b.file) return a.file.starts_with("--set") && !b.file.starts_with("--set");
            return std::tie(a.line, a.column) > std::tie(b.line, b.column);
        };
        if (last == nullptr || later(n->where, last->where)) last = n;
    }
    throw ScenarioError(last->where,
                        fmt::format("{} leave no {} that meets them all: {} fails for every run", fmt::join(keys, " and "),
                                    metric, name),
                        fmt::format("keep one bound, or write {}_within = [low, high] with low below high", metric));
}

}  // namespace

ClaimSpec read_claim(const Node& node, std::size_t index) {
    const std::string name = fmt::format("claims[{}]", index);
    ClaimSpec c;
    c.where = node.where;
    TableReader r(detail::as_table(node, name), name);
    ClaimThresholds& t = c.thresholds;
    c.text = claim_text(node, r, name);
    // A bound on a cost, a duration, an energy or GPU-hours is positive: "-2 months" would hold or fail for every run.
    const auto money = [](const Node& n, const std::string& path) {
        const Dollars v = detail::as_quantity(n, path, parse_dollars, "$6M");
        require_positive(v.value(), n, path, "a cost bound");
        require_within(v.value(), n, path, "cost bounds", 0.0, limits::kBudgetMax, "$", "a training run costs millions to billions of dollars: check the exponent");
        return v;
    };
    const auto duration = [](const Node& n, const std::string& path) {
        const Seconds v = detail::as_quantity(n, path, parse_duration, "2 months");
        require_positive(v.value(), n, path, "a duration bound");
        require_within(v.value(), n, path, "wall-clock bounds", 0.0, limits::kDeadlineMax, "s", "at most 100 years: check the unit and the exponent");
        return v;
    };
    const auto energy = [](const Node& n, const std::string& path) {
        const Joules v = detail::as_quantity(n, path, parse_energy, "10 GWh");
        require_positive(v.value(), n, path, "an energy bound");
        require_within(v.value(), n, path, "energy bounds", 0.0, limits::kEnergyMax, "J", "a training run draws GWh: check the unit and the exponent");
        return v;
    };
    const auto count = [](const Node& n, const std::string& path) {
        const double v = detail::as_count(n, path);
        require_positive(v, n, path, "a GPU-hour bound");
        require_within(v, n, path, "GPU-hour bounds", 0.0, limits::kGpuHoursMax, "", "published runs take millions of GPU-hours: check the suffix");
        return v;
    };
    const auto fraction = [](const Node& n, const std::string& path) {
        const double v = detail::as_number(n, path);
        if (!(v > 0 && v < 1)) {
            // For the search for every mistake, the claim reads on with 0.4 (it keeps a bound to check).
            throw KeyError(n.where, n.where, false, fmt::format("`{}` is a fraction, e.g. 0.4 for 40%", path), {},
                           stand_in(n.where, Node::Kind::floating, 0, 0.4));
        }
        return v;
    };
    const auto one = [&](std::string_view key, auto read) {
        using Q = decltype(read(node, std::string()));
        std::optional<Q> out;
        if (const Node* n = r.optional(key)) out = read(*n, r.path_of(key));
        remember_written(t, r, key);
        return out;
    };
    t.cost_below = one("cost_below", money);
    t.cost_above = one("cost_above", money);
    t.cost_within = read_within<Dollars>(r, "cost_within", money, {"$5M", "$7M"});
    remember_written(t, r, "cost_within");
    t.wall_clock_below = one("wall_clock_below", duration);
    t.wall_clock_above = one("wall_clock_above", duration);
    t.wall_clock_within = read_within<Seconds>(r, "wall_clock_within", duration, {"1 month", "2 months"});
    remember_written(t, r, "wall_clock_within");
    t.gpu_hours_below = one("gpu_hours_below", count);
    t.gpu_hours_above = one("gpu_hours_above", count);
    t.gpu_hours_within = read_within<double>(r, "gpu_hours_within", count, {"2M", "3M"});
    remember_written(t, r, "gpu_hours_within");
    t.mfu_above = one("mfu_above", fraction);
    t.mfu_below = one("mfu_below", fraction);
    t.mfu_within = read_within<double>(r, "mfu_within", fraction, {"0.3", "0.5", true});
    remember_written(t, r, "mfu_within");
    t.energy_below = one("energy_below", energy);
    t.energy_above = one("energy_above", energy);
    t.energy_within = read_within<Joules>(r, "energy_within", energy, {"1 GWh", "2 GWh"});
    remember_written(t, r, "energy_within");
    if (const Node* n = r.optional("rung")) {
        const std::string text = detail::as_string(*n, r.path_of("rung"));
        c.rung = cost_rung_from_string(text);
        if (!c.rung) {
            throw ScenarioError(n->where, fmt::format("`{}` = \"{}\" is not a cost rung", r.path_of("rung"), text),
                                std::string(kCostRungHint));
        }
        if (!c.has_cost()) {
            // A misspelt cost bound (`cost_belwo`) is the mistake to name, read on as the bound it means.
            r.allow("basis");
            r.finish();
            throw ScenarioError(n->where, fmt::format("`{}` names a cost rung but the claim states no cost bound", r.path_of("rung")),
                                "add cost_below, cost_above or cost_within, or remove `rung`");
        }
    }
    if (const Node* n = r.optional("basis")) {
        const std::string text = detail::as_string(*n, r.path_of("basis"));
        const auto basis = gpu_hour_basis_from_string(text);
        if (!basis) {
            throw ScenarioError(n->where, fmt::format("`{}` = \"{}\" is not a basis", r.path_of("basis"), text),
                                "write basis = \"allocated\" (what the cluster is held for, failures and restarts included; "
                                "the default) or \"steady-state\" (steps × step time × GPUs, as DeepSeek-V3 reports)");
        }
        c.basis = *basis;
    }
    r.finish();
    const bool any = t.cost_below || t.cost_above || t.cost_within || t.wall_clock_below || t.wall_clock_above ||
                     t.wall_clock_within || t.gpu_hours_below || t.gpu_hours_above || t.gpu_hours_within || t.mfu_above ||
                     t.mfu_below || t.mfu_within || t.energy_below || t.energy_above || t.energy_within;
    if (!any) {
        // For the search for every mistake, the claim reads on with a bound (so the claims after it keep their index).
        auto bounded = std::make_shared<Node>(node);
        with_stand_in_bound(*bounded, node.where);
        throw CoupledError(node.where, fmt::format("{} states nothing to check", name),
                           "add a bound: cost_below / cost_above / cost_within, and the same for wall_clock, gpu_hours, "
                           "mfu and energy",
                           std::move(bounded));
    }
    require_some_value_meets(r, name, "cost", raw(t.cost_below), raw(t.cost_above), raw(t.cost_within));
    require_some_value_meets(r, name, "wall_clock", raw(t.wall_clock_below), raw(t.wall_clock_above), raw(t.wall_clock_within));
    require_some_value_meets(r, name, "gpu_hours", raw(t.gpu_hours_below), raw(t.gpu_hours_above), raw(t.gpu_hours_within));
    require_some_value_meets(r, name, "mfu", raw(t.mfu_below), raw(t.mfu_above), raw(t.mfu_within));
    require_some_value_meets(r, name, "energy", raw(t.energy_below), raw(t.energy_above), raw(t.energy_within));
    return c;
}

namespace {

// A `published.informed` entry: "<catalog file> <dotted key>", the file under the catalog directory and the key in
// it (so that a misspelt figure is not silently counted as informed by nothing).
void check_informed(const Node& item, const std::string& path, const std::string& figure, const std::filesystem::path& catalog_dir) {
    const auto space = figure.find(' ');
    const std::string file = figure.substr(0, space);
    const std::string key = space == std::string::npos ? std::string() : figure.substr(space + 1);
    const std::string hint = "write the catalog file and the figure's key, e.g. \"chips/a100-80gb.toml efficiency.gemm\"";
    if (key.empty() || !file.ends_with(".toml")) {
        throw ScenarioError(item.where, fmt::format("`{}` = \"{}\" is not \"<catalog file> <key>\"", path, figure), hint);
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(catalog_dir / file, ec)) {
        throw ScenarioError(item.where, fmt::format("`{}`: no catalog file {}", path, (catalog_dir / file).string()), hint);
    }
    const Node root = detail::parse_document_file((catalog_dir / file).string(), item.where);
    const Node* at = &root;
    std::size_t from = 0;
    while (at != nullptr && from <= key.size()) {
        const auto dot = key.find('.', from);
        const std::string part = key.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
        at = at->kind == Node::Kind::table ? at->find(part) : nullptr;
        if (dot == std::string::npos) break;
        from = dot + 1;
    }
    if (at == nullptr) {
        throw ScenarioError(item.where, fmt::format("`{}`: {} has no key {}", path, file, key), hint);
    }
}

}  // namespace

PublishedSpec read_published(const Node& node, const std::filesystem::path& catalog_dir) {
    PublishedSpec p;
    TableReader r(node, "published");
    p.source = detail::as_string(r.required("source", "cite the paper and table the figures come from"), "published.source");
    if (const Node* n = r.optional("attention")) {
        const std::string a = detail::as_string(*n, "published.attention");
        if (a != "causal" && a != "full") throw ScenarioError(n->where, "`published.attention` must be \"causal\" or \"full\"", "say which attention FLOPs the paper counted");
        p.causal_attention_flops = a == "causal";
    }
    // Each figure positive and within a range, as the scenario's own keys: `mfu_bf16 = 0` printed an error of +inf%,
    // `step_time = "-1 s"` an error of −451 %, a TFLOP/s figure of 1e300 a 300-digit column, each with exit 0 (a fresh
    // verifier, #12).
    const auto ranged = [&](const Node& n, const std::string& path, double value, double hi, std::string_view what) {
        require_positive(value, n, path, what);
        require_within(value, n, path, what, 0.0, hi, "", "a published figure this large is a wrong unit or exponent");
        return value;
    };
    if (const Node* n = r.optional("step_time")) {
        p.step_time = detail::as_quantity(*n, "published.step_time", parse_duration, "19.926 s");
        (void)ranged(*n, "published.step_time", p.step_time->value(), SimTime::kMaxSeconds, "step times (s)");
    }
    if (const Node* n = r.optional("model_tflops_per_gpu")) {
        p.model_tflops_per_gpu = ranged(*n, "published.model_tflops_per_gpu", detail::as_number(*n, "published.model_tflops_per_gpu"),
                                        limits::kPeakFlopsMax / 1e12, "TFLOP/s per GPU");
    }
    if (const Node* n = r.optional("hardware_tflops_per_gpu")) {
        p.hardware_tflops_per_gpu = ranged(*n, "published.hardware_tflops_per_gpu", detail::as_number(*n, "published.hardware_tflops_per_gpu"),
                                           limits::kPeakFlopsMax / 1e12, "TFLOP/s per GPU");
    }
    if (const Node* n = r.optional("mfu_bf16")) {
        p.mfu_bf16 = ranged(*n, "published.mfu_bf16", detail::as_number(*n, "published.mfu_bf16"), 1.0, "MFU fractions");
    }
    if (const Node* n = r.optional("phase_gpu_hours")) {
        const Node& t = detail::as_table(*n, "published.phase_gpu_hours");
        for (const auto& [name, value] : t.fields) {
            const std::string path = fmt::format("published.phase_gpu_hours.\"{}\"", name);
            p.phase_gpu_hours.emplace_back(name, ranged(value, path, detail::as_count(value, path), limits::kGpuHoursMax, "GPU-hours"));
        }
    }
    if (const Node* n = r.optional("gpu_hours_per_trillion_tokens")) {
        p.gpu_hours_per_trillion_tokens = ranged(*n, "published.gpu_hours_per_trillion_tokens",
                                                 detail::as_count(*n, "published.gpu_hours_per_trillion_tokens"), limits::kGpuHoursMax, "GPU-hours");
    }
    if (const Node* n = r.optional("tokens_per_second_per_gpu")) {
        p.tokens_per_second_per_gpu = ranged(*n, "published.tokens_per_second_per_gpu",
                                             detail::as_number(*n, "published.tokens_per_second_per_gpu"), 1e9, "tokens per second");
    }
    if (const Node* n = r.optional("informed")) {
        if (n->kind != Node::Kind::array) {
            throw ScenarioError(n->where, "`published.informed` must be an array of catalog figures",
                                "e.g. informed = [\"chips/h800.toml efficiency.gemm_fp8\"], the figures fitted on this run");
        }
        for (std::size_t i = 0; i < n->items.size(); ++i) {
            const std::string path = fmt::format("published.informed[{}]", i);
            std::string figure = detail::as_string(n->items[i], path);
            if (figure.empty()) throw ScenarioError(n->items[i].where, fmt::format("`{}` is empty", path), "name the catalog file and key, e.g. \"chips/a100-80gb.toml efficiency.gemm\"");
            check_informed(n->items[i], path, figure, catalog_dir);
            p.informed.push_back(std::move(figure));
        }
    }
    r.finish();
    return p;
}

// [whatif]: the comparison `gpuhours whatif` and `gpuhours report` run when no flags say otherwise.
WhatIfSpec read_whatif(const Node& node, const std::filesystem::path& catalog_dir) {
    WhatIfSpec w;
    w.where = node.where;
    TableReader r(node, "whatif");
    if (const Node* n = r.optional("chips")) {
        if (n->kind != Node::Kind::array || n->items.empty()) {
            throw ScenarioError(n->where, "`whatif.chips` must be a non-empty array of chip names", "e.g. chips = [\"h800\", \"h100\", \"h20\"]");
        }
        const std::vector<std::string> known = catalog_names(catalog_dir, "chips");
        for (std::size_t i = 0; i < n->items.size(); ++i) {
            const std::string path = fmt::format("whatif.chips[{}]", i);
            const std::string id = detail::as_string(n->items[i], path);
            if (std::find(known.begin(), known.end(), id) == known.end()) {
                // Its stand-in (for the search for every mistake) is the suggested chip, else the catalog's first: an
                // item replaced, not taken out, so the later items keep their index in the messages.
                const auto meant = detail::meanings(id, known);
                throw detail::KeyError(n->items[i].where, n->items[i].where, false,
                                       fmt::format("`{}` = \"{}\" is not a chip in the catalog", path, id),
                                       !meant.empty() ? fmt::format("did you mean {}? (known chips: {})", detail::quoted(meant), fmt::join(known, ", "))
                                                      : fmt::format("known chips: {}", fmt::join(known, ", ")),
                                       stand_in(n->items[i].where, Node::Kind::string, 0, 0.0,
                                                !meant.empty() ? meant.front() : known.empty() ? id : known.front()));
            }
            w.chips.push_back(id);
            w.chip_where.push_back(n->items[i].where);
        }
    }
    if (const Node* n = r.optional("rule")) {
        w.rule = detail::as_string(*n, "whatif.rule");
        // A rule set of scenarios/policy/, checked here so that `check` refuses what `whatif` would (its stand-in, for
        // the search for every mistake, is the suggested rule set, else the first).
        const std::vector<std::string> known = rule_set_names(catalog_dir);
        if (std::find(known.begin(), known.end(), w.rule) == known.end()) {
            const auto best = detail::suggest(w.rule, known);
            throw detail::KeyError(n->where, n->where, false, fmt::format("`whatif.rule` = \"{}\" is not a rule set in scenarios/policy/", w.rule),
                                   best ? fmt::format("did you mean \"{}\"? (known rule sets: {})", *best, fmt::join(known, ", "))
                                        : fmt::format("known rule sets: {}", fmt::join(known, ", ")),
                                   known.empty() ? nullptr : stand_in(n->where, Node::Kind::string, 0, 0.0, best.value_or(known.front())));
        }
        // A rule of memory scope cannot choose the chips (whatif_request refuses it there too): refused where it is
        // written when the table names no chips for it to classify.
        if (w.chips.empty()) {
            const RuleSet rules = load_rule_set(w.rule, catalog_dir);
            if (rules.memory_scope) {
                std::vector<std::string> chip_rules;  // the catalog's rule sets that can choose chips: the stand-in and hint
                for (const auto& name : known) {
                    if (!load_rule_set(name, catalog_dir).memory_scope) chip_rules.push_back(name);
                }
                throw detail::KeyError(
                    n->where, n->where, false, "`whatif.rule`: " + memory_scope_refusal(rules),
                    fmt::format("add `chips = [\"…\"]` to [whatif] for it to classify them{}",
                                chip_rules.empty() ? std::string()
                                                   : fmt::format(", or name a rule set that classifies chips ({})", fmt::join(chip_rules, ", "))),
                    chip_rules.empty() ? nullptr : stand_in(n->where, Node::Kind::string, 0, 0.0, chip_rules.front()));
            }
        }
    }
    if (const Node* n = r.optional("deadline")) {
        w.deadline = detail::as_quantity(*n, "whatif.deadline", parse_duration, "2 months");
        require_positive(w.deadline->value(), *n, "whatif.deadline", "a duration");
        // As --deadline (limits.hpp): an hour to a century.
        if (!(w.deadline->value() >= limits::kDeadlineMin && w.deadline->value() <= limits::kDeadlineMax)) {
            throw detail::KeyError(n->where, n->where, false,
                                   fmt::format("`whatif.deadline` = \"{}\" is {} the supported range of deadlines (limit 1 hour to 100 years)",
                                               n->text, limits::range_side(w.deadline->value(), limits::kDeadlineMax)),
                                   "e.g. deadline = \"2 months\"", stand_in(n->where, Node::Kind::string, 0, 0.0, "2 months"));
        }
    }
    r.finish();
    if (w.chips.empty() && w.rule.empty()) {
        // The search for every mistake reads on with one chip.
        auto chips = std::make_shared<Node>();
        chips->kind = Node::Kind::array;
        chips->where = node.where;
        chips->items.push_back(*stand_in(node.where, Node::Kind::string, 0, 0.0, "h100"));
        throw MissingKeyError(node.where, "[whatif] needs chips or a rule",
                              "e.g. chips = [\"h800\", \"h100\", \"h20\"] or rule = \"oct-2023\"", "chips", std::move(chips));
    }
    return w;
}

}  // namespace gpuhours::detail
