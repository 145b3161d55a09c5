"""checks.py — the Python tests' harness, the counterpart of test.h: check()
counts passes and failures, run_tests() runs test functions with one
'ok'/'FAIL' line each, finish() prints the closing line "N passed, N failed"
that CI reads and gives the exit status."""
import sys
import time

passed = 0
failed = 0
current = ''  # the running test's name, in FAIL lines


def check(cond, what):
    """Counts cond as a pass or a failure (a FAIL line naming the test)."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        sys.stderr.write('FAIL %s: %s\n' % (current, what) if current else 'FAIL %s\n' % what)
    return cond


def run_tests(tests, only=()):
    """Runs each test function (only those named in `only` when it is not
    empty); a test that raises is a failure, not a skip."""
    global current
    for t in tests:
        if only and t.__name__ not in only:
            continue
        current = t.__name__
        f0 = failed
        t0 = time.time()
        try:
            t()
        except Exception as e:  # noqa: BLE001 - a crash of the test is a failure, not a skip
            check(False, 'exception %r' % (e,))
        sys.stderr.write('%s %s (%.1f s)\n' % ('ok  ' if failed == f0 else 'FAIL', t.__name__, time.time() - t0))


def finish():
    """Prints "N passed, N failed"; the exit status (1 when any failed)."""
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0
