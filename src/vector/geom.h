/* geom.h — the geometry IR every writer (SVG, PDF, EPS, DXF) consumes.
 *
 * The traced result (labels + topology + fitted chains) is turned into this
 * once (geom.c); the writers only walk it, so they draw the same shapes in
 * the same order with the same colours.
 *
 *   vec_geom
 *     items[]   in drawing order (first = bottom):
 *       VEC_ITEM_FILL    one region: palette colour, its closed subpaths
 *       VEC_ITEM_STROKE  a set of stroked subpaths (open or closed) with a
 *                        colour, width, cap and role (gap filler, outline,
 *                        cut contour)
 *     paths[]   subpaths: start point + a run of segs[]
 *     segs[]    line | cubic | (reserved) arc
 *
 * Coordinates are integers in units of 1/unit px (unit = 10^path_precision),
 * y down, origin top-left of the w x h pixel canvas: a boundary shared by two
 * regions has exactly the same numbers on both sides.  Ownership: vec_geom
 * owns its arrays; carve__vec_geom_free releases them.
 */
#ifndef CARVE_VECTOR_GEOM_H
#define CARVE_VECTOR_GEOM_H
#include "core.h"

enum {
    VEC_SEG_LINE = 0,  /* p[0..1]: end point */
    VEC_SEG_CUBIC = 1, /* p[0..1], p[2..3]: control points; p[4..5]: end point */
    VEC_SEG_ARC = 2    /* elliptical arc, SVG's endpoint parameterization: p[0..1] end
                        * point; p[2], p[3] radii rx, ry (coordinate units); p[4]
                        * x-axis rotation in millidegrees [0, 180000); p[5] flags
                        * (VEC_ARC_LARGE, VEC_ARC_SWEEP) */
};
#define VEC_ARC_LARGE 1 /* the arc spans more than 180 degrees */
#define VEC_ARC_SWEEP 2 /* the angle increases (clockwise on the y-down canvas) */
#define VEC_ARC_ROT_UNIT 1000.0 /* rotation units per degree */

typedef struct vec_gseg {
    int64_t p[6];
    uint8_t kind; /* VEC_SEG_* */
} vec_gseg;

/* end point of a segment */
static inline int64_t vec_gseg_ex(const vec_gseg *s) { return s->p[s->kind == VEC_SEG_CUBIC ? 4 : 0]; }
static inline int64_t vec_gseg_ey(const vec_gseg *s) { return s->p[s->kind == VEC_SEG_CUBIC ? 5 : 1]; }

typedef struct vec_gpath {
    int64_t sx, sy;   /* start point */
    int64_t seg_off;  /* segs[seg_off .. seg_off + nseg) */
    int32_t nseg;
    uint8_t closed;   /* ends with a close (back to the start) */
} vec_gpath;

enum { VEC_ITEM_FILL = 0, VEC_ITEM_STROKE = 1 };
enum { VEC_ROLE_FILL = 0, VEC_ROLE_GAP = 1, VEC_ROLE_OUTLINE = 2, VEC_ROLE_CUT = 3 };
enum { VEC_CAP_ROUND = 0, VEC_CAP_BUTT = 1 };
#define VEC_COLOR_SPOT 0xFFFFu /* stroke in the CutContour spot colour, not a palette colour */

typedef struct vec_item {
    uint8_t kind;        /* VEC_ITEM_* */
    uint8_t role;        /* VEC_ROLE_* */
    uint8_t cap;         /* strokes: VEC_CAP_*; joins are always round */
    uint8_t self_stroke; /* fills: its outline is also stroked, under the fill,
                          * with geom.gap_width (the gap filler of the colour
                          * drawn first) */
    uint16_t color;      /* palette index, or VEC_COLOR_SPOT */
    int32_t region;      /* fills: the region (topology id); strokes: -1 */
    double width;        /* strokes: width in px */
    int64_t path_off;    /* paths[path_off .. path_off + npath) */
    int64_t npath;
    uint8_t of_fills;    /* gap strokes: the subpaths are exactly those of the
                          * fill items of `color`, in order (a writer that can
                          * reference geometry, SVG <use>, draws them from the
                          * fills instead of repeating them) */
} vec_item;

typedef struct vec_geom {
    int w, h;            /* canvas in px */
    int prec;            /* path_precision */
    int64_t unit;        /* 10^prec coordinate units per px */
    int ncolors;
    uint32_t colors[256]; /* 0xRRGGBB by palette index */
    double gap_width;    /* width (px) of the self stroke of a fill */
    vec_gseg *segs;
    int64_t nsegs, segcap;
    vec_gpath *paths;
    int64_t npaths, pathcap;
    vec_item *items;
    int64_t nitems, itemcap;
} vec_geom;

void carve__vec_geom_free(vec_geom *g);

/* An arc in centre form (SVG 1.1 implementation notes F.6.5, radii scaled
 * up by F.6.6 when too small for the end points): centre, radii and
 * rotation (radians), start angle and signed sweep (radians), all in
 * coordinate units.  false: the arc is drawn as a straight line (equal end
 * points or a zero radius). */
typedef struct vec_arc {
    double cx, cy, rx, ry, phi, th1, dth;
} vec_arc;
bool carve__vec_arc_center(double x0, double y0, const int64_t *p, vec_arc *a);
/* the arc from (x0, y0) as n <= VEC_ARC_MAX_CUBICS cubics of at most 90
 * degrees each (radial error <= 2.7e-4 of the radius), out[i] = c1, c2, end
 * in coordinate units; returns n, 0 for a straight line */
#define VEC_ARC_MAX_CUBICS 4
int carve__vec_arc_cubics(double x0, double y0, const int64_t *p, double out[VEC_ARC_MAX_CUBICS][6]);

/* builder helpers (geom.c): 0 or -1 on OOM */
int carve__vec_geom_reserve(vec_geom *g, int64_t nsegs, int64_t npaths, int64_t nitems); /* capacity hint */
int carve__vec_geom_item(vec_geom *g, const vec_item *it);        /* appends an item with no paths yet */
int carve__vec_geom_path(vec_geom *g, int64_t sx, int64_t sy);    /* opens a subpath in the last item */
int carve__vec_geom_seg(vec_geom *g, const vec_gseg *s);          /* appends to the last subpath */
void carve__vec_geom_close(vec_geom *g);                          /* closes the last subpath */

#endif
