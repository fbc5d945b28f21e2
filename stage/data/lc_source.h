/* lc_source.h — light curves as a training / evaluation source, and
 * running a light-curve model.
 *
 * The shared training loop (train.h), fine-tuning (finetune.h), evaluation
 * (evaluate.h) and the transfer experiment (compare.h) read samples through
 * an sv_stamp_source (dataset.h).  A light-curve source is one whose
 * samples are ready network inputs (n_inputs > 0): each light curve is
 * prepared once, with the model's own preprocessing (lc_prep.h), at its
 * alert time (T_ALERT, or all observations), into the sequence (T x F) and
 * the metadata vector, kept in memory.  Candidates without a label of the
 * requested classes, or without a detection up to their alert time, are
 * left out and counted.
 *
 * Thread safety: a source is used by one thread at a time (dataset.h); the
 * other functions are reentrant (the model is only read).
 */
#ifndef SV_LC_SOURCE_H
#define SV_LC_SOURCE_H

#include "data/dataset.h"
#include "data/lightcurve.h"
#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_lc_source_options {
    int n_classes;        /* 0: the set's classes, in its order             */
    char classes[SV_MAX_CLASSES][SV_LABEL_MAX]; /* else these, in order      */
    int threads;          /* preparing in parallel (1); same result          */
} sv_lc_source_options;

typedef struct sv_lc_source_info {
    long n_used;          /* samples in the source                          */
    long n_unlabelled;    /* no label or a class not asked for               */
    long n_no_detection;  /* no detection up to the alert time              */
    int n_dropped_bands;  /* set bands the model does not know               */
    int n_missing_meta;   /* model metadata the set lacks (values unknown)   */
} sv_lc_source_info;

/* A source over the labelled candidates of `set` prepared with p (which
 * must validate and not be mode none).  The source copies what it needs:
 * set may be freed afterwards.  Returns 0 or a status with err set (no
 * usable candidate, a requested class missing from the set, bands that do
 * not match). */
int sv_lc_source_open(sv_stamp_source *src, const sv_lc_set *set, const sv_lcprep *p,
                      const sv_lc_source_options *opt, sv_lc_source_info *info, sv_error *err);

/* Check that a light-curve model's declared preprocessing agrees with its
 * network: mode not none, input 0 is (n_steps, F), and input 1 is the
 * metadata vector exactly when the preprocessing has metadata; the output
 * is (k) or (T, k) with k = n_classes.  Returns 0 or SV_ERR_SHAPE /
 * SV_ERR_FORMAT with err saying which. */
int sv_lc_model_check(const sv_model *m, sv_error *err);

/* Score every sample of a ready-input source (n_inputs > 0) with m:
 * *scores gets src->n * *n_out floats (class probabilities; for a model
 * with one output per time step, those of the last step: the sequence must
 * be end-aligned).  threads workspaces over chunks, the same result for
 * any thread count.  Returns 0 or a status with err set. */
int sv_source_score_direct(const sv_model *m, const sv_stamp_source *src, int threads,
                           int batch, float **scores, int *n_out, sv_error *err);

/* ---- classifying histories (the stage, `stampvet run --history`) -------- */

typedef struct sv_lc_scorer sv_lc_scorer;

/* A scorer for light-curve model m (checked with sv_lc_model_check; it
 * must outlive the scorer), for batches of up to max_batch candidates. */
sv_lc_scorer *sv_lc_scorer_new(const sv_model *m, int max_batch, sv_error *err);
void sv_lc_scorer_free(sv_lc_scorer *s);

/* Classify candidates idx[0..n-1] of set (bound to the model's bands and
 * metadata by name) at times t_now[0..n-1] (NULL or NaN: each candidate's
 * t_alert, else all observations).  prob receives n * m->n_classes floats,
 * ok[i] = 1 when candidate i had a detection to classify, 0 when not (its
 * probabilities are then NaN).  Returns 0 or a status with err set. */
int sv_lc_scorer_run(sv_lc_scorer *s, const sv_lc_set *set, const long *idx, int n,
                     const double *t_now, float *prob, int *ok, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
