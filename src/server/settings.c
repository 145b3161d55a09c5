/* settings.c — carved's settings table (settings.def) and their values. */
#include "settings.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* a value longer than this is refused (as libcarve refuses its options') */
#define SRVOPT_TEXT_MAX 65536

static const carve_option_info table[] = {
#define CARVE_OPTION(key, type, def, min, max, choices, help) \
    {#key, "server", CARVE_OPT_##type, def, min, max, choices, help},
#include "settings.def"
#undef CARVE_OPTION
};

_Static_assert(sizeof table / sizeof table[0] == CARVE_SRVOPT__COUNT, "table and ids agree");

typedef union srvval {
    int64_t i; /* INT, BOOL, ENUM (index in choices) */
    double f;  /* FLOAT */
    char *s;   /* STRING (owned, never NULL) */
} srvval;

struct carve__srvopts {
    srvval v[CARVE_SRVOPT__COUNT];
};

int carve__srvopt_count(void) { return CARVE_SRVOPT__COUNT; }

const carve_option_info *carve__srvopt_at(int i) { return i >= 0 && i < CARVE_SRVOPT__COUNT ? &table[i] : NULL; }

static bool key_eq(const char *schema_key, const char *key) {
    for (; *schema_key && *key; schema_key++, key++)
        if ((*key == '-' ? '_' : *key) != *schema_key) return false;
    return *schema_key == 0 && *key == 0;
}

static int find_id(const char *key) {
    for (int i = 0; key && i < CARVE_SRVOPT__COUNT; i++)
        if (key_eq(table[i].key, key)) return i;
    return -1;
}

const carve_option_info *carve__srvopt_find(const char *key) {
    int i = find_id(key);
    return i < 0 ? NULL : &table[i];
}

/* index of value in a '|'-separated list, or -1 */
static int choice_index(const char *choices, const char *value) {
    size_t vlen = strlen(value);
    int idx = 0;
    for (const char *p = choices; p; idx++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && !strncmp(p, value, n)) return idx;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

static carve_status parse_number(carve_ctx *e, const carve_option_info *o, const char *value, srvval *v) {
    char *end = NULL;
    errno = 0;
    double d = strtod(value, &end);
    bool is_int = o->type == CARVE_OPT_INT;
    if (end == value || *end || errno || !isfinite(d) || (is_int && d != floor(d)))
        return carve_ctx_set_error(e, CARVE_ERR_INVALID_ARG, 0, "option %s: '%s' is not %s", o->key, value,
                                   is_int ? "an integer" : "a number");
    if (d < o->min || d > o->max)
        return carve_ctx_set_error(e, CARVE_ERR_OUT_OF_RANGE, 0,
                                   is_int ? "option %s: %s is out of range (allowed %.0f..%.0f)"
                                          : "option %s: %s is out of range (allowed %g..%g)",
                                   o->key, value, o->min, o->max);
    if (is_int) v->i = (int64_t)d;
    else v->f = d;
    return CARVE_OK;
}

/* value parsed for setting i into *v (STRING: newly allocated) */
static carve_status parse_value(carve_ctx *e, int i, const char *value, srvval *v) {
    const carve_option_info *o = &table[i];
    switch (o->type) {
    case CARVE_OPT_INT:
    case CARVE_OPT_FLOAT: return parse_number(e, o, value, v);
    case CARVE_OPT_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "on")) v->i = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") || !strcmp(value, "off"))
            v->i = 0;
        else return carve_ctx_set_error(e, CARVE_ERR_INVALID_ARG, 0, "option %s: '%s' is not true or false", o->key, value);
        return CARVE_OK;
    case CARVE_OPT_ENUM:
        if ((v->i = choice_index(o->choices, value)) < 0)
            return carve_ctx_set_error(e, CARVE_ERR_INVALID_ARG, 0, "option %s: '%s' is not one of %s", o->key, value,
                                       o->choices);
        return CARVE_OK;
    case CARVE_OPT_STRING:
        if (strlen(value) > SRVOPT_TEXT_MAX)
            return carve_ctx_set_error(e, CARVE_ERR_OUT_OF_RANGE, 0, "option %s: value longer than %d bytes", o->key,
                                       SRVOPT_TEXT_MAX);
        if (!(v->s = strdup(value))) return carve_ctx_set_error(e, CARVE_ERR_NOMEM, 0, "out of memory");
        return CARVE_OK;
    }
    return carve_ctx_set_error(e, CARVE_ERR_INTERNAL, 0, "option %s: bad type in settings.def", o->key);
}

static void free_value(int i, srvval *v) {
    if (table[i].type == CARVE_OPT_STRING) free(v->s);
    v->s = NULL;
}

void carve__srvopts_destroy(carve__srvopts *o) {
    if (!o) return;
    for (int i = 0; i < CARVE_SRVOPT__COUNT; i++) free_value(i, &o->v[i]);
    free(o);
}

carve__srvopts *carve__srvopts_create(void) {
    carve__srvopts *o = calloc(1, sizeof *o);
    carve_ctx *e = carve_ctx_create();
    bool ok = o && e;
    for (int i = 0; ok && i < CARVE_SRVOPT__COUNT; i++) ok = parse_value(e, i, table[i].def, &o->v[i]) == CARVE_OK;
    carve_ctx_destroy(e);
    if (ok) return o;
    carve__srvopts_destroy(o);
    return NULL;
}

carve__srvopts *carve__srvopts_clone(const carve__srvopts *src) {
    carve__srvopts *o = src ? calloc(1, sizeof *o) : NULL;
    if (!o) return NULL;
    for (int i = 0; i < CARVE_SRVOPT__COUNT; i++) {
        o->v[i] = src->v[i];
        if (table[i].type == CARVE_OPT_STRING && !(o->v[i].s = strdup(src->v[i].s))) {
            carve__srvopts_destroy(o);
            return NULL;
        }
    }
    return o;
}

carve_status carve__srvopts_set(carve__srvopts *o, carve_ctx *errctx, const char *key, const char *value) {
    if (!o || !key || !value) return carve_ctx_set_error(errctx, CARVE_ERR_INVALID_ARG, 0, "no setting or value");
    int i = find_id(key);
    if (i < 0) return carve_ctx_set_error(errctx, CARVE_ERR_UNKNOWN_OPTION, 0, "unknown option '%s'", key);
    srvval v = {0};
    carve_status st = parse_value(errctx, i, value, &v);
    if (st) return st;
    free_value(i, &o->v[i]);
    o->v[i] = v;
    return CARVE_OK;
}

int64_t carve__srvopt_int(const carve__srvopts *o, carve__srvopt id) { return o->v[id].i; }
double carve__srvopt_float(const carve__srvopts *o, carve__srvopt id) { return o->v[id].f; }
const char *carve__srvopt_str(const carve__srvopts *o, carve__srvopt id) { return o->v[id].s; }
int carve__srvopt_enum(const carve__srvopts *o, carve__srvopt id) { return (int)o->v[id].i; }
