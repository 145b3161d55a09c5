/* test_server.c — unit tests of carved's parts: the event ring (bounded,
 * O(1), sequence numbers), the SQLite store (conditional state changes,
 * durability across reopen, retention listing, atomic files, palettes), and
 * the server lifecycle in-process (start on port 0, stop, restart). */
#include "test.h"
#include "logring.h"
#include "server.h"
#include "store.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static void make_tmp(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/carved-unit-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
}

static void rm_rf(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    CHECK(system(cmd) == 0);
}

static void test_ring(void) {
    carve__ring *r = malloc(sizeof *r);
    carve__ring_init(r);
    CHECK(carve__ring_first(r) == 1 && r->next_seq == 1);
    CHECK(carve__ring_get(r, 1) == NULL);
    char msg[64];
    for (int i = 1; i <= 1000; i++) {
        snprintf(msg, sizeof msg, "line %d", i);
        uint64_t seq = carve__ring_push(r, i, CARVE__EV_LOG, 1, 0, msg);
        CHECK(seq == (uint64_t)i);
    }
    CHECK(carve__ring_first(r) == 1000 - CARVE__RING_CAP + 1);
    CHECK(carve__ring_get(r, carve__ring_first(r) - 1) == NULL);
    CHECK(carve__ring_get(r, 1001) == NULL);
    const carve__event *e = carve__ring_get(r, 1000);
    CHECK(e && e->seq == 1000 && !strcmp(e->text, "line 1000"));
    e = carve__ring_get(r, carve__ring_first(r));
    CHECKF(e && e->seq == carve__ring_first(r), "oldest held");
    /* long message cut at a UTF-8 boundary, always terminated */
    char longmsg[1000];
    memset(longmsg, 'a', sizeof longmsg);
    for (int i = 190; i < 990; i += 2) {
        longmsg[i] = (char)0xC3;
        longmsg[i + 1] = (char)0xA9; /* é */
    }
    longmsg[999] = 0;
    uint64_t s = carve__ring_push(r, 0, CARVE__EV_LOG, 1, 0, longmsg);
    e = carve__ring_get(r, s);
    size_t n = strlen(e->text);
    CHECK(n < CARVE__RING_MSG && ((unsigned char)e->text[n - 1] & 0xC0) != 0xC0);
    /* O(1): a million appends take well under a second */
    clock_t t0 = clock();
    for (int i = 0; i < 1000000; i++) carve__ring_push(r, 0, CARVE__EV_PROGRESS, 0, i * 1e-6, "stage");
    double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECKF(dt < 1.0, "1e6 appends took %.3f s", dt);
    CHECK(r->next_seq == 1000000 + 1002);
    free(r);
}

/* The store's message is per thread: a failure on another thread does not
 * replace this thread's message (the store is shared by carved's threads). */
typedef struct err_probe {
    carve__store *st;
    const char *id;
    int rc;
    char before[64], after[256];
} err_probe;

static void *err_probe_main(void *arg) {
    err_probe *p = arg;
    snprintf(p->before, sizeof p->before, "%s", carve__store_errmsg(p->st));
    p->rc = p->st->put_file(p->st, p->id, "../escape", "x", 1);
    snprintf(p->after, sizeof p->after, "%s", carve__store_errmsg(p->st));
    return NULL;
}

static void test_store_errors(carve__store *st, const carve__job_row *row) {
    CHECK(st->put_job(st, row) < 0); /* duplicate id: the message names SQLite's reason */
    char mine[256];
    snprintf(mine, sizeof mine, "%s", carve__store_errmsg(st));
    CHECKF(strstr(mine, "sqlite: insert job") && strstr(mine, "UNIQUE"), "put_job: '%s'", mine);
    err_probe p = {st, row->id, 0, "", ""};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, err_probe_main, &p) == 0);
    pthread_join(t, NULL);
    CHECKF(p.rc < 0 && !p.before[0] && !strcmp(p.after, "invalid job file name"), "thread: %d '%s' '%s'", p.rc,
           p.before, p.after);
    CHECKF(!strcmp(carve__store_errmsg(st), mine), "this thread's message kept: '%s'", carve__store_errmsg(st));
}

static void test_store(void) {
    make_tmp();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/data", tmpdir);
    carve_ctx *ctx = carve_ctx_create();
    carve__store *st = NULL;
    CHECKF(carve__store_sqlite_open(dir, ctx, &st) == CARVE_OK && st, "%s", carve_ctx_errmsg(ctx));
    if (!st) return;
    carve__job_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.id, sizeof row.id, "0123456789abcdef0123456789abcdef");
    row.created = 100;
    row.options = "{\"colors\":8}";
    CHECK(st->put_job(st, &row) == 0);
    test_store_errors(st, &row);
    CHECK(st->put_file(st, row.id, "input", "abc", 3) == 0);
    CHECK(st->put_file(st, row.id, "../escape", "x", 1) < 0);
    CHECK(st->put_file(st, "../../etc", "input", "x", 1) < 0);
    char *data = NULL;
    size_t len = 0;
    CHECK(st->get_file(st, row.id, "input", &data, &len) == 0 && len == 3 && !memcmp(data, "abc", 3));
    free(data);
    CHECK(st->get_file(st, row.id, "nothing", &data, &len) == 1);
    /* conditional transitions */
    CHECK(st->set_state(st, row.id, CARVE__JOB_RUNNING, CARVE__JOB_DONE, 5, NULL, NULL, NULL, NULL) == 1);
    CHECK(st->set_state(st, row.id, CARVE__JOB_QUEUED, CARVE__JOB_RUNNING, 101, NULL, NULL, NULL, NULL) == 0);
    /* not terminal: retention cannot delete it */
    CHECK(st->delete_job(st, row.id, 0) == 1);
    st->close(st);

    /* reopen: the row survived (durability), still running */
    CHECK(carve__store_sqlite_open(dir, ctx, &st) == CARVE_OK && st);
    if (!st) return;
    /* a second opener of the same data dir is refused */
    carve__store *second = NULL;
    CHECK(carve__store_sqlite_open(dir, ctx, &second) == CARVE_ERR_IO && !second &&
          strstr(carve_ctx_errmsg(ctx), "in use"));
    carve__job_row got;
    CHECK(st->get_job(st, row.id, &got) == 0);
    CHECK(got.state == CARVE__JOB_RUNNING && got.attempts == 1 && got.started == 101);
    CHECK(got.options && !strcmp(got.options, "{\"colors\":8}"));
    carve__job_row_free(&got);
    char ids[4][33];
    int n = 0;
    CHECK(st->list_ids(st, CARVE__JOB_RUNNING, 0, ids, 4, &n) == 0 && n == 1);
    CHECK(st->set_state(st, row.id, CARVE__JOB_RUNNING, CARVE__JOB_FAILED, 200, "boom", "decode", "{\"total\":1}",
                        "[]") == 0);
    CHECK(st->get_job(st, row.id, &got) == 0);
    CHECK(got.state == CARVE__JOB_FAILED && got.finished == 200 && !strcmp(got.error, "boom") &&
          !strcmp(got.error_kind, "decode") && !strcmp(got.timings, "{\"total\":1}"));
    carve__job_row_free(&got);
    /* retention listing: finished before */
    CHECK(st->list_ids(st, CARVE__JOB_FAILED, 150, ids, 4, &n) == 0 && n == 0);
    CHECK(st->list_ids(st, CARVE__JOB_FAILED, 250, ids, 4, &n) == 0 && n == 1);
    long long counts[CARVE__JOB_NSTATES];
    CHECK(st->count_states(st, counts) == 0 && counts[CARVE__JOB_FAILED] == 1 &&
          counts[CARVE__JOB_QUEUED] == 0);
    CHECK(st->delete_job(st, row.id, 0) == 0);
    CHECK(st->get_job(st, row.id, &got) == 1);
    char jd[400];
    snprintf(jd, sizeof jd, "%s/jobs/%s", dir, row.id);
    struct stat sb;
    CHECK(stat(jd, &sb) != 0); /* files gone */
    /* palettes */
    char *text = NULL, *list = NULL;
    CHECK(st->put_palette(st, "b", "#ffffff\n") == 0);
    CHECK(st->put_palette(st, "a", "#000000\n") == 0);
    CHECK(st->get_palette(st, "a", &text) == 0 && !strcmp(text, "#000000\n"));
    free(text);
    CHECK(st->list_palettes(st, &list) == 0 && !strcmp(list, "[\"a\",\"b\"]"));
    free(list);
    CHECK(st->delete_palette(st, "a") == 0);
    CHECK(st->delete_palette(st, "a") == 1);
    CHECK(st->get_palette(st, "a", &text) == 1);
    st->close(st);

    /* an orphan job folder (crash between file and row) is swept at open */
    char orphan[400];
    snprintf(orphan, sizeof orphan, "%s/jobs/ffffffffffffffffffffffffffffffff", dir);
    CHECK(mkdir(orphan, 0700) == 0);
    CHECK(carve__store_sqlite_open(dir, ctx, &st) == CARVE_OK && st && stat(orphan, &sb) != 0);
    if (st) st->close(st);
    /* unusable data dir: clear message */
    CHECK(carve__store_sqlite_open("/proc/carved-cannot", ctx, &st) == CARVE_ERR_IO && !st &&
          strstr(carve_ctx_errmsg(ctx), "data_dir"));
    carve_ctx_destroy(ctx);
    rm_rf(tmpdir);
}

static void test_lifecycle(void) {
    make_tmp();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/data", tmpdir);
    carve_ctx *cfg = carve_ctx_create();
    carve__srvopts *opt = carve__srvopts_create();
    CHECK_ST(carve__srvopts_set(opt, cfg, "listen", "127.0.0.1:0"), CARVE_OK);
    CHECK_ST(carve__srvopts_set(opt, cfg, "data_dir", dir), CARVE_OK);
    CHECK_ST(carve__srvopts_set(opt, cfg, "engine", "synthetic"), CARVE_OK);
    for (int round = 0; round < 2; round++) {
        carve__srv *s = NULL;
        CHECK_ST(carve__srv_create(cfg, opt, &s), CARVE_OK);
        CHECK_ST(carve__srv_start(s, cfg), CARVE_OK);
        CHECK(carve__srv_port(s) > 0);
        carve__srv_stop(s);
        carve__srv_stop(s); /* idempotent */
        carve__srv_destroy(s);
    }
    /* a key is required: refused with a message naming api_key */
    CHECK_ST(carve__srvopts_set(opt, cfg, "require_key", "always"), CARVE_OK);
    carve__srv *s = NULL;
    CHECK_ST(carve__srv_create(cfg, opt, &s), CARVE_OK);
    CHECK_ST(carve__srv_start(s, cfg), CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(cfg), "api_key") != NULL);
    carve__srv_destroy(s);
    /* bad listen address */
    CHECK_ST(carve__srvopts_set(opt, cfg, "require_key", "auto"), CARVE_OK);
    CHECK_ST(carve__srvopts_set(opt, cfg, "listen", "127.0.0.1"), CARVE_OK);
    CHECK_ST(carve__srv_create(cfg, opt, &s), CARVE_OK);
    CHECK_ST(carve__srv_start(s, cfg), CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(cfg), "listen") != NULL);
    carve__srv_destroy(s);
    carve__srvopts_destroy(opt);
    carve_ctx_destroy(cfg);
    rm_rf(tmpdir);
}

static void test_schema(void) {
    /* every setting of carved documented, with a default that parses; none
     * of them is a libcarve option; ranges and choices enforced */
    carve_ctx *ctx = carve_ctx_create();
    carve__srvopts *opt = carve__srvopts_create();
    CHECK(opt != NULL);
    int n = carve__srvopt_count();
    for (int i = 0; i < n; i++) {
        const carve_option_info *o = carve__srvopt_at(i);
        CHECKF(o->help && strlen(o->help) > 10, "%s has help", o->key);
        CHECKF(!strcmp(o->group, "server"), "%s in group server", o->key);
        CHECKF(carve__srvopts_set(opt, ctx, o->key, o->def) == CARVE_OK, "%s default '%s' parses", o->key, o->def);
        CHECKF(carve_option_find(o->key) == NULL, "%s is not a libcarve option", o->key);
    }
    CHECKF(n >= 15, "%d settings", n);
    for (int i = 0; i < carve_option_count(); i++)
        CHECKF(strcmp(carve_option_at(i)->group, "server"), "libcarve option %s is not a server one", carve_option_at(i)->key);
    CHECK(carve__srvopt_find("data-dir") != NULL && carve__srvopt_find("listen") != NULL);
    CHECK_ST(carve__srvopts_set(opt, ctx, "workers", "0"), CARVE_ERR_OUT_OF_RANGE);
    CHECK(strstr(carve_ctx_errmsg(ctx), "workers") && strstr(carve_ctx_errmsg(ctx), "1..256"));
    CHECK_ST(carve__srvopts_set(opt, ctx, "engine", "fast"), CARVE_ERR_INVALID_ARG);
    /* ENUM settings read as the generated names of their choices (srvenums.h) */
    static const struct { const char *key, *value; carve__srvopt id; int want; } names[] = {
        {"engine", "synthetic", CARVE_SRVOPT_engine, CARVE__ENGINE_SYNTHETIC},
        {"engine", "pipeline", CARVE_SRVOPT_engine, CARVE__ENGINE_PIPELINE},
        {"require_key", "never", CARVE_SRVOPT_require_key, CARVE__REQUIRE_KEY_NEVER},
        {"require_key", "always", CARVE_SRVOPT_require_key, CARVE__REQUIRE_KEY_ALWAYS},
        {"log_level", "warn", CARVE_SRVOPT_log_level, CARVE__LOG_LEVEL_WARN},
        {"log_level", "debug", CARVE_SRVOPT_log_level, CARVE__LOG_LEVEL_DEBUG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK_ST(carve__srvopts_set(opt, ctx, names[i].key, names[i].value), CARVE_OK);
        CHECKF(carve__srvopt_enum(opt, names[i].id) == names[i].want, "%s=%s", names[i].key, names[i].value);
    }
    CHECK(CARVE__ENGINE__COUNT == 2 && CARVE__REQUIRE_KEY__COUNT == 3 && CARVE__LOG_LEVEL__COUNT == 4);
    CHECK_ST(carve__srvopts_set(opt, ctx, "corner_threshold", "45"), CARVE_ERR_UNKNOWN_OPTION);
    CHECK_ST(carve__srvopts_set(opt, ctx, "queue_max", "7"), CARVE_OK);
    carve__srvopts *copy = carve__srvopts_clone(opt);
    CHECK(copy && carve__srvopt_int(copy, CARVE_SRVOPT_queue_max) == 7 && carve__srvopt_int(opt, CARVE_SRVOPT_workers) == 2);
    carve__srvopts_destroy(copy);
    carve__srvopts_destroy(opt);
    carve_ctx_destroy(ctx);
}

int main(void) {
    RUN(test_ring);
    RUN(test_store);
    RUN(test_lifecycle);
    RUN(test_schema);
    return test_done();
}
