#!/usr/bin/env bash
# `cmake --install` works: installs the build directory ($1, default build) into an empty temporary prefix and, from
# `/`, runs the installed binary on the installed flagship, and `model` and `chips --rule` on the installed catalogs
# (found relative to the binary: PREFIX/share/gpuhours, which `gpuhours --data-dir` must name).
# Usage: scripts/install-test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
gpuhours="$prefix/bin/gpuhours"
cd /
data="$("$gpuhours" --data-dir)"
[ "$data" = "$prefix/share/gpuhours" ] || { echo "install-test: --data-dir is $data, not $prefix/share/gpuhours" >&2; exit 1; }
# Outputs captured whole, then searched: `… | grep -q` closes the pipe at the first match, the binary's next write
# fails (EPIPE, exit 2) and pipefail fails the test by chance.
run_out="$("$gpuhours" run "$prefix/share/gpuhours/scenarios/deepseek-v3.toml" --samples 20 --quiet)"
grep -q "DeepSeek-V3 pre-training on 2,048 H800" <<<"$run_out"
model_out="$("$gpuhours" model deepseek-v3)"
grep -q "DeepSeek-V3" <<<"$model_out"
"$gpuhours" chips --rule oct-2023 >/dev/null
[ -f "$prefix/share/gpuhours/python/gpuhours/__init__.py" ] || { echo "install-test: no Python helper under share/gpuhours/python" >&2; exit 1; }
echo "install-test: OK (installed into $prefix; the flagship, model and chips --rule ran from /)"
