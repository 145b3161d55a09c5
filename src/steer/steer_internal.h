/* steer_internal.h — helpers shared by the files of the steer phase only
 * (max-flow, box filters, resampling).  Never included outside src/steer. */
#ifndef CARVE_STEER_INTERNAL_H
#define CARVE_STEER_INTERNAL_H
#include "steer.h"

/* ---- max-flow / min-cut (Boykov-Kolmogorov) ------------------------------
 * A graph with n nodes; terminal capacities per node and undirected-pair
 * edges with a capacity in each direction.  Capacities are float. */
typedef struct carve__mf carve__mf;
/** A graph for n nodes and at most max_edges pair edges; NULL on OOM. */
carve__mf *carve__mf_create(int n, int64_t max_edges);
void carve__mf_destroy(carve__mf *g);
/** Adds capacities source->i (cap_s) and i->sink (cap_t); both >= 0. */
void carve__mf_tweights(carve__mf *g, int i, float cap_s, float cap_t);
/** Adds an edge i<->j with capacity cap_ij (i->j) and cap_ji (j->i). */
void carve__mf_edge(carve__mf *g, int i, int j, float cap_ij, float cap_ji);
/** Computes the max flow.  If ctx is not NULL the computation checks
 *  cancellation and returns CARVE_ERR_CANCELLED.  *flow may be NULL. */
carve_status carve__mf_solve(carve__mf *g, carve_ctx *ctx, double *flow);
/** After solve: true if node i is on the source side of the minimum cut. */
bool carve__mf_source_side(const carve__mf *g, int i);

/* ---- float planes ----------------------------------------------------------- */
/** Box mean of radius r (window (2r+1)^2 clipped at the borders) of a w*h
 *  float plane into out (may not alias src).  tmp needs w*h floats. */
void carve__steer_boxmean(const float *src, float *out, float *tmp, int w, int h, int r, int threads);
/** Area-average (down) or bilinear (up) resample of an RGBA8 image to dw x dh. */
carve_image *carve__steer_resize(const carve_image *img, int dw, int dh);

#endif
