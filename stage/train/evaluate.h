/* evaluate.h — scoring a labelled stamp set with a model and reporting its
 * figures (`stampvet evaluate`).
 *
 * Scoring runs the model exactly as the stage does (score.h: the model's
 * own preprocessing, batched inference), over chunks of the source split
 * between threads, one scorer per thread; the scores do not depend on the
 * thread count.  The figures are those of metrics.h.
 *
 * Report files, chosen by the output file's extension:
 *   .fits .fit .fts (optionally + .gz)  a FITS file: primary header with
 *       provenance (MODEL, MODELCK, MODELFIL, DATA, NSAMPLE, NSKIPPED,
 *       THRESH, ACCURACY, AUC, MACROF1, FPR, FNR, EER, EERTHR, CREATOR,
 *       DATE) and one BINTABLE EXTNAME = 'METRICS' with columns
 *       METRIC (24A), CLASS (32A), PREDICTED (32A), VALUE (1D);
 *   .csv  the same rows as comma-separated text with the header line
 *       `metric,class,predicted,value`, preceded by '# key: value'
 *       provenance comment lines.
 * Rows: one per scalar figure (accuracy, log_loss, auc, macro_f1 and, for
 * real/bogus, threshold, fpr, fnr, eer, eer_threshold) with empty CLASS;
 * per class: support, precision, recall, f1, auc (one-vs-rest); the
 * confusion matrix as metric 'confusion' with CLASS the true class and
 * PREDICTED the predicted class (k x k rows).  Files are written atomically
 * (temporary name, then rename).
 *
 * Thread safety: reentrant; the model is only read.
 */
#ifndef SV_EVALUATE_H
#define SV_EVALUATE_H

#include <stdio.h>

#include "data/dataset.h"
#include "train/metrics.h"
#include "model/model.h"
#include "fits/report_file.h" /* sv_report_kind: the report formats by name */
#include "data/scores_table.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_eval_config {
    int threads;       /* scoring threads (1)                                */
    int batch;         /* triplets per network call (64)                     */
    int chunk;         /* triplets fetched from the source at once (1024)    */
    double threshold;  /* real/bogus decision threshold (0.5)                */
} sv_eval_config;

sv_eval_config sv_eval_defaults(void);

/* Score every sample of src with m.  *scores gets src->n * *n_out floats
 * (P(real), or class probabilities in the model's order; the caller frees
 * it).  Returns 0 or a status with err set. */
int sv_evaluate_scores(const sv_model *m, const sv_stamp_source *src,
                       const sv_eval_config *cfg, float **scores, int *n_out, sv_error *err);

/* Score and compute the figures.  The source's labels must match the model
 * (real/bogus labels for a real/bogus model, the model's class names in
 * order for a class model).  scores_out, if non-NULL, receives the scores
 * (caller frees), else they are freed.  Returns 0 or a status. */
int sv_evaluate(const sv_model *m, const sv_stamp_source *src, const sv_eval_config *cfg,
                sv_metrics *met, float **scores_out, sv_error *err);

/* What a report says about its inputs (any field may be NULL / 0). */
typedef struct sv_eval_info {
    const char *model_name;
    const char *model_path;
    const char *model_checksum;
    const char *data_path;
    long n_skipped;      /* table rows not scored (other classes, unlabelled) */
    double seconds;      /* scoring time                                      */
} sv_eval_info;

/* The human-readable report on `out`.  Returns 0 (or SV_ERR_IO). */
int sv_evaluate_print(FILE *out, const sv_metrics *met, const sv_eval_info *info);

/* Write the report as FITS or CSV by path's extension (see above).
 * Returns 0, SV_ERR_ARG (unknown extension), SV_ERR_IO with err naming the
 * file. */
int sv_evaluate_write(const char *path, const sv_metrics *met, const sv_eval_info *info,
                      sv_error *err);

/* The per-stamp scores of an evaluation as a scores table (scores_table.h):
 * scores (src->n * n_out, from sv_evaluate) are copied; labels and rows
 * come from src (rows: the sample index when src has none); identifiers
 * from the ID column of the labelled-stamps table at data_path when
 * ids_from_table is set, else the row.  Returns 0 or a status with err set;
 * free out with sv_scores_free. */
int sv_evaluate_scores_table(const sv_model *m, const char *model_path,
                             const sv_stamp_source *src, const char *data_path,
                             int ids_from_table, const float *scores, double threshold,
                             sv_scores *out, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
