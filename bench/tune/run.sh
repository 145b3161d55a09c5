#!/bin/sh
# bench/tune/run.sh — carve tune: speed (trials/minute, wall time of a
# 40-trial tuning on the 6 sample photos at a work size of <= 1 Mpx), the
# score curve, and the held-out result on 5 OTHER photos (bench/perception),
# for two kinds of references:
#   carve  — carve's own output with options the tuner is not told (HIDDEN)
#   poster — not carve: ImageMagick's median filter + posterize (a scripted
#            "hand-simplified" drawing) that keeps the background, so this
#            kind runs with --background keep (a base option, not searched)
# Usage: bench/tune/run.sh [BUILD_DIR] [OUT_DIR] [TRIALS]
#   env: KINDS="carve poster" (which references), SEED=1, KEEP_REFS=1 (reuse OUT_DIR's references)
set -eu
B=${1:-build}
OUT=${2:-/tmp/carve-bench-tune}
TRIALS=${3:-40}
SEED=${SEED:-1}
C=$B/tools/carve
HIDDEN='{"colors": 6, "flatten": 3, "min_region": 60, "filter_speckle": 40, "corner_threshold": 110, "mode": "polygon", "trace_tolerance": 2.0}'
WS=1224  # 1224 x 816 = 1.0 Mpx for a 3:2 photo
if [ -z "${KEEP_REFS:-}" ]; then
rm -rf "$OUT"
mkdir -p "$OUT/photos" "$OUT/held" "$OUT/carve/refs" "$OUT/carve/held" "$OUT/poster/refs" "$OUT/poster/held"
cp tests/data/samples/* "$OUT/photos/"
cp bench/perception/photos/* "$OUT/held/"
echo "$HIDDEN" > "$OUT/hidden.json"
for d in photos held; do
  sub=refs; [ $d = held ] && sub=held
  for f in "$OUT/$d"/*; do
    b=$(basename "$f"); s=${b%.*}
    "$C" run "$f" -o "$OUT/carve/$sub/$s.svg" --config "$OUT/hidden.json" --work-size $WS -q
    convert "$f" -resize ${WS}x${WS}\> -median 7 -posterize 3 "$OUT/poster/$sub/$s.png"
  done
done
fi
KINDS=${KINDS:-carve poster}
for kind in $KINDS; do
  BASE="--work-size $WS"
  [ $kind = poster ] && BASE="$BASE --background keep"
  echo "== $kind references: tuning $TRIALS trials on 6 photos (work size $WS), seed $SEED"
  start=$(date +%s.%N)
  "$C" tune --photos "$OUT/photos" --references "$OUT/$kind/refs" -o "$OUT/$kind/style.json" --trials "$TRIALS" \
    --seed "$SEED" $BASE --trials-log "$OUT/$kind/trials.jsonl" -q
  end=$(date +%s.%N)
  echo "wall $(echo "$end - $start" | bc) s"
  cat "$OUT/$kind/style.json"
  for set in refs:photos held:held; do
    r=${set%%:*}; p=${set##*:}
    d=$("$C" tune --photos "$OUT/$p" --references "$OUT/$kind/$r" --evaluate $BASE -q | sed -n 's/.*"mean_distance": \([0-9.]*\).*/\1/p')
    t=$("$C" tune --photos "$OUT/$p" --references "$OUT/$kind/$r" --evaluate $BASE --config "$OUT/$kind/style.json" -q | sed -n 's/.*"mean_distance": \([0-9.]*\).*/\1/p')
    echo "$kind $p: default $d tuned $t ratio $(echo "scale=3; $t / $d" | bc)"
  done
done
