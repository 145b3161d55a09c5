/* pipeline.c — carve_run: the four phases composed behind one stage
 * interface, with validation, fallbacks, progress, cancellation and the run
 * report.
 *
 * A phase (sanitize, steer, chroma, vector) is a list of steps.  A step has
 * an ordered list of backends; each backend writes a candidate result into
 * the run state, the step's validator accepts or rejects it, and a rejected
 * or failed backend is recorded with its reason before the next one is
 * tried.  When every backend failed, an optional step is skipped (the image
 * goes on unchanged) and a required step fails the run.  Cancellation and
 * out-of-memory are never "fallen back" from: they end the run at once. */
#include "pipeline/pipeline.h"
#include "pipeline/plates.h"

#include "nn/nn.h"
#include "pipeline/subject.h"
#include "sanitize/sanitize.h"
#include "steer/steer.h"
#include "vector/stroke.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ---- run state ------------------------------------------------------------ */

enum { BG_REMOVE, BG_KEEP, BG_COLOR };

/* The three backend options share one list of choices. */
enum { BACKEND_AUTO = CARVE__MATTE_BACKEND_AUTO, BACKEND_CLASSICAL = CARVE__MATTE_BACKEND_CLASSICAL };
#define SAME_VALUE(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME_VALUE(CARVE__TEXT_BACKEND_AUTO, BACKEND_AUTO) && SAME_VALUE(CARVE__OBJECT_BACKEND_AUTO, BACKEND_AUTO) &&
                   SAME_VALUE(CARVE__TEXT_BACKEND_CLASSICAL, BACKEND_CLASSICAL) &&
                   SAME_VALUE(CARVE__OBJECT_BACKEND_CLASSICAL, BACKEND_CLASSICAL),
               "matte_backend, text_backend and object_backend: auto|classical|neural");
/* The vector phase's modes and formats are the options' values. */
_Static_assert(SAME_VALUE(VEC_MODE_PIXEL, CARVE__MODE_PIXEL) && SAME_VALUE(VEC_MODE_POLYGON, CARVE__MODE_POLYGON) &&
                   SAME_VALUE(VEC_MODE_SPLINE, CARVE__MODE_SPLINE) && SAME_VALUE(VEC_FMT_SVG, CARVE__FORMAT_SVG),
               "vector.h's VEC_MODE_* and VEC_FMT_* follow options mode and format");

/* The enum options the pipeline branches on, read once (prepare) into
 * typed per-phase parameters. */
typedef struct run_params {
    struct {
        bool neural_objects;   /* object_backend is not classical */
        bool remove_occluders; /* occluders = remove */
    } subject;
    struct {
        bool neural_text; /* text_backend is not classical */
        int erase_text;   /* CARVE__ERASE_TEXT_* */
    } sanitize;
    struct {
        bool neural_matte; /* matte_backend is not classical */
    } steer;
    struct {
        int mode;   /* CARVE__MODE_*: the first curve mode tried */
        int format; /* CARVE__FORMAT_* */
    } vector;
} run_params;

static void read_params(carve_ctx *ctx, run_params *p) {
    p->subject.neural_objects = carve__opt_enum(ctx, CARVE_OPTID_object_backend) != BACKEND_CLASSICAL;
    p->subject.remove_occluders = carve__opt_enum(ctx, CARVE_OPTID_occluders) == CARVE__OCCLUDERS_REMOVE;
    p->sanitize.neural_text = carve__opt_enum(ctx, CARVE_OPTID_text_backend) != BACKEND_CLASSICAL;
    p->sanitize.erase_text = carve__opt_enum(ctx, CARVE_OPTID_erase_text);
    p->steer.neural_matte = carve__opt_enum(ctx, CARVE_OPTID_matte_backend) != BACKEND_CLASSICAL;
    p->vector.mode = carve__opt_enum(ctx, CARVE_OPTID_mode);
    p->vector.format = carve__opt_enum(ctx, CARVE_OPTID_format);
}

typedef struct run_state {
    run_params prm;               /* the options, typed */
    const carve_image *orig;      /* borrowed input */
    const carve_palette *pal_arg; /* borrowed, may be NULL */
    int ow, oh;                   /* input size */
    int w, h;                     /* work size */
    double sx, sy;                /* work / input */
    carve_image *img;             /* the image flowing through the phases */
    carve_image *pre_erase;       /* img before inpainting (the matte reads it), or NULL */
    bool input_alpha;             /* the input has a usable alpha channel */
    int bg_mode;
    uint32_t bg_rgb;
    /* subject: chosen by the first step (before sanitize, so the plate search
     * can look inside it); work coordinates */
    carve__subject_spec subj_spec; /* option subject, in work pixels */
    carve__box *objects;           /* every detection (vehicles, persons), by score */
    int nobjects;
    carve__box *subject;           /* the chosen vehicle(s); NULL/0 = none (salient object) */
    int nsubject;
    int *occluders;                /* indices into objects: persons in front of the subject */
    int noccluders;
    bool subject_point;            /* a point with no vehicle under it: the matte is seeded there */
    json_t *warnings;              /* report: things the user should know (array) */
    /* sanitize */
    carve__box *boxes; /* user boxes (erased by inpainting), work coordinates */
    int nboxes, nuser;
    carve__panel *panels; /* detected plates, text, faces: erased as flat panels */
    char (*panel_kind)[16];
    int npanels;
    uint8_t *mask;     /* erase mask (w*h), NULL when nothing to erase */
    int64_t mask_px;
    /* steer */
    uint8_t *matte; /* w*h, 255 = vehicle; NULL = none */
    uint8_t *edges; /* w*h, 255 = edge; NULL = none */
    /* chroma */
    carve_palette *pal;
    carve_image *quant;
    /* vector */
    char *svg;
    size_t svg_len;
    /* candidates produced by a backend, adopted by commit() */
    carve_image *cand_img;
    uint8_t *cand_map;
    carve__box *cand_boxes;
    int cand_n;
    carve__plate_hit *cand_hits; /* the detect step's plate/text hits */
    int cand_nhits;
    carve_palette *cand_pal;
    char *cand_svg;
    size_t cand_svg_len;
    vec_stroke_stats strokes; /* the trace's stroke layers (outline: from edges) */
    carve__text_ahead *ahead;  /* the frame's neural text pass, running beside the subject step */
    /* report */
    json_t *phases; /* array */
} run_state;

static void discard_candidates(run_state *s) {
    carve_image_destroy(s->cand_img);
    s->cand_img = NULL;
    free(s->cand_map);
    s->cand_map = NULL;
    free(s->cand_boxes);
    s->cand_boxes = NULL;
    s->cand_n = 0;
    free(s->cand_hits);
    s->cand_hits = NULL;
    s->cand_nhits = 0;
    carve_palette_destroy(s->cand_pal);
    s->cand_pal = NULL;
    free(s->cand_svg);
    s->cand_svg = NULL;
    s->cand_svg_len = 0;
}

static void state_free(run_state *s) {
    if (s->ahead) { /* a run stopped before the detect step: wait, discard */
        carve__box *b;
        int n;
        if (!carve__text_ahead_join(NULL, s->ahead, &b, &n)) free(b);
    }
    discard_candidates(s);
    free(s->objects);
    free(s->subject);
    free(s->occluders);
    json_decref(s->warnings);
    carve_image_destroy(s->img);
    carve_image_destroy(s->pre_erase);
    free(s->boxes);
    free(s->panels);
    free(s->panel_kind);
    free(s->mask);
    free(s->matte);
    free(s->edges);
    carve_palette_destroy(s->pal);
    carve_image_destroy(s->quant);
    free(s->svg);
    json_decref(s->phases);
}

/* ---- the stage interface --------------------------------------------------- */

typedef struct backend {
    const char *name;
    /* Writes a candidate into s; details receives backend-specific facts. */
    carve_status (*run)(carve_ctx *ctx, run_state *s, json_t *details);
} backend;

#define MAX_BACKENDS 4

typedef struct step {
    const char *name;
    double weight; /* share of its phase's progress range */
    bool optional; /* all backends failed => skip (true) or fail the run */
    /* runs first; a failure (out of memory) ends the run */
    carve_status (*prepare)(carve_ctx *ctx, run_state *s);
    /* false (with why) when options or the input make the step moot */
    bool (*applies)(carve_ctx *ctx, run_state *s, char *why, size_t n);
    /* backends to try, in order; NULL: the fixed list `backends` below */
    int (*plan)(carve_ctx *ctx, run_state *s, const backend **list);
    /* accepts the candidate or explains why not */
    bool (*validate)(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *details);
    /* adopts the validated candidate into the state */
    carve_status (*commit)(carve_ctx *ctx, run_state *s, json_t *details);
    /* ENUM option auto|classical|neural choosing the backend, or -1: in auto
     * mode an absent neural backend (CARVE_ERR_NOT_FOUND) is routine, not a
     * fallback */
    int backend_opt;
    /* when plan is NULL: the backends, always the same, in order (NULL-ended) */
    const backend *const *backends;
} step;

typedef struct phase {
    const char *name;
    double lo, hi; /* overall progress range */
    const step *steps;
    int nsteps;
    /* runs after the steps (composition that cannot fail over) */
    carve_status (*finish)(carve_ctx *ctx, run_state *s, json_t *phase_obj);
    const char *intermediate; /* name of s->img kept after the phase, or NULL */
} phase;

static double mb(size_t bytes) { return round((double)bytes / (1024.0 * 1024.0) * 10.0) / 10.0; }

static double ms3(double t) { return round(t * 1000.0) / 1000.0; }

/* Statuses that end the run instead of falling back to another backend. */
static bool fatal_status(carve_status st) { return st == CARVE_ERR_CANCELLED || st == CARVE_ERR_NOMEM; }

/* What became of one backend of a step (try_backend). */
enum { TRY_COMMITTED, TRY_REJECTED, TRY_FATAL, TRY_COMMIT_FAILED };

/* Runs one backend of a step, validates and commits its result.  A rejected
 * backend's measurements come back in *rejected and its reason in why; a
 * commit failure (a resource error) marks the step failed. */
static int try_backend(carve_ctx *ctx, run_state *s, const step *sp, const backend *bk, json_t *obj, char *why,
                       size_t whylen, json_t **rejected, carve_status *stp) {
    json_t *details = json_object();
    carve__clear_error(ctx);
    carve_status st = bk->run(ctx, s, details);
    if (st == CARVE_OK && carve__cancelled(ctx))
        st = carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled during %s", sp->name);
    *stp = st;
    if (fatal_status(st)) {
        json_decref(details);
        discard_candidates(s);
        return TRY_FATAL;
    }
    if (st == CARVE_OK) {
        why[0] = 0;
        if (!sp->validate || sp->validate(ctx, s, why, whylen, details)) {
            *stp = sp->commit(ctx, s, details);
            discard_candidates(s);
            if (*stp) { /* commit failures are resource errors: fatal */
                json_decref(details);
                json_object_set_new(obj, "status", json_string("failed"));
                return TRY_COMMIT_FAILED;
            }
            json_object_set_new(obj, "backend", json_string(bk->name));
            json_object_set_new(obj, "details", details);
            return TRY_COMMITTED;
        }
    } else {
        snprintf(why, whylen, "%s", ctx->errmsg[0] ? ctx->errmsg : carve_strerror(st));
    }
    discard_candidates(s);
    *rejected = details;
    return TRY_REJECTED;
}

/* Notes a backend that was not used (with what it measured, e.g. its
 * matte's foreground) in the step's fallbacks and the log.  True when that
 * was routine: a neural backend that is merely not installed, in auto mode. */
static bool note_rejected(carve_ctx *ctx, const step *sp, const backend *bk, carve_status st, const char *why,
                          json_t *details, json_t *attempts, bool more) {
    json_t *a = json_object();
    json_object_set_new(a, "backend", json_string(bk->name));
    json_object_set_new(a, "reason", json_string(why));
    if (json_object_size(details)) json_object_set_new(a, "details", details);
    else json_decref(details);
    bool routine = st == CARVE_ERR_NOT_FOUND && sp->backend_opt >= 0 &&
                   carve__opt_enum(ctx, (carve_optid)sp->backend_opt) == BACKEND_AUTO;
    if (routine) json_object_set_new(a, "unavailable", json_true());
    json_array_append_new(attempts, a);
    carve__log(ctx, routine ? CARVE_LOG_INFO : CARVE_LOG_WARN, "%s: backend %s not used: %s%s", sp->name, bk->name,
               why, more ? " (falling back)" : "");
    return routine;
}

/* The step's status once its backends were tried: ok or fallback, skipped
 * (an optional step whose backends all failed: the image goes on
 * unchanged), or failed. */
static carve_status step_outcome(carve_ctx *ctx, const step *sp, json_t *obj, carve_status st, bool ok,
                                 bool real_fallback, int nb, const char *why) {
    if (fatal_status(st) && !ok) {
        json_object_set_new(obj, "status", json_string(st == CARVE_ERR_CANCELLED ? "cancelled" : "failed"));
        return st;
    }
    if (ok) {
        json_object_set_new(obj, "status", json_string(real_fallback ? "fallback" : "ok"));
        return CARVE_OK;
    }
    if (sp->optional) {
        json_object_set_new(obj, "status", json_string("skipped"));
        json_object_set_new(obj, "backend", json_string("none"));
        json_object_set_new(obj, "reason", json_string(nb ? "every backend failed; the image goes on unchanged"
                                                          : "no backend available"));
        carve__log(ctx, CARVE_LOG_WARN, "%s: skipped: every backend failed", sp->name);
        carve__clear_error(ctx);
        return CARVE_OK;
    }
    json_object_set_new(obj, "status", json_string("failed"));
    if (!nb) st = carve__fail(ctx, CARVE_ERR_INTERNAL, "%s: no backend", sp->name);
    else if (st == CARVE_ERR_BACKEND && why[0] && !strstr(ctx->errmsg, why))
        carve__fail(ctx, CARVE_ERR_BACKEND, "%s: %s", sp->name, why);
    return st;
}

/* One step: prepare, applies?, then its backends in order until one's
 * result validates and is committed; the report gets the step's status,
 * backend, fallbacks, time, CPU and peak memory. */
static carve_status run_step(carve_ctx *ctx, run_state *s, const step *sp, json_t *steps_arr) {
    double t0 = carve__now(), c0 = carve__cpu_now();
    json_t *obj = json_object();
    json_t *attempts = json_array();
    json_object_set_new(obj, "name", json_string(sp->name));
    carve_status st = CARVE_OK;
    char why[512];
    why[0] = 0;

    if (sp->prepare && (st = sp->prepare(ctx, s)) != CARVE_OK) {
        json_object_set_new(obj, "status", json_string(st == CARVE_ERR_CANCELLED ? "cancelled" : "failed"));
        goto done;
    }
    if (sp->applies && !sp->applies(ctx, s, why, sizeof why)) {
        json_object_set_new(obj, "status", json_string("skipped"));
        json_object_set_new(obj, "backend", json_string("none"));
        json_object_set_new(obj, "reason", json_string(why));
        carve__log(ctx, CARVE_LOG_DEBUG, "%s: skipped (%s)", sp->name, why);
        goto done;
    }
    const backend *list[MAX_BACKENDS];
    int nb = 0;
    if (sp->plan) nb = sp->plan(ctx, s, list);
    else
        while (nb < MAX_BACKENDS && sp->backends[nb]) list[nb] = sp->backends[nb], nb++;
    bool ok = false, real_fallback = false;
    for (int b = 0; b < nb; b++) {
        json_t *details = NULL;
        int r = try_backend(ctx, s, sp, list[b], obj, why, sizeof why, &details, &st);
        if (r == TRY_FATAL) break;
        if (r == TRY_COMMIT_FAILED) goto done;
        if (r == TRY_COMMITTED) {
            ok = true;
            break;
        }
        if (!note_rejected(ctx, sp, list[b], st, why, details, attempts, b + 1 < nb)) real_fallback = true;
        if (st == CARVE_OK) st = CARVE_ERR_BACKEND; /* validation failed */
    }
    st = step_outcome(ctx, sp, obj, st, ok, real_fallback, nb, why);
done:
    json_object_set_new(obj, "fallbacks", attempts);
    json_object_set_new(obj, "time_s", json_real(ms3(carve__now() - t0)));
    json_object_set_new(obj, "cpu_s", json_real(ms3(carve__cpu_now() - c0)));
    json_object_set_new(obj, "peak_rss_mb", json_real(mb(carve__peak_rss())));
    json_array_append_new(steps_arr, obj);
    return st;
}

/* ---- small helpers -------------------------------------------------------- */

static carve_status keep(carve_ctx *ctx, const char *name, const carve_image *img) {
    if (!carve__opt_bool(ctx, CARVE_OPTID_keep_intermediates) || !img) return CARVE_OK;
    return carve__keep_intermediate(ctx, name, img);
}

static carve_status keep_map(carve_ctx *ctx, const char *name, const uint8_t *map, int w, int h) {
    if (!carve__opt_bool(ctx, CARVE_OPTID_keep_intermediates) || !map) return CARVE_OK;
    carve_image *im = carve__map_to_image(map, w, h);
    if (!im) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory keeping intermediate %s", name);
    carve_status st = carve__keep_intermediate(ctx, name, im);
    carve_image_destroy(im);
    return st;
}

static double fg_fraction(const uint8_t *map, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += map[i] >= 128;
    return n ? (double)c / (double)n : 0;
}

static json_t *box_json(const run_state *s, const carve__box *b) {
    /* report boxes in input-image pixels */
    json_t *o = json_object();
    int x0 = (int)floor(b->x / s->sx), y0 = (int)floor(b->y / s->sy);
    int x1 = (int)ceil((b->x + b->w) / s->sx), y1 = (int)ceil((b->y + b->h) / s->sy);
    json_object_set_new(o, "kind", json_string(b->kind));
    json_object_set_new(o, "score", json_real(round(b->score * 1000.0) / 1000.0));
    json_object_set_new(o, "x", json_integer(x0));
    json_object_set_new(o, "y", json_integer(y0));
    json_object_set_new(o, "w", json_integer(x1 - x0));
    json_object_set_new(o, "h", json_integer(y1 - y0));
    return o;
}

/* ============================================================================
 * Subject: detect vehicles and persons, choose the vehicle(s) the
 * illustration is of.  Runs first (on the photo before any erasing), so the
 * plate search and the matte both know the subject.
 * ========================================================================== */

#define MAX_OBJECTS 256 /* a car park: bounded work, the best-scored kept */

static void warn(carve_ctx *ctx, run_state *s, const char *fmt, ...) CARVE_PRINTF(3, 4);
static void warn(carve_ctx *ctx, run_state *s, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!s->warnings) s->warnings = json_array();
    json_array_append_new(s->warnings, json_string(buf));
    carve__log(ctx, CARVE_LOG_WARN, "%s", buf);
}

/* A neural step's provenance for the report: model, file, sha256, runtime,
 * input size, threads, the image it ran on (w x h) and its wall time. */
static json_t *nn_info_json(const carve__nn_info *info, int w, int h, double seconds) {
    json_t *p = json_object();
    json_object_set_new(p, "model", json_string(info->model));
    json_object_set_new(p, "file", json_string(info->file));
    json_object_set_new(p, "sha256", json_string(info->sha256));
    json_object_set_new(p, "runtime", json_string(info->runtime));
    json_object_set_new(p, "input_width", json_integer(info->input_w));
    json_object_set_new(p, "input_height", json_integer(info->input_h));
    json_object_set_new(p, "threads", json_integer(info->threads));
    json_object_set_new(p, "image_width", json_integer(w));
    json_object_set_new(p, "image_height", json_integer(h));
    json_object_set_new(p, "time_s", json_real(ms3(seconds)));
    return p;
}

static carve_status subject_neural(carve_ctx *ctx, run_state *s, json_t *d) {
    carve__nn_info info;
    carve_status st = carve__nn_detect_objects_info(ctx, s->img, &s->cand_boxes, &s->cand_n, &info);
    if (st) return st;
    json_object_set_new(d, "detector", nn_info_json(&info, s->w, s->h, info.seconds));
    return CARVE_OK;
}

static carve_status subject_classical(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)ctx;
    (void)s;
    json_object_set_new(d, "detector", json_string("none (no vehicle detector: the matte finds the salient object)"));
    return CARVE_OK;
}

/* The subject step's preparation: the frame's neural text pass (which does
 * not depend on the subject) starts on a thread of its own, so that the two
 * models' session creation and runs overlap. */
static carve_status subject_prepare(carve_ctx *ctx, run_state *s) {
    if (s->prm.sanitize.neural_text && carve__opt_bool(ctx, CARVE_OPTID_auto_erase))
        s->ahead = carve__text_ahead_start(ctx, s->img);
    return CARVE_OK;
}

static const backend be_subject_neural = {"neural", subject_neural};
static const backend be_subject_classical = {"classical", subject_classical};

static int subject_plan(carve_ctx *ctx, run_state *s, const backend **list) {
    (void)ctx;
    int n = 0;
    if (s->prm.subject.neural_objects) list[n++] = &be_subject_neural;
    list[n++] = &be_subject_classical;
    return n;
}

static bool subject_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    if (s->cand_n < 0 || (s->cand_n > 0 && !s->cand_boxes)) {
        snprintf(why, n, "detector returned an invalid box list");
        return false;
    }
    int k = 0;
    for (int i = 0; i < s->cand_n; i++) {
        carve__box b = s->cand_boxes[i];
        int x0 = carve__clampi(b.x, 0, s->w), y0 = carve__clampi(b.y, 0, s->h);
        int x1 = carve__clampi(b.x + b.w, 0, s->w), y1 = carve__clampi(b.y + b.h, 0, s->h);
        if (b.w <= 0 || b.h <= 0 || x1 <= x0 || y1 <= y0) continue;
        b = (carve__box){x0, y0, x1 - x0, y1 - y0, b.score, ""};
        memcpy(b.kind, s->cand_boxes[i].kind, sizeof b.kind);
        b.kind[sizeof b.kind - 1] = 0;
        if (!(b.score >= 0 && b.score <= 1)) b.score = b.score > 1 ? 1 : 0;
        int j = k++; /* keep sorted by score (stable) */
        while (j > 0 && s->cand_boxes[j - 1].score < b.score) {
            s->cand_boxes[j] = s->cand_boxes[j - 1];
            j--;
        }
        s->cand_boxes[j] = b;
    }
    if (k > MAX_OBJECTS) {
        json_object_set_new(d, "dropped", json_integer(k - MAX_OBJECTS));
        k = MAX_OBJECTS;
    }
    s->cand_n = k;
    return true;
}

static json_t *subject_detections_json(const run_state *s, const carve__subject_score *sc, const bool *chosen) {
    json_t *arr = json_array();
    for (int i = 0; i < s->nobjects; i++) {
        json_t *o = box_json(s, &s->objects[i]);
        if (carve__is_vehicle(s->objects[i].kind)) {
            json_t *c = json_object();
            json_object_set_new(c, "area", json_real(round(sc[i].area * 10000) / 10000));
            json_object_set_new(c, "centrality", json_real(round(sc[i].centrality * 1000) / 1000));
            json_object_set_new(c, "sharpness", json_real(round(sc[i].sharpness * 1000) / 1000));
            json_object_set_new(c, "prominence", json_real(round(sc[i].prominence * 1e6) / 1e6));
            json_object_set_new(o, "criteria", c);
        }
        json_object_set_new(o, "chosen", json_boolean(chosen[i]));
        json_array_append_new(arr, o);
    }
    return arr;
}

static carve_status subject_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    free(s->objects);
    s->objects = s->cand_boxes;
    s->nobjects = s->cand_n;
    s->cand_boxes = NULL;
    s->cand_n = 0;
    int n = s->nobjects;
    carve__subject_score *sc = malloc((size_t)(n ? n : 1) * sizeof *sc);
    bool *chosen = malloc((size_t)(n ? n : 1) * sizeof *chosen);
    s->occluders = malloc((size_t)(n ? n : 1) * sizeof *s->occluders);
    if (!sc || !chosen || !s->occluders) {
        free(sc);
        free(chosen);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    char why[512];
    int capped = 0;
    int maxs = (int)carve__opt_int(ctx, CARVE_OPTID_max_subjects);
    carve_status st = carve__subject_choose(ctx, s->img, s->objects, n, &s->subj_spec, maxs, sc, chosen, &s->subject,
                                            &s->nsubject, &capped, why, sizeof why);
    if (st) {
        free(sc);
        free(chosen);
        return st;
    }
    static const char *const modes[] = {"auto", "all", "point", "box"};
    json_object_set_new(d, "mode", json_string(modes[s->subj_spec.mode]));
    json_object_set_new(d, "detections", subject_detections_json(s, sc, chosen));
    json_t *sub = json_array();
    for (int i = 0; i < s->nsubject; i++) json_array_append_new(sub, box_json(s, &s->subject[i]));
    json_object_set_new(d, "subject", sub);
    bool detector = json_is_object(json_object_get(d, "detector"));
    if (!detector && s->subj_spec.mode <= CARVE__SUBJECT_ALL)
        snprintf(why, sizeof why, "no vehicle detector: the salient object (see this step's fallbacks for why)");
    json_object_set_new(d, "why", json_string(why));
    s->subject_point = s->subj_spec.mode == CARVE__SUBJECT_POINT && !s->nsubject;
    if (capped)
        warn(ctx, s, "subject: %d more vehicle%s left out: option max_subjects is %d", capped, capped == 1 ? "" : "s",
             maxs);
    if (!s->nsubject && s->subj_spec.mode <= CARVE__SUBJECT_ALL)
        warn(ctx, s, "subject: %s; the matte falls back to the salient object",
             detector ? "no vehicle detected" : "no vehicle detector available");
    /* persons in front of the subject */
    s->noccluders = s->nsubject ? carve__subject_occluders(s->objects, n, s->subject, s->nsubject, s->occluders) : 0;
    bool remove = s->prm.subject.remove_occluders;
    json_t *oc = json_array();
    for (int i = 0; i < s->noccluders; i++) json_array_append_new(oc, box_json(s, &s->objects[s->occluders[i]]));
    json_object_set_new(d, "occluders", oc);
    json_object_set_new(d, "occluders_action",
                        json_string(!s->noccluders ? "none found"
                                    : remove       ? "remove: the persons' pixels leave the matte"
                                                   : "keep: the persons stay with the vehicle"));
    json_object_set_new(d, "coordinates", json_string("input image pixels"));
    free(sc);
    free(chosen);
    return CARVE_OK;
}

/* ============================================================================
 * Phase 1 — sanitize: detect plates/text, then inpaint the erase mask.
 * ========================================================================== */

#define MAX_DETECTED 32

static bool detect_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    (void)s;
    if (!carve__opt_bool(ctx, CARVE_OPTID_auto_erase)) {
        snprintf(why, n, "option auto_erase is off");
        return false;
    }
    return true;
}

/* The regions searched for plates at a higher resolution: the vehicles the
 * run knows of, else (no vehicle detected) the whole frame. */
static double box_iou(const carve__box *a, const carve__box *b) {
    int x0 = a->x > b->x ? a->x : b->x, y0 = a->y > b->y ? a->y : b->y;
    int x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    if (x1 <= x0 || y1 <= y0) return 0;
    double in = (double)(x1 - x0) * (y1 - y0);
    return in / ((double)a->w * a->h + (double)b->w * b->h - in);
}

/* True when the vehicles outside the subject leave the illustration: a
 * subject was chosen and the background goes (removed or filled) with a
 * matte that keeps the subject only.  Their plates then need no search of
 * their own (the frame pass still sees the whole image). */
static bool others_leave(carve_ctx *ctx, const run_state *s) {
    return s->nsubject > 0 && s->bg_mode != BG_KEEP &&
           carve__opt_enum(ctx, CARVE_OPTID_matte_components) != CARVE__MATTE_COMPONENTS_ALL;
}

/* The subject's vehicle(s) first, then (unless they leave the illustration)
 * the other vehicles (by score; one box per vehicle); with none, the whole
 * frame. */
static int plate_regions(carve_ctx *ctx, const run_state *s, carve__box *regs, int max) {
    int n = 0;
    for (int i = 0; i < s->nsubject && n < max; i++) regs[n++] = s->subject[i];
    bool others = !others_leave(ctx, s);
    for (int i = 0; i < s->nobjects && n < max && others; i++) {
        const carve__box *o = &s->objects[i];
        if (!carve__is_vehicle(o->kind)) continue;
        bool dup = false;
        for (int j = 0; j < n && !dup; j++) dup = box_iou(o, &regs[j]) > 0.5;
        if (!dup) regs[n++] = *o;
    }
    if (n == 0) {
        carve__box f = {0, 0, s->w, s->h, 1, "frame"};
        regs[n++] = f;
    }
    return n;
}

#define MAX_PLATE_REGIONS 8

static carve_status detect_run(carve_ctx *ctx, run_state *s, json_t *d, bool neural) {
    carve__box regs[MAX_PLATE_REGIONS];
    int nreg = plate_regions(ctx, s, regs, MAX_PLATE_REGIONS);
    if (others_leave(ctx, s))
        json_object_set_new(d, "regions", json_string("the subject only: the other vehicles leave with the background"));
    carve__text_ahead *a = neural ? s->ahead : NULL;
    if (a) s->ahead = NULL; /* joined there, success or not */
    return carve__plate_search(ctx, a, s->orig, s->img, s->sx, s->sy, regs, nreg, neural, &s->cand_hits,
                               &s->cand_nhits, d);
}

static carve_status detect_neural(carve_ctx *ctx, run_state *s, json_t *d) { return detect_run(ctx, s, d, true); }

static carve_status detect_classical(carve_ctx *ctx, run_state *s, json_t *d) { return detect_run(ctx, s, d, false); }

static const backend be_detect_neural = {"neural", detect_neural};
static const backend be_detect_classical = {"classical", detect_classical};

static int detect_plan(carve_ctx *ctx, run_state *s, const backend **list) {
    (void)ctx;
    int n = 0;
    if (s->prm.sanitize.neural_text) list[n++] = &be_detect_neural; /* auto, neural */
    list[n++] = &be_detect_classical;
    return n;
}

static bool detect_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    if (s->cand_nhits < 0 || (s->cand_nhits > 0 && !s->cand_hits)) {
        snprintf(why, n, "detector returned an invalid box list");
        return false;
    }
    /* clamp to the image, drop empty boxes, reject implausible ones */
    int k = 0;
    double area = (double)s->w * s->h;
    for (int i = 0; i < s->cand_nhits; i++) {
        carve__plate_hit h = s->cand_hits[i];
        carve__box b = h.box;
        int x0 = carve__clampi(b.x, 0, s->w), y0 = carve__clampi(b.y, 0, s->h);
        int x1 = carve__clampi(b.x + b.w, 0, s->w), y1 = carve__clampi(b.y + b.h, 0, s->h);
        if (b.w <= 0 || b.h <= 0 || x1 <= x0 || y1 <= y0 || !(h.r.w > 0 && h.r.h > 0)) continue;
        if ((double)(x1 - x0) * (y1 - y0) > 0.25 * area) {
            snprintf(why, n, "detector returned a box of %dx%d covering %.0f%% of the image", x1 - x0, y1 - y0,
                     100.0 * (x1 - x0) * (y1 - y0) / area);
            return false;
        }
        b.x = x0;
        b.y = y0;
        b.w = x1 - x0;
        b.h = y1 - y0;
        b.kind[sizeof b.kind - 1] = 0;
        if (!b.kind[0]) snprintf(b.kind, sizeof b.kind, "text");
        if (!(b.score >= 0 && b.score <= 1)) b.score = b.score > 1 ? 1 : 0;
        h.box = b;
        s->cand_hits[k++] = h;
    }
    if (k > MAX_DETECTED) {
        json_object_set_new(d, "dropped", json_integer(k - MAX_DETECTED));
        k = MAX_DETECTED; /* sorted by score: keep the best */
    }
    s->cand_nhits = k;
    return true;
}

/* A plate panel's margin beyond the detected rectangle: the frame and the
 * blur of its edge. */
#define PANEL_GROW_FRAC 0.06
#define PANEL_GROW_PX 1.0

static bool add_panel(run_state *s, const carve__obox *r, int shape, const char *kind) {
    carve__panel *np = realloc(s->panels, (size_t)(s->npanels + 1) * sizeof *np);
    if (!np) return false;
    s->panels = np;
    char(*nk)[16] = realloc(s->panel_kind, (size_t)(s->npanels + 1) * sizeof *nk);
    if (!nk) return false;
    s->panel_kind = nk;
    carve__panel p;
    memset(&p, 0, sizeof p);
    p.r = *r;
    p.grow = shape == CARVE__PANEL_RECT ? PANEL_GROW_PX + PANEL_GROW_FRAC * fmin(r->w, r->h) : 1.0;
    p.shape = shape;
    /* text: a plain panel in the colour of its own background (the letters
     * are the minority); plates and faces: the colour around them */
    p.from_inside = !strcmp(kind, "text");
    s->panels[s->npanels] = p;
    snprintf(s->panel_kind[s->npanels], 16, "%s", kind);
    s->npanels++;
    return true;
}

static json_t *hit_json(const run_state *s, const carve__plate_hit *h, bool erase) {
    json_t *bj = box_json(s, &h->box);
    json_object_set_new(bj, "erased", json_boolean(erase));
    if (erase) json_object_set_new(bj, "erased_as", json_string("panel"));
    json_object_set_new(bj, "angle", json_real(round(h->r.deg * 10) / 10));
    json_object_set_new(bj, "detector", json_string(h->detector));
    json_object_set_new(bj, "found_in", json_string(h->region < 0 ? "frame" : "region"));
    if (h->region >= 0) json_object_set_new(bj, "region", json_integer(h->region));
    json_object_set_new(bj, "scale", json_real(round(h->scale * 1000) / 1000));
    if (h->turn != 0) json_object_set_new(bj, "turned", json_real(h->turn));
    return bj;
}

static carve_status detect_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    json_t *arr = json_array();
    /* option erase_text decides which detections are erased, whatever the
     * backend: plates only, all text (stickers, adverts, blinds) or none */
    int policy = s->prm.sanitize.erase_text;
    for (int i = 0; i < s->cand_nhits; i++) {
        const carve__plate_hit *h = &s->cand_hits[i];
        bool erase = policy == CARVE__ERASE_TEXT_ALL || (policy == CARVE__ERASE_TEXT_PLATES && !strcmp(h->box.kind, "plate"));
        json_array_append_new(arr, hit_json(s, h, erase));
        if (erase && !add_panel(s, &h->r, CARVE__PANEL_RECT, h->box.kind)) {
            json_decref(arr);
            return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
        }
    }
    json_object_set_new(d, "boxes", arr);
    json_object_set_new(d, "erase_text", json_string(policy == CARVE__ERASE_TEXT_PLATES ? "plates" : policy == CARVE__ERASE_TEXT_ALL ? "all" : "none"));
    json_object_set_new(d, "coordinates", json_string("input image pixels"));
    return CARVE_OK;
}

/* ---- faces: option erase_faces ------------------------------------------- */

static bool faces_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    (void)s;
    if (!carve__opt_bool(ctx, CARVE_OPTID_erase_faces)) {
        snprintf(why, n, "option erase_faces is off");
        return false;
    }
    return true;
}

/* Persons in or around the subject (their box meets the subject's grown
 * by FACE_AROUND of its size on each side; every person without a subject). */
#define FACE_AROUND 0.25

static bool near_subject(const run_state *s, const carve__box *b) {
    if (!s->nsubject) return true;
    for (int i = 0; i < s->nsubject; i++) {
        const carve__box *v = &s->subject[i];
        double gx = FACE_AROUND * v->w, gy = FACE_AROUND * v->h;
        if (b->x < v->x + v->w + gx && b->x + b->w > v->x - gx && b->y < v->y + v->h + gy && b->y + b->h > v->y - gy)
            return true;
    }
    return false;
}

static bool add_face_hit(run_state *s, const carve__obox *r, float score, const char *det) {
    carve__plate_hit *nh = realloc(s->cand_hits, (size_t)(s->cand_nhits + 1) * sizeof *nh);
    if (!nh) return false;
    s->cand_hits = nh;
    carve__plate_hit *h = &nh[s->cand_nhits++];
    memset(h, 0, sizeof *h);
    h->r = *r;
    carve__obox_bounds(r, 0, s->w, s->h, &h->box);
    h->box.score = score;
    snprintf(h->box.kind, sizeof h->box.kind, "face");
    h->region = -1;
    h->scale = s->sx;
    snprintf(h->detector, sizeof h->detector, "%s", det);
    return true;
}

/* The head of every person near the subject that holds no detected face. */
static carve_status heads_of_persons(carve_ctx *ctx, run_state *s, int nfaces) {
    for (int i = 0; i < s->nobjects; i++) {
        const carve__box *p = &s->objects[i];
        if (strcmp(p->kind, "person") || !near_subject(s, p)) continue;
        carve__obox head = carve__head_of_person(p);
        carve__box hb;
        carve__obox_bounds(&head, 0, s->w, s->h, &hb);
        bool has_face = false;
        for (int f = 0; f < nfaces && !has_face; f++) {
            const carve__box *fb = &s->cand_hits[f].box;
            double cx = fb->x + 0.5 * fb->w, cy = fb->y + 0.5 * fb->h;
            has_face = cx >= p->x && cx <= p->x + p->w && cy >= p->y && cy <= p->y + p->h;
        }
        if (!has_face && !add_face_hit(s, &head, p->score, "person-box"))
            return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    return CARVE_OK;
}

/* Faces found by the face detector near the subject (grown by a fifth:
 * a detector box hugs the face), then the heads of the persons without one. */
static carve_status faces_neural(carve_ctx *ctx, run_state *s, json_t *d) {
    carve__box *f = NULL;
    int nf = 0;
    carve_status st = carve__nn_detect_faces(ctx, s->img, &f, &nf);
    for (int i = 0; i < nf && !st; i++) {
        if (!near_subject(s, &f[i])) continue;
        carve__obox r = {f[i].x + 0.5 * f[i].w, f[i].y + 0.5 * f[i].h, 1.2 * f[i].w, 1.3 * f[i].h, 0};
        if (!add_face_hit(s, &r, f[i].score, "face-detector")) st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    free(f);
    int nfaces = s->cand_nhits;
    if (!st) st = heads_of_persons(ctx, s, nfaces);
    json_object_set_new(d, "faces_detected", json_integer(nfaces));
    return st;
}

static carve_status faces_from_persons(carve_ctx *ctx, run_state *s, json_t *d) {
    carve_status st = heads_of_persons(ctx, s, 0);
    json_object_set_new(d, "heads_from_persons", json_integer(s->cand_nhits));
    return st;
}

static const backend be_faces_neural = {"neural", faces_neural};
static const backend be_faces = {"head-of-person", faces_from_persons};

static int faces_plan(carve_ctx *ctx, run_state *s, const backend **list) {
    (void)s;
    int n = 0;
    if (carve__nn_available(ctx, "face_detect")) list[n++] = &be_faces_neural;
    list[n++] = &be_faces;
    return n;
}

static carve_status faces_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    json_t *arr = json_array();
    for (int i = 0; i < s->cand_nhits; i++) {
        const carve__plate_hit *h = &s->cand_hits[i];
        json_t *bj = box_json(s, &h->box);
        json_object_set_new(bj, "erased", json_true());
        json_object_set_new(bj, "erased_as", json_string("panel"));
        json_object_set_new(bj, "detector", json_string(h->detector));
        json_array_append_new(arr, bj);
        if (!add_panel(s, &h->r, CARVE__PANEL_ELLIPSE, "face")) {
            json_decref(arr);
            return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
        }
    }
    json_object_set_new(d, "boxes", arr);
    return CARVE_OK;
}

/* A step's image: there, and of the work size. */
static bool image_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    (void)d;
    if (!s->cand_img || s->cand_img->w != s->w || s->cand_img->h != s->h) {
        snprintf(why, n, "returned %s", s->cand_img ? "an image of another size" : "no image");
        return false;
    }
    return true;
}

/* ---- panels: detected plates, text and faces as flat panels --------------- */

static bool panel_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    (void)ctx;
    if (!s->npanels) {
        snprintf(why, n, "no detection to erase");
        return false;
    }
    return true;
}

static carve_status panel_flat(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    return carve__fill_panels(ctx, s->img, s->panels, s->npanels, &s->cand_img);
}

static const backend be_panel = {"flat", panel_flat};

static const backend *const panel_backends[] = {&be_panel, NULL};

/* The matte reads the photo before anything was erased (see commit_inpaint). */
static void adopt_erased(run_state *s) {
    if (s->pre_erase) carve_image_destroy(s->img);
    else s->pre_erase = s->img;
    s->img = s->cand_img;
    s->cand_img = NULL;
}

static carve_status panel_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)ctx;
    json_t *arr = json_array();
    for (int i = 0; i < s->npanels; i++) {
        const carve__panel *p = &s->panels[i];
        carve__box b;
        carve__obox_bounds(&p->r, p->grow, s->w, s->h, &b);
        snprintf(b.kind, sizeof b.kind, "%s", s->panel_kind[i]);
        b.score = 1;
        json_t *o = box_json(s, &b);
        json_object_del(o, "score");
        json_object_set_new(o, "shape", json_string(p->shape == CARVE__PANEL_ELLIPSE ? "ellipse" : "rectangle"));
        json_object_set_new(o, "angle", json_real(round(p->r.deg * 10) / 10));
        char hex[8];
        carve__hex(p->rgb, hex);
        json_object_set_new(o, "colour", p->has_colour ? json_string(hex) : json_null());
        json_array_append_new(arr, o);
    }
    json_object_set_new(d, "panels", arr);
    adopt_erased(s);
    return CARVE_OK;
}

static carve_status build_mask(carve_ctx *ctx, run_state *s) {
    /* the erase_mask file (if any) was loaded into s->mask by prepare();
     * the boxes are OR-ed in here */
    size_t n = (size_t)s->w * s->h;
    if (!s->mask && s->nboxes) {
        s->mask = calloc(n ? n : 1, 1);
        if (!s->mask) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < s->nboxes; i++) {
        const carve__box *b = &s->boxes[i];
        for (int y = b->y; y < b->y + b->h; y++) memset(s->mask + (size_t)y * s->w + b->x, 255, (size_t)b->w);
    }
    s->mask_px = 0;
    if (s->mask)
        for (size_t i = 0; i < n; i++) s->mask_px += s->mask[i] != 0;
    return CARVE_OK;
}

static carve_status inpaint_prepare(carve_ctx *ctx, run_state *s) {
    carve_status st = build_mask(ctx, s);
    if (!st && s->mask_px) st = keep_map(ctx, "erase_mask", s->mask, s->w, s->h);
    return st;
}

static bool inpaint_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    (void)ctx;
    if (!s->mask_px) {
        snprintf(why, n, "nothing to erase");
        return false;
    }
    return true;
}

static carve_status inpaint_exemplar(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    return carve__inpaint(ctx, s->img, s->mask, &s->cand_img);
}

static carve_status inpaint_diffusion(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    return carve__fill_pushpull(ctx, s->img, s->mask, &s->cand_img);
}

static const backend be_inpaint_exemplar = {"exemplar", inpaint_exemplar};
static const backend be_inpaint_diffusion = {"diffusion", inpaint_diffusion};

static const backend *const inpaint_backends[] = {&be_inpaint_exemplar, &be_inpaint_diffusion, NULL};

static bool inpaint_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    const carve_image *a = s->img, *b = s->cand_img;
    if (!b || b->w != a->w || b->h != a->h) {
        snprintf(why, n, "inpaint returned %s", b ? "an image of another size" : "no image");
        return false;
    }
    size_t np = (size_t)a->w * a->h;
    int64_t changed = 0, outside = 0, holes = 0;
    for (size_t i = 0; i < np; i++) {
        const uint8_t *p = a->px + 4 * i, *q = b->px + 4 * i;
        if (!s->mask[i]) {
            outside += memcmp(p, q, 4) != 0;
            continue;
        }
        int diff = abs(p[0] - q[0]) + abs(p[1] - q[1]) + abs(p[2] - q[2]);
        changed += diff > 6;
        holes += p[3] >= 128 && q[3] < 128;
    }
    double frac = (double)changed / (double)s->mask_px;
    json_object_set_new(d, "masked_pixels", json_integer(s->mask_px));
    json_object_set_new(d, "changed_fraction", json_real(round(frac * 1000) / 1000));
    if (outside) {
        snprintf(why, n, "inpaint changed %lld pixels outside the mask", (long long)outside);
        return false;
    }
    if (holes * 2 > s->mask_px) {
        snprintf(why, n, "inpaint left a transparent hole (%lld of %lld masked pixels)", (long long)holes,
                 (long long)s->mask_px);
        return false;
    }
    if (frac < 0.5) {
        snprintf(why, n, "inpaint left the hole: only %.0f%% of the %lld masked pixels changed", frac * 100,
                 (long long)s->mask_px);
        return false;
    }
    return true;
}

static carve_status commit_image(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)ctx;
    (void)d;
    carve_image_destroy(s->img);
    s->img = s->cand_img;
    s->cand_img = NULL;
    return CARVE_OK;
}

/* Inpainting invents content inside the erased boxes; segmentation must not
 * depend on it (a large panel filled with background-like texture can cut
 * the vehicle's matte), so the image before erasing is kept for the matte. */
static carve_status commit_inpaint(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)ctx;
    (void)d;
    adopt_erased(s);
    return CARVE_OK;
}

static const carve_image *matte_source(const run_state *s) { return s->pre_erase ? s->pre_erase : s->img; }

static carve_status sanitize_finish(carve_ctx *ctx, run_state *s, json_t *ph) {
    (void)ctx;
    json_t *arr = json_array();
    for (int i = 0; i < s->nboxes; i++) json_array_append_new(arr, box_json(s, &s->boxes[i]));
    for (int i = 0; i < s->npanels; i++) {
        carve__box b;
        carve__obox_bounds(&s->panels[i].r, s->panels[i].grow, s->w, s->h, &b);
        snprintf(b.kind, sizeof b.kind, "%s", s->panel_kind[i]);
        b.score = 1;
        json_array_append_new(arr, box_json(s, &b));
    }
    json_object_set_new(ph, "erased_boxes", arr);
    json_object_set_new(ph, "erased_pixels", json_integer(s->mask_px));
    return CARVE_OK;
}

static const step sanitize_steps[] = {
    {"subject", 0.15, true, subject_prepare, NULL, subject_plan, subject_validate, subject_commit, CARVE_OPTID_object_backend},
    {"detect", 0.35, true, NULL, detect_applies, detect_plan, detect_validate, detect_commit, CARVE_OPTID_text_backend},
    {"faces", 0.02, true, NULL, faces_applies, faces_plan, NULL, faces_commit, -1},
    {"panel", 0.05, true, NULL, panel_applies, NULL, image_validate, panel_commit, -1, panel_backends},
    {"inpaint", 0.58, true, inpaint_prepare, inpaint_applies, NULL, inpaint_validate, commit_inpaint, -1, inpaint_backends},
};

/* ============================================================================
 * Phase 2 — steer: matte, flatten, edges; then the background is applied.
 * ========================================================================== */

static bool matte_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    (void)ctx;
    if (s->bg_mode == BG_KEEP) {
        snprintf(why, n, "option background is keep");
        return false;
    }
    return true;
}

static carve_status matte_input_alpha(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    size_t n = (size_t)s->w * s->h;
    s->cand_map = malloc(n ? n : 1);
    if (!s->cand_map) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    carve__image_alpha(s->img, s->cand_map);
    return CARVE_OK;
}

/* The seed the classical matte gets: the subject boxes, the other objects
 * (background outside the subject), the occluders.  *others and *occ are
 * malloc'd (free them). */
static carve_status matte_seed_build(carve_ctx *ctx, const run_state *s, carve__matte_seed *seed, carve__box **others,
                                     carve__box **occ) {
    memset(seed, 0, sizeof *seed);
    *others = malloc((size_t)(s->nobjects + 1) * sizeof **others);
    *occ = malloc((size_t)(s->noccluders + 1) * sizeof **occ);
    if (!*others || !*occ) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    int no = 0;
    for (int i = 0; i < s->nobjects; i++) {
        bool skip = false;
        for (int j = 0; j < s->nsubject && !skip; j++) skip = carve__subject_same(&s->objects[i], &s->subject[j]);
        for (int j = 0; j < s->noccluders && !skip; j++) skip = s->occluders[j] == i;
        if (!skip) (*others)[no++] = s->objects[i];
    }
    for (int j = 0; j < s->noccluders; j++) (*occ)[j] = s->objects[s->occluders[j]];
    seed->subject = s->subject;
    seed->nsubject = s->nsubject;
    seed->others = *others;
    seed->nothers = no;
    seed->occluders = *occ;
    seed->noccluders = s->noccluders;
    seed->keep_occluders = !s->prm.subject.remove_occluders;
    seed->has_point = s->subject_point;
    seed->px = s->subj_spec.x;
    seed->py = s->subj_spec.y;
    return CARVE_OK;
}

/* Neural matte: on the subject's crop (boxes grown by 10 %) when there is a
 * subject, not the whole street; the components inside the subject boxes
 * are kept (hint), and the occluders' central strips removed. */
#define NEURAL_CROP_GROW 0.10
static carve_status matte_neural(carve_ctx *ctx, run_state *s, json_t *d) {
    const carve_image *src = matte_source(s);
    if (!s->nsubject) return carve__nn_matte(ctx, src, &s->cand_map);
    carve__box u = s->subject[0];
    for (int i = 1; i < s->nsubject; i++) {
        const carve__box *b = &s->subject[i];
        int x1 = u.x + u.w > b->x + b->w ? u.x + u.w : b->x + b->w, y1 = u.y + u.h > b->y + b->h ? u.y + u.h : b->y + b->h;
        u.x = u.x < b->x ? u.x : b->x;
        u.y = u.y < b->y ? u.y : b->y;
        u.w = x1 - u.x;
        u.h = y1 - u.y;
    }
    int gx = (int)ceil(NEURAL_CROP_GROW * u.w), gy = (int)ceil(NEURAL_CROP_GROW * u.h);
    int x0 = carve__clampi(u.x - gx, 0, s->w), y0 = carve__clampi(u.y - gy, 0, s->h);
    int x1 = carve__clampi(u.x + u.w + gx, 0, s->w), y1 = carve__clampi(u.y + u.h + gy, 0, s->h);
    int cw = x1 - x0, ch = y1 - y0;
    carve_image *crop = carve__crop(src, x0, y0, cw, ch);
    uint8_t *hint = calloc((size_t)cw * ch, 1), *ca = NULL;
    s->cand_map = calloc((size_t)s->w * s->h, 1);
    if (!crop || !hint || !s->cand_map) {
        carve_image_destroy(crop);
        free(hint);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < s->nsubject; i++) {
        const carve__box *b = &s->subject[i];
        for (int y = b->y - y0; y < b->y + b->h - y0; y++) memset(hint + (size_t)y * cw + (b->x - x0), 255, (size_t)b->w);
    }
    carve__nn_info info;
    double t0 = carve__now();
    carve_status st = carve__nn_model_info(ctx, "matte", &info);
    if (!st) st = carve__nn_matte_hint(ctx, crop, hint, &ca);
    if (!st) {
        json_object_set_new(d, "model", nn_info_json(&info, cw, ch, carve__now() - t0));
        for (int y = 0; y < ch; y++) memcpy(s->cand_map + (size_t)(y0 + y) * s->w + x0, ca + (size_t)y * cw, (size_t)cw);
        if (s->prm.subject.remove_occluders)
            for (int j = 0; j < s->noccluders; j++) {
                const carve__box *o = &s->objects[s->occluders[j]];
                int cx0 = (int)(o->x + o->w * 0.33), cx1 = (int)ceil(o->x + o->w * 0.67);
                for (int y = o->y; y < o->y + o->h; y++) memset(s->cand_map + (size_t)y * s->w + cx0, 0, (size_t)(cx1 - cx0));
            }
        json_t *c = box_json(s, &(carve__box){x0, y0, cw, ch, 1, "crop"});
        json_object_del(c, "score");
        json_object_set_new(d, "crop", c);
    }
    carve_image_destroy(crop);
    free(hint);
    free(ca);
    return st;
}

static carve_status matte_classical(carve_ctx *ctx, run_state *s, json_t *d) {
    carve__matte_seed seed;
    carve__box *others = NULL, *occ = NULL;
    carve_status st = matte_seed_build(ctx, s, &seed, &others, &occ);
    if (!st) {
        json_object_set_new(d, "seed", json_string(seed.nsubject ? "subject boxes" : seed.has_point ? "point" : "none (salient object)"));
        if (seed.noccluders)
            json_object_set_new(d, "occluders", json_string(seed.keep_occluders ? "kept" : "removed"));
        st = carve__matte_seeded(ctx, matte_source(s), &seed, &s->cand_map);
    }
    free(others);
    free(occ);
    return st;
}

static carve_status matte_unseeded(carve_ctx *ctx, run_state *s, json_t *d) {
    json_object_set_new(d, "seed", json_string("none (salient object)"));
    return carve__matte_classical(ctx, matte_source(s), &s->cand_map);
}

static const backend be_matte_alpha = {"input-alpha", matte_input_alpha};
static const backend be_matte_neural = {"neural", matte_neural};
static const backend be_matte_classical = {"classical", matte_classical};
static const backend be_matte_unseeded = {"classical-unseeded", matte_unseeded};

static int matte_plan(carve_ctx *ctx, run_state *s, const backend **list) {
    (void)ctx;
    int n = 0;
    if (s->input_alpha) list[n++] = &be_matte_alpha;
    if (s->prm.steer.neural_matte) list[n++] = &be_matte_neural;
    list[n++] = &be_matte_classical;
    if (s->nsubject || s->subject_point) list[n++] = &be_matte_unseeded;
    return n;
}

static bool matte_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    if (!s->cand_map) {
        snprintf(why, n, "no matte returned");
        return false;
    }
    double f = fg_fraction(s->cand_map, (size_t)s->w * s->h);
    json_object_set_new(d, "foreground_fraction", json_real(round(f * 1000) / 1000));
    double boxes = 0; /* a small subject may be under 0.5 % of the photo: compare with its boxes */
    for (int i = 0; i < s->nsubject; i++) boxes += (double)s->subject[i].w * s->subject[i].h;
    boxes /= (double)s->w * s->h;
    if (s->nsubject && f < 0.2 * boxes) {
        snprintf(why, n, "matte keeps %.1f%% of the photo, under a fifth of the subject's boxes (%.1f%%)", f * 100,
                 boxes * 100);
        return false;
    }
    if (!s->nsubject && f < 0.005) {
        snprintf(why, n, "matte is empty (%.1f%% foreground)", f * 100);
        return false;
    }
    if (f > 0.995) {
        snprintf(why, n, "matte is all foreground (%.1f%%)", f * 100);
        return false;
    }
    return true;
}

static carve_status matte_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    free(s->matte);
    s->matte = s->cand_map;
    s->cand_map = NULL;
    return keep_map(ctx, "matte", s->matte, s->w, s->h);
}

static bool flatten_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    (void)s;
    if (carve__opt_float(ctx, CARVE_OPTID_flatten) <= 0) {
        snprintf(why, n, "option flatten is 0");
        return false;
    }
    return true;
}

static carve_status flatten_run(carve_ctx *ctx, run_state *s, json_t *d) {
    double k = carve__opt_float(ctx, CARVE_OPTID_flatten);
    json_object_set_new(d, "strength", json_real(k));
    return carve__flatten(ctx, s->img, k, &s->cand_img);
}

static const backend be_flatten = {"edge-preserving", flatten_run};

static const backend *const flatten_backends[] = {&be_flatten, NULL};

static carve_status flatten_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    /* flattening smooths colours only: the alpha channel stays the input's */
    size_t np = (size_t)s->w * s->h;
    for (size_t i = 0; i < np; i++) s->cand_img->px[4 * i + 3] = s->img->px[4 * i + 3];
    return commit_image(ctx, s, d);
}

static bool edges_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    (void)s;
    if (!carve__opt_bool(ctx, CARVE_OPTID_outline)) {
        snprintf(why, n, "option outline is off");
        return false;
    }
    return true;
}

static carve_status edges_canny(carve_ctx *ctx, run_state *s, json_t *d) {
    const double sigma = 1.4, lo = 0.1, hi = 0.25;
    json_object_set_new(d, "sigma", json_real(sigma));
    json_object_set_new(d, "low", json_real(lo));
    json_object_set_new(d, "high", json_real(hi));
    return carve__edges_canny(ctx, s->img, sigma, lo, hi, &s->cand_map);
}

static const backend be_edges = {"canny", edges_canny};

static const backend *const edges_backends[] = {&be_edges, NULL};

static bool edges_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    if (!s->cand_map) {
        snprintf(why, n, "no edge map returned");
        return false;
    }
    double f = fg_fraction(s->cand_map, (size_t)s->w * s->h);
    json_object_set_new(d, "edge_fraction", json_real(round(f * 10000) / 10000));
    if (f > 0.3) {
        snprintf(why, n, "edge map marks %.0f%% of the pixels: noise, not outlines", f * 100);
        return false;
    }
    return true;
}

static carve_status edges_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    free(s->edges);
    s->edges = s->cand_map;
    s->cand_map = NULL;
    return keep_map(ctx, "edges", s->edges, s->w, s->h);
}

static carve_status steer_finish(carve_ctx *ctx, run_state *s, json_t *ph) {
    (void)ctx;
    size_t np = (size_t)s->w * s->h;
    const char *applied = "keep";
    if (s->matte && s->bg_mode == BG_REMOVE) {
        for (size_t i = 0; i < np; i++) {
            uint8_t *a = &s->img->px[4 * i + 3];
            if (s->matte[i] < *a) *a = s->matte[i];
        }
        applied = "remove";
    } else if (s->matte && s->bg_mode == BG_COLOR) {
        int br = (int)(s->bg_rgb >> 16) & 255, bgc = (int)(s->bg_rgb >> 8) & 255, bb = (int)s->bg_rgb & 255;
        for (size_t i = 0; i < np; i++) {
            uint8_t *p = &s->img->px[4 * i];
            int a = s->matte[i] < p[3] ? s->matte[i] : p[3];
            p[0] = (uint8_t)((p[0] * a + br * (255 - a) + 127) / 255);
            p[1] = (uint8_t)((p[1] * a + bgc * (255 - a) + 127) / 255);
            p[2] = (uint8_t)((p[2] * a + bb * (255 - a) + 127) / 255);
            p[3] = 255;
        }
        applied = "colour";
    } else if (s->bg_mode != BG_KEEP) {
        applied = "keep (no usable matte)";
    }
    json_object_set_new(ph, "background", json_string(applied));
    if (s->bg_mode == BG_COLOR) {
        char hex[8];
        carve__hex(s->bg_rgb, hex);
        json_object_set_new(ph, "background_color", json_string(hex));
    }
    return CARVE_OK;
}

static const step steer_steps[] = {
    {"matte", 0.5, true, NULL, matte_applies, matte_plan, matte_validate, matte_commit, CARVE_OPTID_matte_backend},
    {"flatten", 0.4, true, NULL, flatten_applies, NULL, image_validate, flatten_commit, -1, flatten_backends},
    {"edges", 0.1, true, NULL, edges_applies, NULL, edges_validate, edges_commit, -1, edges_backends},
};

/* ============================================================================
 * Phase 3 — chroma: palette, optional upscale, quantize.
 * ========================================================================== */

static carve_status parse_lock(carve_ctx *ctx, const char *text, carve_palette **out) {
    *out = NULL;
    if (!text || !*text) return CARVE_OK;
    carve_palette *p = carve_palette_create("lock");
    if (!p) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    const char *q = text;
    while (*q) {
        while (*q == ',' || *q == ' ' || *q == ';') q++;
        if (!*q) break;
        size_t len = strcspn(q, ", ;");
        uint32_t rgb;
        if (!carve__parse_hex(q, len, &rgb)) {
            carve_palette_destroy(p);
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option lock: '%.*s' is not a #rrggbb colour", (int)len, q);
        }
        bool dup = false;
        for (int i = 0; i < carve_palette_count(p); i++) dup |= carve_palette_color(p, i) == rgb;
        if (!dup && carve_palette_add(p, rgb, NULL)) {
            carve_palette_destroy(p);
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option lock: too many colours");
        }
        q += len;
    }
    *out = p;
    return CARVE_OK;
}

static carve_status palette_argument(carve_ctx *ctx, run_state *s, json_t *d) {
    json_object_set_new(d, "source", json_string("argument"));
    s->cand_pal = carve_palette_copy(s->pal_arg);
    return s->cand_pal ? CARVE_OK : carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
}

static carve_status palette_option(carve_ctx *ctx, run_state *s, json_t *d) {
    const char *name = carve__opt_str(ctx, CARVE_OPTID_palette);
    json_object_set_new(d, "source", json_string(name));
    carve_status st = carve_palette_resolve(ctx, name, &s->cand_pal);
    if (st && st != CARVE_ERR_NOMEM && !strstr(ctx->errmsg, "palette")) carve__errprefix(ctx, "option palette");
    /* an unreadable palette file is a bad option value, not an output error */
    if (st == CARVE_ERR_IO) st = CARVE_ERR_NOT_FOUND;
    return st;
}

static carve_status palette_image(carve_ctx *ctx, run_state *s, json_t *d) {
    carve_palette *lock = NULL;
    carve_status st = parse_lock(ctx, carve__opt_str(ctx, CARVE_OPTID_lock), &lock);
    if (st) return st;
    if (s->bg_mode == BG_COLOR && s->matte) { /* keep the requested background exact */
        if (!lock) lock = carve_palette_create("lock");
        if (!lock) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
        bool dup = false;
        for (int i = 0; i < carve_palette_count(lock); i++) dup |= carve_palette_color(lock, i) == s->bg_rgb;
        if (!dup) carve_palette_add(lock, s->bg_rgb, "background");
    }
    int k = (int)carve__opt_int(ctx, CARVE_OPTID_colors);
    json_object_set_new(d, "source", json_string("image"));
    json_object_set_new(d, "colors_requested", json_integer(k));
    if (lock) json_object_set_new(d, "locked", json_integer(carve_palette_count(lock)));
    st = carve_palette_from_image(ctx, s->img, k, lock, &s->cand_pal);
    carve_palette_destroy(lock);
    return st;
}

static const backend be_pal_arg = {"argument", palette_argument};
static const backend be_pal_opt = {"named", palette_option};
static const backend be_pal_img = {"from-image", palette_image};

static int palette_plan(carve_ctx *ctx, run_state *s, const backend **list) {
    if (s->pal_arg) list[0] = &be_pal_arg;
    else if (*carve__opt_str(ctx, CARVE_OPTID_palette)) list[0] = &be_pal_opt;
    else list[0] = &be_pal_img;
    return 1;
}

static bool palette_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    (void)d;
    if (!s->cand_pal || carve_palette_count(s->cand_pal) < 1) {
        snprintf(why, n, "the palette has no colours");
        return false;
    }
    return true;
}

static carve_status palette_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    /* cut mode: the spot colour CutContour must not also be a fill colour */
    for (int i = 0; carve__opt_bool(ctx, CARVE_OPTID_cut) && i < carve_palette_count(s->cand_pal); i++) {
        const char *nm = carve_palette_color_name(s->cand_pal, i);
        if (nm && !strcasecmp(nm, "CutContour"))
            return carve__fail(ctx, CARVE_ERR_PALETTE,
                               "palette colour %d is named '%s', the spot colour of the cut contour (option cut): "
                               "rename it or turn cut off", i + 1, nm);
    }
    carve_palette_destroy(s->pal);
    s->pal = s->cand_pal;
    s->cand_pal = NULL;
    json_object_set_new(d, "count", json_integer(carve_palette_count(s->pal)));
    return CARVE_OK;
}

static bool upscale_applies(carve_ctx *ctx, run_state *s, char *why, size_t n) {
    double f = carve__opt_float(ctx, CARVE_OPTID_upscale);
    int64_t to = carve__opt_int(ctx, CARVE_OPTID_upscale_to);
    int long_side = s->w > s->h ? s->w : s->h;
    if (f <= 1.0 && (to <= 0 || to <= long_side)) {
        snprintf(why, n, "options upscale and upscale_to ask for no upscaling");
        return false;
    }
    return true;
}

static carve_status upscale_run(carve_ctx *ctx, run_state *s, json_t *d) {
    double f = carve__opt_float(ctx, CARVE_OPTID_upscale);
    int64_t to = carve__opt_int(ctx, CARVE_OPTID_upscale_to);
    int long_side = s->w > s->h ? s->w : s->h;
    if (to > 0 && (double)to / long_side > f) f = (double)to / long_side;
    if (f > 8) f = 8;
    json_object_set_new(d, "factor", json_real(f));
    return carve_upscale(ctx, s->img, f, &s->cand_img);
}

static const backend be_upscale = {"libvips", upscale_run};

static const backend *const upscale_backends[] = {&be_upscale, NULL};

static bool upscale_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)ctx;
    (void)d;
    if (!s->cand_img || s->cand_img->w < s->w || s->cand_img->h < s->h) {
        snprintf(why, n, "upscale returned %s", s->cand_img ? "a smaller image" : "no image");
        return false;
    }
    return true;
}

static carve_status upscale_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    int w2 = s->cand_img->w, h2 = s->cand_img->h;
    uint8_t **maps[] = {&s->matte, &s->edges};
    for (int i = 0; i < 2; i++) {
        if (!*maps[i]) continue;
        uint8_t *m = carve__resize_map_nearest(*maps[i], s->w, s->h, w2, h2);
        if (!m) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
        free(*maps[i]);
        *maps[i] = m;
    }
    s->sx *= (double)w2 / s->w;
    s->sy *= (double)h2 / s->h;
    s->w = w2;
    s->h = h2;
    json_object_set_new(d, "width", json_integer(w2));
    json_object_set_new(d, "height", json_integer(h2));
    return commit_image(ctx, s, d);
}

static carve_status quantize_run(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    return carve_quantize(ctx, s->img, s->pal, &s->cand_img);
}

static const backend be_quantize = {"ciede2000", quantize_run};

static const backend *const quantize_backends[] = {&be_quantize, NULL};

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static bool quantize_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    if (!image_validate(ctx, s, why, n, d)) return false;
    int pc = carve_palette_count(s->pal);
    uint32_t cols[CARVE_PALETTE_MAX];
    for (int i = 0; i < pc; i++) cols[i] = carve_palette_color(s->pal, i);
    qsort(cols, (size_t)pc, sizeof cols[0], cmp_u32);
    bool used[CARVE_PALETTE_MAX] = {false};
    size_t np = (size_t)s->w * s->h;
    int64_t opaque = 0, foreign = 0;
    uint32_t last = 0xffffffffu;
    int last_idx = -1;
    for (size_t i = 0; i < np; i++) {
        const uint8_t *p = s->cand_img->px + 4 * i;
        if (p[3] < 128) continue;
        opaque++;
        uint32_t c = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
        if (c != last) {
            const uint32_t *hit = bsearch(&c, cols, (size_t)pc, sizeof c, cmp_u32);
            last = c;
            last_idx = hit ? (int)(hit - cols) : -1;
        }
        if (last_idx < 0) foreign++;
        else used[last_idx] = true;
    }
    int nused = 0;
    for (int i = 0; i < pc; i++) nused += used[i];
    json_object_set_new(d, "colors_used", json_integer(nused));
    json_object_set_new(d, "opaque_fraction", json_real(np ? round((double)opaque / np * 1000) / 1000 : 0));
    if (foreign) {
        snprintf(why, n, "quantize left %lld pixels whose colour is not in the palette", (long long)foreign);
        return false;
    }
    if (!opaque) {
        snprintf(why, n, "quantize produced no opaque pixel: nothing to draw");
        return false;
    }
    if (nused == 1) json_object_set_new(d, "note", json_string("the image maps to a single palette colour"));
    return true;
}

static carve_status quant_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)ctx;
    (void)d;
    carve_image_destroy(s->quant);
    s->quant = s->cand_img;
    s->cand_img = NULL;
    return CARVE_OK;
}

static carve_status chroma_finish(carve_ctx *ctx, run_state *s, json_t *ph) {
    (void)ctx;
    json_t *pal = json_object(), *cols = json_array();
    json_object_set_new(pal, "name", json_string(carve_palette_name(s->pal) ? carve_palette_name(s->pal) : ""));
    for (int i = 0; i < carve_palette_count(s->pal); i++) {
        char hex[8];
        carve__hex(carve_palette_color(s->pal, i), hex);
        json_array_append_new(cols, json_string(hex));
    }
    json_object_set_new(pal, "colors", cols);
    json_object_set_new(ph, "palette", pal);
    return CARVE_OK;
}

static const step chroma_steps[] = {
    {"palette", 0.35, false, NULL, NULL, palette_plan, palette_validate, palette_commit, -1},
    {"upscale", 0.1, false, NULL, upscale_applies, NULL, upscale_validate, upscale_commit, -1, upscale_backends},
    {"quantize", 0.5, false, NULL, NULL, NULL, quantize_validate, quant_commit, -1, quantize_backends},
};

/* ============================================================================
 * Phase 4 — vector: trace, falling back to simpler curve modes.
 * ========================================================================== */

/* Traces at work size in curve mode (CARVE__MODE_*); the document shows the
 * input's size (the viewBox is in work pixels) and the edge map (option
 * outline) becomes stroked paths on top.  The mode is an argument: the
 * caller's options are never touched. */
static carve_status trace_in_mode(carve_ctx *ctx, run_state *s, int mode) {
    return carve__vec_trace_doc_mode(ctx, s->quant, s->ow, s->oh, mode, s->edges, &s->strokes, &s->cand_svg,
                                     &s->cand_svg_len);
}

static carve_status trace_spline(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    return trace_in_mode(ctx, s, CARVE__MODE_SPLINE);
}
static carve_status trace_polygon(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    return trace_in_mode(ctx, s, CARVE__MODE_POLYGON);
}
static carve_status trace_pixel(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)d;
    return trace_in_mode(ctx, s, CARVE__MODE_PIXEL);
}

static const backend be_trace_spline = {"spline", trace_spline};
static const backend be_trace_polygon = {"polygon", trace_polygon};
static const backend be_trace_pixel = {"pixel", trace_pixel};

/* Option mode first, then the simpler modes. */
static int trace_plan(carve_ctx *ctx, run_state *s, const backend **list) {
    (void)ctx;
    switch (s->prm.vector.mode) {
    case CARVE__MODE_PIXEL: list[0] = &be_trace_pixel; return 1;
    case CARVE__MODE_POLYGON: list[0] = &be_trace_polygon; list[1] = &be_trace_pixel; return 2;
    default: list[0] = &be_trace_spline; list[1] = &be_trace_polygon; list[2] = &be_trace_pixel; return 3;
    }
}

static bool trace_validate(carve_ctx *ctx, run_state *s, char *why, size_t n, json_t *d) {
    (void)d;
    (void)ctx;
    bool svg = s->prm.vector.format == CARVE__FORMAT_SVG;
    if (!s->cand_svg || !s->cand_svg_len || (svg && (!strstr(s->cand_svg, "<svg") || !strstr(s->cand_svg, "</svg>")))) {
        snprintf(why, n, "trace returned no %s document", svg ? "SVG" : "vector");
        return false;
    }
    return true;
}

/* the stroke layers in the trace step's report */
static void stroke_report(const run_state *s, json_t *d) {
    const vec_stroke_stats *k = &s->strokes;
    char hex[8];
    carve__hex(k->color, hex);
    if (s->edges) json_object_set_new(d, "outline_strokes", json_integer((json_int_t)k->outline_paths));
    if (k->centerline_paths) {
        json_object_set_new(d, "centerline_strokes", json_integer((json_int_t)k->centerline_paths));
        json_object_set_new(d, "centerline_width", json_real(k->centerline_width));
    }
    if (k->outline_paths || k->centerline_paths) json_object_set_new(d, "stroke_color", json_string(hex));
    if (k->excluded_by_cut) json_object_set_new(d, "strokes", json_string("left out in cut mode"));
}

static carve_status trace_commit(carve_ctx *ctx, run_state *s, json_t *d) {
    (void)ctx;
    free(s->svg);
    s->svg = s->cand_svg;
    s->svg_len = s->cand_svg_len;
    s->cand_svg = NULL;
    size_t paths = 0;
    for (const char *p = s->svg; (p = strstr(p, "<path")); p += 5) paths++;
    json_object_set_new(d, "svg_bytes", json_integer((json_int_t)s->svg_len));
    json_object_set_new(d, "paths", json_integer((json_int_t)paths));
    stroke_report(s, d);
    return CARVE_OK;
}

static const step vector_steps[] = {
    {"trace", 1.0, false, NULL, NULL, trace_plan, trace_validate, trace_commit, -1},
};

/* ============================================================================
 * The phase table and the driver.
 * ========================================================================== */

#define NSTEPS(a) ((int)(sizeof(a) / sizeof((a)[0])))
static const phase phases[] = {
    {"sanitize", 0.04, 0.20, sanitize_steps, NSTEPS(sanitize_steps), sanitize_finish, "sanitize"},
    {"steer", 0.20, 0.45, steer_steps, NSTEPS(steer_steps), steer_finish, "steer"},
    {"chroma", 0.45, 0.70, chroma_steps, NSTEPS(chroma_steps), chroma_finish, NULL},
    {"vector", 0.70, 1.00, vector_steps, NSTEPS(vector_steps), NULL, NULL},
};

static carve_status run_phase(carve_ctx *ctx, run_state *s, const phase *ph) {
    double t0 = carve__now(), c0 = carve__cpu_now();
    json_t *obj = json_object(), *steps = json_array();
    json_object_set_new(obj, "name", json_string(ph->name));
    json_array_append_new(s->phases, obj);
    carve__range outer = carve__progress_push(ctx, ph->lo, ph->hi);
    carve_status st = carve__progress(ctx, 0, ph->name);
    double wsum = 0, acc = 0;
    for (int i = 0; i < ph->nsteps; i++) wsum += ph->steps[i].weight;
    for (int i = 0; i < ph->nsteps && !st; i++) {
        double a = acc / wsum, b = (acc + ph->steps[i].weight) / wsum;
        acc += ph->steps[i].weight;
        carve__range r = carve__progress_push(ctx, a, b);
        st = run_step(ctx, s, &ph->steps[i], steps);
        carve__progress_pop(ctx, r);
        if (!st) st = carve__progress(ctx, b, ph->name);
    }
    if (!st && ph->finish) st = ph->finish(ctx, s, obj);
    if (!st && ph->intermediate) st = keep(ctx, ph->intermediate, s->img);
    if (!st && !strcmp(ph->name, "chroma")) st = keep(ctx, "chroma", s->quant);
    carve__progress_pop(ctx, outer);
    /* the phase's backend: that of its main step (the last one that ran) */
    const char *be = "none";
    bool fallback = false;
    size_t i;
    json_t *sobj;
    json_array_foreach(steps, i, sobj) {
        const char *sb = json_string_value(json_object_get(sobj, "backend"));
        const char *ss = json_string_value(json_object_get(sobj, "status"));
        if (sb && strcmp(sb, "none") && strcmp(json_string_value(json_object_get(sobj, "name")), "edges"))
            be = sb;
        if (ss && !strcmp(ss, "fallback")) fallback = true;
        size_t k;
        json_t *fb;
        json_array_foreach(json_object_get(sobj, "fallbacks"), k, fb) if (!json_object_get(fb, "unavailable")) fallback = true;
    }
    json_object_set_new(obj, "backend", json_string(be));
    json_object_set_new(obj, "status", json_string(st == CARVE_ERR_CANCELLED ? "cancelled"
                                                   : st                       ? "failed"
                                                   : fallback                 ? "fallback"
                                                                              : "ok"));
    json_object_set_new(obj, "time_s", json_real(ms3(carve__now() - t0)));
    json_object_set_new(obj, "cpu_s", json_real(ms3(carve__cpu_now() - c0)));
    json_object_set_new(obj, "peak_rss_mb", json_real(mb(carve__peak_rss())));
    json_object_set_new(obj, "steps", steps);
    return st;
}

/* Option subject against the image: a point must lie inside it, a box must
 * overlap it (it is clipped).  Input pixels. */
static carve_status subject_spec_check(carve_ctx *ctx, run_state *s, int w, int h) {
    carve__subject_spec *sp = &s->subj_spec;
    carve_status st = carve__parse_subject(ctx, carve__opt_str(ctx, CARVE_OPTID_subject), sp);
    if (st) return st;
    if (sp->mode == CARVE__SUBJECT_POINT && (sp->x >= w || sp->y >= h))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE,
                           "option subject: point %d,%d is outside the %dx%d image (input pixels, x < %d and y < %d)",
                           sp->x, sp->y, w, h, w, h);
    if (sp->mode == CARVE__SUBJECT_BOX) {
        if (sp->x >= w || sp->y >= h)
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE,
                               "option subject: box %d,%d,%d,%d is outside the %dx%d image (input pixels)", sp->x,
                               sp->y, sp->w, sp->h, w, h);
        if (sp->x + sp->w > w) sp->w = w - sp->x;
        if (sp->y + sp->h > h) sp->h = h - sp->y;
    }
    return CARVE_OK;
}

/* The subject point/box in work pixels (the box covers the input box). */
static void subject_spec_to_work(run_state *s) {
    carve__subject_spec *sp = &s->subj_spec;
    if (sp->mode == CARVE__SUBJECT_POINT) {
        sp->x = carve__clampi((int)floor((sp->x + 0.5) * s->sx), 0, s->w - 1);
        sp->y = carve__clampi((int)floor((sp->y + 0.5) * s->sy), 0, s->h - 1);
    } else if (sp->mode == CARVE__SUBJECT_BOX) {
        int x0 = carve__clampi((int)floor(sp->x * s->sx), 0, s->w - 1);
        int y0 = carve__clampi((int)floor(sp->y * s->sy), 0, s->h - 1);
        int x1 = carve__clampi((int)ceil((sp->x + sp->w) * s->sx), x0 + 1, s->w);
        int y1 = carve__clampi((int)ceil((sp->y + sp->h) * s->sy), y0 + 1, s->h);
        *sp = (carve__subject_spec){CARVE__SUBJECT_BOX, x0, y0, x1 - x0, y1 - y0};
    }
}

/* The input's size and transparency in the report; an empty or fully
 * transparent input is an error. */
static carve_status check_input(carve_ctx *ctx, run_state *s, json_t *inp) {
    const carve_image *in = s->orig;
    json_object_set_new(inp, "width", json_integer(in->w));
    json_object_set_new(inp, "height", json_integer(in->h));
    if (in->w <= 0 || in->h <= 0 || !in->px) return carve__fail(ctx, CARVE_ERR_EMPTY, "the input image has no pixels");
    size_t np = (size_t)in->w * in->h;
    size_t transparent = 0;
    for (size_t i = 0; i < np; i++) transparent += in->px[4 * i + 3] < 128;
    json_object_set_new(inp, "transparent_fraction", json_real(round((double)transparent / np * 1000) / 1000));
    if (transparent == np)
        return carve__fail(ctx, CARVE_ERR_EMPTY, "the input image is fully transparent: there is nothing to draw");
    s->input_alpha = transparent > 0;
    return CARVE_OK;
}

/* Option background: remove (transparent), keep or #rrggbb. */
static carve_status parse_background(carve_ctx *ctx, run_state *s) {
    const char *bg = carve__opt_str(ctx, CARVE_OPTID_background);
    if (!strcmp(bg, "remove") || !strcmp(bg, "transparent")) s->bg_mode = BG_REMOVE;
    else if (!strcmp(bg, "keep")) s->bg_mode = BG_KEEP;
    else if (bg[0] == '#' && carve__parse_hex(bg, strlen(bg), &s->bg_rgb)) s->bg_mode = BG_COLOR;
    else
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option background: '%s' is not remove, keep or #rrggbb", bg);
    return CARVE_OK;
}

/* Option erase_mask: an image of the input's size, or none (*out NULL). */
static carve_status load_erase_mask(carve_ctx *ctx, const carve_image *in, carve_image **out) {
    *out = NULL;
    const char *mpath = carve__opt_str(ctx, CARVE_OPTID_erase_mask);
    if (!*mpath) return CARVE_OK;
    carve_image *mimg = NULL;
    carve_status st = carve_image_load(ctx, mpath, &mimg);
    if (st) {
        carve__errprefix(ctx, "option erase_mask");
        return st == CARVE_ERR_NOMEM ? st : CARVE_ERR_INVALID_ARG;
    }
    if (mimg->w != in->w || mimg->h != in->h) {
        st = carve__fail(ctx, CARVE_ERR_INVALID_ARG,
                         "option erase_mask: '%s' is %dx%d but the image is %dx%d (they must match)", mpath, mimg->w,
                         mimg->h, in->w, in->h);
        carve_image_destroy(mimg);
        return st;
    }
    *out = mimg;
    return CARVE_OK;
}

/* s->img: the input downscaled so that its long side is at most
 * work_size (a copy when it already is); the scale factors. */
static carve_status downscale_to_work(carve_ctx *ctx, run_state *s) {
    const carve_image *in = s->orig;
    carve_status st = CARVE_OK;
    int ws = (int)carve__opt_int(ctx, CARVE_OPTID_work_size);
    int long_side = in->w > in->h ? in->w : in->h;
    if (long_side > ws) {
        double f = (double)ws / long_side;
        int w = (int)lround(in->w * f), h = (int)lround(in->h * f);
        if (w < 1) w = 1;
        if (h < 1) h = 1;
        st = carve__resize(ctx, in, w, h, CARVE_KERNEL_LANCZOS3, &s->img);
    } else {
        s->img = carve_image_copy(in);
        if (!s->img) st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    if (st) return st;
    s->w = s->img->w;
    s->h = s->img->h;
    s->sx = (double)s->w / in->w;
    s->sy = (double)s->h / in->h;
    return CARVE_OK;
}

/* The user's erase boxes (input pixels) to work pixels in s->boxes; boxes
 * outside the image are ignored with a warning and listed in the report. */
static carve_status user_boxes_to_work(carve_ctx *ctx, run_state *s, const carve__box *ub, int nub, json_t *report) {
    const carve_image *in = s->orig;
    if (nub) {
        s->boxes = malloc((size_t)nub * sizeof *s->boxes);
        if (!s->boxes) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    json_t *ignored = json_array();
    for (int i = 0; i < nub; i++) {
        carve__box b = ub[i];
        int x0 = carve__clampi((int)floor(b.x * s->sx), 0, s->w);
        int y0 = carve__clampi((int)floor(b.y * s->sy), 0, s->h);
        int x1 = carve__clampi((int)ceil(((double)b.x + b.w) * s->sx), 0, s->w);
        int y1 = carve__clampi((int)ceil(((double)b.y + b.h) * s->sy), 0, s->h);
        if (x1 <= x0 || y1 <= y0) {
            char t[96];
            snprintf(t, sizeof t, "%d,%d,%d,%d is outside the %dx%d image", b.x, b.y, b.w, b.h, in->w, in->h);
            json_array_append_new(ignored, json_string(t));
            carve__log(ctx, CARVE_LOG_WARN, "option erase: box %s: ignored", t);
            continue;
        }
        b.x = x0;
        b.y = y0;
        b.w = x1 - x0;
        b.h = y1 - y0;
        s->boxes[s->nboxes++] = b;
    }
    s->nuser = s->nboxes;
    if (json_array_size(ignored)) json_object_set_new(report, "erase_ignored", ignored);
    else json_decref(ignored);
    return CARVE_OK;
}

/* The erase mask image to a work-size mask: white (and opaque) = erase,
 * nearest sampling. */
static carve_status erase_mask_to_work(carve_ctx *ctx, run_state *s, const carve_image *mimg) {
    size_t n = (size_t)s->w * s->h;
    s->mask = calloc(n ? n : 1, 1);
    if (!s->mask) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    for (int y = 0; y < s->h; y++) {
        int my = carve__clampi((int)((y + 0.5) / s->sy), 0, mimg->h - 1);
        for (int x = 0; x < s->w; x++) {
            int mx = carve__clampi((int)((x + 0.5) / s->sx), 0, mimg->w - 1);
            const uint8_t *p = mimg->px + 4 * ((size_t)my * mimg->w + mx);
            int luma = (p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8;
            s->mask[(size_t)y * s->w + x] = (luma >= 128 && p[3] >= 128) ? 255 : 0;
        }
    }
    return CARVE_OK;
}

/* Input checks, background option, erase boxes and mask, downscale.  The
 * options are all validated before any work. */
static carve_status prepare(carve_ctx *ctx, run_state *s, json_t *report) {
    double t0 = carve__now();
    const carve_image *in = s->orig;
    s->ow = in->w;
    s->oh = in->h;
    read_params(ctx, &s->prm);
    json_t *inp = json_object();
    json_object_set_new(report, "input", inp);
    carve_status st = check_input(ctx, s, inp);
    if (!st) st = parse_background(ctx, s);
    /* option subject: syntax checked when set; the image's bounds here */
    if (!st) st = subject_spec_check(ctx, s, in->w, in->h);
    if (st) return st;
    carve__box *ub = NULL; /* user boxes, in input pixels */
    int nub = 0;
    if ((st = carve__parse_erase(ctx, carve__opt_str(ctx, CARVE_OPTID_erase), &ub, &nub))) return st;
    carve_image *mimg = NULL;
    if ((st = load_erase_mask(ctx, in, &mimg)) || (st = downscale_to_work(ctx, s))) goto done;
    subject_spec_to_work(s);
    json_object_set_new(inp, "work_width", json_integer(s->w));
    json_object_set_new(inp, "work_height", json_integer(s->h));
    if ((st = user_boxes_to_work(ctx, s, ub, nub, report))) goto done;
    if (mimg && (st = erase_mask_to_work(ctx, s, mimg))) goto done;
    json_object_set_new(report, "prepare_time_s", json_real(ms3(carve__now() - t0)));
    st = keep(ctx, "input", s->img);
done:
    free(ub);
    carve_image_destroy(mimg);
    return st;
}

static void set_report(carve_ctx *ctx, json_t *report) {
    carve__results_set_report(ctx, json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)));
}

carve_status carve_run(carve_ctx *ctx, const carve_image *in, const carve_palette *pal, char **svg, size_t *len) {
    if (svg) *svg = NULL;
    if (len) *len = 0;
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    carve__results_clear(ctx);
    carve__clear_error(ctx);
    if (!in || !svg) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_run: NULL argument");

    double t0 = carve__now(), c0 = carve__cpu_now();
    run_state s;
    memset(&s, 0, sizeof s);
    s.orig = in;
    s.pal_arg = pal;
    s.phases = json_array();
    json_t *report = json_object();
    if (!report || !s.phases) {
        json_decref(report);
        json_decref(s.phases);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(report, "carve_version", json_string(carve_version()));

    if (ctx->prog_lo == 0 && ctx->prog_hi == 1) ctx->prog_last = 0;
    carve__range outer = carve__progress_push(ctx, 0, 0.04);
    carve_status st = carve__progress(ctx, 0, "prepare");
    if (!st) st = prepare(ctx, &s, report);
    carve__progress_pop(ctx, outer);

    /* the neural matte's session (ISNet: ~1 CPU s) is created while the
     * sanitize phase runs (docs/pipeline.md) */
    char why[64];
    if (!st && s.prm.steer.neural_matte && !s.input_alpha && matte_applies(ctx, &s, why, sizeof why))
        carve__nn_prewarm(ctx, "matte");

    char *opts = carve_ctx_options_json(ctx);
    json_t *oj = opts ? json_loads(opts, 0, NULL) : NULL;
    carve_free(opts);
    json_object_set_new(report, "options", oj ? oj : json_object());
    json_object_set(report, "phases", s.phases);

    for (int i = 0; i < NSTEPS(phases) && !st; i++) {
        st = run_phase(ctx, &s, &phases[i]);
        if (st) carve__errprefix(ctx, "%s", phases[i].name);
    }
    if (!st) st = carve__progress(ctx, 1.0, "done");

    double total = carve__now() - t0;
    json_t *totals = json_object();
    json_object_set_new(totals, "time_s", json_real(ms3(total)));
    json_object_set_new(totals, "cpu_s", json_real(ms3(carve__cpu_now() - c0)));
    json_object_set_new(totals, "peak_rss_mb", json_real(mb(carve__peak_rss())));
    if (s.w > 0 && s.h > 0)
        json_object_set_new(totals, "s_per_mpx_work", json_real(round(total / ((double)s.w * s.h / 1e6) * 1000) / 1000));
    json_object_set_new(report, "totals", totals);
    json_object_set_new(report, "warnings", s.warnings ? json_incref(s.warnings) : json_array());
    if (st) {
        json_t *e = json_object();
        json_object_set_new(e, "status", json_integer(st));
        json_object_set_new(e, "name", json_string(carve_strerror(st)));
        json_object_set_new(e, "message", json_string(ctx->errmsg));
        json_object_set_new(report, "error", e);
        json_object_set_new(report, "status", json_string(st == CARVE_ERR_CANCELLED ? "cancelled" : "failed"));
    } else {
        json_t *o = json_object();
        size_t paths = 0;
        for (const char *p = s.svg; (p = strstr(p, "<path")); p += 5) paths++;
        json_object_set_new(o, "svg_bytes", json_integer((json_int_t)s.svg_len));
        json_object_set_new(o, "paths", json_integer((json_int_t)paths));
        char fmt[16] = "svg";
        carve_ctx_get_option(ctx, "format", fmt, sizeof fmt);
        json_object_set_new(o, "format", json_string(fmt));
        json_object_set_new(o, "width", json_integer(s.ow));
        json_object_set_new(o, "height", json_integer(s.oh));
        json_object_set_new(o, "viewbox_width", json_integer(s.w));
        json_object_set_new(o, "viewbox_height", json_integer(s.h));
        json_object_set_new(report, "output", o);
        json_object_set_new(report, "status", json_string("ok"));
    }
    set_report(ctx, report);
    json_decref(report);
    if (!st) {
        carve__clear_error(ctx); /* notes of rejected backends are in the report */
        *svg = s.svg;
        if (len) *len = s.svg_len;
        s.svg = NULL;
    }
    state_free(&s);
    return st;
}
