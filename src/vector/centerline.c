/* centerline.c — the two sources of stroke layers (stroke.h): thin dark
 * lines of the traced image (centreline mode) and an edge map (the outline
 * layer).
 *
 * Centreline.  The lines are pixels of the darkest colour (lowest L*) that
 * no disc wider than the line fits in: with d the Euclidean distance to the
 * nearest pixel of another colour (or the canvas edge) and rho =
 * (max_w + 1) / 2, the *thick* part is the opening of the colour by a disc
 * of radius rho (pixels within rho of a pixel whose d > rho); the rest is
 * *thin*.  Thin pixels are grouped into 8-connected components, thinned to
 * a skeleton and traced (skeleton.c).  A component is a line when its
 * skeleton is at least CL_MIN_LEN px long (corner residues of thick shapes
 * are not); its width W solves  area = S * W + (pi / 8) * E * W^2  (S the
 * skeleton length, E the free ends, each with a half-disc cap), clamped to
 * 1 .. max_w + 1 and rounded to 1/4 px.  The line's pixels then leave the
 * fills: a breadth-first search from all other pixels (transparent ones
 * included), in raster order, gives each the label of the nearest one, so
 * the region under a line is split between its two sides and no fill draws
 * the line a second time. */
#include "stroke.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CL_MIN_LEN 4.0        /* shortest skeleton (px) of a centreline */
#define CL_WIDTH_STEP 0.25    /* measured widths are rounded to this (px) */
#define SPUR_PX 3.0           /* thinning spurs shorter than this are dropped */
#define OUTLINE_MIN_LEN 8.0   /* shortest edge-map line kept (px): shorter ones are noise */
#define OUTLINE_WIDTH_PX 2.0  /* outline stroke width when option outline_width is 0 */

int carve__vec_darkest(const vec_labels *l) {
    int best = -1;
    double bl = 1e9;
    for (int c = 0; c < l->ncolors; c++) {
        double lab[3];
        carve_rgb_to_lab(l->colors[c], lab);
        if (lab[0] < bl) bl = lab[0], best = c;
    }
    return best;
}

void carve__vec_strokes_free(vec_strokes *s) {
    carve__vec_polylines_free(&s->lines);
    free(s->width);
    free(s->color);
    free(s->role_cl);
    memset(s, 0, sizeof *s);
}

int carve__vec_strokes_add(vec_strokes *s, const vec_polylines *src, int64_t k, float width, uint16_t color, bool cl) {
    vec_polylines *d = &s->lines;
    const vec_polyline *pl = &src->pl[k];
    if (d->n == s->cap) {
        int64_t nc = s->cap ? 2 * s->cap : 64;
        vec_polyline *np = realloc(d->pl, sizeof *np * (size_t)nc);
        if (np) d->pl = np;
        float *nw = realloc(s->width, sizeof *nw * (size_t)nc);
        if (nw) s->width = nw;
        uint16_t *ncl = realloc(s->color, sizeof *ncl * (size_t)nc);
        if (ncl) s->color = ncl;
        uint8_t *nr = realloc(s->role_cl, (size_t)nc);
        if (nr) s->role_cl = nr;
        if (!np || !nw || !ncl || !nr) return -1;
        s->cap = d->cap = nc;
    }
    if (d->npt + pl->n > d->ptcap) {
        int64_t nc = d->ptcap ? d->ptcap : 1024;
        while (nc < d->npt + pl->n) nc *= 2;
        double *np = realloc(d->xy, sizeof(double) * 2 * (size_t)nc);
        if (!np) return -1;
        d->xy = np;
        d->ptcap = nc;
    }
    memcpy(d->xy + 2 * d->npt, src->xy + 2 * pl->off, sizeof(double) * 2 * (size_t)pl->n);
    d->pl[d->n] = *pl;
    d->pl[d->n].off = d->npt;
    d->npt += pl->n;
    s->width[d->n] = width;
    s->color[d->n] = color;
    s->role_cl[d->n] = cl;
    d->n++;
    if (cl) s->n_centerline++;
    else s->n_outline++;
    return 0;
}

/* per component: skeleton length and free ends of its polylines */
static void comp_lengths(const vec_polylines *pl, double *len, int32_t *ends) {
    for (int64_t k = 0; k < pl->n; k++) {
        const vec_polyline *p = &pl->pl[k];
        const double *xy = pl->xy + 2 * p->off;
        double s = 0;
        for (int32_t i = 1; i < p->n; i++) s += hypot(xy[2 * i] - xy[2 * i - 2], xy[2 * i + 1] - xy[2 * i - 1]);
        if (p->closed && p->n > 2) s += hypot(xy[0] - xy[2 * p->n - 2], xy[1] - xy[2 * p->n - 1]);
        len[p->comp] += s;
        ends[p->comp] += p->ends;
    }
}

/* the width solving area = S W + (pi/8) E W^2, clamped and rounded */
static double line_width(double area, double s, int32_t e, double max_w) {
    double a = M_PI / 8.0 * e, w = a > 0 ? (-s + sqrt(s * s + 4 * a * area)) / (2 * a) : area / s;
    w = fmin(fmax(w, 1.0), max_w + 1.0);
    return round(w / CL_WIDTH_STEP) * CL_WIDTH_STEP;
}

/* the thin pixels of colour c: not within rho of a pixel whose distance to
 * another colour exceeds rho */
static int thin_mask(const vec_labels *l, int c, double max_w, uint8_t *m, float *d2) {
    size_t np = (size_t)l->w * l->h;
    double rho = (max_w + 1.0) / 2.0, r2 = rho * rho;
    for (size_t i = 0; i < np; i++) m[i] = l->lab[i] == c;
    if (carve__vec_edt(m, l->w, l->h, true, rho + 1, d2)) return -1;
    uint8_t *nc = malloc(np ? np : 1);
    if (!nc) return -1;
    for (size_t i = 0; i < np; i++) nc[i] = !(m[i] && d2[i] > r2); /* 0 at the cores */
    int rc = carve__vec_edt(nc, l->w, l->h, false, rho + 1, d2);
    free(nc);
    if (rc) return -1;
    for (size_t i = 0; i < np; i++) m[i] = m[i] && d2[i] > r2;
    return 0;
}

/* the line pixels (line[i]) take the label of the nearest other pixel */
static int give_away(vec_labels *l, const uint8_t *line) {
    size_t np = (size_t)l->w * l->h, qn = 0, qh = 0;
    int64_t *q = malloc(sizeof(int64_t) * (np ? np : 1));
    uint8_t *seen = malloc(np ? np : 1);
    if (!q || !seen) {
        free(q);
        free(seen);
        return -1;
    }
    int w = l->w, h = l->h;
    for (size_t i = 0; i < np; i++) {
        seen[i] = !line[i];
        if (seen[i]) q[qn++] = (int64_t)i;
    }
    while (qh < qn) {
        int64_t i = q[qh++];
        int x = (int)(i % w), y = (int)(i / w);
        int64_t nb[4] = {y > 0 ? i - w : -1, x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y + 1 < h ? i + w : -1};
        for (int k = 0; k < 4; k++) {
            if (nb[k] < 0 || seen[nb[k]]) continue;
            seen[nb[k]] = 1;
            l->lab[nb[k]] = l->lab[i];
            q[qn++] = nb[k];
        }
    }
    for (size_t i = 0; i < np; i++)
        if (!seen[i]) l->lab[i] = CARVE__LABEL_VOID; /* nothing else in the image */
    free(q);
    free(seen);
    return 0;
}

typedef struct cl_work {
    uint8_t *m;
    float *d2;
    int32_t *comp;
    int64_t *area;
    double *len, *wid;
    int32_t *ends;
    vec_polylines pl;
} cl_work;

static void cl_free(cl_work *k) {
    free(k->m);
    free(k->d2);
    free(k->comp);
    free(k->area);
    free(k->len);
    free(k->wid);
    free(k->ends);
    carve__vec_polylines_free(&k->pl);
}

/* mask m -> components, skeleton, polylines (m is thinned in place) */
static int trace_mask(cl_work *k, int w, int h, int32_t *ncomp) {
    size_t np = (size_t)w * h;
    int32_t nc = carve__vec_components8(k->m, w, h, k->comp);
    if (nc < 0) return -1;
    *ncomp = nc;
    k->area = calloc((size_t)nc + 1, sizeof *k->area);
    k->len = calloc((size_t)nc + 1, sizeof *k->len);
    k->wid = calloc((size_t)nc + 1, sizeof *k->wid);
    k->ends = calloc((size_t)nc + 1, sizeof *k->ends);
    if (!k->area || !k->len || !k->wid || !k->ends) return -1;
    for (size_t i = 0; i < np; i++)
        if (k->m[i]) k->area[k->comp[i]]++;
    if (carve__vec_thin(k->m, w, h) || carve__vec_trace_skeleton(k->m, k->comp, w, h, SPUR_PX, &k->pl)) return -1;
    comp_lengths(&k->pl, k->len, k->ends);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median width of the centreline polylines */
static double median_width(const vec_strokes *s) {
    int64_t n = 0;
    double *v = malloc(sizeof(double) * (size_t)(s->lines.n + 1));
    if (!v) return 0;
    for (int64_t k = 0; k < s->lines.n; k++)
        if (s->role_cl[k]) v[n++] = s->width[k];
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double m = n ? v[n / 2] : 0;
    free(v);
    return m;
}

carve_status carve__vec_centerline(carve_ctx *ctx, vec_labels *l, double max_w, double width, vec_strokes *s) {
    int c = carve__vec_darkest(l), w = l->w, h = l->h;
    if (c < 0) return CARVE_OK;
    size_t np = (size_t)w * h;
    cl_work k = {malloc(np), malloc(sizeof(float) * np), malloc(sizeof(int32_t) * np), NULL, NULL, NULL, NULL, {0}};
    carve_status st = CARVE_ERR_NOMEM;
    int32_t nc = 0;
    if (!k.m || !k.d2 || !k.comp || thin_mask(l, c, max_w, k.m, k.d2) || trace_mask(&k, w, h, &nc)) goto out;
    for (int32_t i = 0; i < nc; i++)
        k.wid[i] = k.len[i] >= CL_MIN_LEN ? line_width((double)k.area[i], k.len[i], k.ends[i], max_w) : 0;
    for (int64_t i = 0; i < k.pl.n; i++) {
        double wd = k.wid[k.pl.pl[i].comp];
        if (wd > 0 && carve__vec_strokes_add(s, &k.pl, i, (float)(width > 0 ? width : wd), (uint16_t)c, true)) goto out;
    }
    /* the accepted lines' pixels leave the fills (k.m is reused as that mask) */
    int64_t moved = 0;
    for (size_t i = 0; i < np; i++) {
        k.m[i] = k.comp[i] >= 0 && k.wid[k.comp[i]] > 0;
        moved += k.m[i];
    }
    if (moved && give_away(l, k.m)) goto out;
    s->cl_width = median_width(s);
    carve__log(ctx, CARVE_LOG_DEBUG, "trace: centerline: %lld strokes, %lld pixels, median width %.2f px",
               (long long)s->n_centerline, (long long)moved, s->cl_width);
    st = CARVE_OK;
out:
    cl_free(&k);
    return st ? carve__fail(ctx, st, "trace: out of memory tracing centrelines") : CARVE_OK;
}

carve_status carve__vec_outline(carve_ctx *ctx, const vec_labels *l, const uint8_t *edges, double width,
                                vec_strokes *s) {
    int c = carve__vec_darkest(l), w = l->w, h = l->h;
    if (c < 0) return CARVE_OK;
    size_t np = (size_t)w * h;
    cl_work k = {malloc(np), NULL, malloc(sizeof(int32_t) * np), NULL, NULL, NULL, NULL, {0}};
    int32_t nc = 0;
    int rc = -1;
    if (!k.m || !k.comp) goto out;
    for (size_t i = 0; i < np; i++) k.m[i] = edges[i] && l->lab[i] != CARVE__LABEL_VOID;
    if (trace_mask(&k, w, h, &nc)) goto out;
    double wd = width > 0 ? width : OUTLINE_WIDTH_PX;
    for (int64_t i = 0; i < k.pl.n; i++)
        if (k.len[k.pl.pl[i].comp] >= OUTLINE_MIN_LEN && carve__vec_strokes_add(s, &k.pl, i, (float)wd, (uint16_t)c, false))
            goto out;
    carve__log(ctx, CARVE_LOG_DEBUG, "trace: outline: %lld strokes of %g px", (long long)s->n_outline, wd);
    rc = 0;
out:
    cl_free(&k);
    return rc ? carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory tracing the outline") : CARVE_OK;
}

carve_status carve__vec_stroke_layers(carve_ctx *ctx, vec_labels *l, const uint8_t *edges, vec_strokes *s,
                                      vec_stroke_stats *stats) {
    bool cl = carve__opt_bool(ctx, CARVE_OPTID_centerline);
    double width = carve__opt_float(ctx, CARVE_OPTID_outline_width);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!edges && carve__opt_bool(ctx, CARVE_OPTID_outline))
        carve__log(ctx, CARVE_LOG_WARN, "trace: option outline needs an edge map (carve run computes one; carve trace "
                                        "has none): no outline layer");
    if (!cl && !edges) return CARVE_OK;
    if (carve__opt_bool(ctx, CARVE_OPTID_cut)) { /* a blade cuts paths, not painted widths (docs/vector.md) */
        carve__log(ctx, CARVE_LOG_WARN, "trace: cut mode leaves out the %s strokes",
                   cl && edges ? "outline and centreline" : cl ? "centreline" : "outline");
        if (stats) stats->excluded_by_cut = true;
        return CARVE_OK;
    }
    carve_status st = CARVE_OK;
    if (cl) st = carve__vec_centerline(ctx, l, (double)carve__opt_int(ctx, CARVE_OPTID_centerline_max_width), width, s);
    if (!st && edges) st = carve__vec_outline(ctx, l, edges, width, s);
    if (!st && stats) {
        int c = carve__vec_darkest(l);
        stats->outline_paths = s->n_outline;
        stats->centerline_paths = s->n_centerline;
        stats->centerline_width = s->cl_width;
        stats->color = c >= 0 ? l->colors[c] : 0;
    }
    return st;
}
