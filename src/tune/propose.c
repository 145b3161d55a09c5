/* propose.c — where the tuner looks next (docs/tune.md, "The optimiser").
 *
 * Configuration c is proposed right before it is evaluated at the smallest
 * rung, from the rung-0 scores of configurations 0..c-1 and the seeded
 * random generator only, so the sequence is a pure function of the seed and
 * the scores (what resume relies on).  Two phases:
 *
 *  1. a structured design (the first ceil(n * DESIGN_SHARE) configurations):
 *     the base options, the built-in presets, then coordinate sweeps from the
 *     best configuration so far over the options that change the look most —
 *     `colors` on a log grid first, then `mode`, then `flatten`;
 *  2. model-based local search: CANDIDATES local steps around the elites
 *     (1..LOCAL_DIMS options moved), the one a Tree-structured Parzen
 *     Estimator rates best is evaluated: per option, a kernel density of the
 *     good configurations (best GOOD_SHARE) over one of the others, the
 *     ratio summed in logs over the options. */
#include "tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DESIGN_SHARE (1.0 / 3)   /* of the configurations: the structured design */
#define ELITES 3                 /* local steps start from the best so many */
#define P_BEST_PARENT 0.5        /* ... from the best this often */
#define SIGMA_START 0.25         /* local step (unit cube), shrinking to SIGMA_END */
#define SIGMA_END 0.08
#define LOCAL_DIMS 3             /* a local step moves 1..LOCAL_DIMS options */
#define CANDIDATES 24            /* local steps rated by the model per proposal */
#define GOOD_SHARE 0.25          /* the "good" side of the Parzen estimator */
#define GOOD_MIN 3
#define BANDWIDTH 0.12           /* Gaussian kernel width on the unit interval */
#define PRIOR_WEIGHT 1.0         /* a uniform prior, as one more point */
#define DEDUP_TRIES 16           /* redraws of a proposal that repeats a configuration */

static const char *const presets[] = {"illustration", "poster", "detailed"};
#define NPRESETS ((int)(sizeof presets / sizeof presets[0]))
/* coordinate sweeps, in order: option, values (options' own units; enums by index) */
static const double colors_grid[] = {4, 8, 32, 6, 11, 23, 3};
static const double mode_grid[] = {0, 1, 2};
static const double flatten_grid[] = {0, 2.5, 5};
typedef struct sweep { const char *key; const double *v; int n; } sweep;
static const sweep sweeps[] = {
    {"colors", colors_grid, (int)(sizeof colors_grid / sizeof colors_grid[0])},
    {"mode", mode_grid, (int)(sizeof mode_grid / sizeof mode_grid[0])},
    {"flatten", flatten_grid, (int)(sizeof flatten_grid / sizeof flatten_grid[0])},
};
#define NSWEEPS ((int)(sizeof sweeps / sizeof sweeps[0]))

typedef struct rank_item { double score; int idx; } rank_item;

static int cmp_rank(const void *a, const void *b) {
    const rank_item *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->idx - y->idx;
}

int carve__tune_rank(const carve_tuner *t, int n, int r, int *out) {
    rank_item *items = malloc((size_t)(n > 0 ? n : 1) * sizeof *items);
    if (!items) return -1;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(t->cfg[i].score[r])) items[m++] = (rank_item){t->cfg[i].score[r], i};
    qsort(items, (size_t)m, sizeof *items, cmp_rank);
    for (int i = 0; i < m; i++) out[i] = items[i].idx;
    free(items);
    return m;
}

/* The best configuration among 0..c-1 at rung 0 (0 when none). */
static int best_so_far(const carve_tuner *t, int c) {
    int best = 0;
    for (int i = 1; i < c; i++)
        if (t->cfg[i].score[0] < t->cfg[best].score[0]) best = i;
    return best;
}

/* True when configuration c writes the same options as an earlier one. */
static bool seen_before(const carve_tuner *t, int c) {
    char *a = carve__tune_json(&t->sp, t->cfg[c].u);
    bool same = false;
    for (int i = 0; a && i < c && !same; i++) {
        char *b = carve__tune_json(&t->sp, t->cfg[i].u);
        same = b && !strcmp(a, b);
        free(b);
    }
    free(a);
    return same;
}

static int dim_index(const tune_space *sp, const char *key) {
    for (int d = 0; d < sp->n; d++)
        if (!strcmp(sp->dim[d].key, key)) return d;
    return -1;
}

/* Unit-cube coordinate of value v of dimension d (enums: choice index). */
static double unit_of(const tune_dim *d, double v) {
    if (d->kind == TUNE_ENUM || d->kind == TUNE_BOOL) {
        int n = d->kind == TUNE_BOOL ? 2 : d->nchoices;
        return (v + 0.5) / n;
    }
    double u = d->log ? (log1p(v) - log1p(d->lo)) / (log1p(d->hi) - log1p(d->lo)) : (v - d->lo) / (d->hi - d->lo);
    return u < 0 ? 0 : u > 1 ? 1 : u;
}

/* Design entry e written into configuration c; false when e does not exist
 * in this build (a preset or option missing). */
static bool design_entry(carve_tuner *t, int e, int c) {
    if (e < NPRESETS) {
        carve_ctx *ctx = carve_ctx_clone(t->base);
        bool ok = ctx && carve_ctx_apply_preset(ctx, presets[e]) == CARVE_OK;
        if (ok) carve__tune_encode(&t->sp, ctx, t->cfg[c].u);
        carve_ctx_destroy(ctx);
        return ok;
    }
    e -= NPRESETS;
    for (int k = 0; k < NSWEEPS; e -= sweeps[k].n, k++) {
        if (e >= sweeps[k].n) continue;
        int d = dim_index(&t->sp, sweeps[k].key);
        if (d < 0) return false;
        memcpy(t->cfg[c].u, t->cfg[best_so_far(t, c)].u, sizeof t->cfg[c].u);
        t->cfg[c].u[d] = unit_of(&t->sp.dim[d], sweeps[k].v[e]);
        return true;
    }
    return false;
}

static int design_entries(void) {
    int n = NPRESETS;
    for (int k = 0; k < NSWEEPS; k++) n += sweeps[k].n;
    return n;
}

/* Next design entry that gives a configuration not tried yet; false when
 * the design is exhausted. */
static bool next_design(carve_tuner *t, int c) {
    while (t->design_next < design_entries()) {
        int e = t->design_next++;
        if (design_entry(t, e, c) && !seen_before(t, c)) return true;
    }
    return false;
}

static double reflect(double v) {
    while (v < 0 || v > 1) v = v < 0 ? -v : 2 - v;
    return v >= 1 ? 1 - 1e-9 : v;
}

/* A point near one of the elites: 1..LOCAL_DIMS options moved. */
static void local_step(const carve_tuner *t, tune_rng *rng, const int *order, int m, double sigma, double *u) {
    int k = m < ELITES ? m : ELITES;
    int pick = carve__rng_unit(rng) < P_BEST_PARENT ? 0 : (int)(carve__rng_next(rng) % (uint64_t)(k > 0 ? k : 1));
    memcpy(u, t->cfg[k > 0 ? order[pick] : 0].u, sizeof t->cfg[0].u);
    int moves = 1 + (int)(carve__rng_next(rng) % LOCAL_DIMS);
    for (int i = 0; i < moves; i++) {
        int d = (int)(carve__rng_next(rng) % (uint64_t)t->sp.n);
        const tune_dim *dim = &t->sp.dim[d];
        double g = carve__rng_gauss(rng);
        if (dim->kind == TUNE_ENUM || dim->kind == TUNE_BOOL) u[d] = carve__rng_unit(rng);
        else u[d] = reflect(u[d] + sigma * g);
    }
}

/* Parzen density of dimension d at x over configurations idx[0..n-1]. */
static double parzen(const carve_tuner *t, int d, double x, const int *idx, int n) {
    const tune_dim *dim = &t->sp.dim[d];
    if (dim->kind == TUNE_ENUM || dim->kind == TUNE_BOOL) {
        int nc = dim->kind == TUNE_BOOL ? 2 : dim->nchoices;
        int cx = (int)fmin(nc - 1, floor(x * nc)), hits = 0;
        for (int i = 0; i < n; i++) hits += (int)fmin(nc - 1, floor(t->cfg[idx[i]].u[d] * nc)) == cx;
        return (hits + PRIOR_WEIGHT / nc) / (n + PRIOR_WEIGHT);
    }
    double sum = PRIOR_WEIGHT; /* uniform density 1 on [0,1] */
    for (int i = 0; i < n; i++) {
        double z = (x - t->cfg[idx[i]].u[d]) / BANDWIDTH;
        sum += exp(-0.5 * z * z) / (BANDWIDTH * sqrt(2 * M_PI));
    }
    return sum / (n + PRIOR_WEIGHT);
}

/* log l(u) / g(u) summed over the options (independent Parzen estimators). */
static double tpe_score(const carve_tuner *t, const double *u, const int *order, int m, int ngood) {
    double s = 0;
    for (int d = 0; d < t->sp.n; d++)
        s += log(parzen(t, d, u[d], order, ngood)) - log(parzen(t, d, u[d], order + ngood, m - ngood));
    return s;
}

/* Model-based local search: the best-rated of CANDIDATES local steps. */
static void model_step(carve_tuner *t, tune_rng *rng, int c, double sigma) {
    int *order = malloc((size_t)c * sizeof *order);
    int m = order ? carve__tune_rank(t, c, 0, order) : -1;
    int ngood = (int)ceil(m * GOOD_SHARE);
    if (ngood < GOOD_MIN) ngood = GOOD_MIN;
    double best = -INFINITY, u[TUNE_MAX_DIMS];
    for (int k = 0; k < CANDIDATES; k++) {
        local_step(t, rng, order, m, sigma, u);
        double s = m > ngood ? tpe_score(t, u, order, m, ngood) : 0;
        if (k == 0 || s > best) {
            best = s;
            memcpy(t->cfg[c].u, u, sizeof u);
        }
    }
    free(order);
}

int carve__tune_design_size(int n) {
    int k = (int)ceil(n * DESIGN_SHARE);
    return k < 1 ? 1 : k > n ? n : k;
}

void carve__tune_propose(carve_tuner *t, tune_rng *rng, int c, int n) {
    int ndesign = carve__tune_design_size(n);
    if (c == 0) { /* the base options: the default look */
        t->design_next = 0;
        carve__tune_encode(&t->sp, t->base, t->cfg[0].u);
        return;
    }
    if (c < ndesign && next_design(t, c)) return;
    int nlocal = n - ndesign;
    double progress = nlocal > 1 ? (double)(c - ndesign) / (nlocal - 1) : 1;
    if (progress < 0) progress = 0;
    double sigma = SIGMA_START + (SIGMA_END - SIGMA_START) * progress;
    for (int tries = 0; tries < DEDUP_TRIES; tries++) {
        model_step(t, rng, c, sigma);
        if (!seen_before(t, c)) break;
    }
}
