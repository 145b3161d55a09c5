/* error.c — status strings, per-context messages, logging. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *carve_version(void) { return CARVE_VERSION_STRING; }

const char *carve_strerror(carve_status s) {
    switch (s) {
    case CARVE_OK: return "success";
    case CARVE_ERR_NOMEM: return "out of memory";
    case CARVE_ERR_INVALID_ARG: return "invalid argument";
    case CARVE_ERR_OUT_OF_RANGE: return "value out of range";
    case CARVE_ERR_UNKNOWN_OPTION: return "unknown option";
    case CARVE_ERR_IO: return "input/output error";
    case CARVE_ERR_DECODE: return "cannot decode image";
    case CARVE_ERR_UNSUPPORTED: return "unsupported format";
    case CARVE_ERR_TOO_LARGE: return "over a size limit";
    case CARVE_ERR_TOO_MANY_COLORS: return "too many colours";
    case CARVE_ERR_PALETTE: return "invalid palette";
    case CARVE_ERR_CONFIG: return "invalid configuration";
    case CARVE_ERR_CANCELLED: return "cancelled";
    case CARVE_ERR_EMPTY: return "nothing to process";
    case CARVE_ERR_NOT_FOUND: return "not found";
    case CARVE_ERR_BACKEND: return "backend failed";
    case CARVE_ERR_TIMEOUT: return "timed out";
    case CARVE_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

void carve_free(void *p) { free(p); }

carve_status carve__fail(carve_ctx *ctx, carve_status status, const char *fmt, ...) {
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
        va_end(ap);
    }
    return status;
}

void carve__errprefix(carve_ctx *ctx, const char *fmt, ...) {
    if (!ctx) return;
    char pre[512], old[sizeof ctx->errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, ctx->errmsg, sizeof old);
    snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s: %s", pre, old);
}

carve_status carve_ctx_set_error(carve_ctx *ctx, carve_status status, int prefix, const char *fmt, ...) {
    if (!ctx || !fmt) return status;
    char text[sizeof ctx->errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (prefix && ctx->errmsg[0]) carve__errprefix(ctx, "%s", text);
    else memcpy(ctx->errmsg, text, sizeof text);
    return status;
}

void carve__clear_error(carve_ctx *ctx) {
    if (ctx) ctx->errmsg[0] = 0;
}

const char *carve_ctx_errmsg(const carve_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }

void carve__vlog_to(carve_log_fn log, void *user, int level, const char *fmt, va_list ap) {
    if (!log || !fmt) return;
    char msg[CARVE__LOG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    log(user, level, msg);
}

void carve__log(carve_ctx *ctx, int level, const char *fmt, ...) {
    if (!ctx) return;
    va_list ap;
    va_start(ap, fmt);
    carve__vlog_to(ctx->log, ctx->log_user, level, fmt, ap);
    va_end(ap);
}

void carve_ctx_log(carve_ctx *ctx, int level, const char *fmt, ...) {
    if (!ctx) return;
    va_list ap;
    va_start(ap, fmt);
    carve__vlog_to(ctx->log, ctx->log_user, level, fmt, ap);
    va_end(ap);
}
