/* test_core.c — colour science (Sharma table), options schema, config
 * files, image I/O edge cases, atomic writes, parallel-for, regions
 * (connected components, small-region merging). */
#include "test.h"
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_ciede2000_sharma(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/ciede2000_sharma2005.tsv", CARVE_TEST_DATA);
    FILE *f = fopen(path, "r");
    CHECKF(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[512];
    int pairs = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || !strncmp(line, "pair", 4)) continue;
        int id;
        double a[3], b[3], want;
        if (sscanf(line, "%d %lf %lf %lf %lf %lf %lf %lf", &id, &a[0], &a[1], &a[2], &b[0], &b[1], &b[2], &want) != 8)
            continue;
        pairs++;
        double d1 = carve_ciede2000(a, b), d2 = carve_ciede2000(b, a);
        CHECKF(fabs(d1 - want) < 1e-4, "pair %d: %.6f want %.4f", id, d1, want);
        CHECKF(fabs(d2 - want) < 1e-4, "pair %d reversed: %.6f want %.4f", id, d2, want);
    }
    fclose(f);
    CHECKF(pairs == 34, "read %d pairs", pairs);
}

static void test_lab_roundtrip(void) {
    double lab[3];
    carve_rgb_to_lab(0xffffff, lab);
    CHECK_NEAR(lab[0], 100.0, 0.01);
    CHECK_NEAR(lab[1], 0.0, 0.01);
    CHECK_NEAR(lab[2], 0.0, 0.01);
    carve_rgb_to_lab(0xff0000, lab);
    CHECK_NEAR(lab[0], 53.24, 0.05); /* published sRGB red */
    CHECK_NEAR(lab[1], 80.09, 0.05);
    CHECK_NEAR(lab[2], 67.20, 0.05);
    int bad = 0;
    for (uint32_t c = 0; c < 0x1000000; c += 0x010307) {
        uint32_t back;
        carve_rgb_to_lab(c, lab);
        carve_lab_to_rgb(lab, &back);
        if (back != c) bad++;
    }
    CHECKF(bad == 0, "%d colours did not round-trip", bad);
}

static void test_hex(void) {
    uint32_t v;
    CHECK(carve__parse_hex("#c8102e", 7, &v) && v == 0xc8102e);
    CHECK(carve__parse_hex("FFF", 3, &v) && v == 0xffffff);
    CHECK(!carve__parse_hex("#12345g", 7, &v));
    CHECK(!carve__parse_hex("#1234", 5, &v));
    char out[8];
    carve__hex(0x0a0b0c, out);
    CHECK(!strcmp(out, "#0a0b0c"));
}

static void test_options(void) {
    carve_ctx *ctx = carve_ctx_create();
    char buf[64];
    CHECK_ST(carve_ctx_get_option(ctx, "corner_threshold", buf, sizeof buf), CARVE_OK);
    CHECK(!strcmp(buf, "75"));
    CHECK_ST(carve_ctx_set_option(ctx, "corner-threshold", "45.5"), CARVE_OK);
    CHECK(carve__opt_float(ctx, CARVE_OPTID_corner_threshold) == 45.5);
    CHECK_ST(carve_ctx_set_option(ctx, "corner_threshold", "181"), CARVE_ERR_OUT_OF_RANGE);
    CHECK(strstr(carve_ctx_errmsg(ctx), "corner_threshold") && strstr(carve_ctx_errmsg(ctx), "181") &&
          strstr(carve_ctx_errmsg(ctx), "0..180"));
    CHECK(carve__opt_float(ctx, CARVE_OPTID_corner_threshold) == 45.5); /* unchanged */
    CHECK_ST(carve_ctx_set_option(ctx, "filter_speckle", "2.5"), CARVE_ERR_INVALID_ARG);
    CHECK_ST(carve_ctx_set_option(ctx, "mode", "bezier"), CARVE_ERR_INVALID_ARG);
    CHECK(strstr(carve_ctx_errmsg(ctx), "pixel|polygon|spline") != NULL);
    CHECK_ST(carve_ctx_set_option(ctx, "mode", "polygon"), CARVE_OK);
    CHECK(carve__opt_enum(ctx, CARVE_OPTID_mode) == 1);
    CHECK_ST(carve_ctx_set_option(ctx, "no_such", "1"), CARVE_ERR_UNKNOWN_OPTION);
    CHECK(strstr(carve_ctx_errmsg(ctx), "no_such") != NULL);
    CHECK_ST(carve_ctx_set_option(ctx, "stacked", "maybe"), CARVE_ERR_INVALID_ARG);
    CHECK_ST(carve_ctx_set_option(ctx, "stacked", "yes"), CARVE_OK);
    CHECK(carve__opt_bool(ctx, CARVE_OPTID_stacked));
    /* every default parses and every schema row is complete */
    for (int i = 0; i < carve_option_count(); i++) {
        const carve_option_info *o = carve_option_at(i);
        CHECKF(o->help && *o->help && o->group && o->def, "option %s incomplete", o->key);
        CHECKF(carve_ctx_set_option(ctx, o->key, o->def) == CARVE_OK, "default of %s: %s", o->key, carve_ctx_errmsg(ctx));
        CHECK(carve_option_find(o->key) == o);
    }
    /* clone copies options */
    carve_ctx_set_option(ctx, "palette", "automotive");
    carve_ctx *c2 = carve_ctx_clone(ctx);
    CHECK(c2 && !strcmp(carve__opt_str(c2, CARVE_OPTID_palette), "automotive"));
    carve_ctx_destroy(c2);
    char *js = carve_ctx_options_json(ctx);
    CHECK(js && strstr(js, "\"palette\":\"automotive\""));
    carve_free(js);
    carve_ctx_destroy(ctx);
}


/* carve_ctx_load_config_ex's hook in the test: takes app_port (<= 65535),
 * records what it took in user (a char[128]). */
static carve_status app_key(void *user, carve_ctx *ctx, const char *key, const char *value) {
    if (strcmp(key, "app_port")) return CARVE_ERR_UNKNOWN_OPTION;
    if (atoi(value) > 65535) return carve_ctx_set_error(ctx, CARVE_ERR_OUT_OF_RANGE, 0, "app_port: %s too large", value);
    char *seen = user;
    size_t n = strlen(seen);
    snprintf(seen + n, 128 - n, "%s=%s;", key, value);
    return CARVE_OK;
}

static void test_json_config(void) {
    carve_ctx *ctx = carve_ctx_create();
    CHECK_ST(carve_ctx_apply_json(ctx, "{\"corner_threshold\": 30, \"mode\": \"pixel\", \"stacked\": true}", "t.json"),
             CARVE_OK);
    CHECK(carve__opt_float(ctx, CARVE_OPTID_corner_threshold) == 30 && carve__opt_enum(ctx, CARVE_OPTID_mode) == 0);
    /* all or nothing: the bad key leaves the good one unapplied */
    CHECK_ST(carve_ctx_apply_json(ctx, "{\"corner_threshold\": 20, \"path_precision\": 99}", "t.json"), CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(ctx), "t.json") && strstr(carve_ctx_errmsg(ctx), "path_precision"));
    CHECK(carve__opt_float(ctx, CARVE_OPTID_corner_threshold) == 30);
    CHECK_ST(carve_ctx_apply_json(ctx, "{\"bogus\": 1}", "t.json"), CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(ctx), "bogus") != NULL);
    CHECK_ST(carve_ctx_apply_json(ctx, "{\"mode\": [1]}", "t.json"), CARVE_ERR_CONFIG);
    CHECK_ST(carve_ctx_apply_json(ctx, "{nope", "t.json"), CARVE_ERR_CONFIG);
    CHECK_ST(carve_ctx_apply_json(ctx, "[]", "t.json"), CARVE_ERR_CONFIG);
    /* preset applies first, explicit keys win */
    CHECK_ST(carve_ctx_apply_json(ctx, "{\"colors\": 5, \"preset\": \"poster\"}", "t.json"), CARVE_OK);
    CHECK(carve__opt_int(ctx, CARVE_OPTID_colors) == 5);
    CHECK(carve__opt_int(ctx, CARVE_OPTID_filter_speckle) == 24);

    char path[] = "/tmp/carve_cfgXXXXXX";
    int fd = mkstemp(path);
    const char *text = "# comment\n\nmode = spline\npath_precision = 3\n\n  colors = \"12\"\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK_ST(carve_ctx_load_config(ctx, path), CARVE_OK);
    CHECK(carve__opt_int(ctx, CARVE_OPTID_path_precision) == 3 && carve__opt_int(ctx, CARVE_OPTID_colors) == 12);
    fd = open(path, O_WRONLY | O_TRUNC);
    text = "mode = spline\n\nthreads = -1\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK_ST(carve_ctx_load_config(ctx, path), CARVE_ERR_CONFIG);
    CHECKF(strstr(carve_ctx_errmsg(ctx), ":3:") && strstr(carve_ctx_errmsg(ctx), "threads"), "%s", carve_ctx_errmsg(ctx));
    /* an application's own keys in the same file (carved's settings) */
    char seen[128] = "";
    fd = open(path, O_WRONLY | O_TRUNC);
    text = "app_port = 80\ncolors = 7\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK_ST(carve_ctx_load_config_ex(ctx, path, app_key, seen), CARVE_OK);
    CHECKF(!strcmp(seen, "app_port=80;") && carve__opt_int(ctx, CARVE_OPTID_colors) == 7, "%s", seen);
    CHECK_ST(carve_ctx_load_config(ctx, path), CARVE_ERR_CONFIG); /* no hook: an unknown key */
    CHECKF(strstr(carve_ctx_errmsg(ctx), ":1: unknown option 'app_port'"), "%s", carve_ctx_errmsg(ctx));
    fd = open(path, O_WRONLY | O_TRUNC);
    text = "colors = 9\napp_port = 99999\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK_ST(carve_ctx_load_config_ex(ctx, path, app_key, seen), CARVE_ERR_CONFIG);
    CHECKF(strstr(carve_ctx_errmsg(ctx), ":2: app_port: 99999 too large") && carve__opt_int(ctx, CARVE_OPTID_colors) == 7,
           "%s", carve_ctx_errmsg(ctx));
    fd = open(path, O_WRONLY | O_TRUNC);
    text = "{\"app_port\": 81, \"colors\": 8, \"nobody\": true}";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    seen[0] = 0;
    CHECK_ST(carve_ctx_load_config_ex(ctx, path, app_key, seen), CARVE_ERR_CONFIG);
    CHECKF(strstr(carve_ctx_errmsg(ctx), "unknown option 'nobody'") && carve__opt_int(ctx, CARVE_OPTID_colors) == 7,
           "%s", carve_ctx_errmsg(ctx));
    CHECKF(!strcmp(seen, "app_port=81;"), "%s", seen);
    unlink(path);
    CHECK_ST(carve_ctx_load_config(ctx, "/nonexistent/x.conf"), CARVE_ERR_IO);
    CHECK_ST(carve_ctx_apply_preset(ctx, "nope"), CARVE_ERR_NOT_FOUND);
    carve_ctx_destroy(ctx);
}

static void write_bytes(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(d, 1, n, f);
    fclose(f);
}

static void test_image_io(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *img = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/samples/sedan_black_side.jpg", CARVE_TEST_DATA);
    CHECK_ST(carve_image_load(ctx, path, &img), CARVE_OK);
    CHECK(carve_image_width(img) == 1024 && carve_image_height(img) == 680);
    carve_image_destroy(img);

    snprintf(path, sizeof path, "%s/samples/firetruck_cutout_rgba.png", CARVE_TEST_DATA);
    CHECK_ST(carve_image_load(ctx, path, &img), CARVE_OK);
    int transparent = 0;
    for (int i = 0; i < carve_image_width(img) * carve_image_height(img); i++)
        transparent += carve_image_pixels(img)[4 * i + 3] == 0;
    CHECK(transparent > 1000); /* alpha kept */

    /* round trip through PNG (indexed when few colours) keeps colours exactly */
    carve_image *small = carve_image_create(5, 3);
    uint8_t *p = carve_image_pixels(small);
    for (int i = 0; i < 15; i++) {
        p[4 * i] = (uint8_t)(i * 17);
        p[4 * i + 1] = (uint8_t)(255 - i * 3);
        p[4 * i + 2] = (uint8_t)(i * 7);
        p[4 * i + 3] = i == 4 ? 0 : 255;
    }
    char out[] = "/tmp/carve_t_io.png";
    CHECK_ST(carve_image_save(ctx, small, out), CARVE_OK);
    carve_image *back = NULL;
    CHECK_ST(carve_image_load(ctx, out, &back), CARVE_OK);
    int diff = 0;
    for (int i = 0; back && i < 15; i++)
        if (i != 4 && memcmp(carve_image_pixels(back) + 4 * i, p + 4 * i, 4)) diff++;
    CHECKF(diff == 0, "%d pixels changed through indexed PNG", diff);
    FILE *f = fopen(out, "rb");
    unsigned char hdr[32] = {0};
    CHECK(f && fread(hdr, 1, 32, f) == 32);
    if (f) fclose(f);
    CHECKF(hdr[25] == 3, "PNG colour type %d, want 3 (indexed)", hdr[25]);
    carve_image_destroy(back);
    unlink(out);
    /* the pixel limit is checked before decoding */
    CHECK_ST(carve_ctx_set_option(ctx, "max_pixels", "1000"), CARVE_OK);
    CHECK_ST(carve_image_load(ctx, path, &back), CARVE_ERR_TOO_LARGE);
    CHECK(strstr(carve_ctx_errmsg(ctx), "firetruck") && strstr(carve_ctx_errmsg(ctx), "max_pixels"));
    CHECK(back == NULL);
    carve_ctx_set_option(ctx, "max_pixels", "40000000");

    /* bad files: each a clear error naming the file */
    write_bytes("/tmp/carve_t_empty.png", "", 0);
    CHECK_ST(carve_image_load(ctx, "/tmp/carve_t_empty.png", &back), CARVE_ERR_DECODE);
    CHECK(strstr(carve_ctx_errmsg(ctx), "carve_t_empty.png") && strstr(carve_ctx_errmsg(ctx), "empty"));
    write_bytes("/tmp/carve_t_text.png", "hello, this is not an image\n", 28);
    CHECK_ST(carve_image_load(ctx, "/tmp/carve_t_text.png", &back), CARVE_ERR_UNSUPPORTED);
    CHECK(strstr(carve_ctx_errmsg(ctx), "carve_t_text.png") != NULL);
    CHECK_ST(carve_image_load(ctx, "/tmp/does/not/exist.jpg", &back), CARVE_ERR_IO);
    /* truncated JPEG */
    snprintf(path, sizeof path, "%s/samples/bus_red_london_plate.jpg", CARVE_TEST_DATA);
    char *data;
    size_t len;
    CHECK_ST(carve__read_file(ctx, path, 0, &data, &len), CARVE_OK);
    write_bytes("/tmp/carve_t_trunc.jpg", data, len / 2);
    carve_status st = carve_image_load(ctx, "/tmp/carve_t_trunc.jpg", &back);
    CHECKF(st == CARVE_ERR_DECODE, "truncated jpeg gave %d: %s", st, carve_ctx_errmsg(ctx));
    CHECK(strstr(carve_ctx_errmsg(ctx), "carve_t_trunc.jpg") != NULL);
    /* the same from memory */
    CHECK_ST(carve_image_load_memory(ctx, data, len / 2, "upload", &back), CARVE_ERR_DECODE);
    CHECK(strstr(carve_ctx_errmsg(ctx), "upload") != NULL);
    CHECK_ST(carve_image_load_memory(ctx, data, len, "upload", &back), CARVE_OK);
    CHECK(carve_image_width(back) == 546);
    carve_image_destroy(back);
    free(data);
    unlink("/tmp/carve_t_empty.png");
    unlink("/tmp/carve_t_text.png");
    unlink("/tmp/carve_t_trunc.jpg");

    /* writing into a missing folder fails and leaves nothing */
    CHECK_ST(carve_image_save(ctx, small, "/tmp/carve_no_dir/x.png"), CARVE_ERR_IO);
    CHECK_ST(carve_image_save(ctx, small, "/tmp/carve_t.unknownext"), CARVE_ERR_UNSUPPORTED);
    carve_image_destroy(small);
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
}

static void test_formats(void) {
    /* encode the firetruck in every format and decode it again */
    carve_ctx *ctx = carve_ctx_create();
    carve_image *img = carve_image_create(64, 48);
    uint8_t *p = carve_image_pixels(img);
    for (int i = 0; i < 64 * 48; i++) {
        p[4 * i] = (uint8_t)(i % 64 * 4);
        p[4 * i + 1] = (uint8_t)(i / 64 * 5);
        p[4 * i + 2] = 128;
        p[4 * i + 3] = 255;
    }
    const char *fmts[] = {".png", ".jpg", ".webp", ".tif", ".gif"};
    for (int i = 0; i < 5; i++) {
        void *buf;
        size_t len;
        carve_status st = carve_image_save_memory(ctx, img, fmts[i], &buf, &len);
        CHECKF(st == CARVE_OK, "encode %s: %s", fmts[i], carve_ctx_errmsg(ctx));
        if (st) continue;
        carve_image *back = NULL;
        st = carve_image_load_memory(ctx, buf, len, fmts[i], &back);
        CHECKF(st == CARVE_OK && carve_image_width(back) == 64 && carve_image_height(back) == 48, "decode %s: %s",
               fmts[i], carve_ctx_errmsg(ctx));
        carve_image_destroy(back);
        carve_free(buf);
    }
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
}

static int square(void *arg, int64_t i) {
    int64_t *out = arg;
    out[i] = i * i;
    return i == 777 ? 5 : 0;
}

static void test_parallel(void) {
    int64_t out[1000];
    memset(out, 0, sizeof out);
    int rc = carve__parallel_for(4, 500, square, out);
    CHECK(rc == 0);
    int ok = 1;
    for (int i = 0; i < 500; i++) ok &= out[i] == (int64_t)i * i;
    CHECK(ok);
    CHECK(carve__parallel_for(3, 1000, square, out) == 5);
}

static int cancel_after(void *user, double f, const char *stage) {
    (void)stage;
    return f >= *(double *)user;
}

static void test_progress(void) {
    carve_ctx *ctx = carve_ctx_create();
    double stop_at = 0.5;
    carve_ctx_set_progress(ctx, cancel_after, &stop_at);
    carve__range r = carve__progress_push(ctx, 0.0, 0.5);
    CHECK_ST(carve__progress(ctx, 0.5, "a"), CARVE_OK); /* 0.25 overall */
    carve__progress_pop(ctx, r);
    r = carve__progress_push(ctx, 0.5, 1.0);
    CHECK_ST(carve__progress(ctx, 0.1, "b"), CARVE_ERR_CANCELLED); /* 0.55 */
    CHECK(strstr(carve_ctx_errmsg(ctx), "b") != NULL);
    carve__progress_pop(ctx, r);
    carve_ctx_destroy(ctx);
}

static int record(void *user, double f, const char *stage) {
    (void)stage;
    *(double *)user = f;
    return 0;
}

static void test_progress_restarts(void) {
    /* a second top-level call starts from 0 again; within a composed call
     * progress never goes backwards */
    carve_ctx *ctx = carve_ctx_create();
    double seen = -1;
    carve_ctx_set_progress(ctx, record, &seen);
    CHECK_ST(carve__progress(ctx, 1.0, "first"), CARVE_OK);
    CHECK_NEAR(seen, 1.0, 1e-12);
    CHECK_ST(carve__progress(ctx, 0.1, "second"), CARVE_OK);
    CHECK_NEAR(seen, 0.1, 1e-12);
    carve__range r = carve__progress_push(ctx, 0.4, 0.8);
    CHECK_ST(carve__progress(ctx, 0.5, "inner"), CARVE_OK);
    CHECK_NEAR(seen, 0.6, 1e-12);
    carve__range r2 = carve__progress_push(ctx, 0.0, 0.5); /* nested: 0.4..0.6 */
    CHECK_ST(carve__progress(ctx, 0.0, "nested"), CARVE_OK);
    CHECK_NEAR(seen, 0.6, 1e-12); /* clamped, not back to 0.4 */
    carve__progress_pop(ctx, r2);
    carve__progress_pop(ctx, r);
    carve_ctx_destroy(ctx);
}

/* ---- regions: components and small-region merging (src/core/regions.c) ----
 * Label images from strings: '0'..'9' a colour index, '.' transparent. */
static uint16_t *labels_from(const char *const *rows, int h, int *w) {
    *w = (int)strlen(rows[0]);
    uint16_t *l = malloc(sizeof *l * (size_t)*w * (size_t)h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < *w; x++) {
            char c = rows[y][x];
            l[y * *w + x] = c == '.' ? CARVE__LABEL_VOID : (uint16_t)(c - '0');
        }
    return l;
}

static bool labels_are(const uint16_t *l, const char *const *rows, int h) {
    int w = (int)strlen(rows[0]);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            char c = rows[y][x];
            uint16_t want = c == '.' ? CARVE__LABEL_VOID : (uint16_t)(c - '0');
            if (l[y * w + x] != want) {
                fprintf(stderr, "     at (%d,%d): %d, want %c\n", x, y, l[y * w + x] == CARVE__LABEL_VOID ? -1 : l[y * w + x], c);
                return false;
            }
        }
    return true;
}

/* merges rows in place with the given colours; returns merges (-1: error) */
static int64_t merge_rows(carve_ctx *ctx, const char *const *rows, int h, const double (*lab)[3], int ncolors,
                          int64_t min_area, uint16_t **out) {
    int w;
    uint16_t *l = labels_from(rows, h, &w);
    int64_t merged = -7;
    carve_status st = carve__merge_small_regions(ctx, l, w, h, lab, ncolors, min_area, "test", &merged);
    *out = l;
    return st ? -1 : merged;
}

static void test_components(void) {
    const char *rows[] = {"00.11", "0.111", "22.01"};
    int w;
    uint16_t *l = labels_from(rows, 3, &w);
    int32_t *reg = NULL;
    int64_t *area = NULL;
    int32_t n = carve__components(l, w, 3, &reg, &area);
    /* raster order of first pixel: {00,0} {11,111,1} {22} {0 at (3,2)}; '.' = -1 */
    int32_t want[15] = {0, 0, -1, 1, 1, 0, -1, 1, 1, 1, 2, 2, -1, 3, 1};
    CHECK(n == 4);
    CHECK(reg && !memcmp(reg, want, sizeof want));
    CHECK(area && area[0] == 3 && area[1] == 6 && area[2] == 2 && area[3] == 1);
    free(reg);
    free(area);
    free(l);
    /* all transparent: no regions */
    uint16_t v[4] = {CARVE__LABEL_VOID, CARVE__LABEL_VOID, CARVE__LABEL_VOID, CARVE__LABEL_VOID};
    CHECK(carve__components(v, 2, 2, &reg, &area) == 0);
    CHECK(reg && reg[0] == -1 && reg[3] == -1);
    free(reg);
    free(area);
}

/* an image of specks only: every pixel differs from its 4 neighbours.
 * Afterwards no region is under min_area, no pixel is transparent, only
 * the input colours appear, and the result is the same every time. */
static void merge_specks(carve_ctx *ctx) {
    int w = 37, h = 23;
    const double q[4][3] = {{30, 10, -5}, {55, -20, 30}, {70, 40, 10}, {90, 0, -30}};
    uint16_t *s1 = malloc(sizeof *s1 * (size_t)w * h), *s2 = malloc(sizeof *s2 * (size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) s1[y * w + x] = (uint16_t)((x * 7 + y * 3) % 4);
    memcpy(s2, s1, sizeof *s1 * (size_t)w * h);
    int32_t *reg = NULL;
    int64_t *area = NULL;
    CHECK(carve__components(s1, w, h, &reg, &area) == w * h);
    free(reg);
    free(area);
    for (int min = 2; min <= 40; min += 19) {
        int64_t m1 = -1, m2 = -1;
        uint16_t *u1 = malloc(sizeof *u1 * (size_t)w * h), *u2 = malloc(sizeof *u2 * (size_t)w * h);
        memcpy(u1, s1, sizeof *u1 * (size_t)w * h);
        memcpy(u2, s2, sizeof *u2 * (size_t)w * h);
        CHECK_ST(carve__merge_small_regions(ctx, u1, w, h, (const double(*)[3])q, 4, min, NULL, &m1), CARVE_OK);
        CHECK_ST(carve__merge_small_regions(ctx, u2, w, h, (const double(*)[3])q, 4, min, NULL, &m2), CARVE_OK);
        CHECK(m1 > 0 && m1 == m2 && !memcmp(u1, u2, sizeof *u1 * (size_t)w * h));
        int bad = 0;
        for (int i = 0; i < w * h; i++) bad += u1[i] > 3;
        CHECK(bad == 0);
        int32_t n = carve__components(u1, w, h, &reg, &area);
        int small = 0;
        for (int32_t r = 0; r < n; r++) small += area[r] < min;
        CHECKF(n > 0 && small == 0, "min_area %d: %d of %d regions still small", min, small, n);
        /* merges + final regions = initial regions (joins are the rest) */
        CHECK(m1 + n <= w * h);
        free(reg);
        free(area);
        free(u1);
        free(u2);
    }
    free(s1);
    free(s2);
}

static void test_merge_regions(void) {
    carve_ctx *ctx = carve_ctx_create();
    uint16_t *l = NULL;
    /* 0 grey, 1 light grey, 2 near 1, 3 = 1's colour under another index */
    const double lab[4][3] = {{40, 0, 0}, {80, 0, 0}, {75, 2, 2}, {80, 0, 0}};
    const double (*L)[3] = (const double(*)[3])lab;

    /* a 1-px speck merges into the neighbour of the closest colour */
    const char *a[] = {"00011", "00211", "00011"};
    CHECK(merge_rows(ctx, a, 3, L, 4, 2, &l) == 1);
    const char *a1[] = {"00011", "00111", "00011"};
    CHECK(labels_are(l, a1, 3));
    free(l);
    /* min_area <= 1 changes nothing */
    CHECK(merge_rows(ctx, a, 3, L, 4, 1, &l) == 0 && labels_are(l, a, 3));
    free(l);

    /* ties in CIEDE2000 (1 and 3 are the same colour): the larger region... */
    const char *t1[] = {"11.333", "112333", "11.333"};
    CHECK(merge_rows(ctx, t1, 3, L, 4, 2, &l) == 1);
    const char *t1w[] = {"11.333", "113333", "11.333"};
    CHECK(labels_are(l, t1w, 3));
    free(l);
    /* ...then the lower region id (first pixel first in raster order), not the
     * lower colour index */
    const char *t2[] = {"33.11", "33211", "33.11"};
    CHECK(merge_rows(ctx, t2, 3, L, 4, 2, &l) == 1);
    const char *t2w[] = {"33.11", "33311", "33.11"};
    CHECK(labels_are(l, t2w, 3));
    free(l);
    const char *t3[] = {"11.33", "11233", "11.33"};
    CHECK(merge_rows(ctx, t3, 3, L, 4, 2, &l) == 1);
    const char *t3w[] = {"11.33", "11133", "11.33"};
    CHECK(labels_are(l, t3w, 3));
    free(l);

    /* transparency is never merged nor merged into: a lone speck with only
     * transparent neighbours stays, a hole stays a hole, a speck next to a
     * hole goes to its opaque neighbour */
    const char *v[] = {".....", ".2...", ".....", "00000", "00.20", "00000"};
    CHECK(merge_rows(ctx, v, 6, L, 4, 3, &l) == 1);
    const char *vw[] = {".....", ".2...", ".....", "00000", "00.00", "00000"};
    CHECK(labels_are(l, vw, 6));
    free(l);
    const char *v2[] = {"...", "...", "..."};
    CHECK(merge_rows(ctx, v2, 3, L, 4, 100, &l) == 0 && labels_are(l, v2, 3));
    free(l);

    /* a region of exactly min_area stays; one pixel less merges */
    const char *m[] = {"0000000", "0022200", "0000000"};
    CHECK(merge_rows(ctx, m, 3, L, 4, 3, &l) == 0 && labels_are(l, m, 3));
    free(l);
    CHECK(merge_rows(ctx, m, 3, L, 4, 4, &l) == 1);
    const char *mw[] = {"0000000", "0000000", "0000000"};
    CHECK(labels_are(l, mw, 3));
    free(l);

    /* a speck between two regions of the receiver's colour joins them into one
     * (one merge; the join is not counted): both halves are small, then not */
    const char *j[] = {"11211"};
    CHECK(merge_rows(ctx, j, 1, L, 4, 3, &l) == 1);
    const char *jw[] = {"11111"};
    CHECK(labels_are(l, jw, 1));
    free(l);

    /* a chain of small regions: r0 joins r1 (its only neighbour), r2 joins r3
     * (nearer than 1), then r1 (2 px, popped after the 1-px r2) joins r3's
     * region: one region of min_area pixels in colour 3 */
    const double cl[4][3] = {{20, 0, 0}, {22, 0, 0}, {80, 0, 0}, {82, 0, 0}};
    const char *c[] = {".0123."};
    CHECK(merge_rows(ctx, c, 1, (const double(*)[3])cl, 4, 4, &l) == 3);
    const char *cw[] = {".3333."};
    CHECK(labels_are(l, cw, 1));
    free(l);
    /* with min_area 5 the chain can never get there: one region, kept */
    CHECK(merge_rows(ctx, c, 1, (const double(*)[3])cl, 4, 5, &l) == 3 && labels_are(l, cw, 1));
    free(l);

    merge_specks(ctx);

    /* cancellation is reported */
    carve_ctx_cancel(ctx);
    CHECK(merge_rows(ctx, a, 3, L, 4, 2, &l) == -1);
    CHECK(strstr(carve_ctx_errmsg(ctx), "cancel") != NULL);
    free(l);
    carve_ctx_destroy(ctx);
}

static void test_resize(void) {
    carve_ctx *ctx = carve_ctx_create();
    /* half-transparent image: transparent pixels must not bleed their colour */
    carve_image *im = carve_image_create(301, 203);
    uint8_t *p = carve_image_pixels(im);
    for (int i = 0; i < 301 * 203; i++) {
        bool left = (i % 301) < 150;
        p[4 * i] = left ? 255 : 0;
        p[4 * i + 1] = 0;
        p[4 * i + 2] = left ? 0 : 255;
        p[4 * i + 3] = left ? 255 : 0;
    }
    carve_image *out = NULL;
    CHECK_ST(carve__resize(ctx, im, 100, 67, CARVE_KERNEL_LANCZOS3, &out), CARVE_OK);
    CHECK(out && carve_image_width(out) == 100 && carve_image_height(out) == 67);
    if (out) {
        const uint8_t *o = carve_image_pixels_const(out);
        int blue_bleed = 0;
        for (int i = 0; i < 100 * 67; i++) blue_bleed += o[4 * i + 3] >= 128 && o[4 * i + 2] > 40;
        CHECK(blue_bleed == 0);
        CHECK(o[3] == 255 && o[4 * 99 + 3] == 0);
    }
    carve_image_destroy(out);
    CHECK_ST(carve__resize(ctx, im, 0, 10, CARVE_KERNEL_LANCZOS3, &out), CARVE_ERR_INVALID_ARG);
    CHECK_ST(carve__resize(ctx, im, 10, 10, 99, &out), CARVE_ERR_INVALID_ARG);
    /* upscaling with nearest keeps the colours exactly; any kernel hits the exact size */
    CHECK_ST(carve__resize(ctx, im, 602, 406, CARVE_KERNEL_NEAREST, &out), CARVE_OK);
    CHECK(out && carve_image_width(out) == 602 && carve_image_height(out) == 406);
    if (out) CHECK(!memcmp(carve_image_pixels_const(out), p, 4) && carve_image_pixels_const(out)[4 * 601 + 3] == 0);
    carve_image_destroy(out);
    for (int k = CARVE_KERNEL_NEAREST; k <= CARVE_KERNEL_LANCZOS3; k++) {
        CHECK_ST(carve__resize(ctx, im, 157, 33, k, &out), CARVE_OK);
        CHECK(out && carve_image_width(out) == 157 && carve_image_height(out) == 33);
        carve_image_destroy(out);
    }
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

/* PNG output: up to 256 colours an indexed PNG written by libpng with the
 * image's exact colours (translucent ones through tRNS), more a truecolour
 * one; both round-trip exactly and are byte-identical run to run */
static void png_case(carve_ctx *ctx, int ncolors, int want_type) {
    int w = 37, h = 29;
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    for (int i = 0; i < w * h; i++) {
        int c = (i * 7) % ncolors; /* every colour used, scattered */
        p[4 * i] = (uint8_t)(c * 37);
        p[4 * i + 1] = (uint8_t)(c / 3);
        p[4 * i + 2] = (uint8_t)(255 - c);
        p[4 * i + 3] = (uint8_t)(c == 0 ? 0 : c % 3 == 1 ? 128 : 255); /* one transparent, some translucent */
    }
    void *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    CHECK_ST(carve_image_save_memory(ctx, im, ".png", &a, &la), CARVE_OK);
    CHECK_ST(carve_image_save_memory(ctx, im, ".png", &b, &lb), CARVE_OK);
    CHECK(a && b && la == lb && !memcmp(a, b, la));
    CHECKF(la > 26 && ((uint8_t *)a)[25] == want_type, "%d colours: PNG colour type %d, want %d", ncolors,
           la > 26 ? ((uint8_t *)a)[25] : -1, want_type);
    carve_image *back = NULL;
    CHECK_ST(carve_image_load_memory(ctx, a, la, "png", &back), CARVE_OK);
    CHECK(back && carve_image_width(back) == w && carve_image_height(back) == h);
    if (back) {
        const uint8_t *q = carve_image_pixels(back);
        int diff = 0;
        for (int i = 0; i < w * h * 4; i++) diff += p[i] != q[i];
        CHECKF(diff == 0, "%d colours: %d bytes differ after the round trip", ncolors, diff);
    }
    carve_image_destroy(back);
    carve_free(a);
    carve_free(b);
    carve_image_destroy(im);
}

static void test_png_indexed(void) {
    carve_ctx *ctx = carve_ctx_create();
    png_case(ctx, 2, 3);   /* palette */
    png_case(ctx, 256, 3); /* palette, full */
    png_case(ctx, 257, 6); /* RGBA */
    carve_ctx_destroy(ctx);
}

/* The public calls carved needs instead of internals: sniffing, header
 * probe, progress and log from the application's own steps, thread cleanup. */
static int helper_progress(void *user, double f, const char *stage) {
    double *last = user;
    *last = f;
    return stage && !strcmp(stage, "stop");
}

static void helper_log(void *user, int level, const char *msg) {
    snprintf(user, 64, "%d:%s", level, msg);
}

static void test_public_helpers(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *img = carve_image_create(7, 5);
    void *png = NULL;
    size_t n = 0;
    CHECK_ST(carve_image_save_memory(ctx, img, ".png", &png, &n), CARVE_OK);
    CHECK(carve_image_sniff(png, n) && !strcmp(carve_image_sniff(png, n), "image/png"));
    CHECK(carve_image_sniff("<svg xmlns='http://www.w3.org/2000/svg'/>", 40) == NULL);
    CHECK(carve_image_sniff(NULL, 0) == NULL);
    int w = -1, h = -1;
    CHECK_ST(carve_image_probe(ctx, png, n, "p.png", &w, &h), CARVE_OK);
    CHECK(w == 7 && h == 5);
    CHECK_ST(carve_image_probe(ctx, "GIF89a", 6, "cut.gif", &w, &h), CARVE_ERR_DECODE);
    CHECK(w == 0 && h == 0 && strstr(carve_ctx_errmsg(ctx), "cut.gif"));
    CHECK_ST(carve_image_probe(ctx, "%PDF-1.4", 8, "x.pdf", &w, &h), CARVE_ERR_UNSUPPORTED);
    carve_free(png);
    carve_image_destroy(img);
    double last = -1;
    char logged[64] = "";
    carve_ctx_set_progress(ctx, helper_progress, &last);
    carve_ctx_set_log(ctx, helper_log, logged);
    CHECK_ST(carve_ctx_progress(ctx, 0.25, "mine"), CARVE_OK);
    CHECK(last == 0.25);
    CHECK_ST(carve_ctx_progress(ctx, 2.0, "stop"), CARVE_ERR_CANCELLED);
    CHECK(last == 1.0);
    carve_ctx_reset_cancel(ctx);
    carve_ctx_cancel(ctx);
    CHECK_ST(carve_ctx_progress(ctx, 0.5, "mine"), CARVE_ERR_CANCELLED);
    carve_ctx_log(ctx, CARVE_LOG_WARN, "step %d of %s", 3, "mine");
    CHECKF(!strcmp(logged, "2:step 3 of mine"), "%s", logged);
    carve_thread_cleanup();
    carve_ctx_destroy(ctx);
}

/* carve__mkdir_p (src/util): parents created, an existing folder is fine, a
 * file in the way is ENOTDIR */
static void test_mkdir_p(void) {
    char base[] = "/tmp/carve_mkdirXXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char deep[128], file[128];
    snprintf(deep, sizeof deep, "%s/a/b/c", base);
    CHECK(carve__mkdir_p(deep, 0700) == 0);
    struct stat sb;
    CHECK(stat(deep, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(carve__mkdir_p(deep, 0700) == 0);
    snprintf(file, sizeof file, "%s/a/f", base);
    write_bytes(file, "x", 1);
    CHECK(carve__mkdir_p(file, 0700) == -1 && errno == ENOTDIR);
    snprintf(deep, sizeof deep, "%s/a/f/g", base);
    CHECK(carve__mkdir_p(deep, 0700) == -1);
    CHECK(carve__mkdir_p("", 0700) == -1);
    unlink(file);
    const char *rm[] = {"/a/b/c", "/a/b", "/a", ""};
    for (int i = 0; i < 4; i++) {
        snprintf(deep, sizeof deep, "%s%s", base, rm[i]);
        CHECK(rmdir(deep) == 0);
    }
}

int main(void) {
    RUN(test_ciede2000_sharma);
    RUN(test_lab_roundtrip);
    RUN(test_hex);
    RUN(test_options);
    RUN(test_json_config);
    RUN(test_image_io);
    RUN(test_png_indexed);
    RUN(test_formats);
    RUN(test_parallel);
    RUN(test_components);
    RUN(test_merge_regions);
    RUN(test_progress);
    RUN(test_progress_restarts);
    RUN(test_public_helpers);
    RUN(test_resize);
    RUN(test_mkdir_p);
    return test_done();
}
