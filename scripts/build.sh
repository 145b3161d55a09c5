#!/usr/bin/env bash
# Configures and builds carve into build/ (release).  BUILD_DIR overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >/dev/null
else
  # reconfigure: optional pieces (the ONNX Runtime header fetched by
  # scripts/onnx/setup.sh after a first build) are detected at configure time
  meson setup --reconfigure "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "build: $dir/tools/carve"
