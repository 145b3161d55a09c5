/* db.c — DB (Differentiable Binarization) post-processing for text
 * detection, as in PaddleOCR: threshold the probability map, take
 * 8-connected regions, fit each a minimum-area rotated rectangle (convex
 * hull + rotating edges), score it by the mean probability inside, and
 * "unclip" it outward by area * ratio / perimeter. */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DB_MIN_SIZE 3.0

typedef struct pt { double x, y; } pt;

static int cmp_pt(const void *a, const void *b) {
    const pt *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    return 0;
}

static double cross(pt o, pt a, pt b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

/* Andrew's monotone chain; hull written to h (capacity 2n), returns count. */
static int convex_hull(pt *p, int n, pt *h) {
    qsort(p, (size_t)n, sizeof *p, cmp_pt);
    if (n < 3) {
        memcpy(h, p, (size_t)n * sizeof *p);
        return n;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) k--;
        h[k++] = p[i];
    }
    for (int i = n - 2, t = k + 1; i >= 0; i--) {
        while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) k--;
        h[k++] = p[i];
    }
    return k - 1;
}

/* Minimum-area rectangle of a convex polygon: for each edge direction the
 * extents along it and its normal.  Ties keep the first edge (deterministic). */
static void min_area_rect(const pt *h, int n, carve__db_box *b) {
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        pt a = h[i], c = h[(i + 1) % n];
        double dx = c.x - a.x, dy = c.y - a.y, len = hypot(dx, dy);
        if (len < 1e-9) continue;
        double ux = dx / len, uy = dy / len;
        double lo_u = INFINITY, hi_u = -INFINITY, lo_v = INFINITY, hi_v = -INFINITY;
        for (int j = 0; j < n; j++) {
            double pu = h[j].x * ux + h[j].y * uy, pv = -h[j].x * uy + h[j].y * ux;
            if (pu < lo_u) lo_u = pu;
            if (pu > hi_u) hi_u = pu;
            if (pv < lo_v) lo_v = pv;
            if (pv > hi_v) hi_v = pv;
        }
        double area = (hi_u - lo_u) * (hi_v - lo_v);
        if (area < best - 1e-9) {
            best = area;
            double cu = (lo_u + hi_u) / 2, cv = (lo_v + hi_v) / 2;
            b->cx = (float)(cu * ux - cv * uy);
            b->cy = (float)(cu * uy + cv * ux);
            double w = hi_u - lo_u, hh = hi_v - lo_v, ang = atan2(uy, ux);
            if (hh > w) {
                double t = w;
                w = hh, hh = t;
                ang += M_PI / 2;
            }
            while (ang > M_PI / 2 + 1e-9) ang -= M_PI;
            while (ang <= -M_PI / 2 + 1e-9) ang += M_PI;
            b->w = (float)w, b->h = (float)hh, b->angle = (float)ang;
        }
    }
    if (best == INFINITY) { /* a single point */
        b->cx = (float)h[0].x, b->cy = (float)h[0].y, b->w = b->h = 0, b->angle = 0;
    }
}

static void rect_quad(carve__db_box *b) {
    double ux = cos(b->angle), uy = sin(b->angle), hw = b->w / 2.0, hh = b->h / 2.0;
    const double s[4][2] = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
    for (int k = 0; k < 4; k++) {
        double a = s[k][0] * hw, c = s[k][1] * hh;
        b->quad[2 * k] = (float)(b->cx + a * ux - c * uy);
        b->quad[2 * k + 1] = (float)(b->cy + a * uy + c * ux);
    }
}

/* Mean probability over the pixels whose centre lies in the rectangle
 * (grown by half a pixel, like a filled polygon's boundary). */
static double rect_score(const float *prob, int w, int h, const carve__db_box *b) {
    double ux = cos(b->angle), uy = sin(b->angle), hw = b->w / 2.0 + 0.5, hh = b->h / 2.0 + 0.5;
    double ext = fabs(hw * ux) + fabs(hh * uy), eyt = fabs(hw * uy) + fabs(hh * ux);
    int x0 = carve__clampi((int)floor(b->cx - ext), 0, w - 1), x1 = carve__clampi((int)ceil(b->cx + ext), 0, w - 1);
    int y0 = carve__clampi((int)floor(b->cy - eyt), 0, h - 1), y1 = carve__clampi((int)ceil(b->cy + eyt), 0, h - 1);
    double sum = 0;
    long cnt = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double dx = x - b->cx, dy = y - b->cy;
            if (fabs(dx * ux + dy * uy) <= hw && fabs(-dx * uy + dy * ux) <= hh) {
                sum += prob[(size_t)y * (size_t)w + (size_t)x];
                cnt++;
            }
        }
    return cnt ? sum / (double)cnt : 0;
}

carve_status carve__db_postprocess(carve_ctx *ctx, const float *prob, int w, int h, double threshold,
                                   double box_score, double unclip, int max_candidates, carve__db_box **boxes,
                                   int *n) {
    *boxes = NULL;
    *n = 0;
    if (w <= 0 || h <= 0) return CARVE_OK;
    size_t np = (size_t)w * (size_t)h;
    int32_t *label = calloc(np, sizeof *label);
    int32_t *queue = malloc(np * sizeof *queue);
    int *rmin = malloc((size_t)h * sizeof *rmin), *rmax = malloc((size_t)h * sizeof *rmax);
    pt *pts = malloc((size_t)h * 2 * sizeof *pts), *hull = malloc(((size_t)h * 4 + 4) * sizeof *hull);
    int cap = 16;
    carve__db_box *out = malloc((size_t)cap * sizeof *out);
    carve_status st = CARVE_OK;
    if (!label || !queue || !rmin || !rmax || !pts || !hull || !out) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory in text detection");
        goto done;
    }
    int ncomp = 0, nout = 0;
    for (int sy = 0; sy < h && ncomp < max_candidates; sy++) {
        if ((sy & 63) == 0 && (st = carve__progress(ctx, 0.5 + 0.5 * sy / h, "text"))) goto done;
        for (int sx = 0; sx < w && ncomp < max_candidates; sx++) {
            size_t si = (size_t)sy * (size_t)w + (size_t)sx;
            if (label[si] || !(prob[si] > threshold)) continue;
            int id = ++ncomp;
            /* BFS over the 8-connected region, recording each row's extent */
            int ylo = sy, yhi = sy;
            for (int y = 0; y < h; y++) rmin[y] = w, rmax[y] = -1;
            size_t qh = 0, qt = 0;
            label[si] = id;
            queue[qt++] = (int32_t)si;
            while (qh < qt) {
                int32_t q = queue[qh++];
                int x = q % w, y = q / w;
                if (x < rmin[y]) rmin[y] = x;
                if (x > rmax[y]) rmax[y] = x;
                if (y < ylo) ylo = y;
                if (y > yhi) yhi = y;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int nx = x + dx, ny = y + dy;
                        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                        size_t ni = (size_t)ny * (size_t)w + (size_t)nx;
                        if (!label[ni] && prob[ni] > threshold) {
                            label[ni] = id;
                            queue[qt++] = (int32_t)ni;
                        }
                    }
            }
            int npts = 0;
            for (int y = ylo; y <= yhi; y++) {
                if (rmax[y] < 0) continue;
                pts[npts++] = (pt){rmin[y], y};
                if (rmax[y] != rmin[y]) pts[npts++] = (pt){rmax[y], y};
            }
            int nh = convex_hull(pts, npts, hull);
            carve__db_box b;
            memset(&b, 0, sizeof b);
            min_area_rect(hull, nh, &b);
            if (b.h < DB_MIN_SIZE) continue;
            double score = rect_score(prob, w, h, &b);
            if (score < box_score) continue;
            double area = (double)b.w * b.h, perim = 2.0 * ((double)b.w + b.h);
            double d = perim > 0 ? area * unclip / perim : 0;
            b.w = (float)(b.w + 2 * d);
            b.h = (float)(b.h + 2 * d);
            if (b.h < DB_MIN_SIZE + 2) continue;
            b.score = (float)score;
            rect_quad(&b);
            if (nout == cap) {
                carve__db_box *nb = realloc(out, (size_t)cap * 2 * sizeof *out);
                if (!nb) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory in text detection"); goto done; }
                out = nb;
                cap *= 2;
            }
            out[nout++] = b;
        }
    }
    *n = nout;
    if (nout) {
        *boxes = out;
        out = NULL;
    }
done:
    free(label);
    free(queue);
    free(rmin);
    free(rmax);
    free(pts);
    free(hull);
    free(out);
    return st;
}
