/* eps.c — the IR as Encapsulated PostScript (level 2), written directly: the
 * prolog defines the PDF operator names the shared content (ops.c) uses, so
 * EPS and PDF draw exactly the same paths.  No creation date: the bytes
 * depend only on the geometry.  The CutContour stroke uses a Separation
 * colour space named CutContour (alternate: magenta), announced with
 * %%DocumentCustomColors / %%CMYKCustomColor. */
#include "ops.h"

#include <math.h>
#include <stdio.h>

#define PT_PER_MM (72.0 / 25.4)
#define BBOX_EPS 1e-6 /* a size computed as 768.0000001 pt is 768 */

static const char prolog[] =
    "%%BeginProlog\n"
    "/carve_dict 24 dict def carve_dict begin\n"
    "/m {moveto} bind def /l {lineto} bind def /c {curveto} bind def /h {closepath} bind def\n"
    "/f {fill} bind def /S {stroke} bind def /q {gsave} bind def /Q {grestore} bind def\n"
    "/rg {setrgbcolor} bind def /w {setlinewidth} bind def /J {setlinecap} bind def\n"
    "/j {setlinejoin} bind def /cm {6 array astore concat} bind def\n"
    "/CutContourCS [/Separation (" VEC_CUT_SPOT_NAME ") /DeviceRGB {1 exch sub 1 exch 1}] def\n"
    "end\n"
    "%%EndProlog\n";

carve_status carve__vec_write_eps(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len) {
    double pw = g->w * o->mm_per_px * PT_PER_MM, ph = g->h * o->mm_per_px * PT_PER_MM;
    bool spot = false;
    for (int64_t i = 0; i < g->nitems; i++)
        if (g->items[i].kind == VEC_ITEM_STROKE && g->items[i].color == VEC_COLOR_SPOT) spot = true;
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_printf(&b, "%%!PS-Adobe-3.0 EPSF-3.0\n%%%%Creator: carve %s\n%%%%BoundingBox: 0 0 %.0f %.0f\n"
                          "%%%%HiResBoundingBox: 0 0 %.4f %.4f\n%%%%LanguageLevel: 2\n",
                      carve_version(), ceil(pw - BBOX_EPS), ceil(ph - BBOX_EPS), pw, ph);
    if (spot)
        carve__buf_puts(&b, "%%DocumentCustomColors: (" VEC_CUT_SPOT_NAME ")\n"
                            "%%CMYKCustomColor: 0 1 0 0 (" VEC_CUT_SPOT_NAME ")\n");
    carve__buf_puts(&b, "%%EndComments\n");
    carve__buf_puts(&b, prolog);
    carve__buf_puts(&b, "%%Page: 1 1\ncarve_dict begin\n");
    carve_status st = carve__vec_ops_content(ctx, g, o, true, ph, &b);
    if (st) {
        carve__buf_free(&b);
        return st;
    }
    carve__buf_puts(&b, "end\nshowpage\n%%Trailer\n%%EOF\n");
    if (b.oom) {
        carve__buf_free(&b);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the EPS");
    }
    *doc = carve__buf_take(&b, len);
    return *doc ? CARVE_OK : carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the EPS");
}
