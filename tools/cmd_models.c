/* cmd_models.c — placeholder until the models command lands (being written now). */
#include "cli.h"

static int run(carve_ctx *ctx, cli_args *a) {
    (void)ctx;
    (void)a;
    fprintf(stderr, "carve models: not built yet\n");
    return EXIT_FAIL;
}

const cli_cmd cmd_models = {"models", "", "(not built yet)", "core", NULL, run};
