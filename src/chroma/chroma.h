/* chroma.h — phase 3 internals beyond the public API (carve_quantize,
 * carve_palette_*, carve_upscale in carve.h).  The pipeline may include this
 * header; other phases must not. */
#ifndef CARVE_CHROMA_H
#define CARVE_CHROMA_H
#include "core.h"

/* ---- palettes (palette.c) ------------------------------------------------ */
struct carve_palette {
    char *name;
    int n;
    uint32_t rgb[CARVE_PALETTE_MAX];
    char *names[CARVE_PALETTE_MAX]; /* NULL = unnamed */
};

/** Index of rgb in pal, or -1. */
int carve__palette_find(const carve_palette *pal, uint32_t rgb);

/** The palette a run should use, from the options: option palette (built-in
 *  name, file or inline "#rrggbb,#rrggbb" list) when set, else option colors
 *  colours chosen from img with option lock kept exactly.  img is only read
 *  when the palette comes from the image. */
carve_status carve__chroma_palette_from_options(carve_ctx *ctx, const carve_image *img, carve_palette **out);

/** Upscale factor the options upscale / upscale_to ask for an image of w x h
 *  (1 = none; at most 8). */
double carve__chroma_upscale_factor(const carve_ctx *ctx, int w, int h);

/* index maps are core label images (uint16_t): 0..255 palette entries, or
 * CARVE__LABEL_VOID for a transparent pixel */

/* ---- exact mapping (map.c) ----------------------------------------------- */
/** Precomputed palette for exact minimum-CIEDE2000 search. */
typedef struct carve__lab_pal {
    int n;
    double lab[CARVE_PALETTE_MAX][3];
    double chroma[CARVE_PALETTE_MAX]; /* hypot(a, b) */
    /* the same, one array per component (vectorisable bound loops) */
    double L[CARVE_PALETTE_MAX], A[CARVE_PALETTE_MAX], B[CARVE_PALETTE_MAX];
} carve__lab_pal;

void carve__lab_pal_init(carve__lab_pal *lp, const double (*lab)[3], int n);
/** Index of the entry of least CIEDE2000 to lab (ties: lower index), exactly
 *  as a brute-force scan with carve_ciede2000 would give; hint is an index
 *  tried first (-1: none), it changes only the speed. */
int carve__lab_pal_nearest(const carve__lab_pal *lp, const double lab[3], int hint);
/** Plain brute force (the reference the tests compare with). */
int carve__lab_pal_nearest_brute(const carve__lab_pal *lp, const double lab[3]);
/** Number of exact CIEDE2000 evaluations made by carve__lab_pal_nearest since
 *  start (statistics for the benchmark; relaxed atomics). */
uint64_t carve__map_evals(void);

/** Maps every pixel of in to a palette index (0..n-1), CARVE__LABEL_VOID
 *  for alpha < 128; idx has w*h entries.  Memoised per distinct colour,
 *  parallel, exact. */
carve_status carve__map_indices(carve_ctx *ctx, const carve_image *in, const carve__lab_pal *lp, uint16_t *idx);

/* ---- post-processing (clean.c) ------------------------------------------- */
/** Floyd-Steinberg error diffusion (serpentine) into idx. */
carve_status carve__dither_fs(carve_ctx *ctx, const carve_image *in, const carve__lab_pal *lp,
                              const uint32_t *rgb, uint16_t *idx);
/** Mode filter of the given radius over opaque indices (transparent stays). */
carve_status carve__majority(carve_ctx *ctx, uint16_t *idx, int w, int h, int n, int radius);
/* Speckle removal (option min_region) is carve__merge_small_regions (core.h)
 * on the index map: transparent pixels are CARVE__LABEL_VOID. */
/** Edge-preserving smoothing (domain-transform recursive filter, Gastal &
 *  Oliveira 2011) of the RGB of img in place; strength 0..10. */
carve_status carve__smooth(carve_ctx *ctx, carve_image *img, double strength);

#endif
