/* png.c — indexed PNG writing with libpng.
 *
 * carve's mapped images hold at most 256 exact palette colours.  Writing them
 * through libvips' palette PNG path re-quantises them with libimagequant
 * (seconds of CPU on a 12 Mpx image, and exactness then rests on the
 * quantiser); here the palette is the image's own colours, in order of first
 * appearance (deterministic), with a tRNS chunk when any colour is not
 * opaque.  Rows of 8-bit indices, no filter (the usual best choice for
 * palette images), zlib level 6. */
#include "core.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

enum { PNG_MAX_COLORS = 256, HASH_CAP = 1024 };

typedef struct {
    uint32_t key[HASH_CAP];
    uint8_t idx[HASH_CAP];
    bool used[HASH_CAP];
    uint32_t colors[PNG_MAX_COLORS];
    int n;
} color_table;

/* index of an RGBA value, added on first sight; -1 past 256 colours */
static int color_index(color_table *t, uint32_t v) {
    uint32_t h = (v * 2654435761u) >> 22; /* 10 bits */
    while (t->used[h] && t->key[h] != v) h = (h + 1) & (HASH_CAP - 1);
    if (t->used[h]) return t->idx[h];
    if (t->n == PNG_MAX_COLORS) return -1;
    t->used[h] = true;
    t->key[h] = v;
    t->idx[h] = (uint8_t)t->n;
    t->colors[t->n] = v;
    return t->n++;
}

static void write_cb(png_structp png, png_bytep data, png_size_t len) {
    carve__buf_put((carve__buf *)png_get_io_ptr(png), data, len);
}
static void flush_cb(png_structp png) { (void)png; }

/* palette and tRNS from the table (RGBA bytes in memory order) */
static void set_palette(png_structp png, png_infop info, const color_table *t) {
    png_color pal[PNG_MAX_COLORS] = {{0, 0, 0}};
    png_byte alpha[PNG_MAX_COLORS] = {0};
    int last_translucent = -1;
    for (int i = 0; i < t->n; i++) {
        const uint8_t *c = (const uint8_t *)&t->colors[i];
        pal[i].red = c[0];
        pal[i].green = c[1];
        pal[i].blue = c[2];
        alpha[i] = c[3];
        if (c[3] != 255) last_translucent = i;
    }
    png_set_PLTE(png, info, pal, t->n);
    if (last_translucent >= 0) png_set_tRNS(png, info, alpha, last_translucent + 1, NULL);
}

carve_status carve__png_encode_indexed(carve_ctx *ctx, const carve_image *img, void **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    size_t np = (size_t)img->w * (size_t)img->h;
    uint8_t *idx = malloc(np ? np : 1);
    color_table *t = calloc(1, sizeof *t);
    if (!idx || !t) {
        free(idx);
        free(t);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory encoding .png");
    }
    const uint32_t *px = (const uint32_t *)(const void *)img->px;
    for (size_t i = 0; i < np; i++) {
        int k = color_index(t, px[i]);
        if (k < 0) {
            free(idx);
            free(t);
            return carve__fail(ctx, CARVE_ERR_INTERNAL, "indexed .png: more than 256 colours");
        }
        idx[i] = (uint8_t)k;
    }
    carve__buf b;
    carve__buf_init(&b);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc((size_t)img->h * sizeof *rows);
    carve_status st = CARVE_OK;
    if (!png || !info || !rows) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory encoding .png");
        goto done;
    }
    if (setjmp(png_jmpbuf(png))) {
        st = carve__fail(ctx, CARVE_ERR_IO, "cannot encode .png (libpng error)");
        goto done;
    }
    png_set_write_fn(png, &b, write_cb, flush_cb);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    set_palette(png, info, t);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_compression_level(png, 6);
    for (int y = 0; y < img->h; y++) rows[y] = idx + (size_t)y * (size_t)img->w;
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
done:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(rows);
    free(idx);
    free(t);
    if (st) {
        carve__buf_free(&b);
        return st;
    }
    size_t len = 0;
    *out = carve__buf_take(&b, &len);
    if (!*out) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory encoding .png");
    *out_len = len;
    return CARVE_OK;
}
