/* auto.c — carve_palette_from_image: k colours chosen from the image in
 * CIELAB by weighted k-means (k-means++ seeding with a fixed-seed generator,
 * then Lloyd iterations), locked colours kept exactly as fixed centres.
 *
 * The opaque pixels are first binned to 6 bits per channel (2^18 bins); each
 * occupied bin is one weighted point at the mean colour of its pixels, so the
 * cost does not grow with the image and the sums are exact integers.
 * Parallel work is split into fixed chunks whose partial sums are added in
 * chunk order: the result does not depend on the thread count. */
#include "chroma.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KM_ITERS 40
#define PT_CHUNK 2048

typedef struct pt {
    double lab[3];
    double w;
} pt;

typedef struct km_job {
    const pt *pts;
    int64_t npts;
    double (*cen)[3];
    int k;
    int *assign;
    double *part;   /* per chunk: k * 4 (sum L, a, b, w) + 1 (changes) */
    double *dmin;   /* per point: squared distance to its centre */
} km_job;

static inline double d2(const double *a, const double *b) {
    double x = a[0] - b[0], y = a[1] - b[1], z = a[2] - b[2];
    return x * x + y * y + z * z;
}

static int km_chunk(void *arg, int64_t c) {
    km_job *j = arg;
    int64_t a = c * PT_CHUNK, b = a + PT_CHUNK < j->npts ? a + PT_CHUNK : j->npts;
    double *part = j->part + c * ((int64_t)j->k * 4 + 1);
    memset(part, 0, sizeof(double) * ((size_t)j->k * 4 + 1));
    for (int64_t i = a; i < b; i++) {
        int best = 0;
        double bd = d2(j->pts[i].lab, j->cen[0]);
        for (int q = 1; q < j->k; q++) {
            double d = d2(j->pts[i].lab, j->cen[q]);
            if (d < bd) {
                bd = d;
                best = q;
            }
        }
        if (best != j->assign[i]) part[j->k * 4] += 1;
        j->assign[i] = best;
        j->dmin[i] = bd;
        double w = j->pts[i].w;
        part[best * 4 + 0] += w * j->pts[i].lab[0];
        part[best * 4 + 1] += w * j->pts[i].lab[1];
        part[best * 4 + 2] += w * j->pts[i].lab[2];
        part[best * 4 + 3] += w;
    }
    return 0;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct outc {
    uint32_t rgb;
    double weight;
} outc;

static int cmp_outc(const void *a, const void *b) {
    const outc *x = a, *y = b;
    if (x->weight != y->weight) return x->weight < y->weight ? 1 : -1;
    return (x->rgb > y->rgb) - (x->rgb < y->rgb);
}

/* The k-means state shared by the steps below. */
typedef struct km_state {
    pt *pts;          /* one weighted point per occupied colour bin */
    int64_t npts;
    int *assign;      /* per point: its centre, -1 before the first pass */
    double *dmin;     /* per point: squared distance to its nearest centre */
    double (*cen)[3]; /* k centres in CIELAB, locked ones first */
    double *cw;       /* per centre: the weight it served in the last pass */
    int nc;           /* centres in use */
    int nlock;        /* the first nlock centres never move */
} km_state;

static void km_free(km_state *s) {
    free(s->pts);
    free(s->assign);
    free(s->dmin);
    free(s->cen);
    free(s->cw);
}

#define NBINS ((size_t)1 << 18) /* 6 bits per channel */

/* Bins the opaque pixels (6 bits per channel) and turns each occupied bin
 * into a point at the mean colour of its pixels, weighted by its count.
 * Allocates the per-point and per-centre arrays of s. */
static carve_status km_points(carve_ctx *ctx, const carve_image *img, int k, km_state *s) {
    size_t npx = (size_t)(img->w > 0 ? img->w : 0) * (size_t)(img->h > 0 ? img->h : 0);
    uint32_t *cnt = calloc(NBINS, sizeof *cnt);
    uint64_t *sum = calloc(NBINS * 3, sizeof *sum);
    carve_status st = CARVE_OK;
    if (!cnt || !sum) goto nomem;
    for (size_t i = 0; i < npx; i++) {
        const uint8_t *p = img->px + 4 * i;
        if (p[3] < 128) continue;
        size_t b = (size_t)(p[0] >> 2) << 12 | (size_t)(p[1] >> 2) << 6 | (size_t)(p[2] >> 2);
        if (cnt[b] == UINT32_MAX) continue; /* saturated bin: its mean is already exact enough */
        cnt[b]++;
        sum[3 * b] += p[0];
        sum[3 * b + 1] += p[1];
        sum[3 * b + 2] += p[2];
    }
    int64_t npts = 0;
    for (size_t b = 0; b < NBINS; b++) npts += cnt[b] != 0;
    if (npts == 0 && s->nlock == 0) {
        st = carve__fail(ctx, CARVE_ERR_EMPTY, "cannot choose colours: the image has no opaque pixels");
        goto done;
    }
    s->npts = npts;
    s->pts = malloc(sizeof *s->pts * (size_t)(npts ? npts : 1));
    s->assign = malloc(sizeof *s->assign * (size_t)(npts ? npts : 1));
    s->dmin = malloc(sizeof *s->dmin * (size_t)(npts ? npts : 1));
    s->cen = malloc(sizeof *s->cen * (size_t)k);
    s->cw = calloc((size_t)k, sizeof *s->cw);
    if (!s->pts || !s->assign || !s->dmin || !s->cen || !s->cw) goto nomem;
    int64_t m = 0;
    for (size_t b = 0; b < NBINS; b++) {
        if (!cnt[b]) continue;
        double c = cnt[b];
        uint8_t r = (uint8_t)lround((double)sum[3 * b] / c), g = (uint8_t)lround((double)sum[3 * b + 1] / c),
                bl = (uint8_t)lround((double)sum[3 * b + 2] / c);
        carve__rgb8_to_lab(r, g, bl, s->pts[m].lab);
        s->pts[m].w = c;
        s->assign[m] = -1;
        m++;
    }
    goto done;
nomem:
    st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (palette from image)");
done:
    free(sum);
    free(cnt);
    return st;
}

/* dmin[i] = min(dmin[i], squared distance from point i to centre q). */
static void km_lower_dmin(km_state *s, int q) {
    for (int64_t i = 0; i < s->npts; i++) {
        double d = d2(s->pts[i].lab, s->cen[q]);
        if (d < s->dmin[i]) s->dmin[i] = d;
    }
}

/* k-means++: the next centre is a point drawn with probability proportional
 * to its weight times its squared distance to the nearest centre; -1 when
 * every point already is a centre. */
static int64_t km_pp_pick(const km_state *s, uint64_t *seed) {
    double total = 0;
    for (int64_t i = 0; i < s->npts; i++) total += s->pts[i].w * (isinf(s->dmin[i]) ? 1 : s->dmin[i]);
    if (!(total > 0)) return -1;
    double r = (double)(splitmix(seed) >> 11) / 9007199254740992.0 * total, acc = 0;
    for (int64_t i = 0; i < s->npts; i++) {
        double c = s->pts[i].w * (isinf(s->dmin[i]) ? 1 : s->dmin[i]);
        acc += c;
        if (c > 0 && acc >= r) return i;
    }
    for (int64_t i = s->npts - 1; i >= 0; i--)
        if (s->dmin[i] > 0) return i;
    return -1;
}

/* Seeding: the locked colours, then k-means++ with a fixed-seed generator. */
static void km_seed(km_state *s, int k, const carve_palette *locked) {
    s->nc = 0;
    for (int i = 0; i < s->nlock; i++) carve_rgb_to_lab(locked->rgb[i], s->cen[s->nc++]);
    int kfree = k - s->nlock;
    if (kfree > s->npts) kfree = (int)s->npts; /* fewer distinct colours than asked */
    uint64_t seed = 0x6361727665ull;            /* "carve" */
    for (int64_t i = 0; i < s->npts; i++) s->dmin[i] = INFINITY;
    for (int q = 0; q < s->nc; q++) km_lower_dmin(s, q);
    while (s->nc < s->nlock + kfree) {
        int64_t pick = km_pp_pick(s, &seed);
        if (pick < 0) break; /* every point already is a centre */
        memcpy(s->cen[s->nc], s->pts[pick].lab, sizeof s->cen[s->nc]);
        km_lower_dmin(s, s->nc);
        s->nc++;
    }
}

/* An empty cluster moves to the point worst served (largest weight times
 * squared distance). */
static void km_respawn(km_state *s, int q) {
    int64_t far = 0;
    double fd = -1;
    for (int64_t i = 0; i < s->npts; i++)
        if (s->pts[i].w * s->dmin[i] > fd) {
            fd = s->pts[i].w * s->dmin[i];
            far = i;
        }
    memcpy(s->cen[q], s->pts[far].lab, sizeof s->cen[q]);
    s->dmin[far] = 0;
}

/* Lloyd iterations; locked centres stay where they are.  The chunks' partial
 * sums are added in chunk order, so the result does not depend on the
 * thread count. */
static carve_status km_lloyd(carve_ctx *ctx, km_state *s) {
    int64_t nchunks = (s->npts + PT_CHUNK - 1) / PT_CHUNK;
    int nc = s->nc;
    double *part = malloc(sizeof *part * (size_t)(nchunks ? nchunks : 1) * ((size_t)nc * 4 + 1));
    if (!part) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (palette from image)");
    km_job j = {s->pts, s->npts, s->cen, nc, s->assign, part, s->dmin};
    int threads = carve__threads(ctx);
    carve_status st = CARVE_OK;
    for (int it = 0; it < KM_ITERS && s->npts > 0 && nc > 0; it++) {
        carve__parallel_for(threads, nchunks, km_chunk, &j);
        double acc[CARVE_PALETTE_MAX * 4 + 1];
        memset(acc, 0, sizeof acc);
        for (int64_t c = 0; c < nchunks; c++)
            for (int q = 0; q < nc * 4 + 1; q++) acc[q == nc * 4 ? CARVE_PALETTE_MAX * 4 : q] += part[c * (nc * 4 + 1) + q];
        double changes = acc[CARVE_PALETTE_MAX * 4];
        for (int q = 0; q < nc; q++) s->cw[q] = acc[q * 4 + 3];
        for (int q = s->nlock; q < nc; q++) {
            if (acc[q * 4 + 3] > 0) {
                for (int c = 0; c < 3; c++) s->cen[q][c] = acc[q * 4 + c] / acc[q * 4 + 3];
            } else {
                km_respawn(s, q);
                changes += 1;
            }
        }
        st = carve__progress(ctx, 0.2 + 0.75 * (it + 1) / KM_ITERS, "palette");
        if (st) break;
        if (changes == 0 && it > 0) break;
    }
    free(part);
    return st;
}

/* The palette: locked colours first (with their names), then the rest by
 * decreasing population; centres that round to an existing colour are
 * dropped. */
static carve_status km_palette(carve_ctx *ctx, const km_state *s, int k, const carve_palette *locked,
                               carve_palette **out) {
    char name[32];
    snprintf(name, sizeof name, "auto-%d", k);
    carve_palette *pal = carve_palette_create(name);
    outc *oc = malloc(sizeof *oc * (size_t)(s->nc ? s->nc : 1));
    if (!pal || !oc) goto nomem;
    for (int i = 0; i < s->nlock; i++)
        if (carve_palette_add(pal, locked->rgb[i], locked->names[i]) == CARVE_ERR_NOMEM) goto nomem;
    int no = 0;
    for (int q = s->nlock; q < s->nc; q++) {
        uint32_t rgb;
        carve_lab_to_rgb(s->cen[q], &rgb);
        oc[no++] = (outc){rgb, s->cw[q]};
    }
    qsort(oc, (size_t)no, sizeof *oc, cmp_outc);
    for (int i = 0; i < no; i++)
        if (carve__palette_find(pal, oc[i].rgb) < 0 && carve_palette_add(pal, oc[i].rgb, NULL)) goto nomem;
    free(oc);
    *out = pal;
    return CARVE_OK;
nomem:
    free(oc);
    carve_palette_destroy(pal);
    return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (palette from image)");
}

carve_status carve_palette_from_image(carve_ctx *ctx, const carve_image *img, int k, const carve_palette *locked,
                                      carve_palette **out) {
    if (out) *out = NULL;
    if (!img || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_palette_from_image: NULL argument");
    if (k < 1 || k > CARVE_PALETTE_MAX)
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "colors %d is outside 1..%d", k, CARVE_PALETTE_MAX);
    int nlock = locked ? locked->n : 0;
    if (nlock > k)
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "%d locked colours do not fit in %d colours", nlock, k);
    carve_status st = carve__progress(ctx, 0, "palette");
    if (st) return st;
    km_state s = {.nlock = nlock};
    carve_palette *pal = NULL;
    if ((st = km_points(ctx, img, k, &s))) goto done;
    km_seed(&s, k, locked);
    if ((st = carve__progress(ctx, 0.2, "palette"))) goto done;
    if ((st = km_lloyd(ctx, &s))) goto done;
    if ((st = km_palette(ctx, &s, k, locked, &pal))) goto done;
    if ((st = carve__progress(ctx, 1, "palette"))) goto done;
    *out = pal;
    pal = NULL;
done:
    carve_palette_destroy(pal);
    km_free(&s);
    return st;
}
