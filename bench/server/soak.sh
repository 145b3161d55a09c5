#!/bin/sh
# bench/server/soak.sh — carved soak test (not a timed test).
#
#   bench/server/soak.sh HOURS [BUILD_DIR] [OUT.md]
#
# Starts carved (real pipeline, 1 worker, niced) on 127.0.0.1 with a fresh
# data dir and runs bench/server/soak.py against it for HOURS (fractions
# allowed: 0.5): each minute a realistic mix of good photos
# (tests/data/samples), bad inputs, cancels, slow clients and reads, and a
# table row with carved's RSS, open fds, p50/p99 API latency, jobs and
# errors.  The load is deliberately modest (one request at a time, a few
# photos a minute): it looks for leaks and drift, not for throughput.
# Exit status 1 when any minute saw an error.  Environment:
# SOAK_GOOD_PER_MIN (2), SOAK_SLOW_PER_MIN (20), SOAK_OPTIONS (?work_size=800).
set -eu
HOURS=${1:?usage: soak.sh HOURS [BUILD_DIR] [OUT.md]}
BUILD=${2:-build}
OUT=${3:-/tmp/carved-soak.md}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CARVED=$BUILD/tools/carved
[ -x "$CARVED" ] || { echo "$CARVED not built" >&2; exit 1; }
TMP=$(mktemp -d /tmp/carved-soak-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM
nice -n 19 "$CARVED" --listen 127.0.0.1:0 --data-dir "$TMP/data" --port-file "$TMP/port" --log-level warn \
  --workers 1 --threads 1 --retention 300 --sweep-interval 10 --header-timeout 10 2>>"$TMP/carved.log" &
PID=$!
i=0; while [ ! -s "$TMP/port" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done
PORT=$(cat "$TMP/port")
rc=0
nice -n 19 python3 "$HERE/soak.py" "$PORT" "$PID" "$HOURS" "$OUT" "$ROOT/tests/data/samples" || rc=$?
kill -0 "$PID" 2>/dev/null || { echo "soak: carved died" >&2; rc=1; }
grep -c '"level":"error"' "$TMP/carved.log" | sed 's/^/soak: carved error log lines: /'
echo "soak: table in $OUT"
exit $rc
