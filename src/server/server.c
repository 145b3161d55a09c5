/* server.c — carved's job side: registry of live jobs, bounded FIFO queue,
 * worker pool, per-job timeout, cancellation, retention sweeper, recovery
 * after a crash, metrics and structured logs.
 *
 * Race-free retention: a job row changes state only through the store's
 * conditional updates, a worker writes the job's files BEFORE the row
 * becomes terminal, and the sweeper deletes only rows that are terminal (in
 * one conditional DELETE).  In-memory job objects are reference counted
 * (registry, worker, SSE streams each hold one) and are never touched by the
 * sweeper, so nothing is freed under a worker or a client. */
#include "srv_internal.h"
#include "webhook.h"
#include "tunings.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#if CARVE_SRV_HAVE_PG
#include "store_pg.h"
#endif

#define SHARED_POLL_S 1.0       /* shared store: a worker looks at the queue at least this often */
#define STORE_RETRY_US 250000   /* pause between tries while the store is unreachable */
#define HEARTBEAT_MAX_S 1.0     /* heartbeats at least this often (cancel fallback, remote progress) */
#define DRAIN_WINDOW_S 120.0
#define DRAIN_MIN_JOB_S 0.25

static const double hist_bounds[SRV_HIST_BUCKETS - 1] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

long long carve__srv_opt_int(const carve_ctx *cfg, const char *key) {
    char text[64];
    return carve_ctx_get_option(cfg, key, text, sizeof text) ? 0 : strtoll(text, NULL, 10);
}

double carve__srv_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- logs ------------------------------------------------------------------ */
/* the setting log_level (CARVE__LOG_LEVEL_*) as the least CARVE_LOG_* written */
static int log_level_of(int setting) {
    switch (setting) {
    case CARVE__LOG_LEVEL_DEBUG: return CARVE_LOG_DEBUG;
    case CARVE__LOG_LEVEL_WARN: return CARVE_LOG_WARN;
    case CARVE__LOG_LEVEL_ERROR: return CARVE_LOG_ERROR;
    default: return CARVE_LOG_INFO;
    }
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void carve__srv_log(carve__srv *s, int level, const char *job, const char *extra, const char *fmt, ...) {
    if (s && level < s->log_level) return;
    static const char *names[] = {"debug", "info", "warn", "error"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    carve__buf b;
    carve__buf_init(&b);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
    carve__buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", tbuf, ts.tv_nsec / 1000000,
                      names[level < 0 ? 0 : level > 3 ? 3 : level]);
    carve__buf_json_str(&b, msg);
    carve__buf_putc(&b, '"');
    if (job) carve__buf_printf(&b, ",\"job\":\"%s\"", job);
    if (extra) carve__buf_puts(&b, extra);
    carve__buf_puts(&b, "}\n");
    if (!b.oom) {
        pthread_mutex_lock(&log_mu);
        fwrite(b.data, 1, b.len, stderr);
        fflush(stderr);
        pthread_mutex_unlock(&log_mu);
    }
    carve__buf_free(&b);
}

const char *carve__srv_status_kind(carve_status st) {
    switch (st) {
    case CARVE_OK: return "ok";
    case CARVE_ERR_NOMEM: return "nomem";
    case CARVE_ERR_INVALID_ARG: return "invalid_arg";
    case CARVE_ERR_OUT_OF_RANGE: return "out_of_range";
    case CARVE_ERR_UNKNOWN_OPTION: return "unknown_option";
    case CARVE_ERR_IO: return "io";
    case CARVE_ERR_DECODE: return "decode";
    case CARVE_ERR_UNSUPPORTED: return "unsupported";
    case CARVE_ERR_TOO_LARGE: return "too_large";
    case CARVE_ERR_TOO_MANY_COLORS: return "too_many_colors";
    case CARVE_ERR_PALETTE: return "palette";
    case CARVE_ERR_CONFIG: return "config";
    case CARVE_ERR_CANCELLED: return "cancelled";
    case CARVE_ERR_EMPTY: return "empty";
    case CARVE_ERR_NOT_FOUND: return "not_found";
    case CARVE_ERR_BACKEND: return "backend";
    case CARVE_ERR_TIMEOUT: return "timeout";
    case CARVE_ERR_INTERNAL: return "internal";
    }
    return "other";
}

/* ---- engines ------------------------------------------------------------------ */

/* A synthetic engine: synthetic_ms of "work" in 10 ms steps through four
 * stages, progress and a log line per stage, then a flat SVG of the image's
 * mean colour.  It measures the server, not the pipeline. */
static carve_status synthetic_engine(carve__srv *s, carve_ctx *ctx, const carve_image *img, const carve_palette *pal,
                                     char **svg, size_t *len) {
    (void)pal;
    static const char *stages[4] = {"sanitize", "steer", "chroma", "vector"};
    int64_t ms = carve__srvopt_int(s->opt, CARVE_SRVOPT_synthetic_ms);
    int w = carve_image_width(img), h = carve_image_height(img);
    int64_t steps = ms / 10;
    for (int st = 0; st < 4; st++) {
        carve_ctx_log(ctx, CARVE_LOG_INFO, "synthetic %s: %dx%d", stages[st], w, h);
        int64_t n = steps / 4 + (st < steps % 4);
        for (int64_t i = 0; i <= n; i++) {
            carve_status r = carve_ctx_progress(ctx, (st + (n ? (double)i / (double)n : 1.0)) / 4.0, stages[st]);
            if (r) return r;
            if (i < n) usleep(10000);
        }
    }
    uint64_t sum[3] = {0, 0, 0};
    size_t np = (size_t)w * (size_t)h;
    const uint8_t *px = carve_image_pixels_const(img);
    for (size_t i = 0; i < np; i++)
        for (int c = 0; c < 3; c++) sum[c] += px[4 * i + c];
    char hex[8];
    uint32_t rgb = np ? (uint32_t)((sum[0] / np) << 16 | (sum[1] / np) << 8 | (sum[2] / np)) : 0;
    snprintf(hex, sizeof hex, "#%06x", (unsigned)rgb);
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_printf(&b,
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">"
                      "<path fill=\"%s\" d=\"M0 0H%dV%dH0z\"/></svg>\n",
                      w, h, w, h, hex, w, h);
    *svg = carve__buf_take(&b, len);
    return *svg ? CARVE_OK : carve_ctx_set_error(ctx, CARVE_ERR_NOMEM, 0, "out of memory");
}

static carve_status pipeline_engine(carve__srv *s, carve_ctx *ctx, const carve_image *img, const carve_palette *pal,
                                    char **svg, size_t *len) {
    (void)s;
    return carve_run(ctx, img, pal, svg, len);
}

/* Applies a job's stored options to its ctx.  Rows written before carved's
 * settings left libcarve's schema may hold callback_url (a setting): such
 * keys are dropped here, they were used at admission. */
static carve_status apply_job_options(carve_ctx *ctx, const char *options) {
    json_t *o = json_loads(options ? options : "{}", 0, NULL);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return carve_ctx_apply_json(ctx, options ? options : "{}", "job options");
    }
    const char *key;
    json_t *val;
    void *tmp;
    json_object_foreach_safe(o, tmp, key, val) if (carve__srvopt_find(key)) json_object_del(o, key);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) return carve_ctx_set_error(ctx, CARVE_ERR_NOMEM, 0, "out of memory");
    carve_status st = carve_ctx_apply_json(ctx, text, "job options");
    free(text);
    return st;
}

/* ---- registry ---------------------------------------------------------------- */
static size_t hash_id(const char *id) {
    size_t h = 1469598103934665603ull;
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

static srv_job *reg_find(carve__srv *s, const char *id) {
    for (srv_job *j = s->table[hash_id(id) % s->table_size]; j; j = j->hnext)
        if (!strcmp(j->id, id)) return j;
    return NULL;
}

static void reg_add(carve__srv *s, srv_job *j) {
    size_t h = hash_id(j->id) % s->table_size;
    j->hnext = s->table[h];
    s->table[h] = j;
    s->live++;
}

static void reg_remove(carve__srv *s, srv_job *j) {
    srv_job **pp = &s->table[hash_id(j->id) % s->table_size];
    while (*pp && *pp != j) pp = &(*pp)->hnext;
    if (*pp) {
        *pp = j->hnext;
        s->live--;
    }
    j->hnext = NULL;
}

static srv_job *job_new(carve__srv *s, const char *id, double created) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->refs = 1; /* the registry's */
    j->state = CARVE__JOB_QUEUED;
    j->created = created;
    j->last_pct = -1;
    j->srv = s;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    return j;
}

srv_job *carve__srv_job_get(carve__srv *s, const char *id) {
    pthread_mutex_lock(&s->mu);
    srv_job *j = reg_find(s, id);
    if (j) j->refs++;
    pthread_mutex_unlock(&s->mu);
    return j;
}

static carve__ring empty_ring = {.next_seq = 1};

const carve__ring *carve__srv_job_ring(const srv_job *j) { return j->ring ? j->ring : &empty_ring; }

/* job->mu held; NULL when out of memory (the event is dropped) */
static carve__ring *ring_for_push(srv_job *j) {
    if (!j->ring && (j->ring = malloc(sizeof *j->ring))) carve__ring_init(j->ring);
    return j->ring;
}

static void job_unref_locked(srv_job *j) {
    if (--j->refs == 0) {
        free(j->ring);
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
}

void carve__srv_job_unref(carve__srv *s, srv_job *j) {
    if (!j) return;
    pthread_mutex_lock(&s->mu);
    job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
}

static void job_event(srv_job *j, int kind, int level, double progress, const char *text) {
    pthread_mutex_lock(&j->mu);
    carve__ring *r = ring_for_push(j);
    if (r) carve__ring_push(r, carve__srv_wall(), kind, level, progress, text);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void job_finish_event(srv_job *j, int state) {
    pthread_mutex_lock(&j->mu);
    carve__ring *r = ring_for_push(j);
    if (r) carve__ring_push(r, carve__srv_wall(), CARVE__EV_STATE, 0, j->progress, carve__job_state_name(state));
    j->finished = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* ---- metrics ----------------------------------------------------------------- */
static void hist_add(srv_hist *h, double v) {
    h->sum += v;
    h->count++;
    int b = 0;
    while (b < SRV_HIST_BUCKETS - 1 && v > hist_bounds[b]) b++;
    h->bucket[b]++;
}

static void metrics_phase(carve__srv *s, const char *name, double v) {
    pthread_mutex_lock(&s->mmu);
    int i = 0;
    for (; i < s->nphase; i++)
        if (!strcmp(s->phase[i].name, name)) break;
    if (i == s->nphase) {
        if (s->nphase < SRV_MAX_PHASES) {
            snprintf(s->phase[s->nphase].name, sizeof s->phase[0].name, "%s", name);
            s->nphase++;
        } else i = -1;
    }
    if (i >= 0) hist_add(&s->phase[i], v);
    pthread_mutex_unlock(&s->mmu);
}

void carve__srv_count_http(carve__srv *s, int code) {
    int c = code / 100;
    if (c < 1 || c > 5) c = 0;
    pthread_mutex_lock(&s->mmu);
    s->http_requests[c]++;
    pthread_mutex_unlock(&s->mmu);
}

/* peak resident set size in bytes (0 if unknown) */
static size_t peak_rss(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) ? 0 : (size_t)ru.ru_maxrss * 1024u;
}

static size_t current_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, res = 0;
    int n = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    return n == 2 ? (size_t)res * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static void render_hist(carve__buf *b, const char *name, const char *labels, const srv_hist *h) {
    long long cum = 0;
    for (int i = 0; i < SRV_HIST_BUCKETS; i++) {
        cum += h->bucket[i];
        if (i < SRV_HIST_BUCKETS - 1)
            carve__buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %lld\n", name, labels, *labels ? "," : "", hist_bounds[i],
                              cum);
        else
            carve__buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", name, labels, *labels ? "," : "", cum);
    }
    carve__buf_printf(b, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", h->sum);
    carve__buf_printf(b, "%s_count%s%s%s %lld\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", h->count);
}

char *carve__srv_metrics(carve__srv *s) {
    long long counts[CARVE__JOB_NSTATES];
    if (s->store->count_states(s->store, counts))
        for (int i = 0; i < CARVE__JOB_NSTATES; i++) counts[i] = -1;
    pthread_mutex_lock(&s->mu);
    int qlen = s->qlen, running = s->running;
    size_t live = s->live;
    bool down = s->store_down;
    pthread_mutex_unlock(&s->mu);
    if (s->shared) qlen = (int)counts[CARVE__JOB_QUEUED]; /* every node's queue */
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "# HELP carved_jobs Jobs in the store by state.\n# TYPE carved_jobs gauge\n");
    for (int i = 0; i < CARVE__JOB_NSTATES; i++)
        carve__buf_printf(&b, "carved_jobs{state=\"%s\"} %lld\n", carve__job_state_name(i), counts[i]);
    carve__buf_printf(&b, "# HELP carved_queue_depth Jobs waiting for a worker.\n# TYPE carved_queue_depth gauge\n"
                          "carved_queue_depth %d\n", qlen);
    carve__buf_printf(&b, "# HELP carved_store_up 1 when the job store answered the last call.\n"
                          "# TYPE carved_store_up gauge\ncarved_store_up %d\n", down || counts[0] < 0 ? 0 : 1);
    carve__buf_printf(&b, "# HELP carved_jobs_running Jobs a worker of this node is running.\n# TYPE carved_jobs_running gauge\n"
                          "carved_jobs_running %d\n", running);
    carve__buf_printf(&b, "# HELP carved_live_jobs Jobs held in memory.\n# TYPE carved_live_jobs gauge\n"
                          "carved_live_jobs %zu\n", live);
    carve__buf_printf(&b, "# HELP carved_workers Size of the worker pool.\n# TYPE carved_workers gauge\n"
                          "carved_workers %d\n", s->nworkers);
    carve__buf_printf(&b, "# HELP carved_queue_capacity Option queue_max.\n# TYPE carved_queue_capacity gauge\n"
                          "carved_queue_capacity %lld\n", (long long)carve__srvopt_int(s->opt, CARVE_SRVOPT_queue_max));
    pthread_mutex_lock(&s->mmu);
    carve__buf_printf(&b, "# HELP carved_jobs_submitted_total Jobs accepted (202).\n"
                          "# TYPE carved_jobs_submitted_total counter\ncarved_jobs_submitted_total %lld\n",
                      s->submitted);
    carve__buf_printf(&b, "# HELP carved_jobs_rejected_total Submissions refused.\n"
                          "# TYPE carved_jobs_rejected_total counter\n"
                          "carved_jobs_rejected_total{reason=\"queue_full\"} %lld\n"
                          "carved_jobs_rejected_total{reason=\"invalid\"} %lld\n",
                      s->rejected_full, s->rejected_invalid);
    carve__buf_puts(&b, "# HELP carved_jobs_finished_total Jobs that reached a final state.\n"
                        "# TYPE carved_jobs_finished_total counter\n");
    for (int i = CARVE__JOB_DONE; i < CARVE__JOB_NSTATES; i++)
        carve__buf_printf(&b, "carved_jobs_finished_total{state=\"%s\"} %lld\n", carve__job_state_name(i),
                          s->finished_state[i]);
    carve__buf_puts(&b, "# HELP carved_job_errors_total Failed jobs by error kind.\n"
                        "# TYPE carved_job_errors_total counter\n");
    for (int k = 1; k <= CARVE_ERR_INTERNAL; k++)
        carve__buf_printf(&b, "carved_job_errors_total{kind=\"%s\"} %lld\n", carve__srv_status_kind((carve_status)k),
                          s->errors_kind[k]);
    carve__buf_printf(&b, "# HELP carved_jobs_swept_total Finished jobs deleted by retention.\n"
                          "# TYPE carved_jobs_swept_total counter\ncarved_jobs_swept_total %lld\n", s->swept);
    carve__buf_puts(&b, "# HELP carved_http_requests_total HTTP responses by status class.\n"
                        "# TYPE carved_http_requests_total counter\n");
    for (int c = 1; c <= 5; c++)
        carve__buf_printf(&b, "carved_http_requests_total{code=\"%dxx\"} %lld\n", c, s->http_requests[c]);
    carve__buf_puts(&b, "# HELP carved_phase_duration_seconds Time spent per pipeline stage.\n"
                        "# TYPE carved_phase_duration_seconds histogram\n");
    for (int i = 0; i < s->nphase; i++) {
        char lab[80];
        snprintf(lab, sizeof lab, "phase=\"%s\"", s->phase[i].name);
        render_hist(&b, "carved_phase_duration_seconds", lab, &s->phase[i]);
    }
    carve__buf_puts(&b, "# HELP carved_job_duration_seconds Run time of finished jobs.\n"
                        "# TYPE carved_job_duration_seconds histogram\n");
    render_hist(&b, "carved_job_duration_seconds", "", &s->job_hist);
    pthread_mutex_unlock(&s->mmu);
    carve__buf_printf(&b, "# HELP process_resident_memory_bytes Resident set size.\n"
                          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %zu\n",
                      current_rss());
    carve__buf_printf(&b, "# HELP carved_peak_resident_memory_bytes Peak resident set size.\n"
                          "# TYPE carved_peak_resident_memory_bytes gauge\ncarved_peak_resident_memory_bytes %zu\n",
                      peak_rss());
    carve__buf_printf(&b, "# HELP process_start_time_seconds Start time (unix).\n"
                          "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
                      s->start_time);
    return carve__buf_take(&b, NULL);
}

/* ---- store health (shared store) -------------------------------------------------- */
/* rc: the result of this thread's last call on the store (its message when -1) */
static void store_health(carve__srv *s, int rc) {
    pthread_mutex_lock(&s->mu);
    bool was = s->store_down, down = rc < 0;
    s->store_down = down;
    pthread_mutex_unlock(&s->mu);
    if (down && !was)
        carve__srv_log(s, CARVE_LOG_ERROR, NULL, NULL, "job store unreachable: %s", carve__store_errmsg(s->store));
    else if (!down && was) carve__srv_log(s, CARVE_LOG_INFO, NULL, NULL, "job store reachable again");
}

static bool srv_stopping(carve__srv *s) {
    pthread_mutex_lock(&s->mu);
    bool st = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* While the shared store is unreachable a worker keeps what it has and
 * tries again (until carved stops or the job is no longer ours). */
static bool keep_trying(carve__srv *s, srv_job *j, int rc) {
    if (!s->shared || rc >= 0) return false;
    store_health(s, rc);
    pthread_mutex_lock(&s->mu);
    bool go = !s->stopping && !(j && j->lease_lost);
    pthread_mutex_unlock(&s->mu);
    if (go) usleep(STORE_RETRY_US);
    return go;
}

static int store_get_job(carve__srv *s, srv_job *j, carve__job_row *row) {
    int r;
    while ((r = s->store->get_job(s->store, j->id, row)) < 0 && keep_trying(s, j, r)) {}
    return r;
}

static int store_get_file(carve__srv *s, srv_job *j, const char *name, char **d, size_t *n) {
    int r;
    while ((r = s->store->get_file(s->store, j->id, name, d, n)) < 0 && keep_trying(s, j, r)) {}
    return r;
}

/* A result file of the running attempt (fenced on its lease in a shared store). */
static int store_put_result(carve__srv *s, srv_job *j, const char *name, const void *d, size_t n) {
    int r;
    if (!s->shared) return s->store->put_file(s->store, j->id, name, d, n);
    while ((r = s->store->put_file_fenced(s->store, j->id, j->token, name, d, n)) < 0 &&
           keep_trying(s, j, r)) {}
    return r;
}

/* ---- admission ------------------------------------------------------------------ */
/* Seconds until the queue has drained by one more job than it holds, from
 * the measured drain rate: the finish times of the last SRV_DRAIN_SAMPLES jobs
 * (within DRAIN_WINDOW_S).  Before two jobs finished, each queued job is
 * assumed to take as long as the oldest running one has run so far (at
 * least DRAIN_MIN_JOB_S) — a burst at start-up gets seconds, not minutes. */
static double drain_rate_locked(carve__srv *s, double now) {
    int n = s->drain_n < SRV_DRAIN_SAMPLES ? (int)s->drain_n : SRV_DRAIN_SAMPLES;
    double newest = 0, oldest = 0;
    int used = 0;
    for (int i = 0; i < n; i++) {
        double t = s->drain_t[i];
        if (now - t > DRAIN_WINDOW_S) continue;
        if (!used || t > newest) newest = t;
        if (!used || t < oldest) oldest = t;
        used++;
    }
    if (used >= 2 && newest > oldest) return (used - 1) / (newest - oldest);
    double run = DRAIN_MIN_JOB_S;
    for (size_t b = 0; b < s->table_size; b++)
        for (srv_job *j = s->table[b]; j; j = j->hnext)
            if (j->state == CARVE__JOB_RUNNING && j->started > 0 && now - j->started > run)
                run = now - j->started;
    return (s->nworkers ? s->nworkers : 1) / run;
}

int carve__srv_retry_after(carve__srv *s) {
    pthread_mutex_lock(&s->mu);
    double est = (s->qlen + 1) / drain_rate_locked(s, carve__now());
    pthread_mutex_unlock(&s->mu);
    int r = (int)ceil(est);
    return r < 1 ? 1 : r > 3600 ? 3600 : r;
}

static void queue_push(carve__srv *s, srv_job *j) {
    j->qnext = NULL;
    if (s->qtail) s->qtail->qnext = j;
    else s->qhead = j;
    s->qtail = j;
    s->qlen++;
}

static bool queue_remove(carve__srv *s, srv_job *j) {
    srv_job **pp = &s->qhead, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (!*pp) return false;
    *pp = j->qnext;
    if (s->qtail == j) s->qtail = prev;
    j->qnext = NULL;
    s->qlen--;
    return true;
}

/* Shared store: the queue is the store's; its depth is counted there. */
static int enqueue_shared(carve__srv *s, carve__job_row *row, char *err, size_t errlen) {
    long long queued = 0;
    int rc = s->store->count_queued(s->store, &queued);
    if (rc == 0 && queued >= carve__srvopt_int(s->opt, CARVE_SRVOPT_queue_max)) {
        pthread_mutex_lock(&s->mmu);
        s->rejected_full++;
        pthread_mutex_unlock(&s->mmu);
        snprintf(err, errlen, "the job queue is full (%lld jobs); retry later", queued);
        return 429;
    }
    if (rc == 0) rc = s->store->put_job(s->store, row);
    if (rc < 0) {
        snprintf(err, errlen, "%s", carve__store_errmsg(s->store));
        store_health(s, rc);
        return 503;
    }
    if (rc == 1) {
        snprintf(err, errlen, "the idempotency key is in use by another job");
        return 409;
    }
    pthread_mutex_lock(&s->mu);
    s->wake_seq++;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->mmu);
    s->submitted++;
    pthread_mutex_unlock(&s->mmu);
    return 0;
}

int carve__srv_enqueue(carve__srv *s, carve__job_row *row, char *err, size_t errlen) {
    if (s->shared) {
        if (srv_stopping(s)) {
            snprintf(err, errlen, "the server is shutting down");
            return 503;
        }
        return enqueue_shared(s, row, err, errlen);
    }
    /* reserve a queue slot, commit the row without holding srv->mu (the
     * commit fsyncs), then make the job visible to workers */
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        snprintf(err, errlen, "the server is shutting down");
        return 503;
    }
    if (s->qlen + s->pending >= carve__srvopt_int(s->opt, CARVE_SRVOPT_queue_max)) {
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_lock(&s->mmu);
        s->rejected_full++;
        pthread_mutex_unlock(&s->mmu);
        snprintf(err, errlen, "the job queue is full (%lld jobs); retry later",
                 (long long)carve__srvopt_int(s->opt, CARVE_SRVOPT_queue_max));
        return 429;
    }
    s->pending++;
    pthread_mutex_unlock(&s->mu);
    srv_job *j = job_new(s, row->id, row->created);
    /* durable before it is visible (and before the 202): synchronous=FULL */
    int rc = j ? s->store->put_job(s->store, row) : -1;
    if (rc < 0) snprintf(err, errlen, "%s", j ? carve__store_errmsg(s->store) : "out of memory");
    pthread_mutex_lock(&s->mu);
    s->pending--;
    if (rc) {
        pthread_mutex_unlock(&s->mu);
        if (j) carve__srv_job_unref(s, j);
        if (rc == 1) snprintf(err, errlen, "the idempotency key is in use by another job");
        return rc == 1 ? 409 : 500;
    }
    reg_add(s, j);
    queue_push(s, j);
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->mmu);
    s->submitted++;
    pthread_mutex_unlock(&s->mmu);
    return 0;
}

/* ---- the worker ------------------------------------------------------------------ */
static int job_progress(void *user, double f, const char *stage) {
    srv_job *j = user;
    carve__srv *s = j->srv;
    double now = carve__now();
    pthread_mutex_lock(&j->mu);
    j->progress = f;
    bool new_stage = stage && strcmp(stage, j->stage);
    if (new_stage) {
        snprintf(j->stage, sizeof j->stage, "%s", stage);
        if (j->nstages > 0) j->stage_t1[j->nstages - 1] = now;
        if (j->nstages < SRV_MAX_STAGES) {
            snprintf(j->stage_name[j->nstages], 32, "%s", stage);
            j->stage_t0[j->nstages] = now;
            j->stage_t1[j->nstages] = now;
            j->nstages++;
        }
    } else if (j->nstages > 0) j->stage_t1[j->nstages - 1] = now;
    int pct = (int)(f * 100);
    if (pct != j->last_pct || new_stage) {
        j->last_pct = pct;
        carve__ring *r = ring_for_push(j);
        if (r) carve__ring_push(r, carve__srv_wall(), CARVE__EV_PROGRESS, 0, f, j->stage);
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    /* the timeout is also enforced by the sweeper (engines that report
     * rarely); here it costs nothing */
    double limit = carve__srvopt_float(s->opt, CARVE_SRVOPT_job_timeout);
    if (now - j->started > limit) {
        pthread_mutex_lock(&s->mu);
        j->timed_out = true;
        pthread_mutex_unlock(&s->mu);
        return 1;
    }
    return 0;
}

static void job_log(void *user, int level, const char *msg) {
    srv_job *j = user;
    job_event(j, CARVE__EV_LOG, level, 0, msg);
    carve__srv_log(j->srv, level <= CARVE_LOG_INFO ? CARVE_LOG_DEBUG : level, j->id, NULL, "%s", msg);
}

static char *timings_json(srv_job *j, double total) {
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_putc(&b, '{');
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->nstages; i++) {
        /* the same stage may appear twice (sub-stages): sum */
        bool seen = false;
        for (int k = 0; k < i; k++) seen |= !strcmp(j->stage_name[k], j->stage_name[i]);
        if (seen) continue;
        double t = 0;
        for (int k = i; k < j->nstages; k++)
            if (!strcmp(j->stage_name[k], j->stage_name[i])) t += j->stage_t1[k] - j->stage_t0[k];
        carve__buf_putc(&b, '"');
        carve__buf_json_str(&b, j->stage_name[i]);
        carve__buf_printf(&b, "\":%.4f,", t);
    }
    pthread_mutex_unlock(&j->mu);
    carve__buf_printf(&b, "\"total\":%.4f}", total);
    return carve__buf_take(&b, NULL);
}

char *carve__srv_live_timings(srv_job *j) {
    carve__srv *s = j->srv;
    pthread_mutex_lock(&s->mu);
    double started = j->started;
    pthread_mutex_unlock(&s->mu);
    return timings_json(j, started > 0 ? carve__now() - started : 0);
}

static char *log_json(srv_job *j) {
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_putc(&b, '[');
    pthread_mutex_lock(&j->mu);
    bool first = true;
    const carve__ring *ring = carve__srv_job_ring(j);
    for (uint64_t q = carve__ring_first(ring); q < ring->next_seq; q++) {
        const carve__event *e = carve__ring_get(ring, q);
        if (!e || e->kind != CARVE__EV_LOG) continue;
        carve__buf_printf(&b, "%s{\"seq\":%llu,\"time\":%.3f,\"level\":%d,\"msg\":\"", first ? "" : ",",
                          (unsigned long long)e->seq, e->time, e->level);
        carve__buf_json_str(&b, e->text);
        carve__buf_puts(&b, "\"}");
        first = false;
    }
    pthread_mutex_unlock(&j->mu);
    carve__buf_putc(&b, ']');
    return carve__buf_take(&b, NULL);
}

/* One run of a job: what run_job's steps make and hand on. */
typedef struct job_run {
    carve__job_row row;
    carve_ctx *ctx;       /* published as j->ctx while it runs */
    carve_image *img;
    carve_palette *pal;
    char *svg;
    size_t svg_len;
    double seconds;       /* the engine's */
    char *errmsg;         /* malloc'd message of a failure */
} job_run;

/* The failure st with ctx's message (or text when not NULL). */
static carve_status run_fail(job_run *r, carve_status st, const char *text) {
    free(r->errmsg);
    r->errmsg = strdup(text ? text : carve_ctx_errmsg(r->ctx)[0] ? carve_ctx_errmsg(r->ctx) : carve_strerror(st));
    return st;
}

/* The job's ctx: a clone of the server's options with the job's own, its
 * progress and log callbacks, published under mu so DELETE, the sweeper and
 * shutdown can cancel it. */
static carve_status run_setup(carve__srv *s, srv_job *j, job_run *r) {
    if (!(r->ctx = carve_ctx_clone(s->cfg))) {
        r->errmsg = strdup("out of memory");
        return CARVE_ERR_NOMEM;
    }
    carve_ctx_set_option(r->ctx, "keep_intermediates", "true");
    carve_status st = apply_job_options(r->ctx, r->row.options);
    if (st) return run_fail(r, st, NULL);
    carve_ctx_set_progress(r->ctx, job_progress, j);
    carve_ctx_set_log(r->ctx, job_log, j);
    pthread_mutex_lock(&s->mu);
    j->ctx = r->ctx;
    if (j->cancel || j->requeue) carve_ctx_cancel(r->ctx);
    pthread_mutex_unlock(&s->mu);
    return CARVE_OK;
}

/* The stored upload decoded, and the job's own palette when it has one. */
static carve_status run_input(carve__srv *s, srv_job *j, job_run *r) {
    char *input = NULL;
    size_t input_len = 0;
    int fr = store_get_file(s, j, "input", &input, &input_len);
    if (fr)
        return run_fail(r, fr > 0 ? CARVE_ERR_NOT_FOUND : CARVE_ERR_IO,
                        fr > 0 ? "the job's input file is missing" : carve__store_errmsg(s->store));
    carve_ctx_log(r->ctx, CARVE_LOG_INFO, "decoding %zu bytes", input_len);
    carve_status st = carve_image_load_memory(r->ctx, input, input_len, "upload", &r->img);
    free(input);
    if (st) return run_fail(r, st, NULL);
    carve_ctx_log(r->ctx, CARVE_LOG_INFO, "image %dx%d", carve_image_width(r->img), carve_image_height(r->img));
    if (r->row.palette &&
        (st = carve_palette_parse(r->ctx, r->row.palette, strlen(r->row.palette), "job palette", &r->pal)))
        return run_fail(r, st, NULL);
    return CARVE_OK;
}

/* report.json: the pipeline's run report, or a small one of the synthetic
 * engine's (size, timings). */
static void run_report(carve__srv *s, srv_job *j, job_run *r) {
    const char *report = carve_ctx_report_json(r->ctx);
    char *tj = timings_json(j, r->seconds);
    carve__buf rb;
    carve__buf_init(&rb);
    if (report) carve__buf_puts(&rb, report);
    else
        carve__buf_printf(&rb, "{\"engine\":\"%s\",\"width\":%d,\"height\":%d,\"svg_bytes\":%zu,\"timings\":%s}",
                          s->engine == synthetic_engine ? "synthetic" : "pipeline", carve_image_width(r->img),
                          carve_image_height(r->img), r->svg_len, tj ? tj : "{}");
    free(tj);
    char *rtext = carve__buf_take(&rb, NULL);
    if (rtext) store_put_result(s, j, "report.json", rtext, strlen(rtext));
    free(rtext);
}

/* The files, before (in the caller) the terminal state: result.svg, the
 * report and artifact-<phase>.png of each intermediate kept. */
static carve_status run_results(carve__srv *s, srv_job *j, job_run *r) {
    static const char *phases[] = {"sanitize", "steer", "matte", "chroma"};
    if (store_put_result(s, j, "result.svg", r->svg, r->svg_len))
        return run_fail(r, CARVE_ERR_IO, carve__store_errmsg(s->store));
    run_report(s, j, r);
    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
        const carve_image *im = carve_ctx_intermediate(r->ctx, phases[i]);
        void *png = NULL;
        size_t plen = 0;
        if (im && carve_image_save_memory(r->ctx, im, ".png", &png, &plen) == CARVE_OK) {
            char name[64];
            snprintf(name, sizeof name, "artifact-%s.png", phases[i]);
            store_put_result(s, j, name, png, plen);
        }
        carve_free(png);
    }
    return CARVE_OK;
}

/* The final state from the run's status: a cancelled run that timed out is
 * failed (timeout); one interrupted by a stopping server runs again. */
static int run_outcome(carve__srv *s, srv_job *j, job_run *r, carve_status *st) {
    if (r->ctx) {
        pthread_mutex_lock(&s->mu);
        j->ctx = NULL;
        bool requeue = j->requeue, cancel = j->cancel, timed_out = j->timed_out;
        pthread_mutex_unlock(&s->mu);
        if (*st == CARVE_ERR_CANCELLED && timed_out) {
            char m[160];
            snprintf(m, sizeof m, "the job ran longer than job_timeout (%g s)",
                     carve__srvopt_float(s->opt, CARVE_SRVOPT_job_timeout));
            *st = run_fail(r, CARVE_ERR_TIMEOUT, m);
        } else if (*st == CARVE_ERR_CANCELLED && requeue && !cancel) {
            free(r->errmsg);
            r->errmsg = NULL;
            return CARVE__JOB_QUEUED;
        }
    }
    if (*st == CARVE_OK) return CARVE__JOB_DONE;
    return *st == CARVE_ERR_CANCELLED ? CARVE__JOB_CANCELLED : CARVE__JOB_FAILED;
}

/* Runs one job: its row, ctx, input, the engine, the files.  Returns the
 * final state, or CARVE__JOB_QUEUED when it must run again (server
 * stopping); *errmsg (malloc'd) says why it failed. */
static int run_job(carve__srv *s, srv_job *j, char **errmsg, carve_status *st_out) {
    job_run r;
    memset(&r, 0, sizeof r);
    int gr = store_get_job(s, j, &r.row);
    if (gr) {
        *errmsg = strdup(gr > 0 ? "job row vanished" : carve__store_errmsg(s->store));
        *st_out = CARVE_ERR_INTERNAL;
        return CARVE__JOB_FAILED;
    }
    carve_status st = run_setup(s, j, &r);
    if (!st) st = run_input(s, j, &r);
    if (!st) {
        double t0 = carve__now();
        st = s->engine(s, r.ctx, r.img, r.pal, &r.svg, &r.svg_len);
        r.seconds = carve__now() - t0;
        if (st) run_fail(&r, st, NULL);
    }
    if (!st) st = run_results(s, j, &r);
    int state = run_outcome(s, j, &r, &st);
    carve_ctx_destroy(r.ctx);
    carve_image_destroy(r.img);
    carve_palette_destroy(r.pal);
    carve__job_row_free(&r.row);
    carve_free(r.svg);
    *errmsg = r.errmsg;
    *st_out = st;
    return state;
}

/* The next job of the in-memory queue (single-node store), with the
 * worker's reference; NULL when carved stops. */
static srv_job *next_local(carve__srv *s) {
    pthread_mutex_lock(&s->mu);
    while (!s->stopping && !s->qhead) pthread_cond_wait(&s->qcv, &s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    srv_job *j = s->qhead;
    queue_remove(s, j);
    j->state = CARVE__JOB_RUNNING;
    j->started = carve__now();
    j->refs++; /* the worker's */
    s->running++;
    pthread_mutex_unlock(&s->mu);
    if (s->store->set_state(s->store, j->id, CARVE__JOB_QUEUED, CARVE__JOB_RUNNING, carve__srv_wall(), NULL, NULL,
                            NULL, NULL) < 0)
        carve__srv_log(s, CARVE_LOG_ERROR, j->id, NULL, "%s", carve__store_errmsg(s->store));
    return j;
}

/* Shared store: claims the oldest queued job of all nodes (SKIP LOCKED)
 * and registers it locally (DELETE, SSE, heartbeats find it there). */
static srv_job *claim_one(carve__srv *s) {
    carve__job_row row;
    char tok[33];
    int r = s->store->claim(s->store, s->node, s->lease_s, &row, tok);
    store_health(s, r);
    if (r) return NULL;
    srv_job *j = job_new(s, row.id, row.created);
    if (!j) s->store->release(s->store, row.id, tok);
    carve__job_row_free(&row);
    if (!j) return NULL;
    memcpy(j->token, tok, sizeof j->token);
    pthread_mutex_lock(&s->mu);
    j->state = CARVE__JOB_RUNNING;
    j->started = carve__now();
    j->refs++; /* the worker's */
    s->running++;
    reg_add(s, j);
    pthread_mutex_unlock(&s->mu);
    return j;
}

static srv_job *next_shared(carve__srv *s) {
    for (;;) {
        pthread_mutex_lock(&s->mu);
        unsigned seq = s->wake_seq;
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop) return NULL;
        srv_job *j = claim_one(s);
        if (j) return j;
        /* sleep until a NOTIFY or a local submission (or the poll interval) */
        pthread_mutex_lock(&s->mu);
        if (!s->stopping && s->wake_seq == seq) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            double end = until.tv_sec + until.tv_nsec * 1e-9 + (s->store_down ? STORE_RETRY_US * 1e-6 : SHARED_POLL_S);
            until.tv_sec = (time_t)end;
            until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
            pthread_cond_timedwait(&s->qcv, &s->mu, &until);
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* Writes the outcome to the store; returns the final state as this node
 * sees it (CARVE__JOB_QUEUED: the job runs again, here or elsewhere). */
static int commit_outcome(carve__srv *s, srv_job *j, int final, carve_status st, const char *msg, const char *tj,
                          const char *lj) {
    pthread_mutex_lock(&s->mu);
    bool del = j->cancel;
    pthread_mutex_unlock(&s->mu);
    int r;
    const char *kind = st ? carve__srv_status_kind(st) : NULL;
    if (!s->shared) {
        if (final == CARVE__JOB_QUEUED)
            s->store->set_state(s->store, j->id, CARVE__JOB_RUNNING, CARVE__JOB_QUEUED, 0, NULL, NULL, NULL, NULL);
        else if (del) {
            s->store->delete_job(s->store, j->id, 1);
            return CARVE__JOB_CANCELLED;
        } else if (s->store->set_state(s->store, j->id, CARVE__JOB_RUNNING, final, carve__srv_wall(), msg, kind, tj,
                                       lj) < 0)
            carve__srv_log(s, CARVE_LOG_ERROR, j->id, NULL, "%s", carve__store_errmsg(s->store));
        return final;
    }
    if (final == CARVE__JOB_QUEUED) {
        while ((r = s->store->release(s->store, j->id, j->token)) < 0 && keep_trying(s, j, r)) {}
        return CARVE__JOB_QUEUED;
    }
    if (del) {
        while ((r = s->store->delete_job(s->store, j->id, 1)) < 0 && keep_trying(s, j, r)) {}
        return CARVE__JOB_CANCELLED;
    }
    while ((r = s->store->finish(s->store, j->id, j->token, final, carve__srv_wall(), msg, kind, tj, lj)) < 0 &&
           keep_trying(s, j, r)) {}
    if (r == 0) {
        store_health(s, 0);
        return final;
    }
    carve__srv_log(s, CARVE_LOG_WARN, j->id, NULL,
                   r > 0 ? "lease lost (another node owns the job now): this attempt's result is discarded"
                         : "the store stayed unreachable until carved stopped: the job will run again");
    return CARVE__JOB_QUEUED;
}

static void *worker_main(void *arg) {
    carve__srv *s = arg;
    for (;;) {
        srv_job *j = s->shared ? next_shared(s) : next_local(s);
        if (!j) break;
        job_event(j, CARVE__EV_STATE, 0, 0, "running");
        carve__srv_log(s, CARVE_LOG_INFO, j->id, s->shared ? ",\"store\":\"shared\"" : NULL, "job started");

        char *msg = NULL;
        carve_status st = CARVE_OK;
        double t0 = carve__now();
        int final = run_job(s, j, &msg, &st);
        double dt = carve__now() - t0;
        char *tj = timings_json(j, dt);
        char *lj = log_json(j);

        /* store first (outside srv->mu: commits fsync), memory after */
        final = commit_outcome(s, j, final, st, msg, tj, lj);
        if (carve__job_terminal(final)) carve__hook_wake(s); /* its webhook, if any, is due now */
        pthread_mutex_lock(&s->mu);
        j->state = final;
        reg_remove(s, j);
        s->running--;
        s->avg_job_s = 0.8 * s->avg_job_s + 0.2 * dt;
        s->drain_t[s->drain_n++ % SRV_DRAIN_SAMPLES] = carve__now();
        job_unref_locked(j); /* the registry's */
        pthread_mutex_unlock(&s->mu);

        if (final != CARVE__JOB_QUEUED) {
            pthread_mutex_lock(&s->mmu);
            s->finished_state[final]++;
            if (st && st <= CARVE_ERR_INTERNAL) s->errors_kind[st]++;
            hist_add(&s->job_hist, dt);
            pthread_mutex_unlock(&s->mmu);
            pthread_mutex_lock(&j->mu);
            int ns = j->nstages;
            char names[SRV_MAX_STAGES][32];
            double dur[SRV_MAX_STAGES];
            for (int i = 0; i < ns; i++) {
                memcpy(names[i], j->stage_name[i], 32);
                dur[i] = j->stage_t1[i] - j->stage_t0[i];
            }
            pthread_mutex_unlock(&j->mu);
            for (int i = 0; i < ns; i++) metrics_phase(s, names[i], dur[i]);
            if (msg) job_event(j, CARVE__EV_LOG, CARVE_LOG_ERROR, 0, msg);
            char extra[160];
            snprintf(extra, sizeof extra, ",\"state\":\"%s\",\"seconds\":%.3f%s%s%s", carve__job_state_name(final), dt,
                     st ? ",\"kind\":\"" : "", st ? carve__srv_status_kind(st) : "", st ? "\"" : "");
            carve__srv_log(s, final == CARVE__JOB_FAILED ? CARVE_LOG_WARN : CARVE_LOG_INFO, j->id, extra,
                           "job %s%s%s", carve__job_state_name(final), msg ? ": " : "", msg ? msg : "");
        }
        job_finish_event(j, final);
        free(msg);
        free(tj);
        free(lj);
        carve__srv_job_unref(s, j); /* the worker's */
    }
    carve_thread_cleanup();
    return NULL;
}

/* ---- DELETE ------------------------------------------------------------------------ */
/* Shared store, a job this node does not run: deleted when queued or
 * finished; when another node runs it, flagged + NOTIFY, then we wait for
 * that node to stop it and delete the row. */
static int cancel_remote(carve__srv *s, const char *id, double wait_s) {
    int r = s->store->request_cancel(s->store, id);
    store_health(s, r < 0 ? -1 : 0);
    if (r < 0) return 3;
    if (r == 0) carve__srv_log(s, CARVE_LOG_INFO, id, NULL, "job deleted");
    if (r != 2) return r;
    carve__srv_log(s, CARVE_LOG_INFO, id, NULL, "cancelling a job running on another node");
    double end = carve__now() + wait_s;
    while (carve__now() < end) {
        usleep(20000);
        carve__job_row row;
        int g = s->store->get_job(s->store, id, &row);
        if (g == 0) carve__job_row_free(&row);
        if (g == 1) return 0;
    }
    return 2;
}

static void on_remote_cancel(void *user, const char *id) {
    carve__srv *s = user;
    pthread_mutex_lock(&s->mu);
    srv_job *j = id ? reg_find(s, id) : NULL;
    if (j && !j->cancel) {
        j->cancel = true;
        if (j->ctx) carve_ctx_cancel(j->ctx);
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_remote_job(void *user) {
    carve__srv *s = user;
    pthread_mutex_lock(&s->mu);
    s->wake_seq++;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->mu);
}

int carve__srv_cancel_delete(carve__srv *s, const char *id, double wait_s) {
    pthread_mutex_lock(&s->mu);
    srv_job *j = reg_find(s, id);
    if (!j && s->shared) {
        pthread_mutex_unlock(&s->mu);
        return cancel_remote(s, id, wait_s);
    }
    if (!j) {
        pthread_mutex_unlock(&s->mu);
        int r = s->store->delete_job(s->store, id, 1);
        if (r == 0) carve__srv_log(s, CARVE_LOG_INFO, id, NULL, "job deleted");
        return r == 0 ? 0 : 1;
    }
    j->cancel = true;
    if (j->state == CARVE__JOB_QUEUED && queue_remove(s, j)) {
        j->state = CARVE__JOB_CANCELLED;
        reg_remove(s, j);
        pthread_mutex_unlock(&s->mu);
        /* no worker can take it now: commit (fsync) without holding mu */
        s->store->delete_job(s->store, id, 1);
        pthread_mutex_lock(&s->mmu);
        s->finished_state[CARVE__JOB_CANCELLED]++;
        pthread_mutex_unlock(&s->mmu);
        job_finish_event(j, CARVE__JOB_CANCELLED);
        carve__srv_log(s, CARVE_LOG_INFO, id, NULL, "queued job cancelled and deleted");
        carve__srv_job_unref(s, j); /* the registry's */
        return 0;
    }
    /* running: the worker deletes it when the engine returns */
    if (j->ctx) carve_ctx_cancel(j->ctx);
    j->refs++;
    pthread_mutex_unlock(&s->mu);
    carve__srv_log(s, CARVE_LOG_INFO, id, NULL, "cancelling running job");
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double end = until.tv_sec + until.tv_nsec * 1e-9 + wait_s;
    until.tv_sec = (time_t)end;
    until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
    pthread_mutex_lock(&j->mu);
    while (!j->finished)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT) break;
    bool fin = j->finished;
    pthread_mutex_unlock(&j->mu);
    carve__srv_job_unref(s, j);
    /* the worker may have committed its final state just before it saw the
     * cancel: the row is terminal then, delete it (no-op when gone) */
    if (fin) s->store->delete_job(s->store, id, 1);
    return fin ? 0 : 2;
}

/* ---- leases (shared store) ------------------------------------------------------------ */
typedef struct hb_item {
    srv_job *j;
    char id[33], token[33], stage[32];
    double progress;
    char *log; /* the log so far when it has new lines (others stream it) */
} hb_item;

/* Renews the lease of every job this node runs (a lost lease stops the
 * job here; a cancel flag missed on NOTIFY is seen here). */
static void heartbeats(carve__srv *s) {
    int cap = s->nworkers > 0 ? s->nworkers : 1, n = 0;
    hb_item *it = calloc((size_t)cap, sizeof *it);
    if (!it) return;
    pthread_mutex_lock(&s->mu);
    for (size_t h = 0; h < s->table_size && n < cap; h++)
        for (srv_job *j = s->table[h]; j && n < cap; j = j->hnext)
            if (j->state == CARVE__JOB_RUNNING && j->token[0] && !j->lease_lost) {
                j->refs++;
                it[n].j = j;
                memcpy(it[n].id, j->id, 33);
                memcpy(it[n].token, j->token, 33);
                pthread_mutex_lock(&j->mu);
                it[n].progress = j->progress;
                memcpy(it[n].stage, j->stage, sizeof it[n].stage);
                uint64_t seq = carve__srv_job_ring(j)->next_seq;
                pthread_mutex_unlock(&j->mu);
                if (seq != j->hb_seq) {
                    j->hb_seq = seq;
                    it[n].log = (char *)1; /* built below, outside srv->mu */
                }
                n++;
            }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        bool cancel = false;
        if (it[i].log) it[i].log = log_json(it[i].j);
        int r = s->store->heartbeat(s->store, it[i].id, it[i].token, s->lease_s, it[i].progress, it[i].stage,
                                    it[i].log, &cancel);
        free(it[i].log);
        store_health(s, r < 0 ? -1 : 0);
        pthread_mutex_lock(&s->mu);
        srv_job *j = it[i].j;
        if (r == 1 && !j->lease_lost) {
            j->lease_lost = j->requeue = true;
            if (j->ctx) carve_ctx_cancel(j->ctx);
        }
        if (r == 0 && cancel && !j->cancel) {
            j->cancel = true;
            if (j->ctx) carve_ctx_cancel(j->ctx);
        }
        job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
        if (r == 1) carve__srv_log(s, CARVE_LOG_WARN, it[i].id, NULL, "lease lost: stopping this attempt");
    }
    free(it);
}

/* Jobs whose node stopped renewing: queued again (or failed after
 * max_attempts).  Every node does it; the UPDATE is its own arbiter. */
static void expire_leases(carve__srv *s) {
    int rq = 0, fl = 0;
    int r = s->store->expire(s->store, (int)carve__srvopt_int(s->opt, CARVE_SRVOPT_max_attempts), &rq, &fl);
    if (r) return;
    if (rq || fl) {
        char extra[96];
        snprintf(extra, sizeof extra, ",\"requeued\":%d,\"failed\":%d", rq, fl);
        carve__srv_log(s, CARVE_LOG_WARN, NULL, extra, "expired leases (a node stopped while running jobs)");
    }
}

/* ---- sweeper --------------------------------------------------------------------- */
static void *sweeper_main(void *arg) {
    carve__srv *s = arg;
    double next_sweep = 0, next_hb = 0, next_expire = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        if (s->shared && carve__now() >= next_hb) {
            double now = carve__now();
            next_hb = now + fmin(s->lease_s / 3, HEARTBEAT_MAX_S);
            bool exp = now >= next_expire;
            if (exp) next_expire = now + s->lease_s / 2;
            pthread_mutex_unlock(&s->mu);
            heartbeats(s);
            if (exp) expire_leases(s);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        /* timeouts */
        double now = carve__now(), limit = carve__srvopt_float(s->opt, CARVE_SRVOPT_job_timeout);
        for (size_t h = 0; h < s->table_size; h++)
            for (srv_job *j = s->table[h]; j; j = j->hnext)
                if (j->state == CARVE__JOB_RUNNING && j->ctx && now - j->started > limit && !j->timed_out) {
                    j->timed_out = true;
                    carve_ctx_cancel(j->ctx);
                }
        if (now >= next_sweep) {
            next_sweep = now + carve__srvopt_float(s->opt, CARVE_SRVOPT_sweep_interval);
            pthread_mutex_unlock(&s->mu);
            double before = carve__srv_wall() - carve__srvopt_float(s->opt, CARVE_SRVOPT_retention);
            long long n = 0;
            for (int st = CARVE__JOB_DONE; st < CARVE__JOB_NSTATES; st++) {
                for (int round = 0; round < 64; round++) {
                    char ids[128][33];
                    int k = 0;
                    if (s->store->list_ids(s->store, st, before, ids, 128, &k)) {
                        carve__srv_log(s, CARVE_LOG_ERROR, NULL, NULL, "retention: %s", carve__store_errmsg(s->store));
                        break;
                    }
                    for (int i = 0; i < k; i++)
                        if (s->store->delete_job(s->store, ids[i], 0) == 0) n++;
                    if (k < 128) break;
                }
            }
            if (n) {
                pthread_mutex_lock(&s->mmu);
                s->swept += n;
                pthread_mutex_unlock(&s->mmu);
                char extra[64];
                snprintf(extra, sizeof extra, ",\"deleted\":%lld", n);
                carve__srv_log(s, CARVE_LOG_DEBUG, NULL, extra, "retention sweep");
            }
            pthread_mutex_lock(&s->mu);
            continue;
        }
        double wait = fmin(0.25, next_sweep - now);
        if (s->shared) wait = fmin(wait, next_hb - now);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double end = until.tv_sec + until.tv_nsec * 1e-9 + (wait > 0.001 ? wait : 0.001);
        until.tv_sec = (time_t)end;
        until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&s->sweep_cv, &s->mu, &until);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------- */
carve_status carve__srv_create(carve_ctx *cfg, const carve__srvopts *opt, carve__srv **out) {
    *out = NULL;
    carve__srv *s = calloc(1, sizeof *s);
    if (!s) return carve_ctx_set_error(cfg, CARVE_ERR_NOMEM, 0, "out of memory");
    s->cfg = carve_ctx_clone(cfg);
    s->opt = carve__srvopts_clone(opt);
    s->table_size = 4096;
    s->table = calloc(s->table_size, sizeof *s->table);
    if (!s->cfg || !s->opt || !s->table) {
        carve_ctx_destroy(s->cfg);
        carve__srvopts_destroy(s->opt);
        free(s->table);
        free(s);
        return carve_ctx_set_error(cfg, CARVE_ERR_NOMEM, 0, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->mmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    pthread_cond_init(&s->sweep_cv, NULL);
    pthread_cond_init(&s->hook_cv, NULL);
    s->log_level = log_level_of(carve__srvopt_enum(s->opt, CARVE_SRVOPT_log_level));
    s->avg_job_s = 5;
    bool synthetic = carve__srvopt_enum(s->opt, CARVE_SRVOPT_engine) == CARVE__ENGINE_SYNTHETIC;
    s->engine = synthetic ? synthetic_engine : pipeline_engine;
    *out = s;
    return CARVE_OK;
}

int carve__srv_port(const carve__srv *s) { return s ? s->port : 0; }

/* Re-queues interrupted jobs and loads the queue from the store. */
static carve_status recover(carve__srv *s, carve_ctx *errctx) {
    char (*ids)[33] = malloc(1024 * sizeof *ids);
    if (!ids) return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    int n = 0, requeued = 0, loaded = 0, gave_up = 0;
    for (;;) {
        if (s->store->list_ids(s->store, CARVE__JOB_RUNNING, 0, ids, 1024, &n)) goto fail;
        for (int i = 0; i < n; i++) {
            carve__job_row row;
            if (s->store->get_job(s->store, ids[i], &row)) continue;
            if (row.attempts >= carve__srvopt_int(s->opt, CARVE_SRVOPT_max_attempts)) {
                char m[128];
                snprintf(m, sizeof m, "the job was interrupted %d times (carved stopped while running it)",
                         row.attempts);
                s->store->set_state(s->store, ids[i], CARVE__JOB_RUNNING, CARVE__JOB_FAILED, carve__srv_wall(), m,
                                    "internal", NULL, NULL);
                gave_up++;
            } else {
                s->store->set_state(s->store, ids[i], CARVE__JOB_RUNNING, CARVE__JOB_QUEUED, 0, NULL, NULL, NULL,
                                    NULL);
                requeued++;
            }
            carve__job_row_free(&row);
        }
        if (n < 1024) break;
    }
    /* all queued jobs, oldest first (they may exceed queue_max: admitted jobs
     * are never dropped) */
    {
        long long counts[CARVE__JOB_NSTATES];
        if (s->store->count_states(s->store, counts)) goto fail;
        int cap = (int)counts[CARVE__JOB_QUEUED] + 16, total = 0;
        char (*all)[33] = malloc((size_t)cap * sizeof *all);
        if (!all) {
            free(ids);
            return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "recovery: out of memory");
        }
        if (s->store->list_ids(s->store, CARVE__JOB_QUEUED, 0, all, cap, &total)) {
            free(all);
            goto fail;
        }
        for (int i = 0; i < total; i++) {
            srv_job *j = job_new(s, all[i], 0);
            if (!j) continue;
            carve__job_row row;
            if (!s->store->get_job(s->store, all[i], &row)) {
                j->created = row.created;
                carve__job_row_free(&row);
            }
            reg_add(s, j);
            queue_push(s, j);
                    loaded++;
        }
        free(all);
    }
    free(ids);
    if (requeued || loaded || gave_up) {
        char extra[160];
        snprintf(extra, sizeof extra, ",\"requeued\":%d,\"queued\":%d,\"failed\":%d", requeued, loaded, gave_up);
        carve__srv_log(s, CARVE_LOG_INFO, NULL, extra, "recovered jobs from the store");
    }
    return CARVE_OK;
fail:
    free(ids);
    return carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "recovery: %s", carve__store_errmsg(s->store));
}

/* SQLite under data_dir, or PostgreSQL when option store is a URI. */
static carve_status open_store(carve__srv *s, carve_ctx *errctx) {
    const char *uri = carve__srvopt_str(s->opt, CARVE_SRVOPT_store);
    if (!uri || !*uri)
        return carve__store_sqlite_open(carve__srvopt_str(s->opt, CARVE_SRVOPT_data_dir), errctx, &s->store);
    if (strncmp(uri, "postgresql://", 13) && strncmp(uri, "postgres://", 11))
        return carve_ctx_set_error(errctx, CARVE_ERR_CONFIG, 0,
                           "store: not a postgresql:// URI (leave it empty for SQLite under data_dir)");
#if CARVE_SRV_HAVE_PG
    int nc = (int)carve__srvopt_int(s->opt, CARVE_SRVOPT_store_connections);
    if (nc <= 0) nc = (int)carve__srvopt_int(s->opt, CARVE_SRVOPT_workers) + 4;
    carve_status st = carve__store_pg_open(uri, nc, errctx, &s->store);
    if (st) return carve_ctx_set_error(errctx, st, 1, "store");
    s->shared = true;
    s->lease_s = carve__srvopt_float(s->opt, CARVE_SRVOPT_lease_seconds);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(s->node, sizeof s->node, "%s:%d", host, (int)getpid());
    s->store->set_listener(s->store, on_remote_job, on_remote_cancel, s);
    return CARVE_OK;
#else
    return carve_ctx_set_error(errctx, CARVE_ERR_UNSUPPORTED, 0, "store: this carved was built without libpq (PostgreSQL)");
#endif
}

carve_status carve__srv_start(carve__srv *s, carve_ctx *errctx) {
    s->start_time = carve__srv_wall();
    carve_status st = open_store(s, errctx);
    if (st) return st;
    if (!s->shared && (st = recover(s, errctx))) return st;
    s->nworkers = (int)carve__srvopt_int(s->opt, CARVE_SRVOPT_workers);
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers) return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    s->started = true;
    for (int i = 0; i < s->nworkers; i++)
        if (pthread_create(&s->workers[i], NULL, worker_main, s)) {
            s->nworkers = i;
            carve__srv_stop(s);
            return carve_ctx_set_error(errctx, CARVE_ERR_INTERNAL, 0, "cannot start worker threads");
        }
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) == 0) s->sweeper_started = true;
    if (carve__hook_start(s)) carve__srv_log(s, CARVE_LOG_ERROR, NULL, NULL, "cannot start the webhook thread");
    st = carve__tunings_start(s, errctx);
    if (!st) st = carve__http_start(s, errctx);
    if (st) {
        carve__srv_stop(s);
        return st;
    }
    char extra[512];
    snprintf(extra, sizeof extra,
             ",\"port\":%d,\"workers\":%d,\"engine\":\"%s\",\"pipeline_built\":%s,\"store\":\"%s\",\"node\":\"%s\"",
             s->port, s->nworkers, s->engine == synthetic_engine ? "synthetic" : "pipeline",
             "true", s->shared ? "postgresql" : "sqlite", s->node);
    carve__srv_log(s, CARVE_LOG_INFO, NULL, extra, "carved %s listening on %s", carve_version(),
                   carve__srvopt_str(s->opt, CARVE_SRVOPT_listen));
    return CARVE_OK;
}

void carve__srv_stop(carve__srv *s) {
    if (!s || !s->started) return;
    carve__http_stop(s);
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    for (size_t h = 0; h < s->table_size; h++)
        for (srv_job *j = s->table[h]; j; j = j->hnext)
            if (j->state == CARVE__JOB_RUNNING) {
                j->requeue = true;
                if (j->ctx) carve_ctx_cancel(j->ctx);
            }
    pthread_cond_broadcast(&s->qcv);
    pthread_cond_broadcast(&s->sweep_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL);
    if (s->sweeper_started) pthread_join(s->sweeper, NULL);
    carve__hook_stop(s);
    carve__tunings_stop(s);
    s->sweeper_started = false;
    s->nworkers = 0;
    s->started = false;
    carve__srv_log(s, CARVE_LOG_INFO, NULL, NULL, "carved stopped");
}

void carve__srv_destroy(carve__srv *s) {
    if (!s) return;
    carve__srv_stop(s);
    /* queued jobs left in memory (their rows stay queued in the store) */
    for (size_t h = 0; h < s->table_size; h++) {
        srv_job *j = s->table[h];
        while (j) {
            srv_job *n = j->hnext;
            job_unref_locked(j);
            j = n;
        }
    }
    free(s->table);
    free(s->workers);
    if (s->store) s->store->close(s->store);
    carve_ctx_destroy(s->cfg);
    carve__srvopts_destroy(s->opt);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->mmu);
    pthread_cond_destroy(&s->qcv);
    pthread_cond_destroy(&s->sweep_cv);
    pthread_cond_destroy(&s->hook_cv);
    free(s);
}
