/* test_rapid_import.c — RAPID's four published Keras models, exactly as
 * astrorapid ships them (../shared/fixtures/rapid/), imported and checked
 * against an independent float64 numpy forward pass
 * (tests/python/rapid_ref.py, written from Keras' and keras-tcn's
 * semantics): every class probability of every time step, on inputs with
 * zero-padded (masked) tails, to 1e-5, after a round trip through the
 * model file.  Negative controls: the same reference with the GRU/LSTM gate
 * order swapped, sigmoid for hard_sigmoid, no masking (LSTM), and for the
 * TCN one activation instead of keras-tcn 3.4's two and non-causal padding
 * — the engine must be far (> 1e-3) from every one, so the comparison can
 * tell those semantics apart.  Also: the time axis is free (the nets rerun
 * at 30 steps), and files with an unsupported layer or option are refused
 * with the layer and the option named.
 *
 * Skips with a message without the fixtures, without HDF5 or without
 * python3 with numpy and h5py. */
#define _GNU_SOURCE /* nftw, mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "nn/fast/lc_infer.h"
#include "model/model_fits.h"
#include "nn/nn_engine.h"
#ifdef HAVE_HDF5
#include "model/import/keras_import.h"
#endif

#define TOL 1e-5
#define CONTROL_MIN 1e-3

static char tmpdir[1024];
static char rapid_dir[1024];
static int ready; /* the reference ran */
static char why[1024];

static const char *const models[] = {"rapid2019_gru_redshift", "rapid2019_gru_noredshift",
                                     "rapid2020_lstm_ztf_noredshift",
                                     "rapid2021_tcn_ztf_redshift"};

static int setup(void **state)
{
    (void)state;
    const char *fx = getenv("SV_FIXTURES"), *py = getenv("SV_PYTHON"),
               *src = getenv("SV_SRCDIR");
    snprintf(rapid_dir, sizeof rapid_dir, "%s/rapid", fx && *fx ? fx : "../shared/fixtures");
    char probe[2100];
    snprintf(probe, sizeof probe, "%s/%s.hdf5", rapid_dir, models[0]);
    if (access(probe, R_OK)) {
        snprintf(why, sizeof why, "no RAPID fixtures at %s", rapid_dir);
        return 0;
    }
    if (!py || !*py || !src || !*src) {
        snprintf(why, sizeof why, "SV_PYTHON / SV_SRCDIR not set (run through make check)");
        return 0;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy, h5py' 2>/dev/null && '%s' "
             "'%s/tests/python/rapid_ref.py' '%s' '%s'", py, py, src, rapid_dir, tmpdir);
    if (system(cmd) != 0) {
        snprintf(why, sizeof why, "%s (numpy, h5py) could not run rapid_ref.py", py);
        return 0;
    }
    ready = 1;
    return 0;
}

static double *read_f64(const char *dir, const char *name, const char *ext, size_t n)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    double *v = malloc(n * sizeof *v);
    assert_non_null(v);
    assert_int_equal(fread(v, sizeof *v, n, f), n);
    fclose(f);
    return v;
}

/* max |a - b| over n values */
static double max_diff(const float *a, const double *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= w))
            w = d; /* NaN counts as the worst */
    }
    return w;
}

#ifdef HAVE_HDF5
/* Forward `batch` samples of T steps through net (any T: a re-timed copy). */
static float *run_net(const nn_net *net, int B, int T, int F, const float *x)
{
    sv_error err;
    sv_error_clear(&err);
    nn_net *n2 = NULL;
    assert_int_equal(nn_net_with_steps(net, T, &n2, &err), 0);
    nn_workspace *ws = nn_workspace_new(n2, B, 0, &err);
    assert_non_null(ws);
    float *xt = malloc((size_t)B * T * F * sizeof *xt);
    assert_non_null(xt);
    int T0 = net->layers[net->inputs[0]].shape[0];
    for (int b = 0; b < B; b++)
        memcpy(xt + (size_t)b * T * F, x + (size_t)b * T0 * F, (size_t)T * F * sizeof *xt);
    const float *in[1] = {xt};
    int st = nn_forward(ws, n2, B, in, 0, &err);
    if (st)
        print_message("forward: %s\n", err.text);
    assert_int_equal(st, 0);
    size_t n = (size_t)B * n2->layers[n2->output].out_size;
    float *y = malloc(n * sizeof *y);
    assert_non_null(y);
    memcpy(y, nn_workspace_output(ws), n * sizeof *y);
    nn_workspace_free(ws);
    nn_net_free(n2);
    free(xt);
    return y;
}

static void check_model(const char *mname)
{
    char path[1400], shp[1400], fits[1400];
    snprintf(path, sizeof path, "%s/%s.hdf5", rapid_dir, mname);
    snprintf(shp, sizeof shp, "%s/%s.shape", tmpdir, mname);
    FILE *f = fopen(shp, "r");
    assert_non_null(f);
    int B, T, F, K;
    char ctl[4][64];
    int nc = fscanf(f, "%d %d %d %d %63s %63s %63s %63s", &B, &T, &F, &K, ctl[0], ctl[1], ctl[2],
                    ctl[3]) - 4;
    fclose(f);
    assert_true(nc >= 2);

    sv_keras_options o = sv_keras_options_defaults();
    o.task = SV_TASK_LIGHTCURVE;
    sv_model *m = NULL;
    sv_error err;
    sv_error_clear(&err);
    int st = sv_keras_import(path, &o, &m, &err);
    if (st)
        print_message("import %s: %s\n", mname, err.text);
    assert_int_equal(st, 0);
    snprintf(fits, sizeof fits, "%s/%s.fits", tmpdir, mname);
    assert_int_equal(sv_model_write_fits(m, fits, &err), 0);
    sv_model_free(m);
    m = NULL;
    st = sv_model_read_fits(fits, &m, &err);
    if (st)
        print_message("read %s: %s\n", fits, err.text);
    assert_int_equal(st, 0);
    const nn_layer *I = &m->net->layers[m->net->inputs[0]];
    assert_int_equal(I->rank, 2);
    assert_int_equal(I->shape[0], T);
    assert_int_equal(I->shape[1], F);
    assert_int_equal(m->n_classes, K);

    size_t nin = (size_t)B * T * F, nout = (size_t)B * T * K;
    double *x64 = read_f64(tmpdir, mname, ".in.f64", nin);
    double *ref = read_f64(tmpdir, mname, ".ref.f64", nout);
    float *x = malloc(nin * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < nin; i++)
        x[i] = (float)x64[i];
    float *y = run_net(m->net, B, T, F, x);
    double d = max_diff(y, ref, nout);
    print_message("%-32s every step of %d samples x %d classes: max |engine - numpy| = %.2e\n",
                  mname, B, K, d);
    assert_true(d <= TOL);
    for (int c = 0; c < nc; c++) {
        char ext[96];
        snprintf(ext, sizeof ext, ".ctl_%s.f64", ctl[c]);
        double *cr = read_f64(tmpdir, mname, ext, nout);
        double dc = max_diff(y, cr, nout);
        print_message("%-32s   control %-15s max |engine - control| = %.2e\n", mname, ctl[c],
                      dc);
        assert_true(dc > CONTROL_MIN);
        free(cr);
    }

    /* the time axis is free: 30 steps give the reference's first 30 */
    const int T2 = 30;
    float *y2 = run_net(m->net, B, T2, F, x);
    double w = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T2; t++)
            for (int k = 0; k < K; k++) {
                double e = fabs((double)y2[((size_t)b * T2 + t) * K + k] -
                                ref[((size_t)b * T + t) * K + k]);
                w = e > w ? e : w;
            }
    assert_true(w <= TOL);

    /* the light-curve fast path runs every one of the four (masked LSTM,
     * TCN too) and agrees */
    sv_lc_infer *fp = sv_lc_infer_new(m->net, B, &err);
    if (!fp)
        print_message("%s: no light-curve fast path: %s\n", mname, err.text);
    assert_non_null(fp);
    if (fp) {
        const float *in[1] = {x};
        const float *fo = sv_lc_infer_run(fp, B, in, &err);
        assert_non_null(fo);
        double df = max_diff(fo, ref, nout);
        print_message("%-32s   light-curve fast path: max |fast - numpy| = %.2e\n", mname, df);
        assert_true(df <= TOL);
        sv_lc_infer_free(fp);
    }
    free(y2);
    free(y);
    free(x);
    free(x64);
    free(ref);
    sv_model_free(m);
}
#endif

static void test_rapid_models(void **state)
{
    (void)state;
#ifndef HAVE_HDF5
    print_message("SKIP: built without HDF5 (Keras import)\n");
    skip();
#else
    if (!ready) {
        print_message("SKIP: %s\n", why);
        skip();
    }
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        check_model(models[i]);
#endif
}

static void test_rapid_refused(void **state)
{
    (void)state;
#ifndef HAVE_HDF5
    print_message("SKIP: built without HDF5 (Keras import)\n");
    skip();
#else
    if (!ready) {
        print_message("SKIP: %s\n", why);
        skip();
    }
    static const struct {
        const char *file, *layer, *what;
    } cases[] = {
        {"tcn_layernorm.h5", "'tcn'", "option use_layer_norm true"},
        {"tcn_batchnorm.h5", "'tcn'", "option use_batch_norm true"},
        {"tcn_weightnorm.h5", "'tcn'", "option use_weight_norm true"},
        {"tcn_last.h5", "'tcn'", "option return_sequences false"},
        {"lstm_backwards.h5", "'lstm'", "go_backwards"},
        {"unknown_layer.h5", "'dropout_1'", "SimpleRNN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[2100];
        snprintf(path, sizeof path, "%s/%s", tmpdir, cases[i].file);
        sv_keras_options o = sv_keras_options_defaults();
        o.task = SV_TASK_LIGHTCURVE;
        sv_model *m = NULL;
        sv_error err;
        sv_error_clear(&err);
        assert_int_equal(sv_keras_import(path, &o, &m, &err), SV_ERR_UNSUPPORTED);
        assert_null(m);
        print_message("%s: %s\n", cases[i].file, err.text);
        assert_non_null(strstr(err.text, cases[i].layer));
        assert_non_null(strstr(err.text, cases[i].what));
    }
    /* a free time axis without a length to use */
    sv_error err;
    sv_error_clear(&err);
    char json[] = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                  "{\"class_name\": \"LSTM\", \"config\": {\"name\": \"l\", \"units\": 4, "
                  "\"batch_input_shape\": [null, null, 2]}}]}}";
    nn_net *net = NULL;
    assert_int_equal(sv_keras_net_from_json(json, "free.json", &net, &err), SV_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.text, "--steps"));
#endif
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sv-rapid-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rapid_models),
        cmocka_unit_test(test_rapid_refused),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
