/* shape.c — true shapes: rings of the boundary topology that are ellipses
 * (wheels, hubs, headlights).  Sequential and exact in its order (regions,
 * then their rings), before the parallel fitting, so the result does not
 * depend on the thread count.
 *
 * A ring is a candidate when it is long enough, does not touch the canvas
 * border, and none of its chains lies on an ellipse found before.  Its
 * ellipse is the one with the same area moments as the pixel polygon the
 * ring encloses (centre = centroid; semi-axes = 2 sqrt of the eigenvalues of
 * the second central moments, exact for a filled ellipse).  It is accepted
 * when that ellipse follows the pixel boundary: every staircase point (the
 * midpoint of a straight run of boundary edges) within SHAPE_MAX_DEV px of
 * it, their RMS distance within SHAPE_MAX_RMS, every junction on the ring
 * within SHAPE_MAX_END_DEV, and pi*a*b within SHAPE_AREA_TOL of the ring's
 * area.  The fitter then writes its chains as arcs of it (fit.c), checked
 * once more after quantization.  See docs/vector.md, "True shapes". */
#include "vector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE_MIN_EDGES 24     /* shortest ring (unit edges) that can be a shape */
#define SHAPE_MIN_SEMI 3.0     /* smallest semi-minor axis (px): 6 px across */
#define SHAPE_MIN_RATIO 0.25   /* smallest b/a (flatter shapes are bars, not ellipses) */
#define SHAPE_MAX_DEV 1.25     /* px: farthest staircase point from the ellipse (at most trace_tolerance) */
#define SHAPE_MAX_RMS 0.45     /* px: RMS distance of the staircase points */
#define SHAPE_MAX_END_DEV 1.25 /* px: farthest junction (a chain end: a lattice vertex) */
#define SHAPE_AREA_TOL 0.03    /* |pi a b - area| / area */

void carve__vec_ellipse_point(const vec_ellipse *e, double th, double *x, double *y) {
    double cp = cos(e->phi), sp = sin(e->phi), c = cos(th) * e->a, s = sin(th) * e->b;
    *x = e->cx + cp * c - sp * s;
    *y = e->cy + sp * c + cp * s;
}

/* (x, y) in the ellipse's frame */
static void to_frame(const vec_ellipse *e, double x, double y, double *u, double *v) {
    double cp = cos(e->phi), sp = sin(e->phi), dx = x - e->cx, dy = y - e->cy;
    *u = cp * dx + sp * dy;
    *v = -sp * dx + cp * dy;
}

double carve__vec_ellipse_angle(const vec_ellipse *e, double x, double y) {
    double u, v;
    to_frame(e, x, y, &u, &v);
    return atan2(v / e->b, u / e->a);
}

double carve__vec_ellipse_dist(const vec_ellipse *e, double x, double y) {
    double u, v;
    to_frame(e, x, y, &u, &v);
    double a2 = e->a * e->a, b2 = e->b * e->b;
    double q = u * u / a2 + v * v / b2 - 1, g = 2 * sqrt(u * u / (a2 * a2) + v * v / (b2 * b2));
    return g > 0 ? q / g : -e->b;
}

/* the lattice points of ring r, in order (the ring closes back to pt[0]);
 * false when it is too short, touches the canvas border or has a chain on
 * an ellipse already */
typedef struct ringpts {
    int32_t *xy;
    int64_t n, cap;
} ringpts;

static int rp_add(ringpts *b, int32_t x, int32_t y) {
    if (b->n == b->cap) {
        int64_t nc = b->cap ? 2 * b->cap : 1024;
        int32_t *q = realloc(b->xy, (size_t)nc * 2 * sizeof(int32_t));
        if (!q) return -1;
        b->xy = q;
        b->cap = nc;
    }
    b->xy[2 * b->n] = x;
    b->xy[2 * b->n + 1] = y;
    b->n++;
    return 0;
}

/* 1: collected, 0: not a candidate, -1: OOM */
static int collect_ring(const vec_topo *t, int64_t r, ringpts *b) {
    int64_t edges = 0;
    for (int64_t k = t->ring_off[r]; k < t->ring_off[r + 1]; k++) {
        const vec_chain *c = &t->chains[t->uses[k] >> 1];
        if (c->ell) return 0;
        edges += c->n;
    }
    if (edges < SHAPE_MIN_EDGES) return 0;
    b->n = 0;
    for (int64_t k = t->ring_off[r]; k < t->ring_off[r + 1]; k++) {
        int64_t u = t->uses[k];
        const vec_chain *c = &t->chains[u >> 1];
        const int32_t *V = t->pts + 2 * c->off;
        for (int64_t i = 0; i < c->n; i++) {
            int64_t j = (u & 1) ? c->n - i : i;
            int32_t x = V[2 * j], y = V[2 * j + 1];
            if (x == 0 || y == 0 || x == t->w || y == t->h) return 0;
            if (rp_add(b, x, y)) return -1;
        }
    }
    return 1;
}

/* the ellipse with the area moments of the lattice polygon; false if it is
 * too small or too flat */
static bool moment_ellipse(const ringpts *b, vec_ellipse *e) {
    double ox = b->xy[0], oy = b->xy[1]; /* local origin: small numbers */
    double A2 = 0, Sx = 0, Sy = 0, Sxx = 0, Syy = 0, Sxy = 0;
    for (int64_t i = 0; i < b->n; i++) {
        int64_t j = i + 1 < b->n ? i + 1 : 0;
        double x0 = b->xy[2 * i] - ox, y0 = b->xy[2 * i + 1] - oy, x1 = b->xy[2 * j] - ox, y1 = b->xy[2 * j + 1] - oy;
        double cr = x0 * y1 - x1 * y0;
        A2 += cr;
        Sx += (x0 + x1) * cr;
        Sy += (y0 + y1) * cr;
        Sxx += (x0 * x0 + x0 * x1 + x1 * x1) * cr;
        Syy += (y0 * y0 + y0 * y1 + y1 * y1) * cr;
        Sxy += (x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0) * cr;
    }
    double A = A2 / 2;
    if (fabs(A) < M_PI * SHAPE_MIN_SEMI * SHAPE_MIN_SEMI) return false;
    double cx = Sx / (6 * A), cy = Sy / (6 * A);
    double mxx = Sxx / (12 * A) - cx * cx, myy = Syy / (12 * A) - cy * cy, mxy = Sxy / (24 * A) - cx * cy;
    double hm = (mxx + myy) / 2, disc = sqrt((mxx - myy) * (mxx - myy) / 4 + mxy * mxy);
    double l1 = hm + disc, l2 = hm - disc;
    if (!(l2 > 0)) return false;
    *e = (vec_ellipse){cx + ox, cy + oy, 2 * sqrt(l1), 2 * sqrt(l2), 0.5 * atan2(2 * mxy, mxx - myy)};
    if (e->b < SHAPE_MIN_SEMI || e->b < SHAPE_MIN_RATIO * e->a) return false;
    return fabs(M_PI * e->a * e->b - fabs(A)) <= SHAPE_AREA_TOL * fabs(A);
}

/* direction code of edge i of the ring (P[i] -> P[i+1], cyclic) */
static int edge_dir(const ringpts *b, int64_t i) {
    int64_t j = i + 1 < b->n ? i + 1 : 0;
    return (b->xy[2 * j] - b->xy[2 * i]) * 3 + (b->xy[2 * j + 1] - b->xy[2 * i + 1]);
}

/* does e follow the ring's pixel boundary?  Its staircase points (the
 * midpoint of every straight run of edges), walked from a run start */
static bool follows_boundary(const ringpts *b, const vec_ellipse *e, double maxdev) {
    const int32_t *P = b->xy;
    int64_t n = b->n, s = 0, nrun = 0;
    while (s < n && edge_dir(b, s) == edge_dir(b, s ? s - 1 : n - 1)) s++;
    if (s == n) return false;
    double ss = 0;
    int64_t r0 = s;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = (s + k) % n, in = (i + 1) % n;
        if (edge_dir(b, i) == edge_dir(b, in) && k + 1 < n) continue;
        double d = carve__vec_ellipse_dist(e, (P[2 * r0] + P[2 * in]) / 2.0, (P[2 * r0 + 1] + P[2 * in + 1]) / 2.0);
        if (fabs(d) > maxdev) return false;
        ss += d * d;
        nrun++;
        r0 = in;
    }
    return ss <= SHAPE_MAX_RMS * SHAPE_MAX_RMS * (double)nrun;
}

/* every junction of the ring (the start of each open chain use) near e */
static bool ends_near(const vec_topo *t, int64_t r, const vec_ellipse *e) {
    size_t W = (size_t)t->w + 1;
    for (int64_t k = t->ring_off[r]; k < t->ring_off[r + 1]; k++) {
        const vec_chain *c = &t->chains[t->uses[k] >> 1];
        if (c->closed) continue;
        uint32_t v = (t->uses[k] & 1) ? c->v1 : c->v0;
        if (fabs(carve__vec_ellipse_dist(e, (double)(v % W), (double)(v / W))) > SHAPE_MAX_END_DEV) return false;
    }
    return true;
}

/* the junctions of ring r (the start of each open chain use) */
static uint32_t use_start(const vec_topo *t, int64_t u) {
    const vec_chain *c = &t->chains[u >> 1];
    return (u & 1) ? c->v1 : c->v0;
}

static bool snapped(const vec_topo *t, uint32_t v) {
    for (int64_t i = 0; i < t->nsnap; i++)
        if (t->snap_v[i] == v) return true;
    return false;
}

typedef struct shape_caps {
    int32_t ell;
    int64_t snap;
} shape_caps;

/* accepts e for ring r: its chains are marked, its junctions move onto e
 * (the point at their parameter angle); false (nothing changed) when one of
 * the junctions was moved onto another ellipse before.  -1 on OOM. */
static int add_ellipse(vec_topo *t, int64_t r, const vec_ellipse *e, shape_caps *cap) {
    int64_t nj = 0;
    size_t W = (size_t)t->w + 1;
    for (int64_t k = t->ring_off[r]; k < t->ring_off[r + 1]; k++) {
        if (t->chains[t->uses[k] >> 1].closed) continue;
        if (snapped(t, use_start(t, t->uses[k]))) return 0;
        nj++;
    }
    if (t->nell == cap->ell) {
        int32_t nc = cap->ell ? 2 * cap->ell : 16;
        vec_ellipse *q = realloc(t->ell, (size_t)nc * sizeof *q);
        if (!q) return -1;
        t->ell = q;
        cap->ell = nc;
    }
    if (t->nsnap + nj > cap->snap) {
        int64_t nc = 2 * (t->nsnap + nj) + 64;
        uint32_t *v = realloc(t->snap_v, (size_t)nc * sizeof *v);
        if (v) t->snap_v = v;
        double *xy = realloc(t->snap_xy, (size_t)nc * 2 * sizeof *xy);
        if (xy) t->snap_xy = xy;
        if (!v || !xy) return -1;
        cap->snap = nc;
    }
    t->ell[t->nell++] = *e;
    for (int64_t k = t->ring_off[r]; k < t->ring_off[r + 1]; k++) {
        int64_t u = t->uses[k];
        t->chains[u >> 1].ell = t->nell;
        if (t->chains[u >> 1].closed) continue;
        uint32_t v = use_start(t, u);
        double th = carve__vec_ellipse_angle(e, (double)(v % W), (double)(v / W));
        t->snap_v[t->nsnap] = v;
        carve__vec_ellipse_point(e, th, &t->snap_xy[2 * t->nsnap], &t->snap_xy[2 * t->nsnap + 1]);
        t->nsnap++;
    }
    return 0;
}

/* snap table sorted by vertex (for the fitters' binary search) */
static int sort_snaps(vec_topo *t) {
    int64_t n = t->nsnap;
    if (n < 2) return 0;
    int64_t *ord = malloc((size_t)n * sizeof *ord);
    uint32_t *v = malloc((size_t)n * sizeof *v);
    double *xy = malloc((size_t)n * 2 * sizeof *xy);
    int rc = -1;
    if (ord && v && xy) {
        /* insertion sort by vertex: few entries, and stable */
        for (int64_t i = 0; i < n; i++) {
            int64_t j = i;
            while (j > 0 && t->snap_v[ord[j - 1]] > t->snap_v[i]) {
                ord[j] = ord[j - 1];
                j--;
            }
            ord[j] = i;
        }
        for (int64_t i = 0; i < n; i++) {
            v[i] = t->snap_v[ord[i]];
            xy[2 * i] = t->snap_xy[2 * ord[i]];
            xy[2 * i + 1] = t->snap_xy[2 * ord[i] + 1];
        }
        memcpy(t->snap_v, v, (size_t)n * sizeof *v);
        memcpy(t->snap_xy, xy, (size_t)n * 2 * sizeof *xy);
        rc = 0;
    }
    free(ord);
    free(v);
    free(xy);
    return rc;
}

void carve__vec_vertex_pos(const vec_topo *t, uint32_t v, double *x, double *y) {
    int64_t lo = 0, hi = t->nsnap - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        if (t->snap_v[mid] == v) {
            *x = t->snap_xy[2 * mid];
            *y = t->snap_xy[2 * mid + 1];
            return;
        }
        if (t->snap_v[mid] < v) lo = mid + 1;
        else hi = mid - 1;
    }
    size_t W = (size_t)t->w + 1;
    *x = (double)(v % W);
    *y = (double)(v / W);
}

int carve__vec_find_shapes(vec_topo *t, double tol) {
    ringpts b = {0};
    shape_caps cap = {0, 0};
    int rc = 0;
    for (int64_t r = 0; r < t->nrings && !rc; r++) {
        int got = collect_ring(t, r, &b);
        vec_ellipse e;
        if (got < 0) rc = -1;
        else if (got && moment_ellipse(&b, &e) && follows_boundary(&b, &e, fmin(tol, SHAPE_MAX_DEV)) &&
                 ends_near(t, r, &e))
            rc = add_ellipse(t, r, &e, &cap);
    }
    free(b.xy);
    return rc ? rc : sort_snaps(t);
}
