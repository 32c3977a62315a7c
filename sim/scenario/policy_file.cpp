// Reads export-control rule sets (scenarios/policy/<id>.toml) into policy.hpp's RuleSet. The schema is
// documented in scenarios/policy/README.md; unknown keys are errors at file:line:col with a suggestion.
#include <gpuhours/run/policy.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include "document.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace gpuhours {

using detail::Node;
using detail::TableReader;

namespace {

std::filesystem::path policy_dir(const std::filesystem::path& catalog_dir) {
    return (catalog_dir.empty() ? default_catalog_dir() : catalog_dir) / "policy";
}

std::string list_of(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return list;
}

PolicyMetric read_metric(const Node& node, const std::string& path) {
    const std::string name = detail::as_string(node, path);
    if (auto m = policy_metric_from_string(name)) return *m;
    const std::vector<std::string> known = policy_metric_names();
    std::string hint = fmt::format("known metrics: {}", list_of(known));
    if (auto best = detail::suggest(name, known)) hint = fmt::format("did you mean \"{}\"? {}", *best, hint);
    throw ScenarioError(node.where, fmt::format("`{}` = \"{}\" is not a known metric", path, name), hint);
}

Condition read_condition(const Node& node, const std::string& path);

// `all = [...]` or `any = [...]`: a non-empty array of conditions.
Condition read_combination(const Node& array, Condition::Combine combine, const std::string& path) {
    if (array.kind != Node::Kind::array || array.items.empty()) {
        throw ScenarioError(array.where, fmt::format("`{}` must be a non-empty array of conditions", path),
                            "e.g. [{ metric = \"tpp\", at_least = 4800 }]");
    }
    Condition c;
    c.combine = combine;
    for (std::size_t i = 0; i < array.items.size(); ++i) {
        c.terms.push_back(read_condition(array.items[i], fmt::format("{}[{}]", path, i)));
    }
    return c;
}

// One condition: { metric = "…", at_least/above/at_most/below = N } or { all = [...] } or { any = [...] }.
Condition read_condition(const Node& node, const std::string& path) {
    TableReader r(detail::as_table(node, path), path);
    const Node* all = r.optional("all");
    const Node* any = r.optional("any");
    if (all != nullptr || any != nullptr) {
        if (all != nullptr && any != nullptr) {
            throw ScenarioError(node.where, fmt::format("`{}` has both `all` and `any`", path),
                                "nest one inside the other: { all = [ …, { any = [ … ] } ] }");
        }
        r.finish();
        return all != nullptr ? read_combination(*all, Condition::Combine::all, r.path_of("all"))
                              : read_combination(*any, Condition::Combine::any, r.path_of("any"));
    }
    Condition c;
    c.combine = Condition::Combine::leaf;
    Threshold& t = c.threshold;
    t.where = node.where;
    const Node* metric = r.optional("metric");
    auto bound = [&](const char* key) -> std::optional<double> {
        if (const Node* n = r.optional(key)) return detail::as_number(*n, r.path_of(key));
        return std::nullopt;
    };
    t.at_least = bound("at_least");
    t.above = bound("above");
    t.at_most = bound("at_most");
    t.below = bound("below");
    r.finish();  // a misspelt key is reported (with a suggestion) before anything it would have supplied
    if (metric == nullptr) {
        throw ScenarioError(node.where, fmt::format("condition `{}` names no metric", path),
                            fmt::format("add `metric = \"tpp\"` (one of {}), or write `all = [...]` / `any = [...]`",
                                        list_of(policy_metric_names())));
    }
    t.metric = read_metric(*metric, r.path_of("metric"));
    if (!t.at_least && !t.above && !t.at_most && !t.below) {
        throw ScenarioError(node.where, fmt::format("condition `{}` has no bound", path),
                            "add at_least, above, at_most or below, e.g. `at_least = 4800`");
    }
    if (t.at_least && t.above) {
        throw ScenarioError(node.where, fmt::format("condition `{}` has both `at_least` and `above`", path),
                            "keep one lower bound");
    }
    if (t.at_most && t.below) {
        throw ScenarioError(node.where, fmt::format("condition `{}` has both `at_most` and `below`", path),
                            "keep one upper bound");
    }
    const std::optional<double> low = t.at_least ? t.at_least : t.above;
    const std::optional<double> high = t.at_most ? t.at_most : t.below;
    if (low && high && !(*low < *high)) {
        throw ScenarioError(node.where,
                            fmt::format("condition `{}` can never hold: lower bound {} is not below upper bound {}",
                                        path, *low, *high));
    }
    return c;
}

RuleClass read_class(const Node& node, std::size_t index) {
    const std::string path = fmt::format("classes[{}]", index);
    TableReader r(detail::as_table(node, path), path);
    RuleClass c;
    c.where = node.where;
    c.name = detail::as_string(r.required("name", "add `name = \"3A090.a\"`"), r.path_of("name"));
    c.source = detail::as_string(r.required("source", "cite the rule: FR citation and section"), r.path_of("source"));
    if (const Node* n = r.optional("description")) c.description = detail::as_string(*n, r.path_of("description"));
    if (const Node* n = r.optional("permitted")) c.permitted = detail::as_bool(*n, r.path_of("permitted"));
    const Node* all = r.optional("all");
    const Node* any = r.optional("any");
    r.finish();
    if ((all == nullptr) == (any == nullptr)) {
        throw ScenarioError(node.where, fmt::format("class `{}` needs exactly one of `all` or `any`", c.name),
                            "e.g. any = [{ metric = \"tpp\", at_least = 4800 }]");
    }
    c.condition = all != nullptr ? read_combination(*all, Condition::Combine::all, r.path_of("all"))
                                 : read_combination(*any, Condition::Combine::any, r.path_of("any"));
    return c;
}

// `not_subject = { vendors = ["Huawei"], source = "…" }`: vendors whose parts the rule does not reach.
void read_not_subject(const Node& node, RuleSet& rules) {
    TableReader t(detail::as_table(node, "not_subject"), "not_subject");
    const Node& vendors = t.required("vendors", "add `vendors = [\"…\"]`, the chips' `vendor` as the catalog writes it");
    const Node& source = t.required("source", "cite why the rule does not reach them");
    rules.not_subject_source = detail::as_string(source, "not_subject.source");
    t.finish();
    if (rules.not_subject_source.empty()) {
        throw ScenarioError(source.where, "`not_subject.source` is empty", "cite why the rule does not reach these vendors' parts");
    }
    if (vendors.kind != Node::Kind::array || vendors.items.empty()) {
        throw ScenarioError(vendors.where, "`not_subject.vendors` must be a non-empty list of vendor names",
                            "e.g. vendors = [\"Huawei\"], as the chips' `vendor` key writes them");
    }
    for (std::size_t i = 0; i < vendors.items.size(); ++i) {
        const std::string path = fmt::format("not_subject.vendors[{}]", i);
        const std::string vendor = detail::as_string(vendors.items[i], path);
        if (vendor.empty()) throw ScenarioError(vendors.items[i].where, fmt::format("`{}` is empty", path), "write a vendor as the chips' `vendor` key does, e.g. \"Huawei\"");
        rules.not_subject_vendors.push_back(vendor);
        rules.not_subject_where.push_back(vendors.items[i].where);
    }
}

RuleSet read_rule_set(const Node& root, const std::string& id) {
    TableReader r(root, "");
    RuleSet rules;
    rules.id = id;
    rules.title = detail::as_string(r.required("title", "add `title = \"…\"` naming the rule"), "title");
    rules.source = detail::as_string(r.required("source", "cite the rule: FR citation, [U] where unverified"), "source");
    if (const Node* n = r.optional("note")) rules.note = detail::as_string(*n, "note");
    if (const Node* n = r.optional("scope")) {
        const std::string scope = detail::as_string(*n, "scope");
        if (scope != "chip" && scope != "memory") {
            throw ScenarioError(n->where, fmt::format("`scope` = \"{}\" is not what a rule set classifies", scope),
                                "write \"chip\" (the accelerator, the default) or \"memory\" (the memory on a package, as 3A090.c)");
        }
        rules.memory_scope = scope == "memory";
    }
    if (const Node* n = r.optional("not_subject")) read_not_subject(*n, rules);
    const Node& classes = r.required("classes", "add one [[classes]] block per class, checked in order");
    const Node& fallback = r.required("default", "add [default] with the class that applies when none does");
    r.finish();
    if (classes.kind != Node::Kind::array || classes.items.empty()) {
        throw ScenarioError(classes.where, "`classes` must be a non-empty array of tables",
                            "write each class as a [[classes]] block");
    }
    for (std::size_t i = 0; i < classes.items.size(); ++i) {
        RuleClass c = read_class(classes.items[i], i);
        const bool duplicate = std::any_of(rules.classes.begin(), rules.classes.end(),
                                           [&](const RuleClass& other) { return other.name == c.name; });
        if (duplicate) throw ScenarioError(c.where, fmt::format("class `{}` is defined twice", c.name));
        rules.classes.push_back(std::move(c));
    }
    TableReader d(detail::as_table(fallback, "default"), "default");
    rules.fallback.where = fallback.where;
    rules.fallback.name = detail::as_string(d.required("name", "add `name = \"not controlled\"`"), "default.name");
    if (const Node* n = d.optional("source")) rules.fallback.source = detail::as_string(*n, "default.source");
    if (const Node* n = d.optional("description")) rules.fallback.description = detail::as_string(*n, "default.description");
    rules.fallback.permitted = true;
    if (const Node* n = d.optional("permitted")) rules.fallback.permitted = detail::as_bool(*n, "default.permitted");
    d.finish();
    return rules;
}

// A not_subject vendor no catalog chip has would reach nothing (a case or spelling slip: "huawei"): refused at its
// position, with the nearest vendor the catalog has.
void require_known_vendors(const RuleSet& rules, const std::filesystem::path& catalog_dir) {
    if (rules.not_subject_vendors.empty()) return;
    std::vector<std::string> known;
    const std::filesystem::path dir = catalog_dir.empty() ? default_catalog_dir() : catalog_dir;
    for (const auto& id : catalog_names(dir, "chips")) {
        const std::string vendor = load_chip(id, catalog_dir).vendor;
        if (!vendor.empty() && std::find(known.begin(), known.end(), vendor) == known.end()) known.push_back(vendor);
    }
    for (std::size_t i = 0; i < rules.not_subject_vendors.size(); ++i) {
        const std::string& v = rules.not_subject_vendors[i];
        if (std::find(known.begin(), known.end(), v) != known.end()) continue;
        const auto best = detail::suggest(v, known);
        throw ScenarioError(rules.not_subject_where[i], fmt::format("`not_subject.vendors[{}]` = \"{}\" is no catalog chip's vendor", i, v),
                            best ? fmt::format("did you mean \"{}\"? (the chips' vendors: {})", *best, list_of(known))
                                 : fmt::format("the chips' vendors: {}", list_of(known)));
    }
}

}  // namespace

std::vector<std::string> rule_set_names(const std::filesystem::path& catalog_dir) {
    return catalog_names(catalog_dir.empty() ? default_catalog_dir() : catalog_dir, "policy");
}

RuleSet load_rule_set(const std::string& name, const std::filesystem::path& catalog_dir) {
    const std::filesystem::path dir = policy_dir(catalog_dir);
    const std::filesystem::path file = dir / (name + ".toml");
    std::error_code ec;
    if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
        !std::filesystem::is_regular_file(file, ec)) {
        const std::vector<std::string> known = rule_set_names(catalog_dir);
        std::string hint = fmt::format("known rule sets ({}): {}", dir.string(), list_of(known));
        if (auto best = detail::suggest(name, known)) {
            hint = fmt::format("did you mean \"{}\"? Known rule sets: {}", *best, list_of(known));
        }
        if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name.ends_with(".toml")) {
            // A path: a rule set is named by its id, the file's name without .toml, in the catalog's policy/.
            const std::string id = std::filesystem::path(name).stem().string();
            hint = fmt::format("name a rule set by its id, the file name without .toml (\"{}\"), not a path; rule sets are "
                               "read from {} (put your own there, or pass --catalog DIR for a catalog with a policy/ of its "
                               "own). Known rule sets: {}",
                               id, dir.string(), list_of(known));
        }
        throw ScenarioError(fmt::format("unknown rule set \"{}\"", name), hint);
    }
    RuleSet rules = read_rule_set(detail::parse_document_file(file.string()), name);
    require_known_vendors(rules, catalog_dir);
    return rules;
}

RuleSet load_rule_set_from_string(std::string_view text, const std::string& name) {
    const std::filesystem::path p(name);
    return read_rule_set(detail::parse_document(text, name), p.stem().string());
}

}  // namespace gpuhours
