/* test_model_fits.c — the model file: round trip of every layer kind (bit
 * exact weights, equal forward outputs), atomic writing, model summaries, and
 * every kind of damaged or hostile file, each giving an error that names the
 * file and the problem (never a crash: run this under the sanitizers too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "model/model_describe.h"
#include "core/rng.h"
#include "model/model_fits.h"
#include "nn/nn.h"
#include "nn/nn_engine.h"

static char tmpdir[512];

/* ---- helpers ------------------------------------------------------------ */

static sv_rng rng_state = {42};
static float urand(float lo, float hi)
{
    return lo + (hi - lo) * (float)sv_rng_uniform(&rng_state);
}

static int add(nn_net *net, nn_layer *L, const char *in0, const char *in1, const char *in2,
               const char *in3)
{
    const char *ins[4] = {in0, in1, in2, in3};
    L->n_in = 0;
    for (int i = 0; i < 4; i++)
        if (ins[i]) {
            int k = nn_net_find(net, ins[i]);
            assert_true(k >= 0);
            L->in[L->n_in++] = k;
        }
    sv_error e;
    sv_error_clear(&e);
    int idx = nn_net_add(net, L, &e);
    if (idx < 0)
        fprintf(stderr, "# nn_net_add(%s): %s\n", L->name, e.text);
    assert_true(idx >= 0);
    return idx;
}

static void input(nn_net *net, const char *name, int rank, int d0, int d1, int d2)
{
    nn_layer L = nn_layer_defaults(NN_INPUT, name);
    L.rank = rank;
    L.shape[0] = d0;
    L.shape[1] = d1;
    L.shape[2] = d2;
    add(net, &L, NULL, NULL, NULL, NULL);
}

static void randomize(nn_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        for (int j = 0; j < L->n_params; j++) {
            nn_param *p = &L->p[j];
            int positive = !strcmp(p->name, "moving_variance") || !strcmp(p->name, "gamma");
            for (size_t k = 0; k < p->size; k++)
                p->w[k] = positive ? urand(0.5f, 1.5f) : urand(-0.5f, 0.5f);
        }
    }
}

/* A stamp + features class model using every image and vector layer kind. */
static sv_model *make_stamp_model(void)
{
    nn_net *net = nn_net_new();
    assert_non_null(net);
    input(net, "stamp", 3, 16, 16, 3);
    input(net, "feats", 1, 5, 0, 0);
    nn_layer L;
    L = nn_layer_defaults(NN_CONV2D, "c1");
    L.filters = 4; L.kh = L.kw = 3; L.padding = NN_PAD_SAME; L.act = NN_ACT_RELU;
    add(net, &L, "stamp", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_DEPTHWISE_CONV2D, "dw");
    L.kh = L.kw = 3; L.depth_multiplier = 2;
    add(net, &L, "c1", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_SEPARABLE_CONV2D, "sep");
    L.kh = L.kw = 3; L.filters = 6; L.act = NN_ACT_LEAKY_RELU; L.alpha = 0.2f;
    add(net, &L, "dw", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_BATCHNORM, "bn");
    L.epsilon = 1e-3f; L.momentum = 0.9f;
    add(net, &L, "sep", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_MAXPOOL2D, "mp");
    add(net, &L, "bn", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_AVGPOOL2D, "ap");
    L.kh = L.kw = 2; L.sh = L.sw = 2;
    add(net, &L, "mp", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_GLOBAL_AVGPOOL2D, "gap");
    add(net, &L, "ap", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_FLATTEN, "flat");
    add(net, &L, "ap", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_DENSE, "fl_d");
    L.units = 4; L.act = NN_ACT_RELU; L.use_bias = 0;
    add(net, &L, "flat", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_DENSE, "fd");
    L.units = 8; L.act = NN_ACT_TANH;
    add(net, &L, "feats", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_DROPOUT, "drop");
    L.rate = 0.25f;
    add(net, &L, "fd", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_CONCAT, "cat");
    add(net, &L, "gap", "fl_d", "drop", NULL);
    L = nn_layer_defaults(NN_DENSE, "d1");
    L.units = 16; L.act = NN_ACT_SIGMOID; L.trainable = 0;
    add(net, &L, "cat", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_DENSE, "logits");
    L.units = 3;
    add(net, &L, "d1", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_ACTIVATION, "probs");
    L.act = NN_ACT_SOFTMAX;
    add(net, &L, "logits", NULL, NULL, NULL);
    sv_error e;
    sv_error_clear(&e);
    int st = nn_net_finalize(net, &e);
    if (st)
        fprintf(stderr, "# finalize: %s\n", e.text);
    assert_int_equal(st, 0);
    nn_net_init_weights(net, 7);
    randomize(net);

    sv_model *m = sv_model_new(net);
    assert_non_null(m);
    m->task = SV_TASK_CLASS;
    snprintf(m->name, sizeof m->name, "every-kind 'stamp' model");
    snprintf(m->version, sizeof m->version, "v1.2");
    m->n_classes = 3;
    strcpy(m->classes[0], "SN");
    strcpy(m->classes[1], "AGN");
    strcpy(m->classes[2], "variable star");
    m->multilabel = 0;
    m->pre = sv_preproc_braai(SV_NORM_ZSCORE);
    m->pre.out_h = m->pre.out_w = 16;
    m->pre.stamp_size = 21;
    m->pre.channel[0] = SV_CH_DIFF;
    m->pre.channel[1] = SV_CH_SCI;
    m->pre.channel[2] = SV_CH_REF;
    m->pre.nan_fill = -0.125f;
    m->pre.pad_value = 1e-9f;
    m->pre.pixel_scale = 0.396127;
    m->n_features = 5;
    const char *fn[5] = {"drb", "magpsf", "sgscore1", "distpsnr1", "ndethist"};
    for (int i = 0; i < 5; i++)
        strcpy(m->features[i], fn[i]);
    assert_int_equal(sv_model_set_prov(m, "creator", "test_model_fits"), 0);
    assert_int_equal(sv_model_set_prov(m, "DATE", "2024-05-01T12:00:00"), 0);
    assert_int_equal(sv_model_set_prov(m, "PARENT", "braai-d6_m7"), 0);
    assert_int_equal(sv_model_set_prov(m, "SRCCK",
                                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                                       "abcdef"), 0);
    assert_int_equal(sv_model_set_prov(m, "AUC", "0.987"), 0);
    assert_int_equal(sv_model_add_history(m, "built by test_model_fits"), 0);
    assert_int_equal(sv_model_add_history(m, "fine-tuned: 300 labels, 20 epochs, lr 1e-4"), 0);
    sv_error_clear(&e);
    st = sv_model_validate(m, &e);
    if (st)
        fprintf(stderr, "# validate: %s\n", e.text);
    assert_int_equal(st, 0);
    return m;
}

/* A light-curve model: both GRU variants. */
static sv_model *make_lc_model(void)
{
    nn_net *net = nn_net_new();
    input(net, "lc", 2, 7, 3, 0);
    nn_layer L = nn_layer_defaults(NN_GRU, "g1");
    L.units = 5; L.return_sequences = 1; L.reset_after = 1; L.recurrent_act = NN_ACT_SIGMOID;
    add(net, &L, "lc", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_GRU, "g2");
    L.units = 4; L.reset_after = 0; L.recurrent_act = NN_ACT_HARD_SIGMOID;
    add(net, &L, "g1", NULL, NULL, NULL);
    L = nn_layer_defaults(NN_DENSE, "out");
    L.units = 4; L.act = NN_ACT_SOFTMAX;
    add(net, &L, "g2", NULL, NULL, NULL);
    sv_error e;
    sv_error_clear(&e);
    assert_int_equal(nn_net_finalize(net, &e), 0);
    randomize(net);
    sv_model *m = sv_model_new(net);
    m->task = SV_TASK_LIGHTCURVE;
    strcpy(m->name, "lc-test");
    m->n_classes = 4;
    const char *cn[4] = {"SNIa", "SNII", "AGN", "other"};
    for (int i = 0; i < 4; i++)
        strcpy(m->classes[i], cn[i]);
    m->n_features = 3;
    strcpy(m->features[0], "dt");
    strcpy(m->features[1], "mag");
    strcpy(m->features[2], "magerr");
    sv_error_clear(&e);
    int st = sv_model_validate(m, &e);
    if (st)
        fprintf(stderr, "# validate lc: %s\n", e.text);
    assert_int_equal(st, 0);
    return m;
}

static void path_in_tmp(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void write_ok(const sv_model *m, const char *path)
{
    sv_error e;
    sv_error_clear(&e);
    int st = sv_model_write_fits(m, path, &e);
    if (st)
        fprintf(stderr, "# write: %s\n", e.text);
    assert_int_equal(st, 0);
}

static void compare_models(const sv_model *a, const sv_model *b)
{
    assert_int_equal(a->task, b->task);
    assert_string_equal(a->name, b->name);
    if (a->version[0])
        assert_string_equal(a->version, b->version);
    else /* the writer derives one (model_fits.h; test_version_filled) */
        assert_true(strlen(b->version) > strlen(a->name));
    assert_int_equal(a->n_classes, b->n_classes);
    for (int c = 0; c < a->n_classes; c++)
        assert_string_equal(a->classes[c], b->classes[c]);
    assert_int_equal(a->multilabel, b->multilabel);
    assert_int_equal(a->n_features, b->n_features);
    for (int c = 0; c < a->n_features; c++)
        assert_string_equal(a->features[c], b->features[c]);
    if (a->task != SV_TASK_LIGHTCURVE) {
        assert_int_equal(a->pre.out_h, b->pre.out_h);
        assert_int_equal(a->pre.out_w, b->pre.out_w);
        assert_int_equal(a->pre.stamp_size, b->pre.stamp_size);
        assert_int_equal(a->pre.n_channels, b->pre.n_channels);
        for (int c = 0; c < a->pre.n_channels; c++)
            assert_int_equal(a->pre.channel[c], b->pre.channel[c]);
        assert_int_equal(a->pre.norm, b->pre.norm);
        assert_memory_equal(&a->pre.nan_fill, &b->pre.nan_fill, sizeof(float));
        assert_memory_equal(&a->pre.pad_value, &b->pre.pad_value, sizeof(float));
        assert_memory_equal(&a->pre.pixel_scale, &b->pre.pixel_scale, sizeof(double));
    }
    assert_int_equal(a->n_prov, b->n_prov);
    for (int i = 0; i < a->n_prov; i++) {
        const char *v = sv_model_get_prov(b, a->prov_key[i]);
        assert_non_null(v);
        assert_string_equal(v, a->prov_val[i]);
    }
    assert_int_equal(a->n_history, b->n_history);
    for (int i = 0; i < a->n_history; i++)
        assert_string_equal(a->history[i], b->history[i]);

    const nn_net *x = a->net, *y = b->net;
    assert_int_equal(x->n_layers, y->n_layers);
    assert_int_equal(x->n_inputs, y->n_inputs);
    for (int i = 0; i < x->n_inputs; i++)
        assert_int_equal(x->inputs[i], y->inputs[i]);
    assert_int_equal(x->output, y->output);
    for (int i = 0; i < x->n_layers; i++) {
        const nn_layer *P = &x->layers[i], *Q = &y->layers[i];
        assert_string_equal(P->name, Q->name);
        assert_int_equal(P->kind, Q->kind);
        assert_int_equal(P->n_in, Q->n_in);
        for (int k = 0; k < P->n_in; k++)
            assert_int_equal(P->in[k], Q->in[k]);
        assert_int_equal(P->act, Q->act);
        assert_memory_equal(&P->alpha, &Q->alpha, sizeof(float));
        assert_int_equal(P->filters, Q->filters);
        assert_int_equal(P->units, Q->units);
        assert_int_equal(P->kh, Q->kh);
        assert_int_equal(P->kw, Q->kw);
        assert_int_equal(P->sh, Q->sh);
        assert_int_equal(P->sw, Q->sw);
        assert_int_equal(P->padding, Q->padding);
        assert_int_equal(P->depth_multiplier, Q->depth_multiplier);
        assert_int_equal(P->use_bias, Q->use_bias);
        assert_memory_equal(&P->rate, &Q->rate, sizeof(float));
        assert_memory_equal(&P->epsilon, &Q->epsilon, sizeof(float));
        assert_memory_equal(&P->momentum, &Q->momentum, sizeof(float));
        assert_int_equal(P->return_sequences, Q->return_sequences);
        assert_int_equal(P->reset_after, Q->reset_after);
        assert_int_equal(P->recurrent_act, Q->recurrent_act);
        assert_int_equal(P->concat_axis, Q->concat_axis);
        assert_int_equal(P->trainable, Q->trainable);
        assert_int_equal(P->rank, Q->rank);
        for (int d = 0; d < P->rank; d++)
            assert_int_equal(P->shape[d], Q->shape[d]);
        assert_int_equal(P->n_params, Q->n_params);
        for (int j = 0; j < P->n_params; j++) {
            assert_string_equal(P->p[j].name, Q->p[j].name);
            assert_int_equal(P->p[j].rank, Q->p[j].rank);
            for (int d = 0; d < P->p[j].rank; d++)
                assert_int_equal(P->p[j].dims[d], Q->p[j].dims[d]);
            assert_int_equal(P->p[j].size, Q->p[j].size);
            assert_memory_equal(P->p[j].w, Q->p[j].w, P->p[j].size * sizeof(float));
        }
    }
}

/* forward both nets on the same random batch; outputs must be identical */
static void compare_forward(sv_model *a, sv_model *b)
{
    const int batch = 3;
    float *in[NN_MAX_NET_INPUTS] = {0};
    for (int i = 0; i < a->net->n_inputs; i++) {
        size_t n = (size_t)batch * a->net->layers[a->net->inputs[i]].out_size;
        in[i] = malloc(n * sizeof(float));
        assert_non_null(in[i]);
        for (size_t k = 0; k < n; k++)
            in[i][k] = urand(-1, 1);
    }
    sv_error e;
    sv_error_clear(&e);
    nn_workspace *wa = nn_workspace_new(a->net, batch, 0, &e);
    nn_workspace *wb = nn_workspace_new(b->net, batch, 0, &e);
    assert_non_null(wa);
    assert_non_null(wb);
    assert_int_equal(nn_forward(wa, a->net, batch, (const float *const *)in, 0, &e), 0);
    assert_int_equal(nn_forward(wb, b->net, batch, (const float *const *)in, 0, &e), 0);
    size_t no = (size_t)batch * a->net->layers[a->net->output].out_size;
    const float *oa = nn_workspace_output(wa), *ob = nn_workspace_output(wb);
    int finite = 1;
    for (size_t k = 0; k < no; k++)
        finite &= isfinite(oa[k]) != 0;
    assert_true(finite);
    assert_memory_equal(oa, ob, no * sizeof(float));
    nn_workspace_free(wa);
    nn_workspace_free(wb);
    for (int i = 0; i < a->net->n_inputs; i++)
        free(in[i]);
}

/* ---- round trips --------------------------------------------------------- */

static void test_roundtrip_stamp(void **state)
{
    (void)state;
    sv_model *m = make_stamp_model();
    char path[600];
    path_in_tmp(path, sizeof path, "stamp.fits");
    write_ok(m, path);
    sv_model *r = NULL;
    sv_error e;
    sv_error_clear(&e);
    int st = sv_model_read_fits(path, &r, &e);
    if (st)
        fprintf(stderr, "# read: %s\n", e.text);
    assert_int_equal(st, 0);
    assert_non_null(r);
    compare_models(m, r);
    assert_string_equal(r->path, path);
    assert_int_equal(strlen(r->checksum), 16);
    compare_forward(m, r);

    /* writing the read model again gives the same primary CHECKSUM */
    char path2[600];
    path_in_tmp(path2, sizeof path2, "stamp2.fits");
    write_ok(r, path2);
    sv_model *r2 = NULL;
    assert_int_equal(sv_model_read_fits(path2, &r2, &e), 0);
    assert_string_equal(r->checksum, r2->checksum);
    /* and a change of one weight changes it (WTSUM is in the primary) */
    r2->net->layers[nn_net_find(r2->net, "d1")].p[0].w[5] += 0.25f;
    write_ok(r2, path2);
    sv_model *r3 = NULL;
    assert_int_equal(sv_model_read_fits(path2, &r3, &e), 0);
    assert_string_not_equal(r->checksum, r3->checksum);
    sv_model_free(r3);
    sv_model_free(r2);
    sv_model_free(r);
    sv_model_free(m);
}

/* MODVERS is always filled (issue 11): a model given no version is written
 * with <name>_<first 8 hex digits of WTSUM>, read back as its version, and
 * that is the label beside a score; a given version is kept as it is. */
static void test_version_filled(void **state)
{
    (void)state;
    sv_model *m = make_stamp_model();
    m->version[0] = '\0';
    snprintf(m->name, sizeof m->name, "rb-test");
    char path[600];
    path_in_tmp(path, sizeof path, "noversion.fits");
    write_ok(m, path);
    sv_model *r = NULL;
    sv_error e;
    sv_error_clear(&e);
    assert_int_equal(sv_model_read_fits(path, &r, &e), 0);
    /* WTSUM from the file's primary header */
    fitsfile *f = NULL;
    int st = 0;
    char wtsum[FLEN_VALUE] = "", want[80], label[80];
    fits_open_diskfile(&f, path, READONLY, &st);
    fits_read_key_str(f, "WTSUM", wtsum, NULL, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    assert_int_equal(strlen(wtsum), 16);
    snprintf(want, sizeof want, "rb-test_%.8s", wtsum);
    assert_string_equal(r->version, want);
    sv_model_label(r, label, sizeof label);
    assert_string_equal(label, want);
    assert_string_equal(m->version, ""); /* the writer does not change m */
    /* a given version is the card and the label, with no name prefixed */
    snprintf(r->version, sizeof r->version, "d6_m7");
    write_ok(r, path);
    sv_model *r2 = NULL;
    assert_int_equal(sv_model_read_fits(path, &r2, &e), 0);
    assert_string_equal(r2->version, "d6_m7");
    sv_model_label(r2, label, sizeof label);
    assert_string_equal(label, "d6_m7");
    /* a file written before (MODVERS = ''): the label is the name */
    r2->version[0] = '\0';
    sv_model_label(r2, label, sizeof label);
    assert_string_equal(label, "rb-test");
    sv_model_free(r2);
    sv_model_free(r);
    sv_model_free(m);
}

static void test_roundtrip_lightcurve(void **state)
{
    (void)state;
    sv_model *m = make_lc_model();
    char path[600];
    path_in_tmp(path, sizeof path, "lc.fits");
    write_ok(m, path);
    sv_model *r = NULL;
    sv_error e;
    sv_error_clear(&e);
    int st = sv_model_read_fits(path, &r, &e);
    if (st)
        fprintf(stderr, "# read: %s\n", e.text);
    assert_int_equal(st, 0);
    compare_models(m, r);
    compare_forward(m, r);
    sv_model_free(r);
    sv_model_free(m);
}

/* GlobalAveragePooling1D (a kind added in its own file) through the model
 * file, masked (after Masking and a masked GRU) and plain */
static void test_roundtrip_gap1d(void **state)
{
    (void)state;
    for (int masked = 0; masked < 2; masked++) {
        nn_net *net = nn_net_new();
        input(net, "lc", 2, 7, 3, 0);
        nn_layer L = nn_layer_defaults(NN_MASKING, "mask");
        add(net, &L, "lc", NULL, NULL, NULL);
        L = nn_layer_defaults(NN_GRU, "g1");
        L.units = 5; L.return_sequences = 1; L.reset_after = 1; L.recurrent_act = NN_ACT_SIGMOID;
        add(net, &L, "mask", masked ? "lc" : NULL, NULL, NULL);
        L = nn_layer_defaults(NN_GLOBAL_AVGPOOL1D, "gap1d");
        add(net, &L, "g1", masked ? "lc" : NULL, NULL, NULL);
        L = nn_layer_defaults(NN_DENSE, "out");
        L.units = 3; L.act = NN_ACT_SOFTMAX;
        add(net, &L, "gap1d", NULL, NULL, NULL);
        sv_error e;
        sv_error_clear(&e);
        assert_int_equal(nn_net_finalize(net, &e), 0);
        randomize(net);
        sv_model *m = sv_model_new(net);
        m->task = SV_TASK_LIGHTCURVE;
        strcpy(m->name, "gap1d-test");
        m->n_classes = 3;
        strcpy(m->classes[0], "a");
        strcpy(m->classes[1], "b");
        strcpy(m->classes[2], "c");
        m->n_features = 3;
        strcpy(m->features[0], "dt");
        strcpy(m->features[1], "mag");
        strcpy(m->features[2], "magerr");
        assert_int_equal(sv_model_validate(m, &e), 0);
        char path[600];
        path_in_tmp(path, sizeof path, masked ? "gap1d_masked.fits" : "gap1d.fits");
        write_ok(m, path);
        sv_model *r = NULL;
        int st = sv_model_read_fits(path, &r, &e);
        if (st)
            fprintf(stderr, "# read: %s\n", e.text);
        assert_int_equal(st, 0);
        int g = nn_net_find(r->net, "gap1d");
        assert_true(g >= 0);
        assert_int_equal(r->net->layers[g].kind, NN_GLOBAL_AVGPOOL1D);
        assert_int_equal(r->net->layers[g].n_in, masked ? 2 : 1);
        assert_int_equal(r->net->layers[g].rank, 1);
        assert_int_equal(r->net->layers[g].shape[0], 5);
        compare_models(m, r);
        compare_forward(m, r);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        assert_int_equal(sv_model_describe(f, r), 0);
        fclose(f);
        assert_non_null(strstr(buf, "gap1d (global_average_pooling1d)"));
        assert_true((strstr(buf, "masked(0)") != NULL) == masked);
        free(buf);
        sv_model_free(r);
        sv_model_free(m);
    }
}

/* the FITS layout itself, as any FITS reader sees it */
static void test_layout(void **state)
{
    (void)state;
    sv_model *m = make_stamp_model();
    char path[600];
    path_in_tmp(path, sizeof path, "layout.fits");
    write_ok(m, path);
    fitsfile *f = NULL;
    int st = 0, nhdu = 0, type = 0;
    fits_open_diskfile(&f, path, READONLY, &st);
    assert_int_equal(st, 0);
    fits_get_num_hdus(f, &nhdu, &st);
    int nparams = 0;
    for (int i = 0; i < m->net->n_layers; i++)
        nparams += m->net->layers[i].n_params;
    assert_int_equal(nhdu, 2 + nparams);
    char val[FLEN_VALUE];
    fits_read_key(f, TSTRING, "TASK", val, NULL, &st);
    assert_string_equal(val, "class");
    fits_read_key(f, TSTRING, "CHANNELS", val, NULL, &st);
    assert_string_equal(val, "DIFF,SCI,REF");
    fits_read_key(f, TSTRING, "CLASS3", val, NULL, &st);
    assert_string_equal(val, "variable star");
    fits_read_key(f, TSTRING, "FEAT2", val, NULL, &st);
    assert_string_equal(val, "magpsf");
    fits_read_key(f, TSTRING, "NORM", val, NULL, &st);
    assert_string_equal(val, "zscore");
    assert_int_equal(st, 0);
    fits_movnam_hdu(f, BINARY_TBL, "LAYERS", 0, &st);
    assert_int_equal(st, 0);
    long nrows = 0;
    fits_get_num_rows(f, &nrows, &st);
    assert_int_equal(nrows, m->net->n_layers);
    /* Conv2D kernel (3,3,3,4): NAXIS1 = 4 (last Keras axis) ... NAXIS4 = 3 */
    fits_movnam_hdu(f, IMAGE_HDU, "c1.kernel", 0, &st);
    assert_int_equal(st, 0);
    int naxis = 0, bitpix = 0;
    long ax[4] = {0};
    fits_get_img_param(f, 4, &bitpix, &naxis, ax, &st);
    assert_int_equal(bitpix, FLOAT_IMG);
    assert_int_equal(naxis, 4);
    assert_int_equal(ax[0], 4);
    assert_int_equal(ax[1], 3);
    assert_int_equal(ax[2], 3);
    assert_int_equal(ax[3], 3);
    /* the data are the tensor in C order: element (1,2,0,3) */
    nn_param *p = nn_net_param(m->net, "c1", "kernel");
    long fp[4] = {3 + 1, 0 + 1, 2 + 1, 1 + 1};
    float v = 0;
    int anynul = 0;
    fits_read_pix(f, TFLOAT, fp, 1, NULL, &v, &anynul, &st);
    assert_int_equal(st, 0);
    assert_memory_equal(&v, &p->w[((1 * 3 + 2) * 3 + 0) * 4 + 3], sizeof v);
    for (int h = 1; h <= nhdu; h++) {
        int dok = 0, hok = 0;
        fits_movabs_hdu(f, h, &type, &st);
        fits_verify_chksum(f, &dok, &hok, &st);
        assert_int_equal(dok, 1);
        assert_int_equal(hok, 1);
    }
    fits_close_file(f, &st);
    assert_int_equal(sv_model_fits_is_model(path), 1);
    sv_model_free(m);
}

/* ---- writing ------------------------------------------------------------- */

static int count_tmp_files(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

static void test_write_atomic(void **state)
{
    (void)state;
    sv_model *m = make_stamp_model();
    char path[600];
    path_in_tmp(path, sizeof path, "atomic.fits");
    write_ok(m, path);
    struct stat sb0;
    assert_int_equal(stat(path, &sb0), 0);
    sv_model *before = NULL;
    sv_error e;
    assert_int_equal(sv_model_read_fits(path, &before, &e), 0);

    /* a model the writer refuses: the old file stays, no temporary is left */
    char saved[NN_NAME_MAX];
    strcpy(saved, m->net->layers[3].name);
    strcpy(m->net->layers[3].name, "bad,name");
    sv_error_clear(&e);
    assert_int_not_equal(sv_model_write_fits(m, path, &e), 0);
    assert_non_null(strstr(e.text, path));
    assert_non_null(strstr(e.text, "bad,name"));
    /* two layers of one name */
    strcpy(m->net->layers[3].name, "c1");
    sv_error_clear(&e);
    assert_int_equal(sv_model_write_fits(m, path, &e), SV_ERR_ARG);
    assert_non_null(strstr(e.text, "duplicate"));
    strcpy(m->net->layers[3].name, saved);
    /* an invalid model: class count disagrees with the output */
    m->n_classes = 2;
    sv_error_clear(&e);
    assert_int_equal(sv_model_write_fits(m, path, &e), SV_ERR_SHAPE);
    assert_non_null(strstr(e.text, path));
    m->n_classes = 3;
    sv_model *after = NULL;
    assert_int_equal(sv_model_read_fits(path, &after, &e), 0);
    assert_string_equal(before->checksum, after->checksum);
    assert_int_equal(count_tmp_files(), 0);

    /* a folder that does not exist */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/m.fits", tmpdir);
    sv_error_clear(&e);
    assert_int_equal(sv_model_write_fits(m, bad, &e), SV_ERR_IO);
    assert_non_null(strstr(e.text, bad));

    /* a name with FITS extended-syntax characters is taken literally */
    char odd[700];
    snprintf(odd, sizeof odd, "%s/odd[1]name.fits", tmpdir);
    write_ok(m, odd);
    sv_model *o = NULL;
    sv_error_clear(&e);
    int st = sv_model_read_fits(odd, &o, &e);
    if (st)
        fprintf(stderr, "# %s\n", e.text);
    assert_int_equal(st, 0);
    sv_model_free(o);
    assert_int_equal(count_tmp_files(), 0);

    sv_model_free(before);
    sv_model_free(after);
    sv_model_free(m);
}

static void test_prov_rules(void **state)
{
    (void)state;
    sv_model *m = sv_model_new(NULL);
    assert_int_equal(sv_model_set_prov(m, "dataset", "ztf \x01 labels"), 0);
    assert_string_equal(sv_model_get_prov(m, "DATASET"), "ztf ? labels");
    assert_int_equal(sv_model_set_prov(m, "DATASET", "v2"), 0);
    assert_int_equal(m->n_prov, 1);
    assert_string_equal(sv_model_get_prov(m, "dataset"), "v2");
    assert_int_equal(sv_model_set_prov(m, "averyLongKey", "x"), 0);
    assert_non_null(sv_model_get_prov(m, "AVERYLON"));
    assert_int_equal(sv_model_set_prov(m, "TASK", "x"), SV_ERR_ARG);
    assert_int_equal(sv_model_set_prov(m, "CLASS7", "x"), SV_ERR_ARG);
    assert_int_equal(sv_model_set_prov(m, "CHECKSUM", "x"), SV_ERR_ARG);
    assert_int_equal(sv_model_set_prov(m, "BAD KEY", "x"), SV_ERR_ARG);
    assert_int_equal(sv_model_set_prov(m, "", "x"), SV_ERR_ARG);
    assert_null(sv_model_get_prov(m, "NOPE"));
    for (int i = m->n_prov; i < SV_MAX_PROVENANCE; i++) {
        char k[16];
        snprintf(k, sizeof k, "K%d", i & 0xffff);
        assert_int_equal(sv_model_set_prov(m, k, "v"), 0);
    }
    assert_int_equal(sv_model_set_prov(m, "ONEMORE", "v"), SV_ERR_ARG);
    sv_model_free(m);
}

static void test_describe(void **state)
{
    (void)state;
    sv_model *m = make_stamp_model();
    char path[600];
    path_in_tmp(path, sizeof path, "describe.fits");
    write_ok(m, path);
    sv_model *r = NULL;
    sv_error e;
    assert_int_equal(sv_model_read_fits(path, &r, &e), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(sv_model_describe(f, r), 0);
    fclose(f);
    char total[64], line[128];
    sv_format_count(nn_net_count_params(r->net, 0), total, sizeof total);
    snprintf(line, sizeof line, "Total params: %s\n", total);
    assert_non_null(strstr(buf, line));
    size_t ntrain = nn_net_count_params(r->net, 1);
    sv_format_count(ntrain, total, sizeof total);
    snprintf(line, sizeof line, "Trainable params: %s\n", total);
    assert_non_null(strstr(buf, line));
    assert_non_null(strstr(buf, "sep (separable_conv2d)"));
    assert_non_null(strstr(buf, "(16, 16, 4)"));
    assert_non_null(strstr(buf, "gap,fl_d,drop"));
    assert_non_null(strstr(buf, "PARENT"));
    assert_non_null(strstr(buf, "braai-d6_m7"));
    assert_non_null(strstr(buf, "fine-tuned: 300 labels"));
    assert_non_null(strstr(buf, "DIFF,SCI,REF"));
    assert_non_null(strstr(buf, r->checksum));
    assert_non_null(strstr(buf, "frozen"));
    free(buf);

    char tiny[32];
    assert_string_equal(sv_format_count(312081, tiny, sizeof tiny), "312,081");
    assert_string_equal(sv_format_count(999, tiny, sizeof tiny), "999");
    assert_string_equal(sv_format_count(1000000, tiny, sizeof tiny), "1,000,000");
    sv_model_free(r);
    sv_model_free(m);
}

/* ---- damaged and hostile files ------------------------------------------- */

/* Write the good stamp model to `name`; returns its path in buf. */
static void good_file(char *buf, size_t cap, const char *name)
{
    path_in_tmp(buf, cap, name);
    sv_model *m = make_stamp_model();
    write_ok(m, buf);
    sv_model_free(m);
}

/* Read must fail, with the path and every needle in the message. */
static void expect_fail(const char *path, const char *n1, const char *n2)
{
    sv_model *m = (sv_model *)0x1;
    sv_error e;
    sv_error_clear(&e);
    int st = sv_model_read_fits(path, &m, &e);
    fprintf(stderr, "# %s\n", e.text);
    assert_int_not_equal(st, 0);
    assert_int_equal(st, e.status);
    assert_null(m);
    assert_non_null(strstr(e.text, path));
    if (n1 && !strstr(e.text, n1))
        fail_msg("message lacks '%s': %s", n1, e.text);
    if (n2 && !strstr(e.text, n2))
        fail_msg("message lacks '%s': %s", n2, e.text);
}

static fitsfile *open_rw(const char *path, int hdu)
{
    fitsfile *f = NULL;
    int st = 0, type = 0;
    fits_open_diskfile(&f, path, READWRITE, &st);
    fits_movabs_hdu(f, hdu, &type, &st);
    assert_int_equal(st, 0);
    return f;
}

/* re-sign HDU checksums after an edit (a hostile file is self-consistent) */
static void close_resigned(fitsfile *f)
{
    int st = 0;
    fits_write_chksum(f, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
}

static void set_key_int(const char *path, int hdu, const char *key, long long v, int resign)
{
    fitsfile *f = open_rw(path, hdu);
    int st = 0;
    LONGLONG x = v;
    fits_update_key(f, TLONGLONG, key, &x, NULL, &st);
    assert_int_equal(st, 0);
    if (resign)
        close_resigned(f);
    else {
        fits_close_file(f, &st);
    }
}

static void set_layer_str(const char *path, const char *col, const char *layer,
                          const char *value)
{
    fitsfile *f = open_rw(path, 2);
    int st = 0, c = 0;
    fits_get_colnum(f, CASESEN, (char *)col, &c, &st);
    char nm[80], *pn = nm;
    long row = 0;
    long nrows = 0;
    fits_get_num_rows(f, &nrows, &st);
    for (long r = 1; r <= nrows; r++) {
        int anynul = 0;
        fits_read_col_str(f, 1, r, 1, 1, "", &pn, &anynul, &st);
        if (!strcmp(nm, layer))
            row = r;
    }
    assert_true(row > 0);
    char *v = (char *)value;
    fits_write_col_str(f, c, row, 1, 1, &v, &st);
    assert_int_equal(st, 0);
    close_resigned(f);
}

static void set_layer_int(const char *path, const char *col, const char *layer, int elem,
                          long long value)
{
    fitsfile *f = open_rw(path, 2);
    int st = 0, c = 0;
    fits_get_colnum(f, CASESEN, (char *)col, &c, &st);
    char nm[80], *pn = nm;
    long row = 0, nrows = 0;
    fits_get_num_rows(f, &nrows, &st);
    for (long r = 1; r <= nrows; r++) {
        int anynul = 0;
        fits_read_col_str(f, 1, r, 1, 1, "", &pn, &anynul, &st);
        if (!strcmp(nm, layer))
            row = r;
    }
    assert_true(row > 0);
    LONGLONG v = value;
    fits_write_col(f, TLONGLONG, c, row, elem, 1, &v, &st);
    assert_int_equal(st, 0);
    close_resigned(f);
}

static int hdu_of(const char *path, const char *extname)
{
    fitsfile *f = NULL;
    int st = 0, n = 0;
    fits_open_diskfile(&f, path, READONLY, &st);
    fits_movnam_hdu(f, ANY_HDU, (char *)extname, 0, &st);
    fits_get_hdu_num(f, &n);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    return n;
}

static long long file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (long long)sb.st_size;
}

static void flip_byte(const char *path, long long off)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    fseek(f, (long)off, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
}

/* Overwrite the value field (columns 11-30) of card `key` in HDU `hdu`
 * directly in the file's bytes, leaving checksums stale. */
static void edit_card_value(const char *path, int hdu, const char *key, const char *value)
{
    fitsfile *f = NULL;
    int st = 0, type = 0;
    LONGLONG hs = 0, ds = 0, de = 0;
    fits_open_diskfile(&f, path, READONLY, &st);
    fits_movabs_hdu(f, hdu, &type, &st);
    fits_get_hduaddrll(f, &hs, &ds, &de, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    size_t n = (size_t)(ds - hs);
    char *hdr = malloc(n);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, (long)hs, SEEK_SET);
    assert_int_equal(fread(hdr, 1, n, fp), n);
    char k8[9];
    snprintf(k8, sizeof k8, "%-8s", key);
    long off = -1;
    for (size_t i = 0; i + 80 <= n; i += 80)
        if (!memcmp(hdr + i, k8, 8) && hdr[i + 8] == '=')
            off = (long)i;
    assert_true(off >= 0);
    char field[21];
    snprintf(field, sizeof field, "%20s", value);
    fseek(fp, (long)(hs + off + 10), SEEK_SET);
    fwrite(field, 1, 20, fp);
    fclose(fp);
    free(hdr);
}

static void test_truncated(void **state)
{
    (void)state;
    char path[600];
    good_file(path, sizeof path, "trunc.fits");
    long long size = file_size(path);
    char cut[640];
    path_in_tmp(cut, sizeof cut, "trunc_cut.fits");
    /* every 1440 bytes, plus a few odd lengths: never a crash, always a
     * clear error */
    FILE *in = fopen(path, "rb");
    char *all = malloc((size_t)size);
    assert_int_equal(fread(all, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    int tried = 0;
    for (long long n = 0; n < size; n += n < 20000 ? 1440 : 2877) {
        FILE *o = fopen(cut, "wb");
        fwrite(all, 1, (size_t)n, o);
        fclose(o);
        sv_model *m = (sv_model *)0x1;
        sv_error e;
        sv_error_clear(&e);
        int st = sv_model_read_fits(cut, &m, &e);
        assert_int_not_equal(st, 0);
        assert_null(m);
        assert_non_null(strstr(e.text, cut));
        tried++;
    }
    /* cut inside the last weight image: the checksum cannot be verified */
    FILE *o = fopen(cut, "wb");
    fwrite(all, 1, (size_t)(size - 100), o);
    fclose(o);
    expect_fail(cut, "truncated", NULL);
    fprintf(stderr, "# %d truncated lengths rejected\n", tried);
    free(all);
}

static void test_bad_checksum(void **state)
{
    (void)state;
    char path[600];
    good_file(path, sizeof path, "badsum.fits");
    /* one data byte of a weight image */
    int h = hdu_of(path, "d1.kernel");
    fitsfile *f = NULL;
    int st = 0, type = 0;
    LONGLONG hs, ds, de;
    fits_open_diskfile(&f, path, READONLY, &st);
    fits_movabs_hdu(f, h, &type, &st);
    fits_get_hduaddrll(f, &hs, &ds, &de, &st);
    fits_close_file(f, &st);
    flip_byte(path, ds + 17);
    char needle[64];
    snprintf(needle, sizeof needle, "HDU %d (d1.kernel)", h);
    expect_fail(path, needle, "DATASUM does not match");

    /* one header byte of the primary (inside the MODNAME value) */
    good_file(path, sizeof path, "badsum2.fits");
    FILE *fp = fopen(path, "rb");
    char hdr[2880];
    assert_int_equal(fread(hdr, 1, sizeof hdr, fp), sizeof hdr);
    fclose(fp);
    long off = -1;
    for (long i = 0; i + 9 <= (long)sizeof hdr; i += 80)
        if (!memcmp(hdr + i, "MODNAME =", 9))
            off = i;
    assert_true(off >= 0);
    flip_byte(path, off + 13);
    expect_fail(path, "HDU 1 (primary)", "CHECKSUM does not match");

    /* checksums removed */
    good_file(path, sizeof path, "nosum.fits");
    f = open_rw(path, 2);
    fits_delete_key(f, "CHECKSUM", &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    expect_fail(path, "HDU 2 (LAYERS)", "no CHECKSUM");
}

static void test_unknown_kind_and_activation(void **state)
{
    (void)state;
    char path[600];
    good_file(path, sizeof path, "kind.fits");
    set_layer_str(path, "KIND", "mp", "transformer");
    expect_fail(path, "unknown layer kind 'transformer'", "layer 'mp'");

    good_file(path, sizeof path, "act.fits");
    set_layer_str(path, "ACT", "d1", "swish");
    expect_fail(path, "unknown activation 'swish'", "layer 'd1'");

    good_file(path, sizeof path, "pad.fits");
    set_layer_str(path, "PADDING", "c1", "reflect");
    expect_fail(path, "unknown padding 'reflect'", NULL);
}

static void test_shapes_do_not_chain(void **state)
{
    (void)state;
    char path[600];
    /* a pooling window larger than its input */
    good_file(path, sizeof path, "chain1.fits");
    set_layer_int(path, "KH", "ap", 1, 9);
    expect_fail(path, "do not form a valid network", "'ap'");
    /* global pooling fed by a vector */
    good_file(path, sizeof path, "chain2.fits");
    set_layer_str(path, "INPUTS", "gap", "feats");
    expect_fail(path, "do not form a valid network", "'gap'");
    /* stored output shape that disagrees with the computed one */
    good_file(path, sizeof path, "chain3.fits");
    set_layer_int(path, "SHAPE", "mp", 3, 7);
    expect_fail(path, "stored output shape", "'mp'");
}

static void test_weight_dims_differ(void **state)
{
    (void)state;
    char path[600];
    good_file(path, sizeof path, "dims.fits");
    /* d1.kernel is (18, 16): make the image (16, 18), same size */
    int h = hdu_of(path, "d1.kernel");
    fitsfile *f = open_rw(path, h);
    int st = 0;
    fits_update_key_lng(f, "NAXIS1", 18, NULL, &st);
    fits_update_key_lng(f, "NAXIS2", 16, NULL, &st);
    assert_int_equal(st, 0);
    close_resigned(f);
    expect_fail(path, "has shape (16,18)", "needs (18,16)");

    /* rank differs: bias as a 2-D (1, 16) image */
    good_file(path, sizeof path, "dims2.fits");
    h = hdu_of(path, "d1.bias");
    f = open_rw(path, h);
    float bias[16];
    int anynul = 0;
    fits_read_img(f, TFLOAT, 1, 16, NULL, bias, &anynul, &st);
    fits_delete_hdu(f, NULL, &st);
    long ax2[2] = {16, 1};
    fits_create_img(f, FLOAT_IMG, 2, ax2, &st); /* appended at the end */
    fits_update_key(f, TSTRING, "EXTNAME", "d1.bias", NULL, &st);
    fits_write_img(f, TFLOAT, 1, 16, bias, &st);
    assert_int_equal(st, 0);
    close_resigned(f);
    expect_fail(path, "NAXIS = 2", "'bias'");

    /* float64 weights */
    good_file(path, sizeof path, "dims3.fits");
    h = hdu_of(path, "logits.bias");
    f = open_rw(path, h);
    fits_update_key_lng(f, "BITPIX", -64, NULL, &st);
    fits_update_key_lng(f, "NAXIS1", 1, NULL, &st);
    fits_update_key(f, TSTRING, "EXTNAME", "logits.bias", NULL, &st);
    assert_int_equal(st, 0);
    fits_close_file(f, &st);
    f = open_rw(path, h);
    close_resigned(f);
    expect_fail(path, "BITPIX = -64", NULL);
}

static void test_absurd_sizes(void **state)
{
    (void)state;
    char path[600];
    /* NAXIS1 = 2^31 on a weight image (its checksum cannot be redone:
     * the data would be 8 GB) */
    good_file(path, sizeof path, "absurd1.fits");
    int h = hdu_of(path, "d1.kernel");
    /* edited as bytes: cfitsio would pad the file to the new size */
    edit_card_value(path, h, "NAXIS1", "2147483648");
    char needle[64];
    snprintf(needle, sizeof needle, "HDU %d", h);
    expect_fail(path, needle, "truncated");
    good_file(path, sizeof path, "absurd1b.fits");
    edit_card_value(path, h, "NAXIS2", "-21");
    expect_fail(path, needle, NULL);

    good_file(path, sizeof path, "absurd2.fits");
    set_key_int(path, 1, "NLAYERS", 1000000000LL, 1);
    expect_fail(path, "NLAYERS = 1000000000", "out of range");

    good_file(path, sizeof path, "absurd3.fits");
    set_key_int(path, 1, "NCLASS", -3, 1);
    expect_fail(path, "NCLASS = -3", "out of range");

    good_file(path, sizeof path, "absurd4.fits");
    set_key_int(path, 1, "NFEAT", -1, 1);
    expect_fail(path, "NFEAT = -1", NULL);

    good_file(path, sizeof path, "absurd5.fits");
    set_key_int(path, 1, "NPARAMS", 1LL << 40, 1);
    expect_fail(path, "NPARAMS", "absurd size");

    /* hyper-parameters that would need gigabytes of weights: refused before
     * anything is allocated */
    good_file(path, sizeof path, "absurd6.fits");
    set_layer_int(path, "UNITS", "d1", 1, 1 << 24);
    expect_fail(path, "NPARAMS", "need at least");

    good_file(path, sizeof path, "absurd7.fits");
    set_layer_int(path, "FILTERS", "c1", 1, 1 << 24);
    expect_fail(path, "absurd size", "'c1'");
    good_file(path, sizeof path, "absurd7b.fits");
    set_layer_int(path, "FILTERS", "sep", 1, 1 << 18);
    expect_fail(path, "need at least", "NPARAMS");

    /* an input of 2^24 x 2^24 x 3 per sample */
    good_file(path, sizeof path, "absurd8.fits");
    set_layer_int(path, "SHAPE", "stamp", 1, 1 << 24);
    set_layer_int(path, "SHAPE", "stamp", 2, 1 << 24);
    expect_fail(path, "absurd size", "'stamp'");

    /* a negative hyper-parameter */
    good_file(path, sizeof path, "absurd9.fits");
    set_layer_int(path, "KW", "c1", 1, -5);
    expect_fail(path, "KW = -5", "out of range");

    /* a row count that disagrees */
    good_file(path, sizeof path, "absurd10.fits");
    set_key_int(path, 1, "NLAYERS", 3, 1);
    expect_fail(path, "rows but NLAYERS = 3", NULL);
}

static void test_missing_hdus(void **state)
{
    (void)state;
    char path[600];
    good_file(path, sizeof path, "miss1.fits");
    int h = hdu_of(path, "sep.pointwise_kernel");
    fitsfile *f = open_rw(path, h);
    int st = 0;
    fits_delete_hdu(f, NULL, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    expect_fail(path, "missing image HDU 'sep.pointwise_kernel'", NULL);

    good_file(path, sizeof path, "miss2.fits");
    f = open_rw(path, 2);
    fits_delete_hdu(f, NULL, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    expect_fail(path, "LAYERS", NULL);

    /* only the primary HDU */
    good_file(path, sizeof path, "miss3.fits");
    {
        fitsfile *g = open_rw(path, 2);
        LONGLONG hs = 0, ds = 0, de = 0;
        fits_get_hduaddrll(g, &hs, &ds, &de, &st);
        fits_close_file(g, &st);
        assert_int_equal(truncate(path, (off_t)hs), 0);
    }
    expect_fail(path, "HDU 2", "LAYERS");
    /* cut inside the primary header */
    assert_int_equal(truncate(path, 2880), 0);
    expect_fail(path, "truncated", NULL);

    /* an image for a layer that does not exist */
    good_file(path, sizeof path, "miss4.fits");
    h = hdu_of(path, "fd.bias");
    f = open_rw(path, h);
    fits_update_key(f, TSTRING, "EXTNAME", "ghost.bias", NULL, &st);
    close_resigned(f);
    expect_fail(path, "no layer 'ghost'", NULL);
}

static void test_format_version(void **state)
{
    (void)state;
    char path[600];
    good_file(path, sizeof path, "ver.fits");
    set_key_int(path, 1, "SVFORMAT", 2, 1);
    expect_fail(path, "format version 2", "reads version 1");

    /* a plain FITS image */
    path_in_tmp(path, sizeof path, "plain.fits");
    unlink(path);
    fitsfile *f = NULL;
    int st = 0;
    long ax[2] = {4, 4};
    float px[16] = {0};
    fits_create_diskfile(&f, path, &st);
    fits_create_img(f, FLOAT_IMG, 2, ax, &st);
    fits_write_img(f, TFLOAT, 1, 16, px, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    expect_fail(path, "not a stampvet model file", NULL);
    assert_int_equal(sv_model_fits_is_model(path), 0);

    /* not FITS at all, and no file */
    path_in_tmp(path, sizeof path, "text.fits");
    FILE *t = fopen(path, "w");
    for (int i = 0; i < 400; i++)
        fputs("this is not a FITS file\n", t);
    fclose(t);
    expect_fail(path, "cannot open as FITS", NULL);
    assert_int_equal(sv_model_fits_is_model(path), 0);
    path_in_tmp(path, sizeof path, "does-not-exist.fits");
    expect_fail(path, "cannot open", NULL);
    assert_int_equal(sv_model_fits_is_model(path), 0);
    assert_int_equal(sv_model_fits_is_model(tmpdir), 0);
}

static void test_bad_producers(void **state)
{
    (void)state;
    char path[600];
    good_file(path, sizeof path, "prod1.fits");
    set_layer_str(path, "INPUTS", "d1", "nosuchlayer");
    expect_fail(path, "input 'nosuchlayer'", "not an earlier layer");
    /* forward reference: c1 reads from a later layer */
    good_file(path, sizeof path, "prod2.fits");
    set_layer_str(path, "INPUTS", "c1", "bn");
    expect_fail(path, "input 'bn'", "layer 'c1'");
    /* NETIN naming a non-input */
    good_file(path, sizeof path, "prod3.fits");
    fitsfile *f = open_rw(path, 1);
    int st = 0;
    fits_update_key(f, TSTRING, "NETIN", "stamp,c1", NULL, &st);
    close_resigned(f);
    expect_fail(path, "NETIN", "'c1'");
}

static void test_hostile_weights(void **state)
{
    (void)state;
    char path[600];
    /* a NaN weight, checksums re-signed */
    good_file(path, sizeof path, "nan.fits");
    int h = hdu_of(path, "bn.gamma");
    fitsfile *f = open_rw(path, h);
    int st = 0;
    float nan = NAN;
    fits_write_img(f, TFLOAT, 3, 1, &nan, &st);
    close_resigned(f);
    expect_fail(path, "not finite", "bn.gamma");
    /* a finite weight replaced, checksums re-signed: WTSUM catches it */
    good_file(path, sizeof path, "swap.fits");
    h = hdu_of(path, "logits.kernel");
    f = open_rw(path, h);
    float v = 123.0f;
    fits_write_img(f, TFLOAT, 2, 1, &v, &st);
    close_resigned(f);
    expect_fail(path, "WTSUM", NULL);
    /* scaled weights */
    good_file(path, sizeof path, "bscale.fits");
    h = hdu_of(path, "fd.kernel");
    f = open_rw(path, h);
    double two = 2.0;
    fits_update_key(f, TDOUBLE, "BSCALE", &two, NULL, &st);
    close_resigned(f);
    expect_fail(path, "BSCALE", NULL);
    /* a description that disagrees with the network: 4 classes for 3
     * outputs */
    good_file(path, sizeof path, "ncls.fits");
    f = open_rw(path, 1);
    LONGLONG four = 4;
    fits_update_key(f, TLONGLONG, "NCLASS", &four, NULL, &st);
    fits_update_key(f, TSTRING, "CLASS4", "extra", NULL, &st);
    close_resigned(f);
    expect_fail(path, "4 classes", "'probs'");
    /* a bad NORM and CHANNELS */
    good_file(path, sizeof path, "norm.fits");
    f = open_rw(path, 1);
    fits_update_key(f, TSTRING, "NORM", "l7", NULL, &st);
    close_resigned(f);
    expect_fail(path, "NORM = 'l7'", NULL);
    good_file(path, sizeof path, "chan.fits");
    f = open_rw(path, 1);
    fits_update_key(f, TSTRING, "CHANNELS", "SCI,UV,DIFF", NULL, &st);
    close_resigned(f);
    expect_fail(path, "unknown channel 'UV'", NULL);
}

/* Random corruption of the LAYERS table's data and of primary card values,
 * checksums re-signed so that the reader's own checks are exercised: every
 * outcome must be a clean success or an error naming the file. */
static void test_fuzz_resigned(void **state)
{
    (void)state;
    char good[600], path[640];
    good_file(good, sizeof good, "fuzz_good.fits");
    path_in_tmp(path, sizeof path, "fuzz.fits");
    long long size = file_size(good);
    char *all = malloc((size_t)size);
    FILE *in = fopen(good, "rb");
    assert_int_equal(fread(all, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    fitsfile *f = NULL;
    int st = 0, type = 0;
    LONGLONG hs1, ds1, de1, hs2, ds2, de2;
    fits_open_diskfile(&f, good, READONLY, &st);
    fits_get_hduaddrll(f, &hs1, &ds1, &de1, &st);
    fits_movabs_hdu(f, 2, &type, &st);
    fits_get_hduaddrll(f, &hs2, &ds2, &de2, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    int ok = 0, failed = 0;
    rng_state.s = 2024;
    for (int it = 0; it < 300; it++) {
        char *buf = malloc((size_t)size);
        memcpy(buf, all, (size_t)size);
        int nflip = 1 + (int)urand(0, 3);
        for (int k = 0; k < nflip; k++) {
            if (it % 3 == 0) {
                /* a value byte (columns 11-30) of a primary card after the
                 * structural ones */
                long card = 5 + (long)urand(0, (float)((ds1 - hs1) / 80 - 6));
                long off = hs1 + card * 80 + 10 + (long)urand(0, 20);
                if (memcmp(buf + hs1 + card * 80, "END     ", 8))
                    buf[off] = (char)(32 + (int)urand(0, 94));
            } else {
                long off = ds2 + (long)urand(0, (float)(de2 - ds2 - 1));
                buf[off] = (char)((unsigned char)buf[off] ^ (1u << (int)urand(0, 8)));
            }
        }
        FILE *o = fopen(path, "wb");
        fwrite(buf, 1, (size_t)size, o);
        fclose(o);
        free(buf);
        /* re-sign the primary and the table; skip files cfitsio itself
         * cannot parse any more */
        int s2 = 0;
        fits_open_diskfile(&f, path, READWRITE, &s2);
        if (!s2) {
            fits_write_chksum(f, &s2);
            fits_movabs_hdu(f, 2, &type, &s2);
            fits_write_chksum(f, &s2);
        }
        int s3 = 0;
        if (f)
            fits_close_file(f, &s3);
        f = NULL;
        sv_model *m = (sv_model *)0x1;
        sv_error e;
        sv_error_clear(&e);
        st = sv_model_read_fits(path, &m, &e);
        if (st == 0) {
            assert_non_null(m);
            sv_model_free(m);
            ok++;
        } else {
            assert_null(m);
            assert_non_null(strstr(e.text, path));
            if (getenv("SV_TEST_VERBOSE"))
                fprintf(stderr, "# %s\n", e.text);
            failed++;
        }
    }
    fprintf(stderr, "# fuzz: %d corrupted files read cleanly, %d rejected with a message\n", ok,
            failed);
    free(all);
}

/* ---- main ------------------------------------------------------------------ */

static int rm_tree(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return 0;
    struct dirent *de;
    char p[1200];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
            unlink(p);
        }
    closedir(d);
    return rmdir(tmpdir);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/svmodel.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_stamp),
        cmocka_unit_test(test_version_filled),
        cmocka_unit_test(test_roundtrip_lightcurve),
        cmocka_unit_test(test_roundtrip_gap1d),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_prov_rules),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_checksum),
        cmocka_unit_test(test_unknown_kind_and_activation),
        cmocka_unit_test(test_shapes_do_not_chain),
        cmocka_unit_test(test_weight_dims_differ),
        cmocka_unit_test(test_absurd_sizes),
        cmocka_unit_test(test_missing_hdus),
        cmocka_unit_test(test_format_version),
        cmocka_unit_test(test_bad_producers),
        cmocka_unit_test(test_hostile_weights),
        cmocka_unit_test(test_fuzz_resigned),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_tree();
    return rc;
}
