/* cmd_clean.c — `stampvet clean DIR ...`: remove the temporary files that
 * killed stampvet writers left (atomic_file.h), and nothing else. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "commands.h"

static const char clean_usage[] =
    "usage: stampvet clean [--older-than SECONDS] [-n] [-q] DIR ...\n"
    "\n"
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
    "`stampvet batch` does the first kind in its output folders by itself.\n"
    "\n"
    "  --older-than SECONDS  also remove pattern files older than this (any host)\n"
    "  -n, --dry-run         list what would be removed, remove nothing\n"
    "  -q, --quiet           do not list the files\n"
    "\n"
    "Exit status: 0 done, 1 a folder could not be read, 2 usage.\n";

typedef struct clean_ctx {
    int quiet, dry_run;
} clean_ctx;

static void each(void *user, const char *path)
{
    const clean_ctx *c = user;
    if (!c->quiet)
        printf("%s%s\n", c->dry_run ? "would remove " : "removed ", path);
}

int cmd_clean(int argc, char **argv)
{
    static const struct option opts[] = {{"older-than", required_argument, NULL, 'a'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    clean_ctx ctx = {0, 0};
    double age = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
        switch (c) {
        case 'a': {
            char *end;
            age = strtod(optarg, &end);
            if (end == optarg || *end || !(age > 0)) {
                fprintf(stderr, "stampvet clean: --older-than: '%s' is not a positive number "
                                "of seconds\n", optarg);
                return 2;
            }
            break;
        }
        case 'n': ctx.dry_run = 1; break;
        case 'q': ctx.quiet = 1; break;
        case 'h': fputs(clean_usage, stdout); return 0;
        default: fputs(clean_usage, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "stampvet clean: no folder given\n%s", clean_usage);
        return 2;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
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
