/*
 * tune.h — internals of the tuner (src/tune): the search space, the style
 * distance, SVG rasterising and the optimiser.  Layering: core <- phases <-
 * pipeline <- tune <- tools/server; the tuner calls the pipeline through the
 * public API only (carve_run).
 */
#ifndef CARVE_TUNE_H
#define CARVE_TUNE_H

#include "core.h"

/* ---- search space (space.c) -------------------------------------------- */
enum { TUNE_INT, TUNE_FLOAT, TUNE_BOOL, TUNE_ENUM };
/* how a value changes when a trial runs at a smaller work size */
enum { TUNE_SCALE_NONE, TUNE_SCALE_AREA, TUNE_SCALE_LENGTH };

typedef struct tune_dim {
    const char *key;   /* option key */
    int kind;          /* TUNE_INT ... */
    double lo, hi;     /* searched range (clamped to the schema's) */
    bool log;          /* sampled uniformly in log(1 + v) */
    int scale;         /* TUNE_SCALE_* */
    int nchoices;      /* ENUM: number of choices searched (a prefix-free list below) */
    const char *choices[4];
} tune_dim;

#define TUNE_MAX_DIMS 24
typedef struct tune_space {
    tune_dim dim[TUNE_MAX_DIMS];
    int n;
} tune_space;

/** The searched options that exist in this build's schema. */
void carve__tune_space(tune_space *sp);
/** The point of the unit cube that encodes ctx's current values. */
void carve__tune_encode(const tune_space *sp, const carve_ctx *ctx, double *u);
/** Text value of dimension d at u (deterministic rounding: what is evaluated
 *  is exactly what is written). */
void carve__tune_value(const tune_dim *d, double u, char *buf, size_t len);
/** The options of point u as a JSON object (malloc'd). */
char *carve__tune_json(const tune_space *sp, const double *u);
/** Applies point u to ctx; area options are scaled by f^2, lengths by f
 *  (f = trial work size / full work size). */
carve_status carve__tune_apply(const tune_space *sp, const double *u, double f, carve_ctx *ctx);

/* ---- random numbers (space.c): splitmix64, deterministic ------------- */
typedef struct tune_rng { uint64_t s; } tune_rng;
uint64_t carve__rng_next(tune_rng *r);
double carve__rng_unit(tune_rng *r);   /* [0,1) */
double carve__rng_gauss(tune_rng *r);  /* N(0,1) */

#endif

/* ---- the tuner (tune.c, prepare.c) ---------------------------------------- */
#define TUNE_RUNGS 3

typedef struct tune_pair {
    char *name;
    carve_image *photo, *ref;          /* copies of the inputs */
    carve_image *in[TUNE_RUNGS];       /* prepared input per rung (sanitised, subject in alpha) */
    carve_image *rf[TUNE_RUNGS];       /* the reference at that size */
    double frac[TUNE_RUNGS];           /* rung size / full work size */
    bool keep_bg;                      /* no transparency: trials keep the background */
} tune_pair;

typedef struct tune_config {
    double u[TUNE_MAX_DIMS];
    double score[TUNE_RUNGS];          /* NAN until evaluated */
} tune_config;

struct carve_tuner {
    carve_ctx *base;                   /* options; holds the error message */
    tune_space sp;
    tune_pair *pairs;
    int npairs, cap;
    int trials, threads;
    double time_limit;
    uint64_t seed;
    carve_tune_fn cb;
    void *cb_user;
    carve_log_fn log;
    void *log_user;
    atomic_int cancel;
    double *restored;
    int nrestored, restored_cap;
    bool prepared;
    /* search state */
    tune_config *cfg;
    int ncfg;
    int nevals;
    int design_next;                   /* propose.c: next entry of the structured design */
    int best_cfg, best_rung;
    double best_score;
    double cost_done, cost_total;
    double t0;
};

/** Scales each pair's reference and photo to the rungs' sizes (prepare.c). */
carve_status carve__tune_prepare(carve_tuner *t);
/** Mean style distance of point u at rung r over the pairs (prepare.c). */
carve_status carve__tune_evaluate(carve_tuner *t, const double *u, int rung, double *score);
/** Fraction of the full work size at rung r. */
double carve__tune_rung_fraction(int rung);
void carve__tune_log(carve_tuner *t, int level, const char *fmt, ...) CARVE_PRINTF(3, 4);

/* ---- proposals (propose.c) ------------------------------------------------ */
/** Writes configuration c (of n) from the rung-0 scores of 0..c-1 and rng. */
void carve__tune_propose(carve_tuner *t, tune_rng *rng, int c, int n);
/** How many of n configurations the structured design takes. */
int carve__tune_design_size(int n);
/** Configurations 0..n-1 with a score at rung r, best first (ties: lower
 *  index); returns how many, -1 when out of memory. */
int carve__tune_rank(const carve_tuner *t, int n, int r, int *out);
