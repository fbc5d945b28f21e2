/* cli_util.c — helpers shared by subcommands (commands.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stampvet %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

double cli_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_parse_seed(const char *cmd, const char *arg, uint64_t *seed)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || !end || *end || end == arg || arg[0] == '-')
        return cli_fail(cmd, "--seed: '%s' is not a non-negative integer", arg);
    *seed = v;
    return 0;
}

void cli_command_line(int argc, char *const *argv, char *buf, size_t cap)
{
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_=.,/:+@%";
    size_t n = (size_t)snprintf(buf, cap, "stampvet");
    for (int i = 0; i < argc && n + 1 < cap; i++) {
        const char *a = argv[i];
        int quote = !*a || a[strspn(a, plain)];
        n += (size_t)snprintf(buf + n, cap - n, quote ? " '" : " ");
        for (; *a && n + 1 < cap; a++)
            n += (size_t)snprintf(buf + n, cap - n, *a == '\'' ? "'\\''" : "%c", *a);
        if (quote && n + 1 < cap)
            n += (size_t)snprintf(buf + n, cap - n, "'");
    }
}
