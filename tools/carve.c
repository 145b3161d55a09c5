/* carve.c — the command-line tool: dispatch, schema-driven flags, help,
 * progress and exit codes.  Each subcommand lives in cmd_<name>.c. */
#include "cli.h"
#include "hugepages.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

carve_ctx *volatile cli_current_ctx;

static const cli_cmd *const commands[] = {&cmd_run, &cmd_trace, &cmd_quantize, &cmd_palette, &cmd_models, &cmd_options, &cmd_tune, &cmd_presets};
#define NCMD ((int)(sizeof commands / sizeof commands[0]))

int cli_exit_code(carve_status st) {
    switch (st) {
    case CARVE_OK: return 0;
    case CARVE_ERR_INVALID_ARG:
    case CARVE_ERR_OUT_OF_RANGE:
    case CARVE_ERR_UNKNOWN_OPTION:
    case CARVE_ERR_CONFIG:
    case CARVE_ERR_PALETTE:
    case CARVE_ERR_NOT_FOUND: return EXIT_USAGE;
    case CARVE_ERR_DECODE:
    case CARVE_ERR_UNSUPPORTED:
    case CARVE_ERR_TOO_LARGE:
    case CARVE_ERR_TOO_MANY_COLORS:
    case CARVE_ERR_EMPTY: return EXIT_INPUT;
    case CARVE_ERR_IO: return EXIT_OUTPUT;
    case CARVE_ERR_CANCELLED: return EXIT_CANCEL;
    default: return EXIT_FAIL;
    }
}

int cli_fail(carve_ctx *ctx, carve_status st) {
    const char *m = ctx ? carve_ctx_errmsg(ctx) : "";
    fprintf(stderr, "carve: %s\n", (m && *m) ? m : carve_strerror(st));
    return cli_exit_code(st);
}

static const char *const out_formats[] = {"svg", "pdf", "eps", "dxf"};
static const char *const out_suffixes[] = {".svg", ".pdf", ".eps", ".dxf"};

int cli_format_from_output(carve_ctx *ctx, const char *cmd, const char *path) {
    if (!path || !strcmp(path, "-")) return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    for (size_t i = 0; dot && i < sizeof out_formats / sizeof out_formats[0]; i++)
        if (!strcasecmp(dot + 1, out_formats[i])) {
            carve_status st = carve_ctx_set_option(ctx, "format", out_formats[i]);
            return st ? cli_fail(ctx, st) : 0;
        }
    fprintf(stderr, "carve %s: cannot tell the output format from '%s': the file name must end in .svg, .pdf, .eps "
                    "or .dxf (or write to '-' with --format svg|pdf|eps|dxf)\n", cmd, path);
    return EXIT_USAGE;
}

const char *cli_format_suffix(const carve_ctx *ctx) {
    char f[16] = "svg";
    carve_ctx_get_option(ctx, "format", f, sizeof f);
    for (size_t i = 0; i < sizeof out_formats / sizeof out_formats[0]; i++)
        if (!strcmp(f, out_formats[i])) return out_suffixes[i];
    return ".svg";
}

const char *cli_extra(const cli_args *a, const char *name) {
    for (int i = a->nextra - 1; i >= 0; i--)
        if (!strcmp(a->extra_name[i], name)) return a->extra_val[i];
    return NULL;
}

carve_status cli_write_line(carve_ctx *ctx, const char *path, const char *text) {
    size_t len = strlen(text);
    char *buf = malloc(len + 2);
    if (!buf) return CARVE_ERR_NOMEM;
    memcpy(buf, text, len);
    buf[len] = '\n';
    buf[len + 1] = 0;
    carve_status st = carve_write_file(ctx, path, buf, len + 1);
    free(buf);
    return st;
}

int cli_progress_cb(void *user, double f, const char *stage) {
    cli_progress *p = user;
    if (p->quiet) return 0;
    int pct = (int)(f * 100 + 0.5);
    if (pct == p->last_pct) return 0;
    if (p->tty) {
        int w = 30, fill = pct * w / 100;
        fprintf(stderr, "\r%-12.12s [", p->label ? p->label : "");
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %3d%% %-10.10s", pct, stage);
        fflush(stderr);
    } else if (pct / 25 != p->last_pct / 25 || p->last_pct < 0) {
        fprintf(stderr, "%s: %d%% %s\n", p->label ? p->label : "progress", pct, stage);
    }
    p->last_pct = pct;
    return 0;
}

void cli_progress_done(cli_progress *p) {
    if (p->tty && !p->quiet && p->last_pct >= 0) fputc('\n', stderr);
    p->last_pct = -1;
}

static bool in_groups(const char *groups, const char *g) {
    size_t n = strlen(g);
    for (const char *p = groups; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && !strncmp(p, g, n)) return true;
        p = c ? c + 1 : NULL;
    }
    return false;
}

static void print_flag_name(FILE *f, const char *key, const char *arg) {
    char buf[96];
    size_t i = 0;
    for (; key[i] && i < sizeof buf - 1; i++) buf[i] = key[i] == '_' ? '-' : key[i];
    buf[i] = 0;
    char line[160];
    snprintf(line, sizeof line, "--%s%s%s", buf, arg ? " " : "", arg ? arg : "");
    fprintf(f, "  %-30s", line);
}

static void cmd_help(const cli_cmd *c, FILE *f) {
    fprintf(f, "usage: carve %s %s\n\n%s\n\n", c->name, c->usage, c->summary);
    fprintf(f, "general:\n");
    fprintf(f, "  %-30s%s\n", "-o, --output PATH", "output file or folder ('-' = standard output)");
    fprintf(f, "  %-30s%s\n", "--config FILE", "options from a JSON or 'key = value' file (flags win)");
    fprintf(f, "  %-30s%s\n", "-q, --quiet", "no progress output");
    fprintf(f, "  %-30s%s\n", "-h, --help", "this help");
    if (c->flags && c->flags[0].name) {
        fprintf(f, "\n%s:\n", c->name);
        for (const cli_flag *fl = c->flags; fl->name; fl++) {
            print_flag_name(f, fl->name, fl->takes_value ? "VALUE" : NULL);
            fprintf(f, "%s\n", fl->help);
        }
    }
    const char *last_group = "";
    for (int i = 0; i < carve_option_count(); i++) {
        const carve_option_info *o = carve_option_at(i);
        if (!in_groups(c->groups, o->group)) continue;
        if (strcmp(last_group, o->group)) {
            fprintf(f, "\n%s options:\n", o->group);
            last_group = o->group;
        }
        const char *arg = o->type == CARVE_OPT_BOOL ? NULL : o->type == CARVE_OPT_INT ? "N"
                        : o->type == CARVE_OPT_FLOAT ? "X" : o->type == CARVE_OPT_ENUM ? "CHOICE" : "TEXT";
        print_flag_name(f, o->key, arg);
        fprintf(f, "%s", o->help);
        if (o->type == CARVE_OPT_ENUM) fprintf(f, " [%s]", o->choices);
        else if (o->type == CARVE_OPT_INT) fprintf(f, " [%.0f..%.0f]", o->min, o->max);
        else if (o->type == CARVE_OPT_FLOAT) fprintf(f, " [%g..%g]", o->min, o->max);
        if (o->def && *o->def) fprintf(f, " (default %s)", o->def);
        fputc('\n', f);
    }
    fprintf(f, "\nexit codes: 0 ok, 1 failed, 2 usage/option error, 3 bad or unreadable input,\n"
               "            4 cannot write output, 130 interrupted\n");
}

static void main_help(FILE *f) {
    fprintf(f, "carve %s — vehicle photos to clean, palette-exact SVG illustrations\n\n"
               "usage: carve COMMAND [options]\n\ncommands:\n", carve_version());
    for (int i = 0; i < NCMD; i++) fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\n'carve COMMAND --help' lists a command's options.  carve --version prints the version.\n"
               "exit codes: 0 ok, 1 failed, 2 usage/option error, 3 bad or unreadable input,\n"
               "            4 cannot write output, 130 interrupted\n");
}

static const cli_flag *find_flag(const cli_cmd *c, const char *name) {
    for (const cli_flag *fl = c->flags; fl && fl->name; fl++) {
        const char *a = fl->name, *b = name;
        while (*a && *b && (*a == *b || (*a == '_' && *b == '-') || (*a == '-' && *b == '_'))) a++, b++;
        if (!*a && !*b) return fl;
    }
    return NULL;
}

/* Parses argv into ctx options (schema, restricted to the command's groups)
 * and args.  Options from --config are applied first, flags after. */
static int parse(const cli_cmd *c, carve_ctx *ctx, int argc, char **argv, cli_args *a) {
    const char *config = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[i + 1];
    if (config) {
        carve_status st = carve_ctx_load_config(ctx, config);
        if (st) return cli_fail(ctx, st);
    }
    /* a preset is a base: apply it before the other flags, wherever it stands */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        const char *pv = !strncmp(argv[i], "--preset=", 9) ? argv[i] + 9
                       : (!strcmp(argv[i], "--preset") && i + 1 < argc) ? argv[i + 1] : NULL;
        if (pv && in_groups(c->groups, "run")) {
            carve_status st = carve_ctx_apply_preset(ctx, pv);
            if (st) return cli_fail(ctx, st);
        }
    }
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_pos || arg[0] != '-' || !strcmp(arg, "-")) {
            if (a->npos >= 64) { fprintf(stderr, "carve %s: too many arguments\n", c->name); return EXIT_USAGE; }
            a->pos[a->npos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) { only_pos = true; continue; }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { a->help = true; continue; }
        if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) { a->quiet = true; continue; }
        if (!strcmp(arg, "--config")) { i++; continue; }
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
            if (i + 1 >= argc) { fprintf(stderr, "carve %s: %s needs a value\n", c->name, arg); return EXIT_USAGE; }
            a->output = argv[++i];
            continue;
        }
        if (arg[1] != '-') { fprintf(stderr, "carve %s: unknown flag '%s' (see --help)\n", c->name, arg); return EXIT_USAGE; }
        char name[128];
        const char *val = NULL;
        const char *eq = strchr(arg + 2, '=');
        size_t nl = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, arg + 2, nl);
        name[nl] = 0;
        if (eq) val = eq + 1;
        const cli_flag *fl = find_flag(c, name);
        if (fl) {
            if (fl->takes_value && !val) {
                if (i + 1 >= argc) { fprintf(stderr, "carve %s: --%s needs a value\n", c->name, name); return EXIT_USAGE; }
                val = argv[++i];
            }
            if (a->nextra >= 16) { fprintf(stderr, "carve %s: too many flags\n", c->name); return EXIT_USAGE; }
            a->extra_name[a->nextra] = fl->name;
            a->extra_val[a->nextra++] = fl->takes_value ? val : "1";
            continue;
        }
        bool negated = false;
        const carve_option_info *o = carve_option_find(name);
        if (!o && !strncmp(name, "no-", 3)) {
            o = carve_option_find(name + 3);
            negated = o && o->type == CARVE_OPT_BOOL;
            if (!negated) o = NULL;
        }
        if (!o || !in_groups(c->groups, o->group)) {
            fprintf(stderr, "carve %s: unknown flag '--%s' (see carve %s --help)\n", c->name, name, c->name);
            return EXIT_USAGE;
        }
        if (o->type == CARVE_OPT_BOOL && !val) val = negated ? "false" : "true";
        else if (!val) {
            if (i + 1 >= argc) { fprintf(stderr, "carve %s: --%s needs a value\n", c->name, name); return EXIT_USAGE; }
            val = argv[++i];
        }
        if (!strcmp(o->key, "preset")) continue; /* applied above */
        carve_status st = carve_ctx_set_option(ctx, o->key, val);
        if (st) return cli_fail(ctx, st);
    }
    return 0;
}

static void on_signal(int sig) {
    (void)sig;
    carve_ctx *ctx = cli_current_ctx;
    if (ctx) carve_ctx_cancel(ctx);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help")) {
            for (int i = 0; i < NCMD; i++)
                if (!strcmp(commands[i]->name, argv[2])) { cmd_help(commands[i], stdout); return 0; }
        }
        main_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("carve %s\n", carve_version());
        return 0;
    }
    const cli_cmd *c = NULL;
    for (int i = 0; i < NCMD; i++)
        if (!strcmp(commands[i]->name, argv[1])) c = commands[i];
    if (!c) {
        fprintf(stderr, "carve: unknown command '%s' (see carve --help)\n", argv[1]);
        return EXIT_USAGE;
    }
    /* the commands that process images: large allocations, huge pages; a
     * tuning runs many trials on several threads for minutes: huge pages
     * only, like carved (hugepages.h) */
    if (!strcmp(c->name, "run") || !strcmp(c->name, "quantize") || !strcmp(c->name, "trace"))
        carve_tools_hugepages(argv, 1);
    else if (!strcmp(c->name, "tune"))
        carve_tools_hugepages(argv, 0);
    carve_ctx *ctx = carve_ctx_create();
    if (!ctx) { fprintf(stderr, "carve: out of memory\n"); return EXIT_FAIL; }
    cli_args a;
    memset(&a, 0, sizeof a);
    int rc = parse(c, ctx, argc - 1, argv + 1, &a);
    if (rc) { carve_ctx_destroy(ctx); return rc; }
    if (a.help) {
        cmd_help(c, stdout);
        carve_ctx_destroy(ctx);
        return 0;
    }
    cli_current_ctx = ctx;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = c->run(ctx, &a);
    cli_current_ctx = NULL;
    carve_ctx_destroy(ctx);
    return rc;
}
