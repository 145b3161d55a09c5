/* settings.h — carved's own settings (listen, data_dir, api_key, ...).
 *
 * The rows live in settings.def, written with the same CARVE_OPTION
 * X-macro as libcarve's option schema (src/core/schema), but libcarve never
 * sees them: carve_option_count() and `carve options` list only what the
 * library reads.  carved's config file, CARVED_<KEY> environment, flags and
 * --help take both tables (settings first, then libcarve's options, which
 * become the defaults of every job).  Descriptions reuse the public
 * carve_option_info (group "server").  Only carve.h is needed. */
#ifndef CARVE_SRV_SETTINGS_H
#define CARVE_SRV_SETTINGS_H

#include "carve.h"

#include <stdint.h>

typedef enum carve__srvopt {
#define CARVE_OPTION(key, type, def, min, max, choices, help) CARVE_SRVOPT_##key,
#include "settings.def"
#undef CARVE_OPTION
    CARVE_SRVOPT__COUNT
} carve__srvopt;

/** The values of every setting (opaque). */
typedef struct carve__srvopts carve__srvopts;

/** Number of settings, setting i (static storage) or NULL, setting by key
 *  (dashes and underscores are equivalent) or NULL. */
int carve__srvopt_count(void);
const carve_option_info *carve__srvopt_at(int i);
const carve_option_info *carve__srvopt_find(const char *key);

/** Every setting at its default; NULL on OOM. */
carve__srvopts *carve__srvopts_create(void);
/** A copy; NULL on OOM. */
carve__srvopts *carve__srvopts_clone(const carve__srvopts *o);
void carve__srvopts_destroy(carve__srvopts *o);
/** Sets a setting from text, checked against its type and range as
 *  libcarve checks its options.  CARVE_ERR_UNKNOWN_OPTION (not a setting),
 *  CARVE_ERR_INVALID_ARG or CARVE_ERR_OUT_OF_RANGE with a message naming the
 *  key, the value and what is allowed in errctx (carve_ctx_set_error); the
 *  setting keeps its old value then.  CARVE_ERR_NOMEM. */
carve_status carve__srvopts_set(carve__srvopts *o, carve_ctx *errctx, const char *key, const char *value);

/** Typed values (ENUM: the index in choices; STRING: owned by o, never NULL). */
int64_t carve__srvopt_int(const carve__srvopts *o, carve__srvopt id);
double carve__srvopt_float(const carve__srvopts *o, carve__srvopt id);
const char *carve__srvopt_str(const carve__srvopts *o, carve__srvopt id);
int carve__srvopt_enum(const carve__srvopts *o, carve__srvopt id);

#endif
