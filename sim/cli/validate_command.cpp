// `gpuhours validate`: every scenario in scenarios/validation/ against the figures its paper reported.
#include "commands.hpp"
#include "help.hpp"

#include <gpuhours/units/error.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/analysis/validation.hpp>

#include <fmt/format.h>

#include <cmath>
#include <ostream>

namespace gpuhours::cli {

int cmd_validate(const Args& raw, std::ostream& out) {
    const ParsedArgs args = parse_command_args(raw, "validate");
    if (!args.positional.empty()) throw Error(fmt::format("validate takes no scenario (got `{}`)", args.positional.front()), "use --dir DIR for another directory");
    const std::filesystem::path dir = args.has("--dir") ? std::filesystem::path(args.get("--dir")) : default_catalog_dir() / "validation";
    LoadOptions options;
    if (args.has("--catalog")) options.catalog_dir = args.get("--catalog");
    const std::vector<ValidationCase> cases = validate_directory(dir, options);
    const double mape = mean_absolute_percentage_error(cases);
    if (args.has("--json")) {
        report::Json j;
        j.begin_object().field("schema_version", 1).field("mean_absolute_percentage_error", 100.0 * mape);
        j.key("cases").begin_array();
        for (const auto& c : cases) {
            j.begin_object().field("id", c.id).field("title", c.title).field("source", c.source);
            j.field("step_time_s", c.step.step_time.value());
            j.key("figures").begin_array();
            for (const auto& f : c.figures) {
                j.begin_object().field("name", f.name).field("unit", f.unit).field("predicted", f.predicted).field("reported", f.reported);
                j.field("error_percent", 100.0 * f.relative_error()).end_object();
            }
            j.end_array().end_object();
        }
        j.end_array().end_object();
        out << j.str();
        return 0;
    }
    report::Table t({"run", "figure", "predicted", "reported", "error"});
    for (const auto& c : cases) {
        for (const auto& f : c.figures) {
            auto value = [&](double v) { return v >= 1000 ? fmt::format("{} {}", report::with_commas(v), f.unit) : fmt::format("{:.4g} {}", v, f.unit); };
            t.add_row({c.id, f.name, value(f.predicted), value(f.reported),
                       fmt::format("{:+.1f}%", 100.0 * f.relative_error())});
        }
    }
    out << "Predictions against published training runs (scenarios/validation/; each file cites its paper and table)\n\n";
    out << t.render();
    out << fmt::format("\nmean absolute percentage error over {} figures of {} runs: {:.1f}%\n",
                       [&] { std::size_t n = 0; for (const auto& c : cases) n += c.figures.size(); return n; }(), cases.size(), 100.0 * mape);
    out << "\nsources\n";
    for (const auto& c : cases) out << fmt::format("  {}: {}\n", c.id, c.source);
    out << "\nCalibrated on these runs (so not independent predictions): A100 GEMM efficiency on the Megatron rows, Hopper FP8\n"
           "GEMM efficiency on the DeepSeek-V3 step (see scenarios/chips/README.md). MFU errors are relative (5 points of 43% = 11.6%).\n";
    return 0;
}

}  // namespace gpuhours::cli
