/* carved.c — the carve HTTP job server.
 *
 *   carved --listen 127.0.0.1:8080 --data-dir DIR [--config FILE] [options]
 *
 * Every option of the one schema (carve options --list) is accepted: the
 * server group configures carved, the others are the defaults of each job.
 * Precedence: defaults < --config FILE (or CARVED_CONFIG) < environment
 * CARVED_<KEY> (e.g. CARVED_API_KEY) < flags. */
#include "server.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f, "usage: carved [--config FILE] [--port-file PATH] [--OPTION VALUE ...]\n\n"
               "carve's HTTP job server (API in docs/API.md, operations in docs/OPERATIONS.md).\n\n"
               "general:\n"
               "  %-28s%s\n  %-28s%s\n  %-28s%s\n  %-28s%s\n",
            "--config FILE", "options from a JSON or 'key = value' file (also CARVED_CONFIG)", "--port-file PATH",
            "write the bound port there once listening (useful with port 0)", "-h, --help", "this help",
            "-V, --version", "print the version");
    fprintf(f, "\nserver options (environment CARVED_<KEY> too, e.g. CARVED_API_KEY):\n");
    for (int i = 0; i < carve_option_count(); i++) {
        const carve_option_info *o = carve_option_at(i);
        if (strcmp(o->group, "server") && strcmp(o->key, "max_pixels") && strcmp(o->key, "threads")) continue;
        char flag[96];
        size_t k = 0;
        for (; o->key[k] && k < 60; k++) flag[k] = o->key[k] == '_' ? '-' : o->key[k];
        flag[k] = 0;
        char line[128];
        snprintf(line, sizeof line, "--%s %s", flag,
                 o->type == CARVE_OPT_BOOL ? "" : o->type == CARVE_OPT_INT ? "N" : o->type == CARVE_OPT_FLOAT ? "X"
                 : o->type == CARVE_OPT_ENUM ? "CHOICE" : "TEXT");
        fprintf(f, "  %-28s%s", line, o->help);
        if (o->type == CARVE_OPT_ENUM) fprintf(f, " [%s]", o->choices);
        else if (o->type == CARVE_OPT_INT) fprintf(f, " [%.0f..%.0f]", o->min, o->max);
        else if (o->type == CARVE_OPT_FLOAT) fprintf(f, " [%g..%g]", o->min, o->max);
        fprintf(f, " (default '%s')\n", o->def);
    }
    fprintf(f, "\nThe options of the other groups (carve options --list) set the defaults of every job.\n"
               "exit codes: 0 stopped cleanly, 1 failed, 2 bad option or configuration\n");
}

/* CARVED_<KEY> for every option. */
static int apply_env(carve_ctx *ctx) {
    for (int i = 0; i < carve_option_count(); i++) {
        const carve_option_info *o = carve_option_at(i);
        char name[96] = "CARVED_";
        size_t k = 7;
        for (const char *p = o->key; *p && k < sizeof name - 1; p++) name[k++] = (char)toupper((unsigned char)*p);
        name[k] = 0;
        const char *v = getenv(name);
        if (!v) continue;
        carve_status st = !strcmp(o->key, "preset") ? carve_ctx_apply_preset(ctx, v) : carve_ctx_set_option(ctx, o->key, v);
        if (st) {
            fprintf(stderr, "carved: environment %s: %s\n", name, carve_ctx_errmsg(ctx));
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *config = getenv("CARVED_CONFIG"), *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("carved %s\n", carve_version());
            return 0;
        }
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--port-file")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "carved: %s needs a value\n", argv[i]);
                return 2;
            }
            if (!strcmp(argv[i], "--config")) config = argv[i + 1];
            else port_file = argv[i + 1];
            i++;
        }
    }
    carve_ctx *ctx = carve_ctx_create();
    if (!ctx) {
        fprintf(stderr, "carved: out of memory\n");
        return 1;
    }
    int rc = 0;
    if (config && *config && carve_ctx_load_config(ctx, config)) {
        fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
        carve_ctx_destroy(ctx);
        return 2;
    }
    if ((rc = apply_env(ctx))) {
        carve_ctx_destroy(ctx);
        return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") || !strcmp(a, "--port-file")) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) || !a[2]) {
            fprintf(stderr, "carved: unexpected argument '%s' (see carved --help)\n", a);
            carve_ctx_destroy(ctx);
            return 2;
        }
        char name[128];
        const char *val = NULL, *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        if (eq) val = eq + 1;
        bool negated = false;
        const carve_option_info *o = carve_option_find(name);
        if (!o && !strncmp(name, "no-", 3) && (o = carve_option_find(name + 3)) && o->type == CARVE_OPT_BOOL)
            negated = true;
        else if (!carve_option_find(name)) o = NULL;
        if (!o) {
            fprintf(stderr, "carved: unknown flag '--%s' (see carved --help)\n", name);
            carve_ctx_destroy(ctx);
            return 2;
        }
        if (o->type == CARVE_OPT_BOOL && !val) val = negated ? "false" : "true";
        else if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "carved: --%s needs a value\n", name);
                carve_ctx_destroy(ctx);
                return 2;
            }
            val = argv[++i];
        }
        carve_status st = !strcmp(o->key, "preset") ? carve_ctx_apply_preset(ctx, val) : carve_ctx_set_option(ctx, o->key, val);
        if (st) {
            fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
            carve_ctx_destroy(ctx);
            return 2;
        }
    }

    /* signals are taken by sigwait in this thread; every other thread
     * inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    carve__srv *srv = NULL;
    if (carve__srv_create(ctx, &srv)) {
        fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
        carve_ctx_destroy(ctx);
        return 1;
    }
    carve_status st = carve__srv_start(srv, ctx);
    if (st) {
        carve__srv_log(NULL, CARVE_LOG_ERROR, NULL, NULL, "cannot start: %s", carve_ctx_errmsg(ctx));
        fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
        carve__srv_destroy(srv);
        carve_ctx_destroy(ctx);
        return st == CARVE_ERR_CONFIG ? 2 : 1;
    }
    if (port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%d\n", carve__srv_port(srv));
            fclose(f);
            rename(tmp, port_file);
        }
    }
    int sig = 0;
    sigwait(&set, &sig);
    carve__srv_log(NULL, CARVE_LOG_INFO, NULL, NULL, "signal %d: stopping (running jobs are re-queued)", sig);
    carve__srv_destroy(srv);
    carve_ctx_destroy(ctx);
    return 0;
}
