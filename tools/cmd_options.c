/* cmd_options.c — carve options [--json]: the options schema, for humans
 * and for tools (the same table feeds flags, config files and the HTTP API). */
#include "cli.h"

#include <string.h>

static const char *tname(carve_option_type t) {
    switch (t) {
    case CARVE_OPT_INT: return "int";
    case CARVE_OPT_FLOAT: return "float";
    case CARVE_OPT_BOOL: return "bool";
    case CARVE_OPT_ENUM: return "enum";
    case CARVE_OPT_STRING: return "string";
    }
    return "?";
}

static void json_str(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static int run(carve_ctx *ctx, cli_args *a) {
    (void)ctx;
    bool json = cli_extra(a, "json") != NULL;
    if (json) printf("[");
    for (int i = 0; i < carve_option_count(); i++) {
        const carve_option_info *o = carve_option_at(i);
        if (json) {
            printf("%s\n {\"key\":", i ? "," : "");
            json_str(o->key);
            printf(",\"group\":");
            json_str(o->group);
            printf(",\"type\":\"%s\",\"default\":", tname(o->type));
            json_str(o->def);
            if (o->type == CARVE_OPT_INT || o->type == CARVE_OPT_FLOAT) printf(",\"min\":%.17g,\"max\":%.17g", o->min, o->max);
            if (o->choices) { printf(",\"choices\":"); json_str(o->choices); }
            printf(",\"help\":");
            json_str(o->help);
            printf("}");
        } else {
            printf("%-20s %-7s %-6s %-14s %s\n", o->key, o->group, tname(o->type), o->def, o->help);
        }
    }
    if (json) printf("\n]\n");
    return 0;
}

static const cli_flag flags[] = {{"json", false, "print the schema as JSON"}, {NULL, false, NULL}};
const cli_cmd cmd_options = {"options", "[--json]", "list every option: name, group, type, default, help", "", flags, run};
