/* commands.h — the stampvet command's subcommands.
 *
 * Each subcommand lives in its own file stage/cli/cmd_<name>.c and exports
 *   int cmd_<name>(int argc, char **argv);   argv[0] is the subcommand name
 * returning the process exit status (0 success, 1 failure, 2 usage error).
 * It parses its options with cli_parse from one table (cli_opts.h: the
 * common -o/-q/-v/-h, --help, the man page and the completion come from
 * it), prints results on stdout and diagnostics on stderr in one style
 * ("stampvet NAME: FILE: problem"), and calls the library for the work:
 * the CLI stays thin.
 */
#ifndef SV_CLI_COMMANDS_H
#define SV_CLI_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

typedef struct sv_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;   /* one line for `stampvet --help` */
} sv_command;

/* The table, terminated by a {NULL} entry (defined in main.c). */
extern const sv_command sv_commands[];

/* Shared helpers for subcommands (cli_util.c). */
/* Print "stampvet NAME: message" to stderr, once: a message that already
 * begins with "stampvet: " or "stampvet NAME: " (the library's messages
 * for pipeline hosts) loses that prefix.  Returns 1. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Seconds on the monotonic clock (for elapsed times). */
double cli_seconds(void);
/* --seed: a non-negative decimal integer into *seed.  Returns 0, or 1 after
 * printing "stampvet NAME: --seed: 'ARG' is not a non-negative integer". */
int cli_parse_seed(const char *cmd, const char *arg, uint64_t *seed);
/* "stampvet" and the subcommand's argv (argv[0] the command's name), each
 * argument quoted for a POSIX shell where it needs it, into buf (cap
 * bytes, cut there): the command line the stage records (host_command,
 * SVCMD).  Call before getopt permutes argv. */
void cli_command_line(int argc, char *const *argv, char *buf, size_t cap);

int cmd_inspect(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_import_keras(int argc, char **argv);
int cmd_import_onnx(int argc, char **argv);
int cmd_score(int argc, char **argv);
/* score --alerts: alert packets (cmd_score_alerts.c), called by cmd_score */
int cmd_score_alerts(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* subcommands added by later work are declared here */
int cmd_report(int argc, char **argv);

#endif
