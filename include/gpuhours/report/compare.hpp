// The outputs of `gpuhours compare` (analysis/compare.hpp): the inputs that differ and the results side by side.
//   text  two tables for a terminal: "inputs that differ" (key, one column per scenario; "—" where a scenario does
//         not state the key) and "results" (title, chip, model, GPUs, layout, tokens, step time, MFU, median days,
//         median GPU-hours, cost and energy at the nominal prices, what limits the step, claim verdicts), then each
//         column's days, GPU-hours, cost and energy as a ratio to the first column's.
//   JSON  schema_version 4: "scenarios" (one object per column: label, file, title, chip, model, gpus, layout,
//         tokens, step_time_s, mfu_causal, mfu_bf16, wall_clock_days_p50, gpu_hours_p50, cost_usd (null unpriced),
//         energy_mwh (null unpriced), limited_by, claims [{text, verdict, probability}]), "differences" ([{key,
//         values: [string or null per column]}]), "same_inputs", "seed", "samples" (null: automatic).
//   HTML  a self-contained page (the report's style): both tables and bar charts of days and cost by scenario.
// Deterministic: the same result gives byte-identical output.
#pragma once

#include <gpuhours/analysis/compare.hpp>

#include <string>

namespace gpuhours::report {

std::string compare_text(const CompareResult& result);
std::string compare_json(const CompareResult& result);
std::string compare_html(const CompareResult& result);

}  // namespace gpuhours::report
