/* cmd_evaluate.c — `stampvet evaluate`: score a labelled stamp table, or
 * labelled light curves (lc_cli.h), with a model and report its figures
 * (evaluate.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum { OPT_MODEL = 1, OPT_DATA, OPT_OUT, OPT_THRESHOLD, OPT_THREADS, OPT_MAX_ROWS, OPT_LC,
       OPT_SCORES_OUT };

static void help(void)
{
    printf("usage: stampvet evaluate --model MODEL.fits --data TABLE.fits [--out REPORT]\n"
           "       stampvet evaluate MODEL.fits TABLE.fits [--out REPORT]\n\n"
           "Score a labelled-stamps table with a model and report accuracy, the confusion\n"
           "matrix, ROC AUC, FPR and FNR at the threshold, the threshold where FPR = FNR,\n"
           "and per-class precision, recall and F1.  A real/bogus model is scored against\n"
           "'bogus' versus every other class; a class model against its own classes (rows\n"
           "of other classes are left out and counted).\n\n"
           "  --model FILE       model file\n"
           "  --data FILE        labelled-stamps table\n"
           "  --out FILE         also write the report: .fits/.fit/.fts (FITS table) or\n"
           "                     .csv, by extension\n"
           "  --scores-out FILE  per-stamp id, table row, label, scores and predicted\n"
           "                     class: .fits or .csv (input of stampvet report --eval)\n"
           "  --threshold X      real/bogus decision threshold (0.5)\n"
           "  --threads N        scoring threads (all CPUs)\n"
           "  --max-rows N       read at most N rows of the table\n");
}

static void help_lightcurves(void)
{
    printf("usage: stampvet evaluate --model MODEL.fits --data LC.fits [--out REPORT]\n\n"
           "Classify the labelled light curves of a table (each at its alert time)\n"
           "with a light-curve model and report accuracy, macro-F1, per-class\n"
           "precision / recall / F1, one-vs-rest ROC AUC and the confusion matrix.\n\n"
           "  --out FILE     also write the report (.fits or .csv)\n"
           "  --scores-out FILE  per-curve scores (.fits or .csv; stampvet report --eval)\n"
           "  --threads N    scoring threads\n");
}

int cmd_evaluate(int argc, char **argv)
{
    int lc = lc_cli_wants(argc, argv); /* light curves: lc_cli.h */
    static const struct option opts[] = {{"model", required_argument, NULL, OPT_MODEL},
                                         {"data", required_argument, NULL, OPT_DATA},
                                         {"out", required_argument, NULL, OPT_OUT},
                                         {"threshold", required_argument, NULL, OPT_THRESHOLD},
                                         {"threads", required_argument, NULL, OPT_THREADS},
                                         {"max-rows", required_argument, NULL, OPT_MAX_ROWS},
                                         {"lightcurves", no_argument, NULL, OPT_LC},
                                         {"scores-out", required_argument, NULL, OPT_SCORES_OUT},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *model = NULL, *data = NULL, *out = NULL, *scores_out = NULL;
    sv_eval_config ec = sv_eval_defaults();
    ec.threads = sv_cpu_count();
    long max_rows = 0;
    int c, threshold_set = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        switch (c) {
        case 'h':
            if (lc)
                help_lightcurves();
            else
                help();
            return 0;
        case OPT_LC:
            break;
        case OPT_MODEL:
            model = optarg;
            break;
        case OPT_DATA:
            data = optarg;
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_SCORES_OUT:
            scores_out = optarg;
            break;
        case OPT_THRESHOLD:
            ec.threshold = strtod(optarg, &end);
            if (errno || !end || *end || !(ec.threshold >= 0 && ec.threshold <= 1))
                return cli_fail("evaluate", "--threshold: '%s' not in [0, 1]", optarg) + 1;
            threshold_set = 1;
            break;
        case OPT_THREADS: {
            long v = strtol(optarg, &end, 10);
            if (errno || !end || *end || v < 1 || v > 64)
                return cli_fail("evaluate", "--threads: '%s' not in 1..64", optarg) + 1;
            ec.threads = (int)v;
            break;
        }
        case OPT_MAX_ROWS:
            max_rows = strtol(optarg, &end, 10);
            if (errno || !end || *end || max_rows < 1)
                return cli_fail("evaluate", "--max-rows: '%s' is not a positive integer",
                                optarg) + 1;
            break;
        default:
            fprintf(stderr, "stampvet evaluate: see stampvet evaluate --help\n");
            return 2;
        }
    }
    if (!model && optind < argc)
        model = argv[optind++];
    if (!data && optind < argc)
        data = argv[optind++];
    if (optind < argc)
        return cli_fail("evaluate", "unexpected argument '%s'", argv[optind]) + 1;
    if (!model || !data)
        return cli_fail("evaluate", "a model and a data table are required (see --help)") + 1;
    if (out && !sv_report_kind(out))
        return cli_fail("evaluate", "--out %s: use a .fits, .fit, .fts or .csv name", out) + 1;
    if (scores_out && !sv_report_kind(scores_out))
        return cli_fail("evaluate", "--scores-out %s: use a .fits, .fit, .fts or .csv name",
                        scores_out) + 1;

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
            cli_fail("evaluate", "--threshold and --max-rows are for stamp tables");
            rc = 2;
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
