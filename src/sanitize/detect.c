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

/* The blob paths' thresholds: small plates (plate_blob) and text panels
 * (text_panel, panel_bands, panel_letters).  Luma levels unless said;
 * "h" is the blob's height at the pyramid scale.  Tuned like P (see
 * docs/sanitize.md, "How it was tuned"). */
typedef struct blob_params {
    /* a blob: 4-connected bright (or dark) component */
    int blob_h_min, blob_h_max;          /* height (px) */
    double blob_aspect_min, blob_aspect_max; /* width / height */
    double blob_fill_min;                /* area / box */
    int plate_h_min;                     /* a small-plate candidate: height ... */
    double plate_aspect_min, plate_aspect_max; /* ... and width / height */
    int blob_width_div;                  /* wider than the image / this: not a blob */
    /* a white (or yellow) plate/panel colour */
    double white_max_min, white_sat_max; /* brightest channel, saturation */
    double yellow_r_min, yellow_g_min, yellow_bg_ratio, yellow_rg_diff; /* r, g, b < ratio * g, |r - g| */
    double bright_min;                   /* a white/yellow plate or panel's mean luma */
    int ring_div, ring_min_px;           /* the surrounding ring: h / ring_div wide, at least ring_min_px */
    /* ink inside, and its column profile */
    double ink_k;                        /* ink: beyond mean -/+ ink_k * sd */
    int ink_row_div;                     /* an ink row has ink on more than 1/ink_row_div of the width */
    int band_gaps_max;                   /* rows without ink bridged inside a band */
    double dip_share, dip_min;           /* profile dips: hysteresis of max(dip_share * range, dip_min) */
    /* a small plate (plate_blob) */
    int plate_margin_x_div, plate_margin_y_div; /* the interior: box less width / x_div, height / y_div */
    double plate_ring_contrast;          /* levels above its ring */
    double plate_sd_min, plate_sd_strong; /* interior luma sd: written on at all, and clearly */
    int plate_cross_rows;                /* middle rows (+-) counted for crossings */
    int plate_cross_min;                 /* background-to-ink crossings needed */
    double plate_ink_min, plate_ink_max; /* ink share of the interior */
    int plate_dips_min;                  /* separate strokes */
    double plate_band_share;             /* the ink band spans this share of the interior height */
    /* score: base + w * clamp01((dips - dips0) / dips_range) + w * clamp01((ring - plate_ring_contrast) / ring_range) */
    double plate_score_base, plate_score_w, plate_score_dips_range, plate_score_ring_range;
    int plate_score_dips0;
    /* a text panel (text_panel) */
    double panel_ring_contrast;          /* levels between the panel and its ring */
    double panel_dark_max;               /* a black panel's mean luma */
    int panel_margin_x_div, panel_margin_y_div; /* the interior at full resolution */
    int panel_h_min, panel_w_min;        /* interior size (full-resolution px) */
    int band_rows_min;                   /* an ink band's rows */
    double light_con_min, light_bgsd_max; /* dark letters on white/yellow: contrast, panel sd */
    int light_dips_min, light_same_min, light_same_div; /* dips, letters of one size (>= all / div) */
    double dark_con_min, dark_bgsd_max;  /* light letters on black: contrast, panel sd */
    int dark_dips_min;
    double dark_rows_share;              /* the one band covers this share of the interior height */
    double panel_ink_min, panel_ink_max; /* ink share of the interior */
    int panel_col_ink_min;               /* a column of the box holds this much ink in the bands */
    int blind_grow_bands;                /* a blind's box grows up to this many band heights each way */
    double blind_sat_luma, blind_sat;    /* a saturated pixel: max > sat_luma, (max - min) > sat * max */
    double blind_dark_tol;               /* a black pixel: within this of the panel's mean */
    int blind_sat_rows_div, blind_dark_rows_div; /* stop: > rows/div saturated, or < rows/div black ... */
    double blind_contrast;               /* ... and less contrast than this */
    /* score: base + w * clamp01((dips - dips0) / dips_range) + w * clamp01((con - con0) / con_range) */
    double panel_score_base, panel_score_w, panel_score_dips_range, panel_score_con_range;
    int panel_score_dips0;
    double panel_score_con0;
    /* letters of a light panel (panel_letters) */
    int letter_h_min;
    double letter_aspect_max, letter_fill_min, letter_fill_max;
    double letter_size_ratio;            /* one size: heights within this ratio */
} blob_params;

static const blob_params BP = {
    .blob_h_min = 5, .blob_h_max = 60, .blob_aspect_min = 1.6, .blob_aspect_max = 8, .blob_fill_min = 0.4,
    .plate_h_min = 7, .plate_aspect_min = 1.8, .plate_aspect_max = 6.5, .blob_width_div = 3,
    .white_max_min = 120, .white_sat_max = 0.25,
    .yellow_r_min = 150, .yellow_g_min = 130, .yellow_bg_ratio = 0.75, .yellow_rg_diff = 60,
    .bright_min = 170, .ring_div = 3, .ring_min_px = 2,
    .ink_k = 0.3, .ink_row_div = 8, .band_gaps_max = 1, .dip_share = 0.2, .dip_min = 6,
    .plate_margin_x_div = 10, .plate_margin_y_div = 8, .plate_ring_contrast = 60,
    .plate_sd_min = 15, .plate_sd_strong = 20, .plate_cross_rows = 1, .plate_cross_min = 4,
    .plate_ink_min = 0.08, .plate_ink_max = 0.55, .plate_dips_min = 4, .plate_band_share = 0.6,
    .plate_score_base = 0.35, .plate_score_w = 0.15, .plate_score_dips_range = 4.0, .plate_score_ring_range = 80.0,
    .plate_score_dips0 = 3,
    .panel_ring_contrast = 90, .panel_dark_max = 60, .panel_margin_x_div = 12, .panel_margin_y_div = 10,
    .panel_h_min = 12, .panel_w_min = 24, .band_rows_min = 5,
    .light_con_min = 90, .light_bgsd_max = 30, .light_dips_min = 8, .light_same_min = 6, .light_same_div = 3,
    .dark_con_min = 120, .dark_bgsd_max = 25, .dark_dips_min = 5, .dark_rows_share = 0.7,
    .panel_ink_min = 0.1, .panel_ink_max = 0.45, .panel_col_ink_min = 2,
    .blind_grow_bands = 4, .blind_sat_luma = 40, .blind_sat = 0.35, .blind_dark_tol = 20,
    .blind_sat_rows_div = 5, .blind_dark_rows_div = 4, .blind_contrast = 30,
    .panel_score_base = 0.3, .panel_score_w = 0.1, .panel_score_dips_range = 8.0, .panel_score_con_range = 60.0,
    .panel_score_dips0 = 4, .panel_score_con0 = 90,
    .letter_h_min = 4, .letter_aspect_max = 1.5, .letter_fill_min = 0.15, .letter_fill_max = 0.9,
    .letter_size_ratio = 1.8,
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

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* A plate or panel background colour: white/grey (bright, unsaturated) or
 * yellow. */
static bool is_bg_colour(double r, double g, double b, bool *yellow) {
    double mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
    double mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
    double sat = mx > 0 ? (mx - mn) / mx : 0;
    *yellow = r > BP.yellow_r_min && g > BP.yellow_g_min && b < BP.yellow_bg_ratio * g &&
              fabs(r - g) < BP.yellow_rg_diff;
    return (mx > BP.white_max_min && sat < BP.white_sat_max) || *yellow;
}

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

/* A blob path candidate: not touching the border, not too wide, with the
 * mean colour of its own pixels. */
static bool blob_candidate(const scale_ctx *S, const comp *c, double *r, double *g, double *b) {
    int w = S->p->w, h = S->p->h;
    if (c->x0 == 0 || c->y0 == 0 || c->x1 == w - 1 || c->y1 == h - 1) return false;
    if (c->x1 - c->x0 + 1 > w / BP.blob_width_div) return false;
    return blob_mean_rgb(S, c, r, g, b);
}

/* Mean luma of the ring around a blob's box (h / ring_div wide, clipped to
 * the image); false if the ring is empty. */
static bool ring_mean(const plane *p, const comp *c, double *mean) {
    int w = p->w, h = p->h, bh = c->y1 - c->y0 + 1;
    int gr = bh / BP.ring_div < BP.ring_min_px ? BP.ring_min_px : bh / BP.ring_div;
    double rs = 0;
    int rn = 0;
    for (int y = c->y0 - gr; y <= c->y1 + gr; y++)
        for (int x = c->x0 - gr; x <= c->x1 + gr; x++) {
            if (x < 0 || y < 0 || x >= w || y >= h) continue;
            if (x >= c->x0 && x <= c->x1 && y >= c->y0 && y <= c->y1) continue;
            rs += p->y[(size_t)y * w + x];
            rn++;
        }
    if (rn == 0) return false;
    *mean = rs / rn;
    return true;
}

/* Mean and standard deviation of Y over the box x0..x1, y0..y1 (inclusive);
 * false if the box is empty. */
static bool box_luma_stats(const uint8_t *Y, int W, int x0, int y0, int x1, int y1, double *mean, double *sd) {
    double im = 0, im2 = 0;
    int cnt = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double v = Y[(size_t)y * W + x];
            im += v;
            im2 += v * v;
            cnt++;
        }
    if (cnt == 0) return false;
    im /= cnt;
    *mean = im;
    *sd = sqrt(fmax(0, im2 / cnt - im * im));
    return true;
}

/* Column profile of Y: prof[x - x0] = mean luma of rows y0..y1 in column x,
 * for x0..x1.  Returns the hysteresis its dips are counted with:
 * max(dip_share * its range, dip_min). */
static double column_profile(const uint8_t *Y, int W, int x0, int x1, int y0, int y1, double *prof) {
    double pmin = 1e9, pmax = -1e9;
    for (int x = x0; x <= x1; x++) {
        double a = 0;
        for (int y = y0; y <= y1; y++) a += Y[(size_t)y * W + x];
        a /= (y1 - y0 + 1);
        prof[x - x0] = a;
        if (a < pmin) pmin = a;
        if (a > pmax) pmax = a;
    }
    double hy = BP.dip_share * (pmax - pmin);
    return hy < BP.dip_min ? BP.dip_min : hy;
}

/* Dips of a profile counted with hysteresis hy: a dip is a fall of hy below
 * the last high, and the next one needs a rise of hy above the low first,
 * so blur or touching glyphs still count. */
static int profile_dips(const double *prof, int n, double hy) {
    int dips = 0;
    bool falling = true; /* looking for a dip below hi - hy */
    double hi = prof[0], lo = prof[0];
    for (int i = 1; i < n; i++) {
        double v = prof[i];
        if (falling) {
            if (v > hi) hi = v;
            if (v < hi - hy) {
                dips++;
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
    return dips;
}

/* Ink (dark) rows of a small plate's interior ix0..ix1, iy0..iy1 with the
 * ink threshold thr. */
typedef struct ink_rows {
    double inkf;   /* ink share of the interior */
    int maxcross;  /* most background-to-ink crossings on the middle rows */
    int first, last, rows; /* the ink rows: first, last (-1: none), how many */
} ink_rows;

static bool plate_ink_rows(const plane *p, int ix0, int iy0, int ix1, int iy1, double thr, ink_rows *R) {
    int w = p->w;
    int ink = 0, tot = 0;
    R->maxcross = 0;
    R->first = R->last = -1;
    R->rows = 0;
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
        if (rowink > (ix1 - ix0 + 1) / BP.ink_row_div) {
            if (R->first < 0) R->first = y;
            R->last = y;
            R->rows++;
        }
        int yc = (iy0 + iy1) / 2;
        if (abs(y - yc) <= BP.plate_cross_rows && cross > R->maxcross) R->maxcross = cross;
    }
    if (tot == 0) return false;
    R->inkf = (double)ink / tot;
    return true;
}

/* Emits a box of the given kind (unpadded: padding is added to the final
 * boxes); false only on OOM. */
static bool emit_box(scale_ctx *S, int x, int y, int w, int h, double score, const char *kind) {
    carve__box bx = {.x = x, .y = y, .w = w, .h = h, .score = (float)score};
    snprintf(bx.kind, sizeof bx.kind, "%s", kind);
    dlist_add(S->out, &bx);
    return !S->out->oom;
}

/* A small plate whose characters are too small to segment: a bright, white
 * or yellow, plate-shaped blob (the characters are holes in it) whose middle
 * rows cross from background to ink several times and whose ink lies in one
 * horizontal band.  Emits a "plate" box; false only on OOM. */
static bool plate_blob(scale_ctx *S, const comp *c) {
    const plane *p = S->p;
    int bw = c->x1 - c->x0 + 1, bh = c->y1 - c->y0 + 1;
    double r, g, b, ring;
    bool yellow;
    if (!blob_candidate(S, c, &r, &g, &b) || !is_bg_colour(r, g, b, &yellow)) return true;
    /* surroundings: the ring must be darker */
    double bgy = c->mean_in;
    if (!ring_mean(p, c, &ring) || bgy - ring < BP.plate_ring_contrast) return true;
    /* ink inside: crossings along the middle rows, one band of ink rows */
    int ix0 = c->x0 + bw / BP.plate_margin_x_div, ix1 = c->x1 - bw / BP.plate_margin_x_div;
    int iy0 = c->y0 + bh / BP.plate_margin_y_div, iy1 = c->y1 - bh / BP.plate_margin_y_div;
    double im, isd;
    if (!box_luma_stats(p->y, p->w, ix0, iy0, ix1, iy1, &im, &isd)) return true;
    if (isd < BP.plate_sd_min) return true; /* nothing written on it */
    ink_rows R;
    if (!plate_ink_rows(p, ix0, iy0, ix1, iy1, im - BP.ink_k * isd, &R)) return true;
    if (R.inkf < BP.plate_ink_min || R.inkf > BP.plate_ink_max || R.maxcross < BP.plate_cross_min) return true;
    if (R.first < 0 || R.rows < R.last - R.first + 1 - BP.band_gaps_max) return true;
    /* characters: dips of the column profile (mean luma over the ink band) */
    int pw = ix1 - ix0 + 1;
    double *prof = malloc(sizeof(double) * (size_t)pw);
    if (!prof) return false;
    double hy = column_profile(p->y, p->w, ix0, ix1, R.first, R.last, prof);
    int runs = profile_dips(prof, pw, hy);
    free(prof);
    /* plates are bright, stand out from their surroundings, carry >= 4
     * separate strokes, and their characters fill most of their height */
    if (runs < BP.plate_dips_min || bgy < BP.bright_min || bgy - ring < BP.plate_ring_contrast ||
        isd < BP.plate_sd_strong || (R.last - R.first + 1) < BP.plate_band_share * (iy1 - iy0 + 1))
        return true;
    double score = BP.plate_score_base +
                   BP.plate_score_w * clamp01((runs - BP.plate_score_dips0) / BP.plate_score_dips_range) +
                   BP.plate_score_w * clamp01((bgy - ring - BP.plate_ring_contrast) / BP.plate_score_ring_range);
    return emit_box(S, c->x0 * S->scale, c->y0 * S->scale, bw * S->scale, bh * S->scale, score, "plate");
}

/* What panel_bands measures in a text panel's interior. */
typedef struct panel_stats {
    int bands;     /* ink bands of at least band_rows_min rows */
    int dips;      /* column-profile dips (letters) over all bands */
    int rows;      /* rows the bands cover */
    int ry0, ry1;  /* first and last row of the bands (-1: none) */
    double inkf;   /* ink share of the box */
    double bgsd;   /* luma sd of the panel between the letters */
    double con;    /* contrast between panel and letters */
    double thr;    /* the ink threshold */
} panel_stats;

static bool is_ink(int v, bool dark_ink, double thr) { return dark_ink ? v < thr : v > thr; }

/* Ink pixels of row y, x0..x1. */
static int row_ink(const uint8_t *Y, int W, int y, int x0, int x1, bool dark_ink, double thr) {
    int k = 0;
    for (int x = x0; x <= x1; x++) k += is_ink(Y[(size_t)y * W + x], dark_ink, thr);
    return k;
}

/* One ink band y0..y1 of the box's columns x0..x1: counts it and its dips
 * (the column profile, light ink inverted).  False on OOM. */
static bool panel_band(const uint8_t *Y, int W, int x0, int x1, int y0, int y1, bool dark_ink, panel_stats *ps) {
    int n = x1 - x0 + 1;
    double *prof = malloc(sizeof(double) * (size_t)n);
    if (!prof) return false;
    double hy = column_profile(Y, W, x0, x1, y0, y1, prof);
    if (!dark_ink)
        for (int i = 0; i < n; i++) prof[i] = 255 - prof[i];
    ps->dips += profile_dips(prof, n, hy);
    free(prof);
    ps->bands++;
    ps->rows += y1 - y0 + 1;
    if (ps->ry0 < 0) ps->ry0 = y0;
    ps->ry1 = y1;
    return true;
}

/* The panel between the letters: its spread, and the letters' contrast. */
static void panel_contrast(const uint8_t *Y, int W, int x0, int y0, int x1, int y1, bool dark_ink, panel_stats *ps) {
    double bs = 0, bs2 = 0, is = 0;
    int bn = 0, in = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int v = Y[(size_t)y * W + x];
            if (is_ink(v, dark_ink, ps->thr)) {
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
        ps->bgsd = sqrt(fmax(0, bs2 / bn - bm * bm));
        ps->con = fabs(bm - is / in);
    }
}

/* Ink bands and letters of a text panel at full resolution: the rows of the
 * box (x0..x1, y0..y1) holding ink (beyond mean -/+ ink_k sd) over more than
 * 1/ink_row_div of the width form bands (gaps of band_gaps_max rows are
 * bridged); the column profile of each band is searched for dips (letters).
 * Bands of at least band_rows_min rows count.  False on OOM. */
static bool panel_bands(const uint8_t *Y, int W, int x0, int y0, int x1, int y1, bool dark_ink, panel_stats *ps) {
    *ps = (panel_stats){.bgsd = 255, .ry0 = -1, .ry1 = -1};
    double im, isd;
    if (!box_luma_stats(Y, W, x0, y0, x1, y1, &im, &isd)) return true;
    ps->thr = dark_ink ? im - BP.ink_k * isd : im + BP.ink_k * isd;
    int ink = 0, bstart = -1, gap = 0, bw = x1 - x0 + 1;
    for (int y = y0; y <= y1 + 2; y++) {
        int rowink = y <= y1 ? row_ink(Y, W, y, x0, x1, dark_ink, ps->thr) : 0;
        ink += rowink;
        if (y <= y1 && rowink > bw / BP.ink_row_div) {
            if (bstart < 0) bstart = y;
            gap = 0;
            continue;
        }
        if (bstart < 0) continue;
        if (++gap <= BP.band_gaps_max && y <= y1) continue;
        int bend = y - gap; /* last ink row */
        if (bend - bstart + 1 >= BP.band_rows_min && !panel_band(Y, W, x0, x1, bstart, bend, dark_ink, ps))
            return false;
        bstart = -1;
        gap = 0;
    }
    ps->inkf = (double)ink / ((double)bw * (y1 - y0 + 1));
    panel_contrast(Y, W, x0, y0, x1, y1, dark_ink, ps);
    return true;
}

static int cmp_int(const void *a, const void *b) {
    int p = *(const int *)a, q = *(const int *)b;
    return p < q ? -1 : p > q;
}

/* Letters of a text panel: 8-connected ink components (ink: beyond
 * thr on the ink side) of the box at full resolution that do not touch
 * the box, are letter_h_min..maxh px high, at most letter_aspect_max times
 * as wide as high and fill letter_fill_min..max of their box.  Returns how
 * many there are (-1 on OOM) and, in *same, the size of the largest group
 * whose heights are within letter_size_ratio of each other (one font,
 * capitals and small letters). */
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
        for (int x = 0; x < bw; x++) m[(size_t)y * bw + x] = is_ink(Y[(size_t)(y0 + y) * W + x0 + x], dark_ink, thr);
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
        if (ch < BP.letter_h_min || ch > maxh || cw > BP.letter_aspect_max * ch) continue;
        double fill = (double)area / ((double)cw * ch);
        if (fill < BP.letter_fill_min || fill > BP.letter_fill_max) continue;
        hs[nl++] = ch;
    }
    if (nl > 0) { /* the largest group of letters of one size (sorted: a window) */
        qsort(hs, (size_t)nl, sizeof(int), cmp_int);
        for (int i = 0, j = 0; i < nl; i++) {
            while (BP.letter_size_ratio * hs[j] < hs[i]) j++;
            if (i - j + 1 > *same) *same = i - j + 1;
        }
    }
    free(m);
    free(st);
    free(hs);
    return nl;
}

/* A text panel's frame: a bright white/yellow panel (light_panel) or a
 * black one, framed by a ring of contrasting luma. */
static bool panel_frame(const scale_ctx *S, const comp *c, bool light_panel) {
    double r, g, b, ring;
    if (!blob_candidate(S, c, &r, &g, &b)) return false;
    bool yellow;
    bool colour_ok = light_panel ? is_bg_colour(r, g, b, &yellow) : true;
    if (!ring_mean(S->p, c, &ring)) return false;
    double ringc = light_panel ? c->mean_in - ring : ring - c->mean_in;
    return !(ringc < BP.panel_ring_contrast ||
             (light_panel ? c->mean_in < BP.bright_min || !colour_ok : c->mean_in > BP.panel_dark_max));
}

typedef struct ibox {
    int x0, y0, x1, y1; /* inclusive */
} ibox;

/* The panel's interior at full resolution (the blob's box less margins);
 * false when it is too small to hold letters. */
static bool panel_interior(const scale_ctx *S, const comp *c, ibox *f) {
    int sc = S->scale;
    int fx0 = c->x0 * sc, fy0 = c->y0 * sc, fx1 = (c->x1 + 1) * sc - 1, fy1 = (c->y1 + 1) * sc - 1;
    int ix = (fx1 - fx0 + 1) / BP.panel_margin_x_div, iy = (fy1 - fy0 + 1) / BP.panel_margin_y_div;
    fx0 += ix;
    fx1 -= ix;
    fy0 += iy;
    fy1 -= iy;
    if (fx1 >= S->fw) fx1 = S->fw - 1;
    if (fy1 >= S->fh) fy1 = S->fh - 1;
    *f = (ibox){fx0, fy0, fx1, fy1};
    return !(fy1 - fy0 + 1 < BP.panel_h_min || fx1 - fx0 < BP.panel_w_min);
}

/* Whether the interior f holds text: dark letters of similar heights on a
 * white/yellow panel, or one band of light letters on a black panel
 * (destination blinds, displays).  1 yes, 0 no, -1 OOM. */
static int panel_has_text(const scale_ctx *S, const ibox *f, bool light_panel, panel_stats *ps) {
    int fh = f->y1 - f->y0 + 1;
    if (!panel_bands(S->fy, S->fw, f->x0, f->y0, f->x1, f->y1, light_panel, ps)) return -1;
    if (ps->bands < 1) return 0;
    bool ink_ok = ps->inkf >= BP.panel_ink_min && ps->inkf <= BP.panel_ink_max;
    if (!light_panel)
        return ps->con >= BP.dark_con_min && ps->bgsd <= BP.dark_bgsd_max && ps->dips >= BP.dark_dips_min &&
               ps->bands == 1 && ps->rows >= BP.dark_rows_share * fh && ink_ok;
    int same = 0, nlet = panel_letters(S->fy, S->fw, f->x0, f->y0, f->x1, f->y1, true, ps->thr, fh, &same);
    if (nlet < 0) return -1;
    return ps->con >= BP.light_con_min && ps->bgsd <= BP.light_bgsd_max && ps->dips >= BP.light_dips_min &&
           same >= BP.light_same_min && BP.light_same_div * same >= nlet && ink_ok;
}

/* The columns of x0..x1 that hold ink within the bands' rows: first and
 * last in *cx0, *cx1; false if none. */
static bool ink_columns(const scale_ctx *S, const ibox *f, const panel_stats *ps, bool dark_ink, int *cx0, int *cx1) {
    *cx0 = *cx1 = -1;
    for (int x = f->x0; x <= f->x1; x++) {
        int k = 0;
        for (int y = ps->ry0; y <= ps->ry1; y++) k += is_ink(S->fy[(size_t)y * S->fw + x], dark_ink, ps->thr);
        if (k >= BP.panel_col_ink_min) {
            if (*cx0 < 0) *cx0 = x;
            *cx1 = x;
        }
    }
    return *cx0 >= 0;
}

/* Whether column x of rows ry0..ry1 is still a blind's panel, letters or
 * reflection: little saturation, and some black or some contrast. */
static bool blind_column(const scale_ctx *S, int x, int ry0, int ry1, float panel_mean) {
    int bh = ry1 - ry0 + 1, darkn = 0, satn = 0, ymin = 255, ymax = 0;
    for (int y = ry0; y <= ry1; y++) {
        int v = S->fy[(size_t)y * S->fw + x];
        if (v < ymin) ymin = v;
        if (v > ymax) ymax = v;
        const uint8_t *q = S->frgba + 4 * ((size_t)y * S->fw + x);
        int mx = q[0] > q[1] ? (q[0] > q[2] ? q[0] : q[2]) : (q[1] > q[2] ? q[1] : q[2]);
        int mn = q[0] < q[1] ? (q[0] < q[2] ? q[0] : q[2]) : (q[1] < q[2] ? q[1] : q[2]);
        satn += mx > BP.blind_sat_luma && mx - mn > BP.blind_sat * mx;
        darkn += v <= panel_mean + (float)BP.blind_dark_tol; /* float, as the panel's mean */
    }
    return !(satn > bh / BP.blind_sat_rows_div || (darkn < bh / BP.blind_dark_rows_div && ymax - ymin < BP.blind_contrast));
}

/* A blind's panel is often cut by reflections: its box grows left and right
 * over columns that are still panel (blind_column), up to blind_grow_bands
 * band heights each way. */
static void blind_grow(const scale_ctx *S, const comp *c, int ry0, int ry1, int *cx0, int *cx1) {
    int maxg = BP.blind_grow_bands * (ry1 - ry0 + 1);
    for (int dir = -1; dir <= 1; dir += 2)
        for (int gstep = 0; gstep < maxg; gstep++) {
            int x = dir < 0 ? *cx0 - 1 : *cx1 + 1;
            if (x < 0 || x >= S->fw || !blind_column(S, x, ry0, ry1, c->mean_in)) break;
            if (dir < 0) *cx0 = x;
            else *cx1 = x;
        }
}

/* A text panel: a plate-shaped blob at this scale (white/yellow and bright
 * for dark text) whose full-resolution interior holds one to three lines of
 * many letters.  Emits a "text" box; false only on OOM. */
static bool text_panel(scale_ctx *S, const comp *c, bool light_panel) {
    ibox f;
    if (!panel_frame(S, c, light_panel) || !panel_interior(S, c, &f)) return true;
    panel_stats ps;
    int text = panel_has_text(S, &f, light_panel, &ps);
    if (text <= 0) return text == 0;
    /* the box: the ink bands, and the columns that hold ink within them */
    int cx0, cx1;
    if (!ink_columns(S, &f, &ps, light_panel, &cx0, &cx1)) return true;
    if (!light_panel) blind_grow(S, c, ps.ry0, ps.ry1, &cx0, &cx1);
    double score = BP.panel_score_base +
                   BP.panel_score_w * clamp01((ps.dips - BP.panel_score_dips0) / BP.panel_score_dips_range) +
                   BP.panel_score_w * clamp01((ps.con - BP.panel_score_con0) / BP.panel_score_con_range);
    return emit_box(S, cx0, ps.ry0, cx1 - cx0 + 1, ps.ry1 - ps.ry0 + 1, score, "text");
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
            if (bh >= BP.blob_h_min && bh <= BP.blob_h_max && bw >= BP.blob_aspect_min * bh &&
                bw <= BP.blob_aspect_max * bh && (double)c.area >= BP.blob_fill_min * bw * bh) {
                c.mean_in = (float)(sum / c.area);
                if (!dark && bh >= BP.plate_h_min && bw >= BP.plate_aspect_min * bh && bw <= BP.plate_aspect_max * bh &&
                    !plate_blob(S, &c))
                    return false;
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
