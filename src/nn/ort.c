/* ort.c — ONNX Runtime through its C API, loaded with dlopen.
 *
 * One runtime per process (the first library that loads wins); one session
 * per (model file, intra-op thread count), created on first use under a
 * mutex and shared by every job; OrtSession::Run is thread-safe.  Inputs and
 * outputs are float tensors; float16 model inputs/outputs are converted. */
#include "nn/nn_internal.h"
#include "nn/nn_config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void carve__nn_tensor_free(carve__nn_tensor *t) {
    if (!t) return;
    free(t->data);
    t->data = NULL;
    t->rank = 0;
}


#if CARVE_NN_HAVE_ORT

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include CARVE_NN_ORT_HEADER
#pragma GCC diagnostic pop

_Static_assert(CARVE_NN_OPT_BASIC == (int)ORT_ENABLE_BASIC && CARVE_NN_OPT_EXTENDED == (int)ORT_ENABLE_EXTENDED &&
                   CARVE_NN_OPT_ALL == (int)ORT_ENABLE_ALL,
               "the manifest's optimization levels are ONNX Runtime's");

bool carve__ort_compiled(void) { return true; }

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CARVE_NN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(CARVE_NN_ASAN)
/* LeakSanitizer: ONNX Runtime (not instrumented, not ours) keeps a few
 * process-lifetime allocations (thread-pool setup, ~200 bytes) that no
 * pointer reaches at exit.  This documented hook suppresses leaks whose stack
 * is inside the runtime library, for every program linking libcarve, so
 * sanitizer runs of any test or tool that loads the runtime stay meaningful
 * for carve's own allocations. */
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void) {
    return "leak:libonnxruntime.so\n";
}
#endif

typedef struct session {
    char path[1024];
    char sha256[65];
    int threads;
    OrtSession *s;
    ONNXTensorElementDataType in_type[CARVE_NN_MAX_IO], out_type[CARVE_NN_MAX_IO];
    char in_names[CARVE_NN_MAX_IO][128], out_names[CARVE_NN_MAX_IO][128];
    int nin, nout;
    bool ready; /* false while its creator (a run or a prewarm) creates it, outside g_lock */
    struct session *next;
} session;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_ready = PTHREAD_COND_INITIALIZER; /* a session became ready or was dropped */
#define MAX_PREWARM 4
static pthread_t g_prewarm[MAX_PREWARM]; /* prewarm threads not yet joined (under g_lock) */
static int g_nprewarm;
static void *g_lib;
static const OrtApi *g_api;
static OrtEnv *g_env;
static char g_libpath[1024];
static char g_version[64];
static session *g_sessions;

/* ---- fp16 <-> fp32 ------------------------------------------------------ */
static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (e == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int ne = (int)e - 127 + 15;
    if (ne >= 31) return (uint16_t)(sign | 0x7c00);
    if (ne <= 0) {
        if (ne < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - ne;
        uint32_t hm = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (hm & 1))) hm++;
        return (uint16_t)(sign | hm);
    }
    uint32_t hm = man >> 13, rem = man & 0x1fff;
    uint32_t h = sign | ((uint32_t)ne << 10) | hm;
    if (rem > 0x1000 || (rem == 0x1000 && (hm & 1))) h++;
    return (uint16_t)h;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, man = h & 0x3ff, x;
    if (e == 0) {
        if (!man) x = sign;
        else {
            e = 127 - 15 + 1;
            while (!(man & 0x400)) man <<= 1, e--;
            x = sign | (e << 23) | ((man & 0x3ff) << 13);
        }
    } else if (e == 31) {
        x = sign | 0x7f800000 | (man << 13);
    } else {
        x = sign | ((e - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* ---- loading ------------------------------------------------------------ */
static carve_status ort_fail(carve_ctx *ctx, OrtStatus *s, const char *what, const char *model) {
    char msg[700] = "";
    if (s) {
        snprintf(msg, sizeof msg, "%s", g_api->GetErrorMessage(s));
        g_api->ReleaseStatus(s);
    }
    return carve__fail(ctx, CARVE_ERR_BACKEND, "ONNX Runtime %s: %s %s%s%s", g_version, what, model ? model : "",
                       *msg ? ": " : "", msg);
}

/* Tries one candidate; on failure appends why to tried. */
static bool try_lib(const char *path, char *tried, size_t cap) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    size_t used = strlen(tried);
    if (!h) {
        const char *e = dlerror();
        snprintf(tried + used, cap - used, "%s%s (%s)", used ? "; " : "", path, e ? e : "cannot load");
        return false;
    }
    typedef const OrtApiBase *(*get_base_fn)(void);
    get_base_fn gb;
    *(void **)&gb = dlsym(h, "OrtGetApiBase");
    const OrtApiBase *base = gb ? gb() : NULL;
    if (!base) {
        snprintf(tried + used, cap - used, "%s%s (no OrtGetApiBase: not ONNX Runtime)", used ? "; " : "", path);
        dlclose(h);
        return false;
    }
    const char *ver = base->GetVersionString ? base->GetVersionString() : "?";
    const OrtApi *api = base->GetApi(ORT_API_VERSION);
    if (!api) {
        snprintf(tried + used, cap - used,
                 "%s%s (ONNX Runtime %s is too old: carve needs C API version %d, ONNX Runtime 1.%d or newer)",
                 used ? "; " : "", path, ver, ORT_API_VERSION, ORT_API_VERSION);
        dlclose(h);
        return false;
    }
    OrtEnv *env = NULL;
    OrtStatus *s = api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "carve", &env);
    if (s) {
        snprintf(tried + used, cap - used, "%s%s (CreateEnv failed: %s)", used ? "; " : "", path,
                 api->GetErrorMessage(s));
        api->ReleaseStatus(s);
        dlclose(h);
        return false;
    }
    g_lib = h;
    g_api = api;
    g_env = env;
    snprintf(g_libpath, sizeof g_libpath, "%s", path);
    snprintf(g_version, sizeof g_version, "%s", ver);
    return true;
}

carve_status carve__ort_load(carve_ctx *ctx, const char **version) {
    pthread_mutex_lock(&g_lock);
    if (g_api) {
        pthread_mutex_unlock(&g_lock);
        if (version) *version = g_version;
        return CARVE_OK;
    }
    char tried[2048] = "";
    const char *opt = ctx ? carve__opt_str(ctx, CARVE_OPTID_ort_library) : "";
    const char *env = getenv("CARVE_ORT_LIBRARY");
    bool ok = false;
    if (opt && *opt) {
        ok = try_lib(opt, tried, sizeof tried); /* an explicit choice is the only candidate */
    } else if (env && *env) {
        ok = try_lib(env, tried, sizeof tried);
    } else {
        char exe[1024], cand[1100];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = 0;
            char *slash = strrchr(exe, '/');
            if (slash) {
                *slash = 0;
                snprintf(cand, sizeof cand, "%s/libonnxruntime.so.1", exe);
                if (access(cand, F_OK) == 0) ok = try_lib(cand, tried, sizeof tried);
            }
        }
        if (!ok && access(CARVE_NN_ORT_LOCAL, F_OK) == 0) ok = try_lib(CARVE_NN_ORT_LOCAL, tried, sizeof tried);
        if (!ok) ok = try_lib("libonnxruntime.so.1", tried, sizeof tried);
        if (!ok) ok = try_lib("libonnxruntime.so", tried, sizeof tried);
    }
    pthread_mutex_unlock(&g_lock);
    if (!ok)
        return carve__fail(ctx, CARVE_ERR_NOT_FOUND,
                           "ONNX Runtime (C API version %d, 1.%d or newer) not loaded: %s; run scripts/onnx/setup.sh "
                           "or set ort_library / CARVE_ORT_LIBRARY",
                           ORT_API_VERSION, ORT_API_VERSION, tried);
    if (version) *version = g_version;
    return CARVE_OK;
}

const char *carve__ort_library(void) {
    pthread_mutex_lock(&g_lock);
    const char *p = g_api ? g_libpath : NULL;
    pthread_mutex_unlock(&g_lock);
    return p;
}

/* ---- sessions ------------------------------------------------------------ */
static int nn_threads(const carve_ctx *ctx) {
    int t = (int)carve__opt_int(ctx, CARVE_OPTID_nn_threads);
    return t > 0 ? t : carve__threads(ctx);
}

static carve_status io_types(carve_ctx *ctx, session *se, const carve__nn_model *m, bool input) {
    size_t count = 0;
    OrtStatus *s = input ? g_api->SessionGetInputCount(se->s, &count) : g_api->SessionGetOutputCount(se->s, &count);
    if (s) return ort_fail(ctx, s, "cannot read the inputs/outputs of", m->path);
    OrtAllocator *al = NULL;
    if ((s = g_api->GetAllocatorWithDefaultOptions(&al))) return ort_fail(ctx, s, "no allocator for", m->path);
    int want = input ? m->ninputs : m->noutputs;
    char have[512] = "";
    for (int k = 0; k < want; k++) {
        const char *name = input ? m->inputs[k] : m->outputs[k];
        bool found = false;
        have[0] = 0;
        for (size_t i = 0; i < count && !found; i++) {
            char *nm = NULL;
            s = input ? g_api->SessionGetInputName(se->s, i, al, &nm) : g_api->SessionGetOutputName(se->s, i, al, &nm);
            if (s) return ort_fail(ctx, s, "cannot read tensor names of", m->path);
            size_t u = strlen(have);
            if (u < sizeof have - 2) snprintf(have + u, sizeof have - u, "%s%s", u ? ", " : "", nm);
            found = !strcmp(nm, name);
            OrtStatus *fs = g_api->AllocatorFree(al, nm);
            if (fs) g_api->ReleaseStatus(fs);
            if (!found) continue;
            OrtTypeInfo *ti = NULL;
            s = input ? g_api->SessionGetInputTypeInfo(se->s, i, &ti) : g_api->SessionGetOutputTypeInfo(se->s, i, &ti);
            if (s) return ort_fail(ctx, s, "cannot read tensor types of", m->path);
            const OrtTensorTypeAndShapeInfo *tsi = NULL;
            ONNXTensorElementDataType et = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
            if (!(s = g_api->CastTypeInfoToTensorInfo(ti, &tsi)) && tsi) s = g_api->GetTensorElementType(tsi, &et);
            g_api->ReleaseTypeInfo(ti);
            if (s) return ort_fail(ctx, s, "cannot read tensor types of", m->path);
            if (et != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT && et != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16)
                return carve__fail(ctx, CARVE_ERR_BACKEND, "model %s (%s): %s \"%s\" is not a float or float16 tensor",
                                   m->name, m->path, input ? "input" : "output", name);
            if (input) se->in_type[k] = et; /* (names and counts: the session's key, set by its creator) */
            else se->out_type[k] = et;
        }
        if (!found)
            return carve__fail(ctx, CARVE_ERR_CONFIG, "model %s (%s): no %s named \"%s\" (the model has: %s); fix the manifest",
                               m->name, m->path, input ? "input" : "output", name, have);
    }
    return CARVE_OK;
}

/* The cached session for m at this thread count (ready or being created);
 * call with g_lock held. */
static session *find_session(const carve__nn_model *m, int threads) {
    for (session *se = g_sessions; se; se = se->next)
        if (se->threads == threads && !strcmp(se->path, m->path) && !strcmp(se->sha256, m->sha256) &&
            se->nin == m->ninputs && se->nout == m->noutputs && !memcmp(se->in_names, m->inputs, sizeof se->in_names) &&
            !memcmp(se->out_names, m->outputs, sizeof se->out_names))
            return se;
    return NULL;
}

/* Creates se->s (sha256 check first) and reads its tensor types; runs
 * without g_lock, so other models' sessions are usable meanwhile. */
static carve_status create_session(carve_ctx *ctx, const carve__nn_model *m, session *se) {
    char got[65];
    carve_status st = carve__sha256_file(ctx, m->path, got);
    if (st) return carve__fail(ctx, CARVE_ERR_NOT_FOUND, "model %s: cannot read %s", m->name, m->path);
    if (strcmp(got, m->sha256))
        return carve__fail(ctx, CARVE_ERR_NOT_FOUND,
                           "model %s: %s has sha256 %s but the manifest pins %s; reinstall it (carve models fetch %s)",
                           m->name, m->path, got, m->sha256, m->name);
    OrtSessionOptions *so = NULL;
    OrtStatus *s = g_api->CreateSessionOptions(&so);
    if (!s) s = g_api->SetIntraOpNumThreads(so, se->threads);
    if (!s) s = g_api->SetInterOpNumThreads(so, 1);
    if (!s) s = g_api->SetSessionExecutionMode(so, ORT_SEQUENTIAL);
    if (!s) s = g_api->SetSessionGraphOptimizationLevel(so, (GraphOptimizationLevel)m->optimization);
    if (!s) s = g_api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0");
    /* memory patterns pre-plan one big block per input shape: on ISNet they
     * raise the peak RSS from ~1.3 to ~2.2 GB for no measurable speed-up */
    if (!s) s = g_api->DisableMemPattern(so);
    if (!s && getenv("CARVE_NN_NO_ARENA")) s = g_api->DisableCpuMemArena(so); /* bench knob, see docs/nn.md */
    if (!s) s = g_api->CreateSession(g_env, m->path, so, &se->s);
    if (so) g_api->ReleaseSessionOptions(so);
    if (s) return ort_fail(ctx, s, "cannot create a session for", m->path);
    if ((st = io_types(ctx, se, m, true)) || (st = io_types(ctx, se, m, false))) {
        g_api->ReleaseSession(se->s);
        se->s = NULL;
        return st;
    }
    return CARVE_OK;
}

/* Returns the cached session, creating it when there is none: a session
 * being created by another thread (a prewarm) is waited for; a failed
 * creation is dropped, so the next caller tries again and gets the error. */
static carve_status get_session(carve_ctx *ctx, const carve__nn_model *m, session **out) {
    int threads = nn_threads(ctx);
    pthread_mutex_lock(&g_lock);
    session *se;
    while ((se = find_session(m, threads)) && !se->ready) pthread_cond_wait(&g_ready, &g_lock);
    if (se) {
        pthread_mutex_unlock(&g_lock);
        *out = se;
        return CARVE_OK;
    }
    if (!(se = calloc(1, sizeof *se))) {
        pthread_mutex_unlock(&g_lock);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    snprintf(se->path, sizeof se->path, "%s", m->path);
    snprintf(se->sha256, sizeof se->sha256, "%s", m->sha256);
    se->threads = threads;
    se->nin = m->ninputs, se->nout = m->noutputs; /* the key; io_types writes the same */
    memcpy(se->in_names, m->inputs, sizeof se->in_names);
    memcpy(se->out_names, m->outputs, sizeof se->out_names);
    se->next = g_sessions;
    g_sessions = se;
    pthread_mutex_unlock(&g_lock);
    carve_status st = create_session(ctx, m, se);
    pthread_mutex_lock(&g_lock);
    if (st) { /* unlink the placeholder */
        for (session **pp = &g_sessions; *pp; pp = &(*pp)->next)
            if (*pp == se) { *pp = se->next; break; }
        free(se);
    } else {
        se->ready = true;
        *out = se;
    }
    pthread_cond_broadcast(&g_ready);
    pthread_mutex_unlock(&g_lock);
    return st;
}

/* ---- prewarm: a session created in the background ------------------------- */
typedef struct prewarm {
    carve_ctx *ctx; /* a clone: the caller's ctx stays its own */
    carve__nn_model m;
} prewarm;

static void *prewarm_main(void *arg) {
    prewarm *p = arg;
    session *se = NULL;
    if (!carve__ort_load(p->ctx, NULL)) (void)get_session(p->ctx, &p->m, &se); /* errors: the run reports them */
    carve_ctx_destroy(p->ctx);
    free(p);
    return NULL;
}

/* Joins the prewarm threads (at exit, before ONNX Runtime's own teardown,
 * and in carve__nn_shutdown). */
static void prewarm_join_all(void) {
    pthread_mutex_lock(&g_lock);
    pthread_t th[MAX_PREWARM];
    int n = g_nprewarm;
    memcpy(th, g_prewarm, sizeof th);
    g_nprewarm = 0;
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
}

static void prewarm_atexit(void) { atexit(prewarm_join_all); }

/* Joins the prewarm threads that have finished (a long-running server
 * starts one per model and thread count; without this it would keep them
 * unjoined and stop prewarming after MAX_PREWARM).  Call with g_lock held. */
static void prewarm_reap(void) {
    int k = 0;
    for (int i = 0; i < g_nprewarm; i++)
        if (pthread_tryjoin_np(g_prewarm[i], NULL) != 0) g_prewarm[k++] = g_prewarm[i];
    g_nprewarm = k;
}

int carve__ort_prewarm_pending(void) {
    pthread_mutex_lock(&g_lock);
    int n = g_nprewarm;
    pthread_mutex_unlock(&g_lock);
    return n;
}

void carve__ort_prewarm(carve_ctx *ctx, const carve__nn_model *m) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    int threads = nn_threads(ctx);
    pthread_mutex_lock(&g_lock);
    prewarm_reap();
    bool skip = find_session(m, threads) || g_nprewarm == MAX_PREWARM;
    pthread_mutex_unlock(&g_lock);
    if (skip) return;
    prewarm *p = calloc(1, sizeof *p);
    if (p) p->ctx = carve_ctx_clone(ctx);
    if (!p || !p->ctx) {
        free(p);
        return;
    }
    p->m = *m;
    pthread_once(&once, prewarm_atexit);
    pthread_mutex_lock(&g_lock);
    if (g_nprewarm < MAX_PREWARM && !pthread_create(&g_prewarm[g_nprewarm], NULL, prewarm_main, p)) {
        g_nprewarm++;
        p = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    if (p) {
        carve_ctx_destroy(p->ctx);
        free(p);
    }
}

carve_status carve__ort_check(carve_ctx *ctx, const carve__nn_model *m) {
    carve_status st = carve__ort_load(ctx, NULL);
    if (st) return st;
    session *se = NULL;
    st = get_session(ctx, m, &se);
    return st;
}

/* ---- running -------------------------------------------------------------- */
typedef struct watch {
    carve_ctx *ctx;
    OrtRunOptions *ro;
    atomic_int done;
    atomic_int fired;
} watch;

static void *watcher(void *arg) {
    watch *w = arg;
    struct timespec ts = {0, 5 * 1000 * 1000};
    while (!atomic_load(&w->done)) {
        if (carve__cancelled(w->ctx)) {
            OrtStatus *s = g_api->RunOptionsSetTerminate(w->ro);
            if (s) g_api->ReleaseStatus(s);
            atomic_store(&w->fired, 1);
            break;
        }
        nanosleep(&ts, NULL);
    }
    return NULL;
}

carve_status carve__ort_run(carve_ctx *ctx, const carve__nn_model *m, const carve__nn_tensor *in, int nin,
                            carve__nn_tensor *out, int nout) {
    for (int i = 0; i < nout; i++) out[i].data = NULL, out[i].rank = 0;
    if (nin != m->ninputs || nout != m->noutputs)
        return carve__fail(ctx, CARVE_ERR_INTERNAL, "model %s: %d inputs/%d outputs given, manifest says %d/%d", m->name,
                           nin, nout, m->ninputs, m->noutputs);
    carve_status st = carve__ort_load(ctx, NULL);
    if (st) return st;
    session *se = NULL;
    st = get_session(ctx, m, &se);
    if (st) return st;
    if ((st = carve__progress(ctx, 0, "nn"))) return st;

    OrtMemoryInfo *mi = NULL;
    OrtValue *iv[CARVE_NN_MAX_IO] = {0}, *ov[CARVE_NN_MAX_IO] = {0};
    uint16_t *half[CARVE_NN_MAX_IO] = {0};
    const char *in_names[CARVE_NN_MAX_IO], *out_names[CARVE_NN_MAX_IO];
    OrtRunOptions *ro = NULL;
    OrtStatus *s = g_api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mi);
    if (s) { st = ort_fail(ctx, s, "cannot describe CPU memory for", m->path); goto done; }
    for (int i = 0; i < nin; i++) {
        size_t cnt = carve__nn_tensor_count(&in[i]);
        in_names[i] = se->in_names[i];
        if (se->in_type[i] == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16) {
            if (!(half[i] = malloc(cnt * 2 + 2))) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
            for (size_t k = 0; k < cnt; k++) half[i][k] = f32_to_f16(in[i].data[k]);
            s = g_api->CreateTensorWithDataAsOrtValue(mi, half[i], cnt * 2, in[i].shape, (size_t)in[i].rank,
                                                      ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, &iv[i]);
        } else {
            s = g_api->CreateTensorWithDataAsOrtValue(mi, in[i].data, cnt * sizeof(float), in[i].shape,
                                                      (size_t)in[i].rank, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &iv[i]);
        }
        if (s) { st = ort_fail(ctx, s, "cannot create an input tensor for", m->path); goto done; }
    }
    for (int i = 0; i < nout; i++) out_names[i] = se->out_names[i];
    if ((s = g_api->CreateRunOptions(&ro))) { st = ort_fail(ctx, s, "cannot create run options for", m->path); goto done; }
    watch w = {ctx, ro, 0, 0};
    pthread_t th;
    bool have_thread = pthread_create(&th, NULL, watcher, &w) == 0;
    s = g_api->Run(se->s, ro, in_names, (const OrtValue *const *)iv, (size_t)nin, out_names, (size_t)nout, ov);
    atomic_store(&w.done, 1);
    if (have_thread) pthread_join(th, NULL);
    if (s && (atomic_load(&w.fired) || carve__cancelled(ctx))) {
        g_api->ReleaseStatus(s);
        st = carve__progress(ctx, 0, "nn");
        if (!st) st = carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled");
        goto done;
    }
    if (s) {
        char what[300];
        snprintf(what, sizeof what, "inference failed for model %s:", m->name);
        st = ort_fail(ctx, s, what, m->path);
        goto done;
    }
    for (int i = 0; i < nout; i++) {
        OrtTensorTypeAndShapeInfo *info = NULL;
        size_t rank = 0;
        if ((s = g_api->GetTensorTypeAndShape(ov[i], &info)) || (s = g_api->GetDimensionsCount(info, &rank))) {
            if (info) g_api->ReleaseTensorTypeAndShapeInfo(info);
            st = ort_fail(ctx, s, "cannot read an output shape of", m->path);
            goto done;
        }
        if (rank > 8) rank = 8;
        s = g_api->GetDimensions(info, out[i].shape, rank);
        g_api->ReleaseTensorTypeAndShapeInfo(info);
        if (s) { st = ort_fail(ctx, s, "cannot read an output shape of", m->path); goto done; }
        out[i].rank = (int)rank;
        size_t cnt = carve__nn_tensor_count(&out[i]);
        void *p = NULL;
        if ((s = g_api->GetTensorMutableData(ov[i], &p))) { st = ort_fail(ctx, s, "cannot read an output of", m->path); goto done; }
        out[i].data = malloc(cnt * sizeof(float) + 4);
        if (!out[i].data) { st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory"); goto done; }
        if (se->out_type[i] == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16)
            for (size_t k = 0; k < cnt; k++) out[i].data[k] = f16_to_f32(((const uint16_t *)p)[k]);
        else
            memcpy(out[i].data, p, cnt * sizeof(float));
    }
    st = CARVE_OK;
done:
    for (int i = 0; i < CARVE_NN_MAX_IO; i++) {
        if (iv[i]) g_api->ReleaseValue(iv[i]);
        if (ov[i]) g_api->ReleaseValue(ov[i]);
        free(half[i]);
    }
    if (ro) g_api->ReleaseRunOptions(ro);
    if (mi) g_api->ReleaseMemoryInfo(mi);
    if (st)
        for (int i = 0; i < nout; i++) carve__nn_tensor_free(&out[i]);
    return st;
}

void carve__nn_shutdown(void) {
    prewarm_join_all();
    pthread_mutex_lock(&g_lock);
    while (g_sessions) {
        session *n = g_sessions->next;
        g_api->ReleaseSession(g_sessions->s);
        free(g_sessions);
        g_sessions = n;
    }
    if (g_env) g_api->ReleaseEnv(g_env);
    g_env = NULL;
    g_api = NULL;
    /* The library stays mapped: unloading ONNX Runtime's static state at run
     * time is not supported by it; a later load reuses the mapping. */
    g_lib = NULL;
    pthread_mutex_unlock(&g_lock);
}

#else /* !CARVE_NN_HAVE_ORT */

bool carve__ort_compiled(void) { return false; }

carve_status carve__ort_load(carve_ctx *ctx, const char **version) {
    if (version) *version = NULL;
    return carve__fail(ctx, CARVE_ERR_NOT_FOUND,
                       "carve was built without the ONNX Runtime header; run scripts/onnx/setup.sh and rebuild "
                       "(meson setup --reconfigure)");
}

carve_status carve__ort_run(carve_ctx *ctx, const carve__nn_model *m, const carve__nn_tensor *in, int nin,
                            carve__nn_tensor *out, int nout) {
    (void)m, (void)in, (void)nin;
    for (int i = 0; i < nout; i++) out[i].data = NULL, out[i].rank = 0;
    return carve__ort_load(ctx, NULL);
}

carve_status carve__ort_check(carve_ctx *ctx, const carve__nn_model *m) {
    (void)m;
    return carve__ort_load(ctx, NULL);
}

void carve__ort_prewarm(carve_ctx *ctx, const carve__nn_model *m) { (void)ctx, (void)m; }
int carve__ort_prewarm_pending(void) { return 0; }

void carve__nn_shutdown(void) {}

const char *carve__ort_library(void) { return NULL; }

#endif
