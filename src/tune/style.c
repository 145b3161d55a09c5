/* style.c — the style distance between a render and a reference
 * illustration (docs/tune.md), and SVG rasterising through libvips/librsvg. */
#include "tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

/* weights of the terms (docs/tune.md) */
#define W_PIXEL 1.0
#define W_PALETTE 0.5
#define W_REGIONS 0.25
#define W_EDGES 0.25
#define W_COUNT 0.25
#define DE_NORM 10.0            /* a mean CIEDE2000 of 10 counts 1 */
#define BIN_BITS 4              /* colour bins: 4 bits per channel */
#define NBINS (1 << (3 * BIN_BITS))
#define PALETTE_MIN_SHARE 0.01  /* a bin is a palette colour from 1 % of the pixels */
#define REGION_MIN_SHARE 0.0002 /* regions under 0.02 % of the pixels are antialiasing */
#define REGION_MIN_PX 4
#define EDGE_DE 8.0             /* neighbours this far apart (Lab distance) are an edge */
#define EDGE_EPS 1e-3
#define DE_CACHE 8192
#define ALPHA_OPAQUE 128

typedef struct pal_entry { double lab[3]; double share; } pal_entry;

typedef struct side {
    uint8_t *rgb;      /* composited over white, 3 per pixel */
    uint16_t *bin;     /* colour bin, or VOID outside the mask */
    pal_entry pal[NBINS / 16];
    int npal;
    double regions;    /* regions per 1000 mask pixels */
    double edges;      /* edge pixel fraction */
} side;

typedef struct de_cache { uint64_t key[DE_CACHE]; float val[DE_CACHE]; } de_cache;

static double de_pair(de_cache *c, const uint8_t *a, const uint8_t *b) {
    uint64_t ka = ((uint64_t)a[0] << 16) | ((uint64_t)a[1] << 8) | a[2];
    uint64_t kb = ((uint64_t)b[0] << 16) | ((uint64_t)b[1] << 8) | b[2];
    if (ka == kb) return 0;
    uint64_t key = (ka << 24 | kb) + 1;
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 51) % DE_CACHE;
    if (c->key[h] == key) return c->val[h];
    double la[3], lb[3];
    carve__rgb8_to_lab(a[0], a[1], a[2], la);
    carve__rgb8_to_lab(b[0], b[1], b[2], lb);
    double d = carve_ciede2000(la, lb);
    c->key[h] = key;
    c->val[h] = (float)d;
    return (float)d;
}

static uint16_t bin_of(const uint8_t *p) {
    int s = 8 - BIN_BITS;
    return (uint16_t)(((p[0] >> s) << (2 * BIN_BITS)) | ((p[1] >> s) << BIN_BITS) | (p[2] >> s));
}

/* Composites over white; bins inside the mask. */
static void fill_side(const carve_image *im, const uint8_t *mask, side *s) {
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = im->px + 4 * i;
        int a = p[3];
        for (int c = 0; c < 3; c++) s->rgb[3 * i + c] = (uint8_t)((p[c] * a + 255 * (255 - a) + 127) / 255);
        s->bin[i] = mask[i] ? bin_of(s->rgb + 3 * i) : CARVE__LABEL_VOID;
    }
}

/* Palette: bins holding at least PALETTE_MIN_SHARE of the mask, as mean Lab. */
static carve_status palette_of(const side *s, size_t n, size_t nmask, side *out) {
    double (*sum)[4] = calloc(NBINS, sizeof *sum);
    if (!sum) return CARVE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s->bin[i] == CARVE__LABEL_VOID) continue;
        double *e = sum[s->bin[i]];
        for (int c = 0; c < 3; c++) e[c] += s->rgb[3 * i + c];
        e[3] += 1;
    }
    int np = 0;
    int cap = (int)(sizeof out->pal / sizeof out->pal[0]);
    for (int b = 0; b < NBINS && np < cap; b++) {
        double share = sum[b][3] / (double)nmask;
        if (share < PALETTE_MIN_SHARE) continue;
        uint8_t r = (uint8_t)lround(sum[b][0] / sum[b][3]), g = (uint8_t)lround(sum[b][1] / sum[b][3]),
                bl = (uint8_t)lround(sum[b][2] / sum[b][3]);
        carve__rgb8_to_lab(r, g, bl, out->pal[np].lab);
        out->pal[np++].share = share;
    }
    out->npal = np;
    free(sum);
    return CARVE_OK;
}

/* Share-weighted mean distance from each colour of a to its nearest in b. */
static double chamfer(const side *a, const side *b) {
    double sum = 0, w = 0;
    for (int i = 0; i < a->npal; i++) {
        double best = 1e9;
        for (int j = 0; j < b->npal; j++) {
            double d = carve_ciede2000(a->pal[i].lab, b->pal[j].lab);
            if (d < best) best = d;
        }
        if (b->npal == 0) best = 0;
        sum += a->pal[i].share * best;
        w += a->pal[i].share;
    }
    return w > 0 ? sum / w : 0;
}

static carve_status shape_of(side *s, int w, int h, size_t nmask) {
    int32_t *reg = NULL;
    int64_t *area = NULL;
    int32_t nr = carve__components(s->bin, w, h, &reg, &area);
    if (nr < 0) return CARVE_ERR_NOMEM;
    int64_t min_area = (int64_t)(REGION_MIN_SHARE * (double)nmask);
    if (min_area < REGION_MIN_PX) min_area = REGION_MIN_PX;
    int64_t big = 0;
    for (int32_t r = 0; r < nr; r++) big += area[r] >= min_area;
    free(reg);
    free(area);
    s->regions = 1000.0 * (double)big / (double)(nmask ? nmask : 1);
    int64_t edges = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (s->bin[i] == CARVE__LABEL_VOID) continue;
            const uint8_t *p = s->rgb + 3 * i;
            for (int k = 0; k < 2; k++) {
                size_t j = k ? i + (size_t)w : i + 1;
                if ((k ? y + 1 >= h : x + 1 >= w) || s->bin[j] == CARVE__LABEL_VOID) continue;
                const uint8_t *q = s->rgb + 3 * j;
                if (p[0] == q[0] && p[1] == q[1] && p[2] == q[2]) continue;
                double la[3], lb[3];
                carve__rgb8_to_lab(p[0], p[1], p[2], la);
                carve__rgb8_to_lab(q[0], q[1], q[2], lb);
                double d2 = 0;
                for (int c = 0; c < 3; c++) d2 += (la[c] - lb[c]) * (la[c] - lb[c]);
                if (d2 > EDGE_DE * EDGE_DE) { edges++; break; }
            }
        }
    s->edges = (double)edges / (double)(nmask ? nmask : 1);
    return CARVE_OK;
}

static double log_ratio(double a, double b, double eps) { return fabs(log((a + eps) / (b + eps))); }

static carve_status measure(carve_ctx *ctx, const carve_image *render, const carve_image *ref, double *dist,
                            char **details, side *sr, side *sf, uint8_t *mask) {
    size_t n = (size_t)ref->w * ref->h, nmask = 0;
    bool ref_alpha = false;
    for (size_t i = 0; i < n && !ref_alpha; i++) ref_alpha = ref->px[4 * i + 3] < ALPHA_OPAQUE;
    for (size_t i = 0; i < n; i++) nmask += (mask[i] = !ref_alpha || ref->px[4 * i + 3] >= ALPHA_OPAQUE);
    if (!nmask) return carve__fail(ctx, CARVE_ERR_EMPTY, "style distance: the reference is fully transparent");
    fill_side(render, mask, sr);
    fill_side(ref, mask, sf);
    de_cache *cache = calloc(1, sizeof *cache);
    if (!cache) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) sum += de_pair(cache, sr->rgb + 3 * i, sf->rgb + 3 * i);
    free(cache);
    double pixel = sum / (double)nmask;
    if (palette_of(sr, n, nmask, sr) || palette_of(sf, n, nmask, sf) || shape_of(sr, ref->w, ref->h, nmask) ||
        shape_of(sf, ref->w, ref->h, nmask))
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    double palette = 0.5 * (chamfer(sr, sf) + chamfer(sf, sr));
    double t_pixel = pixel / DE_NORM, t_pal = palette / DE_NORM;
    double t_reg = log_ratio(sr->regions, sf->regions, 0.01), t_edge = log_ratio(sr->edges, sf->edges, EDGE_EPS);
    double t_count = log_ratio(sr->npal, sf->npal, 1);
    *dist = W_PIXEL * t_pixel + W_PALETTE * t_pal + W_REGIONS * t_reg + W_EDGES * t_edge + W_COUNT * t_count;
    if (details) {
        carve__buf b;
        carve__buf_init(&b);
        carve__buf_printf(&b,
                          "{\"distance\":%.6f,\"mean_de00\":%.4f,\"palette_de00\":%.4f,\"colors\":[%d,%d],"
                          "\"regions_per_kpx\":[%.4f,%.4f],\"edge_fraction\":[%.5f,%.5f],\"subject_pixels\":%zu,"
                          "\"reference_has_alpha\":%s}",
                          *dist, pixel, palette, sr->npal, sf->npal, sr->regions, sf->regions, sr->edges, sf->edges,
                          nmask, ref_alpha ? "true" : "false");
        *details = carve__buf_take(&b, NULL);
        if (!*details) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    return CARVE_OK;
}

carve_status carve_style_distance(carve_ctx *ctx, const carve_image *render, const carve_image *ref, double *dist,
                                  char **details) {
    if (details) *details = NULL;
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!render || !ref || !dist) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "style distance: NULL argument");
    if (render->w != ref->w || render->h != ref->h || ref->w <= 0 || ref->h <= 0)
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "style distance: the render is %dx%d, the reference %dx%d",
                           render->w, render->h, ref->w, ref->h);
    size_t n = (size_t)ref->w * ref->h;
    side sr, sf;
    memset(&sr, 0, sizeof sr);
    memset(&sf, 0, sizeof sf);
    sr.rgb = malloc(3 * n);
    sf.rgb = malloc(3 * n);
    sr.bin = malloc(2 * n);
    sf.bin = malloc(2 * n);
    uint8_t *mask = malloc(n);
    carve_status st = (sr.rgb && sf.rgb && sr.bin && sf.bin && mask)
                          ? measure(ctx, render, ref, dist, details, &sr, &sf, mask)
                          : carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    free(sr.rgb);
    free(sf.rgb);
    free(sr.bin);
    free(sf.bin);
    free(mask);
    return st;
}

/* ---- SVG rasterising ------------------------------------------------------ */
static carve_status vips_to_image(carve_ctx *ctx, VipsImage *im, const char *name, carve_image **out) {
    VipsImage *rgba = NULL;
    int bands = vips_image_get_bands(im);
    if (bands == 4) {
        rgba = im;
        g_object_ref(rgba);
    } else if (vips_bandjoin_const1(im, &rgba, 255.0, NULL)) {
        vips_error_clear();
        return carve__fail(ctx, CARVE_ERR_DECODE, "cannot render '%s'", name);
    }
    size_t sz = 0;
    void *mem = vips_image_write_to_memory(rgba, &sz);
    int w = vips_image_get_width(rgba), h = vips_image_get_height(rgba);
    g_object_unref(rgba);
    if (!mem) {
        vips_error_clear();
        return carve__fail(ctx, CARVE_ERR_DECODE, "cannot render '%s': invalid SVG", name);
    }
    carve_image *img = carve_image_create(w, h);
    if (!img || sz != (size_t)w * h * 4) {
        g_free(mem);
        carve_image_destroy(img);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory rendering '%s'", name);
    }
    memcpy(img->px, mem, sz);
    g_free(mem);
    *out = img;
    return CARVE_OK;
}

carve_status carve_image_from_svg(carve_ctx *ctx, const char *svg, size_t len, const char *name, int width, int height,
                                  carve_image **out) {
    if (out) *out = NULL;
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!name) name = "svg";
    if (!svg || !out || width < 0 || height < 0 || (width == 0) != (height == 0))
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_image_from_svg: bad argument");
    carve_status st = carve__vips_init(ctx);
    if (st) return st;
    VipsImage *probe = NULL;
    if (vips_svgload_buffer((void *)svg, len, &probe, NULL)) {
        vips_error_clear();
        return carve__fail(ctx, CARVE_ERR_DECODE, "cannot render '%s': not a valid SVG", name);
    }
    int w0 = vips_image_get_width(probe), h0 = vips_image_get_height(probe);
    g_object_unref(probe);
    if (w0 <= 0 || h0 <= 0) return carve__fail(ctx, CARVE_ERR_DECODE, "cannot render '%s': empty drawing", name);
    if (width == 0) width = w0, height = h0;
    double scale = fmax((double)width / w0, (double)height / h0);
    VipsImage *im = NULL;
    if (vips_svgload_buffer((void *)svg, len, &im, "scale", scale, "unlimited", TRUE, NULL)) {
        vips_error_clear();
        return carve__fail(ctx, CARVE_ERR_DECODE, "cannot render '%s'", name);
    }
    carve_image *raw = NULL;
    st = vips_to_image(ctx, im, name, &raw);
    g_object_unref(im);
    if (st) return st;
    if (raw->w == width && raw->h == height) {
        *out = raw;
        return CARVE_OK;
    }
    st = carve__resize(ctx, raw, width, height, CARVE_KERNEL_LANCZOS3, out);
    carve_image_destroy(raw);
    return st;
}
