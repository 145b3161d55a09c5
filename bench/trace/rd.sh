#!/usr/bin/env bash
# bench/trace/rd.sh — rate-distortion of carve and VTracer in ONE harness run:
# segments vs SSIM_Y for 4 settings of each tool on the bench/trace inputs
# (make them first with bench/trace/run.sh, or SETS="" bash bench/trace/run.sh).
#
#   bash bench/trace/rd.sh [OUT_DIR]     (default $BENCH_WORK/trace_rd)
# env: CARVE (default build/tools/carve), RUNS (default 1), SETS (default
#      "q8 q16 q32 synth_flat")
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$root/bench/harness
work=${BENCH_WORK:-/tmp/carve-bench}
export BENCH_WORK=$work NODE_PATH="$work/node_modules"
carve=${CARVE:-$root/build/tools/carve}
carve=$(cd "$(dirname "$carve")" && pwd)/$(basename "$carve")
out=${1:-$work/trace_rd}
[ -x "$carve" ] || { echo "rd.sh: $carve not built" >&2; exit 2; }
tools=$(mktemp)
trap 'rm -f "$tools"' EXIT
cat > "$tools" <<TOOLS
vtracer            node tools/vtracer.js --variant default {in} {out}
vtracer_splice90   node tools/vtracer.js --variant splice90 {in} {out}
vtracer_speckle16  node tools/vtracer.js --variant speckle16 {in} {out}
vtracer_photo      node tools/vtracer.js --variant photo {in} {out}
carve              $carve trace {in} -o {out} -q
carve_detail0.5    $carve trace {in} -o {out} -q --detail 0.5
carve_detail0.7    $carve trace {in} -o {out} -q --detail 0.7 --trace-tolerance 0.8
carve_detail1      $carve trace {in} -o {out} -q --detail 1 --trace-tolerance 0.6 --corner-threshold 60 --splice-threshold 45
TOOLS
imgs=()
for s in ${SETS:-q8 q16 q32 synth_flat}; do imgs+=(--images "$work/trace_inputs/$s"); done
cd "$B"
/usr/bin/python3 trace_bench.py --tools-file "$tools" "${imgs[@]}" --max-side 4096 --runs "${RUNS:-1}" --out-dir "$out"
