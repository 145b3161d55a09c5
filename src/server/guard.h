/* guard.h — carved's connection guard: deadlines libmicrohttpd does not
 * have.  Its connection timeout only closes *idle* connections, so a client
 * that sends one header byte a second, or uploads at a trickle, would hold a
 * connection (and a thread) for ever.  The guard tracks every connection
 * (libmicrohttpd's connection notifications) and a watchdog thread shuts
 * down the socket of one that
 *   - has not finished its request line + headers within header_timeout,
 *   - uploads its body slower than min_upload_rate (after a grace period),
 * and, when the connection count reaches max_connections - conn_headroom,
 * each new connection evicts the oldest one still sending headers, so health
 * checks and the UI always find a free slot. */
#ifndef CARVE_SRV_GUARD_H
#define CARVE_SRV_GUARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct carve__guard carve__guard;
typedef struct carve__gconn carve__gconn;

typedef struct carve__guard_cfg {
    double header_timeout;  /* seconds for request line + headers */
    double min_upload_rate; /* bytes/s; 0 = off */
    double upload_grace;    /* seconds before the rate is judged */
    int evict_at;           /* connections at which new ones evict the oldest header-phase one */
} carve__guard_cfg;

typedef struct carve__guard_stats {
    long long header_timeouts, slow_uploads, evicted, open, peak;
} carve__guard_stats;

carve__guard *carve__guard_create(const carve__guard_cfg *cfg);
/** Stops the watchdog and frees the guard (after the HTTP daemon stopped). */
void carve__guard_destroy(carve__guard *g);
/** A new connection on socket fd; returns its handle (NULL: untracked). */
carve__gconn *carve__guard_open(carve__guard *g, int fd);
/** The connection closed: forget it (before its fd is closed). */
void carve__guard_close(carve__guard *g, carve__gconn *c);
/** Headers are complete: the body (if any) phase begins. */
void carve__guard_headers_done(carve__guard *g, carve__gconn *c);
/** n more body bytes arrived. */
void carve__guard_body(carve__guard *g, carve__gconn *c, uint64_t n);
/** The response is queued: no more deadlines (idle/stall: conn_timeout). */
void carve__guard_responding(carve__guard *g, carve__gconn *c);
/** A request finished; the connection waits for the next one (keep-alive). */
void carve__guard_request_done(carve__guard *g, carve__gconn *c);
void carve__guard_stats_get(carve__guard *g, carve__guard_stats *out);

#endif
