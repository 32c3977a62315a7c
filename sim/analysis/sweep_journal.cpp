// The sweep journal: one JSON line per finished row, written as rows finish and read back to resume a sweep.
#include <gpuhours/analysis/sweep.hpp>

#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace gpuhours {
namespace {

// ---- journal lines: a small JSON writer and reader -------------------------------------------------------------

void put_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
                else out += c;
        }
    }
    out += '"';
}

// Shortest round-trip form, so reading it back gives the same double; non-finite as null (read back as NaN).
void put_number(std::string& out, double d) {
    if (!std::isfinite(d)) out += "null";
    else out += fmt::format("{}", d);
}

struct JsonNode {
    enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
    bool boolean = false;
    double number = 0.0;
    std::string text;
    std::vector<JsonNode> items;
    std::vector<std::pair<std::string, JsonNode>> fields;

    [[nodiscard]] const JsonNode* find(std::string_view k) const {
        for (const auto& [key, v] : fields) {
            if (key == k) return &v;
        }
        return nullptr;
    }
};

// A strict reader for the JSON this file writes (and any other well-formed JSON of those kinds). Returns false on
// anything malformed or truncated.
class JsonReader {
public:
    explicit JsonReader(std::string_view text) : s_(text) {}
    bool document(JsonNode& out) {
        if (!value(out, 0)) return false;
        skip_space();
        return i_ == s_.size();
    }

private:
    void skip_space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
    }
    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }
    bool string(std::string& out) {
        if (i_ >= s_.size() || s_[i_] != '"') return false;
        ++i_;
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) return false;
            const char e = s_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    if (i_ + 4 > s_.size()) return false;
                    unsigned code = 0;
                    const auto [p, ec] = std::from_chars(s_.data() + i_, s_.data() + i_ + 4, code, 16);
                    if (ec != std::errc() || p != s_.data() + i_ + 4) return false;
                    i_ += 4;
                    // UTF-8 of one code unit (this writer escapes only control characters).
                    if (code < 0x80) {
                        out += static_cast<char>(code);
                    } else if (code < 0x800) {
                        out += static_cast<char>(0xC0 | (code >> 6));
                        out += static_cast<char>(0x80 | (code & 0x3F));
                    } else {
                        out += static_cast<char>(0xE0 | (code >> 12));
                        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
                        out += static_cast<char>(0x80 | (code & 0x3F));
                    }
                    break;
                }
                default: return false;
            }
        }
        return false;
    }
    bool value(JsonNode& out, int depth) {
        if (depth > 16) return false;
        skip_space();
        if (i_ >= s_.size()) return false;
        const char c = s_[i_];
        if (c == '{') {
            out.kind = JsonNode::Kind::object;
            ++i_;
            skip_space();
            if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
            while (true) {
                skip_space();
                std::string key;
                if (!string(key)) return false;
                skip_space();
                if (i_ >= s_.size() || s_[i_] != ':') return false;
                ++i_;
                JsonNode v;
                if (!value(v, depth + 1)) return false;
                out.fields.emplace_back(std::move(key), std::move(v));
                skip_space();
                if (i_ >= s_.size()) return false;
                if (s_[i_] == ',') { ++i_; continue; }
                if (s_[i_] == '}') return ++i_, true;
                return false;
            }
        }
        if (c == '[') {
            out.kind = JsonNode::Kind::array;
            ++i_;
            skip_space();
            if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
            while (true) {
                JsonNode v;
                if (!value(v, depth + 1)) return false;
                out.items.push_back(std::move(v));
                skip_space();
                if (i_ >= s_.size()) return false;
                if (s_[i_] == ',') { ++i_; continue; }
                if (s_[i_] == ']') return ++i_, true;
                return false;
            }
        }
        if (c == '"') {
            out.kind = JsonNode::Kind::string;
            return string(out.text);
        }
        if (literal("null")) { out.kind = JsonNode::Kind::null; return true; }
        if (literal("true")) { out.kind = JsonNode::Kind::boolean; out.boolean = true; return true; }
        if (literal("false")) { out.kind = JsonNode::Kind::boolean; out.boolean = false; return true; }
        std::size_t end = i_;
        while (end < s_.size() && std::strchr("+-0123456789.eE", s_[end]) != nullptr) ++end;
        if (end == i_) return false;
        const auto [p, ec] = std::from_chars(s_.data() + i_, s_.data() + end, out.number);
        if (ec != std::errc() || p != s_.data() + end) return false;
        out.kind = JsonNode::Kind::number;
        i_ = end;
        return true;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// Field accessors for parsing a row; each returns false when the field is missing or of another kind.
bool get(const JsonNode& o, std::string_view k, std::string& out) {
    const JsonNode* v = o.find(k);
    if (v == nullptr || v->kind != JsonNode::Kind::string) return false;
    out = v->text;
    return true;
}
bool get(const JsonNode& o, std::string_view k, double& out) {
    const JsonNode* v = o.find(k);
    if (v == nullptr) return false;
    if (v->kind == JsonNode::Kind::null) { out = std::nan(""); return true; }
    if (v->kind != JsonNode::Kind::number) return false;
    out = v->number;
    return true;
}
bool get(const JsonNode& o, std::string_view k, bool& out) {
    const JsonNode* v = o.find(k);
    if (v == nullptr || v->kind != JsonNode::Kind::boolean) return false;
    out = v->boolean;
    return true;
}
template <class Int>
bool get_whole(const JsonNode& o, std::string_view k, Int& out) {
    double d = 0;
    if (!get(o, k, d) || !(d >= 0) || d != std::floor(d) || d > 9e15 ||
        d > static_cast<double>(std::numeric_limits<Int>::max())) {
        return false;
    }
    out = static_cast<Int>(d);
    return true;
}

}  // namespace

// ---- journal ---------------------------------------------------------------------------------------------------

std::filesystem::path journal_path(const std::filesystem::path& output) {
    std::filesystem::path p = output;
    p += ".partial";
    return p;
}

std::string journal_line(const SweepRow& row, std::string_view fingerprint) {
    std::string out = "{\"fingerprint\":";
    put_string(out, fingerprint);
    out += fmt::format(",\"point\":{},\"key\":", row.point);
    put_string(out, row.key);
    out += ",\"values\":[";
    for (std::size_t i = 0; i < row.values.size(); ++i) {
        out += i ? ",[" : "[";
        put_string(out, row.values[i].first);
        out += ',';
        put_string(out, row.values[i].second);
        out += ']';
    }
    out += fmt::format("],\"ok\":{},\"error\":", row.ok);
    put_string(out, row.error);
    out += ",\"chip\":";
    put_string(out, row.chip);
    out += ",\"chip_modified\":";
    put_string(out, row.chip_modified);
    out += fmt::format(",\"gpus\":{},\"layout\":", row.gpus);
    put_string(out, row.layout);
    auto number = [&](const char* name, double v) {
        out += fmt::format(",\"{}\":", name);
        put_number(out, v);
    };
    number("step_time_s", row.step_time_s);
    number("mfu_causal", row.mfu_causal);
    number("wall_clock_days_p05", row.wall_clock_days_p05);
    number("wall_clock_days_p50", row.wall_clock_days_p50);
    number("wall_clock_days_p95", row.wall_clock_days_p95);
    number("gpu_hours_p50", row.gpu_hours_p50);
    number("steady_state_gpu_hours_p50", row.steady_state_gpu_hours_p50);
    out += fmt::format(",\"priced\":{}", row.priced);
    number("cost_usd_p05", row.cost_usd_p05);
    number("cost_usd_p50", row.cost_usd_p50);
    number("cost_usd_p95", row.cost_usd_p95);
    number("energy_mwh_p50", row.energy_mwh_p50);
    // The nominal run's figures (a journal written before them lacks them: read_journal evaluates such a row again).
    for (const auto& [name, v] : {std::pair{"mfu_bf16", row.mfu_bf16}, std::pair{"wall_clock_days", row.wall_clock_days},
                                  std::pair{"gpu_hours", row.gpu_hours}, std::pair{"steady_state_gpu_hours", row.steady_state_gpu_hours},
                                  std::pair{"cost_usd", row.cost_usd}, std::pair{"energy_mwh", row.energy_mwh}}) {
        if (std::isfinite(v)) number(name, v);
    }
    if (row.samples > 0) out += fmt::format(",\"samples\":{}", row.samples);
    if (!row.derived.empty()) {  // only in derived sweeps, so that other journals read as before
        out += ",\"derived\":";
        put_string(out, row.derived);
    }
    out += ",\"claims\":[";
    for (std::size_t i = 0; i < row.claims.size(); ++i) {
        out += i ? ",{\"text\":" : "{\"text\":";
        put_string(out, row.claims[i].text);
        out += ",\"verdict\":";
        put_string(out, row.claims[i].verdict);
        number("probability", row.claims[i].probability);
        if (!row.claims[i].nominal_verdict.empty()) {  // absent from journals written before it existed
            out += ",\"nominal_verdict\":";
            put_string(out, row.claims[i].nominal_verdict);
        }
        out += '}';
    }
    out += "]}\n";
    return out;
}

std::optional<JournalEntry> parse_journal_line(std::string_view line) {
    JsonNode doc;
    if (!JsonReader(line).document(doc) || doc.kind != JsonNode::Kind::object) return std::nullopt;
    JournalEntry e;
    SweepRow& r = e.row;
    bool ok = get(doc, "fingerprint", e.fingerprint) && get_whole(doc, "point", r.point) && get(doc, "key", r.key) &&
              get(doc, "ok", r.ok) && get(doc, "error", r.error) && get(doc, "chip", r.chip) &&
              // chip_modified: absent from journals written before it existed
              (doc.find("chip_modified") == nullptr || get(doc, "chip_modified", r.chip_modified)) &&
              get_whole(doc, "gpus", r.gpus) && get(doc, "layout", r.layout) &&
              get(doc, "step_time_s", r.step_time_s) && get(doc, "mfu_causal", r.mfu_causal) &&
              get(doc, "wall_clock_days_p05", r.wall_clock_days_p05) &&
              get(doc, "wall_clock_days_p50", r.wall_clock_days_p50) &&
              get(doc, "wall_clock_days_p95", r.wall_clock_days_p95) && get(doc, "gpu_hours_p50", r.gpu_hours_p50) &&
              // steady_state_gpu_hours_p50: absent from journals written before it existed
              (doc.find("steady_state_gpu_hours_p50") == nullptr ||
               get(doc, "steady_state_gpu_hours_p50", r.steady_state_gpu_hours_p50)) &&
              get(doc, "priced", r.priced) && get(doc, "cost_usd_p05", r.cost_usd_p05) &&
              get(doc, "cost_usd_p50", r.cost_usd_p50) && get(doc, "cost_usd_p95", r.cost_usd_p95) &&
              get(doc, "energy_mwh_p50", r.energy_mwh_p50) &&
              (doc.find("derived") == nullptr || get(doc, "derived", r.derived)) &&
              // samples: absent from journals written before it existed (then 0: unknown)
              (doc.find("samples") == nullptr || get_whole(doc, "samples", r.samples));
    // The nominal run's figures: each absent (an older journal's row, or an unpriced row's cost) stays NaN.
    for (const auto& [name, field] : {std::pair{"mfu_bf16", &r.mfu_bf16}, std::pair{"wall_clock_days", &r.wall_clock_days},
                                      std::pair{"gpu_hours", &r.gpu_hours}, std::pair{"steady_state_gpu_hours", &r.steady_state_gpu_hours},
                                      std::pair{"cost_usd", &r.cost_usd}, std::pair{"energy_mwh", &r.energy_mwh}}) {
        ok = ok && (doc.find(name) == nullptr || get(doc, name, *field));
    }
    if (!ok) return std::nullopt;
    const JsonNode* values = doc.find("values");
    const JsonNode* claims = doc.find("claims");
    if (values == nullptr || values->kind != JsonNode::Kind::array || claims == nullptr || claims->kind != JsonNode::Kind::array) {
        return std::nullopt;
    }
    for (const auto& pair : values->items) {
        if (pair.kind != JsonNode::Kind::array || pair.items.size() != 2 || pair.items[0].kind != JsonNode::Kind::string ||
            pair.items[1].kind != JsonNode::Kind::string) {
            return std::nullopt;
        }
        r.values.emplace_back(pair.items[0].text, pair.items[1].text);
    }
    for (const auto& c : claims->items) {
        SweepClaim claim;
        if (c.kind != JsonNode::Kind::object || !get(c, "text", claim.text) || !get(c, "verdict", claim.verdict) ||
            !get(c, "probability", claim.probability) ||
            (c.find("nominal_verdict") != nullptr && !get(c, "nominal_verdict", claim.nominal_verdict))) {
            return std::nullopt;
        }
        r.claims.push_back(std::move(claim));
    }
    return e;
}

std::vector<SweepRow> read_journal(const std::filesystem::path& path, std::string_view fingerprint) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("cannot read the sweep journal {}", path.string()));
    std::ostringstream text_stream;
    text_stream << in.rdbuf();
    const std::string text = text_stream.str();
    std::vector<SweepRow> rows;
    std::map<std::string, bool> seen;
    std::size_t start = 0;
    int line_number = 0;
    while (true) {
        const std::size_t end = text.find('\n', start);
        if (end == std::string::npos) break;  // the rest, if any, is a write cut short: ignored
        ++line_number;
        const std::string_view line(text.data() + start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        auto entry = parse_journal_line(line);
        if (!entry) {
            throw Error(fmt::format("{}:{}: the sweep journal has a damaged line", path.string(), line_number),
                        fmt::format("delete {} to start the sweep over", path.string()));
        }
        if (entry->fingerprint != fingerprint) {
            throw Error(fmt::format("{} was written by a sweep of another scenario file or other options (journal "
                                    "{}, now {}); its rows would be stale",
                                    path.string(), entry->fingerprint, fingerprint),
                        fmt::format("run the sweep with the scenario and options it was started with, or delete {} "
                                    "to start over",
                                    path.string()));
        }
        // A row of a journal written before the nominal run's figures were kept (SweepRow::wall_clock_days) is
        // evaluated again rather than resumed with empty cells: --resume writes what an uninterrupted sweep writes.
        if (entry->row.ok && (!std::isfinite(entry->row.wall_clock_days) || !std::isfinite(entry->row.steady_state_gpu_hours))) continue;
        if (seen.emplace(entry->row.key, true).second) rows.push_back(std::move(entry->row));
    }
    return rows;
}

SweepJournal::SweepJournal(const std::filesystem::path& path, std::string fingerprint)
    : path_(path), fingerprint_(std::move(fingerprint)) {
    // Never through a symbolic link planted at the journal's name, never a FIFO or device (O_NONBLOCK: opening
    // one does not wait; fstat then refuses it).
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd_ < 0) {
        throw Error(fmt::format("cannot open the sweep journal {} (the -o file's, written beside it as points finish): {}", path.string(), std::strerror(errno)),
                    "write the -o file in a directory you can create files in");
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw Error(fmt::format("the sweep journal {} is not a regular file", path.string()),
                    fmt::format("remove {}, or write the sweep elsewhere", path.string()));
    }
    // Drop an incomplete last line (a write cut short), so the next row starts on a line of its own.
    if (st.st_size > 0) {
        std::string tail;
        off_t keep = 0;
        constexpr off_t kChunk = 4096;
        for (off_t end = st.st_size; end > 0;) {
            const off_t from = std::max<off_t>(0, end - kChunk);
            tail.resize(static_cast<std::size_t>(end - from));
            if (::pread(fd_, tail.data(), tail.size(), from) != static_cast<ssize_t>(tail.size())) break;
            const std::size_t nl = tail.rfind('\n');
            if (nl != std::string::npos) {
                keep = from + static_cast<off_t>(nl) + 1;
                break;
            }
            end = from;
        }
        if (keep != st.st_size && ::ftruncate(fd_, keep) != 0) {
            const int err = errno;
            ::close(fd_);
            throw Error(fmt::format("cannot repair the sweep journal {}: {}", path.string(), std::strerror(err)));
        }
    }
}

SweepJournal::~SweepJournal() {
    if (fd_ >= 0) {
        ::fsync(fd_);
        ::close(fd_);
    }
}

void SweepJournal::append(const SweepRow& row) {
    const std::string line = journal_line(row, fingerprint_);
    std::size_t written = 0;
    while (written < line.size()) {  // one write(2) for a regular file; the loop only continues after EINTR
        const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(fmt::format("cannot write the sweep journal {}: {}", path_.string(), std::strerror(errno)));
        written += static_cast<std::size_t>(n);
    }
    // The write alone survives a killed process; fsync, for a machine that goes down, at most once per interval
    // (one per row cost more than a small scenario's evaluation).
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sync_ >= kSyncInterval) {
        if (::fsync(fd_) != 0) throw Error(fmt::format("cannot write the sweep journal {}: {}", path_.string(), std::strerror(errno)));
        last_sync_ = now;
    }
}

}  // namespace gpuhours
