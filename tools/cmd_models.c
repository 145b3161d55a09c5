/* cmd_models.c — carve models list | fetch NAME... | verify [NAME...]:
 * the neural models of the manifest in effect (models_dir/manifest.json, else
 * share/models/manifest.json), what is installed, its task, size and
 * licence; installing with pinned sha256 (never at run time); verifying.
 * Uses only the public API: carve_models_json() describes the runtime and
 * the models (and verifies them); fetching runs the installer script it
 * names (see docs/nn.md, "carve models"). */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const cli_flag flags[] = {
    {"json", false, "list: print the models as JSON"},
    {"all", false, "fetch: every model of the manifest, optional ones included"},
    {NULL, false, NULL},
};

/* ---- reading carve_models_json()'s answer ------------------------------- */
static const char *jstr(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool jbool(const json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

/* carve_models_json() parsed; NULL after printing the error (*rc set). */
static json_t *models(carve_ctx *ctx, const char *const *names, int n, int verify, int *rc) {
    char *text = NULL;
    carve_status st = carve_models_json(ctx, names, n, verify, &text);
    if (st) {
        *rc = cli_fail(ctx, st);
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    carve_free(text);
    if (!json_is_object(j) || !json_is_array(json_object_get(j, "models")) ||
        !json_is_object(json_object_get(j, "runtime"))) {
        fprintf(stderr, "carve models: unexpected answer from carve_models_json (%s)\n", j ? "shape" : err.text);
        json_decref(j);
        *rc = EXIT_FAIL;
        return NULL;
    }
    return j;
}

/* Exits the usage error when a name is not in the manifest (before any
 * output, as the names are checked first). */
static int check_names(const json_t *j, const cli_args *a, const char *hint) {
    const json_t *ms = json_object_get(j, "models");
    for (int i = 1; i < a->npos; i++) {
        bool known = false;
        for (size_t k = 0; k < json_array_size(ms) && !known; k++)
            known = !strcmp(jstr(json_array_get(ms, k), "name"), a->pos[i]);
        if (!known) {
            fprintf(stderr, "carve models: no model named '%s' in %s%s\n", a->pos[i], jstr(j, "manifest"), hint);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static void human(long long n, char *buf, size_t len) {
    if (n < 0) snprintf(buf, len, "-");
    else if (n >= 1 << 20) snprintf(buf, len, "%.1f MiB", n / 1048576.0);
    else snprintf(buf, len, "%.1f KiB", n / 1024.0);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static long long msize(const json_t *e) {
    const json_t *s = json_object_get(e, "size");
    return json_is_integer(s) ? (long long)json_integer_value(s) : -1;
}

/* ---- list ---------------------------------------------------------------- */
static int cmd_list(const json_t *j, bool json) {
    const json_t *rtj = json_object_get(j, "runtime");
    bool rt = jbool(rtj, "loaded");
    const json_t *ms = json_object_get(j, "models");
    size_t n = json_array_size(ms);
    if (json) {
        printf("{\"manifest\": ");
        json_str(stdout, jstr(j, "manifest"));
        printf(", \"models_dir\": ");
        json_str(stdout, jstr(j, "models_dir"));
        printf(", \"runtime\": ");
        if (!rt) printf("null, \"runtime_error\": "), json_str(stdout, jstr(rtj, "error"));
        else json_str(stdout, jstr(rtj, "version"));
        printf(", \"models\": [");
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(ms, i);
            printf("%s\n  {\"name\": ", i ? "," : "");
            json_str(stdout, jstr(e, "name"));
            printf(", \"task\": \"%s\", \"file\": ", jstr(e, "task"));
            json_str(stdout, jstr(e, "path"));
            printf(", \"installed\": %s, \"size\": %lld, \"optional\": %s, \"licence\": ",
                   jbool(e, "installed") ? "true" : "false", msize(e), jbool(e, "optional") ? "true" : "false");
            json_str(stdout, jstr(e, "licence"));
            printf(", \"notes\": ");
            json_str(stdout, jstr(e, "notes"));
            printf("}");
        }
        printf("\n]}\n");
        return 0;
    }
    printf("manifest:   %s\nmodels in:  %s\nruntime:    ", jstr(j, "manifest"), jstr(j, "models_dir"));
    if (!rt) printf("not available: %s\n", jstr(rtj, "error"));
    else printf("ONNX Runtime %s\n", jstr(rtj, "version"));
    printf("\n%-16s %-17s %-10s %-9s %s\n", "NAME", "TASK", "SIZE", "STATUS", "LICENCE");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(ms, i);
        char hs[32];
        human(msize(e), hs, sizeof hs);
        printf("%-16s %-17s %-10s %-9s %s\n", jstr(e, "name"), jstr(e, "task"), hs,
               jbool(e, "installed") ? "installed" : jbool(e, "optional") ? "optional" : "missing",
               jstr(e, "licence"));
        if (*jstr(e, "notes")) printf("%-16s %s\n", "", jstr(e, "notes"));
    }
    printf("\nA task uses the first installed model listed for it.  Install with: carve models fetch NAME\n");
    return 0;
}

/* ---- fetch: runs the installer script (a download stays out of libcarve) -- */
static int cmd_fetch(const json_t *j, const cli_args *a) {
    int rc = check_names(j, a, " (see carve models list)");
    if (rc) return rc;
    const char *script = jstr(j, "fetch_script");
    const char *argv[70];
    int n = 0;
    argv[n++] = "python3";
    argv[n++] = script;
    argv[n++] = jstr(j, "manifest");
    argv[n++] = jstr(j, "models_dir");
    if (cli_extra(a, "all")) argv[n++] = "--all";
    else if (a->npos <= 1) argv[n++] = "--default";
    for (int i = 1; i < a->npos && n < 68; i++) argv[n++] = a->pos[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("carve models: fork");
        return EXIT_FAIL;
    }
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "carve models: cannot run python3 %s\n", argv[1]);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    fprintf(stderr, "carve models: fetching failed (%s)\n", script);
    return EXIT_FAIL;
}

/* ---- verify ---------------------------------------------------------------- */
static int cmd_verify(carve_ctx *ctx, const json_t *all, const cli_args *a) {
    int rc = check_names(all, a, "");
    if (rc) return rc;
    int rcv = 0;
    json_t *j = models(ctx, a->npos > 1 ? a->pos + 1 : NULL, a->npos - 1, 1, &rcv);
    if (!j) return rcv;
    const json_t *rtj = json_object_get(j, "runtime");
    bool rt = jbool(rtj, "loaded");
    const char *ver = jstr(rtj, "version");
    const json_t *ms = json_object_get(j, "models");
    int bad = 0;
    for (size_t k = 0; k < json_array_size(ms); k++) {
        const json_t *e = json_array_get(ms, k);
        const char *name = jstr(e, "name"), *status = jstr(e, "status");
        if (!strcmp(status, "not_installed")) {
            printf("%-16s not installed (%s)\n", name, jstr(e, "path"));
            if (a->npos > 1) bad++;
        } else if (!strcmp(status, "unreadable")) {
            printf("%-16s ERROR   %s\n", name, jstr(e, "error"));
            bad++;
        } else if (!strcmp(status, "sha256_mismatch")) {
            printf("%-16s BAD     sha256 %s, manifest pins %s\n", name, jstr(e, "sha256_actual"), jstr(e, "sha256"));
            bad++;
        } else if (!strcmp(status, "load_failed")) {
            printf("%-16s BAD     sha256 ok but it does not load: %s\n", name, jstr(e, "error"));
            bad++;
        } else if (jbool(e, "verified")) {
            printf("%-16s OK      sha256 %s%s%s\n", name, jstr(e, "sha256_actual"),
                   rt ? ", loads in ONNX Runtime " : "", rt ? ver : "");
        } else {
            printf("%-16s ERROR   unexpected verification status '%s'\n", name, status);
            bad++;
        }
    }
    if (!rt) printf("(runtime not available, so models were not loaded: %s)\n", jstr(rtj, "error"));
    json_decref(j);
    if (bad) fprintf(stderr, "carve models: %d model(s) failed verification\n", bad);
    return bad ? EXIT_FAIL : 0;
}

static int run(carve_ctx *ctx, cli_args *a) {
    if (a->npos < 1 || (strcmp(a->pos[0], "list") && strcmp(a->pos[0], "fetch") && strcmp(a->pos[0], "verify"))) {
        fprintf(stderr, "usage: carve models list [--json] | fetch [NAME...|--all] | verify [NAME...]\n");
        return EXIT_USAGE;
    }
    if (!strcmp(a->pos[0], "list") && a->npos > 1) {
        fprintf(stderr, "carve models list: takes no arguments\n");
        return EXIT_USAGE;
    }
    int rc = 0;
    json_t *j = models(ctx, NULL, 0, 0, &rc);
    if (!j) return rc;
    if (!strcmp(a->pos[0], "list")) rc = cmd_list(j, cli_extra(a, "json") != NULL);
    else if (!strcmp(a->pos[0], "fetch")) rc = cmd_fetch(j, a);
    else rc = cmd_verify(ctx, j, a);
    json_decref(j);
    return rc;
}

const cli_cmd cmd_models = {
    "models", "list [--json] | fetch [NAME...|--all] | verify [NAME...]",
    "neural models: what is installed (task, size, licence), install with pinned sha256, verify",
    "core,nn", flags, run};
