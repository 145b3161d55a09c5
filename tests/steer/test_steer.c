/* test_steer.c — phase 2 (steer): the classical matte (IoU against a known
 * cut-out composited over busy photos, sanity on real samples, alpha
 * pass-through), Canny on synthetic edges, flattening (noise removed, edges
 * kept, identity at strength 0, alpha kept), determinism across thread
 * counts, cancellation and argument errors. */
#include "test_util.h"
#include "core.h"
#include "steer/steer.h"
#include "steer/steer_internal.h"

/* Bilinear sample of img's RGB at (fx, fy) (pixel-centre coordinates). */
static void sample_rgb(const carve_image *img, double fx, double fy, uint8_t out[3]) {
    if (fx < 0) fx = 0;
    if (fy < 0) fy = 0;
    if (fx > img->w - 1) fx = img->w - 1;
    if (fy > img->h - 1) fy = img->h - 1;
    int x0 = (int)fx, y0 = (int)fy, x1 = x0 + 1 < img->w ? x0 + 1 : x0, y1 = y0 + 1 < img->h ? y0 + 1 : y0;
    double tx = fx - x0, ty = fy - y0;
    for (int c = 0; c < 3; c++) {
        double v = (1 - ty) * ((1 - tx) * img->px[4 * ((size_t)y0 * img->w + x0) + c] +
                               tx * img->px[4 * ((size_t)y0 * img->w + x1) + c]) +
                   ty * ((1 - tx) * img->px[4 * ((size_t)y1 * img->w + x0) + c] +
                         tx * img->px[4 * ((size_t)y1 * img->w + x1) + c]);
        out[c] = (uint8_t)lrint(v);
    }
}

/* The composite: a cw x ch opaque canvas showing the crop (sx, sy, sw, sh)
 * of bg, with the cut-out fg (scaled by fs) over it at (ox, oy); *truth gets
 * fg's alpha at its place (0 elsewhere). */
static carve_image *composite(const carve_image *bg, int sx, int sy, int sw, int sh, int cw, int ch,
                              const carve_image *fg, double fs, int ox, int oy, uint8_t **truth) {
    carve_image *out = carve_image_create(cw, ch);
    uint8_t *t = calloc((size_t)cw * ch, 1);
    if (!out || !t) {
        carve_image_destroy(out);
        free(t);
        return NULL;
    }
    int fw = (int)lrint(fg->w * fs), fh = (int)lrint(fg->h * fs);
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            uint8_t *p = out->px + 4 * ((size_t)y * cw + x);
            sample_rgb(bg, sx + (x + 0.5) * sw / cw - 0.5, sy + (y + 0.5) * sh / ch - 0.5, p);
            p[3] = 255;
            int fx = x - ox, fy = y - oy;
            if (fx < 0 || fy < 0 || fx >= fw || fy >= fh) continue;
            /* nearest sample of the cut-out (its alpha stays exact) */
            int gx = carve__clampi((int)((fx + 0.5) / fs), 0, fg->w - 1);
            int gy = carve__clampi((int)((fy + 0.5) / fs), 0, fg->h - 1);
            const uint8_t *q = fg->px + 4 * ((size_t)gy * fg->w + gx);
            for (int c = 0; c < 3; c++) p[c] = (uint8_t)((q[c] * q[3] + p[c] * (255 - q[3]) + 127) / 255);
            t[(size_t)y * cw + x] = q[3];
        }
    *truth = t;
    return out;
}

/* STEER_DUMP=DIR writes each matte as an overlay PNG there (debug aid). */
static void dump_overlay(carve_ctx *ctx, const carve_image *img, const uint8_t *a, const char *name) {
    const char *dir = getenv("STEER_DUMP");
    if (!dir || !*dir) return;
    carve_image *o = carve_image_copy(img);
    if (!o) return;
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        uint8_t *p = o->px + 4 * i;
        if (a[i] < 128) {
            p[0] = p[0] / 4;
            p[1] = (uint8_t)(p[1] / 4 + 100);
            p[2] = p[2] / 4;
        }
        p[3] = 255;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    carve_image_save(ctx, o, path);
    carve_image_destroy(o);
}

static double iou(const uint8_t *a, const uint8_t *b, size_t n) {
    size_t inter = 0, uni = 0;
    for (size_t i = 0; i < n; i++) {
        int x = a[i] >= 128, y = b[i] >= 128;
        inter += x && y;
        uni += x || y;
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

typedef struct comp_cfg {
    const char *bg;
    int sx, sy, sw, sh, cw, ch;
    double fs;
    int ox, oy;
    bool assert_iou; /* the acceptance configuration */
} comp_cfg;

static const comp_cfg CONFIGS[] = {
    /* main: the fire engine in front of the houses, grass and rocks of the
     * supercar photo (its top part, without the car) */
    {"supercar_white_plate.jpg", 0, 0, 1000, 330, 1000, 560, 1.0, 100, 150, true},
    {"motorcycle_red_garage.png", 280, 0, 461, 140, 1000, 560, 1.0, 100, 130, false},
    {"motorcycle_red_garage.png", 340, 0, 400, 270, 1000, 600, 1.0, 100, 150, false},
    /* robustness (reported, only a weak bound asserted): other offsets,
     * scales and backgrounds, some with another vehicle behind the truck */
    {"motorcycle_red_garage.png", 340, 0, 400, 270, 1000, 600, 0.8, 260, 260, false},
    {"supercar_white_plate.jpg", 0, 0, 1000, 420, 1000, 560, 1.0, 100, 150, false},
    {"sedan_black_side.jpg", 0, 0, 1024, 360, 1000, 560, 1.0, 100, 170, false},
    {"pickup_white_street.jpg", 0, 0, 1800, 1200, 1200, 800, 1.4, 40, 190, false},
    {"pickup_white_street.jpg", 0, 0, 1800, 1200, 1000, 560, 1.0, 100, 130, false},
    {"bus_red_london_plate.jpg", 0, 0, 546, 413, 1000, 560, 1.0, 90, 120, false},
};

/* the composite of configuration c: fg over c's background photo, with its
 * truth mask; NULL if the photo did not load or compositing failed */
static carve_image *config_composite(carve_ctx *ctx, const carve_image *fg, const comp_cfg *c, uint8_t **truth) {
    carve_image *bg = tu_load_sample(ctx, c->bg);
    if (!bg) return NULL;
    carve_image *img = composite(bg, c->sx, c->sy, c->sw, c->sh, c->cw, c->ch, fg, c->fs, c->ox, c->oy, truth);
    carve_image_destroy(bg);
    return img;
}

static void test_matte_composite(void) {
    carve_image *fg = tu_load_sample(NULL, "firetruck_cutout_rgba.png");
    if (!fg) return;
    carve_ctx *ctx = carve_ctx_create();
    for (size_t k = 0; k < sizeof CONFIGS / sizeof CONFIGS[0]; k++) {
        const comp_cfg *c = &CONFIGS[k];
        uint8_t *truth = NULL, *alpha = NULL;
        carve_image *img = config_composite(ctx, fg, c, &truth);
        CHECK(img != NULL);
        if (img) {
            double t0 = carve__now();
            carve_status st = carve__matte_classical(ctx, img, &alpha);
            double t1 = carve__now();
            CHECKF(st == CARVE_OK, "%s", carve_ctx_errmsg(ctx));
            if (alpha) {
                double v = iou(alpha, truth, (size_t)img->w * img->h);
                fprintf(stderr, "  composite %zu (%s, offset %d,%d, scale %.2f): IoU %.4f (%.0f ms)\n", k, c->bg, c->ox,
                        c->oy, c->fs, v, (t1 - t0) * 1e3);
                char nm[64];
                snprintf(nm, sizeof nm, "composite%zu", k);
                dump_overlay(ctx, img, alpha, nm);
                if (c->assert_iou) CHECKF(v >= 0.9, "IoU %.4f < 0.9 on the main composite", v);
                else CHECKF(v >= 0.5, "IoU %.4f: the matte missed the fire engine on composite %zu", v, k);
            }
        }
        free(alpha);
        free(truth);
        carve_image_destroy(img);
    }
    carve_image_destroy(fg);
    carve_ctx_destroy(ctx);
}

/* The bounding box of the pixels >= 128 of a w*h map. */
static carve__box mask_bbox(const uint8_t *m, int w, int h) {
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x] >= 128) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    if (x1 < 0) return (carve__box){0, 0, 0, 0, 0, ""};
    return (carve__box){x0, y0, x1 - x0 + 1, y1 - y0 + 1, 1, "truth"};
}

/* The seeded matte on the same composites, with the fire engine's box as a
 * detector would give it (the truth's bounding box): the objects touching
 * the truck that fooled the unseeded matte stay outside. */
static void test_matte_seeded_composite(void) {
    carve_image *fg = tu_load_sample(NULL, "firetruck_cutout_rgba.png");
    if (!fg) return;
    carve_ctx *ctx = carve_ctx_create();
    double worst = 1, sum = 0;
    int nsum = 0;
    for (size_t k = 0; k < sizeof CONFIGS / sizeof CONFIGS[0]; k++) {
        const comp_cfg *c = &CONFIGS[k];
        uint8_t *truth = NULL, *alpha = NULL;
        carve_image *img = config_composite(ctx, fg, c, &truth);
        if (img) {
            carve__box b = mask_bbox(truth, img->w, img->h);
            carve__matte_seed seed = {&b, 1, NULL, 0, NULL, 0, false, false, 0, 0};
            double t0 = carve__now();
            carve_status st = carve__matte_seeded(ctx, img, &seed, &alpha);
            double t1 = carve__now();
            CHECKF(st == CARVE_OK, "%s", carve_ctx_errmsg(ctx));
            if (alpha) {
                double v = iou(alpha, truth, (size_t)img->w * img->h);
                if (v < worst) worst = v;
                sum += v;
                nsum++;
                fprintf(stderr, "  seeded composite %zu (%s): IoU %.4f (%.0f ms)\n", k, c->bg, v, (t1 - t0) * 1e3);
                char nm[64];
                snprintf(nm, sizeof nm, "seeded%zu", k);
                dump_overlay(ctx, img, alpha, nm);
                /* today 0.73-0.96 (unseeded 0.58-0.95); the main one >= 0.95 */
                double want = c->assert_iou ? 0.95 : 0.7;
                CHECKF(v >= want, "seeded IoU %.4f < %.2f on composite %zu", v, want, k);
            }
        }
        free(alpha);
        free(truth);
        carve_image_destroy(img);
    }
    fprintf(stderr, "  seeded: worst IoU %.4f, mean %.4f\n", worst, nsum ? sum / nsum : 0);
    /* mean 0.880 today; 0.851 before the margin between the box and the
     * sure-background line cost foreground and fed the first background
     * model (#6, #7: parts of the white pickup touching the truck were kept) */
    CHECKF(nsum == 0 || sum / nsum >= 0.87, "seeded mean IoU %.4f < 0.87", nsum ? sum / nsum : 0);
    carve_image_destroy(fg);
    carve_ctx_destroy(ctx);
}

/* A person (head, jacket, jeans) painted in front of the black sedan:
 * occluders=remove drops the person's pixels and keeps the car around them;
 * keep keeps them. */
static void paint_rect(carve_image *im, uint8_t *mask, int x0, int y0, int x1, int y1, int r, int g, int b) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint8_t *p = im->px + 4 * ((size_t)y * im->w + x);
            int n = ((x * 7 + y * 13) % 11) - 5; /* a little texture */
            p[0] = (uint8_t)carve__clampi(r + n, 0, 255);
            p[1] = (uint8_t)carve__clampi(g + n, 0, 255);
            p[2] = (uint8_t)carve__clampi(b + n, 0, 255);
            mask[(size_t)y * im->w + x] = 255;
        }
}

static void test_matte_occluder(void) {
    carve_image *car = tu_load_sample(NULL, "sedan_black_side.jpg");
    if (!car) return;
    carve_ctx *ctx = carve_ctx_create();
    int w = car->w, h = car->h;
    size_t n = (size_t)w * h;
    carve__box sedan = {48, 195, 909, 283, 0.9f, "car"};
    carve__matte_seed seed = {&sedan, 1, NULL, 0, NULL, 0, false, false, 0, 0};
    uint8_t *ref = NULL, *rm = NULL, *kp = NULL, *person = calloc(n, 1);
    CHECK_ST(carve__matte_seeded(ctx, car, &seed, &ref), CARVE_OK);
    carve_image *img = carve_image_copy(car);
    /* head, jacket, two legs, from above the roof line down to the road */
    paint_rect(img, person, 412, 232, 440, 262, 224, 172, 140);
    paint_rect(img, person, 392, 262, 460, 392, 40, 130, 60);
    paint_rect(img, person, 398, 392, 422, 520, 60, 70, 120);
    paint_rect(img, person, 430, 392, 454, 520, 60, 70, 120);
    carve__box pbox = {388, 228, 76, 296, 0.8f, "person"};
    seed.occluders = &pbox;
    seed.noccluders = 1;
    CHECK_ST(carve__matte_seeded(ctx, img, &seed, &rm), CARVE_OK);
    seed.keep_occluders = true;
    CHECK_ST(carve__matte_seeded(ctx, img, &seed, &kp), CARVE_OK);
    if (ref && rm && kp) {
        size_t pp = 0, pr = 0, pk = 0, inter = 0, uni = 0;
        for (size_t i = 0; i < n; i++) {
            if (person[i]) {
                pp++;
                pr += rm[i] >= 128;
                pk += kp[i] >= 128;
                continue;
            }
            inter += ref[i] >= 128 && rm[i] >= 128;
            uni += ref[i] >= 128 || rm[i] >= 128;
        }
        double car_iou = uni ? (double)inter / uni : 0;
        fprintf(stderr, "  occluder: person kept %.1f%% (remove), %.1f%% (keep); car around it IoU %.4f\n",
                100.0 * pr / pp, 100.0 * pk / pp, car_iou);
        CHECKF(pr * 10 <= pp, "remove kept %.1f%% of the person", 100.0 * pr / pp);
        CHECKF(pk * 2 >= pp, "keep kept only %.1f%% of the person", 100.0 * pk / pp);
        CHECKF(car_iou >= 0.9, "the car's visible parts: IoU %.4f vs the matte without the person", car_iou);
        carve__box kb = mask_bbox(rm, w, h);
        double ix = fmax(0, fmin(kb.x + kb.w, sedan.x + sedan.w) - fmax(kb.x, sedan.x));
        double iy = fmax(0, fmin(kb.y + kb.h, sedan.y + sedan.h) - fmax(kb.y, sedan.y));
        double bi = ix * iy / ((double)kb.w * kb.h + (double)sedan.w * sedan.h - ix * iy);
        CHECKF(bi >= 0.9, "kept box IoU %.3f vs the sedan's hand box", bi);
        dump_overlay(ctx, img, rm, "occluder_remove");
        dump_overlay(ctx, img, kp, "occluder_keep");
    }
    free(ref);
    free(rm);
    free(kp);
    free(person);
    carve_image_destroy(img);
    carve_image_destroy(car);
    carve_ctx_destroy(ctx);
}

/* Real photos: the matte is neither empty nor everything and sits in the
 * middle of the frame. */
static void test_matte_samples(void) {
    static const char *names[] = {"sedan_black_side.jpg", "motorcycle_red_garage.png", "bus_red_london_plate.jpg",
                                  "pickup_white_street.jpg", "supercar_white_plate.jpg"};
    carve_ctx *ctx = carve_ctx_create();
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        carve_image *img = tu_load_sample(ctx, names[k]);
        if (!img) continue;
        for (size_t i = 0; i < (size_t)img->w * img->h; i++) img->px[4 * i + 3] = 255;
        uint8_t *a = NULL;
        double t0 = carve__now();
        CHECK_ST(carve__matte_classical(ctx, img, &a), CARVE_OK);
        double t1 = carve__now();
        if (a) {
            size_t fg = 0;
            double cx = 0, cy = 0;
            for (int y = 0; y < img->h; y++)
                for (int x = 0; x < img->w; x++)
                    if (a[(size_t)y * img->w + x] >= 128) {
                        fg++;
                        cx += x;
                        cy += y;
                    }
            dump_overlay(ctx, img, a, names[k]);
            double frac = (double)fg / ((double)img->w * img->h);
            cx = fg ? cx / fg / img->w : 0;
            cy = fg ? cy / fg / img->h : 0;
            fprintf(stderr, "  %s %dx%d: foreground %.1f%%, centroid (%.2f, %.2f), %.0f ms\n", names[k], img->w, img->h,
                    100 * frac, cx, cy, (t1 - t0) * 1e3);
            CHECKF(frac > 0.05 && frac < 0.8, "%s: foreground fraction %.3f", names[k], frac);
            CHECKF(cx > 0.3 && cx < 0.7 && cy > 0.25 && cy < 0.75, "%s: centroid (%.2f, %.2f)", names[k], cx, cy);
        }
        free(a);
        carve_image_destroy(img);
    }
    carve_ctx_destroy(ctx);
}

/* An input that already has alpha: the matte is that alpha. */
static void test_matte_alpha_passthrough(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *fg = tu_load_sample(ctx, "firetruck_cutout_rgba.png");
    if (fg) {
        uint8_t *a = NULL;
        CHECK_ST(carve__matte_classical(ctx, fg, &a), CARVE_OK);
        int same = 1;
        for (size_t i = 0; a && i < (size_t)fg->w * fg->h; i++)
            if (a[i] != fg->px[4 * i + 3]) same = 0;
        CHECK(a && same);
        free(a);
        carve_image_destroy(fg);
    }
    carve_ctx_destroy(ctx);
}

/* A synthetic scene: a textured disc-ish blob on a two-colour background;
 * the matte must find it (exercises tiny and non-photo inputs too). */
static void test_matte_synthetic(void) {
    carve_ctx *ctx = carve_ctx_create();
    int w = 320, h = 200;
    carve_image *img = carve_image_create(w, h);
    uint8_t *truth = calloc((size_t)w * h, 1);
    uint32_t seed = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + 4 * ((size_t)y * w + x);
            seed = seed * 1664525u + 1013904223u;
            int noise = (int)(seed >> 27) - 16;
            double dx = (x - 160) / 100.0, dy = (y - 105) / 60.0;
            bool in = dx * dx + dy * dy <= 1;
            truth[(size_t)y * w + x] = in ? 255 : 0;
            if (in) {
                p[0] = (uint8_t)carve__clampi(200 + noise, 0, 255);
                p[1] = (uint8_t)carve__clampi(40 + noise, 0, 255);
                p[2] = (uint8_t)carve__clampi(30 + noise, 0, 255);
            } else {
                int g = y < 120 ? 150 : 90;
                p[0] = (uint8_t)carve__clampi(g + noise, 0, 255);
                p[1] = (uint8_t)carve__clampi(g + 20 + noise, 0, 255);
                p[2] = (uint8_t)carve__clampi(g + 60 + noise, 0, 255);
            }
            p[3] = 255;
        }
    uint8_t *a = NULL;
    CHECK_ST(carve__matte_classical(ctx, img, &a), CARVE_OK);
    if (a) {
        double v = iou(a, truth, (size_t)w * h);
        CHECKF(v > 0.95, "synthetic IoU %.4f", v);
    }
    free(a);
    /* tiny images work too (no crash, a valid buffer) */
    carve_image *tiny = carve_image_create(3, 2);
    for (int i = 0; i < 6; i++) tiny->px[4 * i + 3] = 255;
    a = NULL;
    CHECK_ST(carve__matte_classical(ctx, tiny, &a), CARVE_OK);
    CHECK(a != NULL);
    free(a);
    carve_image_destroy(tiny);
    free(truth);
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
}

/* ---- Canny ---------------------------------------------------------------- */
static void test_canny_rectangle(void) {
    carve_ctx *ctx = carve_ctx_create();
    int w = 200, h = 150, x0 = 50, y0 = 40, x1 = 150, y1 = 110; /* rectangle [x0,x1) x [y0,y1) */
    carve_image *img = carve_image_create(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + 4 * ((size_t)y * w + x);
            bool in = x >= x0 && x < x1 && y >= y0 && y < y1;
            p[0] = p[1] = p[2] = in ? 200 : 60;
            p[3] = 255;
        }
    uint8_t *e = NULL;
    CHECK_ST(carve__edges_canny(ctx, img, 1.4, 0.1, 0.3, &e), CARVE_OK);
    if (e) {
        int far = 0, on = 0;
        /* every edge pixel is within 1 px of the true boundary (between
         * pixel x0-1 and x0, etc.) */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                if (!e[(size_t)y * w + x]) continue;
                on++;
                bool near_v = (x >= x0 - 2 && x <= x0 + 1) || (x >= x1 - 2 && x <= x1 + 1);
                bool near_h = (y >= y0 - 2 && y <= y0 + 1) || (y >= y1 - 2 && y <= y1 + 1);
                bool inside_span_v = y >= y0 - 2 && y <= y1 + 1, inside_span_h = x >= x0 - 2 && x <= x1 + 1;
                if (!((near_v && inside_span_v) || (near_h && inside_span_h))) far++;
            }
        CHECKF(far == 0, "%d edge pixels away from the rectangle", far);
        /* the boundary is found: each side has an edge pixel within 1 px in
         * (almost) every row/column along it */
        int miss = 0;
        for (int y = y0 + 3; y < y1 - 3; y++) {
            bool l = false, r = false;
            for (int x = x0 - 2; x <= x0 + 1; x++) l |= e[(size_t)y * w + x] != 0;
            for (int x = x1 - 2; x <= x1 + 1; x++) r |= e[(size_t)y * w + x] != 0;
            miss += !l + !r;
        }
        for (int x = x0 + 3; x < x1 - 3; x++) {
            bool t = false, b = false;
            for (int y = y0 - 2; y <= y0 + 1; y++) t |= e[(size_t)y * w + x] != 0;
            for (int y = y1 - 2; y <= y1 + 1; y++) b |= e[(size_t)y * w + x] != 0;
            miss += !t + !b;
        }
        CHECKF(miss == 0, "%d boundary rows/columns without an edge", miss);
        /* thin: about one pixel per boundary position */
        int perim = 2 * (x1 - x0) + 2 * (y1 - y0);
        CHECKF(on <= perim * 1.3 && on >= perim * 0.8, "%d edge pixels for a perimeter of %d", on, perim);
    }
    free(e);
    /* a flat image has no edges */
    carve_image *flat = carve_image_create(64, 64);
    for (int i = 0; i < 64 * 64; i++) {
        flat->px[4 * i] = flat->px[4 * i + 1] = flat->px[4 * i + 2] = 128;
        flat->px[4 * i + 3] = 255;
    }
    e = NULL;
    CHECK_ST(carve__edges_canny(ctx, flat, 1.0, 0.1, 0.2, &e), CARVE_OK);
    int any = 0;
    for (int i = 0; e && i < 64 * 64; i++) any += e[i] != 0;
    CHECK(e && any == 0);
    free(e);
    /* bad arguments name the parameter */
    e = NULL;
    CHECK_ST(carve__edges_canny(ctx, img, 1.0, 0.5, 0.2, &e), CARVE_ERR_OUT_OF_RANGE);
    CHECK(e == NULL && strstr(carve_ctx_errmsg(ctx), "lo") != NULL);
    CHECK_ST(carve__edges_canny(ctx, img, -1, 0.1, 0.2, &e), CARVE_ERR_OUT_OF_RANGE);
    CHECK(strstr(carve_ctx_errmsg(ctx), "sigma") != NULL);
    CHECK_ST(carve__edges_canny(ctx, NULL, 1, 0.1, 0.2, &e), CARVE_ERR_INVALID_ARG);
    carve_image_destroy(flat);
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
}

/* ---- flatten ---------------------------------------------------------------- */
static double region_var(const carve_image *im, int x0, int y0, int x1, int y1, int c) {
    double s = 0, ss = 0, n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            double v = im->px[4 * ((size_t)y * im->w + x) + c];
            s += v;
            ss += v * v;
            n++;
        }
    return ss / n - (s / n) * (s / n);
}

static carve_image *noisy_step(int w, int h, int amp) {
    carve_image *img = carve_image_create(w, h);
    uint32_t seed = 777;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + 4 * ((size_t)y * w + x);
            int base = x < w / 2 ? 60 : 190;
            for (int c = 0; c < 3; c++) {
                seed = seed * 1664525u + 1013904223u;
                int noise = (int)((seed >> 24) % (2 * amp + 1)) - amp;
                p[c] = (uint8_t)carve__clampi(base + (c == 2 ? 20 : 0) + noise, 0, 255);
            }
            p[3] = (uint8_t)(y < 4 ? 0 : 255);
        }
    return img;
}

/* noisy_step's edge after flattening: the mean red of the column 1 px right
 * of the step minus that 2 px left of it, over rows 20..h-21 */
static double step_contrast(const carve_image *out) {
    int w = out->w, h = out->h;
    double l = 0, r = 0;
    for (int y = 20; y < h - 20; y++) {
        l += out->px[4 * ((size_t)y * w + w / 2 - 2)];
        r += out->px[4 * ((size_t)y * w + w / 2 + 1)];
    }
    return (r - l) / (h - 40);
}

static void test_flatten(void) {
    carve_ctx *ctx = carve_ctx_create();
    int w = 240, h = 160;
    carve_image *img = noisy_step(w, h, 30);
    carve_image *out = NULL;
    CHECK_ST(carve__flatten(ctx, img, 1.0, &out), CARVE_OK);
    if (out) {
        double v0 = region_var(img, 20, 20, w / 2 - 20, h - 20, 0), v1 = region_var(out, 20, 20, w / 2 - 20, h - 20, 0);
        double r0 = region_var(img, w / 2 + 20, 20, w - 20, h - 20, 1);
        double r1 = region_var(out, w / 2 + 20, 20, w - 20, h - 20, 1);
        fprintf(stderr, "  flatten: variance %.1f -> %.1f (left), %.1f -> %.1f (right)\n", v0, v1, r0, r1);
        CHECKF(v1 < v0 / 8, "left variance %.1f -> %.1f", v0, v1);
        CHECKF(r1 < r0 / 8, "right variance %.1f -> %.1f", r0, r1);
        /* the step stays sharp: the columns 2 px either side of it keep
         * (almost) the full contrast of 130 */
        double c = step_contrast(out);
        CHECKF(c > 110, "edge contrast %.1f (want > 110 of 130)", c);
        int alpha_same = 1;
        for (size_t i = 0; i < (size_t)w * h; i++)
            if (out->px[4 * i + 3] != img->px[4 * i + 3]) alpha_same = 0;
        CHECK(alpha_same);
    }
    carve_image_destroy(out);
    /* stronger flattening: flatter still, the edge still sharp */
    out = NULL;
    CHECK_ST(carve__flatten(ctx, img, 3.0, &out), CARVE_OK);
    if (out) {
        double v0 = region_var(img, 20, 20, w / 2 - 20, h - 20, 0), v1 = region_var(out, 20, 20, w / 2 - 20, h - 20, 0);
        double c = step_contrast(out);
        fprintf(stderr, "  flatten 3: variance %.1f -> %.1f, edge contrast %.1f\n", v0, v1, c);
        CHECKF(v1 < v0 / 50, "strength 3: variance %.1f -> %.1f", v0, v1);
        CHECKF(c > 110, "strength 3: edge contrast %.1f (want > 110 of 130)", c);
    }
    carve_image_destroy(out);
    /* strength 0 = identity copy */
    out = NULL;
    CHECK_ST(carve__flatten(ctx, img, 0, &out), CARVE_OK);
    CHECK(out && out != img && !memcmp(out->px, img->px, (size_t)w * h * 4));
    carve_image_destroy(out);
    /* errors */
    out = NULL;
    CHECK_ST(carve__flatten(ctx, img, 6, &out), CARVE_ERR_OUT_OF_RANGE);
    CHECK(out == NULL && strstr(carve_ctx_errmsg(ctx), "strength") != NULL);
    CHECK_ST(carve__flatten(ctx, NULL, 1, &out), CARVE_ERR_INVALID_ARG);
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
}

/* ---- determinism and cancellation --------------------------------------------- */
static void test_threads_identical(void) {
    carve_ctx *c1 = carve_ctx_create(), *c2 = carve_ctx_create();
    CHECK_ST(carve_ctx_set_option(c1, "threads", "1"), CARVE_OK);
    CHECK_ST(carve_ctx_set_option(c2, "threads", "2"), CARVE_OK);
    carve_image *img = tu_load_sample(c1, "sedan_black_side.jpg");
    if (img) {
        size_t n = (size_t)img->w * img->h;
        uint8_t *a1 = NULL, *a2 = NULL, *e1 = NULL, *e2 = NULL;
        carve_image *f1 = NULL, *f2 = NULL;
        CHECK_ST(carve__matte_classical(c1, img, &a1), CARVE_OK);
        CHECK_ST(carve__matte_classical(c2, img, &a2), CARVE_OK);
        CHECK(a1 && a2 && !memcmp(a1, a2, n));
        CHECK_ST(carve__edges_canny(c1, img, 1.5, 0.1, 0.25, &e1), CARVE_OK);
        CHECK_ST(carve__edges_canny(c2, img, 1.5, 0.1, 0.25, &e2), CARVE_OK);
        CHECK(e1 && e2 && !memcmp(e1, e2, n));
        CHECK_ST(carve__flatten(c1, img, 2.0, &f1), CARVE_OK);
        CHECK_ST(carve__flatten(c2, img, 2.0, &f2), CARVE_OK);
        CHECK(f1 && f2 && !memcmp(f1->px, f2->px, 4 * n));
        /* and the same call twice gives the same bytes */
        uint8_t *a3 = NULL;
        CHECK_ST(carve__matte_classical(c2, img, &a3), CARVE_OK);
        CHECK(a3 && a1 && !memcmp(a1, a3, n));
        free(a1);
        free(a2);
        free(a3);
        free(e1);
        free(e2);
        carve_image_destroy(f1);
        carve_image_destroy(f2);
        carve_image_destroy(img);
    }
    carve_ctx_destroy(c1);
    carve_ctx_destroy(c2);
}

static int cancel_after(void *user, double f, const char *stage) {
    (void)f;
    (void)stage;
    int *calls = user;
    return ++*calls >= 2;
}

static void test_cancel(void) {
    carve_ctx *ctx = carve_ctx_create();
    carve_image *img = noisy_step(300, 200, 20);
    for (int i = 0; i < 300 * 200; i++) img->px[4 * i + 3] = 255;
    int calls = 0;
    carve_ctx_set_progress(ctx, cancel_after, &calls);
    uint8_t *a = NULL;
    CHECK_ST(carve__matte_classical(ctx, img, &a), CARVE_ERR_CANCELLED);
    CHECK(a == NULL);
    carve_ctx_reset_cancel(ctx);
    calls = 0;
    carve_image *out = NULL;
    CHECK_ST(carve__flatten(ctx, img, 2, &out), CARVE_ERR_CANCELLED);
    CHECK(out == NULL);
    carve_ctx_reset_cancel(ctx);
    calls = 0;
    uint8_t *e = NULL;
    CHECK_ST(carve__edges_canny(ctx, img, 1, 0.1, 0.2, &e), CARVE_ERR_CANCELLED);
    CHECK(e == NULL);
    /* a progress callback sees "matte" and reaches 1 */
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
}

/* ---- the max-flow solver on small graphs with known answers -------------------- */
static void test_maxflow(void) {
    /* 3x1 grid: s -> 0 (5), 0 -> 1 (3), 1 -> 2 (4), 2 -> t (6): max flow 3,
     * the cut separates {0} from {1, 2} */
    carve__mf *g = carve__mf_create(3, 1);
    carve__mf_tweights(g, 0, 5, 0);
    carve__mf_tweights(g, 2, 0, 6);
    carve__mf_edge(g, 0, 0, 3, 0);
    carve__mf_edge(g, 1, 0, 4, 0);
    int64_t flow = -1;
    CHECK_ST(carve__mf_solve(g, NULL, &flow), CARVE_OK);
    CHECK(flow == 3);
    CHECK(carve__mf_source_side(g, 0) && !carve__mf_source_side(g, 1) && !carve__mf_source_side(g, 2));
    carve__mf_destroy(g);
    /* random grids: the flow equals the capacity of the cut found (min-cut =
     * max-flow), checked by summing the cut's capacities independently */
    uint32_t seed = 99;
    for (int trial = 0; trial < 20; trial++) {
        int w = 7 + trial % 5, h = 5 + trial % 3, n = w * h;
        g = carve__mf_create(w, h);
        int32_t *ts = calloc((size_t)n, sizeof(int32_t)), *tt = calloc((size_t)n, sizeof(int32_t));
        int32_t *cap = calloc((size_t)n * 8, sizeof(int32_t));
        static const int DX[8] = {1, 1, 0, -1, -1, -1, 0, 1}, DY[8] = {0, 1, 1, 1, 0, -1, -1, -1};
        for (int i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            ts[i] = (int32_t)((seed >> 8) % 20);
            seed = seed * 1664525u + 1013904223u;
            tt[i] = (int32_t)((seed >> 8) % 20);
            carve__mf_tweights(g, i, ts[i], tt[i]);
            for (int d = 0; d < 4; d++) {
                int x = i % w + DX[d], y = i / w + DY[d];
                if (x < 0 || x >= w || y >= h) continue;
                seed = seed * 1664525u + 1013904223u;
                int32_t a = (int32_t)((seed >> 8) % 10);
                seed = seed * 1664525u + 1013904223u;
                int32_t b = (int32_t)((seed >> 8) % 10);
                carve__mf_edge(g, i, d, a, b);
                cap[8 * i + d] = a;
                cap[8 * (y * w + x) + (d ^ 4)] = b;
            }
        }
        CHECK_ST(carve__mf_solve(g, NULL, &flow), CARVE_OK);
        int64_t cut = 0;
        for (int i = 0; i < n; i++) {
            bool si = carve__mf_source_side(g, i);
            cut += si ? tt[i] : ts[i];
            for (int d = 0; d < 8; d++) {
                int x = i % w + DX[d], y = i / w + DY[d];
                if (x < 0 || y < 0 || x >= w || y >= h) continue;
                if (si && !carve__mf_source_side(g, y * w + x)) cut += cap[8 * i + d];
            }
        }
        CHECKF(cut == flow, "trial %d: flow %lld, cut %lld", trial, (long long)flow, (long long)cut);
        free(ts);
        free(tt);
        free(cap);
        carve__mf_destroy(g);
    }
}

/* degenerate sizes: no crash, valid buffers of the right size */
static void test_degenerate_sizes(void) {
    carve_ctx *ctx = carve_ctx_create();
    static const int sizes[][2] = {{1, 1}, {1, 40}, {40, 1}, {2, 2}, {5, 3}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        carve_image *img = carve_image_create(w, h);
        for (int i = 0; i < w * h; i++) {
            img->px[4 * i] = (uint8_t)(i * 37);
            img->px[4 * i + 1] = (uint8_t)(i * 11);
            img->px[4 * i + 2] = 90;
            img->px[4 * i + 3] = 255;
        }
        uint8_t *a = NULL, *e = NULL;
        carve_image *f = NULL;
        CHECK_ST(carve__matte_classical(ctx, img, &a), CARVE_OK);
        CHECK_ST(carve__edges_canny(ctx, img, 1.0, 0.1, 0.3, &e), CARVE_OK);
        CHECK_ST(carve__flatten(ctx, img, 2.0, &f), CARVE_OK);
        CHECK(a && e && f && f->w == w && f->h == h);
        free(a);
        free(e);
        carve_image_destroy(f);
        carve_image_destroy(img);
    }
    carve_image *empty = carve_image_create(0, 0);
    uint8_t *a = NULL;
    CHECK_ST(carve__matte_classical(ctx, empty, &a), CARVE_ERR_EMPTY);
    CHECK(a == NULL && strstr(carve_ctx_errmsg(ctx), "matte") != NULL);
    CHECK_ST(carve__edges_canny(ctx, empty, 1.0, 0.1, 0.3, &a), CARVE_ERR_EMPTY);
    carve_image *f = NULL;
    CHECK_ST(carve__flatten(ctx, empty, 1.0, &f), CARVE_OK); /* nothing to flatten: an empty copy */
    CHECK(f && f->w == 0);
    carve_image_destroy(f);
    carve_image_destroy(empty);
    carve_ctx_destroy(ctx);
}

int main(void) {
    RUN(test_maxflow);
    RUN(test_canny_rectangle);
    RUN(test_flatten);
    RUN(test_matte_synthetic);
    RUN(test_degenerate_sizes);
    RUN(test_matte_alpha_passthrough);
    RUN(test_matte_composite);
    RUN(test_matte_seeded_composite);
    RUN(test_matte_occluder);
    RUN(test_matte_samples);
    RUN(test_threads_identical);
    RUN(test_cancel);
    return test_done();
}
