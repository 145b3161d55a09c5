/* pipeline.h — the pipeline: phases composed into carve_run, the run report
 * and its HTML rendering.  Only the pipeline includes the phase headers; the
 * tools and the server may include this header. */
#ifndef CARVE_PIPELINE_H
#define CARVE_PIPELINE_H
#include "core.h"

/** Renders the run report of the last carve_run on ctx as one self-contained
 *  HTML page: the original, every phase image kept in ctx (option
 *  keep_intermediates) as base64 PNG data URIs, the SVG inline and the
 *  timings.  title (e.g. the input file name) may be NULL; svg may be NULL
 *  (failed run).  *html is NUL-terminated, free with carve_free.
 *  CARVE_ERR_EMPTY when ctx holds no report. */
carve_status carve__report_html(carve_ctx *ctx, const char *title, const char *svg, size_t svg_len, char **html,
                                size_t *len);

/** Fills the pixels whose mask byte is non-zero by push-pull diffusion
 *  (mask-aware pyramid down, then up, filling holes from coarser levels):
 *  the pipeline's fallback when exemplar inpainting fails.  Alpha is filled
 *  the same way.  Deterministic; *out is a new image. */
carve_status carve__fill_pushpull(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out);

/* ---- the results of the last carve_run on a ctx (results.c) ----------------
 * Kept in ctx's results slot (core frees them, the pipeline owns the shape):
 * the report as JSON text and the phase images in pipeline order. */
typedef struct carve__intermediate {
    char name[32];
    carve_image *img;
    struct carve__intermediate *next;
} carve__intermediate;
typedef struct carve__run_results {
    char *report_json;
    carve__intermediate *intermediates;
} carve__run_results;

/** The results of ctx's last run, or NULL when there are none. */
const carve__run_results *carve__results(const carve_ctx *ctx);
/** Drops ctx's results (a new run starts). */
void carve__results_clear(carve_ctx *ctx);
/** Sets the report text (taking ownership of json); NOMEM. */
carve_status carve__results_set_report(carve_ctx *ctx, char *json);

/** Keeps a copy of img as ctx's intermediate name (replacing one of that
 *  name). */
carve_status carve__keep_intermediate(carve_ctx *ctx, const char *name, const carve_image *img);
/** A greyscale RGBA picture of a w*h byte map (matte, mask, edges). */
carve_image *carve__map_to_image(const uint8_t *map, int w, int h);

#endif
