// Sweeps (include/gpuhours/analysis/sweep.hpp): --vary specs and the points they span (sweep_run.cpp evaluates them).
#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/analysis/sweep.hpp>

#include <gpuhours/units/error.hpp>
#include <gpuhours/run/run.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_set>
#include <charconv>
#include <cmath>

namespace gpuhours {
namespace {

constexpr std::size_t kMaxAxisValues = 1'000'000;
constexpr auto kMaxPoints = static_cast<std::size_t>(limits::kSweepPoints);

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
    // A sign before a prefix ("-$1", as amounts are written) is the number's: "$" and −1, as "$-1" reads.
    if (n.prefix.size() > 1 && (n.prefix.front() == '-' || n.prefix.front() == '+')) {
        if (n.prefix.front() == '-') n.value = -n.value;
        n.prefix.erase(0, 1);
    }
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
    // A number may follow a currency sign ("$1.5"); letters before it make a name ("h100", "a100-80gb"), and a range
    // over names would count through names that do not exist (h100, h101, …, h800).
    // (spaces and quotes around the sign are the writing's: "$ 1", "\"10T\"")
    std::string sign;
    for (const char ch : n->prefix) {
        if (ch != ' ' && ch != '"' && ch != '\'') sign += ch;
    }
    if (!sign.empty() && sign != "$") {
        throw spec_error(spec, fmt::format("the {} \"{}\" of the range is a name, not a number", what, trim(part)),
                         "list names one by one: e.g. cluster.chip=h100,h800,h20");
    }
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
                         "e.g. pricing.gpu_hour='$1.5:$3.5:$0.5' ($1.5, $2, $2.5, $3, $3.5); the step's sign is the direction");
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
        // Whole draws for bare whole numbers only (a count: cluster.gpus=1024~4096); with a unit the number is a
        // quantity in it ("1T~2T" tokens, "$1~$3"), drawn continuously: whole draws gave only 1T and 2T.
        const bool count = low.whole && high.whole && prefix.empty() && suffix.empty();
        axis.uniform = SweepAxis::Uniform{low.value, high.value, count, prefix, suffix};
        return axis;
    }
    if (has_top_level(values, ':') && values.front() != '"' && values.front() != '\'') {  // a range
        const auto parts = split_top_level(values, ':');
        if (parts.size() != 3) {
            throw spec_error(spec, "a range is START:STOP:STEP or START:STOP:*FACTOR",
                             "e.g. pricing.gpu_hour='$1.5:$3.5:$0.5' or cluster.gpus=1024:8192:*2; quote a value that "
                             "contains a colon");
        }
        axis.values = expand_range(spec, parts);
        return axis;
    }
    axis.values.push_back(values);  // one value
    return axis;
}

std::string SweepPoint::key() const {
    std::string k = drawn ? fmt::format("draw={}", index) : std::string();
    for (const auto& [name, value] : values) k += (k.empty() ? "" : ";") + name + "=" + value;
    return k;
}

std::vector<std::string> SweepPoint::overrides() const {
    std::vector<std::string> out;
    for (const auto& [name, value] : values) out.push_back(name + "=" + value);
    return out;
}

namespace {

// The axes side by side: point i takes the i-th value of every axis.
std::vector<SweepPoint> zipped_points(const std::vector<SweepAxis>& axes, std::optional<std::size_t> random_count) {
    if (random_count) throw Error("--zip pairs the values of list and range axes; --random draws each axis on its own", "drop --zip or --random");
    for (const auto& axis : axes) {
        if (axis.uniform) throw Error(fmt::format("--vary {} is a random range, which --zip cannot pair", axis.spec), "give a list or a START:STOP:STEP range");
        if (axis.values.size() != axes.front().values.size()) {
            throw Error(fmt::format("--zip pairs values one to one, but --vary {} has {} values and --vary {} has {}",
                                    axes.front().spec, axes.front().values.size(), axis.spec, axis.values.size()),
                        "give every --vary the same number of values");
        }
    }
    std::vector<SweepPoint> points(axes.front().values.size());
    std::set<std::string> keys;
    for (std::size_t p = 0; p < points.size(); ++p) {
        points[p].index = p;
        for (const auto& axis : axes) points[p].values.emplace_back(axis.key, axis.values[p]);
        // Zipped axes take repeats, so two points may set the same values: the repeat is a point of its own, its
        // index in its key as a draw's (the rows were merged by key, and `--zip` of 1,2,1 gave 2 rows of 3).
        if (!keys.insert(points[p].key()).second) points[p].drawn = true;
    }
    return points;
}

}  // namespace

std::vector<SweepPoint> sweep_points(const std::vector<SweepAxis>& axes, std::optional<std::size_t> random_count,
                                     std::uint64_t seed, SweepCombine combine) {
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
    if (combine == SweepCombine::zip) return zipped_points(axes, random_count);
    // In a grid a value listed twice gives every point it is in twice (they were merged in silence); zipped axes
    // repeat values to hold a key while another moves, and a random list weights its values by repetition.
    if (!random_count) {
        for (const auto& axis : axes) {
            // A set, not a search of the values before each (quadratic: a million-value range took a minute).
            std::unordered_set<std::string_view> seen;
            seen.reserve(axis.values.size());
            for (const std::string& value : axis.values) {
                if (!seen.insert(value).second) {
                    throw spec_error(axis.spec, fmt::format("the value {} is listed twice", value),
                                     "list each value once (a grid takes every combination of the axes' values)");
                }
            }
        }
    }
    if (random_count) {
        if (*random_count > kMaxPoints) throw Error(fmt::format("--random {} is more than {} points", *random_count, kMaxPoints));
        // Its own stream, so the points do not share draws with the Monte Carlo samples of the same seed.
        Random rng(seed ^ 0x7377656570707473ULL);
        for (std::size_t p = 0; p < *random_count; ++p) {
            SweepPoint point;
            point.index = p;
            point.drawn = true;
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

}  // namespace gpuhours
