#include <gpuhours/units/error.hpp>
#include <gpuhours/units/precision.hpp>
#include <gpuhours/units/units.hpp>

#include <catch2/catch.hpp>

#include <type_traits>

using namespace gpuhours;

TEST_CASE("decimal and binary byte prefixes are exact") {
    // 80 GiB = 80 × 2^30 = 85,899,345,920 bytes; 80 GB = 80 × 10^9.
    CHECK(parse_bytes("80 GiB").value() == 85'899'345'920.0);
    CHECK(parse_bytes("80 GB").value() == 80e9);
    CHECK(parse_bytes("1MiB").value() == 1'048'576.0);
    CHECK(parse_bytes("8 GiB").value() == 8.0 * 1024 * 1024 * 1024);
    CHECK(parse_bytes("512 B").value() == 512.0);
    CHECK(parse_bytes("2 kB").value() == 2000.0);
}

TEST_CASE("a lower-case b is a bit and an upper-case B a byte") {
    // 50 Gb/s = 50e9 bits/s = 6.25e9 bytes/s; 400 Gb/s = 50 GB/s (one ConnectX-7 NIC).
    CHECK(parse_bandwidth("50 Gb/s").value() == 6.25e9);
    CHECK(parse_bandwidth("400 Gb/s").value() == 50e9);
    CHECK(parse_bandwidth("400 Gbps").value() == 50e9);
    CHECK(parse_bandwidth("400 GB/s").value() == 400e9);
    CHECK(parse_bandwidth("3.35 TB/s").value() == Approx(3.35e12).epsilon(1e-15));
    CHECK(parse_bytes("8 Gb").value() == 1e9);
}

TEST_CASE("a memory size is in bytes: bits are refused as a slip, naming the byte unit") {
    // 3 GiB = 3 × 2^30 = 3,221,225,472 B; "3 Gb" would be 375 MB, a reserve nobody means.
    CHECK(parse_memory_size("3 GiB").value() == 3'221'225'472.0);
    CHECK(parse_memory_size("80 GB").value() == 80e9);
    for (const char* bits : {"3 Gb", "3 Gbit", "24 Mib"}) {
        INFO(bits);
        CHECK_THROWS_AS(parse_memory_size(bits), UnitError);
    }
    try {
        (void)parse_memory_size("3 Gb");
    } catch (const UnitError& e) {
        CHECK(std::string(e.what()) == "a memory size is in bytes; \"3 Gb\" is in bits (an eighth of that in bytes): write \"3 GB\"");
    }
    // Not a size at all: the size parser's own message.
    CHECK_THROWS_WITH(parse_memory_size("3 Gx"), Catch::Contains("unknown unit \"Gx\""));
}

TEST_CASE("compute rates and FLOP counts read datasheet spellings") {
    CHECK(parse_flops_rate("989 TFLOPS").value() == 989e12);
    CHECK(parse_flops_rate("989.4 TFLOP/s").value() == Approx(989.4e12).epsilon(1e-15));
    CHECK(parse_flops_rate("1978.9 TOPS").value() == Approx(1978.9e12).epsilon(1e-15));
    CHECK(parse_flops("250 GFLOP").value() == 250e9);
    CHECK(parse_flops("3.8e25 FLOPs").value() == Approx(3.8e25).epsilon(1e-15));
}

TEST_CASE("durations accept both micro signs, days, and months of 30.4375 days") {
    CHECK(parse_duration("2.5 us").value() == Approx(2.5e-6).epsilon(1e-15));
    CHECK(parse_duration("2.5 \xC2\xB5s").value() == Approx(2.5e-6).epsilon(1e-15));  // U+00B5
    CHECK(parse_duration("2.5 \xCE\xBCs").value() == Approx(2.5e-6).epsilon(1e-15));  // U+03BC
    CHECK(parse_duration("60 days").value() == 60.0 * 86400.0);
    // One month is 365.25 / 12 = 30.4375 days, so "2 months" = 60.875 days = 5,259,600 s.
    CHECK(parse_duration("2 months").value() == Approx(5'259'600.0).epsilon(1e-12));
    CHECK(parse_duration("15 min").value() == 900.0);
    CHECK(parse_duration("3 h").value() == 10800.0);
}

TEST_CASE("money, power and energy prices") {
    CHECK(parse_dollars("$2").value() == 2.0);
    CHECK(parse_dollars("$5.576M").value() == Approx(5.576e6).epsilon(1e-15));
    CHECK(parse_dollars("$1.5K").value() == 1500.0);
    CHECK(parse_power("700 W").value() == 700.0);
    CHECK(parse_power("1.2 kW").value() == 1200.0);
    // $0.08/kWh = 0.08 / 3.6e6 $/J.
    const EnergyPrice price = parse_energy_price("$0.08/kWh");
    CHECK(price.value() == Approx(0.08 / 3.6e6).epsilon(1e-12));
    CHECK(per_kwh(price) == Approx(0.08).epsilon(1e-12));
    CHECK(per_kwh(parse_energy_price("$80/MWh")) == Approx(0.08).epsilon(1e-12));
    CHECK(parse_energy("5 MWh").value() == Approx(5 * 3.6e9).epsilon(1e-12));
}

TEST_CASE("token counts take K, M, B and T suffixes") {
    CHECK(parse_count("14.8T") == Approx(14.8e12).epsilon(1e-15));
    CHECK(parse_count("4096") == 4096.0);
    CHECK(parse_count("671B") == Approx(671e9).epsilon(1e-15));
    CHECK(parse_count("469B") == Approx(469e9).epsilon(1e-15));
}

TEST_CASE("a missing or unknown unit is an error that lists the accepted units") {
    CHECK_THROWS_AS(parse_bandwidth("400"), UnitError);
    CHECK_THROWS_WITH(parse_bandwidth("400"), Catch::Contains("has no unit") && Catch::Contains("GB/s"));
    CHECK_THROWS_WITH(parse_bandwidth("400 GB"), Catch::Contains("unknown unit \"GB\""));
    CHECK_THROWS_WITH(parse_duration("3 fortnights"), Catch::Contains("unknown unit"));
    CHECK_THROWS_AS(parse_bytes("GB"), UnitError);
    CHECK_THROWS_AS(parse_dollars("2"), UnitError);
    CHECK_THROWS_AS(parse_count("14.8X"), UnitError);
    CHECK_THROWS_WITH(parse_dollars("$1,000"), Catch::Contains("thousands separators"));
    CHECK_THROWS_AS(parse_energy_price("$0.08"), UnitError);
}

TEST_CASE("unit errors report where in the string the problem starts") {
    try {
        (void)parse_bandwidth("400 GX/s");
        FAIL("expected a UnitError");
    } catch (const UnitError& e) {
        CHECK(e.offset() == 4);  // "400 " is four characters; the unit starts at offset 4
    }
}

TEST_CASE("cross-dimension arithmetic gives the right dimension") {
    // 1 GB over 100 GB/s takes 10 ms.
    const Seconds t = gigabytes(1) / gigabytes_per_second(100);
    CHECK(t.value() == Approx(0.01).epsilon(1e-15));
    // 989.4 TFLOP/s for 2 s is 1.9788e15 FLOP.
    const Flops f = teraflops(989.4) * seconds(2);
    CHECK(f.value() == Approx(1.9788e15).epsilon(1e-15));
    // 700 W for one hour is 2.52 MJ = 0.7 kWh; at $0.10/kWh that costs $0.07.
    const Joules e = Watts(700) * hours(1);
    CHECK(e.value() == 2.52e6);
    CHECK((e * parse_energy_price("$0.10/kWh")).value() == Approx(0.07).epsilon(1e-12));
    static_assert(!std::is_convertible_v<Seconds, Bytes>, "dimensions must not mix");
    static_assert(std::is_same_v<decltype(Bytes(1) / Bytes(2)), double>, "ratio of like quantities is a number");
}

TEST_CASE("simulated time is exact integer picoseconds") {
    const SimTime a = SimTime::from_seconds(microseconds(2.5));
    CHECK(a.picoseconds() == 2'500'000);
    // 0.1 s + 0.2 s in picoseconds is exactly 0.3 s, unlike the doubles 0.1 + 0.2.
    const SimTime sum = SimTime::from_seconds(seconds(0.1)) + SimTime::from_seconds(seconds(0.2));
    CHECK(sum == SimTime::from_seconds(seconds(0.3)));
    CHECK(sum.picoseconds() == 300'000'000'000);
    CHECK((a * 4).picoseconds() == 10'000'000);
}

TEST_CASE("simulated time refuses a duration it cannot hold instead of wrapping") {
    // int64 picoseconds end at 2^63 − 1 ps = 9,223,372.04 s ≈ 106.75 days. 100 days = 8.64e6 s fits; 107 days =
    // 9.2448e6 s does not. Unchecked, llround(9.2448e18) was undefined (in practice INT64_MIN: a negative time),
    // and a step of 1e-300 efficiency printed faster than the default one.
    CHECK(SimTime::from_seconds(days(100)).picoseconds() == 8'640'000'000'000'000'000);
    CHECK_THROWS_AS(SimTime::from_seconds(days(107)), Error);
    CHECK_THROWS_WITH(SimTime::from_seconds(seconds(1e300)), Catch::Contains("beyond the supported range"));
    CHECK_THROWS_AS(SimTime::from_seconds(seconds(std::nan(""))), Error);
    CHECK_THROWS_AS(SimTime::from_seconds(seconds(INFINITY)), Error);
    CHECK_THROWS_WITH(SimTime::from_seconds(seconds(-1e-9)), Catch::Contains("negative"));
    // −0.4 ps rounds to 0: rounding noise of a difference of equal doubles is not an error.
    CHECK(SimTime::from_seconds(seconds(-0.4e-12)).picoseconds() == 0);
    // Sums and multiples past the range throw too: 60 days + 60 days = 120 days > 106.75 days.
    const SimTime sixty = SimTime::from_seconds(days(60));
    CHECK_THROWS_AS(sixty + sixty, Error);
    CHECK_THROWS_AS(sixty * 2, Error);
    SimTime t = sixty;
    CHECK_THROWS_AS(t += sixty, Error);
    CHECK(t == sixty);  // a sum that throws leaves the time as it was
}

TEST_CASE("formatting carries the unit") {
    CHECK(format_bandwidth(parse_bandwidth("400 Gb/s")) == "50 GB/s");
    CHECK(format_bytes(parse_bytes("80 GB")) == "80 GB");
    CHECK(format_dollars(parse_dollars("$5.576M")) == "$5.576M");
    // Below $10K: whole dollars with commas from $1,000 (four figures, like "$60.13K" above), cents below.
    CHECK(format_dollars(Dollars(3189.84)) == "$3,190");
    CHECK(format_dollars(Dollars(-3189.84)) == "-$3,190");
    CHECK(format_dollars(Dollars(528.456)) == "$528.46");
    // Trillions get their own suffix; beyond a thousand trillion, plain exponent notation (it printed "$1.888e+06B").
    CHECK(format_dollars(Dollars(2.5e12)) == "$2.5T");
    CHECK(format_dollars(Dollars(1.888e15)) == "$1.888e+15");
    // Negative figures (a what-if's difference) put the sign before the dollar sign at every tier; it printed
    // "$-2.5T" and "$-528.46". A figure that rounds to zero cents has no sign.
    CHECK(format_dollars(Dollars(-2.5e12)) == "-$2.5T");
    CHECK(format_dollars(Dollars(-60130.0)) == "-$60.13K");
    CHECK(format_dollars(Dollars(-528.456)) == "-$528.46");
    CHECK(format_dollars(Dollars(-0.001)) == "$0.00");
    CHECK(format_count(671e9) == "671B");
    CHECK(format_duration(seconds(19.926)) == "19.93 s");
    CHECK(format_duration(days(54.2)) == "54.2 days");
    CHECK(format_power(Watts(1000)) == "1 kW");  // lower-case k for kilo
    CHECK(format_power(Watts(700)) == "700 W");
}

TEST_CASE("an error on one line: message and hint joined by a semicolon, line breaks and their indentation folded") {
    // "a\n  b" with hint "c" reads "a; b; c"; without a hint, just the message; the position is left out.
    CHECK(gpuhours::Error(gpuhours::SourceRef{"f.toml", 3, 4}, "a\n  b", "c").one_line() == "a; b; c");
    CHECK(gpuhours::Error("only").one_line() == "only");
}

TEST_CASE("no test's name holds a semicolon or starts with a bracket, which ctest would split or read as tags") {
    // catch_discover_tests (CMake) keeps the names in a CMake list, which splits at ';': a name holding one became
    // two ctest entries that matched no test and "passed" with "No tests ran", so 8 tests never ran in CI (found by
    // the session 10 fresh-user check). A name starting with '[' is read as a tag expression.
    for (const Catch::TestCase& t : Catch::getRegistryHub().getTestCaseRegistry().getAllTests()) {
        INFO(t.name);
        CHECK(t.name.find(';') == std::string::npos);
        CHECK(t.name.rfind('[', 0) == std::string::npos);
    }
}

TEST_CASE("the did-you-mean distance counts a swap of two adjacent letters as one edit") {
    // Optimal string alignment by hand: `form` → `from` swaps "or" (1); `kitten` → `sitting` is k→s, e→i, +g (3,
    // no swap helps); `ca` → `abc` is 3 under this distance (the swap "ca"→"ac" may not be edited again; unrestricted
    // Damerau–Levenshtein would give 2); the empty word is as far as the other's length.
    CHECK(gpuhours::edit_distance("form", "from") == 1);
    CHECK(gpuhours::edit_distance("kitten", "sitting") == 3);
    CHECK(gpuhours::edit_distance("ca", "abc") == 3);
    CHECK(gpuhours::edit_distance("", "abc") == 3);
    CHECK(gpuhours::edit_distance("pipline", "pipeline") == 1);
}

TEST_CASE("FP8 recipes read and print by Megatron-Core's names") {
    for (Fp8Recipe r : kAllFp8Recipes) CHECK(fp8_recipe_from_string(to_string(r)) == r);
    CHECK(fp8_recipe_from_string("blockwise") == Fp8Recipe::blockwise);
    CHECK_FALSE(fp8_recipe_from_string("block").has_value());
}
