/* tunings.c — carved's tuning manager: the registry of live tunings, the
 * tuning thread (one tuning at a time: each already uses every core), trial
 * persistence and resume, cancellation, recovery at start. */
#include "tunings.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECOVER_MAX 1024
#define STATE_TEXT 32
#define LOCK_RETRY_S 1 /* the store is away: try the tuning again after */

static void push_event(srv_tuning *t, int kind, int level, const char *text) {
    pthread_mutex_lock(&t->mu);
    carve__ring_push(&t->ring, carve__srv_wall(), kind, level, t->progress, text);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static srv_tuning *tuning_new(const char *id, int state) {
    srv_tuning *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->id, sizeof t->id, "%s", id);
    t->state = state;
    t->refs = 1; /* the registry's */
    t->best_score = NAN;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    carve__ring_init(&t->ring);
    return t;
}

static void tuning_free(srv_tuning *t) {
    for (int i = 0; i < t->ntrials; i++) free(t->trials[i]);
    free(t->trials);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

srv_tuning *carve__tuning_get(carve__tunings *tm, const char *id) {
    pthread_mutex_lock(&tm->mu);
    srv_tuning *t = tm->list;
    while (t && strcmp(t->id, id)) t = t->next;
    if (t) t->refs++;
    pthread_mutex_unlock(&tm->mu);
    return t;
}

void carve__tuning_unref(carve__tunings *tm, srv_tuning *t) {
    if (!t) return;
    pthread_mutex_lock(&tm->mu);
    bool last = --t->refs == 0;
    pthread_mutex_unlock(&tm->mu);
    if (last) tuning_free(t);
}

/* Takes t out of the registry (tm->mu held) and drops the registry's ref. */
static void unlink_locked(carve__tunings *tm, srv_tuning *t) {
    for (srv_tuning **p = &tm->list; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            t->next = NULL;
            if (--t->refs == 0) tuning_free(t);
            return;
        }
}

int carve__tuning_enqueue(carve__tunings *tm, const char *id) {
    srv_tuning *t = tuning_new(id, CARVE__JOB_QUEUED);
    if (!t) return -1;
    pthread_mutex_lock(&tm->mu);
    srv_tuning **p = &tm->list;
    while (*p) p = &(*p)->next;
    *p = t;
    pthread_cond_broadcast(&tm->cv);
    pthread_mutex_unlock(&tm->mu);
    return 0;
}

/* ---- running one tuning -------------------------------------------------------- */
typedef struct run_state {
    carve__tunings *tm;
    srv_tuning *t;
    carve_tuner *tuner;
} run_state;

static void on_log(void *user, int level, const char *msg) {
    run_state *r = user;
    if (!strncmp(msg, "trial ", 6)) return; /* trials have their own events */
    push_event(r->t, CARVE__EV_LOG, level, msg);
}

static int on_trial(void *user, const carve_tune_trial *tr) {
    run_state *r = user;
    carve__tunings *tm = r->tm;
    carve__srv *s = tm->s;
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_printf(&b, "{\"index\":%d,\"config\":%d,\"rung\":%d,\"work_size\":%d,\"score\":%.6f,\"best\":%.6f,"
                          "\"restored\":%s,\"options\":%s}", tr->index, tr->config, tr->rung, tr->work_size, tr->score,
                      tr->best_score, tr->restored ? "true" : "false", tr->options_json);
    char *json = carve__buf_take(&b, NULL);
    if (json && !tr->restored) {
        int pr = s->store->put_trial(s->store, r->t->id, tr->index, tr->score, json);
        if (pr < 0) carve__srv_log(s, CARVE_LOG_ERROR, r->t->id, NULL, "tuning: %s", carve__store_errmsg(s->store));
        if (pr > 0) { /* deleted through another node: stop as cancelled */
            pthread_mutex_lock(&tm->mu);
            r->t->cancel = true;
            pthread_mutex_unlock(&tm->mu);
        }
        char *best = NULL;
        carve_tuner_best(r->tuner, &best, NULL);
        s->store->update_tuning(s->store, r->t->id, CARVE__JOB_RUNNING, 0, best, tr->best_score, tr->index + 1, NULL);
        carve_free(best);
    }
    srv_tuning *t = r->t;
    pthread_mutex_lock(&t->mu);
    if (json && t->ntrials == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        char **n = realloc(t->trials, (size_t)cap * sizeof *n);
        if (n) t->trials = n, t->cap = cap;
    }
    if (json && t->ntrials < t->cap) t->trials[t->ntrials++] = json, json = NULL;
    t->progress = tr->fraction;
    t->best_score = tr->best_score;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    free(json);
    pthread_mutex_lock(&tm->mu);
    bool stop = t->cancel || tm->stopping;
    pthread_mutex_unlock(&tm->mu);
    return stop;
}

/* Decodes pair k of the request into the tuner. */
static carve_status add_pair(carve__srv *s, carve_ctx *ctx, carve_tuner *tuner, const char *id, json_t *pair) {
    const char *name = json_string_value(json_object_get(pair, "name"));
    const char *pf = json_string_value(json_object_get(pair, "photo"));
    const char *rf = json_string_value(json_object_get(pair, "reference"));
    bool svg = json_is_true(json_object_get(pair, "svg"));
    char *pd = NULL, *rd = NULL;
    size_t pl = 0, rl = 0;
    if (!name || !pf || !rf || s->store->get_tuning_file(s->store, id, pf, &pd, &pl) ||
        s->store->get_tuning_file(s->store, id, rf, &rd, &rl)) {
        free(pd);
        return carve_ctx_set_error(ctx, CARVE_ERR_IO, 0, "tuning %s: a stored file is missing", id);
    }
    carve_image *photo = NULL, *ref = NULL;
    carve_status st = carve_image_load_memory(ctx, pd, pl, name, &photo);
    if (!st && svg) {
        int w = carve_image_width(photo), h = carve_image_height(photo);
        carve_image *nat = NULL;
        st = carve_image_from_svg(ctx, rd, rl, name, 0, 0, &nat);
        if (!st) {
            int nw = carve_image_width(nat), nh = carve_image_height(nat);
            double f = (double)(w > h ? w : h) / (nw > nh ? nw : nh);
            int tw = (int)lround(nw * f), th = (int)lround(nh * f);
            carve_image_destroy(nat);
            st = carve_image_from_svg(ctx, rd, rl, name, tw > 0 ? tw : 1, th > 0 ? th : 1, &ref);
        }
    } else if (!st)
        st = carve_image_load_memory(ctx, rd, rl, name, &ref);
    if (!st && carve_tuner_add_pair(tuner, name, photo, ref))
        st = carve_ctx_set_error(ctx, CARVE_ERR_INVALID_ARG, 0, "%s", carve_tuner_errmsg(tuner));
    carve_image_destroy(photo);
    carve_image_destroy(ref);
    free(pd);
    free(rd);
    return st;
}

/* Builds the tuner from the stored request and restores finished trials. */
static carve_status build(carve__srv *s, srv_tuning *t, carve_ctx *ctx, carve_tuner **out) {
    carve__tuning_row row;
    *out = NULL;
    if (s->store->get_tuning(s->store, t->id, &row))
        return carve_ctx_set_error(ctx, CARVE_ERR_IO, 0, "tuning %s: %s", t->id, carve__store_errmsg(s->store));
    json_t *req = json_loads(row.request ? row.request : "{}", 0, NULL);
    carve__tuning_row_free(&row);
    char *opts = req ? json_dumps(json_object_get(req, "options"), JSON_COMPACT) : NULL;
    carve_status st = (opts && strcmp(opts, "null")) ? carve_ctx_apply_json(ctx, opts, "options") : CARVE_OK;
    free(opts);
    carve_tuner *tuner = st ? NULL : carve_tuner_create(ctx);
    if (!st && !tuner) st = carve_ctx_set_error(ctx, CARVE_ERR_NOMEM, 0, "out of memory");
    if (!st && carve_tuner_configure(tuner, (int)json_integer_value(json_object_get(req, "trials")),
                                     json_number_value(json_object_get(req, "time_limit")),
                                     (uint64_t)json_integer_value(json_object_get(req, "seed")), 0))
        st = carve_ctx_set_error(ctx, CARVE_ERR_INVALID_ARG, 0, "%s", carve_tuner_errmsg(tuner));
    size_t i;
    json_t *pair;
    json_array_foreach(json_object_get(req, "pairs"), i, pair) if (!st) st = add_pair(s, ctx, tuner, t->id, pair);
    json_decref(req);
    double *scores = NULL;
    int n = 0;
    char *trials = NULL;
    if (!st && !s->store->list_trials(s->store, t->id, &scores, &n, &trials)) {
        for (int k = 0; k < n; k++) carve_tuner_restore(tuner, k, scores[k]);
        if (n) carve__srv_log(s, CARVE_LOG_INFO, t->id, NULL, "tuning resumes after %d stored trials", n);
    }
    free(scores);
    free(trials);
    if (st) carve_tuner_destroy(tuner);
    else *out = tuner;
    return st;
}

static void finish(carve__tunings *tm, srv_tuning *t, carve_tuner *tuner, carve_status st, const char *msg) {
    carve__srv *s = tm->s;
    char *best = NULL;
    double score = 0;
    if (tuner) carve_tuner_best(tuner, &best, &score);
    pthread_mutex_lock(&tm->mu);
    bool stopping = tm->stopping && !t->cancel;
    int state = st == CARVE_OK ? CARVE__JOB_DONE
              : st == CARVE_ERR_CANCELLED ? (stopping ? CARVE__JOB_QUEUED : CARVE__JOB_CANCELLED)
              : CARVE__JOB_FAILED;
    t->state = state;
    t->tuner = NULL;
    pthread_mutex_unlock(&tm->mu);
    pthread_mutex_lock(&t->mu);
    int n = t->ntrials;
    pthread_mutex_unlock(&t->mu);
    s->store->update_tuning(s->store, t->id, state, carve__job_terminal(state) ? carve__srv_wall() : 0, best, score, n,
                            st && st != CARVE_ERR_CANCELLED ? msg : NULL);
    carve_free(best);
    carve__srv_log(s, st && st != CARVE_ERR_CANCELLED ? CARVE_LOG_WARN : CARVE_LOG_INFO, t->id, NULL,
                   "tuning %s%s%s", carve__job_state_name(state), st && st != CARVE_ERR_CANCELLED ? ": " : "",
                   st && st != CARVE_ERR_CANCELLED ? msg : "");
    if (st && st != CARVE_ERR_CANCELLED) push_event(t, CARVE__EV_LOG, CARVE_LOG_ERROR, msg);
    pthread_mutex_lock(&t->mu);
    if (state == CARVE__JOB_DONE) t->progress = 1;
    t->finished = true;
    carve__ring_push(&t->ring, carve__srv_wall(), CARVE__EV_STATE, 0, t->progress, carve__job_state_name(state));
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Shared store: the right to run t (another node may run it, or the store
 * may be away: then t is left to the other node / retried).  True to run. */
static bool take_lock(carve__tunings *tm, srv_tuning *t) {
    carve__srv *s = tm->s;
    if (!s->store->lock_tuning) return true;
    int r = s->store->lock_tuning(s->store, t->id);
    if (!r) return true;
    pthread_mutex_lock(&tm->mu);
    if (r > 0) t->remote = true; /* unlinked by the thread; its readers see the store */
    else t->state = CARVE__JOB_QUEUED;
    pthread_mutex_unlock(&tm->mu);
    if (r > 0) {
        carve__srv_log(s, CARVE_LOG_INFO, t->id, NULL, "tuning runs on another node");
        pthread_mutex_lock(&t->mu);
        t->finished = true;
        carve__ring_push(&t->ring, carve__srv_wall(), CARVE__EV_LOG, CARVE_LOG_INFO, t->progress,
                         "this tuning runs on another node");
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    } else {
        carve__srv_log(s, CARVE_LOG_WARN, t->id, NULL, "tuning: %s (retrying)", carve__store_errmsg(s->store));
        sleep(LOCK_RETRY_S);
    }
    return false;
}

static void run_tuning(carve__tunings *tm, srv_tuning *t) {
    carve__srv *s = tm->s;
    if (!take_lock(tm, t)) return;
    s->store->update_tuning(s->store, t->id, CARVE__JOB_RUNNING, 0, NULL, 0, 0, NULL);
    push_event(t, CARVE__EV_STATE, 0, "running");
    carve_ctx *ctx = carve_ctx_clone(s->cfg);
    carve_tuner *tuner = NULL;
    carve_status st = ctx ? build(s, t, ctx, &tuner) : CARVE_ERR_NOMEM;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ctx ? carve_ctx_errmsg(ctx) : "out of memory");
    if (!st) {
        run_state r = {tm, t, tuner};
        carve_tuner_set_callback(tuner, on_trial, &r);
        carve_tuner_set_log(tuner, on_log, &r);
        pthread_mutex_lock(&tm->mu);
        t->tuner = tuner;
        bool stop = t->cancel || tm->stopping;
        pthread_mutex_unlock(&tm->mu);
        st = stop ? CARVE_ERR_CANCELLED : carve_tuner_run(tuner);
        snprintf(msg, sizeof msg, "%s", carve_tuner_errmsg(tuner));
    }
    finish(tm, t, tuner, st, msg);
    carve_tuner_destroy(tuner);
    carve_ctx_destroy(ctx);
    if (s->store->unlock_tuning) s->store->unlock_tuning(s->store, t->id);
}

static void *tuning_main(void *arg) {
    carve__tunings *tm = arg;
    pthread_mutex_lock(&tm->mu);
    while (!tm->stopping) {
        srv_tuning *t = tm->list;
        while (t && t->state != CARVE__JOB_QUEUED) t = t->next;
        if (!t) {
            pthread_cond_wait(&tm->cv, &tm->mu);
            continue;
        }
        t->state = CARVE__JOB_RUNNING;
        t->refs++;
        pthread_mutex_unlock(&tm->mu);
        run_tuning(tm, t);
        pthread_mutex_lock(&tm->mu);
        t->refs--; /* the worker's; the registry still holds one */
        if (carve__job_terminal(t->state) || t->remote) unlink_locked(tm, t);
    }
    pthread_mutex_unlock(&tm->mu);
    return NULL;
}

int carve__tuning_cancel(carve__tunings *tm, const char *id, double wait_s) {
    carve__srv *s = tm->s;
    srv_tuning *t = carve__tuning_get(tm, id);
    if (!t) {
        carve__tuning_row row;
        int r = s->store->get_tuning(s->store, id, &row);
        carve__tuning_row_free(&row);
        if (r) return 1;
        s->store->delete_tuning(s->store, id); /* finished: DELETE removes it */
        return 0;
    }
    pthread_mutex_lock(&tm->mu);
    t->cancel = true;
    if (t->tuner) carve_tuner_cancel(t->tuner);
    bool queued = t->state == CARVE__JOB_QUEUED;
    if (queued) {
        t->state = CARVE__JOB_CANCELLED;
        unlink_locked(tm, t);
    }
    pthread_mutex_unlock(&tm->mu);
    if (queued) {
        s->store->update_tuning(s->store, id, CARVE__JOB_CANCELLED, carve__srv_wall(), NULL, 0, 0, NULL);
        pthread_mutex_lock(&t->mu);
        t->finished = true;
        carve__ring_push(&t->ring, carve__srv_wall(), CARVE__EV_STATE, 0, t->progress, "cancelled");
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    } else {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)wait_s;
        until.tv_nsec += (long)((wait_s - floor(wait_s)) * 1e9);
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&t->mu);
        while (!t->finished && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0) {}
        pthread_mutex_unlock(&t->mu);
    }
    carve__tuning_unref(tm, t);
    return 0;
}

/* Interrupted tunings go back to the queue, in submission order. */
static carve_status recover(carve__tunings *tm, carve_ctx *errctx) {
    carve__srv *s = tm->s;
    char (*ids)[33] = malloc(RECOVER_MAX * sizeof *ids);
    if (!ids) return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    int n = 0, nrun = 0;
    carve_status st = CARVE_OK;
    if (s->store->lock_tuning) {
        /* shared store: a running tuning may be another node's; the lock
         * tells (taken: its node died; held: it is left alone) */
        if (s->store->list_tunings(s->store, CARVE__JOB_RUNNING, ids, RECOVER_MAX, &nrun))
            st = carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "%s", carve__store_errmsg(s->store));
    } else if (!s->store->list_tunings(s->store, CARVE__JOB_RUNNING, ids, RECOVER_MAX, &n))
        for (int i = 0; i < n; i++)
            s->store->update_tuning(s->store, ids[i], CARVE__JOB_QUEUED, 0, NULL, 0, 0, NULL);
    if (!st && s->store->list_tunings(s->store, CARVE__JOB_QUEUED, ids + nrun, RECOVER_MAX - nrun, &n))
        st = carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "%s", carve__store_errmsg(s->store));
    n += nrun;
    for (int i = 0; !st && i < n; i++)
        if (carve__tuning_enqueue(tm, ids[i])) st = carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    if (!st && n) carve__srv_log(s, CARVE_LOG_INFO, NULL, NULL, "%d tuning(s) queued again after a restart", n);
    free(ids);
    return st;
}

carve_status carve__tunings_start(carve__srv *s, carve_ctx *errctx) {
    char pd[4096];
    carve_ctx_get_option(s->cfg, "presets_dir", pd, sizeof pd);
    if (!pd[0]) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/presets", carve__srvopt_str(s->opt, CARVE_SRVOPT_data_dir));
        mkdir(dir, 0700);
        carve_ctx_set_option(s->cfg, "presets_dir", dir);
    }
    if (!s->store->put_tuning || !s->store->list_trials) {
        carve__srv_log(s, CARVE_LOG_WARN, NULL, NULL, "tunings are off: this store does not keep tunings (SQLite and PostgreSQL do)");
        return CARVE_OK;
    }
    carve__tunings *tm = calloc(1, sizeof *tm);
    if (!tm) return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    tm->s = s;
    pthread_mutex_init(&tm->mu, NULL);
    pthread_cond_init(&tm->cv, NULL);
    s->tunings = tm;
    carve_status st = recover(tm, errctx);
    if (st) return st;
    if (pthread_create(&tm->thread, NULL, tuning_main, tm))
        return carve_ctx_set_error(errctx, CARVE_ERR_INTERNAL, 0, "cannot start the tuning thread");
    tm->started = true;
    return CARVE_OK;
}

void carve__tunings_stop(carve__srv *s) {
    carve__tunings *tm = s ? s->tunings : NULL;
    if (!tm) return;
    pthread_mutex_lock(&tm->mu);
    tm->stopping = true;
    for (srv_tuning *t = tm->list; t; t = t->next)
        if (t->tuner) carve_tuner_cancel(t->tuner);
    pthread_cond_broadcast(&tm->cv);
    pthread_mutex_unlock(&tm->mu);
    if (tm->started) pthread_join(tm->thread, NULL);
    while (tm->list) unlink_locked(tm, tm->list);
    pthread_mutex_destroy(&tm->mu);
    pthread_cond_destroy(&tm->cv);
    free(tm);
    s->tunings = NULL;
}
