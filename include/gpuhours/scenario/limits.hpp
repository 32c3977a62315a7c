// The simulator's supported ranges for input, in one table: each is checked where the input is read, before any
// work is sized by it, and a value past one is an error worded "… beyond the supported range … (limit N)" naming
// the file:line:column or the flag. Raising a limit is a decision about memory and time, made here.
#pragma once

#include <cstdint>

namespace gpuhours::limits {

// Tables within tables in a scenario or catalog file: [a.b.c] headers, dotted keys a.b.c = …, inline tables and
// arrays, and --set paths. The document is walked recursively, so this bounds the stack.
inline constexpr int kNestingDepth = 64;
// A scenario, `extends` or catalog file, in bytes: the largest shipped file is a few KB.
inline constexpr std::int64_t kInputFileBytes = std::int64_t{16} << 20;
// Files in one `extends` chain (each names the next).
inline constexpr int kExtendsDepth = 32;
// Monte Carlo samples of one run (--samples): about 0.1 ms to 1 ms each for the shipped scenarios.
inline constexpr int kSamples = 100'000;

}  // namespace gpuhours::limits
