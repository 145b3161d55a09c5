/* store_sqlite.c — the default carved store: SQLite in WAL mode for rows,
 * plain files under <data_dir>/jobs/<id>/ for job files (written to a
 * temporary name, fsync'd, renamed, then the folder fsync'd). */
#include "store_sqlite_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_DIR_MAX 3000    /* longest data_dir (file names are built from it) */
#define BUSY_TIMEOUT_MS 5000 /* a connection waits this long for a lock */

/* Takes a read connection (round robin); release with reader_put. */
static int reader_get(sq_store *s) {
    int k = (int)(atomic_fetch_add(&s->rnext, 1u) % N_READERS);
    if (!s->rdb[k]) {
        pthread_mutex_lock(&s->mu);
        return -1;
    }
    pthread_mutex_lock(&s->rmu[k]);
    return k;
}
static void reader_put(sq_store *s, int k) { pthread_mutex_unlock(k < 0 ? &s->mu : &s->rmu[k]); }

static const char *state_names[CARVE__JOB_NSTATES] = {"queued", "running", "done", "failed", "cancelled"};

const char *carve__job_state_name(int s) { return s >= 0 && s < CARVE__JOB_NSTATES ? state_names[s] : "unknown"; }

int carve__job_state_parse(const char *name) {
    for (int i = 0; i < CARVE__JOB_NSTATES; i++)
        if (name && !strcmp(name, state_names[i])) return i;
    return -1;
}

void carve__job_row_free(carve__job_row *r) {
    if (!r) return;
    free(r->options);
    free(r->palette);
    free(r->error);
    free(r->error_kind);
    free(r->timings);
    free(r->log);
    free(r->idem_key);
    free(r->webhook_url);
    free(r->webhook_error);
    free(r->idem_hash);
    memset(r, 0, sizeof *r);
}

static int valid_id(const char *id) {
    size_t n = 0;
    for (; id && id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f'))) return 0;
    return n == 32;
}

static int valid_file_name(const char *name) {
    if (!name || !*name || name[0] == '.' || strlen(name) > 64) return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_')) return 0;
    return 1;
}

static char *dupn(const unsigned char *s) { return s ? strdup((const char *)s) : NULL; }

static int exec_sql(sq_store *s, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        carve__store_seterr(&s->ops, "sqlite: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int carve__sq_write(sq_store *s, const char *sql, carve__sq_bind_fn bind, const void *arg, const char *what) {
    sqlite3_stmt *q = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) == SQLITE_OK) {
        bind(q, arg);
        if (sqlite3_step(q) == SQLITE_DONE) rc = sqlite3_changes(s->db) > 0 ? 0 : 1;
    }
    if (rc < 0) carve__store_seterr(&s->ops, "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void carve__sq_bind_text1(sqlite3_stmt *q, const void *arg) { sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC); }

int carve__sq_read_one(sq_store *s, bool writer, const char *sql, carve__sq_bind_fn bind, const void *arg,
                       carve__sq_row_fn row, void *out, const char *what) {
    sqlite3_stmt *q = NULL;
    int rc = -1;
    int k = -1;
    if (writer) pthread_mutex_lock(&s->mu);
    else k = reader_get(s);
    sqlite3 *db = RDB(s, k);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        bind(q, arg);
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) rc = 1;
        else if (r == SQLITE_ROW) rc = row(q, out);
    }
    if (rc < 0) carve__store_seterr(&s->ops, "sqlite: %s: %s", what, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    reader_put(s, k);
    return rc;
}

int carve__sq_read_rows(sq_store *s, const char *sql, carve__sq_bind_fn bind, const void *arg, carve__sq_row_fn row,
                        void *out, const char *what) {
    sqlite3_stmt *q = NULL;
    int rc = -1;
    int k = reader_get(s);
    sqlite3 *db = RDB(s, k);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        bind(q, arg);
        int r = SQLITE_DONE, more = 0;
        while (!more && (r = sqlite3_step(q)) == SQLITE_ROW) more = row(q, out);
        if (more > 0 || (!more && r == SQLITE_DONE)) rc = 0;
    }
    if (rc) carve__store_seterr(&s->ops, "sqlite: %s: %s", what, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    reader_put(s, k);
    return rc;
}

int carve__sq_id_row(sqlite3_stmt *q, void *out) {
    carve__sq_ids *l = out;
    if (*l->n >= l->max) return 1;
    snprintf(l->ids[(*l->n)++], 33, "%s", (const char *)sqlite3_column_text(q, 0));
    return 0;
}

/* Records r->idem_key in the open transaction (expired keys dropped
 * first): 0, 1 when a live key exists, -1 on error. */
static int idem_insert(sq_store *s, const carve__job_row *r) {
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM idempotency WHERE created<?", -1, &q, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_double(q, 1, r->created - CARVE__IDEM_TTL_S);
    int st = sqlite3_step(q);
    sqlite3_finalize(q);
    if (st != SQLITE_DONE) return -1;
    if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO idempotency(key,hash,job_id,created) VALUES(?,?,?,?)", -1,
                           &q, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(q, 1, r->idem_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, r->idem_hash ? r->idem_hash : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 4, r->created);
    if (sqlite3_step(q) == SQLITE_DONE) rc = sqlite3_changes(s->db) > 0 ? 0 : 1;
    sqlite3_finalize(q);
    return rc;
}

static int insert_job(sq_store *s, const carve__job_row *r) {
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO jobs(id,state,created,started,finished,attempts,options,palette,webhook_url) "
                           "VALUES(?,?,?,0,0,0,?,?,?)", -1, &q, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, CARVE__JOB_QUEUED);
    sqlite3_bind_double(q, 3, r->created);
    sqlite3_bind_text(q, 4, r->options ? r->options : "{}", -1, SQLITE_STATIC);
    if (r->palette) sqlite3_bind_text(q, 5, r->palette, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, 5);
    if (r->webhook_url) sqlite3_bind_text(q, 6, r->webhook_url, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_DONE) rc = 0;
    sqlite3_finalize(q);
    return rc;
}

static int put_job(carve__store *st, const carve__job_row *r) {
    sq_store *s = (sq_store *)st;
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (!r->idem_key) rc = insert_job(s, r);
    else if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
        rc = idem_insert(s, r);
        if (rc == 0) rc = insert_job(s, r);
        if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) rc = -1;
        if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (rc < 0) carve__store_seterr(&s->ops, "sqlite: insert job: %s", sqlite3_errmsg(s->db));
    pthread_mutex_unlock(&s->mu);
    return rc;
}

#define ROW_COLUMNS                                                                                      \
    "id,state,created,started,finished,attempts,options,palette,error,error_kind,timings,webhook_url,"     \
    "webhook_state,webhook_attempts,webhook_at,webhook_error"

/* Fills o from a row selected with ROW_COLUMNS (then log, when with_log). */
static void read_row(sqlite3_stmt *q, carve__job_row *o, bool with_log) {
    snprintf(o->id, sizeof o->id, "%s", (const char *)sqlite3_column_text(q, 0));
    o->state = sqlite3_column_int(q, 1);
    o->created = sqlite3_column_double(q, 2);
    o->started = sqlite3_column_double(q, 3);
    o->finished = sqlite3_column_double(q, 4);
    o->attempts = sqlite3_column_int(q, 5);
    o->options = dupn(sqlite3_column_text(q, 6));
    o->palette = dupn(sqlite3_column_text(q, 7));
    o->error = dupn(sqlite3_column_text(q, 8));
    o->error_kind = dupn(sqlite3_column_text(q, 9));
    o->timings = dupn(sqlite3_column_text(q, 10));
    o->webhook_url = dupn(sqlite3_column_text(q, 11));
    o->webhook_state = sqlite3_column_int(q, 12);
    o->webhook_attempts = sqlite3_column_int(q, 13);
    o->webhook_at = sqlite3_column_double(q, 14);
    o->webhook_error = dupn(sqlite3_column_text(q, 15));
    if (with_log) o->log = dupn(sqlite3_column_text(q, 16));
}

static int job_with_log(sqlite3_stmt *q, void *out) {
    read_row(q, out, true);
    return 0;
}

static int get_job(carve__store *st, const char *id, carve__job_row *o) {
    memset(o, 0, sizeof *o);
    return carve__sq_read_one((sq_store *)st, false, "SELECT " ROW_COLUMNS ",log FROM jobs WHERE id=?",
                              carve__sq_bind_text1, id, job_with_log, o, "get job");
}

static int set_state(carve__store *st, const char *id, int from, int to, double when, const char *error,
                     const char *kind, const char *timings, const char *log) {
    sq_store *s = (sq_store *)st;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    const char *sql =
        to == CARVE__JOB_RUNNING
            ? "UPDATE jobs SET state=?2, started=?3, attempts=attempts+1, error=NULL, error_kind=NULL "
              "WHERE id=?1 AND (?4<0 OR state=?4)"
        : to == CARVE__JOB_QUEUED
            ? "UPDATE jobs SET state=?2, started=0 WHERE id=?1 AND (?4<0 OR state=?4)"
            : "UPDATE jobs SET state=?2, finished=?3, error=?5, error_kind=?6, timings=coalesce(?7,timings), "
              "log=coalesce(?8,log), webhook_state=CASE WHEN webhook_url IS NOT NULL AND webhook_state=0 THEN 1 "
              "ELSE webhook_state END, webhook_at=?3 WHERE id=?1 AND (?4<0 OR state=?4)";
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) goto out;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, to);
    if (to != CARVE__JOB_QUEUED) sqlite3_bind_double(q, 3, when);
    sqlite3_bind_int(q, 4, from);
    if (carve__job_terminal(to)) {
        if (error) sqlite3_bind_text(q, 5, error, -1, SQLITE_STATIC);
        if (kind) sqlite3_bind_text(q, 6, kind, -1, SQLITE_STATIC);
        if (timings) sqlite3_bind_text(q, 7, timings, -1, SQLITE_STATIC);
        if (log) sqlite3_bind_text(q, 8, log, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(q) != SQLITE_DONE) goto out;
    rc = sqlite3_changes(s->db) > 0 ? 0 : 1;
out:
    if (rc < 0) carve__store_seterr(&s->ops, "sqlite: update job %s: %s", id, sqlite3_errmsg(s->db));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

typedef struct ids_query { int state; double before; int max; } ids_query;

static void bind_ids(sqlite3_stmt *q, const void *arg) {
    const ids_query *iq = arg;
    sqlite3_bind_int(q, 1, iq->state);
    sqlite3_bind_double(q, 2, iq->before);
    sqlite3_bind_int(q, 3, iq->max);
}

static int list_ids(carve__store *st, int state, double before, char (*ids)[33], int max, int *n) {
    *n = 0;
    ids_query iq = {state, before, max};
    carve__sq_ids l = {ids, max, n};
    return carve__sq_read_rows((sq_store *)st,
                               "SELECT id FROM jobs WHERE state=?1 AND (?2<=0 OR finished<?2) AND webhook_state<>1 "
                               "ORDER BY seq LIMIT ?3", bind_ids, &iq, carve__sq_id_row, &l, "list jobs");
}

static void bind_jobs(sqlite3_stmt *q, const void *arg) {
    const carve__job_query *jq = arg;
    sqlite3_bind_int64(q, 1, jq->state_mask);
    sqlite3_bind_double(q, 2, jq->since);
    sqlite3_bind_int(q, 3, jq->has_cursor);
    sqlite3_bind_double(q, 4, jq->after_created);
    sqlite3_bind_text(q, 5, jq->after_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 6, jq->limit);
}

typedef struct job_rows { carve__job_row *rows; int limit, *n; } job_rows;

static int job_row(sqlite3_stmt *q, void *out) {
    job_rows *l = out;
    if (*l->n >= l->limit) return 1;
    carve__job_row *o = &l->rows[(*l->n)++];
    memset(o, 0, sizeof *o);
    read_row(q, o, false);
    return 0;
}

static int list_jobs(carve__store *st, const carve__job_query *jq, carve__job_row *rows, int *n) {
    *n = 0;
    job_rows l = {rows, jq->limit, n};
    int rc = carve__sq_read_rows((sq_store *)st,
                                 "SELECT " ROW_COLUMNS " FROM jobs WHERE (?1=0 OR ((?1>>state)&1)=1) AND "
                                 "(?2<=0 OR created>=?2) AND (?3=0 OR (created,id)<(?4,?5)) "
                                 "ORDER BY created DESC, id DESC LIMIT ?6", bind_jobs, jq, job_row, &l, "list jobs");
    if (rc)
        for (int i = 0; i < *n; i++) carve__job_row_free(&rows[i]);
    if (rc) *n = 0;
    return rc;
}

typedef struct idem_key { const char *key; double since; char *id, *hash; } idem_key;

static void bind_idem(sqlite3_stmt *q, const void *arg) {
    const idem_key *ik = arg;
    sqlite3_bind_text(q, 1, ik->key, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, ik->since);
}

static int idem_row(sqlite3_stmt *q, void *out) {
    idem_key *ik = out;
    snprintf(ik->id, 33, "%s", (const char *)sqlite3_column_text(q, 0));
    snprintf(ik->hash, 65, "%s", (const char *)sqlite3_column_text(q, 1));
    return 0;
}

static int idem_get(carve__store *st, const char *key, double since, char id[33], char hash[65]) {
    idem_key ik = {key, since, id, hash};
    return carve__sq_read_one((sq_store *)st, true, "SELECT job_id,hash FROM idempotency WHERE key=? AND created>=?",
                              bind_idem, &ik, idem_row, &ik, "idempotency key");
}

static int idem_forget(carve__store *st, const char *key) {
    return carve__sq_write((sq_store *)st, "DELETE FROM idempotency WHERE key=?", carve__sq_bind_text1, key,
                           "idempotency key");
}

static int webhook_claim(carve__store *st, double now, double lease_s, char (*ids)[33], int max, int *n) {
    sq_store *s = (sq_store *)st;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE jobs SET webhook_at=?1+?2 WHERE id IN (SELECT id FROM jobs WHERE webhook_state=1 "
                           "AND webhook_at<=?1 ORDER BY webhook_at LIMIT ?3) RETURNING id", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_double(q, 1, now);
        sqlite3_bind_double(q, 2, lease_s);
        sqlite3_bind_int(q, 3, max);
        int r;
        while ((r = sqlite3_step(q)) == SQLITE_ROW)
            if (*n < max) snprintf(ids[(*n)++], 33, "%s", (const char *)sqlite3_column_text(q, 0));
        if (r == SQLITE_DONE) rc = 0;
    }
    if (rc) carve__store_seterr(&s->ops, "sqlite: webhooks due: %s", sqlite3_errmsg(s->db));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

typedef struct hook_row { const char *id; int state, attempts; double when; const char *error; } hook_row;

static void bind_hook(sqlite3_stmt *q, const void *arg) {
    const hook_row *h = arg;
    sqlite3_bind_text(q, 1, h->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, h->state);
    sqlite3_bind_int(q, 3, h->attempts);
    sqlite3_bind_double(q, 4, h->when);
    if (h->error) sqlite3_bind_text(q, 5, h->error, -1, SQLITE_STATIC);
}

static int webhook_done(carve__store *st, const char *id, int state, int attempts, double when, const char *error) {
    hook_row h = {id, state, attempts, when, error};
    char what[64];
    snprintf(what, sizeof what, "webhook of %s", id);
    return carve__sq_write((sq_store *)st, "UPDATE jobs SET webhook_state=?2, webhook_attempts=?3, webhook_at=?4, "
                                           "webhook_error=?5 WHERE id=?1", bind_hook, &h, what);
}

/* Forward-only schema steps for databases made by older carveds
 * (PRAGMA user_version counts the steps applied). */
static const char *const sq_migrations[] = {
    "ALTER TABLE jobs ADD COLUMN webhook_url TEXT; ALTER TABLE jobs ADD COLUMN webhook_state INTEGER DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN webhook_attempts INTEGER DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN webhook_at REAL DEFAULT 0; ALTER TABLE jobs ADD COLUMN webhook_error TEXT;"
    "CREATE INDEX IF NOT EXISTS jobs_webhook ON jobs(webhook_state, webhook_at);",
};

static int sq_migrate(sq_store *s) {
    sqlite3_stmt *q = NULL;
    int v = 0, n = (int)(sizeof sq_migrations / sizeof sq_migrations[0]);
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    for (; v < n; v++) {
        char sql[1200];
        snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", sq_migrations[v], v + 1);
        if (exec_sql(s, sql)) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

static int count_states(carve__store *st, long long counts[CARVE__JOB_NSTATES]) {
    sq_store *s = (sq_store *)st;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    for (int i = 0; i < CARVE__JOB_NSTATES; i++) counts[i] = 0;
    int k = reader_get(s);
    sqlite3 *db = RDB(s, k);
    if (sqlite3_prepare_v2(db, "SELECT state, count(*) FROM jobs GROUP BY state", -1, &q, NULL) != SQLITE_OK)
        goto out;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        int state = sqlite3_column_int(q, 0);
        if (state >= 0 && state < CARVE__JOB_NSTATES) counts[state] = sqlite3_column_int64(q, 1);
    }
    if (r == SQLITE_DONE) rc = 0;
out:
    if (rc) carve__store_seterr(&s->ops, "sqlite: count jobs: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    reader_put(s, k);
    return rc;
}

static void job_dir(sq_store *s, const char *id, char *out, size_t n) { snprintf(out, n, "%s/jobs/%s", s->dir, id); }

static void remove_dir_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int delete_job(carve__store *st, const char *id, int force) {
    sq_store *s = (sq_store *)st;
    if (!valid_id(id)) return 1;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, "DELETE FROM jobs WHERE id=?1 AND (?2 OR (state>=?3 AND webhook_state<>1))", -1, &q, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, force ? 1 : 0);
    sqlite3_bind_int(q, 3, CARVE__JOB_DONE);
    if (sqlite3_step(q) != SQLITE_DONE) goto out;
    rc = sqlite3_changes(s->db) > 0 ? 0 : 1;
out:
    if (rc < 0) carve__store_seterr(&s->ops, "sqlite: delete job %s: %s", id, sqlite3_errmsg(s->db));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 || (rc == 1 && force > 1)) {
        /* the row is gone first, so nobody can find the job while its
         * files disappear; files without a row are swept at start */
        char d[4200];
        job_dir(s, id, d, sizeof d);
        remove_dir_files(d);
    }
    return rc;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int put_file(carve__store *st, const char *id, const char *name, const void *data, size_t len) {
    sq_store *s = (sq_store *)st;
    if (!valid_id(id) || !valid_file_name(name)) {
        carve__store_seterr(&s->ops, "invalid job file name");
        return -1;
    }
    char d[4200], tmp[4400], path[4400];
    job_dir(s, id, d, sizeof d);
    if (mkdir(d, 0700) == 0) {
        /* the new folder's entry must survive a crash too */
        char parent[4200];
        snprintf(parent, sizeof parent, "%s/jobs", s->dir);
        fsync_dir(parent);
    } else if (errno != EEXIST) {
        carve__store_seterr(&s->ops, "cannot create %s: %s", d, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", d, name);
    snprintf(path, sizeof path, "%s/%s", d, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        carve__store_seterr(&s->ops, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            carve__store_seterr(&s->ops, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) || close(fd)) {
        carve__store_seterr(&s->ops, "cannot sync %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path)) {
        carve__store_seterr(&s->ops, "cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir(d);
    return 0;
}

static int open_file(carve__store *st, const char *id, const char *name, int *fd, uint64_t *size) {
    sq_store *s = (sq_store *)st;
    *fd = -1;
    *size = 0;
    if (!valid_id(id) || !valid_file_name(name)) return 1;
    char path[4400];
    snprintf(path, sizeof path, "%s/jobs/%s/%s", s->dir, id, name);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 1;
        carve__store_seterr(&s->ops, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(f, &sb) || sb.st_size < 0 || !S_ISREG(sb.st_mode)) {
        close(f);
        carve__store_seterr(&s->ops, "cannot stat %s", path);
        return -1;
    }
    *fd = f;
    *size = (uint64_t)sb.st_size;
    return 0;
}

static int get_file(carve__store *st, const char *id, const char *name, char **data, size_t *len) {
    sq_store *s = (sq_store *)st;
    *data = NULL;
    *len = 0;
    int fd;
    uint64_t size;
    int rc = open_file(st, id, name, &fd, &size);
    if (rc) return rc;
    size_t n = (size_t)size;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        carve__store_seterr(&s->ops, "out of memory");
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *data = buf;
    *len = got;
    return 0;
}

static void bind_palette(sqlite3_stmt *q, const void *arg) {
    const char *const *nt = arg;
    sqlite3_bind_text(q, 1, nt[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, nt[1], -1, SQLITE_STATIC);
}

static int put_palette(carve__store *st, const char *name, const char *text) {
    const char *nt[2] = {name, text};
    return carve__sq_write((sq_store *)st, "INSERT OR REPLACE INTO palettes(name,body) VALUES(?,?)", bind_palette, nt,
                           "put palette") < 0 ? -1 : 0;
}

static int text_col0(sqlite3_stmt *q, void *out) {
    char **text = out;
    *text = dupn(sqlite3_column_text(q, 0));
    return *text ? 0 : -1;
}

static int get_palette(carve__store *st, const char *name, char **text) {
    *text = NULL;
    return carve__sq_read_one((sq_store *)st, true, "SELECT body FROM palettes WHERE name=?", carve__sq_bind_text1,
                              name, text_col0, text, "get palette");
}

static int delete_palette(carve__store *st, const char *name) {
    return carve__sq_write((sq_store *)st, "DELETE FROM palettes WHERE name=?", carve__sq_bind_text1, name,
                           "delete palette");
}

static int list_palettes(carve__store *st, char **json) {
    sq_store *s = (sq_store *)st;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    *json = NULL;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, "SELECT json_group_array(name) FROM (SELECT name FROM palettes ORDER BY name)",
                           -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        *json = dupn(sqlite3_column_text(q, 0));
        rc = *json ? 0 : -1;
    }
    if (rc) carve__store_seterr(&s->ops, "sqlite: list palettes: %s", sqlite3_errmsg(s->db));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void sq_close(carve__store *st) {
    sq_store *s = (sq_store *)st;
    if (!s) return;
    for (int i = 0; i < N_READERS; i++) {
        sqlite3_close(s->rdb[i]);
        pthread_mutex_destroy(&s->rmu[i]);
    }
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    if (s->lock_fd >= 0) close(s->lock_fd);
    carve__store_errs_fini(&s->ops);
    free(s);
}

/* Removes job folders that have no row (a crash between writing the input
 * and committing the row, or between deleting a row and its files). */
static void sweep_orphans(sq_store *s) {
    char d[4200];
    snprintf(d, sizeof d, "%s/jobs", s->dir);
    DIR *dir = opendir(d);
    if (!dir) return;
    struct dirent *e;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM jobs WHERE id=?", -1, &q, NULL) != SQLITE_OK) {
        closedir(dir);
        return;
    }
    while ((e = readdir(dir))) {
        if (!valid_id(e->d_name)) continue;
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, e->d_name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) == SQLITE_DONE) {
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            remove_dir_files(p);
        }
    }
    sqlite3_finalize(q);
    closedir(dir);
}

/* data_dir and data_dir/jobs, created when missing */
static carve_status make_dirs(const char *dir, carve_ctx *errctx) {
    if (!dir || !*dir || strlen(dir) > DATA_DIR_MAX)
        return carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "data_dir: empty or too long");
    if (mkdir(dir, 0700) && errno != EEXIST)
        return carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "data_dir: cannot create %s: %s", dir, strerror(errno));
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/jobs", dir);
    if (mkdir(sub, 0700) && errno != EEXIST)
        return carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "data_dir: cannot create %s: %s", sub, strerror(errno));
    return CARVE_OK;
}

/* The write connection: WAL, the tables, migrations.  -1 with the message
 * on the store. */
static int open_db(sq_store *s, const char *path) {
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        carve__store_seterr(&s->ops, "data_dir: cannot open %s: %s", path,
                            s->db ? sqlite3_errmsg(s->db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                    "CREATE TABLE IF NOT EXISTS jobs(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,"
                    " state INTEGER NOT NULL, created REAL, started REAL, finished REAL, attempts INTEGER DEFAULT 0,"
                    " options TEXT, palette TEXT, error TEXT, error_kind TEXT, timings TEXT, log TEXT);"
                    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, finished);"
                    "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created, id);"
                    "CREATE TABLE IF NOT EXISTS idempotency(key TEXT PRIMARY KEY, hash TEXT NOT NULL,"
                    " job_id TEXT NOT NULL, created REAL NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS palettes(name TEXT PRIMARY KEY, body TEXT NOT NULL);") ||
        exec_sql(s, carve__sq_tunings_schema)) {
        char m[512];
        snprintf(m, sizeof m, "%s", carve__store_errmsg(&s->ops));
        carve__store_seterr(&s->ops, "data_dir: %s: %s", path, m);
        return -1;
    }
    if (sq_migrate(s)) {
        char m[512];
        snprintf(m, sizeof m, "%s", carve__store_errmsg(&s->ops));
        carve__store_seterr(&s->ops, "data_dir: %s: schema upgrade: %s", path, m);
        return -1;
    }
    return 0;
}

static void set_ops(sq_store *s) {
#define WIRE(op) s->ops.op = op;
    CARVE__STORE_COMMON_OPS(WIRE)
#undef WIRE
    s->ops.open_file = open_file;
    s->ops.close = sq_close;
    carve__sq_tunings_wire(&s->ops);
}

/* The store's own failure during open, moved to errctx; the store closed. */
static carve_status open_failed(sq_store *s, carve_ctx *errctx) {
    carve_status st = carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "%s", carve__store_errmsg(&s->ops));
    sq_close(&s->ops);
    return st;
}

carve_status carve__store_sqlite_open(const char *dir, carve_ctx *errctx, carve__store **out) {
    *out = NULL;
    carve_status st = make_dirs(dir, errctx);
    if (st) return st;
    sq_store *s = calloc(1, sizeof *s);
    if (!s || carve__store_errs_init(&s->ops)) {
        free(s);
        return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "out of memory");
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    pthread_mutex_init(&s->mu, NULL);
    for (int i = 0; i < N_READERS; i++) pthread_mutex_init(&s->rmu[i], NULL);
    char lockp[4200];
    snprintf(lockp, sizeof lockp, "%s/carved.lock", dir);
    s->lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
        carve__store_seterr(&s->ops, "data_dir: %s is in use by another carved (or not writable: %s)", dir,
                            strerror(errno));
        return open_failed(s, errctx);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/carved.db", dir);
    if (open_db(s, path)) return open_failed(s, errctx);
    for (int i = 0; i < N_READERS; i++) {
        if (sqlite3_open_v2(path, &s->rdb[i], SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
            sqlite3_close(s->rdb[i]);
            s->rdb[i] = NULL; /* falls back to the write connection */
        } else
            sqlite3_busy_timeout(s->rdb[i], BUSY_TIMEOUT_MS);
    }
    sweep_orphans(s);
    set_ops(s);
    *out = &s->ops;
    return CARVE_OK;
}

/* ---- shared with store_tunings.c ---------------------------------------- */
int carve__sq_reader_get(sq_store *s) { return reader_get(s); }
void carve__sq_reader_put(sq_store *s, int k) { reader_put(s, k); }
char *carve__sq_dup(const unsigned char *t) { return dupn(t); }
