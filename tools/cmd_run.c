/* cmd_run.c — carve run: a photo in, a clean SVG out (the whole pipeline);
 * carve run DIR -o OUTDIR: the same over a folder, with a summary. */
#include "cli.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* mode of the folders carve run creates (before the umask) */

static const cli_flag run_flags[] = {
    {"erase", true, "erase the box x,y,w,h (input pixels) and inpaint it; repeatable"},
    {"keep-intermediates", true, "write each phase's image into folder DIR (<name>.<n>-<phase>.png)"},
    {"report", true, "write the run report: JSON, or an HTML page when FILE ends in .html "
                     "(batch: a folder of <name>.json and summary.json)"},
    {NULL, false, NULL},
};

/* intermediates in pipeline order */
static const char *const inter_names[] = {"input", "erase_mask", "sanitize", "matte", "edges", "steer", "chroma"};

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcasecmp(s + n - m, suf);
}

static bool is_image_name(const char *name) {
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".gif"};
    if (name[0] == '.') return false;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (has_suffix(name, ext[i])) return true;
    return false;
}

/* "dir/car.jpg" -> "car" (malloc'd) */
static char *stem_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = strdup(base);
    if (!s) return NULL;
    char *dot = strrchr(s, '.');
    if (dot && dot != s) *dot = 0;
    return s;
}

static char *join(const char *dir, const char *name, const char *suffix) {
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s%s", dir, (*dir && dir[strlen(dir) - 1] != '/') ? "/" : "", name, suffix);
    return p;
}

static bool is_dir(const char *path) {
    struct stat st;
    return path && strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Joins every --erase and the option erase (config) into the option. */
static int collect_erase(carve_ctx *ctx, const cli_args *a) {
    size_t curcap = 65536 + 2; /* string options are at most 65536 bytes */
    char *cur = malloc(curcap);
    if (!cur) return EXIT_FAIL;
    carve_ctx_get_option(ctx, "erase", cur, curcap);
    size_t cap = strlen(cur) + 2;
    for (int i = 0; i < a->nextra; i++)
        if (!strcmp(a->extra_name[i], "erase")) cap += strlen(a->extra_val[i]) + 1;
    char *all = malloc(cap);
    if (!all) {
        free(cur);
        return EXIT_FAIL;
    }
    snprintf(all, cap, "%s", cur);
    free(cur);
    bool any = false;
    for (int i = 0; i < a->nextra; i++) {
        if (strcmp(a->extra_name[i], "erase")) continue;
        if (*all) strcat(all, ";");
        strcat(all, a->extra_val[i]);
        any = true;
    }
    int rc = 0;
    if (any) {
        carve_status st = carve_ctx_set_option(ctx, "erase", all);
        if (st) rc = cli_fail(ctx, st);
    }
    free(all);
    return rc;
}

/* Writes the kept phase images as dir/<stem>.<n>-<phase>.png. */
static carve_status write_intermediates(carve_ctx *ctx, const char *dir, const char *stem) {
    for (size_t i = 0; i < sizeof inter_names / sizeof inter_names[0]; i++) {
        const carve_image *im = carve_ctx_intermediate(ctx, inter_names[i]);
        if (!im) continue;
        char name[512];
        snprintf(name, sizeof name, "%s.%zu-%s", stem, i, inter_names[i]);
        char *path = join(dir, name, ".png");
        if (!path) return CARVE_ERR_NOMEM;
        carve_status st = carve_image_save(ctx, im, path);
        free(path);
        if (st) return st;
    }
    return CARVE_OK;
}

static carve_status write_report(carve_ctx *ctx, const char *path, const char *title, const char *svg, size_t len) {
    const char *json = carve_ctx_report_json(ctx);
    if (!json) return CARVE_OK;
    if (has_suffix(path, ".html") || has_suffix(path, ".htm")) {
        char *html = NULL;
        size_t hl = 0;
        carve_status st = carve_ctx_report_html(ctx, title, svg, len, &html, &hl);
        if (st) return st;
        st = carve_write_file(ctx, path, html, hl);
        carve_free(html);
        return st;
    }
    return carve_write_file(ctx, path, json, strlen(json));
}

/* Warnings (a backend that failed or was rejected, a box ignored, ...) go
 * to stderr; routine notes (a neural model not installed) do not. */
typedef struct log_state { bool quiet, tty; } log_state;

static void log_cb(void *user, int level, const char *msg) {
    const log_state *ls = user;
    if (level < CARVE_LOG_WARN || (ls->quiet && level < CARVE_LOG_ERROR)) return;
    fprintf(stderr, "%scarve: %s: %s\n", ls->tty ? "\r\033[K" : "", level >= CARVE_LOG_ERROR ? "error" : "warning",
            msg);
}

typedef struct job_out {
    const char *svg_path;    /* where the SVG goes */
    const char *report_path; /* NULL = none */
    const char *inter_dir;   /* NULL = none */
    const char *title;
    double seconds;
    bool load_failed; /* set when the input could not be read */
} job_out;

/* Runs one file.  Writes nothing but the report on failure. */
static carve_status run_one(carve_ctx *ctx, const char *in, job_out *o, cli_progress *p) {
    double t0 = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = ts.tv_sec + ts.tv_nsec * 1e-9;
    }
    carve_image *img = NULL;
    carve_status st = carve_image_load(ctx, in, &img);
    if (st) {
        o->load_failed = true;
        return st;
    }
    carve_ctx_set_progress(ctx, cli_progress_cb, p);
    char *svg = NULL;
    size_t len = 0;
    st = carve_run(ctx, img, NULL, &svg, &len);
    carve_ctx_set_progress(ctx, NULL, NULL);
    cli_progress_done(p);
    carve_image_destroy(img);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", carve_ctx_errmsg(ctx));
    if (!st) st = carve_write_file(ctx, o->svg_path, svg, len);
    if (!st && o->inter_dir) {
        st = write_intermediates(ctx, o->inter_dir, o->title);
        if (st) carve_ctx_set_error(ctx, st, 1, "--keep-intermediates");
    }
    if (o->report_path && st != CARVE_ERR_CANCELLED) {
        bool is_svg = !strcmp(cli_format_suffix(ctx), ".svg"); /* the HTML report shows an SVG only */
        carve_status rs = write_report(ctx, o->report_path, o->title, is_svg ? svg : NULL, is_svg ? len : 0);
        if (rs && !st) st = rs;
        else if (st) carve_ctx_set_error(ctx, st, 0, "%s", msg); /* keep the run's message */
    }
    carve_free(svg);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    o->seconds = ts.tv_sec + ts.tv_nsec * 1e-9 - t0;
    return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* The image files of folder dir (by suffix, not sub-folders), sorted by
 * name; an exit code when there is none or the folder cannot be read. */
static int list_images(const char *dir, char ***out, int *nout) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "carve run: cannot read folder '%s': %s\n", dir, strerror(errno));
        return EXIT_INPUT;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_image_name(e->d_name)) continue;
        char *full = join(dir, e->d_name, "");
        if (!full || is_dir(full)) {
            free(full);
            continue;
        }
        free(full);
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (!n) {
        free(names);
        fprintf(stderr, "carve run: no images (jpg, png, webp, heic, tif, gif) in '%s'\n", dir);
        return EXIT_INPUT;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    *nout = n;
    return 0;
}

/* The output, report and intermediates folders, created if missing. */
static int make_out_folders(carve_ctx *ctx, const char *out, const char *report, const char *inter) {
    const char *dirs[] = {out, report, inter};
    for (int i = 0; i < 3; i++)
        if (dirs[i] && carve_make_folder(ctx, dirs[i])) {
            fprintf(stderr, "carve run: %s\n", carve_ctx_errmsg(ctx));
            return EXIT_OUTPUT;
        }
    return 0;
}

/* Whether another input has the same stem as names[i] (car.jpg, car.png). */
static bool stem_clash(char **names, int n, int i, const char *stem) {
    bool clash = false;
    for (int j = 0; j < n && stem; j++) {
        if (j == i) continue;
        char *s2 = stem_of(names[j]);
        clash |= s2 && !strcmp(s2, stem);
        free(s2);
    }
    return clash;
}

/* One folder run: its inputs, counts, failure reasons and summary. */
typedef struct batch {
    const char *dir, *report, *inter;
    char **names;
    char **why; /* per input: why it failed, or NULL */
    int n, ok, failed;
    double total;
    bool cancelled;
    json_t *files; /* the summary's per-file entries */
} batch;

/* The summary entry of one input. */
static json_t *batch_entry(carve_ctx *ctx, const char *name, carve_status st, const job_out *o, const char *svgp,
                           const char *repp) {
    json_t *f = json_object();
    json_object_set_new(f, "input", json_string(name));
    json_object_set_new(f, "status", json_string(st == CARVE_ERR_CANCELLED ? "cancelled" : st ? "failed" : "ok"));
    json_object_set_new(f, "seconds", json_real(round(o->seconds * 1000) / 1000));
    if (!st && svgp) json_object_set_new(f, "svg", json_string(svgp));
    if (repp && !o->load_failed && st != CARVE_ERR_CANCELLED) json_object_set_new(f, "report", json_string(repp));
    if (st && st != CARVE_ERR_CANCELLED) {
        json_object_set_new(f, "error", json_string(carve_ctx_errmsg(ctx)));
        json_object_set_new(f, "exit_code",
                            json_integer(o->load_failed && st == CARVE_ERR_IO ? EXIT_INPUT : cli_exit_code(st)));
    }
    return f;
}

/* Runs input i of the batch into the output folder, with its own progress
 * line, and counts the outcome. */
static void batch_one(carve_ctx *ctx, cli_args *a, batch *B, int i, bool tty) {
    char *in = join(B->dir, B->names[i], "");
    char *stem = stem_of(B->names[i]);
    /* two inputs with one stem (car.jpg, car.png): keep the suffix */
    const char *base = stem_clash(B->names, B->n, i, stem) ? B->names[i] : stem;
    char *svgp = base ? join(a->output, base, cli_format_suffix(ctx)) : NULL;
    char *repp = B->report && base ? join(B->report, base, ".json") : NULL;
    char label[64];
    snprintf(label, sizeof label, "[%d/%d] %s", i + 1, B->n, B->names[i]);
    cli_progress p = {label, -1, tty, a->quiet || !tty};
    job_out o = {svgp, repp, B->inter, base, 0, false};
    carve_status st = (!in || !stem || !svgp || (B->report && !repp)) ? CARVE_ERR_NOMEM : run_one(ctx, in, &o, &p);
    B->total += o.seconds;
    json_array_append_new(B->files, batch_entry(ctx, B->names[i], st, &o, svgp, repp));
    if (st == CARVE_ERR_CANCELLED) {
        B->cancelled = true;
    } else if (st) {
        B->failed++;
        const char *m = carve_ctx_errmsg(ctx);
        B->why[i] = strdup(m && *m ? m : carve_strerror(st));
        fprintf(stderr, "%s: FAILED: %s\n", label, B->why[i] ? B->why[i] : carve_strerror(st));
    } else {
        B->ok++;
        if (!a->quiet) fprintf(stderr, "%s: ok (%.2f s) -> %s\n", label, o.seconds, svgp);
    }
    free(in);
    free(stem);
    free(svgp);
    free(repp);
}

/* summary.json in the report folder (summary-of-run.json when an input is
 * named summary.*, whose report has that name). */
static void write_summary(carve_ctx *ctx, batch *B) {
    json_t *sum = json_object();
    json_object_set_new(sum, "files", B->files);
    B->files = NULL;
    json_object_set_new(sum, "images", json_integer(B->n));
    json_object_set_new(sum, "done", json_integer(B->ok));
    json_object_set_new(sum, "failed", json_integer(B->failed));
    json_object_set_new(sum, "interrupted", json_boolean(B->cancelled));
    json_object_set_new(sum, "seconds", json_real(round(B->total * 1000) / 1000));
    char *stext = json_dumps(sum, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(sum);
    size_t slen = stext ? strlen(stext) : 0;
    if (B->report && stext) {
        bool taken = false;
        for (int i = 0; i < B->n; i++) {
            char *st2 = stem_of(B->names[i]);
            taken |= st2 && !strcmp(st2, "summary");
            free(st2);
        }
        char *sp = join(B->report, taken ? "summary-of-run" : "summary", ".json");
        if (!sp || carve_write_file(ctx, sp, stext, slen))
            fprintf(stderr, "carve run: cannot write the summary: %s\n", sp ? carve_ctx_errmsg(ctx) : "out of memory");
        free(sp);
    }
    free(stext);
}

static int run_batch(carve_ctx *ctx, cli_args *a, const char *dir, const char *report, const char *inter) {
    if (!a->output || !strcmp(a->output, "-")) {
        fprintf(stderr, "carve run: a folder input needs -o OUTDIR\n");
        return EXIT_USAGE;
    }
    batch B = {.dir = dir, .report = report, .inter = inter};
    int rc = list_images(dir, &B.names, &B.n);
    if (rc) return rc;
    if ((rc = make_out_folders(ctx, a->output, report, inter))) {
        free_names(B.names, B.n);
        return rc;
    }
    B.why = calloc((size_t)B.n, sizeof *B.why);
    if (!B.why) {
        free_names(B.names, B.n);
        fprintf(stderr, "carve run: out of memory\n");
        return EXIT_FAIL;
    }
    bool tty = isatty(2) != 0;
    B.files = json_array();
    for (int i = 0; i < B.n && !B.cancelled; i++) batch_one(ctx, a, &B, i, tty);
    fprintf(stderr, "carve run: %d of %d done, %d failed%s (%.1f s)\n", B.ok, B.n, B.failed,
            B.cancelled ? ", interrupted" : "", B.total);
    write_summary(ctx, &B);
    if (B.failed) {
        fprintf(stderr, "failed files:\n");
        for (int i = 0; i < B.n; i++)
            if (B.why[i]) fprintf(stderr, "  %s: %s\n", B.names[i], B.why[i]);
    }
    for (int i = 0; i < B.n; i++) free(B.why[i]);
    free(B.why);
    free_names(B.names, B.n);
    if (B.cancelled) return EXIT_CANCEL;
    return B.failed ? EXIT_FAIL : 0;
}

static int run(carve_ctx *ctx, cli_args *a) {
    if (a->npos != 1) {
        fprintf(stderr, "carve run: expected one input image or folder (see carve run --help)\n");
        return EXIT_USAGE;
    }
    int rc = collect_erase(ctx, a);
    if (rc) return rc;
    static log_state ls;
    ls.quiet = a->quiet;
    ls.tty = isatty(2) != 0;
    carve_ctx_set_log(ctx, log_cb, &ls);
    const char *report = cli_extra(a, "report");
    const char *inter = cli_extra(a, "keep-intermediates");
    if (report && !*report) {
        fprintf(stderr, "carve run: --report needs a file name\n");
        return EXIT_USAGE;
    }
    if (inter && !*inter) {
        fprintf(stderr, "carve run: --keep-intermediates needs a folder\n");
        return EXIT_USAGE;
    }
    if (inter || (report && (has_suffix(report, ".html") || has_suffix(report, ".htm"))))
        carve_ctx_set_option(ctx, "keep_intermediates", "true");
    const char *in = a->pos[0];
    if (is_dir(in)) return run_batch(ctx, a, in, report, inter);

    if (inter && carve_make_folder(ctx, inter)) {
        fprintf(stderr, "carve run: %s\n", carve_ctx_errmsg(ctx));
        return EXIT_OUTPUT;
    }
    if (a->output && is_dir(a->output)) {
        fprintf(stderr, "carve run: '%s' is a folder; give the output file name (.svg .pdf .eps .dxf) with -o\n", a->output);
        return EXIT_USAGE;
    }
    if ((rc = cli_format_from_output(ctx, "run", a->output))) return rc;
    char *stem = stem_of(strcmp(in, "-") ? in : "stdin");
    if (!stem) return EXIT_FAIL;
    cli_progress p = {"run", -1, isatty(2) != 0, a->quiet};
    job_out o = {a->output ? a->output : "-", report, inter, stem, 0, false};
    carve_status st = run_one(ctx, in, &o, &p);
    free(stem);
    if (st) {
        rc = cli_fail(ctx, st);
        /* an unreadable input is an input error (3), not an output one */
        return o.load_failed && st == CARVE_ERR_IO ? EXIT_INPUT : rc;
    }
    return 0;
}

const cli_cmd cmd_run = {
    "run", "IN -o OUT.svg|.pdf|.eps|.dxf [options]   |   carve run DIR -o OUTDIR [options]",
    "a vehicle photo to a clean, palette-exact SVG illustration (the whole pipeline; a folder runs each image)",
    "core,trace,chroma,run,nn", run_flags, run};
