/*
 * carved.h — the interface of carved's server module (src/server) for its
 * entry point (tools/carved.c) and the server tests.
 *
 * NOT installed and not part of libcarve: include/carve.h is the one public
 * header.  It sits under include/ so that tools/ include nothing from src/;
 * the module's internals stay in the headers of src/server.  The module itself uses
 * libcarve through carve.h only and is linked with the shared libcarve.
 */
#ifndef CARVED_H
#define CARVED_H

#include "carve.h"

#include <stdint.h>

#if defined(__GNUC__)
#define CARVED_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CARVED_PRINTF(a, b)
#endif

/* ---- settings (src/server/settings.def) ------------------------------------
 * carved's own settings (listen, data_dir, api_key, ...): the same X-macro
 * rows as libcarve's option schema, but owned by the server, so libcarve's
 * carve_option_*() never list them.  Described with the public
 * carve_option_info (group "server"). */
typedef struct carve__srvopts carve__srvopts;

/** Number of settings; setting i (static storage) or NULL; setting by key
 *  (dashes and underscores are equivalent) or NULL. */
int carve__srvopt_count(void);
const carve_option_info *carve__srvopt_at(int i);
const carve_option_info *carve__srvopt_find(const char *key);
/** Every setting at its default; NULL on OOM. */
carve__srvopts *carve__srvopts_create(void);
/** A copy; NULL on OOM. */
carve__srvopts *carve__srvopts_clone(const carve__srvopts *o);
void carve__srvopts_destroy(carve__srvopts *o);
/** Sets a setting from text, checked against its type and range as libcarve
 *  checks its options.  CARVE_ERR_UNKNOWN_OPTION (not a setting),
 *  CARVE_ERR_INVALID_ARG or CARVE_ERR_OUT_OF_RANGE with a message naming the
 *  key, the value and what is allowed in errctx (carve_ctx_set_error); the
 *  setting keeps its old value then.  CARVE_ERR_NOMEM. */
carve_status carve__srvopts_set(carve__srvopts *o, carve_ctx *errctx, const char *key, const char *value);

/* ---- the server ------------------------------------------------------------
 * Threads: libmicrohttpd runs one thread per connection (HTTP I/O only);
 * `workers` threads run jobs; one sweeper thread enforces job timeouts and
 * retention.  Durable state lives behind the job store (src/server/store.h). */
typedef struct carve__srv carve__srv;

/** A server with the settings opt whose jobs start from cfg's options
 *  (libcarve's).  Both are copied.  On error the message is in cfg. */
carve_status carve__srv_create(carve_ctx *cfg, const carve__srvopts *opt, carve__srv **out);
/** Opens the store, recovers interrupted jobs, starts workers, sweeper and
 *  HTTP.  On error the message is in errctx (CARVE_ERR_CONFIG: a setting is
 *  wrong). */
carve_status carve__srv_start(carve__srv *s, carve_ctx *errctx);
/** The bound TCP port (useful with listen port 0). */
int carve__srv_port(const carve__srv *s);
/** Graceful stop: HTTP off, running jobs interrupted and re-queued (they run
 *  again at the next start), threads joined.  Idempotent. */
void carve__srv_stop(carve__srv *s);
void carve__srv_destroy(carve__srv *s);

/** Structured JSON log line on stderr: {"ts":..,"level":..,"msg":..,"job":..}
 *  plus extra, a JSON fragment of more fields (",\"k\":v"; may be NULL).
 *  s and job may be NULL. */
void carve__srv_log(carve__srv *s, int level, const char *job, const char *extra, const char *fmt, ...)
    CARVED_PRINTF(5, 6);

#endif
