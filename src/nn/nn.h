/* nn.h — neural backends through ONNX Runtime's C API (dlopen'd).
 * Every entry returns CARVE_ERR_NOT_FOUND when the runtime or the model is
 * absent (message says which), so the pipeline falls back to the classical
 * backend. */
#ifndef CARVE_NN_H
#define CARVE_NN_H
#include "core.h"

/** True if the runtime loads and a model for task is installed. */
bool carve__nn_available(carve_ctx *ctx, const char *task);
/** Salient-object matte: *alpha malloc'd w*h bytes. */
carve_status carve__nn_matte(carve_ctx *ctx, const carve_image *img, uint8_t **alpha);
/** Text detection (DB post-processing): *boxes malloc'd, kind "text". */
carve_status carve__nn_text_detect(carve_ctx *ctx, const carve_image *img, carve__box **boxes, int *n);

#endif
