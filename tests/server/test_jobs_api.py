#!/usr/bin/env python3
"""End-to-end tests of the job listing (GET /v1/jobs, keyset pages) and
Idempotency-Key on POST /v1/jobs, against a real carved (SQLite store).

Usage: test_jobs_api.py PATH/TO/carved [ONLY_TEST ...]
Reuses test_carved.py's helpers (Carved, check, png_bytes)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_carved as tc  # noqa: E402
from test_carved import Carved, check, png_bytes  # noqa: E402


def list_all(s, query, limit):
    """Follows next_cursor; returns the jobs of every page and the page count."""
    jobs, pages, cursor = [], 0, None
    while True:
        q = '/v1/jobs?limit=%d%s%s' % (limit, query, '&cursor=' + cursor if cursor else '')
        st, _, body = s.jreq('GET', q)
        if not check(st == 200 and 'jobs' in body, 'GET %s -> %r %r' % (q, st, body)):
            return jobs, pages
        pages += 1
        jobs += body['jobs']
        check(len(body['jobs']) <= limit, 'page over limit: %d' % len(body['jobs']))
        cursor = body['next_cursor']
        if not cursor or pages > 100:
            return jobs, pages


def test_list_jobs():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10', '--workers', '2')
    try:
        ids = []
        for i in range(23):
            st, _, j = s.submit(png_bytes(8, 8, seed=i))
            check(st == 202, 'submit %d: %r %r' % (i, st, j))
            ids.append(j['id'])
        since = time.time()
        time.sleep(0.01)
        late = []
        for i in range(3):
            st, _, j = s.submit(png_bytes(8, 8, seed=100 + i))
            check(st == 202, 'late submit %d: %r %r' % (i, st, j))
            late.append(j.get('id'))
        ids += late
        for jid in ids:
            s.wait_state(jid)
        jobs, pages = list_all(s, '', 5)
        got = [j['id'] for j in jobs]
        check(got == ids[::-1], 'all jobs newest first over pages (%d of %d, order ok %r)' %
              (len(got), len(ids), got == ids[::-1]))
        check(pages == 6, 'limit 5 gives 6 pages for 26 jobs, got %d' % pages)
        check(all(j['state'] == 'done' and j['urls']['self'] == '/v1/jobs/' + j['id'] for j in jobs),
              'listed jobs are full job objects')
        # since=: only the 3 late ones
        jobs, _ = list_all(s, '&since=%.6f' % since, 2)
        check([j['id'] for j in jobs] == late[::-1], 'since= keeps the late jobs: %r' % [j['id'] for j in jobs])
        # a job submitted while paging does not shift the pages (keyset, not offset)
        st, _, p1 = s.jreq('GET', '/v1/jobs?limit=4')
        st, _, j = s.submit(png_bytes(8, 8, seed=7))
        check(st == 202, 'submit while paging: %r %r' % (st, j))
        extra = j.get('id')
        st, _, p2 = s.jreq('GET', '/v1/jobs?limit=4&cursor=' + p1['next_cursor'])
        check([j['id'] for j in p1['jobs'] + p2['jobs']] == ids[::-1][:8], 'keyset pages stable under inserts')
        s.wait_state(extra)
    finally:
        s.stop()
    # state filter: a running then failed (timeout) job among the done ones
    first = s  # owns the temporary folder
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '3000', '--job-timeout', '1', data_dir=first.data_dir)
    try:
        st, _, j = s.submit(png_bytes(8, 8))
        check(st == 202, 'submit timeout job: %r %r' % (st, j))
        fid = j.get('id')
        s.wait_state(fid, ('running',))
        st, _, b = s.jreq('GET', '/v1/jobs?state=running,queued')
        check(st == 200 and [x['id'] for x in b['jobs']] == [fid], 'state=running lists the running job: %r' % b)
        s.wait_state(fid)
        st, _, b = s.jreq('GET', '/v1/jobs?state=failed')
        check(st == 200 and [x['id'] for x in b['jobs']] == [fid], 'state=failed lists the timed-out job: %r' % b)
        st, _, b = s.jreq('GET', '/v1/jobs?state=failed,done&limit=200')
        check(st == 200 and len(b['jobs']) == 28 and b['next_cursor'] is None, 'state=failed,done: %d' %
              len(b.get('jobs', [])))
        st, _, b = s.jreq('GET', '/v1/jobs?state=queued')
        check(st == 200 and b['jobs'] == [], 'state=queued is empty')
        # bad queries name the parameter
        for q, word in (('state=sleeping', "'state'"), ('limit=0', "'limit'"), ('limit=201', "'limit'"),
                        ('since=yesterday', "'since'"), ('cursor=abc', "'cursor'"),
                        ('cursor=' + 'z' * 48, "'cursor'")):
            st, _, b = s.jreq('GET', '/v1/jobs?' + q)
            check(st == 400 and word in b.get('error', {}).get('message', ''), '%s -> 400 naming it: %r' % (q, b))
        st, _, b = s.jreq('PUT', '/v1/jobs', b'x', {'Content-Type': 'text/plain'})
        check(st == 405, 'PUT /v1/jobs is 405')
    finally:
        s.stop()


def test_idempotency():
    s = Carved('--engine', 'synthetic', '--synthetic-ms', '10')
    try:
        img = png_bytes(8, 8, seed=3)
        h = {'Idempotency-Key': 'order-42'}
        st, hd, a = s.submit(img, '?colors=8', headers=h)
        check(st == 202, 'first submit 202: %r' % st)
        st, hd, b = s.submit(img, '?colors=8', headers=h)
        check(st == 200 and b.get('id') == a['id'] and hd.get('idempotent-replayed') == 'true',
              'same key + same request -> 200 with the first job: %r %r' % (st, b.get('id')))
        st, _, c = s.submit(img, '?colors=9', headers=h)
        check(st == 409 and c['error']['code'] == 'idempotency_conflict' and a['id'] in c['error']['message'],
              'same key, other options -> 409: %r %r' % (st, c))
        st, _, c = s.submit(png_bytes(8, 8, seed=4), '?colors=8', headers=h)
        check(st == 409, 'same key, other image -> 409: %r' % st)
        st, _, c = s.submit(img, '?colors=8', headers={'Idempotency-Key': 'order-43'})
        check(st == 202 and c['id'] != a['id'], 'another key -> a new job')
        st, _, c = s.submit(img, '?colors=8', headers={'Idempotency-Key': 'bad key'})
        check(st == 400 and c['error']['code'] == 'bad_idempotency_key', 'key with a space -> 400')
        # multipart: same fields with a different boundary are the same request
        def mp(boundary):
            body = (b'--' + boundary + b'\r\nContent-Disposition: form-data; name="options"\r\n\r\n{"colors":6}\r\n'
                    b'--' + boundary + b'\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
                    b'Content-Type: image/png\r\n\r\n' + img + b'\r\n--' + boundary + b'--\r\n')
            return s.jreq('POST', '/v1/jobs', body, {'Content-Type': 'multipart/form-data; boundary=' +
                                                     boundary.decode(), 'Idempotency-Key': 'mp-1'})
        st1, _, m1 = mp(b'AAAA1111')
        st2, _, m2 = mp(b'BBBB2222')
        check(st1 == 202 and st2 == 200 and m1['id'] == m2['id'], 'multipart replay: %r %r' % (st1, st2))
        # concurrent retries with one key: exactly one job
        res = []

        def post():
            res.append(s.submit(img, '?colors=5', headers={'Idempotency-Key': 'race-1'}))
        th = [threading.Thread(target=post) for _ in range(8)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        codes = sorted(r[0] for r in res)
        check(codes == [200] * 7 + [202] and len(set(r[2]['id'] for r in res)) == 1,
              'concurrent same-key posts: one 202, seven 200, one job: %r' % codes)
        # a deleted job frees its key
        s.wait_state(a['id'])
        st, _, _ = s.jreq('DELETE', '/v1/jobs/' + a['id'])
        st, _, d = s.submit(img, '?colors=8', headers=h)
        check(st == 202 and d['id'] != a['id'], 'key of a deleted job makes a new job: %r' % st)
    finally:
        s.stop()
    # the key survives a restart (it is in the store)
    st_dir = s.data_dir
    s2 = Carved('--engine', 'synthetic', '--synthetic-ms', '10', data_dir=st_dir)
    try:
        st, _, e = s2.submit(img, '?colors=8', headers=h)
        check(st == 200 and e['id'] == d['id'], 'key remembered across a restart: %r' % st)
    finally:
        s2.stop()


TESTS = [test_list_jobs, test_idempotency]


def main():
    return tc.run_main(TESTS)


if __name__ == '__main__':
    sys.exit(main())
