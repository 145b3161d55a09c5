/* sanitize.h — phase 1: find plates/text and inpaint regions away.
 * Called by the pipeline only (a phase never calls another phase). */
#ifndef CARVE_SANITIZE_H
#define CARVE_SANITIZE_H
#include "core.h"

/** Classical detector of licence plates and text blocks.  *boxes is
 *  malloc'd (caller frees), *n its length; boxes sorted by score. */
carve_status carve__detect_plates(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n);

/** Exemplar (PatchMatch-style, coarse to fine) inpainting of the pixels
 *  whose mask byte is non-zero (mask is w*h bytes).  *out is a new image;
 *  pixels outside the mask are unchanged. */
carve_status carve__inpaint(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out);

#endif
