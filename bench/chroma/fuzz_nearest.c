/* fuzz_nearest.c — carve__lab_pal_nearest against the brute force on
 * adversarial random palettes and queries (clustered colours, dark blues
 * where CIEDE2000's rotation term matters, greys and near-greys, 2..250
 * entries), 20 000 queries per palette.
 *
 *   fuzz_nearest [PALETTES] [SEED]     (default 150 palettes = 3 000 000 queries)
 *
 * Prints the number of mismatches (exit 1 if any) and the exact CIEDE2000
 * evaluations the pruned search needed. */
#include "chroma/chroma.h"

#include <stdio.h>
#include <stdlib.h>

static uint64_t st = 88172645463325252ull;
static uint32_t rnd(void) {
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    return (uint32_t)(st >> 11);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 150;
    if (argc > 2) st ^= strtoull(argv[2], NULL, 10) * 0x9e3779b97f4a7c15ull;
    long bad = 0, tot = 0;
    carve__lab_pal *lp = malloc(sizeof *lp);
    for (int r = 0; r < rounds; r++) {
        int n = 2 + (int)(rnd() % (r % 4 == 0 ? 250 : 40));
        double lab[CARVE_PALETTE_MAX][3];
        uint32_t base = rnd() & 0xffffff;
        for (int i = 0; i < n; i++) {
            uint32_t c, m = rnd() % 5;
            if (m == 0) c = rnd();
            else if (m == 1) {
                uint32_t v = rnd() % 256;
                c = v * 0x010101u ^ (rnd() % 8) ^ ((rnd() % 8) << 8) ^ ((rnd() % 8) << 16);
            } else if (m == 2) c = base ^ (rnd() & 0x0f0f0f);
            else if (m == 3) c = (rnd() & 0xff) | ((rnd() % 80) << 16) | ((rnd() % 120) << 8);
            else c = rnd() & 0x3f3fff;
            carve_rgb_to_lab(c & 0xffffff, lab[i]);
        }
        carve__lab_pal_init(lp, (const double(*)[3])lab, n);
        int h = -1;
        for (int k = 0; k < 20000; k++) {
            uint32_t c, m = rnd() % 4;
            if (m == 0) c = rnd();
            else if (m == 1) {
                uint32_t v = rnd() % 256;
                c = v * 0x010101u ^ (rnd() % 4) ^ ((rnd() % 4) << 8) ^ ((rnd() % 4) << 16);
            } else if (m == 2) c = base ^ (rnd() & 0x1f1f1f);
            else c = (rnd() & 0xff) | ((rnd() % 100) << 16) | ((rnd() % 140) << 8);
            double p[3];
            carve_rgb_to_lab(c & 0xffffff, p);
            int a = carve__lab_pal_nearest(lp, p, h), b = carve__lab_pal_nearest_brute(lp, p);
            h = a;
            tot++;
            if (a != b) {
                if (bad < 10)
                    printf("MISMATCH #%06x: got %d (%.17g) want %d (%.17g)\n", c & 0xffffff, a,
                           carve_ciede2000(p, lab[a]), b, carve_ciede2000(p, lab[b]));
                bad++;
            }
        }
    }
    printf("%ld of %ld queries differ from the brute force; %.3f exact CIEDE2000 evaluations per query\n", bad, tot,
           tot ? (double)carve__map_evals() / tot : 0.0);
    free(lp);
    return bad != 0;
}
