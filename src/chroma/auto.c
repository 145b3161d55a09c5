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

    size_t npx = (size_t)(img->w > 0 ? img->w : 0) * (size_t)(img->h > 0 ? img->h : 0);
    const size_t NB = (size_t)1 << 18;
    uint32_t *cnt = calloc(NB, sizeof *cnt);
    uint64_t *sum = calloc(NB * 3, sizeof *sum);
    pt *pts = NULL;
    int *assign = NULL;
    double *part = NULL, *dmin = NULL;
    double(*cen)[3] = NULL;
    double *cw = NULL;
    carve_palette *pal = NULL;
    outc *oc = NULL;
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
    for (size_t b = 0; b < NB; b++) npts += cnt[b] != 0;
    if (npts == 0 && nlock == 0) {
        st = carve__fail(ctx, CARVE_ERR_EMPTY, "cannot choose colours: the image has no opaque pixels");
        goto done;
    }
    pts = malloc(sizeof *pts * (size_t)(npts ? npts : 1));
    assign = malloc(sizeof *assign * (size_t)(npts ? npts : 1));
    dmin = malloc(sizeof *dmin * (size_t)(npts ? npts : 1));
    cen = malloc(sizeof *cen * (size_t)k);
    cw = calloc((size_t)k, sizeof *cw);
    if (!pts || !assign || !dmin || !cen || !cw) goto nomem;
    int64_t m = 0;
    for (size_t b = 0; b < NB; b++) {
        if (!cnt[b]) continue;
        double c = cnt[b];
        uint8_t r = (uint8_t)lround((double)sum[3 * b] / c), g = (uint8_t)lround((double)sum[3 * b + 1] / c),
                bl = (uint8_t)lround((double)sum[3 * b + 2] / c);
        carve__rgb8_to_lab(r, g, bl, pts[m].lab);
        pts[m].w = c;
        assign[m] = -1;
        m++;
    }
    free(sum);
    sum = NULL;
    free(cnt);
    cnt = NULL;

    /* seeding: locked colours, then k-means++ (deterministic generator) */
    int nc = 0;
    for (int i = 0; i < nlock; i++) carve_rgb_to_lab(locked->rgb[i], cen[nc++]);
    int kfree = k - nlock;
    if (kfree > npts) kfree = (int)npts; /* fewer distinct colours than asked */
    uint64_t seed = 0x6361727665ull;     /* "carve" */
    for (int64_t i = 0; i < npts; i++) dmin[i] = INFINITY;
    for (int q = 0; q < nc; q++)
        for (int64_t i = 0; i < npts; i++) {
            double d = d2(pts[i].lab, cen[q]);
            if (d < dmin[i]) dmin[i] = d;
        }
    while (nc < nlock + kfree) {
        double total = 0;
        for (int64_t i = 0; i < npts; i++) total += pts[i].w * (isinf(dmin[i]) ? 1 : dmin[i]);
        int64_t pick = -1;
        if (total > 0) {
            double r = (double)(splitmix(&seed) >> 11) / 9007199254740992.0 * total, acc = 0;
            for (int64_t i = 0; i < npts; i++) {
                double c = pts[i].w * (isinf(dmin[i]) ? 1 : dmin[i]);
                acc += c;
                if (c > 0 && acc >= r) {
                    pick = i;
                    break;
                }
            }
            if (pick < 0)
                for (int64_t i = npts - 1; i >= 0; i--)
                    if (dmin[i] > 0) {
                        pick = i;
                        break;
                    }
        }
        if (pick < 0) break; /* every point already is a centre */
        memcpy(cen[nc], pts[pick].lab, sizeof cen[nc]);
        for (int64_t i = 0; i < npts; i++) {
            double d = d2(pts[i].lab, cen[nc]);
            if (d < dmin[i]) dmin[i] = d;
        }
        nc++;
    }
    st = carve__progress(ctx, 0.2, "palette");
    if (st) goto done;

    /* Lloyd iterations; locked centres stay where they are */
    int64_t nchunks = (npts + PT_CHUNK - 1) / PT_CHUNK;
    part = malloc(sizeof *part * (size_t)(nchunks ? nchunks : 1) * ((size_t)nc * 4 + 1));
    if (!part) goto nomem;
    km_job j = {pts, npts, cen, nc, assign, part, dmin};
    int threads = carve__threads(ctx);
    for (int it = 0; it < KM_ITERS && npts > 0 && nc > 0; it++) {
        carve__parallel_for(threads, nchunks, km_chunk, &j);
        double acc[CARVE_PALETTE_MAX * 4 + 1];
        memset(acc, 0, sizeof acc);
        for (int64_t c = 0; c < nchunks; c++)
            for (int q = 0; q < nc * 4 + 1; q++) acc[q == nc * 4 ? CARVE_PALETTE_MAX * 4 : q] += part[c * (nc * 4 + 1) + q];
        double changes = acc[CARVE_PALETTE_MAX * 4];
        for (int q = 0; q < nc; q++) cw[q] = acc[q * 4 + 3];
        for (int q = nlock; q < nc; q++) {
            if (acc[q * 4 + 3] > 0) {
                for (int c = 0; c < 3; c++) cen[q][c] = acc[q * 4 + c] / acc[q * 4 + 3];
            } else {
                /* empty cluster: move it to the point worst served */
                int64_t far = 0;
                double fd = -1;
                for (int64_t i = 0; i < npts; i++)
                    if (pts[i].w * dmin[i] > fd) {
                        fd = pts[i].w * dmin[i];
                        far = i;
                    }
                memcpy(cen[q], pts[far].lab, sizeof cen[q]);
                dmin[far] = 0;
                changes += 1;
            }
        }
        st = carve__progress(ctx, 0.2 + 0.75 * (it + 1) / KM_ITERS, "palette");
        if (st) goto done;
        if (changes == 0 && it > 0) break;
    }

    /* the palette: locked colours first (with their names), then the rest by
     * decreasing population; centres that round to an existing colour are
     * dropped */
    char name[32];
    snprintf(name, sizeof name, "auto-%d", k);
    pal = carve_palette_create(name);
    oc = malloc(sizeof *oc * (size_t)(nc ? nc : 1));
    if (!pal || !oc) goto nomem;
    for (int i = 0; i < nlock; i++)
        if (carve_palette_add(pal, locked->rgb[i], locked->names[i]) == CARVE_ERR_NOMEM) goto nomem;
    int no = 0;
    for (int q = nlock; q < nc; q++) {
        uint32_t rgb;
        carve_lab_to_rgb(cen[q], &rgb);
        oc[no++] = (outc){rgb, cw[q]};
    }
    qsort(oc, (size_t)no, sizeof *oc, cmp_outc);
    for (int i = 0; i < no; i++)
        if (carve__palette_find(pal, oc[i].rgb) < 0 && carve_palette_add(pal, oc[i].rgb, NULL)) goto nomem;
    st = carve__progress(ctx, 1, "palette");
    if (st) goto done;
    *out = pal;
    pal = NULL;
    goto done;
nomem:
    st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (palette from image)");
done:
    carve_palette_destroy(pal);
    free(oc);
    free(cnt);
    free(sum);
    free(pts);
    free(assign);
    free(dmin);
    free(part);
    free(cen);
    free(cw);
    return st;
}
