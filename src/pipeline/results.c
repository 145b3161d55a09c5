/* results.c — what a carve_run leaves on its ctx for the caller: the run
 * report (carve_ctx_report_json) and the phase images
 * (carve_ctx_intermediate).  They live in core's opaque results slot, so core
 * knows nothing about the pipeline's outputs. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void results_free(void *p) {
    carve__run_results *r = p;
    if (!r) return;
    for (carve__intermediate *it = r->intermediates; it;) {
        carve__intermediate *next = it->next;
        carve_image_destroy(it->img);
        free(it);
        it = next;
    }
    free(r->report_json);
    free(r);
}

const carve__run_results *carve__results(const carve_ctx *ctx) {
    return ctx && ctx->results_free == results_free ? ctx->results : NULL;
}

void carve__results_clear(carve_ctx *ctx) { carve__ctx_set_results(ctx, NULL, NULL); }

/* ctx's results, made on first use */
static carve__run_results *results_of(carve_ctx *ctx) {
    if (ctx->results_free != results_free) {
        carve__run_results *r = calloc(1, sizeof *r);
        if (!r) return NULL;
        carve__ctx_set_results(ctx, r, results_free);
    }
    return ctx->results;
}

carve_status carve__results_set_report(carve_ctx *ctx, char *json) {
    carve__run_results *r = results_of(ctx);
    if (!r || !json) {
        free(json);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory writing the run report");
    }
    free(r->report_json);
    r->report_json = json;
    return CARVE_OK;
}

carve_status carve__keep_intermediate(carve_ctx *ctx, const char *name, const carve_image *img) {
    carve__run_results *r = results_of(ctx);
    carve_image *copy = r ? carve_image_copy(img) : NULL;
    if (!copy) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory keeping intermediate %s", name);
    carve__intermediate **pp = &r->intermediates;
    for (; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->name, name)) {
            carve_image_destroy((*pp)->img);
            (*pp)->img = copy;
            return CARVE_OK;
        }
    carve__intermediate *it = calloc(1, sizeof *it);
    if (!it) {
        carve_image_destroy(copy);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory keeping intermediate %s", name);
    }
    snprintf(it->name, sizeof it->name, "%s", name);
    it->img = copy;
    *pp = it; /* appended: the list keeps pipeline order */
    return CARVE_OK;
}

carve_status carve_ctx_report_html(carve_ctx *ctx, const char *title, const char *svg, size_t svg_len, char **html,
                                   size_t *len) {
    if (html) *html = NULL;
    if (len) *len = 0;
    if (!ctx || !html) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_ctx_report_html: NULL argument");
    return carve__report_html(ctx, title, svg, svg_len, html, len);
}

const char *carve_ctx_report_json(const carve_ctx *ctx) {
    const carve__run_results *r = carve__results(ctx);
    return r ? r->report_json : NULL;
}

const carve_image *carve_ctx_intermediate(const carve_ctx *ctx, const char *phase) {
    const carve__run_results *r = carve__results(ctx);
    if (!r || !phase) return NULL;
    for (const carve__intermediate *it = r->intermediates; it; it = it->next)
        if (!strcmp(it->name, phase)) return it->img;
    return NULL;
}
