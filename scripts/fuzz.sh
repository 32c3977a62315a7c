#!/usr/bin/env bash
# The scenario mutation fuzzer (tests/fuzz/scenario_fuzz.cpp) on N mutants of every shipped scenario
# (scenarios/*.toml, scenarios/validation/*.toml), as docs/reliability.md records its figures.
# Usage: scripts/fuzz.sh [N] [SEED] [fuzzer options…]   (N default 20,000; SEED default 1)
#   BUILD=DIR  the build to test (default build/; a GPUHOURS_SANITIZE=ON build adds sanitizer reports — pass
#              --memory-mb 0 there, as ASan reserves more address space than any limit would allow)
#   JOBS=J     mutants in flight (default: every core)
#   FROM=I     the first mutant's index (default 0): a shard of a longer run of the same seed; mutant i depends on
#              (SEED, i) alone, so FROM=0 N=5000 and FROM=5000 N=5000 together are the first 10,000
# Failing mutants and disagreements are kept in $BUILD/fuzz-failures/ with the commands that reproduce them.
# Exit 1 on any crash, sanitizer report, timeout (30 s), run over 2 GB, exit other than 0 and 2, or exit 2
# without a location.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
n=${1:-20000}
seed=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
fuzz=$build/tests/gpuhours_scenario_fuzz
[ -x "$fuzz" ] || { echo "fuzz.sh: $fuzz is missing: build the tests first (scripts/setup.sh)" >&2; exit 2; }
exec "$fuzz" --cli "$build/gpuhours" --root . --mutants "$n" --from "${FROM:-0}" --seed "$seed" --jobs "${JOBS:-$(nproc)}" \
  --timeout 30 --memory-mb 2048 --save "$build/fuzz-failures" "$@"
