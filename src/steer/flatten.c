/* flatten.c — edge-preserving flattening toward an illustration.
 *
 * Rolling-guidance filtering (Zhang et al. 2014) with the domain-transform
 * recursive filter (Gastal & Oliveira 2011) as the joint edge-aware filter:
 *
 *   J0 = Gaussian(I, sigma_g)             small texture and noise gone
 *                                         (binomial passes)
 *   J(k+1) = DT_RF(I, guide = J(k))       edges of the guide come back sharp
 *
 * The recursive filter costs O(1) per pixel and per pass whatever sigma_s,
 * so a large spatial support (flat, poster-like regions) stays cheap.  Alpha
 * edges always count as edges (colour never bleeds across the matte) and
 * the alpha channel is copied unchanged.
 *
 * Blocks of 4 rows (horizontal passes) and of 128 columns (vertical passes) are the
 * parallel work items; each writes only its own pixels, so the output does
 * not depend on the thread count. */
#include "steer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct dt_job {
    float *img;       /* 3 interleaved channels, filtered in place */
    const float *gd;  /* guide, 3 interleaved channels */
    const uint8_t *alpha;
    float *wh, *wv;   /* feedback weights: wh[i] links i and i+1, wv[i] links i and i+w */
    int w, h;
    const float *lut; /* weight as a function of the guide's difference */
} dt_job;

/* weights of one row: a^(1 + k * |J'|) = exp(ln_a + ln_a k d), read from a
 * table over d (LUT_RES steps per unit, linear interpolation) */
#define LUT_RES 256
#define LUT_MAX 7 /* d <= 3 (colour) + 3 (alpha) */

static inline float lut_at(const float *lut, float d) {
    float fd = d * LUT_RES;
    int k = (int)fd;
    if (k >= LUT_MAX * LUT_RES) return lut[LUT_MAX * LUT_RES];
    float t = fd - (float)k;
    return lut[k] + t * (lut[k + 1] - lut[k]);
}

static int dt_weights(void *arg, int64_t yy) {
    const dt_job *j = arg;
    int w = j->w, h = j->h, y = (int)yy;
    size_t row = (size_t)y * (size_t)w;
    const float alpha_k = 3.0f / 255.0f;
    for (int x = 0; x < w; x++) {
        size_t i = row + (size_t)x;
        const float *g = j->gd + 3 * i;
        if (x + 1 < w) {
            const float *q = g + 3;
            float d = fabsf(q[0] - g[0]) + fabsf(q[1] - g[1]) + fabsf(q[2] - g[2]) +
                      alpha_k * (float)abs((int)j->alpha[i + 1] - (int)j->alpha[i]);
            j->wh[i] = lut_at(j->lut, d);
        } else {
            j->wh[i] = 0;
        }
        if (y + 1 < h) {
            const float *q = g + 3 * (size_t)w;
            float d = fabsf(q[0] - g[0]) + fabsf(q[1] - g[1]) + fabsf(q[2] - g[2]) +
                      alpha_k * (float)abs((int)j->alpha[i + (size_t)w] - (int)j->alpha[i]);
            j->wv[i] = lut_at(j->lut, d);
        } else {
            j->wv[i] = 0;
        }
    }
    return 0;
}

/* horizontal passes of 4 rows at once (independent recursions interleave) */
static int dt_rows(void *arg, int64_t blk) {
    const dt_job *j = arg;
    int w = j->w, y0 = (int)blk * 4, y1 = y0 + 4 < j->h ? y0 + 4 : j->h;
    for (int y = y0; y < y1;) {
        if (y1 - y >= 4) {
            float *p[4];
            const float *wt[4];
            for (int r = 0; r < 4; r++) {
                p[r] = j->img + 3 * (size_t)(y + r) * (size_t)w;
                wt[r] = j->wh + (size_t)(y + r) * (size_t)w;
            }
            for (int x = 1; x < w; x++)
                for (int r = 0; r < 4; r++) {
                    float a = wt[r][x - 1];
                    float *c = p[r] + 3 * x;
                    c[0] += a * (c[-3] - c[0]);
                    c[1] += a * (c[-2] - c[1]);
                    c[2] += a * (c[-1] - c[2]);
                }
            for (int x = w - 2; x >= 0; x--)
                for (int r = 0; r < 4; r++) {
                    float a = wt[r][x];
                    float *c = p[r] + 3 * x;
                    c[0] += a * (c[3] - c[0]);
                    c[1] += a * (c[4] - c[1]);
                    c[2] += a * (c[5] - c[2]);
                }
            y += 4;
        } else {
            float *c0 = j->img + 3 * (size_t)y * (size_t)w;
            const float *wt = j->wh + (size_t)y * (size_t)w;
            for (int x = 1; x < w; x++) {
                float a = wt[x - 1];
                float *c = c0 + 3 * x;
                c[0] += a * (c[-3] - c[0]);
                c[1] += a * (c[-2] - c[1]);
                c[2] += a * (c[-1] - c[2]);
            }
            for (int x = w - 2; x >= 0; x--) {
                float a = wt[x];
                float *c = c0 + 3 * x;
                c[0] += a * (c[3] - c[0]);
                c[1] += a * (c[4] - c[1]);
                c[2] += a * (c[5] - c[2]);
            }
            y++;
        }
    }
    return 0;
}

static int dt_cols(void *arg, int64_t blk) {
    const dt_job *j = arg;
    int w = j->w, h = j->h;
    int x0 = (int)blk * 128, x1 = x0 + 128 < w ? x0 + 128 : w;
    size_t W = (size_t)w;
    for (int y = 1; y < h; y++) {
        float *cur = j->img + 3 * ((size_t)y * W);
        const float *prev = cur - 3 * W;
        const float *wt = j->wv + (size_t)(y - 1) * W;
        for (int x = x0; x < x1; x++) {
            float a = wt[x];
            for (int c = 0; c < 3; c++) cur[3 * x + c] += a * (prev[3 * x + c] - cur[3 * x + c]);
        }
    }
    for (int y = h - 2; y >= 0; y--) {
        float *cur = j->img + 3 * ((size_t)y * W);
        const float *next = cur + 3 * W;
        const float *wt = j->wv + (size_t)y * W;
        for (int x = x0; x < x1; x++) {
            float a = wt[x];
            for (int c = 0; c < 3; c++) cur[3 * x + c] += a * (next[3 * x + c] - cur[3 * x + c]);
        }
    }
    return 0;
}

/* Gaussian blur of a 3-channel interleaved plane by repeated [1 2 1]/4
 * passes (each adds a variance of 1/2 px^2); src is blurred in place, tmp
 * is scratch of the same size. */
typedef struct binom_job {
    const float *src;
    float *dst;
    int w, h;
} binom_job;

static int binom_h(void *arg, int64_t yy) {
    const binom_job *j = arg;
    int w = j->w;
    const float *s = j->src + 3 * (size_t)yy * (size_t)w;
    float *d = j->dst + 3 * (size_t)yy * (size_t)w;
    for (int x = 0; x < w; x++) {
        int l = x > 0 ? x - 1 : 0, r = x + 1 < w ? x + 1 : w - 1;
        for (int c = 0; c < 3; c++) d[3 * x + c] = 0.25f * (s[3 * l + c] + 2 * s[3 * x + c] + s[3 * r + c]);
    }
    return 0;
}

static int binom_v(void *arg, int64_t yy) {
    const binom_job *j = arg;
    int w = j->w, y = (int)yy;
    size_t W3 = 3 * (size_t)w;
    const float *u = j->src + W3 * (size_t)(y > 0 ? y - 1 : 0), *m = j->src + W3 * (size_t)y;
    const float *b = j->src + W3 * (size_t)(y + 1 < j->h ? y + 1 : j->h - 1);
    float *d = j->dst + W3 * (size_t)y;
    for (size_t k = 0; k < W3; k++) d[k] = 0.25f * (u[k] + 2 * m[k] + b[k]);
    return 0;
}

/* box mean of radius r along rows (interleaved 3 channels) */
typedef struct box3_job {
    const float *src;
    float *dst;
    int w, h, r;
} box3_job;

static int box3_h(void *arg, int64_t yy) {
    const box3_job *j = arg;
    int w = j->w, r = j->r;
    const float *s = j->src + 3 * (size_t)yy * (size_t)w;
    float *d = j->dst + 3 * (size_t)yy * (size_t)w;
    double acc[3] = {0, 0, 0};
    int lo = 0, hi = -1;
    for (int x = 0; x < w; x++) {
        int want_hi = x + r < w - 1 ? x + r : w - 1, want_lo = x - r > 0 ? x - r : 0;
        while (hi < want_hi) {
            hi++;
            for (int c = 0; c < 3; c++) acc[c] += s[3 * hi + c];
        }
        while (lo < want_lo) {
            for (int c = 0; c < 3; c++) acc[c] -= s[3 * lo + c];
            lo++;
        }
        double inv = 1.0 / (hi - lo + 1);
        for (int c = 0; c < 3; c++) d[3 * x + c] = (float)(acc[c] * inv);
    }
    return 0;
}

static void blur3(float *img, float *tmp, int w, int h, double sigma, int threads) {
    int passes = (int)lround(2 * sigma * sigma);
    if (passes > 6) {
        /* large sigma: three box passes (sigma^2 = 3 ((2r+1)^2 - 1) / 12), O(1) per pixel */
        int r = (int)lround((sqrt(4.0 * sigma * sigma + 1.0) - 1.0) / 2.0);
        if (r < 1) r = 1;
        for (int p = 0; p < 3; p++) {
            box3_job a = {img, tmp, w, h, r};
            carve__parallel_for(threads, h, box3_h, &a);
            carve__steer_boxmean_cols(tmp, img, 3 * w, h, r, threads);
        }
        return;
    }
    for (int p = 0; p < passes; p++) {
        binom_job a = {img, tmp, w, h}, b = {tmp, img, w, h};
        carve__parallel_for(threads, h, binom_h, &a);
        carve__parallel_for(threads, h, binom_v, &b);
    }
}

carve_status carve__flatten(carve_ctx *ctx, const carve_image *img, double strength, carve_image **out) {
    if (!out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "flatten: out is NULL");
    *out = NULL;
    if (!img || (!img->px && img->w * img->h > 0)) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "flatten: no image");
    if (!(strength >= 0 && strength <= 5))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "flatten: strength %g outside 0..5", strength);
    carve_image *res = carve_image_copy(img);
    if (!res) return carve__fail(ctx, CARVE_ERR_NOMEM, "flatten: out of memory");
    int w = img->w, h = img->h;
    if (strength == 0 || w < 2 || h < 2) {
        *out = res;
        return CARVE_OK;
    }
    carve_status st = carve__progress(ctx, 0, "flatten");
    if (st) {
        carve_image_destroy(res);
        return st;
    }
    int threads = carve__threads(ctx);
    size_t n = (size_t)w * (size_t)h;
    float *J = malloc(3 * n * sizeof(float));
    float *wh = malloc(n * sizeof(float)), *wv = malloc(n * sizeof(float));
    uint8_t *alpha = malloc(n);
    if (!J || !wh || !wv || !alpha) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "flatten: out of memory for %dx%d", w, h);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + 4 * i;
        for (int c = 0; c < 3; c++) J[3 * i + (size_t)c] = p[c] * (1.0f / 255.0f);
        alpha[i] = p[3];
    }
    /* parameters: the spatial scale follows the image size (tuned at a
     * 1600 px long side, the default work size) */
    double scale = (w > h ? w : h) / 1600.0;
    if (scale < 0.25) scale = 0.25;
    double sigma_s = 6.0 * strength * scale; /* px */
    if (sigma_s < 2) sigma_s = 2;
    double sigma_r = 0.15 * strength; /* in sum-of-|dRGB| units, 0..3 */
    double sigma_g = 1.25 * strength * (scale < 1 ? 1 : scale); /* px, the first guide's blur */
    int rounds = strength <= 1 ? 2 : strength <= 3 ? 3 : 4;
    const int iters = 3;
    float lut[LUT_MAX * LUT_RES + 1];

    float *F = malloc(3 * n * sizeof(float));
    if (!F) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "flatten: out of memory for %dx%d", w, h);
        goto done;
    }
    /* J0: blurred input (F serves as scratch) */
    blur3(J, F, w, h, sigma_g, threads);
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) /* the input, filtered in place */
            for (int c = 0; c < 3; c++) F[3 * i + (size_t)c] = img->px[4 * i + (size_t)c] * (1.0f / 255.0f);
        for (int it = 0; it < iters; it++) {
            double sh = sigma_s * sqrt(3.0) * pow(2.0, iters - it - 1) / sqrt(pow(4.0, iters) - 1);
            double ln_a = -sqrt(2.0) / sh, k = sigma_s / sigma_r;
            for (int q = 0; q <= LUT_MAX * LUT_RES; q++) lut[q] = (float)exp(ln_a * (1.0 + k * q / LUT_RES));
            dt_job j = {F, J, alpha, wh, wv, w, h, lut};
            carve__parallel_for(threads, h, dt_weights, &j);
            carve__parallel_for(threads, (h + 3) / 4, dt_rows, &j);
            carve__parallel_for(threads, (w + 127) / 128, dt_cols, &j);
            if ((st = carve__progress(ctx, (r * iters + it + 1.0) / (rounds * iters), "flatten"))) {
                free(F);
                goto done;
            }
        }
        /* the result guides the next round */
        float *t = J;
        J = F;
        F = t;
    }
    free(F);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = res->px + 4 * i;
        for (int c = 0; c < 3; c++) {
            float v = J[3 * i + (size_t)c] * 255.0f + 0.5f;
            p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : (int)v);
        }
    }
done:
    free(J);
    free(wh);
    free(wv);
    free(alpha);
    if (st) carve_image_destroy(res);
    else *out = res;
    return st;
}
