/* test_tune.c — the tuner: style distance, SVG rendering, presets by name,
 * determinism across seeds and threads, resume from restored trials,
 * cancellation, bad input, and the held-out result (references made by carve
 * with options the tuner is not told). */
#include "test.h"
#include "core.h"

#include <pthread.h>
#include <unistd.h>

#define SIDE 160
#define HIDDEN "{\"colors\": 6, \"flatten\": 3, \"min_region\": 30, \"filter_speckle\": 20, " \
               "\"corner_threshold\": 110, \"mode\": \"polygon\", \"trace_tolerance\": 2.0}"

static const char *const train_names[] = {"bus_red_london_plate.jpg", "pickup_white_street.jpg",
                                          "sedan_black_side.jpg", "supercar_white_plate.jpg"};
static const char *const held_names[] = {"firetruck_cutout_rgba.png", "motorcycle_red_garage.png"};
#define NTRAIN 4
#define NHELD 2
#define HELD_OUT_RATIO 0.6

static carve_image *photos[NTRAIN + NHELD], *refs[NTRAIN + NHELD];

static carve_image *load_small(carve_ctx *ctx, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/samples/%s", CARVE_TEST_DATA, name);
    carve_image *im = NULL, *out = NULL;
    if (carve_image_load(ctx, path, &im)) return NULL;
    double f = (double)SIDE / (im->w > im->h ? im->w : im->h);
    carve__resize(ctx, im, (int)(im->w * f + 0.5), (int)(im->h * f + 0.5), CARVE_KERNEL_LANCZOS3, &out);
    carve_image_destroy(im);
    return out;
}

/* The reference: carve's own output with the hidden options, rendered. */
static carve_image *make_ref(carve_ctx *ctx, const carve_image *photo) {
    carve_ctx *c = carve_ctx_clone(ctx);
    char *svg = NULL;
    size_t len = 0;
    carve_image *out = NULL;
    if (!carve_ctx_apply_json(c, HIDDEN, "hidden") && !carve_run(c, photo, NULL, &svg, &len))
        carve_image_from_svg(c, svg, len, "ref", photo->w, photo->h, &out);
    carve_free(svg);
    carve_ctx_destroy(c);
    return out;
}

static void setup(void) {
    carve_ctx *ctx = carve_ctx_create();
    for (int i = 0; i < NTRAIN + NHELD; i++) {
        photos[i] = load_small(ctx, i < NTRAIN ? train_names[i] : held_names[i - NTRAIN]);
        refs[i] = photos[i] ? make_ref(ctx, photos[i]) : NULL;
        if (!photos[i] || !refs[i]) fprintf(stderr, "setup failed: %s\n", carve_ctx_errmsg(ctx));
    }
    carve_ctx_destroy(ctx);
}

static void test_svg_and_distance(void) {
    carve_ctx *ctx = carve_ctx_create();
    const char *svg = "<svg xmlns='http://www.w3.org/2000/svg' width='20' height='10'>"
                      "<rect width='10' height='10' fill='#ff0000'/><rect x='10' width='10' height='10' fill='#0000ff'/></svg>";
    carve_image *a = NULL, *b = NULL;
    CHECK_ST(carve_image_from_svg(ctx, svg, strlen(svg), "t", 40, 20, &a), CARVE_OK);
    CHECK(a && a->w == 40 && a->h == 20);
    if (a) CHECK(a->px[4 * (5 * 40 + 5)] == 255 && a->px[4 * (5 * 40 + 35) + 2] == 255);
    CHECK_ST(carve_image_from_svg(ctx, "<svg", 4, "broken.svg", 0, 0, &b), CARVE_ERR_DECODE);
    CHECK(strstr(carve_ctx_errmsg(ctx), "broken.svg") != NULL);
    double d = -1;
    char *details = NULL;
    CHECK_ST(carve_style_distance(ctx, photos[0], photos[0], &d, &details), CARVE_OK);
    CHECK_NEAR(d, 0, 1e-12);
    CHECK(details && strstr(details, "mean_de00"));
    carve_free(details);
    CHECK_ST(carve_style_distance(ctx, photos[0], refs[0], &d, NULL), CARVE_OK);
    CHECKF(d > 0.3, "photo vs illustration %g", d);
    CHECK_ST(carve_style_distance(ctx, a, refs[0], &d, NULL), CARVE_ERR_INVALID_ARG);
    /* a fully transparent reference has no subject */
    carve_image *clear = carve_image_create(refs[0]->w, refs[0]->h);
    CHECK_ST(carve_style_distance(ctx, refs[0], clear, &d, NULL), CARVE_ERR_EMPTY);
    carve_image_destroy(clear);
    carve_image_destroy(a);
    carve_ctx_destroy(ctx);
}

static void test_presets_by_name(void) {
    char dir[] = "/tmp/carve-presets-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    carve_ctx *ctx = carve_ctx_create();
    CHECK_ST(carve_ctx_set_option(ctx, "presets_dir", dir), CARVE_OK);
    CHECK_ST(carve_ctx_set_option(ctx, "preset", "house"), CARVE_ERR_INVALID_ARG);
    CHECK_ST(carve_preset_install(ctx, "house", "{\"colors\": 7, \"flatten\": 2.5}"), CARVE_OK);
    CHECK_ST(carve_preset_install(ctx, "../x", "{}"), CARVE_ERR_INVALID_ARG);
    CHECK_ST(carve_preset_install(ctx, "poster", "{}"), CARVE_ERR_INVALID_ARG);
    CHECK_ST(carve_preset_install(ctx, "bad", "{\"colors\": 999}"), CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(ctx), "colors") != NULL);
    CHECK_ST(carve_preset_install(ctx, "srv", "{\"listen\": \"0.0.0.0:1\"}"), CARVE_ERR_CONFIG);
    CHECK_ST(carve_ctx_apply_json(ctx, "{\"preset\": \"house\", \"flatten\": 1}", "job"), CARVE_OK);
    char buf[64];
    carve_ctx_get_option(ctx, "colors", buf, sizeof buf);
    CHECK(!strcmp(buf, "7"));
    carve_ctx_get_option(ctx, "flatten", buf, sizeof buf);
    CHECK(!strcmp(buf, "1")); /* explicit keys win over the preset */
    carve_ctx_get_option(ctx, "preset", buf, sizeof buf);
    CHECK(!strcmp(buf, "house"));
    CHECK_ST(carve_ctx_apply_preset(ctx, "nothere"), CARVE_ERR_NOT_FOUND);
    char path[512];
    snprintf(path, sizeof path, "%s/house.json", dir);
    unlink(path);
    rmdir(dir);
    carve_ctx_destroy(ctx);
}

typedef struct rec { int n, restored, stop_after; double score[64]; } rec;

static int record(void *user, const carve_tune_trial *t) {
    rec *r = user;
    if (r->n < 64) r->score[r->n] = t->score;
    r->n++;
    r->restored += t->restored;
    return r->stop_after > 0 && r->n >= r->stop_after;
}

static carve_tuner *make_tuner(int npairs, int trials, uint64_t seed, int threads) {
    carve_ctx *ctx = carve_ctx_create();
    carve_tuner *t = carve_tuner_create(ctx);
    carve_ctx_destroy(ctx);
    for (int i = 0; i < npairs; i++) carve_tuner_add_pair(t, train_names[i], photos[i], refs[i]);
    carve_tuner_configure(t, trials, 0, seed, threads);
    return t;
}

static char *tune_once(int trials, uint64_t seed, int threads, rec *r, carve_status *st) {
    carve_tuner *t = make_tuner(3, trials, seed, threads);
    carve_tuner_set_callback(t, record, r);
    *st = carve_tuner_run(t);
    char *json = NULL;
    carve_tuner_best(t, &json, NULL);
    carve_tuner_destroy(t);
    return json;
}

static void test_deterministic_and_resume(void) {
    rec a = {0}, b = {0}, cut = {0, 0, 4, {0}};
    carve_status st;
    char *ja = tune_once(6, 7, 1, &a, &st);
    CHECK_ST(st, CARVE_OK);
    char *jb = tune_once(6, 7, 2, &b, &st);
    CHECK(ja && jb && !strcmp(ja, jb));
    CHECKF(a.n == 6 + 2 + 1, "evaluations %d", a.n);
    /* interrupted after 4 evaluations: the best so far is kept */
    char *jc = tune_once(6, 7, 1, &cut, &st);
    CHECK_ST(st, CARVE_ERR_CANCELLED);
    CHECK(jc != NULL);
    /* resumed from those 4: the same result, only the rest evaluated */
    carve_tuner *t = make_tuner(3, 6, 7, 1);
    for (int i = 0; i < 4; i++) CHECK_ST(carve_tuner_restore(t, i, cut.score[i]), CARVE_OK);
    CHECK_ST(carve_tuner_restore(t, 9, 0.5), CARVE_ERR_INVALID_ARG);
    rec r = {0};
    carve_tuner_set_callback(t, record, &r);
    CHECK_ST(carve_tuner_run(t), CARVE_OK);
    char *jr = NULL;
    CHECK_ST(carve_tuner_best(t, &jr, NULL), CARVE_OK);
    CHECK(jr && ja && !strcmp(jr, ja));
    CHECK(r.restored == 4 && r.n == a.n);
    for (int i = 0; i < a.n && i < 64; i++) CHECK_NEAR(r.score[i], a.score[i], 1e-12);
    carve_tuner_destroy(t);
    carve_free(ja);
    carve_free(jb);
    carve_free(jc);
    carve_free(jr);
}

static void *cancel_later(void *arg) {
    usleep(300000);
    carve_tuner_cancel(arg);
    return NULL;
}

static void test_cancel_and_errors(void) {
    carve_tuner *t = make_tuner(3, 200, 1, 1);
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, t);
    double t0 = carve__now();
    CHECK_ST(carve_tuner_run(t), CARVE_ERR_CANCELLED);
    double dt = carve__now() - t0 - 0.3;
    CHECKF(dt < 1.0, "cancel took %.2f s", dt);
    pthread_join(th, NULL);
    carve_tuner_destroy(t);

    t = make_tuner(1, 4, 1, 1);
    CHECK_ST(carve_tuner_run(t), CARVE_ERR_EMPTY);
    CHECK(strstr(carve_tuner_errmsg(t), "at least 2") != NULL);
    CHECK_ST(carve_tuner_configure(t, 0, 0, 1, 1), CARVE_ERR_OUT_OF_RANGE);
    char *json = NULL;
    CHECK_ST(carve_tuner_best(t, &json, NULL), CARVE_ERR_NOT_FOUND);
    carve_tuner_destroy(t);

    t = make_tuner(2, 4, 1, 1);
    carve_tuner_configure(t, 4, 1e-6, 1, 1);
    CHECK_ST(carve_tuner_run(t), CARVE_ERR_TIMEOUT);
    CHECK(strstr(carve_tuner_errmsg(t), "single trial") != NULL);
    carve_tuner_destroy(t);
}

static double held_out(const char *json) {
    carve_ctx *ctx = carve_ctx_create();
    if (json) carve_ctx_apply_json(ctx, json, "style.json");
    double sum = 0;
    for (int i = NTRAIN; i < NTRAIN + NHELD; i++) {
        double d = 0;
        if (carve_style_evaluate(ctx, photos[i], refs[i], &d, NULL)) fprintf(stderr, "%s\n", carve_ctx_errmsg(ctx));
        sum += d;
    }
    carve_ctx_destroy(ctx);
    return sum / NHELD;
}

static void test_held_out(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_tuner *t = carve_tuner_create(ctx);
    carve_ctx_destroy(ctx);
    for (int i = 0; i < NTRAIN; i++) carve_tuner_add_pair(t, train_names[i], photos[i], refs[i]);
    carve_tuner_configure(t, 30, 0, 1, 0);
    CHECK_ST(carve_tuner_run(t), CARVE_OK);
    char *json = NULL;
    double score = 0;
    CHECK_ST(carve_tuner_best(t, &json, &score), CARVE_OK);
    double dflt = held_out(NULL), tuned = held_out(json);
    fprintf(stderr, "held-out style distance: default %.4f, tuned %.4f (%.2fx); %s\n", dflt, tuned, tuned / dflt, json);
    CHECKF(tuned <= HELD_OUT_RATIO * dflt, "tuned %.4f vs default %.4f", tuned, dflt);
    carve_free(json);
    carve_tuner_destroy(t);
}

int main(void) {
    setup();
    for (int i = 0; i < NTRAIN + NHELD; i++)
        if (!photos[i] || !refs[i]) return 1;
    RUN(test_svg_and_distance);
    RUN(test_presets_by_name);
    RUN(test_deterministic_and_resume);
    RUN(test_cancel_and_errors);
    RUN(test_held_out);
    for (int i = 0; i < NTRAIN + NHELD; i++) {
        carve_image_destroy(photos[i]);
        carve_image_destroy(refs[i]);
    }
    return test_done();
}
