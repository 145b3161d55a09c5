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
    uint8_t *outside; /* seeded: 1 outside the subject box (only those feed the background model) */
} matte_level;

static void level_free(matte_level *m) {
    free(m->col);
    free(m->grey);
    free(m->hard);
    free(m->lab);
    free(m->prior_fg);
    free(m->prior_bg);
    free(m->wt);
    free(m->outside);
}

/* E, SE, S, SW: the grid directions 0..3 of the max-flow graph */
static const int NB_DX[4] = {1, 1, 0, -1}, NB_DY[4] = {0, 1, 1, 1};

static double coldist2(const float *a, const float *b) {
    return (double)(a[0] - b[0]) * (a[0] - b[0]) + (double)(a[1] - b[1]) * (a[1] - b[1]) +
           (double)(a[2] - b[2]) * (a[2] - b[2]);
}

/* The spatial prior: an ellipse in the image's pixels; being foreground
 * costs MATTE_PRIOR per unit of normalised radius beyond r_fg, being
 * background costs the same inside r_bg. */
typedef struct matte_prior {
    double cx, cy, rx, ry;
    double r_fg, r_bg;
} matte_prior;

/* Allocates a level for img resized to long side `side`, with its colours,
 * spatial priors and contrast-sensitive smoothness weights. */
static bool level_init(matte_level *m, const carve_image *img, int side, const matte_prior *pr) {
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
    carve_image *small = NULL; /* core's resampler, area average down */
    if ((w != W || h != H) && carve__resize(NULL, img, w, h, CARVE_KERNEL_AREA, &small)) small = NULL;
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
            double dx = ((x + 0.5) * W / w - pr->cx) / pr->rx, dy = ((y + 0.5) * H / h - pr->cy) / pr->ry;
            double r = sqrt(dx * dx + dy * dy);
            /* r = 1 on the prior's ellipse */
            m->prior_fg[i] = (float)(r > pr->r_fg ? MATTE_PRIOR * (r - pr->r_fg) : 0.0);
            m->prior_bg[i] = (float)(r < pr->r_bg ? MATTE_PRIOR * (pr->r_bg - r) : 0.0);
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

/* ---- seeds ------------------------------------------------------------------
 * A crop seed is the subject in the pixels of the image being matted (a crop
 * around one subject box): sure background outside `grow`, in the other
 * objects' boxes outside `box`, and in the central strip of each occluder;
 * costs against foreground for occluders' boxes and for shadow-like pixels
 * in the bottom band of the box. */
#define SEED_GROW 0.06         /* sure background beyond the box grown by this share of its size + 3 px */
#define SEED_OUT_COST 5.0      /* nats against foreground just outside the box (the detector's box is tight) ... */
#define SEED_OUT_SLOPE 5.0     /* ... plus this much more at the sure-background line (linear in between) */
#define SEED_GROW_BOTTOM 0.015 /* ... but only this much below it: the ground under the wheels */
#define SEED_CROP 0.25         /* the crop: the box grown by this share (background context for the models) */
#define SEED_INIT_SHRINK 0.15  /* first foreground model: the box shrunk by this share per side */
#define SHADOW_BAND 0.12       /* bottom share of the box where ground shadow shows between the wheels */
#define SHADOW_L 45.0          /* shadow-like: L* below this ... */
#define SHADOW_C 14.0          /* ... and chroma below this */
#define SHADOW_COST 2.5        /* nats against foreground for a shadow-like pixel */
#define PERSON_COST 1.5        /* nats against foreground inside an occluder's box */
#define PERSON_CORE 0.17       /* occluder core: the central +-17 % of its width is background for sure */
#define WHEEL_COST 4.0         /* two-wheelers: nats against background inside the wheel discs */
#define GROUND_C 24.0          /* ... (chroma below this: floors and tarmac, also warm grey ones) */
#define GROUND_BAND 0.3        /* two-wheelers: grey pixels in this bottom share, outside the wheels, cost foreground */
#define WHEEL_R 0.27           /* ... discs of this share of the box height, centred at the lower corners */

typedef struct crop_seed {
    carve__box box, grow;    /* crop pixels */
    carve__box *bg;          /* other objects (crop pixels) */
    int nbg;
    carve__box *occ;         /* occluders to remove (crop pixels) */
    int nocc;
    bool point;              /* unseeded matte centred on (px, py) with a sure-foreground disc */
    int px, py;
    bool two_wheeler;        /* motorcycle, bicycle: the wheels sit in the lower corners of the box */
} crop_seed;

static bool in_box(const carve__box *b, double x, double y) {
    return x >= b->x && y >= b->y && x < b->x + b->w && y < b->y + b->h;
}

static bool in_core(const carve__box *o, double x, double y) {
    double cx = o->x + o->w / 2.0;
    return fabs(x - cx) <= PERSON_CORE * o->w && y >= o->y + 0.03 * o->h && y < o->y + 0.98 * o->h;
}

/* Sure background from the seed (both levels, after the trimap). */
static void seed_hard(matte_level *m, const crop_seed *cs, int W, int H) {
    if (cs->point) {
        double r = 0.02 * (W > H ? W : H) + 1;
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++) {
                double ix = (x + 0.5) * W / m->w - cs->px, iy = (y + 0.5) * H / m->h - cs->py;
                if (ix * ix + iy * iy <= r * r) m->hard[(size_t)y * m->w + x] = T_FG;
            }
        return;
    }
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) {
            double ix = (x + 0.5) * W / m->w, iy = (y + 0.5) * H / m->h;
            bool bg = !in_box(&cs->grow, ix, iy);
            for (int k = 0; k < cs->nbg && !bg; k++) bg = in_box(&cs->bg[k], ix, iy) && !in_box(&cs->box, ix, iy);
            for (int k = 0; k < cs->nocc && !bg; k++) bg = in_core(&cs->occ[k], ix, iy);
            if (bg) m->hard[(size_t)y * m->w + x] = T_BG;
        }
}

/* Being foreground outside the box: a detector's box is tight, so what
 * shows in the margin between it and the sure-background line is most
 * likely background (a kerb, a window sill, a shelf); the margin is only
 * there for a box that cuts the vehicle a little, where the colour models
 * then have to be clearly for the vehicle. */
static double outside_cost(const carve__box *b, double x, double y) {
    double ox = x < b->x ? b->x - x : x >= b->x + b->w ? x - (b->x + b->w) : 0;
    double oy = y < b->y ? b->y - y : y >= b->y + b->h ? y - (b->y + b->h) : 0;
    double d = fmax(ox / b->w, oy / b->h) / SEED_GROW; /* 1 at the sure-background line (sides, top) */
    return SEED_OUT_COST + SEED_OUT_SLOPE * fmin(d, 1.0);
}

/* Costs against foreground: outside the box, occluders' boxes, shadow-like pixels. */
static bool seed_costs(matte_level *m, const crop_seed *cs, int W, int H) {
    if (cs->point) return true;
    const carve__box *b = &cs->box;
    m->outside = malloc((size_t)m->n);
    if (!m->outside) return false;
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) {
            size_t i = (size_t)y * m->w + x;
            double ix = (x + 0.5) * W / m->w, iy = (y + 0.5) * H / m->h;
            m->outside[i] = !in_box(b, ix, iy);
            if (m->outside[i]) m->prior_fg[i] += (float)outside_cost(b, ix, iy);
            for (int k = 0; k < cs->nocc; k++) m->outside[i] |= in_core(&cs->occ[k], ix, iy);
            for (int k = 0; k < cs->nocc; k++)
                if (in_box(&cs->occ[k], ix, iy)) m->prior_fg[i] += (float)PERSON_COST;
            /* a two-wheeler's tyres are dark like the ground under them: the
             * wheels' places (lower corners of a side view) favour foreground */
            if (cs->two_wheeler) {
                double r = WHEEL_R * b->h, wy = b->y + b->h - r;
                bool wheel = false;
                for (int side = 0; side < 2; side++) {
                    double wx = side ? b->x + b->w - r : b->x + r;
                    wheel |= (ix - wx) * (ix - wx) + (iy - wy) * (iy - wy) <= r * r;
                }
                if (wheel) m->prior_bg[i] += (float)WHEEL_COST;
                /* the floor seen between the wheels: grey, low in the box */
                const float *c = m->col + 3 * i;
                if (!wheel && iy >= b->y + (1 - GROUND_BAND) * b->h && hypot(c[1], c[2]) < GROUND_C)
                    m->prior_fg[i] += (float)SHADOW_COST;
                continue;
            }
            /* ground shadow between the wheels: dark, grey, low in the box */
            if (iy >= b->y + (1 - SHADOW_BAND) * b->h && fabs(ix - (b->x + b->w / 2.0)) <= 0.25 * b->w) {
                const float *c = m->col + 3 * i;
                double L = c[0] / 2, C = sqrt((double)c[1] * c[1] + (double)c[2] * c[2]);
                if (L < SHADOW_L && C < SHADOW_C) m->prior_fg[i] += (float)SHADOW_COST;
            }
        }
    return true;
}

/* Refits both models on the current labels.  Seeded, the background model
 * learns only from outside the subject box: inside it, a part of the
 * vehicle once cut away (a white cab against a white sky) would otherwise
 * teach the background model the vehicle's colours. */
static void refit(matte_level *m, gmm *fg, gmm *bg, uint8_t *tmp, int *idx, uint8_t *clab) {
    if (m->outside) {
        for (int i = 0; i < m->n; i++) tmp[i] = m->lab[i] == 0 && m->outside[i] ? 0 : 1;
        gmm_fit(bg, m->col, tmp, 0, m->n, false, idx, clab);
    } else {
        gmm_fit(bg, m->col, m->lab, 0, m->n, false, idx, clab);
    }
    gmm_fit(fg, m->col, m->lab, 1, m->n, false, idx, clab);
}

/* ---- the matte -------------------------------------------------------------- */

/* The trimap of the coarse level: without a box, the border band is sure
 * background and the first foreground model comes from a central box; with
 * a box, outside the grown box is sure background, the first background
 * model comes from everything outside the box (as in GrabCut: the margin
 * holds the kerb or the sill next to the vehicle, which the background
 * model must know from the start) and the first foreground model from the
 * box shrunk.  init: 0 first background, 1 first foreground,
 * 2 neither. */
static void coarse_trimap(matte_level *c, const crop_seed *cs, int W, int H, uint8_t *init, bool *can_band) {
    int w = c->w, h = c->h;
    int band = (int)lround(0.02 * (w > h ? w : h));
    if (band < 1) band = 1;
    *can_band = !cs && w > 2 * band + 2 && h > 2 * band + 2;
    if (cs && !cs->point) {
        const carve__box *b = &cs->box;
        double sx = SEED_INIT_SHRINK * b->w, sy = SEED_INIT_SHRINK * b->h;
        carve__box in = {(int)(b->x + sx), (int)(b->y + sy), (int)(b->w - 2 * sx), (int)(b->h - 2 * sy), 0, ""};
        for (int i = 0; i < c->n; i++) c->hard[i] = T_UNKNOWN;
        seed_hard(c, cs, W, H);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                double ix = (x + 0.5) * W / w, iy = (y + 0.5) * H / h;
                init[i] = c->hard[i] == T_BG || !in_box(b, ix, iy) ? 0 : in_box(&in, ix, iy) ? 1 : 2;
            }
        return;
    }
    int fx0 = (int)(0.25 * w), fx1 = (int)ceil(0.75 * w), fy0 = (int)(0.30 * h), fy1 = (int)ceil(0.80 * h);
    bool band_ok = w > 2 * band + 2 && h > 2 * band + 2;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            bool border = x < band || y < band || x >= w - band || y >= h - band;
            c->hard[i] = border && band_ok ? T_BG : T_UNKNOWN;
            init[i] = border ? 0 : (x >= fx0 && x < fx1 && y >= fy0 && y < fy1) ? 1 : 2;
        }
    *can_band = band_ok;
    if (cs) seed_hard(c, cs, W, H);
}

/* The fine level's trimap: the coarse labels upsampled; only a band around
 * the coarse boundary stays unknown. */
static bool fine_trimap(matte_level *f, const matte_level *c, const crop_seed *cs, int W, int H, bool can_band) {
    int fw = f->w, fh = f->h, w = c->w, h = c->h;
    int rad = (int)ceil(MATTE_BAND * (double)fw / w) + 1;
    uint8_t *up = malloc((size_t)f->n), *tmp = malloc((size_t)f->n);
    if (!up || !tmp) {
        free(up);
        free(tmp);
        return false;
    }
    for (int y = 0; y < fh; y++) {
        int cy = (int)(((int64_t)y * h) / fh);
        for (int x = 0; x < fw; x++) up[(size_t)y * fw + x] = c->lab[(size_t)cy * w + (size_t)((int64_t)x * w / fw)];
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
            f->hard[i] = m2 == 3 ? T_UNKNOWN : up[i] ? T_FG : T_BG;
            f->lab[i] = up[i];
        }
    /* the image border stays background (unseeded) */
    int fb = (int)lround(0.02 * (fw > fh ? fw : fh));
    if (can_band)
        for (int y = 0; y < fh; y++)
            for (int x = 0; x < fw; x++)
                if (x < fb || y < fb || x >= fw - fb || y >= fh - fb) f->hard[(size_t)y * fw + x] = T_BG;
    if (cs) seed_hard(f, cs, W, H);
    free(up);
    free(tmp);
    return true;
}

/* Mattes img (whole, or a crop around one subject) into out (w*h). */
static carve_status matte_run(carve_ctx *ctx, const carve_image *img, const crop_seed *cs, const matte_prior *pr,
                              uint8_t *out) {
    size_t N = (size_t)img->w * (size_t)img->h;
    int W = img->w, H = img->h;
    carve_status st = CARVE_OK;
    matte_level c, f; /* coarse and fine levels */
    memset(&f, 0, sizeof f);
    gmm fg, bg;
    uint8_t *init = NULL, *clab = NULL;
    int *idx = NULL;
    float *lo = NULL;
    if (!level_init(&c, img, MATTE_COARSE, pr)) goto oom;
    if (cs && !seed_costs(&c, cs, W, H)) goto oom;
    size_t n = (size_t)c.n;
    init = malloc(N < n ? n : N);
    idx = malloc(N < n ? n * sizeof(int) : N * sizeof(int));
    clab = malloc(N < n ? n : N);
    if (!init || !idx || !clab) goto oom;
    bool can_band;
    coarse_trimap(&c, cs, W, H, init, &can_band);
    gmm_fit(&bg, c.col, init, 0, c.n, true, idx, clab);
    gmm_fit(&fg, c.col, init, 1, c.n, true, idx, clab);
    if ((st = carve__progress(ctx, 0.05, "matte"))) goto done;
    for (int it = 0; it < MATTE_ITERS; it++) {
        if (it > 0) refit(&c, &fg, &bg, init, idx, clab);
        if ((st = graph_cut(ctx, &c, &fg, &bg))) goto done;
        if ((st = carve__progress(ctx, 0.05 + 0.5 * (it + 1) / MATTE_ITERS, "matte"))) goto done;
    }
    if (!cleanup(c.lab, c.w, c.h)) goto oom;
    if (!level_init(&f, img, MATTE_SIDE, pr)) goto oom;
    if (cs && !seed_costs(&f, cs, W, H)) goto oom;
    if (!fine_trimap(&f, &c, cs, W, H, can_band)) goto oom;
    refit(&f, &fg, &bg, init, idx, clab);
    if ((st = graph_cut(ctx, &f, &fg, &bg))) goto done;
    if ((st = carve__progress(ctx, 0.75, "matte"))) goto done;
    if (!cleanup(f.lab, f.w, f.h)) goto oom;
    lo = malloc((size_t)f.n * sizeof(float));
    if (!lo) goto oom;
    for (int i = 0; i < f.n; i++) lo[i] = f.lab[i] ? 1.0f : 0.0f;
    st = guided_upsample(ctx, img, f.grey, lo, f.w, f.h, out);
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
    return st;
}

static carve_status matte_checks(carve_ctx *ctx, const carve_image *img, uint8_t **alpha) {
    if (!alpha) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "matte: alpha is NULL");
    *alpha = NULL;
    if (!img || !img->px) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "matte: no image");
    if (img->w <= 0 || img->h <= 0) return carve__fail(ctx, CARVE_ERR_EMPTY, "matte: empty %dx%d image", img->w, img->h);
    return CARVE_OK;
}

static carve_status matte_whole(carve_ctx *ctx, const carve_image *img, const crop_seed *cs, uint8_t **alpha) {
    carve_status st = matte_checks(ctx, img, alpha);
    if (st) return st;
    size_t N = (size_t)img->w * (size_t)img->h;
    uint8_t *out = malloc(N);
    if (!out) return carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for %dx%d", img->w, img->h);
    if (has_alpha(img)) { /* the input is already cut out */
        carve__image_alpha(img, out);
        *alpha = out;
        return carve__progress(ctx, 1, "matte");
    }
    matte_prior pr = {img->w / 2.0, img->h / 2.0, img->w / 2.0, img->h / 2.0, 0.8, 0.5};
    if (cs) { /* a point: the prior's centre moves there */
        pr.cx = cs->px;
        pr.cy = cs->py;
    }
    if (!(st = carve__progress(ctx, 0, "matte"))) st = matte_run(ctx, img, cs, &pr, out);
    if (!st) st = carve__progress(ctx, 1, "matte");
    if (st) free(out);
    else *alpha = out;
    return st;
}

carve_status carve__matte_classical(carve_ctx *ctx, const carve_image *img, uint8_t **alpha) {
    return matte_whole(ctx, img, NULL, alpha);
}

static carve__box box_grow(const carve__box *b, double fx, double fy_top, double fy_bottom, int pad, int W, int H) {
    int x0 = carve__clampi((int)floor(b->x - fx * b->w) - pad, 0, W);
    int y0 = carve__clampi((int)floor(b->y - fy_top * b->h) - pad, 0, H);
    int x1 = carve__clampi((int)ceil(b->x + b->w + fx * b->w) + pad, 0, W);
    int y1 = carve__clampi((int)ceil(b->y + b->h + fy_bottom * b->h) + pad, 0, H);
    return (carve__box){x0, y0, x1 - x0, y1 - y0, b->score, ""};
}

static carve__box box_shift(carve__box b, int dx, int dy) {
    b.x -= dx;
    b.y -= dy;
    return b;
}

static carve__box box_union(const carve__box *a, const carve__box *b) {
    int x0 = a->x < b->x ? a->x : b->x, y0 = a->y < b->y ? a->y : b->y;
    int x1 = a->x + a->w > b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h > b->y + b->h ? a->y + a->h : b->y + b->h;
    return (carve__box){x0, y0, x1 - x0, y1 - y0, a->score, ""};
}

static bool boxes_touch(const carve__box *a, const carve__box *b) {
    return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

/* Mattes one subject box in its crop and ORs the result into out. */
static carve_status matte_subject(carve_ctx *ctx, const carve_image *img, const carve__matte_seed *seed, int k,
                                  uint8_t *out) {
    int W = img->w, H = img->h;
    carve__box box = seed->subject[k];
    /* occluders=keep: persons touching the subject become part of it */
    for (int j = 0; j < seed->noccluders && seed->keep_occluders; j++)
        if (boxes_touch(&box, &seed->occluders[j])) box = box_union(&box, &seed->occluders[j]);
    carve__box grow = box_grow(&box, SEED_GROW, SEED_GROW, SEED_GROW_BOTTOM, 3, W, H);
    carve__box crop = box_grow(&box, SEED_CROP, SEED_CROP, SEED_CROP, 4, W, H);
    if (crop.w < 4 || crop.h < 4) return CARVE_OK;
    carve_image *ci = carve__crop(img, crop.x, crop.y, crop.w, crop.h);
    uint8_t *ca = malloc((size_t)crop.w * crop.h);
    crop_seed cs = {box_shift(box, crop.x, crop.y), box_shift(grow, crop.x, crop.y), NULL, 0, NULL, 0, false, 0, 0, false};
    cs.two_wheeler = !strcmp(seed->subject[k].kind, "motorcycle") || !strcmp(seed->subject[k].kind, "bicycle");
    cs.bg = malloc((size_t)(seed->nothers + seed->nsubject + 1) * sizeof *cs.bg);
    cs.occ = malloc((size_t)(seed->noccluders + 1) * sizeof *cs.occ);
    carve_status st = CARVE_OK;
    if (!ci || !ca || !cs.bg || !cs.occ) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for a %dx%d crop", crop.w, crop.h);
        goto done;
    }
    for (int j = 0; j < seed->nothers; j++) cs.bg[cs.nbg++] = box_shift(seed->others[j], crop.x, crop.y);
    for (int j = 0; j < seed->noccluders && !seed->keep_occluders; j++)
        cs.occ[cs.nocc++] = box_shift(seed->occluders[j], crop.x, crop.y);
    matte_prior pr = {cs.box.x + cs.box.w / 2.0, cs.box.y + cs.box.h / 2.0, cs.box.w / 2.0, cs.box.h / 2.0, 1.05, 0.5};
    carve__range r = carve__progress_push(ctx, (double)k / seed->nsubject, (double)(k + 1) / seed->nsubject);
    st = matte_run(ctx, ci, &cs, &pr, ca);
    carve__progress_pop(ctx, r);
    if (!st)
        for (int y = 0; y < crop.h; y++) {
            uint8_t *o = out + (size_t)(crop.y + y) * W + crop.x;
            const uint8_t *a = ca + (size_t)y * crop.w;
            for (int x = 0; x < crop.w; x++)
                if (a[x] > o[x]) o[x] = a[x];
        }
done:
    carve_image_destroy(ci);
    free(ca);
    free(cs.bg);
    free(cs.occ);
    return st;
}

carve_status carve__matte_seeded(carve_ctx *ctx, const carve_image *img, const carve__matte_seed *seed,
                                 uint8_t **alpha) {
    if (!seed || (!seed->nsubject && !seed->has_point)) return matte_whole(ctx, img, NULL, alpha);
    if (!seed->nsubject) {
        if (seed->px < 0 || seed->py < 0 || (img && (seed->px >= img->w || seed->py >= img->h)))
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "matte: seed point %d,%d outside the image", seed->px,
                               seed->py);
        crop_seed cs = {{0, 0, 0, 0, 0, ""}, {0, 0, 0, 0, 0, ""}, NULL, 0, NULL, 0, true, seed->px, seed->py, false};
        return matte_whole(ctx, img, &cs, alpha);
    }
    carve_status st = matte_checks(ctx, img, alpha);
    if (st) return st;
    size_t N = (size_t)img->w * (size_t)img->h;
    uint8_t *out = calloc(N, 1);
    if (!out) return carve__fail(ctx, CARVE_ERR_NOMEM, "matte: out of memory for %dx%d", img->w, img->h);
    st = carve__progress(ctx, 0, "matte");
    for (int k = 0; k < seed->nsubject && !st; k++) st = matte_subject(ctx, img, seed, k, out);
    if (!st) st = carve__progress(ctx, 1, "matte");
    if (st) free(out);
    else *alpha = out;
    return st;
}
