# checks.sh — the shell tests' harness, sourced (". tests/checks.sh"); the
# counterpart of test.h: a temporary folder $tmp removed on exit,
# `check NAME CONDITION...` counting passes and failures (a FAIL line naming
# the check), and `finish` printing the closing line "N passed, N failed"
# that CI reads, its status nonzero when any failed.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/carve-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { # check NAME CONDITION...
    name=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name" >&2; fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
