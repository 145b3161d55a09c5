/* store.h — carved's storage interface.
 *
 * Every durable thing (job rows, state changes, custom palettes, job files)
 * goes through this table of function pointers, so that a backend for
 * several machines (PostgreSQL rows + object storage) can replace the
 * default SQLite (WAL) + files-in-data-dir one without touching the server.
 * All functions are thread-safe.  They return 0 on success, 1 when the row
 * does not exist (or a conditional update did not match), -1 on error
 * (message in err, which may be NULL). */
#ifndef CARVE_SRV_STORE_H
#define CARVE_SRV_STORE_H

#include <stdbool.h>
#include <stddef.h>

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

/* Idempotency keys are remembered this long (seconds). */
#define CARVE__IDEM_TTL_S (24.0 * 3600.0)
void carve__job_row_free(carve__job_row *r);

typedef struct carve__store carve__store;
struct carve__store {
    /* inserts a new job row (state queued); with row->idem_key, records the
     * key in the same transaction and returns 1 (nothing inserted) when a
     * live (younger than CARVE__IDEM_TTL_S) row already holds that key */
    int (*put_job)(carve__store *s, const carve__job_row *row, char *err, size_t errlen);
    int (*get_job)(carve__store *s, const char *id, carve__job_row *out, char *err, size_t errlen);
    /* moves id to state `to` if its state is `from` (-1 = any); the other
     * fields are written when non-NULL / non-zero */
    int (*set_state)(carve__store *s, const char *id, int from, int to, double when, const char *error,
                     const char *error_kind, const char *timings, const char *log, char *err, size_t errlen);
    /* ids in a state, oldest first, finished before `before` (0 = any) */
    int (*list_ids)(carve__store *s, int state, double before, char (*ids)[33], int max, int *n, char *err,
                    size_t errlen);
    /* one page of jobs (rows without their log), newest first; *n rows
     * filled (caller frees each with carve__job_row_free) */
    int (*list_jobs)(carve__store *s, const carve__job_query *q, carve__job_row *rows, int *n, char *err,
                     size_t errlen);
    /* the job recorded under an idempotency key younger than `since`:
     * 0 with id and hash filled, 1 when none */
    int (*idem_get)(carve__store *s, const char *key, double since, char id[33], char hash[65], char *err,
                    size_t errlen);
    /* forgets an idempotency key (its job was deleted) */
    int (*idem_forget)(carve__store *s, const char *key, char *err, size_t errlen);
    /* counts[state] for every state */
    int (*count_states)(carve__store *s, long long counts[CARVE__JOB_NSTATES], char *err, size_t errlen);
    /* deletes the row if its state is terminal (or any state when force) and
     * then its files; 1 when not deleted.  force 2 also removes the files of
     * an id that has no row (an admission that failed after writing them) */
    int (*delete_job)(carve__store *s, const char *id, int force, char *err, size_t errlen);
    /* job files ("input", "result.svg", "report.json", "artifact-sanitize.png") */
    int (*put_file)(carve__store *s, const char *id, const char *name, const void *data, size_t len, char *err,
                    size_t errlen);
    int (*get_file)(carve__store *s, const char *id, const char *name, char **data, size_t *len, char *err,
                    size_t errlen);
    /* palettes: name -> text */
    int (*put_palette)(carve__store *s, const char *name, const char *text, char *err, size_t errlen);
    int (*get_palette)(carve__store *s, const char *name, char **text, char *err, size_t errlen);
    int (*delete_palette)(carve__store *s, const char *name, char *err, size_t errlen);
    /* JSON array of palette names (malloc'd) */
    int (*list_palettes)(carve__store *s, char **json, char *err, size_t errlen);
    void (*close)(carve__store *s);
};

/** Opens (creating) the SQLite store in dir: dir/carved.db (WAL,
 *  synchronous=FULL) and dir/jobs/<id>/ for files.  NULL with err set. */
carve__store *carve__store_sqlite_open(const char *dir, char *err, size_t errlen);

#endif
