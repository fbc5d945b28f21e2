/* lc_stage.c — light-curve classification inside the stage.  See
 * lc_stage.h. */
#include "pipeline/lc_stage.h"
#include "fits/fits_guard.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/det_table.h"
#include "data/lc_source.h"
#include "data/lightcurve.h"
#include "model/model_fits.h"
#include "fits/fits_error.h"

enum { SRC_NONE = 0, SRC_RB, SRC_CLS, SRC_COL };

struct sv_lc_stage {
    sv_model *m;
    sv_lc_scorer *sc;
    char key_cfg[72];
    char hist_path[1024];
    sv_lc_set file_hist;       /* lc_history, read once                    */
    int have_file_hist;
    /* the exposure */
    sv_lc_set host_hist;       /* the host's table of this exposure         */
    const sv_lc_set *hist;     /* the one in use, or NULL                  */
    char hist_what[64];
    double t_now;
    int64_t nrows;
    char key_used[72];
    char **keys;               /* nrows identifiers ("" = null)            */
    int msrc[SV_LC_MAX_META];
    int mcls[SV_LC_MAX_META];
    float *mcol[SV_LC_MAX_META]; /* nrows values of a metadata column      */
    long n_classified, n_flagged;
};

static void exposure_free(sv_lc_stage *s)
{
    sv_lc_set_free(&s->host_hist);
    if (s->keys) {
        for (int64_t i = 0; i < s->nrows; i++)
            free(s->keys[i]);
        free(s->keys);
    }
    s->keys = NULL;
    for (int j = 0; j < SV_LC_MAX_META; j++) {
        free(s->mcol[j]);
        s->mcol[j] = NULL;
        s->msrc[j] = SRC_NONE;
    }
    s->hist = NULL;
    s->nrows = 0;
    s->n_classified = s->n_flagged = 0;
}

void sv_lc_stage_free(sv_lc_stage *s)
{
    if (!s)
        return;
    exposure_free(s);
    sv_lc_set_free(&s->file_hist);
    sv_lc_scorer_free(s->sc);
    sv_model_free(s->m);
    free(s);
}

const sv_model *sv_lc_stage_model(const sv_lc_stage *s) { return s ? s->m : NULL; }

int sv_lc_stage_new(const char *model_path, const char *history_path, const char *key_col,
                    int batch, sv_lc_stage **out, sv_error *err)
{
    *out = NULL;
    sv_lc_stage *s = calloc(1, sizeof *s);
    if (!s)
        return sv_error_set(err, SV_ERR_NOMEM, "lc_model: out of memory");
    int st = sv_model_read_fits(model_path, &s->m, err);
    if (!st && (st = sv_lc_model_check(s->m, err)))
        sv_error_prefix(err, "lc_model %s: ", model_path);
    if (!st && !(s->sc = sv_lc_scorer_new(s->m, batch > 0 ? batch : 64, err)))
        st = err && err->status ? err->status : SV_ERR_NOMEM;
    if (!st && history_path && history_path[0]) {
        snprintf(s->hist_path, sizeof s->hist_path, "%s", history_path);
        sv_lc_read_options o = sv_lc_read_defaults();
        o.use_t_alert = 0;
        if ((st = sv_lc_read_fits(history_path, &o, &s->file_hist, err)))
            sv_error_prefix(err, "lc_history: ");
        else if ((st = sv_lc_set_index(&s->file_hist, err)) == 0)
            s->have_file_hist = 1;
    }
    if (st) {
        sv_lc_stage_free(s);
        return st;
    }
    snprintf(s->key_cfg, sizeof s->key_cfg, "%s", key_col ? key_col : "");
    *out = s;
    return 0;
}

static const char *const key_aliases[] = {"objectId", "object_id", "diaObjectId", "candid",
                                          "id", NULL};

/* metadata sources, the keys and metadata columns of a detection table */
static int begin_common(sv_lc_stage *s, const dia_table *det, const char *what, int k_cls,
                        const char (*cls_names)[SV_LABEL_MAX], sv_error *err)
{
    s->nrows = det->nrows;
    const dia_column *key = NULL;
    if (s->key_cfg[0]) {
        key = sv_table_column(det, s->key_cfg);
        if (!key)
            return sv_error_set(err, SV_ERR_SHAPE, "%s: no column '%s' (lc_key) to find the "
                                "light-curve histories", what, s->key_cfg);
    } else {
        for (int a = 0; key_aliases[a] && !key; a++)
            key = sv_table_column(det, key_aliases[a]);
        if (!key)
            return sv_error_set(err, SV_ERR_SHAPE, "%s: no identifier column (objectId, "
                                "candid, id) to find the light-curve histories: set lc_key",
                                what);
    }
    snprintf(s->key_used, sizeof s->key_used, "%s", key->name);
    s->keys = calloc((size_t)(det->nrows > 0 ? det->nrows : 1), sizeof *s->keys);
    if (!s->keys)
        return sv_error_set(err, SV_ERR_NOMEM, "lc: out of memory");
    for (int64_t r = 0; r < det->nrows; r++) {
        char b[128];
        sv_column_cell_str(key, r, b, sizeof b);
        if (!(s->keys[r] = strdup(b)))
            return sv_error_set(err, SV_ERR_NOMEM, "lc: out of memory");
    }
    const sv_lcprep *p = &s->m->lc;
    for (int j = 0; j < p->n_meta; j++) {
        const char *nm = p->meta[j];
        s->msrc[j] = SRC_NONE;
        if (!strcasecmp(nm, "rb")) {
            s->msrc[j] = SRC_RB;
            continue;
        }
        if (!strncasecmp(nm, "p_", 2))
            for (int k = 0; k < k_cls && s->msrc[j] == SRC_NONE; k++)
                if (!strcasecmp(nm + 2, cls_names[k])) {
                    s->msrc[j] = SRC_CLS;
                    s->mcls[j] = k;
                }
        if (s->msrc[j] != SRC_NONE)
            continue;
        const dia_column *c = sv_table_column(det, nm);
        if (c && c->type != DIA_COL_STRING) {
            s->mcol[j] = malloc((size_t)(det->nrows > 0 ? det->nrows : 1) * sizeof(float));
            if (!s->mcol[j])
                return sv_error_set(err, SV_ERR_NOMEM, "lc: out of memory");
            for (int64_t r = 0; r < det->nrows; r++)
                s->mcol[j][r] = (float)sv_column_cell_num(c, r);
            s->msrc[j] = SRC_COL;
        }
    }
    return 0;
}

int sv_lc_stage_begin_table(sv_lc_stage *s, const dia_table *det, const dia_table *history,
                            double mjd, int k_cls, const char (*cls_names)[SV_LABEL_MAX],
                            sv_error *err)
{
    exposure_free(s);
    s->t_now = mjd;
    int st = begin_common(s, det, "detection table", k_cls, cls_names, err);
    if (st)
        return st;
    if (history) {
        sv_lc_read_options o = sv_lc_read_defaults();
        o.use_t_alert = 0;
        if (sv_table_column(history, s->key_used))
            o.id_column = s->key_used;
        if ((st = sv_lc_from_table(history, &o, "history table (dia_exposure.history)",
                                   &s->host_hist, err)) ||
            (st = sv_lc_set_index(&s->host_hist, err)))
            return st;
        s->hist = &s->host_hist;
        snprintf(s->hist_what, sizeof s->hist_what, "host table");
    } else if (s->have_file_hist) {
        s->hist = &s->file_hist;
        snprintf(s->hist_what, sizeof s->hist_what, "lc_history file");
    }
    return 0;
}

/* read the detection table's key and metadata columns from a file */
int sv_lc_stage_begin_file(sv_lc_stage *s, const char *det_path, const char *sci_path,
                           int k_cls, const char (*cls_names)[SV_LABEL_MAX], sv_error *err)
{
    exposure_free(s);
    s->t_now = NAN;
    fitsfile *f = NULL;
    int fst = 0;
    if (sci_path && !sv_fits_guard_file(sci_path, NULL) &&
        !fits_open_image(&f, sci_path, READONLY, &fst)) {
        double v = NAN;
        if (!fits_read_key(f, TDOUBLE, "MJD-OBS", &v, NULL, &fst) && isfinite(v))
            s->t_now = v;
        fst = 0;
        fits_close_file(f, &fst);
    }
    fits_clear_errmsg();
    f = NULL;
    fst = 0;
    if (sv_fits_guard_file(det_path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_table(&f, det_path, READONLY, &fst)) {
        return sv_fits_fail(err, SV_ERR_IO, det_path, "cannot open the detection table", fst);
    }
    long nr = 0;
    int ncol = 0;
    fits_get_num_rows(f, &nr, &fst);
    fits_get_num_cols(f, &ncol, &fst);
    /* the columns we may need: the key candidates and the metadata names */
    const sv_lcprep *p = &s->m->lc;
    const char *want[SV_LC_MAX_META + 8];
    int nw = 0;
    if (s->key_cfg[0])
        want[nw++] = s->key_cfg;
    else
        for (int a = 0; key_aliases[a]; a++)
            want[nw++] = key_aliases[a];
    for (int j = 0; j < p->n_meta; j++)
        want[nw++] = p->meta[j];
    dia_column cols[SV_LC_MAX_META + 8];
    char names[SV_LC_MAX_META + 8][72];
    void *bufs[SV_LC_MAX_META + 8] = {0};
    int nc = 0, st = 0;
    size_t N = (size_t)(nr > 0 ? nr : 1);
    for (int w = 0; w < nw && !st && !fst; w++) {
        int cn = 0, s2 = 0;
        fits_get_colnum(f, CASEINSEN, (char *)want[w], &cn, &s2);
        if (s2) {
            fits_clear_errmsg();
            continue;
        }
        int tc = 0;
        long rep = 0, wid = 0;
        fits_get_eqcoltype(f, cn, &tc, &rep, &wid, &fst);
        memset(&cols[nc], 0, sizeof cols[nc]);
        snprintf(names[nc], sizeof names[nc], "%s", want[w]);
        cols[nc].name = names[nc];
        int anyn = 0;
        if (tc == TSTRING) {
            if (wid < 1 || wid > 256)
                continue;
            char *b = calloc(N, (size_t)wid + 1);
            char **ptr = malloc(N * sizeof *ptr);
            if (!b || !ptr) {
                free(b);
                free(ptr);
                st = sv_error_set(err, SV_ERR_NOMEM, "lc: out of memory");
                break;
            }
            for (size_t r = 0; r < (size_t)nr; r++)
                ptr[r] = b + r * ((size_t)wid + 1);
            if (nr > 0)
                fits_read_col(f, TSTRING, cn, 1, 1, nr, "", ptr, &anyn, &fst);
            free(ptr);
            cols[nc].type = DIA_COL_STRING;
            cols[nc].repeat = (int32_t)wid + 1;
            bufs[nc] = b;
        } else if (rep == 1 && (tc == TLONGLONG || tc == TLONG || tc == TINT || tc == TSHORT ||
                                tc == TBYTE)) {
            int64_t *b = malloc(N * sizeof *b);
            if (!b) {
                st = sv_error_set(err, SV_ERR_NOMEM, "lc: out of memory");
                break;
            }
            LONGLONG nul = 0;
            if (nr > 0)
                fits_read_col(f, TLONGLONG, cn, 1, 1, nr, &nul, b, &anyn, &fst);
            cols[nc].type = DIA_COL_INT64;
            cols[nc].repeat = 1;
            bufs[nc] = b;
        } else if (rep == 1) {
            double *b = malloc(N * sizeof *b);
            if (!b) {
                st = sv_error_set(err, SV_ERR_NOMEM, "lc: out of memory");
                break;
            }
            double nul = NAN;
            if (nr > 0)
                fits_read_col(f, TDOUBLE, cn, 1, 1, nr, &nul, b, &anyn, &fst);
            cols[nc].type = DIA_COL_FLOAT64;
            cols[nc].repeat = 1;
            bufs[nc] = b;
        } else {
            continue;
        }
        cols[nc].data = bufs[nc];
        nc++;
    }
    int cst = 0;
    fits_close_file(f, &cst);
    if (!st && fst) {
        st = sv_fits_fail(err, SV_ERR_IO, det_path, "cannot read the detection table", fst);
    }
    fits_clear_errmsg();
    if (!st) {
        dia_table t = {nr, nc, cols, 0, NULL};
        st = begin_common(s, &t, det_path, k_cls, cls_names, err);
    }
    for (int i = 0; i < nc; i++)
        free(bufs[i]);
    if (st)
        return st;
    if (s->have_file_hist) {
        s->hist = &s->file_hist;
        snprintf(s->hist_what, sizeof s->hist_what, "lc_history file");
    }
    return 0;
}

int sv_lc_stage_classify(sv_lc_stage *s, int64_t row0, int n, const float *rb,
                         const float *const *cls_prob, float *prob, int16_t *label,
                         int32_t *flags, sv_error *err)
{
    const sv_model *m = s->m;
    const int K = m->n_classes, M = m->lc.n_meta;
    if (row0 < 0 || row0 + n > s->nrows)
        return sv_error_set(err, SV_ERR_INTERNAL, "lc: rows %lld..%lld outside the exposure",
                            (long long)row0, (long long)(row0 + n));
    for (int i = 0; i < n; i++) {
        label[i] = -1;
        flags[i] = 0;
        for (int k = 0; k < K; k++)
            prob[(size_t)i * K + k] = NAN;
    }
    if (n <= 0)
        return 0;
    sv_lc_set q;
    memset(&q, 0, sizeof q);
    q.lc = calloc((size_t)n, sizeof *q.lc);
    float *pool = malloc((size_t)n * (M > 0 ? M : 1) * sizeof *pool);
    long *idx = malloc((size_t)n * sizeof *idx);
    int *slot = malloc((size_t)n * sizeof *slot), *ok = malloc((size_t)n * sizeof *ok);
    float *pr = malloc((size_t)n * K * sizeof *pr);
    double *tn = malloc((size_t)n * sizeof *tn);
    int st = 0;
    if (!q.lc || !pool || !idx || !slot || !ok || !pr || !tn) {
        st = sv_error_set(err, SV_ERR_NOMEM, "lc: out of memory");
        goto done;
    }
    int mq = 0;
    for (int i = 0; i < n; i++) {
        const char *key = s->keys[row0 + i];
        if (!s->hist) {
            flags[i] = SV_LCFLAG_NOTABLE;
            continue;
        }
        if (!key[0]) {
            flags[i] = SV_LCFLAG_NOKEY;
            continue;
        }
        long c = sv_lc_find((sv_lc_set *)s->hist, key);
        if (c < 0) {
            flags[i] = SV_LCFLAG_NOHIST;
            continue;
        }
        sv_lc *L = &q.lc[mq];
        *L = s->hist->lc[c];
        L->meta = pool + (size_t)mq * M;
        for (int j = 0; j < M; j++) {
            float v = NAN;
            if (s->msrc[j] == SRC_RB && rb)
                v = rb[i];
            else if (s->msrc[j] == SRC_CLS && cls_prob)
                v = cls_prob[s->mcls[j]][i];
            else if (s->msrc[j] == SRC_COL)
                v = s->mcol[j][row0 + i];
            L->meta[j] = v;
        }
        idx[mq] = mq;
        slot[mq] = i;
        tn[mq] = isfinite(s->t_now) ? s->t_now : INFINITY;
        mq++;
    }
    q.n = mq;
    q.n_bands = s->hist ? s->hist->n_bands : 0;
    if (s->hist)
        memcpy(q.bands, s->hist->bands, sizeof q.bands);
    q.n_meta = M;
    for (int j = 0; j < M; j++)
        snprintf(q.meta_names[j], SV_LABEL_MAX, "%s", m->lc.meta[j]);
    snprintf(q.origin, sizeof q.origin, "%s", s->hist_what);
    if (mq > 0 && (st = sv_lc_scorer_run(s->sc, &q, idx, mq, tn, pr, ok, err)))
        goto done;
    for (int j = 0; j < mq; j++) {
        int i = slot[j];
        if (!ok[j]) {
            flags[i] = SV_LCFLAG_NODET;
            continue;
        }
        int best = 0;
        for (int k = 0; k < K; k++) {
            prob[(size_t)i * K + k] = pr[(size_t)j * K + k];
            if (pr[(size_t)j * K + k] > pr[(size_t)j * K + best])
                best = k;
        }
        label[i] = (int16_t)best;
    }
    for (int i = 0; i < n; i++) {
        if (flags[i])
            s->n_flagged++;
        else
            s->n_classified++;
    }
done:
    free(q.lc);
    free(pool);
    free(idx);
    free(slot);
    free(ok);
    free(pr);
    free(tn);
    return st;
}

void sv_lc_stage_prov(const sv_lc_stage *s, sv_provenance *p)
{
    const sv_model *m = s->m;
    sv_prov_str(p, "LCMODEL", m->name, "light-curve model name");
    char label[SV_PROV_VALUE_MAX];
    sv_model_label(m, label, sizeof label);
    sv_prov_str(p, "LCMVERS", label, "light-curve model version (MODVERS, else the name)");
    sv_prov_str(p, "LCMCKSUM", m->checksum, "light-curve model file primary CHECKSUM");
    sv_prov_str(p, "LCMFILE", m->path, "light-curve model file");
    char buf[SV_PROV_VALUE_MAX];
    if (!s->hist)
        snprintf(buf, sizeof buf, "none");
    else if (s->hist == &s->file_hist)
        snprintf(buf, sizeof buf, "%.500s", s->hist_path);
    else
        snprintf(buf, sizeof buf, "host table");
    sv_prov_str(p, "LCHIST", buf, "light-curve histories");
    sv_prov_str(p, "LCKEY", s->key_used, "detection column naming a history");
    if (isfinite(s->t_now))
        sv_prov_dbl(p, "LCTNOW", s->t_now, "histories used up to this MJD");
    else
        sv_prov_str(p, "LCTNOW", "all", "histories used up to this MJD");
    size_t k = 0;
    buf[0] = '\0';
    for (int j = 0; j < m->lc.n_meta && k < sizeof buf; j++) {
        static const char *const what[] = {"unknown", "stage-rb", "stage-class", "column"};
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s=%s", j ? "," : "", m->lc.meta[j],
                              what[s->msrc[j]]);
    }
    sv_prov_str(p, "LCMSRC", m->lc.n_meta ? buf : "none", "where the metadata came from");
}

void sv_lc_stage_prov_counts(const sv_lc_stage *s, sv_provenance *p)
{
    sv_prov_int(p, "LCNCLASS", s->n_classified, "detections classified from histories");
    sv_prov_int(p, "LCNFLAG", s->n_flagged, "detections flagged (LC_FLAGS != 0)");
}
