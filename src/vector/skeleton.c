/* skeleton.c — masks to polylines for the stroke layers (stroke.h):
 * exact Euclidean distance transform, Zhang-Suen thinning, 8-connected
 * components and the tracing of a one-pixel skeleton into polylines.
 *
 * Tracing: a skeleton pixel with exactly two neighbours is a line pixel;
 * the others are nodes: end points (one neighbour) and junction pixels
 * (three or more; 8-adjacent junction pixels form one junction, placed at
 * their centroid).  Edges run from node to node through line pixels; loops
 * without any node are closed edges.  Junctions joined by an edge of at
 * most JOIN_PX (thinning splits a crossing of thick lines into several)
 * are merged into one.  Spurs (an edge from a junction to an
 * end point shorter than spur_px, a thinning artefact) are dropped.  At
 * every node, edge ends are paired: two ends when only two remain, else
 * greedily the most opposite pair while they turn by at most 45 degrees
 * (an X gives two straight strokes, a T a bar and a stem); paired edges are
 * linked into one polyline, so no pixel is drawn by two strokes and a
 * crossing does not split a line.  All loops run in raster order. */
#include "stroke.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EDT_INF 1e30
#define PAIR_COS (-0.70710678) /* pair two edge ends when they turn by at most 45 degrees */
#define DIR_PX 6.0             /* an edge end's direction: towards the point this far along */
#define JOIN_PX 2.5            /* junction clusters this close are one junction */

/* ---- distance transform (Felzenszwalb-Huttenlocher, separable) ------------ */

/* lower envelope of the parabolas at the finite f[q], q in 0..n-1, plus the
 * zero-distance sites at -1 and n (outside counts as background) */
static void edt1d(const double *f, int n, bool border, double *d, int *v, double *z) {
    int k = 0;
    v[0] = -1;
    double fv0 = border ? 0 : EDT_INF;
    z[0] = -EDT_INF;
    z[1] = EDT_INF;
    for (int q = 0; q <= n; q++) {
        double fq = q == n ? (border ? 0 : EDT_INF) : f[q];
        if (fq >= EDT_INF) continue;
        if (k == 0 && v[0] < 0 && !border) { /* no border site: this is the first parabola */
            v[0] = q;
            continue;
        }
        double s;
        for (;;) {
            int p = v[k];
            double fp = p < 0 ? fv0 : (p == n ? 0 : f[p]);
            s = ((fq + (double)q * q) - (fp + (double)p * p)) / (2.0 * (q - p));
            if (s <= z[k] && k > 0) k--;
            else break;
        }
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = EDT_INF;
    }
    k = 0;
    for (int q = 0; q < n; q++) {
        while (z[k + 1] < q) k++;
        int p = v[k];
        double fp = p < 0 || p == n ? (border ? 0 : EDT_INF) : f[p];
        d[q] = fp >= EDT_INF ? EDT_INF : (double)(q - p) * (q - p) + fp;
    }
}

static inline double dmin(double a, double b) { return a < b ? a : b; }

/* column pass: col[y*w+x] = squared distance to the nearest 0 of m in
 * column x (two row-major sweeps, cache friendly; EDT_INF when none) */
static void edt_columns(const uint8_t *m, int w, int h, bool border, double *col) {
    const double far = EDT_INF;
    for (int x = 0; x < w; x++) col[x] = m[x] ? (border ? 1 : far) : 0;
    for (int y = 1; y < h; y++) {
        const uint8_t *r = m + (size_t)y * w;
        double *c = col + (size_t)y * w, *u = c - w;
        for (int x = 0; x < w; x++) c[x] = r[x] ? (u[x] >= far ? far : u[x] + 1) : 0;
    }
    if (border)
        for (int x = 0; x < w; x++) col[(size_t)(h - 1) * w + x] = dmin(col[(size_t)(h - 1) * w + x], 1);
    for (int y = h - 2; y >= 0; y--) {
        double *c = col + (size_t)y * w, *dn = c + w;
        for (int x = 0; x < w; x++) c[x] = dmin(c[x], dn[x] + 1);
    }
    for (size_t i = 0; i < (size_t)w * h; i++) col[i] = col[i] >= far ? far : col[i] * col[i];
}

/* row pass within a band: the distance is exact when at most r (the
 * nearest 0 lies within r columns), otherwise some value > r^2 */
static void edt_band(const double *col, int w, bool border, int r, double *d) {
    double cap = (double)(r + 1) * (r + 1);
    for (int x = 0; x < w; x++) {
        double best = dmin(col[x], cap);
        if (border) best = dmin(best, dmin((double)(x + 1) * (x + 1), (double)(w - x) * (w - x)));
        for (int k = 1; k <= r && (double)k * k < best; k++) {
            if (x - k >= 0) best = dmin(best, col[x - k] + (double)k * k);
            if (x + k < w) best = dmin(best, col[x + k] + (double)k * k);
        }
        d[x] = best;
    }
}

int carve__vec_edt(const uint8_t *m, int w, int h, bool border, double max_d, float *d2) {
    double *d = malloc(sizeof(double) * (size_t)w), *z = malloc(sizeof(double) * (size_t)(w + 3)),
           *col = malloc(sizeof(double) * (size_t)w * h);
    int *v = malloc(sizeof(int) * (size_t)(w + 3));
    int rc = -1;
    if (!d || !z || !col || !v) goto out;
    edt_columns(m, w, h, border, col);
    for (int y = 0; y < h; y++) {
        if (max_d > 0) edt_band(col + (size_t)y * w, w, border, (int)ceil(max_d), d);
        else edt1d(col + (size_t)y * w, w, border, d, v, z);
        for (int x = 0; x < w; x++) d2[(size_t)y * w + x] = (float)dmin(d[x], 1e30);
    }
    rc = 0;
out:
    free(d);
    free(z);
    free(col);
    free(v);
    return rc;
}

/* ---- thinning -------------------------------------------------------------- */

/* neighbours in ring order N NE E SE S SW W NW (offsets in a padded image) */
static void ring_offsets(int pw, ptrdiff_t o[8]) {
    o[0] = -pw;
    o[1] = -pw + 1;
    o[2] = 1;
    o[3] = pw + 1;
    o[4] = pw;
    o[5] = pw - 1;
    o[6] = -1;
    o[7] = -pw - 1;
}

/* Zhang-Suen sub-iteration `second` over the listed pixels; the number removed */
static int64_t zs_pass(uint8_t *p, const ptrdiff_t o[8], const int64_t *list, int64_t n, bool second, int64_t *del) {
    int64_t nd = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = list[k];
        if (!p[i]) continue;
        int b = 0, a = 0;
        uint8_t r[8];
        for (int j = 0; j < 8; j++) b += r[j] = p[i + o[j]] != 0;
        for (int j = 0; j < 8; j++) a += !r[j] && r[(j + 1) & 7];
        if (b < 2 || b > 6 || a != 1) continue;
        if (!second && ((r[0] && r[2] && r[4]) || (r[2] && r[4] && r[6]))) continue;
        if (second && ((r[0] && r[2] && r[6]) || (r[0] && r[4] && r[6]))) continue;
        del[nd++] = i;
    }
    for (int64_t k = 0; k < nd; k++) p[del[k]] = 0;
    return nd;
}

/* the number of 8-connected groups among the set ring positions */
static int ring_groups(const uint8_t r[8]) {
    int par[8];
    for (int j = 0; j < 8; j++) par[j] = j;
    for (int j = 0; j < 8; j++) {
        if (!r[j]) continue;
        int nb[2] = {(j + 1) & 7, (j & 1) ? -1 : (j + 2) & 7};
        for (int t = 0; t < 2; t++) {
            if (nb[t] < 0 || !r[nb[t]]) continue;
            int x = j, y = nb[t];
            while (par[x] != x) x = par[x];
            while (par[y] != y) y = par[y];
            if (x != y) par[x > y ? x : y] = x < y ? x : y;
        }
    }
    int g = 0;
    for (int j = 0; j < 8; j++) g += r[j] && par[j] == j;
    return g;
}

int carve__vec_thin(uint8_t *m, int w, int h) {
    int pw = w + 2;
    size_t np = (size_t)pw * (h + 2);
    uint8_t *p = calloc(np, 1);
    int64_t n = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) n += m[i] != 0;
    int64_t *list = malloc(sizeof(int64_t) * (size_t)(n ? n : 1)), *del = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!p || !list || !del) {
        free(p);
        free(list);
        free(del);
        return -1;
    }
    n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x]) p[list[n++] = (int64_t)(y + 1) * pw + x + 1] = 1;
    ptrdiff_t o[8];
    ring_offsets(pw, o);
    while (zs_pass(p, o, list, n, false, del) + zs_pass(p, o, list, n, true, del) > 0) {
    }
    /* staircase corners: a pixel whose neighbours stay 8-connected without it */
    for (int64_t k = 0; k < n; k++) {
        int64_t i = list[k];
        if (!p[i]) continue;
        uint8_t r[8];
        int b = 0;
        for (int j = 0; j < 8; j++) b += r[j] = p[i + o[j]] != 0;
        if (b >= 2 && ring_groups(r) == 1) p[i] = 0;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) m[(size_t)y * w + x] = p[(size_t)(y + 1) * pw + x + 1];
    free(p);
    free(list);
    free(del);
    return 0;
}

/* ---- components ------------------------------------------------------------- */

int32_t carve__vec_components8(const uint8_t *m, int w, int h, int32_t *comp) {
    size_t np = (size_t)w * h;
    int64_t *q = malloc(sizeof(int64_t) * (np ? np : 1));
    if (!q) return -1;
    for (size_t i = 0; i < np; i++) comp[i] = -1;
    int32_t nc = 0;
    for (size_t s = 0; s < np; s++) {
        if (!m[s] || comp[s] >= 0) continue;
        int64_t qh = 0, qt = 0;
        q[qt++] = (int64_t)s;
        comp[s] = nc;
        while (qh < qt) {
            int64_t i = q[qh++];
            int x = (int)(i % w), y = (int)(i / w);
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                    size_t j = (size_t)ny * w + nx;
                    if (m[j] && comp[j] < 0) {
                        comp[j] = nc;
                        q[qt++] = (int64_t)j;
                    }
                }
        }
        nc++;
    }
    free(q);
    return nc;
}

/* ---- skeleton graph ------------------------------------------------------- */

typedef struct sk_edge {
    int64_t a, b;     /* node ids (b = -1: a loop without node) */
    int64_t off, n;   /* points pt[2*off ..] */
    int32_t comp;
    double len;
    uint8_t dead;
} sk_edge;

typedef struct sk_graph {
    const uint8_t *sk;
    int w, h;
    uint8_t *deg;        /* neighbours per pixel */
    int64_t *node;       /* node id per node pixel, -1 otherwise */
    uint8_t *seen;       /* line pixels already on an edge */
    double *nx, *ny;     /* node points */
    int64_t *ncount;     /* pixels per node (then edge ends) */
    int64_t nnode;
    double *pt;
    int64_t npt, ptcap;
    sk_edge *e;
    int64_t ne, ecap;
} sk_graph;

static const int NB_DX[8] = {0, 1, 1, 1, 0, -1, -1, -1}, NB_DY[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

/* neighbour j of pixel i, or -1 outside the image / not a skeleton pixel */
static int64_t nb_of(const sk_graph *g, int64_t i, int j) {
    int x = (int)(i % g->w) + NB_DX[j], y = (int)(i / g->w) + NB_DY[j];
    if (x < 0 || y < 0 || x >= g->w || y >= g->h) return -1;
    int64_t k = (int64_t)y * g->w + x;
    return g->sk[k] ? k : -1;
}

/* appends (x, y) to a growable array of point pairs *xy (*n points, room
 * for *cap); 0 or -1 (out of memory) */
static int push_xy(double **xy, int64_t *n, int64_t *cap, double x, double y) {
    if (*n == *cap) {
        int64_t nc = *cap ? 2 * *cap : 1024;
        double *np = realloc(*xy, sizeof(double) * 2 * (size_t)nc);
        if (!np) return -1;
        *xy = np;
        *cap = nc;
    }
    (*xy)[2 * *n] = x;
    (*xy)[2 * *n + 1] = y;
    (*n)++;
    return 0;
}

static int put_pt(sk_graph *g, double x, double y) { return push_xy(&g->pt, &g->npt, &g->ptcap, x, y); }

static int new_edge(sk_graph *g, int64_t a, int32_t comp) {
    if (g->ne == g->ecap) {
        int64_t nc = g->ecap ? 2 * g->ecap : 256;
        sk_edge *ne = realloc(g->e, sizeof(sk_edge) * (size_t)nc);
        if (!ne) return -1;
        g->e = ne;
        g->ecap = nc;
    }
    g->e[g->ne++] = (sk_edge){a, -1, g->npt, 0, comp, 0, 0};
    return 0;
}

/* degrees, node pixels clustered into nodes (8-adjacent junction pixels
 * are one node) and their centroids */
static int find_nodes(sk_graph *g) {
    size_t np = (size_t)g->w * g->h;
    int64_t *q = malloc(sizeof(int64_t) * (np ? np : 1));
    if (!q) return -1;
    for (size_t i = 0; i < np; i++) {
        g->node[i] = -1;
        if (!g->sk[i]) continue;
        int d = 0;
        for (int j = 0; j < 8; j++) d += nb_of(g, (int64_t)i, j) >= 0;
        g->deg[i] = (uint8_t)d;
    }
    for (size_t s = 0; s < np; s++) {
        if (!g->sk[s] || g->deg[s] == 2 || g->node[s] >= 0) continue;
        int64_t id = g->nnode++, qh = 0, qt = 0;
        double sx = 0, sy = 0;
        g->node[s] = id;
        q[qt++] = (int64_t)s;
        while (qh < qt) {
            int64_t i = q[qh++];
            sx += (double)(i % g->w) + 0.5;
            sy += (double)(i / g->w) + 0.5;
            if (g->deg[i] < 3) continue; /* end points stay alone */
            for (int j = 0; j < 8; j++) {
                int64_t k = nb_of(g, i, j);
                if (k >= 0 && g->deg[k] >= 3 && g->node[k] < 0) g->node[q[qt++] = k] = id;
            }
        }
        g->nx[id] = sx / (double)qt;
        g->ny[id] = sy / (double)qt;
    }
    free(q);
    return 0;
}

/* walks from node pixel s through line pixel i to the next node (or back
 * to i for a loop without node: from = -1) */
static int walk(sk_graph *g, int64_t s, int64_t i, int32_t comp) {
    int64_t from = s >= 0 ? g->node[s] : -1;
    if (new_edge(g, from, comp)) return -1;
    sk_edge *e = &g->e[g->ne - 1];
    if (from >= 0 && put_pt(g, g->nx[from], g->ny[from])) return -1;
    int64_t prev = s, cur = i, start = i;
    for (;;) {
        g->seen[cur] = 1;
        if (put_pt(g, (double)(cur % g->w) + 0.5, (double)(cur / g->w) + 0.5)) return -1;
        int64_t next = -1;
        for (int j = 0; j < 8 && next < 0; j++) {
            int64_t k = nb_of(g, cur, j);
            if (k >= 0 && k != prev && (g->deg[k] != 2 || !g->seen[k] || (s < 0 && k == start && prev != start)))
                next = k;
        }
        if (next < 0) break; /* dead end (cannot happen on a clean skeleton) */
        if (g->deg[next] != 2) {
            e->b = g->node[next];
            if (put_pt(g, g->nx[e->b], g->ny[e->b])) return -1;
            break;
        }
        if (next == start) break; /* a closed loop */
        prev = cur;
        cur = next;
    }
    e = &g->e[g->ne - 1];
    e->n = g->npt - e->off;
    for (int64_t k = 1; k < e->n; k++)
        e->len += hypot(g->pt[2 * (e->off + k)] - g->pt[2 * (e->off + k - 1)],
                        g->pt[2 * (e->off + k) + 1] - g->pt[2 * (e->off + k - 1) + 1]);
    return 0;
}

static int build_edges(sk_graph *g, const int32_t *comp) {
    size_t np = (size_t)g->w * g->h;
    for (size_t s = 0; s < np; s++) { /* edges from nodes, and node-to-node steps */
        if (!g->sk[s] || g->deg[s] == 2) continue;
        for (int j = 0; j < 8; j++) {
            int64_t k = nb_of(g, (int64_t)s, j);
            if (k < 0) continue;
            if (g->deg[k] == 2 && !g->seen[k]) {
                if (walk(g, (int64_t)s, k, comp[s])) return -1;
            } else if (g->deg[k] != 2 && g->node[k] > g->node[(int64_t)s]) {
                if (new_edge(g, g->node[s], comp[s]) || put_pt(g, g->nx[g->node[s]], g->ny[g->node[s]]) ||
                    put_pt(g, g->nx[g->node[k]], g->ny[g->node[k]]))
                    return -1;
                sk_edge *e = &g->e[g->ne - 1];
                e->b = g->node[k];
                e->n = 2;
                e->len = hypot(g->nx[e->b] - g->nx[e->a], g->ny[e->b] - g->ny[e->a]);
            }
        }
    }
    for (size_t s = 0; s < np; s++) /* loops without any node */
        if (g->sk[s] && g->deg[s] == 2 && !g->seen[s] && walk(g, -1, (int64_t)s, comp[s])) return -1;
    return 0;
}

static void count_ends(sk_graph *g) {
    for (int64_t n = 0; n < g->nnode; n++) g->ncount[n] = 0;
    for (int64_t k = 0; k < g->ne; k++)
        if (g->e[k].b >= 0 && !g->e[k].dead) g->ncount[g->e[k].a]++, g->ncount[g->e[k].b]++;
}

static int64_t uf_root(int64_t *par, int64_t x) {
    while (par[x] != x) x = par[x] = par[par[x]];
    return x;
}

/* one junction that thinning left as two or more node clusters joined by
 * edges of at most JOIN_PX becomes one node at their mean; the joining
 * edges go, the others end exactly at the merged point */
static int merge_junctions(sk_graph *g) {
    count_ends(g);
    int64_t *par = malloc(sizeof(int64_t) * (size_t)(g->nnode + 1)), *cnt = calloc((size_t)g->nnode + 1, sizeof(int64_t));
    double *sx = calloc((size_t)g->nnode + 1, sizeof(double)), *sy = calloc((size_t)g->nnode + 1, sizeof(double));
    if (!par || !cnt || !sx || !sy) {
        free(par), free(cnt), free(sx), free(sy);
        return -1;
    }
    for (int64_t n = 0; n < g->nnode; n++) par[n] = n;
    for (int64_t k = 0; k < g->ne; k++) {
        sk_edge *e = &g->e[k];
        if (e->b < 0 || e->a == e->b || e->len > JOIN_PX || g->ncount[e->a] < 3 || g->ncount[e->b] < 3) continue;
        int64_t ra = uf_root(par, e->a), rb = uf_root(par, e->b);
        if (ra != rb) par[ra > rb ? ra : rb] = ra < rb ? ra : rb;
        e->dead = 1;
    }
    for (int64_t n = 0; n < g->nnode; n++) {
        int64_t r = uf_root(par, n);
        cnt[r]++, sx[r] += g->nx[n], sy[r] += g->ny[n];
    }
    for (int64_t n = 0; n < g->nnode; n++)
        if (cnt[n] > 1) g->nx[n] = sx[n] / (double)cnt[n], g->ny[n] = sy[n] / (double)cnt[n];
    for (int64_t k = 0; k < g->ne; k++) {
        sk_edge *e = &g->e[k];
        if (e->b < 0 || e->dead) continue;
        e->a = uf_root(par, e->a);
        e->b = uf_root(par, e->b);
        double *p0 = g->pt + 2 * e->off, *p1 = g->pt + 2 * (e->off + e->n - 1);
        p0[0] = g->nx[e->a], p0[1] = g->ny[e->a], p1[0] = g->nx[e->b], p1[1] = g->ny[e->b];
    }
    free(par), free(cnt), free(sx), free(sy);
    return 0;
}

/* drops short branches from a junction to an end point */
static void prune_spurs(sk_graph *g, double spur_px) {
    count_ends(g);
    for (int64_t k = 0; k < g->ne; k++) {
        sk_edge *e = &g->e[k];
        if (e->b < 0 || e->dead || e->a == e->b || e->len >= spur_px) continue;
        int64_t ca = g->ncount[e->a], cb = g->ncount[e->b];
        if ((ca == 1 && cb >= 3) || (cb == 1 && ca >= 3)) {
            e->dead = 1;
            g->ncount[e->a]--;
            g->ncount[e->b]--;
        }
    }
}

/* unit direction of edge k leaving through its end `side` (0 start, 1 end) */
static void end_dir(const sk_graph *g, int64_t k, int side, double *dx, double *dy) {
    const sk_edge *e = &g->e[k];
    const double *p = g->pt + 2 * e->off;
    int64_t i0 = side ? e->n - 1 : 0, step = side ? -1 : 1, i = i0;
    double len = 0;
    while (i + step >= 0 && i + step < e->n && len < DIR_PX) {
        len += hypot(p[2 * (i + step)] - p[2 * i], p[2 * (i + step) + 1] - p[2 * i + 1]);
        i += step;
    }
    double vx = p[2 * i] - p[2 * i0], vy = p[2 * i + 1] - p[2 * i0 + 1], l = hypot(vx, vy);
    *dx = l > 0 ? vx / l : 0;
    *dy = l > 0 ? vy / l : 0;
}

/* pairs the live edge ends at every node: partner[end] (end = 2 * edge + side) */
static int pair_ends(const sk_graph *g, int64_t *partner) {
    int64_t nend = 2 * g->ne;
    int64_t *start = calloc((size_t)g->nnode + 1, sizeof(int64_t)), *ends = malloc(sizeof(int64_t) * (size_t)(nend + 1));
    if (!start || !ends) {
        free(start);
        free(ends);
        return -1;
    }
    for (int64_t k = 0; k < nend; k++) partner[k] = -1;
    for (int64_t k = 0; k < g->ne; k++)
        if (!g->e[k].dead && g->e[k].b >= 0) start[g->e[k].a + 1]++, start[g->e[k].b + 1]++;
    for (int64_t n = 0; n < g->nnode; n++) start[n + 1] += start[n];
    for (int64_t k = 0; k < g->ne; k++) /* ends sorted by node, then by edge */
        if (!g->e[k].dead && g->e[k].b >= 0) ends[start[g->e[k].a]++] = 2 * k, ends[start[g->e[k].b]++] = 2 * k + 1;
    for (int64_t n = g->nnode; n > 0; n--) start[n] = start[n - 1];
    start[0] = 0;
    for (int64_t n = 0; n < g->nnode; n++) {
        const int64_t *en = ends + start[n];
        int64_t c = start[n + 1] - start[n];
        if (c == 2) {
            partner[en[0]] = en[1];
            partner[en[1]] = en[0];
            continue;
        }
        for (;;) { /* greedily the most opposite pair */
            double best = PAIR_COS;
            int64_t bi = -1, bj = -1;
            for (int64_t i = 0; i < c; i++)
                for (int64_t j = i + 1; j < c && partner[en[i]] < 0; j++) {
                    if (partner[en[j]] >= 0) continue;
                    double ax, ay, bx, by;
                    end_dir(g, en[i] >> 1, (int)(en[i] & 1), &ax, &ay);
                    end_dir(g, en[j] >> 1, (int)(en[j] & 1), &bx, &by);
                    double dot = ax * bx + ay * by;
                    if (dot < best) best = dot, bi = i, bj = j;
                }
            if (bi < 0) break;
            partner[en[bi]] = en[bj];
            partner[en[bj]] = en[bi];
        }
    }
    free(start);
    free(ends);
    return 0;
}

static int out_pt(vec_polylines *o, double x, double y) { return push_xy(&o->xy, &o->npt, &o->ptcap, x, y); }

static int out_line(vec_polylines *o, int32_t comp) {
    if (o->n == o->cap) {
        int64_t nc = o->cap ? 2 * o->cap : 64;
        vec_polyline *np = realloc(o->pl, sizeof(vec_polyline) * (size_t)nc);
        if (!np) return -1;
        o->pl = np;
        o->cap = nc;
    }
    o->pl[o->n++] = (vec_polyline){o->npt, 0, comp, 0, 0};
    return 0;
}

/* appends edge k's points, entered at side `side` (the first point skipped
 * when it continues a polyline) */
static int append_edge(const sk_graph *g, int64_t k, int side, bool skip_first, vec_polylines *o) {
    const sk_edge *e = &g->e[k];
    for (int64_t t = skip_first ? 1 : 0; t < e->n; t++) {
        int64_t i = side ? e->n - 1 - t : t;
        if (out_pt(o, g->pt[2 * (e->off + i)], g->pt[2 * (e->off + i) + 1])) return -1;
    }
    return 0;
}

/* links paired edges into polylines */
static int link_edges(const sk_graph *g, const int64_t *partner, uint8_t *used, vec_polylines *o) {
    for (int64_t k0 = 0; k0 < g->ne; k0++) {
        if (used[k0] || g->e[k0].dead) continue;
        int64_t b = k0;
        int bs = 0; /* the chain enters b through end bs */
        bool cyc = g->e[k0].b < 0;
        for (int64_t guard = 0; !cyc && guard <= g->ne; guard++) { /* back to the chain's first edge */
            int64_t p = partner[2 * b + bs];
            if (p < 0) break;
            if ((p >> 1) == k0) {
                cyc = true;
                b = k0, bs = 0;
                break;
            }
            b = p >> 1;
            bs = 1 - (int)(p & 1);
        }
        if (out_line(o, g->e[b].comp)) return -1;
        vec_polyline *pl = &o->pl[o->n - 1];
        const sk_edge *eb = &g->e[b];
        pl->ends += !cyc && g->ncount[bs ? eb->b : eb->a] == 1;
        int64_t cur = b;
        int cs = bs;
        bool first = true;
        for (;;) {
            used[cur] = 1;
            if (append_edge(g, cur, cs, !first, o)) return -1;
            first = false;
            int64_t p = g->e[cur].b < 0 ? -1 : partner[2 * cur + 1 - cs];
            if (p < 0 || used[p >> 1]) {
                const sk_edge *ec = &g->e[cur];
                if (!cyc && ec->b >= 0) o->pl[o->n - 1].ends += g->ncount[cs ? ec->a : ec->b] == 1;
                break;
            }
            cur = p >> 1;
            cs = (int)(p & 1);
        }
        pl = &o->pl[o->n - 1];
        pl->n = (int32_t)(o->npt - pl->off);
        pl->closed = cyc;
        if (cyc && pl->n > 1) { /* the first point is repeated at the end */
            const double *a = o->xy + 2 * pl->off, *z = o->xy + 2 * (o->npt - 1);
            if (a[0] == z[0] && a[1] == z[1]) pl->n--, o->npt--;
        }
    }
    return 0;
}

void carve__vec_polylines_free(vec_polylines *p) {
    free(p->xy);
    free(p->pl);
    memset(p, 0, sizeof *p);
}

int carve__vec_trace_skeleton(const uint8_t *sk, const int32_t *comp, int w, int h, double spur_px,
                              vec_polylines *out) {
    size_t np = (size_t)w * h;
    sk_graph g = {sk, w, h, calloc(np, 1), malloc(sizeof(int64_t) * np), calloc(np, 1), NULL, NULL, NULL, 0,
                  NULL, 0, 0, NULL, 0, 0};
    int64_t *partner = NULL;
    uint8_t *used = NULL;
    int rc = -1;
    if (!g.deg || !g.node || !g.seen) goto out;
    int64_t nn = 0;
    for (size_t i = 0; i < np; i++) {
        if (!sk[i]) continue;
        int d = 0;
        for (int j = 0; j < 8; j++) d += nb_of(&g, (int64_t)i, j) >= 0;
        nn += d != 2;
    }
    g.nx = malloc(sizeof(double) * (size_t)(nn + 1));
    g.ny = malloc(sizeof(double) * (size_t)(nn + 1));
    g.ncount = malloc(sizeof(int64_t) * (size_t)(nn + 1));
    if (!g.nx || !g.ny || !g.ncount || find_nodes(&g) || build_edges(&g, comp) || merge_junctions(&g)) goto out;
    prune_spurs(&g, spur_px);
    partner = malloc(sizeof(int64_t) * (size_t)(2 * g.ne + 1));
    used = calloc((size_t)g.ne + 1, 1);
    if (!partner || !used || pair_ends(&g, partner) || link_edges(&g, partner, used, out)) goto out;
    rc = 0;
out:
    free(g.deg);
    free(g.node);
    free(g.seen);
    free(g.nx);
    free(g.ny);
    free(g.ncount);
    free(g.pt);
    free(g.e);
    free(partner);
    free(used);
    return rc;
}
