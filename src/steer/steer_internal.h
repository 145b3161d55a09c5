/* steer_internal.h — helpers shared by the files of the steer phase only
 * (max-flow, box filters, resampling).  Never included outside src/steer. */
#ifndef CARVE_STEER_INTERNAL_H
#define CARVE_STEER_INTERNAL_H
#include "steer.h"

/* ---- max-flow / min-cut (Boykov-Kolmogorov) on an 8-connected grid ------
 * Node i = y * w + x.  Directions d: 0 E, 1 SE, 2 S, 3 SW, 4 W, 5 NW, 6 N,
 * 7 NE (opposite = d ^ 4).  Integer capacities (exact, deterministic). */
typedef struct carve__mf carve__mf;
/** A w x h grid graph with all capacities 0; NULL on OOM or bad size. */
carve__mf *carve__mf_create(int w, int h);
void carve__mf_destroy(carve__mf *g);
/** Adds capacities source->i (cap_s) and i->sink (cap_t); both >= 0. */
void carve__mf_tweights(carve__mf *g, int i, int32_t cap_s, int32_t cap_t);
/** Sets the arc from i to its neighbour in direction d (cap_fwd) and back
 *  (cap_back); ignored if that neighbour is outside the grid. */
void carve__mf_edge(carve__mf *g, int i, int d, int32_t cap_fwd, int32_t cap_back);
/** Computes the max flow.  If ctx is not NULL the computation checks
 *  cancellation and returns CARVE_ERR_CANCELLED.  *flow may be NULL. */
carve_status carve__mf_solve(carve__mf *g, carve_ctx *ctx, int64_t *flow);
/** After solve: true if node i is on the source side of the minimum cut. */
bool carve__mf_source_side(const carve__mf *g, int i);

/* ---- float planes ----------------------------------------------------------- */
/** Box mean of radius r (window (2r+1)^2 clipped at the borders) of a w*h
 *  float plane into out (out may be src; tmp may not).  tmp needs w*h floats. */
void carve__steer_boxmean(const float *src, float *out, float *tmp, int w, int h, int r, int threads);
/** The column pass alone: each of the cols columns of a cols*h float array
 *  (interleaved channels are columns of their own) replaced by its mean over
 *  rows y-r..y+r clipped at the borders; out may not be src. */
void carve__steer_boxmean_cols(const float *src, float *out, int cols, int h, int r, int threads);

#endif
