/* tune.c — the tuner's handle and its search loop: every configuration
 * proposed (propose.c: presets and coordinate sweeps, then model-based local
 * steps) and evaluated at the smallest work size, then successive halving
 * (the best third promoted to each larger work size).  See docs/tune.md. */
#include "tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRIALS_DEFAULT 40
#define TRIALS_MAX 10000
#define PAIRS_MIN 2
#define PAIRS_MAX 1000
#define ETA 3                  /* successive halving: keep the best 1/ETA */
#define PREPARE_SHARE 0.1      /* of the progress range */

carve_tuner *carve_tuner_create(const carve_ctx *base) {
    carve_tuner *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->base = base ? carve_ctx_clone(base) : carve_ctx_create();
    if (!t->base) {
        free(t);
        return NULL;
    }
    carve__tune_space(&t->sp);
    t->trials = TRIALS_DEFAULT;
    t->seed = 1;
    t->best_cfg = -1;
    t->best_rung = -1;
    atomic_init(&t->cancel, 0);
    return t;
}

static void free_pair(tune_pair *p) {
    free(p->name);
    carve_image_destroy(p->photo);
    carve_image_destroy(p->ref);
    for (int r = 0; r < TUNE_RUNGS; r++) {
        carve_image_destroy(p->in[r]);
        carve_image_destroy(p->rf[r]);
    }
}

void carve_tuner_destroy(carve_tuner *t) {
    if (!t) return;
    for (int i = 0; i < t->npairs; i++) free_pair(&t->pairs[i]);
    free(t->pairs);
    free(t->cfg);
    free(t->restored);
    carve_ctx_destroy(t->base);
    free(t);
}

const char *carve_tuner_errmsg(const carve_tuner *t) { return t ? carve_ctx_errmsg(t->base) : ""; }

carve_status carve_tuner_add_pair(carve_tuner *t, const char *name, const carve_image *photo,
                                  const carve_image *ref) {
    if (!t) return CARVE_ERR_INVALID_ARG;
    if (!photo || !ref || !name) return carve__fail(t->base, CARVE_ERR_INVALID_ARG, "tuner: NULL pair argument");
    if (photo->w <= 0 || photo->h <= 0 || ref->w <= 0 || ref->h <= 0)
        return carve__fail(t->base, CARVE_ERR_EMPTY, "pair '%s': an image has no pixels", name);
    if (t->npairs >= PAIRS_MAX) return carve__fail(t->base, CARVE_ERR_TOO_LARGE, "tuner: at most %d pairs", PAIRS_MAX);
    if (t->npairs == t->cap) {
        int cap = t->cap ? 2 * t->cap : 8;
        tune_pair *np = realloc(t->pairs, (size_t)cap * sizeof *np);
        if (!np) return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
        t->pairs = np;
        t->cap = cap;
    }
    tune_pair *p = &t->pairs[t->npairs];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->photo = carve_image_copy(photo);
    p->ref = carve_image_copy(ref);
    if (!p->name || !p->photo || !p->ref) {
        free_pair(p);
        return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
    }
    t->npairs++;
    t->prepared = false;
    return CARVE_OK;
}

carve_status carve_tuner_configure(carve_tuner *t, int trials, double time_limit, uint64_t seed, int threads) {
    if (!t) return CARVE_ERR_INVALID_ARG;
    if (trials < 1 || trials > TRIALS_MAX)
        return carve__fail(t->base, CARVE_ERR_OUT_OF_RANGE, "trials: %d is out of range (allowed 1..%d)", trials,
                           TRIALS_MAX);
    if (!(time_limit >= 0) || !isfinite(time_limit))
        return carve__fail(t->base, CARVE_ERR_OUT_OF_RANGE, "time limit: %g is not a number of seconds >= 0", time_limit);
    if (threads < 0 || threads > 256)
        return carve__fail(t->base, CARVE_ERR_OUT_OF_RANGE, "threads: %d is out of range (allowed 0..256)", threads);
    t->trials = trials;
    t->time_limit = time_limit;
    t->seed = seed;
    t->threads = threads;
    return CARVE_OK;
}

void carve_tuner_set_callback(carve_tuner *t, carve_tune_fn fn, void *user) {
    if (!t) return;
    t->cb = fn;
    t->cb_user = user;
}

void carve_tuner_set_log(carve_tuner *t, carve_log_fn fn, void *user) {
    if (!t) return;
    t->log = fn;
    t->log_user = user;
}

carve_status carve_tuner_restore(carve_tuner *t, int index, double score) {
    if (!t) return CARVE_ERR_INVALID_ARG;
    if (index != t->nrestored || !isfinite(score) || score < 0)
        return carve__fail(t->base, CARVE_ERR_INVALID_ARG, "restore: expected trial %d with a score >= 0, got %d",
                           t->nrestored, index);
    if (t->nrestored == t->restored_cap) {
        int cap = t->restored_cap ? 2 * t->restored_cap : 64;
        double *nr = realloc(t->restored, (size_t)cap * sizeof *nr);
        if (!nr) return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
        t->restored = nr;
        t->restored_cap = cap;
    }
    t->restored[t->nrestored++] = score;
    return CARVE_OK;
}

void carve_tuner_cancel(carve_tuner *t) {
    if (t) atomic_store(&t->cancel, 1);
}

carve_status carve_tuner_best(const carve_tuner *t, char **json, double *score) {
    if (json) *json = NULL;
    if (!t || !json) return CARVE_ERR_INVALID_ARG;
    if (t->best_cfg < 0) return carve__fail(t->base, CARVE_ERR_NOT_FOUND, "no trial has finished yet");
    *json = carve__tune_json(&t->sp, t->cfg[t->best_cfg].u);
    if (score) *score = t->best_score;
    return *json ? CARVE_OK : carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
}

/* ---- the search ------------------------------------------------------------- */

/* Number of configurations evaluated at each rung. */
static void rung_counts(int n, int counts[TUNE_RUNGS]) {
    counts[0] = n;
    for (int r = 1; r < TUNE_RUNGS; r++) {
        int c = (counts[r - 1] + ETA - 1) / ETA;
        counts[r] = c < 1 ? 1 : c;
    }
}

static double rung_cost(const carve_tuner *t, int r) {
    double f = carve__tune_rung_fraction(r);
    (void)t;
    return f * f;
}

static void update_best(carve_tuner *t, int c, int r, double s) {
    if (r > t->best_rung || (r == t->best_rung && s < t->best_score)) {
        t->best_rung = r;
        t->best_cfg = c;
        t->best_score = s;
    }
}

/* Evaluates configuration c at rung r (or takes the restored score) and
 * reports it.  Returns CARVE_ERR_TIMEOUT when the time limit is reached. */
static carve_status step(carve_tuner *t, int c, int r) {
    bool restored = t->nevals < t->nrestored;
    if (!restored && t->time_limit > 0 && carve__now() - t->t0 >= t->time_limit)
        return carve__fail(t->base, CARVE_ERR_TIMEOUT, "time limit of %g s reached after %d trials", t->time_limit,
                           t->nevals);
    if (atomic_load(&t->cancel)) return carve__fail(t->base, CARVE_ERR_CANCELLED, "cancelled");
    double s;
    if (restored) s = t->restored[t->nevals];
    else {
        carve_status st = carve__tune_evaluate(t, t->cfg[c].u, r, &s);
        if (st) return st;
    }
    t->cfg[c].score[r] = s;
    update_best(t, c, r, s);
    t->cost_done += rung_cost(t, r);
    char *json = carve__tune_json(&t->sp, t->cfg[c].u);
    int side = 0;
    for (int i = 0; i < t->npairs; i++) {
        const carve_image *im = t->pairs[i].in[r];
        int l = im->w > im->h ? im->w : im->h;
        if (l > side) side = l;
    }
    carve_tune_trial tr = {t->nevals, c, r, side, s, t->best_score, json ? json : "{}", restored,
                           PREPARE_SHARE + (1 - PREPARE_SHARE) * t->cost_done / t->cost_total};
    t->nevals++;
    carve__tune_log(t, CARVE_LOG_INFO, "trial %d: config %d at %d px: %.4f (best %.4f)%s", tr.index, c, side, s,
                    t->best_score, restored ? " [restored]" : "");
    int stop = t->cb ? t->cb(t->cb_user, &tr) : 0;
    free(json);
    if (stop) {
        atomic_store(&t->cancel, 1);
        return carve__fail(t->base, CARVE_ERR_CANCELLED, "cancelled");
    }
    return CARVE_OK;
}

static carve_status search(carve_tuner *t, tune_rng *rng) {
    int n = t->trials, counts[TUNE_RUNGS];
    rung_counts(n, counts);
    t->cost_total = 0;
    for (int r = 0; r < TUNE_RUNGS; r++) t->cost_total += counts[r] * rung_cost(t, r);
    carve_status st = CARVE_OK;
    for (int c = 0; c < n && !st; c++) {
        carve__tune_propose(t, rng, c, n);
        st = step(t, c, 0);
    }
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
    for (int r = 1; r < TUNE_RUNGS && !st; r++) {
        int m = carve__tune_rank(t, n, r - 1, order);
        if (m > counts[r]) m = counts[r];
        for (int i = 0; i < m && !st; i++) st = step(t, order[i], r);
    }
    free(order);
    return st;
}

carve_status carve_tuner_run(carve_tuner *t) {
    if (!t) return CARVE_ERR_INVALID_ARG;
    if (t->npairs < PAIRS_MIN)
        return carve__fail(t->base, CARVE_ERR_EMPTY, "tuning needs at least %d photo/reference pairs, got %d", PAIRS_MIN,
                           t->npairs);
    t->t0 = carve__now();
    free(t->cfg);
    t->cfg = calloc((size_t)t->trials, sizeof *t->cfg);
    if (!t->cfg) return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
    for (int c = 0; c < t->trials; c++)
        for (int r = 0; r < TUNE_RUNGS; r++) t->cfg[c].score[r] = NAN;
    t->ncfg = t->trials;
    t->nevals = 0;
    t->best_cfg = t->best_rung = -1;
    t->best_score = INFINITY;
    t->cost_done = 0;
    carve_status st = CARVE_OK;
    if (!t->prepared) {
        carve__tune_log(t, CARVE_LOG_INFO, "preparing %d pairs", t->npairs);
        st = carve__tune_prepare(t);
        if (st) return st;
        t->prepared = true;
    }
    tune_rng rng = {t->seed};
    st = search(t, &rng);
    if (st == CARVE_ERR_TIMEOUT) {
        if (t->nevals == 0)
            return carve__fail(t->base, CARVE_ERR_TIMEOUT,
                               "the time limit of %g s did not allow a single trial (preparing took %.1f s)",
                               t->time_limit, carve__now() - t->t0);
        carve__tune_log(t, CARVE_LOG_WARN, "%s", carve_ctx_errmsg(t->base));
        carve__clear_error(t->base);
        st = CARVE_OK;
    }
    if (!st) carve__tune_log(t, CARVE_LOG_INFO, "done: %d trials, best %.4f", t->nevals, t->best_score);
    return st;
}
