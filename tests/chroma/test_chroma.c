/* test_chroma.c — phase 3: palettes (objects, built-ins, files and their
 * errors), exact CIEDE2000 mapping against brute force, alpha, speckle
 * removal, majority filter, smoothing, dithering, automatic palettes,
 * upscaling, cancellation, determinism across thread counts. */
#include "../test.h"
#include "chroma/chroma.h"

#include <unistd.h>

static uint64_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static carve_image *make_image(int w, int h, uint32_t fill) {
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    for (int i = 0; i < w * h; i++) {
        p[4 * i] = (uint8_t)(fill >> 16);
        p[4 * i + 1] = (uint8_t)(fill >> 8);
        p[4 * i + 2] = (uint8_t)fill;
        p[4 * i + 3] = 255;
    }
    return im;
}

static void put(carve_image *im, int x, int y, uint32_t c) {
    uint8_t *p = carve_image_pixels(im) + 4 * ((size_t)y * carve_image_width(im) + x);
    p[0] = (uint8_t)(c >> 16);
    p[1] = (uint8_t)(c >> 8);
    p[2] = (uint8_t)c;
    p[3] = 255;
}

static uint32_t at(const carve_image *im, int x, int y) { return carve__rgb_at(im, x, y); }

static bool same_pixels(const carve_image *a, const carve_image *b) {
    return a && b && a->w == b->w && a->h == b->h && !memcmp(a->px, b->px, (size_t)a->w * a->h * 4);
}

/* quantizes im again with `threads` worker threads (a counted check) and
 * whether that gives ref pixel for pixel: output must not depend on them */
static bool same_with_threads(carve_ctx *ctx, const carve_image *im, const carve_palette *pal, const carve_image *ref,
                              const char *threads) {
    carve_image *o = NULL;
    carve_ctx_set_option(ctx, "threads", threads);
    CHECK_ST(carve_quantize(ctx, im, pal, &o), CARVE_OK);
    bool same = same_pixels(ref, o);
    carve_image_destroy(o);
    return same;
}

static char tmpdir[256];
static const char *write_tmp(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* ---- palettes ------------------------------------------------------------------ */
/* a builtin palette by name; a failure is a failed check naming it */
static carve_palette *builtin(carve_ctx *ctx, const char *name) {
    carve_palette *p = NULL;
    carve_status st = carve_palette_builtin(ctx, name, &p);
    CHECKF(st == CARVE_OK && p, "builtin palette %s: %s", name, carve_ctx_errmsg(ctx));
    return p;
}

static void test_palette_basic(void) {
    carve_palette *p = carve_palette_create("mine");
    CHECK(p && !strcmp(carve_palette_name(p), "mine"));
    CHECK_ST(carve_palette_add(p, 0xc8102e, "red"), CARVE_OK);
    CHECK_ST(carve_palette_add(p, 0xffffff, NULL), CARVE_OK);
    CHECK_ST(carve_palette_add(p, 0xc8102e, "again"), CARVE_ERR_PALETTE);
    CHECK_ST(carve_palette_add(p, 0x1000000, NULL), CARVE_ERR_INVALID_ARG);
    CHECK(carve_palette_count(p) == 2);
    CHECK(carve_palette_color(p, 0) == 0xc8102e && carve_palette_color(p, 1) == 0xffffff);
    CHECK(!strcmp(carve_palette_color_name(p, 0), "red") && carve_palette_color_name(p, 1) == NULL);
    CHECK(carve_palette_color_name(p, 5) == NULL && carve_palette_color(p, -1) == 0);
    carve_palette *c = carve_palette_copy(p);
    CHECK(c && carve_palette_count(c) == 2 && !strcmp(carve_palette_color_name(c, 0), "red"));
    carve_palette_destroy(c);
    for (uint32_t i = 2; i < 256; i++) CHECK_ST(carve_palette_add(p, i, NULL), CARVE_OK);
    CHECK(carve_palette_count(p) == 256);
    CHECK_ST(carve_palette_add(p, 0x123456, NULL), CARVE_ERR_PALETTE); /* full */
    carve_palette_destroy(p);
    carve_palette_destroy(NULL);
}

static void test_builtins(void) {
    carve_ctx *ctx = carve_ctx_create();
    int n = carve_palette_builtin_count();
    CHECK(n >= 7);
    const char *need[] = {"automotive", "grayscale-4", "grayscale-8", "grayscale-16", "flat-ui", "pastel", "poster-8"};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
        carve_palette *p = NULL;
        CHECK_ST(carve_palette_builtin(ctx, need[k], &p), CARVE_OK);
        CHECK(p && carve_palette_count(p) >= 4);
        carve_palette_destroy(p);
    }
    for (int i = 0; i < n; i++) {
        const char *nm = carve_palette_builtin_name(i);
        CHECK(nm && carve_palette_builtin_description(i) && *carve_palette_builtin_description(i));
        for (int j = 0; j < i; j++) CHECK(strcmp(nm, carve_palette_builtin_name(j)));
    }
    carve_palette *p = builtin(ctx, "automotive");
    CHECK(carve_palette_count(p) >= 24 && carve_palette_count(p) <= 32);
    for (int i = 0; i < carve_palette_count(p); i++) CHECK(carve_palette_color_name(p, i) != NULL);
    carve_palette_destroy(p);
    CHECK_ST(carve_palette_builtin(ctx, "grayscale-8", &p), CARVE_OK);
    CHECK(carve_palette_count(p) == 8 && carve_palette_color(p, 0) == 0 && carve_palette_color(p, 7) == 0xffffff);
    for (int i = 0; i < 8; i++) {
        uint32_t c = carve_palette_color(p, i);
        CHECK((c >> 16) == (c & 255) && ((c >> 8) & 255) == (c & 255));
        CHECK(abs((int)(c & 255) - (int)(i * 255.0 / 7 + 0.5)) <= 1);
    }
    carve_palette_destroy(p);
    CHECK_ST(carve_palette_builtin(ctx, "nope", &p), CARVE_ERR_NOT_FOUND);
    CHECK(p == NULL && strstr(carve_ctx_errmsg(ctx), "nope") && strstr(carve_ctx_errmsg(ctx), "automotive"));
    carve_ctx_destroy(ctx);
}

static void test_parse_formats(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *p = NULL;
    const char *gpl = "GIMP Palette\nName: Livery\nColumns: 4\n# comment\n200  16  46\tRacing red\n"
                      "255 255 255 Untitled\n  0   0   0 black\n";
    CHECK_ST(carve_palette_parse(ctx, gpl, strlen(gpl), "l.gpl", &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 3 && !strcmp(carve_palette_name(p), "Livery"));
    CHECK(carve_palette_color(p, 0) == 0xc8102e && !strcmp(carve_palette_color_name(p, 0), "Racing red"));
    CHECK(carve_palette_color_name(p, 1) == NULL && carve_palette_color(p, 2) == 0);
    carve_palette_destroy(p);

    const char *js = "{\"name\":\"brand\",\"colors\":[\"#c8102e\",{\"hex\":\"#FFF\",\"name\":\"white\"},\"012345\"]}";
    CHECK_ST(carve_palette_parse(ctx, js, strlen(js), "b.json", &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 3 && !strcmp(carve_palette_name(p), "brand"));
    CHECK(carve_palette_color(p, 1) == 0xffffff && !strcmp(carve_palette_color_name(p, 1), "white"));
    CHECK(carve_palette_color(p, 2) == 0x012345);
    carve_palette_destroy(p);

    const char *txt = "# my colours\n#c8102e red\n\n#00ff00, #0000ff blue # trailing comment\n// note\n#abc\n";
    CHECK_ST(carve_palette_parse(ctx, txt, strlen(txt), "/x/y/plain.txt", &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 4 && !strcmp(carve_palette_name(p), "plain"));
    CHECK(!strcmp(carve_palette_color_name(p, 0), "red") && carve_palette_color_name(p, 1) == NULL);
    CHECK(!strcmp(carve_palette_color_name(p, 2), "blue") && carve_palette_color(p, 3) == 0xaabbcc);
    carve_palette_destroy(p);

    /* Windows line ends and a UTF-8 byte order mark */
    const char *crlf = "\xEF\xBB\xBFGIMP Palette\r\nName: Win\r\n255 0 0\tRed\r\n0 0 255 Blue\r\n";
    CHECK_ST(carve_palette_parse(ctx, crlf, strlen(crlf), "w.gpl", &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 2 && !strcmp(carve_palette_name(p), "Win") &&
          !strcmp(carve_palette_color_name(p, 0), "Red") && carve_palette_color(p, 1) == 0x0000ff);
    carve_palette_destroy(p);
    const char *bom = "\xEF\xBB\xBF{\"colors\":[\"#123456\"]}";
    CHECK_ST(carve_palette_parse(ctx, bom, strlen(bom), "b.json", &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 1 && carve_palette_color(p, 0) == 0x123456);
    carve_palette_destroy(p);
    /* files through load and resolve */
    const char *path = write_tmp("livery.gpl", gpl);
    CHECK_ST(carve_palette_load(ctx, path, &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 3);
    carve_palette_destroy(p);
    CHECK_ST(carve_palette_resolve(ctx, path, &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 3);
    carve_palette_destroy(p);
    CHECK_ST(carve_palette_resolve(ctx, "pastel", &p), CARVE_OK);
    CHECK(p && !strcmp(carve_palette_name(p), "pastel"));
    carve_palette_destroy(p);
    CHECK_ST(carve_palette_resolve(ctx, "#c8102e,#ffffff", &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 2);
    carve_palette_destroy(p);
    CHECK_ST(carve_palette_resolve(ctx, "no-such-palette", &p), CARVE_ERR_NOT_FOUND);
    CHECK(p == NULL && strstr(carve_ctx_errmsg(ctx), "no-such-palette"));
    snprintf(tmpdir + strlen(tmpdir), 1, "%s", "");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.gpl", tmpdir);
    CHECK_ST(carve_palette_load(ctx, missing, &p), CARVE_ERR_IO);
    CHECK(strstr(carve_ctx_errmsg(ctx), "missing.gpl") != NULL);
    carve_ctx_destroy(ctx);
}

static void expect_error(carve_ctx *ctx, const char *text, const char *src, const char *want1, const char *want2) {
    carve_palette *p = (carve_palette *)1;
    carve_status st = carve_palette_parse(ctx, text, strlen(text), src, &p);
    CHECKF(st == CARVE_ERR_PALETTE, "%s: status %d", src, st);
    CHECK(p == NULL);
    const char *m = carve_ctx_errmsg(ctx);
    CHECKF(strstr(m, want1) && (!want2 || strstr(m, want2)), "%s: message '%s' lacks '%s' / '%s'", src, m, want1,
           want2 ? want2 : "");
}

static void test_parse_errors(void) {
    carve_ctx *ctx = carve_ctx_create();
    expect_error(ctx, "GIMP Palette\nName: x\n# c\n1 2 3\n\n\n12 300 4 bad\n", "pal.gpl", "pal.gpl:7:", "(0..255)");
    expect_error(ctx, "GIMP Palette\n1 2\n", "p.gpl", "p.gpl:2:", "R G B");
    expect_error(ctx, "GIMP Palette\n1 2 3\n4 5 6\n1 2 3 again\n", "d.gpl", "d.gpl:4:", "first at line 2");
    expect_error(ctx, "GIMP Palette\nColumns: x\n1 2 3\n", "c.gpl", "c.gpl:2:", "Columns");
    expect_error(ctx, "GIMP Palette\nName: empty\n", "e.gpl", "e.gpl", "no colours");
    expect_error(ctx, "#ffffff\n#12345g\n", "h.txt", "h.txt:2:", "#12345g");
    expect_error(ctx, "#ffffff\n#FFFFFF\n", "h.txt", "h.txt:2:", "duplicate");
    expect_error(ctx, "", "empty.txt", "empty.txt", "no colours");
    expect_error(ctx, "# only a comment\n", "c.txt", "c.txt", "no colours");
    expect_error(ctx, "{\"name\":\"x\",\"colours\":[]}", "k.json", "k.json", "'colours'");
    expect_error(ctx, "{\"colors\":[\"#fff\",{\"hex\":\"#000\",\"label\":\"y\"}]}", "k2.json", "colors[1]", "'label'");
    expect_error(ctx, "{\"colors\":[\"#fff\",\"#ff\"]}", "b.json", "colors[1]", "'#ff'");
    expect_error(ctx, "{\"colors\":[\"#fff\",\"#ffffff\"]}", "d.json", "colors[1]", "duplicate");
    expect_error(ctx, "{\"colors\":[]}", "e.json", "e.json", "no colours");
    expect_error(ctx, "{\"colors\":[1]}", "n.json", "colors[0]", NULL);
    expect_error(ctx, "{\"name\":\"x\",\n\"colors\":[\"#fff\",]}", "s.json", "s.json:2:", "invalid JSON");
    expect_error(ctx, "{\"name\":1,\"colors\":[\"#fff\"]}", "t.json", "'name'", NULL);
    /* more than 256 colours, in each format */
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "GIMP Palette\n");
    for (int i = 0; i < 257; i++) carve__buf_printf(&b, "%d %d %d\n", i & 255, i >> 8, 7);
    char *t = carve__buf_take(&b, NULL);
    expect_error(ctx, t, "big.gpl", "big.gpl:258:", "more than 256");
    free(t);
    carve__buf_init(&b);
    carve__buf_puts(&b, "{\"colors\":[");
    for (int i = 0; i < 257; i++) carve__buf_printf(&b, "%s\"#%06x\"", i ? "," : "", i * 3);
    carve__buf_puts(&b, "]}");
    t = carve__buf_take(&b, NULL);
    expect_error(ctx, t, "big.json", "colors[256]", "more than 256");
    free(t);
    carve_ctx_destroy(ctx);
}

static void test_json_roundtrip(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *p = NULL, *q = NULL;
    CHECK_ST(carve_palette_builtin(ctx, "automotive", &p), CARVE_OK);
    CHECK_ST(carve_palette_add(p, 0x010203, "quote \" and \\ slash"), CARVE_OK);
    char *js = carve_palette_to_json(p);
    CHECK(js != NULL);
    CHECK_ST(carve_palette_parse(ctx, js, strlen(js), "rt.json", &q), CARVE_OK);
    CHECK(q && carve_palette_count(q) == carve_palette_count(p) && !strcmp(carve_palette_name(q), "automotive"));
    for (int i = 0; q && i < carve_palette_count(p); i++) {
        CHECK(carve_palette_color(p, i) == carve_palette_color(q, i));
        CHECK(!strcmp(carve_palette_color_name(p, i), carve_palette_color_name(q, i)));
    }
    carve_free(js);
    carve_palette_destroy(p);
    carve_palette_destroy(q);
    carve_ctx_destroy(ctx);
}

/* ---- exact mapping ------------------------------------------------------------- */
static void random_lab_palette(carve__lab_pal *lp, int n, bool with_ties) {
    double lab[CARVE_PALETTE_MAX][3];
    for (int i = 0; i < n; i++) {
        uint32_t c = rnd() & 0xffffff;
        carve_rgb_to_lab(c, lab[i]);
        if (with_ties && i >= 2 && rnd() % 3 == 0) {
            /* an exact duplicate of an earlier entry: equal distances */
            memcpy(lab[i], lab[rnd() % i], sizeof lab[i]);
        } else if (i >= 1 && rnd() % 4 == 0) {
            /* a near-duplicate: a one-step neighbour of an earlier colour */
            uint32_t base;
            carve_lab_to_rgb(lab[rnd() % i], &base);
            carve_rgb_to_lab(base ^ (1u << (rnd() % 24)), lab[i]);
        }
    }
    carve__lab_pal_init(lp, (const double(*)[3])lab, n);
}

static void test_nearest_vs_brute(void) {
    carve__lab_pal *lp = malloc(sizeof *lp);
    int bad = 0, total = 0, ties = 0;
    for (int round = 0; round < 60; round++) {
        int n = 1 + (int)(rnd() % (round < 40 ? 40 : 256));
        random_lab_palette(lp, n, round % 2 == 0);
        for (int k = 0; k < 400; k++) {
            double lab[3];
            if (k % 4 == 0) memcpy(lab, lp->lab[rnd() % n], sizeof lab); /* exactly a palette entry (ties) */
            else carve_rgb_to_lab(rnd() & 0xffffff, lab);
            int want = carve__lab_pal_nearest_brute(lp, lab);
            int hint = (int)(rnd() % (n + 1)) - 1;
            int got = carve__lab_pal_nearest(lp, lab, hint);
            total++;
            if (got != want) bad++;
            for (int i = 0; i < n; i++)
                if (i != want && carve_ciede2000(lab, lp->lab[i]) == carve_ciede2000(lab, lp->lab[want])) ties++;
        }
    }
    /* greys and near-greys (b close to 0 of either sign, the case the
     * tighter RT bound relies on), saturated primaries and extremes */
    for (int round = 0; round < 20; round++) {
        double lab[CARVE_PALETTE_MAX][3];
        int n = 2 + (int)(rnd() % 40);
        for (int i = 0; i < n; i++) {
            int v = (int)(rnd() % 256), d = (int)(rnd() % 3) - 1;
            uint32_t c = round % 2 ? (uint32_t)(v * 0x010101 + (v + d >= 0 && v + d <= 255 ? d : 0))
                                   : (uint32_t)((rnd() % 2 ? 0xff : 0) << (8 * (rnd() % 3))) | (uint32_t)(rnd() % 2) * (uint32_t)v;
            carve_rgb_to_lab(c & 0xffffff, lab[i]);
        }
        carve__lab_pal_init(lp, (const double(*)[3])lab, n);
        for (int k = 0; k < 2000; k++) {
            int v = (int)(rnd() % 256);
            uint32_t c = (uint32_t)(v * 0x010101) ^ (rnd() % 4) ^ ((rnd() % 4) << 8) ^ ((rnd() % 4) << 16);
            double p[3];
            carve_rgb_to_lab(c & 0xffffff, p);
            total++;
            if (carve__lab_pal_nearest(lp, p, (int)(rnd() % n)) != carve__lab_pal_nearest_brute(lp, p)) bad++;
        }
    }
    /* clustered palettes and queries (blue/violet region where RT matters,
     * dark blues, colours around a random base) */
    for (int round = 0; round < 30; round++) {
        double lab[CARVE_PALETTE_MAX][3];
        int n = 2 + (int)(rnd() % (round % 4 == 0 ? 250 : 40));
        uint32_t base = rnd() & 0xffffff;
        for (int i = 0; i < n; i++) {
            uint32_t c, m = rnd() % 4;
            if (m == 0) c = rnd();
            else if (m == 1) c = base ^ (rnd() & 0x0f0f0f);
            else if (m == 2) c = (rnd() & 0xff) | ((rnd() % 80) << 16) | ((rnd() % 120) << 8);
            else c = rnd() & 0x3f3fff;
            carve_rgb_to_lab(c & 0xffffff, lab[i]);
        }
        carve__lab_pal_init(lp, (const double(*)[3])lab, n);
        int hint = -1;
        for (int k = 0; k < 3000; k++) {
            uint32_t c, m = rnd() % 3;
            if (m == 0) c = rnd();
            else if (m == 1) c = base ^ (rnd() & 0x1f1f1f);
            else c = (rnd() & 0xff) | ((rnd() % 100) << 16) | ((rnd() % 140) << 8);
            double p[3];
            carve_rgb_to_lab(c & 0xffffff, p);
            int got = carve__lab_pal_nearest(lp, p, hint);
            total++;
            if (got != carve__lab_pal_nearest_brute(lp, p)) bad++;
            hint = got;
        }
    }
    CHECKF(bad == 0, "%d of %d differ from brute force", bad, total);
    CHECKF(ties > 100, "only %d exact ties exercised", ties);
    free(lp);
}

static carve_image *random_image(int w, int h, int mode) {
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    uint32_t base = rnd() & 0xffffff;
    for (int i = 0; i < w * h; i++) {
        uint32_t c = mode == 0 ? rnd() & 0xffffff : (base + (rnd() % 9) * 0x010101 - (rnd() % 5) * 0x000100) & 0xffffff;
        if (mode == 2 && rnd() % 7 == 0) base = rnd() & 0xffffff;
        p[4 * i] = (uint8_t)(c >> 16);
        p[4 * i + 1] = (uint8_t)(c >> 8);
        p[4 * i + 2] = (uint8_t)c;
        p[4 * i + 3] = (uint8_t)(rnd() % 5 == 0 ? rnd() & 255 : 255);
    }
    return im;
}

static carve_palette *random_palette(int n) {
    carve_palette *p = carve_palette_create("rand");
    while (carve_palette_count(p) < n) {
        uint32_t c = rnd() & 0xffffff;
        if (carve_palette_count(p) && rnd() % 3 == 0) c = carve_palette_color(p, (int)(rnd() % carve_palette_count(p))) ^ (1u << (rnd() % 24));
        carve_palette_add(p, c, NULL);
    }
    return p;
}

static void test_quantize_vs_brute(void) {
    carve_ctx *ctx = carve_ctx_create();
    int bad = 0, px = 0, bad_alpha = 0;
    for (int round = 0; round < 12; round++) {
        int w = 37 + (int)(rnd() % 60), h = 23 + (int)(rnd() % 50);
        carve_image *im = random_image(w, h, round % 3);
        int n = 1 + (int)(rnd() % (round < 8 ? 48 : 256));
        carve_palette *pal = random_palette(n);
        double lab[CARVE_PALETTE_MAX][3];
        for (int i = 0; i < n; i++) carve_rgb_to_lab(carve_palette_color(pal, i), lab[i]);
        carve__lab_pal *lp = malloc(sizeof *lp);
        carve__lab_pal_init(lp, (const double(*)[3])lab, n);
        carve_image *out = NULL;
        char th[8];
        snprintf(th, sizeof th, "%d", 1 + round % 4);
        carve_ctx_set_option(ctx, "threads", th);
        CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
        if (!out) break;
        const uint8_t *ip = carve_image_pixels_const(im), *op = carve_image_pixels_const(out);
        for (int i = 0; i < w * h; i++) {
            px++;
            if (ip[4 * i + 3] < 128) {
                if (op[4 * i] || op[4 * i + 1] || op[4 * i + 2] || op[4 * i + 3]) bad_alpha++;
                continue;
            }
            if (op[4 * i + 3] != 255) bad_alpha++;
            double l[3];
            carve__rgb8_to_lab(ip[4 * i], ip[4 * i + 1], ip[4 * i + 2], l);
            uint32_t want = carve_palette_color(pal, carve__lab_pal_nearest_brute(lp, l));
            uint32_t got = (uint32_t)op[4 * i] << 16 | (uint32_t)op[4 * i + 1] << 8 | op[4 * i + 2];
            if (got != want) bad++;
        }
        free(lp);
        carve_image_destroy(out);
        carve_image_destroy(im);
        carve_palette_destroy(pal);
    }
    CHECKF(bad == 0, "%d of %d pixels differ from brute force", bad, px);
    CHECKF(bad_alpha == 0, "%d pixels with wrong alpha handling", bad_alpha);
    carve_ctx_destroy(ctx);
}

static void test_quantize_args(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *pal = carve_palette_create("x"), *empty = carve_palette_create("e");
    carve_palette_add(pal, 0xff0000, NULL);
    carve_image *im = make_image(4, 4, 0x00ff00), *zero = carve_image_create(0, 0), *out = (carve_image *)1;
    CHECK_ST(carve_quantize(ctx, NULL, pal, &out), CARVE_ERR_INVALID_ARG);
    CHECK(out == NULL);
    CHECK_ST(carve_quantize(ctx, im, empty, &out), CARVE_ERR_PALETTE);
    CHECK_ST(carve_quantize(ctx, zero, pal, &out), CARVE_ERR_EMPTY);
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK); /* one colour: everything maps to it */
    CHECK(out && at(out, 3, 3) == 0xff0000);
    carve_image_destroy(out);
    carve_image_destroy(im);
    carve_image_destroy(zero);
    carve_palette_destroy(pal);
    carve_palette_destroy(empty);
    carve_ctx_destroy(ctx);
}

/* Every 4-connected opaque region of out under min px has no opaque
 * neighbour, and every opaque pixel is a palette colour. */
static void check_regions(const carve_image *out, const carve_palette *pal, int min, int *small_left) {
    int w = out->w, h = out->h;
    int *lab = malloc(sizeof(int) * (size_t)w * h);
    int *stack = malloc(sizeof(int) * (size_t)w * h);
    for (int i = 0; i < w * h; i++) lab[i] = -1;
    int bad_color = 0, small = 0;
    for (int i = 0; i < w * h; i++) {
        if (out->px[4 * i + 3] == 0 || lab[i] >= 0) continue;
        uint32_t c = at(out, i % w, i / w);
        if (carve__palette_find(pal, c) < 0) bad_color++;
        int sp = 0, area = 0;
        bool touches = false;
        stack[sp++] = i;
        lab[i] = i;
        while (sp) {
            int p = stack[--sp];
            area++;
            int x = p % w, y = p / w;
            int nb[4] = {x > 0 ? p - 1 : -1, x + 1 < w ? p + 1 : -1, y > 0 ? p - w : -1, y + 1 < h ? p + w : -1};
            for (int k = 0; k < 4; k++) {
                int q = nb[k];
                if (q < 0 || out->px[4 * q + 3] == 0) continue;
                if (at(out, q % w, q / w) != c) { touches = true; continue; }
                if (lab[q] < 0) { lab[q] = i; stack[sp++] = q; }
            }
        }
        if (area < min && touches) small++;
    }
    CHECKF(bad_color == 0, "%d regions of a colour outside the palette", bad_color);
    *small_left = small;
    free(lab);
    free(stack);
}

static void test_min_region(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *pal = builtin(ctx, "automotive");
    /* left half racing red, right half sport blue; a 3x3 candy-red speck in
     * the blue half next to nothing red: it must become blue; a 2x2 white
     * speck on the boundary becomes whichever side is nearer in CIEDE2000 */
    carve_image *im = make_image(40, 20, 0xc8102e);
    for (int y = 0; y < 20; y++)
        for (int x = 20; x < 40; x++) put(im, x, y, 0x1f5fae);
    for (int y = 8; y < 11; y++)
        for (int x = 30; x < 33; x++) put(im, x, y, 0x8e1b25);
    put(im, 5, 5, 0x7fa7c9); /* single sky-blue pixel in red */
    carve_image *out = NULL;
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    CHECK(out && at(out, 31, 9) == 0x8e1b25 && at(out, 5, 5) == 0x7fa7c9); /* no merging by default */
    carve_image_destroy(out);
    carve_ctx_set_option(ctx, "min_region", "10");
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    CHECK(out && at(out, 31, 9) == 0x1f5fae && at(out, 5, 5) == 0xc8102e && at(out, 0, 0) == 0xc8102e &&
          at(out, 39, 19) == 0x1f5fae);
    carve_image_destroy(out);
    /* a speck between two regions goes to the nearer colour (CIEDE2000):
     * candy red touches racing red (left) and sport blue (right) */
    carve_image_destroy(im);
    im = make_image(40, 20, 0xc8102e);
    for (int y = 0; y < 20; y++)
        for (int x = 20; x < 40; x++) put(im, x, y, 0x1f5fae);
    for (int y = 9; y < 11; y++)
        for (int x = 19; x < 21; x++) put(im, x, y, 0x8e1b25);
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    CHECK(out && at(out, 19, 9) == 0xc8102e && at(out, 20, 10) == 0xc8102e);
    carve_image_destroy(out);
    carve_image_destroy(im);
    /* a small region surrounded only by transparency is kept */
    im = carve_image_create(10, 10);
    put(im, 4, 4, 0xc8102e);
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    CHECK(out && at(out, 4, 4) == 0xc8102e && out->px[4 * 44 + 3] == 255 && out->px[3] == 0);
    carve_image_destroy(out);
    carve_image_destroy(im);
    /* noisy random images: nothing small left that could merge, only
     * palette colours, same result for every thread count */
    for (int round = 0; round < 4; round++) {
        im = random_image(120, 90, round % 3);
        int min = 5 + round * 10;
        char v[16];
        snprintf(v, sizeof v, "%d", min);
        carve_ctx_set_option(ctx, "min_region", v);
        carve_image *o1 = NULL;
        carve_ctx_set_option(ctx, "threads", "1");
        CHECK_ST(carve_quantize(ctx, im, pal, &o1), CARVE_OK);
        CHECK(same_with_threads(ctx, im, pal, o1, "3"));
        int small = -1;
        if (o1) check_regions(o1, pal, min, &small);
        CHECKF(small == 0, "round %d: %d regions under %d px remain", round, small, min);
        /* transparency is untouched */
        int alpha_changed = 0;
        for (int i = 0; o1 && i < 120 * 90; i++) alpha_changed += (im->px[4 * i + 3] >= 128) != (o1->px[4 * i + 3] == 255);
        CHECK(alpha_changed == 0);
        carve_image_destroy(o1);
        carve_image_destroy(im);
    }
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
}

static void test_majority(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *pal = builtin(ctx, "grayscale-4");
    carve_image *im = make_image(30, 30, 0x000000);
    for (int y = 0; y < 30; y++)
        for (int x = 15; x < 30; x++) put(im, x, y, 0xffffff);
    put(im, 5, 5, 0xffffff);  /* isolated pixel */
    put(im, 20, 20, 0x555555);
    carve_ctx_set_option(ctx, "majority", "1");
    carve_image *out = NULL;
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    CHECK(out && at(out, 5, 5) == 0 && at(out, 20, 20) == 0xffffff);
    /* the straight edge stays where it was */
    int moved = 0;
    for (int y = 0; out && y < 30; y++) moved += at(out, 14, y) != 0 || at(out, 15, y) != 0xffffff;
    CHECK(moved == 0);
    CHECK(same_with_threads(ctx, im, pal, out, "2"));
    carve_image_destroy(out);
    carve_image_destroy(im);
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
}

static int count_regions(const carve_image *img) {
    carve_palette *dummy = carve_palette_create("all");
    int w = img->w, h = img->h, n = 0;
    char *seen = calloc((size_t)w * h, 1);
    int *stack = malloc(sizeof(int) * (size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        if (seen[i]) continue;
        n++;
        uint32_t c = at(img, i % w, i / w);
        int sp = 0;
        stack[sp++] = i;
        seen[i] = 1;
        while (sp) {
            int p = stack[--sp], x = p % w, y = p / w;
            int nb[4] = {x > 0 ? p - 1 : -1, x + 1 < w ? p + 1 : -1, y > 0 ? p - w : -1, y + 1 < h ? p + w : -1};
            for (int k = 0; k < 4; k++)
                if (nb[k] >= 0 && !seen[nb[k]] && at(img, nb[k] % w, nb[k] / w) == c) {
                    seen[nb[k]] = 1;
                    stack[sp++] = nb[k];
                }
        }
    }
    free(seen);
    free(stack);
    carve_palette_destroy(dummy);
    return n;
}

static void test_smooth(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *pal = carve_palette_create("p");
    /* two close greys and a far blue */
    carve_palette_add(pal, 0x808080, NULL);
    carve_palette_add(pal, 0x8c8c8c, NULL);
    carve_palette_add(pal, 0x1f5fae, NULL);
    /* left: grey noise around 0x868686 (between the two greys); right: blue */
    carve_image *im = make_image(64, 48, 0);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            if (x < 32) {
                int v = 0x86 + (int)(rnd() % 9) - 4;
                put(im, x, y, (uint32_t)(v * 0x010101));
            } else {
                put(im, x, y, 0x1f5fae);
            }
        }
    carve_image *raw = NULL, *sm = NULL;
    CHECK_ST(carve_quantize(ctx, im, pal, &raw), CARVE_OK);
    carve_ctx_set_option(ctx, "smooth", "3");
    CHECK_ST(carve_quantize(ctx, im, pal, &sm), CARVE_OK);
    if (raw && sm) {
        int r0 = count_regions(raw), r1 = count_regions(sm);
        CHECKF(r1 * 4 < r0, "smoothing should cut confetti: %d regions vs %d", r1, r0);
        int edge_bad = 0;
        for (int y = 0; y < 48; y++) edge_bad += at(sm, 32, y) != 0x1f5fae || at(sm, 31, y) == 0x1f5fae;
        CHECKF(edge_bad == 0, "edge moved on %d rows", edge_bad);
    }
    CHECK(same_with_threads(ctx, im, pal, sm, "3"));
    carve_image_destroy(raw);
    carve_image_destroy(sm);
    carve_image_destroy(im);
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
}

static void test_dither(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *pal = carve_palette_create("bw");
    carve_palette_add(pal, 0x000000, NULL);
    carve_palette_add(pal, 0xffffff, NULL);
    carve_image *im = make_image(64, 64, 0x808080);
    carve_image *flat = NULL, *d = NULL;
    CHECK_ST(carve_quantize(ctx, im, pal, &flat), CARVE_OK);
    int white_flat = 0;
    for (int i = 0; flat && i < 64 * 64; i++) white_flat += flat->px[4 * i] == 255;
    CHECK(white_flat == 0 || white_flat == 64 * 64); /* no dithering by default */
    CHECK_ST(carve_ctx_set_option(ctx, "dither", "floyd-steinberg"), CARVE_OK);
    CHECK_ST(carve_quantize(ctx, im, pal, &d), CARVE_OK);
    int white = 0, other = 0;
    for (int i = 0; d && i < 64 * 64; i++) {
        uint32_t c = at(d, i % 64, i / 64);
        white += c == 0xffffff;
        other += c != 0xffffff && c != 0;
    }
    CHECK(other == 0);
    CHECKF(white > 64 * 64 * 35 / 100 && white < 64 * 64 * 65 / 100, "white fraction %d/4096", white);
    CHECK(same_with_threads(ctx, im, pal, d, "4"));
    carve_image_destroy(flat);
    carve_image_destroy(d);
    carve_image_destroy(im);
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
}

/* ---- automatic palettes ---------------------------------------------------------- */
static void test_from_image(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *im = make_image(60, 40, 0xc8102e);
    for (int y = 0; y < 40; y++)
        for (int x = 20; x < 60; x++) put(im, x, y, x < 40 ? 0xf0f0f0 : 0x202830);
    carve_palette *p = NULL;
    CHECK_ST(carve_palette_from_image(ctx, im, 3, NULL, &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 3);
    CHECK(carve__palette_find(p, 0xc8102e) >= 0 && carve__palette_find(p, 0xf0f0f0) >= 0 &&
          carve__palette_find(p, 0x202830) >= 0);
    carve_palette_destroy(p);
    /* more colours asked than there are: only the real ones */
    CHECK_ST(carve_palette_from_image(ctx, im, 16, NULL, &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 3);
    carve_palette_destroy(p);
    /* locked colours are kept exactly, first, with names */
    carve_palette *lock = carve_palette_create("lock");
    carve_palette_add(lock, 0x00ff00, "brand green");
    CHECK_ST(carve_palette_from_image(ctx, im, 3, lock, &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 3 && carve_palette_color(p, 0) == 0x00ff00 &&
          !strcmp(carve_palette_color_name(p, 0), "brand green"));
    carve_palette_destroy(p);
    carve_image_destroy(im);
    /* a busy image: k colours, deterministic, independent of threads */
    im = random_image(200, 150, 2);
    carve_palette *a = NULL, *b = NULL;
    carve_ctx_set_option(ctx, "threads", "1");
    CHECK_ST(carve_palette_from_image(ctx, im, 12, lock, &a), CARVE_OK);
    carve_ctx_set_option(ctx, "threads", "4");
    CHECK_ST(carve_palette_from_image(ctx, im, 12, lock, &b), CARVE_OK);
    CHECK(a && b && carve_palette_count(a) == 12 && carve_palette_count(b) == 12);
    bool same = a && b && carve_palette_count(a) == carve_palette_count(b);
    for (int i = 0; same && i < carve_palette_count(a); i++) same = carve_palette_color(a, i) == carve_palette_color(b, i);
    CHECK(same);
    CHECK(a && carve_palette_color(a, 0) == 0x00ff00);
    carve_palette_destroy(a);
    carve_palette_destroy(b);
    carve_image_destroy(im);
    /* errors */
    im = carve_image_create(8, 8); /* all transparent */
    CHECK_ST(carve_palette_from_image(ctx, im, 4, NULL, &p), CARVE_ERR_EMPTY);
    CHECK(p == NULL);
    CHECK_ST(carve_palette_from_image(ctx, im, 0, NULL, &p), CARVE_ERR_OUT_OF_RANGE);
    CHECK_ST(carve_palette_from_image(ctx, im, 257, NULL, &p), CARVE_ERR_OUT_OF_RANGE);
    carve_palette_add(lock, 0x0000ff, NULL);
    CHECK_ST(carve_palette_from_image(ctx, im, 1, lock, &p), CARVE_ERR_OUT_OF_RANGE);
    CHECK_ST(carve_palette_from_image(ctx, im, 2, lock, &p), CARVE_OK); /* only locked colours */
    CHECK(p && carve_palette_count(p) == 2);
    carve_palette_destroy(p);
    carve_image_destroy(im);
    carve_palette_destroy(lock);
    carve_ctx_destroy(ctx);
}

static void test_palette_from_options(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *im = make_image(30, 30, 0x336699);
    carve_palette *p = NULL;
    CHECK_ST(carve_ctx_set_option(ctx, "colors", "4"), CARVE_OK);
    CHECK_ST(carve_ctx_set_option(ctx, "lock", "#c8102e, #ffffff"), CARVE_OK);
    CHECK_ST(carve__chroma_palette_from_options(ctx, im, &p), CARVE_OK);
    CHECK(p && carve_palette_color(p, 0) == 0xc8102e && carve_palette_color(p, 1) == 0xffffff &&
          carve__palette_find(p, 0x336699) >= 0);
    carve_palette_destroy(p);
    /* a bad lock list is refused by the setter (option values are checked when set) */
    CHECK_ST(carve_ctx_set_option(ctx, "lock", "#c8102e,#zz"), CARVE_ERR_INVALID_ARG);
    CHECK(strstr(carve_ctx_errmsg(ctx), "lock") != NULL && strstr(carve_ctx_errmsg(ctx), "#zz") != NULL);
    CHECK_ST(carve_ctx_set_option(ctx, "palette", "poster-8"), CARVE_OK);
    CHECK_ST(carve__chroma_palette_from_options(ctx, im, &p), CARVE_OK);
    CHECK(p && carve_palette_count(p) == 8);
    carve_palette_destroy(p);
    CHECK_ST(carve_ctx_set_option(ctx, "palette", "missing-palette.gpl"), CARVE_OK);
    CHECK_ST(carve__chroma_palette_from_options(ctx, im, &p), CARVE_ERR_NOT_FOUND);
    CHECK(strstr(carve_ctx_errmsg(ctx), "missing-palette.gpl") != NULL);
    CHECK(carve__chroma_upscale_factor(ctx, 100, 50) == 1);
    carve_ctx_set_option(ctx, "upscale_to", "400");
    CHECK_NEAR(carve__chroma_upscale_factor(ctx, 100, 50), 4.0, 1e-12);
    carve_ctx_set_option(ctx, "upscale", "2");
    CHECK_NEAR(carve__chroma_upscale_factor(ctx, 300, 50), 2.0, 1e-12);
    carve_ctx_set_option(ctx, "upscale_to", "10000");
    CHECK_NEAR(carve__chroma_upscale_factor(ctx, 100, 50), 8.0, 1e-12);
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

/* ---- upscaling ----------------------------------------------------------------------- */
static void test_upscale(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *im = make_image(10, 6, 0x102030);
    put(im, 3, 2, 0xc8102e);
    carve_image *out = NULL;
    CHECK_ST(carve_ctx_set_option(ctx, "upscale_kernel", "nearest"), CARVE_OK);
    CHECK_ST(carve_upscale(ctx, im, 2, &out), CARVE_OK);
    CHECK(out && out->w == 20 && out->h == 12);
    CHECK(out && at(out, 6, 4) == 0xc8102e && at(out, 7, 5) == 0xc8102e && at(out, 8, 4) == 0x102030);
    carve_image_destroy(out);
    CHECK_ST(carve_ctx_set_option(ctx, "upscale_kernel", "lanczos3"), CARVE_OK);
    CHECK_ST(carve_upscale(ctx, im, 4, &out), CARVE_OK);
    CHECK(out && out->w == 40 && out->h == 24);
    /* flat areas stay exactly flat */
    CHECK(out && at(out, 36, 20) == 0x102030 && out->px[3] == 255);
    carve_image_destroy(out);
    CHECK_ST(carve_upscale(ctx, im, 1.5, &out), CARVE_OK);
    CHECK(out && out->w == 15 && out->h == 9);
    carve_image_destroy(out);
    CHECK_ST(carve_upscale(ctx, im, 9, &out), CARVE_ERR_OUT_OF_RANGE);
    CHECK(out == NULL && strstr(carve_ctx_errmsg(ctx), "1..8"));
    CHECK_ST(carve_upscale(ctx, im, 0.5, &out), CARVE_ERR_OUT_OF_RANGE);
    /* alpha: a transparent half stays transparent, the opaque colour does
     * not pick up the transparent pixels' (black) colour */
    for (int y = 0; y < 6; y++)
        for (int x = 5; x < 10; x++) memset(im->px + 4 * (y * 10 + x), 0, 4);
    CHECK_ST(carve_upscale(ctx, im, 2, &out), CARVE_OK);
    CHECK(out && out->px[4 * (5 * 20 + 19) + 3] == 0 && out->px[4 * (5 * 20 + 0) + 3] == 255);
    if (out) {
        const uint8_t *q = out->px + 4 * (11 * 20 + 8); /* opaque, next to the transparent half */
        CHECKF(q[3] == 0 || (abs(q[0] - 0x10) <= 2 && abs(q[1] - 0x20) <= 2 && abs(q[2] - 0x30) <= 2),
               "edge pixel %d %d %d %d", q[0], q[1], q[2], q[3]);
    }
    carve_image_destroy(out);
    carve_ctx_set_option(ctx, "max_pixels", "100");
    CHECK_ST(carve_upscale(ctx, im, 2, &out), CARVE_ERR_TOO_LARGE);
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

/* 1xN, Nx1 and 1x1 images through every option and upscaling */
static void test_tiny_images(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *pal = random_palette(5);
    const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 2}};
    const char *opts[][2] = {{"min_region", "4"}, {"majority", "3"}, {"smooth", "5"}, {"dither", "floyd-steinberg"}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        carve_image *im = random_image(sizes[s][0], sizes[s][1], 0);
        for (int o = 0; o <= 4; o++) {
            carve_ctx *c2 = carve_ctx_create();
            if (o < 4) carve_ctx_set_option(c2, opts[o][0], opts[o][1]);
            carve_image *out = NULL;
            CHECK_ST(carve_quantize(c2, im, pal, &out), CARVE_OK);
            CHECK(out && out->w == sizes[s][0] && out->h == sizes[s][1]);
            for (int i = 0; out && i < out->w * out->h; i++)
                CHECK(out->px[4 * i + 3] == 0 || carve__palette_find(pal, at(out, i % out->w, i / out->w)) >= 0);
            carve_image_destroy(out);
            carve_ctx_destroy(c2);
        }
        carve_image *up = NULL;
        CHECK_ST(carve_upscale(ctx, im, 8, &up), CARVE_OK);
        CHECK(up && up->w == 8 * sizes[s][0] && up->h == 8 * sizes[s][1]);
        carve_image_destroy(up);
        carve_palette *auto_pal = NULL;
        /* an opaque image of N pixels gives min(4, distinct colours) colours */
        CHECK_ST(carve_palette_from_image(ctx, im, 4, NULL, &auto_pal), CARVE_OK);
        int npx = sizes[s][0] * sizes[s][1];
        CHECKF(auto_pal && carve_palette_count(auto_pal) >= 1 && carve_palette_count(auto_pal) <= (npx < 4 ? npx : 4),
               "%dx%d: %d colours", sizes[s][0], sizes[s][1], auto_pal ? (int)carve_palette_count(auto_pal) : -1);
        carve_palette_destroy(auto_pal);
        carve_image_destroy(im);
    }
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
}

/* ---- cancellation, saving, real photos ---------------------------------------------- */
static int cancel_after(void *user, double f, const char *stage) {
    (void)f;
    (void)stage;
    int *n = user;
    return --*n <= 0;
}

static void test_cancel(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *im = random_image(300, 200, 0);
    carve_palette *pal = random_palette(32), *p = NULL;
    const char *opts[][2] = {{"min_region", "0"}, {"min_region", "20"}, {"smooth", "2"}, {"majority", "2"}};
    for (int k = 0; k < 4; k++) {
        carve_ctx_set_option(ctx, opts[k][0], opts[k][1]);
        for (int after = 1; after <= 3; after++) {
            int n = after;
            carve_ctx_reset_cancel(ctx);
            carve_ctx_set_progress(ctx, cancel_after, &n);
            carve_image *out = (carve_image *)1;
            CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_ERR_CANCELLED);
            CHECK(out == NULL);
        }
    }
    int n = 2;
    carve_ctx_reset_cancel(ctx);
    carve_ctx_set_progress(ctx, cancel_after, &n);
    CHECK_ST(carve_palette_from_image(ctx, im, 8, NULL, &p), CARVE_ERR_CANCELLED);
    CHECK(p == NULL);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
    carve_palette_destroy(pal);
}

static void test_png_exact(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *im = random_image(90, 70, 0), *out = NULL, *back = NULL;
    carve_palette *pal = random_palette(200);
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/q.png", tmpdir);
    CHECK_ST(carve_image_save(ctx, out, path), CARVE_OK);
    CHECK_ST(carve_image_load(ctx, path, &back), CARVE_OK);
    /* opaque colours and alpha exact (the RGB of alpha-0 pixels is free) */
    int diff = 0;
    for (int i = 0; out && back && i < 90 * 70; i++) {
        const uint8_t *a = out->px + 4 * i, *b = back->px + 4 * i;
        diff += a[3] != b[3] || (a[3] && memcmp(a, b, 3));
    }
    CHECK(back && back->w == 90 && back->h == 70);
    CHECKF(diff == 0, "%d pixels changed through the PNG", diff);
    carve_image_destroy(back);
    carve_image_destroy(out);
    carve_image_destroy(im);
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
}

static void test_sample_photo(void) {
    carve_ctx *ctx = carve_ctx_create();
    char path[512];
    snprintf(path, sizeof path, "%s/samples/pickup_white_street.jpg", CARVE_TEST_DATA);
    carve_image *im = NULL, *out = NULL;
    CHECK_ST(carve_image_load(ctx, path, &im), CARVE_OK);
    if (!im) {
        carve_ctx_destroy(ctx);
        return;
    }
    carve_palette *pal = builtin(ctx, "automotive");
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    carve__lab_pal *lp = malloc(sizeof *lp);
    double lab[CARVE_PALETTE_MAX][3];
    for (int i = 0; i < pal->n; i++) carve_rgb_to_lab(pal->rgb[i], lab[i]);
    carve__lab_pal_init(lp, (const double(*)[3])lab, pal->n);
    int bad = 0, checked = 0;
    size_t npx = (size_t)im->w * im->h;
    for (size_t i = 0; out && i < npx; i += 53) {
        double l[3];
        carve__rgb8_to_lab(im->px[4 * i], im->px[4 * i + 1], im->px[4 * i + 2], l);
        uint32_t want = pal->rgb[carve__lab_pal_nearest_brute(lp, l)];
        uint32_t got = (uint32_t)out->px[4 * i] << 16 | (uint32_t)out->px[4 * i + 1] << 8 | out->px[4 * i + 2];
        bad += got != want;
        checked++;
    }
    CHECKF(bad == 0, "%d of %d sampled pixels differ from brute force", bad, checked);
    /* the full default-ish photo pass is thread-count independent */
    carve_ctx_set_option(ctx, "min_region", "30");
    carve_ctx_set_option(ctx, "smooth", "1");
    carve_ctx_set_option(ctx, "threads", "2");
    carve_image_destroy(out);
    out = NULL;
    CHECK_ST(carve_quantize(ctx, im, pal, &out), CARVE_OK);
    CHECK(same_with_threads(ctx, im, pal, out, "1"));
    free(lp);
    carve_image_destroy(out);
    carve_image_destroy(im);
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/carve-test-chroma-XXXXXX");
    if (!mkdtemp(tmpdir)) snprintf(tmpdir, sizeof tmpdir, "/tmp");
    RUN(test_palette_basic);
    RUN(test_builtins);
    RUN(test_parse_formats);
    RUN(test_parse_errors);
    RUN(test_json_roundtrip);
    RUN(test_nearest_vs_brute);
    RUN(test_quantize_vs_brute);
    RUN(test_quantize_args);
    RUN(test_min_region);
    RUN(test_majority);
    RUN(test_smooth);
    RUN(test_dither);
    RUN(test_from_image);
    RUN(test_palette_from_options);
    RUN(test_upscale);
    RUN(test_tiny_images);
    RUN(test_cancel);
    RUN(test_png_exact);
    RUN(test_sample_photo);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (strncmp(tmpdir, "/tmp/carve-test-chroma-", 23) == 0 && system(cmd) != 0) fprintf(stderr, "cannot clean %s\n", tmpdir);
    return test_done();
}
