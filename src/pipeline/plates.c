/* plates.c — plates and text, searched where they are.
 *
 * The whole-frame detectors see a plate at the work size, where a distant
 * car's plate is 15-25 px wide and its characters blur together.  Plates
 * live on vehicles, so each vehicle box is searched again on a crop of the
 * *input* image (often larger than the work image), grown by CROP_GROW and
 * resampled (core's carve__resize, libvips) to about CROP_PX pixels, at
 * most CROP_MAX_UP times the input (an 18 px plate on a 300 px car is then
 * ~90 px wide).  On the crop run:
 *   - the classical detector on the upright crop and on copies turned by
 *     +-CROP_TURN degrees (core's carve__rotate; resampled at TURN_SCALE of
 *     the crop's scale, half the pixels), so plates tilted by up to ~35 deg
 *     meet its centre-line test (it tolerates ~15 deg) upright in one of
 *     them;
 *   - the neural text detector (when asked) on the upright crop of the
 *     first region (the subject), if it is under half the frame.
 * Boxes are mapped back to work pixels as oriented rectangles (the turn, or
 * for upright boxes the tilt estimated from the box's edge directions),
 * merged with the frame's and with each other (a box overlapping a better
 * one by half of the smaller is dropped; the kept one grows to the union
 * when that is at most 1.5x its area), and sorted by score. */
#include "pipeline/plates.h"

#include "nn/nn.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CROP_GROW 0.06      /* each side of a vehicle box grows by this share of its size */
#define CROP_MAX_UP 6.0     /* at most this many crop pixels per input pixel (per axis) */
#define CROP_PX 0.8e6       /* a crop is resampled to about this many pixels */
#define TURN_SCALE 0.7      /* the turned copies are resampled at this share of the crop's scale */
#define NEURAL_REGIONS 1    /* the neural detector searches the first region only (one model run) */
#define CROP_TURN 22.0      /* deg: the turned copies */
#define MAX_REGIONS 4       /* vehicle boxes searched, in the order given (the subject first) */
#define NEURAL_REGION_MAX 0.5 /* the neural detector searches regions under this share of the frame
                               * (it resamples its input to 960 px: on a larger region it sees what
                               * it saw on the frame) */
#define MERGE_OVERLAP 0.5   /* intersection over the smaller box: the same detection */
#define MERGE_GROW 1.5      /* the kept box grows to the union up to this area ratio */
#define PLATE_RELABEL 0.5   /* share of the kept box a plate must cover to make it a plate */
/* Sizes no plate or line of text on a vehicle has (the height is the
 * oriented rectangle's short side, margins included): a plate is at most
 * ~0.2 m of a 1.2-4 m tall vehicle, a line of lettering at most ~0.3 of it.
 * The detectors do produce such boxes: PP-OCR on a dark cab and a tractor
 * (one 327x248 "text" box), the classical detector on a car's rear quarter
 * (a 338x105 "plate" on a 405 px tall car); erased, they paint a flat panel
 * over a third of the vehicle. */
#define PLATE_MAX_VEHICLE_H 0.2  /* a plate's height / the height of the vehicle it lies on */
#define TEXT_MAX_VEHICLE_H 0.3   /* a text line's height / the height of the vehicle it lies on */
#define TEXT_MAX_FRAME_H 0.3     /* a text line's height / the image height */

typedef struct hitlist {
    carve__plate_hit *h;
    int n, cap;
} hitlist;

static bool hits_add(hitlist *L, const carve__plate_hit *h) {
    if (L->n == L->cap) {
        int nc = L->cap ? 2 * L->cap : 32;
        carve__plate_hit *p = realloc(L->h, (size_t)nc * sizeof *p);
        if (!p) return false;
        L->h = p;
        L->cap = nc;
    }
    L->h[L->n++] = *h;
    return true;
}

/* Frame detections: boxes in work pixels, tilt from the box's edges. */
static bool add_frame(hitlist *L, const carve_image *work, const carve__box *b, int n, const char *det, double sx) {
    for (int i = 0; i < n; i++) {
        carve__plate_hit h;
        memset(&h, 0, sizeof h);
        h.box = b[i];
        h.r = carve__obox_in_box(&b[i], carve__text_angle(work, &b[i]));
        h.region = -1;
        h.scale = sx;
        snprintf(h.detector, sizeof h.detector, "%s", det);
        if (!hits_add(L, &h)) return false;
    }
    return true;
}

/* The crop of one region: its place in the input and its scale. */
typedef struct crop {
    int x0, y0;        /* top-left, input pixels */
    double f;          /* crop pixels per input pixel */
    carve_image *img;  /* the resampled crop */
    int region;
} crop;

/* Maps a box found on the crop turned by turn deg (rw x rh) back to work
 * pixels as an oriented rectangle. */
static carve__plate_hit map_back(const crop *c, const carve_image *turned, double turn, const carve__box *b, double sx,
                                 double sy, const char *det, int W, int H) {
    carve__plate_hit h;
    memset(&h, 0, sizeof h);
    double bx = b->x + 0.5 * b->w, by = b->y + 0.5 * b->h, cx = bx, cy = by;
    double resid = carve__text_angle(turned, b);
    carve__obox r = carve__obox_in_box(b, resid); /* in the turned copy */
    if (turn != 0) carve__rotate_map(c->img->w, c->img->h, turn, -1, bx, by, &cx, &cy);
    /* crop -> input -> work (sx ~ sy: the work image keeps the aspect) */
    double k = 0.5 * (sx + sy) / c->f;
    h.r.cx = (c->x0 + cx / c->f) * sx;
    h.r.cy = (c->y0 + cy / c->f) * sy;
    h.r.w = r.w * k;
    h.r.h = r.h * k;
    h.r.deg = r.deg - turn; /* turning by +turn made a plate at -turn upright */
    carve__obox_bounds(&h.r, 0, W, H, &h.box);
    h.box.score = b->score;
    snprintf(h.box.kind, sizeof h.box.kind, "%s", b->kind);
    h.region = c->region;
    h.scale = c->f;
    h.turn = turn;
    snprintf(h.detector, sizeof h.detector, "%s", det);
    return h;
}

static carve_status make_crop(carve_ctx *ctx, const carve_image *orig, const carve__box *reg, double sx, double sy,
                              double fmul, crop *c) {
    double gx = CROP_GROW * reg->w, gy = CROP_GROW * reg->h;
    int x0 = carve__clampi((int)floor((reg->x - gx) / sx), 0, orig->w);
    int y0 = carve__clampi((int)floor((reg->y - gy) / sy), 0, orig->h);
    int x1 = carve__clampi((int)ceil((reg->x + reg->w + gx) / sx), 0, orig->w);
    int y1 = carve__clampi((int)ceil((reg->y + reg->h + gy) / sy), 0, orig->h);
    c->img = NULL;
    if (x1 - x0 < 8 || y1 - y0 < 8) return CARVE_OK;
    int cw = x1 - x0, ch = y1 - y0;
    double f = fmin(sqrt(CROP_PX / ((double)cw * ch)), CROP_MAX_UP) * fmul;
    carve_image *raw = carve__crop(orig, x0, y0, cw, ch);
    if (!raw) return carve__fail(ctx, CARVE_ERR_NOMEM, "plate search: out of memory");
    int tw = (int)lround(cw * f), th = (int)lround(ch * f);
    carve_status st = CARVE_OK;
    if (tw == cw && th == ch) c->img = raw, raw = NULL;
    else st = carve__resize(ctx, raw, tw < 1 ? 1 : tw, th < 1 ? 1 : th, CARVE_KERNEL_CUBIC, &c->img);
    carve_image_destroy(raw);
    c->x0 = x0;
    c->y0 = y0;
    c->f = (double)(c->img ? c->img->w : tw) / cw;
    return st;
}

/* The classical detector on the crop, upright (c) and turned both ways
 * (ct: the crop at a lower resolution). */
static carve_status search_classical(carve_ctx *ctx, const crop *c0, const crop *ct, double sx, double sy, int W,
                                     int H, hitlist *L) {
    const double turns[3] = {0, CROP_TURN, -CROP_TURN};
    for (int t = 0; t < 3; t++) {
        const crop *c = t ? ct : c0;
        if (!c->img) continue;
        carve_image *im = NULL;
        const carve_image *src = c->img;
        carve_status st = CARVE_OK;
        if (turns[t] != 0) {
            if ((st = carve__rotate(ctx, c->img, turns[t], &im))) return st;
            src = im;
        }
        carve__box *b = NULL;
        int nb = 0;
        st = carve__detect_plates(ctx, src, &b, &nb);
        for (int i = 0; i < nb && !st; i++) {
            /* crops are searched for plates: the classical text paths, tuned
             * at the photo's own scale, see grilles and railings as text on
             * an upscaled crop */
            if (strcmp(b[i].kind, "plate")) continue;
            carve__plate_hit h = map_back(c, src, turns[t], &b[i], sx, sy, "classical", W, H);
            /* a turned copy is for tilted plates: what is upright in the
             * photo had its chance on the upright crop (an advert's line
             * can pass for a plate only when turned) */
            if (turns[t] != 0 && fabs(h.r.deg) < 0.5 * CROP_TURN) continue;
            if (!hits_add(L, &h)) st = carve__fail(ctx, CARVE_ERR_NOMEM, "plate search: out of memory");
        }
        free(b);
        carve_image_destroy(im);
        if (st) return st;
    }
    return CARVE_OK;
}

static carve_status search_neural(carve_ctx *ctx, const crop *c, double sx, double sy, int W, int H, hitlist *L) {
    carve__box *b = NULL;
    int nb = 0;
    carve_status st = carve__nn_text_detect(ctx, c->img, &b, &nb);
    for (int i = 0; i < nb && !st; i++) {
        /* the text detector hugs the characters: add the plate's frame */
        carve__box g = b[i];
        int m = (int)ceil(0.12 * (g.h < g.w ? g.h : g.w)) + 2;
        g.x -= m, g.y -= m, g.w += 2 * m, g.h += 2 * m;
        carve__plate_hit h = map_back(c, c->img, 0, &g, sx, sy, "neural", W, H);
        if (!hits_add(L, &h)) st = carve__fail(ctx, CARVE_ERR_NOMEM, "plate search: out of memory");
    }
    free(b);
    return st;
}

static double overlap_small(const carve__box *a, const carve__box *b) {
    int x0 = a->x > b->x ? a->x : b->x, y0 = a->y > b->y ? a->y : b->y;
    int x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    if (x1 <= x0 || y1 <= y0) return 0;
    double amin = fmin((double)a->w * a->h, (double)b->w * b->h);
    return amin > 0 ? (double)(x1 - x0) * (y1 - y0) / amin : 0;
}

static int cmp_hit(const void *pa, const void *pb) {
    const carve__plate_hit *a = pa, *b = pb;
    if (a->box.score != b->box.score) return a->box.score > b->box.score ? -1 : 1;
    if (a->box.y != b->box.y) return a->box.y < b->box.y ? -1 : 1;
    if (a->box.x != b->box.x) return a->box.x < b->box.x ? -1 : 1;
    if (a->box.w != b->box.w) return a->box.w < b->box.w ? -1 : 1;
    if (a->box.h != b->box.h) return a->box.h < b->box.h ? -1 : 1;
    return a->region - b->region;
}

/* Non-maximum suppression; the same plate seen as text elsewhere stays a plate. */
static void merge_hits(hitlist *L, int W, int H) {
    if (L->n > 1) qsort(L->h, (size_t)L->n, sizeof *L->h, cmp_hit);
    int k = 0;
    for (int i = 0; i < L->n; i++) {
        carve__plate_hit *o = &L->h[i];
        bool keep = true;
        for (int j = 0; j < k && keep; j++) {
            carve__plate_hit *a = &L->h[j];
            if (overlap_small(&a->box, &o->box) <= MERGE_OVERLAP) continue;
            keep = false;
            /* a plate seen as text elsewhere stays a plate, when the two are
             * one object (the plate covers half the kept box): a line of an
             * advert read as a plate does not make the advert a plate */
            double covered = overlap_small(&a->box, &o->box) *
                             fmin(1.0, (double)o->box.w * o->box.h / ((double)a->box.w * a->box.h));
            if (!strcmp(o->box.kind, "plate") && covered >= PLATE_RELABEL)
                snprintf(a->box.kind, sizeof a->box.kind, "plate");
            int ux0 = a->box.x < o->box.x ? a->box.x : o->box.x, uy0 = a->box.y < o->box.y ? a->box.y : o->box.y;
            int ux1 = a->box.x + a->box.w > o->box.x + o->box.w ? a->box.x + a->box.w : o->box.x + o->box.w;
            int uy1 = a->box.y + a->box.h > o->box.y + o->box.h ? a->box.y + a->box.h : o->box.y + o->box.h;
            if ((double)(ux1 - ux0) * (uy1 - uy0) > MERGE_GROW * (double)a->box.w * a->box.h) continue;
            carve__box u = a->box;
            u.x = ux0, u.y = uy0, u.w = ux1 - ux0, u.h = uy1 - uy0;
            if (u.w == a->box.w && u.h == a->box.h) continue;
            a->r = carve__obox_in_box(&u, a->r.deg);
            carve__obox_bounds(&a->r, 0, W, H, &a->box);
        }
        if (keep) L->h[k++] = *o;
    }
    L->n = k;
}

/* o's x, y, w, h: box b (work pixels) in input pixels (work / input = sx, sy). */
static void set_input_box(json_t *o, const carve__box *b, double sx, double sy) {
    json_object_set_new(o, "x", json_integer((json_int_t)floor(b->x / sx)));
    json_object_set_new(o, "y", json_integer((json_int_t)floor(b->y / sy)));
    json_object_set_new(o, "w", json_integer((json_int_t)ceil(b->w / sx)));
    json_object_set_new(o, "h", json_integer((json_int_t)ceil(b->h / sy)));
}

/* The first region (vehicle) whose box holds the hit's centre, or NULL. */
static const carve__box *vehicle_under(const carve__plate_hit *h, const carve__box *regions, int nreg) {
    for (int i = 0; i < nreg; i++) {
        const carve__box *v = &regions[i];
        if (h->r.cx >= v->x && h->r.cx < v->x + v->w && h->r.cy >= v->y && h->r.cy < v->y + v->h) return v;
    }
    return NULL;
}

/* Why a hit is too large to be what it is called, or NULL. */
static const char *implausible(const carve__plate_hit *h, const carve__box *regions, int nreg, int H) {
    double lh = fmin(h->r.w, h->r.h); /* the line's height, whatever its tilt */
    const carve__box *v = vehicle_under(h, regions, nreg);
    bool plate = !strcmp(h->box.kind, "plate");
    if (plate && v && lh > PLATE_MAX_VEHICLE_H * v->h) return "taller than a plate on this vehicle";
    if (!plate && v && lh > TEXT_MAX_VEHICLE_H * v->h) return "taller than a line of lettering on this vehicle";
    if (!plate && lh > TEXT_MAX_FRAME_H * H) return "taller than a line of text in this image";
    return NULL;
}

/* Drops the hits no plate or text can be (implausible()); details gets
 * them as "rejected", in input pixels, with the reason. */
static void drop_implausible(hitlist *L, const carve__box *regions, int nreg, int H, double sx, double sy,
                             json_t *details) {
    json_t *rej = details ? json_array() : NULL;
    int k = 0;
    for (int i = 0; i < L->n; i++) {
        const char *why = implausible(&L->h[i], regions, nreg, H);
        if (!why) {
            L->h[k++] = L->h[i];
            continue;
        }
        const carve__box *b = &L->h[i].box;
        json_t *o = rej ? json_object() : NULL;
        json_object_set_new(o, "kind", json_string(b->kind));
        json_object_set_new(o, "score", json_real(round(b->score * 1000) / 1000));
        set_input_box(o, b, sx, sy);
        json_object_set_new(o, "detector", json_string(L->h[i].detector));
        json_object_set_new(o, "why", json_string(why));
        json_array_append_new(rej, o);
    }
    L->n = k;
    if (rej && json_array_size(rej)) json_object_set_new(details, "rejected", rej);
    else json_decref(rej);
}

/* ---- the frame's neural pass, ahead on its own thread -------------------- */

struct carve__text_ahead {
    pthread_t thread;
    carve_ctx *ctx; /* a clone: its own options and message */
    const carve_image *work;
    carve__box *boxes;
    int n;
    carve_status st;
};

static void *ahead_main(void *arg) {
    carve__text_ahead *a = arg;
    a->st = carve__nn_text_detect(a->ctx, a->work, &a->boxes, &a->n);
    return NULL;
}

carve__text_ahead *carve__text_ahead_start(carve_ctx *ctx, const carve_image *work) {
    if (carve__threads(ctx) < 2) return NULL; /* one core asked for: no second thread */
    carve__text_ahead *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->work = work;
    a->ctx = carve_ctx_clone(ctx);
    if (a->ctx && !pthread_create(&a->thread, NULL, ahead_main, a)) return a;
    carve_ctx_destroy(a->ctx);
    free(a);
    return NULL;
}

carve_status carve__text_ahead_join(carve_ctx *ctx, carve__text_ahead *a, carve__box **boxes, int *n) {
    *boxes = NULL;
    *n = 0;
    if (!a) return CARVE_ERR_INVALID_ARG;
    pthread_join(a->thread, NULL);
    carve_status st = a->st;
    if (st && ctx) carve__fail(ctx, st, "%s", carve_ctx_errmsg(a->ctx));
    else *boxes = a->boxes, *n = a->n;
    carve_ctx_destroy(a->ctx);
    free(a);
    return st;
}

/* The frame pass: ahead's result, or the detector run here. */
static carve_status frame_pass(carve_ctx *ctx, carve__text_ahead *ahead, const carve_image *work, bool neural,
                               carve__box **b, int *nb) {
    if (ahead) return carve__text_ahead_join(ctx, ahead, b, nb);
    return neural ? carve__nn_text_detect(ctx, work, b, nb) : carve__detect_plates(ctx, work, b, nb);
}

carve_status carve__plate_search(carve_ctx *ctx, carve__text_ahead *ahead, const carve_image *orig,
                                 const carve_image *work, double sx, double sy, const carve__box *regions, int nreg,
                                 bool neural, carve__plate_hit **hits, int *n, json_t *details) {
    *hits = NULL;
    *n = 0;
    hitlist L = {NULL, 0, 0};
    carve__box *b = NULL, *regs = NULL;
    int nb = 0;
    carve_status st = frame_pass(ctx, ahead, work, neural, &b, &nb);
    if (!st && neural) /* the frame's neural boxes hug the characters too */
        for (int i = 0; i < nb; i++) {
            int m = (int)ceil(0.12 * (b[i].h < b[i].w ? b[i].h : b[i].w)) + 2;
            b[i].x -= m, b[i].y -= m, b[i].w += 2 * m, b[i].h += 2 * m;
        }
    if (!st && !add_frame(&L, work, b, nb, neural ? "neural" : "classical", sx))
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "plate search: out of memory");
    free(b);
    if (!st && nreg > 0) {
        regs = malloc((size_t)nreg * sizeof *regs);
        if (!regs) st = carve__fail(ctx, CARVE_ERR_NOMEM, "plate search: out of memory");
        else memcpy(regs, regions, (size_t)nreg * sizeof *regs); /* in the caller's order: the subject first */
    }
    json_t *arr = details ? json_array() : NULL;
    for (int r = 0; r < nreg && r < MAX_REGIONS && !st; r++) {
        crop c = {0, 0, 1, NULL, r};
        double t0 = carve__now(), c0 = (double)clock() / CLOCKS_PER_SEC;
        bool nn_here = neural && r < NEURAL_REGIONS &&
                       (double)regs[r].w * regs[r].h < NEURAL_REGION_MAX * (double)work->w * work->h;
        crop ct = {0, 0, 1, NULL, r};
        st = make_crop(ctx, orig, &regs[r], sx, sy, 1.0, &c);
        if (!st && c.img) st = make_crop(ctx, orig, &regs[r], sx, sy, TURN_SCALE, &ct);
        if (!st && c.img) st = search_classical(ctx, &c, &ct, sx, sy, work->w, work->h, &L);
        if (!st && c.img && nn_here) st = search_neural(ctx, &c, sx, sy, work->w, work->h, &L);
        if (arr && c.img) {
            json_t *o = json_object();
            set_input_box(o, &regs[r], sx, sy);
            json_object_set_new(o, "kind", json_string(regs[r].kind));
            json_object_set_new(o, "crop_scale", json_real(round(c.f * 1000) / 1000));
            json_object_set_new(o, "crop_width", json_integer(c.img->w));
            json_object_set_new(o, "crop_height", json_integer(c.img->h));
            json_object_set_new(o, "detectors", json_string(nn_here ? "classical+neural" : "classical"));
            json_object_set_new(o, "time_s", json_real(round((carve__now() - t0) * 1000) / 1000));
            json_object_set_new(o, "cpu_s", json_real(round(((double)clock() / CLOCKS_PER_SEC - c0) * 1000) / 1000));
            json_array_append_new(arr, o);
        }
        carve_image_destroy(c.img);
        carve_image_destroy(ct.img);
    }
    free(regs);
    if (arr) json_object_set_new(details, "searched", arr);
    if (st) {
        free(L.h);
        return st;
    }
    merge_hits(&L, work->w, work->h);
    drop_implausible(&L, regions, nreg, work->h, sx, sy, details);
    *hits = L.h;
    *n = L.n;
    return CARVE_OK;
}
