#!/bin/sh
# bench/chroma/run.sh [BUILD_DIR] — the phase 3 benchmark, in one run:
#   1. speed: a 12 Mpx photo to the 32-colour 'automotive' palette with
#      carve_quantize (2 threads) vs a per-pixel brute force in C (1 thread,
#      measured on evenly spaced rows and extrapolated), Mpx/s and speed-up,
#      and a check that both give the same colour for every measured pixel;
#   2. fidelity: mean / p95 CIEDE2000 to the original, carve vs ImageMagick
#      (-remap, -colors) and pngquant at the same palette size.
# Run from the project root after building BUILD_DIR (default: build).
# Writes into $BENCH_WORK/chroma (default /tmp/carve-bench/chroma).
set -eu
B=${1:-build}
SHARED=${CARVE_TEST_DATA:-tests/data}
W=${BENCH_WORK:-/tmp/carve-bench}/chroma
mkdir -p "$W"
test -x "$B/tests/chroma/bench_chroma" || { echo "build $B first (ninja -C $B tests/chroma/bench_chroma tools/carve)"; exit 2; }
if [ ! -f "$W/big12.png" ]; then
    # 1800x1200 -> 4248x2832 = 12.0 Mpx (Lanczos, so the colours stay photo-like)
    convert "$SHARED/samples/pickup_white_street.jpg" -filter Lanczos -resize 236% "$W/big12.png"
fi
echo "== speed (load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
"$B/tests/chroma/bench_chroma" "$W/big12.png" automotive --threads 2 --runs 5 --brute-px 300000 | tee "$W/speed.txt"
echo "== fidelity"
/usr/bin/python3 "$(dirname "$0")/fidelity.py" --carve "$B/tools/carve" --samples "$SHARED/samples" --out "$W/fidelity"
