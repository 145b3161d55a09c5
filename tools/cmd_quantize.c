/* cmd_quantize.c — placeholder until the quantize command lands (being written now). */
#include "cli.h"

static int run(carve_ctx *ctx, cli_args *a) {
    (void)ctx;
    (void)a;
    fprintf(stderr, "carve quantize: not built yet\n");
    return EXIT_FAIL;
}

const cli_cmd cmd_quantize = {"quantize", "", "(not built yet)", "core", NULL, run};
