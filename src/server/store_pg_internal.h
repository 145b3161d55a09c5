/* store_pg_internal.h — the PostgreSQL store's state and helpers, shared by
 * store_pg.c (jobs, files, palettes, the queue) and store_pg_tunings.c
 * (tunings).  Private to src/server. */
#ifndef CARVE_SRV_STORE_PG_INTERNAL_H
#define CARVE_SRV_STORE_PG_INTERNAL_H

#include "store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct pg_conn {
    pthread_mutex_t mu;
    PGconn *c;
} pg_conn;

typedef struct pg_store {
    carve__store ops;
    char *conninfo;
    int nconns;
    pg_conn *conns;
    atomic_uint next;
    /* listener */
    pthread_t listener;
    bool listener_started;
    atomic_bool stop;
    pthread_mutex_t lmu;
    void (*on_job)(void *);
    void (*on_cancel)(void *, const char *);
    void *user;
    /* tunings: the connection holding this node's advisory lock on the
     * tuning it runs (a node that dies drops it, and the lock with it) */
    pthread_mutex_t tlmu;
    PGconn *tlock;
    char tlock_id[33];
} pg_store;

bool carve__pg_valid_id(const char *id);
bool carve__pg_valid_file_name(const char *name);
PGconn *carve__pg_connect(const char *conninfo, carve__store *st);
/* a locked pool connection (release with carve__pg_conn_put), NULL with the
 * message on st.  The helpers below set their message on st (NULL: none) */
pg_conn *carve__pg_conn_get(pg_store *s);
void carve__pg_conn_put(pg_conn *pc);
/* one statement with text parameters: its result when the status is want */
PGresult *carve__pg_run(pg_conn *pc, ExecStatusType want, const char *sql, int n, const char *const *vals,
                        carve__store *st);
/* one statement on a pool connection: affected rows, -1 on error */
/* one query on a pool connection: its rows, or NULL (message on st) */
PGresult *carve__pg_query(carve__store *st, const char *sql, int n, const char *const *vals);
/* one statement that changes a row: 0, 1 when it changed none, -1 error */
int carve__pg_change(carve__store *st, const char *sql, int n, const char *const *vals);
/* a double as a text parameter (round trip: %.17g) */
void carve__pg_fmt_double(char *out, size_t n, double v);
long carve__pg_cmd(carve__store *st, const char *sql, int n, const char *const *vals);
bool carve__pg_begin(pg_conn *pc, carve__store *st);
int carve__pg_commit_or_rollback(pg_conn *pc, int rc, carve__store *st);
char *carve__pg_dup_val(const PGresult *r, int row, int col);

/* store_pg_tunings.c: the tables (schema migration 4) and the operations */
#define CARVE__PG_TUNINGS_SCHEMA                                                                                  \
    "CREATE TABLE carve_tunings(seq bigserial NOT NULL, id text PRIMARY KEY, state int NOT NULL,"                \
    " created double precision NOT NULL, finished double precision NOT NULL DEFAULT 0, request text, best text," \
    " best_score double precision NOT NULL DEFAULT 0, trials int NOT NULL DEFAULT 0, error text);"              \
    "CREATE INDEX carve_tunings_state ON carve_tunings(state, seq);"                                              \
    "CREATE TABLE carve_tuning_files(tuning_id text NOT NULL, name text NOT NULL, chunk int NOT NULL,"           \
    " data bytea NOT NULL, PRIMARY KEY(tuning_id, name, chunk));"                                                 \
    "CREATE TABLE carve_tuning_trials(tuning_id text NOT NULL, idx int NOT NULL,"                                 \
    " score double precision NOT NULL, body text NOT NULL, PRIMARY KEY(tuning_id, idx));"
void carve__pg_tunings_wire(carve__store *ops);

#endif
