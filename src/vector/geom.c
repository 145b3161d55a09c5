/* geom.c — the geometry IR's storage (geom.h): growable arrays of items,
 * subpaths and segments. */
#include "geom.h"

#include <stdlib.h>

void carve__vec_geom_free(vec_geom *g) {
    if (!g) return;
    free(g->segs);
    free(g->paths);
    free(g->items);
    g->segs = NULL;
    g->paths = NULL;
    g->items = NULL;
    g->nsegs = g->npaths = g->nitems = 0;
    g->segcap = g->pathcap = g->itemcap = 0;
}

/* grows *p (elements of size sz) to hold at least need; 0 or -1 */
static int grow(void **p, int64_t *cap, int64_t need, size_t sz) {
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * sz);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

int carve__vec_geom_reserve(vec_geom *g, int64_t nsegs, int64_t npaths, int64_t nitems) {
    if (grow((void **)&g->segs, &g->segcap, nsegs, sizeof *g->segs)) return -1;
    if (grow((void **)&g->paths, &g->pathcap, npaths, sizeof *g->paths)) return -1;
    return grow((void **)&g->items, &g->itemcap, nitems, sizeof *g->items);
}

int carve__vec_geom_item(vec_geom *g, const vec_item *it) {
    if (grow((void **)&g->items, &g->itemcap, g->nitems + 1, sizeof *g->items)) return -1;
    vec_item *d = &g->items[g->nitems++];
    *d = *it;
    d->path_off = g->npaths;
    d->npath = 0;
    return 0;
}

int carve__vec_geom_path(vec_geom *g, int64_t sx, int64_t sy) {
    if (grow((void **)&g->paths, &g->pathcap, g->npaths + 1, sizeof *g->paths)) return -1;
    g->paths[g->npaths++] = (vec_gpath){sx, sy, g->nsegs, 0, 0};
    g->items[g->nitems - 1].npath++;
    return 0;
}

int carve__vec_geom_seg(vec_geom *g, const vec_gseg *s) {
    if (grow((void **)&g->segs, &g->segcap, g->nsegs + 1, sizeof *g->segs)) return -1;
    g->segs[g->nsegs++] = *s;
    g->paths[g->npaths - 1].nseg++;
    return 0;
}

void carve__vec_geom_close(vec_geom *g) { g->paths[g->npaths - 1].closed = 1; }
