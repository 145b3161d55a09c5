/* flatten.c — edge-preserving flattening toward an illustration.
 *
 * Rolling-guidance filtering (Zhang et al. 2014) with the domain-transform
 * recursive filter (Gastal & Oliveira 2011) as the joint edge-aware filter:
 *
 *   J0 = Gaussian(I, sigma_g)             small texture and noise gone
 *   J(k+1) = DT_RF(I, guide = J(k))       edges of the guide come back sharp
 *
 * The recursive filter costs O(1) per pixel and per pass whatever sigma_s,
 * so a large spatial support (flat, poster-like regions) stays cheap.  Alpha
 * edges always count as edges (colour never bleeds across the matte) and
 * the alpha channel is copied unchanged.
 *
 * Rows (horizontal passes) and 64-column blocks (vertical passes) are the
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
    double ln_a, k;   /* ln(a) of this iteration, sigma_s / sigma_r */
} dt_job;

/* weights of one row: a^(1 + k * |J'|) */
static int dt_weights(void *arg, int64_t yy) {
    const dt_job *j = arg;
    int w = j->w, h = j->h, y = (int)yy;
    size_t row = (size_t)y * (size_t)w;
    for (int x = 0; x < w; x++) {
        size_t i = row + (size_t)x;
        const float *g = j->gd + 3 * i;
        if (x + 1 < w) {
            const float *q = g + 3;
            double d = fabsf(q[0] - g[0]) + fabsf(q[1] - g[1]) + fabsf(q[2] - g[2]) +
                       3.0 * abs((int)j->alpha[i + 1] - (int)j->alpha[i]) / 255.0;
            j->wh[i] = (float)exp(j->ln_a * (1.0 + j->k * d));
        } else {
            j->wh[i] = 0;
        }
        if (y + 1 < h) {
            const float *q = g + 3 * (size_t)w;
            double d = fabsf(q[0] - g[0]) + fabsf(q[1] - g[1]) + fabsf(q[2] - g[2]) +
                       3.0 * abs((int)j->alpha[i + (size_t)w] - (int)j->alpha[i]) / 255.0;
            j->wv[i] = (float)exp(j->ln_a * (1.0 + j->k * d));
        } else {
            j->wv[i] = 0;
        }
    }
    return 0;
}

static int dt_rows(void *arg, int64_t yy) {
    const dt_job *j = arg;
    int w = j->w;
    size_t row = (size_t)yy * (size_t)w;
    float *p = j->img + 3 * row;
    const float *wt = j->wh + row;
    for (int x = 1; x < w; x++) {
        float a = wt[x - 1];
        for (int c = 0; c < 3; c++) p[3 * x + c] += a * (p[3 * (x - 1) + c] - p[3 * x + c]);
    }
    for (int x = w - 2; x >= 0; x--) {
        float a = wt[x];
        for (int c = 0; c < 3; c++) p[3 * x + c] += a * (p[3 * (x + 1) + c] - p[3 * x + c]);
    }
    return 0;
}

static int dt_cols(void *arg, int64_t blk) {
    const dt_job *j = arg;
    int w = j->w, h = j->h;
    int x0 = (int)blk * 32, x1 = x0 + 32 < w ? x0 + 32 : w;
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

/* Gaussian-like blur of a 3-channel interleaved plane: three box passes */
static void blur3(float *img, float *plane, float *tmp, float *tmp2, int w, int h, double sigma, int threads) {
    /* three boxes of radius r approximate a Gaussian with sigma^2 = 3 * ((2r+1)^2 - 1) / 12 */
    int r = (int)lround((sqrt(4.0 * sigma * sigma + 1.0) - 1.0) / 2.0);
    if (r < 1) return;
    size_t n = (size_t)w * (size_t)h;
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < n; i++) plane[i] = img[3 * i + (size_t)c];
        for (int pass = 0; pass < 3; pass++) {
            carve__steer_boxmean(plane, tmp2, tmp, w, h, r, threads);
            memcpy(plane, tmp2, n * sizeof(float));
        }
        for (size_t i = 0; i < n; i++) img[3 * i + (size_t)c] = plane[i];
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
    float *I = malloc(3 * n * sizeof(float)), *J = malloc(3 * n * sizeof(float));
    float *wh = malloc(n * sizeof(float)), *wv = malloc(n * sizeof(float));
    uint8_t *alpha = malloc(n);
    if (!I || !J || !wh || !wv || !alpha) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "flatten: out of memory for %dx%d", w, h);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + 4 * i;
        for (int c = 0; c < 3; c++) I[3 * i + (size_t)c] = p[c] * (1.0f / 255.0f);
        alpha[i] = p[3];
    }
    /* parameters: the spatial scale follows the image size (tuned at a
     * 1600 px long side, the default work size) */
    double scale = (w > h ? w : h) / 1600.0;
    if (scale < 0.25) scale = 0.25;
    double sigma_s = 14.0 * strength * scale;
    if (sigma_s < 2) sigma_s = 2;
    double sigma_r = 0.10 + 0.05 * strength; /* in sum-of-|dRGB| units, 0..3 */
    double sigma_g = (0.8 + 0.6 * strength) * (scale < 1 ? 1 : scale);
    int rounds = strength <= 1 ? 2 : strength <= 3 ? 3 : 4;
    const int iters = 3;

    float *F = malloc(3 * n * sizeof(float));
    if (!F) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "flatten: out of memory for %dx%d", w, h);
        goto done;
    }
    /* J0: blurred input (F serves as scratch) */
    memcpy(J, I, 3 * n * sizeof(float));
    blur3(J, F, F + n, F + 2 * n, w, h, sigma_g, threads);
    for (int r = 0; r < rounds; r++) {
        memcpy(F, I, 3 * n * sizeof(float));
        for (int it = 0; it < iters; it++) {
            double sh = sigma_s * sqrt(3.0) * pow(2.0, iters - it - 1) / sqrt(pow(4.0, iters) - 1);
            dt_job j = {F, J, alpha, wh, wv, w, h, -sqrt(2.0) / sh, sigma_s / sigma_r};
            carve__parallel_for(threads, h, dt_weights, &j);
            carve__parallel_for(threads, h, dt_rows, &j);
            carve__parallel_for(threads, (w + 31) / 32, dt_cols, &j);
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
    free(I);
    free(J);
    free(wh);
    free(wv);
    free(alpha);
    if (st) carve_image_destroy(res);
    else *out = res;
    return st;
}
