/* svg.c — writes the traced topology as compact SVG.
 *
 * Mosaic (default): one <path> per colour holding every ring of every region
 * of that colour (nonzero rule; rings are oriented so holes cancel), colours
 * drawn by decreasing area.  Coordinates are integers in units of
 * 10^-path_precision, so a chain written forward by one region and backward
 * by its neighbour lands on exactly the same numbers: no seams, no overlaps.
 * Gap filler: each boundary shared by two opaque regions is stroked once, in
 * the colour of the side drawn first, under all fills; it only shows where
 * the antialiased fills leave partial coverage.  Stacked: one path per region
 * (outer ring, plus the holes that contain transparency), drawn outermost
 * first. */
#include "vector.h"

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

/* start / end point of a chain use */
static void use_start(const vec_chain *c, bool rev, int64_t *x, int64_t *y) {
    if (!rev || !c->nseg) {
        *x = c->sx;
        *y = c->sy;
    } else {
        *x = c->seg[c->nseg - 1].p[c->seg[c->nseg - 1].cubic ? 4 : 0];
        *y = c->seg[c->nseg - 1].p[c->seg[c->nseg - 1].cubic ? 5 : 1];
    }
}

/* emits the segments of a chain use (forward, or reversed: cubics with their
 * control points swapped) */
static void emit_use(pw *w, const vec_chain *c, bool rev) {
    if (!rev) {
        for (int32_t i = 0; i < c->nseg; i++) {
            const vec_seg *s = &c->seg[i];
            if (!s->cubic) pw_line(w, s->p[0], s->p[1]);
            else pw_cubic(w, s->p);
        }
    } else {
        for (int32_t i = c->nseg - 1; i >= 0; i--) {
            const vec_seg *s = &c->seg[i];
            int64_t px, py; /* start point of segment i */
            if (i == 0) {
                px = c->sx;
                py = c->sy;
            } else {
                const vec_seg *q = &c->seg[i - 1];
                px = q->p[q->cubic ? 4 : 0];
                py = q->p[q->cubic ? 5 : 1];
            }
            if (!s->cubic) {
                pw_line(w, px, py);
            } else {
                int64_t r[6] = {s->p[2], s->p[3], s->p[0], s->p[1], px, py};
                pw_cubic(w, r);
            }
        }
    }
}

static void emit_ring(pw *w, const vec_topo *t, int64_t ring, bool first) {
    int64_t u0 = t->uses[t->ring_off[ring]], x, y;
    use_start(&t->chains[u0 >> 1], (u0 & 1) != 0, &x, &y);
    pw_move(w, x, y, first);
    int64_t e = t->ring_off[ring + 1];
    for (int64_t k = t->ring_off[ring]; k < e; k++) {
        int64_t u = t->uses[k];
        emit_use(w, &t->chains[u >> 1], (u & 1) != 0);
    }
    pw_close(w);
}

/* is a transparent pixel (inside the canvas) among the 4 around vertex (x,y)? */
static bool vertex_near_void(const vec_topo *t, int x, int y) {
    for (int dy = -1; dy <= 0; dy++)
        for (int dx = -1; dx <= 0; dx++) {
            int px = x + dx, py = y + dy;
            if (px >= 0 && py >= 0 && px < t->w && py < t->h && t->reg[(size_t)py * t->w + px] < 0) return true;
        }
    return false;
}

static void color_attr(char *out, uint32_t rgb) {
    carve__hex(rgb, out);
    if (out[1] == out[2] && out[3] == out[4] && out[5] == out[6]) {
        out[2] = out[3];
        out[3] = out[5];
        out[4] = 0;
    }
}

typedef struct ord {
    int64_t key;
    uint32_t tie;
    int32_t id;
} ord;
static int cmp_ord(const void *a, const void *b) {
    const ord *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1; /* descending */
    if (x->tie != y->tie) return x->tie < y->tie ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* does hole ring `ring` of region g enclose any transparent pixel? */
static bool hole_has_void(const vec_topo *t, int64_t ring, int32_t g, const int64_t *adj_off, const int32_t *adj,
                          int64_t *stamp, int64_t mark, int32_t *queue) {
    int64_t qn = 0, qh = 0;
    for (int64_t k = t->ring_off[ring]; k < t->ring_off[ring + 1]; k++) {
        int64_t u = t->uses[k];
        const vec_chain *c = &t->chains[u >> 1];
        int32_t o = (u & 1) ? c->left : c->right;
        if (o < 0) return true;
        if (stamp[o] != mark) {
            stamp[o] = mark;
            queue[qn++] = o;
        }
    }
    while (qh < qn) {
        int32_t x = queue[qh++];
        for (int64_t k = adj_off[x]; k < adj_off[x + 1]; k++) {
            int32_t y = adj[k];
            if (y < 0) return true;
            if (y == g || stamp[y] == mark) continue;
            stamp[y] = mark;
            queue[qn++] = y;
        }
    }
    return false;
}

carve_status carve__vec_write_svg(carve_ctx *ctx, const vec_labels *l, const vec_topo *t, const vec_svg_params *p,
                                  char **svg, size_t *len) {
    carve__buf b;
    carve__buf_init(&b);
    pw w = {&b, p->precision, 1, 0, false, false, 0, 0, 0, 0, false, 0, 0};
    for (int i = 0; i < p->precision; i++) w.p10 *= 10;
    carve__buf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n",
                      t->w, t->h, t->w, t->h);
    int nc = l->ncolors;
    int64_t carea[256] = {0};
    for (int32_t g = 0; g < t->nreg; g++) carea[t->reg_color[g]] += t->reg_area[g];
    ord co[256];
    int nco = 0;
    for (int c = 0; c < nc; c++)
        if (carea[c] > 0) co[nco++] = (ord){carea[c], l->colors[c], c};
    qsort(co, (size_t)nco, sizeof(ord), cmp_ord);
    int crank[256];
    for (int c = 0; c < 256; c++) crank[c] = 1 << 20;
    for (int i = 0; i < nco; i++) crank[co[i].id] = i;
    /* rank of each region in drawing order */
    int64_t *rrank = malloc((size_t)(t->nreg ? t->nreg : 1) * sizeof(int64_t));
    ord *ro = NULL;
    int64_t *adj_off = NULL, *stamp = NULL;
    int32_t *adj = NULL, *queue = NULL;
    carve_status st = CARVE_OK;
    if (!rrank) goto oom;
    bool has_void = false;
    for (size_t i = 0, n = (size_t)t->w * t->h; i < n && !has_void; i++) has_void = t->reg[i] < 0;
    /* colours touching transparent pixels (not the canvas edge) */
    bool cvoid[256] = {0};
    if (has_void)
        for (int y = 0; y < t->h; y++)
            for (int x = 0; x < t->w; x++) {
                int32_t g = t->reg[(size_t)y * t->w + x];
                if (g < 0) continue;
                if ((x > 0 && t->reg[(size_t)y * t->w + x - 1] < 0) || (x + 1 < t->w && t->reg[(size_t)y * t->w + x + 1] < 0) ||
                    (y > 0 && t->reg[(size_t)(y - 1) * t->w + x] < 0) || (y + 1 < t->h && t->reg[(size_t)(y + 1) * t->w + x] < 0))
                    cvoid[t->reg_color[g]] = true;
            }
    if (p->stacked) {
        ro = malloc((size_t)(t->nreg ? t->nreg : 1) * sizeof(ord));
        if (!ro) goto oom;
        for (int32_t g = 0; g < t->nreg; g++) {
            int64_t outer = 0;
            for (int64_t r = t->reg_ring_off[g]; r < t->reg_ring_off[g + 1]; r++)
                if (t->ring_shoelace[r] < 0) outer = -t->ring_shoelace[r];
            ro[g] = (ord){outer, 0, g};
        }
        qsort(ro, (size_t)t->nreg, sizeof(ord), cmp_ord);
        for (int32_t i = 0; i < t->nreg; i++) rrank[ro[i].id] = i;
    } else {
        for (int32_t g = 0; g < t->nreg; g++) rrank[g] = crank[t->reg_color[g]];
    }
    /* the colour drawn first can carry its own gap-filling stroke when it
     * borders no transparency: everything it borders is drawn later */
    int self_stroke = (!p->stacked && p->gap_filler && nco > 0 && !cvoid[co[0].id]) ? co[0].id : -1;
    char sw[32];
    snprintf(sw, sizeof sw, "%g", p->stroke_width);
    if (p->gap_filler) {
        /* each shared chain once, in the colour of the side drawn first,
         * grouped by colour; round caps close the notches at junctions, but
         * a chain ending next to a transparent pixel gets butt caps (its own
         * path) so that nothing is painted into transparency */
        bool any = false;
        size_t W = (size_t)t->w + 1;
        /* bucket the chains by (stroke colour rank, butt), stable */
        int64_t nb = 2 * (int64_t)nco;
        int64_t *boff = calloc((size_t)nb + 1, sizeof(int64_t));
        int32_t *bkey = malloc((size_t)(t->nchains ? t->nchains : 1) * sizeof(int32_t));
        int64_t *border = malloc((size_t)(t->nchains ? t->nchains : 1) * sizeof(int64_t));
        if (!boff || !bkey || !border) {
            free(boff);
            free(bkey);
            free(border);
            goto oom;
        }
        for (int64_t k = 0; k < t->nchains; k++) {
            const vec_chain *ch = &t->chains[k];
            bkey[k] = -1;
            if (ch->left < 0 || ch->right < 0) continue;
            int32_t lo = rrank[ch->left] < rrank[ch->right] ? ch->left : ch->right;
            int c = t->reg_color[lo];
            if (c == self_stroke) continue;
            bool vend = false;
            if (has_void && !ch->closed)
                vend = vertex_near_void(t, (int)(ch->v0 % W), (int)(ch->v0 / W)) ||
                       vertex_near_void(t, (int)(ch->v1 % W), (int)(ch->v1 / W));
            bkey[k] = 2 * crank[c] + (vend ? 1 : 0);
            boff[bkey[k] + 1]++;
        }
        for (int64_t i = 0; i < nb; i++) boff[i + 1] += boff[i];
        {
            int64_t *fill = malloc((size_t)(nb + 1) * sizeof(int64_t));
            if (!fill) {
                free(boff);
                free(bkey);
                free(border);
                goto oom;
            }
            memcpy(fill, boff, (size_t)(nb + 1) * sizeof(int64_t));
            for (int64_t k = 0; k < t->nchains; k++)
                if (bkey[k] >= 0) border[fill[bkey[k]]++] = k;
            free(fill);
        }
        for (int64_t bk = 0; bk < nb; bk++) {
            if (boff[bk] == boff[bk + 1]) continue;
            int c = co[bk / 2].id;
            int butt = (int)(bk & 1);
            if (!any) {
                carve__buf_printf(&b, "<g fill=\"none\" stroke-width=\"%s\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n", sw);
                any = true;
            }
            char hx[8];
            color_attr(hx, l->colors[c]);
            carve__buf_printf(&b, "<path stroke=\"%s\"%s d=\"", hx, butt ? " stroke-linecap=\"butt\"" : "");
            w.last_cmd = 0;
            for (int64_t q = boff[bk]; q < boff[bk + 1]; q++) {
                const vec_chain *ch = &t->chains[border[q]];
                pw_move(&w, ch->sx, ch->sy, q == boff[bk]);
                emit_use(&w, ch, false);
                if (ch->closed) pw_close(&w); /* a loop: joined all round */
            }
            pw_end(&w);
            carve__buf_puts(&b, "\"/>\n");
        }
        free(boff);
        free(bkey);
        free(border);
        if (any) carve__buf_puts(&b, "</g>\n");
    }
    if (!p->stacked) {
        /* regions bucketed by colour rank (stable: ascending region id) */
        int64_t *goff = calloc((size_t)nco + 1, sizeof(int64_t));
        int32_t *gord = malloc((size_t)(t->nreg ? t->nreg : 1) * sizeof(int32_t));
        if (!goff || !gord) {
            free(goff);
            free(gord);
            goto oom;
        }
        for (int32_t g = 0; g < t->nreg; g++) goff[crank[t->reg_color[g]] + 1]++;
        for (int i = 0; i < nco; i++) goff[i + 1] += goff[i];
        for (int32_t g = 0; g < t->nreg; g++) gord[goff[crank[t->reg_color[g]]]++] = g;
        for (int i = nco; i > 0; i--) goff[i] = goff[i - 1];
        goff[0] = 0;
        for (int i = 0; i < nco; i++) {
            int c = co[i].id;
            char hx[8];
            color_attr(hx, l->colors[c]);
            if (c == self_stroke)
                carve__buf_printf(&b, "<path fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\" stroke-linejoin=\"round\" paint-order=\"stroke\" d=\"", hx, hx,
                                  sw);
            else carve__buf_printf(&b, "<path fill=\"%s\" d=\"", hx);
            w.last_cmd = 0;
            bool first = true;
            for (int64_t q = goff[i]; q < goff[i + 1]; q++) {
                int32_t g = gord[q];
                for (int64_t r = t->reg_ring_off[g]; r < t->reg_ring_off[g + 1]; r++) {
                    emit_ring(&w, t, r, first);
                    first = false;
                }
            }
            pw_end(&w);
            carve__buf_puts(&b, "\"/>\n");
            if ((i & 15) == 0 && (st = carve__progress(ctx, (double)i / nco, "trace"))) {
                free(goff);
                free(gord);
                goto fail;
            }
        }
        free(goff);
        free(gord);
    } else {
        if (has_void) {
            /* region adjacency (other side of every chain, -1 = transparent) */
            adj_off = calloc((size_t)t->nreg + 1, sizeof(int64_t));
            stamp = malloc((size_t)(t->nreg ? t->nreg : 1) * sizeof(int64_t));
            queue = malloc((size_t)(t->nreg ? t->nreg : 1) * sizeof(int32_t));
            if (!adj_off || !stamp || !queue) goto oom;
            for (int64_t k = 0; k < t->nchains; k++) {
                if (t->chains[k].left >= 0) adj_off[t->chains[k].left + 1]++;
                if (t->chains[k].right >= 0) adj_off[t->chains[k].right + 1]++;
            }
            for (int32_t g = 0; g < t->nreg; g++) adj_off[g + 1] += adj_off[g];
            adj = malloc((size_t)(adj_off[t->nreg] ? adj_off[t->nreg] : 1) * sizeof(int32_t));
            int64_t *fill = malloc((size_t)(t->nreg + 1) * sizeof(int64_t));
            if (!adj || !fill) {
                free(fill);
                goto oom;
            }
            memcpy(fill, adj_off, (size_t)(t->nreg + 1) * sizeof(int64_t));
            for (int64_t k = 0; k < t->nchains; k++) {
                const vec_chain *ch = &t->chains[k];
                if (ch->left >= 0) adj[fill[ch->left]++] = ch->right;
                if (ch->right >= 0) adj[fill[ch->right]++] = ch->left;
            }
            free(fill);
            for (int32_t g = 0; g < t->nreg; g++) stamp[g] = -1;
        }
        int64_t mark = 0;
        int last_color = -1;
        bool first = true;
        for (int32_t i = 0; i < t->nreg; i++) {
            int32_t g = ro[i].id;
            int c = t->reg_color[g];
            if (c != last_color) {
                if (last_color >= 0) {
                    pw_end(&w);
                    carve__buf_puts(&b, "\"/>\n");
                }
                char hx[8];
                color_attr(hx, l->colors[c]);
                carve__buf_printf(&b, "<path fill=\"%s\" d=\"", hx);
                w.last_cmd = 0;
                first = true;
                last_color = c;
            }
            for (int64_t r = t->reg_ring_off[g]; r < t->reg_ring_off[g + 1]; r++) {
                bool outer = t->ring_shoelace[r] < 0;
                if (!outer && !(has_void && hole_has_void(t, r, g, adj_off, adj, stamp, mark++, queue))) continue;
                emit_ring(&w, t, r, first);
                first = false;
            }
            if ((i & 1023) == 0 && (st = carve__progress(ctx, (double)i / t->nreg, "trace"))) goto fail;
        }
        if (last_color >= 0) {
            pw_end(&w);
            carve__buf_puts(&b, "\"/>\n");
        }
    }
    carve__buf_puts(&b, "</svg>\n");
    free(rrank);
    free(ro);
    free(adj_off);
    free(adj);
    free(stamp);
    free(queue);
    *svg = carve__buf_take(&b, len);
    if (!*svg) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the SVG");
    return CARVE_OK;
oom:
    st = carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the SVG");
fail:
    free(rrank);
    free(ro);
    free(adj_off);
    free(adj);
    free(stamp);
    free(queue);
    carve__buf_free(&b);
    return st;
}
