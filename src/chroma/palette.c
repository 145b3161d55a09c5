/* palette.c — carve_palette: the object, files (.gpl, JSON, plain hex
 * lists) with strict validation, serialisation and name resolution. */
#include "chroma.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PALETTE_FILE_MAX (1u << 20) /* 1 MiB is far more than 256 lines */

/* ---- the object ------------------------------------------------------------ */
carve_palette *carve_palette_create(const char *name) {
    carve_palette *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->name = strdup(name ? name : "");
    if (!p->name) {
        free(p);
        return NULL;
    }
    return p;
}

void carve_palette_destroy(carve_palette *pal) {
    if (!pal) return;
    for (int i = 0; i < pal->n; i++) free(pal->names[i]);
    free(pal->name);
    free(pal);
}

carve_palette *carve_palette_copy(const carve_palette *pal) {
    if (!pal) return NULL;
    carve_palette *p = carve_palette_create(pal->name);
    if (!p) return NULL;
    for (int i = 0; i < pal->n; i++)
        if (carve_palette_add(p, pal->rgb[i], pal->names[i])) {
            carve_palette_destroy(p);
            return NULL;
        }
    return p;
}

int carve__palette_find(const carve_palette *pal, uint32_t rgb) {
    if (!pal) return -1;
    for (int i = 0; i < pal->n; i++)
        if (pal->rgb[i] == rgb) return i;
    return -1;
}

carve_status carve_palette_add(carve_palette *pal, uint32_t rgb, const char *color_name) {
    if (!pal || rgb > 0xffffff) return CARVE_ERR_INVALID_ARG;
    if (pal->n >= CARVE_PALETTE_MAX || carve__palette_find(pal, rgb) >= 0) return CARVE_ERR_PALETTE;
    char *nm = NULL;
    if (color_name && *color_name) {
        nm = strdup(color_name);
        if (!nm) return CARVE_ERR_NOMEM;
    }
    pal->rgb[pal->n] = rgb;
    pal->names[pal->n] = nm;
    pal->n++;
    return CARVE_OK;
}

int carve_palette_count(const carve_palette *pal) { return pal ? pal->n : 0; }

uint32_t carve_palette_color(const carve_palette *pal, int i) {
    return pal && i >= 0 && i < pal->n ? pal->rgb[i] : 0;
}

const char *carve_palette_color_name(const carve_palette *pal, int i) {
    return pal && i >= 0 && i < pal->n ? pal->names[i] : NULL;
}

const char *carve_palette_name(const carve_palette *pal) { return pal ? pal->name : NULL; }

/* ---- JSON out ---------------------------------------------------------------- */
char *carve_palette_to_json(const carve_palette *pal) {
    if (!pal) return NULL;
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "{\"name\":\"");
    carve__buf_json_str(&b, pal->name);
    carve__buf_puts(&b, "\",\"colors\":[");
    for (int i = 0; i < pal->n; i++) {
        char hex[8];
        carve__hex(pal->rgb[i], hex);
        carve__buf_printf(&b, "%s{\"hex\":\"%s\"", i ? "," : "", hex);
        if (pal->names[i]) {
            carve__buf_puts(&b, ",\"name\":\"");
            carve__buf_json_str(&b, pal->names[i]);
            carve__buf_putc(&b, '"');
        }
        carve__buf_putc(&b, '}');
    }
    carve__buf_puts(&b, "]}");
    return carve__buf_take(&b, NULL);
}

/* ---- parsing helpers ---------------------------------------------------------- */
typedef struct line_src {
    const char *p, *end;
    int lineno;
} line_src;

/* Next line (without the newline, trimmed); false at the end. */
static bool next_line(line_src *s, const char **ls, size_t *ll) {
    if (s->p >= s->end) return false;
    const char *e = memchr(s->p, '\n', (size_t)(s->end - s->p));
    if (!e) e = s->end;
    const char *a = s->p, *b = e;
    s->p = e < s->end ? e + 1 : s->end;
    s->lineno++;
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    *ls = a;
    *ll = (size_t)(b - a);
    return true;
}

/* The longest prefix of s[0..n) of at most cap bytes that does not cut a
 * UTF-8 sequence (names and messages are served as JSON, which must stay
 * valid UTF-8). */
static int utf8_prefix(const char *s, size_t n, size_t cap) {
    if (n <= cap) return (int)n;
    size_t m = cap;
    while (m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80) m--;
    return (int)m;
}

/* Copies at most 60 bytes of s (whole characters) for a message. */
static const char *snip(const char *s, size_t n, char out[64]) {
    n = (size_t)utf8_prefix(s, n, 60);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) out[j++] = (s[i] == '\t' || s[i] == '\r') ? ' ' : s[i];
    out[j] = 0;
    return out;
}

static carve_status add_checked(carve_ctx *ctx, carve_palette *pal, uint32_t rgb, const char *nm, const char *src,
                                int lineno, const char *field, int *first_line) {
    char hex[8];
    carve__hex(rgb, hex);
    char where[300];
    if (field) snprintf(where, sizeof where, "%s: %s", src, field);
    else snprintf(where, sizeof where, "%s:%d", src, lineno);
    int dup = carve__palette_find(pal, rgb);
    if (dup >= 0) {
        if (field) return carve__fail(ctx, CARVE_ERR_PALETTE, "%s: duplicate colour %s (same as colors[%d])", where, hex, dup);
        return carve__fail(ctx, CARVE_ERR_PALETTE, "%s: duplicate colour %s (first at line %d)", where, hex,
                           first_line[dup]);
    }
    if (pal->n >= CARVE_PALETTE_MAX)
        return carve__fail(ctx, CARVE_ERR_PALETTE, "%s: more than %d colours", where, CARVE_PALETTE_MAX);
    if (first_line) first_line[pal->n] = lineno;
    carve_status st = carve_palette_add(pal, rgb, nm);
    if (st) return carve__fail(ctx, st, "%s: %s", where, carve_strerror(st));
    return CARVE_OK;
}

/* The base name of a path without folder and suffix. */
static void base_name(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

static bool is_comment(const char *s, size_t n) {
    if (n == 0) return true;
    if (n >= 2 && s[0] == '/' && s[1] == '/') return true;
    if (s[0] == ';') return true;
    if (s[0] == '#' && (n == 1 || isspace((unsigned char)s[1]) || s[1] == '#' || s[1] == '!')) return true;
    return false;
}

/* ---- text formats: one line loop ------------------------------------------------- */
/* A text palette being read: where, the line source, the line each colour
 * was first seen on (for duplicate messages) and a scratch for quoting. */
typedef struct text_parse {
    carve_ctx *ctx;
    const char *src;
    carve_palette *pal;
    line_src s;
    int first_line[CARVE_PALETTE_MAX];
    char sn[64];
} text_parse;

typedef carve_status (*line_fn)(text_parse *tp, const char *l, size_t n);

/* Runs fn on every line of text (trimmed) after the first `skip` lines. */
static carve_status parse_lines(carve_ctx *ctx, const char *text, size_t len, const char *src, carve_palette *pal,
                                int skip, line_fn fn) {
    text_parse tp = {.ctx = ctx, .src = src, .pal = pal, .s = {text, text + len, 0}};
    const char *l;
    size_t n;
    for (int i = 0; i < skip; i++) next_line(&tp.s, &l, &n);
    while (next_line(&tp.s, &l, &n)) {
        carve_status st = fn(&tp, l, n);
        if (st) return st;
    }
    return CARVE_OK;
}

/* ---- GIMP .gpl -------------------------------------------------------------------- */
/* "Name: ..." (the palette's name) or "Columns: N" (checked, unused) */
static bool gpl_header(text_parse *tp, const char *l, size_t n, carve_status *st) {
    if (n >= 5 && !strncasecmp(l, "Name:", 5)) {
        const char *v = l + 5;
        while (v < l + n && isspace((unsigned char)*v)) v++;
        char *nm = strndup(v, (size_t)(l + n - v));
        if (!nm) {
            *st = carve__fail(tp->ctx, CARVE_ERR_NOMEM, "out of memory");
            return true;
        }
        free(tp->pal->name);
        tp->pal->name = nm;
        *st = CARVE_OK;
        return true;
    }
    if (n >= 8 && !strncasecmp(l, "Columns:", 8)) {
        char *end;
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(n - 8 < 31 ? n - 8 : 31), l + 8);
        long c = strtol(tmp, &end, 10);
        while (*end && isspace((unsigned char)*end)) end++;
        *st = (*end || c < 0 || c > 256) ? carve__fail(tp->ctx, CARVE_ERR_PALETTE,
                                                        "%s:%d: 'Columns:' needs a number 0..256, not '%s'", tp->src,
                                                        tp->s.lineno, snip(l, n, tp->sn))
                                         : CARVE_OK;
        return true;
    }
    return false;
}

/* a line after "GIMP Palette": a comment, a header or "R G B [name]" */
static carve_status gpl_line(text_parse *tp, const char *l, size_t n) {
    carve_status st;
    if (n == 0 || l[0] == '#') return CARVE_OK;
    if (gpl_header(tp, l, n, &st)) return st;
    char line[512];
    snprintf(line, sizeof line, "%.*s", utf8_prefix(l, n, 511), l);
    long v[3];
    char *p = line;
    bool ok = true;
    for (int c = 0; c < 3 && ok; c++) {
        while (*p == ' ' || *p == '\t') p++;
        if (!isdigit((unsigned char)*p) && *p != '-' && *p != '+') { ok = false; break; }
        char *end;
        v[c] = strtol(p, &end, 10);
        if (end == p || (*end && *end != ' ' && *end != '\t')) ok = false;
        p = end;
    }
    if (!ok)
        return carve__fail(tp->ctx, CARVE_ERR_PALETTE, "%s:%d: '%s' is not a colour line (expected 'R G B [name]')",
                           tp->src, tp->s.lineno, snip(l, n, tp->sn));
    if (v[0] < 0 || v[0] > 255 || v[1] < 0 || v[1] > 255 || v[2] < 0 || v[2] > 255)
        return carve__fail(tp->ctx, CARVE_ERR_PALETTE, "%s:%d: '%s' is not a colour (0..255)", tp->src, tp->s.lineno,
                           snip(l, n, tp->sn));
    while (*p == ' ' || *p == '\t') p++;
    uint32_t rgb = (uint32_t)v[0] << 16 | (uint32_t)v[1] << 8 | (uint32_t)v[2];
    /* GIMP writes "Untitled" for unnamed entries */
    const char *nm = (*p && strcmp(p, "Untitled")) ? p : NULL;
    return add_checked(tp->ctx, tp->pal, rgb, nm, tp->src, tp->s.lineno, NULL, tp->first_line);
}

/* ---- plain hex lists ------------------------------------------------------------------
 * One or more items per line separated by commas; an item is a hex colour
 * optionally followed by a name.  Comment lines start with '# ', '//' or ';'. */
static carve_status plain_line(text_parse *tp, const char *l, size_t n) {
    if (is_comment(l, n)) return CARVE_OK;
    const char *p = l, *end = l + n;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *ie = c ? c : end;
        const char *a = p, *b = ie;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        p = c ? c + 1 : end;
        if (a == b) {
            if (c)
                return carve__fail(tp->ctx, CARVE_ERR_PALETTE, "%s:%d: empty item in '%s'", tp->src, tp->s.lineno,
                                   snip(l, n, tp->sn));
            continue;
        }
        const char *te = a;
        while (te < b && !isspace((unsigned char)*te)) te++;
        uint32_t rgb;
        if (!carve__parse_hex(a, (size_t)(te - a), &rgb))
            return carve__fail(tp->ctx, CARVE_ERR_PALETTE, "%s:%d: '%s' is not a hex colour (#rrggbb or #rgb)",
                               tp->src, tp->s.lineno, snip(a, (size_t)(te - a), tp->sn));
        while (te < b && isspace((unsigned char)*te)) te++;
        char nm[256];
        snprintf(nm, sizeof nm, "%.*s", utf8_prefix(te, (size_t)(b - te), 255), te);
        char *hash = strstr(nm, " #");
        if (nm[0] == '#') nm[0] = 0;
        else if (hash) {
            *hash = 0;
            for (size_t k = strlen(nm); k > 0 && isspace((unsigned char)nm[k - 1]); k--) nm[k - 1] = 0;
        }
        carve_status st = add_checked(tp->ctx, tp->pal, rgb, nm[0] ? nm : NULL, tp->src, tp->s.lineno, NULL,
                                      tp->first_line);
        if (st) return st;
    }
    return CARVE_OK;
}

/* ---- JSON --------------------------------------------------------------------------- */
static carve_status parse_json(carve_ctx *ctx, const char *text, size_t len, const char *src, carve_palette *pal) {
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return carve__fail(ctx, CARVE_ERR_PALETTE, "%s:%d: invalid JSON: %s", src, err.line, err.text);
    carve_status st = CARVE_OK;
    const char *key;
    json_t *val;
    json_t *colors = NULL;
    if (!json_is_object(root)) {
        st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: expected a JSON object {\"name\":..,\"colors\":[..]}", src);
        goto done;
    }
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "name")) {
            if (!json_is_string(val)) {
                st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: field 'name' must be a string", src);
                goto done;
            }
            char *nm = strdup(json_string_value(val));
            if (!nm) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
            free(pal->name);
            pal->name = nm;
        } else if (!strcmp(key, "colors")) {
            colors = val;
        } else if (!strcmp(key, "description")) {
            if (!json_is_string(val)) {
                st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: field 'description' must be a string", src);
                goto done;
            }
        } else {
            st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: unknown field '%s' (allowed: name, colors, description)", src,
                             key);
            goto done;
        }
    }
    if (!colors) {
        st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: missing field 'colors'", src);
        goto done;
    }
    if (!json_is_array(colors)) {
        st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: field 'colors' must be an array", src);
        goto done;
    }
    size_t i;
    json_array_foreach(colors, i, val) {
        char field[64];
        snprintf(field, sizeof field, "colors[%zu]", i);
        const char *hex = NULL, *nm = NULL;
        if (json_is_string(val)) {
            hex = json_string_value(val);
        } else if (json_is_object(val)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(val, k2, v2) {
                if (!strcmp(k2, "hex") || !strcmp(k2, "name")) {
                    if (!json_is_string(v2)) {
                        st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: %s.%s must be a string", src, field, k2);
                        goto done;
                    }
                    if (k2[0] == 'h') hex = json_string_value(v2);
                    else nm = json_string_value(v2);
                } else {
                    st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: %s: unknown field '%s' (allowed: hex, name)", src,
                                     field, k2);
                    goto done;
                }
            }
            if (!hex) {
                st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: %s: missing field 'hex'", src, field);
                goto done;
            }
        } else {
            st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: %s must be \"#rrggbb\" or {\"hex\":..,\"name\":..}", src,
                             field);
            goto done;
        }
        uint32_t rgb;
        if (!carve__parse_hex(hex, strlen(hex), &rgb)) {
            char sn[64];
            st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: %s: '%s' is not a hex colour (#rrggbb or #rgb)", src, field,
                             snip(hex, strlen(hex), sn));
            goto done;
        }
        st = add_checked(ctx, pal, rgb, nm, src, 0, field, NULL);
        if (st) goto done;
    }
done:
    json_decref(root);
    return st;
}

carve_status carve_palette_parse(carve_ctx *ctx, const char *text, size_t len, const char *source_name,
                                 carve_palette **out) {
    if (out) *out = NULL;
    if (!out || (!text && len)) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_palette_parse: NULL argument");
    const char *src = source_name && *source_name ? source_name : "palette";
    if (!text) text = "";
    if (memchr(text, 0, len))
        return carve__fail(ctx, CARVE_ERR_PALETTE, "%s: not a text file (contains NUL bytes)", src);
    /* names are served as JSON: the text must be UTF-8 (no guessing) */
    if (!carve__utf8_valid(text, len))
        return carve__fail(ctx, CARVE_ERR_PALETTE, "%s: not UTF-8 text (colour names must be UTF-8)", src);
    /* skip a UTF-8 byte order mark */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, len -= 3;
    char base[256];
    base_name(src, base, sizeof base);
    carve_palette *pal = carve_palette_create(base);
    if (!pal) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i])) i++;
    carve_status st;
    if (i < len && (text[i] == '{' || text[i] == '['))
        st = parse_json(ctx, text, len, src, pal);
    else if (len - i >= 12 && !strncmp(text + i, "GIMP Palette", 12))
        st = parse_lines(ctx, text + i, len - i, src, pal, 1, gpl_line); /* after "GIMP Palette" */
    else
        st = parse_lines(ctx, text, len, src, pal, 0, plain_line);
    if (!st && pal->n == 0) st = carve__fail(ctx, CARVE_ERR_PALETTE, "%s: the palette has no colours", src);
    if (st) {
        carve_palette_destroy(pal);
        return st;
    }
    *out = pal;
    return CARVE_OK;
}

carve_status carve_palette_load(carve_ctx *ctx, const char *path, carve_palette **out) {
    if (out) *out = NULL;
    if (!path || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_palette_load: NULL argument");
    char *data = NULL;
    size_t len = 0;
    carve_status st = carve__read_file(ctx, path, PALETTE_FILE_MAX, &data, &len);
    if (st) return st;
    st = carve_palette_parse(ctx, data, len, path, out);
    free(data);
    return st;
}

/* ---- resolution -------------------------------------------------------------------- */
static bool looks_inline(const char *s) {
    /* "#c8102e,#fff" or "#c8102e": only hex digits, '#', ',' and spaces */
    if (s[0] != '#') return false;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p) && *p != '#' && *p != ',' && *p != ' ') return false;
    return true;
}

carve_status carve_palette_resolve(carve_ctx *ctx, const char *name_or_path, carve_palette **out) {
    if (out) *out = NULL;
    if (!name_or_path || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_palette_resolve: NULL argument");
    if (!*name_or_path) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "empty palette name");
    for (int i = 0; i < carve_palette_builtin_count(); i++)
        if (!strcmp(carve_palette_builtin_name(i), name_or_path)) return carve_palette_builtin(ctx, name_or_path, out);
    struct stat sb;
    if (stat(name_or_path, &sb) == 0 || !strcmp(name_or_path, "-")) return carve_palette_load(ctx, name_or_path, out);
    if (looks_inline(name_or_path))
        return carve_palette_parse(ctx, name_or_path, strlen(name_or_path), "inline palette", out);
    carve__buf b;
    carve__buf_init(&b);
    for (int i = 0; i < carve_palette_builtin_count(); i++)
        carve__buf_printf(&b, "%s%s", i ? ", " : "", carve_palette_builtin_name(i));
    carve_status st = carve__fail(ctx, CARVE_ERR_NOT_FOUND,
                                  "palette '%s' is neither a built-in palette (%s) nor a readable file", name_or_path,
                                  b.data ? b.data : "");
    carve__buf_free(&b);
    return st;
}
