/* chroma.h — phase 3 internals beyond the public API (carve_quantize,
 * carve_palette_*, carve_upscale in carve.h). */
#ifndef CARVE_CHROMA_H
#define CARVE_CHROMA_H
#include "core.h"

#endif
