/* stroke.c — stroke polylines (stroke.h) fitted and written into the
 * geometry IR as VEC_ROLE_OUTLINE stroke items.
 *
 * A polyline of pixel centres is a staircase.  Per curve mode:
 *   pixel    the skeleton as it is (straight pieces between pixel centres);
 *   polygon  smoothed (SMOOTH_PASSES binomial [1 2 1]/4 passes, ends and
 *            corners fixed), then Douglas-Peucker within the stroke
 *            tolerance;
 *   spline   between corners the smoothed points are fitted by cubic
 *            Béziers (least squares with fixed end tangents and Newton
 *            reparameterization, split at the worst point until within the
 *            tolerance).
 * Corners (polygon and spline) are found first, on the raw skeleton: the
 * vertices of its Douglas-Peucker polygon (CORNER_EPS) that turn by at
 * least corner_threshold between two edges of at least length_threshold;
 * smoothing then runs between corners, so they stay sharp.  A closed
 * polyline starts at a corner, or, without any, is smoothed around and
 * fitted with a central tangent at its start.
 * The stroke tolerance is STROKE_TOL x trace_tolerance: the fitted centre
 * line stays within it of the smoothed skeleton.  Coordinates are rounded
 * once to the path_precision grid.  One stroke item per (colour, width),
 * in order of first use; round joins and caps. */
#include "stroke.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SMOOTH_PASSES 2
#define STROKE_TOL 0.5     /* stroke tolerance = this x trace_tolerance (px) */
#define CORNER_EPS 1.0     /* corners: vertices of the raw skeleton's polygon at this tolerance (px) */
#define TANGENT_REACH 2.5  /* an end tangent points at the point this far along (px) */
#define NEWTON_STEPS 4

typedef struct pt2 {
    double x, y;
} pt2;

typedef struct emitter {
    vec_geom *g;
    double scale;
    int64_t lx, ly; /* last emitted point */
    int32_t nseg;
} emitter;

static int64_t q(const emitter *e, double v) { return llround(v * e->scale); }

static int emit_line(emitter *e, pt2 b) {
    int64_t x = q(e, b.x), y = q(e, b.y);
    if (x == e->lx && y == e->ly) return 0;
    vec_gseg s = {{x, y, 0, 0, 0, 0}, VEC_SEG_LINE};
    e->lx = x, e->ly = y, e->nseg++;
    return carve__vec_geom_seg(e->g, &s);
}

static int emit_cubic(emitter *e, const pt2 c[4]) {
    vec_gseg s = {{q(e, c[1].x), q(e, c[1].y), q(e, c[2].x), q(e, c[2].y), q(e, c[3].x), q(e, c[3].y)}, VEC_SEG_CUBIC};
    if (s.p[4] == e->lx && s.p[5] == e->ly && s.p[0] == e->lx && s.p[1] == e->ly && s.p[2] == e->lx && s.p[3] == e->ly)
        return 0;
    e->lx = s.p[4], e->ly = s.p[5], e->nseg++;
    return carve__vec_geom_seg(e->g, &s);
}

static pt2 sub(pt2 a, pt2 b) { return (pt2){a.x - b.x, a.y - b.y}; }
static pt2 add(pt2 a, pt2 b) { return (pt2){a.x + b.x, a.y + b.y}; }
static pt2 mul(pt2 a, double k) { return (pt2){a.x * k, a.y * k}; }
static double dot(pt2 a, pt2 b) { return a.x * b.x + a.y * b.y; }
static double len(pt2 a) { return hypot(a.x, a.y); }
static pt2 unit(pt2 a) {
    double l = len(a);
    return l > 0 ? mul(a, 1.0 / l) : (pt2){0, 0};
}

static pt2 bez(const pt2 c[4], double t) {
    double s = 1 - t;
    return add(add(mul(c[0], s * s * s), mul(c[1], 3 * s * s * t)), add(mul(c[2], 3 * s * t * t), mul(c[3], t * t * t)));
}
static pt2 bez1(const pt2 c[4], double t) { /* first derivative */
    double s = 1 - t;
    return add(add(mul(sub(c[1], c[0]), 3 * s * s), mul(sub(c[2], c[1]), 6 * s * t)), mul(sub(c[3], c[2]), 3 * t * t));
}
static pt2 bez2(const pt2 c[4], double t) { /* second derivative */
    return add(mul(add(sub(c[2], mul(c[1], 2)), c[0]), 6 * (1 - t)), mul(add(sub(c[3], mul(c[2], 2)), c[1]), 6 * t));
}

/* least-squares control points with end tangents t1 (forward) and t2 (backward) */
static void gen_bezier(const pt2 *p, int n, const double *u, pt2 t1, pt2 t2, pt2 c[4]) {
    double C[2][2] = {{0, 0}, {0, 0}}, X[2] = {0, 0};
    pt2 a = p[0], b = p[n - 1];
    for (int i = 0; i < n; i++) {
        double s = 1 - u[i], b0 = s * s * s, b1 = 3 * s * s * u[i], b2 = 3 * s * u[i] * u[i], b3 = u[i] * u[i] * u[i];
        pt2 A0 = mul(t1, b1), A1 = mul(t2, b2);
        C[0][0] += dot(A0, A0);
        C[0][1] += dot(A0, A1);
        C[1][1] += dot(A1, A1);
        pt2 r = sub(p[i], add(mul(a, b0 + b1), mul(b, b2 + b3)));
        X[0] += dot(A0, r);
        X[1] += dot(A1, r);
    }
    double det = C[0][0] * C[1][1] - C[0][1] * C[0][1], d = len(sub(b, a));
    double al = det != 0 ? (X[0] * C[1][1] - X[1] * C[0][1]) / det : 0;
    double ar = det != 0 ? (C[0][0] * X[1] - C[0][1] * X[0]) / det : 0;
    if (!(al > 1e-6 * d) || !(ar > 1e-6 * d) || al > 2 * d || ar > 2 * d) al = ar = d / 3;
    c[0] = a;
    c[1] = add(a, mul(t1, al));
    c[2] = add(b, mul(t2, ar));
    c[3] = b;
}

/* largest distance of the points to the curve at their parameters */
static double max_err(const pt2 *p, int n, const double *u, const pt2 c[4], int *at) {
    double m = 0;
    *at = n / 2;
    for (int i = 1; i < n - 1; i++) {
        double e = len(sub(bez(c, u[i]), p[i]));
        if (e > m) m = e, *at = i;
    }
    return m;
}

static void reparam(const pt2 *p, int n, double *u, const pt2 c[4]) {
    for (int i = 1; i < n - 1; i++) {
        pt2 d = sub(bez(c, u[i]), p[i]), d1 = bez1(c, u[i]), d2 = bez2(c, u[i]);
        double den = dot(d1, d1) + dot(d, d2);
        if (fabs(den) > 1e-12) u[i] = fmin(1, fmax(0, u[i] - dot(d, d1) / den));
    }
}

/* fits p[0..n) between fixed end tangents, splitting at the worst point */
static int fit_run(emitter *e, const pt2 *p, int n, pt2 t1, pt2 t2, double tol, double *u) {
    if (n <= 2) return emit_line(e, p[n - 1]);
    u[0] = 0;
    for (int i = 1; i < n; i++) u[i] = u[i - 1] + len(sub(p[i], p[i - 1]));
    double total = u[n - 1];
    if (total <= 0) return 0;
    for (int i = 1; i < n; i++) u[i] /= total;
    pt2 c[4];
    int at = 0;
    gen_bezier(p, n, u, t1, t2, c);
    double err = max_err(p, n, u, c, &at);
    for (int k = 0; k < NEWTON_STEPS && err > tol && err < 4 * tol; k++) {
        reparam(p, n, u, c);
        gen_bezier(p, n, u, t1, t2, c);
        err = max_err(p, n, u, c, &at);
    }
    if (err <= tol) return emit_cubic(e, c);
    if (at < 1) at = 1;
    if (at > n - 2) at = n - 2;
    pt2 tc = unit(sub(p[at - 1], p[at + 1]));
    if (len(tc) == 0) tc = unit(sub(p[at - 1], p[at]));
    return fit_run(e, p, at + 1, t1, tc, tol, u) || fit_run(e, p + at, n - at, mul(tc, -1), t2, tol, u + at);
}

/* direction from p[i] to the point about `reach` px away, stepping by dir */
static pt2 reach_dir(const pt2 *p, int n, int i, int dir, double reach) {
    int j = i;
    double l = 0;
    while (j + dir >= 0 && j + dir < n && l < reach) {
        l += len(sub(p[j + dir], p[j]));
        j += dir;
    }
    return unit(sub(p[j], p[i]));
}

/* Douglas-Peucker: keep[] marks the kept points of p[a..b] */
static void dp(const pt2 *p, int a, int b, double eps, uint8_t *keep) {
    if (b - a < 2) return;
    pt2 d = sub(p[b], p[a]);
    double l = len(d), m = -1;
    int at = -1;
    for (int i = a + 1; i < b; i++) {
        pt2 r = sub(p[i], p[a]);
        double dist = l > 0 ? fabs(r.x * d.y - r.y * d.x) / l : len(r);
        if (dist > m) m = dist, at = i;
    }
    if (m <= eps) return;
    keep[at] = 1;
    dp(p, a, at, eps, keep);
    dp(p, at, b, eps, keep);
}

static void smooth(pt2 *p, int n, bool closed, pt2 *tmp) {
    for (int pass = 0; pass < SMOOTH_PASSES; pass++) {
        memcpy(tmp, p, sizeof *p * (size_t)n);
        for (int i = 0; i < n; i++) {
            if (!closed && (i == 0 || i == n - 1)) continue;
            pt2 a = tmp[(i + n - 1) % n], b = tmp[(i + 1) % n];
            p[i] = (pt2){(a.x + 2 * tmp[i].x + b.x) / 4, (a.y + 2 * tmp[i].y + b.y) / 4};
        }
    }
}

typedef struct fit_buf {
    pt2 *p, *tmp;
    double *u;
    uint8_t *keep, *fix;
    int cap;
} fit_buf;

static int fit_buf_grow(fit_buf *b, int n) {
    if (n <= b->cap) return 0;
    free(b->p);
    free(b->tmp);
    free(b->u);
    free(b->keep);
    free(b->fix);
    b->fix = malloc((size_t)n);
    b->p = malloc(sizeof(pt2) * (size_t)n);
    b->tmp = malloc(sizeof(pt2) * (size_t)n);
    b->u = malloc(sizeof(double) * (size_t)n);
    b->keep = malloc((size_t)n);
    b->cap = b->p && b->tmp && b->u && b->keep && b->fix ? n : 0;
    return b->cap ? 0 : -1;
}

/* corners of the raw skeleton polyline p[0..last] (closed: p[last] ==
 * p[0]): vertices of its Douglas-Peucker polygon (CORNER_EPS) that turn by
 * at least corner_threshold between two polygon edges of at least
 * length_threshold; marked in c[] (v[]: scratch for the polygon) */
static void mark_corners(const pt2 *p, int last, bool closed, const vec_fit_params *fp, uint8_t *v, uint8_t *c) {
    memset(v, 0, (size_t)last + 1);
    memset(c, 0, (size_t)last + 1);
    v[0] = v[last] = 1;
    if (closed) { /* a second fixed vertex: the point farthest from the start */
        double far = -1;
        int mid = last / 2;
        for (int i = 1; i < last; i++)
            if (len(sub(p[i], p[0])) > far) far = len(sub(p[i], p[0])), mid = i;
        v[mid] = 1;
        dp(p, 0, mid, CORNER_EPS, v);
        dp(p, mid, last, CORNER_EPS, v);
    } else dp(p, 0, last, CORNER_EPS, v);
    double cos_c = cos(fp->corner_deg * M_PI / 180.0);
    for (int i = closed ? 0 : 1; i < last; i++) {
        if (!v[i]) continue;
        int pv = i - 1, nx = i + 1;
        if (i == 0) pv = last - 1; /* closed: around the seam */
        while (pv > 0 && !v[pv]) pv--;
        while (nx < last && !v[nx]) nx++;
        pt2 in = sub(p[i], p[pv]), out = sub(p[nx], p[i]);
        double li = len(in), lo = len(out);
        if (li >= fp->length_px && lo >= fp->length_px && dot(in, out) / (li * lo) <= cos_c) c[i] = 1;
    }
}

/* smooths p[a..b] with both ends fixed */
static void smooth_run(pt2 *p, int a, int b, pt2 *tmp) {
    for (int pass = 0; pass < SMOOTH_PASSES; pass++) {
        memcpy(tmp + a, p + a, sizeof *p * (size_t)(b - a + 1));
        for (int i = a + 1; i < b; i++)
            p[i] = (pt2){(tmp[i - 1].x + 2 * tmp[i].x + tmp[i + 1].x) / 4, (tmp[i - 1].y + 2 * tmp[i].y + tmp[i + 1].y) / 4};
    }
}

/* the runs between consecutive fixed points (fix[]) of p[0..last]: lines
 * (polygon) or Béziers (spline); cyc: a closed curve without corners, whose
 * seam at p[0] gets a central tangent */
static int fit_runs(emitter *e, fit_buf *b, int last, bool cyc, const vec_fit_params *fp, double tol) {
    const pt2 *p = b->p;
    pt2 seam = last >= 2 ? unit(sub(p[1], p[last - 1])) : (pt2){1, 0};
    int a = 0;
    for (int i = 1; i <= last; i++) {
        if (!b->fix[i]) continue;
        if (fp->mode == VEC_MODE_POLYGON) {
            memset(b->keep + a, 0, (size_t)(i - a + 1));
            b->keep[i] = 1;
            dp(p, a, i, tol, b->keep);
            for (int k = a + 1; k <= i; k++)
                if (b->keep[k] && emit_line(e, p[k])) return -1;
        } else {
            pt2 t1 = cyc && a == 0 ? seam : reach_dir(p, last + 1, a, 1, TANGENT_REACH);
            pt2 t2 = cyc && i == last ? mul(seam, -1) : reach_dir(p, last + 1, i, -1, TANGENT_REACH);
            if (fit_run(e, p + a, i - a + 1, t1, t2, tol, b->u)) return -1;
        }
        a = i;
    }
    return 0;
}

/* rotates a closed polyline p[0..n) (and its corner flags) to start at a
 * corner; false when it has none */
static bool start_at_corner(fit_buf *b, int n) {
    int rot = -1;
    for (int i = 0; i < n && rot < 0; i++)
        if (b->fix[i]) rot = i;
    if (rot <= 0) return rot == 0;
    memcpy(b->tmp, b->p, sizeof(pt2) * (size_t)n);
    for (int i = 0; i < n; i++) b->p[i] = b->tmp[(i + rot) % n];
    b->p[n] = b->p[0];
    memcpy(b->keep, b->fix, (size_t)n);
    for (int i = 0; i < n; i++) b->fix[i] = b->keep[(i + rot) % n];
    return true;
}

/* one polyline as one subpath of the last item */
static int add_polyline(const vec_strokes *s, int64_t k, const vec_fit_params *fp, fit_buf *b, emitter *e) {
    const vec_polyline *pl = &s->lines.pl[k];
    const double *xy = s->lines.xy + 2 * pl->off;
    bool closed = pl->closed && pl->n > 2;
    int n = pl->n;
    if (n < 1) return 0;
    if (fit_buf_grow(b, n + 1)) return -1;
    for (int i = 0; i < n; i++) b->p[i] = (pt2){xy[2 * i], xy[2 * i + 1]};
    int last = closed ? n : n - 1;
    bool cyc = false;
    if (closed) b->p[n] = b->p[0];
    if (fp->mode == VEC_MODE_PIXEL) {
        memset(b->fix, 1, (size_t)last + 1);
    } else {
        mark_corners(b->p, last, closed, fp, b->keep, b->fix);
        cyc = closed && !start_at_corner(b, n);
        b->fix[0] = b->fix[last] = 1;
        if (cyc) {
            smooth(b->p, n, true, b->tmp);
            b->p[n] = b->p[0];
        } else {
            for (int a = 0, i = 1; i <= last; i++)
                if (b->fix[i]) smooth_run(b->p, a, i, b->tmp), a = i;
        }
    }
    e->lx = q(e, b->p[0].x), e->ly = q(e, b->p[0].y), e->nseg = 0;
    if (carve__vec_geom_path(e->g, e->lx, e->ly)) return -1;
    int rc = 0;
    if (fp->mode == VEC_MODE_PIXEL) {
        for (int i = 1; i <= last && !rc; i++) rc = emit_line(e, b->p[i]);
    } else rc = fit_runs(e, b, last, cyc, fp, STROKE_TOL * fp->fit_tol);
    if (rc) return -1;
    if (!e->nseg) { /* a dot: a zero-length line, drawn by the round cap */
        vec_gseg z = {{e->lx, e->ly, 0, 0, 0, 0}, VEC_SEG_LINE};
        if (carve__vec_geom_seg(e->g, &z)) return -1;
    }
    if (closed) carve__vec_geom_close(e->g);
    return 0;
}
carve_status carve__vec_add_strokes(carve_ctx *ctx, const vec_strokes *s, vec_geom *g) {
    int64_t n = s->lines.n;
    if (!n) return CARVE_OK;
    vec_fit_params fpv = {0}, *fp = &fpv;
    fpv.mode = carve__opt_enum(ctx, CARVE_OPTID_mode);
    fpv.corner_deg = carve__opt_float(ctx, CARVE_OPTID_corner_threshold);
    fpv.length_px = carve__opt_float(ctx, CARVE_OPTID_length_threshold);
    fpv.scale = pow(10.0, (double)carve__opt_int(ctx, CARVE_OPTID_path_precision));
    fpv.fit_tol = fpv.poly_eps = carve__opt_float(ctx, CARVE_OPTID_trace_tolerance);
    uint8_t *done = calloc((size_t)n, 1);
    fit_buf b = {0};
    emitter e = {g, fp->scale, 0, 0, 0};
    int rc = done ? 0 : -1;
    for (int64_t k0 = 0; k0 < n && !rc; k0++) { /* one item per (colour, width), in order of first use */
        if (done[k0]) continue;
        vec_item it = {VEC_ITEM_STROKE, VEC_ROLE_OUTLINE, VEC_CAP_ROUND, 0, s->color[k0], -1, s->width[k0], 0, 0, 0};
        rc = carve__vec_geom_item(g, &it);
        for (int64_t k = k0; k < n && !rc; k++) {
            if (done[k] || s->color[k] != s->color[k0] || s->width[k] != s->width[k0]) continue;
            done[k] = 1;
            rc = add_polyline(s, k, fp, &b, &e);
        }
    }
    free(done);
    free(b.p);
    free(b.tmp);
    free(b.u);
    free(b.keep);
    free(b.fix);
    return rc ? carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory fitting strokes") : CARVE_OK;
}
