/* io.c — whole-file reads and atomic writes (temp file + fsync + rename). */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

carve_status carve__read_file(carve_ctx *ctx, const char *path, size_t max_bytes, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (!path) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no file name given");
    bool is_stdin = !strcmp(path, "-");
    int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return carve__fail(ctx, CARVE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (!is_stdin && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return carve__fail(ctx, CARVE_ERR_IO, "cannot read '%s': is a folder", path);
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        if (!is_stdin) close(fd);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    for (;;) {
        if (n == cap) {
            if (max_bytes && n > max_bytes) break;
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                if (!is_stdin) close(fd);
                return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory reading '%s'", path);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            if (!is_stdin) close(fd);
            return carve__fail(ctx, CARVE_ERR_IO, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (max_bytes && n > max_bytes) break;
    }
    if (!is_stdin) close(fd);
    if (max_bytes && n > max_bytes) {
        free(buf);
        return carve__fail(ctx, CARVE_ERR_TOO_LARGE, "'%s' is larger than the limit of %zu bytes", path, max_bytes);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return CARVE_OK;
}

static carve_status write_all(carve_ctx *ctx, int fd, const void *data, size_t len, const char *path) {
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return carve__fail(ctx, CARVE_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return CARVE_OK;
}

#define FOLDER_MODE 0777 /* less the umask */

carve_status carve_make_folder(carve_ctx *ctx, const char *path) {
    if (!path || !*path) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no folder name given");
    if (carve__mkdir_p(path, FOLDER_MODE))
        return carve__fail(ctx, CARVE_ERR_IO, "cannot create folder '%s': %s", path, strerror(errno));
    return CARVE_OK;
}

carve_status carve_write_file(carve_ctx *ctx, const char *path, const void *data, size_t len) {
    if (!path || (!data && len)) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "no file name or data given");
    if (!strcmp(path, "-")) {
        carve_status st = write_all(ctx, 1, data, len, "standard output");
        return st;
    }
    /* Devices, FIFOs and sockets (-o /dev/null, -o /dev/stdout, a pipe) are
     * written in place: renaming a temporary file over them would replace
     * the device node itself. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode)) return carve__fail(ctx, CARVE_ERR_IO, "cannot write '%s': is a folder", path);
        int dfd = open(path, O_WRONLY | O_CLOEXEC);
        if (dfd < 0) return carve__fail(ctx, CARVE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        carve_status dst = write_all(ctx, dfd, data, len, path);
        close(dfd);
        return dst;
    }
    /* A symbolic link: replace the file it points to, not the link. */
    char *resolved = NULL;
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        resolved = realpath(path, NULL);
        if (resolved) path = resolved;
    }
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) {
        free(resolved);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        carve__fail(ctx, CARVE_ERR_IO, "cannot create '%s': %s", path, strerror(e));
        free(tmp);
        free(resolved);
        return CARVE_ERR_IO;
    }
    carve_status st = write_all(ctx, fd, data, len, path);
    if (!st && fsync(fd)) st = carve__fail(ctx, CARVE_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    /* mkstemp makes 0600; give the file the usual umask-derived mode */
    mode_t um = umask(0);
    umask(um);
    if (!st) fchmod(fd, 0666 & ~um);
    if (close(fd) && !st) st = carve__fail(ctx, CARVE_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    if (!st && rename(tmp, path)) st = carve__fail(ctx, CARVE_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    if (st) unlink(tmp);
    free(tmp);
    free(resolved);
    return st;
}
