/*
 * core.h — libcarve internals shared by every phase (never installed).
 *
 * Phases include this header and nothing of each other; the pipeline
 * composes phases.  Internal names start with carve__ (two underscores).
 */
#ifndef CARVE_CORE_H
#define CARVE_CORE_H

#include "carve.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carve_util.h" /* CARVE_PRINTF, carve__buf, carve__utf8_valid, carve__now (src/util) */

/* ---- options ---------------------------------------------------------- */
typedef enum carve_optid {
#define CARVE_OPTION(key, type, def, min, max, choices, help) CARVE_OPTID_##key,
#include "schema/core.def"
#include "schema/trace.def"
#include "schema/chroma.def"
#include "schema/run.def"
#include "schema/nn.def"
#undef CARVE_OPTION
    CARVE_OPTID__COUNT
} carve_optid;
/* CARVE__<KEY>_<VALUE>: the stored value of each ENUM option's choices
 * (carve__opt_enum), generated from the schema rows at build time. */
#include "optenums.h"

typedef union carve_optval {
    int64_t i;   /* INT, BOOL (0/1), ENUM (index into choices) */
    double f;    /* FLOAT */
    char *s;     /* STRING (owned, never NULL) */
} carve_optval;

/* ---- context ---------------------------------------------------------- */
struct carve_ctx {
    carve_optval opt[CARVE_OPTID__COUNT];
    char errmsg[1024];
    carve_progress_fn progress;
    void *progress_user;
    carve_log_fn log;
    void *log_user;
    atomic_int cancelled;
    /* progress sub-range: reported = lo + f * (hi - lo) */
    double prog_lo, prog_hi;
    double prog_last;
    int prog_depth; /* nesting of carve__progress_push */
    /* results of the last top-level call, made and read by a higher layer
     * (the pipeline: report, intermediates); core only frees them */
    void *results;
    void (*results_free)(void *results);
};

/* options.c: a ctx's option values (defaults), freed, copied */
carve_status carve__options_init(carve_ctx *ctx);
void carve__options_free(carve_ctx *ctx);
carve_status carve__options_copy(carve_ctx *dst, const carve_ctx *src);

/** Replaces ctx's results (freeing the old ones with their destructor). */
void carve__ctx_set_results(carve_ctx *ctx, void *results, void (*results_free)(void *results));

/** Sets ctx's message (printf-style) and returns status. */
carve_status carve__fail(carve_ctx *ctx, carve_status status, const char *fmt, ...) CARVE_PRINTF(3, 4);
/** Prefixes the current message: "prefix: old message". */
void carve__errprefix(carve_ctx *ctx, const char *fmt, ...) CARVE_PRINTF(2, 3);
void carve__clear_error(carve_ctx *ctx);
void carve__log(carve_ctx *ctx, int level, const char *fmt, ...) CARVE_PRINTF(3, 4);
/** A log line's longest text (bytes, with the NUL); longer lines are cut. */
#define CARVE__LOG_MAX 1024
/** Formats fmt/ap and hands the line to log(user, level, line); nothing when
 * log or fmt is NULL.  The one formatter behind carve__log, carve_ctx_log and
 * the tuner's log. */
void carve__vlog_to(carve_log_fn log, void *user, int level, const char *fmt, va_list ap) CARVE_PRINTF(4, 0);

int64_t carve__opt_int(const carve_ctx *ctx, carve_optid id);
double carve__opt_float(const carve_ctx *ctx, carve_optid id);
bool carve__opt_bool(const carve_ctx *ctx, carve_optid id);
const char *carve__opt_str(const carve_ctx *ctx, carve_optid id);
/** ENUM option: the chosen index. */
int carve__opt_enum(const carve_ctx *ctx, carve_optid id);
/** Effective thread count (option threads, 0 = cores), >= 1. */
int carve__threads(const carve_ctx *ctx);

/* ---- progress and cancellation ----------------------------------------
 * Report f in [0,1] of the current sub-range.  Returns CARVE_ERR_CANCELLED
 * (with the message set) if cancelled or the callback asked to stop; callers
 * propagate it.  Cheap: call it in outer loops. */
carve_status carve__progress(carve_ctx *ctx, double f, const char *stage);
/** True if cancellation was requested (no callback, no message). */
bool carve__cancelled(const carve_ctx *ctx);
typedef struct carve__range { double lo, hi; } carve__range;
/** Narrows progress to [a,b] of the current range; returns the old range. */
carve__range carve__progress_push(carve_ctx *ctx, double a, double b);
void carve__progress_pop(carve_ctx *ctx, carve__range saved);

/* ---- threads ------------------------------------------------------------
 * Runs fn(arg, i) for i in [0,n) on up to `threads` threads.  Items are
 * claimed dynamically; fn must write only data owned by item i so the result
 * does not depend on the thread count.  Returns after all items finished.
 * If fn returns non-zero the remaining items are skipped and the first
 * non-zero (lowest index among those seen) is returned. */
typedef int (*carve__task_fn)(void *arg, int64_t i);
int carve__parallel_for(int threads, int64_t n, carve__task_fn fn, void *arg);

/* ---- images ------------------------------------------------------------ */
struct carve_image {
    int w, h;
    uint8_t *px; /* RGBA */
};
/** Resamples to exactly w x h with libvips' vips_resize (premultiplied alpha,
 *  so transparent pixels' colours do not bleed; rounded to nearest).  kernel
 *  is a CARVE_KERNEL_* value: a value of option upscale_kernel, or AREA.
 *  CARVE_ERR_INVALID_ARG for an empty image/size, CARVE_ERR_BACKEND if libvips fails. */
enum {
    CARVE_KERNEL_NEAREST = CARVE__UPSCALE_KERNEL_NEAREST,
    CARVE_KERNEL_LINEAR = CARVE__UPSCALE_KERNEL_LINEAR,
    CARVE_KERNEL_CUBIC = CARVE__UPSCALE_KERNEL_CUBIC,
    CARVE_KERNEL_MITCHELL = CARVE__UPSCALE_KERNEL_MITCHELL,
    CARVE_KERNEL_LANCZOS2 = CARVE__UPSCALE_KERNEL_LANCZOS2,
    CARVE_KERNEL_LANCZOS3 = CARVE__UPSCALE_KERNEL_LANCZOS3,
    /* not an upscale_kernel choice; RGBA only: area average down, bilinear up
     * (no libvips, no premultiply) */
    CARVE_KERNEL_AREA = CARVE__UPSCALE_KERNEL__COUNT
};
carve_status carve__resize(carve_ctx *ctx, const carve_image *in, int w, int h, int kernel, carve_image **out);
/** A copy of the rectangle (x, y, w, h) of in, clipped to the image; NULL
 *  when the clipped rectangle is empty or memory runs out. */
carve_image *carve__crop(const carve_image *in, int x, int y, int w, int h);
/** Planes: channel ch (0 R, 1 G, 2 B, 3 A) of the rectangle (x, y, w, h),
 *  which must lie inside img, as floats 0..255 into dst (w*h, row-major). */
void carve__image_plane(const carve_image *img, int ch, int x, int y, int w, int h, float *dst);
/** The alpha channel of img as a byte map into out (img->w * img->h). */
void carve__image_alpha(const carve_image *img, uint8_t *out);
/** Rotates in by deg degrees (counter-clockwise as seen on screen: a point
 *  right of the centre moves up) about its centre with libvips' affine
 *  transform (bilinear), into a new image just large enough to hold it;
 *  corners outside the input repeat its border pixels.  A point (x, y) of
 *  in lands at carve__rotate_map(in->w, in->h, deg, x, y).  */
carve_status carve__rotate(carve_ctx *ctx, const carve_image *in, double deg, carve_image **out);
/** Size of carve__rotate's output for a w x h input. */
void carve__rotate_size(int w, int h, double deg, int *ow, int *oh);
/** Where carve__rotate moves (x, y) of a w x h image (sign -1: the inverse,
 *  from the rotated image back to the input). */
void carve__rotate_map(int w, int h, double deg, int sign, double x, double y, double *ox, double *oy);
/** Resamples one float plane sw x sh (row-major) to dw x dh into dst (the
 *  caller's dw*dh floats) with the same vips_resize and kernel (no rounding;
 *  equal sizes copy).  Errors as carve__resize. */
carve_status carve__resize_plane(carve_ctx *ctx, const float *src, int sw, int sh, float *dst, int dw, int dh,
                                 int kernel);
/** A byte map (a matte, an edge map) w x h resampled to w2 x h2 by nearest
 *  neighbour (source column (x * w + w / 2) / w2, likewise rows); NULL when
 *  memory runs out. */
uint8_t *carve__resize_map_nearest(const uint8_t *m, int w, int h, int w2, int h2);
/** Ensures libvips is initialised (thread-safe, once). */
carve_status carve__vips_init(carve_ctx *ctx);
static inline uint32_t carve__rgb_at(const carve_image *im, int x, int y) {
    const uint8_t *p = im->px + 4 * ((size_t)y * (size_t)im->w + (size_t)x);
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

/* ---- colour ------------------------------------------------------------ */
/** sRGB 8-bit channel to linear [0,1] (table). */
double carve__srgb_to_linear8(uint8_t v);
/** Lab (float) of an 8-bit sRGB triple. */
void carve__rgb8_to_lab(uint8_t r, uint8_t g, uint8_t b, double lab[3]);
/** Parses "#rrggbb" / "rrggbb" / "#rgb"; returns false if malformed. */
bool carve__parse_hex(const char *s, size_t len, uint32_t *rgb);
/** Writes "#rrggbb" (8 bytes with NUL). */
void carve__hex(uint32_t rgb, char out[8]);

/* A physical length "300mm" (units mm, cm, in, pt, px = 1/96 in) in *mm and
 * its unit name; 0 < length <= 10 m.  -1 with a message naming the value in
 * err otherwise (units.c). */
int carve__parse_length(const char *s, double *mm, char unit[4], char *err, size_t errlen);

/* ---- label images and regions (regions.c) --------------------------------
 * A label image holds one uint16_t per pixel, row-major: a colour index in
 * [0, ncolors), or CARVE__LABEL_VOID for a transparent pixel.  Regions are
 * the 4-connected components of equal non-VOID labels. */
#define CARVE__LABEL_VOID 0xFFFFu

/** Regions of a w x h label image: reg[i] = region id, numbered in raster
 *  order of each region's first pixel, or -1 for VOID; area (optional) gets
 *  the pixel count per region.  Returns the number of regions, or -1 on OOM
 *  (outputs NULL).  *reg and *area are malloc'd. */
int32_t carve__components(const uint16_t *lab, int w, int h, int32_t **reg, int64_t **area);

/** Small-region merging (the speckle filter shared by phase 3's min_region
 *  and phase 4's filter_speckle).  Exact, sequential and deterministic:
 *   - regions with area < min_area go into a min-heap ordered by (area,
 *     region id); the smallest is taken first (ties: the lower id, i.e. the
 *     region whose first pixel comes first in raster order);
 *   - it merges into the opaque neighbouring region whose colour has the
 *     least CIEDE2000 to its own (distances compared as float; ties: the
 *     larger neighbour, then the lower id);
 *   - its other neighbours of the receiver's colour now touch the receiver
 *     and become one region with it, so no two adjacent regions ever share
 *     a colour;
 *   - a region with no opaque neighbour is kept; VOID pixels are never
 *     changed and never receive a merge, so no holes appear and opaque
 *     pixels never become transparent;
 *   - areas only grow, so the loop ends when every region has >= min_area
 *     pixels or no opaque neighbour; a region of exactly min_area stays.
 *  Only colour indices already present are written (lab is rewritten in
 *  place).  color_lab[c] is the CIELAB colour of index c; every non-VOID
 *  label must be < ncolors.  Progress (0..1 of the current range) and
 *  cancellation go through carve__progress(ctx, f, stage) (stage NULL:
 *  "merge regions").  *merged (optional) gets the number of merges (joins of
 *  same-coloured neighbours not counted).  min_area <= 1 does nothing. */
carve_status carve__merge_small_regions(carve_ctx *ctx, uint16_t *lab, int w, int h, const double (*color_lab)[3],
                                        int ncolors, int64_t min_area, const char *stage, int64_t *merged);

/** An image of at most 256 distinct RGBA values as an indexed PNG (libpng;
 *  palette in order of first appearance, tRNS when needed).  *out is
 *  malloc'd.  CARVE_ERR_INTERNAL past 256 colours, NOMEM, IO. (png.c) */
carve_status carve__png_encode_indexed(carve_ctx *ctx, const carve_image *img, void **out, size_t *out_len);

/** Significance merging (trace's detail budget): the region of least cost
 *  = area x CIEDE2000 to its most similar neighbour merges into that
 *  neighbour (same tie rules and same-colour joins as above), repeatedly,
 *  while more than max_regions regions remain (<= 0: no count limit) or the
 *  least cost is under max_cost (<= 0: no cost limit).  Costs go stale as
 *  regions grow; a stale heap entry is re-pushed with its current cost.
 *  Regions without an opaque neighbour are never merged, so more than
 *  max_regions can remain.  Deterministic; same contract as above. */
carve_status carve__merge_insignificant_regions(carve_ctx *ctx, uint16_t *lab, int w, int h,
                                                const double (*color_lab)[3], int ncolors, double max_cost,
                                                int64_t max_regions, const char *stage, int64_t *merged);

/* ---- files -------------------------------------------------------------- */
/** Reads a whole file ("-" = stdin), at most max_bytes (0 = no limit). */
carve_status carve__read_file(carve_ctx *ctx, const char *path, size_t max_bytes, char **data, size_t *len);

/* ---- boxes (detections shared by sanitize, nn and the pipeline) ---------- */
typedef struct carve__box {
    int x, y, w, h;      /* axis-aligned bounds in image pixels */
    float score;         /* detector confidence 0..1 */
    char kind[16];       /* "plate", "text", "user", ... */
} carve__box;

/* ---- option subject (run group) ------------------------------------------ */
enum { CARVE__SUBJECT_AUTO = 0, CARVE__SUBJECT_ALL, CARVE__SUBJECT_POINT, CARVE__SUBJECT_BOX };
typedef struct carve__subject_spec {
    int mode;       /* CARVE__SUBJECT_* */
    int x, y, w, h; /* input pixels; a point has w = h = 0 */
} carve__subject_spec;
/** Parses "auto", "all", "x,y" or "x,y,w,h" (non-negative integers, input
 *  pixels).  CARVE_ERR_INVALID_ARG (syntax) or CARVE_ERR_OUT_OF_RANGE
 *  (negative, empty box) with a message naming the option.  Used by the
 *  option setter, so a bad value is refused at submission. */
carve_status carve__parse_subject(carve_ctx *ctx, const char *text, carve__subject_spec *out);

/* ---- installed presets (presets.c) ------------------------------------- */
bool carve__preset_name_ok(const char *name);
/** NAME.json in ctx's presets folder (malloc'd), or NULL for a bad name. */
char *carve__preset_path(const carve_ctx *ctx, const char *name);
bool carve__preset_installed(const carve_ctx *ctx, const char *name);
/** Applies the installed preset NAME's options (not the option preset). */
carve_status carve__preset_apply_installed(carve_ctx *ctx, const char *name);

/* ---- misc --------------------------------------------------------------- */
static inline int carve__clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
double carve__cpu_now(void); /* CPU seconds of the process so far (all threads) */
/* qsort comparison of doubles, ascending */
int carve__cmp_double(const void *a, const void *b);
/** Peak resident set size of the process in bytes (0 if unknown). */
size_t carve__peak_rss(void);

/* ---- option values and text checks (optcheck.c) ------------------------ */
/** Parses the option erase text ("x,y,w,h;x,y,w,h", also separated by
 *  spaces or newlines) into boxes of kind "user".  Empty text gives n = 0 and
 *  *boxes = NULL.  CARVE_ERR_INVALID_ARG with a message naming option erase
 *  and the offending item. */
carve_status carve__parse_erase(carve_ctx *ctx, const char *text, carve__box **boxes, int *n);
/** Checks the text of a STRING option with a syntax of its own (background,
 *  erase, lock): CARVE_OK, or CARVE_ERR_INVALID_ARG / OUT_OF_RANGE with a
 *  message naming the option.  Other options: CARVE_OK. */
carve_status carve__option_check(carve_ctx *ctx, carve_optid id, const char *value);
/** The image format of an upload from its first bytes: "image/jpeg",
 *  "image/png", "image/gif", "image/webp", "image/tiff", "image/heif" (an
 *  ISO-BMFF file whose major or compatible brand is a HEIF/AVIF one), or NULL
 *  for anything else (MP4/MOV/3GP, SVG, PDF, ...). */
const char *carve__sniff_image(const void *data, size_t len);

/* ---- libvips calls (image.c) ---------------------------------------------
 * libvips' error text is process-wide; a call brackets its libvips work with
 * begin/end, and on failure detail() gives " (libvips: first line)" only when
 * no other libvips call overlapped it (else ""), then clears the buffer. */
typedef struct carve__vips_call {
    unsigned epoch;
    bool alone;
} carve__vips_call;
void carve__vips_call_begin(carve__vips_call *vc);
void carve__vips_call_end(carve__vips_call *vc);
void carve__vips_call_detail(carve__vips_call *vc, char *out, size_t n);
/** Reads only the header of an in-memory image of an allowed format: its
 *  size.  CARVE_ERR_UNSUPPORTED (not an allowed format) or CARVE_ERR_DECODE. */
carve_status carve__image_probe(carve_ctx *ctx, const void *data, size_t len, const char *name, int *w, int *h);

#endif
