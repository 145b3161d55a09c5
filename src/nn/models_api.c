/* models_api.c — carve_models_json (public, include/carve.h): the runtime and
 * the models of the manifest in effect, optionally verified, as JSON.  This
 * is what `carve models list|fetch|verify` is built on, so that the tools
 * need only the public API.  Works the same in a build without the ONNX
 * Runtime header: the runtime is then reported as not compiled in. */
#include "nn/nn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void put_str(carve__buf *b, const char *s) {
    if (!s) {
        carve__buf_puts(b, "null");
        return;
    }
    carve__buf_putc(b, '"');
    carve__buf_json_str(b, s);
    carve__buf_putc(b, '"');
}

static void put_key(carve__buf *b, const char *key) {
    carve__buf_printf(b, "\"%s\": ", key);
}

static const char *yes(bool v) { return v ? "true" : "false"; }

/* Size of a regular file, or -1 when it is not one. */
static long long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
}

static bool listed(const char *const *names, int n, const char *name) {
    if (n == 0) return true;
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return true;
    return false;
}

/* The verification keys of model e (appended to its object).  rt: the
 * runtime loaded.  Uses ctx's message as scratch. */
static void put_verify(carve_ctx *ctx, carve__buf *b, const carve__nn_model *e, bool installed, bool rt) {
    const char *status = "ok";
    char got[65] = "";
    char err[sizeof ctx->errmsg] = "";
    int loaded = -1; /* -1 not tried, 0 failed, 1 opened */
    if (!installed) {
        status = "not_installed";
        snprintf(err, sizeof err, "%s is not installed (%s)", e->name, e->path);
    } else if (carve__sha256_file(ctx, e->path, got)) {
        status = "unreadable";
        snprintf(err, sizeof err, "%s", carve_ctx_errmsg(ctx));
        got[0] = 0;
    } else if (strcmp(got, e->sha256)) {
        status = "sha256_mismatch";
        snprintf(err, sizeof err, "%s: sha256 %s, the manifest pins %s", e->path, got, e->sha256);
    } else if (rt) {
        loaded = carve__ort_check(ctx, e) == CARVE_OK;
        if (!loaded) {
            status = "load_failed";
            snprintf(err, sizeof err, "%s", carve_ctx_errmsg(ctx));
        }
    }
    bool ok = !strcmp(status, "ok");
    carve__buf_puts(b, ", ");
    put_key(b, "verified");
    carve__buf_puts(b, yes(ok));
    carve__buf_puts(b, ", ");
    put_key(b, "status");
    put_str(b, status);
    carve__buf_puts(b, ", ");
    put_key(b, "sha256_actual");
    put_str(b, *got ? got : NULL);
    carve__buf_puts(b, ", ");
    put_key(b, "loaded");
    carve__buf_puts(b, loaded < 0 ? "null" : yes(loaded == 1));
    carve__buf_puts(b, ", ");
    put_key(b, "error");
    put_str(b, ok ? NULL : err);
}

carve_status carve_models_json(carve_ctx *ctx, const char *const *names, int n, int verify, char **json) {
    if (json) *json = NULL;
    if (!ctx || !json) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_models_json: NULL ctx or json");
    if (n < 0 || (n > 0 && !names))
        return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_models_json: %d names%s", n, names ? "" : " and names NULL");
    for (int i = 0; i < n; i++)
        if (!names[i]) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_models_json: names[%d] is NULL", i);

    carve__nn_manifest *m = NULL;
    carve_status st = carve__nn_manifest_load(ctx, &m);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        bool known = false;
        for (int k = 0; k < m->n && !known; k++) known = !strcmp(m->models[k].name, names[i]);
        if (!known) {
            st = carve__fail(ctx, CARVE_ERR_NOT_FOUND, "no model named '%s' in %s", names[i], m->source);
            carve__nn_manifest_free(m);
            return st;
        }
    }

    /* the runtime: loaded once per process, as the first inference would */
    const char *ver = NULL;
    bool rt = carve__ort_load(ctx, &ver) == CARVE_OK;
    char rterr[sizeof ctx->errmsg];
    snprintf(rterr, sizeof rterr, "%s", rt ? "" : carve_ctx_errmsg(ctx));

    carve__buf b;
    carve__buf_init(&b);
    carve__buf_puts(&b, "{");
    put_key(&b, "manifest");
    put_str(&b, m->source);
    carve__buf_puts(&b, ",\n ");
    put_key(&b, "models_dir");
    put_str(&b, m->models_dir);
    carve__buf_puts(&b, ",\n ");
    put_key(&b, "fetch_script");
    put_str(&b, carve__nn_fetch_script());
    carve__buf_puts(&b, ",\n ");
    put_key(&b, "runtime");
    carve__buf_printf(&b, "{\"compiled\": %s, \"loaded\": %s, \"version\": ", yes(carve__ort_compiled()), yes(rt));
    put_str(&b, rt ? ver : NULL);
    carve__buf_puts(&b, ", \"library\": ");
    put_str(&b, rt ? carve__ort_library() : NULL);
    carve__buf_puts(&b, ", \"error\": ");
    put_str(&b, rt ? NULL : rterr);
    carve__buf_puts(&b, "},\n ");
    put_key(&b, "models");
    carve__buf_putc(&b, '[');

    int count = 0, total = 0;
    for (int k = 0; k < m->n; k++) total += listed(names, n, m->models[k].name);
    for (int k = 0; k < m->n && !st; k++) {
        const carve__nn_model *e = &m->models[k];
        if (!listed(names, n, e->name)) continue;
        if (verify && (st = carve__progress(ctx, total ? (double)count / total : 0, "verify"))) break;
        long long size = file_size(e->path);
        carve__buf_puts(&b, count ? ",\n  {" : "\n  {");
        count++;
        put_key(&b, "name");
        put_str(&b, e->name);
        carve__buf_puts(&b, ", ");
        put_key(&b, "task");
        put_str(&b, carve__nn_task_name(e->task));
        carve__buf_puts(&b, ", ");
        put_key(&b, "file");
        put_str(&b, e->file);
        carve__buf_puts(&b, ", ");
        put_key(&b, "path");
        put_str(&b, e->path);
        carve__buf_printf(&b, ", \"installed\": %s, \"size\": ", yes(size >= 0));
        if (size >= 0) carve__buf_printf(&b, "%lld", size);
        else carve__buf_puts(&b, "null");
        carve__buf_puts(&b, ", ");
        put_key(&b, "sha256");
        put_str(&b, e->sha256);
        carve__buf_printf(&b, ", \"optional\": %s, ", yes(e->optional));
        put_key(&b, "licence");
        put_str(&b, e->licence);
        carve__buf_puts(&b, ", ");
        put_key(&b, "notes");
        put_str(&b, e->notes);
        if (verify) put_verify(ctx, &b, e, size >= 0, rt);
        carve__buf_putc(&b, '}');
    }
    carve__nn_manifest_free(m);
    if (!st && verify) st = carve__progress(ctx, 1.0, "verify");
    if (st) {
        carve__buf_free(&b);
        return st;
    }
    carve__buf_puts(&b, count ? "\n ]}\n" : "]}\n");
    *json = carve__buf_take(&b, NULL);
    if (!*json) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory writing the models JSON");
    carve__clear_error(ctx); /* the runtime's or a model's problem is in the JSON */
    return CARVE_OK;
}
