#!/usr/bin/env bash
# Fuzzes every parser carve owns with libFuzzer (Debian's clang):
#   bash scripts/fuzz.sh SECONDS [TARGET...]
# targets: palette config options multipart manifest image (default: all).
# Builds build-fuzz/ (clang, -fsanitize=fuzzer + address,undefined; only the
# libraries the targets need), then runs each target for SECONDS on its seed
# corpus fuzz/corpus/TARGET (read-only) plus build-fuzz/corpus/TARGET (new
# inputs).  A crash, leak, UBSan report or timeout is saved under
# build-fuzz/crashes/TARGET/ and fails the run: copy it into
# fuzz/corpus/TARGET/ (after the fix) so fuzz-replay-TARGET keeps it as a
# regression test.  Prints a table (target, seconds, runs, coverage, corpus,
# result) and writes build-fuzz/fuzz-testlog.json (one JSON line per target,
# read by scripts/test.sh's summary).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(palette config options multipart manifest image)
dir=${FUZZ_BUILD_DIR:-build-fuzz}
command -v clang >/dev/null || { echo "fuzz: clang not found (bash scripts/setup.sh --test)" >&2; exit 1; }
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" -Dfuzz=true -Dtests=false -Dserver=disabled -Db_sanitize=address,undefined \
    -Dbuildtype=debugoptimized -Db_lundef=false -Dwerror=false -Dc_args=-fsanitize=fuzzer-no-link >/dev/null ||
    { echo "fuzz: meson setup failed" >&2; exit 1; }
fi
nice -n 5 ninja -j2 -C "$dir" $(printf 'fuzz/fuzz_%s ' "${targets[@]}") >/dev/null ||
  { echo "fuzz: build failed (ninja -C $dir)" >&2; exit 1; }
# FUZZ_SEED=N: a fixed seed and a fixed number of runs per target (below), so
# a run is reproducible — CI uses this: the same inputs are tried every time
# (SECONDS then only caps a slow machine, which tries a prefix of them).
declare -A fixed_runs=([palette]=600000 [config]=100000 [options]=400000 [multipart]=300000 [manifest]=60000 [image]=1200)
rc=0
: > "$dir/fuzz-testlog.json"
printf '| target | seconds | runs | coverage | corpus | result |\n|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t"
  log="$dir/fuzz-$t.log"
  t0=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    nice -n 5 "$dir/fuzz/fuzz_$t" -max_total_time="$secs" ${FUZZ_SEED:+-seed=$FUZZ_SEED -runs=${fixed_runs[$t]}} -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$dir/crashes/$t/" -print_final_stats=1 "$dir/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
  r=$?
  dt=$(( $(date +%s) - t0 ))
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  ncorp=$(ls "$dir/corpus/$t" "fuzz/corpus/$t" | grep -vc ':$')
  res=OK
  if [ $r -ne 0 ]; then res=FAIL; rc=1; echo "fuzz: $t failed; see $log and $dir/crashes/$t/" >&2; fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$dt" "${runs:-?}" "${cov:-?}" "$ncorp" "$res"
  printf '{"name":"fuzz-%s","result":"%s","duration":%s}\n' "$t" "$res" "$dt" >> "$dir/fuzz-testlog.json"
done
exit $rc
