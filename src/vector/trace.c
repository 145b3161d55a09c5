/* trace.c — carve_trace: an image of few flat colours to a seam-free SVG.
 * See docs/vector.md for the design. */
#include "stroke.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fit_job {
    vec_topo *t;
    const vec_fit_params *p;
    int64_t lo, hi, per;
    const carve_ctx *ctx;
} fit_job;

/* most tolerance (px) of a chain against transparency: nothing hides a
 * corner cut there (between two opaque regions the gap filler does), so the
 * pixels next to transparency keep their coverage >= 250 */
#define VOID_TOLERANCE 0.6

static int fit_task(void *arg, int64_t i) {
    fit_job *j = arg;
    int64_t a = j->lo + i * j->per, b = a + j->per;
    if (b > j->hi) b = j->hi;
    vec_scratch sc = {0};
    int rc = 0;
    vec_fit_params tight = *j->p;
    tight.poly_eps = fmin(tight.poly_eps, VOID_TOLERANCE);
    tight.fit_tol = fmin(tight.fit_tol, VOID_TOLERANCE);
    for (int64_t k = a; k < b && !rc; k++) {
        const vec_chain *c = &j->t->chains[k];
        const vec_fit_params *p = c->left < 0 || c->right < 0 ? &tight : j->p;
        if (((k - a) & 255) == 255 && carve__cancelled(j->ctx)) rc = 2;
        else if (carve__vec_fit_chain(j->t, &j->t->chains[k], p, &sc)) rc = 1;
    }
    carve__vec_scratch_free(&sc);
    return rc;
}

/* detail 1 .. 0 maps to a merge cost (px x CIEDE2000) of 0 .. 10^DETAIL_DECADES */
#define DETAIL_DECADES 6.0

/* the detail budget: options detail and max_paths (docs/vector.md) */
static carve_status simplify(carve_ctx *ctx, vec_labels *lab) {
    double detail = carve__opt_float(ctx, CARVE_OPTID_detail);
    int64_t max_paths = carve__opt_int(ctx, CARVE_OPTID_max_paths);
    double max_cost = pow(10.0, DETAIL_DECADES * (1.0 - detail)) - 1.0;
    if (max_cost < 1e-9 && max_paths <= 0) return CARVE_OK;
    double clab[256][3];
    for (int i = 0; i < lab->ncolors; i++) carve_rgb_to_lab(lab->colors[i], clab[i]);
    int64_t m = 0;
    carve__range sr = carve__progress_push(ctx, 0.13, 0.15);
    carve_status st = carve__merge_insignificant_regions(ctx, lab->lab, lab->w, lab->h, (const double(*)[3])clab,
                                                         lab->ncolors, max_cost, max_paths, "trace", &m);
    carve__progress_pop(ctx, sr);
    carve__log(ctx, CARVE_LOG_DEBUG, "trace: detail %g (cost %g), max_paths %lld merged %lld regions", detail, max_cost,
               (long long)max_paths, (long long)m);
    return st;
}

static carve_status check_input(carve_ctx *ctx, const carve_image *in) {
    if (in->w <= 0 || in->h <= 0 || !in->px)
        return carve__fail(ctx, CARVE_ERR_EMPTY, "trace: the image is empty (%dx%d pixels)", in->w, in->h);
    if ((int64_t)in->w * in->h > carve__opt_int(ctx, CARVE_OPTID_max_pixels))
        return carve__fail(ctx, CARVE_ERR_TOO_LARGE, "trace: the image has %lld pixels, more than max_pixels = %lld",
                           (long long)in->w * in->h, (long long)carve__opt_int(ctx, CARVE_OPTID_max_pixels));
    return CARVE_OK;
}

/* speckle filter: core's small-region merging (docs/core.md) */
static carve_status speckle(carve_ctx *ctx, vec_labels *lab) {
    int64_t speck = carve__opt_int(ctx, CARVE_OPTID_filter_speckle);
    if (speck <= 1) return CARVE_OK;
    double clab[256][3];
    for (int i = 0; i < lab->ncolors; i++) carve_rgb_to_lab(lab->colors[i], clab[i]);
    int64_t m = 0;
    carve__range sr = carve__progress_push(ctx, 0.05, 0.13);
    carve_status st = carve__merge_small_regions(ctx, lab->lab, lab->w, lab->h, (const double(*)[3])clab, lab->ncolors,
                                                 speck, "trace", &m);
    carve__progress_pop(ctx, sr);
    if (!st) carve__log(ctx, CARVE_LOG_DEBUG, "trace: filter_speckle %lld merged %lld regions", (long long)speck, (long long)m);
    return st;
}

/* fits every chain once, in parallel; each writes only its own chain */
static carve_status fit_all(carve_ctx *ctx, vec_topo *topo, int mode) {
    vec_fit_params fp;
    fp.mode = mode;
    fp.corner_deg = carve__opt_float(ctx, CARVE_OPTID_corner_threshold);
    fp.length_px = carve__opt_float(ctx, CARVE_OPTID_length_threshold);
    fp.splice_deg = carve__opt_float(ctx, CARVE_OPTID_splice_threshold);
    fp.scale = pow(10.0, (double)carve__opt_int(ctx, CARVE_OPTID_path_precision));
    fp.poly_eps = carve__opt_float(ctx, CARVE_OPTID_trace_tolerance);
    fp.fit_tol = fp.poly_eps;
    int threads = carve__threads(ctx);
    const int64_t step = 1 << 14, per = 256;
    for (int64_t lo = 0; lo < topo->nchains; lo += step) {
        int64_t hi = lo + step < topo->nchains ? lo + step : topo->nchains;
        fit_job job = {topo, &fp, lo, hi, per, ctx};
        int rc = carve__parallel_for(threads, (hi - lo + per - 1) / per, fit_task, &job);
        if (rc == 2 || carve__cancelled(ctx)) return carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled during trace");
        if (rc) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory while fitting curves");
        carve_status st = carve__progress(ctx, 0.35 + 0.5 * (double)hi / (double)topo->nchains, "trace");
        if (st) return st;
    }
    return CARVE_OK;
}

/* the IR, then the document */
static carve_status write_doc(carve_ctx *ctx, const vec_labels *lab, const vec_topo *topo, const vec_strokes *sk,
                              const vec_out_params *op, char **out, size_t *outlen) {
    bool cut = carve__opt_bool(ctx, CARVE_OPTID_cut);
    vec_build_params bp = {(int)carve__opt_int(ctx, CARVE_OPTID_path_precision),
                           !cut && carve__opt_bool(ctx, CARVE_OPTID_stacked),
                           !cut && carve__opt_bool(ctx, CARVE_OPTID_gap_filler), VEC_GAP_WIDTH_PX, cut,
                           VEC_CUT_WIDTH_MM / op->mm_per_px};
    vec_geom geom;
    carve__range r = carve__progress_push(ctx, 0.85, 0.92);
    carve_status st = carve__vec_build_geom(ctx, lab, topo, &bp, &geom);
    if (!st) st = carve__vec_add_strokes(ctx, sk, &geom); /* the stroke layers, on top (stroke.c) */
    carve__progress_pop(ctx, r);
    if (st) {
        carve__vec_geom_free(&geom);
        return st;
    }
    r = carve__progress_push(ctx, 0.92, 1.0);
    st = carve__vec_write(ctx, &geom, op, out, outlen);
    carve__progress_pop(ctx, r);
    carve__vec_geom_free(&geom);
    return st;
}

carve_status carve__vec_trace_doc(carve_ctx *ctx, const carve_image *in, double disp_w, double disp_h, char **doc,
                                  size_t *len) {
    return carve__vec_trace_doc_ex(ctx, in, disp_w, disp_h, NULL, NULL, doc, len);
}

carve_status carve__vec_trace_doc_ex(carve_ctx *ctx, const carve_image *in, double disp_w, double disp_h,
                                     const uint8_t *outline, vec_stroke_stats *stats, char **doc, size_t *len) {
    return carve__vec_trace_doc_mode(ctx, in, disp_w, disp_h, carve__opt_enum(ctx, CARVE_OPTID_mode), outline, stats,
                                     doc, len);
}

carve_status carve__vec_trace_doc_mode(carve_ctx *ctx, const carve_image *in, double disp_w, double disp_h, int mode,
                                       const uint8_t *outline, vec_stroke_stats *stats, char **doc, size_t *len) {
    carve_status st;
    vec_out_params op;
    if ((st = check_input(ctx, in)) || (st = carve__vec_out_params(ctx, in->w, in->h, disp_w, disp_h, &op))) return st;
    if ((st = carve__progress(ctx, 0, "trace"))) return st;
    vec_labels lab;
    vec_topo topo;
    memset(&topo, 0, sizeof topo);
    vec_strokes strokes;
    memset(&strokes, 0, sizeof strokes);
    char *out = NULL;
    size_t outlen = 0;
    st = carve__vec_labels(ctx, in, (int)carve__opt_int(ctx, CARVE_OPTID_max_colors), &lab);
    if (st) {
        carve__vec_labels_free(&lab);
        return st;
    }
    if ((st = carve__vec_stroke_layers(ctx, &lab, outline, &strokes, stats))) goto done;
    if ((st = carve__progress(ctx, 0.05, "trace")) || (st = speckle(ctx, &lab)) || (st = simplify(ctx, &lab))) goto done;
    if (carve__opt_bool(ctx, CARVE_OPTID_cut) && (st = carve__vec_cut_filter(ctx, &lab, op.mm_per_px))) goto done;
    if ((st = carve__progress(ctx, 0.15, "trace"))) goto done;
    carve__range r = carve__progress_push(ctx, 0.15, 0.35);
    st = carve__vec_topology(ctx, &lab, &topo);
    carve__progress_pop(ctx, r);
    if (!st && mode == VEC_MODE_SPLINE &&
        carve__vec_find_shapes(&topo, carve__opt_float(ctx, CARVE_OPTID_trace_tolerance)))
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
    if (!st) carve__log(ctx, CARVE_LOG_DEBUG, "trace: %d ellipses", (int)topo.nell);
    if (st || (st = carve__progress(ctx, 0.35, "trace")) || (st = fit_all(ctx, &topo, mode))) goto done;
    if ((st = write_doc(ctx, &lab, &topo, &strokes, &op, &out, &outlen))) goto done;
    st = carve__progress(ctx, 1.0, "trace");
done:
    carve__vec_strokes_free(&strokes);
    carve__vec_topo_free(&topo);
    carve__vec_labels_free(&lab);
    if (st) {
        free(out);
        return st;
    }
    *doc = out;
    if (len) *len = outlen;
    return CARVE_OK;
}

carve_status carve_trace(carve_ctx *ctx, const carve_image *in, char **svg, size_t *len) {
    if (svg) *svg = NULL;
    if (len) *len = 0;
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!in || !svg) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "trace: NULL %s", in ? "svg pointer" : "image");
    return carve__vec_trace_doc(ctx, in, 0, 0, svg, len);
}
