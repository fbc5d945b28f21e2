/* test_lc_sim.c — the light-curve simulator (lc_sim.h): determinism,
 * the physics helpers against textbook values, cadence and depth of the
 * ztf and lsst profiles, and the class-dependent behaviour the classifier
 * is meant to learn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/lc_sim.h"

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y);
}

static double median(double *v, long n)
{
    if (n < 1)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, dbl_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void same_sets(const sv_lc_set *a, const sv_lc_set *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n_obs, b->n_obs);
    for (long i = 0; i < a->n; i++) {
        assert_string_equal(a->lc[i].id, b->lc[i].id);
        assert_int_equal(a->lc[i].label, b->lc[i].label);
        assert_int_equal(a->lc[i].n, b->lc[i].n);
        assert_memory_equal(a->lc[i].obs, b->lc[i].obs, (size_t)a->lc[i].n * sizeof(sv_lc_obs));
        assert_memory_equal(a->lc[i].meta, b->lc[i].meta, (size_t)a->n_meta * sizeof(float));
        assert_true(a->lc[i].t_alert == b->lc[i].t_alert);
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    sv_error err;
    sv_lcsim_config c = sv_lcsim_defaults(SV_LCSIM_ZTF);
    c.n = 150;
    c.seed = 7;
    sv_lc_set a, b, d;
    float *ta = NULL, *tb = NULL;
    assert_int_equal(sv_lcsim_run(&c, &a, &ta, &err), 0);
    c.threads = 2;
    assert_int_equal(sv_lcsim_run(&c, &b, &tb, &err), 0);
    same_sets(&a, &b);
    assert_memory_equal(ta, tb, (size_t)a.n * SV_LCSIM_N_TRUTH * sizeof(float));
    c.seed = 8;
    assert_int_equal(sv_lcsim_run(&c, &d, NULL, &err), 0);
    int differ = d.n_obs != a.n_obs;
    for (long i = 0; i < a.n && !differ; i++)
        differ = d.lc[i].n != a.lc[i].n || d.lc[i].label != a.lc[i].label;
    assert_true(differ);
    sv_lc_set_free(&a);
    sv_lc_set_free(&b);
    sv_lc_set_free(&d);
    free(ta);
    free(tb);
    /* bad configurations */
    c.n = 0;
    sv_error_clear(&err);
    assert_int_equal(sv_lcsim_run(&c, &a, NULL, &err), SV_ERR_ARG);
    c.n = 10;
    c.fraction[2] = -1;
    assert_int_equal(sv_lcsim_run(&c, &a, NULL, &err), SV_ERR_ARG);
}

static void test_physics(void **state)
{
    (void)state;
    /* flat LCDM H0 70, Om 0.3: d_L(0.1) = 460.0 Mpc, d_L(1) = 6607 Mpc */
    assert_true(fabs(sv_lcsim_distmod(0.1) - 38.314) < 0.01);
    assert_true(fabs(sv_lcsim_distmod(1.0) - 44.100) < 0.01);
    assert_true(fabs(sv_lcsim_distmod(0.001) - 28.16) < 0.05);
    /* Villar et al. 2019: half the amplitude at t0; continuous at t0 + gamma */
    assert_true(fabs(sv_lcsim_villar(0, 0, 10, -0.01, 3, 20) - 0.5) < 1e-12);
    double a = sv_lcsim_villar(10 - 1e-9, 0, 10, -0.01, 3, 20),
           b = sv_lcsim_villar(10 + 1e-9, 0, 10, -0.01, 3, 20);
    assert_true(fabs(a - b) < 1e-8);
    assert_true(sv_lcsim_villar(-100, 0, 10, -0.01, 3, 20) < 1e-12);
    assert_true(sv_lcsim_villar(40, 0, 10, -0.01, 3, 20) <
                sv_lcsim_villar(20, 0, 10, -0.01, 3, 20));
    /* Ivezic et al. 2019 eq. 5: at zero flux sigma = sqrt(gamma) / 1.0857 f5,
     * i.e. a 5-sigma detection near the limiting flux */
    double s0 = sv_lcsim_flux_error(0, 100, 0.039);
    assert_true(fabs(s0 - sqrt(0.039) / 1.0857 * 100) < 1e-9);
    assert_true(fabs(5 * s0 / 100 - 0.91) < 0.01);
    /* bright: the 1% floor dominates */
    assert_true(sv_lcsim_flux_error(1e6, 100, 0.039) >= 0.01 * 1e6);
}

typedef struct lc_stats {
    double depth_med[6];
    double gap_med;       /* median gap between consecutive observing nights */
    double frac_season;   /* candidates with a gap > 60 days */
} lc_stats;

static void survey_stats(const sv_lc_set *s, lc_stats *st)
{
    long n = s->n_obs;
    double *v = malloc((size_t)n * sizeof *v), *g = malloc((size_t)n * sizeof *g);
    assert_non_null(v);
    assert_non_null(g);
    for (int b = 0; b < s->n_bands; b++) {
        long k = 0;
        for (long i = 0; i < s->n; i++)
            for (int j = 0; j < s->lc[i].n; j++) {
                const sv_lc_obs *o = &s->lc[i].obs[j];
                if (o->ulim && o->band == b)
                    v[k++] = 23.9 - 2.5 * log10(o->flux);
            }
        st->depth_med[b] = median(v, k);
    }
    long k = 0, seasons = 0;
    for (long i = 0; i < s->n; i++) {
        double last = -1, maxgap = 0;
        for (int j = 0; j < s->lc[i].n; j++) {
            double night = floor(s->lc[i].obs[j].t);
            if (last >= 0 && night > last) {
                g[k++] = night - last;
                if (night - last > maxgap)
                    maxgap = night - last;
            }
            last = night;
        }
        seasons += maxgap > 60;
    }
    st->gap_med = median(g, k);
    st->frac_season = (double)seasons / (double)s->n;
    free(v);
    free(g);
}

static void test_surveys(void **state)
{
    (void)state;
    sv_error err;
    sv_lcsim_config c = sv_lcsim_defaults(SV_LCSIM_ZTF);
    c.n = 300;
    sv_lc_set s;
    lc_stats st;
    assert_int_equal(sv_lcsim_run(&c, &s, NULL, &err), 0);
    assert_int_equal(s.n_bands, 2);
    assert_string_equal(s.bands[0], "g");
    assert_string_equal(s.bands[1], "r");
    survey_stats(&s, &st);
    print_message("ztf: depth g %.2f r %.2f, median gap %.1f d, %.0f%% with a seasonal gap\n",
                  st.depth_med[0], st.depth_med[1], st.gap_med, 100 * st.frac_season);
    assert_true(fabs(st.depth_med[0] - 20.6) < 0.3 && fabs(st.depth_med[1] - 20.5) < 0.3);
    assert_true(st.gap_med >= 2 && st.gap_med <= 3);
    assert_true(st.frac_season > 0.6); /* a 400-day window sees the ~100-day gap */
    sv_lc_set_free(&s);

    c = sv_lcsim_defaults(SV_LCSIM_LSST);
    c.n = 300;
    assert_int_equal(sv_lcsim_run(&c, &s, NULL, &err), 0);
    assert_int_equal(s.n_bands, 6);
    assert_string_equal(s.bands[0], "u");
    assert_string_equal(s.bands[5], "y");
    survey_stats(&s, &st);
    print_message("lsst: depth u %.2f g %.2f r %.2f i %.2f z %.2f y %.2f, median gap %.1f d\n",
                  st.depth_med[0], st.depth_med[1], st.depth_med[2], st.depth_med[3],
                  st.depth_med[4], st.depth_med[5], st.gap_med);
    static const double m5[6] = {23.9, 25.0, 24.7, 24.0, 23.3, 22.1};
    for (int b = 0; b < 6; b++)
        assert_true(fabs(st.depth_med[b] - m5[b]) < 0.3);
    /* rolling cadence: some fields revisited every ~2 nights, others ~7 */
    int fast = 0, slow = 0;
    for (long i = 0; i < s.n; i++) {
        double g[512];
        long k = 0;
        double last = -1;
        for (int j = 0; j < s.lc[i].n && k < 512; j++) {
            double night = floor(s.lc[i].obs[j].t);
            if (last >= 0 && night > last && night - last < 30)
                g[k++] = night - last;
            last = night;
        }
        double md = median(g, k);
        fast += md <= 3;
        slow += md >= 5;
    }
    print_message("lsst: %d fields with median revisit <= 3 d, %d with >= 5 d\n", fast, slow);
    assert_true(fast > 20 && slow > 20);
    sv_lc_set_free(&s);
}

static void test_classes(void **state)
{
    (void)state;
    sv_error err;
    sv_lcsim_config c = sv_lcsim_defaults(SV_LCSIM_ZTF);
    c.n = 700;
    c.seed = 3;
    sv_lc_set s;
    float *truth = NULL;
    assert_int_equal(sv_lcsim_run(&c, &s, &truth, &err), 0);
    assert_int_equal(s.n_classes, SV_LCSIM_N_CLASSES);
    assert_int_equal(s.n_meta, SV_LCSIM_N_META);
    assert_string_equal(s.meta_names[0], "gal_b");
    long cnt[SV_LCSIM_N_CLASSES] = {0};
    double *b[SV_LCSIM_N_CLASSES], *sep[SV_LCSIM_N_CLASSES], *dur[SV_LCSIM_N_CLASSES];
    long nb[SV_LCSIM_N_CLASSES] = {0}, ns[SV_LCSIM_N_CLASSES] = {0},
         nd[SV_LCSIM_N_CLASSES] = {0};
    for (int k = 0; k < SV_LCSIM_N_CLASSES; k++) {
        b[k] = malloc(700 * sizeof(double));
        sep[k] = malloc(700 * sizeof(double));
        dur[k] = malloc(700 * sizeof(double));
    }
    for (long i = 0; i < s.n; i++) {
        const sv_lc *L = &s.lc[i];
        int k = L->label;
        cnt[k]++;
        /* at least one detection, and the alert is one of them */
        double first = INFINITY, last = -INFINITY;
        int alert_ok = 0, nd_alert = 0;
        for (int j = 0; j < L->n; j++)
            if (!L->obs[j].ulim) {
                if (L->obs[j].t < first)
                    first = L->obs[j].t;
                if (L->obs[j].t > last)
                    last = L->obs[j].t;
                if (L->obs[j].t <= L->t_alert)
                    nd_alert++;
                alert_ok |= L->obs[j].t == L->t_alert;
                /* detections are 5-sigma */
                assert_true(fabsf(L->obs[j].flux) >= 4.999f * L->obs[j].fluxerr);
            } else {
                assert_true(L->obs[j].flux > 0);
            }
        assert_true(isfinite(first));
        assert_true(alert_ok);
        assert_int_equal(nd_alert, (int)truth[i * SV_LCSIM_N_TRUTH + 4]);
        b[k][nb[k]++] = fabs(L->meta[0]);
        if (isfinite(L->meta[1]))
            sep[k][ns[k]++] = L->meta[1];
        dur[k][nd[k]++] = last - first;
        /* stamp-classifier outputs are probabilities */
        assert_true(L->meta[3] > 0 && L->meta[3] < 1);
        assert_true(L->meta[4] >= 0 && L->meta[5] >= 0 && L->meta[4] + L->meta[5] <= 1.0001f);
        if (k == SV_LCSIM_VAR)
            assert_true(isnan(L->meta[2]) || L->meta[2] < 0.7); /* no SN redshifts */
    }
    /* the default shares .25 .17 .10 .08 .07 .15 .18 of 700, exactly */
    static const long want[SV_LCSIM_N_CLASSES] = {175, 119, 70, 56, 49, 105, 126};
    for (int k = 0; k < SV_LCSIM_N_CLASSES; k++)
        assert_int_equal(cnt[k], want[k]);
    double mb_var = median(b[SV_LCSIM_VAR], nb[SV_LCSIM_VAR]),
           mb_ia = median(b[SV_LCSIM_SNIA], nb[SV_LCSIM_SNIA]);
    double sep_agn = median(sep[SV_LCSIM_AGN], ns[SV_LCSIM_AGN]),
           sep_tde = median(sep[SV_LCSIM_TDE], ns[SV_LCSIM_TDE]),
           sep_ia = median(sep[SV_LCSIM_SNIA], ns[SV_LCSIM_SNIA]);
    double d_ia = median(dur[SV_LCSIM_SNIA], nd[SV_LCSIM_SNIA]),
           d_ii = median(dur[SV_LCSIM_SNII], nd[SV_LCSIM_SNII]),
           d_sl = median(dur[SV_LCSIM_SLSN], nd[SV_LCSIM_SLSN]);
    print_message("|b| median: VAR %.1f, SNIa %.1f; host sep median: AGN %.2f\" TDE %.2f\" "
                  "SNIa %.2f\"; detected span: SNIa %.0f d, SNII %.0f d, SLSN %.0f d\n",
                  mb_var, mb_ia, sep_agn, sep_tde, sep_ia, d_ia, d_ii, d_sl);
    assert_true(mb_var < mb_ia);
    assert_true(sep_agn < 0.5 && sep_tde < 0.5 && sep_ia > 0.5);
    assert_true(d_ii > d_ia && d_sl > d_ia);
    for (int k = 0; k < SV_LCSIM_N_CLASSES; k++) {
        free(b[k]);
        free(sep[k]);
        free(dur[k]);
    }
    free(truth);
    sv_lc_set_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_physics),
        cmocka_unit_test(test_surveys),
        cmocka_unit_test(test_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
