// The HTML report's building blocks (sim/report/html.cpp), shared with the compare page (compare.cpp). Internal
// to the report layer.
#pragma once

#include <gpuhours/report/svg.hpp>

namespace gpuhours {
struct WhatIfResult;
}

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gpuhours::report::detail {

constexpr int kChartWidth = 920;  // px, the width of every chart
extern const std::string_view kStyle;  // the page's CSS

// A table; cells are plain text (escaped here). Columns whose index is in `numeric` are right-aligned.
std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<std::size_t>& numeric = {}, std::string_view css_class = {});
// A paragraph of plain text (escaped), with an optional CSS class ("note", "subtitle", "warning").
std::string paragraph(std::string_view text, std::string_view css_class = {});
// A headline figure: label, value, and a note under it.
std::string figure(std::string_view label, std::string_view value, std::string_view note);
// Axis ticks of money, scaled to the largest value shown: "$5.5M".
svg::TickFormat dollar_ticks(double largest);
// A fraction as a percentage to one decimal: "44.0%".
std::string percent(double fraction);
// The "Across chips" section: a chart per figure (days, cost, GPU-hours), the table, and the notes under it
// (html_comparison.cpp). `cost_basis`: the rung the cost column is on.
std::string comparison_section(const WhatIfResult& w, const std::string& cost_basis);

}  // namespace gpuhours::report::detail
