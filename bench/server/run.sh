#!/bin/sh
# bench/server/run.sh — carved load benchmark (not a timed test).
#
#   bench/server/run.sh [BUILD_DIR] [OUT.md]
#
# Needs wrk (apt-get install wrk) and python3.  Everything runs on
# 127.0.0.1 with the synthetic engine (fixed 200 ms jobs: the server is
# measured, not the pipeline):
#   1. GET /healthz and GET /v1/jobs/{id} with wrk while both workers are busy
#   2. submission throughput (POST /v1/jobs of a 16x16 PNG, durable before 202)
#   3. RSS over 10,000 jobs (retention 2 s, so the store stays small)
# Results (markdown) go to OUT.md (default /tmp/carved-bench.md).
set -eu
BUILD=${1:-build}
OUT=${2:-/tmp/carved-bench.md}
HERE=$(cd "$(dirname "$0")" && pwd)
CARVED=$BUILD/tools/carved
DUR=${CARVED_BENCH_SECONDS:-10}
JOBS=${CARVED_BENCH_JOBS:-10000}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
[ -x "$CARVED" ] || { echo "$CARVED not built" >&2; exit 1; }
TMP=$(mktemp -d /tmp/carved-bench-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

start() { # start DATA_NAME flags...
  name=$1; shift
  rm -f "$TMP/port"
  "$CARVED" --listen 127.0.0.1:0 --data-dir "$TMP/$name" --port-file "$TMP/port" --log-level warn "$@" \
    2>>"$TMP/carved.log" &
  PID=$!
  i=0; while [ ! -s "$TMP/port" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done
  PORT=$(cat "$TMP/port")
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
wrk_row() { # wrk_row LABEL wrk-args...
  label=$1; shift
  wrk --latency "$@" > "$TMP/wrk.txt" 2>&1
  rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$TMP/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$TMP/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.txt")
  echo "| $label | $rps | $p50 | $p99 | ${non2xx:-0} |" >> "$OUT"
}

python3 "$HERE/load.py" png "$TMP/tiny.png" 16 16
{
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -m)); carved $($CARVED --version | cut -d' ' -f2);"
  echo "wrk -t2 -c32 -d${DUR}s on 127.0.0.1; synthetic engine, 2 workers."
  echo
  echo "| request (while workers are busy) | req/s | p50 | p99 | non-2xx |"
  echo "|---|---:|---:|---:|---:|"
} > "$OUT"

# 1. reads while workers are busy
start reads --engine synthetic --synthetic-ms 200 --workers 2 --queue-max 100000 --retention 600
ID=$(python3 "$HERE/load.py" one "$PORT")
python3 "$HERE/load.py" busy "$PORT" $((DUR * 2 + 5)) &
BUSY=$!
sleep 1
wrk_row "GET /healthz" -t2 -c32 -d"${DUR}s" "http://127.0.0.1:$PORT/healthz"
wrk_row "GET /v1/jobs/{id}" -t2 -c32 -d"${DUR}s" "http://127.0.0.1:$PORT/v1/jobs/$ID"
kill $BUSY 2>/dev/null || true; wait $BUSY 2>/dev/null || true
stop

# 2. submissions (each: input file fsync'd + SQLite commit, synchronous=FULL)
start submit --engine synthetic --synthetic-ms 0 --workers 2 --queue-max 1000000 --retention 0 --sweep-interval 1
CARVED_BENCH_PNG="$TMP/tiny.png" wrk_row "POST /v1/jobs (16x16 PNG)" -t2 -c8 -d"${DUR}s" \
  -s "$HERE/post_job.lua" "http://127.0.0.1:$PORT/v1/jobs"
stop

# 3. RSS over many jobs
start rss --engine synthetic --synthetic-ms 0 --workers 2 --queue-max 1000 --retention 2 --sweep-interval 0.5
{
  echo
  echo "RSS of carved over $JOBS jobs (16x16 PNG, synthetic engine, retention 2 s):"
  echo
} >> "$OUT"
python3 "$HERE/load.py" rss "$PORT" "$PID" "$JOBS" $((JOBS / 10)) >> "$OUT"
stop
cat "$OUT"
