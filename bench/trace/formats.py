#!/usr/bin/env python3
"""bench/trace/formats.py — what writing PDF, EPS or DXF instead of SVG costs.

Every sample photo in tests/data/samples is quantized to 16 colours by
`carve quantize` (into a temp folder).  Then, in-process through libcarve
(ctypes), carve_trace runs with option format = svg, pdf, eps, dxf,
interleaved, RUNS times, on one thread (threads=1, so CPU time is the work);
the table gives the fastest of the RUNS CPU times per format (the minimum:
on a shared machine other work only ever adds time) (decode excluded, the whole trace and the
writer included), the extra over SVG in %, and the document sizes.

--baseline-lib OTHER_LIBCARVE also times OTHER_LIBCARVE's carve_trace (SVG,
e.g. a build from before the geometry IR) in the same interleaved loop and
prints it as "base svg" with the change of this build's SVG over it.

    python3 bench/trace/formats.py [--lib build/src/libcarve.so] [--carve build/tools/carve]
                                   [--runs 9] [--baseline-lib OTHER/libcarve.so]
"""
import argparse
import ctypes
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

FORMATS = [b'svg', b'pdf', b'eps', b'dxf']


class Tracer:
    """one libcarve: a ctx on one thread and the decoded image"""

    def __init__(self, path, q):
        self.lib = lib = ctypes.CDLL(path)
        lib.carve_ctx_create.restype = ctypes.c_void_p
        self.ctx = ctypes.c_void_p(lib.carve_ctx_create())
        lib.carve_ctx_set_option(self.ctx, b'threads', b'1')
        self.img = ctypes.c_void_p()
        if lib.carve_image_load(self.ctx, q.encode(), ctypes.byref(self.img)):
            raise RuntimeError('load %s' % q)

    def trace(self, fmt):
        """CPU seconds and bytes of one carve_trace"""
        if fmt != b'svg':
            self.lib.carve_ctx_set_option(self.ctx, b'format', fmt)
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        t0 = time.process_time()
        st = self.lib.carve_trace(self.ctx, self.img, ctypes.byref(out), ctypes.byref(n))
        dt = time.process_time() - t0
        if st:
            raise RuntimeError('trace %s: %d' % (fmt, st))
        self.lib.carve_free(out)
        if fmt != b'svg':
            self.lib.carve_ctx_set_option(self.ctx, b'format', b'svg')
        return dt, n.value

    def close(self):
        self.lib.carve_image_destroy(self.img)
        self.lib.carve_ctx_destroy(self.ctx)


def in_process(path, base_path, q, runs):
    tr = Tracer(path, q)
    base = Tracer(base_path, q) if base_path else None
    t = {f: [] for f in FORMATS}
    tb, size = [], {}
    for _ in range(runs):
        if base:
            tb.append(base.trace(b'svg')[0])
        for f in FORMATS:
            dt, size[f] = tr.trace(f)
            t[f].append(dt)
    tr.close()
    if base:
        base.close()
    return {f: min(t[f]) for f in FORMATS}, size, min(tb) if tb else None


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument('--lib', default=os.path.join(root, 'build', 'src', 'libcarve.so'))
    ap.add_argument('--carve', default=os.path.join(root, 'build', 'tools', 'carve'))
    ap.add_argument('--runs', type=int, default=9)
    ap.add_argument('--colors', type=int, default=16)
    ap.add_argument('--baseline-lib')
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='carve-formats-')
    photos = sorted(glob.glob(os.path.join(root, 'tests', 'data', 'samples', '*')))
    names = [f.decode() for f in FORMATS]
    print('| image | ' + ' | '.join('%s CPU s' % f for f in names) + ' | ' +
          ' | '.join('%s +%%' % f for f in names[1:]) + ' | ' + ' | '.join('%s KB' % f for f in names) + ' |')
    print('|---' * (1 + 3 * len(FORMATS) - 1) + '|')
    extra = {f: [] for f in FORMATS[1:]}
    base_rows = []
    for p in photos:
        name = os.path.splitext(os.path.basename(p))[0]
        q = os.path.join(tmp, name + '.png')
        subprocess.run([a.carve, 'quantize', p, '-o', q, '--colors', str(a.colors), '-q'], check=True)
        med, size, b = in_process(a.lib, a.baseline_lib, q, a.runs)
        if b:
            base_rows.append((name, b, med[b'svg']))
        for f in FORMATS[1:]:
            extra[f].append(100.0 * (med[f] / med[b'svg'] - 1))
        print('| %s | ' % name + ' | '.join('%.3f' % med[f] for f in FORMATS) + ' | ' +
              ' | '.join('%+.1f' % (100.0 * (med[f] / med[b'svg'] - 1)) for f in FORMATS[1:]) + ' | ' +
              ' | '.join('%.0f' % (size[f] / 1024) for f in FORMATS) + ' |', flush=True)
    print('| **median** | | | | | ' + ' | '.join('**%+.1f**' % statistics.median(extra[f]) for f in FORMATS[1:]) +
          ' | | | | |')
    if base_rows:
        print('\n| image | base svg CPU s | this svg CPU s | change |\n|---|---|---|---|')
        for name, b, c in base_rows:
            print('| %s | %.3f | %.3f | %+.1f %% |' % (name, b, c, 100.0 * (c / b - 1)))
    subprocess.run(['rm', '-rf', tmp])
    return 0


if __name__ == '__main__':
    sys.exit(main())
