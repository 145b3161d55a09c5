/* http.c — carved's HTTP API on libmicrohttpd (one thread per connection;
 * no CPU work here beyond header sniffing: jobs run on the worker pool).
 * Every error is JSON: {"error":{"code":"...","message":"..."}}. */
#include "guard.h"
#include "multipart.h"
#include "srv_internal.h"
#include "webhook.h"
#include "tunings.h"

#include <arpa/inet.h>
#include <glib.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPLOAD_GRACE_S 5.0 /* seconds of body before min_upload_rate is judged */
#define HTTP_POOL_BYTES (96u << 10) /* libmicrohttpd's per-connection memory (default 32 KiB) */
#define HTTP_MAX_URL 8192
#define HTTP_MAX_HEAD (32 << 10)
#define HTTP_MAX_HEADERS 100

static const char *const artifact_phases[] = {"original", "sanitize", "steer", "matte", "chroma"};
#define N_ARTIFACTS 5

typedef struct req {
    carve__buf body;
    size_t max;
    bool too_large;
    bool responded;
    double t0;
} req;

/* ---- responses ------------------------------------------------------------- */
static void add_common(carve__srv *s, struct MHD_Response *r, bool api) {
    const char *cors = carve__srvopt_str(s->opt, CARVE_SRVOPT_cors_origin);
    if (cors && *cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", cors);
        MHD_add_response_header(r, "Vary", "Origin");
    }
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (api) MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result send_bytes(carve__srv *s, struct MHD_Connection *c, int code, const char *ctype,
                                  const void *data, size_t len, bool copy, const char **hdrs) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    add_common(s, r, true);
    for (int i = 0; hdrs && hdrs[i]; i += 2) MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    carve__srv_count_http(s, code);
    return ret;
}

static enum MHD_Result send_json(carve__srv *s, struct MHD_Connection *c, int code, const char *json,
                                 const char **hdrs) {
    return send_bytes(s, c, code, "application/json", json, strlen(json), true, hdrs);
}

static enum MHD_Result send_buf(carve__srv *s, struct MHD_Connection *c, int code, carve__buf *b,
                                const char **hdrs) {
    if (b->oom) {
        carve__buf_free(b);
        return send_json(s, c, 500, "{\"error\":{\"code\":\"nomem\",\"message\":\"out of memory\"}}", NULL);
    }
    enum MHD_Result r = send_bytes(s, c, code, "application/json", b->data ? b->data : "", b->len, true, hdrs);
    carve__buf_free(b);
    return r;
}

void carve__http_error_body(carve__buf *b, char *msg, size_t msglen, int code, const char *kind, const char *fmt,
                            va_list ap) {
    vsnprintf(msg, msglen, fmt, ap);
    carve__buf_init(b);
    carve__buf_printf(b, "{\"error\":{\"code\":\"%s\",\"status\":%d,\"message\":\"", kind, code);
    carve__buf_json_str(b, msg);
    carve__buf_puts(b, "\"}}");
}

CARVE_PRINTF(6, 7) static enum MHD_Result send_error_h(carve__srv *s, struct MHD_Connection *c, int code, const char *kind,
                                    const char **hdrs, const char *fmt, ...) {
    char msg[1200];
    carve__buf b;
    va_list ap;
    va_start(ap, fmt);
    carve__http_error_body(&b, msg, sizeof msg, code, kind, fmt, ap);
    va_end(ap);
    if (code >= 500) carve__srv_log(s, CARVE_LOG_ERROR, NULL, NULL, "HTTP %d %s: %s", code, kind, msg);
    return send_buf(s, c, code, &b, hdrs);
}
#define send_error(s, c, code, kind, ...) send_error_h(s, c, code, kind, NULL, __VA_ARGS__)
#define STORE_RETRY_AFTER "5"

/* 503 with Retry-After: the (shared) job store cannot be reached. */
static enum MHD_Result send_unavailable(carve__srv *s, struct MHD_Connection *c, const char *msg) {
    const char *h[] = {"Retry-After", STORE_RETRY_AFTER, NULL};
    return send_error_h(s, c, 503, "unavailable", h, "%s", msg);
}

/* A store call failed: the shared store (PostgreSQL) is a remote service
 * that comes back, so 503 + Retry-After; the local SQLite store: 500. */
static enum MHD_Result send_store_error(carve__srv *s, struct MHD_Connection *c, const char *err) {
    if (!s->shared) return send_error(s, c, 500, "store", "%s", err);
    char m[700];
    snprintf(m, sizeof m, "the job store is unreachable: %s", err);
    return send_unavailable(s, c, m);
}

/* ---- helpers ------------------------------------------------------------------ */
static bool is_hex_id(const char *p, size_t n) {
    if (n != 32) return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return false;
    return true;
}

static bool palette_name_ok(const char *n, size_t len) {
    if (len < 1 || len > 64) return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
              n[i] == '-' || n[i] == '_'))
            return false;
    return true;
}

static bool ct_eq(const char *a, size_t alen, const char *b, size_t blen) {
    unsigned char d = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++) d |= (unsigned char)(a[i] ^ b[i < blen ? i : 0]);
    return d == 0 && blen > 0;
}

static bool key_required(carve__srv *s) {
    const char *k = carve__srvopt_str(s->opt, CARVE_SRVOPT_api_key);
    return k && *k;
}

static bool authorized(carve__srv *s, struct MHD_Connection *c) {
    if (!key_required(s)) return true;
    const char *given = NULL;
    size_t glen = 0;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7)) {
        given = h + 7;
        while (*given == ' ') given++;
    } else {
        /* EventSource and <a download> cannot set headers: ?access_token= */
        given = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "access_token");
    }
    if (!given) return false;
    glen = strlen(given);
    const char *keys = carve__srvopt_str(s->opt, CARVE_SRVOPT_api_key);
    bool ok = false;
    for (const char *p = keys; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ') p++, n--;
        while (n && p[n - 1] == ' ') n--;
        if (n && ct_eq(given, glen, p, n)) ok = true;
        if (!comma) break;
        p = comma + 1;
    }
    return ok;
}

#define GETRANDOM_TRIES 8

/* A 128-bit random id; false when the kernel's generator keeps failing (the
 * loop is bounded: EINTR and short reads are retried a few times). */
static bool new_id(char out[33]) {
    unsigned char r[16];
    size_t got = 0;
    for (int tries = 0; got < sizeof r && tries < GETRANDOM_TRIES; tries++) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n > 0) got += (size_t)n;
    }
    if (got < sizeof r) return false;
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
    return true;
}

static const char *sniff_mime(const char *d, size_t n) { return carve_image_sniff(d, n); }

/* the type of a job's result document from its first bytes (the writers of
 * option format start with fixed magic: docs/vector.md); *ext its suffix */
static const char *result_mime(const char *d, size_t n, const char **ext) {
    if (n >= 5 && !memcmp(d, "%PDF-", 5)) return *ext = "pdf", "application/pdf";
    if (n >= 4 && !memcmp(d, "%!PS", 4)) return *ext = "eps", "application/postscript";
    if (n >= 9 && !memcmp(d, "0\nSECTION", 9)) return *ext = "dxf", "image/vnd.dxf";
    return *ext = "svg", "image/svg+xml";
}

/* ---- job JSON ------------------------------------------------------------------ */
void carve__srv_job_json(carve__srv *s, carve__buf *b, const carve__job_row *row, srv_job *live) {
    (void)s;
    int state = row->state;
    double progress = state == CARVE__JOB_DONE ? 1.0 : 0.0;
    char stage[32] = "";
    if (!live && state == CARVE__JOB_RUNNING) { /* running on another node: its last heartbeat */
        progress = row->progress;
        snprintf(stage, sizeof stage, "%s", row->stage);
    }
    if (live) {
        pthread_mutex_lock(&s->mu);
        state = live->state;
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_lock(&live->mu);
        progress = live->progress;
        snprintf(stage, sizeof stage, "%s", live->stage);
        pthread_mutex_unlock(&live->mu);
    }
    carve__buf_printf(b, "{\"id\":\"%s\",\"state\":\"%s\",\"progress\":%.4f,\"stage\":\"", row->id,
                      carve__job_state_name(state), progress);
    carve__buf_json_str(b, stage);
    carve__buf_printf(b, "\",\"created\":%.3f,\"started\":%.3f,\"finished\":%.3f,\"attempts\":%d,", row->created,
                      row->started, row->finished, row->attempts);
    char *live_t = live && state == CARVE__JOB_RUNNING && !row->timings ? carve__srv_live_timings(live) : NULL;
    carve__buf_printf(b, "\"timings\":%s,\"options\":%s,\"custom_palette\":%s,",
                      live_t ? live_t : row->timings ? row->timings : "{}", row->options ? row->options : "{}",
                      row->palette ? "true" : "false");
    free(live_t);
    if (row->error) {
        carve__buf_printf(b, "\"error\":{\"code\":\"%s\",\"message\":\"", row->error_kind ? row->error_kind : "error");
        carve__buf_json_str(b, row->error);
        carve__buf_puts(b, "\"},");
    } else carve__buf_puts(b, "\"error\":null,");
    if (row->webhook_url) {
        static const char *hs[] = {"none", "pending", "delivered", "failed"};
        int h = row->webhook_state >= 0 && row->webhook_state <= CARVE__HOOK_FAILED ? row->webhook_state : 0;
        carve__buf_puts(b, "\"webhook\":{\"url\":\"");
        carve__buf_json_str(b, row->webhook_url);
        carve__buf_printf(b, "\",\"state\":\"%s\",\"attempts\":%d,\"%s\":%.3f,\"last_error\":", hs[h],
                          row->webhook_attempts, h == CARVE__HOOK_PENDING ? "next_attempt" : "at", row->webhook_at);
        if (row->webhook_error) {
            carve__buf_putc(b, '"');
            carve__buf_json_str(b, row->webhook_error);
            carve__buf_puts(b, "\"},");
        } else carve__buf_puts(b, "null},");
    } else carve__buf_puts(b, "\"webhook\":null,");
    carve__buf_printf(b,
                      "\"urls\":{\"self\":\"/v1/jobs/%s\",\"events\":\"/v1/jobs/%s/events\",\"result\":"
                      "\"/v1/jobs/%s/result\",\"report\":\"/v1/jobs/%s/report\",\"artifacts\":{",
                      row->id, row->id, row->id, row->id);
    for (int i = 0; i < N_ARTIFACTS; i++)
        carve__buf_printf(b, "%s\"%s\":\"/v1/jobs/%s/artifacts/%s\"", i ? "," : "", artifact_phases[i], row->id,
                          artifact_phases[i]);
    carve__buf_puts(b, "}}}");
}

/* ---- POST /v1/jobs ---------------------------------------------------------------- */
typedef struct argctx {
    json_t *obj;
    char err[200]; /* the first refused value */
} argctx;

/* Option values arrive as text (query, multipart fields); JSON strings must
 * be UTF-8, and a value that is not is refused, never dropped. */
static bool put_text_option(json_t *obj, const char *key, const char *value, size_t vlen, char *err, size_t elen) {
    if (!carve__utf8_valid(key, strlen(key))) {
        snprintf(err, elen, "an option name is not valid UTF-8");
        return false;
    }
    if (!carve__utf8_valid(value, vlen) || memchr(value, 0, vlen)) {
        snprintf(err, elen, "option '%.64s': the value is not valid UTF-8 text", key);
        return false;
    }
    json_t *v = json_stringn(value, vlen);
    if (!v || json_object_set_new(obj, key, v)) {
        snprintf(err, elen, "option '%.64s': out of memory", key);
        return false;
    }
    return true;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    argctx *a = cls;
    if (!key || !strcmp(key, "access_token") || a->err[0]) return MHD_YES;
    if (!value) value = "";
    put_text_option(a->obj, key, value, strlen(value), a->err, sizeof a->err);
    return MHD_YES;
}

/* libcarve options the operator owns: refused per job (carved's own
 * settings are refused by validate_options, except callback_url). */
static bool option_forbidden(const carve_option_info *o) {
    static const char *const keys[] = {"threads", "max_pixels", "models_dir", "ort_library", "erase_mask",
                                       "nn_threads", "keep_intermediates"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(o->key, keys[i])) return true;
    return false;
}

static bool builtin_palette(const char *name) {
    for (int i = 0; i < carve_palette_builtin_count(); i++)
        if (!strcmp(carve_palette_builtin_name(i), name)) return true;
    return false;
}

/* The job's effective callback_url (its own, cb, or the server default):
 * checked against the address policy; *url malloc'd, NULL when none. */
static int check_callback(carve__srv *s, const char *cb, char **url, char *msg, size_t mlen) {
    if (!cb) cb = carve__srvopt_str(s->opt, CARVE_SRVOPT_callback_url);
    *url = NULL;
    if (!cb || !*cb) return 0;
    const char *secret = carve__srvopt_str(s->opt, CARVE_SRVOPT_webhook_secret);
    if (!carve__hook_available()) {
        snprintf(msg, mlen, "option 'callback_url': this carved was built without libcurl (no webhooks)");
        return 501;
    }
    if (!secret || !*secret) {
        snprintf(msg, mlen, "option 'callback_url': webhooks are off on this server (the operator has not set "
                            "webhook_secret)");
        return 400;
    }
    if (carve__hook_check_url(cb, carve__srvopt_str(s->opt, CARVE_SRVOPT_webhook_allow), msg, mlen)) return 400;
    if (!(*url = strdup(cb))) {
        snprintf(msg, mlen, "out of memory");
        return 500;
    }
    return 0;
}

/* A job's callback_url (carved's setting, not a libcarve option) taken out of
 * obj into *cb (malloc'd; NULL when the job has none).  0 or 400 with msg. */
static int take_callback(json_t *obj, char **cb, char *msg, size_t mlen) {
    json_t *v = json_object_get(obj, "callback_url");
    *cb = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) {
        snprintf(msg, mlen, "option callback_url: expected a string");
        return 400;
    }
    if (!(*cb = strdup(json_string_value(v)))) {
        snprintf(msg, mlen, "out of memory");
        return 500;
    }
    json_object_del(obj, "callback_url");
    return 0;
}

/* Validates the options object in place (palette names resolved: custom
 * palettes are moved into *pal_text; callback_url checked and moved into
 * *hook_url).  0 or an HTTP code with msg. */
static int validate_options(carve__srv *s, json_t *obj, char **pal_text, char **hook_url, char *msg, size_t mlen) {
    const char *key;
    json_t *val;
    void *tmp;
    *pal_text = NULL;
    *hook_url = NULL;
    char *cb = NULL;
    int code = take_callback(obj, &cb, msg, mlen);
    if (code) return code;
    code = check_callback(s, cb, hook_url, msg, mlen);
    free(cb);
    if (code) return code;
    json_object_foreach_safe(obj, tmp, key, val) {
        const carve_option_info *o = carve_option_find(key);
        if (carve__srvopt_find(key)) {
            snprintf(msg, mlen, "option '%s' is a server setting and cannot be set per job", key);
            return 400;
        }
        if (!o) {
            snprintf(msg, mlen, "unknown option '%s' (see GET /v1/options)", key);
            return 400;
        }
        if (option_forbidden(o)) {
            snprintf(msg, mlen, "option '%s' is a server setting and cannot be set per job", key);
            return 400;
        }
        if (!strcmp(o->key, "palette") && json_is_string(val) && *json_string_value(val)) {
            const char *name = json_string_value(val);
            if (!palette_name_ok(name, strlen(name))) {
                snprintf(msg, mlen, "option 'palette': '%.80s' is not a palette name ([A-Za-z0-9_-]{1,64}; files "
                         "are not read by the server: upload it with PUT /v1/palettes/NAME)", name);
                return 400;
            }
            char *text = NULL;
            int r = s->store->get_palette(s->store, name, &text);
            if (r < 0) {
                snprintf(msg, mlen, "%s", carve__store_errmsg(s->store));
                return s->shared ? 503 : 500;
            }
            if (r == 0) {
                free(*pal_text);
                *pal_text = text;
                json_object_del(obj, key);
            } else if (!builtin_palette(name)) {
                snprintf(msg, mlen, "option 'palette': no built-in or uploaded palette named '%s'", name);
                return 400;
            }
        }
    }
    char *dump = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (!dump) {
        snprintf(msg, mlen, "out of memory");
        return 500;
    }
    carve_ctx *t = carve_ctx_clone(s->cfg);
    if (!t) {
        snprintf(msg, mlen, "out of memory");
        code = 500;
    } else if (carve_ctx_apply_json(t, dump, "request")) {
        snprintf(msg, mlen, "%s", carve_ctx_errmsg(t));
        code = 400;
    }
    carve_ctx_destroy(t);
    free(dump);
    return code;
}

/* ---- Idempotency-Key ------------------------------------------------------------- */
#define IDEM_KEY_MAX 255

static bool idem_key_ok(const char *k) {
    size_t n = strlen(k);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e) return false;
    return n >= 1 && n <= IDEM_KEY_MAX;
}

/* sha256 (hex, malloc'd) of what defines the job: the options (query,
 * form fields and JSON, canonical), the image and the palette upload; not
 * the raw body, whose multipart boundary changes with every client call. */
static char *request_hash(json_t *opts, const char *img, size_t img_len, const char *pal, size_t pal_len) {
    char *o = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS);
    if (!o) return NULL;
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(ck, (const guchar *)o, (gssize)strlen(o) + 1);
    g_checksum_update(ck, (const guchar *)img, (gssize)img_len);
    g_checksum_update(ck, (const guchar *)"\0palette\0", 9);
    if (pal) g_checksum_update(ck, (const guchar *)pal, (gssize)pal_len);
    char *hex = strdup(g_checksum_get_string(ck));
    g_checksum_free(ck);
    free(o);
    return hex;
}

/* A key seen before: 200 with its job when the request is the same, 409
 * when it differs.  false when the key is new (or its job was deleted: the
 * key is forgotten and the request makes a new job). */
static bool idem_replay(carve__srv *s, struct MHD_Connection *c, const char *key, const char *hash,
                        enum MHD_Result *ret) {
    char id[33], old[65];
    int r = s->store->idem_get(s->store, key, carve__srv_wall() - CARVE__IDEM_TTL_S, id, old);
    if (r < 0) {
        *ret = send_store_error(s, c, carve__store_errmsg(s->store));
        return true;
    }
    if (r > 0) return false;
    if (strcmp(old, hash)) {
        *ret = send_error(s, c, 409, "idempotency_conflict",
                          "Idempotency-Key '%.64s' was used for a different request (job %s) in the last 24 h", key, id);
        return true;
    }
    carve__job_row row;
    int gr = s->store->get_job(s->store, id, &row);
    if (gr > 0) {
        s->store->idem_forget(s->store, key);
        return false;
    }
    if (gr < 0) {
        *ret = send_store_error(s, c, carve__store_errmsg(s->store));
        return true;
    }
    srv_job *live = carve__srv_job_get(s, id);
    carve__buf b;
    carve__buf_init(&b);
    carve__srv_job_json(s, &b, &row, live);
    carve__srv_job_unref(s, live);
    carve__job_row_free(&row);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", id);
    const char *h[] = {"Location", loc, "Idempotent-Replayed", "true", NULL};
    *ret = send_buf(s, c, 200, &b, h);
    return true;
}

/* One POST /v1/jobs on its way in: what the request carried and what
 * admission made of it.  Each step below either fills its part and returns
 * false, or answers the request (*ret) and returns true. */
typedef struct admission {
    json_t *opts;                  /* the job's options: query, form fields and JSON */
    const char *img, *pal_upload;  /* point into the request body */
    size_t img_len, pal_upload_len;
    const char *ikey;              /* Idempotency-Key header, or NULL */
    char *ihash;                   /* sha256 of the request (with ikey) */
    const char *mime;              /* sniffed image type */
    char *pal_text;                /* the palette copied into the row, or NULL */
    char *hook_url;                /* effective callback_url, or NULL */
    char msg[1100];
} admission;

/* Query arguments and headers: the options so far and the Idempotency-Key. */
static bool admit_head(carve__srv *s, struct MHD_Connection *c, req *rq, admission *a, enum MHD_Result *ret) {
    argctx ac = {a->opts, ""};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &ac);
    if (ac.err[0]) {
        *ret = send_error(s, c, 400, "invalid_option", "%s", ac.err);
        return true;
    }
    a->ikey = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    if (a->ikey && !idem_key_ok(a->ikey)) {
        *ret = send_error(s, c, 400, "bad_idempotency_key",
                          "header Idempotency-Key: 1 to %d printable ASCII characters, no spaces", IDEM_KEY_MAX);
        return true;
    }
    if (!rq->body.len) {
        *ret = send_error(s, c, 400, "empty_body", "no image: send an image/* body or multipart/form-data with a "
                                                   "file field 'image'");
        return true;
    }
    return false;
}

/* The JSON object of a multipart field 'options', merged into a->opts. */
static bool admit_options_part(carve__srv *s, struct MHD_Connection *c, const carve__part *pt, admission *a,
                               enum MHD_Result *ret) {
    char *t = strndup(pt->data, pt->len);
    json_error_t je;
    json_t *o = t ? json_loads(t, JSON_REJECT_DUPLICATES, &je) : NULL;
    free(t);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        *ret = send_error(s, c, 400, "bad_options", "field 'options': expected a JSON object of options%s%s",
                          o ? "" : ": ", o ? "" : je.text);
        return true;
    }
    json_object_update(a->opts, o);
    json_decref(o);
    return false;
}

/* One multipart part: the image, a palette file, the options JSON or one
 * option per text field. */
static bool admit_part(carve__srv *s, struct MHD_Connection *c, const carve__part *pt, admission *a,
                       enum MHD_Result *ret) {
    if (!strcmp(pt->name, "image")) {
        a->img = pt->data;
        a->img_len = pt->len;
    } else if (!strcmp(pt->name, "palette_file")) {
        a->pal_upload = pt->data;
        a->pal_upload_len = pt->len;
    } else if (!strcmp(pt->name, "options")) {
        return admit_options_part(s, c, pt, a, ret);
    } else if (!pt->name[0]) {
        *ret = send_error(s, c, 400, "bad_multipart", "a multipart part has no field name");
        return true;
    } else if (pt->len > 65536) {
        *ret = send_error(s, c, 400, "bad_field", "field '%s' is too long", pt->name);
        return true;
    } else if (pt->len && !put_text_option(a->opts, pt->name, pt->data, pt->len, a->msg, sizeof a->msg)) {
        *ret = send_error(s, c, 400, "invalid_option", "%s", a->msg);
        return true;
    }
    return false;
}

/* The body: multipart/form-data (image, palette_file, options, fields) or
 * the image itself. */
static bool admit_body(carve__srv *s, struct MHD_Connection *c, req *rq, admission *a, enum MHD_Result *ret) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (ct && (!strncasecmp(ct, "image/", 6) || !strncasecmp(ct, "application/octet-stream", 24))) {
        a->img = rq->body.data;
        a->img_len = rq->body.len;
        return false;
    }
    if (!ct || strncasecmp(ct, "multipart/form-data", 19)) {
        *ret = send_error(s, c, 415, "unsupported_media_type",
                          "Content-Type '%s' is not accepted: send an image/* body or multipart/form-data",
                          ct ? ct : "(none)");
        return true;
    }
    char bnd[300];
    carve__part parts[CARVE__PART_MAX];
    snprintf(a->msg, sizeof a->msg, "multipart/form-data without a boundary parameter");
    int np = carve__multipart_boundary(ct, bnd, sizeof bnd)
                 ? carve__multipart_parse(rq->body.data, rq->body.len, bnd, parts, CARVE__PART_MAX, a->msg,
                                          sizeof a->msg)
                 : -1;
    if (np < 0) {
        *ret = send_error(s, c, 400, "bad_multipart", "%s", a->msg);
        return true;
    }
    for (int i = 0; i < np; i++)
        if (admit_part(s, c, &parts[i], a, ret)) return true;
    if (!a->img) {
        *ret = send_error(s, c, 400, "no_image", "multipart body has no file field named 'image'");
        return true;
    }
    return false;
}

/* With an Idempotency-Key: the request's hash, and the earlier job's
 * answer when the key was used before. */
static bool admit_replay(carve__srv *s, struct MHD_Connection *c, admission *a, enum MHD_Result *ret) {
    if (!a->ikey) return false;
    if (!(a->ihash = request_hash(a->opts, a->img, a->img_len, a->pal_upload, a->pal_upload_len))) {
        *ret = send_error(s, c, 500, "nomem", "out of memory");
        return true;
    }
    return idem_replay(s, c, a->ikey, a->ihash, ret);
}

/* Content sniffing (never the declared type), then the pixel limit from the
 * header, before anything is decoded (allow-listed decoders only). */
static bool admit_image(carve__srv *s, struct MHD_Connection *c, admission *a, enum MHD_Result *ret) {
    int w = 0, h = 0;
    a->mime = sniff_mime(a->img, a->img_len);
    carve_ctx *t = a->mime ? carve_ctx_create() : NULL;
    carve_status pst = !a->mime ? CARVE_ERR_UNSUPPORTED
                       : t      ? carve_image_probe(t, a->img, a->img_len, "upload", &w, &h)
                                : CARVE_ERR_NOMEM;
    if (pst == CARVE_ERR_UNSUPPORTED)
        *ret = send_error(s, c, 415, "unsupported_media_type",
                          "the upload is not an image carve can read (JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF)");
    else if (pst)
        *ret = send_error(s, c, pst == CARVE_ERR_NOMEM ? 500 : 400, pst == CARVE_ERR_NOMEM ? "nomem" : "decode", "%s",
                          t ? carve_ctx_errmsg(t) : "out of memory");
    carve_ctx_destroy(t);
    if (pst) return true;
    long long px = (long long)w * h;
    long long maxpx = carve__srv_opt_int(s->cfg, "max_pixels");
    if (px > maxpx) {
        *ret = send_error(s, c, 413, "too_many_pixels", "the image is %dx%d = %lld pixels, over max_pixels %lld", w, h,
                          px, maxpx);
        return true;
    }
    if (px <= 0) {
        *ret = send_error(s, c, 400, "empty", "the image is empty (0 pixels)");
        return true;
    }
    return false;
}

/* An uploaded palette file replaces option palette: parsed here, its text
 * copied into the row.  0 or an HTTP code with a->msg. */
static int admit_palette_upload(admission *a) {
    carve_ctx *t = carve_ctx_create();
    carve_palette *p = NULL;
    int code = 0;
    if (!t || carve_palette_parse(t, a->pal_upload, a->pal_upload_len, "palette_file", &p)) {
        snprintf(a->msg, sizeof a->msg, "%s", t ? carve_ctx_errmsg(t) : "out of memory");
        code = 400;
    } else {
        free(a->pal_text);
        if (!(a->pal_text = strndup(a->pal_upload, a->pal_upload_len)))
            code = 500, snprintf(a->msg, sizeof a->msg, "out of memory");
        json_object_del(a->opts, "palette");
    }
    carve_palette_destroy(p);
    carve_ctx_destroy(t);
    return code;
}

/* The options (all-or-nothing, message naming the key), the palette and the
 * callback; a refusal counts in the metrics. */
static bool admit_settings(carve__srv *s, struct MHD_Connection *c, admission *a, enum MHD_Result *ret) {
    int code = validate_options(s, a->opts, &a->pal_text, &a->hook_url, a->msg, sizeof a->msg);
    if (!code && a->pal_upload) code = admit_palette_upload(a);
    if (!code) return false;
    pthread_mutex_lock(&s->mmu);
    s->rejected_invalid++;
    pthread_mutex_unlock(&s->mmu);
    if (code == 503) *ret = send_store_error(s, c, a->msg);
    else *ret = send_error(s, c, code, code == 400 ? "invalid_option" : "error", "%s", a->msg);
    return true;
}

/* The row: input file first, then the committed row and the queue.  0, or
 * an HTTP code with err (429: queue full). */
static int admit_store(carve__srv *s, admission *a, carve__job_row *row, char *err, size_t errlen) {
    if (!new_id(row->id)) {
        snprintf(err, errlen, "no random bytes for a job id (getrandom failed); try again");
        return 503;
    }
    row->created = carve__srv_wall();
    row->options = json_dumps(a->opts, JSON_COMPACT | JSON_SORT_KEYS);
    row->palette = a->pal_text;
    a->pal_text = NULL;
    row->webhook_url = a->hook_url;
    a->hook_url = NULL;
    if (a->ikey) {
        row->idem_key = strdup(a->ikey);
        row->idem_hash = a->ihash;
        a->ihash = NULL;
    }
    if (!row->options || (a->ikey && !row->idem_key)) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    if (s->store->put_file(s->store, row->id, "input", a->img, a->img_len)) {
        snprintf(err, errlen, "%s", carve__store_errmsg(s->store));
        return s->shared ? 503 : 500;
    }
    int code = carve__srv_enqueue(s, row, err, errlen);
    if (code) s->store->delete_job(s->store, row->id, 2);
    return code;
}

/* 429 with Retry-After; full: refused by the early check (counted here). */
static enum MHD_Result answer_full(carve__srv *s, struct MHD_Connection *c, bool full) {
    if (full) {
        pthread_mutex_lock(&s->mmu);
        s->rejected_full++;
        pthread_mutex_unlock(&s->mmu);
    }
    char ra[16];
    snprintf(ra, sizeof ra, "%d", carve__srv_retry_after(s));
    const char *h[] = {"Retry-After", ra, NULL};
    return send_error_h(s, c, 429, "queue_full", h, "the job queue is full (queue_max %lld); retry after %s s",
                        (long long)carve__srvopt_int(s->opt, CARVE_SRVOPT_queue_max), ra);
}

/* 202 with the job's JSON and its Location. */
static enum MHD_Result answer_accepted(carve__srv *s, struct MHD_Connection *c, const admission *a,
                                      const carve__job_row *row) {
    carve__buf b;
    carve__buf_init(&b);
    carve__srv_job_json(s, &b, row, NULL);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", row->id);
    const char *h[] = {"Location", loc, NULL};
    char extra[96];
    snprintf(extra, sizeof extra, ",\"bytes\":%zu,\"type\":\"%s\"", a->img_len, a->mime);
    carve__srv_log(s, CARVE_LOG_INFO, row->id, extra, "job accepted");
    return send_buf(s, c, 202, &b, h);
}

/* Queues the admitted job and answers: 202, 429, 409 (a concurrent request
 * with the same key won: its job answers), 503 or 500. */
static enum MHD_Result admit_job(carve__srv *s, struct MHD_Connection *c, admission *a) {
    /* cheap early check so a full queue does not cost a file write */
    pthread_mutex_lock(&s->mu);
    bool full = s->qlen >= carve__srvopt_int(s->opt, CARVE_SRVOPT_queue_max);
    pthread_mutex_unlock(&s->mu);
    carve__job_row row;
    memset(&row, 0, sizeof row);
    char err[512] = "";
    int code = full ? 429 : admit_store(s, a, &row, err, sizeof err);
    enum MHD_Result ret = MHD_NO;
    if (code == 429) ret = answer_full(s, c, full);
    else if (code == 409 && a->ikey && row.idem_hash && idem_replay(s, c, a->ikey, row.idem_hash, &ret)) {
        /* the other request's job answered */
    } else if (code == 503) {
        char m[700];
        snprintf(m, sizeof m, "%s%s", s->shared ? "the job store is unreachable: " : "", err);
        ret = send_unavailable(s, c, m);
    } else if (code) ret = send_error(s, c, code, code == 409 ? "idempotency_conflict" : "internal", "%s", err);
    else ret = answer_accepted(s, c, a, &row);
    carve__job_row_free(&row);
    return ret;
}

/* POST /v1/jobs: head, body, replay, image, settings, then the queue. */
static enum MHD_Result post_job(carve__srv *s, struct MHD_Connection *c, req *rq) {
    admission a;
    memset(&a, 0, sizeof a);
    if (!(a.opts = json_object())) return send_error(s, c, 500, "nomem", "out of memory");
    enum MHD_Result ret = MHD_NO;
    if (!admit_head(s, c, rq, &a, &ret) && !admit_body(s, c, rq, &a, &ret) && !admit_replay(s, c, &a, &ret) &&
        !admit_image(s, c, &a, &ret) && !admit_settings(s, c, &a, &ret))
        ret = admit_job(s, c, &a);
    free(a.ihash);
    free(a.pal_text);
    free(a.hook_url);
    json_decref(a.opts);
    return ret;
}

/* ---- SSE ------------------------------------------------------------------------ */
#define SSE_BLOCK 16384 /* libmicrohttpd's read block of an event stream */

/* ---- SSE output (shared with tunings_http.c) ------------------------------------ */
bool carve__sse_idle(const carve__sse_out *o) { return o->off >= o->out.len; }

void carve__sse_begin(carve__sse_out *o) {
    carve__buf_free(&o->out);
    carve__buf_init(&o->out);
    o->off = 0;
}

bool carve__sse_end(carve__sse_out *o, pthread_mutex_t *mu, const bool *stopping) {
    pthread_mutex_lock(mu);
    if (*stopping) o->done = true;
    pthread_mutex_unlock(mu);
    if (carve__now() > o->t_end) o->done = true;
    if (!o->out.len) carve__buf_puts(&o->out, ": keep-alive\n\n");
    return !o->out.oom;
}

ssize_t carve__sse_copy(carve__sse_out *o, char *buf, size_t max) {
    size_t n = o->out.len - o->off;
    if (n > max) n = max;
    memcpy(buf, o->out.data + o->off, n);
    o->off += n;
    return (ssize_t)n;
}

/* 200 text/event-stream whose body read produces (free releases cls, also on failure) */
static enum MHD_Result sse_respond(carve__srv *s, struct MHD_Connection *c, MHD_ContentReaderCallback read, void *cls,
                                   MHD_ContentReaderFreeCallback release) {
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, read, cls, release);
    if (!r) {
        release(cls);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    add_common(s, r, true);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    carve__srv_count_http(s, 200);
    return ret;
}

typedef struct sse {
    carve__srv *s;
    srv_job *j;
    uint64_t next;
    bool sent_hello;
    carve__sse_out o;
} sse;

static void sse_put_event(carve__buf *b, const carve__event *e) {
    static const char *lv[] = {"debug", "info", "warn", "error"};
    const char *kind = e->kind == CARVE__EV_LOG ? "log" : e->kind == CARVE__EV_PROGRESS ? "progress" : "state";
    carve__buf_printf(b, "id: %llu\nevent: %s\ndata: {\"seq\":%llu,\"time\":%.3f", (unsigned long long)e->seq, kind,
                      (unsigned long long)e->seq, e->time);
    if (e->kind == CARVE__EV_LOG) {
        carve__buf_printf(b, ",\"level\":\"%s\",\"msg\":\"", lv[e->level < 0 ? 0 : e->level > 3 ? 3 : e->level]);
        carve__buf_json_str(b, e->text);
        carve__buf_puts(b, "\"}\n\n");
    } else if (e->kind == CARVE__EV_PROGRESS) {
        carve__buf_printf(b, ",\"progress\":%.4f,\"stage\":\"", e->progress);
        carve__buf_json_str(b, e->text);
        carve__buf_puts(b, "\"}\n\n");
    } else {
        carve__buf_puts(b, ",\"state\":\"");
        carve__buf_json_str(b, e->text);
        carve__buf_puts(b, "\"}\n\n");
    }
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    sse *e = cls;
    while (carve__sse_idle(&e->o)) {
        if (e->o.done) return MHD_CONTENT_READER_END_OF_STREAM;
        carve__sse_begin(&e->o);
        carve__buf *b = &e->o.out;
        srv_job *j = e->j;
        if (!e->sent_hello) {
            /* the current state first (no id: not part of the replay) */
            pthread_mutex_lock(&e->s->mu);
            int st = j->state;
            pthread_mutex_unlock(&e->s->mu);
            carve__buf_printf(b, "retry: 1000\n\nevent: state\ndata: {\"state\":\"%s\"}\n\n",
                              carve__job_state_name(st));
            e->sent_hello = true;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&j->mu);
        if (e->next >= carve__srv_job_ring(j)->next_seq && !j->finished && !b->len)
            pthread_cond_timedwait(&j->cv, &j->mu, &until);
        const carve__ring *ring = carve__srv_job_ring(j);
        uint64_t first = carve__ring_first(ring);
        if (e->next < first) e->next = first;
        while (e->next < ring->next_seq && b->len < 12000) {
            const carve__event *ev = carve__ring_get(ring, e->next);
            if (ev) sse_put_event(b, ev);
            e->next++;
        }
        if (j->finished && e->next >= ring->next_seq) e->o.done = true;
        pthread_mutex_unlock(&j->mu);
        if (!carve__sse_end(&e->o, &e->s->mu, &e->s->stopping)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return carve__sse_copy(&e->o, buf, max);
}

static void sse_free(void *cls) {
    sse *e = cls;
    carve__srv_job_unref(e->s, e->j);
    carve__buf_free(&e->o.out);
    free(e);
}

static uint64_t last_event_id(struct MHD_Connection *c) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (!v) v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last_event_id");
    return v ? strtoull(v, NULL, 10) : 0;
}

/* Appends a finished job's stored log lines after `last`, then its final
 * state (nothing for a job that is not finished). */
/* Appends the stored log lines after `last`; returns the newest seq sent. */
static uint64_t replay_log(carve__buf *b, const carve__job_row *row, uint64_t last) {
    json_t *log = row->log ? json_loads(row->log, 0, NULL) : NULL;
    size_t i;
    json_t *ent;
    uint64_t maxseq = 0;
    json_array_foreach(log, i, ent) {
        carve__event ev;
        memset(&ev, 0, sizeof ev);
        ev.seq = (uint64_t)json_integer_value(json_object_get(ent, "seq"));
        if (ev.seq <= last) continue;
        ev.time = json_real_value(json_object_get(ent, "time"));
        ev.kind = CARVE__EV_LOG;
        ev.level = (int)json_integer_value(json_object_get(ent, "level"));
        snprintf(ev.text, sizeof ev.text, "%s", json_string_value(json_object_get(ent, "msg")) ?
                 json_string_value(json_object_get(ent, "msg")) : "");
        sse_put_event(b, &ev);
        if (ev.seq > maxseq) maxseq = ev.seq;
    }
    json_decref(log);
    return maxseq > last ? maxseq : last;
}

static void replay_row(carve__buf *b, const carve__job_row *row, uint64_t last) {
    uint64_t maxseq = replay_log(b, row, last);
    carve__event fin;
    memset(&fin, 0, sizeof fin);
    fin.seq = (maxseq > last ? maxseq : last) + 1;
    fin.time = row->finished;
    fin.kind = CARVE__EV_STATE;
    fin.progress = row->state == CARVE__JOB_DONE ? 1 : 0;
    snprintf(fin.text, sizeof fin.text, "%s", carve__job_state_name(row->state));
    if (!carve__job_terminal(row->state)) fin.kind = -1;
    if (fin.kind >= 0) sse_put_event(b, &fin);
}

/* ---- SSE of a job running on another node (shared store): polled --------------------- */
#define REMOTE_POLL_US 500000

typedef struct rsse {
    carve__srv *s;
    char id[33];
    uint64_t last;
    int state;
    double progress;
    char stage[32];
    bool hello;
    carve__sse_out o;
} rsse;

/* One poll of the row: state and progress changes as events (without ids:
 * Last-Event-ID counts log lines), the stored log and the final state at the end. */
static void remote_poll(rsse *e, carve__buf *b) {
    if (e->hello) usleep(REMOTE_POLL_US);
    carve__job_row row;
    int gr = e->s->store->get_job(e->s->store, e->id, &row);
    if (!e->hello) carve__buf_puts(b, "retry: 1000\n\n");
    e->hello = true;
    if (gr > 0) { /* deleted while we watched: cancelled */
        carve__buf_puts(b, "event: state\ndata: {\"state\":\"cancelled\"}\n\n");
        e->o.done = true;
        return;
    }
    if (gr < 0) return; /* store away: keep-alives until it is back */
    if (carve__job_terminal(row.state)) {
        replay_row(b, &row, e->last);
        e->o.done = true;
    } else {
        if (row.state != e->state) carve__buf_printf(b, "event: state\ndata: {\"state\":\"%s\"}\n\n",
                                                    carve__job_state_name(row.state));
        e->last = replay_log(b, &row, e->last); /* lines the runner's heartbeats stored */
        if (row.state == CARVE__JOB_RUNNING && (row.progress != e->progress || strcmp(row.stage, e->stage))) {
            carve__buf_printf(b, "event: progress\ndata: {\"time\":%.3f,\"progress\":%.4f,\"stage\":\"",
                              carve__srv_wall(), row.progress);
            carve__buf_json_str(b, row.stage);
            carve__buf_puts(b, "\"}\n\n");
        }
        e->state = row.state;
        e->progress = row.progress;
        snprintf(e->stage, sizeof e->stage, "%s", row.stage);
    }
    carve__job_row_free(&row);
}

static ssize_t remote_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    rsse *e = cls;
    while (carve__sse_idle(&e->o)) {
        if (e->o.done) return MHD_CONTENT_READER_END_OF_STREAM;
        carve__sse_begin(&e->o);
        remote_poll(e, &e->o.out);
        if (!carve__sse_end(&e->o, &e->s->mu, &e->s->stopping)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return carve__sse_copy(&e->o, buf, max);
}

static void remote_free(void *cls) {
    rsse *e = cls;
    carve__buf_free(&e->o.out);
    free(e);
}

static enum MHD_Result remote_events(carve__srv *s, struct MHD_Connection *c, const char *id, uint64_t last) {
    rsse *e = calloc(1, sizeof *e);
    if (!e) return send_error(s, c, 500, "nomem", "out of memory");
    e->s = s;
    snprintf(e->id, sizeof e->id, "%s", id);
    e->last = last;
    e->state = -1;
    e->progress = -1;
    e->o.t_end = carve__now() + (double)carve__srvopt_int(s->opt, CARVE_SRVOPT_sse_max_seconds);
    carve__buf_init(&e->o.out);
    return sse_respond(s, c, remote_read, e, remote_free);
}

static enum MHD_Result get_events(carve__srv *s, struct MHD_Connection *c, const char *id) {
    uint64_t last = last_event_id(c);
    srv_job *j = carve__srv_job_get(s, id);
    if (j) {
        sse *e = calloc(1, sizeof *e);
        if (!e) {
            carve__srv_job_unref(s, j);
            return send_error(s, c, 500, "nomem", "out of memory");
        }
        e->s = s;
        e->j = j;
        e->next = last + 1;
        e->o.t_end = carve__now() + (double)carve__srvopt_int(s->opt, CARVE_SRVOPT_sse_max_seconds);
        return sse_respond(s, c, sse_read, e, sse_free);
    }
    /* finished job: replay the stored log, then its final state */
    carve__job_row row;
    int gr = s->store->get_job(s->store, id, &row);
    if (gr > 0) return send_error(s, c, 404, "not_found", "no job %s", id);
    if (gr < 0) return send_store_error(s, c, carve__store_errmsg(s->store));
    if (s->shared && !carve__job_terminal(row.state)) { /* running or queued on another node */
        carve__job_row_free(&row);
        return remote_events(s, c, id, last);
    }
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "retry: 1000\n\n");
    replay_row(&b, &row, last);
    carve__job_row_free(&row);
    if (b.oom) {
        carve__buf_free(&b);
        return send_error(s, c, 500, "nomem", "out of memory");
    }
    enum MHD_Result ret = send_bytes(s, c, 200, "text/event-stream", b.data, b.len, true, NULL);
    carve__buf_free(&b);
    return ret;
}

/* ---- GET /v1/jobs: keyset pages, newest first ------------------------------------------ */
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 200
#define CURSOR_LEN 48 /* 16 hex digits of the created time's IEEE bits + the 32-hex id */

static void cursor_encode(const carve__job_row *r, char out[CURSOR_LEN + 1]) {
    uint64_t bits;
    memcpy(&bits, &r->created, sizeof bits);
    snprintf(out, CURSOR_LEN + 1, "%016llx%s", (unsigned long long)bits, r->id);
}

static bool cursor_decode(const char *c, carve__job_query *q) {
    if (strlen(c) != CURSOR_LEN) return false;
    for (int i = 0; i < CURSOR_LEN; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f'))) return false;
    char hex[17];
    memcpy(hex, c, 16);
    hex[16] = 0;
    uint64_t bits = strtoull(hex, NULL, 16);
    memcpy(&q->after_created, &bits, sizeof bits);
    if (!isfinite(q->after_created)) return false;
    memcpy(q->after_id, c + 16, 32);
    q->after_id[32] = 0;
    q->has_cursor = true;
    return true;
}

/* Parses state=, since=, limit=, cursor= into q; 0 or a message in msg. */
static int list_query(struct MHD_Connection *c, carve__job_query *q, char *msg, size_t mlen) {
    memset(q, 0, sizeof *q);
    q->limit = LIST_LIMIT_DEFAULT;
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
    for (const char *p = v; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[16];
        int st = n < sizeof name ? (memcpy(name, p, n), name[n] = 0, carve__job_state_parse(name)) : -1;
        if (st < 0) {
            snprintf(msg, mlen, "query 'state': '%.*s' is not one of queued, running, done, failed, cancelled",
                     (int)(n > 32 ? 32 : n), p);
            return -1;
        }
        q->state_mask |= 1u << st;
        p = comma ? comma + 1 : p + n;
    }
    char *end;
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since")) && *v) {
        q->since = strtod(v, &end);
        if (*end || !isfinite(q->since) || q->since < 0) {
            snprintf(msg, mlen, "query 'since': '%.40s' is not a Unix time in seconds (>= 0)", v);
            return -1;
        }
    }
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit")) && *v) {
        long l = strtol(v, &end, 10);
        if (*end || l < 1 || l > LIST_LIMIT_MAX) {
            snprintf(msg, mlen, "query 'limit': '%.40s' is out of range (allowed 1..%d)", v, LIST_LIMIT_MAX);
            return -1;
        }
        q->limit = (int)l;
    }
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor")) && *v && !cursor_decode(v, q)) {
        snprintf(msg, mlen, "query 'cursor': not a cursor from a previous page's next_cursor");
        return -1;
    }
    return 0;
}

static enum MHD_Result list_jobs(carve__srv *s, struct MHD_Connection *c) {
    carve__job_query q;
    char msg[512];
    if (list_query(c, &q, msg, sizeof msg)) return send_error(s, c, 400, "bad_query", "%s", msg);
    int want = q.limit;
    q.limit = want + 1; /* one more tells whether there is a next page */
    carve__job_row *rows = calloc((size_t)q.limit, sizeof *rows);
    if (!rows) return send_error(s, c, 500, "nomem", "out of memory");
    int n = 0;
    if (s->store->list_jobs(s->store, &q, rows, &n)) {
        free(rows);
        return send_store_error(s, c, carve__store_errmsg(s->store));
    }
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "{\"jobs\":[");
    for (int i = 0; i < n && i < want; i++) {
        srv_job *live = carve__job_terminal(rows[i].state) ? NULL : carve__srv_job_get(s, rows[i].id);
        if (i) carve__buf_putc(&b, ',');
        carve__srv_job_json(s, &b, &rows[i], live);
        carve__srv_job_unref(s, live);
    }
    char cur[CURSOR_LEN + 1];
    if (n > want) {
        cursor_encode(&rows[want - 1], cur);
        carve__buf_printf(&b, "],\"next_cursor\":\"%s\"}", cur);
    } else carve__buf_puts(&b, "],\"next_cursor\":null}");
    for (int i = 0; i < n; i++) carve__job_row_free(&rows[i]);
    free(rows);
    return send_buf(s, c, 200, &b, NULL);
}

/* ---- job routes ------------------------------------------------------------------- */
static enum MHD_Result get_job(carve__srv *s, struct MHD_Connection *c, const char *id) {
    srv_job *live = carve__srv_job_get(s, id);
    carve__job_row row;
    int gr = s->store->get_job(s->store, id, &row);
    enum MHD_Result ret;
    if (gr > 0) ret = send_error(s, c, 404, "not_found", "no job %s (never submitted, deleted or expired)", id);
    else if (gr < 0) ret = send_store_error(s, c, carve__store_errmsg(s->store));
    else {
        carve__buf b;
        carve__buf_init(&b);
        carve__srv_job_json(s, &b, &row, live);
        ret = send_buf(s, c, 200, &b, NULL);
    }
    carve__job_row_free(&row);
    carve__srv_job_unref(s, live);
    return ret;
}

#define SNIFF_HEAD 256

/* Streams an open job file: libmicrohttpd reads it as the client takes it
 * (sendfile where it can), so a download costs no memory whatever its size
 * and however slowly it is read. */
static enum MHD_Result send_fd(carve__srv *s, struct MHD_Connection *c, int fd, uint64_t size, const char *ctype,
                               const char **hdrs) {
    struct MHD_Response *r = MHD_create_response_from_fd64(size, fd);
    if (!r) {
        close(fd);
        return send_error(s, c, 500, "nomem", "cannot create a response");
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    add_common(s, r, true);
    for (int i = 0; hdrs && hdrs[i]; i += 2) MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    carve__srv_count_http(s, 200);
    return ret;
}

static enum MHD_Result get_job_file(carve__srv *s, struct MHD_Connection *c, const char *id, const char *file,
                                    const char *ctype, const char *what) {
    char *data = NULL;
    size_t len = 0;
    int fd = -1;
    uint64_t size = 0;
    int r = s->store->open_file ? s->store->open_file(s->store, id, file, &fd, &size)
                                : s->store->get_file(s->store, id, file, &data, &len);
    if (r < 0) return send_store_error(s, c, carve__store_errmsg(s->store));
    if (r > 0) {
        carve__job_row row;
        int gr = s->store->get_job(s->store, id, &row);
        if (gr) return send_error(s, c, 404, "not_found", "no job %s", id);
        int st = row.state;
        carve__job_row_free(&row);
        if (!carve__job_terminal(st))
            return send_error(s, c, 409, "not_ready", "job %s is %s: its %s is not ready yet", id,
                              carve__job_state_name(st), what);
        return send_error(s, c, 404, "not_found", "job %s (%s) has no %s", id, carve__job_state_name(st), what);
    }
    char head[SNIFF_HEAD]; /* the type is read from the first bytes */
    const char *hd = data;
    size_t hn = len;
    if (fd >= 0) {
        ssize_t n = pread(fd, head, sizeof head, 0);
        hd = head;
        hn = n > 0 ? (size_t)n : 0;
    }
    const char *ext = "svg";
    if (!strcmp(file, "result.svg")) ctype = result_mime(hd, hn, &ext); /* the job's format */
    if (!ctype) ctype = sniff_mime(hd, hn) ? sniff_mime(hd, hn) : "application/octet-stream";
    const char *dl = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "download");
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"carve-%.8s.%s\"", id, ext);
    const char *h[] = {"Content-Disposition", disp, NULL};
    const char **hdrs = dl && !strcmp(file, "result.svg") ? h : NULL;
    if (fd >= 0) return send_fd(s, c, fd, size, ctype, hdrs);
    enum MHD_Result ret = send_bytes(s, c, 200, ctype, data, len, true, hdrs);
    free(data);
    return ret;
}

static enum MHD_Result delete_job(carve__srv *s, struct MHD_Connection *c, const char *id) {
    int r = carve__srv_cancel_delete(s, id, 2.0);
    if (r == 1) return send_error(s, c, 404, "not_found", "no job %s", id);
    if (r == 3) return send_unavailable(s, c, "the job store is unreachable; retry later");
    char body[128];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"state\":\"%s\",\"deleted\":%s}", id,
             r == 0 ? "cancelled" : "cancelling", r == 0 ? "true" : "false");
    return send_json(s, c, r == 0 ? 200 : 202, body, NULL);
}

/* ---- palettes --------------------------------------------------------------------- */
static enum MHD_Result palettes_route(carve__srv *s, struct MHD_Connection *c, const char *method, const char *name,
                                      req *rq) {
    if (!name) {
        if (strcmp(method, "GET")) return send_error(s, c, 405, "method_not_allowed", "use GET on /v1/palettes");
        char *custom = NULL;
        if (s->store->list_palettes(s->store, &custom))
            return send_store_error(s, c, carve__store_errmsg(s->store));
        carve__buf b;
        carve__buf_init(&b);
        carve__buf_puts(&b, "{\"builtin\":[");
        for (int i = 0; i < carve_palette_builtin_count(); i++) {
            carve__buf_printf(&b, "%s{\"name\":\"", i ? "," : "");
            carve__buf_json_str(&b, carve_palette_builtin_name(i));
            carve__buf_puts(&b, "\",\"description\":\"");
            carve__buf_json_str(&b, carve_palette_builtin_description(i) ? carve_palette_builtin_description(i) : "");
            carve__buf_puts(&b, "\"}");
        }
        carve__buf_printf(&b, "],\"custom\":%s}", custom ? custom : "[]");
        free(custom);
        return send_buf(s, c, 200, &b, NULL);
    }
    if (!palette_name_ok(name, strlen(name)))
        return send_error(s, c, 400, "bad_name", "palette names are 1-64 characters of A-Z a-z 0-9 _ -");
    if (!strcmp(method, "GET")) {
        char *text = NULL;
        carve_ctx *t = carve_ctx_create();
        carve_palette *p = NULL;
        int r = s->store->get_palette(s->store, name, &text);
        carve_status st = CARVE_ERR_NOT_FOUND;
        if (r == 0) st = carve_palette_parse(t, text, strlen(text), name, &p);
        else if (builtin_palette(name)) st = carve_palette_builtin(t, name, &p);
        free(text);
        carve_ctx_destroy(t);
        if (r < 0) return send_store_error(s, c, carve__store_errmsg(s->store));
        if (st || !p) {
            carve_palette_destroy(p);
            return send_error(s, c, 404, "not_found", "no palette named '%s'", name);
        }
        char *json = carve_palette_to_json(p);
        carve_palette_destroy(p);
        enum MHD_Result ret = json ? send_json(s, c, 200, json, NULL) : send_error(s, c, 500, "nomem", "out of memory");
        carve_free(json);
        return ret;
    }
    if (!strcmp(method, "PUT")) {
        if (builtin_palette(name))
            return send_error(s, c, 409, "conflict", "'%s' is a built-in palette name; choose another", name);
        if (!rq->body.len) return send_error(s, c, 400, "empty_body", "no palette in the request body");
        carve_ctx *t = carve_ctx_create();
        carve_palette *p = NULL;
        carve__buf_putc(&rq->body, 0);
        rq->body.len--;
        carve_status st = t ? carve_palette_parse(t, rq->body.data, rq->body.len, name, &p) : CARVE_ERR_NOMEM;
        if (st) {
            enum MHD_Result ret =
                send_error(s, c, 400, "invalid_palette", "%s", t ? carve_ctx_errmsg(t) : "out of memory");
            carve_ctx_destroy(t);
            return ret;
        }
        char *json = carve_palette_to_json(p);
        carve_palette_destroy(p);
        carve_ctx_destroy(t);
        if (s->store->put_palette(s->store, name, rq->body.data)) {
            carve_free(json);
            return send_store_error(s, c, carve__store_errmsg(s->store));
        }
        carve__srv_log(s, CARVE_LOG_INFO, NULL, NULL, "palette %s stored", name);
        enum MHD_Result ret = send_json(s, c, 200, json ? json : "{}", NULL);
        carve_free(json);
        return ret;
    }
    if (!strcmp(method, "DELETE")) {
        int r = s->store->delete_palette(s->store, name);
        if (r < 0) return send_store_error(s, c, carve__store_errmsg(s->store));
        if (r > 0) return send_error(s, c, 404, "not_found", "no uploaded palette named '%s'", name);
        return send_json(s, c, 200, "{\"deleted\":true}", NULL);
    }
    return send_error(s, c, 405, "method_not_allowed", "use GET, PUT or DELETE on /v1/palettes/NAME");
}

/* ---- options, health ---------------------------------------------------------------- */
/* One entry of GET /v1/options: o's description with its default def. */
static void option_entry(carve__buf *b, const carve_option_info *o, const char *def, bool first) {
    static const char *types[] = {"int", "float", "bool", "enum", "string"};
    carve__buf_printf(b, "%s{\"key\":\"%s\",\"group\":\"%s\",\"type\":\"%s\",\"default\":\"", first ? "" : ",",
                      o->key, o->group, types[o->type]);
    carve__buf_json_str(b, def);
    carve__buf_puts(b, "\"");
    if (o->type == CARVE_OPT_INT || o->type == CARVE_OPT_FLOAT)
        carve__buf_printf(b, ",\"min\":%.17g,\"max\":%.17g", o->min, o->max);
    if (o->choices) {
        carve__buf_puts(b, ",\"choices\":\"");
        carve__buf_json_str(b, o->choices);
        carve__buf_puts(b, "\"");
    }
    carve__buf_puts(b, ",\"help\":\"");
    carve__buf_json_str(b, o->help);
    carve__buf_puts(b, "\"}");
}

/* libcarve's options a job may set, then callback_url (a setting of carved
 * that a job may override). */
static enum MHD_Result get_options(carve__srv *s, struct MHD_Connection *c) {
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "{\"options\":[");
    bool first = true;
    for (int i = 0; i < carve_option_count(); i++) {
        const carve_option_info *o = carve_option_at(i);
        if (option_forbidden(o)) continue;
        char def[256];
        carve_ctx_get_option(s->cfg, o->key, def, sizeof def);
        option_entry(&b, o, def, first);
        first = false;
    }
    option_entry(&b, carve__srvopt_find("callback_url"), carve__srvopt_str(s->opt, CARVE_SRVOPT_callback_url), first);
    carve__buf_printf(&b, "],\"pipeline\":%s,\"palettes\":%s}", "true", "true");
    return send_buf(s, c, 200, &b, NULL);
}

/* ---- static UI ------------------------------------------------------------------------ */
static const char *mime_of(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    if (!strcmp(dot, ".png")) return "image/png";
    if (!strcmp(dot, ".ico")) return "image/x-icon";
    return "application/octet-stream";
}

static enum MHD_Result serve_static(carve__srv *s, struct MHD_Connection *c, const char *url) {
    if (!strcmp(url, "/")) url = "/index.html";
    const char *dir = carve__srvopt_str(s->opt, CARVE_SRVOPT_web_dir);
    const char *h[] = {"Content-Security-Policy",
                       "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'", NULL};
    if (dir && *dir) {
        /* one path component of safe characters only: no traversal */
        const char *name = url + 1;
        size_t n = strlen(name);
        bool ok = n > 0 && n < 128 && name[0] != '.';
        for (size_t i = 0; ok && i < n; i++)
            ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                 (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '-' || name[i] == '_';
        if (!ok || strstr(name, "..")) return send_error(s, c, 404, "not_found", "no such page");
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        if (!f) return send_error(s, c, 404, "not_found", "no such page");
        carve__buf b;
        carve__buf_init(&b);
        char chunk[8192];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (16u << 20)) carve__buf_put(&b, chunk, got);
        fclose(f);
        enum MHD_Result r = send_bytes(s, c, 200, mime_of(path), b.data ? b.data : "", b.len, true, h);
        carve__buf_free(&b);
        return r;
    }
    for (int i = 0; i < carve__web_asset_count; i++)
        if (!strcmp(carve__web_assets[i].path, url))
            return send_bytes(s, c, 200, carve__web_assets[i].mime, carve__web_assets[i].data, carve__web_assets[i].len,
                              false, h);
    return send_error(s, c, 404, "not_found", "no such page");
}

/* ---- dispatch ------------------------------------------------------------------------ */
static bool needs_body(const char *method) { return !strcmp(method, "POST") || !strcmp(method, "PUT"); }

static bool is_api(const char *url) { return !strncmp(url, "/v1/", 4) || !strcmp(url, "/v1") || !strcmp(url, "/metrics"); }

static void guard_metrics(carve__srv *s, carve__buf *b) {
    carve__guard_stats g;
    carve__guard_stats_get(s->guard, &g);
    carve__buf_printf(b,
                      "# HELP carved_connections_dropped_total connections closed by the connection guard\n"
                      "# TYPE carved_connections_dropped_total counter\n"
                      "carved_connections_dropped_total{reason=\"header_timeout\"} %lld\n"
                      "carved_connections_dropped_total{reason=\"slow_upload\"} %lld\n"
                      "carved_connections_dropped_total{reason=\"evicted\"} %lld\n"
                      "# HELP carved_connections_open HTTP connections open now\n"
                      "# TYPE carved_connections_open gauge\ncarved_connections_open %lld\n"
                      "# HELP carved_connections_peak most HTTP connections open at once\n"
                      "# TYPE carved_connections_peak gauge\ncarved_connections_peak %lld\n",
                      g.header_timeouts, g.slow_uploads, g.evicted, g.open, g.peak);
}

static bool read_only_endpoint(const char *url) {
    return !strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/metrics") ||
           !strcmp(url, "/v1/options");
}

/* OPTIONS: the CORS preflight, answered only when cors_origin is set. */
static enum MHD_Result preflight(carve__srv *s, struct MHD_Connection *c) {
    const char *cors = carve__srvopt_str(s->opt, CARVE_SRVOPT_cors_origin);
    if (!cors || !*cors) return send_error(s, c, 405, "method_not_allowed", "CORS is not enabled (cors_origin)");
    const char *h[] = {"Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS",
                       "Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, Idempotency-Key",
                       "Access-Control-Max-Age", "600", NULL};
    return send_bytes(s, c, 204, "text/plain", "", 0, true, h);
}

/* GET /readyz: ready when not stopping, the queue has room and the store answers. */
static enum MHD_Result readyz(carve__srv *s, struct MHD_Connection *c) {
    pthread_mutex_lock(&s->mu);
    bool stopping = s->stopping;
    int q = s->qlen;
    pthread_mutex_unlock(&s->mu);
    long long qm = carve__srvopt_int(s->opt, CARVE_SRVOPT_queue_max);
    char body[1024];
    const char *serr = "";
    bool store_ok = true;
    if (s->shared) { /* the shared store is asked now: a load balancer skips nodes that cannot reach it */
        store_ok = s->store->ping(s->store) == 0;
        long long queued = 0;
        if (store_ok && !s->store->count_queued(s->store, &queued)) q = (int)queued;
        else serr = carve__store_errmsg(s->store);
    }
    bool ready = !stopping && q < qm && store_ok;
    carve__buf sb;
    carve__buf_init(&sb);
    carve__buf_json_str(&sb, serr);
    snprintf(body, sizeof body,
             "{\"ready\":%s,\"queue\":%d,\"queue_max\":%lld,\"workers\":%d,\"engine\":\"%s\",\"pipeline\":%s,"
             "\"store\":{\"kind\":\"%s\",\"reachable\":%s,\"error\":\"%s\"}}",
             ready ? "true" : "false", q, qm, s->nworkers,
             carve__srvopt_enum(s->opt, CARVE_SRVOPT_engine) == CARVE__ENGINE_SYNTHETIC ? "synthetic" : "pipeline",
             "true", s->shared ? "postgresql" : "sqlite",
             store_ok ? "true" : "false", sb.data && !sb.oom ? sb.data : "");
    carve__buf_free(&sb);
    return send_json(s, c, ready ? 200 : 503, body, NULL);
}

/* GET /metrics: Prometheus text, the server's counters and the guard's. */
static enum MHD_Result metrics(carve__srv *s, struct MHD_Connection *c) {
    char *m = carve__srv_metrics(s);
    if (!m) return send_error(s, c, 500, "nomem", "out of memory");
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, m);
    free(m);
    guard_metrics(s, &b);
    if (b.oom) {
        carve__buf_free(&b);
        return send_error(s, c, 500, "nomem", "out of memory");
    }
    enum MHD_Result r = send_bytes(s, c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, true, NULL);
    carve__buf_free(&b);
    return r;
}

/* /v1/jobs/ID[/result|/report|/events|/artifacts/PHASE]; url points past "/v1/jobs/". */
static enum MHD_Result job_route(carve__srv *s, struct MHD_Connection *c, const char *url, const char *method) {
    const char *p = url;
    const char *slash = strchr(p, '/');
    size_t idlen = slash ? (size_t)(slash - p) : strlen(p);
    if (!is_hex_id(p, idlen))
        return send_error(s, c, 404, "not_found", "no such job: ids are 32 lowercase hex characters");
    char id[33];
    memcpy(id, p, 32);
    id[32] = 0;
    const char *rest = slash ? slash : "";
    if (!*rest) {
        if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) return get_job(s, c, id);
        if (!strcmp(method, "DELETE")) return delete_job(s, c, id);
        return send_error(s, c, 405, "method_not_allowed", "use GET or DELETE on /v1/jobs/ID");
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(s, c, 405, "method_not_allowed", "use GET on %s", rest);
    if (!strcmp(rest, "/result")) return get_job_file(s, c, id, "result.svg", "image/svg+xml", "result");
    if (!strcmp(rest, "/report")) return get_job_file(s, c, id, "report.json", "application/json", "report");
    if (!strcmp(rest, "/events")) return get_events(s, c, id);
    if (!strncmp(rest, "/artifacts/", 11)) {
        const char *ph = rest + 11;
        for (int i = 0; i < N_ARTIFACTS; i++)
            if (!strcmp(ph, artifact_phases[i])) {
                if (i == 0) return get_job_file(s, c, id, "input", NULL, "original");
                char fn[64];
                snprintf(fn, sizeof fn, "artifact-%s.png", ph);
                return get_job_file(s, c, id, fn, "image/png", "artifact");
            }
        return send_error(s, c, 404, "not_found",
                          "no artifact phase '%.40s' (one of original, sanitize, steer, matte, chroma)", ph);
    }
    return send_error(s, c, 404, "not_found", "no such resource under /v1/jobs/%s", id);
}

static enum MHD_Result route(carve__srv *s, struct MHD_Connection *c, const char *url, const char *method, req *rq) {
    if (!strcmp(method, "OPTIONS")) return preflight(s, c);
    if (read_only_endpoint(url) && strcmp(method, "GET") && strcmp(method, "HEAD")) {
        const char *h[] = {"Allow", "GET, HEAD", NULL};
        return send_error_h(s, c, 405, "method_not_allowed", h, "use GET on %s", url);
    }
    if (!strcmp(url, "/healthz")) return send_json(s, c, 200, "{\"status\":\"ok\"}", NULL);
    if (!strcmp(url, "/readyz")) return readyz(s, c);
    if (!is_api(url)) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return send_error(s, c, 405, "method_not_allowed", "%s is not allowed on %s", method, "static pages");
        return serve_static(s, c, url);
    }
    if (!authorized(s, c)) {
        const char *h[] = {"WWW-Authenticate", "Bearer realm=\"carved\"", NULL};
        return send_error_h(s, c, 401, "unauthorized", h,
                            "missing or wrong API key: send 'Authorization: Bearer KEY'");
    }
    if (!strcmp(url, "/metrics")) return metrics(s, c);
    if (carve__tunings_owns(url)) return carve__tunings_route(s, c, url, method, rq->body.data, rq->body.len);
    if (!strcmp(url, "/v1/options")) return get_options(s, c);
    if (!strcmp(url, "/v1/jobs")) {
        if (!strcmp(method, "POST")) return post_job(s, c, rq);
        if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) return list_jobs(s, c);
        return send_error(s, c, 405, "method_not_allowed", "use GET or POST on /v1/jobs");
    }
    if (!strcmp(url, "/v1/palettes")) return palettes_route(s, c, method, NULL, rq);
    if (!strncmp(url, "/v1/palettes/", 13)) {
        const char *name = url + 13;
        if (!palette_name_ok(name, strlen(name)))
            return send_error(s, c, 400, "bad_name", "palette names are 1-64 characters of A-Z a-z 0-9 _ -");
        return palettes_route(s, c, method, name, rq);
    }
    if (!strncmp(url, "/v1/jobs/", 9)) return job_route(s, c, url + 9, method);
    return send_error(s, c, 404, "not_found", "no such endpoint %.200s", url);
}

static enum MHD_Result count_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    (void)key;
    (void)value;
    (*(int *)cls)++;
    return MHD_YES;
}

/* carve's own limits on the request head, below libmicrohttpd's memory pool
 * (HTTP_POOL_BYTES), so an oversized head gets a JSON error from here; only
 * a head beyond the pool is refused by libmicrohttpd itself (HTML, see
 * docs/API.md).  True when refused (*sent: a response was queued). */
static bool head_too_big(carve__srv *s, struct MHD_Connection *c, const char *url, bool *sent) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t hsize = ci ? ci->header_size : 0;
    int nheaders = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_value, &nheaders);
    *sent = true;
    if (strlen(url) > HTTP_MAX_URL) {
        send_error(s, c, 414, "uri_too_long", "the URL is longer than %d bytes", HTTP_MAX_URL);
        return true;
    }
    if (hsize > HTTP_MAX_HEAD) {
        send_error(s, c, 431, "headers_too_large", "the request head is %zu bytes, over %d", hsize, HTTP_MAX_HEAD);
        return true;
    }
    if (nheaders > HTTP_MAX_HEADERS) {
        send_error(s, c, 431, "headers_too_large", "the request has %d headers, over %d", nheaders,
                   HTTP_MAX_HEADERS);
        return true;
    }
    *sent = false;
    return false;
}

static enum MHD_Result first_call(carve__srv *s, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, void **con_cls) {
    (void)version;
    req *rq = calloc(1, sizeof *rq);
    if (!rq) return MHD_NO;
    carve__buf_init(&rq->body);
    rq->max = (size_t)carve__srvopt_int(s->opt, CARVE_SRVOPT_max_upload);
    rq->t0 = carve__now();
    *con_cls = rq;
    if (head_too_big(s, c, url, &rq->responded)) return rq->responded ? MHD_YES : MHD_NO;
    if (!needs_body(method)) {
        rq->responded = true;
        return route(s, c, url, method, rq);
    }
    /* refuse before reading the body: auth, declared length */
    if (is_api(url) && !authorized(s, c)) {
        rq->responded = true;
        const char *h[] = {"WWW-Authenticate", "Bearer realm=\"carved\"", NULL};
        return send_error_h(s, c, 401, "unauthorized", h,
                            "missing or wrong API key: send 'Authorization: Bearer KEY'");
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > rq->max) {
        rq->responded = true;
        return send_error(s, c, 413, "too_large", "the request body (%s bytes) is over max_upload (%zu bytes)", cl,
                          rq->max);
    }
    return MHD_YES;
}

static carve__gconn *gconn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    carve__srv *s = cls;
    req *rq = *con_cls;
    if (!rq) {
        carve__guard_headers_done(s->guard, gconn_of(c));
        enum MHD_Result r = first_call(s, c, url, method, version, con_cls);
        rq = *con_cls;
        if (!rq || rq->responded) carve__guard_responding(s->guard, gconn_of(c));
        return r;
    }
    if (rq->responded) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        carve__guard_body(s->guard, gconn_of(c), *upload_size);
        if (carve__now() - rq->t0 > (double)carve__srvopt_int(s->opt, CARVE_SRVOPT_request_timeout)) {
            carve__srv_log(s, CARVE_LOG_WARN, NULL, NULL, "request body too slow: connection closed");
            return MHD_NO;
        }
        if (rq->body.len + *upload_size > rq->max) rq->too_large = true;
        else carve__buf_put(&rq->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    rq->responded = true;
    carve__guard_responding(s->guard, gconn_of(c));
    if (rq->too_large)
        return send_error(s, c, 413, "too_large", "the request body is over max_upload (%zu bytes)", rq->max);
    if (rq->body.oom) return send_error(s, c, 500, "nomem", "out of memory");
    return route(s, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)toe;
    carve__guard_request_done(((carve__srv *)cls)->guard, gconn_of(c));
    req *rq = *con_cls;
    if (!rq) return;
    carve__buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    carve__srv *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? carve__guard_open(s->guard, ci->connect_fd) : NULL;
    } else {
        carve__guard_close(s->guard, *socket_context);
        *socket_context = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    /* mostly clients that went away (SSE): not an operator problem */
    carve__srv_log(cls, CARVE_LOG_INFO, NULL, ",\"source\":\"libmicrohttpd\"", "%s", msg);
}

/* ---- start/stop ------------------------------------------------------------------------ */
static bool parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *sl, bool *loopback, char *err,
                         size_t elen) {
    char host[256], port[16];
    const char *colon;
    if (text[0] == '[') {
        const char *rb = strchr(text, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, elen, "listen: '%s' is not [IPv6]:PORT", text);
            return false;
        }
        snprintf(host, sizeof host, "%.*s", (int)(rb - text - 1), text + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            snprintf(err, elen, "listen: '%s' is not HOST:PORT", text);
            return false;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    }
    snprintf(port, sizeof port, "%s", colon + 1);
    char *end;
    long pn = strtol(port, &end, 10);
    if (!*port || *end || pn < 0 || pn > 65535) {
        snprintf(err, elen, "listen: bad port '%s' in '%s'", port, text);
        return false;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int r = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
    if (r || !ai) {
        snprintf(err, elen, "listen: cannot resolve '%s': %s", host, gai_strerror(r));
        return false;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sl = ai->ai_addrlen;
    if (ai->ai_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ai->ai_addr;
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ai->ai_addr;
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    freeaddrinfo(ai);
    return true;
}

carve_status carve__http_start(carve__srv *s, carve_ctx *errctx) {
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    bool loopback = false;
    char err[512];
    if (!parse_listen(carve__srvopt_str(s->opt, CARVE_SRVOPT_listen), &ss, &sl, &loopback, err, sizeof err))
        return carve_ctx_set_error(errctx, CARVE_ERR_CONFIG, 0, "%s", err);
    int req_mode = carve__srvopt_enum(s->opt, CARVE_SRVOPT_require_key);
    bool need = req_mode == CARVE__REQUIRE_KEY_ALWAYS || (req_mode == CARVE__REQUIRE_KEY_AUTO && !loopback);
    if (need && !key_required(s))
        return carve_ctx_set_error(errctx, CARVE_ERR_CONFIG, 0,
                           "listen: %s is not a loopback address, so an API key is required: set api_key (or "
                           "CARVED_API_KEY), or require_key=never if a proxy authenticates",
                           carve__srvopt_str(s->opt, CARVE_SRVOPT_listen));
    long long maxc = carve__srvopt_int(s->opt, CARVE_SRVOPT_max_connections);
    long long room = carve__srvopt_int(s->opt, CARVE_SRVOPT_conn_headroom);
    carve__guard_cfg gc = {(double)carve__srvopt_int(s->opt, CARVE_SRVOPT_header_timeout),
                           (double)carve__srvopt_int(s->opt, CARVE_SRVOPT_min_upload_rate), UPLOAD_GRACE_S,
                           room > 0 && room < maxc ? (int)(maxc - room) : 0};
    s->guard = carve__guard_create(&gc);
    if (!s->guard) return carve_ctx_set_error(errctx, CARVE_ERR_NOMEM, 0, "cannot start the connection guard");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->httpd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned int)carve__srvopt_int(s->opt, CARVE_SRVOPT_conn_timeout),
                                MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned int)carve__srvopt_int(s->opt, CARVE_SRVOPT_max_connections),
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_BYTES,
                                MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                (unsigned int)carve__srvopt_int(s->opt, CARVE_SRVOPT_max_per_client),
                                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
    if (!s->httpd) {
        carve__guard_destroy(s->guard);
        s->guard = NULL;
    }
    if (!s->httpd)
        return carve_ctx_set_error(errctx, CARVE_ERR_IO, 0, "listen: cannot listen on %s (address in use or not allowed)",
                           carve__srvopt_str(s->opt, CARVE_SRVOPT_listen));
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->httpd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    return CARVE_OK;
}

void carve__http_stop(carve__srv *s) {
    if (!s->httpd) return;
    /* SSE streams notice `stopping` within a second */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->httpd);
    s->httpd = NULL;
    carve__guard_destroy(s->guard);
    s->guard = NULL;
}
