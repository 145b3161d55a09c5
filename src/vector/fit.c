/* fit.c — fitting one boundary chain: pixel staircase, polygon, or cubic
 * Bézier spline.  Chain end points (junctions) stay exactly on their lattice
 * vertex, so the chains meeting at a junction stay watertight.
 *
 * Polygon: each straight run of the staircase contributes the points half a
 * pixel in from its ends (one midpoint for a unit run); these points lie on
 * both sides of the ideal edge, so they are unbiased.  Douglas–Peucker with
 * tolerance poly_eps simplifies them; a short edge between two long edges
 * whose lines meet within a pixel is replaced by that meeting point (restores
 * the square corners that the half-pixel inset cut off).
 *
 * Spline: polygon vertices turning by at least corner_threshold (with an
 * adjacent edge at least length_threshold long) are corners; the runs between
 * corners are fitted with cubic Béziers by least squares (Schneider, chord
 * length parameters, Newton reparameterization) against the staircase points,
 * splitting at polygon vertices while the error exceeds fit_tol or a curve
 * would turn by more than splice_threshold. */
#include "vector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct P2 {
    double x, y;
} P2;

static inline P2 p2(double x, double y) { return (P2){x, y}; }
static inline P2 sub(P2 a, P2 b) { return p2(a.x - b.x, a.y - b.y); }
static inline P2 add(P2 a, P2 b) { return p2(a.x + b.x, a.y + b.y); }
static inline P2 mul(P2 a, double s) { return p2(a.x * s, a.y * s); }
static inline double dot(P2 a, P2 b) { return a.x * b.x + a.y * b.y; }
static inline double cross(P2 a, P2 b) { return a.x * b.y - a.y * b.x; }
static inline double len(P2 a) { return sqrt(a.x * a.x + a.y * a.y); }
static inline P2 unit(P2 a) {
    double l = len(a);
    return l > 1e-12 ? mul(a, 1.0 / l) : p2(0, 0);
}

typedef struct segbuf {
    vec_seg *v;
    int32_t n, cap;
    double scale;
} segbuf;

static int seg_add(segbuf *b, int cubic, const P2 *pts) {
    if (b->n == b->cap) {
        int32_t nc = b->cap ? b->cap * 2 : 4;
        vec_seg *nv = realloc(b->v, (size_t)nc * sizeof(vec_seg));
        if (!nv) return -1;
        b->v = nv;
        b->cap = nc;
    }
    vec_seg *s = &b->v[b->n++];
    memset(s, 0, sizeof *s);
    s->kind = (uint8_t)(cubic ? VEC_SEG_CUBIC : VEC_SEG_LINE);
    int np = cubic ? 3 : 1;
    for (int i = 0; i < np; i++) {
        s->p[2 * i] = llround(pts[i].x * b->scale);
        s->p[2 * i + 1] = llround(pts[i].y * b->scale);
    }
    return 0;
}
static int seg_line(segbuf *b, P2 to) { return seg_add(b, 0, &to); }
static int seg_copy(segbuf *b, const vec_seg *s) {
    P2 dummy = p2(0, 0);
    if (seg_add(b, 0, &dummy)) return -1;
    b->v[b->n - 1] = *s;
    return 0;
}

/* ---- Douglas–Peucker (iterative) ---------------------------------------- */
static double seg_dist(P2 p, P2 a, P2 b) {
    P2 ab = sub(b, a), ap = sub(p, a);
    double l2 = dot(ab, ab);
    if (l2 < 1e-18) return len(ap);
    double t = dot(ap, ab) / l2;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return len(sub(ap, mul(ab, t)));
}

static int dp(const P2 *D, int64_t i0, int64_t i1, double eps, uint8_t *keep) {
    int64_t cap = 64, n = 0;
    int64_t *st = malloc((size_t)cap * 2 * sizeof(int64_t));
    if (!st) return -1;
    st[n * 2] = i0;
    st[n * 2 + 1] = i1;
    n++;
    while (n) {
        n--;
        int64_t a = st[n * 2], b = st[n * 2 + 1];
        if (b - a < 2) continue;
        double best = -1;
        int64_t bi = -1;
        for (int64_t i = a + 1; i < b; i++) {
            double d = seg_dist(D[i], D[a], D[b]);
            if (d > best) {
                best = d;
                bi = i;
            }
        }
        if (best > eps) {
            keep[bi] = 1;
            if (n + 2 > cap) {
                cap *= 2;
                int64_t *ns = realloc(st, (size_t)cap * 2 * sizeof(int64_t));
                if (!ns) {
                    free(st);
                    return -1;
                }
                st = ns;
            }
            st[n * 2] = a;
            st[n * 2 + 1] = bi;
            n++;
            st[n * 2] = bi;
            st[n * 2 + 1] = b;
            n++;
        }
    }
    free(st);
    return 0;
}

/* ---- cubic Bézier least squares (Schneider 1990) ------------------------- */
static inline P2 bez(const P2 *c, double u) {
    double v = 1 - u;
    double b0 = v * v * v, b1 = 3 * u * v * v, b2 = 3 * u * u * v, b3 = u * u * u;
    return p2(b0 * c[0].x + b1 * c[1].x + b2 * c[2].x + b3 * c[3].x, b0 * c[0].y + b1 * c[1].y + b2 * c[2].y + b3 * c[3].y);
}
static inline P2 bez1(const P2 *c, double u) {
    double v = 1 - u;
    P2 d0 = sub(c[1], c[0]), d1 = sub(c[2], c[1]), d2 = sub(c[3], c[2]);
    return mul(add(add(mul(d0, v * v), mul(d1, 2 * u * v)), mul(d2, u * u)), 3);
}
static inline P2 bez2(const P2 *c, double u) {
    P2 e0 = add(sub(c[2], mul(c[1], 2)), c[0]), e1 = add(sub(c[3], mul(c[2], 2)), c[1]);
    return mul(add(mul(e0, 1 - u), mul(e1, u)), 6);
}

/* fits c[0..3] to Q[0..m] with c[0]=Q[0], c[3]=Q[m] and unit tangents t1
 * (out of Q[0]) and t2 (out of Q[m], back into the curve); u holds the
 * parameters (updated by reparameterization).  Returns the max error and its
 * index. */
static double fit_cubic(const P2 *Q, int64_t m, double *u, P2 t1, P2 t2, P2 *c, int64_t *worst) {
    P2 p0 = Q[0], p3 = Q[m];
    double chord = len(sub(p3, p0));
    double err = 0;
    for (int iter = 0; iter < 4; iter++) {
        double C11 = 0, C12 = 0, C22 = 0, X1 = 0, X2 = 0;
        for (int64_t i = 0; i <= m; i++) {
            double t = u[i], v = 1 - t;
            double b0 = v * v * v, b1 = 3 * t * v * v, b2 = 3 * t * t * v, b3 = t * t * t;
            P2 a1 = mul(t1, b1), a2 = mul(t2, b2);
            C11 += dot(a1, a1);
            C12 += dot(a1, a2);
            C22 += dot(a2, a2);
            P2 tmp = sub(Q[i], add(mul(p0, b0 + b1), mul(p3, b2 + b3)));
            X1 += dot(a1, tmp);
            X2 += dot(a2, tmp);
        }
        double det = C11 * C22 - C12 * C12;
        double al1 = 0, al2 = 0;
        if (fabs(det) > 1e-12) {
            al1 = (X1 * C22 - X2 * C12) / det;
            al2 = (C11 * X2 - C12 * X1) / det;
        }
        double eps = 1e-6 * chord;
        if (!(al1 > eps) || !(al2 > eps) || al1 > 2 * chord || al2 > 2 * chord) al1 = al2 = chord / 3;
        c[0] = p0;
        c[1] = add(p0, mul(t1, al1));
        c[2] = add(p3, mul(t2, al2));
        c[3] = p3;
        err = 0;
        *worst = m / 2;
        for (int64_t i = 1; i < m; i++) {
            double e = len(sub(bez(c, u[i]), Q[i]));
            if (e > err) {
                err = e;
                *worst = i;
            }
        }
        if (iter == 3) break;
        /* Newton step on every parameter */
        for (int64_t i = 1; i < m; i++) {
            P2 d = sub(bez(c, u[i]), Q[i]), d1 = bez1(c, u[i]), d2 = bez2(c, u[i]);
            double num = dot(d, d1), den = dot(d1, d1) + dot(d, d2);
            if (fabs(den) > 1e-12) {
                double nu = u[i] - num / den;
                if (nu >= 0 && nu <= 1) u[i] = nu;
            }
        }
    }
    return err;
}

/* true when the curve keeps moving forward along its chord (no loop, no
 * cusp, no backtracking) and bends gently enough to be stroked cleanly */
static bool monotone(const P2 *c) {
    P2 ch = sub(c[3], c[0]);
    double cl = len(ch);
    if (cl <= 0) return false;
    for (int i = 0; i <= 16; i++) {
        P2 d = bez1(c, i / 16.0), dd = bez2(c, i / 16.0);
        double dl = len(d);
        if (dot(d, ch) <= 0.05 * dl * cl) return false;
        /* radius of curvature at least 0.8 px: tighter bends make the
         * inner offset of a gap-filler stroke fold over (renderers then
         * leave a hole in the stroke) and are pixel noise anyway */
        if (fabs(cross(d, dd)) * 0.8 > dl * dl * dl) return false;
    }
    return true;
}

typedef struct fitter {
    const int32_t *V;   /* the chain's lattice points V[0..n] (x, y pairs) */
    int64_t n;          /* unit edges */
    int64_t *K;         /* staircase turns: indices into V */
    int64_t nk;
    P2 *Dw;             /* staircase points (written by staircase_points) */
    uint8_t *keep;      /* Douglas–Peucker: staircase point i is a polygon vertex */
    const vec_ellipse *ell; /* the ellipse the chain lies on, or NULL */
    int64_t *bk;        /* end vertex of each piece written for the current run */
    int32_t nbk;
    const vec_topo *t;
    const P2 *D;        /* staircase points, as the spline fit reads them */
    int64_t nD;
    bool closed;
    P2 *P;              /* polygon */
    int64_t *pi;        /* D index of each polygon vertex */
    int64_t nP;         /* for a closed chain P[nP-1] == P[0] */
    double *turn;       /* degrees at each polygon vertex */
    const vec_fit_params *prm;
    segbuf *out;
    P2 *Q;              /* scratch samples */
    double *u;
    int64_t qcap;
} fitter;

/* samples of polygon span a..b (inclusive ends), using D between vertices */
static int64_t gather(fitter *f, int64_t a, int64_t b) {
    int64_t m = 0;
    for (int64_t k = a; k < b; k++) {
        if (m >= f->qcap) return -1;
        f->Q[m++] = f->P[k];
        int64_t j = f->pi[k], end = f->pi[k + 1];
        if (f->closed) {
            j = (j + 1) % f->nD;
            while (j != end) {
                if (m >= f->qcap) return -1;
                f->Q[m++] = f->D[j];
                j = (j + 1) % f->nD;
            }
        } else {
            for (j = j + 1; j < end; j++) {
                if (m >= f->qcap) return -1;
                f->Q[m++] = f->D[j];
            }
        }
    }
    if (m >= f->qcap) return -1;
    f->Q[m] = f->P[b];
    return m;
}

/* the staircase point about L px of boundary away from D index j, walking
 * in direction dir (+1 / -1); clamped at the ends of an open chain */
#define TAN_WINDOW 2.5
static P2 d_walk(const fitter *f, int64_t j, int dir, double L) {
    double acc = 0;
    P2 p = f->D[j];
    for (int64_t steps = 0; steps < f->nD; steps++) {
        int64_t nj = j + dir;
        if (f->closed) nj = (nj + f->nD) % f->nD;
        else if (nj < 0 || nj >= f->nD) break;
        acc += len(sub(f->D[nj], p));
        p = f->D[nj];
        j = nj;
        if (acc >= L) break;
    }
    return p;
}

/* tangent at a smooth polygon vertex: the chord between the staircase
 * points TAN_WINDOW px before and after it (for a circle a symmetric chord
 * is exactly parallel to the tangent, and it averages the pixel zig-zag) */
static P2 smooth_tangent(const fitter *f, int64_t k) {
    int64_t j = f->pi[k];
    P2 t = unit(sub(d_walk(f, j, +1, TAN_WINDOW), d_walk(f, j, -1, TAN_WINDOW)));
    if (t.x == 0 && t.y == 0) {
        P2 prev = k > 0 ? f->P[k - 1] : (f->closed ? f->P[f->nP - 2] : f->P[0]);
        P2 next = k < f->nP - 1 ? f->P[k + 1] : (f->closed ? f->P[1] : f->P[f->nP - 1]);
        t = unit(sub(next, prev));
    }
    return t;
}

/* one-sided tangent at a corner or chain end, into the span (dir +1: towards
 * P[k+1], -1: towards P[k-1]): the polygon edge when it is long, else the
 * direction to the staircase point TAN_WINDOW px along */
static P2 corner_tangent(const fitter *f, int64_t k, int dir) {
    P2 e = sub(f->P[k + dir], f->P[k]);
    if (len(e) >= 2 * TAN_WINDOW) return unit(e);
    P2 t = unit(sub(d_walk(f, f->pi[k], dir, TAN_WINDOW), f->P[k]));
    if ((t.x == 0 && t.y == 0) || dot(t, e) <= 0) t = unit(e);
    return t;
}

/* net turning (degrees) of the polygon over span a..b (the zig-zag of the
 * staircase cancels out) */
static double span_turn(const fitter *f, int64_t a, int64_t b) {
    double total = 0;
    for (int64_t k = a + 1; k < b; k++) total += f->turn[k];
    return fabs(total);
}

/* a written piece of the current run ends at polygon vertex b */
static int piece(fitter *f, int64_t b, int rc) {
    if (!rc) f->bk[f->nbk++] = b;
    return rc;
}

/* one piece for span a..b: a line when its samples lie within half the
 * tolerance of the chord, else one cubic when it is within the tolerance
 * and well behaved.  1 written, 0 not (*worst: the worst sample in Q), -1 OOM */
static int fit_one(fitter *f, int64_t a, int64_t b, P2 ta, P2 tb, int64_t *worst) {
    int64_t m = gather(f, a, b);
    if (m < 0) return -1;
    P2 ch = sub(f->Q[m], f->Q[0]);
    double cl = len(ch), maxoff = 0;
    for (int64_t i = 1; i < m && cl > 0; i++) maxoff = fmax(maxoff, fabs(cross(ch, sub(f->Q[i], f->Q[0]))) / cl);
    if (cl > 0 && maxoff <= f->prm->fit_tol * 0.5) return piece(f, b, seg_line(f->out, f->P[b])) ? -1 : 1;
    /* chord-length parameters */
    f->u[0] = 0;
    for (int64_t i = 1; i <= m; i++) f->u[i] = f->u[i - 1] + len(sub(f->Q[i], f->Q[i - 1]));
    double tot = f->u[m];
    if (tot <= 0) return piece(f, b, seg_line(f->out, f->P[b])) ? -1 : 1;
    for (int64_t i = 1; i <= m; i++) f->u[i] /= tot;
    P2 c[4];
    double err = fit_cubic(f->Q, m, f->u, ta, tb, c, worst);
    if (err <= f->prm->fit_tol && monotone(c)) return piece(f, b, seg_add(f->out, 1, c + 1)) ? -1 : 1;
    return 0;
}

/* the polygon vertex of span a..b nearest to sample `worst` of Q */
static int64_t vertex_near_sample(const fitter *f, int64_t a, int64_t b, int64_t worst) {
    int64_t acc = 0, split = a + 1;
    double bestd = 1e300;
    for (int64_t k = a + 1; k < b; k++) {
        /* sample index of vertex k within Q */
        int64_t j = f->pi[k - 1], end = f->pi[k], cnt = 0;
        if (f->closed) {
            j = (j + 1) % f->nD;
            while (j != end) { cnt++; j = (j + 1) % f->nD; }
        } else cnt = end > j ? end - j - 1 : 0;
        acc += cnt + 1;
        double d = fabs((double)(acc - worst));
        if (d < bestd) {
            bestd = d;
            split = k;
        }
    }
    return split;
}

/* fits span a..b with unit tangents ta (leaving P[a]) and tb (leaving P[b]
 * backwards): split where the accumulated turning reaches half the total
 * when it exceeds splice_deg, else one piece if it fits, else split at the
 * polygon vertex nearest to the worst sample (both halves share the smooth
 * tangent there), down to single edges (lines) */
static int fit_span(fitter *f, int64_t a, int64_t b, P2 ta, P2 tb, int depth) {
    if (b - a == 1) return piece(f, b, seg_line(f->out, f->P[b]));
    double total = span_turn(f, a, b);
    int64_t split = -1;
    if (total > f->prm->splice_deg) {
        double acc = 0;
        for (int64_t k = a + 1; k < b; k++) {
            acc += f->turn[k];
            if (fabs(acc) >= total / 2) {
                split = k;
                break;
            }
        }
    } else {
        int64_t worst = 0;
        int r = fit_one(f, a, b, ta, tb, &worst);
        if (r) return r < 0 ? -1 : 0;
        split = vertex_near_sample(f, a, b, worst);
    }
    P2 ts = smooth_tangent(f, split);
    if (fit_span(f, a, split, ta, mul(ts, -1), depth + 1)) return -1;
    return fit_span(f, split, b, ts, tb, depth + 1);
}

#define MERGE_MAX 8 /* most consecutive pieces tried as one */

/* merges consecutive pieces of run a..b (written from out->v[n0], ending at
 * f->bk[]) greedily from the start: the longest stretch of up to MERGE_MAX
 * pieces that one line or cubic fits within the tolerance and the splice
 * limit replaces them (the recursive split never tries a piece across its
 * first split point).  Tangents as the split used them. */
static int merge_pieces(fitter *f, int64_t a, int64_t b, P2 ta, P2 tb, int32_t n0, vec_seg *orig, int64_t *K) {
    int32_t m = f->nbk;
    memcpy(orig, f->out->v + n0, (size_t)m * sizeof(vec_seg));
    K[0] = a;
    memcpy(K + 1, f->bk, (size_t)m * sizeof(int64_t));
    f->out->n = n0;
    for (int32_t i = 0; i < m;) {
        int32_t next = i + 1;
        for (int32_t j = i + MERGE_MAX < m ? i + MERGE_MAX : m; j >= i + 2; j--) {
            if (span_turn(f, K[i], K[j]) > f->prm->splice_deg) continue;
            P2 t0 = K[i] == a ? ta : smooth_tangent(f, K[i]);
            P2 t1 = K[j] == b ? tb : mul(smooth_tangent(f, K[j]), -1);
            int64_t worst;
            int r = fit_one(f, K[i], K[j], t0, t1, &worst);
            if (r < 0) return -1;
            if (r) {
                next = j;
                break;
            }
        }
        if (next == i + 1 && seg_copy(f->out, &orig[i])) return -1;
        i = next;
    }
    return 0;
}

/* one run between corners: recursive split, then merging */
static int fit_run(fitter *f, int64_t a, int64_t b, P2 ta, P2 tb, vec_seg *orig, int64_t *K) {
    int32_t n0 = f->out->n;
    f->nbk = 0;
    if (fit_span(f, a, b, ta, tb, 0)) return -1;
    return f->nbk >= 2 ? merge_pieces(f, a, b, ta, tb, n0, orig, K) : 0;
}

/* ---- scratch arena ------------------------------------------------------ */
void carve__vec_scratch_free(vec_scratch *sc) {
    free(sc->buf);
    free(sc->seg);
    sc->buf = NULL;
    sc->seg = NULL;
    sc->cap = sc->used = 0;
    sc->segcap = 0;
}

static int sc_reserve(vec_scratch *sc, size_t bytes) {
    sc->used = 0;
    if (bytes <= sc->cap) return 0;
    free(sc->buf);
    sc->buf = malloc(bytes);
    sc->cap = sc->buf ? bytes : 0;
    return sc->buf ? 0 : -1;
}

static void *sc_alloc(vec_scratch *sc, size_t bytes, bool zero) {
    size_t a = (bytes + 15) & ~(size_t)15;
    if (sc->used + a > sc->cap) return NULL; /* cannot happen: reserved from the bound */
    void *p = sc->buf + sc->used;
    sc->used += a;
    if (zero) memset(p, 0, bytes);
    return p;
}
#define SC_MALLOC(bytes) sc_alloc(sc, (bytes), false)
#define SC_CALLOC(n, size) sc_alloc(sc, (size_t)(n) * (size_t)(size), true)

/* ---- one chain, step by step --------------------------------------------
 * carve__vec_fit_chain: staircase turns -> (pixel: done) -> staircase points
 * -> Douglas–Peucker -> polygon with restored corners -> (polygon: done) ->
 * turning angles -> corners -> one Bézier run between consecutive corners. */

/* the lattice vertices where the staircase changes direction (K[0..nk), the
 * chain ends included; a closed chain ends with K = n, its vertex 0) */
static void staircase_turns(fitter *f) {
    const int32_t *V = f->V;
    int64_t n = f->n, *K = f->K, nk = 0;
#define VDIR(i, j) ((V[2 * (j)] - V[2 * (i)]) * 3 + (V[2 * (j) + 1] - V[2 * (i) + 1]))
    if (!f->closed) {
        K[nk++] = 0;
        for (int64_t i = 1; i < n; i++)
            if (VDIR(i - 1, i) != VDIR(i, i + 1)) K[nk++] = i;
        K[nk++] = n;
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t pv = i ? i - 1 : n - 1;
            if (VDIR(pv, i) != VDIR(i, i + 1)) K[nk++] = i;
        }
        K[nk++] = n; /* == vertex 0 */
    }
#undef VDIR
    f->nk = nk;
}

/* pixel mode: the staircase itself, collinear unit edges merged */
static int emit_staircase(const fitter *f) {
    const int32_t *V = f->V;
    for (int64_t k = 1; k < f->nk; k++)
        if (seg_line(f->out, p2(V[2 * f->K[k]], V[2 * f->K[k] + 1]))) return -1;
    return 0;
}

/* staircase points: the midpoint of every straight run (unbiased: a digital
 * line or curve passes through them), plus the turning vertex itself where
 * the staircase really turns: between two runs of at least 2 px, or at
 * either end of a 1 px "cap" (a run whose two turns go the same way, e.g.
 * the end of a 1 px wide line).  Open chains keep their ends exactly. */
static int staircase_points(fitter *f, vec_scratch *sc) {
    const int32_t *V = f->V;
    const int64_t *K = f->K;
    bool closed = f->closed;
    int64_t nD = 0, nr = f->nk - 1;
    P2 *D = f->Dw;
    int8_t *ts = SC_CALLOC((size_t)nr + 1, 1); /* turn sign at the start of run i */
    int32_t *rl = SC_MALLOC((size_t)(nr + 1) * sizeof(int32_t));
    if (!ts || !rl) return -1;
    for (int64_t i = 0; i < nr; i++) {
        int64_t a = K[i], b = K[i + 1];
        rl[i] = abs(V[2 * b] - V[2 * a]) + abs(V[2 * b + 1] - V[2 * a + 1]);
    }
    for (int64_t i = 0; i < nr; i++) {
        if (!closed && i == 0) continue;
        int64_t ip = i ? i - 1 : nr - 1;
        int64_t a0 = K[ip], a1 = K[ip + 1], b1 = K[i + 1];
        int dx0 = V[2 * a1] - V[2 * a0], dy0 = V[2 * a1 + 1] - V[2 * a0 + 1];
        int dx1 = V[2 * b1] - V[2 * a1], dy1 = V[2 * b1 + 1] - V[2 * a1 + 1];
        long cr = (long)dx0 * dy1 - (long)dy0 * dx1;
        ts[i] = (int8_t)(cr > 0 ? 1 : cr < 0 ? -1 : 0);
    }
#define CAP(i) (rl[i] == 1 && ts[i] != 0 && (closed || (i) + 1 < nr) && ts[(i) + 1 < nr ? (i) + 1 : 0] == ts[i])
    if (!closed) D[nD++] = p2(V[0], V[1]);
    for (int64_t i = 0; i < nr; i++) {
        int64_t ip = i ? i - 1 : nr - 1;
        if (ts[i] && ((rl[ip] >= 2 && rl[i] >= 2) || CAP(ip) || CAP(i))) D[nD++] = p2(V[2 * K[i]], V[2 * K[i] + 1]);
        P2 a = p2(V[2 * K[i]], V[2 * K[i] + 1]), b = p2(V[2 * K[i + 1]], V[2 * K[i + 1] + 1]);
        D[nD++] = mul(add(a, b), 0.5);
    }
#undef CAP
    if (!closed) D[nD++] = p2(V[2 * f->n], V[2 * f->n + 1]);
    f->nD = nD;
    return 0;
}

/* Douglas–Peucker over the staircase points: keep[i] marks the polygon's
 * vertices.  A closed chain is split at point 0 and the point farthest from
 * it (D[nD] = D[0] closes the second half). */
static int simplify_points(fitter *f, vec_scratch *sc) {
    P2 *D = f->Dw;
    int64_t nD = f->nD;
    double eps = f->prm->poly_eps;
    uint8_t *keep = f->keep = SC_CALLOC((size_t)nD + 1, 1);
    if (!keep) return -1;
    if (!f->closed) {
        keep[0] = keep[nD - 1] = 1;
        return dp(D, 0, nD - 1, eps, keep);
    }
    D[nD] = D[0];
    int64_t far = 0;
    double fd = -1;
    for (int64_t i = 1; i < nD; i++) {
        double d = len(sub(D[i], D[0]));
        if (d > fd) {
            fd = d;
            far = i;
        }
    }
    keep[0] = keep[far] = 1;
    if (dp(D, 0, far, eps, keep) || dp(D, far, nD, eps, keep)) return -1;
    keep[nD] = 0;
    return 0;
}

/* corner restoration: a short edge i..i+1 (<= 1.5 px) between two edges at
 * least twice as long is replaced by the intersection of their lines when it
 * is within 1 px of both ends (the square corner the inset points cut off);
 * a closed polygon keeps its seam vertex 0 */
static void restore_corners(fitter *f) {
    bool closed = f->closed;
    int64_t nP = f->nP;
    int64_t lo = closed ? 0 : 1;
    for (int64_t i = lo; i + 1 < nP - (closed ? 0 : 1); i++) {
        int64_t im = i - 1, ip = i + 2;
        if (closed) {
            if (nP - 1 < 5) break;
            if (i + 1 >= nP - 1) break; /* keep the seam vertex 0 fixed */
            if (i == 0) continue;
            if (ip >= nP) ip -= (nP - 1);
        }
        if (im < 0 || ip >= nP) continue;
        P2 e = sub(f->P[i + 1], f->P[i]);
        double el = len(e);
        if (el > 1.5) continue;
        P2 a = sub(f->P[i], f->P[im]), b = sub(f->P[ip], f->P[i + 1]);
        if (len(a) < 2 * el || len(b) < 2 * el) continue;
        double den = cross(a, b);
        if (fabs(den) < 1e-9 * len(a) * len(b) + 1e-12) continue;
        double s = cross(sub(f->P[i + 1], f->P[im]), b) / den;
        P2 X = add(f->P[im], mul(a, s));
        if (len(sub(X, f->P[i])) > 1.0 || len(sub(X, f->P[i + 1])) > 1.0) continue;
        f->P[i] = X;
        memmove(&f->P[i + 1], &f->P[i + 2], (size_t)(nP - i - 2) * sizeof(P2));
        memmove(&f->pi[i + 1], &f->pi[i + 2], (size_t)(nP - i - 2) * sizeof(int64_t));
        nP--;
    }
    f->nP = nP;
}

/* the polygon: the kept staircase points (a closed one repeats P[0] at the
 * end), then corner restoration */
static int build_polygon(fitter *f, vec_scratch *sc) {
    int64_t nD = f->nD, nP = 0;
    f->P = SC_CALLOC((size_t)(nD + 2), sizeof(P2));
    f->pi = SC_MALLOC((size_t)(nD + 2) * sizeof(int64_t));
    f->turn = SC_CALLOC((size_t)nD + 2, sizeof(double));
    if (!f->P || !f->pi || !f->turn) return -1;
    for (int64_t i = 0; i < nD; i++)
        if (f->keep[i]) {
            f->P[nP] = f->Dw[i];
            f->pi[nP++] = i;
        }
    if (f->closed) {
        f->P[nP] = f->P[0];
        f->pi[nP++] = f->pi[0];
    }
    f->nP = nP;
    restore_corners(f);
    return 0;
}

/* signed turning angle (degrees) at every polygon vertex; 0 at open ends */
static void turning_angles(fitter *f) {
    int64_t nP = f->nP;
    for (int64_t k = 0; k < nP; k++) {
        int64_t kp = k - 1, kn = k + 1;
        if (f->closed) {
            if (k == 0 || k == nP - 1) {
                kp = nP - 2;
                kn = 1;
            }
        } else if (k == 0 || k == nP - 1) {
            f->turn[k] = 0;
            continue;
        }
        P2 a = sub(f->P[k], f->P[kp]), b = sub(f->P[kn], f->P[k]);
        double la = len(a), lb = len(b);
        f->turn[k] = (la > 0 && lb > 0) ? atan2(cross(a, b), dot(a, b)) * (180.0 / M_PI) : 0; /* signed */
    }
}

/* rotates a closed polygon (P, pi, turn, corner; P[m] == P[0]) so that it
 * starts at vertex `first` */
static int rotate_closed(fitter *f, uint8_t *corner, int64_t first, vec_scratch *sc) {
    int64_t m = f->nP - 1;
    P2 *rp = SC_MALLOC((size_t)(m + 1) * sizeof(P2));
    int64_t *ri = SC_MALLOC((size_t)(m + 1) * sizeof(int64_t));
    double *rt = SC_MALLOC((size_t)(m + 1) * sizeof(double));
    uint8_t *rc = SC_MALLOC((size_t)(m + 1));
    if (!rp || !ri || !rt || !rc) return -1;
    for (int64_t k = 0; k < m; k++) {
        int64_t s = (k + first) % m;
        rp[k] = f->P[s];
        ri[k] = f->pi[s];
        rt[k] = f->turn[s];
        rc[k] = corner[s];
    }
    rp[m] = rp[0];
    ri[m] = ri[0];
    rt[m] = rt[0];
    rc[m] = rc[0];
    memcpy(f->P, rp, (size_t)(m + 1) * sizeof(P2));
    memcpy(f->pi, ri, (size_t)(m + 1) * sizeof(int64_t));
    memcpy(f->turn, rt, (size_t)(m + 1) * sizeof(double));
    memcpy(corner, rc, (size_t)(m + 1));
    return 0;
}

/* corners: vertices turning by at least corner_deg with an adjacent edge of
 * at least length_px; open ends are corners; a closed loop with a corner is
 * rotated to start at one (then its ends are corners too).  NULL on OOM. */
static uint8_t *find_corners(fitter *f, vec_scratch *sc) {
    bool closed = f->closed;
    int64_t nP = f->nP;
    uint8_t *corner = SC_CALLOC((size_t)nP + 1, 1);
    if (!corner) return NULL;
    int64_t ncorner = 0, firstc = -1;
    for (int64_t k = (closed ? 0 : 1); k < nP - 1; k++) {
        int64_t kp = (closed && k == 0) ? nP - 2 : k - 1;
        double la = len(sub(f->P[k], f->P[kp])), lb = len(sub(f->P[k + 1], f->P[k]));
        if (fabs(f->turn[k]) >= f->prm->corner_deg && fmax(la, lb) >= f->prm->length_px) {
            corner[k] = 1;
            ncorner++;
            if (firstc < 0) firstc = k;
        }
    }
    if (closed && firstc > 0 && rotate_closed(f, corner, firstc, sc)) return NULL;
    if (closed) corner[0] = corner[nP - 1] = ncorner > 0;
    else corner[0] = corner[nP - 1] = 1;
    return corner;
}

/* spline mode: the Bézier runs between consecutive corners (and the ends),
 * each with its end tangents */
static int fit_runs(fitter *f, const uint8_t *corner, vec_scratch *sc) {
    f->qcap = 2 * f->nD + 8;
    f->Q = SC_MALLOC((size_t)f->qcap * sizeof(P2));
    f->u = SC_MALLOC((size_t)f->qcap * sizeof(double));
    if (!f->Q || !f->u) return -1;
    f->bk = SC_MALLOC((size_t)(f->nP + 1) * sizeof(int64_t));
    int64_t *K = SC_MALLOC((size_t)(f->nP + 2) * sizeof(int64_t));
    vec_seg *orig = SC_MALLOC((size_t)(f->nP + 1) * sizeof(vec_seg));
    if (!f->bk || !K || !orig) return -1;
    int64_t a = 0;
    for (int64_t k = 1; k < f->nP; k++) {
        if (!(corner[k] || k == f->nP - 1)) continue;
        P2 ta = corner[a] ? corner_tangent(f, a, +1) : smooth_tangent(f, a);
        P2 tb = corner[k] ? corner_tangent(f, k, -1) : mul(smooth_tangent(f, k), -1);
        if (fit_run(f, a, k, ta, tb, orig, K)) return -1;
        a = k;
    }
    return 0;
}

/* ---- true shapes: a chain on a found ellipse, as arcs ----------------------- */

#define ARC_MAX_PIECE (2 * M_PI / 3) /* most turning of one arc (120 deg: the centre stays well conditioned) */
#define ARC_MAX_DEV 1.25             /* px: farthest staircase point from the written (quantized) arcs */
#define ARC_HALF_DEFLATE 2           /* units: a closed ellipse's half arcs get radii slightly too small, so
                                      * every reader scales them up (SVG F.6.6) and centres them exactly
                                      * between their end points */

static int seg_arc(segbuf *b, int64_t x, int64_t y, int64_t rx, int64_t ry, int64_t rot, int64_t flags) {
    P2 end = p2((double)x / b->scale, (double)y / b->scale);
    if (seg_add(b, 0, &end)) return -1;
    vec_seg *s = &b->v[b->n - 1];
    int64_t p[6] = {x, y, rx, ry, rot, flags};
    memcpy(s->p, p, sizeof p);
    s->kind = VEC_SEG_ARC;
    return 0;
}

static double wrap_angle(double a) {
    while (a > M_PI) a -= 2 * M_PI;
    while (a < -M_PI) a += 2 * M_PI;
    return a;
}

typedef struct arcplan {
    int64_t sx, sy;               /* start (units) */
    int64_t x[3], y[3];           /* piece ends */
    int k;                        /* pieces (<= 3) */
    int64_t rx, ry, rot, flags;
    double span;                  /* signed turning, radians */
} arcplan;

/* the pieces: a closed chain is the whole ellipse in two half arcs from the
 * end of its major axis; an open one runs from its first to its last lattice
 * point in pieces of at most ARC_MAX_PIECE, the inner ends on the ellipse */
static bool plan_arcs(const fitter *f, const vec_ellipse *e, arcplan *ap) {
    double sc = f->prm->scale, deg = fmod(e->phi * 180.0 / M_PI + 360.0, 180.0);
    ap->rx = llround(e->a * sc);
    ap->ry = llround(e->b * sc);
    ap->rot = llround(deg * VEC_ARC_ROT_UNIT) % llround(180 * VEC_ARC_ROT_UNIT);
    double x, y, t0;
    if (f->closed) {
        double sh = 0; /* orientation of the loop: the shoelace of the staircase points */
        for (int64_t i = 0; i < f->nD; i++) sh += cross(f->Dw[i], f->Dw[(i + 1) % f->nD]);
        ap->span = sh > 0 ? 2 * M_PI : -2 * M_PI;
        ap->k = 2;
        ap->rx -= ARC_HALF_DEFLATE;
        t0 = 0;
        carve__vec_ellipse_point(e, 0, &x, &y);
    } else {
        x = f->Dw[0].x;
        y = f->Dw[0].y;
        t0 = carve__vec_ellipse_angle(e, x, y);
        double cum = 0, prev = t0;
        for (int64_t i = 1; i < f->nD; i++) {
            double a = carve__vec_ellipse_angle(e, f->Dw[i].x, f->Dw[i].y);
            cum += wrap_angle(a - prev);
            prev = a;
        }
        ap->span = cum;
        ap->k = (int)ceil(fabs(cum) / ARC_MAX_PIECE - 1e-9);
        if (ap->k < 1) ap->k = 1;
        if (ap->k > 3 || fabs(cum) < 1e-3) return false;
    }
    if (ap->rx <= 0 || ap->ry <= 0) return false;
    ap->sx = llround(x * sc);
    ap->sy = llround(y * sc);
    ap->flags = (ap->span > 0 ? VEC_ARC_SWEEP : 0) | (fabs(ap->span) / ap->k > M_PI ? VEC_ARC_LARGE : 0);
    for (int i = 0; i < ap->k; i++) {
        if (i == ap->k - 1 && !f->closed) {
            x = f->Dw[f->nD - 1].x;
            y = f->Dw[f->nD - 1].y;
        } else carve__vec_ellipse_point(e, t0 + ap->span * (i + 1) / ap->k, &x, &y);
        ap->x[i] = llround(x * sc);
        ap->y[i] = llround(y * sc);
    }
    if (f->closed) { /* exactly back to the start */
        ap->x[1] = ap->sx;
        ap->y[1] = ap->sy;
    }
    return true;
}

/* the ellipse a reader draws for piece i (from the quantized numbers), px */
static bool implied_ellipse(const fitter *f, const arcplan *ap, int i, vec_ellipse *out, double *dth) {
    double sc = f->prm->scale;
    int64_t p[6] = {ap->x[i], ap->y[i], ap->rx, ap->ry, ap->rot, ap->flags};
    double x0 = (double)(i ? ap->x[i - 1] : ap->sx), y0 = (double)(i ? ap->y[i - 1] : ap->sy);
    vec_arc a;
    if (!carve__vec_arc_center(x0, y0, p, &a)) return false;
    *out = (vec_ellipse){a.cx / sc, a.cy / sc, a.rx / sc, a.ry / sc, a.phi};
    *dth = a.dth;
    return true;
}

/* every staircase point within ARC_MAX_DEV (and the tolerance) of the piece
 * that covers it, and every piece turning as planned */
static bool arcs_follow(const fitter *f, const vec_ellipse *e, const arcplan *ap) {
    vec_ellipse im[3];
    for (int i = 0; i < ap->k; i++) {
        double dth;
        if (!implied_ellipse(f, ap, i, &im[i], &dth) || fabs(dth - ap->span / ap->k) > M_PI / 6) return false;
    }
    double tol = fmin(f->prm->fit_tol, ARC_MAX_DEV);
    double t0 = f->closed ? 0 : carve__vec_ellipse_angle(e, f->Dw[0].x, f->Dw[0].y), cum = 0, prev = t0;
    for (int64_t i = 0; i < f->nD; i++) {
        double a = carve__vec_ellipse_angle(e, f->Dw[i].x, f->Dw[i].y);
        cum += wrap_angle(a - prev);
        prev = a;
        int piece = f->closed ? 0 : (int)floor(cum / ap->span * ap->k);
        if (piece < 0) piece = 0;
        if (piece >= ap->k) piece = ap->k - 1;
        if (fabs(carve__vec_ellipse_dist(&im[piece], f->Dw[i].x, f->Dw[i].y)) > tol) return false;
    }
    return true;
}

/* 1: the chain written as arcs of e; 0: rejected (fitted as usual); -1 OOM */
static int fit_arcs(fitter *f, vec_chain *c, const vec_ellipse *e) {
    arcplan ap;
    if (!plan_arcs(f, e, &ap) || !arcs_follow(f, e, &ap)) return 0;
    c->sx = ap.sx;
    c->sy = ap.sy;
    for (int i = 0; i < ap.k; i++)
        if (seg_arc(f->out, ap.x[i], ap.y[i], ap.rx, ap.ry, ap.rot, ap.flags)) return -1;
    return 1;
}

/* the fitting proper, into f->out; sets the chain's start point */
static int fit_steps(fitter *f, vec_chain *c, vec_scratch *sc) {
    const vec_fit_params *prm = f->prm;
    staircase_turns(f);
    c->sx = (int64_t)f->V[0] * (int64_t)llround(prm->scale);
    c->sy = (int64_t)f->V[1] * (int64_t)llround(prm->scale);
    if (prm->mode == VEC_MODE_PIXEL || f->n < 2) return emit_staircase(f);
    if (staircase_points(f, sc)) return -1;
    if (!f->closed && f->t->nsnap) { /* junctions moved onto an ellipse (shape.c) */
        carve__vec_vertex_pos(f->t, c->v0, &f->Dw[0].x, &f->Dw[0].y);
        carve__vec_vertex_pos(f->t, c->v1, &f->Dw[f->nD - 1].x, &f->Dw[f->nD - 1].y);
    }
    if (f->ell && prm->mode == VEC_MODE_SPLINE) {
        int r = fit_arcs(f, c, f->ell);
        if (r) return r < 0 ? -1 : 0;
    }
    if (simplify_points(f, sc) || build_polygon(f, sc)) return -1;
    c->sx = llround(f->P[0].x * prm->scale);
    c->sy = llround(f->P[0].y * prm->scale);
    if (prm->mode == VEC_MODE_POLYGON) {
        for (int64_t k = 1; k < f->nP; k++)
            if (seg_line(f->out, f->P[k])) return -1;
        return 0;
    }
    f->D = f->Dw;
    turning_angles(f);
    uint8_t *corner = find_corners(f, sc);
    if (!corner) return -1;
    /* the rotation may have moved the start to a corner */
    c->sx = llround(f->P[0].x * prm->scale);
    c->sy = llround(f->P[0].y * prm->scale);
    return fit_runs(f, corner, sc);
}

/* scratch bytes per unit edge: every array of a chain's fit is bounded by a
 * multiple of its edge count (staircase and its points, polygon, turns,
 * corners, rotation copies, samples, parameters, piece ends and copies) */
#define SCRATCH_PER_EDGE 480

int carve__vec_fit_chain(const vec_topo *t, vec_chain *c, const vec_fit_params *prm, vec_scratch *sc) {
    int64_t n = c->n;
    /* every array is bounded by a multiple of n: one arena, reused by the
     * chains of a task (no malloc/free per chain) */
    if (sc_reserve(sc, (size_t)SCRATCH_PER_EDGE * (size_t)(n + 8) + 1024)) return -1;
    segbuf sb = {sc->seg, 0, sc->segcap, prm->scale}; /* grows in the scratch, reused by the next chain */
    fitter f = {0};
    f.V = t->pts + 2 * c->off;
    f.n = n;
    f.closed = c->closed;
    f.prm = prm;
    f.out = &sb;
    f.ell = c->ell ? &t->ell[c->ell - 1] : NULL;
    f.t = t;
    f.K = SC_MALLOC((size_t)(n + 2) * sizeof(int64_t));
    f.Dw = SC_CALLOC((size_t)(2 * n + 4), sizeof(P2));
    int rc = (!f.K || !f.Dw) ? -1 : fit_steps(&f, c, sc);
    sc->seg = sb.v;
    sc->segcap = sb.cap;
    if (rc == 0 && sb.n) {
        /* one exactly sized allocation per chain: millions of short chains
         * must not keep spare capacity */
        c->seg = malloc((size_t)sb.n * sizeof(vec_seg));
        if (!c->seg) return -1;
        memcpy(c->seg, sb.v, (size_t)sb.n * sizeof(vec_seg));
        c->nseg = sb.n;
    }
    return rc;
}
