/* nn.c — availability and descriptions for the run report.  (Which
 * detections get erased is the pipeline's policy, option erase_text.)  The adapters live in adapters.c, the runtime in ort.c. */
#include "nn/nn_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Finds the installed model of task; on failure ctx's message says why. */
static carve_status find_model(carve_ctx *ctx, const char *task, carve__nn_manifest **man,
                               const carve__nn_model **model) {
    *man = NULL;
    *model = NULL;
    int t = carve__nn_task_find(task);
    if (t < 0) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "unknown neural task '%s'", task ? task : "(null)");
    carve_status st = carve__nn_manifest_load(ctx, man);
    if (st) return st;
    /* option nn_models: installed models named there win, in its order */
    const char *pref = carve__opt_str(ctx, CARVE_OPTID_nn_models);
    for (const char *p = pref; p && *p && !*model;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        for (int i = 0; i < (*man)->n && !*model; i++) {
            const carve__nn_model *e = &(*man)->models[i];
            if (e->task == t && strlen(e->name) == len && !strncmp(e->name, p, len) && access(e->path, R_OK) == 0)
                *model = e;
        }
        p = comma ? comma + 1 : NULL;
    }
    if (!*model) *model = carve__nn_manifest_pick(*man, t);
    if (!*model) {
        char names[512] = "";
        for (int i = 0; i < (*man)->n; i++)
            if ((*man)->models[i].task == t) {
                size_t u = strlen(names);
                snprintf(names + u, sizeof names - u, "%s%s", u ? ", " : "", (*man)->models[i].name);
            }
        st = carve__fail(ctx, CARVE_ERR_NOT_FOUND, "no %s model installed in %s (%s%s%s)", task, (*man)->models_dir,
                         *names ? "the manifest lists " : "the manifest lists none", names,
                         *names ? "; carve models fetch NAME installs one" : "");
        carve__nn_manifest_free(*man);
        *man = NULL;
        return st;
    }
    return CARVE_OK;
}

bool carve__nn_available(carve_ctx *ctx, const char *task) {
    carve__nn_manifest *man;
    const carve__nn_model *m;
    if (carve__ort_load(ctx, NULL)) return false;
    if (find_model(ctx, task, &man, &m)) return false;
    carve__nn_manifest_free(man);
    return true;
}

void carve__nn_prewarm(carve_ctx *ctx, const char *task) {
    carve_ctx *c = carve_ctx_clone(ctx); /* finding the model may set a message: not on ctx */
    carve__nn_manifest *man = NULL;
    const carve__nn_model *m = NULL;
    if (c && !find_model(c, task, &man, &m)) carve__ort_prewarm(c, m);
    carve__nn_manifest_free(man);
    carve_ctx_destroy(c);
}

void carve__nn_describe(carve_ctx *ctx, const char *task, char *buf, size_t len) {
    if (!buf || !len) return;
    buf[0] = 0;
    const char *ver = NULL;
    carve__nn_manifest *man;
    const carve__nn_model *m;
    if (carve__ort_load(ctx, &ver) || find_model(ctx, task, &man, &m)) {
        snprintf(buf, len, "unavailable: %s", carve_ctx_errmsg(ctx));
        return;
    }
    int t = (int)carve__opt_int(ctx, CARVE_OPTID_nn_threads);
    if (t <= 0) t = carve__threads(ctx);
    snprintf(buf, len, "%s (ONNX Runtime %s, %d thread%s)", m->name, ver ? ver : "?", t, t == 1 ? "" : "s");
    carve__nn_manifest_free(man);
}

carve_status carve__nn_find_model(carve_ctx *ctx, const char *task, carve__nn_manifest **man,
                                  const carve__nn_model **model) {
    carve_status st = carve__ort_load(ctx, NULL);
    if (st) {
        carve__errprefix(ctx, "neural %s", task);
        return st;
    }
    st = find_model(ctx, task, man, model);
    if (st) carve__errprefix(ctx, "neural %s", task);
    return st;
}
