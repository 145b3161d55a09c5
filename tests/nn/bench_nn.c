/* bench_nn.c — neural backend numbers for bench/nn/run.sh (not a test).
 *
 *   bench_nn TASK IMAGE THREADS RUNS [MODEL]
 *       one model (the manifest's first installed one for TASK) in a fresh
 *       process: runtime load, session creation, inference (whole adapter
 *       call: pre-processing, run, post-processing) min/median over RUNS,
 *       peak RSS, and whether every run gave the same bytes.  One TSV line.
 *   bench_nn agree IMAGE...
 *       IoU between the neural matte and the classical one (src/steer) on
 *       each image; linked with the steer phase for this comparison only.
 */
#include "core.h"
#include "nn/nn_internal.h"
#ifdef CARVE_BENCH_STEER
#include "steer/steer.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int bench(const char *task, const char *path, int threads, int runs, const char *model) {
    carve_ctx *c = carve_ctx_create();
    char t[16];
    snprintf(t, sizeof t, "%d", threads);
    carve_ctx_set_option(c, "nn_threads", t);
    if (model && carve_ctx_set_option(c, "nn_models", model)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
    carve_image *im = NULL;
    if (carve_image_load(c, path, &im)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
    size_t rss0 = carve__peak_rss();
    double t0 = carve__now();
    const char *ver = NULL;
    if (carve__ort_load(c, &ver)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
    double t_load = carve__now() - t0;
    carve__nn_manifest *man = NULL;
    const carve__nn_model *m = NULL;
    if (carve__nn_find_model(c, task, &man, &m)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
    t0 = carve__now();
    if (carve__ort_check(c, m)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
    double t_session = carve__now() - t0;
    size_t rss_session = carve__peak_rss();
    double *tv = calloc((size_t)runs, sizeof *tv), *cv = calloc((size_t)runs, sizeof *cv);
    char first[65] = "", h[65];
    bool same = true;
    for (int r = 0; r < runs; r++) {
        t0 = carve__now();
        double c0 = carve__cpu_now();
        carve_status st;
        if (!strcmp(task, "matte")) {
            uint8_t *a = NULL;
            st = carve__nn_matte(c, im, &a);
            if (!st) carve__sha256_hex(a, (size_t)im->w * (size_t)im->h, h);
            free(a);
        } else {
            carve__box *b = NULL;
            int n = 0;
            st = carve__nn_text_detect(c, im, &b, &n);
            if (!st) carve__sha256_hex(b ? (void *)b : (void *)"", (size_t)n * sizeof *b, h);
            free(b);
        }
        tv[r] = carve__now() - t0;
        cv[r] = carve__cpu_now() - c0;
        if (st) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
        if (!r) memcpy(first, h, sizeof first);
        else same &= !strcmp(first, h);
    }
    double tmin = tv[0];
    for (int r = 1; r < runs; r++) tmin = tv[r] < tmin ? tv[r] : tmin;
    qsort(tv, (size_t)runs, sizeof *tv, carve__cmp_double);
    double med = runs % 2 ? tv[runs / 2] : 0.5 * (tv[runs / 2 - 1] + tv[runs / 2]);
    qsort(cv, (size_t)runs, sizeof *cv, carve__cmp_double);
    double cmed = runs % 2 ? cv[runs / 2] : 0.5 * (cv[runs / 2 - 1] + cv[runs / 2]);
    printf("%s\t%s\t%dx%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%.0f\t%s\t%s\n", m->name, task, im->w, im->h, threads,
           t_load, t_session, tmin, med, cmed, rss_session / 1048576.0, carve__peak_rss() / 1048576.0, same ? "yes" : "NO",
           ver);
    free(cv);
    (void)rss0;
    free(tv);
    carve__nn_manifest_free(man);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
    carve__nn_shutdown();
    return 0;
}

static int agree(int n, char **paths) {
#ifdef CARVE_BENCH_STEER
    carve_ctx *c = carve_ctx_create();
    for (int i = 0; i < n; i++) {
        carve_image *im = NULL;
        if (carve_image_load(c, paths[i], &im)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); continue; }
        uint8_t *an = NULL, *ac = NULL;
        double t0 = carve__now();
        carve_status s1 = carve__nn_matte(c, im, &an);
        double t1 = carve__now();
        carve_status s2 = s1 ? s1 : carve__matte_classical(c, im, &ac);
        double t2 = carve__now();
        if (s1 || s2) {
            fprintf(stderr, "%s: %s\n", paths[i], carve_ctx_errmsg(c));
        } else {
            long in = 0, un = 0, fn = 0, fc = 0;
            for (size_t k = 0; k < (size_t)im->w * (size_t)im->h; k++) {
                bool a = an[k] >= 128, b = ac[k] >= 128;
                in += a && b, un += a || b, fn += a, fc += b;
            }
            const char *base = strrchr(paths[i], '/');
            printf("%s\t%dx%d\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\n", base ? base + 1 : paths[i], im->w, im->h,
                   un ? (double)in / un : 1.0, (double)fn / ((double)im->w * im->h), (double)fc / ((double)im->w * im->h),
                   t1 - t0, t2 - t1);
        }
        free(an);
        free(ac);
        carve_image_destroy(im);
    }
    carve_ctx_destroy(c);
    carve__nn_shutdown();
    return 0;
#else
    (void)n, (void)paths;
    fprintf(stderr, "bench_nn was built without the steer phase\n");
    return 2;
#endif
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "agree")) return agree(argc - 2, argv + 2);
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: bench_nn TASK IMAGE THREADS RUNS [MODEL] | bench_nn agree IMAGE...\n");
        return 2;
    }
    return bench(argv[1], argv[2], atoi(argv[3]), atoi(argv[4]), argc == 6 ? argv[5] : NULL);
}
