/* test_metrics.c — figures of merit and t-tests against values derived by
 * hand (documented next to each check) and, when /usr/bin/python3 with
 * scipy is at hand (SV_PYTHON), against scipy on random data.
 *
 * Hand derivations:
 *   - ROC AUC = (pairs positive > negative + 1/2 ties) / (n_pos n_neg);
 *   - Student's two-sided p for an even number of degrees of freedom nu has
 *     a closed form (Abramowitz & Stegun 26.7.3):
 *       P(|T| <= t) = sin(th) [1 + cos^2/2 + 1*3 cos^4/(2*4) + ...
 *                     + 1*3*...*(nu-3) cos^(nu-2)/(2*4*...*(nu-2))],
 *       th = atan(t / sqrt(nu)),
 *     evaluated here independently of GSL;
 *   - a = 1..5, b = 2,4,..,10: means 3 and 6, variances 2.5 and 10;
 *     pooled variance 6.25, t = -3 / (2.5 sqrt(2/5)) = -1.8973665961,
 *     dof 8; Welch dof = (0.5 + 2)^2 / (0.5^2/4 + 2^2/4) = 5.882352941.
 *     scipy 1.13 gives p = 0.09434977284243756 (Student) and
 *     0.10753119493062718 (Welch) — the latter is the reference for the
 *     non-integer dof, which has no elementary closed form. */
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

static void test_auc_hand(void **state)
{
    (void)state;
    /* the classic example: positives 0.35, 0.8; negatives 0.1, 0.4:
     * pairs won 0.35>0.1, 0.8>0.1, 0.8>0.4 = 3 of 4 */
    double s1[] = {0.1, 0.4, 0.35, 0.8};
    int l1[] = {0, 0, 1, 1};
    assert_float_equal(sv_roc_auc(s1, l1, 4), 0.75, 1e-15);
    /* ties: positives 0.5, 0.9; negatives 0.5, 0.2: 0.5 (tie) + 3 = 3.5/4 */
    double s2[] = {0.5, 0.5, 0.2, 0.9};
    int l2[] = {1, 0, 0, 1};
    assert_float_equal(sv_roc_auc(s2, l2, 4), 0.875, 1e-15);
    /* all tied: 0.5; perfect: 1; reversed: 0 */
    double s3[] = {0.3, 0.3, 0.3, 0.3};
    assert_float_equal(sv_roc_auc(s3, l2, 4), 0.5, 1e-15);
    double s4[] = {0.9, 0.1, 0.2, 0.8};
    assert_float_equal(sv_roc_auc(s4, l2, 4), 1.0, 1e-15);
    double s5[] = {0.1, 0.9, 0.8, 0.2};
    assert_float_equal(sv_roc_auc(s5, l2, 4), 0.0, 1e-15);
    /* one class only: undefined */
    int l6[] = {1, 1, 1, 1};
    assert_true(isnan(sv_roc_auc(s1, l6, 4)));
}

static void test_rates_and_eer(void **state)
{
    (void)state;
    double fpr, fnr, th, r;
    /* exact crossing: at t = 0.3, FPR = 1/2 (0.3 called real), FNR = 1/2
     * (0.2 called bogus) */
    double s1[] = {0.1, 0.2, 0.3, 0.4};
    int l1[] = {0, 1, 0, 1};
    sv_rates_at(s1, l1, 4, 0.3, &fpr, &fnr);
    assert_float_equal(fpr, 0.5, 1e-15);
    assert_float_equal(fnr, 0.5, 1e-15);
    assert_int_equal(sv_eer(s1, l1, 4, &th, &r), 0);
    assert_float_equal(th, 0.3, 1e-15);
    assert_float_equal(r, 0.5, 1e-15);
    /* interpolated: negatives 0.1, 0.5; positives 0.3, 0.7, 0.9.
     * t = 0.5: FPR 1/2, FNR 1/3 (d = +1/6); t = 0.7: FPR 0, FNR 1/3
     * (d = -1/3); f = (1/6) / (1/2) = 1/3: threshold 0.5 + 0.2/3,
     * rate 1/2 - 1/6 = 1/3 (= FNR, constant on the interval) */
    double s2[] = {0.1, 0.3, 0.5, 0.7, 0.9};
    int l2[] = {0, 1, 0, 1, 1};
    assert_int_equal(sv_eer(s2, l2, 5, &th, &r), 0);
    assert_float_equal(th, 0.5 + 0.2 / 3.0, 1e-12);
    assert_float_equal(r, 1.0 / 3.0, 1e-12);
    /* perfectly separated: FPR = FNR = 0 at the lowest positive score */
    double s3[] = {0.1, 0.6, 0.7, 0.9};
    int l3[] = {0, 0, 1, 1};
    assert_int_equal(sv_eer(s3, l3, 4, &th, &r), 0);
    assert_float_equal(th, 0.7, 1e-15);
    assert_float_equal(r, 0.0, 0);
}

static void test_binary_report(void **state)
{
    (void)state;
    /* predictions at 0.5: 1 1 0 | 1 0 0 -> TP 2, FN 1, FP 1, TN 2 */
    float p[] = {0.9f, 0.8f, 0.3f, 0.6f, 0.2f, 0.1f};
    int y[] = {1, 1, 1, 0, 0, 0};
    sv_metrics m;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_metrics_compute(p, 6, 1, y, NULL, 0.5, &m, &err), 0);
    assert_int_equal(m.k, 2);
    assert_true(m.binary);
    assert_string_equal(m.classes[0], "bogus");
    assert_string_equal(m.classes[1], "real");
    assert_int_equal(m.confusion[1][1], 2);
    assert_int_equal(m.confusion[1][0], 1);
    assert_int_equal(m.confusion[0][1], 1);
    assert_int_equal(m.confusion[0][0], 2);
    assert_float_equal(m.accuracy, 4.0 / 6.0, 1e-15);
    assert_float_equal(m.fpr, 1.0 / 3.0, 1e-15);
    assert_float_equal(m.fnr, 1.0 / 3.0, 1e-15);
    assert_float_equal(m.precision[1], 2.0 / 3.0, 1e-15);
    assert_float_equal(m.recall[1], 2.0 / 3.0, 1e-15);
    assert_float_equal(m.f1[1], 2.0 / 3.0, 1e-15);
    /* positives .9 .8 .3 against negatives .6 .2 .1: 8 of 9 pairs */
    assert_float_equal(m.auc, 8.0 / 9.0, 1e-15);
    /* FPR - FNR: 1, 2/3, 1/3, then 0 at 0.6 (FPR 1/3, FNR 1/3) */
    assert_float_equal(m.eer_threshold, (double)0.6f, 1e-15);
    assert_float_equal(m.eer, 1.0 / 3.0, 1e-15);
    double ll = 0;
    for (int i = 0; i < 6; i++)
        ll -= y[i] ? log((double)p[i]) : log(1.0 - (double)p[i]);
    assert_float_equal(m.log_loss, ll / 6, 1e-12);
    assert_float_equal(sv_metrics_get(&m, "recall:real"), 2.0 / 3.0, 1e-15);
    assert_float_equal(sv_metrics_get(&m, "auc"), 8.0 / 9.0, 1e-15);
    assert_true(isnan(sv_metrics_get(&m, "nonsense")));
    /* a stricter threshold: only 0.9 and 0.8 called real */
    assert_int_equal(sv_metrics_compute(p, 6, 1, y, NULL, 0.7, &m, &err), 0);
    assert_float_equal(m.fpr, 0.0, 0);
    assert_float_equal(m.fnr, 1.0 / 3.0, 1e-15);
    /* bad labels are refused with a message */
    int bad[] = {1, 1, 2, 0, 0, 0};
    assert_int_equal(sv_metrics_compute(p, 6, 1, bad, NULL, 0.5, &m, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "label 2"));
}

static void test_class_report(void **state)
{
    (void)state;
    float p[] = {0.7f, 0.2f, 0.1f, /* y0 -> 0 */
                 0.1f, 0.8f, 0.1f, /* y1 -> 1 */
                 0.2f, 0.3f, 0.5f, /* y1 -> 2 */
                 0.3f, 0.3f, 0.4f, /* y2 -> 2 */
                 0.5f, 0.4f, 0.1f, /* y2 -> 0 */
                 0.4f, 0.4f, 0.2f}; /* y0 -> 0 (tie: first argmax) */
    int y[] = {0, 1, 1, 2, 2, 0};
    char names[3][SV_LABEL_MAX] = {"transient", "variable", "asteroid"};
    sv_metrics m;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(
        sv_metrics_compute(p, 6, 3, y, (const char(*)[SV_LABEL_MAX])names, 0.5, &m, &err), 0);
    assert_int_equal(m.k, 3);
    assert_false(m.binary);
    assert_string_equal(m.classes[2], "asteroid");
    assert_int_equal(m.confusion[0][0], 2);
    assert_int_equal(m.confusion[1][1], 1);
    assert_int_equal(m.confusion[1][2], 1);
    assert_int_equal(m.confusion[2][2], 1);
    assert_int_equal(m.confusion[2][0], 1);
    assert_float_equal(m.accuracy, 4.0 / 6.0, 1e-15);
    /* class 0: TP 2 of 3 predicted, recall 2/2; class 1: 1/1, 1/2;
     * class 2: 1/2, 1/2 */
    assert_float_equal(m.precision[0], 2.0 / 3.0, 1e-15);
    assert_float_equal(m.recall[0], 1.0, 1e-15);
    assert_float_equal(m.precision[1], 1.0, 1e-15);
    assert_float_equal(m.recall[1], 0.5, 1e-15);
    assert_float_equal(m.f1[2], 0.5, 1e-15);
    double f0 = 2 * (2.0 / 3.0) / (2.0 / 3.0 + 1), f1 = 2 * 0.5 / 1.5;
    assert_float_equal(m.macro_f1, (f0 + f1 + 0.5) / 3, 1e-15);
    assert_true(isnan(m.fpr));
    assert_true(m.auc > 0.5 && m.auc <= 1.0);
    assert_float_equal(sv_metrics_get(&m, "precision:variable"), 1.0, 1e-15);
}

/* A & S 26.7.3, even nu only: two-sided p. */
static double student_p_even(double t, int nu)
{
    double th = atan(fabs(t) / sqrt((double)nu)), c2 = cos(th) * cos(th);
    double term = 1, sum = 1;
    for (int k = 1; 2 * k <= nu - 2; k++) {
        term *= c2 * (2.0 * k - 1) / (2.0 * k);
        sum += term;
    }
    return 1.0 - sin(th) * sum;
}

static void test_ttests_hand(void **state)
{
    (void)state;
    double a[] = {1, 2, 3, 4, 5}, b[] = {2, 4, 6, 8, 10};
    sv_ttest s, w;
    assert_int_equal(sv_ttest_student(a, 5, b, 5, &s), 0);
    assert_int_equal(sv_ttest_welch(a, 5, b, 5, &w), 0);
    assert_float_equal(s.mean1, 3, 1e-15);
    assert_float_equal(s.sd2, sqrt(10.0), 1e-14);
    assert_float_equal(s.t, -3.0 / (2.5 * sqrt(0.4)), 1e-12);
    assert_float_equal(s.dof, 8, 0);
    assert_float_equal(s.p, student_p_even(s.t, 8), 1e-12);
    assert_float_equal(s.p, 0.09434977284243756, 1e-12);
    assert_float_equal(w.t, s.t, 1e-12);
    assert_float_equal(w.dof, 6.25 / (0.0625 + 1.0), 1e-12);
    assert_float_equal(w.p, 0.10753119493062718, 1e-10);
    /* unequal sizes and variances (accuracies of 6 transfer and 5 scratch
     * runs); Student dof 9 is odd, so scipy is the reference here */
    double ta[] = {0.953, 0.961, 0.948, 0.957, 0.950, 0.962};
    double sb[] = {0.901, 0.915, 0.889, 0.920, 0.897};
    assert_int_equal(sv_ttest_student(ta, 6, sb, 5, &s), 0);
    assert_int_equal(sv_ttest_welch(ta, 6, sb, 5, &w), 0);
    assert_float_equal(s.t, 8.751155514207369, 1e-9);
    assert_float_equal(s.p, 1.0732938600902367e-05, 1e-12);
    assert_float_equal(w.t, 8.179546880134923, 1e-9);
    assert_float_equal(w.p, 0.00032264065759842923, 1e-10);
    /* an even-dof case against the closed form only: 4 + 4 samples */
    double c[] = {0.1, 0.4, 0.2, 0.3}, d[] = {0.35, 0.5, 0.45, 0.6};
    assert_int_equal(sv_ttest_student(c, 4, d, 4, &s), 0);
    assert_float_equal(s.p, student_p_even(s.t, 6), 1e-12);
    /* degenerate: no spread in either arm, no p (issue 11: not 1, not 0) */
    double e[] = {1, 1, 1}, f[] = {1, 1, 1}, g[] = {2, 2, 2};
    assert_int_equal(sv_ttest_welch(e, 3, f, 3, &w), 0);
    assert_true(isnan(w.p) && isnan(w.t));
    assert_int_equal(sv_ttest_student(e, 3, g, 3, &s), 0);
    assert_true(isnan(s.p));
    assert_true(isinf(s.t) && s.t < 0);
    /* too few samples */
    assert_int_equal(sv_ttest_student(e, 1, g, 3, &s), SV_ERR_ARG);
    assert_true(isnan(s.p));
    double mean, sd;
    sv_mean_std(a, 5, &mean, &sd);
    assert_float_equal(mean, 3, 0);
    assert_float_equal(sd, sqrt(2.5), 1e-15);
}

/* Random data against scipy (mannwhitneyu, ttest_ind), when available. */
static void test_against_scipy(void **state)
{
    (void)state;
    const char *py = getenv("SV_PYTHON");
    if (!py || !*py || access(py, X_OK)) {
        printf("# SKIP: SV_PYTHON not set or not executable: no scipy cross-check\n");
        skip();
    }
    const char *src = getenv("SV_SRCDIR");
    char script[4096], data[] = "/tmp/sv_metrics_XXXXXX", cmd[8400];
    snprintf(script, sizeof script, "%s/tests/python/metrics_ref.py", src ? src : ".");
    int fd = mkstemp(data);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    enum { NA = 400, NT = 3 };
    static double sc[NT][NA];
    static int lab[NT][NA];
    double ta[NT][12], tb[NT][9];
    sv_rng r = {12345};
    for (int k = 0; k < NT; k++) {
        fprintf(f, "auc %d", NA);
        for (int i = 0; i < NA; i++) {
            lab[k][i] = (int)sv_rng_below(&r, 2);
            /* quantised scores: many ties */
            sc[k][i] = (double)sv_rng_below(&r, 50 + 40 * (uint64_t)k) / 100.0 +
                       0.2 * lab[k][i];
            fprintf(f, " %.17g %d", sc[k][i], lab[k][i]);
        }
        fprintf(f, "\nttest 12");
        for (int i = 0; i < 12; i++) {
            ta[k][i] = 0.9 + (double)sv_rng_below(&r, 1000) / 1e4;
            fprintf(f, " %.17g", ta[k][i]);
        }
        fprintf(f, " 9");
        for (int i = 0; i < 9; i++) {
            tb[k][i] = 0.88 + (double)sv_rng_below(&r, 1000) * (k + 1) / 1e4;
            fprintf(f, " %.17g", tb[k][i]);
        }
        fprintf(f, "\n");
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", py, script, data);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    int k_auc = 0, k_t = 0;
    while (fgets(line, sizeof line, p)) {
        double v[5];
        if (sscanf(line, "auc %lf", &v[0]) == 1) {
            assert_true(k_auc < NT);
            assert_float_equal(sv_roc_auc(sc[k_auc], lab[k_auc], NA), v[0], 1e-12);
            k_auc++;
        } else if (sscanf(line, "ttest %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3],
                          &v[4]) == 5) {
            assert_true(k_t < NT);
            sv_ttest s, w;
            sv_ttest_student(ta[k_t], 12, tb[k_t], 9, &s);
            sv_ttest_welch(ta[k_t], 12, tb[k_t], 9, &w);
            assert_float_equal(s.t, v[0], 1e-9 * fabs(v[0]) + 1e-12);
            assert_float_equal(s.p, v[1], 1e-9 * v[1] + 1e-14);
            assert_float_equal(w.t, v[2], 1e-9 * fabs(v[2]) + 1e-12);
            assert_float_equal(w.dof, v[3], 1e-9 * v[3]);
            assert_float_equal(w.p, v[4], 1e-9 * v[4] + 1e-14);
            k_t++;
        }
    }
    int rc = pclose(p);
    unlink(data);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        printf("# SKIP: scipy is not installed for %s\n", py);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k_auc, NT);
    assert_int_equal(k_t, NT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc_hand),     cmocka_unit_test(test_rates_and_eer),
        cmocka_unit_test(test_binary_report), cmocka_unit_test(test_class_report),
        cmocka_unit_test(test_ttests_hand),  cmocka_unit_test(test_against_scipy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
