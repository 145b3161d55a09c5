/* test_nn_convert.c — the ONNX side of the TF.js conversion test
 * (tests/nn/convert.sh drives it; the TF.js side is tests/nn/tfjs_ref.js).
 * TASK is object_detect (NanoDet) or face_detect (BlazeFace).
 *
 *   test_nn_convert inputs DIR TASK   writes DIR/in_K.f32: a photo (the bus;
 *                                     tests/data/faces for faces) through the
 *                                     adapter's pre-processing and a
 *                                     deterministic pseudo-random tensor
 *   test_nn_convert compare DIR TASK  runs the installed ONNX model (sha256
 *                                     checked) on each DIR/in_K.f32 and
 *                                     compares with DIR/ref_K.f32:
 *                                     |diff| <= 1e-4 * max(1, |ref|)
 * Exit 77 when the runtime or the model is missing. */
#include "../test.h"
#include "core.h"
#include "nn/nn_internal.h"

/* |onnx - tfjs| <= 1e-4, relative for values above 1 (BlazeFace's box
 * offsets are pixels, up to ~1000: float32 rounding alone is ~1e-4 there) */
#define TOL 1e-4
#define NIN 2

static carve_status model(carve_ctx *c, const char *task, carve__nn_manifest **man, const carve__nn_model **m) {
    carve_status st = carve__nn_find_model(c, task, man, m);
    if (st) fprintf(stderr, "skipped: %s\n", carve_ctx_errmsg(c));
    return st;
}

static int write_f32(const char *path, const float *v, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n) { perror(path); if (f) fclose(f); return 1; }
    return fclose(f) != 0;
}

static float *read_f32(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    float *v = malloc(n * sizeof *v);
    size_t got = f && v ? fread(v, sizeof *v, n + 1, f) : 0;
    if (f) fclose(f);
    if (got != n) { fprintf(stderr, "%s: %zu floats, want %zu\n", path, got, n); free(v); return NULL; }
    return v;
}

static int inputs(carve_ctx *c, const carve__nn_model *m, const char *dir) {
    char path[1024];
    size_t n = (size_t)3 * (size_t)m->width * (size_t)m->height;
    for (int k = 0; k < NIN; k++) {
        carve__nn_tensor t = {0};
        if (k == 0) {
            carve_image *im = NULL;
            snprintf(path, sizeof path, "%s/%s", CARVE_TEST_DATA,
                     m->task == CARVE_NN_FACE_DETECT ? "faces/office_chessboard_left06.jpg" : "samples/bus_red_london_plate.jpg");
            carve__det_frame f;
            if (carve_image_load(c, path, &im) || carve__det_input(c, m, im, &t, &f)) {
                fprintf(stderr, "%s\n", carve_ctx_errmsg(c));
                return 1;
            }
            carve_image_destroy(im);
        } else { /* uniform in the normalised range, fixed LCG */
            t.data = malloc(n * sizeof *t.data);
            uint32_t s = 12345;
            for (size_t i = 0; i < n; i++) {
                s = s * 1664525u + 1013904223u;
                t.data[i] = (float)((s >> 8) * (1.0 / 16777216.0) * 4.8 - 2.2);
            }
        }
        snprintf(path, sizeof path, "%s/in_%d.f32", dir, k);
        int rc = write_f32(path, t.data, n);
        carve__nn_tensor_free(&t);
        if (rc) return 1;
    }
    return 0;
}

static void compare(carve_ctx *c, const carve__nn_model *m, const char *dir) {
    char path[1024];
    size_t n = (size_t)3 * (size_t)m->width * (size_t)m->height;
    for (int k = 0; k < NIN; k++) {
        snprintf(path, sizeof path, "%s/in_%d.f32", dir, k);
        carve__nn_tensor in = {read_f32(path, n), {1, 3, m->height, m->width}, 4}, out = {0};
        if (m->nhwc) in.shape[1] = m->height, in.shape[2] = m->width, in.shape[3] = 3;
        CHECK(in.data != NULL);
        if (!in.data) return;
        CHECK_ST(carve__ort_run(c, m, &in, 1, &out, 1), CARVE_OK);
        size_t no = carve__nn_tensor_count(&out);
        snprintf(path, sizeof path, "%s/ref_%d.f32", dir, k);
        float *ref = out.data ? read_f32(path, no) : NULL;
        CHECK(ref != NULL);
        if (ref) {
            double worst = 0, scaled = 0, sum = 0, mx = 0;
            for (size_t i = 0; i < no; i++) {
                double d = fabs((double)out.data[i] - ref[i]);
                worst = fmax(worst, d);
                scaled = fmax(scaled, d / fmax(1.0, fabs(ref[i])));
                sum += fabs(ref[i]), mx = fmax(mx, fabs(ref[i]));
            }
            fprintf(stderr, "  input %d: %zu values, max |onnx - tfjs| = %.3g, relative to max(1, |ref|) %.3g "
                    "(mean |ref| %.3g, max %.3g)\n", k, no, worst, scaled, sum / (double)no, mx);
            CHECKF(scaled <= TOL, "input %d: max diff %g (relative %g)", k, worst, scaled);
        }
        free(ref);
        carve__nn_tensor_free(&in);
        carve__nn_tensor_free(&out);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "inputs") && strcmp(argv[1], "compare"))) {
        fprintf(stderr, "usage: test_nn_convert inputs|compare DIR TASK\n");
        return 2;
    }
    carve_ctx *c = carve_ctx_create();
    carve_ctx_set_option(c, "nn_threads", "2");
    carve__nn_manifest *man = NULL;
    const carve__nn_model *m = NULL;
    if (model(c, argv[3], &man, &m)) { carve_ctx_destroy(c); return 77; }
    int rc;
    if (!strcmp(argv[1], "inputs")) {
        rc = inputs(c, m, argv[2]);
    } else {
        t_name = "compare";
        compare(c, m, argv[2]);
        rc = test_done();
    }
    carve__nn_manifest_free(man);
    carve_ctx_destroy(c);
    carve__nn_shutdown();
    return rc;
}
