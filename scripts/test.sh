#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, builds,
# runs every test, then runs them all again under AddressSanitizer +
# UndefinedBehaviorSanitizer.  Ends with "tests: N passed, N failed".
#   bash scripts/test.sh            (SKIP_ASAN=1 to skip the sanitizer pass,
#                                    SKIP_FUZZ=1 the libFuzzer runs, 20 s each)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1
for s in scripts/onnx/setup.sh tests/nn/tfjs/setup.sh tests/server/ui/setup.sh; do
  if [ -f "$s" ]; then bash "$s" || echo "test: $s failed; tests that need it will be skipped"; fi
done

summary() { # meson testlog -> counts
  python3 - "$@" <<'PY'
import json, sys
p = f = s = 0
for path in sys.argv[1:]:
    try:
        for line in open(path):
            r = json.loads(line).get("result")
            if r in ("OK", "EXPECTEDFAIL"): p += 1
            elif r == "SKIP": s += 1
            else: f += 1
    except FileNotFoundError:
        f += 1
print(p, f, s)
PY
}

rc=0
logs=()
echo "== release build"
BUILD_DIR=build bash scripts/build.sh || exit 1
meson test -C build --print-errorlogs --num-processes 2 || rc=1
logs+=(build/meson-logs/testlog.json)
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  # libFuzzer, once (not in the ASan pass: the fuzz build is ASan+UBSan itself),
  # reproducibly: seed 1 and a fixed number of runs per target (at most 60 s
  # each), so every test run tries the same inputs; open-ended fuzzing is
  # `bash scripts/fuzz.sh SECONDS` by hand (docs/fuzzing.md)
  echo "== fuzzing: seed ${FUZZ_SEED:-1}, fixed runs per target (scripts/fuzz.sh)"
  FUZZ_SEED=${FUZZ_SEED:-1} bash scripts/fuzz.sh "${CARVE_FUZZ_SECONDS:-60}" || rc=1
  logs+=(build-fuzz/fuzz-testlog.json)
fi
if [ "${SKIP_ASAN:-0}" != 1 ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
  BUILD_DIR=build-asan bash scripts/build.sh -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false || exit 1
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  CARVE_FUZZ_N=${CARVE_FUZZ_N_ASAN:-300} \
    meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 5 || rc=1
  logs+=(build-asan/meson-logs/testlog.json)
fi
read -r passed failed skipped < <(summary "${logs[@]}")
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] || rc=1
exit $rc
