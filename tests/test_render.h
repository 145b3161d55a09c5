/* test_render.h — SVG rendering for the tests, one copy: librsvg on a
 * cairo ARGB32 canvas at the document's pixel size (as users see it), and
 * the per-path coverage sum the partition checks use.  Needs librsvg and
 * cairo (rsvg_dep). */
#ifndef CARVE_TEST_RENDER_H
#define CARVE_TEST_RENDER_H

#include "test.h"

#include <cairo.h>
#include <librsvg/rsvg.h>
#include <stdbool.h>
#include <stdint.h>

/* alpha of a cairo ARGB32 pixel */
#define TU_ALPHA(p) ((int)((p) >> 24))

/* Renders svg on a transparent w x h canvas, antialiased or not; returns
 * cairo ARGB32 (premultiplied) pixels, rows packed, or NULL (librsvg's
 * reason on stderr) if librsvg refused the document. */
static inline uint32_t *tu_render_with(const char *svg, size_t len, int w, int h, bool antialias) {
    GError *err = NULL;
    RsvgHandle *hd = rsvg_handle_new_from_data((const guint8 *)svg, len, &err);
    if (!hd) {
        fprintf(stderr, "rsvg: %s\n", err ? err->message : "?");
        if (err) g_error_free(err);
        return NULL;
    }
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cairo_t *cr = cairo_create(s);
    if (!antialias) cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE); /* exact fills, no blended edge pixels */
    RsvgRectangle vp = {0, 0, w, h};
    gboolean ok = rsvg_handle_render_document(hd, cr, &vp, &err);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    uint32_t *out = NULL;
    if (ok) {
        out = malloc((size_t)w * h * 4);
        const uint8_t *d = cairo_image_surface_get_data(s);
        int stride = cairo_image_surface_get_stride(s);
        for (int y = 0; out && y < h; y++) memcpy(out + (size_t)y * w, d + (size_t)y * stride, (size_t)w * 4);
    } else if (err) {
        fprintf(stderr, "rsvg render: %s\n", err->message);
        g_error_free(err);
    }
    cairo_surface_destroy(s);
    g_object_unref(hd);
    return out;
}

/* tu_render_with, antialiased (librsvg's default) */
static inline uint32_t *tu_render(const char *svg, size_t len, int w, int h) {
    return tu_render_with(svg, len, w, h, true);
}

/* Sum over every fill <path> rendered alone of its coverage (the SVG must
 * have no gap-filler strokes): sum[i] in 0..255*k; NULL if one did not render. */
static inline int *tu_fill_coverage_sum(const char *svg, int w, int h) {
    int *sum = calloc((size_t)w * h, sizeof(int));
    const char *hdr_end = strchr(svg, '>') + 1;
    for (const char *p = svg; (p = strstr(p, "<path fill=\""));) {
        const char *e = strstr(p, "/>") + 2;
        size_t hl = (size_t)(hdr_end - svg), pl = (size_t)(e - p);
        char *doc = malloc(hl + pl + 16);
        memcpy(doc, svg, hl);
        memcpy(doc + hl, p, pl);
        memcpy(doc + hl + pl, "</svg>", 7);
        uint32_t *px = tu_render(doc, strlen(doc), w, h);
        free(doc);
        if (!px) {
            free(sum);
            return NULL;
        }
        for (int i = 0; i < w * h; i++) sum[i] += TU_ALPHA(px[i]);
        free(px);
        p = e;
    }
    return sum;
}

#endif
