/* train_bench.c — training throughput of the braai network (VGG6, 63x63x3,
 * one sigmoid output): stamps per second through forward + backward +
 * Adam update, minibatch 64, on N threads (2 by default).
 *
 * Two figures:
 *   loop    the whole training loop of `stampvet train` (train.h): fetch
 *           from an in-memory source, dihedral augmentation, the model's
 *           preprocessing (l2 normalisation), forward, class-weighted BCE,
 *           backward over fixed gradient slices, reduction, Adam step;
 *           no validation (val_fraction 0);
 *   engine  the network alone, as a framework benchmark measures it:
 *           the same minibatch split over the threads, forward + loss +
 *           backward, gradient sum and Adam step, no data handling; on the
 *           training fast path (nn_train.h, what `stampvet train` uses for
 *           braai) and on the reference engine (nn_engine.h, what it used
 *           before), in the same run.
 * The loop runs on the fast path (unless STAMPVET_ISA says otherwise), then
 * one epoch again on the reference engine (reference_loop_*).  The share of
 * the machine's peak: training FLOPs per stamp (forward, weight gradients,
 * and data gradients of every layer but the first: 3 F - F(first conv),
 * F = nn_net_flops) x stamps/s over threads x the measured one-core FMA
 * peak of the ISA the fast path runs (nn_isa_peak_gflops).
 *
 * usage: train_bench [--threads N] [--batch B] [--stamps N] [--epochs E]
 *                    [--steps S] [--slices K] [--reference 0|1] [--profile 0|1]
 * --reference 0 skips the reference engine; --profile 1 runs the engine's
 * timed steps once more with per-layer timing (nn_tws_profile) and prints
 * the milliseconds per stamp each layer takes, forward and backward.
 * Prints `loop_stamps_per_s X` and `engine_stamps_per_s Y` lines (wall
 * clock) and the same per CPU-second of the process (all threads: robust
 * to other load on a shared machine), and a human summary.  The first
 * epoch (loop) and 3 steps (engine) are warm-up and not timed.  Not a test:
 * numbers depend on the machine and its load.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/arch.h"
#include "data/dataset.h"
#include "model/model.h"
#include "nn/nn_engine.h"
#include "nn/fast/nn_train.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "train/train.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the whole process (all threads): a load-robust figure on a
 * shared machine (stamps per CPU-second). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct eng {
    nn_net *net;
    nn_tplan *tp;          /* the fast path, or NULL: the reference engine */
    nn_tws *fw[64];
    nn_workspace *ws[64];
    float *x[64], *y[64], *g[64];
    int parts, batch;
    int status[64];
    double serial_s;       /* the timed steps' gradient sum + Adam + sync  */
} eng;

static void eng_task(int p, void *ctx)
{
    eng *E = ctx;
    int a = p * E->batch / E->parts, b = (p + 1) * E->batch / E->parts, n = b - a;
    if (E->tp)
        nn_tws_zero_grads(E->fw[p]);
    else
        nn_workspace_zero_grads(E->ws[p]);
    if (n <= 0)
        return;
    const float *in[1] = {E->x[p]};
    sv_error err;
    if (E->tp ? nn_tws_forward(E->fw[p], n, E->x[p], 1, &err)
              : nn_forward(E->ws[p], E->net, n, in, 1, &err)) {
        E->status[p] = 1;
        return;
    }
    const float *out = E->tp ? nn_tws_output(E->fw[p]) : nn_workspace_output(E->ws[p]);
    nn_loss_bce(out, E->y[p], n, 1, NULL, E->g[p]);
    float s = (float)n / (float)E->batch;
    for (int i = 0; i < n; i++)
        E->g[p][i] *= s;
    if (E->tp ? nn_tws_backward(E->fw[p], E->g[p], &err)
              : nn_backward(E->ws[p], E->net, E->g[p], NULL, &err))
        E->status[p] = 1;
}

/* `steps` timed engine steps (after 3 warm-up ones): stamps/s of wall clock
 * and per CPU-second */
static void eng_run(eng *E, nn_optimizer *opt, int steps, double *rate, double *cpu_rate)
{
    double t0 = 0, tc0 = 0;
    E->serial_s = 0;
    for (int s = 0; s < steps + 3; s++) {
        if (s == 3) {
            t0 = now_s();
            tc0 = cpu_s();
            E->serial_s = 0;
        }
        sv_parallel_for(E->parts, E->parts, eng_task, E);
        double ts = now_s();
        if (E->tp) {
            nn_tplan_update(E->tp, E->fw, E->parts, opt, E->net, E->parts);
        } else {
            for (int p = 1; p < E->parts; p++)
                nn_workspace_add_grads(E->ws[0], E->ws[p]);
            nn_optimizer_step(opt, E->net, E->ws[0], 1.0f);
        }
        E->serial_s += now_s() - ts;
    }
    *rate = (double)steps * E->batch / (now_s() - t0);
    *cpu_rate = (double)steps * E->batch / (cpu_s() - tc0);
}

/* --profile: the engine's steps again with per-layer timing, summed over
 * the threads' workspaces, per stamp */
static void print_profile(eng *E, nn_optimizer *opt, int steps)
{
    int ns = nn_tplan_steps(E->tp), nt = 4 * ns + 2;
    double *t = calloc((size_t)E->parts * nt, sizeof(double));
    if (!t)
        return;
    for (int p = 0; p < E->parts; p++)
        nn_tws_profile(E->fw[p], t + (size_t)p * nt);
    double rate, cpu_rate;
    eng_run(E, opt, steps, &rate, &cpu_rate);
    for (int p = 0; p < E->parts; p++)
        nn_tws_profile(E->fw[p], NULL);
    for (int p = 1; p < E->parts; p++)
        for (int i = 0; i < nt; i++)
            t[i] += t[(size_t)p * nt + i];
    /* the timed steps plus the 3 warm-up ones */
    double per = 1e3 / ((double)(steps + 3) * E->batch), sum = 0;
    printf("profile (ms per stamp, thread time; %.1f stamps/s while profiling)\n", rate);
    printf("  %-18s %8s %8s %8s %8s\n", "layer", "forward", "backward", "dW", "dX");
    for (int i = 0; i < ns; i++) {
        const nn_layer *L = &E->net->layers[nn_tplan_step_layer(E->tp, i)];
        printf("  %-18s %8.4f %8.4f %8.4f %8.4f\n", L->name, t[4 * i] * per,
               t[4 * i + 1] * per, t[4 * i + 2] * per, t[4 * i + 3] * per);
        sum += t[4 * i] + t[4 * i + 1];
    }
    printf("  %-18s %8.4f\n", "dropout masks", t[4 * ns] * per);
    printf("  %-18s %8.4f\n", "copies, layouts", t[4 * ns + 1] * per);
    sum += t[4 * ns] + t[4 * ns + 1];
    printf("  %-18s %8.4f   (serial part: %.4f per stamp)\n", "total", sum * per,
           1e3 * E->serial_s / ((double)steps * E->batch));
    free(t);
}

/* training FLOPs of one stamp (see the header comment) */
static double train_flops(const nn_net *net)
{
    double f = nn_net_flops(net), first = 0;
    for (int i = 0; i < net->n_layers && first == 0; i++)
        if (net->layers[i].n_params > 0) {
            nn_net tmp = *net; /* the flops of layer i alone */
            tmp.n_layers = i + 1;
            first = nn_net_flops(&tmp);
        }
    return 3 * f - first;
}

int main(int argc, char **argv)
{
    int threads = 2, batch = 64, epochs = 3, steps = 30, slices = 0, with_ref = 1, profile = 0;
    long nstamps = 1024;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stamps"))
            nstamps = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--slices"))
            slices = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reference")) /* 0: fast path only (profiling) */
            with_ref = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--profile"))
            profile = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "train_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || batch < 1 || nstamps < batch || epochs < 2 ||
        steps < 2) {
        fprintf(stderr, "train_bench: bad arguments\n");
        return 2;
    }
    if (slices <= 0)
        slices = threads; /* one slice per thread: the lowest overhead */
    /* the loops run one BLAS call per worker thread */
    openblas_set_num_threads(1);

    const int H = 63, W = 63;
    size_t per = (size_t)3 * H * W;
    float *stamps = malloc((size_t)nstamps * per * sizeof(float));
    int *labels = malloc((size_t)nstamps * sizeof(int));
    if (!stamps || !labels)
        return 1;
    sv_rng r = {2024};
    for (long i = 0; i < nstamps; i++) {
        labels[i] = (int)(i & 1);
        for (size_t k = 0; k < per; k++)
            stamps[i * per + k] = (float)sv_rng_uniform(&r);
        if (labels[i]) /* a blob in DIFF for the "real" half */
            for (int y = 28; y < 35; y++)
                for (int x = 28; x < 35; x++)
                    stamps[i * per + 2 * H * W + y * W + x] += 2.0f;
    }
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_source src;
    if (sv_source_memory(&src, stamps, labels, nstamps, H, W, 1, 2, NULL, &err)) {
        fprintf(stderr, "train_bench: %s\n", err.text);
        return 1;
    }

    /* ---- the training loop ---- */
    nn_net *net = NULL;
    if (sv_arch_build("braai", H, W, 3, 1, 1, &net, &err)) {
        fprintf(stderr, "train_bench: %s\n", err.text);
        return 1;
    }
    sv_model *m = sv_model_new(net);
    m->pre = sv_preproc_braai(SV_NORM_L2);
    snprintf(m->name, sizeof m->name, "bench-braai");
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 1; /* warm-up run: page faults, caches */
    cfg.batch = batch;
    cfg.val_fraction = 0;
    cfg.patience = 0;
    cfg.threads = threads;
    cfg.slices = slices;
    sv_train_result *res = calloc(1, sizeof *res);
    if (sv_train(m, &src, &cfg, res, &err)) {
        fprintf(stderr, "train_bench: %s\n", err.text);
        return 1;
    }
    double first_loss = res->history[0].loss;
    cfg.epochs = epochs - 1;
    double w0 = now_s(), c0 = cpu_s();
    if (sv_train(m, &src, &cfg, res, &err)) {
        fprintf(stderr, "train_bench: %s\n", err.text);
        return 1;
    }
    double wall = now_s() - w0, cpu = cpu_s() - c0;
    long count = (long)(epochs - 1) * nstamps;
    double loop_rate = count / wall;
    printf("network             braai VGG6 63x63x3, %zu parameters\n",
           nn_net_count_params(net, 0));
    printf("setup               batch %d, %d threads, %d slices, %ld stamps x %d epochs (first "
           "is warm-up)\n",
           batch, threads, slices, nstamps, epochs);
    printf("loop_stamps_per_s   %.1f\n", loop_rate);
    printf("loop_stamps_per_cpu_s %.1f\n", count / cpu);
    printf("  training loss     %.4f -> %.4f\n", first_loss,
           res->history[res->n_history - 1].loss);

    /* ---- the same loop on the reference engine (what it was before) ---- */
    cfg.isa = NN_ISA_REFERENCE;
    cfg.epochs = 1;
    w0 = now_s();
    c0 = cpu_s();
    if (with_ref && sv_train(m, &src, &cfg, res, &err)) {
        fprintf(stderr, "train_bench: %s\n", err.text);
        return 1;
    }
    cfg.isa = NN_ISA_AUTO;
    if (with_ref) {
        printf("reference_loop_stamps_per_s %.1f\n", nstamps / (now_s() - w0));
        printf("reference_loop_stamps_per_cpu_s %.1f\n", nstamps / (cpu_s() - c0));
    }

    /* ---- the engine alone: fast path and reference ---- */
    eng E;
    memset(&E, 0, sizeof E);
    E.net = net;
    E.parts = threads;
    E.batch = batch;
    int cap = (batch + threads - 1) / threads;
    E.tp = nn_tplan_new(net, NN_ISA_AUTO, 0, &err);
    if (!E.tp) {
        fprintf(stderr, "train_bench: %s\n", err.text);
        return 1;
    }
    for (int p = 0; p < threads; p++) {
        E.ws[p] = nn_workspace_new(net, cap, 1, &err);
        E.fw[p] = nn_tws_new(E.tp, cap, &err);
        E.x[p] = malloc((size_t)cap * per * sizeof(float));
        E.y[p] = malloc((size_t)cap * sizeof(float));
        E.g[p] = malloc((size_t)cap * sizeof(float));
        if (!E.ws[p] || !E.fw[p] || !E.x[p] || !E.y[p] || !E.g[p]) {
            fprintf(stderr, "train_bench: out of memory\n");
            return 1;
        }
        for (int i = 0; i < cap; i++) {
            long s = (p * cap + i) % nstamps;
            memcpy(E.x[p] + (size_t)i * per, stamps + s * per, per * sizeof(float));
            E.y[p][i] = (float)labels[s];
        }
    }
    nn_opt_config oc = nn_opt_defaults(NN_OPT_ADAM);
    nn_optimizer *opt = nn_optimizer_new(net, &oc, &err);
    double fast_rate, fast_cpu, ref_rate, ref_cpu;
    eng_run(&E, opt, steps, &fast_rate, &fast_cpu);
    double fast_serial = E.serial_s;
    if (profile)
        print_profile(&E, opt, steps);
    nn_tplan *tp = E.tp;
    E.tp = NULL;
    ref_rate = ref_cpu = 0;
    if (with_ref)
        eng_run(&E, opt, steps > 6 ? steps / 3 : 2, &ref_rate, &ref_cpu);
    E.tp = tp;
    for (int p = 0; p < threads; p++)
        if (E.status[p])
            fprintf(stderr, "train_bench: engine error\n");
    double peak = nn_isa_peak_gflops(nn_isa_from_name(nn_tplan_isa(tp)), 0.2);
    double tf = train_flops(net);
    printf("engine_stamps_per_s %.1f\n", fast_rate);
    printf("engine_stamps_per_cpu_s %.1f\n", fast_cpu);
    if (with_ref) {
        printf("reference_stamps_per_s %.1f\n", ref_rate);
        printf("reference_stamps_per_cpu_s %.1f\n", ref_cpu);
    }
    printf("fast path           %s kernels, %.1f MFLOP per training stamp, peak %.1f GFLOP/s "
           "per core\n",
           nn_tplan_isa(tp), tf * 1e-6, peak);
    printf("peak_share          %.1f %%\n", 100.0 * tf * fast_rate / (peak * 1e9 * threads));
    /* per CPU-second: the share of one core's peak while it runs (robust to
     * other load on the machine) */
    printf("peak_share_cpu      %.1f %%\n", 100.0 * tf * fast_cpu / (peak * 1e9));
    printf("loop overhead       %.1f %%\n", 100.0 * (fast_rate / loop_rate - 1.0));
    printf("engine serial part  %.2f ms per step (gradient sum, Adam, weight repacking): "
           "%.1f %% of the wall time\n",
           1e3 * fast_serial / steps, 100.0 * fast_serial * fast_rate / (steps * batch));

    nn_optimizer_free(opt);
    nn_tplan_free(tp);
    for (int p = 0; p < threads; p++) {
        nn_tws_free(E.fw[p]);
        nn_workspace_free(E.ws[p]);
        free(E.x[p]);
        free(E.y[p]);
        free(E.g[p]);
    }
    free(res);
    sv_model_free(m);
    sv_source_close(&src);
    free(stamps);
    free(labels);
    return 0;
}
