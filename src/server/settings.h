/* settings.h — carved's own settings (listen, data_dir, api_key, ...): the
 * ids and typed getters inside the module; the rest of the API is in
 * include/carved.h.
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

#include "carved.h"   /* the settings API: carve__srvopts_create/set/find, ... */
#include "srvenums.h" /* CARVE__ENGINE_*, CARVE__REQUIRE_KEY_*, CARVE__LOG_LEVEL_* (generated from settings.def) */

#include <stdint.h>

typedef enum carve__srvopt {
#define CARVE_OPTION(key, type, def, min, max, choices, help) CARVE_SRVOPT_##key,
#include "settings.def"
#undef CARVE_OPTION
    CARVE_SRVOPT__COUNT
} carve__srvopt;

/** Typed values (ENUM: the index in choices, compared with the generated
 *  CARVE__<KEY>_<CHOICE> names of srvenums.h; STRING: owned by o, never NULL). */
int64_t carve__srvopt_int(const carve__srvopts *o, carve__srvopt id);
double carve__srvopt_float(const carve__srvopts *o, carve__srvopt id);
const char *carve__srvopt_str(const carve__srvopts *o, carve__srvopt id);
int carve__srvopt_enum(const carve__srvopts *o, carve__srvopt id);

#endif
