#!/bin/sh
# test_export_cli.sh CARVE DATA_DIR SAMPLES_DIR — the exports on the command
# line: the format follows the output's extension (carve trace and carve
# run), '-' with --format, unknown extension and bad sizes exit 2 naming the
# value and write nothing, cut mode refuses a palette colour named CutContour.
set -u
carve=$1
data=$2
samples=$3
. "$(dirname "$0")/../checks.sh"
starts() { [ "$(head -c ${#2} "$1")" = "$2" ]; } # starts FILE TEXT

in=$data/flat12.png
for ext in svg pdf eps dxf PDF; do
    "$carve" trace "$in" -o "$tmp/a.$ext" -q
    check "trace to .$ext exits 0" test $? -eq 0
done
check ".svg is SVG" starts "$tmp/a.svg" "<svg"
check ".pdf is PDF" starts "$tmp/a.pdf" "%PDF-1.5"
check ".PDF is PDF" cmp -s "$tmp/a.pdf" "$tmp/a.PDF"
check ".eps is EPS" starts "$tmp/a.eps" "%!PS-Adobe-3.0 EPSF-3.0"
check ".dxf is DXF" starts "$tmp/a.dxf" "0"
check ".dxf has mm units" sh -c "grep -A2 -x '\\\$INSUNITS' '$tmp/a.dxf' | tail -1 | grep -q -x 4"
"$carve" trace - -o - -q --format pdf < "$in" > "$tmp/s.pdf"
check "stdout with --format pdf = the file" cmp -s "$tmp/s.pdf" "$tmp/a.pdf"
"$carve" trace "$in" -o "$tmp/t1.eps" -q --threads 1
"$carve" trace "$in" -o "$tmp/t3.eps" -q --threads 3
check "eps threads 1 and 3 identical" cmp -s "$tmp/t1.eps" "$tmp/t3.eps"

# unknown extension: exit 2, lists the formats, writes nothing
"$carve" trace "$in" -o "$tmp/x.png" -q 2> "$tmp/err"
check "unknown extension exits 2" test $? -eq 2
check "message lists the formats" grep -q '.svg, .pdf, .eps or .dxf' "$tmp/err"
check "nothing written" test ! -e "$tmp/x.png"
# sizes
"$carve" trace "$in" -o "$tmp/w.svg" -q --width 300 2> "$tmp/err"
check "--width 300 exits 2" test $? -eq 2
check "message names '300' and the units" grep -q "width: '300' has no unit" "$tmp/err"
"$carve" trace "$in" -o "$tmp/w.svg" -q --width 0mm 2> "$tmp/err"
check "--width 0mm exits 2" test $? -eq 2
"$carve" trace "$in" -o "$tmp/w.svg" -q --width 11m 2> "$tmp/err"
check "--width 11m exits 2" test $? -eq 2
"$carve" trace "$in" -o "$tmp/w.svg" -q --width 20000mm 2> "$tmp/err"
check "--width 20000mm exits 2 (over 10 m)" test $? -eq 2
check "no file after a refused size" test ! -e "$tmp/w.svg"
"$carve" trace "$in" -o "$tmp/w.svg" -q --width 30cm
check "--width 30cm in the SVG" grep -q 'width="30cm"' "$tmp/w.svg"
# a failed write leaves nothing behind (atomic writer)
"$carve" trace "$in" -o "$tmp/no/such/dir/a.pdf" -q 2> "$tmp/err"
check "unwritable output exits 4" test $? -eq 4
check "no temp files left" test "$(ls "$tmp" | grep -c '^\.')" -eq 0
# cut mode on the command line
"$carve" trace "$in" -o "$tmp/c.pdf" -q --cut --min-feature 1mm
check "cut PDF has the CutContour separation" grep -q -a '/Separation /CutContour' "$tmp/c.pdf"

# carve run: the format from the extension; a palette colour named CutContour is refused in cut mode
photo=$samples/bus_red_london_plate.jpg
"$carve" run "$photo" -o "$tmp/r.pdf" -q --work-size 256 --report "$tmp/r.json"
check "carve run to .pdf exits 0" test $? -eq 0
check "carve run wrote a PDF" starts "$tmp/r.pdf" "%PDF-1.5"
check "report says format pdf" grep -q '"format": "pdf"' "$tmp/r.json"
printf 'GIMP Palette\nName: cut\n#\n255 255 255 white\n255 0 255 CutContour\n0 0 0 black\n' > "$tmp/p.gpl"
"$carve" run "$photo" -o "$tmp/r2.svg" -q --work-size 256 --palette "$tmp/p.gpl" --cut 2> "$tmp/err"
check "palette colour CutContour with --cut exits 2" test $? -eq 2
check "message names CutContour" grep -q "named 'CutContour'" "$tmp/err"
check "no output after the refusal" test ! -e "$tmp/r2.svg"
"$carve" run "$photo" -o "$tmp/r3.svg" -q --work-size 256 --palette "$tmp/p.gpl"
check "the same palette without --cut is fine" test $? -eq 0

finish
