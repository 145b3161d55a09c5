/* multipart.c — multipart/form-data (RFC 7578) as carved accepts it: parts
 * separated by CRLF "--boundary", each with Content-Disposition (name) and
 * optional Content-Type headers.  Bounded: header lines are cut at 1 KiB,
 * names must fit, at most `max` parts. */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_BYTES 1024
#define BOUNDARY_MAX 256

bool carve__multipart_boundary(const char *ct, char *out, size_t n) {
    const char *b = strcasestr(ct, "boundary=");
    if (!b) return false;
    b += 9;
    size_t i = 0;
    if (*b == '"') {
        b++;
        while (b[i] && b[i] != '"') i++;
    } else
        while (b[i] && b[i] != ';' && b[i] != ' ') i++;
    if (!i || i + 3 > n || i + 3 > BOUNDARY_MAX) return false;
    out[0] = '-';
    out[1] = '-';
    memcpy(out + 2, b, i);
    out[i + 2] = 0;
    return true;
}

/* The quoted parameter key="..." of a header line into out (left as it is
 * when absent or when it does not fit in n bytes). */
static void header_param(const char *line, const char *key, char *out, size_t n) {
    char pat[32];
    snprintf(pat, sizeof pat, "%s=\"", key);
    const char *p = line;
    while ((p = strstr(p, pat))) {
        if (p == line || p[-1] == ' ' || p[-1] == ';') break;
        p++;
    }
    if (!p) return;
    p += strlen(pat);
    const char *q = strchr(p, '"');
    if (q && (size_t)(q - p) < n) {
        memcpy(out, p, (size_t)(q - p));
        out[q - p] = 0;
    }
}

/* One header line of a part; false with err for a name that does not fit. */
static bool part_header(const char *line, carve__part *pt, char *err, size_t errlen) {
    if (!strncasecmp(line, "Content-Disposition:", 20)) {
        header_param(line, "filename", pt->filename, sizeof pt->filename);
        const char *nm = strstr(line, " name=\"");
        if (!nm) nm = strstr(line, ";name=\"");
        if (!nm) return true;
        nm += 7;
        const char *q = strchr(nm, '"');
        if (!q) return true;
        size_t l = (size_t)(q - nm);
        if (l >= sizeof pt->name) {
            snprintf(err, errlen, "multipart field name '%.40s...' is too long (at most %d characters)", nm,
                     CARVE__PART_NAME_MAX - 1);
            return false;
        }
        memcpy(pt->name, nm, l);
        pt->name[l] = 0;
    } else if (!strncasecmp(line, "Content-Type:", 13)) {
        const char *v = line + 13;
        while (*v == ' ') v++;
        snprintf(pt->ctype, sizeof pt->ctype, "%s", v);
    }
    return true;
}

static bool part_headers(const char *p, const char *hend, carve__part *pt, char *err, size_t errlen) {
    for (const char *h = p; h < hend;) {
        const char *eol = memmem(h, (size_t)(hend - h), "\r\n", 2);
        if (!eol) eol = hend;
        size_t hl = (size_t)(eol - h);
        char line[LINE_MAX_BYTES];
        if (hl >= sizeof line) hl = sizeof line - 1;
        memcpy(line, h, hl);
        line[hl] = 0;
        if (!part_header(line, pt, err, errlen)) return false;
        h = eol + 2;
    }
    return true;
}

int carve__multipart_parse(const char *body, size_t len, const char *dash_boundary, carve__part *parts, int max,
                           char *err, size_t errlen) {
    size_t bl = strlen(dash_boundary);
    const char *end = body + len;
    const char *p = bl ? memmem(body, len, dash_boundary, bl) : NULL;
    char delim[BOUNDARY_MAX + 4];
    snprintf(err, errlen, "malformed multipart/form-data body");
    if (!bl || bl > BOUNDARY_MAX) return -1;
    snprintf(delim, sizeof delim, "\r\n%s", dash_boundary);
    int np = 0;
    while (p) {
        p += bl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return np;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) return -1;
        carve__part pt;
        memset(&pt, 0, sizeof pt);
        if (!part_headers(p, hend, &pt, err, errlen)) return -1;
        const char *data = hend + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, strlen(delim));
        if (!next) return -1;
        pt.data = data;
        pt.len = (size_t)(next - data);
        if (np == max) {
            snprintf(err, errlen, "multipart body has more than %d parts", max);
            return -2;
        }
        parts[np++] = pt;
        p = next + 2;
    }
    return np ? np : -1;
}
