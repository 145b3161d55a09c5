#!/usr/bin/env python3
"""carved soak: a steady, realistic mix for HOURS against one carved on
127.0.0.1, with a table row every minute.

Usage: soak.py CARVED_PORT CARVED_PID HOURS OUT.md SAMPLES_DIR

Every minute (spread over the minute, one request at a time, so the load is
modest on a shared machine):
  * good photos: GOOD_PER_MIN sample photos (real pipeline), polled to the
    end, result and report downloaded;
  * bad inputs: a truncated JPEG (202, then failed), an MP4 (415), garbage
    with an image type (415), a bad option (400), a text option given a
    number (400);
  * cancels: a job submitted and deleted at once;
  * slow clients: SLOW_PER_MIN connections that send one header byte a
    second (dropped by header_timeout) and one upload at 100 B/s (dropped by
    min_upload_rate);
  * reads: /healthz, /readyz, /metrics, GET of a job.
Recorded per minute: the machine's load average (1 min), RSS and open fds of carved, p50/p99 latency of the API
requests (not the slow clients), requests, jobs done/failed, errors
(anything unexpected: a 5xx, a refused or reset API connection, a good photo
that did not end done, a bad input that was accepted and did not fail)."""
import http.client
import json
import os
import random
import socket
import struct
import sys
import threading
import time

PORT, PID, HOURS, OUT, SAMPLES = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
GOOD_PER_MIN = int(os.environ.get('SOAK_GOOD_PER_MIN', '2'))
SLOW_PER_MIN = int(os.environ.get('SOAK_SLOW_PER_MIN', '20'))
OPTS = os.environ.get('SOAK_OPTIONS', '?work_size=800')


class Minute:
    def __init__(self):
        self.lat, self.errors, self.notes, self.requests = [], 0, [], 0
        self.done = self.failed = self.cancelled = self.slow_dropped = 0


cur = Minute()
lock = threading.Lock()


def err(what):
    with lock:
        cur.errors += 1
        if len(cur.notes) < 3:
            cur.notes.append(what[:80])


def req(method, path, body=None, headers=None, timeout=60):
    t0 = time.time()
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        st = r.status
    except OSError as e:
        err('%s %s: %r' % (method, path, e))
        return 0, b''
    finally:
        c.close()
    with lock:
        cur.lat.append(time.time() - t0)
        cur.requests += 1
    if st >= 500:
        err('%s %s: %d' % (method, path, st))
    return st, data


def jreq(method, path, body=None, headers=None):
    st, data = req(method, path, body, headers)
    try:
        return st, json.loads(data)
    except ValueError:
        return st, {}


def wait_job(jid, timeout=600):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st, j = jreq('GET', '/v1/jobs/' + jid)
        if st == 200 and j.get('state') in ('done', 'failed', 'cancelled'):
            return j
        time.sleep(1.0)
    return {}


def good(photos):
    name = random.choice(photos)
    data = open(os.path.join(SAMPLES, name), 'rb').read()
    ct = 'image/png' if name.endswith('.png') else 'image/jpeg'
    st, j = jreq('POST', '/v1/jobs' + OPTS, data, {'Content-Type': ct})
    if st == 429:
        return
    if st != 202:
        err('good %s: %d' % (name, st))
        return
    j = wait_job(j['id'])
    if j.get('state') != 'done':
        err('good %s ended %s' % (name, j.get('state')))
        return
    with lock:
        cur.done += 1
    for what in ('result', 'report'):
        st, _ = req('GET', '/v1/jobs/%s/%s' % (j['id'], what))
        if st != 200:
            err('%s %d' % (what, st))


def mp4():
    ftyp = b'isom\0\0\2\0isomiso2avc1mp41'
    return struct.pack('>I', 8 + len(ftyp)) + b'ftyp' + ftyp + b'\0' * 4000


def bad(photos):
    jpg = open(os.path.join(SAMPLES, [p for p in photos if p.endswith('.jpg')][0]), 'rb').read()
    cases = [('/v1/jobs', jpg[:len(jpg) // 3], 'image/jpeg', (202,)),
             ('/v1/jobs', mp4(), 'video/mp4', (415,)),
             ('/v1/jobs', os.urandom(3000), 'image/png', (415,)),
             ('/v1/jobs?corner_threshold=999', jpg, 'image/jpeg', (400,)),
             ('/v1/jobs?background=%23zz', jpg, 'image/jpeg', (400,))]
    for path, body, ct, want in cases:
        st, j = jreq('POST', path, body, {'Content-Type': ct})
        if st == 429:
            continue
        if st not in want:
            err('bad input %s: %d' % (path, st))
        elif st == 202:
            j = wait_job(j['id'])
            if j.get('state') != 'failed':
                err('truncated JPEG ended %s' % j.get('state'))
            else:
                with lock:
                    cur.failed += 1


def cancel(photos):
    data = open(os.path.join(SAMPLES, random.choice(photos)), 'rb').read()
    st, j = jreq('POST', '/v1/jobs' + OPTS, data, {'Content-Type': 'image/jpeg'})
    if st != 202:
        return
    st, d = jreq('DELETE', '/v1/jobs/' + j['id'])
    if st not in (200, 202):
        err('DELETE %d' % st)
    else:
        with lock:
            cur.cancelled += 1


def slow_clients():
    socks = []
    for _ in range(SLOW_PER_MIN):
        try:
            s = socket.create_connection(('127.0.0.1', PORT), timeout=5)
            s.setblocking(False)
            s.send(b'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')
            socks.append(s)
        except OSError:
            pass
    up = None
    try:
        up = socket.create_connection(('127.0.0.1', PORT), timeout=5)
        up.send(b'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 90000\r\n\r\n')
        up.setblocking(False)
    except OSError:
        up = None
    for _ in range(25):
        for s in list(socks) + ([up] if up else []):
            try:
                s.send(b'x' * (100 if s is up else 1))
            except OSError:
                if s is up:
                    up = None
                else:
                    socks.remove(s)
                s.close()
                with lock:
                    cur.slow_dropped += 1
        time.sleep(1)
    for s in socks + ([up] if up else []):
        s.close()


def proc_stats():
    rss = 0
    for line in open('/proc/%d/status' % PID):
        if line.startswith('VmRSS:'):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir('/proc/%d/fd' % PID))


def pct(v, p):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


def main():
    global cur
    photos = sorted(f for f in os.listdir(SAMPLES) if f.endswith(('.jpg', '.png')))
    out = open(OUT, 'w')
    out.write('| minute | load | RSS MB | fds | requests | p50 ms | p99 ms | done | failed (bad input) | cancelled | '
              'slow dropped | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n')
    out.flush()
    end = time.time() + HOURS * 3600
    minute = 0
    totals = {'errors': 0, 'requests': 0, 'done': 0}
    rss0 = None
    while time.time() < end:
        t0 = time.time()
        cur = Minute()
        threads = [threading.Thread(target=slow_clients)]
        threads += [threading.Thread(target=good, args=(photos,)) for _ in range(GOOD_PER_MIN)]
        threads += [threading.Thread(target=bad, args=(photos,)), threading.Thread(target=cancel, args=(photos,))]
        for t in threads:
            t.start()
            time.sleep(2)
        while time.time() - t0 < 58:
            for path in ('/healthz', '/readyz', '/metrics'):
                req('GET', path)
            time.sleep(2)
        for t in threads:
            t.join(timeout=max(1.0, 60 - (time.time() - t0)))
        rss, fds = proc_stats()
        rss0 = rss if rss0 is None else rss0
        with lock:
            m = cur
        load = float(open('/proc/loadavg').read().split()[0])
        row = '| %d | %.1f | %.0f | %d | %d | %.0f | %.0f | %d | %d | %d | %d | %d%s |\n' % (
            minute, load, rss, fds, m.requests, pct(m.lat, 50) * 1000, pct(m.lat, 99) * 1000, m.done, m.failed,
            m.cancelled, m.slow_dropped, m.errors, (' ' + '; '.join(m.notes)) if m.notes else '')
        out.write(row)
        out.flush()
        totals['errors'] += m.errors
        totals['requests'] += m.requests
        totals['done'] += m.done
        minute += 1
        time.sleep(max(0.0, 60 - (time.time() - t0)))
    out.write('\n%d minutes, %d API requests, %d good jobs done, %d errors; RSS %.0f -> %.0f MB\n'
              % (minute, totals['requests'], totals['done'], totals['errors'], rss0 or 0, proc_stats()[0]))
    out.close()
    return 1 if totals['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
