/* cmd_quantize.c — carve quantize IN -o OUT.png: map a photo to a palette
 * (exact least CIEDE2000), remove speckles, optionally upscale first. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_flag flags[] = {
    {"save-palette", true, "also write the palette used as JSON to this file"},
    {NULL, false, NULL},
};

static double upscale_factor(carve_ctx *ctx, int w, int h) {
    char buf[64];
    double f = 1;
    int to = 0;
    if (carve_ctx_get_option(ctx, "upscale", buf, sizeof buf) == CARVE_OK) f = atof(buf);
    if (carve_ctx_get_option(ctx, "upscale_to", buf, sizeof buf) == CARVE_OK) to = atoi(buf);
    int longest = w > h ? w : h;
    if (to > 0 && longest > 0 && longest < to && (double)to / longest > f) f = (double)to / longest;
    return f < 1 ? 1 : f > 8 ? 8 : f;
}

static int run(carve_ctx *ctx, cli_args *a) {
    if (a->npos != 1) {
        fprintf(stderr, "carve quantize: expected one input image (see carve quantize --help)\n");
        return EXIT_USAGE;
    }
    if (!a->output) {
        fprintf(stderr, "carve quantize: -o OUT.png is required ('-' writes PNG to standard output)\n");
        return EXIT_USAGE;
    }
    char pal_opt[4096], lock[4096], colors[32];
    carve_ctx_get_option(ctx, "palette", pal_opt, sizeof pal_opt);
    carve_ctx_get_option(ctx, "lock", lock, sizeof lock);
    carve_ctx_get_option(ctx, "colors", colors, sizeof colors);

    /* resolve a named/file palette before the (slow) image work */
    carve_palette *pal = NULL, *locked = NULL;
    carve_status st;
    if (*pal_opt) {
        st = carve_palette_resolve(ctx, pal_opt, &pal);
        if (st) {
            int e = cli_fail(ctx, st);
            return st == CARVE_ERR_IO ? EXIT_INPUT : e;
        }
        if (*lock) fprintf(stderr, "carve quantize: note: --lock only applies with --colors (no --palette); ignored\n");
    } else if (*lock) {
        st = carve_palette_parse(ctx, lock, strlen(lock), "--lock", &locked);
        if (st) return cli_fail(ctx, st);
    }

    carve_image *img = NULL, *up = NULL, *res = NULL;
    int rc = 0;
    st = carve_image_load(ctx, a->pos[0], &img);
    if (st) {
        rc = cli_fail(ctx, st);
        if (st == CARVE_ERR_IO) rc = EXIT_INPUT; /* an unreadable input, not an output problem */
        goto done;
    }
    cli_progress p = {"quantize", -1, isatty(2) != 0, a->quiet};
    carve_ctx_set_progress(ctx, cli_progress_cb, &p);
    double f = upscale_factor(ctx, carve_image_width(img), carve_image_height(img));
    if (f > 1) {
        p.label = "upscale";
        st = carve_upscale(ctx, img, f, &up);
        if (st) {
            cli_progress_done(&p);
            rc = cli_fail(ctx, st);
            goto done;
        }
        carve_image_destroy(img);
        img = up;
        up = NULL;
    }
    if (!pal) {
        p.label = "palette";
        st = carve_palette_from_image(ctx, img, atoi(colors), locked, &pal);
        if (st) {
            cli_progress_done(&p);
            rc = cli_fail(ctx, st);
            goto done;
        }
    }
    p.label = "quantize";
    st = carve_quantize(ctx, img, pal, &res);
    cli_progress_done(&p);
    if (st) {
        rc = cli_fail(ctx, st);
        goto done;
    }
    st = carve_image_save(ctx, res, a->output);
    if (st) {
        rc = cli_fail(ctx, st);
        goto done;
    }
    const char *save_pal = cli_extra(a, "save-palette");
    if (save_pal) {
        char *js = carve_palette_to_json(pal);
        if (!js) {
            fprintf(stderr, "carve: out of memory\n");
            rc = EXIT_FAIL;
            goto done;
        }
        size_t len = strlen(js);
        char *withnl = malloc(len + 2);
        if (withnl) {
            memcpy(withnl, js, len);
            withnl[len] = '\n';
            st = carve_write_file(ctx, save_pal, withnl, len + 1);
            free(withnl);
        } else {
            st = CARVE_ERR_NOMEM;
        }
        carve_free(js);
        if (st) {
            rc = cli_fail(ctx, st);
            goto done;
        }
    }
    if (!a->quiet && strcmp(a->output, "-"))
        fprintf(stderr, "carve quantize: %dx%d, palette '%s' (%d colours) -> %s\n", carve_image_width(res),
                carve_image_height(res), carve_palette_name(pal), carve_palette_count(pal), a->output);
done:
    carve_image_destroy(img);
    carve_image_destroy(up);
    carve_image_destroy(res);
    carve_palette_destroy(pal);
    carve_palette_destroy(locked);
    return rc;
}

const cli_cmd cmd_quantize = {
    "quantize", "IN -o OUT.png (--palette NAME|FILE | --colors K [--lock \"#c8102e,#ffffff\"]) [options]",
    "map an image to a palette by least CIEDE2000 (exact), remove speckles; writes an indexed PNG",
    "core,chroma", flags, run};
