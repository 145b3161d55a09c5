#!/bin/bash
# test_cli.sh CARVE DATA — end-to-end tests of the built carve binary:
# help and version, exit codes (2 usage, 3 input, 4 output, 130 interrupt),
# carve run on a photo (SVG, JSON/HTML report, intermediates, config,
# stdout), batch mode over a folder with a bad file, no partial outputs.
# Prints "N passed, N failed" like the C tests.
set -u
CARVE=${1:?usage: test_cli.sh CARVE DATA}
DATA=${2:?usage: test_cli.sh CARVE DATA}
T=$(mktemp -d /tmp/carve_cli_XXXXXX)
trap 'rm -rf "$T"' EXIT
# no neural models: the classical backends (fast, the same on every machine)
export CARVE_MODELS_DIR="$T/no-models"
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect CODE DESCRIPTION -- command...: runs it, stdout/stderr into $T/out $T/err
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, want $want; stderr: $(head -c 400 "$T/err")"; fi
}
has() { # has FILE TEXT DESCRIPTION
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(basename "$1"): $(head -c 300 "$1")"; fi
}
lacks() {
    if grep -qF -- "$2" "$1"; then bad "$3: '$2' found in $(basename "$1")"; else ok; fi
}
exists() { if [ -s "$1" ]; then ok; else bad "$2: $1 missing or empty"; fi; }
absent() { if [ -e "$1" ]; then bad "$2: $1 exists"; else ok; fi; }

BUS="$DATA/samples/bus_red_london_plate.jpg"
MOTO="$DATA/samples/motorcycle_red_garage.png"
FAST=(--work-size 256 -q)

# ---- general ----------------------------------------------------------------
expect 0 "--version" -- "$CARVE" --version
if grep -Eq '^carve [0-9]+\.[0-9]+\.[0-9]+$' "$T/out"; then ok; else bad "--version prints '$(cat "$T/out")'"; fi
expect 0 "--help" -- "$CARVE" --help
has "$T/out" "commands:" "--help"
expect 2 "no arguments" -- "$CARVE"
expect 2 "unknown command" -- "$CARVE" frobnicate
has "$T/err" "frobnicate" "unknown command message"

# every subcommand: --help works and names it; a bad flag is a usage error
for cmd in run trace quantize palette models options; do
    expect 0 "$cmd --help" -- "$CARVE" "$cmd" --help
    if head -n1 "$T/out" | grep -q "^usage: carve $cmd"; then ok; else bad "$cmd --help: $(head -n1 "$T/out")"; fi
    expect 0 "help $cmd" -- "$CARVE" help "$cmd"
    expect 2 "$cmd --no-such-flag" -- "$CARVE" "$cmd" --no-such-flag
    has "$T/err" "no-such-flag" "$cmd bad flag message"
done

# ---- carve run: usage and input errors ---------------------------------------
expect 2 "run without input" -- "$CARVE" run -o "$T/x.svg"
expect 2 "run with two inputs" -- "$CARVE" run "$BUS" "$BUS" -o "$T/x.svg"
expect 3 "run missing input" -- "$CARVE" run "$T/missing.jpg" -o "$T/x.svg"
has "$T/err" "missing.jpg" "missing input message"
echo "this is not a jpeg" >"$T/garbage.jpg"
expect 3 "run corrupt input" -- "$CARVE" run "$T/garbage.jpg" -o "$T/x.svg"
absent "$T/x.svg" "no output after failed runs"
expect 2 "run --colors 999" -- "$CARVE" run "$BUS" -o "$T/x.svg" --colors 999
has "$T/err" "colors" "out-of-range message names the key"
has "$T/err" "999" "out-of-range message names the value"
has "$T/err" "2..256" "out-of-range message names the range"
expect 2 "run --preset nope" -- "$CARVE" run "$BUS" -o "$T/x.svg" --preset nope
has "$T/err" "nope" "bad preset message"
expect 2 "run --mode curvy" -- "$CARVE" run "$BUS" -o "$T/x.svg" --mode curvy
expect 2 "run --erase 1,2,3" -- "$CARVE" run "$BUS" -o "$T/x.svg" "${FAST[@]}" --erase 1,2,3
has "$T/err" "erase" "bad erase message"
expect 2 "run --subject 900,20 (outside the image)" -- "$CARVE" run "$BUS" -o "$T/x.svg" "${FAST[@]}" --subject 900,20
has "$T/err" "outside the 546x413 image" "subject outside the image: message"
expect 2 "run --subject bus" -- "$CARVE" run "$BUS" -o "$T/x.svg" "${FAST[@]}" --subject bus
has "$T/err" "option subject" "bad subject message"
absent "$T/x.svg" "no output after a bad subject"
expect 0 "run --subject box --object-backend classical" -- "$CARVE" run "$BUS" -o "$T/x.svg" "${FAST[@]}" \
    --subject 64,112,411,276 --object-backend classical
rm -f "$T/x.svg"
expect 2 "run --background purple" -- "$CARVE" run "$BUS" -o "$T/x.svg" "${FAST[@]}" --background purple
has "$T/err" "background" "bad background message"
expect 2 "run --palette missing" -- "$CARVE" run "$BUS" -o "$T/x.svg" "${FAST[@]}" --palette "$T/nopal.gpl" \
    --report "$T/failed.json"
absent "$T/x.svg" "no output after option errors"
# the report of a failed run says why
if python3 - "$T/failed.json" <<'EOF'; then ok; else bad "report of a failed run"; fi
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "failed", r["status"]
assert "nopal.gpl" in r["error"]["message"], r["error"]
steps = {s["name"]: s for p in r["phases"] for s in p["steps"]}
assert steps["palette"]["status"] == "failed", steps["palette"]
EOF
echo "colours = 5" >"$T/bad.conf"
expect 2 "run --config with an unknown key" -- "$CARVE" run "$BUS" -o "$T/x.svg" --config "$T/bad.conf"
has "$T/err" "colours" "config error names the key"
has "$T/err" "bad.conf" "config error names the file"
expect 4 "run to an unwritable path" -- "$CARVE" run "$BUS" -o "$T/no/such/dir/x.svg" "${FAST[@]}"

# ---- carve run: success ------------------------------------------------------
printf 'colors = 6\n# a comment\nauto_erase = false\n' >"$T/good.conf"
expect 0 "run bus" -- "$CARVE" run "$BUS" -o "$T/bus.svg" "${FAST[@]}" --config "$T/good.conf" \
    --report "$T/bus.json" --keep-intermediates "$T/inter" --erase 10,10,40,20 --erase 100,100,30,30
exists "$T/bus.svg" "run output"
has "$T/bus.svg" "<svg" "run output is SVG"
has "$T/bus.svg" "</svg>" "run output is complete"
exists "$T/bus.json" "JSON report"
if python3 - "$T/bus.json" <<'EOF'; then ok; else bad "JSON report content"; fi
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "ok", r["status"]
names = [p["name"] for p in r["phases"]]
assert names == ["sanitize", "steer", "chroma", "vector"], names
for p in r["phases"]:
    assert p["backend"] and p["time_s"] >= 0, p
assert r["options"]["colors"] == 6 and r["options"]["auto_erase"] is False, r["options"]
assert len(r["phases"][0]["erased_boxes"]) == 2, r["phases"][0]["erased_boxes"]
assert max(r["input"]["work_width"], r["input"]["work_height"]) == 256
assert len(r["phases"][2]["palette"]["colors"]) <= 6
EOF
for ph in input erase_mask sanitize steer chroma; do
    if ls "$T/inter/"bus_red_london_plate.*-$ph.png >/dev/null 2>&1; then ok; else bad "intermediate $ph missing: $(ls "$T/inter")"; fi
done
# config file values lose to flags
expect 0 "flag beats config" -- "$CARVE" run "$BUS" -o "$T/bus2.svg" "${FAST[@]}" --config "$T/good.conf" \
    --colors 4 --report "$T/bus2.json"
if python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['options']['colors']==4" "$T/bus2.json"; then ok; else bad "flag did not beat config"; fi
# preset then explicit flag
expect 0 "preset poster" -- "$CARVE" run "$MOTO" -o "$T/moto.svg" --preset poster --work-size 256 -q --report "$T/moto.json"
if python3 -c "import json,sys; r=json.load(open(sys.argv[1])); o=r['options']; assert o['preset']=='poster' and o['work_size']==256 and o['colors']<=10, o" "$T/moto.json"; then ok; else bad "preset options"; fi
# a preset is a base wherever it stands: an explicit flag before it still wins
expect 0 "flag before preset" -- "$CARVE" run "$MOTO" -o "$T/moto2.svg" --colors 12 --preset poster --work-size 256 -q --report "$T/moto2.json"
if python3 -c "import json,sys; o=json.load(open(sys.argv[1]))['options']; assert o['preset']=='poster' and o['colors']==12 and o['filter_speckle']==24, o" "$T/moto2.json"; then ok; else bad "flag before --preset lost"; fi
# HTML report: images embedded, SVG inline
expect 0 "html report" -- "$CARVE" run "$MOTO" -o "$T/moto.svg" "${FAST[@]}" --report "$T/moto.html"
has "$T/moto.html" "<!DOCTYPE html>" "html report"
has "$T/moto.html" "data:image/png;base64," "html report embeds images"
has "$T/moto.html" "<svg" "html report inlines the SVG"
has "$T/moto.html" "sanitize" "html report names phases"
# a work size over 800 px: the page embeds downscaled images
expect 0 "html report, large" -- "$CARVE" run "$DATA/samples/pickup_white_street.jpg" -o "$T/pickup.svg" -q \
    --work-size 900 --report "$T/pickup.html"
if [ "$(grep -o 'data:image/png;base64' "$T/pickup.html" | wc -l)" -ge 4 ]; then ok; else bad "large html report lacks images"; fi
# stdout output, no progress noise on stdout
expect 0 "run to stdout" -- "$CARVE" run "$BUS" "${FAST[@]}"
if head -c 200 "$T/out" | grep -q "<svg"; then ok; else bad "stdout is not SVG: $(head -c 100 "$T/out")"; fi
# a failed run does not clobber an existing output
cp "$T/bus.svg" "$T/keep.svg"
expect 3 "failed run keeps old output" -- "$CARVE" run "$T/garbage.jpg" -o "$T/keep.svg"
if cmp -s "$T/bus.svg" "$T/keep.svg"; then ok; else bad "existing output was changed by a failed run"; fi
# determinism across thread counts through the CLI
"$CARVE" run "$BUS" -o "$T/t1.svg" "${FAST[@]}" --threads 1 && "$CARVE" run "$BUS" -o "$T/t2.svg" "${FAST[@]}" --threads 2
if cmp -s "$T/t1.svg" "$T/t2.svg"; then ok; else bad "threads 1 and 2 give different SVGs"; fi
ls "$T"/*.tmp* "$T"/.*.tmp* >/dev/null 2>&1 && bad "temporary files left: $(ls -a "$T")" || ok

# ---- batch mode ----------------------------------------------------------------
mkdir -p "$T/in"
cp "$BUS" "$T/in/bus.jpg"
cp "$MOTO" "$T/in/moto.png"
cp "$T/garbage.jpg" "$T/in/broken.jpg"
echo "notes" >"$T/in/readme.txt"
expect 1 "batch with one bad file" -- "$CARVE" run "$T/in" -o "$T/outdir" --work-size 256 --report "$T/reports"
exists "$T/outdir/bus.svg" "batch output bus"
exists "$T/outdir/moto.svg" "batch output moto"
absent "$T/outdir/broken.svg" "no output for the bad file"
absent "$T/outdir/readme.svg" "non-images skipped"
has "$T/err" "2 of 3 done, 1 failed" "batch summary"
has "$T/err" "broken.jpg" "batch lists the failed file"
exists "$T/reports/bus.json" "batch report"
if python3 - "$T/reports/summary.json" <<'EOF'; then ok; else bad "batch summary.json"; fi
import json, sys
r = json.load(open(sys.argv[1]))
assert r["images"] == 3 and r["done"] == 2 and r["failed"] == 1 and r["interrupted"] is False, r
byname = {f["input"]: f for f in r["files"]}
assert byname["broken.jpg"]["status"] == "failed" and byname["broken.jpg"]["exit_code"] == 3, byname["broken.jpg"]
assert "broken.jpg" in byname["broken.jpg"]["error"]
assert byname["bus.jpg"]["status"] == "ok" and byname["bus.jpg"]["svg"].endswith("bus.svg")
EOF
expect 2 "batch without -o" -- "$CARVE" run "$T/in"
mkdir -p "$T/empty"
expect 3 "batch over an empty folder" -- "$CARVE" run "$T/empty" -o "$T/outdir2"
rm "$T/in/broken.jpg"
cp "$MOTO" "$T/in/bus.png" # two inputs named bus: outputs keep their suffix
expect 0 "batch all good" -- "$CARVE" run "$T/in" -o "$T/outdir3" --work-size 256 -q --keep-intermediates "$T/inter3"
exists "$T/outdir3/moto.svg" "batch all good output"
exists "$T/outdir3/bus.jpg.svg" "batch name clash (jpg)"
exists "$T/outdir3/bus.png.svg" "batch name clash (png)"
exists "$T/inter3/moto.6-chroma.png" "batch intermediates"

# ---- interrupt: SIGINT cancels, exit 130, no output -----------------------------
"$CARVE" run "$DATA/samples/pickup_white_street.jpg" -o "$T/int.svg" -q --work-size 1800 &
pid=$!
# wait until carve catches SIGINT (bit 2 of SigCgt; before that, in a
# background job of this script, SIGINT is ignored), then interrupt the run
for i in $(seq 1 100); do
    cgt=$(awk '/^SigCgt:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    [ -n "$cgt" ] && [ $((0x$cgt & 2)) = 2 ] && break
    sleep 0.02
done
sleep 0.1
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
if [ $rc = 130 ]; then
    ok
    absent "$T/int.svg" "no output after an interrupt"
elif [ $rc = 0 ]; then
    echo "note: the run finished before the interrupt; interrupt not tested" >&2
else
    bad "interrupted run exited $rc, want 130"
fi

# ---- huge pages: carve run re-executes itself with glibc's hugetlb tunable ----
# (tools/hugepages.h).  The process waits on stdin, so its environment can be
# read in /proc while it runs.  (glibc cuts the GLIBC_TUNABLES string that
# /proc shows after its first entry; the process itself sees all of it.)
thp=/sys/kernel/mm/transparent_hugepage/enabled
env_of_run() { # env_of_run ENV-ARGS...: a waiting `carve run -`'s GLIBC_TUNABLES and CARVE_HUGEPAGES
    rm -f "$T/hp.fifo"
    mkfifo "$T/hp.fifo"
    env "$@" "$CARVE" run - -o "$T/hp.svg" -q <"$T/hp.fifo" >/dev/null 2>&1 &
    local pid=$! i cgt
    exec 7>"$T/hp.fifo" # the run reads stdin until this closes
    # carve catches SIGINT (bit 2 of SigCgt) once it is past the re-exec
    for i in $(seq 1 500); do
        cgt=$(awk '/^SigCgt:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        [ -n "$cgt" ] && [ $((0x$cgt & 2)) = 2 ] && break
        sleep 0.02
    done
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -E '^(GLIBC_TUNABLES|CARVE_HUGEPAGES)=' | sort | tr '\n' ' '
    exec 7>&-
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
if [ -r "$thp" ] && ! grep -q '\[never\]' "$thp" && [ "$(uname -s)" = Linux ]; then
    got=$(env_of_run -u GLIBC_TUNABLES -u CARVE_HUGEPAGES)
    [ "$got" = "CARVE_HUGEPAGES=reexec GLIBC_TUNABLES=glibc.malloc.hugetlb=1 " ] && ok || bad "huge pages by default: got '$got'"
    got=$(env_of_run -u CARVE_HUGEPAGES GLIBC_TUNABLES=glibc.malloc.tcache_count=7)
    [ "$got" = "CARVE_HUGEPAGES=reexec GLIBC_TUNABLES=glibc.malloc.tcache_count=7 " ] && ok || bad "huge pages beside the caller's tunables: got '$got'"
    got=$(env_of_run -u GLIBC_TUNABLES CARVE_HUGEPAGES=0)
    [ "$got" = "CARVE_HUGEPAGES=0 " ] && ok || bad "CARVE_HUGEPAGES=0 keeps the environment: got '$got'"
    got=$(env_of_run -u CARVE_HUGEPAGES GLIBC_TUNABLES=glibc.malloc.hugetlb=0)
    [ "$got" = "CARVE_HUGEPAGES=reexec GLIBC_TUNABLES=glibc.malloc.hugetlb=0 " ] && ok || bad "the caller's own hugetlb setting wins: got '$got'"
    got=$(env_of_run -u CARVE_HUGEPAGES GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=0:glibc.malloc.arena_max=4)
    [ "$got" = "GLIBC_TUNABLES=glibc.malloc.hugetlb=1 " ] && ok || bad "nothing to add, no re-exec: got '$got'"
else
    echo "note: no transparent huge pages here; the re-exec is not tested" >&2
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
