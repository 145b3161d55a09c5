/* fs.c — folders: carve__mkdir_p (carve_util.h). */
#include "carve_util.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/* the longest path carve__mkdir_p takes (PATH_MAX on Linux) */
#define MKDIR_P_MAX 4096

int carve__mkdir_p(const char *path, unsigned mode) {
    char buf[MKDIR_P_MAX];
    if (!path || !*path) {
        errno = ENOENT;
        return -1;
    }
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, (mode_t)mode) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, (mode_t)mode) && errno != EEXIST) return -1;
    struct stat st;
    if (stat(buf, &st)) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}
