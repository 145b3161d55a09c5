/* ops.c — the page content shared by the PDF and EPS writers: the IR's items
 * as path-construction and painting operators (m l c h, f, S).  PDF and
 * PostScript differ only in the colour operators and the group brackets;
 * the EPS prolog defines the PDF operator names as PostScript procedures.
 *
 * Coordinates are written as the IR's integers; one `cm` (concat) maps them
 * to points, flipping y (the IR is y down, PDF/PS y up). */
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* appends an integer and a space */
static void put_int(carve__buf *b, int64_t v) {
    char s[24];
    int k = 23;
    s[k--] = ' ';
    uint64_t a = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        s[k--] = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    if (v < 0) s[k--] = '-';
    carve__buf_put_fast(b, s + k + 1, (size_t)(23 - k));
}

static void put_pt(carve__buf *b, int64_t x, int64_t y, const char *op) {
    put_int(b, x);
    put_int(b, y);
    carve__buf_put_fast(b, op, 2); /* "m\n", "l\n", "c\n" */
}

/* an arc as cubics of at most 90 degrees (geom.c), control points rounded
 * to the coordinate grid; a degenerate one as a line */
static void put_arc(carve__buf *b, int64_t x0, int64_t y0, const int64_t *p) {
    double c[VEC_ARC_MAX_CUBICS][6];
    int n = carve__vec_arc_cubics((double)x0, (double)y0, p, c);
    if (!n) put_pt(b, p[0], p[1], "l\n");
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) put_int(b, llround(c[i][k]));
        put_pt(b, llround(c[i][4]), llround(c[i][5]), "c\n");
    }
}

/* one subpath: m, l / c, h */
static void put_path(carve__buf *b, const vec_geom *g, const vec_gpath *pa) {
    put_pt(b, pa->sx, pa->sy, "m\n");
    const vec_gseg *s = g->segs + pa->seg_off;
    int64_t cx = pa->sx, cy = pa->sy;
    for (int32_t i = 0; i < pa->nseg; i++) {
        if (s[i].kind == VEC_SEG_CUBIC) {
            put_int(b, s[i].p[0]);
            put_int(b, s[i].p[1]);
            put_int(b, s[i].p[2]);
            put_int(b, s[i].p[3]);
            put_pt(b, s[i].p[4], s[i].p[5], "c\n");
        } else if (s[i].kind == VEC_SEG_ARC) {
            put_arc(b, cx, cy, s[i].p);
        } else {
            put_pt(b, vec_gseg_ex(&s[i]), vec_gseg_ey(&s[i]), "l\n");
        }
        cx = vec_gseg_ex(&s[i]);
        cy = vec_gseg_ey(&s[i]);
    }
    if (pa->closed) carve__buf_put_fast(b, "h\n", 2);
}

static void put_item(carve__buf *b, const vec_geom *g, const vec_item *it) {
    for (int64_t k = 0; k < it->npath; k++) put_path(b, g, &g->paths[it->path_off + k]);
}

/* "r g b " with 6 significant digits: exact after 8-bit rounding */
static void put_rgb(carve__buf *b, uint32_t rgb, const char *op) {
    carve__buf_printf(b, "%.6g %.6g %.6g %s\n", ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                      (rgb & 255) / 255.0, op);
}

static void stroke_style(carve__buf *b, const vec_geom *g, const vec_item *it, bool ps) {
    if (it->color == VEC_COLOR_SPOT) carve__buf_puts(b, ps ? "CutContourCS setcolorspace 1 setcolor\n" : "/CutContour CS 1 SCN\n");
    else put_rgb(b, g->colors[it->color], ps ? "rg" : "RG");
    carve__buf_printf(b, "%.6g w %d J\n", it->width * (double)g->unit, it->cap == VEC_CAP_BUTT ? 0 : 1);
}

/* a run of fill items of one colour from *i (grouped: each region its own
 * painted path inside q/Q, or a marked optional-content section in PDF) */
static void fill_run(carve__buf *b, const vec_geom *g, const vec_out_params *o, bool ps, int64_t *i) {
    const vec_item *it0 = &g->items[*i];
    int64_t e = *i;
    while (e < g->nitems && g->items[e].kind == VEC_ITEM_FILL && g->items[e].color == it0->color &&
           g->items[e].self_stroke == it0->self_stroke)
        e++;
    bool grouped = o->group_by != VEC_GROUP_NONE;
    char hx[8];
    carve__hex(g->colors[it0->color], hx);
    if (grouped && ps) carve__buf_printf(b, "%%carve-group: color-%s\nq\n", hx + 1);
    else if (o->group_by == VEC_GROUP_LAYER) carve__buf_printf(b, "/OC /L%d BDC\n", it0->color);
    else if (grouped) carve__buf_puts(b, "q\n");
    if (it0->self_stroke) { /* the gap filler of the colour drawn first: under its fill */
        put_rgb(b, g->colors[it0->color], ps ? "rg" : "RG");
        carve__buf_printf(b, "%.6g w 1 J\n", g->gap_width * (double)g->unit);
        for (int64_t k = *i; k < e; k++) put_item(b, g, &g->items[k]);
        carve__buf_puts(b, "S\n");
    }
    put_rgb(b, g->colors[it0->color], "rg");
    for (int64_t k = *i; k < e; k++) {
        put_item(b, g, &g->items[k]);
        if (grouped) carve__buf_puts(b, "f\n");
    }
    if (!grouped) carve__buf_puts(b, "f\n");
    if (o->group_by == VEC_GROUP_LAYER && !ps) carve__buf_puts(b, "EMC\n");
    else if (grouped) carve__buf_puts(b, "Q\n");
    *i = e;
}

bool carve__vec_ops_has_strokes(const vec_geom *g) {
    for (int64_t i = 0; i < g->nitems; i++)
        if (g->items[i].kind == VEC_ITEM_STROKE && g->items[i].role == VEC_ROLE_OUTLINE) return true;
    return false;
}

/* the outline / centreline strokes (consecutive items from *i): grouped in
 * q/Q (EPS: a %carve-group comment), with group_by layer in PDF the
 * optional content group "strokes" */
static void stroke_layer(carve__buf *b, const vec_geom *g, const vec_out_params *o, bool ps, int64_t *i) {
    bool grouped = o->group_by != VEC_GROUP_NONE, oc = o->group_by == VEC_GROUP_LAYER && !ps;
    if (oc) carve__buf_puts(b, "/OC /Lstrokes BDC\n");
    else if (grouped) carve__buf_puts(b, ps ? "%carve-group: strokes\nq\n" : "q\n");
    for (; *i < g->nitems && g->items[*i].kind == VEC_ITEM_STROKE && g->items[*i].role == VEC_ROLE_OUTLINE; (*i)++) {
        stroke_style(b, g, &g->items[*i], ps);
        put_item(b, g, &g->items[*i]);
        carve__buf_puts(b, "S\n");
    }
    if (oc) carve__buf_puts(b, "EMC\n");
    else if (grouped) carve__buf_puts(b, "Q\n");
}

carve_status carve__vec_ops_content(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, bool ps,
                                    double page_h_pt, carve__buf *b) {
    double a = o->mm_per_px * 72.0 / 25.4 / (double)g->unit; /* points per IR unit */
    carve__buf_printf(b, "q\n%.9g 0 0 %.9g 0 %.9g cm\n1 j 1 J\n", a, -a, page_h_pt);
    int64_t next = 0;
    for (int64_t i = 0; i < g->nitems;) {
        const vec_item *it = &g->items[i];
        if (it->kind == VEC_ITEM_STROKE && it->role == VEC_ROLE_OUTLINE) {
            stroke_layer(b, g, o, ps, &i);
        } else if (it->kind == VEC_ITEM_STROKE) {
            stroke_style(b, g, it, ps);
            put_item(b, g, it);
            carve__buf_puts(b, "S\n");
            i++;
        } else {
            fill_run(b, g, o, ps, &i);
        }
        if (i < next) continue;
        next = i + 1024;
        carve_status st = carve__progress(ctx, (double)i / (double)g->nitems, "trace");
        if (st) return st;
    }
    carve__buf_puts(b, "Q\n");
    if (b->oom) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the document");
    return CARVE_OK;
}
