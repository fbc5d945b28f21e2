/* test_manifest.c — the batch manifest: plain text, CSV and FITS forms,
 * comments, quotes, overrides, relative paths, and every error naming the
 * file and line. */
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

#include "batch/manifest.h"

static sv_manifest *parse(const char *text, const char *basedir, int csv, sv_error *err)
{
    sv_manifest *m = NULL;
    sv_error_clear(err);
    int rc = sv_manifest_parse_text(text, strlen(text), "night.txt", basedir, csv, &m, err);
    if (rc) {
        assert_null(m);
        assert_true(err->text[0] != '\0');
        return NULL;
    }
    assert_non_null(m);
    return m;
}

static void test_plain_lines(void **state)
{
    (void)state;
    const char *text = "# a night\n"
                       "\n"
                       "s1.fits r1.fits d1.fits det1.fits out/e1.fits\n"
                       "   s2.fits r2.fits d2.fits det2.fits m2.fits out/e2.fits.gz  # masked\n"
                       "s3.fits r3.fits d3.fits det3.fits - out/e3.fits preset=sextractor "
                       "id=night3\r\n"
                       "\"my sci.fits\" r4.fits d4.fits det4.fits out/e4.fits "
                       "rb_model=\"models/a b.fits\" x=\"q\\\"uote\"\n";
    sv_error err;
    sv_manifest *m = parse(text, NULL, 0, &err);
    assert_non_null(m);
    assert_int_equal(m->n, 4);
    const sv_manifest_entry *e = &m->entries[0];
    assert_string_equal(e->science, "s1.fits");
    assert_string_equal(e->reference, "r1.fits");
    assert_string_equal(e->difference, "d1.fits");
    assert_string_equal(e->detections, "det1.fits");
    assert_null(e->mask);
    assert_string_equal(e->output, "out/e1.fits");
    assert_string_equal(e->id, "e1");
    assert_int_equal(e->line, 3);
    assert_int_equal(e->n_overrides, 0);
    e = &m->entries[1];
    assert_string_equal(e->mask, "m2.fits");
    assert_string_equal(e->output, "out/e2.fits.gz");
    assert_string_equal(e->id, "e2");
    assert_int_equal(e->line, 4);
    e = &m->entries[2];
    assert_null(e->mask);
    assert_string_equal(e->id, "night3");
    assert_int_equal(e->n_overrides, 1); /* id is not a stage key */
    assert_string_equal(sv_manifest_override(e, "preset"), "sextractor");
    assert_null(sv_manifest_override(e, "id"));
    e = &m->entries[3];
    assert_string_equal(e->science, "my sci.fits");
    assert_string_equal(sv_manifest_override(e, "rb_model"), "models/a b.fits");
    assert_string_equal(sv_manifest_override(e, "x"), "q\"uote");
    sv_manifest_free(m);
}

static void test_relative_paths_join_basedir(void **state)
{
    (void)state;
    sv_error err;
    sv_manifest *m = parse("s.fits /abs/r.fits d.fits det.fits o.fits\n", "/data/night", 0,
                           &err);
    assert_non_null(m);
    assert_string_equal(m->entries[0].science, "/data/night/s.fits");
    assert_string_equal(m->entries[0].reference, "/abs/r.fits");
    assert_string_equal(m->entries[0].output, "/data/night/o.fits");
    sv_manifest_free(m);
}

static void expect_error(const char *text, int csv, const char *fragment)
{
    sv_error err;
    sv_manifest *m = parse(text, NULL, csv, &err);
    assert_null(m);
    if (!strstr(err.text, fragment))
        fail_msg("error '%s' does not contain '%s'", err.text, fragment);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error("# c\ns r d det o\ns r d det\n", 0, "night.txt:3:");
    expect_error("s r d det\n", 0, "4 positional fields");
    expect_error("s r d det m o extra\n", 0, "7 positional fields");
    expect_error("s r d det o\n\"unterminated r d det o2\n", 0, "night.txt:2: unterminated");
    expect_error("s r d det o.fits\ns2 r d det o.fits\n", 0,
                 "night.txt:2: output 'o.fits' is also the output of line 1");
    expect_error("s r d det o band=g band=r\n", 0, "night.txt:1: override 'band' given twice");
    expect_error("s r d det o output=x\n", 0, "names a manifest column");
    expect_error("# nothing\n\n", 0, "no exposure listed");
    expect_error("", 0, "no exposure listed");
}

static void test_csv_with_header(void **state)
{
    (void)state;
    const char *text = "# CSV manifest\n"
                       "Science,Reference,Difference,Detections,Mask,Output,ID,Band,preset\n"
                       "s1.fits,r1.fits,d1.fits,det1.fits,,o1.fits,first,g,\n"
                       "\"s,2.fits\", r2.fits ,d2.fits,det2.fits,m2.fits,o2.fits,,r,lsst\n";
    sv_error err;
    sv_manifest *m = parse(text, NULL, 0, &err); /* detected from the comma */
    assert_non_null(m);
    assert_int_equal(m->n, 2);
    const sv_manifest_entry *e = &m->entries[0];
    assert_int_equal(e->line, 3);
    assert_null(e->mask);
    assert_string_equal(e->id, "first");
    assert_int_equal(e->n_overrides, 1); /* empty preset cell: unset */
    assert_string_equal(sv_manifest_override(e, "band"), "g");
    e = &m->entries[1];
    assert_string_equal(e->science, "s,2.fits");
    assert_string_equal(e->reference, "r2.fits");
    assert_string_equal(e->mask, "m2.fits");
    assert_string_equal(e->id, "o2");
    assert_string_equal(sv_manifest_override(e, "preset"), "lsst");
    assert_string_equal(sv_manifest_override(e, "band"), "r");
    sv_manifest_free(m);
}

static void test_csv_positional_and_errors(void **state)
{
    (void)state;
    sv_error err;
    sv_manifest *m = parse("s,r,d,det,o1.fits,preset=ztf\ns,r,d,det,,o2.fits\n", NULL, 1, &err);
    assert_non_null(m);
    assert_int_equal(m->n, 2);
    assert_string_equal(sv_manifest_override(&m->entries[0], "preset"), "ztf");
    assert_null(m->entries[1].mask);
    sv_manifest_free(m);
    expect_error("science,reference,difference,detections,output\ns,r,d,det\n", 1,
                 "night.txt:2: 4 fields, the header has 5 columns");
    expect_error("science,reference,difference,output\n", 1, "night.txt:1: no 'detections'");
    expect_error("science,reference,difference,detections,output,bad key\n", 1,
                 "not a valid override key");
    expect_error("science,reference,difference,detections,output\ns,r,,det,o\n", 1,
                 "night.txt:2: no difference file given");
    expect_error("s,r,d,det,\"o\"x\n", 1, "text after a closing quote");
}

static char tmpdir[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_manifest.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_file_relative_to_manifest(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/night.txt", tmpdir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("sci.fits ref.fits diff.fits det.fits out.fits\n", fp);
    fclose(fp);
    sv_manifest *m = NULL;
    sv_error err;
    assert_int_equal(sv_manifest_read(path, &m, &err), 0);
    char want[600];
    snprintf(want, sizeof want, "%s/sci.fits", tmpdir);
    assert_string_equal(m->entries[0].science, want);
    assert_string_equal(m->path, path);
    sv_manifest_free(m);

    snprintf(path, sizeof path, "%s/missing.txt", tmpdir);
    assert_int_equal(sv_manifest_read(path, &m, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "missing.txt"));
}

static void test_fits_table(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/night.fits", tmpdir);
    fitsfile *f = NULL;
    int status = 0;
    char *ttype[] = {"SCIENCE", "REFERENCE", "DIFFERENCE", "DETECTIONS", "OUTPUT", "BAND",
                     "BATCH"};
    char *tform[] = {"20A", "20A", "20A", "20A", "20A", "2A", "1J"};
    fits_create_diskfile(&f, path, &status);
    fits_create_tbl(f, BINARY_TBL, 2, 7, ttype, tform, NULL, "MANIFEST", &status);
    char *col[5][2] = {{"s1.fits", "s2.fits"}, {"r1.fits", "r2.fits"},
                       {"d1.fits", "d2.fits"}, {"det1.fits", "det2.fits"},
                       {"o1.fits", "o2.fits"}};
    for (int c = 0; c < 5; c++)
        fits_write_col_str(f, c + 1, 1, 1, 2, col[c], &status);
    char *band[] = {"g", ""};
    fits_write_col_str(f, 6, 1, 1, 2, band, &status);
    int batch[] = {32, 128};
    fits_write_col(f, TINT, 7, 1, 1, 2, batch, &status);
    fits_close_file(f, &status);
    assert_int_equal(status, 0);

    sv_manifest *m = NULL;
    sv_error err;
    assert_int_equal(sv_manifest_read(path, &m, &err), 0);
    assert_int_equal(m->n, 2);
    char want[600];
    snprintf(want, sizeof want, "%s/o2.fits", tmpdir);
    assert_string_equal(m->entries[1].output, want);
    assert_string_equal(m->entries[0].id, "o1");
    assert_string_equal(sv_manifest_override(&m->entries[0], "band"), "g");
    assert_null(sv_manifest_override(&m->entries[1], "band"));
    assert_string_equal(sv_manifest_override(&m->entries[1], "batch"), "128");
    assert_int_equal(m->entries[1].line, 2);
    sv_manifest_free(m);

    /* a FITS manifest without an output column */
    snprintf(path, sizeof path, "%s/bad.fits", tmpdir);
    status = 0;
    fits_create_diskfile(&f, path, &status);
    fits_create_tbl(f, BINARY_TBL, 1, 4, ttype, tform, NULL, "MANIFEST", &status);
    fits_close_file(f, &status);
    assert_int_equal(status, 0);
    assert_int_equal(sv_manifest_read(path, &m, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "bad.fits: table header: no 'output' column"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lines),
        cmocka_unit_test(test_relative_paths_join_basedir),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_csv_with_header),
        cmocka_unit_test(test_csv_positional_and_errors),
        cmocka_unit_test(test_file_relative_to_manifest),
        cmocka_unit_test(test_fits_table),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
