/* fuzz_config.c — carve_ctx_load_config (JSON or "key = value" lines) on a
 * file holding the input: no crash; all-or-nothing (a refused file leaves
 * the options as they were). */
#include "carve.h"
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("carve-fuzz-config", 0);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    carve_ctx *ctx = carve_ctx_create();
    if (ctx) {
        char *before = carve_ctx_options_json(ctx);
        if (carve_ctx_load_config(ctx, path) != CARVE_OK) {
            char *after = carve_ctx_options_json(ctx);
            FUZZ_ASSERT(before && after && !strcmp(before, after));
            carve_free(after);
        }
        carve_free(before);
    }
    carve_ctx_destroy(ctx);
    close(fd);
    return 0;
}
