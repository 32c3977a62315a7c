// Strong unit types and the parsing of unit-suffixed strings ("400 GB/s", "2 months").
//
// Contract: every physical quantity inside gpuhours travels as one of these types, stored in SI base units
// (seconds, bytes, FLOPs, watts, joules, dollars). Only dimensionally meaningful arithmetic compiles.
// Simulated time on the event engine is `SimTime`: integer picoseconds, so sums of durations are exact and
// event order is reproducible.
#pragma once

#include <gpuhours/units/error.hpp>

#include <cmath>
#include <compare>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gpuhours {

namespace detail {

// A double tagged with its dimension. Tag::symbol names the SI unit the value is stored in.
template <class Tag>
class Quantity {
public:
    constexpr Quantity() = default;
    constexpr explicit Quantity(double value) : value_(value) {}

    // The value in the base unit named by Tag::symbol.
    [[nodiscard]] constexpr double value() const { return value_; }

    constexpr Quantity operator+(Quantity o) const { return Quantity(value_ + o.value_); }
    constexpr Quantity operator-(Quantity o) const { return Quantity(value_ - o.value_); }
    constexpr Quantity operator-() const { return Quantity(-value_); }
    constexpr Quantity& operator+=(Quantity o) { value_ += o.value_; return *this; }
    constexpr Quantity& operator-=(Quantity o) { value_ -= o.value_; return *this; }
    constexpr Quantity operator*(double k) const { return Quantity(value_ * k); }
    constexpr Quantity operator/(double k) const { return Quantity(value_ / k); }
    constexpr Quantity& operator*=(double k) { value_ *= k; return *this; }
    constexpr Quantity& operator/=(double k) { value_ /= k; return *this; }
    // Ratio of two like quantities is a plain number.
    constexpr double operator/(Quantity o) const { return value_ / o.value_; }
    constexpr auto operator<=>(const Quantity&) const = default;

    friend constexpr Quantity operator*(double k, Quantity q) { return Quantity(k * q.value_); }

private:
    double value_ = 0.0;
};

struct SecondsTag { static constexpr std::string_view symbol = "s"; };
struct BytesTag { static constexpr std::string_view symbol = "B"; };
struct FlopsTag { static constexpr std::string_view symbol = "FLOP"; };
struct BytesPerSecondTag { static constexpr std::string_view symbol = "B/s"; };
struct FlopsPerSecondTag { static constexpr std::string_view symbol = "FLOP/s"; };
struct DollarsTag { static constexpr std::string_view symbol = "$"; };
struct WattsTag { static constexpr std::string_view symbol = "W"; };
struct JoulesTag { static constexpr std::string_view symbol = "J"; };
struct DollarsPerJouleTag { static constexpr std::string_view symbol = "$/J"; };

}  // namespace detail

using Seconds = detail::Quantity<detail::SecondsTag>;
using Bytes = detail::Quantity<detail::BytesTag>;
using Flops = detail::Quantity<detail::FlopsTag>;
using BytesPerSecond = detail::Quantity<detail::BytesPerSecondTag>;
using FlopsPerSecond = detail::Quantity<detail::FlopsPerSecondTag>;
using Dollars = detail::Quantity<detail::DollarsTag>;
using Watts = detail::Quantity<detail::WattsTag>;
using Joules = detail::Quantity<detail::JoulesTag>;
// Price of energy, stored in $/J; `per_kwh()` gives the usual figure.
using EnergyPrice = detail::Quantity<detail::DollarsPerJouleTag>;

inline constexpr double kSecondsPerDay = 86'400.0;
// One "month" in scenario strings is the mean Gregorian month: 365.25 / 12 = 30.4375 days, documented as
// 30.44 days. "2 months" is therefore 60.875 days.
inline constexpr double kDaysPerMonth = 365.25 / 12.0;
inline constexpr double kDaysPerYear = 365.25;
inline constexpr double kJoulesPerKwh = 3.6e6;

// Cross-dimension arithmetic: only the products and quotients that mean something.
constexpr Seconds operator/(Bytes b, BytesPerSecond r) { return Seconds(b.value() / r.value()); }
constexpr Seconds operator/(Flops f, FlopsPerSecond r) { return Seconds(f.value() / r.value()); }
constexpr Bytes operator*(BytesPerSecond r, Seconds t) { return Bytes(r.value() * t.value()); }
constexpr Bytes operator*(Seconds t, BytesPerSecond r) { return r * t; }
constexpr Flops operator*(FlopsPerSecond r, Seconds t) { return Flops(r.value() * t.value()); }
constexpr Flops operator*(Seconds t, FlopsPerSecond r) { return r * t; }
constexpr BytesPerSecond operator/(Bytes b, Seconds t) { return BytesPerSecond(b.value() / t.value()); }
constexpr FlopsPerSecond operator/(Flops f, Seconds t) { return FlopsPerSecond(f.value() / t.value()); }
constexpr Joules operator*(Watts p, Seconds t) { return Joules(p.value() * t.value()); }
constexpr Joules operator*(Seconds t, Watts p) { return p * t; }
constexpr Dollars operator*(EnergyPrice p, Joules e) { return Dollars(p.value() * e.value()); }
constexpr Dollars operator*(Joules e, EnergyPrice p) { return p * e; }

// Named constructors, so call sites read with their unit.
constexpr Seconds seconds(double v) { return Seconds(v); }
constexpr Seconds microseconds(double v) { return Seconds(v * 1e-6); }
constexpr Seconds hours(double v) { return Seconds(v * 3600.0); }
constexpr Seconds days(double v) { return Seconds(v * kSecondsPerDay); }
constexpr Bytes bytes(double v) { return Bytes(v); }
constexpr Bytes gigabytes(double v) { return Bytes(v * 1e9); }
constexpr Bytes gibibytes(double v) { return Bytes(v * 1073741824.0); }
constexpr BytesPerSecond gigabytes_per_second(double v) { return BytesPerSecond(v * 1e9); }
constexpr FlopsPerSecond teraflops(double v) { return FlopsPerSecond(v * 1e12); }
constexpr double per_kwh(EnergyPrice p) { return p.value() * kJoulesPerKwh; }
constexpr double in_hours(Seconds t) { return t.value() / 3600.0; }
constexpr double in_days(Seconds t) { return t.value() / kSecondsPerDay; }

// Simulated time on the event engine: integer picoseconds. int64 holds ±106 days (kMaxSeconds), far more than
// one step; whole-run arithmetic (weeks of wall clock) uses `Seconds`. A time past that range comes only from an
// implausible input (a peak or efficiency near zero, a model or batch absurdly large), so every conversion and
// sum is checked: it throws Error — never wraps to a smaller or negative time that would print as a faster step.
class SimTime {
public:
    // The longest representable time, 2^63 − 1 ps ≈ 9.22e6 s ≈ 106.75 days.
    static constexpr double kMaxSeconds = 9.223372036854775807e6;

    constexpr SimTime() = default;
    static constexpr SimTime from_picoseconds(std::int64_t ps) { return SimTime(ps); }
    // Rounds to the nearest picosecond (halves away from zero), so equal inputs give equal times. Throws Error for
    // a duration that is not finite, negative (beyond rounding: under −0.5 ps) or longer than kMaxSeconds.
    static SimTime from_seconds(Seconds s);
    static constexpr SimTime zero() { return SimTime(0); }

    [[nodiscard]] constexpr std::int64_t picoseconds() const { return ps_; }
    [[nodiscard]] constexpr Seconds to_seconds() const { return Seconds(static_cast<double>(ps_) * 1e-12); }

    // Sums and multiples throw Error on overflow (see above); differences of two times in range cannot overflow.
    constexpr SimTime operator+(SimTime o) const {
        std::int64_t out = 0;
        if (__builtin_add_overflow(ps_, o.ps_, &out)) overflow();
        return SimTime(out);
    }
    constexpr SimTime operator-(SimTime o) const { return SimTime(ps_ - o.ps_); }
    constexpr SimTime& operator+=(SimTime o) { return *this = *this + o; }
    constexpr SimTime operator*(std::int64_t k) const {
        std::int64_t out = 0;
        if (__builtin_mul_overflow(ps_, k, &out)) overflow();
        return SimTime(out);
    }
    constexpr auto operator<=>(const SimTime&) const = default;

private:
    constexpr explicit SimTime(std::int64_t ps) : ps_(ps) {}
    [[noreturn]] static void overflow();  // throws SimTimeRangeError
    std::int64_t ps_ = 0;
};

// The Error SimTime throws for a time outside its range or not a duration. It has no position (SimTime cannot know
// which input made a task that long); the analysis layer, which knows the scenario, rethrows it located at the
// inputs that set a step's length (step_length_source, scenario/scenario.hpp).
class SimTimeRangeError : public Error {
public:
    using Error::Error;
};

// A unit string that could not be read. `offset` is the 0-based character offset inside the string where the
// problem starts, so the scenario loader can turn it into a column.
class UnitError : public std::runtime_error {
public:
    UnitError(std::string message, std::size_t offset) : std::runtime_error(std::move(message)), offset_(offset) {}
    [[nodiscard]] std::size_t offset() const { return offset_; }

private:
    std::size_t offset_;
};

// Parsers. Each accepts "<number>[ ]<unit>" with the units listed; decimal prefixes (k/K, M, G, T, P) are powers
// of 1000 and binary ones (Ki, Mi, Gi, Ti, Pi) powers of 1024; an upper-case B is a byte, a lower-case b a bit.
// A missing or unknown unit throws UnitError listing the accepted ones.
Seconds parse_duration(std::string_view text);       // ps ns us µs ms s min h day(s) week(s) month(s) year(s)
Bytes parse_bytes(std::string_view text);            // B KB MB GB TB PB KiB MiB GiB TiB PiB, bits: b Kb Mb Gb Tb
// The same without the bit units: a memory capacity or reserve written in bits ("3 Gb") is a slip for bytes, refused
// with UnitError naming it (a reserve of "3 Gb" was read as 375 MB).
Bytes parse_memory_size(std::string_view text);
BytesPerSecond parse_bandwidth(std::string_view text);  // any byte/bit unit followed by /s, or Gbps-style
Flops parse_flops(std::string_view text);            // FLOP, GFLOP, TFLOP, PFLOP, EFLOP (also FLOPs)
FlopsPerSecond parse_flops_rate(std::string_view text);  // FLOPS, FLOP/s with k M G T P E prefixes
Dollars parse_dollars(std::string_view text);        // "$2", "$5.576M", "$1.5K", "$3B"
Watts parse_power(std::string_view text);            // W kW MW
Joules parse_energy(std::string_view text);          // J kJ MJ GJ Wh kWh MWh GWh
EnergyPrice parse_energy_price(std::string_view text);  // "$0.08/kWh", "$80/MWh"
// A dimensionless count with an optional K/M/B/T suffix (B = billion, as in "671B parameters"):
// "14.8T" → 1.48e13, "4096" → 4096.
double parse_count(std::string_view text);

// Human-readable forms with the unit, for tables and messages: "400 GB/s", "19.9 s", "$5.58M".
std::string format_duration(Seconds t);
std::string format_bytes(Bytes b);          // decimal: "80 GB"
std::string format_bandwidth(BytesPerSecond r);
std::string format_flops_rate(FlopsPerSecond r);
std::string format_flops(Flops f);
std::string format_dollars(Dollars d);
std::string format_power(Watts w);
std::string format_energy(Joules e);
std::string format_count(double n);         // "671B", "14.8T"
// Fixed decimals, thousands separated by commas: with_commas(2664000) = "2,664,000", (1234.56, 1) = "1,234.6".
std::string with_commas(double value, int decimals = 0);

}  // namespace gpuhours
