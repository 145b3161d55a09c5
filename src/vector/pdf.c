/* pdf.c — the IR as a one-page PDF 1.5, written directly (no cairo): the
 * same operators as the EPS writer (ops.c), an uncompressed content stream,
 * no creation date or ID, so the bytes depend only on the geometry.
 *
 * Objects: 1 catalog, 2 pages, 3 page, 4 content stream, 5 the CutContour
 * Separation colour space (cut mode), then one optional content group per
 * palette colour (group_by layer) and one, OBJ_STROKES, for the outline /
 * centreline strokes when there are any. */
#include "ops.h"

#include <stdio.h>
#include <string.h>

#define PT_PER_MM (72.0 / 25.4)
#define OBJ_STROKES (6 + 256) /* the "strokes" optional content group */
#define OBJ_MAX (OBJ_STROKES + 1)

typedef struct pdfw {
    carve__buf *b;
    size_t off[OBJ_MAX];
    int nobj;
} pdfw;

static void obj_begin(pdfw *p, int id) {
    p->off[id] = p->b->len;
    if (id >= p->nobj) p->nobj = id + 1;
    carve__buf_printf(p->b, "%d 0 obj\n", id);
}

/* the colours that fill something (the optional content groups) */
static int used_colors(const vec_geom *g, bool used[256]) {
    int n = 0;
    memset(used, 0, 256);
    for (int64_t i = 0; i < g->nitems; i++)
        if (g->items[i].kind == VEC_ITEM_FILL && !used[g->items[i].color]) {
            used[g->items[i].color] = true;
            n++;
        }
    return n;
}

/* the list of optional content groups: one per used colour, then strokes */
static void put_ocg_refs(pdfw *p, const vec_geom *g, const bool used[256]) {
    int k = 0;
    for (int c = 0; c < g->ncolors; c++)
        if (used[c]) carve__buf_printf(p->b, "%s%d 0 R", k++ ? " " : "", 6 + c);
    if (carve__vec_ops_has_strokes(g)) carve__buf_printf(p->b, "%s%d 0 R", k ? " " : "", OBJ_STROKES);
}

static void put_catalog(pdfw *p, const vec_geom *g, const vec_out_params *o, const bool used[256]) {
    obj_begin(p, 1);
    carve__buf_puts(p->b, "<< /Type /Catalog /Pages 2 0 R");
    if (o->group_by == VEC_GROUP_LAYER) {
        carve__buf_puts(p->b, "\n/OCProperties << /OCGs [");
        put_ocg_refs(p, g, used);
        carve__buf_puts(p->b, "] /D << /Order [");
        put_ocg_refs(p, g, used);
        carve__buf_puts(p->b, "] >> >>");
    }
    carve__buf_puts(p->b, " >>\nendobj\n");
    obj_begin(p, 2);
    carve__buf_puts(p->b, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
}

static void put_page(pdfw *p, const vec_geom *g, const vec_out_params *o, const bool used[256], bool spot, double pw,
                     double ph) {
    obj_begin(p, 3);
    carve__buf_printf(p->b, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Contents 4 0 R\n/Resources <<", pw, ph);
    if (spot) carve__buf_puts(p->b, " /ColorSpace << /CutContour 5 0 R >>");
    if (o->group_by == VEC_GROUP_LAYER) {
        carve__buf_puts(p->b, " /Properties <<");
        for (int c = 0; c < g->ncolors; c++)
            if (used[c]) carve__buf_printf(p->b, " /L%d %d 0 R", c, 6 + c);
        if (carve__vec_ops_has_strokes(g)) carve__buf_printf(p->b, " /Lstrokes %d 0 R", OBJ_STROKES);
        carve__buf_puts(p->b, " >>");
    }
    carve__buf_puts(p->b, " >> >>\nendobj\n");
}

static void put_tail_objects(pdfw *p, const vec_geom *g, const vec_out_params *o, const bool used[256], bool spot) {
    if (spot) {
        obj_begin(p, 5);
        carve__buf_puts(p->b, "[/Separation /" VEC_CUT_SPOT_NAME " /DeviceRGB\n"
                              "<< /FunctionType 2 /Domain [0 1] /C0 [1 1 1] /C1 [1 0 1] /N 1 >>]\nendobj\n");
    }
    if (o->group_by != VEC_GROUP_LAYER) return;
    for (int c = 0; c < g->ncolors; c++) {
        if (!used[c]) continue;
        char hx[8];
        carve__hex(g->colors[c], hx);
        obj_begin(p, 6 + c);
        carve__buf_printf(p->b, "<< /Type /OCG /Name (color-%s) >>\nendobj\n", hx + 1);
    }
    if (carve__vec_ops_has_strokes(g)) {
        obj_begin(p, OBJ_STROKES);
        carve__buf_puts(p->b, "<< /Type /OCG /Name (strokes) >>\nendobj\n");
    }
}

static void put_xref(pdfw *p) {
    size_t xref = p->b->len;
    carve__buf_printf(p->b, "xref\n0 %d\n0000000000 65535 f \n", p->nobj);
    for (int i = 1; i < p->nobj; i++) {
        if (p->off[i]) carve__buf_printf(p->b, "%010zu 00000 n \n", p->off[i]);
        else carve__buf_puts(p->b, "0000000000 65535 f \n");
    }
    carve__buf_printf(p->b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", p->nobj, xref);
}

static bool has_spot(const vec_geom *g) {
    for (int64_t i = 0; i < g->nitems; i++)
        if (g->items[i].kind == VEC_ITEM_STROKE && g->items[i].color == VEC_COLOR_SPOT) return true;
    return false;
}

carve_status carve__vec_write_pdf(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len) {
    double pw = g->w * o->mm_per_px * PT_PER_MM, ph = g->h * o->mm_per_px * PT_PER_MM;
    carve__buf body, b;
    carve__buf_init(&body);
    carve__buf_init(&b);
    carve_status st = carve__vec_ops_content(ctx, g, o, false, ph, &body);
    if (st) goto fail;
    pdfw p;
    memset(&p, 0, sizeof p);
    p.b = &b;
    bool used[256], spot = has_spot(g);
    used_colors(g, used);
    carve__buf_puts(&b, "%PDF-1.5\n%\xe2\xe3\xcf\xd3\n");
    put_catalog(&p, g, o, used);
    put_page(&p, g, o, used, spot, pw, ph);
    obj_begin(&p, 4);
    carve__buf_printf(&b, "<< /Length %zu >>\nstream\n", body.len);
    carve__buf_put(&b, body.data, body.len);
    carve__buf_puts(&b, "endstream\nendobj\n");
    put_tail_objects(&p, g, o, used, spot);
    put_xref(&p);
    carve__buf_free(&body);
    if (b.oom) {
        carve__buf_free(&b);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the PDF");
    }
    *doc = carve__buf_take(&b, len);
    return *doc ? CARVE_OK : carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the PDF");
fail:
    carve__buf_free(&body);
    carve__buf_free(&b);
    return st;
}
