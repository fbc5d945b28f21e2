/* cmd_report.c — `stampvet report`: an HTML page with figures (PNG, PDF)
 * from an evaluation, compare runs, stage output tables or light curves
 * (report_pages.h).  Needs cairo (configure --with-cairo). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "config.h"

enum {
    OPT_EVAL = 256, OPT_DATA, OPT_MODEL, OPT_COMPARE, OPT_CATALOG, OPT_TITLE, OPT_THRESHOLD,
    OPT_THREADS, OPT_LOG, OPT_BINS, OPT_CBINS, OPT_STRETCH, OPT_GALLERY, OPT_SEED, OPT_OUT
};

#define MAX_INPUTS 64

static const cli_opt report_opts[] = {
    {"eval", OPT_EVAL, "SCORES", "per-stamp scores (evaluate --scores-out)"},
    {"data", OPT_DATA, "TABLE", "the labelled-stamps (or light-curve) table"},
    {"model", OPT_MODEL, "FILE", "a model to score --data with here"},
    {"compare", OPT_COMPARE, "FILE", "a compare summary (may be repeated)"},
    {"catalog", OPT_CATALOG, "FILE", "a stage output table (may be repeated)"},
    {"out", OPT_OUT, "DIR", "the same as -o"},
    {"title", OPT_TITLE, "TEXT", "page title"},
    {"threshold", OPT_THRESHOLD, "X", "real/bogus threshold when scoring with --model, in\n"
                                      "[0, 1] (0.5)"},
    {"threads", OPT_THREADS, "N", "scoring threads with --model, in [1, 64] (all CPUs)"},
    {"log-hist", OPT_LOG, NULL, "histograms on a logarithmic count axis"},
    {"bins", OPT_BINS, "N", "histogram bins, in [2, 200] (20)"},
    {"calib-bins", OPT_CBINS, "N", "reliability-diagram bins, in [2, 200] (10)"},
    {"stretch", OPT_STRETCH, "S", "gallery stretch: zscale (default) or asinh"},
    {"gallery", OPT_GALLERY, "N", "stamps per gallery, in [0, 64] (8; 0 = none)"},
    {"seed", OPT_SEED, "N", "seed of the random gallery samples (1)"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd report_cmd = {
    "report",
    "stampvet report --eval SCORES [--data TABLE] -o DIR [options]\n"
    "stampvet report --model MODEL.fits --data TABLE -o DIR [options]\n"
    "stampvet report --compare SUMMARY.csv [--compare ...] -o DIR\n"
    "stampvet report --catalog OUT.fits [--catalog ...] -o DIR\n"
    "stampvet report --model LC-MODEL.fits --data LIGHTCURVES.fits -o DIR",
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
           "              time (classified at each detection).",
    report_opts,
    "report folder (created; required)",
    "-q leaves out the 'wrote' line."
#ifndef HAVE_CAIRO
    "\n\nNOT AVAILABLE in this build: stampvet was built without cairo."
#endif
};

/* the command line; bins, calib_bins, gallery, stretch: -1 = the default */
typedef struct report_args {
    const char *eval, *data, *model, *outdir, *title;
    const char *compare[MAX_INPUTS], *catalog[MAX_INPUTS];
    int n_compare, n_catalog, log_hist, stretch_asinh;
    long threads, bins, calib_bins, gallery;
    int have_seed;
    uint64_t seed;
    double threshold;
} report_args;

static int report_option(void *user, int key, const char *arg)
{
    report_args *a = user;
    switch (key) {
    case OPT_EVAL: a->eval = arg; return 0;
    case OPT_DATA: a->data = arg; return 0;
    case OPT_MODEL: a->model = arg; return 0;
    case OPT_COMPARE:
    case OPT_CATALOG:
        if ((key == OPT_COMPARE ? a->n_compare : a->n_catalog) >= MAX_INPUTS)
            return cli_usage_error("report", "at most %d input files of a kind", MAX_INPUTS);
        if (key == OPT_COMPARE)
            a->compare[a->n_compare++] = arg;
        else
            a->catalog[a->n_catalog++] = arg;
        return 0;
    case OPT_OUT: a->outdir = arg; return 0;
    case OPT_TITLE: a->title = arg; return 0;
    case OPT_THRESHOLD: return cli_parse_double("report", "threshold", arg, 0, 1, &a->threshold);
    case OPT_THREADS: return cli_parse_long("report", "threads", arg, 1, 64, &a->threads);
    case OPT_LOG: a->log_hist = 1; return 0;
    case OPT_BINS: return cli_parse_long("report", "bins", arg, 2, 200, &a->bins);
    case OPT_CBINS: return cli_parse_long("report", "calib-bins", arg, 2, 200, &a->calib_bins);
    case OPT_STRETCH:
        if (!strcmp(arg, "zscale"))
            a->stretch_asinh = 0;
        else if (!strcmp(arg, "asinh"))
            a->stretch_asinh = 1;
        else
            return cli_usage_error("report", "--stretch: '%s' is neither zscale nor asinh", arg);
        return 0;
    case OPT_GALLERY: return cli_parse_long("report", "gallery", arg, 0, 64, &a->gallery);
    case OPT_SEED:
        a->have_seed = 1;
        return cli_parse_seed("report", arg, &a->seed) ? CLI_USAGE : 0;
    default: return CLI_USAGE;
    }
}

/* Parse and check the command line.  Returns -1 to go on, else the exit
 * status (0 after --help). */
static int report_parse(int argc, char **argv, report_args *a, cli_common *com)
{
    memset(a, 0, sizeof *a);
    a->threads = -1;
    a->bins = a->calib_bins = a->gallery = -1;
    a->stretch_asinh = -1;
    a->threshold = 0.5;
    int first = 0;
    int st = cli_parse(&report_cmd, argc, argv, com, report_option, a, &first);
    if (st >= 0)
        return st;
    if (com->output) {
        if (a->outdir && strcmp(a->outdir, com->output))
            return cli_usage_error("report", "-o %s and --out %s: give one of them",
                                   com->output, a->outdir);
        a->outdir = com->output;
    }
    if (first < argc)
        return cli_usage_error("report", "unexpected argument '%s'", argv[first]);
    int kinds = (a->eval || a->model) + (a->n_compare > 0) + (a->n_catalog > 0);
    if (kinds != 1)
        return cli_usage_error("report", "give one of --eval, --model with --data, --compare "
                                         "or --catalog");
    if (a->eval && a->model)
        return cli_usage_error("report", "--eval and --model exclude each other");
    if (a->model && !a->data)
        return cli_usage_error("report", "--model needs --data, a labelled-stamps table");
    if (!a->outdir)
        return cli_usage_error("report", "-o DIR, the report folder, is required");
    return -1;
}

#ifndef HAVE_CAIRO

int cmd_report(int argc, char **argv)
{
    report_args a;
    cli_common com = {0};
    int st = report_parse(argc, argv, &a, &com);
    if (st >= 0)
        return st;
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
    report_args a;
    cli_common com = {0};
    int pst = report_parse(argc, argv, &a, &com);
    if (pst >= 0)
        return pst;
    const char *eval = a.eval, *data = a.data, *model = a.model;
    const char *const *compare = a.compare, *const *catalog = a.catalog;
    int n_compare = a.n_compare, n_catalog = a.n_catalog;
    int threads = a.threads > 0 ? (int)a.threads : sv_cpu_count();
    double threshold = a.threshold;
    sv_report_opts o = sv_report_defaults();
    o.outdir = a.outdir;
    if (a.title)
        o.title = a.title;
    o.log_hist = a.log_hist;
    if (a.bins >= 0)
        o.bins = (int)a.bins;
    if (a.calib_bins >= 0)
        o.calib_bins = (int)a.calib_bins;
    if (a.gallery >= 0)
        o.gallery = (int)a.gallery;
    if (a.stretch_asinh >= 0)
        o.stretch = a.stretch_asinh ? SV_STRETCH_ASINH : SV_STRETCH_ZSCALE;
    if (a.have_seed)
        o.seed = a.seed;

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
    else if (!com.quiet)
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
