#!/bin/sh
# bench/nn/run.sh [BUILD_DIR] — the neural backends' numbers, in one run:
#   1. per model (each installed one), at 1 and 2 intra-op threads, each in a
#      fresh process: runtime load, session creation, inference time (whole
#      adapter call, min and median of RUNS), peak RSS after session creation
#      and at the end, and whether every run gave identical bytes;
#   2. agreement: IoU between the neural (ISNet) and the classical matte on
#      every sample photo;
#   3. the whole `carve run` on every sample with neural backends (auto) and
#      with classical ones only: wall time and peak RSS.
# Run from the project root after `sh scripts/onnx/setup.sh --isnet` and
# building BUILD_DIR (default: build): ninja -C BUILD tests/nn/bench_nn tools/carve
# Writes into $BENCH_WORK/nn (default /tmp/carve-bench/nn).  RUNS=3 by default;
# SECTIONS="1 2 3" picks sections.
set -eu
B=${1:-build}
SHARED=${CARVE_TEST_DATA:-tests/data}
RUNS=${RUNS:-3}
W=${BENCH_WORK:-/tmp/carve-bench}/nn
mkdir -p "$W"
test -x "$B/tests/nn/bench_nn" || { echo "build $B first (ninja -C $B tests/nn/bench_nn tools/carve)"; exit 2; }
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$B/tools/carve" models list | sed -n '1,3p'

SECTIONS=${SECTIONS:-1 2 3}
case " $SECTIONS " in *" 1 "*) ;; *) SKIP1=1 ;; esac
case " $SECTIONS " in *" 2 "*) ;; *) SKIP2=1 ;; esac
case " $SECTIONS " in *" 3 "*) ;; *) SKIP3=1 ;; esac

if [ -z "${SKIP1:-}" ]; then
echo "== 1. per model (image: bus_red_london_plate.jpg, $RUNS runs)"
printf 'model\ttask\timage\tthreads\tload_s\tsession_s\tinfer_min_s\tinfer_med_s\tinfer_cpu_med_s\trss_session_mb\trss_peak_mb\tdeterministic\tort\n' | tee "$W/models.tsv"
for spec in text_detect:ppocr-v4-det matte:isnet-medium matte:isnet-small; do
    task=${spec%%:*} model=${spec#*:}
    for t in 1 2; do
        "$B/tests/nn/bench_nn" "$task" "$SHARED/samples/bus_red_london_plate.jpg" "$t" "$RUNS" "$model" 2>"$W/err.txt" | tee -a "$W/models.tsv" \
            || echo "$model: skipped ($(head -c 200 "$W/err.txt"))"
    done
done

fi

if [ -z "${SKIP2:-}" ]; then
echo "== 2. neural vs classical matte (IoU of alpha >= 128; foreground fractions; seconds)"
printf 'image\tsize\tiou\tfg_neural\tfg_classical\tneural_s\tclassical_s\n' | tee "$W/agree.tsv"
"$B/tests/nn/bench_nn" agree "$SHARED"/samples/*.jpg "$SHARED"/samples/motorcycle_red_garage.png | tee -a "$W/agree.tsv" || true

fi

if [ -z "${SKIP3:-}" ]; then
echo "== 3. carve run: neural (auto) vs classical backends"
printf 'image\tbackends\twall_s\tcpu_s\tpeak_rss_mb\tmatte\tdetect\n' | tee "$W/run.tsv"
for f in "$SHARED"/samples/*.jpg "$SHARED"/samples/motorcycle_red_garage.png; do
    n=$(basename "$f")
    for mode in auto classical; do
        /usr/bin/time -f '%e %U %S %M' -o "$W/time.txt" "$B/tools/carve" run "$f" -o "$W/$n.$mode.svg" -q \
            --matte-backend "$mode" --text-backend "$mode" --report "$W/$n.$mode.json" >/dev/null 2>"$W/err.txt" || true
        read -r wall usr sys rss < "$W/time.txt" || true
        be=$(python3 -c "
import json,sys
try:
    d=json.load(open(sys.argv[1]))
except Exception:
    print('? ?'); sys.exit()
steps={s['name']:s.get('backend','?') for p in d.get('phases',[]) for s in p.get('steps',[])}
print(steps.get('matte','?'), steps.get('detect','?'))" "$W/$n.$mode.json")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$mode" "$wall" "$(awk "BEGIN { printf \"%.2f\", $usr + $sys }")" "$(awk "BEGIN { printf \"%.0f\", $rss / 1024 }")" "$(echo "$be" | tr ' ' '\t')" | tee -a "$W/run.tsv"
    done
done
fi
echo "results in $W"
