// Export-control rule sets as data, and the classification of a chip under one (issue 6, policy analysis).
// A rule set is an ordered list of named classes ("3A090.a", "3A090.b", …), each defined by a condition over
// per-chip metrics; the first class whose condition holds applies, else the rule set's default class.
// Definitions follow shared/reference/chips-and-rules.md Part 3; rule files live in scenarios/policy/ and are
// read by the scenario layer (load_rule_set in scenario.hpp).
#pragma once

#include <gpuhours/units/error.hpp>
#include <gpuhours/hardware/hardware.hpp>
#include <gpuhours/units/precision.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuhours {

// The figures a rule can test. Units are those the rules are written in (FR text), not SI base units.
enum class PolicyMetric {
    tpp,                              // total processing performance: dense TFLOP/s (or TOPS) × bit length
    performance_density,              // TPP per mm² of applicable (non-planar logic) die area
    interconnect_bidirectional_gb_s,  // aggregate bidirectional chip-to-chip I/O, GB/s (10⁹ B/s)
    memory_bandwidth_gb_s,            // total DRAM (HBM/GDDR) bandwidth, GB/s
    memory_gb,                        // DRAM capacity, GB (10⁹ B)
};
std::string_view to_string(PolicyMetric m);
std::optional<PolicyMetric> policy_metric_from_string(std::string_view name);
std::vector<std::string> policy_metric_names();
// Short label used in explanations: "TPP", "PD", "I/O", "DRAM BW", "memory".
std::string_view label(PolicyMetric m);

// A chip's metrics as the rules read them.
struct ChipMetrics {
    std::string chip_id;
    // ECCN 3A090 TPP (chips-and-rules.md §3.1): max over formats of dense peak TFLOP/s × bit length. FP64 is
    // excluded (it never sets the maximum on these parts). Dense, not sparse: the reading industry practice uses
    // (the L20 would be 3A090.a under a sparse reading yet was sold as compliant) — a deliberate assumption.
    double tpp = 0.0;
    Precision tpp_basis = Precision::bf16;       // the format that set the maximum (on a tie a 16-bit one, then 8-bit)
    // TPP / die area; nullopt where the catalog has no published die area (B200, MI300X, Gaudi 3, …).
    std::optional<double> performance_density;
    // Approximation: scale-up bandwidth per direction × 2. For PCIe-only parts (L20, L40S) the catalog's
    // scale-up figure is the PCIe link, so PCIe is counted there; for NVLink parts PCIe to the host and the
    // scale-out NICs are not added (the reference's 600/400 GB/s readings count NVLink only, §3.2).
    double interconnect_bidirectional_gb_s = 0.0;
    double memory_bandwidth_gb_s = 0.0;
    double memory_gb = 0.0;

    // The value of `m`, or nullopt when it is unknown for this chip.
    [[nodiscard]] std::optional<double> value(PolicyMetric m) const;
};

ChipMetrics metrics_of(const ChipProfile& chip);

// One comparison on one metric; any bounds given must all hold ({ at_least = 2400, below = 4800 } is a range).
struct Threshold {
    PolicyMetric metric = PolicyMetric::tpp;
    std::optional<double> at_least;  // value ≥ x
    std::optional<double> above;     // value > x
    std::optional<double> at_most;   // value ≤ x
    std::optional<double> below;     // value < x
    SourceRef where;
};

// A leaf threshold, or all/any of sub-conditions.
struct Condition {
    enum class Combine { leaf, all, any };
    Combine combine = Combine::leaf;
    Threshold threshold;            // when leaf
    std::vector<Condition> terms;   // when all / any (non-empty)
};

struct RuleClass {
    std::string name;         // "3A090.a"
    std::string description;  // what falling in the class means ("licence required for China/Macau/D:5")
    std::string source;       // citation, with [U] where the reference marks it
    Condition condition;      // unused for the default class
    // Whether a chip in this class can be shipped to the restricted destination without a licence, or with one
    // the rule presumes to grant: what `whatif --rule` keeps. Default: only the default class is permitted.
    bool permitted = false;
    SourceRef where;
};

struct RuleSet {
    std::string id;           // file name without .toml: "oct-2023"
    std::string title;        // "October 2023 update: 3A090.a / .b"
    std::string source;       // the rule's citation
    std::string note;         // approximations, scope
    std::vector<RuleClass> classes;  // checked in order
    RuleClass fallback;              // applies when no class does
    // What the rule classifies (`scope`): "chip", the accelerator, so that `whatif --rule` can keep the chips it
    // permits; or "memory", the memory on a package (3A090.c HBM), which says nothing of whether the chip itself
    // may be shipped: `whatif --rule` and a scenario's [whatif] rule refuse such a rule set, `chips --rule` shows it.
    bool memory_scope = false;
    // Vendors whose parts the rule does not reach (`not_subject = { vendors = [...], source = "…" }`): PRC-origin
    // parts are not US exports ("n/a (PRC-origin)", shared/reference/chips-and-rules.md §3.7). Such a chip keeps
    // its technical class but counts as permitted, and its classification says why.
    std::vector<std::string> not_subject_vendors;
    std::vector<SourceRef> not_subject_where;  // each vendor's position in the file (load_rule_set checks the names)
    std::string not_subject_source;
};

// Three-valued: a condition on an unknown metric is unknown unless the rest decides it.
enum class Truth { no, yes, unknown };

struct Classification {
    std::string chip_id;
    std::string class_name;     // the class that applies, or kUndetermined
    bool determined = true;     // false: an earlier class depends on an unknown metric (die area)
    std::vector<std::string> reasons;  // "TPP 15,831 ≥ 4,800", "not 3A090.a: TPP 2,368 < 4,800; …"
    ChipMetrics metrics;
    // false: the chip's vendor is one the rule does not reach (RuleSet::not_subject_vendors); the chip is then
    // permitted whatever its class, and the last reason says so.
    bool subject = true;

    [[nodiscard]] std::string why() const;  // reasons joined with "; "
};

inline constexpr std::string_view kUndetermined = "depends on die area (not published)";

// Checks the rule set's classes in order. Never guesses an unknown performance density: if a class's condition
// is unknown before any class holds, the result is undetermined and names the classes it could be.
Classification classify(const ChipMetrics& metrics, const RuleSet& rules);
// Whether the class a classification names is a permitted one (false while undetermined); true for a chip the
// rule does not reach (Classification::subject false).
bool permitted(const Classification& c, const RuleSet& rules);
// As classify(metrics_of(chip), rules), and `subject` false when the chip's vendor is among the rule's
// not_subject_vendors.
Classification classify(const ChipProfile& chip, const RuleSet& rules);

// Why a rule set of memory scope cannot choose the chips of a what-if, and what to use instead (whatif --rule, a
// scenario's [whatif] rule without chips).
std::string memory_scope_refusal(const RuleSet& rules);
std::string memory_scope_hint(const RuleSet& rules);

// A number as the rules print it: thousands grouped and integral at ≥ 100 ("15,831"), else two decimals
// trimmed ("5.92", "2.91", "1.6").
std::string format_policy_number(double v);

}  // namespace gpuhours
