#!/usr/bin/env python3
"""bench/trace/formats.py — what writing PDF, EPS or DXF instead of SVG costs.

For every sample photo in tests/data/samples, quantized to 16 colours by
`carve quantize` (into a temp folder), runs `carve trace IN -o OUT.<fmt>` for
svg, pdf, eps and dxf, interleaved (svg pdf eps dxf svg pdf ...), RUNS times,
and prints per image the median wall time of each format, the extra time
over SVG in % and the file sizes; then the medians over all images.  Start-up,
decoding and writing the file are included (the user's view of a trace).

    python3 bench/trace/formats.py [--carve build/tools/carve] [--runs 7]
                                   [--baseline OTHER_CARVE]

--baseline also times OTHER_CARVE's SVG in the same interleaved loop (e.g. a
build from before the geometry IR) and prints its time as "base s".
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

FORMATS = ['svg', 'pdf', 'eps', 'dxf']


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument('--carve', default=os.path.join(root, 'build', 'tools', 'carve'))
    ap.add_argument('--runs', type=int, default=7)
    ap.add_argument('--colors', type=int, default=16)
    ap.add_argument('--baseline')
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='carve-formats-')
    photos = sorted(glob.glob(os.path.join(root, 'tests', 'data', 'samples', '*')))
    rows, extra = [], {f: [] for f in FORMATS[1:]}
    for p in photos:
        name = os.path.splitext(os.path.basename(p))[0]
        q = os.path.join(tmp, name + '.png')
        subprocess.run([a.carve, 'quantize', p, '-o', q, '--colors', str(a.colors), '-q'], check=True)
        times = {f: [] for f in FORMATS}
        base = []
        for _ in range(a.runs):
            if a.baseline:
                t0 = time.perf_counter()
                subprocess.run([a.baseline, 'trace', q, '-o', os.path.join(tmp, name + '.base.svg'), '-q'], check=True)
                base.append(time.perf_counter() - t0)
            for f in FORMATS:
                out = os.path.join(tmp, name + '.' + f)
                t0 = time.perf_counter()
                subprocess.run([a.carve, 'trace', q, '-o', out, '-q'], check=True)
                times[f].append(time.perf_counter() - t0)
        med = {f: statistics.median(times[f]) for f in FORMATS}
        size = {f: os.path.getsize(os.path.join(tmp, name + '.' + f)) for f in FORMATS}
        for f in FORMATS[1:]:
            extra[f].append(100.0 * (med[f] / med['svg'] - 1))
        rows.append((name, med, size, statistics.median(base) if base else None))
    print('| image | ' + ('base s | ' if a.baseline else '') + ' | '.join('%s s' % f for f in FORMATS) + ' | ' +
          ' | '.join('%s +%%' % f for f in FORMATS[1:]) + ' | ' + ' | '.join('%s KB' % f for f in FORMATS) + ' |')
    print('|---' * (1 + 3 * len(FORMATS) - 1 + (1 if a.baseline else 0)) + '|')
    for name, med, size, b in rows:
        print('| %s | ' % name + ('%.3f | ' % b if b is not None else '') + ' | '.join('%.3f' % med[f] for f in FORMATS) + ' | ' +
              ' | '.join('%+.1f' % (100.0 * (med[f] / med['svg'] - 1)) for f in FORMATS[1:]) + ' | ' +
              ' | '.join('%.0f' % (size[f] / 1024) for f in FORMATS) + ' |')
    print('| **median** | ' + ('| ' if a.baseline else '') + '| | | | ' + ' | '.join('**%+.1f**' % statistics.median(extra[f]) for f in FORMATS[1:]) +
          ' | | | | |')
    subprocess.run(['rm', '-rf', tmp])
    return 0


if __name__ == '__main__':
    sys.exit(main())
