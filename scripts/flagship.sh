#!/usr/bin/env bash
# Quick start 1: set up, build, and run the flagship scenario (DeepSeek-V3 on 2,048 H800).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/gpuhours run scenarios/deepseek-v3.toml
