/* atomic_file.c — see atomic_file.h. */
#define _GNU_SOURCE
#include "core/atomic_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_uint tmp_counter;

/* this machine's name as the pattern has it: [A-Za-z0-9_], at most
 * SV_ATOMIC_HOST_MAX characters, "host" when unknown */
static void host_tag(char *buf, size_t len)
{
    char h[256] = "";
    if (gethostname(h, sizeof h - 1) != 0 || !h[0])
        snprintf(h, sizeof h, "host");
    size_t n = 0;
    for (const char *p = h; *p && n + 1 < len && n < SV_ATOMIC_HOST_MAX; p++, n++)
        buf[n] = (isalnum((unsigned char)*p) || *p == '_') ? *p : '_';
    buf[n] = '\0';
}

/* DIR/.svtmp-HOST-PID-N.NAME for DIR/NAME */
static int tmp_name(sv_atomic_file *a, const char *path, sv_error *err)
{
    if (!path || !*path)
        return sv_error_set(err, SV_ERR_ARG, "no output file name given");
    if (strlen(path) >= sizeof a->path)
        return sv_error_set(err, SV_ERR_ARG, "output file name too long (%zu bytes)",
                            strlen(path));
    snprintf(a->path, sizeof a->path, "%s", path);
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    unsigned n = atomic_fetch_add(&tmp_counter, 1u);
    char host[SV_ATOMIC_HOST_MAX + 1];
    host_tag(host, sizeof host);
    snprintf(a->tmp, sizeof a->tmp, "%.*s" SV_ATOMIC_TAG "%s-%ld-%u.%s", dirlen, path, host,
             (long)getpid(), n, path + dirlen);
    return SV_OK;
}

int sv_atomic_begin(sv_atomic_file *a, const char *path, sv_error *err)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int st = tmp_name(a, path, err);
        if (st)
            return st;
        int fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            return SV_OK;
        }
        if (errno != EEXIST) /* EEXIST: left by a dead process of our pid */
            break;
    }
    int e = errno;
    a->tmp[0] = '\0';
    return sv_error_set(err, SV_ERR_IO, "%s: cannot create a temporary file in its folder (%s)",
                        path, strerror(e));
}

int sv_atomic_begin_name(sv_atomic_file *a, const char *path, sv_error *err)
{
    int st = sv_atomic_begin(a, path, err);
    if (!st)
        unlink(a->tmp);
    return st;
}

/* flush the temporary file (or folder) to stable storage; 0 or errno */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = fsync(fd) ? errno : 0;
    close(fd);
    return e;
}

int sv_atomic_commit(sv_atomic_file *a, sv_error *err)
{
    int e = sync_path(a->tmp);
    if (e) {
        sv_error_set(err, SV_ERR_IO, "%s: cannot sync the finished temporary file %s (%s)",
                     a->path, a->tmp, strerror(e));
        sv_atomic_abort(a);
        return SV_ERR_IO;
    }
    if (rename(a->tmp, a->path)) {
        int e = errno;
        sv_error_set(err, SV_ERR_IO, "%s: cannot rename the finished temporary file %s over it "
                     "(%s)", a->path, a->tmp, strerror(e));
        sv_atomic_abort(a);
        return SV_ERR_IO;
    }
    a->tmp[0] = '\0';
    return SV_OK;
}

void sv_atomic_abort(sv_atomic_file *a)
{
    if (a && a->tmp[0]) {
        unlink(a->tmp);
        a->tmp[0] = '\0';
    }
}

int sv_atomic_write(const char *path, int (*write)(const char *tmp, void *user, sv_error *err),
                    void *user, sv_error *err)
{
    sv_atomic_file a;
    int st = sv_atomic_begin_name(&a, path, err);
    if (st)
        return st;
    if ((st = write(a.tmp, user, err))) {
        sv_atomic_abort(&a);
        return st;
    }
    return sv_atomic_commit(&a, err);
}

int sv_atomic_commit_dir(sv_atomic_file *a, sv_error *err)
{
    int st = SV_OK;
    DIR *d = NULL;
    if (!rename(a->tmp, a->path)) {
        a->tmp[0] = '\0';
        return SV_OK;
    }
    if (errno != EEXIST && errno != ENOTEMPTY) {
        st = sv_error_set(err, SV_ERR_IO, "%s: cannot move the finished folder %s into place: %s",
                          a->path, a->tmp, strerror(errno));
        goto fail;
    }
    if (!(d = opendir(a->tmp))) {
        st = sv_error_set(err, SV_ERR_IO, "%s: %s", a->tmp, strerror(errno));
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char from[2 * SV_ATOMIC_PATH_MAX], to[2 * SV_ATOMIC_PATH_MAX];
        snprintf(from, sizeof from, "%s/%s", a->tmp, e->d_name);
        snprintf(to, sizeof to, "%s/%s", a->path, e->d_name);
        if (rename(from, to)) {
            st = sv_error_set(err, SV_ERR_IO, "%s: cannot move into place: %s", to,
                              strerror(errno));
            goto fail;
        }
    }
    closedir(d);
    rmdir(a->tmp);
    a->tmp[0] = '\0';
    return SV_OK;

fail:
    if (d)
        closedir(d);
    return st;
}

int sv_atomic_is_tmp_name(const char *name, char *host, size_t host_len, pid_t *pid)
{
    const size_t tl = strlen(SV_ATOMIC_TAG);
    if (strncmp(name, SV_ATOMIC_TAG, tl))
        return 0;
    const char *p = name + tl, *h = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t hl = (size_t)(p - h);
    if (hl == 0 || hl > SV_ATOMIC_HOST_MAX || *p != '-')
        return 0;
    p++;
    if (!isdigit((unsigned char)*p))
        return 0;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (*end != '-' || v <= 0 || errno || v > INT_MAX)
        return 0;
    p = end + 1;
    if (!isdigit((unsigned char)*p))
        return 0;
    strtoul(p, &end, 10);
    if (*end != '.' || !end[1])
        return 0;
    if (host && host_len)
        snprintf(host, host_len, "%.*s", (int)hl, h);
    if (pid)
        *pid = (pid_t)v;
    return 1;
}

/* 1 when folder path holds only regular files (so may be removed whole) */
static int flat_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int flat = 1;
    struct dirent *de;
    while (flat && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[SV_ATOMIC_PATH_MAX + 512];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        flat = !lstat(p, &st) && S_ISREG(st.st_mode);
    }
    closedir(d);
    return flat;
}

int sv_atomic_remove_flat_dir(const char *path)
{
    if (!flat_dir(path))
        return -1;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[SV_ATOMIC_PATH_MAX + 512];
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        unlink(p);
    }
    closedir(d);
    return rmdir(path) ? -1 : 0;
}

int sv_atomic_clean(const char *dir, double max_age_s, int dry_run,
                    void (*each)(void *user, const char *path), void *user, sv_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the folder (%s)", dir,
                            strerror(errno));
    int n = 0;
    time_t now = time(NULL);
    char here[SV_ATOMIC_HOST_MAX + 1], host[SV_ATOMIC_HOST_MAX + 1];
    host_tag(here, sizeof here);
    struct dirent *de;
    while ((de = readdir(d))) {
        pid_t pid;
        if (!sv_atomic_is_tmp_name(de->d_name, host, sizeof host, &pid))
            continue;
        char path[SV_ATOMIC_PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) || !(S_ISREG(st.st_mode) || (S_ISDIR(st.st_mode) && flat_dir(path))))
            continue;
        /* a pid is only known dead on its own machine */
        int dead = !strcmp(host, here) && kill(pid, 0) != 0 && errno == ESRCH;
        int old = max_age_s > 0 && difftime(now, st.st_mtime) > max_age_s;
        if (!dead && !old)
            continue;
        if (!dry_run && (S_ISDIR(st.st_mode) ? sv_atomic_remove_flat_dir(path) : unlink(path)))
            continue;
        n++;
        if (each)
            each(user, path);
    }
    closedir(d);
    return n;
}

/* ---- outputs never replace inputs ----------------------------------------- */

/* stat(path), or of the part before a cfitsio '[...]' suffix */
static int stat_input(const char *path, struct stat *st)
{
    if (stat(path, st) == 0)
        return 0;
    const char *br = strchr(path, '[');
    if (!br || br == path)
        return -1;
    char base[SV_ATOMIC_PATH_MAX];
    snprintf(base, sizeof base, "%.*s", (int)(br - path), path);
    return stat(base, st);
}

/* the absolute path with the folder resolved (the file itself need not
 * exist; a cfitsio suffix is dropped) */
static void normalise(const char *path, char *out, size_t len)
{
    char base[SV_ATOMIC_PATH_MAX];
    snprintf(base, sizeof base, "%s", path);
    char *br = strchr(base, '[');
    if (br && br != base)
        *br = '\0';
    char *full = realpath(base, NULL);
    if (full) {
        snprintf(out, len, "%s", full);
        free(full);
        return;
    }
    char *slash = strrchr(base, '/');
    const char *name = slash ? slash + 1 : base;
    if (slash)
        *slash = '\0';
    char *dir = realpath(slash ? (base[0] ? base : "/") : ".", NULL);
    snprintf(out, len, "%s/%s", dir ? dir : (slash ? base : "."), name);
    free(dir);
}

int sv_same_file(const char *a, const char *b)
{
    if (!a || !b || !*a || !*b)
        return 0;
    struct stat sa, sb;
    if (stat_input(a, &sa) == 0 && stat_input(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char na[2 * SV_ATOMIC_PATH_MAX + 2], nb[2 * SV_ATOMIC_PATH_MAX + 2];
    normalise(a, na, sizeof na);
    normalise(b, nb, sizeof nb);
    return strcmp(na, nb) == 0;
}

int sv_output_check(const char *output, const char *const *inputs, const char *const *role,
                    int n, int overwrite, sv_error *err)
{
    if (!output || !*output)
        return sv_error_set(err, SV_ERR_ARG, "no output file name given");
    for (int i = 0; i < n; i++)
        if (inputs[i] && *inputs[i] && sv_same_file(output, inputs[i]))
            return sv_error_set(err, SV_ERR_ARG,
                                "output %s is the %s %s: refusing to overwrite an input",
                                output, role[i], inputs[i]);
    struct stat st;
    if (!overwrite && lstat(output, &st) == 0)
        return sv_error_set(err, SV_ERR_ARG,
                            "output %s exists: refusing to replace it (--overwrite, or "
                            "overwrite = 1 in the file job, replaces it)",
                            output);
    return SV_OK;
}
