#!/usr/bin/env bash
# The size rule of docs/architecture.md: no file under sim/ over 900 lines, no function over 120 lines.
# Functions and their line spans come from universal-ctags (Debian's universal-ctags; `end:` field); a function's
# span counts its lambdas. Prints each breach as file:line: what, and exits 1 if there is any.
# Usage: scripts/source-size.sh [max_file_lines] [max_function_lines]
set -euo pipefail
cd "$(dirname "$0")/.."
max_file=${1:-900}
max_function=${2:-120}
command -v ctags >/dev/null || { echo "source-size.sh: needs universal-ctags (apt install universal-ctags)" >&2; exit 2; }
breaches=0
while IFS= read -r file; do
  lines=$(wc -l < "$file")
  if [ "$lines" -gt "$max_file" ]; then
    echo "$file:1: $lines lines (at most $max_file)"
    breaches=$((breaches + 1))
  fi
done < <(find sim include -name '*.cpp' -o -name '*.hpp' | sort)
while IFS=$'\t' read -r name file start end; do
  span=$((end - start + 1))
  if [ "$span" -gt "$max_function" ]; then
    echo "$file:$start: function $name is $span lines (at most $max_function)"
    breaches=$((breaches + 1))
  fi
done < <(find sim include -name '*.cpp' -o -name '*.hpp' | sort |
         ctags --languages=C++ --kinds-C++=f --fields=+ne -L - -o - |
         awk -F'\t' '{s=""; e=""; for (i = 4; i <= NF; i++) { if ($i ~ /^line:/) s = substr($i, 6); if ($i ~ /^end:/) e = substr($i, 5) }
                      if (s != "" && e != "") print $1 "\t" $2 "\t" s "\t" e }')
if [ "$breaches" -gt 0 ]; then
  echo "source-size.sh: $breaches breach(es) of the size rule" >&2
  exit 1
fi
echo "source-size.sh: every file under sim/ and include/ within $max_file lines, every function within $max_function"
