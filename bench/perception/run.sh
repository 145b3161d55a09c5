#!/bin/bash
# bench/perception/run.sh — the right vehicle, whole and alone, with no
# legible plate: scores `carve run` on the hand-labelled photos of
# labels.json (the six tests/data samples and more real photos in
# photos/, sources in SOURCES.md) with score.py, for each configuration:
#   default    what a fresh install runs (auto backends: the neural ones whose
#              models are installed, e.g. by scripts/onnx/setup.sh)
#   classical  --matte-backend classical --text-backend classical (no models)
#   isnet      --matte-backend neural (only when an ISNet model is installed)
#
#   bash bench/perception/run.sh [CARVE] [OUTDIR]
# Needs Debian's python3-numpy, python3-pil, librsvg2-bin and time.
# Writes OUTDIR/<config>.tsv|.json, the renders, and OUTDIR/results.md.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CARVE=${1:-$ROOT/build/tools/carve}
OUT=${2:-${BENCH_WORK:-/tmp/carve-bench}/perception}
PY=/usr/bin/python3
mkdir -p "$OUT"
: > "$OUT/results.md"
score() { # name, options...
    local name=$1; shift
    $PY "$ROOT/bench/perception/score.py" --carve "$CARVE" --out "$OUT" --name "$name" -- "$@" | tee -a "$OUT/results.md"
}
score default
score classical --matte-backend classical --text-backend classical
if "$CARVE" models list 2>/dev/null | grep -q '^isnet.*installed'; then
    score isnet --matte-backend neural
else
    echo "(isnet: no ISNet model installed — sh scripts/onnx/setup.sh --isnet)" | tee -a "$OUT/results.md"
fi
echo "perception: $OUT/results.md"
