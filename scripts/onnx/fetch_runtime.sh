#!/bin/sh
# fetch_runtime.sh — puts libonnxruntime.so.1 (ONNX Runtime 1.30.0, x86-64
# Linux) into third_party/onnxruntime/lib/.  It comes from the npm package
# onnxruntime-node@1.30.0, fetched with `npm pack` (which runs no install
# script); the tarball and the library are checked against pinned sha256.
# carve loads it with dlopen at run time.  Idempotent.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/onnx/pins.sh"
DEST="$ROOT/third_party/onnxruntime"
CACHE="$DEST/cache"
LIB="$DEST/lib/libonnxruntime.so.1"
mkdir -p "$CACHE" "$DEST/lib"
if [ -f "$LIB" ] && echo "$ORT_LIB_SHA256  $LIB" | sha256sum -c --status; then
    echo "onnx runtime: already present ($LIB)"; exit 0
fi
case "$(uname -m)" in
    x86_64) ;;
    *) echo "onnx runtime: only the x86-64 runtime is pinned; set CARVE_ORT_LIBRARY to your own libonnxruntime.so" >&2; exit 1 ;;
esac
TGZ="$CACHE/$ORT_NPM_TGZ"
if ! { [ -f "$TGZ" ] && echo "$ORT_NPM_TGZ_SHA256  $TGZ" | sha256sum -c --status; }; then
    (cd "$CACHE" && npm pack --silent "$ORT_NPM" >/dev/null)
fi
echo "$ORT_NPM_TGZ_SHA256  $TGZ" | sha256sum -c - >/dev/null || { echo "onnx runtime: $TGZ: sha256 mismatch" >&2; exit 1; }
TMP="$DEST/lib/.x"
rm -rf "$TMP" && mkdir -p "$TMP"
tar -xzf "$TGZ" -C "$TMP" "$ORT_LIB_PATH_IN_TGZ"
echo "$ORT_LIB_SHA256  $TMP/$ORT_LIB_PATH_IN_TGZ" | sha256sum -c - >/dev/null || { echo "onnx runtime: library sha256 mismatch" >&2; exit 1; }
mv "$TMP/$ORT_LIB_PATH_IN_TGZ" "$LIB"
rm -rf "$TMP"
echo "onnx runtime: $LIB ($ORT_NPM)"
