/* fuzz_palette.c — carve_palette_parse (GIMP .gpl, JSON, hex lists): no
 * crash, and an accepted palette serialises to valid JSON (it is served by
 * carved as is). */
#include "carve.h"
#include "fuzz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    carve_ctx *ctx = carve_ctx_create();
    carve_palette *p = NULL;
    if (ctx && carve_palette_parse(ctx, (const char *)data, size, "fuzz.gpl", &p) == CARVE_OK) {
        FUZZ_ASSERT(p && carve_palette_count(p) > 0);
        char *json = carve_palette_to_json(p);
        FUZZ_ASSERT(json != NULL);
        json_t *root = json_loads(json, 0, NULL);
        FUZZ_ASSERT(root != NULL);
        json_decref(root);
        carve_free(json);
    }
    carve_palette_destroy(p);
    carve_ctx_destroy(ctx);
    return 0;
}
