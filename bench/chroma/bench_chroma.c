/* bench_chroma.c — speed of carve_quantize (exact least-CIEDE2000 mapping)
 * against a straightforward per-pixel brute force in C.
 *
 *   bench_chroma IMAGE PALETTE [--threads N] [--runs N] [--brute-px N] [--out OUT.png]
 *
 * carve_quantize runs --runs times (default options: no dither, no
 * speckle removal, no smoothing); the best time is reported.  The brute
 * force (sRGB->Lab then carve_ciede2000 to every palette colour, per pixel,
 * one thread) runs on evenly spaced rows totalling about --brute-px pixels
 * (default 1.5 Mpx) and is extrapolated to the whole image; its answers are
 * compared with carve_quantize's on those rows (must be 0 mismatches). */
#include "chroma/chroma.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s IMAGE PALETTE [--threads N] [--runs N] [--brute-px N] [--out OUT.png]\n", argv[0]);
        return 2;
    }
    const char *threads = "0", *outp = NULL;
    int runs = 3;
    double brute_px = 1.5e6;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = argv[i + 1];
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--brute-px")) brute_px = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--out")) outp = argv[i + 1];
        else {
            fprintf(stderr, "unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    carve_ctx *ctx = carve_ctx_create();
    carve_image *im = NULL, *out = NULL;
    carve_palette *pal = NULL;
    if (carve_ctx_set_option(ctx, "threads", threads) || carve_image_load(ctx, argv[1], &im) ||
        carve_palette_resolve(ctx, argv[2], &pal)) {
        fprintf(stderr, "bench_chroma: %s\n", carve_ctx_errmsg(ctx));
        return 1;
    }
    int w = im->w, h = im->h;
    double mpx = (double)w * h / 1e6;
    /* distinct colours */
    uint64_t *set = calloc((size_t)1 << 18, 8);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        uint32_t c = carve__rgb_at(im, (int)(i % (size_t)w), (int)(i / (size_t)w));
        set[c >> 6] |= 1ull << (c & 63);
    }
    long distinct = 0;
    for (size_t i = 0; i < ((size_t)1 << 18); i++) distinct += __builtin_popcountll(set[i]);
    free(set);

    double best = 1e30, best_cpu = 1e30;
    uint64_t ev0 = 0, ev1 = 0;
    for (int r = 0; r < runs; r++) {
        carve_image_destroy(out);
        out = NULL;
        ev0 = carve__map_evals();
        double t0 = carve__now(), c0 = carve__cpu_now();
        if (carve_quantize(ctx, im, pal, &out)) {
            fprintf(stderr, "bench_chroma: %s\n", carve_ctx_errmsg(ctx));
            return 1;
        }
        double t = carve__now() - t0, c = carve__cpu_now() - c0;
        ev1 = carve__map_evals();
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    /* brute force on evenly spaced rows */
    int n = pal->n;
    double lab[CARVE_PALETTE_MAX][3];
    for (int i = 0; i < n; i++) carve_rgb_to_lab(pal->rgb[i], lab[i]);
    int step = (int)((double)w * h / brute_px);
    if (step < 1) step = 1;
    long bpx = 0, mismatch = 0;
    double t0 = carve__now(), c0 = carve__cpu_now();
    for (int y = 0; y < h; y += step) {
        for (int x = 0; x < w; x++) {
            const uint8_t *p = im->px + 4 * ((size_t)y * w + x);
            if (p[3] < 128) continue;
            double l[3];
            carve__rgb8_to_lab(p[0], p[1], p[2], l);
            int bi = 0;
            double bd = carve_ciede2000(l, lab[0]);
            for (int i = 1; i < n; i++) {
                double d = carve_ciede2000(l, lab[i]);
                if (d < bd) {
                    bd = d;
                    bi = i;
                }
            }
            bpx++;
            if (carve__rgb_at(out, x, y) != pal->rgb[bi]) mismatch++;
        }
    }
    double tb = carve__now() - t0, cb = carve__cpu_now() - c0;
    double brute_full = bpx ? tb / bpx * ((double)w * h) : 0;
    double brute_full_cpu = bpx ? cb / bpx * ((double)w * h) : 0;
    printf("image\t%s\t%dx%d\t%.2f Mpx\tdistinct %ld\n", argv[1], w, h, mpx, distinct);
    printf("palette\t%s\t%d colours\n", carve_palette_name(pal), n);
    printf("carve_quantize\tthreads %s\tbest of %d: %.3f s wall, %.3f s CPU (all threads)\t%.1f Mpx/s\t"
           "CIEDE2000 evals %.2f per distinct colour (of %d)\n",
           threads, runs, best, best_cpu, mpx / best, distinct ? (double)(ev1 - ev0) / distinct : 0.0, n);
    printf("brute force\t1 thread\t%ld px in %.2f s wall (%.2f s CPU) -> %.1f s wall, %.1f s CPU for the image\t"
           "%.3f Mpx/s\n", bpx, tb, cb, brute_full, brute_full_cpu, brute_full > 0 ? mpx / brute_full : 0);
    printf("speed-up\t%.0fx wall, %.0fx CPU\tmismatches vs brute force: %ld of %ld\n", brute_full / best,
           brute_full_cpu / best_cpu, mismatch, bpx);
    if (outp && carve_image_save(ctx, out, outp)) fprintf(stderr, "bench_chroma: %s\n", carve_ctx_errmsg(ctx));
    carve_image_destroy(out);
    carve_image_destroy(im);
    carve_palette_destroy(pal);
    carve_ctx_destroy(ctx);
    return mismatch ? 1 : 0;
}
