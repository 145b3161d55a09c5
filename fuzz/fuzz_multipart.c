/* fuzz_multipart.c — carved's multipart/form-data splitter: the input's
 * first line is the Content-Type header, the rest the body.  No crash, and
 * every part lies inside the body with a terminated name. */
#include "fuzz.h"
#include "multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *d = (const char *)data;
    const char *nl = memchr(d, '\n', size);
    if (!nl) return 0;
    size_t hl = (size_t)(nl - d);
    char *ct = malloc(hl + 1);
    if (!ct) return 0;
    memcpy(ct, d, hl);
    ct[hl] = 0;
    const char *body = nl + 1;
    size_t blen = size - hl - 1;
    char bnd[300], err[200];
    carve__part parts[CARVE__PART_MAX];
    if (carve__multipart_boundary(ct, bnd, sizeof bnd)) {
        int n = carve__multipart_parse(body, blen, bnd, parts, CARVE__PART_MAX, err, sizeof err);
        FUZZ_ASSERT(n <= CARVE__PART_MAX);
        if (n < 0) FUZZ_ASSERT(err[0] != 0);
        for (int i = 0; i < n; i++) {
            FUZZ_ASSERT(parts[i].data >= body && parts[i].data + parts[i].len <= body + blen);
            FUZZ_ASSERT(memchr(parts[i].name, 0, sizeof parts[i].name) != NULL);
            volatile unsigned sum = 0;
            for (size_t k = 0; k < parts[i].len; k++) sum += (unsigned char)parts[i].data[k];
        }
    }
    free(ct);
    return 0;
}
