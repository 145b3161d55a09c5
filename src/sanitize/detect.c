/* detect.c — classical licence plate and text detector.
 *
 * Plates and signs are rows of high-contrast, similarly sized, aligned,
 * evenly spaced character-shaped blobs; a plate is such a row on a bright,
 * uniform (white or yellow) rectangle.  Per scale of a 2x pyramid (so that
 * characters of 6 px up to ~1/8 of the image height are seen at 6..30 px):
 *
 *   1. luma Y; local mean and deviation over a 21x21 box (running column
 *      sums, x64 fixed point);
 *   2. for each polarity (dark on light, light on dark), pixels that differ
 *      from the local mean by more than max(14, 0.35 * deviation) form
 *      8-connected components;
 *   3. character-like components: height 6..30 px, width/height 0.1..1.15,
 *      fill ratio 0.15..0.92, not touching the image border, and a contrast
 *      of at least 35 levels between the component and its surrounding ring;
 *   4. each character links to its nearest right neighbour of similar height
 *      (ratio <= 1.4), same centre line (within 0.3 h) and a gap below
 *      1.5 h; linked chains of >= 3 characters are rows;
 *   5. a row is scored on the count of characters, height and baseline
 *      regularity and contrast; it is a plate when the background between
 *      its characters is bright, uniform and white or yellow and the row's
 *      aspect fits a plate, otherwise text (needs >= 4 characters); plate
 *      boxes grow to the plate's border while the rows above/below and the
 *      margins left/right keep the plate's background;
 *   6. small plates, whose characters blur together, are found as bright
 *      (white/yellow, luma >= 170), plate-shaped 4-connected blobs standing
 *      60+ levels above their surroundings, with one band of ink inside
 *      whose column profile dips at least 4 times (plate_blob);
 *   7. text whose letters touch (adverts, destination blinds) is found as a
 *      text panel: a blob of the same kind, white/yellow with dark letters
 *      or black with light ones, framed by a ring 90+ levels away, whose
 *      interior at full resolution holds bands of ink with many column
 *      dips and high contrast on a uniform panel (white panels: also >= 6
 *      letter components of one size); kind "text" (text_panel);
 *   8. boxes from every scale, polarity and path go through non-maximum
 *      suppression (same-kind duplicates merge into their union), are
 *      padded (plates: frame and slant; text: less), and sorted by score
 *      (ties by position).  See docs/sanitize.md for the measurements.
 */
#include "sanitize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIN_R 10 /* local statistics window radius (px at the scale) */

typedef struct plane {
    int w, h;
    uint8_t *rgb; /* 3 per pixel */
    uint8_t *y;   /* luma */
} plane;

typedef struct comp {
    int x0, y0, x1, y1; /* inclusive */
    int area;
    float mean_in, mean_ring;
} comp;

typedef struct dlist {
    carve__box *b;
    int n, cap;
    bool oom;
} dlist;

/* The detector's thresholds, named.  Lengths are in pixels at the pyramid
 * scale unless said otherwise; "h" is a character's height.  The values
 * were tuned on the six sample photos and their rescaled copies (see
 * docs/sanitize.md, "How it was tuned"). */
typedef struct detect_params {
    /* local statistics and the character path's threshold */
    int fg_ksd_pct;    /* foreground: |Y - mean| > max(fg_min, fg_ksd_pct% of the deviation) */
    int fg_min;
    /* a character-like component */
    int char_h_min, char_h_max;      /* height (px) */
    double char_aspect_min, char_aspect_max; /* width / height */
    double char_fill_min, char_fill_max;     /* area / box */
    double char_contrast;            /* levels between it and its ring (h/4 wide) */
    /* linking characters into rows */
    double link_height_ratio;        /* taller / shorter */
    double link_centre_dev;          /* centre lines within this share of h */
    double link_gap_min, link_gap_max; /* horizontal gap, in h */
    /* a row */
    double row_spread_max;           /* relative sd of heights, baselines, tops */
    double row_aspect_min;           /* width / height */
    double row_bg_grow;              /* the background box grows by this share of h */
    int row_bg_min_px;               /* background pixels needed */
    double row_score_min;            /* rows scoring less are dropped */
    double score_spread;             /* regularity term: 1 - (spreads summed) / this */
    double score_contrast_range;     /* contrast term: (contrast - char_contrast) / this */
    /* a plate row (else text) */
    double plate_bg_sd_max;          /* luma sd of the background (also the uniformity term's range) */
    int plate_chars_strong;          /* with at least this many characters ... */
    double plate_contrast;           /* ... the contrast needed; with 3: */
    double plate_contrast_3;
    int plate_chars_max;
    double plate_aspect_min, plate_aspect_max;
    double plate_ink_min, plate_ink_max; /* foreground share of the background box */
    int text_chars_min;              /* a text row needs this many characters */
    double text_score_factor;        /* text rows score this share of a plate's */
    /* growing a plate's box to its border */
    double extent_rows, extent_cols; /* at most this many h up/down, left/right */
    int extent_luma_tol;             /* a pixel is background within this many levels */
    double extent_share;             /* ... in this share of the row/column */
    /* blob paths (small plates, text panels): the stricter threshold */
    int blob_ksd_pct, blob_min;
    /* the final boxes */
    double nms_overlap;              /* intersection over the smaller box: the same detection */
    double nms_union_max;            /* the kept box grows to the union up to this area ratio */
    double pad_plate_y, pad_plate_x, pad_text; /* padding in h (of the box), plus pad_px */
    double pad_px;
    double box_area_max;             /* share of the image: larger boxes are dropped */
} detect_params;

static const detect_params P = {
    .fg_ksd_pct = 35, .fg_min = 14,
    .char_h_min = 6, .char_h_max = 30, .char_aspect_min = 0.1, .char_aspect_max = 1.15,
    .char_fill_min = 0.15, .char_fill_max = 0.92, .char_contrast = 35,
    .link_height_ratio = 1.4, .link_centre_dev = 0.3, .link_gap_min = -0.15, .link_gap_max = 1.5,
    .row_spread_max = 0.2, .row_aspect_min = 2.0, .row_bg_grow = 0.25, .row_bg_min_px = 8, .row_score_min = 0.3,
    .score_spread = 0.45, .score_contrast_range = 80.0,
    .plate_bg_sd_max = 45, .plate_chars_strong = 4, .plate_contrast = 45, .plate_contrast_3 = 70,
    .plate_chars_max = 14, .plate_aspect_min = 2.0, .plate_aspect_max = 14, .plate_ink_min = 0.1,
    .plate_ink_max = 0.6, .text_chars_min = 4, .text_score_factor = 0.6,
    .extent_rows = 0.8, .extent_cols = 6, .extent_luma_tol = 40, .extent_share = 0.6,
    .blob_ksd_pct = 80, .blob_min = 20,
    .nms_overlap = 0.5, .nms_union_max = 1.5, .pad_plate_y = 0.12, .pad_plate_x = 0.25, .pad_text = 0.08,
    .pad_px = 2.5, .box_area_max = 0.2,
};

static void dlist_add(dlist *L, const carve__box *b) {
    if (L->oom) return;
    if (L->n == L->cap) {
        int nc = L->cap ? 2 * L->cap : 32;
        carve__box *nb = realloc(L->b, sizeof(carve__box) * (size_t)nc);
        if (!nb) {
            L->oom = true;
            return;
        }
        L->b = nb;
        L->cap = nc;
    }
    L->b[L->n++] = *b;
}

static void plane_free(plane *p) {
    free(p->rgb);
    free(p->y);
    p->rgb = p->y = NULL;
}

static bool plane_from_image(const carve_image *img, plane *p) {
    p->w = img->w;
    p->h = img->h;
    size_t n = (size_t)p->w * p->h;
    p->rgb = malloc(3 * n);
    p->y = malloc(n);
    if (!p->rgb || !p->y) return false;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = img->px + 4 * i;
        int a = s[3];
        for (int k = 0; k < 3; k++) /* transparent parts read as mid grey */
            p->rgb[3 * i + k] = a == 255 ? s[k] : (uint8_t)((s[k] * a + 128 * (255 - a) + 127) / 255);
        const uint8_t *q = p->rgb + 3 * i;
        p->y[i] = (uint8_t)((77 * q[0] + 150 * q[1] + 29 * q[2] + 128) >> 8);
    }
    return true;
}

static bool plane_half(const plane *a, plane *b) {
    b->w = a->w / 2;
    b->h = a->h / 2;
    size_t n = (size_t)b->w * b->h;
    b->rgb = malloc(3 * n + 1);
    b->y = malloc(n + 1);
    if (!b->rgb || !b->y) return false;
    for (int y = 0; y < b->h; y++)
        for (int x = 0; x < b->w; x++) {
            size_t o = (size_t)y * b->w + x;
            size_t i0 = (size_t)(2 * y) * a->w + 2 * x, i1 = i0 + (size_t)a->w;
            for (int k = 0; k < 3; k++)
                b->rgb[3 * o + k] = (uint8_t)((a->rgb[3 * i0 + k] + a->rgb[3 * i0 + 3 + k] + a->rgb[3 * i1 + k] +
                                               a->rgb[3 * i1 + 3 + k] + 2) >> 2);
            b->y[o] = (uint8_t)((a->y[i0] + a->y[i0 + 1] + a->y[i1] + a->y[i1 + 1] + 2) >> 2);
        }
    return true;
}

typedef struct scale_ctx {
    const plane *p;
    int scale; /* 1, 2, 4, ... */
    uint8_t *fg;
    uint8_t *seen;
    int *stack;
    comp *comps;
    int ncomp, capcomp;
    uint16_t *mean, *sdev; /* local mean and deviation of Y, x64 */
    uint32_t *col, *col2;  /* per-column running sums (w) */
    dlist *out;
    const uint8_t *fy; /* full-resolution luma (fw x fh), for text panels */
    const uint8_t *frgba; /* the input's pixels (fw x fh, RGBA) */
    int fw, fh;
} scale_ctx;

/* Local mean and standard deviation of Y over a (2R+1)^2 box (clipped at
 * the borders), with running column sums: O(w) extra memory. */
static void local_stats(scale_ctx *S) {
    const plane *p = S->p;
    int w = p->w, h = p->h;
    memset(S->col, 0, sizeof(uint32_t) * (size_t)w);
    memset(S->col2, 0, sizeof(uint32_t) * (size_t)w);
    for (int y = 0; y < WIN_R && y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t v = p->y[(size_t)y * w + x];
            S->col[x] += v;
            S->col2[x] += v * v;
        }
    for (int y = 0; y < h; y++) {
        int add = y + WIN_R, rem = y - WIN_R - 1;
        if (add < h)
            for (int x = 0; x < w; x++) {
                uint32_t v = p->y[(size_t)add * w + x];
                S->col[x] += v;
                S->col2[x] += v * v;
            }
        if (rem >= 0)
            for (int x = 0; x < w; x++) {
                uint32_t v = p->y[(size_t)rem * w + x];
                S->col[x] -= v;
                S->col2[x] -= v * v;
            }
        int rows = (add < h ? add : h - 1) - (y - WIN_R > 0 ? y - WIN_R : 0) + 1;
        uint64_t s = 0, s2 = 0;
        for (int x = 0; x < WIN_R && x < w; x++) {
            s += S->col[x];
            s2 += S->col2[x];
        }
        for (int x = 0; x < w; x++) {
            if (x + WIN_R < w) {
                s += S->col[x + WIN_R];
                s2 += S->col2[x + WIN_R];
            }
            if (x - WIN_R - 1 >= 0) {
                s -= S->col[x - WIN_R - 1];
                s2 -= S->col2[x - WIN_R - 1];
            }
            int cols = (x + WIN_R < w ? x + WIN_R : w - 1) - (x - WIN_R > 0 ? x - WIN_R : 0) + 1;
            double n = (double)rows * cols, m = (double)s / n, var = (double)s2 / n - m * m;
            double sd = var > 0 ? sqrt(var) : 0;
            S->mean[(size_t)y * w + x] = (uint16_t)(m * 64 + 0.5);
            S->sdev[(size_t)y * w + x] = (uint16_t)(sd * 64 + 0.5);
        }
    }
}

/* Marks the foreground of one polarity (dark = true: darker than around):
 * |Y - mean| > max(tmin, ksd_pct/100 * deviation), in x64 fixed point. */
static void threshold(scale_ctx *S, bool dark, int ksd_pct, int tmin) {
    const plane *p = S->p;
    size_t n = (size_t)p->w * p->h;
    int t0 = 64 * tmin;
    for (size_t i = 0; i < n; i++) {
        int t = (int)S->sdev[i] * ksd_pct / 100;
        if (t < t0) t = t0;
        int v = 64 * (int)p->y[i], m = S->mean[i];
        S->fg[i] = dark ? v < m - t : v > m + t;
    }
}

static bool comp_push(scale_ctx *S, const comp *c) {
    if (S->ncomp == S->capcomp) {
        int nc = S->capcomp ? 2 * S->capcomp : 256;
        comp *n = realloc(S->comps, sizeof(comp) * (size_t)nc);
        if (!n) return false;
        S->comps = n;
        S->capcomp = nc;
    }
    S->comps[S->ncomp++] = *c;
    return true;
}

static bool is_bg_colour(double r, double g, double b, bool *yellow);
static double clamp01(double v);

/* Mean colour of a component's own (foreground) pixels; false if it has none. */
static bool blob_mean_rgb(const scale_ctx *S, const comp *c, double *r, double *g, double *b) {
    const plane *p = S->p;
    int w = p->w;
    double sr = 0, sg = 0, sb = 0;
    int n = 0;
    for (int y = c->y0; y <= c->y1; y++)
        for (int x = c->x0; x <= c->x1; x++) {
            size_t i = (size_t)y * w + x;
            if (!S->fg[i]) continue;
            sr += p->rgb[3 * i];
            sg += p->rgb[3 * i + 1];
            sb += p->rgb[3 * i + 2];
            n++;
        }
    if (n == 0) return false;
    *r = sr / n;
    *g = sg / n;
    *b = sb / n;
    return true;
}

/* A small plate whose characters are too small to segment: a bright, white
 * or yellow, plate-shaped blob (the characters are holes in it) whose middle
 * rows cross from background to ink several times and whose ink lies in one
 * horizontal band.  Emits a "plate" box; false only on OOM. */
static bool plate_blob(scale_ctx *S, const comp *c) {
    const plane *p = S->p;
    int w = p->w, h = p->h;
    int bw = c->x1 - c->x0 + 1, bh = c->y1 - c->y0 + 1;
    if (c->x0 == 0 || c->y0 == 0 || c->x1 == w - 1 || c->y1 == h - 1) return true;
    if (bw > w / 3) return true;
    /* colour of the blob's own pixels */
    double r, g, b;
    if (!blob_mean_rgb(S, c, &r, &g, &b)) return true;
    bool yellow;
    if (!is_bg_colour(r, g, b, &yellow)) return true;
    double bgy = c->mean_in;
    /* surroundings: a ring one third of the height wide must be darker */
    int gr = bh / 3 < 2 ? 2 : bh / 3;
    double rs = 0;
    int rn = 0;
    for (int y = c->y0 - gr; y <= c->y1 + gr; y++)
        for (int x = c->x0 - gr; x <= c->x1 + gr; x++) {
            if (x < 0 || y < 0 || x >= w || y >= h) continue;
            if (x >= c->x0 && x <= c->x1 && y >= c->y0 && y <= c->y1) continue;
            rs += p->y[(size_t)y * w + x];
            rn++;
        }
    if (rn == 0 || bgy - rs / rn < 60) return true;
    /* ink inside: crossings along the middle rows, one band of ink rows */
    int ix0 = c->x0 + bw / 10, ix1 = c->x1 - bw / 10;
    int iy0 = c->y0 + bh / 8, iy1 = c->y1 - bh / 8;
    double im = 0, im2 = 0;
    int icnt = 0;
    for (int y = iy0; y <= iy1; y++)
        for (int x = ix0; x <= ix1; x++) {
            double v = p->y[(size_t)y * w + x];
            im += v;
            im2 += v * v;
            icnt++;
        }
    if (icnt == 0) return true;
    im /= icnt;
    double isd = sqrt(fmax(0, im2 / icnt - im * im));
    if (isd < 15) return true; /* nothing written on it */
    double thr = im - 0.3 * isd;
    int ink = 0, tot = 0, maxcross = 0;
    int first = -1, last = -1, inkrows = 0;
    for (int y = iy0; y <= iy1; y++) {
        int cross = 0, rowink = 0;
        bool prev = false;
        for (int x = ix0; x <= ix1; x++) {
            bool d = p->y[(size_t)y * w + x] < thr;
            if (d && !prev) cross++;
            prev = d;
            rowink += d;
            tot++;
        }
        ink += rowink;
        if (rowink > (ix1 - ix0 + 1) / 8) {
            if (first < 0) first = y;
            last = y;
            inkrows++;
        }
        int yc = (iy0 + iy1) / 2;
        if (abs(y - yc) <= 1 && cross > maxcross) maxcross = cross;
    }
    if (tot == 0) return true;
    double inkf = (double)ink / tot;

    if (inkf < 0.08 || inkf > 0.55 || maxcross < 4) return true;
    if (first < 0 || inkrows < last - first + 1 - 1) return true;
    /* characters: dips of the column profile (mean luma over the ink band)
     * counted with hysteresis, so that blur or touching glyphs still count */
    int runs = 0;
    {
        int pw = ix1 - ix0 + 1;
        double *prof = malloc(sizeof(double) * (size_t)pw);
        if (!prof) return false;
        double pmin = 1e9, pmax = -1e9;
        for (int x = ix0; x <= ix1; x++) {
            double a = 0;
            for (int y = first; y <= last; y++) a += p->y[(size_t)y * w + x];
            prof[x - ix0] = a / (last - first + 1);
        }
        for (int i = 0; i < pw; i++) {
            if (prof[i] < pmin) pmin = prof[i];
            if (prof[i] > pmax) pmax = prof[i];
        }
        double hy = 0.2 * (pmax - pmin);
        if (hy < 6) hy = 6;
        bool falling = true; /* looking for a dip below hi - hy */
        double hi = prof[0], lo = prof[0];
        for (int i = 1; i < pw; i++) {
            double v = prof[i];
            if (falling) {
                if (v > hi) hi = v;
                if (v < hi - hy) {
                    runs++;
                    falling = false;
                    lo = v;
                }
            } else {
                if (v < lo) lo = v;
                if (v > lo + hy) {
                    falling = true;
                    hi = v;
                }
            }
        }
        free(prof);
    }
    /* plates are bright, stand out from their surroundings, carry >= 4
     * separate strokes, and their characters fill most of their height */
    if (runs < 4 || bgy < 170 || bgy - rs / rn < 60 || isd < 20 || (last - first + 1) < 0.6 * (iy1 - iy0 + 1))
        return true;
    double score = 0.35 + 0.15 * clamp01((runs - 3) / 4.0) + 0.15 * clamp01((bgy - rs / rn - 60) / 80.0);
    carve__box bx; /* unpadded: padding is added to the final boxes */
    memset(&bx, 0, sizeof bx);
    bx.x = c->x0 * S->scale;
    bx.y = c->y0 * S->scale;
    bx.w = bw * S->scale;
    bx.h = bh * S->scale;
    bx.score = (float)score;
    snprintf(bx.kind, sizeof bx.kind, "plate");
    dlist_add(S->out, &bx);
    return !S->out->oom;
}

/* Ink bands and letters of a text panel at full resolution: the rows of the
 * box (x0..x1, y0..y1) holding ink (pixels below mean - 0.3 sd) over more
 * than 1/8 of the width form bands (gaps of one row are bridged); the column
 * profile of each band is searched for dips (letters) with a hysteresis of
 * 20 % of its range.  Returns the number of bands of at least 5 rows and
 * fills the total dips, the rows covered and the ink fraction. */
static int panel_bands(const uint8_t *Y, int W, int x0, int y0, int x1, int y1, bool dark_ink, int *dips, int *rowsc,
                       double *inkf, double *sd, double *bgsd, double *con, double *thr_out, int *ry0, int *ry1) {
    double im = 0, im2 = 0;
    int cnt = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double v = Y[(size_t)y * W + x];
            im += v;
            im2 += v * v;
            cnt++;
        }
    *dips = *rowsc = 0;
    *inkf = 0;
    *sd = 0;
    *bgsd = 255;
    *con = 0;
    *ry0 = *ry1 = -1;
    if (cnt == 0) return 0;
    im /= cnt;
    double isd = sqrt(fmax(0, im2 / cnt - im * im));
    *sd = isd;
    double thr = dark_ink ? im - 0.3 * isd : im + 0.3 * isd;
    *thr_out = thr;
    int ink = 0, bands = 0, bstart = -1, gap = 0, bw = x1 - x0 + 1;
    for (int y = y0; y <= y1 + 2; y++) {
        int rowink = 0;
        if (y <= y1)
            for (int x = x0; x <= x1; x++) {
                int v = Y[(size_t)y * W + x];
                rowink += dark_ink ? v < thr : v > thr;
            }
        ink += rowink;
        bool on = y <= y1 && rowink > bw / 8;
        if (on) {
            if (bstart < 0) bstart = y;
            gap = 0;
            continue;
        }
        if (bstart < 0) continue;
        if (++gap <= 1 && y <= y1) continue;
        int bend = y - gap; /* last ink row */
        int bh = bend - bstart + 1;
        if (bh >= 5) {
            bands++;
            *rowsc += bh;
            if (*ry0 < 0) *ry0 = bstart;
            *ry1 = bend;
            /* dips of the column profile over the band */
            double hi = -1, lo = 1e9, pmin = 1e9, pmax = -1e9;
            for (int x = x0; x <= x1; x++) {
                double a = 0;
                for (int yy = bstart; yy <= bend; yy++) a += Y[(size_t)yy * W + x];
                a /= bh;
                if (a < pmin) pmin = a;
                if (a > pmax) pmax = a;
            }
            double hy = 0.2 * (pmax - pmin);
            if (hy < 6) hy = 6;
            bool falling = true;
            for (int x = x0; x <= x1; x++) {
                double a = 0;
                for (int yy = bstart; yy <= bend; yy++) a += Y[(size_t)yy * W + x];
                a /= bh;
                if (!dark_ink) a = 255 - a;
                if (x == x0) {
                    hi = lo = a;
                    continue;
                }
                if (falling) {
                    if (a > hi) hi = a;
                    if (a < hi - hy) {
                        (*dips)++;
                        falling = false;
                        lo = a;
                    }
                } else {
                    if (a < lo) lo = a;
                    if (a > lo + hy) {
                        falling = true;
                        hi = a;
                    }
                }
            }
        }
        bstart = -1;
        gap = 0;
    }
    *inkf = (double)ink / cnt;
    /* the panel between the letters: its spread, and the letters' contrast */
    double bs = 0, bs2 = 0, is = 0;
    int bn = 0, in = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int v = Y[(size_t)y * W + x];
            if (dark_ink ? v < thr : v > thr) {
                is += v;
                in++;
            } else {
                bs += v;
                bs2 += (double)v * v;
                bn++;
            }
        }
    if (bn > 0 && in > 0) {
        double bm = bs / bn;
        *bgsd = sqrt(fmax(0, bs2 / bn - bm * bm));
        *con = fabs(bm - is / in);
    }
    return bands;
}

static int cmp_int(const void *a, const void *b) {
    int p = *(const int *)a, q = *(const int *)b;
    return p < q ? -1 : p > q;
}

/* Letters of a text panel: 8-connected ink components (ink: beyond
 * thr on the ink side) of the box at full resolution that do not touch
 * the box, are 4..maxh px high, at most 1.5 times as wide as high and fill
 * 15..90 % of their box.  Returns how many there are (-1 on OOM) and, in
 * *same, the size of the largest group whose heights are within 30 % of
 * one height (0.7..1.3 h: one font, capitals and small letters). */
static int panel_letters(const uint8_t *Y, int W, int x0, int y0, int x1, int y1, bool dark_ink, double thr, int maxh,
                         int *same) {
    int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    size_t n = (size_t)bw * bh;
    uint8_t *m = malloc(n);
    int *st = malloc(sizeof(int) * n);
    int *hs = malloc(sizeof(int) * n);
    *same = 0;
    if (!m || !st || !hs) {
        free(m);
        free(st);
        free(hs);
        return -1;
    }
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            int v = Y[(size_t)(y0 + y) * W + x0 + x];
            m[(size_t)y * bw + x] = dark_ink ? v < thr : v > thr;
        }
    int nl = 0;
    for (size_t s = 0; s < n; s++) {
        if (m[s] != 1) continue;
        int sp = 0, cx0 = bw, cy0 = bh, cx1 = -1, cy1 = -1, area = 0;
        st[sp++] = (int)s;
        m[s] = 2;
        while (sp) {
            int i = st[--sp], x = i % bw, y = i / bw;
            if (x < cx0) cx0 = x;
            if (x > cx1) cx1 = x;
            if (y < cy0) cy0 = y;
            if (y > cy1) cy1 = y;
            area++;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= bw || yy >= bh) continue;
                    size_t j = (size_t)yy * bw + xx;
                    if (m[j] == 1) {
                        m[j] = 2;
                        st[sp++] = (int)j;
                    }
                }
        }
        int cw = cx1 - cx0 + 1, ch = cy1 - cy0 + 1;
        if (cx0 == 0 || cy0 == 0 || cx1 == bw - 1 || cy1 == bh - 1) continue;
        if (ch < 4 || ch > maxh || cw > 1.5 * ch) continue;
        double fill = (double)area / ((double)cw * ch);
        if (fill < 0.15 || fill > 0.9) continue;
        hs[nl++] = ch;
    }
    if (nl > 0) { /* the largest group of letters of one size (sorted: a window) */
        qsort(hs, (size_t)nl, sizeof(int), cmp_int);
        for (int i = 0, j = 0; i < nl; i++) {
            while (1.8 * hs[j] < hs[i]) j++; /* 0.7..1.3 times some height */
            if (i - j + 1 > *same) *same = i - j + 1;
        }
    }
    free(m);
    free(st);
    free(hs);
    return nl;
}

/* A text panel: a plate-shaped blob at this scale (white/yellow and bright
 * for dark text) whose full-resolution interior holds one to three lines of
 * many letters.  Emits a "text" box; false only on OOM. */
static bool text_panel(scale_ctx *S, const comp *c, bool light_panel) {
    const plane *p = S->p;
    int w = p->w, h = p->h;
    int bw = c->x1 - c->x0 + 1, bh = c->y1 - c->y0 + 1;
    if (c->x0 == 0 || c->y0 == 0 || c->x1 == w - 1 || c->y1 == h - 1) return true;
    if (bw > w / 3) return true;
    double r, g, b;
    if (!blob_mean_rgb(S, c, &r, &g, &b)) return true;
    bool yellow;
    bool colour_ok = light_panel ? is_bg_colour(r, g, b, &yellow) : true;
    int gr = bh / 3 < 2 ? 2 : bh / 3;
    double rs = 0;
    int rn = 0;
    for (int y = c->y0 - gr; y <= c->y1 + gr; y++)
        for (int x = c->x0 - gr; x <= c->x1 + gr; x++) {
            if (x < 0 || y < 0 || x >= w || y >= h) continue;
            if (x >= c->x0 && x <= c->x1 && y >= c->y0 && y <= c->y1) continue;
            rs += p->y[(size_t)y * w + x];
            rn++;
        }
    if (rn == 0) return true;
    double ringc = light_panel ? c->mean_in - rs / rn : rs / rn - c->mean_in;
    /* a bright white/yellow or a black panel, framed by a contrasting ring */
    if (ringc < 90 || (light_panel ? c->mean_in < 170 || !colour_ok : c->mean_in > 60)) return true;
    /* interior at full resolution */
    int sc = S->scale;
    int fx0 = c->x0 * sc, fy0 = c->y0 * sc, fx1 = (c->x1 + 1) * sc - 1, fy1 = (c->y1 + 1) * sc - 1;
    int ix = (fx1 - fx0 + 1) / 12, iy = (fy1 - fy0 + 1) / 10;
    fx0 += ix;
    fx1 -= ix;
    fy0 += iy;
    fy1 -= iy;
    if (fx1 >= S->fw) fx1 = S->fw - 1;
    if (fy1 >= S->fh) fy1 = S->fh - 1;
    int fh = fy1 - fy0 + 1;
    if (fh < 12 || fx1 - fx0 < 24) return true;
    int dips = 0, rowsc = 0;
    double inkf = 0, isd = 0, bgsd = 255, con = 0, thr = 0;
    int ry0 = -1, ry1 = -1;
    int bands = panel_bands(S->fy, S->fw, fx0, fy0, fx1, fy1, light_panel, &dips, &rowsc, &inkf, &isd, &bgsd, &con, &thr,
                            &ry0, &ry1);
    if (bands < 1) return true;
    bool ok;
    if (light_panel) { /* dark letters on a white or yellow panel, of similar heights */
        int same = 0, nlet = panel_letters(S->fy, S->fw, fx0, fy0, fx1, fy1, true, thr, fh, &same);
        if (nlet < 0) return false;
        ok = con >= 90 && bgsd <= 30 && dips >= 8 && same >= 6 && 3 * same >= nlet && inkf >= 0.1 && inkf <= 0.45;
    } else /* light letters on a black panel (destination blinds, displays) */
        ok = con >= 120 && bgsd <= 25 && dips >= 5 && bands == 1 && rowsc >= 0.7 * fh && inkf >= 0.1 && inkf <= 0.45;
    if (!ok) return true;
    /* the box: the ink bands, and the columns that hold ink within them */
    int cx0 = -1, cx1 = -1;
    for (int x = fx0; x <= fx1; x++) {
        int k = 0;
        for (int y = ry0; y <= ry1; y++) {
            int v = S->fy[(size_t)y * S->fw + x];
            k += light_panel ? v < thr : v > thr;
        }
        if (k >= 2) {
            if (cx0 < 0) cx0 = x;
            cx1 = x;
        }
    }
    if (cx0 < 0) return true;
    if (!light_panel) {
        /* a blind's panel is often cut by reflections: its box grows left
         * and right over columns of the band that are still panel, letters
         * or reflection (little saturation, and some black or a contrast of
         * 30 levels), up to four band heights each way */
        int bh2 = ry1 - ry0 + 1, maxg = 4 * bh2;
        for (int dir = -1; dir <= 1; dir += 2) {
            for (int gstep = 0; gstep < maxg; gstep++) {
                int x = dir < 0 ? cx0 - 1 : cx1 + 1;
                if (x < 0 || x >= S->fw) break;
                int darkn = 0, satn = 0, ymin = 255, ymax = 0;
                for (int y = ry0; y <= ry1; y++) {
                    int v = S->fy[(size_t)y * S->fw + x];
                    if (v < ymin) ymin = v;
                    if (v > ymax) ymax = v;
                    const uint8_t *q = S->frgba + 4 * ((size_t)y * S->fw + x);
                    int mx = q[0] > q[1] ? (q[0] > q[2] ? q[0] : q[2]) : (q[1] > q[2] ? q[1] : q[2]);
                    int mn = q[0] < q[1] ? (q[0] < q[2] ? q[0] : q[2]) : (q[1] < q[2] ? q[1] : q[2]);
                    satn += mx > 40 && mx - mn > 0.35 * mx;
                    darkn += S->fy[(size_t)y * S->fw + x] <= c->mean_in + 20;
                }
                if (satn > bh2 / 5 || (darkn < bh2 / 4 && ymax - ymin < 30)) break;
                if (dir < 0) cx0 = x;
                else cx1 = x;
            }
        }
    }
    carve__box bx;
    memset(&bx, 0, sizeof bx);
    bx.x = cx0;
    bx.y = ry0;
    bx.w = cx1 - cx0 + 1;
    bx.h = ry1 - ry0 + 1;
    bx.score = (float)(0.3 + 0.1 * clamp01((dips - 4) / 8.0) + 0.1 * clamp01((con - 90) / 60.0));
    snprintf(bx.kind, sizeof bx.kind, "text");
    dlist_add(S->out, &bx);
    return !S->out->oom;
}

/* Labels the foreground and keeps the character-like components. */
static bool components(scale_ctx *S, bool dark, bool blobs) {
    const plane *p = S->p;
    int w = p->w, h = p->h;
    size_t n = (size_t)w * h;
    memset(S->seen, 0, n);
    S->ncomp = 0;
    for (size_t s = 0; s < n; s++) {
        if (!S->fg[s] || S->seen[s]) continue;
        comp c = {p->w, p->h, -1, -1, 0, 0, 0};
        int sp = 0;
        double sum = 0;
        S->stack[sp++] = (int)s;
        S->seen[s] = 1;
        while (sp) {
            int i = S->stack[--sp];
            int x = i % w, y = i / w;
            if (x < c.x0) c.x0 = x;
            if (x > c.x1) c.x1 = x;
            if (y < c.y0) c.y0 = y;
            if (y > c.y1) c.y1 = y;
            c.area++;
            sum += p->y[i];
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    if (blobs && dx && dy) continue; /* 4-connected */
                    size_t j = (size_t)yy * w + xx;
                    if (S->fg[j] && !S->seen[j]) {
                        S->seen[j] = 1;
                        S->stack[sp++] = (int)j;
                    }
                }
        }
        int bw = c.x1 - c.x0 + 1, bh = c.y1 - c.y0 + 1;
        if (blobs) {
            if (bh >= 5 && bh <= 60 && bw >= 1.6 * bh && bw <= 8 * bh && (double)c.area >= 0.4 * bw * bh) {
                c.mean_in = (float)(sum / c.area);
                if (!dark && bh >= 7 && bw >= 1.8 * bh && bw <= 6.5 * bh && !plate_blob(S, &c)) return false;
                if (!text_panel(S, &c, !dark)) return false;
            }
            continue;
        }
        if (bh < P.char_h_min || bh > P.char_h_max) continue;
        if (bw < P.char_aspect_min * bh || bw > P.char_aspect_max * bh) continue;
        double fill = (double)c.area / ((double)bw * bh);
        if (fill < P.char_fill_min || fill > P.char_fill_max) continue;
        if (c.x0 == 0 || c.y0 == 0 || c.x1 == w - 1 || c.y1 == h - 1) continue;
        /* ring: pixels of the box grown by ~h/4 that are not foreground */
        int g = bh / 4 < 2 ? 2 : bh / 4;
        int rx0 = c.x0 - g < 0 ? 0 : c.x0 - g, rx1 = c.x1 + g >= w ? w - 1 : c.x1 + g;
        int ry0 = c.y0 - g < 0 ? 0 : c.y0 - g, ry1 = c.y1 + g >= h ? h - 1 : c.y1 + g;
        double rs = 0;
        int rn = 0;
        for (int y = ry0; y <= ry1; y++)
            for (int x = rx0; x <= rx1; x++) {
                size_t j = (size_t)y * w + x;
                if (S->fg[j]) continue;
                rs += p->y[j];
                rn++;
            }
        if (rn < 4) continue;
        c.mean_in = (float)(sum / c.area);
        c.mean_ring = (float)(rs / rn);
        float contrast = dark ? c.mean_ring - c.mean_in : c.mean_in - c.mean_ring;
        if (contrast < P.char_contrast) continue;
        if (!comp_push(S, &c)) return false;
    }
    return true;
}

static int uf_find(int *par, int i) {
    while (par[i] != i) {
        par[i] = par[par[i]];
        i = par[i];
    }
    return i;
}

static int cmp_comp_x(const void *a, const void *b) {
    const comp *p = a, *q = b;
    if (p->x0 != q->x0) return p->x0 < q->x0 ? -1 : 1;
    if (p->y0 != q->y0) return p->y0 < q->y0 ? -1 : 1;
    return 0;
}

static bool is_bg_colour(double r, double g, double b, bool *yellow) {
    double mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
    double mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
    double sat = mx > 0 ? (mx - mn) / mx : 0;
    *yellow = r > 150 && g > 130 && b < 0.75 * g && fabs(r - g) < 60;
    return (mx > 120 && sat < 0.25) || *yellow;
}

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* Links each character to its nearest right neighbour of similar height on
 * the same centre line (union-find over c, sorted by x0). */
static void link_neighbours(const comp *c, int n, int *par) {
    for (int i = 0; i < n; i++) par[i] = i;
    for (int i = 0; i < n; i++) {
        int hi = c[i].y1 - c[i].y0 + 1;
        double cyi = 0.5 * (c[i].y0 + c[i].y1);
        int best = -1;
        int bestgap = 1 << 30;
        for (int j = i + 1; j < n; j++) {
            if (c[j].x0 > c[i].x1 + P.link_gap_max * hi + 1) break;
            int hj = c[j].y1 - c[j].y0 + 1;
            double hr = hi > hj ? (double)hi / hj : (double)hj / hi;
            if (hr > P.link_height_ratio) continue;
            int hm = hi > hj ? hi : hj;
            double cyj = 0.5 * (c[j].y0 + c[j].y1);
            if (fabs(cyi - cyj) > P.link_centre_dev * hm) continue;
            int gap = c[j].x0 - c[i].x1 - 1;
            if (gap < P.link_gap_min * hm || gap > P.link_gap_max * hm) continue;
            if (gap < bestgap) {
                bestgap = gap;
                best = j;
            }
        }
        if (best >= 0) {
            int a = uf_find(par, i), b = uf_find(par, best);
            if (a != b) par[a < b ? b : a] = a < b ? a : b;
        }
    }
}

/* A row's characters, measured. */
typedef struct row_stats {
    int k;              /* characters */
    int x0, y0, x1, y1; /* bounds of the characters */
    double mh;          /* mean character height */
    double hsd, bsd, tsd; /* relative spread of heights, baselines, tops */
    double con;         /* mean character contrast */
} row_stats;

static void row_measure(const comp *c, const int *mem, int m0, int m1, int w, int h, row_stats *R) {
    double sh = 0, sh2 = 0, sb = 0, sb2 = 0, st = 0, st2 = 0, scon = 0;
    R->k = 0;
    R->x0 = w, R->y0 = h, R->x1 = -1, R->y1 = -1;
    for (int m = m0; m < m1; m++) {
        const comp *ci = &c[mem[m]];
        double hh = ci->y1 - ci->y0 + 1;
        sh += hh;
        sh2 += hh * hh;
        sb += ci->y1;
        sb2 += (double)ci->y1 * ci->y1;
        st += ci->y0;
        st2 += (double)ci->y0 * ci->y0;
        scon += fabs(ci->mean_ring - ci->mean_in);
        if (ci->x0 < R->x0) R->x0 = ci->x0;
        if (ci->y0 < R->y0) R->y0 = ci->y0;
        if (ci->x1 > R->x1) R->x1 = ci->x1;
        if (ci->y1 > R->y1) R->y1 = ci->y1;
        R->k++;
    }
    int k = R->k;
    R->mh = sh / k;
    R->hsd = sqrt(fmax(0, sh2 / k - R->mh * R->mh)) / R->mh;
    R->bsd = sqrt(fmax(0, sb2 / k - (sb / k) * (sb / k))) / R->mh;
    R->tsd = sqrt(fmax(0, st2 / k - (st / k) * (st / k))) / R->mh;
    R->con = scon / k;
}

/* The background between a row's characters: the non-foreground pixels of
 * the row box grown by P.row_bg_grow of the character height. */
typedef struct row_bg {
    int x0, y0, x1, y1; /* the grown box, clipped */
    int g;              /* the growth (px) */
    double r, g_, b;    /* mean colour */
    double ym, ysd;     /* luma mean and deviation */
    double ink;         /* share of foreground pixels in the box */
    int n;              /* background pixels */
} row_bg;

static void row_background(const scale_ctx *S, const row_stats *R, row_bg *B) {
    const plane *p = S->p;
    int w = p->w, h = p->h;
    int g = (int)(P.row_bg_grow * R->mh + 0.5);
    B->g = g;
    B->x0 = R->x0 - g < 0 ? 0 : R->x0 - g, B->x1 = R->x1 + g >= w ? w - 1 : R->x1 + g;
    B->y0 = R->y0 - g < 0 ? 0 : R->y0 - g, B->y1 = R->y1 + g >= h ? h - 1 : R->y1 + g;
    double br = 0, bg_ = 0, bb = 0, by = 0, by2 = 0;
    int bn = 0, fgn = 0;
    for (int y = B->y0; y <= B->y1; y++)
        for (int x = B->x0; x <= B->x1; x++) {
            size_t j = (size_t)y * w + x;
            if (S->fg[j]) {
                fgn++;
                continue;
            }
            br += p->rgb[3 * j];
            bg_ += p->rgb[3 * j + 1];
            bb += p->rgb[3 * j + 2];
            by += p->y[j];
            by2 += (double)p->y[j] * p->y[j];
            bn++;
        }
    B->n = bn;
    B->ink = (double)fgn / ((double)(B->x1 - B->x0 + 1) * (B->y1 - B->y0 + 1));
    if (bn == 0) return;
    B->r = br / bn;
    B->g_ = bg_ / bn;
    B->b = bb / bn;
    B->ym = by / bn;
    B->ysd = sqrt(fmax(0, by2 / bn - B->ym * B->ym));
}

/* Grows a plate row's box (ex0..ey1, inclusive) to the plate's border:
 * rows above/below must be mostly background luma; columns left/right are
 * judged on the top and bottom quarters of the box (the plate's margins),
 * since the characters cross their middle. */
static void plate_extent(const plane *p, double bym, double mh, int *ex0, int *ey0, int *ex1, int *ey1) {
    int w = p->w, h = p->h;
    for (int it = 0; it < 4; it++) { /* it: 0 up, 1 down, 2 left, 3 right */
        int steps = 0, maxsteps = (int)(it < 2 ? P.extent_rows * mh : P.extent_cols * mh);
        for (;;) {
            int ny = it == 0 ? *ey0 - 1 : it == 1 ? *ey1 + 1 : 0;
            int nx = it == 2 ? *ex0 - 1 : it == 3 ? *ex1 + 1 : 0;
            if (steps >= maxsteps) break;
            if ((it == 0 && ny < 0) || (it == 1 && ny >= h) || (it == 2 && nx < 0) || (it == 3 && nx >= w)) break;
            int same = 0, tot = 0;
            if (it < 2)
                for (int x = *ex0; x <= *ex1; x++, tot++)
                    same += abs((int)p->y[(size_t)ny * w + x] - (int)bym) < P.extent_luma_tol;
            else {
                int q = (*ey1 - *ey0 + 1) / 4 < 1 ? 1 : (*ey1 - *ey0 + 1) / 4;
                for (int y = *ey0; y <= *ey1; y++) {
                    if (y >= *ey0 + q && y <= *ey1 - q) continue;
                    same += abs((int)p->y[(size_t)y * w + nx] - (int)bym) < P.extent_luma_tol;
                    tot++;
                }
            }
            if (same < P.extent_share * tot) break;
            if (it == 0) *ey0 = ny;
            else if (it == 1) *ey1 = ny;
            else if (it == 2) *ex0 = nx;
            else *ex1 = nx;
            steps++;
        }
    }
}

/* Scores one row and emits its plate or text box; false only on OOM. */
static bool row_emit(scale_ctx *S, bool dark, const row_stats *R, dlist *out) {
    double rw = R->x1 - R->x0 + 1, rh = R->y1 - R->y0 + 1;
    if (R->hsd > P.row_spread_max || R->bsd > P.row_spread_max || R->tsd > P.row_spread_max) return true;
    if (rw < P.row_aspect_min * rh) return true;
    row_bg B;
    row_background(S, R, &B);
    if (B.n < P.row_bg_min_px) return true;
    bool yellow = false;
    bool plate_bg = dark && is_bg_colour(B.r, B.g_, B.b, &yellow) && B.ysd < P.plate_bg_sd_max;
    int k = R->k;
    double regular = 1.0 - clamp01((R->hsd + R->bsd + R->tsd) / P.score_spread);
    double count_t = clamp01((k - 2) / 4.0);
    double con_t = clamp01((R->con - P.char_contrast) / P.score_contrast_range);
    double uni_t = 1.0 - clamp01(B.ysd / P.plate_bg_sd_max);
    double aspect = rw / rh;
    bool plate = plate_bg &&
                 ((k >= P.plate_chars_strong && R->con >= P.plate_contrast) || R->con >= P.plate_contrast_3) &&
                 k >= 3 && k <= P.plate_chars_max && aspect >= P.plate_aspect_min && aspect <= P.plate_aspect_max &&
                 B.ink > P.plate_ink_min && B.ink < P.plate_ink_max;
    if (!plate && k < P.text_chars_min) return true;
    double score = 0.3 * count_t + 0.25 * con_t + 0.25 * regular + 0.2 * uni_t;
    if (!plate) score *= P.text_score_factor;
    if (score < P.row_score_min) return true;
    int ex0 = B.x0, ex1 = B.x1, ey0 = B.y0, ey1 = B.y1;
    if (plate) plate_extent(S->p, B.ym, R->mh, &ex0, &ey0, &ex1, &ey1);
    else { /* text: the rows of characters plus the background's growth */
        ex0 = R->x0 - B.g;
        ex1 = R->x1 + B.g;
        ey0 = R->y0 - B.g;
        ey1 = R->y1 + B.g;
    }
    int sc = S->scale;
    carve__box b;
    memset(&b, 0, sizeof b);
    b.x = ex0 * sc;
    b.y = ey0 * sc;
    b.w = (ex1 - ex0 + 1) * sc;
    b.h = (ey1 - ey0 + 1) * sc;
    b.score = (float)clamp01(score);
    snprintf(b.kind, sizeof b.kind, "%s", plate ? "plate" : "text");
    dlist_add(out, &b);
    return !out->oom;
}

/* Groups the components into rows and emits plate/text boxes. */
static bool rows(scale_ctx *S, bool dark, dlist *out) {
    int n = S->ncomp;
    if (n < 3) return true;
    comp *c = S->comps;
    qsort(c, (size_t)n, sizeof(comp), cmp_comp_x);
    int *par = malloc(sizeof(int) * (size_t)n), *cnt = calloc((size_t)n, sizeof(int));
    int *start = malloc(sizeof(int) * (size_t)(n + 1)), *mem = malloc(sizeof(int) * (size_t)n);
    int *pos = malloc(sizeof(int) * (size_t)n);
    bool ok = par && cnt && start && mem && pos;
    if (ok) {
        link_neighbours(c, n, par);
        /* members of each row, grouped by root (counting sort) */
        for (int i = 0; i < n; i++) {
            par[i] = uf_find(par, i);
            cnt[par[i]]++;
        }
        start[0] = 0;
        for (int i = 0; i < n; i++) start[i + 1] = start[i] + cnt[i];
        memcpy(pos, start, sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++) mem[pos[par[i]]++] = i;
    }
    for (int r = 0; r < n && ok; r++) {
        if (par[r] != r || cnt[r] < 3) continue;
        row_stats R;
        row_measure(c, mem, start[r], start[r + 1], S->p->w, S->p->h, &R);
        ok = row_emit(S, dark, &R, out);
    }
    free(par);
    free(cnt);
    free(start);
    free(mem);
    free(pos);
    return ok;
}

static int cmp_box(const void *a, const void *b) {
    const carve__box *p = a, *q = b;
    if (p->score != q->score) return p->score > q->score ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->w != q->w) return p->w < q->w ? -1 : 1;
    return p->h < q->h ? -1 : p->h > q->h;
}

static double box_overlap(const carve__box *a, const carve__box *b) {
    int x0 = a->x > b->x ? a->x : b->x, y0 = a->y > b->y ? a->y : b->y;
    int x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    if (x1 <= x0 || y1 <= y0) return 0;
    double in = (double)(x1 - x0) * (y1 - y0);
    double amin = fmin((double)a->w * a->h, (double)b->w * b->h);
    return in / amin; /* intersection over the smaller box */
}

/* Sorts L by score and drops boxes overlapping a better one by more than
 * P.nms_overlap of the smaller; a dropped box of the same kind (the same
 * plate at another scale or by the other path) grows the kept one to their
 * union, within reason. */
static void suppress(dlist *L) {
    if (L->n) qsort(L->b, (size_t)L->n, sizeof(carve__box), cmp_box);
    int k = 0;
    for (int i = 0; i < L->n; i++) {
        bool keep = true;
        for (int j = 0; j < k && keep; j++)
            if (box_overlap(&L->b[i], &L->b[j]) > P.nms_overlap) {
                keep = false;
                carve__box *a = &L->b[j], *o = &L->b[i];
                if (strcmp(a->kind, o->kind)) continue;
                int ux0 = a->x < o->x ? a->x : o->x, uy0 = a->y < o->y ? a->y : o->y;
                int ux1 = a->x + a->w > o->x + o->w ? a->x + a->w : o->x + o->w;
                int uy1 = a->y + a->h > o->y + o->h ? a->y + a->h : o->y + o->h;
                if ((double)(ux1 - ux0) * (uy1 - uy0) <= P.nms_union_max * (double)a->w * a->h) {
                    a->x = ux0;
                    a->y = uy0;
                    a->w = ux1 - ux0;
                    a->h = uy1 - uy0;
                }
            }
        if (keep) L->b[k++] = L->b[i];
    }
    L->n = k;
}

/* Pads each box (a plate's frame, and the slant of a plate seen at an angle:
 * more room left and right, where a tilted rectangle's corners go; text is
 * upright: just the strokes' blur), clips it, and drops empty boxes and
 * boxes over P.box_area_max of the image (no plate or sign in a vehicle
 * photo is that big, and erasing one would wipe the subject). */
static void pad_and_clip(dlist *L, int W, int H) {
    int k = 0;
    double area = (double)W * H;
    for (int i = 0; i < L->n; i++) {
        carve__box *b = &L->b[i];
        int pad = (int)(P.pad_plate_y * b->h + P.pad_px), padx = (int)(P.pad_plate_x * b->h + P.pad_px);
        if (!strcmp(b->kind, "text")) pad = padx = (int)(P.pad_text * b->h + P.pad_px);
        b->x -= padx;
        b->y -= pad;
        b->w += 2 * padx;
        b->h += 2 * pad;
        int x1 = b->x + b->w, y1 = b->y + b->h;
        if (b->x < 0) b->x = 0;
        if (b->y < 0) b->y = 0;
        if (x1 > W) x1 = W;
        if (y1 > H) y1 = H;
        b->w = x1 - b->x;
        b->h = y1 - b->y;
        if (b->w > 0 && b->h > 0 && (double)b->w * b->h <= P.box_area_max * area) L->b[k++] = *b;
    }
    L->n = k;
}

/* The working buffers of a full-resolution plane (reused at every scale). */
static bool scale_alloc(scale_ctx *S, const carve_image *img, const plane *cur, uint8_t **fullY) {
    size_t n0 = (size_t)img->w * img->h;
    *fullY = malloc(n0);
    if (!*fullY) return false;
    memcpy(*fullY, cur->y, n0);
    S->fy = *fullY;
    S->frgba = img->px;
    S->fw = img->w;
    S->fh = img->h;
    S->fg = malloc(n0);
    S->seen = malloc(n0);
    S->stack = malloc(sizeof(int) * n0);
    S->mean = malloc(sizeof(uint16_t) * n0);
    S->sdev = malloc(sizeof(uint16_t) * n0);
    S->col = malloc(sizeof(uint32_t) * (size_t)img->w);
    S->col2 = malloc(sizeof(uint32_t) * (size_t)img->w);
    return S->fg && S->seen && S->stack && S->mean && S->sdev && S->col && S->col2;
}

static void scale_free(scale_ctx *S) {
    free(S->fg);
    free(S->seen);
    free(S->stack);
    free(S->mean);
    free(S->sdev);
    free(S->col);
    free(S->col2);
    free(S->comps);
}

/* Every path at one scale; false only on OOM. */
static bool detect_scale(scale_ctx *S, dlist *L) {
    local_stats(S);
    for (int pol = 0; pol < 2; pol++) {
        threshold(S, pol == 0, P.fg_ksd_pct, P.fg_min);
        if (!components(S, pol == 0, false) || !rows(S, pol == 0, L)) return false;
    }
    /* small plates and text panels: bright plate-shaped blobs with ink
     * inside; text panels also as dark blobs with light letters */
    threshold(S, false, P.blob_ksd_pct, P.blob_min);
    if (!components(S, false, true)) return false;
    threshold(S, true, P.blob_ksd_pct, P.blob_min);
    return components(S, true, true);
}

carve_status carve__detect_plates(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n) {
    if (boxes) *boxes = NULL;
    if (n) *n = 0;
    if (!ctx || !img || !boxes || !n) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "detect_plates: NULL argument");
    if (img->w < 16 || img->h < 8) return CARVE_OK;
    carve_status st = carve__progress(ctx, 0, "detect");
    if (st) return st;
    plane cur, nxt;
    uint8_t *fullY = NULL;
    memset(&cur, 0, sizeof cur);
    memset(&nxt, 0, sizeof nxt);
    dlist L = {NULL, 0, 0, false};
    scale_ctx S;
    memset(&S, 0, sizeof S);
    if (!plane_from_image(img, &cur) || !scale_alloc(&S, img, &cur, &fullY)) {
        st = CARVE_ERR_NOMEM;
        goto done;
    }
    int nscales = 0;
    for (int w = img->w, h = img->h; w >= 32 && h >= 16; w /= 2, h /= 2) nscales++;
    for (int si = 0, sc = 1; si < nscales; si++, sc *= 2) {
        S.p = &cur;
        S.scale = sc;
        S.out = &L;
        if (!detect_scale(&S, &L)) {
            st = CARVE_ERR_NOMEM;
            goto done;
        }
        st = carve__progress(ctx, (double)(si + 1) / nscales, "detect");
        if (st) goto done;
        if (si + 1 < nscales) {
            if (!plane_half(&cur, &nxt)) {
                st = CARVE_ERR_NOMEM;
                goto done;
            }
            plane_free(&cur);
            cur = nxt;
            memset(&nxt, 0, sizeof nxt);
        }
    }
    suppress(&L);
    pad_and_clip(&L, img->w, img->h);
    *boxes = L.b;
    *n = L.n;
    L.b = NULL;
done:
    if (st == CARVE_ERR_NOMEM) carve__fail(ctx, st, "detect_plates: out of memory (%dx%d image)", img->w, img->h);
    free(L.b);
    plane_free(&cur);
    plane_free(&nxt);
    scale_free(&S);
    free(fullY);
    return st;
}
