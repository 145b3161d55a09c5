/* cmd_palette.c — placeholder until the palette command lands (being written now). */
#include "cli.h"

static int run(carve_ctx *ctx, cli_args *a) {
    (void)ctx;
    (void)a;
    fprintf(stderr, "carve palette: not built yet\n");
    return EXIT_FAIL;
}

const cli_cmd cmd_palette = {"palette", "", "(not built yet)", "core", NULL, run};
