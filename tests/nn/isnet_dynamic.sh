#!/bin/sh
# isnet_dynamic.sh BIN SOURCE_ROOT CARVE — the ISNet rewrite (scripts/onnx/isnet_dynamic.py):
#   1. run again on the installed original (isnet-medium), it gives exactly
#      the installed isnet-dynamic model, whose sha256 the manifest pins
#      (the rewrite is deterministic);
#   2. CARVE run on the black sedan: the report's matte step is the neural
#      one, names isnet-dynamic, its sha256 and the 512 x 512 input, and ran
#      on the subject's crop (not the whole photo);
#   3. BIN (test_nn_models isnet_dynamic): the rewrite's matte at 512 x 512
#      agrees with the original's at 1024 x 1024 on the subject's crop of
#      three photos (IoU of alpha >= 128, mean |difference|), and is the same
#      bytes twice.
# Exit 77 (skip) only when either model is not installed (setup.sh --isnet).
set -u
BIN=$1
ROOT=$2
CARVE=$3
MODELS=${CARVE_MODELS_DIR:-$ROOT/models}
pins=$(python3 - "$ROOT/share/models/manifest.json" <<'PY'
import json, sys
by = {e["name"]: e for e in json.load(open(sys.argv[1]))["models"]}
print(by["isnet-medium"]["file"], by["isnet-medium"]["sha256"], by["isnet-dynamic"]["file"], by["isnet-dynamic"]["sha256"])
PY
) || exit 1
set -- $pins
orig=$MODELS/$1 orig_sha=$2 dyn=$MODELS/$3 dyn_sha=$4
if [ ! -f "$orig" ] || [ ! -f "$dyn" ]; then
  echo "skipped: $orig or $dyn is not installed (sh scripts/onnx/setup.sh --isnet)"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
[ "$(sha256sum < "$orig" | cut -d' ' -f1)" = "$orig_sha" ] || fail "$orig does not match its pinned sha256"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/carve-isnet.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
python3 "$ROOT/scripts/onnx/isnet_dynamic.py" "$orig" "$tmp/out.onnx" || fail "the rewrite failed"
got=$(sha256sum < "$tmp/out.onnx" | cut -d' ' -f1)
[ "$got" = "$dyn_sha" ] || fail "the rewrite gave sha256 $got, the manifest pins $dyn_sha"
cmp -s "$tmp/out.onnx" "$dyn" || fail "the rewrite differs from the installed $dyn"
echo "ok: the rewrite of $orig is the pinned $dyn_sha, byte for byte"
rm -f "$tmp/out.onnx"
"$CARVE" run "$ROOT/tests/data/samples/sedan_black_side.jpg" -o "$tmp/o.svg" --report "$tmp/r.json" -q \
  || fail "carve run failed"
python3 - "$tmp/r.json" "$dyn_sha" <<'PY' || fail "the run report does not show isnet-dynamic on the subject's crop"
import json, sys
r = json.load(open(sys.argv[1]))
m = [s for p in r["phases"] for s in p.get("steps", []) if s["name"] == "matte"][0]
d, w, h = m["details"], r["output"]["viewbox_width"], r["output"]["viewbox_height"]
assert m["backend"] == "neural", m
assert d["model"]["model"] == "isnet-dynamic" and d["model"]["sha256"] == sys.argv[2], d
assert (d["model"]["input_width"], d["model"]["input_height"]) == (512, 512), d
c = d["crop"]
assert c["w"] * c["h"] < 0.8 * w * h, (c, w, h)  # the subject's crop, not the whole street
print("ok: matte by isnet-dynamic at 512 x 512 on the crop %(x)d,%(y)d %(w)dx%(h)d" % c)
PY
exec "$BIN" isnet_dynamic
