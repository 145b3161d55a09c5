/* svg.c — writes the geometry IR (geom.h) as compact SVG.
 *
 * Consecutive fill items of one colour share a <path> (mosaic: one path per
 * colour holding every ring of every region of that colour; nonzero rule),
 * unless group_by asks for one <path> per region inside a <g> per colour.
 * Gap-filler strokes go in one <g> under the fills; outline and CutContour
 * strokes on top.  Coordinates are integers in units of 10^-path_precision,
 * so a boundary written forward by one region and backward by its neighbour
 * lands on exactly the same numbers: no seams, no overlaps. */
#include "vector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pw {
    carve__buf *b;
    int prec;
    int64_t p10;
    char last_cmd;
    bool need_sep, last_dot;
    int64_t cx, cy; /* current point */
    int64_t sx, sy; /* subpath start */
    bool pend;      /* a straight segment held back */
    int64_t pdx, pdy;
    const bool *by_ref; /* per colour: its fill path has an id and its gap
                         * stroke is a <use> of it (mosaic, group_by none) */
} pw;

/* appends n bytes (n <= 48): straight into the buffer when it has room
 * (the common case: no call, no per-byte capacity check), else through
 * carve__buf_put, which grows it */
static inline void pw_put(pw *w, const char *s, size_t n) { /* s: 48 bytes readable */
    carve__buf *b = w->b;
    if (!b->oom && b->len + 48 + 1 <= b->cap) {
        memcpy(b->data + b->len, s, 48); /* fixed size: inlined; only n bytes count */
        b->len += n;
        b->data[b->len] = 0;
    } else carve__buf_put(b, s, n);
}

static void pw_cmd(pw *w, char c) {
    if (c != w->last_cmd || c == 'm' || c == 'M' || c == 'z') {
        carve__buf *b = w->b;
        if (!b->oom && b->len + 2 <= b->cap) {
            b->data[b->len++] = c;
            b->data[b->len] = 0;
        } else carve__buf_putc(b, c);
        w->last_cmd = c;
        w->need_sep = false;
    }
}

static void pw_num(pw *w, int64_t v) {
    /* s[0] is the separator slot; the number starts at s[1] */
    char s[64], d[24];
    int k = 1;
    uint64_t a = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    if (v < 0) s[k++] = '-';
    uint64_t ip, fp;
    if (w->prec == 2) { /* the default: constant divisor, no division instruction */
        ip = a / 100;
        fp = a % 100;
    } else {
        ip = a / (uint64_t)w->p10;
        fp = a % (uint64_t)w->p10;
    }
    if (ip || !fp) {
        int n = 0;
        do {
            d[n++] = (char)('0' + ip % 10);
            ip /= 10;
        } while (ip);
        while (n) s[k++] = d[--n];
    }
    bool dot = false;
    if (fp) {
        /* prec digits, zero-padded, trailing zeros dropped */
        int fl = w->prec;
        while (fp % 10 == 0) { /* fp != 0: ends */
            fp /= 10;
            fl--;
        }
        s[k++] = '.';
        for (int i = fl - 1; i >= 0; i--) {
            s[k + i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        k += fl;
        dot = true;
    }
    int from = 1;
    if (w->need_sep && !(s[1] == '-' || (s[1] == '.' && w->last_dot))) s[from = 0] = ' ';
    pw_put(w, s + from, (size_t)(k - from)); /* s + from: 48 bytes readable */
    w->need_sep = true;
    w->last_dot = dot;
}

static void pw_flush(pw *w) {
    if (!w->pend) return;
    int64_t dx = w->pdx, dy = w->pdy;
    w->pend = false;
    if (!dy) {
        pw_cmd(w, 'h');
        pw_num(w, dx);
    } else if (!dx) {
        pw_cmd(w, 'v');
        pw_num(w, dy);
    } else {
        pw_cmd(w, 'l');
        pw_num(w, dx);
        pw_num(w, dy);
    }
    w->cx += dx;
    w->cy += dy;
}

static void pw_move(pw *w, int64_t x, int64_t y, bool first) {
    pw_flush(w);
    if (first) {
        pw_cmd(w, 'M');
        pw_num(w, x);
        pw_num(w, y);
    } else {
        pw_cmd(w, 'm');
        pw_num(w, x - w->cx);
        pw_num(w, y - w->cy);
    }
    w->cx = w->sx = x;
    w->cy = w->sy = y;
}

/* straight segments are held back so that collinear ones merge and a last
 * one that returns to the subpath start is left to 'z' */
static void pw_line(pw *w, int64_t x, int64_t y) {
    int64_t ex = w->cx + (w->pend ? w->pdx : 0), ey = w->cy + (w->pend ? w->pdy : 0);
    int64_t dx = x - ex, dy = y - ey;
    if (!dx && !dy) return;
    if (w->pend) {
        /* exact collinearity, same direction (128-bit: coordinates can reach
         * 1e13 units at path_precision 8) */
        __int128 cr = (__int128)w->pdx * dy - (__int128)w->pdy * dx, dt = (__int128)w->pdx * dx + (__int128)w->pdy * dy;
        if (cr == 0 && dt > 0) {
            w->pdx += dx;
            w->pdy += dy;
            return;
        }
        pw_flush(w);
    }
    w->pend = true;
    w->pdx = dx;
    w->pdy = dy;
}

static void pw_cubic(pw *w, const int64_t *p) {
    int64_t ex = w->cx + (w->pend ? w->pdx : 0), ey = w->cy + (w->pend ? w->pdy : 0);
    if (p[0] == ex && p[1] == ey && p[2] == p[4] && p[3] == p[5]) {
        pw_line(w, p[4], p[5]);
        return;
    }
    pw_flush(w);
    pw_cmd(w, 'c');
    for (int i = 0; i < 6; i += 2) {
        pw_num(w, p[i] - w->cx);
        pw_num(w, p[i + 1] - w->cy);
    }
    w->cx = p[4];
    w->cy = p[5];
}

/* an arc flag: one digit, always separated (readers that scan numbers
 * greedily would read "01" as one) */
static void pw_flag(pw *w, bool on) {
    char s[48] = {' ', on ? '1' : '0'};
    pw_put(w, w->need_sep ? s : s + 1, w->need_sep ? 2 : 1);
    w->need_sep = true;
    w->last_dot = false;
}

/* elliptical arc: rx ry rotation (degrees, 3 decimals) large sweep dx dy */
static void pw_arc(pw *w, const int64_t *p) {
    pw_flush(w);
    pw_cmd(w, 'a');
    pw_num(w, p[2]);
    pw_num(w, p[3]);
    int prec = w->prec;
    int64_t p10 = w->p10;
    w->prec = 3; /* millidegrees */
    w->p10 = 1000;
    pw_num(w, p[4]);
    w->prec = prec;
    w->p10 = p10;
    pw_flag(w, (p[5] & VEC_ARC_LARGE) != 0);
    pw_flag(w, (p[5] & VEC_ARC_SWEEP) != 0);
    pw_num(w, p[0] - w->cx);
    pw_num(w, p[1] - w->cy);
    w->cx = p[0];
    w->cy = p[1];
}

static void pw_close(pw *w) {
    if (w->pend && w->cx + w->pdx == w->sx && w->cy + w->pdy == w->sy) w->pend = false;
    pw_flush(w);
    pw_cmd(w, 'z');
    w->cx = w->sx;
    w->cy = w->sy;
}

/* ends a path's d attribute */
static void pw_end(pw *w) {
    pw_flush(w);
    w->last_cmd = 0;
}

/* emits the segments of a subpath */
static void emit_seg(pw *w, const vec_gseg *s) {
    if (s->kind == VEC_SEG_CUBIC) pw_cubic(w, s->p);
    else if (s->kind == VEC_SEG_ARC) pw_arc(w, s->p);
    else pw_line(w, vec_gseg_ex(s), vec_gseg_ey(s));
}

/* emits the segments of a subpath.  A closed one whose last segment is a
 * curve starts instead right after its last straight segment (if it has
 * one): the same closed outline, and that line is then left to 'z' (one
 * command less) */
static void emit_path(pw *w, const vec_geom *g, const vec_gpath *pa, bool first) {
    const vec_gseg *s = g->segs + pa->seg_off;
    int32_t n = pa->nseg, k = n - 1;
    if (pa->closed)
        while (k >= 0 && s[k].kind != VEC_SEG_LINE) k--;
    if (k < 0 || k == n - 1) { /* as it is */
        pw_move(w, pa->sx, pa->sy, first);
        for (int32_t i = 0; i < n; i++) emit_seg(w, &s[i]);
    } else {
        pw_move(w, vec_gseg_ex(&s[k]), vec_gseg_ey(&s[k]), first);
        for (int32_t i = k + 1; i < n; i++) emit_seg(w, &s[i]);
        for (int32_t i = 0; i <= k; i++) emit_seg(w, &s[i]);
    }
    if (pa->closed) pw_close(w);
}

/* every subpath of an item; *first: the next subpath starts the path data */
static void emit_item(pw *w, const vec_geom *g, const vec_item *it, bool *first) {
    for (int64_t k = 0; k < it->npath; k++) {
        emit_path(w, g, &g->paths[it->path_off + k], *first);
        *first = false;
    }
}

static void color_attr(char *out, uint32_t rgb) {
    carve__hex(rgb, out);
    if (out[1] == out[2] && out[3] == out[4] && out[5] == out[6]) {
        out[2] = out[3];
        out[3] = out[5];
        out[4] = 0;
    }
}

/* a length attribute: unitless px, or the value with its unit */
static void put_len(carve__buf *b, const char *name, double v, const char *unit) {
    if (!*unit) carve__buf_printf(b, " %s=\"%lld\"", name, (long long)llround(v));
    else carve__buf_printf(b, " %s=\"%.6g%s\"", name, v, unit);
}

/* the colours whose gap stroke is an of_fills item, drawn as a <use> of the
 * colour's fill path (only when every colour's fills form one path); true
 * when there is any */
static bool find_by_ref(const vec_geom *g, const vec_out_params *o, bool *by_ref) {
    bool any = false;
    memset(by_ref, 0, 256 * sizeof *by_ref);
    if (o->group_by != VEC_GROUP_NONE) return false;
    for (int64_t i = 0; i < g->nitems; i++)
        if (g->items[i].kind == VEC_ITEM_STROKE && g->items[i].of_fills) any = by_ref[g->items[i].color] = true;
    return any;
}

static void svg_header(carve__buf *b, const vec_geom *g, const vec_out_params *o, bool xlink) {
    carve__buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\"%s%s viewBox=\"0 0 %d %d\"",
                      xlink ? " xmlns:xlink=\"http://www.w3.org/1999/xlink\"" : "",
                      o->group_by == VEC_GROUP_LAYER ? " xmlns:inkscape=\"http://www.inkscape.org/namespaces/inkscape\"" : "",
                      g->w, g->h);
    put_len(b, "width", o->doc_w, o->unit);
    put_len(b, "height", o->doc_h, o->unit);
    carve__buf_puts(b, ">\n");
}

/* the gap-filler strokes (consecutive items from *i) in one <g> */
static void svg_gap_strokes(pw *w, const vec_geom *g, int64_t *i) {
    const vec_item *it = &g->items[*i];
    carve__buf_printf(w->b, "<g fill=\"none\" stroke-width=\"%g\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n",
                      it->width);
    for (; *i < g->nitems && g->items[*i].kind == VEC_ITEM_STROKE && g->items[*i].role == VEC_ROLE_GAP; (*i)++) {
        it = &g->items[*i];
        char hx[8];
        color_attr(hx, g->colors[it->color]);
        if (it->of_fills && w->by_ref[it->color]) { /* the fill path, by reference */
            carve__buf_printf(w->b, "<use xlink:href=\"#c%d\" stroke=\"%s\"/>\n", it->color, hx);
            continue;
        }
        carve__buf_printf(w->b, "<path stroke=\"%s\"%s d=\"", hx, it->cap == VEC_CAP_BUTT ? " stroke-linecap=\"butt\"" : "");
        w->last_cmd = 0;
        bool first = true;
        emit_item(w, g, it, &first);
        pw_end(w);
        carve__buf_puts(w->b, "\"/>\n");
    }
    carve__buf_puts(w->b, "</g>\n");
}

/* an outline or CutContour stroke item, on top of the fills */
static void svg_top_stroke(pw *w, const vec_geom *g, const vec_item *it) {
    char hx[8] = "#ff00ff";
    if (it->color != VEC_COLOR_SPOT) color_attr(hx, g->colors[it->color]);
    if (it->role == VEC_ROLE_CUT)
        carve__buf_printf(w->b, "<path id=\"%s\" class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%g\" "
                                "stroke-linejoin=\"round\" d=\"", VEC_CUT_SPOT_NAME, VEC_CUT_SPOT_NAME, hx, it->width);
    else
        carve__buf_printf(w->b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%g\" stroke-linejoin=\"round\" "
                                "stroke-linecap=\"%s\" d=\"", hx, it->width, it->cap == VEC_CAP_BUTT ? "butt" : "round");
    w->last_cmd = 0;
    bool first = true;
    emit_item(w, g, it, &first);
    pw_end(w);
    carve__buf_puts(w->b, "\"/>\n");
}

/* the outline / centreline strokes (consecutive items from *i); grouped:
 * in a <g id="strokes"> (an Inkscape layer with group_by layer) */
static void svg_stroke_layer(pw *w, const vec_geom *g, const vec_out_params *o, int64_t *i) {
    bool grouped = o->group_by != VEC_GROUP_NONE;
    if (grouped)
        carve__buf_printf(w->b, "<g id=\"strokes\"%s>\n",
                          o->group_by == VEC_GROUP_LAYER ? " inkscape:groupmode=\"layer\" inkscape:label=\"strokes\"" : "");
    for (; *i < g->nitems && g->items[*i].kind == VEC_ITEM_STROKE && g->items[*i].role == VEC_ROLE_OUTLINE; (*i)++)
        svg_top_stroke(w, g, &g->items[*i]);
    if (grouped) carve__buf_puts(w->b, "</g>\n");
}

static void open_fill(pw *w, const vec_geom *g, const vec_item *it) {
    char hx[8];
    color_attr(hx, g->colors[it->color]);
    if (w->by_ref[it->color]) /* referenced by its gap stroke: the fill on a <g>, so the <use> is not filled */
        carve__buf_printf(w->b, "<g fill=\"%s\"><path id=\"c%d\" d=\"", hx, it->color);
    else if (it->self_stroke)
        carve__buf_printf(w->b, "<path fill=\"%s\" stroke=\"%s\" stroke-width=\"%g\" stroke-linejoin=\"round\" "
                                "paint-order=\"stroke\" d=\"", hx, hx, g->gap_width);
    else carve__buf_printf(w->b, "<path fill=\"%s\" d=\"", hx);
    w->last_cmd = 0;
}

static void close_fill(pw *w, int color) {
    pw_end(w);
    carve__buf_puts(w->b, w->by_ref[color] ? "\"/></g>\n" : "\"/>\n");
}

/* the run of fill items of one colour from *i: one <path>, or (grouped) a
 * <g> with one <path> per region */
static void svg_fill_run(pw *w, const vec_geom *g, const vec_out_params *o, int64_t *i, int *runs) {
    const vec_item *it0 = &g->items[*i];
    bool grouped = o->group_by != VEC_GROUP_NONE;
    if (grouped) {
        char hx[8];
        carve__hex(g->colors[it0->color], hx);
        int n = ++runs[it0->color];
        carve__buf_printf(w->b, "<g id=\"color-%s", hx + 1);
        if (n > 1) carve__buf_printf(w->b, "-%d", n);
        carve__buf_putc(w->b, '"');
        if (o->group_by == VEC_GROUP_LAYER)
            carve__buf_printf(w->b, " inkscape:groupmode=\"layer\" inkscape:label=\"%s%s\"", hx, n > 1 ? "+" : "");
        carve__buf_puts(w->b, ">\n");
    } else open_fill(w, g, it0);
    bool first = true;
    for (; *i < g->nitems; (*i)++) {
        const vec_item *it = &g->items[*i];
        if (it->kind != VEC_ITEM_FILL || it->color != it0->color || it->self_stroke != it0->self_stroke) break;
        if (grouped) {
            open_fill(w, g, it);
            first = true;
        }
        emit_item(w, g, it, &first);
        if (grouped) close_fill(w, it->color);
    }
    if (grouped) carve__buf_puts(w->b, "</g>\n");
    else close_fill(w, it0->color);
}

carve_status carve__vec_write_svg(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len) {
    carve__buf b;
    carve__buf_init(&b);
    bool by_ref[256];
    pw w = {&b, g->prec, g->unit, 0, false, false, 0, 0, 0, 0, false, 0, 0, by_ref};
    svg_header(&b, g, o, find_by_ref(g, o, by_ref));
    int runs[256] = {0};
    int64_t next = 0;
    for (int64_t i = 0; i < g->nitems;) {
        const vec_item *it = &g->items[i];
        if (it->kind == VEC_ITEM_STROKE && it->role == VEC_ROLE_GAP) svg_gap_strokes(&w, g, &i);
        else if (it->kind == VEC_ITEM_STROKE && it->role == VEC_ROLE_OUTLINE) svg_stroke_layer(&w, g, o, &i);
        else if (it->kind == VEC_ITEM_STROKE) svg_top_stroke(&w, g, &g->items[i++]);
        else svg_fill_run(&w, g, o, &i, runs);
        if (i < next) continue;
        next = i + 1024;
        carve_status st = carve__progress(ctx, (double)i / (double)g->nitems, "trace");
        if (st) {
            carve__buf_free(&b);
            return st;
        }
    }
    carve__buf_puts(&b, "</svg>\n");
    *doc = carve__buf_take(&b, len);
    if (!*doc) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the SVG");
    return CARVE_OK;
}
