#!/usr/bin/env python3
"""Coordination overhead of carved's job stores (a benchmark, not a test).

  bench/server/coord.py BUILD_DIR [JOBS] [OUT.md]

Starts carved with the synthetic engine at 0 ms of work on tiny (16x16)
images, so what is measured is the coordination around a job:

* claim-to-start: from the moment the client has the 202 (the job is
  committed and claimable) to the job's `started` (stamped by the claim, on
  whichever node), for jobs submitted one at a time every PACE_MS while the
  workers are idle: the wake-up (in-process condition variable for SQLite,
  NOTIFY for PostgreSQL) and the claim (SQLite: the in-memory queue + the
  `running` commit; PostgreSQL: `FOR UPDATE SKIP LOCKED` + lease).  0 when the
  claim beat the 202 to the client.
* run overhead: `finished - started - engine time`: reading the row and the
  input, writing result + report (fenced on the lease with PostgreSQL), the
  final commit (with PostgreSQL `WHERE lease_token = ours`), plus lease
  heartbeats for any job that runs long enough to get one.
* submission throughput: 8 client threads POSTing for SECONDS, round-robin
  over the nodes.

Configurations: SQLite (1 node), PostgreSQL 1 node, PostgreSQL 3 nodes
(2 workers each), on one PostgreSQL 15 started here (tests/server/pgharness.py:
initdb in a temp dir, Unix socket, fsync on).  Prints a markdown table."""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'server'))
import pgharness  # noqa: E402
from load import png  # noqa: E402

PACE_MS = 25
SECONDS = 5


class Node:
    def __init__(self, carved, tmp, name, *flags):
        self.port_file = os.path.join(tmp, name + '.port')
        self.proc = subprocess.Popen([carved, '--listen', '127.0.0.1:0', '--data-dir', os.path.join(tmp, name),
                                      '--port-file', self.port_file, '--log-level', 'warn', '--engine', 'synthetic',
                                      '--synthetic-ms', '0', '--workers', '2', '--queue-max', '1000000',
                                      '--retention', '3600'] + list(flags),
                                     stderr=open(os.path.join(tmp, name + '.log'), 'ab'))
        deadline = time.time() + 30
        while not (os.path.exists(self.port_file) and open(self.port_file).read().strip()):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError('carved did not start (see %s.log)' % name)
            time.sleep(0.02)
        self.port = int(open(self.port_file).read())

    def req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float('nan')


def run_config(nodes, jobs, img):
    ids, acked = [], {}
    for i in range(jobs):
        st, data = nodes[i % len(nodes)].req('POST', '/v1/jobs', img, {'Content-Type': 'image/png'})
        if st == 202:
            jid = json.loads(data)['id']
            acked[jid] = time.time()
            ids.append(jid)
        time.sleep(PACE_MS / 1000.0)
    dispatch, overhead = [], []
    deadline = time.time() + 120
    for jid in ids:
        while time.time() < deadline:
            st, data = nodes[0].req('GET', '/v1/jobs/' + jid)
            j = json.loads(data)
            if j['state'] == 'done':
                break
            time.sleep(0.02)
        engine = j['timings'].get('total', 0.0)
        dispatch.append(max(0.0, j['started'] - acked[jid]))
        overhead.append(j['finished'] - j['started'] - engine)
    return dispatch, overhead


def throughput(nodes, img):
    count = [0]
    lock = threading.Lock()
    stop = time.time() + SECONDS

    def client(k):
        n = 0
        conns = [http.client.HTTPConnection('127.0.0.1', x.port, timeout=30) for x in nodes]
        while time.time() < stop:
            c = conns[(k + n) % len(conns)]
            c.request('POST', '/v1/jobs', img, {'Content-Type': 'image/png'})
            r = c.getresponse()
            r.read()
            if r.status == 202:
                n += 1
        with lock:
            count[0] += n
    th = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    return count[0] / SECONDS


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else 'build'
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    out = sys.argv[3] if len(sys.argv) > 3 else '/tmp/carved-coord.md'
    carved = os.path.join(build, 'tools', 'carved')
    img = png(16, 16)
    tmp = tempfile.mkdtemp(prefix='carved-coord-')
    pg = pgharness.Postgres(pgharness.find_bindir(), fsync=True)
    rows = []
    try:
        db = 0
        for label, kind, n in (('SQLite, 1 node', 'sqlite', 1), ('PostgreSQL, 1 node', 'pg', 1),
                               ('PostgreSQL, 3 nodes', 'pg', 3)):
            flags = []
            if kind == 'pg':
                db += 1
                pg.sql('CREATE DATABASE bench%d' % db)
                flags = ['--store', pg.uri.replace('/postgres?', '/bench%d?' % db)]
            nodes = [Node(carved, tmp, '%s%d-%d' % (kind, db, i), *flags) for i in range(n)]
            try:
                time.sleep(0.5)
                d, o = run_config(nodes, jobs, img)
                tput = throughput(nodes, img)
            finally:
                for x in nodes:
                    x.stop()
            rows.append('| %s | %d | %.1f | %.1f | %.1f | %.1f | %.0f |' % (
                label, len(d), pct(d, 50) * 1e3, pct(d, 99) * 1e3, pct(o, 50) * 1e3, pct(o, 99) * 1e3, tput))
    finally:
        pg.close()
    text = ('Measured %s UTC, %d cores, carved synthetic engine (0 ms jobs, 16x16 PNG), 2 workers per node, '
            'jobs submitted every %d ms; throughput: 8 clients for %d s.\n\n'
            '| store | jobs | claim-to-start p50 (ms) | p99 (ms) | run overhead p50 (ms) | p99 (ms) | '
            'submissions/s |\n|---|---:|---:|---:|---:|---:|---:|\n' %
            (time.strftime('%Y-%m-%d %H:%M', time.gmtime()), os.cpu_count(), PACE_MS, SECONDS) +
            '\n'.join(rows) + '\n')
    open(out, 'w').write(text)
    print(text)


if __name__ == '__main__':
    main()
