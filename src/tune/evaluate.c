/* evaluate.c — carve_style_evaluate: the whole pipeline with ctx's options
 * on a photo, rendered, against its reference (the held-out measure). */
#include "tune.h"

#include <stdlib.h>

carve_status carve_style_evaluate(carve_ctx *ctx, const carve_image *photo, const carve_image *reference,
                                  double *distance, char **details) {
    if (details) *details = NULL;
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!photo || !reference || !distance)
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "style evaluate: NULL argument");
    char *svg = NULL;
    size_t len = 0;
    carve_status st = carve_run(ctx, photo, NULL, &svg, &len);
    if (st) return st;
    int side = photo->w > photo->h ? photo->w : photo->h;
    int64_t ws = carve__opt_int(ctx, CARVE_OPTID_work_size);
    double f = side > ws ? (double)ws / side : 1.0;
    int w = (int)(photo->w * f + 0.5), h = (int)(photo->h * f + 0.5);
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    carve_image *render = NULL, *ref = NULL;
    st = carve_image_from_svg(ctx, svg, len, "render", w, h, &render);
    carve_free(svg);
    if (!st) st = carve__resize(ctx, reference, w, h, CARVE_KERNEL_LANCZOS3, &ref);
    if (!st) st = carve_style_distance(ctx, render, ref, distance, details);
    carve_image_destroy(render);
    carve_image_destroy(ref);
    return st;
}
