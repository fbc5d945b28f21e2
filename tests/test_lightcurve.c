/* test_lightcurve.c — light-curve tables, preprocessing, model files,
 * RAPID-style Keras import, training and scoring of light-curve models
 * (lightcurve.h, lc_prep.h, lc_source.h, lc_arch.h, keras_import.h).
 *
 * Cases that need python (tests/python/lc_ztf_case.py: the ZTF
 * prv_candidates form written with astropy and its fluxes computed with
 * numpy; tests/python/lc_rapid_case.py: RAPID-style Keras HDF5 files made
 * with h5py and an independent numpy forward pass) skip with a message when
 * SV_PYTHON is not set or lacks the modules.
 */
#define _GNU_SOURCE /* nftw, mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fitsio.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "train/evaluate.h"
#include "train/finetune.h"
#include "model/lc_arch.h"
#include "nn/fast/lc_infer.h"
#include "sim/lc_sim.h"
#include "data/lc_source.h"
#include "pipeline/lc_stage.h"
#include "data/lightcurve.h"
#include "model/arch.h"
#include "model/model_fits.h"
#include "nn/nn_engine.h"
#include "pipeline/stage.h"
#include "train/train.h"
#ifdef HAVE_HDF5
#include "model/import/keras_import.h"
#endif

static char tmpdir[1024];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* Run a python generator into tmpdir/sub; 0 when it worked. */
static int run_python(const char *script, const char *sub, char *why, size_t cap)
{
    const char *py = getenv("SV_PYTHON"), *src = getenv("SV_SRCDIR");
    if (!py || !*py || !src || !*src) {
        snprintf(why, cap, "SV_PYTHON / SV_SRCDIR not set (run through make check)");
        return 1;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy, astropy, h5py' 2>/dev/null && '%s' "
             "'%s/tests/python/%s' '%s/%s' >/dev/null",
             py, py, src, script, tmpdir, sub);
    if (system(cmd) != 0) {
        snprintf(why, cap, "%s (numpy, astropy, h5py) could not run %s", py, script);
        return 1;
    }
    return 0;
}

static float *read_f32(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = (size_t)len / sizeof(float);
    if (buf && fread(buf, sizeof(float), *n, f) != *n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* A small hand-made set: two candidates, bands g r, metadata a b. */
static void make_set(sv_lc_set *s)
{
    sv_error err;
    assert_int_equal(sv_lc_set_alloc(s, 2, 7, 2, &err), 0);
    s->n_bands = 2;
    strcpy(s->bands[0], "g");
    strcpy(s->bands[1], "r");
    s->n_classes = 2;
    strcpy(s->classes[0], "SNIa");
    strcpy(s->classes[1], "AGN");
    strcpy(s->meta_names[0], "a");
    strcpy(s->meta_names[1], "b");
    strcpy(s->survey, "test");
    strcpy(s->origin, "hand-made");
    /* candidate 1: UL g 95, det g 100, det r 101, det g 104, UL r 140 */
    static const sv_lc_obs o1[5] = {{95, 50, 10, 0, 1, 0},
                                    {100, 100, 10, 0, 0, 0},
                                    {101, 50, 5, 1, 0, 0},
                                    {104, 200, 10, 0, 0, 0},
                                    {140, 30, 6, 1, 1, 0}};
    static const sv_lc_obs o2[2] = {{200, 40, 8, 1, 1, 0}, {203, 42, 8, 0, 1, 0}};
    memcpy(s->obs_pool, o1, sizeof o1);
    memcpy(s->obs_pool + 5, o2, sizeof o2);
    strcpy(s->lc[0].id, "cand-1");
    s->lc[0].n = 5;
    s->lc[0].obs = s->obs_pool;
    s->lc[0].label = 0;
    s->lc[0].t_alert = 104;
    s->lc[0].meta[0] = 1.5f;
    s->lc[0].meta[1] = NAN;
    strcpy(s->lc[1].id, "cand-2");
    s->lc[1].n = 2;
    s->lc[1].obs = s->obs_pool + 5;
    s->lc[1].label = 1;
    s->lc[1].meta[0] = -2.0f;
    s->lc[1].meta[1] = 7.0f;
}

/* ---- tables ----------------------------------------------------------------- */

static void test_table_roundtrip(void **state)
{
    (void)state;
    sv_lc_set s, r;
    sv_error err;
    make_set(&s);
    char path[1200];
    tmp_path(path, sizeof path, "hand.fits");
    static const char tn[1][SV_LABEL_MAX] = {"z"};
    float truth[2] = {0.1f, 0.5f};
    const char *cards[] = {"SEED=42", NULL};
    assert_int_equal(sv_lc_write_fits(&s, path, cards, 1, tn, truth, &err), 0);
    assert_true(sv_lc_fits_is_lightcurve(path));
    assert_int_equal(sv_lc_read_fits(path, NULL, &r, &err), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.n_bands, 2);
    assert_string_equal(r.bands[0], "g");
    assert_string_equal(r.bands[1], "r");
    assert_int_equal(r.n_classes, 2);
    assert_string_equal(r.classes[1], "AGN");
    assert_int_equal(r.n_meta, 2); /* NMETA: TRUE_z is not metadata */
    assert_string_equal(r.meta_names[1], "b");
    assert_string_equal(r.survey, "test");
    for (int i = 0; i < 2; i++) {
        assert_string_equal(r.lc[i].id, s.lc[i].id);
        assert_int_equal(r.lc[i].n, s.lc[i].n);
        assert_int_equal(r.lc[i].label, s.lc[i].label);
        for (int j = 0; j < s.lc[i].n; j++) {
            assert_true(r.lc[i].obs[j].t == s.lc[i].obs[j].t);
            assert_true(r.lc[i].obs[j].flux == s.lc[i].obs[j].flux);
            assert_int_equal(r.lc[i].obs[j].band, s.lc[i].obs[j].band);
            assert_int_equal(r.lc[i].obs[j].ulim, s.lc[i].obs[j].ulim);
        }
    }
    assert_true(r.lc[0].t_alert == 104);
    assert_true(isnan(r.lc[1].t_alert));
    assert_true(r.lc[0].meta[0] == 1.5f);
    assert_true(isnan(r.lc[0].meta[1]));
    assert_true(r.lc[1].meta[1] == 7.0f);
    assert_int_equal(sv_lc_find(&r, "cand-2"), 1);
    assert_int_equal(sv_lc_find(&r, "nope"), -1);
    sv_lc_set_free(&r);
    sv_lc_set_free(&s);
}

static void test_table_errors(void **state)
{
    (void)state;
    sv_lc_set s;
    sv_error err;
    double t[2] = {1, 2}, f[2] = {1, NAN}, e[2] = {0.1, 0.1};
    int32_t fid[2] = {1, 2};
    dia_column cols[4] = {{"MJD", DIA_COL_FLOAT64, 1, 0, {0, 0}, NULL, NULL, t},
                          {"FID", DIA_COL_INT32, 1, 0, {0, 0}, NULL, NULL, fid},
                          {"FLUX", DIA_COL_FLOAT64, 1, 0, {0, 0}, NULL, NULL, f},
                          {"FLUXERR", DIA_COL_FLOAT64, 1, 0, {0, 0}, NULL, NULL, e}};
    dia_table tab = {2, 4, cols, 0, NULL};
    /* a non-finite detection flux names the row */
    sv_error_clear(&err);
    assert_int_equal(sv_lc_from_table(&tab, NULL, "hist", &s, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "row 2"));
    /* no time column */
    dia_table t2 = {2, 3, cols + 1, 0, NULL};
    sv_error_clear(&err);
    assert_int_equal(sv_lc_from_table(&t2, NULL, "hist", &s, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "time"));
    /* a bad ZTF filter id */
    f[1] = 2;
    fid[1] = 7;
    sv_error_clear(&err);
    assert_int_equal(sv_lc_from_table(&tab, NULL, "hist", &s, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "fid"));
    /* fine now: one candidate (no id column), bands g r */
    fid[1] = 2;
    assert_int_equal(sv_lc_from_table(&tab, NULL, "hist", &s, &err), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.lc[0].n, 2);
    assert_int_equal(s.n_bands, 2);
    sv_lc_set_free(&s);
    /* a missing file */
    sv_error_clear(&err);
    assert_int_not_equal(sv_lc_read_fits("/nonexistent/x.fits", NULL, &s, &err), 0);
    assert_non_null(strstr(err.text, "/nonexistent/x.fits"));
}

static void test_ztf_form(void **state)
{
    (void)state;
    char why[512];
    if (run_python("lc_ztf_case.py", "ztf", why, sizeof why)) {
        print_message("SKIP: %s\n", why);
        skip();
    }
    char path[1200], exp[1200];
    tmp_path(path, sizeof path, "ztf/ztf_prv.fits");
    tmp_path(exp, sizeof exp, "ztf/expected.txt");
    assert_true(sv_lc_fits_is_lightcurve(path));
    sv_lc_set s;
    sv_error err;
    sv_error_clear(&err);
    int st = sv_lc_read_fits(path, NULL, &s, &err);
    if (st)
        print_message("%s\n", err.text);
    assert_int_equal(st, 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.lc[0].id, "ZTF21aaaaaaa"); /* first appearance order */
    FILE *f = fopen(exp, "r");
    assert_non_null(f);
    char id[64], band[8];
    double t, flux, ferr;
    int ul, n = 0;
    long cur = -1;
    int j = 0;
    while (fscanf(f, "%63s %lf %7s %lf %lf %d", id, &t, band, &flux, &ferr, &ul) == 6) {
        long c = sv_lc_find(&s, id);
        assert_true(c >= 0);
        if (c != cur) {
            cur = c;
            j = 0;
        }
        const sv_lc_obs *o = &s.lc[c].obs[j++];
        assert_true(fabs(o->t - t) < 1e-6);
        assert_string_equal(s.bands[o->band], band);
        assert_true(fabs(o->flux - flux) <= 1e-5 * fabs(flux));
        assert_true(fabs(o->fluxerr - ferr) <= 1e-5 * fabs(ferr));
        assert_int_equal(o->ulim, ul);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 9);
    sv_lc_set_free(&s);
}

/* ---- preprocessing -------------------------------------------------------------- */

static void test_prep_irregular(void **state)
{
    (void)state;
    sv_lc_set s;
    sv_error err;
    make_set(&s);
    sv_lcprep p = sv_lcprep_defaults(SV_LCMODE_IRREGULAR);
    p.n_steps = 6;
    p.n_bands = 2;
    strcpy(p.bands[0], "g");
    strcpy(p.bands[1], "r");
    const char *names[2] = {"a", "b"};
    assert_int_equal(sv_lcprep_fit_meta(&p, &s, names, 2, NULL, 0, &err), 0);
    assert_true(fabsf(p.meta_offset[0] - (-0.25f)) < 1e-6f); /* mean of 1.5, -2 */
    assert_true(fabsf(p.meta_scale[0] - 2.4748737f) < 1e-5f);
    assert_true(p.meta_offset[1] == 7.0f && p.meta_scale[1] == 1.0f); /* one value */
    assert_int_equal(sv_lcprep_validate(&p, &err), 0);
    int F = sv_lcprep_n_features(&p);
    assert_int_equal(F, 6 + 2 + 2);
    assert_int_equal(sv_lcprep_meta_size(&p), 4);
    sv_lcprep_map map;
    assert_int_equal(sv_lcprep_bind(&p, &s, &map, &err), 0);
    float seq[6 * 10], meta[4];
    int nv = -1;
    assert_int_equal(sv_lcprep_apply(&p, &map, &s.lc[0], INFINITY, seq, meta, &nv, &err), 0);
    assert_int_equal(nv, 5);
    /* step 0 is padding (align end) */
    for (int f = 0; f < F; f++)
        assert_true(seq[f] == 0.0f);
    /* step 1: the upper limit in g at t = 95: s_g = 200, s_r = 50 */
    const float *x = seq + 1 * F;
    assert_true(fabsf(x[0] - (-0.05f)) < 1e-6f);
    assert_true(x[1] == 0.0f);
    assert_true(fabsf(x[2] - 0.25f) < 1e-6f);
    assert_true(fabsf(x[3] - 0.05f) < 1e-6f);
    assert_true(x[4] == 1.0f && x[5] == 1.0f && x[6] == 0.0f);
    assert_true(fabsf(x[7]) < 1e-6f && fabsf(x[8] - (float)log10(0.25)) < 1e-6f);
    assert_true(x[9] == 1.0f);
    /* step 3: r detection at 101 after 1 day */
    x = seq + 3 * F;
    assert_true(fabsf(x[0] - 0.01f) < 1e-6f);
    assert_true(fabsf(x[1] - (float)log1p(1.0)) < 1e-6f);
    assert_true(fabsf(x[2] - 1.0f) < 1e-6f);
    assert_true(x[5] == 0.0f && x[6] == 1.0f);
    /* metadata: a standardised, b unknown */
    assert_true(fabsf(meta[0] - (1.5f + 0.25f) / 2.4748737f) < 1e-5f);
    assert_true(meta[1] == 0.0f && meta[2] == 1.0f && meta[3] == 0.0f);
    /* classified at 100.5: the limit at 95 and the first detection */
    assert_int_equal(sv_lcprep_apply(&p, &map, &s.lc[0], 100.5, seq, NULL, &nv, &err), 0);
    assert_int_equal(nv, 2);
    assert_true(fabsf(seq[5 * F + 2] - 1.0f) < 1e-6f); /* 100 / s_g = 100 */
    /* only upper limits: nothing to classify */
    assert_int_equal(sv_lcprep_apply(&p, &map, &s.lc[1], INFINITY, seq, NULL, &nv, &err), 0);
    assert_int_equal(nv, 0);
    for (int i = 0; i < 6 * F; i++)
        assert_true(seq[i] == 0.0f);
    /* keep only the last 3 observations, start-aligned */
    p.n_steps = 3;
    p.align = SV_LCALIGN_START;
    assert_int_equal(sv_lcprep_apply(&p, &map, &s.lc[0], INFINITY, seq, NULL, &nv, &err), 0);
    assert_int_equal(nv, 3);
    assert_true(fabsf(seq[0] - 0.01f) < 1e-6f);      /* r at 101 first */
    assert_true(seq[2 * F + 4] == 1.0f);              /* r limit at 140 last */
    sv_lc_set_free(&s);
}

static void test_prep_grid(void **state)
{
    (void)state;
    sv_lc_set s;
    sv_error err;
    assert_int_equal(sv_lc_set_alloc(&s, 1, 4, 0, &err), 0);
    s.n_bands = 2;
    strcpy(s.bands[0], "g");
    strcpy(s.bands[1], "r");
    static const sv_lc_obs o[4] = {{10, 10, 1, 0, 0, 0}, {11, 5, 1, 1, 0, 0},
                                   {14, 30, 1, 0, 0, 0}, {15, 2, 0.4f, 1, 1, 0}};
    memcpy(s.obs_pool, o, sizeof o);
    s.lc[0].n = 4;
    s.lc[0].obs = s.obs_pool;
    strcpy(s.lc[0].id, "g1");
    sv_lcprep p;
    memset(&p, 0, sizeof p);
    assert_int_equal(sv_lcprep_parse("grid,steps=5,step=2,bands=g:r,norm=band", &p, &err), 0);
    int F = sv_lcprep_n_features(&p);
    assert_int_equal(F, 2 * 2 + 2 + 2);
    sv_lcprep_map map;
    assert_int_equal(sv_lcprep_bind(&p, &s, &map, &err), 0);
    float seq[5 * 8];
    int nv;
    assert_int_equal(sv_lcprep_apply(&p, &map, &s.lc[0], INFINITY, seq, NULL, &nv, &err), 0);
    assert_int_equal(nv, 3); /* grid 10, 12, 14 (last observation 15) */
    for (int i = 0; i < 2 * F; i++)
        assert_true(seq[i] == 0.0f);
    const float *g0 = seq + 2 * F, *g1 = seq + 3 * F, *g2 = seq + 4 * F;
    assert_true(fabsf(g0[0] - 10.0f / 30) < 1e-6f && fabsf(g1[0] - 20.0f / 30) < 1e-6f &&
                fabsf(g2[0] - 1.0f) < 1e-6f);
    /* r: 1.0 at 11, 0 at 15 (a limit below the last detection) */
    assert_true(g0[1] == 0.0f && g0[3] == 0.0f);
    assert_true(fabsf(g1[1] - 0.75f) < 1e-6f && g1[3] == 1.0f);
    assert_true(fabsf(g2[1] - 0.25f) < 1e-6f);
    assert_true(g0[2] == 1.0f);
    assert_true(fabsf(g1[6] - 0.02f) < 1e-6f && g2[7] == 1.0f); /* trel, valid */
    /* RAPID's layout: fluxes only, start-aligned, unnormalised */
    sv_lcprep q = sv_lcprep_rapid();
    assert_int_equal(sv_lcprep_n_features(&q), 2);
    float sq[50 * 2];
    assert_int_equal(sv_lcprep_bind(&q, &s, &map, &err), 0);
    assert_int_equal(sv_lcprep_apply(&q, &map, &s.lc[0], INFINITY, sq, NULL, &nv, &err), 0);
    assert_int_equal(nv, 2); /* 10, 13 (3-day steps up to 15) */
    assert_true(fabsf(sq[0] - 10.0f) < 1e-5f && fabsf(sq[2] - 25.0f) < 1e-5f);
    assert_true(sq[4] == 0.0f && sq[5] == 0.0f);
    sv_lc_set_free(&s);
}

static void test_prep_text(void **state)
{
    (void)state;
    sv_lcprep p, q;
    sv_error err;
    memset(&p, 0, sizeof p);
    memset(&q, 0, sizeof q);
    assert_int_equal(
        sv_lcprep_parse("grid,steps=20,step=2.5,bands=g:r:i,norm=global,align=start", &p, &err),
        0);
    char buf[256];
    sv_lcprep_format(&p, buf, sizeof buf);
    assert_int_equal(sv_lcprep_parse(buf, &q, &err), 0);
    assert_memory_equal(&p, &q, sizeof p);
    assert_int_equal(p.n_bands, 3);
    assert_true(p.step == 2.5 && p.norm == SV_LCNORM_GLOBAL && p.align == SV_LCALIGN_START);
    sv_error_clear(&err);
    assert_int_equal(sv_lcprep_parse("grid,steps=0,bands=g", &p, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "steps"));
    assert_int_equal(sv_lcprep_parse("spline", &p, &err), SV_ERR_FORMAT);
    assert_int_equal(sv_lcprep_parse("irregular,layout=flux,bands=g", &p, &err), SV_ERR_FORMAT);
    assert_int_equal(sv_lcprep_parse("irregular,bands=g:g", &p, &err), SV_ERR_FORMAT);
    assert_int_equal(sv_lcprep_parse("irregular,colour=1,bands=g", &p, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "colour"));
}

/* ---- model files ------------------------------------------------------------------ */

static sv_model *make_lc_model(const sv_lcprep *p, int k, int units, uint64_t seed)
{
    sv_error err;
    sv_lc_arch a = sv_lc_arch_defaults();
    a.units = units;
    a.meta_units = 8;
    a.dense_units = 16;
    nn_net *net = NULL;
    assert_int_equal(sv_lc_arch_build(&a, p->n_steps, sv_lcprep_n_features(p),
                                      sv_lcprep_meta_size(p), k, seed, &net, &err),
                     0);
    sv_model *m = sv_model_new(net);
    m->task = SV_TASK_LIGHTCURVE;
    m->n_classes = k;
    for (int i = 0; i < k; i++)
        snprintf(m->classes[i], SV_LABEL_MAX, "%s", sv_lcsim_class_name(i));
    m->lc = *p;
    strcpy(m->name, "lc-test");
    return m;
}

static void test_model_file(void **state)
{
    (void)state;
    sv_lc_set s;
    sv_error err;
    make_set(&s);
    sv_lcprep p = sv_lcprep_defaults(SV_LCMODE_IRREGULAR);
    p.n_steps = 8;
    p.n_bands = 2;
    strcpy(p.bands[0], "g");
    strcpy(p.bands[1], "r");
    assert_int_equal(sv_lcprep_fit_meta(&p, &s, NULL, 0, NULL, 0, &err), 0);
    sv_model *m = make_lc_model(&p, 3, 6, 5);
    assert_int_equal(sv_lc_model_check(m, &err), 0);
    char path[1200];
    tmp_path(path, sizeof path, "lcmodel.fits");
    assert_int_equal(sv_model_write_fits(m, path, &err), 0);
    sv_model *r = NULL;
    assert_int_equal(sv_model_read_fits(path, &r, &err), 0);
    assert_int_equal(r->task, SV_TASK_LIGHTCURVE);
    assert_memory_equal(&r->lc, &m->lc, sizeof m->lc);
    assert_int_equal(sv_lc_model_check(r, &err), 0);
    sv_model_free(r);
    /* a damaged card (checksums redone) is an error naming it */
    fitsfile *f = NULL;
    int st = 0;
    fits_open_file(&f, path, READWRITE, &st);
    fits_update_key(f, TSTRING, "LCNORM", "wavelet", NULL, &st);
    fits_write_chksum(f, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    sv_error_clear(&err);
    assert_int_equal(sv_model_read_fits(path, &r, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "LCNORM"));
    assert_null(r);
    /* a preprocessing that disagrees with the network */
    m->lc.n_steps = 9;
    sv_error_clear(&err);
    assert_int_equal(sv_lc_model_check(m, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "(9, 10)"));
    m->lc.mode = SV_LCMODE_NONE;
    assert_int_equal(sv_lc_model_check(m, &err), SV_ERR_FORMAT);
    sv_model_free(m);
    sv_lc_set_free(&s);
}

/* ---- RAPID-style Keras import ---------------------------------------------------- */

static void test_rapid_import(void **state)
{
    (void)state;
#ifndef HAVE_HDF5
    print_message("SKIP: built without HDF5 (Keras import)\n");
    skip();
#else
    char why[512];
    if (run_python("lc_rapid_case.py", "rapid", why, sizeof why)) {
        print_message("SKIP: %s\n", why);
        skip();
    }
    char p_in[1200], p_valid[1200];
    tmp_path(p_in, sizeof p_in, "rapid/input.f32");
    tmp_path(p_valid, sizeof p_valid, "rapid/valid.txt");
    size_t nin = 0;
    float *x = read_f32(p_in, &nin);
    assert_non_null(x);
    const int B = 4, T = 50, F = 2, K = 6;
    assert_int_equal(nin, (size_t)B * T * F);
    int valid[4];
    FILE *vf = fopen(p_valid, "r");
    assert_non_null(vf);
    assert_int_equal(fscanf(vf, "%d %d %d %d", &valid[0], &valid[1], &valid[2], &valid[3]), 4);
    fclose(vf);
    for (int masked = 0; masked < 2; masked++) {
        char h5[1200], ref[1200], fits[1200];
        tmp_path(h5, sizeof h5, masked ? "rapid/rapid_mask.h5" : "rapid/rapid.h5");
        tmp_path(ref, sizeof ref, masked ? "rapid/rapid_mask.out.f32" : "rapid/rapid.out.f32");
        tmp_path(fits, sizeof fits, masked ? "rapid_mask.fits" : "rapid.fits");
        size_t nref = 0;
        float *y = read_f32(ref, &nref);
        assert_non_null(y);
        assert_int_equal(nref, (size_t)B * T * K);
        sv_keras_options o = sv_keras_options_defaults();
        o.task = SV_TASK_LIGHTCURVE;
        o.classes = "SNIa,SNII,SNIbc,SLSN,TDE,AGN";
        o.lc_prep = "rapid";
        sv_model *m = NULL;
        sv_error err;
        sv_error_clear(&err);
        int st = sv_keras_import(h5, &o, &m, &err);
        if (st)
            print_message("import: %s\n", err.text);
        assert_int_equal(st, 0);
        assert_int_equal(sv_lc_model_check(m, &err), 0);
        if (masked)
            assert_string_equal(sv_model_get_prov(m, "LCMASK"), "0");
        else
            assert_null(sv_model_get_prov(m, "LCMASK"));
        /* through the model file and back */
        assert_int_equal(sv_model_write_fits(m, fits, &err), 0);
        sv_model_free(m);
        m = NULL;
        assert_int_equal(sv_model_read_fits(fits, &m, &err), 0);
        assert_int_equal(m->lc.mode, SV_LCMODE_GRID);
        assert_int_equal(m->lc.layout, SV_LCLAYOUT_FLUX);
        nn_workspace *ws = nn_workspace_new(m->net, B, 0, &err);
        assert_non_null(ws);
        const float *in[1] = {x};
        assert_int_equal(nn_forward(ws, m->net, B, in, 0, &err), 0);
        const float *out = nn_workspace_output(ws);
        double worst = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) /* masked steps too: the GRUs keep their state */
                for (int k = 0; k < K; k++) {
                    size_t i = ((size_t)b * T + t) * K + k;
                    double d = fabs((double)out[i] - y[i]) / fmax(1.0, fabs(y[i]));
                    if (d > worst)
                        worst = d;
                }
        }
        /* the light-curve fast path against the same reference (masked
         * GRUs too) */
        sv_lc_infer *fp = sv_lc_infer_new(m->net, B, &err);
        assert_non_null(fp);
        double worst_fast = 1;
        if (fp) {
            worst_fast = 0;
            const float *fo = sv_lc_infer_run(fp, B, in, &err);
            assert_non_null(fo);
            for (size_t i = 0; i < (size_t)B * T * K; i++) {
                double d = fabs((double)fo[i] - y[i]) / fmax(1.0, fabs(y[i]));
                if (d > worst_fast)
                    worst_fast = d;
            }
            sv_lc_infer_free(fp);
        }
        print_message("RAPID%s: max relative difference %.3g (engine), %.3g (fast path)\n",
                      masked ? " + Masking" : "", worst, worst_fast);
        assert_true(worst <= 1e-5);
        assert_true(worst_fast <= 1e-5);
        nn_workspace_free(ws);
        sv_model_free(m);
        free(y);
    }
    free(x);
#endif
}

/* ---- the light-curve fast path against the reference engine ----------------------
 * Every layer kind the fast path runs, each compared with nn_forward to 1e-5
 * (relative, floor 1) on every kernel set the CPU and build can run, at
 * batches 1, 2, 7 and 17, on sequences with masked (all-zero) steps at the
 * start, in the middle and at the end, and one sample masked throughout. */

static int add_layer(nn_net *net, nn_layer L)
{
    sv_error err;
    sv_error_clear(&err);
    int i = nn_net_add(net, &L, &err);
    if (i < 0)
        print_message("nn_net_add '%s': %s\n", L.name, err.text);
    assert_true(i >= 0);
    return i;
}

static nn_layer layer_on(nn_kind kind, const char *name, int in0, int in1)
{
    nn_layer L = nn_layer_defaults(kind, name);
    L.n_in = in1 >= 0 ? 2 : 1;
    L.in[0] = in0;
    L.in[1] = in1;
    return L;
}

/* deterministic values in [-a, a) */
static float det_val(uint32_t *s, float a)
{
    *s = *s * 1664525u + 1013904223u;
    return a * ((float)(*s >> 8) / 8388608.0f - 1.0f);
}

static void finalize_random(nn_net *net, uint32_t seed)
{
    sv_error err;
    sv_error_clear(&err);
    int st = nn_net_finalize(net, &err);
    if (st)
        print_message("finalize: %s\n", err.text);
    assert_int_equal(st, 0);
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++) {
            nn_param *q = &net->layers[i].p[j];
            for (size_t e = 0; e < q->size; e++) {
                if (!strcmp(q->name, "moving_variance") || !strcmp(q->name, "gamma"))
                    q->w[e] = 1.0f + 0.5f * det_val(&seed, 1.0f);
                else
                    q->w[e] = det_val(&seed, 0.4f);
            }
        }
}

/* Sequence input n x (T, F) with masked steps: sample s masks steps
 * 0..s%3-1 (start), the middle third when s is odd, the last s%5 steps
 * (end); sample 5 (when present) is masked throughout.  Values: uniform in
 * [-2, 2), or (lc_like) RAPID's kind of input as tests/python/rapid_ref.py
 * makes it: per band a Gaussian peak (amplitude 0.5..3, width 4..10 steps)
 * with noise, the third feature a redshift 0.02..0.4 (the published models
 * are ill-conditioned far outside that range: there 1 ulp in the input
 * moves their output by 1e-4, and no two float engines agree). */
static float *masked_input(int n, int T, int F, uint32_t seed, int lc_like)
{
    float *x = malloc((size_t)n * T * F * sizeof(float));
    assert_non_null(x);
    for (int s = 0; s < n; s++)
        for (int t = 0; t < T; t++) {
            int masked = t < s % 3 || (s % 2 && t >= T / 3 && t < 2 * T / 3) ||
                         t >= T - s % 5 || s == 5;
            for (int f = 0; f < F; f++) {
                float v = det_val(&seed, 2.0f);
                if (lc_like && f == 2)
                    v = 0.21f + 0.19f * det_val(&seed, 1.0f);
                else if (lc_like) {
                    uint32_t ps = seed ^ (uint32_t)(s * 7 + f); /* per sample and band */
                    float peak = 19.0f + 11.0f * det_val(&ps, 1.0f);
                    float amp = 1.75f + 1.25f * det_val(&ps, 1.0f);
                    float w = 7.0f + 3.0f * det_val(&ps, 1.0f);
                    v = amp * expf(-0.5f * ((t - peak) / w) * ((t - peak) / w)) +
                        0.05f * det_val(&seed, 1.0f);
                }
                x[((size_t)s * T + t) * F + f] = masked ? 0.0f : v;
            }
            /* a kept step with some zero features stays kept */
            if (!masked && F > 1 && t % 4 == 1 && !lc_like)
                x[((size_t)s * T + t) * F] = 0.0f;
        }
    return x;
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
        if (!(d <= w)) /* NaN counts as a failure */
            w = isnan(d) ? INFINITY : d;
    }
    return w;
}

/* net (one sequence input (T, F)) fast vs reference at several batches and
 * every ISA; returns the worst relative difference. */
static double compare_fast_net(nn_net *net, const char *what, int lc_like)
{
    static const int batches[] = {1, 2, 7, 17};
    static const nn_isa isas[] = {NN_ISA_AVX512, NN_ISA_AVX2, NN_ISA_GENERIC};
    const nn_layer *In = &net->layers[net->inputs[0]];
    const size_t nout = net->layers[net->output].out_size;
    double worst = 0;
    int ran = 0;
    for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
        const int B = batches[bi];
        float *x = masked_input(B, In->shape[0], In->shape[1], 77u + (uint32_t)B, lc_like);
        const float *in[1] = {x};
        sv_error err;
        sv_error_clear(&err);
        nn_workspace *ws = nn_workspace_new(net, B, 0, &err);
        assert_non_null(ws);
        assert_int_equal(nn_forward(ws, net, B, in, 0, &err), 0);
        const float *ro = nn_workspace_output(ws);
        for (int q = 0; q < 3; q++) {
            sv_error_clear(&err);
            sv_lc_infer *fp = sv_lc_infer_new_isa(net, 17, isas[q], &err);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
            int built = 1;
#else
            int built = isas[q] == NN_ISA_GENERIC;
#endif
            if (!built || !sv_cpu_can_run(isas[q])) {
                assert_null(fp);
                if (bi == 0)
                    printf("# %s: kernels for %s not on this CPU or build\n", what,
                           nn_isa_name(isas[q]));
                continue;
            }
            if (!fp)
                print_message("%s: no fast plan: %s\n", what, err.text);
            assert_non_null(fp);
            const float *fo = sv_lc_infer_run(fp, B, in, &err);
            assert_non_null(fo);
            double d = rel_diff(fo, ro, (size_t)B * nout);
            if (d > 1e-5)
                print_message("%s, %s, batch %d: max relative difference %.3g\n", what,
                              nn_isa_name(isas[q]), B, d);
            assert_true(d <= 1e-5);
            worst = d > worst ? d : worst;
            ran++;
            sv_lc_infer_free(fp);
        }
        nn_workspace_free(ws);
        free(x);
    }
    assert_true(ran >= 4); /* generic, at least, at every batch */
    print_message("%s: fast path = reference engine to %.2g (%d runs)\n", what, worst, ran);
    return worst;
}

/* Masking, masked GRUs (reset_after 1 and 0, sigmoid and hard sigmoid,
 * units with and without a 16-wide tail), an unmasked GRU after them. */
static void test_fast_masked_gru(void **state)
{
    (void)state;
    nn_net *net = nn_net_new();
    nn_layer L = nn_layer_defaults(NN_INPUT, "seq");
    L.rank = 2;
    L.shape[0] = 13;
    L.shape[1] = 3;
    int x = add_layer(net, L);
    int m = add_layer(net, layer_on(NN_MASKING, "mask", x, -1));
    L = layer_on(NN_GRU, "g1", m, x);
    L.units = 20;
    L.return_sequences = 1;
    L.reset_after = 1;
    L.recurrent_act = NN_ACT_SIGMOID;
    int g = add_layer(net, L);
    L = layer_on(NN_GRU, "g2", g, x);
    L.units = 33;
    L.return_sequences = 1;
    L.reset_after = 0;
    L.recurrent_act = NN_ACT_HARD_SIGMOID;
    g = add_layer(net, L);
    L = layer_on(NN_GRU, "g3", g, x);
    L.units = 16;
    L.reset_after = 1;
    L.recurrent_act = NN_ACT_HARD_SIGMOID;
    g = add_layer(net, L);
    L = layer_on(NN_DENSE, "out", g, -1);
    L.units = 5;
    L.act = NN_ACT_SOFTMAX;
    add_layer(net, L);
    finalize_random(net, 3);
    compare_fast_net(net, "masked GRU", 0);
    nn_net_free(net);
}

/* LSTM: masked (hard sigmoid, return_sequences) and unmasked (sigmoid, no
 * bias, last step only), with a sequence Dense head and one on the vector. */
static void test_fast_lstm(void **state)
{
    (void)state;
    for (int masked = 0; masked < 2; masked++) {
        nn_net *net = nn_net_new();
        nn_layer L = nn_layer_defaults(NN_INPUT, "seq");
        L.rank = 2;
        L.shape[0] = 11;
        L.shape[1] = 2;
        int x = add_layer(net, L);
        int m = masked ? add_layer(net, layer_on(NN_MASKING, "mask", x, -1)) : x;
        L = layer_on(NN_LSTM, "l1", m, masked ? x : -1);
        L.units = 37;
        L.return_sequences = 1;
        L.recurrent_act = NN_ACT_HARD_SIGMOID;
        int l = add_layer(net, L);
        L = layer_on(NN_LSTM, "l2", l, masked ? x : -1);
        L.units = 16;
        L.return_sequences = 1;
        L.recurrent_act = NN_ACT_SIGMOID;
        int l2 = add_layer(net, L);
        L = layer_on(NN_LSTM, "l3", l2, -1);
        L.units = 9;
        L.use_bias = 0;
        int l3 = add_layer(net, L);
        L = layer_on(NN_DENSE, "td", l2, -1);
        L.units = 4;
        L.act = NN_ACT_SOFTMAX;
        add_layer(net, L);
        (void)l3;
        finalize_random(net, 5 + (uint32_t)masked);
        compare_fast_net(net, masked ? "masked LSTM (sequence head)" : "LSTM (sequence head)",
                         0);
        nn_net_free(net);
        /* the last-step LSTM as the output */
        net = nn_net_new();
        L = nn_layer_defaults(NN_INPUT, "seq");
        L.rank = 2;
        L.shape[0] = 11;
        L.shape[1] = 2;
        x = add_layer(net, L);
        m = masked ? add_layer(net, layer_on(NN_MASKING, "mask", x, -1)) : x;
        L = layer_on(NN_LSTM, "l1", m, masked ? x : -1);
        L.units = 37;
        L.return_sequences = 1;
        l = add_layer(net, L);
        L = layer_on(NN_LSTM, "l3", l, masked ? x : -1);
        L.units = 9;
        L.use_bias = 0;
        L.recurrent_act = NN_ACT_HARD_SIGMOID;
        l = add_layer(net, L);
        L = layer_on(NN_DENSE, "out", l, -1);
        L.units = 3;
        L.act = NN_ACT_SOFTMAX;
        add_layer(net, L);
        finalize_random(net, 9 + (uint32_t)masked);
        compare_fast_net(net, masked ? "masked LSTM (last step)" : "LSTM (last step)", 0);
        nn_net_free(net);
    }
}

static int conv1d(nn_net *net, const char *name, int in, int filters, int k, int s, int d,
                  nn_padding pad, nn_act act, int bias)
{
    nn_layer L = layer_on(NN_CONV1D, name, in, -1);
    L.filters = filters;
    L.kh = k;
    L.sh = s;
    L.dilation = d;
    L.padding = pad;
    L.act = act;
    L.alpha = 0.1f;
    L.use_bias = bias;
    return add_layer(net, L);
}

/* A TCN-like DAG: causal dilated Conv1Ds, Activation, a 1x1 matching
 * Conv1D, residual Adds (fused activation, 2 and 3 inputs), "same" with an
 * even kernel, a strided valid and a strided same Conv1D, no bias, leaky
 * relu (the scalar activation path), 32 filters (no padded output),
 * GlobalAveragePooling1D plain and masked, Concatenate, Dense. */
static void test_fast_conv1d(void **state)
{
    (void)state;
    nn_net *net = nn_net_new();
    nn_layer L = nn_layer_defaults(NN_INPUT, "seq");
    L.rank = 2;
    L.shape[0] = 21;
    L.shape[1] = 3;
    int x = add_layer(net, L);
    int m = add_layer(net, layer_on(NN_MASKING, "mask", x, -1));
    int c1 = conv1d(net, "c1", m, 12, 2, 1, 1, NN_PAD_CAUSAL, NN_ACT_SIGMOID, 1);
    int c2 = conv1d(net, "c2", c1, 12, 3, 1, 2, NN_PAD_CAUSAL, NN_ACT_TANH, 1);
    L = layer_on(NN_ACTIVATION, "a", c2, -1);
    L.act = NN_ACT_SIGMOID;
    int a = add_layer(net, L);
    int r = conv1d(net, "match", m, 12, 1, 1, 1, NN_PAD_SAME, NN_ACT_LINEAR, 1);
    L = layer_on(NN_ADD, "res", r, a);
    L.act = NN_ACT_SIGMOID;
    int s1 = add_layer(net, L);
    int c3 = conv1d(net, "c3", s1, 12, 4, 1, 1, NN_PAD_SAME, NN_ACT_LEAKY_RELU, 1);
    L = layer_on(NN_ADD, "skip", s1, c3);
    L.n_in = 3;
    L.in[2] = a;
    int s2 = add_layer(net, L);
    int c4 = conv1d(net, "c4", s2, 32, 3, 2, 1, NN_PAD_VALID, NN_ACT_RELU, 1);
    int c5 = conv1d(net, "c5", c4, 7, 2, 3, 1, NN_PAD_SAME, NN_ACT_HARD_SIGMOID, 0);
    int c6 = conv1d(net, "c6", c4, 5, 3, 1, 3, NN_PAD_VALID, NN_ACT_LINEAR, 1);
    int g1 = add_layer(net, layer_on(NN_GLOBAL_AVGPOOL1D, "gap", c5, -1));
    int g2 = add_layer(net, layer_on(NN_GLOBAL_AVGPOOL1D, "gap_masked", c1, x));
    int g3 = add_layer(net, layer_on(NN_GLOBAL_AVGPOOL1D, "gap_c6", c6, -1));
    L = layer_on(NN_CONCAT, "cat", g1, g2);
    L.n_in = 3;
    L.in[2] = g3;
    int cat = add_layer(net, L);
    L = layer_on(NN_DENSE, "out", cat, -1);
    L.units = 4;
    L.act = NN_ACT_SOFTMAX;
    add_layer(net, L);
    finalize_random(net, 11);
    compare_fast_net(net, "Conv1D / Add / GAP1D", 0);
    nn_net_free(net);
    /* long and wide enough that a batch runs in passes of 2 samples
     * (lc_infer.c keeps a non-recurrent net's buffers near 256 KB): batches
     * 7 and 17 take several passes, the last one partial */
    net = nn_net_new();
    L = nn_layer_defaults(NN_INPUT, "seq");
    L.rank = 2;
    L.shape[0] = 200;
    L.shape[1] = 3;
    x = add_layer(net, L);
    m = add_layer(net, layer_on(NN_MASKING, "mask", x, -1));
    c1 = conv1d(net, "c1", m, 64, 3, 1, 1, NN_PAD_CAUSAL, NN_ACT_RELU, 1);
    c2 = conv1d(net, "c2", c1, 64, 2, 1, 4, NN_PAD_CAUSAL, NN_ACT_SIGMOID, 1);
    L = layer_on(NN_ADD, "res", c1, c2);
    L.act = NN_ACT_TANH;
    s1 = add_layer(net, L);
    g1 = add_layer(net, layer_on(NN_GLOBAL_AVGPOOL1D, "gap", s1, x));
    L = layer_on(NN_DENSE, "out", g1, -1);
    L.units = 3;
    L.act = NN_ACT_SOFTMAX;
    add_layer(net, L);
    finalize_random(net, 13);
    compare_fast_net(net, "Conv1D in passes of 2 samples", 0);
    nn_net_free(net);
}

/* RAPID's four published models (../shared/fixtures/rapid, imported from
 * Keras HDF5): the fast path must run each (a plan is made) and equal the
 * reference engine. */
static void test_fast_rapid_models(void **state)
{
    (void)state;
#ifndef HAVE_HDF5
    print_message("SKIP: built without HDF5 (Keras import)\n");
    skip();
#else
    static const char *const names[] = {"rapid2019_gru_redshift", "rapid2019_gru_noredshift",
                                        "rapid2020_lstm_ztf_noredshift",
                                        "rapid2021_tcn_ztf_redshift"};
    const char *fx = getenv("SV_FIXTURES");
    char dir[1100], probe[1300];
    snprintf(dir, sizeof dir, "%s/rapid", fx && *fx ? fx : "../shared/fixtures");
    snprintf(probe, sizeof probe, "%s/%s.hdf5", dir, names[0]);
    if (access(probe, R_OK)) {
        print_message("SKIP: no RAPID fixtures at %s\n", dir);
        skip();
    }
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char h5[1300];
        snprintf(h5, sizeof h5, "%s/%s.hdf5", dir, names[i]);
        sv_keras_options o = sv_keras_options_defaults();
        o.task = SV_TASK_LIGHTCURVE;
        sv_model *m = NULL;
        sv_error err;
        sv_error_clear(&err);
        int st = sv_keras_import(h5, &o, &m, &err);
        if (st)
            print_message("%s: %s\n", names[i], err.text);
        assert_int_equal(st, 0);
        sv_lc_infer *fp = sv_lc_infer_new(m->net, 8, &err);
        if (!fp)
            print_message("%s: no fast plan: %s\n", names[i], err.text);
        assert_non_null(fp);
        sv_lc_infer_free(fp);
        compare_fast_net(m->net, names[i], 1);
        sv_model_free(m);
    }
#endif
}

/* ---- training, fine-tuning, scoring ------------------------------------------------ */

static void test_train_finetune_score(void **state)
{
    (void)state;
    sv_error err;
    sv_lcsim_config c = sv_lcsim_defaults(SV_LCSIM_ZTF);
    c.n = 700;
    c.seed = 11;
    sv_lc_set s;
    assert_int_equal(sv_lcsim_run(&c, &s, NULL, &err), 0);
    sv_lcprep p;
    memset(&p, 0, sizeof p);
    assert_int_equal(sv_lcprep_parse("irregular,steps=20,bands=g:r", &p, &err), 0);
    assert_int_equal(sv_lcprep_fit_meta(&p, &s, NULL, 0, NULL, 0, &err), 0);
    sv_model *m = make_lc_model(&p, 7, 12, 3);
    sv_stamp_source src;
    sv_lc_source_info inf;
    assert_int_equal(sv_lc_source_open(&src, &s, &p, NULL, &inf, &err), 0);
    assert_int_equal(src.n, 700);
    assert_int_equal(src.n_inputs, 2);
    assert_int_equal(src.input_size[0], 20 * sv_lcprep_n_features(&p));
    assert_int_equal(src.input_size[1], 12);
    sv_train_config tc = sv_train_defaults();
    tc.epochs = 4;
    tc.augment = 0;
    tc.threads = 2;
    sv_train_result *res = calloc(1, sizeof *res);
    int st = sv_train(m, &src, &tc, res, &err);
    if (st)
        print_message("train: %s\n", err.text);
    assert_int_equal(st, 0);
    print_message("loss %.4f -> %.4f, val acc %.3f\n", res->history[0].loss,
                  res->history[res->n_history - 1].loss, res->best_val_accuracy);
    assert_true(res->history[res->n_history - 1].loss < res->history[0].loss);
    assert_true(res->best_val_accuracy > 0.3); /* chance is ~0.14 for 7 classes */
    /* the same with one thread: bit-identical weights */
    sv_model *m1 = make_lc_model(&p, 7, 12, 3);
    tc.threads = 1;
    assert_int_equal(sv_train(m1, &src, &tc, NULL, &err), 0);
    for (int i = 0; i < m->net->n_layers; i++)
        for (int j = 0; j < m->net->layers[i].n_params; j++)
            assert_memory_equal(m->net->layers[i].p[j].w, m1->net->layers[i].p[j].w,
                                m->net->layers[i].p[j].size * sizeof(float));
    sv_model_free(m1);
    /* the light-curve fast path equals the reference engine */
    {
        enum { NB = 37 };
        size_t per = (size_t)src.input_size[0] + (size_t)src.input_size[1];
        float *buf = malloc(NB * per * sizeof(float)), *x0 = malloc(NB * src.input_size[0] * 4),
              *x1 = malloc(NB * src.input_size[1] * 4);
        long ix[NB];
        for (int i = 0; i < NB; i++)
            ix[i] = 3 * i;
        assert_int_equal(sv_source_fetch(&src, ix, NB, buf, &err), 0);
        for (int i = 0; i < NB; i++) {
            memcpy(x0 + i * src.input_size[0], buf + i * per, src.input_size[0] * 4);
            memcpy(x1 + i * src.input_size[1], buf + i * per + src.input_size[0],
                   src.input_size[1] * 4);
        }
        const float *in2[2] = {x0, x1};
        nn_workspace *ws = nn_workspace_new(m->net, NB, 0, &err);
        assert_int_equal(nn_forward(ws, m->net, NB, in2, 0, &err), 0);
        static const nn_isa isas[] = {NN_ISA_AVX512, NN_ISA_AVX2, NN_ISA_GENERIC};
        for (int q = 0; q < 3; q++) { /* every kernel the CPU runs */
            sv_lc_infer *fp = sv_lc_infer_new_isa(m->net, NB, isas[q], &err);
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
            int built = 1;
#else
            int built = isas[q] == NN_ISA_GENERIC;
#endif
            if (!built || !sv_cpu_can_run(isas[q])) {
                assert_null(fp);
                printf("# light-curve kernels for %s: not on this CPU or build\n",
                       nn_isa_name(isas[q]));
                continue;
            }
            assert_non_null(fp);
            const float *fo = sv_lc_infer_run(fp, NB, in2, &err);
            assert_non_null(fo);
            const float *ro = nn_workspace_output(ws);
            for (int i = 0; i < NB * 7; i++)
                assert_true(fabsf(fo[i] - ro[i]) < 1e-5f);
            sv_lc_infer_free(fp);
        }
        assert_null(sv_lc_infer_new_isa(m->net, NB, NN_ISA_REFERENCE, NULL));
        nn_workspace_free(ws);
        free(buf);
        free(x0);
        free(x1);
    }
    /* evaluation through the shared evaluator */
    sv_metrics met;
    sv_eval_config ec = sv_eval_defaults();
    ec.threads = 2;
    assert_int_equal(sv_evaluate(m, &src, &ec, &met, NULL, &err), 0);
    assert_int_equal(met.n, 700);
    assert_true(met.accuracy > 0.3 && met.accuracy <= 1);
    /* fine-tune to a 3-class subset with the recurrent layers frozen */
    sv_lc_source_options so;
    memset(&so, 0, sizeof so);
    so.n_classes = 3;
    strcpy(so.classes[0], "SNIa");
    strcpy(so.classes[1], "AGN");
    strcpy(so.classes[2], "VAR");
    sv_stamp_source sub;
    assert_int_equal(sv_lc_source_open(&sub, &s, &m->lc, &so, &inf, &err), 0);
    assert_true(inf.n_unlabelled > 0);
    sv_finetune_config fc = sv_finetune_defaults();
    fc.freeze = SV_FREEZE_RECURRENT;
    fc.train = tc;
    fc.train.epochs = 2;
    sv_model *ft = NULL;
    st = sv_finetune(m, &sub, "sim", &fc, &ft, NULL, &err);
    if (st)
        print_message("finetune: %s\n", err.text);
    assert_int_equal(st, 0);
    assert_int_equal(ft->task, SV_TASK_LIGHTCURVE);
    assert_int_equal(ft->n_classes, 3);
    assert_string_equal(sv_model_get_prov(ft, "FTHEAD"), "new");
    assert_string_equal(sv_model_get_prov(ft, "FTFREEZE"), "recurrent");
    int g1 = nn_net_find(ft->net, "gru_1"), md = nn_net_find(ft->net, "meta_dense");
    assert_true(g1 >= 0 && md >= 0);
    assert_memory_equal(ft->net->layers[g1].p[0].w, m->net->layers[g1].p[0].w,
                        m->net->layers[g1].p[0].size * sizeof(float));
    assert_int_equal(ft->net->layers[g1].trainable, 0);
    assert_true(memcmp(ft->net->layers[md].p[0].w, m->net->layers[md].p[0].w,
                       m->net->layers[md].p[0].size * sizeof(float)) != 0);
    assert_int_equal(sv_lc_model_check(ft, &err), 0);
    /* scoring histories equals the source path; no detection -> flagged */
    sv_lc_scorer *sc = sv_lc_scorer_new(m, 16, &err);
    assert_non_null(sc);
    long idx[40];
    float prob[40 * 7];
    int ok[40];
    for (int i = 0; i < 40; i++)
        idx[i] = i;
    assert_int_equal(sv_lc_scorer_run(sc, &s, idx, 40, NULL, prob, ok, &err), 0);
    float *all = NULL;
    int n_out = 0;
    assert_int_equal(sv_evaluate_scores(m, &src, &ec, &all, &n_out, &err), 0);
    assert_int_equal(n_out, 7);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(ok[i], 1);
        for (int k = 0; k < 7; k++)
            assert_true(fabsf(prob[i * 7 + k] - all[i * 7 + k]) < 1e-5f);
    }
    free(all);
    double early[1] = {s.lc[0].obs[0].t - 1.0}; /* before anything was seen */
    assert_int_equal(sv_lc_scorer_run(sc, &s, idx, 1, early, prob, ok, &err), 0);
    assert_int_equal(ok[0], 0);
    assert_true(isnan(prob[0]));
    sv_lc_scorer_free(sc);
    sv_model_free(ft);
    sv_source_close(&sub);
    sv_source_close(&src);
    free(res);
    sv_model_free(m);
    sv_lc_set_free(&s);
}


/* ---- in the stage, histories handed in memory (the ABI path) -------------------- */

static void test_stage_memory(void **state)
{
    (void)state;
    sv_error err;
    sv_error_clear(&err);
    char rbp[1200], lcp[1200];
    tmp_path(rbp, sizeof rbp, "stage_rb.fits");
    tmp_path(lcp, sizeof lcp, "stage_lc.fits");
    /* a small real/bogus model on 21x21 stamps */
    nn_net *net = NULL;
    assert_int_equal(sv_arch_build("mini", 21, 21, 3, 1, 2, &net, &err), 0);
    sv_model *rb = sv_model_new(net);
    rb->pre = sv_preproc_braai(SV_NORM_L2);
    rb->pre.out_h = rb->pre.out_w = rb->pre.stamp_size = 21;
    strcpy(rb->name, "rb-mini");
    assert_int_equal(sv_model_write_fits(rb, rbp, &err), 0);
    sv_model_free(rb);
    /* a light-curve model with metadata rb (the stage's score) and host_sep
     * (a detection column) */
    sv_lcprep p = sv_lcprep_defaults(SV_LCMODE_IRREGULAR);
    p.n_steps = 10;
    p.n_bands = 2;
    strcpy(p.bands[0], "g");
    strcpy(p.bands[1], "r");
    p.n_meta = 2;
    strcpy(p.meta[0], "rb");
    strcpy(p.meta[1], "host_sep");
    p.meta_offset[0] = 0.5f;
    p.meta_scale[0] = 0.2f;
    p.meta_offset[1] = 1.0f;
    p.meta_scale[1] = 2.0f;
    sv_model *lm = make_lc_model(&p, 4, 6, 9);
    strcpy(lm->name, "lc-mem");
    assert_int_equal(sv_model_write_fits(lm, lcp, &err), 0);
    sv_model_free(lm);
    lm = NULL;
    assert_int_equal(sv_model_read_fits(lcp, &lm, &err), 0);

    dia_kv kv[3] = {{"rb_model", rbp}, {"lc_model", lcp}, {"threads", "2"}};
    sv_stage_config cfg;
    assert_int_equal(sv_stage_config_parse(kv, 3, &cfg, &err), 0);
    sv_stage *st = NULL;
    int rc = sv_stage_create(&cfg, NULL, &st, &err);
    if (rc)
        print_message("stage: %s\n", err.text);
    assert_int_equal(rc, 0);

    enum { W = 64, ND = 3, NH = 7 };
    static float img[3][W * W];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < W * W; i++)
            img[c][i] = (float)((i * 7 + c * 13) % 17) * 0.1f;
    int64_t candid[ND] = {1001, 1002, 1003};
    double xp[ND] = {20, 32, 44}, yp[ND] = {20, 32, 44};
    float sep[ND] = {0.4f, NAN, 3.0f};
    dia_column dc[4] = {{"candid", DIA_COL_INT64, 1, 0, {0, 0}, NULL, NULL, candid},
                        {"xpos", DIA_COL_FLOAT64, 1, 0, {0, 0}, NULL, NULL, xp},
                        {"ypos", DIA_COL_FLOAT64, 1, 0, {0, 0}, NULL, NULL, yp},
                        {"host_sep", DIA_COL_FLOAT32, 1, 0, {0, 0}, NULL, NULL, sep}};
    dia_table det = {ND, 4, dc, 0, NULL};
    /* histories of 1001 and 1003 (not 1002); observations after the
     * exposure's MJD (60010) must be ignored */
    int64_t hid[NH] = {1001, 1001, 1001, 1001, 1003, 1003, 1003};
    double ht[NH] = {60000, 60002, 60005, 60020, 59990, 60001, 60008};
    char hb[NH][2] = {"g", "r", "g", "r", "r", "r", "g"};
    float hf[NH] = {30, 45, 80, 500, 20, 60, 25}, he[NH] = {3, 4, 5, 6, 4, 5, 5};
    uint8_t hu[NH] = {0, 0, 0, 0, 1, 0, 0};
    dia_column hc[6] = {{"CANDID", DIA_COL_INT64, 1, 0, {0, 0}, NULL, NULL, hid},
                        {"MJD", DIA_COL_FLOAT64, 1, 0, {0, 0}, NULL, NULL, ht},
                        {"BAND", DIA_COL_STRING, 2, 0, {0, 0}, NULL, NULL, hb},
                        {"FLUX", DIA_COL_FLOAT32, 1, 0, {0, 0}, NULL, NULL, hf},
                        {"FLUXERR", DIA_COL_FLOAT32, 1, 0, {0, 0}, NULL, NULL, he},
                        {"ULIM", DIA_COL_UINT8, 1, 0, {0, 0}, NULL, NULL, hu}};
    dia_table hist = {NH, 6, hc, 0, NULL};
    dia_exposure x;
    memset(&x, 0, sizeof x);
    x.struct_size = sizeof x;
    x.mjd = 60010;
    dia_image *ims[3] = {&x.science, &x.reference, &x.difference};
    for (int c = 0; c < 3; c++) {
        ims[c]->data = img[c];
        ims[c]->width = ims[c]->height = W;
    }
    x.history = &hist;
    const dia_table *res = NULL;
    rc = sv_stage_process(st, &x, &det, &res, &err);
    if (rc)
        print_message("process: %s\n", err.text);
    assert_int_equal(rc, 0);
    const dia_column *cflag = NULL, *crb = NULL, *cp[4] = {0};
    for (int c = 0; c < res->ncols; c++) {
        const char *nm = res->cols[c].name;
        if (!strcmp(nm, "LC_FLAGS"))
            cflag = &res->cols[c];
        if (!strcmp(nm, "drb")) /* preset ztf: the stage's score */
            crb = &res->cols[c];
        for (int k = 0; k < 4; k++) {
            char want[40];
            snprintf(want, sizeof want, "LC_P_%s", k == 0 ? "SNIA" : k == 1 ? "SNII"
                                                         : k == 2 ? "SNIBC" : "SLSN");
            if (!strcmp(nm, want))
                cp[k] = &res->cols[c];
        }
    }
    assert_non_null(cflag);
    assert_non_null(crb);
    for (int k = 0; k < 4; k++)
        assert_non_null(cp[k]);
    const int32_t *fl = cflag->data;
    assert_int_equal(fl[0], 0);
    assert_int_equal(fl[1], SV_LCFLAG_NOHIST);
    assert_int_equal(fl[2], 0);
    assert_true(isnan(((const float *)cp[0]->data)[1]));
    /* the same by hand: the host's table, t_now 60010, rb from the stage */
    sv_lc_set hs;
    assert_int_equal(sv_lc_from_table(&hist, NULL, "hist", &hs, &err), 0);
    sv_lc_set q;
    assert_int_equal(sv_lc_set_alloc(&q, 2, 0, 2, &err), 0);
    q.n_bands = hs.n_bands;
    memcpy(q.bands, hs.bands, sizeof q.bands);
    strcpy(q.meta_names[0], "rb");
    strcpy(q.meta_names[1], "host_sep");
    const float *rbv = crb->data;
    for (int j = 0; j < 2; j++) {
        int row = j ? 2 : 0;
        long c = sv_lc_find(&hs, j ? "1003" : "1001");
        assert_true(c >= 0);
        float *meta = q.lc[j].meta;
        q.lc[j] = hs.lc[c];
        q.lc[j].meta = meta;
        meta[0] = rbv[row];
        meta[1] = sep[row];
    }
    sv_lc_scorer *sc = sv_lc_scorer_new(lm, 4, &err);
    long idx[2] = {0, 1};
    double tn[2] = {60010, 60010};
    float pr[8];
    int ok[2];
    assert_int_equal(sv_lc_scorer_run(sc, &q, idx, 2, tn, pr, ok, &err), 0);
    for (int j = 0; j < 2; j++) {
        int row = j ? 2 : 0;
        for (int k = 0; k < 4; k++)
            assert_true(fabsf(((const float *)cp[k]->data)[row] - pr[j * 4 + k]) < 1e-6f);
    }
    /* provenance in the table's meta */
    int seen = 0;
    for (int i = 0; i < res->nmeta; i++) {
        if (!strcmp(res->meta[i].key, "LCTNOW"))
            seen += atof(res->meta[i].value) == 60010.0;
        if (!strcmp(res->meta[i].key, "LCHIST"))
            seen += !strcmp(res->meta[i].value, "host table");
        if (!strcmp(res->meta[i].key, "LCMSRC"))
            seen += strstr(res->meta[i].value, "host_sep=column") != NULL;
    }
    assert_int_equal(seen, 3);
    sv_lc_scorer_free(sc);
    sv_lc_set_free(&q);
    sv_lc_set_free(&hs);
    sv_model_free(lm);
    sv_stage_free(st);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sv-lc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_roundtrip), cmocka_unit_test(test_table_errors),
        cmocka_unit_test(test_ztf_form),        cmocka_unit_test(test_prep_irregular),
        cmocka_unit_test(test_prep_grid),       cmocka_unit_test(test_prep_text),
        cmocka_unit_test(test_model_file),      cmocka_unit_test(test_rapid_import),
        cmocka_unit_test(test_fast_masked_gru), cmocka_unit_test(test_fast_lstm),
        cmocka_unit_test(test_fast_conv1d),     cmocka_unit_test(test_fast_rapid_models),
        cmocka_unit_test(test_train_finetune_score), cmocka_unit_test(test_stage_memory),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
