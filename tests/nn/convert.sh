#!/bin/sh
# convert.sh BIN SOURCE_ROOT — the NanoDet TF.js -> ONNX conversion against
# the TF.js reference (CPU backend), and the converter's determinism:
#   1. scripts/onnx/tfjs2onnx.py run again on the pinned TF.js files gives
#      exactly the installed ONNX model (same bytes, sha256 pinned);
#   2. test_nn_convert writes 2 inputs (the bus photo through the adapter's
#      pre-processing, a pseudo-random tensor), tfjs_ref.js runs TF.js on them,
#      test_nn_convert runs ONNX Runtime and compares (max |diff| <= 1e-4).
# Exit 77 (skip) when node, the TF.js packages (tests/nn/tfjs/setup.sh), the
# TF.js source files or the model/runtime (scripts/onnx/setup.sh) are missing.
set -u
BIN=$1
ROOT=$2
MODELS=${CARVE_MODELS_DIR:-$ROOT/models}
SRC=$MODELS/.cache/nanodet-coco
skip() { echo "skipped: $*"; exit 77; }
command -v node >/dev/null 2>&1 || skip "node is not installed"
[ -d "$ROOT/tests/nn/tfjs/node_modules/@tensorflow/tfjs-converter" ] || skip "TF.js packages missing (sh tests/nn/tfjs/setup.sh)"
[ -f "$SRC/nanodet.json" ] && [ -f "$SRC/nanodet.bin" ] || skip "TF.js NanoDet files missing in $SRC (sh scripts/onnx/setup.sh)"
[ -f "$MODELS/nanodet_coco_416.onnx" ] || skip "no $MODELS/nanodet_coco_416.onnx (sh scripts/onnx/setup.sh)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/carve-convert.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

args=$(python3 - "$ROOT/share/models/manifest.json" <<'PY'
import json, sys
m = [e for e in json.load(open(sys.argv[1]))["models"] if e["name"] == "nanodet-coco"][0]
print(" ".join(m["source"]["convert"]["args"]))
PY
) || exit 1
# shellcheck disable=SC2086
python3 "$ROOT/scripts/onnx/tfjs2onnx.py" "$SRC/nanodet.json" "$tmp/again.onnx" $args || exit 1
if ! cmp -s "$tmp/again.onnx" "$MODELS/nanodet_coco_416.onnx"; then
  echo "FAIL: tfjs2onnx.py output differs from the installed model (not deterministic, or the pin is stale)"
  exit 1
fi
echo "ok   converter: same bytes as the installed model"
rm -f "$tmp/again.onnx"
"$BIN" inputs "$tmp"; rc=$?
[ $rc = 0 ] || exit $rc
node "$ROOT/tests/nn/tfjs_ref.js" "$SRC/nanodet.json" "$tmp" 2>"$tmp/node.err" || { cat "$tmp/node.err"; exit 1; }
exec "$BIN" compare "$tmp"
