/* test_nn.c — the parts of the neural backends that need no runtime: SHA-256,
 * strict manifest validation, DB post-processing, resampling, the erase
 * filter, and the clean fallback errors when the runtime or a model is
 * missing. */
#include "../test.h"
#include "core.h"
#include "nn/nn_internal.h"

#include <sys/stat.h>
#include <unistd.h>

static void test_sha256_vectors(void) {
    char h[65];
    carve__sha256_hex("", 0, h);
    CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    carve__sha256_hex("abc", 3, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    carve__sha256_hex(two, strlen(two), h);
    CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    /* a million 'a' fed in uneven pieces */
    carve__sha256 s;
    carve__sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof a ? left : (left % 7) + 990;
        carve__sha256_update(&s, a, k);
        left -= k;
    }
    uint8_t d[32];
    carve__sha256_final(&s, d);
    static const uint8_t want[4] = {0xcd, 0xc7, 0x6e, 0x5c};
    CHECK(!memcmp(d, want, 4) && d[31] == 0xd0);
}

/* the vectors with the SHA-NI path (where the CPU has it) and the portable one;
 * both agree on 100 kB of pseudo-random bytes fed in uneven pieces */
static void test_sha256(void) {
    fprintf(stderr, "  SHA-NI %s\n", carve__sha256_accelerated() ? "used" : "not available");
    test_sha256_vectors();
    size_t n = 100000;
    uint8_t *buf = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) x = x * 1103515245u + 12345u, buf[i] = (uint8_t)(x >> 24);
    char fast[65], slow[65];
    carve__sha256_hex(buf, n, fast);
    carve__sha256_force_portable(true);
    CHECK(!carve__sha256_accelerated());
    test_sha256_vectors();
    carve__sha256 s;
    carve__sha256_init(&s);
    for (size_t i = 0, k = 1; i < n; i += k, k = k * 3 % 257 + 1) carve__sha256_update(&s, buf + i, i + k > n ? n - i : k);
    uint8_t d[32];
    carve__sha256_final(&s, d);
    carve__sha256_force_portable(false);
    for (int i = 0; i < 32; i++) snprintf(slow + 2 * i, 3, "%02x", d[i]);
    CHECKF(!strcmp(fast, slow), "SHA-NI %s vs portable %s", fast, slow);
    free(buf);
    char h[65];
    carve_ctx *c = carve_ctx_create();
    CHECK_ST(carve__sha256_file(c, "/nonexistent/model.onnx", h), CARVE_ERR_IO);
    CHECK(strstr(carve_ctx_errmsg(c), "/nonexistent/model.onnx") != NULL);
    carve_ctx_destroy(c);
}

static const char *good_model =
    "{\"name\":\"m\",\"task\":\"matte\",\"file\":\"m.onnx\","
    "\"sha256\":\"b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb\","
    "\"inputs\":[\"input\"],\"outputs\":[\"output\"],\"layout\":\"NCHW\","
    "\"size_policy\":{\"mode\":\"fixed\",\"width\":1024,\"height\":1024},"
    "\"normalize\":{\"channels\":\"RGB\",\"mean\":[128,128,128],\"std\":256},\"licence\":\"MIT\"";

/* Parses {"version":1,"models":[good_model + extra]} and returns the status;
 * msg gets the error. */
static carve_status parse_with(const char *extra, const char *replace_from, const char *replace_to, char *msg) {
    char model[2048];
    snprintf(model, sizeof model, "%s", good_model);
    if (replace_from) {
        char *p = strstr(model, replace_from);
        if (p) {
            char tail[2048];
            snprintf(tail, sizeof tail, "%s", p + strlen(replace_from));
            snprintf(p, sizeof model - (size_t)(p - model), "%s%s", replace_to, tail);
        }
    }
    char text[4096];
    snprintf(text, sizeof text, "{\"version\":1,\"models\":[%s%s}]}", model, extra ? extra : "");
    carve_ctx *c = carve_ctx_create();
    carve__nn_manifest *m = NULL;
    carve_status st = carve__nn_manifest_parse(c, text, strlen(text), "test.json", "/models", &m);
    snprintf(msg, 1024, "%s", carve_ctx_errmsg(c));
    if (!st) {
        CHECK(m && m->n == 1 && !strcmp(m->models[0].path, "/models/m.onnx"));
        CHECK(m && m->models[0].task == CARVE_NN_MATTE && m->models[0].width == 1024 && !m->models[0].nhwc);
        CHECK(m && m->models[0].mean[2] == 128 && m->models[0].std[0] == 256);
    } else {
        CHECK(m == NULL);
    }
    carve__nn_manifest_free(m);
    carve_ctx_destroy(c);
    return st;
}

static void expect_bad(const char *extra, const char *from, const char *to, const char *field) {
    char msg[1024];
    carve_status st = parse_with(extra, from, to, msg);
    CHECKF(st == CARVE_ERR_CONFIG, "want a config error for %s, got %d", field, st);
    CHECKF(strstr(msg, field) && strstr(msg, "test.json") && strstr(msg, "model 1 (m)"), "message '%s' should name test.json, model 1 (m) and %s", msg, field);
}

static void test_manifest(void) {
    char msg[1024];
    CHECK_ST(parse_with(NULL, NULL, NULL, msg), CARVE_OK);
    /* each case: extra keys appended to the model, a text replaced (from -> to), the field the message names */
    static const struct {
        const char *extra, *from, *to, *field;
    } bad[] = {
        {",\"colour\":1", NULL, NULL, "\"colour\": unknown key"},
        {NULL, "\"task\":\"matte\"", "\"task\":\"segment\"", "task"},
        {NULL, "b6e8497ba978", "b6e8497ba97", "sha256"},
        {NULL, "b6e8497ba978", "x6e8497ba978", "sha256"},
        {NULL, "\"layout\":\"NCHW\"", "\"layout\":\"CHW\"", "layout"},
        {NULL, "\"inputs\":[\"input\"],", "", "inputs"},
        {NULL, "\"mode\":\"fixed\"", "\"mode\":\"square\"", "size_policy.mode"},
        {NULL, "\"width\":1024", "\"width\":0", "size_policy.width"},
        {NULL, "\"width\":1024", "\"width\":10.5", "size_policy.width"},
        {NULL, "\"std\":256", "\"std\":0", "normalize.std"},
        {NULL, "\"channels\":\"RGB\"", "\"channels\":\"RGBA\"", "normalize.channels"},
        {NULL, "\"mean\"", "\"average\"", "normalize.average"},
        {NULL, ",\"licence\":\"MIT\"", "", "licence"},
        {",\"params\":{\"threshold\":0.3}", NULL, NULL, "params"},
        {",\"optional\":\"yes\"", NULL, NULL, "optional"},
        {",\"optimization\":\"max\"", NULL, NULL, "optimization"},
        {",\"params\":{\"score\":2}", "\"task\":\"matte\"", "\"task\":\"object_detect\"", "params.score"},
        {",\"params\":{\"letterbox\":1}", "\"task\":\"matte\"", "\"task\":\"object_detect\"", "params.letterbox"},
        {",\"params\":{\"unclip\":1}", "\"task\":\"matte\"", "\"task\":\"object_detect\"", "params.unclip"},
        {",\"source\":{\"npm\":\"x@1\",\"tarball_sha256\":\"00\",\"path\":\"p\"}", NULL, NULL, "source.tarball_sha256"},
        {NULL, "\"file\":\"m.onnx\"", "\"file\":\"../m.onnx\"", "file"},
        {NULL, "\"task\":\"matte\"", "\"task\":\"inpaint\"", "inputs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_bad(bad[i].extra, bad[i].from, bad[i].to, bad[i].field);

    carve_ctx *c = carve_ctx_create();
    carve__nn_manifest *m = NULL;
    const char *dup = "{\"version\":1,\"models\":[]}";
    CHECK_ST(carve__nn_manifest_parse(c, dup, strlen(dup), "empty.json", "/m", &m), CARVE_OK);
    CHECK(m && m->n == 0 && carve__nn_manifest_pick(m, CARVE_NN_MATTE) == NULL);
    carve__nn_manifest_free(m);
    const char *v2 = "{\"version\":2,\"models\":[]}";
    CHECK_ST(carve__nn_manifest_parse(c, v2, strlen(v2), "v2.json", "/m", &m), CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(c), "version") != NULL);
    const char *broken = "{\"version\":1,\"models\":[";
    CHECK_ST(carve__nn_manifest_parse(c, broken, strlen(broken), "broken.json", "/m", &m), CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(c), "broken.json") != NULL);
    /* the committed default manifest is valid and lists the six models */
    char *text = NULL;
    size_t len = 0;
    CHECK_ST(carve__read_file(c, CARVE_SOURCE_ROOT "/share/models/manifest.json", 0, &text, &len), CARVE_OK);
    if (text) {
        CHECK_ST(carve__nn_manifest_parse(c, text, len, "manifest.json", "/m", &m), CARVE_OK);
        CHECK(m && m->n == 6);
        if (m && m->n == 6) {
            CHECK(m->models[0].task == CARVE_NN_TEXT_DETECT && m->models[0].bgr && m->models[0].long_side == 960 &&
                  m->models[0].multiple == 32 && fabs(m->models[0].box_score - 0.6) < 1e-9);
            CHECK(m->models[1].task == CARVE_NN_OBJECT_DETECT && !m->models[1].optional && m->models[1].bgr &&
                  m->models[1].width == 416 && !m->models[1].letterbox && m->models[1].det_max == 100 &&
                  fabs(m->models[1].mean[0] - 103.53) < 1e-9 && fabs(m->models[1].det_score - 0.25) < 1e-9);
            CHECK(m->models[2].task == CARVE_NN_FACE_DETECT && m->models[2].nhwc && m->models[2].letterbox &&
                  m->models[2].width == 256 && !m->models[2].bgr && fabs(m->models[2].det_score - 0.6) < 1e-9);
            CHECK(m->models[3].task == CARVE_NN_MATTE && m->models[3].optional && strstr(m->models[3].licence, "AGPL"));
            /* the rewritten ISNet first (used when installed), at 512 x 512, "extended" optimisation */
            CHECK(!strcmp(m->models[3].name, "isnet-dynamic") && m->models[3].width == 512 &&
                  m->models[3].optimization == CARVE_NN_OPT_EXTENDED);
            CHECK(!strcmp(m->models[4].name, "isnet-medium") && m->models[4].width == 1024 &&
                  m->models[4].optimization == CARVE_NN_OPT_ALL);
        }
        carve__nn_manifest_free(m);
        free(text);
    }
    carve_ctx_destroy(c);
}

/* A probability map with a filled rotated rectangle. */
static void draw_rect(float *p, int w, int h, double cx, double cy, double rw, double rh, double ang, float v) {
    double ux = cos(ang), uy = sin(ang);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x - cx, dy = y - cy;
            if (fabs(dx * ux + dy * uy) <= rw / 2 && fabs(-dx * uy + dy * ux) <= rh / 2) p[y * w + x] = v;
        }
}

static void test_db(void) {
    int w = 200, h = 150;
    float *p = calloc((size_t)w * h, sizeof *p);
    draw_rect(p, w, h, 60, 40, 80, 16, 0, 0.95f);             /* horizontal line of text */
    draw_rect(p, w, h, 140, 100, 70, 14, M_PI / 6, 0.9f);     /* rotated by 30 degrees */
    draw_rect(p, w, h, 30, 120, 30, 10, 0, 0.45f);            /* above threshold, below box score */
    draw_rect(p, w, h, 170, 20, 20, 2, 0, 0.99f);             /* too thin */
    carve_ctx *c = carve_ctx_create();
    carve__db_box *b = NULL;
    int n = 0;
    CHECK_ST(carve__db_postprocess(c, p, w, h, 0.3, 0.6, 1.5, 1000, &b, &n), CARVE_OK);
    CHECKF(n == 2, "%d boxes", n);
    if (n == 2) {
        /* unclip by area * 1.5 / perimeter on each side */
        double d0 = 80.0 * 16 * 1.5 / (2 * (80 + 16));
        CHECK_NEAR(b[0].cx, 60, 1.0);
        CHECK_NEAR(b[0].cy, 40, 1.0);
        CHECK_NEAR(b[0].w, 80 + 2 * d0, 2.5);
        CHECK_NEAR(b[0].h, 16 + 2 * d0, 2.5);
        CHECK_NEAR(b[0].angle, 0, 0.02);
        CHECK(b[0].score > 0.9f);
        CHECK_NEAR(b[1].cx, 140, 1.0);
        CHECK_NEAR(b[1].cy, 100, 1.0);
        CHECK_NEAR(b[1].angle, M_PI / 6, 0.05);
        CHECK(b[1].w > b[1].h * 2.5);
    }
    free(b);
    /* max_candidates limits the regions looked at, in scan order: the thin
     * one (dropped) and the horizontal one */
    CHECK_ST(carve__db_postprocess(c, p, w, h, 0.3, 0.6, 1.5, 2, &b, &n), CARVE_OK);
    CHECK(n == 1 && b && fabs(b[0].cx - 60) < 1);
    free(b);
    /* empty map */
    memset(p, 0, (size_t)w * h * sizeof *p);
    CHECK_ST(carve__db_postprocess(c, p, w, h, 0.3, 0.6, 1.5, 1000, &b, &n), CARVE_OK);
    CHECK(n == 0 && b == NULL);
    free(p);
    carve_ctx_destroy(c);
}

static void test_resample(void) {
    carve_ctx *c = carve_ctx_create();
    float src[64 * 64], dst[32 * 48], up[128 * 128];
    for (int i = 0; i < 64 * 64; i++) src[i] = 0.25f;
    CHECK_ST(carve__resize_plane(c, src, 64, 64, dst, 32, 48, CARVE_KERNEL_LINEAR), CARVE_OK);
    int bad = 0;
    for (int i = 0; i < 32 * 48; i++) bad += fabsf(dst[i] - 0.25f) > 1e-5f;
    CHECK(bad == 0);
    /* a checkerboard shrunk 4x averages out (antialiasing) */
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) src[y * 64 + x] = (float)((x + y) & 1);
    float small[16 * 16];
    CHECK_ST(carve__resize_plane(c, src, 64, 64, small, 16, 16, CARVE_KERNEL_LINEAR), CARVE_OK);
    bad = 0;
    for (int i = 0; i < 16 * 16; i++) bad += fabsf(small[i] - 0.5f) > 0.05f;
    CHECKF(bad == 0, "%d samples alias", bad);
    /* enlarging a ramp keeps it monotonic */
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) src[y * 64 + x] = (float)x;
    CHECK_ST(carve__resize_plane(c, src, 64, 64, up, 128, 128, CARVE_KERNEL_LINEAR), CARVE_OK);
    bad = 0;
    for (int x = 1; x < 128; x++) bad += up[64 * 128 + x] < up[64 * 128 + x - 1];
    CHECK(bad == 0);
    carve_ctx_destroy(c);
}

/* No runtime or no model: every entry fails cleanly with NOT_FOUND and a
 * message naming what is missing. */
static void test_fallback(void) {
    carve_ctx *c = carve_ctx_create();
    carve_image *im = carve_image_create(32, 24);
    uint8_t *a = (uint8_t *)1;
    carve__box *b = (carve__box *)1;
    int n = 5;
    CHECK_ST(carve_ctx_set_option(c, "ort_library", "/nonexistent/libonnxruntime.so.1"), CARVE_OK);
    CHECK(!carve__nn_available(c, "matte"));
    CHECK_ST(carve__nn_matte(c, im, &a), CARVE_ERR_NOT_FOUND);
    CHECK(a == NULL);
    const char *msg = carve_ctx_errmsg(c);
    if (carve__ort_compiled())
        CHECKF(strstr(msg, "/nonexistent/libonnxruntime.so.1") && strstr(msg, "ONNX Runtime"), "%s", msg);
    else
        CHECKF(strstr(msg, "built without the ONNX Runtime header") && strstr(msg, "scripts/onnx/setup.sh"), "%s", msg);
    CHECK_ST(carve__nn_text_detect(c, im, &b, &n), CARVE_ERR_NOT_FOUND);
    CHECK(b == NULL && n == 0);
    float *d = (float *)1;
    CHECK_ST(carve__nn_depth(c, im, &d), CARVE_ERR_NOT_FOUND);
    CHECK(d == NULL);
    carve_image *o = (carve_image *)1;
    CHECK_ST(carve__nn_super_resolution(c, im, &o), CARVE_ERR_NOT_FOUND);
    CHECK(o == NULL);
    char desc[512];
    carve__nn_describe(c, "matte", desc, sizeof desc);
    CHECK(!strncmp(desc, "unavailable: ", 13));
#if defined(CARVE_FAKE_ORT_OLD) && defined(CARVE_FAKE_NOT_ORT)
    if (carve__ort_compiled()) {
        /* a runtime older than the header: named, with both versions */
        CHECK_ST(carve_ctx_set_option(c, "ort_library", CARVE_FAKE_ORT_OLD), CARVE_OK);
        CHECK_ST(carve__ort_load(c, NULL), CARVE_ERR_NOT_FOUND);
        msg = carve_ctx_errmsg(c);
        CHECKF(strstr(msg, CARVE_FAKE_ORT_OLD) && strstr(msg, "ONNX Runtime 1.10.0 is too old") &&
               strstr(msg, "C API version"), "%s", msg);
        /* a library that is not ONNX Runtime */
        CHECK_ST(carve_ctx_set_option(c, "ort_library", CARVE_FAKE_NOT_ORT), CARVE_OK);
        CHECK_ST(carve__ort_load(c, NULL), CARVE_ERR_NOT_FOUND);
        msg = carve_ctx_errmsg(c);
        CHECKF(strstr(msg, CARVE_FAKE_NOT_ORT) && strstr(msg, "not ONNX Runtime"), "%s", msg);
    }
#endif
    /* a models folder without models: the message names the folder and the
     * manifest's candidates (only reachable when a runtime loads) */
    char dir[] = "/tmp/carve-nn-empty-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_ST(carve_ctx_set_option(c, "ort_library", ""), CARVE_OK);
    CHECK_ST(carve_ctx_set_option(c, "models_dir", dir), CARVE_OK);
    carve_status st = carve__nn_matte(c, im, &a);
    CHECK_ST(st, CARVE_ERR_NOT_FOUND);
    if (carve__ort_load(c, NULL) == CARVE_OK) {
        CHECK_ST(carve__nn_matte(c, im, &a), CARVE_ERR_NOT_FOUND);
        CHECKF(strstr(carve_ctx_errmsg(c), dir) && strstr(carve_ctx_errmsg(c), "isnet-medium"), "%s", carve_ctx_errmsg(c));
        CHECK(!carve__nn_available(c, "text_detect"));
    }
    CHECK(!carve__nn_available(c, "no_such_task"));
    rmdir(dir);
    carve_image_destroy(im);
    carve_ctx_destroy(c);
    carve__nn_shutdown();
}

int main(void) {
    RUN(test_sha256);
    RUN(test_manifest);
    RUN(test_db);
    RUN(test_resample);
    RUN(test_fallback);
    return test_done();
}
