// `gpuhours chips`: the chip catalog as a text table, JSON or CSV (docs/schemas.md, `chips`), with --rule each chip's
// class under an export-control rule set.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/report/report.hpp>
#include <gpuhours/report/schema.hpp>
#include <gpuhours/run/policy.hpp>
#include <gpuhours/scenario/scenario.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/units/precision.hpp>
#include <gpuhours/units/units.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace gpuhours::cli {
namespace {

// The width `chips` wraps its notes at.
constexpr std::size_t kWidth = 120;

// The catalog as listed: every chip, and with --rule the rule set and each chip's class (same order as `chips`).
struct ChipListing {
    std::vector<ChipProfile> chips;
    std::optional<RuleSet> rules;
    std::vector<Classification> classes;
};

// What the chips table's columns mean, and the rule set's source and notes under it (`narrow`: the table without its
// wide columns, prices among them).
void print_chips_legend(std::ostream& out, const RuleSet* rules, bool narrow) {
    if (narrow) {
        out << "\nDense peaks (no sparsity); bandwidths per direction; n/p = not published.\n";  // no price column here
    } else {
        out << "\nDense peaks (no sparsity); bandwidths per direction; n/p = not published; $/GPU-h: market rental price\n"
               "(sources and dates in scenarios/chips/<chip>.toml [price]; — where the reference has none).\n"
               "memory: the device memory (HBM, or GDDR on the L2, L20, L40S) in the bytes the device exposes to\n"
               "software (CUDA's or ROCm's total), what memory fits are checked\n"
               "against less a framework reserve; * the published figure, where what the device exposes is not published\n"
               "(on the HBM parts where both are known the exposed bytes lie 6-7 % above the nameplate GB).\n";
    }
    if (rules) {
        out << report::wrap_text(fmt::format("Rule set {}: {}", rules->id, rules->title), kWidth, 2);
        out << report::wrap_text("Source: " + rules->source, kWidth, 2);
        out << report::wrap_text("TPP = max over formats of dense TFLOP/s × bit length (dense reading, chips-and-rules.md "
                                 "§3.1); PD = TPP / die mm² (performance density); a rule's I/O (bidirectional interconnect) is the scale-up/dir column × 2.",
                                 kWidth, 2);
        if (!rules->note.empty()) out << report::wrap_text("Note: " + rules->note, kWidth, 2);
        if (!rules->not_subject_vendors.empty()) {
            out << report::wrap_text(fmt::format("† not subject to the rule, whatever its class: a part of {} ({})",
                                                 fmt::format("{}", fmt::join(rules->not_subject_vendors, ", ")),
                                                 rules->not_subject_source),
                                     kWidth, 2);
        }
        if (rules->memory_scope) {
            out << report::wrap_text("Scope: this rule classifies the memory on a package, not the chip (whatif cannot choose chips by it).",
                                     kWidth, 2);
        }
        if (narrow) out << "Name, memory, domain, NIC, TDP, die area and price columns, and the reasons in the table: --wide.\n";
    }
}

// --json (docs/schemas.md): `rule` is null without --rule, a missing price and its source are null, bytes whole.
void write_chips_json(const ChipListing& l, std::ostream& out) {
    report::Json j;
    j.begin_object().field("schema_version", report::kJsonSchemaVersion);
    if (l.rules) {
        j.key("rule");
        write_rule_set_json(j, *l.rules);
    } else {
        j.key("rule").null();
    }
    j.key("chips").begin_array();
    for (std::size_t i = 0; i < l.chips.size(); ++i) {
        const ChipProfile& c = l.chips[i];
        j.begin_object().field("id", c.id).field("name", c.display_name).field("vendor", c.vendor);
        j.key("peak_dense_flop_per_s").begin_object();
        for (const auto& [p, rate] : c.peak_dense) j.field(to_string(p), rate.value());
        j.end_object();
        const WholeBytes bytes = whole_bytes(c);
        j.field("memory_bytes", bytes.device).field("memory_reserve_bytes", bytes.reserve);
        j.field("memory_usable_bytes", bytes.usable);
        j.field("memory_basis", c.memory_nameplate ? "nameplate" : "exposed");
        j.field("memory_bandwidth_bytes_per_s", c.memory_bandwidth.value());
        j.field("scale_up_bandwidth_bytes_per_s", c.scale_up_bandwidth.value());
        j.field("scale_up_domain", c.scale_up_domain);
        j.field("nic_bandwidth_bytes_per_s", c.nic_bandwidth.value());
        j.field("tdp_w", c.tdp.value()).field("sm_count", c.sm_count);
        if (c.die_area_mm2) j.field("die_area_mm2", *c.die_area_mm2);
        else j.key("die_area_mm2").null();
        if (c.rental_gpu_hour) j.field("rental_gpu_hour_usd", c.rental_gpu_hour->value()).field("rental_source", c.rental_source);
        else j.key("rental_gpu_hour_usd").null().key("rental_source").null();
        if (l.rules) {
            const Classification& k = l.classes[i];
            j.key("policy").begin_object();
            j.field("tpp", k.metrics.tpp).field("tpp_basis", to_string(k.metrics.tpp_basis));
            if (k.metrics.performance_density) j.field("performance_density", *k.metrics.performance_density);
            else j.key("performance_density").null();
            j.field("interconnect_bidirectional_gb_s", k.metrics.interconnect_bidirectional_gb_s);
            j.field("memory_bandwidth_gb_s", k.metrics.memory_bandwidth_gb_s);
            j.field("class", k.class_name).field("determined", k.determined).field("subject", k.subject);
            j.key("why").begin_array();
            for (const auto& reason : k.reasons) j.value(reason);
            j.end_array().end_object();
        }
        j.end_object();
    }
    j.end_array().end_object();
    out << j.str();
}

// A CSV cell of an optional figure (report::csv_number; empty where there is none).
std::string number_cell(const std::optional<double>& v) { return v ? report::csv_number(*v) : std::string(); }

// --csv (docs/schemas.md): a data file, one row per chip, the JSON's fields under the JSON's names and units. A
// nested object's fields are columns of their own: a peak per format of kAllPrecisions (the same columns whatever
// the catalog holds), `peak_dense_<format>_flop_per_s`, empty where the chip has none; with --rule the `policy`
// fields as `policy_<field>`, `policy_why` the reasons joined with "; ". Missing figures are empty cells.
void write_chips_csv(const ChipListing& l, std::ostream& out) {
    std::vector<std::string> header{"id", "name", "vendor"};
    for (Precision p : kAllPrecisions) header.push_back(fmt::format("peak_dense_{}_flop_per_s", to_string(p)));
    header.insert(header.end(), {"memory_bytes", "memory_reserve_bytes", "memory_usable_bytes", "memory_basis",
                                 "memory_bandwidth_bytes_per_s",
                                 "scale_up_bandwidth_bytes_per_s", "scale_up_domain", "nic_bandwidth_bytes_per_s", "tdp_w",
                                 "sm_count", "die_area_mm2", "rental_gpu_hour_usd", "rental_source"});
    if (l.rules) {
        header.insert(header.end(), {"policy_tpp", "policy_tpp_basis", "policy_performance_density",
                                     "policy_interconnect_bidirectional_gb_s", "policy_memory_bandwidth_gb_s",
                                     "policy_class", "policy_determined", "policy_subject", "policy_why"});
    }
    report::Table t(header);
    for (std::size_t i = 0; i < l.chips.size(); ++i) {
        const ChipProfile& c = l.chips[i];
        std::vector<std::string> row{c.id, c.display_name, c.vendor};
        for (Precision p : kAllPrecisions) {
            const auto it = c.peak_dense.find(p);
            row.push_back(it == c.peak_dense.end() ? std::string() : report::csv_number(it->second.value()));
        }
        const WholeBytes bytes = whole_bytes(c);
        const std::string price = c.rental_gpu_hour ? report::csv_number(c.rental_gpu_hour->value()) : std::string();
        row.insert(row.end(), {fmt::format("{}", bytes.device), fmt::format("{}", bytes.reserve),
                               fmt::format("{}", bytes.usable), c.memory_nameplate ? "nameplate" : "exposed",
                               report::csv_number(c.memory_bandwidth.value()),
                               report::csv_number(c.scale_up_bandwidth.value()), fmt::format("{}", c.scale_up_domain),
                               report::csv_number(c.nic_bandwidth.value()), report::csv_number(c.tdp.value()),
                               fmt::format("{}", c.sm_count), number_cell(c.die_area_mm2), price,
                               c.rental_gpu_hour ? c.rental_source : std::string()});
        if (l.rules) {
            const Classification& k = l.classes[i];
            row.insert(row.end(), {number_cell(k.metrics.tpp), std::string(to_string(k.metrics.tpp_basis)),
                                   number_cell(k.metrics.performance_density),
                                   number_cell(k.metrics.interconnect_bidirectional_gb_s),
                                   number_cell(k.metrics.memory_bandwidth_gb_s), k.class_name,
                                   k.determined ? "true" : "false", k.subject ? "true" : "false", k.why()});
        }
        t.add_row(std::move(row));
    }
    out << t.render_csv();
}

// The text table. With a rule it keeps to 120 columns: the figures the rule tests, the class, and each chip's
// reasons listed under it; --wide gives every column in one table.
void print_chips_table(const ChipListing& l, bool wide, std::ostream& out) {
    const bool narrow = l.rules && !wide;
    auto peak = [](const ChipProfile& c, Precision p) {
        const auto it = c.peak_dense.find(p);
        return it == c.peak_dense.end() ? std::string("—") : fmt::format("{:g}", it->second.value() / 1e12);
    };
    std::vector<std::string> header = narrow ? std::vector<std::string>{"chip", "BF16 TFLOP/s", "FP8 TFLOP/s", "mem BW",
                                                                        "scale-up/dir"}
                                             : std::vector<std::string>{"chip", "name", "BF16 TFLOP/s", "FP8 TFLOP/s", "memory",
                                                                        "mem BW", "scale-up/dir", "domain", "NIC/dir", "TDP",
                                                                        "die mm²", "$/GPU-h"};
    if (l.rules) header.insert(header.end(), {"TPP", "PD", "class"});
    if (l.rules && !narrow) header.emplace_back("why");
    report::Table t(header);
    for (std::size_t i = 0; i < l.chips.size(); ++i) {
        const ChipProfile& c = l.chips[i];
        const std::string die = c.die_area_mm2 ? fmt::format("{:g}", *c.die_area_mm2) : std::string("n/p");
        std::vector<std::string> row =
            narrow ? std::vector<std::string>{c.id, peak(c, Precision::bf16), peak(c, Precision::fp8),
                                              format_bandwidth(c.memory_bandwidth), format_bandwidth(c.scale_up_bandwidth)}
                   : std::vector<std::string>{c.id, c.display_name, peak(c, Precision::bf16), peak(c, Precision::fp8),
                                              format_bytes(c.memory_device) + (c.memory_nameplate ? "*" : ""),
                                              format_bandwidth(c.memory_bandwidth),
                                              format_bandwidth(c.scale_up_bandwidth), std::to_string(c.scale_up_domain),
                                              format_bandwidth(c.nic_bandwidth), format_power(c.tdp), die,
                                              c.rental_gpu_hour ? fmt::format("${:.2f}", c.rental_gpu_hour->value()) : std::string("—")};
        if (l.rules) {
            const Classification& k = l.classes[i];
            row.insert(row.end(), {format_policy_number(k.metrics.tpp),
                                   k.metrics.performance_density ? format_policy_number(*k.metrics.performance_density)
                                                                 : std::string("n/p"),
                                   k.subject ? k.class_name : k.class_name + " †"});
            if (!narrow) row.push_back(k.why());
        }
        t.add_row(row);
    }
    out << t.render();
    if (narrow) {
        out << "\nwhy\n";
        for (std::size_t i = 0; i < l.chips.size(); ++i) {
            out << report::wrap_text(l.classes[i].why(), kWidth, 15, fmt::format("  {:<13}", l.chips[i].id));
        }
    }
    print_chips_legend(out, l.rules ? &*l.rules : nullptr, narrow);
}

}  // namespace

int cmd_chips(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "chips");
    if (!args.positional.empty()) throw Error("`gpuhours chips` takes no positional arguments");
    const auto dir = catalog_dir(args);
    ChipListing l;
    // --rule: classify every chip under an export-control rule set (scenarios/policy/<id>.toml).
    if (args.has("--rule")) l.rules = for_flag("--rule", args.get("--rule"), [&] { return load_rule_set(args.get("--rule"), dir); });
    const auto names = catalog_names(dir, "chips");
    if (names.empty()) throw Error(fmt::format("no chips in {}", (dir / "chips").string()), "pass --catalog DIR");
    for (const auto& n : names) l.chips.push_back(load_chip(n, dir));
    if (l.rules) {
        for (const auto& c : l.chips) l.classes.push_back(classify(c, *l.rules));
    }
    if (args.has("--json") && args.has("--csv")) throw Error("give either --json or --csv, not both", "each writes the whole table in its own format");
    if (args.has("--wide") && (!l.rules || args.has("--json") || args.has("--csv"))) {  // read and never used otherwise
        throw Error("--wide widens the table of a classification (--rule NAME), printed as text",
                    "add --rule NAME (e.g. --rule oct-2023), or leave --wide out");
    }
    if (args.has("--json")) write_chips_json(l, out);
    else if (args.has("--csv")) write_chips_csv(l, out);
    else print_chips_table(l, args.has("--wide"), out);
    return 0;
}

}  // namespace gpuhours::cli
