/* maxflow.c — max-flow / min-cut by the Boykov-Kolmogorov algorithm
 * ("An experimental comparison of min-cut/max-flow algorithms for energy
 * minimization in vision", PAMI 2004): two search trees (from the source and
 * from the sink) grow until they touch, the path found is augmented, and the
 * orphans it creates are re-adopted or freed.  Distance/timestamp marks keep
 * the trees shallow.  Written for the graph-cut matte: a few 10^5 nodes on a
 * grid.  Entirely sequential and deterministic (FIFO queues, arcs visited in
 * insertion order). */
#include "steer_internal.h"

#include <stdlib.h>
#include <string.h>

#define MF_NONE (-1)     /* free node: in no tree */
#define MF_TERMINAL (-2) /* parent is the source / sink itself */
#define MF_ORPHAN (-3)
#define MF_INF_D 0x3fffffff

struct carve__mf {
    int n;
    int64_t narcs, max_arcs;
    /* nodes */
    int *first;    /* first outgoing arc */
    int *parent;   /* arc to the parent, or MF_NONE / MF_TERMINAL / MF_ORPHAN */
    int *ts, *dist;
    uint8_t *sink; /* tree: 0 source, 1 sink */
    uint8_t *active;
    float *tr;     /* > 0: residual source->i, < 0: residual i->sink */
    /* arcs (pairs: a and a^1 are sisters) */
    int *head, *next;
    float *cap;
    /* queues (rings of n + 1 slots) */
    int *aq, aq_head, aq_tail;
    int *oq, oq_head, oq_tail;
    double flow;
};

carve__mf *carve__mf_create(int n, int64_t max_edges) {
    if (n <= 0 || max_edges < 0 || max_edges > 0x3fffffff) return NULL;
    carve__mf *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    size_t N = (size_t)n, A = (size_t)max_edges * 2;
    g->n = n;
    g->max_arcs = (int64_t)A;
    g->first = malloc(N * sizeof(int));
    g->parent = malloc(N * sizeof(int));
    g->ts = calloc(N, sizeof(int));
    g->dist = calloc(N, sizeof(int));
    g->sink = calloc(N, 1);
    g->active = calloc(N, 1);
    g->tr = calloc(N, sizeof(float));
    g->head = malloc((A ? A : 1) * sizeof(int));
    g->next = malloc((A ? A : 1) * sizeof(int));
    g->cap = malloc((A ? A : 1) * sizeof(float));
    g->aq = malloc((N + 1) * sizeof(int));
    g->oq = malloc((N + 1) * sizeof(int));
    if (!g->first || !g->parent || !g->ts || !g->dist || !g->sink || !g->active || !g->tr || !g->head ||
        !g->next || !g->cap || !g->aq || !g->oq) {
        carve__mf_destroy(g);
        return NULL;
    }
    for (size_t i = 0; i < N; i++) g->first[i] = -1;
    return g;
}

void carve__mf_destroy(carve__mf *g) {
    if (!g) return;
    free(g->first);
    free(g->parent);
    free(g->ts);
    free(g->dist);
    free(g->sink);
    free(g->active);
    free(g->tr);
    free(g->head);
    free(g->next);
    free(g->cap);
    free(g->aq);
    free(g->oq);
    free(g);
}

void carve__mf_tweights(carve__mf *g, int i, float cap_s, float cap_t) {
    float d = g->tr[i];
    if (d > 0) cap_s += d;
    else cap_t -= d;
    g->flow += cap_s < cap_t ? cap_s : cap_t;
    g->tr[i] = cap_s - cap_t;
}

void carve__mf_edge(carve__mf *g, int i, int j, float cap_ij, float cap_ji) {
    if (i == j || (cap_ij <= 0 && cap_ji <= 0) || g->narcs + 2 > g->max_arcs) return;
    int a = (int)g->narcs;
    g->narcs += 2;
    g->head[a] = j;
    g->cap[a] = cap_ij > 0 ? cap_ij : 0;
    g->next[a] = g->first[i];
    g->first[i] = a;
    g->head[a + 1] = i;
    g->cap[a + 1] = cap_ji > 0 ? cap_ji : 0;
    g->next[a + 1] = g->first[j];
    g->first[j] = a + 1;
}

static void activate(carve__mf *g, int i) {
    if (g->active[i]) return;
    g->active[i] = 1;
    g->aq[g->aq_tail] = i;
    g->aq_tail = g->aq_tail == g->n ? 0 : g->aq_tail + 1;
}

static int next_active(carve__mf *g) {
    while (g->aq_head != g->aq_tail) {
        int i = g->aq[g->aq_head];
        g->aq_head = g->aq_head == g->n ? 0 : g->aq_head + 1;
        g->active[i] = 0;
        if (g->parent[i] != MF_NONE) return i;
    }
    return -1;
}

static void set_orphan(carve__mf *g, int i) {
    g->parent[i] = MF_ORPHAN;
    g->oq[g->oq_tail] = i;
    g->oq_tail = g->oq_tail == g->n ? 0 : g->oq_tail + 1;
}

static void augment(carve__mf *g, int mid) {
    float bn = g->cap[mid];
    int i;
    /* source side: flow parent -> child, i.e. on the sister of the parent arc */
    for (i = g->head[mid ^ 1];; i = g->head[g->parent[i]]) {
        int a = g->parent[i];
        if (a == MF_TERMINAL) break;
        if (g->cap[a ^ 1] < bn) bn = g->cap[a ^ 1];
    }
    if (g->tr[i] < bn) bn = g->tr[i];
    for (i = g->head[mid];; i = g->head[g->parent[i]]) {
        int a = g->parent[i];
        if (a == MF_TERMINAL) break;
        if (g->cap[a] < bn) bn = g->cap[a];
    }
    if (-g->tr[i] < bn) bn = -g->tr[i];

    g->cap[mid ^ 1] += bn;
    g->cap[mid] -= bn;
    for (i = g->head[mid ^ 1];;) {
        int a = g->parent[i];
        if (a == MF_TERMINAL) {
            g->tr[i] -= bn;
            if (g->tr[i] <= 0) set_orphan(g, i);
            break;
        }
        g->cap[a] += bn;
        g->cap[a ^ 1] -= bn;
        int up = g->head[a];
        if (g->cap[a ^ 1] <= 0) set_orphan(g, i);
        i = up;
    }
    for (i = g->head[mid];;) {
        int a = g->parent[i];
        if (a == MF_TERMINAL) {
            g->tr[i] += bn;
            if (g->tr[i] >= 0) set_orphan(g, i);
            break;
        }
        g->cap[a ^ 1] += bn;
        g->cap[a] -= bn;
        int up = g->head[a];
        if (g->cap[a] <= 0) set_orphan(g, i);
        i = up;
    }
    g->flow += bn;
}

static void adopt(carve__mf *g, int i, int time) {
    int sink = g->sink[i];
    int best = -1, dmin = MF_INF_D;
    for (int a0 = g->first[i]; a0 >= 0; a0 = g->next[a0]) {
        if ((sink ? g->cap[a0] : g->cap[a0 ^ 1]) <= 0) continue;
        int j = g->head[a0];
        if (g->sink[j] != sink || g->parent[j] == MF_NONE) continue;
        /* distance of j to its terminal, if j's tree reaches one */
        int d = 0;
        for (;;) {
            if (g->ts[j] == time) {
                d += g->dist[j];
                break;
            }
            int a = g->parent[j];
            d++;
            if (a == MF_TERMINAL) {
                g->ts[j] = time;
                g->dist[j] = 1;
                break;
            }
            if (a == MF_ORPHAN) {
                d = MF_INF_D;
                break;
            }
            j = g->head[a];
        }
        if (d < MF_INF_D) {
            if (d < dmin) {
                best = a0;
                dmin = d;
            }
            /* mark the path for the next searches */
            for (j = g->head[a0]; g->ts[j] != time; j = g->head[g->parent[j]]) {
                g->ts[j] = time;
                g->dist[j] = d--;
            }
        }
    }
    if (best >= 0) {
        g->parent[i] = best;
        g->ts[i] = time;
        g->dist[i] = dmin + 1;
        return;
    }
    /* no parent: i becomes free; its children become orphans */
    for (int a0 = g->first[i]; a0 >= 0; a0 = g->next[a0]) {
        int j = g->head[a0];
        if (g->sink[j] != sink || g->parent[j] == MF_NONE) continue;
        if ((sink ? g->cap[a0] : g->cap[a0 ^ 1]) > 0) activate(g, j);
        int pa = g->parent[j];
        if (pa != MF_TERMINAL && pa != MF_ORPHAN && g->head[pa] == i) set_orphan(g, j);
    }
    g->parent[i] = MF_NONE;
}

carve_status carve__mf_solve(carve__mf *g, carve_ctx *ctx, double *flow) {
    int n = g->n;
    g->aq_head = g->aq_tail = 0;
    g->oq_head = g->oq_tail = 0;
    memset(g->active, 0, (size_t)n);
    for (int i = 0; i < n; i++) {
        g->ts[i] = 0;
        if (g->tr[i] > 0) {
            g->sink[i] = 0;
            g->parent[i] = MF_TERMINAL;
            g->dist[i] = 1;
            activate(g, i);
        } else if (g->tr[i] < 0) {
            g->sink[i] = 1;
            g->parent[i] = MF_TERMINAL;
            g->dist[i] = 1;
            activate(g, i);
        } else {
            g->parent[i] = MF_NONE;
        }
    }
    int time = 0, cur = -1;
    long steps = 0;
    for (;;) {
        if (ctx && (++steps & 4095) == 0 && carve__cancelled(ctx))
            return carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled during matte (graph cut)");
        int i = cur;
        if (i >= 0 && g->parent[i] == MF_NONE) i = -1;
        if (i < 0 && (i = next_active(g)) < 0) break;
        cur = -1;
        int mid = -1;
        if (!g->sink[i]) {
            for (int a = g->first[i]; a >= 0; a = g->next[a]) {
                if (g->cap[a] <= 0) continue;
                int j = g->head[a];
                if (g->parent[j] == MF_NONE) {
                    g->sink[j] = 0;
                    g->parent[j] = a ^ 1;
                    g->ts[j] = g->ts[i];
                    g->dist[j] = g->dist[i] + 1;
                    activate(g, j);
                } else if (g->sink[j]) {
                    mid = a;
                    break;
                } else if (g->ts[j] <= g->ts[i] && g->dist[j] > g->dist[i]) {
                    g->parent[j] = a ^ 1;
                    g->ts[j] = g->ts[i];
                    g->dist[j] = g->dist[i] + 1;
                }
            }
        } else {
            for (int a = g->first[i]; a >= 0; a = g->next[a]) {
                if (g->cap[a ^ 1] <= 0) continue;
                int j = g->head[a];
                if (g->parent[j] == MF_NONE) {
                    g->sink[j] = 1;
                    g->parent[j] = a ^ 1;
                    g->ts[j] = g->ts[i];
                    g->dist[j] = g->dist[i] + 1;
                    activate(g, j);
                } else if (!g->sink[j]) {
                    mid = a ^ 1;
                    break;
                } else if (g->ts[j] <= g->ts[i] && g->dist[j] > g->dist[i]) {
                    g->parent[j] = a ^ 1;
                    g->ts[j] = g->ts[i];
                    g->dist[j] = g->dist[i] + 1;
                }
            }
        }
        time++;
        if (mid >= 0) {
            cur = i; /* i may have more paths: look at it again first */
            augment(g, mid);
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
    return g->parent[i] != MF_NONE && !g->sink[i];
}
