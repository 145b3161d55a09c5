/* cmd_tune.c — carve tune: learn a house style from photo/reference pairs
 * and write it as a preset (a config file for carve run --config). */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_FILES 1000
#define SVG_MAX_BYTES (64u << 20)

static const cli_flag tune_flags[] = {
    {"photos", true, "folder of photos (jpg, png, webp, heic, tif, gif)"},
    {"references", true, "folder of reference illustrations (svg or any image), paired with the photos by file stem"},
    {"trials", true, "candidate configurations to try (default 40)"},
    {"time-limit", true, "seconds after which no new trial starts (default none)"},
    {"seed", true, "random seed of the search (default 1; same seed, same result)"},
    {"allow-unpaired", false, "ignore files without a partner instead of failing"},
    {"trials-log", true, "write every trial as a JSON line to FILE"},
    {"evaluate", false, "do not tune: print the style distance of carve run with the given options on every pair (JSON)"},
    {NULL, false, NULL},
};

static carve_tuner *volatile current_tuner;

static void on_sigint(int sig) {
    (void)sig;
    carve_tuner *t = current_tuner;
    if (t) carve_tuner_cancel(t);
}

typedef struct file_list { char *name[MAX_FILES]; int n; } file_list;

static bool has_ext(const char *name, const char *const *ext, int next) {
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.') return false;
    for (int i = 0; i < next; i++)
        if (!strcasecmp(dot, ext[i])) return true;
    return false;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_dir(const char *dir, bool svg_ok, file_list *out) {
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".gif", ".svg"};
    int next = svg_ok ? 10 : 9;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "carve tune: cannot read folder '%s': %s\n", dir, strerror(errno));
        return EXIT_INPUT;
    }
    struct dirent *e;
    out->n = 0;
    while ((e = readdir(d)) && out->n < MAX_FILES)
        if (has_ext(e->d_name, ext, next) && !(out->name[out->n++] = strdup(e->d_name))) out->n--;
    closedir(d);
    qsort(out->name, (size_t)out->n, sizeof out->name[0], cmp_name);
    return 0;
}

static void free_list(file_list *l) {
    for (int i = 0; i < l->n; i++) free(l->name[i]);
    l->n = 0;
}

static size_t stem_len(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

static int find_stem(const file_list *l, const char *name) {
    size_t n = stem_len(name);
    for (int i = 0; i < l->n; i++)
        if (stem_len(l->name[i]) == n && !strncmp(l->name[i], name, n)) return i;
    return -1;
}

static char *path_of(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A reference: SVG rendered at the photo's long side, other images decoded. */
static carve_status load_reference(carve_ctx *ctx, const char *path, const carve_image *photo, carve_image **out) {
    size_t n = strlen(path);
    if (n < 4 || strcasecmp(path + n - 4, ".svg")) return carve_image_load(ctx, path, out);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        return carve_ctx_set_error(ctx, CARVE_ERR_IO, 0, "cannot open reference '%s': %s", path, strerror(errno));
    }
    text = malloc(SVG_MAX_BYTES);
    if (text) len = fread(text, 1, SVG_MAX_BYTES, f);
    fclose(f);
    if (!text) return CARVE_ERR_NOMEM;
    carve_image *nat = NULL;
    carve_status st = carve_image_from_svg(ctx, text, len, path, 0, 0, &nat);
    if (!st) {
        int w = carve_image_width(nat), h = carve_image_height(nat);
        int pl = carve_image_width(photo) > carve_image_height(photo) ? carve_image_width(photo) : carve_image_height(photo);
        double s = (double)pl / (w > h ? w : h);
        int tw = (int)lround(w * s), th = (int)lround(h * s);
        carve_image_destroy(nat);
        st = carve_image_from_svg(ctx, text, len, path, tw < 1 ? 1 : tw, th < 1 ? 1 : th, out);
    }
    free(text);
    return st;
}

/* Pairs photos and references by stem and adds them to the tuner. */
typedef carve_status (*pair_fn)(void *user, const char *name, const carve_image *photo, const carve_image *ref);

static int add_pairs(carve_ctx *ctx, pair_fn use, void *user, const char *pdir, const char *rdir, bool allow_unpaired) {
    file_list *ph = calloc(1, sizeof *ph), *rf = calloc(1, sizeof *rf);
    int rc = (!ph || !rf) ? EXIT_FAIL : list_dir(pdir, false, ph);
    if (!rc) rc = list_dir(rdir, true, rf);
    int unpaired = 0, pairs = 0;
    for (int i = 0; !rc && i < ph->n; i++)
        if (find_stem(rf, ph->name[i]) < 0) fprintf(stderr, "carve tune: photo '%s' has no reference\n", ph->name[i]), unpaired++;
    for (int i = 0; !rc && i < rf->n; i++)
        if (find_stem(ph, rf->name[i]) < 0) fprintf(stderr, "carve tune: reference '%s' has no photo\n", rf->name[i]), unpaired++;
    if (!rc && unpaired && !allow_unpaired) {
        fprintf(stderr, "carve tune: %d unpaired file(s) (pass --allow-unpaired to ignore them)\n", unpaired);
        rc = EXIT_USAGE;
    }
    for (int i = 0; !rc && i < ph->n; i++) {
        int j = find_stem(rf, ph->name[i]);
        if (j < 0) continue;
        char *pp = path_of(pdir, ph->name[i]), *rp = path_of(rdir, rf->name[j]);
        carve_image *photo = NULL, *ref = NULL;
        carve_status st = (pp && rp) ? carve_image_load(ctx, pp, &photo) : CARVE_ERR_NOMEM;
        if (!st) st = load_reference(ctx, rp, photo, &ref);
        if (st) rc = cli_fail(ctx, st);
        if (!st && (st = use(user, ph->name[i], photo, ref))) rc = cli_exit_code(st);
        pairs += !st;
        carve_image_destroy(photo);
        carve_image_destroy(ref);
        free(pp);
        free(rp);
    }
    if (!rc && pairs < 2) {
        fprintf(stderr, "carve tune: tuning needs at least 2 photo/reference pairs, found %d\n", pairs);
        rc = EXIT_USAGE;
    }
    if (ph) free_list(ph);
    if (rf) free_list(rf);
    free(ph);
    free(rf);
    return rc;
}

typedef struct tune_ui {
    bool tty, quiet;
    int trials;
    FILE *log;
} tune_ui;

static int on_trial(void *user, const carve_tune_trial *tr) {
    tune_ui *ui = user;
    if (ui->log) {
        fprintf(ui->log, "{\"trial\":%d,\"config\":%d,\"rung\":%d,\"work_size\":%d,\"score\":%.6f,\"best\":%.6f,"
                "\"restored\":%s,\"options\":%s}\n", tr->index, tr->config, tr->rung, tr->work_size, tr->score,
                tr->best_score, tr->restored ? "true" : "false", tr->options_json);
        fflush(ui->log);
    }
    if (ui->quiet) return 0;
    int pct = (int)(tr->fraction * 100 + 0.5), w = 30, fill = pct * w / 100;
    if (ui->tty) {
        fprintf(stderr, "\rtune [");
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %3d%% trial %d at %dpx  best %.4f ", pct, tr->index + 1, tr->work_size, tr->best_score);
    } else {
        fprintf(stderr, "tune: %d%% trial %d (config %d at %dpx): %.4f, best %.4f\n", pct, tr->index + 1, tr->config,
                tr->work_size, tr->score, tr->best_score);
    }
    fflush(stderr);
    return 0;
}

static void on_log(void *user, int level, const char *msg) {
    tune_ui *ui = user;
    if (level >= CARVE_LOG_WARN || (!ui->quiet && !ui->tty && strncmp(msg, "trial ", 6)))
        fprintf(stderr, "%scarve tune: %s\n", ui->tty ? "\n" : "", msg);
}

static int parse_num(const char *flag, const char *v, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double d = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || errno || !(d >= lo && d <= hi)) {
        fprintf(stderr, "carve tune: --%s '%s' must be a number in %g..%g\n", flag, v ? v : "", lo, hi);
        return EXIT_USAGE;
    }
    *out = d;
    return 0;
}

static int write_best(carve_ctx *ctx, carve_tuner *t, const char *out, bool quiet) {
    char *json = NULL;
    double score = 0;
    carve_status st = carve_tuner_best(t, &json, &score);
    if (st) {
        fprintf(stderr, "carve tune: %s\n", carve_tuner_errmsg(t));
        return cli_exit_code(st);
    }
    size_t n = strlen(json);
    char *text = malloc(n + 2);
    if (!text) {
        carve_free(json);
        return EXIT_FAIL;
    }
    memcpy(text, json, n);
    text[n] = '\n';
    text[n + 1] = 0;
    st = carve_write_file(ctx, out, text, n + 1);
    free(text);
    if (!st && !quiet) fprintf(stderr, "carve tune: best style distance %.4f: %s -> %s\n", score, json, out);
    carve_free(json);
    return st ? cli_fail(ctx, st) : 0;
}

static int configure(carve_ctx *ctx, carve_tuner *t, const cli_args *a) {
    double trials = 40, limit = 0, seed = 1;
    int rc = 0;
    if (cli_extra(a, "trials")) rc = parse_num("trials", cli_extra(a, "trials"), 1, 10000, &trials);
    if (!rc && cli_extra(a, "time-limit")) rc = parse_num("time-limit", cli_extra(a, "time-limit"), 0, 1e7, &limit);
    if (!rc && cli_extra(a, "seed")) rc = parse_num("seed", cli_extra(a, "seed"), 0, 9007199254740991.0, &seed);
    if (rc) return rc;
    if (trials != floor(trials) || seed != floor(seed)) {
        fprintf(stderr, "carve tune: --trials and --seed must be whole numbers\n");
        return EXIT_USAGE;
    }
    char buf[32];
    carve_ctx_get_option(ctx, "threads", buf, sizeof buf);
    carve_status st = carve_tuner_configure(t, (int)trials, limit, (uint64_t)seed, atoi(buf));
    if (st) {
        fprintf(stderr, "carve tune: %s\n", carve_tuner_errmsg(t));
        return EXIT_USAGE;
    }
    return 0;
}

static carve_status use_tune(void *user, const char *name, const carve_image *photo, const carve_image *ref) {
    carve_tuner *t = user;
    carve_status st = carve_tuner_add_pair(t, name, photo, ref);
    if (st) fprintf(stderr, "carve tune: %s\n", carve_tuner_errmsg(t));
    return st;
}

typedef struct eval_state { carve_ctx *ctx; FILE *out; int n; double sum; } eval_state;

static carve_status use_eval(void *user, const char *name, const carve_image *photo, const carve_image *ref) {
    eval_state *e = user;
    double d = 0;
    char *details = NULL;
    carve_status st = carve_style_evaluate(e->ctx, photo, ref, &d, &details);
    if (st) {
        fprintf(stderr, "carve tune: '%s': %s\n", name, carve_ctx_errmsg(e->ctx));
        return st;
    }
    fprintf(e->out, "%s\n    {\"name\": \"%s\", \"distance\": %.4f, \"details\": %s}", e->n ? "," : "", name, d, details);
    carve_free(details);
    e->n++;
    e->sum += d;
    return CARVE_OK;
}

/* --evaluate: the style distance of carve run (with the given options) on
 * every pair, as JSON on stdout. */
static int evaluate(carve_ctx *ctx, cli_args *a, const char *pdir, const char *rdir) {
    eval_state e = {ctx, stdout, 0, 0};
    printf("{\"pairs\": [");
    int rc = add_pairs(ctx, use_eval, &e, pdir, rdir, cli_extra(a, "allow-unpaired") != NULL);
    printf("\n  ],\n  \"mean_distance\": %.4f\n}\n", e.n ? e.sum / e.n : 0.0);
    return rc;
}

static int run(carve_ctx *ctx, cli_args *a) {
    const char *pdir = cli_extra(a, "photos"), *rdir = cli_extra(a, "references");
    if (pdir && rdir && !a->npos && cli_extra(a, "evaluate")) return evaluate(ctx, a, pdir, rdir);
    if (!pdir || !rdir || !a->output || a->npos) {
        fprintf(stderr, "usage: carve tune --photos DIR --references DIR -o style.json [options]\n");
        return EXIT_USAGE;
    }
    carve_tuner *t = carve_tuner_create(ctx);
    if (!t) return EXIT_FAIL;
    tune_ui ui = {isatty(2), a->quiet, 0, NULL};
    int rc = configure(ctx, t, a);
    if (!rc) rc = add_pairs(ctx, use_tune, t, pdir, rdir, cli_extra(a, "allow-unpaired") != NULL);
    const char *logp = cli_extra(a, "trials-log");
    if (!rc && logp && !(ui.log = fopen(logp, "w"))) {
        fprintf(stderr, "carve tune: cannot write '%s': %s\n", logp, strerror(errno));
        rc = EXIT_OUTPUT;
    }
    if (rc) {
        carve_tuner_destroy(t);
        return rc;
    }
    carve_tuner_set_callback(t, on_trial, &ui);
    carve_tuner_set_log(t, on_log, &ui);
    current_tuner = t;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    carve_status st = carve_tuner_run(t);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    current_tuner = NULL;
    if (ui.tty && !ui.quiet) fputc('\n', stderr);
    if (ui.log) fclose(ui.log);
    if (st && st != CARVE_ERR_CANCELLED) {
        fprintf(stderr, "carve tune: %s\n", carve_tuner_errmsg(t));
        rc = cli_exit_code(st);
    } else {
        rc = write_best(ctx, t, a->output, a->quiet);
        if (st == CARVE_ERR_CANCELLED) {
            fprintf(stderr, "carve tune: interrupted; %s\n", rc ? "no trial had finished" : "the best preset so far was written");
            rc = EXIT_CANCEL;
        }
    }
    carve_tuner_destroy(t);
    return rc;
}

const cli_cmd cmd_tune = {
    "tune", "--photos DIR --references DIR -o style.json [options]",
    "learn a house style from photo/reference pairs; writes a preset (a config file for carve run --config)",
    "core,run,nn", tune_flags, run,
};
