/* util.c — small image helpers of the steer phase: box means on float
 * planes (running sums, O(1) per pixel) and RGBA resampling. */
#include "steer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct box_job {
    const float *src;
    float *dst;
    int w, h, r;
} box_job;

/* horizontal pass: one row per item */
static int box_h(void *arg, int64_t yy) {
    const box_job *j = arg;
    int w = j->w, r = j->r;
    const float *in = j->src + (size_t)yy * (size_t)w;
    float *out = j->dst + (size_t)yy * (size_t)w;
    double s = 0;
    int lo = 0, hi = -1; /* current window [lo,hi] */
    for (int x = 0; x < w; x++) {
        int want_hi = x + r < w - 1 ? x + r : w - 1, want_lo = x - r > 0 ? x - r : 0;
        while (hi < want_hi) s += in[++hi];
        while (lo < want_lo) s -= in[lo++];
        out[x] = (float)(s / (double)(hi - lo + 1));
    }
    return 0;
}

/* vertical pass: one block of 64 columns per item */
static int box_v(void *arg, int64_t blk) {
    const box_job *j = arg;
    int w = j->w, h = j->h, r = j->r;
    int x0 = (int)blk * 64, x1 = x0 + 64 < w ? x0 + 64 : w;
    double s[64];
    memset(s, 0, sizeof s);
    int lo = 0, hi = -1;
    for (int y = 0; y < h; y++) {
        int want_hi = y + r < h - 1 ? y + r : h - 1, want_lo = y - r > 0 ? y - r : 0;
        while (hi < want_hi) {
            hi++;
            const float *in = j->src + (size_t)hi * (size_t)w;
            for (int x = x0; x < x1; x++) s[x - x0] += in[x];
        }
        while (lo < want_lo) {
            const float *in = j->src + (size_t)lo * (size_t)w;
            for (int x = x0; x < x1; x++) s[x - x0] -= in[x];
            lo++;
        }
        float *out = j->dst + (size_t)y * (size_t)w;
        double inv = 1.0 / (double)(hi - lo + 1);
        for (int x = x0; x < x1; x++) out[x] = (float)(s[x - x0] * inv);
    }
    return 0;
}

void carve__steer_boxmean(const float *src, float *out, float *tmp, int w, int h, int r, int threads) {
    box_job j = {src, tmp, w, h, r};
    carve__parallel_for(threads, h, box_h, &j);
    j.src = tmp;
    j.dst = out;
    carve__parallel_for(threads, (w + 63) / 64, box_v, &j);
}

carve_image *carve__steer_resize(const carve_image *img, int dw, int dh) {
    if (!img || dw <= 0 || dh <= 0) return NULL;
    carve_image *out = carve_image_create(dw, dh);
    if (!out) return NULL;
    int sw = img->w, sh = img->h;
    if (dw <= sw && dh <= sh) {
        /* area average over the source pixels whose centres fall in the cell */
        for (int y = 0; y < dh; y++) {
            int y0 = (int)((int64_t)y * sh / dh), y1 = (int)((int64_t)(y + 1) * sh / dh);
            if (y1 <= y0) y1 = y0 + 1;
            for (int x = 0; x < dw; x++) {
                int x0 = (int)((int64_t)x * sw / dw), x1 = (int)((int64_t)(x + 1) * sw / dw);
                if (x1 <= x0) x1 = x0 + 1;
                uint32_t acc[4] = {0, 0, 0, 0};
                for (int yy = y0; yy < y1; yy++) {
                    const uint8_t *p = img->px + 4 * ((size_t)yy * (size_t)sw + (size_t)x0);
                    for (int xx = x0; xx < x1; xx++, p += 4) {
                        acc[0] += p[0];
                        acc[1] += p[1];
                        acc[2] += p[2];
                        acc[3] += p[3];
                    }
                }
                uint32_t cnt = (uint32_t)((y1 - y0) * (x1 - x0));
                uint8_t *q = out->px + 4 * ((size_t)y * (size_t)dw + (size_t)x);
                for (int c = 0; c < 4; c++) q[c] = (uint8_t)((acc[c] + cnt / 2) / cnt);
            }
        }
        return out;
    }
    /* bilinear, pixel centres aligned */
    for (int y = 0; y < dh; y++) {
        double fy = ((double)y + 0.5) * sh / dh - 0.5;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        double ty = fy - y0;
        for (int x = 0; x < dw; x++) {
            double fx = ((double)x + 0.5) * sw / dw - 0.5;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            double tx = fx - x0;
            const uint8_t *p00 = img->px + 4 * ((size_t)y0 * (size_t)sw + (size_t)x0);
            const uint8_t *p01 = img->px + 4 * ((size_t)y0 * (size_t)sw + (size_t)x1);
            const uint8_t *p10 = img->px + 4 * ((size_t)y1 * (size_t)sw + (size_t)x0);
            const uint8_t *p11 = img->px + 4 * ((size_t)y1 * (size_t)sw + (size_t)x1);
            uint8_t *q = out->px + 4 * ((size_t)y * (size_t)dw + (size_t)x);
            for (int c = 0; c < 4; c++) {
                double v = (1 - ty) * ((1 - tx) * p00[c] + tx * p01[c]) + ty * ((1 - tx) * p10[c] + tx * p11[c]);
                q[c] = (uint8_t)lrint(v);
            }
        }
    }
    return out;
}
