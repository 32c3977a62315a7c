#!/usr/bin/env bash
# Executes every notebook in notebooks/ with Debian's jupyter-nbconvert and /usr/bin/python3's kernel; fails on the
# first cell that raises. The notebooks import the helper python/gpuhours, which calls $GPUHOURS_BIN (default
# build/gpuhours); they write their figures and tables under $NOTEBOOK_OUT (default build/notebooks). The committed
# notebooks stay without outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYDEVD_DISABLE_FILE_VALIDATION=1
export GPUHOURS_BIN="${GPUHOURS_BIN:-$PWD/build/gpuhours}"
export NOTEBOOK_OUT="${NOTEBOOK_OUT:-$PWD/build/notebooks}"
mkdir -p "$NOTEBOOK_OUT"
for nb in notebooks/*.ipynb; do
  echo "== $nb"
  /usr/bin/jupyter-nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
    --ExecutePreprocessor.kernel_name=python3 --output-dir "$NOTEBOOK_OUT" "$nb"
done
echo "notebooks-test: OK ($(ls notebooks/*.ipynb | wc -l) notebooks executed; outputs in $NOTEBOOK_OUT)"
