/* cmd_report.c — `stampvet report`: an HTML page with figures (PNG, PDF)
 * from an evaluation, compare runs, stage output tables or light curves
 * (report_pages.h).  Needs cairo (configure --with-cairo). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "config.h"

static void help(void)
{
    printf("usage: stampvet report --eval SCORES [--data TABLE] -o DIR [options]\n"
           "       stampvet report --model MODEL.fits --data TABLE -o DIR [options]\n"
           "       stampvet report --compare SUMMARY.csv [--compare ...] -o DIR\n"
           "       stampvet report --catalog OUT.fits [--catalog ...] -o DIR\n"
           "       stampvet report --model LC-MODEL.fits --data LIGHTCURVES.fits -o DIR\n\n"
           "Write DIR/index.html, a self-contained page (figures embedded, no script, opens\n"
           "offline), and every figure beside it as PNG and PDF.\n"
           "  evaluation  (per-stamp scores from `evaluate --scores-out`, or a model scored\n"
           "              here on a labelled-stamps table): ROC with AUC and the FPR = FNR\n"
           "              point, precision-recall, score histograms per true class,\n"
           "              confusion matrix (counts, row-normalised), reliability diagram\n"
           "              with the expected calibration error, and a stamp gallery (the\n"
           "              hardest stamps and a random sample of each class) when the\n"
           "              labelled-stamps table is given (--data; default: the scores\n"
           "              file's DATA when it exists);\n"
           "  compare     accuracy and AUC against label count per arm (mean +- std over\n"
           "              the runs) and the t-test p-values, per summary file (or per arm\n"
           "              of a table with task, base, freeze, resample columns:\n"
           "              models/experiment.csv);\n"
           "  catalog     stage output (`run` / `batch` tables): score histogram, flags,\n"
           "              detections on the exposure coloured by score, gallery of the\n"
           "              saved stamps;\n"
           "  light curves (a light-curve model on a labelled light-curve table): the\n"
           "              evaluation's figures at the alert times, and for one candidate\n"
           "              per class the light curve and the class probabilities against\n"
           "              time (classified at each detection).\n\n"
           "  -o, --out DIR        report folder (created)\n"
           "  --title TEXT         page title\n"
           "  --threshold X        real/bogus threshold when scoring with --model (0.5)\n"
           "  --threads N          scoring threads with --model (all CPUs)\n"
           "  --log-hist           histograms on a logarithmic count axis\n"
           "  --bins N             histogram bins (20)\n"
           "  --calib-bins N       reliability-diagram bins (10)\n"
           "  --stretch S          gallery stretch: zscale (default) or asinh\n"
           "  --gallery N          stamps per gallery (8; 0 = none)\n"
           "  --seed N             seed of the random gallery samples (1)\n");
}

#ifndef HAVE_CAIRO

int cmd_report(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help();
            return 0;
        }
    return cli_fail("report", "this stampvet was built without cairo, which draws the "
                              "figures: install libcairo2-dev (apt-get install -y "
                              "libcairo2-dev) and reconfigure (--with-cairo)");
}

#else

#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "data/dataset.h"
#include "data/lightcurve.h"
#include "train/evaluate.h"
#include "model/model_fits.h"
#include "core/parallel.h"
#include "train/plot.h"
#include "train/report_pages.h"
#include "data/scores_table.h"
#include "cli/train_opts.h"
#include "nn/nn_engine.h"

enum {
    OPT_EVAL = 1, OPT_DATA, OPT_MODEL, OPT_COMPARE, OPT_CATALOG, OPT_TITLE, OPT_THRESHOLD,
    OPT_THREADS, OPT_LOG, OPT_BINS, OPT_CBINS, OPT_STRETCH, OPT_GALLERY, OPT_SEED
};

#define MAX_INPUTS 64

static int parse_int(const char *opt, const char *arg, int lo, int hi, int *v)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(arg, &end, 10);
    if (errno || !end || *end || x < lo || x > hi)
        return cli_fail("report", "%s: '%s' not in %d..%d", opt, arg, lo, hi) + 1;
    *v = (int)x;
    return 0;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return path && path[0] && !stat(path, &sb) && S_ISREG(sb.st_mode);
}

/* score the labelled table with the model: the scores table of the page */
static int score_here(const sv_model *m, const char *model, const char *data, double threshold,
                      int threads, sv_scores *s)
{
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_source src;
    memset(&src, 0, sizeof src);
    sv_source_options so;
    sv_source_options_for_model(m, &so);
    sv_eval_config ec = sv_eval_defaults();
    ec.threads = threads;
    ec.threshold = threshold;
    float *sc = NULL;
    int n_out = 0, rc = 1;
    nn_blas_single_thread();
    if (sv_source_open_table(&src, data, &so, &err) ||
        sv_evaluate_scores(m, &src, &ec, &sc, &n_out, &err) ||
        sv_evaluate_scores_table(m, model, &src, data, 1, sc, threshold, s, &err))
        cli_fail("report", "%s", err.text);
    else
        rc = 0;
    free(sc);
    sv_source_close(&src);
    return rc;
}

/* a light-curve model on a light-curve table: its own page */
static int lightcurves(const sv_model *m, const char *model, const char *data,
                       const sv_report_opts *o)
{
    sv_error err;
    sv_error_clear(&err);
    sv_lc_set set;
    memset(&set, 0, sizeof set);
    int rc = 0;
    nn_blas_single_thread();
    if (sv_lc_read_fits(data, NULL, &set, &err) ||
        sv_report_lightcurves(m, model, &set, o, &err))
        rc = cli_fail("report", "%s", err.text);
    sv_lc_set_free(&set);
    return rc;
}

/* the report of the parsed command line into o->outdir; 0 or the exit status */
static int build(const char *eval, const char *model, const char *data, double threshold,
                 int threads, int n_compare, const char *const *compare, int n_catalog,
                 const char *const *catalog, const sv_report_opts *o)
{
    sv_error err;
    sv_error_clear(&err);
    int st;
    if (eval || model) {
        sv_scores s;
        memset(&s, 0, sizeof s);
        if (eval && sv_scores_read(eval, &s, &err))
            return cli_fail("report", "%s", err.text);
        if (model) {
            sv_model *m = NULL;
            if (sv_model_read_fits(model, &m, &err))
                return cli_fail("report", "%s", err.text);
            int lc = m->task == SV_TASK_LIGHTCURVE;
            int rc = lc ? lightcurves(m, model, data, o)
                        : score_here(m, model, data, threshold, threads, &s);
            sv_model_free(m);
            if (rc)
                return 1;
            if (lc)
                return 0;
        }
        const char *stamps = data ? data : file_exists(s.data) ? s.data : NULL;
        if (o->gallery == 0)
            stamps = NULL;
        st = sv_report_eval(&s, stamps, o, &err);
        sv_scores_free(&s);
    } else if (n_compare) {
        st = sv_report_compare(n_compare, compare, o, &err);
    } else {
        st = sv_report_catalog(n_catalog, catalog, o, &err);
    }
    if (st)
        return cli_fail("report", "%s", err.text);
    return 0;
}

static int run_report(int argc, char **argv)
{
    static const struct option opts[] = {{"eval", required_argument, NULL, OPT_EVAL},
                                         {"data", required_argument, NULL, OPT_DATA},
                                         {"model", required_argument, NULL, OPT_MODEL},
                                         {"compare", required_argument, NULL, OPT_COMPARE},
                                         {"catalog", required_argument, NULL, OPT_CATALOG},
                                         {"out", required_argument, NULL, 'o'},
                                         {"title", required_argument, NULL, OPT_TITLE},
                                         {"threshold", required_argument, NULL, OPT_THRESHOLD},
                                         {"threads", required_argument, NULL, OPT_THREADS},
                                         {"log-hist", no_argument, NULL, OPT_LOG},
                                         {"bins", required_argument, NULL, OPT_BINS},
                                         {"calib-bins", required_argument, NULL, OPT_CBINS},
                                         {"stretch", required_argument, NULL, OPT_STRETCH},
                                         {"gallery", required_argument, NULL, OPT_GALLERY},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *eval = NULL, *data = NULL, *model = NULL;
    const char *compare[MAX_INPUTS], *catalog[MAX_INPUTS];
    int n_compare = 0, n_catalog = 0, threads = sv_cpu_count();
    double threshold = 0.5;
    sv_report_opts o = sv_report_defaults();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        switch (c) {
        case 'h':
            help();
            return 0;
        case OPT_EVAL:
            eval = optarg;
            break;
        case OPT_DATA:
            data = optarg;
            break;
        case OPT_MODEL:
            model = optarg;
            break;
        case OPT_COMPARE:
        case OPT_CATALOG:
            if ((c == OPT_COMPARE ? n_compare : n_catalog) >= MAX_INPUTS)
                return cli_fail("report", "at most %d input files of a kind", MAX_INPUTS) + 1;
            if (c == OPT_COMPARE)
                compare[n_compare++] = optarg;
            else
                catalog[n_catalog++] = optarg;
            break;
        case 'o':
            o.outdir = optarg;
            break;
        case OPT_TITLE:
            o.title = optarg;
            break;
        case OPT_THRESHOLD:
            threshold = strtod(optarg, &end);
            if (errno || !end || *end || !(threshold >= 0 && threshold <= 1))
                return cli_fail("report", "--threshold: '%s' not in [0, 1]", optarg) + 1;
            break;
        case OPT_THREADS:
            if (parse_int("--threads", optarg, 1, 64, &threads))
                return 2;
            break;
        case OPT_LOG:
            o.log_hist = 1;
            break;
        case OPT_BINS:
            if (parse_int("--bins", optarg, 2, 200, &o.bins))
                return 2;
            break;
        case OPT_CBINS:
            if (parse_int("--calib-bins", optarg, 2, 200, &o.calib_bins))
                return 2;
            break;
        case OPT_STRETCH:
            if (!strcmp(optarg, "zscale"))
                o.stretch = SV_STRETCH_ZSCALE;
            else if (!strcmp(optarg, "asinh"))
                o.stretch = SV_STRETCH_ASINH;
            else
                return cli_fail("report", "--stretch: '%s' is neither zscale nor asinh",
                                optarg) + 1;
            break;
        case OPT_GALLERY:
            if (parse_int("--gallery", optarg, 0, 64, &o.gallery))
                return 2;
            break;
        case OPT_SEED:
            if (cli_parse_seed("report", optarg, &o.seed))
                return 2;
            break;
        default:
            fprintf(stderr, "stampvet report: see stampvet report --help\n");
            return 2;
        }
    }
    if (optind < argc)
        return cli_fail("report", "unexpected argument '%s'", argv[optind]) + 1;
    int kinds = (eval || model) + (n_compare > 0) + (n_catalog > 0);
    if (kinds != 1)
        return cli_fail("report", "give one of --eval, --model with --data, --compare or "
                                  "--catalog (see --help)") + 1;
    if (eval && model)
        return cli_fail("report", "--eval and --model exclude each other") + 1;
    if (model && !data)
        return cli_fail("report", "--model needs --data, a labelled-stamps table") + 1;
    if (!o.outdir)
        return cli_fail("report", "-o DIR, the report folder, is required") + 1;

    /* the page is built in a hidden folder beside DIR and moved into place
     * when complete: a failed report leaves no folder and no half page */
    struct stat sb;
    if (!stat(o.outdir, &sb) && !S_ISDIR(sb.st_mode))
        return cli_fail("report", "%s: exists and is not a folder", o.outdir);
    sv_error err;
    sv_error_clear(&err);
    const char *dir = o.outdir;
    sv_atomic_file af; /* atomic_file.h */
    if (sv_atomic_begin_name(&af, dir, &err))
        return cli_fail("report", "%s", err.text);
    if (mkdir(af.tmp, 0777))
        return cli_fail("report", "%s: cannot create the report folder: %s", dir,
                        strerror(errno));
    o.outdir = af.tmp;
    int rc = build(eval, model, data, threshold, threads, n_compare, compare, n_catalog,
                   catalog, &o);
    if (!rc && sv_atomic_commit_dir(&af, &err))
        rc = cli_fail("report", "%s", err.text);
    if (rc)
        sv_atomic_remove_flat_dir(af.tmp);
    else
        printf("wrote %s/index.html\n", dir);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    int rc = run_report(argc, argv);
    sv_plot_cleanup();
    return rc;
}

#endif
