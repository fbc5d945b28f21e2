/* report_lc.c — the light-curve page of `stampvet report`: a light-curve
 * model on a labelled light-curve table.  See report_pages.h. */
#include "train/report_pages.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/lc_source.h"

#define CHUNK 256
#define MAX_TIMES 150
#define MAX_CANDIDATES 6

/* the model's class index of candidate i's label, -1 when the model has
 * no class of that name (or the candidate is unlabelled) */
static int model_label(const sv_model *m, const sv_lc_set *set, long i)
{
    int l = set->lc[i].label;
    if (l < 0 || l >= set->n_classes)
        return -1;
    for (int c = 0; c < m->n_classes; c++)
        if (!strcmp(m->classes[c], set->classes[l]))
            return c;
    return -1;
}

/* classify candidates idx[0..n-1] at times t (NULL: their alert times) */
static int classify(sv_lc_scorer *sc, const sv_lc_set *set, const long *idx, int n,
                    const double *t, int k, float *prob, int *ok, sv_error *err)
{
    for (int a = 0; a < n; a += CHUNK) {
        int b = n - a < CHUNK ? n - a : CHUNK;
        int st = sv_lc_scorer_run(sc, set, idx + a, b, t ? t + a : NULL, prob + (size_t)a * k,
                                  ok + a, err);
        if (st)
            return st;
    }
    return 0;
}

static int candidate_figure(sv_html *h, sv_lc_scorer *sc, const sv_model *m,
                            const sv_lc_set *set, long i, const sv_report_opts *o,
                            sv_error *err)
{
    const sv_lc *lc = &set->lc[i];
    int k = m->n_classes;
    /* the detection times, thinned evenly to MAX_TIMES */
    double t[MAX_TIMES];
    long idx[MAX_TIMES];
    int nd = 0, nt = 0;
    for (int j = 0; j < lc->n; j++)
        nd += !lc->obs[j].ulim;
    for (int j = 0, d = 0; j < lc->n && nt < MAX_TIMES; j++) {
        if (lc->obs[j].ulim)
            continue;
        if (nd <= MAX_TIMES || (long)d * MAX_TIMES / nd != (long)(d + 1) * MAX_TIMES / nd ||
            d == nd - 1)
            t[nt++] = lc->obs[j].t;
        d++;
    }
    for (int j = 0; j < nt; j++)
        idx[j] = i;
    float *prob = malloc((size_t)nt * k * sizeof *prob);
    int ok[MAX_TIMES];
    if (!prob)
        return sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    int st = classify(sc, set, idx, nt, t, k, prob, ok, err);
    if (st) {
        free(prob);
        return st;
    }
    double t0 = lc->obs[0].t, t1 = lc->obs[lc->n - 1].t;
    double flo = INFINITY, fhi = -INFINITY;
    for (int j = 0; j < lc->n; j++)
        if (!lc->obs[j].ulim && isfinite(lc->obs[j].flux)) {
            flo = fmin(flo, lc->obs[j].flux - lc->obs[j].fluxerr);
            fhi = fmax(fhi, lc->obs[j].flux + lc->obs[j].fluxerr);
        }
    if (!(fhi > flo)) {
        flo = 0;
        fhi = 1;
    }
    sv_plot *p = sv_plot_new(640, 560, err);
    if (!p) {
        free(prob);
        return err->status;
    }
    char title[160];
    int lab = model_label(m, set, i);
    snprintf(title, sizeof title, "%s (true class %s)", lc->id,
             lab >= 0 ? m->classes[lab] : "unknown");
    double span = t1 - t0 > 0 ? t1 - t0 : 1;
    sv_axes fa = {-0.02 * span, span * 1.02, flo - 0.08 * (fhi - flo), fhi + 0.08 * (fhi - flo),
                  0, NULL, "flux", title, NULL, 0};
    sv_plot_axes(p, 0, 0, 1, 0.5, &fa);
    const char *blab[SV_LC_MAX_BANDS];
    sv_rgb bcol[SV_LC_MAX_BANDS];
    double *bx = malloc((size_t)lc->n * 3 * sizeof *bx);
    if (!bx) {
        sv_plot_free(p);
        free(prob);
        return sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    }
    double *by = bx + lc->n, *be = by + lc->n;
    int nb = 0;
    for (int b = 0; b < set->n_bands; b++) {
        int n = 0;
        for (int j = 0; j < lc->n; j++)
            if (lc->obs[j].band == b && !lc->obs[j].ulim) {
                bx[n] = lc->obs[j].t - t0;
                by[n] = lc->obs[j].flux;
                be[n] = lc->obs[j].fluxerr;
                n++;
            }
        if (!n)
            continue;
        sv_plot_errorbars(p, bx, by, be, n, sv_plot_color(b + 2));
        blab[nb] = set->bands[b];
        bcol[nb++] = sv_plot_color(b + 2);
    }
    sv_plot_legend(p, nb, blab, bcol, 0);
    free(bx);
    sv_axes pa = {fa.x0, fa.x1, 0, 1.02, 0, "days since the first observation",
                  "class probability", NULL, NULL, 0};
    sv_plot_axes(p, 0, 0.5, 1, 0.5, &pa);
    double *px = malloc((size_t)(nt > 0 ? nt : 1) * 2 * sizeof *px);
    if (!px) {
        sv_plot_free(p);
        free(prob);
        return sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
    }
    double *py = px + nt;
    const char *clab[SV_MAX_CLASSES];
    sv_rgb ccol[SV_MAX_CLASSES];
    for (int c = 0; c < k; c++) {
        for (int j = 0; j < nt; j++) {
            px[j] = t[j] - t0;
            py[j] = ok[j] ? prob[(size_t)j * k + c] : NAN;
        }
        sv_plot_line(p, px, py, nt, sv_plot_color(c), 2, 0);
        clab[c] = m->classes[c];
        ccol[c] = sv_plot_color(c);
    }
    sv_plot_legend(p, k, clab, ccol, 1);
    if (isfinite(lc->t_alert)) {
        double ax[2] = {lc->t_alert - t0, lc->t_alert - t0}, ay[2] = {0, 1.02};
        sv_plot_line(p, ax, ay, 2, (sv_rgb){0, 0, 0}, 1, 1);
    }
    free(px);
    free(prob);
    char name[80], cap[400];
    snprintf(name, sizeof name, "lc_%ld", i + 1);
    snprintf(cap, sizeof cap,
             "%s: the light curve (detections) and each class's probability when classified "
             "with the observations up to each detection (%d times)%s.",
             lc->id, nt, isfinite(lc->t_alert) ? "; dashed: the alert time" : "");
    st = sv_html_figure(h, p, o->outdir, name, cap, err);
    sv_plot_free(p);
    return st;
}

int sv_report_lightcurves(const sv_model *m, const char *model_path, const sv_lc_set *set,
                          const sv_report_opts *o, sv_error *err)
{
    int st = sv_lc_model_check(m, err);
    if (st || (st = sv_report_make_dir(o->outdir, err)))
        return st;
    int k = m->n_classes;
    long *idx = malloc((size_t)(set->n > 0 ? set->n : 1) * sizeof *idx);
    int *lab = malloc((size_t)(set->n > 0 ? set->n : 1) * sizeof *lab);
    float *prob = malloc((size_t)(set->n > 0 ? set->n : 1) * k * sizeof *prob);
    int *ok = malloc((size_t)(set->n > 0 ? set->n : 1) * sizeof *ok);
    sv_lc_scorer *sc = NULL;
    sv_html *h = NULL;
    sv_scores s;
    memset(&s, 0, sizeof s);
    if (!idx || !lab || !prob || !ok) {
        st = sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
        goto done;
    }
    int n = 0;
    for (long i = 0; i < set->n; i++)
        if ((lab[n] = model_label(m, set, i)) >= 0)
            idx[n++] = i;
    if (!n) {
        st = sv_error_set(err, SV_ERR_ARG, "%s: no candidate is labelled with a class of model "
                                           "'%s'", set->origin, m->name);
        goto done;
    }
    if (!(sc = sv_lc_scorer_new(m, CHUNK, err))) {
        st = err && err->status ? err->status : SV_ERR_NOMEM;
        goto done;
    }
    if ((st = classify(sc, set, idx, n, NULL, k, prob, ok, err)))
        goto done;
    /* the classified candidates as a scores table */
    int m_ok = 0;
    for (int j = 0; j < n; j++)
        m_ok += ok[j];
    if (!m_ok) {
        st = sv_error_set(err, SV_ERR_ARG, "%s: no candidate has a detection to classify",
                          set->origin);
        goto done;
    }
    s.binary = 0;
    s.k = k;
    s.threshold = 0.5;
    for (int c = 0; c < k; c++)
        snprintf(s.classes[c], SV_LABEL_MAX, "%s", m->classes[c]);
    snprintf(s.model, sizeof s.model, "%s", m->name);
    snprintf(s.model_file, sizeof s.model_file, "%s", model_path ? model_path : "");
    snprintf(s.data, sizeof s.data, "%s", set->origin);
    if ((st = sv_scores_alloc(&s, m_ok, k, err)))
        goto done;
    for (int j = 0, r = 0; j < n; j++) {
        if (!ok[j])
            continue;
        s.id[r] = s.row[r] = idx[j];
        s.label[r] = lab[j];
        memcpy(s.score + (size_t)r * k, prob + (size_t)j * k, (size_t)k * sizeof *prob);
        r++;
    }
    char title[800];
    snprintf(title, sizeof title, "%s", o->title ? o->title : "");
    if (!o->title)
        snprintf(title, sizeof title, "Light-curve model %s on %s", m->name, set->origin);
    if (!(h = sv_html_new(title))) {
        st = sv_error_set(err, SV_ERR_NOMEM, "report: out of memory");
        goto done;
    }
    sv_html_para(h, "Model %s (%s); %ld candidates, %d with a class of the model, %d "
                    "classified (a detection before the alert time); figures at each "
                    "candidate's alert time.",
                 m->name, model_path ? model_path : "", set->n, n, m_ok);
    if ((st = sv_report_eval_sections(h, &s, NULL, 0, o, err)))
        goto done;
    sv_html_section(h, "Classification against time");
    /* one candidate per class: the one with the most detections */
    for (int c = 0; c < k && c < MAX_CANDIDATES && !st; c++) {
        long best = -1;
        int most = 0;
        for (int j = 0; j < n; j++) {
            if (lab[j] != c)
                continue;
            const sv_lc *lc = &set->lc[idx[j]];
            int d = 0;
            for (int q = 0; q < lc->n; q++)
                d += !lc->obs[q].ulim;
            if (d > most) {
                most = d;
                best = idx[j];
            }
        }
        if (best >= 0)
            st = candidate_figure(h, sc, m, set, best, o, err);
    }
    if (!st)
        st = sv_report_write_page(h, o, err);
done:
    sv_html_free(h);
    sv_scores_free(&s);
    sv_lc_scorer_free(sc);
    free(idx);
    free(lab);
    free(prob);
    free(ok);
    return st;
}
