/* detect.c — object detection with NanoDet (COCO-80), converted from TF.js
 * by scripts/onnx/tfjs2onnx.py into one output [1, N, 80 + 4 x bins]: for
 * every anchor of the strides 8, 16 and 32 (row-major cells), the 80 class
 * scores (after sigmoid) and, per side (left, top, right, bottom), the logits
 * of a distance distribution over bins 0..bins-1 (in units of the stride).
 *
 *   input:  letterbox to the model's size (libvips resampling through
 *           carve__resize), BGR, (v - mean) / std per the manifest
 *   decode: softmax over the bins, expected value x stride, box around the
 *           anchor centre (cell + 0.5) x stride, per-class NMS, top-K
 *   output: boxes in input pixels, kind = COCO name (person and vehicles)
 * Faces (BlazeFace, task face_detect) share the input, NMS and output; their
 * decoding is carve__face_decode.
 * The choices and the measurements behind them are in docs/nn.md. */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DET_NSTRIDES 3
static const int det_strides[DET_NSTRIDES] = {8, 16, 32};
#define DET_MAX_BINS 64
#define DET_MAX_CANDIDATES 4096   /* (anchor, class) pairs over the threshold, kept before NMS */
#define DET_CENTRE 0.5            /* anchor centre inside its cell (docs/nn.md: measured) */

static const char *const coco_names[CARVE_DET_CLASSES] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush"};

/* The classes carve reports: people and vehicles (COCO indices). */
static const int det_kept[] = {0, 1, 2, 3, 5, 6, 7};
#define DET_NKEPT ((int)(sizeof det_kept / sizeof det_kept[0]))

const char *carve__coco_name(int cls) { return cls >= 0 && cls < CARVE_DET_CLASSES ? coco_names[cls] : NULL; }

/* ---- input ------------------------------------------------------------------- */
carve_status carve__det_input(carve_ctx *ctx, const carve__nn_model *m, const carve_image *img, carve__nn_tensor *t,
                              carve__det_frame *f) {
    int W = m->width, H = m->height, nw = W, nh = H;
    if (m->letterbox) {
        double s = fmin((double)W / img->w, (double)H / img->h);
        nw = carve__clampi((int)lround(img->w * s), 1, W);
        nh = carve__clampi((int)lround(img->h * s), 1, H);
    }
    f->in_w = W, f->in_h = H, f->img_w = img->w, f->img_h = img->h;
    f->sx = (double)nw / img->w, f->sy = (double)nh / img->h;
    int px = (W - nw) / 2, py = (H - nh) / 2;
    f->pad_x = px, f->pad_y = py;
    carve_image *r = NULL;
    carve_status st = carve__resize(ctx, img, nw, nh, CARVE_KERNEL_LINEAR, &r);
    if (st) return st;
    size_t plane = (size_t)W * (size_t)H;
    t->data = malloc(plane * 3 * sizeof(float));
    if (!t->data) {
        carve_image_destroy(r);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory preparing %s's input", m->name);
    }
    t->rank = 4, t->shape[0] = 1;
    if (m->nhwc) t->shape[1] = H, t->shape[2] = W, t->shape[3] = 3;
    else t->shape[1] = 3, t->shape[2] = H, t->shape[3] = W;
    memset(t->data, 0, plane * 3 * sizeof(float)); /* padding: the mean */
    for (int c = 0; c < 3; c++) {
        int ch = m->bgr ? 2 - c : c; /* tensor channel c holds image channel ch */
        double mean = m->mean[c], inv = 1.0 / m->std[c];
        for (int y = 0; y < nh; y++)
            for (int x = 0; x < nw; x++) {
                const uint8_t *p = r->px + 4 * ((size_t)y * (size_t)nw + (size_t)x);
                double a = p[3] / 255.0, v = p[ch] * a + mean * (1 - a); /* transparent: the mean */
                size_t i = (size_t)(y + py) * (size_t)W + (size_t)(x + px);
                t->data[m->nhwc ? i * 3 + (size_t)c : (size_t)c * plane + i] = (float)((v - mean) * inv);
            }
    }
    carve_image_destroy(r);
    return CARVE_OK;
}

/* ---- decoding ------------------------------------------------------------------ */
/* Expected distance (in strides) of one side's bin logits. */
static double side_distance(const float *logit, int bins) {
    double mx = logit[0], sum = 0, acc = 0;
    for (int j = 1; j < bins; j++) mx = fmax(mx, logit[j]);
    for (int j = 0; j < bins; j++) {
        double e = exp(logit[j] - mx);
        sum += e;
        acc += e * j;
    }
    return acc / sum;
}

static int cmp_det(const void *pa, const void *pb) {
    const carve__det *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->cls != b->cls) return a->cls - b->cls;
    if (a->y0 != b->y0) return a->y0 < b->y0 ? -1 : 1;
    return a->x0 < b->x0 ? -1 : a->x0 > b->x0;
}

static double iou(const carve__det *a, const carve__det *b) {
    double iw = fmin(a->x1, b->x1) - fmax(a->x0, b->x0), ih = fmin(a->y1, b->y1) - fmax(a->y0, b->y0);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih;
    double u = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
    return u > 0 ? inter / u : 0;
}

/* Greedy per-class NMS over d[0..n) sorted by score; returns the kept count
 * (kept detections compacted to the front, order kept). */
static int nms(carve__det *d, int n, double thr) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        bool keep = true;
        for (int j = 0; j < k && keep; j++)
            if (d[j].cls == d[i].cls && iou(&d[j], &d[i]) > thr) keep = false;
        if (keep) d[k++] = d[i];
    }
    return k;
}

/* Appends the candidates of one anchor row (cell cx, cy of stride st). */
static void anchor_candidates(const float *row, int bins, int cx, int cy, int st, const carve__det_frame *f,
                              const carve__det_params *p, carve__det *cand, int *nc) {
    bool any = false;
    for (int k = 0; k < DET_NKEPT; k++) any |= row[det_kept[k]] > p->score;
    if (!any) return;
    double d[CARVE_DET_SIDES];
    for (int s = 0; s < CARVE_DET_SIDES; s++) d[s] = side_distance(row + CARVE_DET_CLASSES + s * bins, bins) * st;
    double ax = (cx + p->centre) * st, ay = (cy + p->centre) * st;
    double x0 = (ax - d[0] - f->pad_x) / f->sx, y0 = (ay - d[1] - f->pad_y) / f->sy;
    double x1 = (ax + d[2] - f->pad_x) / f->sx, y1 = (ay + d[3] - f->pad_y) / f->sy;
    x0 = fmax(0, x0), y0 = fmax(0, y0), x1 = fmin(f->img_w, x1), y1 = fmin(f->img_h, y1);
    if (x1 <= x0 || y1 <= y0) return;
    for (int k = 0; k < DET_NKEPT && *nc < DET_MAX_CANDIDATES; k++) {
        float sc = row[det_kept[k]];
        if (!(sc > p->score)) continue;
        cand[(*nc)++] = (carve__det){(float)x0, (float)y0, (float)x1, (float)y1, sc, det_kept[k]};
    }
}

/* The decoded candidates (cand, owned) sorted by score, suppressed (NMS at
 * p->iou) and cut to p->max_out into *dets / *n (none: NULL, 0). */
static void finish_dets(carve__det *cand, int nc, const carve__det_params *p, carve__det **dets, int *n) {
    if (nc > 1) qsort(cand, (size_t)nc, sizeof *cand, cmp_det);
    int k = nms(cand, nc, p->iou);
    if (k > p->max_out) k = p->max_out;
    if (!k) {
        free(cand);
        return;
    }
    carve__det *res = realloc(cand, (size_t)k * sizeof *res);
    *dets = res ? res : cand;
    *n = k;
}

carve_status carve__det_decode(carve_ctx *ctx, const float *out, int rows, int width, const carve__det_frame *f,
                               const carve__det_params *p, carve__det **dets, int *n) {
    *dets = NULL;
    *n = 0;
    int bins = (width - CARVE_DET_CLASSES) / CARVE_DET_SIDES, want = 0;
    for (int s = 0; s < DET_NSTRIDES; s++)
        want += ((f->in_w + det_strides[s] - 1) / det_strides[s]) * ((f->in_h + det_strides[s] - 1) / det_strides[s]);
    if (bins < 2 || bins > DET_MAX_BINS || width != CARVE_DET_CLASSES + CARVE_DET_SIDES * bins || rows != want)
        return carve__fail(ctx, CARVE_ERR_BACKEND,
                           "object detection: output %dx%d is not NanoDet's (want %d anchors x (80 + 4 x bins))", rows,
                           width, want);
    carve__det *cand = malloc(DET_MAX_CANDIDATES * sizeof *cand);
    if (!cand) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory decoding detections");
    int nc = 0, r = 0;
    for (int s = 0; s < DET_NSTRIDES; s++) {
        int st = det_strides[s], gw = (f->in_w + st - 1) / st, gh = (f->in_h + st - 1) / st;
        for (int cy = 0; cy < gh; cy++)
            for (int cx = 0; cx < gw; cx++, r++)
                anchor_candidates(out + (size_t)r * (size_t)width, bins, cx, cy, st, f, p, cand, &nc);
    }
    finish_dets(cand, nc, p, dets, n);
    return CARVE_OK;
}

/* ---- faces (BlazeFace) ------------------------------------------------------------ */
/* Anchor layout of the 256x256 BlazeFace ("back" model, MediaPipe's SSD
 * anchors: offset 0.5, fixed size): 16x16 cells x 2 anchors, then 8x8 cells
 * x 6 anchors; rows are cell-major, the anchors of a cell consecutive. */
#define FACE_NLEVELS 2
static const int face_grid[FACE_NLEVELS] = {16, 8};
static const int face_per_cell[FACE_NLEVELS] = {2, 6};
#define FACE_BOX 4           /* cx, cy, w, h offsets in input pixels; 6 keypoints follow */
#define FACE_LOGIT_CLAMP 100.0

carve_status carve__face_decode(carve_ctx *ctx, const float *out, int rows, int width, const carve__det_frame *f,
                                const carve__det_params *p, carve__det **dets, int *n) {
    *dets = NULL;
    *n = 0;
    int want = 0;
    for (int l = 0; l < FACE_NLEVELS; l++) want += face_grid[l] * face_grid[l] * face_per_cell[l];
    if (rows != want || width < 1 + FACE_BOX)
        return carve__fail(ctx, CARVE_ERR_BACKEND, "face detection: output %dx%d is not BlazeFace's (want %d x (1 + 16))",
                           rows, width, want);
    carve__det *cand = malloc(DET_MAX_CANDIDATES * sizeof *cand);
    if (!cand) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory decoding faces");
    int nc = 0, r = 0;
    for (int l = 0; l < FACE_NLEVELS; l++) {
        int g = face_grid[l];
        for (int cell = 0; cell < g * g; cell++)
            for (int a = 0; a < face_per_cell[l]; a++, r++) {
                const float *row = out + (size_t)r * (size_t)width;
                double logit = fmax(-FACE_LOGIT_CLAMP, fmin(FACE_LOGIT_CLAMP, row[0])), sc = 1 / (1 + exp(-logit));
                if (!(sc > p->score) || nc >= DET_MAX_CANDIDATES) continue;
                double ax = (cell % g + p->centre) / g * f->in_w, ay = (cell / g + p->centre) / g * f->in_h;
                double cx = ax + row[1], cy = ay + row[2], w = row[3], h = row[4];
                double x0 = fmax(0, (cx - w / 2 - f->pad_x) / f->sx), y0 = fmax(0, (cy - h / 2 - f->pad_y) / f->sy);
                double x1 = fmin(f->img_w, (cx + w / 2 - f->pad_x) / f->sx), y1 = fmin(f->img_h, (cy + h / 2 - f->pad_y) / f->sy);
                if (x1 <= x0 || y1 <= y0) continue;
                cand[nc++] = (carve__det){(float)x0, (float)y0, (float)x1, (float)y1, (float)sc, CARVE_DET_FACE};
            }
    }
    finish_dets(cand, nc, p, dets, n);
    return CARVE_OK;
}

/* ---- the adapter ------------------------------------------------------------------ */
static void fill_info(carve_ctx *ctx, const carve__nn_model *m, const char *task, carve__nn_info *info) {
    const char *ver = NULL;
    carve__ort_load(ctx, &ver);
    memset(info, 0, sizeof *info);
    snprintf(info->task, sizeof info->task, "%s", task);
    snprintf(info->model, sizeof info->model, "%s", m->name);
    snprintf(info->file, sizeof info->file, "%s", m->path);
    snprintf(info->sha256, sizeof info->sha256, "%s", m->sha256);
    snprintf(info->runtime, sizeof info->runtime, "%s", ver ? ver : "");
    int t = (int)carve__opt_int(ctx, CARVE_OPTID_nn_threads);
    info->threads = t > 0 ? t : carve__threads(ctx);
    if (m->size_mode == CARVE_NN_SIZE_FIXED) info->input_w = m->width, info->input_h = m->height;
}

carve_status carve__nn_model_info(carve_ctx *ctx, const char *task, carve__nn_info *info) {
    carve__nn_manifest *man = NULL;
    const carve__nn_model *m = NULL;
    carve_status st = carve__nn_find_model(ctx, task, &man, &m);
    if (st) return st;
    fill_info(ctx, m, task, info);
    carve__nn_manifest_free(man);
    return CARVE_OK;
}

/* Decoded detections -> carve__box (pixel bounds, COCO name). */
static carve_status to_boxes(carve_ctx *ctx, const carve__det *d, int nd, carve__box **boxes, int *n) {
    if (!nd) return CARVE_OK;
    carve__box *b = calloc((size_t)nd, sizeof *b);
    if (!b) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < nd; i++) {
        int x0 = (int)floor(d[i].x0), y0 = (int)floor(d[i].y0), x1 = (int)ceil(d[i].x1), y1 = (int)ceil(d[i].y1);
        if (x1 <= x0 || y1 <= y0) continue;
        b[k].x = x0, b[k].y = y0, b[k].w = x1 - x0, b[k].h = y1 - y0, b[k].score = d[i].score;
        snprintf(b[k].kind, sizeof b[k].kind, "%s", d[i].cls == CARVE_DET_FACE ? "face" : carve__coco_name(d[i].cls));
        k++;
    }
    *boxes = b;
    *n = k;
    return CARVE_OK;
}

/* Runs the detector of task (object_detect or face_detect) on img. */
static carve_status detect(carve_ctx *ctx, const char *task, const carve_image *img, carve__box **boxes, int *n,
                           carve__nn_info *info) {
    *boxes = NULL;
    *n = 0;
    double t0 = carve__now();
    if (!img || !img->px) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "%s: no image", task);
    if (img->w <= 0 || img->h <= 0) return carve__fail(ctx, CARVE_ERR_EMPTY, "%s: empty %dx%d image", task, img->w, img->h);
    carve__nn_manifest *man = NULL;
    const carve__nn_model *m = NULL;
    carve_status st = carve__nn_find_model(ctx, task, &man, &m);
    if (st) return st;
    carve__nn_tensor in = {0}, out = {0};
    carve__det_frame f;
    carve__det *dets = NULL;
    int nd = 0;
    bool faces = m->task == CARVE_NN_FACE_DETECT;
    if (m->size_mode != CARVE_NN_SIZE_FIXED) {
        st = carve__fail(ctx, CARVE_ERR_CONFIG, "model %s: %s needs size_policy \"fixed\"", m->name, task);
        goto done;
    }
    if ((st = carve__det_input(ctx, m, img, &in, &f))) goto done;
    if ((st = carve__progress(ctx, 0.15, "nn"))) goto done;
    if ((st = carve__ort_run(ctx, m, &in, 1, &out, 1))) goto done;
    if (out.rank != 3 || out.shape[0] != 1) {
        st = carve__fail(ctx, CARVE_ERR_BACKEND, "model %s: output of rank %d, want [1, anchors, values]", m->name, out.rank);
        goto done;
    }
    carve__det_params p = {m->det_score, m->det_iou, m->det_max, DET_CENTRE};
    st = (faces ? carve__face_decode : carve__det_decode)(ctx, out.data, (int)out.shape[1], (int)out.shape[2], &f, &p,
                                                          &dets, &nd);
    if (st || (st = to_boxes(ctx, dets, nd, boxes, n))) goto done;
    if (info) {
        fill_info(ctx, m, task, info);
        info->seconds = carve__now() - t0;
    }
    st = carve__progress(ctx, 1, "nn");
done:
    if (st) {
        free(*boxes);
        *boxes = NULL;
        *n = 0;
    }
    free(dets);
    carve__nn_tensor_free(&in);
    carve__nn_tensor_free(&out);
    carve__nn_manifest_free(man);
    return st;
}

carve_status carve__nn_detect_objects_info(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n,
                                           carve__nn_info *info) {
    return detect(ctx, "object_detect", img, boxes, n, info);
}

carve_status carve__nn_detect_objects(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n) {
    return detect(ctx, "object_detect", img, boxes, n, NULL);
}

carve_status carve__nn_detect_faces_info(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n,
                                         carve__nn_info *info) {
    return detect(ctx, "face_detect", img, boxes, n, info);
}

carve_status carve__nn_detect_faces(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n) {
    return detect(ctx, "face_detect", img, boxes, n, NULL);
}
