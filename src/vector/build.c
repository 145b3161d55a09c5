/* build.c — turns the traced topology into the geometry IR (geom.h), once,
 * for every writer.
 *
 * Mosaic (default): one fill item per region, regions bucketed by colour,
 * colours drawn by decreasing area (ties by RGB), each region with all its
 * rings (nonzero rule; rings are oriented so holes cancel).  Gap filler:
 * each boundary shared by two opaque regions is stroked once, in the colour
 * of the side drawn first, under all fills; it only shows where the
 * antialiased fills leave partial coverage.  The colour drawn first strokes
 * its own outline (self_stroke) when it borders no transparency.  Stacked:
 * one item per region (outer ring, plus the holes that contain
 * transparency), drawn outermost first. */
#include "vector.h"

#include <stdlib.h>
#include <string.h>

/* progress is reported every 16 colours (mosaic) or 1024 regions (stacked) */
#define MOSAIC_PROGRESS_MASK 15
#define STACKED_PROGRESS_MASK 1023

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

/* working state of one build */
typedef struct bstate {
    const vec_labels *l;
    const vec_topo *t;
    const vec_build_params *p;
    vec_geom *g;
    ord co[256];       /* colours in drawing order */
    int nco;
    int crank[256];    /* rank of a colour in co */
    int64_t *rrank;    /* rank of each region in drawing order */
    ord *ro;           /* stacked: regions in drawing order */
    bool has_void;
    bool cvoid[256];   /* colour touches a transparent pixel */
    int self_stroke;   /* colour carrying its own gap stroke, or -1 */
} bstate;

/* ---- segments of chain uses ------------------------------------------------ */

static int64_t seg_ex(const vec_seg *s) { return s->p[s->kind == VEC_SEG_CUBIC ? 4 : 0]; }
static int64_t seg_ey(const vec_seg *s) { return s->p[s->kind == VEC_SEG_CUBIC ? 5 : 1]; }

/* start point of a chain use */
void carve__vec_use_start(const vec_chain *c, bool rev, int64_t *x, int64_t *y) {
    if (!rev || !c->nseg) {
        *x = c->sx;
        *y = c->sy;
    } else {
        *x = seg_ex(&c->seg[c->nseg - 1]);
        *y = seg_ey(&c->seg[c->nseg - 1]);
    }
}

/* appends the segments of a chain use (forward, or reversed: cubics with
 * their control points swapped) to the last subpath */
int carve__vec_geom_add_use(vec_geom *g, const vec_chain *c, bool rev) {
    for (int32_t k = 0; k < c->nseg; k++) {
        int32_t i = rev ? c->nseg - 1 - k : k;
        const vec_seg *s = &c->seg[i];
        vec_gseg o;
        memset(&o, 0, sizeof o);
        o.kind = s->kind;
        if (!rev) {
            memcpy(o.p, s->p, sizeof o.p);
        } else {
            int64_t px = i ? seg_ex(&c->seg[i - 1]) : c->sx, py = i ? seg_ey(&c->seg[i - 1]) : c->sy;
            if (s->kind == VEC_SEG_LINE) {
                o.p[0] = px;
                o.p[1] = py;
            } else if (s->kind == VEC_SEG_ARC) { /* same ellipse, the other way round */
                int64_t r[6] = {px, py, s->p[2], s->p[3], s->p[4], s->p[5] ^ VEC_ARC_SWEEP};
                memcpy(o.p, r, sizeof r);
            } else {
                int64_t r[6] = {s->p[2], s->p[3], s->p[0], s->p[1], px, py};
                memcpy(o.p, r, sizeof r);
            }
        }
        if (carve__vec_geom_seg(g, &o)) return -1;
    }
    return 0;
}

static int add_ring(vec_geom *g, const vec_topo *t, int64_t ring) {
    int64_t u0 = t->uses[t->ring_off[ring]], x, y;
    carve__vec_use_start(&t->chains[u0 >> 1], (u0 & 1) != 0, &x, &y);
    if (carve__vec_geom_path(g, x, y)) return -1;
    for (int64_t k = t->ring_off[ring]; k < t->ring_off[ring + 1]; k++) {
        int64_t u = t->uses[k];
        if (carve__vec_geom_add_use(g, &t->chains[u >> 1], (u & 1) != 0)) return -1;
    }
    carve__vec_geom_close(g);
    return 0;
}

/* ---- drawing order ------------------------------------------------------------ */

static void order_colors(bstate *s) {
    const vec_topo *t = s->t;
    int64_t carea[256] = {0};
    for (int32_t g = 0; g < t->nreg; g++) carea[t->reg_color[g]] += t->reg_area[g];
    s->nco = 0;
    for (int c = 0; c < s->l->ncolors; c++)
        if (carea[c] > 0) s->co[s->nco++] = (ord){carea[c], s->l->colors[c], c};
    qsort(s->co, (size_t)s->nco, sizeof(ord), cmp_ord);
    for (int c = 0; c < 256; c++) s->crank[c] = 1 << 20;
    for (int i = 0; i < s->nco; i++) s->crank[s->co[i].id] = i;
}

/* rank of each region in drawing order (stacked: by the area its outer ring
 * encloses, decreasing) */
static int order_regions(bstate *s) {
    const vec_topo *t = s->t;
    size_t n = (size_t)(t->nreg ? t->nreg : 1);
    s->rrank = malloc(n * sizeof(int64_t));
    if (!s->rrank) return -1;
    if (!s->p->stacked) {
        for (int32_t g = 0; g < t->nreg; g++) s->rrank[g] = s->crank[t->reg_color[g]];
        return 0;
    }
    s->ro = malloc(n * sizeof(ord));
    if (!s->ro) return -1;
    for (int32_t g = 0; g < t->nreg; g++) {
        int64_t outer = 0;
        for (int64_t r = t->reg_ring_off[g]; r < t->reg_ring_off[g + 1]; r++)
            if (t->ring_shoelace[r] < 0) outer = -t->ring_shoelace[r];
        s->ro[g] = (ord){outer, 0, g};
    }
    qsort(s->ro, (size_t)t->nreg, sizeof(ord), cmp_ord);
    for (int32_t i = 0; i < t->nreg; i++) s->rrank[s->ro[i].id] = i;
    return 0;
}

/* has_void, and the colours touching transparent pixels (not the canvas edge) */
static void find_void(bstate *s) {
    const vec_topo *t = s->t;
    s->has_void = false;
    memset(s->cvoid, 0, sizeof s->cvoid);
    for (size_t i = 0, n = (size_t)t->w * t->h; i < n && !s->has_void; i++) s->has_void = t->reg[i] < 0;
    if (!s->has_void) return;
    for (int y = 0; y < t->h; y++)
        for (int x = 0; x < t->w; x++) {
            size_t i = (size_t)y * t->w + x;
            int32_t g = t->reg[i];
            if (g < 0) continue;
            if ((x > 0 && t->reg[i - 1] < 0) || (x + 1 < t->w && t->reg[i + 1] < 0) || (y > 0 && t->reg[i - t->w] < 0) ||
                (y + 1 < t->h && t->reg[i + t->w] < 0))
                s->cvoid[t->reg_color[g]] = true;
        }
}

/* ---- gap filler ------------------------------------------------------------------ */

/* is a transparent pixel (inside the canvas) among the 4 around vertex (x,y)? */
static bool vertex_near_void(const vec_topo *t, int x, int y) {
    for (int dy = -1; dy <= 0; dy++)
        for (int dx = -1; dx <= 0; dx++) {
            int px = x + dx, py = y + dy;
            if (px >= 0 && py >= 0 && px < t->w && py < t->h && t->reg[(size_t)py * t->w + px] < 0) return true;
        }
    return false;
}

/* bucket key of chain k: 2 * rank of its stroke colour + butt, or -1 */
static int32_t gap_key(const bstate *s, int64_t k) {
    const vec_topo *t = s->t;
    const vec_chain *ch = &t->chains[k];
    if (ch->left < 0 || ch->right < 0) return -1;
    int32_t lo = s->rrank[ch->left] < s->rrank[ch->right] ? ch->left : ch->right;
    int c = t->reg_color[lo];
    if (c == s->self_stroke) return -1;
    bool vend = false;
    size_t W = (size_t)t->w + 1;
    if (s->has_void && !ch->closed)
        vend = vertex_near_void(t, (int)(ch->v0 % W), (int)(ch->v0 / W)) ||
               vertex_near_void(t, (int)(ch->v1 % W), (int)(ch->v1 / W));
    return 2 * s->crank[c] + (vend ? 1 : 0);
}

/* the outline of every region of colour c (mosaic: the same subpaths as its
 * fills, in the same order), as one gap stroke item */
static int add_color_outline(bstate *s, int c) {
    const vec_topo *t = s->t;
    vec_item it = {VEC_ITEM_STROKE, VEC_ROLE_GAP, VEC_CAP_ROUND, 0, (uint16_t)c, -1, s->p->stroke_width, 0, 0, 1};
    if (carve__vec_geom_item(s->g, &it)) return -1;
    for (int32_t g = 0; g < t->nreg; g++) {
        if (t->reg_color[g] != c) continue;
        for (int64_t r = t->reg_ring_off[g]; r < t->reg_ring_off[g + 1]; r++)
            if (add_ring(s->g, t, r)) return -1;
    }
    return 0;
}

/* the chains in bucket bk (2 * colour rank + butt) as one stroke item */
static int add_chain_bucket(bstate *s, int64_t bk, const int64_t *border, int64_t a, int64_t e) {
    const vec_topo *t = s->t;
    vec_item it = {VEC_ITEM_STROKE, VEC_ROLE_GAP, (uint8_t)(bk & 1), 0, (uint16_t)s->co[bk / 2].id, -1,
                   s->p->stroke_width, 0, 0, 0};
    if (carve__vec_geom_item(s->g, &it)) return -1;
    for (int64_t q = a; q < e; q++) {
        const vec_chain *ch = &t->chains[border[q]];
        if (carve__vec_geom_path(s->g, ch->sx, ch->sy) || carve__vec_geom_add_use(s->g, ch, false)) return -1;
        if (ch->closed) carve__vec_geom_close(s->g); /* a loop: joined all round */
    }
    return 0;
}

/* The gap filler, under all fills, drawn in reverse drawing order so that
 * wherever two strokes overlap the colour drawn first is on top (the ideal
 * blend under the antialiased fills, see docs/vector.md).  Mosaic: a colour
 * that borders no transparency strokes its whole outline (of_fills: an SVG
 * <use> of its fill path, no segment repeated); a colour that does, and every
 * colour in stacked mode, strokes each chain it shares with a region drawn
 * later, once; round caps close the notches at junctions, but a chain ending
 * next to a transparent pixel gets butt caps so that nothing is painted into
 * transparency. */
static int add_gap_strokes(bstate *s) {
    const vec_topo *t = s->t;
    int64_t nb = 2 * (int64_t)s->nco, nc = t->nchains ? t->nchains : 1;
    int64_t *boff = calloc((size_t)nb + 2, sizeof(int64_t));
    int32_t *bkey = malloc((size_t)nc * sizeof(int32_t));
    int64_t *border = malloc((size_t)nc * sizeof(int64_t));
    int rc = -1;
    if (!boff || !bkey || !border) goto out;
    for (int64_t k = 0; k < t->nchains; k++)
        if ((bkey[k] = gap_key(s, k)) >= 0) boff[bkey[k] + 2]++;
    for (int64_t i = 0; i < nb; i++) boff[i + 2] += boff[i + 1];
    for (int64_t k = 0; k < t->nchains; k++) /* stable counting sort; boff[b+1] = fill pointer */
        if (bkey[k] >= 0) border[boff[bkey[k] + 1]++] = k;
    for (int64_t i = s->nco - 1; i >= 0; i--) {
        int c = s->co[i].id;
        if (c == s->self_stroke) continue;
        if (!s->p->stacked && !s->cvoid[c]) {
            if (add_color_outline(s, c)) goto out;
            continue;
        }
        for (int64_t bk = 2 * i; bk < 2 * i + 2; bk++) {
            int64_t a = bk ? boff[bk] : 0, e = boff[bk + 1];
            if (a < e && add_chain_bucket(s, bk, border, a, e)) goto out;
        }
    }
    rc = 0;
out:
    free(boff);
    free(bkey);
    free(border);
    return rc;
}

/* ---- fills ----------------------------------------------------------------------- */

/* region adjacency (other side of every chain, -1 = transparent) */
typedef struct adjacency {
    int64_t *off, *stamp;
    int32_t *adj, *queue;
} adjacency;

static void adj_free(adjacency *a) {
    free(a->off);
    free(a->stamp);
    free(a->adj);
    free(a->queue);
}

static int adj_build(const vec_topo *t, adjacency *a) {
    size_t n = (size_t)(t->nreg ? t->nreg : 1);
    a->off = calloc((size_t)t->nreg + 1, sizeof(int64_t));
    a->stamp = malloc(n * sizeof(int64_t));
    a->queue = malloc(n * sizeof(int32_t));
    if (!a->off || !a->stamp || !a->queue) return -1;
    for (int64_t k = 0; k < t->nchains; k++) {
        if (t->chains[k].left >= 0) a->off[t->chains[k].left + 1]++;
        if (t->chains[k].right >= 0) a->off[t->chains[k].right + 1]++;
    }
    for (int32_t g = 0; g < t->nreg; g++) a->off[g + 1] += a->off[g];
    a->adj = malloc((size_t)(a->off[t->nreg] ? a->off[t->nreg] : 1) * sizeof(int32_t));
    int64_t *fill = malloc((size_t)(t->nreg + 1) * sizeof(int64_t));
    if (!a->adj || !fill) {
        free(fill);
        return -1;
    }
    memcpy(fill, a->off, (size_t)(t->nreg + 1) * sizeof(int64_t));
    for (int64_t k = 0; k < t->nchains; k++) {
        const vec_chain *ch = &t->chains[k];
        if (ch->left >= 0) a->adj[fill[ch->left]++] = ch->right;
        if (ch->right >= 0) a->adj[fill[ch->right]++] = ch->left;
    }
    free(fill);
    for (int32_t g = 0; g < t->nreg; g++) a->stamp[g] = -1;
    return 0;
}

/* does hole ring `ring` of region g enclose any transparent pixel? */
static bool hole_has_void(const vec_topo *t, int64_t ring, int32_t g, adjacency *a, int64_t mark) {
    int64_t qn = 0, qh = 0;
    for (int64_t k = t->ring_off[ring]; k < t->ring_off[ring + 1]; k++) {
        int64_t u = t->uses[k];
        const vec_chain *c = &t->chains[u >> 1];
        int32_t o = (u & 1) ? c->left : c->right;
        if (o < 0) return true;
        if (a->stamp[o] != mark) {
            a->stamp[o] = mark;
            a->queue[qn++] = o;
        }
    }
    while (qh < qn) {
        int32_t x = a->queue[qh++];
        for (int64_t k = a->off[x]; k < a->off[x + 1]; k++) {
            int32_t y = a->adj[k];
            if (y < 0) return true;
            if (y == g || a->stamp[y] == mark) continue;
            a->stamp[y] = mark;
            a->queue[qn++] = y;
        }
    }
    return false;
}

/* progress "trace" at every (mask + 1)th step i of n */
static carve_status fill_progress(carve_ctx *ctx, int64_t i, int64_t mask, int64_t n) {
    return (i & mask) == 0 ? carve__progress(ctx, (double)i / n, "trace") : CARVE_OK;
}

/* The fill item of region g in colour c and its rings.  mark NULL (mosaic):
 * every ring; otherwise (stacked) the outer rings and the holes that reach
 * transparency (hole_has_void over a, stamped with *mark).  Nonzero on OOM. */
static int add_region_fill(bstate *s, int32_t g, int c, bool self_stroke, adjacency *a, int64_t *mark) {
    const vec_topo *t = s->t;
    vec_item it = {VEC_ITEM_FILL, VEC_ROLE_FILL, 0, self_stroke, (uint16_t)c, g, 0, 0, 0};
    if (carve__vec_geom_item(s->g, &it)) return 1;
    for (int64_t r = t->reg_ring_off[g]; r < t->reg_ring_off[g + 1]; r++) {
        bool hole = t->ring_shoelace[r] >= 0;
        if (mark && hole && !(s->has_void && hole_has_void(t, r, g, a, (*mark)++))) continue;
        if (add_ring(s->g, t, r)) return 1;
    }
    return 0;
}

static carve_status add_fills_mosaic(carve_ctx *ctx, bstate *s) {
    const vec_topo *t = s->t;
    /* regions bucketed by colour rank (stable: ascending region id) */
    int64_t *goff = calloc((size_t)s->nco + 1, sizeof(int64_t));
    int32_t *gord = malloc((size_t)(t->nreg ? t->nreg : 1) * sizeof(int32_t));
    carve_status st = CARVE_ERR_NOMEM;
    if (!goff || !gord) goto out;
    for (int32_t g = 0; g < t->nreg; g++) goff[s->crank[t->reg_color[g]] + 1]++;
    for (int i = 0; i < s->nco; i++) goff[i + 1] += goff[i];
    for (int32_t g = 0; g < t->nreg; g++) gord[goff[s->crank[t->reg_color[g]]]++] = g;
    for (int i = s->nco; i > 0; i--) goff[i] = goff[i - 1];
    goff[0] = 0;
    st = CARVE_OK;
    for (int i = 0; i < s->nco && !st; i++) {
        int c = s->co[i].id;
        for (int64_t q = goff[i]; q < goff[i + 1] && !st; q++)
            if (add_region_fill(s, gord[q], c, c == s->self_stroke, NULL, NULL)) st = CARVE_ERR_NOMEM;
        if (!st) st = fill_progress(ctx, i, MOSAIC_PROGRESS_MASK, s->nco);
    }
out:
    free(goff);
    free(gord);
    return st;
}

static carve_status add_fills_stacked(carve_ctx *ctx, bstate *s) {
    const vec_topo *t = s->t;
    adjacency a = {0};
    carve_status st = CARVE_ERR_NOMEM;
    if (s->has_void && adj_build(t, &a)) goto out;
    int64_t mark = 0;
    st = CARVE_OK;
    for (int32_t i = 0; i < t->nreg && !st; i++) {
        int32_t g = s->ro[i].id;
        if (add_region_fill(s, g, t->reg_color[g], false, &a, &mark)) st = CARVE_ERR_NOMEM;
        if (!st) st = fill_progress(ctx, i, STACKED_PROGRESS_MASK, t->nreg);
    }
out:
    adj_free(&a);
    return st;
}

carve_status carve__vec_build_geom(carve_ctx *ctx, const vec_labels *l, const vec_topo *t, const vec_build_params *p,
                                   vec_geom *g) {
    memset(g, 0, sizeof *g);
    g->w = t->w;
    g->h = t->h;
    g->prec = p->precision;
    g->unit = 1;
    for (int i = 0; i < p->precision; i++) g->unit *= 10;
    g->ncolors = l->ncolors;
    memcpy(g->colors, l->colors, sizeof g->colors);
    g->gap_width = p->stroke_width;
    bstate s = {.l = l, .t = t, .p = p, .g = g};
    carve_status st = CARVE_ERR_NOMEM;
    int64_t chain_segs = 0; /* every chain is used by its two sides (and the gap filler): no regrowth */
    for (int64_t k = 0; k < t->nchains; k++) chain_segs += t->chains[k].nseg;
    if (carve__vec_geom_reserve(g, (p->gap_filler ? 3 : 2) * chain_segs + 1, t->nrings + (p->gap_filler ? t->nchains : 0) + 1,
                                (int64_t)t->nreg + 2 * 256 + 2))
        goto out;
    order_colors(&s);
    if (order_regions(&s)) goto out;
    find_void(&s);
    /* the colour drawn first can carry its own gap-filling stroke when it
     * borders no transparency: everything it borders is drawn later */
    s.self_stroke = (!p->stacked && p->gap_filler && s.nco > 0 && !s.cvoid[s.co[0].id]) ? s.co[0].id : -1;
    if (p->gap_filler && add_gap_strokes(&s)) goto out;
    st = p->stacked ? add_fills_stacked(ctx, &s) : add_fills_mosaic(ctx, &s);
    if (!st && p->cut_contour && carve__vec_add_cut_contour(t, p, g)) st = CARVE_ERR_NOMEM;
out:
    free(s.rrank);
    free(s.ro);
    if (st == CARVE_ERR_NOMEM) st = carve__fail(ctx, st, "trace: out of memory building the vector geometry");
    if (st) carve__vec_geom_free(g);
    return st;
}
