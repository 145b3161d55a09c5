/* cmd_models.c — carve models list | fetch NAME... | verify [NAME...]:
 * the neural models of the manifest in effect (models_dir/manifest.json, else
 * share/models/manifest.json), what is installed, its task, size and
 * licence; installing with pinned sha256 (never at run time); verifying.
 * Uses the nn internals (manifest, runtime) directly. */
#include "cli.h"
#include "core.h"
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const cli_flag flags[] = {
    {"json", false, "list: print the models as JSON"},
    {"all", false, "fetch: every model of the manifest, optional ones included"},
    {NULL, false, NULL},
};

static long long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
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

static int cmd_list(carve_ctx *ctx, const carve__nn_manifest *m, bool json) {
    const char *ver = NULL;
    carve_status rt = carve__ort_load(ctx, &ver);
    char rtmsg[1024];
    snprintf(rtmsg, sizeof rtmsg, "%s", rt ? carve_ctx_errmsg(ctx) : "");
    if (json) {
        printf("{\"manifest\": ");
        json_str(stdout, m->source);
        printf(", \"models_dir\": ");
        json_str(stdout, m->models_dir);
        printf(", \"runtime\": ");
        if (rt) printf("null, \"runtime_error\": "), json_str(stdout, rtmsg);
        else json_str(stdout, ver);
        printf(", \"models\": [");
        for (int i = 0; i < m->n; i++) {
            const carve__nn_model *e = &m->models[i];
            long long sz = file_size(e->path);
            printf("%s\n  {\"name\": ", i ? "," : "");
            json_str(stdout, e->name);
            printf(", \"task\": \"%s\", \"file\": ", carve__nn_task_name(e->task));
            json_str(stdout, e->path);
            printf(", \"installed\": %s, \"size\": %lld, \"optional\": %s, \"licence\": ", sz >= 0 ? "true" : "false",
                   sz, e->optional ? "true" : "false");
            json_str(stdout, e->licence);
            printf(", \"notes\": ");
            json_str(stdout, e->notes);
            printf("}");
        }
        printf("\n]}\n");
        return 0;
    }
    printf("manifest:   %s\nmodels in:  %s\nruntime:    ", m->source, m->models_dir);
    if (rt) printf("not available: %s\n", rtmsg);
    else printf("ONNX Runtime %s\n", ver);
    printf("\n%-16s %-17s %-10s %-9s %s\n", "NAME", "TASK", "SIZE", "STATUS", "LICENCE");
    for (int i = 0; i < m->n; i++) {
        const carve__nn_model *e = &m->models[i];
        long long sz = file_size(e->path);
        char hs[32];
        human(sz, hs, sizeof hs);
        printf("%-16s %-17s %-10s %-9s %s\n", e->name, carve__nn_task_name(e->task), hs,
               sz >= 0 ? "installed" : e->optional ? "optional" : "missing", e->licence);
        if (*e->notes) printf("%-16s %s\n", "", e->notes);
    }
    printf("\nA task uses the first installed model listed for it.  Install with: carve models fetch NAME\n");
    return 0;
}

static int cmd_fetch(carve_ctx *ctx, const carve__nn_manifest *m, const cli_args *a) {
    (void)ctx;
    const char *argv[70];
    int n = 0;
    argv[n++] = "python3";
    argv[n++] = carve__nn_fetch_script();
    argv[n++] = m->source;
    argv[n++] = m->models_dir;
    if (cli_extra(a, "all")) argv[n++] = "--all";
    else if (a->npos <= 1) argv[n++] = "--default";
    for (int i = 1; i < a->npos && n < 68; i++) {
        bool known = false;
        for (int k = 0; k < m->n; k++) known |= !strcmp(m->models[k].name, a->pos[i]);
        if (!known) {
            fprintf(stderr, "carve models: no model named '%s' in %s (see carve models list)\n", a->pos[i], m->source);
            return EXIT_USAGE;
        }
        argv[n++] = a->pos[i];
    }
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
    fprintf(stderr, "carve models: fetching failed (%s)\n", carve__nn_fetch_script());
    return EXIT_FAIL;
}

static int cmd_verify(carve_ctx *ctx, const carve__nn_manifest *m, const cli_args *a) {
    int bad = 0, checked = 0;
    const char *ver = NULL;
    bool rt = carve__ort_load(ctx, &ver) == CARVE_OK;
    for (int i = 1; i < a->npos; i++) {
        bool known = false;
        for (int k = 0; k < m->n; k++) known |= !strcmp(m->models[k].name, a->pos[i]);
        if (!known) {
            fprintf(stderr, "carve models: no model named '%s' in %s\n", a->pos[i], m->source);
            return EXIT_USAGE;
        }
    }
    for (int k = 0; k < m->n; k++) {
        const carve__nn_model *e = &m->models[k];
        bool named = a->npos <= 1;
        for (int i = 1; i < a->npos; i++) named |= !strcmp(a->pos[i], e->name);
        if (!named) continue;
        if (file_size(e->path) < 0) {
            printf("%-16s not installed (%s)\n", e->name, e->path);
            if (a->npos > 1) bad++;
            continue;
        }
        checked++;
        char got[65];
        if (carve__sha256_file(ctx, e->path, got)) {
            printf("%-16s ERROR   %s\n", e->name, carve_ctx_errmsg(ctx));
            bad++;
            continue;
        }
        if (strcmp(got, e->sha256)) {
            printf("%-16s BAD     sha256 %s, manifest pins %s\n", e->name, got, e->sha256);
            bad++;
            continue;
        }
        if (rt && carve__ort_check(ctx, e)) {
            printf("%-16s BAD     sha256 ok but it does not load: %s\n", e->name, carve_ctx_errmsg(ctx));
            bad++;
            continue;
        }
        printf("%-16s OK      sha256 %s%s%s\n", e->name, got, rt ? ", loads in ONNX Runtime " : "", rt ? ver : "");
    }
    if (!rt) printf("(runtime not available, so models were not loaded: %s)\n", carve_ctx_errmsg(ctx));
    carve__nn_shutdown();
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
    carve__nn_manifest *m = NULL;
    carve_status st = carve__nn_manifest_load(ctx, &m);
    if (st) return cli_fail(ctx, st);
    int rc;
    if (!strcmp(a->pos[0], "list")) rc = cmd_list(ctx, m, cli_extra(a, "json") != NULL);
    else if (!strcmp(a->pos[0], "fetch")) rc = cmd_fetch(ctx, m, a);
    else rc = cmd_verify(ctx, m, a);
    carve__nn_manifest_free(m);
    return rc;
}

const cli_cmd cmd_models = {
    "models", "list [--json] | fetch [NAME...|--all] | verify [NAME...]",
    "neural models: what is installed (task, size, licence), install with pinned sha256, verify",
    "core,nn", flags, run};
