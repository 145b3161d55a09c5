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

/** An oriented rectangle: centre, size along/across its angle, and the
 *  angle in degrees, counter-clockwise as seen on screen (y points down). */
typedef struct carve__obox {
    double cx, cy, w, h, deg;
} carve__obox;

enum { CARVE__PANEL_RECT = 0, CARVE__PANEL_ELLIPSE };

/** One region to erase as a flat panel (see panel.c). */
typedef struct carve__panel {
    carve__obox r; /* the detection's shape (image pixels) */
    double grow;   /* px added on every side (the plate's frame) */
    int shape;     /* CARVE__PANEL_* */
    bool from_inside; /* colour from inside r (a text panel's background), not from a ring around it */
    /* out: the fill colour (0xRRGGBB) from the ring around the panel;
     * has_colour false (panel left unpainted) when the ring held no
     * opaque pixel */
    uint32_t rgb;
    bool has_colour;
} carve__panel;

/** Fills each panel (rectangle or ellipse, grown, edge softened over 1.5 px)
 *  with the dominant colour of a ring around it, measured on img (not on
 *  other panels' fills).  Writes p[i].rgb/has_colour.  *out is a new image;
 *  alpha is unchanged.  Progress stage "panel", cancellable. */
carve_status carve__fill_panels(carve_ctx *ctx, const carve_image *img, carve__panel *p, int n, carve_image **out);
/** Tilt of the text or plate in box b (deg, counter-clockwise), from the
 *  directions of its edges (strokes and frame agree modulo 90 deg); 0 when
 *  the box has no dominant direction or the estimate exceeds 40 deg. */
double carve__text_angle(const carve_image *img, const carve__box *b);
/** The rectangle at angle deg whose bounds are b (b itself below 2 deg). */
carve__obox carve__obox_in_box(const carve__box *b, double deg);
/** Axis-aligned bounds of o grown by grow px, clipped to W x H. */
void carve__obox_bounds(const carve__obox *o, double grow, int W, int H, carve__box *b);
/** Estimated head (an upright ellipse's bounds) of a person's box: see
 *  docs/sanitize.md, "Faces". */
carve__obox carve__head_of_person(const carve__box *person);

#endif
