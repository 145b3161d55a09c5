/* resample.c — the project's one resampler, for RGBA images (carve__resize)
 * and for single float planes (carve__resize_plane): libvips' vips_resize
 * with a CARVE_KERNEL_* kernel, or, for RGBA only, CARVE_KERNEL_AREA (area
 * average down, bilinear up; the steer phase's matte work size); byte maps
 * (mattes, edge maps) by nearest neighbour (carve__resize_map_nearest).
 * Every module that changes an image's size calls one of these. */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

enum { CHAIN_MAX = 8 }; /* most intermediate images one resize creates */

typedef struct chain {
    VipsImage *t[CHAIN_MAX];
    int k;
} chain;

static VipsImage *chain_push(chain *c, VipsImage *im) { return c->t[c->k++] = im; }

static void chain_free(chain *c) {
    for (int i = c->k - 1; i >= 0; i--) g_object_unref(c->t[i]);
    c->k = 0;
}

/* libvips' kernel for each CARVE_KERNEL_* it resamples with */
static const VipsKernel vips_kernel[] = {
    [CARVE_KERNEL_NEAREST] = VIPS_KERNEL_NEAREST,   [CARVE_KERNEL_LINEAR] = VIPS_KERNEL_LINEAR,
    [CARVE_KERNEL_CUBIC] = VIPS_KERNEL_CUBIC,       [CARVE_KERNEL_MITCHELL] = VIPS_KERNEL_MITCHELL,
    [CARVE_KERNEL_LANCZOS2] = VIPS_KERNEL_LANCZOS2, [CARVE_KERNEL_LANCZOS3] = VIPS_KERNEL_LANCZOS3,
};

static bool check_kernel(int kernel) { return kernel >= CARVE_KERNEL_NEAREST && kernel <= CARVE_KERNEL_LANCZOS3; }
static bool check_rgba_kernel(int kernel) { return check_kernel(kernel) || kernel == CARVE_KERNEL_AREA; }

static carve_status resize_fail(carve_ctx *ctx, carve__vips_call *vc, int sw, int sh, int w, int h) {
    char msg[256];
    carve__vips_call_detail(vc, msg, sizeof msg);
    return carve__fail(ctx, CARVE_ERR_BACKEND, "resize %dx%d to %dx%d failed%s", sw, sh, w, h, msg);
}

/* vips_resize to w x h with kernel, then libvips' odd pixel of rounding padded
 * or cropped so the size is exact.  Returns the last image of c, NULL if
 * libvips failed. */
static VipsImage *resize_exact(chain *c, VipsImage *cur, int w, int h, int kernel) {
    VipsImage *o = NULL;
    double sx = (double)w / vips_image_get_width(cur), sy = (double)h / vips_image_get_height(cur);
    if (vips_resize(cur, &o, sx, "vscale", sy, "kernel", vips_kernel[kernel], NULL)) return NULL;
    cur = chain_push(c, o);
    if (vips_image_get_width(cur) != w || vips_image_get_height(cur) != h) {
        if (vips_embed(cur, &o, 0, 0, w, h, "extend", VIPS_EXTEND_COPY, NULL)) return NULL;
        cur = chain_push(c, o);
    }
    return cur;
}

/* Copies cur's pixels (exactly n bytes expected) into dst. */
static carve_status copy_out(carve_ctx *ctx, carve__vips_call *vc, VipsImage *cur, void *dst, size_t n, int sw, int sh, int w, int h) {
    size_t sz = 0;
    void *mem = vips_image_write_to_memory(cur, &sz);
    if (!mem) return resize_fail(ctx, vc, sw, sh, w, h);
    carve_status st = CARVE_OK;
    if (sz == n) memcpy(dst, mem, sz);
    else st = carve__fail(ctx, CARVE_ERR_INTERNAL, "resize: unexpected result size");
    g_free(mem);
    return st;
}

static bool has_alpha(const carve_image *in) {
    size_t np = (size_t)in->w * (size_t)in->h;
    for (size_t i = 0; i < np; i++)
        if (in->px[4 * i + 3] != 255) return true;
    return false;
}

/* The RGBA chain: premultiply when any pixel is not opaque, resize, undo,
 * round back to 8 bits.  Returns the last image, NULL if libvips failed. */
static VipsImage *rgba_chain(chain *c, const carve_image *in, int w, int h, int kernel) {
    bool alpha = has_alpha(in);
    size_t np = (size_t)in->w * (size_t)in->h;
    VipsImage *o = NULL, *cur = vips_image_new_from_memory(in->px, np * 4, in->w, in->h, 4, VIPS_FORMAT_UCHAR);
    if (!cur) return NULL;
    chain_push(c, cur);
    if (alpha) { /* premultiply so transparent pixels do not bleed their colour */
        if (vips_premultiply(cur, &o, NULL)) return NULL;
        cur = chain_push(c, o);
    }
    /* the exact-size pad before unpremultiply/round is per-pixel equivalent to after */
    if (!(cur = resize_exact(c, cur, w, h, kernel))) return NULL;
    if (alpha) {
        if (vips_unpremultiply(cur, &o, NULL)) return NULL;
        cur = chain_push(c, o);
    }
    if (vips_image_get_format(cur) != VIPS_FORMAT_UCHAR) {
        if (vips_round(cur, &o, VIPS_OPERATION_ROUND_RINT, NULL)) return NULL;
        cur = chain_push(c, o);
        if (vips_cast_uchar(cur, &o, NULL)) return NULL;
        cur = chain_push(c, o);
    }
    return cur;
}

/* ---- CARVE_KERNEL_AREA: area average down, bilinear up (no libvips) ---- */

/* Area average over the source pixels whose centres fall in each cell. */
static void area_down(const carve_image *img, carve_image *out) {
    int sw = img->w, sh = img->h, dw = out->w, dh = out->h;
    for (int y = 0; y < dh; y++) {
        int y0 = (int)((int64_t)y * sh / dh), y1 = (int)((int64_t)(y + 1) * sh / dh);
        if (y1 <= y0) y1 = y0 + 1;
        for (int x = 0; x < dw; x++) {
            int x0 = (int)((int64_t)x * sw / dw), x1 = (int)((int64_t)(x + 1) * sw / dw);
            if (x1 <= x0) x1 = x0 + 1;
            uint32_t acc[4] = {0, 0, 0, 0};
            for (int yy = y0; yy < y1; yy++) {
                const uint8_t *p = img->px + 4 * ((size_t)yy * (size_t)sw + (size_t)x0);
                for (int xx = x0; xx < x1; xx++, p += 4)
                    for (int c = 0; c < 4; c++) acc[c] += p[c];
            }
            uint32_t cnt = (uint32_t)((y1 - y0) * (x1 - x0));
            uint8_t *q = out->px + 4 * ((size_t)y * (size_t)dw + (size_t)x);
            for (int c = 0; c < 4; c++) q[c] = (uint8_t)((acc[c] + cnt / 2) / cnt);
        }
    }
}

/* Bilinear, pixel centres aligned. */
static void bilinear_up(const carve_image *img, carve_image *out) {
    int sw = img->w, sh = img->h, dw = out->w, dh = out->h;
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
}

static carve_status resize_area(carve_ctx *ctx, const carve_image *in, int w, int h, carve_image **out) {
    carve_image *im = carve_image_create(w, h);
    if (!im) return carve__fail(ctx, CARVE_ERR_NOMEM, "resize: out of memory for %dx%d", w, h);
    if (w <= in->w && h <= in->h) area_down(in, im);
    else bilinear_up(in, im);
    *out = im;
    return CARVE_OK;
}

carve_status carve__resize(carve_ctx *ctx, const carve_image *in, int w, int h, int kernel, carve_image **out) {
    *out = NULL;
    if (!in || in->w <= 0 || in->h <= 0 || w <= 0 || h <= 0)
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "resize: empty image or size");
    if (!check_rgba_kernel(kernel))
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "resize: unknown kernel %d", kernel);
    if (kernel == CARVE_KERNEL_AREA) return resize_area(ctx, in, w, h, out);
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    chain c = {0};
    carve__vips_call vc;
    carve__vips_call_begin(&vc);
    VipsImage *cur = rgba_chain(&c, in, w, h, kernel);
    carve_image *im = cur ? carve_image_create(w, h) : NULL;
    if (!cur) st = resize_fail(ctx, &vc, in->w, in->h, w, h);
    else if (!im) st = carve__fail(ctx, CARVE_ERR_NOMEM, "resize: out of memory for %dx%d", w, h);
    else st = copy_out(ctx, &vc, cur, im->px, (size_t)w * (size_t)h * 4, in->w, in->h, w, h);
    chain_free(&c);
    carve__vips_call_end(&vc);
    if (st) carve_image_destroy(im);
    else *out = im;
    return st;
}

carve_status carve__resize_plane(carve_ctx *ctx, const float *src, int sw, int sh, float *dst, int dw, int dh,
                                 int kernel) {
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "resize: empty plane or size");
    if (!check_kernel(kernel)) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "resize: unknown kernel %d", kernel);
    size_t n = (size_t)dw * (size_t)dh * sizeof(float);
    if (sw == dw && sh == dh) {
        memcpy(dst, src, n);
        return CARVE_OK;
    }
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    chain c = {0};
    carve__vips_call vc;
    carve__vips_call_begin(&vc);
    size_t sn = (size_t)sw * (size_t)sh * sizeof(float);
    VipsImage *cur = vips_image_new_from_memory(src, sn, sw, sh, 1, VIPS_FORMAT_FLOAT);
    if (cur) chain_push(&c, cur);
    if (cur) cur = resize_exact(&c, cur, dw, dh, kernel);
    if (cur && vips_image_get_format(cur) != VIPS_FORMAT_FLOAT) {
        VipsImage *o = NULL;
        cur = vips_cast_float(cur, &o, NULL) ? NULL : chain_push(&c, o);
    }
    st = cur ? copy_out(ctx, &vc, cur, dst, n, sw, sh, dw, dh) : resize_fail(ctx, &vc, sw, sh, dw, dh);
    chain_free(&c);
    carve__vips_call_end(&vc);
    return st;
}

uint8_t *carve__resize_map_nearest(const uint8_t *m, int w, int h, int w2, int h2) {
    size_t n = (size_t)w2 * h2;
    uint8_t *o = malloc(n ? n : 1);
    if (!o) return NULL;
    for (int y = 0; y < h2; y++) {
        int sy = (int)(((int64_t)y * h + h / 2) / h2);
        if (sy >= h) sy = h - 1;
        for (int x = 0; x < w2; x++) {
            int sx = (int)(((int64_t)x * w + w / 2) / w2);
            if (sx >= w) sx = w - 1;
            o[(size_t)y * w2 + x] = m[(size_t)sy * w + sx];
        }
    }
    return o;
}
