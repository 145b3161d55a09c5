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
    if (st) return cli_fail(ctx, st);
    cli_progress p = {"trace", -1, isatty(2) != 0, a->quiet};
    carve_ctx_set_progress(ctx, cli_progress_cb, &p);
    char *svg = NULL;
    size_t len = 0;
    st = carve_trace(ctx, img, &svg, &len);
    cli_progress_done(&p);
    carve_image_destroy(img);
    if (st) {
        if (st == CARVE_ERR_TOO_MANY_COLORS)
            fprintf(stderr, "carve: %s\n       hint: reduce the colours first: carve quantize %s -o flat.png --colors 16\n",
                    carve_ctx_errmsg(ctx), a->pos[0]);
        else
            cli_fail(ctx, st);
        return cli_exit_code(st);
    }
    st = carve_write_file(ctx, out, svg, len);
    carve_free(svg);
    if (st) return cli_fail(ctx, st);
    return 0;
}

const cli_cmd cmd_trace = {
    "trace", "IN -o OUT.svg [options]",
    "trace an image of few flat colours (a palette image) into a seam-free SVG",
    "core,trace", NULL, run};
