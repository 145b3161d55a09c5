#!/usr/bin/python3
"""bench/trace/speed.py — interleaved timing of `carve trace` and VTracer.

The shared harness times one tool over all images, then the next, so on a
shared machine a change of load between the two passes biases the ratio.
Here each image is traced alternately by both tools, RUNS times each, and
both wall time and CPU time (user + sys of the process and its children) are
recorded; the table gives per-set medians and the ratio VTracer / carve.

    speed.py --carve build/tools/carve --bench bench/harness \
             --images DIR [--images DIR ...] [--runs 5] [--per-image]

--per-image adds a table with each image's medians and wall ratio.
"""
import argparse, os, resource, statistics, subprocess, sys, tempfile, time

def run(cmd, cwd, env):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t1 - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--carve', required=True)
    ap.add_argument('--bench', required=True)
    ap.add_argument('--images', action='append', required=True)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--per-image', action='store_true')
    a = ap.parse_args()
    env = dict(os.environ)
    env.setdefault('NODE_PATH', os.path.join(env.get('BENCH_WORK', '/tmp/carve-bench'), 'node_modules'))
    carve = os.path.abspath(a.carve)
    out = tempfile.mkdtemp()
    print('| set | images | carve wall s | VTracer wall s | wall ratio | carve CPU s | VTracer CPU s | CPU ratio |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    allr = {'cw': [], 'vw': [], 'cc': [], 'vc': []}
    rows = []
    for d in a.images:
        files = sorted(f for f in os.listdir(d) if f.endswith('.png'))
        res = {'cw': [], 'vw': [], 'cc': [], 'vc': []}
        for f in files:
            p = os.path.join(d, f)
            cw, vw, cc, vc = [], [], [], []
            for _ in range(a.runs):
                w, c = run([carve, 'trace', p, '-o', os.path.join(out, 'c.svg'), '-q'], a.bench, env)
                cw.append(w); cc.append(c)
                w, c = run(['node', 'tools/vtracer.js', '--variant', 'default', p, os.path.join(out, 'v.svg')], a.bench, env)
                vw.append(w); vc.append(c)
            rows.append((os.path.basename(d.rstrip('/')) + '/' + f, statistics.median(cw), statistics.median(vw),
                         statistics.median(cc), statistics.median(vc)))
            for k, v in (('cw', cw), ('vw', vw), ('cc', cc), ('vc', vc)):
                res[k].append(statistics.median(v))
                allr[k].append(statistics.median(v))
        m = {k: statistics.median(v) for k, v in res.items()}
        print('| %s | %d | %.3f | %.3f | %.1f× | %.3f | %.3f | %.1f× |' % (os.path.basename(d.rstrip('/')), len(files),
              m['cw'], m['vw'], m['vw'] / m['cw'], m['cc'], m['vc'], m['vc'] / m['cc']))
        sys.stdout.flush()
    m = {k: statistics.median(v) for k, v in allr.items()}
    print('| **all** | %d | %.3f | %.3f | **%.1f×** | %.3f | %.3f | **%.1f×** |' % (len(allr['cw']), m['cw'], m['vw'],
          m['vw'] / m['cw'], m['cc'], m['vc'], m['vc'] / m['cc']))
    if a.per_image:
        print()
        print('| image | carve wall s | VTracer wall s | wall ratio | carve CPU s | VTracer CPU s | CPU ratio |')
        print('|---|---:|---:|---:|---:|---:|---:|')
        for n, cw, vw, cc, vc in rows:
            print('| %s | %.3f | %.3f | %.1f× | %.3f | %.3f | %.1f× |' % (n, cw, vw, vw / cw, cc, vc, vc / cc))

if __name__ == '__main__':
    main()
