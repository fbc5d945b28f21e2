/* test_score.c — scoring pre-cut triplets (score.h): reading cutouts as
 * stored (plain, gzipped, tile-compressed, integer with BLANK), rejecting
 * what is not a 2-D stamp, and the scorer's preprocessing, channel order,
 * padding, features and batching against values computed by hand; the fast
 * path with threads, bit for bit independent of batch and thread count. */
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

#include "core/rng.h"
#include "nn/nn_engine.h"
#include "infer/score.h"

static char tmpdir[256];

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* a w x h float image with pixel (x, y) = 100 y + x (0-based) */
static void write_float_image(const char *path, int w, int h, int hdu_compressed)
{
    fitsfile *f = NULL;
    int st = 0;
    char name[1100];
    snprintf(name, sizeof name, "!%s%s", path, hdu_compressed ? "[compress]" : "");
    long naxes[2] = {w, h};
    float *buf = malloc(sizeof(float) * (size_t)(w * h));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            buf[y * w + x] = (float)(100 * y + x);
    fits_create_file(&f, name, &st);
    fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
    fits_write_img(f, TFLOAT, 1, (LONGLONG)w * h, buf, &st);
    fits_close_file(f, &st);
    free(buf);
    assert_int_equal(st, 0);
}

static void test_read_plain_and_gz(void **state)
{
    (void)state;
    static const char *const names[] = {"plain.fits", "zipped.fits.gz", "tiled.fits"};
    for (int k = 0; k < 3; k++) {
        char p[512];
        tmp_path(p, sizeof p, names[k]);
        write_float_image(p, 5, 4, k == 2);
        float *pix = NULL;
        int h = 0, w = 0;
        sv_error err;
        sv_error_clear(&err);
        int st = sv_stamp_read(p, &pix, &h, &w, &err);
        if (st)
            print_message("%s\n", err.text);
        assert_int_equal(st, 0);
        assert_int_equal(w, 5); /* NAXIS1 */
        assert_int_equal(h, 4);
        /* as stored: row-major, NAXIS1 fastest, no flip */
        assert_true(pix[0] == 0.0f && pix[1] == 1.0f && pix[5] == 100.0f && pix[19] == 304.0f);
        free(pix);
    }
    char p[512];
    tmp_path(p, sizeof p, "zipped.fits.gz");
    FILE *f = fopen(p, "rb");
    unsigned char magic[2] = {0, 0};
    assert_int_equal(fread(magic, 1, 2, f), 2);
    fclose(f);
    assert_true(magic[0] == 0x1f && magic[1] == 0x8b); /* really gzipped */
}

static void test_read_blank_and_errors(void **state)
{
    (void)state;
    char p[512];
    fitsfile *f = NULL;
    int st = 0;
    /* 16-bit integers with BLANK: blank pixels read as NaN */
    tmp_path(p, sizeof p, "int.fits");
    char name[600];
    snprintf(name, sizeof name, "!%s", p);
    long naxes[3] = {3, 2, 2};
    short v[6] = {1, 2, -999, 4, 5, 6};
    fits_create_file(&f, name, &st);
    fits_create_img(f, SHORT_IMG, 2, naxes, &st);
    long blank = -999;
    fits_write_key(f, TLONG, "BLANK", &blank, "", &st);
    fits_write_img(f, TSHORT, 1, 6, v, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    float *pix = NULL;
    int h, w;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_stamp_read(p, &pix, &h, &w, &err), 0);
    assert_true(isnan(pix[2]) && pix[3] == 4.0f);
    free(pix);

    /* a cube */
    tmp_path(p, sizeof p, "cube.fits");
    snprintf(name, sizeof name, "!%s", p);
    float z[12] = {0};
    fits_create_file(&f, name, &st);
    fits_create_img(f, FLOAT_IMG, 3, naxes, &st);
    fits_write_img(f, TFLOAT, 1, 12, z, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    assert_int_equal(sv_stamp_read(p, &pix, &h, &w, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "cube.fits"));
    assert_null(pix);

    /* no image at all: an empty primary and a table */
    tmp_path(p, sizeof p, "table.fits");
    snprintf(name, sizeof name, "!%s", p);
    char *tt[] = {"A"}, *tf[] = {"1E"};
    fits_create_file(&f, name, &st);
    fits_create_tbl(f, BINARY_TBL, 0, 1, tt, tf, NULL, "T", &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    assert_int_equal(sv_stamp_read(p, &pix, &h, &w, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "no 2-D image"));

    /* not FITS, and absent */
    tmp_path(p, sizeof p, "garbage.fits");
    FILE *g = fopen(p, "wb");
    fputs("SIMPLE  = nonsense", g);
    fclose(g);
    assert_true(sv_stamp_read(p, &pix, &h, &w, &err) < 0);
    assert_non_null(strstr(err.text, "garbage.fits"));
    tmp_path(p, sizeof p, "absent.fits");
    assert_int_equal(sv_stamp_read(p, &pix, &h, &w, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "absent.fits"));
}

/* stamp (4, 5, 3) -> GAP -> [concat features(2)] -> Dense(1), linear or
 * sigmoid, with known weights */
static sv_model *tiny_model(int with_features, nn_act out_act)
{
    sv_error err;
    sv_error_clear(&err);
    nn_net *net = nn_net_new();
    nn_layer L = nn_layer_defaults(NN_INPUT, "stamp");
    L.rank = 3;
    L.shape[0] = 4;
    L.shape[1] = 5;
    L.shape[2] = 3;
    int in = nn_net_add(net, &L, &err);
    int fin = -1;
    if (with_features) {
        L = nn_layer_defaults(NN_INPUT, "feats");
        L.rank = 1;
        L.shape[0] = 2;
        fin = nn_net_add(net, &L, &err);
    }
    L = nn_layer_defaults(NN_GLOBAL_AVGPOOL2D, "gap");
    L.n_in = 1;
    L.in[0] = in;
    int g = nn_net_add(net, &L, &err);
    int last = g;
    if (with_features) {
        L = nn_layer_defaults(NN_CONCAT, "cat");
        L.n_in = 2;
        L.in[0] = g;
        L.in[1] = fin;
        last = nn_net_add(net, &L, &err);
    }
    L = nn_layer_defaults(NN_DENSE, "out");
    L.units = 1;
    L.act = out_act;
    L.n_in = 1;
    L.in[0] = last;
    assert_true(nn_net_add(net, &L, &err) >= 0);
    assert_int_equal(nn_net_finalize(net, &err), 0);
    nn_param *k = nn_net_param(net, "out", "kernel");
    nn_param *b = nn_net_param(net, "out", "bias");
    assert_non_null(k);
    /* out = 1*mean(ch0) + 10*mean(ch1) + 100*mean(ch2) [+ 1000 f0 + 10000 f1] + 0.5 */
    k->w[0] = 1;
    k->w[1] = 10;
    k->w[2] = 100;
    if (with_features) {
        k->w[3] = 1000;
        k->w[4] = 10000;
    }
    b->w[0] = 0.5f;

    sv_model *m = sv_model_new(net);
    m->task = out_act == NN_ACT_SIGMOID ? SV_TASK_REALBOGUS : SV_TASK_CLASS;
    snprintf(m->name, sizeof m->name, "tiny");
    m->n_classes = 1;
    snprintf(m->classes[0], SV_LABEL_MAX, "real");
    m->pre = sv_preproc_braai(SV_NORM_NONE);
    m->pre.out_h = 4;
    m->pre.out_w = 5;
    m->pre.stamp_size = 5;
    m->pre.pad_value = 7.0f;
    m->pre.nan_fill = 0.0f;
    /* network channel order DIFF, SCI, REF */
    assert_int_equal(sv_channels_parse("DIFF,SCI,REF", &m->pre, &err), 0);
    if (with_features) {
        m->n_features = 2;
        snprintf(m->features[0], SV_LABEL_MAX, "a");
        snprintf(m->features[1], SV_LABEL_MAX, "b");
    }
    if (sv_model_validate(m, &err))
        print_message("%s\n", err.text);
    assert_int_equal(sv_model_validate(m, &err), 0);
    return m;
}

static void fill(float *a, int n, float v)
{
    for (int i = 0; i < n; i++)
        a[i] = v;
}

static void test_scorer_channels_padding_batches(void **state)
{
    (void)state;
    sv_model *m = tiny_model(0, NN_ACT_LINEAR);
    sv_error err;
    sv_error_clear(&err);
    sv_scorer *s = sv_scorer_new(m, 2, &err); /* batches of 2 over 5 triplets */
    assert_non_null(s);
    assert_int_equal(sv_scorer_n_outputs(s), 1);
    float sci[20], ref[20], diff[20], small[3 * 5], nanned[20];
    fill(sci, 20, 1.0f);
    fill(ref, 20, 2.0f);
    fill(diff, 20, 3.0f);
    fill(small, 15, 4.0f);
    fill(nanned, 20, 2.0f);
    nanned[7] = NAN;
    nanned[8] = INFINITY;
    sv_triplet t[5] = {
        {{sci, ref, diff}, 4, 5},
        {{diff, sci, ref}, 4, 5},
        {{small, small, small}, 3, 5},    /* one row short: padded with 7 */
        {{nanned, ref, diff}, 4, 5},      /* two bad pixels -> 0 */
        {{sci, ref, diff}, 4, 5},
    };
    float out[5];
    int n_bad[5];
    assert_int_equal(sv_scorer_run(s, 5, t, NULL, out, n_bad, &err), 0);
    /* network channels: DIFF, SCI, REF -> weights 1, 10, 100 */
    assert_float_equal(out[0], 3 + 10 * 1 + 100 * 2 + 0.5, 1e-4);
    assert_float_equal(out[1], 2 + 10 * 3 + 100 * 1 + 0.5, 1e-4);
    double padded = (15 * 4.0 + 5 * 7.0) / 20;
    assert_float_equal(out[2], padded * 111 + 0.5, 1e-4);
    assert_float_equal(out[3], 3 + 10 * (18 * 2.0 / 20) + 100 * 2 + 0.5, 1e-4);
    assert_float_equal(out[4], out[0], 0);
    assert_int_equal(n_bad[3], 2);
    assert_int_equal(n_bad[0], 0);

    /* a missing channel and an empty stamp are errors naming the triplet */
    sv_triplet bad = {{sci, ref, NULL}, 4, 5};
    assert_true(sv_scorer_run(s, 1, &bad, NULL, out, NULL, &err) < 0);
    assert_non_null(strstr(err.text, "triplet 0"));
    bad = (sv_triplet){{sci, ref, diff}, 0, 5};
    assert_true(sv_scorer_run(s, 1, &bad, NULL, out, NULL, &err) < 0);
    sv_scorer_free(s);
    sv_model_free(m);
}

static void test_scorer_features(void **state)
{
    (void)state;
    sv_model *m = tiny_model(1, NN_ACT_LINEAR);
    sv_error err;
    sv_error_clear(&err);
    sv_scorer *s = sv_scorer_new(m, 0, &err);
    assert_non_null(s);
    float sci[20], ref[20], diff[20];
    fill(sci, 20, 1.0f);
    fill(ref, 20, 2.0f);
    fill(diff, 20, 3.0f);
    sv_triplet t[2] = {{{sci, ref, diff}, 4, 5}, {{sci, ref, diff}, 4, 5}};
    float feats[4] = {0.001f, 0.0f, 0.0f, 0.0002f};
    float out[2];
    assert_int_equal(sv_scorer_run(s, 2, t, feats, out, NULL, &err), 0);
    assert_float_equal(out[0], 213.5 + 1.0, 1e-3);
    assert_float_equal(out[1], 213.5 + 2.0, 1e-3);
    /* features required */
    assert_true(sv_scorer_run(s, 2, t, NULL, out, NULL, &err) < 0);
    assert_non_null(strstr(err.text, "2 features"));
    sv_scorer_free(s);
    sv_model_free(m);
}

/* A small CNN the fast path covers (Conv2D, MaxPool2D, Flatten, Dense). */
static sv_model *conv_model(void)
{
    sv_error err;
    sv_error_clear(&err);
    nn_net *net = nn_net_new();
    nn_layer L = nn_layer_defaults(NN_INPUT, "stamp");
    L.rank = 3;
    L.shape[0] = L.shape[1] = 9;
    L.shape[2] = 3;
    int i = nn_net_add(net, &L, &err);
    L = nn_layer_defaults(NN_CONV2D, "conv");
    L.filters = 16;
    L.kh = L.kw = 3;
    L.act = NN_ACT_RELU;
    L.n_in = 1;
    L.in[0] = i;
    i = nn_net_add(net, &L, &err);
    L = nn_layer_defaults(NN_MAXPOOL2D, "pool");
    L.kh = L.kw = 2;
    L.n_in = 1;
    L.in[0] = i;
    i = nn_net_add(net, &L, &err);
    L = nn_layer_defaults(NN_FLATTEN, "flat");
    L.n_in = 1;
    L.in[0] = i;
    i = nn_net_add(net, &L, &err);
    L = nn_layer_defaults(NN_DENSE, "fc");
    L.units = 8;
    L.act = NN_ACT_RELU;
    L.n_in = 1;
    L.in[0] = i;
    i = nn_net_add(net, &L, &err);
    L = nn_layer_defaults(NN_DENSE, "out");
    L.units = 1;
    L.act = NN_ACT_SIGMOID;
    L.n_in = 1;
    L.in[0] = i;
    assert_true(nn_net_add(net, &L, &err) >= 0);
    assert_int_equal(nn_net_finalize(net, &err), 0);
    nn_net_init_weights(net, 7);
    sv_model *m = sv_model_new(net);
    m->task = SV_TASK_REALBOGUS;
    snprintf(m->name, sizeof m->name, "conv");
    m->n_classes = 1;
    snprintf(m->classes[0], SV_LABEL_MAX, "real");
    m->pre = sv_preproc_braai(SV_NORM_L2_ROWS);
    m->pre.out_h = m->pre.out_w = m->pre.stamp_size = 9;
    assert_int_equal(sv_model_validate(m, &err), 0);
    return m;
}

/* The fast path, with threads: a triplet's score does not depend on the
 * batch size, the thread count or the batch it is in (bit for bit), and
 * sv_scorer_prepare + sv_scorer_infer give what sv_scorer_run gives. */
static void test_scorer_threads_bit_identical(void **state)
{
    (void)state;
    sv_model *m = conv_model();
    sv_error err;
    sv_error_clear(&err);
    enum { N = 37 };
    static float pix[N][3][81];
    sv_triplet t[N];
    sv_rng r = {3};
    for (int i = 0; i < N; i++) {
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 81; k++)
                pix[i][c][k] = (float)sv_rng_uniform(&r) - 0.3f;
        t[i] = (sv_triplet){{pix[i][0], pix[i][1], pix[i][2]}, 9, 9};
    }
    t[5].h = 7; /* a short stamp: padded */
    float ref[N], out[N];
    sv_scorer *one = sv_scorer_new(m, 1, &err);
    assert_non_null(one);
    assert_string_not_equal(sv_scorer_isa(one), "reference");
    assert_int_equal(sv_scorer_threads(one), 1);
    assert_int_equal(sv_scorer_run(one, N, t, NULL, ref, NULL, &err), 0);
    const int cfg[4][2] = {{7, 3}, {16, 2}, {64, 1}, {5, 8}}; /* batch, threads */
    for (int k = 0; k < 4; k++) {
        sv_scorer *s = sv_scorer_new_threads(m, cfg[k][0], cfg[k][1], &err);
        assert_non_null(s);
        assert_int_equal(sv_scorer_max_batch(s), cfg[k][0]);
        assert_int_equal(sv_scorer_threads(s), cfg[k][1]);
        memset(out, 0, sizeof out);
        assert_int_equal(sv_scorer_run(s, N, t, NULL, out, NULL, &err), 0);
        assert_memory_equal(out, ref, sizeof ref);
        /* the two halves, slots filled out of order */
        float scr[81], o2[64];
        int b = cfg[k][0] < N ? cfg[k][0] : N;
        for (int j = b - 1; j >= 0; j--)
            assert_int_equal(sv_scorer_prepare(s, j, &t[N - b + j], NULL, scr, NULL), 0);
        assert_int_equal(sv_scorer_infer(s, b, o2, &err), 0);
        assert_memory_equal(o2, ref + N - b, (size_t)b * sizeof(float));
        /* slots and counts out of range */
        assert_int_equal(sv_scorer_prepare(s, cfg[k][0], &t[0], NULL, scr, NULL), SV_ERR_ARG);
        assert_true(sv_scorer_infer(s, cfg[k][0] + 1, o2, &err) < 0);
        sv_scorer_free(s);
    }
    assert_null(sv_scorer_new_threads(m, 4, 0, &err));
    assert_null(sv_scorer_new_threads(m, 4, SV_SCORER_THREADS_MAX + 1, &err));
    sv_scorer_free(one);
    sv_model_free(m);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/sv-score-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const names[] = {"plain.fits", "zipped.fits.gz", "tiled.fits",
                                        "int.fits", "cube.fits", "table.fits",
                                        "garbage.fits"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[512];
        tmp_path(p, sizeof p, names[i]);
        unlink(p);
    }
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_plain_and_gz),
        cmocka_unit_test(test_read_blank_and_errors),
        cmocka_unit_test(test_scorer_channels_padding_batches),
        cmocka_unit_test(test_scorer_features),
        cmocka_unit_test(test_scorer_threads_bit_identical),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
