#!/usr/bin/env python3
"""carved load helpers for bench/server/run.sh (stdlib only, 127.0.0.1 only).

  load.py png OUT.png W H            write a small RGB PNG
  load.py busy PORT SECONDS          keep submitting jobs (workers stay busy)
  load.py one PORT                   submit one job, print its id
  load.py rss PORT PID JOBS STEP     submit JOBS jobs (bounded queue), print a
                                     table of RSS every STEP finished jobs
"""
import http.client
import json
import struct
import sys
import time
import zlib


def png(w, h, seed=0):
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            raw += bytes(((x * 7 + seed) % 256, (y * 5) % 256, (seed * 3) % 256))

    def chunk(tag, data):
        c = struct.pack('>I', len(data)) + tag + data
        return c + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(bytes(raw))) + chunk(b'IEND', b''))


def submit(conn, body):
    conn.request('POST', '/v1/jobs', body, {'Content-Type': 'image/png'})
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else {})


def metric(conn, name):
    conn.request('GET', '/metrics')
    r = conn.getresponse()
    for line in r.read().decode().splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    return None


def rss_kb(pid):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == 'png':
        open(sys.argv[2], 'wb').write(png(int(sys.argv[3]), int(sys.argv[4])))
        return
    port = int(sys.argv[2])
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    if cmd == 'one':
        st, j = submit(conn, png(16, 16))
        print(j['id'])
    elif cmd == 'busy':
        end = time.time() + float(sys.argv[3])
        body = png(16, 16)
        while time.time() < end:
            st, _ = submit(conn, body)
            if st == 429:
                time.sleep(0.05)
    elif cmd == 'rss':
        pid, jobs, step = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        body = png(16, 16)
        sent = 0
        t0 = time.time()
        print('| jobs finished | RSS (MiB) | jobs in store | elapsed (s) |')
        print('|---:|---:|---:|---:|')
        print('| 0 | %.1f | 0 | 0.0 |' % (rss_kb(pid) / 1024))
        next_mark = step
        deadline = t0 + 1800
        while time.time() < deadline and next_mark <= jobs:
            fin = metric(conn, 'carved_jobs_finished_total{state="done"}') or 0
            while fin >= next_mark and next_mark <= jobs:
                conn.request('GET', '/metrics')
                m = conn.getresponse().read().decode()
                stored = sum(float(l.split()[1]) for l in m.splitlines() if l.startswith('carved_jobs{'))
                print('| %d | %.1f | %d | %.1f |' % (next_mark, rss_kb(pid) / 1024, stored, time.time() - t0))
                sys.stdout.flush()
                next_mark += step
            if sent < jobs and sent - fin < 200:
                for _ in range(min(20, jobs - sent)):
                    st, _ = submit(conn, body)
                    if st == 202:
                        sent += 1
                    else:
                        time.sleep(0.01)
            else:
                time.sleep(0.02)


main()
