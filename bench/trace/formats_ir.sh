#!/usr/bin/env bash
# bench/trace/formats_ir.sh — the cost of each output format in instructions
# (valgrind callgrind's "Collected" count of the whole `carve trace` process:
# start-up, PNG decode, trace, writer, file write; threads 1).  Instruction
# counts do not depend on the machine's other load, unlike times on the
# shared 2-core machine.  BASE (optional): another carve binary whose SVG is
# counted too (e.g. a build from before the geometry IR).
#   bash bench/trace/formats_ir.sh [CARVE] [IMAGES...]   (default: 3 samples, 16 colours)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
carve=${1:-$root/build/tools/carve}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
imgs=("$@")
if [ ${#imgs[@]} -eq 0 ]; then
  for s in bus_red_london_plate.jpg firetruck_cutout_rgba.png sedan_black_side.jpg; do
    "$carve" quantize "$root/tests/data/samples/$s" -o "$tmp/${s%.*}.png" --colors 16 -q
    imgs+=("$tmp/${s%.*}.png")
  done
fi
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : //p'; }
echo "| image |${BASE:+ base svg |} svg | pdf | eps | dxf | pdf +% | eps +% | dxf +% |${BASE:+ svg vs base |}"
echo "|---|${BASE:+---|}---|---|---|---|---|---|---|${BASE:+---|}"
for im in "${imgs[@]}"; do
  declare -A n=()
  for f in svg pdf eps dxf; do n[$f]=$(count "$carve" trace "$im" -o "$tmp/o.$f" -q --threads 1); done
  b=""
  [ -n "${BASE:-}" ] && b=$(count "$BASE" trace "$im" -o "$tmp/b.svg" -q --threads 1)
  pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", 100 * (a / b - 1) }'; }
  echo "| $(basename "$im" .png) |${b:+ $b |} ${n[svg]} | ${n[pdf]} | ${n[eps]} | ${n[dxf]} | $(pct "${n[pdf]}" "${n[svg]}") | $(pct "${n[eps]}" "${n[svg]}") | $(pct "${n[dxf]}" "${n[svg]}") |${b:+ $(pct "${n[svg]}" "$b") |}"
done
