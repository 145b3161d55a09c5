/* test_nn_api.c — carve_models_json, through the public API only (carve.h;
 * jansson to read the answer): the default manifest's models, an empty
 * models folder, name selection, verification (sha256 mismatch, a file that
 * is not a model), broken and missing manifests, bad arguments,
 * cancellation, and the runtime's state whether or not it loads (or was
 * compiled in). */
#include "../test.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CARVE_SOURCE_ROOT
#define CARVE_SOURCE_ROOT "."
#endif

/* sha256 of the 11 bytes "not a model" */
#define NOT_A_MODEL_SHA "708811ccb1510c6d6c6e6379ef09be39bdbb0e7edcf44fefcca21c6228ee6d89"

static char g_tmp[64];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* carve_models_json on models_dir (NULL: leave the option alone), parsed;
 * NULL on failure (*st says why). */
static json_t *models(carve_ctx *c, const char *dir, const char *const *names, int n, int verify, carve_status *st) {
    if (dir) carve_ctx_set_option(c, "models_dir", dir);
    char *text = (char *)"sentinel";
    *st = carve_models_json(c, names, n, verify, &text);
    if (*st) {
        CHECK(text == NULL);
        return NULL;
    }
    CHECK(text != NULL);
    json_error_t err;
    json_t *j = text ? json_loads(text, 0, &err) : NULL;
    CHECKF(j != NULL, "not JSON: %s", text ? err.text : "(null)");
    carve_free(text);
    return j;
}

static const char *s(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static json_t *model(const json_t *j, const char *name) {
    const json_t *ms = json_object_get(j, "models");
    for (size_t i = 0; i < json_array_size(ms); i++)
        if (s(json_array_get(ms, i), "name") && !strcmp(s(json_array_get(ms, i), "name"), name))
            return json_array_get(ms, i);
    return NULL;
}

/* First, while no runtime is loaded in this process: an explicit runtime
 * library that does not exist is reported in the JSON, not as an error. */
static void test_runtime_missing(void) {
    carve_ctx *c = carve_ctx_create();
    CHECK_ST(carve_ctx_set_option(c, "ort_library", "/nonexistent/libonnxruntime.so.1"), CARVE_OK);
    carve_status st;
    json_t *j = models(c, g_tmp, NULL, 0, 0, &st);
    CHECK_ST(st, CARVE_OK);
    CHECK(!strcmp(carve_ctx_errmsg(c), ""));
    const json_t *rt = json_object_get(j, "runtime");
    CHECK(json_is_object(rt));
    CHECK(json_is_boolean(json_object_get(rt, "compiled")));
    CHECK(json_is_false(json_object_get(rt, "loaded")));
    CHECK(json_is_null(json_object_get(rt, "version")) && json_is_null(json_object_get(rt, "library")));
    const char *e = s(rt, "error");
    CHECK(e != NULL);
    if (json_is_true(json_object_get(rt, "compiled"))) CHECK(e && strstr(e, "/nonexistent/libonnxruntime.so.1"));
    else CHECK(e && strstr(e, "built without the ONNX Runtime header"));
    json_decref(j);
    carve_ctx_destroy(c);
}

static void test_default_manifest(void) {
    /* the committed default manifest, read independently */
    json_error_t err;
    json_t *def = json_load_file(CARVE_SOURCE_ROOT "/share/models/manifest.json", 0, &err);
    CHECKF(def != NULL, "%s", err.text);
    const json_t *dm = json_object_get(def, "models");
    CHECK(json_array_size(dm) >= 1);

    carve_ctx *c = carve_ctx_create();
    carve_status st;
    json_t *j = models(c, g_tmp, NULL, 0, 0, &st);
    CHECK_ST(st, CARVE_OK);
    CHECK(s(j, "manifest") && strstr(s(j, "manifest"), "share/models/manifest.json"));
    CHECK(s(j, "models_dir") && !strcmp(s(j, "models_dir"), g_tmp));
    CHECK(s(j, "fetch_script") && strstr(s(j, "fetch_script"), "fetch_models.py"));
    const json_t *rt = json_object_get(j, "runtime");
    bool loaded = json_is_true(json_object_get(rt, "loaded"));
    if (loaded) CHECK(s(rt, "version") && s(rt, "library") && json_is_null(json_object_get(rt, "error")));
    else CHECK(s(rt, "error") && *s(rt, "error"));
    fprintf(stderr, "     runtime: %s\n", loaded ? s(rt, "version") : s(rt, "error"));

    const json_t *ms = json_object_get(j, "models");
    CHECK(json_array_size(ms) == json_array_size(dm));
    for (size_t i = 0; i < json_array_size(ms) && i < json_array_size(dm); i++) {
        const json_t *e = json_array_get(ms, i), *d = json_array_get(dm, i);
        CHECKF(!strcmp(s(e, "name"), s(d, "name")), "%s vs %s", s(e, "name"), s(d, "name"));
        CHECK(!strcmp(s(e, "task"), s(d, "task")));
        CHECK(!strcmp(s(e, "file"), s(d, "file")));
        CHECK(!strcmp(s(e, "sha256"), s(d, "sha256")));
        CHECK(!strcmp(s(e, "licence"), s(d, "licence")));
        CHECK(json_is_true(json_object_get(e, "optional")) == json_is_true(json_object_get(d, "optional")));
        char want[512];
        snprintf(want, sizeof want, "%s/%s", g_tmp, s(d, "file"));
        CHECK(!strcmp(s(e, "path"), want));
        CHECK(json_is_false(json_object_get(e, "installed")));
        CHECK(json_is_null(json_object_get(e, "size")));
        CHECK(json_object_get(e, "verified") == NULL && json_object_get(e, "status") == NULL);
    }
    CHECK(model(j, "ppocr-v4-det") != NULL);
    json_decref(j);

    /* verify with nothing installed: each model says so, none is verified */
    j = models(c, NULL, NULL, 0, 1, &st);
    CHECK_ST(st, CARVE_OK);
    ms = json_object_get(j, "models");
    CHECK(json_array_size(ms) == json_array_size(dm));
    for (size_t i = 0; i < json_array_size(ms); i++) {
        const json_t *e = json_array_get(ms, i);
        CHECK(json_is_false(json_object_get(e, "verified")));
        CHECK(s(e, "status") && !strcmp(s(e, "status"), "not_installed"));
        CHECK(json_is_null(json_object_get(e, "sha256_actual")) && json_is_null(json_object_get(e, "loaded")));
        CHECK(s(e, "error") && strstr(s(e, "error"), g_tmp));
    }
    json_decref(j);

    /* names: a selection in manifest order; an unknown name is NOT_FOUND */
    const char *last = s(json_array_get(dm, json_array_size(dm) - 1), "name");
    const char *sel[] = {last, "ppocr-v4-det", last};
    j = models(c, NULL, sel, 3, 0, &st);
    CHECK_ST(st, CARVE_OK);
    ms = json_object_get(j, "models");
    CHECK(json_array_size(ms) == (strcmp(last, "ppocr-v4-det") ? 2u : 1u));
    CHECK(!strcmp(s(json_array_get(ms, 0), "name"), "ppocr-v4-det"));
    json_decref(j);
    const char *unknown[] = {"ppocr-v4-det", "nosuch"};
    CHECK(models(c, NULL, unknown, 2, 1, &st) == NULL);
    CHECK_ST(st, CARVE_ERR_NOT_FOUND);
    CHECK(strstr(carve_ctx_errmsg(c), "'nosuch'") && strstr(carve_ctx_errmsg(c), "manifest.json"));
    /* a later successful call clears the message */
    j = models(c, NULL, NULL, 0, 0, &st);
    CHECK_ST(st, CARVE_OK);
    CHECK(!strcmp(carve_ctx_errmsg(c), ""));
    json_decref(j);

    json_decref(def);
    carve_ctx_destroy(c);
}

static const char *const mine_json =
    "{\"version\": 1, \"models\": [\n"
    " {\"name\": \"bad-sha\", \"task\": \"depth\", \"file\": \"m.onnx\",\n"
    "  \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n"
    "  \"inputs\": [\"x\"], \"outputs\": [\"y\"], \"size_policy\": {\"mode\": \"any\"}, \"licence\": \"MIT\",\n"
    "  \"notes\": \"a \\\"quoted\\\" note\"},\n"
    " {\"name\": \"not-onnx\", \"task\": \"matte\", \"file\": \"m.onnx\", \"sha256\": \"" NOT_A_MODEL_SHA "\",\n"
    "  \"inputs\": [\"x\"], \"outputs\": [\"y\"], \"size_policy\": {\"mode\": \"any\"}, \"licence\": \"MIT\"},\n"
    " {\"name\": \"absent\", \"task\": \"inpaint\", \"file\": \"absent.onnx\", \"sha256\": \"" NOT_A_MODEL_SHA "\",\n"
    "  \"inputs\": [\"x\", \"m\"], \"outputs\": [\"y\"], \"size_policy\": {\"mode\": \"any\"}, \"licence\": \"MIT\",\n"
    "  \"optional\": true}]}\n";

static void test_user_manifest(void) {
    char dir[128], path[192];
    snprintf(dir, sizeof dir, "%s/mine", g_tmp);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    write_text(path, "not a model");
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    write_text(path, mine_json);

    carve_ctx *c = carve_ctx_create();
    carve_status st;
    json_t *j = models(c, dir, NULL, 0, 1, &st);
    CHECK_ST(st, CARVE_OK);
    CHECK(s(j, "manifest") && !strcmp(s(j, "manifest"), path));
    bool loaded = json_is_true(json_object_get(json_object_get(j, "runtime"), "loaded"));
    CHECK(json_array_size(json_object_get(j, "models")) == 3);

    const json_t *e = model(j, "bad-sha");
    CHECK(e && json_is_true(json_object_get(e, "installed")));
    CHECK(e && json_integer_value(json_object_get(e, "size")) == 11);
    CHECK(e && !strcmp(s(e, "notes"), "a \"quoted\" note"));
    CHECK(e && json_is_false(json_object_get(e, "verified")));
    CHECK(e && !strcmp(s(e, "status"), "sha256_mismatch"));
    CHECK(e && !strcmp(s(e, "sha256_actual"), NOT_A_MODEL_SHA));
    CHECK(e && json_is_null(json_object_get(e, "loaded")));
    CHECK(e && s(e, "error") && strstr(s(e, "error"), NOT_A_MODEL_SHA) && strstr(s(e, "error"), "0000000000"));

    e = model(j, "not-onnx");
    CHECK(e && !strcmp(s(e, "sha256_actual"), NOT_A_MODEL_SHA));
    if (loaded) { /* the sha256 matches but the runtime cannot open it */
        CHECK(e && !strcmp(s(e, "status"), "load_failed"));
        CHECK(e && json_is_false(json_object_get(e, "verified")) && json_is_false(json_object_get(e, "loaded")));
        CHECK(e && s(e, "error") && strstr(s(e, "error"), "m.onnx"));
    } else { /* sha256 only: verified, not loaded */
        CHECK(e && !strcmp(s(e, "status"), "ok"));
        CHECK(e && json_is_true(json_object_get(e, "verified")) && json_is_null(json_object_get(e, "loaded")));
        CHECK(e && json_is_null(json_object_get(e, "error")));
    }

    e = model(j, "absent");
    CHECK(e && json_is_false(json_object_get(e, "installed")) && json_is_true(json_object_get(e, "optional")));
    CHECK(e && !strcmp(s(e, "status"), "not_installed"));
    json_decref(j);

    /* cancelled before the first model is verified */
    carve_ctx_cancel(c);
    CHECK(models(c, NULL, NULL, 0, 1, &st) == NULL);
    CHECK_ST(st, CARVE_ERR_CANCELLED);
    carve_ctx_reset_cancel(c);

    /* a broken manifest: the message names the file, the model and the field */
    write_text(path, "{\"version\": 1, \"models\": [{\"name\": \"mine\", \"task\": \"colourise\", \"file\": \"m.onnx\","
                     " \"sha256\": \"" NOT_A_MODEL_SHA "\", \"inputs\": [\"x\"], \"outputs\": [\"y\"],"
                     " \"size_policy\": {\"mode\": \"any\"}, \"licence\": \"MIT\"}]}");
    CHECK(models(c, NULL, NULL, 0, 0, &st) == NULL);
    CHECK_ST(st, CARVE_ERR_CONFIG);
    const char *msg = carve_ctx_errmsg(c);
    CHECKF(strstr(msg, "manifest.json") && strstr(msg, "model 1 (mine)") && strstr(msg, "field \"task\""), "%s", msg);
    write_text(path, "{\"version\": 1, \"models\": [");
    CHECK(models(c, NULL, NULL, 0, 0, &st) == NULL);
    CHECK_ST(st, CARVE_ERR_CONFIG);
    CHECK(strstr(carve_ctx_errmsg(c), "manifest.json") != NULL);
    unlink(path);
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    unlink(path);
    rmdir(dir);
    carve_ctx_destroy(c);
}

static void test_no_manifest(void) {
    carve_ctx *c = carve_ctx_create();
    setenv("CARVE_MANIFEST", "/nonexistent/manifest.json", 1);
    carve_status st;
    CHECK(models(c, g_tmp, NULL, 0, 0, &st) == NULL);
    CHECK_ST(st, CARVE_ERR_NOT_FOUND);
    CHECK(strstr(carve_ctx_errmsg(c), "/nonexistent/manifest.json") != NULL);
    unsetenv("CARVE_MANIFEST");
    carve_ctx_destroy(c);
}

static void test_bad_args(void) {
    carve_ctx *c = carve_ctx_create();
    char *text = (char *)"sentinel";
    CHECK_ST(carve_models_json(c, NULL, 0, 0, NULL), CARVE_ERR_INVALID_ARG);
    CHECK_ST(carve_models_json(NULL, NULL, 0, 0, &text), CARVE_ERR_INVALID_ARG);
    CHECK(text == NULL);
    text = (char *)"sentinel";
    CHECK_ST(carve_models_json(c, NULL, 1, 0, &text), CARVE_ERR_INVALID_ARG);
    CHECK(text == NULL);
    CHECK_ST(carve_models_json(c, NULL, -1, 0, &text), CARVE_ERR_INVALID_ARG);
    const char *holes[] = {"ppocr-v4-det", NULL};
    CHECK_ST(carve_models_json(c, holes, 2, 0, &text), CARVE_ERR_INVALID_ARG);
    CHECK(strstr(carve_ctx_errmsg(c), "names[1]") != NULL);
    carve_ctx_destroy(c);
}

int main(void) {
    unsetenv("CARVE_MODELS_DIR");
    unsetenv("CARVE_MANIFEST");
    unsetenv("CARVE_ORT_LIBRARY");
    snprintf(g_tmp, sizeof g_tmp, "/tmp/carve-nn-api-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_runtime_missing);
    RUN(test_default_manifest);
    RUN(test_user_manifest);
    RUN(test_no_manifest);
    RUN(test_bad_args);
    rmdir(g_tmp);
    return test_done();
}
