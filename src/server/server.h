/* server.h — carved, the HTTP job server (internal API used by
 * tools/carved.c and tests/server).
 *
 * Threads: libmicrohttpd runs one thread per connection (HTTP I/O only);
 * `workers` threads run jobs; one sweeper thread enforces job timeouts and
 * retention.  Durable state lives behind carve__store (store.h). */
#ifndef CARVE_SRV_SERVER_H
#define CARVE_SRV_SERVER_H

#include "core.h"
#include "settings.h"

typedef struct carve__srv carve__srv;

/** The function that turns a decoded photo into an SVG (carve_run's
 *  signature after the server).  It must call the ctx's progress callback
 *  often (cancellation and timeouts work through it). */
typedef carve_status (*carve__srv_engine_fn)(carve__srv *s, carve_ctx *ctx, const carve_image *img,
                                             const carve_palette *pal, char **svg, size_t *len);

/** A server with the settings opt (settings.h: listen, data_dir, ...) whose
 *  jobs start from cfg's options (libcarve's).  Both are copied.  On error
 *  the message is in cfg. */
carve_status carve__srv_create(carve_ctx *cfg, const carve__srvopts *opt, carve__srv **out);
/** Opens the store, recovers interrupted jobs, starts workers, sweeper and
 *  HTTP.  On error the message is in errctx. */
carve_status carve__srv_start(carve__srv *s, carve_ctx *errctx);
/** The bound TCP port (useful with listen port 0). */
int carve__srv_port(const carve__srv *s);
/** Graceful stop: HTTP off, running jobs interrupted and re-queued (they run
 *  again at the next start), threads joined.  Idempotent. */
void carve__srv_stop(carve__srv *s);
void carve__srv_destroy(carve__srv *s);

/** Structured JSON log line on stderr: {"ts":..,"level":..,"msg":..,"job":..}
 *  plus extra, a JSON fragment of more fields (",\"k\":v"; may be NULL). */
void carve__srv_log(carve__srv *s, int level, const char *job, const char *extra, const char *fmt, ...)
    CARVE_PRINTF(5, 6);

/** True when the carve pipeline (carve_run) / palettes (chroma) are built in. */
bool carve__srv_have_pipeline(void);
bool carve__srv_have_palettes(void);

/** Web UI assets built into the binary (web_assets.c, generated). */
typedef struct carve__asset {
    const char *path; /* "/index.html" */
    const char *mime;
    const unsigned char *data;
    size_t len;
} carve__asset;
extern const carve__asset carve__web_assets[];
extern const int carve__web_asset_count;

#endif
