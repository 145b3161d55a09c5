/* test_pipeline.c — carve_run end to end on real samples (small work size),
 * the run report, fallbacks, cancellation, erase boxes and masks,
 * determinism across thread counts, intermediates, presets, HTML report,
 * and the pipeline helpers (erase parsing, push-pull fill, resize). */
#include "../test_util.h"
#include "core.h"
#include "nn/nn.h"
#include "pipeline/pipeline.h"

#include <jansson.h>
#include <stdint.h>
#include <unistd.h>
#ifdef HAVE_RSVG
#include "../test_render.h"
#endif

/* Tests run the classical backends (fast, no model files needed); the
 * neural path has its own test below, run when a model is installed. */
static void classical(carve_ctx *ctx) {
    carve_ctx_set_option(ctx, "matte_backend", "classical");
    carve_ctx_set_option(ctx, "text_backend", "classical");
}

static carve_ctx *small_ctx(int work) {
    carve_ctx *ctx = carve_ctx_create();
    char v[16];
    snprintf(v, sizeof v, "%d", work);
    carve_ctx_set_option(ctx, "work_size", v);
    classical(ctx);
    return ctx;
}

static json_t *report_of(carve_ctx *ctx) {
    const char *r = carve_ctx_report_json(ctx);
    if (!r) return NULL;
    json_error_t e;
    json_t *j = json_loads(r, 0, &e);
    if (!j) fprintf(stderr, "report JSON error: %s (line %d)\n", e.text, e.line);
    return j;
}

static json_t *phase_of(json_t *rep, const char *name) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(rep, "phases"), i, p) if (!strcmp(json_string_value(json_object_get(p, "name")), name)) return p;
    return NULL;
}

static json_t *step_of(json_t *rep, const char *phase, const char *name) {
    json_t *p = phase_of(rep, phase);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(p, "steps"), i, s) if (!strcmp(json_string_value(json_object_get(s, "name")), name)) return s;
    return NULL;
}

static const char *jstr(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Every fill/stroke colour of the SVG; returns the count, -1 on a malformed one. */
static int svg_colors(const char *svg, uint32_t *out, int max) {
    int n = 0;
    const char *keys[] = {"fill=\"#", "stroke=\"#", "fill:#", "stroke:#"};
    for (int k = 0; k < 4; k++) {
        size_t kl = strlen(keys[k]);
        for (const char *p = svg; (p = strstr(p, keys[k])); p += kl) {
            uint32_t c;
            size_t hl = strspn(p + kl, "0123456789abcdefABCDEF"); /* #rgb or #rrggbb */
            if ((hl != 3 && hl != 6) || !carve__parse_hex(p + kl - 1, hl + 1, &c)) return -1;
            bool seen = false;
            for (int i = 0; i < n; i++) seen |= out[i] == c;
            if (!seen && n < max) out[n++] = c;
        }
    }
    return n;
}

static bool in_palette_json(json_t *colors, uint32_t c) {
    size_t i;
    json_t *v;
    json_array_foreach(colors, i, v) {
        uint32_t p;
        const char *s = json_string_value(v);
        if (s && carve__parse_hex(s, strlen(s), &p) && p == c) return true;
    }
    return false;
}

#ifdef HAVE_RSVG
/* Renders the SVG at w x h; returns RGBA (cairo ARGB32 converted) or NULL. */
static uint8_t *render_svg(const char *svg, size_t len, int w, int h) {
    uint32_t *argb = tu_render_with(svg, len, w, h, false); /* exact fills, no blended edge pixels */
    if (!argb) return NULL;
    uint8_t *px = malloc((size_t)w * h * 4);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        uint32_t v = argb[i];
        uint8_t *o = px + 4 * i;
        int a = TU_ALPHA(v);
        o[3] = (uint8_t)a;
        for (int c = 0; c < 3; c++) {
            int pm = (int)((v >> (16 - 8 * c)) & 255);
            o[c] = (uint8_t)(a ? (pm * 255 + a / 2) / a : 0);
        }
    }
    free(argb);
    return px;
}
#endif

/* Checks an SVG: a document whose every colour is in the report's palette. */
static void check_svg_palette(const char *svg, size_t len, json_t *rep, const char *what) {
    CHECKF(svg && len > 20, "%s: no SVG", what);
    if (!svg) return;
    CHECKF(strstr(svg, "<svg") && strstr(svg, "</svg>"), "%s: not an SVG document", what);
    CHECKF(strlen(svg) == len, "%s: length %zu but strlen %zu", what, len, strlen(svg));
    json_t *colors = json_object_get(json_object_get(phase_of(rep, "chroma"), "palette"), "colors");
    CHECKF(json_array_size(colors) >= 1, "%s: report has no palette", what);
    uint32_t cols[512];
    int n = svg_colors(svg, cols, 512);
    CHECKF(n >= 1, "%s: SVG has %d fill colours", what, n);
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (!in_palette_json(colors, cols[i])) {
            if (!bad) fprintf(stderr, "  %s: colour #%06x is not in the palette\n", what, cols[i]);
            bad++;
        }
    CHECKF(bad == 0, "%s: %d SVG colours outside the palette", what, bad);
}

static void check_report_phases(json_t *rep, const char *what) {
    CHECKF(rep != NULL, "%s: report does not parse", what);
    if (!rep) return;
    const char *names[] = {"sanitize", "steer", "chroma", "vector"};
    for (int i = 0; i < 4; i++) {
        json_t *p = phase_of(rep, names[i]);
        CHECKF(p != NULL, "%s: phase %s missing from the report", what, names[i]);
        if (!p) continue;
        CHECKF(json_is_string(json_object_get(p, "backend")) && *jstr(p, "backend"), "%s: %s has no backend", what,
               names[i]);
        CHECKF(json_is_number(json_object_get(p, "time_s")) && json_number_value(json_object_get(p, "time_s")) >= 0,
               "%s: %s has no time", what, names[i]);
        CHECKF(json_is_number(json_object_get(p, "peak_rss_mb")), "%s: %s has no peak RSS", what, names[i]);
        CHECKF(json_is_number(json_object_get(p, "cpu_s")), "%s: %s has no CPU time", what, names[i]);
        size_t j;
        json_t *s;
        json_array_foreach(json_object_get(p, "steps"), j, s) {
            CHECKF(*jstr(s, "backend") && *jstr(s, "status") && json_is_array(json_object_get(s, "fallbacks")),
                   "%s: step %s of %s incomplete", what, jstr(s, "name"), names[i]);
        }
    }
    CHECK(json_is_number(json_object_get(json_object_get(rep, "totals"), "time_s")));
    CHECK(json_is_object(json_object_get(rep, "options")));
}

static void test_samples_end_to_end(void) {
    const char *samples[] = {"bus_red_london_plate.jpg", "sedan_black_side.jpg", "firetruck_cutout_rgba.png"};
    for (int k = 0; k < 3; k++) {
        carve_image *img = tu_load_sample(NULL, samples[k]);
        CHECKF(img != NULL, "load %s", samples[k]);
        if (!img) continue;
        carve_ctx *ctx = small_ctx(320);
        carve_ctx_set_option(ctx, "keep_intermediates", "true");
        char *svg = NULL;
        size_t len = 0;
        carve_status st = carve_run(ctx, img, NULL, &svg, &len);
        CHECKF(st == CARVE_OK, "%s: %s", samples[k], carve_ctx_errmsg(ctx));
        json_t *rep = report_of(ctx);
        check_report_phases(rep, samples[k]);
        CHECK(!strcmp(jstr(rep, "status"), "ok"));
        if (svg) check_svg_palette(svg, len, rep, samples[k]);
        /* work size honoured */
        json_t *inp = json_object_get(rep, "input");
        int ww = (int)json_integer_value(json_object_get(inp, "work_width"));
        int wh = (int)json_integer_value(json_object_get(inp, "work_height"));
        CHECKF((ww > wh ? ww : wh) == 320, "%s: work size %dx%d", samples[k], ww, wh);
        /* intermediates kept at the work size */
        const char *names[] = {"input", "sanitize", "steer", "chroma"};
        for (int i = 0; i < 4; i++) {
            const carve_image *im = carve_ctx_intermediate(ctx, names[i]);
            CHECKF(im && carve_image_width(im) == ww && carve_image_height(im) == wh, "%s: intermediate %s",
                   samples[k], names[i]);
        }
        CHECK(carve_ctx_intermediate(ctx, "nonsense") == NULL);
#ifdef HAVE_RSVG
        if (svg) {
            uint8_t *px = render_svg(svg, len, ww, wh);
            CHECKF(px != NULL, "%s: librsvg cannot render the SVG", samples[k]);
            /* the render matches the chroma image: inside flat areas (the 5x5
             * neighbourhood is one colour) the rendered colour is that colour;
             * near boundaries it lies between the neighbourhood's colours
             * (antialiasing blends), per channel with a small tolerance */
            const carve_image *q = carve_ctx_intermediate(ctx, "chroma");
            if (px && q) {
                int64_t flat = 0, flat_ok = 0, edge = 0, edge_ok = 0;
                const uint8_t *qp = carve_image_pixels_const(q);
                for (int y = 2; y < wh - 2; y++)
                    for (int x = 2; x < ww - 2; x++) {
                        size_t i = (size_t)y * ww + x;
                        if (qp[4 * i + 3] < 128) continue;
                        int lo[3] = {255, 255, 255}, hi[3] = {0, 0, 0};
                        bool uniform = true;
                        for (int dy = -2; dy <= 2; dy++)
                            for (int dx = -2; dx <= 2; dx++) {
                                const uint8_t *c = qp + 4 * ((size_t)(y + dy) * ww + (x + dx));
                                if (c[3] < 128 || memcmp(c, qp + 4 * i, 3)) uniform = false;
                                if (c[3] < 128) continue;
                                for (int ch = 0; ch < 3; ch++) {
                                    if (c[ch] < lo[ch]) lo[ch] = c[ch];
                                    if (c[ch] > hi[ch]) hi[ch] = c[ch];
                                }
                            }
                        const uint8_t *r = px + 4 * i;
                        if (uniform) {
                            flat++;
                            flat_ok += abs(r[0] - qp[4 * i]) + abs(r[1] - qp[4 * i + 1]) + abs(r[2] - qp[4 * i + 2]) < 12;
                        } else {
                            edge++;
                            bool in = true;
                            for (int ch = 0; ch < 3; ch++) in &= r[ch] + 12 >= lo[ch] && r[ch] <= hi[ch] + 12;
                            edge_ok += in;
                        }
                    }
                CHECKF(flat > 0 && flat_ok > 0.98 * flat, "%s: render matches chroma on %lld of %lld flat pixels",
                       samples[k], (long long)flat_ok, (long long)flat);
                CHECKF(edge_ok > 0.95 * edge, "%s: render within the neighbourhood on %lld of %lld edge pixels",
                       samples[k], (long long)edge_ok, (long long)edge);
            }
            free(px);
        }
#endif
        json_decref(rep);
        carve_free(svg);
        carve_ctx_destroy(ctx);
        carve_image_destroy(img);
    }
}

static void test_cutout_alpha_and_background_colour(void) {
    carve_image *img = tu_load_sample(NULL, "firetruck_cutout_rgba.png");
    CHECK(img != NULL);
    if (!img) return;
    /* the cutout's own alpha is the matte; background removed => the
     * corners of the chroma image are transparent */
    carve_ctx *ctx = small_ctx(300);
    carve_ctx_set_option(ctx, "keep_intermediates", "true");
    char *svg = NULL;
    size_t len = 0;
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    json_t *rep = report_of(ctx);
    json_t *m = step_of(rep, "steer", "matte");
    CHECKF(!strcmp(jstr(m, "backend"), "input-alpha"), "matte backend %s", jstr(m, "backend"));
    CHECK(!strcmp(jstr(phase_of(rep, "steer"), "background"), "remove"));
    const carve_image *q = carve_ctx_intermediate(ctx, "chroma");
    CHECK(q && carve_image_pixels_const(q)[3] == 0);
    json_decref(rep);
    carve_free(svg);

    /* background #rrggbb: the colour is kept exactly and fills the corners */
    CHECK_ST(carve_ctx_set_option(ctx, "background", "#20a040"), CARVE_OK);
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    rep = report_of(ctx);
    json_t *colors = json_object_get(json_object_get(phase_of(rep, "chroma"), "palette"), "colors");
    CHECKF(in_palette_json(colors, 0x20a040), "background colour not in the palette");
    q = carve_ctx_intermediate(ctx, "chroma");
    if (q) {
        const uint8_t *p = carve_image_pixels_const(q);
        CHECKF(p[3] == 255 && p[0] == 0x20 && p[1] == 0xa0 && p[2] == 0x40, "corner is %02x%02x%02x/%d", p[0], p[1],
               p[2], p[3]);
    }
    CHECK(svg && strstr(svg, "#20a040"));
    json_decref(rep);
    carve_free(svg);

    /* a bad background value is refused when set, naming the option */
    CHECK_ST(carve_ctx_set_option(ctx, "background", "purple"), CARVE_ERR_INVALID_ARG);
    CHECK(strstr(carve_ctx_errmsg(ctx), "background") && strstr(carve_ctx_errmsg(ctx), "purple"));
    carve_ctx_destroy(ctx);
    carve_image_destroy(img);
}

static carve_image *flat_image(int w, int h, uint32_t rgb, int alpha) {
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    for (int i = 0; i < w * h; i++) {
        p[4 * i] = (uint8_t)(rgb >> 16);
        p[4 * i + 1] = (uint8_t)(rgb >> 8);
        p[4 * i + 2] = (uint8_t)rgb;
        p[4 * i + 3] = (uint8_t)alpha;
    }
    return im;
}

/* Inputs with nothing to draw, and a flat image whose matte may be dropped. */
static void failures_inputs(carve_ctx *ctx, carve_image *flat) {
    char *svg = NULL;
    size_t len = 0;

    /* fully transparent input: nothing to draw, a clear error, a report */
    carve_image *clear = flat_image(64, 48, 0x336699, 0);
    CHECK_ST(carve_run(ctx, clear, NULL, &svg, &len), CARVE_ERR_EMPTY);
    CHECK(svg == NULL && len == 0);
    CHECK(strstr(carve_ctx_errmsg(ctx), "transparent") != NULL);
    json_t *rep = report_of(ctx);
    CHECK(rep && !strcmp(jstr(rep, "status"), "failed"));
    CHECK(rep && strstr(jstr(json_object_get(rep, "error"), "message"), "transparent"));
    json_decref(rep);
    carve_image_destroy(clear);

    /* 0x0 input */
    carve_image *empty = carve_image_create(0, 0);
    CHECK_ST(carve_run(ctx, empty, NULL, &svg, &len), CARVE_ERR_EMPTY);
    carve_image_destroy(empty);
    CHECK_ST(carve_run(ctx, NULL, NULL, &svg, &len), CARVE_ERR_INVALID_ARG);

    /* a flat image: the run still succeeds; one colour; the matte (whatever
     * the backend made of it) is reported with a reason if it was dropped */
    CHECK_ST(carve_run(ctx, flat, NULL, &svg, &len), CARVE_OK);
    rep = report_of(ctx);
    check_report_phases(rep, "flat");
    json_t *q = step_of(rep, "chroma", "quantize");
    CHECKF(json_integer_value(json_object_get(json_object_get(q, "details"), "colors_used")) == 1,
           "flat image uses %lld colours",
           (long long)json_integer_value(json_object_get(json_object_get(q, "details"), "colors_used")));
    json_t *m = step_of(rep, "steer", "matte");
    if (!strcmp(jstr(m, "status"), "skipped")) {
        json_t *fb = json_object_get(m, "fallbacks");
        CHECK(json_array_size(fb) >= 1);
        CHECK(*jstr(json_array_get(fb, json_array_size(fb) - 1), "reason"));
        CHECK(!strcmp(jstr(phase_of(rep, "steer"), "background"), "keep (no usable matte)"));
    }
    json_decref(rep);
    carve_free(svg);
    svg = NULL;
}

/* Matte forced to neural without a model (an empty models folder):
 * classical, with the reason. */
static void failures_forced_neural(carve_ctx *ctx) {
    char *svg = NULL;
    size_t len = 0;
    json_t *rep, *m;
    CHECK_ST(carve_ctx_set_option(ctx, "models_dir", "/nonexistent/carve-test-models"), CARVE_OK);
    CHECK(!carve__nn_available(ctx, "matte"));
    carve_image *img = tu_load_sample(NULL, "bus_red_london_plate.jpg");
    CHECK_ST(carve_ctx_set_option(ctx, "matte_backend", "neural"), CARVE_OK);
    CHECK_ST(carve_ctx_set_option(ctx, "text_backend", "neural"), CARVE_OK);
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    rep = report_of(ctx);
    m = step_of(rep, "steer", "matte");
    json_t *fb0 = json_array_get(json_object_get(m, "fallbacks"), 0);
    CHECKF(!strcmp(jstr(fb0, "backend"), "neural") && *jstr(fb0, "reason"), "matte fallback %s: %s",
           jstr(fb0, "backend"), jstr(fb0, "reason"));
    CHECK(json_object_get(fb0, "unavailable") == NULL); /* forced: a real fallback */
    CHECKF(!strcmp(jstr(m, "backend"), "classical"), "matte backend %s", jstr(m, "backend"));
    CHECKF(!strcmp(jstr(m, "status"), "fallback"), "matte status %s", jstr(m, "status"));
    json_t *d = step_of(rep, "sanitize", "detect");
    CHECK(!strcmp(jstr(d, "backend"), "classical"));
    CHECK(!strcmp(jstr(d, "status"), "fallback"));
    json_decref(rep);
    carve_free(svg);
    svg = NULL;
    /* auto mode: an absent model is routine, not a fallback */
    carve_ctx_set_option(ctx, "matte_backend", "auto");
    carve_ctx_set_option(ctx, "text_backend", "auto");
    carve_ctx_set_option(ctx, "flatten", "0");
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    rep = report_of(ctx);
    d = step_of(rep, "sanitize", "detect");
    CHECK(!strcmp(jstr(d, "status"), "ok"));
    CHECK(json_object_get(json_array_get(json_object_get(d, "fallbacks"), 0), "unavailable") == json_true());
    CHECK(!strcmp(jstr(step_of(rep, "steer", "flatten"), "status"), "skipped"));
    json_decref(rep);
    carve_free(svg);
    svg = NULL;
    carve_image_destroy(img);
    classical(ctx);
    carve_ctx_set_option(ctx, "models_dir", "");
}

/* A backend whose output fails validation: a photo with one transparent
 * corner pixel block makes the input-alpha matte "all foreground", which
 * is rejected (with its measurements) before the classical matte runs. */
static void failures_validation(carve_ctx *ctx) {
    char *svg = NULL;
    size_t len = 0;
    json_t *rep, *m;
    carve_image *img = tu_load_sample(NULL, "sedan_black_side.jpg");
    uint8_t *p = carve_image_pixels(img);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) p[4 * ((size_t)y * carve_image_width(img) + x) + 3] = 0;
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    rep = report_of(ctx);
    m = step_of(rep, "steer", "matte");
    json_t *fb0 = json_array_get(json_object_get(m, "fallbacks"), 0);
    CHECKF(!strcmp(jstr(fb0, "backend"), "input-alpha") && strstr(jstr(fb0, "reason"), "all foreground"),
           "first matte fallback %s: %s", jstr(fb0, "backend"), jstr(fb0, "reason"));
    CHECK(json_number_value(json_object_get(json_object_get(fb0, "details"), "foreground_fraction")) > 0.99);
    CHECK(json_object_get(fb0, "unavailable") == NULL);
    CHECKF(!strcmp(jstr(m, "status"), "fallback") && !strcmp(jstr(m, "backend"), "classical"),
           "matte status %s backend %s", jstr(m, "status"), jstr(m, "backend"));
    CHECK(!strcmp(jstr(phase_of(rep, "steer"), "status"), "fallback"));
    json_decref(rep);
    carve_free(svg);
    svg = NULL;
    carve_image_destroy(img);
}

/* A required step failing, and option errors found by the run. */
static void failures_required(carve_ctx *ctx, carve_image *flat) {
    char *svg = NULL;
    size_t len = 0;
    json_t *rep;
    /* a required step failing: unknown palette fails the run, naming it */
    CHECK_ST(carve_ctx_set_option(ctx, "palette", "no-such-palette-xyz"), CARVE_OK);
    CHECK(carve_run(ctx, flat, NULL, &svg, &len) != CARVE_OK);
    CHECK(svg == NULL);
    CHECKF(strstr(carve_ctx_errmsg(ctx), "no-such-palette-xyz") != NULL, "message: %s", carve_ctx_errmsg(ctx));
    rep = report_of(ctx);
    CHECK(rep && !strcmp(jstr(step_of(rep, "chroma", "palette"), "status"), "failed"));
    CHECK(rep && !strcmp(jstr(rep, "status"), "failed"));
    json_decref(rep);
    carve_ctx_set_option(ctx, "palette", "");

    /* bad erase text and a mismatched erase mask are option errors */
    CHECK_ST(carve_ctx_set_option(ctx, "erase", "10,10,abc,5"), CARVE_ERR_INVALID_ARG); /* refused when set */
    CHECK(strstr(carve_ctx_errmsg(ctx), "erase") && strstr(carve_ctx_errmsg(ctx), "abc"));
    carve_ctx_set_option(ctx, "erase", "");
    char mpath[] = "/tmp/carve_test_maskXXXXXX.png";
    int fd = mkstemps(mpath, 4);
    if (fd >= 0) close(fd);
    carve_image *mask = flat_image(10, 10, 0xffffff, 255);
    CHECK_ST(carve_image_save(ctx, mask, mpath), CARVE_OK);
    CHECK_ST(carve_ctx_set_option(ctx, "erase_mask", mpath), CARVE_OK);
    CHECK_ST(carve_run(ctx, flat, NULL, &svg, &len), CARVE_ERR_INVALID_ARG);
    CHECKF(strstr(carve_ctx_errmsg(ctx), "erase_mask") && strstr(carve_ctx_errmsg(ctx), "10x10"), "message: %s",
           carve_ctx_errmsg(ctx));
    carve_ctx_set_option(ctx, "erase_mask", "/nonexistent/mask.png");
    CHECK_ST(carve_run(ctx, flat, NULL, &svg, &len), CARVE_ERR_INVALID_ARG);
    CHECK(strstr(carve_ctx_errmsg(ctx), "erase_mask") != NULL);
    unlink(mpath);
    carve_image_destroy(mask);
}

static void test_forced_failures(void) {
    carve_ctx *ctx = small_ctx(256);
    carve_image *flat = flat_image(96, 64, 0x808890, 255);
    failures_inputs(ctx, flat);
    failures_forced_neural(ctx);
    failures_validation(ctx);
    failures_required(ctx, flat);
    carve_image_destroy(flat);
    carve_ctx_destroy(ctx);
}

typedef struct cancel_probe { double at; int calls; double when; double last_f; bool backwards; } cancel_probe;

static int cancel_cb(void *user, double f, const char *stage) {
    (void)stage;
    cancel_probe *c = user;
    c->calls++;
    if (f < c->last_f) c->backwards = true;
    c->last_f = f;
    if (f >= c->at && c->when == 0) c->when = carve__now();
    return f >= c->at;
}

static void test_cancellation(void) {
    carve_image *img = tu_load_sample(NULL, "sedan_black_side.jpg");
    CHECK(img != NULL);
    if (!img) return;
    double stops[] = {0.0, 0.1, 0.3, 0.5, 0.8};
    for (int k = 0; k < 5; k++) {
        carve_ctx *ctx = small_ctx(400);
        cancel_probe c = {stops[k], 0, 0, 0, false};
        carve_ctx_set_progress(ctx, cancel_cb, &c);
        char *svg = (char *)1;
        size_t len = 7;
        carve_status st = carve_run(ctx, img, NULL, &svg, &len);
        double lag = carve__now() - c.when;
        CHECKF(st == CARVE_ERR_CANCELLED, "cancel at %.1f: status %d (%s)", stops[k], st, carve_ctx_errmsg(ctx));
        CHECK(svg == NULL && len == 0);
        CHECKF(lag < 2.0, "cancel at %.1f took %.3f s", stops[k], lag); /* generous: CI runs it under ASan on a busy machine */
        CHECK(!c.backwards);
        json_t *rep = report_of(ctx);
        CHECK(rep && !strcmp(jstr(rep, "status"), "cancelled"));
        json_decref(rep);
        carve_ctx_destroy(ctx);
    }
    /* a cancel requested before the call; reset makes the ctx usable again */
    carve_ctx *ctx = small_ctx(256);
    carve_ctx_cancel(ctx);
    char *svg = NULL;
    size_t len = 0;
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_ERR_CANCELLED);
    carve_ctx_reset_cancel(ctx);
    cancel_probe c = {2.0, 0, 0, 0, false};
    carve_ctx_set_progress(ctx, cancel_cb, &c);
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    CHECK(c.calls >= 5 && !c.backwards);
    CHECK_NEAR(c.last_f, 1.0, 1e-9);
    carve_free(svg);
    carve_ctx_destroy(ctx);
    carve_image_destroy(img);
}

/* A textured background with a dark "plate" carrying light bars. */
static carve_image *plate_scene(int w, int h, int px, int py, int pw, int ph) {
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + 4 * ((size_t)y * w + x);
            q[0] = (uint8_t)(150 + 40 * x / w);
            q[1] = (uint8_t)(60 + 30 * y / h);
            q[2] = (uint8_t)(50 + ((x / 7 + y / 5) % 2) * 6);
            q[3] = 255;
            if (x >= px && x < px + pw && y >= py && y < py + ph) {
                bool bar = ((x - px) % 10) < 3 && y > py + 3 && y < py + ph - 3;
                q[0] = q[1] = q[2] = bar ? 240 : 15;
            }
        }
    return im;
}

static void test_erase_boxes(void) {
    /* 800x400 input, work size 400: the box is given in input pixels */
    carve_image *img = plate_scene(800, 400, 300, 200, 160, 50);
    carve_ctx *ctx = small_ctx(400);
    carve_ctx_set_option(ctx, "keep_intermediates", "true");
    carve_ctx_set_option(ctx, "auto_erase", "false");
    carve_ctx_set_option(ctx, "background", "keep");
    carve_ctx_set_option(ctx, "flatten", "0");
    CHECK_ST(carve_ctx_set_option(ctx, "erase", "296,196,168,58"), CARVE_OK);
    char *svg = NULL;
    size_t len = 0;
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    const carve_image *a = carve_ctx_intermediate(ctx, "input"), *b = carve_ctx_intermediate(ctx, "sanitize");
    const carve_image *mk = carve_ctx_intermediate(ctx, "erase_mask");
    CHECK(a && b && mk);
    if (a && b && mk) {
        CHECK(carve_image_width(b) == 400 && carve_image_height(b) == 200);
        const uint8_t *pa = carve_image_pixels_const(a), *pb = carve_image_pixels_const(b);
        const uint8_t *pm = carve_image_pixels_const(mk);
        int64_t inside = 0, dark_after = 0, outside_changed = 0, masked = 0;
        for (int y = 0; y < 200; y++)
            for (int x = 0; x < 400; x++) {
                size_t i = (size_t)y * 400 + x;
                bool in_box = x >= 150 && x < 230 && y >= 100 && y < 125; /* the plate, work coords */
                if (pm[4 * i]) masked++;
                if (in_box) {
                    inside++;
                    dark_after += pb[4 * i] < 100;
                } else if (!pm[4 * i]) {
                    outside_changed += memcmp(pa + 4 * i, pb + 4 * i, 4) != 0;
                }
            }
        CHECKF(masked >= 84 * 29 && masked <= 86 * 31, "mask has %lld pixels", (long long)masked);
        CHECKF(dark_after < inside / 50, "%lld of %lld plate pixels still dark", (long long)dark_after, (long long)inside);
        CHECK(outside_changed == 0);
    }
    json_t *rep = report_of(ctx);
    json_t *boxes = json_object_get(phase_of(rep, "sanitize"), "erased_boxes");
    CHECK(json_array_size(boxes) == 1);
    json_t *b0 = json_array_get(boxes, 0);
    CHECK(!strcmp(jstr(b0, "kind"), "user"));
    CHECK(json_integer_value(json_object_get(b0, "x")) == 296);
    CHECK(json_integer_value(json_object_get(b0, "w")) == 168);
    /* the SVG keeps the input's display size over a work-size viewBox */
    CHECKF(svg && strstr(svg, "width=\"800\"") && strstr(svg, "height=\"400\"") && strstr(svg, "0 0 400 200"),
           "svg root: %.160s", svg ? svg : "");
    json_t *inp = step_of(rep, "sanitize", "inpaint");
    /* no inpainting model is installed by default: the exemplar method runs */
    CHECKF(!strcmp(jstr(inp, "status"), "ok") && !strcmp(jstr(inp, "backend"), "exemplar"), "inpaint %s/%s",
           jstr(inp, "status"), jstr(inp, "backend"));
    json_decref(rep);
    carve_free(svg);

    /* the same through an erase mask file (white = erase) */
    carve_image *mask = flat_image(800, 400, 0x000000, 255);
    uint8_t *mp = carve_image_pixels(mask);
    for (int y = 196; y < 254; y++)
        for (int x = 296; x < 464; x++) memset(mp + 4 * ((size_t)y * 800 + x), 255, 3);
    char mpath[] = "/tmp/carve_test_maskXXXXXX.png";
    int fd = mkstemps(mpath, 4);
    if (fd >= 0) close(fd);
    CHECK_ST(carve_image_save(ctx, mask, mpath), CARVE_OK);
    carve_ctx_set_option(ctx, "erase", "");
    carve_ctx_set_option(ctx, "erase_mask", mpath);
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    b = carve_ctx_intermediate(ctx, "sanitize");
    if (b) {
        const uint8_t *pb = carve_image_pixels_const(b);
        int64_t dark = 0;
        for (int y = 100; y < 125; y++)
            for (int x = 150; x < 230; x++) dark += pb[4 * ((size_t)y * 400 + x)] < 100;
        CHECKF(dark < 40, "mask erase left %lld dark pixels", (long long)dark);
    }
    unlink(mpath);
    carve_free(svg);
    carve_image_destroy(mask);

    /* a box outside the image is ignored and reported */
    carve_ctx_set_option(ctx, "erase_mask", "");
    carve_ctx_set_option(ctx, "erase", "5000,5000,10,10");
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    rep = report_of(ctx);
    CHECK(json_array_size(json_object_get(rep, "erase_ignored")) == 1);
    CHECK(!strcmp(jstr(step_of(rep, "sanitize", "inpaint"), "status"), "skipped"));
    json_decref(rep);
    carve_free(svg);
    carve_ctx_destroy(ctx);
    carve_image_destroy(img);
}

/* Option erase_text decides which detections are erased, whatever the
 * backend: on the bus the classical detector finds the plate and two text
 * blocks (advert, destination blind). */
static void test_erase_text_policy(void) {
    carve_image *img = tu_load_sample(NULL, "bus_red_london_plate.jpg");
    const char *modes[] = {"all", "plates", "none"};
    for (int m = 0; m < 3; m++) {
        carve_ctx *ctx = small_ctx(546);
        carve_ctx_set_option(ctx, "text_backend", "classical");
        CHECK_ST(carve_ctx_set_option(ctx, "erase_text", modes[m]), CARVE_OK);
        char *svg = NULL;
        size_t len = 0;
        CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
        json_t *rep = report_of(ctx);
        json_t *det = json_object_get(step_of(rep, "sanitize", "detect"), "details");
        json_t *found = json_object_get(det, "boxes");
        json_t *erased = json_object_get(phase_of(rep, "sanitize"), "erased_boxes");
        size_t nfound = json_array_size(found), nplates = 0, ntext = 0, nerased_flag = 0;
        for (size_t i = 0; i < nfound; i++) {
            json_t *b = json_array_get(found, i);
            nplates += !strcmp(jstr(b, "kind"), "plate");
            ntext += !strcmp(jstr(b, "kind"), "text");
            nerased_flag += json_is_true(json_object_get(b, "erased"));
        }
        CHECKF(nplates == 1 && ntext >= 2, "%s: %zu plates, %zu text boxes", modes[m], nplates, ntext);
        size_t want = m == 0 ? nfound : m == 1 ? nplates : 0;
        CHECKF(json_array_size(erased) == want && nerased_flag == want, "%s: %zu erased (%zu flagged), want %zu",
               modes[m], json_array_size(erased), nerased_flag, want);
        CHECK(!strcmp(jstr(det, "erase_text"), modes[m]));
        json_decref(rep);
        carve_free(svg);
        carve_ctx_destroy(ctx);
    }
    carve_image_destroy(img);
}

/* The matte is computed from the photo before inpainting: erasing a large
 * region inside the vehicle must not change the segmentation. */
static void test_matte_ignores_inpainting(void) {
    carve_image *img = tu_load_sample(NULL, "bus_red_london_plate.jpg");
    uint8_t *mattes[2] = {NULL, NULL};
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        carve_ctx *ctx = small_ctx(546);
        carve_ctx_set_option(ctx, "keep_intermediates", "true");
        carve_ctx_set_option(ctx, "auto_erase", "false");
        if (k) CHECK_ST(carve_ctx_set_option(ctx, "erase", "90,195,130,70;355,185,100,40"), CARVE_OK);
        char *svg = NULL;
        size_t len = 0;
        CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
        const carve_image *m = carve_ctx_intermediate(ctx, "matte");
        CHECK(m != NULL);
        if (m) {
            n = (size_t)carve_image_width(m) * carve_image_height(m) * 4;
            mattes[k] = malloc(n);
            if (mattes[k]) memcpy(mattes[k], carve_image_pixels_const(m), n);
        }
        carve_free(svg);
        carve_ctx_destroy(ctx);
    }
    CHECK(mattes[0] && mattes[1] && !memcmp(mattes[0], mattes[1], n));
    free(mattes[0]);
    free(mattes[1]);
    carve_image_destroy(img);
}

static void test_determinism(void) {
    carve_image *img = tu_load_sample(NULL, "bus_red_london_plate.jpg");
    CHECK(img != NULL);
    if (!img) return;
    char *s1 = NULL, *s2 = NULL, *s3 = NULL;
    size_t l1 = 0, l2 = 0, l3 = 0;
    carve_ctx *c1 = small_ctx(360), *c2 = small_ctx(360);
    carve_ctx_set_option(c1, "threads", "1");
    carve_ctx_set_option(c2, "threads", "2");
    CHECK_ST(carve_run(c1, img, NULL, &s1, &l1), CARVE_OK);
    CHECK_ST(carve_run(c2, img, NULL, &s2, &l2), CARVE_OK);
    CHECK_ST(carve_run(c2, img, NULL, &s3, &l3), CARVE_OK); /* same ctx again */
    CHECKF(s1 && s2 && l1 == l2 && !memcmp(s1, s2, l1), "threads 1 vs 2 differ (%zu vs %zu bytes)", l1, l2);
    CHECK(s2 && s3 && l2 == l3 && !memcmp(s2, s3, l2));
    carve_free(s1);
    carve_free(s2);
    carve_free(s3);
    carve_ctx_destroy(c1);
    carve_ctx_destroy(c2);
    carve_image_destroy(img);
}

static void test_palette_argument_and_presets(void) {
    carve_image *img = tu_load_sample(NULL, "supercar_white_plate.jpg");
    CHECK(img != NULL);
    if (!img) return;
    carve_ctx *ctx = small_ctx(300);
    carve_palette *pal = carve_palette_create("mine");
    uint32_t cols[] = {0x000000, 0xffffff, 0xc8102e, 0x1e90ff, 0x808080};
    for (int i = 0; i < 5; i++) carve_palette_add(pal, cols[i], NULL);
    char *svg = NULL;
    size_t len = 0;
    CHECK_ST(carve_run(ctx, img, pal, &svg, &len), CARVE_OK);
    json_t *rep = report_of(ctx);
    CHECK(!strcmp(jstr(step_of(rep, "chroma", "palette"), "backend"), "argument"));
    if (svg) {
        uint32_t got[64];
        int n = svg_colors(svg, got, 64);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            bool ok = false;
            for (int j = 0; j < 5; j++) ok |= got[i] == cols[j];
            bad += !ok;
        }
        CHECK(n >= 2 && bad == 0);
    }
    json_decref(rep);
    carve_free(svg);
    carve_palette_destroy(pal);

    /* presets: poster has few colours and is smaller than detailed */
    size_t sizes[2] = {0, 0};
    const char *names[] = {"poster", "detailed"};
    for (int k = 0; k < 2; k++) {
        carve_ctx *c = carve_ctx_create();
        classical(c);
        CHECK_ST(carve_ctx_apply_preset(c, names[k]), CARVE_OK);
        carve_ctx_set_option(c, "work_size", "300");
        CHECK_ST(carve_run(c, img, NULL, &svg, &len), CARVE_OK);
        sizes[k] = len;
        if (k == 0 && svg) {
            uint32_t got[300];
            int n = svg_colors(svg, got, 300);
            char v[16];
            carve_ctx_get_option(c, "colors", v, sizeof v);
            CHECKF(n >= 2 && n <= atoi(v), "poster uses %d colours (colors %s)", n, v);
        }
        carve_free(svg);
        carve_ctx_destroy(c);
    }
    CHECKF(sizes[0] < sizes[1], "poster %zu bytes, detailed %zu bytes", sizes[0], sizes[1]);
    carve_ctx_destroy(ctx);
    carve_image_destroy(img);
}

static void test_html_report(void) {
    carve_image *img = tu_load_sample(NULL, "motorcycle_red_garage.png");
    CHECK(img != NULL);
    if (!img) return;
    carve_ctx *ctx = small_ctx(256);
    char *html = NULL;
    size_t hl = 0;
    CHECK_ST(carve__report_html(ctx, "x", NULL, 0, &html, &hl), CARVE_ERR_EMPTY);
    carve_ctx_set_option(ctx, "keep_intermediates", "true");
    carve_ctx_set_option(ctx, "outline", "true");
    char *svg = NULL;
    size_t len = 0;
    CHECK_ST(carve_run(ctx, img, NULL, &svg, &len), CARVE_OK);
    CHECK_ST(carve__report_html(ctx, "moto <&>", svg, len, &html, &hl), CARVE_OK);
    if (html) {
        CHECK(hl == strlen(html));
        CHECK(strstr(html, "<!DOCTYPE html>") == html);
        CHECK(strstr(html, "moto &lt;&amp;&gt;") != NULL);
        CHECK(strstr(html, "data:image/png;base64,iVBORw0KGgo") != NULL); /* PNG signature */
        CHECK(strstr(html, "<svg") != NULL);
        const char *names[] = {"input", "sanitize", "steer", "chroma", "vector", "trace", "quantize"};
        for (int i = 0; i < 7; i++) CHECKF(strstr(html, names[i]) != NULL, "html lacks %s", names[i]);
    }
    json_t *rep = report_of(ctx);
    json_t *e = step_of(rep, "steer", "edges");
    if (!strcmp(jstr(e, "status"), "ok")) {
        CHECK(carve_ctx_intermediate(ctx, "edges") != NULL);
        /* the outline is stroked paths on top of the fills (docs/vector.md, "Strokes") */
        json_t *td = json_object_get(step_of(rep, "vector", "trace"), "details");
        CHECK(json_integer_value(json_object_get(td, "outline_strokes")) > 0);
        CHECK(svg && strstr(svg, "<path fill=\"none\" stroke=\"#") != NULL);
    }
    json_decref(rep);
    carve_free(html);
    carve_free(svg);
    carve_ctx_destroy(ctx);
    carve_image_destroy(img);
}

/* The neural backends through the pipeline, when their models are
 * installed (carve models fetch): the run reports them as the backends used. */
static void test_neural_when_installed(void) {
    carve_ctx *ctx = small_ctx(256);
    carve_ctx_set_option(ctx, "matte_backend", "neural");
    if (!carve__nn_available(ctx, "matte")) {
        fprintf(stderr, "  (no neural matte model installed: skipped)\n");
        carve_ctx_destroy(ctx);
        return;
    }
    carve_image *img = tu_load_sample(NULL, "firetruck_cutout_rgba.png");
    /* flatten the cutout on white so the matte has to find the truck */
    uint8_t *p = carve_image_pixels(img);
    for (int i = 0; i < carve_image_width(img) * carve_image_height(img); i++) {
        int a = p[4 * i + 3];
        for (int c = 0; c < 3; c++) p[4 * i + c] = (uint8_t)((p[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
        p[4 * i + 3] = 255;
    }
    char *svg = NULL;
    size_t len = 0;
    CHECKF(carve_run(ctx, img, NULL, &svg, &len) == CARVE_OK, "%s", carve_ctx_errmsg(ctx));
    json_t *rep = report_of(ctx);
    json_t *m = step_of(rep, "steer", "matte");
    CHECKF(!strcmp(jstr(m, "backend"), "neural") && !strcmp(jstr(m, "status"), "ok"), "matte %s/%s: %s",
           jstr(m, "backend"), jstr(m, "status"),
           jstr(json_array_get(json_object_get(m, "fallbacks"), 0), "reason"));
    CHECK(!strcmp(jstr(phase_of(rep, "steer"), "background"), "remove"));
    if (svg) check_svg_palette(svg, len, rep, "neural");
    json_decref(rep);
    carve_free(svg);
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
}

/* Odd inputs through every phase: tiny, thin, noisy, partly transparent,
 * with erase boxes.  The run either succeeds with an SVG of palette colours
 * or fails with a clear status; it never crashes (ASan/UBSan in CI). */
static void test_odd_inputs(void) {
    static const int sizes[][2] = {{1, 1}, {1, 40}, {40, 1}, {2, 2}, {3, 97}, {97, 3}, {17, 5}, {64, 64}};
    uint32_t seed = 12345;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int variant = 0; variant < 3; variant++) {
            int w = sizes[k][0], h = sizes[k][1];
            carve_image *im = carve_image_create(w, h);
            uint8_t *p = carve_image_pixels(im);
            for (int i = 0; i < w * h; i++) {
                for (int c = 0; c < 3; c++) {
                    seed = seed * 1664525u + 1013904223u;
                    p[4 * i + c] = variant == 1 ? (uint8_t)(i * 37 + c * 80) : (uint8_t)(seed >> 24);
                }
                seed = seed * 1664525u + 1013904223u;
                p[4 * i + 3] = variant == 2 ? ((seed >> 28) < 6 ? 0 : 255) : 255;
            }
            p[3] = 255; /* at least one opaque pixel */
            carve_ctx *ctx = small_ctx(256);
            carve_ctx_set_option(ctx, "erase", "0,0,1,1;5,5,3,3");
            carve_ctx_set_option(ctx, "outline", variant == 1 ? "true" : "false");
            char *svg = NULL;
            size_t len = 0;
            carve_status st = carve_run(ctx, im, NULL, &svg, &len);
            CHECKF(st == CARVE_OK, "%dx%d variant %d: %s", w, h, variant, carve_ctx_errmsg(ctx));
            json_t *rep = report_of(ctx);
            CHECK(rep != NULL);
            if (st == CARVE_OK && svg && rep) check_svg_palette(svg, len, rep, "odd input");
            json_decref(rep);
            carve_free(svg);
            carve_ctx_destroy(ctx);
            carve_image_destroy(im);
        }
    }
}

static void test_parse_erase(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve__box *b = NULL;
    int n = -1;
    CHECK_ST(carve__parse_erase(ctx, "", &b, &n), CARVE_OK);
    CHECK(n == 0 && b == NULL);
    CHECK_ST(carve__parse_erase(ctx, "1,2,3,4; 5, 6, 7, 8;\n9,10,11,12 13,14,15,16", &b, &n), CARVE_OK);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(b[0].x == 1 && b[0].y == 2 && b[0].w == 3 && b[0].h == 4 && !strcmp(b[0].kind, "user"));
        CHECK(b[1].x == 5 && b[1].h == 8);
        CHECK(b[3].x == 13 && b[3].h == 16);
    }
    free(b);
    const char *bad[] = {"1,2,3", "1,2,3,4,5", "a,b,c,d", "1,2,0,4", "1,2,3,-4", "1;2;3;4", "1,2,3,4x"};
    for (int i = 0; i < 7; i++) {
        b = NULL;
        carve_status st = carve__parse_erase(ctx, bad[i], &b, &n);
        CHECKF(st == CARVE_ERR_INVALID_ARG, "'%s' accepted", bad[i]);
        CHECK(b == NULL && strstr(carve_ctx_errmsg(ctx), "option erase"));
    }
    carve_ctx_destroy(ctx);
}

static void test_pushpull_fill(void) {
    /* a smooth gradient with a square hole comes back close to the gradient */
    int w = 120, h = 90;
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    uint8_t *mask = calloc((size_t)w * h, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + 4 * ((size_t)y * w + x);
            q[0] = (uint8_t)(2 * x);
            q[1] = (uint8_t)(2 * y);
            q[2] = 100;
            q[3] = 255;
            if (x >= 40 && x < 70 && y >= 30 && y < 55) {
                mask[(size_t)y * w + x] = 1;
                q[0] = q[1] = q[2] = 0;
            }
        }
    carve_ctx *ctx = carve_ctx_create();
    carve_image *out = NULL;
    CHECK_ST(carve__fill_pushpull(ctx, im, mask, &out), CARVE_OK);
    if (out) {
        const uint8_t *o = carve_image_pixels_const(out);
        double maxerr = 0;
        int outside = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                if (!mask[i]) {
                    outside += memcmp(o + 4 * i, p + 4 * i, 4) != 0;
                    continue;
                }
                double e = fabs(o[4 * i] - 2.0 * x) + fabs(o[4 * i + 1] - 2.0 * y) + fabs(o[4 * i + 2] - 100.0);
                if (e > maxerr) maxerr = e;
                CHECK(o[4 * i + 3] == 255);
            }
        CHECK(outside == 0);
        CHECKF(maxerr < 40, "max error %.1f", maxerr);
    }
    carve_image_destroy(out);
    /* everything masked: nothing to fill from */
    memset(mask, 1, (size_t)w * h);
    CHECK_ST(carve__fill_pushpull(ctx, im, mask, &out), CARVE_ERR_EMPTY);
    CHECK(out == NULL);
    free(mask);
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

int main(void) {
    RUN(test_parse_erase);
    RUN(test_pushpull_fill);
    RUN(test_samples_end_to_end);
    RUN(test_cutout_alpha_and_background_colour);
    RUN(test_forced_failures);
    RUN(test_cancellation);
    RUN(test_erase_boxes);
    RUN(test_erase_text_policy);
    RUN(test_matte_ignores_inpainting);
    RUN(test_determinism);
    RUN(test_palette_argument_and_presets);
    RUN(test_html_report);
    RUN(test_odd_inputs);
    RUN(test_neural_when_installed);
    return test_done();
}
