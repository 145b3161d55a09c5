/* topo.c — shared-boundary topology on the pixel-corner lattice.
 *
 * Vertices are the (w+1) x (h+1) pixel corners; a unit edge between two
 * vertices is a boundary edge when the pixels on its two sides belong to
 * different regions (transparent pixels and the outside of the canvas are
 * region -1).  Vertices where three or more boundary edges meet (and the
 * canvas corners) are junctions.  A chain is a maximal run of boundary edges
 * between junctions (or a closed loop without any); every chain separates
 * exactly two regions and is fitted once.  Each region's rings are then
 * assembled from chain uses (forward when the region is on the chain's left,
 * reversed otherwise), always with the region on the left, so outer rings and
 * holes have opposite orientations and the nonzero rule fills exactly the
 * region. */
#include "vector.h"

#include <stdlib.h>
#include <string.h>

static const int DX[4] = {1, 0, -1, 0}, DY[4] = {0, 1, 0, -1};

typedef struct topo_state {
    int w, h;
    const int32_t *reg;
    uint8_t *vf; /* per vertex: 1 right edge visited, 2 down edge visited, 4 junction,
                  * 8 right edge is a boundary, 16 down edge is a boundary */
} topo_state;

static inline int32_t R(const topo_state *s, int x, int y) {
    if (x < 0 || y < 0 || x >= s->w || y >= s->h) return -1;
    return s->reg[(size_t)y * s->w + x];
}
/* pixel on the left / right of the edge leaving vertex (x,y) in direction d */
static inline int32_t left_of(const topo_state *s, int x, int y, int d) {
    switch (d) {
    case 0: return R(s, x, y - 1);
    case 1: return R(s, x, y);
    case 2: return R(s, x - 1, y);
    default: return R(s, x - 1, y - 1);
    }
}
static inline int32_t right_of(const topo_state *s, int x, int y, int d) {
    switch (d) {
    case 0: return R(s, x, y);
    case 1: return R(s, x - 1, y);
    case 2: return R(s, x - 1, y - 1);
    default: return R(s, x, y - 1);
    }
}
/* is the edge leaving vertex (x,y) in direction d a boundary edge?  (bits 8
 * and 16 of vf, precomputed: right / down edge of the vertex) */
static inline bool bnd(const topo_state *s, int x, int y, int d) {
    size_t W = (size_t)s->w + 1;
    switch (d) {
    case 0: return (s->vf[(size_t)y * W + x] & 8) != 0;
    case 1: return (s->vf[(size_t)y * W + x] & 16) != 0;
    case 2: return x > 0 && (s->vf[(size_t)y * W + x - 1] & 8) != 0;
    default: return y > 0 && (s->vf[(size_t)(y - 1) * W + x] & 16) != 0;
    }
}
/* the boundary edges at vertex (x,y) as a mask of directions (bit d:
 * direction d), in one go */
static inline unsigned bmask(const topo_state *s, int x, int y) {
    size_t W = (size_t)s->w + 1, i = (size_t)y * W + x;
    unsigned f = s->vf[i];
    unsigned m = ((f >> 3) & 1) | ((f >> 3) & 2);
    if (x > 0) m |= (s->vf[i - 1] & 8) >> 1;
    if (y > 0) m |= (s->vf[i - W] & 16) >> 1;
    return m;
}
/* visited flag of the edge leaving (x,y) in direction d */
static inline uint8_t *vflag(const topo_state *s, int x, int y, int d, uint8_t *bit) {
    size_t W = (size_t)s->w + 1;
    switch (d) {
    case 0: *bit = 1; return &s->vf[(size_t)y * W + x];
    case 1: *bit = 2; return &s->vf[(size_t)y * W + x];
    case 2: *bit = 1; return &s->vf[(size_t)y * W + x - 1];
    default: *bit = 2; return &s->vf[(size_t)(y - 1) * W + x];
    }
}

typedef struct pbuf {
    int32_t *v;
    int64_t n, cap; /* n = number of int32 values */
} pbuf;
static int pbuf_add(pbuf *b, int32_t x, int32_t y) {
    if (b->n + 2 > b->cap) {
        int64_t nc = b->cap ? b->cap * 2 : 4096;
        int32_t *nv = realloc(b->v, (size_t)nc * sizeof(int32_t));
        if (!nv) return -1;
        b->v = nv;
        b->cap = nc;
    }
    b->v[b->n++] = x;
    b->v[b->n++] = y;
    return 0;
}

typedef struct cbuf {
    vec_chain *v;
    int64_t n, cap;
} cbuf;

/* Walks a chain from (x,y) in direction d until a junction (or back to the
 * start for a loop).  Appends its points to pb and the chain to cb. */
static int walk(topo_state *s, pbuf *pb, cbuf *cb, int x, int y, int d, bool loop) {
    if (cb->n == cb->cap) {
        int64_t nc = cb->cap ? cb->cap * 2 : 256;
        vec_chain *nv = realloc(cb->v, (size_t)nc * sizeof(vec_chain));
        if (!nv) return -1;
        cb->v = nv;
        cb->cap = nc;
    }
    vec_chain *c = &cb->v[cb->n];
    memset(c, 0, sizeof *c);
    size_t W = (size_t)s->w + 1;
    c->left = left_of(s, x, y, d);
    c->right = right_of(s, x, y, d);
    c->v0 = (uint32_t)((size_t)y * W + (size_t)x);
    c->d0 = (uint8_t)d;
    c->off = pb->n / 2;
    c->closed = loop;
    int sx = x, sy = y;
    if (pbuf_add(pb, x, y)) return -1;
    int64_t ne = 0, sh = 0;
    for (;;) {
        uint8_t bit;
        uint8_t *f = vflag(s, x, y, d, &bit);
        *f |= bit;
        int nx = x + DX[d], ny = y + DY[d];
        sh += (int64_t)x * ny - (int64_t)nx * y;
        x = nx;
        y = ny;
        ne++;
        if (pbuf_add(pb, x, y)) return -1;
        if (loop ? (x == sx && y == sy) : (s->vf[(size_t)y * W + x] & 4) != 0) break;
        /* degree-2 vertex: the other boundary edge (never back) */
        unsigned m = bmask(s, x, y) & ~(1u << ((d + 2) & 3));
        if (!m) return -2; /* cannot happen: a boundary never ends at a degree-1 vertex */
        d = __builtin_ctz(m);
    }
    c->v1 = (uint32_t)((size_t)y * W + (size_t)x);
    c->d1 = (uint8_t)d;
    c->n = ne;
    c->shoelace = sh;
    cb->n++;
    return 0;
}

static int64_t jfind(const uint32_t *jv, int64_t nj, uint32_t v) {
    int64_t lo = 0, hi = nj - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        if (jv[mid] == v) return mid;
        if (jv[mid] < v) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

void carve__vec_topo_free(vec_topo *t) {
    if (!t) return;
    free(t->reg);
    free(t->reg_color);
    free(t->reg_area);
    free(t->pts);
    if (t->chains)
        for (int64_t i = 0; i < t->nchains; i++) free(t->chains[i].seg);
    free(t->chains);
    free(t->uses);
    free(t->ring_off);
    free(t->reg_ring_off);
    free(t->ring_shoelace);
    free(t->ell);
    free(t->snap_v);
    free(t->snap_xy);
    memset(t, 0, sizeof *t);
}

/* ---- the topology, step by step -------------------------------------------
 * carve__vec_topology: regions -> boundary bits -> junctions -> chains (from
 * junctions, then junction-free loops) -> junction table -> chain uses per
 * region -> rings. */

/* working state of carve__vec_topology; everything here is freed at the end */
typedef struct topo_build {
    topo_state s;
    uint32_t *jv;     /* junction vertices, ascending (raster order) */
    int64_t nj, jcap;
    pbuf pb;          /* chain points (moved to t->pts) */
    cbuf cb;          /* chains (moved to t->chains) */
    int64_t *juse;    /* junction j, outgoing direction d -> chain use (-1: none) */
    int64_t *uend;    /* chain use -> junction index at its end */
    int64_t *cnt;     /* region g's uses are byreg[cnt[g] .. cnt[g+1]) */
    int64_t *byreg;
    uint8_t *used;    /* chain use already in a ring */
} topo_build;

static void topo_build_free(topo_build *b) {
    free(b->jv);
    free(b->juse);
    free(b->uend);
    free(b->cnt);
    free(b->byreg);
    free(b->used);
    free(b->s.vf);
    free(b->pb.v);
    free(b->cb.v);
}

static carve_status topo_oom(carve_ctx *ctx) { return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory"); }
static carve_status topo_internal(carve_ctx *ctx) {
    return carve__fail(ctx, CARVE_ERR_INTERNAL, "trace: inconsistent boundary topology (a bug, please report it)");
}

/* boundary bits of every vertex's right (8) and down (16) edge */
static void mark_boundaries(topo_state *s) {
    int w = s->w, h = s->h;
    size_t W = (size_t)w + 1;
    for (int y = 0; y <= h; y++) {
        const int32_t *up = y > 0 ? s->reg + (size_t)(y - 1) * w : NULL;
        const int32_t *dn = y < h ? s->reg + (size_t)y * w : NULL;
        uint8_t *f = s->vf + (size_t)y * W;
        for (int x = 0; x < w; x++)
            if ((up ? up[x] : -1) != (dn ? dn[x] : -1)) f[x] |= 8;
        if (dn)
            for (int x = 0; x <= w; x++)
                if ((x > 0 ? dn[x - 1] : -1) != (x < w ? dn[x] : -1)) f[x] |= 16;
    }
}

/* is boundary vertex (x,y) with direction mask m a junction?  Degree >= 3,
 * a canvas corner on a boundary, or a border vertex where a boundary leaves
 * the border (into transparency: chains along the border stay straight) */
static bool is_junction(const topo_state *s, int x, int y, unsigned m) {
    int w = s->w, h = s->h;
    int deg = (0x4332322132212110ull >> (4 * m)) & 15; /* popcount (no libgcc call) */
    if (deg == 2 && x > 0 && x < w && y > 0 && y < h) return false; /* interior pass-through */
    bool corner = (x == 0 || x == w) && (y == 0 || y == h);
    bool leaves = false;
    if (deg == 2 && !corner) {
        if (y == 0 || y == h) leaves = bnd(s, x, y, y == 0 ? 1 : 3);
        else if (x == 0 || x == w) leaves = bnd(s, x, y, x == 0 ? 0 : 2);
    }
    return deg >= 3 || (corner && deg >= 2) || leaves;
}

/* the junctions in raster order (b->jv, flag 4 in vf); progress 0 .. 0.3 */
static carve_status find_junctions(carve_ctx *ctx, topo_build *b) {
    topo_state *s = &b->s;
    size_t W = (size_t)s->w + 1;
    carve_status st;
    for (int y = 0; y <= s->h; y++) {
        for (int x = 0; x <= s->w; x++) {
            unsigned m = bmask(s, x, y);
            if (!m || !is_junction(s, x, y, m)) continue;
            if (b->nj == b->jcap) {
                b->jcap = b->jcap ? b->jcap * 2 : 1024;
                uint32_t *nv = realloc(b->jv, (size_t)b->jcap * sizeof(uint32_t));
                if (!nv) return topo_oom(ctx);
                b->jv = nv;
            }
            b->jv[b->nj++] = (uint32_t)((size_t)y * W + (size_t)x);
            s->vf[(size_t)y * W + x] |= 4;
        }
        if ((y & 255) == 0 && (st = carve__progress(ctx, 0.3 * y / (s->h + 1.0), "trace"))) return st;
    }
    return CARVE_OK;
}

static carve_status walk_status(carve_ctx *ctx, int rc) {
    return rc == -1 ? topo_oom(ctx) : rc ? topo_internal(ctx) : CARVE_OK;
}

/* every chain: from the junctions (raster order, then direction), then the
 * loops without junctions (their raster-first vertex starts rightwards);
 * progress 0.3 .. 0.5 */
static carve_status trace_chains(carve_ctx *ctx, topo_build *b) {
    topo_state *s = &b->s;
    size_t W = (size_t)s->w + 1;
    carve_status st;
    for (int64_t j = 0; j < b->nj; j++) {
        int x = (int)(b->jv[j] % W), y = (int)(b->jv[j] / W);
        for (int d = 0; d < 4; d++) {
            if (!bnd(s, x, y, d)) continue;
            uint8_t bit;
            if (*vflag(s, x, y, d, &bit) & bit) continue;
            if ((st = walk_status(ctx, walk(s, &b->pb, &b->cb, x, y, d, false)))) return st;
        }
    }
    for (int y = 0; y < s->h; y++) {
        for (int x = 0; x < s->w; x++) {
            uint8_t f = s->vf[(size_t)y * W + x];
            if ((f & 1) || !bnd(s, x, y, 0)) continue;
            if ((st = walk_status(ctx, walk(s, &b->pb, &b->cb, x, y, 0, true)))) return st;
        }
        if ((y & 255) == 0 && (st = carve__progress(ctx, 0.3 + 0.2 * y / (s->h + 1.0), "trace"))) return st;
    }
    return CARVE_OK;
}

/* junction table: for each junction and outgoing direction the chain use
 * that leaves it (u = 2c forward, 2c+1 reversed), and the junction at the
 * end of every use */
static carve_status junction_uses(carve_ctx *ctx, const vec_topo *t, topo_build *b) {
    int64_t nj = b->nj, nc = t->nchains;
    b->juse = malloc((size_t)(nj ? nj : 1) * 4 * sizeof(int64_t));
    b->uend = malloc((size_t)(nc ? nc : 1) * 2 * sizeof(int64_t));
    if (!b->juse || !b->uend) return topo_oom(ctx);
    for (int64_t i = 0; i < nj * 4; i++) b->juse[i] = -1;
    for (int64_t c = 0; c < nc; c++) {
        const vec_chain *ch = &t->chains[c];
        if (ch->closed) continue;
        int64_t j0 = jfind(b->jv, nj, ch->v0), j1 = jfind(b->jv, nj, ch->v1);
        if (j0 < 0 || j1 < 0) return topo_internal(ctx);
        b->juse[j0 * 4 + ch->d0] = c << 1;
        b->juse[j1 * 4 + ((ch->d1 + 2) & 3)] = (c << 1) | 1;
        b->uend[c << 1] = j1;
        b->uend[(c << 1) | 1] = j0;
    }
    return CARVE_OK;
}

/* the chain uses of each region (CSR: cnt, byreg; forward where the region is
 * on the chain's left), and the ring arrays of t sized for them */
static carve_status uses_by_region(carve_ctx *ctx, vec_topo *t, topo_build *b) {
    int32_t nreg = t->nreg;
    int64_t nc = t->nchains;
    int64_t *cnt = b->cnt = calloc((size_t)nreg + 1, sizeof(int64_t));
    if (!cnt) return topo_oom(ctx);
    for (int64_t c = 0; c < nc; c++) {
        if (t->chains[c].left >= 0) cnt[t->chains[c].left + 1]++;
        if (t->chains[c].right >= 0) cnt[t->chains[c].right + 1]++;
    }
    for (int32_t r = 0; r < nreg; r++) cnt[r + 1] += cnt[r];
    int64_t nuses = cnt[nreg];
    b->byreg = malloc((size_t)(nuses ? nuses : 1) * sizeof(int64_t));
    t->uses = malloc((size_t)(nuses ? nuses : 1) * sizeof(int64_t));
    t->ring_off = malloc((size_t)(nuses + 1) * sizeof(int64_t));
    t->ring_shoelace = malloc((size_t)(nuses ? nuses : 1) * sizeof(int64_t));
    t->reg_ring_off = malloc((size_t)(nreg + 1) * sizeof(int64_t));
    b->used = calloc((size_t)(nc ? nc : 1) * 2, 1);
    int64_t *fill = malloc((size_t)(nreg + 1) * sizeof(int64_t));
    if (!b->byreg || !t->uses || !t->ring_off || !t->ring_shoelace || !t->reg_ring_off || !b->used || !fill) {
        free(fill);
        return topo_oom(ctx);
    }
    memcpy(fill, cnt, (size_t)(nreg + 1) * sizeof(int64_t));
    for (int64_t c = 0; c < nc; c++) {
        if (t->chains[c].left >= 0) b->byreg[fill[t->chains[c].left]++] = c << 1;
        if (t->chains[c].right >= 0) b->byreg[fill[t->chains[c].right]++] = (c << 1) | 1;
    }
    free(fill);
    return CARVE_OK;
}

/* walks one ring of region g from chain use u0 with g on the left, appending
 * its uses to t->uses[*nu ..]; at a junction it turns left / goes straight /
 * turns right by the two pixels ahead (the 4-connected contour rule).  The
 * ring's doubled signed area in *area2.  0, or -1 on an inconsistency. */
static int walk_ring(vec_topo *t, topo_build *b, int32_t g, int64_t u0, int64_t *nu, int64_t *area2) {
    size_t W = (size_t)t->w + 1;
    int64_t nuses = b->cnt[t->nreg], u = u0, guard = 0;
    *area2 = 0;
    for (;;) {
        b->used[u] = 1;
        t->uses[(*nu)++] = u;
        const vec_chain *ch = &t->chains[u >> 1];
        *area2 += (u & 1) ? -ch->shoelace : ch->shoelace;
        if (ch->closed) return 0;
        uint32_t v = (u & 1) ? ch->v0 : ch->v1;
        int d = (u & 1) ? ((ch->d0 + 2) & 3) : ch->d1;
        int x = (int)(v % W), y = (int)(v / W);
        int nd;
        if (left_of(&b->s, x, y, d) != g) nd = (d + 3) & 3;  /* turn left */
        else if (right_of(&b->s, x, y, d) != g) nd = d;     /* straight */
        else nd = (d + 1) & 3;                              /* turn right */
        int64_t nx = b->juse[b->uend[u] * 4 + nd];
        if (nx < 0) return -1;
        const vec_chain *nch = &t->chains[nx >> 1];
        if (((nx & 1) ? nch->right : nch->left) != g) return -1;
        if (nx == u0) return 0;
        if (b->used[nx] || ++guard > nuses) return -1;
        u = nx;
    }
}

/* every region's rings, in region order, each from its first unused use;
 * progress 0.5 .. 1 */
static carve_status assemble_rings(carve_ctx *ctx, vec_topo *t, topo_build *b) {
    int32_t nreg = t->nreg;
    int64_t nu = 0, nr = 0;
    carve_status st;
    for (int32_t g = 0; g < nreg; g++) {
        t->reg_ring_off[g] = nr;
        for (int64_t k = b->cnt[g]; k < b->cnt[g + 1]; k++) {
            int64_t u0 = b->byreg[k];
            if (b->used[u0]) continue;
            t->ring_off[nr] = nu;
            if (walk_ring(t, b, g, u0, &nu, &t->ring_shoelace[nr])) return topo_internal(ctx);
            nr++;
        }
        if ((g & 1023) == 0 && (st = carve__progress(ctx, 0.5 + 0.5 * g / (nreg + 1.0), "trace"))) return st;
    }
    t->reg_ring_off[nreg] = nr;
    t->ring_off[nr] = nu;
    t->nrings = nr;
    return CARVE_OK;
}

carve_status carve__vec_topology(carve_ctx *ctx, const vec_labels *l, vec_topo *t) {
    memset(t, 0, sizeof *t);
    t->w = l->w;
    t->h = l->h;
    int32_t nreg = carve__components(l->lab, l->w, l->h, &t->reg, &t->reg_area);
    if (nreg < 0) return topo_oom(ctx);
    t->nreg = nreg;
    size_t n = (size_t)l->w * l->h, W = (size_t)l->w + 1;
    topo_build b = {0};
    b.s = (topo_state){l->w, l->h, t->reg, calloc(W * ((size_t)l->h + 1), 1)};
    t->reg_color = malloc((size_t)(nreg ? nreg : 1) * sizeof(uint16_t));
    carve_status st = CARVE_OK;
    if (!t->reg_color || !b.s.vf) st = topo_oom(ctx);
    if (!st) {
        for (size_t i = 0; i < n; i++)
            if (t->reg[i] >= 0) t->reg_color[t->reg[i]] = l->lab[i];
        mark_boundaries(&b.s);
        st = find_junctions(ctx, &b);
    }
    if (!st) st = trace_chains(ctx, &b);
    if (!st) {
        t->pts = b.pb.v;
        t->npts = b.pb.n / 2;
        b.pb.v = NULL;
        t->chains = b.cb.v;
        t->nchains = b.cb.n;
        b.cb.v = NULL;
        st = junction_uses(ctx, t, &b);
    }
    if (!st) st = uses_by_region(ctx, t, &b);
    if (!st) st = assemble_rings(ctx, t, &b);
    topo_build_free(&b);
    if (st) carve__vec_topo_free(t);
    return st;
}
