#!/usr/bin/env bash
# The Debian package: builds it with `cpack -G DEB` in the build directory ($1, default build-release), checks its
# dependencies and contents, then installs it with apt-get and runs the flagship from `/` — only as root or with
# passwordless sudo (it removes the package afterwards); without either it says so and runs the binary unpacked
# from the package (dpkg-deb -x) instead.
# Usage: scripts/deb-test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-release}"
rm -f "$build"/gpuhours_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb="$(ls "$PWD/$build"/gpuhours_*.deb)"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "deb-test: $(basename "$deb"): Depends: $depends"
for lib in libfmt9 libstdc++6; do
  grep -q "$lib" <<<"$depends" || { echo "deb-test: $lib missing from Depends" >&2; exit 1; }
done
contents="$(dpkg-deb -c "$deb")"
for f in ./usr/bin/gpuhours ./usr/share/gpuhours/scenarios/deepseek-v3.toml ./usr/share/gpuhours/scenarios/chips/h800.toml \
         ./usr/share/gpuhours/python/gpuhours/__init__.py; do
  grep -q " $f\$" <<<"$contents" || { echo "deb-test: $f not in the package" >&2; exit 1; }
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
fi
if [ "$sudo" = "none" ]; then
  echo "deb-test: not installing the package with apt-get (needs root or passwordless sudo); running it unpacked instead"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  dpkg-deb -x "$deb" "$tmp"
  (cd / && "$tmp/usr/bin/gpuhours" run "$tmp/usr/share/gpuhours/scenarios/deepseek-v3.toml" --samples 20 --quiet >/dev/null)
else
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$deb" >/dev/null
  trap 'DEBIAN_FRONTEND=noninteractive $sudo apt-get remove -y -qq gpuhours >/dev/null' EXIT
  (cd / && /usr/bin/gpuhours run /usr/share/gpuhours/scenarios/deepseek-v3.toml --samples 20 --quiet >/dev/null)
  [ "$(/usr/bin/gpuhours --data-dir)" = /usr/share/gpuhours ]
  echo "deb-test: apt-get installed the package; /usr/bin/gpuhours ran the flagship from / (package removed again)"
fi
echo "deb-test: OK"
