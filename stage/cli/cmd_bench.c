/* cmd_bench.c — `stampvet bench`: inference throughput (bench_infer.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/bench_infer.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "nn/fast/nn_plan.h"

enum { O_THREADS = 256, O_BATCH, O_RUNS, O_SECONDS, O_ISA, O_MODEL, O_MODELS_DIR, O_NO_BRAAI,
       O_NO_MODELS, O_TSV, O_DUMP, O_PROFILE };

static const cli_opt bench_opts[] = {
    {"threads", O_THREADS, "LIST", "worker threads, comma list of [1, 256] (1,2)"},
    {"batch", O_BATCH, "LIST", "stamps per call, comma list of [1, 65536] (1,16,256)"},
    {"runs", O_RUNS, "N", "timed runs per figure [1, 1000] (5)"},
    {"seconds", O_SECONDS, "S", "length of one run [0.001, 60] (0.5)"},
    {"isa", O_ISA, "NAME", "auto, generic, avx2, avx512, reference, or all those this\n"
                           "CPU runs (auto)"},
    {"model", O_MODEL, "FILE", "also benchmark this model file (repeatable)"},
    {"models-dir", O_MODELS_DIR, "DIR", "benchmark DIR/*.fits (default: models, if it exists)"},
    {"no-braai", O_NO_BRAAI, NULL, "skip the built-in braai network"},
    {"no-models", O_NO_MODELS, NULL, "only the built-in braai network (no models folder)"},
    {"tsv", O_TSV, NULL, "machine-readable lines: stampvet threads=T batch=B\n"
                         "stamps_per_s=X isa=I net=NAME"},
    {"profile", O_PROFILE, NULL, "instead of the throughput table: where one stamp's\n"
                                 "time goes, per layer (1 thread, the first --batch,\n"
                                 "--seconds long): ms, GFLOP/s, share of peak"},
    {"dump", O_DUMP, "DIR", "write the braai network's weights and a parity check\n"
                            "(braai.weights.f32, check_input.f32, check_output.f32)\n"
                            "for bench/export_onnx.py, then exit"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd bench_cmd = {
    "bench",
    "stampvet bench [--threads LIST] [--batch LIST] [--runs N] [--seconds S]\n"
    "               [--isa NAME|all] [--model M.fits]... [--models-dir DIR]\n"
    "               [--no-braai] [--no-models] [--tsv] [--profile] [--dump DIR]\n"
    "               [-o FILE]",
    "Inference throughput in stamps per second through the fast path, for ZTF's\n"
    "braai network (built here with random weights: 38.1 MFLOP per 63x63x3\n"
    "stamp) and every model file given or found in the models folder.  Each\n"
    "figure is the median of N runs of about S seconds; the share of peak is the\n"
    "FLOP rate over the FP32 FMA peak measured here, per core, times the threads;\n"
    "the rate counts the network's nominal (direct convolution) FLOPs, so with\n"
    "Winograd convolutions, which multiply 2.25 times less, it can pass 100%.",
    bench_opts, "write the figures to FILE instead of stdout", NULL};

typedef struct bench_args {
    int threads[16], n_threads, batches[16], n_batches;
    long runs;
    int no_braai, no_models, tsv, all_isa, profile;
    double seconds;
    nn_isa isa;
    const char *models_dir, *dump;
    const char *model_files[64];
    int n_model_files;
} bench_args;

static int parse_list(const char *s, int *v, int max, int lo, int hi);

static int bench_option(void *user, int key, const char *arg)
{
    bench_args *a = user;
    switch (key) {
    case O_THREADS:
        a->n_threads = parse_list(arg, a->threads, 16, 1, 256);
        if (a->n_threads < 1)
            return cli_usage_error("bench", "--threads: '%s' is not a comma list of [1, 256]",
                                   arg);
        return 0;
    case O_BATCH:
        a->n_batches = parse_list(arg, a->batches, 16, 1, 65536);
        if (a->n_batches < 1)
            return cli_usage_error("bench", "--batch: '%s' is not a comma list of [1, 65536]",
                                   arg);
        return 0;
    case O_RUNS: return cli_parse_long("bench", "runs", arg, 1, 1000, &a->runs);
    case O_SECONDS: return cli_parse_double("bench", "seconds", arg, 0.001, 60, &a->seconds);
    case O_ISA:
        if (!strcmp(arg, "all")) {
            a->all_isa = 1;
            return 0;
        }
        if (nn_isa_from_name(arg) < 0)
            return cli_usage_error("bench", "--isa: '%s' is not auto, generic, avx2, avx512, "
                                   "reference or all", arg);
        a->isa = (nn_isa)nn_isa_from_name(arg);
        if (!nn_isa_supported(a->isa))
            return cli_usage_error("bench", "--isa %s: not supported by this CPU", arg);
        return 0;
    case O_MODEL:
        if (a->n_model_files == 64)
            return cli_usage_error("bench", "at most 64 --model files");
        a->model_files[a->n_model_files++] = arg;
        return 0;
    case O_MODELS_DIR: a->models_dir = arg; return 0;
    case O_NO_BRAAI: a->no_braai = 1; return 0;
    case O_NO_MODELS: a->no_models = 1; return 0;
    case O_TSV: a->tsv = 1; return 0;
    case O_DUMP: a->dump = arg; return 0;
    case O_PROFILE: a->profile = 1; return 0;
    }
    return CLI_USAGE;
}

static int parse_list(const char *s, int *v, int max, int lo, int hi)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < lo || x > hi || n == max)
            return -1;
        v[n++] = (int)x;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return n;
}

typedef struct bench_net {
    char name[96];
    nn_net *net;       /* owned when model is NULL */
    sv_model *model;
} bench_net;

int cmd_bench(int argc, char **argv)
{
    bench_args a = {.threads = {1, 2}, .n_threads = 2, .batches = {1, 16, 256},
                    .n_batches = 3, .runs = 5, .seconds = 0.5, .isa = NN_ISA_AUTO};
    cli_common com = {0};
    int first = 0, pst = cli_parse(&bench_cmd, argc, argv, &com, bench_option, &a, &first);
    if (pst < 0 && first < argc)
        pst = cli_usage_error("bench", "unexpected argument '%s'", argv[first]);
    if (pst >= 0)
        return pst;
    if (cli_redirect_stdout("bench", &com))
        return CLI_FAILED;
    int *threads = a.threads, n_threads = a.n_threads, *batches = a.batches;
    int n_batches = a.n_batches, runs = (int)a.runs, no_braai = a.no_braai;
    int no_models = a.no_models, tsv = a.tsv, all_isa = a.all_isa;
    double seconds = a.seconds;
    nn_isa isa = a.isa;
    const char *models_dir = a.models_dir, *dump = a.dump;
    const char **model_files = a.model_files;
    int n_model_files = a.n_model_files;

    sv_error err;
    sv_error_clear(&err);
    if (dump) {
        nn_net *net = sv_bench_braai(63, 63, 2019, &err);
        if (!net || sv_bench_dump(net, dump, 16, &err)) {
            nn_net_free(net);
            return cli_fail("bench", "%s", err.text);
        }
        nn_net_free(net);
        fprintf(stderr, "stampvet bench: wrote %s/braai.weights.f32, check_input.f32, "
                        "check_output.f32\n", dump);
        return 0;
    }

    bench_net nets[80];
    int n_nets = 0, status = 0;
    if (!no_braai) {
        nets[0].net = sv_bench_braai(63, 63, 2019, &err);
        nets[0].model = NULL;
        if (!nets[0].net)
            return cli_fail("bench", "%s", err.text);
        snprintf(nets[0].name, sizeof nets[0].name, "braai");
        n_nets = 1;
    }
    glob_t g;
    memset(&g, 0, sizeof g);
    int have_glob = 0;
    const char *dir = models_dir ? models_dir : "models";
    char pat[4096];
    snprintf(pat, sizeof pat, "%s/*.fits", dir);
    if (!no_models && glob(pat, 0, NULL, &g) == 0)
        have_glob = 1;
    else if (models_dir)
        fprintf(stderr, "stampvet bench: no model files in %s\n", models_dir);
    int n_cand = n_model_files + (have_glob ? (int)g.gl_pathc : 0);
    for (int i = 0; i < n_cand && n_nets < 80; i++) {
        const char *path = i < n_model_files ? model_files[i] : g.gl_pathv[i - n_model_files];
        sv_model *m = NULL;
        if (sv_model_read_fits(path, &m, &err)) {
            /* the reader's message names the file already */
            fprintf(stderr, "stampvet bench: skipped: %s\n", err.text);
            if (i < n_model_files)
                status = 1;
            continue;
        }
        const char *base = strrchr(path, '/');
        snprintf(nets[n_nets].name, sizeof nets[n_nets].name, "%s", base ? base + 1 : path);
        nets[n_nets].net = m->net;
        nets[n_nets].model = m;
        n_nets++;
    }
    if (have_glob)
        globfree(&g);
    if (n_nets == 0)
        return cli_fail("bench", "nothing to benchmark");

    nn_isa isas[NN_ISA_COUNT];
    int n_isas = 0;
    if (all_isa) {
        for (int i = NN_ISA_GENERIC; i <= NN_ISA_AVX512; i++)
            if (nn_isa_supported((nn_isa)i))
                isas[n_isas++] = (nn_isa)i;
    } else {
        isas[n_isas++] = isa == NN_ISA_AUTO ? nn_isa_best() : isa;
    }
    double peak[NN_ISA_COUNT] = {0};
    for (int i = NN_ISA_GENERIC; i <= NN_ISA_AVX512; i++)
        peak[i] = nn_isa_peak_gflops((nn_isa)i, 0.3);
    peak[NN_ISA_REFERENCE] = peak[nn_isa_best()];

    if (!tsv) {
        if (a.profile)
            printf("stampvet bench --profile: %.2f s per network;", seconds * runs);
        else
            printf("stampvet bench: median of %d runs of %.2f s;", runs, seconds);
        printf(" FP32 peak measured per core:");
        for (int i = NN_ISA_AVX512; i >= NN_ISA_GENERIC; i--)
            if (peak[i] > 0)
                printf(" %s %.1f", nn_isa_name((nn_isa)i), peak[i]);
        printf(" GFLOP/s\n\n");
        if (!a.profile)
            printf("%-22s %-9s %7s %6s %11s %21s %8s %6s\n", "network", "isa", "threads",
                   "batch", "stamps/s", "[slowest..fastest]", "GFLOP/s", "peak");
    }
    for (int k = 0; k < n_nets && a.profile; k++) {
        int pi = isas[0] == NN_ISA_REFERENCE ? -1 : (int)isas[0];
        printf("# %s\n", nets[k].name);
        if (sv_bench_profile(nets[k].net, isas[0], batches[0], seconds * runs,
                             pi >= 0 ? peak[pi] : 0, stdout, &err)) {
            fprintf(stderr, "stampvet bench: %s: %s\n", nets[k].name, err.text);
            status = 1;
        }
        printf("\n");
    }
    for (int k = 0; k < n_nets && !a.profile; k++) {
        double fl = nn_net_flops(nets[k].net);
        if (!tsv)
            printf("# %s: %.2f MFLOP per sample, %zu parameters\n", nets[k].name, fl * 1e-6,
                   nn_net_count_params(nets[k].net, 0));
        for (int ii = 0; ii < n_isas; ii++)
            for (int ti = 0; ti < n_threads; ti++)
                for (int bi = 0; bi < n_batches; bi++) {
                    sv_bench_result r;
                    if (sv_bench_measure(nets[k].net, isas[ii], threads[ti], batches[bi], runs,
                                         seconds, &r, &err)) {
                        fprintf(stderr, "stampvet bench: %s: %s\n", nets[k].name, err.text);
                        status = 1;
                        continue;
                    }
                    double gf = r.median * fl * 1e-9;
                    int pi = nn_isa_from_name(r.isa);
                    double share = pi > 0 && peak[pi] > 0 ? gf / (peak[pi] * threads[ti]) : 0;
                    if (tsv)
                        printf("stampvet threads=%d batch=%d stamps_per_s=%.1f isa=%s net=%s\n",
                               threads[ti], batches[bi], r.median, r.isa, nets[k].name);
                    else
                        printf("%-22.22s %-9s %7d %6d %11.0f %10.0f..%-10.0f %8.1f %5.0f%%\n",
                               nets[k].name, r.isa, threads[ti], batches[bi], r.median, r.lo,
                               r.hi, gf, 100 * share);
                    fflush(stdout);
                }
    }
    for (int k = 0; k < n_nets; k++) {
        if (nets[k].model)
            sv_model_free(nets[k].model);
        else
            nn_net_free(nets[k].net);
    }
    return status;
}
