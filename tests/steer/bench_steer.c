/* bench_steer.c — times the steer phase on the sample photos resized to a
 * given pixel count: matte, Canny, flatten (wall and process CPU time).
 *
 *   bench_steer [MPX] [THREADS] [STRENGTH] [OUTDIR]
 *
 * MPX (default 1.0) is the target size in megapixels; with OUTDIR the
 * matte overlay and the flattened image of each photo are written there.
 * Also reports, as a proxy for the size of the traced SVG, the number of
 * 4-connected regions after quantising to 4 bits per channel, before and
 * after flattening. */
#include "core.h"
#include "steer/steer.h"
#include "steer/steer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#ifndef CARVE_TEST_DATA
#define CARVE_TEST_DATA "tests/data"
#endif

/* regions of equal 4-bit-per-channel colour (4-connected) */
static long count_regions(const carve_image *im) {
    int w = im->w, h = im->h;
    size_t n = (size_t)w * h;
    uint16_t *q = malloc(n * sizeof(uint16_t));
    int *stack = malloc(n * sizeof(int));
    uint8_t *seen = calloc(n, 1);
    long regions = -1;
    if (q && stack && seen) {
        regions = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = im->px + 4 * i;
            q[i] = (uint16_t)(((p[0] >> 4) << 8) | ((p[1] >> 4) << 4) | (p[2] >> 4));
        }
        for (size_t s = 0; s < n; s++) {
            if (seen[s]) continue;
            regions++;
            int sp = 0;
            stack[sp++] = (int)s;
            seen[s] = 1;
            while (sp) {
                int p = stack[--sp], x = p % w, y = p / w;
                int nb[4] = {x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1};
                for (int k = 0; k < 4; k++)
                    if (nb[k] >= 0 && !seen[nb[k]] && q[nb[k]] == q[p]) {
                        seen[nb[k]] = 1;
                        stack[sp++] = nb[k];
                    }
            }
        }
    }
    free(q);
    free(stack);
    free(seen);
    return regions;
}

/* Gaussian-like blur (three box passes of radius r per channel) */
static carve_image *box_blur(const carve_image *im, int r) {
    int w = im->w, h = im->h;
    size_t n = (size_t)w * h;
    carve_image *out = carve_image_copy(im);
    float *a = malloc(n * sizeof(float)), *t = malloc(n * sizeof(float));
    if (out && a && t)
        for (int c = 0; c < 3; c++) {
            for (size_t i = 0; i < n; i++) a[i] = im->px[4 * i + c];
            for (int p = 0; p < 3; p++) carve__steer_boxmean(a, a, t, w, h, r, 1);
            for (size_t i = 0; i < n; i++) out->px[4 * i + c] = (uint8_t)lrintf(a[i]);
        }
    free(a);
    free(t);
    return out;
}

/* mean luma gradient (central differences) over the pixels marked in e */
static double edge_gradient(const carve_image *im, const uint8_t *e) {
    int w = im->w, h = im->h;
    double s = 0;
    long cnt = 0;
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            if (!e[(size_t)y * w + x]) continue;
            const uint8_t *l = im->px + 4 * ((size_t)y * w + x - 1), *r = l + 8;
            const uint8_t *u = im->px + 4 * ((size_t)(y - 1) * w + x), *d = im->px + 4 * ((size_t)(y + 1) * w + x);
            double gx = 0.299 * (r[0] - l[0]) + 0.587 * (r[1] - l[1]) + 0.114 * (r[2] - l[2]);
            double gy = 0.299 * (d[0] - u[0]) + 0.587 * (d[1] - u[1]) + 0.114 * (d[2] - u[2]);
            s += sqrt(gx * gx + gy * gy);
            cnt++;
        }
    return cnt ? s / cnt : 0;
}

int main(int argc, char **argv) {
    double mpx = argc > 1 ? atof(argv[1]) : 1.0;
    const char *threads = argc > 2 ? argv[2] : "1";
    double strength = argc > 3 ? atof(argv[3]) : 1.0;
    const char *outdir = argc > 4 ? argv[4] : NULL;
    static const char *names[] = {"sedan_black_side.jpg", "motorcycle_red_garage.png", "bus_red_london_plate.jpg",
                                  "pickup_white_street.jpg", "supercar_white_plate.jpg"};
    carve_ctx *ctx = carve_ctx_create();
    if (!ctx || carve_ctx_set_option(ctx, "threads", threads)) {
        fprintf(stderr, "bench_steer: bad thread count %s\n", threads);
        return 2;
    }
    printf("%-26s %10s %9s %9s %9s %9s %9s %9s %9s %9s %7s %7s\n", "photo (threads)", "size", "matte_ms",
           "matte_cpu", "canny_ms", "flat_ms", "flat_cpu", "regions0", "regions1", "reg_blur", "edge1", "edgeblr");
    double tot[5] = {0, 0, 0, 0, 0};
    int cnt = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/samples/%s", CARVE_TEST_DATA, names[k]);
        carve_image *src = NULL;
        if (carve_image_load(ctx, path, &src)) {
            fprintf(stderr, "%s\n", carve_ctx_errmsg(ctx));
            continue;
        }
        double f = sqrt(mpx * 1e6 / ((double)src->w * src->h));
        int w = (int)lround(src->w * f), h = (int)lround(src->h * f);
        carve_image *img = NULL;
        if (carve__resize(ctx, src, w, h, CARVE_KERNEL_AREA, &img)) img = NULL;
        carve_image_destroy(src);
        if (!img) continue;
        for (size_t i = 0; i < (size_t)w * h; i++) img->px[4 * i + 3] = 255;
        uint8_t *a = NULL, *e = NULL;
        carve_image *flat = NULL;
        double t0 = carve__now(), c0 = carve__cpu_now();
        carve_status st = carve__matte_classical(ctx, img, &a);
        double t1 = carve__now(), c1 = carve__cpu_now();
        if (!st) st = carve__edges_canny(ctx, img, 1.5, 0.1, 0.25, &e);
        double t2 = carve__now(), c2 = carve__cpu_now();
        if (!st) st = carve__flatten(ctx, img, strength, &flat);
        double t3 = carve__now(), c3 = carve__cpu_now();
        (void)c2;
        if (st) {
            fprintf(stderr, "%s: %s\n", names[k], carve_ctx_errmsg(ctx));
        } else {
            /* regions (SVG-size proxy) and edge gradient kept (relative to the
             * photo's, at its Canny edges): flatten vs. a plain Gaussian blur */
            carve_image *blur = box_blur(img, 2);
            long r0 = count_regions(img), r1 = count_regions(flat), r2 = blur ? count_regions(blur) : -1;
            double g0 = edge_gradient(img, e), g1 = edge_gradient(flat, e), g2 = blur ? edge_gradient(blur, e) : 0;
            printf("%-22s (%s) %5dx%-5d %9.1f %9.1f %9.1f %9.1f %9.1f %9ld %9ld %9ld %7.2f %7.2f\n", names[k], threads,
                   w, h, (t1 - t0) * 1e3, (c1 - c0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (c3 - c2) * 1e3, r0, r1,
                   r2, g0 > 0 ? g1 / g0 : 0, g0 > 0 ? g2 / g0 : 0);
            carve_image_destroy(blur);
            tot[0] += (t1 - t0) * 1e3;
            tot[1] += (c1 - c0) * 1e3;
            tot[2] += (t2 - t1) * 1e3;
            tot[3] += (t3 - t2) * 1e3;
            tot[4] += (c3 - c2) * 1e3;
            cnt++;
            if (outdir) {
                char out[1200];
                snprintf(out, sizeof out, "%s/flat_%s.png", outdir, names[k]);
                carve_image_save(ctx, flat, out);
                for (size_t i = 0; i < (size_t)w * h; i++) img->px[4 * i + 3] = a[i];
                snprintf(out, sizeof out, "%s/matte_%s.png", outdir, names[k]);
                carve_image_save(ctx, img, out);
                for (size_t i = 0; i < (size_t)w * h; i++) img->px[4 * i + 0] = img->px[4 * i + 1] =
                    img->px[4 * i + 2] = e[i], img->px[4 * i + 3] = 255;
                snprintf(out, sizeof out, "%s/edges_%s.png", outdir, names[k]);
                carve_image_save(ctx, img, out);
            }
        }
        free(a);
        free(e);
        carve_image_destroy(flat);
        carve_image_destroy(img);
    }
    if (cnt)
        printf("%-26s %10s %9.1f %9.1f %9.1f %9.1f %9.1f   (peak RSS %.0f MB)\n", "mean", "", tot[0] / cnt,
               tot[1] / cnt, tot[2] / cnt, tot[3] / cnt, tot[4] / cnt, carve__peak_rss() / 1e6);
    carve_ctx_destroy(ctx);
    return cnt ? 0 : 1;
}
