/* report_figures.c — the numbers behind the report's figures.  See
 * report_figures.h. */
#include "train/report_figures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

void sv_curve_free(sv_curve *c)
{
    if (!c)
        return;
    free(c->x);
    free(c->y);
    free(c->t);
    memset(c, 0, sizeof *c);
}

typedef struct ranked {
    double s;
    int pos;
    int i;
} ranked;

/* descending score, ties by index */
static int cmp_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Sorted copy, descending; counts the classes.  NULL with err set. */
static ranked *rank_desc(const double *score, const int *pos, int n, long *np, long *nn,
                         const char *what, sv_error *err)
{
    *np = *nn = 0;
    if (!score || !pos || n < 1) {
        sv_error_set(err, SV_ERR_ARG, "%s: no samples", what);
        return NULL;
    }
    ranked *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory for %d samples", what, n);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (isnan(score[i])) {
            free(v);
            sv_error_set(err, SV_ERR_ARG, "%s: sample %d has a NaN score", what, i);
            return NULL;
        }
        v[i].s = score[i];
        v[i].pos = pos[i] != 0;
        v[i].i = i;
        *np += v[i].pos;
    }
    *nn = n - *np;
    qsort(v, (size_t)n, sizeof *v, cmp_desc);
    return v;
}

static int curve_alloc(sv_curve *c, int cap, const char *what, sv_error *err)
{
    memset(c, 0, sizeof *c);
    c->x = malloc((size_t)cap * sizeof *c->x);
    c->y = malloc((size_t)cap * sizeof *c->y);
    c->t = malloc((size_t)cap * sizeof *c->t);
    if (!c->x || !c->y || !c->t) {
        sv_curve_free(c);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", what);
    }
    return 0;
}

/* Walk the distinct thresholds descending, calling back with the counts
 * of true and false positives at each. */
typedef void (*walk_fn)(sv_curve *c, double t, long tp, long fp, long np, long nn);

static void walk(const ranked *v, int n, long np, long nn, sv_curve *c, walk_fn f)
{
    long tp = 0, fp = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) {
            tp += v[j].pos;
            fp += !v[j].pos;
            j++;
        }
        f(c, v[i].s, tp, fp, np, nn);
        i = j;
    }
}

static void roc_point(sv_curve *c, double t, long tp, long fp, long np, long nn)
{
    c->x[c->n] = (double)fp / (double)nn;
    c->y[c->n] = (double)tp / (double)np;
    c->t[c->n] = t;
    c->n++;
}

int sv_fig_roc(const double *score, const int *pos, int n, sv_curve *roc, sv_error *err)
{
    if (!roc)
        return sv_error_set(err, SV_ERR_ARG, "ROC curve: NULL output");
    memset(roc, 0, sizeof *roc);
    long np, nn;
    ranked *v = rank_desc(score, pos, n, &np, &nn, "ROC curve", err);
    if (!v)
        return err && err->status ? err->status : SV_ERR_ARG;
    int st = 0;
    if (np == 0 || nn == 0)
        st = sv_error_set(err, SV_ERR_ARG, "ROC curve: needs both classes (%ld positive, "
                                           "%ld negative)", np, nn);
    else if (!(st = curve_alloc(roc, n + 1, "ROC curve", err))) {
        roc_point(roc, INFINITY, 0, 0, np, nn);
        walk(v, n, np, nn, roc, roc_point);
    }
    free(v);
    return st;
}

static void pr_point(sv_curve *c, double t, long tp, long fp, long np, long nn)
{
    (void)nn;
    c->x[c->n] = (double)tp / (double)np;
    c->y[c->n] = (double)tp / (double)(tp + fp);
    c->t[c->n] = t;
    c->n++;
}

int sv_fig_pr(const double *score, const int *pos, int n, sv_curve *pr, double *ap,
              sv_error *err)
{
    if (!pr)
        return sv_error_set(err, SV_ERR_ARG, "precision-recall curve: NULL output");
    memset(pr, 0, sizeof *pr);
    if (ap)
        *ap = NAN;
    long np, nn;
    ranked *v = rank_desc(score, pos, n, &np, &nn, "precision-recall curve", err);
    if (!v)
        return err && err->status ? err->status : SV_ERR_ARG;
    int st = 0;
    if (np == 0)
        st = sv_error_set(err, SV_ERR_ARG, "precision-recall curve: no positive sample");
    else if (!(st = curve_alloc(pr, n, "precision-recall curve", err))) {
        walk(v, n, np, nn, pr, pr_point);
        double a = 0, r0 = 0;
        for (int i = 0; i < pr->n; i++) {
            a += (pr->x[i] - r0) * pr->y[i];
            r0 = pr->x[i];
        }
        if (ap)
            *ap = a;
    }
    free(v);
    return st;
}

double sv_curve_area(const sv_curve *c)
{
    double a = 0;
    for (int i = 1; c && i < c->n; i++)
        a += (c->x[i] - c->x[i - 1]) * 0.5 * (c->y[i] + c->y[i - 1]);
    return a;
}

int sv_fig_histogram(const double *x, const int *mask, int n, int nbins, double lo, double hi,
                     long *count, long *outside)
{
    if (nbins < 1 || nbins > SV_FIG_MAX_BINS || !(hi > lo) || !count)
        return SV_ERR_ARG;
    long out = 0;
    memset(count, 0, (size_t)nbins * sizeof *count);
    double w = (hi - lo) / nbins;
    for (int i = 0; x && i < n; i++) {
        if (mask && !mask[i])
            continue;
        double v = x[i];
        if (!(v >= lo && v <= hi)) {
            out++;
            continue;
        }
        int b = (int)floor((v - lo) / w);
        if (b >= nbins)
            b = nbins - 1;
        /* floating-point: keep lo + b w <= v < lo + (b+1) w */
        while (b > 0 && v < lo + b * w)
            b--;
        while (b < nbins - 1 && v >= lo + (b + 1) * w)
            b++;
        count[b]++;
    }
    if (outside)
        *outside = out;
    return 0;
}

int sv_fig_calibration(const double *p, const int *hit, int n, int nbins, sv_calibration *c,
                       sv_error *err)
{
    if (!c)
        return sv_error_set(err, SV_ERR_ARG, "calibration: NULL output");
    memset(c, 0, sizeof *c);
    if (!p || !hit || n < 1)
        return sv_error_set(err, SV_ERR_ARG, "calibration: no samples");
    if (nbins < 1 || nbins > SV_FIG_MAX_BINS)
        return sv_error_set(err, SV_ERR_ARG, "calibration: %d bins (1..%d)", nbins,
                            SV_FIG_MAX_BINS);
    c->nbins = nbins;
    double sp[SV_FIG_MAX_BINS] = {0};
    long sh[SV_FIG_MAX_BINS] = {0};
    for (int i = 0; i < n; i++) {
        if (!(p[i] >= 0 && p[i] <= 1))
            return sv_error_set(err, SV_ERR_ARG,
                                "calibration: sample %d has probability %g, outside [0, 1]", i,
                                p[i]);
        int b = (int)floor(p[i] * nbins);
        if (b >= nbins)
            b = nbins - 1;
        c->count[b]++;
        sp[b] += p[i];
        sh[b] += hit[i] != 0;
    }
    for (int b = 0; b < nbins; b++) {
        if (!c->count[b]) {
            c->conf[b] = c->frac[b] = NAN;
            continue;
        }
        c->conf[b] = sp[b] / c->count[b];
        c->frac[b] = (double)sh[b] / c->count[b];
        double gap = fabs(c->frac[b] - c->conf[b]);
        c->ece += (double)c->count[b] / n * gap;
        if (gap > c->mce)
            c->mce = gap;
    }
    return 0;
}

void sv_fig_row_normalise(const long *conf, int k, double *out)
{
    for (int t = 0; t < k; t++) {
        long s = 0;
        for (int p = 0; p < k; p++)
            s += conf[t * k + p];
        for (int p = 0; p < k; p++)
            out[t * k + p] = s ? (double)conf[t * k + p] / (double)s : NAN;
    }
}

static int cmp_asc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

int sv_fig_extremes(const double *score, const int *mask, int n, int k, int highest, int *out)
{
    if (!score || n < 1 || k < 1 || !out)
        return 0;
    ranked *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if ((!mask || mask[i]) && !isnan(score[i])) {
            v[m].s = score[i];
            v[m].pos = 0;
            v[m].i = i;
            m++;
        }
    qsort(v, (size_t)m, sizeof *v, highest ? cmp_desc : cmp_asc);
    int c = m < k ? m : k;
    for (int i = 0; i < c; i++)
        out[i] = v[i].i;
    free(v);
    return c;
}

int sv_fig_sample(const int *mask, int n, int k, uint64_t seed, int *out)
{
    if (n < 1 || k < 1 || !out)
        return 0;
    long *idx = malloc((size_t)n * sizeof *idx);
    if (!idx)
        return 0;
    long m = 0;
    for (int i = 0; i < n; i++)
        if (!mask || mask[i])
            idx[m++] = i;
    sv_rng r = {sv_seed_mix(seed, 0x6a11e7, (uint64_t)n, (uint64_t)k)};
    int c = m < k ? (int)m : k;
    /* partial Fisher-Yates: the first c of a random permutation */
    for (int i = 0; i < c; i++) {
        long j = i + (long)sv_rng_below(&r, (uint64_t)(m - i));
        long t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    /* ascending order (insertion sort: c is small) */
    for (int i = 1; i < c; i++) {
        long v = idx[i];
        int j = i - 1;
        while (j >= 0 && idx[j] > v) {
            idx[j + 1] = idx[j];
            j--;
        }
        idx[j + 1] = v;
    }
    for (int i = 0; i < c; i++)
        out[i] = (int)idx[i];
    free(idx);
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of a sorted array (numpy's: mean of the two middle values) */
static double sorted_median(const double *s, long n)
{
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

int sv_zscale(const float *img, long n, double *z1, double *z2)
{
    const long n_samples = 1000, min_npixels = 5;
    const double contrast = 0.25, max_reject = 0.5, krej = 2.5;
    const int max_iterations = 5;
    *z1 = *z2 = 0;
    long nfin = 0;
    for (long i = 0; img && i < n; i++)
        nfin += isfinite(img[i]) != 0;
    if (nfin == 0)
        return SV_ERR_ARG;
    long stride = (long)fmax(1.0, (double)nfin / (double)n_samples);
    long npix = 0;
    double *s = malloc((size_t)(nfin < n_samples ? nfin : n_samples) * sizeof *s);
    unsigned char *bad = calloc((size_t)n_samples, 1), *grown = calloc((size_t)n_samples, 1);
    if (!s || !bad || !grown) {
        free(s);
        free(bad);
        free(grown);
        return SV_ERR_NOMEM;
    }
    for (long i = 0, f = 0; i < n && npix < n_samples; i++) {
        if (!isfinite(img[i]))
            continue;
        if (f % stride == 0)
            s[npix++] = img[i];
        f++;
    }
    qsort(s, (size_t)npix, sizeof *s, cmp_double);
    double vmin = s[0], vmax = s[npix - 1];
    long minpix = (long)(npix * max_reject);
    if (minpix < min_npixels)
        minpix = min_npixels;
    long ngrow = (long)(npix * 0.01);
    if (ngrow < 1)
        ngrow = 1;
    long ngood = npix, last_ngood = npix + 1;
    double slope = 0;
    for (int it = 0; it < max_iterations; it++) {
        if (ngood >= last_ngood || ngood < minpix)
            break;
        /* least-squares line through the good samples (x = index) */
        double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;
        for (long i = 0; i < npix; i++)
            if (!bad[i]) {
                sx += i;
                sy += s[i];
                sxx += (double)i * i;
                sxy += (double)i * s[i];
                m++;
            }
        double den = m * sxx - sx * sx;
        slope = den != 0 ? (m * sxy - sx * sy) / den : 0;
        double icpt = (sy - slope * sx) / m;
        /* population std of the good residuals */
        double mean = 0, var = 0;
        for (long i = 0; i < npix; i++)
            if (!bad[i])
                mean += s[i] - (icpt + slope * i);
        mean /= m;
        for (long i = 0; i < npix; i++)
            if (!bad[i]) {
                double d = s[i] - (icpt + slope * i) - mean;
                var += d * d;
            }
        double thr = krej * sqrt(var / m);
        for (long i = 0; i < npix; i++) {
            double f = s[i] - (icpt + slope * i);
            if (f < -thr || f > thr)
                bad[i] = 1;
        }
        /* dilate as np.convolve(bad, ones(ngrow), mode='same'):
         * out[i] = any(bad[i - (ngrow-1) + (ngrow-1)/2 .. i + (ngrow-1)/2]) */
        long hi_off = (ngrow - 1) / 2, lo_off = ngrow - 1 - hi_off;
        for (long i = 0; i < npix; i++) {
            unsigned char any = 0;
            for (long j = i - lo_off; j <= i + hi_off && !any; j++)
                if (j >= 0 && j < npix)
                    any = bad[j];
            grown[i] = any;
        }
        memcpy(bad, grown, (size_t)npix);
        last_ngood = ngood;
        ngood = 0;
        for (long i = 0; i < npix; i++)
            ngood += !bad[i];
    }
    if (ngood >= minpix) {
        slope /= contrast;
        long center = (npix - 1) / 2;
        double med = sorted_median(s, npix);
        vmin = fmax(vmin, med - (double)(center - 1) * slope);
        vmax = fmin(vmax, med + (double)(npix - center) * slope);
    }
    *z1 = vmin;
    *z2 = vmax;
    free(s);
    free(bad);
    free(grown);
    return 0;
}

double sv_stretch_asinh(double x, double lo, double hi, double a)
{
    if (isnan(x))
        return NAN;
    double u = hi > lo ? (x - lo) / (hi - lo) : 0.5;
    u = u < 0 ? 0 : (u > 1 ? 1 : u);
    return a > 0 ? asinh(a * u) / asinh(a) : u;
}

double sv_quantile_finite(const float *img, long n, double q)
{
    long m = 0;
    for (long i = 0; img && i < n; i++)
        m += isfinite(img[i]) != 0;
    if (m == 0)
        return NAN;
    double *s = malloc((size_t)m * sizeof *s);
    if (!s)
        return NAN;
    m = 0;
    for (long i = 0; i < n; i++)
        if (isfinite(img[i]))
            s[m++] = img[i];
    qsort(s, (size_t)m, sizeof *s, cmp_double);
    q = q < 0 ? 0 : (q > 1 ? 1 : q);
    double pos = q * (double)(m - 1);
    long i0 = (long)floor(pos);
    long i1 = i0 + 1 < m ? i0 + 1 : i0;
    double v = s[i0] + (pos - (double)i0) * (s[i1] - s[i0]);
    free(s);
    return v;
}

int sv_fig_ticks(double lo, double hi, int max_ticks, double *ticks)
{
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || max_ticks < 2 || !ticks)
        return 0;
    double raw = (hi - lo) / (max_ticks - 1);
    double p = pow(10.0, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10, 20};
    for (size_t k = 0; k < sizeof mult / sizeof mult[0]; k++) {
        double step = mult[k] * p;
        double first = ceil(lo / step - 1e-9) * step;
        int c = (int)floor((hi - first) / step + 1e-9) + 1;
        if (c <= max_ticks) {
            for (int i = 0; i < c; i++) {
                double v = first + i * step;
                ticks[i] = fabs(v) < step * 1e-9 ? 0.0 : v;
            }
            return c;
        }
    }
    return 0;
}
