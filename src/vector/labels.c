/* labels.c — colour labels.  Connected components and the speckle filter
 * are carve__components / carve__merge_small_regions (src/core/regions.c). */
#include "vector.h"

#include <stdlib.h>
#include <string.h>

/* ---- labels -------------------------------------------------------------- */
static inline uint32_t hash_rgb(uint32_t c) { return (c * 2654435761u) >> 22; } /* 10 bits */

carve_status carve__vec_labels(carve_ctx *ctx, const carve_image *in, int max_colors, vec_labels *out) {
    memset(out, 0, sizeof *out);
    size_t n = (size_t)in->w * (size_t)in->h;
    /* exact count of distinct opaque colours with a 2^24-bit set */
    uint64_t *seen = calloc(((size_t)1 << 18) + 4096, sizeof(uint64_t));
    if (!seen) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
    /* bit w of used: word w of seen is not zero, so the colour list below
     * reads (and pages in) only the words that hold colours */
    uint64_t *used = seen + ((size_t)1 << 18);
    int64_t distinct = 0;
    uint32_t prev = 0xffffffffu; /* flat images: runs of one colour */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in->px + 4 * i;
        if (p[3] < 128) continue;
        uint32_t c = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
        if (c == prev) continue;
        prev = c;
        uint64_t bit = (uint64_t)1 << (c & 63);
        if (!(seen[c >> 6] & bit)) {
            seen[c >> 6] |= bit;
            used[c >> 12] |= (uint64_t)1 << ((c >> 6) & 63);
            distinct++;
        }
    }
    if (distinct > max_colors) {
        free(seen);
        return carve__fail(ctx, CARVE_ERR_TOO_MANY_COLORS,
                           "trace: the image has %lld distinct opaque colours, more than max_colors = %d; "
                           "reduce them first with `carve quantize` (e.g. --colors 16)",
                           (long long)distinct, max_colors);
    }
    /* sorted colour list */
    int k = 0;
    for (size_t uw = 0; uw < 4096 && k < distinct; uw++) {
        for (uint64_t um = used[uw]; um; um &= um - 1) {
            size_t w = uw * 64 + (size_t)__builtin_ctzll(um);
            uint64_t v = seen[w];
            while (v) {
                int b = __builtin_ctzll(v);
                v &= v - 1;
                out->colors[k++] = (uint32_t)(w << 6) | (uint32_t)b;
            }
        }
    }
    free(seen);
    out->ncolors = k;
    out->w = in->w;
    out->h = in->h;
    out->lab = malloc(n ? n * sizeof(uint16_t) : 1);
    if (!out->lab) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
    /* rgb -> index hash (1024 slots, at most 256 keys) */
    uint32_t hkey[1024];
    int16_t hval[1024];
    for (int i = 0; i < 1024; i++) hval[i] = -1;
    for (int i = 0; i < k; i++) {
        uint32_t h = hash_rgb(out->colors[i]);
        while (hval[h] >= 0) h = (h + 1) & 1023;
        hkey[h] = out->colors[i];
        hval[h] = (int16_t)i;
    }
    uint32_t lastc = 0xffffffffu;
    uint16_t lastl = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in->px + 4 * i;
        if (p[3] < 128) {
            out->lab[i] = CARVE__LABEL_VOID;
            continue;
        }
        uint32_t c = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
        if (c != lastc) {
            uint32_t h = hash_rgb(c);
            while (hkey[h] != c || hval[h] < 0) h = (h + 1) & 1023;
            lastc = c;
            lastl = (uint16_t)hval[h];
        }
        out->lab[i] = lastl;
    }
    return CARVE_OK;
}

void carve__vec_labels_free(vec_labels *l) {
    if (!l) return;
    free(l->lab);
    l->lab = NULL;
}
