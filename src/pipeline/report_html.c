/* report_html.c — the run report as one self-contained HTML page: every
 * phase image side by side (base64 PNG data URIs), the final SVG inline, the
 * timings, backends and fallback reasons, and the raw JSON. */
#include "pipeline/pipeline.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void put_esc(carve__buf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': carve__buf_puts(b, "&amp;"); break;
        case '<': carve__buf_puts(b, "&lt;"); break;
        case '>': carve__buf_puts(b, "&gt;"); break;
        case '"': carve__buf_puts(b, "&quot;"); break;
        default: carve__buf_putc(b, *s);
        }
    }
}

static void put_base64(carve__buf *b, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < n) v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < n) v |= d[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        carve__buf_put(b, q, 4);
    }
}

static const char *js(json_t *o, const char *key) {
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static double jn(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

/* The phase and step that produced an intermediate, for its caption. */
static const struct { const char *image, *phase, *step; } producers[] = {
    {"erase_mask", "sanitize", "detect"}, {"sanitize", "sanitize", "inpaint"}, {"matte", "steer", "matte"},
    {"edges", "steer", "edges"},          {"steer", "steer", "flatten"},       {"chroma", "chroma", "quantize"},
};

static json_t *find_phase(json_t *report, const char *name) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(report, "phases"), i, p) if (!strcmp(js(p, "name"), name)) return p;
    return NULL;
}

static json_t *find_step(json_t *phase, const char *name) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(phase, "steps"), i, p) if (!strcmp(js(p, "name"), name)) return p;
    return NULL;
}

#define HTML_MAX_SIDE 800

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px}"
    "figure{margin:0;background:#fff;border:1px solid #ddd;padding:8px}"
    "figure img,figure .svg svg{width:100%;height:auto;display:block}"
    "figure img,figure .svg{background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}"
    "figcaption{margin-top:6px;font-size:12px;color:#555}figcaption b{color:#222}"
    "table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;"
    "vertical-align:top;font-size:13px}th{background:#f0f0f0}td.n{text-align:right}"
    ".fail{color:#b00}.fb{color:#a60}.na{color:#888}.sw{display:inline-block;width:18px;height:18px;border:1px solid #888;"
    "margin-right:2px;vertical-align:middle}pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;"
    "font-size:12px}";

/* title, status line, error and palette swatches */
static void put_summary(carve__buf *b, json_t *r, const char *title) {
    carve__buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>carve run: ");
    put_esc(b, title ? title : "report");
    carve__buf_printf(b, "</title><style>%s</style></head><body>\n<h1>carve run: ", css);
    put_esc(b, title ? title : "report");
    carve__buf_puts(b, "</h1>\n");
    json_t *inp = json_object_get(r, "input"), *tot = json_object_get(r, "totals");
    const char *status = js(r, "status");
    carve__buf_printf(b, "<p>status <b class=\"%s\">", strcmp(status, "ok") ? "fail" : "");
    put_esc(b, status);
    carve__buf_printf(b, "</b> &middot; input %lldx%lld, processed at %lldx%lld &middot; total %.3f s &middot; "
                         "peak RSS %.1f MB &middot; carve %s</p>\n",
                      (long long)json_integer_value(json_object_get(inp, "width")),
                      (long long)json_integer_value(json_object_get(inp, "height")),
                      (long long)json_integer_value(json_object_get(inp, "work_width")),
                      (long long)json_integer_value(json_object_get(inp, "work_height")), jn(tot, "time_s"),
                      jn(tot, "peak_rss_mb"), js(r, "carve_version"));
    json_t *err = json_object_get(r, "error");
    if (err) {
        carve__buf_puts(b, "<p class=\"fail\">error: ");
        put_esc(b, js(err, "message"));
        carve__buf_puts(b, "</p>\n");
    }
    json_t *pal = json_object_get(json_object_get(find_phase(r, "chroma") ? find_phase(r, "chroma") : r, "palette"),
                                  "colors");
    if (!json_array_size(pal)) return;
    carve__buf_printf(b, "<p>palette (%zu): ", json_array_size(pal));
    size_t i;
    json_t *c;
    json_array_foreach(pal, i, c) {
        carve__buf_puts(b, "<span class=\"sw\" title=\"");
        put_esc(b, json_string_value(c));
        carve__buf_puts(b, "\" style=\"background:");
        put_esc(b, json_string_value(c));
        carve__buf_puts(b, "\"></span>");
    }
    carve__buf_puts(b, "</p>\n");
}

/* one phase image as an embedded PNG (at most HTML_MAX_SIDE wide) with the
 * step that made it */
static carve_status put_image(carve_ctx *ctx, carve__buf *b, json_t *r, const carve__intermediate *it) {
    const carve_image *show = it->img;
    carve_image *small = NULL;
    int ls = it->img->w > it->img->h ? it->img->w : it->img->h;
    if (ls > HTML_MAX_SIDE) {
        int w = (int)((int64_t)it->img->w * HTML_MAX_SIDE / ls), h = (int)((int64_t)it->img->h * HTML_MAX_SIDE / ls);
        carve_status st = carve__resize(ctx, it->img, w > 0 ? w : 1, h > 0 ? h : 1, CARVE_KERNEL_LANCZOS3, &small);
        if (st) return st;
        show = small;
    }
    void *png = NULL;
    size_t plen = 0;
    carve_status st = carve_image_save_memory(ctx, show, ".png", &png, &plen);
    carve_image_destroy(small);
    if (st) return st;
    carve__buf_puts(b, "<figure><img alt=\"");
    put_esc(b, it->name);
    carve__buf_puts(b, "\" src=\"data:image/png;base64,");
    put_base64(b, png, plen);
    carve_free(png);
    carve__buf_puts(b, "\"><figcaption><b>");
    put_esc(b, it->name);
    carve__buf_printf(b, "</b> %dx%d", it->img->w, it->img->h);
    if (!strcmp(it->name, "input")) carve__buf_puts(b, " &middot; the original photo at the work size");
    for (size_t k = 0; k < sizeof producers / sizeof producers[0]; k++) {
        if (strcmp(producers[k].image, it->name)) continue;
        json_t *sp = find_step(find_phase(r, producers[k].phase), producers[k].step);
        if (!sp) break;
        carve__buf_printf(b, " &middot; %s/%s (", producers[k].phase, producers[k].step);
        put_esc(b, js(sp, "backend"));
        carve__buf_printf(b, ", %.3f s)", jn(sp, "time_s"));
    }
    carve__buf_puts(b, "</figcaption></figure>\n");
    return CARVE_OK;
}

/* the final SVG inline, without its XML declaration and doctype */
static void put_svg(carve__buf *b, json_t *r, const char *svg, size_t svg_len) {
    const char *s = strstr(svg, "<svg");
    carve__buf_puts(b, "<figure><div class=\"svg\">");
    if (s) carve__buf_put(b, s, svg_len - (size_t)(s - svg));
    json_t *ph = find_phase(r, "vector");
    carve__buf_printf(b, "</div><figcaption><b>final SVG</b> %zu bytes", svg_len);
    if (ph) {
        carve__buf_puts(b, " &middot; trace (");
        put_esc(b, js(ph, "backend"));
        carve__buf_printf(b, ", %.3f s)", jn(ph, "time_s"));
    }
    carve__buf_puts(b, "</figcaption></figure>\n");
}

/* one step's row: backend, status, times and every fallback */
static void put_step_row(carve__buf *b, json_t *ph, json_t *sp) {
    const char *sst = js(sp, "status");
    carve__buf_puts(b, "<tr><td>");
    put_esc(b, js(ph, "name"));
    carve__buf_puts(b, "</td><td>");
    put_esc(b, js(sp, "name"));
    carve__buf_puts(b, "</td><td>");
    put_esc(b, js(sp, "backend"));
    carve__buf_printf(b, "</td><td class=\"%s\">",
                      !strcmp(sst, "fallback") ? "fb" : (!strcmp(sst, "failed") || !strcmp(sst, "cancelled")) ? "fail" : "");
    put_esc(b, sst);
    carve__buf_printf(b, "</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">%.1f</td><td>",
                      jn(sp, "time_s"), jn(sp, "cpu_s"), jn(sp, "peak_rss_mb"));
    if (*js(sp, "reason")) put_esc(b, js(sp, "reason"));
    size_t k;
    json_t *fb;
    json_array_foreach(json_object_get(sp, "fallbacks"), k, fb) {
        bool na = json_is_true(json_object_get(fb, "unavailable"));
        carve__buf_puts(b, na ? "<div class=\"na\">" : "<div class=\"fb\">");
        put_esc(b, js(fb, "backend"));
        carve__buf_puts(b, na ? " unavailable: " : " not used: ");
        put_esc(b, js(fb, "reason"));
        carve__buf_puts(b, "</div>");
    }
    carve__buf_puts(b, "</td></tr>\n");
}

static void put_timings(carve__buf *b, json_t *r) {
    json_t *tot = json_object_get(r, "totals");
    carve__buf_puts(b, "<h2>timings, backends and fallbacks</h2>\n<table><tr><th>phase</th><th>step</th>"
                       "<th>backend</th><th>status</th><th>time s</th><th>CPU s</th><th>peak RSS MB</th><th>notes</th></tr>\n");
    carve__buf_printf(b, "<tr><td>prepare</td><td>load/resize</td><td>libvips</td><td>ok</td><td class=\"n\">%.3f</td>"
                         "<td></td><td></td><td></td></tr>\n",
                      jn(r, "prepare_time_s"));
    size_t i, j;
    json_t *ph, *sp;
    json_array_foreach(json_object_get(r, "phases"), i, ph) {
        json_array_foreach(json_object_get(ph, "steps"), j, sp) put_step_row(b, ph, sp);
    }
    carve__buf_printf(b, "<tr><th colspan=\"4\">total</th><th class=\"n\">%.3f</th><th class=\"n\">%.3f</th>"
                         "<th class=\"n\">%.1f</th><th></th></tr></table>\n",
                      jn(tot, "time_s"), jn(tot, "cpu_s"), jn(tot, "peak_rss_mb"));
}

carve_status carve__report_html(carve_ctx *ctx, const char *title, const char *svg, size_t svg_len, char **html,
                                size_t *len) {
    *html = NULL;
    if (len) *len = 0;
    const carve__run_results *res = carve__results(ctx);
    if (!res || !res->report_json) return carve__fail(ctx, CARVE_ERR_EMPTY, "no run report: call carve_run first");
    json_t *r = json_loads(res->report_json, 0, NULL);
    if (!r) return carve__fail(ctx, CARVE_ERR_INTERNAL, "the run report is not valid JSON");
    carve__buf b;
    carve__buf_init(&b);
    carve_status st = CARVE_OK;
    put_summary(&b, r, title);
    carve__buf_puts(&b, "<h2>phases</h2>\n<div class=\"grid\">\n");
    for (const carve__intermediate *it = res->intermediates; it && !st; it = it->next) st = put_image(ctx, &b, r, it);
    if (svg && svg_len && !st) put_svg(&b, r, svg, svg_len);
    carve__buf_puts(&b, "</div>\n");
    if (!res->intermediates) carve__buf_puts(&b, "<p>(no phase images: run with option keep_intermediates)</p>\n");
    put_timings(&b, r);
    carve__buf_puts(&b, "<h2>run report (JSON)</h2>\n<details><summary>show</summary><pre>");
    put_esc(&b, res->report_json);
    carve__buf_puts(&b, "</pre></details>\n</body></html>\n");
    json_decref(r);
    if (st) {
        carve__buf_free(&b);
        return st;
    }
    if (b.oom) {
        carve__buf_free(&b);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory writing the HTML report");
    }
    *html = carve__buf_take(&b, len);
    return *html ? CARVE_OK : carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory writing the HTML report");
}
