#!/usr/bin/env bash
# A notebook copied to an empty directory runs with only an installed gpuhours on PATH: installs the build directory
# ($1, default build) into a temporary prefix, copies NOTEBOOK (default notebooks/export-controls.ipynb, which reads
# the shipped flagship and the chip and policy catalogs) into an empty directory, and executes it there with
# PATH = PREFIX/bin and the system's directories, no GPUHOURS_BIN, no PYTHONPATH and no checkout in reach. The
# notebook finds its Python helper and the flagship through `gpuhours --data-dir` (PREFIX/share/gpuhours).
# Usage: scripts/notebook-anywhere-test.sh [BUILD_DIR] [NOTEBOOK]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
notebook="$PWD/${2:-notebooks/export-controls.ipynb}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
mkdir "$tmp/work"
cp "$notebook" "$tmp/work/"
cd "$tmp/work"
env -u GPUHOURS_BIN -u PYTHONPATH -u NOTEBOOK_OUT PATH="$tmp/prefix/bin:/usr/bin:/bin" PYDEVD_DISABLE_FILE_VALIDATION=1 \
  /usr/bin/jupyter-nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
  --ExecutePreprocessor.kernel_name=python3 --output executed "$(basename "$notebook")"
# It used the installed binary and wrote its figures beside itself.
grep -q "gpuhours: $tmp/prefix/bin/gpuhours" executed.ipynb || { echo "the notebook did not use the installed binary" >&2; exit 1; }
ls out/*.png >/dev/null
echo "notebook-anywhere-test: OK ($(basename "$notebook") ran in an empty directory with $tmp/prefix/bin/gpuhours on PATH)"
