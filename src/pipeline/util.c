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

enum { PP_MAX_LEVELS = 32 }; /* enough halvings for any image */

/* Bounding box of the mask's set pixels; false when there is none. */
static bool mask_bbox(const uint8_t *mask, int W, int H, int *bx0, int *by0, int *bx1, int *by1) {
    *bx0 = W, *by0 = H, *bx1 = -1, *by1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (mask[(size_t)y * W + x]) {
                if (x < *bx0) *bx0 = x;
                if (x > *bx1) *bx1 = x;
                if (y < *by0) *by0 = y;
                if (y > *by1) *by1 = y;
            }
    return *bx1 >= 0;
}

/* Level 0: the window at (x0, y0) of img, known pixels at weight 1, holes
 * at weight 0. */
static void level_load(level *L, const carve_image *img, const uint8_t *mask, int x0, int y0) {
    for (int y = 0; y < L->h; y++)
        for (int x = 0; x < L->w; x++) {
            size_t i = (size_t)y * L->w + x, gi = (size_t)(y + y0) * img->w + (x + x0);
            const uint8_t *p = img->px + 4 * gi;
            bool known = !mask[gi];
            L->wt[i] = known ? 1.0f : 0.0f;
            for (int k = 0; k < 4; k++) L->c[4 * i + k] = known ? p[k] : 0.0f;
        }
}

/* Push: L is F halved, each pixel the weight-averaged colour of its 2x2
 * block, its weight the blocks' sum capped at 1. */
static void level_push(const level *F, level *L) {
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

/* Pull: uncertain pixels of L blend in the coarser level C (bilinear, by
 * their missing weight) and become certain. */
static void level_pull(level *L, const level *C) {
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

/* The pyramid lv[0..*nl) from level 0 (size set by the caller) up to 1x1. */
static carve_status pp_pyramid(carve_ctx *ctx, level *lv, int *nl, const carve_image *img, const uint8_t *mask,
                               int x0, int y0) {
    for (;;) {
        level *L = &lv[*nl];
        size_t n = (size_t)L->w * L->h;
        L->c = malloc(n * 4 * sizeof(float));
        L->wt = malloc(n * sizeof(float));
        (*nl)++;
        if (!L->c || !L->wt) return carve__fail(ctx, CARVE_ERR_NOMEM, "fill: out of memory");
        if (*nl == 1) level_load(L, img, mask, x0, y0);
        else level_push(&lv[*nl - 2], L);
        if ((L->w == 1 && L->h == 1) || *nl == PP_MAX_LEVELS) break;
        lv[*nl].w = (L->w + 1) / 2;
        lv[*nl].h = (L->h + 1) / 2;
        if (carve__cancelled(ctx)) return carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled during inpaint");
    }
    return CARVE_OK;
}

carve_status carve__fill_pushpull(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out) {
    *out = NULL;
    if (!img || !mask) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "fill: NULL argument");
    int W = img->w, H = img->h;
    int bx0, by0, bx1, by1;
    bool any = mask_bbox(mask, W, H, &bx0, &by0, &bx1, &by1);
    carve_image *res = carve_image_copy(img);
    if (!res) return carve__fail(ctx, CARVE_ERR_NOMEM, "fill: out of memory");
    if (!any) {
        *out = res;
        return CARVE_OK;
    }
    /* work on the hole's bounding box grown by its size: enough context */
    int m = (bx1 - bx0 > by1 - by0 ? bx1 - bx0 : by1 - by0) + 8;
    int x0 = carve__clampi(bx0 - m, 0, W), y0 = carve__clampi(by0 - m, 0, H);
    int x1 = carve__clampi(bx1 + 1 + m, 0, W), y1 = carve__clampi(by1 + 1 + m, 0, H);
    level lv[PP_MAX_LEVELS];
    int nl = 0;
    lv[0].w = x1 - x0;
    lv[0].h = y1 - y0;
    carve_status st = pp_pyramid(ctx, lv, &nl, img, mask, x0, y0);
    if (!st && lv[nl - 1].wt[0] <= 0)
        st = carve__fail(ctx, CARVE_ERR_EMPTY, "fill: the whole image is masked; nothing to fill from");
    if (!st) {
        for (int l = nl - 2; l >= 0; l--) level_pull(&lv[l], &lv[l + 1]);
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
    }
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
