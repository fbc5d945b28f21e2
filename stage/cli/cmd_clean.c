/* cmd_clean.c — `stampvet clean DIR ...`: remove the temporary files that
 * killed stampvet writers left (atomic_file.h), and nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"

enum { O_OLDER_THAN = 256 };

static const cli_opt clean_opts[] = {
    {"older-than", O_OLDER_THAN, "SECONDS", "also remove pattern files older than this (any host)"},
    {"dry-run", 'n', NULL, "list what would be removed, remove nothing"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd clean_cmd = {
    "clean", "stampvet clean [--older-than SECONDS] [-n] [-q] [-o LIST] DIR ...",
    "Remove the temporary files that killed stampvet runs left in each folder DIR\n"
    "(not below it).  Every stampvet writer names its temporary file\n"
    "    DIR/.svtmp-HOST-PID-N.NAME\n"
    "beside the final file DIR/NAME (HOST: the writer's host name with characters\n"
    "other than A-Z a-z 0-9 _ made '_'; PID its process id; N a counter) and\n"
    "renames it to NAME when complete, so only a killed writer leaves one.  A file\n"
    "is removed when it is a regular file with such a name and its writer is gone\n"
    "(HOST is this machine and PID is not a running process), or, with\n"
    "--older-than, when it was last changed more than SECONDS ago (the only test\n"
    "for other machines' files on a shared file system).  Nothing else is touched.\n"
    "`stampvet batch` does the first kind in its output folders by itself.",
    clean_opts, "write the list of removed files to FILE instead of stdout", NULL};

typedef struct clean_ctx {
    int quiet, dry_run;
} clean_ctx;

static void each(void *user, const char *path)
{
    const clean_ctx *c = user;
    if (!c->quiet)
        printf("%s%s\n", c->dry_run ? "would remove " : "removed ", path);
}

typedef struct clean_args {
    double age;
    int dry_run;
} clean_args;

static int clean_option(void *user, int key, const char *arg)
{
    clean_args *a = user;
    if (key == 'n') {
        a->dry_run = 1;
        return 0;
    }
    if (cli_parse_double("clean", "older-than", arg, 0, 1e12, &a->age))
        return CLI_USAGE;
    if (!(a->age > 0))
        return cli_usage_error("clean", "--older-than: '%s' is not a positive number of "
                               "seconds", arg);
    return 0;
}

int cmd_clean(int argc, char **argv)
{
    clean_args a = {0, 0};
    cli_common com = {0};
    int first = 0, pst = cli_parse(&clean_cmd, argc, argv, &com, clean_option, &a, &first);
    if (pst < 0 && first >= argc)
        pst = cli_usage_error("clean", "no folder given");
    if (pst >= 0)
        return pst;
    if (cli_redirect_stdout("clean", &com))
        return CLI_FAILED;
    clean_ctx ctx = {com.quiet, a.dry_run};
    double age = a.age;
    int rc = 0;
    for (int i = first; i < argc; i++) {
        sv_error err;
        sv_error_clear(&err);
        int n = sv_atomic_clean(argv[i], age, ctx.dry_run, each, &ctx, &err);
        if (n < 0)
            rc = cli_fail("clean", "%s", err.text);
        else if (!ctx.quiet)
            fprintf(stderr, "%s: %d stale temporary file%s %s\n", argv[i], n, n == 1 ? "" : "s",
                    ctx.dry_run ? "found" : "removed");
    }
    return rc;
}
