/* report_figures.h — the numbers behind the figures of `stampvet report`
 * (report_pages.h), kept apart from any drawing so that they can be tested
 * against independent computations: ROC and precision-recall curves,
 * histograms, reliability (calibration) bins with the expected calibration
 * error, row-normalised confusion matrices, the stamps a gallery shows,
 * display stretches (IRAF zscale, asinh) and axis ticks.
 *
 * Conventions: a binary score is "called positive" when score >= t; a
 * sample's label is positive when pos[i] != 0.  Inputs with a NaN score
 * are refused (SV_ERR_ARG) by the curve and calibration functions.
 *
 * Thread safety: every function is reentrant (no global state).
 */
#ifndef SV_REPORT_FIGURES_H
#define SV_REPORT_FIGURES_H

#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_FIG_MAX_BINS 200

/* A curve of n points (x[i], y[i]) with the threshold t[i] that gives it. */
typedef struct sv_curve {
    int n;
    double *x, *y, *t;
} sv_curve;

void sv_curve_free(sv_curve *c);

/* ROC curve: x = false-positive rate, y = true-positive rate, one point per
 * distinct score taken as threshold, thresholds descending, preceded by
 * (0, 0) at t = +inf; the last point is (1, 1) at the lowest score.  Its
 * trapezoid area (sv_curve_area) is the Mann-Whitney AUC (ties as one
 * half).  Needs both classes.  Returns 0, SV_ERR_ARG (n < 1, a class
 * absent, a NaN score) or SV_ERR_NOMEM, with err set. */
int sv_fig_roc(const double *score, const int *pos, int n, sv_curve *roc, sv_error *err);

/* Precision-recall curve: x = recall TP/P, y = precision TP/(TP+FP), one
 * point per distinct score taken as threshold, thresholds descending (recall
 * rising).  *ap (may be NULL) receives the average precision
 * sum_k (R_k - R_{k-1}) P_k with R_0 = 0 (scikit-learn's definition).
 * Needs a positive.  Returns 0 or a status as sv_fig_roc. */
int sv_fig_pr(const double *score, const int *pos, int n, sv_curve *pr, double *ap,
              sv_error *err);

/* Trapezoid area under the curve's points in order. */
double sv_curve_area(const sv_curve *c);

/* Histogram of the n values x whose mask is set (mask NULL: all) in nbins
 * (1..SV_FIG_MAX_BINS) equal bins over [lo, hi]: bin b holds
 * lo + b w <= x < lo + (b+1) w, w = (hi - lo) / nbins, and the last bin
 * also x == hi.  Values outside [lo, hi] and NaN are left out and counted
 * in *outside (may be NULL).  Returns 0 or SV_ERR_ARG (bad nbins, hi <= lo). */
int sv_fig_histogram(const double *x, const int *mask, int n, int nbins, double lo, double hi,
                     long *count, long *outside);

/* Reliability diagram: probabilities p in [0, 1] (the predicted probability
 * of the event, e.g. P(real), or a class model's top probability) and
 * whether the event happened (hit[i] != 0).  nbins equal bins over [0, 1],
 * bin b = min(floor(p nbins), nbins - 1).  Per bin: the count, the mean p
 * (confidence) and the fraction of hits (NaN for an empty bin).
 * ece = sum_b (count_b / n) |frac_b - conf_b|, the expected calibration
 * error; mce the largest |frac_b - conf_b| over non-empty bins. */
typedef struct sv_calibration {
    int nbins;
    long count[SV_FIG_MAX_BINS];
    double conf[SV_FIG_MAX_BINS];
    double frac[SV_FIG_MAX_BINS];
    double ece, mce;
} sv_calibration;

/* Returns 0, or SV_ERR_ARG (n < 1, bad nbins, p NaN or outside [0, 1]). */
int sv_fig_calibration(const double *p, const int *hit, int n, int nbins, sv_calibration *c,
                       sv_error *err);

/* Row-normalised k x k confusion matrix (row-major, [true][predicted]):
 * out[t][p] = conf[t][p] / sum_p conf[t][p], NaN for an empty row. */
void sv_fig_row_normalise(const long *conf, int k, double *out);

/* Up to k indices of the samples with mask set (mask NULL: all), in order
 * of descending score (highest != 0) or ascending score, ties by index;
 * NaN scores never chosen.  Returns the count written to out. */
int sv_fig_extremes(const double *score, const int *mask, int n, int k, int highest, int *out);

/* Up to k indices of the samples with mask set, drawn without replacement
 * (uniformly, deterministically from seed), in ascending index order.
 * Returns the count written.  k <= 0 writes nothing. */
int sv_fig_sample(const int *mask, int n, int k, uint64_t seed, int *out);

/* IRAF's zscale display limits of the n values of img (non-finite left
 * out), exactly as astropy.visualization.ZScaleInterval with its defaults
 * (contrast 0.25, 1000 samples, max_reject 0.5, min_npixels 5, krej 2.5,
 * 5 iterations).  Returns 0, or SV_ERR_ARG when no value is finite (then
 * *z1 = *z2 = 0) or SV_ERR_NOMEM. */
int sv_zscale(const float *img, long n, double *z1, double *z2);

/* Display value in [0, 1] of x for the limits lo < hi: asinh stretch
 * asinh(a u) / asinh(a) of u = clip((x - lo) / (hi - lo), 0, 1), with
 * a = 10 (a <= 0: linear).  NaN gives NaN. */
double sv_stretch_asinh(double x, double lo, double hi, double a);

/* The q-quantile (0 <= q <= 1, linear interpolation between order
 * statistics, numpy's default) of the finite values of img.  NaN when none. */
double sv_quantile_finite(const float *img, long n, double q);

/* "Nice" axis ticks over [lo, hi]: a step of 1, 2 or 5 times a power of ten
 * giving at most max_ticks (>= 2) ticks, the first tick the smallest
 * multiple of the step >= lo.  Writes up to max_ticks values to ticks and
 * returns their count (0 when hi <= lo or not finite). */
int sv_fig_ticks(double lo, double hi, int max_ticks, double *ticks);

#ifdef __cplusplus
}
#endif
#endif
