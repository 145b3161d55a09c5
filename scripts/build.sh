#!/usr/bin/env bash
# Configures and builds carve into build/ (release).  BUILD_DIR overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "build: $dir/tools/carve"
