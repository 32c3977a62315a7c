#!/usr/bin/env bash
# Installs what gpuhours needs from Debian 12 packages (when missing) and builds it into build/.
# Usage: scripts/setup.sh [extra cmake arguments]
# GPUHOURS_BUILD_TARGET=gpuhours builds the binary alone (scripts/flagship.sh); by default every target is built.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake g++ ninja-build libtomlplusplus-dev libfmt-dev libboost-graph-dev catch2 time
  # the executables' allocator (CMakeLists.txt: mimalloc on transparent huge pages)
  libmimalloc-dev
  # the size rule of docs/architecture.md (scripts/source-size.sh)
  universal-ctags
  # the report's browser test, the notebooks, and the optional MPI sweep (tests skip what is missing)
  chromium fonts-dejavu-core jupyter-nbconvert python3-ipykernel python3-nbformat python3-matplotlib python3-pandas
  openmpi-bin libopenmpi-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_dir="${GPUHOURS_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPUHOURS_WERROR=ON "$@" >/dev/null
target="${GPUHOURS_BUILD_TARGET:-}"
cmake --build "$build_dir" -j "$(nproc)" ${target:+--target "$target"}
