/* test_nn_train.c — the training fast path (nn_train.h) against the
 * reference engine (nn_engine.h), on every ISA this CPU runs (generic,
 * avx2, avx512), Winograd on and off.
 *
 * For networks that hold every layer kind the fast path trains (Conv2D
 * valid / same / strided, padded and dense channels, every activation;
 * MaxPool2D, AveragePool2D with "same" windows; Dropout on images and
 * vectors; Activation; Flatten of padded channels; Dense with sigmoid and
 * softmax; a frozen layer), one forward and backward on both engines with
 * the same Dropout seed must give:
 *   - the same outputs to 1e-4 (absolute, relative above 1);
 *   - the same parameter gradients: for each tensor, the largest
 *     difference at most 1e-3 of its largest reference value (the sums run
 *     in another order, Winograd rounds differently, and a ReLU or max-pool
 *     decision on a value within rounding of a tie can move one
 *     contribution; measured differences are printed);
 *   - no gradient for frozen parameters.
 * Then whole training runs (sv_train, the `stampvet train` loop, on the
 * fast path and with STAMPVET_ISA=reference) must follow the same losses to
 * 1e-3 relative over 2 epochs and end within 1e-4 of each other in every
 * weight (Adam moves an element by up to about lr = 1e-3 per step whatever
 * the gradient's size, so rounding could flip a near-zero element's step;
 * measured: 6e-8), and the fast path must give bit-identical weights with
 * 1 and 2 threads.  The optimiser step split over threads (nn_tplan_update)
 * must equal the step done whole, bit for bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "model/arch.h"
#include "data/dataset.h"
#include "model/model.h"
#include "nn/fast/nn_train.h"
#include "nn_test_util.h"
#include "train/train.h"

/* ---- networks ------------------------------------------------------------ */

/* every image kind: padded channels, same/strided convs, both pools, image
 * Dropout and Activation, Flatten of padded channels, vector Dropout */
static nn_net *net_kinds(int freeze)
{
    nn_net *n = nn_net_new();
    assert_non_null(n);
    tu_input(n, "x", 3, 13, 12, 3);
    tu_conv(n, 5, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);     /* 11x10x5 (pitch 16) */
    tu_pool(n, NN_MAXPOOL2D, 2, 2, NN_PAD_SAME);             /* 6x5 */
    tu_conv(n, 16, 3, 2, 2, 1, NN_PAD_SAME, NN_ACT_TANH);     /* strided, padded input */
    tu_simple(n, NN_DROPOUT);
    tu_conv(n, 6, 2, 2, 1, 1, NN_PAD_VALID, NN_ACT_LEAKY_RELU);
    tu_act(n, NN_ACT_SIGMOID);
    tu_pool(n, NN_AVGPOOL2D, 2, 2, NN_PAD_SAME);
    tu_simple(n, NN_FLATTEN);                                 /* groups of 6 at pitch 16 */
    tu_simple(n, NN_DROPOUT);
    tu_dense(n, 20, NN_ACT_RELU);
    tu_dense(n, 7, NN_ACT_HARD_SIGMOID);
    tu_dense(n, 1, NN_ACT_SIGMOID);
    tu_finalize(n);
    if (freeze)
        n->layers[3].trainable = 0; /* the strided conv: data gradient only */
    return n;
}

/* 3x3 stride-1 convolutions on 16 and 32 channels: Winograd forward and
 * data gradient where the ISA takes it; softmax output */
static nn_net *net_wino(void)
{
    nn_net *n = nn_net_new();
    assert_non_null(n);
    tu_input(n, "x", 3, 14, 13, 3);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_conv(n, 32, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    tu_conv(n, 32, 3, 3, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
    tu_pool(n, NN_MAXPOOL2D, 2, 2, NN_PAD_VALID);
    tu_simple(n, NN_FLATTEN);
    tu_dense(n, 24, NN_ACT_RELU);
    tu_simple(n, NN_DROPOUT);
    tu_dense(n, 3, NN_ACT_SOFTMAX);
    tu_finalize(n);
    return n;
}

/* pooling backward both ways: overlapping windows (3x3 stride 2, the
 * general loop) and windows that tile the input with a border on the left
 * (3x3 stride 3 "same", pl = 1) or on top (2x2 stride 2 "same", pt = 1 on
 * an odd size is 0: 4x4 stride 4 on 9 rows gives pt = 1), max and average */
static nn_net *net_pools(void)
{
    nn_net *n = nn_net_new();
    assert_non_null(n);
    tu_input(n, "x", 3, 13, 12, 4);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU); /* 11x10 */
    tu_pool(n, NN_MAXPOOL2D, 3, 2, NN_PAD_SAME);            /* overlapping: 6x5 */
    tu_conv(n, 16, 2, 2, 1, 1, NN_PAD_SAME, NN_ACT_TANH);   /* 6x5 */
    tu_pool(n, NN_AVGPOOL2D, 3, 3, NN_PAD_SAME);            /* tiled, pl = 1: 2x2 */
    tu_simple(n, NN_FLATTEN);
    tu_dense(n, 5, NN_ACT_RELU);
    tu_dense(n, 1, NN_ACT_SIGMOID);
    tu_finalize(n);
    return n;
}

static nn_net *net_pools_top(void)
{
    nn_net *n = nn_net_new();
    assert_non_null(n);
    tu_input(n, "x", 3, 11, 7, 3);
    tu_conv(n, 16, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU); /* 9x5 */
    tu_pool(n, NN_MAXPOOL2D, 4, 4, NN_PAD_SAME);            /* tiled, pt = 1: 3x2 */
    tu_conv(n, 16, 2, 2, 1, 1, NN_PAD_SAME, NN_ACT_RELU);
    tu_pool(n, NN_MAXPOOL2D, 2, 2, NN_PAD_VALID);           /* tiled, last row uncovered */
    tu_simple(n, NN_FLATTEN);
    tu_dense(n, 1, NN_ACT_SIGMOID);
    tu_finalize(n);
    return n;
}

/* a feature vector: Dense, Dropout, Activation softmax */
static nn_net *net_vector(void)
{
    nn_net *n = nn_net_new();
    assert_non_null(n);
    tu_input(n, "f", 1, 10, 0, 0);
    tu_dense(n, 12, NN_ACT_TANH);
    tu_simple(n, NN_DROPOUT);
    tu_dense(n, 4, NN_ACT_LINEAR);
    tu_act(n, NN_ACT_SOFTMAX);
    tu_finalize(n);
    return n;
}

/* ---- one step on both engines ------------------------------------------------ */

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static void compare_step(nn_net *net, const char *label, unsigned flags)
{
    sv_error err;
    sv_error_clear(&err);
    const int B = 5;
    size_t isz = tu_input_size(net, 0), osz = net->layers[net->output].out_size;
    float *x = malloc((size_t)B * isz * sizeof(float));
    float *dy = malloc((size_t)B * osz * sizeof(float));
    assert_non_null(x);
    assert_non_null(dy);
    tu_fill(x, (size_t)B * isz, -1.0, 1.0);
    tu_fill(dy, (size_t)B * osz, -1.0, 1.0);
    const float *in[1] = {x};
    nn_workspace *ref = nn_workspace_new(net, B, 1, &err);
    assert_non_null(ref);
    for (int isa = NN_ISA_GENERIC; isa <= NN_ISA_AVX512; isa++) {
        if (!nn_isa_supported((nn_isa)isa)) {
            printf("# %s: %s not supported here, skipped\n", label, nn_isa_name((nn_isa)isa));
            continue;
        }
        nn_tplan *p = nn_tplan_new(net, (nn_isa)isa, flags, &err);
        if (!p)
            fprintf(stderr, "%s: %s\n", label, err.text);
        assert_non_null(p);
        assert_string_equal(nn_tplan_isa(p), nn_isa_name((nn_isa)isa));
        nn_tws *ws = nn_tws_new(p, B, &err);
        assert_non_null(ws);
        for (int training = 0; training <= 1; training++) {
            nn_workspace_seed(ref, 99);
            nn_tws_seed(ws, 99);
            assert_int_equal(nn_forward(ref, net, B, in, training, &err), 0);
            assert_int_equal(nn_tws_forward(ws, B, x, training, &err), 0);
            const float *a = nn_tws_output(ws), *b = nn_workspace_output(ref);
            for (size_t i = 0; i < (size_t)B * osz; i++) {
                double tol = 1e-4 * (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
                if (fabs(a[i] - b[i]) > tol)
                    fprintf(stderr, "%s %s training %d: output %zu = %.8g, reference %.8g\n",
                            label, nn_tplan_isa(p), training, i, a[i], b[i]);
                assert_true(fabs(a[i] - b[i]) <= tol);
            }
        }
        /* backward of the training pass */
        nn_workspace_zero_grads(ref);
        nn_tws_zero_grads(ws);
        assert_int_equal(nn_backward(ref, net, dy, NULL, &err), 0);
        assert_int_equal(nn_tws_backward(ws, dy, &err), 0);
        float *grads[NN_MAX_PARAMS * 64] = {0};
        assert_true(net->n_layers <= 64);
        for (int i = 0; i < net->n_layers; i++)
            for (int j = 0; j < net->layers[i].n_params; j++) {
                grads[i * NN_MAX_PARAMS + j] = calloc(net->layers[i].p[j].size, sizeof(float));
                assert_non_null(grads[i * NN_MAX_PARAMS + j]);
            }
        nn_tws_grads(ws, grads);
        double worst = 0;
        for (int i = 0; i < net->n_layers; i++) {
            const nn_layer *L = &net->layers[i];
            for (int j = 0; j < L->n_params; j++) {
                const float *g = grads[i * NN_MAX_PARAMS + j];
                const float *r = nn_workspace_grad(ref, i, j);
                size_t n = L->p[j].size;
                if (!L->trainable) { /* frozen: no gradient on either side */
                    assert_false(nn_tplan_has_grad(p, i, j));
                    assert_true(max_abs(g, n) == 0);
                    continue;
                }
                assert_true(nn_tplan_has_grad(p, i, j));
                assert_non_null(r);
                double scale = max_abs(r, n), d = 0;
                assert_true(scale > 0); /* the test reaches every parameter */
                for (size_t e = 0; e < n; e++)
                    d = fabs(g[e] - r[e]) > d ? fabs(g[e] - r[e]) : d;
                if (d > 1e-3 * scale)
                    fprintf(stderr, "%s %s: layer %s param %s: max diff %.3g of %.3g\n", label,
                            nn_tplan_isa(p), L->name, L->p[j].name, d, scale);
                assert_true(d <= 1e-3 * scale);
                worst = d / scale > worst ? d / scale : worst;
            }
        }
        printf("# %-22s %-7s%s: gradients within %.2g (relative to each tensor's largest)\n",
               label, nn_tplan_isa(p), flags ? " direct" : "", worst);
        for (int i = 0; i < NN_MAX_PARAMS * 64; i++)
            free(grads[i]);
        nn_tws_free(ws);
        nn_tplan_free(p);
    }
    nn_workspace_free(ref);
    free(x);
    free(dy);
}

static void test_layer_kinds(void **state)
{
    (void)state;
    tu_seed(11);
    nn_net *n = net_kinds(0);
    tu_random_weights(n, 0.5);
    compare_step(n, "kinds", 0);
    nn_net_free(n);
}

static void test_frozen_layer(void **state)
{
    (void)state;
    tu_seed(12);
    nn_net *n = net_kinds(1);
    tu_random_weights(n, 0.5);
    compare_step(n, "kinds, one frozen", 0);
    nn_net_free(n);
}

static void test_winograd(void **state)
{
    (void)state;
    tu_seed(13);
    nn_net *n = net_wino();
    tu_random_weights(n, 0.3);
    compare_step(n, "3x3 convs", 0);
    compare_step(n, "3x3 convs", NN_PLAN_NO_WINOGRAD);
    nn_net_free(n);
}

static void test_pools(void **state)
{
    (void)state;
    tu_seed(15);
    nn_net *n = net_pools();
    tu_random_weights(n, 0.5);
    compare_step(n, "pools", 0);
    nn_net_free(n);
    n = net_pools_top();
    tu_random_weights(n, 0.5);
    compare_step(n, "pools, top border", 0);
    nn_net_free(n);
}

static void test_vector(void **state)
{
    (void)state;
    tu_seed(14);
    nn_net *n = net_vector();
    tu_random_weights(n, 0.5);
    compare_step(n, "vector", 0);
    nn_net_free(n);
}

/* what the fast path does not cover is said, so that training falls back */
static void test_not_covered(void **state)
{
    (void)state;
    sv_error err;
    nn_net *n = nn_net_new();
    tu_input(n, "x", 3, 8, 8, 3);
    tu_conv(n, 4, 3, 3, 1, 1, NN_PAD_VALID, NN_ACT_RELU);
    nn_layer L = nn_layer_defaults(NN_BATCHNORM, "bn");
    L.n_in = 1;
    L.in[0] = tu_last(n);
    tu_add(n, &L);
    tu_simple(n, NN_FLATTEN);
    tu_dense(n, 1, NN_ACT_SIGMOID);
    tu_finalize(n);
    sv_error_clear(&err);
    assert_null(nn_tplan_new(n, NN_ISA_GENERIC, 0, &err));
    assert_int_equal(err.status, SV_ERR_UNSUPPORTED);
    printf("# %s\n", err.text);
    assert_non_null(strstr(err.text, "not covered"));
    sv_error_clear(&err);
    assert_null(nn_tplan_new(n, NN_ISA_REFERENCE, 0, &err));
    assert_int_equal(err.status, SV_ERR_UNSUPPORTED);
    nn_net_free(n);
}

/* ---- whole training runs --------------------------------------------------------- */

/* nn_tplan_update (the sum over slices, Adam and the repacking cut over
 * threads by input channel) against the same step done whole: the slices'
 * gradients summed in slice order in Keras layout, nn_optimizer_step_grads,
 * nn_tplan_sync.  Over 3 steps (Adam's moments carried), on a network with
 * a frozen layer, 1 to 4 threads: the weights and the plan's next outputs
 * must be bit-identical. */
static void update_run(nn_net *net, int threads, float *out)
{
    enum { S = 3, B = 4, STEPS = 3 };
    sv_error err;
    sv_error_clear(&err);
    size_t isz = tu_input_size(net, 0), osz = net->layers[net->output].out_size;
    nn_tplan *p = nn_tplan_new(net, NN_ISA_AUTO, 0, &err);
    assert_non_null(p);
    nn_opt_config oc = nn_opt_defaults(NN_OPT_ADAM);
    nn_optimizer *opt = nn_optimizer_new(net, &oc, &err);
    assert_non_null(opt);
    nn_tws *ws[S];
    float *x = malloc((size_t)B * isz * sizeof(float));
    float *dy = malloc((size_t)B * osz * sizeof(float));
    assert_non_null(x);
    assert_non_null(dy);
    float *sum[NN_MAX_PARAMS * 64] = {0}, *one[NN_MAX_PARAMS * 64] = {0};
    assert_true(net->n_layers <= 64);
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++)
            if (nn_tplan_has_grad(p, i, j)) {
                sum[i * NN_MAX_PARAMS + j] = malloc(net->layers[i].p[j].size * sizeof(float));
                one[i * NN_MAX_PARAMS + j] = malloc(net->layers[i].p[j].size * sizeof(float));
            }
    for (int k = 0; k < S; k++) {
        ws[k] = nn_tws_new(p, B, &err);
        assert_non_null(ws[k]);
    }
    tu_seed(5);
    for (int step = 0; step < STEPS; step++) {
        for (int k = 0; k < S; k++) {
            tu_fill(x, (size_t)B * isz, -1.0, 1.0);
            tu_fill(dy, (size_t)B * osz, -1.0, 1.0);
            nn_tws_seed(ws[k], (uint64_t)(100 * step + k));
            nn_tws_zero_grads(ws[k]);
            assert_int_equal(nn_tws_forward(ws[k], B, x, 1, &err), 0);
            assert_int_equal(nn_tws_backward(ws[k], dy, &err), 0);
        }
        if (threads > 0) {
            nn_tplan_update(p, ws, S, opt, net, threads);
            continue;
        }
        nn_tws_grads(ws[0], sum); /* the step whole */
        for (int k = 1; k < S; k++) {
            nn_tws_grads(ws[k], one);
            for (int i = 0; i < NN_MAX_PARAMS * 64; i++)
                if (sum[i]) {
                    size_t n = net->layers[i / NN_MAX_PARAMS].p[i % NN_MAX_PARAMS].size;
                    for (size_t e = 0; e < n; e++)
                        sum[i][e] += one[i][e];
                }
        }
        nn_optimizer_step_grads(opt, net, (const float *const *)sum, 1.0f);
        nn_tplan_sync(p, net);
    }
    tu_fill(x, (size_t)B * isz, -1.0, 1.0);
    assert_int_equal(nn_tws_forward(ws[0], B, x, 0, &err), 0);
    memcpy(out, nn_tws_output(ws[0]), (size_t)B * osz * sizeof(float));
    for (int k = 0; k < S; k++)
        nn_tws_free(ws[k]);
    for (int i = 0; i < NN_MAX_PARAMS * 64; i++) {
        free(sum[i]);
        free(one[i]);
    }
    free(x);
    free(dy);
    nn_optimizer_free(opt);
    nn_tplan_free(p);
}

static void test_update_split(void **state)
{
    (void)state;
    tu_seed(3);
    nn_net *base = net_kinds(1);
    nn_net *whole = nn_net_clone(base);
    assert_non_null(whole);
    size_t osz = base->layers[base->output].out_size;
    float out_whole[64], out_split[64];
    assert_true(4 * osz <= 64);
    update_run(whole, 0, out_whole);
    int moved = 0;
    for (int i = 0; i < base->n_layers; i++)
        for (int j = 0; j < base->layers[i].n_params; j++)
            moved |= memcmp(base->layers[i].p[j].w, whole->layers[i].p[j].w,
                            base->layers[i].p[j].size * sizeof(float)) != 0;
    assert_true(moved); /* the steps changed the weights */
    for (int threads = 1; threads <= 4; threads++) {
        nn_net *split = nn_net_clone(base);
        assert_non_null(split);
        update_run(split, threads, out_split);
        for (int i = 0; i < base->n_layers; i++)
            for (int j = 0; j < base->layers[i].n_params; j++)
                assert_memory_equal(split->layers[i].p[j].w, whole->layers[i].p[j].w,
                                    base->layers[i].p[j].size * sizeof(float));
        assert_memory_equal(out_split, out_whole, 4 * osz * sizeof(float));
        printf("# nn_tplan_update on %d thread(s): bit-identical to the whole step\n", threads);
        nn_net_free(split);
    }
    nn_net_free(whole);
    nn_net_free(base);
}

typedef struct run {
    nn_net *net;
    sv_train_result res;
} run;

static void train_run(const char *isa, int threads, run *r)
{
    const int H = 21, W = 21, N = 96;
    size_t per = (size_t)3 * H * W;
    float *stamps = malloc((size_t)N * per * sizeof(float));
    int *labels = malloc((size_t)N * sizeof(int));
    assert_non_null(stamps);
    assert_non_null(labels);
    tu_seed(2024);
    for (int i = 0; i < N; i++) {
        labels[i] = i & 1;
        tu_fill(stamps + i * per, per, 0.0, 1.0);
        if (labels[i])
            for (int y = 8; y < 13; y++)
                for (int x = 8; x < 13; x++)
                    stamps[i * per + 2 * H * W + y * W + x] += 2.0f;
    }
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_source src;
    assert_int_equal(sv_source_memory(&src, stamps, labels, N, H, W, 1, 2, NULL, &err), 0);
    nn_net *net = NULL;
    assert_int_equal(sv_arch_build("mini", H, W, 3, 1, 7, &net, &err), 0);
    sv_model *m = sv_model_new(net);
    assert_non_null(m);
    m->pre = sv_preproc_braai(SV_NORM_L2);
    m->pre.out_h = m->pre.out_w = m->pre.stamp_size = H;
    snprintf(m->name, sizeof m->name, "t");
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 2;
    cfg.batch = 16;
    cfg.val_fraction = 0;
    cfg.patience = 0;
    cfg.threads = threads;
    if (isa)
        cfg.isa = (nn_isa)nn_isa_from_name(isa);
    int st = sv_train(m, &src, &cfg, &r->res, &err);
    if (st)
        fprintf(stderr, "train: %s\n", err.text);
    assert_int_equal(st, 0);
    r->net = nn_net_clone(m->net);
    assert_non_null(r->net);
    sv_model_free(m);
    sv_source_close(&src);
    free(stamps);
    free(labels);
}

static void test_training_runs(void **state)
{
    (void)state;
    run ref, fast, fast1;
    train_run("reference", 2, &ref);
    train_run(NULL, 2, &fast);
    train_run(NULL, 1, &fast1);
    const int steps = 2 * (96 / 16);
    assert_int_equal(ref.res.n_history, 2);
    for (int e = 0; e < 2; e++) {
        double a = fast.res.history[e].loss, b = ref.res.history[e].loss;
        printf("# epoch %d loss: fast %.7f, reference %.7f\n", e + 1, a, b);
        assert_true(fabs(a - b) <= 1e-3 * fabs(b));
    }
    double worst = 0;
    for (int i = 0; i < ref.net->n_layers; i++)
        for (int j = 0; j < ref.net->layers[i].n_params; j++) {
            const nn_param *pa = &fast.net->layers[i].p[j], *pb = &ref.net->layers[i].p[j],
                           *pc = &fast1.net->layers[i].p[j];
            for (size_t k = 0; k < pa->size; k++) {
                double d = fabs(pa->w[k] - pb->w[k]);
                worst = d > worst ? d : worst;
                assert_true(d <= 1e-4);
            }
            /* bit-identical for 1 and 2 threads */
            assert_memory_equal(pa->w, pc->w, pa->size * sizeof(float));
        }
    printf("# after %d steps: weights within %.3g of the reference engine's\n", steps, worst);
    nn_net_free(ref.net);
    nn_net_free(fast.net);
    nn_net_free(fast1.net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_kinds),   cmocka_unit_test(test_frozen_layer),
        cmocka_unit_test(test_winograd),      cmocka_unit_test(test_pools),
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_not_covered),   cmocka_unit_test(test_update_split),
        cmocka_unit_test(test_training_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
