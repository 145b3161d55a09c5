/* nn_internal.h — internals of the neural backends (src/nn only, and tests).
 *
 * manifest.c  model manifest: strict JSON parsing, lookup, locations
 * sha256.c    SHA-256 (FIPS 180-4) for model verification
 * ort.c       ONNX Runtime loader (dlopen), session cache, tensor runs
 * adapters.c  one adapter per task: pre-processing, inference, post-processing
 * db.c        DB post-processing for text detection (pure C, testable alone)
 * detect.c    object detection (NanoDet): letterbox, distance-bin decoding, NMS
 * models_api.c carve_models_json (public): manifest + runtime + verification
 */
#ifndef CARVE_NN_INTERNAL_H
#define CARVE_NN_INTERNAL_H
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

/* ---- tasks ------------------------------------------------------------- */
typedef enum carve__nn_task {
    CARVE_NN_MATTE = 0,
    CARVE_NN_TEXT_DETECT,
    CARVE_NN_INPAINT,
    CARVE_NN_SUPER_RESOLUTION,
    CARVE_NN_DEPTH,
    CARVE_NN_OBJECT_DETECT,
    CARVE_NN_FACE_DETECT,
    CARVE_NN_TASK__COUNT
} carve__nn_task;
/** "matte", "text_detect", ... ; NULL if out of range. */
const char *carve__nn_task_name(int task);
/** Task index of a name, or -1. */
int carve__nn_task_find(const char *name);

/* ---- manifest ---------------------------------------------------------- */
enum { CARVE_NN_SIZE_FIXED = 0, CARVE_NN_SIZE_CAP = 1, CARVE_NN_SIZE_ANY = 2 };
#define CARVE_NN_MAX_IO 4

/* "optimization" (manifest): ONNX Runtime's GraphOptimizationLevel values */
enum { CARVE_NN_OPT_BASIC = 1, CARVE_NN_OPT_EXTENDED = 2, CARVE_NN_OPT_ALL = 99 };

typedef struct carve__nn_model {
    char name[64];
    int task;                        /* carve__nn_task */
    char file[256];                  /* as written in the manifest */
    char path[1024];                 /* resolved against the models folder */
    char sha256[65];                 /* lower-case hex */
    char inputs[CARVE_NN_MAX_IO][128];
    int ninputs;
    char outputs[CARVE_NN_MAX_IO][128];
    int noutputs;
    bool nhwc;                       /* layout; false = NCHW */
    int size_mode;                   /* CARVE_NN_SIZE_* */
    int width, height;               /* FIXED */
    int long_side;                   /* CAP: cap on the long side (0 = none) */
    bool upscale;                    /* CAP: also enlarge smaller images to long_side */
    int multiple;                    /* CAP/ANY: dims rounded to a multiple (>= 1) */
    bool bgr;                        /* channel order of the input tensor */
    double mean[3], std[3];          /* x = (v - mean) / std, v in 0..255 */
    double out_scale, out_offset;    /* image outputs: v = y * scale + offset */
    double threshold, box_score, unclip; /* text_detect (DB) */
    int max_candidates;
    double det_score, det_iou;       /* object_detect: score threshold, NMS IoU */
    int det_max;                     /* object_detect: detections kept at most */
    bool letterbox;                  /* object_detect: keep the aspect ratio, pad */
    int optimization;                /* ONNX Runtime graph optimisation level: CARVE_NN_OPT_* */
    char licence[256];
    char notes[256];
    bool optional;
} carve__nn_model;

typedef struct carve__nn_manifest {
    char source[1024];               /* file the manifest came from */
    char models_dir[1024];           /* folder model files are resolved in */
    carve__nn_model *models;
    int n;
} carve__nn_manifest;

/** Parses and validates a manifest (unknown keys, missing fields, bad types
 *  or sha256 are CARVE_ERR_CONFIG naming source, model and field).  File
 *  names are resolved against models_dir. */
carve_status carve__nn_manifest_parse(carve_ctx *ctx, const char *text, size_t len, const char *source,
                                      const char *models_dir, carve__nn_manifest **out);
/** Loads the manifest in effect: models_dir/manifest.json if it exists, else
 *  the default manifest; models_dir from option models_dir, env
 *  CARVE_MODELS_DIR, else the build's default (the project's models/). */
carve_status carve__nn_manifest_load(carve_ctx *ctx, carve__nn_manifest **out);
void carve__nn_manifest_free(carve__nn_manifest *m);
/** The models folder in effect (see above) into buf. */
void carve__nn_models_dir(const carve_ctx *ctx, char *buf, size_t len);
/** The default manifest's path (compiled in; env CARVE_MANIFEST overrides). */
const char *carve__nn_default_manifest(void);
/** The model installer (scripts/onnx/fetch_models.py; env CARVE_FETCH_SCRIPT
 *  overrides). */
const char *carve__nn_fetch_script(void);
/** First model of the task whose file exists, or NULL. */
const carve__nn_model *carve__nn_manifest_pick(const carve__nn_manifest *m, int task);

/** The runtime loaded and the first installed model of task ("matte", ...);
 *  CARVE_ERR_NOT_FOUND naming what is missing.  Free *man when done. */
carve_status carve__nn_find_model(carve_ctx *ctx, const char *task, carve__nn_manifest **man,
                                  const carve__nn_model **model);

/* ---- sha256 ------------------------------------------------------------ */
typedef struct carve__sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} carve__sha256;
void carve__sha256_init(carve__sha256 *s);
void carve__sha256_update(carve__sha256 *s, const void *data, size_t n);
void carve__sha256_final(carve__sha256 *s, uint8_t out[32]);
/** True when the SHA-NI instructions are used (x86-64 CPUs that have them). */
bool carve__sha256_accelerated(void);
/** Tests: use the portable C compression even where SHA-NI is available. */
void carve__sha256_force_portable(bool on);
/** Hex digest of a buffer (65 bytes with NUL). */
void carve__sha256_hex(const void *data, size_t n, char out[65]);
/** Hex digest of a file; CARVE_ERR_IO naming the file. */
carve_status carve__sha256_file(carve_ctx *ctx, const char *path, char out[65]);

/* ---- runtime ----------------------------------------------------------- */
/** A dense float tensor (row-major).  data is malloc'd for outputs. */
typedef struct carve__nn_tensor {
    float *data;
    int64_t shape[8];
    int rank;
} carve__nn_tensor;
static inline size_t carve__nn_tensor_count(const carve__nn_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)(t->shape[i] > 0 ? t->shape[i] : 0);
    return n;
}

/** True when carve was compiled with the ONNX Runtime header. */
bool carve__ort_compiled(void);
/** Loads the runtime once per process (dlopen; see nn.h for the search
 *  order).  CARVE_ERR_NOT_FOUND naming the library and versions when it is
 *  missing or too old.  *version (may be NULL) gets the runtime's version. */
carve_status carve__ort_load(carve_ctx *ctx, const char **version);
/** The path of the runtime library carve__ort_load loaded (as dlopen'd: a
 *  bare soname for a system library), or NULL when none is loaded. */
const char *carve__ort_library(void);
/** Runs model m (session created once per process and thread count, sha256
 *  checked on first use) on nin float inputs (order of m->inputs), filling
 *  nout outputs (order of m->outputs; data malloc'd, free with
 *  carve__nn_tensor_free).  Cancellable (carve_ctx_cancel stops the run). */
carve_status carve__ort_run(carve_ctx *ctx, const carve__nn_model *m, const carve__nn_tensor *in, int nin,
                            carve__nn_tensor *out, int nout);
void carve__nn_tensor_free(carve__nn_tensor *t);
/** Checks that m loads: sha256, session creation, its input/output names. */
carve_status carve__ort_check(carve_ctx *ctx, const carve__nn_model *m);
/** Starts creating m's session (sha256 check, ONNX Runtime session) in a
 *  background thread, on a clone of ctx's options, unless it exists or
 *  MAX_PREWARM (4) prewarms are pending; a later run of m waits for it.
 *  Errors are not reported here: the run that needs the session reports
 *  them.  Finished prewarms are joined at the next call; pending ones by
 *  carve__nn_shutdown and at exit. */
void carve__ort_prewarm(carve_ctx *ctx, const carve__nn_model *m);
/** Prewarm threads not yet joined (running or finished); tests. */
int carve__ort_prewarm_pending(void);

/* ---- DB post-processing (text detection) ------------------------------- */
typedef struct carve__db_box {
    float cx, cy, w, h;  /* rotated rectangle in map pixels (w >= h) */
    float angle;         /* radians of the long side, in (-pi/2, pi/2] */
    float score;         /* mean probability inside the box */
    float quad[8];       /* the 4 corners after unclip, x0 y0 x1 y1 ... */
} carve__db_box;
/** DB post-processing of a probability map (w*h floats in 0..1): threshold,
 *  8-connected regions, minimum-area rotated boxes, box score, unclip.
 *  *boxes malloc'd (may be NULL when *n == 0), in scan order. */
carve_status carve__db_postprocess(carve_ctx *ctx, const float *prob, int w, int h, double threshold,
                                   double box_score, double unclip, int max_candidates, carve__db_box **boxes,
                                   int *n);

/* ---- object detection (detect.c) --------------------------------------- */
#define CARVE_DET_CLASSES 80        /* COCO */
#define CARVE_DET_SIDES 4           /* left, top, right, bottom distances */
#define CARVE_DET_FACE (-1)         /* carve__det.cls of a face (BlazeFace) */
/** How the model's input maps to the image: image = (tensor - pad) / scale. */
typedef struct carve__det_frame {
    int in_w, in_h;          /* tensor size */
    double sx, sy;           /* tensor pixels per image pixel */
    double pad_x, pad_y;     /* tensor pixels before the image */
    int img_w, img_h;
} carve__det_frame;
typedef struct carve__det_params {
    double score, iou;       /* class-score threshold, NMS IoU */
    int max_out;             /* detections kept at most */
    double centre;           /* anchor centre within its cell: (cell + centre) * stride */
} carve__det_params;
/** A raw detection in image pixels (float). */
typedef struct carve__det {
    float x0, y0, x1, y1, score;
    int cls;                 /* COCO index (0 = person) */
} carve__det;
/** COCO class name of an index (0..79), or NULL. */
const char *carve__coco_name(int cls);
/** Decodes a NanoDet output (rows = anchors of strides 8, 16, 32 in order,
 *  width = 80 class scores + 4 x bins distance logits) for the classes kept
 *  (person and vehicles): softmax over the bins, expected bin x stride, box
 *  around (cell + centre) x stride, per-class NMS, sorted by score.  *dets
 *  malloc'd (NULL when *n == 0). */
carve_status carve__det_decode(carve_ctx *ctx, const float *out, int rows, int width, const carve__det_frame *f,
                               const carve__det_params *p, carve__det **dets, int *n);
/** Decodes a BlazeFace output ([896, 1 + 16]: score logit, box cx, cy, w, h
 *  offsets in input pixels, 6 keypoints) around its SSD anchors (centre
 *  (cell + p->centre) / grid); sigmoid score > p->score, NMS, sorted; cls =
 *  CARVE_DET_FACE. */
carve_status carve__face_decode(carve_ctx *ctx, const float *out, int rows, int width, const carve__det_frame *f,
                                const carve__det_params *p, carve__det **dets, int *n);
/** The letterboxed (or stretched) NCHW/NHWC input tensor of img (resampled with
 *  carve__resize; alpha composited over the mean colour; padding = mean). */
carve_status carve__det_input(carve_ctx *ctx, const carve__nn_model *m, const carve_image *img, carve__nn_tensor *t,
                              carve__det_frame *f);


#endif
