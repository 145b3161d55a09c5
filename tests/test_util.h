/* test_util.h — helpers the test suites share, one copy each: setting an
 * option and loading an image as counted checks, the bundled photos, a probe
 * for an external program, writing a file, reading a binary PPM (what
 * poppler and Ghostscript render to).  Include after (or instead of) test.h;
 * librsvg rendering is in test_render.h. */
#ifndef CARVE_TEST_UTIL_H
#define CARVE_TEST_UTIL_H

#include "test.h"

#include <stdbool.h>
#include <stdint.h>

#define TU_PATH_MAX 1024
#define TU_PPM_MAXVAL 255

/* Sets option k=v; a refusal is a failed check naming the option and why. */
static inline void tu_set_opt(carve_ctx *ctx, const char *k, const char *v) {
    carve_status st = carve_ctx_set_option(ctx, k, v);
    CHECKF(st == CARVE_OK, "set %s=%s: %s", k, v, carve_ctx_errmsg(ctx));
}

/* A new context with option threads = n (a counted check). */
static inline carve_ctx *tu_ctx_threads(int n) {
    carve_ctx *ctx = carve_ctx_create();
    char th[16];
    snprintf(th, sizeof th, "%d", n);
    tu_set_opt(ctx, "threads", th);
    return ctx;
}

/* Loads the image at path with ctx (NULL: a context of its own); a failure
 * is a failed check naming the path and returns NULL. */
static inline carve_image *tu_load(carve_ctx *ctx, const char *path) {
    carve_ctx *own = ctx ? NULL : carve_ctx_create();
    carve_image *img = NULL;
    carve_status st = carve_image_load(ctx ? ctx : own, path, &img);
    CHECKF(st == CARVE_OK && img, "load %s: %s", path, carve_ctx_errmsg(ctx ? ctx : own));
    carve_ctx_destroy(own);
    return st == CARVE_OK ? img : NULL;
}

/* Traces im as format fmt (option "format" set on ctx); a failure is a
 * failed check naming the format.  The document is the caller's (carve_free). */
static inline char *tu_trace(carve_ctx *ctx, const carve_image *im, const char *fmt, size_t *len) {
    tu_set_opt(ctx, "format", fmt);
    char *d = NULL;
    carve_status st = carve_trace(ctx, im, &d, len);
    CHECKF(st == CARVE_OK && d, "trace %s: %s", fmt, carve_ctx_errmsg(ctx));
    return d;
}

/* A photo of tests/data/samples (see tu_load). */
static inline carve_image *tu_load_sample(carve_ctx *ctx, const char *name) {
    char path[TU_PATH_MAX];
    snprintf(path, sizeof path, "%s/samples/%s", CARVE_TEST_DATA, name);
    return tu_load(ctx, path);
}

/* Whether prog is on PATH. */
static inline bool tu_have(const char *prog) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* Writes n bytes to path; false if any step failed. */
static inline bool tu_write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(d, 1, n, f) == n;
    if (f) ok &= fclose(f) == 0;
    return ok;
}

/* The next number of a PPM header (# comments skipped), -1 at the end; the
 * single whitespace after it is consumed. */
static inline int tu_ppm_num(FILE *f) {
    int c;
    while ((c = fgetc(f)) != EOF && !(c >= '0' && c <= '9'))
        if (c == '#')
            while ((c = fgetc(f)) != EOF && c != '\n') {}
    if (c == EOF) return -1;
    int v = c - '0';
    while ((c = fgetc(f)) >= '0' && c <= '9') v = 10 * v + (c - '0');
    return v;
}

/* The RGB bytes (3 per pixel) of a binary PPM (P6, maxval 255) and its size;
 * NULL if it is not one or is cut short. */
static inline uint8_t *tu_read_ppm(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *px = NULL;
    char magic[3] = {0};
    if (fread(magic, 1, 2, f) == 2 && !strcmp(magic, "P6") && (*w = tu_ppm_num(f)) > 0 && (*h = tu_ppm_num(f)) > 0 &&
        tu_ppm_num(f) == TU_PPM_MAXVAL) {
        size_t n = (size_t)*w * *h;
        px = malloc(3 * n);
        if (px && fread(px, 3, n, f) != n) {
            free(px);
            px = NULL;
        }
    }
    fclose(f);
    return px;
}

#endif
