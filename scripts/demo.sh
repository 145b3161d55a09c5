#!/usr/bin/env bash
# The main job on a fresh machine: install (with the default neural models),
# build, and turn the bundled photo
# into an SVG illustration (plus the run report as a web page).
#   bash scripts/demo.sh [PHOTO] [OUT.svg]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the default neural backends: ONNX Runtime, the NanoDet vehicle/object
# detector (converted from TF.js here) and PP-OCR text detection; without
# them carve runs on its classical backends and the report says why
sh scripts/onnx/setup.sh || echo "demo: neural backends not installed; carve runs on its classical backends"
bash scripts/build.sh
in=${1:-examples/bus_red_london_plate.jpg}
out=${2:-bus_red_london_plate.svg}
build/tools/carve run "$in" -o "$out" --report "${out%.svg}.html"
echo "demo: wrote $out and ${out%.svg}.html"
