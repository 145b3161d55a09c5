#!/usr/bin/python3
"""Perceptual fidelity of palette mapping: carve vs ImageMagick and pngquant.

For every sample photo (alpha flattened on white, long side <= --max-side):
  * same palette, mapping only: carve quantize --palette P  vs  convert -remap P
    (P = the built-in 'automotive' palette, and carve's own automatic K-colour
    palette of that photo);
  * whole quantizers at K colours: carve quantize --colors K, convert -colors K,
    pngquant K (no dithering anywhere: flat art is the goal).
Metric: CIEDE2000 (scikit-image, D65) of each output pixel to the original:
mean and 95th percentile; plus the wall time of each command.
Writes a TSV and a Markdown table (--out DIR)."""
import argparse, glob, json, os, subprocess, sys, time

import numpy as np
from PIL import Image
from skimage.color import rgb2lab, deltaE_ciede2000


def load_rgb(path):
    im = Image.open(path)
    im.load()
    if im.mode in ('RGBA', 'LA', 'P'):
        im = im.convert('RGBA')
        bg = Image.new('RGBA', im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert('RGB')


def lab(arr):
    return rgb2lab(arr.astype(np.float64) / 255.0)


def run(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.stderr.write('FAILED: %s\n%s\n' % (' '.join(cmd), r.stderr.decode(errors='replace')))
        return None
    return dt


def palette_png(hexes, path):
    im = Image.new('RGB', (len(hexes), 1))
    im.putdata([tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in hexes])
    im.save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--carve', required=True)
    ap.add_argument('--samples', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--max-side', type=int, default=1024)
    ap.add_argument('--colors', default='16,32')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    files = sorted(glob.glob(os.path.join(a.samples, '*.jpg')) + glob.glob(os.path.join(a.samples, '*.png')))
    rows = []
    for f in files:
        name = os.path.splitext(os.path.basename(f))[0]
        im = load_rgb(f)
        s = a.max_side / max(im.size)
        if s < 1:
            im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS)
        ref = os.path.join(a.out, name + '_ref.png')
        im.save(ref)
        ref_lab = lab(np.asarray(im))
        jobs = []
        palf = os.path.join(a.out, 'automotive.png')
        if not os.path.exists(palf):
            p = json.loads(subprocess.check_output([a.carve, 'palette', 'show', 'automotive', '--json']))
            palette_png([c['hex'] for c in p['colors']], palf)
        jobs.append(('remap automotive(32)', 'carve', [a.carve, 'quantize', '-q', ref, '-o', '{out}', '--palette', 'automotive']))
        jobs.append(('remap automotive(32)', 'imagemagick', ['convert', ref, '-dither', 'None', '-remap', palf, '{out}']))
        for k in [int(x) for x in a.colors.split(',')]:
            pj = os.path.join(a.out, '%s_auto%d.json' % (name, k))
            jobs.append(('colors %d' % k, 'carve', [a.carve, 'quantize', '-q', ref, '-o', '{out}', '--colors', str(k),
                                                   '--save-palette', pj]))
            jobs.append(('colors %d' % k, 'imagemagick', ['convert', ref, '-dither', 'None', '-colors', str(k), '{out}']))
            jobs.append(('colors %d' % k, 'pngquant', ['pngquant', '--nofs', '--force', '--speed', '1', '--output', '{out}', str(k), ref]))
            jobs.append(('remap carve-auto(%d)' % k, 'carve', [a.carve, 'quantize', '-q', ref, '-o', '{out}', '--palette', pj]))
            jobs.append(('remap carve-auto(%d)' % k, 'imagemagick', ['convert', ref, '-dither', 'None', '-remap', '{pal}', '{out}']))
        for task, tool, cmd in jobs:
            out = os.path.join(a.out, '%s_%s_%s.png' % (name, task.replace(' ', '_').replace('(', '').replace(')', ''), tool))
            pal_png = None
            if '{pal}' in cmd:
                k = int(task.split('(')[1].rstrip(')'))
                pj = os.path.join(a.out, '%s_auto%d.json' % (name, k))
                pal_png = pj.replace('.json', '.png')
                palette_png([c['hex'] for c in json.load(open(pj))['colors']], pal_png)
            cmd = [c.replace('{out}', out).replace('{pal}', pal_png or '') for c in cmd]
            dt = run(cmd)
            if dt is None:
                continue
            q = load_rgb(out)
            arr = np.asarray(q)
            ncol = len(np.unique(arr.reshape(-1, 3).astype(np.uint32) @ np.array([65536, 256, 1], dtype=np.uint32)))
            d = deltaE_ciede2000(ref_lab, lab(arr)).ravel()
            rows.append((name, task, tool, ncol, float(d.mean()), float(np.percentile(d, 95)), dt))
            print('%-28s %-22s %-12s %4d colours  mean %.3f  p95 %.3f  %.2f s' % rows[-1], flush=True)
    with open(os.path.join(a.out, 'fidelity.tsv'), 'w') as f:
        f.write('image\ttask\ttool\tcolours\tmean_de00\tp95_de00\ttime_s\n')
        for r in rows:
            f.write('%s\t%s\t%s\t%d\t%.4f\t%.4f\t%.3f\n' % r)
    # summary: averages over images per (task, tool)
    summ = {}
    for r in rows:
        summ.setdefault((r[1], r[2]), []).append(r)
    with open(os.path.join(a.out, 'fidelity.md'), 'w') as f:
        f.write('| task | tool | images | mean dE00 | p95 dE00 | time (s) |\n|---|---|---|---|---|---|\n')
        for (task, tool), rs in summ.items():
            f.write('| %s | %s | %d | %.3f | %.3f | %.2f |\n' % (task, tool, len(rs), np.mean([r[4] for r in rs]),
                                                             np.mean([r[5] for r in rs]), np.mean([r[6] for r in rs])))
    print(open(os.path.join(a.out, 'fidelity.md')).read())


if __name__ == '__main__':
    main()
