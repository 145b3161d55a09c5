/* regions.c — connected components of a label image and the merging of
 * small regions into their most similar neighbour (the speckle filter of
 * phase 3's min_region and phase 4's filter_speckle).  See docs/core.md. */
#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int32_t uf_find(int32_t *par, int32_t x) {
    while (par[x] != x) {
        par[x] = par[par[x]];
        x = par[x];
    }
    return x;
}

/* ---- connected components (two-pass union-find) ------------------------- */
int32_t carve__components(const uint16_t *lab, int w, int h, int32_t **reg_out, int64_t **area_out) {
    size_t n = (size_t)(w > 0 ? w : 0) * (size_t)(h > 0 ? h : 0);
    *reg_out = NULL;
    if (area_out) *area_out = NULL;
    int32_t *reg = malloc(n ? n * sizeof(int32_t) : 1);
    /* provisional labels: at most one per run start, bounded by n */
    int32_t *par = malloc(n ? n * sizeof(int32_t) : 1);
    if (!reg || !par || n > (size_t)INT32_MAX) {
        free(reg);
        free(par);
        return -1;
    }
    int32_t np = 0;
    int32_t last_a = -1, last_b = -1;
    for (int y = 0; y < h && n; y++) {
        const uint16_t *row = lab + (size_t)y * w;
        const uint16_t *up = y ? row - w : NULL;
        int32_t *rr = reg + (size_t)y * w;
        int32_t *ru = y ? rr - w : NULL;
        for (int x = 0; x < w; x++) {
            uint16_t c = row[x];
            if (c == CARVE__LABEL_VOID) {
                rr[x] = -1;
                continue;
            }
            int32_t a = (x && row[x - 1] == c) ? rr[x - 1] : -1;
            int32_t b = (up && up[x] == c) ? ru[x] : -1;
            if (a < 0 && b < 0) {
                par[np] = np;
                rr[x] = np++;
            } else if (a >= 0 && b >= 0) {
                /* along a run a stays the same and b changes only where the
                 * row above changes run: skip pairs already joined */
                if (a != b && (a != last_a || b != last_b)) {
                    int32_t ra = uf_find(par, a), rb = uf_find(par, b);
                    if (ra != rb) {
                        if (ra < rb) par[rb] = ra;
                        else par[ra] = rb;
                    }
                    last_a = a;
                    last_b = b;
                }
                rr[x] = a;
            } else {
                rr[x] = a >= 0 ? a : b;
            }
        }
    }
    /* final ids in raster order of first pixel */
    int32_t *fid = malloc((size_t)(np ? np : 1) * sizeof(int32_t));
    if (!fid) {
        free(reg);
        free(par);
        return -1;
    }
    for (int32_t i = 0; i < np; i++) fid[i] = -1;
    int32_t nreg = 0;
    int32_t prev_raw = -1, prev_id = -1; /* runs share a provisional label */
    for (size_t i = 0; i < n; i++) {
        if (reg[i] < 0) continue;
        if (reg[i] == prev_raw) {
            reg[i] = prev_id;
            continue;
        }
        prev_raw = reg[i];
        int32_t r = uf_find(par, reg[i]);
        if (fid[r] < 0) fid[r] = nreg++;
        reg[i] = prev_id = fid[r];
    }
    free(fid);
    free(par);
    if (area_out) {
        int64_t *area = calloc((size_t)(nreg ? nreg : 1), sizeof(int64_t));
        if (!area) {
            free(reg);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (reg[i] >= 0) area[reg[i]]++;
        *area_out = area;
    }
    *reg_out = reg;
    return nreg;
}

/* ---- small-region merging -------------------------------------------------
 * Adjacency is kept only for small regions, as lists of region ids that may
 * go stale (merged away) and hold duplicates; ivec_compact maps them through
 * find, sorts and deduplicates.  A list is compacted whenever its region is
 * about to merge, and when absorbing lists has grown it past twice its length
 * after the last compaction (or construction). */
typedef struct ivec {
    int32_t *a;
    int32_t n, clean; /* clean: length after the last compaction */
} ivec;               /* 16 bytes: one per region, so the capacity is implied */

/* The capacity is implied by n: 8, or the power of two >= n.  The buffer is
 * at least that long (compaction only shrinks n), so a push reallocates
 * exactly when n has reached it: n >= 8 and a power of two. */
static bool ivec_push(ivec *v, int32_t x) {
    if (!v->a || (v->n >= 8 && (v->n & (v->n - 1)) == 0)) {
        if (v->n >= INT32_MAX / 2) return false;
        int32_t nc = v->a ? 2 * v->n : 8;
        int32_t *na = realloc(v->a, sizeof *na * (size_t)nc);
        if (!na) return false;
        v->a = na;
    }
    v->a[v->n++] = x;
    return true;
}

static void ivec_free(ivec *v) {
    free(v->a);
    *v = (ivec){0};
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Maps through find, drops self and duplicates; sorted ascending. */
static void ivec_compact(ivec *v, int32_t *parent, int32_t self) {
    int32_t k = 0;
    for (int32_t i = 0; i < v->n; i++) {
        int32_t r = uf_find(parent, v->a[i]);
        if (r != self) v->a[k++] = r;
    }
    if (k > 24) {
        qsort(v->a, (size_t)k, sizeof(int32_t), cmp_i32);
    } else { /* most lists are short: insertion sort */
        for (int32_t i = 1; i < k; i++) {
            int32_t x = v->a[i], j = i;
            for (; j > 0 && v->a[j - 1] > x; j--) v->a[j] = v->a[j - 1];
            v->a[j] = x;
        }
    }
    int32_t u = 0;
    for (int32_t i = 0; i < k; i++)
        if (!u || v->a[u - 1] != v->a[i]) v->a[u++] = v->a[i];
    v->n = u;
    v->clean = u;
}

/* min-heap of (key, region id), ordered by key then id */
typedef struct heap_item {
    double key; /* area (exact below 2^53) or significance cost */
    int32_t id;
} heap_item;

typedef struct heap {
    heap_item *a;
    size_t n, cap;
} heap;

static inline bool hi_less(heap_item a, heap_item b) { return a.key < b.key || (a.key == b.key && a.id < b.id); }

static bool heap_push(heap *h, heap_item it) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 256;
        heap_item *na = realloc(h->a, sizeof *na * nc);
        if (!na) return false;
        h->a = na;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i && hi_less(it, h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = it;
    return true;
}

static heap_item heap_pop(heap *h) {
    heap_item top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && hi_less(h->a[c + 1], h->a[c])) c++;
        if (!hi_less(h->a[c], last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = last;
    return top;
}

/* colour distance tables up to this many colours (4 MiB); beyond, computed */
#define DTAB_MAX_COLORS 1024

/* The state both merges share: regions, union-find, colours, adjacency
 * lists (of the regions that may merge), memoised colour distances. */
typedef struct merge_state {
    carve_ctx *ctx;
    const char *stage;
    int w, h;
    int32_t nreg, alive;
    int32_t *reg, *parent;
    int64_t *area;
    uint16_t *color;
    ivec *adj, members;
    const double (*clab)[3];
    size_t nc;
    float *dtab;
    heap hp;
    int64_t merged;
} merge_state;

static void merge_state_free(merge_state *m) {
    if (m->adj)
        for (int32_t r = 0; r < m->nreg; r++) free(m->adj[r].a);
    free(m->adj);
    free(m->members.a);
    free(m->hp.a);
    free(m->dtab);
    free(m->parent);
    free(m->color);
    free(m->area);
    free(m->reg);
}

/* regions, parents, colours, distance table; 0, -1 on OOM */
static int merge_state_init(merge_state *m, const uint16_t *lab, int ncolors) {
    size_t npx = (size_t)m->w * (size_t)m->h;
    m->nreg = carve__components(lab, m->w, m->h, &m->reg, &m->area);
    if (m->nreg < 0) return -1;
    m->alive = m->nreg;
    m->parent = malloc(sizeof *m->parent * (size_t)(m->nreg ? m->nreg : 1));
    m->color = malloc(sizeof *m->color * (size_t)(m->nreg ? m->nreg : 1));
    m->adj = calloc((size_t)(m->nreg ? m->nreg : 1), sizeof *m->adj);
    if (!m->parent || !m->color || !m->adj) return -1;
    for (int32_t r = 0; r < m->nreg; r++) m->parent[r] = r;
    for (size_t i = 0; i < npx; i++)
        if (m->reg[i] >= 0) m->color[m->reg[i]] = lab[i];
    m->nc = ncolors > 0 ? (size_t)ncolors : 0;
    if (m->nc <= DTAB_MAX_COLORS) {
        m->dtab = malloc(sizeof *m->dtab * (m->nc ? m->nc * m->nc : 1));
        if (!m->dtab) return -1;
        for (size_t i = 0; i < m->nc * m->nc; i++) m->dtab[i] = -1;
    }
    return 0;
}

/* adjacency lists of the regions with area < min_area (consecutive
 * duplicates dropped); progress from p0 to p0 + 0.2 */
static carve_status merge_adjacency(merge_state *m, int64_t min_area, double p0) {
    int w = m->w, h = m->h;
    const int32_t *reg = m->reg;
    const int64_t *area = m->area;
    carve_status st;
    for (int y = 0; y < h; y++) {
        if ((y & 255) == 0 && (st = carve__progress(m->ctx, p0 + 0.2 * y / h, m->stage))) return st;
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            int32_t a = reg[p];
            if (a < 0) continue;
            size_t q2[2];
            int k = 0;
            if (x + 1 < w) q2[k++] = p + 1;
            if (y + 1 < h) q2[k++] = p + (size_t)w;
            for (int t = 0; t < k; t++) {
                int32_t b = reg[q2[t]];
                if (b < 0 || b == a) continue;
                ivec *va = &m->adj[a], *vb = &m->adj[b];
                if (area[a] < min_area && (va->n == 0 || va->a[va->n - 1] != b) && !ivec_push(va, b)) return CARVE_ERR_NOMEM;
                if (area[b] < min_area && (vb->n == 0 || vb->a[vb->n - 1] != a) && !ivec_push(vb, a)) return CARVE_ERR_NOMEM;
            }
        }
    }
    /* lists are compacted when their region is taken from the heap */
    for (int32_t r = 0; r < m->nreg; r++) m->adj[r].clean = m->adj[r].n;
    return CARVE_OK;
}

/* CIEDE2000 between colours a and b, memoised */
static float merge_dist(merge_state *m, uint16_t a, uint16_t b) {
    if (!m->dtab) return (float)carve_ciede2000(m->clab[a], m->clab[b]);
    float *dp = &m->dtab[(size_t)a * m->nc + b];
    if (*dp < 0) {
        *dp = (float)carve_ciede2000(m->clab[a], m->clab[b]);
        m->dtab[(size_t)b * m->nc + a] = *dp;
    }
    return *dp;
}

/* the neighbour of r (compacted list) of least colour difference (ties: the
 * larger, then the lower id); -1 when r has no opaque neighbour */
static int32_t merge_best(merge_state *m, int32_t r, float *bd_out) {
    ivec_compact(&m->adj[r], m->parent, r);
    int32_t best = -1;
    float bd = 0;
    for (int32_t i = 0; i < m->adj[r].n; i++) {
        int32_t t = m->adj[r].a[i];
        float d = merge_dist(m, m->color[r], m->color[t]);
        if (best < 0 || d < bd || (d == bd && (m->area[t] > m->area[best] || (m->area[t] == m->area[best] && t < best)))) {
            bd = d;
            best = t;
        }
    }
    *bd_out = bd;
    return best;
}

/* r joins t; r's neighbours of t's colour now touch t and join too.  The
 * lists of the joined regions move into t's (small-to-large), unless t now
 * has min_area pixels (it will never merge again: lists freed). */
static bool merge_join(merge_state *m, int32_t r, int32_t t, int64_t min_area) {
    int32_t *parent = m->parent;
    m->members.n = 0;
    parent[r] = t;
    m->area[t] += m->area[r];
    m->merged++;
    m->alive--;
    for (int32_t i = 0; i < m->adj[r].n; i++) {
        int32_t u = uf_find(parent, m->adj[r].a[i]);
        if (u == t || m->color[u] != m->color[t]) continue;
        parent[u] = t;
        m->area[t] += m->area[u];
        m->alive--;
        if (!ivec_push(&m->members, u)) return false;
    }
    if (!ivec_push(&m->members, r)) return false;
    if (m->area[t] >= min_area) {
        ivec_free(&m->adj[t]);
        for (int32_t i = 0; i < m->members.n; i++) ivec_free(&m->adj[m->members.a[i]]);
        return true;
    }
    for (int32_t s = 0; s < m->members.n; s++) {
        ivec *v = &m->adj[m->members.a[s]];
        if (v->n > m->adj[t].n) { /* small-to-large: keep the longer array */
            ivec tmp = m->adj[t];
            m->adj[t] = *v;
            *v = tmp;
        }
        for (int32_t i = 0; i < v->n; i++)
            if (!ivec_push(&m->adj[t], v->a[i])) return false;
        ivec_free(v);
    }
    if (m->adj[t].n > 2 * m->adj[t].clean + 16) ivec_compact(&m->adj[t], parent, t);
    return true;
}

/* writes the merged colours back into lab */
static void merge_write_back(merge_state *m, uint16_t *lab) {
    size_t npx = (size_t)m->w * (size_t)m->h;
    if (m->merged)
        for (size_t i = 0; i < npx; i++)
            if (m->reg[i] >= 0) lab[i] = m->color[uf_find(m->parent, m->reg[i])];
}

static carve_status merge_fail(merge_state *m, carve_status st) {
    if (st == CARVE_ERR_NOMEM)
        return carve__fail(m->ctx, CARVE_ERR_NOMEM, "out of memory (%s: %dx%d, region merging)", m->stage, m->w, m->h);
    return st;
}

/* the speckle loop: smallest first while under min_area */
static carve_status merge_small_loop(merge_state *m, int64_t min_area, int64_t nsmall) {
    int64_t pops = 0;
    double prog = 0.5;
    carve_status st;
    while (m->hp.n) {
        if ((++pops & 4095) == 0) {
            double f = 0.5 + 0.45 * (1.0 - (double)m->hp.n / (double)nsmall);
            if (f > prog) prog = f;
            if ((st = carve__progress(m->ctx, prog, m->stage))) return st;
        }
        heap_item it = heap_pop(&m->hp);
        int32_t r = it.id;
        if (m->parent[r] != r || m->area[r] >= min_area) continue;
        if (m->area[r] != (int64_t)it.key) { /* stale entry: grew since it was pushed */
            if (!heap_push(&m->hp, (heap_item){(double)m->area[r], r})) return CARVE_ERR_NOMEM;
            continue;
        }
        float bd;
        int32_t t = merge_best(m, r, &bd);
        if (t < 0) { /* no opaque neighbour: kept */
            ivec_free(&m->adj[r]);
            continue;
        }
        if (!merge_join(m, r, t, min_area)) return CARVE_ERR_NOMEM;
        if (m->area[t] < min_area && !heap_push(&m->hp, (heap_item){(double)m->area[t], t})) return CARVE_ERR_NOMEM;
    }
    return CARVE_OK;
}

carve_status carve__merge_small_regions(carve_ctx *ctx, uint16_t *lab, int w, int h, const double (*color_lab)[3],
                                        int ncolors, int64_t min_area, const char *stage, int64_t *merged_out) {
    if (merged_out) *merged_out = 0;
    if (min_area <= 1 || w <= 0 || h <= 0) return CARVE_OK;
    merge_state m = {.ctx = ctx, .stage = stage ? stage : "merge regions", .w = w, .h = h, .clab = color_lab};
    carve_status st = CARVE_OK;
    if (merge_state_init(&m, lab, ncolors)) goto nomem;
    if ((st = carve__progress(ctx, 0.3, m.stage))) goto done;
    int64_t nsmall = 0;
    for (int32_t r = 0; r < m.nreg; r++) nsmall += m.area[r] < min_area;
    if (nsmall > 0) {
        if ((st = merge_adjacency(&m, min_area, 0.3))) goto done;
        for (int32_t r = 0; r < m.nreg; r++)
            if (m.area[r] < min_area && !heap_push(&m.hp, (heap_item){(double)m.area[r], r})) goto nomem;
        if ((st = merge_small_loop(&m, min_area, nsmall))) goto done;
        merge_write_back(&m, lab);
    }
    st = carve__progress(ctx, 1, m.stage);
    goto done;
nomem:
    st = CARVE_ERR_NOMEM;
done:
    if (merged_out) *merged_out = m.merged;
    st = merge_fail(&m, st);
    merge_state_free(&m);
    return st;
}

/* ---- significance merging (detail budget) -------------------------------
 * cost(r) = area(r) x CIEDE2000 to its most similar neighbour: the pixels
 * that change colour weighted by how much.  Keys go stale as regions grow
 * or their neighbours merge; an entry whose recomputed cost differs is
 * pushed again with the current cost (lazy update), so the region of least
 * current cost is taken next. */
static carve_status merge_significance_loop(merge_state *m, double max_cost, int64_t max_regions) {
    int64_t pops = 0, start = m->alive;
    carve_status st;
    float *bdc = malloc(sizeof *bdc * (size_t)(m->nreg ? m->nreg : 1)); /* last best distance per region */
    if (!bdc) return CARVE_ERR_NOMEM;
    for (int32_t r = 0; r < m->nreg; r++) {
        float bd;
        bdc[r] = merge_best(m, r, &bd) < 0 ? INFINITY : bd;
        if (isfinite(bdc[r]) && !heap_push(&m->hp, (heap_item){(double)m->area[r] * bdc[r], r})) goto nomem;
    }
    while (m->hp.n) {
        if ((++pops & 4095) == 0) {
            double f = start > 0 ? 0.5 + 0.45 * (double)(start - m->alive) / (double)start : 0.5;
            if ((st = carve__progress(m->ctx, f, m->stage))) goto out;
        }
        heap_item it = heap_pop(&m->hp);
        int32_t r = it.id;
        if (m->parent[r] != r) continue;
        float bd;
        int32_t t = merge_best(m, r, &bd);
        if (t < 0) continue;
        bdc[r] = bd;
        double cost = (double)m->area[r] * bd;
        if (cost != it.key) { /* stale */
            if (!heap_push(&m->hp, (heap_item){cost, r})) goto nomem;
            continue;
        }
        if (m->alive <= max_regions && cost >= max_cost) break;
        if (!merge_join(m, r, t, INT64_MAX)) goto nomem;
        if (!heap_push(&m->hp, (heap_item){(double)m->area[t] * bdc[t], t})) goto nomem;
    }
    st = CARVE_OK;
    goto out;
nomem:
    st = CARVE_ERR_NOMEM;
out:
    free(bdc);
    return st;
}

carve_status carve__merge_insignificant_regions(carve_ctx *ctx, uint16_t *lab, int w, int h,
                                                const double (*color_lab)[3], int ncolors, double max_cost,
                                                int64_t max_regions, const char *stage, int64_t *merged_out) {
    if (merged_out) *merged_out = 0;
    if (w <= 0 || h <= 0 || (max_cost <= 0 && max_regions <= 0)) return CARVE_OK;
    if (max_regions <= 0) max_regions = INT64_MAX;
    merge_state m = {.ctx = ctx, .stage = stage ? stage : "merge regions", .w = w, .h = h, .clab = color_lab};
    carve_status st = CARVE_OK;
    if (merge_state_init(&m, lab, ncolors)) {
        st = CARVE_ERR_NOMEM;
        goto done;
    }
    if ((st = carve__progress(ctx, 0.3, m.stage))) goto done;
    if (m.nreg > max_regions || max_cost > 0) {
        if ((st = merge_adjacency(&m, INT64_MAX, 0.3))) goto done;
        if ((st = merge_significance_loop(&m, max_cost, max_regions))) goto done;
        merge_write_back(&m, lab);
    }
    st = carve__progress(ctx, 1, m.stage);
done:
    if (merged_out) *merged_out = m.merged;
    st = merge_fail(&m, st);
    merge_state_free(&m);
    return st;
}
