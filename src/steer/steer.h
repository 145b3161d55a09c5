/* steer.h — phase 2: background matte, edge map, flattening.
 * Called by the pipeline only. */
#ifndef CARVE_STEER_H
#define CARVE_STEER_H
#include "core.h"

/** Classical foreground matte (colour models + graph cut, seeded from the
 *  border and the centre).  *alpha is malloc'd w*h bytes, 255 = vehicle. */
carve_status carve__matte_classical(carve_ctx *ctx, const carve_image *img, uint8_t **alpha);

/** Canny edge map: *edges malloc'd w*h bytes, 255 on edges.  lo/hi are
 *  gradient thresholds relative to the maximum (0..1); sigma the blur. */
carve_status carve__edges_canny(carve_ctx *ctx, const carve_image *img, double sigma, double lo, double hi,
                                uint8_t **edges);

/** Edge-preserving flattening toward an illustration; strength 0..5
 *  (0 = copy).  Alpha is kept. */
carve_status carve__flatten(carve_ctx *ctx, const carve_image *img, double strength, carve_image **out);

#endif
