#!/usr/bin/env python3
"""carved on several nodes sharing one real PostgreSQL (started here: initdb
into a temporary folder as an unprivileged user, Unix socket, pg_ctl stop at
the end; see pgharness.py).  Skipped (exit 77) when Debian's postgresql is
not installed.

Usage: test_pg.py PATH/TO/carved PATH/TO/test_pg_store [ONLY_TEST ...]

* the store unit test (migrations, claims, leases, fencing) on fresh databases
* the listing and idempotency tests of test_jobs_api.py, on PostgreSQL
* webhooks on PostgreSQL (signed delivery, outbox surviving a restart)
* PostgreSQL unreachable at start: clear error, non-zero exit
* three nodes, 24 real photos round-robin, one node SIGKILLed mid-work: every
  job done once, results served by any surviving node
* a job cancelled through one node stops on the node running it within 1 s
* PostgreSQL restarted under load: nothing lost, nodes recover by themselves"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pgharness  # noqa: E402
import test_carved as tc  # noqa: E402
import test_jobs_api  # noqa: E402
import test_webhooks  # noqa: E402
from test_carved import Carved, check, png_bytes  # noqa: E402

CARVED = tc.CARVED
UNIT = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else 'build/tests/server/test_pg_store'
ONLY = sys.argv[3:]
tc.ONLY = []
PG = None
SAMPLES = os.path.join(tc.DATA, 'samples')
_dbs = [0]


def new_db():
    """A fresh database on the test's PostgreSQL; returns its URI."""
    _dbs[0] += 1
    name = 'carve_t%d' % _dbs[0]
    PG.sql('CREATE DATABASE %s' % name)
    return PG.uri.replace('/postgres?', '/%s?' % name), name


def sql(db, query):
    uri_db = PG.uri.replace('/postgres?', '/%s?' % db)
    r = subprocess.run([os.path.join(PG.bin, 'psql'), uri_db, '-At', '-F', '\t', '-c', query],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        raise RuntimeError(r.stderr.decode())
    return [ln.split('\t') for ln in r.stdout.decode().splitlines() if ln]


def node(uri, *flags, **kw):
    return Carved('--store', uri, *flags, **kw)


def metric(n, name):
    st, _, body = n.req('GET', '/metrics')
    for line in body.decode().splitlines():
        if line.startswith(name + ' ') or line.startswith(name + '{'):
            return float(line.rsplit(' ', 1)[1])
    return None


def test_store_unit():
    a, _ = new_db()
    b, _ = new_db()
    r = subprocess.run([UNIT, a, b], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode(errors='replace')
    check(r.returncode == 0 and ' 0 failed' in out, 'test_pg_store: %s' % out[-3000:])


def test_jobs_api_on_postgresql():
    for fn in test_jobs_api.TESTS:
        uri, _ = new_db()
        test_jobs_api.Carved = lambda *f, **k: Carved('--store', uri, *f, **k)
        try:
            fn()
        finally:
            test_jobs_api.Carved = Carved


def test_webhooks_on_postgresql():
    """signed delivery, server default, retries from the outbox across a restart"""
    for fn in (test_webhooks.test_webhook_signed_and_default, test_webhooks.test_webhook_retry_across_restart):
        uri, _ = new_db()
        test_webhooks.Carved = lambda *f, **k: Carved('--store', uri, *f, **k)
        try:
            fn()
        finally:
            test_webhooks.Carved = Carved


def test_paused_node_fenced():
    """a node that stalls past its lease (SIGSTOP) loses the job to another
    node; when it wakes up it cannot commit: the result is committed once"""
    uri, db = new_db()
    flags = ('--workers', '1', '--engine', 'synthetic', '--synthetic-ms', '2500', '--lease-seconds', '1')
    c = node(uri, *flags)
    a = None
    try:
        st, _, j = c.submit(png_bytes(8, 8))
        jid = j['id']
        c.wait_state(jid, ('running',), timeout=10)
        time.sleep(0.3)
        c.proc.send_signal(signal.SIGSTOP)
        a = node(uri, *flags)
        j = a.wait_state(jid, timeout=30)
        check(j and j['state'] == 'done' and j['attempts'] == 2, 'node A re-claimed and finished it: %r' %
              ((j and (j['state'], j['attempts'])),))
        c.proc.send_signal(signal.SIGCONT)
        deadline = time.time() + 8
        while time.time() < deadline and b'lease lost' not in open(c.log_path, 'rb').read():
            time.sleep(0.1)
        check(b'lease lost' in open(c.log_path, 'rb').read(), 'the paused node notices it lost the lease')
        time.sleep(0.5)
        rows = sql(db, "SELECT state, attempts, completions FROM carve_jobs WHERE id='%s'" % jid)
        check(rows == [['2', '2', '1']], 'done once, by node A: %r' % rows)
        check(metric(c, 'carved_jobs_finished_total{state="done"}') == 0, 'node C committed nothing')
        st, _, svg = c.req('GET', '/v1/jobs/%s/result' % jid)
        check(st == 200 and svg.startswith(b'<svg'), 'the result is served by node C too')
    finally:
        if c.proc.poll() is None:
            c.proc.send_signal(signal.SIGCONT)
        c.stop()
        if a:
            a.stop()


def test_queue_full_shared():
    """queue_max counts the shared queue (all nodes' queued jobs)"""
    uri, _ = new_db()
    flags = ('--workers', '1', '--engine', 'synthetic', '--synthetic-ms', '30000', '--queue-max', '2')
    a, b = node(uri, *flags), node(uri, *flags)
    try:
        codes = [n.submit(png_bytes(8, 8, seed=i))[0] for i, n in enumerate((a, b))]
        deadline = time.time() + 10
        while time.time() < deadline and metric(a, 'carved_jobs_running') + metric(b, 'carved_jobs_running') < 2:
            time.sleep(0.05)
        codes += [n.submit(png_bytes(8, 8, seed=10 + i))[0] for i, n in enumerate((a, b, a))]
        st, h, e = b.submit(png_bytes(8, 8, seed=20))
        check(codes == [202] * 4 + [429] and st == 429 and h.get('retry-after'),
              '2 running + 2 queued (over two nodes), then 429 on both: %r %r' % (codes, st))
        check(metric(a, 'carved_queue_depth') == 2 and metric(b, 'carved_queue_depth') == 2,
              'queue depth from the store on each node')
    finally:
        a.stop()
        b.stop()


def test_unreachable_at_start():
    t0 = time.time()
    r = subprocess.run([CARVED, '--listen', '127.0.0.1:0', '--store',
                        'postgresql:///carve?host=/nonexistent-carve-socket-dir&user=carve'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    err = r.stderr.decode(errors='replace')
    check(r.returncode != 0 and time.time() - t0 < 30, 'exit status %r' % r.returncode)
    check('/nonexistent-carve-socket-dir' in err and 'No such file' in err and 'store' in err,
          'message names the host and the reason: %r' % err[-600:])
    r = subprocess.run([CARVED, '--listen', '127.0.0.1:0', '--store', 'mysql://x'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check(r.returncode != 0 and b'postgresql://' in r.stderr, 'a non-postgresql URI is refused')


def wait_all(n, ids, timeout):
    deadline = time.time() + timeout
    states = {}
    while time.time() < deadline:
        states = {}
        for jid in ids:
            st, _, j = n.jreq('GET', '/v1/jobs/' + jid)
            states[jid] = j.get('state') if st == 200 else 'http%d' % st
        if all(s in ('done', 'failed', 'cancelled') or s.startswith('http4') for s in states.values()):
            break
        time.sleep(0.25)
    return states


def test_three_nodes_sigkill():
    uri, db = new_db()
    flags = ('--workers', '1', '--lease-seconds', '2')
    nodes = [node(uri, *flags) for _ in range(3)]
    try:
        photos = sorted(os.listdir(SAMPLES))
        ids = []
        for i in range(24):
            f = photos[i % len(photos)]
            data = open(os.path.join(SAMPLES, f), 'rb').read()
            ctype = 'image/png' if f.endswith('.png') else 'image/jpeg'
            st, _, j = nodes[i % 3].submit(data, '?work_size=256&colors=%d' % (6 + i // len(photos)), ctype=ctype)
            check(st == 202, 'submit %s to node %d: %r %r' % (f, i % 3, st, j))
            ids.append(j.get('id'))
        victim = nodes[2]
        deadline = time.time() + 60
        while time.time() < deadline and not metric(victim, 'carved_jobs_running'):
            time.sleep(0.05)
        check(metric(victim, 'carved_jobs_running') == 1, 'node 2 is running a job before the kill')
        victim.proc.kill()
        victim.proc.wait()
        states = wait_all(nodes[0], ids, 240)
        check(all(s == 'done' for s in states.values()), 'every accepted job done: %r' %
              sorted(set(states.values())))
        good = 0
        for k, jid in enumerate(ids):
            st, h, svg = nodes[k % 2].req('GET', '/v1/jobs/%s/result' % jid)
            try:
                ok = st == 200 and ET.fromstring(svg).tag.endswith('svg')
            except ET.ParseError:
                ok = False
            good += ok
        check(good == 24, 'valid SVG served by the surviving nodes for %d of 24' % good)
        rows = sql(db, 'SELECT count(*), sum(completions), max(completions), max(attempts) FROM carve_jobs')
        n, comp, maxc, maxa = (int(x) for x in rows[0])
        check(n == 24 and comp == 24 and maxc == 1, 'each job completed exactly once: %r' % rows)
        check(maxa >= 2, 'the killed node\'s job was claimed again (max attempts %d)' % maxa)
        done = sum(metric(x, 'carved_jobs_finished_total{state="done"}') or 0 for x in nodes[:2])
        check(done >= 16, 'the two surviving nodes finished the rest (%d)' % done)
    finally:
        for x in nodes:
            x.stop(signal.SIGKILL if x is nodes[2] else signal.SIGTERM)


def test_cancel_across_nodes():
    uri, db = new_db()
    flags = ('--workers', '1', '--engine', 'synthetic', '--synthetic-ms', '30000')
    a, b = node(uri, *flags), node(uri, *flags)
    try:
        st, _, j = a.submit(png_bytes(16, 16))
        jid = j['id']
        deadline = time.time() + 20
        runner = None
        while time.time() < deadline and runner is None:
            for n in (a, b):
                if metric(n, 'carved_jobs_running') == 1:
                    runner = n
            time.sleep(0.05)
        check(runner is not None, 'one node runs the job')
        other = b if runner is a else a
        st, _, j = other.jreq('GET', '/v1/jobs/' + jid)
        check(st == 200 and j['state'] == 'running', 'the other node sees it running: %r' % j.get('state'))
        deadline = time.time() + 3  # heartbeats (with progress) come at least every second
        while time.time() < deadline and not j.get('progress'):
            time.sleep(0.1)
            st, _, j = other.jreq('GET', '/v1/jobs/' + jid)
        check(j.get('progress', 0) > 0, 'the other node sees its progress (heartbeats): %r' % j.get('progress'))
        # the event stream from the node that does not run it (polled from the store)
        got = []
        sse = threading.Thread(target=lambda: got.append(tc.sse_read(other, jid, timeout=20)[1]))
        sse.start()
        time.sleep(1.3)
        t0 = time.time()
        st, _, body = other.jreq('DELETE', '/v1/jobs/' + jid)
        dt = time.time() - t0
        check(st == 200 and body.get('deleted') is True, 'DELETE through the other node: %r %r' % (st, body))
        check(dt < 1.0, 'the running node stopped it within 1 s (%.3f s)' % dt)
        check(metric(runner, 'carved_jobs_running') == 0 and
              metric(runner, 'carved_jobs_finished_total{state="cancelled"}') == 1, 'stopped on the running node')
        sse.join(20)
        evs = got[0] if got else []
        prog = [e for e in evs if e[1] == 'progress']
        check(len(prog) >= 2 and prog[-1][2]['progress'] > prog[0][2]['progress'],
              'live progress over SSE from the other node: %r' % evs[:6])
        logs = [e for e in evs if e[1] == 'log']
        check(len(logs) >= 2 and all(e[0] for e in logs), 'live log lines over SSE from the other node: %r' % logs[:3])
        check(evs and evs[-1][1] == 'state' and evs[-1][2]['state'] == 'cancelled', 'the stream ends cancelled')
        for n in (a, b):
            st, _, _ = n.jreq('GET', '/v1/jobs/' + jid)
            check(st == 404, 'gone everywhere')
        check(sql(db, 'SELECT count(*) FROM carve_files')[0][0] == '0', 'its files are gone')
    finally:
        a.stop()
        b.stop()


def test_pg_restart_under_load():
    uri, db = new_db()
    flags = ('--workers', '2', '--engine', 'synthetic', '--synthetic-ms', '150', '--lease-seconds', '5')
    nodes = [node(uri, *flags) for _ in range(2)]
    accepted, seen503 = [], []
    stop = threading.Event()

    def submitter():
        k = 0
        while not stop.is_set() and k < 40:
            n = nodes[k % 2]
            key = 'load-%d' % k  # retries of one submission are one job
            try:
                st, h, j = n.submit(png_bytes(8, 8, seed=k), headers={'Idempotency-Key': key})
            except OSError:
                time.sleep(0.1)
                continue
            if st in (200, 202):
                accepted.append(j['id'])
                k += 1
            elif st == 503:
                seen503.append(h.get('retry-after'))
                time.sleep(0.1)
            else:
                check(False, 'submission answered %r %r' % (st, j))
                k += 1
            time.sleep(0.03)
    th = threading.Thread(target=submitter)
    try:
        th.start()
        while len(accepted) < 12 and th.is_alive():
            time.sleep(0.05)
        PG.stop('fast')
        t_down = time.time()
        time.sleep(0.3)
        st, _, r = nodes[0].jreq('GET', '/readyz')
        check(st == 503 and r.get('store', {}).get('reachable') is False, '/readyz 503 while PostgreSQL is down: %r'
              % r)
        while len(seen503) < 2 and time.time() - t_down < 10:
            time.sleep(0.05)
        check(seen503 and all(x for x in seen503), 'submissions get 503 with Retry-After: %r' % seen503[:3])
        PG.start()
        th.join(60)
        stop.set()
        check(len(accepted) == 40, 'all 40 submissions accepted in the end (%d)' % len(accepted))
        states = wait_all(nodes[1], accepted, 60)
        check(all(s == 'done' for s in states.values()), 'every accepted job done after the restart: %r' %
              sorted(set(states.values())))
        st, _, r = nodes[0].jreq('GET', '/readyz')
        check(st == 200 and r['store']['reachable'], '/readyz 200 again')
        check(all(n.proc.poll() is None for n in nodes), 'nodes recovered without a restart')
        rows = sql(db, 'SELECT count(*), sum(completions), max(completions) FROM carve_jobs')
        check(rows[0] == ['40', '40', '1'], 'each job completed exactly once: %r' % rows)
    finally:
        stop.set()
        th.join(30)
        for n in nodes:
            n.stop()


TESTS = [test_store_unit, test_unreachable_at_start, test_jobs_api_on_postgresql, test_webhooks_on_postgresql,
         test_queue_full_shared, test_paused_node_fenced, test_cancel_across_nodes,
         test_pg_restart_under_load, test_three_nodes_sigkill]


def main():
    global PG
    bindir = pgharness.find_bindir()
    if not bindir:
        print('SKIP: PostgreSQL server binaries not found (Debian package postgresql; scripts/setup.sh --test)')
        return 77
    PG = pgharness.Postgres(bindir)
    try:
        tc.run_tests(TESTS, ONLY)
    finally:
        PG.close()
    return tc.finish()


if __name__ == '__main__':
    sys.exit(main())
