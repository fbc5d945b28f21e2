/* test_batch_summary.c — the batch summary table: CSV and FITS round trips
 * (quotes, commas, unknown counts), merging, totals, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch/batch_summary.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_batch_summary.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void fill(sv_summary *s)
{
    sv_error err;
    assert_int_equal(sv_summary_add(s, "e1", "ok", 500, 1.25, "", "out/e1.fits", 0, &err), 0);
    assert_int_equal(sv_summary_add(s, "e,2", "failed", -1, 0.5,
                                    "IO: sci \"2\".fits: bad, very bad\nsecond line",
                                    "out/e2.fits", 1, &err),
                     0);
    assert_int_equal(sv_summary_add(s, "e3", "skipped", 0, 0.001, NULL, NULL, 2, &err), 0);
    assert_int_equal(sv_summary_add(s, "e4", "cancelled", -1, 0, "stopped", "o4", 0, &err), 0);
}

static void round_trip(const char *name)
{
    sv_summary s = {0}, r = {0};
    sv_error err;
    fill(&s);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    assert_int_equal(sv_summary_write(&s, path, &err), 0);
    assert_int_equal(sv_summary_read_append(&r, path, &err), 0);
    assert_int_equal(r.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(r.rows[i].exposure, s.rows[i].exposure);
        assert_string_equal(r.rows[i].status, s.rows[i].status);
        assert_int_equal(r.rows[i].detections, s.rows[i].detections);
        assert_true(r.rows[i].seconds > s.rows[i].seconds - 0.0006 &&
                    r.rows[i].seconds < s.rows[i].seconds + 0.0006);
        assert_string_equal(r.rows[i].error, s.rows[i].error);
        assert_string_equal(r.rows[i].output, s.rows[i].output);
        assert_int_equal(r.rows[i].rank, s.rows[i].rank);
    }
    /* line breaks in an error text are flattened, never split a row */
    assert_string_equal(r.rows[1].error, "IO: sci \"2\".fits: bad, very bad second line");
    sv_summary_totals t = sv_summary_get_totals(&r);
    assert_int_equal(t.rows, 4);
    assert_int_equal(t.ok, 1);
    assert_int_equal(t.failed, 1);
    assert_int_equal(t.skipped, 1);
    assert_int_equal(t.cancelled, 1);
    assert_int_equal(t.detections, 500);
    /* no temporary file left beside it */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", tmpdir);
    assert_int_not_equal(system(cmd), 0);
    sv_summary_clear(&s);
    sv_summary_clear(&r);
}

static void test_csv(void **state)
{
    (void)state;
    round_trip("s.csv");
}

static void test_fits(void **state)
{
    (void)state;
    round_trip("s.fits");
}

static void test_merge_and_errors(void **state)
{
    (void)state;
    sv_summary s = {0};
    sv_error err;
    fill(&s);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a.csv", tmpdir);
    snprintf(b, sizeof b, "%s/b.fits", tmpdir);
    assert_int_equal(sv_summary_write(&s, a, &err), 0);
    assert_int_equal(sv_summary_write(&s, b, &err), 0);
    sv_summary m = {0};
    assert_int_equal(sv_summary_read_append(&m, a, &err), 0);
    assert_int_equal(sv_summary_read_append(&m, b, &err), 0);
    assert_int_equal(m.n, 8);
    assert_string_equal(m.rows[4].exposure, "e1");
    sv_summary_clear(&m);

    FILE *fp = fopen(a, "w");
    fputs("exposure,status,detections\ne1,ok,12x\n", fp);
    fclose(fp);
    assert_int_equal(sv_summary_read_append(&m, a, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "a.csv:2:"));
    fp = fopen(a, "w");
    fputs("name,value\n", fp);
    fclose(fp);
    assert_int_equal(sv_summary_read_append(&m, a, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "not a batch summary"));
    /* a folder that is a file: the write fails and says where */
    snprintf(b, sizeof b, "%s/a.csv/sub/summary.csv", tmpdir);
    assert_int_equal(sv_summary_write(&s, b, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "summary.csv"));
    sv_summary_clear(&m);
    sv_summary_clear(&s);
}

/* n_real, n_flagged and the median score: written, read back (CSV and
 * FITS), unknown as empty cells / TNULL / NaN; a summary without the
 * columns (written before they existed) reads as unknown */
static void scores_round_trip(const char *name)
{
    sv_summary s = {0}, r = {0};
    sv_error err;
    /* scores on rows 0 and 2; rows 1 and 3 unknown */
    assert_int_equal(sv_summary_add(&s, "e1", "ok", 20, 1.0, "", "o1.fits", 0, &err), 0);
    sv_summary_set_scores(&s, 12, 3, 0.0123456789);
    assert_int_equal(sv_summary_add(&s, "e2", "failed", -1, 0.5, "bad", "o2.fits", 1, &err), 0);
    assert_int_equal(sv_summary_add(&s, "e3", "skipped", 4, 0.0, "", "o3.fits", 0, &err), 0);
    sv_summary_set_scores(&s, 0, 0, 0.25);
    assert_int_equal(sv_summary_add(&s, "e4", "ok", 0, 0.1, "", "o4.fits", 0, &err), 0);
    sv_summary_set_scores(&s, -1, -1, NAN);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    assert_int_equal(sv_summary_write(&s, path, &err), 0);
    assert_int_equal(sv_summary_read_append(&r, path, &err), 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.rows[0].n_real, 12);
    assert_int_equal(r.rows[0].n_flagged, 3);
    assert_true(fabs(r.rows[0].median_score - 0.0123456789) < 1e-9);
    assert_int_equal(r.rows[1].n_real, -1);
    assert_int_equal(r.rows[1].n_flagged, -1);
    assert_true(isnan(r.rows[1].median_score));
    assert_int_equal(r.rows[2].n_real, 0);
    assert_int_equal(r.rows[2].n_flagged, 0);
    assert_true(r.rows[2].median_score == 0.25);
    assert_int_equal(r.rows[3].n_real, -1);
    assert_true(isnan(r.rows[3].median_score));
    sv_summary_clear(&s);
    sv_summary_clear(&r);
}

static void test_scores(void **state)
{
    (void)state;
    scores_round_trip("scores.csv");
    scores_round_trip("scores.fits");
    /* the CSV header names the new columns after detections, rank last */
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/scores.csv", tmpdir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_string_equal(line, "exposure,status,detections,n_real,n_flagged,median_score,"
                              "seconds,error,output,rank\n");
    /* an old summary: no score columns */
    snprintf(path, sizeof path, "%s/old.csv", tmpdir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("exposure,status,detections,seconds,error,output,rank\ne1,ok,5,0.100,,o.fits,0\n",
          fp);
    fclose(fp);
    sv_summary r = {0};
    sv_error err;
    assert_int_equal(sv_summary_read_append(&r, path, &err), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.rows[0].detections, 5);
    assert_int_equal(r.rows[0].n_real, -1);
    assert_int_equal(r.rows[0].n_flagged, -1);
    assert_true(isnan(r.rows[0].median_score));
    sv_summary_clear(&r);
    /* a bad count is refused, naming the file, the line and the column */
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("exposure,status,detections,n_real\ne1,ok,5,many\n", fp);
    fclose(fp);
    assert_int_not_equal(sv_summary_read_append(&r, path, &err), 0);
    assert_non_null(strstr(err.text, "old.csv:2: n_real 'many' is not a count"));
    sv_summary_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_merge_and_errors),
        cmocka_unit_test(test_scores),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
