/* cmd_run.c — placeholder until the run command lands (being written now). */
#include "cli.h"

static int run(carve_ctx *ctx, cli_args *a) {
    (void)ctx;
    (void)a;
    fprintf(stderr, "carve run: not built yet\n");
    return EXIT_FAIL;
}

const cli_cmd cmd_run = {"run", "", "(not built yet)", "core", NULL, run};
