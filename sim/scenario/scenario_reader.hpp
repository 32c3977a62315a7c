// The readers of the scenario sections and the steps of loading, shared by the files of the scenario layer.
#pragma once

#include <gpuhours/scenario/scenario.hpp>

#include "document.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpuhours::detail {

inline constexpr int kMaxInt = std::numeric_limits<int>::max();

// ---- catalog lookup (catalog.cpp) ------------------------------------------------------------------------

// Whether `dir` holds chips/ and models/.
bool is_catalog_dir(const std::filesystem::path& dir);
// Loads the catalog entry `name` of `kind` ("chips" or "models"); unknown names list the known ones.
Node load_catalog_entry(const std::string& kind, const std::string& name, const std::filesystem::path& catalog_dir,
                        const SourceRef& referenced_from);

// A catalog slot is either a name ("h800"), or a table: a full inline definition, or `from = "h800"` plus
// overrides. Returns the merged table and the id to show for it.
std::pair<Node, std::string> resolve_slot(const Node& slot, const std::string& kind, const std::string& key_path,
                                          const std::filesystem::path& catalog_dir);

// ---- readers shared by the sections (scenario.cpp) ------------------------------------------------------

void require_positive(double value, const Node& node, std::string_view path, std::string_view what);
// `value` within the supported range [lo, hi] of limits.hpp, else a located "… beyond the supported range of
// `what` (limit lo to hi unit)" error. `value` and the limits are in `unit` (the quantity's base unit).
// `hint` replaces the default one (a chip figure's: a wrong unit or exponent).
// A top-level `model = "…"` written inside a table (after its header): refused at the key, saying why.
void require_model_not_misplaced(const Node& root);
void require_within(double value, const Node& node, std::string_view path, std::string_view what, double lo,
                    double hi, std::string_view unit, std::string_view hint = {});
// Where `key` is written in `table` (the key itself), else the table's header.
SourceRef key_where(const Node& table, std::string_view key);
// Records in `out` where each value of `root` is written, by dotted path (arrays as "name[i]").
void record_positions(const Node& root, std::map<std::string, SourceRef, std::less<>>& out);
// The cluster's fabric against its size rule (check_fabric_size), located at the [cluster] key to change.
void check_cluster_size(const Scenario& s);
int read_int(TableReader& r, std::string_view key, int min, int max, std::optional<int> fallback = std::nullopt);
// As read_int, for a key bounded by one of limits.hpp's supported ranges: a value past `limit` is an error worded
// "… is beyond the supported range of WHAT (limit N)", located at the value, with the limit as its stand-in.
// A rule that couples a value to others (a phase's tokens against its batch), with a value that satisfies it: the
// scenario reader's search for every mistake of a file (read_merged) reports it like any rule at a value, and when
// it may follow from a stand-in the search put in, puts `placeholder` there instead of taking the value out — at
// the placeholder's own place (`placeholder->where`), which may be another key than the one the message points at
// (tensor × … × data ≠ gpus is located at [parallelism] and satisfied by gpus = the product).
// `involves`: the dotted keys the rule reads ("parallelism.expert", "model", "cluster.gpus"); when given, the search
// holds the error back only if it changed one of them (or a value below one), not for any change in the coupled
// sections. A placeholder may be null (nothing names a value that satisfies the rule).
class CoupledError : public ScenarioError {
public:
    CoupledError(SourceRef where, std::string message, std::string hint, std::shared_ptr<const Node> placeholder,
                 std::vector<std::string> involves = {})
        : ScenarioError(std::move(where), std::move(message), std::move(hint)),
          placeholder_(std::move(placeholder)),
          involves_(std::move(involves)) {}
    [[nodiscard]] const Node* placeholder() const { return placeholder_.get(); }
    [[nodiscard]] const std::vector<std::string>& involves() const { return involves_; }
    // The phase the rule was checked for ("phases[1]"; empty: the scenario's own rule): the search for every mistake
    // holds it back for a change of `involves` in that phase or outside the phases, not in another phase.
    [[nodiscard]] const std::string& phase() const { return phase_; }
    // The same error checked for `phase`; `named`: its message starts with the phase's name ("phases[1]: …").
    [[nodiscard]] CoupledError in_phase(const std::string& phase, bool named) const {
        CoupledError e(where(), named ? phase + ": " + message() : message(), hint(), placeholder_, involves_);
        e.phase_ = phase;
        return e;
    }
    // Where the placeholder goes: its own place when it has one, else the error's.
    [[nodiscard]] const SourceRef& fix_at() const {
        return placeholder_ != nullptr && placeholder_->where.line > 0 ? placeholder_->where : where();
    }

private:
    std::shared_ptr<const Node> placeholder_;
    std::vector<std::string> involves_;
    std::string phase_;
};

// A run or phase of `tokens` must train at least one step of `tokens_per_step`: "1.5" for "1.5T" would otherwise
// be a run of a millionth of a step. Located at `node` (tokens, or steps when `by_steps`), named `path`.
void require_whole_step(double tokens, double tokens_per_step, const Node& node, std::string_view path, bool by_steps);
int read_limited(TableReader& r, std::string_view key, int min, int limit, std::string_view what,
                 std::optional<int> fallback = std::nullopt);

// One of `choices` by name; `fallback` when the key is absent (required when there is none).
template <class Enum>
Enum read_choice(TableReader& r, std::string_view key, const std::vector<std::pair<std::string_view, Enum>>& choices,
                 std::optional<Enum> fallback) {
    const Node* node = r.optional(key);
    std::string list;
    for (const auto& [name, value] : choices) list += (list.empty() ? "\"" : ", \"") + std::string(name) + "\"";
    if (node == nullptr) {
        if (fallback) return *fallback;
        (void)r.required(key, fmt::format("add `{} = …` with one of {}", key, list));
    }
    const std::string path = r.path_of(key);
    const std::string text = detail::as_string(*node, path);
    std::vector<std::string> names;
    for (const auto& [name, value] : choices) {
        if (name == text) return value;
        names.emplace_back(name);
    }
    std::string hint = fmt::format("use one of {}", list);
    const auto best = detail::suggest(text, names);
    if (best) hint = fmt::format("did you mean \"{}\"? ({})", *best, hint);
    // The stand-in for the search for every mistake: the suggestion, else the default, else the first choice.
    auto known = std::make_shared<Node>(*node);
    known->text = std::string(choices.front().first);
    for (const auto& [name, value] : choices) {
        if (fallback && value == *fallback) known->text = std::string(name);
    }
    if (best) known->text = *best;
    throw detail::KeyError(node->where, node->where, false, fmt::format("`{}` = \"{}\" is not a known choice", path, text), hint,
                           std::move(known));
}

// ---- the sections ----------------------------------------------------------------------------------------

// read_cluster.cpp: a chip (catalog entry or inline table, `prefix` its dotted path for messages) and [cluster].
// `user_file`: the file of the scenario's [cluster.chip] table, whose values (and `--set`s) are the user's own, so
// that a rule between a catalog value and a user's is reported at the user's (empty: a catalog chip read alone).
ChipProfile read_chip(const Node& table, const std::string& id, const std::string& prefix, const std::string& user_file = {});
ClusterSpec read_cluster(const Node& node, const std::filesystem::path& catalog_dir);
// read_model.cpp
ModelSpec read_model(const Node& table, const std::string& id, const std::string& prefix);
// read_parallelism.cpp: [parallelism] (sets *data_given to whether `data` was written) and the layout rules.
// `name`: the table's dotted path in messages ("parallelism", or "phases[1].parallelism" for a phase's).
ParallelLayout read_parallelism(const Node& node, int gpus, int* data_given, const std::string& name = "parallelism");
void validate_layout(const Scenario& s, bool data_given);
// The source of a figure the scenario writes without one: "set in the scenario (FILE:LINE)", naming the file —
// the scenario's own or one it extends — where it is written; "set on the command line (--set …)" for an override;
// "set in the scenario" when that is unknown.
std::string set_in_scenario(const SourceRef& where);
// Whether two positions are the same place (file, line and column).
bool same_place(const SourceRef& a, const SourceRef& b);
// The scenario's key a phase's own key stands for: "parallelism.tensor" as it is, any other ("global_batch",
// "sequence_length") under training.
std::string scenario_key_of_phase(const std::string& phase_key);
// The layer a position belongs to: 2 for a `--set` argument, 1 for the scenario file (s.sources.file), 0 for a
// file it extends (directly or not).
int layer_of(const Scenario& s, const SourceRef& where);
// written_after (a later layer, or further down the same file): include/gpuhours/scenario/scenario.hpp.
// Of the dotted `keys`, where the one written in the latest layer is (layer_of; a tie goes to the earlier in the
// list); `fallback` when none is written. A rule between keys is located there: at the value the user changed last.
SourceRef latest_written(const Scenario& s, std::initializer_list<std::string_view> keys, const SourceRef& fallback);
// A rule between `keys` broken: a CoupledError located at latest_written(keys) (else `fallback`), involving them.
[[noreturn]] void throw_rule(const Scenario& s, std::initializer_list<std::string_view> keys, const SourceRef& fallback,
                             std::string message, std::string hint, std::shared_ptr<const Node> placeholder = nullptr);
// The pipeline schedule's rules on the micro-batches per replica at `global_batch` (DualPipe: even and at least
// 2 × pipeline; interleaved: a multiple of the stages, and at least 2 stages): an error at `batch_where`, or at the
// layout key when no batch would do.
void check_schedule_shape(const Scenario& s, int global_batch, const SourceRef& batch_where);
// read_training.cpp: [training] and [[phases]].
// `name`: the table's dotted path in messages ("training", or "phases[1]" for a phase's keys over it).
TrainingSpec read_training(const Node& node, const ChipProfile& chip, bool tokens_required, const std::string& name = "training");
// [[phases]]: each phase's keys override [training] (tokens or steps, sequence_length, global_batch) and, in
// [phases.parallelism], [parallelism]; the result is validated like the scenario itself.
std::vector<PhaseSpec> read_phases(const Node& node, const Scenario& base, const Node& training_node,
                                   const Node* parallel_node);
// read_reliability.cpp: `reliability` as written (nullptr: absent, the default catalog entry), a catalog name or
// "none", or a table with an optional `from`; the figures read are noted in `assumptions` with their sources.
ReliabilitySpec read_reliability(const Node* node, const std::filesystem::path& catalog_dir, std::vector<Assumption>& assumptions);
// read_pricing.cpp
// The value node of figure `key` of `r` (a value or { value = …, source = "…" }; nullptr when absent), noted in
// `out` as an assumption with the text source_of(the source as written, possibly empty; the value's position).
const Node* note_figure(TableReader& r, std::string_view key, std::vector<Assumption>& out,
                        const std::function<std::string(const std::string&, const SourceRef&)>& source_of);
// [pricing], over the pricing catalog entry its `from` names (scenarios/pricing/<name>.toml, every figure
// { value = …, source = "…" }); each figure read is appended to `assumptions` with its source.
PricingSpec read_pricing(const Node& node, const std::filesystem::path& catalog_dir, std::vector<Assumption>& assumptions);
// read_claims.cpp: [[claims]], [published] and [whatif].
ClaimSpec read_claim(const Node& node, std::size_t index);
// `catalog_dir`: where `informed` entries ("chips/h800.toml efficiency.gemm_fp8") must name an existing file and key.
PublishedSpec read_published(const Node& node, const std::filesystem::path& catalog_dir);
WhatIfSpec read_whatif(const Node& node, const std::filesystem::path& catalog_dir);

// ---- loading (scenario.cpp, uncertain.cpp) --------------------------------------------------------------

// `extends` and `--set` applied: the document the scenario is read from. Given `mistakes`, an `unset` entry that
// names a key the base does not set is added to them and skipped (reported with the rest of the file's mistakes,
// read_merged's `prior`); without, it is thrown.
Node merge_document(Node root, const std::filesystem::path& file, const LoadOptions& options,
                    std::vector<ScenarioError>* mistakes = nullptr);
// The scenario of a merged document read once: the first mistake thrown as it is (scenario.cpp).
Scenario read_merged_once(const Node& root, const std::filesystem::path& file, const LoadOptions& options);
// The scenario of a merged document: every section read, catalogs resolved, the layout validated; on a mistake,
// every mistake of the document at once (mistakes.cpp). `prior`: mistakes already found in the document (its
// distributions', `unset`'s, `--set`'s), reported with the others in file order. `inputs`: the document's
// uncertain inputs, whose range ends (range_end_mistakes) are checked once the rest reads cleanly — with the
// search's stand-ins in place when there were other mistakes, so that they are reported with them.
Scenario read_merged(const Node& root, const std::filesystem::path& file, const LoadOptions& options,
                     const std::vector<ScenarioError>& prior = {}, const std::vector<UncertainInput>* inputs = nullptr);
// Replaces each distribution in the document by its nominal value and returns the uncertain inputs. A distribution
// with a mistake is appended to `mistakes` and replaced by its first scalar bound (mode, mean, low, high), or taken
// out when it has none, so that the rest of the file can be read and every mistake reported at once.
std::vector<UncertainInput> extract_uncertain(Node& root, std::vector<ScenarioError>& mistakes);
// Sets the node at the input's dotted path to `value` written like the input's bounds; false when the document
// has no value there (the search for every mistake took out the key that held it).
bool set_value(Node& root, const UncertainInput& u, double value);
// Both ends of every uncertain input's range (UncertainInput::range), each with the others at their nominal
// values, read as a draw would be: a range that reaches a value the key refuses is a mistake located at the
// distribution (one per input), so that `check` refuses what a run would fail on at a draw. `document`: merged, with the
// uncertain inputs at their nominal values (extract_uncertain).
std::vector<ScenarioError> range_end_mistakes(const Node& document, const std::vector<UncertainInput>& inputs,
                                              const std::filesystem::path& file, const LoadOptions& options);

}  // namespace gpuhours::detail
