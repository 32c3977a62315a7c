#!/usr/bin/env bash
# The HTML report of the flagship scenario in a real browser (issue #7): renders it with the built gpuhours, opens
# it in headless Chromium, and checks that
#   (a) the page logs nothing to the console (it has no scripts, so any console message — an uncaught error, a
#       blocked load — is a failure) and the rendered DOM holds the claim's verdict and every chart;
#   (b) a screenshot of the whole page is written ($OUT/report.png);
#   (c) the HTML references nothing outside itself (no src/href/url() but #fragments and data:, no http(s) URL,
#       no <script>, <link>, <iframe>, <img>, @import).
# Exits non-zero with a message naming the failed check.
#
# Environment: GPUHOURS (default build/gpuhours), CHROMIUM (default chromium), OUT (default build/browser-test),
# SCENARIO (default scenarios/deepseek-v3.toml), SCREEN_HEIGHT (default 6600 px: the flagship's page is about
# 6,300 px tall at 1280 px wide with its [whatif] comparison).
set -euo pipefail
cd "$(dirname "$0")/.."

GPUHOURS=${GPUHOURS:-build/gpuhours}
CHROMIUM=${CHROMIUM:-chromium}
OUT=${OUT:-build/browser-test}
SCENARIO=${SCENARIO:-scenarios/deepseek-v3.toml}
SCREEN_HEIGHT=${SCREEN_HEIGHT:-6600}

fail() {
    echo "browser-test: FAILED: $*" >&2
    exit 1
}

[[ -x $GPUHOURS ]] || fail "no gpuhours binary at $GPUHOURS (build it first, or set GPUHOURS)"
command -v "$CHROMIUM" > /dev/null || fail "no Chromium ($CHROMIUM) on PATH (apt-get install chromium, or set CHROMIUM)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HTML=$OUT/report.html
rm -f "$HTML" "$OUT/report.png" "$OUT/dom.html" "$OUT/console.log"

echo "== rendering $SCENARIO"
"$GPUHOURS" report "$SCENARIO" -o "$HTML"
[[ -s $HTML ]] || fail "gpuhours report wrote no $HTML"

# ---- (c) no external references --------------------------------------------------------------------------
echo "== checking $HTML for external references"
external=$(
    {
        grep -Eio '(src|href|srcset|action|poster)[[:space:]]*=[[:space:]]*["'"'"']?[^"'"'"'[:space:]>]*' "$HTML" |
            grep -Eiv '=[[:space:]]*["'"'"']?(#|data:)'
        grep -Eio 'url\([[:space:]]*["'"'"']?[^"'"'"')[:space:]]*' "$HTML" | grep -Eiv 'url\([[:space:]]*["'"'"']?(#|data:)'
        grep -Eio 'https?://[^"'"'"' <>)]*|<(script|link|iframe|object|embed|img)\b|@import' "$HTML"
    } || true
)
[[ -z $external ]] || fail "the report references things outside itself:"$'\n'"$external"

# ---- (a) console and rendered DOM --------------------------------------------------------------------------
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
chromium_run() {
    # --no-sandbox: Chromium's sandbox refuses to run as root (CI containers); the page has no scripts to contain.
    # --disable-dev-shm-usage: containers often give /dev/shm only 64 MB, too little for a tall screenshot.
    timeout 180 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --no-default-browser-check \
        --disable-extensions --hide-scrollbars --user-data-dir="$PROFILE" --virtual-time-budget=5000 "$@"
}

echo "== opening it in $("$CHROMIUM" --version 2> /dev/null || echo "$CHROMIUM") (headless)"
chromium_run --enable-logging=stderr --v=0 --dump-dom "file://$HTML" > "$OUT/dom.html" 2> "$OUT/console.log" ||
    fail "Chromium could not load the page (log: $OUT/console.log)"
console=$(grep -E 'CONSOLE|Uncaught' "$OUT/console.log" || true)
[[ -z $console ]] || fail "console messages while loading the page:"$'\n'"$console"

verdict=$(grep -Eo 'class="badge">(HOLDS|FAILS|UNCERTAIN)<' "$HTML" | head -n 1 | sed -E 's/.*>(.*)</\1/')
[[ -n $verdict ]] || fail "the report has no claim verdict"
grep -q "class=\"badge\">$verdict<" "$OUT/dom.html" || fail "the rendered page does not show the verdict $verdict"
# The DOM serialiser writes quotes in text as themselves, and keeps &amp; &lt; &gt; as entities.
claim=$(grep -Eo '<p class="claim">[^<]*</p>' "$HTML" | head -n 1 | sed -e "s/&#39;/'/g" -e 's/&quot;/"/g')
grep -qF "$claim" "$OUT/dom.html" || fail "the rendered page does not show the claim $claim"
expected=$(grep -o '<svg ' "$HTML" | wc -l)
rendered=$(grep -o '<svg ' "$OUT/dom.html" | wc -l)
# The flagship is stochastic and priced: timeline, step breakdown, per-stage breakdown, cost and wall clock
# histograms, memory per rank; its [whatif] adds days, cost and GPU-hours across chips.
(( expected >= 9 )) || fail "the report has $expected charts, expected at least 9"
(( rendered == expected )) || fail "the rendered page has $rendered <svg> charts, the HTML $expected"
for id in timeline-chart breakdown-chart breakdown-stages cost-histogram wall-clock-histogram memory-chart whatif-days whatif-cost whatif-gpu-hours; do
    grep -q "<svg class=\"chart\" id=\"$id\"" "$OUT/dom.html" || fail "the rendered page lacks the chart \"$id\""
done

# ---- (b) screenshot ----------------------------------------------------------------------------------------
chromium_run --screenshot="$OUT/report.png" --window-size="1280,$SCREEN_HEIGHT" "file://$HTML" 2> "$OUT/screenshot.log" ||
    fail "Chromium could not take the screenshot (log: $OUT/screenshot.log)"
[[ -s $OUT/report.png ]] || fail "no screenshot at $OUT/report.png"
[[ $(head -c 8 "$OUT/report.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$OUT/report.png is not a PNG"

echo "browser-test: OK — verdict $verdict, $rendered charts, no console messages, no external references"
echo "  page:       $HTML ($(( $(wc -c < "$HTML") / 1024 )) KiB)"
echo "  screenshot: $OUT/report.png (1280 × $SCREEN_HEIGHT px)"
