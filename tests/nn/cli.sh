#!/bin/sh
# cli.sh CARVE — `carve models list | fetch | verify` end to end (no downloads).
set -u
CARVE=$1
T=$(mktemp -d /tmp/carve-nn-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect_rc() { # want_rc description command...
    want=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, want $want ($(head -c 300 "$T/err"))"; fi
}
has() { # file text description
    if grep -q -- "$2" "$1"; then ok; else bad "$3: no '$2' in $(head -c 400 "$1")"; fi
}

mkdir -p "$T/empty"
expect_rc 0 "list, empty folder" "$CARVE" models list --models-dir "$T/empty"
has "$T/out" "ppocr-v4-det" "list names the default models"
has "$T/out" "missing" "a default model not installed is missing"
has "$T/out" "optional" "ISNet is optional"
has "$T/out" "AGPL-3.0" "list shows ISNet's mixed licence"
has "$T/out" "$T/empty" "list names the models folder"
expect_rc 0 "list --json" "$CARVE" models list --json --models-dir "$T/empty"
if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['models'])==3 and not any(m['installed'] for m in d['models'])" "$T/out"; then ok; else bad "list --json is not the expected JSON"; fi
expect_rc 2 "no subcommand" "$CARVE" models
expect_rc 2 "unknown subcommand" "$CARVE" models frobnicate
expect_rc 2 "verify an unknown model" "$CARVE" models verify nosuch --models-dir "$T/empty"
expect_rc 2 "fetch an unknown model" "$CARVE" models fetch nosuch --models-dir "$T/empty"
expect_rc 0 "verify with nothing installed" "$CARVE" models verify --models-dir "$T/empty"
has "$T/out" "not installed" "verify says what is not installed"

# a user's manifest: one model whose file does not match its sha256
mkdir -p "$T/mine"
printf 'not a model' > "$T/mine/m.onnx"
cat > "$T/mine/manifest.json" <<'JSON'
{"version": 1, "models": [{"name": "mine", "task": "depth", "file": "m.onnx",
 "sha256": "0000000000000000000000000000000000000000000000000000000000000000",
 "inputs": ["x"], "outputs": ["y"], "size_policy": {"mode": "any"}, "licence": "MIT"}]}
JSON
expect_rc 0 "list a user's manifest" "$CARVE" models list --models-dir "$T/mine"
has "$T/out" "$T/mine/manifest.json" "list names the manifest in effect"
has "$T/out" "installed" "the user's model is installed"
expect_rc 1 "verify a corrupt model" "$CARVE" models verify mine --models-dir "$T/mine"
has "$T/out" "BAD" "verify reports the mismatch"

# an invalid manifest is a usage error naming the field
sed 's/"depth"/"colourise"/' "$T/mine/manifest.json" > "$T/mine/m2" && mv "$T/mine/m2" "$T/mine/manifest.json"
expect_rc 2 "invalid manifest" "$CARVE" models list --models-dir "$T/mine"
has "$T/err" 'field "task"' "the error names the field"
has "$T/err" "model 1 (mine)" "the error names the model"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
