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

/* min-heap of (area, region id), ordered by area then id */
typedef struct heap_item {
    int64_t area;
    int32_t id;
} heap_item;

typedef struct heap {
    heap_item *a;
    size_t n, cap;
} heap;

static inline bool hi_less(heap_item a, heap_item b) { return a.area < b.area || (a.area == b.area && a.id < b.id); }

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

carve_status carve__merge_small_regions(carve_ctx *ctx, uint16_t *lab, int w, int h, const double (*color_lab)[3],
                                        int ncolors, int64_t min_area, const char *stage, int64_t *merged_out) {
    if (merged_out) *merged_out = 0;
    if (min_area <= 1 || w <= 0 || h <= 0) return CARVE_OK;
    if (!stage) stage = "merge regions";
    size_t npx = (size_t)w * (size_t)h;
    carve_status st = CARVE_OK;
    int32_t *reg = NULL, *parent = NULL;
    int64_t *area = NULL;
    uint16_t *color = NULL;
    ivec *adj = NULL, members = {0};
    float *dtab = NULL;
    heap hp = {0};
    int64_t merged = 0;
    /* 1. regions */
    int32_t nreg = carve__components(lab, w, h, &reg, &area);
    if (nreg < 0) goto nomem;
    if ((st = carve__progress(ctx, 0.3, stage))) goto done;
    int64_t nsmall = 0;
    for (int32_t r = 0; r < nreg; r++) nsmall += area[r] < min_area;
    if (nsmall == 0) goto finish;
    parent = malloc(sizeof *parent * (size_t)nreg);
    color = malloc(sizeof *color * (size_t)nreg);
    adj = calloc((size_t)nreg, sizeof *adj);
    if (!parent || !color || !adj) goto nomem;
    for (int32_t r = 0; r < nreg; r++) parent[r] = r;
    for (size_t i = 0; i < npx; i++)
        if (reg[i] >= 0) color[reg[i]] = lab[i];
    /* 2. adjacency lists of the small regions (consecutive duplicates dropped) */
    for (int y = 0; y < h; y++) {
        if ((y & 255) == 0 && (st = carve__progress(ctx, 0.3 + 0.2 * y / h, stage))) goto done;
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
                if (area[a] < min_area && (adj[a].n == 0 || adj[a].a[adj[a].n - 1] != b) && !ivec_push(&adj[a], b))
                    goto nomem;
                if (area[b] < min_area && (adj[b].n == 0 || adj[b].a[adj[b].n - 1] != a) && !ivec_push(&adj[b], a))
                    goto nomem;
            }
        }
    }
    /* lists are compacted when their region is taken from the heap */
    for (int32_t r = 0; r < nreg; r++) adj[r].clean = adj[r].n;
    /* CIEDE2000 between colours, computed on demand and memoised */
    size_t nc = ncolors > 0 ? (size_t)ncolors : 0;
    if (nc <= DTAB_MAX_COLORS) {
        dtab = malloc(sizeof *dtab * (nc ? nc * nc : 1));
        if (!dtab) goto nomem;
        for (size_t i = 0; i < nc * nc; i++) dtab[i] = -1;
    }
    for (int32_t r = 0; r < nreg; r++)
        if (area[r] < min_area && !heap_push(&hp, (heap_item){area[r], r})) goto nomem;
    /* 3. merge, smallest first */
    int64_t pops = 0;
    double prog = 0.5;
    while (hp.n) {
        if ((++pops & 4095) == 0) {
            double f = 0.5 + 0.45 * (1.0 - (double)hp.n / (double)nsmall);
            if (f > prog) prog = f;
            if ((st = carve__progress(ctx, prog, stage))) goto done;
        }
        heap_item it = heap_pop(&hp);
        int32_t r = it.id;
        if (parent[r] != r || area[r] >= min_area) continue;
        if (area[r] != it.area) { /* stale entry: grew since it was pushed */
            if (!heap_push(&hp, (heap_item){area[r], r})) goto nomem;
            continue;
        }
        ivec_compact(&adj[r], parent, r);
        int32_t best = -1;
        float bd = 0;
        for (int32_t i = 0; i < adj[r].n; i++) {
            int32_t t = adj[r].a[i];
            float d;
            if (dtab) {
                float *dp = &dtab[(size_t)color[r] * nc + color[t]];
                if (*dp < 0) {
                    *dp = (float)carve_ciede2000(color_lab[color[r]], color_lab[color[t]]);
                    dtab[(size_t)color[t] * nc + color[r]] = *dp;
                }
                d = *dp;
            } else {
                d = (float)carve_ciede2000(color_lab[color[r]], color_lab[color[t]]);
            }
            if (best < 0 || d < bd || (d == bd && (area[t] > area[best] || (area[t] == area[best] && t < best)))) {
                bd = d;
                best = t;
            }
        }
        if (best < 0) { /* no opaque neighbour: kept */
            ivec_free(&adj[r]);
            continue;
        }
        /* r joins best; r's neighbours of best's colour now touch it and join too */
        int32_t t = best;
        members.n = 0;
        parent[r] = t;
        area[t] += area[r];
        merged++;
        for (int32_t i = 0; i < adj[r].n; i++) {
            int32_t u = uf_find(parent, adj[r].a[i]);
            if (u == t || color[u] != color[t]) continue;
            parent[u] = t;
            area[t] += area[u];
            if (!ivec_push(&members, u)) goto nomem;
        }
        if (!ivec_push(&members, r)) goto nomem;
        if (area[t] >= min_area) {
            /* t will never be merged: no list needed */
            ivec_free(&adj[t]);
            for (int32_t i = 0; i < members.n; i++) ivec_free(&adj[members.a[i]]);
        } else {
            for (int32_t s = 0; s < members.n; s++) {
                ivec *v = &adj[members.a[s]];
                if (v->n > adj[t].n) { /* small-to-large: keep the longer array */
                    ivec tmp = adj[t];
                    adj[t] = *v;
                    *v = tmp;
                }
                for (int32_t i = 0; i < v->n; i++)
                    if (!ivec_push(&adj[t], v->a[i])) goto nomem;
                ivec_free(v);
            }
            if (adj[t].n > 2 * adj[t].clean + 16) ivec_compact(&adj[t], parent, t);
            if (!heap_push(&hp, (heap_item){area[t], t})) goto nomem;
        }
    }
    /* 4. write the merged colours back */
    if (merged)
        for (size_t i = 0; i < npx; i++)
            if (reg[i] >= 0) lab[i] = color[uf_find(parent, reg[i])];
finish:
    st = carve__progress(ctx, 1, stage);
    goto done;
nomem:
    st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (%s: %dx%d, region merging)", stage, w, h);
done:
    if (merged_out) *merged_out = merged;
    if (adj)
        for (int32_t r = 0; r < nreg; r++) free(adj[r].a);
    free(adj);
    free(members.a);
    free(hp.a);
    free(dtab);
    free(parent);
    free(color);
    free(area);
    free(reg);
    return st;
}
