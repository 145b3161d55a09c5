/* hugepages.c — see hugepages.h. */
#include "hugepages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <unistd.h>

#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define REEXEC "reexec" /* CARVE_HUGEPAGES in the re-executed process: never twice */

/* The tunables, each "name=value" (hugepages.h says why). */
static const char *const server_tunables[] = {"glibc.malloc.hugetlb=1", NULL};
static const char *const job_tunables[] = {
    "glibc.malloc.hugetlb=1",
    "glibc.malloc.mmap_threshold=33554432",   /* buffers up to 32 MB from the heap (the largest allowed) */
    "glibc.malloc.trim_threshold=1073741824", /* ... which is not given back while the job runs */
    "glibc.malloc.arena_max=1",               /* one heap for all threads: a freed page is reused by any */
    NULL};

/* True when the kernel has transparent huge pages and they are not off. */
static int thp_available(void) {
    FILE *f = fopen(THP_ENABLED, "r");
    if (!f) return 0;
    char line[128] = {0};
    int ok = fgets(line, sizeof line, f) != NULL && strstr(line, "[never]") == NULL;
    fclose(f);
    return ok;
}

/* True when the tunables string cur sets the tunable of "name=value". */
static int names(const char *cur, const char *tunable) {
    size_t n = strcspn(tunable, "=");
    for (const char *p = cur; p && *p;) {
        if (!strncmp(p, tunable, n) && p[n] == '=') return 1;
        p = strchr(p, ':');
        if (p) p++;
    }
    return 0;
}

/* val = old plus the tunables old does not set; 0 when nothing was added. */
static int extend(const char *old, const char *const *tun, char *val, size_t len) {
    int added = 0;
    snprintf(val, len, "%s", old);
    for (int i = 0; tun[i]; i++) {
        if (names(old, tun[i])) continue;
        size_t u = strlen(val);
        int n = snprintf(val + u, len - u, "%s%s", u ? ":" : "", tun[i]);
        if (n < 0 || (size_t)n >= len - u) return 0; /* too long: leave it all alone */
        added = 1;
    }
    return added;
}

void carve_tools_hugepages(char **argv, int one_job) {
    const char *opt = getenv("CARVE_HUGEPAGES"), *cur = getenv("GLIBC_TUNABLES");
    /* "0": the user's opt-out; "reexec": this process is the re-execution */
    if ((opt && (!strcmp(opt, "0") || !strcmp(opt, REEXEC))) || !thp_available()) return;
    char val[2048], old[1024];
    if (snprintf(old, sizeof old, "%s", cur ? cur : "") >= (int)sizeof old) return;
    if (!extend(old, one_job ? job_tunables : server_tunables, val, sizeof val) ||
        setenv("GLIBC_TUNABLES", val, 1))
        return;
    if (!setenv("CARVE_HUGEPAGES", REEXEC, 1)) execv("/proc/self/exe", argv);
    /* exec failed (no /proc, say): carry on as we are, with the caller's
     * environment for the programs we might start */
    if (*old) setenv("GLIBC_TUNABLES", old, 1);
    else unsetenv("GLIBC_TUNABLES");
    if (opt) setenv("CARVE_HUGEPAGES", opt, 1);
    else unsetenv("CARVE_HUGEPAGES");
}
#else
void carve_tools_hugepages(char **argv, int one_job) {
    (void)argv;
    (void)one_job;
}
#endif
