/* subject.h — choosing the subject (the vehicle(s) the illustration is of)
 * from the object detector's boxes and option subject.  Pipeline-internal. */
#ifndef CARVE_PIPELINE_SUBJECT_H
#define CARVE_PIPELINE_SUBJECT_H
#include "core.h"

#include <jansson.h>

/** True for the vehicle classes ("car", "bus", "truck", "motorcycle",
 *  "bicycle", "train"). */
bool carve__is_vehicle(const char *kind);

/** Criteria of one detection, for the choice and the report. */
typedef struct carve__subject_score {
    double area;       /* box area / image area */
    double centrality; /* 1 at the centre, 0 at a corner */
    double sharpness;  /* mean |Laplacian| in the box / the best detection's (0..1) */
    double prominence; /* score x area x (0.5 + 0.5 centrality) x (0.6 + 0.4 sharpness) */
} carve__subject_score;

/** Chooses the subject among det[0..n) (work pixels, any classes) for the
 *  parsed option spec (already in work pixels): auto, all (at most
 *  max_subjects, *capped = how many were left out), point (the smallest
 *  vehicle box containing it; none: *nsub = 0) or box (the box itself, kind
 *  "user").  sc[n] receives every detection's criteria; chosen[n] is set for
 *  the chosen ones.  *sub malloc'd (NULL when *nsub == 0); *why explains. */
carve_status carve__subject_choose(carve_ctx *ctx, const carve_image *img, const carve__box *det, int n,
                                   const carve__subject_spec *spec, int max_subjects, carve__subject_score *sc,
                                   bool *chosen, carve__box **sub, int *nsub, int *capped, char *why, size_t whylen);

/** The same vehicle: boxes nearly equal, or one inside the other with a
 *  similar size (a "car" and a "truck" box on one vehicle). */
bool carve__subject_same(const carve__box *a, const carve__box *b);

/** Person boxes among det standing in front of a subject box: overlapping
 *  it by >= 15 % of the person's box, feet (box bottom) in the bottom 12 %
 *  of the vehicle's box or lower (passengers behind windows and people
 *  behind the vehicle end higher).  Indices into det written to idx (n
 *  entries available); returns how many. */
int carve__subject_occluders(const carve__box *det, int n, const carve__box *sub, int nsub, int *idx);

#endif
