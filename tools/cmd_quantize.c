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

/* The palette options, resolved before the (slow) image work: a named or
 * file palette (*pal), or the colours to lock for --colors (*locked). */
static int resolve_palettes(carve_ctx *ctx, carve_palette **pal, carve_palette **locked) {
    char pal_opt[4096], lock[4096];
    carve_ctx_get_option(ctx, "palette", pal_opt, sizeof pal_opt);
    carve_ctx_get_option(ctx, "lock", lock, sizeof lock);
    carve_status st;
    if (*pal_opt) {
        st = carve_palette_resolve(ctx, pal_opt, pal);
        if (st) {
            int e = cli_fail(ctx, st);
            return st == CARVE_ERR_IO ? EXIT_INPUT : e;
        }
        if (*lock) fprintf(stderr, "carve quantize: note: --lock only applies with --colors (no --palette); ignored\n");
    } else if (*lock) {
        st = carve_palette_parse(ctx, lock, strlen(lock), "--lock", locked);
        if (st) return cli_fail(ctx, st);
    }
    return 0;
}

/* Upscale (when asked), choose the palette (without --palette), quantize:
 * *img may be replaced by its upscaled copy, *pal is set if it was NULL. */
static carve_status quantize_image(carve_ctx *ctx, cli_progress *p, carve_image **img, carve_palette **pal,
                                   const carve_palette *locked, carve_image **res) {
    carve_status st = CARVE_OK;
    double f = upscale_factor(ctx, carve_image_width(*img), carve_image_height(*img));
    if (f > 1) {
        carve_image *up = NULL;
        p->label = "upscale";
        if ((st = carve_upscale(ctx, *img, f, &up))) return st;
        carve_image_destroy(*img);
        *img = up;
    }
    if (!*pal) {
        char colors[32];
        carve_ctx_get_option(ctx, "colors", colors, sizeof colors);
        p->label = "palette";
        if ((st = carve_palette_from_image(ctx, *img, atoi(colors), locked, pal))) return st;
    }
    p->label = "quantize";
    return carve_quantize(ctx, *img, *pal, res);
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
    carve_palette *pal = NULL, *locked = NULL;
    int rc = resolve_palettes(ctx, &pal, &locked);
    if (rc) return rc;
    carve_image *img = NULL, *res = NULL;
    carve_status st = carve_image_load(ctx, a->pos[0], &img);
    if (st) {
        rc = cli_fail(ctx, st);
        if (st == CARVE_ERR_IO) rc = EXIT_INPUT; /* an unreadable input, not an output problem */
        goto done;
    }
    cli_progress p = {"quantize", -1, isatty(2) != 0, a->quiet};
    carve_ctx_set_progress(ctx, cli_progress_cb, &p);
    st = quantize_image(ctx, &p, &img, &pal, locked, &res);
    cli_progress_done(&p);
    if (!st) st = carve_image_save(ctx, res, a->output);
    const char *save_pal = cli_extra(a, "save-palette");
    if (!st && save_pal) {
        char *js = carve_palette_to_json(pal);
        st = js ? cli_write_line(ctx, save_pal, js) : CARVE_ERR_NOMEM;
        carve_free(js);
        if (st == CARVE_ERR_NOMEM) {
            fprintf(stderr, "carve: out of memory\n");
            rc = EXIT_FAIL;
            goto done;
        }
    }
    if (st) {
        rc = cli_fail(ctx, st);
        goto done;
    }
    if (!a->quiet && strcmp(a->output, "-"))
        fprintf(stderr, "carve quantize: %dx%d, palette '%s' (%d colours) -> %s\n", carve_image_width(res),
                carve_image_height(res), carve_palette_name(pal), carve_palette_count(pal), a->output);
done:
    carve_image_destroy(img);
    carve_image_destroy(res);
    carve_palette_destroy(pal);
    carve_palette_destroy(locked);
    return rc;
}

const cli_cmd cmd_quantize = {
    "quantize", "IN -o OUT.png (--palette NAME|FILE | --colors K [--lock \"#c8102e,#ffffff\"]) [options]",
    "map an image to a palette by least CIEDE2000 (exact), remove speckles; writes an indexed PNG",
    "core,chroma", flags, run};
