/* optcheck.c — checks of option text that has a syntax of its own
 * (background, erase, lock), so a bad value is refused when it is set (CLI
 * flag, config file, HTTP submission) instead of when a job runs; UTF-8
 * validation; content sniffing of image uploads. */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- erase boxes ------------------------------------------------------------ */

#define MAX_ERASE_BOXES 1024
#define LOCK_MAX_COLORS 256

static bool parse_int(const char **p, const char *end, long *v) {
    const char *q = *p;
    while (q < end && isspace((unsigned char)*q)) q++;
    if (q >= end) return false;
    char buf[32];
    size_t n = 0;
    if (*q == '-' || *q == '+') buf[n++] = *q++;
    while (q < end && isdigit((unsigned char)*q) && n < sizeof buf - 1) buf[n++] = *q++;
    buf[n] = 0;
    if (!n || !isdigit((unsigned char)buf[n - 1])) return false;
    errno = 0;
    *v = strtol(buf, NULL, 10);
    if (errno || *v < -1000000000L || *v > 1000000000L) return false;
    while (q < end && isspace((unsigned char)*q)) q++;
    *p = q;
    return true;
}

carve_status carve__parse_erase(carve_ctx *ctx, const char *text, carve__box **boxes, int *n) {
    *boxes = NULL;
    *n = 0;
    if (!text) return CARVE_OK;
    carve__box *out = NULL;
    int cnt = 0, cap = 0;
    const char *p = text;
    while (*p) {
        while (*p == ';' || *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') p++;
        if (!*p) break;
        const char *end = p + strcspn(p, ";\n\r");
        /* a list separated by spaces only ("1,2,3,4 5,6,7,8") also works */
        const char *sp = p;
        int commas = 0;
        bool digit4 = false; /* a digit after the third comma */
        for (const char *q = p; q < end; q++) {
            if (*q == ',') commas++;
            if (commas == 3 && isdigit((unsigned char)*q)) digit4 = true;
            if (digit4 && (*q == ' ' || *q == '\t')) {
                const char *r = q;
                while (r < end && (*r == ' ' || *r == '\t')) r++;
                if (r < end && *r != ',') {
                    end = q;
                    break;
                }
            }
        }
        long v[4];
        const char *q = sp;
        bool ok = true;
        for (int k = 0; k < 4 && ok; k++) {
            ok = parse_int(&q, end, &v[k]);
            if (ok && k < 3) {
                if (q < end && *q == ',') q++;
                else ok = false;
            }
        }
        if (ok && q != end) ok = false;
        if (ok && (v[2] <= 0 || v[3] <= 0)) ok = false;
        if (!ok) {
            free(out);
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG,
                               "option erase: '%.*s' is not a box x,y,w,h (integers, w and h above 0; boxes "
                               "separated by ';')",
                               (int)(end - p > 80 ? 80 : end - p), p);
        }
        if (cnt == MAX_ERASE_BOXES) {
            free(out);
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option erase: more than %d boxes", MAX_ERASE_BOXES);
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            carve__box *nb = realloc(out, (size_t)cap * sizeof *nb);
            if (!nb) {
                free(out);
                return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
            }
            out = nb;
        }
        carve__box b;
        memset(&b, 0, sizeof b);
        b.x = (int)v[0];
        b.y = (int)v[1];
        b.w = (int)v[2];
        b.h = (int)v[3];
        b.score = 1;
        snprintf(b.kind, sizeof b.kind, "user");
        out[cnt++] = b;
        p = end;
    }
    *boxes = out;
    *n = cnt;
    return CARVE_OK;
}

/* ---- lock and background -------------------------------------------------------- */
static carve_status check_lock(carve_ctx *ctx, const char *text) {
    int n = 0;
    for (const char *q = text; *q;) {
        while (*q == ',' || *q == ' ' || *q == ';') q++;
        if (!*q) break;
        size_t len = strcspn(q, ", ;");
        uint32_t rgb;
        if (!carve__parse_hex(q, len, &rgb))
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option lock: '%.*s' is not a #rrggbb colour",
                               (int)(len > 40 ? 40 : len), q);
        if (++n > LOCK_MAX_COLORS)
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option lock: more than %d colours", LOCK_MAX_COLORS);
        q += len;
    }
    return CARVE_OK;
}

static carve_status check_background(carve_ctx *ctx, const char *bg) {
    uint32_t rgb;
    if (!strcmp(bg, "remove") || !strcmp(bg, "transparent") || !strcmp(bg, "keep")) return CARVE_OK;
    if (bg[0] == '#' && carve__parse_hex(bg, strlen(bg), &rgb)) return CARVE_OK;
    return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option background: '%.80s' is not remove, keep or #rrggbb", bg);
}

carve_status carve__option_check(carve_ctx *ctx, carve_optid id, const char *value) {
    if (id == CARVE_OPTID_background) return check_background(ctx, value);
    if (id == CARVE_OPTID_lock) return check_lock(ctx, value);
    if (id == CARVE_OPTID_erase) {
        carve__box *boxes = NULL;
        int n = 0;
        carve_status st = carve__parse_erase(ctx, value, &boxes, &n);
        free(boxes);
        return st;
    }
    return CARVE_OK;
}

/* ---- content sniffing ----------------------------------------------------------------- */
/* ISO-BMFF brands of HEIF/AVIF still images (ISO/IEC 23008-12, AV1 image
 * format); video brands (isom, mp41, mp42, qt, 3gp*) are not images. */
static bool heif_brand(const unsigned char *b) {
    static const char *const brands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs",
                                         "mif1", "msf1", "mif2", "avif", "avis", "avio"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (!memcmp(b, brands[i], 4)) return true;
    return false;
}

static bool is_heif(const unsigned char *u, size_t n) {
    if (n < 16 || memcmp(u + 4, "ftyp", 4)) return false;
    size_t box = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
    if (box < 16 || box > n) box = n < 256 ? n : 256; /* odd or cut box: look at what is there */
    if (heif_brand(u + 8)) return true;
    /* compatible brands follow the major brand and minor version */
    for (size_t off = 16; off + 4 <= box; off += 4)
        if (heif_brand(u + off)) return true;
    return false;
}

const char *carve__sniff_image(const void *data, size_t n) {
    const unsigned char *u = data;
    const char *d = data;
    if (!data) return NULL;
    if (n >= 3 && u[0] == 0xFF && u[1] == 0xD8 && u[2] == 0xFF) return "image/jpeg";
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return "image/gif";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return "image/webp";
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) return "image/tiff";
    if (is_heif(u, n)) return "image/heif";
    return NULL;
}
