// Inline SVG charts (svg.hpp). Text widths are estimated (7 px per character at the 12 px font), since an SVG
// cannot be measured without a browser; margins are sized from that estimate.
#include <gpuhours/report/svg.hpp>

#include <gpuhours/report/report.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <string>
#include <vector>

namespace gpuhours::svg {
namespace {

constexpr double kCharWidth = 7.0;      // px per character at font-size 12, a generous sans-serif average
constexpr double kTitleHeight = 30.0;   // the chart's title line
constexpr double kLegendLine = 20.0;
constexpr double kMarkerLine = 16.0;    // one marker label above the plot
constexpr const char* kText = "#222";
constexpr const char* kMuted = "#555";
constexpr const char* kGrid = "#e3e3e3";
constexpr const char* kAxis = "#888";

// Characters, not bytes: UTF-8 continuation bytes do not count.
std::size_t text_length(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}
double text_width(std::string_view s) { return kCharWidth * static_cast<double>(text_length(s)); }

// The whole <svg> element of a chart: its accessible title and description, the visible title, then `body`.
std::string svg_document(const Frame& f, double height, const std::string& body) {
    std::string out;
    const std::string id = escape(f.id);
    out += fmt::format(R"(<svg class="chart" id="{0}" width="{1}" height="{2}" viewBox="0 0 {1} {2}" role="img" )"
                       R"(aria-labelledby="{0}-title {0}-desc" font-family="sans-serif" font-size="12" fill="{3}">)",
                       id, f.width, px(height), kText);
    out += fmt::format(R"(<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>)", id, escape(f.title), id,
                       escape(f.description));
    out += fmt::format(R"(<text x="0" y="18" font-size="15" font-weight="600">{}</text>)", escape(f.title));
    out += body;
    out += "</svg>";
    return out;
}

// Swatches and names in lines that wrap at the chart's width; returns the height used.
double legend(std::string& out, const std::vector<Series>& series, const std::vector<bool>& used, double y, double width) {
    if (std::find(used.begin(), used.end(), true) == used.end()) return 0.0;
    double x = 0.0;
    double line = 0.0;
    for (std::size_t i = 0; i < series.size(); ++i) {
        if (!used[i]) continue;
        const Series& s = series[i];
        const double w = 12.0 + 6.0 + text_width(s.name) + 18.0;
        if (x > 0.0 && x + w > width) {
            x = 0.0;
            line += 1.0;
        }
        const double top = y + line * kLegendLine;
        out += fmt::format(R"(<rect x="{}" y="{}" width="12" height="12" fill="{}"/>)", px(x), px(top), escape(s.colour));
        out += fmt::format(R"(<text x="{}" y="{}">{}</text>)", px(x + 18.0), px(top + 10.5), escape(s.name));
        x += w;
    }
    return (line + 1.0) * kLegendLine;
}

struct Scale {
    double lo, hi;        // domain
    double left, right;   // px
    [[nodiscard]] double operator()(double v) const { return left + (v - lo) / (hi - lo) * (right - left); }
};

// Vertical gridlines and tick labels of a horizontal value axis at y = `bottom`, and the axis label below.
void x_axis(std::string& out, const Scale& x, const std::vector<double>& ticks, double top, double bottom,
            const TickFormat& format, const std::string& label) {
    for (double t : ticks) {
        const double at = x(t);
        out += fmt::format(R"(<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="{3}"/>)", px(at), px(top), px(bottom), kGrid);
        out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>)", px(at), px(bottom + 15.0),
                           kMuted, escape(format(t)));
    }
    out += fmt::format(R"(<line class="axis" x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="{3}"/>)", px(x.left), px(x.right),
                       px(bottom), kAxis);
    out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", px((x.left + x.right) / 2.0),
                       px(bottom + 34.0), escape(label));
}

// Marker lines over the plot, each labelled on its own line above it; the label hangs to the left of the line
// when it would run past the right edge.
void markers(std::string& out, const Scale& x, const std::vector<Marker>& ms, double labels_top, double top,
             double bottom, double width) {
    for (std::size_t i = 0; i < ms.size(); ++i) {
        const Marker& m = ms[i];
        const double at = x(m.value);
        const double label_y = labels_top + static_cast<double>(i) * kMarkerLine + 12.0;
        out += fmt::format(R"(<line class="marker" x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="{3}" stroke-width="2"{4}/>)",
                           px(at), px(label_y + 3.0), px(bottom), escape(m.colour),
                           m.dashed ? R"( stroke-dasharray="5 3")" : "");
        const bool hang_left = at + 4.0 + text_width(m.label) > width;
        out += fmt::format(R"(<text x="{}" y="{}" text-anchor="{}" fill="{}" font-weight="600">{}</text>)",
                           px(hang_left ? at - 4.0 : at + 4.0), px(label_y), hang_left ? "end" : "start",
                           escape(m.colour), escape(m.label));
    }
    (void)top;
}

}  // namespace

std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string px(double value) {
    std::string s = fmt::format("{:.1f}", value);
    if (s == "-0.0") s = "0.0";
    return s;
}

std::string default_tick(double value) {
    // Whole numbers from 10,000 up with thousands separators ("5,000,000"), the rest in their shortest form.
    if (std::abs(value) >= 1e4 && std::abs(value) < 1e15 && value == std::floor(value)) return report::with_commas(value);
    return fmt::format("{}", value);
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    assert(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && target >= 1);
    if (lo == hi) {
        const double half = lo == 0.0 ? 0.5 : std::abs(lo) * 0.05;
        lo -= half;
        hi += half;
    }
    const double raw = (hi - lo) / target;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double fraction = raw / magnitude;
    const double step = (fraction < 1.5 ? 1.0 : fraction < 3.0 ? 2.0 : fraction < 7.0 ? 5.0 : 10.0) * magnitude;
    // Work in integer multiples of the step so ticks print exactly (0.1 × 3 is not 0.3).
    const auto first = static_cast<long long>(std::floor(lo / step + 1e-9));
    const auto last = static_cast<long long>(std::ceil(hi / step - 1e-9));
    // k × step rounded to the step's decimals (and one more) removes 0.30000000000000004.
    const double scale = std::pow(10.0, std::max(0.0, -std::floor(std::log10(step)) + 1.0));
    std::vector<double> ticks;
    for (long long k = first; k <= last; ++k) {
        ticks.push_back(std::round(static_cast<double>(k) * step * scale) / scale);
    }
    if (ticks.size() < 2) ticks.push_back(ticks.back() + step);
    return ticks;
}

std::string bar_chart(const BarChart& c) {
    const Frame& f = c.frame;
    const double width = f.width;
    double longest_label = 0.0;
    double longest_note = 0.0;
    for (const auto& b : c.bars) {
        longest_label = std::max(longest_label, text_width(b.label));
        longest_note = std::max(longest_note, text_width(b.note));
    }
    longest_label = std::max(longest_label, text_width(f.y_label));
    const double left = std::min(std::max(80.0, longest_label + 16.0), 0.4 * width);
    const double right = width - std::max(24.0, longest_note + 16.0);  // notes start 8 px after it

    double max_value = 0.0;
    for (const auto& b : c.bars) {
        double total = 0.0;
        for (double v : b.values) total += std::max(0.0, v);
        max_value = std::max(max_value, total);
    }
    for (const auto& m : c.markers) max_value = std::max(max_value, m.value);
    const std::vector<double> ticks = nice_ticks(0.0, max_value > 0.0 ? max_value : 1.0, 5);
    const Scale x{0.0, ticks.back(), left, right};

    std::string body;
    double y = kTitleHeight;
    std::vector<bool> used(c.series.size(), false);
    for (const auto& b : c.bars) {
        for (std::size_t s = 0; s < b.values.size() && s < used.size(); ++s) used[s] = used[s] || b.values[s] > 0.0;
    }
    if (c.legend) y += legend(body, c.series, used, y, width) + 4.0;
    const double markers_top = y;
    y += kMarkerLine * static_cast<double>(c.markers.size());
    if (!f.y_label.empty()) {
        body += fmt::format(R"(<text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>)", px(left - 8.0), px(y + 10.0),
                            kMuted, escape(f.y_label));
        y += 16.0;
    }
    const double plot_top = y;
    constexpr double kRow = 22.0;
    constexpr double kBar = 16.0;
    const double plot_bottom = plot_top + kRow * static_cast<double>(c.bars.size()) + 4.0;
    // Gridlines first, bars over them.
    std::string bars;
    for (std::size_t i = 0; i < c.bars.size(); ++i) {
        const StackedBar& b = c.bars[i];
        const double top = plot_top + 4.0 + kRow * static_cast<double>(i);
        bars += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", px(left - 8.0), px(top + 12.0), escape(b.label));
        double cumulative = 0.0;
        for (std::size_t s = 0; s < b.values.size() && s < c.series.size(); ++s) {
            const double v = std::max(0.0, b.values[s]);
            if (v <= 0.0) continue;
            const double x0 = x(cumulative);
            cumulative += v;
            const std::string tip = s < b.tips.size() && !b.tips[s].empty()
                                        ? b.tips[s]
                                        : fmt::format("{}: {}", c.series[s].name, c.tick_format(v));
            bars += fmt::format(R"(<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>)",
                                px(x0), px(top), px(x(cumulative) - x0), px(kBar), escape(c.series[s].colour), escape(tip));
        }
        if (!b.note.empty()) {  // in the right margin, clear of bars and markers
            bars += fmt::format(R"(<text x="{}" y="{}" fill="{}">{}</text>)", px(right + 8.0), px(top + 12.0), kMuted,
                                escape(b.note));
        }
    }
    x_axis(body, x, ticks, plot_top, plot_bottom, c.tick_format, f.x_label);
    body += bars;
    markers(body, x, c.markers, markers_top, plot_top, plot_bottom, width);

    return svg_document(f, plot_bottom + 44.0, body);
}

std::string histogram(const Histogram& c) {
    const Frame& f = c.frame;
    const double width = f.width;
    double lo = 0.0;
    double hi = 0.0;
    bool any = false;
    auto cover = [&](double v) {
        if (!std::isfinite(v)) return;
        lo = any ? std::min(lo, v) : v;
        hi = any ? std::max(hi, v) : v;
        any = true;
    };
    for (double v : c.samples) cover(v);
    const double sample_lo = lo;
    const double sample_hi = hi;
    const bool have_samples = any;
    for (const auto& m : c.markers) cover(m.value);
    const std::vector<double> ticks = nice_ticks(lo, hi, 6);

    // Bins over the samples' own range, so a far-away marker does not squeeze them into one bar.
    const std::size_t n = c.samples.size();
    int bins = c.bins > 0 ? c.bins : std::clamp(static_cast<int>(std::lround(std::sqrt(static_cast<double>(n)))), 5, 40);
    double bin_lo = sample_lo;
    double bin_width = (sample_hi - sample_lo) / bins;
    if (!(bin_width > 0.0)) {  // all samples equal: one narrow bin around them
        bins = 1;
        bin_width = (ticks[1] - ticks[0]) / 5.0;
        bin_lo = sample_lo - bin_width / 2.0;
    }
    std::vector<int> counts(static_cast<std::size_t>(bins), 0);
    if (have_samples) {
        for (double v : c.samples) {
            if (!std::isfinite(v)) continue;
            auto k = static_cast<long>(std::floor((v - bin_lo) / bin_width));
            k = std::clamp(k, 0L, static_cast<long>(bins) - 1);  // the maximum falls in the last bin
            ++counts[static_cast<std::size_t>(k)];
        }
    }
    const int max_count = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
    std::vector<double> y_ticks;
    if (max_count <= 5) {
        for (int k = 0; k <= std::max(1, max_count); ++k) y_ticks.push_back(k);
    } else {
        y_ticks = nice_ticks(0.0, max_count, 4);
    }

    const double left = 64.0;
    const Scale x{ticks.front(), ticks.back(), left, width - 24.0};
    const double plot_top = kTitleHeight + kMarkerLine * static_cast<double>(c.markers.size()) + 8.0;
    const double plot_bottom = plot_top + 180.0;
    auto y = [&](double count) { return plot_bottom - count / y_ticks.back() * (plot_bottom - plot_top); };

    std::string body;
    for (double t : y_ticks) {
        body += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="{3}"/>)", px(left), px(x.right), px(y(t)), kGrid);
        body += fmt::format(R"(<text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>)", px(left - 6.0), px(y(t) + 4.0),
                            kMuted, default_tick(t));
    }
    body += fmt::format(R"svg(<text transform="rotate(-90)" x="{}" y="16" text-anchor="middle">{}</text>)svg",
                        px(-(plot_top + plot_bottom) / 2.0), escape(f.y_label));
    x_axis(body, x, ticks, plot_top, plot_bottom, c.tick_format, f.x_label);
    const TickFormat& plain = c.bin_format ? c.bin_format : c.tick_format;
    const auto edge = [&](double v) { return c.bin_edge_format ? c.bin_edge_format(v, bin_width) : plain(v); };
    for (std::size_t k = 0; k < counts.size(); ++k) {
        if (counts[k] == 0) continue;
        const double a = bin_lo + bin_width * static_cast<double>(k);
        const double b = a + bin_width;
        const double x0 = x(a);
        const double w = std::max(1.0, x(b) - x0 - 1.0);
        body += fmt::format(R"(<rect class="bin" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} to {}: {} of {}</title></rect>)",
                            px(x0), px(y(counts[k])), px(w), px(plot_bottom - y(counts[k])), escape(c.colour),
                            escape(edge(a)), escape(edge(b)), counts[k], n);
    }
    markers(body, x, c.markers, kTitleHeight, plot_top, plot_bottom, width);

    return svg_document(f, plot_bottom + 44.0, body);
}

std::string gantt(const Gantt& c) {
    const Frame& f = c.frame;
    const double width = f.width;
    double longest_label = 0.0;
    for (const auto& r : c.rows) longest_label = std::max(longest_label, text_width(r.label) * (r.thin ? 0.75 : 1.0));
    const double left = std::min(std::max(80.0, longest_label + 16.0), 0.4 * width);
    const std::vector<double> ticks = nice_ticks(c.window_start, c.window_end, 8);
    // The window itself, not the rounded ticks, spans the plot: ticks outside it are dropped.
    const Scale x{c.window_start, c.window_end, left, width - 24.0};

    std::string body;
    double y = kTitleHeight;
    std::vector<bool> used(c.series.size(), false);
    for (const GanttBar& b : c.bars) {
        if (b.series >= 0 && static_cast<std::size_t>(b.series) < used.size() && b.end > c.window_start && b.start < c.window_end) {
            used[static_cast<std::size_t>(b.series)] = true;
        }
    }
    y += legend(body, c.series, used, y, width) + 6.0;
    const double plot_top = y;
    constexpr double kFull = 14.0;
    constexpr double kThin = 12.0;
    constexpr double kGap = 3.0;
    std::vector<double> row_top;
    std::vector<double> row_height;
    std::string labels;
    for (const GanttRow& r : c.rows) {
        const double h = r.thin ? kThin : kFull;
        row_top.push_back(y);
        row_height.push_back(h);
        if (r.thin) {
            labels += fmt::format(R"(<text x="{}" y="{}" text-anchor="end" font-size="9" fill="{}">{}</text>)", px(left - 8.0),
                                  px(y + 9.0), kMuted, escape(r.label));
        } else {
            labels += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", px(left - 8.0), px(y + 11.0),
                                  escape(r.label));
        }
        y += h + (r.thin ? kGap + 3.0 : kGap);
    }
    const double plot_bottom = y;
    std::vector<double> visible;
    for (double t : ticks) {
        if (t >= c.window_start - 1e-12 && t <= c.window_end + 1e-12) visible.push_back(t);
    }
    x_axis(body, x, visible, plot_top, plot_bottom, c.tick_format, f.x_label);
    body += labels;
    body += R"(<g class="bars">)";
    for (const GanttBar& b : c.bars) {
        if (b.row < 0 || static_cast<std::size_t>(b.row) >= c.rows.size()) continue;
        if (b.series < 0 || static_cast<std::size_t>(b.series) >= c.series.size()) continue;
        const double s = std::max(b.start, c.window_start);
        const double e = std::min(b.end, c.window_end);
        if (e <= s) continue;
        const double x0 = x(s);
        const double w = x(e) - x0;
        if (w < 0.2) continue;  // below a fifth of a pixel: invisible, and it would only add bytes
        const auto r = static_cast<std::size_t>(b.row);
        double top = row_top[r];
        double h = row_height[r];
        if (b.lane != 0) {
            h /= 2.0;
            if (b.lane == 2) top += h;
        }
        // Bars wide enough to show it get a white hairline, so abutting bars (one pass after another) stay apart.
        body += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}"{}><title>{}</title></rect>)", px(x0), px(top),
                            px(w), px(h), escape(c.series[static_cast<std::size_t>(b.series)].colour),
                            w >= 4.0 ? R"( stroke="#fff" stroke-width="0.5")" : "", escape(b.tip));
    }
    body += "</g>";

    return svg_document(f, plot_bottom + 44.0, body);
}

}  // namespace gpuhours::svg
