#!/bin/bash
# bench/pipeline/mpx_wall.sh — issue 9's speed target: wall seconds per Mpx of
# `carve run` end to end (process start, model loads, decode, all phases,
# write), default options and the default install, on the sample photos
# resampled to 1 Mpx.  Several carve binaries (or one binary with
# different environments) run interleaved, photo by photo, so that they meet
# the same machine load; run it on an idle machine (the load average is
# printed before and after).
#
#   bash bench/pipeline/mpx_wall.sh OUTDIR LABEL=CMD [LABEL=CMD ...]
#   CMD    a carve binary, optionally preceded by VAR=VALUE words for env,
#          e.g. "new=build/tools/carve" "nothp=CARVE_HUGEPAGES=0 build/tools/carve"
#   env RUNS=N   runs per photo and binary (default 3; the median is kept)
#
# Inputs: tests/data/samples/{bus_red_london_plate,pickup_white_street,
# sedan_black_side,supercar_white_plate}.jpg resampled by libvips (`vips
# resize`, the default Lanczos3 kernel) by sqrt(1e6 / pixels) to ~1 Mpx.
# Prints a markdown table (median wall s, user+sys CPU s, peak RSS MB per
# photo and binary) and the median of the per-photo medians, in s per Mpx
# (each input is 1.00 ± 0.01 Mpx).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:?usage: mpx_wall.sh OUTDIR LABEL=CMD...}
shift
RUNS=${RUNS:-3}
PHOTOS=(bus_red_london_plate pickup_white_street sedan_black_side supercar_white_plate)
mkdir -p "$OUT"
for p in "${PHOTOS[@]}"; do
    src="$ROOT/tests/data/samples/$p.jpg"
    [ -s "$OUT/1mp_$p.jpg" ] && continue
    w=$(vipsheader -f width "$src")
    h=$(vipsheader -f height "$src")
    s=$(python3 -c "import math; print(math.sqrt(1e6 / ($w * $h)))")
    vips resize "$src" "$OUT/1mp_$p.jpg" "$s"
done
# one untimed pass: binaries, libraries and models in the page cache
for spec in "$@"; do
    # shellcheck disable=SC2086
    env ${spec#*=} run "$OUT/1mp_${PHOTOS[0]}.jpg" -o "$OUT/warm.svg" -q
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: >"$OUT/times.tsv"
for r in $(seq 1 "$RUNS"); do
    for p in "${PHOTOS[@]}"; do
        for spec in "$@"; do
            label=${spec%%=*}
            # shellcheck disable=SC2086
            t=$(/usr/bin/time -f "%e %U %S %M" env ${spec#*=} run "$OUT/1mp_$p.jpg" -o "$OUT/$label.$p.svg" -q 2>&1 >/dev/null | tail -1)
            echo "$label	$p	$t" >>"$OUT/times.tsv"
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$OUT/times.tsv" "$@" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
labels = [s.split("=", 1)[0] for s in sys.argv[2:]]
photos = []
for r in rows:
    if r[1] not in photos:
        photos.append(r[1])
def med(label, photo, k):
    v = [float(r[2].split()[k]) for r in rows if r[0] == label and r[1] == photo]
    return statistics.median(v)
print("| photo (1 Mpx) | " + " | ".join(f"{l} wall s | {l} CPU s | {l} peak MB" for l in labels) + " |")
print("|---|" + "---:|" * (3 * len(labels)))
for p in photos:
    cells = []
    for l in labels:
        cpu = statistics.median([float(r[2].split()[1]) + float(r[2].split()[2]) for r in rows if r[0] == l and r[1] == p])
        cells += [f"{med(l, p, 0):.2f}", f"{cpu:.2f}", f"{med(l, p, 3) / 1024:.0f}"]
    print(f"| {p} | " + " | ".join(cells) + " |")
print("| **median s per Mpx** | " + " | ".join(
    f"**{statistics.median([med(l, p, 0) for p in photos]):.2f}** | | " for l in labels) + " |")
EOF
