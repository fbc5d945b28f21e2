/* report_eval.c — the evaluation page of `stampvet report`.  See
 * report_pages.h. */
#include "train/report_pages.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/metrics.h"
#include "train/report_figures.h"

#define FIG_W 560
#define FIG_H 420

/* what the figures of one evaluation share */
typedef struct eval_ctx {
    const sv_scores *s;
    const sv_report_opts *o;
    sv_html *h;
    sv_metrics m;
    double *sc;  /* n: a score column                                    */
    int *pos;    /* n: a binary label                                    */
} eval_ctx;

/* score column of class c (binary: P(real) for c = 1, 1 - P(real) for 0)
 * and the one-vs-rest labels, into x->sc and x->pos */
static void one_vs_rest(eval_ctx *x, int c)
{
    const sv_scores *s = x->s;
    for (long i = 0; i < s->n; i++) {
        double v = s->score[(size_t)i * s->n_out + (s->binary ? 0 : c)];
        x->sc[i] = s->binary && c == 0 ? 1.0 - v : v;
        x->pos[i] = s->label[i] == c;
    }
}

static const char *score_name(const sv_scores *s, int c, char *buf, size_t cap)
{
    if (s->binary)
        snprintf(buf, cap, "P(real)");
    else
        snprintf(buf, cap, "P(%s)", s->classes[c]);
    return buf;
}

static int fig_roc(eval_ctx *x, sv_error *err)
{
    const sv_scores *s = x->s;
    sv_plot *p = sv_plot_new(FIG_W, FIG_H, err);
    if (!p)
        return err->status;
    char title[96];
    snprintf(title, sizeof title, s->binary ? "ROC curve, AUC = %.4f"
                                            : "ROC curves (one vs rest), macro AUC = %.4f",
             x->m.auc);
    sv_axes a = {0, 1, 0, 1, 0, "false-positive rate", "true-positive rate", title, NULL, 0};
    sv_plot_axes(p, 0, 0, 1, 1, &a);
    double d[2] = {0, 1};
    sv_plot_line(p, d, d, 2, (sv_rgb){0.6, 0.6, 0.6}, 1, 1);
    char lab[SV_MAX_CLASSES][80];
    const char *labs[SV_MAX_CLASSES + 2];
    sv_rgb cols[SV_MAX_CLASSES + 2];
    int nl = 0, st = 0;
    for (int c = s->binary ? 1 : 0; c < s->k && !st; c++) {
        one_vs_rest(x, c);
        sv_curve roc;
        if (sv_fig_roc(x->sc, x->pos, (int)s->n, &roc, err))
            continue; /* a class absent from the data: no curve */
        sv_rgb col = sv_plot_color(s->binary ? 0 : c);
        sv_plot_line(p, roc.x, roc.y, roc.n, col, 2, 0);
        snprintf(lab[nl], sizeof lab[nl], s->binary ? "real vs bogus" : "%s (AUC %.3f)",
                 s->binary ? "" : s->classes[c], x->m.auc_class[c]);
        labs[nl] = lab[nl];
        cols[nl++] = col;
        sv_curve_free(&roc);
    }
    if (s->binary && isfinite(x->m.eer)) {
        double ex = x->m.eer, ey = 1 - x->m.eer, tx = x->m.fpr, ty = 1 - x->m.fnr;
        sv_rgb red = sv_plot_color(3), green = sv_plot_color(2);
        sv_plot_markers(p, &ex, &ey, 1, NULL, red, 5);
        sv_plot_markers(p, &tx, &ty, 1, NULL, green, 5);
        snprintf(lab[nl], sizeof lab[nl], "FPR = FNR = %.3f (t = %.3f)", x->m.eer,
                 x->m.eer_threshold);
        labs[nl] = lab[nl];
        cols[nl++] = red;
        snprintf(lab[nl], sizeof lab[nl], "threshold %.2f: FPR %.3f, FNR %.3f", x->m.threshold,
                 x->m.fpr, x->m.fnr);
        labs[nl] = lab[nl];
        cols[nl++] = green;
    }
    sv_plot_legend(p, nl, labs, cols, 2);
    st = sv_html_figure(x->h, p, x->o->outdir, "roc",
                        s->binary ? "ROC curve of P(real), real = positive; the red point is "
                                    "where the false-positive and false-negative rates are "
                                    "equal, the green one the decision threshold."
                                  : "One-vs-rest ROC curve of each class's probability.",
                        err);
    sv_plot_free(p);
    return st;
}

static int fig_pr(eval_ctx *x, sv_error *err)
{
    const sv_scores *s = x->s;
    sv_plot *p = sv_plot_new(FIG_W, FIG_H, err);
    if (!p)
        return err->status;
    sv_axes a = {0, 1, 0, 1.02, 0, "recall", "precision",
                 s->binary ? "Precision-recall (real = positive)"
                           : "Precision-recall (one vs rest)",
                 NULL, 0};
    sv_plot_axes(p, 0, 0, 1, 1, &a);
    char lab[SV_MAX_CLASSES][80];
    const char *labs[SV_MAX_CLASSES];
    sv_rgb cols[SV_MAX_CLASSES];
    int nl = 0;
    for (int c = s->binary ? 1 : 0; c < s->k; c++) {
        one_vs_rest(x, c);
        sv_curve pr;
        double ap;
        if (sv_fig_pr(x->sc, x->pos, (int)s->n, &pr, &ap, err))
            continue;
        sv_rgb col = sv_plot_color(s->binary ? 0 : c);
        sv_plot_line(p, pr.x, pr.y, pr.n, col, 2, 0);
        double prev = (double)x->m.support[c] / s->n, bx[2] = {0, 1}, by[2] = {prev, prev};
        sv_plot_line(p, bx, by, 2, col, 1, 1);
        snprintf(lab[nl], sizeof lab[nl], "%s: AP %.3f (dashed: prevalence)", s->classes[c], ap);
        labs[nl] = lab[nl];
        cols[nl++] = col;
        sv_curve_free(&pr);
    }
    sv_plot_legend(p, nl, labs, cols, 3);
    int st = sv_html_figure(x->h, p, x->o->outdir, "precision_recall",
                            "Precision against recall as the threshold falls; AP = average "
                            "precision.",
                            err);
    sv_plot_free(p);
    return st;
}

static int fig_hist(eval_ctx *x, sv_error *err)
{
    const sv_scores *s = x->s;
    int nb = x->o->bins;
    int panels = s->binary ? 1 : s->k, cols = panels < 4 ? panels : 4;
    int prow = (panels + cols - 1) / cols;
    sv_plot *p = sv_plot_new(cols == 1 ? FIG_W : 330.0 * cols, 330.0 * prow + (cols == 1 ? 90 : 0),
                             err);
    if (!p)
        return err->status;
    long cnt[SV_FIG_MAX_BINS];
    double v[SV_MAX_CLASSES][SV_FIG_MAX_BINS];
    int *mask = malloc((size_t)s->n * sizeof *mask);
    if (!mask) {
        sv_plot_free(p);
        return sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    }
    for (int q = 0; q < panels; q++) {
        int c = s->binary ? 1 : q;
        one_vs_rest(x, c);
        /* binary: one curve per true class; classes: this class vs the rest */
        int ncurve = s->binary ? 2 : 2;
        double vmax = 1;
        for (int g = 0; g < ncurve; g++) {
            for (long i = 0; i < s->n; i++)
                mask[i] = s->binary ? s->label[i] == g : (g == 0) == (s->label[i] == c);
            sv_fig_histogram(x->sc, mask, (int)s->n, nb, 0, 1, cnt, NULL);
            for (int b = 0; b < nb; b++) {
                v[g][b] = (double)cnt[b];
                vmax = v[g][b] > vmax ? v[g][b] : vmax;
            }
        }
        char xl[64], title[96];
        score_name(s, c, xl, sizeof xl);
        snprintf(title, sizeof title, s->binary ? "Scores by true class" : "P(%s)",
                 s->classes[c]);
        sv_axes a = {0, 1, x->o->log_hist ? 0.5 : 0, x->o->log_hist ? vmax * 2 : vmax * 1.08,
                     x->o->log_hist, xl, "stamps", title, NULL, 0};
        sv_plot_axes(p, (double)(q % cols) / cols, (double)(q / cols) / prow, 1.0 / cols,
                     1.0 / prow, &a);
        char l0[64], l1[64];
        const char *labs[2] = {l0, l1};
        sv_rgb colr[2];
        for (int g = 0; g < ncurve; g++) {
            int lab = s->binary ? g : (g == 0 ? c : -1);
            colr[g] = lab == 0 ? sv_plot_color(3) : lab > 0 ? sv_plot_color(0) : sv_plot_color(7);
            if (!s->binary)
                colr[g] = g == 0 ? sv_plot_color(c) : sv_plot_color(7);
            sv_plot_steps(p, 0, 1, nb, v[g], colr[g], 0.25);
            snprintf(g ? l1 : l0, 64, "%s (%ld)",
                     s->binary ? s->classes[g] : g == 0 ? s->classes[c] : "others",
                     s->binary ? x->m.support[g] : g == 0 ? x->m.support[c]
                                                          : s->n - x->m.support[c]);
        }
        if (s->binary) {
            double tx[2] = {s->threshold, s->threshold}, ty[2] = {a.y0 > 0 ? a.y0 : 0, a.y1};
            sv_plot_line(p, tx, ty, 2, (sv_rgb){0, 0, 0}, 1, 1);
        }
        sv_plot_legend(p, 2, labs, colr, 1);
    }
    free(mask);
    char cap[256];
    snprintf(cap, sizeof cap, "Histograms (%d bins over [0, 1]%s) of %s by true class%s.", nb,
             x->o->log_hist ? ", log counts" : "",
             s->binary ? "P(real)" : "each class's probability, that class against the rest",
             s->binary ? "; dashed: the decision threshold" : "");
    int st = sv_html_figure(x->h, p, x->o->outdir, "score_histograms", cap, err);
    sv_plot_free(p);
    return st;
}

static int fig_confusion(eval_ctx *x, sv_error *err)
{
    const sv_scores *s = x->s;
    int k = s->k;
    sv_plot *p = sv_plot_new(880, 440, err);
    if (!p)
        return err->status;
    long conf[SV_MAX_CLASSES * SV_MAX_CLASSES];
    double norm[SV_MAX_CLASSES * SV_MAX_CLASSES];
    char text[2][SV_MAX_CLASSES * SV_MAX_CLASSES][24];
    const char *tp[2][SV_MAX_CLASSES * SV_MAX_CLASSES];
    const char *labels[SV_MAX_CLASSES];
    for (int t = 0; t < k; t++) {
        labels[t] = s->classes[t];
        for (int q = 0; q < k; q++)
            conf[t * k + q] = x->m.confusion[t][q];
    }
    sv_fig_row_normalise(conf, k, norm);
    for (int i = 0; i < k * k; i++) {
        snprintf(text[0][i], sizeof text[0][i], "%ld", conf[i]);
        snprintf(text[1][i], sizeof text[1][i], "%.3f", norm[i]);
        tp[0][i] = text[0][i];
        tp[1][i] = text[1][i];
    }
    sv_plot_matrix(p, 0, 0, 0.5, 1, k, norm, tp[0], labels, "predicted", "true", "Counts");
    sv_plot_matrix(p, 0.5, 0, 0.5, 1, k, norm, tp[1], labels, "predicted", "true",
                   "Row-normalised (recall on the diagonal)");
    char cap[160];
    if (s->binary)
        snprintf(cap, sizeof cap, "Confusion matrix at threshold %.3f; colour = row fraction.",
                 s->threshold);
    else
        snprintf(cap, sizeof cap, "Confusion matrix (predicted = most probable class); colour "
                                  "= row fraction.");
    int st = sv_html_figure(x->h, p, x->o->outdir, "confusion", cap, err);
    sv_plot_free(p);
    return st;
}

/* the reliability diagram's inputs into x->sc / x->pos: P(real) and
 * "is real", or the top-class probability and "is correct" */
static void calib_inputs(eval_ctx *x)
{
    const sv_scores *s = x->s;
    for (long i = 0; i < s->n; i++) {
        const float *q = s->score + (size_t)i * s->n_out;
        int best = sv_scores_pred(s, i);
        x->sc[i] = s->binary ? q[0] : q[best];
        x->pos[i] = s->binary ? s->label[i] == 1 : best == s->label[i];
    }
}

static int fig_calibration(eval_ctx *x, sv_error *err)
{
    const sv_scores *s = x->s;
    calib_inputs(x);
    sv_calibration c;
    int st = sv_fig_calibration(x->sc, x->pos, (int)s->n, x->o->calib_bins, &c, err);
    if (st)
        return st;
    sv_plot *p = sv_plot_new(FIG_W, FIG_H, err);
    if (!p)
        return err->status;
    char title[96];
    snprintf(title, sizeof title, "Reliability diagram, ECE = %.4f", c.ece);
    sv_axes a = {0, 1, 0, 1, 0, s->binary ? "mean P(real) in bin" : "mean top-class probability",
                 s->binary ? "fraction real" : "fraction correct", title, NULL, 0};
    sv_plot_axes(p, 0, 0, 1, 1, &a);
    double d[2] = {0, 1};
    sv_plot_line(p, d, d, 2, (sv_rgb){0.6, 0.6, 0.6}, 1, 1);
    /* bars: the share of samples in each bin, on the same 0..1 axis */
    double bx[SV_FIG_MAX_BINS], bh[SV_FIG_MAX_BINS];
    for (int b = 0; b < c.nbins; b++) {
        bx[b] = (b + 0.5) / c.nbins;
        bh[b] = (double)c.count[b] / s->n;
    }
    sv_plot_bars(p, bx, bh, c.nbins, 0.9 / c.nbins, (sv_rgb){0.78, 0.84, 0.92});
    sv_plot_line(p, c.conf, c.frac, c.nbins, sv_plot_color(0), 2, 0);
    sv_plot_markers(p, c.conf, c.frac, c.nbins, NULL, sv_plot_color(0), 4);
    const char *labs[] = {"observed", "perfect calibration", "share of samples"};
    sv_rgb cols[] = {sv_plot_color(0), {0.6, 0.6, 0.6}, {0.78, 0.84, 0.92}};
    sv_plot_legend(p, 3, labs, cols, 0);
    char cap[256];
    snprintf(cap, sizeof cap,
             "%d equal bins over [0, 1]; ECE = sum over bins of (bin share) x |observed - "
             "mean probability|; largest gap %.3f.",
             c.nbins, c.mce);
    st = sv_html_figure(x->h, p, x->o->outdir, "reliability", cap, err);
    sv_plot_free(p);
    return st;
}

static int galleries(eval_ctx *x, const char *stamps, sv_error *err)
{
    const sv_scores *s = x->s;
    int G = x->o->gallery;
    int *idx = malloc((size_t)(G > 0 ? G : 1) * sizeof *idx);
    int *mask = malloc((size_t)s->n * sizeof *mask);
    sv_gallery_item *it = malloc((size_t)(G > 0 ? G : 1) * sizeof *it);
    int st = 0;
    if (!idx || !mask || !it)
        st = sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    /* x->sc = the probability of each sample's own true class */
    for (long i = 0; !st && i < s->n; i++) {
        const float *q = s->score + (size_t)i * s->n_out;
        x->sc[i] = s->binary ? (s->label[i] ? q[0] : 1.0 - q[0]) : q[s->label[i]];
    }
    for (int pass = 0; pass < 2 && !st; pass++)
        for (int c = 0; c < s->k && !st; c++) {
            for (long i = 0; i < s->n; i++)
                mask[i] = s->label[i] == c;
            int n = pass == 0 ? sv_fig_extremes(x->sc, mask, (int)s->n, G, 0, idx)
                              : sv_fig_sample(mask, (int)s->n, G, x->o->seed + (uint64_t)c, idx);
            for (int j = 0; j < n; j++) {
                long i = idx[j];
                int pr = sv_scores_pred(s, i);
                char sc[32];
                score_name(s, s->binary ? 1 : pr, sc, sizeof sc);
                it[j].row = s->row[i];
                snprintf(it[j].caption, sizeof it[j].caption, "id %lld  %s %.3f%s%s",
                         (long long)s->id[i], sc,
                         s->score[(size_t)i * s->n_out + (s->binary ? 0 : pr)],
                         s->binary ? "" : (pr == c ? "" : " (wrong)"), "");
            }
            char name[64], title[160];
            if (pass == 0 && s->binary)
                snprintf(title, sizeof title, "%s %d %s.",
                         c == 0 ? "The highest-scoring" : "The lowest-scoring", n,
                         c == 0 ? "bogus (false positives first)" : "reals (missed first)");
            else if (pass == 0)
                snprintf(title, sizeof title,
                         "The %d stamps of true class %s with the lowest P(%s); caption: the "
                         "predicted class's probability.",
                         n, s->classes[c], s->classes[c]);
            else
                snprintf(title, sizeof title, "A random sample of %d stamps of true class %s.",
                         n, s->classes[c]);
            snprintf(name, sizeof name, "gallery_%s_%s", pass ? "random" : "hardest",
                     s->classes[c]);
            if (n > 0)
                st = sv_report_gallery(x->h, stamps, it, n, name, title, x->o, err);
        }
    free(idx);
    free(mask);
    free(it);
    return st;
}

int sv_report_eval_sections(sv_html *h, const sv_scores *s, const char *stamps, int gallery,
                            const sv_report_opts *o, sv_error *err)
{
    if (!h || !s || s->n < 1 || !o || !o->outdir)
        return sv_error_set(err, SV_ERR_ARG, "report: no scores");
    eval_ctx x = {s, o, h, {0}, NULL, NULL};
    int st = sv_metrics_compute(s->score, (int)s->n, s->n_out, s->label,
                                (const char(*)[SV_LABEL_MAX])s->classes, s->threshold, &x.m, err);
    if (st)
        return st;
    x.sc = malloc((size_t)s->n * sizeof *x.sc);
    x.pos = malloc((size_t)s->n * sizeof *x.pos);
    if (!x.sc || !x.pos) {
        st = sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
        goto done;
    }
    sv_html_section(h, "Figures of merit");
    sv_calibration cal;
    calib_inputs(&x);
    if ((st = sv_fig_calibration(x.sc, x.pos, (int)s->n, o->calib_bins, &cal, err)))
        goto done;
    char cells[32][2][64];
    const char *cp[64];
    int nr = 0;
#define ROW(NAME, ...)                                                                          \
    do {                                                                                        \
        snprintf(cells[nr][0], 64, "%s", NAME);                                                 \
        snprintf(cells[nr][1], 64, __VA_ARGS__);                                                \
        nr++;                                                                                   \
    } while (0)
    ROW("figure", "value");
    ROW("samples", "%d", x.m.n);
    ROW("accuracy", "%.4f", x.m.accuracy);
    ROW(s->binary ? "ROC AUC" : "ROC AUC (macro, one vs rest)", "%.4f", x.m.auc);
    ROW("macro-F1", "%.4f", x.m.macro_f1);
    ROW("log loss", "%.4f", x.m.log_loss);
    if (s->binary) {
        ROW("threshold", "%.4f", x.m.threshold);
        ROW("FPR (bogus called real)", "%.4f", x.m.fpr);
        ROW("FNR (real called bogus)", "%.4f", x.m.fnr);
        ROW("FPR = FNR", "%.4f at threshold %.4f", x.m.eer, x.m.eer_threshold);
    }
    for (int c = 0; c < s->k && nr < 31; c++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s: precision / recall / F1", s->classes[c]);
        ROW(nm, "%.3f / %.3f / %.3f (%ld)", x.m.precision[c], x.m.recall[c], x.m.f1[c],
            x.m.support[c]);
    }
    ROW("expected calibration error", "%.4f (%d bins)", cal.ece, o->calib_bins);
#undef ROW
    for (int r = 0; r < nr; r++) {
        cp[2 * r] = cells[r][0];
        cp[2 * r + 1] = cells[r][1];
    }
    sv_html_table(h, nr, 2, cp);
    sv_html_section(h, "Curves and histograms");
    if ((st = fig_roc(&x, err)) || (st = fig_pr(&x, err)) || (st = fig_hist(&x, err)) ||
        (st = fig_confusion(&x, err)) || (st = fig_calibration(&x, err)))
        goto done;
    if (gallery) {
        sv_html_section(h, "Stamp gallery");
        if (stamps)
            st = galleries(&x, stamps, err);
        else
            sv_html_para(h, "No labelled-stamps table was given (--data), so no gallery.");
    }
done:
    free(x.sc);
    free(x.pos);
    return st;
}

int sv_report_eval(const sv_scores *s, const char *stamps, const sv_report_opts *o,
                   sv_error *err)
{
    if (!s || s->n < 1 || !o || !o->outdir)
        return sv_error_set(err, SV_ERR_ARG, "report: no scores");
    int st = sv_report_make_dir(o->outdir, err);
    if (st)
        return st;
    char title[1600];
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
    {
        const char *d = strrchr(s->data, '/');
        snprintf(title, sizeof title, "Evaluation of %s on %s", s->model[0] ? s->model : "a model",
                 s->data[0] ? (d ? d + 1 : s->data) : "labelled stamps");
    }
    sv_html *h = sv_html_new(title);
    if (!h)
        return sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    sv_html_para(h, "Model %s (%s); data %s; %ld samples; %s.", s->model, s->model_file, s->data,
                 s->n, s->binary ? "real/bogus, one score P(real) per stamp" : "class probabilities");
    st = sv_report_eval_sections(h, s, stamps, 1, o, err);
    if (!st)
        st = sv_report_write_page(h, o, err);
    sv_html_free(h);
    return st;
}
