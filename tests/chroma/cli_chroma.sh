#!/bin/sh
# cli_chroma.sh CARVE DATA — end-to-end checks of `carve quantize` and
# `carve palette`: exit codes, messages, exact palette colours in the output.
set -u
C=$1
S=$2/samples
T=$(mktemp -d /tmp/carve-cli-chroma-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect_rc() { # WANT CMD...
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else bad "exit $rc, want $want: $* ($(cat "$T/err"))"; fi
}
expect_in() { # FILE TEXT
    if grep -q -- "$2" "$1"; then ok; else bad "'$2' not in $1: $(cat "$1")"; fi
}

expect_rc 0 "$C" palette list
expect_in "$T/out" automotive
expect_in "$T/out" grayscale-16
expect_rc 0 "$C" palette show poster-8 --color never
expect_in "$T/out" "#d62828"
expect_rc 2 "$C" palette show no-such-palette
expect_in "$T/err" "no-such-palette"

printf 'GIMP Palette\nName: t\n1 2 3\n12 300 4\n' >"$T/bad.gpl"
expect_rc 2 "$C" palette check "$T/bad.gpl"
expect_in "$T/err" "bad.gpl:4: '12 300 4' is not a colour (0..255)"
printf '{"name":"x","colors":["#c8102e"],"extra":1}' >"$T/bad.json"
expect_rc 2 "$C" palette check "$T/bad.json"
expect_in "$T/err" "unknown field 'extra'"
printf '#c8102e red\n#ffffff\n#000000 black\n' >"$T/ok.txt"
expect_rc 0 "$C" palette check "$T/ok.txt"
expect_in "$T/out" "3 colours"
expect_rc 3 "$C" palette check "$T/missing.gpl"

# quantize to a file palette: only its colours, indexed PNG, then the
# palette used, saved as JSON, lists exactly those colours
expect_rc 0 "$C" quantize -q "$S/sedan_black_side.jpg" -o "$T/q.png" --palette "$T/ok.txt" --save-palette "$T/used.json"
expect_rc 0 "$C" palette extract "$T/q.png" --colors 256 --json

n=$(grep -o '"hex"' "$T/out" | wc -l)
if [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then ok; else bad "quantized image has $n colours, want 1..3"; fi
grep -o '#[0-9a-f]\{6\}' "$T/out" | sort >"$T/got"
printf '#000000\n#c8102e\n#ffffff\n' >"$T/allowed"
if [ -z "$(comm -23 "$T/got" "$T/allowed")" ]; then ok; else bad "colours outside the palette: $(comm -23 "$T/got" "$T/allowed")"; fi
expect_in "$T/used.json" '"name":"red"'
if head -c 8 "$T/q.png" | od -An -c | grep -q 'P   N   G'; then ok; else bad "not a PNG"; fi

# automatic palette with a locked colour and upscaling
expect_rc 0 "$C" quantize -q "$S/firetruck_cutout_rgba.png" -o "$T/a.png" --colors 6 --lock "#c8102e" --upscale 1.25 --min-region 20 --save-palette "$T/a.json"
expect_in "$T/a.json" '"#c8102e"'
expect_rc 2 "$C" quantize -q "$S/firetruck_cutout_rgba.png" -o "$T/a.png" --colors 2 --lock "#c8102e,#fff,#000"
expect_rc 2 "$C" quantize -q "$S/firetruck_cutout_rgba.png" -o "$T/a.png" --lock "#c8102e,#12345x"
expect_in "$T/err" "#12345x"
expect_rc 2 "$C" quantize -q "$S/firetruck_cutout_rgba.png" -o "$T/a.png" --upscale 9
expect_rc 3 "$C" quantize -q "$T/missing.jpg" -o "$T/a.png" --colors 4
expect_rc 2 "$C" quantize "$S/firetruck_cutout_rgba.png"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
