/* cli.h — shared pieces of the carve command-line tool. */
#ifndef CARVE_CLI_H
#define CARVE_CLI_H

#include "carve.h"

#include <stdbool.h>
#include <stdio.h>

/* Exit codes (documented in docs/CLI.md and `carve --help`). */
enum {
    EXIT_OK_ = 0,
    EXIT_FAIL = 1,      /* processing failed */
    EXIT_USAGE = 2,     /* bad command line, option or config */
    EXIT_INPUT = 3,     /* cannot read/decode the input, or it is over a limit */
    EXIT_OUTPUT = 4,    /* cannot write the output */
    EXIT_CANCEL = 130   /* interrupted (SIGINT/SIGTERM) */
};

typedef struct cli_args {
    const char *pos[64];   /* positional arguments */
    int npos;
    const char *output;    /* -o / --output */
    bool quiet;            /* -q: no progress */
    bool help;
    /* extra flags a command declared (name without dashes -> value or "1") */
    const char *extra_name[16];
    const char *extra_val[16];
    int nextra;
} cli_args;

/* A command-specific flag that is not in the options schema. */
typedef struct cli_flag {
    const char *name;   /* "lock" -> --lock */
    bool takes_value;
    const char *help;
} cli_flag;

typedef struct cli_cmd {
    const char *name;
    const char *usage;      /* "IN -o OUT.svg [options]" */
    const char *summary;    /* one line */
    const char *groups;     /* schema groups whose options apply: "core,trace" */
    const cli_flag *flags;  /* extra flags, NULL-terminated array or NULL */
    int (*run)(carve_ctx *ctx, cli_args *args);
} cli_cmd;

/* The ctx of the running command, for the signal handler. */
extern carve_ctx *volatile cli_current_ctx;

int cli_exit_code(carve_status st);
/* Prints "carve: <message>" from ctx (or strerror) and returns the exit code. */
int cli_fail(carve_ctx *ctx, carve_status st);
const char *cli_extra(const cli_args *a, const char *name);
/* Writes text and a newline to path atomically ("-": standard output);
 * CARVE_ERR_NOMEM, or carve_write_file's status with the message in ctx. */
carve_status cli_write_line(carve_ctx *ctx, const char *path, const char *text);
/* Sets option format from the output file's extension (.svg .pdf .eps .dxf);
 * "-" or NULL keeps the option.  An unknown extension prints an error
 * listing the formats and returns EXIT_USAGE; else 0. */
int cli_format_from_output(carve_ctx *ctx, const char *cmd, const char *path);
/* ".svg", ".pdf", ... for the option format in effect */
const char *cli_format_suffix(const carve_ctx *ctx);
/* Progress bar on stderr when it is a TTY (plain lines otherwise); pass as
 * the ctx's progress callback with a cli_progress as user data. */
typedef struct cli_progress { const char *label; int last_pct; bool tty; bool quiet; } cli_progress;
int cli_progress_cb(void *user, double f, const char *stage);
void cli_progress_done(cli_progress *p);

/* The commands (one file each). */
extern const cli_cmd cmd_trace, cmd_quantize, cmd_palette, cmd_run, cmd_models, cmd_options;
extern const cli_cmd cmd_tune, cmd_presets;

#endif
