#include <gpuhours/report/schema.hpp>
#include <gpuhours/report/report.hpp>
#include <gpuhours/report/verdicts.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

namespace gpuhours::report {
namespace {

bool looks_numeric(const std::string& cell) {
    if (cell.empty()) return true;
    bool digit = false;
    for (char c : cell) {
        if (std::isdigit(static_cast<unsigned char>(c))) digit = true;
    }
    return digit && (std::isdigit(static_cast<unsigned char>(cell[0])) || cell[0] == '$' || cell[0] == '-' ||
                     cell[0] == '+' || cell[0] == '.');
}

// Display width in terminal columns: counts UTF-8 code points, not bytes.
std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) {
        if ((c & 0xC0) != 0x80) ++n;
    }
    return n;
}

std::string csv_escape(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

void escape_json(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
    assert(cells.size() == headers_.size());
    cells.resize(headers_.size());
    rows_.push_back(std::move(cells));
}

std::string Table::render() const {
    const std::size_t n = headers_.size();
    std::vector<std::size_t> width(n);
    std::vector<bool> right(n, true);
    for (std::size_t c = 0; c < n; ++c) {
        width[c] = display_width(headers_[c]);
        for (const auto& row : rows_) {
            width[c] = std::max(width[c], display_width(row[c]));
            if (!looks_numeric(row[c])) right[c] = false;
        }
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (std::size_t c = 0; c < n; ++c) {
            const std::size_t pad = width[c] - display_width(cells[c]);
            if (c > 0) out += "  ";
            if (right[c]) out += std::string(pad, ' ') + cells[c];
            else out += cells[c] + (c + 1 < n ? std::string(pad, ' ') : std::string());
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        return out + "\n";
    };
    std::string out = line(headers_);
    std::size_t total = 0;
    for (std::size_t c = 0; c < n; ++c) total += width[c] + (c > 0 ? 2 : 0);
    out += std::string(total, '-') + "\n";
    for (const auto& row : rows_) out += line(row);
    return out;
}

std::string Table::render_csv() const {
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t c = 0; c < cells.size(); ++c) {
            if (c > 0) out += ',';
            out += csv_escape(cells[c]);
        }
        out += '\n';
    };
    line(headers_);
    for (const auto& row : rows_) line(row);
    return out;
}

void Json::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        assert(!is_object_.back() && "a value inside an object needs a key first");
        if (!first_.back()) out_ += ',';
        first_.back() = false;
        out_ += '\n' + std::string(2 * first_.size(), ' ');
    }
}

Json& Json::begin_object() {
    before_value();
    out_ += '{';
    first_.push_back(true);
    is_object_.push_back(true);
    return *this;
}

Json& Json::end_object() {
    assert(!first_.empty() && is_object_.back());
    const bool empty = first_.back();
    first_.pop_back();
    is_object_.pop_back();
    if (!empty) out_ += '\n' + std::string(2 * first_.size(), ' ');
    out_ += '}';
    return *this;
}

Json& Json::begin_array() {
    before_value();
    out_ += '[';
    first_.push_back(true);
    is_object_.push_back(false);
    return *this;
}

Json& Json::end_array() {
    assert(!first_.empty() && !is_object_.back());
    const bool empty = first_.back();
    first_.pop_back();
    is_object_.pop_back();
    if (!empty) out_ += '\n' + std::string(2 * first_.size(), ' ');
    out_ += ']';
    return *this;
}

Json& Json::key(std::string_view k) {
    assert(!first_.empty() && is_object_.back() && !after_key_);
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    out_ += '\n' + std::string(2 * first_.size(), ' ');
    escape_json(out_, k);
    out_ += ": ";
    after_key_ = true;
    return *this;
}

Json& Json::value(std::string_view s) {
    before_value();
    escape_json(out_, s);
    return *this;
}

Json& Json::value(double d) {
    before_value();
    if (!std::isfinite(d)) {
        out_ += "null";
    } else {
        // Shortest representation that round-trips: deterministic and exact.
        std::string text = fmt::format("{}", d);
        if (text.find_first_of(".eE") == std::string::npos && text != "-0") text += ".0";
        out_ += text;
    }
    return *this;
}

Json& Json::value(std::int64_t i) {
    before_value();
    out_ += fmt::format("{}", i);
    return *this;
}

Json& Json::value(bool b) {
    before_value();
    out_ += b ? "true" : "false";
    return *this;
}

Json& Json::null() {
    before_value();
    out_ += "null";
    return *this;
}

std::string Json::str() const {
    assert(first_.empty());
    return out_ + "\n";
}

namespace {

// One track (a Chrome "thread") of a GPU: its stream in display order, for "p2p" the stage the transfers come from
// (one track per direction), and a lane within them.
struct TraceTrack {
    int stream = 0;  // compute, comm, p2p, dp, dp reduce
    int from_stage = -1;
    int lane = 0;
    friend auto operator<=>(const TraceTrack&, const TraceTrack&) = default;
};

int stream_order(const std::string& s) {
    return s == "compute" ? 0 : s == "comm" ? 1 : s == "dp" ? 3 : s == "dp reduce" ? 4 : 2;
}

std::string track_name(const TraceEvent& e, const TraceTrack& t) {
    std::string name = t.from_stage >= 0 ? fmt::format("{} from stage {}", e.stream, t.from_stage) : e.stream;
    return t.lane > 0 ? fmt::format("{} ({})", name, t.lane + 1) : name;
}

// Lanes for the events of one stream and direction, sorted by start and, at equal starts, longest first. Chrome and
// Perfetto draw a track's slices as a stack, so two that overlap without one containing the other are drawn
// mis-nested; concurrent transfers do that (a pipeline stage may receive several at once). Each event goes to the
// first lane where it is disjoint from, or nested in, the slices still open there; a serial stream needs one lane.
std::vector<int> assign_lanes(const std::vector<const TraceEvent*>& events) {
    std::vector<std::vector<SimTime>> open;  // per lane, the ends of the slices enclosing the current start
    std::vector<int> lanes;
    lanes.reserve(events.size());
    for (const TraceEvent* e : events) {
        std::size_t lane = 0;
        for (; lane < open.size(); ++lane) {
            std::vector<SimTime>& ends = open[lane];
            while (!ends.empty() && ends.back() <= e->start) ends.pop_back();
            if (ends.empty() || e->end <= ends.back()) break;
        }
        if (lane == open.size()) open.emplace_back();
        open[lane].push_back(e->end);
        lanes.push_back(static_cast<int>(lane));
    }
    return lanes;
}

}  // namespace

std::string chrome_trace(const std::vector<TraceEvent>& events) {
    std::vector<const TraceEvent*> sorted;
    sorted.reserve(events.size());
    for (const auto& e : events) sorted.push_back(&e);
    auto group = [](const TraceEvent* e) { return std::tuple(e->rank, stream_order(e->stream), e->from_stage); };
    std::stable_sort(sorted.begin(), sorted.end(), [&](const TraceEvent* a, const TraceEvent* b) {
        if (group(a) != group(b)) return group(a) < group(b);
        if (a->start != b->start) return a->start < b->start;
        return a->end > b->end;
    });
    // Each event's track; per rank, tracks numbered in display order.
    std::vector<TraceTrack> track(sorted.size());
    for (std::size_t first = 0; first < sorted.size();) {
        std::size_t last = first;
        while (last < sorted.size() && group(sorted[last]) == group(sorted[first])) ++last;
        const std::vector<const TraceEvent*> run(sorted.begin() + static_cast<std::ptrdiff_t>(first),
                                                 sorted.begin() + static_cast<std::ptrdiff_t>(last));
        const std::vector<int> lanes = assign_lanes(run);
        for (std::size_t i = first; i < last; ++i) {
            track[i] = TraceTrack{stream_order(sorted[i]->stream), sorted[i]->from_stage, lanes[i - first]};
        }
        first = last;
    }
    std::vector<std::size_t> order(sorted.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (sorted[a]->rank != sorted[b]->rank) return sorted[a]->rank < sorted[b]->rank;
        return track[a] < track[b];  // stable: by start within a track
    });

    Json j;
    j.begin_object().field("displayTimeUnit", "ms").key("traceEvents").begin_array();
    for (std::size_t k = 0; k < order.size();) {
        const int rank = sorted[order[k]]->rank;
        std::size_t end = k;
        std::map<TraceTrack, int> tid;
        for (; end < order.size() && sorted[order[end]]->rank == rank; ++end) {
            const std::size_t i = order[end];
            if (tid.emplace(track[i], static_cast<int>(tid.size())).second) {
                if (tid.size() == 1) {
                    j.begin_object().field("ph", "M").field("name", "process_name").field("pid", rank);
                    j.key("args").begin_object().field("name", fmt::format("GPU rank {}", rank)).end_object().end_object();
                }
                j.begin_object().field("ph", "M").field("name", "thread_name").field("pid", rank);
                j.field("tid", tid.at(track[i]));
                j.key("args").begin_object().field("name", track_name(*sorted[i], track[i])).end_object().end_object();
            }
        }
        for (; k < end; ++k) {
            const TraceEvent* e = sorted[order[k]];
            const double start_us = static_cast<double>(e->start.picoseconds()) / 1e6;
            const double dur_us = static_cast<double>((e->end - e->start).picoseconds()) / 1e6;
            j.begin_object().field("ph", "X").field("name", e->name).field("pid", rank);
            j.field("tid", tid.at(track[order[k]])).field("ts", start_us).field("dur", dur_us).end_object();
        }
    }
    j.end_array().end_object();
    return j.str();
}

std::string wrap_text(std::string_view text, std::size_t width, std::size_t indent, std::string_view lead) {
    std::string out;
    std::string line(lead);
    bool has_word = false;  // the line has a word of `text` after its lead or indent
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find(' ', at), text.size());
        const std::string word(text.substr(at, end - at));
        at = end + 1;
        if (word.empty()) continue;
        if (has_word && display_width(line) + 1 + display_width(word) > width) {
            out += line + '\n';
            line.assign(indent, ' ');
            has_word = false;
        }
        line += (has_word ? " " : "") + word;
        has_word = true;
    }
    if (has_word || !lead.empty()) out += line + '\n';
    return out;
}

// ---- sweeps -----------------------------------------------------------------------------------------------

std::string csv_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

namespace {

std::size_t claim_columns(const SweepResult& r) {
    std::size_t n = 0;
    for (const auto& row : r.rows) n = std::max(n, row.claims.size());
    return n;
}

// A row's first cells: its point index, then its value of each varied key (empty where the point has none).
std::vector<std::string> point_cells(const SweepResult& r, const SweepRow& row) {
    std::vector<std::string> cells{std::to_string(row.point)};
    for (const auto& key : r.axis_keys) {
        std::string value;
        for (const auto& [k, v] : row.values) {
            if (k == key) value = v;
        }
        cells.push_back(value);
    }
    return cells;
}

// The figures of a row by column name, in column order; empty text for absent values.
struct SweepFigure {
    const char* name;
    double SweepRow::*field;
    bool needs_pricing;
};
constexpr SweepFigure kSweepFigures[] = {
    {"step_time_s", &SweepRow::step_time_s, false},
    {"mfu_bf16", &SweepRow::mfu_bf16, false},
    {"mfu_causal", &SweepRow::mfu_causal, false},
    {"wall_clock_days", &SweepRow::wall_clock_days, false},
    {"gpu_hours", &SweepRow::gpu_hours, false},
    {"steady_state_gpu_hours", &SweepRow::steady_state_gpu_hours, false},
    {"cost_usd", &SweepRow::cost_usd, true},
    {"energy_mwh", &SweepRow::energy_mwh, true},
    {"wall_clock_days_p05", &SweepRow::wall_clock_days_p05, false},
    {"wall_clock_days_p50", &SweepRow::wall_clock_days_p50, false},
    {"wall_clock_days_p95", &SweepRow::wall_clock_days_p95, false},
    {"gpu_hours_p50", &SweepRow::gpu_hours_p50, false},
    {"steady_state_gpu_hours_p50", &SweepRow::steady_state_gpu_hours_p50, false},
    {"cost_usd_p05", &SweepRow::cost_usd_p05, true},
    {"cost_usd_p50", &SweepRow::cost_usd_p50, true},
    {"cost_usd_p95", &SweepRow::cost_usd_p95, true},
    {"energy_mwh_p50", &SweepRow::energy_mwh_p50, true},
};

// NaN: a nominal figure a row resumed from an older journal does not have (SweepRow).
bool has_figure(const SweepRow& row, const SweepFigure& f) {
    return row.ok && (!f.needs_pricing || row.priced) && std::isfinite(row.*f.field);
}

// A value as it was applied: a plain number as a JSON number, a quoted TOML string without its quotes, anything
// else as its text.
void sweep_value(Json& j, const std::string& text) {
    double d = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (!text.empty() && ec == std::errc() && p == text.data() + text.size() && std::isfinite(d)) {
        if (text.find_first_of(".eE") == std::string::npos && std::abs(d) < 9e15) j.value(static_cast<std::int64_t>(d));
        else j.value(d);
    } else if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front() &&
               text.find('\\') == std::string::npos) {
        j.value(std::string_view(text).substr(1, text.size() - 2));
    } else {
        j.value(text);
    }
}

}  // namespace

std::string sweep_csv(const SweepResult& r) {
    std::vector<std::string> headers{"point"};
    headers.insert(headers.end(), r.axis_keys.begin(), r.axis_keys.end());
    headers.insert(headers.end(), {"status", "chip", "chip_modified", "gpus", "layout"});
    for (const auto& f : kSweepFigures) headers.emplace_back(f.name);
    const std::size_t claims = claim_columns(r);
    if (claims > 0) headers.emplace_back("samples");
    for (std::size_t c = 1; c <= claims; ++c) {
        headers.push_back(fmt::format("claim_{}_verdict", c));
        headers.push_back(fmt::format("claim_{}_probability", c));
        headers.push_back(fmt::format("claim_{}_probability_se", c));
        headers.push_back(fmt::format("claim_{}_nominal_verdict", c));
    }
    if (r.derive_data) headers.emplace_back("derived");
    headers.emplace_back("error");
    Table t(headers);
    for (const auto& row : r.rows) {
        std::vector<std::string> cells = point_cells(r, row);
        cells.insert(cells.end(), {row.ok ? "ok" : "error", row.chip, row.chip_modified,
                                   row.ok ? std::to_string(row.gpus) : "", row.layout});
        for (const auto& f : kSweepFigures) cells.push_back(has_figure(row, f) ? csv_number(row.*f.field) : "");
        if (claims > 0) cells.push_back(row.samples > 0 ? std::to_string(row.samples) : "");
        for (std::size_t c = 0; c < claims; ++c) {
            const bool has = c < row.claims.size();
            cells.push_back(has ? row.claims[c].verdict : "");
            cells.push_back(has ? csv_number(row.claims[c].probability) : "");
            cells.push_back(has && row.samples > 0 ? csv_number(share_standard_error(row.claims[c].probability, row.samples)) : "");
            cells.push_back(has ? row.claims[c].nominal_verdict : "");
        }
        if (r.derive_data) cells.push_back(row.derived);
        cells.push_back(row.error);
        t.add_row(std::move(cells));
    }
    return t.render_csv();
}

std::string sweep_json(const SweepResult& r) {
    Json j;
    j.begin_object().field("schema_version", kJsonSchemaVersion).field("scenario", r.scenario);
    j.key("vary").begin_array();
    for (const auto& v : r.vary) j.value(v);
    j.end_array();
    if (r.random) j.field("random", static_cast<std::int64_t>(*r.random));
    else j.key("random").null();
    j.key("derive").begin_array();
    if (r.derive_data) j.value("parallelism.data");
    j.end_array();
    j.field("zip", r.zip);
    j.field("seed", static_cast<std::int64_t>(r.options.seed));
    if (r.options.samples > 0) j.field("samples", r.options.samples);
    else j.key("samples").null();
    j.field("mode", to_string(r.options.mode)).field("network", to_string(r.options.network));
    j.field("points", static_cast<std::int64_t>(r.rows.size())).field("errors", static_cast<std::int64_t>(r.errors()));
    // The claims' texts, from the first row that has them (every point has the scenario's claims).
    j.key("claims").begin_array();
    for (const auto& row : r.rows) {
        if (row.claims.empty()) continue;
        for (const auto& c : row.claims) j.value(c.text);
        break;
    }
    j.end_array();
    j.key("rows").begin_array();
    for (const auto& row : r.rows) {
        j.begin_object().field("point", static_cast<std::int64_t>(row.point));
        j.key("values").begin_object();
        for (const auto& [k, v] : row.values) {
            j.key(k);
            sweep_value(j, v);
        }
        j.end_object();
        j.field("status", row.ok ? "ok" : "error");
        if (!row.ok) {
            // Every field an ok row has, null (schemas.md: a figure that does not exist is null, not left out), so
            // that a notebook reads each column of every row (an audit of sweep, session 52).
            j.field("error", row.error);
            for (const char* key : {"chip", "chip_modified", "gpus", "layout"}) j.key(key).null();
            if (r.derive_data) j.field("derived", row.derived);
            for (const auto& f : kSweepFigures) j.key(f.name).null();
            j.key("samples").null();
            j.key("claims").begin_array().end_array();
            j.end_object();
            continue;
        }
        j.key("error").null();
        j.field("chip", row.chip).field("chip_modified", row.chip_modified);
        j.field("gpus", row.gpus).field("layout", row.layout);
        if (r.derive_data) j.field("derived", row.derived);
        for (const auto& f : kSweepFigures) {
            j.key(f.name);
            if (has_figure(row, f)) j.value(row.*f.field);
            else j.null();
        }
        if (row.samples > 0) j.field("samples", row.samples);
        else j.key("samples").null();
        j.key("claims").begin_array();
        for (const auto& c : row.claims) {
            j.begin_object().field("verdict", c.verdict).field("probability", c.probability);
            if (row.samples > 0) j.field("standard_error", share_standard_error(c.probability, row.samples));
            else j.key("standard_error").null();
            if (!c.nominal_verdict.empty()) j.field("nominal_verdict", c.nominal_verdict);
            else j.key("nominal_verdict").null();
            j.end_object();
        }
        j.end_array();
        j.end_object();
    }
    j.end_array().end_object();
    return j.str();
}

std::string sweep_table(const SweepResult& r) {
    std::vector<std::string> headers{"point"};
    headers.insert(headers.end(), r.axis_keys.begin(), r.axis_keys.end());
    headers.insert(headers.end(), {"status", "layout", "step s", "MFU*", "days p50", "GPU-hours p50", "steady-state p50", "cost p50"});
    const std::size_t claims = claim_columns(r);
    for (std::size_t c = 1; c <= claims; ++c) headers.push_back(fmt::format("claim {}", c));
    Table t(headers);
    std::string errors;
    for (const auto& row : r.rows) {
        std::vector<std::string> cells = point_cells(r, row);
        if (!row.ok) {
            cells.push_back("error");
            cells.resize(headers.size());
            errors += fmt::format("point {}: {}\n", row.point, row.error);
        } else {
            cells.insert(cells.end(), {"ok", row.layout, fmt::format("{:.3f}", row.step_time_s),
                                       fmt::format("{:.1f}%", 100 * row.mfu_bf16),
                                       fmt::format("{:.1f}", row.wall_clock_days_p50), with_commas(row.gpu_hours_p50),
                                       with_commas(row.steady_state_gpu_hours_p50), row.priced ? "$" + with_commas(row.cost_usd_p50) : "—"});
            for (std::size_t c = 0; c < claims; ++c) {
                if (c >= row.claims.size()) {
                    cells.emplace_back("—");
                    continue;
                }
                const double p = row.claims[c].probability;
                // ClaimVerdict::too_few_samples, from the row's verdict and share (the journal keeps no more).
                const bool few = row.claims[c].verdict == "UNCERTAIN" && share_alone_settles(p, 1.0 - p);
                // The nominal run's verdict beside an unsettled share, as `run` and whatif give it (a 110-day run against
                // "under two months" read "UNCERTAIN (0%; too few samples)" at 20 samples: a fresh user, session 55).
                const std::string& nominal = row.claims[c].nominal_verdict;
                const bool say_nominal = row.claims[c].verdict == "UNCERTAIN" && !nominal.empty();
                cells.push_back(fmt::format("{} ({}{}{}{})", row.claims[c].verdict, share_percent(p), share_error_suffix(p, row.samples),
                                            few ? "; too few samples" : "", say_nominal ? fmt::format("; {} at nominal", nominal) : ""));
            }
        }
        t.add_row(std::move(cells));
    }
    std::string out = t.render();
    // The headline basis of `run` and `plan`, so that a row reads as they do (it showed causal FLOPs over the FP8
    // peak: 19.6 % for the flagship beside run's 44.0 %; an audit of sweep, session 52).
    out += "* MFU: full-attention model FLOPs over the BF16 peak, as run's and plan's headline (the CSV's mfu_bf16; its "
           "mfu_causal has causal FLOPs over the compute precision's peak)\n";
    if (claims > 0) {
        for (const auto& row : r.rows) {
            if (row.claims.empty()) continue;
            for (std::size_t c = 0; c < row.claims.size(); ++c) out += fmt::format("claim {}: \"{}\"\n", c + 1, row.claims[c].text);
            break;
        }
    }
    // A chip varied as a plain key: nothing bound to the scenario's chip is re-derived (whatif is the chip swap).
    if (std::any_of(r.axis_keys.begin(), r.axis_keys.end(), [](const std::string& k) { return k == "cluster.chip" || k == "cluster.chip.from"; })) {
        out += "the chip is varied as a key: the SMs reserved for communication, the NIC, the precisions and the price stay as the\n"
               "scenario writes them (cluster.chip also drops what its [cluster.chip] table sets); `gpuhours whatif` re-derives them\n";
    }
    if (!errors.empty()) out += "\n" + errors;
    return out;
}

}  // namespace gpuhours::report
