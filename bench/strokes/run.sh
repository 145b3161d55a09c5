#!/usr/bin/env bash
# Cost of the stroke layers (docs/vector.md, "Strokes"), CPU seconds (user+sys),
# median of N runs per case:
#   trace:  carve trace on the samples quantized to 16 colours, with and
#           without --centerline;
#   run:    carve run on the samples with and without --outline (the edges
#           step and the stroked outline layer together).
# Usage: bench/strokes/run.sh [BUILD_DIR] [N]   (default build, 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
carve=${1:-build}/tools/carve
n=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpu() { # median CPU seconds of n runs of "$@"
  for _ in $(seq "$n"); do
    /usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.3f\n", $1 + $2}'
  done | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
printf '| sample | trace | trace --centerline | centreline strokes | run | run --outline | outline strokes |\n|---|---|---|---|---|---|---|\n'
for f in tests/data/samples/*.jpg tests/data/samples/*.png; do
  b=$(basename "$f")
  "$carve" quantize "$f" -o "$tmp/q.png" --colors 16 >/dev/null 2>&1
  t0=$(cpu "$carve" trace "$tmp/q.png" -o "$tmp/a.svg")
  t1=$(cpu "$carve" trace "$tmp/q.png" -o "$tmp/b.svg" --centerline)
  ncl=$(grep -o '<path fill="none"[^>]*d="[^"]*"' "$tmp/b.svg" | grep -o '[Mm]' | wc -l || true)
  r0=$(cpu "$carve" run "$f" -o "$tmp/c.svg" --quiet)
  r1=$(cpu "$carve" run "$f" -o "$tmp/d.svg" --outline --quiet)
  nol=$(grep -o '<path fill="none"[^>]*d="[^"]*"' "$tmp/d.svg" | grep -o '[Mm]' | wc -l || true)
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$b" "$t0" "$t1" "$ncl" "$r0" "$r1" "$nol"
done
