// The outputs of `gpuhours capacity` (analysis/capacity.hpp).
//   text  (a) one row per chip: GPUs used, layout, the most tokens that meet the deadline (and budget), its median
//         days and cost, the tokens just past it that do not (and which limit they break), runs and linearity;
//         the chip swap's notes under the table. (b) one row per chip and rung: model, parameters, token target,
//         days, cost, meets; the largest rung per chip under it.
//   JSON  schema_version 4: "scenario", "gpus", "deadline_days", "budget_usd" (null), "tokens" ([{chip, chip_name,
//         feasible, gpus, layout, overrides (the --set assignments of the answer, tokens included), tokens_key,
//         tokens, wall_clock_days_p50, cost_usd, gpu_hours_p50, bound, tokens_over, wall_clock_days_over, probes,
//         linearity, note}]), "family" (null, or {name, tokens_per_parameter, tokens (null), chips: [{chip,
//         largest (model id or null), rungs: [{model, model_name, parameters, tokens, ran, meets, gpus, layout,
//         overrides, wall_clock_days_p50, cost_usd, note}]}]}), "seed", "samples"; a figure that does not exist
//         (an infeasible chip's, a rung not run, the cost of an unpriced scenario) is null.
//   HTML  a self-contained page in the report's style: both tables, a bar chart of the most tokens by chip, and
//         with a family one of each rung's wall clock by chip against the deadline; the same sections close the
//         run's report when it is asked for (`gpuhours report --capacity`).
#pragma once

#include <gpuhours/analysis/capacity.hpp>

#include <string>

namespace gpuhours::report {

std::string capacity_text(const CapacityResult& result);
std::string capacity_json(const CapacityResult& result);
std::string capacity_html(const CapacityResult& result);
// The page's sections alone (<section id="capacity-tokens"> and, with a family, "capacity-family"), for the run's
// report (`gpuhours report --capacity`).
std::string capacity_sections(const CapacityResult& result);

}  // namespace gpuhours::report
