/* test_io.c — carve_write_file: atomic replacement of regular files, and
 * devices, FIFOs and symbolic links written in place (never replaced);
 * carve_make_folder. */
#include "test.h"
#include "core.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_regular_atomic(void) {
    carve_ctx *ctx = carve_ctx_create();
    char dir[] = "/tmp/carve_io_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/out.svg", dir);
    CHECK_ST(carve_write_file(ctx, path, "first", 5), CARVE_OK);
    CHECK_ST(carve_write_file(ctx, path, "second!", 7), CARVE_OK);
    char *data;
    size_t len;
    CHECK_ST(carve__read_file(ctx, path, 0, &data, &len), CARVE_OK);
    CHECK(len == 7 && !memcmp(data, "second!", 7));
    free(data);
    /* no temporary files left behind */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    CHECK(system(cmd) == 0);
    /* a folder as the output is a clear error */
    CHECK_ST(carve_write_file(ctx, dir, "x", 1), CARVE_ERR_IO);
    CHECK(strstr(carve_ctx_errmsg(ctx), "folder") != NULL);
    unlink(path);
    rmdir(dir);
    carve_ctx_destroy(ctx);
}

/* carve_make_folder: parents made, an existing folder fine, a file in the
 * way and an empty name are clear errors. */
static void test_make_folder(void) {
    carve_ctx *ctx = carve_ctx_create();
    char dir[] = "/tmp/carve_io_XXXXXX", path[300];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    CHECK_ST(carve_make_folder(ctx, path), CARVE_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_ST(carve_make_folder(ctx, path), CARVE_OK); /* already there */
    snprintf(path, sizeof path, "%s/file", dir);
    CHECK_ST(carve_write_file(ctx, path, "x", 1), CARVE_OK);
    snprintf(path, sizeof path, "%s/file/sub", dir);
    CHECK_ST(carve_make_folder(ctx, path), CARVE_ERR_IO);
    CHECKF(strstr(carve_ctx_errmsg(ctx), path) != NULL, "message '%s' does not name the path", carve_ctx_errmsg(ctx));
    CHECK_ST(carve_make_folder(ctx, ""), CARVE_ERR_INVALID_ARG);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    carve_ctx_destroy(ctx);
}

static void test_device_kept(void) {
    carve_ctx *ctx = carve_ctx_create();
    CHECK_ST(carve_write_file(ctx, "/dev/null", "data", 4), CARVE_OK);
    struct stat sb;
    CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    carve_ctx_destroy(ctx);
}

static void test_fifo_written_in_place(void) {
    carve_ctx *ctx = carve_ctx_create();
    char path[] = "/tmp/carve_io_fifoXXXXXX";
    int tfd = mkstemp(path);
    close(tfd);
    unlink(path);
    CHECK(mkfifo(path, 0600) == 0);
    int rfd = open(path, O_RDONLY | O_NONBLOCK);
    CHECK(rfd >= 0);
    CHECK_ST(carve_write_file(ctx, path, "via fifo", 8), CARVE_OK);
    char buf[16] = {0};
    CHECK(read(rfd, buf, sizeof buf) == 8 && !memcmp(buf, "via fifo", 8));
    close(rfd);
    struct stat sb;
    CHECK(lstat(path, &sb) == 0 && S_ISFIFO(sb.st_mode));
    unlink(path);
    carve_ctx_destroy(ctx);
}

static void test_symlink_target_replaced(void) {
    carve_ctx *ctx = carve_ctx_create();
    char dir[] = "/tmp/carve_io_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char target[256], link[256];
    snprintf(target, sizeof target, "%s/real.svg", dir);
    snprintf(link, sizeof link, "%s/link.svg", dir);
    CHECK_ST(carve_write_file(ctx, target, "old", 3), CARVE_OK);
    CHECK(symlink(target, link) == 0);
    CHECK_ST(carve_write_file(ctx, link, "new", 3), CARVE_OK);
    struct stat sb;
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    char *data;
    size_t len;
    CHECK_ST(carve__read_file(ctx, target, 0, &data, &len), CARVE_OK);
    CHECK(len == 3 && !memcmp(data, "new", 3));
    free(data);
    unlink(link);
    unlink(target);
    rmdir(dir);
    carve_ctx_destroy(ctx);
}

int main(void) {
    RUN(test_regular_atomic);
    RUN(test_make_folder);
    RUN(test_device_kept);
    RUN(test_fifo_written_in_place);
    RUN(test_symlink_target_replaced);
    return test_done();
}
