// Sweeps (include/gpuhours/analysis/sweep.hpp): --vary specs, points, one row per point, the journal of finished rows.
#include <gpuhours/analysis/sweep.hpp>

#include <gpuhours/run/claims.hpp>
#include <gpuhours/units/error.hpp>
#include <gpuhours/run/run.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace gpuhours {
namespace {

constexpr std::size_t kMaxAxisValues = 1'000'000;
constexpr std::size_t kMaxPoints = 10'000'000;

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return std::string(s.substr(first, last - first + 1));
}

// ---- numbers with a unit around them ("$1.5", "200 GB/s", "14.8T") ------------------------------------------

struct AffixedNumber {
    std::string prefix;
    double value = 0.0;
    std::string suffix;
    bool whole = false;  // written without a decimal point or exponent
};

std::optional<AffixedNumber> affixed_number(std::string_view text) {
    std::size_t start = 0;
    auto starts_number = [&](std::size_t i) {
        auto digit = [&](std::size_t j) { return j < text.size() && text[j] >= '0' && text[j] <= '9'; };
        if (digit(i)) return true;
        if (i < text.size() && (text[i] == '-' || text[i] == '+')) return digit(i + 1) || (i + 1 < text.size() && text[i + 1] == '.' && digit(i + 2));
        return i < text.size() && text[i] == '.' && digit(i + 1);
    };
    while (start < text.size() && !starts_number(start)) ++start;
    if (start == text.size()) return std::nullopt;
    AffixedNumber n;
    n.prefix = std::string(text.substr(0, start));
    std::size_t from = start;
    if (text[from] == '+') ++from;
    const char* begin = text.data() + from;
    const char* end = text.data() + text.size();
    // Leave a unit starting with e or E ("1 EFLOP") to the suffix: read the mantissa, then an exponent only when
    // digits follow it.
    const char* mantissa_end = begin;
    if (mantissa_end < end && *mantissa_end == '-') ++mantissa_end;
    while (mantissa_end < end && ((*mantissa_end >= '0' && *mantissa_end <= '9') || *mantissa_end == '.')) ++mantissa_end;
    const char* number_end = mantissa_end;
    if (number_end < end && (*number_end == 'e' || *number_end == 'E')) {
        const char* p = number_end + 1;
        if (p < end && (*p == '+' || *p == '-')) ++p;
        if (p < end && *p >= '0' && *p <= '9') {
            while (p < end && *p >= '0' && *p <= '9') ++p;
            number_end = p;
        }
    }
    const auto [ptr, ec] = std::from_chars(begin, number_end, n.value);
    if (ec != std::errc() || ptr != number_end || !std::isfinite(n.value)) return std::nullopt;
    n.whole = std::string_view(begin, static_cast<std::size_t>(number_end - begin)).find_first_of(".eE") == std::string_view::npos;
    n.suffix = std::string(text.substr(static_cast<std::size_t>(number_end - text.data())));
    return n;
}

// The override text of a number: bare (TOML) when it has no unit, else the unit text around it (read as a string).
std::string number_text(double v, bool whole, const std::string& prefix, const std::string& suffix, int digits) {
    std::string number;
    if (whole) number = fmt::format("{}", static_cast<long long>(std::llround(v)));
    else number = fmt::format("{:.{}g}", v == 0.0 ? 0.0 : v, digits);  // no "-0"
    return prefix + number + suffix;
}

// ---- splitting lists -------------------------------------------------------------------------------------------

// Splits on `sep` outside quotes and brackets.
std::vector<std::string> split_top_level(std::string_view s, char sep) {
    std::vector<std::string> parts;
    std::string current;
    int depth = 0;
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quote != 0) {
            current += c;
            if (c == '\\' && quote == '"' && i + 1 < s.size()) current += s[++i];
            else if (c == quote) quote = 0;
            continue;
        }
        if (c == '"' || c == '\'') quote = c;
        else if (c == '[' || c == '{') ++depth;
        else if ((c == ']' || c == '}') && depth > 0) --depth;
        else if (c == sep && depth == 0) {
            parts.push_back(current);
            current.clear();
            continue;
        }
        current += c;
    }
    parts.push_back(current);
    return parts;
}

bool has_top_level(std::string_view s, char c) { return split_top_level(s, c).size() > 1; }

Error spec_error(std::string_view spec, const std::string& message, const std::string& hint = {}) {
    return Error(fmt::format("--vary {}: {}", spec, message),
                 hint.empty() ? "write --vary KEY=V1,V2,… (a list), KEY=START:STOP:STEP or KEY=START:STOP:*FACTOR (a "
                                "range), or KEY=LOW~HIGH with --random N; see docs/sweep.md"
                              : hint);
}

// The number parts of a range or random spec must share their unit; returns it as (prefix, suffix).
std::pair<std::string, std::string> common_unit(std::string_view spec, const std::vector<AffixedNumber>& numbers) {
    for (const auto& n : numbers) {
        if (n.prefix != numbers.front().prefix || n.suffix != numbers.front().suffix) {
            throw spec_error(spec, fmt::format("the bounds are written with different units (\"{}…{}\" and \"{}…{}\")",
                                               numbers.front().prefix, numbers.front().suffix, n.prefix, n.suffix),
                             "write every number of the spec with the same unit, e.g. $1.5:$3.5:$0.5");
        }
    }
    return {numbers.front().prefix, numbers.front().suffix};
}

AffixedNumber range_number(std::string_view spec, const std::string& part, const char* what) {
    const auto n = affixed_number(trim(part));
    if (!n) throw spec_error(spec, fmt::format("the {} \"{}\" of the range is not a number", what, trim(part)));
    return *n;
}

std::vector<std::string> expand_range(std::string_view spec, const std::vector<std::string>& parts) {
    const AffixedNumber start = range_number(spec, parts[0], "start");
    const AffixedNumber stop = range_number(spec, parts[1], "stop");
    const auto [prefix, suffix] = common_unit(spec, {start, stop});
    std::string step_text = trim(parts[2]);
    const bool geometric = !step_text.empty() && step_text.front() == '*';
    if (geometric) step_text = trim(std::string_view(step_text).substr(1));
    AffixedNumber step = range_number(spec, step_text, geometric ? "factor" : "step");
    if (!geometric && (!step.prefix.empty() || !step.suffix.empty())) common_unit(spec, {start, step});
    if (geometric && (!step.prefix.empty() || !step.suffix.empty())) {
        throw spec_error(spec, fmt::format("the factor \"{}\" must be a bare number", step_text),
                         "e.g. cluster.gpus=1024:8192:*2");
    }
    const bool whole = start.whole && stop.whole && step.whole;
    std::vector<std::string> values;
    const double a = start.value, b = stop.value;
    if (geometric) {
        const double f = step.value;
        if (a == b) return {number_text(a, whole, prefix, suffix, 12)};
        const bool up = b > a;
        if (!(a > 0 && b > 0) || !(up ? f > 1 : (f > 0 && f < 1))) {
            throw spec_error(spec, "a geometric range needs a positive start and stop and a factor that leads from one to the other",
                             "e.g. cluster.gpus=1024:8192:*2 (1024, 2048, 4096, 8192) or 8192:1024:*0.5");
        }
        double v = a;
        const double tolerance = 1e-9 * std::max(std::abs(a), std::abs(b));
        while (up ? v <= b + tolerance : v >= b - tolerance) {
            if (values.size() >= kMaxAxisValues) throw spec_error(spec, fmt::format("more than {} values", kMaxAxisValues));
            values.push_back(number_text(v, whole, prefix, suffix, 12));
            v *= f;
        }
        return values;
    }
    const double d = step.value;
    if (d == 0 || (b - a) * d < 0) {
        throw spec_error(spec, fmt::format("the step {} does not go from {} to {}", trim(parts[2]), trim(parts[0]), trim(parts[1])),
                         "e.g. pricing.gpu_hour=1.5:3.5:0.5 (1.5, 2, 2.5, 3, 3.5); the step's sign is the direction");
    }
    const double count = std::floor((b - a) / d + 1e-9) + 1;
    if (count > static_cast<double>(kMaxAxisValues)) throw spec_error(spec, fmt::format("more than {} values", kMaxAxisValues));
    const auto n = static_cast<std::size_t>(count);
    for (std::size_t i = 0; i < n; ++i) {
        values.push_back(number_text(a + static_cast<double>(i) * d, whole, prefix, suffix, 12));  // not accumulated
    }
    return values;
}

bool valid_key(std::string_view key) {
    if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string_view::npos) return false;
    return std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    });
}

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
    if (!get(o, k, d) || !(d >= 0) || d != std::floor(d) || d > 9e15) return false;
    out = static_cast<Int>(d);
    return true;
}

// A message on one line: each line break and the indentation after it become "; ".
std::string one_line(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n' && text[i] != '\r') {
            out += text[i];
            continue;
        }
        while (i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\n' || text[i + 1] == '\r')) ++i;
        out += "; ";
    }
    return out;
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

}  // namespace

// ---- specs and points ------------------------------------------------------------------------------------------

SweepAxis parse_sweep_axis(std::string_view raw) {
    const std::string spec = trim(raw);
    const std::size_t eq = spec.find('=');
    if (eq == std::string::npos) throw spec_error(spec, "there is no `=` between the key and its values");
    SweepAxis axis;
    axis.spec = spec;
    axis.key = trim(std::string_view(spec).substr(0, eq));
    const std::string values = trim(std::string_view(spec).substr(eq + 1));
    if (!valid_key(axis.key)) {
        throw spec_error(spec, fmt::format("\"{}\" is not a scenario key", axis.key),
                         "keys are dotted like --set takes them: cluster.gpus, cluster.chip, pricing.gpu_hour");
    }
    if (values.empty()) throw spec_error(spec, "no values after `=`");

    if (has_top_level(values, ',')) {  // a list
        for (const auto& part : split_top_level(values, ',')) {
            std::string v = trim(part);
            if (v.empty()) throw spec_error(spec, "an empty value in the list", "separate values by single commas: cluster.gpus=1024,2048,4096");
            axis.values.push_back(std::move(v));
        }
        return axis;
    }
    if (has_top_level(values, '~')) {  // a random range
        const auto parts = split_top_level(values, '~');
        if (parts.size() != 2) throw spec_error(spec, "a random range is LOW~HIGH", "e.g. pricing.gpu_hour=1.5~3.5 with --random 20");
        const AffixedNumber low = range_number(spec, parts[0], "low bound");
        const AffixedNumber high = range_number(spec, parts[1], "high bound");
        const auto [prefix, suffix] = common_unit(spec, {low, high});
        if (!(low.value < high.value)) {
            throw spec_error(spec, fmt::format("the low bound {} is not below the high bound {}", trim(parts[0]), trim(parts[1])));
        }
        axis.uniform = SweepAxis::Uniform{low.value, high.value, low.whole && high.whole, prefix, suffix};
        return axis;
    }
    if (has_top_level(values, ':') && values.front() != '"' && values.front() != '\'') {  // a range
        const auto parts = split_top_level(values, ':');
        if (parts.size() != 3) {
            throw spec_error(spec, "a range is START:STOP:STEP or START:STOP:*FACTOR",
                             "e.g. pricing.gpu_hour=1.5:3.5:0.5 or cluster.gpus=1024:8192:*2; quote a value that "
                             "contains a colon");
        }
        axis.values = expand_range(spec, parts);
        return axis;
    }
    axis.values.push_back(values);  // one value
    return axis;
}

std::string SweepPoint::key() const {
    std::string k;
    for (const auto& [name, value] : values) k += (k.empty() ? "" : ";") + name + "=" + value;
    return k;
}

std::vector<std::string> SweepPoint::overrides() const {
    std::vector<std::string> out;
    for (const auto& [name, value] : values) out.push_back(name + "=" + value);
    return out;
}

std::vector<SweepPoint> sweep_points(const std::vector<SweepAxis>& axes, std::optional<std::size_t> random_count,
                                     std::uint64_t seed) {
    for (std::size_t i = 0; i < axes.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (axes[i].key == axes[j].key) {
                throw Error(fmt::format("--vary {} and --vary {} both vary {}", axes[j].spec, axes[i].spec, axes[i].key),
                            "give each key one --vary with all its values: --vary KEY=V1,V2,V3");
            }
        }
    }
    std::vector<SweepPoint> points;
    if (axes.empty()) return points;
    if (random_count) {
        if (*random_count > kMaxPoints) throw Error(fmt::format("--random {} is more than {} points", *random_count, kMaxPoints));
        // Its own stream, so the points do not share draws with the Monte Carlo samples of the same seed.
        Random rng(seed ^ 0x7377656570707473ULL);
        for (std::size_t p = 0; p < *random_count; ++p) {
            SweepPoint point;
            point.index = p;
            for (const auto& axis : axes) {
                const double u = rng.uniform();
                std::string text;
                if (axis.uniform) {
                    const auto& r = *axis.uniform;
                    if (r.whole) {
                        // Each whole number in [low, high] equally likely.
                        const double span = std::floor(r.high) - std::ceil(r.low) + 1;
                        const double v = std::min(std::ceil(r.low) + std::floor(u * span), std::floor(r.high));
                        text = number_text(v, true, r.prefix, r.suffix, 0);
                    } else {
                        text = number_text(r.low + u * (r.high - r.low), false, r.prefix, r.suffix, 6);
                    }
                } else {
                    const auto n = axis.values.size();
                    text = axis.values[std::min(n - 1, static_cast<std::size_t>(u * static_cast<double>(n)))];
                }
                point.values.emplace_back(axis.key, std::move(text));
            }
            points.push_back(std::move(point));
        }
        return points;
    }
    double total = 1;
    for (const auto& axis : axes) {
        if (axis.uniform) {
            throw Error(fmt::format("--vary {} is a random range", axis.spec),
                        "add --random N (how many points to draw), or give a list or a START:STOP:STEP range");
        }
        total *= static_cast<double>(axis.values.size());
    }
    if (total > static_cast<double>(kMaxPoints)) {
        throw Error(fmt::format("the grid has {:.0f} points, more than {}", total, kMaxPoints),
                    "vary fewer keys or fewer values, or draw --random N points");
    }
    const auto n = static_cast<std::size_t>(total);
    points.reserve(n);
    for (std::size_t p = 0; p < n; ++p) {
        // Mixed radix, the last axis the fastest digit.
        SweepPoint point;
        point.index = p;
        point.values.resize(axes.size());
        std::size_t rest = p;
        for (std::size_t a = axes.size(); a-- > 0;) {
            const std::size_t size = axes[a].values.size();
            point.values[a] = {axes[a].key, axes[a].values[rest % size]};
            rest /= size;
        }
        points.push_back(std::move(point));
    }
    return points;
}

// ---- evaluation ------------------------------------------------------------------------------------------------

std::string sweep_fingerprint(const SweepPlan& plan) {
    std::ifstream in(plan.scenario, std::ios::binary);
    if (!in) throw Error(fmt::format("cannot read the scenario {}", plan.scenario.string()));
    std::ostringstream bytes;
    bytes << in.rdbuf();
    std::uint64_t h = 0xcbf29ce484222325ULL;
    // Each field length-prefixed so that no two different inputs concatenate alike.
    auto add = [&](std::string_view field) {
        h = fnv1a(h, fmt::format("{}:", field.size()));
        h = fnv1a(h, field);
    };
    add("gpuhours-sweep-1");
    add(bytes.str());
    add(plan.load.catalog_dir.string());
    for (const auto& o : plan.load.overrides) add(o);
    add(to_string(plan.evaluate.mode));
    add(to_string(plan.evaluate.network));
    add(fmt::format("{}", plan.evaluate.samples));
    add(fmt::format("{}", plan.evaluate.seed));
    return fmt::format("{:016x}", h);
}

SweepRow evaluate_point(const SweepPlan& plan, const SweepPoint& point, unsigned threads) {
    SweepRow row;
    row.point = point.index;
    row.key = point.key();
    row.values = point.values;
    try {
        LoadOptions load = plan.load;
        for (auto& o : point.overrides()) load.overrides.push_back(std::move(o));
        const ScenarioSampler sampler(plan.scenario, load);
        EvaluateOptions options = plan.evaluate;
        options.threads = std::max(1u, threads);
        options.progress = {};
        options.record_trace = false;
        const RunEvaluation ev = evaluate_run(sampler, options);
        const Scenario& s = ev.scenario;
        const StepResult& step = ev.headline_step();
        const auto& p = s.parallel;
        row.ok = true;
        row.chip = s.cluster.chip.id;
        row.gpus = s.cluster.gpus;
        row.layout = fmt::format("TP{} CP{} PP{} DP{} EP{}", p.tensor, p.context, p.pipeline, p.data, p.expert);
        row.step_time_s = step.step_time.value();
        row.mfu_causal = step.mfu_causal;
        row.wall_clock_days_p05 = ev.wall_clock_days_spread.p05;
        row.wall_clock_days_p50 = ev.wall_clock_days_spread.p50;
        row.wall_clock_days_p95 = ev.wall_clock_days_spread.p95;
        row.gpu_hours_p50 = ev.gpu_hours_spread.p50;
        row.priced = ev.priced;
        if (ev.priced) {
            row.cost_usd_p05 = ev.cost_spread.p05;
            row.cost_usd_p50 = ev.cost_spread.p50;
            row.cost_usd_p95 = ev.cost_spread.p95;
            row.energy_mwh_p50 = ev.energy_spread.p50;
        }
        for (const auto& v : ev.verdicts) row.claims.push_back({v.text, std::string(to_string(v.verdict)), v.probability});
    } catch (const Error& e) {
        SweepRow failed;
        failed.point = row.point;
        failed.key = std::move(row.key);
        failed.values = std::move(row.values);
        failed.error = one_line(e.what());
        return failed;
    }
    return row;
}

std::vector<SweepRow> run_sweep_points(const SweepPlan& plan, const std::vector<SweepPoint>& todo,
                                       const SweepRunOptions& options) {
    std::vector<SweepRow> rows;
    if (todo.empty()) return rows;
    const unsigned total = options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    const auto outer = static_cast<unsigned>(std::min<std::size_t>(todo.size(), total));  // ≥ 1: todo is not empty
    const unsigned inner = std::max(1u, total / outer);
    const PointEvaluator evaluate = options.evaluate
        ? options.evaluate
        : PointEvaluator([&plan, inner](const SweepPoint& point) { return evaluate_point(plan, point, inner); });

    std::mutex mutex;
    std::condition_variable ready;
    std::deque<SweepRow> finished;  // guarded by mutex
    unsigned workers_done = 0;      // guarded by mutex
    std::exception_ptr failure;     // guarded by mutex: the first error
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};

    std::vector<std::thread> pool;
    pool.reserve(outer);
    for (unsigned t = 0; t < outer; ++t) {
        pool.emplace_back([&] {
            try {
                while (!stop.load()) {
                    const std::size_t i = next.fetch_add(1);
                    if (i >= todo.size()) break;
                    SweepRow row = evaluate(todo[i]);
                    std::lock_guard lock(mutex);
                    finished.push_back(std::move(row));
                    ready.notify_one();
                }
            } catch (...) {
                stop = true;
                std::lock_guard lock(mutex);
                if (!failure) failure = std::current_exception();
            }
            std::lock_guard lock(mutex);
            ++workers_done;
            ready.notify_one();
        });
    }

    // The calling thread hands rows to on_row one at a time, in completion order.
    try {
        while (true) {
            std::deque<SweepRow> batch;
            bool all_done = false;
            {
                std::unique_lock lock(mutex);
                auto woken = [&] { return !finished.empty() || workers_done == outer; };
                if (options.poll) ready.wait_for(lock, std::chrono::milliseconds(10), woken);
                else ready.wait(lock, woken);
                batch.swap(finished);
                all_done = workers_done == outer;
            }
            if (options.poll) options.poll();
            for (auto& row : batch) {
                if (options.on_row) options.on_row(row);
                rows.push_back(std::move(row));
            }
            if (all_done) {
                std::lock_guard lock(mutex);
                if (finished.empty()) break;
            }
        }
    } catch (...) {
        stop = true;
        for (auto& th : pool) th.join();
        throw;
    }
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
    std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.point < b.point; });
    return rows;
}

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
    out += fmt::format(",\"priced\":{}", row.priced);
    number("cost_usd_p05", row.cost_usd_p05);
    number("cost_usd_p50", row.cost_usd_p50);
    number("cost_usd_p95", row.cost_usd_p95);
    number("energy_mwh_p50", row.energy_mwh_p50);
    out += ",\"claims\":[";
    for (std::size_t i = 0; i < row.claims.size(); ++i) {
        out += i ? ",{\"text\":" : "{\"text\":";
        put_string(out, row.claims[i].text);
        out += ",\"verdict\":";
        put_string(out, row.claims[i].verdict);
        number("probability", row.claims[i].probability);
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
              get_whole(doc, "gpus", r.gpus) && get(doc, "layout", r.layout) &&
              get(doc, "step_time_s", r.step_time_s) && get(doc, "mfu_causal", r.mfu_causal) &&
              get(doc, "wall_clock_days_p05", r.wall_clock_days_p05) &&
              get(doc, "wall_clock_days_p50", r.wall_clock_days_p50) &&
              get(doc, "wall_clock_days_p95", r.wall_clock_days_p95) && get(doc, "gpu_hours_p50", r.gpu_hours_p50) &&
              get(doc, "priced", r.priced) && get(doc, "cost_usd_p05", r.cost_usd_p05) &&
              get(doc, "cost_usd_p50", r.cost_usd_p50) && get(doc, "cost_usd_p95", r.cost_usd_p95) &&
              get(doc, "energy_mwh_p50", r.energy_mwh_p50);
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
            !get(c, "probability", claim.probability)) {
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
        if (seen.emplace(entry->row.key, true).second) rows.push_back(std::move(entry->row));
    }
    return rows;
}

SweepJournal::SweepJournal(const std::filesystem::path& path, std::string fingerprint)
    : path_(path), fingerprint_(std::move(fingerprint)) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(fmt::format("cannot open the sweep journal {}: {}", path.string(), std::strerror(errno)));
    // Drop an incomplete last line (a write cut short), so the next row starts on a line of its own.
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
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

// ---- the whole sweep -------------------------------------------------------------------------------------------

std::size_t SweepResult::errors() const {
    return static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [](const SweepRow& r) { return !r.ok; }));
}

std::vector<SweepPoint> points_to_do(const SweepPlan& plan, const std::vector<SweepRow>& finished) {
    std::map<std::string, bool> done;
    for (const auto& r : finished) done[r.key] = true;
    std::vector<SweepPoint> todo;
    for (const auto& p : plan.points) {
        if (!done.contains(p.key())) todo.push_back(p);
    }
    return todo;
}

std::vector<SweepRow> merge_rows(const SweepPlan& plan, const std::vector<SweepRow>& finished,
                                 const std::vector<SweepRow>& fresh) {
    std::map<std::string, std::size_t> index;
    for (const auto& p : plan.points) index.emplace(p.key(), p.index);
    std::vector<SweepRow> rows;
    std::map<std::size_t, bool> have;
    for (const auto* source : {&finished, &fresh}) {
        for (const auto& r : *source) {
            const auto it = index.find(r.key);
            if (it == index.end() || have.contains(it->second)) continue;
            have[it->second] = true;
            rows.push_back(r);
            rows.back().point = it->second;
        }
    }
    std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.point < b.point; });
    return rows;
}

}  // namespace gpuhours
