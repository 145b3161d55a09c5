#!/usr/bin/env bash
# bench/trace/run.sh — phase 4 benchmark: `carve trace` beside VTracer
# (@neplex/vectorizer, default config) and potrace multi-scan, in ONE run of
# the anchor harness (bench/harness/trace_bench.py, a copy of the team's
# shared harness), on the same inputs:
#   q8/ q16/ q32/   the sample vehicle photos (tests/data/samples), flattened on
#                   white, fitted into 1024 px, quantized to 8/16/32 colours
#                   without dither (ImageMagick -colors N +dither)
#   synth_flat/     the harness's synthetic set made flat: 01_flat_shapes,
#                   02_cartoon, 03_line_art quantized to 16 colours, and
#                   06_palette_quant as generated (12 colours, no AA)
# This is a benchmark, not a test: timings on a shared machine are noisy.
#
#   bash bench/trace/run.sh [OUT_DIR]      (default $BENCH_WORK/trace_results)
# env: CARVE (default build/tools/carve), RUNS (default 3), TOOLS (tools file,
#      default bench/trace/tools.txt; e.g. bench/harness/anchors.txt for all
#      anchors), SETS (default "q8 q16 q32 synth_flat"), CARVE_ARGS (extra
#      options for carve trace)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-$root/bench/harness}
B=$(cd "$B" && pwd)
work=${BENCH_WORK:-/tmp/carve-bench}
export BENCH_WORK=$work NODE_PATH="$work/node_modules"
carve=${CARVE:-$root/build/tools/carve}
carve=$(cd "$(dirname "$carve")" && pwd)/$(basename "$carve")
tools=${TOOLS:-$root/bench/trace/tools.txt}
tools=$(cd "$(dirname "$tools")" && pwd)/$(basename "$tools")
out=${1:-$work/trace_results}
sets=${SETS:-q8 q16 q32 synth_flat}
[ -x "$carve" ] || { echo "run.sh: $carve not built (meson setup build && ninja -C build)" >&2; exit 2; }

bash "$B/setup.sh" > /dev/null
if [ ! -f "$work/synth/06_palette_quant.png" ]; then
  /usr/bin/python3 "$B/gen_synth.py" --out "$work/synth" --photos "$work/photos" > /dev/null
fi

in=$work/trace_inputs
for n in 8 16 32; do
  mkdir -p "$in/q$n"
  for f in "$root"/tests/data/samples/*.jpg "$root"/tests/data/samples/*.png; do
    o=$in/q$n/$(basename "${f%.*}").png
    [ -f "$o" ] || convert "$f" -auto-orient -background white -alpha remove -alpha off -resize '1024x1024>' \
      +dither -colors "$n" -type TrueColor "PNG24:$o"
  done
done
mkdir -p "$in/synth_flat"
for s in 01_flat_shapes 02_cartoon 03_line_art; do
  o=$in/synth_flat/$s.png
  [ -f "$o" ] || convert "$work/synth/$s.png" +dither -colors 16 -type TrueColor "PNG24:$o"
done
cp -f "$work/synth/06_palette_quant.png" "$in/synth_flat/"

imgs=()
for s in $sets; do imgs+=(--images "$in/$s"); done
cd "$B"   # the anchors' commands are relative to the harness folder
/usr/bin/python3 trace_bench.py --tools-file "$tools" \
  --tool carve --cmd "$carve trace {in} -o {out} -q ${CARVE_ARGS:-}" \
  "${imgs[@]}" --max-side 4096 --runs "${RUNS:-3}" --out-dir "$out"

# interleaved timing (carve and VTracer alternately on each image): fairer
# speed ratios on a shared machine than the harness's tool-after-tool passes
if [ "${SPEED:-1}" != 0 ]; then
  echo
  echo "## Interleaved timing (medians of ${SPEED_RUNS:-5} alternating runs per image)"
  /usr/bin/python3 "$root/bench/trace/speed.py" --carve "$carve" --bench "$B" "${imgs[@]}" --runs "${SPEED_RUNS:-5}" --per-image
fi
