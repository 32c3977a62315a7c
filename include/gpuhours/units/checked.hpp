// Checked arithmetic on whole counts that come from input (parallel degrees, GPUs, batch sizes, sizes in bytes):
// the exact result, or nothing when it does not fit in 64 signed bits. A wrapped product is a wrong figure that
// passes later checks (a layout whose degrees wrap to the GPU count) or a divisor of zero; callers turn nothing
// into a located error instead.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

namespace gpuhours {

[[nodiscard]] constexpr std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
    std::int64_t out = 0;
    if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
    return out;
}

[[nodiscard]] constexpr std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) {
    std::int64_t out = 0;
    if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
    return out;
}

// The product of `factors`, or nothing when any partial product overflows.
[[nodiscard]] constexpr std::optional<std::int64_t> checked_product(std::initializer_list<std::int64_t> factors) {
    std::int64_t out = 1;
    for (const std::int64_t f : factors) {
        const auto next = checked_mul(out, f);
        if (!next) return std::nullopt;
        out = *next;
    }
    return out;
}

}  // namespace gpuhours
