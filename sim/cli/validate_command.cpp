// `gpuhours validate`: every scenario in scenarios/validation/ against the figures its paper reported.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/report/schema.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/analysis/validation.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <ostream>

namespace gpuhours::cli {

int cmd_validate(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "validate");
    if (!args.positional.empty()) throw Error(fmt::format("validate takes no scenario (got `{}`)", args.positional.front()), "use --dir DIR for another directory");
    const std::filesystem::path dir = args.has("--dir") ? std::filesystem::path(args.get("--dir")) : default_catalog_dir() / "validation";
    LoadOptions options;
    if (args.has("--catalog")) options.catalog_dir = catalog_dir(args);
    ProgressBar progress("validation cases", args);
    const std::vector<ValidationCase> cases =
        validate_directory(dir, options, [&](int done, int total) { progress.update(done, total); });
    const ValidationSummary summary = summarize_validation(cases);
    if (args.has("--json")) {
        auto stats = [](report::Json& j, const char* key, const ValidationStats& s) {
            j.key(key).begin_object().field("measurements", s.measurements).field("cases", s.cases);
            if (s.measurements == 0) {  // no measurement: no error to state (it read 0.0: a researcher's read)
                j.key("mean_absolute_percentage_error").null().key("max_absolute_percentage_error").null();
                j.key("median_absolute_percentage_error").null();
                j.key("max_case").null().key("max_figure").null().end_object();
                return;
            }
            j.field("mean_absolute_percentage_error", 100.0 * s.mean_absolute_error);
            j.field("max_absolute_percentage_error", 100.0 * s.max_absolute_error);
            j.field("median_absolute_percentage_error", 100.0 * s.median_absolute_error);
            j.field("max_case", s.max_case).field("max_figure", s.max_figure).end_object();
        };
        report::Json j;
        j.begin_object().field("schema_version", report::kJsonSchemaVersion).field("mean_absolute_percentage_error", 100.0 * summary.all.mean_absolute_error);
        stats(j, "independent", summary.independent);
        stats(j, "informed", summary.informed);
        j.key("cases").begin_array();
        for (const auto& c : cases) {
            j.begin_object().field("id", c.id).field("title", c.title).field("source", c.source);
            j.field("independent", c.independent());
            j.key("informed").begin_array();
            for (const auto& f : c.informed) j.value(f);
            j.end_array();
            j.field("step_time_s", c.step.step_time.value());
            j.key("figures").begin_array();
            for (const auto& f : c.figures) {
                j.begin_object().field("name", f.name).field("unit", f.unit).field("predicted", f.predicted).field("reported", f.reported);
                j.field("error_percent", 100.0 * f.relative_error()).field("measurement", f.measurement).field("counted", f.counted).end_object();
            }
            j.end_array().end_object();
        }
        j.end_array().end_object();
        out << j.str();
        return 0;
    }
    report::Table t({"run", "figure", "predicted", "reported", "error", "counted"});
    for (const auto& c : cases) {
        for (const auto& f : c.figures) {
            auto value = [&](double v) { return v >= 1000 ? fmt::format("{} {}", report::with_commas(v), f.unit) : fmt::format("{:.4g} {}", v, f.unit); };
            const char* counted = !f.counted ? "restates the above" : c.independent() ? "independent" : "informed the catalog";
            t.add_row({c.id, f.name, value(f.predicted), value(f.reported), fmt::format("{:+.1f}%", 100.0 * f.relative_error()), counted});
        }
    }
    out << fmt::format("Predictions against published training runs ({}; each file cites its paper and table)\n\n",
                       args.has("--dir") ? dir.string() : std::string("scenarios/validation/"));
    out << t.render();
    auto line = [](const ValidationStats& s) {
        if (s.measurements == 0) return std::string("none");
        return fmt::format("{} published measurement{} of {} run{}: mean absolute error {:.1f}%, max {:.1f}% ({}, {})", s.measurements,
                           s.measurements == 1 ? "" : "s", s.cases, s.cases == 1 ? "" : "s", 100.0 * s.mean_absolute_error,
                           100.0 * s.max_absolute_error, s.max_case, s.max_figure);
    };
    out << fmt::format("\neach published measurement counts once however many ways its paper states it ({} figure{} listed)\n",
                       summary.figures_listed, summary.figures_listed == 1 ? "" : "s");
    out << "  independent (no catalog figure set on them): " << line(summary.independent)
        << (summary.independent.measurements == 0 ? std::string()
                                                  : fmt::format("; median {:.1f}%", 100.0 * summary.independent.median_absolute_error))
        << "\n";
    out << "  informed a catalog figure (consistency checks): " << line(summary.informed) << "\n";
    out << fmt::format("  all: mean absolute percentage error {:.1f}% over {} measurement{} of {} run{}\n", 100.0 * summary.all.mean_absolute_error,
                       summary.all.measurements, summary.all.measurements == 1 ? "" : "s", cases.size(), cases.size() == 1 ? "" : "s");
    out << "\nsources\n";
    for (const auto& c : cases) {
        out << fmt::format("  {}: {}\n", c.id, c.source);
        if (!c.independent()) out << fmt::format("    informed: {}\n", fmt::join(c.informed, "; "));
    }
    out << "\nKernel efficiencies come from micro-benchmarks (scenarios/chips/README.md); a case that informed a catalog figure\n"
           "says which in [published] informed. MFU errors are relative (5 points of 43% = 11.6%).\n";
    return 0;
}

}  // namespace gpuhours::cli
