#!/bin/sh
# setup.sh — optional neural backends: the ONNX Runtime C header, the runtime
# library and the default models, all pinned by version and sha256.
#   sh scripts/onnx/setup.sh            header + runtime + PP-OCRv4 text detection
#                                       + NanoDet object detection (converted
#                                       from TF.js by tfjs2onnx.py)
#   sh scripts/onnx/setup.sh --isnet    also the ISNet background-removal model
#                                       (mixed licensing, see docs/nn.md): the
#                                       original export (isnet-medium, fixed
#                                       1024x1024) and its rewrite with a free
#                                       input size (isnet-dynamic, used first)
# Models go to $CARVE_MODELS_DIR or models/ at the project root.  Run it
# before `meson setup` (or run `meson setup --reconfigure` after it).
# carve builds and runs without any of this (classical fallbacks).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODELS="${CARVE_MODELS_DIR:-$ROOT/models}"
sh "$ROOT/scripts/onnx/fetch_header.sh"
sh "$ROOT/scripts/onnx/fetch_runtime.sh"
python3 "$ROOT/scripts/onnx/fetch_models.py" "$ROOT/share/models/manifest.json" "$MODELS" --default
if [ "${1:-}" = "--isnet" ] || [ "${CARVE_FETCH_ISNET:-0}" = 1 ]; then
    python3 "$ROOT/scripts/onnx/fetch_models.py" "$ROOT/share/models/manifest.json" "$MODELS" isnet-medium isnet-dynamic
fi
echo "onnx setup: done (models in $MODELS)"
