#!/usr/bin/env python3
"""End-to-end tests of tunings in carved (POST /v1/tunings, GET, events,
result, DELETE, PUT /v1/presets/NAME) against a real carved and the real
pipeline: validation (400/413/415 as JSON), the events stream shows every
trial, cancel stops within 1 s, SIGKILL mid-tuning then restart resumes from
the stored trials and completes, an installed preset works for later jobs.

Usage: test_tunings.py PATH/TO/carved [ONLY_TEST ...]
The references are made by carve itself (tools/carve next to carved) with
options the tuner is not told."""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_carved as tc  # noqa: E402
from test_carved import Carved, check  # noqa: E402

CARVE = os.path.join(os.path.dirname(os.path.abspath(tc.CARVED)), 'carve')
HIDDEN = ['--colors', '5', '--flatten', '3', '--min-region', '20', '--mode', 'polygon']
W, H = 128, 96


def png(w, h, pixels):
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            raw += bytes(pixels(x, y))

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(bytes(raw), 6)) + chunk(b'IEND', b''))


def vehicle(seed):
    """A toy 'vehicle': a coloured body with windows and two dark wheels on a
    light, slightly noisy street."""
    body = ((200, 40, 40), (40, 90, 200), (230, 200, 40), (60, 160, 80))[seed % 4]

    def px(x, y):
        n = ((x * 7919 + y * 104729 + seed * 31) % 23) - 11
        if ((x - 36) ** 2 + (y - 70) ** 2 < 120) or ((x - 92) ** 2 + (y - 70) ** 2 < 120):
            return (25 + n, 25 + n, 30 + n)
        if 20 + seed < x < 110 and 40 < y < 68:
            return tuple(max(0, min(255, c + n)) for c in body)
        if 40 < x < 95 and 24 < y <= 40:
            return (150 + n, 190 + n, 220 + n) if (x // 14) % 2 else tuple(max(0, c - 30) for c in body)
        return (205 + n + y // 8, 205 + n + y // 8, 200 + n)
    return png(W, H, px)


class Pairs:
    def __init__(self, n):
        self.tmp = tempfile.TemporaryDirectory(prefix='carve-tune-')
        self.files = []
        for i in range(n):
            p = os.path.join(self.tmp.name, 'car%d.png' % i)
            open(p, 'wb').write(vehicle(i))
            r = os.path.join(self.tmp.name, 'car%d.svg' % i)
            subprocess.run([CARVE, 'run', p, '-o', r, '-q'] + HIDDEN, check=True)
            self.files.append((open(p, 'rb').read(), open(r, 'rb').read()))


def multipart(fields):
    """fields: (name, filename or None, bytes)."""
    b = 'tuneboundary7d1'
    out = bytearray()
    for name, fn, data in fields:
        out += b'--' + b.encode() + b'\r\n'
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % fn if fn else '')
        out += ('Content-Disposition: %s\r\n\r\n' % disp).encode() + data + b'\r\n'
    out += b'--' + b.encode() + b'--\r\n'
    return bytes(out), 'multipart/form-data; boundary=' + b


def post_tuning(s, pairs, trials, extra=(), options='{"work_size": 256}'):
    f = []
    for i, (p, r) in enumerate(pairs):
        f.append(('photos', 'car%d.png' % i, p))
        f.append(('references', 'car%d.svg' % i, r))
    f += [('trials', None, str(trials).encode()), ('options', None, options.encode())] + list(extra)
    body, ct = multipart(f)
    return s.jreq('POST', '/v1/tunings', body, {'Content-Type': ct})


def wait_tuning(s, tid, cond, timeout=120):
    deadline = time.time() + timeout
    j = None
    while time.time() < deadline:
        st, _, j = s.jreq('GET', '/v1/tunings/' + tid)
        if st == 200 and cond(j):
            return j
        time.sleep(0.05)
    return j


def evaluations(trials):
    n, total = trials, trials
    for _ in range(2):
        n = max(1, (n + 2) // 3)
        total += n
    return total


def read_events(s, tid, timeout=120):
    """Reads the SSE stream to its end; returns (trial events, log events, states)."""
    c = s.conn(timeout)
    c.request('GET', '/v1/tunings/%s/events' % tid)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    trials, logs, states = [], [], []
    for block in text.split('\n\n'):
        ev = dict(line.split(': ', 1) for line in block.split('\n') if ': ' in line and not line.startswith(':'))
        if ev.get('event') == 'trial':
            trials.append(json.loads(ev['data']))
        elif ev.get('event') == 'log':
            logs.append(json.loads(ev['data']))
        elif ev.get('event') == 'state':
            states.append(json.loads(ev['data'])['state'])
    return trials, logs, states


def test_validation():
    pairs = Pairs(2).files
    s = Carved('--max-pixels', '20000')
    try:
        st, _, j = s.jreq('POST', '/v1/tunings', b'{}', {'Content-Type': 'application/json'})
        check(st == 415 and j['error']['code'] == 'unsupported_media_type', 'non-multipart: %r %r' % (st, j))
        body, ct = multipart([('photos', 'a.png', pairs[0][0]), ('references', 'b.svg', pairs[1][1]),
                              ('photos', 'c.png', pairs[1][0]), ('references', 'c.svg', pairs[1][1])])
        st, _, j = s.jreq('POST', '/v1/tunings', body, {'Content-Type': ct})
        m = j.get('error', {}).get('message', '')
        check(st == 400 and "'a.png'" in m and "'b.svg'" in m, 'unpaired files named: %r %r' % (st, j))
        st, _, j = post_tuning(s, pairs[:1], 4)
        check(st == 400 and 'at least 2' in j['error']['message'], 'one pair: %r %r' % (st, j))
        st, _, j = post_tuning(s, [(b'not an image at all', pairs[0][1]), pairs[1]], 4)
        check(st == 415 and j['error']['code'] == 'unsupported_media_type', 'bad photo: %r %r' % (st, j))
        st, _, j = post_tuning(s, pairs, 4, options='{"colors": 999}')
        check(st == 400 and 'colors' in j['error']['message'], 'bad option named: %r %r' % (st, j))
        st, _, j = post_tuning(s, pairs, 4, options='{"listen": "0.0.0.0:1"}')
        check(st == 400 and 'listen' in j['error']['message'], 'server option refused: %r %r' % (st, j))
        st, _, j = post_tuning(s, pairs, 0)
        check(st == 400 and 'trials' in j['error']['message'], 'trials 0: %r %r' % (st, j))
        big = png(200, 150, lambda x, y: (x % 256, y % 256, 0))
        st, _, j = post_tuning(s, [(big, pairs[0][1]), pairs[1]], 4)
        check(st == 413 and 'max_pixels' in j['error']['message'], 'pixel limit: %r %r' % (st, j))
        st, _, j = s.jreq('GET', '/v1/tunings/' + '0' * 32)
        check(st == 404 and 'error' in j, 'unknown tuning: %r %r' % (st, j))
    finally:
        s.close()


def test_events_result_and_preset():
    pairs = Pairs(3).files
    s = Carved()
    try:
        st, _, j = post_tuning(s, pairs, 6)
        check(st == 202 and j['state'] == 'queued', 'tuning accepted: %r %r' % (st, j))
        tid = j['id']
        trials, logs, states = read_events(s, tid)
        want = evaluations(6)
        check(len(trials) == want and [t['index'] for t in trials] == list(range(want)),
              'live events show every trial: %d of %d' % (len(trials), want))
        check(all('score' in t and 'colors' in t['options'] for t in trials), 'trial events carry options and score')
        check(any('prepared' in l['msg'] for l in logs), 'log lines in the stream: %r' % logs[:3])
        check(states and states[-1] == 'done', 'final state done: %r' % states)
        st, _, j = s.jreq('GET', '/v1/tunings/' + tid)
        check(st == 200 and j['state'] == 'done' and j['trials'] == want and j['progress'] == 1 and
              j['best_score'] == min(t['score'] for t in trials if t['rung'] == max(x['rung'] for x in trials)),
              'GET: state, trials, progress, best score: %r' % j)
        st, _, best = s.jreq('GET', '/v1/tunings/%s/result' % tid)
        check(st == 200 and 'colors' in best and best == j['best'], 'result is the best preset: %r' % best)
        replay, _, rstates = read_events(s, tid)
        check([t['index'] for t in replay] == list(range(want)) and rstates == ['done'],
              'finished tuning: events replayed from the store')
        st, _, j = s.jreq('PUT', '/v1/presets/house', json.dumps(best).encode(), {'Content-Type': 'application/json'})
        check(st == 201 and j['installed'], 'preset installed: %r %r' % (st, j))
        st, _, j = s.jreq('PUT', '/v1/presets/bad', b'{"colors": 0}', {'Content-Type': 'application/json'})
        check(st == 400 and 'colors' in j['error']['message'], 'bad preset refused: %r %r' % (st, j))
        st, _, j = s.jreq('GET', '/v1/presets')
        check(st == 200 and 'house' in j['installed'], 'presets listed: %r' % j)
        st, _, j = s.submit(pairs[0][0], '?preset=house')
        check(st == 202, 'job with the installed preset: %r %r' % (st, j))
        j = s.wait_state(j['id'])
        check(j['state'] == 'done', 'job with preset=house done: %r' % j)
        st, _, j = s.submit(pairs[0][0], '?preset=nosuch')
        check(st == 400 and 'nosuch' in j['error']['message'], 'unknown preset refused: %r %r' % (st, j))
    finally:
        s.close()


def test_cancel_within_1s():
    pairs = Pairs(2).files
    s = Carved()
    try:
        st, _, j = post_tuning(s, pairs, 500)
        tid = j['id']
        j = wait_tuning(s, tid, lambda j: j['trials'] >= 2)
        check(j and j['state'] == 'running', 'tuning running: %r' % j)
        t0 = time.time()
        st, _, d = s.jreq('DELETE', '/v1/tunings/' + tid)
        dt = time.time() - t0
        check(st == 200 and d['cancelled'], 'DELETE: %r %r' % (st, d))
        st, _, j = s.jreq('GET', '/v1/tunings/' + tid)
        check(j['state'] == 'cancelled' and dt < 1.0, 'cancelled within 1 s: %.3f s, %r' % (dt, j['state']))
        st, _, best = s.jreq('GET', '/v1/tunings/%s/result' % tid)
        check(st == 200 and 'colors' in best, 'the best preset so far is kept: %r' % best)
    finally:
        s.close()


def test_sigkill_resume(compare=True):
    pairs = Pairs(3).files
    trials = 12
    s = Carved()
    data = s.data_dir
    try:
        st, _, j = post_tuning(s, pairs, trials)
        tid = j['id']
        j = wait_tuning(s, tid, lambda j: j['trials'] >= 4)
        check(j and j['state'] == 'running' and j['trials'] < evaluations(trials), 'killed mid-tuning: %r' % j)
        done_before = j['trials']
        s.stop(signal.SIGKILL)
        s2 = Carved(data_dir=data)
        try:
            trials_ev, logs, states = read_events(s2, tid)
            j = wait_tuning(s2, tid, lambda j: j['state'] in ('done', 'failed', 'cancelled'))
            want = evaluations(trials)
            check(j['state'] == 'done' and j['trials'] == want, 'resumed and completed: %r' % j)
            restored = [t for t in trials_ev if t['restored']]
            check(len(restored) >= done_before and len(trials_ev) == want,
                  'resumed from the stored trials (%d restored, >= %d), every trial shown (%d of %d)' %
                  (len(restored), done_before, len(trials_ev), want))
            check(any('resume' in l['msg'] for l in logs) or restored, 'resume visible')
        finally:
            s2.stop()
        if not compare:
            return
        # the same request uninterrupted gives the same preset (deterministic search)
        s3 = Carved()
        try:
            st, _, j2 = post_tuning(s3, pairs, trials)
            j2 = wait_tuning(s3, j2['id'], lambda j: j['state'] == 'done')
            check(j2 and j2['best'] == j['best'], 'resumed result equals an uninterrupted one')
        finally:
            s3.close()
    finally:
        if s.tmp:
            s.tmp.cleanup()


def sse_blocks(resp, stop=None):
    """Parses an SSE response block by block: [(id, event, data)]; stops
    early (leaving the stream open) when stop(list so far) is true."""
    out, buf = [], b''
    while True:
        line = resp.readline()
        if not line:
            break
        if line in (b'\n', b'\r\n'):
            ev = {}
            for ln in buf.decode().split('\n'):
                if ': ' in ln and not ln.startswith(':'):
                    k, v = ln.split(': ', 1)
                    ev[k] = v
            buf = b''
            if 'event' in ev:
                out.append((ev.get('id'), ev['event'], json.loads(ev['data'])))
                if stop and stop(out):
                    break
            continue
        buf += line
    return out


def open_events(s, tid, last_id=None):
    c = s.conn(120)
    c.request('GET', '/v1/tunings/%s/events' % tid, headers={'Last-Event-ID': last_id} if last_id else {})
    r = c.getresponse()
    return c, r


def cursor(eid):
    t, e = eid.split('-')
    return int(t), int(e)


def test_last_event_id():
    """A client that reconnects with Last-Event-ID gets exactly the events
    after the one it saw last: no trial or log line lost or repeated."""
    pairs = Pairs(2).files
    s = Carved()
    try:
        trials = 9
        st, _, j = post_tuning(s, pairs, trials)
        tid = j['id']
        cf, rf = open_events(s, tid)  # a client that stays: the whole stream
        c1, r1 = open_events(s, tid)
        first = sse_blocks(r1, lambda ev: sum(1 for x in ev if x[1] == 'trial') >= 3)
        c1.close()  # the first client drops off after 3 trials
        last = first[-1][0]
        check(last and all(x[0] for x in first), 'every event has an id: %r' % [x[:2] for x in first])
        j = s.jreq('GET', '/v1/tunings/' + tid)[2]
        check(j['state'] == 'running', 'reconnect while the tuning runs: %r' % j['state'])
        c2, r2 = open_events(s, tid, last)
        rest = sse_blocks(r2)
        c2.close()
        full = sse_blocks(rf)
        cf.close()
        want = evaluations(trials)
        idx = [x[2]['index'] for x in first + rest if x[1] == 'trial']
        check(idx == list(range(want)), 'trials before + after the reconnect: each once, in order: %r' % idx)
        lt, le = cursor(last)
        logs = lambda evs, lo: [x[2] for x in evs if x[1] in ('log', 'state') and cursor(x[0])[1] - 1 >= lo]
        check(logs(rest, 0) == logs(full, le) and logs(rest, 0),
              'log lines after the id = the whole stream\'s from there: %d vs %d' % (len(logs(rest, 0)),
                                                                                      len(logs(full, le))))
        check(not [x for x in logs(first, 0) if x in logs(rest, 0)], 'no log line twice')
        check(rest[-1][1] == 'state' and rest[-1][2]['state'] == 'done', 'resumed stream ends with done')
        rp = sse_blocks(open_events(s, tid, '%d-0' % (want - 2))[1])
        check([x[2]['index'] for x in rp if x[1] == 'trial'] == [want - 2, want - 1],
              'finished tuning: the stored trials after the id: %r' % [x[:2] for x in rp])
    finally:
        s.close()


TESTS = [test_validation, test_events_result_and_preset, test_cancel_within_1s, test_sigkill_resume, test_last_event_id]


def main():
    return tc.run_main(TESTS, [CARVE])


if __name__ == '__main__':
    sys.exit(main())
