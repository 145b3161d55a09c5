/* vector.h — phase 4 internals beyond the public API (carve_trace).
 *
 * Data flow inside carve_trace:
 *   labels (colour index per pixel, VOID for alpha < 128)
 *   -> speckle filter (small regions merged into the most similar neighbour)
 *   -> regions (4-connected components)
 *   -> topology (boundary chains on the pixel-corner lattice, rings per region)
 *   -> fitting (each chain once: pixel | polygon | spline, quantized)
 *   -> geometry IR (geom.h, build.c: fill items per region in drawing order,
 *      gap-filler strokes), built once
 *   -> a writer (svg.c) walks the IR
 */
#ifndef CARVE_VECTOR_H
#define CARVE_VECTOR_H
#include "core.h"
#include "geom.h"

/* A label image (core's): colour index per pixel, CARVE__LABEL_VOID (alpha
 * < 128) = no fill. */
typedef struct vec_labels {
    int w, h;
    uint16_t *lab;
    int ncolors;
    uint32_t colors[256]; /* 0xRRGGBB, sorted ascending */
} vec_labels;

/* Builds labels from RGBA.  CARVE_ERR_TOO_MANY_COLORS if more than max_colors
 * distinct opaque colours. */
carve_status carve__vec_labels(carve_ctx *ctx, const carve_image *in, int max_colors, vec_labels *out);
void carve__vec_labels_free(vec_labels *l);

/* Regions (4-connected components of equal opaque labels) and the speckle
 * filter are core's carve__components and carve__merge_small_regions on
 * vec_labels.lab. */

/* ---- topology ------------------------------------------------------------ */
typedef struct vec_seg {
    int64_t p[6];  /* quantized, as vec_gseg (geom.h): line end; cubic c1, c2, end; arc */
    uint8_t kind;  /* VEC_SEG_* */
} vec_seg;

/* an ellipse found in the region boundaries (shape.c): centre, semi-axes
 * a >= b, and the direction of a (radians, y down); px */
typedef struct vec_ellipse {
    double cx, cy, a, b, phi;
} vec_ellipse;

typedef struct vec_chain {
    int32_t left, right;   /* region on the left / right when walking forward (-1 = void) */
    uint32_t v0, v1;       /* start / end vertex (lattice index y*(w+1)+x) */
    uint8_t d0, d1;        /* direction leaving v0, direction arriving at v1 */
    uint8_t closed;        /* a loop without junction (v0 == v1) */
    uint8_t border;        /* lies on the canvas border (other side is outside) */
    int64_t off, n;        /* lattice points pts[off .. off+n] (n edges) */
    int64_t shoelace;      /* sum of x_i*y_{i+1} - x_{i+1}*y_i over the edges */
    /* fitted geometry (quantized to the output grid) */
    int64_t sx, sy;        /* start point */
    vec_seg *seg;
    int32_t nseg;
    int32_t ell;           /* 1 + index into vec_topo.ell when the chain lies on a found ellipse, else 0 */
} vec_chain;

typedef struct vec_topo {
    int w, h;
    int32_t nreg;
    int32_t *reg;          /* region per pixel (-1 void) */
    uint16_t *reg_color;   /* colour index per region */
    int64_t *reg_area;
    int32_t *pts;          /* lattice points (x, y pairs) of all chains */
    int64_t npts;
    vec_chain *chains;
    int64_t nchains;
    /* rings: ring r has uses ring_use[ring_off[r] .. ring_off[r+1]); a use is
     * chain << 1 | reversed.  Region g has rings reg_ring_off[g] .. [g+1). */
    int64_t *uses;
    int64_t *ring_off;
    int64_t nrings;
    int64_t *reg_ring_off;
    int64_t *ring_shoelace; /* doubled signed area in lattice units (< 0: outer ring) */
    vec_ellipse *ell;       /* ellipses found by carve__vec_find_shapes */
    int32_t nell;
    /* junctions moved onto an ellipse (so that its arcs meet there exactly),
     * ascending by vertex: snap_v[i] is at (snap_xy[2i], snap_xy[2i+1]) px */
    uint32_t *snap_v;
    double *snap_xy;
    int64_t nsnap;
} vec_topo;

carve_status carve__vec_topology(carve_ctx *ctx, const vec_labels *l, vec_topo *t);
void carve__vec_topo_free(vec_topo *t);

/* ---- true shapes (shape.c) ------------------------------------------------ */
/* Finds the rings that are ellipses within tol px of their pixel boundary
 * (docs/vector.md, "True shapes"), marks their chains (vec_chain.ell) and
 * moves their junctions onto them; sequential, before fitting.  0 or -1 (OOM). */
int carve__vec_find_shapes(vec_topo *t, double tol);
/* point of e at parameter angle th; parameter angle of (x, y) */
void carve__vec_ellipse_point(const vec_ellipse *e, double th, double *x, double *y);
double carve__vec_ellipse_angle(const vec_ellipse *e, double x, double y);
/* position of lattice vertex v (a chain end): moved onto an ellipse, or the vertex */
void carve__vec_vertex_pos(const vec_topo *t, uint32_t v, double *x, double *y);
/* approximate (first-order) signed distance of (x, y) to e, px (> 0 outside) */
double carve__vec_ellipse_dist(const vec_ellipse *e, double x, double y);

/* ---- fitting ------------------------------------------------------------- */
enum { VEC_MODE_PIXEL = 0, VEC_MODE_POLYGON = 1, VEC_MODE_SPLINE = 2 };
typedef struct vec_fit_params {
    int mode;
    double corner_deg, length_px, splice_deg;
    double scale;           /* 10^path_precision */
    double poly_eps;        /* polygon tolerance (px) */
    double fit_tol;         /* spline tolerance (px) */
} vec_fit_params;

/* Scratch memory reused across the chains one worker fits. */
typedef struct vec_scratch {
    uint8_t *buf;
    size_t cap, used;
    struct vec_seg *seg; /* segments of the chain being fitted (copied out exactly sized) */
    int32_t segcap;
} vec_scratch;
void carve__vec_scratch_free(vec_scratch *sc);

/* Fits chain c of t (writes c->sx, c->sy, c->seg, c->nseg).  0 or -1 on OOM. */
int carve__vec_fit_chain(const vec_topo *t, vec_chain *c, const vec_fit_params *p, vec_scratch *sc);

/* ---- geometry IR and writers ---------------------------------------------- */

typedef struct vec_build_params {
    int precision;
    bool stacked, gap_filler;
    double stroke_width;  /* gap filler width (px) */
    bool cut_contour;     /* add the CutContour stroke (cut mode) */
    double cut_width;     /* its width (px) */
} vec_build_params;

/* start point of a chain use; appends a chain use's segments (reversed:
 * cubics' control points swapped) to g's last subpath, 0 or -1 (build.c) */
void carve__vec_use_start(const vec_chain *c, bool rev, int64_t *x, int64_t *y);
int carve__vec_geom_add_use(vec_geom *g, const vec_chain *c, bool rev);
/* Builds the IR from the fitted topology (build.c).  On failure g is empty. */
carve_status carve__vec_build_geom(carve_ctx *ctx, const vec_labels *l, const vec_topo *t, const vec_build_params *p,
                                   vec_geom *g);

enum { VEC_FMT_SVG = 0, VEC_FMT_PDF = 1, VEC_FMT_EPS = 2, VEC_FMT_DXF = 3 };
enum { VEC_GROUP_NONE = 0, VEC_GROUP_COLOR = 1, VEC_GROUP_LAYER = 2 };

/* How a document is written (out.c resolves it from the options). */
typedef struct vec_out_params {
    int format;          /* VEC_FMT_* */
    int group_by;        /* VEC_GROUP_* */
    /* physical size: the canvas (geom w x h px) is shown as doc_w x doc_h in
     * `unit` ("" = unitless CSS px, SVG only) */
    double doc_w, doc_h;
    char unit[4];
    double mm_per_px;    /* physical size of one canvas px */
} vec_out_params;

#define VEC_CUT_SPOT_NAME "CutContour"
#define VEC_GAP_WIDTH_PX 2.0  /* gap-filler stroke width */
#define VEC_CUT_WIDTH_MM 0.25 /* CutContour stroke width */

/* format, grouping and size from the options; the canvas (w x h px) shows
 * disp_w x disp_h px of the original (0: w x h) (out.c) */
carve_status carve__vec_out_params(carve_ctx *ctx, int w, int h, double disp_w, double disp_h, vec_out_params *o);
/* writes g in o->format */
carve_status carve__vec_write(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len);

/* carve_trace with a display size (the pipeline traces at work size and
 * shows the input's size); *doc in option format (trace.c) */
carve_status carve__vec_trace_doc(carve_ctx *ctx, const carve_image *in, double disp_w, double disp_h, char **doc,
                                  size_t *len);

/* cut mode (cut.c): features thinner than option min_feature merged into
 * their neighbours (morphological opening per colour, then the core region
 * merge); the outer contour of the opaque shapes as CutContour strokes */
carve_status carve__vec_cut_filter(carve_ctx *ctx, vec_labels *lab, double mm_per_px);
int carve__vec_add_cut_contour(const vec_topo *t, const vec_build_params *p, vec_geom *g);

carve_status carve__vec_write_svg(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len);
carve_status carve__vec_write_pdf(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len);
carve_status carve__vec_write_eps(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len);
carve_status carve__vec_write_dxf(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len);

#endif
