/* test_export.c — the vector exports (docs/vector.md, "Formats"):
 *
 *   render  PDF rendered by poppler (pdftoppm) and EPS by Ghostscript match
 *           the SVG rendered by librsvg (SSIM >= 0.97), plain, cut and grouped
 *   dxf     DXF read back by ezdxf (Debian python3-ezdxf): mm, one closed
 *           polyline per subpath of the SVG, a layer per colour (true colour)
 *   size    physical size options: units, fit, errors naming the value
 *   cut     cut mode: nothing thinner than min_feature (checked by brute
 *           force), per-shape masks rendered one by one do not overlap, every
 *           subpath closed, no gap filler, a CutContour in every format
 *   determinism  every format byte-identical for threads 1, 2, 4
 *
 * Usage: test_export GROUP (meson runs each group as its own test; a group
 * whose external reader is missing exits 77). */
#include "test_render.h"
#include "test_util.h"
#include "core.h"
#include "vector/vector.h"

#include <unistd.h>

#define SSIM_MIN 0.97
#define OVERLAP_TOL 64 /* as in test_vector's partition test: antialiased edges */

static char tmpdir[256];
static const char *render_dpi = "96"; /* renders the PDF/EPS at the SVG's pixel size */

static carve_image *load(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/../vector/data/%s", CARVE_TEST_DATA, name);
    return tu_load(NULL, path);
}

static void write_tmp(const char *name, const char *d, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    CHECK(tu_write_file(p, d, n));
}

/* ---- images ----------------------------------------------------------------- */

/* luma of an SVG rendered by librsvg over white (w x h) */
static double *svg_luma(const char *svg, size_t len, int w, int h, uint8_t *alpha_out) {
    uint32_t *px = tu_render(svg, len, w, h);
    if (!px) {
        if (alpha_out) memset(alpha_out, 0, (size_t)w * h);
        return NULL;
    }
    double *y = malloc((size_t)w * h * sizeof(double));
    for (size_t i = 0; i < (size_t)w * h; i++) {
        uint32_t p = px[i];
        int a = TU_ALPHA(p);
        /* premultiplied over white */
        double R = ((p >> 16) & 255) + (255 - a), G = ((p >> 8) & 255) + (255 - a), B = (p & 255) + (255 - a);
        y[i] = 0.299 * R + 0.587 * G + 0.114 * B;
        if (alpha_out) alpha_out[i] = (uint8_t)a;
    }
    free(px);
    return y;
}

/* luma of a binary PPM (P6) */
static double *ppm_luma(const char *path, int *w, int *h) {
    uint8_t *px = tu_read_ppm(path, w, h);
    if (!px) return NULL;
    size_t n = (size_t)*w * *h;
    double *y = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) y[i] = 0.299 * px[3 * i] + 0.587 * px[3 * i + 1] + 0.114 * px[3 * i + 2];
    free(px);
    return y;
}

/* mean SSIM over 8x8 windows (stride 4) of two luma images */
static double ssim(const double *a, const double *b, int w, int h) {
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    double sum = 0;
    int n = 0;
    for (int y = 0; y + 8 <= h; y += 4)
        for (int x = 0; x + 8 <= w; x += 4) {
            double ma = 0, mb = 0, va = 0, vb = 0, cov = 0;
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 8; i++) {
                    ma += a[(size_t)(y + j) * w + x + i];
                    mb += b[(size_t)(y + j) * w + x + i];
                }
            ma /= 64;
            mb /= 64;
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 8; i++) {
                    double da = a[(size_t)(y + j) * w + x + i] - ma, db = b[(size_t)(y + j) * w + x + i] - mb;
                    va += da * da;
                    vb += db * db;
                    cov += da * db;
                }
            va /= 63;
            vb /= 63;
            cov /= 63;
            sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n++;
        }
    return n ? sum / n : 0;
}

/* renders tmpdir/NAME with a shell command template (%s: in, %s: out) and
 * compares it with the SVG's luma */
static double render_compare(const char *tool_cmd, const char *in, const char *out, const double *ref, int w, int h) {
    char cmd[1024], ip[512], op[512];
    snprintf(ip, sizeof ip, "%s/%s", tmpdir, in);
    snprintf(op, sizeof op, "%s/%s", tmpdir, out);
    snprintf(cmd, sizeof cmd, tool_cmd, render_dpi, ip, op);
    int rc = system(cmd);
    CHECKF(rc == 0, "%s", cmd);
    int rw = 0, rh = 0;
    char ppm[600];
    snprintf(ppm, sizeof ppm, "%s%s", op, strstr(tool_cmd, "pdftoppm") ? ".ppm" : "");
    double *y = ppm_luma(ppm, &rw, &rh);
    CHECKF(y && rw == w && rh == h, "%s: %dx%d, want %dx%d", ppm, rw, rh, w, h);
    double s = (y && rw == w && rh == h) ? ssim(ref, y, w, h) : 0;
    free(y);
    return s;
}

#define PDFTOPPM "pdftoppm -r %1$s -singlefile %2$s %3$s"
#define GS_EPS "gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=ppmraw -r%1$s -dEPSCrop -dGraphicsAlphaBits=4 -o %3$s %2$s"

/* ---- render: PDF and EPS against the SVG ------------------------------------ */

static void render_case(const char *img_name, const char *k1, const char *v1, const char *k2, const char *v2) {
    carve_image *im = load(img_name);
    if (!im) return;
    int w = carve_image_width(im), h = carve_image_height(im);
    carve_ctx *ctx = carve_ctx_create();
    if (k1) tu_set_opt(ctx, k1, v1);
    if (k2) tu_set_opt(ctx, k2, v2);
    size_t ls = 0, lp = 0, le = 0;
    char *svg = tu_trace(ctx, im, "svg", &ls), *pdf = tu_trace(ctx, im, "pdf", &lp), *eps = tu_trace(ctx, im, "eps", &le);
    double *ref = svg ? svg_luma(svg, ls, w, h, NULL) : NULL;
    CHECK(ref != NULL);
    if (ref && pdf && eps) {
        write_tmp("r.pdf", pdf, lp);
        write_tmp("r.eps", eps, le);
        double sp = render_compare(PDFTOPPM, "r.pdf", "rp", ref, w, h);
        double se = render_compare(GS_EPS, "r.eps", "re.ppm", ref, w, h);
        fprintf(stderr, "  %s %s=%s %s=%s: SSIM pdf %.4f eps %.4f\n", img_name, k1 ? k1 : "-", v1 ? v1 : "",
                k2 ? k2 : "-", v2 ? v2 : "", sp, se);
        CHECKF(sp >= SSIM_MIN, "%s pdf SSIM %.4f", img_name, sp);
        CHECKF(se >= SSIM_MIN, "%s eps SSIM %.4f", img_name, se);
    }
    free(ref);
    carve_free(svg);
    carve_free(pdf);
    carve_free(eps);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
}

static void test_render(void) {
    render_case("bus_q16.png", NULL, NULL, NULL, NULL);
    render_case("firetruck_q16.png", NULL, NULL, NULL, NULL);
    render_case("firetruck_q16.png", "group_by", "layer", "stacked", "true");
    render_case("bus_q16.png", "cut", "true", "group_by", "color");
    render_dpi = "138.68"; /* 546 px in 100 mm (138.684 dpi, a hair less: renderers round up) */
    render_case("bus_q16.png", "width", "100mm", "mode", "polygon");
    render_dpi = "96";
}

/* ---- dxf: read back by ezdxf ------------------------------------------------- */

/* per fill colour of an SVG (group_by none): its subpaths ('z' count) as
 * "color-rrggbb=N,..." */
static void svg_subpaths_by_layer(const char *svg, char *args, size_t cap) {
    args[0] = 0;
    /* <path fill="#.." d=..>, or <g fill="#.."><path id=.. d=..> when the
     * colour's gap stroke is a <use> of its fill path */
    for (const char *p = svg; (p = strstr(p, " fill=\"#"));) {
        p += 8;
        char hex[7];
        size_t n = strcspn(p, "\"");
        if (n == 3) snprintf(hex, sizeof hex, "%c%c%c%c%c%c", p[0], p[0], p[1], p[1], p[2], p[2]);
        else snprintf(hex, sizeof hex, "%.6s", p);
        const char *d = strstr(p, " d=\""), *e = d ? strchr(d + 4, '"') : NULL;
        int z = 0;
        for (const char *q = d; q && q < e; q++) z += *q == 'z';
        size_t l = strlen(args);
        snprintf(args + l, cap - l, "%scolor-%s=%d", l ? "," : "", hex, z);
        p = e ? e : p;
    }
}

/* writes the DXF of a case and appends its check_dxf.py argument */
static void dxf_case(const char *img_name, bool cut, int k, char *args, size_t cap) {
    carve_image *im = load(img_name);
    if (!im) return;
    carve_ctx *ctx = carve_ctx_create();
    tu_set_opt(ctx, "width", "250mm");
    if (cut) tu_set_opt(ctx, "cut", "true");
    size_t ls = 0, ld = 0;
    char *svg = tu_trace(ctx, im, "svg", &ls), *dxf = tu_trace(ctx, im, "dxf", &ld);
    if (svg && dxf) {
        char name[32], layers[8192];
        snprintf(name, sizeof name, "t%d.dxf", k);
        write_tmp(name, dxf, ld);
        svg_subpaths_by_layer(svg, layers, sizeof layers);
        double hmm = 250.0 * carve_image_height(im) / carve_image_width(im);
        size_t l = strlen(args);
        snprintf(args + l, cap - l, " %s/%s:250:%.4f:%d:%s", tmpdir, name, hmm, cut ? 1 : 0, layers);
    }
    carve_free(svg);
    carve_free(dxf);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
}

static void test_dxf(void) {
    static char args[32768];
    dxf_case("bus_q16.png", false, 0, args, sizeof args);
    dxf_case("firetruck_q16.png", false, 1, args, sizeof args);
    dxf_case("firetruck_q16.png", true, 2, args, sizeof args);
    char cmd[33000];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/../vector/check_dxf.py%s", CARVE_TEST_DATA, args);
    int rc = system(cmd);
    CHECKF(rc == 0, "check_dxf.py failed");
}

/* ---- size ----------------------------------------------------------------------- */

static void check_attr(const char *svg, const char *want) {
    CHECKF(svg && strstr(svg, want), "SVG lacks %s: %.200s", want, svg ? svg : "(null)");
}

/* traces im as fmt: the document contains want */
static void check_doc(carve_ctx *ctx, const carve_image *im, const char *fmt, const char *want) {
    size_t n = 0;
    char *s = tu_trace(ctx, im, fmt, &n);
    check_attr(s, want);
    carve_free(s);
}

static void test_size(void) {
    carve_image *im = load("bus_q16.png"); /* 546 x 413 */
    if (!im) return;
    carve_ctx *ctx = carve_ctx_create();
    check_doc(ctx, im, "svg", "viewBox=\"0 0 546 413\" width=\"546\" height=\"413\"");
    tu_set_opt(ctx, "width", "300mm");
    check_doc(ctx, im, "svg", "viewBox=\"0 0 546 413\" width=\"300mm\" height=\"226.923mm\"");
    check_doc(ctx, im, "pdf", "/MediaBox [0 0 850.3937 643.2465]"); /* 300 mm = 850.3937 pt */
    size_t n = 0;
    char *s = tu_trace(ctx, im, "dxf", &n);
    check_attr(s, "$EXTMAX\n10\n300.0000\n20\n226.9231\n");
    check_attr(s, "$INSUNITS\n70\n4\n");
    carve_free(s);
    tu_set_opt(ctx, "height", "10mm"); /* both: the drawing fits inside 300 x 10 mm */
    check_doc(ctx, im, "svg", "width=\"13.2203mm\" height=\"10mm\"");
    tu_set_opt(ctx, "width", "");
    tu_set_opt(ctx, "height", "2in");
    check_doc(ctx, im, "svg", "width=\"2.64407in\" height=\"2in\"");
    tu_set_opt(ctx, "height", "");
    tu_set_opt(ctx, "dpi", "300");
    check_doc(ctx, im, "svg", "width=\"1.82in\" height=\"1.37667in\"");
    check_doc(ctx, im, "eps", "%%BoundingBox: 0 0 132 100\n"); /* 1.82 in = 131.04 pt */
    /* bad values: refused by the setter, naming the value; the option keeps its value */
    static const struct {
        const char *v, *msg;
    } bad[] = {{"300", "'300' has no unit"}, {"0mm", "more than 0"}, {"-5cm", "more than 0"},
               {"10001mm", "more than 10 m"}, {"20m", "unknown unit"}, {"wide", "not a length"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(carve_ctx_set_option(ctx, "width", bad[i].v), CARVE_ERR_OUT_OF_RANGE);
        CHECKF(strstr(carve_ctx_errmsg(ctx), bad[i].msg) && strstr(carve_ctx_errmsg(ctx), "width"), "%s -> %s",
               bad[i].v, carve_ctx_errmsg(ctx));
    }
    CHECK_ST(carve_ctx_set_option(ctx, "min_feature", ""), CARVE_ERR_OUT_OF_RANGE);
    char buf[64];
    carve_ctx_get_option(ctx, "width", buf, sizeof buf);
    CHECK(!strcmp(buf, ""));
    /* a size that only the image makes absurd: 546 px at 1 dpi = 13.9 m */
    tu_set_opt(ctx, "dpi", "1");
    char *d = NULL;
    CHECK_ST(carve_trace(ctx, im, &d, &n), CARVE_ERR_OUT_OF_RANGE);
    CHECKF(strstr(carve_ctx_errmsg(ctx), "10 m"), "%s", carve_ctx_errmsg(ctx));
    CHECK(d == NULL);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
}

/* ---- cut ------------------------------------------------------------------------ */

enum { CW = 96, CH = 72, CUT_R = 4 };

/* a scene with features under 4 px: a 1 px line, a 2 px strip, a 3 px spur,
 * a thin sliver in transparency, next to large shapes */
static carve_image *cut_scene(void) {
    static const uint32_t pal[] = {0x2040a0, 0xe0d0b0, 0xc02020, 0x20a040, 0xffcc00};
    carve_image *im = carve_image_create(CW, CH);
    uint8_t *p = carve_image_pixels(im);
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++) {
            int c = 0;
            if (x >= 10 && x < 50 && y >= 8 && y < 40) c = 1;           /* big block */
            if (x >= 50 && x < 53 && y >= 20 && y < 30) c = 1;          /* 3 px spur of it */
            if (y == 24 && x >= 12 && x < 48) c = 2;                    /* 1 px line across it */
            if (x >= 60 && x < 62 && y >= 5 && y < 50) c = 3;           /* 2 px strip */
            if (x >= 66 && x < 90 && y >= 10 && y < 34) c = 4;          /* block with a thin neck: */
            if (x >= 70 && x < 86 && y >= 14 && y < 30) c = 0;          /* a 4 px ring */
            bool clear = x >= 20 && x < 80 && y >= 50 && y < 66;      /* transparency */
            uint32_t rgb = pal[c];
            p[4 * (y * CW + x)] = (uint8_t)(rgb >> 16);
            p[4 * (y * CW + x) + 1] = (uint8_t)(rgb >> 8);
            p[4 * (y * CW + x) + 2] = (uint8_t)rgb;
            p[4 * (y * CW + x) + 3] = clear && !(y == 58 && x >= 30 && x < 70) ? 0 : 255; /* 1 px sliver */
        }
    return im;
}

/* every opaque pixel lies in some r x r square of its own colour */
static int64_t thin_pixels(const uint16_t *lab, int w, int h, int r) {
    int64_t bad = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint16_t c = lab[y * w + x];
            if (c == CARVE__LABEL_VOID) continue;
            bool ok = false;
            for (int y0 = y - r + 1; y0 <= y && !ok; y0++)
                for (int x0 = x - r + 1; x0 <= x && !ok; x0++) {
                    if (x0 < 0 || y0 < 0 || x0 + r > w || y0 + r > h) continue;
                    bool all = true;
                    for (int j = 0; j < r && all; j++)
                        for (int i = 0; i < r && all; i++) all = lab[(y0 + j) * w + x0 + i] == c;
                    ok = all;
                }
            bad += !ok;
        }
    return bad;
}

static void test_cut_filter(void) {
    carve_image *im = cut_scene();
    carve_ctx *ctx = carve_ctx_create();
    tu_set_opt(ctx, "min_feature", "4mm");
    vec_labels lab;
    CHECK_ST(carve__vec_labels(ctx, im, 256, &lab), CARVE_OK);
    CHECK(thin_pixels(lab.lab, CW, CH, CUT_R) > 100); /* the scene has thin features */
    CHECK_ST(carve__vec_cut_filter(ctx, &lab, 1.0), CARVE_OK); /* 1 mm per px: r = 4 */
    CHECK(thin_pixels(lab.lab, CW, CH, CUT_R) == 0);
    int64_t cnt[8] = {0}, voids = 0;
    for (int i = 0; i < CW * CH; i++) {
        if (lab.lab[i] == CARVE__LABEL_VOID) voids++;
        else cnt[lab.lab[i]]++;
    }
    /* the line (0xc02020) and the strip (0x20a040) are gone, the blocks stay */
    for (int c = 0; c < lab.ncolors; c++) {
        if (lab.colors[c] == 0xc02020 || lab.colors[c] == 0x20a040) CHECKF(cnt[c] == 0, "%06x kept %lld px", lab.colors[c], (long long)cnt[c]);
        if (lab.colors[c] == 0xe0d0b0) CHECK(cnt[c] >= 40 * 32 - 40);
    }
    CHECK(voids == 60 * 16); /* the sliver in transparency became transparent */
    carve__vec_labels_free(&lab);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
}

/* renders each fill <path> of a grouped SVG alone; the coverages never add
 * up to more than one pixel (+ antialiasing tolerance) */
static void check_no_overlap(const char *svg, int w, int h, int *npaths) {
    int *sum = calloc((size_t)w * h, sizeof(int));
    uint8_t *a = malloc((size_t)w * h);
    const char *head_end = strchr(svg, '>') + 1;
    *npaths = 0;
    for (const char *p = svg; (p = strstr(p, "<path fill=\"#"));) {
        const char *e = strstr(p, "/>") + 2;
        char *one = malloc((size_t)(head_end - svg) + (size_t)(e - p) + 16);
        size_t hl = (size_t)(head_end - svg);
        memcpy(one, svg, hl);
        memcpy(one + hl, p, (size_t)(e - p));
        strcpy(one + hl + (size_t)(e - p), "</svg>");
        double *y = svg_luma(one, strlen(one), w, h, a);
        CHECK(y != NULL);
        for (int i = 0; i < w * h; i++) sum[i] += a[i];
        free(y);
        free(one);
        (*npaths)++;
        p = e;
    }
    int mx = 0;
    for (int i = 0; i < w * h; i++) mx = sum[i] > mx ? sum[i] : mx;
    CHECKF(mx <= 255 + OVERLAP_TOL, "overlap: coverage sum %d", mx);
    free(sum);
    free(a);
}

static void test_cut_output(void) {
    carve_image *im = cut_scene();
    carve_ctx *ctx = carve_ctx_create();
    tu_set_opt(ctx, "cut", "true");
    tu_set_opt(ctx, "min_feature", "4mm");
    tu_set_opt(ctx, "dpi", "25.4"); /* 1 px = 1 mm */
    tu_set_opt(ctx, "group_by", "color");
    size_t n = 0;
    char *svg = tu_trace(ctx, im, "svg", &n);
    if (svg) {
        CHECK(strstr(svg, "<path id=\"CutContour\" class=\"CutContour\" fill=\"none\" stroke=\"#ff00ff\""));
        CHECK(!strstr(svg, "<g fill=\"none\"") && !strstr(svg, "paint-order")); /* no gap filler over neighbours */
        CHECK(strstr(svg, "<g id=\"color-"));
        int np = 0;
        check_no_overlap(svg, CW, CH, &np);
        CHECK(np >= 3);
        /* every subpath closed: as many z as subpath starts */
        int moves = 0, zs = 0;
        for (const char *p = svg; (p = strstr(p, " d=\"")); p++) {
            for (const char *q = p + 4; *q != '"'; q++) {
                moves += *q == 'M' || *q == 'm';
                zs += *q == 'z';
            }
        }
        CHECKF(moves == zs && zs > 0, "%d subpaths, %d closed", moves, zs);
    }
    carve_free(svg);
    char *pdf = tu_trace(ctx, im, "pdf", &n);
    CHECK(pdf && strstr(pdf, "[/Separation /CutContour /DeviceRGB") && strstr(pdf, "/CutContour CS 1 SCN"));
    carve_free(pdf);
    char *eps = tu_trace(ctx, im, "eps", &n);
    CHECK(eps && strstr(eps, "%%DocumentCustomColors: (CutContour)") && strstr(eps, "CutContourCS setcolorspace"));
    carve_free(eps);
    char *dxf = tu_trace(ctx, im, "dxf", &n);
    CHECK(dxf && strstr(dxf, "\n8\nCutContour\n"));
    carve_free(dxf);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
}

static void test_cut(void) {
    test_cut_filter();
    test_cut_output();
}

/* ---- determinism ---------------------------------------------------------------- */

static void test_determinism(void) {
    carve_image *im = load("firetruck_q16.png");
    if (!im) return;
    static const char *const fmts[] = {"svg", "pdf", "eps", "dxf"};
    for (int cut = 0; cut < 2; cut++)
        for (int f = 0; f < 4; f++) {
            char *ref = NULL;
            size_t rl = 0;
            for (int t = 1; t <= 4; t *= 2) {
                carve_ctx *ctx = tu_ctx_threads(t);
                tu_set_opt(ctx, "width", "20cm");
                if (cut) tu_set_opt(ctx, "cut", "true");
                if (cut) tu_set_opt(ctx, "group_by", "layer");
                size_t n = 0;
                char *d = tu_trace(ctx, im, fmts[f], &n);
                if (!ref) {
                    ref = d;
                    rl = n;
                } else {
                    CHECKF(d && n == rl && !memcmp(d, ref, n), "%s cut %d threads %d differs", fmts[f], cut, t);
                    carve_free(d);
                }
                carve_ctx_destroy(ctx);
            }
            carve_free(ref);
        }
    carve_image_destroy(im);
}

int main(int argc, char **argv) {
    const char *g = argc > 1 ? argv[1] : "";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/carve-export-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    int rc = 0;
    if (!strcmp(g, "render")) {
        if (!tu_have("pdftoppm") || !tu_have("gs")) {
            fprintf(stderr, "skip: pdftoppm (poppler-utils) or gs (ghostscript) missing: bash scripts/setup.sh --test\n");
            rc = 77;
        } else RUN(test_render);
    } else if (!strcmp(g, "dxf")) {
        if (system("/usr/bin/python3 -c 'import ezdxf' 2>/dev/null")) {
            fprintf(stderr, "skip: python3-ezdxf missing: bash scripts/setup.sh --test\n");
            rc = 77;
        } else RUN(test_dxf);
    } else if (!strcmp(g, "size")) RUN(test_size);
    else if (!strcmp(g, "cut")) RUN(test_cut);
    else if (!strcmp(g, "determinism")) RUN(test_determinism);
    else {
        fprintf(stderr, "usage: test_export render|dxf|size|cut|determinism\n");
        rc = 2;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return rc ? rc : test_done();
}
