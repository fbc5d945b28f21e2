/* test_sim.c — the survey simulator (sim_*.h): physical sanity checks that
 * can fail (PSF FWHM, sky noise, flux conservation of stars, trails and
 * Sersic galaxies, published depths), the injected classes (a transient is
 * absent from the reference, a dipole has two lobes, an unchanged star
 * subtracts to noise, a noise peak has exactly the S/N asked for),
 * determinism (same seed, any thread count: identical; other seed:
 * different), labelled stamp sets (labels, centring, threshold) and full
 * exposures (files readable, WCS through wcspih, exact class counts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include "sim/sim_classes.h"
#include "sim/sim_exposure.h"
#include "sim/sim_frame.h"
#include "sim/sim_stamps.h"
#include "data/stamp_table.h"

static char tmpdir[256];

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* FWHM of a star centred on pixel (c, c) of an n x n image, from the
 * half-maximum crossings along x and y (interpolated in log intensity
 * between pixels), averaged. */
static double measure_fwhm(const float *img, int n, int c)
{
    double peak = img[c * n + c], half = 0.5 * peak, sum = 0;
    const int step[2][2] = {{1, 0}, {0, 1}};
    for (int axis = 0; axis < 2; axis++)
        for (int dir = -1; dir <= 1; dir += 2) {
            int k = 0;
            double prev = peak, cur = peak;
            while (k < c) {
                k++;
                int x = c + dir * k * step[axis][0], y = c + dir * k * step[axis][1];
                prev = cur;
                cur = img[y * n + x];
                if (cur <= half)
                    break;
            }
            sum += (k - 1) + log(prev / half) / log(prev / cur);
        }
    return sum / 2.0; /* two half-widths per axis, two axes */
}

static void test_psf_fwhm(void **state)
{
    (void)state;
    /* ZTF-like (2 px) and ILMT-like (4.5 px) seeing, several betas */
    const double fwhm[] = {2.0, 3.0, 4.5, 6.0};
    const double beta[] = {2.5, 3.5, 4.765};
    const int n = 81, c = 40;
    float *img = malloc(sizeof(float) * n * n);
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++) {
            sim_psf p;
            assert_int_equal(sim_psf_init(&p, fwhm[a], beta[b], 1.0, 0.0), 0);
            memset(img, 0, sizeof(float) * n * n);
            sim_psf_add(&p, img, n, n, c, c, 1e5, 1e-6);
            double m = measure_fwhm(img, n, c);
            /* pixel integration broadens a 2-pixel PSF by ~5%; well
             * sampled PSFs must come out within 3% */
            double tol = fwhm[a] < 2.5 ? 0.10 : 0.03;
            if (fabs(m / fwhm[a] - 1.0) > tol)
                fail_msg("FWHM %.2f px beta %.2f measured %.3f (> %.0f%% off)", fwhm[a], beta[b],
                         m, 100 * tol);
        }
    /* an elliptical PSF keeps its geometric-mean FWHM and orientation */
    sim_psf p;
    assert_int_equal(sim_psf_init(&p, 4.0, 3.0, 0.7, 0.0), 0);
    memset(img, 0, sizeof(float) * n * n);
    sim_psf_add(&p, img, n, n, c, c, 1e5, 1e-6);
    assert_true(img[c * n + c + 3] > img[(c + 3) * n + c]); /* major axis along x */
    assert_int_equal(sim_psf_init(&p, 0.0, 3.0, 1.0, 0.0), -1);
    assert_int_equal(sim_psf_init(&p, 2.0, 1.0, 1.0, 0.0), -1);
    free(img);
}

static double sum_image(const float *img, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++)
        s += img[i];
    return s;
}

static void test_flux_conservation(void **state)
{
    (void)state;
    const int n = 201;
    float *img = calloc((size_t)n * n, sizeof(float));
    sim_psf p;
    assert_int_equal(sim_psf_init(&p, 2.2, 3.0, 0.85, 0.6), 0);
    /* point source: all but the analytic wing beyond the render radius */
    sim_psf_add(&p, img, n, n, 100.3, 99.8, 1e4, 1e-4);
    double r = sim_psf_radius(&p, 1e4, 1e-4);
    double expect = 1e4 * (1.0 - sim_psf_flux_outside(&p, r));
    assert_true(fabs(sum_image(img, (long)n * n) / expect - 1.0) < 0.003);
    assert_true(sim_psf_flux_outside(&p, r) < 0.01);
    /* a trail of 30 pixels */
    memset(img, 0, sizeof(float) * n * n);
    sim_psf_add_trail(&p, img, n, n, 80.0, 90.0, 110.0, 100.0, 5e3, 1e-4);
    assert_true(fabs(sum_image(img, (long)n * n) / 5e3 - 1.0) < 0.01);
    /* Sersic galaxies: disc and spheroid, the window's exact light
     * fraction, convolved with the PSF */
    const double ns[] = {0.7, 1.0, 2.5, 4.0};
    for (int k = 0; k < 4; k++) {
        memset(img, 0, sizeof(float) * n * n);
        sim_sersic g = {100.2, 100.7, 2e4, 3.0, ns[k], 0.6, 0.4};
        assert_int_equal(sim_sersic_add(&g, &p, 1.0, 0, 0, img, n, n, 1e-6), 0);
        double tot = sum_image(img, (long)n * n);
        if (fabs(tot / 2e4 - 1.0) > 0.03)
            fail_msg("Sersic n=%.1f: total %.1f of 20000", ns[k], tot);
    }
    /* the Sersic half-light radius encloses half the light */
    for (int k = 0; k < 4; k++)
        assert_true(fabs(sim_sersic_frac_within(ns[k], 1.0) - 0.5) < 2e-3);
    free(img);
}

static void test_survey_depths(void **state)
{
    (void)state;
    sv_sim_survey s;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_sim_survey_get("ZTF", &s, &err), 0);
    int r = sv_sim_survey_band_index(&s, "r");
    assert_true(r >= 0);
    assert_true(fabs(s.pixscale - 1.01) < 1e-9 && s.exptime == 30.0);
    double d = sv_sim_survey_depth(&s, r, s.seeing_median, 0.5 * (s.beta_min + s.beta_max), 5);
    if (d < 20.3 || d > 20.9)
        fail_msg("ZTF r depth %.2f, published ~20.5", d);
    double sat = sv_sim_survey_saturation_mag(&s, r);
    assert_true(sat > 11.5 && sat < 13.5);
    assert_int_equal(sv_sim_survey_get("ilmt", &s, &err), 0);
    int i = sv_sim_survey_band_index(&s, "i"); /* "i" finds i' */
    assert_true(i >= 0);
    assert_string_equal(s.band[i].name, "i'");
    assert_true(fabs(s.pixscale - 0.33) < 1e-9 && s.tdi);
    d = sv_sim_survey_depth(&s, i, s.seeing_median, 0.5 * (s.beta_min + s.beta_max), 5);
    if (fabs(d - 22.5) > 0.15)
        fail_msg("ILMT i' depth %.2f, published 22.5", d);
    assert_int_not_equal(sv_sim_survey_get("lsst", &s, &err), 0);
    assert_non_null(strstr(err.text, "ztf"));
}

/* fixed, simple conditions: circular PSFs, no registration or scale error */
static void plain_conditions(const sv_sim_survey *s, int band, double see_sci, double see_ref,
                             double beta, sim_conditions *c)
{
    gsl_rng *r = sim_rng_new(7, 99, 0);
    sim_conditions_draw(s, band, r, c);
    gsl_rng_free(r);
    c->seeing_sci = see_sci;
    c->seeing_ref = see_ref;
    c->beta_sci = c->beta_ref = beta;
    c->q_sci = c->q_ref = 1.0;
    c->pa_sci = c->pa_ref = 0.0;
    c->shift_x = c->shift_y = 0.0;
    c->ref_flux_scale = 1.0;
}

static void moments(const float *a, long n, double off, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (long i = 0; i < n; i++) {
        double v = a[i] - off;
        s += v;
        s2 += v * v;
    }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
}

static void test_sky_noise(void **state)
{
    (void)state;
    sv_sim_survey s;
    sv_sim_survey_get("ztf", &s, NULL);
    sim_conditions c;
    plain_conditions(&s, 1, 2.3, 1.8, 3.0, &c);
    sim_frame fr;
    assert_int_equal(sim_frame_init(&fr, &s, &c, 256, 256, 0, 1), 0);
    gsl_rng *r = sim_rng_new(3, 1, 0);
    assert_int_equal(sim_frame_realize(&fr, r, 0), 0);
    long n = 256L * 256;
    double mean, sd;
    moments(fr.sci, n, c.sky_sci, &mean, &sd);
    double want = sqrt(sim_noise_var(&fr.nsci, c.sky_sci));
    if (fabs(sd / want - 1.0) > 0.05 || fabs(mean) > 0.05 * want)
        fail_msg("science sky noise %.3f (mean %.3f), expected %.3f", sd, mean, want);
    moments(fr.ref, n, c.sky_sci, &mean, &sd);
    double want_ref = sqrt(sim_noise_var(&fr.nref, c.sky_sci));
    assert_true(want_ref < want / 3.0); /* the reference is a deep co-add */
    if (fabs(sd / want_ref - 1.0) > 0.05)
        fail_msg("reference noise %.3f, expected %.3f (%d epochs)", sd, want_ref, c.ref_epochs);
    /* difference of blank sky: white sci noise + convolved ref noise */
    assert_true(fr.K.conv_ref);
    moments(fr.diff, n, 0, &mean, &sd);
    double want_d = sqrt(sim_var_diff(&fr.vm, 0));
    if (fabs(sd / want_d - 1.0) > 0.05 || fabs(mean) > 0.05 * want_d)
        fail_msg("difference noise %.3f (mean %.3f), expected %.3f", sd, mean, want_d);
    /* ILMT: its own gain and sky */
    sim_frame_free(&fr);
    sv_sim_survey_get("ilmt", &s, NULL);
    plain_conditions(&s, 2, 1.6, 1.3, 3.0, &c);
    assert_int_equal(sim_frame_init(&fr, &s, &c, 200, 200, 0, 1), 0);
    assert_int_equal(sim_frame_realize(&fr, r, 0), 0);
    moments(fr.sci, 200L * 200, c.sky_sci, &mean, &sd);
    want = sqrt(c.sky_sci / s.gain + pow(s.read_noise / s.gain, 2));
    if (fabs(sd / want - 1.0) > 0.05)
        fail_msg("ILMT sky noise %.3f, expected %.3f", sd, want);
    sim_frame_free(&fr);
    gsl_rng_free(r);
}

/* aperture sum (minus level) within radius rad of (x, y) */
static double aperture(const float *img, int w, int h, double x, double y, double rad, double level)
{
    double s = 0;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++)
            if (hypot(i - x, j - y) <= rad)
                s += img[(long)j * w + i] - level;
    return s;
}

static sv_sim_config bright_config(double snr)
{
    sv_sim_config cfg;
    sv_sim_config_default(&cfg);
    cfg.snr_min = snr;
    cfg.snr_max = snr * 1.01;
    return cfg;
}

static void test_transient_absent_in_reference(void **state)
{
    (void)state;
    sv_sim_survey s;
    sv_sim_survey_get("ztf", &s, NULL);
    sim_conditions c;
    plain_conditions(&s, 1, 2.2, 1.8, 3.0, &c);
    sim_frame fr;
    assert_int_equal(sim_frame_init(&fr, &s, &c, 96, 96, 0, 1), 0);
    gsl_rng *r = sim_rng_new(11, 2, 0);
    sv_sim_config cfg = bright_config(60.0);
    sim_truth t;
    assert_int_equal(sim_inject(&fr, &cfg, SV_SIM_SN_HOSTLESS, 48.2, 47.7, r, &t), 0);
    assert_int_equal(t.cls, SV_SIM_TRANSIENT);
    double flux = sv_sim_flux(fr.zp, t.true_mag);
    assert_int_equal(sim_frame_realize(&fr, r, 0), 0);
    double rad = 4.0 * fr.psf_sci.fwhm;
    double fs = aperture(fr.sci, 96, 96, t.x, t.y, rad, c.sky_sci);
    double fref = aperture(fr.ref, 96, 96, t.x, t.y, rad, c.sky_sci);
    double fd = aperture(fr.diff, 96, 96, t.x, t.y, rad, 0);
    double npix = M_PI * rad * rad;
    double sd_s = sqrt(npix * sim_noise_var(&fr.nsci, c.sky_sci + flux / npix));
    double sd_r = sqrt(npix * sim_noise_var(&fr.nref, c.sky_sci));
    if (fabs(fs - flux) > 4 * sd_s + 0.02 * flux)
        fail_msg("science aperture %.0f, injected %.0f", fs, flux);
    if (fabs(fref) > 4 * sd_r)
        fail_msg("reference aperture %.1f: the transient leaked (noise %.1f)", fref, sd_r);
    assert_true(fabs(fd - flux) < 4 * sd_s + 0.03 * flux);
    sim_det d;
    sim_frame_detect(&fr, t.nx, t.ny, t.rb, 1, &d);
    assert_true(fabs(d.snr / 60.0 - 1.0) < 0.15); /* expected S/N 60, measured */
    assert_true(abs(d.i - 48) <= 1 && abs(d.j - 48) <= 1);
    sim_frame_free(&fr);
    gsl_rng_free(r);
}

static void test_dipole(void **state)
{
    (void)state;
    sv_sim_survey s;
    sv_sim_survey_get("ztf", &s, NULL);
    sim_conditions c;
    plain_conditions(&s, 1, 2.2, 1.8, 3.0, &c);
    sv_sim_config cfg = bright_config(5.0);
    gsl_rng *r = sim_rng_new(12, 2, 0);
    /* among dipoles bright enough to be detected (a lobe at |S/N| >= 8),
     * each has the other lobe too, of the opposite sign and of similar
     * strength */
    int found = 0;
    for (int k = 0; k < 200 && found < 6; k++) {
        sim_frame fr;
        assert_int_equal(sim_frame_init(&fr, &s, &c, 80, 80, 0, 1), 0);
        sim_truth t;
        assert_int_equal(sim_inject(&fr, &cfg, SV_SIM_DIPOLE, 40.0, 40.0, r, &t), 0);
        assert_int_equal(sim_frame_realize(&fr, r, 0), 0);
        sim_det pos, neg;
        sim_frame_detect(&fr, 40, 40, 3, 1, &pos);
        sim_frame_detect(&fr, 40, 40, 3, -1, &neg);
        sim_frame_free(&fr);
        if (fmax(pos.snr, -neg.snr) < 8)
            continue;
        found++;
        if (!(pos.snr > 4 && neg.snr < -4))
            fail_msg("dipole lobes S/N %+.1f / %+.1f", pos.snr, neg.snr);
        double ratio = pos.snr / -neg.snr;
        if (ratio < 0.4 || ratio > 2.5)
            fail_msg("dipole lobes unbalanced: S/N %+.1f / %+.1f", pos.snr, neg.snr);
        assert_true(hypot(pos.i - neg.i, pos.j - neg.j) >= 1.0);
    }
    assert_int_equal(found, 6);
    gsl_rng_free(r);
}

static void test_static_star_subtracts_to_noise(void **state)
{
    (void)state;
    sv_sim_survey s;
    sv_sim_survey_get("ztf", &s, NULL);
    sim_conditions c;
    /* near-Gaussian PSFs (large beta), for which the Gaussian kernel is
     * exact: a star that did not change leaves only noise */
    plain_conditions(&s, 1, 2.4, 1.8, 25.0, &c);
    sim_frame fr;
    assert_int_equal(sim_frame_init(&fr, &s, &c, 80, 80, 0, 1), 0);
    double f = sv_sim_flux(fr.zp, 16.0);
    sim_frame_add_point(&fr, 40.3, 39.6, f, f);
    gsl_rng *r = sim_rng_new(13, 2, 0);
    assert_int_equal(sim_frame_realize(&fr, r, 0), 0);
    double chi2 = 0;
    int npix = 0;
    for (int j = 28; j < 52; j++)
        for (int i = 28; i < 52; i++) {
            long idx = (long)j * 80 + i;
            chi2 += fr.diff[idx] * fr.diff[idx] / sim_var_diff(&fr.vm, idx);
            npix++;
        }
    double red = chi2 / npix;
    if (red < 0.75 || red > 1.35)
        fail_msg("reduced chi2 of a static star's difference: %.2f", red);
    /* and the same star 5% brighter is not noise */
    sim_frame fr2;
    assert_int_equal(sim_frame_init(&fr2, &s, &c, 80, 80, 0, 1), 0);
    sim_frame_add_point(&fr2, 40.3, 39.6, 1.05 * f, f);
    assert_int_equal(sim_frame_realize(&fr2, r, 0), 0);
    sim_det d;
    sim_frame_detect(&fr2, 40, 40, 2, 1, &d);
    assert_true(d.snr > 5);
    sim_frame_free(&fr);
    sim_frame_free(&fr2);
    gsl_rng_free(r);
}

static void test_noise_peak_constraint(void **state)
{
    (void)state;
    sv_sim_survey s;
    sv_sim_survey_get("ilmt", &s, NULL);
    gsl_rng *r = sim_rng_new(14, 2, 0);
    for (int k = 0; k < 4; k++) {
        sim_conditions c;
        sim_conditions_draw(&s, 2, r, &c);
        sim_frame fr;
        assert_int_equal(sim_frame_init(&fr, &s, &c, 120, 120, 0, 1), 0);
        double nu = k % 2 ? -5.3 : 6.1;
        assert_int_equal(sim_frame_add_peak(&fr, 60, 61, nu), 0);
        assert_int_equal(sim_frame_realize(&fr, r, 0), 0);
        double snr = sim_filter_snr(&fr.filt, fr.diff, &fr.vm, 120, 120, 60, 61, NULL);
        if (fabs(snr - nu) > 1e-3)
            fail_msg("constrained S/N %.5f, asked %.2f", snr, nu);
        /* elsewhere the difference is still noise */
        double mean, sd;
        moments(fr.diff, 120L * 30, 0, &mean, &sd);
        assert_true(fabs(sd / sqrt(sim_var_diff(&fr.vm, 0)) - 1.0) < 0.1);
        sim_frame_free(&fr);
    }
    gsl_rng_free(r);
}

static void read_all(const char *path, sv_stamp_batch *b, sv_stamp_meta *meta)
{
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_reader *r = sv_stamp_reader_open(path, SV_STAMP_VERIFY_CHECKSUM, &err);
    if (!r)
        fail_msg("%s", err.text);
    *meta = *sv_stamp_reader_meta(r);
    long n = sv_stamp_reader_nrows(r);
    assert_int_equal(sv_stamp_batch_init(b, n, meta->stamp_size, &err), 0);
    assert_int_equal(sv_stamp_reader_read(r, 0, n, b, &err), n);
    sv_stamp_reader_close(r);
}

static void test_stamps_determinism(void **state)
{
    (void)state;
    sv_sim_stamp_params p;
    sv_sim_stamp_params_default(&p);
    p.n = 60;
    p.stamp_size = 31;
    p.scheme = SV_SIM_SCHEME_4CLASS;
    p.cfg.seed = 42;
    char a[512], b2[512], c[512];
    tmp_path(a, sizeof a, "a.fits");
    tmp_path(b2, sizeof b2, "b.fits");
    tmp_path(c, sizeof c, "c.fits");
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_sim_stamps_write(&p, a, &err), 0);
    p.threads = 3; /* same seed, other thread count */
    assert_int_equal(sv_sim_stamps_write(&p, b2, &err), 0);
    p.cfg.seed = 43;
    assert_int_equal(sv_sim_stamps_write(&p, c, &err), 0);
    sv_stamp_batch A, B, C;
    sv_stamp_meta ma, mb, mc;
    read_all(a, &A, &ma);
    read_all(b2, &B, &mb);
    read_all(c, &C, &mc);
    size_t np = 31 * 31 * 60 * sizeof(float);
    assert_memory_equal(A.sci, B.sci, np);
    assert_memory_equal(A.ref, B.ref, np);
    assert_memory_equal(A.diff, B.diff, np);
    assert_memory_equal(A.label, B.label, 60 * sizeof(int32_t));
    assert_memory_equal(A.snr, B.snr, 60 * sizeof(float));
    assert_memory_not_equal(A.diff, C.diff, np);
    assert_true(ma.seed == 42 && mc.seed == 43);
    /* a single stamp regenerated alone is the same stamp */
    sv_sim_class cls[60];
    p.cfg.seed = 42;
    assert_int_equal(sv_sim_stamps_classes(&p, cls, &err), 0);
    sv_stamp_batch one;
    assert_int_equal(sv_stamp_batch_init(&one, 1, 31, &err), 0);
    assert_int_equal(sv_sim_stamp_make(&p, 17, cls[17], &one, 0, &err), 0);
    assert_memory_equal(one.diff, A.diff + 17 * 31 * 31, 31 * 31 * sizeof(float));
    sv_stamp_batch_free(&one);
    sv_stamp_batch_free(&A);
    sv_stamp_batch_free(&B);
    sv_stamp_batch_free(&C);
    unlink(a);
    unlink(b2);
    unlink(c);
}

static double box_mean(const float *img, int S, int half)
{
    int c = S / 2;
    double s = 0;
    int n = 0;
    for (int j = c - half; j <= c + half; j++)
        for (int i = c - half; i <= c + half; i++, n++)
            s += img[j * S + i];
    return s / n;
}

static void test_stamp_set_contents(void **state)
{
    (void)state;
    sv_sim_stamp_params p;
    sv_sim_stamp_params_default(&p);
    p.n = 120;
    p.scheme = SV_SIM_SCHEME_RB;
    p.balance[0] = 1; /* bogus */
    p.balance[1] = 2; /* real */
    p.cfg.seed = 5;
    snprintf(p.cfg.survey, sizeof p.cfg.survey, "ilmt");
    char path[512];
    tmp_path(path, sizeof path, "set.fits");
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_sim_stamps_write(&p, path, &err), 0);
    sv_stamp_batch b;
    sv_stamp_meta m;
    read_all(path, &b, &m);
    assert_int_equal(m.stamp_size, 63);
    assert_int_equal(m.n_class, 2);
    assert_string_equal(m.class_name[0], "bogus");
    assert_string_equal(m.class_name[1], "real");
    assert_string_equal(m.survey, "ilmt");
    assert_string_equal(m.band, "i'");
    assert_true(m.columns & SV_STAMP_COL_TRUTH);
    int nreal = 0, ntr = 0;
    double off = 0;
    size_t np = 63 * 63;
    for (long i = 0; i < b.n; i++) {
        int real = strcmp(b.true_cls[i], "bogus") != 0;
        assert_int_equal(b.label[i], real);
        nreal += real;
        assert_true(b.id[i] == i + 1);
        /* every detection passed the threshold */
        assert_true(fabs(b.snr[i]) >= p.cfg.snr_min - 1e-4);
        if (!strcmp(b.subtype[i], "sn_hostless") || !strcmp(b.subtype[i], "sn_host")) {
            /* centred near the centre pixel (the matched-filter peak of a
             * faint source wanders by ~FWHM / (S/N)), positive in DIFF */
            assert_true(fabs(b.dx[i]) <= 3.0 && fabs(b.dy[i]) <= 3.0);
            off += hypot(b.dx[i], b.dy[i]) / (b.fwhm_sci[i] / m.pixscale);
            ntr++;
            assert_true(box_mean(b.diff + i * np, 63, 1) > 0);
            assert_true(b.snr[i] > 0);
        }
        if (!strcmp(b.subtype[i], "noise_peak"))
            assert_true(isnan(b.true_mag[i]));
    }
    assert_int_equal(nreal, 80); /* exact 1:2 balance */
    assert_true(ntr > 10);
    if (off / ntr > 0.3)
        fail_msg("transients lie %.2f FWHM from the centre on average", off / ntr);
    sv_stamp_batch_free(&b);
    unlink(path);
}


/* ZTF stamps: a negative detection's difference shown positive (ref - sci,
 * as ZTF's isdiffpos = f cutouts), a band list drawn per stamp (g darker
 * sky, seeing x (474.6 / 636.6)^-1/5), cutouts cut short at a quadrant edge
 * (~4 % of uniformly placed detections); ILMT keeps sci - ref. */
static void test_ztf_stamp_conventions(void **state)
{
    (void)state;
    sv_sim_stamp_params p;
    sv_sim_stamp_params_default(&p);
    p.n = 600;
    p.scheme = SV_SIM_SCHEME_4CLASS;
    p.cfg.seed = 77;
    p.threads = 2;
    snprintf(p.cfg.band, sizeof p.cfg.band, "g,r");
    char path[512];
    tmp_path(path, sizeof path, "conv.fits");
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_sim_stamps_write(&p, path, &err), 0);
    sv_stamp_batch b;
    sv_stamp_meta m;
    read_all(path, &b, &m);
    assert_string_equal(m.band, "g,r");
    size_t np = 63 * 63;
    int nneg = 0, negpos = 0, nedge = 0, nlow = 0;
    double fw_g = 0, fw_r = 0;
    int ng = 0, nr = 0;
    for (long i = 0; i < b.n; i++) {
        const float *d = b.diff + i * np, *sci = b.sci + i * np;
        int edge = 0;
        for (size_t k = 0; k < np && !edge; k++)
            edge = isnan(d[k]) || isnan(sci[k]);
        nedge += edge;
        if (edge)
            continue;
        if (b.snr[i] < 0 && !strcmp(b.subtype[i], "var_star")) {
            nneg++;
            negpos += box_mean(d, 63, 1) > 0;
        }
        /* the band from the sky: g's is ~0.49 of r's (about 100 against 200 DN) */
        double sky = 0;
        for (int u = 0; u < 63; u++)
            sky += sci[u] + sci[62 * 63 + u];
        sky /= 126;
        int g = sky < 140;
        nlow += g;
        if (g) { fw_g += b.fwhm_sci[i]; ng++; } else { fw_r += b.fwhm_sci[i]; nr++; }
    }
    if (nneg < 10 || negpos < nneg - 1)
        fail_msg("%d of %d fading variable stars have a positive difference centre", negpos, nneg);
    if (nedge < 8 || nedge > 50)
        fail_msg("%d of 600 stamps cut by a quadrant edge (expected ~24)", nedge);
    if (ng < 200 || nr < 200)
        fail_msg("bands g %d, r %d of a g,r set", ng, nr);
    double ratio = (fw_g / ng) / (fw_r / nr);
    if (fabs(ratio - pow(474.6 / 636.6, -0.2)) > 0.03)
        fail_msg("g/r seeing ratio %.3f, Kolmogorov %.3f", ratio, pow(474.6 / 636.6, -0.2));
    sv_stamp_batch_free(&b);
    /* ILMT: the difference as sci - ref */
    sv_sim_stamp_params_default(&p);
    p.n = 200;
    p.scheme = SV_SIM_SCHEME_4CLASS;
    p.balance[0] = p.balance[2] = p.balance[3] = 0;
    p.balance[1] = 1;
    p.cfg.seed = 78;
    snprintf(p.cfg.survey, sizeof p.cfg.survey, "ilmt");
    assert_int_equal(sv_sim_stamps_write(&p, path, &err), 0);
    read_all(path, &b, &m);
    int ineg = 0, ineg_down = 0;
    for (long i = 0; i < b.n; i++)
        if (b.snr[i] < 0) {
            ineg++;
            ineg_down += box_mean(b.diff + i * np, 63, 1) < 0;
        }
    assert_true(ineg >= 20 && ineg_down >= ineg - 1);
    sv_stamp_batch_free(&b);
    /* a list is for stamp sets; a bad list is refused */
    sv_sim_config cfg;
    sv_sim_config_default(&cfg);
    snprintf(cfg.band, sizeof cfg.band, "g,g");
    assert_int_not_equal(sv_sim_config_check(&cfg, &err), 0);
    snprintf(cfg.band, sizeof cfg.band, "g,");
    assert_int_not_equal(sv_sim_config_check(&cfg, &err), 0);
    sv_sim_exposure_params ep;
    sv_sim_exposure_params_default(&ep);
    snprintf(ep.cfg.band, sizeof ep.cfg.band, "g,r");
    assert_int_not_equal(sv_sim_exposure_params_check(&ep, &err), 0);
    unlink(path);
}

static void test_config_parsing(void **state)
{
    (void)state;
    double w[4];
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_sim_parse_weights("1,2,0.5,0", w, 4, "--balance", &err), 0);
    assert_true(w[1] == 2.0 && w[2] == 0.5);
    assert_int_not_equal(sv_sim_parse_weights("1,2", w, 4, "--balance", &err), 0);
    assert_non_null(strstr(err.text, "--balance"));
    assert_int_not_equal(sv_sim_parse_weights("1,-2,1,1", w, 4, "--balance", &err), 0);
    assert_int_not_equal(sv_sim_parse_weights("0,0,0,0", w, 4, "--balance", &err), 0);
    assert_int_not_equal(sv_sim_parse_weights("1,1,1,1,1", w, 4, "--balance", &err), 0);
    sv_sim_scheme sc;
    assert_int_equal(sv_sim_scheme_parse("3class", &sc, &err), 0);
    assert_int_equal(sv_sim_scheme_label(sc, SV_SIM_BOGUS), -1);
    assert_int_equal(sv_sim_scheme_label(SV_SIM_SCHEME_RB, SV_SIM_ASTEROID), 1);
    assert_int_equal(sv_sim_scheme_label(SV_SIM_SCHEME_4CLASS, SV_SIM_BOGUS), 3);
    assert_int_not_equal(sv_sim_scheme_parse("5class", &sc, &err), 0);
    sv_sim_config cfg;
    sv_sim_config_default(&cfg);
    assert_int_equal(sv_sim_config_check(&cfg, &err), 0);
    snprintf(cfg.band, sizeof cfg.band, "u");
    assert_int_not_equal(sv_sim_config_check(&cfg, &err), 0);
    assert_non_null(strstr(err.text, "band"));
    sv_sim_config_default(&cfg);
    cfg.snr_max = 3;
    assert_int_not_equal(sv_sim_config_check(&cfg, &err), 0);
    sv_sim_config_default(&cfg);
    cfg.mag_min = 19;
    assert_int_not_equal(sv_sim_config_check(&cfg, &err), 0); /* no mag_max */
    /* 3class never draws bogus */
    sv_sim_stamp_params p;
    sv_sim_stamp_params_default(&p);
    p.scheme = SV_SIM_SCHEME_3CLASS;
    p.n = 100;
    sv_sim_class cls[100];
    assert_int_equal(sv_sim_stamps_classes(&p, cls, &err), 0);
    int count[4] = {0};
    for (int i = 0; i < 100; i++)
        count[cls[i]]++;
    assert_int_equal(count[SV_SIM_BOGUS], 0);
    assert_int_equal(count[0] + count[1] + count[2], 100);
    assert_true(count[0] >= 33 && count[0] <= 34);
}

static void test_exposure(void **state)
{
    (void)state;
    sv_sim_exposure_params p;
    sv_sim_exposure_params_default(&p);
    p.width = 400;
    p.height = 300;
    p.n_det = 120;
    p.cfg.seed = 9;
    p.with_mask = 1;
    sv_error err;
    sv_error_clear(&err);
    sv_sim_exposure e1, e2;
    assert_int_equal(sv_sim_exposure_make(&p, &e1, &err), 0);
    p.threads = 2;
    assert_int_equal(sv_sim_exposure_make(&p, &e2, &err), 0);
    long npix = 400L * 300;
    assert_memory_equal(e1.sci, e2.sci, npix * sizeof(float));
    assert_memory_equal(e1.diff, e2.diff, npix * sizeof(float));
    assert_int_equal(e1.n_det, 120);
    /* exact class counts: 0.10, 0.25, 0.05, 0.60 of 120 */
    int count[4] = {0};
    for (long i = 0; i < e1.n_det; i++) {
        count[e1.det[i].cls]++;
        assert_true(e1.det[i].xpos >= 1 && e1.det[i].xpos <= 400);
        assert_true(e1.det[i].isdiffpos == (e1.det[i].snr >= 0 ? 't' : 'f'));
    }
    assert_int_equal(count[0], 12);
    assert_int_equal(count[1], 30);
    assert_int_equal(count[2], 6);
    assert_int_equal(count[3], 72);
    sv_sim_exposure_free(&e2);

    char prefix[512], path[600];
    tmp_path(prefix, sizeof prefix, "ex");
    assert_int_equal(sv_sim_exposure_write(&e1, prefix, &err), 0);
    /* the images: 400 x 300 floats with a WCS that WCSLIB reads */
    const char *suffix[] = {"_sci.fits", "_ref.fits", "_diff.fits", "_mask.fits"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s%s", prefix, suffix[k]);
        fitsfile *f = NULL;
        int st = 0, naxis = 0, bitpix = 0, dataok = 0, hduok = 0;
        long naxes[2];
        fits_open_file(&f, path, READONLY, &st);
        fits_get_img_param(f, 2, &bitpix, &naxis, naxes, &st);
        assert_int_equal(st, 0);
        assert_int_equal(naxes[0], 400);
        assert_int_equal(naxes[1], 300);
        assert_int_equal(bitpix, k == 3 ? BYTE_IMG : FLOAT_IMG);
        fits_verify_chksum(f, &dataok, &hduok, &st);
        assert_int_equal(dataok, 1);
        char *hdr = NULL;
        int nkeys = 0, nrej = 0, nwcs = 0;
        fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st);
        struct wcsprm *wcs = NULL;
        assert_int_equal(wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &nwcs, &wcs), 0);
        assert_true(nwcs >= 1);
        assert_int_equal(wcsset(wcs), 0);
        /* compare with the detection table's ra/dec */
        for (long i = 0; i < e1.n_det; i += 17) {
            double pix[2] = {e1.det[i].xpos, e1.det[i].ypos}, img[2], phi, theta, world[2];
            int stat;
            assert_int_equal(wcsp2s(wcs, 1, 2, pix, img, &phi, &theta, world, &stat), 0);
            assert_true(fabs(world[0] - e1.det[i].ra) < 1e-9);
            assert_true(fabs(world[1] - e1.det[i].dec) < 1e-9);
        }
        /* pixel scale from the CD matrix */
        double sc = hypot(wcs->cd[0], wcs->cd[2]) * 3600.0;
        assert_true(fabs(sc - 1.01) < 1e-9);
        wcsvfree(&nwcs, &wcs);
        fits_free_memory(hdr, &st);
        fits_close_file(f, &st);
    }
    /* the detection table: ZTF-style columns plus truth */
    snprintf(path, sizeof path, "%s_det.fits", prefix);
    fitsfile *f = NULL;
    int st = 0, col;
    long nrows = 0;
    fits_open_file(&f, path, READONLY, &st);
    fits_movnam_hdu(f, BINARY_TBL, "DETECTIONS", 0, &st);
    fits_get_num_rows(f, &nrows, &st);
    assert_int_equal(nrows, 120);
    const char *cols[] = {"candid", "xpos", "ypos", "ra", "dec", "magpsf", "sigmapsf",
                          "isdiffpos", "TRUECLS", "TRUEMAG", "SNR"};
    for (int k = 0; k < 11; k++) {
        fits_get_colnum(f, CASESEN, (char *)cols[k], &col, &st);
        if (st)
            fail_msg("%s: no column %s", path, cols[k]);
    }
    double x[3];
    fits_get_colnum(f, CASESEN, "xpos", &col, &st);
    fits_read_col(f, TDOUBLE, col, 1, 1, 3, NULL, x, NULL, &st);
    assert_int_equal(st, 0);
    assert_true(x[0] == e1.det[0].xpos && x[2] == e1.det[2].xpos);
    fits_close_file(f, &st);
    sv_sim_exposure_free(&e1);
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s%s", prefix, suffix[k]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s_det.fits", prefix);
    unlink(path);
    /* bad parameters */
    p.width = 10;
    assert_int_not_equal(sv_sim_exposure_make(&p, &e1, &err), 0);
    assert_non_null(strstr(err.text, "size"));
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sv-sim-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psf_fwhm),
        cmocka_unit_test(test_flux_conservation),
        cmocka_unit_test(test_survey_depths),
        cmocka_unit_test(test_sky_noise),
        cmocka_unit_test(test_transient_absent_in_reference),
        cmocka_unit_test(test_dipole),
        cmocka_unit_test(test_static_star_subtracts_to_noise),
        cmocka_unit_test(test_noise_peak_constraint),
        cmocka_unit_test(test_stamps_determinism),
        cmocka_unit_test(test_stamp_set_contents),
        cmocka_unit_test(test_ztf_stamp_conventions),
        cmocka_unit_test(test_config_parsing),
        cmocka_unit_test(test_exposure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
