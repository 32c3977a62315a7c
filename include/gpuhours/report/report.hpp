// Everything a person or a notebook reads is written here: aligned text tables, JSON, CSV.
// Deterministic: the same inputs give byte-identical output (doubles print in shortest round-trip form).
#pragma once

#include <gpuhours/training/step.hpp>
#include <gpuhours/analysis/sweep.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpuhours::report {

// A text table with a header row; columns are right-aligned when every cell in them looks numeric.
class Table {
public:
    explicit Table(std::vector<std::string> headers);
    void add_row(std::vector<std::string> cells);  // must have as many cells as headers
    [[nodiscard]] std::string render() const;
    [[nodiscard]] std::string render_csv() const;  // cells as given: figures in them through csv_number
    [[nodiscard]] const std::vector<std::string>& headers() const { return headers_; }
    [[nodiscard]] const std::vector<std::vector<std::string>>& rows() const { return rows_; }

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

// A CSV cell of a figure: the shortest text that reads back as the same double (as JSON writes it, without JSON's
// ".0" on whole numbers); empty where the figure does not exist (not finite). Sweep and chips CSV cells.
std::string csv_number(double v);

// A streaming JSON writer with two-space indentation. Misuse (a value where a key is due) is a programmer
// error and asserts.
class Json {
public:
    Json& begin_object();
    Json& end_object();
    Json& begin_array();
    Json& end_array();
    Json& key(std::string_view k);
    Json& value(std::string_view s);
    Json& value(const char* s) { return value(std::string_view(s)); }
    Json& value(const std::string& s) { return value(std::string_view(s)); }
    Json& value(double d);       // non-finite values are written as null
    Json& value(std::int64_t i);
    Json& value(int i) { return value(static_cast<std::int64_t>(i)); }
    Json& value(bool b);
    Json& null();
    template <class T>
    Json& field(std::string_view k, const T& v) { key(k); return value(v); }
    [[nodiscard]] std::string str() const;  // the document, ending in a newline

private:
    void before_value();
    std::string out_;
    std::vector<bool> first_;     // per open container: no element yet
    std::vector<bool> is_object_;
    bool after_key_ = false;
};

// A Chrome / Perfetto trace (JSON "traceEvents"): one process per simulated GPU, one thread (track) per stream
// (compute, comm, dp, dp reduce) and, for pipeline transfers, one per sending stage ("p2p from stage 3"), each
// receive on the receiving GPU; complete events ("X") in microseconds. On every track slices nest or are disjoint:
// an event that would partially overlap one already there goes to a further lane of its stream ("p2p from stage 3
// (2)"). Deterministic: tracks in that order per rank, events by start (longest first at equal starts).
std::string chrome_trace(const std::vector<TraceEvent>& events);

// A sweep's rows, sorted by point (docs/sweep.md, "Outputs"). CSV: a header, then one line per point; a column per
// varied key (named by the key), unpriced cost and energy and an error row's figures empty. JSON: schema_version 4,
// the sweep's inputs, and "rows" with the same fields (the varied values under "values"; null where CSV is empty).
// Table: the headline figures for a terminal, errors listed below it. Doubles in shortest round-trip form (CSV,
// JSON), so the same rows give byte-identical files.
std::string sweep_csv(const SweepResult& result);
std::string sweep_json(const SweepResult& result);
std::string sweep_table(const SweepResult& result);

// Number formatting for tables: fixed decimals, thousands separated by commas ("2,664,000"); units.hpp.
using gpuhours::with_commas;

// `text` broken at spaces into lines of at most `width` terminal columns (UTF-8 aware; a word longer than that stands
// alone on its line): the first line begins with `lead` as given, the others with `indent` spaces; each line ends in
// '\n'. Empty `text` and `lead`: "".
std::string wrap_text(std::string_view text, std::size_t width, std::size_t indent = 0, std::string_view lead = {});

}  // namespace gpuhours::report
