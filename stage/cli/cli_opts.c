/* cli_opts.c — see cli_opts.h. */
#include "cli/cli_opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"

const char cli_exit_text[] =
    "exit status:\n"
    "  0  success\n"
    "  1  a data or processing failure (the message names the file and the problem)\n"
    "  2  a usage error (unknown option, missing or malformed argument, an output\n"
    "     that is one of the inputs: the same path or the same file through a\n"
    "     symbolic or hard link)\n";

static const cli_opt common[] = {
    {"output", 'o', "FILE", NULL},
    {"quiet", 'q', NULL, "no progress and no summary"},
    {"verbose", 'v', NULL, "more detail on stderr (progress also when stderr is not a\n"
                           "terminal)"},
    {"help", 'h', NULL, "this help, on stdout"},
    {NULL, 0, NULL, NULL},
};

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stampvet %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see stampvet %s --help)\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int cli_redirect_stdout(const char *cmd, const cli_common *com)
{
    const char *to = com->output ? com->output : com->quiet ? "/dev/null" : NULL;
    if (to && !freopen(to, "w", stdout)) {
        fprintf(stderr, "stampvet %s: %s: cannot write\n", cmd, to);
        return CLI_FAILED;
    }
    return 0;
}

const char *cli_number_text(char *buf, double v)
{
    if (v == floor(v) && fabs(v) < 1e18)
        snprintf(buf, 32, "%.0f", v);
    else
        snprintf(buf, 32, "%g", v);
    return buf;
}

int cli_parse_long(const char *cmd, const char *opt, const char *arg, long lo, long hi,
                   long *out)
{
    char *end = NULL, a[32], b[32];
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi) {
        return cli_usage_error(cmd, "--%s: '%s' is not an integer in [%s, %s]", opt, arg,
                               cli_number_text(a, (double)lo), cli_number_text(b, (double)hi));
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                     double *out)
{
    char *end = NULL, a[32], b[32];
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
        return cli_usage_error(cmd, "--%s: '%s' is not a number in [%s, %s]", opt, arg,
                               cli_number_text(a, lo), cli_number_text(b, hi));
    }
    *out = v;
    return 0;
}

static void print_opt(FILE *out, const cli_opt *o, const char *help)
{
    char head[64];
    int n = 0;
    if (o->key < 256)
        n = snprintf(head, sizeof head, "  -%c, --%s", o->key, o->name);
    else
        n = snprintf(head, sizeof head, "      --%s", o->name);
    if (o->arg)
        snprintf(head + n, sizeof head - (size_t)n, " %s", o->arg);
    fputs(head, out);
    int col = (int)strlen(head);
    const char *h = help ? help : "";
    for (int first = 1; first || *h; first = 0) {
        const char *nl = strchr(h, '\n');
        int len = nl ? (int)(nl - h) : (int)strlen(h);
        if (first && col < 24)
            fprintf(out, "%*s%.*s\n", 24 - col, "", len, h);
        else if (first)
            fprintf(out, "\n%24s%.*s\n", "", len, h);
        else
            fprintf(out, "%24s%.*s\n", "", len, h);
        h = nl ? nl + 1 : h + len;
    }
}

void cli_help(const cli_cmd *c, FILE *out)
{
    const char *u = c->usage;
    for (int first = 1; *u; first = 0) {
        const char *nl = strchr(u, '\n');
        int len = nl ? (int)(nl - u) : (int)strlen(u);
        fprintf(out, "%s%.*s\n", first ? "usage: " : "       ", len, u);
        u = nl ? nl + 1 : u + len;
    }
    int headed = c->opts && c->opts[0].name && c->opts[0].key == 0;
    fprintf(out, "\n%s\n\n%s", c->about, headed ? "" : "options:\n");
    for (const cli_opt *o = c->opts; o && o->name; o++) {
        if (o->key == 0)
            fprintf(out, "%s%s:\n", o == c->opts ? "" : "\n", o->name);
        else
            print_opt(out, o, o->help);
    }
    if (headed)
        fprintf(out, "\ncommon options:\n");
    for (const cli_opt *o = common; o->name; o++)
        print_opt(out, o, o->key == 'o' ? c->output : o->help);
    if (c->notes)
        fprintf(out, "\n%s\n", c->notes);
    fprintf(out, "\n%s", cli_exit_text);
}

/* Options that write a file (cli_opts.h: outputs never replace inputs). */
static const char *const output_opts[] = {"output", "out", "summary", "runs-out",
                                          "scores-out", "merge-summaries", "dump", NULL};

static int is_output_opt(const char *name)
{
    for (int i = 0; output_opts[i]; i++)
        if (!strcmp(name, output_opts[i]))
            return 1;
    return 0;
}

/* One argument of the command line: an option's (opt: its long name) or an
 * operand (opt NULL). */
typedef struct cli_arg {
    const char *value, *opt;
    int output;
} cli_arg;

/* No output argument names the same file as another argument that exists
 * (the same path, or the same file through a symbolic or hard link):
 * CLI_USAGE after saying which, else -1. */
static int outputs_not_inputs(const cli_cmd *c, const cli_arg *a, int n)
{
    for (int i = 0; i < n; i++) {
        if (!a[i].output || !a[i].value[0])
            continue;
        for (int j = 0; j < n; j++) {
            struct stat st;
            if (j == i || a[j].output || !a[j].value[0] || stat(a[j].value, &st) ||
                !sv_same_file(a[i].value, a[j].value))
                continue;
            char what[96];
            if (a[j].opt)
                snprintf(what, sizeof what, "the file of --%s", a[j].opt);
            else
                snprintf(what, sizeof what, "the input file");
            return cli_usage_error(c->name,
                                   "--%s %s is %s %s (the same file): refusing to overwrite an "
                                   "input",
                                   a[i].opt, a[i].value, what, a[j].value);
        }
    }
    return -1;
}

int cli_parse(const cli_cmd *c, int argc, char **argv, cli_common *com, cli_handler on_opt,
              void *user, int *first)
{
    size_t n = 0;
    for (const cli_opt *o = c->opts; o && o->name; o++)
        n++;
    struct option *lo = calloc(n + 5, sizeof *lo);
    char *so = calloc(2 * (n + 5) + 2, 1);
    if (!lo || !so) {
        free(lo);
        free(so);
        fprintf(stderr, "stampvet %s: out of memory\n", c->name);
        return CLI_FAILED;
    }
    size_t k = 0, s = 0;
    so[s++] = ':'; /* missing arguments reported as ':' */
    for (int pass = 0; pass < 2; pass++)
        for (const cli_opt *o = pass ? common : c->opts; o && o->name; o++) {
            if (o->key == 0)
                continue; /* a heading */
            lo[k++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
                                      o->key};
            if (o->key < 256) {
                so[s++] = (char)o->key;
                if (o->arg)
                    so[s++] = ':';
            }
        }
    int rc = -1, ch, idx, nargs = 0;
    cli_arg *args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) {
        free(lo);
        free(so);
        fprintf(stderr, "stampvet %s: out of memory\n", c->name);
        return CLI_FAILED;
    }
    optind = 1;
    opterr = 0;
    while (rc < 0 && (idx = -1, ch = getopt_long(argc, argv, so, lo, &idx)) != -1) {
        if (optarg && ch != ':' && ch != '?') { /* the option's long name */
            const char *name = NULL;
            if (idx >= 0)
                name = lo[idx].name;
            for (size_t i = 0; !name && i < k; i++)
                if (lo[i].val == ch)
                    name = lo[i].name;
            if (name)
                args[nargs++] = (cli_arg){optarg, name, is_output_opt(name)};
        }
        switch (ch) {
        case 'o': com->output = optarg; break;
        case 'q': com->quiet = 1; break;
        case 'v': com->verbose++; break;
        case 'h':
            cli_help(c, stdout);
            rc = CLI_OK;
            break;
        case ':':
            rc = cli_usage_error(c->name, "option %s needs an argument", argv[optind - 1]);
            break;
        case '?':
            if (optopt && optopt < 256)
                rc = cli_usage_error(c->name, "unknown option -%c", optopt);
            else
                rc = cli_usage_error(c->name, "unknown option %s", argv[optind - 1]);
            break;
        default:
            if (on_opt(user, ch, optarg))
                rc = CLI_USAGE;
        }
    }
    if (rc < 0 && com->quiet && com->verbose)
        rc = cli_usage_error(c->name, "--quiet and --verbose together");
    for (int i = optind; rc < 0 && i < argc; i++) /* the operands: inputs */
        args[nargs++] = (cli_arg){argv[i], NULL, 0};
    if (rc < 0)
        rc = outputs_not_inputs(c, args, nargs);
    free(args);
    free(lo);
    free(so);
    *first = optind;
    return rc;
}
