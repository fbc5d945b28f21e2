/* compare.h — the transfer-learning experiment (`stampvet compare`).
 *
 * For each training-set size (a row of the paper's table) and each of N
 * seeds, two models are trained on the same labelled stamps and scored on
 * the same held-out test stamps:
 *   transfer  fine-tuned from the base model (finetune.h: same freeze
 *             policy, head replacement and recipe for every run);
 *   scratch   the same architecture (the fine-tuned network's layers,
 *             head included) with fresh Glorot weights from the run's
 *             seed, every layer trainable, trained with the scratch recipe.
 * Run r uses seed cfg->seed + r for both arms (so both arms of a run share
 * the validation split); the subsample of a given size is stratified and
 * drawn once from cfg->seed, the same for every run and both arms.
 *
 * For every figure (accuracy, ROC AUC, macro-F1, log loss and, for
 * real/bogus, FPR, FNR, EER; plus "epochs", the best epoch = epochs to
 * converge, and "epochs_run") the result holds the mean and sample
 * standard deviation of each arm and the unpaired two-sample t-tests,
 * Student's and Welch's (metrics.h), transfer against scratch.
 *
 * Report files (by extension, as evaluate.h): FITS with BINTABLEs
 * 'SUMMARY' (SIZE, NTRAIN, METRIC, TR_MEAN, TR_STD, SC_MEAN, SC_STD,
 * T_STUD, P_STUD, T_WELCH, DOF_WELCH, P_WELCH, NRUNS) and 'RUNS' (SIZE,
 * ARM, RUN, SEED, METRIC, VALUE); CSV with the SUMMARY columns (lower
 * case) — the per-run rows go to a second CSV file when asked for.
 *
 * Thread safety: reentrant; the base model and the sources are only read
 * (sources are used by one thread at a time, as dataset.h requires).
 */
#ifndef SV_COMPARE_H
#define SV_COMPARE_H

#include <stdio.h>

#include "data/dataset.h"
#include "train/evaluate.h"
#include "train/finetune.h"
#include "train/metrics.h"
#include "model/model.h"
#include "train/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_COMPARE_MAX_SIZES 16
#define SV_COMPARE_MAX_STATS 16

typedef enum { SV_ARM_TRANSFER = 0, SV_ARM_SCRATCH = 1 } sv_compare_arm;

/* One trained and scored model. */
typedef struct sv_compare_run {
    long size;            /* requested training-set size (0 = all)        */
    long n_labels;        /* samples actually used (train + validation)   */
    int arm;              /* sv_compare_arm                               */
    int run;              /* 0..N-1                                       */
    uint64_t seed;
    sv_metrics met;       /* on the test set                              */
    int best_epoch, epochs_run;
    double seconds;       /* training time                                */
    int reused;           /* 1: a scratch run read back (scratch_runs),
                             not trained by this call                     */
} sv_compare_run;

typedef struct sv_compare_stat {
    char metric[24];
    double mean[2], std[2];     /* [transfer, scratch]                    */
    sv_ttest student, welch;    /* transfer vs scratch                    */
} sv_compare_stat;

typedef struct sv_compare_row {
    long size;
    long n_labels;
    int n_stats;
    sv_compare_stat stat[SV_COMPARE_MAX_STATS];
} sv_compare_row;

typedef struct sv_compare_result {
    int binary;
    int n_rows;
    sv_compare_row rows[SV_COMPARE_MAX_SIZES];
    int n_runs;                 /* n_rows * 2 * runs                       */
    sv_compare_run *runs;       /* owned; free with sv_compare_result_free */
} sv_compare_result;

/* Called after each trained-and-scored model (for progress lines). */
typedef void (*sv_compare_progress_fn)(const sv_compare_run *run, void *user);

typedef struct sv_compare_config {
    int runs;                   /* seeds per arm and size (5), >= 2        */
    uint64_t seed;              /* run r uses seed + r (1)                 */
    int n_sizes;                /* 0: one row with all training samples    */
    long sizes[SV_COMPARE_MAX_SIZES];
    sv_finetune_config transfer; /* transfer recipe (its train.seed is set
                                   per run)                                */
    sv_train_config scratch;    /* scratch recipe (seed set per run)       */
    sv_eval_config eval;        /* scoring the test set                    */
    const sv_compare_run *scratch_runs; /* or NULL: scratch runs of an
                                   earlier compare with the same scratch
                                   arm (sv_compare_read_scratch), used
                                   instead of training it again            */
    int n_scratch_runs;
    sv_compare_progress_fn progress;
    void *progress_user;
} sv_compare_config;

/* Defaults: 5 runs, seed 1, all samples, sv_finetune_defaults(),
 * sv_train_defaults(), sv_eval_defaults(). */
sv_compare_config sv_compare_defaults(void);

/* Run the experiment.  train and test must have the same label kind and
 * classes; train_path names the data in the fine-tuned models' provenance
 * (may be NULL).  Returns 0 and fills res (free with
 * sv_compare_result_free), or a status with err set. */
int sv_compare(const sv_model *base, const sv_stamp_source *train, const char *train_path,
               const sv_stamp_source *test, const sv_compare_config *cfg,
               sv_compare_result *res, sv_error *err);

void sv_compare_result_free(sv_compare_result *res);

/* The paper-style table on out: one block per size, one line per figure:
 * transfer mean +- std, scratch mean +- std, Student and Welch p-values. */
int sv_compare_print(FILE *out, const sv_compare_result *res);

/* Write the summary (and, for FITS, the runs) to path (.fits/.csv);
 * runs_csv, if non-NULL, receives the per-run rows as CSV, headed by the
 * line "# scratch arm: <scratch_key>" when scratch_key is non-NULL (what
 * the scratch arm depended on, for sv_compare_read_scratch).  Both atomic.
 * Returns 0 or a status with err naming the file. */
int sv_compare_write(const char *path, const char *runs_csv, const sv_compare_result *res,
                     const char *provenance, const char *scratch_key, sv_error *err);

/* Read back the scratch runs of a per-run CSV written by sv_compare_write,
 * so that an experiment with several transfer recipes (freeze policies)
 * trains its scratch arm once.  scratch_key must equal the file's
 * "# scratch arm:" line: the caller builds it from everything the scratch
 * arm depends on (base, data, sizes, seeds, recipe), so a file from another
 * scratch arm is refused.  Returns 0 with *runs (malloc'd, free()) and *n
 * set, every run with reused = 1; or SV_ERR_IO / SV_ERR_FORMAT with err
 * naming the file and the problem.  Reentrant. */
int sv_compare_read_scratch(const char *runs_csv, const char *scratch_key,
                            sv_compare_run **runs, int *n, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
