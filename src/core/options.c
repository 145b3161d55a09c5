/* options.c — the one options schema, typed storage in carve_ctx, parsing
 * from text, JSON and config files, and presets. */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const carve_option_info schema[] = {
#define CARVE_OPTION(key, type, def, min, max, choices, help) \
    {#key, CARVE__GROUP, CARVE_OPT_##type, def, min, max, choices, help},
#define CARVE__GROUP "core"
#include "schema/core.def"
#undef CARVE__GROUP
#define CARVE__GROUP "trace"
#include "schema/trace.def"
#undef CARVE__GROUP
#define CARVE__GROUP "chroma"
#include "schema/chroma.def"
#undef CARVE__GROUP
#define CARVE__GROUP "run"
#include "schema/run.def"
#undef CARVE__GROUP
#define CARVE__GROUP "nn"
#include "schema/nn.def"
#undef CARVE__GROUP
#undef CARVE_OPTION
};

_Static_assert(sizeof schema / sizeof schema[0] == CARVE_OPTID__COUNT, "schema and ids agree");

int carve_option_count(void) { return CARVE_OPTID__COUNT; }

const carve_option_info *carve_option_at(int i) {
    return (i >= 0 && i < CARVE_OPTID__COUNT) ? &schema[i] : NULL;
}

static bool key_eq(const char *schema_key, const char *key) {
    for (; *schema_key && *key; schema_key++, key++) {
        char c = *key == '-' ? '_' : *key;
        if (c != *schema_key) return false;
    }
    return *schema_key == 0 && *key == 0;
}

static int find_id(const char *key) {
    if (!key) return -1;
    for (int i = 0; i < CARVE_OPTID__COUNT; i++)
        if (key_eq(schema[i].key, key)) return i;
    return -1;
}

const carve_option_info *carve_option_find(const char *key) {
    int i = find_id(key);
    return i < 0 ? NULL : &schema[i];
}

/* Index of value in a '|'-separated choice list, or -1. */
static int choice_index(const char *choices, const char *value) {
    int idx = 0;
    size_t vlen = strlen(value);
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && strncmp(p, value, n) == 0) return idx;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static bool choice_at(const char *choices, int idx, char *out, size_t len) {
    const char *p = choices;
    for (int i = 0; i < idx; i++) {
        p = strchr(p, '|');
        if (!p) return false;
        p++;
    }
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n + 1 > len) return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

/* Parses value for option i into *v (STRING: newly allocated). */
static carve_status parse_value(carve_ctx *ctx, int i, const char *value, carve_optval *v) {
    const carve_option_info *o = &schema[i];
    char *end = NULL;
    switch (o->type) {
    case CARVE_OPT_INT: {
        errno = 0;
        double d = strtod(value, &end);
        if (end == value || *end || errno || d != floor(d) || !isfinite(d))
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option %s: '%s' is not an integer", o->key, value);
        if (d < o->min || d > o->max)
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option %s: %s is out of range (allowed %.0f..%.0f)", o->key,
                               value, o->min, o->max);
        v->i = (int64_t)d;
        return CARVE_OK;
    }
    case CARVE_OPT_FLOAT: {
        errno = 0;
        double d = strtod(value, &end);
        if (end == value || *end || errno || !isfinite(d))
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option %s: '%s' is not a number", o->key, value);
        if (d < o->min || d > o->max)
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option %s: %s is out of range (allowed %g..%g)", o->key,
                               value, o->min, o->max);
        v->f = d;
        return CARVE_OK;
    }
    case CARVE_OPT_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "on")) v->i = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") || !strcmp(value, "off")) v->i = 0;
        else return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option %s: '%s' is not true or false", o->key, value);
        return CARVE_OK;
    case CARVE_OPT_ENUM: {
        int idx = choice_index(o->choices, value);
        if (idx < 0)
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option %s: '%s' is not one of %s", o->key, value,
                               o->choices);
        v->i = idx;
        return CARVE_OK;
    }
    case CARVE_OPT_STRING: {
        if (i == CARVE_OPTID_preset && choice_index(o->choices, value) < 0 && !carve__preset_installed(ctx, value))
            return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option preset: '%s' is not one of %s nor an installed preset",
                               value, o->choices);
        if (strlen(value) > 65536)
            return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option %s: value longer than 65536 bytes", o->key);
        if ((i == CARVE_OPTID_width || i == CARVE_OPTID_height || i == CARVE_OPTID_min_feature) &&
            (*value || i == CARVE_OPTID_min_feature)) { /* lengths with a unit; "" = unset (not min_feature) */
            char err[256];
            double mm;
            if (carve__parse_length(value, &mm, NULL, err, sizeof err))
                return carve__fail(ctx, CARVE_ERR_OUT_OF_RANGE, "option %s: %s", o->key, err);
        }
        if (i == CARVE_OPTID_subject) { /* syntax and range checked here, bounds at run time */
            carve__subject_spec sp;
            carve_status st = carve__parse_subject(ctx, value, &sp);
            if (st) return st;
        }
        carve_status st = carve__option_check(ctx, (carve_optid)i, value);
        if (st) return st;
        v->s = strdup(value);
        return v->s ? CARVE_OK : carve__fail(ctx, CARVE_ERR_NOMEM, "option %s: out of memory", o->key);
    }
    }
    return carve__fail(ctx, CARVE_ERR_INTERNAL, "option %s: bad schema type", o->key);
}

static void store(carve_ctx *ctx, int i, carve_optval v) {
    if (schema[i].type == CARVE_OPT_STRING) free(ctx->opt[i].s);
    ctx->opt[i] = v;
}

carve_status carve__options_init(carve_ctx *ctx) {
    for (int i = 0; i < CARVE_OPTID__COUNT; i++) {
        carve_optval v;
        memset(&v, 0, sizeof v);
        carve_status st = parse_value(ctx, i, schema[i].def, &v);
        if (st) return st;
        ctx->opt[i] = v;
    }
    return CARVE_OK;
}

void carve__options_free(carve_ctx *ctx) {
    for (int i = 0; i < CARVE_OPTID__COUNT; i++)
        if (schema[i].type == CARVE_OPT_STRING) {
            free(ctx->opt[i].s);
            ctx->opt[i].s = NULL;
        }
}

carve_status carve__options_copy(carve_ctx *dst, const carve_ctx *src) {
    for (int i = 0; i < CARVE_OPTID__COUNT; i++) {
        carve_optval v = src->opt[i];
        if (schema[i].type == CARVE_OPT_STRING && !(v.s = strdup(src->opt[i].s)))
            return carve__fail(dst, CARVE_ERR_NOMEM, "out of memory");
        store(dst, i, v);
    }
    return CARVE_OK;
}

carve_status carve_ctx_set_option(carve_ctx *ctx, const char *key, const char *value) {
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!key || !value) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "option key and value must not be NULL");
    int i = find_id(key);
    if (i < 0) return carve__fail(ctx, CARVE_ERR_UNKNOWN_OPTION, "unknown option '%s'", key);
    carve_optval v;
    memset(&v, 0, sizeof v);
    carve_status st = parse_value(ctx, i, value, &v);
    if (st) return st;
    store(ctx, i, v);
    return CARVE_OK;
}

static bool format_value(const carve_ctx *ctx, int i, char *buf, size_t len) {
    const carve_option_info *o = &schema[i];
    int n = 0;
    switch (o->type) {
    case CARVE_OPT_INT: n = snprintf(buf, len, "%lld", (long long)ctx->opt[i].i); break;
    case CARVE_OPT_FLOAT: n = snprintf(buf, len, "%.17g", ctx->opt[i].f); break;
    case CARVE_OPT_BOOL: n = snprintf(buf, len, "%s", ctx->opt[i].i ? "true" : "false"); break;
    case CARVE_OPT_ENUM: return choice_at(o->choices, (int)ctx->opt[i].i, buf, len);
    case CARVE_OPT_STRING: n = snprintf(buf, len, "%s", ctx->opt[i].s); break;
    }
    return n >= 0 && (size_t)n < len;
}

carve_status carve_ctx_get_option(const carve_ctx *ctx, const char *key, char *buf, size_t len) {
    if (!ctx || !buf || !len) return CARVE_ERR_INVALID_ARG;
    buf[0] = 0;
    int i = find_id(key);
    if (i < 0) return CARVE_ERR_UNKNOWN_OPTION;
    if (!format_value(ctx, i, buf, len)) {
        buf[len - 1] = 0;
        return CARVE_ERR_INVALID_ARG;
    }
    return CARVE_OK;
}

char *carve_ctx_options_json(const carve_ctx *ctx) {
    if (!ctx) return NULL;
    carve__buf b;
    carve__buf_init(&b);
    carve__buf_putc(&b, '{');
    for (int i = 0; i < CARVE_OPTID__COUNT; i++) {
        const carve_option_info *o = &schema[i];
        char val[64];
        carve__buf_printf(&b, "%s\"%s\":", i ? "," : "", o->key);
        switch (o->type) {
        case CARVE_OPT_INT:
        case CARVE_OPT_FLOAT:
        case CARVE_OPT_BOOL:
            format_value(ctx, i, val, sizeof val);
            carve__buf_puts(&b, val);
            break;
        case CARVE_OPT_ENUM:
            format_value(ctx, i, val, sizeof val);
            carve__buf_printf(&b, "\"%s\"", val);
            break;
        case CARVE_OPT_STRING:
            carve__buf_putc(&b, '"');
            carve__buf_json_str(&b, ctx->opt[i].s);
            carve__buf_putc(&b, '"');
            break;
        }
    }
    carve__buf_putc(&b, '}');
    return carve__buf_take(&b, NULL);
}

/* ---- typed access --------------------------------------------------------- */
int64_t carve__opt_int(const carve_ctx *ctx, carve_optid id) { return ctx->opt[id].i; }
double carve__opt_float(const carve_ctx *ctx, carve_optid id) { return ctx->opt[id].f; }
bool carve__opt_bool(const carve_ctx *ctx, carve_optid id) { return ctx->opt[id].i != 0; }
const char *carve__opt_str(const carve_ctx *ctx, carve_optid id) { return ctx->opt[id].s; }
int carve__opt_enum(const carve_ctx *ctx, carve_optid id) { return (int)ctx->opt[id].i; }

/* ---- JSON and config files ------------------------------------------------- */

/* Applies a list of (key, text value) pairs all-or-nothing. */
typedef struct kv { char *key, *val; int line; } kv;

static carve_status apply_pairs(carve_ctx *ctx, kv *pairs, int n, const char *source) {
    carve_ctx *tmp = carve_ctx_clone(ctx);
    if (!tmp) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    carve_status st = CARVE_OK;
    /* preset first, so explicit keys win regardless of order */
    for (int pass = 0; pass < 2 && !st; pass++)
        for (int i = 0; i < n; i++) {
            bool is_preset = find_id(pairs[i].key) == CARVE_OPTID_preset;
            if (is_preset != (pass == 0)) continue;
            st = is_preset ? carve_ctx_apply_preset(tmp, pairs[i].val)
                           : carve_ctx_set_option(tmp, pairs[i].key, pairs[i].val);
            if (st) {
                if (pairs[i].line > 0)
                    carve__fail(ctx, st == CARVE_ERR_NOMEM ? st : CARVE_ERR_CONFIG, "%s:%d: %s", source, pairs[i].line,
                                tmp->errmsg);
                else
                    carve__fail(ctx, st == CARVE_ERR_NOMEM ? st : CARVE_ERR_CONFIG, "%s: %s", source, tmp->errmsg);
                st = st == CARVE_ERR_NOMEM ? st : CARVE_ERR_CONFIG;
                break;
            }
        }
    if (!st) st = carve__options_copy(ctx, tmp);
    carve_ctx_destroy(tmp);
    return st;
}

static void free_pairs(kv *p, int n) {
    for (int i = 0; i < n; i++) {
        free(p[i].key);
        free(p[i].val);
    }
    free(p);
}

/* JSON values are typed at the boundary: a text option (string, enum) takes
 * only a JSON string (so {"palette":1} never becomes a file name "1"); a
 * number takes a number or its text; a boolean true/false or its text. */
static const char *json_value_text(const carve_option_info *o, json_t *val, char *buf, size_t len) {
    bool numeric = o->type == CARVE_OPT_INT || o->type == CARVE_OPT_FLOAT;
    if (json_is_string(val)) return json_string_value(val);
    if (numeric && json_is_integer(val)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(val));
        return buf;
    }
    if (numeric && json_is_real(val)) {
        snprintf(buf, len, "%.17g", json_real_value(val));
        return buf;
    }
    if (o->type == CARVE_OPT_BOOL && json_is_boolean(val)) return json_is_true(val) ? "true" : "false";
    return NULL;
}

static const char *json_expected(carve_option_type t) {
    switch (t) {
    case CARVE_OPT_INT:
    case CARVE_OPT_FLOAT: return "a number";
    case CARVE_OPT_BOOL: return "true or false";
    case CARVE_OPT_ENUM: return "a string (one of its choices)";
    case CARVE_OPT_STRING: return "a string";
    }
    return "?";
}

static const char *json_kind(const json_t *v) {
    if (json_is_string(v)) return "a string";
    if (json_is_number(v)) return "a number";
    if (json_is_boolean(v)) return "a boolean";
    if (json_is_null(v)) return "null";
    if (json_is_array(v)) return "an array";
    return "an object";
}

/* A key that is not an option: the caller's (fn), or an error naming it
 * (line 0: a JSON source). */
static carve_status foreign_key(carve_ctx *ctx, const char *source, int line, const char *key, const char *val,
                                carve_config_key_fn fn, void *user) {
    carve_status st = fn ? fn(user, ctx, key, val) : CARVE_ERR_UNKNOWN_OPTION;
    if (st == CARVE_OK) return CARVE_OK;
    if (st == CARVE_ERR_UNKNOWN_OPTION) {
        if (line > 0) return carve__fail(ctx, CARVE_ERR_CONFIG, "%s:%d: unknown option '%s'", source, line, key);
        return carve__fail(ctx, CARVE_ERR_CONFIG, "%s: unknown option '%s'", source, key);
    }
    if (line > 0) carve__errprefix(ctx, "%s:%d", source, line);
    else carve__errprefix(ctx, "%s", source);
    return st == CARVE_ERR_NOMEM ? st : CARVE_ERR_CONFIG;
}

/* A JSON value of a key that is not an option, as text for foreign_key. */
static const char *json_foreign_text(json_t *val, char *buf, size_t len) {
    if (json_is_string(val)) return json_string_value(val);
    if (json_is_integer(val)) snprintf(buf, len, "%lld", (long long)json_integer_value(val));
    else if (json_is_real(val)) snprintf(buf, len, "%.17g", json_real_value(val));
    else if (json_is_boolean(val)) return json_is_true(val) ? "true" : "false";
    else return NULL;
    return buf;
}

static carve_status apply_json_ex(carve_ctx *ctx, const char *json, const char *source, carve_config_key_fn fn,
                                  void *user) {
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!json) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no JSON given");
    if (!source) source = "options";
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return carve__fail(ctx, CARVE_ERR_CONFIG, "%s:%d:%d: invalid JSON: %s", source, jerr.line, jerr.column,
                           jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return carve__fail(ctx, CARVE_ERR_CONFIG, "%s: expected a JSON object of options", source);
    }
    size_t n = json_object_size(root);
    kv *pairs = calloc(n ? n : 1, sizeof *pairs);
    if (!pairs) {
        json_decref(root);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    int np = 0;
    carve_status st = CARVE_OK;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        char buf[64];
        const char *text = NULL;
        int id = find_id(key);
        if (id < 0 && fn && !(text = json_foreign_text(val, buf, sizeof buf))) {
            st = carve__fail(ctx, CARVE_ERR_CONFIG, "%s: %s: expected a string, number or boolean, got %s", source,
                             key, json_kind(val));
            break;
        }
        if (id < 0) {
            if ((st = foreign_key(ctx, source, 0, key, text, fn, user))) break;
            continue;
        }
        if (!(text = json_value_text(&schema[id], val, buf, sizeof buf))) {
            st = carve__fail(ctx, CARVE_ERR_CONFIG, "%s: option %s: expected %s, got %s", source, key,
                             json_expected(schema[id].type), json_kind(val));
            break;
        }
        pairs[np].key = strdup(key);
        pairs[np].val = strdup(text);
        np++;
        if (!pairs[np - 1].key || !pairs[np - 1].val) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); break; }
    }
    json_decref(root);
    if (!st) st = apply_pairs(ctx, pairs, np, source);
    free_pairs(pairs, np);
    return st;
}

carve_status carve_ctx_apply_json(carve_ctx *ctx, const char *json, const char *source) {
    return apply_json_ex(ctx, json, source, NULL, NULL);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

carve_status carve_ctx_load_config(carve_ctx *ctx, const char *path) {
    return carve_ctx_load_config_ex(ctx, path, NULL, NULL);
}

carve_status carve_ctx_load_config_ex(carve_ctx *ctx, const char *path, carve_config_key_fn fn, void *user) {
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    char *text = NULL;
    size_t len = 0;
    carve_status st = carve__read_file(ctx, path, 1 << 20, &text, &len);
    if (st) return st;
    const char *p = text;
    while (*p && isspace((unsigned char)*p)) p++;
    if (*p == '{') {
        st = apply_json_ex(ctx, text, path, fn, user);
        free(text);
        return st;
    }
    /* key = value lines */
    int cap = 16, np = 0, lineno = 0;
    kv *pairs = calloc((size_t)cap, sizeof *pairs);
    if (!pairs) { free(text); return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); }
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#') continue;
        char *eq = strchr(t, '=');
        if (!eq) { st = carve__fail(ctx, CARVE_ERR_CONFIG, "%s:%d: expected 'key = value'", path, lineno); break; }
        *eq = 0;
        char *k = trim(t), *v = trim(eq + 1);
        size_t vl = strlen(v);
        if (vl >= 2 && ((v[0] == '"' && v[vl - 1] == '"') || (v[0] == '\'' && v[vl - 1] == '\''))) {
            v[vl - 1] = 0;
            v++;
        }
        if (find_id(k) < 0) {
            if ((st = foreign_key(ctx, path, lineno, k, v, fn, user))) break;
            continue;
        }
        if (np == cap) {
            cap *= 2;
            kv *np2 = realloc(pairs, (size_t)cap * sizeof *pairs);
            if (!np2) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); break; }
            pairs = np2;
        }
        pairs[np].key = strdup(k);
        pairs[np].val = strdup(v);
        pairs[np].line = lineno;
        np++;
        if (!pairs[np - 1].key || !pairs[np - 1].val) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); break; }
    }
    if (!st) st = apply_pairs(ctx, pairs, np, path);
    free_pairs(pairs, np);
    free(text);
    return st;
}

/* ---- presets -------------------------------------------------------------- */
typedef struct preset { const char *name; const char *pairs[16][2]; } preset;
static const preset presets[] = {
    {"illustration", {{NULL, NULL}}},
    {"poster",
     {{"colors", "8"}, {"filter_speckle", "24"}, {"min_region", "48"}, {"flatten", "2"}, {"corner_threshold", "75"},
      {"work_size", "1200"}, {NULL, NULL}}},
    {"detailed",
     {{"colors", "32"}, {"filter_speckle", "2"}, {"min_region", "4"}, {"flatten", "0.5"}, {"path_precision", "2"},
      {"work_size", "2400"}, {NULL, NULL}}},
};

carve_status carve_ctx_apply_preset(carve_ctx *ctx, const char *name) {
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!name) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no preset name");
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name)) continue;
        for (int j = 0; presets[i].pairs[j][0]; j++) {
            carve_status st = carve_ctx_set_option(ctx, presets[i].pairs[j][0], presets[i].pairs[j][1]);
            if (st) return st;
        }
        return carve_ctx_set_option(ctx, "preset", name);
    }
    if (carve__preset_installed(ctx, name)) {
        carve_status st = carve__preset_apply_installed(ctx, name);
        return st ? st : carve_ctx_set_option(ctx, "preset", name);
    }
    return carve__fail(ctx, CARVE_ERR_NOT_FOUND, "unknown preset '%s' (one of %s)", name, schema[CARVE_OPTID_preset].choices);
}

