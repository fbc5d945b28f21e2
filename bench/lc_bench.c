/* lc_bench.c — light-curve inference throughput: sequences per second
 * through two GRU(100) layers over 50 time steps and a softmax head, on N
 * threads (2 by default), the way the stage classifies histories: the
 * light-curve fast path (lc_infer.h), one plan per thread over its share of
 * the batch; --engine reference runs the reference engine (nn_forward)
 * instead.
 *
 * The network (Keras layout, reset_after = 1, sigmoid recurrent activation,
 * the form PyTorch's nn.GRU computes):
 *   lc_input (T, F) -> gru_1 GRU(U, return_sequences) -> gru_2 GRU(U)
 *   -> fc_out Dense(K, softmax)
 *
 * usage: lc_bench [--threads N] [--batch B] [--steps T] [--features F]
 *                 [--units U] [--classes K] [--seconds S]
 *                 [--engine fast|reference] [--dump PREFIX] [--model M.fits]
 * --model times a model file's network instead (e.g. RAPID's LSTM or TCN,
 * imported with stampvet import-keras): its own T and F, on light-curve-like
 * input (per band a Gaussian peak with noise, a redshift 0.02..0.4 as the
 * third feature, and zero-padded, so masked, tails: sample n keeps its first
 * 10 + 7n mod 41 steps); with the fast engine it fails when the fast path
 * refuses the network.
 * --dump writes PREFIX.weights (every parameter, float32, in layer then
 * parameter order, Keras shapes), PREFIX.input (B x T x F) and
 * PREFIX.output (B x K) so that bench/lc_torch.py runs the same network on
 * the same input and checks the outputs.
 * Prints `lc_seq_per_s X` (and a summary).  Not a test: numbers depend on
 * the machine and its load.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/fast/lc_infer.h"
#include "model/model_fits.h"
#include "nn/nn_engine.h"
#include "core/parallel.h"
#include "core/rng.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct job {
    nn_net *net;
    nn_workspace *ws[64];
    sv_lc_infer *fast[64];
    const float *x;
    float *out;
    int parts, batch, in_size, k;
    int status[64];
} job;

static void task(int p, void *ctx)
{
    job *J = ctx;
    int a = p * J->batch / J->parts, b = (p + 1) * J->batch / J->parts;
    if (b <= a)
        return;
    const float *in[1] = {J->x + (size_t)a * J->in_size};
    sv_error err;
    const float *o;
    if (J->fast[p]) {
        o = sv_lc_infer_run(J->fast[p], b - a, in, &err);
    } else {
        o = nn_forward(J->ws[p], J->net, b - a, in, 0, &err) ? NULL
                                                             : nn_workspace_output(J->ws[p]);
    }
    if (!o) {
        J->status[p] = 1;
        return;
    }
    memcpy(J->out + (size_t)a * J->k, o, (size_t)(b - a) * J->k * sizeof(float));
}

static int add(nn_net *net, nn_layer L, int in)
{
    if (in >= 0) {
        L.n_in = 1;
        L.in[0] = in;
    }
    return nn_net_add(net, &L, NULL);
}

static int run_timed(job *J, int threads, int batch, double seconds, double *elapsed,
                     long *done)
{
    sv_parallel_for(threads, threads, task, J); /* warm-up */
    *done = 0;
    double t0 = now_s(), t;
    do {
        sv_parallel_for(threads, threads, task, J);
        *done += batch;
        t = now_s();
    } while (t - t0 < seconds);
    *elapsed = t - t0;
    for (int p = 0; p < threads; p++)
        if (J->status[p])
            return fprintf(stderr, "lc_bench: forward failed\n"), 1;
    return 0;
}

/* --model: a model file's network on light-curve-like input */
static int bench_model(const char *path, int threads, int batch, double seconds, int reference)
{
    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    if (sv_model_read_fits(path, &m, &err))
        return fprintf(stderr, "lc_bench: %s\n", err.text), 1;
    nn_net *net = m->net;
    if (net->n_inputs != 1 || net->layers[net->inputs[0]].rank != 2) {
        sv_model_free(m);
        return fprintf(stderr, "lc_bench: %s: not one sequence input\n", path), 1;
    }
    const int T = net->layers[net->inputs[0]].shape[0], F = net->layers[net->inputs[0]].shape[1];
    const int K = (int)net->layers[net->output].out_size;
    size_t in_size = (size_t)T * F;
    float *in = malloc((size_t)batch * in_size * sizeof(float));
    float *out = malloc((size_t)batch * K * sizeof(float));
    if (!in || !out)
        return fprintf(stderr, "lc_bench: out of memory\n"), 1;
    uint32_t s = 12345;
    for (int n = 0; n < batch; n++) {
        int valid = 10 + (7 * n) % 41;
        for (int f = 0; f < F; f++) {
            sv_lcg32_next(&s);
            float peak = 8.0f + 22.0f * (float)((s >> 8) & 0xffff) / 65536.0f;
            sv_lcg32_next(&s);
            float amp = 0.5f + 2.5f * (float)((s >> 8) & 0xffff) / 65536.0f;
            sv_lcg32_next(&s);
            float w = 4.0f + 6.0f * (float)((s >> 8) & 0xffff) / 65536.0f;
            sv_lcg32_next(&s);
            float z = 0.02f + 0.38f * (float)((s >> 8) & 0xffff) / 65536.0f;
            for (int t = 0; t < T; t++) {
                sv_lcg32_next(&s);
                float noise = 0.05f * ((float)((s >> 8) & 0xffff) / 32768.0f - 1.0f);
                float g = (t - peak) / w;
                float v = f == 2 ? z : amp * expf(-0.5f * g * g) + noise;
                in[((size_t)n * T + t) * F + f] = t < valid ? v : 0.0f;
            }
        }
    }
    job J;
    memset(&J, 0, sizeof J);
    J.net = net;
    J.x = in;
    J.out = out;
    J.parts = threads;
    J.batch = batch;
    J.in_size = (int)in_size;
    J.k = K;
    int st = 0;
    for (int p = 0; p < threads && !st; p++) {
        int mb = (batch + threads - 1) / threads;
        if (!reference && !(J.fast[p] = sv_lc_infer_new(net, mb, &err)))
            st = 1;
        if (reference && !(J.ws[p] = nn_workspace_new(net, mb, 0, &err)))
            st = 1;
        if (st)
            fprintf(stderr, "lc_bench: %s\n", err.text);
    }
    double el = 0;
    long done = 0;
    if (!st)
        st = run_timed(&J, threads, batch, seconds, &el, &done);
    if (!st) {
        printf("network: %s (%s), %d steps of %d features, %zu parameters\n", path, m->name, T,
               F, nn_net_count_params(net, 0));
        printf("stampvet (%s): %d threads, batch %d, %ld sequences in %.2f s\n",
               reference ? "reference engine" : "light-curve fast path", threads, batch, done, el);
        printf("lc_seq_per_s %.1f\n", done / el);
    }
    for (int p = 0; p < threads; p++) {
        nn_workspace_free(J.ws[p]);
        sv_lc_infer_free(J.fast[p]);
    }
    free(in);
    free(out);
    sv_model_free(m);
    return st;
}

int main(int argc, char **argv)
{
    int threads = 2, batch = 512, T = 50, F = 10, U = 100, K = 7;
    double seconds = 3;
    const char *dump = NULL, *model = NULL;
    int reference = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v && strcmp(a, "--help")) {
            fprintf(stderr, "lc_bench: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--batch"))
            batch = atoi(v);
        else if (!strcmp(a, "--steps"))
            T = atoi(v);
        else if (!strcmp(a, "--features"))
            F = atoi(v);
        else if (!strcmp(a, "--units"))
            U = atoi(v);
        else if (!strcmp(a, "--classes"))
            K = atoi(v);
        else if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--dump"))
            dump = v;
        else if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--engine") && (!strcmp(v, "fast") || !strcmp(v, "reference")))
            reference = !strcmp(v, "reference");
        else {
            printf("usage: lc_bench [--threads N] [--batch B] [--steps T] [--features F] "
                   "[--units U] [--classes K] [--seconds S] [--engine fast|reference] "
                   "[--dump PREFIX] [--model M.fits]\n");
            return strcmp(a, "--help") ? 2 : 0;
        }
        i++;
    }
    if (threads < 1 || threads > 64 || batch < 1 || T < 1 || F < 1 || U < 1 || K < 2)
        return fprintf(stderr, "lc_bench: bad sizes\n"), 2;
    openblas_set_num_threads(1); /* one BLAS call per worker thread */
    if (model)
        return bench_model(model, threads, batch, seconds, reference);
    nn_net *net = nn_net_new();
    nn_layer L = nn_layer_defaults(NN_INPUT, "lc_input");
    L.rank = 2;
    L.shape[0] = T;
    L.shape[1] = F;
    int x = add(net, L, -1);
    L = nn_layer_defaults(NN_GRU, "gru_1");
    L.units = U;
    L.return_sequences = 1;
    L.reset_after = 1;
    L.recurrent_act = NN_ACT_SIGMOID;
    x = add(net, L, x);
    L = nn_layer_defaults(NN_GRU, "gru_2");
    L.units = U;
    L.reset_after = 1;
    L.recurrent_act = NN_ACT_SIGMOID;
    x = add(net, L, x);
    L = nn_layer_defaults(NN_DENSE, "fc_out");
    L.units = K;
    L.act = NN_ACT_SOFTMAX;
    x = add(net, L, x);
    sv_error err;
    sv_error_clear(&err);
    if (x < 0 || nn_net_finalize(net, &err)) {
        fprintf(stderr, "lc_bench: %s\n", err.text);
        return 1;
    }
    nn_net_init_weights(net, 7);
    /* non-zero biases so that the comparison with torch covers them */
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++)
            if (!strcmp(net->layers[i].p[j].name, "bias"))
                for (size_t e = 0; e < net->layers[i].p[j].size; e++)
                    net->layers[i].p[j].w[e] = 0.05f * (float)sin(1.0 + (double)e);

    size_t in_size = (size_t)T * F;
    float *in = malloc((size_t)batch * in_size * sizeof(float));
    float *out = malloc((size_t)batch * K * sizeof(float));
    if (!in || !out)
        return fprintf(stderr, "lc_bench: out of memory\n"), 1;
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)batch * in_size; i++) {
        sv_lcg32_next(&s);
        in[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    job J;
    memset(&J, 0, sizeof J);
    J.net = net;
    J.x = in;
    J.out = out;
    J.parts = threads;
    J.batch = batch;
    J.in_size = (int)in_size;
    J.k = K;
    for (int p = 0; p < threads; p++) {
        int mb = (batch + threads - 1) / threads;
        if (!reference && !(J.fast[p] = sv_lc_infer_new(net, mb, &err)))
            return fprintf(stderr, "lc_bench: %s\n", err.text), 1;
        if (reference && !(J.ws[p] = nn_workspace_new(net, mb, 0, &err)))
            return fprintf(stderr, "lc_bench: %s\n", err.text), 1;
    }
    sv_parallel_for(threads, threads, task, &J); /* warm-up */
    long done = 0;
    double t0 = now_s(), t;
    do {
        sv_parallel_for(threads, threads, task, &J);
        done += batch;
        t = now_s();
    } while (t - t0 < seconds);
    for (int p = 0; p < threads; p++)
        if (J.status[p])
            return fprintf(stderr, "lc_bench: forward failed\n"), 1;
    double rate = done / (t - t0);
    printf("network: 2 x GRU(%d) over %d steps of %d features, dense softmax %d, %zu "
           "parameters\n",
           U, T, F, K, nn_net_count_params(net, 0));
    printf("stampvet (%s): %d threads, batch %d, %ld sequences in %.2f s\n",
           reference ? "reference engine" : "light-curve fast path", threads, batch, done, t - t0);
    printf("lc_seq_per_s %.1f\n", rate);
    if (dump) {
        char path[1024];
        snprintf(path, sizeof path, "%s.weights", dump);
        FILE *f = fopen(path, "wb");
        for (int i = 0; f && i < net->n_layers; i++)
            for (int j = 0; j < net->layers[i].n_params; j++)
                fwrite(net->layers[i].p[j].w, sizeof(float), net->layers[i].p[j].size, f);
        if (f)
            fclose(f);
        snprintf(path, sizeof path, "%s.input", dump);
        f = fopen(path, "wb");
        if (f) {
            fwrite(in, sizeof(float), (size_t)batch * in_size, f);
            fclose(f);
        }
        snprintf(path, sizeof path, "%s.output", dump);
        f = fopen(path, "wb");
        if (f) {
            fwrite(out, sizeof(float), (size_t)batch * K, f);
            fclose(f);
        }
    }
    for (int p = 0; p < threads; p++) {
        nn_workspace_free(J.ws[p]);
        sv_lc_infer_free(J.fast[p]);
    }
    free(in);
    free(out);
    nn_net_free(net);
    return 0;
}
