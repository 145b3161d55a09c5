/* store.h — carved's storage interface.
 *
 * Every durable thing (job rows, state changes, custom palettes, job files)
 * goes through this table of function pointers, so that a backend for
 * several machines (PostgreSQL rows + object storage) can replace the
 * default SQLite (WAL) + files-in-data-dir one without touching the server.
 * All functions are thread-safe.  They return 0 on success, 1 when the row
 * does not exist (or a conditional update did not match), -1 on error.
 *
 * Errors: the message of a call that returned -1 lives with the store, like
 * SQLite's per-connection message: carve__store_errmsg(store) on the same
 * thread, until that thread's next failed call on the store.  A store is
 * shared by all of carved's threads, so the message is kept per thread (a
 * slot per store and thread, store_err.c), never in a global.  The open
 * functions, which have no store yet, set their message in an errctx. */
#ifndef CARVE_SRV_STORE_H
#define CARVE_SRV_STORE_H

#include "carve.h" /* carve_ctx, carve_status: the open functions' errors */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CARVE__JOB_QUEUED, CARVE__JOB_RUNNING, CARVE__JOB_DONE, CARVE__JOB_FAILED, CARVE__JOB_CANCELLED,
       CARVE__JOB_NSTATES };
const char *carve__job_state_name(int state);
int carve__job_state_parse(const char *name);
static inline int carve__job_terminal(int state) { return state >= CARVE__JOB_DONE; }

typedef struct carve__job_row {
    char id[33];
    int state;
    double created, started, finished; /* unix seconds; 0 = not yet */
    int attempts;                      /* times a worker started it */
    char *options;                     /* JSON object of the job's options */
    char *palette;                     /* custom palette text, or NULL */
    char *error;                       /* message when failed/cancelled, or NULL */
    char *error_kind;                  /* carve_strerror-like short kind, or NULL */
    char *timings;                     /* JSON object phase -> seconds, or NULL */
    char *log;                         /* JSON array of the last log lines, or NULL */
    double progress;                   /* shared stores: the running node's last heartbeat */
    char stage[32];
    /* webhook (the durable outbox is these columns: a terminal state with a
     * callback_url makes the delivery pending in the same statement) */
    char *webhook_url;                 /* put_job: where to POST the final state, or NULL */
    int webhook_state;                 /* CARVE__HOOK_* */
    int webhook_attempts;
    double webhook_at;                 /* delivered at, or next try */
    char *webhook_error;               /* last failure */
    char *idem_key;                    /* put_job: Idempotency-Key to record with the job, or NULL */
    char *idem_hash;                   /* put_job: sha256 (hex) of the request it keys */
} carve__job_row;

/* A page of GET /v1/jobs: newest first, keyset (created, id) descending. */
typedef struct carve__job_query {
    unsigned state_mask;  /* bit (1u << state) per wanted state; 0 = every state */
    double since;         /* only jobs created at or after (unix seconds); 0 = any */
    bool has_cursor;      /* only jobs strictly older than (after_created, after_id) */
    double after_created;
    char after_id[33];
    int limit;            /* rows wanted (the caller's array holds that many) */
} carve__job_query;

enum { CARVE__HOOK_NONE, CARVE__HOOK_PENDING, CARVE__HOOK_DELIVERED, CARVE__HOOK_FAILED };

/* Idempotency keys are remembered this long (seconds). */
#define CARVE__IDEM_TTL_S (24.0 * 3600.0)
void carve__job_row_free(carve__job_row *r);

typedef struct carve__store carve__store;
typedef struct carve__store_errs carve__store_errs;
struct carve__tuning_row;
/* The operations both stores implement under these names (X(op) each), for
 * their wiring: `#define WIRE(op) s->ops.op = op;` then
 * CARVE__STORE_COMMON_OPS(WIRE).  The others are wired by name. */
#define CARVE__STORE_COMMON_OPS(X)                                                                                      \
    X(put_job) X(get_job) X(set_state) X(list_ids) X(list_jobs) X(idem_get) X(idem_forget) X(count_states)            \
    X(webhook_claim) X(webhook_done) X(delete_job) X(put_file) X(get_file) X(put_palette) X(get_palette)              \
    X(delete_palette) X(list_palettes)
#define CARVE__STORE_TUNING_OPS(X)                                                                                     \
    X(put_tuning) X(get_tuning) X(update_tuning) X(list_tunings) X(delete_tuning) X(put_tuning_file)                  \
    X(get_tuning_file) X(put_trial) X(list_trials)
struct carve__store {
    /* inserts a new job row (state queued); with row->idem_key, records the
     * key in the same transaction and returns 1 (nothing inserted) when a
     * live (younger than CARVE__IDEM_TTL_S) row already holds that key */
    int (*put_job)(carve__store *s, const carve__job_row *row);
    int (*get_job)(carve__store *s, const char *id, carve__job_row *out);
    /* moves id to state `to` if its state is `from` (-1 = any); the other
     * fields are written when non-NULL / non-zero */
    int (*set_state)(carve__store *s, const char *id, int from, int to, double when, const char *error,
                     const char *error_kind, const char *timings, const char *log);
    /* ids in a state, oldest first, finished before `before` (0 = any) */
    int (*list_ids)(carve__store *s, int state, double before, char (*ids)[33], int max, int *n);
    /* one page of jobs (rows without their log), newest first; *n rows
     * filled (caller frees each with carve__job_row_free) */
    int (*list_jobs)(carve__store *s, const carve__job_query *q, carve__job_row *rows, int *n);
    /* the job recorded under an idempotency key younger than `since`:
     * 0 with id and hash filled, 1 when none */
    int (*idem_get)(carve__store *s, const char *key, double since, char id[33], char hash[65]);
    /* forgets an idempotency key (its job was deleted) */
    int (*idem_forget)(carve__store *s, const char *key);
    /* webhooks due at `now` (pending, next try passed), oldest first; each
     * is leased for lease_s (its next try moved on) so that one node
     * delivers it */
    int (*webhook_claim)(carve__store *s, double now, double lease_s, char (*ids)[33], int max, int *n);
    /* records a delivery attempt: state, attempts, when (delivered at, or the next try), error */
    int (*webhook_done)(carve__store *s, const char *id, int state, int attempts, double when, const char *error);
    /* counts[state] for every state */
    int (*count_states)(carve__store *s, long long counts[CARVE__JOB_NSTATES]);
    /* deletes the row if its state is terminal (or any state when force) and
     * then its files; 1 when not deleted.  force 2 also removes the files of
     * an id that has no row (an admission that failed after writing them) */
    int (*delete_job)(carve__store *s, const char *id, int force);
    /* job files ("input", "result.svg", "report.json", "artifact-sanitize.png") */
    int (*put_file)(carve__store *s, const char *id, const char *name, const void *data, size_t len);
    int (*get_file)(carve__store *s, const char *id, const char *name, char **data, size_t *len);
    /* optional (NULL: use get_file): the file opened read-only for streaming
     * (*fd owned by the caller) and its size; 0, 1 = no such file, -1 */
    int (*open_file)(carve__store *s, const char *id, const char *name, int *fd, uint64_t *size);
    /* palettes: name -> text */
    int (*put_palette)(carve__store *s, const char *name, const char *text);
    int (*get_palette)(carve__store *s, const char *name, char **text);
    int (*delete_palette)(carve__store *s, const char *name);
    /* JSON array of palette names (malloc'd) */
    int (*list_palettes)(carve__store *s, char **json);
    void (*close)(carve__store *s);

    /* ---- shared queue: several carved nodes on one store (PostgreSQL).
     * NULL in single-node stores (SQLite: the queue lives in memory). ---- */
    /* claims the oldest queued job for `node` with a lease of lease_s seconds:
     * state running, attempts+1, a new lease token (out->id, token filled);
     * 1 when nothing is queued */
    int (*claim)(carve__store *s, const char *node, double lease_s, carve__job_row *out, char token[33]);
    /* renews the lease and records progress (and the log so far, when not
     * NULL: other nodes stream it); *cancel set when a cancel was asked; 1
     * when the lease is lost (the job is someone else's now) */
    int (*heartbeat)(carve__store *s, const char *id, const char *token, double lease_s, double progress,
                     const char *stage, const char *log, bool *cancel);
    /* result files of the attempt holding `token` (served once it commits) */
    int (*put_file_fenced)(carve__store *s, const char *id, const char *token, const char *name, const void *data,
                           size_t len);
    /* the final state, only while `token` holds the lease (1 otherwise): a
     * result is committed once */
    int (*finish)(carve__store *s, const char *id, const char *token, int to, double when, const char *error,
                  const char *error_kind, const char *timings, const char *log);
    /* gives the job back to the queue (node stopping); fenced like finish */
    int (*release)(carve__store *s, const char *id, const char *token);
    /* re-queues jobs whose lease expired (their node died), or fails them
     * after max_attempts; counts what it did */
    int (*expire)(carve__store *s, int max_attempts, int *requeued, int *failed);
    /* DELETE from any node: a queued or finished job is deleted (0); a
     * running one is flagged and its node told (2); 1 when there is none */
    int (*request_cancel)(carve__store *s, const char *id);
    /* jobs waiting in the shared queue (an index-only count) */
    int (*count_queued)(carve__store *s, long long *n);
    /* 0 when the store answers */
    int (*ping)(carve__store *s);
    /* notifications from other nodes (called on the store's listener
     * thread): a job was queued (id NULL) or a cancel was asked (id) */
    void (*set_listener)(carve__store *s, void (*on_job)(void *user), void (*on_cancel)(void *user, const char *id),
                         void *user);
    /* tunings (docs/tune.md): a row per tuning, its uploaded files, and one
     * row per finished trial (what a restarted carved resumes from) */
    int (*put_tuning)(carve__store *s, const struct carve__tuning_row *row);
    int (*get_tuning)(carve__store *s, const char *id, struct carve__tuning_row *out);
    /* sets state, finished, best preset + score, trial count, error (NULL/0 = keep) */
    int (*update_tuning)(carve__store *s, const char *id, int state, double finished, const char *best,
                         double best_score, int trials, const char *error);
    /* ids in a state, oldest first */
    int (*list_tunings)(carve__store *s, int state, char (*ids)[33], int max, int *n);
    int (*delete_tuning)(carve__store *s, const char *id);
    int (*put_tuning_file)(carve__store *s, const char *id, const char *name, const void *data, size_t len);
    int (*get_tuning_file)(carve__store *s, const char *id, const char *name, char **data, size_t *len);
    /* trial `index` (0, 1, ... in order) with its score and JSON object;
     * 1 when the tuning's row is gone (deleted through another node) */
    int (*put_trial)(carve__store *s, const char *id, int index, double score, const char *json);
    /* the trials in index order: scores (malloc'd *scores, *n) and a JSON array of their objects */
    int (*list_trials)(carve__store *s, const char *id, double **scores, int *n, char **json);
    /* optional (shared stores; NULL in SQLite): the right to run tuning id,
     * held by this node until unlock_tuning or until it dies: 0 held, 1
     * another node runs it, -1 error.  One tuning at a time per store. */
    int (*lock_tuning)(carve__store *s, const char *id);
    void (*unlock_tuning)(carve__store *s, const char *id);

    /* the per-thread error messages (store_err.c); set up by the backend's
     * open (carve__store_errs_init), torn down by its close */
    carve__store_errs *errs;
};

/** The message of the calling thread's last failed call on s ("" when it
 *  had none).  Owned by s; valid until this thread's next call on s. */
const char *carve__store_errmsg(const carve__store *s);

/* for the backends (store_err.c) */
int carve__store_errs_init(carve__store *s);  /* 0, -1 out of memory */
void carve__store_errs_fini(carve__store *s); /* last thing of close: every other thread is done with s */
/** Sets the calling thread's message on s (printf-style; trailing newlines
 *  dropped).  s NULL: nothing (a caller that wants no message). */
void carve__store_seterr(carve__store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct carve__tuning_row {
    char id[33];
    int state;           /* CARVE__JOB_* */
    double created, finished;
    char *request;       /* JSON: options, trials, seed, time_limit, pairs */
    char *best;          /* best preset JSON, or NULL */
    double best_score;
    int trials;          /* finished evaluations */
    char *error;
} carve__tuning_row;
void carve__tuning_row_free(carve__tuning_row *r);

/** Opens (creating) the SQLite store in dir: dir/carved.db (WAL,
 *  synchronous=FULL) and dir/jobs/<id>/ for files, into *out.  CARVE_OK, or
 *  CARVE_ERR_IO (CARVE_ERR_NOMEM) with the message in errctx. */
carve_status carve__store_sqlite_open(const char *dir, carve_ctx *errctx, carve__store **out);

#endif
