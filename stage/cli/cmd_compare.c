/* cmd_compare.c — `stampvet compare`: transfer learning against training
 * from scratch over N seeds, with t-tests (compare.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "train/compare.h"
#include "cli/lc_cli.h"
#include "data/dataset.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "cli/train_opts.h"

enum { OPT_THRESHOLD = 256 };

static const cli_opt compare_opts[] = {
    {"the experiment", 0, NULL, NULL},
    {"base", TOPT_BASE, "FILE", "base model to transfer from; required"},
    {"train", TOPT_TRAIN, "FILE", "labelled-stamps table to train on; required"},
    {"test", TOPT_TEST, "FILE", "held-out labelled-stamps table to score on; required"},
    {"runs", TOPT_RUNS, "N", "seeds per arm, in [2, 1000] (5); run r uses seed + r"},
    {"sizes", TOPT_SIZES, "LIST", "training-set sizes, one table row each (stratified\n"
                                  "subsamples, drawn once from --seed); default: all"},
    {"freeze", TOPT_FREEZE, "POLICY", "transfer arm: conv (default), all-but-head, none"},
    {"body-lr-scale", TOPT_BODY_LR, "X", "transfer arm: body learning-rate multiplier"},
    {"resample", TOPT_RESAMPLE, NULL, "both arms and the test: stamps resampled to the\n"
                                      "base's pixel scale and stamp size (see finetune\n"
                                      "--help)"},
    {"scratch-lr", TOPT_SCRATCH_LR, "X", "scratch arm learning rate, in (0, 10] (default:\n"
                                         "--lr)"},
    {"threshold", OPT_THRESHOLD, "X", "real/bogus decision threshold for the figures, in\n"
                                      "[0, 1] (0.5)"},
    {"out", TOPT_OUT, "FILE", "summary table: .fits (SUMMARY and RUNS tables) or .csv;\n"
                              "the same as -o"},
    {"runs-out", TOPT_RUNS_OUT, "FILE.csv", "per-run figures as CSV"},
    {"lightcurves", TOPT_LIGHTCURVES, NULL, "the light-curve form (stampvet compare\n"
                                            "--lightcurves --help)"},
    TRAIN_RECIPE_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd compare_cmd = {
    "compare",
    "stampvet compare --base BASE.fits --train TRAIN.fits --test TEST.fits\n"
    "       [--runs N] [--sizes N1,N2,...] [-o SUMMARY.fits|.csv] [options]",
    "The transfer-learning experiment: for each training-set size and each of N\n"
    "seeds, fine-tune BASE on the training table (transfer) and train the same\n"
    "architecture from fresh weights (scratch); score both on the test table.\n"
    "Reports mean +- standard deviation of each figure, Student's and Welch's\n"
    "unpaired two-sample t-test p-values, and the epochs each needed to converge\n"
    "(the best validation epoch).",
    compare_opts,
    "the summary table (.fits or .csv), as --out",
    TRAIN_QUIET_NOTE};

static void progress(const sv_compare_run *r, void *user)
{
    (void)user;
    printf("size %-6ld %-8s run %2d seed %-6llu acc %.4f auc %.4f macroF1 %.4f  best epoch "
           "%3d of %3d  %6.1f s\n",
           r->n_labels, r->arm ? "scratch" : "transfer", r->run + 1,
           (unsigned long long)r->seed, r->met.accuracy, r->met.auc, r->met.macro_f1,
           r->best_epoch, r->epochs_run, r->seconds);
    fflush(stdout);
}

static int own_option(int c, const char *arg, void *ctx)
{
    double *threshold = ctx;
    if (c != OPT_THRESHOLD)
        return -1;
    char *end = NULL;
    errno = 0;
    *threshold = strtod(arg, &end);
    if (errno || !end || *end || !(*threshold >= 0 && *threshold <= 1))
        return cli_usage_error("compare", "--threshold: '%s' is not a number in [0, 1]", arg);
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    if (lc_cli_wants(argc, argv)) /* light curves: cmd_lc.c */
        return cmd_lc_compare(argc, argv);
    double threshold = sv_eval_defaults().threshold;
    train_cli t;
    train_cli_init(&t, "compare");
    int st = train_cli_parse(&t, argc, argv, &compare_cmd, own_option, &threshold,
                             TF_BASE | TF_TRAIN | TF_TEST | TF_REPORTS);
    if (st >= 0)
        return st;

    sv_model *base = train_cli_read_model(&t, t.base);
    if (!base)
        return 1;
    if (train_cli_resample_to(&t, base)) {
        sv_model_free(base);
        return 1;
    }
    sv_error err;
    sv_error_clear(&err);
    sv_source_options so;
    sv_stamp_source tr, te;
    memset(&te, 0, sizeof te);
    if (train_cli_open_data(&t, t.train, &so, &tr)) {
        sv_model_free(base);
        return 1;
    }
    sv_source_options to;
    train_cli_same_labels(&so, &tr, &to);
    to.max_rows = 0;
    int rc = 1;
    sv_compare_result res;
    memset(&res, 0, sizeof res);
    if (sv_source_open_table(&te, t.test, &to, &err)) {
        cli_fail("compare", "%s", err.text);
        goto done;
    }
    sv_compare_config cc;
    train_cli_compare_config(&t, &cc);
    cc.eval.threshold = threshold;
    cc.progress = progress;
    char recipe[400];
    train_cli_recipe(&t, TR_FREEZE | TR_OPT | TR_SCRATCH | TR_EPOCHS | TR_PATIENCE, recipe,
                     sizeof recipe);
    printf("base   : %s (%s)\ntrain  : %s, %ld stamps\ntest   : %s, %ld stamps\n"
           "runs   : %d seeds from %llu per arm, %s\n",
           base->name, t.base, t.train, tr.n, t.test, te.n, cc.runs,
           (unsigned long long)cc.seed, recipe);
    if (train_cli_compare_run(&t, base, &tr, &te, &cc, &res) ||
        train_cli_compare_write(&t, base, &cc, &res, "", NULL))
        goto done;
    rc = 0;
done:
    sv_compare_result_free(&res);
    sv_source_close(&tr);
    sv_source_close(&te);
    sv_model_free(base);
    return rc;
}
