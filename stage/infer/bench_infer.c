/* bench_infer.c — inference throughput measurements (bench_infer.h). */
#include "infer/bench_infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "nn/nn_engine.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float uni(uint64_t *x, float lo, float hi)
{
    return lo + (hi - lo) * (float)sv_rng_u01(sv_splitmix64(x));
}

static int add(nn_net *n, nn_layer *L, sv_error *err)
{
    if (n->n_layers > 0 && L->kind != NN_INPUT) {
        L->n_in = 1;
        L->in[0] = n->n_layers - 1;
    }
    return nn_net_add(n, L, err) < 0 ? -1 : 0;
}

nn_net *sv_bench_braai(int h, int w, uint64_t seed, sv_error *err)
{
    nn_net *n = nn_net_new();
    if (!n) {
        sv_error_set(err, SV_ERR_NOMEM, "sv_bench_braai: out of memory");
        return NULL;
    }
    nn_layer L = nn_layer_defaults(NN_INPUT, "triplet");
    L.rank = 3;
    L.shape[0] = h;
    L.shape[1] = w;
    L.shape[2] = 3;
    int st = add(n, &L, err);
    static const struct {
        const char *name;
        nn_kind kind;
        int a;  /* filters, pool size, units */
        nn_act act;
    } spec[] = {
        {"conv1", NN_CONV2D, 16, NN_ACT_RELU},     {"conv2", NN_CONV2D, 16, NN_ACT_RELU},
        {"max_pooling2d", NN_MAXPOOL2D, 2, 0},     {"dropout", NN_DROPOUT, 0, 0},
        {"conv3", NN_CONV2D, 32, NN_ACT_RELU},     {"conv4", NN_CONV2D, 32, NN_ACT_RELU},
        {"max_pooling2d_1", NN_MAXPOOL2D, 4, 0},   {"dropout_1", NN_DROPOUT, 0, 0},
        {"flatten", NN_FLATTEN, 0, 0},             {"fc_1", NN_DENSE, 256, NN_ACT_RELU},
        {"dropout_2", NN_DROPOUT, 0, 0},           {"fc_out", NN_DENSE, 1, NN_ACT_SIGMOID},
    };
    for (size_t i = 0; !st && i < sizeof spec / sizeof spec[0]; i++) {
        L = nn_layer_defaults(spec[i].kind, spec[i].name);
        L.act = spec[i].act;
        switch (spec[i].kind) {
        case NN_CONV2D:
            L.filters = spec[i].a;
            L.kh = L.kw = 3;
            break;
        case NN_MAXPOOL2D:
            L.kh = L.kw = spec[i].a;
            break;
        case NN_DENSE:
            L.units = spec[i].a;
            break;
        case NN_DROPOUT:
            L.rate = 0.25f;
            break;
        default:
            break;
        }
        st = add(n, &L, err);
    }
    if (st || nn_net_finalize(n, err)) {
        nn_net_free(n);
        return NULL;
    }
    nn_net_init_weights(n, seed);
    uint64_t s = seed ^ 0xb1a5ULL;
    for (int i = 0; i < n->n_layers; i++)
        if (n->layers[i].n_params > 1)
            for (size_t k = 0; k < n->layers[i].p[1].size; k++)
                n->layers[i].p[1].w[k] = uni(&s, -0.05f, 0.05f);
    return n;
}

/* batch samples of network input k */
static float *random_input(const nn_net *net, int k, int batch, uint64_t seed)
{
    size_t n = (size_t)batch * net->layers[net->inputs[k]].out_size;
    float *x = malloc(n * sizeof(float));
    if (x)
        for (size_t i = 0; i < n; i++)
            x[i] = uni(&seed, 0.0f, 0.25f);
    return x;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int sv_bench_measure(const nn_net *net, nn_isa isa, int threads, int batch, int runs,
                     double seconds, sv_bench_result *r, sv_error *err)
{
    if (!net || !r || threads < 1 || batch < 1 || runs < 1 || runs > 1000 || !(seconds > 0))
        return sv_error_set(err, SV_ERR_ARG, "sv_bench_measure: bad arguments");
    nn_plan *p = nn_plan_new_isa(net, batch, isa, err);
    if (!p)
        return err ? err->status : SV_ERR_INTERNAL;
    float *x[NN_MAX_NET_INPUTS] = {NULL};
    const float *in[NN_MAX_NET_INPUTS];
    int st = 0;
    for (int k = 0; k < net->n_inputs; k++) {
        x[k] = random_input(net, k, batch, 99 + (uint64_t)k);
        in[k] = x[k];
        if (!x[k])
            st = sv_error_set(err, SV_ERR_NOMEM, "sv_bench_measure: out of memory");
    }
    float *out = malloc((size_t)batch * nn_plan_out_size(p) * sizeof(float));
    double *rate = malloc((size_t)runs * sizeof(double));
    if (st || !out || !rate) {
        st = sv_error_set(err, SV_ERR_NOMEM, "sv_bench_measure: out of memory");
        goto done;
    }
    /* warm up, and find how many calls make a run of `seconds` */
    long iters = 1;
    for (;;) {
        double t0 = now_s();
        for (long i = 0; i < iters && !st; i++)
            st = nn_plan_run(p, batch, in, out, threads, err);
        double dt = now_s() - t0;
        if (st)
            goto done;
        if (dt > 0.05 || iters > (1L << 30)) {
            iters = (long)(iters * seconds / (dt > 1e-9 ? dt : 1e-9)) + 1;
            break;
        }
        iters *= 2;
    }
    for (int k = 0; k < runs; k++) {
        double t0 = now_s();
        for (long i = 0; i < iters && !st; i++)
            st = nn_plan_run(p, batch, in, out, threads, err);
        double dt = now_s() - t0;
        if (st)
            goto done;
        rate[k] = (double)iters * batch / dt;
    }
    qsort(rate, (size_t)runs, sizeof(double), cmp_d);
    r->runs = runs;
    r->lo = rate[0];
    r->hi = rate[runs - 1];
    r->median = runs % 2 ? rate[runs / 2] : 0.5 * (rate[runs / 2 - 1] + rate[runs / 2]);
    r->isa = nn_plan_isa(p);
done:
    nn_plan_free(p);
    for (int k = 0; k < net->n_inputs; k++)
        free(x[k]);
    free(out);
    free(rate);
    return st;
}

int sv_bench_profile(const nn_net *net, nn_isa isa, int batch, double seconds, double peak,
                     FILE *out, sv_error *err)
{
    if (!net || !out || batch < 1 || !(seconds > 0) || net->n_inputs != 1)
        return sv_error_set(err, SV_ERR_ARG, "sv_bench_profile: bad arguments");
    nn_plan *p = nn_plan_new_isa(net, batch, isa, err);
    if (!p)
        return err ? err->status : SV_ERR_INTERNAL;
    int ns = nn_plan_steps(p), st = 0;
    float *x = NULL, *y = NULL;
    double *t = NULL;
    if (ns == 0) {
        st = sv_error_set(err, SV_ERR_UNSUPPORTED, "sv_bench_profile: the plan (%s) has no "
                          "steps to time", nn_plan_isa(p));
        goto done;
    }
    x = random_input(net, 0, batch, 99);
    y = malloc((size_t)batch * nn_plan_out_size(p) * sizeof(float));
    t = calloc((size_t)ns, sizeof *t);
    if (!x || !y || !t) {
        st = sv_error_set(err, SV_ERR_NOMEM, "sv_bench_profile: out of memory");
        goto done;
    }
    const float *in[1] = {x};
    if ((st = nn_plan_run(p, batch, in, y, 1, err))) /* warm-up */
        goto done;
    nn_plan_profile(p, t);
    long stamps = 0;
    double t0 = now_s(), wall;
    do {
        if ((st = nn_plan_run(p, batch, in, y, 1, err)))
            goto done;
        stamps += batch;
        wall = now_s() - t0;
    } while (wall < seconds);
    nn_plan_profile(p, NULL);
    double total = 0, ftotal = nn_net_flops(net);
    for (int i = 0; i < ns; i++)
        total += t[i];
    fprintf(out, "%-24s %-20s %9s %8s %8s %6s %6s\n", "layer", "steps", "ms/stamp", "MFLOP",
            "GFLOP/s", "peak", "time");
    for (int i = 0; i < ns;) {
        int L = nn_plan_step_layer(p, i);
        char kinds[64] = "";
        double sec = 0;
        for (; i < ns && nn_plan_step_layer(p, i) == L; i++) {
            size_t n = strlen(kinds);
            snprintf(kinds + n, sizeof kinds - n, "%s%s", n ? "+" : "", nn_plan_step_kind(p, i));
            sec += t[i];
        }
        double per = sec / (double)stamps, fl = nn_layer_flops(net, L);
        double gf = per > 0 ? fl / per * 1e-9 : 0;
        fprintf(out, "%-24.24s %-20.20s %9.4f %8.2f", net->layers[L].name, kinds, per * 1e3,
                fl * 1e-6);
        if (fl > 0)
            fprintf(out, " %8.1f", gf);
        else
            fprintf(out, " %8s", "");
        if (fl > 0 && peak > 0)
            fprintf(out, " %5.0f%%", 100 * gf / peak);
        else
            fprintf(out, " %6s", "");
        fprintf(out, " %5.1f%%\n", total > 0 ? 100 * sec / total : 0);
    }
    double per = total / (double)stamps, gf = per > 0 ? ftotal / per * 1e-9 : 0;
    fprintf(out, "%-24s %-20s %9.4f %8.2f %8.1f", "total (steps)", "", per * 1e3, ftotal * 1e-6,
            gf);
    if (peak > 0)
        fprintf(out, " %5.0f%%", 100 * gf / peak);
    fprintf(out, "\n%-24s %-20s %9.4f   (%.0f stamps/s while profiling, %s, 1 thread, "
            "batch %d)\n", "wall", "", wall / (double)stamps * 1e3, (double)stamps / wall,
            nn_plan_isa(p), batch);
done:
    nn_plan_free(p);
    free(x);
    free(y);
    free(t);
    return st;
}

static int write_f32(const char *dir, const char *name, const float *v, size_t n, sv_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot create", path);
    size_t w = fwrite(v, sizeof(float), n, f);
    if (fclose(f) != 0 || w != n)
        return sv_error_set(err, SV_ERR_IO, "%s: write failed", path);
    return 0;
}

int sv_bench_dump(const nn_net *net, const char *dir, int n_check, sv_error *err)
{
    if (!net || !dir || n_check < 1 || n_check > 4096 || net->n_inputs != 1)
        return sv_error_set(err, SV_ERR_ARG, "sv_bench_dump: bad arguments");
    size_t total = nn_net_count_params(net, 0);
    float *wv = malloc((total ? total : 1) * sizeof(float));
    if (!wv)
        return sv_error_set(err, SV_ERR_NOMEM, "sv_bench_dump: out of memory");
    size_t k = 0;
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++) {
            const nn_param *pr = &net->layers[i].p[j];
            memcpy(wv + k, pr->w, pr->size * sizeof(float));
            k += pr->size;
        }
    int st = write_f32(dir, "braai.weights.f32", wv, total, err);
    free(wv);
    if (st)
        return st;
    float *x = random_input(net, 0, n_check, 4321);
    nn_workspace *ws = x ? nn_workspace_new(net, n_check, 0, err) : NULL;
    if (!ws) {
        free(x);
        return x ? (err ? err->status : SV_ERR_NOMEM)
                 : sv_error_set(err, SV_ERR_NOMEM, "sv_bench_dump: out of memory");
    }
    const float *in[1] = {x};
    st = nn_forward(ws, (nn_net *)net, n_check, in, 0, err);
    if (!st)
        st = write_f32(dir, "check_input.f32", x,
                       (size_t)n_check * net->layers[net->inputs[0]].out_size, err);
    if (!st)
        st = write_f32(dir, "check_output.f32", nn_workspace_output(ws),
                       (size_t)n_check * net->layers[net->output].out_size, err);
    nn_workspace_free(ws);
    free(x);
    return st;
}
