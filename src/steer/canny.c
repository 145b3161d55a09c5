/* canny.c — Canny edge map: Gaussian blur, Sobel gradient, non-maximum
 * suppression along the gradient direction, hysteresis from strong pixels
 * (8-connected).  Rows are computed in parallel; every row only writes its
 * own output so the result does not depend on the thread count. */
#include "steer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct blur_job {
    const float *src;
    float *dst;
    int w, h, r;
    const float *k; /* 2r+1 taps */
    bool vertical;
} blur_job;

static int blur_row(void *arg, int64_t yy) {
    const blur_job *j = arg;
    int y = (int)yy, w = j->w, h = j->h, r = j->r;
    float *out = j->dst + (size_t)y * (size_t)w;
    if (!j->vertical) {
        const float *in = j->src + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int t = -r; t <= r; t++) s += j->k[t + r] * in[carve__clampi(x + t, 0, w - 1)];
            out[x] = s;
        }
    } else {
        for (int x = 0; x < w; x++) out[x] = 0;
        for (int t = -r; t <= r; t++) {
            const float *in = j->src + (size_t)carve__clampi(y + t, 0, h - 1) * (size_t)w;
            float kt = j->k[t + r];
            for (int x = 0; x < w; x++) out[x] += kt * in[x];
        }
    }
    return 0;
}

typedef struct grad_job {
    const float *g; /* blurred grey */
    float *mag;
    uint8_t *dir; /* 0: horizontal gradient (compare left/right), 1: 45, 2: vertical, 3: 135 */
    int w, h;
} grad_job;

static int grad_row(void *arg, int64_t yy) {
    const grad_job *j = arg;
    int y = (int)yy, w = j->w, h = j->h;
    const float *r0 = j->g + (size_t)carve__clampi(y - 1, 0, h - 1) * (size_t)w;
    const float *r1 = j->g + (size_t)y * (size_t)w;
    const float *r2 = j->g + (size_t)carve__clampi(y + 1, 0, h - 1) * (size_t)w;
    for (int x = 0; x < w; x++) {
        int xl = x > 0 ? x - 1 : 0, xr = x < w - 1 ? x + 1 : w - 1;
        float gx = (r0[xr] + 2 * r1[xr] + r2[xr]) - (r0[xl] + 2 * r1[xl] + r2[xl]);
        float gy = (r2[xl] + 2 * r2[x] + r2[xr]) - (r0[xl] + 2 * r0[x] + r0[xr]);
        size_t i = (size_t)y * (size_t)w + (size_t)x;
        j->mag[i] = sqrtf(gx * gx + gy * gy);
        /* sector of the gradient direction: tan(22.5) = 0.41421356 */
        float ax = fabsf(gx), ay = fabsf(gy);
        uint8_t d;
        if (ay <= 0.41421356f * ax) d = 0;
        else if (ax <= 0.41421356f * ay) d = 2;
        else d = (gx > 0) == (gy > 0) ? 1 : 3;
        j->dir[i] = d;
    }
    return 0;
}

typedef struct nms_job {
    const float *mag;
    const uint8_t *dir;
    uint8_t *cls; /* 0 none, 1 weak, 2 strong */
    int w, h;
    float lo, hi;
} nms_job;

static int nms_row(void *arg, int64_t yy) {
    const nms_job *j = arg;
    int y = (int)yy, w = j->w, h = j->h;
    uint8_t *out = j->cls + (size_t)y * (size_t)w;
    memset(out, 0, (size_t)w);
    if (y == 0 || y == h - 1) return 0;
    for (int x = 1; x < w - 1; x++) {
        size_t i = (size_t)y * (size_t)w + (size_t)x;
        float m = j->mag[i];
        if (m < j->lo || m <= 0) continue;
        float a, b;
        switch (j->dir[i]) {
        case 0: a = j->mag[i - 1]; b = j->mag[i + 1]; break;
        case 2: a = j->mag[i - (size_t)w]; b = j->mag[i + (size_t)w]; break;
        case 1: a = j->mag[i - (size_t)w - 1]; b = j->mag[i + (size_t)w + 1]; break;
        default: a = j->mag[i - (size_t)w + 1]; b = j->mag[i + (size_t)w - 1]; break;
        }
        /* ties: keep the pixel on the "first" side only, so a symmetric
         * plateau gives a one-pixel line */
        if (m > a && m >= b) out[x] = m >= j->hi ? 2 : 1;
    }
    return 0;
}

carve_status carve__edges_canny(carve_ctx *ctx, const carve_image *img, double sigma, double lo, double hi,
                                uint8_t **edges) {
    if (!edges) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "canny: edges is NULL");
    *edges = NULL;
    if (!img || !img->px) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "canny: no image");
    if (img->w <= 0 || img->h <= 0) return carve__fail(ctx, CARVE_ERR_EMPTY, "canny: empty %dx%d image", img->w, img->h);
    if (!(sigma >= 0 && sigma <= 50))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "canny: sigma %g outside 0..50", sigma);
    if (!(lo >= 0 && lo <= 1 && hi >= 0 && hi <= 1 && lo <= hi))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE,
                           "canny: thresholds lo %g, hi %g must satisfy 0 <= lo <= hi <= 1", lo, hi);
    int w = img->w, h = img->h, threads = carve__threads(ctx);
    size_t n = (size_t)w * (size_t)h;
    carve_status st = carve__progress(ctx, 0, "edges");
    if (st) return st;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    uint8_t *dir = malloc(n), *cls = malloc(n), *out = calloc(n, 1);
    int *stack = NULL;
    if (!a || !b || !dir || !cls || !out) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "canny: out of memory for %dx%d", w, h);
        goto done;
    }
    /* grey (Rec. 601 luma), 0..255; transparent pixels count as black */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + 4 * i;
        a[i] = (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) * (p[3] / 255.0f);
    }
    if (sigma > 0) {
        int r = (int)ceil(3 * sigma);
        if (r < 1) r = 1;
        float *k = malloc(sizeof(float) * (size_t)(2 * r + 1));
        if (!k) {
            st = carve__fail(ctx, CARVE_ERR_NOMEM, "canny: out of memory");
            goto done;
        }
        double sum = 0;
        for (int t = -r; t <= r; t++) sum += exp(-(double)t * t / (2 * sigma * sigma));
        for (int t = -r; t <= r; t++) k[t + r] = (float)(exp(-(double)t * t / (2 * sigma * sigma)) / sum);
        blur_job bj = {a, b, w, h, r, k, false};
        carve__parallel_for(threads, h, blur_row, &bj);
        bj.src = b;
        bj.dst = a;
        bj.vertical = true;
        carve__parallel_for(threads, h, blur_row, &bj);
        free(k);
    }
    if ((st = carve__progress(ctx, 0.4, "edges"))) goto done;
    grad_job gj = {a, b, dir, w, h};
    carve__parallel_for(threads, h, grad_row, &gj);
    float maxm = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] > maxm) maxm = b[i];
    if ((st = carve__progress(ctx, 0.7, "edges"))) goto done;
    if (maxm > 1e-3f) {
        /* thresholds relative to the maximum; a zero threshold still needs a
         * real (non-zero) gradient */
        nms_job nj = {b, dir, cls, w, h, (float)(lo * maxm), (float)(hi * maxm)};
        if (nj.lo < 1e-3f) nj.lo = 1e-3f;
        if (nj.hi < nj.lo) nj.hi = nj.lo;
        carve__parallel_for(threads, h, nms_row, &nj);
        stack = malloc(n * sizeof(int));
        if (!stack) {
            st = carve__fail(ctx, CARVE_ERR_NOMEM, "canny: out of memory");
            goto done;
        }
        /* hysteresis: flood from strong pixels through weak ones */
        for (size_t i = 0; i < n; i++) {
            if (cls[i] != 2 || out[i]) continue;
            size_t sp = 0;
            stack[sp++] = (int)i;
            out[i] = 255;
            while (sp) {
                int p = stack[--sp];
                int px = p % w, py = p / w;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int qx = px + dx, qy = py + dy;
                        if ((!dx && !dy) || qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
                        size_t q = (size_t)qy * (size_t)w + (size_t)qx;
                        if (cls[q] && !out[q]) {
                            out[q] = 255;
                            stack[sp++] = (int)q;
                        }
                    }
            }
        }
    }
    st = carve__progress(ctx, 1, "edges");
done:
    free(a);
    free(b);
    free(dir);
    free(cls);
    free(stack);
    if (st) free(out);
    else *edges = out;
    return st;
}
