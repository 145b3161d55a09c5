/* trace.c — carve_trace: flat-colour image to SVG (interim run-length version). */
#include "vector.h"

#include <stdlib.h>
#include <string.h>

carve_status carve_trace(carve_ctx *ctx, const carve_image *in, char **svg, size_t *len) {
    if (svg) *svg = NULL;
    if (len) *len = 0;
    if (!ctx || !in || !svg) return ctx ? carve__fail(ctx, CARVE_ERR_INVALID_ARG, "trace: NULL argument") : CARVE_ERR_INVALID_ARG;
    if (in->w <= 0 || in->h <= 0)
        return carve__fail(ctx, CARVE_ERR_EMPTY, "trace: the image is empty (%dx%d)", in->w, in->h);
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n",
                      in->w, in->h, in->w, in->h);
    for (int y = 0; y < in->h; y++) {
        int x = 0;
        while (x < in->w) {
            const uint8_t *p = in->px + 4 * ((size_t)y * in->w + x);
            uint32_t c = carve__rgb_at(in, x, y);
            bool op = p[3] >= 128;
            int x1 = x + 1;
            while (x1 < in->w && carve__rgb_at(in, x1, y) == c && (in->px[4 * ((size_t)y * in->w + x1) + 3] >= 128) == op) x1++;
            if (op) {
                char hex[8];
                carve__hex(c, hex);
                carve__buf_printf(&b, "<path fill=\"%s\" d=\"M%d %dh%dv1h%dz\"/>\n", hex, x, y, x1 - x, x - x1);
            }
            x = x1;
        }
    }
    carve__buf_puts(&b, "</svg>\n");
    char *s = carve__buf_take(&b, len);
    if (!s) return carve__fail(ctx, CARVE_ERR_NOMEM, "trace: out of memory");
    *svg = s;
    return CARVE_OK;
}
