/* panel.c — erasing a plate, a text panel or a face as a flat panel.
 *
 * An erased plate must not read as a plate: exemplar inpainting copies
 * texture from around the hole, and a copied grille or a copied line of
 * characters can still look like one.  So a detection is covered by a
 * panel of its own shape — the plate's (possibly rotated) rectangle, grown
 * by its frame, or an ellipse for a head — filled with one colour: the
 * dominant colour of a ring around it (a coarse 8x8x8 RGB histogram,
 * smoothed over neighbouring bins; the per-channel median of the pixels of
 * the winning bins), which is the bumper or body colour for a plate and the
 * panel's own background for text.  The panel's edge is softened over
 * PANEL_FEATHER pixels so it does not print a hard seam.  See
 * docs/sanitize.md ("Panels"). */
#include "sanitize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_FEATHER 1.5       /* px over which the panel's edge blends into the photo */
#define RING_MIN 3.0            /* px: narrowest ring the colour is taken from */
#define RING_FRAC 0.35          /* ring width as a share of the panel's short side */
#define NEAR_L1 36              /* |dR|+|dG|+|dB| of the pixels the final median is taken over */
#define HIST_BITS 3             /* bits per channel of the colour histogram */
#define ANGLE_MIN_COHERENCE 0.2 /* below it a box's texture has no direction: angle 0 */
#define ANGLE_MAX 40.0          /* deg: estimates beyond this are not plates' tilts */
#define ANGLE_MIN 6.0           /* deg: smaller estimates are read as upright (the frame's growth covers them) */

/* Rotated-frame coordinates of (x, y) for a box of angle deg (counter-
 * clockwise on screen, y pointing down). */
static void to_local(const carve__obox *o, double x, double y, double *u, double *v) {
    double a = o->deg * M_PI / 180.0, c = cos(a), s = sin(a);
    double dx = x - o->cx, dy = y - o->cy;
    *u = c * dx - s * dy;
    *v = s * dx + c * dy;
}

/* Signed distance from the panel's edge, negative inside (px). */
static double panel_dist(const carve__obox *o, int shape, double grow, double x, double y) {
    double u, v;
    to_local(o, x, y, &u, &v);
    double hw = 0.5 * o->w + grow, hh = 0.5 * o->h + grow;
    if (hw <= 0 || hh <= 0) return 1e9;
    if (shape == CARVE__PANEL_ELLIPSE) {
        double r = sqrt((u / hw) * (u / hw) + (v / hh) * (v / hh));
        return (r - 1.0) * fmin(hw, hh);
    }
    double dx = fabs(u) - hw, dy = fabs(v) - hh;
    if (dx > 0 && dy > 0) return hypot(dx, dy);
    return fmax(dx, dy);
}

void carve__obox_bounds(const carve__obox *o, double grow, int W, int H, carve__box *b) {
    double a = o->deg * M_PI / 180.0, c = fabs(cos(a)), s = fabs(sin(a));
    double hw = 0.5 * o->w + grow, hh = 0.5 * o->h + grow;
    double ex = hw * c + hh * s, ey = hw * s + hh * c;
    int x0 = carve__clampi((int)floor(o->cx - ex), 0, W), y0 = carve__clampi((int)floor(o->cy - ey), 0, H);
    int x1 = carve__clampi((int)ceil(o->cx + ex), 0, W), y1 = carve__clampi((int)ceil(o->cy + ey), 0, H);
    b->x = x0;
    b->y = y0;
    b->w = x1 - x0;
    b->h = y1 - y0;
}

carve__obox carve__obox_in_box(const carve__box *b, double deg) {
    carve__obox o = {b->x + 0.5 * b->w, b->y + 0.5 * b->h, b->w, b->h, 0};
    double a = deg * M_PI / 180.0, c = fabs(cos(a)), s = fabs(sin(a)), den = c * c - s * s;
    if (fabs(deg) < 2 || den < 0.2) return o; /* upright, or too steep to invert: the box */
    double w = (b->w * c - b->h * s) / den, h = (b->h * c - b->w * s) / den;
    /* a box that is not the bounds of a rectangle at that angle (too tall
     * for it): keep the box's own width along the angle, its height across */
    if (h < 0.25 * b->h || w <= h) {
        w = b->w / c;
        h = fmax(b->h * c - b->w * s, 0.35 * b->h);
    }
    o.w = w;
    o.h = h;
    o.deg = deg;
    return o;
}

double carve__text_angle(const carve_image *img, const carve__box *b) {
    /* Sobel gradients; the strokes' and the plate's edges are at right
     * angles, so their directions agree modulo 90 deg: average 4*theta
     * weighted by the squared magnitude. */
    double sc = 0, ss = 0, sw = 0;
    int x0 = carve__clampi(b->x, 1, img->w - 1), x1 = carve__clampi(b->x + b->w, 1, img->w - 1);
    int y0 = carve__clampi(b->y, 1, img->h - 1), y1 = carve__clampi(b->y + b->h, 1, img->h - 1);
#define LUMA(X, Y)                                                                                                     \
    (77 * img->px[4 * ((size_t)(Y) * img->w + (X))] + 150 * img->px[4 * ((size_t)(Y) * img->w + (X)) + 1] +          \
     29 * img->px[4 * ((size_t)(Y) * img->w + (X)) + 2])
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            double gx = (LUMA(x + 1, y - 1) + 2.0 * LUMA(x + 1, y) + LUMA(x + 1, y + 1) - LUMA(x - 1, y - 1) -
                         2.0 * LUMA(x - 1, y) - LUMA(x - 1, y + 1)) / 256.0;
            double gy = (LUMA(x - 1, y + 1) + 2.0 * LUMA(x, y + 1) + LUMA(x + 1, y + 1) - LUMA(x - 1, y - 1) -
                         2.0 * LUMA(x, y - 1) - LUMA(x + 1, y - 1)) / 256.0;
            double m2 = gx * gx + gy * gy;
            if (m2 <= 0) continue;
            double t = 4 * atan2(gy, gx);
            sc += m2 * cos(t);
            ss += m2 * sin(t);
            sw += m2;
        }
#undef LUMA
    if (sw <= 0 || hypot(sc, ss) < ANGLE_MIN_COHERENCE * sw) return 0;
    /* a stroke of a plate turned by phi (counter-clockwise) has its gradient
     * at -phi in image coordinates (y down) */
    double deg = -atan2(ss, sc) / 4 * 180.0 / M_PI;
    return fabs(deg) > ANGLE_MAX || fabs(deg) < ANGLE_MIN ? 0 : deg;
}

static int cmp_u8(const void *a, const void *b) { return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b; }

#define NBIN (1 << HIST_BITS)
#define NSIDE 4 /* top, bottom, left, right of the panel (in its own frame) */

/* Centre bin of the 3x3x3 neighbourhood with the most pixels (hist: NBIN^3). */
static int dominant_bin(const int *hist, int *count) {
    int best = -1, bb = 0, bown = -1;
    for (int i = 0; i < NBIN; i++)
        for (int j = 0; j < NBIN; j++)
            for (int k = 0; k < NBIN; k++) {
                int s = 0;
                for (int a = i - 1; a <= i + 1; a++)
                    for (int b = j - 1; b <= j + 1; b++)
                        for (int c = k - 1; c <= k + 1; c++)
                            if (a >= 0 && b >= 0 && c >= 0 && a < NBIN && b < NBIN && c < NBIN)
                                s += hist[(a * NBIN + b) * NBIN + c];
                int own = hist[(i * NBIN + j) * NBIN + k]; /* ties: the fuller bin (never an empty one) */
                if (own > 0 && (s > best || (s == best && own > bown))) best = s, bown = own, bb = (i * NBIN + j) * NBIN + k;
            }
    *count = best;
    return bb;
}

static bool bins_near(int a, int b) {
    return abs(a / (NBIN * NBIN) - b / (NBIN * NBIN)) <= 1 && abs(a / NBIN % NBIN - b / NBIN % NBIN) <= 1 &&
           abs(a % NBIN - b % NBIN) <= 1;
}

static int bin_of(const uint8_t *q) {
    const int sh = 8 - HIST_BITS;
    return ((q[0] >> sh) * NBIN + (q[1] >> sh)) * NBIN + (q[2] >> sh);
}

/* Per-channel median of the n pixels (rgb triples) accepted by keep(). */
static bool median_where(const uint8_t *px, int n, int bin, const uint8_t *near, uint8_t rgb[3]) {
    uint8_t *ch = malloc((size_t)n * 3 + 3);
    if (!ch) return false;
    int m = 0;
    for (int t = 0; t < n; t++) {
        const uint8_t *q = px + 3 * t;
        bool ok = near ? abs(q[0] - near[0]) + abs(q[1] - near[1]) + abs(q[2] - near[2]) <= NEAR_L1
                       : bin_of(q) == bin;
        if (!ok) continue;
        for (int c = 0; c < 3; c++) ch[c * n + m] = q[c];
        m++;
    }
    if (m)
        for (int c = 0; c < 3; c++) {
            qsort(ch + (size_t)c * n, (size_t)m, 1, cmp_u8);
            rgb[c] = ch[(size_t)c * n + m / 2];
        }
    free(ch);
    return m > 0;
}

/* The side of the panel (x, y) lies on, in the panel's own frame. */
static int side_of(const carve__obox *o, double x, double y) {
    double u, v;
    to_local(o, x, y, &u, &v);
    if (fabs(u) / fmax(o->w, 1) > fabs(v) / fmax(o->h, 1)) return u < 0 ? 2 : 3;
    return v < 0 ? 0 : 1;
}

/* The panel's colour: the dominant colour of a ring around it (from_inside:
 * of its own pixels).  A plate is mounted on the body, so the band above it
 * decides (a plate above a black intake takes the bumper's colour, not the
 * intake's); when that band is empty (the image's edge), each side votes
 * with its dominant colour and the colour most sides agree on wins, ties to
 * the side with more pixels.  The colour is the median of the pixels of the
 * winning bin, then of those within NEAR_L1 of that. */
static bool ring_colour(const carve_image *img, const carve__panel *p, uint8_t rgb[3]) {
    double ring = fmax(RING_MIN, RING_FRAC * fmin(p->r.w, p->r.h));
    double lo = p->grow, hi = p->grow + ring; /* the band of distances sampled */
    if (p->from_inside) lo = -1e9, hi = 0;
    carve__box bb;
    carve__obox_bounds(&p->r, p->grow + ring, img->w, img->h, &bb);
    int *hist = calloc((size_t)NSIDE * NBIN * NBIN * NBIN, sizeof(int));
    uint8_t *px = malloc(3 * (size_t)(bb.w > 0 ? bb.w : 1) * (size_t)(bb.h > 0 ? bb.h : 1));
    bool ok = false;
    int n = 0;
    if (!hist || !px) goto done;
    for (int y = bb.y; y < bb.y + bb.h; y++)
        for (int x = bb.x; x < bb.x + bb.w; x++) {
            double d = panel_dist(&p->r, p->shape, 0, x + 0.5, y + 0.5);
            const uint8_t *q = img->px + 4 * ((size_t)y * img->w + x);
            if (d <= lo || d > hi || q[3] < 128) continue;
            int side = p->from_inside || p->shape != CARVE__PANEL_RECT ? 0 : side_of(&p->r, x + 0.5, y + 0.5);
            memcpy(px + 3 * n++, q, 3);
            hist[side * NBIN * NBIN * NBIN + bin_of(q)]++;
        }
    if (!n) goto done;
    int bin[NSIDE], cnt[NSIDE], win = -1, wvotes = -1, wcnt = -1;
    for (int sd = 0; sd < NSIDE; sd++) bin[sd] = dominant_bin(hist + sd * NBIN * NBIN * NBIN, &cnt[sd]);
    if (!p->from_inside && p->shape == CARVE__PANEL_RECT && cnt[0] > 0) win = 0, wvotes = NSIDE; /* above */
    for (int sd = 0; sd < NSIDE && wvotes < NSIDE; sd++) {
        if (cnt[sd] <= 0) continue;
        int votes = 0;
        for (int o = 0; o < NSIDE; o++) votes += cnt[o] > 0 && bins_near(bin[sd], bin[o]);
        if (votes > wvotes || (votes == wvotes && cnt[sd] > wcnt)) win = sd, wvotes = votes, wcnt = cnt[sd];
    }
    uint8_t c0[3];
    ok = win >= 0 && median_where(px, n, bin[win], NULL, c0) && median_where(px, n, 0, c0, rgb);
done:
    free(hist);
    free(px);
    return ok;
}

static void paint(carve_image *im, const carve__panel *p, const uint8_t rgb[3]) {
    carve__box bb;
    carve__obox_bounds(&p->r, p->grow + PANEL_FEATHER, im->w, im->h, &bb);
    for (int y = bb.y; y < bb.y + bb.h; y++)
        for (int x = bb.x; x < bb.x + bb.w; x++) {
            double d = panel_dist(&p->r, p->shape, p->grow, x + 0.5, y + 0.5);
            double cov = 0.5 - d / PANEL_FEATHER;
            if (cov <= 0) continue;
            if (cov > 1) cov = 1;
            uint8_t *q = im->px + 4 * ((size_t)y * im->w + x);
            for (int c = 0; c < 3; c++) q[c] = (uint8_t)lround(cov * rgb[c] + (1 - cov) * q[c]);
        }
}

carve_status carve__fill_panels(carve_ctx *ctx, const carve_image *img, carve__panel *p, int n, carve_image **out) {
    *out = NULL;
    if (!img || (n > 0 && !p) || n < 0) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "fill_panels: bad argument");
    carve_image *im = carve_image_copy(img);
    if (!im) return carve__fail(ctx, CARVE_ERR_NOMEM, "fill_panels: out of memory");
    /* colours first, all from the photo (a panel does not take its colour
     * from a neighbour's fill), then the painting */
    for (int i = 0; i < n; i++) {
        uint8_t rgb[3] = {128, 128, 128};
        p[i].has_colour = ring_colour(img, &p[i], rgb);
        p[i].rgb = (uint32_t)rgb[0] << 16 | (uint32_t)rgb[1] << 8 | rgb[2];
    }
    for (int i = 0; i < n; i++) {
        if (!p[i].has_colour) continue;
        uint8_t rgb[3] = {(uint8_t)(p[i].rgb >> 16), (uint8_t)(p[i].rgb >> 8), (uint8_t)p[i].rgb};
        paint(im, &p[i], rgb);
        carve_status st = carve__progress(ctx, (double)(i + 1) / n, "panel");
        if (st) {
            carve_image_destroy(im);
            return st;
        }
    }
    *out = im;
    return CARVE_OK;
}

carve__obox carve__head_of_person(const carve__box *person) {
    /* A standing person's box (taller than 1.8 widths) has the head in its
     * top seventh, about half the box's width across and centred; a seated
     * or cut-off person (a driver behind a window: the box holds head and
     * shoulders) has it in the top 45 %, at most 0.9 widths high. */
    double w = person->w, h = person->h, hh, hw;
    if (h >= 1.8 * w) {
        hh = h / 7.0;
        hw = fmin(0.6 * w, 0.85 * hh);
    } else {
        hh = fmin(0.45 * h, 0.9 * w);
        hw = fmin(0.7 * w, 0.85 * hh);
    }
    carve__obox o = {person->x + 0.5 * w, person->y + 0.5 * hh, hw, hh, 0};
    return o;
}
