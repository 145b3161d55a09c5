#!/bin/sh
# convert.sh BIN SOURCE_ROOT — the TF.js -> ONNX conversions (NanoDet and
# BlazeFace, scripts/onnx/tfjs2onnx.py) against the TF.js reference (CPU
# backend), and the converter's determinism.  For each model:
#   1. tfjs2onnx.py run again on the pinned TF.js files gives exactly the
#      installed ONNX model (same bytes, sha256 pinned in the manifest);
#   2. test_nn_convert writes 2 inputs (a photo through the adapter's
#      pre-processing, a pseudo-random tensor), tfjs_ref.js runs TF.js on
#      them, test_nn_convert runs ONNX Runtime and compares
#      (|diff| <= 1e-4, relative to |ref| where |ref| > 1).
# Exit 77 (skip) when node, the TF.js packages (tests/nn/tfjs/setup.sh), or
# every model's TF.js files/ONNX model (scripts/onnx/setup.sh) are missing.
set -u
BIN=$1
ROOT=$2
MODELS=${CARVE_MODELS_DIR:-$ROOT/models}
skip() { echo "skipped: $*"; exit 77; }
command -v node >/dev/null 2>&1 || skip "node is not installed"
[ -d "$ROOT/tests/nn/tfjs/node_modules/@tensorflow/tfjs-converter" ] || skip "TF.js packages missing (sh tests/nn/tfjs/setup.sh)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/carve-convert.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
ran=0

# name task: converts again, compares bytes, then ONNX Runtime vs TF.js
check() {
  name=$1 task=$2
  info=$(python3 - "$ROOT/share/models/manifest.json" "$name" <<'PY'
import json, os, sys
m = [e for e in json.load(open(sys.argv[1]))["models"] if e["name"] == sys.argv[2]][0]
args = m["source"]["convert"]["args"]
print(m["file"], os.path.basename(m["source"]["path"]), args[args.index("--outputs") + 1], " ".join(args))
PY
  ) || return 1
  set -- $info
  file=$1 json=$2 outputs=$3
  shift 3
  src=$MODELS/.cache/$name
  if [ ! -f "$src/$json" ] || [ ! -f "$MODELS/$file" ]; then
    echo "skipped $name: no $src/$json or $MODELS/$file (sh scripts/onnx/setup.sh)"
    return 0
  fi
  ran=$((ran + 1))
  python3 "$ROOT/scripts/onnx/tfjs2onnx.py" "$src/$json" "$tmp/again.onnx" "$@" || return 1
  if ! cmp -s "$tmp/again.onnx" "$MODELS/$file"; then
    echo "FAIL $name: tfjs2onnx.py output differs from the installed model (not deterministic, or the pin is stale)"
    return 1
  fi
  echo "ok   $name: converter gives the installed model's bytes"
  rm -f "$tmp"/*
  "$BIN" inputs "$tmp" "$task" || return 1
  node "$ROOT/tests/nn/tfjs_ref.js" "$src/$json" "$tmp" "$outputs" 2>"$tmp/node.err" || { cat "$tmp/node.err"; return 1; }
  echo "$name:"
  "$BIN" compare "$tmp" "$task"
}

rc=0
check nanodet-coco object_detect || rc=1
check blazeface face_detect || rc=1
[ $rc = 0 ] && [ $ran = 0 ] && skip "no converted model installed"
exit $rc
