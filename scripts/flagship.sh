#!/usr/bin/env bash
# Quick start 1: set up, build the binary, and run the flagship scenario (DeepSeek-V3 on 2,048 H800) as README.md's
# "What `run` prints" shows it (1,000 Monte Carlo samples, so the printed figures are README's byte for byte).
# Only the gpuhours binary is built (the tests, fuzzer and benchmarks too: scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
GPUHOURS_BUILD_TARGET=gpuhours scripts/setup.sh
build/gpuhours run scenarios/deepseek-v3.toml --samples 1000
