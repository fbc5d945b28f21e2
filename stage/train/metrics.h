/* metrics.h — classifier figures of merit and the two-sample t-tests.
 *
 * Everything a survey reports about a real/bogus or class CNN on a labelled
 * test set: accuracy, the confusion matrix, ROC AUC, the false-positive and
 * false-negative rates at a threshold, the threshold where they are equal
 * (equal error rate), per-class precision / recall / F1 and the macro-F1;
 * and the unpaired two-sample t-tests (Student's pooled-variance and
 * Welch's) used to compare transfer learning with training from scratch.
 *
 * Conventions:
 *   - a real/bogus model gives one score per sample, P(real); its labels are
 *     0 = bogus, 1 = real, and a sample is called real when score >= threshold;
 *   - a class model gives k probabilities per sample (softmax); the predicted
 *     class is the first argmax;
 *   - the confusion matrix is indexed [true][predicted];
 *   - a rate with an empty denominator is NaN; a precision, recall or F1
 *     with an empty denominator is 0 (scikit-learn's zero_division = 0).
 *
 * Thread safety: every function is reentrant (no global state; the t-tests
 * call GSL's gsl_cdf_tdist_Q only with arguments it accepts, so GSL's
 * process-wide error handler is never invoked and never changed).
 */
#ifndef SV_METRICS_H
#define SV_METRICS_H

#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- building blocks ---------------------------------------------------- */

/* ROC AUC of `score` for the binary labels `positive` (non-zero = positive
 * class), n samples: the probability that a random positive scores higher
 * than a random negative, ties counting one half — exactly the
 * Mann-Whitney U statistic / (n_pos * n_neg), computed with mid-ranks after
 * an O(n log n) sort.  Returns NaN when either class is absent or n < 1,
 * or when a score is NaN. */
double sv_roc_auc(const double *score, const int *positive, int n);

/* False-positive rate FP / (FP + TN) and false-negative rate FN / (FN + TP)
 * when a sample is called positive if score >= threshold.  Either output
 * may be NULL; each is NaN when its class is absent. */
void sv_rates_at(const double *score, const int *positive, int n, double threshold,
                 double *fpr, double *fnr);

/* The threshold where FPR equals FNR (the equal-error-rate point).
 * Candidate thresholds are the distinct scores (called positive when
 * score >= t); FPR - FNR falls from +1 (lowest score) to -1 (above the
 * highest).  At the first candidate where it is <= 0 the answer is that
 * candidate when it is exactly 0, otherwise the linear interpolation
 * between it and the previous candidate (in threshold and in rate), where
 * the interpolated FPR and FNR are equal by construction.  Above the
 * highest score the candidate is nextafter(max, +inf).  Writes the
 * threshold and the common rate; both NaN when a class is absent.
 * Returns 0, or SV_ERR_NOMEM / SV_ERR_ARG. */
int sv_eer(const double *score, const int *positive, int n, double *threshold,
           double *rate);

/* Mean and sample standard deviation (n - 1 in the denominator; 0 when
 * n == 1; both NaN when n < 1). */
void sv_mean_std(const double *x, int n, double *mean, double *std);

/* ---- the full report ---------------------------------------------------- */

typedef struct sv_metrics {
    int n;                  /* samples scored                                */
    int k;                  /* classes (2 for real/bogus: bogus, real)       */
    int binary;             /* 1: one P(real) score per sample               */
    char classes[SV_MAX_CLASSES][SV_LABEL_MAX]; /* names, label order        */
    long confusion[SV_MAX_CLASSES][SV_MAX_CLASSES]; /* [true][predicted]     */
    long support[SV_MAX_CLASSES];   /* true samples per class                */
    double accuracy;
    double log_loss;        /* mean cross-entropy (probabilities clipped to
                               [1e-7, 1 - 1e-7]), unweighted                */
    double precision[SV_MAX_CLASSES], recall[SV_MAX_CLASSES], f1[SV_MAX_CLASSES];
    double macro_f1;
    double auc_class[SV_MAX_CLASSES]; /* one-vs-rest AUC of each class's
                                         probability (binary: bogus uses
                                         1 - score, so both equal auc)       */
    double auc;             /* binary: AUC of P(real); classes: the mean of
                               the defined one-vs-rest AUCs (macro)          */
    double threshold;       /* binary: the decision threshold used; else NaN */
    double fpr, fnr;        /* binary: at threshold (bogus called real, real
                               called bogus); else NaN                       */
    double eer_threshold, eer; /* binary: where FPR = FNR; else NaN         */
} sv_metrics;

/* Compute every figure for n samples.
 *   prob     n * n_out values: n_out = 1 is a real/bogus score P(real)
 *            (labels 0 = bogus, 1 = real, k = 2); n_out = k >= 2 are class
 *            probabilities (labels 0..k-1);
 *   labels   n true labels;
 *   classes  names for the k classes (label order), or NULL (binary:
 *            "bogus","real"; else "class0", ...);
 *   threshold  the real/bogus decision threshold (ignored for classes).
 * Returns 0, or SV_ERR_ARG (n < 1, n_out out of range, a label out of
 * range, a NaN probability) with err set.  Reentrant. */
int sv_metrics_compute(const float *prob, int n, int n_out, const int *labels,
                       const char (*classes)[SV_LABEL_MAX], double threshold,
                       sv_metrics *m, sv_error *err);

/* One named figure of a report, for tables (evaluate, compare):
 * "accuracy", "auc", "macro_f1", "log_loss", "fpr", "fnr", "eer",
 * "eer_threshold", "precision:<class>", "recall:<class>", "f1:<class>".
 * Returns NaN for an unknown name. */
double sv_metrics_get(const sv_metrics *m, const char *name);

/* Set one scalar figure by the names of sv_metrics_get ("accuracy", "auc",
 * "macro_f1", "log_loss", "fpr", "fnr", "eer", "eer_threshold",
 * "threshold"): for figures read back from a report (compare
 * --scratch-from).  Returns 0, or -1 for any other name.  Reentrant. */
int sv_metrics_set(sv_metrics *m, const char *name, double v);

/* ---- unpaired two-sample t-tests (two-sided) ---------------------------- */

typedef struct sv_ttest {
    int n1, n2;
    double mean1, mean2, sd1, sd2;  /* sample std (n - 1)                    */
    double t;                       /* (mean1 - mean2) / standard error      */
    double dof;                     /* degrees of freedom                    */
    double p;                       /* two-sided: 2 * gsl_cdf_tdist_Q(|t|)   */
} sv_ttest;

/* Student's t-test with pooled variance: s_p^2 = ((n1-1) s1^2 + (n2-1) s2^2)
 * / (n1 + n2 - 2), t = (m1 - m2) / (s_p sqrt(1/n1 + 1/n2)), dof = n1+n2-2.
 * Welch's: t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2), dof by
 * Welch-Satterthwaite (v1 + v2)^2 / (v1^2/(n1-1) + v2^2/(n2-1)), vi = si^2/ni.
 * Both need n1, n2 >= 2.  When both variances are zero the test is
 * undefined: p = NaN, and t = NaN if the means are equal, else +-inf (dof
 * as for equal variances).  Returns 0, or SV_ERR_ARG (too few
 * samples, a non-finite value) with r->p = NaN.  Reentrant. */
int sv_ttest_student(const double *a, int na, const double *b, int nb, sv_ttest *r);
int sv_ttest_welch(const double *a, int na, const double *b, int nb, sv_ttest *r);

#ifdef __cplusplus
}
#endif
#endif
