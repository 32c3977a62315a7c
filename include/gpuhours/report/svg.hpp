// Charts as inline SVG for the HTML report (html.hpp): horizontal stacked bars, histograms and a Gantt timeline.
// Each chart is one self-contained <svg> element with a <title> and a <desc> (its text alternative, referenced by
// aria-labelledby), a title drawn on the chart, axis labels with units, and a legend listing the series that have
// something drawn. No scripts, no external references, no fonts beyond the generic families. Deterministic:
// coordinates are printed with fmt at a fixed one decimal, so the same input gives byte-identical SVG.
//
// Layout of a horizontal bar chart (documented because tests derive pixel widths from it): the chart is `width`
// px wide; the plot area starts at the left margin max(80, 7 px × the characters of the longest bar label or of
// the y label + 16), capped at 40% of the width, and ends at the right margin max(24, 7 px × the longest note's
// characters + 16) before the right edge (notes are written in that margin). The value axis runs from 0 at the plot's left edge to the last of
// nice_ticks(0, max) at its right edge, where max is the largest bar total or marker; a value v is
// v / last tick × plot width px long.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuhours::svg {

// Text for HTML and SVG: & < > " ' become entities, so the result is safe in element content and in
// attribute values quoted with either quote.
std::string escape(std::string_view text);

// A coordinate or length in px, with one decimal ("12.5"; never "-0.0").
std::string px(double value);

// Ticks at 1, 2 or 5 × 10^k spacing covering [lo, hi]: the first tick ≤ lo, the last ≥ hi, the spacing the
// nice number nearest to (hi − lo) / target (1 below 1.5, 2 below 3, 5 below 7, else 10, times 10^k). lo == hi
// widens the range by 5% of the value each side (±0.5 around 0). Requires finite lo ≤ hi and target ≥ 1.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// A named colour of a chart's legend; `colour` is a CSS colour ("#0072B2").
struct Series {
    std::string name;
    std::string colour;
};

// What every chart has: a title drawn on it, a text alternative, and axis labels naming their unit.
struct Frame {
    std::string id;           // unique in the page: prefix of the <title>/<desc> ids
    std::string title;
    std::string description;  // the text alternative: what the chart shows, in words and numbers
    std::string x_label;      // e.g. "time (s)"
    std::string y_label;
    int width = 960;
};

// A vertical reference line across the plot (a claim's threshold, a capacity, a median).
struct Marker {
    double value = 0.0;
    std::string label;
    std::string colour = "#B00020";
    bool dashed = false;
};

using TickFormat = std::function<std::string(double)>;
std::string default_tick(double value);  // shortest form ("0", "2.5"); whole numbers ≥ 10,000 with commas ("5,000,000")

// Horizontal bars, each a stack of one value per series (≥ 0), labelled on the left, with an optional note on
// the right (its total, a verdict, …).
struct StackedBar {
    std::string label;
    std::vector<double> values;  // one per series; missing ones count as 0
    std::string note;
    std::vector<std::string> tips;  // per series, the hover text of its segment; empty: "series: value"
};
struct BarChart {
    Frame frame;
    std::vector<Series> series;
    std::vector<StackedBar> bars;
    std::vector<Marker> markers;
    TickFormat tick_format = default_tick;
    bool legend = true;
};
std::string bar_chart(const BarChart& chart);

// Counts of samples in equal-width bins over a nice range that also covers the markers.
struct Histogram {
    Frame frame;
    std::vector<double> samples;
    std::vector<Marker> markers;
    int bins = 0;  // 0: √n, between 5 and 40
    std::string colour = "#56B4E9";
    TickFormat tick_format = default_tick;
    TickFormat bin_format;  // a bin's edges in its hover text (not round numbers, unlike ticks); empty: tick_format
    // The same given the bins' width too, so that two edges never read alike ("11.62 to 11.63 days", not "11.6 to
    // 11.6"); used instead of bin_format when set.
    std::function<std::string(double value, double bin_width)> bin_edge_format;
};
std::string histogram(const Histogram& chart);

// A timeline: rows of bars on a time axis in seconds. A row may be split into an upper and a lower lane
// (`lane` 1 and 2; 0 takes the whole row), so two kinds of work that overlap in time stay visible.
struct GanttBar {
    int row = 0;
    double start = 0.0;  // seconds
    double end = 0.0;
    int series = 0;
    int lane = 0;
    std::string tip;     // hover text
};
struct GanttRow {
    std::string label;
    bool thin = false;   // drawn at half height (e.g. a communication stream under its compute stream)
};
struct Gantt {
    Frame frame;
    std::vector<Series> series;
    std::vector<GanttRow> rows;
    std::vector<GanttBar> bars;
    double window_start = 0.0;  // seconds; bars are clipped to the window
    double window_end = 1.0;
    TickFormat tick_format = default_tick;
};
std::string gantt(const Gantt& chart);

}  // namespace gpuhours::svg
