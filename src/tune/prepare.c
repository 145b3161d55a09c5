/* prepare.c — the tuner's inputs: each photo run once through sanitize and
 * steer (plates erased, matte), the reference aligned to the photo's work
 * size, both scaled to each rung; and one evaluation of a candidate. */
#include "tune.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double rung_fraction[TUNE_RUNGS] = {0.3, 0.55, 1.0};
#define RUNG_MIN_SIDE 160
#define ASPECT_TOLERANCE 0.02
#define ALPHA_OPAQUE 128
#define FAILED_SCORE 1000.0 /* a candidate the pipeline refuses */

double carve__tune_rung_fraction(int rung) { return rung_fraction[rung]; }

void carve__tune_log(carve_tuner *t, int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    carve__vlog_to(t->log, t->log_user, level, fmt, ap);
    va_end(ap);
}

static int cancel_cb(void *user, double f, const char *stage) {
    (void)f;
    (void)stage;
    carve_tuner *t = user;
    return atomic_load(&t->cancel);
}

static bool has_transparency(const carve_image *im) {
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++)
        if (im->px[4 * i + 3] < ALPHA_OPAQUE) return true;
    return false;
}

/* Runs the photo through the pipeline once and returns the sanitised
 * work-size image with the subject in alpha. */
static carve_status sanitised_input(carve_tuner *t, tune_pair *p, carve_image **out, const carve_image **matte_out,
                                    carve_ctx **ctx_out) {
    carve_ctx *ctx = carve_ctx_clone(t->base);
    if (!ctx) return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
    carve_ctx_set_option(ctx, "keep_intermediates", "true");
    carve_ctx_set_progress(ctx, cancel_cb, t);
    char *svg = NULL;
    size_t len = 0;
    carve_status st = carve_run(ctx, p->photo, NULL, &svg, &len);
    carve_free(svg);
    const carve_image *san = carve_ctx_intermediate(ctx, "sanitize");
    if (!st && !san) st = carve__fail(ctx, CARVE_ERR_INTERNAL, "no sanitised image");
    if (st) {
        carve__fail(t->base, st, "photo '%s': %s", p->name, carve_ctx_errmsg(ctx));
        carve_ctx_destroy(ctx);
        return st;
    }
    *out = carve_image_copy(san);
    *matte_out = carve_ctx_intermediate(ctx, "matte");
    *ctx_out = ctx;
    return *out ? CARVE_OK : carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
}

/* The reference at the photo's work size; its alpha (or the matte) becomes
 * the input's alpha. */
static carve_status align(carve_tuner *t, tune_pair *p, carve_image *full, const carve_image *matte,
                          carve_image **ref_out) {
    double ar_ref = (double)p->ref->w / p->ref->h, ar_in = (double)full->w / full->h;
    if (fabs(ar_ref / ar_in - 1) > ASPECT_TOLERANCE)
        carve__tune_log(t, CARVE_LOG_WARN, "reference '%s' is %dx%d, the photo %dx%d: scaled to the photo's aspect ratio",
                        p->name, p->ref->w, p->ref->h, p->photo->w, p->photo->h);
    carve_status st = carve__resize(t->base, p->ref, full->w, full->h, CARVE_KERNEL_LANCZOS3, ref_out);
    if (st) return st;
    size_t n = (size_t)full->w * full->h;
    bool bg_remove = !strcmp(carve__opt_str(t->base, CARVE_OPTID_background), "remove");
    if (has_transparency(*ref_out)) {
        for (size_t i = 0; i < n; i++) full->px[4 * i + 3] = (*ref_out)->px[4 * i + 3];
    } else if (bg_remove && matte) {
        for (size_t i = 0; i < n; i++) full->px[4 * i + 3] = matte->px[4 * i];
    } else {
        for (size_t i = 0; i < n; i++) full->px[4 * i + 3] = 255;
    }
    p->keep_bg = !has_transparency(full);
    return CARVE_OK;
}

static carve_status make_rungs(carve_tuner *t, tune_pair *p, carve_image *full, carve_image *ref) {
    int side = full->w > full->h ? full->w : full->h;
    for (int r = 0; r < TUNE_RUNGS; r++) {
        int target = (int)lround(side * rung_fraction[r]);
        if (target < RUNG_MIN_SIDE) target = RUNG_MIN_SIDE;
        if (target >= side || r == TUNE_RUNGS - 1) {
            p->in[r] = carve_image_copy(full);
            p->rf[r] = carve_image_copy(ref);
            p->frac[r] = 1.0;
            if (!p->in[r] || !p->rf[r]) return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
            continue;
        }
        double f = (double)target / side;
        int w = (int)lround(full->w * f), h = (int)lround(full->h * f);
        if (w < 1) w = 1;
        if (h < 1) h = 1;
        p->frac[r] = f;
        carve_status st = carve__resize(t->base, full, w, h, CARVE_KERNEL_LANCZOS3, &p->in[r]);
        if (!st) st = carve__resize(t->base, ref, w, h, CARVE_KERNEL_LANCZOS3, &p->rf[r]);
        if (st) return st;
    }
    return CARVE_OK;
}

carve_status carve__tune_prepare(carve_tuner *t) {
    for (int i = 0; i < t->npairs; i++) {
        tune_pair *p = &t->pairs[i];
        carve_image *full = NULL, *ref = NULL;
        const carve_image *matte = NULL;
        carve_ctx *run = NULL;
        carve_status st = sanitised_input(t, p, &full, &matte, &run);
        if (!st) st = align(t, p, full, matte, &ref);
        carve_ctx_destroy(run);
        if (!st) st = make_rungs(t, p, full, ref);
        carve_image_destroy(full);
        carve_image_destroy(ref);
        if (st) return st;
        carve__tune_log(t, CARVE_LOG_INFO, "prepared '%s': %dx%d, rungs %dpx / %dpx / %dpx", p->name, p->in[2]->w,
                        p->in[2]->h, p->in[0]->w, p->in[1]->w, p->in[2]->w);
        if (t->cb) {
            /* nothing to report per pair; cancellation is polled */
        }
        if (atomic_load(&t->cancel)) return carve__fail(t->base, CARVE_ERR_CANCELLED, "cancelled");
    }
    return CARVE_OK;
}

/* ---- one evaluation --------------------------------------------------------- */
typedef struct eval_job {
    carve_tuner *t;
    const double *u;
    int rung;
    bool single_thread;
    double *scores;
    carve_status *status;
    char (*msg)[256];
} eval_job;

static carve_status eval_one(carve_tuner *t, const tune_pair *p, const double *u, int rung, bool single, double *score,
                             carve_ctx *ctx) {
    carve_status st = carve__tune_apply(&t->sp, u, p->frac[rung], ctx);
    if (!st) st = carve_ctx_set_option(ctx, "auto_erase", "false");
    if (!st) st = carve_ctx_set_option(ctx, "erase", "");
    if (!st) st = carve_ctx_set_option(ctx, "erase_mask", "");
    if (!st) st = carve_ctx_set_option(ctx, "work_size", "8192");
    if (!st) st = carve_ctx_set_option(ctx, "keep_intermediates", "false");
    if (!st && single) st = carve_ctx_set_option(ctx, "threads", "1");
    if (!st && p->keep_bg) st = carve_ctx_set_option(ctx, "background", "keep");
    if (st) return st;
    carve_ctx_set_progress(ctx, cancel_cb, t);
    char *svg = NULL;
    size_t len = 0;
    const carve_image *in = p->in[rung];
    st = carve_run(ctx, in, NULL, &svg, &len);
    carve_image *render = NULL;
    if (!st) st = carve_image_from_svg(ctx, svg, len, p->name, in->w, in->h, &render);
    carve_free(svg);
    if (!st) st = carve_style_distance(ctx, render, p->rf[rung], score, NULL);
    carve_image_destroy(render);
    return st;
}

static int eval_task(void *arg, int64_t i) {
    eval_job *j = arg;
    carve_ctx *ctx = carve_ctx_clone(j->t->base);
    if (!ctx) {
        j->status[i] = CARVE_ERR_NOMEM;
        return 1;
    }
    carve_status st = eval_one(j->t, &j->t->pairs[i], j->u, j->rung, j->single_thread, &j->scores[i], ctx);
    j->status[i] = st;
    if (st) snprintf(j->msg[i], sizeof j->msg[i], "%s", carve_ctx_errmsg(ctx));
    carve_ctx_destroy(ctx);
    return st == CARVE_ERR_CANCELLED || st == CARVE_ERR_NOMEM;
}

carve_status carve__tune_evaluate(carve_tuner *t, const double *u, int rung, double *score) {
    int n = t->npairs;
    double *scores = calloc((size_t)n, sizeof *scores);
    carve_status *status = calloc((size_t)n, sizeof *status);
    char (*msg)[256] = calloc((size_t)n, sizeof *msg);
    if (!scores || !status || !msg) {
        free(scores);
        free(status);
        free(msg);
        return carve__fail(t->base, CARVE_ERR_NOMEM, "out of memory");
    }
    int threads = t->threads > 0 ? t->threads : carve__threads(t->base);
    eval_job j = {t, u, rung, threads > 1, scores, status, msg};
    carve__parallel_for(threads, n, eval_task, &j);
    carve_status st = CARVE_OK;
    double sum = 0;
    for (int i = 0; i < n && !st; i++) {
        if (status[i] == CARVE_ERR_CANCELLED || status[i] == CARVE_ERR_NOMEM) {
            st = carve__fail(t->base, status[i], "%s", status[i] == CARVE_ERR_CANCELLED ? "cancelled" : "out of memory");
        } else if (status[i]) {
            carve__tune_log(t, CARVE_LOG_WARN, "'%s': a candidate failed (%s); scored %g", t->pairs[i].name, msg[i],
                            FAILED_SCORE);
            sum += FAILED_SCORE;
        } else {
            sum += scores[i];
        }
    }
    if (atomic_load(&t->cancel) && !st) st = carve__fail(t->base, CARVE_ERR_CANCELLED, "cancelled");
    *score = sum / n;
    free(scores);
    free(status);
    free(msg);
    return st;
}
