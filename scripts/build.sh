#!/usr/bin/env bash
# Configures and builds carve into build/ (release).  BUILD_DIR overrides.
# Our own builds (the demo, the tests, CI) treat warnings as errors; meson's
# default does not, so a release built with another compiler is not stopped
# by a new warning.  WERROR=false turns it off here too.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
set -- -Dwerror="${WERROR:-true}" "$@"
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >/dev/null
else
  # reconfigure: optional pieces (the ONNX Runtime header fetched by
  # scripts/onnx/setup.sh after a first build) are detected at configure time
  meson setup --reconfigure "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "build: $dir/tools/carve"
