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

enum { OPT_THRESHOLD = 256, OPT_SCRATCH_FROM };

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
    {"scratch-from", OPT_SCRATCH_FROM, "RUNS.csv", "reuse the scratch arm of an earlier\n"
                                                  "compare's --runs-out (same base, data,\n"
                                                  "sizes, seeds and scratch recipe; checked)\n"
                                                  "instead of training it again: another\n"
                                                  "--freeze against the same scratch runs"},
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
           "%3d of %3d  ",
           r->n_labels, r->arm ? "scratch" : "transfer", r->run + 1,
           (unsigned long long)r->seed, r->met.accuracy, r->met.auc, r->met.macro_f1,
           r->best_epoch, r->epochs_run);
    if (r->reused)
        printf("reused\n");
    else
        printf("%6.1f s\n", r->seconds);
    fflush(stdout);
}

typedef struct own_args {
    double threshold;
    const char *scratch_from;
} own_args;

static int own_option(int c, const char *arg, void *ctx)
{
    own_args *o = ctx;
    if (c == OPT_SCRATCH_FROM) {
        o->scratch_from = arg;
        return 0;
    }
    if (c != OPT_THRESHOLD)
        return -1;
    char *end = NULL;
    errno = 0;
    o->threshold = strtod(arg, &end);
    if (errno || !end || *end || !(o->threshold >= 0 && o->threshold <= 1))
        return cli_usage_error("compare", "--threshold: '%s' is not a number in [0, 1]", arg);
    return 0;
}

/* Everything the scratch arm's figures depend on, as one line: the base's
 * architecture and preprocessing (its checksum), the training and test
 * tables, the stamps' resampling, the sizes and seeds, the scratch recipe
 * and the decision threshold (not the freeze policy or the body
 * learning-rate scale: they only change the transfer arm; not the thread
 * count: results do not depend on it). */
static void scratch_key(const train_cli *t, const sv_model *base, const sv_stamp_source *tr,
                        const sv_stamp_source *te, const sv_compare_config *cc, char *buf,
                        size_t cap)
{
    const sv_train_config *g = &cc->scratch;
    const nn_opt_config *o = &g->opt;
    size_t len = 0;
#define PUT(...)                                                                          \
    do {                                                                                  \
        if (len < cap)                                                                    \
            len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__);                  \
    } while (0)
    PUT("base %s; train %s (%ld); test %s (%ld); classes", base->checksum, t->train, tr->n,
        t->test, te->n);
    for (int c = 0; c < tr->n_classes; c++)
        PUT(" %s", tr->classes[c]);
    PUT("; resample %g %d; runs %d seed %llu sizes", t->resample ? t->resample_to : 0.0,
        t->resample ? t->resample_size : 0, cc->runs, (unsigned long long)cc->seed);
    for (int i = 0; i < cc->n_sizes; i++)
        PUT("%s%ld", i ? "," : " ", cc->sizes[i]);
    PUT("; opt %d lr %.9g mom %.9g betas %.9g %.9g eps %.9g wd %.9g; batch %d epochs %d "
        "patience %d min_delta %.9g val %.9g augment %d class_weight %d",
        (int)o->kind, (double)o->lr, (double)o->momentum, (double)o->beta1, (double)o->beta2,
        (double)o->eps, (double)o->weight_decay, g->batch, g->epochs, g->patience,
        g->min_delta, g->val_fraction, g->augment, (int)g->class_weight);
    if (g->class_weight == SV_CW_CUSTOM)
        for (int c = 0; c < tr->n_classes; c++)
            PUT(" %.9g", (double)g->custom_weight[c]);
    PUT("; slices %d isa %d; threshold %.9g", g->slices, (int)g->isa, cc->eval.threshold);
#undef PUT
}

int cmd_compare(int argc, char **argv)
{
    if (lc_cli_wants(argc, argv)) /* light curves: cmd_lc.c */
        return cmd_lc_compare(argc, argv);
    own_args own = {sv_eval_defaults().threshold, NULL};
    train_cli t;
    train_cli_init(&t, "compare");
    int st = train_cli_parse(&t, argc, argv, &compare_cmd, own_option, &own,
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
    sv_compare_run *reuse = NULL;
    if (sv_source_open_table(&te, t.test, &to, &err)) {
        cli_fail("compare", "%s", err.text);
        goto done;
    }
    sv_compare_config cc;
    train_cli_compare_config(&t, &cc);
    cc.eval.threshold = own.threshold;
    cc.progress = progress;
    char key[2048];
    scratch_key(&t, base, &tr, &te, &cc, key, sizeof key);
    if (own.scratch_from) {
        if (sv_compare_read_scratch(own.scratch_from, key, &reuse, &cc.n_scratch_runs, &err)) {
            cli_fail("compare", "--scratch-from %s", err.text);
            goto done;
        }
        cc.scratch_runs = reuse;
    }
    char recipe[400];
    train_cli_recipe(&t, TR_FREEZE | TR_OPT | TR_SCRATCH | TR_EPOCHS | TR_PATIENCE, recipe,
                     sizeof recipe);
    printf("base   : %s (%s)\ntrain  : %s, %ld stamps\ntest   : %s, %ld stamps\n"
           "runs   : %d seeds from %llu per arm, %s%s\n",
           base->name, t.base, t.train, tr.n, t.test, te.n, cc.runs,
           (unsigned long long)cc.seed, recipe,
           own.scratch_from ? "; scratch arm reused (--scratch-from)" : "");
    if (train_cli_compare_run(&t, base, &tr, &te, &cc, &res) ||
        train_cli_compare_write(&t, base, &cc, &res, "", NULL, key))
        goto done;
    rc = 0;
done:
    free(reuse);
    sv_compare_result_free(&res);
    sv_source_close(&tr);
    sv_source_close(&te);
    sv_model_free(base);
    return rc;
}
