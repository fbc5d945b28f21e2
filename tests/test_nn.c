/* test_nn.c — the NN engine: building and shape inference, names, exact
 * forward values worked out by hand, workspaces and batches, determinism,
 * threads, BatchNormalization statistics, optimisers and frozen layers.
 * (Gradient checks: test_nn_grad.c.)
 *
 * `test_nn --dump-reference FILE` instead writes a set of small networks
 * with their weights, inputs and every layer's output as JSON, for
 * tests/python/nn_reference.py to recompute independently with torch
 * (tests/nn_reference.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "nn_test_util.h"
#include "nn/nn_ops.h"

static nn_layer one_in(nn_kind kind, const char *name, int in)
{
    nn_layer L = nn_layer_defaults(kind, name);
    L.n_in = 1;
    L.in[0] = in;
    return L;
}

static nn_layer conv(nn_kind kind, const char *name, int in, int filters, int k, int s,
                     nn_padding pad, nn_act act)
{
    nn_layer L = one_in(kind, name, in);
    L.filters = filters;
    L.kh = L.kw = k;
    L.sh = L.sw = s;
    L.padding = pad;
    L.act = act;
    return L;
}

static nn_layer pool(nn_kind kind, const char *name, int in, int k, int s, nn_padding pad)
{
    nn_layer L = one_in(kind, name, in);
    L.kh = L.kw = k;
    L.sh = L.sw = s;
    L.padding = pad;
    return L;
}

static nn_layer dense(const char *name, int in, int units, nn_act act)
{
    nn_layer L = one_in(NN_DENSE, name, in);
    L.units = units;
    L.act = act;
    return L;
}

/* braai d6_m7 (VGG6) as in ../shared/fixtures/README.md */
static nn_net *build_braai(int size)
{
    nn_net *net = nn_net_new();
    int i = tu_input(net, "conv2d_1_input", 3, size, size, 3);
    nn_layer L;
    L = conv(NN_CONV2D, "conv2d_1", i, 16, 3, 1, NN_PAD_VALID, NN_ACT_RELU);
    i = tu_add(net, &L);
    L = conv(NN_CONV2D, "conv2d_2", i, 16, 3, 1, NN_PAD_VALID, NN_ACT_RELU);
    i = tu_add(net, &L);
    L = pool(NN_MAXPOOL2D, "max_pooling2d_1", i, 2, 0, NN_PAD_VALID);
    i = tu_add(net, &L);
    L = one_in(NN_DROPOUT, "dropout_1", i);
    L.rate = 0.25f;
    i = tu_add(net, &L);
    L = conv(NN_CONV2D, "conv2d_3", i, 32, 3, 1, NN_PAD_VALID, NN_ACT_RELU);
    i = tu_add(net, &L);
    L = conv(NN_CONV2D, "conv2d_4", i, 32, 3, 1, NN_PAD_VALID, NN_ACT_RELU);
    i = tu_add(net, &L);
    L = pool(NN_MAXPOOL2D, "max_pooling2d_2", i, 4, 0, NN_PAD_VALID);
    i = tu_add(net, &L);
    L = one_in(NN_DROPOUT, "dropout_2", i);
    L.rate = 0.25f;
    i = tu_add(net, &L);
    L = one_in(NN_FLATTEN, "flatten_1", i);
    i = tu_add(net, &L);
    L = dense("fc_1", i, 256, NN_ACT_RELU);
    i = tu_add(net, &L);
    L = one_in(NN_DROPOUT, "dropout_3", i);
    L.rate = 0.5f;
    i = tu_add(net, &L);
    L = dense("fc_out", i, 1, NN_ACT_SIGMOID);
    tu_add(net, &L);
    return net;
}

/* ---- names ------------------------------------------------------------------ */

static void test_names(void **state)
{
    (void)state;
    for (int k = 0; k < NN_KIND_COUNT; k++)
        assert_int_equal(nn_kind_from_name(nn_kind_name((nn_kind)k)), k);
    for (int a = 0; a < NN_ACT_COUNT; a++)
        assert_int_equal(nn_act_from_name(nn_act_name((nn_act)a)), a);
    assert_string_equal(nn_kind_name(NN_CONV2D), "conv2d");
    assert_string_equal(nn_act_name(NN_ACT_HARD_SIGMOID), "hard_sigmoid");
    /* Keras class names */
    assert_int_equal(nn_kind_from_name("Conv2D"), NN_CONV2D);
    assert_int_equal(nn_kind_from_name("DepthwiseConv2D"), NN_DEPTHWISE_CONV2D);
    assert_int_equal(nn_kind_from_name("SeparableConv2D"), NN_SEPARABLE_CONV2D);
    assert_int_equal(nn_kind_from_name("MaxPooling2D"), NN_MAXPOOL2D);
    assert_int_equal(nn_kind_from_name("AveragePooling2D"), NN_AVGPOOL2D);
    assert_int_equal(nn_kind_from_name("GlobalAveragePooling2D"), NN_GLOBAL_AVGPOOL2D);
    assert_int_equal(nn_kind_from_name("BatchNormalization"), NN_BATCHNORM);
    assert_int_equal(nn_kind_from_name("Concatenate"), NN_CONCAT);
    assert_int_equal(nn_kind_from_name("GRU"), NN_GRU);
    assert_int_equal(nn_kind_from_name("InputLayer"), NN_INPUT);
    assert_int_equal(nn_kind_from_name("Dense"), NN_DENSE);
    assert_int_equal(nn_kind_from_name("LSTM"), NN_LSTM);
    assert_int_equal(nn_kind_from_name("Conv1D"), NN_CONV1D);
    assert_int_equal(nn_kind_from_name("SimpleRNN"), -1);
    assert_int_equal(nn_kind_from_name(NULL), -1);
    assert_int_equal(nn_act_from_name("LeakyReLU"), NN_ACT_LEAKY_RELU);
    assert_int_equal(nn_act_from_name("swish"), -1);
    assert_string_equal(nn_kind_name((nn_kind)99), "unknown");
    assert_int_equal(nn_kind_from_name("GlobalAveragePooling1D"), NN_GLOBAL_AVGPOOL1D);
}

/* The registry (nn/ops/nn_ops_list.h) keeps every kind's number and model-
 * file name: model files store the names, and the numbers are the ABI of
 * nn.h.  Every descriptor has what the engine calls. */
static void test_registry(void **state)
{
    (void)state;
    static const struct {
        nn_kind kind;
        int value;
        const char *name;
    } fixed[] = {
        {NN_INPUT, 0, "input"},
        {NN_CONV2D, 1, "conv2d"},
        {NN_DEPTHWISE_CONV2D, 2, "depthwise_conv2d"},
        {NN_SEPARABLE_CONV2D, 3, "separable_conv2d"},
        {NN_MAXPOOL2D, 4, "max_pooling2d"},
        {NN_AVGPOOL2D, 5, "average_pooling2d"},
        {NN_GLOBAL_AVGPOOL2D, 6, "global_average_pooling2d"},
        {NN_DENSE, 7, "dense"},
        {NN_FLATTEN, 8, "flatten"},
        {NN_DROPOUT, 9, "dropout"},
        {NN_BATCHNORM, 10, "batch_normalization"},
        {NN_CONCAT, 11, "concatenate"},
        {NN_GRU, 12, "gru"},
        {NN_ACTIVATION, 13, "activation"},
        {NN_LSTM, 14, "lstm"},
        {NN_CONV1D, 15, "conv1d"},
        {NN_ADD, 16, "add"},
        {NN_MASKING, 17, "masking"},
        {NN_GLOBAL_AVGPOOL1D, 18, "global_average_pooling1d"},
    };
    assert_int_equal(NN_KIND_COUNT, (int)(sizeof fixed / sizeof fixed[0]));
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        assert_int_equal((int)fixed[i].kind, fixed[i].value);
        assert_string_equal(nn_kind_name(fixed[i].kind), fixed[i].name);
    }
    for (int k = 0; k < NN_KIND_COUNT; k++) {
        const nn_op *op = nn_op_of((nn_kind)k);
        assert_non_null(op);
        assert_non_null(op->name);
        assert_non_null(op->shape);
        assert_true(op->n_in_min <= op->n_in_max && op->n_in_max <= NN_MAX_INPUTS);
        if (k != NN_INPUT) {
            assert_non_null(op->forward);
            assert_non_null(op->backward);
            assert_true(op->n_in_min >= 1);
        }
        if (op->in_rank)
            assert_non_null(op->in_what);
    }
    assert_null(nn_op_of(NN_KIND_COUNT));
    assert_null(nn_op_of((nn_kind)-1));
}

/* ---- building, shapes, parameters ----------------------------------------------- */

static void test_braai_shapes(void **state)
{
    (void)state;
    nn_net *net = build_braai(63);
    tu_finalize(net);
    const int want[][3] = {{63, 63, 3}, {61, 61, 16}, {59, 59, 16}, {29, 29, 16}, {29, 29, 16},
                           {27, 27, 32}, {25, 25, 32}, {6, 6, 32},   {6, 6, 32}};
    for (int i = 0; i < 9; i++) {
        assert_int_equal(net->layers[i].rank, 3);
        for (int d = 0; d < 3; d++)
            assert_int_equal(net->layers[i].shape[d], want[i][d]);
    }
    assert_int_equal(net->layers[9].shape[0], 1152);
    assert_int_equal(net->layers[10].shape[0], 256);
    assert_int_equal(net->layers[12].shape[0], 1);
    assert_int_equal(net->output, 12);
    /* Keras reports 312,081 parameters for braai */
    assert_int_equal(nn_net_count_params(net, 0), 312081);
    assert_int_equal(nn_net_count_params(net, 1), 312081);
    /* pool strides default to the pool size */
    assert_int_equal(net->layers[3].sh, 2);
    assert_int_equal(net->layers[7].sw, 4);
    nn_param *k = nn_net_param(net, "conv2d_3", "kernel");
    assert_non_null(k);
    assert_int_equal(k->rank, 4);
    assert_int_equal(k->dims[0], 3);
    assert_int_equal(k->dims[2], 16);
    assert_int_equal(k->dims[3], 32);
    assert_int_equal(k->size, 3 * 3 * 16 * 32);
    assert_null(nn_net_param(net, "conv2d_3", "gamma"));
    assert_null(nn_net_param(net, "nope", "kernel"));
    assert_int_equal(nn_net_find(net, "fc_out"), 12);
    assert_int_equal(nn_net_find(net, "nope"), -1);
    /* finalize twice is harmless; adding afterwards is refused */
    tu_finalize(net);
    sv_error err;
    nn_layer L = dense("late", 12, 2, NN_ACT_LINEAR);
    assert_true(nn_net_add(net, &L, &err) < 0);
    nn_net_free(net);
    nn_net_free(NULL);

    /* BN and GRU parameter shapes; moving statistics are not trainable */
    net = nn_net_new();
    int i = tu_input(net, "seq", 2, 7, 5, 0);
    L = one_in(NN_BATCHNORM, "bn", i);
    i = tu_add(net, &L);
    L = one_in(NN_GRU, "gru", i);
    L.units = 4;
    L.reset_after = 1;
    i = tu_add(net, &L);
    L = one_in(NN_GRU, "gru2", i - 1);
    L.units = 3;
    L.return_sequences = 1;
    tu_add(net, &L);
    tu_finalize(net);
    assert_int_equal(nn_net_param(net, "gru", "bias")->rank, 2);
    assert_int_equal(nn_net_param(net, "gru", "bias")->dims[0], 2);
    assert_int_equal(nn_net_param(net, "gru", "bias")->dims[1], 12);
    assert_int_equal(nn_net_param(net, "gru", "recurrent_kernel")->dims[0], 4);
    assert_int_equal(nn_net_param(net, "gru2", "bias")->rank, 1);
    assert_int_equal(net->layers[2].rank, 1);
    assert_int_equal(net->layers[3].rank, 2);
    assert_int_equal(net->layers[3].shape[0], 7);
    size_t all = nn_net_count_params(net, 0), tr = nn_net_count_params(net, 1);
    assert_int_equal(all - tr, 10); /* moving mean + variance of 5 channels */
    assert_int_equal(all, 4 * 5 + (5 * 12 + 4 * 12 + 24) + (5 * 9 + 3 * 9 + 9));
    net->layers[1].trainable = 0;
    assert_int_equal(nn_net_count_params(net, 1), tr - 10);
    nn_net_free(net);
}

static void expect_error(nn_net *net, const char *needle, int at_add, nn_layer *L)
{
    sv_error err;
    sv_error_clear(&err);
    if (at_add) {
        assert_true(nn_net_add(net, L, &err) < 0);
    } else {
        if (L)
            tu_add(net, L);
        assert_true(nn_net_finalize(net, &err) != 0);
    }
    if (!strstr(err.text, needle))
        fprintf(stderr, "# error text '%s' lacks '%s'\n", err.text, needle);
    assert_non_null(strstr(err.text, needle));
    nn_net_free(net);
}

static void test_shape_errors(void **state)
{
    (void)state;
    nn_net *net;
    nn_layer L;
    int i, j;

    /* Conv2D fed a vector */
    net = nn_net_new();
    i = tu_input(net, "vec", 1, 10, 0, 0);
    L = conv(NN_CONV2D, "conv_on_vector", i, 4, 3, 1, NN_PAD_VALID, NN_ACT_RELU);
    expect_error(net, "conv_on_vector", 0, &L);

    /* Concatenate of images of different spatial shapes */
    net = nn_net_new();
    i = tu_input(net, "a", 3, 4, 4, 2);
    j = tu_input(net, "b", 3, 5, 4, 2);
    L = nn_layer_defaults(NN_CONCAT, "merge_bad");
    L.n_in = 2;
    L.in[0] = i;
    L.in[1] = j;
    expect_error(net, "merge_bad", 0, &L);

    /* Concatenate of a vector and an image */
    net = nn_net_new();
    i = tu_input(net, "a", 3, 4, 4, 2);
    j = tu_input(net, "b", 1, 4, 0, 0);
    L = nn_layer_defaults(NN_CONCAT, "merge_rank");
    L.n_in = 2;
    L.in[0] = i;
    L.in[1] = j;
    expect_error(net, "merge_rank", 0, &L);

    /* Dense fed from a mismatched network: GRU on an image */
    net = nn_net_new();
    i = tu_input(net, "img", 3, 8, 8, 1);
    L = one_in(NN_GRU, "gru_on_image", i);
    L.units = 3;
    expect_error(net, "gru_on_image", 0, &L);

    /* valid window larger than the input */
    net = nn_net_new();
    i = tu_input(net, "img", 3, 2, 8, 1);
    L = conv(NN_CONV2D, "too_big", i, 1, 3, 1, NN_PAD_VALID, NN_ACT_LINEAR);
    expect_error(net, "too_big", 0, &L);

    /* GlobalAveragePooling on a sequence */
    net = nn_net_new();
    i = tu_input(net, "seq", 2, 8, 3, 0);
    L = one_in(NN_GLOBAL_AVGPOOL2D, "gap_seq", i);
    expect_error(net, "gap_seq", 0, &L);

    /* errors caught when adding */
    net = nn_net_new();
    i = tu_input(net, "x", 1, 4, 0, 0);
    L = dense("dup", i, 3, NN_ACT_RELU);
    tu_add(net, &L);
    expect_error(net, "dup", 1, &L);

    net = nn_net_new();
    tu_input(net, "x", 1, 4, 0, 0);
    L = dense("forward_ref", 5, 3, NN_ACT_RELU);
    expect_error(net, "forward_ref", 1, &L);

    net = nn_net_new();
    i = tu_input(net, "x", 1, 4, 0, 0);
    L = dense("no_units", i, 0, NN_ACT_RELU);
    expect_error(net, "no_units", 1, &L);

    net = nn_net_new();
    i = tu_input(net, "x", 1, 4, 0, 0);
    L = one_in(NN_DROPOUT, "drop_all", i);
    L.rate = 1.0f;
    expect_error(net, "drop_all", 1, &L);

    net = nn_net_new();
    i = tu_input(net, "x", 2, 4, 3, 0);
    L = one_in(NN_GRU, "gru_relu_gate", i);
    L.units = 2;
    L.recurrent_act = NN_ACT_RELU;
    expect_error(net, "gru_relu_gate", 1, &L);

    net = nn_net_new();
    i = tu_input(net, "x", 3, 4, 4, 1);
    L = one_in(NN_CONCAT, "cat_one", i);
    expect_error(net, "cat_one", 1, &L);

    net = nn_net_new();
    L = nn_layer_defaults(NN_INPUT, "huge");
    L.rank = 3;
    L.shape[0] = L.shape[1] = 1 << 24;
    L.shape[2] = 1 << 24;
    tu_add(net, &L);
    expect_error(net, "huge", 0, NULL);

    net = nn_net_new();
    L = nn_layer_defaults(NN_INPUT, "neg");
    L.rank = 2;
    L.shape[0] = -3;
    L.shape[1] = 2;
    expect_error(net, "neg", 1, &L);

    net = nn_net_new();
    expect_error(net, "no layers", 0, NULL);
}

/* ---- exact forward values -------------------------------------------------------- */

static nn_workspace *run1(nn_net *net, int batch, const float *in, sv_error *err)
{
    nn_workspace *ws = nn_workspace_new(net, batch, 0, err);
    assert_non_null(ws);
    const float *ins[1] = {in};
    assert_int_equal(nn_forward(ws, net, batch, ins, 0, err), 0);
    return ws;
}

static void test_forward_exact(void **state)
{
    (void)state;
    sv_error err;
    float x[16];
    for (int k = 0; k < 16; k++)
        x[k] = (float)(k + 1); /* v[r][c] = 4r + c + 1 */

    /* same padding, stride 2, 3x3 ones: TF pads 0 before, 1 after */
    nn_net *net = nn_net_new();
    int i = tu_input(net, "x", 3, 4, 4, 1);
    nn_layer L = conv(NN_CONV2D, "c", i, 1, 3, 2, NN_PAD_SAME, NN_ACT_LINEAR);
    int ci = tu_add(net, &L);
    L = pool(NN_AVGPOOL2D, "avg", i, 3, 2, NN_PAD_SAME);
    int ai = tu_add(net, &L);
    L = pool(NN_MAXPOOL2D, "max", i, 3, 2, NN_PAD_SAME);
    int mi = tu_add(net, &L);
    L = nn_layer_defaults(NN_CONCAT, "all");
    L.n_in = 3;
    L.in[0] = ci;
    L.in[1] = ai;
    L.in[2] = mi;
    tu_add(net, &L);
    tu_finalize(net);
    for (int k = 0; k < 9; k++)
        net->layers[1].p[0].w[k] = 1.0f;
    net->layers[1].p[1].w[0] = 0.5f;
    nn_workspace *ws = run1(net, 1, x, &err);
    const float *y = nn_workspace_output(ws);
    const float want[4][3] = {
        {54.5f, 6.0f, 11.0f}, {45.5f, 7.5f, 12.0f}, {72.5f, 12.0f, 15.0f}, {54.5f, 13.5f, 16.0f}};
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 3; c++)
            assert_float_equal(y[p * 3 + c], want[p][c], 1e-5);
    nn_workspace_free(ws);
    nn_net_free(net);

    /* depthwise channel order: output c*dm + m; separable adds pointwise + bias */
    net = nn_net_new();
    i = tu_input(net, "x", 3, 1, 1, 2);
    L = conv(NN_DEPTHWISE_CONV2D, "dw", i, 0, 1, 1, NN_PAD_VALID, NN_ACT_LINEAR);
    L.depth_multiplier = 3;
    int di = tu_add(net, &L);
    L = conv(NN_SEPARABLE_CONV2D, "sep", i, 1, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    L.depth_multiplier = 3;
    int si = tu_add(net, &L);
    L = nn_layer_defaults(NN_CONCAT, "all");
    L.n_in = 2;
    L.in[0] = di;
    L.in[1] = si;
    tu_add(net, &L);
    tu_finalize(net);
    /* depthwise_kernel (1,1,2,3): k[c][m] = 10c + m + 1 */
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 3; m++) {
            net->layers[1].p[0].w[c * 3 + m] = (float)(10 * c + m + 1);
            net->layers[2].p[0].w[c * 3 + m] = (float)(10 * c + m + 1);
            net->layers[2].p[1].w[c * 3 + m] = (float)(c * 3 + m); /* pointwise */
        }
    net->layers[2].p[2].w[0] = -1000.0f;
    float x2[2] = {2.0f, -1.0f};
    ws = run1(net, 1, x2, &err);
    y = nn_workspace_output(ws);
    const float wd[6] = {2, 4, 6, -11, -12, -13};
    double pw = 0;
    for (int k = 0; k < 6; k++) {
        assert_float_equal(y[k], wd[k], 1e-6);
        pw += wd[k] * k;
    }
    /* pointwise = 0+4+12-33-48-65 = -130, + bias -1000 -> relu 0 */
    assert_float_equal(pw, -130.0, 1e-9);
    assert_float_equal(y[6], 0.0f, 0.0f);
    nn_workspace_free(ws);
    nn_net_free(net);

    /* activations */
    net = nn_net_new();
    i = tu_input(net, "x", 1, 4, 0, 0);
    nn_act acts[] = {NN_ACT_HARD_SIGMOID, NN_ACT_LEAKY_RELU, NN_ACT_SOFTMAX, NN_ACT_SIGMOID};
    for (int a = 0; a < 4; a++) {
        char nm[16];
        snprintf(nm, sizeof nm, "a%d", a);
        L = one_in(NN_ACTIVATION, nm, i);
        L.act = acts[a];
        L.alpha = 0.1f;
        tu_add(net, &L);
    }
    tu_finalize(net);
    float x3[4] = {-3.0f, 0.0f, 1.0f, 1000.0f};
    ws = run1(net, 1, x3, &err);
    const float *h = nn_workspace_layer_output(ws, 1);
    assert_float_equal(h[0], 0.0f, 0);
    assert_float_equal(h[1], 0.5f, 1e-7);
    assert_float_equal(h[2], 0.7f, 1e-7);
    assert_float_equal(h[3], 1.0f, 0);
    const float *lr = nn_workspace_layer_output(ws, 2);
    assert_float_equal(lr[0], -0.3f, 1e-7);
    assert_float_equal(lr[3], 1000.0f, 0);
    const float *sm = nn_workspace_layer_output(ws, 3);
    assert_float_equal(sm[3], 1.0f, 1e-7); /* no overflow */
    assert_float_equal(sm[0], 0.0f, 1e-30);
    const float *sg = nn_workspace_layer_output(ws, 4);
    assert_float_equal(sg[0], 1.0 / (1.0 + exp(3.0)), 1e-7);
    assert_float_equal(sg[3], 1.0f, 0);
    nn_workspace_free(ws);
    nn_net_free(net);

    /* BatchNormalization inference and flatten order */
    net = nn_net_new();
    i = tu_input(net, "x", 3, 1, 2, 2);
    L = one_in(NN_BATCHNORM, "bn", i);
    L.epsilon = 0.5f;
    i = tu_add(net, &L);
    L = one_in(NN_FLATTEN, "flat", i);
    tu_add(net, &L);
    tu_finalize(net);
    float *g = net->layers[1].p[0].w, *b = net->layers[1].p[1].w;
    float *mm = net->layers[1].p[2].w, *mv = net->layers[1].p[3].w;
    g[0] = 2;
    g[1] = 1;
    b[0] = 1;
    b[1] = -1;
    mm[0] = 1;
    mm[1] = 0;
    mv[0] = 3.5f;
    mv[1] = 1.5f;
    float x4[4] = {3, 4, 5, 6}; /* (w0: c0 3, c1 4), (w1: c0 5, c1 6) */
    ws = run1(net, 1, x4, &err);
    y = nn_workspace_output(ws);
    assert_float_equal(y[0], 2 * (3 - 1) / 2.0 + 1, 1e-6);
    assert_float_equal(y[1], 4 / sqrt(2.0) - 1, 1e-6);
    assert_float_equal(y[2], 2 * (5 - 1) / 2.0 + 1, 1e-6);
    assert_float_equal(y[3], 6 / sqrt(2.0) - 1, 1e-6);
    nn_workspace_free(ws);
    nn_net_free(net);

    /* GRU by hand: one unit, one step, both variants */
    for (int ra = 0; ra < 2; ra++) {
        net = nn_net_new();
        i = tu_input(net, "s", 2, 2, 1, 0);
        L = one_in(NN_GRU, "gru", i);
        L.units = 1;
        L.reset_after = ra;
        L.recurrent_act = NN_ACT_SIGMOID;
        tu_add(net, &L);
        tu_finalize(net);
        float *W = net->layers[1].p[0].w, *U = net->layers[1].p[1].w;
        float *B = net->layers[1].p[2].w;
        W[0] = 0.5f, W[1] = -0.4f, W[2] = 0.3f;
        U[0] = 0.2f, U[1] = 0.7f, U[2] = -0.6f;
        B[0] = 0.1f, B[1] = 0.2f, B[2] = -0.3f;
        if (ra)
            B[3] = 0.05f, B[4] = -0.1f, B[5] = 0.25f;
        float xs[2] = {1.0f, -2.0f};
        ws = run1(net, 1, xs, &err);
        double hp = 0;
        for (int t = 0; t < 2; t++) {
            double xt = xs[t], s = 1.0;
            double brz = ra ? B[3] : 0, brr = ra ? B[4] : 0, brh = ra ? B[5] : 0;
            double z = 1 / (1 + exp(-(xt * W[0] + B[0] + hp * U[0] + brz)));
            double r = 1 / (1 + exp(-(xt * W[1] + B[1] + hp * U[1] + brr)));
            double hh = ra ? tanh(xt * W[2] + B[2] + r * (hp * U[2] + brh))
                           : tanh(xt * W[2] + B[2] + (r * hp) * U[2]);
            hp = z * hp + (1 - z) * hh * s;
        }
        assert_float_equal(nn_workspace_output(ws)[0], hp, 1e-6);
        nn_workspace_free(ws);
        nn_net_free(net);
    }
}

/* ---- workspaces and batches --------------------------------------------------------- */

static nn_net *build_mixed(void)
{
    /* two inputs: a stamp branch and a feature vector, BN, separable, GAP */
    nn_net *net = nn_net_new();
    int img = tu_input(net, "img", 3, 9, 9, 3);
    int feat = tu_input(net, "feat", 1, 4, 0, 0);
    nn_layer L = conv(NN_SEPARABLE_CONV2D, "sep", img, 6, 3, 1, NN_PAD_SAME, NN_ACT_RELU);
    L.depth_multiplier = 2;
    int i = tu_add(net, &L);
    L = one_in(NN_BATCHNORM, "bn", i);
    i = tu_add(net, &L);
    L = pool(NN_MAXPOOL2D, "pool", i, 2, 2, NN_PAD_SAME);
    i = tu_add(net, &L);
    L = conv(NN_CONV2D, "conv", i, 5, 3, 1, NN_PAD_VALID, NN_ACT_TANH);
    i = tu_add(net, &L);
    L = one_in(NN_GLOBAL_AVGPOOL2D, "gap", i);
    int g = tu_add(net, &L);
    L = dense("fd", feat, 5, NN_ACT_LEAKY_RELU);
    int f = tu_add(net, &L);
    L = nn_layer_defaults(NN_CONCAT, "cat");
    L.n_in = 2;
    L.in[0] = g;
    L.in[1] = f;
    i = tu_add(net, &L);
    L = one_in(NN_DROPOUT, "drop", i);
    L.rate = 0.3f;
    i = tu_add(net, &L);
    L = dense("out", i, 3, NN_ACT_SOFTMAX);
    tu_add(net, &L);
    tu_finalize(net);
    return net;
}

static void test_workspace_batches(void **state)
{
    (void)state;
    sv_error err;
    nn_net *net = build_mixed();
    tu_random_weights(net, 0.5);
    int B = 5;
    size_t ni = tu_input_size(net, 0), nf = tu_input_size(net, 1), no = 3;
    float *img = malloc(B * ni * sizeof(float)), *feat = malloc(B * nf * sizeof(float));
    tu_fill(img, B * ni, -1, 1);
    tu_fill(feat, B * nf, -1, 1);
    nn_workspace *ws = nn_workspace_new(net, B, 0, &err);
    assert_non_null(ws);
    const float *ins[2] = {img, feat};
    assert_int_equal(nn_forward(ws, net, B, ins, 0, &err), 0);
    float full[15];
    memcpy(full, nn_workspace_output(ws), sizeof full);
    for (int s = 0; s < B; s++) {
        double sum = 0;
        for (int k = 0; k < 3; k++)
            sum += full[s * 3 + k];
        assert_float_equal(sum, 1.0, 1e-6);
    }
    /* smaller batches in the same workspace, each sample alone */
    for (int s = 0; s < B; s++) {
        const float *one[2] = {img + s * ni, feat + s * nf};
        assert_int_equal(nn_forward(ws, net, 1, one, 0, &err), 0);
        for (int k = 0; k < 3; k++)
            assert_float_equal(nn_workspace_output(ws)[k], full[s * no + k], 1e-6);
    }
    assert_int_equal(nn_forward(ws, net, 2, ins, 0, &err), 0);
    for (int k = 0; k < 6; k++)
        assert_float_equal(nn_workspace_output(ws)[k], full[k], 1e-6);
    /* refused requests */
    assert_true(nn_forward(ws, net, B + 1, ins, 0, &err) != 0);
    assert_non_null(strstr(err.text, "batch"));
    assert_true(nn_forward(ws, net, 0, ins, 0, &err) != 0);
    assert_true(nn_forward(ws, net, 1, ins, 1, &err) != 0); /* inference workspace */
    float d[3] = {0};
    assert_true(nn_backward(ws, net, d, NULL, &err) != 0);
    const float *bad[2] = {img, NULL};
    assert_true(nn_forward(ws, net, 1, bad, 0, &err) != 0);
    assert_non_null(strstr(err.text, "feat"));
    nn_workspace_free(ws);

    /* a training workspace running inference gives the same numbers */
    ws = nn_workspace_new(net, B, 1, &err);
    assert_non_null(ws);
    assert_int_equal(nn_forward(ws, net, B, ins, 0, &err), 0);
    for (int k = 0; k < 15; k++)
        assert_float_equal(nn_workspace_output(ws)[k], full[k], 1e-6);
    assert_true(nn_backward(ws, net, full, NULL, &err) != 0); /* not a training pass */
    nn_workspace_free(ws);

    /* absurd batches are refused before anything is allocated */
    nn_net *big = build_braai(63);
    tu_finalize(big);
    assert_null(nn_workspace_new(big, 1 << 20, 0, &err));
    assert_non_null(strstr(err.text, "2^31"));
    assert_null(nn_workspace_new(big, 0, 0, &err));
    nn_net_free(big);

    /* a workspace for another network is refused */
    nn_net *other = build_braai(20);
    tu_finalize(other);
    ws = nn_workspace_new(other, 1, 0, &err);
    assert_true(nn_forward(ws, net, 1, ins, 0, &err) != 0);
    nn_workspace_free(ws);
    nn_net_free(other);
    free(img);
    free(feat);
    nn_net_free(net);
}

/* GRU: batched = one by one, and workspace reuse in training */
static void test_gru_batches(void **state)
{
    (void)state;
    sv_error err;
    for (int ra = 0; ra < 2; ra++) {
        nn_net *net = nn_net_new();
        int i = tu_input(net, "seq", 2, 6, 3, 0);
        nn_layer L = one_in(NN_GRU, "g", i);
        L.units = 5;
        L.reset_after = ra;
        L.return_sequences = 1;
        i = tu_add(net, &L);
        L = one_in(NN_GRU, "g2", i);
        L.units = 2;
        tu_add(net, &L);
        tu_finalize(net);
        nn_net_init_weights(net, 3);
        float x[4 * 18];
        tu_fill(x, 72, -1, 1);
        nn_workspace *ws = nn_workspace_new(net, 4, 1, &err);
        const float *ins[1] = {x};
        assert_int_equal(nn_forward(ws, net, 4, ins, 0, &err), 0);
        float full[8];
        memcpy(full, nn_workspace_output(ws), sizeof full);
        for (int s = 0; s < 4; s++) {
            const float *one[1] = {x + s * 18};
            assert_int_equal(nn_forward(ws, net, 1, one, 1, &err), 0);
            assert_float_equal(nn_workspace_output(ws)[0], full[s * 2], 1e-6);
            assert_float_equal(nn_workspace_output(ws)[1], full[s * 2 + 1], 1e-6);
        }
        nn_workspace_free(ws);
        nn_net_free(net);
    }
}

/* ---- determinism, initialisation, clone ----------------------------------------------- */

static void test_init_determinism(void **state)
{
    (void)state;
    nn_net *a = build_mixed(), *b = build_mixed();
    nn_net_init_weights(a, 42);
    nn_net_init_weights(b, 42);
    for (int i = 0; i < a->n_layers; i++)
        for (int j = 0; j < a->layers[i].n_params; j++)
            assert_memory_equal(a->layers[i].p[j].w, b->layers[i].p[j].w,
                                a->layers[i].p[j].size * sizeof(float));
    nn_net_init_weights(b, 43);
    nn_param *ka = nn_net_param(a, "conv", "kernel"), *kb = nn_net_param(b, "conv", "kernel");
    assert_true(memcmp(ka->w, kb->w, ka->size * sizeof(float)) != 0);
    /* Glorot bound: sqrt(6 / (fan_in + fan_out)), fans 3*3*6 and 3*3*5 */
    double lim = sqrt(6.0 / (9 * 6 + 9 * 5)), mx = 0;
    for (size_t k = 0; k < ka->size; k++)
        mx = fmax(mx, fabs(ka->w[k]));
    assert_true(mx <= lim && mx > 0.8 * lim);
    assert_float_equal(nn_net_param(a, "bn", "gamma")->w[0], 1.0f, 0);
    assert_float_equal(nn_net_param(a, "bn", "moving_variance")->w[3], 1.0f, 0);
    assert_float_equal(nn_net_param(a, "bn", "moving_mean")->w[3], 0.0f, 0);
    assert_float_equal(nn_net_param(a, "out", "bias")->w[1], 0.0f, 0);

    /* clone: same numbers, independent storage */
    nn_net *c = nn_net_clone(a);
    assert_non_null(c);
    assert_int_equal(c->n_layers, a->n_layers);
    nn_param *kc = nn_net_param(c, "conv", "kernel");
    assert_ptr_not_equal(kc->w, ka->w);
    assert_memory_equal(kc->w, ka->w, ka->size * sizeof(float));
    kc->w[0] += 1.0f;
    assert_true(kc->w[0] != ka->w[0]);
    nn_net_free(c);
    nn_net_free(a);
    nn_net_free(b);

    /* GRU recurrent kernel: orthonormal rows (u x 3u) */
    nn_net *g = nn_net_new();
    int i = tu_input(g, "s", 2, 3, 2, 0);
    nn_layer L = one_in(NN_GRU, "gru", i);
    L.units = 4;
    tu_add(g, &L);
    tu_finalize(g);
    nn_net_init_weights(g, 9);
    nn_param *U = nn_net_param(g, "gru", "recurrent_kernel");
    for (int r1 = 0; r1 < 4; r1++)
        for (int r2 = 0; r2 < 4; r2++) {
            double d = 0;
            for (int k = 0; k < 12; k++)
                d += (double)U->w[r1 * 12 + k] * U->w[r2 * 12 + k];
            assert_float_equal(d, r1 == r2 ? 1.0 : 0.0, 1e-5);
        }
    nn_net_free(g);
}

/* ---- threads: one net, a workspace per thread ----------------------------------------- */

typedef struct thr_arg {
    nn_net *net;
    const float *img, *feat;
    float out[3 * 4];
    int status;
} thr_arg;

static void *thr_run(void *p)
{
    thr_arg *a = p;
    sv_error err;
    nn_workspace *ws = nn_workspace_new(a->net, 4, 0, &err);
    const float *ins[2] = {a->img, a->feat};
    a->status = ws ? 0 : -1;
    for (int rep = 0; rep < 20 && !a->status; rep++)
        a->status = nn_forward(ws, a->net, 4, ins, 0, &err);
    if (ws)
        memcpy(a->out, nn_workspace_output(ws), sizeof a->out);
    nn_workspace_free(ws);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    nn_net *net = build_mixed();
    tu_random_weights(net, 0.5);
    float img[4 * 243], feat[16];
    tu_fill(img, 4 * 243, -1, 1);
    tu_fill(feat, 16, -1, 1);
    thr_arg a[3];
    pthread_t t[3];
    for (int k = 0; k < 3; k++) {
        a[k].net = net;
        a[k].img = img;
        a[k].feat = feat;
        assert_int_equal(pthread_create(&t[k], NULL, thr_run, &a[k]), 0);
    }
    for (int k = 0; k < 3; k++) {
        pthread_join(t[k], NULL);
        assert_int_equal(a[k].status, 0);
        assert_memory_equal(a[k].out, a[0].out, sizeof a[0].out);
    }
    nn_net_free(net);
}

/* ---- BatchNormalization training statistics ------------------------------------------- */

static void test_bn_training_stats(void **state)
{
    (void)state;
    sv_error err;
    for (int rank = 1; rank <= 3; rank += 2) {
        nn_net *net = nn_net_new();
        int i = rank == 3 ? tu_input(net, "x", 3, 2, 3, 2) : tu_input(net, "x", 1, 2, 0, 0);
        nn_layer L = one_in(NN_BATCHNORM, "bn", i);
        L.momentum = 0.9f;
        tu_add(net, &L);
        tu_finalize(net);
        nn_net_init_weights(net, 1);
        int B = 4;
        size_t per = net->layers[0].out_size, rows = B * per / 2;
        float *x = malloc(B * per * sizeof(float));
        tu_fill(x, B * per, -2, 3);
        nn_workspace *ws = nn_workspace_new(net, B, 1, &err);
        const float *ins[1] = {x};
        assert_int_equal(nn_forward(ws, net, B, ins, 1, &err), 0);
        const float *y = nn_workspace_output(ws);
        for (int c = 0; c < 2; c++) {
            double m = 0, v = 0, ym = 0, yv = 0;
            for (size_t r = 0; r < rows; r++)
                m += x[r * 2 + c];
            m /= rows;
            for (size_t r = 0; r < rows; r++)
                v += (x[r * 2 + c] - m) * (x[r * 2 + c] - m);
            for (size_t r = 0; r < rows; r++)
                ym += y[r * 2 + c];
            ym /= rows;
            for (size_t r = 0; r < rows; r++)
                yv += (y[r * 2 + c] - ym) * (y[r * 2 + c] - ym);
            /* normalised with the biased variance */
            assert_float_equal(ym, 0.0, 1e-6);
            assert_float_equal(yv / rows, v / rows / (v / rows + 1e-3), 1e-5);
            /* moving statistics: unbiased for images (TF fused), biased else */
            double vb = rank == 3 ? v / (rows - 1) : v / rows;
            assert_float_equal(nn_net_param(net, "bn", "moving_mean")->w[c], 0.1 * m, 1e-6);
            assert_float_equal(nn_net_param(net, "bn", "moving_variance")->w[c],
                               0.9 + 0.1 * vb, 1e-6);
        }
        /* frozen: inference-mode normalisation, statistics untouched */
        net->layers[1].trainable = 0;
        float mv[2];
        memcpy(mv, nn_net_param(net, "bn", "moving_variance")->w, sizeof mv);
        assert_int_equal(nn_forward(ws, net, B, ins, 1, &err), 0);
        assert_memory_equal(mv, nn_net_param(net, "bn", "moving_variance")->w, sizeof mv);
        nn_workspace_free(ws);
        free(x);
        nn_net_free(net);
    }
}

/* ---- optimisers ------------------------------------------------------------------------ */

/* Train `net` (one input of 2 features) for `steps` full-batch steps on a
 * fixed toy problem; returns first and last loss. */
static void train_toy(nn_net *net, nn_opt_kind kind, float lr, int steps, int softmax,
                      double *first, double *last, nn_optimizer **keep)
{
    sv_error err;
    enum { N = 48 };
    float x[N * 2], y[N * 3], p_grad[N * 3];
    tu_seed(555);
    for (int s = 0; s < N; s++) {
        x[2 * s] = tu_range(-1, 1);
        x[2 * s + 1] = tu_range(-1, 1);
        int cls = x[2 * s] + 0.5f * x[2 * s + 1] > 0.1f ? 1 : 0;
        if (softmax) {
            if (x[2 * s] > 0.6f)
                cls = 2;
            for (int k = 0; k < 3; k++)
                y[s * 3 + k] = (float)(k == cls);
        } else {
            y[s] = (float)cls;
        }
    }
    nn_opt_config cfg = nn_opt_defaults(kind);
    cfg.lr = lr;
    nn_optimizer *opt = nn_optimizer_new(net, &cfg, &err);
    assert_non_null(opt);
    nn_workspace *ws = nn_workspace_new(net, N, 1, &err);
    assert_non_null(ws);
    nn_workspace_seed(ws, 99);
    const float *ins[1] = {x};
    for (int it = 0; it < steps; it++) {
        assert_int_equal(nn_forward(ws, net, N, ins, 1, &err), 0);
        const float *p = nn_workspace_output(ws);
        double L = softmax ? nn_loss_cce(p, y, N, 3, NULL, p_grad)
                           : nn_loss_bce(p, y, N, 1, NULL, p_grad);
        if (it == 0)
            *first = L;
        *last = L;
        nn_workspace_zero_grads(ws);
        assert_int_equal(nn_backward(ws, net, p_grad, NULL, &err), 0);
        nn_optimizer_step(opt, net, ws, 1.0f);
    }
    nn_workspace_free(ws);
    if (keep)
        *keep = opt;
    else
        nn_optimizer_free(opt);
}

static nn_net *toy_net(int out, nn_act act, uint64_t seed)
{
    nn_net *net = nn_net_new();
    int i = tu_input(net, "x", 1, 2, 0, 0);
    nn_layer L = dense("h", i, 8, NN_ACT_TANH);
    i = tu_add(net, &L);
    L = one_in(NN_DROPOUT, "drop", i);
    L.rate = 0.1f;
    i = tu_add(net, &L);
    L = dense("o", i, out, act);
    tu_add(net, &L);
    tu_finalize(net);
    nn_net_init_weights(net, seed);
    return net;
}

static void test_optimizers_learn(void **state)
{
    (void)state;
    double first, last;
    nn_net *net = toy_net(1, NN_ACT_SIGMOID, 1);
    train_toy(net, NN_OPT_ADAM, 0.05f, 150, 0, &first, &last, NULL);
    fprintf(stderr, "# adam bce: %.4f -> %.4f\n", first, last);
    assert_true(last < 0.4 * first);
    nn_net_free(net);

    net = toy_net(1, NN_ACT_SIGMOID, 1);
    train_toy(net, NN_OPT_SGD, 0.5f, 150, 0, &first, &last, NULL);
    fprintf(stderr, "# sgd bce: %.4f -> %.4f\n", first, last);
    assert_true(last < 0.4 * first);
    nn_net_free(net);

    net = toy_net(3, NN_ACT_SOFTMAX, 2);
    train_toy(net, NN_OPT_ADAM, 0.05f, 150, 1, &first, &last, NULL);
    fprintf(stderr, "# adam cce: %.4f -> %.4f\n", first, last);
    assert_true(last < 0.4 * first);
    nn_net_free(net);

    /* bad configuration */
    sv_error err;
    net = toy_net(1, NN_ACT_SIGMOID, 1);
    nn_opt_config cfg = nn_opt_defaults(NN_OPT_ADAM);
    cfg.beta1 = 1.5f;
    assert_null(nn_optimizer_new(net, &cfg, &err));
    assert_non_null(strstr(err.text, "beta1"));
    nn_net_free(net);
}

static void test_freeze(void **state)
{
    (void)state;
    double first, last;
    /* trainable = 0 on the hidden layer: bit-identical weights */
    nn_net *net = toy_net(1, NN_ACT_SIGMOID, 5);
    nn_net *before = nn_net_clone(net);
    net->layers[1].trainable = 0;
    train_toy(net, NN_OPT_ADAM, 0.05f, 30, 0, &first, &last, NULL);
    assert_memory_equal(net->layers[1].p[0].w, before->layers[1].p[0].w, 16 * sizeof(float));
    assert_memory_equal(net->layers[1].p[1].w, before->layers[1].p[1].w, 8 * sizeof(float));
    assert_true(memcmp(net->layers[3].p[0].w, before->layers[3].p[0].w, 8 * sizeof(float)) != 0);
    assert_true(last < first);
    nn_net_free(net);

    /* the same with SGD momentum, freezing the output layer instead */
    net = toy_net(1, NN_ACT_SIGMOID, 5);
    net->layers[3].trainable = 0;
    train_toy(net, NN_OPT_SGD, 0.3f, 30, 0, &first, &last, NULL);
    assert_memory_equal(net->layers[3].p[0].w, before->layers[3].p[0].w, 8 * sizeof(float));
    assert_true(memcmp(net->layers[1].p[0].w, before->layers[1].p[0].w, 16 * sizeof(float)) != 0);
    nn_net_free(net);

    /* a per-layer learning-rate scale of 0 freezes too; 1 leaves it moving */
    net = toy_net(1, NN_ACT_SIGMOID, 5);
    sv_error err;
    nn_opt_config cfg = nn_opt_defaults(NN_OPT_ADAM);
    nn_optimizer *opt = nn_optimizer_new(net, &cfg, &err);
    nn_optimizer_set_layer_lr_scale(opt, 1, 0.0f);
    nn_workspace *ws = nn_workspace_new(net, 2, 1, &err);
    float x[4] = {0.1f, 0.2f, -0.3f, 0.4f}, d[2] = {1.0f, -0.5f};
    const float *ins[1] = {x};
    assert_int_equal(nn_forward(ws, net, 2, ins, 1, &err), 0);
    nn_workspace_zero_grads(ws);
    assert_int_equal(nn_backward(ws, net, d, NULL, &err), 0);
    nn_optimizer_step(opt, net, ws, 1.0f);
    assert_memory_equal(net->layers[1].p[0].w, before->layers[1].p[0].w, 16 * sizeof(float));
    assert_true(memcmp(net->layers[3].p[0].w, before->layers[3].p[0].w, 8 * sizeof(float)) != 0);
    nn_workspace_free(ws);
    nn_optimizer_free(opt);
    nn_net_free(net);
    nn_net_free(before);
}

static void test_training_determinism(void **state)
{
    (void)state;
    double f1, l1, f2, l2;
    nn_net *a = toy_net(3, NN_ACT_SOFTMAX, 11), *b = toy_net(3, NN_ACT_SOFTMAX, 11);
    train_toy(a, NN_OPT_ADAM, 0.02f, 25, 1, &f1, &l1, NULL);
    train_toy(b, NN_OPT_ADAM, 0.02f, 25, 1, &f2, &l2, NULL);
    assert_true(l1 == l2);
    for (int i = 0; i < a->n_layers; i++)
        for (int j = 0; j < a->layers[i].n_params; j++)
            assert_memory_equal(a->layers[i].p[j].w, b->layers[i].p[j].w,
                                a->layers[i].p[j].size * sizeof(float));
    nn_net_free(a);
    nn_net_free(b);
}

/* gradients of two half-batch workspaces sum to the full-batch gradient */
static void test_add_grads(void **state)
{
    (void)state;
    sv_error err;
    nn_net *net = build_mixed();
    tu_random_weights(net, 0.5);
    net->layers[3].trainable = 0; /* BN frozen: per-sample, so halves add up */
    int B = 4;
    size_t ni = tu_input_size(net, 0), nf = tu_input_size(net, 1);
    float *img = malloc(B * ni * sizeof(float)), feat[16], d[12];
    tu_fill(img, B * ni, -1, 1);
    tu_fill(feat, B * nf, -1, 1);
    tu_fill(d, 12, -1, 1);
    nn_layer *drop = &net->layers[nn_net_find(net, "drop")];
    drop->rate = 0.0f;
    nn_workspace *full = nn_workspace_new(net, B, 1, &err);
    nn_workspace *h1 = nn_workspace_new(net, 2, 1, &err), *h2 = nn_workspace_new(net, 2, 1, &err);
    const float *in_full[2] = {img, feat}, *in1[2] = {img, feat},
                *in2[2] = {img + 2 * ni, feat + 2 * nf};
    nn_workspace_zero_grads(full);
    nn_workspace_zero_grads(h1);
    nn_workspace_zero_grads(h2);
    assert_int_equal(nn_forward(full, net, B, in_full, 1, &err), 0);
    assert_int_equal(nn_backward(full, net, d, NULL, &err), 0);
    assert_int_equal(nn_forward(h1, net, 2, in1, 1, &err), 0);
    assert_int_equal(nn_backward(h1, net, d, NULL, &err), 0);
    assert_int_equal(nn_forward(h2, net, 2, in2, 1, &err), 0);
    assert_int_equal(nn_backward(h2, net, d + 6, NULL, &err), 0);
    nn_workspace_add_grads(h1, h2);
    int compared = 0;
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++) {
            float *gf = nn_workspace_grad(full, i, j), *gs = nn_workspace_grad(h1, i, j);
            if (!gf)
                continue;
            for (size_t k = 0; k < net->layers[i].p[j].size; k++)
                assert_float_equal(gf[k], gs[k], 1e-5 + 1e-4 * fabs(gf[k]));
            compared++;
        }
    assert_true(compared >= 8);
    assert_null(nn_workspace_grad(full, 0, 0));
    assert_null(nn_workspace_grad(full, 99, 0));
    nn_workspace_free(full);
    nn_workspace_free(h1);
    nn_workspace_free(h2);
    free(img);
    nn_net_free(net);
}

/* ---- reference dump for tests/python/nn_reference.py ------------------------------------ */

static void json_floats(FILE *f, const float *v, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, i ? ",%.9g" : "%.9g", (double)v[i]);
    fputc(']', f);
}

/* weights: uniform +-0.6 for single layers; Glorot (realistic magnitudes,
 * as trained networks have) plus small random biases for deep ones */
static void dump_case(FILE *f, const char *name, nn_net *net, int batch, int first, int glorot)
{
    sv_error err;
    if (glorot) {
        nn_net_init_weights(net, 2024);
        for (int i = 0; i < net->n_layers; i++)
            for (int j = 0; j < net->layers[i].n_params; j++)
                if (!strcmp(net->layers[i].p[j].name, "bias"))
                    tu_fill(net->layers[i].p[j].w, net->layers[i].p[j].size, -0.1, 0.1);
    } else {
        tu_random_weights(net, 0.6);
    }
    float *in[NN_MAX_NET_INPUTS];
    for (int k = 0; k < net->n_inputs; k++) {
        size_t n = (size_t)batch * tu_input_size(net, k);
        in[k] = malloc(n * sizeof(float));
        tu_fill(in[k], n, -1, 1);
        const nn_layer *I = &net->layers[net->inputs[k]];
        if (!strcmp(I->name, "mask") && I->rank == 2) /* a step mask: every third step */
            for (size_t st = 0; st < (size_t)batch * I->shape[0]; st++)
                if (st % 3 == 1)
                    memset(in[k] + st * I->shape[1], 0, (size_t)I->shape[1] * sizeof(float));
    }
    nn_workspace *ws = nn_workspace_new(net, batch, 0, &err);
    if (!ws || nn_forward(ws, net, batch, (const float *const *)in, 0, &err)) {
        fprintf(stderr, "dump %s: %s\n", name, err.text);
        exit(1);
    }
    fprintf(f, "%s{\"name\":\"%s\",\"batch\":%d,\"output\":%d,\"layers\":[\n", first ? "" : ",\n",
            name, batch, net->output);
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        fprintf(f,
                "%s{\"name\":\"%s\",\"kind\":\"%s\",\"act\":\"%s\",\"alpha\":%.9g,"
                "\"filters\":%d,\"units\":%d,\"kernel\":[%d,%d],\"strides\":[%d,%d],"
                "\"padding\":\"%s\",\"depth_multiplier\":%d,\"use_bias\":%d,\"epsilon\":%.9g,"
                "\"return_sequences\":%d,\"reset_after\":%d,\"recurrent_act\":\"%s\","
                "\"mask_value\":%.9g,\"in\":[",
                i ? ",\n" : "", L->name, nn_kind_name(L->kind), nn_act_name(L->act),
                (double)L->alpha, L->filters, L->units, L->kh, L->kw, L->sh, L->sw,
                L->padding == NN_PAD_SAME ? "same" : "valid", L->depth_multiplier, L->use_bias,
                (double)L->epsilon, L->return_sequences, L->reset_after,
                nn_act_name(L->recurrent_act), (double)L->mask_value);
        for (int k = 0; k < L->n_in; k++)
            fprintf(f, k ? ",%d" : "%d", L->in[k]);
        fprintf(f, "],\"shape\":[");
        for (int d = 0; d < L->rank; d++)
            fprintf(f, d ? ",%d" : "%d", L->shape[d]);
        fprintf(f, "],\"params\":{");
        for (int j = 0; j < L->n_params; j++) {
            fprintf(f, "%s\"%s\":{\"shape\":[", j ? "," : "", L->p[j].name);
            for (int d = 0; d < L->p[j].rank; d++)
                fprintf(f, d ? ",%d" : "%d", L->p[j].dims[d]);
            fprintf(f, "],\"data\":");
            json_floats(f, L->p[j].w, L->p[j].size);
            fputc('}', f);
        }
        fprintf(f, "},\"out\":");
        json_floats(f, nn_workspace_layer_output(ws, i), (size_t)batch * L->out_size);
        fputc('}', f);
    }
    fprintf(f, "],\"inputs\":[");
    for (int k = 0; k < net->n_inputs; k++) {
        fprintf(f, "%s{\"layer\":%d,\"data\":", k ? "," : "", net->inputs[k]);
        json_floats(f, in[k], (size_t)batch * tu_input_size(net, k));
        fputc('}', f);
        free(in[k]);
    }
    fprintf(f, "]}");
    nn_workspace_free(ws);
}

static int dump_reference(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    tu_seed(4242);
    fprintf(f, "{\"cases\":[\n");
    int first = 1, glorot = 0;
    nn_net *net;
    nn_layer L;
    int i;
#define DUMP(nm)                                                                               \
    do {                                                                                       \
        tu_finalize(net);                                                                      \
        dump_case(f, nm, net, 2, first, glorot);                                               \
        first = 0;                                                                             \
        nn_net_free(net);                                                                      \
    } while (0)

    /* convolutions */
    struct {
        const char *name;
        int h, w, c, f, k, s;
        nn_padding pad;
        nn_act act;
    } cv[] = {
        {"conv valid 3x3", 8, 7, 3, 4, 3, 1, NN_PAD_VALID, NN_ACT_RELU},
        {"conv same 3x3", 7, 8, 2, 3, 3, 1, NN_PAD_SAME, NN_ACT_LINEAR},
        {"conv same 3x3 stride 2", 9, 8, 3, 4, 3, 2, NN_PAD_SAME, NN_ACT_TANH},
        {"conv same 4x4 stride 2", 8, 9, 2, 3, 4, 2, NN_PAD_SAME, NN_ACT_LINEAR},
        {"conv valid 3x3 stride 2", 9, 9, 2, 3, 3, 2, NN_PAD_VALID, NN_ACT_SIGMOID},
        {"conv 1x1", 5, 5, 4, 3, 1, 1, NN_PAD_VALID, NN_ACT_LINEAR},
    };
    for (size_t k = 0; k < sizeof cv / sizeof cv[0]; k++) {
        net = nn_net_new();
        i = tu_input(net, "x", 3, cv[k].h, cv[k].w, cv[k].c);
        L = conv(NN_CONV2D, "conv", i, cv[k].f, cv[k].k, cv[k].s, cv[k].pad, cv[k].act);
        tu_add(net, &L);
        DUMP(cv[k].name);
    }
    for (int k = 0; k < 3; k++) {
        net = nn_net_new();
        i = tu_input(net, "x", 3, 8, 7, 3);
        L = conv(NN_DEPTHWISE_CONV2D, "dw", i, 0, 3, k == 2 ? 2 : 1,
                 k == 0 ? NN_PAD_VALID : NN_PAD_SAME, NN_ACT_LINEAR);
        L.depth_multiplier = k == 0 ? 1 : 2;
        tu_add(net, &L);
        DUMP(k == 0 ? "depthwise valid" : k == 1 ? "depthwise same dm2" : "depthwise same s2 dm2");
    }
    for (int k = 0; k < 2; k++) {
        net = nn_net_new();
        i = tu_input(net, "x", 3, 7, 7, 3);
        L = conv(NN_SEPARABLE_CONV2D, "sep", i, 4, 3, 1 + k, NN_PAD_SAME, NN_ACT_RELU);
        L.depth_multiplier = 1 + k;
        tu_add(net, &L);
        DUMP(k ? "separable same s2 dm2" : "separable same");
    }
    /* pools */
    struct {
        const char *name;
        nn_kind kind;
        int k, s;
        nn_padding pad;
    } pl[] = {
        {"maxpool 2 valid", NN_MAXPOOL2D, 2, 2, NN_PAD_VALID},
        {"maxpool 3 same s2", NN_MAXPOOL2D, 3, 2, NN_PAD_SAME},
        {"maxpool 4 valid", NN_MAXPOOL2D, 4, 4, NN_PAD_VALID},
        {"avgpool 2 valid", NN_AVGPOOL2D, 2, 2, NN_PAD_VALID},
        {"avgpool 3 same s2", NN_AVGPOOL2D, 3, 2, NN_PAD_SAME},
        {"avgpool 2 same s1", NN_AVGPOOL2D, 2, 1, NN_PAD_SAME},
    };
    for (size_t k = 0; k < sizeof pl / sizeof pl[0]; k++) {
        net = nn_net_new();
        i = tu_input(net, "x", 3, 9, 8, 3);
        L = pool(pl[k].kind, "pool", i, pl[k].k, pl[k].s, pl[k].pad);
        tu_add(net, &L);
        DUMP(pl[k].name);
    }
    net = nn_net_new();
    i = tu_input(net, "x", 3, 5, 6, 4);
    L = one_in(NN_GLOBAL_AVGPOOL2D, "gap", i);
    tu_add(net, &L);
    DUMP("global average pool");
    /* GlobalAveragePooling1D, plain and masked by a second input (every
     * third step of "mask" is all zeros: dump_case) */
    for (int masked = 0; masked < 2; masked++) {
        net = nn_net_new();
        i = tu_input(net, "x", 2, 7, 3, 0);
        int mk = masked ? tu_input(net, "mask", 2, 7, 2, 0) : -1;
        L = one_in(NN_GLOBAL_AVGPOOL1D, "gap1d", i);
        if (masked) {
            L.n_in = 2;
            L.in[1] = mk;
        }
        tu_add(net, &L);
        DUMP(masked ? "global average pool 1d, masked" : "global average pool 1d");
    }
    /* dense and activations */
    for (int a = 0; a < NN_ACT_COUNT; a++) {
        net = nn_net_new();
        i = tu_input(net, "x", 1, 6, 0, 0);
        L = dense("dense", i, 5, (nn_act)a);
        L.alpha = 0.15f;
        tu_add(net, &L);
        char nm[64];
        snprintf(nm, sizeof nm, "dense %s", nn_act_name((nn_act)a));
        DUMP(nm);
    }
    net = nn_net_new();
    i = tu_input(net, "x", 2, 4, 3, 0);
    L = dense("td", i, 5, NN_ACT_SOFTMAX);
    tu_add(net, &L);
    DUMP("dense on sequence softmax");
    /* batch normalisation (inference), flatten */
    net = nn_net_new();
    i = tu_input(net, "x", 3, 4, 3, 5);
    L = one_in(NN_BATCHNORM, "bn", i);
    L.epsilon = 1e-3f;
    i = tu_add(net, &L);
    L = one_in(NN_FLATTEN, "flat", i);
    tu_add(net, &L);
    DUMP("batchnorm + flatten");
    /* GRU */
    for (int ra = 0; ra < 2; ra++)
        for (int hs = 0; hs < 2; hs++)
            for (int rs = 0; rs < 2; rs++) {
                net = nn_net_new();
                i = tu_input(net, "x", 2, 6, 3, 0);
                L = one_in(NN_GRU, "gru", i);
                L.units = 4;
                L.reset_after = ra;
                L.recurrent_act = hs ? NN_ACT_HARD_SIGMOID : NN_ACT_SIGMOID;
                L.return_sequences = rs;
                tu_add(net, &L);
                char nm[64];
                snprintf(nm, sizeof nm, "gru reset_after=%d %s seq=%d", ra,
                         hs ? "hard_sigmoid" : "sigmoid", rs);
                DUMP(nm);
            }
    /* multi-input network (ACAI-like) and a small braai */
    net = build_mixed();
    net->layers[nn_net_find(net, "bn")].epsilon = 1e-3f;
    DUMP("two inputs: separable, bn, pool, conv, gap, dense, concat, softmax");
    glorot = 1;
    net = build_braai(24);
    DUMP("braai layout on 24x24, Glorot weights");
    net = build_braai(63);
    DUMP("braai layout on 63x63, Glorot weights");
#undef DUMP
    fprintf(f, "\n]}\n");
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--dump-reference"))
        return dump_reference(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_braai_shapes),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_forward_exact),
        cmocka_unit_test(test_workspace_batches),
        cmocka_unit_test(test_gru_batches),
        cmocka_unit_test(test_init_determinism),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_bn_training_stats),
        cmocka_unit_test(test_optimizers_learn),
        cmocka_unit_test(test_freeze),
        cmocka_unit_test(test_training_determinism),
        cmocka_unit_test(test_add_grads),
    };
    tu_seed(777);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
