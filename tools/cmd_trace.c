/* cmd_trace.c — carve trace IN -o OUT.svg: flat-colour image to SVG. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(carve_ctx *ctx, cli_args *a) {
    if (a->npos != 1) {
        fprintf(stderr, "carve trace: expected one input image (see carve trace --help)\n");
        return EXIT_USAGE;
    }
    const char *out = a->output ? a->output : "-";
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
    "trace", "IN -o OUT.svg [options]   (IN or OUT '-': standard input / output)",
    "trace an image of few flat colours (a palette image) into a seam-free SVG",
    "core,trace", NULL, run};
