/* test_atomic_file.c — the temporary-file pattern of atomic writes, the
 * cleaning of stale temporary files, and the output-is-an-input check
 * (issue 11, items 1 and 7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "core/atomic_file.h"

static char dir[256];

static void path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void touch(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sv_atomic.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char host[64]; /* this machine's HOST part, from a name made here */

/* DIR/.svtmp-HOST-PID-N.NAME: hidden, the final name's extension, our pid */
static void test_pattern(void **state)
{
    (void)state;
    char out[512];
    path_in(out, sizeof out, "night.fits.gz");
    sv_atomic_file a;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_atomic_begin(&a, out, &err), 0);
    char want[600];
    snprintf(want, sizeof want, "%s/.svtmp-", dir);
    assert_memory_equal(a.tmp, want, strlen(want));
    size_t n = strlen(a.tmp);
    assert_string_equal(a.tmp + n - strlen(".night.fits.gz"), ".night.fits.gz");
    assert_true(exists(a.tmp));
    pid_t pid = 0;
    assert_true(sv_atomic_is_tmp_name(strrchr(a.tmp, '/') + 1, host, sizeof host, &pid));
    assert_int_equal(pid, getpid());
    snprintf(want, sizeof want, "%s/.svtmp-%s-%ld-", dir, host, (long)getpid());
    assert_memory_equal(a.tmp, want, strlen(want));
    for (const char *p = host; *p; p++)
        assert_true(isalnum((unsigned char)*p) || *p == '_');
    /* a second writer of the same file gets another name */
    sv_atomic_file b;
    assert_int_equal(sv_atomic_begin(&b, out, &err), 0);
    assert_string_not_equal(a.tmp, b.tmp);
    char btmp[sizeof b.tmp];
    snprintf(btmp, sizeof btmp, "%s", b.tmp);
    assert_true(exists(btmp));
    sv_atomic_abort(&b);
    assert_false(exists(btmp));
    touch(a.tmp, "done");
    assert_int_equal(sv_atomic_commit(&a, &err), 0);
    assert_true(exists(out));
    /* the final file has the usual permissions (not mkstemp's 0600) */
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    mode_t um = umask(022);
    umask(um);
    assert_int_equal(st.st_mode & 0777, 0666 & ~um);
    /* names that are not the pattern */
    assert_false(sv_atomic_is_tmp_name("night.fits", NULL, 0, NULL));
    assert_false(sv_atomic_is_tmp_name(".night.fits.tmpAbC123", NULL, 0, NULL));
    assert_false(sv_atomic_is_tmp_name(".svtmp-h-12-x.fits", NULL, 0, NULL));
    assert_false(sv_atomic_is_tmp_name(".svtmp-h-12-3.", NULL, 0, NULL));
    assert_false(sv_atomic_is_tmp_name(".svtmp--12-3.fits", NULL, 0, NULL));
    assert_false(sv_atomic_is_tmp_name(".svtmp-12-3.fits", NULL, 0, NULL));
    char h[64];
    assert_true(sv_atomic_is_tmp_name(".svtmp-node_07-12-3.fits", h, sizeof h, &pid));
    assert_int_equal(pid, 12);
    assert_string_equal(h, "node_07");
}

/* a failed write leaves nothing and keeps the old file */
static int write_fail(const char *tmp, void *user, sv_error *err)
{
    touch(tmp, "half");
    *(char **)user = strdup(tmp);
    return sv_error_set(err, SV_ERR_IO, "disk full");
}

static int write_ok(const char *tmp, void *user, sv_error *err)
{
    (void)user;
    (void)err;
    touch(tmp, "new");
    return 0;
}

static void test_write(void **state)
{
    (void)state;
    char out[512];
    path_in(out, sizeof out, "report.csv");
    touch(out, "old");
    char *tmp = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_not_equal(sv_atomic_write(out, write_fail, &tmp, &err), 0);
    assert_non_null(tmp);
    assert_false(exists(tmp));
    free(tmp);
    FILE *f = fopen(out, "r");
    char buf[8] = "";
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "old");
    assert_int_equal(sv_atomic_write(out, write_ok, NULL, &err), 0);
    f = fopen(out, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "new");
}

/* a pid that is not running: a child that has exited and been reaped */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

static int n_seen;
static void seen(void *user, const char *path)
{
    (void)user;
    (void)path;
    n_seen++;
}

static void test_clean(void **state)
{
    (void)state;
    char dead[512], live[512], old[512], other[512], keep[512], sub[512], rep[512];
    char name[128];
    char far[512];
    pid_t gone = dead_pid();
    snprintf(name, sizeof name, ".svtmp-%s-%ld-0.e1.fits", host, (long)gone);
    path_in(dead, sizeof dead, name);
    snprintf(name, sizeof name, ".svtmp-%s-%ld-7.e2.fits", host, (long)getpid());
    path_in(live, sizeof live, name);
    snprintf(name, sizeof name, ".svtmp-%s-%ld-8.e3.fits", host, (long)getpid());
    path_in(old, sizeof old, name);
    /* the same dead pid on another machine: alive for all we know */
    snprintf(name, sizeof name, ".svtmp-%sX-%ld-0.e6.fits", host, (long)gone);
    path_in(far, sizeof far, name);
    touch(far, "x");
    path_in(other, sizeof other, ".e4.fits.tmpAbC123"); /* not ours: kept */
    path_in(keep, sizeof keep, "e5.fits");
    snprintf(name, sizeof name, ".svtmp-%s-%ld-9.folder", host, (long)gone);
    path_in(sub, sizeof sub, name); /* a folder with the name holding a folder: not touched */
    /* a dead writer's report folder in the making (only files): removed whole */
    snprintf(name, sizeof name, ".svtmp-%s-%ld-10.report", host, (long)gone);
    path_in(rep, sizeof rep, name);
    assert_int_equal(mkdir(rep, 0755), 0);
    char rep_file[600], sub_dir[600];
    snprintf(rep_file, sizeof rep_file, "%s/index.html", rep);
    touch(rep_file, "x");
    touch(dead, "x");
    touch(live, "x");
    touch(old, "x");
    touch(other, "x");
    touch(keep, "x");
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(sub_dir, sizeof sub_dir, "%s/inner", sub);
    assert_int_equal(mkdir(sub_dir, 0755), 0);
    struct utimbuf t = {time(NULL) - 7200, time(NULL) - 7200};
    assert_int_equal(utime(old, &t), 0);
    sv_error err;
    sv_error_clear(&err);
    /* dry run: found, not removed */
    n_seen = 0;
    assert_int_equal(sv_atomic_clean(dir, 0, 1, seen, NULL, &err), 2);
    assert_int_equal(n_seen, 2);
    assert_true(exists(dead) && exists(rep_file));
    /* dead writers only */
    assert_int_equal(sv_atomic_clean(dir, 0, 0, NULL, NULL, &err), 2);
    assert_false(exists(dead));
    assert_false(exists(rep));
    assert_true(exists(live) && exists(old) && exists(far));
    /* and those older than an hour */
    assert_int_equal(sv_atomic_clean(dir, 3600, 0, NULL, NULL, &err), 1);
    assert_false(exists(old));
    assert_true(exists(live) && exists(other) && exists(keep) && exists(sub) && exists(sub_dir));
    assert_int_equal(sv_atomic_clean("/nonexistent/sv", 0, 0, NULL, NULL, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "/nonexistent/sv"));
}

static void test_same_file(void **state)
{
    (void)state;
    char a[512], b[512], ln[512], hard[512], rel[600], cwd[512];
    path_in(a, sizeof a, "sci.fits");
    path_in(b, sizeof b, "det.fits");
    path_in(ln, sizeof ln, "link.fits");
    path_in(hard, sizeof hard, "hard.fits");
    touch(a, "a");
    touch(b, "b");
    assert_int_equal(symlink(a, ln), 0);
    assert_int_equal(link(b, hard), 0);
    assert_true(sv_same_file(a, a));
    assert_false(sv_same_file(a, b));
    assert_true(sv_same_file(ln, a));
    assert_true(sv_same_file(hard, b));
    char sfx[600];
    snprintf(sfx, sizeof sfx, "%s[1]", a);
    assert_true(sv_same_file(sfx, a));
    /* through a relative path with .. */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    snprintf(rel, sizeof rel, "../%s/sci.fits", strrchr(dir, '/') + 1);
    assert_true(sv_same_file(rel, a));
    /* paths that do not exist compare by their normalised text */
    assert_true(sv_same_file("./new.fits", "new.fits"));
    assert_false(sv_same_file("./new.fits", "other.fits"));
    assert_int_equal(chdir(cwd), 0);

    const char *in[3] = {a, NULL, b};
    const char *role[3] = {"science image", "mask image", "detection table"};
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_output_check(ln, in, role, 3, 1, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "science image"));
    assert_int_equal(sv_output_check(hard, in, role, 3, 1, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "detection table"));
    char out[512];
    path_in(out, sizeof out, "out.fits");
    assert_int_equal(sv_output_check(out, in, role, 3, 0, &err), 0);
    touch(out, "o");
    assert_int_equal(sv_output_check(out, in, role, 3, 0, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "--overwrite"));
    assert_int_equal(sv_output_check(out, in, role, 3, 1, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_same_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
