/* util.c — pipeline helpers: erase-box parsing, push-pull hole filling (the
 * inpaint fallback), libvips resizing and intermediates. */
#include "pipeline/pipeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

/* ---- push-pull fill ------------------------------------------------------------ */

typedef struct level {
    int w, h;
    float *c;  /* 4 per pixel: normalised RGBA */
    float *wt; /* confidence 0..1 */
} level;

carve_status carve__fill_pushpull(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out) {
    *out = NULL;
    if (!img || !mask) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "fill: NULL argument");
    int W = img->w, H = img->h;
    int bx0 = W, by0 = H, bx1 = -1, by1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (mask[(size_t)y * W + x]) {
                if (x < bx0) bx0 = x;
                if (x > bx1) bx1 = x;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
            }
    carve_image *res = carve_image_copy(img);
    if (!res) return carve__fail(ctx, CARVE_ERR_NOMEM, "fill: out of memory");
    if (bx1 < 0) {
        *out = res;
        return CARVE_OK;
    }
    /* work on the hole's bounding box grown by its size: enough context */
    int m = (bx1 - bx0 > by1 - by0 ? bx1 - bx0 : by1 - by0) + 8;
    int x0 = carve__clampi(bx0 - m, 0, W), y0 = carve__clampi(by0 - m, 0, H);
    int x1 = carve__clampi(bx1 + 1 + m, 0, W), y1 = carve__clampi(by1 + 1 + m, 0, H);
    level lv[32];
    int nl = 0;
    carve_status st = CARVE_OK;
    lv[0].w = x1 - x0;
    lv[0].h = y1 - y0;
    for (;;) {
        level *L = &lv[nl];
        size_t n = (size_t)L->w * L->h;
        L->c = malloc(n * 4 * sizeof(float));
        L->wt = malloc(n * sizeof(float));
        nl++;
        if (!L->c || !L->wt) {
            st = carve__fail(ctx, CARVE_ERR_NOMEM, "fill: out of memory");
            goto done;
        }
        if (nl == 1) {
            for (int y = 0; y < L->h; y++)
                for (int x = 0; x < L->w; x++) {
                    size_t i = (size_t)y * L->w + x, gi = (size_t)(y + y0) * W + (x + x0);
                    const uint8_t *p = img->px + 4 * gi;
                    bool known = !mask[gi];
                    L->wt[i] = known ? 1.0f : 0.0f;
                    for (int k = 0; k < 4; k++) L->c[4 * i + k] = known ? p[k] : 0.0f;
                }
        } else {
            const level *F = &lv[nl - 2];
            for (int y = 0; y < L->h; y++)
                for (int x = 0; x < L->w; x++) {
                    float sw = 0, sc[4] = {0, 0, 0, 0};
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            int fx = 2 * x + dx, fy = 2 * y + dy;
                            if (fx >= F->w || fy >= F->h) continue;
                            size_t fi = (size_t)fy * F->w + fx;
                            float w = F->wt[fi];
                            sw += w;
                            for (int k = 0; k < 4; k++) sc[k] += w * F->c[4 * fi + k];
                        }
                    size_t i = (size_t)y * L->w + x;
                    for (int k = 0; k < 4; k++) L->c[4 * i + k] = sw > 0 ? sc[k] / sw : 0.0f;
                    L->wt[i] = sw > 1 ? 1.0f : sw;
                }
        }
        if ((L->w == 1 && L->h == 1) || nl == 32) break;
        lv[nl].w = (L->w + 1) / 2;
        lv[nl].h = (L->h + 1) / 2;
        if (carve__cancelled(ctx)) {
            st = carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled during inpaint");
            goto done;
        }
    }
    if (lv[nl - 1].wt[0] <= 0) {
        st = carve__fail(ctx, CARVE_ERR_EMPTY, "fill: the whole image is masked; nothing to fill from");
        goto done;
    }
    /* pull: fill uncertain pixels from the coarser level (bilinear) */
    for (int l = nl - 2; l >= 0; l--) {
        level *L = &lv[l];
        const level *C = &lv[l + 1];
        for (int y = 0; y < L->h; y++) {
            double cy = (y + 0.5) / 2.0 - 0.5;
            int iy = (int)floor(cy);
            double fy = cy - iy;
            int ya = carve__clampi(iy, 0, C->h - 1), yb = carve__clampi(iy + 1, 0, C->h - 1);
            for (int x = 0; x < L->w; x++) {
                size_t i = (size_t)y * L->w + x;
                float w = L->wt[i];
                if (w >= 1.0f) continue;
                double cx = (x + 0.5) / 2.0 - 0.5;
                int ix = (int)floor(cx);
                double fx = cx - ix;
                int xa = carve__clampi(ix, 0, C->w - 1), xb = carve__clampi(ix + 1, 0, C->w - 1);
                for (int k = 0; k < 4; k++) {
                    double a = C->c[4 * ((size_t)ya * C->w + xa) + k], b = C->c[4 * ((size_t)ya * C->w + xb) + k];
                    double c = C->c[4 * ((size_t)yb * C->w + xa) + k], d = C->c[4 * ((size_t)yb * C->w + xb) + k];
                    double up = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
                    L->c[4 * i + k] = (float)(w * L->c[4 * i + k] + (1 - w) * up);
                }
                L->wt[i] = 1.0f;
            }
        }
    }
    for (int y = 0; y < lv[0].h; y++)
        for (int x = 0; x < lv[0].w; x++) {
            size_t gi = (size_t)(y + y0) * W + (x + x0);
            if (!mask[gi]) continue;
            const float *c = lv[0].c + 4 * ((size_t)y * lv[0].w + x);
            for (int k = 0; k < 4; k++) {
                long v = lroundf(c[k]);
                res->px[4 * gi + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
done:
    for (int i = 0; i < nl; i++) {
        free(lv[i].c);
        free(lv[i].wt);
    }
    if (st) carve_image_destroy(res);
    else *out = res;
    return st;
}


carve_image *carve__map_to_image(const uint8_t *map, int w, int h) {
    carve_image *im = carve_image_create(w, h);
    if (!im) return NULL;
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = im->px + 4 * i;
        p[0] = p[1] = p[2] = map[i];
        p[3] = 255;
    }
    return im;
}
