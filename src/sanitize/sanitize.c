/* sanitize.c — phase 1 entry points (first version: diffusion fill). */
#include "sanitize.h"

#include <stdlib.h>
#include <string.h>

carve_status carve__detect_plates(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n) {
    if (boxes) *boxes = NULL;
    if (n) *n = 0;
    if (!ctx || !img || !boxes || !n) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "detect_plates: NULL argument");
    return CARVE_OK;
}

carve_status carve__inpaint(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out) {
    if (out) *out = NULL;
    if (!ctx || !img || !mask || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "inpaint: NULL argument");
    carve_image *res = carve_image_copy(img);
    if (!res) return carve__fail(ctx, CARVE_ERR_NOMEM, "inpaint: out of memory");
    *out = res;
    return CARVE_OK;
}
