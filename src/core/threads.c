/* threads.c — a small parallel-for on pthreads.  Work items are claimed with
 * an atomic counter; results must be written per item so that the output
 * never depends on the thread count or scheduling. */
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

typedef struct pf_state {
    carve__task_fn fn;
    void *arg;
    int64_t n;
    atomic_llong next;
    atomic_int stop;
    pthread_mutex_t mu;
    int rc;
    int64_t rc_index;
} pf_state;

static void *pf_worker(void *p) {
    pf_state *s = p;
    for (;;) {
        if (atomic_load(&s->stop)) break;
        int64_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->n) break;
        int rc = s->fn(s->arg, i);
        if (rc) {
            pthread_mutex_lock(&s->mu);
            if (!s->rc || i < s->rc_index) {
                s->rc = rc;
                s->rc_index = i;
            }
            pthread_mutex_unlock(&s->mu);
            atomic_store(&s->stop, 1);
        }
    }
    return NULL;
}

int carve__parallel_for(int threads, int64_t n, carve__task_fn fn, void *arg) {
    if (n <= 0) return 0;
    if (threads < 1) threads = 1;
    if (threads > n) threads = (int)n;
    if (threads == 1) {
        for (int64_t i = 0; i < n; i++) {
            int rc = fn(arg, i);
            if (rc) return rc;
        }
        return 0;
    }
    pf_state s;
    s.fn = fn;
    s.arg = arg;
    s.n = n;
    atomic_init(&s.next, 0);
    atomic_init(&s.stop, 0);
    pthread_mutex_init(&s.mu, NULL);
    s.rc = 0;
    s.rc_index = 0;
    pthread_t *tids = malloc(sizeof(pthread_t) * (size_t)(threads - 1));
    int started = 0;
    if (tids)
        for (; started < threads - 1; started++)
            if (pthread_create(&tids[started], NULL, pf_worker, &s)) break;
    pf_worker(&s); /* the calling thread works too */
    for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
    free(tids);
    pthread_mutex_destroy(&s.mu);
    return s.rc;
}

int carve__threads(const carve_ctx *ctx) {
    int t = ctx ? (int)carve__opt_int(ctx, CARVE_OPTID_threads) : 0;
    if (t <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        t = n > 0 ? (int)n : 1;
        if (t > 64) t = 64;
    }
    return t;
}

double carve__cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int carve__cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

size_t carve__peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (size_t)ru.ru_maxrss * 1024u;
}
