/* image.c — carve_image and its decoding/encoding through libvips.
 *
 * Every input is normalised to 8-bit sRGB RGBA: EXIF orientation applied,
 * an embedded ICC profile converted to sRGB, grey/CMYK/16-bit converted,
 * alpha kept (opaque when absent).  The pixel limit is checked from the
 * header, before any pixel is decoded. */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

carve_image *carve_image_create(int w, int h) {
    if (w < 0 || h < 0) return NULL;
    if (w && (size_t)h > SIZE_MAX / 4 / (size_t)w) return NULL;
    carve_image *im = calloc(1, sizeof *im);
    if (!im) return NULL;
    size_t n = (size_t)w * (size_t)h * 4;
    im->px = calloc(n ? n : 1, 1);
    if (!im->px) {
        free(im);
        return NULL;
    }
    im->w = w;
    im->h = h;
    return im;
}

void carve_image_destroy(carve_image *im) {
    if (!im) return;
    free(im->px);
    free(im);
}

carve_image *carve_image_copy(const carve_image *src) {
    if (!src) return NULL;
    carve_image *im = carve_image_create(src->w, src->h);
    if (im) memcpy(im->px, src->px, (size_t)src->w * (size_t)src->h * 4);
    return im;
}

int carve_image_width(const carve_image *im) { return im ? im->w : 0; }
int carve_image_height(const carve_image *im) { return im ? im->h : 0; }
uint8_t *carve_image_pixels(carve_image *im) { return im ? im->px : NULL; }
const uint8_t *carve_image_pixels_const(const carve_image *im) { return im ? im->px : NULL; }

/* ---- libvips --------------------------------------------------------------- */
static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_ok;

static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer user) {
    (void)domain;
    (void)level;
    (void)msg;
    (void)user;
}

/* Decoders: libvips' "untrusted" loaders (ImageMagick, PDF, SVG, FITS, ...)
 * are blocked, then every loader, then the ones carve supports are allowed
 * again (a block on a class applies to its subclasses; later calls win).  So
 * no input, from the CLI or carved, reaches another decoder.  The SVG loader
 * (librsvg) stays available for tune's explicit vips_svgload_buffer of SVG
 * references; photo inputs never reach it, because carve_image_load* only
 * hand libvips what carve__sniff_image recognised as one of the six photo
 * formats. */
static const char *const allowed_loaders[] = {"VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp",
                                              "VipsForeignLoadTiff", "VipsForeignLoadNsgif", "VipsForeignLoadGif",
                                              "VipsForeignLoadHeif", "VipsForeignLoadSvg"};

static void allow_list_loaders(void) {
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (size_t i = 0; i < sizeof allowed_loaders / sizeof allowed_loaders[0]; i++)
        vips_operation_block_set(allowed_loaders[i], FALSE);
}

static void do_vips_init(void) {
    vips_ok = VIPS_INIT("carve") == 0;
    if (vips_ok) {
        /* libvips' own warnings ("error in tile ...") duplicate the errors
         * carve reports with the file name; keep stderr clean. */
        g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_log, NULL);
        /* carve runs its own threads; keep libvips' pool and caches small and
         * predictable (also keeps leak checkers quiet). */
        vips_cache_set_max(0);
        vips_concurrency_set(1);
        allow_list_loaders();
    }
}

carve_status carve__vips_init(carve_ctx *ctx) {
    pthread_once(&vips_once, do_vips_init);
    if (!vips_ok) return carve__fail(ctx, CARVE_ERR_INTERNAL, "cannot initialise libvips: %s", vips_error_buffer());
    return CARVE_OK;
}

/* libvips keeps its error text in ONE process-wide buffer, written by any
 * thread (its own workers too), so the text after a failure may be another
 * call's.  carve's messages therefore say what failed in its own words
 * ("corrupt or truncated JPEG data"); libvips' detail is appended only when
 * this call was the only libvips call in flight from start to failure (the
 * CLI, a quiet server).  Calls are tracked with a counter and an epoch. */
static pthread_mutex_t vips_err_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int vips_inflight;
static atomic_uint vips_epoch;

void carve__vips_call_begin(carve__vips_call *vc) {
    int before = atomic_fetch_add(&vips_inflight, 1);
    vc->epoch = atomic_fetch_add(&vips_epoch, 1) + 1;
    vc->alone = before == 0;
    if (vc->alone) { /* stale text of an earlier, unread failure */
        pthread_mutex_lock(&vips_err_mu);
        vips_error_clear();
        pthread_mutex_unlock(&vips_err_mu);
    }
}

void carve__vips_call_end(carve__vips_call *vc) {
    (void)vc;
    atomic_fetch_sub(&vips_inflight, 1);
}

void carve__vips_call_detail(carve__vips_call *vc, char *out, size_t n) {
    out[0] = 0;
    pthread_mutex_lock(&vips_err_mu);
    bool mine = vc->alone && atomic_load(&vips_inflight) == 1 && atomic_load(&vips_epoch) == vc->epoch;
    const char *e = vips_error_buffer();
    if (mine && e && *e) {
        snprintf(out, n, " (libvips: %s", e);
        char *nl = strchr(out, '\n'); /* first line only */
        if (nl) *nl = 0;
        size_t l = strlen(out);
        if (l + 2 <= n) memcpy(out + l, ")", 2);
    }
    vips_error_clear();
    pthread_mutex_unlock(&vips_err_mu);
}

static const char *format_name(const char *mime) {
    if (!mime) return "image";
    if (!strcmp(mime, "image/jpeg")) return "JPEG";
    if (!strcmp(mime, "image/png")) return "PNG";
    if (!strcmp(mime, "image/gif")) return "GIF";
    if (!strcmp(mime, "image/webp")) return "WebP";
    if (!strcmp(mime, "image/tiff")) return "TIFF";
    return "HEIF/AVIF";
}

/* "corrupt or truncated JPEG data (libvips: ...)" */
static carve_status decode_fail(carve_ctx *ctx, carve__vips_call *vc, const char *name, const char *mime,
                                const char *what) {
    char detail[400];
    carve__vips_call_detail(vc, detail, sizeof detail);
    return carve__fail(ctx, CARVE_ERR_DECODE, "cannot decode '%s': %s %s data%s", name, what, format_name(mime),
                       detail);
}

static const char *supported = "JPEG, PNG, WebP, HEIC/HEIF, TIFF or GIF";

/* Takes ownership of *in (unrefs it) and produces 8-bit sRGB RGBA pixels. */
static carve_status normalise(carve_ctx *ctx, carve__vips_call *vc, VipsImage *in, const char *name, const char *mime,
                              carve_image **out) {
    VipsImage *t[8] = {0};
    VipsImage *cur = in;
    char msg[512];
    carve_status st = CARVE_OK;
    int k = 0;

    int64_t maxpx = carve__opt_int(ctx, CARVE_OPTID_max_pixels);
    int64_t npx = (int64_t)vips_image_get_width(cur) * vips_image_get_height(cur);
    if (npx > maxpx) {
        st = carve__fail(ctx, CARVE_ERR_TOO_LARGE, "'%s' is %dx%d = %lld pixels, over the limit of %lld (option max_pixels)",
                         name, vips_image_get_width(cur), vips_image_get_height(cur), (long long)npx, (long long)maxpx);
        goto done;
    }
    if (npx == 0) {
        st = carve__fail(ctx, CARVE_ERR_EMPTY, "'%s' has no pixels", name);
        goto done;
    }
    if (vips_autorot(cur, &t[k], NULL)) goto vips_fail;
    cur = t[k++];

    if (vips_image_get_typeof(cur, VIPS_META_ICC_NAME)) {
        if (vips_icc_transform(cur, &t[k], "srgb", "embedded", TRUE, "depth", 8, NULL) == 0) {
            cur = t[k++];
        } else {
            carve__vips_call_detail(vc, msg, sizeof msg);
            carve__log(ctx, CARVE_LOG_WARN, "'%s': ignoring an unusable ICC profile%s", name, msg);
        }
    }
    if (vips_image_get_interpretation(cur) != VIPS_INTERPRETATION_sRGB ||
        vips_image_get_format(cur) != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(cur, &t[k], VIPS_INTERPRETATION_sRGB, NULL)) goto vips_fail;
        cur = t[k++];
    }
    if (vips_image_get_format(cur) != VIPS_FORMAT_UCHAR) {
        if (vips_cast_uchar(cur, &t[k], NULL)) goto vips_fail;
        cur = t[k++];
    }
    int bands = vips_image_get_bands(cur);
    if (bands == 1 || bands == 2) { /* grey that colourspace left alone */
        VipsImage *g = cur;
        VipsImage *rgb;
        VipsImage *parts[4];
        if (bands == 1) {
            parts[0] = parts[1] = parts[2] = g;
            if (vips_bandjoin(parts, &rgb, 3, NULL)) goto vips_fail;
        } else {
            VipsImage *y, *a;
            if (vips_extract_band(g, &y, 0, NULL)) goto vips_fail;
            if (vips_extract_band(g, &a, 1, NULL)) { g_object_unref(y); goto vips_fail; }
            parts[0] = parts[1] = parts[2] = y;
            parts[3] = a;
            int r = vips_bandjoin(parts, &rgb, 4, NULL);
            g_object_unref(y);
            g_object_unref(a);
            if (r) goto vips_fail;
        }
        t[k++] = rgb;
        cur = rgb;
        bands = vips_image_get_bands(cur);
    }
    if (bands > 4) {
        if (vips_extract_band(cur, &t[k], 0, "n", 4, NULL)) goto vips_fail;
        cur = t[k++];
    } else if (bands == 3) {
        if (vips_bandjoin_const1(cur, &t[k], 255.0, NULL)) goto vips_fail;
        cur = t[k++];
    }
    if (vips_image_get_bands(cur) != 4) {
        st = carve__fail(ctx, CARVE_ERR_UNSUPPORTED, "'%s': cannot convert %d bands to RGBA", name,
                         vips_image_get_bands(cur));
        goto done;
    }
    /* decode straight into the carve_image's own buffer: no second copy of
     * the pixels (a 12 Mpx photo is 48 MB) */
    int w = vips_image_get_width(cur), h = vips_image_get_height(cur);
    carve_image *im = carve_image_create(w, h);
    if (!im) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "'%s': out of memory for %dx%d pixels", name, w, h);
        goto done;
    }
    VipsImage *dst = vips_image_new_from_memory(im->px, (size_t)w * (size_t)h * 4, w, h, 4, VIPS_FORMAT_UCHAR);
    if (!dst || vips_image_write(cur, dst)) {
        if (dst) g_object_unref(dst);
        carve_image_destroy(im);
        goto vips_fail;
    }
    g_object_unref(dst);
    *out = im;
    goto done;

vips_fail:
    st = decode_fail(ctx, vc, name, mime, "corrupt or truncated");
done:
    for (int i = k - 1; i >= 0; i--) g_object_unref(t[i]);
    g_object_unref(in);
    return st;
}

/* The first bytes of a file, for sniffing. */
static size_t read_head(const char *path, unsigned char *buf, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got;
}

#define SNIFF_BYTES 256

carve_status carve_image_load(carve_ctx *ctx, const char *path, carve_image **out) {
    if (out) *out = NULL;
    if (!ctx || !path || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_image_load: NULL argument");
    if (!strcmp(path, "-")) {
        char *data;
        size_t len;
        carve_status st = carve__read_file(ctx, path, 0, &data, &len);
        if (st) return st;
        st = carve_image_load_memory(ctx, data, len, "standard input", out);
        free(data);
        return st;
    }
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    struct stat sb;
    if (stat(path, &sb)) return carve__fail(ctx, CARVE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return carve__fail(ctx, CARVE_ERR_IO, "cannot read '%s': is a folder", path);
    if (sb.st_size == 0) return carve__fail(ctx, CARVE_ERR_DECODE, "cannot decode '%s': the file is empty", path);
    FILE *f = fopen(path, "rb");
    if (!f) return carve__fail(ctx, CARVE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    fclose(f);
    unsigned char head[SNIFF_BYTES];
    const char *mime = carve__sniff_image(head, read_head(path, head, sizeof head));
    carve__vips_call vc;
    carve__vips_call_begin(&vc);
    const char *loader = mime ? vips_foreign_find_load(path) : NULL;
    if (!loader) {
        char detail[8];
        carve__vips_call_detail(&vc, detail, sizeof detail);
        carve__vips_call_end(&vc);
        return carve__fail(ctx, CARVE_ERR_UNSUPPORTED, "'%s' is not a %s image", path, supported);
    }
    VipsImage *im = vips_image_new_from_file(path, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    st = im ? normalise(ctx, &vc, im, path, mime, out) : decode_fail(ctx, &vc, path, mime, "unreadable header in the");
    carve__vips_call_end(&vc);
    return st;
}

carve_status carve_image_load_memory(carve_ctx *ctx, const void *data, size_t len, const char *name, carve_image **out) {
    if (out) *out = NULL;
    if (!name) name = "image";
    if (!ctx || !out || (!data && len))
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_image_load_memory: NULL argument");
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    if (len == 0) return carve__fail(ctx, CARVE_ERR_DECODE, "cannot decode '%s': it is empty", name);
    const char *mime = carve__sniff_image(data, len);
    carve__vips_call vc;
    carve__vips_call_begin(&vc);
    const char *loader = mime ? vips_foreign_find_load_buffer(data, len) : NULL;
    if (!loader) {
        char detail[8];
        carve__vips_call_detail(&vc, detail, sizeof detail);
        carve__vips_call_end(&vc);
        return carve__fail(ctx, CARVE_ERR_UNSUPPORTED, "'%s' is not a %s image", name, supported);
    }
    VipsImage *im = vips_image_new_from_buffer(data, len, "", "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    st = im ? normalise(ctx, &vc, im, name, mime, out) : decode_fail(ctx, &vc, name, mime, "unreadable header in the");
    carve__vips_call_end(&vc);
    return st;
}

carve_status carve__image_probe(carve_ctx *ctx, const void *data, size_t len, const char *name, int *w, int *h) {
    *w = *h = 0;
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    const char *mime = carve__sniff_image(data, len);
    carve__vips_call vc;
    carve__vips_call_begin(&vc);
    VipsImage *hdr = mime && vips_foreign_find_load_buffer(data, len) ? vips_image_new_from_buffer(data, len, "", NULL)
                                                                      : NULL;
    if (!mime) st = carve__fail(ctx, CARVE_ERR_UNSUPPORTED, "'%s' is not a %s image", name, supported);
    else if (!hdr) st = decode_fail(ctx, &vc, name, mime, "unreadable header in the");
    else {
        *w = vips_image_get_width(hdr);
        *h = vips_image_get_height(hdr);
        g_object_unref(hdr);
    }
    if (!hdr) {
        char detail[8];
        carve__vips_call_detail(&vc, detail, sizeof detail); /* clears */
    }
    carve__vips_call_end(&vc);
    vips_thread_shutdown();
    return st;
}

carve_status carve_image_probe(carve_ctx *ctx, const void *data, size_t len, const char *name, int *width,
                               int *height) {
    if (!width || !height) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no width or height to fill");
    *width = *height = 0;
    if (!data && len) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no data");
    return carve__image_probe(ctx, data ? data : "", len, name ? name : "image", width, height);
}

const char *carve_image_sniff(const void *data, size_t len) { return data ? carve__sniff_image(data, len) : NULL; }

void carve_thread_cleanup(void) {
    pthread_once(&vips_once, do_vips_init); /* libvips crashes on a thread shutdown before its init */
    if (vips_ok) vips_thread_shutdown();
}

/* Counts distinct RGBA values up to limit+1 (open addressing). */
static int count_colors(const carve_image *img, int limit) {
    enum { CAP = 1024 };
    uint32_t keys[CAP];
    bool used[CAP];
    memset(used, 0, sizeof used);
    int n = 0;
    size_t np = (size_t)img->w * (size_t)img->h;
    const uint32_t *px = (const uint32_t *)(const void *)img->px;
    for (size_t i = 0; i < np; i++) {
        uint32_t v = px[i];
        uint32_t h = (v * 2654435761u) >> 22; /* 10 bits */
        while (used[h] && keys[h] != v) h = (h + 1) & (CAP - 1);
        if (!used[h]) {
            if (++n > limit) return n;
            used[h] = true;
            keys[h] = v;
        }
    }
    return n;
}

static const char *suffix_of(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    return (dot && (!slash || dot > slash)) ? dot : NULL;
}

static carve_status encode(carve_ctx *ctx, carve__vips_call *vc, const carve_image *img, const char *fmt, void **out,
                           size_t *out_len) {
    VipsImage *v = vips_image_new_from_memory(img->px, (size_t)img->w * img->h * 4, img->w, img->h, 4, VIPS_FORMAT_UCHAR);
    if (!v) goto vfail;
    v->Type = VIPS_INTERPRETATION_sRGB;
    void *buf = NULL;
    size_t len = 0;
    int r;
    if (!strcmp(fmt, ".png")) {
        r = vips_pngsave_buffer(v, &buf, &len, NULL); /* > 256 colours: truecolour */
    } else if (!strcmp(fmt, ".jpg") || !strcmp(fmt, ".jpeg")) {
        VipsImage *flat;
        double white[3] = {255, 255, 255};
        VipsArrayDouble *bg = vips_array_double_new(white, 3);
        r = vips_flatten(v, &flat, "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (!r) {
            r = vips_jpegsave_buffer(flat, &buf, &len, "Q", 92, NULL);
            g_object_unref(flat);
        }
    } else if (!strcmp(fmt, ".webp")) {
        r = vips_webpsave_buffer(v, &buf, &len, "lossless", TRUE, NULL);
    } else if (!strcmp(fmt, ".tif") || !strcmp(fmt, ".tiff")) {
        r = vips_tiffsave_buffer(v, &buf, &len, "compression", VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE, NULL);
    } else if (!strcmp(fmt, ".gif")) {
        r = vips_gifsave_buffer(v, &buf, &len, NULL);
    } else {
        g_object_unref(v);
        return carve__fail(ctx, CARVE_ERR_UNSUPPORTED, "cannot write '%s' images (use .png, .jpg, .webp, .tif or .gif)",
                           fmt);
    }
    g_object_unref(v);
    if (r) goto vfail;
    *out = malloc(len ? len : 1);
    if (!*out) {
        g_free(buf);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory encoding %s", fmt);
    }
    memcpy(*out, buf, len);
    g_free(buf);
    *out_len = len;
    return CARVE_OK;
vfail: {
    char msg[512];
    carve__vips_call_detail(vc, msg, sizeof msg);
    return carve__fail(ctx, CARVE_ERR_IO, "cannot encode %s%s", fmt, msg);
}
}

carve_status carve_image_save_memory(carve_ctx *ctx, const carve_image *img, const char *format, void **out,
                                     size_t *out_len) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!ctx || !img || !format || !out || !out_len)
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_image_save_memory: NULL argument");
    if (img->w == 0 || img->h == 0) return carve__fail(ctx, CARVE_ERR_EMPTY, "cannot encode an empty image");
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    char fmt[16];
    snprintf(fmt, sizeof fmt, "%s", format);
    for (char *p = fmt; *p; p++) *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    if (!strcmp(fmt, ".png") && count_colors(img, 256) <= 256) return carve__png_encode_indexed(ctx, img, out, out_len);
    carve__vips_call vc;
    carve__vips_call_begin(&vc);
    st = encode(ctx, &vc, img, fmt, out, out_len);
    carve__vips_call_end(&vc);
    return st;
}

carve_status carve_image_save(carve_ctx *ctx, const carve_image *img, const char *path) {
    if (!ctx || !img || !path) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_image_save: NULL argument");
    const char *suf = strcmp(path, "-") ? suffix_of(path) : ".png";
    if (!suf)
        return carve__fail(ctx, CARVE_ERR_UNSUPPORTED, "'%s': no file suffix to choose a format (.png, .jpg, ...)", path);
    void *data;
    size_t len;
    carve_status st = carve_image_save_memory(ctx, img, suf, &data, &len);
    if (st) {
        carve__errprefix(ctx, "'%s'", path);
        return st;
    }
    st = carve_write_file(ctx, path, data, len);
    free(data);
    return st;
}

/* ---- crops, planes and rotation (resampling is resample.c) ------------- */

carve_image *carve__crop(const carve_image *in, int x, int y, int w, int h) {
    if (!in) return NULL;
    int x0 = carve__clampi(x, 0, in->w), y0 = carve__clampi(y, 0, in->h);
    int x1 = carve__clampi(x + w, 0, in->w), y1 = carve__clampi(y + h, 0, in->h);
    if (x1 <= x0 || y1 <= y0) return NULL;
    carve_image *im = carve_image_create(x1 - x0, y1 - y0);
    if (!im) return NULL;
    for (int r = y0; r < y1; r++)
        memcpy(im->px + 4 * (size_t)(r - y0) * im->w, in->px + 4 * ((size_t)r * in->w + x0), 4 * (size_t)im->w);
    return im;
}

void carve__image_plane(const carve_image *img, int ch, int x, int y, int w, int h, float *dst) {
    for (int r = 0; r < h; r++) {
        const uint8_t *p = img->px + 4 * ((size_t)(y + r) * (size_t)img->w + (size_t)x);
        float *o = dst + (size_t)r * (size_t)w;
        for (int c = 0; c < w; c++) o[c] = p[4 * c + ch];
    }
}

void carve__image_alpha(const carve_image *img, uint8_t *out) {
    size_t n = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < n; i++) out[i] = img->px[4 * i + 3];
}

void carve__rotate_size(int w, int h, double deg, int *ow, int *oh) {
    double a = deg * M_PI / 180.0, c = fabs(cos(a)), s = fabs(sin(a));
    *ow = (int)ceil(w * c + h * s - 1e-9);
    *oh = (int)ceil(w * s + h * c - 1e-9);
    if (*ow < 1) *ow = 1;
    if (*oh < 1) *oh = 1;
}

void carve__rotate_map(int w, int h, double deg, int sign, double x, double y, double *ox, double *oy) {
    int rw, rh;
    carve__rotate_size(w, h, deg, &rw, &rh);
    double a = deg * M_PI / 180.0, c = cos(a), s = sin(a);
    if (sign >= 0) { /* screen y points down: counter-clockwise is (c, s; -s, c) */
        double dx = x - 0.5 * w, dy = y - 0.5 * h;
        *ox = c * dx + s * dy + 0.5 * rw;
        *oy = -s * dx + c * dy + 0.5 * rh;
    } else {
        double dx = x - 0.5 * rw, dy = y - 0.5 * rh;
        *ox = c * dx - s * dy + 0.5 * w;
        *oy = s * dx + c * dy + 0.5 * h;
    }
}

carve_status carve__rotate(carve_ctx *ctx, const carve_image *in, double deg, carve_image **out) {
    *out = NULL;
    if (!in || in->w <= 0 || in->h <= 0 || !isfinite(deg))
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "rotate: empty image or bad angle");
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    int rw, rh;
    carve__rotate_size(in->w, in->h, deg, &rw, &rh);
    double a = deg * M_PI / 180.0, c = cos(a), s = sin(a);
    /* output = M (input - centre) + output centre, with pixel centres at +0.5 */
    double odx = 0.5 * rw - (c * 0.5 * in->w + s * 0.5 * in->h);
    double ody = 0.5 * rh - (-s * 0.5 * in->w + c * 0.5 * in->h);
    size_t np = (size_t)in->w * in->h;
    VipsImage *src = vips_image_new_from_memory(in->px, np * 4, in->w, in->h, 4, VIPS_FORMAT_UCHAR), *rot = NULL;
    VipsArrayInt *area = vips_array_int_newv(4, 0, 0, rw, rh);
    VipsInterpolate *bil = vips_interpolate_new("bilinear");
    int err = !src || !area || !bil ||
              vips_affine(src, &rot, c, s, -s, c, "oarea", area, "odx", odx - 0.5, "ody", ody - 0.5, "idx", 0.5, "idy", 0.5,
                          "interpolate", bil, "extend", VIPS_EXTEND_COPY, NULL);
    /* pixel i's centre is at i + 0.5 on both sides: idx/idy move the input's
     * centres there, odx/ody - 0.5 move the output's back to integers */
    size_t sz = 0;
    void *mem = err ? NULL : vips_image_write_to_memory(rot, &sz);
    if (mem && sz == (size_t)rw * rh * 4) {
        carve_image *im = carve_image_create(rw, rh);
        if (im) memcpy(im->px, mem, sz);
        else st = carve__fail(ctx, CARVE_ERR_NOMEM, "rotate: out of memory");
        *out = im;
    } else {
        const char *e = vips_error_buffer();
        st = carve__fail(ctx, CARVE_ERR_BACKEND, "rotate %dx%d by %.1f deg: %s", in->w, in->h, deg,
                         e && *e ? e : "unexpected result");
        vips_error_clear();
    }
    g_free(mem);
    if (rot) g_object_unref(rot);
    if (src) g_object_unref(src);
    if (bil) g_object_unref(bil);
    if (area) vips_area_unref(VIPS_AREA(area));
    return st;
}
