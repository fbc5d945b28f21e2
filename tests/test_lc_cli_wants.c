/* test_lc_cli_wants.c — lc_cli_wants (stage/cli/lc_cli.h) decides from the
 * options and the model files' headers, never by loading a model: a file
 * whose primary header says TASK = 'lightcurve' counts as a light-curve
 * model even when the rest of it is not a readable model (a full load would
 * have refused it), and a stamp model does not count (issue 12, item 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fitsio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/lc_cli.h"
#include "model/model.h"
#include "model/model_fits.h"

static char dir[256];
static char stamp_model[1200], lc_header[1200], lc_cut[1200], plain[1200];

static void copy_file(const char *from, const char *to, long max_bytes)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[2880];
    size_t n;
    long done = 0;
    while ((max_bytes < 0 || done < max_bytes) && (n = fread(buf, 1, sizeof buf, a)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, b), n);
        done += (long)n;
    }
    fclose(a);
    fclose(b);
}

/* the path of the shipped stamp model (a real/bogus model) */
static void shipped_model(char *buf, size_t len)
{
    const char *src = getenv("SV_SRCDIR");
    snprintf(buf, len, "%s/models/rb-ztf.fits", src ? src : ".");
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sv_lcwants.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    shipped_model(stamp_model, sizeof stamp_model);
    snprintf(lc_header, sizeof lc_header, "%s/lc_header.fits", dir);
    snprintf(lc_cut, sizeof lc_cut, "%s/lc_cut.fits", dir);
    snprintf(plain, sizeof plain, "%s/plain.fits", dir);

    /* the stamp model with its TASK card made 'lightcurve': its header says
     * light-curve model, its network and missing light-curve cards make
     * sv_model_read_fits refuse it */
    copy_file(stamp_model, lc_header, -1);
    fitsfile *f = NULL;
    int st = 0;
    fits_open_diskfile(&f, lc_header, READWRITE, &st);
    fits_update_key(f, TSTRING, "TASK", "lightcurve", NULL, &st);
    fits_close_file(f, &st);
    if (st)
        return -1;
    /* the same, cut after its primary header: nothing but the header */
    f = NULL;
    fits_open_diskfile(&f, lc_header, READONLY, &st);
    LONGLONG head = 0, data = 0, end = 0;
    fits_get_hduaddrll(f, &head, &data, &end, &st);
    fits_close_file(f, &st);
    if (st)
        return -1;
    copy_file(lc_header, lc_cut, (long)end);
    /* a FITS file that is no model (no SVFORMAT card) */
    f = NULL;
    fits_create_diskfile(&f, plain, &st);
    fits_create_img(f, BYTE_IMG, 0, NULL, &st);
    fits_write_key_str(f, "TASK", "lightcurve", NULL, &st);
    fits_close_file(f, &st);
    return st ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int wants(const char *a1, const char *a2, const char *a3)
{
    char *argv[5] = {(char *)"train", (char *)a1, (char *)a2, (char *)a3, NULL};
    int argc = 1 + (a1 != NULL) + (a1 && a2) + (a1 && a2 && a3);
    return lc_cli_wants(argc, argv);
}

/* the model files as the test made them */
static void test_header_task(void **state)
{
    (void)state;
    sv_task t = SV_TASK_CLASS;
    assert_int_equal(sv_model_fits_task(stamp_model, &t), 0);
    assert_int_equal(t, SV_TASK_REALBOGUS);
    assert_int_equal(sv_model_fits_task(lc_header, &t), 0);
    assert_int_equal(t, SV_TASK_LIGHTCURVE);
    assert_int_equal(sv_model_fits_task(lc_cut, &t), 0);
    assert_int_equal(t, SV_TASK_LIGHTCURVE);
    t = SV_TASK_CLASS;
    assert_int_equal(sv_model_fits_task(plain, &t), -1);
    assert_int_equal(sv_model_fits_task(dir, &t), -1);
    assert_int_equal(sv_model_fits_task("/nonexistent/x.fits", &t), -1);
    assert_int_equal(t, SV_TASK_CLASS); /* untouched */
    /* a full load refuses both light-curve files: lc_cli_wants must not need it */
    sv_model *m = NULL;
    assert_int_not_equal(sv_model_read_fits(lc_header, &m, NULL), 0);
    assert_null(m);
    assert_int_not_equal(sv_model_read_fits(lc_cut, &m, NULL), 0);
    assert_null(m);
}

static void test_options(void **state)
{
    (void)state;
    assert_int_equal(wants(NULL, NULL, NULL), 0);
    assert_int_equal(wants("--lightcurves", NULL, NULL), 1);
    assert_int_equal(wants("--epochs", "3", "--lightcurves"), 1);
    /* the flag's name as a value is a value, not the flag */
    assert_int_equal(wants("--out", "x.fits", NULL), 0);
    /* --data as the last word has no value */
    assert_int_equal(wants("--data", NULL, NULL), 0);
    assert_int_equal(wants("--data", "/nonexistent/x.fits", NULL), 0);
}

static void test_models(void **state)
{
    (void)state;
    static const char *const keys[] = {"--model", "--base", "--from", "--data", NULL};
    for (int k = 0; keys[k]; k++) {
        char eq[1400];
        assert_int_equal(wants(keys[k], stamp_model, NULL), 0);
        assert_int_equal(wants(keys[k], lc_header, NULL), 1);
        assert_int_equal(wants(keys[k], lc_cut, NULL), 1);
        assert_int_equal(wants(keys[k], plain, NULL), 0);
        snprintf(eq, sizeof eq, "%s=%s", keys[k], lc_cut);
        assert_int_equal(wants("--epochs", "2", eq), 1);
        snprintf(eq, sizeof eq, "%s=%s", keys[k], stamp_model);
        assert_int_equal(wants("--epochs", "2", eq), 0);
    }
    /* options that name no file are not looked at */
    assert_int_equal(wants("--out", lc_cut, NULL), 0);
    assert_int_equal(wants("--modelx", lc_cut, NULL), 0);
    /* one light-curve model among stamp arguments */
    assert_int_equal(wants("--base", stamp_model, "--model"), 0);
    char *argv[] = {(char *)"compare", (char *)"--base", stamp_model, (char *)"--model",
                    lc_cut, NULL};
    assert_int_equal(lc_cli_wants(5, argv), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_task),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_models),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
