/* test_report_figures.c — the numbers behind the report's figures
 * (report_figures.h) and the per-stamp scores files (scores_table.h),
 * against hand values, brute-force recomputations written here, and —
 * when Debian's python3 is at hand (SV_PYTHON) — astropy's
 * ZScaleInterval, numpy.histogram and brute-force average precision /
 * ECE in tests/python/report_figures_ref.py.
 *
 * Hand derivations:
 *   - scores 0.9 (pos), 0.8 (neg), 0.8 (pos), 0.3 (neg), 0.1 (pos): the
 *     thresholds descending 0.9, 0.8, 0.3, 0.1 give (FPR, TPR) = (0, 1/3),
 *     (1/2, 2/3), (1, 2/3), (1, 1) after (0, 0); the trapezoid area is
 *     1/2 * (1/3 + 2/3) / 2 + 1/2 * 2/3 = 0.25 + 1/3 = 7/12, the
 *     Mann-Whitney AUC (pairs won: 0.9 beats both, the 0.8 pos beats 0.3
 *     and ties 0.8: 1.5, 0.1 beats none: 2 + 1.5 = 3.5 of 6 = 7/12);
 *     precision at the same thresholds 1, 2/3, 2/4, 3/5 with recall 1/3,
 *     2/3, 2/3, 1: AP = 1/3 * 1 + 1/3 * 2/3 + 0 + 1/3 * 3/5 = 0.7555...;
 *   - calibration, 2 bins: p = 0.1, 0.2 (hits 0, 1) and 0.7, 0.9, 1.0 (hits
 *     1, 1, 0): bin 0 conf 0.15 frac 0.5, bin 1 conf 13/15 frac 2/3;
 *     ECE = 2/5 * 0.35 + 3/5 * 0.2 = 0.26, MCE 0.35.
 */
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

#include "core/rng.h"
#include "train/metrics.h"
#include "train/report_figures.h"
#include "data/scores_table.h"

static void test_roc_pr_hand(void **state)
{
    (void)state;
    double s[] = {0.9, 0.8, 0.8, 0.3, 0.1};
    int l[] = {1, 0, 1, 0, 1};
    sv_curve roc, pr;
    double ap;
    assert_int_equal(sv_fig_roc(s, l, 5, &roc, NULL), 0);
    double ex[] = {0, 0, 0.5, 1, 1}, ey[] = {0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1};
    assert_int_equal(roc.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_float_equal(roc.x[i], ex[i], 1e-15);
        assert_float_equal(roc.y[i], ey[i], 1e-15);
    }
    assert_true(isinf(roc.t[0]));
    assert_float_equal(roc.t[4], 0.1, 0);
    assert_float_equal(sv_curve_area(&roc), 7.0 / 12, 1e-15);
    assert_float_equal(sv_roc_auc(s, l, 5), 7.0 / 12, 1e-15);
    sv_curve_free(&roc);
    assert_int_equal(sv_fig_pr(s, l, 5, &pr, &ap, NULL), 0);
    assert_int_equal(pr.n, 4);
    double rx[] = {1.0 / 3, 2.0 / 3, 2.0 / 3, 1}, py[] = {1, 2.0 / 3, 0.5, 0.6};
    for (int i = 0; i < 4; i++) {
        assert_float_equal(pr.x[i], rx[i], 1e-15);
        assert_float_equal(pr.y[i], py[i], 1e-15);
    }
    assert_float_equal(ap, 1.0 / 3 + 2.0 / 9 + 0.2, 1e-15);
    sv_curve_free(&pr);
    /* refused: one class only, a NaN */
    int one[] = {1, 1, 1, 1, 1};
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_fig_roc(s, one, 5, &roc, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "both classes"));
    double sn[] = {0.1, NAN, 0.3};
    assert_int_equal(sv_fig_roc(sn, l, 3, &roc, &err), SV_ERR_ARG);
    assert_int_equal(sv_fig_pr(s, (int[]){0, 0, 0, 0, 0}, 5, &pr, &ap, NULL), SV_ERR_ARG);
}

/* ROC points by brute force at every distinct threshold; area = AUC */
static void test_roc_random(void **state)
{
    (void)state;
    enum { N = 700 };
    static double s[N];
    static int l[N];
    sv_rng r = {77};
    for (int i = 0; i < N; i++) {
        l[i] = sv_rng_below(&r, 3) == 0;
        s[i] = (double)sv_rng_below(&r, 60) / 60 + 0.15 * l[i]; /* many ties */
    }
    sv_curve roc;
    assert_int_equal(sv_fig_roc(s, l, N, &roc, NULL), 0);
    long np = 0;
    for (int i = 0; i < N; i++)
        np += l[i];
    for (int k = 1; k < roc.n; k++) {
        long tp = 0, fp = 0;
        for (int i = 0; i < N; i++)
            if (s[i] >= roc.t[k]) {
                tp += l[i];
                fp += !l[i];
            }
        assert_float_equal(roc.x[k], (double)fp / (N - np), 1e-15);
        assert_float_equal(roc.y[k], (double)tp / np, 1e-15);
        assert_true(roc.t[k] < roc.t[k - 1]);
    }
    assert_float_equal(roc.x[roc.n - 1], 1, 0);
    assert_float_equal(roc.y[roc.n - 1], 1, 0);
    assert_float_equal(sv_curve_area(&roc), sv_roc_auc(s, l, N), 1e-12);
    sv_curve_free(&roc);
}

static void test_histogram(void **state)
{
    (void)state;
    /* edges: 0, 0.25, 0.5, 0.75, 1; 1.0 in the last bin; outside left out */
    double x[] = {0, 0.25, 0.2499, 0.5, 0.74, 0.75, 1.0, -0.1, 1.01, NAN};
    long c[4], out;
    assert_int_equal(sv_fig_histogram(x, NULL, 10, 4, 0, 1, c, &out), 0);
    assert_int_equal(c[0], 2);
    assert_int_equal(c[1], 1);
    assert_int_equal(c[2], 2);
    assert_int_equal(c[3], 2);
    assert_int_equal(out, 3);
    int mask[] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    assert_int_equal(sv_fig_histogram(x, mask, 10, 4, 0, 1, c, &out), 0);
    assert_int_equal(c[0] + c[1] + c[2] + c[3], 2);
    assert_int_equal(c[3], 1);
    assert_int_equal(sv_fig_histogram(x, NULL, 10, 0, 0, 1, c, &out), SV_ERR_ARG);
    assert_int_equal(sv_fig_histogram(x, NULL, 10, 4, 1, 1, c, &out), SV_ERR_ARG);
}

static void test_calibration_hand(void **state)
{
    (void)state;
    double p[] = {0.1, 0.2, 0.7, 0.9, 1.0};
    int h[] = {0, 1, 1, 1, 0};
    sv_calibration c;
    assert_int_equal(sv_fig_calibration(p, h, 5, 2, &c, NULL), 0);
    assert_int_equal(c.count[0], 2);
    assert_int_equal(c.count[1], 3);
    assert_float_equal(c.conf[0], 0.15, 1e-15);
    assert_float_equal(c.frac[0], 0.5, 1e-15);
    assert_float_equal(c.conf[1], 2.6 / 3, 1e-15);
    assert_float_equal(c.frac[1], 2.0 / 3, 1e-15);
    assert_float_equal(c.ece, 0.26, 1e-15);
    assert_float_equal(c.mce, 0.35, 1e-15);
    /* a perfectly calibrated case: p = 0.25 with 1 hit in 4, p = 0.75 with 3 */
    double q[] = {0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75};
    int g[] = {1, 0, 0, 0, 1, 1, 1, 0};
    assert_int_equal(sv_fig_calibration(q, g, 8, 10, &c, NULL), 0);
    assert_float_equal(c.ece, 0, 1e-15);
    assert_true(isnan(c.conf[0]));
    sv_error err;
    sv_error_clear(&err);
    double bad[] = {0.5, 1.5};
    assert_int_equal(sv_fig_calibration(bad, g, 2, 10, &c, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "outside [0, 1]"));
}

static void test_confusion_and_selection(void **state)
{
    (void)state;
    long conf[] = {3, 1, 0, 0};
    double out[4];
    sv_fig_row_normalise(conf, 2, out);
    assert_float_equal(out[0], 0.75, 1e-15);
    assert_float_equal(out[1], 0.25, 1e-15);
    assert_true(isnan(out[2]) && isnan(out[3]));

    double s[] = {0.5, 0.9, NAN, 0.1, 0.9, 0.3};
    int mask[] = {1, 1, 1, 1, 1, 0};
    int idx[6];
    assert_int_equal(sv_fig_extremes(s, mask, 6, 3, 1, idx), 3);
    assert_int_equal(idx[0], 1); /* 0.9, ties by index */
    assert_int_equal(idx[1], 4);
    assert_int_equal(idx[2], 0);
    assert_int_equal(sv_fig_extremes(s, mask, 6, 10, 0, idx), 4); /* NaN and masked out */
    assert_int_equal(idx[0], 3);

    /* samples: distinct, masked, ascending, deterministic, all when k >= count */
    enum { N = 200 };
    int m[N], a[20], b[20];
    for (int i = 0; i < N; i++)
        m[i] = i % 3 == 0;
    assert_int_equal(sv_fig_sample(m, N, 20, 5, a), 20);
    assert_int_equal(sv_fig_sample(m, N, 20, 5, b), 20);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(a[i], b[i]);
        assert_true(m[a[i]]);
        if (i)
            assert_true(a[i] > a[i - 1]);
    }
    assert_int_equal(sv_fig_sample(m, N, 20, 6, b), 20);
    assert_memory_not_equal(a, b, sizeof a);
    int all[N];
    assert_int_equal(sv_fig_sample(m, 10, 50, 1, all), 4); /* 0, 3, 6, 9 */
    assert_int_equal(all[3], 9);
}

static void test_ticks_stretch(void **state)
{
    (void)state;
    double t[10];
    assert_int_equal(sv_fig_ticks(0, 1, 8, t), 6); /* step 0.2 */
    assert_float_equal(t[1], 0.2, 1e-15);
    assert_float_equal(t[5], 1.0, 1e-15);
    assert_int_equal(sv_fig_ticks(-3, 17, 6, t), 4); /* step 5: 0, 5, 10, 15 */
    assert_float_equal(t[0], 0, 0);
    assert_float_equal(t[3], 15, 1e-12);
    assert_int_equal(sv_fig_ticks(1, 1, 6, t), 0);
    assert_int_equal(sv_fig_ticks(300, 1120, 8, t), 4); /* step 200: 400 .. 1000 */
    assert_float_equal(t[0], 400, 1e-9);
    /* asinh: ends map to 0 and 1, monotone, a <= 0 linear */
    assert_float_equal(sv_stretch_asinh(2, 2, 4, 10), 0, 0);
    assert_float_equal(sv_stretch_asinh(5, 2, 4, 10), 1, 1e-15);
    assert_float_equal(sv_stretch_asinh(3, 2, 4, 0), 0.5, 1e-15);
    assert_float_equal(sv_stretch_asinh(3, 2, 4, 10), asinh(5.0) / asinh(10.0), 1e-15);
    /* quantiles as numpy (linear): of 1..5, q 0.5 = 3, q 0.1 = 1.4 */
    float v[] = {5, NAN, 1, 4, 2, 3};
    assert_float_equal(sv_quantile_finite(v, 6, 0.5), 3, 1e-12);
    assert_float_equal(sv_quantile_finite(v, 6, 0.1), 1.4, 1e-6);
}

static void test_zscale_basic(void **state)
{
    (void)state;
    /* a flat ramp: the fitted slope is exact, nothing is rejected; 100
     * values 0..99: slope 1 -> 4 after contrast, median 49.5, centre 49:
     * z1 = max(0, 49.5 - 48 * 4) = 0, z2 = min(99, 49.5 + 51 * 4) = 99 */
    float r[100];
    for (int i = 0; i < 100; i++)
        r[i] = (float)((i * 37) % 100);
    double z1, z2;
    assert_int_equal(sv_zscale(r, 100, &z1, &z2), 0);
    assert_float_equal(z1, 0, 1e-9);
    assert_float_equal(z2, 99, 1e-9);
    float nan3[] = {NAN, NAN, INFINITY};
    assert_int_equal(sv_zscale(nan3, 3, &z1, &z2), SV_ERR_ARG);
}

/* Against astropy / numpy, when Debian's python3 has them. */
static void test_against_python(void **state)
{
    (void)state;
    const char *py = getenv("SV_PYTHON");
    if (!py || !*py || access(py, X_OK)) {
        printf("# SKIP: SV_PYTHON not set or not executable: no astropy/numpy cross-check\n");
        skip();
    }
    const char *src = getenv("SV_SRCDIR");
    char script[4096], data[] = "/tmp/sv_report_fig_XXXXXX", cmd[8400];
    snprintf(script, sizeof script, "%s/tests/python/report_figures_ref.py", src ? src : ".");
    int fd = mkstemp(data);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    enum { S = 63 * 63, NI = 3, NP = 500 };
    static float img[NI][S];
    static double sc[NP], pp[NP], hv[NP];
    static int lab[NP], hit[NP];
    sv_rng r = {2024};
    for (int k = 0; k < NI; k++) {
        /* noise around a sky level, a few bright sources, NaN holes */
        for (int i = 0; i < S; i++) {
            double u = 0;
            for (int j = 0; j < 4; j++)
                u += (double)sv_rng_below(&r, 1000000) / 1e6;
            img[k][i] = (float)(100 * k + 10 * (u - 2));
            if (sv_rng_below(&r, 200) == 0)
                img[k][i] += (float)sv_rng_below(&r, 5000);
            if (k == 2 && sv_rng_below(&r, 50) == 0)
                img[k][i] = NAN;
        }
        fprintf(f, "zscale %d", S);
        for (int i = 0; i < S; i++)
            fprintf(f, " %.9g", img[k][i]);
        fprintf(f, "\n");
    }
    for (int i = 0; i < NP; i++) {
        lab[i] = sv_rng_below(&r, 4) == 0;
        sc[i] = (double)sv_rng_below(&r, 80) / 100 + 0.2 * lab[i];
        pp[i] = (double)sv_rng_below(&r, 1000001) / 1e6;
        hit[i] = (double)sv_rng_below(&r, 1000) / 1000 < pp[i];
        hv[i] = (double)sv_rng_below(&r, 1000) / 700 - 0.2;
    }
    fprintf(f, "pr %d", NP);
    for (int i = 0; i < NP; i++)
        fprintf(f, " %.17g %d", sc[i], lab[i]);
    fprintf(f, "\nhist 17 0 1 %d", NP);
    for (int i = 0; i < NP; i++)
        fprintf(f, " %.17g", hv[i]);
    fprintf(f, "\ncalib 10 %d", NP);
    for (int i = 0; i < NP; i++)
        fprintf(f, " %.17g %d", pp[i], hit[i]);
    fprintf(f, "\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", py, script, data);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char line[65536];
    int kz = 0, seen = 0;
    while (fgets(line, sizeof line, p)) {
        double a, b;
        if (sscanf(line, "zscale %lf %lf", &a, &b) == 2) {
            double z1, z2;
            assert_true(kz < NI);
            assert_int_equal(sv_zscale(img[kz], S, &z1, &z2), 0);
            printf("# zscale image %d: stampvet %.9g %.9g, astropy %.9g %.9g\n", kz, z1, z2, a,
                   b);
            assert_float_equal(z1, a, 1e-6 * (fabs(a) + 1));
            assert_float_equal(z2, b, 1e-6 * (fabs(b) + 1));
            kz++;
            seen++;
        } else if (sscanf(line, "pr %lf", &a) == 1) {
            sv_curve pr;
            double ap;
            assert_int_equal(sv_fig_pr(sc, lab, NP, &pr, &ap, NULL), 0);
            assert_float_equal(ap, a, 1e-12);
            sv_curve_free(&pr);
            seen++;
        } else if (!strncmp(line, "hist ", 5)) {
            long c[17];
            assert_int_equal(sv_fig_histogram(hv, NULL, NP, 17, 0, 1, c, NULL), 0);
            char *q = line + 5;
            for (int b2 = 0; b2 < 17; b2++)
                assert_int_equal(c[b2], strtol(q, &q, 10));
            seen++;
        } else if (sscanf(line, "calib %lf", &a) == 1) {
            sv_calibration cal;
            assert_int_equal(sv_fig_calibration(pp, hit, NP, 10, &cal, NULL), 0);
            assert_float_equal(cal.ece, a, 1e-12);
            seen++;
        }
    }
    int rc = pclose(p);
    unlink(data);
    if (rc != 0) {
        printf("# SKIP: %s could not run the reference (numpy/astropy missing?)\n", py);
        skip();
    }
    assert_int_equal(seen, NI + 3);
}

/* --scores-out files: FITS and CSV round trips; bad files named */
static void test_scores_roundtrip(void **state)
{
    (void)state;
    const char *ext[] = {"fits", "csv"};
    for (int binary = 0; binary < 2; binary++)
        for (int e = 0; e < 2; e++) {
            sv_scores s;
            memset(&s, 0, sizeof s);
            s.binary = binary;
            s.k = binary ? 2 : 3;
            const char *names[] = {"bogus", "transient", "variable"};
            for (int c = 0; c < s.k; c++)
                snprintf(s.classes[c], SV_LABEL_MAX, "%s", binary ? (c ? "real" : "bogus")
                                                                  : names[c]);
            s.threshold = 0.42;
            snprintf(s.model, sizeof s.model, "m1");
            snprintf(s.data, sizeof s.data, "table.fits");
            assert_int_equal(sv_scores_alloc(&s, 50, binary ? 1 : 3, NULL), 0);
            for (long i = 0; i < 50; i++) {
                s.id[i] = 1000000000000LL + i * 7;
                s.row[i] = 2 * i;
                s.label[i] = (int)(i % s.k);
                for (int c = 0; c < s.n_out; c++)
                    s.score[i * s.n_out + c] = (float)((i * 13 + c * 5) % 17) / 16.0f;
            }
            char path[64];
            snprintf(path, sizeof path, "/tmp/sv_scores_%d_%d.%s", (int)getpid(), binary,
                     ext[e]);
            sv_error err;
            sv_error_clear(&err);
            assert_int_equal(sv_scores_write(path, &s, &err), 0);
            sv_scores t;
            assert_int_equal(sv_scores_read(path, &t, &err), 0);
            assert_int_equal(t.n, 50);
            assert_int_equal(t.binary, binary);
            assert_int_equal(t.k, s.k);
            assert_string_equal(t.classes[s.k - 1], s.classes[s.k - 1]);
            assert_string_equal(t.model, "m1");
            assert_float_equal(t.threshold, binary ? 0.42 : 0.5, 1e-12);
            for (long i = 0; i < 50; i++) {
                assert_true(t.id[i] == s.id[i]);
                assert_int_equal(t.row[i], s.row[i]);
                assert_int_equal(t.label[i], s.label[i]);
                for (int c = 0; c < s.n_out; c++)
                    assert_float_equal(t.score[i * s.n_out + c], s.score[i * s.n_out + c],
                                       1e-7);
                assert_int_equal(sv_scores_pred(&t, i), sv_scores_pred(&s, i));
            }
            sv_scores_free(&t);
            sv_scores_free(&s);
            unlink(path);
        }
    /* a CSV that is not a scores file; a label out of range */
    const char *bad = "/tmp/sv_scores_bad.csv";
    FILE *f = fopen(bad, "w");
    fprintf(f, "metric,class,predicted,value\naccuracy,,,0.9\n");
    fclose(f);
    sv_scores t;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_scores_read(bad, &t, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, bad));
    f = fopen(bad, "w");
    fprintf(f, "# task: realbogus\n# classes: bogus,real\nid,row,label,label_name,score\n"
               "1,0,0,bogus,0.2\n2,1,5,real,0.9\n");
    fclose(f);
    assert_int_equal(sv_scores_read(bad, &t, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "line 5"));
    unlink(bad);
    assert_int_equal(sv_scores_read("/nonexistent/x.fits", &t, &err), SV_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roc_pr_hand),        cmocka_unit_test(test_roc_random),
        cmocka_unit_test(test_histogram),          cmocka_unit_test(test_calibration_hand),
        cmocka_unit_test(test_confusion_and_selection), cmocka_unit_test(test_ticks_stretch),
        cmocka_unit_test(test_zscale_basic),       cmocka_unit_test(test_against_python),
        cmocka_unit_test(test_scores_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
