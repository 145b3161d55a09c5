/* util.c — small image helpers of the steer phase: box means on float
 * planes (running sums, O(1) per pixel).  Resampling is core's carve__resize. */
#include "steer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* floats per work item of the column pass */
#define BOX_V_BLOCK 64

typedef struct box_job {
    const float *src;
    float *dst;
    int w, h, r; /* w: floats per row */
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

/* vertical pass: one block of BOX_V_BLOCK columns per item */
static int box_v(void *arg, int64_t blk) {
    const box_job *j = arg;
    int w = j->w, h = j->h, r = j->r;
    int x0 = (int)blk * BOX_V_BLOCK, x1 = x0 + BOX_V_BLOCK < w ? x0 + BOX_V_BLOCK : w;
    double s[BOX_V_BLOCK];
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

void carve__steer_boxmean_cols(const float *src, float *out, int cols, int h, int r, int threads) {
    box_job j = {src, out, cols, h, r};
    carve__parallel_for(threads, (cols + BOX_V_BLOCK - 1) / BOX_V_BLOCK, box_v, &j);
}

void carve__steer_boxmean(const float *src, float *out, float *tmp, int w, int h, int r, int threads) {
    box_job j = {src, tmp, w, h, r};
    carve__parallel_for(threads, h, box_h, &j);
    carve__steer_boxmean_cols(tmp, out, w, h, r, threads);
}
