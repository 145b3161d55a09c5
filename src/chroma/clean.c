/* clean.c — what happens around the exact mapping: optional error
 * diffusion, a majority (mode) filter and edge-preserving pre-smoothing.
 * (Speckle removal, option min_region, is carve__merge_small_regions in
 * src/core/regions.c, shared with phase 4.)  All deterministic: sequential where
 * order matters, otherwise parallel with each item writing its own rows. */
#include "chroma.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Floyd-Steinberg ------------------------------------------------------------
 * Serpentine scan, error kept in 8-bit sRGB units; each adjusted colour is
 * mapped exactly (memoised in a lazily filled 2^24 table).  Transparent
 * pixels neither receive nor pass on error. */
carve_status carve__dither_fs(carve_ctx *ctx, const carve_image *in, const carve__lab_pal *lp, const uint32_t *rgb,
                              uint16_t *idx) {
    int w = in->w, h = in->h;
    uint16_t *memo = calloc((size_t)1 << 24, sizeof *memo); /* 0 = unknown, else index + 1 */
    float *e0 = calloc((size_t)(w + 2) * 3, sizeof(float)), *e1 = calloc((size_t)(w + 2) * 3, sizeof(float));
    carve_status st = CARVE_OK;
    if (!memo || !e0 || !e1) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (dither tables)");
        goto done;
    }
    int hint = -1;
    for (int y = 0; y < h; y++) {
        if ((y & 31) == 0 && (st = carve__progress(ctx, (double)y / h, "dither"))) goto done;
        memset(e1, 0, sizeof(float) * (size_t)(w + 2) * 3);
        int dir = (y & 1) ? -1 : 1;
        for (int k = 0; k < w; k++) {
            int x = dir > 0 ? k : w - 1 - k;
            const uint8_t *p = in->px + 4 * ((size_t)y * w + x);
            size_t o = (size_t)y * w + x;
            float *ec = e0 + 3 * (x + 1);
            if (p[3] < 128) {
                idx[o] = CARVE__LABEL_VOID;
                continue;
            }
            float v[3];
            int q[3];
            for (int c = 0; c < 3; c++) {
                v[c] = p[c] + ec[c];
                q[c] = (int)lrintf(v[c] < 0 ? 0 : v[c] > 255 ? 255 : v[c]);
            }
            uint32_t key = (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | (uint32_t)q[2];
            int i;
            if (memo[key]) {
                i = memo[key] - 1;
            } else {
                double lab[3];
                carve__rgb8_to_lab((uint8_t)q[0], (uint8_t)q[1], (uint8_t)q[2], lab);
                i = carve__lab_pal_nearest(lp, lab, hint);
                memo[key] = (uint16_t)(i + 1);
            }
            hint = i;
            idx[o] = (uint16_t)i;
            float err[3] = {v[0] - (float)(rgb[i] >> 16 & 255), v[1] - (float)(rgb[i] >> 8 & 255),
                            v[2] - (float)(rgb[i] & 255)};
            for (int c = 0; c < 3; c++) {
                /* clamp the diffused error so saturated areas cannot build it up */
                float e = err[c] < -255 ? -255 : err[c] > 255 ? 255 : err[c];
                e0[3 * (x + 1 + dir) + c] += e * (7.0f / 16);
                e1[3 * (x + 1 - dir) + c] += e * (3.0f / 16);
                e1[3 * (x + 1) + c] += e * (5.0f / 16);
                e1[3 * (x + 1 + dir) + c] += e * (1.0f / 16);
            }
        }
        float *t = e0;
        e0 = e1;
        e1 = t;
    }
    st = carve__progress(ctx, 1, "dither");
done:
    free(memo);
    free(e0);
    free(e1);
    return st;
}

/* ---- majority filter ------------------------------------------------------------- */
typedef struct maj_job {
    const uint16_t *src;
    uint16_t *dst;
    int w, h, n, r;
    int64_t band0;
    carve_ctx *ctx;
} maj_job;

#define MAJ_BAND 16

static int maj_band(void *arg, int64_t band) {
    maj_job *j = arg;
    if (carve__cancelled(j->ctx)) return 1;
    int w = j->w, h = j->h, r = j->r, n = j->n;
    int win = (2 * r + 1) * (2 * r + 1);
    int *hist = calloc((size_t)n, sizeof(int));
    if (!hist) return 2;
    int y0 = (int)(j->band0 + band) * MAJ_BAND, y1 = y0 + MAJ_BAND;
    if (y1 > h) y1 = h;
    for (int y = y0; y < y1; y++) {
        int ya = y - r < 0 ? 0 : y - r, yb = y + r >= h ? h - 1 : y + r;
        memset(hist, 0, sizeof(int) * (size_t)n);
        /* window columns [x-r, x+r]: start with columns 0..r-1 */
        for (int x = 0; x < r && x < w; x++)
            for (int yy = ya; yy <= yb; yy++) {
                uint16_t v = j->src[(size_t)yy * w + x];
                if (v != CARVE__LABEL_VOID) hist[v]++;
            }
        for (int x = 0; x < w; x++) {
            int xa = x + r, xr = x - r - 1;
            if (xa < w)
                for (int yy = ya; yy <= yb; yy++) {
                    uint16_t v = j->src[(size_t)yy * w + xa];
                    if (v != CARVE__LABEL_VOID) hist[v]++;
                }
            if (xr >= 0)
                for (int yy = ya; yy <= yb; yy++) {
                    uint16_t v = j->src[(size_t)yy * w + xr];
                    if (v != CARVE__LABEL_VOID) hist[v]--;
                }
            size_t o = (size_t)y * w + x;
            uint16_t c = j->src[o];
            if (c == CARVE__LABEL_VOID) {
                j->dst[o] = c;
                continue;
            }
            /* the centre keeps its colour unless another is strictly more
             * frequent; among those, the lower index */
            int best = c, m = hist[c];
            if (win < n) {
                for (int yy = ya; yy <= yb; yy++)
                    for (int xx = x - r < 0 ? 0 : x - r; xx <= x + r && xx < w; xx++) {
                        int v = j->src[(size_t)yy * w + xx];
                        if (v == CARVE__LABEL_VOID) continue;
                        if (hist[v] > m || (hist[v] == m && best != c && v < best)) {
                            m = hist[v];
                            best = v;
                        }
                    }
            } else {
                for (int v = 0; v < n; v++)
                    if (hist[v] > m || (hist[v] == m && best != c && v < best)) {
                        m = hist[v];
                        best = v;
                    }
            }
            j->dst[o] = (uint16_t)best;
        }
    }
    free(hist);
    return 0;
}

carve_status carve__majority(carve_ctx *ctx, uint16_t *idx, int w, int h, int n, int radius) {
    if (radius <= 0 || w <= 0 || h <= 0) return CARVE_OK;
    size_t npx = (size_t)w * h;
    uint16_t *src = malloc(npx * sizeof *src);
    if (!src) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (majority filter)");
    memcpy(src, idx, npx * sizeof *src);
    maj_job j = {src, idx, w, h, n, radius, 0, ctx};
    carve_status st = carve__progress(ctx, 0, "majority");
    int64_t nb = (h + MAJ_BAND - 1) / MAJ_BAND;
    int threads = carve__threads(ctx);
    /* slices of bands so progress and cancellation stay responsive */
    for (int64_t b0 = 0; !st && b0 < nb; b0 += 32) {
        int64_t cnt = nb - b0 < 32 ? nb - b0 : 32;
        j.band0 = b0;
        int rc = carve__parallel_for(threads, cnt, maj_band, &j);
        if (rc == 2) st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (majority filter)");
        else st = carve__progress(ctx, (double)(b0 + cnt) / (double)nb, "majority");
    }
    free(src);
    return st;
}

/* ---- edge-preserving smoothing ---------------------------------------------------------
 * The recursive filter of the domain transform (Gastal & Oliveira, SIGGRAPH
 * 2011): three iterations of a horizontal then a vertical pass.  The domain
 * transform's derivative is 1 + sigma_s/sigma_r * sum|dI| (I in [0,1]),
 * measured once on the input, with alpha steps weighted 4x so opaque colours
 * never bleed into transparency.  Because the derivative is an integer sum
 * of 8-bit differences, the per-iteration weights a^d come from a table. */
#define DT_ITERS 3
#define DT_GMAX (3 * 255 + 4 * 255)

typedef struct dt_job {
    float *img;        /* w*h*3, sRGB 0..255 */
    uint16_t *gx, *gy; /* gradients: gx[y*w+x] between x-1 and x; gy between y-1 and y */
    const float *wt;   /* DT_GMAX+1 weights for the current iteration */
    int w, h;
    carve_ctx *ctx;
} dt_job;

static int dt_rows(void *arg, int64_t y) {
    dt_job *j = arg;
    int w = j->w;
    float *row = j->img + (size_t)y * w * 3;
    const uint16_t *g = j->gx + (size_t)y * w;
    for (int x = 1; x < w; x++) {
        float a = j->wt[g[x]];
        for (int c = 0; c < 3; c++) row[3 * x + c] += a * (row[3 * (x - 1) + c] - row[3 * x + c]);
    }
    for (int x = w - 2; x >= 0; x--) {
        float a = j->wt[g[x + 1]];
        for (int c = 0; c < 3; c++) row[3 * x + c] += a * (row[3 * (x + 1) + c] - row[3 * x + c]);
    }
    return 0;
}

#define DT_COLS 32
static int dt_cols(void *arg, int64_t blk) {
    dt_job *j = arg;
    if (carve__cancelled(j->ctx)) return 1;
    int w = j->w, h = j->h;
    int x0 = (int)blk * DT_COLS, x1 = x0 + DT_COLS < w ? x0 + DT_COLS : w;
    size_t stride = (size_t)w * 3;
    for (int y = 1; y < h; y++) {
        float *cur = j->img + (size_t)y * stride, *prev = cur - stride;
        const uint16_t *g = j->gy + (size_t)y * w;
        for (int x = x0; x < x1; x++) {
            float a = j->wt[g[x]];
            for (int c = 0; c < 3; c++) cur[3 * x + c] += a * (prev[3 * x + c] - cur[3 * x + c]);
        }
    }
    for (int y = h - 2; y >= 0; y--) {
        float *cur = j->img + (size_t)y * stride, *next = cur + stride;
        const uint16_t *g = j->gy + (size_t)(y + 1) * w;
        for (int x = x0; x < x1; x++) {
            float a = j->wt[g[x]];
            for (int c = 0; c < 3; c++) cur[3 * x + c] += a * (next[3 * x + c] - cur[3 * x + c]);
        }
    }
    return 0;
}

static uint16_t grad(const uint8_t *p, const uint8_t *q) {
    return (uint16_t)(abs(p[0] - q[0]) + abs(p[1] - q[1]) + abs(p[2] - q[2]) + 4 * abs(p[3] - q[3]));
}

carve_status carve__smooth(carve_ctx *ctx, carve_image *img, double strength) {
    if (!(strength > 0) || img->w <= 0 || img->h <= 0) return CARVE_OK;
    int w = img->w, h = img->h;
    size_t npx = (size_t)w * h;
    double sigma_s = 4.0 * strength, sigma_r = 0.1 + 0.05 * strength;
    float *f = malloc(npx * 3 * sizeof *f);
    uint16_t *gx = malloc(npx * sizeof *gx), *gy = malloc(npx * sizeof *gy);
    float *wt = malloc((DT_GMAX + 1) * sizeof *wt);
    carve_status st = CARVE_OK;
    if (!f || !gx || !gy || !wt) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (smoothing %dx%d)", w, h);
        goto done;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            const uint8_t *p = img->px + 4 * i;
            f[3 * i] = p[0];
            f[3 * i + 1] = p[1];
            f[3 * i + 2] = p[2];
            gx[i] = x ? grad(p, p - 4) : 0;
            gy[i] = y ? grad(p, p - 4 * (size_t)w) : 0;
        }
    dt_job j = {f, gx, gy, wt, w, h, ctx};
    int threads = carve__threads(ctx);
    for (int it = 0; it < DT_ITERS; it++) {
        double sh = sigma_s * sqrt(3.0) * pow(2.0, DT_ITERS - (it + 1)) / sqrt(pow(4.0, DT_ITERS) - 1);
        double a = exp(-sqrt(2.0) / sh);
        for (int g = 0; g <= DT_GMAX; g++) wt[g] = (float)pow(a, 1.0 + sigma_s / sigma_r * (g / 255.0));
        carve__parallel_for(threads, h, dt_rows, &j);
        if ((st = carve__progress(ctx, (it + 0.5) / DT_ITERS, "smooth"))) goto done;
        if (carve__parallel_for(threads, (w + DT_COLS - 1) / DT_COLS, dt_cols, &j)) {
            st = carve__progress(ctx, (it + 0.5) / DT_ITERS, "smooth");
            if (!st) st = carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled");
            goto done;
        }
        if ((st = carve__progress(ctx, (it + 1.0) / DT_ITERS, "smooth"))) goto done;
    }
    for (size_t i = 0; i < npx; i++)
        for (int c = 0; c < 3; c++) {
            float v = f[3 * i + c] + 0.5f;
            img->px[4 * i + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
done:
    free(f);
    free(gx);
    free(gy);
    free(wt);
    return st;
}
