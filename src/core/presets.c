/* presets.c — presets installed by name in a presets folder (option
 * presets_dir, CARVE_PRESETS_DIR, XDG_CONFIG_HOME/carve/presets or
 * ~/.config/carve/presets): lookup, validation and atomic installation.
 * The built-in presets live in options.c. */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PRESET_NAME_MAX 64
#define PRESET_FILE_MAX (1 << 20)
#define PRESETS_DIR_MODE 0777 /* the presets folder (and parents), before the umask */

bool carve__preset_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > PRESET_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

char *carve_presets_dir(const carve_ctx *ctx) {
    const char *opt = ctx ? carve__opt_str(ctx, CARVE_OPTID_presets_dir) : "";
    if (opt && *opt) return strdup(opt);
    const char *env = getenv("CARVE_PRESETS_DIR");
    if (env && *env) return strdup(env);
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    const char *base = (xdg && *xdg) ? xdg : home;
    if (!base || !*base) return NULL;
    size_t n = strlen(base) + 32;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s/carve/presets", base, (xdg && *xdg) ? "" : "/.config");
    return p;
}

char *carve__preset_path(const carve_ctx *ctx, const char *name) {
    if (!carve__preset_name_ok(name)) return NULL;
    char *dir = carve_presets_dir(ctx);
    if (!dir) return NULL;
    size_t n = strlen(dir) + strlen(name) + 8;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.json", dir, name);
    free(dir);
    return p;
}

bool carve__preset_installed(const carve_ctx *ctx, const char *name) {
    char *path = carve__preset_path(ctx, name);
    struct stat sb;
    bool ok = path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
    free(path);
    return ok;
}

carve_status carve__preset_apply_installed(carve_ctx *ctx, const char *name) {
    char *path = carve__preset_path(ctx, name);
    if (!path) return carve__fail(ctx, CARVE_ERR_NOT_FOUND, "unknown preset '%s'", name);
    char *text = NULL;
    size_t len = 0;
    carve_status st = carve__read_file(ctx, path, PRESET_FILE_MAX, &text, &len);
    if (st) {
        st = carve__fail(ctx, CARVE_ERR_NOT_FOUND, "unknown preset '%s' (built-in: illustration, poster, detailed; "
                         "installed: none at %s)", name, path);
        free(path);
        return st;
    }
    static _Thread_local int depth; /* a hand-edited file naming itself */
    if (depth > 0) st = carve__fail(ctx, CARVE_ERR_CONFIG, "%s: an installed preset may not name another installed preset", path);
    else {
        depth++;
        st = carve_ctx_apply_json(ctx, text, path);
        depth--;
    }
    free(text);
    free(path);
    return st;
}

/* Keys a preset may not carry: where files live, operator limits, itself.
 * (carved's settings are not options at all: unknown keys.) */
static bool key_refused(const carve_option_info *o) {
    static const char *const refused[] = {"preset", "presets_dir", "models_dir", "ort_library", "erase", "erase_mask",
                                          "palette", "lock", "max_pixels", "threads", "nn_threads"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcmp(o->key, refused[i])) return true;
    return false;
}

/* Checks the preset JSON: an object of known, allowed options whose values
 * apply cleanly to a copy of ctx. */
static carve_status validate_preset(carve_ctx *ctx, const char *name, const char *json) {
    carve_ctx *tmp = carve_ctx_clone(ctx);
    if (!tmp) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    carve_status st = carve_ctx_apply_json(tmp, json, name);
    if (st) {
        carve__fail(ctx, st, "preset %s", carve_ctx_errmsg(tmp));
        carve_ctx_destroy(tmp);
        return st;
    }
    carve_ctx_destroy(tmp);
    /* keys: re-scan (apply_json accepted them all as options) */
    for (int i = 0; i < carve_option_count(); i++) {
        const carve_option_info *o = carve_option_at(i);
        char pat[80];
        snprintf(pat, sizeof pat, "\"%s\"", o->key);
        const char *hit = strstr(json, pat);
        /* a key is followed (after blanks) by ':' */
        while (hit) {
            const char *q = hit + strlen(pat);
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
            if (*q == ':' && key_refused(o))
                return carve__fail(ctx, CARVE_ERR_CONFIG, "preset %s: option %s may not be set by a preset", name,
                                   o->key);
            hit = strstr(hit + 1, pat);
        }
    }
    return CARVE_OK;
}

carve_status carve_preset_install(carve_ctx *ctx, const char *name, const char *json) {
    if (!ctx) return CARVE_ERR_INVALID_ARG;
    if (!carve__preset_name_ok(name))
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "preset name '%s' is not [A-Za-z0-9_-]{1,64}", name ? name : "");
    if (!strcmp(name, "illustration") || !strcmp(name, "poster") || !strcmp(name, "detailed"))
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "preset name '%s' is a built-in preset", name);
    if (!json) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "preset %s: no JSON given", name);
    if (strlen(json) > PRESET_FILE_MAX) return carve__fail(ctx, CARVE_ERR_CONFIG, "preset %s: larger than 1 MiB", name);
    carve_status st = validate_preset(ctx, name, json);
    if (st) return st;
    char *dir = carve_presets_dir(ctx);
    if (!dir) return carve__fail(ctx, CARVE_ERR_IO, "no presets folder (set HOME, XDG_CONFIG_HOME or option presets_dir)");
    if (carve__mkdir_p(dir, PRESETS_DIR_MODE)) {
        st = carve__fail(ctx, CARVE_ERR_IO, "cannot create the presets folder '%s': %s", dir, strerror(errno));
        free(dir);
        return st;
    }
    free(dir);
    char *path = carve__preset_path(ctx, name);
    if (!path) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    st = carve_write_file(ctx, path, json, strlen(json));
    free(path);
    return st;
}
