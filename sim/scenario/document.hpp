// The scenario layer's own document tree: TOML read by toml++, converted into nodes that carry their source
// position, can be deep-merged (`extends`, catalogs, `--set`) without losing positions, and remember which keys
// were read so that anything left over is reported as an unknown key. Internal to the scenario layer.
#pragma once

#include <gpuhours/units/error.hpp>
#include <gpuhours/units/units.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpuhours::detail {

struct Node {
    enum class Kind { string, integer, floating, boolean, array, table, other };

    Kind kind = Kind::table;
    std::string text;          // string value, or the TOML text of an `other` value (dates)
    std::int64_t integer = 0;
    double floating = 0.0;
    bool boolean = false;
    std::vector<Node> items;                          // array elements
    std::vector<std::pair<std::string, Node>> fields;  // table fields in document order
    std::vector<SourceRef> key_sources;               // position of each field's key (parallel to fields)
    SourceRef where;                                  // position of the value (a table: its header)
    // A `--set` value: the value it replaced (a file's), which the search for every mistake puts back when it takes
    // the override out; null when the override added the key.
    std::shared_ptr<const Node> replaced;
    // The nominal value extract_uncertain put in place of a distribution ({ low, high } …): a key that reads it as
    // another type says it was given a range, not the nominal number.
    bool from_range = false;

    [[nodiscard]] Node* find(std::string_view key);
    [[nodiscard]] const Node* find(std::string_view key) const;
    // Sets (replacing) a field; keeps document order for existing keys.
    Node& set(const std::string& key, Node value, SourceRef key_source);
    void erase(std::string_view key);
};

std::string_view kind_name(Node::Kind kind);

// A mistake in one key alone — its name is unknown, or its value has the wrong type, range or unit — found
// without looking at any other key: reading can go on without that key to find the file's next mistake (the
// scenario reader reports every such mistake of a file at once, read_merged). `node` is the position of the value
// (of the key, for an unknown key) in the document, which `where` may refine (a column inside a string).
// `placeholder`, when given, is a valid value of the kind the key needs (an integer within its range, a quantity
// with its unit, a known choice): read_merged puts it in the value's place, so that a required key's mistake does
// not end the search; a key without one is taken out. For an unknown key, `placeholder` is a string holding the
// suggested key's name (absent from the table): the search reads on with the key renamed to it, as a compiler reads
// on after a misspelling.
class KeyError : public ScenarioError {
public:
    KeyError(SourceRef where, SourceRef node, bool unknown_key, std::string message, std::string hint = {},
             std::shared_ptr<const Node> placeholder = nullptr)
        : ScenarioError(std::move(where), std::move(message), std::move(hint)),
          node_(std::move(node)),
          unknown_key_(unknown_key),
          placeholder_(std::move(placeholder)) {}
    [[nodiscard]] const SourceRef& node() const { return node_; }
    [[nodiscard]] bool unknown_key() const { return unknown_key_; }
    [[nodiscard]] const Node* placeholder() const { return placeholder_.get(); }

private:
    SourceRef node_;
    bool unknown_key_ = false;
    std::shared_ptr<const Node> placeholder_;
};

// A table lacks a key it needs (a phase with neither tokens nor steps, a failure class with neither MTBF): the
// error is located at the table (`where`), and the search for every mistake reads on with `key` = `placeholder`
// added to that table — a valid value of the kind the key needs — so that the keys after it are still read.
class MissingKeyError : public ScenarioError {
public:
    MissingKeyError(SourceRef where, std::string message, std::string hint, std::string key, std::shared_ptr<const Node> placeholder)
        : ScenarioError(std::move(where), std::move(message), std::move(hint)), key_(std::move(key)), placeholder_(std::move(placeholder)) {}
    [[nodiscard]] const std::string& key() const { return key_; }
    [[nodiscard]] const Node& placeholder() const { return *placeholder_; }

private:
    std::string key_;
    std::shared_ptr<const Node> placeholder_;
};


// Parses TOML text; syntax errors become ScenarioError at the reported position.
Node parse_document(std::string_view text, const std::string& path);
// A scenario, `extends` or catalog file's text: only a regular file within limits::kInputFileBytes, opened without
// blocking (a FIFO or device is refused, never waited on or read). Errors at `referenced_from` when known, else
// naming the file.
std::string read_input_file(const std::string& path, const SourceRef& referenced_from = {});
// Reads and parses a file (read_input_file); a missing file is a ScenarioError at `referenced_from` (when known).
Node parse_document_file(const std::string& path, const SourceRef& referenced_from = {});

// Deep merge: tables merge key by key (recursively), anything else in `overlay` replaces `base`.
void merge_into(Node& base, Node overlay);

// Applies one "a.b.c=value" override; the value is read as TOML, or as a plain string if it is not valid TOML
// (so `--set cluster.chip=h100` works unquoted).
void apply_override(Node& root, const std::string& assignment);

// Reads the fields of one table and checks, in finish(), that no field was left unread (unknown keys), with a
// "did you mean" suggestion among the keys this reader asked for.
class TableReader {
public:
    // `table` must be a table node; `name` is its dotted path for messages ("parallelism", "" for the root).
    TableReader(const Node& table, std::string name);

    [[nodiscard]] const Node* optional(std::string_view key);
    [[nodiscard]] const Node& required(std::string_view key, std::string_view hint = {});
    [[nodiscard]] bool has(std::string_view key);
    // Marks a key as known without reading it (handled elsewhere, e.g. `extends`).
    void allow(std::string_view key);
    // For a key the table must have but lacks (required, or one of an either-or pair): a key written here that no
    // reader has taken and that is a plausible misspelling of one of `keys` (`mtbf_per_gpus`), or the start of
    // some of them (`mtbf`), is the mistake — throws the unknown-key KeyError finish() would, suggesting the closest
    // (or those it starts) and read on as it (the first). Else returns.
    void name_misspelling_of(const std::vector<std::string>& keys) const;

    [[nodiscard]] const Node& table() const { return table_; }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] std::string path_of(std::string_view key) const;  // "parallelism.pipeline"

    // Throws for the first unknown key.
    void finish() const;

private:
    // The unknown-key KeyError for field i, read on as `read_as` when given (its suggestion).
    [[noreturn]] void throw_unknown(std::size_t i, std::string hint, const std::optional<std::string>& read_as) const;

    const Node& table_;
    std::string name_;
    std::vector<std::string> known_;
};

// Whether table `n` is written as a distribution (docs/scenario-language.md, "Uncertain inputs"): it has `dist`, or
// two of low, mode, high, mean, sd — so `{ low = 1, mode = 2, hgih = 3 }` is one, whose stray key is then named.
// A layer's distribution replaces the one below it whole (merge_into), never key by key.
bool is_distribution(const Node& n);
// Whether table `n` is a lookup table by sequence length (`[efficiency] attention_shape`: a `sequence` list and rows
// of the same length): a layer's table replaces the one below it whole (merge_into), either being one, so that a
// row written over a catalog's table is not credited to the catalog's measurement and rows always match sequences.
bool is_lookup_table(const Node& n);

// A value of `kind` at `where`: the search for every mistake's stand-in for a mistaken value (KeyError's
// placeholder) or the value that satisfies a coupled rule (CoupledError's).
std::shared_ptr<const Node> stand_in(const SourceRef& where, Node::Kind kind, std::int64_t integer, double floating = 0.0,
                                     std::string text = {});

// Typed readers. Each throws ScenarioError at the value's position naming the key and the expected form.
std::string as_string(const Node& node, std::string_view key_path);
std::int64_t as_integer(const Node& node, std::string_view key_path, std::int64_t min, std::int64_t max);
int as_int(const Node& node, std::string_view key_path, int min, int max);
double as_number(const Node& node, std::string_view key_path);  // integer or float
bool as_bool(const Node& node, std::string_view key_path);
const Node& as_table(const Node& node, std::string_view key_path);

// A quantity written as a unit string ("400 GB/s"); a bare number is an error asking for the unit.
template <class Q>
Q as_quantity(const Node& node, std::string_view key_path, Q (*parse)(std::string_view), std::string_view example);
// A count written as a number or a suffixed string ("14.8T").
double as_count(const Node& node, std::string_view key_path);

// Catalog figures are written either as a plain value or as { value = …, source = "…" }. Returns the value
// node (marking `source`/`note` as known) and, through `source`, the source text when given.
const Node& figure_value(const Node& node, std::string_view key_path, std::string* source = nullptr);

// The closest of `candidates` to `word` if it is close enough to be a plausible typo.
std::optional<std::string> suggest(const std::string& word, const std::vector<std::string>& candidates);
// What `word` may mean among `candidates` for a "did you mean": every candidate it is the start of (3 characters or
// more: "a100" for a100-40gb and a100-80gb), else suggest()'s, else the longest candidate it starts with before a
// "-", "_", " " or "." ("h100-sxm": h100), else none; `quoted`: as the message lists them,
// "\"a100-40gb\" or \"a100-80gb\"" (`quote`: the mark around each, "`" for keys).
std::vector<std::string> meanings(const std::string& word, const std::vector<std::string>& candidates);
std::string quoted(const std::vector<std::string>& names, char quote = '"');

}  // namespace gpuhours::detail
