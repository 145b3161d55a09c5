/* ops.h — page content shared by the PDF and EPS writers (ops.c). */
#ifndef CARVE_VECTOR_OPS_H
#define CARVE_VECTOR_OPS_H
#include "vector.h"

/* Appends the items of g as content operators to b: PDF (ps false) or the
 * PostScript procedures the EPS prolog defines (ps true).  page_h_pt: page
 * height in points (y is flipped). */
carve_status carve__vec_ops_content(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, bool ps,
                                    double page_h_pt, carve__buf *b);
/* g has outline / centreline strokes (group_by layer: their own PDF optional
 * content group "strokes") */
bool carve__vec_ops_has_strokes(const vec_geom *g);

#endif
