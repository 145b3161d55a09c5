/* test_vector.c — carve_trace: shared-boundary topology, coverage with the
 * gap filler, partition (no overlap), palette-exact fills, well-formed XML,
 * determinism across thread counts, options, bad input, cancellation and a
 * randomized sweep (CARVE_FUZZ_N images, default 1000).
 *
 * Every SVG is rendered with librsvg/cairo at the input's exact size (an
 * antialiasing renderer, as users see it). */
#include "test_render.h"
#include "test_util.h"
#include "core.h"

#include <stdarg.h>
#include <time.h>

/* ---- helpers --------------------------------------------------------------- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* image from a label map: label < 0 is transparent */
static carve_image *img_from_labels(const int *lab, int w, int h, const uint32_t *pal) {
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    for (int i = 0; i < w * h; i++) {
        if (lab[i] < 0) {
            p[4 * i] = p[4 * i + 1] = p[4 * i + 2] = 0x55; /* colour under alpha 0 must not matter */
            p[4 * i + 3] = (uint8_t)(rnd() % 128);
            continue;
        }
        uint32_t c = pal[lab[i]];
        p[4 * i] = (uint8_t)(c >> 16);
        p[4 * i + 1] = (uint8_t)(c >> 8);
        p[4 * i + 2] = (uint8_t)c;
        p[4 * i + 3] = (uint8_t)(128 + rnd() % 128);
    }
    return im;
}

__attribute__((noinline)) static char *trace(carve_ctx *ctx, const carve_image *im, size_t *len, carve_status *st_out) {
    char *svg = NULL;
    size_t l = 0;
    carve_status st = carve_trace(ctx, im, &svg, &l);
    if (st_out) *st_out = st;
    if (len) *len = l;
    return svg;
}

static inline int A(uint32_t p) { return (int)(p >> 24); }
static inline uint32_t RGB(uint32_t p) { return p & 0xffffff; } /* exact when alpha is 255 */

/* trace() that must succeed (a counted check) */
static char *trace_ok(carve_ctx *ctx, const carve_image *im, size_t *len) {
    carve_status st;
    char *svg = trace(ctx, im, len, &st);
    CHECK_ST(st, CARVE_OK);
    return svg;
}

/* svg rendered at w x h covers every pixel (alpha >= 250): no seam */
static void check_covered(const char *svg, size_t len, int w, int h, const char *what) {
    uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
    int low = 0;
    for (int i = 0; px && i < w * h; i++) low += A(px[i]) < 250;
    CHECKF(px && low == 0, "%s: %d pixels with alpha < 250 (not covered)", what, low);
    free(px);
}

/* whether no pixel of the 3x3 around (x, y) is transparent (label < 0) */
static bool interior(const int *lab, int w, int h, int x, int y) {
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx, yy = y + dy;
            if (xx >= 0 && yy >= 0 && xx < w && yy < h && lab[yy * w + xx] < 0) return false;
        }
    return true;
}

/* a small XML checker for our output: balanced tags, quoted attributes */
static bool well_formed(const char *s) {
    const char *stack[64];
    size_t slen[64];
    int depth = 0, roots = 0;
    while (*s) {
        if (*s != '<') {
            if (*s == '&' || *s == '>') return false;
            s++;
            continue;
        }
        s++;
        bool close = *s == '/';
        if (close) s++;
        const char *name = s;
        while (*s && *s != ' ' && *s != '>' && *s != '/' && *s != '\n') s++;
        size_t nl = (size_t)(s - name);
        if (!nl) return false;
        if (close) {
            if (!depth || slen[depth - 1] != nl || strncmp(stack[depth - 1], name, nl)) return false;
            depth--;
            if (*s != '>') return false;
            s++;
            continue;
        }
        /* attributes */
        for (;;) {
            while (*s == ' ' || *s == '\n') s++;
            if (*s == '>' || (*s == '/' && s[1] == '>')) break;
            while (*s && *s != '=' && *s != ' ' && *s != '>') s++;
            if (*s != '=' || s[1] != '"') return false;
            s += 2;
            while (*s && *s != '"' && *s != '<') s++;
            if (*s != '"') return false;
            s++;
        }
        if (*s == '/') s += 2;
        else {
            if (depth == 64) return false;
            if (!depth) roots++;
            stack[depth] = name;
            slen[depth++] = nl;
            s++;
        }
    }
    return depth == 0 && roots == 1;
}

/* colours named in fill= / stroke= attributes; returns count, -1 on a bad one */
static int svg_colors(const char *s, uint32_t *out, int max) {
    int n = 0;
    const char *keys[2] = {"fill=\"", "stroke=\""};
    for (int k = 0; k < 2; k++) {
        const char *p = s;
        while ((p = strstr(p, keys[k]))) {
            p += strlen(keys[k]);
            if (!strncmp(p, "none\"", 5)) continue;
            const char *e = strchr(p, '"');
            uint32_t c;
            if (!e || !carve__parse_hex(p, (size_t)(e - p), &c)) return -1;
            if (n < max) out[n++] = c;
        }
    }
    return n;
}

static bool in_pal(uint32_t c, const uint32_t *pal, int n) {
    for (int i = 0; i < n; i++)
        if (pal[i] == c) return true;
    return false;
}

static int count_str(const char *s, const char *sub) {
    int n = 0;
    while ((s = strstr(s, sub))) {
        n++;
        s += strlen(sub);
    }
    return n;
}

/* fill paths: <path fill=...>, or <g fill=...><path id=...> when the
 * colour's gap stroke is a <use> of its fill path */
static int fill_paths(const char *s) { return count_str(s, "<path fill=") + count_str(s, "<g fill=\"#"); }

/* a test scene: background, disc, ring, rotated square, stripes, text-like
 * thin strokes; `holes` adds transparent areas */
static int *scene(int w, int h, bool holes) {
    int *lab = malloc(sizeof(int) * (size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double fx = x + 0.5, fy = y + 0.5;
            int l = 0;
            double dx = fx - w * 0.3, dy = fy - h * 0.45, r = sqrt(dx * dx + dy * dy);
            if (r < h * 0.3) l = 1;
            if (r < h * 0.2) l = 2;
            if (r < h * 0.1) l = 3;
            double ux = (fx - w * 0.72) * 0.8 + (fy - h * 0.5) * 0.6, uy = -(fx - w * 0.72) * 0.6 + (fy - h * 0.5) * 0.8;
            if (fabs(ux) < h * 0.18 && fabs(uy) < h * 0.12) l = 4;
            if (y > h * 0.85 && (x / 3) % 2) l = 5;
            if (x > w * 0.1 && x < w * 0.9 && fabs(fy - (h * 0.08 + 0.3 * fx * h / w)) < 0.8) l = 2;
            if (holes && ((fabs(fx - w * 0.72) < h * 0.05 && fabs(fy - h * 0.5) < h * 0.05) || (x < w * 0.12 && y < h * 0.3)))
                l = -1;
            lab[(size_t)y * w + x] = l;
        }
    return lab;
}
static const uint32_t PAL[8] = {0xf4f1e8, 0xc8102e, 0x1d3557, 0xffd166, 0x2a9d8f, 0x111111, 0x7f7f80, 0x00ff00};

/* ---- tests ----------------------------------------------------------------- */
static void test_one_color(void) {
    carve_ctx *ctx = carve_ctx_create();
    int w = 13, h = 7;
    int lab[13 * 7] = {0};
    uint32_t pal[1] = {0x336699};
    carve_image *im = img_from_labels(lab, w, h, pal);
    size_t len;
    char *svg = trace_ok(ctx, im, &len);
    CHECK(svg && strlen(svg) == len);
    CHECK(svg && well_formed(svg));
    CHECKF(svg && count_str(svg, "<path") == 1, "%s", svg ? svg : "");
    CHECK(svg && strstr(svg, "viewBox=\"0 0 13 7\"") && strstr(svg, "width=\"13\"") && strstr(svg, "height=\"7\""));
    CHECK(svg && strstr(svg, "#369"));
    uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
    CHECK(px != NULL);
    int bad = 0;
    for (int i = 0; px && i < w * h; i++)
        if (A(px[i]) != 255 || RGB(px[i]) != 0x336699) bad++;
    CHECKF(bad == 0, "%d pixels wrong", bad);
    free(px);
    carve_free(svg);
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

/* a context that traces the geometry itself: pixel mode, detail 1 (no
 * region merged beyond the speckle filter), no speckle filter */
static carve_ctx *pixel_ctx(void) {
    carve_ctx *ctx = carve_ctx_create();
    tu_set_opt(ctx, "detail", "1");
    tu_set_opt(ctx, "mode", "pixel");
    tu_set_opt(ctx, "filter_speckle", "0");
    return ctx;
}

/* pixel mode reproduces the input exactly, through the shared-boundary rings
 * (holes, diagonal contacts, transparency, canvas border) */
static void test_pixel_exact(void) {
    carve_ctx *ctx = pixel_ctx();
    for (int holes = 0; holes < 2; holes++)
        for (int gf = 0; gf < 2; gf++) {
            tu_set_opt(ctx, "gap_filler", gf ? "true" : "false");
            int w = 97, h = 61;
            int *lab = scene(w, h, holes);
            carve_image *im = img_from_labels(lab, w, h, PAL);
            size_t len;
            char *svg = trace_ok(ctx, im, &len);
            uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
            CHECK(px != NULL);
            int bad = 0;
            for (int i = 0; px && i < w * h; i++) {
                if (lab[i] < 0) bad += A(px[i]) != 0;
                else bad += A(px[i]) != 255 || RGB(px[i]) != PAL[lab[i]];
            }
            CHECKF(bad == 0, "holes=%d gap_filler=%d: %d pixels differ from the input", holes, gf, bad);
            free(px);
            carve_free(svg);
            carve_image_destroy(im);
            free(lab);
        }
    carve_ctx_destroy(ctx);
}

/* the fills alone partition the canvas: coverage sums to ~255 on opaque
 * input, 0 on transparent input far from any shape, never much above 255 */
/* tol: how far (in 1/255 of a pixel) the summed coverage may leave 255.  The
 * pixel mode is exact (tol 6 absorbs rasterizer rounding); fitted curves of
 * two chains that meet at a junction may cross by a sliver, so for them the
 * check is that no pixel is claimed twice or left unclaimed for more than a
 * quarter of its area (tol 64), see docs/vector.md. */
static void check_partition(carve_ctx *ctx, const int *lab, int w, int h, const char *what, int tol, int *overlaps,
                            int *gaps, int *worst) {
    tu_set_opt(ctx, "gap_filler", "false");
    carve_image *im = img_from_labels(lab, w, h, PAL);
    size_t len;
    char *svg = trace_ok(ctx, im, &len);
    int *sum = svg ? tu_fill_coverage_sum(svg, w, h) : NULL;
    CHECKF(sum != NULL, "%s: rendering failed", what);
    int over = 0, gap = 0;
    *worst = 0;
    for (int y = 0; sum && y < h; y++)
        for (int x = 0; x < w; x++) {
            int s = sum[y * w + x];
            if (abs(s - 255) > *worst && lab[y * w + x] >= 0) *worst = abs(s - 255);
            if (s > 255 + tol) over++;
            if (lab[y * w + x] >= 0 && interior(lab, w, h, x, y) && s < 255 - tol) gap++;
        }
    *overlaps = over;
    *gaps = gap;
    free(sum);
    carve_free(svg);
    carve_image_destroy(im);
}

static void test_partition_modes(void) {
    const char *modes[3] = {"pixel", "polygon", "spline"};
    for (int m = 0; m < 3; m++) {
        carve_ctx *ctx = carve_ctx_create();
        tu_set_opt(ctx, "mode", modes[m]);
        int w = 160, h = 100;
        int *lab = scene(w, h, true);
        int over, gap, worst;
        check_partition(ctx, lab, w, h, modes[m], m ? 64 : 6, &over, &gap, &worst);
        fprintf(stderr, "     partition %s: largest deviation of summed coverage %d/255\n", modes[m], worst);
        CHECKF(over == 0, "mode %s: %d pixels covered by more than one fill", modes[m], over);
        CHECKF(gap == 0, "mode %s: %d opaque pixels not covered by the fills", modes[m], gap);
        free(lab);
        carve_ctx_destroy(ctx);
    }
}

/* with the gap filler an antialiased render covers every opaque pixel
 * (alpha >= 250); without it the conflation hairline shows */
static void test_gap_filler(void) {
    const char *modes[2] = {"polygon", "spline"};
    for (int m = 0; m < 2; m++) {
        for (int holes = 0; holes < 2; holes++) {
            carve_ctx *ctx = carve_ctx_create();
            tu_set_opt(ctx, "mode", modes[m]);
            int w = 160, h = 100;
            int *lab = scene(w, h, holes);
            carve_image *im = img_from_labels(lab, w, h, PAL);
            int low[2] = {0, 0}, bleed = 0;
            for (int gf = 0; gf < 2; gf++) {
                tu_set_opt(ctx, "gap_filler", gf ? "true" : "false");
                size_t len;
                char *svg = trace_ok(ctx, im, &len);
                uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
                CHECK(px != NULL);
                for (int y = 0; px && y < h; y++)
                    for (int x = 0; x < w; x++) {
                        bool near_void = false, near_opaque = false;
                        for (int dy = -1; dy <= 1; dy++)
                            for (int dx = -1; dx <= 1; dx++) {
                                int xx = x + dx, yy = y + dy;
                                if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                                if (lab[yy * w + xx] < 0) near_void = true;
                                else near_opaque = true;
                            }
                        int a = A(px[y * w + x]);
                        if (lab[y * w + x] >= 0 && !near_void && a < 250) low[gf]++;
                        if (gf && lab[y * w + x] < 0 && !near_opaque && a != 0) bleed++;
                    }
                free(px);
                carve_free(svg);
            }
            CHECKF(low[1] == 0, "mode %s holes %d: %d opaque pixels with alpha < 250 despite the gap filler", modes[m], holes,
                   low[1]);
            CHECKF(low[0] > 0, "mode %s holes %d: expected the conflation artifact without the gap filler", modes[m], holes);
            CHECKF(bleed == 0, "mode %s holes %d: %d transparent pixels painted", modes[m], holes, bleed);
            free(lab);
            carve_image_destroy(im);
            carve_ctx_destroy(ctx);
        }
    }
}

static void test_palette_exact_and_size(void) {
    carve_ctx *ctx = carve_ctx_create();
    int w = 200, h = 120;
    int *lab = scene(w, h, false);
    carve_image *im = img_from_labels(lab, w, h, PAL);
    const char *modes[3] = {"pixel", "polygon", "spline"};
    size_t sizes[3] = {0};
    for (int m = 0; m < 3; m++) {
        tu_set_opt(ctx, "mode", modes[m]);
        size_t len;
        char *svg = trace_ok(ctx, im, &len);
        if (!svg) continue;
        sizes[m] = len;
        CHECKF(well_formed(svg), "mode %s: malformed SVG", modes[m]);
        uint32_t cols[512];
        int n = svg_colors(svg, cols, 512);
        CHECKF(n > 0, "mode %s: no colours", modes[m]);
        int bad = 0;
        for (int i = 0; i < n; i++) bad += !in_pal(cols[i], PAL, 6);
        CHECKF(bad == 0, "mode %s: %d colours not in the input", modes[m], bad);
        /* one fill path per colour */
        CHECKF(fill_paths(svg) == 6, "mode %s: %d fill paths for 6 colours", modes[m], fill_paths(svg));
        /* rendered colours (fully covered pixels) are input colours, and the
         * trace looks like the input */
        uint32_t *px = tu_render(svg, len, w, h);
        int same = 0, opaque = 0;
        for (int i = 0; px && i < w * h; i++) {
            if (A(px[i]) < 250) continue;
            opaque++;
            same += A(px[i]) == 255 && RGB(px[i]) == PAL[lab[i]];
        }
        if (opaque != w * h && getenv("CARVE_FUZZ_DUMP")) {
            char fn[256];
            snprintf(fn, sizeof fn, "%s/pal_%s.svg", getenv("CARVE_FUZZ_DUMP"), modes[m]);
            FILE *df = fopen(fn, "w");
            if (df) { fputs(svg, df); fclose(df); }
            snprintf(fn, sizeof fn, "%s/pal_%s.png", getenv("CARVE_FUZZ_DUMP"), modes[m]);
            carve_image_save(ctx, im, fn);
        }
        CHECKF(opaque == w * h, "mode %s: %d of %d pixels covered (alpha >= 250)", modes[m], opaque, w * h);
        CHECKF(same >= w * h * 9 / 10, "mode %s: only %d of %d pixels keep their colour", modes[m], same, w * h);
        free(px);
        carve_free(svg);
    }
    CHECKF(sizes[2] < sizes[0], "spline (%zu bytes) should be smaller than pixel (%zu)", sizes[2], sizes[0]);
    CHECKF(sizes[1] < sizes[0], "polygon (%zu bytes) should be smaller than pixel (%zu)", sizes[1], sizes[0]);
    CHECKF(strstr(PAL[0] ? "x" : "", "x") != NULL, "palette");
    free(lab);
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

static void test_determinism(void) {
    int w = 400, h = 260;
    int *lab = scene(w, h, true);
    /* noise so that there are many chains and specks */
    for (int i = 0; i < 3000; i++) lab[rnd() % (w * h)] = (int)(rnd() % 7) - 1;
    carve_image *im = img_from_labels(lab, w, h, PAL);
    const char *modes[3] = {"pixel", "polygon", "spline"};
    for (int m = 0; m < 3; m++)
        for (int stacked = 0; stacked < 2; stacked++) {
            char *ref = NULL;
            size_t rlen = 0;
            const char *thr[4] = {"1", "2", "4", "1"};
            for (int t = 0; t < 4; t++) {
                carve_ctx *ctx = carve_ctx_create();
                tu_set_opt(ctx, "mode", modes[m]);
                tu_set_opt(ctx, "stacked", stacked ? "true" : "false");
                tu_set_opt(ctx, "threads", thr[t]);
                size_t len;
                char *svg = trace_ok(ctx, im, &len);
                if (!ref) {
                    ref = svg;
                    rlen = len;
                } else {
                    CHECKF(svg && len == rlen && !memcmp(svg, ref, len), "mode %s stacked %d threads %s differs", modes[m],
                           stacked, thr[t]);
                    carve_free(svg);
                }
                carve_ctx_destroy(ctx);
            }
            carve_free(ref);
        }
    carve_image_destroy(im);
    free(lab);
}

static void test_speckle(void) {
    /* background A, a block B; single pixels of C (close to B) sit in A and
     * next to B; a 2x2 block of D in A */
    int w = 30, h = 20;
    int *lab = calloc((size_t)w * h, sizeof(int));
    for (int y = 5; y < 15; y++)
        for (int x = 5; x < 15; x++) lab[y * w + x] = 1;
    lab[10 * w + 15] = 2; /* touches B (left) and A */
    lab[3 * w + 25] = 2;  /* inside A only */
    lab[16 * w + 20] = lab[16 * w + 21] = lab[17 * w + 20] = lab[17 * w + 21] = 3;
    uint32_t pal[4] = {0xffffff, 0x2040c0, 0x2242c4, 0x000000};
    carve_image *im = img_from_labels(lab, w, h, pal);
    carve_ctx *ctx = pixel_ctx();
    const char *sp[3] = {"0", "4", "5"};
    for (int k = 0; k < 3; k++) {
        tu_set_opt(ctx, "filter_speckle", sp[k]);
        size_t len;
        char *svg = trace_ok(ctx, im, &len);
        uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
        CHECK(px != NULL);
        if (px) {
            int full = 0;
            for (int i = 0; i < w * h; i++) full += A(px[i]) == 255;
            CHECKF(full == w * h, "filter_speckle %s: %d of %d pixels covered (specks must not become holes)", sp[k], full,
                   w * h);
            if (k == 0) {
                CHECK(RGB(px[10 * w + 15]) == pal[2] && RGB(px[3 * w + 25]) == pal[2] && RGB(px[16 * w + 20]) == 0);
            } else {
                /* C next to B merges into B (closest colour), C inside A into A */
                CHECKF(RGB(px[10 * w + 15]) == pal[1], "speck next to B became %06x", RGB(px[10 * w + 15]));
                CHECKF(RGB(px[3 * w + 25]) == pal[0], "speck inside A became %06x", RGB(px[3 * w + 25]));
                CHECK(!strstr(svg, "#2242c4"));
                /* the 2x2 block (area 4) stays at 4, goes at 5 */
                if (k == 1) CHECK(RGB(px[16 * w + 20]) == 0);
                else CHECK(RGB(px[16 * w + 20]) == pal[0]);
            }
        }
        free(px);
        carve_free(svg);
    }
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
    free(lab);
}

static void test_stacked(void) {
    carve_ctx *ctx = pixel_ctx();
    tu_set_opt(ctx, "stacked", "true");
    int w = 120, h = 80;
    for (int holes = 0; holes < 2; holes++) {
        int *lab = scene(w, h, holes);
        carve_image *im = img_from_labels(lab, w, h, PAL);
        size_t len;
        char *svg = trace_ok(ctx, im, &len);
        CHECK(svg && well_formed(svg));
        uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
        int bad = 0;
        for (int i = 0; px && i < w * h; i++) {
            if (lab[i] < 0) bad += A(px[i]) != 0;
            else bad += A(px[i]) != 255 || RGB(px[i]) != PAL[lab[i]];
        }
        CHECKF(px && bad == 0, "stacked holes=%d: %d pixels differ", holes, bad);
        /* stacked shapes overlap: the background path is a plain rectangle
         * when there are no transparent holes */
        free(px);
        carve_free(svg);
        carve_image_destroy(im);
        free(lab);
    }
    /* nested shapes away from the border: in stacked mode the background is
     * one plain rectangle and the ring's hole is not cut out */
    int *lab = calloc((size_t)w * h, sizeof(int));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x + 0.5 - 60, dy = y + 0.5 - 40, r = sqrt(dx * dx + dy * dy);
            lab[y * w + x] = r < 30 ? (r < 15 ? 2 : 1) : 0;
        }
    carve_image *im = img_from_labels(lab, w, h, PAL);
    tu_set_opt(ctx, "mode", "spline");
    size_t len;
    char *svg = trace_ok(ctx, im, &len);
    const char *bg = svg ? strstr(svg, "<path fill=\"#f4f1e8\" d=\"") : NULL;
    CHECKF(bg && (!strncmp(bg + 24, "M0 0h120v80h-120z\"", 18) || !strncmp(bg + 24, "M120 0h-120v80h120z\"", 20)), "background is not one rectangle: %.60s", bg ? bg : "");
    /* each shape is one closed outline: 3 subpaths in all */
    const char *fills = svg ? (strstr(svg, "</g>") ? strstr(svg, "</g>") : svg) : NULL;
    CHECKF(fills && count_str(fills, "z") == 3, "%d subpaths", fills ? count_str(fills, "z") : -1);
    check_covered(svg, len, w, h, "stacked");
    carve_free(svg);
    carve_image_destroy(im);
    free(lab);
    carve_ctx_destroy(ctx);
}

static void test_bad_input(void) {
    carve_ctx *ctx = carve_ctx_create();
    char *svg = (char *)1;
    size_t len = 7;
    /* NULLs */
    CHECK_ST(carve_trace(ctx, NULL, &svg, &len), CARVE_ERR_INVALID_ARG);
    CHECK(svg == NULL && len == 0);
    CHECK_ST(carve_trace(NULL, NULL, &svg, &len), CARVE_ERR_INVALID_ARG);
    /* 0x0 */
    carve_image *im = carve_image_create(0, 0);
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_ERR_EMPTY);
    CHECKF(strstr(carve_ctx_errmsg(ctx), "empty") != NULL, "%s", carve_ctx_errmsg(ctx));
    carve_image_destroy(im);
    /* 1x1 */
    im = carve_image_create(1, 1);
    uint8_t *p = carve_image_pixels(im);
    p[0] = 10, p[1] = 20, p[2] = 30, p[3] = 255;
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_OK);
    uint32_t *px = svg ? tu_render(svg, len, 1, 1) : NULL;
    CHECK(px && A(px[0]) == 255 && RGB(px[0]) == 0x0a141e);
    free(px);
    carve_free(svg);
    /* fully transparent: a valid SVG without paths */
    p[3] = 0;
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_OK);
    CHECK(svg && well_formed(svg) && !strstr(svg, "<path"));
    px = svg ? tu_render(svg, len, 1, 1) : NULL;
    CHECK(px && A(px[0]) == 0);
    free(px);
    carve_free(svg);
    carve_image_destroy(im);
    im = carve_image_create(50, 40); /* all transparent black */
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_OK);
    CHECK(svg && well_formed(svg) && !strstr(svg, "<path") && strstr(svg, "viewBox=\"0 0 50 40\""));
    carve_free(svg);
    carve_image_destroy(im);
    /* too many colours: the message says how many and points to quantize */
    im = carve_image_create(30, 10);
    p = carve_image_pixels(im);
    for (int i = 0; i < 300; i++) {
        p[4 * i] = (uint8_t)i, p[4 * i + 1] = (uint8_t)(i >> 8), p[4 * i + 2] = 7, p[4 * i + 3] = 255;
    }
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_ERR_TOO_MANY_COLORS);
    CHECK(svg == NULL);
    const char *msg = carve_ctx_errmsg(ctx);
    CHECKF(strstr(msg, "300") && strstr(msg, "quantize") && strstr(msg, "256"), "message: %s", msg);
    /* transparent pixels do not count */
    for (int i = 0; i < 100; i++) p[4 * i + 3] = 0;
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_OK);
    carve_free(svg);
    tu_set_opt(ctx, "max_colors", "199");
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_ERR_TOO_MANY_COLORS);
    CHECKF(strstr(carve_ctx_errmsg(ctx), "200") && strstr(carve_ctx_errmsg(ctx), "199"), "%s", carve_ctx_errmsg(ctx));
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

static void test_large(void) {
    /* huge-but-allowed: 4000 x 4000 with a few flat shapes must be quick */
    int w = 4000, h = 4000;
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + 4 * ((size_t)y * w + x);
            double dx = x - 2000.0, dy = y - 1800.0;
            bool disc = dx * dx + dy * dy < 1200.0 * 1200.0;
            q[0] = disc ? 200 : 20, q[1] = 40, q[2] = (x > 3000 && y > 3000) ? 250 : 60, q[3] = 255;
        }
    carve_ctx *ctx = carve_ctx_create();
    double t0 = carve__now();
    size_t len;
    char *svg = NULL;
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_OK);
    double dt = carve__now() - t0;
    CHECKF(dt < 30, "4000x4000 took %.1f s", dt);
    CHECKF(svg && len < 20000, "SVG of 3 flat shapes is %zu bytes", len);
    CHECK(svg && fill_paths(svg) == 3);
    fprintf(stderr, "     4000x4000, 3 shapes: %.2f s, %zu bytes\n", dt, len);
    carve_free(svg);
    carve_image_destroy(im);
    carve_ctx_destroy(ctx);
}

static int cancel_after(void *user, double f, const char *stage) {
    int *calls = user;
    (void)f;
    CHECK(!strcmp(stage, "trace"));
    return ++*calls >= 3;
}
static int count_progress(void *user, double f, const char *stage) {
    double *last = user;
    (void)stage;
    if (f < *last) last[1] = 1; /* went backwards */
    last[0] = f;
    return 0;
}

static void test_progress_cancel(void) {
    int w = 300, h = 200;
    int *lab = scene(w, h, true);
    carve_image *im = img_from_labels(lab, w, h, PAL);
    carve_ctx *ctx = carve_ctx_create();
    int calls = 0;
    carve_ctx_set_progress(ctx, cancel_after, &calls);
    char *svg = NULL;
    size_t len;
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_ERR_CANCELLED);
    CHECK(svg == NULL);
    CHECKF(strstr(carve_ctx_errmsg(ctx), "cancel") != NULL, "%s", carve_ctx_errmsg(ctx));
    carve_ctx_reset_cancel(ctx);
    double st[2] = {0, 0};
    carve_ctx_set_progress(ctx, count_progress, st);
    CHECK_ST(carve_trace(ctx, im, &svg, &len), CARVE_OK);
    CHECK(st[0] == 1.0 && st[1] == 0);
    carve_free(svg);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
    free(lab);
}

/* randomized sweep: small random label images in every mode */
static void test_fuzz(void) {
    int n = 1000;
    const char *env = getenv("CARVE_FUZZ_N");
    if (env && atoi(env) > 0) n = atoi(env);
    const char *modes[3] = {"pixel", "polygon", "spline"};
    int fails_parse = 0, fails_pal = 0, fails_cov = 0, fails_over = 0, fails_gap = 0, fails_xml = 0, fails_exact = 0;
    int worst_over = 0, worst_gap = 0;
    double t0 = carve__now();
    for (int it = 0; it < n; it++) {
        int w = 8 + (int)(rnd() % 33), h = 8 + (int)(rnd() % 33);
        int k = 2 + (int)(rnd() % 5);
        int *lab = malloc(sizeof(int) * (size_t)w * h);
        /* blobs: random seeds grown by a few smoothing passes, plus noise */
        for (int i = 0; i < w * h; i++) lab[i] = (int)(rnd() % k);
        int passes = (int)(rnd() % 4);
        for (int ps = 0; ps < passes; ps++)
            for (int y = 1; y < h - 1; y++)
                for (int x = 1; x < w - 1; x++) {
                    int c[8] = {0}, best = lab[y * w + x];
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) c[lab[(y + dy) * w + x + dx]]++;
                    for (int q = 0; q < k; q++)
                        if (c[q] > c[best]) best = q;
                    lab[y * w + x] = best;
                }
        bool transp = rnd() % 3 == 0;
        if (transp)
            for (int i = 0; i < w * h; i++)
                if (lab[i] == k - 1) lab[i] = -1;
        carve_image *im = img_from_labels(lab, w, h, PAL);
        carve_ctx *ctx = carve_ctx_create();
        int mode = it % 3;
        tu_set_opt(ctx, "mode", modes[mode]);
        char sp[8];
        snprintf(sp, sizeof sp, "%d", (int)(rnd() % 6));
        tu_set_opt(ctx, "filter_speckle", sp);
        if (rnd() % 4 == 0) tu_set_opt(ctx, "stacked", "true");
        bool stacked = false;
        char buf[16];
        carve_ctx_get_option(ctx, "stacked", buf, sizeof buf);
        stacked = !strcmp(buf, "true");
        size_t len;
        carve_status st;
        char *svg = trace(ctx, im, &len, &st);
        if (st || !svg) {
            fails_parse++;
            fprintf(stderr, "fuzz %d: %s\n", it, carve_ctx_errmsg(ctx));
        } else {
            if (!well_formed(svg)) fails_xml++;
            uint32_t cols[1024];
            int nc = svg_colors(svg, cols, 1024);
            bool palok = nc >= 0;
            for (int i = 0; i < nc; i++) palok = palok && in_pal(cols[i], PAL, k);
            if (!palok) fails_pal++;
            uint32_t *px = tu_render(svg, len, w, h);
            if (!px) fails_parse++;
            else {
                /* coverage with the gap filler: every opaque pixel whose 3x3
                 * neighbourhood is opaque has alpha >= 250 */
                int low = 0, wrong = 0;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        bool interior = true;
                        for (int dy = -1; dy <= 1; dy++)
                            for (int dx = -1; dx <= 1; dx++) {
                                int xx = x + dx, yy = y + dy;
                                if (xx >= 0 && yy >= 0 && xx < w && yy < h && lab[yy * w + xx] < 0) interior = false;
                            }
                        int a = A(px[y * w + x]);
                        if (lab[y * w + x] >= 0 && interior && a < 250) low++;
                        if (lab[y * w + x] >= 0 && (a != 255 || !in_pal(RGB(px[y * w + x]), PAL, k))) wrong++;
                        if (lab[y * w + x] < 0 && a != 0) wrong++;
                    }
                if (low) fails_cov++;
                /* pixel mode without speckle filtering reproduces the input */
                if (mode == 0 && !strcmp(sp, "0") && wrong) fails_exact++;
                if (getenv("CARVE_FUZZ_DUMP") && (low || (mode == 0 && !strcmp(sp, "0") && wrong))) {
                    char fn[256];
                    snprintf(fn, sizeof fn, "%s/fuzz%d_%s_sp%s%s.png", getenv("CARVE_FUZZ_DUMP"), it, modes[mode], sp, stacked ? "_st" : "");
                    carve_image_save(ctx, im, fn);
                    snprintf(fn, sizeof fn, "%s/fuzz%d.svg", getenv("CARVE_FUZZ_DUMP"), it);
                    FILE *df = fopen(fn, "w");
                    if (df) { fputs(svg, df); fclose(df); }
                }
                free(px);
            }
            if (!stacked) {
                /* partition: fills alone, no overlap and no gap */
                tu_set_opt(ctx, "gap_filler", "false");
                char *svg2 = trace(ctx, im, &len, &st);
                int *sum = svg2 ? tu_fill_coverage_sum(svg2, w, h) : NULL;
                if (!sum) fails_parse++;
                else {
                    int over = 0, gap = 0, tol = mode ? 64 : 6;
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++) {
                            int s = sum[y * w + x];
                            if (s > 255 + 6 && s - 255 > worst_over) worst_over = s - 255;
                            if (255 - s > worst_gap && lab[y * w + x] >= 0) {
                                if (interior(lab, w, h, x, y)) worst_gap = 255 - s;
                            }
                            if (s > 255 + tol) {
                                over++;
                            }
                            if (lab[y * w + x] >= 0 && interior(lab, w, h, x, y) && s < 255 - tol) gap++;
                        }
                    if (over) fails_over++;
                    if ((over || gap) && getenv("CARVE_FUZZ_DUMP")) {
                        char fn[256];
                        snprintf(fn, sizeof fn, "%s/part%d_%s_sp%s.png", getenv("CARVE_FUZZ_DUMP"), it, modes[mode], sp);
                        carve_image_save(ctx, im, fn);
                        snprintf(fn, sizeof fn, "%s/part%d.svg", getenv("CARVE_FUZZ_DUMP"), it);
                        FILE *df = fopen(fn, "w");
                        if (df) { fputs(svg2, df); fclose(df); }
                    }
                    if (gap) fails_gap++;
                }
                free(sum);
                carve_free(svg2);
            }
        }
        carve_free(svg);
        carve_ctx_destroy(ctx);
        carve_image_destroy(im);
        free(lab);
    }
    fprintf(stderr, "     fuzz: %d images in %.1f s; parse %d xml %d palette %d coverage %d overlap %d (worst +%d) gap %d (worst -%d) exact %d\n",
            n, carve__now() - t0, fails_parse, fails_xml, fails_pal, fails_cov, fails_over, worst_over, fails_gap, worst_gap,
            fails_exact);
    CHECKF(fails_parse == 0, "%d traces failed or did not render", fails_parse);
    CHECKF(fails_xml == 0, "%d malformed SVGs", fails_xml);
    CHECKF(fails_pal == 0, "%d SVGs with colours not in the input", fails_pal);
    CHECKF(fails_cov == 0, "%d SVGs leave opaque pixels uncovered", fails_cov);
    CHECKF(fails_over == 0, "%d SVGs have overlapping fills", fails_over);
    CHECKF(fails_gap == 0, "%d SVGs have gaps between fills", fails_gap);
    CHECKF(fails_exact == 0, "%d pixel-mode SVGs differ from the input", fails_exact);
}

/* ---- fewer nodes, detail budget (issue 10) ------------------------------- */

/* path segments as the shared bench counts them: every command and every
 * implicit repeat of its arguments is one (m and z included) */
static int64_t count_segs(const char *svg) {
    int64_t n = 0;
    for (const char *p = svg; (p = strstr(p, " d=\"")); ) {
        p += 4;
        int ar = 0;
        int64_t nums = 0;
        for (;; p++) {
            char c = *p;
            if (c == '"' || !c || strchr("MmLlHhVvCcZz", c)) {
                if (ar) n += nums / ar > 0 ? nums / ar : 1;
                if (c == '"' || !c) break;
                ar = strchr("Zz", c) ? 0 : strchr("HhVv", c) ? 1 : strchr("Cc", c) ? 6 : 2;
                if (!ar) n++;
                nums = 0;
            } else if (c == '-' || c == '.' || (c >= '0' && c <= '9')) {
                if (c == '-') p++;
                while (*p >= '0' && *p <= '9') p++;
                if (*p == '.') {
                    p++;
                    while (*p >= '0' && *p <= '9') p++;
                }
                p--;
                nums++;
            }
        }
    }
    return n;
}

/* a sample photo posterized to 3 levels per channel (at most 27 flat colours) */
static carve_image *posterized_photo(const char *name) {
    carve_image *im = tu_load_sample(NULL, name);
    if (!im) return NULL;
    int w = carve_image_width(im), h = carve_image_height(im);
    uint8_t *px = carve_image_pixels(im);
    for (int i = 0; i < w * h; i++) {
        for (int k = 0; k < 3; k++) px[4 * i + k] = (uint8_t)((px[4 * i + k] * 3 / 256) * 127);
        px[4 * i + 3] = 255;
    }
    return im;
}

/* 4-connected regions of a rendered (opaque, exact) picture */
static int32_t rendered_regions(const uint32_t *px, int w, int h) {
    uint16_t *lab = malloc((size_t)w * h * sizeof(uint16_t));
    uint32_t cols[256];
    int nc = 0;
    for (int i = 0; i < w * h; i++) {
        uint32_t c = RGB(px[i]);
        int k = 0;
        while (k < nc && cols[k] != c) k++;
        if (k == nc && nc < 256) cols[nc++] = c;
        lab[i] = (uint16_t)k;
    }
    int32_t *reg = NULL;
    int32_t n = carve__components(lab, w, h, &reg, NULL);
    free(reg);
    free(lab);
    return n;
}

/* traces with key=value option pairs; NULL-terminated */
static char *trace_with(const carve_image *im, size_t *len, ...) {
    carve_ctx *ctx = carve_ctx_create();
    va_list ap;
    va_start(ap, len);
    for (const char *k; (k = va_arg(ap, const char *));) tu_set_opt(ctx, k, va_arg(ap, const char *));
    va_end(ap);
    carve_status st;
    char *svg = trace(ctx, im, len, &st);
    CHECKF(st == CARVE_OK, "trace: %s", carve_ctx_errmsg(ctx));
    carve_ctx_destroy(ctx);
    return svg;
}

static void test_detail_budget(void) {
    carve_image *im = posterized_photo("bus_red_london_plate.jpg");
    if (!im) return;
    int w = carve_image_width(im), h = carve_image_height(im);
    /* pixel mode renders exactly, so the rendered regions are the traced ones */
    int32_t prev = INT32_MAX;
    const char *details[4] = {"1", "0.6", "0.4", "0"};
    for (int d = 0; d < 4; d++) {
        size_t len;
        char *svg = trace_with(im, &len, "mode", "pixel", "detail", details[d], (char *)NULL);
        uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
        int32_t n = px ? rendered_regions(px, w, h) : -1;
        CHECKF(n > 0 && n < prev, "detail %s: %d regions (previous level %d)", details[d], n, prev);
        if (d == 3) CHECKF(n <= 20, "detail 0 (poster) keeps %d regions", n);
        prev = n;
        free(px);
        carve_free(svg);
    }
    const char *budgets[3] = {"2000", "300", "50"};
    for (int b = 0; b < 3; b++) {
        size_t len;
        char *svg = trace_with(im, &len, "mode", "pixel", "detail", "1", "max_paths", budgets[b], (char *)NULL);
        uint32_t *px = svg ? tu_render(svg, len, w, h) : NULL;
        int32_t n = px ? rendered_regions(px, w, h) : -1;
        int full = 0;
        for (int i = 0; px && i < w * h; i++) full += A(px[i]) == 255;
        CHECKF(n > 0 && n <= atoi(budgets[b]) && n >= atoi(budgets[b]) * 8 / 10, "max_paths %s: %d regions", budgets[b], n);
        CHECKF(full == w * h, "max_paths %s: %d of %d pixels covered", budgets[b], full, w * h);
        free(px);
        carve_free(svg);
    }
    /* byte-identical whatever the thread count */
    size_t l1, l4;
    char *s1 = trace_with(im, &l1, "threads", "1", "detail", "0.4", "max_paths", "400", (char *)NULL);
    char *s4 = trace_with(im, &l4, "threads", "4", "detail", "0.4", "max_paths", "400", (char *)NULL);
    CHECK(s1 && s4 && l1 == l4 && !memcmp(s1, s4, l1));
    carve_free(s1);
    carve_free(s4);
    carve_image_destroy(im);
}

static void test_fewer_segments(void) {
    carve_image *im = posterized_photo("motorcycle_red_garage.png");
    if (!im) return;
    int w = carve_image_width(im), h = carve_image_height(im);
    size_t l0, l1, l2;
    /* the previous defaults: every region the speckle filter keeps, 0.6 px */
    char *old = trace_with(im, &l0, "detail", "1", "trace_tolerance", "0.6", (char *)NULL);
    char *def = trace_with(im, &l1, (char *)NULL);
    char *nogap = trace_with(im, &l2, "gap_filler", "false", (char *)NULL);
    int64_t so = old ? count_segs(old) : 0, sd = def ? count_segs(def) : 0, sn = nogap ? count_segs(nogap) : 0;
    printf("  segments: previous defaults %lld, defaults %lld, without gap filler %lld\n", (long long)so, (long long)sd,
           (long long)sn);
    CHECKF(sd > 0 && sd * 2 <= so, "defaults %lld segments, previous defaults %lld: not 2x fewer", (long long)sd,
           (long long)so);
    /* the gap filler references the fills: not one segment more */
    CHECKF(sd == sn, "gap filler adds %lld segments", (long long)(sd - sn));
    CHECK(strstr(def, "<use xlink:href=\"#c") != NULL);
    /* and still no seam: every pixel covered */
    check_covered(def, l1, w, h, "defaults");
    carve_free(old);
    carve_free(def);
    carve_free(nogap);
    carve_image_destroy(im);
}

int main(void) {
    RUN(test_one_color);
    RUN(test_pixel_exact);
    RUN(test_partition_modes);
    RUN(test_gap_filler);
    RUN(test_palette_exact_and_size);
    RUN(test_determinism);
    RUN(test_speckle);
    RUN(test_stacked);
    RUN(test_bad_input);
    RUN(test_progress_cancel);
    RUN(test_large);
    RUN(test_detail_budget);
    RUN(test_fewer_segments);
    RUN(test_fuzz);
    return test_done();
}
