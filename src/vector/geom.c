/* geom.c — the geometry IR's storage (geom.h): growable arrays of items,
 * subpaths and segments. */
#include "geom.h"

#include <math.h>
#include <stdlib.h>

void carve__vec_geom_free(vec_geom *g) {
    if (!g) return;
    free(g->segs);
    free(g->paths);
    free(g->items);
    g->segs = NULL;
    g->paths = NULL;
    g->items = NULL;
    g->nsegs = g->npaths = g->nitems = 0;
    g->segcap = g->pathcap = g->itemcap = 0;
}

/* grows *p (elements of size sz) to hold at least need; 0 or -1 */
static int grow(void **p, int64_t *cap, int64_t need, size_t sz) {
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * sz);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

int carve__vec_geom_reserve(vec_geom *g, int64_t nsegs, int64_t npaths, int64_t nitems) {
    if (grow((void **)&g->segs, &g->segcap, nsegs, sizeof *g->segs)) return -1;
    if (grow((void **)&g->paths, &g->pathcap, npaths, sizeof *g->paths)) return -1;
    return grow((void **)&g->items, &g->itemcap, nitems, sizeof *g->items);
}

int carve__vec_geom_item(vec_geom *g, const vec_item *it) {
    if (grow((void **)&g->items, &g->itemcap, g->nitems + 1, sizeof *g->items)) return -1;
    vec_item *d = &g->items[g->nitems++];
    *d = *it;
    d->path_off = g->npaths;
    d->npath = 0;
    return 0;
}

int carve__vec_geom_path(vec_geom *g, int64_t sx, int64_t sy) {
    if (grow((void **)&g->paths, &g->pathcap, g->npaths + 1, sizeof *g->paths)) return -1;
    g->paths[g->npaths++] = (vec_gpath){sx, sy, g->nsegs, 0, 0};
    g->items[g->nitems - 1].npath++;
    return 0;
}

int carve__vec_geom_seg(vec_geom *g, const vec_gseg *s) {
    if (grow((void **)&g->segs, &g->segcap, g->nsegs + 1, sizeof *g->segs)) return -1;
    g->segs[g->nsegs++] = *s;
    g->paths[g->npaths - 1].nseg++;
    return 0;
}

void carve__vec_geom_close(vec_geom *g) { g->paths[g->npaths - 1].closed = 1; }

/* ---- arcs ------------------------------------------------------------------------ */

static double vec_angle(double ux, double uy, double vx, double vy) {
    return atan2(ux * vy - uy * vx, ux * vx + uy * vy);
}

bool carve__vec_arc_center(double x0, double y0, const int64_t *p, vec_arc *a) {
    double x2 = (double)p[0], y2 = (double)p[1];
    double rx = fabs((double)p[2]), ry = fabs((double)p[3]);
    if ((x0 == x2 && y0 == y2) || rx == 0 || ry == 0) return false;
    double phi = (double)p[4] / VEC_ARC_ROT_UNIT * (M_PI / 180.0), cp = cos(phi), sp = sin(phi);
    double hx = (x0 - x2) / 2, hy = (y0 - y2) / 2;
    double x1 = cp * hx + sp * hy, y1 = -sp * hx + cp * hy;
    double lam = (x1 * x1) / (rx * rx) + (y1 * y1) / (ry * ry);
    if (lam > 1) { /* F.6.6: radii too small for the end points */
        double k = sqrt(lam);
        rx *= k;
        ry *= k;
    }
    double num = rx * rx * ry * ry - rx * rx * y1 * y1 - ry * ry * x1 * x1;
    double den = rx * rx * y1 * y1 + ry * ry * x1 * x1;
    double coef = den > 0 && num > 0 ? sqrt(num / den) : 0;
    bool large = (p[5] & VEC_ARC_LARGE) != 0, sweep = (p[5] & VEC_ARC_SWEEP) != 0;
    if (large == sweep) coef = -coef;
    double ccx = coef * rx * y1 / ry, ccy = -coef * ry * x1 / rx;
    a->cx = cp * ccx - sp * ccy + (x0 + x2) / 2;
    a->cy = sp * ccx + cp * ccy + (y0 + y2) / 2;
    a->rx = rx;
    a->ry = ry;
    a->phi = phi;
    double ux = (x1 - ccx) / rx, uy = (y1 - ccy) / ry, vx = (-x1 - ccx) / rx, vy = (-y1 - ccy) / ry;
    a->th1 = vec_angle(1, 0, ux, uy);
    double d = vec_angle(ux, uy, vx, vy);
    if (!sweep && d > 0) d -= 2 * M_PI;
    else if (sweep && d < 0) d += 2 * M_PI;
    a->dth = d;
    return true;
}

/* point and derivative of the arc's ellipse at angle th */
static void arc_eval(const vec_arc *a, double th, double *x, double *y, double *dx, double *dy) {
    double cp = cos(a->phi), sp = sin(a->phi), c = cos(th), s = sin(th);
    *x = a->cx + cp * a->rx * c - sp * a->ry * s;
    *y = a->cy + sp * a->rx * c + cp * a->ry * s;
    *dx = -cp * a->rx * s - sp * a->ry * c;
    *dy = -sp * a->rx * s + cp * a->ry * c;
}

int carve__vec_arc_cubics(double x0, double y0, const int64_t *p, double out[VEC_ARC_MAX_CUBICS][6]) {
    vec_arc a;
    if (!carve__vec_arc_center(x0, y0, p, &a)) return 0;
    int n = (int)ceil(fabs(a.dth) / (M_PI / 2) - 1e-9);
    if (n < 1) n = 1;
    if (n > VEC_ARC_MAX_CUBICS) n = VEC_ARC_MAX_CUBICS;
    double step = a.dth / n, k = 4.0 / 3.0 * tan(step / 4);
    double px, py, pdx, pdy;
    arc_eval(&a, a.th1, &px, &py, &pdx, &pdy);
    px = x0; /* exactly the start point */
    py = y0;
    for (int i = 0; i < n; i++) {
        double qx, qy, qdx, qdy;
        arc_eval(&a, a.th1 + step * (i + 1), &qx, &qy, &qdx, &qdy);
        if (i == n - 1) { /* exactly the end point */
            qx = (double)p[0];
            qy = (double)p[1];
        }
        double *o = out[i];
        o[0] = px + k * pdx;
        o[1] = py + k * pdy;
        o[2] = qx - k * qdx;
        o[3] = qy - k * qdy;
        o[4] = qx;
        o[5] = qy;
        px = qx;
        py = qy;
        pdx = qdx;
        pdy = qdy;
    }
    return n;
}
