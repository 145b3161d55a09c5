/* store_tunings.c — the SQLite store's tunings: rows, uploaded files (BLOBs)
 * and finished trials, in the same database as the jobs (store_sqlite.c
 * opens it and wires these in). */
#include "store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void carve__tuning_row_free(carve__tuning_row *r) {
    if (!r) return;
    free(r->request);
    free(r->best);
    free(r->error);
    memset(r, 0, sizeof *r);
}

const char *const carve__sq_tunings_schema =
    "CREATE TABLE IF NOT EXISTS tunings(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,"
    " state INTEGER NOT NULL, created REAL, finished REAL, request TEXT, best TEXT, best_score REAL,"
    " trials INTEGER DEFAULT 0, error TEXT);"
    "CREATE TABLE IF NOT EXISTS tuning_files(id TEXT NOT NULL, name TEXT NOT NULL, data BLOB,"
    " PRIMARY KEY(id, name));"
    "CREATE TABLE IF NOT EXISTS tuning_trials(id TEXT NOT NULL, idx INTEGER NOT NULL, score REAL, body TEXT,"
    " PRIMARY KEY(id, idx));";

static void bind_put(sqlite3_stmt *q, const void *arg) {
    const carve__tuning_row *r = arg;
    sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, r->state);
    sqlite3_bind_double(q, 3, r->created);
    sqlite3_bind_text(q, 4, r->request ? r->request : "{}", -1, SQLITE_STATIC);
}

static int put_tuning(carve__store *st, const carve__tuning_row *r) {
    return carve__sq_write((sq_store *)st, "INSERT INTO tunings(id,state,created,finished,request) VALUES(?,?,?,0,?)",
                           bind_put, r, "insert tuning");
}

static int tuning_row(sqlite3_stmt *q, void *out) {
    carve__tuning_row *o = out;
    snprintf(o->id, sizeof o->id, "%s", (const char *)sqlite3_column_text(q, 0));
    o->state = sqlite3_column_int(q, 1);
    o->created = sqlite3_column_double(q, 2);
    o->finished = sqlite3_column_double(q, 3);
    o->request = carve__sq_dup(sqlite3_column_text(q, 4));
    o->best = carve__sq_dup(sqlite3_column_text(q, 5));
    o->best_score = sqlite3_column_double(q, 6);
    o->trials = sqlite3_column_int(q, 7);
    o->error = carve__sq_dup(sqlite3_column_text(q, 8));
    return 0;
}

static int get_tuning(carve__store *st, const char *id, carve__tuning_row *o) {
    memset(o, 0, sizeof *o);
    return carve__sq_read_one((sq_store *)st, false,
                              "SELECT id,state,created,finished,request,best,best_score,trials,error FROM tunings "
                              "WHERE id=?", carve__sq_bind_text1, id, tuning_row, o, "get tuning");
}

typedef struct upd { const char *id; int state; double finished; const char *best; double score; int trials;
                     const char *error; } upd;

static void bind_upd(sqlite3_stmt *q, const void *arg) {
    const upd *u = arg;
    sqlite3_bind_text(q, 1, u->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, u->state);
    sqlite3_bind_double(q, 3, u->finished);
    if (u->best) sqlite3_bind_text(q, 4, u->best, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 5, u->score);
    sqlite3_bind_int(q, 6, u->trials);
    if (u->error) sqlite3_bind_text(q, 7, u->error, -1, SQLITE_STATIC);
}

static int update_tuning(carve__store *st, const char *id, int state, double finished, const char *best,
                         double best_score, int trials, const char *error) {
    upd u = {id, state, finished, best, best_score, trials, error};
    return carve__sq_write((sq_store *)st,
                           "UPDATE tunings SET state=?2, finished=CASE WHEN ?3>0 THEN ?3 ELSE finished END,"
                           " best=coalesce(?4,best), best_score=CASE WHEN ?4 IS NULL THEN best_score ELSE ?5 END,"
                           " trials=CASE WHEN ?6>0 THEN ?6 ELSE trials END, error=coalesce(?7,error) WHERE id=?1",
                           bind_upd, &u, "update tuning");
}

static void bind_state_max(sqlite3_stmt *q, const void *arg) {
    const int *sm = arg;
    sqlite3_bind_int(q, 1, sm[0]);
    sqlite3_bind_int(q, 2, sm[1]);
}

static int list_tunings(carve__store *st, int state, char (*ids)[33], int max, int *n) {
    *n = 0;
    int sm[2] = {state, max};
    carve__sq_ids l = {ids, max, n};
    return carve__sq_read_rows((sq_store *)st, "SELECT id FROM tunings WHERE state=?1 ORDER BY seq LIMIT ?2",
                               bind_state_max, sm, carve__sq_id_row, &l, "list tunings");
}

static int delete_tuning(carve__store *st, const char *id) {
    sq_store *s = (sq_store *)st;
    carve__sq_write(s, "DELETE FROM tuning_files WHERE id=?1", carve__sq_bind_text1, id, "delete tuning files");
    carve__sq_write(s, "DELETE FROM tuning_trials WHERE id=?1", carve__sq_bind_text1, id, "delete trials");
    return carve__sq_write(s, "DELETE FROM tunings WHERE id=?1", carve__sq_bind_text1, id, "delete tuning");
}

typedef struct blob { const char *id, *name; const void *data; size_t len; } blob;

static void bind_blob(sqlite3_stmt *q, const void *arg) {
    const blob *b = arg;
    sqlite3_bind_text(q, 1, b->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, b->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(q, 3, b->data, b->len, SQLITE_STATIC);
}

static void bind_id_name(sqlite3_stmt *q, const void *arg) {
    const blob *b = arg;
    sqlite3_bind_text(q, 1, b->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, b->name, -1, SQLITE_STATIC);
}

static int put_tuning_file(carve__store *st, const char *id, const char *name, const void *data, size_t len) {
    blob b = {id, name, data, len};
    return carve__sq_write((sq_store *)st, "INSERT OR REPLACE INTO tuning_files(id,name,data) VALUES(?1,?2,?3)",
                           bind_blob, &b, "put tuning file");
}

typedef struct file_out { char **data; size_t *len; } file_out;

static int file_row(sqlite3_stmt *q, void *out) {
    file_out *f = out;
    size_t n = (size_t)sqlite3_column_bytes(q, 0);
    *f->data = malloc(n + 1);
    if (!*f->data) return -1;
    if (n) memcpy(*f->data, sqlite3_column_blob(q, 0), n);
    (*f->data)[n] = 0;
    *f->len = n;
    return 0;
}

static int get_tuning_file(carve__store *st, const char *id, const char *name, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    blob b = {id, name, NULL, 0};
    file_out f = {data, len};
    return carve__sq_read_one((sq_store *)st, false, "SELECT data FROM tuning_files WHERE id=?1 AND name=?2",
                              bind_id_name, &b, file_row, &f, "get tuning file");
}

typedef struct trial { const char *id; int idx; double score; const char *json; } trial;

static void bind_trial(sqlite3_stmt *q, const void *arg) {
    const trial *t = arg;
    sqlite3_bind_text(q, 1, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, t->idx);
    sqlite3_bind_double(q, 3, t->score);
    sqlite3_bind_text(q, 4, t->json, -1, SQLITE_STATIC);
}

static int put_trial(carve__store *st, const char *id, int index, double score, const char *json) {
    trial t = {id, index, score, json ? json : "{}"};
    return carve__sq_write((sq_store *)st,
                           "INSERT OR REPLACE INTO tuning_trials(id,idx,score,body) VALUES(?1,?2,?3,?4)", bind_trial,
                           &t, "put trial");
}

static int list_trials(carve__store *st, const char *id, double **scores, int *n, char **json) {
    sq_store *s = (sq_store *)st;
    sqlite3_stmt *q = NULL;
    int rc = -1, cap = 0;
    *scores = NULL;
    *n = 0;
    *json = NULL;
    size_t jlen = 1, jcap = 256;
    char *j = malloc(jcap);
    if (!j) return -1;
    strcpy(j, "[");
    int k = carve__sq_reader_get(s);
    sqlite3 *db = RDB(s, k);
    if (sqlite3_prepare_v2(db, "SELECT idx,score,body FROM tuning_trials WHERE id=?1 ORDER BY idx", -1, &q, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        int r;
        rc = 0;
        while ((r = sqlite3_step(q)) == SQLITE_ROW && !rc) {
            if (sqlite3_column_int(q, 0) != *n) break; /* a gap: resume before it */
            const char *body = (const char *)sqlite3_column_text(q, 2);
            size_t bl = body ? strlen(body) : 2;
            if (*n == cap) {
                cap = cap ? 2 * cap : 64;
                double *ns = realloc(*scores, (size_t)cap * sizeof *ns);
                if (!ns) { rc = -1; break; }
                *scores = ns;
            }
            while (jlen + bl + 3 > jcap) {
                jcap *= 2;
                char *nj = realloc(j, jcap);
                if (!nj) { rc = -1; break; }
                j = nj;
            }
            if (rc) break;
            (*scores)[(*n)++] = sqlite3_column_double(q, 1);
            if (*n > 1) j[jlen++] = ',';
            memcpy(j + jlen, body ? body : "{}", bl);
            jlen += bl;
        }
    }
    j[jlen++] = ']';
    j[jlen] = 0;
    if (rc) {
        carve__store_seterr(&s->ops, "sqlite: list trials: %s", sqlite3_errmsg(db));
        free(j);
        free(*scores);
        *scores = NULL;
        *n = 0;
    } else
        *json = j;
    sqlite3_finalize(q);
    carve__sq_reader_put(s, k);
    return rc;
}

void carve__sq_tunings_wire(carve__store *ops) {
#define WIRE(op) ops->op = op;
    CARVE__STORE_TUNING_OPS(WIRE)
#undef WIRE
}
