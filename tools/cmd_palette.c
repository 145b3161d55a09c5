/* cmd_palette.c — carve palette list | show NAME|FILE | check FILE |
 * extract IN: built-in palettes, swatches, validation of palette files and
 * automatic palettes. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_flag flags[] = {
    {"json", false, "show/extract: print the palette as JSON"},
    {"color", true, "show: swatches 'auto' (terminal that supports 24-bit colour), 'always' or 'never'"},
    {NULL, false, NULL},
};

static bool use_color(const cli_args *a) {
    const char *c = cli_extra(a, "color");
    if (c && !strcmp(c, "always")) return true;
    if (c && !strcmp(c, "never")) return false;
    if (!isatty(1)) return false;
    if (getenv("NO_COLOR")) return false;
    const char *ct = getenv("COLORTERM"), *term = getenv("TERM");
    if (ct && (strstr(ct, "truecolor") || strstr(ct, "24bit"))) return true;
    return term && (strstr(term, "truecolor") || strstr(term, "24bit") || strstr(term, "direct"));
}

static void print_palette(const carve_palette *pal, bool color) {
    int nc = carve_palette_count(pal);
    printf("%s (%d colour%s)\n", carve_palette_name(pal), nc, nc == 1 ? "" : "s");
    for (int i = 0; i < carve_palette_count(pal); i++) {
        uint32_t c = carve_palette_color(pal, i);
        const char *nm = carve_palette_color_name(pal, i);
        unsigned r = c >> 16 & 255, g = c >> 8 & 255, b = c & 255;
        if (color) printf("  \x1b[48;2;%u;%u;%um      \x1b[0m", r, g, b);
        printf("  %3d  #%06x  %3u %3u %3u  %s\n", i, (unsigned)c, r, g, b, nm ? nm : "");
    }
}

static int print_json(carve_ctx *ctx, const carve_palette *pal, const char *out) {
    char *js = carve_palette_to_json(pal);
    if (!js) {
        fprintf(stderr, "carve: out of memory\n");
        return EXIT_FAIL;
    }
    carve_status st = cli_write_line(ctx, out ? out : "-", js);
    carve_free(js);
    if (st == CARVE_ERR_NOMEM) {
        fprintf(stderr, "carve: out of memory\n");
        return EXIT_FAIL;
    }
    return st ? cli_fail(ctx, st) : 0;
}

static int usage(void) {
    fprintf(stderr, "usage: carve palette list\n"
                    "       carve palette show NAME|FILE [--json] [--color auto|always|never]\n"
                    "       carve palette check FILE...\n"
                    "       carve palette extract IMAGE [--colors K] [--lock \"#rrggbb,...\"] [-o OUT.json]\n");
    return EXIT_USAGE;
}

static int run(carve_ctx *ctx, cli_args *a) {
    if (a->npos < 1) return usage();
    const char *sub = a->pos[0];
    const char *col = cli_extra(a, "color");
    if (col && strcmp(col, "auto") && strcmp(col, "always") && strcmp(col, "never")) {
        fprintf(stderr, "carve palette: --color must be auto, always or never, not '%s'\n", col);
        return EXIT_USAGE;
    }
    if (!strcmp(sub, "list")) {
        if (a->npos != 1) return usage();
        for (int i = 0; i < carve_palette_builtin_count(); i++) {
            carve_palette *p = NULL;
            int n = carve_palette_builtin(ctx, carve_palette_builtin_name(i), &p) ? 0 : carve_palette_count(p);
            printf("%-14s %3d  %s\n", carve_palette_builtin_name(i), n, carve_palette_builtin_description(i));
            carve_palette_destroy(p);
        }
        return 0;
    }
    if (!strcmp(sub, "show")) {
        if (a->npos != 2) return usage();
        carve_palette *p = NULL;
        carve_status st = carve_palette_resolve(ctx, a->pos[1], &p);
        if (st) {
            int e = cli_fail(ctx, st);
            return st == CARVE_ERR_IO ? EXIT_INPUT : e;
        }
        int rc = 0;
        if (cli_extra(a, "json")) rc = print_json(ctx, p, a->output);
        else print_palette(p, use_color(a));
        carve_palette_destroy(p);
        return rc;
    }
    if (!strcmp(sub, "check")) {
        if (a->npos < 2) return usage();
        int rc = 0;
        for (int i = 1; i < a->npos; i++) {
            carve_palette *p = NULL;
            carve_status st = carve_palette_load(ctx, a->pos[i], &p);
            if (st) {
                int e = cli_fail(ctx, st);
                if (st == CARVE_ERR_IO) e = EXIT_INPUT;
                if (!rc) rc = e;
                continue;
            }
            int nc = carve_palette_count(p);
            printf("%s: ok, '%s', %d colour%s\n", a->pos[i], carve_palette_name(p), nc, nc == 1 ? "" : "s");
            carve_palette_destroy(p);
        }
        return rc;
    }
    if (!strcmp(sub, "extract")) {
        if (a->npos != 2) return usage();
        char colors[32], lock[4096];
        carve_ctx_get_option(ctx, "colors", colors, sizeof colors);
        carve_ctx_get_option(ctx, "lock", lock, sizeof lock);
        carve_palette *locked = NULL, *p = NULL;
        carve_status st;
        if (*lock && (st = carve_palette_parse(ctx, lock, strlen(lock), "--lock", &locked))) return cli_fail(ctx, st);
        carve_image *img = NULL;
        st = carve_image_load(ctx, a->pos[1], &img);
        if (!st) st = carve_palette_from_image(ctx, img, atoi(colors), locked, &p);
        carve_image_destroy(img);
        carve_palette_destroy(locked);
        if (st) {
            int e = cli_fail(ctx, st);
            return st == CARVE_ERR_IO && !p ? EXIT_INPUT : e;
        }
        int rc = 0;
        if (cli_extra(a, "json") || a->output) rc = print_json(ctx, p, a->output);
        else print_palette(p, use_color(a));
        carve_palette_destroy(p);
        return rc;
    }
    fprintf(stderr, "carve palette: unknown subcommand '%s'\n", sub);
    return usage();
}

const cli_cmd cmd_palette = {
    "palette", "list | show NAME|FILE | check FILE... | extract IMAGE [--colors K]",
    "built-in palettes, swatches, palette file validation (.gpl, JSON, hex list), automatic palettes",
    "core,chroma", flags, run};
