/* metrics.c — classifier figures of merit and t-tests.  See metrics.h. */
#include "train/metrics.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sorting helpers ----------------------------------------------------- */

typedef struct scored {
    double s;
    int pos;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

/* Sorted copy (ascending score); NULL when out of memory or a NaN score;
 * counts the classes. */
static scored *sort_scores(const double *score, const int *positive, int n, long *npos,
                           long *nneg, int *has_nan)
{
    *npos = *nneg = 0;
    *has_nan = 0;
    scored *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (isnan(score[i]))
            *has_nan = 1;
        v[i].s = score[i];
        v[i].pos = positive[i] != 0;
        if (v[i].pos)
            (*npos)++;
        else
            (*nneg)++;
    }
    if (*has_nan) {
        free(v);
        return NULL;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    return v;
}

double sv_roc_auc(const double *score, const int *positive, int n)
{
    if (!score || !positive || n < 1)
        return NAN;
    long np, nn;
    int bad;
    scored *v = sort_scores(score, positive, n, &np, &nn, &bad);
    if (!v || np == 0 || nn == 0) {
        free(v);
        return NAN;
    }
    /* sum of the mid-ranks (1-based) of the positives */
    double rsum = 0;
    for (int i = 0; i < n;) {
        int j = i;
        long p = 0;
        while (j < n && v[j].s == v[i].s) {
            p += v[j].pos;
            j++;
        }
        double mid = 0.5 * ((double)(i + 1) + (double)j); /* ranks i+1..j */
        rsum += mid * (double)p;
        i = j;
    }
    free(v);
    double u = rsum - (double)np * ((double)np + 1.0) / 2.0;
    return u / ((double)np * (double)nn);
}

void sv_rates_at(const double *score, const int *positive, int n, double threshold,
                 double *fpr, double *fnr)
{
    long tp = 0, fp = 0, tn = 0, fn = 0;
    for (int i = 0; score && positive && i < n; i++) {
        int called = score[i] >= threshold;
        if (positive[i])
            called ? tp++ : fn++;
        else
            called ? fp++ : tn++;
    }
    if (fpr)
        *fpr = fp + tn ? (double)fp / (double)(fp + tn) : NAN;
    if (fnr)
        *fnr = fn + tp ? (double)fn / (double)(fn + tp) : NAN;
}

int sv_eer(const double *score, const int *positive, int n, double *threshold, double *rate)
{
    double th = NAN, r = NAN;
    if (!score || !positive || n < 1) {
        if (threshold)
            *threshold = th;
        if (rate)
            *rate = r;
        return SV_ERR_ARG;
    }
    long np, nn;
    int bad;
    scored *v = sort_scores(score, positive, n, &np, &nn, &bad);
    if (!v) {
        if (threshold)
            *threshold = th;
        if (rate)
            *rate = r;
        return bad ? SV_ERR_ARG : SV_ERR_NOMEM;
    }
    if (np > 0 && nn > 0) {
        /* Walk the distinct scores ascending.  At candidate u (called
         * positive when s >= u), the negatives below u are true negatives
         * and the positives below u are false negatives. */
        long neg_below = 0, pos_below = 0;
        double prev_t = NAN, prev_fpr = 1.0, prev_d = 1.0;
        int i = 0, found = 0;
        while (!found) {
            double t, fpr, fnr;
            if (i < n) {
                t = v[i].s;
            } else {
                t = nextafter(v[n - 1].s, INFINITY);
            }
            fpr = (double)(nn - neg_below) / (double)nn;
            fnr = (double)pos_below / (double)np;
            double d = fpr - fnr;
            if (d <= 0) {
                if (d == 0 || isnan(prev_t)) {
                    th = t;
                    r = fpr;
                } else {
                    double f = prev_d / (prev_d - d);
                    th = prev_t + f * (t - prev_t);
                    r = prev_fpr + f * (fpr - prev_fpr);
                }
                found = 1;
                break;
            }
            if (i >= n)
                break; /* unreachable: above the top score FPR = 0, FNR = 1 */
            prev_t = t;
            prev_fpr = fpr;
            prev_d = d;
            int j = i;
            while (j < n && v[j].s == v[i].s) {
                if (v[j].pos)
                    pos_below++;
                else
                    neg_below++;
                j++;
            }
            i = j;
        }
    }
    free(v);
    if (threshold)
        *threshold = th;
    if (rate)
        *rate = r;
    return 0;
}

void sv_mean_std(const double *x, int n, double *mean, double *std)
{
    double m = NAN, s = NAN;
    if (x && n >= 1) {
        double acc = 0;
        for (int i = 0; i < n; i++)
            acc += x[i];
        m = acc / n;
        if (n == 1) {
            s = 0;
        } else {
            double q = 0;
            for (int i = 0; i < n; i++)
                q += (x[i] - m) * (x[i] - m);
            s = sqrt(q / (n - 1));
        }
    }
    if (mean)
        *mean = m;
    if (std)
        *std = s;
}

/* ---- the full report ------------------------------------------------------ */

static double clipp(double p)
{
    if (p < 1e-7)
        return 1e-7;
    if (p > 1.0 - 1e-7)
        return 1.0 - 1e-7;
    return p;
}

int sv_metrics_compute(const float *prob, int n, int n_out, const int *labels,
                       const char (*classes)[SV_LABEL_MAX], double threshold,
                       sv_metrics *m, sv_error *err)
{
    if (!prob || !labels || !m)
        return sv_error_set(err, SV_ERR_ARG, "metrics: NULL argument");
    if (n < 1)
        return sv_error_set(err, SV_ERR_ARG, "metrics: no samples");
    if (n_out < 1 || n_out > SV_MAX_CLASSES)
        return sv_error_set(err, SV_ERR_ARG, "metrics: %d outputs per sample (1..%d)", n_out,
                            SV_MAX_CLASSES);
    memset(m, 0, sizeof *m);
    int k = n_out == 1 ? 2 : n_out;
    m->n = n;
    m->k = k;
    m->binary = n_out == 1;
    for (int c = 0; c < k; c++) {
        if (classes && classes[c][0])
            snprintf(m->classes[c], SV_LABEL_MAX, "%s", classes[c]);
        else if (m->binary)
            snprintf(m->classes[c], SV_LABEL_MAX, "%s", c ? "real" : "bogus");
        else
            snprintf(m->classes[c], SV_LABEL_MAX, "class%d", c);
    }
    for (long i = 0; i < (long)n * n_out; i++)
        if (isnan(prob[i]))
            return sv_error_set(err, SV_ERR_ARG, "metrics: sample %ld has a NaN probability",
                                i / n_out);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return sv_error_set(err, SV_ERR_ARG,
                                "metrics: sample %d has label %d, outside 0..%d", i,
                                labels[i], k - 1);

    double loss = 0;
    long correct = 0;
    for (int i = 0; i < n; i++) {
        const float *p = prob + (size_t)i * n_out;
        int y = labels[i], pred;
        if (m->binary) {
            pred = p[0] >= threshold ? 1 : 0;
            double q = clipp(p[0]);
            loss -= y ? log(q) : log(1.0 - q);
        } else {
            pred = 0;
            for (int c = 1; c < k; c++)
                if (p[c] > p[pred])
                    pred = c;
            loss -= log(clipp(p[y]));
        }
        m->confusion[y][pred]++;
        m->support[y]++;
        correct += pred == y;
    }
    m->accuracy = (double)correct / n;
    m->log_loss = loss / n;

    double f1sum = 0;
    for (int c = 0; c < k; c++) {
        long tp = m->confusion[c][c], predc = 0;
        for (int t = 0; t < k; t++)
            predc += m->confusion[t][c];
        m->precision[c] = predc ? (double)tp / predc : 0.0;
        m->recall[c] = m->support[c] ? (double)tp / m->support[c] : 0.0;
        double s = m->precision[c] + m->recall[c];
        m->f1[c] = s > 0 ? 2.0 * m->precision[c] * m->recall[c] / s : 0.0;
        f1sum += m->f1[c];
    }
    m->macro_f1 = f1sum / k;

    double *sc = malloc((size_t)n * sizeof *sc);
    int *pos = malloc((size_t)n * sizeof *pos);
    if (!sc || !pos) {
        free(sc);
        free(pos);
        return sv_error_set(err, SV_ERR_NOMEM, "metrics: out of memory for %d samples", n);
    }
    if (m->binary) {
        for (int i = 0; i < n; i++) {
            sc[i] = prob[i];
            pos[i] = labels[i] == 1;
        }
        m->auc = sv_roc_auc(sc, pos, n);
        m->auc_class[0] = m->auc_class[1] = m->auc;
        m->threshold = threshold;
        sv_rates_at(sc, pos, n, threshold, &m->fpr, &m->fnr);
        int st = sv_eer(sc, pos, n, &m->eer_threshold, &m->eer);
        if (st) {
            free(sc);
            free(pos);
            return sv_error_set(err, st, "metrics: equal-error-rate search failed");
        }
    } else {
        double asum = 0;
        int na = 0;
        for (int c = 0; c < k; c++) {
            for (int i = 0; i < n; i++) {
                sc[i] = prob[(size_t)i * n_out + c];
                pos[i] = labels[i] == c;
            }
            m->auc_class[c] = sv_roc_auc(sc, pos, n);
            if (!isnan(m->auc_class[c])) {
                asum += m->auc_class[c];
                na++;
            }
        }
        m->auc = na ? asum / na : NAN;
        m->threshold = m->fpr = m->fnr = m->eer = m->eer_threshold = NAN;
    }
    free(sc);
    free(pos);
    return 0;
}

/* the scalar figures of sv_metrics_get and sv_metrics_set */
static const struct {
    const char *n;
    size_t off;
} metric_scalars[] = {
    {"accuracy", offsetof(sv_metrics, accuracy)},
    {"auc", offsetof(sv_metrics, auc)},
    {"macro_f1", offsetof(sv_metrics, macro_f1)},
    {"log_loss", offsetof(sv_metrics, log_loss)},
    {"fpr", offsetof(sv_metrics, fpr)},
    {"fnr", offsetof(sv_metrics, fnr)},
    {"eer", offsetof(sv_metrics, eer)},
    {"eer_threshold", offsetof(sv_metrics, eer_threshold)},
    {"threshold", offsetof(sv_metrics, threshold)},
};

double sv_metrics_get(const sv_metrics *m, const char *name)
{
    if (!m || !name)
        return NAN;
    for (size_t i = 0; i < sizeof metric_scalars / sizeof metric_scalars[0]; i++)
        if (!strcmp(name, metric_scalars[i].n))
            return *(const double *)((const char *)m + metric_scalars[i].off);
    const char *colon = strchr(name, ':');
    if (!colon)
        return NAN;
    size_t plen = (size_t)(colon - name);
    const double *arr = NULL;
    if (plen == 9 && !strncmp(name, "precision", 9))
        arr = m->precision;
    else if (plen == 6 && !strncmp(name, "recall", 6))
        arr = m->recall;
    else if (plen == 2 && !strncmp(name, "f1", 2))
        arr = m->f1;
    else if (plen == 3 && !strncmp(name, "auc", 3))
        arr = m->auc_class;
    if (!arr)
        return NAN;
    for (int c = 0; c < m->k; c++)
        if (!strcmp(colon + 1, m->classes[c]))
            return arr[c];
    return NAN;
}

/* ---- t-tests ---------------------------------------------------------------- */

static int finite_all(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static int ttest_common(const double *a, int na, const double *b, int nb, sv_ttest *r)
{
    memset(r, 0, sizeof *r);
    r->t = r->dof = r->p = NAN;
    r->n1 = na;
    r->n2 = nb;
    if (!a || !b || na < 2 || nb < 2 || !finite_all(a, na) || !finite_all(b, nb))
        return SV_ERR_ARG;
    sv_mean_std(a, na, &r->mean1, &r->sd1);
    sv_mean_std(b, nb, &r->mean2, &r->sd2);
    return 0;
}

/* Two-sided p of |t| with dof > 0; the degenerate zero-variance cases. */
static void ttest_finish(sv_ttest *r, double se)
{
    double diff = r->mean1 - r->mean2;
    if (se == 0) { /* no spread in either arm: no test (p undefined) */
        r->t = diff == 0 ? NAN : (diff > 0 ? INFINITY : -INFINITY);
        r->p = NAN;
        return;
    }
    r->t = diff / se;
    double q = gsl_cdf_tdist_Q(fabs(r->t), r->dof);
    r->p = 2.0 * q;
    if (r->p > 1.0)
        r->p = 1.0;
}

int sv_ttest_student(const double *a, int na, const double *b, int nb, sv_ttest *r)
{
    sv_ttest tmp;
    if (!r)
        r = &tmp;
    int st = ttest_common(a, na, b, nb, r);
    if (st)
        return st;
    r->dof = na + nb - 2;
    double sp2 = ((na - 1) * r->sd1 * r->sd1 + (nb - 1) * r->sd2 * r->sd2) / r->dof;
    double se = sqrt(sp2 * (1.0 / na + 1.0 / nb));
    ttest_finish(r, se);
    return 0;
}

int sv_ttest_welch(const double *a, int na, const double *b, int nb, sv_ttest *r)
{
    sv_ttest tmp;
    if (!r)
        r = &tmp;
    int st = ttest_common(a, na, b, nb, r);
    if (st)
        return st;
    double v1 = r->sd1 * r->sd1 / na, v2 = r->sd2 * r->sd2 / nb;
    double se = sqrt(v1 + v2);
    if (v1 + v2 == 0)
        r->dof = na + nb - 2;
    else
        r->dof = (v1 + v2) * (v1 + v2) / (v1 * v1 / (na - 1) + v2 * v2 / (nb - 1));
    ttest_finish(r, se);
    return 0;
}

int sv_metrics_set(sv_metrics *m, const char *name, double v)
{
    if (!m || !name)
        return -1;
    for (size_t i = 0; i < sizeof metric_scalars / sizeof metric_scalars[0]; i++)
        if (!strcmp(name, metric_scalars[i].n)) {
            *(double *)((char *)m + metric_scalars[i].off) = v;
            return 0;
        }
    return -1;
}
