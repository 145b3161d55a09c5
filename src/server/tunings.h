/* tunings.h — carved's tuning jobs (POST /v1/tunings ...) and installed
 * presets (PUT /v1/presets/NAME): one tuning runs at a time on its own
 * thread; every finished trial is stored, so a restarted carved resumes a
 * tuning from its last finished trial.  See docs/tune.md and docs/API.md. */
#ifndef CARVE_SRV_TUNINGS_H
#define CARVE_SRV_TUNINGS_H

#include "srv_internal.h"

#include <microhttpd.h>

typedef struct carve__tunings carve__tunings;

/** Recovers interrupted tunings from the store and starts the tuning thread;
 *  sets option presets_dir to data_dir/presets when it is empty. */
carve_status carve__tunings_start(carve__srv *s, carve_ctx *errctx);
/** Stops the thread: a running tuning is interrupted and stays queued in the
 *  store (it resumes at the next start).  Idempotent. */
void carve__tunings_stop(carve__srv *s);
/** True for URLs this module answers (/v1/tunings..., /v1/presets...). */
bool carve__tunings_owns(const char *url);
/** Answers a request (auth already checked). */
enum MHD_Result carve__tunings_route(carve__srv *s, struct MHD_Connection *c, const char *url, const char *method,
                                     const char *body, size_t len);


/* ---- shared by tunings.c (manager, worker) and tunings_http.c (routes) ---- */
typedef struct srv_tuning {
    char id[33];
    int refs;            /* tm->mu */
    int state;           /* tm->mu: CARVE__JOB_* */
    bool cancel;         /* tm->mu: DELETE asked */
    bool remote;         /* tm->mu: shared store: another node runs it (dropped here) */
    carve_tuner *tuner;  /* tm->mu: while running */
    struct srv_tuning *next; /* tm->mu: registry, in submission order */
    /* mu: events */
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* every new event and the end */
    carve__ring ring;    /* log lines */
    char **trials;       /* JSON object of every finished trial, in order */
    int ntrials, cap;
    double progress, best_score;
    bool finished;       /* the final state is known */
} srv_tuning;

struct carve__tunings {
    carve__srv *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* a tuning was queued, or stopping */
    srv_tuning *list;
    bool stopping, started;
    pthread_t thread;
};

/* a live tuning with a new reference, or NULL */
srv_tuning *carve__tuning_get(carve__tunings *tm, const char *id);
void carve__tuning_unref(carve__tunings *tm, srv_tuning *t);
/* registers a new queued tuning (its row is stored) and wakes the thread */
int carve__tuning_enqueue(carve__tunings *tm, const char *id);
/* DELETE: 0 cancelled or deleted, 1 not found */
int carve__tuning_cancel(carve__tunings *tm, const char *id, double wait_s);

#endif
