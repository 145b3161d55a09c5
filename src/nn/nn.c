/* nn.c — neural backends (placeholder until the ONNX Runtime loader lands):
 * every entry point reports that no runtime is available so the pipeline
 * falls back to its classical backends. */
#include "nn/nn.h"

#include <stdlib.h>

static carve_status no_runtime(carve_ctx *ctx, const char *task) {
    return carve__fail(ctx, CARVE_ERR_NOT_FOUND,
                       "neural %s: carve was built without the ONNX Runtime header; run scripts/onnx/setup.sh and rebuild",
                       task);
}

bool carve__nn_available(carve_ctx *ctx, const char *task) {
    (void)ctx;
    (void)task;
    return false;
}

carve_status carve__nn_matte(carve_ctx *ctx, const carve_image *img, uint8_t **alpha) {
    (void)img;
    if (alpha) *alpha = NULL;
    return no_runtime(ctx, "matte");
}

carve_status carve__nn_text_detect(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n) {
    (void)img;
    if (boxes) *boxes = NULL;
    if (n) *n = 0;
    return no_runtime(ctx, "text_detect");
}
