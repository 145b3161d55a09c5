/* adapters.c — one adapter per task: image -> tensor (size policy, channel
 * order, normalisation, layout), inference, tensor -> result.
 *
 *   matte             1 input image, 1 output map (0..1) -> alpha + component choice
 *   text_detect       1 input image, 1 output probability map -> DB boxes
 *   inpaint           inputs image + mask (0/1), output image -> masked pixels replaced
 *   super_resolution  1 input image, output image k times larger
 *   depth             1 input image, output map -> min-max normalised depth
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- input tensors ---------------------------------------------------------- */
static int round_mult(double v, int mult) {
    int r = (int)lround(v / mult) * mult;
    return r < mult ? mult : r;
}

/* The model's input size for a w x h image (or region). */
static carve_status input_size(carve_ctx *ctx, const carve__nn_model *m, int w, int h, int *tw, int *th) {
    if (m->size_mode == CARVE_NN_SIZE_FIXED) {
        *tw = m->width, *th = m->height;
        return CARVE_OK;
    }
    double s = 1;
    int longest = w > h ? w : h;
    if (m->long_side > 0 && (longest > m->long_side || m->upscale)) s = (double)m->long_side / longest;
    *tw = round_mult(w * s, m->multiple);
    *th = round_mult(h * s, m->multiple);
    if ((double)*tw * *th > 64e6)
        return carve__fail(ctx, CARVE_ERR_TOO_LARGE, "model %s: input %dx%d is too large", m->name, *tw, *th);
    return CARVE_OK;
}

/* Fills t with the normalised region (x0,y0,rw,rh) of img resized to tw x th. */
static carve_status image_tensor(carve_ctx *ctx, const carve__nn_model *m, const carve_image *img, int x0, int y0,
                                 int rw, int rh, int tw, int th, carve__nn_tensor *t) {
    size_t plane = (size_t)tw * (size_t)th;
    t->data = malloc(plane * 3 * sizeof(float));
    float *src = malloc((size_t)rw * (size_t)rh * sizeof(float)), *dst = malloc(plane * sizeof(float));
    carve_status st = CARVE_OK;
    if (!t->data || !src || !dst) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory preparing %s's input", m->name); goto done; }
    t->rank = 4;
    t->shape[0] = 1;
    if (m->nhwc) t->shape[1] = th, t->shape[2] = tw, t->shape[3] = 3;
    else t->shape[1] = 3, t->shape[2] = th, t->shape[3] = tw;
    for (int c = 0; c < 3; c++) {
        int ch = m->bgr ? 2 - c : c;
        carve__image_plane(img, ch, x0, y0, rw, rh, src);
        if ((st = carve__resize_plane(ctx, src, rw, rh, dst, tw, th, CARVE_KERNEL_LINEAR))) goto done;
        double mean = m->mean[c], inv = 1.0 / m->std[c];
        for (size_t i = 0; i < plane; i++) {
            float v = (float)((dst[i] - mean) * inv);
            if (m->nhwc) t->data[i * 3 + (size_t)c] = v;
            else t->data[(size_t)c * plane + i] = v;
        }
    }
done:
    free(src);
    free(dst);
    if (st) carve__nn_tensor_free(t);
    return st;
}

/* Height/width/channels of an image-like output (N C H W, C H W, N H W C, H W). */
static carve_status map_dims(carve_ctx *ctx, const carve__nn_model *m, const carve__nn_tensor *t, int *c, int *h,
                             int *w) {
    const int64_t *s = t->shape;
    if (t->rank == 4 && s[0] == 1) {
        if (m->nhwc) *h = (int)s[1], *w = (int)s[2], *c = (int)s[3];
        else *c = (int)s[1], *h = (int)s[2], *w = (int)s[3];
    } else if (t->rank == 3) {
        if (s[0] == 1 || s[0] == 3) *c = (int)s[0], *h = (int)s[1], *w = (int)s[2];
        else return carve__fail(ctx, CARVE_ERR_BACKEND, "model %s: output of shape %ldx%ldx%ld is not an image", m->name, (long)s[0], (long)s[1], (long)s[2]);
    } else if (t->rank == 2) {
        *c = 1, *h = (int)s[0], *w = (int)s[1];
    } else {
        return carve__fail(ctx, CARVE_ERR_BACKEND, "model %s: output of rank %d is not an image", m->name, t->rank);
    }
    if (*c < 1 || *h < 1 || *w < 1) return carve__fail(ctx, CARVE_ERR_BACKEND, "model %s: empty output", m->name);
    return CARVE_OK;
}

/* Channel c of an output as a contiguous plane (copied). */
static float *out_plane(const carve__nn_model *m, const carve__nn_tensor *t, int nc, int h, int w, int c) {
    size_t plane = (size_t)w * (size_t)h;
    float *p = malloc(plane * sizeof(float));
    if (!p) return NULL;
    bool nhwc = m->nhwc && t->rank == 4;
    for (size_t i = 0; i < plane; i++) p[i] = nhwc ? t->data[i * (size_t)nc + (size_t)c] : t->data[(size_t)c * plane + i];
    return p;
}

static uint8_t to8(double v) { return (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lround(v)); }

static carve_status check_image(carve_ctx *ctx, const carve_image *img, const char *what) {
    if (!img || !img->px) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "neural %s: no image", what);
    if (img->w <= 0 || img->h <= 0) return carve__fail(ctx, CARVE_ERR_EMPTY, "neural %s: empty %dx%d image", what, img->w, img->h);
    return CARVE_OK;
}

/* ---- the adapter skeleton ------------------------------------------------------
 * Every adapter: find the task's model (adapter_open) -> prepare the input
 * tensor(s) and run (adapter_run_image for one whole-image input, or
 * adapter_run for prepared inputs) -> read the image-like output's channels
 * mapped back to the caller's size (adapter_map_back) -> adapter_close. */
typedef struct adapter {
    carve__nn_manifest *man;
    const carve__nn_model *m;
    carve__nn_tensor out; /* the model's (single) output */
    int tw, th;           /* model input size */
    int oc, oh, ow;       /* output channels and size */
} adapter;

static carve_status adapter_open(carve_ctx *ctx, const char *task, adapter *a) {
    *a = (adapter){0};
    return carve__nn_find_model(ctx, task, &a->man, &a->m);
}

static void adapter_close(adapter *a) {
    carve__nn_tensor_free(&a->out);
    carve__nn_manifest_free(a->man);
    *a = (adapter){0};
}

/* Runs the model on prepared inputs and reads the output's dimensions. */
static carve_status adapter_run(carve_ctx *ctx, adapter *a, carve__nn_tensor *in, int nin) {
    carve_status st = carve__progress(ctx, 0.15, "nn");
    if (!st) st = carve__ort_run(ctx, a->m, in, nin, &a->out, 1);
    if (!st) st = map_dims(ctx, a->m, &a->out, &a->oc, &a->oh, &a->ow);
    return st;
}

/* Runs a one-input image model on the whole image. */
static carve_status adapter_run_image(carve_ctx *ctx, adapter *a, const carve_image *img) {
    carve__nn_tensor in = {0};
    carve_status st = input_size(ctx, a->m, img->w, img->h, &a->tw, &a->th);
    if (!st) st = image_tensor(ctx, a->m, img, 0, 0, img->w, img->h, a->tw, a->th, &in);
    if (!st) st = adapter_run(ctx, a, &in, 1);
    carve__nn_tensor_free(&in);
    if (!st) st = carve__progress(ctx, 0.85, "nn");
    return st;
}

static carve_status adapter_want_channels(carve_ctx *ctx, const adapter *a, int want, const char *what) {
    if (a->oc == want) return CARVE_OK;
    return carve__fail(ctx, CARVE_ERR_BACKEND, "model %s: %soutput has %d channels, want %d", a->m->name, what, a->oc,
                       want);
}

/* Output channel c resampled to w x h into dst (w*h floats). */
static carve_status adapter_map_back(carve_ctx *ctx, const adapter *a, int c, float *dst, int w, int h) {
    float *plane = out_plane(a->m, &a->out, a->oc, a->oh, a->ow, c);
    if (!plane) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory reading %s's output", a->m->name);
    carve_status st = carve__resize_plane(ctx, plane, a->ow, a->oh, dst, w, h, CARVE_KERNEL_LINEAR);
    free(plane);
    return st;
}

/* The three colour channels of the output, resampled to rw x rh (buf: rw*rh
 * floats), scaled by the manifest's output scale/offset and written into
 * dst at (x0,y0) — only where mask (dst's size) is set, when given. */
static carve_status adapter_write_rgb(carve_ctx *ctx, const adapter *a, float *buf, int rw, int rh, carve_image *dst,
                                      int x0, int y0, const uint8_t *mask) {
    const carve__nn_model *m = a->m;
    for (int c = 0; c < 3; c++) {
        int ch = m->bgr ? 2 - c : c;
        carve_status st = adapter_map_back(ctx, a, c, buf, rw, rh);
        if (st) return st;
        for (int y = 0; y < rh; y++)
            for (int x = 0; x < rw; x++) {
                size_t gi = (size_t)(y0 + y) * (size_t)dst->w + (size_t)(x0 + x);
                if (!mask || mask[gi])
                    dst->px[4 * gi + (size_t)ch] = to8(buf[(size_t)y * (size_t)rw + (size_t)x] * m->out_scale + m->out_offset);
            }
    }
    return CARVE_OK;
}

/* ---- matte -------------------------------------------------------------------- */
typedef struct comp { long area; int x0, y0, x1, y1; double sx, sy; long hint; } comp;

/* Keeps the vehicle's component(s) of alpha (see nn.h); soft edge pixels
 * follow the strong component they touch. */
static carve_status select_components(carve_ctx *ctx, uint8_t *a, int w, int h, const uint8_t *hint, int mode) {
    if (mode == CARVE__MATTE_COMPONENTS_ALL) return CARVE_OK;
    size_t np = (size_t)w * (size_t)h;
    int32_t *lab = calloc(np, sizeof *lab), *q = malloc(np * sizeof *q);
    int cap = 64, nc = 0;
    comp *cs = malloc((size_t)cap * sizeof *cs);
    bool *keep = NULL;
    carve_status st = CARVE_OK;
    if (!lab || !q || !cs) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory in the matte"); goto done; }
    for (size_t s = 0; s < np; s++) {
        if (lab[s] || a[s] < 128) continue;
        if (nc == cap) {
            comp *n2 = realloc(cs, (size_t)cap * 2 * sizeof *cs);
            if (!n2) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory in the matte"); goto done; }
            cs = n2, cap *= 2;
        }
        comp *c = &cs[nc++];
        memset(c, 0, sizeof *c);
        c->x0 = w, c->y0 = h, c->x1 = -1, c->y1 = -1;
        size_t qh = 0, qt = 0;
        lab[s] = nc;
        q[qt++] = (int32_t)s;
        while (qh < qt) {
            int32_t p = q[qh++];
            int x = p % w, y = p / w;
            c->area++, c->sx += x, c->sy += y;
            if (hint && hint[p] >= 128) c->hint++;
            if (x < c->x0) c->x0 = x;
            if (x > c->x1) c->x1 = x;
            if (y < c->y0) c->y0 = y;
            if (y > c->y1) c->y1 = y;
            const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
            for (int k = 0; k < 4; k++) {
                int nx = x + dx[k], ny = y + dy[k];
                if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                size_t ni = (size_t)ny * (size_t)w + (size_t)nx;
                if (!lab[ni] && a[ni] >= 128) lab[ni] = nc, q[qt++] = (int32_t)ni;
            }
        }
    }
    if (!nc) goto done;
    keep = calloc((size_t)nc + 1, sizeof *keep);
    if (!keep) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory in the matte"); goto done; }
    int best = 0;
    bool any_hint = false;
    if (mode == CARVE__MATTE_COMPONENTS_VEHICLE && hint)
        for (int i = 0; i < nc; i++)
            if (cs[i].hint * 2 >= cs[i].area) keep[i + 1] = any_hint = true;
    if (!any_hint) {
        double bs = -1, cx = w / 2.0, cy = h / 2.0, half = 0.5 * hypot(w, h);
        for (int i = 0; i < nc; i++) {
            double d = hypot(cs[i].sx / cs[i].area - cx, cs[i].sy / cs[i].area - cy) / half;
            double score = mode == CARVE__MATTE_COMPONENTS_LARGEST ? (double)cs[i].area : cs[i].area * (1.0 - 0.5 * (d > 1 ? 1 : d));
            if (score > bs) bs = score, best = i;
        }
        keep[best + 1] = true;
        if (mode == CARVE__MATTE_COMPONENTS_VEHICLE) /* pieces inside the vehicle's bounds (mirrors, wheels cut off by a pole) */
            for (int i = 0; i < nc; i++) {
                double mx = 0.5 * (cs[i].x0 + cs[i].x1), my = 0.5 * (cs[i].y0 + cs[i].y1);
                const comp *b = &cs[best];
                if (mx >= b->x0 && mx <= b->x1 && my >= b->y0 && my <= b->y1) keep[i + 1] = true;
            }
    }
    /* soft pixels (1..127) take the label of the strong region they touch */
    size_t qh = 0, qt = 0;
    for (size_t s = 0; s < np; s++)
        if (lab[s]) q[qt++] = (int32_t)s;
    while (qh < qt) {
        int32_t p = q[qh++];
        int x = p % w, y = p / w;
        const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
        for (int k = 0; k < 4; k++) {
            int nx = x + dx[k], ny = y + dy[k];
            if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
            size_t ni = (size_t)ny * (size_t)w + (size_t)nx;
            if (!lab[ni] && a[ni] > 0) lab[ni] = lab[p], q[qt++] = (int32_t)ni;
        }
    }
    for (size_t s = 0; s < np; s++)
        if (!keep[lab[s]]) a[s] = 0;
done:
    free(lab);
    free(q);
    free(cs);
    free(keep);
    return st;
}

carve_status carve__nn_matte_hint(carve_ctx *ctx, const carve_image *img, const uint8_t *hint, uint8_t **alpha) {
    *alpha = NULL;
    carve_status st = check_image(ctx, img, "matte");
    adapter ad;
    if (st || (st = adapter_open(ctx, "matte", &ad))) return st;
    size_t np = (size_t)img->w * (size_t)img->h;
    float *full = NULL;
    uint8_t *a = NULL;
    if ((st = adapter_run_image(ctx, &ad, img))) goto done;
    full = malloc(np * sizeof(float));
    a = malloc(np);
    if (!full || !a) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory in the neural matte"); goto done; }
    if ((st = adapter_map_back(ctx, &ad, 0, full, img->w, img->h))) goto done;
    for (size_t i = 0; i < np; i++) a[i] = to8(full[i] * 255.0);
    if ((st = select_components(ctx, a, img->w, img->h, hint, carve__opt_enum(ctx, CARVE_OPTID_matte_components))))
        goto done;
    if ((st = carve__progress(ctx, 1, "nn"))) goto done;
    *alpha = a;
    a = NULL;
done:
    free(full);
    free(a);
    adapter_close(&ad);
    return st;
}

carve_status carve__nn_matte(carve_ctx *ctx, const carve_image *img, uint8_t **alpha) {
    return carve__nn_matte_hint(ctx, img, NULL, alpha);
}

/* ---- text detection --------------------------------------------------------- */
static int cmp_box(const void *pa, const void *pb) {
    const carve__box *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->y != b->y) return a->y < b->y ? -1 : 1;
    return a->x < b->x ? -1 : a->x > b->x;
}

carve_status carve__nn_text_detect(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n) {
    *boxes = NULL;
    *n = 0;
    carve_status st = check_image(ctx, img, "text detection");
    if (st) return st;
    adapter ad;
    if ((st = adapter_open(ctx, "text_detect", &ad))) return st;
    const carve__nn_model *m = ad.m;
    int nb = 0, oh = 0, ow = 0;
    float *plane = NULL;
    carve__db_box *db = NULL;
    carve__box *res = NULL;
    if ((st = adapter_run_image(ctx, &ad, img))) goto done;
    oh = ad.oh, ow = ad.ow;
    if (!(plane = out_plane(m, &ad.out, ad.oc, oh, ow, 0))) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = carve__db_postprocess(ctx, plane, ow, oh, m->threshold, m->box_score, m->unclip, m->max_candidates, &db, &nb)))
        goto done;
    if (nb && !(res = calloc((size_t)nb, sizeof *res))) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
    double sx = (double)img->w / ow, sy = (double)img->h / oh;
    int k = 0;
    for (int i = 0; i < nb; i++) {
        double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
        for (int j = 0; j < 4; j++) {
            double x = (db[i].quad[2 * j] + 0.5) * sx, y = (db[i].quad[2 * j + 1] + 0.5) * sy;
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
        int ix0 = carve__clampi((int)floor(x0), 0, img->w), iy0 = carve__clampi((int)floor(y0), 0, img->h);
        int ix1 = carve__clampi((int)ceil(x1), 0, img->w), iy1 = carve__clampi((int)ceil(y1), 0, img->h);
        if (ix1 <= ix0 || iy1 <= iy0) continue;
        carve__box *b = &res[k++];
        b->x = ix0, b->y = iy0, b->w = ix1 - ix0, b->h = iy1 - iy0;
        b->score = db[i].score;
        /* plate-like: a near-horizontal line of plate proportions, in the lower
         * part of the picture, of plausible height */
        double bw = db[i].w * sx, bh = db[i].h * sy, aspect = bh > 0 ? bw / bh : 0;
        double ang = fabs(db[i].angle) * 180 / M_PI, cy = 0.5 * (y0 + y1);
        bool plate = aspect >= 2.0 && aspect <= 6.5 && ang <= 20 && cy >= 0.6 * img->h && bh >= 0.008 * img->h &&
                     bh <= 0.12 * img->h;
        snprintf(b->kind, sizeof b->kind, "%s", plate ? "plate" : "text");
    }
    if (k > 1) qsort(res, (size_t)k, sizeof *res, cmp_box);
    if ((st = carve__progress(ctx, 1, "nn"))) goto done;
    if (k) *boxes = res, res = NULL;
    *n = k;
done:
    free(plane);
    free(db);
    free(res);
    adapter_close(&ad);
    return st;
}

/* ---- inpainting ------------------------------------------------------------- */
typedef struct region { int x0, y0, w, h; } region;

/* The mask's bounding box plus context around it (half its long side + 16);
 * false when the mask is empty. */
static bool inpaint_region(const carve_image *img, const uint8_t *mask, region *r) {
    int bx0 = img->w, by0 = img->h, bx1 = -1, by1 = -1;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            if (mask[(size_t)y * (size_t)img->w + (size_t)x]) {
                if (x < bx0) bx0 = x;
                if (x > bx1) bx1 = x;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
            }
    if (bx1 < 0) return false;
    int mw = bx1 - bx0 + 1, mh = by1 - by0 + 1, margin = (mw > mh ? mw : mh) / 2 + 16;
    int x0 = bx0 - margin < 0 ? 0 : bx0 - margin, y0 = by0 - margin < 0 ? 0 : by0 - margin;
    int x1 = bx1 + margin >= img->w ? img->w - 1 : bx1 + margin, y1 = by1 + margin >= img->h ? img->h - 1 : by1 + margin;
    *r = (region){x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    return true;
}

/* The mask's region resampled to tw x th and binarised (> 0 -> 1) into t. */
static carve_status mask_tensor(carve_ctx *ctx, const carve__nn_model *m, const uint8_t *mask, int iw, region r, int tw,
                                int th, carve__nn_tensor *t) {
    float *msrc = malloc((size_t)r.w * (size_t)r.h * sizeof(float));
    t->data = malloc((size_t)tw * (size_t)th * sizeof(float));
    carve_status st = CARVE_OK;
    if (!msrc || !t->data) st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory preparing %s's mask", m->name);
    for (int y = 0; !st && y < r.h; y++)
        for (int x = 0; x < r.w; x++)
            msrc[(size_t)y * (size_t)r.w + (size_t)x] = mask[(size_t)(r.y0 + y) * (size_t)iw + (size_t)(r.x0 + x)] ? 1.0f : 0.0f;
    if (!st) st = carve__resize_plane(ctx, msrc, r.w, r.h, t->data, tw, th, CARVE_KERNEL_LINEAR);
    free(msrc);
    if (st) return st;
    for (size_t i = 0; i < (size_t)tw * (size_t)th; i++) t->data[i] = t->data[i] > 0 ? 1.0f : 0.0f;
    t->rank = 4, t->shape[0] = 1;
    if (m->nhwc) t->shape[1] = th, t->shape[2] = tw, t->shape[3] = 1;
    else t->shape[1] = 1, t->shape[2] = th, t->shape[3] = tw;
    return CARVE_OK;
}

carve_status carve__nn_inpaint(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out) {
    *out = NULL;
    carve_status st = check_image(ctx, img, "inpaint");
    if (st) return st;
    if (!mask) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "neural inpaint: no mask");
    carve_image *res = carve_image_copy(img);
    if (!res) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    region r;
    if (!inpaint_region(img, mask, &r)) { *out = res; return CARVE_OK; } /* nothing to erase */
    adapter ad;
    if ((st = adapter_open(ctx, "inpaint", &ad))) { carve_image_destroy(res); return st; }
    carve__nn_tensor in[2] = {{0}, {0}};
    float *back = NULL;
    if ((st = input_size(ctx, ad.m, r.w, r.h, &ad.tw, &ad.th))) goto done;
    if ((st = image_tensor(ctx, ad.m, img, r.x0, r.y0, r.w, r.h, ad.tw, ad.th, &in[0]))) goto done;
    if ((st = mask_tensor(ctx, ad.m, mask, img->w, r, ad.tw, ad.th, &in[1]))) goto done;
    if ((st = adapter_run(ctx, &ad, in, 2))) goto done;
    if ((st = adapter_want_channels(ctx, &ad, 3, "inpaint "))) goto done;
    if (!(back = malloc((size_t)r.w * (size_t)r.h * sizeof(float)))) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = adapter_write_rgb(ctx, &ad, back, r.w, r.h, res, r.x0, r.y0, mask))) goto done;
    if ((st = carve__progress(ctx, 1, "nn"))) goto done;
    *out = res;
    res = NULL;
done:
    carve__nn_tensor_free(&in[0]);
    carve__nn_tensor_free(&in[1]);
    free(back);
    carve_image_destroy(res);
    adapter_close(&ad);
    return st;
}

/* ---- super-resolution -------------------------------------------------------- */
static carve_status sr_check_size(carve_ctx *ctx, const carve__nn_model *m, const carve_image *img) {
    if (m->size_mode == CARVE_NN_SIZE_FIXED)
        return carve__fail(ctx, CARVE_ERR_UNSUPPORTED, "model %s: super_resolution needs size_policy \"any\" or \"cap\"", m->name);
    if (m->long_side > 0 && (img->w > m->long_side || img->h > m->long_side))
        return carve__fail(ctx, CARVE_ERR_TOO_LARGE, "neural super_resolution: %dx%d is over model %s's long side %d",
                           img->w, img->h, m->name, m->long_side);
    return CARVE_OK;
}

carve_status carve__nn_super_resolution(carve_ctx *ctx, const carve_image *img, carve_image **out) {
    *out = NULL;
    carve_status st = check_image(ctx, img, "super_resolution");
    adapter ad;
    if (st || (st = adapter_open(ctx, "super_resolution", &ad))) return st;
    carve_image *res = NULL;
    float *asrc = NULL, *dst = NULL;
    if ((st = sr_check_size(ctx, ad.m, img))) goto done;
    if ((st = adapter_run_image(ctx, &ad, img))) goto done;
    if ((st = adapter_want_channels(ctx, &ad, 3, ""))) goto done;
    /* the output covers the (rounded) input: map it to scale x the image */
    double sc = (double)ad.ow / ad.tw;
    int W = (int)lround(img->w * sc), H = (int)lround(img->h * sc);
    if (W < 1 || H < 1 || sc < 1) { st = carve__fail(ctx, CARVE_ERR_BACKEND, "model %s: output %dx%d is smaller than its input %dx%d", ad.m->name, ad.ow, ad.oh, ad.tw, ad.th); goto done; }
    res = carve_image_create(W, H);
    dst = malloc((size_t)W * (size_t)H * sizeof(float));
    asrc = malloc((size_t)img->w * (size_t)img->h * sizeof(float));
    if (!res || !dst || !asrc) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = adapter_write_rgb(ctx, &ad, dst, W, H, res, 0, 0, NULL))) goto done;
    /* alpha: the input's, resampled with the same filter */
    carve__image_plane(img, 3, 0, 0, img->w, img->h, asrc);
    if ((st = carve__resize_plane(ctx, asrc, img->w, img->h, dst, W, H, CARVE_KERNEL_LINEAR))) goto done;
    for (size_t i = 0; i < (size_t)W * (size_t)H; i++) res->px[4 * i + 3] = to8(dst[i]);
    if ((st = carve__progress(ctx, 1, "nn"))) goto done;
    *out = res;
    res = NULL;
done:
    carve_image_destroy(res);
    free(asrc);
    free(dst);
    adapter_close(&ad);
    return st;
}

/* ---- depth -------------------------------------------------------------------- */
carve_status carve__nn_depth(carve_ctx *ctx, const carve_image *img, float **depth) {
    *depth = NULL;
    carve_status st = check_image(ctx, img, "depth");
    adapter ad;
    if (st || (st = adapter_open(ctx, "depth", &ad))) return st;
    size_t np = (size_t)img->w * (size_t)img->h;
    float *d = NULL;
    if ((st = adapter_run_image(ctx, &ad, img))) goto done;
    if (!(d = malloc(np * sizeof(float)))) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = adapter_map_back(ctx, &ad, 0, d, img->w, img->h))) goto done;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < np; i++) {
        if (!isfinite(d[i])) d[i] = 0;
        lo = fminf(lo, d[i]), hi = fmaxf(hi, d[i]);
    }
    for (size_t i = 0; i < np; i++) d[i] = hi > lo ? (d[i] - lo) / (hi - lo) : 0;
    if ((st = carve__progress(ctx, 1, "nn"))) goto done;
    *depth = d;
    d = NULL;
done:
    free(d);
    adapter_close(&ad);
    return st;
}
