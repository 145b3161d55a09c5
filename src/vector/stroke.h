/* stroke.h — stroked line layers of phase 4 (docs/vector.md, "Strokes").
 *
 * Two sources of lines become stroked open (or closed) paths in the
 * geometry IR, drawn on top of the fills (VEC_ROLE_OUTLINE, round joins and
 * caps, one palette colour):
 *   - the outline layer: an edge map (the pipeline passes steer's Canny map,
 *     one byte per pixel at the traced image's size);
 *   - centreline mode (option centerline): thin lines of the darkest colour
 *     of the traced image, taken out of the fills and drawn as strokes of
 *     their measured width.
 * Both go mask -> skeleton (Zhang-Suen, skeleton.c) -> pixel graph ->
 * polylines linked through junctions (skeleton.c) -> smoothed, fitted
 * (stroke.c) -> IR stroke items.  Everything here is sequential and walks
 * pixels in raster order, so the result does not depend on the thread
 * count.
 */
#ifndef CARVE_VECTOR_STROKE_H
#define CARVE_VECTOR_STROKE_H
#include "vector.h"

/* ---- masks and skeletons (skeleton.c) -------------------------------------- */

/* squared Euclidean distance (px^2) of every pixel to the nearest pixel where
 * m is 0 (outside the image counts as 0 when `border`, else as far away:
 * then a mask without any 0 gives about 1e30).  max_d > 0: exact only up to
 * max_d, larger distances are some value > max_d^2 (a banded row pass, much
 * faster for the small radii of the stroke layers).  0 or -1 on OOM */
int carve__vec_edt(const uint8_t *m, int w, int h, bool border, double max_d, float *d2);

/* thins m (0/1 per pixel) in place to a one-pixel, 8-connected skeleton:
 * Zhang-Suen, then pixels that 8-connectivity does not need are dropped
 * (staircase corners), so a line pixel has exactly two neighbours; 0 or -1 */
int carve__vec_thin(uint8_t *m, int w, int h);

/* 8-connected components of m (non-zero) in raster order of their first
 * pixel: comp[i] = id or -1; returns the count, -1 on OOM */
int32_t carve__vec_components8(const uint8_t *m, int w, int h, int32_t *comp);

/* Polylines in px (pixel centres at +0.5), chains of skeleton edges linked
 * through junctions where two of them continue each other. */
typedef struct vec_polyline {
    int64_t off;     /* xy[2*off .. 2*(off+n)) */
    int32_t n;       /* points */
    int32_t comp;    /* component of the source mask */
    uint8_t closed;  /* a loop: the last point joins the first */
    uint8_t ends;    /* free ends (0, 1 or 2) at skeleton end points */
} vec_polyline;

typedef struct vec_polylines {
    double *xy;
    int64_t npt, ptcap;
    vec_polyline *pl;
    int64_t n, cap;
} vec_polylines;
void carve__vec_polylines_free(vec_polylines *p);

/* traces skeleton sk (w x h, 0/1) into polylines; comp: the component of
 * each pixel (for vec_polyline.comp); spurs (a branch from a junction to a
 * free end) shorter than spur_px are dropped; 0 or -1 on OOM */
int carve__vec_trace_skeleton(const uint8_t *sk, const int32_t *comp, int w, int h, double spur_px,
                              vec_polylines *out);

/* ---- the stroke set (stroke.c, centerline.c) ------------------------------ */

/* polylines with their colour (label index) and width (px), ready to fit */
typedef struct vec_strokes {
    vec_polylines lines;
    float *width;        /* per polyline */
    uint16_t *color;     /* per polyline: index into the labels' colours */
    uint8_t *role_cl;    /* per polyline: 1 = centreline, 0 = outline */
    int64_t cap;
    int64_t n_outline, n_centerline; /* polylines kept of each kind */
    double cl_width;     /* centreline: median width of its polylines (px), 0 if none */
} vec_strokes;
void carve__vec_strokes_free(vec_strokes *s);
/* appends polyline k of src with its width, colour and kind; 0 or -1 */
int carve__vec_strokes_add(vec_strokes *s, const vec_polylines *src, int64_t k, float width, uint16_t color, bool cl);

/* index of the darkest (lowest CIE L*) colour of l; -1 when there is none */
int carve__vec_darkest(const vec_labels *l);

/* Centreline mode: finds the thin lines (at most about max_w px wide) of
 * the darkest colour, appends them to s (width: measured, or `width` > 0)
 * and gives their pixels to the neighbouring colours in l (so the fills do
 * not draw them again). */
carve_status carve__vec_centerline(carve_ctx *ctx, vec_labels *l, double max_w, double width, vec_strokes *s);

/* The outline layer: the edge map (w x h of l, non-zero = edge) as strokes
 * of `width` px in the darkest colour of l; transparent pixels ignored. */
carve_status carve__vec_outline(carve_ctx *ctx, const vec_labels *l, const uint8_t *edges, double width,
                                vec_strokes *s);

/* Fits every polyline of s (options mode, corner_threshold,
 * trace_tolerance, path_precision) and appends stroke items (one per colour
 * and width, in order of first use) to g; CARVE_ERR_NOMEM on failure. */
carve_status carve__vec_add_strokes(carve_ctx *ctx, const vec_strokes *s, vec_geom *g);

/* Statistics of the stroke layers of one trace, for the run report. */
typedef struct vec_stroke_stats {
    int64_t outline_paths, centerline_paths;
    double centerline_width; /* median measured width (px) */
    uint32_t color;          /* 0xRRGGBB of the strokes */
    bool excluded_by_cut;    /* cut mode: stroke layers were asked for and left out */
} vec_stroke_stats;

/* The stroke layers the options ask for (centerline, outline_width,
 * centerline_max_width; edges: the outline edge map or NULL), before the
 * speckle filter: centreline pixels leave l.  Cut mode: none (stats say
 * they were excluded).  stats may be NULL. */
carve_status carve__vec_stroke_layers(carve_ctx *ctx, vec_labels *l, const uint8_t *edges, vec_strokes *s,
                                      vec_stroke_stats *stats);

/* carve__vec_trace_doc with an optional outline edge map (NULL = none; the
 * input's size) and optional statistics (NULL = not wanted) (trace.c) */
carve_status carve__vec_trace_doc_ex(carve_ctx *ctx, const carve_image *in, double disp_w, double disp_h,
                                     const uint8_t *outline, vec_stroke_stats *stats, char **doc, size_t *len);
/* carve__vec_trace_doc_ex in curve mode `mode` (VEC_MODE_*) instead of option
 * mode: the pipeline's fallback to simpler modes passes the mode, it never
 * changes the caller's options (trace.c) */
carve_status carve__vec_trace_doc_mode(carve_ctx *ctx, const carve_image *in, double disp_w, double disp_h, int mode,
                                       const uint8_t *outline, vec_stroke_stats *stats, char **doc, size_t *len);

#endif
