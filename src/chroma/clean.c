/* clean.c — what happens around the exact mapping: optional error
 * diffusion, a majority (mode) filter, speckle removal by region merging,
 * and edge-preserving pre-smoothing.  All deterministic: sequential where
 * order matters, otherwise parallel with each item writing its own rows. */
#include "chroma.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Floyd-Steinberg ------------------------------------------------------------
 * Serpentine scan, error kept in 8-bit sRGB units; each adjusted colour is
 * mapped exactly (memoised in a lazily filled 2^24 table).  Transparent
 * pixels neither receive nor pass on error. */
carve_status carve__dither_fs(carve_ctx *ctx, const carve_image *in, const carve__lab_pal *lp, const uint32_t *rgb,
                              uint16_t *idx) {
    int w = in->w, h = in->h;
    uint16_t *memo = calloc((size_t)1 << 24, sizeof *memo); /* 0 = unknown, else index + 1 */
    float *e0 = calloc((size_t)(w + 2) * 3, sizeof(float)), *e1 = calloc((size_t)(w + 2) * 3, sizeof(float));
    carve_status st = CARVE_OK;
    if (!memo || !e0 || !e1) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (dither tables)");
        goto done;
    }
    int hint = -1;
    for (int y = 0; y < h; y++) {
        if ((y & 31) == 0 && (st = carve__progress(ctx, (double)y / h, "dither"))) goto done;
        memset(e1, 0, sizeof(float) * (size_t)(w + 2) * 3);
        int dir = (y & 1) ? -1 : 1;
        for (int k = 0; k < w; k++) {
            int x = dir > 0 ? k : w - 1 - k;
            const uint8_t *p = in->px + 4 * ((size_t)y * w + x);
            size_t o = (size_t)y * w + x;
            float *ec = e0 + 3 * (x + 1);
            if (p[3] < 128) {
                idx[o] = CARVE__TRANSPARENT;
                continue;
            }
            float v[3];
            int q[3];
            for (int c = 0; c < 3; c++) {
                v[c] = p[c] + ec[c];
                q[c] = (int)lrintf(v[c] < 0 ? 0 : v[c] > 255 ? 255 : v[c]);
            }
            uint32_t key = (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | (uint32_t)q[2];
            int i;
            if (memo[key]) {
                i = memo[key] - 1;
            } else {
                double lab[3];
                carve__rgb8_to_lab((uint8_t)q[0], (uint8_t)q[1], (uint8_t)q[2], lab);
                i = carve__lab_pal_nearest(lp, lab, hint);
                memo[key] = (uint16_t)(i + 1);
            }
            hint = i;
            idx[o] = (uint16_t)i;
            float err[3] = {v[0] - (float)(rgb[i] >> 16 & 255), v[1] - (float)(rgb[i] >> 8 & 255),
                            v[2] - (float)(rgb[i] & 255)};
            for (int c = 0; c < 3; c++) {
                /* clamp the diffused error so saturated areas cannot build it up */
                float e = err[c] < -255 ? -255 : err[c] > 255 ? 255 : err[c];
                e0[3 * (x + 1 + dir) + c] += e * (7.0f / 16);
                e1[3 * (x + 1 - dir) + c] += e * (3.0f / 16);
                e1[3 * (x + 1) + c] += e * (5.0f / 16);
                e1[3 * (x + 1 + dir) + c] += e * (1.0f / 16);
            }
        }
        float *t = e0;
        e0 = e1;
        e1 = t;
    }
    st = carve__progress(ctx, 1, "dither");
done:
    free(memo);
    free(e0);
    free(e1);
    return st;
}

/* ---- majority filter ------------------------------------------------------------- */
typedef struct maj_job {
    const uint16_t *src;
    uint16_t *dst;
    int w, h, n, r;
    int64_t band0;
    carve_ctx *ctx;
} maj_job;

#define MAJ_BAND 16

static int maj_band(void *arg, int64_t band) {
    maj_job *j = arg;
    if (carve__cancelled(j->ctx)) return 1;
    int w = j->w, h = j->h, r = j->r, n = j->n;
    int win = (2 * r + 1) * (2 * r + 1);
    int *hist = calloc((size_t)n, sizeof(int));
    if (!hist) return 2;
    int y0 = (int)(j->band0 + band) * MAJ_BAND, y1 = y0 + MAJ_BAND;
    if (y1 > h) y1 = h;
    for (int y = y0; y < y1; y++) {
        int ya = y - r < 0 ? 0 : y - r, yb = y + r >= h ? h - 1 : y + r;
        memset(hist, 0, sizeof(int) * (size_t)n);
        /* window columns [x-r, x+r]: start with columns 0..r-1 */
        for (int x = 0; x < r && x < w; x++)
            for (int yy = ya; yy <= yb; yy++) {
                uint16_t v = j->src[(size_t)yy * w + x];
                if (v != CARVE__TRANSPARENT) hist[v]++;
            }
        for (int x = 0; x < w; x++) {
            int xa = x + r, xr = x - r - 1;
            if (xa < w)
                for (int yy = ya; yy <= yb; yy++) {
                    uint16_t v = j->src[(size_t)yy * w + xa];
                    if (v != CARVE__TRANSPARENT) hist[v]++;
                }
            if (xr >= 0)
                for (int yy = ya; yy <= yb; yy++) {
                    uint16_t v = j->src[(size_t)yy * w + xr];
                    if (v != CARVE__TRANSPARENT) hist[v]--;
                }
            size_t o = (size_t)y * w + x;
            uint16_t c = j->src[o];
            if (c == CARVE__TRANSPARENT) {
                j->dst[o] = c;
                continue;
            }
            /* the centre keeps its colour unless another is strictly more
             * frequent; among those, the lower index */
            int best = c, m = hist[c];
            if (win < n) {
                for (int yy = ya; yy <= yb; yy++)
                    for (int xx = x - r < 0 ? 0 : x - r; xx <= x + r && xx < w; xx++) {
                        int v = j->src[(size_t)yy * w + xx];
                        if (v == CARVE__TRANSPARENT) continue;
                        if (hist[v] > m || (hist[v] == m && best != c && v < best)) {
                            m = hist[v];
                            best = v;
                        }
                    }
            } else {
                for (int v = 0; v < n; v++)
                    if (hist[v] > m || (hist[v] == m && best != c && v < best)) {
                        m = hist[v];
                        best = v;
                    }
            }
            j->dst[o] = (uint16_t)best;
        }
    }
    free(hist);
    return 0;
}

carve_status carve__majority(carve_ctx *ctx, uint16_t *idx, int w, int h, int n, int radius) {
    if (radius <= 0 || w <= 0 || h <= 0) return CARVE_OK;
    size_t npx = (size_t)w * h;
    uint16_t *src = malloc(npx * sizeof *src);
    if (!src) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (majority filter)");
    memcpy(src, idx, npx * sizeof *src);
    maj_job j = {src, idx, w, h, n, radius, 0, ctx};
    carve_status st = carve__progress(ctx, 0, "majority");
    int64_t nb = (h + MAJ_BAND - 1) / MAJ_BAND;
    int threads = carve__threads(ctx);
    /* slices of bands so progress and cancellation stay responsive */
    for (int64_t b0 = 0; !st && b0 < nb; b0 += 32) {
        int64_t cnt = nb - b0 < 32 ? nb - b0 : 32;
        j.band0 = b0;
        int rc = carve__parallel_for(threads, cnt, maj_band, &j);
        if (rc == 2) st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (majority filter)");
        else st = carve__progress(ctx, (double)(b0 + cnt) / (double)nb, "majority");
    }
    free(src);
    return st;
}

/* ---- speckle removal -----------------------------------------------------------------
 * 4-connected regions are labelled; regions under min_area are taken smallest
 * first (ties: lower label) and merged into the neighbouring region whose
 * colour has the least CIEDE2000 to theirs (ties: the bigger region, then the
 * lower label).  When a region is absorbed, its neighbours of the absorbing
 * colour become connected and are united too.  A region with no opaque
 * neighbour is kept.  Only palette indices are ever written. */
typedef struct ivec {
    int32_t *a;
    int32_t n, cap, clean; /* clean: length after the last compaction */
} ivec;

static bool ivec_push(ivec *v, int32_t x) {
    if (v->n == v->cap) {
        int32_t nc = v->cap ? v->cap * 2 : 8;
        int32_t *na = realloc(v->a, sizeof *na * (size_t)nc);
        if (!na) return false;
        v->a = na;
        v->cap = nc;
    }
    v->a[v->n++] = x;
    return true;
}

static int32_t uf_find(int32_t *parent, int32_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Maps through find, drops self and duplicates. */
static void ivec_compact(ivec *v, int32_t *parent, int32_t self) {
    int32_t k = 0;
    for (int32_t i = 0; i < v->n; i++) {
        int32_t r = uf_find(parent, v->a[i]);
        if (r != self) v->a[k++] = r;
    }
    if (k > 1) qsort(v->a, (size_t)k, sizeof(int32_t), cmp_i32);
    int32_t u = 0;
    for (int32_t i = 0; i < k; i++)
        if (!u || v->a[u - 1] != v->a[i]) v->a[u++] = v->a[i];
    v->n = u;
    v->clean = u;
}

typedef struct heap_item {
    int64_t area;
    int32_t label;
} heap_item;

static bool hi_less(heap_item a, heap_item b) { return a.area < b.area || (a.area == b.area && a.label < b.label); }

typedef struct heap {
    heap_item *a;
    size_t n, cap;
} heap;

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

carve_status carve__min_region(carve_ctx *ctx, uint16_t *idx, int w, int h, const carve__lab_pal *lp, int min_area,
                               int64_t *merged_out) {
    if (merged_out) *merged_out = 0;
    if (min_area <= 1 || w <= 0 || h <= 0) return CARVE_OK;
    size_t npx = (size_t)w * h;
    carve_status st = CARVE_OK;
    int32_t *label = malloc(npx * sizeof *label);
    size_t scap = 4096;
    size_t *stack = malloc(scap * sizeof *stack);
    int64_t *area = NULL;
    uint16_t *color = NULL;
    int32_t *parent = NULL;
    ivec *adj = NULL;
    float *dtab = NULL;
    heap hp = {0};
    ivec members = {0};
    int32_t nreg = 0, rcap = 0;
    int64_t merged = 0;
    if (!label || !stack) goto nomem;
    /* 1. label 4-connected regions (iterative flood fill) */
    for (size_t i = 0; i < npx; i++) label[i] = -1;
    for (size_t s0 = 0; s0 < npx; s0++) {
        if (label[s0] >= 0 || idx[s0] == CARVE__TRANSPARENT) continue;
        if ((nreg & 1023) == 0 && (st = carve__progress(ctx, 0.4 * (double)s0 / (double)npx, "despeckle"))) goto done;
        if (nreg == INT32_MAX) {
            st = carve__fail(ctx, CARVE_ERR_TOO_LARGE, "too many regions");
            goto done;
        }
        if (nreg == rcap) {
            int32_t nc = rcap ? rcap * 2 : 1024;
            int64_t *na = realloc(area, sizeof *na * (size_t)nc);
            if (!na) goto nomem;
            area = na;
            uint16_t *nco = realloc(color, sizeof *nco * (size_t)nc);
            if (!nco) goto nomem;
            color = nco;
            rcap = nc;
        }
        int32_t L = nreg++;
        uint16_t c = idx[s0];
        color[L] = c;
        int64_t cnt = 0;
        size_t qn = 0;
        label[s0] = L;
        stack[qn++] = s0;
        while (qn) {
            size_t p = stack[--qn];
            cnt++;
            int x = (int)(p % (size_t)w), y = (int)(p / (size_t)w);
            size_t nbr[4];
            int k = 0;
            if (x > 0) nbr[k++] = p - 1;
            if (x + 1 < w) nbr[k++] = p + 1;
            if (y > 0) nbr[k++] = p - (size_t)w;
            if (y + 1 < h) nbr[k++] = p + (size_t)w;
            for (int t = 0; t < k; t++) {
                size_t m = nbr[t];
                if (label[m] >= 0 || idx[m] != c) continue;
                label[m] = L;
                if (qn == scap) {
                    size_t *nq = realloc(stack, 2 * scap * sizeof *nq);
                    if (!nq) goto nomem;
                    stack = nq;
                    scap *= 2;
                }
                stack[qn++] = m;
            }
        }
        area[L] = cnt;
    }
    free(stack);
    stack = NULL;
    if (nreg == 0) goto done;
    /* 2. adjacency lists of the small regions */
    parent = malloc(sizeof *parent * (size_t)nreg);
    adj = calloc((size_t)nreg, sizeof *adj);
    if (!parent || !adj) goto nomem;
    for (int32_t r = 0; r < nreg; r++) parent[r] = r;
    int32_t nsmall = 0;
    for (int32_t r = 0; r < nreg; r++) nsmall += area[r] < min_area;
    if (nsmall == 0) goto done;
    for (int y = 0; y < h; y++) {
        if ((y & 255) == 0 && (st = carve__progress(ctx, 0.4 + 0.2 * y / h, "despeckle"))) goto done;
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            int32_t a = label[p];
            if (a < 0) continue;
            size_t q2[2];
            int k = 0;
            if (x + 1 < w) q2[k++] = p + 1;
            if (y + 1 < h) q2[k++] = p + (size_t)w;
            for (int t = 0; t < k; t++) {
                int32_t b = label[q2[t]];
                if (b < 0 || b == a) continue;
                if (area[a] < min_area && (adj[a].n == 0 || adj[a].a[adj[a].n - 1] != b) && !ivec_push(&adj[a], b))
                    goto nomem;
                if (area[b] < min_area && (adj[b].n == 0 || adj[b].a[adj[b].n - 1] != a) && !ivec_push(&adj[b], a))
                    goto nomem;
            }
        }
    }
    for (int32_t r = 0; r < nreg; r++)
        if (adj[r].n) ivec_compact(&adj[r], parent, r);
    /* CIEDE2000 between palette entries, computed on demand */
    int n = lp->n;
    dtab = malloc(sizeof *dtab * (size_t)n * (size_t)n);
    if (!dtab) goto nomem;
    for (size_t i = 0; i < (size_t)n * n; i++) dtab[i] = -1;
    for (int32_t r = 0; r < nreg; r++)
        if (area[r] < min_area && !heap_push(&hp, (heap_item){area[r], r})) goto nomem;
    /* 3. merge, smallest first */
    int64_t pops = 0;
    while (hp.n) {
        if ((++pops & 4095) == 0 && (st = carve__progress(ctx, 0.6 + 0.35 * (1.0 - (double)hp.n / nsmall), "despeckle")))
            goto done;
        heap_item it = heap_pop(&hp);
        int32_t r = it.label;
        if (parent[r] != r || area[r] >= min_area) continue;
        if (area[r] != it.area) {
            if (!heap_push(&hp, (heap_item){area[r], r})) goto nomem;
            continue;
        }
        ivec_compact(&adj[r], parent, r);
        int32_t best = -1;
        double bd = INFINITY;
        for (int32_t i = 0; i < adj[r].n; i++) {
            int32_t t = adj[r].a[i];
            float *dp = &dtab[(size_t)color[r] * n + color[t]];
            if (*dp < 0) {
                double d = carve_ciede2000(lp->lab[color[r]], lp->lab[color[t]]);
                *dp = (float)d;
                dtab[(size_t)color[t] * n + color[r]] = (float)d;
            }
            double d = *dp;
            if (best < 0 || d < bd || (d == bd && (area[t] > area[best] || (area[t] == area[best] && t < best)))) {
                bd = d;
                best = t;
            }
        }
        if (best < 0) continue; /* no opaque neighbour: kept */
        /* r joins best; r's neighbours of best's colour join too */
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
            free(adj[t].a);
            adj[t] = (ivec){0};
            for (int32_t i = 0; i < members.n; i++) {
                free(adj[members.a[i]].a);
                adj[members.a[i]] = (ivec){0};
            }
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
                free(v->a);
                *v = (ivec){0};
            }
            if (adj[t].n > 2 * adj[t].clean + 16) ivec_compact(&adj[t], parent, t);
            if (!heap_push(&hp, (heap_item){area[t], t})) goto nomem;
        }
        free(adj[r].a);
        adj[r] = (ivec){0};
    }
    /* 4. write the merged colours back */
    for (size_t i = 0; i < npx; i++)
        if (label[i] >= 0) idx[i] = color[uf_find(parent, label[i])];
    st = carve__progress(ctx, 1, "despeckle");
    goto done;
nomem:
    st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (region merging)");
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
    free(stack);
    free(label);
    return st;
}

/* ---- edge-preserving smoothing ---------------------------------------------------------
 * The recursive filter of the domain transform (Gastal & Oliveira, SIGGRAPH
 * 2011): three iterations of a horizontal then a vertical pass.  The domain
 * transform's derivative is 1 + sigma_s/sigma_r * sum|dI| (I in [0,1]),
 * measured once on the input, with alpha steps weighted 4x so opaque colours
 * never bleed into transparency.  Because the derivative is an integer sum
 * of 8-bit differences, the per-iteration weights a^d come from a table. */
#define DT_ITERS 3
#define DT_GMAX (3 * 255 + 4 * 255)

typedef struct dt_job {
    float *img;        /* w*h*3, sRGB 0..255 */
    uint16_t *gx, *gy; /* gradients: gx[y*w+x] between x-1 and x; gy between y-1 and y */
    const float *wt;   /* DT_GMAX+1 weights for the current iteration */
    int w, h;
    carve_ctx *ctx;
} dt_job;

static int dt_rows(void *arg, int64_t y) {
    dt_job *j = arg;
    int w = j->w;
    float *row = j->img + (size_t)y * w * 3;
    const uint16_t *g = j->gx + (size_t)y * w;
    for (int x = 1; x < w; x++) {
        float a = j->wt[g[x]];
        for (int c = 0; c < 3; c++) row[3 * x + c] += a * (row[3 * (x - 1) + c] - row[3 * x + c]);
    }
    for (int x = w - 2; x >= 0; x--) {
        float a = j->wt[g[x + 1]];
        for (int c = 0; c < 3; c++) row[3 * x + c] += a * (row[3 * (x + 1) + c] - row[3 * x + c]);
    }
    return 0;
}

#define DT_COLS 32
static int dt_cols(void *arg, int64_t blk) {
    dt_job *j = arg;
    if (carve__cancelled(j->ctx)) return 1;
    int w = j->w, h = j->h;
    int x0 = (int)blk * DT_COLS, x1 = x0 + DT_COLS < w ? x0 + DT_COLS : w;
    size_t stride = (size_t)w * 3;
    for (int y = 1; y < h; y++) {
        float *cur = j->img + (size_t)y * stride, *prev = cur - stride;
        const uint16_t *g = j->gy + (size_t)y * w;
        for (int x = x0; x < x1; x++) {
            float a = j->wt[g[x]];
            for (int c = 0; c < 3; c++) cur[3 * x + c] += a * (prev[3 * x + c] - cur[3 * x + c]);
        }
    }
    for (int y = h - 2; y >= 0; y--) {
        float *cur = j->img + (size_t)y * stride, *next = cur + stride;
        const uint16_t *g = j->gy + (size_t)(y + 1) * w;
        for (int x = x0; x < x1; x++) {
            float a = j->wt[g[x]];
            for (int c = 0; c < 3; c++) cur[3 * x + c] += a * (next[3 * x + c] - cur[3 * x + c]);
        }
    }
    return 0;
}

static uint16_t grad(const uint8_t *p, const uint8_t *q) {
    return (uint16_t)(abs(p[0] - q[0]) + abs(p[1] - q[1]) + abs(p[2] - q[2]) + 4 * abs(p[3] - q[3]));
}

carve_status carve__smooth(carve_ctx *ctx, carve_image *img, double strength) {
    if (!(strength > 0) || img->w <= 0 || img->h <= 0) return CARVE_OK;
    int w = img->w, h = img->h;
    size_t npx = (size_t)w * h;
    double sigma_s = 4.0 * strength, sigma_r = 0.1 + 0.05 * strength;
    float *f = malloc(npx * 3 * sizeof *f);
    uint16_t *gx = malloc(npx * sizeof *gx), *gy = malloc(npx * sizeof *gy);
    float *wt = malloc((DT_GMAX + 1) * sizeof *wt);
    carve_status st = CARVE_OK;
    if (!f || !gx || !gy || !wt) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (smoothing %dx%d)", w, h);
        goto done;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            const uint8_t *p = img->px + 4 * i;
            f[3 * i] = p[0];
            f[3 * i + 1] = p[1];
            f[3 * i + 2] = p[2];
            gx[i] = x ? grad(p, p - 4) : 0;
            gy[i] = y ? grad(p, p - 4 * (size_t)w) : 0;
        }
    dt_job j = {f, gx, gy, wt, w, h, ctx};
    int threads = carve__threads(ctx);
    for (int it = 0; it < DT_ITERS; it++) {
        double sh = sigma_s * sqrt(3.0) * pow(2.0, DT_ITERS - (it + 1)) / sqrt(pow(4.0, DT_ITERS) - 1);
        double a = exp(-sqrt(2.0) / sh);
        for (int g = 0; g <= DT_GMAX; g++) wt[g] = (float)pow(a, 1.0 + sigma_s / sigma_r * (g / 255.0));
        carve__parallel_for(threads, h, dt_rows, &j);
        if ((st = carve__progress(ctx, (it + 0.5) / DT_ITERS, "smooth"))) goto done;
        if (carve__parallel_for(threads, (w + DT_COLS - 1) / DT_COLS, dt_cols, &j)) {
            st = carve__progress(ctx, (it + 0.5) / DT_ITERS, "smooth");
            if (!st) st = carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled");
            goto done;
        }
        if ((st = carve__progress(ctx, (it + 1.0) / DT_ITERS, "smooth"))) goto done;
    }
    for (size_t i = 0; i < npx; i++)
        for (int c = 0; c < 3; c++) {
            float v = f[3 * i + c] + 0.5f;
            img->px[4 * i + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
done:
    free(f);
    free(gx);
    free(gy);
    free(wt);
    return st;
}
