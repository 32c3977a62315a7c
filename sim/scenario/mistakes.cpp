// The search for every mistake of a scenario document at once (read_merged): each mistake is taken out of a copy
// of the document, or replaced by a stand-in, and the document read again, until it reads cleanly or the search
// cannot go on; the mistakes found are reported together, in file order (docs/scenario-language.md, opening).
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace gpuhours::detail {

namespace {

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
        // A list of tables ([[reliability.failures]]) is never taken out whole: its position is its first entry's.
        const bool tables = kind == Node::Kind::array && !table.fields[i].second.items.empty() &&
                            table.fields[i].second.items.front().kind == Node::Kind::table;
        const bool kind_ok = !section && !tables && (kind != Node::Kind::table || any_value);
        const bool here = key ? i < table.key_sources.size() && same_place(table.key_sources[i], at)
                              : same_place(table.fields[i].second.where, at) && kind_ok;
        if (here && replacement != nullptr) {
            table.fields[i].second = *replacement;
            return true;
        }
        if (here && table.fields[i].second.replaced != nullptr) {
            // An override taken out: the value it replaced applies again (a base file's phase degree).
            table.fields[i].second = Node(*table.fields[i].second.replaced);
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
// Renames the key at `at` to `name`, in the deepest table holding a key there; nothing when that table has a key
// `name` already (a --set argument's `from` beside its misspelt `fromm`: the two share a position, and renaming
// `from` to itself, or a parent's key, changed nothing the next read saw). nullopt: no key there.
std::optional<bool> rename_key_in(Node& table, const SourceRef& at, const std::string& name) {
    if (table.kind == Node::Kind::array) {
        for (Node& item : table.items) {
            if (const auto done = rename_key_in(item, at, name)) return done;
        }
        return std::nullopt;
    }
    if (table.kind != Node::Kind::table) return std::nullopt;
    // The deepest key first: a --set argument gives every key it creates the same position (`--set
    // parallelism.tensr=2` without a [parallelism] table creates `parallelism` and `tensr`; `tensr` is the one).
    for (std::size_t i = 0; i < table.fields.size(); ++i) {
        if (const auto done = rename_key_in(table.fields[i].second, at, name)) return done;
    }
    for (std::size_t i = 0; i < table.fields.size() && i < table.key_sources.size(); ++i) {
        if (!same_place(table.key_sources[i], at)) continue;
        if (table.find(name) != nullptr) return false;
        table.fields[i].first = name;
        return true;
    }
    return std::nullopt;
}

bool rename_key_at(Node& table, const SourceRef& at, const std::string& name) { return rename_key_in(table, at, name).value_or(false); }

// Adds `key` = `value` to the table whose header sits at `at` (a [[phases]] or [[reliability.failures]] entry, or
// a table below the top level); false when no such table is there.
bool add_key_at(Node& n, const SourceRef& at, const std::string& key, const Node& value, bool top = true) {
    if (n.kind == Node::Kind::table && !top && same_place(n.where, at) && n.find(key) == nullptr) {
        n.set(key, value, at);
        return true;
    }
    if (n.kind == Node::Kind::array) {
        return std::any_of(n.items.begin(), n.items.end(), [&](Node& item) { return add_key_at(item, at, key, value, false); });
    }
    if (n.kind != Node::Kind::table) return false;
    return std::any_of(n.fields.begin(), n.fields.end(), [&](auto& field) { return add_key_at(field.second, at, key, value, false); });
}

struct Found {
    SourceRef where;
    std::string message;
    std::string hint;
};

// The dotted path of the value at `at` — a scalar, a list or inline table (cost_within = [...]), or a table inside a
// section (a [[claims]] or [[phases]] entry): "parallelism.tensor", "phases[1].parallelism.tensor", "claims[2]" — or,
// given by --set, the key it names ("--set pricing.pue=0.5": pricing.pue); nullopt when no value sits there (a
// section's own header, or nowhere).
std::optional<std::string> path_at(const Node& root, const SourceRef& at) {
    if (at.file.starts_with("--set ")) {
        const std::string assignment = at.file.substr(6);
        const std::string dotted = assignment.substr(0, assignment.find('='));
        std::string path;  // an index written as a key (phases.1.tensor) as the document's paths write it: phases[1]
        for (std::size_t start = 0; start <= dotted.size();) {
            const std::size_t end = std::min(dotted.find('.', start), dotted.size());
            const std::string part = dotted.substr(start, end - start);
            const bool index = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
            path += index ? "[" + part + "]" : (path.empty() ? "" : ".") + part;
            start = end + 1;
        }
        return root.find(path.substr(0, path.find_first_of(".["))) != nullptr ? std::optional<std::string>(path) : std::nullopt;
    }
    auto find = [&](auto&& self, const Node& n, const std::string& path, bool top) -> std::optional<std::string> {
        if (!top && same_place(n.where, at)) return path;
        if (n.kind == Node::Kind::table) {
            for (const auto& [key, value] : n.fields) {
                if (auto found = self(self, value, path + "." + key, false)) return found;
            }
        } else if (n.kind == Node::Kind::array) {
            for (std::size_t i = 0; i < n.items.size(); ++i) {
                if (auto found = self(self, n.items[i], fmt::format("{}[{}]", path, i), false)) return found;
            }
        }
        return std::nullopt;
    };
    for (const auto& [key, value] : root.fields) {
        if (auto found = find(find, value, key, value.kind == Node::Kind::table || value.kind == Node::Kind::array)) return found;
    }
    return std::nullopt;
}

// The name of the top-level table whose header sits at `at` ([whatif]); empty when none.
std::string section_at(const Node& root, const SourceRef& at) {
    for (const auto& [key, value] : root.fields) {
        if (value.kind == Node::Kind::table && same_place(value.where, at)) return key;
    }
    return {};
}

// The dotted path of the table whose header sits at `at`: a table below the top (path_at) or a section ([whatif]).
std::string table_path_at(const Node& root, const SourceRef& at) {
    const auto path = path_at(root, at);
    return path ? *path : section_at(root, at);
}

// The top-level section ("cluster", "pricing", …) of a dotted path.
std::string section_of_path(const std::string& path) { return path.substr(0, path.find_first_of(".[")); }


// Whether a rule that reads `involves` (CoupledError::involves) reads the value at dotted `path`: the key itself or
// a value below it. A phase's keys stand for the scenario's ("phases[1].parallelism.tensor" for parallelism.tensor,
// "phases[0].global_batch" for training.global_batch).
bool involved(std::string path, const std::vector<std::string>& involves) {
    if (path.starts_with("phases[")) {
        const std::size_t dot = path.find("].");
        if (dot != std::string::npos) path = scenario_key_of_phase(path.substr(dot + 2));
    }
    return std::any_of(involves.begin(), involves.end(), [&](const std::string& k) {
        return path == k || path.starts_with(k + ".") || path.starts_with(k + "[");
    });
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
    std::optional<Node> placeholder;
    std::string add_key;  // a key the table at `node` lacks: added with `placeholder` (MissingKeyError)
    bool silent = false;  // a consequence of the search's own change: stood in for, not reported
};

// Where the search for every mistake stopped before reading the whole document: not at all; at a mistake it
// reported but cannot read past (nothing to take out or stand in: a phase with neither tokens nor steps); at an
// error it did not report, as a change of its own may have caused it, and could not set aside.
enum class Stop { none, at_reported, at_unreported };

// `e` as a mistake the search reports and takes out, or nullopt: an error it does not report (one a change of the
// search may have caused — `changed`: the dotted paths it changed — or one with no value to take out).
std::optional<Mistake> classify_mistake(const Node& doc, const std::vector<std::string>& changed, const ScenarioError& e) {
    Mistake m;
    m.text = Found{e.where(), e.message(), e.hint()};
    if (const auto* k = dynamic_cast<const detail::KeyError*>(&e)) {
        m.node = k->node();
        m.unknown_key = k->unknown_key();
        if (k->placeholder() != nullptr) m.placeholder = *k->placeholder();
        return placed(m.node) ? std::optional<Mistake>(m) : std::nullopt;
    }
    if (const auto* k = dynamic_cast<const MissingKeyError*>(&e)) {  // about its table alone
        m.node = e.where();
        m.add_key = k->key();
        m.placeholder = k->placeholder();
        // The search took a key of that table out (a phase's mistaken tokens): the key is missing because of it.
        const std::string table = table_path_at(doc, m.node);
        m.silent = std::any_of(changed.begin(), changed.end(), [&](const std::string& c) { return c.starts_with(table + "."); });
        return placed(m.node) ? std::optional<Mistake>(m) : std::nullopt;
    }
    const auto error_path = placed(e.where()) ? path_at(doc, e.where()) : std::nullopt;
    const auto section = error_path ? std::optional<std::string>(section_of_path(*error_path)) : std::nullopt;
    if (!section) return std::nullopt;
    // Held back when a change of the search may have caused it: a rule that names its keys, when one of them
    // changed; another error of a coupled section, when any value of those sections changed.
    const auto* rule = dynamic_cast<const CoupledError*>(&e);
    // A change in one phase does not touch another phase's mistakes, nor the scenario's own: `phase` is the phase
    // the error is about ("phases[2]"; empty for the scenario's).
    const auto phase_of = [](const std::string& path) {
        return path.starts_with("phases[") ? path.substr(0, path.find(']') + 1) : std::string();
    };
    const std::string phase = rule != nullptr ? rule->phase() : phase_of(*error_path);
    const auto in_scope = [&](const std::string& c) { return !c.starts_with("phases[") || (!phase.empty() && phase_of(c) == phase); };
    const bool touched = rule != nullptr && !rule->involves().empty()
                             ? std::any_of(changed.begin(), changed.end(),
                                           [&](const std::string& c) { return in_scope(c) && involved(c, rule->involves()); })
                             : coupled_section(*section) && std::any_of(changed.begin(), changed.end(), [&](const std::string& c) {
                                   return in_scope(c) && coupled_section(section_of_path(c));
                               });
    if (touched) return std::nullopt;
    m.node = e.where();
    if (const auto* c = dynamic_cast<const CoupledError*>(&e); c != nullptr && c->placeholder() != nullptr) {
        m.node = c->fix_at();
        m.placeholder = *c->placeholder();
    }
    return m;
}

// The mistakes found, as one error: the first in file order, the others after it as a compiler prints them, one per
// line, at most limits::kErrorsPerFile; `more`: the search reached its bound; `stop`: where it ended early;
// `set_aside`: the errors it did not report, as they may follow from a stand-in.
[[noreturn]] void throw_found(std::vector<Found> found, bool more, Stop stop, int set_aside, const std::vector<std::string>& overrides) {
    // The files' mistakes in file order, then the --set arguments' in the order they were given (the command line
    // is read after the files).
    const auto argument = [&](const SourceRef& w) {
        const auto it = std::find(overrides.begin(), overrides.end(), w.file.substr(6));
        return static_cast<std::size_t>(it - overrides.begin());
    };
    std::stable_sort(found.begin(), found.end(), [&](const Found& a, const Found& b) {
        const bool a_set = a.where.file.starts_with("--set "), b_set = b.where.file.starts_with("--set ");
        if (a_set && b_set) return argument(a.where) < argument(b.where);
        if (a_set || b_set) return !a_set && b_set;
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
        rest += found.size() == 1 ? "\n(the search stopped at a mistake that may follow from this one, not shown: fix this and "
                                    "check again)"
                                  : "\n(these are the mistakes found before one that depends on them; fix them and check again)";
    } else if (set_aside > 0) {
        rest += fmt::format("\n(and {} more that may follow from these, not shown: fix these and check again)", set_aside);
    }
    std::vector<ScenarioError::Mistake> mistakes;
    for (std::size_t i = 0; i < shown; ++i) mistakes.push_back({found[i].where, found[i].message, found[i].hint});
    ScenarioError e = found[0].hint.empty() ? ScenarioError(found[0].where, found[0].message + rest)
                                            : ScenarioError(found[0].where, found[0].message, found[0].hint + rest);
    e.set_mistakes(std::move(mistakes));
    throw e;
}

// A first mistake located at a table or nowhere: nothing to take out, so the search cannot go past it; it says so.
[[noreturn]] void throw_alone(const ScenarioError& e) {
    throw ScenarioError(e.where(), e.message(),
                        e.hint() + (e.hint().empty() ? "" : "\n") + "(fix this and check again: other mistakes may lie behind it)");
}

}  // namespace

// Every mistake of the document at once, in file order. A KeyError (an unknown key, a value of the wrong type,
// range or unit, an unknown choice, chip or model) is about its key alone. A rule that names the keys it reads
// (CoupledError::involves) is reported unless the search changed one of them; another error located at a value (a
// bound such as pue ≥ 1) is reported in the sections checked on their own (pricing, reliability, claims, …), and in
// the coupled ones (model, cluster, parallelism, training, phases) while the search has changed none of their values,
// since a changed value could be its cause (classify_mistake). Each mistake is taken out of a copy of the document
// and the document read again; a misspelt key is renamed to its suggestion instead (`pipline = 2` reads on as
// `pipeline = 2`), and an override taken out puts back the value it replaced. When taking a value out makes the next
// read fail otherwise (a required key now missing), the value is put back as the error's placeholder instead — a
// valid value of its kind. Another error that a change of the search may have caused is not reported: its value is
// set aside (or set to the value a CoupledError names) and the search goes on; a mistake at a table (a phase with
// neither tokens nor steps) is reported and ends it, one nowhere ends it unreported, and the message says more
// may lie behind. Up to 5 × limits::kErrorsPerFile are looked for (in reading order) and the first
// limits::kErrorsPerFile in the file are shown.
[[noreturn]] void search_mistakes(const Node& root, const std::filesystem::path& file, const LoadOptions& options,
                                  const ScenarioError& first_error, std::vector<Found> found, const std::vector<UncertainInput>* inputs);

Scenario read_merged(const Node& root, const std::filesystem::path& file, const LoadOptions& options,
                     const std::vector<ScenarioError>& prior, const std::vector<UncertainInput>* inputs) {
    std::vector<Found> found;
    for (const ScenarioError& e : prior) found.push_back(Found{e.where(), e.message(), e.hint()});
    try {
        Scenario s = read_merged_once(root, file, options);
        if (inputs != nullptr) {
            for (const ScenarioError& e : range_end_mistakes(root, *inputs, file, options)) found.push_back(Found{e.where(), e.message(), e.hint()});
        }
        if (found.empty()) return s;
    } catch (const ScenarioError& first_error) {
        search_mistakes(root, file, options, first_error, std::move(found), inputs);
    }
    if (found.size() == 1) throw ScenarioError(found[0].where, found[0].message, found[0].hint);
    throw_found(std::move(found), false, Stop::none, 0, options.overrides);
}

// read_merged's search for every mistake after `first_error`, `found` the mistakes found before the search.
void search_mistakes(const Node& root, const std::filesystem::path& file, const LoadOptions& options,
                     const ScenarioError& first_error, std::vector<Found> found, const std::vector<UncertainInput>* inputs) {
    Node doc = root;
    std::vector<std::string> changed;  // dotted paths of the values the search changed (taken out, stood in, set aside)
    const auto classify = [&](const ScenarioError& e) { return classify_mistake(doc, changed, e); };
    std::optional<Mistake> first = classify(first_error);
    if (!first && found.empty()) throw_alone(first_error);
    if (!first) {  // after the distributions' mistakes: reported with them, and the search cannot go past it
        found.push_back(Found{first_error.where(), first_error.message(), first_error.hint()});
        throw_found(std::move(found), false, Stop::at_reported, 0, options.overrides);
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
        if (!m.add_key.empty()) {  // a phase with neither tokens nor steps reads on with the stand-in's
            changed.push_back(table_path_at(doc, m.node) + "." + m.add_key);
            placeholder.reset();
            return add_key_at(doc, m.node, m.add_key, *m.placeholder);
        }
        const bool again = std::any_of(replaced.begin(), replaced.end(), [&](const SourceRef& r) { return same_place(r, m.node); });
        placeholder.reset();
        if (!m.unknown_key) {
            if (auto path = path_at(doc, m.node)) changed.push_back(*path);
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
        if (erase_at(doc, m.node, m.unknown_key)) return true;
        // A mistake about a table below the top as a whole (a key [pricing.staff] lacks): the table is taken out, so
        // that the rest of the file is still read.
        return !m.unknown_key && erase_at(doc, m.node, false, nullptr, true);
    };
    bool more = take_out(*first);
    const std::size_t search_bound = 5 * static_cast<std::size_t>(limits::kErrorsPerFile);
    // The search ended at a mistake whose value it could not take out, or at an error it could not set aside: more
    // may lie behind it.
    Stop stop = more ? Stop::none : Stop::at_reported;
    int set_aside = 0;         // values taken out unreported (an error that a change of the search may cause)
    // Every round changes the document (a value taken out, stood in or set aside), but a change that a read undoes
    // (a --set argument's keys all share one position) could repeat without end: the rounds are bounded too, and
    // past the bound the search stops and says more may lie behind (a --set of `{from = "h100", fromm = 1}` spun
    // forever; a fresh verifier, #12). Each round is one read of the document: a few ms.
    for (std::size_t round = 0; more && found.size() < search_bound; ++round) {
        if (round == 20 * search_bound) std::tie(stop, more) = std::make_pair(Stop::at_unreported, false);
        if (!more) break;
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
                more = erase_at(doc, placeholder_at, false, &*placeholder, true);  // a table value too (a range for a claim's text)
                placeholder.reset();
                continue;
            }
            // An error that a placeholder or an earlier change may have caused (batch_ramp longer than a phase
            // whose tokens were a stand-in) is not reported; its value is set aside so that the keys after it
            // are still read (a coupled rule's value that satisfies it, when it names one, is put there instead).
            // One located at a section or nowhere ends the search.
            const auto set_aside_path = unreported_at ? path_at(doc, *unreported_at) : std::nullopt;
            if (unreported_at && set_aside < limits::kErrorsPerFile &&
                erase_at(doc, *unreported_at, false, unreported_fix ? &*unreported_fix : nullptr, true)) {
                if (set_aside_path) changed.push_back(*set_aside_path);
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
        if (!again && !m->silent && std::none_of(found.begin(), found.end(), same)) found.push_back(m->text);  // once each
        more = take_out(*m);
        if (!more) stop = Stop::at_reported;
    }
    // The rest read cleanly with the stand-ins in: the ranges' ends are checked on that document, so a range that
    // reaches a value its key refuses is reported with the other mistakes.
    if (!more && stop == Stop::none && inputs != nullptr) {
        for (const ScenarioError& e : range_end_mistakes(doc, *inputs, file, options)) found.push_back(Found{e.where(), e.message(), e.hint()});
    }
    if (found.size() == 1 && stop == Stop::none && set_aside == 0) throw;
    throw_found(std::move(found), more, stop, set_aside, options.overrides);
}

}  // namespace gpuhours::detail
