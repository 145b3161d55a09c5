/* quantize.c — carve_quantize (phase 3 entry point), palette from options,
 * and carve_upscale through libvips. */
#include "chroma.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct paint_job {
    const uint16_t *idx;
    const uint32_t *rgb;
    carve_image *out;
} paint_job;

static int paint_band(void *arg, int64_t band) {
    paint_job *j = arg;
    int w = j->out->w, y0 = (int)band * 64, y1 = y0 + 64 < j->out->h ? y0 + 64 : j->out->h;
    for (size_t i = (size_t)y0 * w; i < (size_t)y1 * w; i++) {
        uint8_t *o = j->out->px + 4 * i;
        if (j->idx[i] == CARVE__LABEL_VOID) {
            o[0] = o[1] = o[2] = o[3] = 0;
        } else {
            uint32_t c = j->rgb[j->idx[i]];
            o[0] = (uint8_t)(c >> 16);
            o[1] = (uint8_t)(c >> 8);
            o[2] = (uint8_t)c;
            o[3] = 255;
        }
    }
    return 0;
}

carve_status carve_quantize(carve_ctx *ctx, const carve_image *in, const carve_palette *pal, carve_image **out) {
    if (out) *out = NULL;
    if (!in || !pal || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_quantize: NULL argument");
    if (pal->n < 1) return carve__fail(ctx, CARVE_ERR_PALETTE, "palette '%s' has no colours", pal->name);
    if (in->w <= 0 || in->h <= 0)
        return carve__fail(ctx, CARVE_ERR_EMPTY, "cannot quantize an empty image (%dx%d)", in->w, in->h);
    int w = in->w, h = in->h;
    size_t npx = (size_t)w * h;
    double lab[CARVE_PALETTE_MAX][3];
    for (int i = 0; i < pal->n; i++) carve_rgb_to_lab(pal->rgb[i], lab[i]);
    carve__lab_pal *lp = malloc(sizeof *lp);
    uint16_t *idx = malloc(npx * sizeof *idx);
    carve_image *src = NULL, *res = NULL;
    carve_status st = CARVE_OK;
    if (!lp || !idx) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (%dx%d index map)", w, h);
        goto done;
    }
    carve__lab_pal_init(lp, (const double(*)[3])lab, pal->n);

    double smooth = carve__opt_float(ctx, CARVE_OPTID_smooth);
    int dither = carve__opt_enum(ctx, CARVE_OPTID_dither);
    int majority = (int)carve__opt_int(ctx, CARVE_OPTID_majority);
    int min_region = (int)carve__opt_int(ctx, CARVE_OPTID_min_region);

    const carve_image *cur = in;
    carve__range r;
    if (smooth > 0) {
        src = carve_image_copy(in);
        if (!src) {
            st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (smoothing copy)");
            goto done;
        }
        r = carve__progress_push(ctx, 0, 0.25);
        st = carve__smooth(ctx, src, smooth);
        carve__progress_pop(ctx, r);
        if (st) goto done;
        cur = src;
    }
    r = carve__progress_push(ctx, 0.25, 0.6);
    if (dither == CARVE__DITHER_FLOYD_STEINBERG) st = carve__dither_fs(ctx, cur, lp, pal->rgb, idx);
    else st = carve__map_indices(ctx, cur, lp, idx);
    carve__progress_pop(ctx, r);
    if (st) goto done;
    if (majority > 0) {
        r = carve__progress_push(ctx, 0.6, 0.75);
        st = carve__majority(ctx, idx, w, h, pal->n, majority);
        carve__progress_pop(ctx, r);
        if (st) goto done;
    }
    if (min_region > 1) {
        r = carve__progress_push(ctx, 0.75, 0.98);
        int64_t merged = 0;
        st = carve__merge_small_regions(ctx, idx, w, h, (const double(*)[3])lp->lab, lp->n, min_region, "despeckle",
                                          &merged);
        carve__progress_pop(ctx, r);
        if (st) goto done;
        carve__log(ctx, CARVE_LOG_DEBUG, "quantize: merged %lld regions under %d px", (long long)merged, min_region);
    }
    res = carve_image_create(w, h);
    if (!res) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (%dx%d output)", w, h);
        goto done;
    }
    paint_job pj = {idx, pal->rgb, res};
    carve__parallel_for(carve__threads(ctx), (h + 63) / 64, paint_band, &pj);
    st = carve__progress(ctx, 1, "quantize");
done:
    if (st) carve_image_destroy(res);
    else *out = res;
    carve_image_destroy(src);
    free(idx);
    free(lp);
    return st;
}

/* ---- palette from options ---------------------------------------------------- */
carve_status carve__chroma_palette_from_options(carve_ctx *ctx, const carve_image *img, carve_palette **out) {
    if (out) *out = NULL;
    if (!out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "NULL argument");
    const char *name = carve__opt_str(ctx, CARVE_OPTID_palette);
    if (name && *name) {
        carve_status st = carve_palette_resolve(ctx, name, out);
        if (st) carve__errprefix(ctx, "option palette");
        return st;
    }
    if (!img) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no palette and no image to choose one from");
    int k = (int)carve__opt_int(ctx, CARVE_OPTID_colors);
    const char *lock = carve__opt_str(ctx, CARVE_OPTID_lock);
    carve_palette *locked = NULL;
    if (lock && *lock) {
        carve_status st = carve_palette_parse(ctx, lock, strlen(lock), "option lock", &locked);
        if (st) return st;
    }
    carve_status st = carve_palette_from_image(ctx, img, k, locked, out);
    carve_palette_destroy(locked);
    return st;
}

/* ---- upscaling ------------------------------------------------------------------ */
double carve__chroma_upscale_factor(const carve_ctx *ctx, int w, int h) {
    double f = carve__opt_float(ctx, CARVE_OPTID_upscale);
    int to = (int)carve__opt_int(ctx, CARVE_OPTID_upscale_to);
    int longest = w > h ? w : h;
    if (to > 0 && longest > 0 && longest < to) {
        double g = (double)to / longest;
        if (g > f) f = g;
    }
    if (f < 1) f = 1;
    if (f > 8) f = 8;
    return f;
}


carve_status carve_upscale(carve_ctx *ctx, const carve_image *in, double factor, carve_image **out) {
    if (out) *out = NULL;
    if (!in || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_upscale: NULL argument");
    if (!(factor >= 1 && factor <= 8))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "upscale factor %g is outside 1..8", factor);
    if (in->w <= 0 || in->h <= 0)
        return carve__fail(ctx, CARVE_ERR_EMPTY, "cannot upscale an empty image (%dx%d)", in->w, in->h);
    int64_t ow = (int64_t)llround(in->w * factor), oh = (int64_t)llround(in->h * factor);
    int64_t maxpx = carve__opt_int(ctx, CARVE_OPTID_max_pixels);
    if (maxpx > 0 && ow * oh > maxpx)
        return carve__fail(ctx, CARVE_ERR_TOO_LARGE, "upscaling %dx%d by %g gives %lldx%lld = %lld pixels, over max_pixels %lld",
                           in->w, in->h, factor, (long long)ow, (long long)oh, (long long)(ow * oh), (long long)maxpx);
    if (factor == 1) {
        *out = carve_image_copy(in);
        return *out ? CARVE_OK : carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    carve_status st = carve__progress(ctx, 0, "upscale");
    if (st) return st;
    int kernel = carve__opt_enum(ctx, CARVE_OPTID_upscale_kernel); /* a CARVE_KERNEL_* (core.h) */
    st = carve__resize(ctx, in, (int)ow, (int)oh, kernel, out);
    if (st) {
        if (st != CARVE_ERR_NOMEM) carve__errprefix(ctx, "upscale");
        return st;
    }
    return carve__progress(ctx, 1, "upscale");
}
