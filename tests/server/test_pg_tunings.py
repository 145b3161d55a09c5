#!/usr/bin/env python3
"""Tunings on a real PostgreSQL (started by test_pg.py's harness: initdb in a
temporary folder as an unprivileged user, Unix socket).  Skipped (exit 77)
without Debian's postgresql.

Usage: test_pg_tunings.py PATH/TO/carved PATH/TO/test_pg_store [ONLY_TEST ...]

* cancel < 1 s; SIGKILL mid-tuning, restart: resumes from the stored trials,
  the events stream shows every trial
* a second node started while a tuning runs leaves it to its node (advisory
  lock): progress and result answered by both nodes, every trial stored
  once"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_pg  # noqa: E402
import test_carved as tc  # noqa: E402
from test_carved import check  # noqa: E402
import test_tunings  # noqa: E402


def test_tunings_on_postgresql():
    """tunings on PostgreSQL: cancel < 1 s, SIGKILL mid-tuning then restart
    resumes from the stored trials and shows every trial in the events stream
    (that the result equals an uninterrupted run is the store-independent
    part of test_tunings.py)"""
    for fn in (test_tunings.test_cancel_within_1s, lambda: test_tunings.test_sigkill_resume(compare=False)):
        uri, _ = test_pg.new_db()
        test_tunings.Carved = lambda *f, **k: tc.Carved('--store', uri, *f, **k)
        try:
            fn()
        finally:
            test_tunings.Carved = tc.Carved


def test_tuning_runs_on_one_node():
    """a second node started while a tuning runs leaves it to its node (the
    advisory lock): it runs once, B answers for it from the store"""
    uri, db = test_pg.new_db()
    pairs = test_tunings.Pairs(2).files
    a = test_pg.node(uri)
    b = None
    try:
        st, _, j = test_tunings.post_tuning(a, pairs, 500)
        tid = j['id']
        check(test_tunings.wait_tuning(a, tid, lambda j: j['trials'] >= 2)['state'] == 'running', 'running on A')
        b = test_pg.node(uri)
        deadline, blog = time.time() + 30, ''
        while time.time() < deadline and 'runs on another node' not in blog:
            time.sleep(0.1)
            blog = open(b.log_path, errors='replace').read()
        check('runs on another node' in blog and 'tuning resumes' not in blog, 'B left it to A: %s' % blog[-1500:])
        j1 = b.jreq('GET', '/v1/tunings/' + tid)[2]
        j2 = test_tunings.wait_tuning(b, tid, lambda j: j['trials'] > j1['trials'])
        check(j1['state'] == 'running' and j2['trials'] > j1['trials'], 'progress seen through B: %r %r' % (j1, j2))
        t0 = time.time()
        st, _, d = a.jreq('DELETE', '/v1/tunings/' + tid)
        check(st == 200 and time.time() - t0 < 1.0, 'cancelled through A within 1 s: %r' % d)
        n = a.jreq('GET', '/v1/tunings/' + tid)[2]['trials']
        rows = test_pg.sql(db, "SELECT count(*), count(DISTINCT idx) FROM carve_tuning_trials"
                               " WHERE tuning_id='%s'" % tid)
        check(rows == [[str(n), str(n)]], 'every trial stored once (%d): %r' % (n, rows))
        st, _, best = b.jreq('GET', '/v1/tunings/%s/result' % tid)
        check(st == 200 and 'colors' in best, 'result through B: %r' % best)
    finally:
        a.close()
        if b:
            b.close()


test_pg.TESTS = [test_tunings_on_postgresql, test_tuning_runs_on_one_node]

if __name__ == '__main__':
    sys.exit(test_pg.main())
