/* test_nn_ort.c — every adapter (matte, text_detect, inpaint,
 * super_resolution, depth) through the real ONNX Runtime, on tiny models the
 * test writes itself (no downloads).  Skipped (77) when carve was built
 * without the header or the runtime library cannot be loaded. */
#include "../test.h"
#include "core.h"
#include "nn/nn_internal.h"
#include "onnx_builder.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char path_buf[512];

static const char *in_dir(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

static void sha_of(const char *name, char out[65]) {
    carve_ctx *c = carve_ctx_create();
    if (carve__sha256_file(c, in_dir(name), out)) snprintf(out, 65, "%064d", 0);
    carve_ctx_destroy(c);
}

/* Writes the models and a manifest naming them. */
static int setup_models(void) {
    snprintf(dir, sizeof dir, "/tmp/carve-nn-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    if (onnx_make_gray_sigmoid(in_dir("matte.onnx"), "input", "output", 64, 64, 1.0f / 3, 20)) return -1;
    if (onnx_make_gray_sigmoid(in_dir("text.onnx"), "x", "prob", -1, -1, -1.0f / 3, 10)) return -1;
    if (onnx_make_inpaint(in_dir("inpaint.onnx"))) return -1;
    if (onnx_make_sr2(in_dir("sr.onnx"))) return -1;
    if (onnx_make_depth(in_dir("depth.onnx"))) return -1;
    char s[5][65];
    const char *files[5] = {"matte.onnx", "text.onnx", "inpaint.onnx", "sr.onnx", "depth.onnx"};
    for (int i = 0; i < 5; i++) sha_of(files[i], s[i]);
    FILE *f = fopen(in_dir("manifest.json"), "w");
    if (!f) return -1;
    fprintf(f,
            "{\"version\": 1, \"models\": [\n"
            "{\"name\": \"tiny-matte\", \"task\": \"matte\", \"file\": \"matte.onnx\", \"sha256\": \"%s\",\n"
            " \"inputs\": [\"input\"], \"outputs\": [\"output\"], \"layout\": \"NCHW\",\n"
            " \"size_policy\": {\"mode\": \"fixed\", \"width\": 64, \"height\": 64},\n"
            " \"normalize\": {\"channels\": \"RGB\", \"mean\": 128, \"std\": 256}, \"licence\": \"test\"},\n"
            "{\"name\": \"tiny-matte-2\", \"task\": \"matte\", \"file\": \"matte.onnx\", \"sha256\": \"%s\",\n"
            " \"inputs\": [\"input\"], \"outputs\": [\"output\"], \"size_policy\": {\"mode\": \"fixed\", \"width\": 64, \"height\": 64},\n"
            " \"licence\": \"test\"},\n"
            "{\"name\": \"tiny-text\", \"task\": \"text_detect\", \"file\": \"text.onnx\", \"sha256\": \"%s\",\n"
            " \"inputs\": [\"x\"], \"outputs\": [\"prob\"],\n"
            " \"size_policy\": {\"mode\": \"cap\", \"long_side\": 320, \"multiple\": 32},\n"
            " \"normalize\": {\"channels\": \"BGR\", \"mean\": [123.675, 116.28, 103.53], \"std\": [58.395, 57.12, 57.375]},\n"
            " \"params\": {\"threshold\": 0.3, \"box_score\": 0.6, \"unclip\": 1.5}, \"licence\": \"test\"},\n"
            "{\"name\": \"tiny-inpaint\", \"task\": \"inpaint\", \"file\": \"inpaint.onnx\", \"sha256\": \"%s\",\n"
            " \"inputs\": [\"image\", \"mask\"], \"outputs\": [\"output\"],\n"
            " \"size_policy\": {\"mode\": \"any\", \"multiple\": 8}, \"normalize\": {\"mean\": 0, \"std\": 255},\n"
            " \"output\": {\"scale\": 255, \"offset\": 0}, \"licence\": \"test\"},\n"
            "{\"name\": \"tiny-sr\", \"task\": \"super_resolution\", \"file\": \"sr.onnx\", \"sha256\": \"%s\",\n"
            " \"inputs\": [\"lr\"], \"outputs\": [\"hr\"], \"size_policy\": {\"mode\": \"any\"},\n"
            " \"normalize\": {\"mean\": 0, \"std\": 255}, \"output\": {\"scale\": 255}, \"licence\": \"test\"},\n"
            "{\"name\": \"tiny-depth\", \"task\": \"depth\", \"file\": \"depth.onnx\", \"sha256\": \"%s\",\n"
            " \"inputs\": [\"pixel_values\"], \"outputs\": [\"predicted_depth\"], \"size_policy\": {\"mode\": \"cap\", \"long_side\": 64},\n"
            " \"licence\": \"test\"}\n"
            "]}\n",
            s[0], s[0], s[1], s[2], s[3], s[4]);
    return fclose(f);
}

static carve_ctx *new_ctx(void) {
    carve_ctx *c = carve_ctx_create();
    carve_ctx_set_option(c, "models_dir", dir);
    carve_ctx_set_option(c, "nn_threads", "2");
    return c;
}

static void fill(carve_image *im, int x0, int y0, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) {
            uint8_t *p = im->px + 4 * ((size_t)y * (size_t)im->w + (size_t)x);
            p[0] = r, p[1] = g, p[2] = b, p[3] = 255;
        }
}

/* dark scene, a big bright "vehicle" in the middle and a small bright
 * "person" at the left edge */
static carve_image *matte_scene(void) {
    carve_image *im = carve_image_create(200, 120);
    fill(im, 0, 0, 200, 120, 20, 25, 30);
    fill(im, 50, 30, 100, 60, 230, 220, 210);
    fill(im, 8, 40, 14, 50, 240, 240, 240);
    return im;
}

static int mean_alpha(const uint8_t *a, int w, int x0, int y0, int bw, int bh) {
    long s = 0;
    for (int y = y0; y < y0 + bh; y++)
        for (int x = x0; x < x0 + bw; x++) s += a[y * w + x];
    return (int)(s / (bw * bh));
}

static void test_matte(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = matte_scene();
    uint8_t *a = NULL, *a2 = NULL;
    CHECK(carve__nn_available(c, "matte"));
    CHECK_ST(carve__nn_matte(c, im, &a), CARVE_OK);
    if (a) {
        CHECKF(mean_alpha(a, 200, 60, 40, 80, 40) > 245, "vehicle interior alpha %d", mean_alpha(a, 200, 60, 40, 80, 40));
        CHECKF(mean_alpha(a, 200, 160, 5, 35, 20) < 5, "background alpha %d", mean_alpha(a, 200, 160, 5, 35, 20));
        CHECKF(mean_alpha(a, 200, 10, 45, 10, 40) < 5, "person removed in vehicle mode: %d", mean_alpha(a, 200, 10, 45, 10, 40));
    }
    /* deterministic: same input, same thread count -> same bytes */
    CHECK_ST(carve__nn_matte(c, im, &a2), CARVE_OK);
    CHECK(a && a2 && !memcmp(a, a2, 200 * 120));
    free(a2);
    a2 = NULL;
    carve_ctx_set_option(c, "matte_components", "all");
    CHECK_ST(carve__nn_matte(c, im, &a2), CARVE_OK);
    if (a2) CHECKF(mean_alpha(a2, 200, 10, 45, 10, 40) > 245, "person kept in all mode: %d", mean_alpha(a2, 200, 10, 45, 10, 40));
    free(a2);
    a2 = NULL;
    /* a hint covering only the small component selects it */
    carve_ctx_set_option(c, "matte_components", "vehicle");
    uint8_t *hint = calloc(200 * 120, 1);
    for (int y = 35; y < 95; y++)
        for (int x = 4; x < 26; x++) hint[y * 200 + x] = 255;
    CHECK_ST(carve__nn_matte_hint(c, im, hint, &a2), CARVE_OK);
    if (a2) {
        CHECK(mean_alpha(a2, 200, 10, 45, 10, 40) > 245);
        CHECK(mean_alpha(a2, 200, 60, 40, 80, 40) < 5);
    }
    free(hint);
    free(a);
    free(a2);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

static bool contains(const carve__box *b, int x, int y, int w, int h) {
    return b->x <= x && b->y <= y && b->x + b->w >= x + w && b->y + b->h >= y + h;
}

static void test_text_detect(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = carve_image_create(600, 400);
    fill(im, 0, 0, 600, 400, 250, 250, 250);
    fill(im, 30, 20, 200, 14, 10, 10, 10);  /* a line of text at the top */
    fill(im, 110, 300, 90, 22, 0, 0, 0);    /* a plate-like block low down */
    carve__box *b = NULL, *b2 = NULL;
    int n = 0, n2 = 0;
    CHECK_ST(carve__nn_text_detect(c, im, &b, &n), CARVE_OK);
    CHECKF(n == 2, "%d boxes", n);
    int plate = -1, text = -1;
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "  box %s %d,%d %dx%d score %.3f\n", b[i].kind, b[i].x, b[i].y, b[i].w, b[i].h, b[i].score);
        if (!strcmp(b[i].kind, "plate")) plate = i;
        if (!strcmp(b[i].kind, "text")) text = i;
        CHECK(b[i].score > 0.9f);
    }
    CHECK(plate >= 0 && text >= 0);
    if (plate >= 0) {
        CHECKF(contains(&b[plate], 110, 300, 90, 22), "plate box %d,%d %dx%d", b[plate].x, b[plate].y, b[plate].w, b[plate].h);
        CHECK(abs(b[plate].x + b[plate].w / 2 - 155) <= 3 && abs(b[plate].y + b[plate].h / 2 - 311) <= 3);
        CHECK(b[plate].w < 140 && b[plate].h < 60);
    }
    if (text >= 0) CHECK(contains(&b[text], 30, 20, 200, 14));
    CHECK_ST(carve__nn_text_detect(c, im, &b2, &n2), CARVE_OK);
    CHECK(n == n2 && b && b2 && !memcmp(b, b2, (size_t)n * sizeof *b));
    free(b);
    free(b2);
    /* a blank page has no text */
    fill(im, 0, 0, 600, 400, 250, 250, 250);
    CHECK_ST(carve__nn_text_detect(c, im, &b, &n), CARVE_OK);
    CHECK(n == 0 && b == NULL);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

static void test_inpaint(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = carve_image_create(120, 90);
    for (int y = 0; y < 90; y++)
        for (int x = 0; x < 120; x++) {
            uint8_t *p = im->px + 4 * (y * 120 + x);
            p[0] = (uint8_t)(x * 2), p[1] = (uint8_t)(y * 2), p[2] = 200, p[3] = 255;
        }
    uint8_t *mask = calloc(120 * 90, 1);
    for (int y = 30; y < 50; y++)
        for (int x = 40; x < 70; x++) mask[y * 120 + x] = 255;
    carve_image *out = NULL;
    CHECK_ST(carve__nn_inpaint(c, im, mask, &out), CARVE_OK);
    if (out) {
        int bad_in = 0, bad_out = 0;
        for (int y = 0; y < 90; y++)
            for (int x = 0; x < 120; x++) {
                const uint8_t *p = out->px + 4 * (y * 120 + x), *q = im->px + 4 * (y * 120 + x);
                if (!mask[y * 120 + x]) bad_out += memcmp(p, q, 4) != 0;
                else if (x >= 42 && x < 68 && y >= 32 && y < 48)
                    bad_in += abs(p[0] - 128) > 1 || abs(p[1] - 128) > 1 || abs(p[2] - 128) > 1;
            }
        CHECKF(bad_out == 0, "%d pixels outside the mask changed", bad_out);
        CHECKF(bad_in == 0, "%d masked pixels not filled with the model's grey", bad_in);
    }
    carve_image_destroy(out);
    /* an empty mask is a copy */
    memset(mask, 0, 120 * 90);
    CHECK_ST(carve__nn_inpaint(c, im, mask, &out), CARVE_OK);
    CHECK(out && !memcmp(out->px, im->px, 120 * 90 * 4));
    carve_image_destroy(out);
    free(mask);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

static void test_super_resolution(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = carve_image_create(40, 30);
    for (int i = 0; i < 40 * 30; i++) {
        im->px[4 * i] = (uint8_t)(i * 7), im->px[4 * i + 1] = (uint8_t)(i * 13), im->px[4 * i + 2] = (uint8_t)(i * 29);
        im->px[4 * i + 3] = 255;
    }
    carve_image *out = NULL;
    CHECK_ST(carve__nn_super_resolution(c, im, &out), CARVE_OK);
    CHECK(out && out->w == 80 && out->h == 60);
    if (out && out->w == 80) {
        int bad = 0;
        for (int y = 0; y < 60; y++)
            for (int x = 0; x < 80; x++)
                for (int k = 0; k < 4; k++)
                    bad += abs(out->px[4 * (y * 80 + x) + k] - im->px[4 * ((y / 2) * 40 + x / 2) + k]) > 1;
        CHECKF(bad == 0, "%d samples differ from the 2x nearest upscale", bad);
    }
    carve_image_destroy(out);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

static void test_depth(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = carve_image_create(100, 50);
    for (int y = 0; y < 50; y++)
        for (int x = 0; x < 100; x++) fill(im, x, y, 1, 1, (uint8_t)(x * 2), (uint8_t)(x * 2), (uint8_t)(x * 2));
    float *d = NULL;
    CHECK_ST(carve__nn_depth(c, im, &d), CARVE_OK);
    if (d) {
        CHECK_NEAR(d[25 * 100 + 0], 0.0, 0.02);
        CHECK_NEAR(d[25 * 100 + 99], 1.0, 0.02);
        int nonmono = 0;
        for (int x = 1; x < 100; x++) nonmono += d[25 * 100 + x] + 1e-4f < d[25 * 100 + x - 1];
        CHECKF(nonmono == 0, "depth not increasing with brightness at %d places", nonmono);
    }
    free(d);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

static void test_cancel_and_errors(void) {
    carve_ctx *c = new_ctx();
    carve_image *im = matte_scene();
    uint8_t *a = NULL;
    carve_ctx_cancel(c);
    CHECK_ST(carve__nn_matte(c, im, &a), CARVE_ERR_CANCELLED);
    CHECK(a == NULL);
    carve_ctx_reset_cancel(c);
    /* empty image */
    carve_image *empty = carve_image_create(0, 0);
    CHECK_ST(carve__nn_matte(c, empty, &a), CARVE_ERR_EMPTY);
    carve_image_destroy(empty);
    /* a wrong tensor name in the manifest is a config error naming it */
    char saved[512];
    snprintf(saved, sizeof saved, "%s", dir);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/bad", dir);
    mkdir(sub, 0755);
    char sha[65];
    sha_of("matte.onnx", sha);
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", sub);
    FILE *f = fopen(mpath, "w");
    fprintf(f, "{\"version\":1,\"models\":[{\"name\":\"m\",\"task\":\"matte\",\"file\":\"%s/matte.onnx\",\"sha256\":\"%s\","
               "\"inputs\":[\"nosuch\"],\"outputs\":[\"output\"],\"size_policy\":{\"mode\":\"fixed\",\"width\":64,\"height\":64},"
               "\"licence\":\"t\"},"
               "{\"name\":\"d\",\"task\":\"depth\",\"file\":\"%s/depth.onnx\",\"sha256\":\"%064d\","
               "\"inputs\":[\"pixel_values\"],\"outputs\":[\"predicted_depth\"],\"size_policy\":{\"mode\":\"any\"},\"licence\":\"t\"}]}",
            saved, sha, saved, 0);
    fclose(f);
    carve_ctx_set_option(c, "models_dir", sub);
    CHECK_ST(carve__nn_matte(c, im, &a), CARVE_ERR_CONFIG);
    CHECKF(strstr(carve_ctx_errmsg(c), "nosuch") && strstr(carve_ctx_errmsg(c), "input"), "%s", carve_ctx_errmsg(c));
    float *d = NULL;
    CHECK_ST(carve__nn_depth(c, im, &d), CARVE_ERR_NOT_FOUND);
    CHECKF(strstr(carve_ctx_errmsg(c), "sha256"), "%s", carve_ctx_errmsg(c));
    CHECK(d == NULL);
    char desc[256];
    carve__nn_describe(c, "text_detect", desc, sizeof desc);
    CHECKF(strstr(desc, "unavailable") && strstr(desc, "no text_detect model"), "%s", desc);
    carve_ctx_set_option(c, "models_dir", saved);
    carve__nn_describe(c, "matte", desc, sizeof desc);
    CHECKF(strstr(desc, "tiny-matte (ONNX Runtime 1.") && strstr(desc, "2 threads"), "%s", desc);
    /* nn_models prefers a named model over the manifest's order */
    carve_ctx_set_option(c, "nn_models", "nosuch,tiny-matte-2");
    carve__nn_describe(c, "matte", desc, sizeof desc);
    CHECKF(!strncmp(desc, "tiny-matte-2 (", 14), "%s", desc);
    carve_ctx_set_option(c, "nn_models", "tiny-text");
    carve__nn_describe(c, "matte", desc, sizeof desc);
    CHECKF(!strncmp(desc, "tiny-matte (", 12), "%s", desc);
    carve_ctx_set_option(c, "nn_models", "");
    remove(mpath);
    rmdir(sub);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
}

typedef struct job { carve_image *im; uint8_t *a; carve_status st; int threads; } job;
static void *job_run(void *arg) {
    job *j = arg;
    carve_ctx *c = new_ctx();
    char t[8];
    snprintf(t, sizeof t, "%d", j->threads);
    carve_ctx_set_option(c, "nn_threads", t);
    j->st = carve__nn_matte(c, j->im, &j->a);
    carve_ctx_destroy(c);
    return NULL;
}

/* concurrent jobs share the sessions and get the same answers */
static void test_concurrent(void) {
    carve_image *im = matte_scene();
    job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){im, NULL, CARVE_ERR_INTERNAL, 1 + i % 2};
        pthread_create(&th[i], NULL, job_run, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) CHECK_ST(jobs[i].st, CARVE_OK);
    CHECK(jobs[0].a && jobs[2].a && !memcmp(jobs[0].a, jobs[2].a, 200 * 120));
    CHECK(jobs[1].a && jobs[3].a && !memcmp(jobs[1].a, jobs[3].a, 200 * 120));
    for (int i = 0; i < 4; i++) free(jobs[i].a);
    carve_image_destroy(im);
}

/* carve__nn_prewarm: the session created in the background is the one the
 * run uses (same bytes as without it); a prewarm leaves the ctx's message
 * alone (no model here); shutdown right after a prewarm joins it. */
static void test_prewarm(void) {
    carve_image *im = matte_scene();
    carve_ctx *c = new_ctx();
    uint8_t *ref = NULL, *a = NULL;
    CHECK_ST(carve__nn_matte(c, im, &ref), CARVE_OK);
    carve__nn_shutdown(); /* no cached session from here on */
    carve__nn_prewarm(c, "matte");
    CHECK_ST(carve__nn_matte(c, im, &a), CARVE_OK);
    CHECK(ref && a && !memcmp(ref, a, 200 * 120));
    carve_ctx *none = carve_ctx_create();
    carve_ctx_set_option(none, "models_dir", "/nonexistent/carve-models");
    carve__nn_prewarm(none, "matte");
    CHECKF(!carve_ctx_errmsg(none)[0], "prewarm set a message: %s", carve_ctx_errmsg(none));
    carve_ctx_destroy(none);
    carve__nn_shutdown();
    carve__nn_prewarm(c, "matte");
    carve__nn_prewarm(c, "text_detect");
    carve__nn_shutdown(); /* joins both */
    /* a long-running process: more prewarms (one per thread count: each its
     * own session) than MAX_PREWARM, each finished one joined by the next */
    for (int t = 1; t <= 6; t++) {
        char v[8];
        snprintf(v, sizeof v, "%d", t);
        carve_ctx_set_option(c, "nn_threads", v);
        carve__nn_prewarm(c, "matte");
        /* this one started; the earlier ones, finished, were joined (the
         * previous one may still be ending: at most 2 are left) */
        int pending = carve__ort_prewarm_pending();
        CHECKF(pending >= 1 && pending <= 2, "threads %d: %d prewarm threads not joined, want 1-2", t, pending);
        uint8_t *b = NULL;
        CHECK_ST(carve__nn_matte(c, im, &b), CARVE_OK); /* waits for the session */
        free(b);
        usleep(50000); /* the prewarm thread ends once its session is cached */
    }
    carve__nn_shutdown();
    free(ref);
    free(a);
    carve_ctx_destroy(c);
    carve_image_destroy(im);
}

static void cleanup(void) {
    const char *files[] = {"matte.onnx", "text.onnx", "inpaint.onnx", "sr.onnx", "depth.onnx", "manifest.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) remove(in_dir(files[i]));
    rmdir(dir);
}

int main(void) {
    if (setup_models()) {
        fprintf(stderr, "cannot write the test models\n");
        return 1;
    }
    carve_ctx *c = new_ctx();
    carve_status st = carve__ort_load(c, NULL);
    if (st) {
        fprintf(stderr, "SKIP: %s\n", carve_ctx_errmsg(c));
        carve_ctx_destroy(c);
        cleanup();
        return 77;
    }
    carve_ctx_destroy(c);
    RUN(test_matte);
    RUN(test_text_detect);
    RUN(test_inpaint);
    RUN(test_super_resolution);
    RUN(test_depth);
    RUN(test_cancel_and_errors);
    RUN(test_concurrent);
    RUN(test_prewarm);
    carve__nn_shutdown();
    cleanup();
    return test_done();
}
