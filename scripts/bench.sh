#!/usr/bin/env bash
# The simulator's own speed, as docs/performance.md records it: each figure's wall time, CPU time (user + system,
# all threads) and peak memory, beside the target of issue #13. Prints a table and writes JSON.
# Usage: scripts/bench.sh [--long] [--instructions] [--json FILE]
#   --long          also the slow cases (flagship at 16,384 and 131,072 GPUs, full mode at 2,048, megatron-39.1b at
#                   batch 24,576, what-if --deadline, plan for Qwen3-235B-A22B)
#   --instructions  also each step row's instructions in simulate_step, counted by valgrind's callgrind (apt install
#                   valgrind): a figure the machine's load does not move, where single timings here vary by 10–30 %
#                   (about 50 times slower to take than the step)
#   --json          where to write the figures (default BUILD/bench/results.json)
# Needs a build in build/, or in $GPUHOURS_BUILD_DIR (scripts/setup.sh); benchmarks are built with it unless
# GPUHOURS_BENCH=OFF. Benchmark-only scenarios live in bench/scenarios/.
set -euo pipefail
cd "$(dirname "$0")/.."

long=0
instructions=0
build=${GPUHOURS_BUILD_DIR:-build}
json=$build/bench/results.json
while [ $# -gt 0 ]; do
  case "$1" in
    --long) long=1 ;;
    --instructions) instructions=1 ;;
    --json) json="$2"; shift ;;
    *) echo "bench.sh: unknown argument $1 (use --long, --instructions or --json FILE)" >&2; exit 2 ;;
  esac
  shift
done
gpuhours=$build/gpuhours
step=$build/bench/gpuhours_bench_step
for b in "$gpuhours" "$step"; do
  [ -x "$b" ] || { echo "bench.sh: $b is missing: run scripts/setup.sh first" >&2; exit 2; }
done
command -v /usr/bin/time >/dev/null || { echo "bench.sh: needs GNU time (apt install time)" >&2; exit 2; }
if [ "$instructions" = 1 ]; then
  if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    echo "bench.sh: --instructions needs valgrind (apt install valgrind)" >&2
    exit 2
  fi
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
rows=()

# bench [--limit S] NAME TARGET COMMAND…: runs COMMAND once, records wall s, CPU s and peak RSS MB of the process,
# for gpuhours_bench_step the CPU time of the step's simulation alone (without loading the scenario and catalogs),
# and for `plan` the layouts it simulated and their rate (simulated layouts per wall second). With --limit, the
# command is stopped after S seconds and the row says "> S" (unfinished).
bench() {
  local limit=0
  if [ "$1" = --limit ]; then limit=$2; shift 2; fi
  local name=$1 target=$2
  shift 2
  local status=0 t0 t1
  t0=$EPOCHREALTIME
  if [ "$limit" -gt 0 ]; then
    /usr/bin/time -f "%e %U %S %M" -o "$scratch/time" timeout "$limit" "$@" > "$scratch/out" 2> "$scratch/err" || status=$?
  else
    /usr/bin/time -f "%e %U %S %M" -o "$scratch/time" "$@" > "$scratch/out" 2> "$scratch/err" || status=$?
  fi
  t1=$EPOCHREALTIME
  local finished=true
  if [ "$status" = 124 ] && [ "$limit" -gt 0 ]; then
    finished=false
  elif [ "$status" != 0 ]; then
    echo "bench.sh: $name failed:" >&2
    tail -5 "$scratch/err" >&2
    exit 1
  fi
  read -r wall user sys rss < <(tail -1 "$scratch/time")
  local cpu
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  local mb=$((rss / 1024))
  local step_cpu
  step_cpu=$(sed -n 's/.* \([0-9.]*\) s CPU$/\1/p' "$scratch/out" | tail -1)
  local shown_wall=$wall
  [ "$finished" = true ] || shown_wall="> $limit"
  local simulated rate extra=""
  simulated=$(sed -n 's/^candidates: .*; \([0-9]*\) simulated.*/\1/p' "$scratch/out" | tail -1)
  if [ -n "$simulated" ]; then
    # the rate from bash's microsecond clock (GNU time's wall has 10 ms steps; `date` would add its own start-up,
    # a few ms, to a command of about 50 ms)
    rate=$(awk -v n="$simulated" -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; printf "%.0f", (s > 0) ? n / s : 0 }')
    extra=", \"simulated_layouts\": $simulated, \"simulated_layouts_per_s\": $rate"
  fi
  if [ "$instructions" = 1 ] && [ "$1" = "$step" ] && [ "$finished" = true ]; then
    # The step's own instructions: simulate_step's inclusive count (loading the scenario left out, as step CPU).
    valgrind --tool=callgrind --callgrind-out-file="$scratch/callgrind" "$@" > /dev/null 2>&1
    local counted
    counted=$(callgrind_annotate --inclusive=yes "$scratch/callgrind" 2>/dev/null |
              awk '/gpuhours::simulate_step\(/ && !found { gsub(",", "", $1); print $1; found = 1 }')
    rm -f "$scratch/callgrind"
    [ -z "$counted" ] || extra="$extra, \"step_instructions\": $counted"
  fi
  printf "%-44s %8s %8.2f %9s %8d   %s\n" "$name" "$shown_wall" "$cpu" "${step_cpu:-—}" "$mb" "$target"
  [ -z "$simulated" ] || printf "%-44s %s\n" "" "→ $simulated layouts simulated, $rate per second (wall)"
  [ -z "${counted:-}" ] || printf "%-44s %s\n" "" "→ $(awk -v n="$counted" 'BEGIN { printf "%.1f", n / 1e6 }') M instructions in simulate_step (callgrind)"
  rows+=("{\"name\": \"$name\", \"wall_s\": $wall, \"finished\": $finished, \"cpu_s\": $cpu, \"step_cpu_s\": ${step_cpu:-null}, \"max_rss_mb\": $mb, \"target\": \"$target\"$extra}")
}

flagship=scenarios/deepseek-v3.toml
# The flagship's layout scaled to N GPUs: every phase's data degree and batch × N / 2,048, so each replica's
# work is the same (the step's cost should not grow with the replica count).
# Beyond 65,536 GPUs a plane needs bigger switches: a two-tier plane of radix k holds k²/2 GPUs (radix 256 at
# 131,072 GPUs: 16,384 per plane of 8).
scaled() {
  local f=$(($1 / 2048))
  echo --set cluster.gpus="$1" --set parallelism.data=$((128 * f)) --set training.global_batch=$((15360 * f)) \
       --set phases.0.batch_ramp.from=$((3072 * f)) \
       --set phases.1.parallelism.data=$((16 * f)) --set phases.1.global_batch=$((1920 * f)) \
       --set phases.2.parallelism.data=$((4 * f)) --set phases.2.global_batch=$((480 * f))
  if [ "$1" -gt 16384 ]; then
    local radix=128
    [ "$1" -gt 65536 ] && radix=256
    echo --set cluster.switch_radix=$radix
  fi
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -m); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
printf "%-44s %8s %8s %9s %8s   %s\n" "figure" "wall s" "CPU s" "step CPU" "RSS MB" "target (issue #13)"
printf -- "-%.0s" {1..110}; echo

# ---- one step ----------------------------------------------------------------------------------------------
bench "step: DeepSeek-V3, 2,048 H800, symmetric" "≤ 0.05 s CPU" "$step" "$flagship"
bench "step: GPT-3 175B, 64 A100 (Korthikanti T5)" "≤ 0.01 s CPU" "$step" bench/scenarios/gpt-3-175b-table5.toml
bench "step: megatron-145.6b, 1,536 A100" "(dense, 1,536 GPUs)" "$step" scenarios/validation/megatron-145.6b.toml
bench "step: megatron-39.1b, batch 1,536" "batch 24,576 within 20×" "$step" scenarios/validation/megatron-39.1b.toml
bench "step: megatron-39.1b, batch 6,144" "(4× the micro-batches)" "$step" scenarios/validation/megatron-39.1b.toml --set training.global_batch=6144
# shellcheck disable=SC2046
bench "step: flagship layout at 4,096 GPUs" "within 2× of 2,048" "$step" "$flagship" $(scaled 4096)
bench "step: Llama 3.1 8B, 64 H100, full mode" "full mode scales ~linearly" "$step" scenarios/validation/llama-3.1-405b-8k-16384.toml \
  --mode full --set cluster.gpus=64 --set parallelism.data=4 --set parallelism.pipeline=2 --set parallelism.virtual_stages=1 \
  --set parallelism.schedule=1f1b --set training.global_batch=64 --set model=llama-3.1-8b --set parallelism.sequence_parallel=true \
  --set parallelism.context=1
if [ "$long" = 1 ]; then
  bench "step: megatron-39.1b, batch 24,576" "within 20× of batch 1,536" "$step" scenarios/validation/megatron-39.1b.toml --set training.global_batch=24576
  # shellcheck disable=SC2046
  bench "step: flagship layout at 16,384 GPUs" "131,072 within 2× of 2,048" "$step" "$flagship" $(scaled 16384)
  # shellcheck disable=SC2046
  bench --limit 600 "step: flagship layout at 131,072 GPUs" "within 2× of 2,048" "$step" "$flagship" $(scaled 131072)
  bench --limit 600 "step: flagship, 2,048 H800, full mode" "≤ 60 s, ≤ 4 GB" "$step" "$flagship" --mode full
fi

# ---- commands on the flagship ------------------------------------------------------------------------------
bench "run (200 samples)" "≤ 1 s" "$gpuhours" run "$flagship"
bench "report" "≤ 3 s" "$gpuhours" report "$flagship" -o "$scratch/report.html"
bench "whatif on 6 chips" "≤ 5 s" "$gpuhours" whatif "$flagship" --chips h800,h100,h20,h200,a800-80gb,b200
bench "validate" "≤ 10 s" "$gpuhours" validate
bench "sweep: 7 prices" "≤ 2 s" "$gpuhours" sweep "$flagship" --vary 'pricing.gpu_hour=$1,$1.5,$2,$2.5,$3,$3.5,$4' -o "$scratch/sweep.csv"
bench "plan: megatron-1.7b, 32 A100" "(all cores)" "$gpuhours" plan scenarios/validation/megatron-1.7b.toml
# --exhaustive: every layout that passes the rules and fits in memory is simulated (#13 item 5), none pruned by bound.
bench "plan --exhaustive: megatron 22B, 8 A100" "≥ 2,000 simulated layouts/s" "$gpuhours" plan bench/scenarios/megatron-22b-8-a100.toml --exhaustive
if [ "$long" = 1 ]; then
  bench "whatif --deadline on 2 chips" "≤ 60 s" "$gpuhours" whatif "$flagship" --chips h800,h20 --deadline "2 months"
  bench --limit 900 "plan --exhaustive: Qwen3-235B-A22B, 2,048 H800" "≤ 60 s, every fit simulated" "$gpuhours" plan bench/scenarios/qwen3-235b-a22b-2048-h800.toml --exhaustive
fi

# ---- collectives ---------------------------------------------------------------------------------------------
bench "collective: ring all-reduce, 16,384 H100" "≤ 1 s" "$gpuhours" collective all-reduce --chip h100 --gpus 16384 --sizes 1GiB --algorithm ring
bench "collective: all-reduce, 4,096 H100, 3 tiers" "(ASTRA-sim analytical: 100 s)" "$gpuhours" collective all-reduce --chip h100 --gpus 4096 --tiers 3 --sizes 1GiB
bench --limit 300 "collective: hierarchical all-reduce, 131,072" "≤ 5 s" "$gpuhours" collective all-reduce --chip h100 --gpus 131072 --tiers 3 --switch-radix 128 --sizes 1GiB --algorithm hierarchical

mkdir -p "$(dirname "$json")"
{
  echo "{"
  echo "  \"schema_version\": 1,"
  echo "  \"machine\": {\"cores\": $(nproc), \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\"},"
  echo "  \"figures\": ["
  for i in "${!rows[@]}"; do
    sep=","
    [ "$i" -eq $((${#rows[@]} - 1)) ] && sep=""
    echo "    ${rows[$i]}$sep"
  done
  echo "  ]"
  echo "}"
} > "$json.tmp"
mv "$json.tmp" "$json"
echo "figures: $json"
