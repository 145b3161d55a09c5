/* nn.h — neural backends through ONNX Runtime's C API (dlopen'd).
 *
 * The runtime library is found at run time: option ort_library, else env
 * CARVE_ORT_LIBRARY, else libonnxruntime.so.1 next to the executable, else
 * the copy scripts/onnx/setup.sh installed in the build's source tree, else
 * the system (libonnxruntime.so.1, libonnxruntime.so).  Models come from the
 * manifest (see docs/nn.md).  Sessions are created once per process (per
 * model and thread count) and shared by concurrent jobs.
 *
 * Every entry returns CARVE_ERR_NOT_FOUND when the runtime or the model is
 * absent (the message says which, naming the library/model/folder), so the
 * pipeline falls back to the classical backend; CARVE_ERR_BACKEND when the
 * runtime fails on a present model. */
#ifndef CARVE_NN_H
#define CARVE_NN_H
#include "core.h"

/** True if the runtime loads and a model for task ("matte", "text_detect",
 *  "inpaint", "super_resolution", "depth", "object_detect", "face_detect") is
 *  installed.  Clears no error;
 *  on false ctx's message says why. */
bool carve__nn_available(carve_ctx *ctx, const char *task);
/** "isnet-medium (ONNX Runtime 1.30.0, 2 threads)" for the run report, or
 *  the reason it is unavailable.  Always NUL-terminates buf. */
void carve__nn_describe(carve_ctx *ctx, const char *task, char *buf, size_t len);

/** Salient-object matte: *alpha malloc'd w*h bytes (255 = vehicle).  Keeps
 *  the component(s) chosen by option matte_components (vehicle: the largest
 *  central one and the pieces inside its bounds; largest; all). */
carve_status carve__nn_matte(carve_ctx *ctx, const carve_image *img, uint8_t **alpha);
/** As carve__nn_matte, with a hint (w*h bytes, e.g. the classical matte, may
 *  be NULL): in "vehicle" mode the components that overlap the hint by half
 *  of their area or more are kept instead of the central one. */
carve_status carve__nn_matte_hint(carve_ctx *ctx, const carve_image *img, const uint8_t *hint, uint8_t **alpha);

/** Text detection (DB post-processing): *boxes malloc'd, sorted by score,
 *  kind "plate" for plate-like boxes (aspect 2..6.5, near-horizontal, lower
 *  part of the image), else "text". */
carve_status carve__nn_text_detect(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n);

/** Provenance of a neural step for the run report. */
typedef struct carve__nn_info {
    char task[24];       /* "object_detect", ... */
    char model[64];      /* manifest name, e.g. "nanodet-coco" */
    char file[1024];     /* the model file's path */
    char sha256[65];     /* the file's pinned (and, after a run, verified) sha256 */
    char runtime[32];    /* ONNX Runtime version */
    int threads;         /* intra-op threads */
    int input_w, input_h; /* the tensor size the model ran at (0 when variable) */
    double seconds;      /* wall time of the whole step (pre-processing, run, decoding); 0 if not run */
} carve__nn_info;
/** Fills *info for the model task would use (seconds = 0); CARVE_ERR_NOT_FOUND
 *  (message says why) when the runtime or the model is missing. */
carve_status carve__nn_model_info(carve_ctx *ctx, const char *task, carve__nn_info *info);

/** Object detection (NanoDet, COCO): *boxes malloc'd (NULL when *n == 0), in
 *  input pixels (clipped to the image), sorted by score (desc), at most the
 *  model's max_detections (100).  kind = the COCO class name, only "person",
 *  "bicycle", "car", "motorcycle", "bus", "train", "truck" (other classes are
 *  dropped); score 0..1 (the class score); per-class NMS.  The model file's
 *  sha256 is checked before its first use: a corrupt or missing file is
 *  CARVE_ERR_NOT_FOUND naming it, and the caller falls back. */
carve_status carve__nn_detect_objects(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n);
/** As carve__nn_detect_objects; info (may be NULL) gets the provenance. */
carve_status carve__nn_detect_objects_info(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n,
                                           carve__nn_info *info);

/** Face detection (BlazeFace, for option erase_faces): as
 *  carve__nn_detect_objects, kind "face", task "face_detect". */
carve_status carve__nn_detect_faces(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n);
carve_status carve__nn_detect_faces_info(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n,
                                         carve__nn_info *info);

/** Inpainting (LaMa-like: image + mask in, image out): pixels whose mask
 *  byte is non-zero are replaced; others are copied unchanged. */
carve_status carve__nn_inpaint(carve_ctx *ctx, const carve_image *img, const uint8_t *mask, carve_image **out);
/** Super-resolution: *out is the model's upscaled image (scale from the
 *  model's output shape); alpha is resized with the same factor. */
carve_status carve__nn_super_resolution(carve_ctx *ctx, const carve_image *img, carve_image **out);
/** Monocular depth: *depth malloc'd w*h floats, the model's output resized to
 *  the image and min-max normalised to 0..1. */
carve_status carve__nn_depth(carve_ctx *ctx, const carve_image *img, float **depth);

/** Releases every session and unloads the runtime (tests, leak checks).
 *  Not thread-safe with running inferences. */
void carve__nn_shutdown(void);
/** Starts creating the session of task's model in the background (ISNet's
 *  costs ~1 CPU s), so that it overlaps the steps before it; does nothing
 *  when the runtime or the model is missing (the step that runs it reports
 *  why).  ctx's message is left alone. */
void carve__nn_prewarm(carve_ctx *ctx, const char *task);

#endif
