#include <gpuhours/units/units.hpp>

#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace gpuhours {
namespace {

struct UnitEntry {
    std::string symbol;
    double factor;  // multiplier to the base unit
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

// A number at the start of `text` (after optional leading spaces): digits with optional fraction and
// exponent. Returns the value and the index just past it.
struct NumberPrefix {
    double value;
    std::size_t end;
};

NumberPrefix read_number(std::string_view text, std::size_t start, std::string_view what) {
    std::size_t i = start;
    while (i < text.size() && is_space(text[i])) ++i;
    const std::size_t begin = i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    bool digits = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) { ++i; digits = true; }
    if (i < text.size() && text[i] == '.') {
        ++i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) { ++i; digits = true; }
    }
    if (!digits) {
        throw UnitError(fmt::format("expected a number for {}, found \"{}\"", what, text), begin);
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
        const std::size_t exp_digits = j;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
        if (j > exp_digits) i = j;  // "1e9" is an exponent; a lone "E" would be a unit prefix (exa)
    }
    if (i < text.size() && text[i] == ',') {
        throw UnitError(fmt::format("write {} without thousands separators (\"{}\")", what, text), i);
    }
    double value = 0.0;
    const std::string number(text.substr(begin, i - begin));
    const auto* first = number.data() + (number[0] == '+' ? 1 : 0);
    auto [ptr, ec] = std::from_chars(first, number.data() + number.size(), value);
    if (ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(value)) {
        throw UnitError(fmt::format("\"{}\" is not a finite number", number), begin);
    }
    return {value, i};
}

std::string known_symbols(const std::vector<UnitEntry>& units) {
    std::string out;
    for (const auto& u : units) {
        if (!out.empty()) out += ", ";
        out += u.symbol;
    }
    return out;
}

// Parses "<number>[spaces]<unit>" where unit is one of `units` (exact, case-sensitive).
double parse_with_units(std::string_view text, const std::vector<UnitEntry>& units, std::string_view what,
                        std::size_t start = 0) {
    const auto [value, end] = read_number(text, start, what);
    std::size_t i = end;
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t stop = text.size();
    while (stop > i && is_space(text[stop - 1])) --stop;
    const std::string_view unit = text.substr(i, stop - i);
    if (unit.empty()) {
        throw UnitError(fmt::format("\"{}\" has no unit; {} needs one of: {}", text, what, known_symbols(units)), i);
    }
    for (const auto& u : units) {
        if (u.symbol == unit) return value * u.factor;
    }
    throw UnitError(fmt::format("unknown unit \"{}\" for {}; expected one of: {}", unit, what, known_symbols(units)),
                    i);
}

struct Prefix {
    std::string_view symbol;
    double factor;
};
constexpr std::array<Prefix, 7> kDecimal{{{"", 1.0}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
                                          {"E", 1e18}}};
constexpr std::array<Prefix, 5> kBinary{{{"Ki", 1024.0},
                                         {"Mi", 1048576.0},
                                         {"Gi", 1073741824.0},
                                         {"Ti", 1099511627776.0},
                                         {"Pi", 1125899906842624.0}}};

std::vector<UnitEntry> byte_units(bool rate) {
    std::vector<UnitEntry> units;
    const std::string per = rate ? "/s" : "";
    auto add = [&](std::string_view prefix, double factor, std::string_view base, double base_factor) {
        units.push_back({std::string(prefix) + std::string(base) + per, factor * base_factor});
    };
    for (const auto& p : kDecimal) {
        if (p.symbol == "E") continue;
        add(p.symbol, p.factor, "B", 1.0);
        add(p.symbol, p.factor, "b", 0.125);
        if (p.symbol == "K") {
            add("k", p.factor, "B", 1.0);
            add("k", p.factor, "b", 0.125);
        }
        if (!p.symbol.empty()) add(p.symbol, p.factor, "bit", 0.125);
    }
    for (const auto& p : kBinary) {
        add(p.symbol, p.factor, "B", 1.0);
        add(p.symbol, p.factor, "b", 0.125);
    }
    if (rate) {
        // "Gbps"-style spellings of bit rates.
        for (const auto& p : kDecimal) {
            if (p.symbol.empty() || p.symbol == "E") continue;
            units.push_back({std::string(p.symbol) + "bps", p.factor * 0.125});
        }
    }
    return units;
}

const std::vector<UnitEntry>& bytes_table() {
    static const std::vector<UnitEntry> table = byte_units(false);
    return table;
}
const std::vector<UnitEntry>& bandwidth_table() {
    static const std::vector<UnitEntry> table = byte_units(true);
    return table;
}

const std::vector<UnitEntry>& duration_table() {
    static const std::vector<UnitEntry> table{
        {"ps", 1e-12}, {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6} /* U+00B5 micro sign */,
        {"\xCE\xBCs", 1e-6} /* U+03BC Greek mu */, {"ms", 1e-3}, {"s", 1.0}, {"sec", 1.0}, {"second", 1.0},
        {"seconds", 1.0}, {"min", 60.0}, {"minute", 60.0}, {"minutes", 60.0}, {"h", 3600.0}, {"hour", 3600.0},
        {"hours", 3600.0}, {"d", kSecondsPerDay}, {"day", kSecondsPerDay}, {"days", kSecondsPerDay},
        {"week", 7 * kSecondsPerDay}, {"weeks", 7 * kSecondsPerDay}, {"month", kDaysPerMonth * kSecondsPerDay},
        {"months", kDaysPerMonth * kSecondsPerDay}, {"year", kDaysPerYear * kSecondsPerDay},
        {"years", kDaysPerYear * kSecondsPerDay}};
    return table;
}

std::vector<UnitEntry> flop_units(bool rate) {
    std::vector<UnitEntry> units;
    const std::vector<std::string_view> bases =
        rate ? std::vector<std::string_view>{"FLOPS", "FLOP/s", "FLOPs/s", "flop/s", "OPS", "OP/s"}
             : std::vector<std::string_view>{"FLOP", "FLOPs", "flop", "flops", "OP", "OPs"};
    for (const auto& p : kDecimal) {
        for (const auto& b : bases) {
            // fmt rather than operator+ on std::string: GCC 12 at -O3 reports a false -Wrestrict inside the latter.
            units.push_back({fmt::format("{}{}", p.symbol, b), p.factor});
            if (p.symbol == "K") units.push_back({fmt::format("k{}", b), p.factor});
        }
    }
    return units;
}

const std::vector<UnitEntry>& flops_table() {
    static const std::vector<UnitEntry> table = flop_units(false);
    return table;
}
const std::vector<UnitEntry>& flops_rate_table() {
    static const std::vector<UnitEntry> table = flop_units(true);
    return table;
}

const std::vector<UnitEntry>& power_table() {
    static const std::vector<UnitEntry> table{{"W", 1.0}, {"kW", 1e3}, {"MW", 1e6}, {"GW", 1e9}};
    return table;
}
const std::vector<UnitEntry>& energy_table() {
    static const std::vector<UnitEntry> table{{"J", 1.0},
                                              {"kJ", 1e3},
                                              {"MJ", 1e6},
                                              {"GJ", 1e9},
                                              {"Wh", 3600.0},
                                              {"kWh", kJoulesPerKwh},
                                              {"MWh", 1e3 * kJoulesPerKwh},
                                              {"GWh", 1e6 * kJoulesPerKwh}};
    return table;
}
const std::vector<UnitEntry>& count_table() {
    static const std::vector<UnitEntry> table{{"", 1.0}, {"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"B", 1e9}, {"T", 1e12}};
    return table;
}

// A number followed by an optional multiplier suffix from `table` (which includes "").
double parse_scaled(std::string_view text, const std::vector<UnitEntry>& table, std::string_view what,
                    std::size_t start) {
    const auto [value, end] = read_number(text, start, what);
    std::size_t i = end;
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t stop = text.size();
    while (stop > i && is_space(text[stop - 1])) --stop;
    const std::string_view suffix = text.substr(i, stop - i);
    for (const auto& u : table) {
        if (u.symbol == suffix) return value * u.factor;
    }
    throw UnitError(fmt::format("unknown suffix \"{}\" for {}; expected a plain number or one of K, M, B, T", suffix,
                                what),
                    i);
}

std::size_t expect_dollar(std::string_view text, std::string_view what) {
    std::size_t i = 0;
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size() || text[i] != '$') {
        throw UnitError(fmt::format("{} must start with \"$\", e.g. \"$2\" or \"$5.576M\"; found \"{}\"", what, text),
                        i);
    }
    return i + 1;
}

// Prints `value` with `digits` significant digits, without a trailing ".0".
std::string sig(double value, int digits = 4) {
    std::string s = fmt::format("{:.{}g}", value, digits);
    if (s.find('e') != std::string::npos) s = fmt::format("{:.{}e}", value, digits - 1);
    return s;
}

std::string scaled(double value, std::string_view unit, const std::array<Prefix, 7>& prefixes) {
    const double magnitude = std::fabs(value);
    const Prefix* chosen = &prefixes[0];
    for (const auto& p : prefixes) {
        if (magnitude >= p.factor) chosen = &p;
    }
    return fmt::format("{} {}{}", sig(value / chosen->factor), chosen->symbol, unit);
}

}  // namespace

Seconds parse_duration(std::string_view text) { return Seconds(parse_with_units(text, duration_table(), "a duration")); }
Bytes parse_bytes(std::string_view text) { return Bytes(parse_with_units(text, bytes_table(), "a size")); }
Bytes parse_memory_size(std::string_view text) {
    static const std::vector<UnitEntry> bytes_only = [] {
        std::vector<UnitEntry> t;
        for (const UnitEntry& u : bytes_table()) {
            if (!u.symbol.ends_with('b') && !u.symbol.ends_with("bit")) t.push_back(u);
        }
        return t;
    }();
    try {
        return Bytes(parse_with_units(text, bytes_only, "a memory size"));
    } catch (const UnitError&) {
        (void)parse_bytes(text);  // not a size at all: that error
        // A size in bits ("3 Gb"): a slip for bytes, never meant of memory.
        const std::string_view unit = text.ends_with("bit") ? text.substr(0, text.size() - 3) : text.substr(0, text.size() - 1);
        throw UnitError(fmt::format("a memory size is in bytes; \"{}\" is in bits (an eighth of that in bytes): write \"{}B\"",
                                    text, unit),
                        unit.size());
    }
}
BytesPerSecond parse_bandwidth(std::string_view text) {
    return BytesPerSecond(parse_with_units(text, bandwidth_table(), "a bandwidth"));
}
Flops parse_flops(std::string_view text) { return Flops(parse_with_units(text, flops_table(), "an amount of FLOPs")); }
FlopsPerSecond parse_flops_rate(std::string_view text) {
    return FlopsPerSecond(parse_with_units(text, flops_rate_table(), "a compute rate"));
}
Watts parse_power(std::string_view text) { return Watts(parse_with_units(text, power_table(), "a power")); }
Joules parse_energy(std::string_view text) { return Joules(parse_with_units(text, energy_table(), "an energy")); }
double parse_count(std::string_view text) { return parse_scaled(text, count_table(), "a count", 0); }

Dollars parse_dollars(std::string_view text) {
    const std::size_t start = expect_dollar(text, "an amount of money");
    return Dollars(parse_scaled(text, count_table(), "an amount of money", start));
}

EnergyPrice parse_energy_price(std::string_view text) {
    const std::size_t start = expect_dollar(text, "an energy price");
    const std::size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) {
        throw UnitError(fmt::format("an energy price needs a unit, e.g. \"$0.08/kWh\"; found \"{}\"", text),
                        text.size());
    }
    const auto [value, end] = read_number(text.substr(0, slash), start, "an energy price");
    for (std::size_t i = end; i < slash; ++i) {
        if (!is_space(text[i])) throw UnitError(fmt::format("unexpected \"{}\" in \"{}\"", text[i], text), i);
    }
    const std::string unit_text = "1 " + std::string(text.substr(slash + 1));
    double joules = 0.0;
    try {
        joules = parse_with_units(unit_text, energy_table(), "an energy price");
    } catch (const UnitError& e) {
        throw UnitError(e.what(), slash + 1);
    }
    return EnergyPrice(value / joules);
}

std::string format_duration(Seconds t) {
    const double s = t.value();
    const double a = std::fabs(s);
    if (a == 0.0) return "0 s";
    if (a < 1e-6) return sig(s * 1e9) + " ns";
    if (a < 1e-3) return sig(s * 1e6) + " us";
    if (a < 1.0) return sig(s * 1e3) + " ms";
    if (a < 3600.0) return sig(s) + " s";
    if (a < 2 * kSecondsPerDay) return sig(s / 3600.0) + " h";
    return sig(s / kSecondsPerDay) + " days";
}
std::string format_bytes(Bytes b) { return scaled(b.value(), "B", kDecimal); }
std::string format_bandwidth(BytesPerSecond r) { return scaled(r.value(), "B/s", kDecimal); }
std::string format_flops_rate(FlopsPerSecond r) { return scaled(r.value(), "FLOP/s", kDecimal); }
std::string format_flops(Flops f) { return scaled(f.value(), "FLOP", kDecimal); }
std::string format_power(Watts w) {
    const double a = std::fabs(w.value());
    if (a >= 1e6) return sig(w.value() / 1e6) + " MW";
    if (a >= 1e3) return sig(w.value() / 1e3) + " kW";  // SI writes kilo with a lower-case k
    return sig(w.value()) + " W";
}
std::string format_energy(Joules e) {
    const double kwh = e.value() / kJoulesPerKwh;
    if (std::fabs(kwh) >= 1e6) return sig(kwh / 1e6) + " GWh";
    if (std::fabs(kwh) >= 1e3) return sig(kwh / 1e3) + " MWh";
    return sig(kwh) + " kWh";
}
std::string format_dollars(Dollars d) {
    // The sign goes before the dollar sign ("-$2.5T", as accountants write it), not between it and the figure.
    const double v = d.value();
    const double a = std::fabs(v);
    const std::string sign = v < 0 && fmt::format("{:.2f}", a) != "0.00" ? "-" : "";
    if (a >= 1e15) return fmt::format("{}${:.4g}", sign, a);  // not "$1.888e+06B"
    if (a >= 1e12) return fmt::format("{}${}T", sign, sig(a / 1e12));
    if (a >= 1e9) return fmt::format("{}${}B", sign, sig(a / 1e9));  // fmt: see flop_units
    if (a >= 1e6) return fmt::format("{}${}M", sign, sig(a / 1e6));
    if (a >= 1e4) return fmt::format("{}${}K", sign, sig(a / 1e3));
    if (a >= 1e3) return fmt::format("{}${}", sign, with_commas(a, 0));  // "$3,190", not "$3189.84" beside "$60.13K"
    return fmt::format("{}${:.2f}", sign, a);
}
std::string format_count(double n) {
    const double a = std::fabs(n);
    if (a >= 1e12) return sig(n / 1e12) + "T";
    if (a >= 1e9) return sig(n / 1e9) + "B";
    if (a >= 1e6) return sig(n / 1e6) + "M";
    if (a >= 1e4) return sig(n / 1e3) + "K";
    return sig(n, 6);
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

// ---- simulated time ------------------------------------------------------------------------------------

namespace {

// What a time past SimTime's range means for the user: some input makes simulated work implausibly long. The
// scenario layer rejects the usual culprits at load with their location (limits.hpp); this is the backstop.
constexpr std::string_view kImplausibleHint =
    "an input makes simulated work implausibly long or ill-defined: check the chip's peaks, efficiencies, "
    "bandwidths and latencies, and the model and batch sizes, for a wrong unit or exponent";

}  // namespace

SimTime SimTime::from_seconds(Seconds s) {
    const double v = s.value();
    if (!std::isfinite(v)) {
        throw SimTimeRangeError(fmt::format("a simulated task lasts {} s, which is not a duration", v), std::string(kImplausibleHint));
    }
    if (v < -0.5e-12) {
        throw SimTimeRangeError(fmt::format("a simulated task lasts {:g} s, a negative time", v), std::string(kImplausibleHint));
    }
    // 2^63 ps is exactly representable; anything at or past it does not fit (llround would be undefined).
    if (v * 1e12 >= 9.223372036854775808e18) {
        throw SimTimeRangeError(fmt::format("a simulated task lasts {:g} s, beyond the supported range of simulated time "
                                "(limit {:g} s, about 106 days)",
                                v, kMaxSeconds),
                    std::string(kImplausibleHint));
    }
    return SimTime(static_cast<std::int64_t>(std::llround(v * 1e12)));
}

void SimTime::overflow() {
    throw SimTimeRangeError(fmt::format("simulated time beyond the supported range (limit {:g} s, about 106 days): a step's tasks "
                            "add up to longer than that",
                            kMaxSeconds),
                std::string(kImplausibleHint));
}

}  // namespace gpuhours
