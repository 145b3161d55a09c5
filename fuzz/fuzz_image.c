/* fuzz_image.c — the image-load path: content sniffing, the decoder
 * allow-list (libvips' other loaders are blocked) and
 * carve_image_load_memory's normalisation to RGBA, with a small pixel limit.
 * No crash; a decoded image has the size it reports; anything sniffing does
 * not recognise is CARVE_ERR_UNSUPPORTED. */
#include "carve.h"
#include "core.h"
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    carve_ctx *ctx = carve_ctx_create();
    if (!ctx || carve_ctx_set_option(ctx, "max_pixels", "1000000")) {
        carve_ctx_destroy(ctx);
        return 0;
    }
    carve_image *img = NULL;
    carve_status st = carve_image_load_memory(ctx, data, size, "fuzz", &img);
    if (st == CARVE_OK) {
        FUZZ_ASSERT(img && carve_image_width(img) > 0 && carve_image_height(img) > 0);
        FUZZ_ASSERT((long long)carve_image_width(img) * carve_image_height(img) <= 1000000);
        volatile unsigned sum = 0;
        const uint8_t *px = carve_image_pixels_const(img);
        size_t n = (size_t)carve_image_width(img) * (size_t)carve_image_height(img) * 4;
        for (size_t i = 0; i < n; i += 4099) sum += px[i];
    } else if (size && !carve__sniff_image(data, size)) {
        FUZZ_ASSERT(st == CARVE_ERR_UNSUPPORTED);
    }
    carve_image_destroy(img);
    carve_ctx_destroy(ctx);
    return 0;
}
