#!/bin/sh
# test_trace_cli.sh CARVE DATA_DIR — the `carve trace` command line: files and
# '-' for stdin/stdout give the same bytes, thread count does not matter,
# exit codes and messages for bad input.
set -u
carve=$1
data=$2
. "$(dirname "$0")/../checks.sh"

"$carve" trace "$data/flat12.png" -o "$tmp/a.svg" -q
check "file to file exits 0" test $? -eq 0
check "svg root with viewBox" grep -Eq '^<svg xmlns="http://www.w3.org/2000/svg"( xmlns:xlink="http://www.w3.org/1999/xlink")? viewBox="0 0 96 ' "$tmp/a.svg"
check "svg ends" grep -q '^</svg>$' "$tmp/a.svg"
"$carve" trace - -o - -q < "$data/flat12.png" > "$tmp/b.svg"
check "stdin to stdout exits 0" test $? -eq 0
check "stdin/stdout identical to files" cmp -s "$tmp/a.svg" "$tmp/b.svg"
"$carve" trace "$data/flat12.png" -o "$tmp/c.svg" -q --threads 1
"$carve" trace "$data/flat12.png" -o "$tmp/d.svg" -q --threads 3
check "threads 1 and 3 identical" cmp -s "$tmp/c.svg" "$tmp/d.svg"
check "default threads identical" cmp -s "$tmp/a.svg" "$tmp/c.svg"
"$carve" trace "$data/flat12.png" -o "$tmp/p.svg" -q --mode pixel --no-gap-filler
check "pixel mode without gap filler has no stroke" sh -c "! grep -q stroke '$tmp/p.svg'"
"$carve" trace "$data/many.png" -o "$tmp/m.svg" -q 2> "$tmp/err"
rc=$?
check "too many colours exits 3 (got $rc)" test $rc -eq 3
check "message points to quantize" grep -q "carve quantize" "$tmp/err"
check "message says how many" grep -q "has 400 distinct" "$tmp/err"
check "no output file on failure" test ! -e "$tmp/m.svg"
"$carve" trace "$tmp/missing.png" -o "$tmp/x.svg" -q 2> "$tmp/err"
rc=$?
check "missing input exits 3 (got $rc)" test $rc -eq 3
check "message names the file" grep -q "missing.png" "$tmp/err"
"$carve" trace "$data/flat12.png" -o "$tmp/x.svg" --mode curvy 2> "$tmp/err"
rc=$?
check "bad option value exits 2 (got $rc)" test $rc -eq 2
check "message names the option" grep -q "mode" "$tmp/err"
"$carve" trace --help > "$tmp/help" 2>&1
check "help exits 0" test $? -eq 0
check "help lists trace options" grep -q -- "--filter-speckle" "$tmp/help"
finish
