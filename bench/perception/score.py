#!/usr/bin/python3
"""score.py — scores carve's perception on hand-labelled photos.

usage: score.py --carve BIN --out DIR [--labels FILE] [--name NAME] [--only STEM,...]
                [-- CARVE RUN OPTIONS...]

For every photo in labels.json it runs `carve run PHOTO -o DIR/STEM.svg
--report DIR/STEM.json OPTIONS`, renders the SVG at the photo's size with
rsvg-convert, and measures what was kept (the render's alpha > 127):

  iou       bounding-box IoU of what is kept vs the subject's labelled box (the
            union of the subject boxes).  The kept box is trimmed of its 0.2 %
            outermost kept pixels on each side, so a single stray pixel does
            not count as the whole frame but a kept kerb or pedestrian does.
  outside   share of kept pixels outside the subject: outside the labelled
            boxes grown by 2 % of their size (labelling slack), or outside the
            exact mask where the photo has one (the cut-out's own alpha).  A
            box is larger than the vehicle, so this is a LOWER bound of the
            share of kept pixels that are not the vehicle.
  plates    labelled legible plates still legible in the render (see legible()).
  sec, rss  wall seconds and peak RSS (GNU time) of the carve process.

Writes DIR/NAME.tsv (one row per photo) and prints a markdown table with the
summary lines the issue's targets are stated in: median IoU, share of photos
with IoU >= 0.85, median and worst-tenth outside share, legible plates left,
median seconds per Mpx, largest peak RSS.
"""
import argparse, json, os, statistics, subprocess, sys, time

import numpy as np
from PIL import Image

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def run_carve(carve, photo, svg, report, opts):
    cmd = ["/usr/bin/time", "-f", "%M", carve, "run", photo, "-o", svg, "--report", report, "-q"] + opts
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    sec = time.monotonic() - t0
    rss_kb = 0
    for line in reversed(p.stderr.strip().splitlines()):
        if line.strip().isdigit():
            rss_kb = int(line.strip())
            break
    return p.returncode, sec, rss_kb / 1024.0, p.stderr


def render(svg, png, w, h):
    subprocess.run(["rsvg-convert", "-w", str(w), "-h", str(h), "-o", png, svg], check=True)
    im = Image.open(png).convert("RGBA")
    if im.size != (w, h):
        im = im.resize((w, h), Image.BILINEAR)
    return np.asarray(im)


def floor3(x):
    """IoU printed with 3 decimals, rounded down: 0.8499 is a miss of the
    0.85 target and must not print as 0.850 (the counts use the exact value)."""
    return np.floor(x * 1000.0) / 1000.0


def union_box(boxes):
    x0 = min(b[0] for b in boxes); y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes); y1 = max(b[1] + b[3] for b in boxes)
    return [x0, y0, x1 - x0, y1 - y0]


def trimmed_bbox(mask, trim=0.002):
    n = int(mask.sum())
    if n == 0:
        return None
    def span(counts):
        c = np.cumsum(counts)
        lo = int(np.searchsorted(c, trim * n, side="right"))
        hi = int(np.searchsorted(c, (1.0 - trim) * n, side="left"))
        return lo, max(lo, hi)
    x0, x1 = span(mask.sum(axis=0))
    y0, y1 = span(mask.sum(axis=1))
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def iou(a, b):
    ax1, ay1 = a[0] + a[2], a[1] + a[3]
    bx1, by1 = b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def subject_mask(entry, photo, w, h):
    if entry.get("mask") == "alpha":
        a = np.asarray(Image.open(photo).convert("RGBA"))[:, :, 3]
        return a > 127
    m = np.zeros((h, w), bool)
    for s in entry["subject"]:
        x, y, bw, bh = s["box"]
        gx, gy = 0.02 * bw, 0.02 * bh
        m[max(0, int(y - gy)):min(h, int(y + bh + gy + 1)), max(0, int(x - gx)):min(w, int(x + bw + gx + 1))] = True
    return m


def components(mask, min_size):
    """4-connected components of a small boolean array with >= min_size pixels."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    count = 0
    for y in range(h):
        for x in range(w):
            if not mask[y, x] or seen[y, x]:
                continue
            stack = [(y, x)]; seen[y, x] = True; size = 0
            while stack:
                cy, cx = stack.pop(); size += 1
                for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                    if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True; stack.append((ny, nx))
            if size >= min_size:
                count += 1
    return count


def legible(rgba, box):
    """Character structure left in a plate box of a render (or of the photo).

    A plate reads when its box still holds characters: two luminance classes
    (Otsu) that differ by at least 15 L*-ish units, the minority class between
    4 % and 50 % of the box, split into at least 3 blobs (characters) of a
    useful size, none of them the whole box.  A plain panel (one colour), a
    removed plate (transparent) or a smear of one or two blobs does not read.
    Returns (legible, detail)."""
    x, y, w, h = box
    crop = rgba[y:y + h, x:x + w].astype(np.float64)
    if crop.size == 0:
        return False, "empty"
    alpha = crop[:, :, 3] / 255.0
    if alpha.mean() < 0.5:
        return False, "removed"
    rgb = crop[:, :, :3] * alpha[:, :, None] + 255.0 * (1 - alpha[:, :, None])
    lum = (0.2126 * rgb[:, :, 0] + 0.7152 * rgb[:, :, 1] + 0.0722 * rgb[:, :, 2]) / 2.55
    vals = lum.ravel()
    best_t, best_var = None, -1.0
    for t in np.linspace(vals.min(), vals.max(), 64)[1:-1]:
        lo, hi = vals[vals <= t], vals[vals > t]
        if len(lo) == 0 or len(hi) == 0:
            continue
        var = len(lo) * len(hi) * (lo.mean() - hi.mean()) ** 2
        if var > best_var:
            best_var, best_t = var, t
    if best_t is None:
        return False, "flat"
    dark = lum <= best_t
    contrast = lum[~dark].mean() - lum[dark].mean()
    minority = dark if dark.mean() <= 0.5 else ~dark
    frac = minority.mean()
    blobs = components(minority, max(2, int(0.004 * w * h)))
    ok = contrast >= 15 and 0.04 <= frac <= 0.5 and blobs >= 3
    return ok, "contrast %.0f, minority %.0f%%, blobs %d" % (contrast, 100 * frac, blobs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--carve", default=os.path.join(ROOT, "build", "tools", "carve"))
    ap.add_argument("--labels", default=os.path.join(ROOT, "bench", "perception", "labels.json"))
    ap.add_argument("--out", default="/tmp/carve-bench/perception")
    ap.add_argument("--name", default="default")
    ap.add_argument("--only", default="")
    ap.add_argument("--check-labels", action="store_true",
                    help="score the photos themselves (every labelled plate must read) and exit")
    ap.add_argument("opts", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    opts = a.opts[1:] if a.opts[:1] == ["--"] else a.opts
    labels = json.load(open(a.labels))["photos"]
    only = set(s for s in a.only.split(",") if s)
    os.makedirs(a.out, exist_ok=True)

    if a.check_labels:
        bad = 0
        for e in labels:
            photo = os.path.join(ROOT, e["file"])
            rgba = np.asarray(Image.open(photo).convert("RGBA"))
            for p in e["plates"]:
                ok, why = legible(rgba, p["box"])
                print("%-40s plate %-22s %s (%s)" % (os.path.basename(photo), p["box"], "reads" if ok else "DOES NOT READ", why))
                bad += not ok
        sys.exit(1 if bad else 0)

    rows = []
    for e in labels:
        photo = os.path.join(ROOT, e["file"])
        stem = os.path.splitext(os.path.basename(photo))[0]
        if only and stem not in only:
            continue
        w, h = Image.open(photo).size
        svg = os.path.join(a.out, "%s.%s.svg" % (stem, a.name))
        rep = os.path.join(a.out, "%s.%s.json" % (stem, a.name))
        rc, sec, rss, err = run_carve(a.carve, photo, svg, rep, opts)
        if rc != 0:
            rows.append(dict(photo=stem, kind=e["kind"], rc=rc, error=err.strip().splitlines()[-1:]))
            print("%s: carve exited %d: %s" % (stem, rc, err.strip()[-300:]), file=sys.stderr)
            continue
        rgba = render(svg, os.path.join(a.out, "%s.%s.png" % (stem, a.name)), w, h)
        kept = rgba[:, :, 3] > 127
        sub = subject_mask(e, photo, w, h)
        kb = trimmed_bbox(kept)
        vb = union_box([s["box"] for s in e["subject"]])
        box_iou = iou(kb, vb) if kb else 0.0
        nk = int(kept.sum())
        outside = float((kept & ~sub).sum()) / nk if nk else 0.0
        left = 0
        plate_notes = []
        for p in e["plates"]:
            ok, why = legible(rgba, p["box"])
            left += ok
            plate_notes.append(("READS " if ok else "gone ") + why)
        rows.append(dict(photo=stem, kind=e["kind"], rc=0, iou=box_iou, outside=outside,
                         kept_box=kb, plates=len(e["plates"]), plates_left=left, plate_notes=plate_notes,
                         sec=round(sec, 2), mpx=round(w * h / 1e6, 3), rss_mb=round(rss, 1)))

    with open(os.path.join(a.out, a.name + ".tsv"), "w") as f:
        f.write("photo\tkind\tiou\toutside\tplates_left\tplates\tsec\tmpx\trss_mb\n")
        for r in rows:
            if r["rc"] == 0:
                f.write("%s\t%s\t%.4f\t%.4f\t%d\t%d\t%.2f\t%.3f\t%.1f\n" % (r["photo"], r["kind"], r["iou"], r["outside"],
                        r["plates_left"], r["plates"], r["sec"], r["mpx"], r["rss_mb"]))
    ok = [r for r in rows if r["rc"] == 0]
    print("\n### %s: carve run %s\n" % (a.name, " ".join(opts) or "(default options)"))
    print("| photo | kind | kept-box IoU | kept outside subject | legible plates left | s | Mpx | peak MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["rc"]:
            print("| %s | %s | failed (exit %d) | | | | | |" % (r["photo"], r["kind"], r["rc"]))
            continue
        print("| %s | %s | %.3f | %.1f %% | %d / %d | %.2f | %.2f | %.0f |" % (r["photo"], r["kind"], floor3(r["iou"]),
              100 * r["outside"], r["plates_left"], r["plates"], r["sec"], r["mpx"], r["rss_mb"]))
    if ok:
        ious = [r["iou"] for r in ok]
        outs = sorted(r["outside"] for r in ok)
        worst = outs[int(np.ceil(0.9 * len(outs))) - 1]  # the worst tenth starts here
        spm = [r["sec"] / max(r["mpx"], 1e-6) for r in ok]
        print("\n%s summary: %d photos; IoU median %.3f, >= 0.85 on %d/%d (%.0f %%); outside median %.1f %%, "
              "90th percentile %.1f %%; legible plates left %d of %d; %.2f s/Mpx median; peak RSS max %.0f MB"
              % (a.name, len(ok), floor3(statistics.median(ious)), sum(i >= 0.85 for i in ious), len(ious),
                 100.0 * sum(i >= 0.85 for i in ious) / len(ious), 100 * statistics.median(outs), 100 * worst,
                 sum(r["plates_left"] for r in ok), sum(r["plates"] for r in ok), statistics.median(spm),
                 max(r["rss_mb"] for r in ok)))
    with open(os.path.join(a.out, a.name + ".json"), "w") as f:
        json.dump(rows, f, indent=1)
    sys.exit(0 if len(ok) == len(rows) else 1)


if __name__ == "__main__":
    main()
