#!/usr/bin/env bash
# The main job on a fresh machine: install, build, and turn the bundled photo
# into an SVG illustration (plus the run report as a web page).
#   bash scripts/demo.sh [PHOTO] [OUT.svg]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
in=${1:-examples/bus_red_london_plate.jpg}
out=${2:-bus_red_london_plate.svg}
build/tools/carve run "$in" -o "$out" --report "${out%.svg}.html"
echo "demo: wrote $out and ${out%.svg}.html"
