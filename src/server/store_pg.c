/* store_pg.c — carved's PostgreSQL store (libpq): the job table is the
 * queue of every node.
 *
 * Connections: a fixed pool (each guarded by a mutex; a broken connection is
 * reset on its next use) plus one LISTEN connection on its own thread.
 * Claims use UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED); a
 * claim gives a random lease token and a lease (lease_until, database
 * clock) renewed by heartbeats.  Everything a worker writes about an attempt
 * (result files, the final state) is fenced on that token, so a node that
 * lost its lease can neither commit nor overwrite.  Files are rows of
 * FILE_CHUNK-byte bytea chunks, written and read a chunk at a time. */
#include "store_pg.h"
#include "store_pg_internal.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define FILE_CHUNK (256 * 1024)
#define CONNECT_TIMEOUT_S "5"
#define LISTEN_POLL_MS 500
#define RECONNECT_PAUSE_US 500000

static bool valid_id(const char *id) {
    size_t n = 0;
    for (; id && id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f'))) return false;
    return n == 32;
}

static bool valid_file_name(const char *name) {
    if (!name || !*name || name[0] == '.' || strlen(name) > 64) return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
            return false;
    return true;
}

/* ---- connections ------------------------------------------------------------ */
static PGconn *connect_db(const char *conninfo, carve__store *st) {
    /* the URI's own connect_timeout (when given) wins: it comes later */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {CONNECT_TIMEOUT_S, "carved", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        const char *host = c ? PQhost(c) : NULL;
        carve__store_seterr(st, "postgresql: cannot connect to %s%s%s: %s", host && *host ? host : "(default host)",
               c && PQport(c) && *PQport(c) ? " port " : "", c && PQport(c) ? PQport(c) : "",
               c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, NULL, NULL);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* A locked pool connection, (re)connected; NULL with the store's message
 * when the database cannot be reached.  Release with conn_put. */
static pg_conn *conn_get(pg_store *s) {
    unsigned k = atomic_fetch_add(&s->next, 1u) % (unsigned)s->nconns;
    pg_conn *pc = NULL;
    for (int i = 0; i < s->nconns && !pc; i++) {
        pg_conn *t = &s->conns[(k + (unsigned)i) % (unsigned)s->nconns];
        if (pthread_mutex_trylock(&t->mu) == 0) pc = t;
    }
    if (!pc) {
        pc = &s->conns[k];
        pthread_mutex_lock(&pc->mu);
    }
    if (pc->c && PQstatus(pc->c) == CONNECTION_OK) return pc;
    PQfinish(pc->c);
    pc->c = connect_db(s->conninfo, &s->ops);
    if (!pc->c) {
        pthread_mutex_unlock(&pc->mu);
        return NULL;
    }
    return pc;
}

static void conn_put(pg_conn *pc) { pthread_mutex_unlock(&pc->mu); }

/* Runs a statement with text parameters; the result when its status is
 * `want`, else NULL with the message on st (NULL: none; the connection is
 * dropped when it broke). */
static PGresult *run(pg_conn *pc, ExecStatusType want, const char *sql, int n, const char *const *vals,
                     carve__store *st) {
    /* no parameters: the simple protocol (migrations hold several statements) */
    PGresult *r = n ? PQexecParams(pc->c, sql, n, NULL, vals, NULL, NULL, 0) : PQexec(pc->c, sql);
    if (r && PQresultStatus(r) == want) return r;
    carve__store_seterr(st, "postgresql: %s", r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r)
                                                                          : PQerrorMessage(pc->c));
    PQclear(r);
    return NULL;
}

/* One query on a pool connection: its rows, or NULL (message on st). */
static PGresult *query(carve__store *st, const char *sql, int n, const char *const *vals) {
    pg_conn *pc = conn_get((pg_store *)st);
    if (!pc) return NULL;
    PGresult *r = run(pc, PGRES_TUPLES_OK, sql, n, vals, st);
    conn_put(pc);
    return r;
}

/* One statement on a pool connection: -1 error, else the affected rows. */
static long cmd(carve__store *st, const char *sql, int n, const char *const *vals) {
    pg_conn *pc = conn_get((pg_store *)st);
    if (!pc) return -1;
    PGresult *r = run(pc, PGRES_COMMAND_OK, sql, n, vals, st);
    long rows = r ? atol(PQcmdTuples(r)) : -1;
    PQclear(r);
    conn_put(pc);
    return rows;
}

/* One statement that changes a row: 0, 1 when it changed none, -1 error. */
static int change(carve__store *st, const char *sql, int n, const char *const *vals) {
    long rows = cmd(st, sql, n, vals);
    return rows < 0 ? -1 : rows > 0 ? 0 : 1;
}

static bool begin(pg_conn *pc, carve__store *st) {
    PGresult *r = run(pc, PGRES_COMMAND_OK, "BEGIN", 0, NULL, st);
    PQclear(r);
    return r != NULL;
}

static int commit_or_rollback(pg_conn *pc, int rc, carve__store *st) {
    PGresult *r = run(pc, PGRES_COMMAND_OK, rc ? "ROLLBACK" : "COMMIT", 0, NULL, rc ? NULL : st);
    if (!r && !rc) rc = -1;
    PQclear(r);
    return rc;
}

static char *dup_val(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

/* ---- schema ----------------------------------------------------------------- */
/* Forward-only: a database at version v gets migrations v+1.. in order, each
 * in its own transaction with the version bump.  Never edit a shipped one. */
static const char *const migrations[] = {
    /* 1: jobs, files, palettes */
    "CREATE TABLE carve_jobs(seq bigserial NOT NULL, id text PRIMARY KEY, state int NOT NULL,"
    " created double precision NOT NULL, started double precision NOT NULL DEFAULT 0,"
    " finished double precision NOT NULL DEFAULT 0, attempts int NOT NULL DEFAULT 0, options text, palette text,"
    " error text, error_kind text, timings text, log text, lease_owner text, lease_token text,"
    " lease_until timestamptz, cancel boolean NOT NULL DEFAULT false);"
    "CREATE INDEX carve_jobs_queue ON carve_jobs(state, seq);"
    "CREATE INDEX carve_jobs_finished ON carve_jobs(state, finished);"
    "CREATE TABLE carve_files(job_id text NOT NULL, name text NOT NULL, token text NOT NULL, chunk int NOT NULL,"
    " data bytea NOT NULL, PRIMARY KEY(job_id, name, token, chunk));"
    "CREATE TABLE carve_palettes(name text PRIMARY KEY, body text NOT NULL);",
    /* 2: listing, idempotency, live progress, result-once accounting */
    "CREATE INDEX carve_jobs_created ON carve_jobs(created DESC, id DESC);"
    "CREATE TABLE carve_idempotency(key text PRIMARY KEY, hash text NOT NULL, job_id text NOT NULL,"
    " created double precision NOT NULL);"
    "ALTER TABLE carve_jobs ADD COLUMN progress double precision NOT NULL DEFAULT 0,"
    " ADD COLUMN stage text NOT NULL DEFAULT '', ADD COLUMN completions int NOT NULL DEFAULT 0;",
    /* 3: webhooks (the outbox: pending deliveries are rows with webhook_state 1) */
    "ALTER TABLE carve_jobs ADD COLUMN webhook_url text, ADD COLUMN webhook_state int NOT NULL DEFAULT 0,"
    " ADD COLUMN webhook_attempts int NOT NULL DEFAULT 0,"
    " ADD COLUMN webhook_at double precision NOT NULL DEFAULT 0, ADD COLUMN webhook_error text;"
    "CREATE INDEX carve_jobs_webhook ON carve_jobs(webhook_state, webhook_at);",
    /* 4: tunings (store_pg_tunings.c) */
    CARVE__PG_TUNINGS_SCHEMA,
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
#define MIGRATION_LOCK "7305661442"

int carve__store_pg_schema_version(void) { return N_MIGRATIONS; }

static int current_version(PGconn *c, int *v, carve__store *st) {
    pg_conn pc = {.c = c};
    PGresult *r = run(&pc, PGRES_COMMAND_OK,
                      "CREATE TABLE IF NOT EXISTS carve_schema_version(version int NOT NULL,"
                      " applied timestamptz NOT NULL DEFAULT now())", 0, NULL, st);
    if (!r) return -1;
    PQclear(r);
    r = run(&pc, PGRES_TUPLES_OK, "SELECT coalesce(max(version), 0) FROM carve_schema_version", 0, NULL, st);
    if (!r) return -1;
    *v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

static int migrate(PGconn *c, int upto, carve__store *st) {
    pg_conn pc = {.c = c};
    PGresult *r = run(&pc, PGRES_TUPLES_OK, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", 0, NULL, st);
    if (!r) return -1;
    PQclear(r);
    int v = 0, rc = current_version(c, &v, st);
    if (!rc && v > N_MIGRATIONS) {
        carve__store_seterr(st, "postgresql: the database schema is version %d, newer than this carved knows (%d): "
               "upgrade carved (migrations are forward-only)", v, N_MIGRATIONS);
        rc = -1;
    }
    for (int k = v; !rc && k < upto && k < N_MIGRATIONS; k++) {
        char ver[16];
        snprintf(ver, sizeof ver, "%d", k + 1);
        const char *vals[] = {ver};
        if (!begin(&pc, st)) rc = -1;
        else {
            PQclear(r = run(&pc, PGRES_COMMAND_OK, migrations[k], 0, NULL, st));
            if (r) PQclear(r = run(&pc, PGRES_COMMAND_OK, "INSERT INTO carve_schema_version(version) VALUES($1)", 1,
                                   vals, st));
            rc = commit_or_rollback(&pc, r ? 0 : -1, st);
            if (rc && st) {
                char m[400];
                snprintf(m, sizeof m, "%s", carve__store_errmsg(st));
                carve__store_seterr(st, "postgresql: migration %d failed: %s", k + 1, m);
            }
        }
    }
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")"));
    return rc;
}

carve_status carve__store_pg_migrate(const char *conninfo, int upto, carve_ctx *errctx) {
    carve__store tmp = {0}; /* no pool: a store only for the message */
    if (carve__store_errs_init(&tmp)) return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    PGconn *c = connect_db(conninfo, &tmp);
    int rc = c ? migrate(c, upto, &tmp) : -1;
    PQfinish(c);
    carve_status st = rc ? carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "%s", carve__store_errmsg(&tmp)) : CARVE_OK;
    carve__store_errs_fini(&tmp);
    return st;
}

/* ---- jobs ------------------------------------------------------------------- */
#define ROW_COLS                                                                                          \
    "id,state,created,started,finished,attempts,options,palette,error,error_kind,timings,progress,stage,"   \
    "webhook_url,webhook_state,webhook_attempts,webhook_at,webhook_error"

static void read_row(const PGresult *r, int i, carve__job_row *o, bool with_log) {
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", PQgetvalue(r, i, 0));
    o->state = atoi(PQgetvalue(r, i, 1));
    o->created = strtod(PQgetvalue(r, i, 2), NULL);
    o->started = strtod(PQgetvalue(r, i, 3), NULL);
    o->finished = strtod(PQgetvalue(r, i, 4), NULL);
    o->attempts = atoi(PQgetvalue(r, i, 5));
    o->options = dup_val(r, i, 6);
    o->palette = dup_val(r, i, 7);
    o->error = dup_val(r, i, 8);
    o->error_kind = dup_val(r, i, 9);
    o->timings = dup_val(r, i, 10);
    o->progress = strtod(PQgetvalue(r, i, 11), NULL);
    snprintf(o->stage, sizeof o->stage, "%s", PQgetvalue(r, i, 12));
    o->webhook_url = dup_val(r, i, 13);
    o->webhook_state = atoi(PQgetvalue(r, i, 14));
    o->webhook_attempts = atoi(PQgetvalue(r, i, 15));
    o->webhook_at = strtod(PQgetvalue(r, i, 16), NULL);
    o->webhook_error = dup_val(r, i, 17);
    if (with_log) o->log = dup_val(r, i, 18);
}

static void fmt_double(char *out, size_t n, double v) { snprintf(out, n, "%.17g", v); }

static int idem_insert(pg_conn *pc, const carve__job_row *row, carve__store *st) {
    char created[40], cutoff[40];
    fmt_double(created, sizeof created, row->created);
    fmt_double(cutoff, sizeof cutoff, row->created - CARVE__IDEM_TTL_S);
    const char *v1[] = {cutoff};
    PGresult *r = run(pc, PGRES_COMMAND_OK, "DELETE FROM carve_idempotency WHERE created<$1::float8", 1, v1, st);
    if (!r) return -1;
    PQclear(r);
    const char *v2[] = {row->idem_key, row->idem_hash ? row->idem_hash : "", row->id, created};
    r = run(pc, PGRES_COMMAND_OK,
            "INSERT INTO carve_idempotency(key,hash,job_id,created) VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING", 4,
            v2, st);
    if (!r) return -1;
    int rc = atol(PQcmdTuples(r)) > 0 ? 0 : 1;
    PQclear(r);
    return rc;
}

static int put_job(carve__store *st, const carve__job_row *row) {
    pg_store *s = (pg_store *)st;
    pg_conn *pc = conn_get(s);
    if (!pc) return -1;
    int rc = begin(pc, st) ? 0 : -1;
    if (!rc && row->idem_key) rc = idem_insert(pc, row, st);
    if (!rc) {
        char created[40], state[8];
        fmt_double(created, sizeof created, row->created);
        snprintf(state, sizeof state, "%d", CARVE__JOB_QUEUED);
        const char *v[] = {row->id, state, created, row->options ? row->options : "{}", row->palette,
                           row->webhook_url};
        PGresult *r = run(pc, PGRES_COMMAND_OK,
                          "INSERT INTO carve_jobs(id,state,created,options,palette,webhook_url) "
                          "VALUES($1,$2,$3,$4,$5,$6)", 6, v, st);
        if (r) {
            PQclear(r);
            r = run(pc, PGRES_TUPLES_OK, "SELECT pg_notify('carve_jobs','')", 0, NULL, st);
        }
        if (!r) rc = -1;
        PQclear(r);
    }
    if (pc->c && PQtransactionStatus(pc->c) != PQTRANS_IDLE) rc = commit_or_rollback(pc, rc, st);
    conn_put(pc);
    return rc;
}

static int get_job(carve__store *st, const char *id, carve__job_row *o) {
    pg_store *s = (pg_store *)st;
    memset(o, 0, sizeof *o);
    pg_conn *pc = conn_get(s);
    if (!pc) return -1;
    const char *v[] = {id};
    PGresult *r = run(pc, PGRES_TUPLES_OK, "SELECT " ROW_COLS ",log FROM carve_jobs WHERE id=$1", 1, v, st);
    conn_put(pc);
    if (!r) return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (!rc) read_row(r, 0, o, true);
    PQclear(r);
    return rc;
}

static int set_state(carve__store *st, const char *id, int from, int to, double when, const char *error,
                     const char *kind, const char *timings, const char *log) {
    char sfrom[8], sto[8], swhen[40];
    snprintf(sfrom, sizeof sfrom, "%d", from);
    snprintf(sto, sizeof sto, "%d", to);
    fmt_double(swhen, sizeof swhen, when);
    const char *v[] = {id, sfrom, sto, swhen, error, kind, timings, log};
    const char *sql =
        to == CARVE__JOB_RUNNING
            ? "UPDATE carve_jobs SET state=$3::int, started=$4::float8, attempts=attempts+1, error=NULL, "
              "error_kind=NULL WHERE id=$1 AND ($2::int<0 OR state=$2::int)"
        : to == CARVE__JOB_QUEUED
            ? "UPDATE carve_jobs SET state=$3::int, started=0, lease_token=NULL, lease_until=NULL WHERE id=$1 AND "
              "($2::int<0 OR state=$2::int)"
            : "UPDATE carve_jobs SET state=$3::int, finished=$4::float8, error=$5, error_kind=$6, "
              "timings=coalesce($7,timings), log=coalesce($8,log), lease_until=NULL, "
              "webhook_state=CASE WHEN webhook_url IS NOT NULL AND webhook_state=0 THEN 1 ELSE webhook_state END, "
              "webhook_at=$4::float8 WHERE id=$1 AND "
              "($2::int<0 OR state=$2::int)";
    return change(st, sql, carve__job_terminal(to) ? 8 : to == CARVE__JOB_RUNNING ? 4 : 3, v);
}

static int list_ids(carve__store *st, int state, double before, char (*ids)[33], int max, int *n) {
    *n = 0;
    char sst[8], sb[40], sm[16];
    snprintf(sst, sizeof sst, "%d", state);
    fmt_double(sb, sizeof sb, before);
    snprintf(sm, sizeof sm, "%d", max);
    const char *v[] = {sst, sb, sm};
    PGresult *r = query(st,
                        "SELECT id FROM carve_jobs WHERE state=$1::int AND ($2::float8<=0 OR finished<$2::float8) AND "
                        "webhook_state<>1 ORDER BY seq "
                        "LIMIT $3::int", 3, v);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) snprintf(ids[(*n)++], 33, "%s", PQgetvalue(r, i, 0));
    PQclear(r);
    return 0;
}

static int list_jobs(carve__store *st, const carve__job_query *q, carve__job_row *rows, int *n) {
    *n = 0;
    char mask[16], since[40], has[4], ac[40], lim[16];
    snprintf(mask, sizeof mask, "%u", q->state_mask);
    fmt_double(since, sizeof since, q->since);
    snprintf(has, sizeof has, "%d", q->has_cursor ? 1 : 0);
    fmt_double(ac, sizeof ac, q->after_created);
    snprintf(lim, sizeof lim, "%d", q->limit);
    const char *v[] = {mask, since, has, ac, q->after_id, lim};
    PGresult *r = query(st,
                        "SELECT " ROW_COLS " FROM carve_jobs WHERE ($1::int=0 OR (($1::int>>state)&1)=1) AND "
                        "($2::float8<=0 OR created>=$2::float8) AND ($3::int=0 OR (created,id)<($4::float8,$5::text)) "
                        "ORDER BY created DESC, id DESC LIMIT $6::int", 6, v);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r) && *n < q->limit; i++) read_row(r, i, &rows[(*n)++], false);
    PQclear(r);
    return 0;
}

static int idem_get(carve__store *st, const char *key, double since, char id[33], char hash[65]) {
    char ss[40];
    fmt_double(ss, sizeof ss, since);
    const char *v[] = {key, ss};
    PGresult *r = query(st, "SELECT job_id,hash FROM carve_idempotency WHERE key=$1 AND created>=$2::float8", 2,
                        v);
    if (!r) return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (!rc) {
        snprintf(id, 33, "%s", PQgetvalue(r, 0, 0));
        snprintf(hash, 65, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

static int idem_forget(carve__store *st, const char *key) {
    const char *v[] = {key};
    return cmd(st, "DELETE FROM carve_idempotency WHERE key=$1", 1, v) < 0 ? -1 : 0;
}

static int webhook_claim(carve__store *st, double now, double lease_s, char (*ids)[33], int max, int *n) {
    *n = 0;
    char sn[40], sl[40], sm[16];
    fmt_double(sn, sizeof sn, now);
    fmt_double(sl, sizeof sl, lease_s);
    snprintf(sm, sizeof sm, "%d", max);
    const char *v[] = {sn, sl, sm};
    PGresult *r = query(st,
                        "UPDATE carve_jobs SET webhook_at=$1::float8+$2::float8 WHERE id IN (SELECT id FROM carve_jobs"
                        " WHERE webhook_state=1 AND webhook_at<=$1::float8 ORDER BY webhook_at LIMIT $3::int"
                        " FOR UPDATE SKIP LOCKED) RETURNING id", 3, v);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) snprintf(ids[(*n)++], 33, "%s", PQgetvalue(r, i, 0));
    PQclear(r);
    return 0;
}

static int webhook_done(carve__store *st, const char *id, int state, int attempts, double when, const char *error) {
    char ss[8], sa[16], sw[40];
    snprintf(ss, sizeof ss, "%d", state);
    snprintf(sa, sizeof sa, "%d", attempts);
    fmt_double(sw, sizeof sw, when);
    const char *v[] = {id, ss, sa, sw, error};
    return change(st,
                  "UPDATE carve_jobs SET webhook_state=$2::int, webhook_attempts=$3::int, webhook_at=$4::float8,"
                  " webhook_error=$5 WHERE id=$1", 5, v);
}

static int count_states(carve__store *st, long long counts[CARVE__JOB_NSTATES]) {
    for (int i = 0; i < CARVE__JOB_NSTATES; i++) counts[i] = 0;
    PGresult *r = query(st, "SELECT state, count(*) FROM carve_jobs GROUP BY state", 0, NULL);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int state = atoi(PQgetvalue(r, i, 0));
        if (state >= 0 && state < CARVE__JOB_NSTATES) counts[state] = atoll(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return 0;
}

static int delete_job(carve__store *st, const char *id, int force) {
    if (!valid_id(id)) return 1;
    pg_store *s = (pg_store *)st;
    pg_conn *pc = conn_get(s);
    if (!pc) return -1;
    char sf[4], sd[8];
    snprintf(sf, sizeof sf, "%d", force ? 1 : 0);
    snprintf(sd, sizeof sd, "%d", CARVE__JOB_DONE);
    const char *v[] = {id, sf, sd};
    int rc = begin(pc, st) ? 0 : -1;
    PGresult *r = NULL;
    if (!rc && !(r = run(pc, PGRES_COMMAND_OK, "DELETE FROM carve_jobs WHERE id=$1 AND ($2::int=1 OR (state>=$3::int AND webhook_state<>1))", 3, v,
                         st))) rc = -1;
    if (!rc) {
        rc = atol(PQcmdTuples(r)) > 0 ? 0 : 1;
        if (rc == 0 || force > 1) {
            PQclear(r);
            if (!(r = run(pc, PGRES_COMMAND_OK, "DELETE FROM carve_files WHERE job_id=$1", 1, v, st)))
                rc = -1;
        }
    }
    PQclear(r);
    rc = commit_or_rollback(pc, rc < 0 ? -1 : 0, st) < 0 ? -1 : rc;
    conn_put(pc);
    return rc;
}

/* ---- files: bytea chunks, written and read one chunk at a time --------------- */
static int write_chunks(pg_conn *pc, const char *id, const char *token, const char *name, const void *data,
                        size_t len, carve__store *st) {
    const char *v[] = {id, name, token};
    PGresult *r = run(pc, PGRES_COMMAND_OK, "DELETE FROM carve_files WHERE job_id=$1 AND name=$2 AND token=$3", 3, v,
                      st);
    if (!r) return -1;
    PQclear(r);
    size_t off = 0;
    int chunk = 0;
    do {
        size_t n = len - off < FILE_CHUNK ? len - off : FILE_CHUNK;
        char sc[16];
        snprintf(sc, sizeof sc, "%d", chunk++);
        const char *vals[] = {id, name, token, sc, (const char *)data + off};
        int lens[] = {0, 0, 0, 0, (int)n};
        int fmts[] = {0, 0, 0, 0, 1};
        r = PQexecParams(pc->c, "INSERT INTO carve_files(job_id,name,token,chunk,data) VALUES($1,$2,$3,$4,$5)", 5,
                         NULL, vals, lens, fmts, 0);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            carve__store_seterr(st, "postgresql: write %s of job %s: %s", name, id, PQerrorMessage(pc->c));
            PQclear(r);
            return -1;
        }
        PQclear(r);
        off += n;
    } while (off < len);
    return 0;
}

static int put_file_fenced(carve__store *st, const char *id, const char *token, const char *name, const void *data,
                           size_t len) {
    if (!valid_id(id) || !valid_file_name(name)) {
        carve__store_seterr(st, "invalid job file name");
        return -1;
    }
    pg_conn *pc = conn_get((pg_store *)st);
    if (!pc) return -1;
    int rc = begin(pc, st) ? 0 : -1;
    if (!rc) rc = write_chunks(pc, id, token, name, data, len, st);
    rc = commit_or_rollback(pc, rc, st);
    conn_put(pc);
    return rc;
}

static int put_file(carve__store *st, const char *id, const char *name, const void *data, size_t len) {
    return put_file_fenced(st, id, "", name, data, len);
}

/* Reads a file row by row (single-row mode: one chunk in memory at a time
 * besides the result being assembled).  The input has token ''; result
 * files are those of the attempt that holds (or committed with) the lease. */
static int get_file(carve__store *st, const char *id, const char *name, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (!valid_id(id) || !valid_file_name(name)) return 1;
    pg_conn *pc = conn_get((pg_store *)st);
    if (!pc) return -1;
    const char *v[] = {id, name};
    int rc = -1;
    if (!PQsendQueryParams(pc->c,
                           "SELECT f.data FROM carve_files f JOIN carve_jobs j ON j.id=f.job_id WHERE f.job_id=$1 "
                           "AND f.name=$2 AND f.token=CASE WHEN $2='input' THEN '' ELSE coalesce(j.lease_token,'') "
                           "END ORDER BY f.chunk", 2, NULL, v, NULL, NULL, 1) || !PQsetSingleRowMode(pc->c)) {
        carve__store_seterr(st, "postgresql: read %s of job %s: %s", name, id, PQerrorMessage(pc->c));
        conn_put(pc);
        return -1;
    }
    size_t cap = 0, n = 0, rows = 0;
    char *buf = NULL;
    bool oom = false;
    PGresult *r;
    while ((r = PQgetResult(pc->c))) {
        ExecStatusType es = PQresultStatus(r);
        if (es == PGRES_SINGLE_TUPLE && !oom) {
            size_t l = (size_t)PQgetlength(r, 0, 0);
            if (n + l + 1 > cap) {
                size_t nc = (n + l + 1) * 2;
                char *nb = realloc(buf, nc);
                if (!nb) oom = true;
                else buf = nb, cap = nc;
            }
            if (!oom) memcpy(buf + n, PQgetvalue(r, 0, 0), l), n += l;
            rows++;
        } else if (es == PGRES_TUPLES_OK) rc = 0;
        else if (es != PGRES_SINGLE_TUPLE)
            carve__store_seterr(st, "postgresql: read %s of job %s: %s", name, id, PQresultErrorMessage(r));
        PQclear(r);
    }
    conn_put(pc);
    if (oom) rc = -1, carve__store_seterr(st, "out of memory");
    if (rc == 0 && !rows) rc = 1;
    if (rc) {
        free(buf);
        return rc;
    }
    if (!buf) buf = malloc(1);
    if (!buf) {
        carve__store_seterr(st, "out of memory");
        return -1;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

/* ---- palettes --------------------------------------------------------------- */
static int put_palette(carve__store *st, const char *name, const char *text) {
    const char *v[] = {name, text};
    return cmd(st, "INSERT INTO carve_palettes(name,body) VALUES($1,$2) ON CONFLICT(name) DO UPDATE SET body=$2", 2,
               v) < 0 ? -1 : 0;
}

static int get_palette(carve__store *st, const char *name, char **text) {
    *text = NULL;
    pg_conn *pc = conn_get((pg_store *)st);
    if (!pc) return -1;
    const char *v[] = {name};
    PGresult *r = run(pc, PGRES_TUPLES_OK, "SELECT body FROM carve_palettes WHERE name=$1", 1, v, st);
    conn_put(pc);
    if (!r) return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (!rc && !(*text = strdup(PQgetvalue(r, 0, 0)))) rc = -1;
    PQclear(r);
    return rc;
}

static int delete_palette(carve__store *st, const char *name) {
    const char *v[] = {name};
    return change(st, "DELETE FROM carve_palettes WHERE name=$1", 1, v);
}

static int list_palettes(carve__store *st, char **json) {
    *json = NULL;
    PGresult *r = query(st,
                        "SELECT coalesce(json_agg(name ORDER BY name),'[]'::json)::text FROM carve_palettes", 0, NULL);
    if (!r) return -1;
    *json = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return *json ? 0 : -1;
}

/* ---- the shared queue ------------------------------------------------------- */
static void new_token(char out[33]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0) got += (size_t)n;
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int claim(carve__store *st, const char *node, double lease_s, carve__job_row *o, char token[33]) {
    memset(o, 0, sizeof *o);
    new_token(token);
    char sl[40];
    fmt_double(sl, sizeof sl, lease_s);
    const char *v[] = {node, token, sl};
    PGresult *r = query(st,
                        "UPDATE carve_jobs SET state=1, started=extract(epoch from clock_timestamp()),"
                        " attempts=attempts+1, error=NULL, error_kind=NULL, lease_owner=$1, lease_token=$2,"
                        " lease_until=clock_timestamp()+make_interval(secs=>$3::float8), progress=0, stage=''"
                        " WHERE id=(SELECT id FROM carve_jobs WHERE state=0 AND NOT cancel ORDER BY seq"
                        " FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING " ROW_COLS, 3, v);
    if (!r) return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (!rc) read_row(r, 0, o, false);
    PQclear(r);
    return rc;
}

static int heartbeat(carve__store *st, const char *id, const char *token, double lease_s, double progress,
                     const char *stage, const char *log, bool *cancel) {
    char sl[40], sp[40];
    fmt_double(sl, sizeof sl, lease_s);
    fmt_double(sp, sizeof sp, progress);
    const char *v[] = {id, token, sl, sp, stage ? stage : "", log};
    *cancel = false;
    PGresult *r = query(st,
                        "UPDATE carve_jobs SET lease_until=clock_timestamp()+make_interval(secs=>$3::float8),"
                        " progress=$4::float8, stage=$5, log=coalesce($6,log) WHERE id=$1 AND lease_token=$2 AND"
                        " state=1 RETURNING cancel", 6, v);
    if (!r) return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (!rc) *cancel = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return rc;
}

static int finish(carve__store *st, const char *id, const char *token, int to, double when, const char *error,
                  const char *kind, const char *timings, const char *log) {
    char sto[8], sw[40];
    snprintf(sto, sizeof sto, "%d", to);
    fmt_double(sw, sizeof sw, when);
    const char *v[] = {id, token, sto, sw, error, kind, timings, log};
    return change(st,
                  "UPDATE carve_jobs SET state=$3::int, finished=$4::float8, error=$5, error_kind=$6,"
                  " timings=coalesce($7,timings), log=coalesce($8,log), lease_until=NULL,"
                  " webhook_state=CASE WHEN webhook_url IS NOT NULL AND webhook_state=0 THEN 1 ELSE webhook_state END,"
                  " webhook_at=$4::float8,"
                  " progress=CASE WHEN $3::int=2 THEN 1 ELSE progress END,"
                  " completions=completions+CASE WHEN $3::int=2 THEN 1 ELSE 0 END"
                  " WHERE id=$1 AND lease_token=$2 AND state=1", 8, v);
}

static int release(carve__store *st, const char *id, const char *token) {
    const char *v[] = {id, token};
    pg_conn *pc = conn_get((pg_store *)st);
    if (!pc) return -1;
    PGresult *r = run(pc, PGRES_COMMAND_OK,
                      "UPDATE carve_jobs SET state=0, started=0, lease_owner=NULL, lease_token=NULL, lease_until=NULL"
                      " WHERE id=$1 AND lease_token=$2 AND state=1", 2, v, st);
    int rc = r ? (atol(PQcmdTuples(r)) > 0 ? 0 : 1) : -1;
    PQclear(r);
    if (rc == 0) PQclear(PQexec(pc->c, "SELECT pg_notify('carve_jobs','')"));
    conn_put(pc);
    return rc;
}

static int expire(carve__store *st, int max_attempts, int *requeued, int *failed) {
    *requeued = *failed = 0;
    char sm[16];
    snprintf(sm, sizeof sm, "%d", max_attempts);
    const char *v[] = {sm};
    pg_conn *pc = conn_get((pg_store *)st);
    if (!pc) return -1;
    /* a cancelled job whose node died: nobody will delete it but us */
    PQclear(PQexec(pc->c, "WITH d AS (DELETE FROM carve_jobs WHERE state=1 AND cancel AND"
                          " lease_until<clock_timestamp() RETURNING id)"
                          " DELETE FROM carve_files WHERE job_id IN (SELECT id FROM d)"));
    PGresult *r = run(pc, PGRES_TUPLES_OK,
                      "UPDATE carve_jobs SET state=CASE WHEN attempts>=$1::int THEN 3 ELSE 0 END,"
                      " finished=CASE WHEN attempts>=$1::int THEN extract(epoch from clock_timestamp()) ELSE 0 END,"
                      " started=CASE WHEN attempts>=$1::int THEN started ELSE 0 END,"
                      " error=CASE WHEN attempts>=$1::int THEN 'the job was started '||attempts||' times and each"
                      " time its node stopped answering (lease expired on '||coalesce(lease_owner,'?')||');"
                      " max_attempts is '||$1 END, error_kind=CASE WHEN attempts>=$1::int THEN 'lease_expired' END,"
                      " lease_token=CASE WHEN attempts>=$1::int THEN lease_token END, lease_owner=NULL,"
                      " lease_until=NULL, webhook_state=CASE WHEN attempts>=$1::int AND webhook_url IS NOT NULL AND"
                      " webhook_state=0 THEN 1 ELSE webhook_state END,"
                      " webhook_at=extract(epoch from clock_timestamp())"
                      " WHERE state=1 AND lease_until<clock_timestamp() RETURNING state", 1, v, st);
    if (r) {
        for (int i = 0; i < PQntuples(r); i++) (atoi(PQgetvalue(r, i, 0)) == 0 ? (*requeued)++ : (*failed)++);
        PQclear(r);
        if (*requeued) PQclear(PQexec(pc->c, "SELECT pg_notify('carve_jobs','')"));
    }
    conn_put(pc);
    return r ? 0 : -1;
}

static int request_cancel(carve__store *st, const char *id) {
    pg_store *s = (pg_store *)st;
    int rc = delete_job(st, id, 0); /* finished */
    if (rc <= 0) return rc;
    const char *v[] = {id};
    pg_conn *pc = conn_get(s);
    if (!pc) return -1;
    /* queued: gone at once (a claim holds the row lock, so this cannot race one) */
    PGresult *r = run(pc, PGRES_TUPLES_OK,
                      "WITH d AS (DELETE FROM carve_jobs WHERE id=$1 AND state=0 RETURNING id),"
                      " f AS (DELETE FROM carve_files WHERE job_id IN (SELECT id FROM d)),"
                      " u AS (UPDATE carve_jobs SET cancel=true WHERE id=$1 AND state=1 RETURNING id)"
                      " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM u)", 1, v, st);
    if (r) {
        rc = atoi(PQgetvalue(r, 0, 0)) > 0 ? 0 : atoi(PQgetvalue(r, 0, 1)) > 0 ? 2 : 1;
        PQclear(r);
        if (rc == 2) PQclear(run(pc, PGRES_TUPLES_OK, "SELECT pg_notify('carve_cancel', $1)", 1, v, st));
    } else rc = -1;
    conn_put(pc);
    return rc;
}

static int count_queued(carve__store *st, long long *n) {
    *n = 0;
    PGresult *r = query(st, "SELECT count(*) FROM carve_jobs WHERE state=0", 0, NULL);
    if (!r) return -1;
    *n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

static int ping(carve__store *st) {
    PGresult *r = query(st, "SELECT 1", 0, NULL);
    PQclear(r);
    return r ? 0 : -1;
}

/* ---- LISTEN thread ---------------------------------------------------------- */
static void notify_user(pg_store *s, const char *channel, const char *payload) {
    pthread_mutex_lock(&s->lmu);
    if (!strcmp(channel, "carve_jobs") && s->on_job) s->on_job(s->user);
    else if (!strcmp(channel, "carve_cancel") && s->on_cancel) s->on_cancel(s->user, payload);
    pthread_mutex_unlock(&s->lmu);
}

static PGconn *listen_connect(pg_store *s) {
    PGconn *c = connect_db(s->conninfo, NULL); /* retried: no message wanted */
    if (!c) return NULL;
    PGresult *r = PQexec(c, "LISTEN carve_jobs; LISTEN carve_cancel");
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    /* whatever was announced while we were away: look at the queue now */
    notify_user(s, "carve_jobs", "");
    return c;
}

static void *listener_main(void *arg) {
    pg_store *s = arg;
    PGconn *c = NULL;
    while (!atomic_load(&s->stop)) {
        if (!c && !(c = listen_connect(s))) {
            usleep(RECONNECT_PAUSE_US);
            continue;
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int pr = poll(&pfd, 1, LISTEN_POLL_MS);
        if (pr < 0 && errno != EINTR) break;
        if (pr > 0 && !PQconsumeInput(c)) {
            PQfinish(c);
            c = NULL;
            continue;
        }
        PGnotify *n;
        while ((n = PQnotifies(c))) {
            notify_user(s, n->relname, n->extra);
            PQfreemem(n);
        }
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
        }
    }
    PQfinish(c);
    return NULL;
}

static void set_listener(carve__store *st, void (*on_job)(void *), void (*on_cancel)(void *, const char *),
                         void *user) {
    pg_store *s = (pg_store *)st;
    pthread_mutex_lock(&s->lmu);
    s->on_job = on_job;
    s->on_cancel = on_cancel;
    s->user = user;
    pthread_mutex_unlock(&s->lmu);
}

/* ---- open/close ------------------------------------------------------------- */
static void pg_close(carve__store *st) {
    pg_store *s = (pg_store *)st;
    if (!s) return;
    atomic_store(&s->stop, true);
    if (s->listener_started) pthread_join(s->listener, NULL);
    for (int i = 0; s->conns && i < s->nconns; i++) {
        PQfinish(s->conns[i].c);
        pthread_mutex_destroy(&s->conns[i].mu);
    }
    free(s->conns);
    free(s->conninfo);
    PQfinish(s->tlock);
    pthread_mutex_destroy(&s->tlmu);
    pthread_mutex_destroy(&s->lmu);
    carve__store_errs_fini(&s->ops);
    free(s);
}

static void set_ops(pg_store *s) {
#define WIRE(op) s->ops.op = op;
    CARVE__STORE_COMMON_OPS(WIRE)
#undef WIRE
    s->ops.close = pg_close;
    s->ops.claim = claim;
    s->ops.heartbeat = heartbeat;
    s->ops.put_file_fenced = put_file_fenced;
    s->ops.finish = finish;
    s->ops.release = release;
    s->ops.expire = expire;
    s->ops.request_cancel = request_cancel;
    s->ops.ping = ping;
    s->ops.count_queued = count_queued;
    s->ops.set_listener = set_listener;
    carve__pg_tunings_wire(&s->ops);
}

carve_status carve__store_pg_open(const char *conninfo, int conns, carve_ctx *errctx, carve__store **out) {
    *out = NULL;
    pg_store *s = calloc(1, sizeof *s);
    if (!s || carve__store_errs_init(&s->ops) || !(s->conninfo = strdup(conninfo)) ||
        !(s->conns = calloc((size_t)conns, sizeof *s->conns))) {
        if (s) free(s->conninfo);
        if (s) carve__store_errs_fini(&s->ops);
        free(s);
        return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    }
    s->nconns = conns;
    pthread_mutex_init(&s->lmu, NULL);
    pthread_mutex_init(&s->tlmu, NULL);
    for (int i = 0; i < conns; i++) pthread_mutex_init(&s->conns[i].mu, NULL);
    set_ops(s);
    /* the first connection proves the database is reachable and migrates it */
    s->conns[0].c = connect_db(conninfo, &s->ops);
    if (!s->conns[0].c || migrate(s->conns[0].c, N_MIGRATIONS, &s->ops)) {
        carve_status st = carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "%s", carve__store_errmsg(&s->ops));
        pg_close(&s->ops);
        return st;
    }
    if (pthread_create(&s->listener, NULL, listener_main, s) == 0) s->listener_started = true;
    *out = &s->ops;
    return CARVE_OK;
}

/* ---- for store_pg_tunings.c ------------------------------------------------- */
bool carve__pg_valid_id(const char *id) { return valid_id(id); }
bool carve__pg_valid_file_name(const char *name) { return valid_file_name(name); }
PGconn *carve__pg_connect(const char *conninfo, carve__store *st) { return connect_db(conninfo, st); }
pg_conn *carve__pg_conn_get(pg_store *s) { return conn_get(s); }
void carve__pg_conn_put(pg_conn *pc) { conn_put(pc); }
PGresult *carve__pg_run(pg_conn *pc, ExecStatusType want, const char *sql, int n, const char *const *vals,
                        carve__store *st) {
    return run(pc, want, sql, n, vals, st);
}
PGresult *carve__pg_query(carve__store *st, const char *sql, int n, const char *const *vals) {
    return query(st, sql, n, vals);
}
int carve__pg_change(carve__store *st, const char *sql, int n, const char *const *vals) {
    return change(st, sql, n, vals);
}
void carve__pg_fmt_double(char *out, size_t n, double v) { fmt_double(out, n, v); }
long carve__pg_cmd(carve__store *st, const char *sql, int n, const char *const *vals) {
    return cmd(st, sql, n, vals);
}
bool carve__pg_begin(pg_conn *pc, carve__store *st) { return begin(pc, st); }
int carve__pg_commit_or_rollback(pg_conn *pc, int rc, carve__store *st) {
    return commit_or_rollback(pc, rc, st);
}
char *carve__pg_dup_val(const PGresult *r, int row, int col) { return dup_val(r, row, col); }
