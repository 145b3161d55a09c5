/* cut.c — cut mode (docs/vector.md, "Cut mode").
 *
 * Min feature: for each colour, the morphological opening of its pixels with
 * an r x r square (r = min_feature in px) keeps the pixels that lie in some
 * r x r square of that colour; the rest (slivers, thin lines, spurs) are
 * *thin*.  Thin pixels are merged into the neighbouring shapes: a
 * multi-source breadth-first search from the kept pixels, in raster order,
 * gives each thin pixel the colour of the nearest kept pixel (4-connected
 * steps), so a thin strip between two shapes is split between them by
 * distance.  Repeated until nothing is thin (at most CUT_PASSES); thin
 * pixels that no kept pixel reaches (a thin island in transparency) become
 * transparent.  Linear time per pass.
 *
 * Contour: the boundary chains between an opaque region and transparency or
 * the canvas edge, each used with the opaque side on the left, linked end to
 * start into closed rings (the same fitted numbers as the fills' edges). */
#include "vector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CUT_PASSES 4

/* E: pixels whose r x r square (to the right and below) is all their colour */
static void erode(const uint16_t *lab, int w, int h, int r, int32_t *run, uint8_t *e) {
    for (int y = 0; y < h; y++) { /* run[i]: same-colour run length to the right */
        const uint16_t *l = lab + (size_t)y * w;
        int32_t *ru = run + (size_t)y * w;
        for (int x = w - 1; x >= 0; x--) ru[x] = (x + 1 < w && l[x + 1] == l[x]) ? ru[x + 1] + 1 : 1;
    }
    for (int x = 0; x < w; x++) {
        int down = 0; /* rows below (this one included) whose run covers r with the same colour */
        for (int y = h - 1; y >= 0; y--) {
            size_t i = (size_t)y * w + x;
            bool hr = lab[i] != CARVE__LABEL_VOID && run[i] >= r;
            down = hr ? ((y + 1 < h && lab[i + w] == lab[i] && down) ? down + 1 : 1) : 0;
            e[i] = down >= r;
        }
    }
}

/* O = E dilated by the square (to the left and above): the kept pixels */
static void dilate(const uint8_t *e, int w, int h, int r, uint8_t *tmp, uint8_t *o) {
    for (int y = 0; y < h; y++) {
        int last = -r - 1;
        for (int x = 0; x < w; x++) {
            if (e[(size_t)y * w + x]) last = x;
            tmp[(size_t)y * w + x] = x - last < r;
        }
    }
    for (int x = 0; x < w; x++) {
        int last = -r - 1;
        for (int y = 0; y < h; y++) {
            if (tmp[(size_t)y * w + x]) last = y;
            o[(size_t)y * w + x] = y - last < r;
        }
    }
}

/* thin pixels take the colour of the nearest kept pixel; returns how many
 * were thin */
static int64_t reassign(uint16_t *lab, int w, int h, const uint8_t *keep, int32_t *queue, uint8_t *seen) {
    size_t n = (size_t)w * h, qn = 0, qh = 0;
    int64_t thin = 0;
    for (size_t i = 0; i < n; i++) {
        seen[i] = lab[i] == CARVE__LABEL_VOID || keep[i];
        if (lab[i] != CARVE__LABEL_VOID && keep[i]) queue[qn++] = (int32_t)i;
        else if (lab[i] != CARVE__LABEL_VOID) thin++;
    }
    if (!thin) return 0;
    while (qh < qn) {
        int32_t i = queue[qh++];
        int x = i % w, y = i / w;
        int32_t nb[4] = {y > 0 ? i - w : -1, x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y + 1 < h ? i + w : -1};
        for (int k = 0; k < 4; k++) {
            if (nb[k] < 0 || seen[nb[k]]) continue;
            seen[nb[k]] = 1;
            lab[nb[k]] = lab[i];
            queue[qn++] = nb[k];
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!seen[i]) lab[i] = CARVE__LABEL_VOID; /* a thin island in transparency */
    return thin;
}

carve_status carve__vec_cut_filter(carve_ctx *ctx, vec_labels *lab, double mm_per_px) {
    double mf = 0;
    char err[256];
    if (carve__parse_length(carve__opt_str(ctx, CARVE_OPTID_min_feature), &mf, NULL, err, sizeof err))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option min_feature: %s", err);
    int r = (int)ceil(mf / mm_per_px - 1e-9);
    if (r <= 1) return CARVE_OK;
    int w = lab->w, h = lab->h;
    size_t n = (size_t)w * h;
    int32_t *buf = malloc(n * sizeof(int32_t));
    uint8_t *e = malloc(n), *tmp = malloc(n), *o = malloc(n);
    carve_status st = CARVE_OK;
    if (!buf || !e || !tmp || !o) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory in the cut filter");
        goto out;
    }
    int64_t total = 0;
    for (int pass = 0; pass < CUT_PASSES; pass++) {
        erode(lab->lab, w, h, r, buf, e);
        dilate(e, w, h, r, tmp, o);
        int64_t thin = reassign(lab->lab, w, h, o, buf, tmp);
        total += thin;
        if (!thin) break;
        if ((st = carve__progress(ctx, 0.05 + 0.1 * (pass + 1) / CUT_PASSES, "trace"))) goto out;
    }
    carve__log(ctx, CARVE_LOG_DEBUG, "trace: cut min_feature %d px merged %lld thin pixels", r, (long long)total);
out:
    free(buf);
    free(e);
    free(tmp);
    free(o);
    return st;
}

/* ---- contour ---------------------------------------------------------------- */

typedef struct vuse {
    uint32_t v; /* start vertex */
    int64_t use;
} vuse;

static int cmp_vuse(const void *a, const void *b) {
    const vuse *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->use > y->use) - (x->use < y->use);
}

static uint32_t use_end(const vec_topo *t, int64_t u) {
    const vec_chain *c = &t->chains[u >> 1];
    return (u & 1) ? c->v0 : c->v1;
}

/* the first unused border use starting at v, or -1 */
static int64_t find_from(const vuse *vu, int64_t n, const uint8_t *used, uint32_t v) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t m = (lo + hi) / 2;
        if (vu[m].v < v) lo = m + 1;
        else hi = m;
    }
    for (; lo < n && vu[lo].v == v; lo++)
        if (!used[lo]) return lo;
    return -1;
}

int carve__vec_add_cut_contour(const vec_topo *t, const vec_build_params *p, vec_geom *g) {
    int64_t n = 0;
    for (int64_t k = 0; k < t->nchains; k++) n += (t->chains[k].left < 0) != (t->chains[k].right < 0);
    vuse *vu = malloc((size_t)(n ? n : 1) * sizeof *vu);
    uint8_t *used = calloc((size_t)(n ? n : 1), 1);
    int rc = -1;
    if (!vu || !used) goto out;
    n = 0;
    for (int64_t k = 0; k < t->nchains; k++) {
        const vec_chain *c = &t->chains[k];
        if ((c->left < 0) == (c->right < 0)) continue;
        bool rev = c->left < 0; /* the opaque side on the left */
        vu[n++] = (vuse){rev ? c->v1 : c->v0, k << 1 | (rev ? 1 : 0)};
    }
    qsort(vu, (size_t)n, sizeof *vu, cmp_vuse);
    vec_item it = {VEC_ITEM_STROKE, VEC_ROLE_CUT, VEC_CAP_ROUND, 0, VEC_COLOR_SPOT, -1, p->cut_width, 0, 0};
    if (n && carve__vec_geom_item(g, &it)) goto out;
    for (int64_t i = 0; i < n; i++) {
        if (used[i]) continue;
        uint32_t start = vu[i].v;
        int64_t j = i;
        bool first = true;
        while (j >= 0) {
            used[j] = 1;
            int64_t u = vu[j].use;
            const vec_chain *c = &t->chains[u >> 1];
            if (first) {
                int64_t sx, sy;
                carve__vec_use_start(c, (u & 1) != 0, &sx, &sy);
                if (carve__vec_geom_path(g, sx, sy)) goto out;
                first = false;
            }
            if (carve__vec_geom_add_use(g, c, (u & 1) != 0)) goto out;
            uint32_t v = use_end(t, u);
            j = v == start ? -1 : find_from(vu, n, used, v);
        }
        carve__vec_geom_close(g);
    }
    rc = 0;
out:
    free(vu);
    free(used);
    return rc;
}
