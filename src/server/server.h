/* server.h — carved's module internals shared by its files: the engine
 * signature and the web UI assets.  The module's interface for
 * tools/carved.c and the tests is include/carved.h (included here). */
#ifndef CARVE_SRV_SERVER_H
#define CARVE_SRV_SERVER_H

#include "carve_util.h"
#include "carved.h"
#include "settings.h"

/** The function that turns a decoded photo into an SVG (carve_run's
 *  signature after the server).  It must call the ctx's progress callback
 *  often (cancellation and timeouts work through it). */
typedef carve_status (*carve__srv_engine_fn)(carve__srv *s, carve_ctx *ctx, const carve_image *img,
                                             const carve_palette *pal, char **svg, size_t *len);

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
