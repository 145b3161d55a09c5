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

#define MATTE_SIDE 400   /* long side of the fine working image */
#define MATTE_COARSE 200 /* long side of the coarse level (GMM iterations) */
#define MATTE_BAND 3.0   /* unknown band of the fine cut: +-(this many coarse px + 1) */
#define MATTE_K 5        /* GMM components per model */
#define MATTE_ITERS 4    /* GMM fit + graph cut rounds */
#define MATTE_GAMMA 25.0 /* smoothness weight (nats per unit contrast weight) */
#define MATTE_PRIOR 4.0  /* spatial prior slope (nats per unit of normalised radius) */
#define MATTE_HARD (1 << 28) /* "infinite" terminal capacity */

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
        for (int a = 0; a < 3; a++) cov[a][a] += 4.0; /* regularise: noise floor (Lab units^2) */
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

/* ---- guided-filter upsampling ----------------------------------------------
 * Fast guided filter (He & Sun 2015): the linear coefficients a, b of the
 * guided filter (He, Sun & Tang 2010; grey guide) are computed at the fine
 * working size, upsampled bilinearly, and applied to the full-resolution
 * grey image: q = A * I + B.  The matte's edge thus snaps to the photo's
 * edges at full resolution for the cost of one pass over the pixels. */
static inline float luma01(const uint8_t *p) {
    return (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) * (1.0f / 255.0f);
}

typedef struct gf_job {
    const carve_image *img;
    const float *A, *B; /* low-res coefficient planes */
    int lw, lh;
    uint8_t *alpha;
} gf_job;

static int gf_apply_row(void *arg, int64_t yy) {
    const gf_job *j = arg;
    int w = j->img->w, h = j->img->h, y = (int)yy;
    double fy = ((double)y + 0.5) * j->lh / h - 0.5;
    if (fy < 0) fy = 0;
    int y0 = (int)fy, y1 = y0 + 1 < j->lh ? y0 + 1 : j->lh - 1;
    float ty = (float)(fy - y0);
    const float *a0 = j->A + (size_t)y0 * (size_t)j->lw, *a1 = j->A + (size_t)y1 * (size_t)j->lw;
    const float *b0 = j->B + (size_t)y0 * (size_t)j->lw, *b1 = j->B + (size_t)y1 * (size_t)j->lw;
    for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * (size_t)w + (size_t)x;
        double fx = ((double)x + 0.5) * j->lw / w - 0.5;
        if (fx < 0) fx = 0;
        int x0 = (int)fx, x1 = x0 + 1 < j->lw ? x0 + 1 : j->lw - 1;
        float tx = (float)(fx - x0);
        float A = (1 - ty) * ((1 - tx) * a0[x0] + tx * a0[x1]) + ty * ((1 - tx) * a1[x0] + tx * a1[x1]);
        float B = (1 - ty) * ((1 - tx) * b0[x0] + tx * b0[x1]) + ty * ((1 - tx) * b1[x0] + tx * b1[x1]);
        float q = A * luma01(j->img->px + 4 * i) + B;
        float v = (q - 0.5f) * 3.0f + 0.5f; /* steep ramp: a 1-2 px soft edge */
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        j->alpha[i] = (uint8_t)(v * 255.0f + 0.5f);
    }
    return 0;
}

/* grey: the fine level's grey (0..1), p its binary matte (0/1) */
static carve_status guided_upsample(carve_ctx *ctx, const carve_image *img, const float *grey, const float *p,
                                    int lw, int lh, uint8_t *alpha) {
    int threads = carve__threads(ctx);
    size_t n = (size_t)lw * (size_t)lh;
    float *buf = malloc(7 * n * sizeof(float));
    if (!buf) return carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for %dx%d", img->w, img->h);
    float *mI = buf, *mp = buf + n, *mII = buf + 2 * n, *mIp = buf + 3 * n, *tmp = buf + 4 * n, *A = buf + 5 * n,
          *B = buf + 6 * n;
    const int r = 2;
    const float eps = 2e-3f;
    carve__steer_boxmean(grey, mI, tmp, lw, lh, r, threads);
    carve__steer_boxmean(p, mp, tmp, lw, lh, r, threads);
    for (size_t i = 0; i < n; i++) mII[i] = grey[i] * grey[i];
    carve__steer_boxmean(mII, mII, tmp, lw, lh, r, threads);
    for (size_t i = 0; i < n; i++) mIp[i] = grey[i] * p[i];
    carve__steer_boxmean(mIp, mIp, tmp, lw, lh, r, threads);
    /* a = cov(I,p) / (var(I) + eps), b = mean(p) - a mean(I) */
    for (size_t i = 0; i < n; i++) {
        float var = mII[i] - mI[i] * mI[i], cov = mIp[i] - mI[i] * mp[i];
        float a = cov / (var + eps);
        mII[i] = a;
        mIp[i] = mp[i] - a * mI[i];
    }
    carve__steer_boxmean(mII, A, tmp, lw, lh, r, threads);
    carve__steer_boxmean(mIp, B, tmp, lw, lh, r, threads);
    gf_job gj = {img, A, B, lw, lh, alpha};
    carve__parallel_for(threads, img->h, gf_apply_row, &gj);
    free(buf);
    return CARVE_OK;
}

static bool has_alpha(const carve_image *img) {
    size_t n = (size_t)img->w * (size_t)img->h, lowa = 0, opaque = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = img->px[4 * i + 3];
        lowa += a < 255;
        opaque += a >= 128;
    }
    return lowa * 1000 >= n && opaque > 0;
}

/* ---- the matte -------------------------------------------------------------- */
enum { T_UNKNOWN = 0, T_BG = 1, T_FG = 2 };

typedef struct matte_level {
    int w, h, n;
    float *col;       /* colours (2L, a, b) of the working image */
    float *grey;      /* luma 0..1 (the guided filter's guide) */
    uint8_t *hard;    /* T_UNKNOWN / T_BG / T_FG */
    uint8_t *lab;     /* current labels: 1 foreground */
    float *prior_fg, *prior_bg; /* spatial prior costs (nats) */
    float *wt;        /* 4 smoothness weights per pixel: E, SE, S, SW */
} matte_level;

static void level_free(matte_level *m) {
    free(m->col);
    free(m->grey);
    free(m->hard);
    free(m->lab);
    free(m->prior_fg);
    free(m->prior_bg);
    free(m->wt);
}

/* E, SE, S, SW: the grid directions 0..3 of the max-flow graph */
static const int NB_DX[4] = {1, 1, 0, -1}, NB_DY[4] = {0, 1, 1, 1};

static double coldist2(const float *a, const float *b) {
    return (double)(a[0] - b[0]) * (a[0] - b[0]) + (double)(a[1] - b[1]) * (a[1] - b[1]) +
           (double)(a[2] - b[2]) * (a[2] - b[2]);
}

/* Allocates a level for img resized to long side `side`, with its colours,
 * spatial priors and contrast-sensitive smoothness weights. */
static bool level_init(matte_level *m, const carve_image *img, int side) {
    memset(m, 0, sizeof *m);
    int W = img->w, H = img->h, L = W > H ? W : H;
    int w = W, h = H;
    if (L > side) {
        w = (int)lround((double)W * side / L);
        h = (int)lround((double)H * side / L);
        if (w < 1) w = 1;
        if (h < 1) h = 1;
    }
    m->w = w;
    m->h = h;
    m->n = w * h;
    size_t n = (size_t)m->n;
    carve_image *small = (w == W && h == H) ? NULL : carve__steer_resize(img, w, h);
    const carve_image *src = small ? small : img;
    m->col = malloc(3 * n * sizeof(float));
    m->grey = malloc(n * sizeof(float));
    m->hard = calloc(n, 1);
    m->lab = calloc(n, 1);
    m->prior_fg = malloc(n * sizeof(float));
    m->prior_bg = malloc(n * sizeof(float));
    m->wt = malloc(4 * n * sizeof(float));
    if ((w != W || h != H) && !small) return false;
    if (!m->col || !m->grey || !m->hard || !m->lab || !m->prior_fg || !m->prior_bg || !m->wt) {
        carve_image_destroy(small);
        return false;
    }
    /* colours in CIELAB (L doubled so that lightness, which separates a
     * vehicle's paint from its surroundings best, weighs a little more) */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = src->px + 4 * i;
        double lv[3];
        carve__rgb8_to_lab(p[0], p[1], p[2], lv);
        for (int c = 0; c < 3; c++) m->col[3 * i + (size_t)c] = (float)(lv[c] * (c ? 1.0 : 2.0));
        m->grey[i] = luma01(p);
    }
    carve_image_destroy(small);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double dx = (x + 0.5 - w / 2.0) / (w / 2.0), dy = (y + 0.5 - h / 2.0) / (h / 2.0);
            double r = sqrt(dx * dx + dy * dy);
            /* r = 1 on the ellipse through the middles of the sides */
            m->prior_fg[i] = (float)(r > 0.8 ? MATTE_PRIOR * (r - 0.8) : 0.0);
            m->prior_bg[i] = (float)(r < 0.5 ? MATTE_PRIOR * (0.5 - r) : 0.0);
        }
    double sum = 0;
    long cnt = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int d = 0; d < 4; d++) {
                int qx = x + NB_DX[d], qy = y + NB_DY[d];
                if (qx < 0 || qx >= w || qy >= h) continue;
                sum += coldist2(m->col + 3 * ((size_t)y * w + x), m->col + 3 * ((size_t)qy * w + qx));
                cnt++;
            }
    double beta = cnt && sum > 0 ? 1.0 / (2.0 * sum / cnt) : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int d = 0; d < 4; d++) {
                int qx = x + NB_DX[d], qy = y + NB_DY[d];
                float *out = &m->wt[4 * ((size_t)y * w + x) + d];
                if (qx < 0 || qx >= w || qy >= h) {
                    *out = 0;
                    continue;
                }
                double dd = coldist2(m->col + 3 * ((size_t)y * w + x), m->col + 3 * ((size_t)qy * w + qx));
                *out = (float)(MATTE_GAMMA / ((d & 1) ? M_SQRT2 : 1.0) * exp(-beta * dd));
            }
    return true;
}

/* energies (nats) to integer capacities */
#define MATTE_CAP_SCALE 64.0

static carve_status graph_cut(carve_ctx *ctx, matte_level *m, const gmm *fg, const gmm *bg) {
    int n = m->n;
    carve__mf *g = carve__mf_create(m->w, m->h);
    if (!g) return carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for the graph");
    for (int i = 0; i < n; i++) {
        if (m->hard[i] == T_BG) {
            carve__mf_tweights(g, i, 0, MATTE_HARD);
        } else if (m->hard[i] == T_FG) {
            carve__mf_tweights(g, i, MATTE_HARD, 0);
        } else {
            const float *c = m->col + 3 * (size_t)i;
            double dfg = gmm_nll(fg, c, NULL) + m->prior_fg[i];
            double dbg = gmm_nll(bg, c, NULL) + m->prior_bg[i];
            /* source = foreground: cutting source->i (i in background) costs dbg */
            double mn = dfg < dbg ? dfg : dbg;
            carve__mf_tweights(g, i, (int32_t)lrint((dbg - mn) * MATTE_CAP_SCALE),
                               (int32_t)lrint((dfg - mn) * MATTE_CAP_SCALE));
        }
    }
    for (int i = 0; i < n; i++)
        for (int d = 0; d < 4; d++) {
            /* two hard pixels of the same kind: no need for an edge */
            int32_t c = (int32_t)lrint(m->wt[4 * (size_t)i + (size_t)d] * MATTE_CAP_SCALE);
            if (c > 0) carve__mf_edge(g, i, d, c, c);
        }
    carve_status st = carve__mf_solve(g, ctx, NULL);
    if (!st)
        for (int i = 0; i < n; i++) m->lab[i] = carve__mf_source_side(g, i) ? 1 : 0;
    carve__mf_destroy(g);
    return st;
}

carve_status carve__matte_classical(carve_ctx *ctx, const carve_image *img, uint8_t **alpha) {
    if (!alpha) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "matte: alpha is NULL");
    *alpha = NULL;
    if (!img || !img->px) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "matte: no image");
    if (img->w <= 0 || img->h <= 0) return carve__fail(ctx, CARVE_ERR_EMPTY, "matte: empty %dx%d image", img->w, img->h);
    size_t N = (size_t)img->w * (size_t)img->h;
    uint8_t *out = malloc(N);
    if (!out) return carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for %dx%d", img->w, img->h);
    if (has_alpha(img)) { /* the input is already cut out */
        for (size_t i = 0; i < N; i++) out[i] = img->px[4 * i + 3];
        *alpha = out;
        return carve__progress(ctx, 1, "matte");
    }
    carve_status st = carve__progress(ctx, 0, "matte");
    if (st) {
        free(out);
        return st;
    }
    matte_level c, f;  /* coarse and fine levels */
    memset(&f, 0, sizeof f);
    gmm fg, bg;
    uint8_t *init = NULL, *clab = NULL;
    int *idx = NULL;
    float *lo = NULL;
    if (!level_init(&c, img, MATTE_COARSE)) goto oom;
    size_t n = (size_t)c.n;
    int w = c.w, h = c.h;
    init = malloc(n);
    idx = malloc(N < n ? n * sizeof(int) : N * sizeof(int));
    clab = malloc(N < n ? n : N);
    if (!init || !idx || !clab) goto oom;
    /* trimap: a border band is background for sure; the first foreground
     * model comes from a central box, the first background model from the band */
    int band = (int)lround(0.02 * (w > h ? w : h));
    if (band < 1) band = 1;
    bool can_band = w > 2 * band + 2 && h > 2 * band + 2;
    int fx0 = (int)(0.25 * w), fx1 = (int)ceil(0.75 * w), fy0 = (int)(0.30 * h), fy1 = (int)ceil(0.80 * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            bool border = x < band || y < band || x >= w - band || y >= h - band;
            c.hard[i] = border && can_band ? T_BG : T_UNKNOWN;
            init[i] = border ? 0 : (x >= fx0 && x < fx1 && y >= fy0 && y < fy1) ? 1 : 2;
        }
    gmm_fit(&bg, c.col, init, 0, c.n, true, idx, clab);
    gmm_fit(&fg, c.col, init, 1, c.n, true, idx, clab);
    if ((st = carve__progress(ctx, 0.05, "matte"))) goto done;
    for (int it = 0; it < MATTE_ITERS; it++) {
        if (it > 0) {
            gmm_fit(&bg, c.col, c.lab, 0, c.n, false, idx, clab);
            gmm_fit(&fg, c.col, c.lab, 1, c.n, false, idx, clab);
        }
        if ((st = graph_cut(ctx, &c, &fg, &bg))) goto done;
        if ((st = carve__progress(ctx, 0.05 + 0.5 * (it + 1) / MATTE_ITERS, "matte"))) goto done;
    }
    if (!cleanup(c.lab, w, h)) goto oom;

    /* fine level: only a band around the coarse boundary is unknown */
    if (!level_init(&f, img, MATTE_SIDE)) goto oom;
    {
        int fw = f.w, fh = f.h;
        int rad = (int)ceil(MATTE_BAND * (double)fw / w) + 1;
        /* coarse labels upsampled (nearest), then the band: pixels with a
         * pixel of the other label within rad (separable max/min filter) */
        uint8_t *up = malloc((size_t)f.n), *tmp = malloc((size_t)f.n);
        if (!up || !tmp) {
            free(up);
            free(tmp);
            goto oom;
        }
        for (int y = 0; y < fh; y++) {
            int cy = (int)(((int64_t)y * h) / fh);
            for (int x = 0; x < fw; x++) up[(size_t)y * fw + x] = c.lab[(size_t)cy * w + (size_t)((int64_t)x * w / fw)];
        }
        /* tmp = 1 if the row window holds both labels; then columns */
        for (int y = 0; y < fh; y++)
            for (int x = 0; x < fw; x++) {
                int any0 = 0, any1 = 0;
                for (int t = x - rad; t <= x + rad; t++) {
                    if (t < 0 || t >= fw) continue;
                    if (up[(size_t)y * fw + t]) any1 = 1;
                    else any0 = 1;
                }
                tmp[(size_t)y * fw + x] = (uint8_t)(any0 | (any1 << 1));
            }
        for (int y = 0; y < fh; y++)
            for (int x = 0; x < fw; x++) {
                int m2 = 0;
                for (int t = y - rad; t <= y + rad; t++)
                    if (t >= 0 && t < fh) m2 |= tmp[(size_t)t * fw + x];
                size_t i = (size_t)y * fw + x;
                f.hard[i] = m2 == 3 ? T_UNKNOWN : up[i] ? T_FG : T_BG;
                f.lab[i] = up[i];
            }
        /* the image border stays background */
        int fb = (int)lround(0.02 * (fw > fh ? fw : fh));
        if (can_band)
            for (int y = 0; y < fh; y++)
                for (int x = 0; x < fw; x++)
                    if (x < fb || y < fb || x >= fw - fb || y >= fh - fb) f.hard[(size_t)y * fw + x] = T_BG;
        free(up);
        free(tmp);
    }
    gmm_fit(&bg, f.col, f.lab, 0, f.n, false, idx, clab);
    gmm_fit(&fg, f.col, f.lab, 1, f.n, false, idx, clab);
    if ((st = graph_cut(ctx, &f, &fg, &bg))) goto done;
    if ((st = carve__progress(ctx, 0.75, "matte"))) goto done;
    if (!cleanup(f.lab, f.w, f.h)) goto oom;
    lo = malloc((size_t)f.n * sizeof(float));
    if (!lo) goto oom;
    for (int i = 0; i < f.n; i++) lo[i] = f.lab[i] ? 1.0f : 0.0f;
    if ((st = guided_upsample(ctx, img, f.grey, lo, f.w, f.h, out))) goto done;
    st = carve__progress(ctx, 1, "matte");
    goto done;
oom:
    st = carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for %dx%d", img->w, img->h);
done:
    level_free(&c);
    level_free(&f);
    free(init);
    free(idx);
    free(clab);
    free(lo);
    if (st) free(out);
    else *alpha = out;
    return st;
}
