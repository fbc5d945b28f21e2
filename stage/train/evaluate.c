/* evaluate.c — scoring a labelled stamp set and reporting.  See evaluate.h. */
#include "train/evaluate.h"

#include <fitsio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/parallel.h"
#include "data/lc_source.h"
#include "infer/score.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

sv_eval_config sv_eval_defaults(void)
{
    sv_eval_config c;
    c.threads = 1;
    c.batch = 64;
    c.chunk = 1024;
    c.threshold = 0.5;
    return c;
}

/* ---- scoring ------------------------------------------------------------------ */

typedef struct eval_job {
    sv_scorer **sc;
    int parts;
    const float *raw;     /* chunk of raw triplets                         */
    int count;            /* samples in the chunk                          */
    int h, w;
    float *out;           /* scores of the chunk                           */
    int n_out;
    sv_triplet *tr;       /* count triplet views                           */
    int status[64];
    sv_error err[64];
} eval_job;

static void eval_task(int p, void *ctx)
{
    eval_job *J = ctx;
    long a = (long)p * J->count / J->parts, b = (long)(p + 1) * J->count / J->parts;
    if (b <= a)
        return;
    J->status[p] = sv_scorer_run(J->sc[p], (int)(b - a), J->tr + a, NULL,
                                 J->out + (size_t)a * J->n_out, NULL, &J->err[p]);
}

int sv_evaluate_scores(const sv_model *m, const sv_stamp_source *src,
                       const sv_eval_config *cfg_in, float **scores, int *n_out_p,
                       sv_error *err)
{
    if (!m || !src || !scores)
        return sv_error_set(err, SV_ERR_ARG, "evaluate: NULL argument");
    *scores = NULL;
    sv_eval_config cfg = cfg_in ? *cfg_in : sv_eval_defaults();
    if (cfg.threads < 1)
        cfg.threads = 1;
    if (cfg.threads > 64)
        cfg.threads = 64;
    if (cfg.batch < 1)
        cfg.batch = 64;
    if (cfg.chunk < cfg.threads)
        cfg.chunk = cfg.threads;
    if (src->n_inputs > 0 || m->task == SV_TASK_LIGHTCURVE) /* ready inputs: lc_source.h */
        return sv_source_score_direct(m, src, cfg.threads, cfg.batch, scores, n_out_p, err);
    if (m->n_features > 0)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "model '%s' needs a feature vector per stamp; a stamp table "
                            "carries none",
                            m->name);
    int parts = cfg.threads;
    int st = 0;
    sv_scorer *sc[64] = {0};
    for (int p = 0; p < parts; p++) {
        sc[p] = sv_scorer_new(m, cfg.batch, err);
        if (!sc[p]) {
            st = err && err->status ? err->status : SV_ERR_NOMEM;
            for (int q = 0; q < p; q++)
                sv_scorer_free(sc[q]);
            return st;
        }
    }
    int n_out = sv_scorer_n_outputs(sc[0]);
    size_t per = (size_t)3 * src->h * src->w, hw = (size_t)src->h * src->w;
    float *out = malloc((size_t)(src->n > 0 ? src->n : 1) * n_out * sizeof(float));
    float *raw = malloc((size_t)cfg.chunk * per * sizeof(float));
    long *idx = malloc((size_t)cfg.chunk * sizeof *idx);
    eval_job *J = calloc(1, sizeof *J);
    sv_triplet *tr = malloc((size_t)cfg.chunk * sizeof *tr);
    if (!out || !raw || !idx || !J || !tr) {
        st = sv_error_set(err, SV_ERR_NOMEM, "evaluate: out of memory");
        goto done;
    }
    for (long first = 0; first < src->n; first += cfg.chunk) {
        int cnt = (int)(src->n - first < cfg.chunk ? src->n - first : cfg.chunk);
        for (int i = 0; i < cnt; i++)
            idx[i] = first + i;
        if ((st = sv_source_fetch(src, idx, cnt, raw, err)))
            goto done;
        for (int i = 0; i < cnt; i++) {
            const float *r = raw + (size_t)i * per;
            tr[i].chan[SV_CH_SCI] = r;
            tr[i].chan[SV_CH_REF] = r + hw;
            tr[i].chan[SV_CH_DIFF] = r + 2 * hw;
            tr[i].h = src->h;
            tr[i].w = src->w;
        }
        J->sc = sc;
        J->parts = parts;
        J->raw = raw;
        J->count = cnt;
        J->h = src->h;
        J->w = src->w;
        J->out = out + (size_t)first * n_out;
        J->n_out = n_out;
        J->tr = tr;
        for (int p = 0; p < parts; p++) {
            J->status[p] = 0;
            sv_error_clear(&J->err[p]);
        }
        sv_parallel_for(parts, parts, eval_task, J);
        for (int p = 0; p < parts; p++)
            if (J->status[p]) {
                st = sv_error_set(err, J->status[p], "%s: %s", src->origin, J->err[p].text);
                goto done;
            }
    }
done:
    for (int p = 0; p < parts; p++)
        sv_scorer_free(sc[p]);
    free(raw);
    free(idx);
    free(J);
    free(tr);
    if (st) {
        free(out);
        return st;
    }
    *scores = out;
    if (n_out_p)
        *n_out_p = n_out;
    return 0;
}

int sv_evaluate(const sv_model *m, const sv_stamp_source *src, const sv_eval_config *cfg_in,
                sv_metrics *met, float **scores_out, sv_error *err)
{
    if (!m || !src || !met)
        return sv_error_set(err, SV_ERR_ARG, "evaluate: NULL argument");
    sv_eval_config cfg = cfg_in ? *cfg_in : sv_eval_defaults();
    if (m->task == SV_TASK_REALBOGUS) {
        if (!src->realbogus)
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: model '%s' is real/bogus but the data has class labels",
                                src->origin, m->name);
    } else if (m->task == SV_TASK_CLASS || m->task == SV_TASK_LIGHTCURVE) {
        if (src->realbogus || src->n_classes != m->n_classes)
            return sv_error_set(err, SV_ERR_ARG, "%s: model '%s' has %d classes, the data %d",
                                src->origin, m->name, m->n_classes, src->n_classes);
        for (int c = 0; c < m->n_classes; c++)
            if (strcmp(m->classes[c], src->classes[c]))
                return sv_error_set(err, SV_ERR_ARG,
                                    "%s: class %d is '%s' in the data but '%s' in model '%s'",
                                    src->origin, c, src->classes[c], m->classes[c], m->name);
        if (m->multilabel)
            return sv_error_set(err, SV_ERR_UNSUPPORTED,
                                "model '%s': multi-label models are not evaluated here",
                                m->name);
    } else {
        return sv_error_set(err, SV_ERR_UNSUPPORTED, "model '%s': a %s model scores no stamps",
                            m->name, sv_task_name(m->task));
    }
    float *sc = NULL;
    int n_out = 0;
    int st = sv_evaluate_scores(m, src, &cfg, &sc, &n_out, err);
    if (st)
        return st;
    st = sv_metrics_compute(sc, (int)src->n, n_out, src->labels,
                            (const char(*)[SV_LABEL_MAX])src->classes, cfg.threshold, met, err);
    if (st || !scores_out)
        free(sc);
    else
        *scores_out = sc;
    return st;
}

/* ---- reports -------------------------------------------------------------------- */

typedef struct row {
    char metric[24];
    char cls[SV_LABEL_MAX];
    char pred[SV_LABEL_MAX];
    double value;
} row;

static int report_rows(const sv_metrics *m, row **out)
{
    int cap = 16 + 5 * m->k + m->k * m->k, n = 0;
    row *r = calloc((size_t)cap, sizeof *r);
    if (!r)
        return -1;
#define ADD(M, C, P, V)                                                                         \
    do {                                                                                        \
        snprintf(r[n].metric, sizeof r[n].metric, "%s", M);                                     \
        snprintf(r[n].cls, sizeof r[n].cls, "%s", C);                                           \
        snprintf(r[n].pred, sizeof r[n].pred, "%s", P);                                         \
        r[n].value = V;                                                                         \
        n++;                                                                                    \
    } while (0)
    ADD("n", "", "", (double)m->n);
    ADD("accuracy", "", "", m->accuracy);
    ADD("log_loss", "", "", m->log_loss);
    ADD("auc", "", "", m->auc);
    ADD("macro_f1", "", "", m->macro_f1);
    if (m->binary) {
        ADD("threshold", "", "", m->threshold);
        ADD("fpr", "", "", m->fpr);
        ADD("fnr", "", "", m->fnr);
        ADD("eer", "", "", m->eer);
        ADD("eer_threshold", "", "", m->eer_threshold);
    }
    for (int c = 0; c < m->k; c++) {
        ADD("support", m->classes[c], "", (double)m->support[c]);
        ADD("precision", m->classes[c], "", m->precision[c]);
        ADD("recall", m->classes[c], "", m->recall[c]);
        ADD("f1", m->classes[c], "", m->f1[c]);
        ADD("auc", m->classes[c], "", m->auc_class[c]);
    }
    for (int t = 0; t < m->k; t++)
        for (int p = 0; p < m->k; p++)
            ADD("confusion", m->classes[t], m->classes[p], (double)m->confusion[t][p]);
#undef ADD
    *out = r;
    return n;
}

int sv_evaluate_print(FILE *out, const sv_metrics *m, const sv_eval_info *info)
{
    if (!out || !m)
        return SV_ERR_ARG;
    if (info) {
        if (info->model_name)
            fprintf(out, "model      : %s%s%s%s\n", info->model_name,
                    info->model_path ? " (" : "", info->model_path ? info->model_path : "",
                    info->model_path ? ")" : "");
        if (info->model_checksum && info->model_checksum[0])
            fprintf(out, "checksum   : %s\n", info->model_checksum);
        if (info->data_path)
            fprintf(out, "data       : %s\n", info->data_path);
    }
    fprintf(out, "samples    : %d", m->n);
    if (info && info->n_skipped)
        fprintf(out, " (%ld rows of other classes or unlabelled left out)", info->n_skipped);
    if (info && info->seconds > 0)
        fprintf(out, ", scored in %.2f s (%.0f stamps/s)", info->seconds, m->n / info->seconds);
    fprintf(out, "\n");
    fprintf(out, "accuracy   : %.4f\n", m->accuracy);
    fprintf(out, "ROC AUC    : %.4f%s\n", m->auc, m->binary ? "" : " (macro, one-vs-rest)");
    fprintf(out, "macro-F1   : %.4f\n", m->macro_f1);
    fprintf(out, "log loss   : %.4f\n", m->log_loss);
    if (m->binary) {
        fprintf(out, "threshold  : %.4f  FPR %.4f (bogus called real)  FNR %.4f (real called "
                     "bogus)\n",
                m->threshold, m->fpr, m->fnr);
        fprintf(out, "FPR = FNR  : %.4f at threshold %.4f\n", m->eer, m->eer_threshold);
    }
    int wname = 9;
    for (int c = 0; c < m->k; c++)
        if ((int)strlen(m->classes[c]) > wname)
            wname = (int)strlen(m->classes[c]);
    fprintf(out, "\n%-*s %9s %9s %9s %9s %9s\n", wname, "class", "support", "precision",
            "recall", "F1", "AUC");
    for (int c = 0; c < m->k; c++)
        fprintf(out, "%-*s %9ld %9.4f %9.4f %9.4f %9.4f\n", wname, m->classes[c], m->support[c],
                m->precision[c], m->recall[c], m->f1[c], m->auc_class[c]);
    fprintf(out, "\nconfusion matrix (rows: true class, columns: predicted)\n%-*s", wname, "");
    for (int p = 0; p < m->k; p++)
        fprintf(out, " %*s", wname, m->classes[p]);
    fprintf(out, "\n");
    for (int t = 0; t < m->k; t++) {
        fprintf(out, "%-*s", wname, m->classes[t]);
        for (int p = 0; p < m->k; p++)
            fprintf(out, " %*ld", wname, m->confusion[t][p]);
        fprintf(out, "\n");
    }
    return ferror(out) ? SV_ERR_IO : 0;
}

static int write_csv(const char *tmp, const row *r, int n, const sv_metrics *m,
                     const sv_eval_info *info, sv_error *err)
{
    FILE *f = sv_report_csv_create(tmp, err);
    if (!f)
        return SV_ERR_IO;
    char date[32];
    sv_report_utc_now(date, sizeof date);
    fprintf(f, "# creator: stampvet %s evaluate\n# date: %s\n", PACKAGE_VERSION, date);
    if (info) {
        if (info->model_name)
            fprintf(f, "# model: %s\n", info->model_name);
        if (info->model_path)
            fprintf(f, "# model_file: %s\n", info->model_path);
        if (info->model_checksum)
            fprintf(f, "# model_checksum: %s\n", info->model_checksum);
        if (info->data_path)
            fprintf(f, "# data: %s\n", info->data_path);
        fprintf(f, "# skipped_rows: %ld\n", info->n_skipped);
    }
    (void)m;
    fprintf(f, "metric,class,predicted,value\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s,%s,%s,%.10g\n", r[i].metric, r[i].cls, r[i].pred, r[i].value);
    return sv_report_csv_close(f, tmp, err);
}

static int write_fits(const char *tmp, const row *r, int n, const sv_metrics *m,
                      const sv_eval_info *info, sv_error *err)
{
    int s;
    fitsfile *f = sv_report_fits_create(tmp, &s, err);
    if (!f)
        return SV_ERR_IO;
    char date[32], creator[64];
    sv_report_utc_now(date, sizeof date);
    snprintf(creator, sizeof creator, "stampvet %s evaluate", PACKAGE_VERSION);
    fits_write_key_longwarn(f, &s);
    fits_update_key_str(f, "CREATOR", creator, "software that wrote this file", &s);
    fits_update_key_str(f, "DATE", date, "UTC", &s);
    if (info) {
        if (info->model_name)
            fits_write_key_longstr(f, "MODEL", (char *)info->model_name, "model name", &s);
        if (info->model_checksum)
            fits_write_key_longstr(f, "MODELCK", (char *)info->model_checksum,
                                   "model file primary CHECKSUM", &s);
        if (info->model_path)
            fits_write_key_longstr(f, "MODELFIL", (char *)info->model_path, "model file", &s);
        if (info->data_path)
            fits_write_key_longstr(f, "DATA", (char *)info->data_path, "labelled stamps", &s);
        long sk = info->n_skipped;
        fits_update_key_lng(f, "NSKIPPED", sk, "table rows not scored", &s);
    }
    long nn = m->n;
    fits_update_key_lng(f, "NSAMPLE", nn, "samples scored", &s);
    fits_update_key_str(f, "TASK", m->binary ? "realbogus" : "class", NULL, &s);
    double v;
#define DKEY(K, X, C)                                                                           \
    do {                                                                                        \
        v = (X);                                                                                \
        if (isfinite(v))                                                                        \
            fits_update_key_dbl(f, K, v, 8, C, &s);                                             \
    } while (0)
    DKEY("ACCURACY", m->accuracy, "accuracy");
    DKEY("AUC", m->auc, m->binary ? "ROC AUC" : "macro one-vs-rest ROC AUC");
    DKEY("MACROF1", m->macro_f1, "macro-averaged F1");
    if (m->binary) {
        DKEY("THRESH", m->threshold, "real/bogus decision threshold");
        DKEY("FPR", m->fpr, "false-positive rate at THRESH");
        DKEY("FNR", m->fnr, "false-negative rate at THRESH");
        DKEY("EER", m->eer, "rate where FPR = FNR");
        DKEY("EERTHR", m->eer_threshold, "threshold where FPR = FNR");
    }
#undef DKEY
    char *ttype[] = {"METRIC", "CLASS", "PREDICTED", "VALUE"};
    char *tform[] = {"24A", "32A", "32A", "1D"};
    fits_create_tbl(f, BINARY_TBL, 0, 4, ttype, tform, NULL, "METRICS", &s);
    for (int i = 0; i < n && !s; i++) {
        char *a = (char *)r[i].metric, *b = (char *)r[i].cls, *c = (char *)r[i].pred;
        fits_write_col(f, TSTRING, 1, i + 1, 1, 1, &a, &s);
        fits_write_col(f, TSTRING, 2, i + 1, 1, 1, &b, &s);
        fits_write_col(f, TSTRING, 3, i + 1, 1, 1, &c, &s);
        sv_report_fits_put_double(f, 4, i + 1, r[i].value, &s);
    }
    return sv_report_fits_close(f, s, tmp, err);
}

typedef struct report {
    int kind;
    const row *r;
    int n;
    const sv_metrics *m;
    const sv_eval_info *info;
} report;

static int write_report(const char *tmp, void *user, sv_error *err)
{
    const report *p = user;
    return p->kind == 1 ? write_fits(tmp, p->r, p->n, p->m, p->info, err)
                        : write_csv(tmp, p->r, p->n, p->m, p->info, err);
}

int sv_evaluate_write(const char *path, const sv_metrics *m, const sv_eval_info *info,
                      sv_error *err)
{
    if (!path || !m)
        return sv_error_set(err, SV_ERR_ARG, "evaluate: NULL report path or metrics");
    int kind = sv_report_kind(path);
    if (!kind)
        return sv_error_set(err, SV_ERR_ARG,
                            "%s: unknown report format (use .fits, .fit, .fts or .csv)", path);
    row *r = NULL;
    int n = report_rows(m, &r);
    if (n < 0)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    report rep = {kind, r, n, m, info};
    int st = sv_report_write_atomic(path, write_report, &rep, err);
    free(r);
    return st;
}

int sv_evaluate_scores_table(const sv_model *m, const char *model_path,
                             const sv_stamp_source *src, const char *data_path,
                             int ids_from_table, const float *scores, double threshold,
                             sv_scores *out, sv_error *err)
{
    memset(out, 0, sizeof *out);
    out->binary = m->task == SV_TASK_REALBOGUS;
    out->k = out->binary ? 2 : src->n_classes;
    int n_out = out->binary ? 1 : out->k;
    out->threshold = threshold;
    for (int c = 0; c < out->k; c++)
        snprintf(out->classes[c], SV_LABEL_MAX, "%s", src->classes[c]);
    snprintf(out->model, sizeof out->model, "%s", m->name);
    snprintf(out->model_file, sizeof out->model_file, "%s", model_path ? model_path : "");
    snprintf(out->data, sizeof out->data, "%s", data_path ? data_path : src->origin);
    int st = sv_scores_alloc(out, src->n, n_out, err);
    if (st)
        return st;
    memcpy(out->score, scores, (size_t)src->n * n_out * sizeof *scores);
    for (long i = 0; i < src->n; i++) {
        out->label[i] = src->labels[i];
        out->row[i] = src->rows ? src->rows[i] : i;
        out->id[i] = out->row[i];
    }
    if (ids_from_table && data_path &&
        (st = sv_scores_ids_from_table(data_path, out->row, out->n, out->id, err)))
        sv_scores_free(out);
    return st;
}
