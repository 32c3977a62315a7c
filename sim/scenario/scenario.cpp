// Loading a scenario: `extends` and `--set` merged into one document, its sections read, derived views of it.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <gpuhours/scenario/limits.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
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
    throw detail::KeyError(node.where, node.where, false,
                        fmt::format("`{}` = {:g}{}{} is beyond the supported range of {} (limit {:g} to {:g}{}{})", path,
                                    value, unit.empty() ? "" : " ", unit, what, lo, hi, unit.empty() ? "" : " ",
                                    unit),
                        hint.empty() ? std::string("a figure this far from any real chip's is a wrong unit or exponent; "
                                                   "past the range, simulated work outlasts what the simulator's time can hold")
                                     : std::string(hint));
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
    const int value = read_int(r, key, min, kMaxInt, fallback);
    if (value > limit) {  // written (every fallback is within its limit)
        const Node* node = r.optional(key);
        auto within = std::make_shared<Node>(*node);
        within->integer = limit;
        throw detail::KeyError(node->where, node->where, false,
                               fmt::format("`{}` = {} is beyond the supported range of {} (limit {})", r.path_of(key),
                                           value, what, limit),
                               "see include/gpuhours/scenario/limits.hpp for what each limit bounds", std::move(within));
    }
    return value;
}

// ---- the document --------------------------------------------------------------------------------------

namespace {

// `unset = ["pricing.gpu_hour", …]`: each dotted key removed from `base` before the including file is merged over
// it (so the including file may set it again). A key the base does not set is an error at its array element.
void apply_unset(Node& base, const Node& unset) {
    if (unset.kind != Node::Kind::array) {
        throw ScenarioError(unset.where, "`unset` must be an array of dotted keys", "e.g. unset = [\"pricing.gpu_hour\"]");
    }
    for (std::size_t i = 0; i < unset.items.size(); ++i) {
        const Node& item = unset.items[i];
        const std::string path = detail::as_string(item, fmt::format("unset[{}]", i));
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
                // `unset` is applied while the files are merged, before the rest is read: other mistakes may follow.
                throw ScenarioError(item.where, fmt::format("`unset` names `{}`, which the base file does not set", path),
                                    hint + "\n(unset is applied before the rest of the file is read: fix this and check again for other mistakes)");
            }
            if (dot == std::string::npos) {
                table->erase(key);
                break;
            }
            table = next;
            start = dot + 1;
        }
    }
}

}  // namespace

// `extends` and `--set` applied: the document the scenario is read from.
Node merge_document(Node root, const std::filesystem::path& file, const LoadOptions& options) {
    // extends: deep merge, this file wins. Chains are followed; a cycle is an error.
    // The names as the file system resolves them (a name it cannot resolve, say one over-long, stays as written:
    // opening it then fails with a located message).
    auto canonical_of = [](const std::filesystem::path& p) {
        std::error_code ec;
        std::filesystem::path c = std::filesystem::weakly_canonical(p, ec);
        return ec ? p.lexically_normal().string() : c.string();
    };
    std::set<std::string> seen{canonical_of(file)};
    std::filesystem::path current = file;
    while (const Node* ext = root.find("extends")) {
        const std::string name = detail::as_string(*ext, "extends");
        if (name.empty()) throw ScenarioError(ext->where, "`extends` is empty", "name the scenario file this one builds on");
        if (seen.size() > static_cast<std::size_t>(limits::kExtendsDepth)) {
            throw ScenarioError(ext->where,
                                fmt::format("the `extends` chain is beyond the supported range (limit {} files)",
                                            limits::kExtendsDepth),
                                "extend a file that holds more of the shared keys itself");
        }
        const std::filesystem::path base_path = current.parent_path() / name;
        const std::string canonical = canonical_of(base_path);
        if (!seen.insert(canonical).second) {
            throw ScenarioError(ext->where, fmt::format("`extends` = \"{}\" forms a cycle", name),
                                "remove the extends that leads back to a file already included");
        }
        Node base = detail::parse_document_file(base_path.string(), ext->where);
        if (const Node* unset = root.find("unset")) {
            apply_unset(base, *unset);
            root.erase("unset");
        }
        root.erase("extends");
        const Node* base_ext = base.find("extends");
        Node base_ext_copy;
        if (base_ext) base_ext_copy = *base_ext;
        base.erase("extends");
        detail::merge_into(base, std::move(root));
        root = std::move(base);
        if (base_ext) root.set("extends", base_ext_copy, base_ext_copy.where);
        current = base_path;
    }
    if (const Node* unset = root.find("unset")) {
        throw ScenarioError(unset->where, "`unset` removes keys a base file sets, but this file has no `extends`",
                            "add `extends = \"base.toml\"` or remove `unset`");
    }
    for (const auto& assignment : options.overrides) detail::apply_override(root, assignment);
    return root;
}

namespace {

// The chip figures a run's time and rental cost rest on: the GEMM efficiency of its compute format (calibrated or
// assumed, per the catalog's source) and the catalog's rental price, each with the catalog's source, or "set in
// the scenario" where [cluster.chip] overrides it.
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
        out.push_back({fmt::format("cluster.chip.{}.{}", section, key), value,
                       source != nullptr && source->kind == Node::Kind::string ? fmt::format("{} ({})", source->text, origin)
                                                                              : set_in_scenario(figure->where)});
    };
    // The calibration figures the step rests on (GEMMs in the compute format, attention, HBM streaming, the links)
    // and the power the energy is counted at.
    const ChipProfile& chip = s.cluster.chip;
    add("efficiency", fp8 ? "gemm_fp8" : "gemm", fmt::format("{:g}", fp8 ? chip.efficiency.gemm_fp8 : chip.efficiency.gemm));
    add("efficiency", "attention", fmt::format("{:g}", chip.efficiency.attention));
    add("efficiency", "memory", fmt::format("{:g}", chip.efficiency.memory));
    add("efficiency", "scale_up_link", fmt::format("{:g}", chip.efficiency.scale_up_link));
    add("efficiency", "nic_link", fmt::format("{:g}", chip.efficiency.nic_link));
    add("power", "tdp", fmt::format("{:g} W", chip.tdp.value()));
    if (!s.pricing.gpu_hour && s.cluster.chip.rental_gpu_hour) add("price", "rental_gpu_hour", format_dollars(*s.cluster.chip.rental_gpu_hour));
    return out;
}

}  // namespace

namespace {

bool same_place(const SourceRef& a, const SourceRef& b) { return a.file == b.file && a.line == b.line && a.column == b.column; }

// A value that is neither a table nor a list: a list's item of this kind can be taken out or replaced on its own.
bool plain(const Node& n) { return n.kind != Node::Kind::table && n.kind != Node::Kind::array; }

// Removes the field whose value (or, for an unknown key, whose key) sits at `at` — or, given `replacement`, puts
// that in the value's place; false when no field sits there.
// `any_value`: a table value too (an inline table such as batch_ramp = { … }), below the document's top level.
// A section (a table or array at the top level) is never taken out.
bool erase_at(Node& table, const SourceRef& at, bool key, const Node* replacement = nullptr, bool any_value = false,
              bool top = true) {
    if (table.kind == Node::Kind::array) {
        for (std::size_t i = 0; i < table.items.size(); ++i) {
            Node& item = table.items[i];
            // A plain value in a list (an unknown chip in whatif.chips): taken out of the list, or replaced; a table
            // in a list (a [[claims]] entry) replaced only.
            if (!key && (plain(item) || replacement != nullptr) && same_place(item.where, at)) {
                if (replacement != nullptr) item = *replacement;
                else table.items.erase(table.items.begin() + static_cast<std::ptrdiff_t>(i));
                return true;
            }
            if (erase_at(item, at, key, replacement, any_value, false)) return true;
        }
        return false;
    }
    if (table.kind != Node::Kind::table) return false;
    for (std::size_t i = 0; i < table.fields.size(); ++i) {
        // A top-level table or array is a whole section ([cluster], [[phases]]): never taken out.
        const Node::Kind kind = table.fields[i].second.kind;
        const bool section = top && (kind == Node::Kind::table || kind == Node::Kind::array);
        const bool kind_ok = !section && (kind != Node::Kind::table || any_value);
        const bool here = key ? i < table.key_sources.size() && same_place(table.key_sources[i], at)
                              : same_place(table.fields[i].second.where, at) && kind_ok;
        if (here && replacement != nullptr) {
            table.fields[i].second = *replacement;
            return true;
        }
        if (here) {
            table.fields.erase(table.fields.begin() + static_cast<std::ptrdiff_t>(i));
            if (i < table.key_sources.size()) table.key_sources.erase(table.key_sources.begin() + static_cast<std::ptrdiff_t>(i));
            return true;
        }
        if (erase_at(table.fields[i].second, at, key, replacement, any_value, false)) return true;
    }
    return false;
}

// Whether `at` is an item of a list — a plain value (an item of whatif.chips) or a table (a [[claims]] entry) —
// whose removal would renumber the items after it in the messages.
bool list_item_at(const Node& n, const SourceRef& at) {
    if (n.kind == Node::Kind::array) {
        for (const Node& item : n.items) {
            if ((plain(item) || item.kind == Node::Kind::table) && same_place(item.where, at)) return true;
            if (list_item_at(item, at)) return true;
        }
    }
    if (n.kind == Node::Kind::table) {
        for (const auto& field : n.fields) {
            if (list_item_at(field.second, at)) return true;
        }
    }
    return false;
}

// Renames the key written at `at` to `name` (a misspelt key read on as its suggestion); false when no key is there.
bool rename_key_at(Node& table, const SourceRef& at, const std::string& name) {
    if (table.kind == Node::Kind::array) {
        return std::any_of(table.items.begin(), table.items.end(), [&](Node& item) { return rename_key_at(item, at, name); });
    }
    if (table.kind != Node::Kind::table) return false;
    for (std::size_t i = 0; i < table.fields.size(); ++i) {
        if (i < table.key_sources.size() && same_place(table.key_sources[i], at)) {
            table.fields[i].first = name;
            return true;
        }
        if (rename_key_at(table.fields[i].second, at, name)) return true;
    }
    return false;
}

struct Found {
    SourceRef where;
    std::string message;
    std::string hint;
};

// The top-level section ("cluster", "pricing", …) holding the value at `at` — a scalar, a list or inline table
// (cost_within = [...]), or a table inside the section (a [[claims]] or [[phases]] entry) — or, given by --set,
// the section its key names ("--set pricing.pue=0.5": pricing); nullopt when no value sits there (a section's own
// header, or nowhere).
std::optional<std::string> section_of(const Node& root, const SourceRef& at) {
    if (at.file.starts_with("--set ")) {
        const std::string assignment = at.file.substr(6);
        const std::string section = assignment.substr(0, assignment.find_first_of(".="));
        return root.find(section) != nullptr ? std::optional<std::string>(section) : std::nullopt;
    }
    auto holds = [&](auto&& self, const Node& n, bool top) -> bool {
        if (!top && same_place(n.where, at)) return true;
        if (n.kind == Node::Kind::table) {
            return std::any_of(n.fields.begin(), n.fields.end(), [&](const auto& f) { return self(self, f.second, false); });
        }
        if (n.kind == Node::Kind::array) {
            return std::any_of(n.items.begin(), n.items.end(), [&](const Node& i) { return self(self, i, false); });
        }
        return false;
    };
    for (const auto& [key, value] : root.fields) {
        if (holds(holds, value, value.kind == Node::Kind::table || value.kind == Node::Kind::array)) return key;
    }
    return std::nullopt;
}

// A position the search can take a value out at: a line of a file, or a --set argument.
bool placed(const SourceRef& at) { return at.line > 0 || at.file.starts_with("--set "); }

// Sections whose values feed one another's checks (the layout against the cluster, the batch against the layout);
// the others (pricing, reliability, claims, …) are checked on their own.
bool coupled_section(const std::string& s) {
    return s == "model" || s == "cluster" || s == "parallelism" || s == "training" || s == "phases" || s == "title";
}

// One mistake as the search handles it.
struct Mistake {
    Found text;
    SourceRef node;       // the value (or, for an unknown key, the key) to take out
    bool unknown_key = false;
    bool key_local = false;  // a KeyError: about this key alone, whatever the others hold
    std::optional<Node> placeholder;
};

// Where the search for every mistake stopped before reading the whole document: not at all; at a mistake it
// reported but cannot read past (nothing to take out or stand in: a phase with neither tokens nor steps); at an
// error it did not report, as a change of its own may have caused it, and could not set aside.
enum class Stop { none, at_reported, at_unreported };

// The mistakes found, as one error: the first in file order, the others after it as a compiler prints them, one per
// line, at most limits::kErrorsPerFile; `more`: the search reached its bound; `stop`: where it ended early;
// `set_aside`: the errors it did not report, as they may follow from a stand-in.
[[noreturn]] void throw_found(std::vector<Found> found, bool more, Stop stop, int set_aside) {
    std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
        return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
    });
    std::string rest;
    const std::size_t shown = std::min(found.size(), static_cast<std::size_t>(limits::kErrorsPerFile));
    for (std::size_t i = 1; i < shown; ++i) rest += "\n" + std::string(Error(found[i].where, found[i].message, found[i].hint).what());
    if (found.size() > shown || more) {
        rest += fmt::format("\n(the first {} errors in the file; {} more found{})", shown, found.size() - shown,
                            more ? ", and the search stopped there" : "");
    } else if (stop == Stop::at_reported) {
        rest += "\n(the search cannot read past the last of these it found: fix them and check again, as more may lie behind it)";
    } else if (stop == Stop::at_unreported) {
        rest += "\n(these are the mistakes found before one that depends on them; fix them and check again)";
    } else if (set_aside > 0) {
        rest += fmt::format("\n(and {} more that may follow from these, not shown: fix these and check again)", set_aside);
    }
    if (found[0].hint.empty()) throw ScenarioError(found[0].where, found[0].message + rest);
    throw ScenarioError(found[0].where, found[0].message, found[0].hint + rest);
}

// A first mistake located at a table or nowhere: nothing to take out, so the search cannot go past it; it says so.
[[noreturn]] void throw_alone(const ScenarioError& e) {
    throw ScenarioError(e.where(), e.message(),
                        e.hint() + (e.hint().empty() ? "" : "\n") + "(fix this and check again: other mistakes may lie behind it)");
}

}  // namespace

Scenario read_merged_once(const Node& root, const std::filesystem::path& file, const LoadOptions& options);



// Every mistake of the document that concerns one key, at once, in file order. A KeyError (an unknown key, a value
// of the wrong type, range or unit, an unknown choice, chip or model) is about its key alone; another error located
// at a value (a bound such as pue ≥ 1) is treated so too in the sections checked on their own (pricing,
// reliability, claims, …), and in the coupled ones (model, cluster, parallelism, training, phases) while the
// search has changed none of their values, since a changed value could be its cause. Each mistake is taken out of
// a copy of the document and the document read again; a misspelt key is renamed to its suggestion instead
// (`pipline = 2` reads on as `pipeline = 2`). When taking a value out makes the next read fail otherwise (a required
// key now missing), the value is put back as the error's placeholder instead — a valid value of its kind. Another
// error that a change of the search may have caused is not reported: its value is set aside (or set to the value a
// CoupledError names) and the search goes on; one located at a table or nowhere ends it, and the message says more
// may lie behind. Up to 5 × limits::kErrorsPerFile are looked for (in reading order) and the first
// limits::kErrorsPerFile in the file are shown.
[[noreturn]] void search_mistakes(const Node& root, const std::filesystem::path& file, const LoadOptions& options,
                                  const ScenarioError& first_error, std::vector<Found> found);

Scenario read_merged(const Node& root, const std::filesystem::path& file, const LoadOptions& options,
                     const std::vector<ScenarioError>& prior) {
    std::vector<Found> found;
    for (const ScenarioError& e : prior) found.push_back(Found{e.where(), e.message(), e.hint()});
    try {
        Scenario s = read_merged_once(root, file, options);
        if (found.empty()) return s;
    } catch (const ScenarioError& first_error) {
        search_mistakes(root, file, options, first_error, std::move(found));
    }
    if (found.size() == 1) throw prior.front();
    throw_found(std::move(found), false, Stop::none, 0);
}

// read_merged's search for every mistake after `first_error`, `found` the mistakes found before the search.
void search_mistakes(const Node& root, const std::filesystem::path& file, const LoadOptions& options,
                     const ScenarioError& first_error, std::vector<Found> found) {
    Node doc = root;
    std::vector<std::string> changed;  // sections where the search changed a value
    auto classify = [&](const ScenarioError& e) -> std::optional<Mistake> {
        Mistake m;
        m.text = Found{e.where(), e.message(), e.hint()};
        if (const auto* k = dynamic_cast<const detail::KeyError*>(&e)) {
            m.node = k->node();
            m.unknown_key = k->unknown_key();
            m.key_local = true;
            if (k->placeholder() != nullptr) m.placeholder = *k->placeholder();
            return placed(m.node) ? std::optional<Mistake>(m) : std::nullopt;
        }
        const auto section = placed(e.where()) ? section_of(doc, e.where()) : std::nullopt;
        if (!section) return std::nullopt;
        const bool touched = coupled_section(*section) && std::any_of(changed.begin(), changed.end(), [&](const std::string& c) {
            return coupled_section(c);
        });
        if (touched) return std::nullopt;
        m.node = e.where();
        if (const auto* c = dynamic_cast<const CoupledError*>(&e); c != nullptr && c->placeholder() != nullptr) {
            m.node = c->fix_at();
            m.placeholder = *c->placeholder();
        }
        return m;
    };
    std::optional<Mistake> first = classify(first_error);
    if (!first && found.empty()) throw_alone(first_error);
    if (!first) {  // after the distributions' mistakes: reported with them, and the search cannot go past it
        found.push_back(Found{first_error.where(), first_error.message(), first_error.hint()});
        throw_found(std::move(found), false, Stop::at_reported, 0);
    }
    found.push_back(first->text);
    std::vector<SourceRef> replaced;  // values already replaced by a placeholder
    // The last value taken out, to put back as its placeholder if the next read misses it.
    Node before;
    std::optional<Node> placeholder;
    SourceRef placeholder_at;
    auto take_out = [&](const Mistake& m) {
        if (m.unknown_key && m.placeholder && m.placeholder->kind == Node::Kind::string &&
            rename_key_at(doc, m.node, m.placeholder->text)) {
            return true;  // `pipline = 16` reads on as `pipeline = 16`: its layout checks do not fail on a default
        }
        const bool again = std::any_of(replaced.begin(), replaced.end(), [&](const SourceRef& r) { return same_place(r, m.node); });
        placeholder.reset();
        if (!m.unknown_key) {
            if (auto section = section_of(doc, m.node)) changed.push_back(*section);
        }
        if (m.placeholder && !again && !m.unknown_key && list_item_at(doc, m.node)) {
            replaced.push_back(m.node);  // a list's item: replaced in place, so the later items keep their index
            return erase_at(doc, m.node, false, &*m.placeholder);
        }
        if (m.placeholder && !again && !m.unknown_key) {
            before = doc;
            placeholder = *m.placeholder;
            placeholder_at = m.node;
        }
        return erase_at(doc, m.node, m.unknown_key);
    };
    bool more = take_out(*first);
    const std::size_t search_bound = 5 * static_cast<std::size_t>(limits::kErrorsPerFile);
    // The search ended at a mistake whose value it could not take out, or at an error it could not set aside: more
    // may lie behind it.
    Stop stop = more ? Stop::none : Stop::at_reported;
    int set_aside = 0;         // values taken out unreported (an error that a change of the search may cause)
    while (more && found.size() < search_bound) {
        std::optional<Mistake> m;
        std::optional<SourceRef> unreported_at;
        std::optional<Node> unreported_fix;  // a value that satisfies the unreported rule, when it names one
        bool rule_error = false;              // an error of a rule between keys, not of one key alone
        try {
            (void)read_merged_once(doc, file, options);
            more = false;  // the rest reads cleanly: every mistake was found
            break;
        } catch (const ScenarioError& e) {
            rule_error = dynamic_cast<const detail::KeyError*>(&e) == nullptr;
            m = classify(e);
            if (!m && placed(e.where())) {
                unreported_at = e.where();
                if (const auto* c = dynamic_cast<const CoupledError*>(&e); c != nullptr && c->placeholder() != nullptr) {
                    unreported_at = c->fix_at();
                    unreported_fix = *c->placeholder();
                }
            }
        } catch (const Error&) {
        }
        // A rule's error right after a value was taken out may be the absence's (a claim's rung with its cost
        // bound taken out): the placeholder goes in first, and the rule is reported only if it still fails.
        if (!m || (rule_error && placeholder)) {
            if (placeholder) {  // the value taken out was needed: put its placeholder there instead
                doc = std::move(before);
                replaced.push_back(placeholder_at);
                more = erase_at(doc, placeholder_at, false, &*placeholder);
                placeholder.reset();
                continue;
            }
            // An error that a placeholder or an earlier change may have caused (batch_ramp longer than a phase
            // whose tokens were a stand-in) is not reported; its value is set aside so that the keys after it
            // are still read (a coupled rule's value that satisfies it, when it names one, is put there instead).
            // One located at a section or nowhere ends the search.
            if (unreported_at && set_aside < limits::kErrorsPerFile &&
                erase_at(doc, *unreported_at, false, unreported_fix ? &*unreported_fix : nullptr, true)) {
                ++set_aside;
                continue;
            }
            stop = Stop::at_unreported;
            more = false;
            break;
        }
        // A placeholder that errs again at its own place is not a new mistake: taken out, not reported.
        const bool again = std::any_of(replaced.begin(), replaced.end(), [&](const SourceRef& r) { return same_place(r, m->node); });
        const auto same = [&](const Found& f) { return same_place(f.where, m->text.where) && f.message == m->text.message; };
        if (!again && std::none_of(found.begin(), found.end(), same)) found.push_back(m->text);  // once each
        more = take_out(*m);
        if (!more) stop = Stop::at_reported;
    }
    if (found.size() == 1 && stop == Stop::none && set_aside == 0) throw;
    throw_found(std::move(found), more, stop, set_aside);
}

void check_uncertain_ranges(const Node& document, const std::vector<UncertainInput>& inputs, const std::filesystem::path& file,
                            const LoadOptions& options) {
    for (const UncertainInput& u : inputs) {
        const auto [low, high] = u.range();
        for (const double end : {low, high}) {
            Node doc = document;
            set_value(doc, u, end);
            try {
                (void)read_merged_once(doc, file, options);
            } catch (const Error& e) {
                const bool tail = u.distribution == Distribution::normal || u.distribution == Distribution::lognormal;
                throw ScenarioError(u.where, fmt::format("{} reaches {}{}, which a draw would be refused for: {}", u.describe(), u.text(end),
                                                         tail ? " (its range is tested at ± 4.75 sd, where draws are truncated)" : "",
                                                         e.message()),
                                    e.hint().empty() ? std::string("keep the range within what the key accepts")
                                                     : fmt::format("keep the range within what the key accepts ({})", e.hint()));
            }
        }
    }
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

Scenario read_merged_once(const Node& root, const std::filesystem::path& file, const LoadOptions& options) {
    const std::filesystem::path catalog_dir =
        options.catalog_dir.empty() ? find_catalog_dir(file) : options.catalog_dir;

    Scenario s;
    s.sources.file = SourceRef{file.string(), 1, 1};
    record_positions(root, s.sources.keys);
    TableReader r(root, "");
    if (const Node* t = r.optional("title")) s.title = detail::as_string(*t, "title");

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
    if (const Node* n = r.optional("published")) s.published = read_published(detail::as_table(*n, "published"));
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
    for (const auto& f : s.reliability.failures) {
        s.assumptions.push_back({fmt::format("reliability.failures \"{}\"", f.name),
                                 fmt::format("one interruption per {:.0f} {}-hours", 1.0 / f.rate_per_unit_hour, f.per_node ? "node" : "GPU"),
                                 f.source.empty() ? set_in_scenario(f.where) : f.source});
    }
    validate_layout(s, data_given != 0);
    const Node* parallel_node = root.find("parallelism");
    if (const Node* phases = root.find("phases")) {
        (void)r.has("phases");
        s.phases = read_phases(*phases, s, training, parallel_node);
        s.phases_given = true;
        s.training.tokens = 0;
        for (const auto& ph : s.phases) s.training.tokens += ph.tokens;
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
    if (root.find("pricing") != nullptr) price_from_chip_catalog(s);
    check_claims_priced(s);
    return s;
}

}  // namespace gpuhours::detail

namespace gpuhours {

using detail::Node;

namespace {

Scenario read_scenario(Node root, const std::filesystem::path& file, const LoadOptions& options) {
    Node merged = detail::merge_document(std::move(root), file, options);
    std::vector<ScenarioError> range_mistakes;
    const auto inputs = detail::extract_uncertain(merged, range_mistakes);
    Scenario s = detail::read_merged(merged, file, options, range_mistakes);
    detail::check_uncertain_ranges(merged, inputs, file, options);
    return s;
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
    // A written phase's rules (its memory fit) are about the phase: point at its [[phases]] table.
    if (s.phases_given && phase.where.known()) copy.sources.parallelism = phase.where;
    return copy;
}

MicroBatchShape shape_of(const Scenario& s) {
    return MicroBatchShape{s.training.sequence_length, s.parallel.micro_batch, AttentionMask::causal};
}

MemoryOptions memory_options_of(const Scenario& s) {
    MemoryOptions options;
    options.micro_batches = s.training.global_batch / (s.parallel.data * s.parallel.micro_batch);
    options.attention_kernel = s.training.attention_kernel;
    options.dropout = s.training.dropout;
    return options;
}

FitCheck fit_of(const Scenario& s) {
    return check_fit(s.model, s.parallel, s.training.precision, shape_of(s), s.cluster.chip.memory_capacity, memory_options_of(s));
}

void require_fit(const Scenario& s, const FitCheck& fit) {
    if (!fit.fits) {
        const auto largest = fit.breakdown.largest_term();
        throw ScenarioError(s.sources.parallelism.known() ? s.sources.parallelism : s.sources.file,
                            fmt::format("the model does not fit: {} needed per GPU on pipeline rank {} but the {} has "
                                        "{}; the largest term is {} ({})",
                                        format_bytes(fit.breakdown.total()), fit.breakdown.stage,
                                        s.cluster.chip.display_name, s.cluster.chip.memory_basis(), largest.name,
                                        format_bytes(largest.bytes)),
                            "shard more: raise tensor or pipeline, use zero = 1..3, or recompute = \"selective\" / "
                            "\"full\"; see `gpuhours model` for the whole breakdown");
    }
}

void require_fit(const Scenario& s) { require_fit(s, fit_of(s)); }

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

bool prices_run(const Scenario& s) {
    return s.pricing.gpu_hour.has_value() || s.pricing.ownership.has_value() ||
           std::any_of(s.phases.begin(), s.phases.end(), [](const PhaseSpec& ph) { return ph.gpu_hour.has_value(); });
}

void check_claims_priced(const Scenario& s) {
    if (prices_run(s)) return;
    for (const ClaimSpec& claim : s.claims) {
        if (claim.has_cost()) {
            throw ScenarioError(claim.where, "the claim states a cost but the scenario has no [pricing]",
                                "add [pricing] gpu_hour = \"$2\" (rental) or [pricing.ownership]");
        }
    }
}

}  // namespace gpuhours
