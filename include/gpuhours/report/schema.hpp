#pragma once
// The version of every `--json` document (docs/schemas.md): a field is only added within a version; renaming or
// removing one, or changing what it means, bumps it.
//   1  the first version.
//   2  `step.mfu`/`hfu`/`mfu_basis` and the `mfu_bf16_*` / `mfu_<format>_peak_*` names (session 10); `headline`'s
//      wall clock, GPU-hours, cost and energy are the nominal run's (every input nominal, fixed failure replays),
//      no longer the samples' median wall clock.

namespace gpuhours::report {

inline constexpr int kJsonSchemaVersion = 4;

}  // namespace gpuhours::report
