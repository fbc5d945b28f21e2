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
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one prefix: the library's messages for pipeline hosts begin with
     * "stampvet: ", some with "stampvet CMD: " already */
    const char *m = msg;
    size_t n = strlen(cmd);
    for (int again = 1; again;) {
        again = 0;
        if (!strncmp(m, "stampvet: ", 10)) {
            m += 10;
            again = 1;
        } else if (!strncmp(m, "stampvet ", 9) && !strncmp(m + 9, cmd, n) && m[9 + n] == ':' &&
                   m[10 + n] == ' ') {
            m += 11 + n;
            again = 1;
        }
    }
    fprintf(stderr, "stampvet %s: %s\n", cmd, m);
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
