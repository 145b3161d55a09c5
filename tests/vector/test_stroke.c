/* test_stroke.c — the stroke layers (docs/vector.md, "Strokes"):
 *
 *   centerline  an X, a circle and an L drawn 3 px wide (plus a thick block)
 *               traced with option centerline: a few stroked paths (open for
 *               the X and the L, closed for the circle), measured width ~3,
 *               the rendered strokes (librsvg) match the drawn lines (IoU),
 *               the fills no longer paint the lines, the block stays a fill;
 *               the width option honoured; PDF, EPS and DXF carry the strokes
 *               (round joins/caps, constant-width open polylines); cut mode
 *               leaves them out; bad widths are refused naming the option;
 *               the PDF rendered by poppler and the EPS by Ghostscript match
 *               the SVG's render (dark pixels within 1 px), the DXF read by
 *               ezdxf has 3 open and 1 closed constant-width polylines
 *   outline     an edge map through carve__vec_trace_doc_ex: strokes of the
 *               outline_width in the darkest colour; and carve_run with
 *               option outline on a sample photo: stroked paths in SVG and
 *               PDF with the width option, nothing painted as regions
 *   determinism byte-identical SVG/PDF/DXF for threads 1, 2, 4; the
 *               distance transform against brute force; and random
 *               small images (CARVE_FUZZ_N, default 300) with lines, edge
 *               maps, transparency, every mode: no failure, readable SVG,
 *               strokes in the darkest colour
 *
 * Usage: test_stroke GROUP. */
#include "test_render.h"
#include "test_util.h"
#include "core.h"
#include "vector/stroke.h"

#include <unistd.h>

#define W 200
#define H 150
#define LINE_W 3.0
#define IOU_MIN 0.80

/* distance from (px, py) to the segment a-b */
static double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, t = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - ax - t * dx, py - ay - t * dy);
}

/* white canvas; black lines 3 px wide: an X, a circle, an L; a black block
 * 30 x 24 (too thick for a line); line[] marks the line pixels */
static carve_image *scene(uint8_t *line) {
    carve_image *im = carve_image_create(W, H);
    uint8_t *p = carve_image_pixels(im);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double cx = x + 0.5, cy = y + 0.5, r = LINE_W / 2;
            bool on = seg_dist(cx, cy, 15.5, 15.5, 85.5, 85.5) <= r || seg_dist(cx, cy, 85.5, 15.5, 15.5, 85.5) <= r ||
                      fabs(hypot(cx - 140.5, cy - 50.5) - 30) <= r || seg_dist(cx, cy, 20.5, 110.5, 20.5, 140.5) <= r ||
                      seg_dist(cx, cy, 20.5, 140.5, 90.5, 140.5) <= r;
            bool block = x >= 150 && x < 180 && y >= 105 && y < 129;
            line[(size_t)y * W + x] = on;
            uint8_t v = on || block ? 0 : 255;
            uint8_t *q = p + 4 * ((size_t)y * W + x);
            q[0] = q[1] = q[2] = v;
            q[3] = 255;
        }
    return im;
}

/* the stroke <path>s of an SVG (fill="none", not the gap filler's <g>) */
static int stroke_paths(const char *svg, char *out, size_t cap, int *subpaths, int *closed) {
    int n = 0;
    size_t ol = 0;
    *subpaths = *closed = 0;
    for (const char *p = svg; (p = strstr(p, "<path fill=\"none\"")); p++) {
        const char *e = strstr(p, "/>");
        if (!e) break;
        size_t l = (size_t)(e + 2 - p);
        if (ol + l + 2 < cap) {
            memcpy(out + ol, p, l);
            ol += l;
            out[ol++] = '\n';
        }
        for (const char *d = strstr(p, " d=\""); d && d < e; d++) {
            *subpaths += *d == 'M' || *d == 'm';
            *closed += *d == 'z' || *d == 'Z';
        }
        n++;
    }
    out[ol] = 0;
    return n;
}

/* alpha of an SVG rendered by librsvg at w x h (dark_only: 255 where the
 * render over white is dark, green < 128, else 0) */
static uint8_t *render_alpha(const char *svg, int w, int h, bool dark_only) {
    uint32_t *px = tu_render(svg, strlen(svg), w, h);
    if (!px) return NULL;
    uint8_t *a = malloc((size_t)w * h);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        int al = TU_ALPHA(px[i]), g = (int)((px[i] >> 8) & 255) + (255 - al); /* over white */
        a[i] = (uint8_t)(dark_only ? (g < 128 ? 255 : 0) : al);
    }
    free(px);
    return a;
}

static double iou(const uint8_t *a, const uint8_t *ref, size_t n) {
    size_t in = 0, un = 0;
    for (size_t i = 0; i < n; i++) {
        bool x = a[i] >= 128, y = ref[i] != 0;
        in += x && y;
        un += x || y;
    }
    return un ? (double)in / (double)un : 0;
}

/* the stroke layer of the scene: count, kind, width, render vs the lines */
static void check_centerline_svg(const char *svg, const uint8_t *line) {
    static char strokes[1 << 20], doc[(1 << 20) + 256];
    int sub = 0, closed = 0;
    int items = stroke_paths(svg, strokes, sizeof strokes, &sub, &closed);
    CHECKF(items >= 1 && items <= 3, "%d stroke items (one per measured width)", items);
    CHECKF(sub >= 4 && sub <= 6, "%d stroked subpaths (X 2, circle 1, L 1 expected)", sub);
    CHECKF(closed == 1, "%d closed subpaths (the circle only)", closed);
    CHECK(strstr(strokes, "stroke=\"#000\"") != NULL); /* palette-exact: the input's black */
    CHECK(strstr(strokes, "stroke-linejoin=\"round\"") && strstr(strokes, "stroke-linecap=\"round\""));
    double wd = 0;
    for (const char *sw = strokes; (sw = strstr(sw, "stroke-width=\"")); sw++) {
        wd = atof(sw + 14); /* the X's diagonals are 3.54 px of pixel centres wide, the rest 3 */
        CHECKF(wd >= 2.5 && wd <= 3.75, "measured width %g (drawn %g)", wd, LINE_W);
    }
    snprintf(doc, sizeof doc, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n%s</svg>\n",
             W, H, W, H, strokes);
    uint8_t *a = render_alpha(doc, W, H, false);
    CHECK(a != NULL);
    if (a) {
        double v = iou(a, line, (size_t)W * H);
        fprintf(stderr, "  centreline strokes vs drawn lines: IoU %.3f, %d subpaths, width %g\n", v, sub, wd);
        CHECKF(v >= IOU_MIN, "IoU %.3f < %.2f", v, IOU_MIN);
    }
    free(a);
}

/* the SVG without its stroke paths */
static char *fills_only(const char *svg) {
    size_t n = strlen(svg);
    char *o = malloc(n + 1), *q = o;
    for (const char *p = svg; *p;) {
        const char *s = strstr(p, "<path fill=\"none\"");
        if (!s) s = svg + n;
        memcpy(q, p, (size_t)(s - p));
        q += s - p;
        if (!*s) break;
        const char *e = strstr(s, "/>\n");
        p = e ? e + 3 : svg + n;
    }
    *q = 0;
    return o;
}

static void check_fills(const char *svg, const uint8_t *line) {
    char *fo = fills_only(svg);
    uint8_t *f = render_alpha(fo, W, H, true);
    CHECK(f != NULL);
    size_t ln = 0, dark = 0, bdark = 0;
    for (int y = 0; f && y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            if (line[i]) ln++, dark += f[i] != 0;
            if (x >= 152 && x < 178 && y >= 107 && y < 127) bdark += f[i] != 0; /* the block's inside */
        }
    CHECKF(ln > 0 && dark * 20 < ln, "the fills still paint %zu of %zu line pixels", dark, ln);
    CHECKF(bdark == 26 * 20, "block: %zu of %d inner pixels filled dark", bdark, 26 * 20);
    free(f);
    free(fo);
}

static void test_centerline(void) {
    uint8_t *line = malloc((size_t)W * H);
    carve_image *im = scene(line);
    carve_ctx *ctx = carve_ctx_create();
    tu_set_opt(ctx, "centerline", "true");
    size_t n = 0;
    char *svg = tu_trace(ctx, im, "svg", &n);
    if (svg) {
        check_centerline_svg(svg, line);
        check_fills(svg, line);
    }
    carve_free(svg);
    /* the width option */
    tu_set_opt(ctx, "outline_width", "1.5");
    svg = tu_trace(ctx, im, "svg", &n);
    CHECK(svg && strstr(svg, "stroke-width=\"1.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\""));
    carve_free(svg);
    /* grouped: the strokes are their own group / Inkscape layer */
    tu_set_opt(ctx, "group_by", "layer");
    svg = tu_trace(ctx, im, "svg", &n);
    CHECK(svg && strstr(svg, "<g id=\"strokes\" inkscape:groupmode=\"layer\" inkscape:label=\"strokes\">\n<path fill=\"none\""));
    carve_free(svg);
    char *pl = tu_trace(ctx, im, "pdf", &n); /* PDF: the strokes' own optional content group */
    CHECK(pl && strstr(pl, "/Lstrokes 262 0 R") && strstr(pl, "<< /Type /OCG /Name (strokes) >>") &&
          strstr(pl, "/OC /Lstrokes BDC\n") && strstr(pl, " 262 0 R] >> >>"));
    carve_free(pl);
    tu_set_opt(ctx, "group_by", "none");
    /* PDF / EPS: round joins and caps, width in IR units (1.5 px x 100), stroked */
    char *pdf = tu_trace(ctx, im, "pdf", &n);
    CHECK(pdf && strstr(pdf, "1 j 1 J") && strstr(pdf, "\n150 w 1 J\n") && strstr(pdf, "\nS\n"));
    carve_free(pdf);
    char *eps = tu_trace(ctx, im, "eps", &n);
    CHECK(eps && strstr(eps, "\n150 w 1 J\n"));
    carve_free(eps);
    /* DXF: open polylines (70 = 0) with a constant width (43) */
    char *dxf = tu_trace(ctx, im, "dxf", &n);
    CHECK(dxf && strstr(dxf, "\n70\n0\n43\n0.3969\n") != NULL); /* 1.5 px at 96 dpi = 0.396875 mm */
    carve_free(dxf);
    /* cut mode: no strokes (a blade has no width), the lines stay shapes */
    tu_set_opt(ctx, "cut", "true");
    tu_set_opt(ctx, "min_feature", "0.5mm");
    svg = tu_trace(ctx, im, "svg", &n);
    CHECK(svg && !strstr(svg, "<path fill=\"none\"") && strstr(svg, "CutContour"));
    carve_free(svg);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
    free(line);
}

static void test_bad_width(void) {
    carve_ctx *ctx = carve_ctx_create();
    static const char *const bad[][2] = {{"outline_width", "100"}, {"outline_width", "-1"},
                                         {"outline_width", "wide"}, {"centerline_max_width", "0"}};
    for (int i = 0; i < 4; i++) {
        carve_status st = carve_ctx_set_option(ctx, bad[i][0], bad[i][1]);
        CHECKF(st == CARVE_ERR_OUT_OF_RANGE || st == CARVE_ERR_INVALID_ARG, "%s=%s accepted", bad[i][0], bad[i][1]);
        CHECKF(strstr(carve_ctx_errmsg(ctx), bad[i][0]) != NULL, "message '%s' does not name %s", carve_ctx_errmsg(ctx),
               bad[i][0]);
    }
    carve_ctx_destroy(ctx);
}

/* a grey rectangle on white; the edge map: its 1-px boundary ring and a
 * diagonal line inside */
static carve_image *edge_scene(uint8_t *edges) {
    carve_image *im = carve_image_create(W, H);
    uint8_t *p = carve_image_pixels(im);
    memset(edges, 0, (size_t)W * H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            bool in = x >= 40 && x < 160 && y >= 30 && y < 110;
            uint8_t *q = p + 4 * ((size_t)y * W + x);
            q[0] = q[1] = q[2] = in ? 0x80 : 0xff;
            q[3] = 255;
            bool ring = in && (x == 40 || x == 159 || y == 30 || y == 109);
            edges[(size_t)y * W + x] = ring || (in && x - 40 == y - 30 + 20 && x < 140);
        }
    return im;
}

static char *trace_ex(carve_ctx *ctx, const carve_image *im, const uint8_t *edges, vec_stroke_stats *stats, size_t *n) {
    char *d = NULL;
    carve_status st = carve__vec_trace_doc_ex(ctx, im, 0, 0, edges, stats, &d, n);
    CHECKF(st == CARVE_OK && d, "trace with an edge map: %s", carve_ctx_errmsg(ctx));
    return d;
}

static void test_outline_map(void) {
    uint8_t *edges = malloc((size_t)W * H);
    carve_image *im = edge_scene(edges);
    carve_ctx *ctx = carve_ctx_create();
    tu_set_opt(ctx, "outline_width", "2.5");
    vec_stroke_stats stats;
    size_t n = 0;
    char *svg = trace_ex(ctx, im, edges, &stats, &n);
    static char strokes[1 << 20];
    int sub = 0, closed = 0;
    if (svg) {
        int items = stroke_paths(svg, strokes, sizeof strokes, &sub, &closed);
        CHECKF(items == 1 && sub >= 2 && sub <= 4 && closed >= 1, "%d items, %d subpaths, %d closed", items, sub, closed);
        CHECK(strstr(strokes, "stroke=\"#808080\" stroke-width=\"2.5\"") != NULL); /* the darkest colour */
        CHECKF(stats.outline_paths == sub && stats.color == 0x808080, "stats %lld paths, colour %06x",
               (long long)stats.outline_paths, stats.color);
        char doc[(1 << 20) + 256];
        snprintf(doc, sizeof doc, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\">\n%s</svg>\n", W, H, strokes);
        uint8_t *a = render_alpha(doc, W, H, false);
        size_t ne = 0, cov = 0;
        for (size_t i = 0; a && i < (size_t)W * H; i++)
            if (edges[i]) ne++, cov += a[i] >= 128;
        CHECKF(a && cov * 100 >= ne * 97, "strokes cover %zu of %zu edge pixels", cov, ne);
        free(a);
    }
    carve_free(svg);
    /* cut mode leaves them out and says so */
    tu_set_opt(ctx, "cut", "true");
    svg = trace_ex(ctx, im, edges, &stats, &n);
    CHECK(svg && !strstr(svg, "<path fill=\"none\"") && stats.excluded_by_cut);
    carve_free(svg);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
    free(edges);
}

/* carve_run with option outline on a photo: SVG and PDF */
static void test_outline_run(void) {
    carve_image *img = tu_load_sample(NULL, "motorcycle_red_garage.png");
    CHECK(img != NULL);
    if (!img) return;
    for (int pdf = 0; pdf < 2; pdf++) {
        carve_ctx *ctx = carve_ctx_create();
        tu_set_opt(ctx, "work_size", "320");
        tu_set_opt(ctx, "matte_backend", "classical");
        tu_set_opt(ctx, "text_backend", "classical");
        tu_set_opt(ctx, "outline", "true");
        tu_set_opt(ctx, "outline_width", "3");
        if (pdf) tu_set_opt(ctx, "format", "pdf");
        char *d = NULL;
        size_t n = 0;
        carve_status st = carve_run(ctx, img, NULL, &d, &n);
        CHECKF(st == CARVE_OK && d, "run: %s", carve_ctx_errmsg(ctx));
        const char *rep = carve_ctx_report_json(ctx);
        const char *os = rep ? strstr(rep, "\"outline_strokes\": ") : NULL;
        long ns = os ? atol(os + 19) : 0;
        CHECKF(ns >= 5, "report: %ld outline strokes", ns);
        if (d && !pdf) {
            static char strokes[1 << 22];
            int sub = 0, closed = 0;
            int items = stroke_paths(d, strokes, sizeof strokes, &sub, &closed);
            CHECKF(items == 1 && sub == ns, "%d stroke items, %d subpaths, report %ld", items, sub, ns);
            CHECK(strstr(strokes, "stroke-width=\"3\" stroke-linejoin=\"round\" stroke-linecap=\"round\"") != NULL);
            fprintf(stderr, "  outline on the motorcycle: %d stroked subpaths (%d closed)\n", sub, closed);
        }
        if (d && pdf) CHECK(memcmp(d, "%PDF-", 5) == 0 && strstr(d, "\n300 w 1 J\n") && strstr(d, "1 j 1 J"));
        carve_free(d);
        carve_ctx_destroy(ctx);
    }
    carve_image_destroy(img);
}

static void test_outline(void) {
    test_outline_map();
    test_outline_run();
}

static void test_determinism(void) {
    uint8_t *line = malloc((size_t)W * H), *edges = malloc((size_t)W * H);
    carve_image *im = scene(line), *im2 = edge_scene(edges);
    static const char *const fmts[] = {"svg", "pdf", "dxf"};
    for (int f = 0; f < 3; f++) {
        char *ref[2] = {NULL, NULL};
        size_t rl[2] = {0, 0};
        for (int t = 1; t <= 4; t *= 2) {
            carve_ctx *ctx = tu_ctx_threads(t);
            tu_set_opt(ctx, "centerline", "true");
            tu_set_opt(ctx, "format", fmts[f]);
            for (int k = 0; k < 2; k++) {
                size_t n = 0;
                char *d = k ? trace_ex(ctx, im2, edges, NULL, &n) : tu_trace(ctx, im, fmts[f], &n);
                if (!ref[k]) {
                    ref[k] = d;
                    rl[k] = n;
                    CHECK(d && strstr(d, f == 2 ? "LWPOLYLINE" : f ? " w 1 J" : "fill=\"none\""));
                } else {
                    CHECKF(d && n == rl[k] && !memcmp(d, ref[k], n), "%s %s threads %d differs", fmts[f],
                           k ? "outline" : "centerline", t);
                    carve_free(d);
                }
            }
            carve_ctx_destroy(ctx);
        }
        carve_free(ref[0]);
        carve_free(ref[1]);
    }
    carve_image_destroy(im);
    carve_image_destroy(im2);
    free(line);
    free(edges);
}

/* ---- readback: PDF (poppler), EPS (Ghostscript), DXF (ezdxf) -------------- */

/* dark pixels (green < 128) of a binary PPM of w x h, NULL otherwise */
static uint8_t *ppm_dark(const char *path, int w, int h) {
    int pw = 0, ph = 0;
    uint8_t *px = tu_read_ppm(path, &pw, &ph), *m = NULL;
    if (px && pw == w && ph == h) {
        size_t n = (size_t)w * h;
        m = malloc(n);
        for (size_t i = 0; i < n; i++) m[i] = px[3 * i + 1] < 128 ? 255 : 0;
    }
    free(px);
    return m;
}

/* the fraction of a's dark pixels with a dark pixel of b in their 3x3
 * (renderers antialias a 2 px stroke's edges differently) */
static double near_frac(const uint8_t *a, const uint8_t *b) {
    size_t n = 0, hit = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (!a[(size_t)y * W + x]) continue;
            n++;
            bool f = false;
            for (int dy = -1; dy <= 1 && !f; dy++)
                for (int dx = -1; dx <= 1 && !f; dx++) {
                    int u = x + dx, v = y + dy;
                    f = u >= 0 && v >= 0 && u < W && v < H && b[(size_t)v * W + u];
                }
            hit += f;
        }
    return n ? (double)hit / (double)n : 0;
}

/* renders a document with cmd (printf: input, output) and compares its dark
 * pixels with the SVG's: each within 1 px of the other's, both ways */
static void render_vs_svg(const char *what, const char *cmd_fmt, const char *in, const char *out, const char *ppm,
                          const uint8_t *ref) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, cmd_fmt, in, out);
    CHECKF(system(cmd) == 0, "%s", cmd);
    uint8_t *m = ppm_dark(ppm, W, H);
    CHECKF(m != NULL, "%s: no %dx%d render", what, W, H);
    if (!m) return;
    double a = near_frac(m, ref), b = near_frac(ref, m);
    fprintf(stderr, "  %s vs SVG render, dark pixels: IoU %.3f, within 1 px %.3f / %.3f\n", what,
            iou(m, ref, (size_t)W * H), a, b);
    CHECKF(a >= 0.98 && b >= 0.98, "%s: %.3f / %.3f of the dark pixels within 1 px", what, a, b);
    free(m);
}

static void test_readback(void) {
    char dir[] = "/tmp/carve-stroke-XXXXXX";
    if (!mkdtemp(dir)) return;
    uint8_t *line = malloc((size_t)W * H);
    carve_image *im = scene(line);
    carve_ctx *ctx = carve_ctx_create();
    tu_set_opt(ctx, "centerline", "true");
    tu_set_opt(ctx, "outline_width", "2");
    size_t ns = 0, np = 0, ne = 0, nd = 0;
    char *svg = tu_trace(ctx, im, "svg", &ns), *pdf = tu_trace(ctx, im, "pdf", &np), *eps = tu_trace(ctx, im, "eps", &ne),
         *dxf = tu_trace(ctx, im, "dxf", &nd);
    uint8_t *ref = svg ? render_alpha(svg, W, H, true) : NULL;
    char fp[300], fe[300], fd[300], op[300], oe[300];
    snprintf(fp, sizeof fp, "%s/s.pdf", dir);
    snprintf(fe, sizeof fe, "%s/s.eps", dir);
    snprintf(fd, sizeof fd, "%s/s.dxf", dir);
    snprintf(op, sizeof op, "%s/p", dir);
    snprintf(oe, sizeof oe, "%s/e.ppm", dir);
    char pp[320];
    snprintf(pp, sizeof pp, "%s/p.ppm", dir);
    CHECK(ref && pdf && eps && dxf && tu_write_file(fp, pdf, np) && tu_write_file(fe, eps, ne) && tu_write_file(fd, dxf, nd));
    if (ref && tu_have("pdftoppm")) {
        render_vs_svg("PDF (pdftoppm)", "pdftoppm -r 96 -singlefile %s %s", fp, op, pp, ref);
    } else fprintf(stderr, "  (pdftoppm missing: PDF not rendered)\n");
    if (ref && tu_have("gs"))
        render_vs_svg("EPS (gs)", "gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=ppmraw -r96 -dEPSCrop -dGraphicsAlphaBits=4 -o %2$s %1$s",
                      fe, oe, oe, ref);
    else fprintf(stderr, "  (gs missing: EPS not rendered)\n");
    /* DXF: open polylines of constant width 2 px = 0.5292 mm on the black layer */
    if (!system("/usr/bin/python3 -c 'import ezdxf' 2>/dev/null")) {
        char cmd[1500];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import ezdxf,sys\n"
                 "d=ezdxf.readfile('%s'); m=d.modelspace()\n"
                 "s=[e for e in m if e.dxftype()=='LWPOLYLINE' and e.dxf.layer=='color-000000' and e.dxf.const_width>0]\n"
                 "ok=len([e for e in s if not e.closed])==3 and len([e for e in s if e.closed])==1 and "
                 "all(abs(e.dxf.const_width-2*25.4/96)<1e-3 for e in s) and not d.audit().has_errors\n"
                 "print('ezdxf: %%d stroked polylines, widths %%s'%%(len(s),sorted(set(round(e.dxf.const_width,4) for e in s))),file=sys.stderr)\n"
                 "sys.exit(0 if ok else 1)\"",
                 fd);
        CHECKF(system(cmd) == 0, "the DXF's stroked polylines (3 open, 1 closed, 0.5292 mm wide on color-000000)");
    } else fprintf(stderr, "  (python3-ezdxf missing: DXF not read back)\n");
    free(ref);
    carve_free(svg);
    carve_free(pdf);
    carve_free(eps);
    carve_free(dxf);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
    free(line);
    char rm[100];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm)) fprintf(stderr, "cannot remove %s\n", dir);
}

/* random small images with lines, blobs and transparency, every curve
 * mode, random widths and edge maps: the call succeeds, librsvg reads the
 * SVG, strokes are in an input colour; CARVE_FUZZ_N images (default 300) */
static uint32_t rnd(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void fuzz_one(uint32_t seed) {
    uint32_t r = seed;
    int w = 1 + (int)(rnd(&r) % 48), h = 1 + (int)(rnd(&r) % 48), nc = 2 + (int)(rnd(&r) % 3);
    static const uint32_t pal[] = {0x000000, 0xffffff, 0xd02020, 0x2040c0, 0x808080};
    carve_image *im = carve_image_create(w, h);
    uint8_t *p = carve_image_pixels(im), *edges = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        uint32_t c = pal[1 + rnd(&r) % (uint32_t)(nc - 1)];
        p[4 * i] = (uint8_t)(c >> 16), p[4 * i + 1] = (uint8_t)(c >> 8), p[4 * i + 2] = (uint8_t)c;
        p[4 * i + 3] = rnd(&r) % 8 ? 255 : 0;
        edges[i] = rnd(&r) % 5 == 0;
    }
    for (int k = 0, nl = (int)(rnd(&r) % 6); k < nl; k++) { /* dark lines 1-4 px wide */
        double ax = rnd(&r) % (uint32_t)w, ay = rnd(&r) % (uint32_t)h, bx = rnd(&r) % (uint32_t)w, by = rnd(&r) % (uint32_t)h;
        double lw = 0.5 + (rnd(&r) % 4) * 0.5;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if ((ax != bx || ay != by) && seg_dist(x + 0.5, y + 0.5, ax, ay, bx, by) <= lw)
                    memset(p + 4 * ((size_t)y * w + x), 0, 3), p[4 * ((size_t)y * w + x) + 3] = 255;
    }
    carve_ctx *ctx = carve_ctx_create();
    static const char *const modes[] = {"pixel", "polygon", "spline"};
    char v[16];
    tu_set_opt(ctx, "mode", modes[rnd(&r) % 3]);
    tu_set_opt(ctx, "centerline", rnd(&r) % 4 ? "true" : "false");
    snprintf(v, sizeof v, "%u", 1 + rnd(&r) % 6);
    tu_set_opt(ctx, "centerline_max_width", v);
    snprintf(v, sizeof v, "%u", rnd(&r) % 3);
    tu_set_opt(ctx, "outline_width", v);
    tu_set_opt(ctx, "filter_speckle", rnd(&r) % 2 ? "4" : "0");
    char *svg = NULL;
    size_t n = 0;
    carve_status st = carve__vec_trace_doc_ex(ctx, im, 0, 0, rnd(&r) % 2 ? edges : NULL, NULL, &svg, &n);
    CHECKF(st == CARVE_OK && svg, "seed %u (%dx%d): %s", seed, w, h, carve_ctx_errmsg(ctx));
    if (svg) {
        uint8_t *a = render_alpha(svg, w, h, false);
        CHECKF(a != NULL, "seed %u: librsvg cannot read the SVG", seed);
        free(a);
        double best = 1e9; /* the darkest opaque input colour */
        uint32_t dark = 0;
        for (int i = 0; i < w * h; i++) {
            uint32_t c = (uint32_t)p[4 * i] << 16 | (uint32_t)p[4 * i + 1] << 8 | p[4 * i + 2];
            double lab[3];
            carve_rgb_to_lab(c, lab);
            if (p[4 * i + 3] >= 128 && lab[0] < best) best = lab[0], dark = c;
        }
        char want[16];
        snprintf(want, sizeof want, "#%06x\"", dark);
        if (want[1] == want[2] && want[3] == want[4] && want[5] == want[6]) snprintf(want, sizeof want, "#%c%c%c\"", want[1], want[3], want[5]);
        for (const char *q = svg; (q = strstr(q, "<path fill=\"none\" stroke=\"")); q++)
            CHECKF(!strncmp(q + 26, want, strlen(want)), "seed %u: stroke colour %.8s, want %s", seed, q + 26, want);
    }
    carve_free(svg);
    carve_ctx_destroy(ctx);
    carve_image_destroy(im);
    free(edges);
}

/* the distance transform against brute force, both border rules */
static void test_edt(void) {
    uint32_t r = 77;
    for (int t = 0; t < 40; t++) {
        int w = 1 + (int)(rnd(&r) % 31), h = 1 + (int)(rnd(&r) % 23);
        uint8_t *m = malloc((size_t)w * h);
        float *d = malloc(sizeof(float) * (size_t)w * h);
        for (int i = 0; i < w * h; i++) m[i] = rnd(&r) % 100 < (uint32_t)(t % 2 ? 97 : 70);
        for (int border = 0; border < 4; border++) {
            double lim = border >= 2 ? 1 + t % 4 : 0; /* banded: exact up to lim */
            CHECK(carve__vec_edt(m, w, h, border & 1, lim, d) == 0);
            int bad = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    double best = (border & 1) ? fmin(fmin(x + 1, w - x), fmin(y + 1, h - y)) : 1e30;
                    best = best < 1e30 ? best * best : best;
                    for (int v = 0; v < h; v++)
                        for (int u = 0; u < w; u++)
                            if (!m[(size_t)v * w + u]) best = fmin(best, (double)(u - x) * (u - x) + (double)(v - y) * (v - y));
                    float got = d[(size_t)y * w + x];
                    if (lim > 0 && best > lim * lim) bad += got <= lim * lim;
                    else bad += best >= 1e30 ? got < 1e29f : fabs(got - best) > 1e-3;
                }
            CHECKF(!bad, "%dx%d border %d limit %g: %d wrong distances", w, h, border & 1, lim, bad);
        }
        free(m);
        free(d);
    }
}

static void test_fuzz(void) {
    const char *e = getenv("CARVE_FUZZ_N");
    int n = e ? atoi(e) : 300;
    for (int i = 0; i < n; i++) fuzz_one(0x5eed0000u + (uint32_t)i);
}

int main(int argc, char **argv) {
    const char *g = argc > 1 ? argv[1] : "";
    if (!strcmp(g, "centerline")) {
        RUN(test_centerline);
        RUN(test_bad_width);
        RUN(test_readback);
    } else if (!strcmp(g, "outline")) RUN(test_outline);
    else if (!strcmp(g, "determinism")) {
        RUN(test_determinism);
        RUN(test_edt);
        RUN(test_fuzz);
    } else {
        fprintf(stderr, "usage: test_stroke centerline|outline|determinism\n");
        return 2;
    }
    return test_done();
}
