/* test_pg_store.c — the PostgreSQL store against a real PostgreSQL
 * (started by test_pg.py, which passes two connection URIs of fresh
 * databases): forward-only migrations, SKIP LOCKED claims, leases and their
 * expiry, max_attempts, results fenced on the lease token (committed once),
 * cancel flags, files in chunks.
 *
 * Usage: test_pg_store URI_MIGRATIONS URI_QUEUE */
#include "test.h"
#include "store.h"
#include "store_pg.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *uri_mig, *uri_q;
static carve__store *qs; /* the store on uri_q */

static char *sql1(const char *uri, const char *sql) {
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQexec(c, sql);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r)) out = strdup(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) == PGRES_COMMAND_OK) out = strdup("ok");
    else fprintf(stderr, "sql: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return out;
}

static void test_migrations(void) {
    carve_ctx *ctx = carve_ctx_create();
    /* a database at version 1 (an older carved) with a job in it */
    CHECKF(carve__store_pg_migrate(uri_mig, 1, ctx) == CARVE_OK, "migrate to 1: %s", carve_ctx_errmsg(ctx));
    char *v = sql1(uri_mig, "SELECT max(version) FROM carve_schema_version");
    CHECKF(v && !strcmp(v, "1"), "version 1, got %s", v ? v : "(null)");
    free(v);
    free(sql1(uri_mig, "INSERT INTO carve_jobs(id,state,created,options) VALUES"
                       "('0123456789abcdef0123456789abcdef',0,1000,'{}')"));
    /* this carved migrates it forward and keeps the job */
    carve__store *s = NULL;
    CHECKF(carve__store_pg_open(uri_mig, 2, ctx, &s) == CARVE_OK && s, "open migrates: %s", carve_ctx_errmsg(ctx));
    if (!s) return;
    v = sql1(uri_mig, "SELECT max(version) FROM carve_schema_version");
    char want[16];
    snprintf(want, sizeof want, "%d", carve__store_pg_schema_version());
    CHECKF(v && !strcmp(v, want), "version %s after open, got %s", want, v ? v : "(null)");
    free(v);
    carve__job_row row;
    CHECK(s->get_job(s, "0123456789abcdef0123456789abcdef", &row) == 0 && row.created == 1000 &&
          row.progress == 0 && row.stage[0] == 0);
    carve__job_row_free(&row);
    s->close(s);
    /* opening twice is a no-op */
    CHECK(carve__store_pg_open(uri_mig, 2, ctx, &s) == CARVE_OK && s);
    if (s) s->close(s);
    /* a newer schema than this carved knows: refused, never downgraded */
    free(sql1(uri_mig, "INSERT INTO carve_schema_version(version) VALUES(99)"));
    CHECK(carve__store_pg_open(uri_mig, 2, ctx, &s) == CARVE_ERR_IO);
    const char *err = carve_ctx_errmsg(ctx);
    CHECKF(!s && strstr(err, "version 99") && strstr(err, "forward-only"), "newer schema refused: %s", err);
    if (s) s->close(s);
    carve_ctx_destroy(ctx);
}

static void put(carve__store *s, const char *id, double created) {
    carve__job_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    r.created = created;
    r.options = (char *)"{}";
    CHECKF(s->put_job(s, &r) == 0, "put %s: %s", id, carve__store_errmsg(s));
}

static void test_leases(void) {
    carve__store *s = qs;
    char ta[33], tb[33];
    const char *id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    put(s, id, 1);
    carve__job_row row;
    CHECK(s->claim(s, "node-a", 0.3, &row, ta) == 0 && !strcmp(row.id, id) && row.attempts == 1);
    carve__job_row_free(&row);
    CHECK(s->claim(s, "node-b", 0.3, &row, tb) == 1); /* nothing else queued */
    bool cancel = true;
    CHECK(s->heartbeat(s, id, ta, 0.3, 0.5, "steer", "[{\"seq\":1}]", &cancel) == 0 && !cancel);
    CHECK(s->get_job(s, id, &row) == 0 && row.progress == 0.5 && !strcmp(row.stage, "steer") &&
          row.log && strstr(row.log, "seq"));
    carve__job_row_free(&row);
    /* node a stops renewing: after the lease the job is queued again */
    int rq = 0, fl = 0;
    CHECK(s->expire(s, 3, &rq, &fl) == 0 && rq == 0 && fl == 0);
    usleep(450000);
    CHECK(s->expire(s, 3, &rq, &fl) == 0 && rq == 1 && fl == 0);
    CHECK(s->claim(s, "node-b", 5, &row, tb) == 0 && row.attempts == 2 && strcmp(ta, tb));
    carve__job_row_free(&row);
    /* node a comes back late: it can neither renew, write a served result, nor commit */
    CHECK(s->heartbeat(s, id, ta, 5, 0.9, "vector", NULL, &cancel) == 1);
    CHECK(s->put_file_fenced(s, id, ta, "result.svg", "<svg>A</svg>", 12) == 0);
    CHECK(s->put_file_fenced(s, id, tb, "result.svg", "<svg>B</svg>", 12) == 0);
    CHECK(s->finish(s, id, ta, CARVE__JOB_DONE, 5, NULL, NULL, NULL, NULL) == 1);
    CHECK(s->finish(s, id, tb, CARVE__JOB_DONE, 5, NULL, NULL, "{}", "[]") == 0);
    CHECK(s->finish(s, id, tb, CARVE__JOB_DONE, 6, NULL, NULL, NULL, NULL) == 1); /* once */
    char *data = NULL;
    size_t len = 0;
    CHECK(s->get_file(s, id, "result.svg", &data, &len) == 0 && len == 12 &&
          !memcmp(data, "<svg>B</svg>", 12));
    free(data);
    CHECK(s->get_job(s, id, &row) == 0 && row.state == CARVE__JOB_DONE && row.finished == 5);
    carve__job_row_free(&row);
    /* max_attempts: a job whose node keeps dying ends failed, with a clear error */
    const char *id2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    put(s, id2, 2);
    CHECK(s->claim(s, "node-c", 0.1, &row, ta) == 0 && !strcmp(row.id, id2));
    carve__job_row_free(&row);
    usleep(250000);
    CHECK(s->expire(s, 1, &rq, &fl) == 0 && rq == 0 && fl == 1);
    CHECK(s->get_job(s, id2, &row) == 0 && row.state == CARVE__JOB_FAILED && row.error_kind &&
          !strcmp(row.error_kind, "lease_expired") && row.error && strstr(row.error, "node-c") &&
          strstr(row.error, "max_attempts"));
    carve__job_row_free(&row);
    /* release (node stopping): queued again, fenced */
    const char *id3 = "cccccccccccccccccccccccccccccccc";
    put(s, id3, 3);
    CHECK(s->claim(s, "node-a", 5, &row, ta) == 0 && !strcmp(row.id, id3));
    carve__job_row_free(&row);
    CHECK(s->release(s, id3, tb) == 1 && s->release(s, id3, ta) == 0);
    /* cancel from another node: flagged, seen by the runner's heartbeat */
    CHECK(s->claim(s, "node-b", 5, &row, tb) == 0 && !strcmp(row.id, id3) && row.attempts == 2);
    carve__job_row_free(&row);
    CHECK(s->request_cancel(s, id3) == 2);
    CHECK(s->heartbeat(s, id3, tb, 5, 0.1, "x", NULL, &cancel) == 0 && cancel);
    CHECK(s->delete_job(s, id3, 1) == 0 && s->get_job(s, id3, &row) == 1);
    /* a queued job is deleted at once; an unknown one is 1 */
    put(s, "dddddddddddddddddddddddddddddddd", 4);
    CHECK(s->request_cancel(s, "dddddddddddddddddddddddddddddddd") == 0);
    CHECK(s->request_cancel(s, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee") == 1);
}

static void test_files_and_claims(void) {
    carve__store *s = qs;
    /* a file over several chunks comes back byte for byte */
    size_t n = 700 * 1024 + 13;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (unsigned char)(i * 131 + (i >> 9));
    const char *id = "ffffffffffffffffffffffffffffffff";
    put(s, id, 10);
    CHECK(s->put_file(s, id, "input", big, n) == 0);
    char *back = NULL;
    size_t bl = 0;
    CHECK(s->get_file(s, id, "input", &back, &bl) == 0 && bl == n && !memcmp(back, big, n));
    free(back);
    free(big);
    CHECK(s->get_file(s, id, "result.svg", &back, &bl) == 1);
    CHECK(s->put_file(s, id, "../x", "a", 1) == -1);
    /* oldest first; two claimers never get the same job */
    put(s, "10000000000000000000000000000000", 11);
    put(s, "20000000000000000000000000000000", 12);
    carve__job_row a, b, c;
    char t1[33], t2[33], t3[33];
    CHECK(s->claim(s, "x", 5, &a, t1) == 0 && !strcmp(a.id, id));
    CHECK(s->claim(s, "y", 5, &b, t2) == 0 && !strcmp(b.id, "10000000000000000000000000000000"));
    CHECK(s->claim(s, "z", 5, &c, t3) == 0 && !strcmp(c.id, "20000000000000000000000000000000"));
    carve__job_row_free(&a);
    carve__job_row_free(&b);
    carve__job_row_free(&c);
    CHECK(s->ping(s) == 0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_pg_store URI_MIGRATIONS URI_QUEUE\n");
        return 2;
    }
    uri_mig = argv[1];
    uri_q = argv[2];
    RUN(test_migrations);
    carve_ctx *ctx = carve_ctx_create();
    carve__store *s = NULL;
    CHECKF(carve__store_pg_open(uri_q, 3, ctx, &s) == CARVE_OK && s, "open: %s", carve_ctx_errmsg(ctx));
    qs = s;
    if (s) {
        RUN(test_leases);
        RUN(test_files_and_claims);
        s->close(s);
    }
    /* unreachable: the message names the host and the reason */
    CHECK(carve__store_pg_open("postgresql:///x?host=/nonexistent-carve-dir", 1, ctx, &s) == CARVE_ERR_IO);
    const char *err = carve_ctx_errmsg(ctx);
    CHECKF(!s && strstr(err, "/nonexistent-carve-dir") && strstr(err, "No such file"), "unreachable: %s", err);
    carve_ctx_destroy(ctx);
    return test_done();
}
