// The HTML report: one self-contained HTML5 page a person reads at a glance (`gpuhours report`).
//
// In this order: the claim verdicts and the assumptions they rest on; the run summary (layout, phases, wall
// clock, GPU-hours, cost, energy, interruptions, goodput); the step timeline (a Gantt chart of the first
// micro-batches of every pipeline stage, from the headline step's trace); where the step's time goes (the whole
// step and per stage); cost and energy, with histograms of the Monte Carlo cost and wall clock against the
// claims' thresholds; memory per pipeline rank against the chip's capacity; and, when given, the comparison
// across chips of a what-if and what the cluster trains by a deadline (capacity.hpp's sections). Wording and figures mirror `gpuhours run`'s text output.
//
// Self-contained: inline CSS and inline SVG charts (svg.hpp), no scripts, no links to anything outside the page.
// Deterministic: the same evaluation gives a byte-identical page (no timestamps, fixed number formats).
#pragma once

#include <gpuhours/analysis/capacity.hpp>
#include <gpuhours/analysis/evaluation.hpp>
#include <gpuhours/analysis/whatif.hpp>

#include <string>

namespace gpuhours::report {

// The page for `ev`. The step timeline needs the headline step's trace (EvaluateOptions::record_trace); without
// one the section says so. `comparison` and `capacity` may be null (no what-if or capacity section).
std::string html_report(const RunEvaluation& ev, const WhatIfResult* comparison = nullptr, const CapacityResult* capacity = nullptr);

}  // namespace gpuhours::report
