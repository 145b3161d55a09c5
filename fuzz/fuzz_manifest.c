/* fuzz_manifest.c — the model manifest parser (strict JSON, names, sizes,
 * sha256, inputs): no crash, no leak. */
#include "fuzz.h"
#include "nn/nn_internal.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    carve_ctx *ctx = carve_ctx_create();
    carve__nn_manifest *m = NULL;
    if (ctx && carve__nn_manifest_parse(ctx, (const char *)data, size, "fuzz.json", "/nonexistent-models", &m) ==
                   CARVE_OK)
        FUZZ_ASSERT(m != NULL && m->n >= 0);
    carve__nn_manifest_free(m);
    carve_ctx_destroy(ctx);
    return 0;
}
