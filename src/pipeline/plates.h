/* plates.h — the plate and text search of the pipeline's detect step: the
 * whole frame, then each vehicle's box at a higher resolution (crop from
 * the input, upscale, upright and turned copies), with the classical
 * detector and, when asked, the neural one.  Pipeline-private. */
#ifndef CARVE_PIPELINE_PLATES_H
#define CARVE_PIPELINE_PLATES_H
#include "core.h"
#include "sanitize/sanitize.h"

#include <jansson.h>

/** One plate or text detection, in work pixels. */
typedef struct carve__plate_hit {
    carve__box box;    /* bounds of r (kind "plate"/"text", score) */
    carve__obox r;     /* the plate's (oriented) rectangle */
    int region;        /* -1: found on the whole frame; else the index of the searched vehicle box */
    double scale;      /* pixels of the searched image per input pixel */
    double turn;       /* deg the searched copy was turned by (0, +-CROP_TURN) */
    char detector[12]; /* "classical" or "neural" */
} carve__plate_hit;

/** The frame's neural text pass, run ahead on a thread of its own so that it
 *  overlaps the object detector (the subject step).  It works on a clone of
 *  ctx's options (no progress, log or cancel: it is one model run) and
 *  borrows work, which must stay alive and unchanged until
 *  carve__text_ahead_join().  Its boxes are the same as those of
 *  carve__nn_text_detect(ctx, work) called in place. */
typedef struct carve__text_ahead carve__text_ahead;

/** Starts the pass; NULL when it was not started (one worker thread only,
 *  out of memory, no thread): the search then runs it in place. */
carve__text_ahead *carve__text_ahead_start(carve_ctx *ctx, const carve_image *work);
/** Waits for the pass and frees a.  CARVE_OK: *boxes (malloc'd, caller
 *  frees) and *n are its boxes; otherwise its status, with ctx's message set
 *  to the pass's (ctx may be NULL: the result is discarded).  a NULL:
 *  nothing to wait for (CARVE_ERR_INVALID_ARG). */
carve_status carve__text_ahead_join(carve_ctx *ctx, carve__text_ahead *a, carve__box **boxes, int *n);

/** Searches the work image (the whole frame) and, for each of the nreg
 *  regions (work pixels; vehicles), a crop of the input image orig around
 *  it, grown and upscaled so that small plates are large enough (work/input
 *  scale sx, sy).  neural: also run the neural text detector (an absent
 *  model is then an error, CARVE_ERR_NOT_FOUND, as for the frame).
 *  Regions are searched in the order given (at most 4; the subject first).
 *  Duplicates are merged.  *hits malloc'd (caller frees), sorted by score.
 *  Hits no plate or text can be (too tall for the vehicle or the image)
 *  are dropped.  details (may be NULL) receives the regions searched, their
 *  scale and the rejected hits.  ahead: the frame's neural pass started
 *  ahead (neural runs only), joined and freed here; NULL: the frame pass
 *  runs here. */
carve_status carve__plate_search(carve_ctx *ctx, carve__text_ahead *ahead, const carve_image *orig,
                                 const carve_image *work, double sx, double sy, const carve__box *regions, int nreg,
                                 bool neural, carve__plate_hit **hits, int *n, json_t *details);

#endif
