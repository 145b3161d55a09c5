/* tunings_http.c — the HTTP side of tunings and presets:
 *   POST   /v1/tunings               multipart: photos, references, options, trials, seed, time_limit
 *   GET    /v1/tunings/{id}          state, progress, best score, trial count, best preset
 *   GET    /v1/tunings/{id}/events   SSE: every trial (options, score), log lines, the final state
 *   GET    /v1/tunings/{id}/result   the best preset (JSON)
 *   DELETE /v1/tunings/{id}          cancels a queued/running tuning (< 1 s), deletes a finished one
 *   GET    /v1/presets               built-in and installed presets
 *   PUT    /v1/presets/{name}        installs a preset (JSON object of options) for later jobs */
#include "multipart.h"
#include "tunings.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <dirent.h>

#define MAX_PARTS 200
#define MAX_PAIRS 64
#define TRIALS_DEFAULT 40
#define TRIALS_MAX 10000
#define SSE_CHUNK 16384

/* ---- responses ------------------------------------------------------------- */
static enum MHD_Result reply(carve__srv *s, struct MHD_Connection *c, int code, const char *ctype, const char *data,
                             size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    const char *cors = carve__srvopt_str(s->opt, CARVE_SRVOPT_cors_origin);
    if (cors && *cors) MHD_add_response_header(r, "Access-Control-Allow-Origin", cors);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    carve__srv_count_http(s, code);
    return ret;
}

static enum MHD_Result reply_buf(carve__srv *s, struct MHD_Connection *c, int code, carve__buf *b) {
    enum MHD_Result r = b->oom ? reply(s, c, 500, "application/json", "{\"error\":{\"code\":\"nomem\"}}", 26)
                               : reply(s, c, code, "application/json", b->data ? b->data : "", b->len);
    carve__buf_free(b);
    return r;
}

CARVE_PRINTF(5, 6) static enum MHD_Result fail(carve__srv *s, struct MHD_Connection *c, int code, const char *kind, const char *fmt, ...) {
    char msg[1200];
    carve__buf b;
    va_list ap;
    va_start(ap, fmt);
    carve__http_error_body(&b, msg, sizeof msg, code, kind, fmt, ap);
    va_end(ap);
    return reply_buf(s, c, code, &b);
}

bool carve__tunings_owns(const char *url) {
    return !strcmp(url, "/v1/tunings") || !strncmp(url, "/v1/tunings/", 12) || !strcmp(url, "/v1/presets") ||
           !strncmp(url, "/v1/presets/", 12);
}


/* ---- POST /v1/tunings ---------------------------------------------------------- */
typedef struct upload {
    carve__part *photos[MAX_PARTS], *refs[MAX_PARTS];
    int np, nr;
    json_t *opts;
    int trials;
    double seed, time_limit;
} upload;

static size_t stem_len(const char *f) {
    const char *slash = strrchr(f, '/');
    const char *base = slash ? slash + 1 : f;
    const char *dot = strrchr(base, '.');
    return (size_t)((dot && dot != base ? dot : base + strlen(base)) - f);
}

static bool same_stem(const char *a, const char *b) {
    size_t n = stem_len(a);
    return n == stem_len(b) && !strncmp(a, b, n);
}

static bool is_svg(const char *d, size_t n) {
    size_t i = 0;
    while (i < n && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t')) i++;
    return n - i > 5 && (!strncmp(d + i, "<svg", 4) || !strncmp(d + i, "<?xml", 5)) &&
           memmem(d, n < 4096 ? n : 4096, "<svg", 4);
}

/* 0, or an HTTP code with msg: the upload is an image carve reads, under the pixel limit. */
static int check_image(carve__srv *s, const carve__part *p, bool svg_ok, char *msg, size_t n) {
    if (svg_ok && is_svg(p->data, p->len)) return 0;
    int w = 0, h = 0;
    carve_ctx *t = carve_ctx_create();
    carve_status st = !t ? CARVE_ERR_NOMEM : carve_image_probe(t, p->data, p->len, p->filename, &w, &h);
    carve_ctx_destroy(t);
    if (st == CARVE_ERR_UNSUPPORTED || (!st && !p->len)) {
        snprintf(msg, n, "'%s' is not an image carve can read (JPEG, PNG, WebP, GIF, TIFF, HEIF%s)", p->filename,
                 svg_ok ? ", SVG" : "");
        return 415;
    }
    if (st) {
        snprintf(msg, n, "'%s': cannot read the image header", p->filename);
        return st == CARVE_ERR_NOMEM ? 500 : 400;
    }
    long long px = (long long)w * h;
    long long maxpx = carve__srv_opt_int(s->cfg, "max_pixels");
    if (px > maxpx) {
        snprintf(msg, n, "'%s' has %lld pixels, over max_pixels %lld", p->filename, px, maxpx);
        return 413;
    }
    return 0;
}

static bool option_refused(const carve_option_info *o) {
    static const char *const keys[] = {"threads", "max_pixels", "models_dir", "ort_library", "erase_mask",
                                       "nn_threads", "keep_intermediates", "presets_dir", "palette", "lock"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(o->key, keys[i])) return true;
    return false;
}

static int parse_number_field(const carve__part *p, double lo, double hi, double *out, char *msg, size_t n) {
    char buf[64];
    size_t l = p->len < sizeof buf - 1 ? p->len : sizeof buf - 1;
    memcpy(buf, p->data, l);
    buf[l] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || *end || !(v >= lo && v <= hi)) {
        snprintf(msg, n, "field '%s': '%s' is not a number in %g..%g", p->name, buf, lo, hi);
        return 400;
    }
    *out = v;
    return 0;
}

static int read_fields(carve__srv *s, carve__part *parts, int np, upload *u, char *msg, size_t n) {
    for (int i = 0; i < np; i++) {
        carve__part *p = &parts[i];
        double v = 0;
        int code = 0;
        if (!strcmp(p->name, "photos") || !strcmp(p->name, "photo")) {
            code = check_image(s, p, false, msg, n);
            u->photos[u->np++] = p;
        } else if (!strcmp(p->name, "references") || !strcmp(p->name, "reference")) {
            code = check_image(s, p, true, msg, n);
            u->refs[u->nr++] = p;
        } else if (!strcmp(p->name, "options")) {
            json_error_t je;
            json_t *o = json_loadb(p->data, p->len, JSON_REJECT_DUPLICATES, &je);
            if (!json_is_object(o)) {
                json_decref(o);
                snprintf(msg, n, "field 'options': expected a JSON object of options");
                return 400;
            }
            json_object_update(u->opts, o);
            json_decref(o);
        } else if (!strcmp(p->name, "trials")) {
            if (!(code = parse_number_field(p, 1, TRIALS_MAX, &v, msg, n))) u->trials = (int)v;
        } else if (!strcmp(p->name, "seed")) {
            code = parse_number_field(p, 0, 9007199254740991.0, &u->seed, msg, n);
        } else if (!strcmp(p->name, "time_limit")) {
            code = parse_number_field(p, 0, 1e7, &u->time_limit, msg, n);
        } else {
            snprintf(msg, n, "unknown field '%.60s' (photos, references, options, trials, seed, time_limit)", p->name);
            return 400;
        }
        if (code) return code;
        if ((!strncmp(p->name, "photo", 5) || !strncmp(p->name, "reference", 9)) && !p->filename[0]) {
            snprintf(msg, n, "field '%s': each file needs a file name (photos and references pair by name)", p->name);
            return 400;
        }
    }
    return 0;
}

static int validate_upload(carve__srv *s, upload *u, char *msg, size_t n) {
    carve__buf b;
    carve__buf_init(&b);
    int unpaired = 0, pairs = 0;
    for (int i = 0; i < u->np; i++) {
        int k = 0;
        while (k < u->nr && !same_stem(u->photos[i]->filename, u->refs[k]->filename)) k++;
        if (k == u->nr) carve__buf_printf(&b, "%sphoto '%s' has no reference", unpaired++ ? "; " : "", u->photos[i]->filename);
        else pairs++;
    }
    for (int k = 0; k < u->nr; k++) {
        int i = 0;
        while (i < u->np && !same_stem(u->photos[i]->filename, u->refs[k]->filename)) i++;
        if (i == u->np) carve__buf_printf(&b, "%sreference '%s' has no photo", unpaired++ ? "; " : "", u->refs[k]->filename);
    }
    int code = 0;
    if (unpaired) snprintf(msg, n, "unpaired files: %s", b.data ? b.data : "");
    else if (pairs < 2) snprintf(msg, n, "a tuning needs at least 2 photo/reference pairs, got %d", pairs);
    else if (pairs > MAX_PAIRS) snprintf(msg, n, "at most %d pairs per tuning, got %d", MAX_PAIRS, pairs);
    code = unpaired || pairs < 2 ? 400 : pairs > MAX_PAIRS ? 413 : 0;
    carve__buf_free(&b);
    if (code) return code;
    const char *key;
    json_t *val;
    json_object_foreach(u->opts, key, val) {
        const carve_option_info *o = carve_option_find(key);
        if (carve__srvopt_find(key) || (o && option_refused(o))) {
            snprintf(msg, n, "option '%s' cannot be set for a tuning", key);
            return 400;
        }
    }
    char *dump = json_dumps(u->opts, JSON_COMPACT);
    carve_ctx *t = carve_ctx_clone(s->cfg);
    if (!dump || !t) code = 500, snprintf(msg, n, "out of memory");
    else if (carve_ctx_apply_json(t, dump, "options")) code = 400, snprintf(msg, n, "%s", carve_ctx_errmsg(t));
    carve_ctx_destroy(t);
    free(dump);
    return code;
}

static void new_tuning_id(char out[33]) {
    unsigned char r[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(r, 1, sizeof r, f) != sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (int i = 0; i < 16; i++) r[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (i * 37) ^ ts.tv_sec);
    }
    if (f) fclose(f);
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Stores the files and the row; the request JSON names the stored files. */
static int store_upload(carve__srv *s, upload *u, const char *id, char *msg, size_t n) {
    json_t *req = json_object(), *pairs = json_array();
    json_object_set(req, "options", u->opts);
    json_object_set_new(req, "trials", json_integer(u->trials));
    json_object_set_new(req, "seed", json_integer((json_int_t)u->seed));
    json_object_set_new(req, "time_limit", json_real(u->time_limit));
    json_object_set_new(req, "pairs", pairs);
    int rc = 0;
    for (int i = 0; i < u->np && !rc; i++) {
        int k = 0;
        while (!same_stem(u->photos[i]->filename, u->refs[k]->filename)) k++;
        char pf[16], rf[16];
        snprintf(pf, sizeof pf, "p%d", i);
        snprintf(rf, sizeof rf, "r%d", i);
        json_t *pr = json_object();
        json_object_set_new(pr, "name", json_stringn(u->photos[i]->filename, stem_len(u->photos[i]->filename)));
        json_object_set_new(pr, "photo", json_string(pf));
        json_object_set_new(pr, "reference", json_string(rf));
        json_object_set_new(pr, "svg", json_boolean(is_svg(u->refs[k]->data, u->refs[k]->len)));
        json_array_append_new(pairs, pr);
        rc = s->store->put_tuning_file(s->store, id, pf, u->photos[i]->data, u->photos[i]->len) ||
             s->store->put_tuning_file(s->store, id, rf, u->refs[k]->data, u->refs[k]->len);
    }
    carve__tuning_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.id, sizeof row.id, "%s", id);
    row.state = CARVE__JOB_QUEUED;
    row.created = carve__srv_wall();
    row.request = json_dumps(req, JSON_COMPACT);
    bool store_failed = rc != 0; /* a file */
    if (!rc && !row.request) {
        snprintf(msg, n, "out of memory");
        rc = 1;
    } else if (!rc && (rc = s->store->put_tuning(s->store, &row)))
        store_failed = true;
    if (store_failed) snprintf(msg, n, "%s", carve__store_errmsg(s->store));
    free(row.request);
    json_decref(req);
    return rc ? 500 : 0;
}

static enum MHD_Result post_tuning(carve__srv *s, struct MHD_Connection *c, const char *body, size_t len) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    char bnd[256], msg[1200];
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) || !carve__multipart_boundary(ct, bnd, sizeof bnd))
        return fail(s, c, 415, "unsupported_media_type",
                    "send multipart/form-data with file fields 'photos' and 'references' (paired by file name)");
    carve__part *parts = calloc(MAX_PARTS, sizeof *parts);
    upload *u = calloc(1, sizeof *u);
    if (!parts || !u) {
        free(parts);
        free(u);
        return fail(s, c, 500, "nomem", "out of memory");
    }
    u->opts = json_object();
    u->trials = TRIALS_DEFAULT;
    u->seed = 1;
    int np = carve__multipart_parse(body, len, bnd, parts, MAX_PARTS, msg, sizeof msg);
    int code = np == -2 ? 413 : np < 0 ? 400 : 0;
    if (!code) code = read_fields(s, parts, np, u, msg, sizeof msg);
    if (!code) code = validate_upload(s, u, msg, sizeof msg);
    char id[33];
    new_tuning_id(id);
    if (!code) code = store_upload(s, u, id, msg, sizeof msg);
    if (!code && carve__tuning_enqueue(s->tunings, id)) code = 500, snprintf(msg, sizeof msg, "out of memory");
    json_decref(u->opts);
    free(parts);
    free(u);
    if (code)
        return fail(s, c, code, code == 415 ? "unsupported_media_type" : code == 413 ? "too_large"
                                : code == 400 ? "invalid_request" : "internal", "%s", msg);
    carve__srv_log(s, CARVE_LOG_INFO, id, NULL, "tuning accepted");
    char out[512];
    snprintf(out, sizeof out, "{\"id\":\"%s\",\"state\":\"queued\",\"links\":{\"self\":\"/v1/tunings/%s\","
             "\"events\":\"/v1/tunings/%s/events\",\"result\":\"/v1/tunings/%s/result\"}}", id, id, id, id);
    return reply(s, c, 202, "application/json", out, strlen(out));
}

/* ---- GET /v1/tunings/{id} ------------------------------------------------------ */
static enum MHD_Result get_tuning(carve__srv *s, struct MHD_Connection *c, const char *id) {
    carve__tuning_row row;
    int r = s->store->get_tuning(s->store, id, &row);
    if (r > 0) return fail(s, c, 404, "not_found", "no tuning %s", id);
    if (r < 0) return fail(s, c, 500, "store", "%s", carve__store_errmsg(s->store));
    srv_tuning *t = carve__tuning_get(s->tunings, id);
    int state = row.state, trials = row.trials;
    double progress = state == CARVE__JOB_DONE ? 1 : 0, best = row.best_score;
    if (t) {
        pthread_mutex_lock(&s->tunings->mu);
        state = t->state;
        pthread_mutex_unlock(&s->tunings->mu);
        pthread_mutex_lock(&t->mu);
        progress = t->progress;
        trials = t->ntrials > trials ? t->ntrials : trials;
        if (t->ntrials) best = t->best_score;
        pthread_mutex_unlock(&t->mu);
        carve__tuning_unref(s->tunings, t);
    }
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_printf(&b, "{\"id\":\"%s\",\"state\":\"%s\",\"progress\":%.4f,\"trials\":%d,\"best_score\":", id,
                      carve__job_state_name(state), progress, trials);
    if (row.best || t) carve__buf_printf(&b, "%.6f", best == best ? best : 0);
    else carve__buf_puts(&b, "null");
    carve__buf_printf(&b, ",\"best\":%s,\"created\":%.3f,\"finished\":%.3f,\"error\":", row.best ? row.best : "null",
                      row.created, row.finished);
    if (row.error) {
        carve__buf_putc(&b, '"');
        carve__buf_json_str(&b, row.error);
        carve__buf_putc(&b, '"');
    } else carve__buf_puts(&b, "null");
    carve__buf_printf(&b, ",\"links\":{\"events\":\"/v1/tunings/%s/events\",\"result\":\"/v1/tunings/%s/result\"}}",
                      id, id);
    carve__tuning_row_free(&row);
    return reply_buf(s, c, 200, &b);
}

static enum MHD_Result get_result(carve__srv *s, struct MHD_Connection *c, const char *id) {
    carve__tuning_row row;
    int r = s->store->get_tuning(s->store, id, &row);
    if (r > 0) return fail(s, c, 404, "not_found", "no tuning %s", id);
    if (r < 0) return fail(s, c, 500, "store", "%s", carve__store_errmsg(s->store));
    enum MHD_Result ret;
    if (!row.best) ret = fail(s, c, 409, "not_ready", "tuning %s (%s) has no finished trial yet", id,
                              carve__job_state_name(row.state));
    else ret = reply(s, c, 200, "application/json", row.best, strlen(row.best));
    carve__tuning_row_free(&row);
    return ret;
}

/* ---- GET /v1/tunings/{id}/events ------------------------------------------------- */
typedef struct tsse {
    carve__srv *s;
    srv_tuning *t;
    uint64_t next_ev;
    int next_trial;
    bool hello;
    carve__sse_out o;
} tsse;

static void put_log(carve__buf *b, const carve__event *e) {
    static const char *lv[] = {"debug", "info", "warn", "error"};
    if (e->kind == CARVE__EV_STATE) {
        carve__buf_printf(b, "event: state\ndata: {\"time\":%.3f,\"state\":\"%s\"}\n\n", e->time, e->text);
        return;
    }
    carve__buf_printf(b, "event: log\ndata: {\"time\":%.3f,\"level\":\"%s\",\"msg\":\"", e->time,
                      lv[e->level < 0 ? 0 : e->level > 3 ? 3 : e->level]);
    carve__buf_json_str(b, e->text);
    carve__buf_puts(b, "\"}\n\n");
}

/* Appends what is new; true when the tuning has finished and all was sent.
 * Every event's id is the resume cursor "T-E": the trials sent so far (the
 * next trial index) and the next event seq of the ring (docs/server.md). */
static bool collect(tsse *e, carve__buf *b) {
    srv_tuning *t = e->t;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_mutex_lock(&t->mu);
    if (e->next_ev >= t->ring.next_seq && e->next_trial >= t->ntrials && !t->finished && !b->len)
        pthread_cond_timedwait(&t->cv, &t->mu, &until);
    uint64_t first = carve__ring_first(&t->ring);
    if (e->next_ev > t->ring.next_seq) e->next_ev = 0; /* a cursor of an earlier carved process: all again */
    if (e->next_ev < first) e->next_ev = first;
    /* trials before the events that follow them (the final state comes last) */
    for (; e->next_trial < t->ntrials && b->len < SSE_CHUNK; e->next_trial++)
        carve__buf_printf(b, "id: %d-%llu\nevent: trial\ndata: %s\n\n", e->next_trial + 1,
                          (unsigned long long)e->next_ev, t->trials[e->next_trial]);
    for (; e->next_ev < t->ring.next_seq && b->len < SSE_CHUNK; e->next_ev++) {
        const carve__event *ev = carve__ring_get(&t->ring, e->next_ev);
        if (ev && ev->kind == CARVE__EV_STATE && e->next_trial < t->ntrials) break; /* its trials first */
        if (!ev) continue;
        carve__buf_printf(b, "id: %d-%llu\n", e->next_trial, (unsigned long long)e->next_ev + 1);
        put_log(b, ev);
    }
    bool done = t->finished && e->next_ev >= t->ring.next_seq && e->next_trial >= t->ntrials;
    pthread_mutex_unlock(&t->mu);
    return done;
}

/* Last-Event-ID (header, or the last_event_id query argument for
 * EventSource-less clients): "T-E" as sent by collect; 0-0 when absent. */
static void resume_cursor(struct MHD_Connection *c, int *trial, uint64_t *ev) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (!v) v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last_event_id");
    *trial = 0;
    *ev = 0;
    if (!v) return;
    char *end = NULL;
    long tr = strtol(v, &end, 10);
    if (end == v || tr < 0 || tr > TRIALS_MAX * 3) return;
    *trial = (int)tr;
    if (*end == '-') *ev = strtoull(end + 1, NULL, 10);
}

static ssize_t tsse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    tsse *e = cls;
    while (carve__sse_idle(&e->o)) {
        if (e->o.done) return MHD_CONTENT_READER_END_OF_STREAM;
        carve__sse_begin(&e->o);
        if (!e->hello) {
            carve__buf_puts(&e->o.out, "retry: 1000\n\n");
            e->hello = true;
        }
        e->o.done = collect(e, &e->o.out);
        if (!carve__sse_end(&e->o, &e->s->tunings->mu, &e->s->tunings->stopping))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return carve__sse_copy(&e->o, buf, max);
}

static void tsse_free(void *cls) {
    tsse *e = cls;
    carve__tuning_unref(e->s->tunings, e->t);
    carve__buf_free(&e->o.out);
    free(e);
}

/* A finished tuning: its stored trials (after the Last-Event-ID's trial count),
 * then its state (no log lines: they are not stored). */
static enum MHD_Result replay(carve__srv *s, struct MHD_Connection *c, const char *id, int from_trial) {
    carve__tuning_row row;
    int r = s->store->get_tuning(s->store, id, &row);
    if (r > 0) return fail(s, c, 404, "not_found", "no tuning %s", id);
    if (r < 0) return fail(s, c, 500, "store", "%s", carve__store_errmsg(s->store));
    double *scores = NULL;
    int n = 0;
    char *arr = NULL;
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "retry: 1000\n\n");
    if (!s->store->list_trials(s->store, id, &scores, &n, &arr)) {
        json_t *a = json_loads(arr, 0, NULL);
        size_t i;
        json_t *tr;
        json_array_foreach(a, i, tr) {
            if ((int)i < from_trial) continue;
            char *one = json_dumps(tr, JSON_COMPACT | JSON_PRESERVE_ORDER);
            carve__buf_printf(&b, "id: %zu-0\nevent: trial\ndata: %s\n\n", i + 1, one ? one : "{}");
            free(one);
        }
        json_decref(a);
    }
    carve__buf_printf(&b, "event: state\ndata: {\"state\":\"%s\"}\n\n", carve__job_state_name(row.state));
    free(scores);
    free(arr);
    carve__tuning_row_free(&row);
    enum MHD_Result ret = reply(s, c, 200, "text/event-stream", b.data ? b.data : "", b.len);
    carve__buf_free(&b);
    return ret;
}

static enum MHD_Result get_events(carve__srv *s, struct MHD_Connection *c, const char *id) {
    int from_trial;
    uint64_t from_ev;
    resume_cursor(c, &from_trial, &from_ev);
    srv_tuning *t = carve__tuning_get(s->tunings, id);
    if (!t) return replay(s, c, id, from_trial);
    tsse *e = calloc(1, sizeof *e);
    if (!e) {
        carve__tuning_unref(s->tunings, t);
        return fail(s, c, 500, "nomem", "out of memory");
    }
    e->s = s;
    e->t = t;
    e->next_trial = from_trial;
    e->next_ev = from_ev;
    e->o.t_end = carve__now() + (double)carve__srvopt_int(s->opt, CARVE_SRVOPT_sse_max_seconds);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_CHUNK, tsse_read, e, tsse_free);
    if (!r) {
        tsse_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    const char *cors = carve__srvopt_str(s->opt, CARVE_SRVOPT_cors_origin);
    if (cors && *cors) MHD_add_response_header(r, "Access-Control-Allow-Origin", cors);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    carve__srv_count_http(s, 200);
    return ret;
}

/* ---- presets --------------------------------------------------------------------- */
static enum MHD_Result presets_route(carve__srv *s, struct MHD_Connection *c, const char *method, const char *name,
                                     const char *body, size_t len) {
    if (!name) {
        if (strcmp(method, "GET")) return fail(s, c, 405, "method_not_allowed", "use GET on /v1/presets");
        carve__buf b;
        carve__buf_init(&b);
        carve__buf_puts(&b, "{\"builtin\":[\"illustration\",\"poster\",\"detailed\"],\"installed\":[");
        char *dir = carve_presets_dir(s->cfg);
        DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;
        int n = 0;
        while (d && (de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l > 5 && l < 70 && !strcmp(de->d_name + l - 5, ".json") && de->d_name[0] != '.')
                carve__buf_printf(&b, "%s\"%.*s\"", n++ ? "," : "", (int)(l - 5), de->d_name);
        }
        if (d) closedir(d);
        carve_free(dir);
        carve__buf_puts(&b, "]}");
        return reply_buf(s, c, 200, &b);
    }
    if (strcmp(method, "PUT")) return fail(s, c, 405, "method_not_allowed", "use PUT on /v1/presets/NAME");
    char *text = strndup(body ? body : "", len);
    carve_ctx *t = carve_ctx_clone(s->cfg);
    carve_status st = text && t ? carve_preset_install(t, name, text) : CARVE_ERR_NOMEM;
    enum MHD_Result ret;
    if (st == CARVE_ERR_NOMEM) ret = fail(s, c, 500, "nomem", "out of memory");
    else if (st == CARVE_ERR_IO) ret = fail(s, c, 500, "io", "%s", carve_ctx_errmsg(t));
    else if (st) ret = fail(s, c, 400, "invalid_preset", "%s", carve_ctx_errmsg(t));
    else {
        char out[256];
        snprintf(out, sizeof out, "{\"name\":\"%s\",\"installed\":true}", name);
        carve__srv_log(s, CARVE_LOG_INFO, NULL, NULL, "preset %s installed", name);
        ret = reply(s, c, 201, "application/json", out, strlen(out));
    }
    carve_ctx_destroy(t);
    free(text);
    return ret;
}

/* ---- dispatch ---------------------------------------------------------------------- */
static bool hex_id(const char *p, size_t n) {
    if (n != 32) return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return false;
    return true;
}

enum MHD_Result carve__tunings_route(carve__srv *s, struct MHD_Connection *c, const char *url, const char *method,
                                     const char *body, size_t len) {
    if (!strcmp(url, "/v1/presets")) return presets_route(s, c, method, NULL, body, len);
    if (!strncmp(url, "/v1/presets/", 12)) return presets_route(s, c, method, url + 12, body, len);
    if (!s->tunings)
        return fail(s, c, 501, "not_implemented", "this store does not keep tunings (SQLite and PostgreSQL do)");
    if (!strcmp(url, "/v1/tunings")) {
        if (!strcmp(method, "POST")) return post_tuning(s, c, body, len);
        return fail(s, c, 405, "method_not_allowed", "use POST on /v1/tunings");
    }
    const char *p = url + 12, *slash = strchr(p, '/');
    size_t idlen = slash ? (size_t)(slash - p) : strlen(p);
    if (!hex_id(p, idlen)) return fail(s, c, 404, "not_found", "no such tuning: ids are 32 lowercase hex characters");
    char id[33];
    memcpy(id, p, 32);
    id[32] = 0;
    const char *rest = slash ? slash : "";
    if (!*rest && !strcmp(method, "DELETE")) {
        if (carve__tuning_cancel(s->tunings, id, 1.0)) return fail(s, c, 404, "not_found", "no tuning %s", id);
        char out[128];
        snprintf(out, sizeof out, "{\"id\":\"%s\",\"cancelled\":true}", id);
        return reply(s, c, 200, "application/json", out, strlen(out));
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return fail(s, c, 405, "method_not_allowed", "use GET (or DELETE) on /v1/tunings/ID%s", rest);
    if (!*rest) return get_tuning(s, c, id);
    if (!strcmp(rest, "/events")) return get_events(s, c, id);
    if (!strcmp(rest, "/result")) return get_result(s, c, id);
    return fail(s, c, 404, "not_found", "no such resource under /v1/tunings/%s", id);
}
