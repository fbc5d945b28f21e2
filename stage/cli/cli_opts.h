/* cli_opts.h — one table per subcommand: its options, its --help text, and
 * through --help the man page (doc/mkman.sh) and the bash completion
 * (doc/mkcompletion.sh), so that the four cannot disagree.
 *
 * Every subcommand takes the common options, added by cli_parse:
 *   -o, --output FILE   where the result goes (commands without a file
 *                       result say what -o means for them, or refuse it)
 *   -q, --quiet         no progress and no summary on stderr / stdout
 *   -v, --verbose       more detail on stderr (progress even off a tty)
 *   -h, --help          the help text on stdout, exit 0
 * and one error style: "stampvet CMD: FILE: problem" on stderr (cli_fail).
 * Exit status: 0 success, 1 a data or processing failure, 2 a usage error.
 *
 * Outputs never replace inputs: an option that writes a file is named
 * output (-o), out, summary, runs-out, scores-out, merge-summaries or dump,
 * and cli_parse refuses (a usage error naming both) a command line on which
 * one of them names the same file as any other argument that exists (an
 * option's or an operand): the same path, or the same file through a
 * symbolic or hard link (core/atomic_file.h, sv_same_file).
 *
 * A new subcommand declares a cli_cmd with its own options and calls
 * cli_parse; nothing else is needed for --help, the man page and the
 * completion.  Thread safety: for the main thread of a command. */
#ifndef SV_CLI_OPTS_H
#define SV_CLI_OPTS_H

#include <stdio.h>

/* Exit statuses of every subcommand. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

typedef struct cli_opt {
    const char *name;   /* long name without "--"; with key 0, a heading
                           ("training recipe") printed before the options
                           that follow it, not an option                     */
    int key;            /* short option letter, or a value >= 256 (long only);
                           what the handler receives; 0: a heading          */
    const char *arg;    /* the argument's name ("FILE", "N"), NULL for none  */
    const char *help;   /* the help; "\n" starts a continuation line; a
                           numeric option states its range ("[1, 1024]")     */
} cli_opt;

typedef struct cli_cmd {
    const char *name;      /* "run"                                          */
    const char *usage;     /* usage lines without "usage: ", "\n"-separated  */
    const char *about;     /* what the command does (paragraphs)             */
    const cli_opt *opts;   /* its own options, ending with {NULL}            */
    const char *output;    /* what -o FILE is for this command               */
    const char *notes;     /* text after the options (may be NULL)           */
} cli_cmd;

typedef struct cli_common {
    const char *output;    /* -o, NULL when not given                        */
    int quiet, verbose;
} cli_common;

/* The handler of the command's own options: key as in cli_opt, arg its
 * argument (NULL for none).  Returns 0, or CLI_USAGE after printing why
 * (cli_usage_error). */
typedef int (*cli_handler)(void *user, int key, const char *arg);

/* Parse argv (argv[0] is the command name) with c's options and the common
 * ones.  Returns -1 when the command should run (*first = index of the
 * first operand), CLI_OK after printing --help, CLI_USAGE after an unknown
 * option, a missing argument or a handler's refusal (message printed). */
int cli_parse(const cli_cmd *c, int argc, char **argv, cli_common *com, cli_handler on_opt,
              void *user, int *first);

/* The help text (usage, about, options with the common ones (under
 * "common options:" when the command's own are in headed groups), notes,
 * exit status). */
void cli_help(const cli_cmd *c, FILE *out);

/* "stampvet CMD: message" + "(see stampvet CMD --help)" on stderr; returns
 * CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For a command whose result is text on stdout: -o FILE sends stdout to
 * FILE, -q (without -o) to /dev/null.  Returns 0, or CLI_FAILED after
 * printing "stampvet CMD: FILE: cannot write". */
int cli_redirect_stdout(const char *cmd, const cli_common *com);

/* A numeric option's argument: a whole decimal integer (cli_parse_long) or
 * a finite number (cli_parse_double) in [lo, hi].  Returns 0 with *out
 * set, or CLI_USAGE after printing (cli_usage_error) "stampvet CMD:
 * --OPT: 'ARG' is not an integer in [LO, HI]" (bounds as cli_number_text). */
int cli_parse_long(const char *cmd, const char *opt, const char *arg, long lo, long hi,
                   long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                     double *out);

/* v as people write a bound: integers in full ("4294967295"), else %g.
 * Returns buf (at least 32 bytes). */
const char *cli_number_text(char *buf, double v);

/* The common exit-status text, shared by every --help and man page. */
extern const char cli_exit_text[];

#endif
