/* buf.c — growable byte buffer.  An allocation failure sets b->oom and turns
 * later appends into no-ops, so callers check once at the end. */
#include "carve_util.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void carve__buf_init(carve__buf *b) { memset(b, 0, sizeof *b); }

void carve__buf_free(carve__buf *b) {
    free(b->data);
    carve__buf_init(b);
}

static bool reserve(carve__buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) { b->oom = true; return false; }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) { b->oom = true; return false; }
    b->data = d;
    b->cap = cap;
    return true;
}

void carve__buf_put(carve__buf *b, const void *data, size_t n) {
    if (!reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
}

void carve__buf_puts(carve__buf *b, const char *s) { carve__buf_put(b, s, strlen(s)); }

void carve__buf_putc(carve__buf *b, char c) {
    if (!reserve(b, 1)) return;
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

void carve__buf_printf(carve__buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = true; return; }
    if ((size_t)n < sizeof tmp) { carve__buf_put(b, tmp, (size_t)n); return; }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void carve__buf_json_str(carve__buf *b, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': carve__buf_puts(b, "\\\""); break;
        case '\\': carve__buf_puts(b, "\\\\"); break;
        case '\n': carve__buf_puts(b, "\\n"); break;
        case '\r': carve__buf_puts(b, "\\r"); break;
        case '\t': carve__buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20) carve__buf_printf(b, "\\u%04x", *p);
            else carve__buf_putc(b, (char)*p);
        }
    }
}

char *carve__buf_take(carve__buf *b, size_t *len) {
    if (b->oom) { carve__buf_free(b); return NULL; }
    if (!b->data) reserve(b, 0);
    if (b->oom) return NULL;
    char *d = b->data;
    if (len) *len = b->len;
    carve__buf_init(b);
    return d;
}
