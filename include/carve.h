/*
 * carve.h — the public API of libcarve.
 *
 * libcarve turns a photo of a vehicle into a flat, palette-exact, seam-free
 * SVG illustration.  Four phases (sanitize, steer, chroma, vector) are
 * composed by the pipeline; each phase is also callable on its own.
 *
 * Conventions
 * -----------
 * - Every public name starts with carve_ / CARVE_.
 * - Handles are opaque and come in create/destroy pairs.  destroy(NULL) is a
 *   no-op.
 * - Every fallible call returns a carve_status.  The human-readable message
 *   of the last failed call lives in the carve_ctx the call was given
 *   (carve_ctx_errmsg()), never in a global: use one ctx per thread/job.
 * - Ownership: a function that returns a pointer through an out parameter
 *   (carve_image **, carve_palette **, char **) transfers ownership to the
 *   caller, who releases it with the matching destroy function (carve_free()
 *   for strings and buffers).  On failure *out is set to NULL.  Input
 *   pointers are borrowed for the duration of the call only.
 * - Images are 8-bit sRGB RGBA, straight (not premultiplied) alpha, rows
 *   packed (stride = 4 * width).
 * - All results are deterministic: the same input and options give
 *   byte-identical output whatever the thread count.
 */
#ifndef CARVE_H
#define CARVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CARVE_BUILDING_DLL)
#define CARVE_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CARVE_API __attribute__((visibility("default")))
#else
#define CARVE_API
#endif

#define CARVE_VERSION_MAJOR 0
#define CARVE_VERSION_MINOR 1
#define CARVE_VERSION_PATCH 0
#define CARVE_VERSION_STRING "0.1.0"

/** The library's version string ("MAJOR.MINOR.PATCH"); static storage. */
CARVE_API const char *carve_version(void);

/* ------------------------------------------------------------------------
 * Status codes.  APPEND ONLY: values are never renumbered or reused.
 * ------------------------------------------------------------------------ */
typedef enum carve_status {
    CARVE_OK = 0,
    CARVE_ERR_NOMEM = 1,           /* out of memory */
    CARVE_ERR_INVALID_ARG = 2,     /* NULL or malformed argument */
    CARVE_ERR_OUT_OF_RANGE = 3,    /* option or value outside its range */
    CARVE_ERR_UNKNOWN_OPTION = 4,  /* no such option key */
    CARVE_ERR_IO = 5,              /* cannot read or write a file */
    CARVE_ERR_DECODE = 6,          /* corrupt, truncated or empty image */
    CARVE_ERR_UNSUPPORTED = 7,     /* file format not supported */
    CARVE_ERR_TOO_LARGE = 8,       /* image or upload over a configured limit */
    CARVE_ERR_TOO_MANY_COLORS = 9, /* trace input has more colours than allowed */
    CARVE_ERR_PALETTE = 10,        /* invalid palette (bad hex, duplicate, ...) */
    CARVE_ERR_CONFIG = 11,         /* invalid configuration file */
    CARVE_ERR_CANCELLED = 12,      /* cancelled by carve_ctx_cancel or progress */
    CARVE_ERR_EMPTY = 13,          /* nothing to work on (0x0 image, ...) */
    CARVE_ERR_NOT_FOUND = 14,      /* named palette, preset or model missing */
    CARVE_ERR_BACKEND = 15,        /* a backend failed (e.g. neural runtime) */
    CARVE_ERR_TIMEOUT = 16,        /* a time limit was reached */
    CARVE_ERR_INTERNAL = 17        /* a bug: please report it */
    /* new codes are appended here */
} carve_status;

/** A short static description of a status ("out of memory"); never NULL. */
CARVE_API const char *carve_strerror(carve_status status);

/** Frees a buffer or string returned by libcarve.  NULL is a no-op. */
CARVE_API void carve_free(void *ptr);

/** Frees the per-thread caches of libcarve's image library (libvips) for the
 *  calling thread.  A long-lived program that makes libcarve calls from
 *  threads it ends (a server's workers) calls it before a thread exits;
 *  harmless anywhere else. */
CARVE_API void carve_thread_cleanup(void);

/* ------------------------------------------------------------------------
 * Context: options, progress, cancellation and the last error message.
 * A ctx must not be used by two threads at once, except carve_ctx_cancel(),
 * which may be called from any thread at any time.
 * ------------------------------------------------------------------------ */
typedef struct carve_ctx carve_ctx;

/** Progress callback: fraction in [0,1] of the whole call, stage is a short
 *  static name ("trace", "quantize", ...).  Return non-zero to cancel: the
 *  running call then returns CARVE_ERR_CANCELLED. */
typedef int (*carve_progress_fn)(void *user, double fraction, const char *stage);

/** Log levels for carve_log_fn. */
enum { CARVE_LOG_DEBUG = 0, CARVE_LOG_INFO = 1, CARVE_LOG_WARN = 2, CARVE_LOG_ERROR = 3 };
/** Log callback: msg is only valid during the call. */
typedef void (*carve_log_fn)(void *user, int level, const char *msg);

/** Creates a context with every option at its default.  NULL on OOM. */
CARVE_API carve_ctx *carve_ctx_create(void);
CARVE_API void carve_ctx_destroy(carve_ctx *ctx);
/** A new ctx with the same option values (not callbacks, errors or cancel
 *  state).  NULL on OOM. */
CARVE_API carve_ctx *carve_ctx_clone(const carve_ctx *ctx);
/** The message of the last failed call made with ctx ("" if none).  Owned by
 *  ctx; valid until the next call with ctx. */
CARVE_API const char *carve_ctx_errmsg(const carve_ctx *ctx);
/** Sets ctx's message (printf-style; "" clears it) and returns status, so a
 *  caller's own failure reads like a library one: return
 *  carve_ctx_set_error(ctx, CARVE_ERR_IO, 0, "cannot write '%s'", path).  With
 *  prefix non-zero the text is put before the current message ("text: old"). */
CARVE_API carve_status carve_ctx_set_error(carve_ctx *ctx, carve_status status, int prefix, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
CARVE_API void carve_ctx_set_progress(carve_ctx *ctx, carve_progress_fn fn, void *user);
CARVE_API void carve_ctx_set_log(carve_ctx *ctx, carve_log_fn fn, void *user);
/** Requests cancellation of the call running with ctx (thread-safe,
 *  async-signal-safe).  The call returns CARVE_ERR_CANCELLED promptly. */
CARVE_API void carve_ctx_cancel(carve_ctx *ctx);
/** Clears a pending cancellation so ctx can be reused. */
CARVE_API void carve_ctx_reset_cancel(carve_ctx *ctx);
/** For an application's own long steps run with ctx (carved's synthetic
 *  engine): calls ctx's progress callback with fraction (clamped to [0,1])
 *  and stage (may be NULL), as libcarve's calls do.  Returns
 *  CARVE_ERR_CANCELLED, with the message set, when carve_ctx_cancel was
 *  called or the callback asked to stop; else CARVE_OK. */
CARVE_API carve_status carve_ctx_progress(carve_ctx *ctx, double fraction, const char *stage);
/** Sends a printf-style message at level (CARVE_LOG_*) to ctx's log
 *  callback, as libcarve's own messages go; nothing without a callback.
 *  Messages are cut at 1023 bytes. */
CARVE_API void carve_ctx_log(carve_ctx *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------------------
 * Options: one schema (name, type, default, range, help) feeds the library,
 * the CLI flags (--name-with-dashes), config files and the HTTP API.
 * ------------------------------------------------------------------------ */
typedef enum carve_option_type {
    CARVE_OPT_INT = 0,
    CARVE_OPT_FLOAT = 1,
    CARVE_OPT_BOOL = 2,
    CARVE_OPT_ENUM = 3,   /* one of choices ('|'-separated) */
    CARVE_OPT_STRING = 4
} carve_option_type;

typedef struct carve_option_info {
    const char *key;      /* "corner_threshold" */
    const char *group;    /* "trace", "chroma", "run", "core", ... */
    carve_option_type type;
    const char *def;      /* default, as text */
    double min, max;      /* range for INT/FLOAT (inclusive) */
    const char *choices;  /* ENUM: "pixel|polygon|spline"; else NULL */
    const char *help;     /* one line */
} carve_option_info;

/** Number of options in the schema. */
CARVE_API int carve_option_count(void);
/** Option i (0 <= i < count), or NULL.  Static storage. */
CARVE_API const carve_option_info *carve_option_at(int i);
/** Option by key (dashes and underscores are equivalent), or NULL. */
CARVE_API const carve_option_info *carve_option_find(const char *key);

/** Sets an option from text ("60", "true", "spline").  Returns
 *  CARVE_ERR_UNKNOWN_OPTION, CARVE_ERR_INVALID_ARG (not a number, not a
 *  choice) or CARVE_ERR_OUT_OF_RANGE with a message naming the key, the value
 *  and what is allowed; the option keeps its old value then. */
CARVE_API carve_status carve_ctx_set_option(carve_ctx *ctx, const char *key, const char *value);
/** Writes the option's current value as text into buf (always
 *  NUL-terminated).  CARVE_ERR_UNKNOWN_OPTION or CARVE_ERR_INVALID_ARG if
 *  buf is too small. */
CARVE_API carve_status carve_ctx_get_option(const carve_ctx *ctx, const char *key, char *buf, size_t len);
/** Applies a JSON object of options ({"corner_threshold": 45, ...}) from a
 *  string.  All-or-nothing: on error no option is changed; the message names
 *  the source, the key and the problem. */
CARVE_API carve_status carve_ctx_apply_json(carve_ctx *ctx, const char *json, const char *source_name);
/** Applies a config file: JSON (as above) or "key = value" lines (# comments). */
CARVE_API carve_status carve_ctx_load_config(carve_ctx *ctx, const char *path);
/** Called by carve_ctx_load_config_ex for each key of the file that is not a
 *  libcarve option, in file order, with its value as text (a JSON number or
 *  boolean written as text; value is valid during the call).  Return
 *  CARVE_OK when the key is the application's (it took the value),
 *  CARVE_ERR_UNKNOWN_OPTION when it is nobody's (the load then fails with
 *  CARVE_ERR_CONFIG naming the file, line and key), or another status after
 *  setting a message on ctx (carve_ctx_set_error): the load then fails with
 *  CARVE_ERR_CONFIG (NOMEM stays NOMEM) and that message after the file
 *  and line. */
typedef carve_status (*carve_config_key_fn)(void *user, carve_ctx *ctx, const char *key, const char *value);
/** As carve_ctx_load_config, for a file that also holds settings of the
 *  application (carved's listen, data_dir, ...): keys that are not options
 *  go to fn (NULL: they are errors, as in carve_ctx_load_config).  fn runs
 *  while the file is read, before ctx's options are applied; ctx's options
 *  are all-or-nothing as before, what fn took is the application's
 *  business. */
CARVE_API carve_status carve_ctx_load_config_ex(carve_ctx *ctx, const char *path, carve_config_key_fn fn,
                                                void *user);
/** Applies a named preset ("illustration", "poster", "detailed"). */
CARVE_API carve_status carve_ctx_apply_preset(carve_ctx *ctx, const char *name);
/** The options as a JSON object string (caller frees with carve_free), or NULL. */
CARVE_API char *carve_ctx_options_json(const carve_ctx *ctx);

/* ------------------------------------------------------------------------
 * Images (8-bit sRGB RGBA, straight alpha).
 * ------------------------------------------------------------------------ */
typedef struct carve_image carve_image;

/** A w x h image of transparent black.  NULL on OOM or if w, h < 0 or the
 *  size overflows.  0x0 is allowed. */
CARVE_API carve_image *carve_image_create(int width, int height);
CARVE_API void carve_image_destroy(carve_image *img);
CARVE_API carve_image *carve_image_copy(const carve_image *img);
CARVE_API int carve_image_width(const carve_image *img);
CARVE_API int carve_image_height(const carve_image *img);
/** RGBA pixels, 4 * width * height bytes, owned by img. */
CARVE_API uint8_t *carve_image_pixels(carve_image *img);
CARVE_API const uint8_t *carve_image_pixels_const(const carve_image *img);

/** Decodes an image file (JPEG, PNG, WebP, HEIC/HEIF, TIFF, GIF; "-" reads
 *  stdin) through libvips: EXIF orientation applied, embedded ICC profile
 *  converted to sRGB, alpha kept.  The pixel count is checked against the
 *  option max_pixels from the header, before decoding.  Errors:
 *  CARVE_ERR_IO (cannot open), CARVE_ERR_DECODE (empty, corrupt, truncated),
 *  CARVE_ERR_UNSUPPORTED, CARVE_ERR_TOO_LARGE; the message names the file. */
CARVE_API carve_status carve_image_load(carve_ctx *ctx, const char *path, carve_image **out);
/** As carve_image_load, from memory; name is used in messages. */
CARVE_API carve_status carve_image_load_memory(carve_ctx *ctx, const void *data, size_t len,
                                               const char *name, carve_image **out);
/** The format of an image from its first bytes, as libcarve decides before
 *  any decoder sees it: "image/jpeg", "image/png", "image/gif",
 *  "image/webp", "image/tiff" or "image/heif" (HEIF/AVIF brands only), or
 *  NULL for anything libcarve will not decode (MP4/MOV, SVG, PDF, ...).
 *  Static storage; reads at most the first 256 bytes. */
CARVE_API const char *carve_image_sniff(const void *data, size_t len);
/** Reads only the header of an image in memory: its width and height
 *  (the pixel limit can be checked before anything is decoded).  name is
 *  used in messages.  CARVE_ERR_UNSUPPORTED (carve_image_sniff refuses
 *  it), CARVE_ERR_DECODE (unreadable header); *width = *height = 0 then. */
CARVE_API carve_status carve_image_probe(carve_ctx *ctx, const void *data, size_t len, const char *name, int *width,
                                         int *height);

/** Encodes by the file suffix (.png .jpg .webp .tif .gif; "-" = PNG to
 *  stdout).  A PNG whose image has at most 256 distinct colours is written
 *  indexed (exact colours).  Written to a temporary file then renamed: a
 *  failed call leaves no partial file. */
CARVE_API carve_status carve_image_save(carve_ctx *ctx, const carve_image *img, const char *path);
/** Encodes into memory; format is a suffix such as ".png".  *out freed with
 *  carve_free. */
CARVE_API carve_status carve_image_save_memory(carve_ctx *ctx, const carve_image *img, const char *format,
                                               void **out, size_t *out_len);

/** Writes data to path atomically (temporary file in the same folder, then
 *  rename); "-" writes stdout. */
CARVE_API carve_status carve_write_file(carve_ctx *ctx, const char *path, const void *data, size_t len);

/** Creates the folder path and its missing parents (mode 0777 less the
 *  umask); an existing folder is fine.  CARVE_ERR_INVALID_ARG for an empty
 *  path, CARVE_ERR_IO (the message names the path and the reason, e.g. a
 *  file in the way) when it cannot be created. */
CARVE_API carve_status carve_make_folder(carve_ctx *ctx, const char *path);

/* ------------------------------------------------------------------------
 * Colour science (exact CIEDE2000, tested against Sharma et al. 2005).
 * ------------------------------------------------------------------------ */
/** 0xRRGGBB to CIELAB (D65, 2°). */
CARVE_API void carve_rgb_to_lab(uint32_t rgb, double lab[3]);
CARVE_API void carve_lab_to_rgb(const double lab[3], uint32_t *rgb);
/** CIEDE2000 colour difference (kL = kC = kH = 1). */
CARVE_API double carve_ciede2000(const double lab1[3], const double lab2[3]);

/* ------------------------------------------------------------------------
 * Palettes (at most CARVE_PALETTE_MAX colours, no duplicates).
 * ------------------------------------------------------------------------ */
#define CARVE_PALETTE_MAX 256
typedef struct carve_palette carve_palette;

CARVE_API carve_palette *carve_palette_create(const char *name);
CARVE_API void carve_palette_destroy(carve_palette *pal);
CARVE_API carve_palette *carve_palette_copy(const carve_palette *pal);
/** Adds 0xRRGGBB with an optional name (may be NULL).  CARVE_ERR_PALETTE for a
 *  duplicate or when full. */
CARVE_API carve_status carve_palette_add(carve_palette *pal, uint32_t rgb, const char *color_name);
CARVE_API int carve_palette_count(const carve_palette *pal);
CARVE_API uint32_t carve_palette_color(const carve_palette *pal, int i);
/** Name of colour i, or NULL. */
CARVE_API const char *carve_palette_color_name(const carve_palette *pal, int i);
CARVE_API const char *carve_palette_name(const carve_palette *pal);

/** Loads a palette file: GIMP .gpl, JSON {"name":..,"colors":[..]} or a plain
 *  list of hex colours.  CARVE_ERR_PALETTE with a message naming the file and
 *  the line or field. */
CARVE_API carve_status carve_palette_load(carve_ctx *ctx, const char *path, carve_palette **out);
/** As carve_palette_load from text in memory; source_name is used in messages. */
CARVE_API carve_status carve_palette_parse(carve_ctx *ctx, const char *text, size_t len,
                                           const char *source_name, carve_palette **out);
/** Serialises as JSON ({"name":..,"colors":[{"hex":..,"name":..}]}); carve_free. */
CARVE_API char *carve_palette_to_json(const carve_palette *pal);
/** Built-in named palettes. */
CARVE_API int carve_palette_builtin_count(void);
CARVE_API const char *carve_palette_builtin_name(int i);
CARVE_API const char *carve_palette_builtin_description(int i);
CARVE_API carve_status carve_palette_builtin(carve_ctx *ctx, const char *name, carve_palette **out);
/** Resolves NAME (built-in) or a file path. */
CARVE_API carve_status carve_palette_resolve(carve_ctx *ctx, const char *name_or_path, carve_palette **out);
/** Chooses k colours from the image in Lab (deterministic).  Colours of
 *  locked (may be NULL) are kept exactly and count towards k. */
CARVE_API carve_status carve_palette_from_image(carve_ctx *ctx, const carve_image *img, int k,
                                                const carve_palette *locked, carve_palette **out);

/* ------------------------------------------------------------------------
 * Phase 3 — chroma.
 * ------------------------------------------------------------------------ */
/** Maps every pixel to the palette colour of least CIEDE2000 (ties go to the
 *  lower index), then applies the options dither, min_region, majority and
 *  smooth.  Pixels with alpha < 128 become fully transparent, others opaque.
 *  *out holds only palette colours. */
CARVE_API carve_status carve_quantize(carve_ctx *ctx, const carve_image *in, const carve_palette *pal,
                                      carve_image **out);
/** Upscales by factor (1..8) with libvips' resampling (option upscale_kernel). */
CARVE_API carve_status carve_upscale(carve_ctx *ctx, const carve_image *in, double factor, carve_image **out);

/* ------------------------------------------------------------------------
 * Phase 4 — vector.
 * ------------------------------------------------------------------------ */
/** Traces an image of few flat colours (at most option max_colors distinct
 *  opaque colours; alpha < 128 is no fill) into an SVG document, using the
 *  trace options (mode, filter_speckle, corner_threshold, ...).  Shapes share
 *  their boundaries: no seams, no overlaps; every fill is an input colour.
 *  *svg is NUL-terminated, *len excludes the NUL; free with carve_free.
 *  The document is in option format: "svg" (default), "pdf", "eps" or "dxf"
 *  (same geometry and colours; sized by options width/height/dpi; option cut
 *  for cutting plotters; see docs/vector.md).  Despite its name *svg then
 *  holds that document (PDF bytes may be non-ASCII; use *len).
 *  CARVE_ERR_TOO_MANY_COLORS when the image has too many colours;
 *  CARVE_ERR_OUT_OF_RANGE when the physical size would exceed 10 m. */
CARVE_API carve_status carve_trace(carve_ctx *ctx, const carve_image *in, char **svg, size_t *len);

/* ------------------------------------------------------------------------
 * Phases 1–2 and the pipeline.
 * ------------------------------------------------------------------------ */
/** Runs the whole pipeline (sanitize, steer, chroma, vector) on a photo.
 *  pal may be NULL: then the palette comes from the option palette, or is
 *  chosen from the image (option colors).  Progress is reported in one
 *  overall range with a sub-range per phase.  After the call (success or
 *  not) carve_ctx_report_json() returns the run report.  *svg is the
 *  document in option format, as for carve_trace, sized to the input photo
 *  (its viewBox in work pixels). */
CARVE_API carve_status carve_run(carve_ctx *ctx, const carve_image *in, const carve_palette *pal,
                                 char **svg, size_t *len);
/** The run report (JSON) of the last carve_run on ctx, or NULL.  Owned by ctx. */
CARVE_API const char *carve_ctx_report_json(const carve_ctx *ctx);
/** Intermediate image of the last carve_run ("sanitize", "steer", "matte",
 *  "chroma"; also "input" (the work-size input), "erase_mask" and "edges"
 *  when they were made), or NULL when option keep_intermediates was off.
 *  Byte maps (matte, mask, edges) are grey RGBA.  Owned by ctx. */
CARVE_API const carve_image *carve_ctx_intermediate(const carve_ctx *ctx, const char *phase);
/** The last carve_run on ctx as one self-contained HTML page: the phase
 *  images kept (option keep_intermediates) embedded as PNG, svg inline when
 *  given (may be NULL, e.g. a failed run or another output format), the
 *  timings, backends and fallbacks, and the JSON report.  title may be NULL.
 *  *html is NUL-terminated, freed with carve_free.  CARVE_ERR_EMPTY when ctx
 *  holds no report; NOMEM. */
CARVE_API carve_status carve_ctx_report_html(carve_ctx *ctx, const char *title, const char *svg, size_t svg_len,
                                             char **html, size_t *len);

/* ------------------------------------------------------------------------
 * Models (neural backends).
 * The neural backends run ONNX models through ONNX Runtime, which is loaded
 * at run time; the models are listed in a manifest (see docs/nn.md).  This
 * is what `carve models` shows; nothing here downloads anything.
 * ------------------------------------------------------------------------ */
/** Describes the runtime and the models of the manifest in effect (option
 *  models_dir, see docs/nn.md) as a JSON object in *json (NUL-terminated;
 *  free with carve_free):
 *
 *    {"manifest": PATH, "models_dir": PATH, "fetch_script": PATH,
 *     "runtime": {"compiled": BOOL, "loaded": BOOL, "version": STR|null,
 *                 "library": PATH|null, "error": STR|null},
 *     "models": [{"name", "task", "file" (as in the manifest), "path"
 *                 (resolved), "installed": BOOL, "size": BYTES|null,
 *                 "sha256" (pinned), "optional": BOOL, "licence", "notes"}]}
 *
 *  "compiled" is false when libcarve was built without the ONNX Runtime
 *  header; "error" says why the runtime is not loaded (the runtime is loaded
 *  once per process, as the first inference would).  "fetch_script" is the
 *  installer that `carve models fetch` runs (env CARVE_FETCH_SCRIPT).
 *
 *  names (n entries; NULL when n is 0) restricts "models" to those names, in
 *  manifest order; n == 0 lists every model.  A name not in the manifest is
 *  CARVE_ERR_NOT_FOUND naming it and the manifest.
 *
 *  verify != 0 also checks every listed installed model: its SHA-256 against
 *  the manifest, then, when the runtime is loaded, that a session opens
 *  (tensor names and types; the session stays in the process cache).  Each
 *  model then also has "verified": BOOL (installed, sha256 matches and the
 *  session opened or the runtime is not loaded), "status": "ok" |
 *  "not_installed" | "unreadable" | "sha256_mismatch" | "load_failed",
 *  "sha256_actual": STR|null, "loaded": BOOL|null (null = not tried) and
 *  "error": STR|null.  A model that fails verification is reported there,
 *  not as the call's status.  Cancellable between models (carve_ctx_cancel).
 *
 *  Errors: CARVE_ERR_INVALID_ARG, CARVE_ERR_NOT_FOUND (no manifest, unknown
 *  name), CARVE_ERR_CONFIG (invalid manifest: the message names the file,
 *  the model and the field), CARVE_ERR_CANCELLED, CARVE_ERR_NOMEM.  A
 *  missing runtime or model is not an error: it is in the JSON.  Keys may be
 *  added in later versions; existing keys keep their meaning. */
CARVE_API carve_status carve_models_json(carve_ctx *ctx, const char *const *names, int n, int verify, char **json);


/* ------------------------------------------------------------------------
 * Presets installed by name (docs/tune.md).  The option preset accepts a
 * built-in name or the name of a preset installed in the presets folder:
 * option presets_dir, else $CARVE_PRESETS_DIR, else
 * $XDG_CONFIG_HOME/carve/presets, else ~/.config/carve/presets.  An
 * installed preset is a JSON object of options (a config file) stored as
 * NAME.json; NAME is [A-Za-z0-9_-]{1,64} and may not be a built-in name.
 * ------------------------------------------------------------------------ */
/** Validates json (every key an option, every value in range, applied to a
 *  copy of ctx's options; path, limit and preset keys refused) and writes
 *  it atomically as NAME.json in ctx's presets folder (created if missing).
 *  Errors: CARVE_ERR_INVALID_ARG (bad name), CARVE_ERR_CONFIG (bad JSON,
 *  message names the key), CARVE_ERR_IO. */
CARVE_API carve_status carve_preset_install(carve_ctx *ctx, const char *name, const char *json);
/** The presets folder in effect for ctx (caller frees with carve_free), or NULL. */
CARVE_API char *carve_presets_dir(const carve_ctx *ctx);

/* ------------------------------------------------------------------------
 * Style distance and tuning (src/tune, docs/tune.md).
 * ------------------------------------------------------------------------ */
/** Rasterises an SVG document (librsvg through libvips) to exactly
 *  width x height pixels (the drawing is scaled to fit; 0 x 0 = its own
 *  size).  CARVE_ERR_DECODE names source_name when the SVG is invalid. */
CARVE_API carve_status carve_image_from_svg(carve_ctx *ctx, const char *svg, size_t len, const char *source_name,
                                            int width, int height, carve_image **out);
/** The style distance between a render and a reference illustration of the
 *  same size (>= 0, 0 = same style; documented in docs/tune.md): a weighted
 *  mix of mean CIEDE2000 between the pixels, palette distance, region
 *  density and edge density.  When the reference has transparent pixels
 *  only its opaque pixels (the subject) count.  details (may be NULL) gets a
 *  JSON object with each term (carve_free).  CARVE_ERR_INVALID_ARG for
 *  different sizes. */
CARVE_API carve_status carve_style_distance(carve_ctx *ctx, const carve_image *render, const carve_image *reference,
                                            double *distance, char **details);

/** Runs the pipeline with ctx's options on photo, renders the SVG at the
 *  work size and returns its style distance to reference (scaled to that
 *  size): how close carve's output is to a reference's style.  details as
 *  for carve_style_distance. */
CARVE_API carve_status carve_style_evaluate(carve_ctx *ctx, const carve_image *photo, const carve_image *reference,
                                            double *distance, char **details);

/** A tuning: searches the options that shape the look so that carve_run on
 *  each photo comes closest (style distance) to its reference. */
typedef struct carve_tuner carve_tuner;

/** One finished evaluation, passed to the tuner's callback. */
typedef struct carve_tune_trial {
    int index;                /* evaluation number, 0, 1, ... (deterministic order) */
    int config;               /* the candidate configuration it evaluated */
    int rung;                 /* fidelity: 0 = smallest work size ... rungs-1 = full */
    int work_size;            /* long side (px) of the largest photo at this rung */
    double score;             /* mean style distance over the pairs (lower is better) */
    double best_score;        /* best score at the highest rung reached so far (or this rung) */
    const char *options_json; /* the candidate's options (the preset it would be); valid during the call */
    int restored;             /* 1 when the score came from carve_tuner_restore, not a run */
    double fraction;          /* progress of the whole tuning, 0..1 */
} carve_tune_trial;
/** Called after every evaluation (from the thread calling carve_tuner_run).
 *  Return non-zero to stop: carve_tuner_run then returns CARVE_ERR_CANCELLED
 *  and the best preset so far stays available. */
typedef int (*carve_tune_fn)(void *user, const carve_tune_trial *trial);

/** A tuner whose base options (those not searched: work_size, background,
 *  palette, ...) are copied from base.  NULL on OOM. */
CARVE_API carve_tuner *carve_tuner_create(const carve_ctx *base);
CARVE_API void carve_tuner_destroy(carve_tuner *t);
/** The message of the tuner's last failed call ("" if none); owned by t. */
CARVE_API const char *carve_tuner_errmsg(const carve_tuner *t);
/** Adds a photo and its reference illustration (borrowed; copied).  The
 *  reference is scaled to the photo's work size (a warning is logged when
 *  the aspect ratios differ by more than 2 %); its transparent pixels mark
 *  the background.  name is used in messages. */
CARVE_API carve_status carve_tuner_add_pair(carve_tuner *t, const char *name, const carve_image *photo,
                                            const carve_image *reference);
/** trials: candidate configurations (1..10000, default 40); time_limit_s:
 *  stop starting new evaluations after this many seconds (0 = none; results
 *  then depend on the machine's speed); seed: the search's random seed (same
 *  seed, inputs and trials => the same result, byte for byte); threads: pairs
 *  evaluated at once (0 = one per core; results do not depend on it). */
CARVE_API carve_status carve_tuner_configure(carve_tuner *t, int trials, double time_limit_s, uint64_t seed,
                                             int threads);
CARVE_API void carve_tuner_set_callback(carve_tuner *t, carve_tune_fn fn, void *user);
CARVE_API void carve_tuner_set_log(carve_tuner *t, carve_log_fn fn, void *user);
/** Supplies the score of evaluation index from an earlier, interrupted run
 *  with the same pairs, options and seed: carve_tuner_run reuses it instead
 *  of running it (resuming).  Call before carve_tuner_run, indices in order. */
CARVE_API carve_status carve_tuner_restore(carve_tuner *t, int index, double score);
/** Runs the search.  CARVE_ERR_EMPTY with fewer than 2 pairs;
 *  CARVE_ERR_TIMEOUT when the time limit did not allow one evaluation;
 *  CARVE_ERR_CANCELLED when cancelled (the best so far is kept). */
CARVE_API carve_status carve_tuner_run(carve_tuner *t);
/** Requests cancellation (thread-safe, async-signal-safe): the running
 *  evaluation stops within one pipeline poll interval. */
CARVE_API void carve_tuner_cancel(carve_tuner *t);
/** The best preset found so far as a JSON object of options (a config file
 *  for carve run --config; carve_free), with its score, or
 *  CARVE_ERR_NOT_FOUND when no evaluation finished yet. */
CARVE_API carve_status carve_tuner_best(const carve_tuner *t, char **json, double *score);

#ifdef __cplusplus
}
#endif
#endif /* CARVE_H */
