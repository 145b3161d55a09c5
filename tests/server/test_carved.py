#!/usr/bin/env python3
"""End-to-end tests of carved (the HTTP job server), run by meson test.

Usage: test_carved.py PATH/TO/carved [ONLY_TEST ...]

Each test starts its own carved on 127.0.0.1 with port 0 (the bound port is
read from --port-file) and a fresh temporary data dir.  Most tests use the
synthetic engine (engine=synthetic: fixed-duration fake work with progress),
which measures the server itself; one test runs the real pipeline on a
sample photo.  Only loopback addresses are used.  The last line is
"N passed, N failed"."""
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from checks import check, finish  # noqa: E402,F401 - the suites import them from here
import checks  # noqa: E402

CARVED = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else 'build/tools/carved'
ONLY = sys.argv[2:]
DATA = os.environ.get('CARVE_TEST_DATA', os.path.join(os.path.dirname(__file__), '..', 'data'))


def run_tests(tests, only=None):
    """checks.run_tests over the tests named on the command line (ONLY)
    unless `only` is given."""
    checks.run_tests(tests, ONLY if only is None else only)


def png_bytes(w, h, seed=0):
    """A small RGB PNG (gradient), written by hand so the test needs no PIL."""
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            raw += bytes(((x * 255 // max(w - 1, 1) + seed) % 256, (y * 255 // max(h - 1, 1)) % 256, (seed * 7) % 256))

    def chunk(tag, data):
        c = struct.pack('>I', len(data)) + tag + data
        return c + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(bytes(raw))) + chunk(b'IEND', b''))


class Carved:
    def __init__(self, *flags, data_dir=None, env=None):
        self.tmp = None
        if data_dir is None:
            self.tmp = tempfile.TemporaryDirectory(prefix='carved-test-')
            data_dir = self.tmp.name + '/data'
        self.data_dir = data_dir
        self.port_file = data_dir + '.port'
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log_path = data_dir + '.log'
        self.log = open(self.log_path, 'ab')
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([CARVED, '--listen', '127.0.0.1:0', '--data-dir', data_dir,
                                      '--port-file', self.port_file, '--log-level', 'info'] + list(flags),
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=e)
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline:
            if os.path.exists(self.port_file):
                self.port = int(open(self.port_file).read())
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)

    def conn(self, timeout=30):
        return http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)

    def req(self, method, path, body=None, headers=None, timeout=30):
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def jreq(self, method, path, body=None, headers=None):
        st, h, data = self.req(method, path, body, headers)
        try:
            return st, h, json.loads(data)
        except ValueError:
            return st, h, {'_raw': data}

    def submit(self, img, query='', headers=None, ctype='image/png'):
        hd = {'Content-Type': ctype}
        hd.update(headers or {})
        return self.jreq('POST', '/v1/jobs' + query, img, hd)

    def wait_state(self, jid, states=('done', 'failed', 'cancelled'), timeout=60, headers=None):
        deadline = time.time() + timeout
        j = None
        while time.time() < deadline:
            st, _, j = self.jreq('GET', '/v1/jobs/' + jid, headers=headers)
            if st == 200 and j['state'] in states:
                return j
            time.sleep(0.05)
        return j

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        # sanitizer builds: any report in carved's stderr is a failure
        text = open(self.log_path, 'rb').read()
        for bad in (b'ERROR: AddressSanitizer', b'ERROR: LeakSanitizer', b'runtime error:', b'ThreadSanitizer'):
            if bad in text:
                i = text.index(bad)
                check(False, 'sanitizer report in carved stderr: %r' % text[max(0, i - 200):i + 2000])
        if sig == signal.SIGTERM:
            check(self.proc.returncode == 0, 'carved exit status after SIGTERM: %r' % self.proc.returncode)
        return self.proc.returncode

    def close(self):
        rc = self.stop()
        if self.tmp:
            self.tmp.cleanup()
        return rc


def is_error_json(data, code=None):
    try:
        e = json.loads(data)['error']
        return isinstance(e['message'], str) and e['message'] != '' and (code is None or e['code'] == code)
    except (ValueError, KeyError, TypeError):
        return False


# --------------------------------------------------------------------------
def test_submit_poll_result_pipeline():
    """Real pipeline on a sample photo: 202 + id, poll to done, SVG, report,
    artifacts; the job row is durable (visible) right after the 202."""
    s = Carved('--workers', '1')
    try:
        if not check(s.port, 'carved started'):
            return
        st, _, hz = s.jreq('GET', '/readyz')
        check(st == 200 and hz['ready'], 'readyz ready: %r' % (hz,))
        if not hz.get('pipeline'):
            sys.stderr.write('skip: the carve pipeline is not built into carved\n')
            return
        img = open(os.path.join(DATA, 'samples', 'sedan_black_side.jpg'), 'rb').read()
        st, h, j = s.submit(img, '?preset=poster', ctype='image/jpeg')
        check(st == 202, 'POST status %d %r' % (st, j))
        jid = j.get('id', '')
        check(re.fullmatch(r'[0-9a-f]{32}', jid) is not None, 'id is 128-bit hex: %r' % jid)
        check(h.get('location') == '/v1/jobs/' + jid, 'Location header')
        check(j['urls']['result'] == '/v1/jobs/%s/result' % jid, 'urls')
        j = s.wait_state(jid, timeout=120)
        check(j and j['state'] == 'done', 'job done: %r' % (j,))
        check(j and j['progress'] == 1.0 and j['timings'].get('total', 0) > 0, 'progress and timings')
        st, h, svg = s.req('GET', '/v1/jobs/%s/result' % jid)
        check(st == 200 and h['content-type'] == 'image/svg+xml' and svg.lstrip().startswith(b'<svg'), 'SVG result')
        st, h, svg2 = s.req('GET', '/v1/jobs/%s/result?download=1' % jid)
        check('attachment' in h.get('content-disposition', ''), 'download disposition')
        st, _, rep = s.jreq('GET', '/v1/jobs/%s/report' % jid)
        check(st == 200 and isinstance(rep, dict) and '_raw' not in rep, 'report is JSON')
        st, h, orig = s.req('GET', '/v1/jobs/%s/artifacts/original' % jid)
        check(st == 200 and orig == img and h['content-type'] == 'image/jpeg', 'original artifact is the upload')
        st, h, png = s.req('GET', '/v1/jobs/%s/artifacts/chroma' % jid)
        check(st == 200 and png[:8] == b'\x89PNG\r\n\x1a\n', 'chroma artifact is a PNG (%d)' % st)
        st, _, data = s.req('GET', '/v1/jobs/%s/artifacts/secret' % jid)
        check(st == 404 and is_error_json(data), 'unknown artifact 404 JSON')
    finally:
        s.close()


def test_validation_errors():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '50')
    try:
        img = png_bytes(32, 24)
        st, _, j = s.submit(img, '?no_such_option=3')
        check(st == 400 and 'no_such_option' in j['error']['message'], 'unknown key named: %r' % (j,))
        st, _, j = s.submit(img, '?corner_threshold=500')
        check(st == 400 and 'corner_threshold' in j['error']['message'], 'out of range named: %r' % (j,))
        st, _, j = s.submit(img, '?mode=zigzag')
        check(st == 400 and 'mode' in j['error']['message'], 'bad enum named')
        st, _, j = s.submit(img, '?api_key=x')
        check(st == 400 and 'api_key' in j['error']['message'], 'server option refused per job')
        st, _, j = s.submit(img, '?models_dir=/tmp')
        check(st == 400 and 'models_dir' in j['error']['message'], 'operator option refused per job')
        st, _, j = s.submit(img, '?palette=../../etc/passwd')
        check(st == 400 and 'palette' in j['error']['message'], 'palette path refused: %r' % (j,))
        st, _, j = s.submit(img, '?palette=no-such-palette')
        check(st == 400 and 'no-such-palette' in j['error']['message'], 'unknown palette named')
        # multipart with an options JSON field
        b = 'XyZbOuNdArY'
        body = (('--%s\r\nContent-Disposition: form-data; name="options"\r\n\r\n{"preset":"poster","colors":9}\r\n'
                 '--%s\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png'
                 '\r\n\r\n') % (b, b)).encode() + img + ('\r\n--%s--\r\n' % b).encode()
        st, _, j = s.submit(body, ctype='multipart/form-data; boundary=' + b)
        check(st == 202 and j['options'] == {'preset': 'poster', 'colors': 9}, 'multipart accepted: %r' % (j,))
        bad = body.replace(b'"colors":9', b'"colours":9')
        st, _, j = s.submit(bad, ctype='multipart/form-data; boundary=' + b)
        check(st == 400 and 'colours' in j['error']['message'], 'multipart unknown key named')
        st, _, data = s.req('POST', '/v1/jobs', b'', {'Content-Type': 'image/png'})
        check(st == 400 and is_error_json(data), 'empty body 400')
        st, _, data = s.req('PUT', '/v1/jobs', b'x', {'Content-Type': 'image/png'})
        check(st == 405 and is_error_json(data), '405 JSON')
        st, _, data = s.req('GET', '/v1/nothing')
        check(st == 404 and is_error_json(data, 'not_found'), '404 JSON')
        st, _, opts = s.jreq('GET', '/v1/options')
        keys = [o['key'] for o in opts['options']]
        check('corner_threshold' in keys and 'api_key' not in keys and 'listen' not in keys, '/v1/options')
    finally:
        s.close()


def test_415_and_413():
    s = Carved('--engine', 'synthetic', '--max-upload', '65536', '--max-pixels', '10000')
    try:
        st, _, data = s.req('POST', '/v1/jobs', b'this is not an image at all' * 10, {'Content-Type': 'image/png'})
        check(st == 415 and is_error_json(data, 'unsupported_media_type'), '415 for a non-image claiming image/png')
        st, _, data = s.req('POST', '/v1/jobs', b'{"a":1}', {'Content-Type': 'application/json'})
        check(st == 415 and is_error_json(data), '415 for application/json')
        st, _, data = s.req('POST', '/v1/jobs', b'<svg xmlns="http://www.w3.org/2000/svg"/>',
                            {'Content-Type': 'image/svg+xml'})
        check(st == 415, 'SVG upload refused (%d)' % st)
        big = png_bytes(40, 40) + b'\0' * 70000
        st, _, data = s.req('POST', '/v1/jobs', big, {'Content-Type': 'image/png'})
        check(st == 413 and is_error_json(data, 'too_large'), '413 over max_upload (%d)' % st)
        # declared length over the limit: refused before the body is read
        c = socket.create_connection(('127.0.0.1', s.port), timeout=10)
        c.sendall(b'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 999999999\r\n\r\n')
        resp = c.recv(4096)
        c.close()
        check(resp.startswith(b'HTTP/1.1 413'), '413 from Content-Length alone: %r' % resp[:40])
        st, _, data = s.req('POST', '/v1/jobs', png_bytes(200, 100), {'Content-Type': 'image/png'})
        check(st == 413 and is_error_json(data, 'too_many_pixels'), '413 over max_pixels (%d %r)' % (st, data[:200]))
        st, _, data = s.req('POST', '/v1/jobs', png_bytes(50, 50), {'Content-Type': 'image/png'})
        check(st == 202, 'small image accepted (%d)' % st)
    finally:
        s.close()


def test_queue_full_429():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '3000', '--workers', '1', '--queue-max', '2')
    try:
        img = png_bytes(16, 16)
        codes = []
        retry = None
        for i in range(6):
            st, h, j = s.submit(img)
            codes.append(st)
            if st == 429:
                retry = h.get('retry-after')
                check(is_error_json(json.dumps(j).encode(), 'queue_full'), '429 JSON')
        check(codes.count(202) >= 2 and codes.count(202) <= 3 and 429 in codes, 'codes %r' % codes)
        check(retry is not None and retry.isdigit() and int(retry) >= 1, 'Retry-After %r' % retry)
        st, _, m = s.req('GET', '/metrics')
        check(re.search(rb'carved_jobs_rejected_total\{reason="queue_full"\} [1-9]', m) is not None, 'metric counts 429')
    finally:
        s.close()


def test_delete_cancels_running():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '30000', '--workers', '1')
    try:
        img = png_bytes(16, 16)
        st, _, j = s.submit(img)
        jid = j['id']
        st, _, j2 = s.submit(img)
        queued = j2['id']
        j = s.wait_state(jid, ('running',), timeout=10)
        check(j and j['state'] == 'running', 'running')
        time.sleep(0.3)
        st, _, j = s.jreq('GET', '/v1/jobs/' + jid)
        check(j['timings'].get('sanitize', 0) > 0 and j['timings']['total'] >= 0.25 and 0 < j['progress'] < 0.5,
              'live progress and per-stage timings of a running job: %r' % (j,))
        t0 = time.time()
        st, _, d = s.jreq('DELETE', '/v1/jobs/' + jid)
        dt = time.time() - t0
        check(st == 200 and d.get('deleted') is True, 'DELETE 200: %d %r' % (st, d))
        check(dt < 1.0, 'cancelled within 1 s (%.3f s)' % dt)
        st, _, _ = s.jreq('GET', '/v1/jobs/' + jid)
        check(st == 404, 'running job removed (%d)' % st)
        check(not os.path.exists(os.path.join(s.data_dir, 'jobs', jid)), 'files removed')
        # the queued one starts next; delete it while queued or running
        st, _, d = s.jreq('DELETE', '/v1/jobs/' + queued)
        check(st == 200, 'DELETE queued/next job (%d)' % st)
        st, _, _ = s.jreq('GET', '/v1/jobs/' + queued)
        check(st == 404, 'queued job removed')
        st, _, d = s.jreq('DELETE', '/v1/jobs/' + queued)
        check(st == 404, 'second DELETE 404')
    finally:
        s.close()


def test_timeout():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '30000', '--job-timeout', '1', '--sweep-interval', '0.1')
    try:
        st, _, j = s.submit(png_bytes(16, 16))
        t0 = time.time()
        j = s.wait_state(j['id'], timeout=10)
        check(j and j['state'] == 'failed' and j['error']['code'] == 'timeout', 'timeout: %r' % (j,))
        check(time.time() - t0 < 3.5, 'failed promptly after job_timeout')
    finally:
        s.close()


def test_auth_and_cors():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10', '--api-key', 'k1-secret, k2-other')
    try:
        st, h, data = s.req('GET', '/v1/options')
        check(st == 401 and is_error_json(data, 'unauthorized') and 'bearer' in h.get('www-authenticate', '').lower(),
              '401 without a key')
        st, _, _ = s.req('GET', '/v1/options', headers={'Authorization': 'Bearer wrong'})
        check(st == 401, '401 with a wrong key')
        st, _, _ = s.req('GET', '/v1/options', headers={'Authorization': 'Bearer k1-secret'})
        check(st == 200, '200 with key 1')
        st, _, _ = s.req('GET', '/metrics', headers={'Authorization': 'Bearer k2-other'})
        check(st == 200, '200 with key 2')
        st, _, _ = s.req('POST', '/v1/jobs', png_bytes(8, 8), {'Content-Type': 'image/png'})
        check(st == 401, 'POST refused without key')
        st, _, _ = s.req('GET', '/healthz')
        check(st == 200, 'healthz open')
        st, h, _ = s.req('GET', '/v1/options', headers={'Authorization': 'Bearer k1-secret', 'Origin': 'http://e.x'})
        check('access-control-allow-origin' not in h, 'CORS off by default')
        st, _, data = s.req('GET', '/v1/options?access_token=k1-secret')
        check(st == 200, 'access_token query (EventSource)')
    finally:
        s.close()
    s = Carved('--engine', 'synthetic', '--cors-origin', 'https://ui.example')
    try:
        st, h, _ = s.req('GET', '/v1/options', headers={'Origin': 'https://ui.example'})
        check(h.get('access-control-allow-origin') == 'https://ui.example', 'CORS header when configured')
        st, h, _ = s.req('OPTIONS', '/v1/jobs')
        check(st == 204 and 'POST' in h.get('access-control-allow-methods', ''), 'preflight')
    finally:
        s.close()
    # a key is required: refuses to start without one (checked before binding)
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([CARVED, '--listen', '127.0.0.1:0', '--data-dir', d + '/x', '--require-key', 'always'],
                           capture_output=True, timeout=30)
        check(p.returncode == 2 and b'api_key' in p.stderr, 'refuses to start without a key: %r' % p.stderr[-300:])
        p = subprocess.run([CARVED, '--data-dir', d + '/x', '--workers', '0'], capture_output=True, timeout=30)
        check(p.returncode == 2 and b'workers' in p.stderr, 'bad flag value named')
        p = subprocess.run([CARVED, '--data-dir', d + '/x', '--wrokers', '2'], capture_output=True, timeout=30)
        check(p.returncode == 2 and b'wrokers' in p.stderr, 'unknown flag named')
        p = subprocess.run([CARVED, '--data-dir', d + '/x', '--require-key', 'always'], capture_output=True,
                           timeout=30, env=dict(os.environ, CARVED_WORKERS='abc'))
        check(p.returncode == 2 and b'CARVED_WORKERS' in p.stderr, 'bad environment variable named')
        open(d + '/c.conf', 'w').write('workers = 3\nqueue_max = -5\n')
        p = subprocess.run([CARVED, '--config', d + '/c.conf'], capture_output=True, timeout=30)
        check(p.returncode == 2 and b'c.conf:2' in p.stderr and b'queue_max' in p.stderr,
              'config error names file:line and key: %r' % p.stderr[-300:])


def test_config_file_and_env():
    with tempfile.TemporaryDirectory() as d:
        # one file holds carved's settings and libcarve's options (the jobs' defaults)
        open(d + '/carved.conf', 'w').write('# carved config\nqueue_max = 7\nworkers = 3\nengine = synthetic\n'
                                            'colors = 5\n')
        s = Carved('--config', d + '/carved.conf', '--workers', '5', env={'CARVED_QUEUE_MAX': '9'})
        try:
            st, _, r = s.jreq('GET', '/readyz')
            check(st == 200 and r['queue_max'] == 9 and r['workers'] == 5 and r['engine'] == 'synthetic',
                  'precedence file < env < flags: %r' % (r,))
            st, _, o = s.jreq('GET', '/v1/options')
            defaults = {e['key']: e['default'] for e in o['options']}
            check(defaults.get('colors') == '5', 'a library option in the config file is the jobs default')
        finally:
            s.close()
        open(d + '/c.json', 'w').write('{"workers": 2, "engine": "synthetic", "colors": 6, "listen": "127.0.0.1:0"}')
        s = Carved('--config', d + '/c.json')
        try:
            st, _, r = s.jreq('GET', '/readyz')
            st2, _, o = s.jreq('GET', '/v1/options')
            defaults = {e['key']: e['default'] for e in o['options']}
            check(r['workers'] == 2 and defaults.get('colors') == '6', 'JSON config with settings and options')
        finally:
            s.close()
        open(d + '/bad.conf', 'w').write('workers = 2\ncolors = 5\nwrokers = 3\n')
        p = subprocess.run([CARVED, '--config', d + '/bad.conf'], capture_output=True, timeout=30)
        check(p.returncode == 2 and b'bad.conf:3' in p.stderr and b"unknown option 'wrokers'" in p.stderr,
              'unknown config key named with file:line: %r' % p.stderr[-300:])
        open(d + '/bad.json', 'w').write('{"workers": [2]}')
        p = subprocess.run([CARVED, '--config', d + '/bad.json'], capture_output=True, timeout=30)
        check(p.returncode == 2 and b'bad.json' in p.stderr and b'workers' in p.stderr,
              'a setting of the wrong JSON type named: %r' % p.stderr[-300:])


def test_path_traversal():
    s = Carved('--engine', 'synthetic')
    try:
        for path in ['/v1/jobs/../../etc/passwd', '/v1/jobs/..%2f..%2fetc%2fpasswd', '/../../etc/passwd',
                     '/v1/jobs/0123456789ABCDEF0123456789abcdef', '/v1/jobs/0123456789abcdef0123456789abcdef/../x',
                     '/%2e%2e/%2e%2e/etc/passwd', '/index.html/../../carved.db', '/carved.db', '/jobs']:
            st, _, data = s.req('GET', path)
            check(st in (400, 404) and is_error_json(data) and b'root:' not in data, '%s -> %d' % (path, st))
        st, _, data = s.req('PUT', '/v1/palettes/..%2f..%2fx', b'#ffffff\n')
        check(st in (400, 404) and is_error_json(data), 'palette traversal refused (%d)' % st)
        st, _, data = s.req('PUT', '/v1/palettes/' + 'a' * 65, b'#ffffff\n')
        check(st == 400, 'palette name too long')
        st, h, data = s.req('GET', '/')
        check(st == 200 and b'<html' in data.lower() and 'text/html' in h['content-type'], 'UI index served')
    finally:
        s.close()


def sse_read(s, jid, last_id=None, timeout=30):
    """Reads an SSE stream until it ends; returns [(id, event, data)]."""
    c = socket.create_connection(('127.0.0.1', s.port), timeout=timeout)
    hdr = 'GET /v1/jobs/%s/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n' % jid
    if last_id is not None:
        hdr += 'Last-Event-ID: %d\r\n' % last_id
    c.sendall((hdr + 'Connection: close\r\n\r\n').encode())
    buf = b''
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = c.recv(65536)
        if not d:
            break
        buf += d
    c.close()
    head, _, body = buf.partition(b'\r\n\r\n')
    # undo chunked transfer encoding
    if b'chunked' in head.lower():
        out = b''
        while body:
            line, _, rest = body.partition(b'\r\n')
            try:
                n = int(line.split(b';')[0], 16)
            except ValueError:
                break
            if n == 0:
                break
            out += rest[:n]
            body = rest[n + 2:]
        body = out
    events = []
    for block in body.decode().split('\n\n'):
        eid, ev, data = None, 'message', None
        for line in block.split('\n'):
            if line.startswith('id: '):
                eid = int(line[4:])
            elif line.startswith('event: '):
                ev = line[7:]
            elif line.startswith('data: '):
                data = json.loads(line[6:])
        if data is not None:
            events.append((eid, ev, data))
    return head, events


def test_sse_progress():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '800')
    try:
        st, _, j = s.submit(png_bytes(20, 20))
        jid = j['id']
        head, events = sse_read(s, jid)
        check(b'text/event-stream' in head, 'content type')
        kinds = [e[1] for e in events]
        prog = [e[2]['progress'] for e in events if e[1] == 'progress']
        check(len(prog) >= 10, 'progress events live: %d' % len(prog))
        check(prog == sorted(prog) and prog[-1] >= 0.99, 'progress increases to 1')
        check('log' in kinds, 'log lines')
        check(events and events[-1][1] == 'state' and events[-1][2]['state'] == 'done', 'ends with done')
        ids = [e[0] for e in events if e[0] is not None]
        check(ids == sorted(ids) and len(set(ids)) == len(ids), 'ids increase')
        # resume with Last-Event-ID (finished job: replayed from the store)
        k = ids[len(ids) // 2]
        _, ev2 = sse_read(s, jid, last_id=k)
        check(all(e[0] > k for e in ev2 if e[0] is not None) and ev2[-1][2].get('state') == 'done',
              'resume after Last-Event-ID %d' % k)
        # resume on a live job
        st, _, j = s.submit(png_bytes(20, 20))
        time.sleep(0.4)
        _, ev3 = sse_read(s, j['id'], last_id=3)
        check(ev3 and min(e[0] for e in ev3 if e[0]) == 4 and ev3[-1][2]['state'] == 'done', 'live resume')
    finally:
        s.close()


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*)?\})? '
                       r'(-?[0-9.eE+-]+|\+Inf|NaN)$')


def test_metrics():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '40', '--workers', '2')
    try:
        ids = [s.submit(png_bytes(16, 16))[2]['id'] for _ in range(5)]
        for jid in ids:
            s.wait_state(jid)
        st, h, m = s.req('GET', '/metrics')
        check(st == 200 and h['content-type'].startswith('text/plain'), 'metrics content type')
        vals = {}
        bad = 0
        for line in m.decode().splitlines():
            if not line or line.startswith('#'):
                check(not line or line.startswith('# HELP ') or line.startswith('# TYPE '), 'comment %r' % line)
                continue
            mm = METRIC_RE.match(line)
            if not mm:
                bad += 1
                sys.stderr.write('bad metric line %r\n' % line)
                continue
            vals[mm.group(1) + (mm.group(2) or '')] = float(mm.group(5))
        check(bad == 0, 'every line parses')
        check(vals.get('carved_jobs{state="done"}') == 5, 'jobs by state: %r' % vals.get('carved_jobs{state="done"}'))
        check(vals.get('carved_queue_depth') == 0, 'queue depth')
        check(vals.get('process_resident_memory_bytes', 0) > 1e6, 'rss')
        check(vals.get('carved_phase_duration_seconds_count{phase="chroma"}') == 5, 'phase histogram count')
        b = [v for k, v in vals.items() if k.startswith('carved_phase_duration_seconds_bucket{phase="vector"')]
        check(len(b) == 12 and b == sorted(b) and b[-1] == 5, 'buckets cumulative: %r' % b)
        check('carved_job_errors_total{kind="timeout"}' in vals, 'errors by kind')
    finally:
        s.close()


def test_palettes():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10')
    try:
        st, _, r = s.jreq('GET', '/v1/palettes')
        if st == 501:
            sys.stderr.write('skip: palettes not built\n')
            return
        check(st == 200 and isinstance(r['builtin'], list) and r['custom'] == [], 'list: %r' % (r,))
        st, _, p = s.jreq('PUT', '/v1/palettes/brand_1', b'#c8102e\n#ffffff\n#000000\n', {'Content-Type': 'text/plain'})
        check(st == 200 and len(p.get('colors', [])) == 3, 'PUT palette: %d %r' % (st, p))
        st, _, e = s.jreq('PUT', '/v1/palettes/broken', b'#c8102e\n#zzzzzz\n', {'Content-Type': 'text/plain'})
        check(st == 400 and e['error']['code'] == 'invalid_palette', 'invalid palette 400: %r' % (e,))
        st, _, r = s.jreq('GET', '/v1/palettes')
        check(r['custom'] == ['brand_1'], 'listed')
        st, _, j = s.submit(png_bytes(16, 16), '?palette=brand_1')
        check(st == 202 and j['custom_palette'] is True and 'palette' not in j['options'], 'job with custom palette')
        if r['builtin']:
            name = r['builtin'][0]['name']
            st, _, j2 = s.submit(png_bytes(16, 16), '?palette=' + name)
            check(st == 202 and j2['options'].get('palette') == name, 'job with built-in palette')
            st, _, _ = s.jreq('PUT', '/v1/palettes/' + name, b'#ffffff\n')
            check(st == 409, 'built-in name cannot be replaced')
        st, _, _ = s.jreq('DELETE', '/v1/palettes/brand_1')
        check(st == 200, 'DELETE palette')
        st, _, _ = s.jreq('DELETE', '/v1/palettes/brand_1')
        check(st == 404, 'DELETE again 404')
        j = s.wait_state(j['id'])
        check(j['state'] == 'done', 'job keeps its palette snapshot after the palette is deleted: %r' % (j,))
    finally:
        s.close()


def test_sigkill_durability():
    """SIGKILL carved under load; after a restart every accepted job ends done."""
    tmp = tempfile.TemporaryDirectory(prefix='carved-kill-')
    d = tmp.name + '/data'
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '150', '--workers', '2', '--queue-max', '1000',
               data_dir=d)
    accepted = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(seed):
        i = 0
        while not stop.is_set() and i < 40:
            try:
                st, _, j = s.submit(png_bytes(12, 12, seed * 100 + i))
            except OSError:
                return
            if st == 202:
                with lock:
                    accepted.append(j['id'])
            i += 1
    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while time.time() < deadline:
        with lock:
            n = len(accepted)
        st, _, m = s.req('GET', '/metrics')
        done = re.search(rb'carved_jobs\{state="done"\} (\d+)', m)
        if n >= 40 and done and int(done.group(1)) >= 3:
            break
        time.sleep(0.05)
    s.proc.send_signal(signal.SIGKILL)   # mid-way: submissions and jobs in flight
    s.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    s.log.close()
    check(len(accepted) >= 40, 'accepted %d jobs before the kill' % len(accepted))
    s2 = Carved('--engine', 'synthetic', '--synthetic-ms', '10', '--workers', '4', '--queue-max', '1000',
                data_dir=d)
    try:
        lost, notdone, rerun = [], [], 0
        for jid in accepted:
            j = s2.wait_state(jid, timeout=60)
            st = j and 'state' in j
            if not st:
                lost.append(jid)
            elif j['state'] != 'done':
                notdone.append((jid, j['state']))
            elif j['attempts'] >= 2:
                rerun += 1
        check(not lost, 'no accepted job lost (%d of %d missing)' % (len(lost), len(accepted)))
        check(not notdone, 'all done after restart: %r' % notdone[:3])
        check(rerun >= 1, 'interrupted jobs were run again (%d)' % rerun)
        log = open(s2.log_path, 'rb').read()
        check(b'recovered jobs from the store' in log, 'recovery logged')
    finally:
        s2.stop()
        tmp.cleanup()


def test_retention_race():
    """Retention 0 with a sweep every 50 ms while jobs finish and clients
    poll: every reply is a valid job or a clean 404, never a 5xx or a crash."""
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '0', '--workers', '4', '--queue-max', '1000',
               '--retention', '0', '--sweep-interval', '0.05')
    try:
        errors = []
        done = [0]
        lock = threading.Lock()

        def client(seed):
            for i in range(25):
                st, _, j = s.submit(png_bytes(8, 8, seed + i))
                if st != 202:
                    errors.append(('submit', st))
                    continue
                jid = j['id']
                for _ in range(200):
                    st, _, j = s.jreq('GET', '/v1/jobs/' + jid)
                    st2, _, _ = s.req('GET', '/v1/jobs/%s/result' % jid)
                    if st >= 500 or st2 >= 500 or st not in (200, 404) or st2 not in (200, 404, 409):
                        errors.append((st, st2))
                    if st == 404:
                        with lock:
                            done[0] += 1
                        break
                    time.sleep(0.01)
        threads = [threading.Thread(target=client, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, 'no errors: %r' % errors[:5])
        check(s.proc.poll() is None, 'carved still running')
        check(done[0] >= 90, 'jobs swept while clients watched (%d of 100)' % done[0])
        deadline = time.time() + 10
        while time.time() < deadline:
            st, _, m = s.req('GET', '/metrics')
            n = re.search(rb'carved_jobs_swept_total (\d+)', m)
            if n and int(n.group(1)) >= 100:
                break
            time.sleep(0.05)
        check(n and int(n.group(1)) == 100, 'all 100 swept: %r' % (n and n.group(1)))
        check(re.search(rb'carved_jobs\{state="done"\} 0', m) is not None, 'store empty')
        left = os.listdir(os.path.join(s.data_dir, 'jobs'))
        check(left == [], 'no job files left: %r' % left[:3])
    finally:
        rc = s.close()
        check(rc == 0, 'clean exit after SIGTERM (rc %r)' % rc)


def test_slow_client():
    s = Carved('--engine', 'synthetic', '--conn-timeout', '1', '--request-timeout', '2')
    try:
        c = socket.create_connection(('127.0.0.1', s.port), timeout=10)
        c.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n')   # never finishes the headers
        t0 = time.time()
        try:
            d = c.recv(100)
        except OSError:
            d = b''
        dt = time.time() - t0
        c.close()
        check(d == b'' and dt < 5, 'idle connection closed after conn_timeout (%.2f s, %r)' % (dt, d[:30]))
        st, _, _ = s.req('GET', '/healthz')
        check(st == 200, 'still serving')
    finally:
        s.close()


def test_graceful_restart_requeues():
    tmp = tempfile.TemporaryDirectory(prefix='carved-term-')
    d = tmp.name + '/data'
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '20000', '--workers', '1', data_dir=d)
    st, _, j = s.submit(png_bytes(8, 8))
    jid = j['id']
    s.wait_state(jid, ('running',), timeout=10)
    t0 = time.time()
    rc = s.stop(signal.SIGTERM)
    check(rc == 0 and time.time() - t0 < 3, 'SIGTERM stops promptly (rc %r)' % rc)
    s2 = Carved('--engine', 'synthetic', '--synthetic-ms', '10', data_dir=d)
    try:
        j = s2.wait_state(jid, timeout=20)
        check(j and j['state'] == 'done' and j['attempts'] == 2, 'interrupted job re-run: %r' % (j,))
    finally:
        s2.stop()
        tmp.cleanup()


def test_result_format():
    """format=pdf / dxf (a schema option, so the HTTP API takes it): the result
    is served with the format's content type and download name."""
    s = Carved('--workers', '1')
    try:
        if not check(s.port, 'carved started'):
            return
        st, _, hz = s.jreq('GET', '/readyz')
        if not hz.get('pipeline'):
            sys.stderr.write('skip: the carve pipeline is not built into carved\n')
            return
        img = open(os.path.join(DATA, 'samples', 'bus_red_london_plate.jpg'), 'rb').read()
        for fmt, ctype, magic in (('pdf', 'application/pdf', b'%PDF-'), ('dxf', 'image/vnd.dxf', b'0\nSECTION')):
            st, h, j = s.submit(img, '?preset=poster&work_size=256&format=' + fmt, ctype='image/jpeg')
            check(st == 202, 'POST format=%s: %d %r' % (fmt, st, j))
            j = s.wait_state(j.get('id', ''), timeout=120)
            check(j and j['state'] == 'done', 'job done: %r' % (j,))
            st, h, doc = s.req('GET', '/v1/jobs/%s/result?download=1' % j['id'])
            check(st == 200 and h['content-type'] == ctype and doc.startswith(magic), '%s result %r' % (fmt, h))
            check(h.get('content-disposition', '').endswith('.%s"' % fmt), 'download name .%s' % fmt)
        st, _, j = s.submit(img, '?format=gif', ctype='image/jpeg')
        check(st == 400 and 'svg|pdf|eps|dxf' in json.dumps(j), 'format=gif refused: %d %r' % (st, j))
    finally:
        s.close()


TESTS = [test_validation_errors, test_415_and_413, test_queue_full_429, test_delete_cancels_running, test_timeout,
         test_auth_and_cors, test_config_file_and_env, test_path_traversal, test_sse_progress, test_metrics,
         test_palettes, test_sigkill_durability, test_retention_race, test_slow_client,
         test_graceful_restart_requeues, test_submit_poll_result_pipeline, test_result_format]


def run_main(tests, needs=()):
    """A suite's main: carved (and the programs in `needs`) must exist; runs
    the tests named on the command line (all by default); the exit status."""
    for prog in (CARVED,) + tuple(needs):
        if not os.access(prog, os.X_OK):
            print('%s not found' % prog)
            return 1
    run_tests(tests)
    return finish()


def main():
    return run_main(TESTS)


if __name__ == '__main__':  # test_jobs_api.py imports the helpers
    sys.exit(main())
