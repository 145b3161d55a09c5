/* steer.h — phase 2: background matte, edge map, flattening.
 * Called by the pipeline only. */
#ifndef CARVE_STEER_H
#define CARVE_STEER_H
#include "core.h"

/** Classical foreground matte (colour models + graph cut, seeded from the
 *  border and the centre).  *alpha is malloc'd w*h bytes, 255 = vehicle. */
carve_status carve__matte_classical(carve_ctx *ctx, const carve_image *img, uint8_t **alpha);

/** What the pipeline knows about the subject (boxes in the image's pixels;
 *  steer never runs a detector itself). */
typedef struct carve__matte_seed {
    const carve__box *subject;   /* the vehicle(s): probable foreground inside, sure background outside the
                                    box grown by a margin; each is matted in its own crop */
    int nsubject;
    const carve__box *others;    /* other vehicles and persons: background where outside the subject box */
    int nothers;
    const carve__box *occluders; /* persons in front of the subject: their pixels leave (occluders=remove) */
    int noccluders;
    bool keep_occluders;         /* occluders=keep: the persons join the subject instead */
    bool has_point;              /* no box: the matte is seeded at (px, py) */
    int px, py;
} carve__matte_seed;

/** The classical matte seeded by the subject: with subject boxes a GrabCut
 *  per box (crop around it), shadows under the vehicle and the occluders as
 *  background; with only a point, the unseeded matte centred there; with
 *  nothing, carve__matte_classical. */
carve_status carve__matte_seeded(carve_ctx *ctx, const carve_image *img, const carve__matte_seed *seed, uint8_t **alpha);

/** Canny edge map: *edges malloc'd w*h bytes, 255 on edges.  lo/hi are
 *  gradient thresholds relative to the maximum (0..1); sigma the blur. */
carve_status carve__edges_canny(carve_ctx *ctx, const carve_image *img, double sigma, double lo, double hi,
                                uint8_t **edges);

/** Edge-preserving flattening toward an illustration; strength 0..5
 *  (0 = copy).  Alpha is kept. */
carve_status carve__flatten(carve_ctx *ctx, const carve_image *img, double strength, carve_image **out);

#endif
