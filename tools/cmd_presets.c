/* cmd_presets.c — carve presets: install a preset by name (add), list the
 * built-in and installed presets (list), print the presets folder (path). */
#include "cli.h"

#include <errno.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define PRESET_FILE_MAX (1 << 20)

static int add(carve_ctx *ctx, const char *name, const char *file) {
    FILE *f = fopen(file, "rb");
    if (!f) return cli_fail(ctx, carve_ctx_set_error(ctx, CARVE_ERR_IO, 0, "cannot open '%s': %s", file, strerror(errno)));
    char *text = malloc(PRESET_FILE_MAX + 1);
    size_t len = text ? fread(text, 1, PRESET_FILE_MAX + 1, f) : 0;
    fclose(f);
    carve_status st = !text ? CARVE_ERR_NOMEM
                    : len > PRESET_FILE_MAX ? carve_ctx_set_error(ctx, CARVE_ERR_CONFIG, 0, "'%s' is larger than 1 MiB", file)
                    : CARVE_OK;
    if (!st) {
        text[len] = 0;
        st = carve_preset_install(ctx, name, text);
    }
    free(text);
    if (st) return cli_fail(ctx, st);
    char *dir = carve_presets_dir(ctx);
    fprintf(stderr, "carve presets: installed '%s' in %s (use --preset %s)\n", name, dir ? dir : "?", name);
    carve_free(dir);
    return 0;
}

static int list(carve_ctx *ctx) {
    const carve_option_info *o = carve_option_find("preset");
    const char *p = o && o->choices ? o->choices : "";
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        printf("%.*s\tbuilt-in\n", (int)n, p);
        p = bar ? bar + 1 : p + n;
    }
    char *dir = carve_presets_dir(ctx);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".json") && e->d_name[0] != '.')
            printf("%.*s\t%s/%s\n", (int)(n - 5), e->d_name, dir, e->d_name);
    }
    if (d) closedir(d);
    carve_free(dir);
    return 0;
}

static int run(carve_ctx *ctx, cli_args *a) {
    const char *sub = a->npos ? a->pos[0] : NULL;
    if (sub && !strcmp(sub, "add") && a->npos == 3) return add(ctx, a->pos[1], a->pos[2]);
    if (sub && !strcmp(sub, "list") && a->npos == 1) return list(ctx);
    if (sub && !strcmp(sub, "path") && a->npos == 1) {
        char *dir = carve_presets_dir(ctx);
        if (!dir) return EXIT_FAIL;
        printf("%s\n", dir);
        carve_free(dir);
        return 0;
    }
    fprintf(stderr, "usage: carve presets add NAME FILE | list | path\n");
    return EXIT_USAGE;
}

const cli_cmd cmd_presets = {
    "presets", "add NAME style.json | list | path",
    "install a preset (e.g. from carve tune) by name, list presets, print the presets folder",
    "core", NULL, run,
};
