/* bench_detect.c — the object detector's numbers and the measurements behind
 * its pre-processing and decoding choices (docs/nn.md); not a test.
 *
 *   bench_detect [--faces] [--rgb255] [--stretch|--letterbox] [--centre C] [--score S]
 *                [--runs N] [--threads T] IMAGE...
 *       one line per detection: image, class, score, x, y, w, h (input
 *       pixels); then a line per image with the adapter's wall and CPU time
 *       (medians over N runs of pre-processing + inference + decoding, ms;
 *       the first run, which creates the session, is not counted when N > 1).  The flags
 *       change the manifest's pre-processing (RGB / 255 instead of BGR with
 *       mean/std; stretch or letterbox) and the decoding (anchor
 *       centre inside the cell; score threshold) for comparisons.  --faces:
 *       the face detector (BlazeFace) instead of the object detector.
 */
#include "core.h"
#include "nn/nn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct opts {
    bool rgb255, stretch, letterbox;
    double centre, score;
    int runs;
} opts;

static int one(carve_ctx *c, const carve__nn_model *base, const char *path, const opts *o) {
    carve__nn_model m = *base;
    if (o->rgb255) {
        m.bgr = false;
        for (int k = 0; k < 3; k++) m.mean[k] = 0, m.std[k] = 255;
    }
    if (o->stretch) m.letterbox = false;
    if (o->letterbox) m.letterbox = true;
    carve_image *im = NULL;
    if (carve_image_load(c, path, &im)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
    double *tv = calloc((size_t)o->runs, sizeof *tv), *cv = calloc((size_t)o->runs, sizeof *cv);
    carve__det *d = NULL;
    int nd = 0;
    for (int r = o->runs > 1 ? -1 : 0; r < o->runs; r++) { /* r = -1: warm-up (session creation) */
        double t0 = carve__now(), c0 = carve__cpu_now();
        carve__nn_tensor in = {0}, out = {0};
        carve__det_frame f;
        free(d);
        d = NULL;
        carve__det_params p = {o->score >= 0 ? o->score : m.det_score, m.det_iou, m.det_max, o->centre};
        if (carve__det_input(c, &m, im, &in, &f) || carve__ort_run(c, &m, &in, 1, &out, 1) ||
            (m.task == CARVE_NN_FACE_DETECT ? carve__face_decode : carve__det_decode)(c, out.data, (int)out.shape[1],
                                                                                   (int)out.shape[2], &f, &p, &d, &nd)) {
            fprintf(stderr, "%s: %s\n", path, carve_ctx_errmsg(c));
            return 1;
        }
        if (r >= 0) tv[r] = carve__now() - t0, cv[r] = carve__cpu_now() - c0;
        carve__nn_tensor_free(&in);
        carve__nn_tensor_free(&out);
    }
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (int i = 0; i < nd; i++)
        printf("%s\t%s\t%.3f\t%.1f\t%.1f\t%.1f\t%.1f\n", name, d[i].cls == CARVE_DET_FACE ? "face" : carve__coco_name(d[i].cls), d[i].score, d[i].x0, d[i].y0,
               d[i].x1 - d[i].x0, d[i].y1 - d[i].y0);
    qsort(tv, (size_t)o->runs, sizeof *tv, carve__cmp_double);
    qsort(cv, (size_t)o->runs, sizeof *cv, carve__cmp_double);
    printf("%s\ttime_ms\t%.1f\tcpu_ms\t%.1f\t(%dx%d, medians of %d runs)\n", name, tv[o->runs / 2] * 1e3,
           cv[o->runs / 2] * 1e3, im->w, im->h, o->runs);
    free(tv);
    free(cv);
    free(d);
    carve_image_destroy(im);
    return 0;
}

int main(int argc, char **argv) {
    opts o = {false, false, false, 0.5, -1, 1};
    const char *threads = "1", *task = "object_detect";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--rgb255")) o.rgb255 = true;
        else if (!strcmp(argv[i], "--stretch")) o.stretch = true;
        else if (!strcmp(argv[i], "--letterbox")) o.letterbox = true;
        else if (!strcmp(argv[i], "--centre") && i + 1 < argc) o.centre = atof(argv[++i]);
        else if (!strcmp(argv[i], "--score") && i + 1 < argc) o.score = atof(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) o.runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = argv[++i];
        else if (!strcmp(argv[i], "--faces")) task = "face_detect";
        else { fprintf(stderr, "bench_detect: unknown flag %s\n", argv[i]); return 2; }
    }
    if (i >= argc || o.runs < 1) { fprintf(stderr, "usage: bench_detect [flags] IMAGE...\n"); return 2; }
    carve_ctx *c = carve_ctx_create();
    carve_ctx_set_option(c, "nn_threads", threads);
    carve__nn_manifest *man = NULL;
    const carve__nn_model *m = NULL;
    if (carve__nn_find_model(c, task, &man, &m)) { fprintf(stderr, "%s\n", carve_ctx_errmsg(c)); return 1; }
    int rc = 0;
    for (; i < argc && !rc; i++) rc = one(c, m, argv[i], &o);
    carve__nn_manifest_free(man);
    carve_ctx_destroy(c);
    carve__nn_shutdown();
    return rc;
}
