#!/usr/bin/env python3
"""Webhooks of carved against a real receiver on loopback (allowed
explicitly with webhook_allow): the signature, the server default, refused
addresses (400, nothing sent), retries with backoff from the durable outbox
across a carved restart while the receiver is down, a hanging receiver that
does not hold up the workers.

Usage: test_webhooks.py PATH/TO/carved [ONLY_TEST ...]"""
import hashlib
import hmac
import http.server
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_carved as tc  # noqa: E402
from test_carved import Carved, check, png_bytes  # noqa: E402

SECRET = 'hook-secret-42'
ALLOW = ('--webhook-secret', SECRET, '--webhook-allow', '127.0.0.0/8')


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST."""

    def __init__(self, port=0, delay=0.0):
        self.got = []
        self.cv = threading.Condition()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                if delay:
                    time.sleep(delay)
                with rec.cv:
                    rec.got.append((self.path, dict(self.headers), body))
                    rec.cv.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.th = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.th.start()

    def wait(self, n, timeout):
        deadline = time.time() + timeout
        with self.cv:
            while len(self.got) < n and time.time() < deadline:
                self.cv.wait(0.05)
        return len(self.got) >= n

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def signed_ok(headers, body):
    want = 'sha256=' + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get('X-Carve-Signature', ''), want)


def webhook_status(s, jid, want, timeout=5):
    """A job's webhook status once its state is `want`, or the last one seen
    after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        w = s.jreq('GET', '/v1/jobs/' + jid)[2]['webhook']
        if w['state'] == want or time.time() >= deadline:
            return w
        time.sleep(0.05)


def test_webhook_signed_and_default():
    rx = Receiver()
    base = 'http://127.0.0.1:%d' % rx.port
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10', '--callback-url', base + '/default', *ALLOW)
    try:
        st, _, a = s.submit(png_bytes(8, 8), '?callback_url=' + base + '/hook%3Fk%3D1')
        check(st == 202 and a['webhook']['state'] == 'none' and a['webhook']['url'].endswith('/hook?k=1'),
              'accepted with its callback: %r %r' % (st, a.get('webhook')))
        st, _, b = s.submit(png_bytes(8, 8, seed=1))
        check(st == 202, 'a job without its own callback: %r' % st)
        check(rx.wait(2, 10), 'two deliveries: %d' % len(rx.got))
        by_path = {p: (h, body) for p, h, body in rx.got}
        h, body = by_path.get('/hook?k=1', ({}, b''))
        check(signed_ok(h, body), 'X-Carve-Signature is HMAC-SHA256(secret, body): %r' % h.get('X-Carve-Signature'))
        j = json.loads(body or b'{}')
        check(j.get('id') == a['id'] and j.get('state') == 'done' and h.get('X-Carve-Event') == 'job.done',
              'the body is the final job JSON: %r' % {k: j.get(k) for k in ('id', 'state')})
        h2, body2 = by_path.get('/default', ({}, b''))
        check(signed_ok(h2, body2) and json.loads(body2 or b'{}').get('id') == b['id'],
              'the server default callback got the other job')
        w = webhook_status(s, a['id'], 'delivered')
        check(w['state'] == 'delivered' and w['attempts'] == 1 and w['last_error'] is None,
              'delivery status in the job JSON: %r' % w)
    finally:
        s.stop()
        rx.close()


def test_webhook_refused_addresses():
    rx = Receiver()
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10', '--webhook-secret', SECRET)
    try:
        for url in ('http://127.0.0.1:%d/x' % rx.port, 'http://10.1.2.3/x', 'http://169.254.169.254/latest',
                    'http://192.168.1.1/', 'http://[::1]:%d/' % rx.port, 'http://[fe80::1]/', 'http://0.0.0.0/',
                    'http://localhost:%d/' % rx.port):
            st, _, e = s.submit(png_bytes(8, 8), '?callback_url=' + url)
            msg = e.get('error', {}).get('message', '')
            check(st == 400 and 'callback_url' in msg and 'webhook_allow' in msg, '%s refused: %r %r' % (url, st, msg))
        for url in ('ftp://example.org/x', 'http://user@example.org/', 'http:///nohost'):
            st, _, e = s.submit(png_bytes(8, 8), '?callback_url=' + url)
            check(st == 400 and 'callback_url' in e.get('error', {}).get('message', ''), '%s refused: %r' % (url, st))
        time.sleep(0.2)
        check(rx.got == [], 'nothing was sent')
    finally:
        s.stop()
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10', '--webhook-allow', '127.0.0.0/8')
    try:
        st, _, e = s.submit(png_bytes(8, 8), '?callback_url=http://127.0.0.1:%d/x' % rx.port)
        check(st == 400 and 'webhook_secret' in e['error']['message'], 'no secret configured: 400: %r' % e)
    finally:
        s.stop()
        rx.close()


def test_webhook_retry_across_restart():
    port = free_port()  # the receiver is down at first
    flags = ('--engine', 'synthetic', '--synthetic-ms', '10', '--webhook-backoff', '0.2', '--webhook-backoff-max',
             '0.8', '--webhook-timeout', '1') + ALLOW
    s = Carved(*flags)
    first = s
    t_down = time.time()
    try:
        st, _, a = s.submit(png_bytes(8, 8), '?callback_url=http://127.0.0.1:%d/late' % port)
        check(st == 202, 'accepted: %r' % st)
        deadline = time.time() + 10
        j = {}
        while time.time() < deadline:
            j = s.jreq('GET', '/v1/jobs/' + a['id'])[2]
            if j.get('webhook', {}).get('attempts', 0) >= 2:
                break
            time.sleep(0.05)
        w = j.get('webhook', {})
        check(w.get('state') == 'pending' and w.get('attempts', 0) >= 2 and w.get('last_error'),
              'failed tries recorded, still pending: %r' % w)
    finally:
        s.stop()
    # the outbox is durable: a restarted carved goes on trying
    s = Carved(*flags, data_dir=first.data_dir)
    try:
        time.sleep(max(0.0, 3.0 - (time.time() - t_down)))  # receiver down ~3 s in all
        rx = Receiver(port)
        try:
            check(rx.wait(1, 10), 'delivered once the receiver is up')
            if rx.got:
                path, h, body = rx.got[0]
                check(path == '/late' and signed_ok(h, body), 'signed delivery after the retries')
                n = int(h.get('X-Carve-Delivery', 'x.0').rsplit('.', 1)[1])
                check(n >= 3, 'delivery attempt number %d (after failed ones)' % n)
            w = webhook_status(s, a['id'], 'delivered')
            check(w['state'] == 'delivered' and w['attempts'] >= 3, 'status: %r' % w)
            time.sleep(0.5)
            check(len(rx.got) == 1, 'delivered once (%d)' % len(rx.got))
        finally:
            rx.close()
    finally:
        s.stop()


def test_webhook_hanging_receiver():
    rx = Receiver(delay=4.0)
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10', '--webhook-timeout', '0.5', '--webhook-backoff', '30',
               *ALLOW)
    try:
        ids = []
        t0 = time.time()
        for i in range(3):
            st, _, j = s.submit(png_bytes(8, 8, seed=i), '?callback_url=http://127.0.0.1:%d/slow' % rx.port)
            ids.append(j.get('id'))
        for jid in ids:
            j = s.wait_state(jid, timeout=20)
            check(j and j['state'] == 'done', 'job done: %r' % (j and j['state']))
        check(time.time() - t0 < 2.5, 'jobs finished while the receiver hangs (%.2f s)' % (time.time() - t0))
        deadline = time.time() + 8
        while time.time() < deadline:
            ws = [s.jreq('GET', '/v1/jobs/' + jid)[2]['webhook'] for jid in ids]
            if all(w['attempts'] >= 1 for w in ws):
                break
            time.sleep(0.1)
        check(all(w['attempts'] >= 1 and w['state'] == 'pending' and 'imeout' in (w['last_error'] or '')
                  for w in ws), 'bounded timeout, retried later: %r' % ws)
    finally:
        s.stop()
        rx.close()


TESTS = [test_webhook_signed_and_default, test_webhook_refused_addresses, test_webhook_retry_across_restart,
         test_webhook_hanging_receiver]


def main():
    return tc.run_main(TESTS)


if __name__ == '__main__':
    sys.exit(main())
