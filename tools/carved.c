/* carved.c — the carve HTTP job server.
 *
 *   carved --listen 127.0.0.1:8080 --data-dir DIR [--config FILE] [options]
 *
 * carved's own settings (listen, data_dir, api_key, ...: src/server/
 * settings.def) configure the server; every libcarve option (carve options)
 * is accepted too and sets the defaults of each job.  A key is looked up in
 * the settings first, then in libcarve's options; one config file holds
 * both (carve_ctx_load_config_ex hands carved the keys libcarve does not
 * know; a key neither knows is an error naming the file, line and key).
 * Precedence: defaults < --config FILE (or CARVED_CONFIG) < environment
 * CARVED_<KEY> (e.g. CARVED_API_KEY) < flags. */
#include "carved.h"
#include "hugepages.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line of --help for o. */
static void usage_option(FILE *f, const carve_option_info *o) {
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

static void usage(FILE *f) {
    fprintf(f, "usage: carved [--config FILE] [--port-file PATH] [--OPTION VALUE ...]\n\n"
               "carve's HTTP job server (API in docs/API.md, operations in docs/OPERATIONS.md).\n\n"
               "general:\n"
               "  %-28s%s\n  %-28s%s\n  %-28s%s\n  %-28s%s\n",
            "--config FILE", "options from a JSON or 'key = value' file (also CARVED_CONFIG)", "--port-file PATH",
            "write the bound port there once listening (useful with port 0)", "-h, --help", "this help",
            "-V, --version", "print the version");
    fprintf(f, "\nserver options (environment CARVED_<KEY> too, e.g. CARVED_API_KEY):\n");
    for (int i = 0; i < carve__srvopt_count(); i++) usage_option(f, carve__srvopt_at(i));
    usage_option(f, carve_option_find("max_pixels"));
    usage_option(f, carve_option_find("threads"));
    fprintf(f, "\nEvery other libcarve option (carve options) sets the defaults of every job.\n"
               "exit codes: 0 stopped cleanly, 1 failed, 2 bad option or configuration\n");
}

/* Sets key: a setting of carved (opt), else a libcarve option (ctx; preset
 * applies the preset).  The message is in ctx. */
static carve_status set_key(carve_ctx *ctx, carve__srvopts *opt, const char *key, const char *value) {
    if (carve__srvopt_find(key)) return carve__srvopts_set(opt, ctx, key, value);
    const carve_option_info *o = carve_option_find(key);
    if (o && !strcmp(o->key, "preset")) return carve_ctx_apply_preset(ctx, value);
    return carve_ctx_set_option(ctx, key, value);
}

/* The config file's keys that libcarve does not know: carved's settings. */
static carve_status config_key(void *user, carve_ctx *ctx, const char *key, const char *value) {
    if (!carve__srvopt_find(key)) return CARVE_ERR_UNKNOWN_OPTION;
    return carve__srvopts_set(user, ctx, key, value);
}

/* CARVED_<KEY> for one option or setting; 0 or 2 (message printed). */
static int apply_env_key(carve_ctx *ctx, carve__srvopts *opt, const char *key) {
    char name[96] = "CARVED_";
    size_t k = 7;
    for (const char *p = key; *p && k < sizeof name - 1; p++) name[k++] = (char)toupper((unsigned char)*p);
    name[k] = 0;
    const char *v = getenv(name);
    if (v && set_key(ctx, opt, key, v)) {
        fprintf(stderr, "carved: environment %s: %s\n", name, carve_ctx_errmsg(ctx));
        return 2;
    }
    return 0;
}

/* CARVED_<KEY> for every setting and option. */
static int apply_env(carve_ctx *ctx, carve__srvopts *opt) {
    for (int i = 0; i < carve__srvopt_count(); i++)
        if (apply_env_key(ctx, opt, carve__srvopt_at(i)->key)) return 2;
    for (int i = 0; i < carve_option_count(); i++)
        if (apply_env_key(ctx, opt, carve_option_at(i)->key)) return 2;
    return 0;
}

/* The description of a flag's key (setting or option), or NULL. */
static const carve_option_info *find_key(const char *name) {
    const carve_option_info *o = carve__srvopt_find(name);
    return o ? o : carve_option_find(name);
}

/* One flag at argv[*i] (--key VALUE, --key=VALUE, --no-key for a boolean);
 * 0 or 2 (message printed). */
static int apply_flag(carve_ctx *ctx, carve__srvopts *opt, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) || !a[2]) {
        fprintf(stderr, "carved: unexpected argument '%s' (see carved --help)\n", a);
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
    const carve_option_info *o = find_key(name);
    if (!o && !strncmp(name, "no-", 3) && (o = find_key(name + 3)) && o->type == CARVE_OPT_BOOL) negated = true;
    else if (!find_key(name)) o = NULL;
    if (!o) {
        fprintf(stderr, "carved: unknown flag '--%s' (see carved --help)\n", name);
        return 2;
    }
    if (o->type == CARVE_OPT_BOOL && !val) val = negated ? "false" : "true";
    else if (!val) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "carved: --%s needs a value\n", name);
            return 2;
        }
        val = argv[++*i];
    }
    if (set_key(ctx, opt, o->key, val)) {
        fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
        return 2;
    }
    return 0;
}

/* Defaults < config file < environment < flags; 0 or 2 (message printed). */
static int configure(carve_ctx *ctx, carve__srvopts *opt, const char *config, int argc, char **argv) {
    if (config && *config && carve_ctx_load_config_ex(ctx, config, config_key, opt)) {
        fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
        return 2;
    }
    if (apply_env(ctx, opt)) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--port-file")) i++;
        else if (apply_flag(ctx, opt, argc, argv, &i)) return 2;
    }
    return 0;
}

/* Runs the server until SIGINT/SIGTERM; the exit code. */
static int serve(carve_ctx *ctx, const carve__srvopts *opt, const char *port_file) {
    /* signals are taken by sigwait in this thread; every other thread
     * inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    carve__srv *srv = NULL;
    if (carve__srv_create(ctx, opt, &srv)) {
        fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
        return 1;
    }
    carve_status st = carve__srv_start(srv, ctx);
    if (st) {
        carve__srv_log(NULL, CARVE_LOG_ERROR, NULL, NULL, "cannot start: %s", carve_ctx_errmsg(ctx));
        fprintf(stderr, "carved: %s\n", carve_ctx_errmsg(ctx));
        carve__srv_destroy(srv);
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
    return 0;
}

int main(int argc, char **argv) {
    carve_tools_hugepages(argv, 0); /* large job buffers on huge pages (hugepages.h) */
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
    carve__srvopts *opt = carve__srvopts_create();
    int rc = 1;
    if (!ctx || !opt) fprintf(stderr, "carved: out of memory\n");
    else if (!(rc = configure(ctx, opt, config, argc, argv))) rc = serve(ctx, opt, port_file);
    carve__srvopts_destroy(opt);
    carve_ctx_destroy(ctx);
    return rc;
}
