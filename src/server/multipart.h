/* multipart.h — the multipart/form-data splitter for carved's POST /v1/jobs
 * and POST /v1/tunings (no allocation: parts point into the body). */
#ifndef CARVE_SRV_MULTIPART_H
#define CARVE_SRV_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define CARVE__PART_NAME_MAX 64 /* field names are shorter */
#define CARVE__PART_MAX 16

typedef struct carve__part {
    char name[CARVE__PART_NAME_MAX];
    char ctype[128];
    char filename[128]; /* the filename parameter; empty when absent or too long */
    const char *data;
    size_t len;
} carve__part;

/** "--" + the boundary parameter of a Content-Type header into out (n bytes);
 *  false when there is none or it does not fit. */
bool carve__multipart_boundary(const char *ctype, char *out, size_t n);
/** Splits body into at most max parts (later ones are refused).  Returns the
 *  number of parts, -2 with a message in err when there are more than max
 *  parts, or -1 with a message in err (malformed body, a field name of
 *  CARVE__PART_NAME_MAX or more characters). */
int carve__multipart_parse(const char *body, size_t len, const char *dash_boundary, carve__part *parts, int max,
                           char *err, size_t errlen);

#endif
