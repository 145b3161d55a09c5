/* dxf.c — the IR as DXF R2000 (AC1015) in millimetres ($INSUNITS 4).
 *
 * Every subpath of every region is one closed LWPOLYLINE; cubic Béziers are
 * flattened within DXF_TOL_MM = 0.025 mm (a polyline is what every cutter and CAD
 * program reads; SPLINE support varies).  One layer per palette colour,
 * named color-RRGGBB, with its true colour (group 420) and the nearest basic
 * ACI colour (group 62) for older readers; the entities are BYLAYER.
 * Outline strokes are open or closed polylines with their width; the gap
 * filler (a rendering aid for antialiasing) is not written.  The CutContour
 * is closed polylines on its own layer "CutContour".  y is flipped (DXF is y
 * up); coordinates are written with 4 decimals (0.1 µm). */
#include "vector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DXF_TOL_MM 0.025 /* 1 mil: a cutter's step */
#define DXF_MAX_FLAT 256 /* most pieces one cubic is flattened into */
#define DXF_FIX 10000    /* 4 decimals */

typedef struct dxfw {
    carve__buf *b;
    const vec_geom *g;
    double k;        /* mm per IR unit */
    double h_mm;     /* canvas height, mm */
    unsigned handle; /* next free handle */
    double *xy;      /* vertex scratch */
    int64_t n, cap;
} dxfw;

/* writes v in base (10 or 16, upper case) backwards ending at e; returns the start */
static char *digits(char *e, unsigned long long v, unsigned base) {
    do {
        *--e = "0123456789ABCDEF"[v % base];
        v /= base;
    } while (v);
    return e;
}

/* "code\n" (codes are small non-negative numbers) */
static void gcode(carve__buf *b, int code) {
    char s[16], *e = s + sizeof s;
    *--e = '\n';
    char *p = digits(e, (unsigned)code, 10);
    carve__buf_put_fast(b, p, (size_t)(s + sizeof s - p));
}

/* a group code and a value */
static void gs(carve__buf *b, int code, const char *v) {
    gcode(b, code);
    carve__buf_put_fast(b, v, strlen(v));
    carve__buf_put_fast(b, "\n", 1);
}
static void gi(carve__buf *b, int code, long long v) {
    char s[32], *e = s + sizeof s;
    *--e = '\n';
    char *p = digits(e, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, 10);
    if (v < 0) *--p = '-';
    gcode(b, code);
    carve__buf_put_fast(b, p, (size_t)(s + sizeof s - p));
}
static void gh(dxfw *w, int code, unsigned h) {
    char s[32], *e = s + sizeof s;
    *--e = '\n';
    char *p = digits(e, h, 16);
    gcode(w->b, code);
    carve__buf_put_fast(w->b, p, (size_t)(s + sizeof s - p));
}

/* a coordinate in mm with 4 decimals, without printf (codes < 100) */
static void gfix(carve__buf *b, int code, double v) {
    char s[48], d[24];
    int k = 0, n = 0;
    if (code >= 10) s[k++] = (char)('0' + code / 10);
    s[k++] = (char)('0' + code % 10);
    s[k++] = '\n';
    double f = v * DXF_FIX;
    int64_t q = (int64_t)(f < 0 ? f - 0.5 : f + 0.5); /* round half away from zero, as llround */
    if (q < 0) s[k++] = '-';
    uint64_t a = q < 0 ? (uint64_t)(-q) : (uint64_t)q, ip = a / DXF_FIX, fp = a % DXF_FIX;
    do {
        d[n++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (n) s[k++] = d[--n];
    s[k++] = '.';
    for (int i = 3; i >= 0; i--, fp /= 10) s[k + i] = (char)('0' + fp % 10);
    k += 4;
    s[k++] = '\n';
    carve__buf_put_fast(b, s, (size_t)k);
}

static int nearest_aci(uint32_t rgb) {
    static const struct {
        int aci;
        uint32_t rgb;
    } base[] = {{1, 0xFF0000}, {2, 0xFFFF00}, {3, 0x00FF00}, {4, 0x00FFFF}, {5, 0x0000FF}, {6, 0xFF00FF},
                {7, 0xFFFFFF}, {8, 0x808080}, {9, 0xC0C0C0}, {250, 0x333333}, {251, 0x505050}, {18, 0x4C0000}};
    int best = 7;
    long bd = -1;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        long d = 0;
        for (int s = 0; s < 24; s += 8) {
            long e = (long)((rgb >> s) & 255) - (long)((base[i].rgb >> s) & 255);
            d += e * e;
        }
        if (bd < 0 || d < bd) {
            bd = d;
            best = base[i].aci;
        }
    }
    return best;
}

static int vpush(dxfw *w, double x, double y) {
    if (w->n + 1 > w->cap) {
        int64_t nc = w->cap ? 2 * w->cap : 1024;
        double *q = realloc(w->xy, (size_t)nc * 2 * sizeof(double));
        if (!q) return -1;
        w->xy = q;
        w->cap = nc;
    }
    w->xy[2 * w->n] = x * w->k;
    w->xy[2 * w->n + 1] = w->h_mm - y * w->k;
    w->n++;
    return 0;
}

/* flattens a cubic from (x0,y0) into pieces within DXF_TOL_MM: the uniform
 * n-piece polyline is within max|B''| / (8 n^2) of the curve */
static int flatten_cubic(dxfw *w, double x0, double y0, const double *p) {
    double ax = x0 - 2.0 * p[0] + p[2], ay = y0 - 2.0 * p[1] + p[3];
    double bx = p[0] - 2.0 * p[2] + p[4], by = p[1] - 2.0 * p[3] + p[5];
    double m = fmax(hypot(ax, ay), hypot(bx, by)) * w->k; /* mm */
    int n = (int)ceil(sqrt(0.75 * m / DXF_TOL_MM));
    if (n < 1) n = 1;
    if (n > DXF_MAX_FLAT) n = DXF_MAX_FLAT;
    for (int i = 1; i <= n; i++) {
        double t = (double)i / n, u = 1 - t;
        double b0 = u * u * u, b1 = 3 * u * u * t, b2 = 3 * u * t * t, b3 = t * t * t;
        if (vpush(w, b0 * x0 + b1 * p[0] + b2 * p[2] + b3 * p[4], b0 * y0 + b1 * p[1] + b2 * p[3] + b3 * p[5]))
            return -1;
    }
    return 0;
}

/* the vertices of a subpath (a closed one without its repeated start) */
static int path_vertices(dxfw *w, const vec_gpath *pa) {
    w->n = 0;
    if (vpush(w, (double)pa->sx, (double)pa->sy)) return -1;
    double cx = (double)pa->sx, cy = (double)pa->sy;
    const vec_gseg *s = w->g->segs + pa->seg_off;
    for (int32_t i = 0; i < pa->nseg; i++) {
        if (s[i].kind == VEC_SEG_CUBIC) {
            double p[6];
            for (int k = 0; k < 6; k++) p[k] = (double)s[i].p[k];
            if (flatten_cubic(w, cx, cy, p)) return -1;
        } else if (s[i].kind == VEC_SEG_ARC) { /* as its cubics (geom.c), flattened */
            double c[VEC_ARC_MAX_CUBICS][6];
            int n = carve__vec_arc_cubics(cx, cy, s[i].p, c);
            if (!n && vpush(w, (double)s[i].p[0], (double)s[i].p[1])) return -1;
            for (int k = 0; k < n; k++) {
                if (flatten_cubic(w, cx, cy, c[k])) return -1;
                cx = c[k][4];
                cy = c[k][5];
            }
        } else if (vpush(w, (double)vec_gseg_ex(&s[i]), (double)vec_gseg_ey(&s[i]))) {
            return -1;
        }
        cx = (double)vec_gseg_ex(&s[i]);
        cy = (double)vec_gseg_ey(&s[i]);
    }
    if (pa->closed && w->n > 1 && llround(w->xy[0] * DXF_FIX) == llround(w->xy[2 * w->n - 2] * DXF_FIX) &&
        llround(w->xy[1] * DXF_FIX) == llround(w->xy[2 * w->n - 1] * DXF_FIX))
        w->n--;
    return 0;
}

static void layer_name(const vec_geom *g, const vec_item *it, char *out) {
    if (it->color == VEC_COLOR_SPOT) {
        snprintf(out, 16, "%s", VEC_CUT_SPOT_NAME);
        return;
    }
    char hx[8];
    carve__hex(g->colors[it->color], hx);
    snprintf(out, 16, "color-%s", hx + 1);
}

/* an entity's head: its type, handle, owner, layer and subclass marker */
static void entity_begin(dxfw *w, const char *type, unsigned h, unsigned owner, const char *layer, const char *sub) {
    gs(w->b, 0, type);
    gh(w, 5, h);
    gh(w, 330, owner);
    gs(w->b, 100, "AcDbEntity");
    gs(w->b, 8, layer);
    gs(w->b, 100, sub);
}

static int put_polyline(dxfw *w, const vec_item *it, const vec_gpath *pa, unsigned owner) {
    if (path_vertices(w, pa)) return -1;
    char ln[16];
    layer_name(w->g, it, ln);
    carve__buf *b = w->b;
    entity_begin(w, "LWPOLYLINE", w->handle++, owner, ln, "AcDbPolyline");
    gi(b, 90, w->n);
    gi(b, 70, pa->closed || it->kind == VEC_ITEM_FILL ? 1 : 0);
    if (it->kind == VEC_ITEM_STROKE && it->role == VEC_ROLE_OUTLINE) gfix(b, 43, it->width * w->k * (double)w->g->unit);
    for (int64_t i = 0; i < w->n; i++) {
        gfix(b, 10, w->xy[2 * i]);
        gfix(b, 20, w->xy[2 * i + 1]);
    }
    return 0;
}

/* ---- file structure ------------------------------------------------------ */

enum { H_BLOCK_RECORD = 0x1, H_LAYER_TABLE = 0x2, H_STYLE_TABLE = 0x3, H_LTYPE_TABLE = 0x5, H_VIEW_TABLE = 0x6,
       H_UCS_TABLE = 0x7, H_VPORT_TABLE = 0x8, H_APPID_TABLE = 0x9, H_DIMSTYLE_TABLE = 0xA, H_ROOT_DICT = 0xC,
       H_GROUP_DICT = 0xD, H_LAYER0 = 0x10, H_STYLE = 0x11, H_APPID = 0x12, H_LT_BYBLOCK = 0x14,
       H_LT_BYLAYER = 0x15, H_LT_CONT = 0x16, H_PAPER_REC = 0x1B, H_PAPER_BLK = 0x1C, H_PAPER_END = 0x1D,
       H_MODEL_REC = 0x1F, H_MODEL_BLK = 0x20, H_MODEL_END = 0x21, H_DIMSTYLE = 0x27, H_FIRST_FREE = 0x100 };

static void table_begin(dxfw *w, const char *name, unsigned h, int count) {
    gs(w->b, 0, "TABLE");
    gs(w->b, 2, name);
    gh(w, 5, h);
    gh(w, 330, 0);
    gs(w->b, 100, "AcDbSymbolTable");
    gi(w->b, 70, count);
}

static void record_begin(dxfw *w, const char *type, unsigned h, unsigned owner, const char *sub) {
    gs(w->b, 0, type);
    gh(w, strcmp(type, "DIMSTYLE") ? 5 : 105, h);
    gh(w, 330, owner);
    gs(w->b, 100, "AcDbSymbolTableRecord");
    gs(w->b, 100, sub);
}

static void put_header(dxfw *w, double wmm, unsigned handseed) {
    carve__buf *b = w->b;
    gs(b, 0, "SECTION");
    gs(b, 2, "HEADER");
    gs(b, 9, "$ACADVER");
    gs(b, 1, "AC1015");
    gs(b, 9, "$HANDSEED");
    gh(w, 5, handseed);
    gs(b, 9, "$INSUNITS");
    gi(b, 70, 4); /* millimetres */
    gs(b, 9, "$MEASUREMENT");
    gi(b, 70, 1); /* metric */
    gs(b, 9, "$EXTMIN");
    gfix(b, 10, 0);
    gfix(b, 20, 0);
    gfix(b, 30, 0);
    gs(b, 9, "$EXTMAX");
    gfix(b, 10, wmm);
    gfix(b, 20, w->h_mm);
    gfix(b, 30, 0);
    gs(b, 0, "ENDSEC");
    gs(b, 0, "SECTION");
    gs(b, 2, "CLASSES");
    gs(b, 0, "ENDSEC");
}

static void put_ltypes(dxfw *w) {
    static const char *const names[] = {"ByBlock", "ByLayer", "Continuous"};
    static const unsigned hs[] = {H_LT_BYBLOCK, H_LT_BYLAYER, H_LT_CONT};
    table_begin(w, "LTYPE", H_LTYPE_TABLE, 3);
    for (int i = 0; i < 3; i++) {
        record_begin(w, "LTYPE", hs[i], H_LTYPE_TABLE, "AcDbLinetypeTableRecord");
        gs(w->b, 2, names[i]);
        gi(w->b, 70, 0);
        gs(w->b, 3, i == 2 ? "Solid line" : "");
        gi(w->b, 72, 65);
        gi(w->b, 73, 0);
        gfix(w->b, 40, 0);
    }
    gs(w->b, 0, "ENDTAB");
}

static void put_layer(dxfw *w, unsigned h, const char *name, int aci, long long rgb) {
    record_begin(w, "LAYER", h, H_LAYER_TABLE, "AcDbLayerTableRecord");
    gs(w->b, 2, name);
    gi(w->b, 70, 0);
    gi(w->b, 62, aci);
    if (rgb >= 0) gi(w->b, 420, rgb);
    gs(w->b, 6, "Continuous");
}

/* layer 0, one per colour used (fills and outline strokes), CutContour */
static void put_layers(dxfw *w, const bool used[256], bool spot) {
    int n = 1 + (spot ? 1 : 0);
    for (int c = 0; c < 256; c++) n += used[c];
    table_begin(w, "LAYER", H_LAYER_TABLE, n);
    put_layer(w, H_LAYER0, "0", 7, -1);
    for (int c = 0; c < w->g->ncolors; c++) {
        if (!used[c]) continue;
        char hx[8], name[16];
        carve__hex(w->g->colors[c], hx);
        snprintf(name, sizeof name, "color-%s", hx + 1);
        put_layer(w, w->handle++, name, nearest_aci(w->g->colors[c]), (long long)w->g->colors[c]);
    }
    if (spot) put_layer(w, w->handle++, VEC_CUT_SPOT_NAME, 6, 0xFF00FF);
    gs(w->b, 0, "ENDTAB");
}

static void put_tables(dxfw *w, const bool used[256], bool spot) {
    carve__buf *b = w->b;
    gs(b, 0, "SECTION");
    gs(b, 2, "TABLES");
    table_begin(w, "VPORT", H_VPORT_TABLE, 0);
    gs(b, 0, "ENDTAB");
    put_ltypes(w);
    put_layers(w, used, spot);
    table_begin(w, "STYLE", H_STYLE_TABLE, 1);
    record_begin(w, "STYLE", H_STYLE, H_STYLE_TABLE, "AcDbTextStyleTableRecord");
    gs(b, 2, "Standard");
    gi(b, 70, 0);
    gfix(b, 40, 0);
    gfix(b, 41, 1);
    gfix(b, 50, 0);
    gi(b, 71, 0);
    gfix(b, 42, 2.5);
    gs(b, 3, "txt");
    gs(b, 4, "");
    gs(b, 0, "ENDTAB");
    table_begin(w, "VIEW", H_VIEW_TABLE, 0);
    gs(b, 0, "ENDTAB");
    table_begin(w, "UCS", H_UCS_TABLE, 0);
    gs(b, 0, "ENDTAB");
    table_begin(w, "APPID", H_APPID_TABLE, 1);
    record_begin(w, "APPID", H_APPID, H_APPID_TABLE, "AcDbRegAppTableRecord");
    gs(b, 2, "ACAD");
    gi(b, 70, 0);
    gs(b, 0, "ENDTAB");
    table_begin(w, "DIMSTYLE", H_DIMSTYLE_TABLE, 1);
    gs(b, 100, "AcDbDimStyleTable");
    record_begin(w, "DIMSTYLE", H_DIMSTYLE, H_DIMSTYLE_TABLE, "AcDbDimStyleTableRecord");
    gs(b, 2, "Standard");
    gi(b, 70, 0);
    gs(b, 0, "ENDTAB");
    table_begin(w, "BLOCK_RECORD", H_BLOCK_RECORD, 2);
    record_begin(w, "BLOCK_RECORD", H_MODEL_REC, H_BLOCK_RECORD, "AcDbBlockTableRecord");
    gs(b, 2, "*Model_Space");
    record_begin(w, "BLOCK_RECORD", H_PAPER_REC, H_BLOCK_RECORD, "AcDbBlockTableRecord");
    gs(b, 2, "*Paper_Space");
    gs(b, 0, "ENDTAB");
    gs(b, 0, "ENDSEC");
}

static void put_block(dxfw *w, const char *name, unsigned hb, unsigned he, unsigned rec) {
    carve__buf *b = w->b;
    entity_begin(w, "BLOCK", hb, rec, "0", "AcDbBlockBegin");
    gs(b, 2, name);
    gi(b, 70, 0);
    gfix(b, 10, 0);
    gfix(b, 20, 0);
    gfix(b, 30, 0);
    gs(b, 3, name);
    gs(b, 1, "");
    entity_begin(w, "ENDBLK", he, rec, "0", "AcDbBlockEnd");
}

static void put_objects(dxfw *w) {
    carve__buf *b = w->b;
    gs(b, 0, "SECTION");
    gs(b, 2, "OBJECTS");
    gs(b, 0, "DICTIONARY");
    gh(w, 5, H_ROOT_DICT);
    gh(w, 330, 0);
    gs(b, 100, "AcDbDictionary");
    gi(b, 281, 1);
    gs(b, 3, "ACAD_GROUP");
    gh(w, 350, H_GROUP_DICT);
    gs(b, 0, "DICTIONARY");
    gh(w, 5, H_GROUP_DICT);
    gh(w, 330, H_ROOT_DICT);
    gs(b, 100, "AcDbDictionary");
    gi(b, 281, 1);
    gs(b, 0, "ENDSEC");
}

/* the entities: every fill subpath, outline strokes, the CutContour */
static int put_entities(dxfw *w) {
    const vec_geom *g = w->g;
    for (int64_t i = 0; i < g->nitems; i++) {
        const vec_item *it = &g->items[i];
        if (it->kind == VEC_ITEM_STROKE && it->role == VEC_ROLE_GAP) continue;
        for (int64_t k = 0; k < it->npath; k++)
            if (put_polyline(w, it, &g->paths[it->path_off + k], H_MODEL_REC)) return -1;
    }
    return 0;
}

carve_status carve__vec_write_dxf(carve_ctx *ctx, const vec_geom *g, const vec_out_params *o, char **doc, size_t *len) {
    carve__buf ents, b;
    carve__buf_init(&ents);
    carve__buf_init(&b);
    dxfw w = {&ents, g, o->mm_per_px / (double)g->unit, g->h * o->mm_per_px, H_FIRST_FREE, NULL, 0, 0};
    bool used[256] = {0}, spot = false;
    for (int64_t i = 0; i < g->nitems; i++) {
        const vec_item *it = &g->items[i];
        if (it->color == VEC_COLOR_SPOT) spot = true;
        else if (it->kind == VEC_ITEM_FILL || it->role == VEC_ROLE_OUTLINE) used[it->color] = true;
    }
    w.handle += 257; /* handles of the layers come first */
    int rc = put_entities(&w);
    free(w.xy);
    unsigned seed = w.handle;
    w.b = &b;
    w.handle = H_FIRST_FREE;
    put_header(&w, g->w * o->mm_per_px, seed);
    put_tables(&w, used, spot);
    gs(&b, 0, "SECTION");
    gs(&b, 2, "BLOCKS");
    put_block(&w, "*Model_Space", H_MODEL_BLK, H_MODEL_END, H_MODEL_REC);
    put_block(&w, "*Paper_Space", H_PAPER_BLK, H_PAPER_END, H_PAPER_REC);
    gs(&b, 0, "ENDSEC");
    gs(&b, 0, "SECTION");
    gs(&b, 2, "ENTITIES");
    carve__buf_put(&b, ents.data, ents.len);
    gs(&b, 0, "ENDSEC");
    put_objects(&w);
    gs(&b, 0, "EOF");
    bool oom = rc || ents.oom || b.oom;
    carve__buf_free(&ents);
    if (oom) {
        carve__buf_free(&b);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the DXF");
    }
    *doc = carve__buf_take(&b, len);
    return *doc ? CARVE_OK : carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory writing the DXF");
}
