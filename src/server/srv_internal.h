/* srv_internal.h — shared between server.c (jobs, workers, sweeper,
 * metrics) and http.c (routes).  Lock order: srv->mu, then job->mu, then
 * srv->mmu (metrics). */
#ifndef CARVE_SRV_INTERNAL_H
#define CARVE_SRV_INTERNAL_H

#include "logring.h"
#include "server.h"
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

#define SRV_MAX_STAGES 16
#define SRV_HIST_BUCKETS 12
#define SRV_MAX_PHASES 24
#define SRV_DRAIN_SAMPLES 16

typedef struct srv_job {
    char id[33];
    int refs;          /* srv->mu */
    int state;         /* srv->mu: CARVE__JOB_* */
    bool cancel;       /* srv->mu: DELETE asked */
    bool requeue;      /* srv->mu: server stopping, run again later */
    bool timed_out;    /* srv->mu */
    bool lease_lost;   /* srv->mu: shared store: another node owns the job now */
    char token[33];    /* shared store: the lease token of this attempt */
    uint64_t hb_seq;   /* srv->mu: ring position already sent with a heartbeat */
    bool finished;     /* job->mu: the final event is in the ring */
    carve_ctx *ctx;    /* srv->mu: set while a worker runs it */
    double created, started;
    /* job->mu */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on every new event and when finished */
    carve__ring *ring; /* allocated at the first event: queued jobs stay small */
    double progress;
    char stage[32];
    int last_pct;
    int nstages;
    char stage_name[SRV_MAX_STAGES][32];
    double stage_t0[SRV_MAX_STAGES], stage_t1[SRV_MAX_STAGES];
    struct srv_job *hnext; /* registry chain (srv->mu) */
    struct srv_job *qnext; /* queue (srv->mu) */
    carve__srv *srv;
} srv_job;

typedef struct srv_hist {
    char name[32];
    double sum;
    long long count;
    long long bucket[SRV_HIST_BUCKETS]; /* cumulative at render time */
} srv_hist;

struct carve__srv {
    carve_ctx *cfg;   /* libcarve's options: the defaults of every job; job ctxs are clones */
    carve__srvopts *opt; /* carved's settings (settings.h) */
    carve__store *store;
    struct MHD_Daemon *httpd;
    struct carve__guard *guard; /* connection deadlines (guard.c) */
    int port;
    int log_level;
    /* jobs */
    pthread_mutex_t mu;
    pthread_cond_t qcv;     /* queue non-empty or stopping */
    srv_job **table;        /* registry of queued/running jobs */
    size_t table_size;
    size_t live;
    srv_job *qhead, *qtail;
    int qlen, running;
    int pending;            /* admissions between the slot check and the commit */
    bool stopping, started;
    pthread_t *workers;
    int nworkers;
    pthread_t sweeper;
    bool sweeper_started;
    pthread_cond_t sweep_cv;
    double avg_job_s;
    /* shared store (PostgreSQL): the queue is the store's */
    bool shared;
    char node[128];         /* lease owner: host:pid */
    double lease_s;
    unsigned wake_seq;      /* mu: bumped by local submissions and NOTIFY */
    bool store_down;        /* mu: the last store call failed */
    /* webhooks (webhook.c) */
    pthread_t hook_thread;
    bool hook_started;
    bool hook_wake;         /* mu */
    pthread_cond_t hook_cv; /* with mu */
    double drain_t[SRV_DRAIN_SAMPLES]; /* finish times (carve__now) of the last jobs: Retry-After */
    long long drain_n;
    /* metrics (mmu) */
    pthread_mutex_t mmu;
    long long submitted, rejected_full, rejected_invalid, http_requests[6];
    long long errors_kind[32];
    long long finished_state[CARVE__JOB_NSTATES];
    long long swept;
    srv_hist phase[SRV_MAX_PHASES];
    int nphase;
    srv_hist job_hist;
    double start_time;
    carve__srv_engine_fn engine;
    struct carve__tunings *tunings; /* tunings.c */
};

double carve__srv_wall(void);
/* an INT option of libcarve's (the jobs' defaults in cfg), read through the
 * public carve_ctx_get_option; 0 for an unknown key */
long long carve__srv_opt_int(const carve_ctx *cfg, const char *key);
/* registry: returns the live job with a new reference (or NULL) */
srv_job *carve__srv_job_get(carve__srv *s, const char *id);
void carve__srv_job_unref(carve__srv *s, srv_job *j);
/* the job's event ring, or an empty one (call with job->mu held) */
const carve__ring *carve__srv_job_ring(const srv_job *j);
/* admission: stores the job row (already containing the input file) and
 * queues it; returns 0, or 429 when the queue is full, 409 when
 * row->idem_key is already recorded (by a concurrent request), or 500 */
int carve__srv_enqueue(carve__srv *s, carve__job_row *row, char *err, size_t errlen);
/* DELETE: 0 = deleted, 1 = not found, 2 = still stopping (202) */
int carve__srv_cancel_delete(carve__srv *s, const char *id, double wait_s);
/* per-stage timings so far as JSON (malloc'd), for a running job */
char *carve__srv_live_timings(srv_job *j);
/* Prometheus text; malloc'd */
char *carve__srv_metrics(carve__srv *s);
void carve__srv_count_http(carve__srv *s, int code);
/* Retry-After seconds while the queue is full */
int carve__srv_retry_after(carve__srv *s);
/* HTTP (http.c) */
carve_status carve__http_start(carve__srv *s, carve_ctx *errctx);
void carve__http_stop(carve__srv *s);
/* The API's error body {"error":{"code":kind,"status":code,"message":...}}
 * into b (initialised here); the message, formatted from fmt, also into msg. */
void carve__http_error_body(carve__buf *b, char *msg, size_t msglen, int code, const char *kind, const char *fmt,
                            va_list ap);
/* An SSE stream's output (http.c, tunings_http.c): the chunk being sent.
 * A read callback: while carve__sse_idle, fill out (after
 * carve__sse_begin), then carve__sse_end; then carve__sse_copy. */
typedef struct carve__sse_out {
    carve__buf out;
    size_t off;   /* bytes of out already sent */
    double t_end; /* the stream ends after this time (sse_max_seconds) */
    bool done;    /* no chunk after this one */
} carve__sse_out;
bool carve__sse_idle(const carve__sse_out *o);
void carve__sse_begin(carve__sse_out *o);
/* Ends the chunk: done when *stopping (read under mu) or past t_end; a
 * keep-alive comment when it is empty.  false when out of memory. */
bool carve__sse_end(carve__sse_out *o, pthread_mutex_t *mu, const bool *stopping);
ssize_t carve__sse_copy(carve__sse_out *o, char *buf, size_t max);
/* JSON helpers */
void carve__srv_job_json(carve__srv *s, carve__buf *b, const carve__job_row *row, srv_job *live);
const char *carve__srv_status_kind(carve_status st);

#endif
