/* webhook.c — deliveries of a job's final state to its callback_url.
 *
 * The outbox is durable: a terminal state with a callback makes the row's
 * webhook "pending" in the same store statement, so a delivery survives
 * restarts (and, with PostgreSQL, any node delivers it).  One thread per node
 * claims due deliveries (each leased for the timeout, so two nodes never send
 * the same one at once), POSTs the job JSON signed with
 * X-Carve-Signature: sha256=HMAC(webhook_secret, body), and records the
 * outcome: delivered (2xx), or the next try after webhook_backoff * 2^n
 * (capped), or failed after webhook_max_attempts.  Loopback, link-local,
 * private, multicast and unspecified addresses are refused unless listed in
 * webhook_allow, at submission and again at connect time (DNS may change). */
#include "webhook.h"

#include "srv_internal.h"

#include <arpa/inet.h>
#include <glib.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if CARVE_SRV_HAVE_CURL
#include <curl/curl.h>
#endif

#define HOOK_BATCH 16
#define HOOK_POLL_S 0.25
#define HOOK_LEASE_EXTRA_S 5.0
#define HOOK_ERR_MAX 300

int carve__hook_available(void) { return CARVE_SRV_HAVE_CURL; }

void carve__hook_sign(const char *key, const void *data, size_t len, char out[65]) {
    gchar *h = g_compute_hmac_for_data(G_CHECKSUM_SHA256, (const guchar *)key, strlen(key), (const guchar *)data,
                                       len);
    snprintf(out, 65, "%s", h ? h : "");
    g_free(h);
}

/* ---- address policy ------------------------------------------------------------ */
/* 16 bytes (IPv4 as ::ffff:a.b.c.d) */
static void addr16(const struct sockaddr *sa, unsigned char out[16]) {
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static int prefix_match(const unsigned char *a, const unsigned char *net, int bits) {
    for (int i = 0; i < 16 && bits > 0; i++, bits -= 8) {
        unsigned char m = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((a[i] & m) != (net[i] & m)) return 0;
    }
    return 1;
}

/* "a.b.c.d/n" or "v6/n" (no /n: one address) into a 16-byte net and bits */
static int parse_cidr(const char *text, size_t len, unsigned char net[16], int *bits) {
    char buf[80];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, text, len);
    buf[len] = 0;
    char *slash = strchr(buf, '/');
    int b = -1;
    if (slash) {
        *slash = 0;
        char *end;
        b = (int)strtol(slash + 1, &end, 10);
        if (*end || b < 0) return 0;
    }
    struct in_addr a4;
    struct in6_addr a6;
    memset(net, 0, 16);
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (b > 32) return 0;
        net[10] = net[11] = 0xff;
        memcpy(net + 12, &a4, 4);
        *bits = 96 + (b < 0 ? 32 : b);
        return 1;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        if (b > 128) return 0;
        memcpy(net, &a6, 16);
        *bits = b < 0 ? 128 : b;
        return 1;
    }
    return 0;
}

static int in_allow(const unsigned char a[16], const char *allow) {
    for (const char *p = allow ? allow : ""; *p;) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ", ");
        unsigned char net[16];
        int bits;
        if (n && parse_cidr(p, n, net, &bits) && prefix_match(a, net, bits)) return 1;
        p += n;
    }
    return 0;
}

/* Loopback, link-local, private, shared (CGNAT), multicast, unspecified. */
static int is_internal(const unsigned char a[16]) {
    static const struct {
        const char *cidr;
    } nets[] = {{"0.0.0.0/8"},     {"10.0.0.0/8"},  {"100.64.0.0/10"}, {"127.0.0.0/8"}, {"169.254.0.0/16"},
                {"172.16.0.0/12"}, {"192.0.0.0/24"}, {"192.168.0.0/16"}, {"198.18.0.0/15"}, {"224.0.0.0/3"},
                {"::/128"},        {"::1/128"},     {"fc00::/7"},      {"fe80::/10"},   {"ff00::/8"},
                {"64:ff9b::/96"}};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        unsigned char net[16];
        int bits;
        if (parse_cidr(nets[i].cidr, strlen(nets[i].cidr), net, &bits) && prefix_match(a, net, bits)) return 1;
    }
    return 0;
}

int carve__hook_addr_allowed(const struct sockaddr *sa, const char *allow) {
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return 0;
    unsigned char a[16];
    addr16(sa, a);
    return !is_internal(a) || in_allow(a, allow);
}

/* ---- URL check ------------------------------------------------------------------- */
int carve__hook_check_url(const char *url, const char *allow, char *msg, size_t mlen) {
    const char *p;
    const char *def_port;
    if (!strncmp(url, "http://", 7)) p = url + 7, def_port = "80";
    else if (!strncmp(url, "https://", 8)) p = url + 8, def_port = "443";
    else {
        snprintf(msg, mlen, "option 'callback_url': '%.100s' is not an http:// or https:// URL", url);
        return -1;
    }
    size_t alen = strcspn(p, "/?#");
    char auth[300], host[300], port[16];
    if (alen == 0 || alen >= sizeof auth || memchr(p, '@', alen) || strlen(url) > 2000) {
        snprintf(msg, mlen, "option 'callback_url': '%.100s' has no host, user info or is too long", url);
        return -1;
    }
    memcpy(auth, p, alen);
    auth[alen] = 0;
    const char *colon;
    if (auth[0] == '[') {
        const char *rb = strchr(auth, ']');
        if (!rb) {
            snprintf(msg, mlen, "option 'callback_url': bad IPv6 host in '%.100s'", url);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(rb - auth - 1), auth + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = strrchr(auth, ':');
        snprintf(host, sizeof host, "%.*s", (int)(colon ? (size_t)(colon - auth) : alen), auth);
    }
    snprintf(port, sizeof port, "%s", colon && colon[1] ? colon + 1 : def_port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r || !ai) {
        snprintf(msg, mlen, "option 'callback_url': cannot resolve '%.100s': %s", host, gai_strerror(r));
        return -1;
    }
    int rc = 0;
    for (struct addrinfo *a = ai; a && !rc; a = a->ai_next)
        if (!carve__hook_addr_allowed(a->ai_addr, allow)) {
            char ip[INET6_ADDRSTRLEN] = "?";
            const void *src = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                                      : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            inet_ntop(a->ai_family, src, ip, sizeof ip);
            snprintf(msg, mlen,
                     "option 'callback_url': %.100s resolves to %s, a loopback, link-local or private address that "
                     "carved does not call (the operator may allow it with webhook_allow)", host, ip);
            rc = -1;
        }
    freeaddrinfo(ai);
    return rc;
}

/* ---- delivery ---------------------------------------------------------------------- */
#if CARVE_SRV_HAVE_CURL
static size_t discard(char *p, size_t sz, size_t n, void *u) {
    (void)p;
    (void)u;
    return sz * n;
}

static curl_socket_t open_checked(void *user, curlsocktype purpose, struct curl_sockaddr *a) {
    (void)purpose;
    if (!carve__hook_addr_allowed(&a->addr, user)) return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype, a->protocol);
}

/* POSTs body; 0 on a 2xx answer, else -1 with err. */
static int post(carve__srv *s, const char *url, const char *id, int attempt, const char *state, const char *body,
                size_t len, char *err, size_t errlen) {
    const char *secret = carve__srvopt_str(s->opt, CARVE_SRVOPT_webhook_secret);
    const char *allow = carve__srvopt_str(s->opt, CARVE_SRVOPT_webhook_allow);
    char sig[65], h1[100], h2[100], h3[120];
    carve__hook_sign(secret ? secret : "", body, len, sig);
    snprintf(h1, sizeof h1, "X-Carve-Signature: sha256=%s", sig);
    snprintf(h2, sizeof h2, "X-Carve-Event: job.%s", state);
    snprintf(h3, sizeof h3, "X-Carve-Delivery: %s.%d", id, attempt);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    hd = curl_slist_append(hd, h1);
    hd = curl_slist_append(hd, h2);
    hd = curl_slist_append(hd, h3);
    hd = curl_slist_append(hd, "User-Agent: carved");
    hd = curl_slist_append(hd, "Expect:");
    CURL *c = curl_easy_init();
    if (!c || !hd) {
        curl_slist_free_all(hd);
        if (c) curl_easy_cleanup(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    long timeout_ms = (long)(carve__srvopt_float(s->opt, CARVE_SRVOPT_webhook_timeout) * 1000);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, (void *)allow);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hd);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", rc == CURLE_COULDNT_CONNECT ? "connection refused or address not allowed"
                                                                   : curl_easy_strerror(rc));
        return -1;
    }
    if (code < 200 || code > 299) {
        snprintf(err, errlen, "the receiver answered HTTP %ld", code);
        return -1;
    }
    return 0;
}
#else
static int post(carve__srv *s, const char *url, const char *id, int attempt, const char *state, const char *body,
                size_t len, char *err, size_t errlen) {
    (void)s, (void)url, (void)id, (void)attempt, (void)state, (void)body, (void)len;
    snprintf(err, errlen, "this carved was built without libcurl");
    return -1;
}
#endif

/* One delivery attempt of a claimed job's webhook, recorded in the store. */
static void deliver(carve__srv *s, const char *id) {
    carve__job_row row;
    if (s->store->get_job(s->store, id, &row)) return;
    if (row.webhook_state != CARVE__HOOK_PENDING || !row.webhook_url) {
        carve__job_row_free(&row);
        return;
    }
    int attempt = row.webhook_attempts + 1;
    row.webhook_attempts = attempt; /* the body shows this delivery */
    carve__buf b;
    carve__buf_init(&b);
    carve__srv_job_json(s, &b, &row, NULL);
    char perr[HOOK_ERR_MAX] = "";
    int ok = !b.oom && post(s, row.webhook_url, id, attempt, carve__job_state_name(row.state), b.data, b.len, perr,
                            sizeof perr) == 0;
    if (b.oom) snprintf(perr, sizeof perr, "out of memory");
    double now = carve__srv_wall();
    int max = (int)carve__srvopt_int(s->opt, CARVE_SRVOPT_webhook_max_attempts);
    double wait = carve__srvopt_float(s->opt, CARVE_SRVOPT_webhook_backoff) * pow(2.0, attempt - 1);
    wait = fmin(wait, carve__srvopt_float(s->opt, CARVE_SRVOPT_webhook_backoff_max));
    int state = ok ? CARVE__HOOK_DELIVERED : attempt >= max ? CARVE__HOOK_FAILED : CARVE__HOOK_PENDING;
    s->store->webhook_done(s->store, id, state, attempt, ok || state == CARVE__HOOK_FAILED ? now : now + wait,
                           ok ? NULL : perr);
    char extra[160];
    snprintf(extra, sizeof extra, ",\"attempt\":%d,\"webhook\":\"%s\"", attempt,
             ok ? "delivered" : state == CARVE__HOOK_FAILED ? "failed" : "retry");
    carve__srv_log(s, ok ? CARVE_LOG_INFO : CARVE_LOG_WARN, id, extra, "webhook %s%s%s",
                   ok ? "delivered" : "delivery failed", ok ? "" : ": ", ok ? "" : perr);
    carve__buf_free(&b);
    carve__job_row_free(&row);
}

static void *hook_main(void *arg) {
    carve__srv *s = arg;
    double lease = carve__srvopt_float(s->opt, CARVE_SRVOPT_webhook_timeout) + HOOK_LEASE_EXTRA_S;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        bool woken = s->hook_wake;
        s->hook_wake = false;
        pthread_mutex_unlock(&s->mu);
        char ids[HOOK_BATCH][33];
        int n = 0;
        if (s->store->webhook_claim(s->store, carve__srv_wall(), lease, ids, HOOK_BATCH, &n)) n = 0;
        for (int i = 0; i < n; i++) deliver(s, ids[i]);
        pthread_mutex_lock(&s->mu);
        if (n == 0 && !woken && !s->hook_wake && !s->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            double end = until.tv_sec + until.tv_nsec * 1e-9 + HOOK_POLL_S;
            until.tv_sec = (time_t)end;
            until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
            pthread_cond_timedwait(&s->hook_cv, &s->mu, &until);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

#if CARVE_SRV_HAVE_CURL
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
#endif

int carve__hook_start(carve__srv *s) {
#if CARVE_SRV_HAVE_CURL
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
#endif
    if (pthread_create(&s->hook_thread, NULL, hook_main, s)) return -1;
    s->hook_started = true;
    return 0;
}

void carve__hook_wake(carve__srv *s) {
    pthread_mutex_lock(&s->mu);
    s->hook_wake = true;
    pthread_cond_signal(&s->hook_cv);
    pthread_mutex_unlock(&s->mu);
}

void carve__hook_stop(carve__srv *s) {
    if (!s->hook_started) return;
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->hook_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->hook_thread, NULL);
    s->hook_started = false;
}
