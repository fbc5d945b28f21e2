/* stage_bench.c — time per exposure of the stage, and its peak memory.
 *
 * usage: stage_bench [--size N] [--detections N] [--threads N] [--batch N]
 *                    [--model MODEL.fits] [--save-stamps none|columns|extension]
 *                    [--dir DIR] [--repeat N]
 *
 * Simulates one exposure with the survey simulator (sim_exposure.h: ZTF
 * profile, default 3072 x 3072 pixels and 10^4 detections) in a child
 * process and writes it to FITS files (not timed, and not counted in the
 * peak memory), then runs the stage on the files (sv_stage_process_files:
 * what the ABI's process_files and `stampvet run` call) and prints the time per
 * exposure broken down into read (images and detections), cut (cutting,
 * flagging and preprocessing the stamps), infer (the networks), write (the
 * output table), all wall-clock seconds of phases that run in turn (total
 * also counts hashing the input files for the provenance), the
 * share of everything but inference, the peak resident memory of this
 * process (getrusage), and, with --repeat, the median of each column.
 * Without --model it uses the stage's default model (braai-d6_m7.fits,
 * sv_stage_default_model) when installed, else a network with braai's
 * architecture (VGG6, 312,081 parameters, 63x63x3, random weights): the
 * same cost per stamp as the production ZTF model.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/model.h"
#include "model/model_fits.h"
#include "nn/nn.h"
#include "model/preprocess.h"
#include "sim/sim_exposure.h"
#include "pipeline/stage.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int add(nn_net *net, nn_layer L, int from, sv_error *err)
{
    L.n_in = from >= 0 ? 1 : 0;
    L.in[0] = from;
    return nn_net_add(net, &L, err);
}

/* braai's VGG6 (Duev et al. 2019) with Glorot weights */
static int write_vgg6(const char *path, sv_error *err)
{
    nn_net *net = nn_net_new();
    if (!net)
        return sv_error_set(err, SV_ERR_NOMEM, "out of memory");
    nn_layer L = nn_layer_defaults(NN_INPUT, "conv1_input");
    L.rank = 3;
    L.shape[0] = L.shape[1] = 63;
    L.shape[2] = 3;
    int i = add(net, L, -1, err);
    const int filters[4] = {16, 16, 32, 32};
    for (int k = 0; k < 4 && i >= 0; k++) {
        char name[16];
        snprintf(name, sizeof name, "conv%d", k + 1);
        L = nn_layer_defaults(NN_CONV2D, name);
        L.filters = filters[k];
        L.kh = L.kw = 3;
        L.act = NN_ACT_RELU;
        i = add(net, L, i, err);
        if (k % 2 == 1 && i >= 0) {
            snprintf(name, sizeof name, "pool%d", k / 2 + 1);
            L = nn_layer_defaults(NN_MAXPOOL2D, name);
            L.kh = L.kw = k == 1 ? 2 : 4;
            i = add(net, L, i, err);
        }
    }
    if (i >= 0)
        i = add(net, nn_layer_defaults(NN_FLATTEN, "flatten"), i, err);
    if (i >= 0) {
        L = nn_layer_defaults(NN_DENSE, "fc1");
        L.units = 256;
        L.act = NN_ACT_RELU;
        i = add(net, L, i, err);
    }
    if (i >= 0) {
        L = nn_layer_defaults(NN_DENSE, "fc_out");
        L.units = 1;
        L.act = NN_ACT_SIGMOID;
        i = add(net, L, i, err);
    }
    if (i < 0 || nn_net_finalize(net, err)) {
        nn_net_free(net);
        return err->status ? err->status : SV_ERR_INTERNAL;
    }
    nn_net_init_weights(net, 2019);
    sv_model *m = sv_model_new(net);
    m->task = SV_TASK_REALBOGUS;
    snprintf(m->name, sizeof m->name, "vgg6-random");
    m->n_classes = 1;
    snprintf(m->classes[0], SV_LABEL_MAX, "real");
    m->pre = sv_preproc_braai(SV_NORM_L2_ROWS);
    int st = sv_model_write_fits(m, path, err);
    sv_model_free(m);
    return st;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},      {"detections", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},   {"batch", required_argument, NULL, 'b'},
        {"model", required_argument, NULL, 'm'},     {"save-stamps", required_argument, NULL, 'S'},
        {"dir", required_argument, NULL, 'd'},       {"repeat", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},            {0, 0, 0, 0}};
    int size = 3072, threads = 1, batch = 64, repeat = 1;
    long ndet = 10000;
    const char *model = NULL, *save = "none", *dir_opt = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': size = atoi(optarg); break;
        case 'n': ndet = atol(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'm': model = optarg; break;
        case 'S': save = optarg; break;
        case 'd': dir_opt = optarg; break;
        case 'r': repeat = atoi(optarg); break;
        default:
            printf("usage: %s [--size N] [--detections N] [--threads N] [--batch N] "
                   "[--model M.fits] [--save-stamps none|columns|extension] [--dir DIR] "
                   "[--repeat N]\n",
                   argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    char dir[512];
    if (dir_opt) {
        snprintf(dir, sizeof dir, "%s", dir_opt);
    } else {
        snprintf(dir, sizeof dir, "/tmp/sv_stage_bench_XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    char prefix[600], paths[5][640], mpath[1100];
    snprintf(prefix, sizeof prefix, "%s/exp", dir);
    const char *suffix[5] = {"sci", "ref", "diff", "det", "out"};
    for (int k = 0; k < 5; k++)
        snprintf(paths[k], sizeof paths[k], "%s_%s.fits", prefix, suffix[k]);

    /* simulate in a child: its memory is not the stage's */
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        sv_sim_exposure_params p;
        sv_sim_exposure_params_default(&p);
        p.width = p.height = size;
        p.n_det = ndet;
        p.threads = 2;
        sv_sim_exposure e;
        sv_error err;
        sv_error_clear(&err);
        if (sv_sim_exposure_make(&p, &e, &err) || sv_sim_exposure_write(&e, prefix, &err)) {
            fprintf(stderr, "simulate: %s\n", err.text);
            _exit(1);
        }
        sv_sim_exposure_free(&e);
        _exit(0);
    }
    int wst = 0;
    if (pid < 0 || waitpid(pid, &wst, 0) < 0 || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
        fprintf(stderr, "stage_bench: the simulation failed\n");
        return 1;
    }
    printf("simulated %d x %d exposure, %ld detections (ZTF profile) in %.1f s: %s_*.fits\n",
           size, size, ndet, now_s() - t0, prefix);

    sv_error err;
    sv_error_clear(&err);
    int made_model = 0; /* only a model written here is removed at the end */
    if (!model) {
        char def[1024];
        if (sv_stage_default_model(def, sizeof def) == 0) {
            snprintf(mpath, sizeof mpath, "%s", def);
        } else {
            snprintf(mpath, sizeof mpath, "%s/vgg6.fits", dir);
            if (write_vgg6(mpath, &err)) {
                fprintf(stderr, "stage_bench: %s\n", err.text);
                return 1;
            }
            made_model = 1;
        }
        model = mpath;
    }
    char th[16], bt[16];
    snprintf(th, sizeof th, "%d", threads);
    snprintf(bt, sizeof bt, "%d", batch);
    dia_kv kv[4] = {{"rb_model", model}, {"threads", th}, {"batch", bt}, {"save_stamps", save}};
    sv_stage_config cfg;
    if (sv_stage_config_parse(kv, 4, &cfg, &err)) {
        fprintf(stderr, "stage_bench: %s\n", err.text);
        return 1;
    }
    sv_stage *stage = NULL;
    if (sv_stage_create(&cfg, NULL, &stage, &err)) {
        fprintf(stderr, "stage_bench: %s\n", err.text);
        return 1;
    }
    dia_file_job job = {sizeof job, paths[0], paths[1], paths[2], paths[3], NULL, paths[4], "bench",
                        1};
    printf("model %s (%s), threads %d, batch %d, save_stamps %s\n\n", model,
           sv_stage_rb_model(stage)->name, threads, batch, save);
    printf("%-4s %8s %8s %8s %8s %8s %10s %9s %8s\n", "run", "read s", "cut s", "infer s",
           "write s", "total s", "stamps/s", "non-inf %", "peak MB");
    if (repeat < 1)
        repeat = 1;
    double *col[8];
    for (int k = 0; k < 8; k++)
        col[k] = calloc((size_t)repeat, sizeof(double));
    for (int r = 0; r < repeat; r++) {
        if (sv_stage_process_files(stage, &job, &err)) {
            fprintf(stderr, "stage_bench: %s\n", err.text);
            return 1;
        }
        const sv_stage_stats *s = sv_stage_last_stats(stage);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double v[8] = {s->t_read, s->t_cut, s->t_infer, s->t_write, s->t_total,
                       s->scored / s->t_total, 100.0 * (s->t_total - s->t_infer) / s->t_total,
                       ru.ru_maxrss / 1024.0};
        for (int k = 0; k < 8; k++)
            col[k][r] = v[k];
        printf("%-4d %8.3f %8.3f %8.3f %8.3f %8.3f %10.0f %9.1f %8.1f\n", r + 1, v[0], v[1], v[2],
               v[3], v[4], v[5], v[6], v[7]);
        if (r == repeat - 1)
            printf("\n%lld rows, %lld scored, %lld flagged; CPU user %.2f s, system %.2f s "
                   "(%d thread%s)\n",
                   (long long)s->rows, (long long)s->scored, (long long)s->flagged,
                   ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec,
                   ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec, s->threads,
                   s->threads == 1 ? "" : "s");
    }
    if (repeat > 1) {
        double med[8];
        for (int k = 0; k < 8; k++) {
            qsort(col[k], (size_t)repeat, sizeof(double), cmp_double);
            med[k] = repeat % 2 ? col[k][repeat / 2]
                                : 0.5 * (col[k][repeat / 2 - 1] + col[k][repeat / 2]);
        }
        printf("%-4s %8.3f %8.3f %8.3f %8.3f %8.3f %10.0f %9.1f %8.1f   (median of %d runs, "
               "each column)\n",
               "med", med[0], med[1], med[2], med[3], med[4], med[5], med[6], med[7], repeat);
    }
    for (int k = 0; k < 8; k++)
        free(col[k]);
    sv_stage_free(stage);
    if (!dir_opt) {
        for (int k = 0; k < 5; k++)
            unlink(paths[k]);
        if (made_model) /* never the default model it found */
            unlink(mpath);
        rmdir(dir);
    }
    return 0;
}
