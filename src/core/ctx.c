/* ctx.c — context lifecycle, progress sub-ranges and cancellation. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


carve_ctx *carve_ctx_create(void) {
    carve_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    atomic_init(&ctx->cancelled, 0);
    ctx->prog_lo = 0;
    ctx->prog_hi = 1;
    if (carve__options_init(ctx)) {
        carve__options_free(ctx);
        free(ctx);
        return NULL;
    }
    return ctx;
}

void carve__ctx_set_results(carve_ctx *ctx, void *results, void (*results_free)(void *results)) {
    if (ctx->results && ctx->results_free) ctx->results_free(ctx->results);
    ctx->results = results;
    ctx->results_free = results_free;
}

void carve_ctx_destroy(carve_ctx *ctx) {
    if (!ctx) return;
    carve__options_free(ctx);
    carve__ctx_set_results(ctx, NULL, NULL);
    free(ctx);
}

carve_ctx *carve_ctx_clone(const carve_ctx *src) {
    if (!src) return NULL;
    carve_ctx *ctx = carve_ctx_create();
    if (!ctx) return NULL;
    if (carve__options_copy(ctx, src)) {
        carve_ctx_destroy(ctx);
        return NULL;
    }
    return ctx;
}

void carve_ctx_set_progress(carve_ctx *ctx, carve_progress_fn fn, void *user) {
    if (!ctx) return;
    ctx->progress = fn;
    ctx->progress_user = user;
}

void carve_ctx_set_log(carve_ctx *ctx, carve_log_fn fn, void *user) {
    if (!ctx) return;
    ctx->log = fn;
    ctx->log_user = user;
}

void carve_ctx_cancel(carve_ctx *ctx) {
    if (ctx) atomic_store(&ctx->cancelled, 1);
}

void carve_ctx_reset_cancel(carve_ctx *ctx) {
    if (ctx) atomic_store(&ctx->cancelled, 0);
}

bool carve__cancelled(const carve_ctx *ctx) {
    return ctx && atomic_load(&((carve_ctx *)ctx)->cancelled) != 0;
}

carve_status carve__progress(carve_ctx *ctx, double f, const char *stage) {
    if (!ctx) return CARVE_OK;
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    double g = ctx->prog_lo + f * (ctx->prog_hi - ctx->prog_lo);
    /* inside a composed call (sub-ranges pushed) progress never goes back;
     * a new top-level call starts again from its own 0 */
    if (ctx->prog_depth > 0 && g < ctx->prog_last) g = ctx->prog_last;
    ctx->prog_last = g;
    if (ctx->progress && ctx->progress(ctx->progress_user, g, stage ? stage : "")) carve_ctx_cancel(ctx);
    if (carve__cancelled(ctx))
        return carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled during %s", stage ? stage : "work");
    return CARVE_OK;
}

carve__range carve__progress_push(carve_ctx *ctx, double a, double b) {
    carve__range old = {0, 1};
    if (!ctx) return old;
    old.lo = ctx->prog_lo;
    old.hi = ctx->prog_hi;
    double w = old.hi - old.lo;
    ctx->prog_lo = old.lo + a * w;
    ctx->prog_hi = old.lo + b * w;
    if (ctx->prog_depth++ == 0) ctx->prog_last = ctx->prog_lo;
    return old;
}

void carve__progress_pop(carve_ctx *ctx, carve__range saved) {
    if (!ctx) return;
    ctx->prog_lo = saved.lo;
    ctx->prog_hi = saved.hi;
    if (ctx->prog_depth > 0) ctx->prog_depth--;
}

carve_status carve_ctx_progress(carve_ctx *ctx, double fraction, const char *stage) {
    return carve__progress(ctx, fraction, stage);
}
