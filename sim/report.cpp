#include <gpuhours/error.hpp>
#include <gpuhours/report.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <system_error>

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

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
    const std::filesystem::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(fmt::format("cannot write \"{}\"", tmp.string()), "check that the directory exists and is writable");
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.flush();
        if (!out) {
            std::error_code ignored;
            std::filesystem::remove(tmp, ignored);
            throw Error(fmt::format("writing \"{}\" failed", tmp.string()), "check free disk space");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw Error(fmt::format("cannot replace \"{}\": {}", path.string(), ec.message()));
    }
}

std::string chrome_trace(const std::vector<TraceEvent>& events) {
    std::vector<const TraceEvent*> sorted;
    sorted.reserve(events.size());
    for (const auto& e : events) sorted.push_back(&e);
    auto stream_id = [](const std::string& s) { return s == "compute" ? 0 : s == "comm" ? 1 : 2; };
    std::stable_sort(sorted.begin(), sorted.end(), [&](const TraceEvent* a, const TraceEvent* b) {
        if (a->rank != b->rank) return a->rank < b->rank;
        if (stream_id(a->stream) != stream_id(b->stream)) return stream_id(a->stream) < stream_id(b->stream);
        return a->start < b->start;
    });
    Json j;
    j.begin_object().field("displayTimeUnit", "ms").key("traceEvents").begin_array();
    int last_rank = -1;
    for (const TraceEvent* e : sorted) {
        if (e->rank != last_rank) {
            last_rank = e->rank;
            j.begin_object().field("ph", "M").field("name", "process_name").field("pid", e->rank);
            j.key("args").begin_object().field("name", fmt::format("GPU rank {}", e->rank)).end_object().end_object();
            for (const char* stream : {"compute", "comm", "p2p"}) {
                j.begin_object().field("ph", "M").field("name", "thread_name").field("pid", e->rank);
                j.field("tid", stream_id(stream));
                j.key("args").begin_object().field("name", stream).end_object().end_object();
            }
        }
        const double start_us = static_cast<double>(e->start.picoseconds()) / 1e6;
        const double dur_us = static_cast<double>((e->end - e->start).picoseconds()) / 1e6;
        j.begin_object().field("ph", "X").field("name", e->name).field("pid", e->rank);
        j.field("tid", stream_id(e->stream)).field("ts", start_us).field("dur", dur_us).end_object();
    }
    j.end_array().end_object();
    return j.str();
}

std::string with_commas(double value, int decimals) {
    std::string text = fmt::format("{:.{}f}", std::fabs(value), decimals);
    const std::size_t dot = text.find('.');
    std::string integer = text.substr(0, dot);
    const std::string fraction = dot == std::string::npos ? "" : text.substr(dot);
    std::string grouped;
    for (std::size_t i = 0; i < integer.size(); ++i) {
        if (i > 0 && (integer.size() - i) % 3 == 0) grouped += ',';
        grouped += integer[i];
    }
    const bool negative = value < 0 && std::stod(text) != 0.0;
    return (negative ? "-" : "") + grouped + fraction;
}

}  // namespace gpuhours::report
