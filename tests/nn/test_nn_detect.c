/* test_nn_detect.c — the object detector (NanoDet through src/nn).
 *
 *   decode     synthetic NanoDet output (no runtime): box from the distance
 *              bins around (cell + 0.5) x stride, image mapping, per-class NMS,
 *              dropped classes, the detection cap
 *   bus        the London bus photo: the bus as "bus" with a tight box, the
 *              taxi as "car" (boxes measured by hand on the photo), provenance,
 *              the same boxes (bytes) at 2 and 1 threads
 *   pickup     the white pickup: "truck" or "car", tight box
 *   corrupt    a model file with the wrong bytes: CARVE_ERR_NOT_FOUND naming it
 *   missing    no model: unavailable, the message names the folder
 *   face_decode / faces   BlazeFace: synthetic decoding; the face in
 *              tests/data/faces (hand-measured box), none on vehicle photos
 * "decode" (decode, missing) needs neither runtime nor model; "nanodet" (bus,
 * pickup, corrupt) and "blazeface" (faces) exit 77 (SKIP) when the runtime or
 * the model is absent. */
#include "../test.h"
#include "core.h"
#include "nn/nn_internal.h"

#include <unistd.h>

typedef struct hand_box { int x, y, w, h; } hand_box;

/* Measured by hand on tests/data/samples (zoomed crops of each edge). */
static const hand_box bus_box = {65, 113, 408, 274};     /* rear edge, roof, front edge, front wheel */
static const hand_box taxi_box = {463, 281, 83, 107};     /* visible part, cut by the frame at the right */
static const hand_box pickup_box = {82, 281, 1628, 569};  /* tow bar to bumper, canopy to tyres */
static const hand_box face_box = {247, 135, 103, 97};      /* tests/data/faces: forehead to chin, nose to ear */

static double iou_box(const carve__box *b, hand_box h) {
    double iw = fmin(b->x + b->w, h.x + h.w) - fmax(b->x, h.x), ih = fmin(b->y + b->h, h.y + h.h) - fmax(b->y, h.y);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih;
    return inter / ((double)b->w * b->h + (double)h.w * h.h - inter);
}

/* Best IoU with h among the boxes of kind k1 or k2. */
static double best_iou(const carve__box *b, int n, hand_box h, const char *k1, const char *k2, float *score) {
    double best = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(b[i].kind, k1) || (k2 && !strcmp(b[i].kind, k2))) {
            double v = iou_box(&b[i], h);
            if (v > best) best = v, *score = b[i].score;
        }
    return best;
}

static void check_shape(const carve__box *b, int n, int w, int h) {
    static const char *const kinds[] = {"person", "bicycle", "car", "motorcycle", "bus", "train", "truck"};
    CHECK(n >= 0 && n <= 100);
    for (int i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) ok |= !strcmp(b[i].kind, kinds[k]);
        CHECKF(ok, "kind %s", b[i].kind);
        CHECK(b[i].x >= 0 && b[i].y >= 0 && b[i].w > 0 && b[i].h > 0 && b[i].x + b[i].w <= w && b[i].y + b[i].h <= h);
        CHECK(b[i].score > 0 && b[i].score <= 1);
        if (i) CHECK(b[i].score <= b[i - 1].score);
    }
}

/* ---- decode (no runtime) ----------------------------------------------------- */
#define BINS 11
#define WIDTH (CARVE_DET_CLASSES + CARVE_DET_SIDES * BINS)
#define ROWS (52 * 52 + 26 * 26 + 13 * 13)

/* Sets one anchor: class score and a sharp distance distribution at bin d[s]. */
static void set_anchor(float *out, int row, int cls, float score, const int d[4]) {
    float *r = out + (size_t)row * WIDTH;
    r[cls] = score;
    for (int s = 0; s < 4; s++)
        for (int j = 0; j < BINS; j++) r[CARVE_DET_CLASSES + s * BINS + j] = j == d[s] ? 30.0f : 0.0f;
}

static void test_decode(void) {
    carve_ctx *c = carve_ctx_create();
    float *out = calloc((size_t)ROWS * WIDTH, sizeof *out);
    /* stride 16 (rows after the 52x52 grid), cell (10, 5): centre (168, 88) */
    int r16 = 52 * 52 + 5 * 26 + 10, d[4] = {2, 1, 3, 4};
    set_anchor(out, r16, 5, 0.9f, d);              /* bus */
    set_anchor(out, r16 + 1, 5, 0.8f, d);          /* the same bus one cell right: suppressed */
    set_anchor(out, r16 + 2, 2, 0.7f, d);          /* a car overlapping it: kept (per-class NMS) */
    set_anchor(out, 100, 16, 0.95f, d);            /* a dog: not reported */
    set_anchor(out, 200, 0, 0.2f, d);              /* a person under the threshold */
    /* a 832x416 image stretched to 416x416: x halves */
    carve__det_frame f = {416, 416, 0.5, 1.0, 0, 0, 832, 416};
    carve__det_params p = {0.3, 0.6, 100, 0.5};
    carve__det *dets = NULL;
    int n = 0;
    CHECK_ST(carve__det_decode(c, out, ROWS, WIDTH, &f, &p, &dets, &n), CARVE_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(dets[0].cls == 5 && fabsf(dets[0].score - 0.9f) < 1e-6f);
        /* (168 - 2*16, 88 - 1*16, 168 + 3*16, 88 + 4*16) in tensor pixels, x / 0.5 */
        CHECK_NEAR(dets[0].x0, (168 - 32) * 2, 1e-3);
        CHECK_NEAR(dets[0].y0, 88 - 16, 1e-3);
        CHECK_NEAR(dets[0].x1, (168 + 48) * 2, 1e-3);
        CHECK_NEAR(dets[0].y1, 88 + 64, 1e-3);
        CHECK(dets[1].cls == 2);
        CHECK(!strcmp(carve__coco_name(dets[0].cls), "bus") && !strcmp(carve__coco_name(dets[1].cls), "car"));
    }
    free(dets);
    /* the cap */
    p.max_out = 1;
    CHECK_ST(carve__det_decode(c, out, ROWS, WIDTH, &f, &p, &dets, &n), CARVE_OK);
    CHECK(n == 1);
    free(dets);
    /* an output of the wrong shape is a backend error, not a crash */
    CHECK_ST(carve__det_decode(c, out, ROWS - 1, WIDTH, &f, &p, &dets, &n), CARVE_ERR_BACKEND);
    CHECK(n == 0 && dets == NULL);
    free(out);
    carve_ctx_destroy(c);
}

/* BlazeFace decoding: one face on the 16x16 level, one under the threshold. */
static void test_face_decode(void) {
    carve_ctx *c = carve_ctx_create();
    enum { W = 17, ROWS16 = 16 * 16 * 2, ROWS8 = 8 * 8 * 6 };
    float *out = calloc((size_t)(ROWS16 + ROWS8) * W, sizeof *out);
    for (int r = 0; r < ROWS16 + ROWS8; r++) out[(size_t)r * W] = -20; /* sigmoid ~ 0 */
    /* cell (5, 3) of the 16x16 level, second anchor: centre (88, 56) in the 256 input */
    float *row = out + (size_t)((3 * 16 + 5) * 2 + 1) * W;
    row[0] = 3, row[1] = 2, row[2] = -4, row[3] = 40, row[4] = 48; /* sigmoid(3) = 0.953 */
    out[(size_t)(ROWS16 + 7) * W] = 0; /* 0.5: under the threshold */
    /* a 512x256 image letterboxed into 256x256: scale 0.5, 64 rows of padding above */
    carve__det_frame f = {256, 256, 0.5, 0.5, 0, 64, 512, 256};
    carve__det_params p = {0.6, 0.3, 100, 0.5};
    carve__det *d = NULL;
    int n = 0;
    CHECK_ST(carve__face_decode(c, out, ROWS16 + ROWS8, W, &f, &p, &d, &n), CARVE_OK);
    CHECK(n == 1);
    if (n == 1) {
        CHECK(d[0].cls == CARVE_DET_FACE && fabsf(d[0].score - 0.9526f) < 1e-3f);
        CHECK_NEAR(d[0].x0, (90 - 20) * 2, 1e-3); /* centre 88 + 2, half width 20 */
        CHECK_NEAR(d[0].x1, (90 + 20) * 2, 1e-3);
        CHECK_NEAR(d[0].y0, (52 - 24 - 64) * 2 < 0 ? 0 : (52 - 24 - 64) * 2, 1e-3); /* clipped at the top */
        CHECK_NEAR(d[0].y1, (52 + 24 - 64) * 2, 1e-3);
    }
    free(d);
    CHECK_ST(carve__face_decode(c, out, ROWS16, W, &f, &p, &d, &n), CARVE_ERR_BACKEND);
    free(out);
    carve_ctx_destroy(c);
}

/* ---- real model ------------------------------------------------------------------ */
static bool have_detector(carve_ctx *c) {
    if (carve__nn_available(c, "object_detect")) return true;
    fprintf(stderr, "  skipped: %s\n", carve_ctx_errmsg(c));
    return false;
}

static carve_ctx *new_ctx(void) {
    carve_ctx *c = carve_ctx_create();
    carve_ctx_set_option(c, "nn_threads", "2");
    return c;
}

static void test_bus(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = NULL;
    CHECK_ST(carve_image_load(c, CARVE_TEST_DATA "/samples/bus_red_london_plate.jpg", &im), CARVE_OK);
    carve__box *b = NULL, *b2 = NULL;
    int n = 0, n2 = 0;
    carve__nn_info info;
    CHECK_ST(carve__nn_detect_objects_info(c, im, &b, &n, &info), CARVE_OK);
    check_shape(b, n, im->w, im->h);
    float s_bus = 0, s_taxi = 0;
    double iou_bus = best_iou(b, n, bus_box, "bus", NULL, &s_bus);
    double iou_taxi = best_iou(b, n, taxi_box, "car", NULL, &s_taxi);
    fprintf(stderr, "  bus IoU %.3f (score %.2f), taxi IoU %.3f (score %.2f), %d boxes, %.0f ms\n", iou_bus, s_bus,
            iou_taxi, s_taxi, n, info.seconds * 1e3);
    CHECK(iou_bus >= 0.9 && s_bus >= 0.5);
    CHECK(n > 0 && !strcmp(b[0].kind, "bus")); /* the most confident detection */
    CHECK(iou_taxi >= 0.75);
    /* provenance for the run report */
    CHECK(!strcmp(info.task, "object_detect") && !strcmp(info.model, "nanodet-coco"));
    CHECK(strlen(info.sha256) == 64 && *info.runtime && strstr(info.file, "nanodet_coco_416.onnx"));
    CHECK(info.input_w == 416 && info.input_h == 416 && info.seconds > 0 && info.threads == 2);
    /* deterministic, whatever the thread count (a session per count) */
    CHECK_ST(carve__nn_detect_objects(c, im, &b2, &n2), CARVE_OK);
    CHECK(n2 == n && (n == 0 || !memcmp(b, b2, (size_t)n * sizeof *b)));
    free(b2);
    CHECK_ST(carve_ctx_set_option(c, "nn_threads", "1"), CARVE_OK);
    CHECK_ST(carve__nn_detect_objects(c, im, &b2, &n2), CARVE_OK);
    CHECK(n2 == n && (n == 0 || !memcmp(b, b2, (size_t)n * sizeof *b)));
    free(b);
    free(b2);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

static void test_pickup(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = NULL;
    CHECK_ST(carve_image_load(c, CARVE_TEST_DATA "/samples/pickup_white_street.jpg", &im), CARVE_OK);
    carve__box *b = NULL;
    int n = 0;
    CHECK_ST(carve__nn_detect_objects(c, im, &b, &n), CARVE_OK);
    check_shape(b, n, im->w, im->h);
    float s = 0;
    double v = best_iou(b, n, pickup_box, "truck", "car", &s);
    fprintf(stderr, "  pickup IoU %.3f (score %.2f, first %s)\n", v, s, n ? b[0].kind : "-");
    CHECK(v >= 0.9 && s >= 0.5);
    CHECK(n > 0 && (!strcmp(b[0].kind, "truck") || !strcmp(b[0].kind, "car")));
    free(b);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

static void test_corrupt(void) {
    carve_ctx *c = new_ctx();
    char dir[] = "/tmp/carve-detect-XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/nanodet_coco_416.onnx", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) { fputs("not a model", f); fclose(f); }
    CHECK_ST(carve_ctx_set_option(c, "models_dir", dir), CARVE_OK);
    carve_image *im = carve_image_create(64, 48);
    carve__box *b = (carve__box *)1;
    int n = -1;
    CHECK_ST(carve__nn_detect_objects(c, im, &b, &n), CARVE_ERR_NOT_FOUND);
    CHECKF(strstr(carve_ctx_errmsg(c), path) && strstr(carve_ctx_errmsg(c), "sha256"), "%s", carve_ctx_errmsg(c));
    CHECK(b == NULL && n == 0);
    carve_image_destroy(im);
    unlink(path);
    rmdir(dir);
    carve_ctx_destroy(c);
}

static void test_missing(void) {
    carve_ctx *c = new_ctx();
    char dir[] = "/tmp/carve-detect-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_ST(carve_ctx_set_option(c, "models_dir", dir), CARVE_OK);
    CHECK(!carve__nn_available(c, "object_detect"));
    carve_image *im = carve_image_create(64, 48);
    carve__box *b = NULL;
    int n = -1;
    CHECK_ST(carve__nn_detect_objects(c, im, &b, &n), CARVE_ERR_NOT_FOUND);
    /* without the runtime the message names the library, with it the folder */
    if (carve__ort_load(c, NULL) == CARVE_OK) {
        CHECK_ST(carve__nn_detect_objects(c, im, &b, &n), CARVE_ERR_NOT_FOUND);
        CHECKF(strstr(carve_ctx_errmsg(c), dir) && strstr(carve_ctx_errmsg(c), "nanodet-coco"), "%s",
               carve_ctx_errmsg(c));
    }
    CHECK(b == NULL && n == 0);
    carve_image_destroy(im);
    rmdir(dir);
    carve_ctx_destroy(c);
}

static void test_faces(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = NULL;
    CHECK_ST(carve_image_load(c, CARVE_TEST_DATA "/faces/office_chessboard_left06.jpg", &im), CARVE_OK);
    carve__box *b = NULL;
    int n = 0;
    carve__nn_info info;
    CHECK_ST(carve__nn_detect_faces_info(c, im, &b, &n, &info), CARVE_OK);
    float s = 0;
    double v = best_iou(b, n, face_box, "face", NULL, &s);
    fprintf(stderr, "  face IoU %.3f (score %.2f), %d boxes\n", v, s, n);
    CHECK(n == 1 && v >= 0.7 && s >= 0.8);
    CHECK(!strcmp(info.model, "blazeface") && info.input_w == 256 && info.seconds > 0);
    free(b);
    carve_image_destroy(im);
    /* no face on the vehicle photos (their false positives score <= 0.52) */
    static const char *const photos[] = {"bus_red_london_plate.jpg", "pickup_white_street.jpg", "sedan_black_side.jpg"};
    for (size_t k = 0; k < sizeof photos / sizeof photos[0]; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/samples/%s", CARVE_TEST_DATA, photos[k]);
        CHECK_ST(carve_image_load(c, path, &im), CARVE_OK);
        CHECK_ST(carve__nn_detect_faces(c, im, &b, &n), CARVE_OK);
        CHECKF(n == 0, "%s: %d faces", photos[k], n);
        free(b);
        carve_image_destroy(im);
    }
    carve_ctx_destroy(c);
}

int main(int argc, char **argv) {
    const char *part = argc > 1 ? argv[1] : "";
    if (!strcmp(part, "decode")) { /* no runtime or model needed */
        RUN(test_decode);
        RUN(test_face_decode);
        RUN(test_missing);
    } else if (!strcmp(part, "nanodet")) { /* SKIP (77) when the detector is not installed */
        carve_ctx *c = new_ctx();
        bool have = have_detector(c);
        carve_ctx_destroy(c);
        if (!have) { carve__nn_shutdown(); return 77; }
        RUN(test_bus);
        RUN(test_pickup);
        RUN(test_corrupt);
    } else if (!strcmp(part, "blazeface")) { /* SKIP (77) when the face detector is not installed */
        carve_ctx *c = new_ctx();
        bool have = carve__nn_available(c, "face_detect");
        if (!have) fprintf(stderr, "  skipped: %s\n", carve_ctx_errmsg(c));
        carve_ctx_destroy(c);
        if (!have) { carve__nn_shutdown(); return 77; }
        RUN(test_faces);
    } else {
        fprintf(stderr, "usage: test_nn_detect decode|nanodet|blazeface\n");
        return 2;
    }
    carve__nn_shutdown();
    return test_done();
}
