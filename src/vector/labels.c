/* labels.c — colour labels, connected components and the speckle filter. */
#include "vector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- labels -------------------------------------------------------------- */
static inline uint32_t hash_rgb(uint32_t c) { return (c * 2654435761u) >> 22; } /* 10 bits */

carve_status carve__vec_labels(carve_ctx *ctx, const carve_image *in, int max_colors, vec_labels *out) {
    memset(out, 0, sizeof *out);
    size_t n = (size_t)in->w * (size_t)in->h;
    /* exact count of distinct opaque colours with a 2^24-bit set */
    uint64_t *seen = calloc((size_t)1 << 18, sizeof(uint64_t));
    if (!seen) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
    int64_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in->px + 4 * i;
        if (p[3] < 128) continue;
        uint32_t c = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
        uint64_t bit = (uint64_t)1 << (c & 63);
        if (!(seen[c >> 6] & bit)) {
            seen[c >> 6] |= bit;
            distinct++;
        }
    }
    if (distinct > max_colors) {
        free(seen);
        return carve__fail(ctx, CARVE_ERR_TOO_MANY_COLORS,
                           "trace: the image has %lld distinct opaque colours, more than max_colors = %d; "
                           "reduce them first with `carve quantize` (e.g. --colors 16)",
                           (long long)distinct, max_colors);
    }
    /* sorted colour list */
    int k = 0;
    for (size_t w = 0; w < ((size_t)1 << 18) && k < distinct; w++) {
        uint64_t v = seen[w];
        while (v) {
            int b = __builtin_ctzll(v);
            v &= v - 1;
            out->colors[k++] = (uint32_t)(w << 6) | (uint32_t)b;
        }
    }
    free(seen);
    out->ncolors = k;
    out->w = in->w;
    out->h = in->h;
    out->lab = malloc(n ? n * sizeof(uint16_t) : 1);
    if (!out->lab) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
    /* rgb -> index hash (1024 slots, at most 256 keys) */
    uint32_t hkey[1024];
    int16_t hval[1024];
    for (int i = 0; i < 1024; i++) hval[i] = -1;
    for (int i = 0; i < k; i++) {
        uint32_t h = hash_rgb(out->colors[i]);
        while (hval[h] >= 0) h = (h + 1) & 1023;
        hkey[h] = out->colors[i];
        hval[h] = (int16_t)i;
    }
    uint32_t lastc = 0xffffffffu;
    uint16_t lastl = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in->px + 4 * i;
        if (p[3] < 128) {
            out->lab[i] = VEC_VOID;
            continue;
        }
        uint32_t c = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
        if (c != lastc) {
            uint32_t h = hash_rgb(c);
            while (hkey[h] != c || hval[h] < 0) h = (h + 1) & 1023;
            lastc = c;
            lastl = (uint16_t)hval[h];
        }
        out->lab[i] = lastl;
    }
    return CARVE_OK;
}

void carve__vec_labels_free(vec_labels *l) {
    if (!l) return;
    free(l->lab);
    l->lab = NULL;
}

/* ---- connected components (two-pass union-find) ------------------------- */
static int32_t uf_find(int32_t *par, int32_t x) {
    while (par[x] != x) {
        par[x] = par[par[x]];
        x = par[x];
    }
    return x;
}

int32_t carve__vec_components(const vec_labels *l, int32_t **reg_out, int64_t **area_out) {
    int w = l->w, h = l->h;
    size_t n = (size_t)w * (size_t)h;
    *reg_out = NULL;
    if (area_out) *area_out = NULL;
    int32_t *reg = malloc(n ? n * sizeof(int32_t) : 1);
    /* provisional labels: at most one per run start, bounded by n */
    int32_t *par = malloc(n ? n * sizeof(int32_t) : 1);
    if (!reg || !par) {
        free(reg);
        free(par);
        return -1;
    }
    int32_t np = 0;
    for (int y = 0; y < h; y++) {
        const uint16_t *row = l->lab + (size_t)y * w;
        const uint16_t *up = y ? row - w : NULL;
        int32_t *rr = reg + (size_t)y * w;
        int32_t *ru = y ? rr - w : NULL;
        for (int x = 0; x < w; x++) {
            uint16_t c = row[x];
            if (c == VEC_VOID) {
                rr[x] = -1;
                continue;
            }
            int32_t a = (x && row[x - 1] == c) ? rr[x - 1] : -1;
            int32_t b = (up && up[x] == c) ? ru[x] : -1;
            if (a < 0 && b < 0) {
                par[np] = np;
                rr[x] = np++;
            } else if (a >= 0 && b >= 0) {
                int32_t ra = uf_find(par, a), rb = uf_find(par, b);
                if (ra != rb) {
                    if (ra < rb) par[rb] = ra;
                    else par[ra] = rb;
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
    for (size_t i = 0; i < n; i++) {
        if (reg[i] < 0) continue;
        int32_t r = uf_find(par, reg[i]);
        if (fid[r] < 0) fid[r] = nreg++;
        reg[i] = fid[r];
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

/* ---- speckle filter -------------------------------------------------------
 * Sequential and exact: a min-heap of small regions by (area, id); the
 * smallest is merged into the opaque neighbour of least CIEDE2000 (ties: the
 * larger area, then the lower id).  Neighbours of the merged speck that have
 * the receiver's colour become one region with it.  Areas only grow, so the
 * loop ends when every opaque region has at least min_area pixels or no
 * opaque neighbour.  Adjacency is kept only for small regions. */
typedef struct ivec {
    int32_t *v;
    int32_t n, cap;
} ivec;

static int ivec_push(ivec *a, int32_t x) {
    if (a->n == a->cap) {
        int32_t nc = a->cap ? a->cap * 2 : 8;
        int32_t *nv = realloc(a->v, (size_t)nc * sizeof(int32_t));
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return 0;
}

/* appends src to dst (src is emptied); keeps the bigger buffer */
static int ivec_absorb(ivec *dst, ivec *src) {
    if (src->n > dst->n) {
        ivec t = *dst;
        *dst = *src;
        *src = t;
    }
    for (int32_t i = 0; i < src->n; i++)
        if (ivec_push(dst, src->v[i])) return -1;
    free(src->v);
    src->v = NULL;
    src->n = src->cap = 0;
    return 0;
}

typedef struct heap_item {
    int64_t area;
    int32_t id;
} heap_item;
typedef struct heap {
    heap_item *a;
    int64_t n, cap;
} heap;

static inline bool hi_less(heap_item x, heap_item y) { return x.area < y.area || (x.area == y.area && x.id < y.id); }

static int heap_push(heap *h, heap_item it) {
    if (h->n == h->cap) {
        int64_t nc = h->cap ? h->cap * 2 : 64;
        heap_item *na = realloc(h->a, (size_t)nc * sizeof(heap_item));
        if (!na) return -1;
        h->a = na;
        h->cap = nc;
    }
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!hi_less(it, h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = it;
    return 0;
}

static heap_item heap_pop(heap *h) {
    heap_item top = h->a[0], last = h->a[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && hi_less(h->a[c + 1], h->a[c])) c++;
        if (!hi_less(h->a[c], last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = last;
    return top;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int64_t carve__vec_speckle(carve_ctx *ctx, vec_labels *l, int64_t min_area) {
    if (min_area <= 1) return 0;
    int32_t *reg = NULL;
    int64_t *area = NULL;
    int32_t nreg = carve__vec_components(l, &reg, &area);
    if (nreg < 0) {
        carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
        return -1;
    }
    int64_t merges = 0, ret = -1;
    int w = l->w, h = l->h;
    size_t n = (size_t)w * (size_t)h;
    int32_t *par = malloc((size_t)(nreg ? nreg : 1) * sizeof(int32_t));
    uint16_t *col = malloc((size_t)(nreg ? nreg : 1) * sizeof(uint16_t));
    ivec *adj = calloc((size_t)(nreg ? nreg : 1), sizeof(ivec));
    heap hp = {0};
    float *de = NULL;
    if (!par || !col || !adj) goto oom;
    int64_t nsmall = 0;
    for (int32_t r = 0; r < nreg; r++) {
        par[r] = r;
        if (area[r] < min_area) nsmall++;
    }
    if (!nsmall) {
        ret = 0;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (reg[i] >= 0) col[reg[i]] = l->lab[i];
    /* adjacency of small regions (consecutive duplicates suppressed) */
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int32_t a = reg[(size_t)y * w + x];
            if (a < 0) continue;
            if (x + 1 < w) {
                int32_t b = reg[(size_t)y * w + x + 1];
                if (b >= 0 && b != a) {
                    if (area[a] < min_area && (!adj[a].n || adj[a].v[adj[a].n - 1] != b) && ivec_push(&adj[a], b)) goto oom;
                    if (area[b] < min_area && (!adj[b].n || adj[b].v[adj[b].n - 1] != a) && ivec_push(&adj[b], a)) goto oom;
                }
            }
            if (y + 1 < h) {
                int32_t b = reg[(size_t)(y + 1) * w + x];
                if (b >= 0 && b != a) {
                    if (area[a] < min_area && (!adj[a].n || adj[a].v[adj[a].n - 1] != b) && ivec_push(&adj[a], b)) goto oom;
                    if (area[b] < min_area && (!adj[b].n || adj[b].v[adj[b].n - 1] != a) && ivec_push(&adj[b], a)) goto oom;
                }
            }
        }
    }
    for (int32_t r = 0; r < nreg; r++)
        if (area[r] < min_area && heap_push(&hp, (heap_item){area[r], r})) goto oom;
    int nc = l->ncolors;
    de = malloc((size_t)nc * (size_t)nc * sizeof(float));
    if (!de) goto oom;
    for (int i = 0; i < nc * nc; i++) de[i] = -1.0f;
    double lab[256][3];
    for (int i = 0; i < nc; i++) carve_rgb_to_lab(l->colors[i], lab[i]);
    int64_t iter = 0;
    while (hp.n) {
        if ((++iter & 4095) == 0 && carve__cancelled(ctx)) {
            carve__progress(ctx, 0, "trace");
            goto done;
        }
        heap_item it = heap_pop(&hp);
        int32_t r = it.id;
        if (par[r] != r) continue;
        if (area[r] != it.area) {
            if (area[r] < min_area && heap_push(&hp, (heap_item){area[r], r})) goto oom;
            continue;
        }
        /* neighbour roots, sorted and unique */
        ivec *A = &adj[r];
        int32_t m = 0;
        for (int32_t i = 0; i < A->n; i++) {
            int32_t y = uf_find(par, A->v[i]);
            if (y != r) A->v[m++] = y;
        }
        A->n = m;
        if (m > 1) qsort(A->v, (size_t)m, sizeof(int32_t), cmp_i32);
        int32_t u = 0;
        for (int32_t i = 0; i < m; i++)
            if (!u || A->v[u - 1] != A->v[i]) A->v[u++] = A->v[i];
        A->n = u;
        if (!u) continue; /* only transparent around: keep it */
        int32_t best = -1;
        float bd = 0;
        for (int32_t i = 0; i < u; i++) {
            int32_t s = A->v[i];
            int ci = col[r], cj = col[s];
            float d = de[ci * nc + cj];
            if (d < 0) {
                d = (float)carve_ciede2000(lab[ci], lab[cj]);
                de[ci * nc + cj] = de[cj * nc + ci] = d;
            }
            if (best < 0 || d < bd || (d == bd && (area[s] > area[best] || (area[s] == area[best] && s < best)))) {
                best = s;
                bd = d;
            }
        }
        int32_t s = best;
        /* merge r and every same-coloured neighbour into s */
        par[r] = s;
        area[s] += area[r];
        ivec rl = adj[r];
        adj[r] = (ivec){0};
        for (int32_t i = 0; i < rl.n; i++) {
            int32_t t = rl.v[i];
            if (t != s && col[t] == col[s] && par[t] == t) {
                par[t] = s;
                area[s] += area[t];
                if (area[s] < min_area) {
                    if (ivec_absorb(&adj[s], &adj[t])) {
                        free(rl.v);
                        goto oom;
                    }
                } else {
                    free(adj[t].v);
                    adj[t] = (ivec){0};
                }
            }
        }
        merges++;
        if (area[s] < min_area) {
            if (ivec_absorb(&adj[s], &rl)) {
                free(rl.v);
                goto oom;
            }
            if (heap_push(&hp, (heap_item){area[s], s})) goto oom;
        } else {
            free(rl.v);
            free(adj[s].v);
            adj[s] = (ivec){0};
        }
    }
    if (merges)
        for (size_t i = 0; i < n; i++)
            if (reg[i] >= 0) l->lab[i] = col[uf_find(par, reg[i])];
    ret = merges;
    goto done;
oom:
    carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
    ret = -1;
done:
    if (adj)
        for (int32_t r = 0; r < nreg; r++) free(adj[r].v);
    free(adj);
    free(hp.a);
    free(de);
    free(par);
    free(col);
    free(reg);
    free(area);
    return ret;
}
