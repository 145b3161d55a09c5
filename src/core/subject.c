/* subject.c — the run option `subject` parsed and range-checked: the
 * syntax is validated when the option is set (library, CLI, config, HTTP
 * submission); the image-bounds check is the pipeline's, once the image is
 * known. */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_COORD_MAX 1000000 /* larger than any image carve accepts */

/* Reads up to 4 comma-separated integers; returns how many, -1 on bad text. */
static int read_ints(const char *p, long v[4]) {
    int k = 0;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return k ? -1 : 0; /* trailing comma */
        if (k == 4) return -1;
        char *end;
        errno = 0;
        v[k] = strtol(p, &end, 10);
        if (end == p || errno) return -1;
        k++;
        p = end;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return k;
        if (*p != ',') return -1;
        p++;
    }
}

carve_status carve__parse_subject(carve_ctx *ctx, const char *text, carve__subject_spec *out) {
    memset(out, 0, sizeof *out);
    if (!text || !*text || !strcmp(text, "auto")) {
        out->mode = CARVE__SUBJECT_AUTO;
        return CARVE_OK;
    }
    if (!strcmp(text, "all")) {
        out->mode = CARVE__SUBJECT_ALL;
        return CARVE_OK;
    }
    long v[4] = {0, 0, 0, 0};
    int k = read_ints(text, v);
    if (k != 2 && k != 4)
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG,
                           "option subject: '%.80s' is not auto, all, a point x,y or a box x,y,w,h (integers, input "
                           "pixels)",
                           text);
    for (int i = 0; i < k; i++)
        if (v[i] < 0 || v[i] > SUBJECT_COORD_MAX)
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE,
                               "option subject: '%.80s': %ld is outside the image (input pixels count from 0 at the "
                               "top left)",
                               text, v[i]);
    if (k == 4 && (v[2] <= 0 || v[3] <= 0))
        return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option subject: box '%.80s' has an empty size (w and h must be above 0)",
                           text);
    out->mode = k == 2 ? CARVE__SUBJECT_POINT : CARVE__SUBJECT_BOX;
    out->x = (int)v[0];
    out->y = (int)v[1];
    out->w = k == 4 ? (int)v[2] : 0;
    out->h = k == 4 ? (int)v[3] : 0;
    return CARVE_OK;
}
