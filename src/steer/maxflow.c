/* maxflow.c — max-flow / min-cut on an 8-connected pixel grid by the
 * Boykov-Kolmogorov algorithm ("An experimental comparison of min-cut/
 * max-flow algorithms for energy minimization in vision", PAMI 2004): two
 * search trees (from the source and from the sink) grow until they touch,
 * the path found is augmented, and the orphans it creates are re-adopted or
 * freed.  Distance/timestamp marks keep the trees shallow.
 *
 * Grid-specialised for speed: the 8 arcs of node i live at cap[8i + d] (d a
 * direction, the sister arc is (i + off[d], d ^ 4)), so there are no arc
 * lists to chase and a node's arcs share a cache line.  Capacities are
 * integers: exact arithmetic, no round-off residues, deterministic.
 * Sequential: FIFO queues, arcs visited in direction order. */
#include "steer_internal.h"

#include <stdlib.h>
#include <string.h>

#define MF_NONE (-1)     /* free node: in no tree */
#define MF_TERMINAL (-2) /* parent is the source / sink itself */
#define MF_ORPHAN (-3)
#define MF_INF_D 0x3fffffff

/* directions: 0 E, 1 SE, 2 S, 3 SW, 4 W, 5 NW, 6 N, 7 NE; opposite = d ^ 4 */
static const int DX[8] = {1, 1, 0, -1, -1, -1, 0, 1}, DY[8] = {0, 1, 1, 1, 0, -1, -1, -1};

typedef struct mf_node {
    int32_t tr;     /* > 0: residual source->i, < 0: residual i->sink */
    int32_t ts, dist;
    int8_t parent;  /* direction of the arc to the parent, or MF_NONE / MF_TERMINAL / MF_ORPHAN */
    uint8_t sink;   /* tree: 0 source, 1 sink */
    uint8_t active;
    uint8_t valid;  /* bit d: the neighbour in direction d exists */
} mf_node;

struct carve__mf {
    int w, h, n;
    int off[8];
    mf_node *nd;
    int32_t *cap; /* 8 per node: residual capacity of arc (i, d) */
    int *aq, aq_head, aq_tail;
    int *oq, oq_head, oq_tail;
    int64_t flow;
};

carve__mf *carve__mf_create(int w, int h) {
    if (w <= 0 || h <= 0 || (int64_t)w * h > 0x0fffffff) return NULL;
    carve__mf *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->w = w;
    g->h = h;
    g->n = w * h;
    size_t N = (size_t)g->n;
    for (int d = 0; d < 8; d++) g->off[d] = DY[d] * w + DX[d];
    g->nd = calloc(N, sizeof(mf_node));
    g->cap = calloc(8 * N, sizeof(int32_t));
    g->aq = malloc((N + 1) * sizeof(int));
    g->oq = malloc((N + 1) * sizeof(int));
    if (!g->nd || !g->cap || !g->aq || !g->oq) {
        carve__mf_destroy(g);
        return NULL;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = 0;
            for (int d = 0; d < 8; d++) {
                int qx = x + DX[d], qy = y + DY[d];
                if (qx >= 0 && qy >= 0 && qx < w && qy < h) v |= (uint8_t)(1u << d);
            }
            g->nd[(size_t)y * w + x].valid = v;
        }
    return g;
}

void carve__mf_destroy(carve__mf *g) {
    if (!g) return;
    free(g->nd);
    free(g->cap);
    free(g->aq);
    free(g->oq);
    free(g);
}

void carve__mf_tweights(carve__mf *g, int i, int32_t cap_s, int32_t cap_t) {
    int32_t d = g->nd[i].tr;
    if (d > 0) cap_s += d;
    else cap_t -= d;
    g->flow += cap_s < cap_t ? cap_s : cap_t;
    g->nd[i].tr = cap_s - cap_t;
}

void carve__mf_edge(carve__mf *g, int i, int d, int32_t cap_fwd, int32_t cap_back) {
    if (d < 0 || d > 7 || !(g->nd[i].valid & (1u << d))) return;
    int j = i + g->off[d];
    g->cap[8 * (size_t)i + (size_t)d] = cap_fwd > 0 ? cap_fwd : 0;
    g->cap[8 * (size_t)j + (size_t)(d ^ 4)] = cap_back > 0 ? cap_back : 0;
}

#define CAP(i, d) g->cap[8 * (size_t)(i) + (size_t)(d)]
#define SIS(i, d) g->cap[8 * (size_t)((i) + g->off[d]) + (size_t)((d) ^ 4)]

static void activate(carve__mf *g, int i) {
    if (g->nd[i].active) return;
    g->nd[i].active = 1;
    g->aq[g->aq_tail] = i;
    g->aq_tail = g->aq_tail == g->n ? 0 : g->aq_tail + 1;
}

static int next_active(carve__mf *g) {
    while (g->aq_head != g->aq_tail) {
        int i = g->aq[g->aq_head];
        g->aq_head = g->aq_head == g->n ? 0 : g->aq_head + 1;
        g->nd[i].active = 0;
        if (g->nd[i].parent != MF_NONE) return i;
    }
    return -1;
}

static void set_orphan(carve__mf *g, int i) {
    g->nd[i].parent = MF_ORPHAN;
    g->oq[g->oq_tail] = i;
    g->oq_tail = g->oq_tail == g->n ? 0 : g->oq_tail + 1;
}

/* the middle arc goes from s (source tree) to t (sink tree) in direction d */
static void augment(carve__mf *g, int s, int d) {
    int t = s + g->off[d];
    int32_t bn = CAP(s, d);
    int i;
    /* source side: flow parent -> child, i.e. on the sister of the parent arc */
    for (i = s; g->nd[i].parent != MF_TERMINAL; i += g->off[g->nd[i].parent]) {
        int32_t c = SIS(i, g->nd[i].parent);
        if (c < bn) bn = c;
    }
    if (g->nd[i].tr < bn) bn = g->nd[i].tr;
    for (i = t; g->nd[i].parent != MF_TERMINAL; i += g->off[g->nd[i].parent]) {
        int32_t c = CAP(i, g->nd[i].parent);
        if (c < bn) bn = c;
    }
    if (-g->nd[i].tr < bn) bn = -g->nd[i].tr;

    CAP(s, d) -= bn;
    SIS(s, d) += bn;
    for (i = s;;) {
        int a = g->nd[i].parent;
        if (a == MF_TERMINAL) {
            g->nd[i].tr -= bn;
            if (!g->nd[i].tr) set_orphan(g, i);
            break;
        }
        CAP(i, a) += bn;
        SIS(i, a) -= bn;
        int up = i + g->off[a];
        if (!SIS(i, a)) set_orphan(g, i);
        i = up;
    }
    for (i = t;;) {
        int a = g->nd[i].parent;
        if (a == MF_TERMINAL) {
            g->nd[i].tr += bn;
            if (!g->nd[i].tr) set_orphan(g, i);
            break;
        }
        SIS(i, a) += bn;
        CAP(i, a) -= bn;
        int up = i + g->off[a];
        if (!CAP(i, a)) set_orphan(g, i);
        i = up;
    }
    g->flow += bn;
}

static void adopt(carve__mf *g, int i, int time) {
    mf_node *ni = &g->nd[i];
    int sink = ni->sink;
    int best = -1, dmin = MF_INF_D;
    for (int d = 0; d < 8; d++) {
        if (!(ni->valid & (1u << d))) continue;
        /* a parent j must be able to send (source tree: j -> i) or receive */
        if ((sink ? CAP(i, d) : SIS(i, d)) <= 0) continue;
        int j = i + g->off[d];
        if (g->nd[j].sink != sink || g->nd[j].parent == MF_NONE) continue;
        int dd = 0;
        for (;;) {
            mf_node *nj = &g->nd[j];
            if (nj->ts == time) {
                dd += nj->dist;
                break;
            }
            int a = nj->parent;
            dd++;
            if (a == MF_TERMINAL) {
                nj->ts = time;
                nj->dist = 1;
                break;
            }
            if (a == MF_ORPHAN) {
                dd = MF_INF_D;
                break;
            }
            j += g->off[a];
        }
        if (dd < MF_INF_D) {
            if (dd < dmin) {
                best = d;
                dmin = dd;
            }
            for (j = i + g->off[d]; g->nd[j].ts != time; j += g->off[g->nd[j].parent]) {
                g->nd[j].ts = time;
                g->nd[j].dist = dd--;
            }
        }
    }
    if (best >= 0) {
        ni->parent = (int8_t)best;
        ni->ts = time;
        ni->dist = dmin + 1;
        return;
    }
    /* no parent: i becomes free; its children become orphans */
    for (int d = 0; d < 8; d++) {
        if (!(ni->valid & (1u << d))) continue;
        int j = i + g->off[d];
        mf_node *nj = &g->nd[j];
        if (nj->sink != sink || nj->parent == MF_NONE) continue;
        if ((sink ? CAP(i, d) : SIS(i, d)) > 0) activate(g, j);
        int pa = nj->parent;
        if (pa >= 0 && j + g->off[pa] == i) set_orphan(g, j);
    }
    ni->parent = MF_NONE;
}

carve_status carve__mf_solve(carve__mf *g, carve_ctx *ctx, int64_t *flow) {
    int n = g->n;
    g->aq_head = g->aq_tail = 0;
    g->oq_head = g->oq_tail = 0;
    for (int i = 0; i < n; i++) {
        mf_node *ni = &g->nd[i];
        ni->ts = 0;
        ni->active = 0;
        ni->dist = 1;
        if (ni->tr > 0) {
            ni->sink = 0;
            ni->parent = MF_TERMINAL;
            activate(g, i);
        } else if (ni->tr < 0) {
            ni->sink = 1;
            ni->parent = MF_TERMINAL;
            activate(g, i);
        } else {
            ni->parent = MF_NONE;
        }
    }
    int time = 0, cur = -1;
    long steps = 0;
    for (;;) {
        if (ctx && (++steps & 4095) == 0 && carve__cancelled(ctx))
            return carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled during matte (graph cut)");
        int i = cur;
        if (i >= 0 && g->nd[i].parent == MF_NONE) i = -1;
        if (i < 0 && (i = next_active(g)) < 0) break;
        cur = -1;
        mf_node *ni = &g->nd[i];
        int ms = -1, md = -1; /* middle arc (from the source-tree end) */
        for (int d = 0; d < 8; d++) {
            if (!(ni->valid & (1u << d))) continue;
            if ((ni->sink ? SIS(i, d) : CAP(i, d)) <= 0) continue;
            int j = i + g->off[d];
            mf_node *nj = &g->nd[j];
            if (nj->parent == MF_NONE) {
                nj->sink = ni->sink;
                nj->parent = (int8_t)(d ^ 4);
                nj->ts = ni->ts;
                nj->dist = ni->dist + 1;
                activate(g, j);
            } else if (nj->sink != ni->sink) {
                if (ni->sink) {
                    ms = j;
                    md = d ^ 4;
                } else {
                    ms = i;
                    md = d;
                }
                break;
            } else if (nj->ts <= ni->ts && nj->dist > ni->dist) {
                nj->parent = (int8_t)(d ^ 4);
                nj->ts = ni->ts;
                nj->dist = ni->dist + 1;
            }
        }
        time++;
        if (ms >= 0) {
            cur = i; /* i may have more paths: look at it again first */
            augment(g, ms, md);
            while (g->oq_head != g->oq_tail) {
                int o = g->oq[g->oq_head];
                g->oq_head = g->oq_head == n ? 0 : g->oq_head + 1;
                adopt(g, o, time);
            }
        }
    }
    if (flow) *flow = g->flow;
    return CARVE_OK;
}

bool carve__mf_source_side(const carve__mf *g, int i) {
    return g->nd[i].parent != MF_NONE && !g->nd[i].sink;
}
