/* guard.c — per-connection deadlines and connection headroom (see guard.h).
 * One mutex guards the list; the watchdog only calls shutdown() on a socket
 * while holding it, and a connection leaves the list (notification "closed",
 * which libmicrohttpd sends before it closes the socket) under it too, so a
 * shutdown never reaches a reused descriptor. */
#include "guard.h"

#include "carve_util.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define WATCH_PERIOD_NS 200000000L /* 0.2 s */

enum { PH_HEADERS, PH_BODY, PH_RESPONSE };

struct carve__gconn {
    int fd;
    int phase;
    bool killed;
    double t_phase; /* start of the current phase */
    uint64_t body;
    carve__gconn *prev, *next;
};

struct carve__guard {
    carve__guard_cfg cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thr;
    bool stop, started;
    carve__gconn *head, *tail; /* oldest first */
    carve__guard_stats st;
};

static void drop(carve__gconn *c) {
    if (c->killed) return;
    c->killed = true;
    shutdown(c->fd, SHUT_RDWR); /* its connection thread sees EOF and closes */
}

static void watch_once(carve__guard *g, double now) {
    for (carve__gconn *c = g->head; c; c = c->next) {
        if (c->killed) continue;
        double age = now - c->t_phase;
        if (c->phase == PH_HEADERS && age > g->cfg.header_timeout) {
            drop(c);
            g->st.header_timeouts++;
        } else if (c->phase == PH_BODY && g->cfg.min_upload_rate > 0 && age > g->cfg.upload_grace &&
                   (double)c->body / age < g->cfg.min_upload_rate) {
            drop(c);
            g->st.slow_uploads++;
        }
    }
}

static void *watchdog(void *arg) {
    carve__guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WATCH_PERIOD_NS;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&g->cv, &g->mu, &until);
        if (!g->stop) watch_once(g, carve__now());
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

carve__guard *carve__guard_create(const carve__guard_cfg *cfg) {
    carve__guard *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->cfg = *cfg;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->thr, NULL, watchdog, g)) {
        carve__guard_destroy(g);
        return NULL;
    }
    g->started = true;
    return g;
}

void carve__guard_destroy(carve__guard *g) {
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->started) pthread_join(g->thr, NULL);
    for (carve__gconn *c = g->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* The oldest connection still sending its headers (not c), or NULL. */
static carve__gconn *oldest_in_headers(carve__guard *g, const carve__gconn *c) {
    for (carve__gconn *o = g->head; o; o = o->next)
        if (o != c && !o->killed && o->phase == PH_HEADERS) return o;
    return NULL;
}

carve__gconn *carve__guard_open(carve__guard *g, int fd) {
    carve__gconn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fd;
    c->phase = PH_HEADERS;
    c->t_phase = carve__now();
    pthread_mutex_lock(&g->mu);
    c->prev = g->tail;
    if (g->tail) g->tail->next = c;
    else g->head = c;
    g->tail = c;
    g->st.open++;
    if (g->st.open > g->st.peak) g->st.peak = g->st.open;
    if (g->cfg.evict_at > 0 && g->st.open >= g->cfg.evict_at) {
        carve__gconn *o = oldest_in_headers(g, c);
        if (o) {
            drop(o);
            g->st.evicted++;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return c;
}

void carve__guard_close(carve__guard *g, carve__gconn *c) {
    if (!c) return;
    pthread_mutex_lock(&g->mu);
    if (c->prev) c->prev->next = c->next;
    else g->head = c->next;
    if (c->next) c->next->prev = c->prev;
    else g->tail = c->prev;
    g->st.open--;
    pthread_mutex_unlock(&g->mu);
    free(c);
}

static void set_phase(carve__guard *g, carve__gconn *c, int phase) {
    if (!c) return;
    pthread_mutex_lock(&g->mu);
    if (c->phase != phase) {
        c->phase = phase;
        c->t_phase = carve__now();
        c->body = 0;
    }
    pthread_mutex_unlock(&g->mu);
}

void carve__guard_headers_done(carve__guard *g, carve__gconn *c) { set_phase(g, c, PH_BODY); }
void carve__guard_responding(carve__guard *g, carve__gconn *c) { set_phase(g, c, PH_RESPONSE); }
void carve__guard_request_done(carve__guard *g, carve__gconn *c) { set_phase(g, c, PH_HEADERS); }

void carve__guard_body(carve__guard *g, carve__gconn *c, uint64_t n) {
    if (!c) return;
    pthread_mutex_lock(&g->mu);
    c->body += n;
    pthread_mutex_unlock(&g->mu);
}

void carve__guard_stats_get(carve__guard *g, carve__guard_stats *out) {
    pthread_mutex_lock(&g->mu);
    *out = g->st;
    pthread_mutex_unlock(&g->mu);
}
