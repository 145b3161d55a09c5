/* carve_util.h — small pure utilities (libc only) shared by libcarve's core
 * and the tools (carved's src/server, the carve CLI): a growable byte buffer,
 * UTF-8 validation, a monotonic clock and mkdir -p.  src/util is a static
 * library of its own: libcarve links it whole (hidden symbols), carved and
 * carve link their own copy, so the tools need nothing of libcarve beyond
 * include/carve.h.  Not an API. */
#ifndef CARVE_UTIL_H
#define CARVE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef CARVE_PRINTF
#if defined(__GNUC__)
#define CARVE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CARVE_UNUSED __attribute__((unused))
#else
#define CARVE_PRINTF(a, b)
#define CARVE_UNUSED
#endif
#endif

/* ---- growable byte buffer (SVG, JSON, ...) ------------------------------ */
typedef struct carve__buf {
    char *data;
    size_t len, cap;
    bool oom;
} carve__buf;
void carve__buf_init(carve__buf *b);
void carve__buf_free(carve__buf *b);
void carve__buf_put(carve__buf *b, const void *data, size_t n);
/* carve__buf_put for hot paths: a plain copy while the buffer has room */
static inline void carve__buf_put_fast(carve__buf *b, const char *s, size_t n) {
    if (!b->oom && b->len + n + 1 <= b->cap) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
    } else carve__buf_put(b, s, n);
}
void carve__buf_puts(carve__buf *b, const char *s);
void carve__buf_putc(carve__buf *b, char c);
void carve__buf_printf(carve__buf *b, const char *fmt, ...) CARVE_PRINTF(2, 3);
/** Appends s escaped for a JSON string body (no quotes). */
void carve__buf_json_str(carve__buf *b, const char *s);
/** Takes ownership of the NUL-terminated data (buffer reset); NULL on OOM. */
char *carve__buf_take(carve__buf *b, size_t *len);

/* ---- text, time and folders (utf8.c, clock.c, fs.c) ---------------------- */
/** True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 *  code points above U+10FFFF). */
bool carve__utf8_valid(const char *s, size_t n);
/** Monotonic seconds (CLOCK_MONOTONIC). */
double carve__now(void);
/** Creates path and its missing parents (like `mkdir -p`) with mode.  0 when
 *  path is (now) a folder; -1 with errno set (ENOTDIR: it exists and is not a
 *  folder; ENAMETOOLONG: longer than PATH_MAX). */
int carve__mkdir_p(const char *path, unsigned mode);

#endif
