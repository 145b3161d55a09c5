/* inpaint.c — exemplar inpainting (PatchMatch-style, coarse to fine).
 *
 * The mask is split into connected components; each component gets a
 * working window (its bounding box plus a margin that scales with its size),
 * and windows that overlap are merged, so each window owns its holes and
 * reads only known pixels of the input.  Per window:
 *
 *   1. an image pyramid is built (a coarse pixel is a hole only if all four
 *      children are; its colour is the mean of its known children, so no
 *      hole colour leaks into it), down to the level where the hole is about
 *      one patch across;
 *   2. the coarsest hole is initialised by onion-peel diffusion;
 *   3. at every level, from coarse to fine, a few EM iterations alternate a
 *      PatchMatch search (propagation + random search) of the nearest
 *      hole-free 7x7 source patch for every patch that overlaps the hole, and
 *      a vote: each hole pixel becomes the weighted mean of the colours the
 *      overlapping patches propose for it (weight: similarity of the match
 *      times the share of the patch that is known, so that the hole's rim
 *      follows the surroundings);
 *   4. the nearest-neighbour field is upsampled to the next finer level.
 *
 * Determinism: the search runs in fixed bands of rows; inside a band the
 * scan is sequential, across bands it reads the field as it was at the start
 * of the pass, and each band has its own PRNG seeded from (window, level,
 * iteration, pass, band).  Bands are run with carve__parallel_for, so the
 * result does not depend on the thread count.  Thin holes (no pixel more
 * than 2 px from a known one: scratches, speckle) are filled by diffusion.
 */
#include "sanitize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PR 3             /* patch radius: 7x7 patches */
#define PS (2 * PR + 1)
#define BAND 16          /* rows per search band (fixed: determinism) */
#define SEED 0x9e3779b97f4a7c15ULL

typedef struct level {
    int w, h;
    float *c;       /* 4 * w * h, 0..255 */
    uint8_t *hole;  /* w * h */
} level;

typedef struct ws {      /* per-level working state */
    level *L;
    uint8_t *valid;      /* valid source centre */
    int *vlist;          /* valid centres (indices) */
    int nvalid;
    uint8_t *target;     /* patch overlaps the hole */
    int *nnf;            /* source index per target (or -1) */
    int *nnf_prev;
    float *dist;         /* per target: patch SSD / pixels */
    float *wt;           /* per target: vote weight */
    float *conf;         /* per target: 0.02 + fraction of its patch known */
    float *newc;         /* vote output (4 per pixel) */
    float sigma2;
} ws;

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int rnd_range(uint64_t *s, int lo, int hi) { /* inclusive */
    return lo + (int)(splitmix(s) % (uint64_t)(hi - lo + 1));
}

static void level_free(level *L) {
    if (!L) return;
    free(L->c);
    free(L->hole);
    L->c = NULL;
    L->hole = NULL;
}

/* Onion-peel diffusion: fills hole pixels layer by layer with the mean of
 * their already known 8-neighbours (4-neighbours count double: rounder
 * fronts).  Each layer is the set of unknown neighbours of the previous one,
 * so the cost is linear in the level's size.  Returns false if nothing is
 * known (or on OOM; the level is then left as it was). */
static bool onion_fill(level *L) {
    int w = L->w, h = L->h;
    size_t n = (size_t)w * h;
    uint8_t *state = malloc(n); /* 0 unknown, 1 known, 2 queued */
    int *front = malloc(sizeof(int) * n), *next = malloc(sizeof(int) * n);
    float *acc = malloc(sizeof(float) * 4 * n);
    bool ok = state && front && next && acc;
    int nf = 0;
    if (ok) {
        for (size_t i = 0; i < n; i++) state[i] = !L->hole[i];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                if (state[i]) continue;
                bool near = false;
                for (int dy = -1; dy <= 1 && !near; dy++)
                    for (int dx = -1; dx <= 1 && !near; dx++) {
                        int xx = x + dx, yy = y + dy;
                        near = xx >= 0 && yy >= 0 && xx < w && yy < h && state[(size_t)yy * w + xx] == 1;
                    }
                if (near) {
                    state[i] = 2;
                    front[nf++] = (int)i;
                }
            }
        if (nf == 0) ok = false;
    }
    while (ok && nf > 0) {
        for (int f = 0; f < nf; f++) {
            int x = front[f] % w, y = front[f] / w;
            float sum[4] = {0, 0, 0, 0};
            int cnt = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    size_t j = (size_t)yy * w + xx;
                    if (state[j] != 1) continue;
                    int wt = (dx == 0 || dy == 0) ? 2 : 1;
                    for (int k = 0; k < 4; k++) sum[k] += (float)wt * L->c[4 * j + k];
                    cnt += wt;
                }
            for (int k = 0; k < 4; k++) acc[4 * (size_t)f + k] = cnt ? sum[k] / (float)cnt : 0;
        }
        int nn = 0;
        for (int f = 0; f < nf; f++) {
            memcpy(L->c + 4 * (size_t)front[f], acc + 4 * (size_t)f, 4 * sizeof(float));
            state[front[f]] = 1;
        }
        for (int f = 0; f < nf; f++) {
            int x = front[f] % w, y = front[f] / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    size_t j = (size_t)yy * w + xx;
                    if (state[j]) continue;
                    state[j] = 2;
                    next[nn++] = (int)j;
                }
        }
        int *t = front;
        front = next;
        next = t;
        nf = nn;
    }
    free(state);
    free(front);
    free(next);
    free(acc);
    return ok;
}

/* Depth of the hole: the largest chessboard distance from a hole pixel to
 * the nearest known pixel (two-pass chamfer); -1 on OOM. */
static int hole_depth(const level *L) {
    int w = L->w, h = L->h;
    int *d = malloc(sizeof(int) * (size_t)w * h);
    if (!d) return -1;
    const int inf = 1 << 29;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            int v = L->hole[i] ? inf : 0;
            if (v) {
                if (x > 0 && d[i - 1] + 1 < v) v = d[i - 1] + 1;
                if (y > 0) {
                    for (int dx = -1; dx <= 1; dx++)
                        if (x + dx >= 0 && x + dx < w && d[i - w + dx] + 1 < v) v = d[i - w + dx] + 1;
                }
            }
            d[i] = v;
        }
    int mx = 0;
    for (int y = h - 1; y >= 0; y--)
        for (int x = w - 1; x >= 0; x--) {
            size_t i = (size_t)y * w + x;
            int v = d[i];
            if (v) {
                if (x < w - 1 && d[i + 1] + 1 < v) v = d[i + 1] + 1;
                if (y < h - 1)
                    for (int dx = -1; dx <= 1; dx++)
                        if (x + dx >= 0 && x + dx < w && d[i + w + dx] + 1 < v) v = d[i + w + dx] + 1;
            }
            d[i] = v;
            if (v > mx) mx = v;
        }
    free(d);
    return mx;
}

/* Box sums of the hole mask over (2r+1)^2 windows, via an integral image. */
static int *hole_integral(const level *L) {
    int w = L->w, h = L->h;
    int *I = calloc((size_t)(w + 1) * (h + 1), sizeof(int));
    if (!I) return NULL;
    for (int y = 0; y < h; y++) {
        int row = 0;
        for (int x = 0; x < w; x++) {
            row += L->hole[(size_t)y * w + x] != 0;
            I[(size_t)(y + 1) * (w + 1) + x + 1] = I[(size_t)y * (w + 1) + x + 1] + row;
        }
    }
    return I;
}
static int box_sum(const int *I, int w, int x0, int y0, int x1, int y1) { /* inclusive, clipped by caller */
    return I[(size_t)(y1 + 1) * (w + 1) + x1 + 1] - I[(size_t)y0 * (w + 1) + x1 + 1] -
           I[(size_t)(y1 + 1) * (w + 1) + x0] + I[(size_t)y0 * (w + 1) + x0];
}

static inline float sqf(float v) { return v * v; }

/* SSD between the (clipped) target patch at p and the source patch at s,
 * with early exit once it exceeds `best`. */
static float patch_ssd(const level *L, int px, int py, int sx, int sy, float best, int *npix) {
    int w = L->w, h = L->h;
    int y0 = py - PR < 0 ? -py : -PR, y1 = py + PR >= h ? h - 1 - py : PR;
    int x0 = px - PR < 0 ? -px : -PR, x1 = px + PR >= w ? w - 1 - px : PR;
    float d = 0;
    for (int dy = y0; dy <= y1; dy++) {
        const float *a = L->c + 4 * ((size_t)(py + dy) * w + px + x0);
        const float *b = L->c + 4 * ((size_t)(sy + dy) * w + sx + x0);
        for (int dx = x0; dx <= x1; dx++, a += 4, b += 4)
            d += sqf(a[0] - b[0]) + sqf(a[1] - b[1]) + sqf(a[2] - b[2]) + sqf(a[3] - b[3]);
        if (d >= best) break;
    }
    if (npix) *npix = (y1 - y0 + 1) * (x1 - x0 + 1);
    return d;
}

static int npix_at(const level *L, int px, int py) {
    int y0 = py - PR < 0 ? 0 : py - PR, y1 = py + PR >= L->h ? L->h - 1 : py + PR;
    int x0 = px - PR < 0 ? 0 : px - PR, x1 = px + PR >= L->w ? L->w - 1 : px + PR;
    return (y1 - y0 + 1) * (x1 - x0 + 1);
}

/* One PatchMatch scan over one band of rows. */
typedef struct pm_arg {
    ws *W;
    int forward;
    uint64_t seed;
} pm_arg;

/* PatchMatch: the source centre (sx, sy) replaces *best for the target (x, y)
 * when it is valid, another, and its patch distance is lower than *bd. */
static inline void try_source(const ws *W, int x, int y, int sx, int sy, int *best, float *bd) {
    int c = sy * W->L->w + sx;
    if (c == *best || !W->valid[c]) return;
    float d = patch_ssd(W->L, x, y, sx, sy, *bd, NULL);
    if (d < *bd) {
        *bd = d;
        *best = c;
    }
}

static int pm_band(void *arg, int64_t band) {
    pm_arg *a = arg;
    ws *W = a->W;
    level *L = W->L;
    int w = L->w, h = L->h;
    int by0 = (int)band * BAND, by1 = by0 + BAND - 1;
    if (by1 >= h) by1 = h - 1;
    uint64_t rs = a->seed ^ ((uint64_t)(band + 1) * 0xd1b54a32d192ed03ULL);
    splitmix(&rs);
    int dir = a->forward ? 1 : -1;
    int maxr = w > h ? w : h;
    for (int yy = 0; yy <= by1 - by0; yy++) {
        int y = a->forward ? by0 + yy : by1 - yy;
        for (int xx = 0; xx < w; xx++) {
            int x = a->forward ? xx : w - 1 - xx;
            size_t i = (size_t)y * w + x;
            if (!W->target[i]) continue;
            int best = W->nnf[i];
            float bd = W->dist[i] * (float)npix_at(L, x, y);
            /* propagation from the previous pixel in the row and column */
            for (int k = 0; k < 2; k++) {
                int nx = k == 0 ? x - dir : x, ny = k == 0 ? y : y - dir;
                if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                size_t j = (size_t)ny * w + nx;
                if (!W->target[j]) continue;
                int s = (ny >= by0 && ny <= by1) ? W->nnf[j] : W->nnf_prev[j];
                if (s < 0) continue;
                int sx = s % w + (x - nx), sy = s / w + (y - ny);
                if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
                try_source(W, x, y, sx, sy, &best, &bd);
            }
            /* random search around the best, radius halving */
            for (int r = maxr; r >= 1; r /= 2) {
                int bx = best % w, by = best / w;
                int sx = bx + rnd_range(&rs, -r, r), sy = by + rnd_range(&rs, -r, r);
                if (sx < PR) sx = PR;
                if (sy < PR) sy = PR;
                if (sx > w - 1 - PR) sx = w - 1 - PR;
                if (sy > h - 1 - PR) sy = h - 1 - PR;
                try_source(W, x, y, sx, sy, &best, &bd);
            }
            W->nnf[i] = best;
            W->dist[i] = bd / (float)npix_at(L, x, y);
        }
    }
    return 0;
}

/* Vote: every hole pixel of one row becomes the weighted mean of the colours
 * proposed by the target patches that cover it. */
static int vote_row(void *arg, int64_t row) {
    ws *W = arg;
    level *L = W->L;
    int w = L->w, h = L->h, y = (int)row;
    for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        if (!L->hole[i]) continue;
        double s[4] = {0, 0, 0, 0}, sw = 0;
        for (int dy = -PR; dy <= PR; dy++) {
            int py = y + dy;
            if (py < 0 || py >= h) continue;
            for (int dx = -PR; dx <= PR; dx++) {
                int px = x + dx;
                if (px < 0 || px >= w) continue;
                size_t j = (size_t)py * w + px;
                if (!W->target[j] || W->nnf[j] < 0) continue;
                int sx = W->nnf[j] % w - dx, sy = W->nnf[j] / w - dy;
                if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
                if (L->hole[(size_t)sy * w + sx]) continue; /* only real pixels vote */
                double wt = W->wt[j];
                const float *c = L->c + 4 * ((size_t)sy * w + sx);
                for (int k = 0; k < 4; k++) s[k] += wt * c[k];
                sw += wt;
            }
        }
        if (sw > 0)
            for (int k = 0; k < 4; k++) W->newc[4 * i + k] = (float)(s[k] / sw);
        else
            memcpy(W->newc + 4 * i, L->c + 4 * i, 4 * sizeof(float));
    }
    return 0;
}

typedef struct dist_arg {
    ws *W;
} dist_arg;
static int dist_row(void *arg, int64_t row) {
    ws *W = arg;
    level *L = W->L;
    int w = L->w, y = (int)row;
    for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        if (!W->target[i]) continue;
        int s = W->nnf[i];
        int np;
        float d = patch_ssd(L, x, y, s % w, s / w, INFINITY, &np);
        W->dist[i] = d / (float)np;
    }
    return 0;
}

static void ws_free(ws *W) {
    free(W->valid);
    free(W->vlist);
    free(W->target);
    free(W->nnf);
    free(W->nnf_prev);
    free(W->dist);
    free(W->wt);
    free(W->conf);
    free(W->newc);
    memset(W, 0, sizeof *W);
}

/* Allocates the working state of a level: valid source centres, targets. */
static carve_status ws_init(ws *W, level *L, bool *have_sources) {
    memset(W, 0, sizeof *W);
    W->L = L;
    int w = L->w, h = L->h;
    size_t n = (size_t)w * h;
    W->valid = calloc(n, 1);
    W->vlist = malloc(sizeof(int) * n);
    W->target = calloc(n, 1);
    W->nnf = malloc(sizeof(int) * n);
    W->nnf_prev = malloc(sizeof(int) * n);
    W->dist = malloc(sizeof(float) * n);
    W->wt = malloc(sizeof(float) * n);
    W->conf = malloc(sizeof(float) * n);
    W->newc = malloc(sizeof(float) * 4 * n);
    int *I = hole_integral(L);
    if (!W->valid || !W->vlist || !W->target || !W->nnf || !W->nnf_prev || !W->dist || !W->wt || !W->conf || !W->newc || !I) {
        free(I);
        ws_free(W);
        return CARVE_ERR_NOMEM;
    }
    for (int pass = 0; pass < 2 && W->nvalid == 0; pass++)
        for (int y = PR; y < h - PR; y++)
            for (int x = PR; x < w - PR; x++) {
                size_t i = (size_t)y * w + x;
                bool ok = pass == 0 ? box_sum(I, w, x - PR, y - PR, x + PR, y + PR) == 0 : !L->hole[i];
                if (ok) {
                    W->valid[i] = 1;
                    W->vlist[W->nvalid++] = (int)i;
                }
            }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int x0 = x - PR < 0 ? 0 : x - PR, x1 = x + PR >= w ? w - 1 : x + PR;
            int y0 = y - PR < 0 ? 0 : y - PR, y1 = y + PR >= h ? h - 1 : y + PR;
            size_t i = (size_t)y * w + x;
            int holes = box_sum(I, w, x0, y0, x1, y1), area = (x1 - x0 + 1) * (y1 - y0 + 1);
            W->target[i] = holes > 0;
            W->conf[i] = 0.02f + (float)(area - holes) / (float)area;
            W->nnf[i] = -1;
        }
    free(I);
    /* a handful of sources is no exemplar: diffusion does as well, cheaply */
    *have_sources = W->nvalid >= 16;
    return CARVE_OK;
}

static void compute_sigma(ws *W) {
    level *L = W->L;
    size_t n = (size_t)L->w * L->h;
    double s = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (W->target[i] && W->nnf[i] >= 0) {
            s += W->dist[i];
            cnt++;
        }
    W->sigma2 = cnt ? (float)(s / (double)cnt) : 1.0f;
    if (W->sigma2 < 1.0f) W->sigma2 = 1.0f;
    float k = -1.0f / (2.0f * W->sigma2);
    for (size_t i = 0; i < n; i++)
        if (W->target[i] && W->nnf[i] >= 0) W->wt[i] = expf(W->dist[i] * k) * W->conf[i] + 1e-12f;
}

typedef struct win_job {
    carve_ctx *ctx;
    int threads;
    double prog_a, prog_b; /* this window's share of the progress range */
} win_job;

/* EM iterations at one level (the NNF must be initialised). */
static carve_status em_level(win_job *J, ws *W, int iters, uint64_t seed, int lvl, int nlvl) {
    level *L = W->L;
    size_t n = (size_t)L->w * L->h;
    int nbands = (L->h + BAND - 1) / BAND;
    carve__parallel_for(J->threads, L->h, dist_row, W);
    for (int it = 0; it < iters; it++) {
        for (int pass = 0; pass < 2; pass++) {
            memcpy(W->nnf_prev, W->nnf, sizeof(int) * n);
            pm_arg pa = {W, pass == 0, seed ^ ((uint64_t)(it * 2 + pass + 1) * 0x2545f4914f6cdd1dULL)};
            carve__parallel_for(J->threads, nbands, pm_band, &pa);
        }
        compute_sigma(W);
        carve__parallel_for(J->threads, L->h, vote_row, W);
        for (size_t i = 0; i < n; i++)
            if (L->hole[i]) memcpy(L->c + 4 * i, W->newc + 4 * i, 4 * sizeof(float));
        carve__parallel_for(J->threads, L->h, dist_row, W);
        double f = J->prog_a + (J->prog_b - J->prog_a) *
                                   ((double)(nlvl - 1 - lvl) + (double)(it + 1) / iters) / (double)nlvl;
        carve_status st = carve__progress(J->ctx, f, "inpaint");
        if (st) return st;
    }
    return CARVE_OK;
}

enum { MAX_LEVELS = 16 }; /* pyramid levels at the most */

/* Loads window [x0,x0+L0->w) x [y0,y0+L0->h) of img and its mask into level
 * 0; *hole_box is the larger side of the holes' bounding box (0: no hole),
 * *nknown the pixels outside the holes. */
static void window_load(level *L0, const carve_image *img, const uint8_t *mask, int x0, int y0, int *hole_box,
                        size_t *nknown) {
    int ww = L0->w, wh = L0->h;
    int hbx0 = ww, hby0 = wh, hbx1 = -1, hby1 = -1;
    *nknown = 0;
    for (int y = 0; y < wh; y++)
        for (int x = 0; x < ww; x++) {
            size_t gi = (size_t)(y + y0) * img->w + x + x0, i = (size_t)y * ww + x;
            for (int k = 0; k < 4; k++) L0->c[4 * i + k] = img->px[4 * gi + k];
            L0->hole[i] = mask[gi] != 0;
            if (mask[gi]) {
                if (x < hbx0) hbx0 = x;
                if (x > hbx1) hbx1 = x;
                if (y < hby0) hby0 = y;
                if (y > hby1) hby1 = y;
            } else
                (*nknown)++;
        }
    *hole_box = hbx1 < 0 ? 0
                : (hbx1 - hbx0 + 1) > (hby1 - hby0 + 1) ? hbx1 - hbx0 + 1
                                                        : hby1 - hby0 + 1;
}

/* Writes the filled holes of level 0 back into the window of out. */
static void window_store(const level *L0, const carve_image *img, const uint8_t *mask, int x0, int y0,
                         carve_image *out) {
    for (int y = 0; y < L0->h; y++)
        for (int x = 0; x < L0->w; x++) {
            size_t gi = (size_t)(y + y0) * img->w + x + x0, i = (size_t)y * L0->w + x;
            if (!mask[gi]) continue;
            for (int k = 0; k < 4; k++) {
                float v = L0->c[4 * i + k];
                out->px[4 * gi + k] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : (int)lrintf(v));
            }
        }
}

/* Nothing to copy from: a flat fill with the mean of what was there. */
static void flat_fill(level *L) {
    double s[4] = {0, 0, 0, 0};
    size_t n = (size_t)L->w * L->h;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) s[k] += L->c[4 * i + k];
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) L->c[4 * i + k] = (float)(s[k] / (double)n);
}

/* C = P halved: each pixel the mean of the known pixels of its 2x2 block,
 * a hole where there is none.  Returns the known pixels of C. */
static size_t level_halve(const level *P, level *C) {
    size_t ck = 0;
    for (int y = 0; y < C->h; y++)
        for (int x = 0; x < C->w; x++) {
            float s[4] = {0, 0, 0, 0};
            int cnt = 0;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int fx = 2 * x + dx, fy = 2 * y + dy;
                    if (fx >= P->w || fy >= P->h) continue;
                    size_t fi = (size_t)fy * P->w + fx;
                    if (P->hole[fi]) continue;
                    for (int k = 0; k < 4; k++) s[k] += P->c[4 * fi + k];
                    cnt++;
                }
            size_t ci = (size_t)y * C->w + x;
            C->hole[ci] = cnt == 0;
            ck += cnt > 0;
            if (cnt)
                for (int k = 0; k < 4; k++) C->c[4 * ci + k] = s[k] / (float)cnt;
        }
    return ck;
}

/* Builds coarser levels above lv[0] until the hole (larger side hb) fits a
 * patch, a level gets too small, or too little is left to copy from. */
static carve_status build_pyramid(level *lv, int *nl, int hb) {
    while (*nl < MAX_LEVELS && hb > PS) {
        level *P = &lv[*nl - 1], *C = &lv[*nl];
        int cw = (P->w + 1) / 2, ch = (P->h + 1) / 2;
        if (cw < 2 * PS + 1 || ch < 2 * PS + 1) break;
        C->w = cw;
        C->h = ch;
        C->c = calloc((size_t)cw * ch * 4, sizeof(float));
        C->hole = calloc((size_t)cw * ch, 1);
        if (!C->c || !C->hole) {
            level_free(C);
            return CARVE_ERR_NOMEM;
        }
        if (level_halve(P, C) < (size_t)(4 * PS * PS)) { /* too little left to copy from */
            level_free(C);
            break;
        }
        (*nl)++;
        hb = (hb + 1) / 2;
    }
    return CARVE_OK;
}

/* A level with no full source patch: its holes take the coarser level's
 * colours (nearest), or diffusion at the coarsest level. */
static void level_diffuse(level *L, const level *C) {
    if (!C) {
        onion_fill(L);
        return;
    }
    for (int y = 0; y < L->h; y++)
        for (int x = 0; x < L->w; x++) {
            size_t i = (size_t)y * L->w + x;
            if (L->hole[i]) memcpy(L->c + 4 * i, C->c + 4 * ((size_t)(y / 2) * C->w + x / 2), 16);
        }
}

/* Upsamples colours and the nearest-neighbour field from the coarser level's
 * state prev into W (a target whose upsampled source is not valid draws a
 * random one from rs). */
static void field_upsample(ws *W, const ws *prev, uint64_t *rs) {
    level *L = W->L, *C = prev->L;
    for (int y = 0; y < L->h; y++)
        for (int x = 0; x < L->w; x++) {
            size_t i = (size_t)y * L->w + x;
            int cx = x / 2 < C->w ? x / 2 : C->w - 1, cy = y / 2 < C->h ? y / 2 : C->h - 1;
            size_t ci = (size_t)cy * C->w + cx;
            if (L->hole[i]) memcpy(L->c + 4 * i, C->c + 4 * ci, 16);
            if (!W->target[i]) continue;
            int s = prev->target[ci] ? prev->nnf[ci] : -1;
            int cand = -1;
            if (s >= 0) {
                int sx = 2 * (s % C->w) + (x & 1), sy = 2 * (s / C->w) + (y & 1);
                if (sx < L->w && sy < L->h && W->valid[(size_t)sy * L->w + sx]) cand = sy * L->w + sx;
            }
            if (cand < 0) cand = W->vlist[rnd_range(rs, 0, W->nvalid - 1)];
            W->nnf[i] = cand;
        }
}

/* A vote with the current field, written into the holes. */
static void vote_into_holes(win_job *J, ws *W) {
    level *L = W->L;
    size_t n = (size_t)L->w * L->h;
    carve__parallel_for(J->threads, L->h, dist_row, W);
    compute_sigma(W);
    carve__parallel_for(J->threads, L->h, vote_row, W);
    for (size_t i = 0; i < n; i++)
        if (L->hole[i]) memcpy(L->c + 4 * i, W->newc + 4 * i, 16);
}

/* Coarse to fine over the pyramid lv[0..nl): diffusion at the coarsest level,
 * then at each level the field from the coarser one (random at the first)
 * and EM iterations.  W holds the working state of the current level. */
static carve_status em_pyramid(win_job *J, level *lv, int nl, uint64_t seed, ws *W) {
    onion_fill(&lv[nl - 1]);
    for (int l = nl - 1; l >= 0; l--) {
        level *L = &lv[l];
        bool have;
        ws prev = *W;
        carve_status st = ws_init(W, L, &have);
        if (st) {
            ws_free(&prev);
            return st;
        }
        if (!have) { /* no full source patch anywhere: diffusion only */
            ws_free(&prev);
            level_diffuse(L, l < nl - 1 ? &lv[l + 1] : NULL);
            ws_free(W);
            continue;
        }
        uint64_t ls = seed ^ ((uint64_t)(l + 1) * 0x632be59bd9b4e019ULL);
        uint64_t rs = ls;
        if (prev.L) {
            field_upsample(W, &prev, &rs);
            ws_free(&prev);
            /* a first vote with the upsampled field gives a sharper start */
            vote_into_holes(J, W);
        } else {
            size_t n = (size_t)L->w * L->h;
            for (size_t i = 0; i < n; i++)
                if (W->target[i]) W->nnf[i] = W->vlist[rnd_range(&rs, 0, W->nvalid - 1)];
        }
        int iters = l == nl - 1 ? 8 : l == 0 ? 3 : 5;
        st = em_level(J, W, iters, ls, l, nl);
        if (st) return st;
    }
    return CARVE_OK;
}

/* Fills level 0 (loaded, with holes and nknown > 0 known pixels; hb the
 * holes' larger side): onion diffusion for thin holes or small windows,
 * otherwise exemplar EM over a pyramid. */
static carve_status fill_level0(win_job *J, level *lv, int hb, uint64_t seed) {
    int thin = hole_depth(&lv[0]);
    if (thin < 0) return CARVE_ERR_NOMEM;
    if (thin <= 2 || lv[0].w < PS + 2 || lv[0].h < PS + 2) {
        onion_fill(&lv[0]);
        return CARVE_OK;
    }
    int nl = 1;
    carve_status st = build_pyramid(lv, &nl, hb);
    if (st) return st;
    ws W;
    memset(&W, 0, sizeof W);
    st = em_pyramid(J, lv, nl, seed, &W);
    ws_free(&W);
    return st;
}

/* Inpaints the holes of one window [x0,x1) x [y0,y1) from img into out. */
static carve_status inpaint_window(win_job *J, const carve_image *img, const uint8_t *mask, int x0, int y0,
                                   int x1, int y1, carve_image *out, uint64_t seed) {
    level lv[MAX_LEVELS];
    memset(lv, 0, sizeof lv);
    carve_status st = CARVE_OK;
    int ww = x1 - x0, wh = y1 - y0;
    level *L0 = &lv[0];
    L0->w = ww;
    L0->h = wh;
    L0->c = malloc(sizeof(float) * 4 * (size_t)ww * wh);
    L0->hole = malloc((size_t)ww * wh);
    if (!L0->c || !L0->hole) {
        st = CARVE_ERR_NOMEM;
        goto done;
    }
    int hb;
    size_t nknown;
    window_load(L0, img, mask, x0, y0, &hb, &nknown);
    if (hb == 0) goto done; /* no hole */
    if (nknown == 0)
        flat_fill(L0);
    else if ((st = fill_level0(J, lv, hb, seed)))
        goto done;
    window_store(L0, img, mask, x0, y0, out);
done:
    for (int l = 0; l < MAX_LEVELS; l++) level_free(&lv[l]);
    return st;
}

typedef struct rect {
    int x0, y0, x1, y1; /* half-open */
} rect;

static bool rect_overlap(const rect *a, const rect *b) {
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Bounding boxes of the 8-connected components of the mask. */
static carve_status mask_components(const uint8_t *mask, int w, int h, rect **out, int *nout) {
    size_t n = (size_t)w * h;
    uint8_t *seen = calloc(n, 1);
    int *stack = malloc(sizeof(int) * n);
    int cap = 16, nr = 0;
    rect *r = malloc(sizeof(rect) * (size_t)cap);
    if (!seen || !stack || !r) {
        free(seen);
        free(stack);
        free(r);
        return CARVE_ERR_NOMEM;
    }
    for (size_t s = 0; s < n; s++) {
        if (!mask[s] || seen[s]) continue;
        rect b = {w, h, -1, -1};
        int sp = 0;
        stack[sp++] = (int)s;
        seen[s] = 1;
        while (sp) {
            int i = stack[--sp];
            int x = i % w, y = i / w;
            if (x < b.x0) b.x0 = x;
            if (y < b.y0) b.y0 = y;
            if (x + 1 > b.x1) b.x1 = x + 1;
            if (y + 1 > b.y1) b.y1 = y + 1;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    size_t j = (size_t)yy * w + xx;
                    if (mask[j] && !seen[j]) {
                        seen[j] = 1;
                        stack[sp++] = (int)j;
                    }
                }
        }
        if (nr == cap) {
            cap *= 2;
            rect *nrr = realloc(r, sizeof(rect) * (size_t)cap);
            if (!nrr) {
                free(seen);
                free(stack);
                free(r);
                return CARVE_ERR_NOMEM;
            }
            r = nrr;
        }
        r[nr++] = b;
    }
    free(seen);
    free(stack);
    *out = r;
    *nout = nr;
    return CARVE_OK;
}

carve_status carve__inpaint(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out) {
    if (out) *out = NULL;
    if (!ctx || !img || !mask || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "inpaint: NULL argument");
    carve_image *res = carve_image_copy(img);
    if (!res) return carve__fail(ctx, CARVE_ERR_NOMEM, "inpaint: out of memory (%dx%d image)", img->w, img->h);
    int w = img->w, h = img->h;
    if (w == 0 || h == 0) {
        *out = res;
        return CARVE_OK;
    }
    rect *r = NULL;
    int nr = 0;
    carve_status st = mask_components(mask, w, h, &r, &nr);
    if (st) {
        carve_image_destroy(res);
        return carve__fail(ctx, st, "inpaint: out of memory labelling the mask");
    }
    /* working windows: component box + margin; overlapping windows merge */
    if (nr > 4096) { /* pathological speckle: one window around everything */
        rect u = r[0];
        for (int i = 1; i < nr; i++) {
            if (r[i].x0 < u.x0) u.x0 = r[i].x0;
            if (r[i].y0 < u.y0) u.y0 = r[i].y0;
            if (r[i].x1 > u.x1) u.x1 = r[i].x1;
            if (r[i].y1 > u.y1) u.y1 = r[i].y1;
        }
        r[0] = u;
        nr = 1;
    }
    for (int i = 0; i < nr; i++) {
        int bw = r[i].x1 - r[i].x0, bh = r[i].y1 - r[i].y0;
        /* half the hole's larger side: near sources match best (measured
         * on plate-sized holes in the sample photos) */
        int m = (bw > bh ? bw : bh) / 2;
        m = m < 24 ? 24 : m > 400 ? 400 : m;
        m += PR + 2;
        r[i].x0 = r[i].x0 - m < 0 ? 0 : r[i].x0 - m;
        r[i].y0 = r[i].y0 - m < 0 ? 0 : r[i].y0 - m;
        r[i].x1 = r[i].x1 + m > w ? w : r[i].x1 + m;
        r[i].y1 = r[i].y1 + m > h ? h : r[i].y1 + m;
    }
    for (bool merged = true; merged;) {
        merged = false;
        for (int i = 0; i < nr; i++)
            for (int j = i + 1; j < nr; j++)
                if (rect_overlap(&r[i], &r[j])) {
                    if (r[j].x0 < r[i].x0) r[i].x0 = r[j].x0;
                    if (r[j].y0 < r[i].y0) r[i].y0 = r[j].y0;
                    if (r[j].x1 > r[i].x1) r[i].x1 = r[j].x1;
                    if (r[j].y1 > r[i].y1) r[i].y1 = r[j].y1;
                    r[j] = r[--nr];
                    j--;
                    merged = true;
                }
    }
    /* a fixed order (top-left first) keeps seeds independent of labelling */
    for (int i = 1; i < nr; i++)
        for (int j = i; j > 0 && (r[j].y0 < r[j - 1].y0 || (r[j].y0 == r[j - 1].y0 && r[j].x0 < r[j - 1].x0)); j--) {
            rect t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    double total = 0;
    for (int i = 0; i < nr; i++) total += (double)(r[i].x1 - r[i].x0) * (r[i].y1 - r[i].y0);
    double done = 0;
    win_job J = {ctx, carve__threads(ctx), 0, 0};
    st = carve__progress(ctx, 0, "inpaint");
    for (int i = 0; i < nr && !st; i++) {
        double a = (double)(r[i].x1 - r[i].x0) * (r[i].y1 - r[i].y0);
        J.prog_a = done / total;
        J.prog_b = (done + a) / total;
        uint64_t seed = SEED ^ ((uint64_t)r[i].x0 * 0x100000001b3ULL) ^ ((uint64_t)r[i].y0 << 32);
        st = inpaint_window(&J, img, mask, r[i].x0, r[i].y0, r[i].x1, r[i].y1, res, seed);
        done += a;
        if (st == CARVE_ERR_NOMEM)
            carve__fail(ctx, st, "inpaint: out of memory on a %dx%d window", r[i].x1 - r[i].x0, r[i].y1 - r[i].y0);
    }
    if (!st) st = carve__progress(ctx, 1, "inpaint");
    free(r);
    if (st) {
        carve_image_destroy(res);
        return st;
    }
    *out = res;
    return CARVE_OK;
}
