/* test_nn_plan.c — the inference fast path (nn_plan) against the reference
 * engine (nn_forward): every covered layer configuration, the braai network,
 * every instruction set this CPU runs (generic always), with and without
 * Winograd, batches 1, 3, 16 and odd sizes, one to three threads (at batch
 * 1 the threads share the stamp); the reference fallback for uncovered
 * networks; argument errors. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nn/fast/lc_infer.h"
#include "nn/fast/nn_plan.h"
#include "nn/fast/nn_train.h"
#include "nn_test_util.h"

/* ---- building nets ------------------------------------------------------ */

/* ZTF's braai (VGG6) with random weights */
static nn_net *braai(void)
{
    nn_net *n = nn_net_new();
    assert_non_null(n);
    tu_input(n, "stamp", 3, 63, 63, 3);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_pool(n, NN_MAXPOOL2D, 2, 2, NN_PAD_VALID);
    tu_simple(n, NN_DROPOUT);
    tu_conv(n, 32, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_conv(n, 32, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_pool(n, NN_MAXPOOL2D, 4, 4, NN_PAD_VALID);
    tu_simple(n, NN_DROPOUT);
    tu_simple(n, NN_FLATTEN);
    tu_dense(n, 256, NN_ACT_RELU);
    tu_simple(n, NN_DROPOUT);
    tu_dense(n, 1, NN_ACT_SIGMOID);
    tu_finalize(n);
    assert_int_equal(nn_net_count_params(n, 0), 312081);
    return n;
}

/* ---- comparing ---------------------------------------------------------- */

static const int batches[] = {1, 3, 16, 17};

/* Run net through the reference and through a plan of every supported ISA
 * at every batch size and 1 and 2 threads; the outputs must agree to 1e-5
 * (absolute, relative above 1).  expect_isa: the ISA the plan must report
 * ("reference" for a fallback), or NULL for the fast path. */
static void compare_net(nn_net *net, const char *label, int expect_reference)
{
    sv_error err;
    sv_error_clear(&err);
    const int maxb = 17;
    size_t osz = net->layers[net->output].out_size;
    float *x[NN_MAX_NET_INPUTS];
    const float *in[NN_MAX_NET_INPUTS];
    for (int k = 0; k < net->n_inputs; k++) {
        size_t isz = tu_input_size(net, k);
        x[k] = malloc((size_t)maxb * isz * sizeof(float));
        assert_non_null(x[k]);
        tu_fill(x[k], (size_t)maxb * isz, -0.5, 1.0);
        in[k] = x[k];
    }
    float *out = malloc((size_t)maxb * osz * sizeof(float));
    float *ref = malloc((size_t)maxb * osz * sizeof(float));
    assert_non_null(out);
    assert_non_null(ref);
    nn_workspace *ws = nn_workspace_new(net, maxb, 0, &err);
    assert_non_null(ws);
    assert_int_equal(nn_forward(ws, net, maxb, in, 0, &err), 0);
    memcpy(ref, nn_workspace_output(ws), (size_t)maxb * osz * sizeof(float));
    nn_workspace_free(ws);

    for (int variant = 0; variant < 2 * NN_ISA_COUNT; variant++) {
        int isa = variant / 2;
        /* every thread started (the results must not depend on how many) */
        unsigned flags = (variant % 2 ? NN_PLAN_NO_WINOGRAD : 0) | NN_PLAN_ALL_THREADS;
        if (isa < NN_ISA_GENERIC || isa > NN_ISA_AVX512)
            continue;
        if (!nn_isa_supported((nn_isa)isa)) {
            if (!(flags & NN_PLAN_NO_WINOGRAD))
                printf("# %s: %s not supported on this CPU, not tested\n", label,
                       nn_isa_name((nn_isa)isa));
            continue;
        }
        nn_plan *p = nn_plan_new_flags(net, maxb, (nn_isa)isa, flags, &err);
        if (!p)
            fprintf(stderr, "%s: %s\n", label, err.text);
        assert_non_null(p);
        assert_int_equal(nn_plan_out_size(p), osz);
        if (expect_reference)
            assert_string_equal(nn_plan_isa(p), "reference");
        else
            assert_string_equal(nn_plan_isa(p), nn_isa_name((nn_isa)isa));
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++)
            for (int th = 1; th <= 3; th++) { /* batch 1: 2 and 3 share a stamp */
                int b = batches[bi];
                for (size_t i = 0; i < (size_t)maxb * osz; i++)
                    out[i] = NAN;
                int st = nn_plan_run(p, b, in, out, th, &err);
                if (st)
                    fprintf(stderr, "%s: %s\n", label, err.text);
                assert_int_equal(st, 0);
                double worst = 0;
                for (size_t i = 0; i < (size_t)b * osz; i++) {
                    double r = ref[i], d = fabs((double)out[i] - r);
                    double tol = 1e-5 * (fabs(r) > 1 ? fabs(r) : 1);
                    if (!(d <= tol)) {
                        fprintf(stderr, "%s isa %s%s batch %d threads %d: output %zu = %.8g, "
                                        "reference %.8g\n",
                                label, nn_plan_isa(p), flags & NN_PLAN_NO_WINOGRAD ? " (direct only)" : "", b, th, i,
                                out[i], r);
                        fail();
                    }
                    if (d > worst)
                        worst = d;
                }
                if (b == 17 && th == 2)
                    printf("# %-28s %-9s%s max |diff| %.2e over %zu outputs\n", label,
                           nn_plan_isa(p), flags & NN_PLAN_NO_WINOGRAD ? " direct" : "       ", worst,
                           (size_t)b * osz);
            }
        nn_plan_free(p);
    }
    for (int k = 0; k < net->n_inputs; k++)
        free(x[k]);
    free(out);
    free(ref);
}

typedef void (*build_fn)(nn_net *n);

static void randomise(nn_net *n);

static void check_built(const char *label, int h, int w, int c, build_fn f, int expect_ref)
{
    nn_net *n = nn_net_new();
    assert_non_null(n);
    if (h > 0)
        tu_input(n, "in", 3, h, w, c);
    else
        tu_input(n, "in", 1, c, 0, 0);
    f(n);
    tu_finalize(n);
    randomise(n);
    compare_net(n, label, expect_ref);
    nn_net_free(n);
}

/* Glorot kernels keep activations of order 1 through deep stacks (so 1e-5
 * measures the engine, not the cancellation of huge sums); random biases
 * and BatchNormalization statistics on top */
static void randomise(nn_net *n)
{
    tu_random_weights(n, 0.3);
    nn_net_init_weights(n, 99);
    for (int i = 0; i < n->n_layers; i++) {
        nn_layer *L = &n->layers[i];
        if (L->kind != NN_BATCHNORM && L->n_params > 1)
            tu_fill(L->p[1].w, L->p[1].size, -0.2, 0.2);
        if (L->kind == NN_BATCHNORM) { /* gamma, beta, mean, variance */
            tu_fill(L->p[0].w, L->p[0].size, 0.5, 1.5);
            tu_fill(L->p[1].w, L->p[1].size, -0.2, 0.2);
            tu_fill(L->p[2].w, L->p[2].size, -0.2, 0.2);
            tu_fill(L->p[3].w, L->p[3].size, 0.5, 1.5);
        }
    }
}

/* ---- layer configurations ---------------------------------------------- */

static void b_conv_valid(nn_net *n)
{
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_conv(n, 32, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
}
static void b_conv_same(nn_net *n)
{
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
    tu_conv(n, 24, 5, 5, 1, 1, NN_PAD_SAME, NN_ACT_LINEAR);
    tu_conv(n, 20, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);  /* Winograd, padded channels */
    tu_conv(n, 33, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_TANH); /* Winograd, 3 output vectors */
}
static void b_conv_stride2(nn_net *n)
{
    tu_conv(n, 16, 3, 3, 2, 2, NN_PAD_VALID, NN_ACT_RELU);
    tu_conv(n, 40, 3, 3, 2, 2, NN_PAD_SAME, NN_ACT_RELU);
    tu_conv(n, 8, 2, 2, 2, 1, NN_PAD_SAME, NN_ACT_TANH);
}
static void b_conv_odd(nn_net *n)
{
    /* odd channel counts (padding of channels), 1x1 and rectangular kernels,
     * non-ReLU activations after the kernel */
    tu_conv(n, 5, 1, 1, 1, 1, NN_PAD_VALID, NN_ACT_LEAKY_RELU);
    tu_conv(n, 48, 3, 5, 1, 1, NN_PAD_VALID, NN_ACT_SIGMOID);
    tu_conv(n, 7, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_HARD_SIGMOID);
    tu_conv(n, 3, 1, 1, 1, 1, NN_PAD_VALID, NN_ACT_SOFTMAX);
}
static void b_pools(nn_net *n)
{
    tu_pool(n, NN_MAXPOOL2D, 3, 2, NN_PAD_SAME); /* on the raw 3-channel input */
    tu_conv(n, 20, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_pool(n, NN_AVGPOOL2D, 2, 2, NN_PAD_SAME);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_LINEAR);
    tu_pool(n, NN_MAXPOOL2D, 2, 1, NN_PAD_VALID);
    tu_pool(n, NN_AVGPOOL2D, 3, 2, NN_PAD_VALID);
}
static void b_head(nn_net *n)
{
    tu_conv(n, 12, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_pool(n, NN_MAXPOOL2D, 2, 2, NN_PAD_VALID);
    tu_simple(n, NN_DROPOUT);
    tu_simple(n, NN_FLATTEN);
    tu_act(n, NN_ACT_TANH); /* on a flattened padded image */
    tu_dense(n, 33, NN_ACT_RELU);
    tu_simple(n, NN_DROPOUT);
    tu_dense(n, 17, NN_ACT_LINEAR);
    tu_act(n, NN_ACT_LEAKY_RELU);
    tu_dense(n, 4, NN_ACT_SOFTMAX);
}
static void b_flat_input(nn_net *n)
{
    /* Flatten straight from the (unpadded) input, then dense with sigmoid */
    tu_simple(n, NN_FLATTEN);
    tu_act(n, NN_ACT_SOFTMAX); /* contiguous: stays on the fast path */
    tu_dense(n, 20, NN_ACT_SIGMOID);
    tu_dense(n, 3, NN_ACT_SIGMOID);
}
static void b_vector(nn_net *n)
{
    tu_dense(n, 64, NN_ACT_RELU);
    tu_dense(n, 30, NN_ACT_TANH);
    tu_dense(n, 2, NN_ACT_SOFTMAX);
}
static void b_image_out(nn_net *n)
{
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
    tu_conv(n, 2, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_SOFTMAX);
}
static void b_softmax_flat(nn_net *n)
{
    /* softmax over a flattened padded image: reference fallback */
    tu_conv(n, 6, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_simple(n, NN_FLATTEN);
    tu_act(n, NN_ACT_SOFTMAX);
}
static void b_bn(nn_net *n)
{
    /* BatchNormalization folded into a linear conv (direct, and Winograd on
     * 16 -> 32 channels) and a linear Dense; applied after a ReLU conv and
     * on a Flatten of padded channels */
    tu_conv(n, 8, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_LINEAR);
    tu_simple(n, NN_BATCHNORM);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
    tu_simple(n, NN_BATCHNORM);
    tu_conv(n, 32, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_LINEAR);
    tu_simple(n, NN_BATCHNORM);
    tu_conv(n, 6, 1, 1, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_simple(n, NN_FLATTEN);
    tu_simple(n, NN_BATCHNORM);
    tu_dense(n, 10, NN_ACT_LINEAR);
    tu_simple(n, NN_BATCHNORM);
    tu_act(n, NN_ACT_RELU);
    tu_dense(n, 1, NN_ACT_SIGMOID);
}

static void test_conv_valid(void **s) { (void)s; check_built("conv valid", 21, 19, 3, b_conv_valid, 0); }
static void test_conv_same(void **s) { (void)s; check_built("conv same", 15, 17, 4, b_conv_same, 0); }
static void test_conv_stride2(void **s) { (void)s; check_built("conv stride 2", 24, 23, 3, b_conv_stride2, 0); }
static void test_conv_odd(void **s) { (void)s; check_built("conv odd channels", 13, 40, 6, b_conv_odd, 0); }
static void test_pools(void **s) { (void)s; check_built("max/avg pools", 31, 29, 3, b_pools, 0); }
static void test_head(void **s) { (void)s; check_built("dense head", 16, 16, 2, b_head, 0); }
static void test_flat_input(void **s) { (void)s; check_built("flatten input", 7, 5, 3, b_flat_input, 0); }
static void test_vector(void **s) { (void)s; check_built("vector input", 0, 0, 25, b_vector, 0); }
static void test_image_out(void **s) { (void)s; check_built("image output", 12, 9, 3, b_image_out, 0); }
static void test_fallback_softmax(void **s) { (void)s; check_built("softmax flat (reference)", 9, 9, 3, b_softmax_flat, 1); }
static void test_bn(void **s) { (void)s; check_built("batchnorm folded/applied", 11, 11, 3, b_bn, 0); }

static void test_braai(void **state)
{
    (void)state;
    nn_net *n = braai();
    tu_random_weights(n, 0.1);
    compare_net(n, "braai (random weights)", 0);
    nn_net_free(n);
}

/* ---- graphs: branches meeting in one merge --------------------------------- */

/* a DepthwiseConv2D (filters 0) or SeparableConv2D after the last layer */
static void tu_sep(nn_net *n, int filters, int k, int s, int dm, nn_padding pad, nn_act act)
{
    char name[32];
    snprintf(name, sizeof name, "sep%d", n->n_layers);
    nn_layer L = nn_layer_defaults(filters ? NN_SEPARABLE_CONV2D : NN_DEPTHWISE_CONV2D, name);
    L.n_in = 1;
    L.in[0] = tu_last(n);
    L.filters = filters;
    L.kh = L.kw = k;
    L.sh = L.sw = s;
    L.depth_multiplier = dm;
    L.padding = pad;
    L.act = act;
    L.alpha = 0.1f;
    tu_add(n, &L);
}

/* a Concatenate (last axis) or Add of layers a and b */
static void tu_merge(nn_net *n, nn_kind kind, int a, int b)
{
    char name[32];
    snprintf(name, sizeof name, "merge%d", n->n_layers);
    nn_layer L = nn_layer_defaults(kind, name);
    L.n_in = 2;
    L.in[0] = a;
    L.in[1] = b;
    L.concat_axis = -1;
    tu_add(n, &L);
}

static void b_depthwise(nn_net *n)
{
    tu_sep(n, 0, 3, 1, 2, NN_PAD_SAME, NN_ACT_RELU);          /* depthwise x2 */
    tu_sep(n, 8, 3, 2, 1, NN_PAD_VALID, NN_ACT_LINEAR);       /* stride 2     */
    tu_simple(n, NN_BATCHNORM);
    tu_sep(n, 20, 3, 1, 1, NN_PAD_SAME, NN_ACT_LEAKY_RELU);
    tu_sep(n, 0, 2, 1, 1, NN_PAD_VALID, NN_ACT_TANH);
    tu_simple(n, NN_GLOBAL_AVGPOOL2D);
    tu_dense(n, 4, NN_ACT_SOFTMAX);
}
static void test_depthwise(void **s) { (void)s; check_built("depthwise/separable/GAP", 19, 17, 3, b_depthwise, 0); }

/* ACAI's shape (Duev & van der Walt 2021): Keras lists the inputs as
 * [features, triplets]; the concatenation takes the stamp branch first */
static void test_graph_acai(void **state)
{
    (void)state;
    nn_net *n = nn_net_new();
    assert_non_null(n);
    tu_input(n, "features", 1, 25, 0, 0);
    tu_dense(n, 16, NN_ACT_RELU);
    tu_dense(n, 8, NN_ACT_RELU);
    int f = tu_last(n);
    tu_input(n, "triplets", 3, 21, 21, 3);
    tu_sep(n, 8, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
    tu_pool(n, NN_MAXPOOL2D, 2, 2, NN_PAD_VALID);
    tu_sep(n, 8, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_pool(n, NN_MAXPOOL2D, 4, 4, NN_PAD_VALID);
    tu_simple(n, NN_GLOBAL_AVGPOOL2D);
    tu_merge(n, NN_CONCAT, tu_last(n), f);
    tu_dense(n, 12, NN_ACT_RELU);
    tu_simple(n, NN_DROPOUT);
    tu_dense(n, 5, NN_ACT_SIGMOID);
    tu_finalize(n);
    randomise(n);
    compare_net(n, "ACAI-shaped two-input graph", 0);
    nn_net_free(n);
}

/* images merged: Add, and Concatenate on the channel axis; a raw input
 * concatenated as it is */
static void test_graph_images(void **state)
{
    (void)state;
    for (int v = 0; v < 3; v++) {
        nn_net *n = nn_net_new();
        assert_non_null(n);
        tu_input(n, "a", 3, 9, 11, 2);
        tu_conv(n, 8, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
        int a = tu_last(n);
        tu_input(n, "b", 3, 9, 11, 4);
        if (v < 2)
            tu_conv(n, v == 0 ? 8 : 5, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_TANH);
        tu_merge(n, v == 0 ? NN_ADD : NN_CONCAT, a, tu_last(n));
        tu_conv(n, 4, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
        tu_simple(n, NN_FLATTEN);
        tu_dense(n, 3, NN_ACT_SOFTMAX);
        tu_finalize(n);
        randomise(n);
        compare_net(n, v == 0 ? "graph: Add of images" : v == 1 ? "graph: concat of images"
                                                                 : "graph: concat raw input",
                    0);
        nn_net_free(n);
    }
}

/* not of the covered shape (one input read twice; a merge that is not
 * the only one): the reference engine, same results */
static void test_graph_fallback(void **state)
{
    (void)state;
    nn_net *n = nn_net_new();
    int in = tu_input(n, "stamp", 3, 8, 8, 4);
    tu_conv(n, 4, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
    tu_merge(n, NN_ADD, in, tu_last(n)); /* a residual: the input read twice */
    tu_simple(n, NN_FLATTEN);
    tu_dense(n, 3, NN_ACT_SOFTMAX);
    tu_finalize(n);
    randomise(n);
    compare_net(n, "graph: residual (reference)", 1);
    nn_net_free(n);
    n = nn_net_new();
    int a = tu_input(n, "a", 1, 4, 0, 0);
    int b = tu_input(n, "b", 1, 4, 0, 0);
    int c = tu_input(n, "c", 1, 4, 0, 0);
    tu_merge(n, NN_ADD, a, b);
    tu_merge(n, NN_CONCAT, tu_last(n), c);
    tu_dense(n, 2, NN_ACT_SIGMOID);
    tu_finalize(n);
    randomise(n);
    compare_net(n, "graph: two merges (reference)", 1);
    nn_net_free(n);
}

/* ---- profiling ------------------------------------------------------------ */

/* nn_plan_profile: braai's steps map to its layers in order (the Dropout
 * and Flatten layers have none), their kinds are named, every compute step
 * gets time, the outputs are those of an unprofiled run, and profiling off
 * stops the counting; graphs and reference plans have no steps. */
static void test_profile(void **state)
{
    (void)state;
    sv_error err;
    sv_error_clear(&err);
    nn_net *n = braai();
    tu_random_weights(n, 0.1);
    nn_plan *p = nn_plan_new_isa(n, 4, NN_ISA_AUTO, &err);
    assert_non_null(p);
    int ns = nn_plan_steps(p);
    assert_true(ns >= 8);
    static const char *known[] = {"pad", "conv", "winograd", "depthwise", "pool", "act", "dense"};
    int last = 0;
    for (int i = 0; i < ns; i++) {
        int L = nn_plan_step_layer(p, i);
        assert_true(L > last - 1 && L < n->n_layers);
        assert_true(n->layers[L].kind != NN_DROPOUT && n->layers[L].kind != NN_FLATTEN);
        last = L;
        int ok = 0;
        for (int k = 0; k < 7; k++)
            ok |= !strcmp(nn_plan_step_kind(p, i), known[k]);
        assert_true(ok);
    }
    assert_int_equal(nn_plan_step_layer(p, ns), -1);
    assert_string_equal(nn_plan_step_kind(p, -1), "none");
    size_t isz = tu_input_size(n, 0);
    float *x = malloc(4 * isz * sizeof(float)), y0[4], y1[4];
    assert_non_null(x);
    tu_fill(x, 4 * isz, 0.0, 1.0);
    const float *in[1] = {x};
    assert_int_equal(nn_plan_run(p, 4, in, y0, 2, &err), 0);
    double *t = calloc((size_t)ns, sizeof *t);
    assert_non_null(t);
    nn_plan_profile(p, t);
    assert_int_equal(nn_plan_run(p, 4, in, y1, 2, &err), 0);
    assert_memory_equal(y0, y1, sizeof y0);
    for (int i = 0; i < ns; i++)
        assert_true(t[i] > 0);
    nn_plan_profile(p, NULL);
    double t0 = t[0];
    assert_int_equal(nn_plan_run(p, 4, in, y1, 1, &err), 0);
    assert_true(t[0] == t0);
    nn_plan_free(p);
    nn_net_free(n);
    n = nn_net_new();
    int a = tu_input(n, "a", 1, 4, 0, 0), b = tu_input(n, "b", 1, 4, 0, 0);
    tu_merge(n, NN_ADD, a, b);
    tu_dense(n, 2, NN_ACT_SIGMOID);
    tu_finalize(n);
    randomise(n);
    p = nn_plan_new_isa(n, 4, NN_ISA_AUTO, &err);
    assert_non_null(p);
    assert_int_equal(nn_plan_steps(p), 0);
    nn_plan_profile(p, t); /* ignored */
    nn_plan_free(p);
    nn_net_free(n);
    free(t);
    free(x);
}

/* the process's threads (Linux: /proc/self/status), or -1 */
static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8))
            n = atoi(line + 8);
    if (f)
        fclose(f);
    return n;
}

/* The plan keeps its helper threads between runs and joins them on
 * nn_plan_release_threads; results do not change. */
static void test_worker_threads(void **state)
{
    (void)state;
    int base = threads_now();
    if (base < 0) {
        printf("# no /proc/self/status: thread counts not checked\n");
        return;
    }
    sv_error err;
    sv_error_clear(&err);
    nn_net *n = braai();
    tu_random_weights(n, 0.1);
    nn_plan *p = nn_plan_new_flags(n, 3, NN_ISA_AUTO, NN_PLAN_ALL_THREADS, &err);
    assert_non_null(p);
    size_t isz = tu_input_size(n, 0);
    float *x = malloc(3 * isz * sizeof(float)), y0[3], y1[3];
    assert_non_null(x);
    tu_fill(x, 3 * isz, 0.0, 1.0);
    const float *in[1] = {x};
    assert_int_equal(nn_plan_run(p, 3, in, y0, 3, &err), 0);
    assert_int_equal(threads_now(), base + 2); /* kept after the run */
    assert_int_equal(nn_plan_run(p, 3, in, y1, 3, &err), 0);
    assert_int_equal(threads_now(), base + 2); /* reused, not added */
    assert_memory_equal(y0, y1, sizeof y0);
    nn_plan_release_threads(p);
    assert_int_equal(threads_now(), base);
    assert_int_equal(nn_plan_run(p, 3, in, y1, 3, &err), 0);
    assert_memory_equal(y0, y1, sizeof y0);
    nn_plan_free(p);
    assert_int_equal(threads_now(), base);
    nn_net_free(n);
    free(x);
}

/* ---- ISA selection and errors ------------------------------------------- */

static void test_isa_selection(void **state)
{
    (void)state;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(nn_isa_from_name("avx512"), NN_ISA_AVX512);
    assert_int_equal(nn_isa_from_name("generic"), NN_ISA_GENERIC);
    assert_int_equal(nn_isa_from_name("sse9"), -1);
    assert_true(nn_isa_supported(NN_ISA_GENERIC));
    assert_true(nn_isa_supported(nn_isa_best()));
    nn_net *n = braai();
    /* the environment override, read once per process (cpu.h): each value
     * in a fresh process (this program, run by isa_child below) */
    static const char *const env[] = {"generic", "reference", "mmx", "auto"};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            setenv("STAMPVET_ISA", env[i], 1);
            execl("/proc/self/exe", "test_nn_plan", "--isa-child", env[i], (char *)NULL);
            _exit(127);
        }
        int ws = 0;
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        printf("# STAMPVET_ISA=%s in a fresh process: %s\n", env[i],
               WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? "as documented" : "WRONG");
        assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    nn_plan *p = nn_plan_new(n, 4, &err);
    assert_non_null(p);
    assert_string_equal(nn_plan_isa(p), nn_isa_name(nn_isa_best()));
    printf("# best instruction set here: %s\n", nn_plan_isa(p));
    nn_plan_free(p);
    if (!nn_isa_supported(NN_ISA_AVX512)) {
        sv_error_clear(&err);
        assert_null(nn_plan_new_isa(n, 4, NN_ISA_AVX512, &err));
        assert_int_equal(err.status, SV_ERR_UNSUPPORTED);
    }
    /* FLOPs of braai: 38.1 million per stamp */
    double fl = nn_net_flops(n);
    assert_true(fl > 38.0e6 && fl < 38.2e6);
    nn_net_free(n);
}

static void test_errors(void **state)
{
    (void)state;
    sv_error err;
    sv_error_clear(&err);
    nn_net *n = nn_net_new();
    tu_input(n, "in", 1, 4, 0, 0);
    tu_dense(n, 2, NN_ACT_LINEAR);
    assert_null(nn_plan_new(n, 4, &err)); /* not finalised */
    assert_int_equal(err.status, SV_ERR_ARG);
    tu_finalize(n);
    assert_null(nn_plan_new(n, 0, &err));
    assert_null(nn_plan_new_isa(n, 4, (nn_isa)99, &err));
    nn_plan *p = nn_plan_new(n, 4, &err);
    assert_non_null(p);
    float x[20] = {0}, out[10];
    const float *in[1] = {x};
    assert_int_equal(nn_plan_run(p, 5, in, out, 1, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "batch 5"));
    assert_int_equal(nn_plan_run(p, 0, in, out, 1, &err), SV_ERR_ARG);
    assert_int_equal(nn_plan_run(p, 2, in, out, 0, &err), SV_ERR_ARG);
    assert_int_equal(nn_plan_run(p, 2, in, NULL, 1, &err), SV_ERR_ARG);
    const float *none[1] = {NULL};
    assert_int_equal(nn_plan_run(p, 2, none, out, 1, &err), SV_ERR_ARG);
    /* many threads for few stamps: only as many workers as chunks */
    assert_int_equal(nn_plan_run(p, 3, in, out, 64, &err), 0);
    nn_plan_free(p);
    nn_plan_free(NULL);
    nn_net_free(n);
}

/* two plans over one net, run from two threads at once */
typedef struct par_arg {
    nn_plan *p;
    const float *x;
    float *out;
    int st;
} par_arg;

static void *par_main(void *v)
{
    par_arg *a = v;
    sv_error err;
    const float *in[1] = {a->x};
    for (int r = 0; r < 3 && !a->st; r++)
        a->st = nn_plan_run(a->p, 8, in, a->out, 1, &err);
    return NULL;
}

static void test_concurrent_plans(void **state)
{
    (void)state;
    sv_error err;
    nn_net *n = braai();
    tu_random_weights(n, 0.1);
    size_t isz = tu_input_size(n, 0);
    float *x = malloc(8 * isz * sizeof(float));
    tu_fill(x, 8 * isz, 0, 0.3);
    float o1[8], o2[8], r[8];
    nn_plan *p1 = nn_plan_new(n, 8, &err), *p2 = nn_plan_new(n, 8, &err);
    assert_non_null(p1);
    assert_non_null(p2);
    par_arg a1 = {p1, x, o1, 0}, a2 = {p2, x, o2, 0};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, par_main, &a1), 0);
    assert_int_equal(pthread_create(&t2, NULL, par_main, &a2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(a1.st, 0);
    assert_int_equal(a2.st, 0);
    const float *in[1] = {x};
    assert_int_equal(nn_plan_run(p1, 8, in, r, 2, &err), 0);
    for (int i = 0; i < 8; i++) {
        assert_float_equal(o1[i], r[i], 0);
        assert_float_equal(o2[i], r[i], 0);
    }
    nn_plan_free(p1);
    nn_plan_free(p2);
    free(x);
    nn_net_free(n);
}

static void test_peak(void **state)
{
    (void)state;
    double g = nn_isa_peak_gflops(NN_ISA_GENERIC, 0.02);
    assert_true(g > 0.1);
    double b = nn_isa_peak_gflops(NN_ISA_AUTO, 0.02);
    assert_true(b > 0.1);
    printf("# measured FP32 peak per core: generic %.1f, %s %.1f GFLOP/s\n", g,
           nn_isa_name(nn_isa_best()), b);
    if (!nn_isa_supported(NN_ISA_AVX512))
        assert_true(nn_isa_peak_gflops(NN_ISA_AVX512, 0.01) == 0.0);
}

/* The child of test_isa_selection: STAMPVET_ISA=want is set; 0 when
 * nn_plan_new and sv_lc_infer_new honour it as documented. */
static int isa_child(const char *want)
{
    sv_error err;
    sv_error_clear(&err);
    nn_net *n = braai();
    nn_plan *p = nn_plan_new(n, 4, &err);
    int ok;
    if (!strcmp(want, "mmx"))
        ok = !p && err.status == SV_ERR_ARG && strstr(err.text, "STAMPVET_ISA='mmx'") &&
             sv_isa_requested(NULL) == -1;
    else if (!strcmp(want, "auto"))
        ok = p && !strcmp(nn_plan_isa(p), nn_isa_name(nn_isa_best()));
    else
        ok = p && !strcmp(nn_plan_isa(p), want) &&
             sv_isa_requested(NULL) == nn_isa_from_name(want);
    nn_plan_free(p);
    nn_net_free(n);
    return ok ? 0 : 1;
}

/* A layer kind the fast paths do not know (GlobalAveragePooling1D, added
 * without touching nn_plan): nn_plan runs the reference engine and agrees
 * with it; the training plan says "not covered" (its callers then use the
 * reference engine).  The light-curve fast path runs GlobalAveragePooling1D
 * (tests/test_lightcurve.c compares it) and refuses Flatten, naming it. */
static void test_fallback_unknown_kind(void **s)
{
    (void)s;
    sv_error err;
    sv_error_clear(&err);
    nn_net *net = nn_net_new();
    int i = tu_input(net, "seq", 2, 9, 4, 0);
    nn_layer C = nn_layer_defaults(NN_CONV1D, "c0");
    C.n_in = 1;
    C.in[0] = i;
    C.filters = 5;
    C.kh = 3;
    C.act = NN_ACT_RELU;
    i = tu_add(net, &C);
    nn_layer G = nn_layer_defaults(NN_GLOBAL_AVGPOOL1D, "gap1d");
    G.n_in = 1;
    G.in[0] = i;
    i = tu_add(net, &G);
    nn_layer D = nn_layer_defaults(NN_DENSE, "d");
    D.n_in = 1;
    D.in[0] = i;
    D.units = 2;
    D.act = NN_ACT_SOFTMAX;
    tu_add(net, &D);
    tu_finalize(net);
    tu_random_weights(net, 0.5);
    compare_net(net, "gap1d (reference)", 1);
    nn_net_free(net);
    /* the training plan and the light-curve path, on GAP1D straight after
     * the input (so that it is the first layer they do not know) */
    net = nn_net_new();
    i = tu_input(net, "seq", 2, 9, 4, 0);
    G.in[0] = i;
    i = tu_add(net, &G);
    D.in[0] = i;
    tu_add(net, &D);
    tu_finalize(net);
    nn_tplan *tp = nn_tplan_new(net, NN_ISA_AUTO, 0, &err);
    assert_null(tp); /* (it trains images and vectors only) */
    assert_int_equal(err.status, SV_ERR_UNSUPPORTED);
    sv_error_clear(&err);
    sv_lc_infer *lc = sv_lc_infer_new(net, 4, &err);
    assert_non_null(lc);
    sv_lc_infer_free(lc);
    nn_net_free(net);
    net = nn_net_new();
    i = tu_input(net, "seq", 2, 9, 4, 0);
    nn_layer Fl = nn_layer_defaults(NN_FLATTEN, "flat");
    Fl.n_in = 1;
    Fl.in[0] = i;
    i = tu_add(net, &Fl);
    D.in[0] = i;
    tu_add(net, &D);
    tu_finalize(net);
    sv_error_clear(&err);
    lc = sv_lc_infer_new(net, 4, &err);
    assert_null(lc);
    assert_int_equal(err.status, SV_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.text, "flatten"));
    nn_net_free(net);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--isa-child"))
        return isa_child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_valid),
        cmocka_unit_test(test_conv_same),
        cmocka_unit_test(test_conv_stride2),
        cmocka_unit_test(test_conv_odd),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_flat_input),
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_image_out),
        cmocka_unit_test(test_fallback_softmax),
        cmocka_unit_test(test_bn),
        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_graph_acai),
        cmocka_unit_test(test_graph_images),
        cmocka_unit_test(test_graph_fallback),
        cmocka_unit_test(test_braai),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_worker_threads),
        cmocka_unit_test(test_fallback_unknown_kind),
        cmocka_unit_test(test_isa_selection),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_concurrent_plans),
        cmocka_unit_test(test_peak),
    };
    tu_seed(4242);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
