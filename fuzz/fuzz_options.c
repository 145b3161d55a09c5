/* fuzz_options.c — option values from the outside: the first byte picks
 * JSON (carve_ctx_apply_json, what carved passes a request's options to) or
 * a query string "k=v&k=v" (carve_ctx_set_option per pair, what query
 * strings, CLI flags and multipart fields become).  No crash; a refused JSON
 * object changes nothing; accepted text options read back as set. */
#include "carve.h"
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void query(carve_ctx *ctx, char *s) {
    for (char *pair = strtok(s, "&"); pair; pair = strtok(NULL, "&")) {
        char *eq = strchr(pair, '=');
        const char *val = "";
        if (eq) *eq = 0, val = eq + 1;
        if (carve_ctx_set_option(ctx, pair, val) == CARVE_OK) {
            const carve_option_info *o = carve_option_find(pair);
            char back[256];
            FUZZ_ASSERT(o != NULL);
            if (o->type == CARVE_OPT_STRING && strlen(val) < sizeof back &&
                carve_ctx_get_option(ctx, pair, back, sizeof back) == CARVE_OK)
                FUZZ_ASSERT(!strcmp(back, val));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    carve_ctx *ctx = carve_ctx_create();
    if (ctx && (data[0] & 1)) {
        query(ctx, s);
    } else if (ctx) {
        char *before = carve_ctx_options_json(ctx);
        if (carve_ctx_apply_json(ctx, s, "fuzz") != CARVE_OK) {
            char *after = carve_ctx_options_json(ctx);
            FUZZ_ASSERT(before && after && !strcmp(before, after));
            carve_free(after);
        }
        carve_free(before);
    }
    carve_ctx_destroy(ctx);
    free(s);
    return 0;
}
