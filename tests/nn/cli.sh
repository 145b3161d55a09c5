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
if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['models'])==6 and not any(m['installed'] for m in d['models'])" "$T/out"; then ok; else bad "list --json is not the expected JSON"; fi
if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert list(d)[:3]==['manifest','models_dir','runtime'] and d['models_dir']==sys.argv[2] and all(list(m)==['name','task','file','installed','size','optional','licence','notes'] and m['size']==-1 and m['file'].startswith(sys.argv[2]+'/') for m in d['models'])" "$T/out" "$T/empty"; then ok; else bad "list --json keys"; fi
expect_rc 2 "no subcommand" "$CARVE" models
expect_rc 2 "unknown subcommand" "$CARVE" models frobnicate
expect_rc 2 "verify an unknown model" "$CARVE" models verify nosuch --models-dir "$T/empty"
expect_rc 2 "fetch an unknown model" "$CARVE" models fetch nosuch --models-dir "$T/empty"
expect_rc 0 "verify with nothing installed" "$CARVE" models verify --models-dir "$T/empty"
has "$T/out" "not installed" "verify says what is not installed"

# fetch runs the installer the library names (env CARVE_FETCH_SCRIPT) with the
# manifest and the models folder in effect; names are checked first
printf 'import sys\nprint("ARGS", " ".join(sys.argv[1:]))\n' > "$T/fetch.py"
expect_rc 0 "fetch through a stand-in installer" env CARVE_FETCH_SCRIPT="$T/fetch.py" "$CARVE" models fetch --models-dir "$T/empty"
has "$T/out" "share/models/manifest.json $T/empty --default" "fetch passes the manifest, the folder and --default"
expect_rc 0 "fetch NAME" env CARVE_FETCH_SCRIPT="$T/fetch.py" "$CARVE" models fetch isnet-small --models-dir "$T/empty"
has "$T/out" "$T/empty isnet-small" "fetch passes the names"
expect_rc 1 "a failing installer" env CARVE_FETCH_SCRIPT=/nonexistent/fetch.py "$CARVE" models fetch --models-dir "$T/empty"
has "$T/err" "fetching failed" "a failed fetch says so"

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
# the sha256 matches but the file is not a model: BAD when the runtime
# loads, OK (sha256 only) when it does not
H=$(python3 -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())" "$T/mine/m.onnx")
sed "s/0000000000000000000000000000000000000000000000000000000000000000/$H/" "$T/mine/manifest.json" > "$T/mine/m2" && mv "$T/mine/m2" "$T/mine/manifest.json"
"$CARVE" models verify mine --models-dir "$T/mine" >"$T/out" 2>"$T/err"; rc=$?
if grep -q "runtime not available" "$T/out"; then
    if [ "$rc" = 0 ] && grep -q "mine *OK *sha256 $H" "$T/out"; then ok; else bad "verify, no runtime: exit $rc $(cat "$T/out")"; fi
else
    if [ "$rc" = 1 ] && grep -q "sha256 ok but it does not load" "$T/out"; then ok; else bad "verify, not a model: exit $rc $(cat "$T/out")"; fi
fi

# an invalid manifest is a usage error naming the field
sed 's/"depth"/"colourise"/' "$T/mine/manifest.json" > "$T/mine/m2" && mv "$T/mine/m2" "$T/mine/manifest.json"
expect_rc 2 "invalid manifest" "$CARVE" models list --models-dir "$T/mine"
has "$T/err" 'field "task"' "the error names the field"
has "$T/err" "model 1 (mine)" "the error names the model"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
