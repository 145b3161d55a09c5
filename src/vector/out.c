/* out.c — how a document is written: format, grouping and physical size
 * from the options (docs/vector.md, "Formats and size"), and the writer
 * dispatch. */
#include "vector.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CSS_DPI 96.0
#define MM_PER_IN 25.4
#define DOC_MAX_MM 10000.0 /* 10 m */

static double unit_mm(const char *unit) {
    if (!strcmp(unit, "cm")) return 10.0;
    if (!strcmp(unit, "in")) return MM_PER_IN;
    if (!strcmp(unit, "pt")) return MM_PER_IN / 72.0;
    if (!strcmp(unit, "px")) return MM_PER_IN / CSS_DPI;
    return 1.0;
}

/* parses length option id ("" = unset: 0) */
static carve_status length_opt(carve_ctx *ctx, int id, const char *key, double *mm, char unit[4]) {
    const char *s = carve__opt_str(ctx, id);
    *mm = 0;
    if (!s || !*s) return CARVE_OK;
    char err[256];
    if (carve__parse_length(s, mm, unit, err, sizeof err))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option %s: %s", key, err);
    return CARVE_OK;
}

carve_status carve__vec_out_params(carve_ctx *ctx, int w, int h, double disp_w, double disp_h, vec_out_params *o) {
    memset(o, 0, sizeof *o);
    o->format = carve__opt_enum(ctx, CARVE_OPTID_format);
    o->group_by = carve__opt_enum(ctx, CARVE_OPTID_group_by);
    if (disp_w <= 0 || disp_h <= 0) {
        disp_w = w;
        disp_h = h;
    }
    double wmm, hmm, dpi = carve__opt_float(ctx, CARVE_OPTID_dpi);
    char wu[4] = "", hu[4] = "";
    carve_status st;
    if ((st = length_opt(ctx, CARVE_OPTID_width, "width", &wmm, wu))) return st;
    if ((st = length_opt(ctx, CARVE_OPTID_height, "height", &hmm, hu))) return st;
    double k; /* mm per display px */
    if (!wmm && !hmm) {
        k = MM_PER_IN / dpi;
        if (dpi != CSS_DPI) snprintf(o->unit, sizeof o->unit, "in");
    } else {
        double kw = wmm ? wmm / disp_w : INFINITY, kh = hmm ? hmm / disp_h : INFINITY;
        k = kw < kh ? kw : kh; /* both given: the drawing fits inside the box */
        snprintf(o->unit, sizeof o->unit, "%s", wmm ? wu : hu);
    }
    double dw = disp_w * k, dh = disp_h * k;
    if ((wmm || hmm || dpi != CSS_DPI) && (dw > DOC_MAX_MM || dh > DOC_MAX_MM))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE,
                           "trace: the document would be %.0f x %.0f mm, more than 10 m (options width/height/dpi)", dw, dh);
    if (*o->unit) {
        o->doc_w = dw / unit_mm(o->unit);
        o->doc_h = dh / unit_mm(o->unit);
    } else {
        o->doc_w = disp_w;
        o->doc_h = disp_h;
    }
    o->mm_per_px = dw / w;
    return CARVE_OK;
}

carve_status carve__vec_write(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len) {
    switch (o->format) {
    case VEC_FMT_PDF: return carve__vec_write_pdf(ctx, g, o, doc, len);
    case VEC_FMT_EPS: return carve__vec_write_eps(ctx, g, o, doc, len);
    case VEC_FMT_DXF: return carve__vec_write_dxf(ctx, g, o, doc, len);
    default: return carve__vec_write_svg(ctx, g, o, doc, len);
    }
}
