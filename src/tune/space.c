/* space.c — the options the tuner searches, their ranges, the unit-cube
 * encoding, and a small deterministic random number generator. */
#include "tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every option that shapes the look.  Ranges are the schema's, narrowed to
 * where the look still changes (colours beyond 48, speckle filters beyond
 * 3000 px, a polygon tolerance beyond 4 px add nothing a house style needs);
 * options missing from this build's schema are skipped. */
static const tune_dim all_dims[] = {
    {"colors", TUNE_INT, 2, 48, true, TUNE_SCALE_NONE, 0, {0}},
    {"flatten", TUNE_FLOAT, 0, 5, false, TUNE_SCALE_NONE, 0, {0}},
    {"smooth", TUNE_FLOAT, 0, 4, false, TUNE_SCALE_NONE, 0, {0}},
    {"majority", TUNE_INT, 0, 3, false, TUNE_SCALE_NONE, 0, {0}},
    {"min_region", TUNE_INT, 0, 3000, true, TUNE_SCALE_AREA, 0, {0}},
    {"filter_speckle", TUNE_INT, 0, 3000, true, TUNE_SCALE_AREA, 0, {0}},
    {"trace_tolerance", TUNE_FLOAT, 0.1, 4, true, TUNE_SCALE_LENGTH, 0, {0}},
    {"corner_threshold", TUNE_FLOAT, 20, 160, false, TUNE_SCALE_NONE, 0, {0}},
    {"length_threshold", TUNE_FLOAT, 0.5, 30, true, TUNE_SCALE_LENGTH, 0, {0}},
    {"splice_threshold", TUNE_FLOAT, 20, 150, false, TUNE_SCALE_NONE, 0, {0}},
    {"detail", TUNE_FLOAT, 0.1, 1, false, TUNE_SCALE_NONE, 0, {0}},
    {"mode", TUNE_ENUM, 0, 0, false, TUNE_SCALE_NONE, 3, {"spline", "polygon", "pixel"}},
    {"dither", TUNE_ENUM, 0, 0, false, TUNE_SCALE_NONE, 2, {"none", "floyd-steinberg"}},
    {"outline", TUNE_BOOL, 0, 1, false, TUNE_SCALE_NONE, 0, {0}},
};

void carve__tune_space(tune_space *sp) {
    memset(sp, 0, sizeof *sp);
    for (size_t i = 0; i < sizeof all_dims / sizeof all_dims[0] && sp->n < TUNE_MAX_DIMS; i++) {
        const carve_option_info *o = carve_option_find(all_dims[i].key);
        if (!o) continue;
        tune_dim d = all_dims[i];
        if (d.kind == TUNE_INT || d.kind == TUNE_FLOAT) {
            if (d.lo < o->min) d.lo = o->min;
            if (d.hi > o->max) d.hi = o->max;
            if (d.hi <= d.lo) continue;
        }
        sp->dim[sp->n++] = d;
    }
}

static double to_unit(const tune_dim *d, double v) {
    double u;
    if (d->log) u = (log1p(v) - log1p(d->lo)) / (log1p(d->hi) - log1p(d->lo));
    else u = (v - d->lo) / (d->hi - d->lo);
    return u < 0 ? 0 : u > 1 ? 1 : u;
}

static double from_unit(const tune_dim *d, double u) {
    if (d->log) return expm1(log1p(d->lo) + u * (log1p(d->hi) - log1p(d->lo)));
    return d->lo + u * (d->hi - d->lo);
}

static int choice_of(const tune_dim *d, double u) {
    int n = d->kind == TUNE_BOOL ? 2 : d->nchoices;
    int k = (int)floor(u * n);
    return k < 0 ? 0 : k >= n ? n - 1 : k;
}

void carve__tune_encode(const tune_space *sp, const carve_ctx *ctx, double *u) {
    for (int i = 0; i < sp->n; i++) {
        const tune_dim *d = &sp->dim[i];
        char buf[64];
        carve_ctx_get_option(ctx, d->key, buf, sizeof buf);
        u[i] = 0.5;
        if (d->kind == TUNE_BOOL) u[i] = !strcmp(buf, "true") ? 0.75 : 0.25;
        else if (d->kind == TUNE_ENUM) {
            for (int k = 0; k < d->nchoices; k++)
                if (!strcmp(buf, d->choices[k])) u[i] = (k + 0.5) / d->nchoices;
        } else u[i] = to_unit(d, strtod(buf, NULL));
    }
}

void carve__tune_value(const tune_dim *d, double u, char *buf, size_t len) {
    switch (d->kind) {
    case TUNE_INT: snprintf(buf, len, "%.0f", round(from_unit(d, u))); break;
    case TUNE_FLOAT: {
        double v = from_unit(d, u);
        snprintf(buf, len, "%.3g", v);
        if (strtod(buf, NULL) < d->lo) snprintf(buf, len, "%.17g", d->lo);
        break;
    }
    case TUNE_BOOL: snprintf(buf, len, "%s", choice_of(d, u) ? "true" : "false"); break;
    default: snprintf(buf, len, "%s", d->choices[choice_of(d, u)]); break;
    }
}

char *carve__tune_json(const tune_space *sp, const double *u) {
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "{");
    for (int i = 0; i < sp->n; i++) {
        const tune_dim *d = &sp->dim[i];
        char val[64];
        carve__tune_value(d, u[i], val, sizeof val);
        bool quoted = d->kind == TUNE_ENUM;
        carve__buf_printf(&b, "%s\"%s\": %s%s%s", i ? ", " : "", d->key, quoted ? "\"" : "", val, quoted ? "\"" : "");
    }
    carve__buf_puts(&b, "}");
    return carve__buf_take(&b, NULL);
}

carve_status carve__tune_apply(const tune_space *sp, const double *u, double f, carve_ctx *ctx) {
    for (int i = 0; i < sp->n; i++) {
        const tune_dim *d = &sp->dim[i];
        char val[64];
        carve__tune_value(d, u[i], val, sizeof val);
        if (d->scale != TUNE_SCALE_NONE && f < 1) {
            const carve_option_info *o = carve_option_find(d->key);
            double v = strtod(val, NULL) * (d->scale == TUNE_SCALE_AREA ? f * f : f);
            if (v < o->min) v = o->min;
            if (d->kind == TUNE_INT) snprintf(val, sizeof val, "%.0f", round(v));
            else snprintf(val, sizeof val, "%.17g", v);
        }
        carve_status st = carve_ctx_set_option(ctx, d->key, val);
        if (st) return st;
    }
    return CARVE_OK;
}

/* ---- splitmix64 ---------------------------------------------------------- */
uint64_t carve__rng_next(tune_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double carve__rng_unit(tune_rng *r) { return (double)(carve__rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double carve__rng_gauss(tune_rng *r) {
    double u1 = carve__rng_unit(r), u2 = carve__rng_unit(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}
