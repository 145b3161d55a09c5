/* store_pg_tunings.c — the PostgreSQL store's tunings: rows
 * (carve_tunings), uploaded photos and references as bytea chunks
 * (carve_tuning_files), one row per finished trial (carve_tuning_trials),
 * and the right to run a tuning: a session advisory lock held on a
 * dedicated connection, so two nodes never run the same tuning and a node
 * that dies (SIGKILL) gives it up at once.  Same semantics as the SQLite
 * store's (store_tunings.c); see docs/server.md. */
#include "store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (256 * 1024)
#define LOCK_CLASS "730566144" /* advisory lock key space of tunings: (class, hashtext(id)), int4 each */

static int bad_id(const char *id, carve__store *st) {
    if (carve__pg_valid_id(id)) return 0;
    carve__store_seterr(st, "invalid tuning id");
    return -1;
}

static int put_tuning(carve__store *st, const carve__tuning_row *row) {
    if (bad_id(row->id, st)) return -1;
    char state[16], created[40];
    snprintf(state, sizeof state, "%d", row->state);
    carve__pg_fmt_double(created, sizeof created, row->created);
    const char *v[] = {row->id, state, created, row->request ? row->request : "{}"};
    return carve__pg_change(st, "INSERT INTO carve_tunings(id,state,created,request) VALUES($1,$2,$3,$4)", 4, v);
}

static int get_tuning(carve__store *st, const char *id, carve__tuning_row *o) {
    memset(o, 0, sizeof *o);
    if (!carve__pg_valid_id(id)) return 1;
    const char *v[] = {id};
    PGresult *r = carve__pg_query(st, "SELECT id,state,created,finished,request,best,best_score,trials,error "
                                  "FROM carve_tunings WHERE id=$1", 1, v);
    if (!r) return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (!rc) {
        snprintf(o->id, sizeof o->id, "%s", PQgetvalue(r, 0, 0));
        o->state = atoi(PQgetvalue(r, 0, 1));
        o->created = strtod(PQgetvalue(r, 0, 2), NULL);
        o->finished = strtod(PQgetvalue(r, 0, 3), NULL);
        o->request = carve__pg_dup_val(r, 0, 4);
        o->best = carve__pg_dup_val(r, 0, 5);
        o->best_score = strtod(PQgetvalue(r, 0, 6), NULL);
        o->trials = atoi(PQgetvalue(r, 0, 7));
        o->error = carve__pg_dup_val(r, 0, 8);
    }
    PQclear(r);
    return rc;
}

static int update_tuning(carve__store *st, const char *id, int state, double finished, const char *best,
                         double best_score, int trials, const char *error) {
    char sst[16], sfin[40], sscore[40], strials[16];
    snprintf(sst, sizeof sst, "%d", state);
    carve__pg_fmt_double(sfin, sizeof sfin, finished);
    carve__pg_fmt_double(sscore, sizeof sscore, best_score);
    snprintf(strials, sizeof strials, "%d", trials);
    const char *v[] = {id, sst, sfin, best, sscore, strials, error};
    return carve__pg_change(st,
                            "UPDATE carve_tunings SET state=$2,"
                            " finished=CASE WHEN $3::float8>0 THEN $3 ELSE finished END, best=coalesce($4,best),"
                            " best_score=CASE WHEN $4::text IS NULL THEN best_score ELSE $5 END,"
                            " trials=CASE WHEN $6::int>0 THEN $6 ELSE trials END, error=coalesce($7,error) WHERE id=$1",
                            7, v);
}

static int list_tunings(carve__store *st, int state, char (*ids)[33], int max, int *n) {
    *n = 0;
    char sst[16], smax[16];
    snprintf(sst, sizeof sst, "%d", state);
    snprintf(smax, sizeof smax, "%d", max);
    const char *v[] = {sst, smax};
    PGresult *r = carve__pg_query(st, "SELECT id FROM carve_tunings WHERE state=$1 ORDER BY seq LIMIT $2", 2, v);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) snprintf(ids[(*n)++], 33, "%s", PQgetvalue(r, i, 0));
    PQclear(r);
    return 0;
}

/* Statements of one transaction on one connection; 1 when the last changed nothing. */
static int transaction(carve__store *st, const char *const *sqls, int nsql, int nv, const char *const *v) {
    pg_conn *pc = carve__pg_conn_get((pg_store *)st);
    if (!pc) return -1;
    int rc = carve__pg_begin(pc, st) ? 0 : -1;
    for (int i = 0; !rc && i < nsql; i++) {
        PGresult *r = carve__pg_run(pc, PGRES_COMMAND_OK, sqls[i], nv, v, st);
        if (!r) rc = -1;
        else if (i == nsql - 1 && atol(PQcmdTuples(r)) == 0) rc = 1;
        PQclear(r);
    }
    rc = carve__pg_commit_or_rollback(pc, rc < 0 ? -1 : 0, st) < 0 ? -1 : rc;
    carve__pg_conn_put(pc);
    return rc;
}

static int delete_tuning(carve__store *st, const char *id) {
    if (!carve__pg_valid_id(id)) return 1;
    static const char *const sqls[] = {"DELETE FROM carve_tuning_files WHERE tuning_id=$1",
                                       "DELETE FROM carve_tuning_trials WHERE tuning_id=$1",
                                       "DELETE FROM carve_tunings WHERE id=$1"};
    const char *v[] = {id};
    return transaction(st, sqls, 3, 1, v);
}

/* A file as CHUNK-byte bytea rows, replacing an earlier one of that name. */
static int put_tuning_file(carve__store *st, const char *id, const char *name, const void *data, size_t len) {
    if (bad_id(id, st)) return -1;
    if (!carve__pg_valid_file_name(name)) {
        carve__store_seterr(st, "invalid tuning file name");
        return -1;
    }
    pg_conn *pc = carve__pg_conn_get((pg_store *)st);
    if (!pc) return -1;
    int rc = carve__pg_begin(pc, st) ? 0 : -1;
    const char *v[] = {id, name};
    PGresult *r = rc ? NULL : carve__pg_run(pc, PGRES_COMMAND_OK,
                                            "DELETE FROM carve_tuning_files WHERE tuning_id=$1 AND name=$2", 2, v, st);
    if (!r) rc = -1;
    PQclear(r);
    for (size_t off = 0, k = 0; !rc && (off < len || k == 0); k++) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        char sk[16];
        snprintf(sk, sizeof sk, "%zu", k);
        const char *vals[] = {id, name, sk, (const char *)data + off};
        int lens[] = {0, 0, 0, (int)n}, fmts[] = {0, 0, 0, 1};
        r = PQexecParams(pc->c, "INSERT INTO carve_tuning_files(tuning_id,name,chunk,data) VALUES($1,$2,$3,$4)", 4,
                         NULL, vals, lens, fmts, 0);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            carve__store_seterr(st, "%s", PQerrorMessage(pc->c));
            rc = -1;
        }
        PQclear(r);
        off += n;
    }
    rc = carve__pg_commit_or_rollback(pc, rc, st);
    carve__pg_conn_put(pc);
    return rc;
}

static int get_tuning_file(carve__store *st, const char *id, const char *name, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (!carve__pg_valid_id(id) || !carve__pg_valid_file_name(name)) return 1;
    pg_conn *pc = carve__pg_conn_get((pg_store *)st);
    if (!pc) return -1;
    const char *v[] = {id, name};
    PGresult *r = PQexecParams(pc->c, "SELECT data FROM carve_tuning_files WHERE tuning_id=$1 AND name=$2 ORDER BY chunk",
                               2, NULL, v, NULL, NULL, 1);
    carve__pg_conn_put(pc);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        carve__store_seterr(st, "%s", r ? PQresultErrorMessage(r) : "postgresql: out of memory");
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r);
    size_t total = 0;
    for (int i = 0; i < rows; i++) total += (size_t)PQgetlength(r, i, 0);
    char *buf = rows ? malloc(total + 1) : NULL;
    if (buf) {
        for (int i = 0; i < rows; i++) {
            memcpy(buf + *len, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
            *len += (size_t)PQgetlength(r, i, 0);
        }
        buf[*len] = 0;
        *data = buf;
    }
    PQclear(r);
    if (rows && !buf) carve__store_seterr(st, "out of memory");
    return !rows ? 1 : buf ? 0 : -1;
}

static int put_trial(carve__store *st, const char *id, int index, double score, const char *json) {
    char si[16], ss[40];
    snprintf(si, sizeof si, "%d", index);
    carve__pg_fmt_double(ss, sizeof ss, score);
    const char *v[] = {id, si, ss, json ? json : "{}"};
    return carve__pg_change(st,
                            "INSERT INTO carve_tuning_trials(tuning_id,idx,score,body) SELECT $1,$2,$3,$4"
                            " WHERE EXISTS(SELECT 1 FROM carve_tunings WHERE id=$1)"
                            " ON CONFLICT(tuning_id,idx) DO UPDATE SET score=EXCLUDED.score, body=EXCLUDED.body",
                            4, v);
}

/* Appends the trials of r (idx, score, body; in index order) up to the first gap. */
static int collect_trials(PGresult *r, double **scores, int *n, char **json) {
    int rows = PQntuples(r);
    size_t total = 3;
    for (int i = 0; i < rows; i++) total += (size_t)PQgetlength(r, i, 2) + 1;
    *scores = malloc((size_t)(rows ? rows : 1) * sizeof **scores);
    char *j = malloc(total);
    if (!*scores || !j) {
        free(*scores);
        free(j);
        *scores = NULL;
        return -1;
    }
    size_t len = 0;
    j[len++] = '[';
    for (int i = 0; i < rows && atoi(PQgetvalue(r, i, 0)) == *n; i++) { /* a gap: resume before it */
        if (*n) j[len++] = ',';
        size_t bl = (size_t)PQgetlength(r, i, 2);
        memcpy(j + len, PQgetvalue(r, i, 2), bl);
        len += bl;
        (*scores)[(*n)++] = strtod(PQgetvalue(r, i, 1), NULL);
    }
    j[len++] = ']';
    j[len] = 0;
    *json = j;
    return 0;
}

static int list_trials(carve__store *st, const char *id, double **scores, int *n, char **json) {
    *scores = NULL;
    *n = 0;
    *json = NULL;
    const char *v[] = {id};
    PGresult *r = carve__pg_query(st, "SELECT idx,score,body FROM carve_tuning_trials WHERE tuning_id=$1 ORDER BY idx",
                                  1, v);
    if (!r) return -1;
    int rc = collect_trials(r, scores, n, json);
    PQclear(r);
    if (rc) carve__store_seterr(st, "out of memory");
    return rc;
}

/* ---- who runs a tuning: a session advisory lock on a dedicated connection ---- */
static int lock_tuning(carve__store *st, const char *id) {
    pg_store *s = (pg_store *)st;
    if (bad_id(id, st)) return -1;
    pthread_mutex_lock(&s->tlmu);
    int rc = -1;
    if (s->tlock && PQstatus(s->tlock) != CONNECTION_OK) {
        PQfinish(s->tlock);
        s->tlock = NULL;
    }
    if (!s->tlock) s->tlock = carve__pg_connect(s->conninfo, st);
    if (s->tlock) {
        const char *v[] = {id};
        PGresult *r = PQexecParams(s->tlock, "SELECT pg_try_advisory_lock(" LOCK_CLASS ", hashtext($1))", 1, NULL, v,
                                   NULL, NULL, 0);
        if (r && PQresultStatus(r) == PGRES_TUPLES_OK) rc = !strcmp(PQgetvalue(r, 0, 0), "t") ? 0 : 1;
        else carve__store_seterr(st, "%s", PQerrorMessage(s->tlock));
        PQclear(r);
        if (!rc) snprintf(s->tlock_id, sizeof s->tlock_id, "%s", id);
    }
    pthread_mutex_unlock(&s->tlmu);
    return rc;
}

static void unlock_tuning(carve__store *st, const char *id) {
    pg_store *s = (pg_store *)st;
    pthread_mutex_lock(&s->tlmu);
    if (s->tlock && !strcmp(s->tlock_id, id)) {
        const char *v[] = {id};
        PQclear(PQexecParams(s->tlock, "SELECT pg_advisory_unlock(" LOCK_CLASS ", hashtext($1))", 1, NULL, v, NULL,
                             NULL, 0));
        s->tlock_id[0] = 0;
    }
    pthread_mutex_unlock(&s->tlmu);
}

void carve__pg_tunings_wire(carve__store *ops) {
#define WIRE(op) ops->op = op;
    CARVE__STORE_TUNING_OPS(WIRE)
#undef WIRE
    ops->lock_tuning = lock_tuning;
    ops->unlock_tuning = unlock_tuning;
}
