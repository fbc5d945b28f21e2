/* cmd_evaluate.c — `stampvet evaluate`: score a labelled stamp table, or
 * labelled light curves (lc_cli.h), with a model and report its figures
 * (evaluate.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "cli/lc_cli.h"
#include "data/lightcurve.h"
#include "train/evaluate.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "core/parallel.h"
#include "fits/report_file.h"
#include "cli/train_opts.h"
#include "nn/nn_engine.h"

enum { OPT_MODEL = 256, OPT_DATA, OPT_OUT, OPT_THRESHOLD, OPT_THREADS, OPT_MAX_ROWS, OPT_LC,
       OPT_SCORES_OUT };

static const cli_opt evaluate_opts[] = {
    {"model", OPT_MODEL, "FILE", "model file (or the first argument)"},
    {"data", OPT_DATA, "FILE", "labelled-stamps table, or labelled light curves (or the\n"
                               "second argument)"},
    {"out", OPT_OUT, "FILE", "also write the report: .fits/.fit/.fts (FITS table) or\n"
                             ".csv, by extension; the same as -o"},
    {"scores-out", OPT_SCORES_OUT, "FILE", "per-stamp (per-curve) id, table row, label,\n"
                                           "scores and predicted class: .fits or .csv\n"
                                           "(input of stampvet report --eval)"},
    {"threshold", OPT_THRESHOLD, "X", "real/bogus decision threshold, in [0, 1] (0.5;\n"
                                      "stamps only)"},
    {"threads", OPT_THREADS, "N", "scoring threads, in [1, 64] (all CPUs)"},
    {"max-rows", OPT_MAX_ROWS, "N", "read at most N rows of the table (stamps only)"},
    {"lightcurves", OPT_LC, NULL, "the data are light curves (also chosen by a\n"
                                  "light-curve table or model)"},
    {NULL, 0, NULL, NULL},
};

static const cli_cmd evaluate_cmd = {
    "evaluate",
    "stampvet evaluate --model MODEL.fits --data TABLE.fits [-o REPORT]\n"
    "stampvet evaluate MODEL.fits TABLE.fits [-o REPORT]",
    "Score a labelled-stamps table with a model and report accuracy, the confusion\n"
    "matrix, ROC AUC, FPR and FNR at the threshold, the threshold where FPR = FNR,\n"
    "and per-class precision, recall and F1.  A real/bogus model is scored against\n"
    "'bogus' versus every other class; a class model against its own classes (rows\n"
    "of other classes are left out and counted).\n"
    "With a light-curve model (or --lightcurves): classify the labelled light\n"
    "curves of a table (each at its alert time) and report accuracy, macro-F1,\n"
    "per-class precision / recall / F1, one-vs-rest ROC AUC and the confusion\n"
    "matrix.  The report goes to stdout (none with -q).",
    evaluate_opts,
    "also write the report (.fits/.fit/.fts or .csv), as --out",
    NULL};

typedef struct eval_args {
    const char *model, *data, *out, *scores_out;
    double threshold;
    long threads, max_rows;
    int threshold_set;
} eval_args;

static int eval_option(void *user, int key, const char *arg)
{
    eval_args *a = user;
    switch (key) {
    case OPT_LC: return 0;
    case OPT_MODEL: a->model = arg; return 0;
    case OPT_DATA: a->data = arg; return 0;
    case OPT_OUT: a->out = arg; return 0;
    case OPT_SCORES_OUT: a->scores_out = arg; return 0;
    case OPT_THRESHOLD:
        a->threshold_set = 1;
        return cli_parse_double("evaluate", "threshold", arg, 0, 1, &a->threshold);
    case OPT_THREADS: return cli_parse_long("evaluate", "threads", arg, 1, 64, &a->threads);
    case OPT_MAX_ROWS:
        return cli_parse_long("evaluate", "max-rows", arg, 1, 1L << 40, &a->max_rows);
    default: return CLI_USAGE;
    }
}

int cmd_evaluate(int argc, char **argv)
{
    int lc = lc_cli_wants(argc, argv); /* light curves: lc_cli.h */
    sv_eval_config ec = sv_eval_defaults();
    eval_args a = {0};
    a.threshold = ec.threshold;
    a.threads = sv_cpu_count();
    cli_common com = {0};
    int first = 0;
    int pst = cli_parse(&evaluate_cmd, argc, argv, &com, eval_option, &a, &first);
    if (pst >= 0)
        return pst;
    if (com.output) {
        if (a.out && strcmp(a.out, com.output))
            return cli_usage_error("evaluate", "-o %s and --out %s: give one of them",
                                   com.output, a.out);
        a.out = com.output;
    }
    const char *model = a.model, *data = a.data, *out = a.out, *scores_out = a.scores_out;
    ec.threshold = a.threshold;
    ec.threads = (int)a.threads;
    long max_rows = a.max_rows;
    int threshold_set = a.threshold_set;
    if (!model && first < argc)
        model = argv[first++];
    if (!data && first < argc)
        data = argv[first++];
    if (first < argc)
        return cli_usage_error("evaluate", "unexpected argument '%s'", argv[first]);
    if (!model || !data)
        return cli_usage_error("evaluate", "a model and a data table are required");
    if (out && !sv_report_kind(out))
        return cli_usage_error("evaluate", "--out %s: use a .fits, .fit, .fts or .csv name", out);
    if (scores_out && !sv_report_kind(scores_out))
        return cli_usage_error("evaluate", "--scores-out %s: use a .fits, .fit, .fts or .csv "
                               "name", scores_out);
    if (com.quiet && !freopen("/dev/null", "w", stdout))
        return cli_fail("evaluate", "/dev/null: cannot write");

    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    if (sv_model_read_fits(model, &m, &err))
        return cli_fail("evaluate", "%s", err.text);
    sv_stamp_source src;
    memset(&src, 0, sizeof src);
    sv_lc_set set;
    memset(&set, 0, sizeof set);
    int rc = 1;
    float *scores = NULL;
    lc = lc || m->task == SV_TASK_LIGHTCURVE;
    if (lc) {
        if (threshold_set || max_rows) {
            rc = cli_usage_error("evaluate", "--threshold and --max-rows are for stamp tables");
            goto done;
        }
        if (lc_cli_open_labelled("evaluate", data, m, ec.threads, &set, &src))
            goto done;
    } else {
        sv_source_options so;
        sv_source_options_for_model(m, &so);
        so.max_rows = max_rows;
        if (sv_source_open_table(&src, data, &so, &err)) {
            cli_fail("evaluate", "%s", err.text);
            goto done;
        }
    }
    nn_blas_single_thread();
    sv_metrics met;
    double t0 = cli_seconds();
    if (sv_evaluate(m, &src, &ec, &met, scores_out ? &scores : NULL, &err)) {
        cli_fail("evaluate", "%s", err.text);
        goto done;
    }
    sv_eval_info info = {m->name, model, m->checksum, data, src.n_skipped, cli_seconds() - t0};
    sv_evaluate_print(stdout, &met, &info);
    if (out) {
        if (sv_evaluate_write(out, &met, &info, &err)) {
            cli_fail("evaluate", "%s", err.text);
            goto done;
        }
        printf("\nwrote      : %s\n", out);
    }
    if (scores_out) {
        sv_scores tab;
        int st = sv_evaluate_scores_table(m, model, &src, data, !lc, scores, ec.threshold, &tab,
                                          &err);
        if (!st)
            st = sv_scores_write(scores_out, &tab, &err);
        sv_scores_free(&tab);
        if (st) {
            cli_fail("evaluate", "%s", err.text);
            goto done;
        }
        printf("%swrote      : %s (per-stamp scores)\n", out ? "" : "\n", scores_out);
    }
    rc = 0;
done:
    free(scores);
    sv_source_close(&src);
    sv_lc_set_free(&set);
    sv_model_free(m);
    return rc;
}
