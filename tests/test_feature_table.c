/* test_feature_table.c — candidate features by name (feature_table.h):
 * name=value text, CSV tables (quoting, CRLF, id matching, order matching)
 * and FITS tables; every missing feature is an error that names it. */
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

#include "data/feature_table.h"

static sv_model *feature_model(void)
{
    sv_model *m = sv_model_new(NULL);
    assert_non_null(m);
    snprintf(m->name, sizeof m->name, "ftest");
    static const char *const names[] = {"drb", "magpsf", "sgscore1"};
    m->n_features = 3;
    for (int i = 0; i < 3; i++)
        snprintf(m->features[i], SV_LABEL_MAX, "%s", names[i]);
    return m;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_parse_text(void **state)
{
    (void)state;
    sv_model *m = feature_model();
    float v[3];
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_features_parse(m, " sgscore1=0.25, drb=0.99 ,magpsf=18.5", v, &err), 0);
    assert_true(v[0] == 0.99f && v[1] == 18.5f && v[2] == 0.25f);

    assert_int_equal(sv_features_parse(m, "drb=0.99,magpsf=18.5", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "missing feature 'sgscore1'"));
    assert_int_equal(sv_features_parse(m, "drb=1,magpsf=2,sgscore1=3,distpsnr1=4", v, &err),
                     SV_ERR_ARG);
    assert_non_null(strstr(err.text, "no feature 'distpsnr1'"));
    assert_int_equal(sv_features_parse(m, "drb=1,drb=2,magpsf=2,sgscore1=3", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "'drb' given twice"));
    assert_int_equal(sv_features_parse(m, "drb=x,magpsf=2,sgscore1=3", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "'drb'"));
    assert_int_equal(sv_features_parse(m, "drb=nan,magpsf=2,sgscore1=3", v, &err), SV_ERR_ARG);
    assert_int_equal(sv_features_parse(m, "drb,magpsf=2,sgscore1=3", v, &err), SV_ERR_ARG);
    assert_int_equal(sv_features_parse(m, "", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "missing feature 'drb'"));
    sv_model_free(m);
}

static void test_csv_by_id(void **state)
{
    (void)state;
    char path[] = "/tmp/sv-ft-XXXXXX.csv";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    /* quoted commas and quotes, CRLF, a blank line, columns in any order */
    write_text(path, "candid,note,magpsf,drb,sgscore1\r\n"
                     "111,\"a, \"\"quoted\"\" note\",18.25,0.5,0.125\r\n"
                     "\r\n"
                     "222,plain,19,0.75,-1e-3\r\n");
    sv_feature_table *t = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_feature_table_read(path, &t, &err), 0);
    assert_int_equal(sv_feature_table_rows(t), 2);
    assert_string_equal(sv_feature_table_id_column(t), "candid");
    sv_model *m = feature_model();
    float v[3];
    assert_int_equal(sv_feature_table_get(t, m, 0, "222", v, &err), 0);
    assert_true(v[0] == 0.75f && v[1] == 19.0f && v[2] == -1e-3f);
    assert_int_equal(sv_feature_table_get(t, m, 1, "111", v, &err), 0);
    assert_true(v[0] == 0.5f && v[1] == 18.25f && v[2] == 0.125f);
    assert_int_equal(sv_feature_table_get(t, m, 0, "333", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "'333'"));
    /* a model feature the table lacks */
    snprintf(m->features[2], SV_LABEL_MAX, "distpsnr1");
    assert_int_equal(sv_feature_table_get(t, m, 0, "111", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "missing feature 'distpsnr1'"));
    assert_non_null(strstr(err.text, path));
    /* a non-numeric value */
    snprintf(m->features[2], SV_LABEL_MAX, "note");
    assert_int_equal(sv_feature_table_get(t, m, 0, "111", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "'note'"));
    sv_feature_table_free(t);
    sv_model_free(m);
    unlink(path);
}

static void test_csv_by_order_and_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/sv-ft-XXXXXX.csv";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    write_text(path, "# a comment\ndrb,magpsf,sgscore1\n0.1,20,0.5\n0.2,21,0.6\n");
    sv_feature_table *t = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_feature_table_read(path, &t, &err), 0);
    assert_null(sv_feature_table_id_column(t));
    sv_model *m = feature_model();
    float v[3];
    assert_int_equal(sv_feature_table_get(t, m, 1, "ignored", v, &err), 0);
    assert_true(v[0] == 0.2f && v[1] == 21.0f && v[2] == 0.6f);
    assert_int_equal(sv_feature_table_get(t, m, 2, NULL, v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "no row 3"));
    sv_feature_table_free(t);

    static const char *const bad[] = {
        "drb,magpsf\n1,2,3\n",          /* too many fields */
        "drb,magpsf\n\"1,2\n",          /* unterminated quote */
        "drb,drb\n1,2\n",               /* duplicate column */
        "",                             /* no header */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(path, bad[i]);
        t = (sv_feature_table *)1;
        assert_int_equal(sv_feature_table_read(path, &t, &err), SV_ERR_FORMAT);
        assert_null(t);
        assert_non_null(strstr(err.text, path));
    }
    unlink(path);
    assert_int_equal(sv_feature_table_read(path, &t, &err), SV_ERR_IO);
    sv_model_free(m);
}

static void test_fits_table(void **state)
{
    (void)state;
    char path[] = "/tmp/sv-ft-XXXXXX.fits";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    fitsfile *f = NULL;
    int st = 0;
    char *ttype[] = {"candid", "drb", "magpsf", "sgscore1", "vec", "label"};
    char *tform[] = {"1K", "1E", "1D", "1D", "3E", "8A"};
    fits_create_file(&f, path, &st);
    fits_create_tbl(f, BINARY_TBL, 0, 6, ttype, tform, NULL, "FEATS", &st);
    LONGLONG ids[2] = {1660293514215020000LL, 42};
    float drb[2] = {0.999f, 0.25f};
    double mag[2] = {16.62234878540039, 20.5}, sg[2] = {0.5, 0.0};
    float vec[6] = {1, 2, 3, 4, 5, 6};
    char *lab[2] = {"a", "b"};
    fits_write_col(f, TLONGLONG, 1, 1, 1, 2, ids, &st);
    fits_write_col(f, TFLOAT, 2, 1, 1, 2, drb, &st);
    fits_write_col(f, TDOUBLE, 3, 1, 1, 2, mag, &st);
    fits_write_col(f, TDOUBLE, 4, 1, 1, 2, sg, &st);
    fits_write_col(f, TFLOAT, 5, 1, 1, 6, vec, &st);
    fits_write_col(f, TSTRING, 6, 1, 1, 2, lab, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);

    sv_feature_table *t = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_feature_table_read(path, &t, &err), 0);
    assert_int_equal(sv_feature_table_rows(t), 2);
    sv_model *m = feature_model();
    float v[3];
    /* a 19-digit candid matches exactly */
    assert_int_equal(sv_feature_table_get(t, m, 1, "1660293514215020000", v, &err), 0);
    assert_true(v[0] == 0.999f && v[1] == (float)16.62234878540039 && v[2] == 0.5f);
    assert_int_equal(sv_feature_table_get(t, m, 0, "42", v, &err), 0);
    assert_true(v[0] == 0.25f && v[1] == 20.5f && v[2] == 0.0f);
    snprintf(m->features[2], SV_LABEL_MAX, "vec");
    assert_int_equal(sv_feature_table_get(t, m, 0, "42", v, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "'vec' is not a scalar"));
    sv_feature_table_free(t);
    sv_model_free(m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_csv_by_id),
        cmocka_unit_test(test_csv_by_order_and_errors),
        cmocka_unit_test(test_fits_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
