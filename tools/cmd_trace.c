/* cmd_trace.c — carve trace IN -o OUT.svg|.pdf|.eps|.dxf: flat-colour image
 * to a vector document (the format from the output's extension). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Start-up: vips_init loads every libvips module (heif, jxl, magick,
 * openslide, poppler: ~35 more shared libraries, about 0.035 s of CPU, more
 * than a 640x480 trace).  A PNG, JPEG or WebP file is always decoded by
 * libvips' built-in loader (the module loaders rank below it), so for such a
 * file the modules are pointless: VIPSHOME (libvips' install prefix, read
 * once by vips_init) is pointed below /dev/null, where no module folder can
 * ever exist.  Every other input (HEIC, JPEG XL, TIFF, PDF, standard input
 * ...) and an explicit VIPSHOME keep the normal start-up. */
static void skip_vips_modules_if_builtin(const char *path) {
    if (!strcmp(path, "-") || getenv("VIPSHOME")) return;
    unsigned char m[12] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    bool png = n >= 8 && !memcmp(m, "\x89PNG\r\n\x1a\n", 8);
    bool jpeg = n >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff;
    bool webp = n >= 12 && !memcmp(m, "RIFF", 4) && !memcmp(m + 8, "WEBP", 4);
    if (png || jpeg || webp) setenv("VIPSHOME", "/dev/null", 0);
}

static int run(carve_ctx *ctx, cli_args *a) {
    if (a->npos != 1) {
        fprintf(stderr, "carve trace: expected one input image (see carve trace --help)\n");
        return EXIT_USAGE;
    }
    const char *out = a->output ? a->output : "-";
    int frc = cli_format_from_output(ctx, "trace", out);
    if (frc) return frc;
    skip_vips_modules_if_builtin(a->pos[0]);
    carve_image *img = NULL;
    carve_status st = carve_image_load(ctx, a->pos[0], &img);
    if (st) {
        /* a missing, unreadable, corrupt or too large input is an input error */
        cli_fail(ctx, st);
        return st == CARVE_ERR_NOMEM ? EXIT_FAIL : EXIT_INPUT;
    }
    cli_progress p = {"trace", -1, isatty(2) != 0, a->quiet};
    carve_ctx_set_progress(ctx, cli_progress_cb, &p);
    char *svg = NULL;
    size_t len = 0;
    st = carve_trace(ctx, img, &svg, &len);
    cli_progress_done(&p);
    carve_image_destroy(img);
    if (st) {
        if (st == CARVE_ERR_TOO_MANY_COLORS) {
            fprintf(stderr, "carve: %s\n       e.g.: carve quantize %s -o flat.png --colors 16 && carve trace flat.png -o %s\n",
                    carve_ctx_errmsg(ctx), a->pos[0], a->output ? a->output : "out.svg");
            return EXIT_INPUT;
        }
        return cli_fail(ctx, st);
    }
    st = carve_write_file(ctx, out, svg, len);
    carve_free(svg);
    if (st) return cli_fail(ctx, st);
    return 0;
}

const cli_cmd cmd_trace = {
    "trace", "IN -o OUT.svg|.pdf|.eps|.dxf [options]   (IN or OUT '-': standard input / output)",
    "trace an image of few flat colours (a palette image) into a seam-free SVG, PDF, EPS or DXF",
    "core,trace", NULL, run};
