#!/usr/bin/env bash
# The MPI sweep gives the same result file as one process: builds gpuhours with -DGPUHOURS_MPI=ON in build-mpi
# (target gpuhours only, -j2), runs one small sweep (six points of a fast validation scenario, one point invalid)
# as a single process and under `mpirun -np 2`, and checks the two CSV files and the two JSON files are
# byte-identical; then resumes a sweep under mpirun from a journal of some points and checks only the rest ran and
# the file is again identical. Exit status 0 when all holds.
#
#   scripts/mpi-test.sh                   configure and build build-mpi, then test
#   scripts/mpi-test.sh --binary PATH     test an MPI build of gpuhours already built (ctest does this)
#
# Environment: MPIEXEC (default: mpirun). Runs as root too (--allow-run-as-root), and on fewer cores than ranks
# (--oversubscribe).
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
if [[ $# -ge 1 ]]; then
  if [[ $1 == --binary && $# -eq 2 ]]; then
    binary=$2
  else
    echo "usage: $0 [--binary PATH]" >&2
    exit 2
  fi
fi
if [[ -z $binary ]]; then
  cmake -S . -B build-mpi -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPUHOURS_MPI=ON -DGPUHOURS_TESTS=OFF \
    -DGPUHOURS_BENCH=OFF > /dev/null
  cmake --build build-mpi -j2 --target gpuhours
  binary=build-mpi/gpuhours
fi
mpiexec=${MPIEXEC:-mpirun}
# Open MPI: no ssh agent is needed on one machine; keep it from looking for one.
export OMPI_MCA_plm_rsh_agent=${OMPI_MCA_plm_rsh_agent:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/gpuhours-mpi-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Megatron-LM GPT 1.7B (data-parallel only: data = GPUs): 2 micro-batch sizes × 3 GPU counts. At 48 GPUs the
# global batch of 512 does not divide into 48 × micro-batch, so two of the six rows are error rows — they must be
# the same in both runs too.
scenario=scenarios/validation/megatron-1.7b.toml
sweep=(sweep "$scenario" --vary parallelism.micro_batch=2,4 --vary cluster.gpus=32,48,64 --samples 16 --seed 3)

# Two points are invalid, so each sweep exits 2 (docs/sweep.md) after writing every row.
expect_2() { local status=0; "$@" || status=$?; [[ $status -eq 2 ]] || { echo "FAIL: expected exit 2 from: $*" >&2; exit 1; }; }
for format in csv json; do
  expect_2 "$binary" "${sweep[@]}" -o "$work/one.$format" > "$work/one.$format.log"
  expect_2 "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$binary" "${sweep[@]}" -o "$work/two.$format" \
    > "$work/two.$format.log"
  if ! cmp -s "$work/one.$format" "$work/two.$format"; then
    echo "FAIL: the $format file of mpirun -np 2 differs from the single-process one:" >&2
    diff "$work/one.$format" "$work/two.$format" >&2 || true
    exit 1
  fi
  if ! grep -q "6 evaluated by 2 MPI ranks" "$work/two.$format.log"; then
    echo "FAIL: mpirun -np 2 did not split the points over two ranks: $(cat "$work/two.$format.log")" >&2
    exit 1
  fi
  if [[ -e "$work/two.$format.partial" ]]; then
    echo "FAIL: the journal $work/two.$format.partial was left behind" >&2
    exit 1
  fi
  echo "$format: $(cat "$work/two.$format.log")"
done
# Resume under MPI: a journal of the points a single-process run finished before it was killed (SIGKILL, so
# nothing is cleaned up; an unwritable output is refused before any point runs, so it cannot leave a journal),
# then the whole grid with --resume. The points done before the kill vary with timing; the check counts them.
"$binary" "${sweep[@]}" --threads 1 -o "$work/resumed.csv" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [[ -s "$work/resumed.csv.partial" ]] && break
  sleep 0.05
done
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [[ -e "$work/resumed.csv" ]]; then
  echo "SKIP resume: the sweep finished before it could be interrupted" >&2
else
  journaled=$(grep -c '}$' "$work/resumed.csv.partial" || true)
  status=0
  "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$binary" "${sweep[@]}" --resume -o "$work/resumed.csv" \
    > "$work/resumed.log" || status=$?
  [[ $status -eq 2 ]] || { echo "FAIL: the resumed sweep (one invalid point) should exit 2, got $status" >&2; exit 1; }
  if [[ $journaled -gt 0 ]]; then
    grep -q "$((6 - journaled)) evaluated by 2 MPI ranks, $journaled resumed from the journal" "$work/resumed.log" ||
      { echo "FAIL: the resumed run did not skip the journal's $journaled points: $(cat "$work/resumed.log")" >&2; exit 1; }
  fi
  cmp -s "$work/one.csv" "$work/resumed.csv" ||
    { echo "FAIL: the resumed MPI run differs from the uninterrupted one" >&2; diff "$work/one.csv" "$work/resumed.csv" >&2; exit 1; }
  echo "resume: $(cat "$work/resumed.log")"
fi

rows=$(($(wc -l < "$work/one.csv") - 1))
if [[ $rows -ne 6 ]]; then
  echo "FAIL: expected 6 rows (2 micro-batch sizes × 3 GPU counts), got $rows" >&2
  exit 1
fi
echo "PASS: mpirun -np 2 and one process wrote byte-identical CSV and JSON ($rows rows), also after a resume"
