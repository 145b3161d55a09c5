#!/bin/bash
# bench/pipeline/run.sh — carve run: per-phase and whole-run time and peak RSS
# on the sample photos at about 1, 4 and 12 Mpx, and the cost-vs-pixels curve.
#
#   bash bench/pipeline/run.sh [CARVE] [OUTDIR]
#   CARVE   the carve binary (default build/tools/carve)
#   OUTDIR  where inputs, SVGs, reports and results go (default
#           ${BENCH_WORK:-/tmp/carve-bench}/pipeline)
#   env QUICK=1   fewer photos and sizes (a smoke run)
#   env RUNS=N    runs per measurement, the median time is kept (default 1)
#   env BACKEND=classical|auto|neural   matte and text backends (default
#                 classical: what a machine without model files runs; auto
#                 uses the neural models when installed)
#
# Two settings are measured:
#   default  carve run IN -o OUT.svg (work_size 1600: larger photos are
#            downscaled first, so the cost stops growing with the input size);
#   full     the same with --work-size set to the photo's long side: every
#            phase runs at the full resolution (the scaling curve).
# Times are wall seconds of the whole command (process start, decode, write
# included) plus the phase times from the run report, and its CPU seconds
# (user + system: less sensitive to a busy machine; CPU/2 is about the wall
# time on an idle 2-core machine); peak RSS is GNU time's maximum resident
# set size of the process.  Inputs are made by resampling
# the samples (PIL, Lanczos) to the target pixel count and saving JPEG q92.
# Writes results.tsv and results.md (markdown tables) into OUTDIR.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CARVE=${1:-$ROOT/build/tools/carve}
OUT=${2:-${BENCH_WORK:-/tmp/carve-bench}/pipeline}
SAMPLES=${CARVE_TEST_DATA:-$ROOT/tests/data}/samples
RUNS=${RUNS:-1}
BACKEND=${BACKEND:-classical}
PY=/usr/bin/python3 # Debian's python3 with PIL
[ -x "$CARVE" ] || { echo "no carve binary at $CARVE (build it: ninja -C build tools/carve)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 2; }
mkdir -p "$OUT/in" "$OUT/svg" "$OUT/report"

if [ "${QUICK:-0}" = 1 ]; then
    PHOTOS="supercar_white_plate.jpg"
    SIZES="1 4"
    CURVE_PHOTO=pickup_white_street.jpg
    CURVE="0.25 1 2"
else
    PHOTOS="supercar_white_plate.jpg sedan_black_side.jpg pickup_white_street.jpg bus_red_london_plate.jpg motorcycle_red_garage.png"
    SIZES="1 4 12"
    CURVE_PHOTO=pickup_white_street.jpg
    CURVE="0.25 0.5 1 2 4 8 12"
fi

# make IN at about MPX megapixels: $OUT/in/<stem>_<mpx>mp.jpg
make_input() {
    local photo=$1 mpx=$2
    local dst="$OUT/in/${photo%.*}_${mpx}mp.jpg"
    if [ ! -s "$dst" ]; then
        $PY - "$SAMPLES/$photo" "$dst" "$mpx" <<'EOF'
import sys
from PIL import Image
src, dst, mpx = sys.argv[1], sys.argv[2], float(sys.argv[3])
im = Image.open(src).convert("RGB")
w, h = im.size
f = (mpx * 1e6 / (w * h)) ** 0.5
im = im.resize((max(1, round(w * f)), max(1, round(h * f))), Image.LANCZOS)
im.save(dst, quality=92)
EOF
    fi
    echo "$dst"
}

# measure SETTING IN: one TSV row
measure() {
    local setting=$1 in=$2
    local stem
    stem=$(basename "${in%.*}")
    local extra=(--matte-backend "$BACKEND" --text-backend "$BACKEND")
    if [ "$setting" = full ]; then
        local ls
        ls=$($PY -c "from PIL import Image; import sys; print(max(Image.open(sys.argv[1]).size))" "$in")
        extra+=(--work-size "$ls")
    fi
    local times=() cpus=() rss=0 i
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -f "%e %M %U %S" -o "$OUT/time.txt" "$CARVE" run "$in" -o "$OUT/svg/$stem.$setting.svg" -q \
            --report "$OUT/report/$stem.$setting.json" "${extra[@]}"
        read -r t m u sy <"$OUT/time.txt"
        times+=("$t")
        cpus+=("$(echo "$u $sy" | awk '{printf "%.2f", $1 + $2}')")
        [ "$m" -gt "$rss" ] && rss=$m
    done
    local med cpu
    med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    $PY - "$OUT/report/$stem.$setting.json" "$setting" "$stem" "$med" "$rss" "$OUT/svg/$stem.$setting.svg" "$cpu" <<'EOF'
import json, os, sys
rep, setting, stem, wall, rss, svg, cpu = sys.argv[1:]
r = json.load(open(rep))
i = r["input"]
ph = {p["name"]: p["time_s"] for p in r["phases"]}
print("\t".join(str(x) for x in [
    setting, stem, i["width"], i["height"], round(i["width"] * i["height"] / 1e6, 2),
    i["work_width"], i["work_height"], round(i["work_width"] * i["work_height"] / 1e6, 2),
    r.get("prepare_time_s", 0), ph.get("sanitize", 0), ph.get("steer", 0), ph.get("chroma", 0), ph.get("vector", 0),
    r["totals"]["time_s"], wall, cpu, round(int(rss) / 1024, 1), os.path.getsize(svg)]))
EOF
}

HDR="setting\tphoto\twidth\theight\tmpx\twork_w\twork_h\twork_mpx\tprepare_s\tsanitize_s\tsteer_s\tchroma_s\tvector_s\tpipeline_s\twall_s\tcpu_s\tpeak_rss_mb\tsvg_bytes"
echo -e "$HDR" >"$OUT/results.tsv"
echo "carve: $("$CARVE" --version)   backends: $BACKEND   machine: $(nproc) cores, $(uname -m)   load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt" >&2
for photo in $PHOTOS; do
    for mpx in $SIZES; do
        in=$(make_input "$photo" "$mpx")
        for setting in default full; do
            row=$(measure "$setting" "$in")
            echo "$row" >>"$OUT/results.tsv"
            echo "$row" >&2
        done
    done
done
for mpx in $CURVE; do
    in=$(make_input "$CURVE_PHOTO" "$mpx")
    row=$(measure full "$in")
    echo "$row" | sed 's/^full/curve/' >>"$OUT/results.tsv"
    echo "$row" >&2
done

# markdown tables
$PY - "$OUT/results.tsv" >"$OUT/results.md" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
cols = ["photo", "width", "height", "mpx", "work_mpx", "prepare_s", "sanitize_s", "steer_s", "chroma_s", "vector_s",
        "pipeline_s", "wall_s", "cpu_s", "peak_rss_mb", "svg_bytes"]
for setting, title in [("default", "default options (work_size 1600)"), ("full", "full resolution (--work-size = long side)")]:
    sel = [r for r in rows if r["setting"] == setting]
    if not sel:
        continue
    print(f"\n### {title}\n")
    print("| " + " | ".join(cols) + " | s per work Mpx |")
    print("|" + "---|" * (len(cols) + 1))
    for r in sel:
        spm = float(r["wall_s"]) / max(float(r["work_mpx"]), 1e-9)
        print("| " + " | ".join(r[c] for c in cols) + f" | {spm:.2f} |")
sel = [r for r in rows if r["setting"] == "curve"]
if sel:
    print("\n### cost vs pixels (full resolution, one photo)\n")
    print("| Mpx | wall s | CPU s | pipeline s | wall s per Mpx | CPU s per Mpx | peak RSS MB | RSS MB per Mpx |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sel:
        m = float(r["work_mpx"])
        print(f"| {m} | {r['wall_s']} | {r['cpu_s']} | {r['pipeline_s']} | {float(r['wall_s']) / m:.2f} | "
              f"{float(r['cpu_s']) / m:.2f} | {r['peak_rss_mb']} | {float(r['peak_rss_mb']) / m:.0f} |")
EOF
cat "$OUT/results.md"
