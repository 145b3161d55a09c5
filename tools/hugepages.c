/* hugepages.c — see hugepages.h. */
#include "hugepages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <unistd.h>

#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define TUNABLE "glibc.malloc.hugetlb"
#define REEXEC "reexec" /* CARVE_HUGEPAGES in the re-executed process: never twice */

/* True when the kernel has transparent huge pages and they are not off. */
static int thp_available(void) {
    FILE *f = fopen(THP_ENABLED, "r");
    if (!f) return 0;
    char line[128] = {0};
    int ok = fgets(line, sizeof line, f) != NULL && strstr(line, "[never]") == NULL;
    fclose(f);
    return ok;
}

void carve_tools_hugepages(char **argv) {
    const char *opt = getenv("CARVE_HUGEPAGES"), *cur = getenv("GLIBC_TUNABLES");
    /* "0": the user's opt-out; "reexec": this process is the re-execution */
    if ((opt && (!strcmp(opt, "0") || !strcmp(opt, REEXEC))) || (cur && strstr(cur, TUNABLE)) || !thp_available())
        return;
    char val[1024], old[1024];
    snprintf(old, sizeof old, "%s", cur ? cur : "");
    int n = *old ? snprintf(val, sizeof val, "%s:%s=1", old, TUNABLE) : snprintf(val, sizeof val, "%s=1", TUNABLE);
    if (n < 0 || (size_t)n >= sizeof val || setenv("GLIBC_TUNABLES", val, 1)) return;
    if (!setenv("CARVE_HUGEPAGES", REEXEC, 1)) execv("/proc/self/exe", argv);
    /* exec failed (no /proc, say): carry on as we are, with the caller's
     * environment for the programs we might start */
    if (*old) setenv("GLIBC_TUNABLES", old, 1);
    else unsetenv("GLIBC_TUNABLES");
    if (opt) setenv("CARVE_HUGEPAGES", opt, 1);
    else unsetenv("CARVE_HUGEPAGES");
}
#else
void carve_tools_hugepages(char **argv) { (void)argv; }
#endif
