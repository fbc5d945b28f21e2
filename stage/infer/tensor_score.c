/* tensor_score.c — see tensor_score.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "infer/tensor_score.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/fast/lc_infer.h"
#include "nn/nn_engine.h"
#include "fits/report_file.h"
#include "fits/fits_error.h"

#define TENSOR_MAX_VALUES ((long long)1 << 31) /* floats in one file */

/* The cube: n x t x f floats, or a status. */
static int read_cube(const char *path, float **x, int *n, int *t, int *f, sv_error *err)
{
    fitsfile *fp = NULL;
    int st = 0, naxis = 0, bitpix = 0;
    long ax[3] = {1, 1, 1};
    *x = NULL;
    fits_open_image(&fp, path, READONLY, &st);
    if (st) {
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot open as a FITS image", st);
    }
    fits_get_img_param(fp, 3, &bitpix, &naxis, ax, &st);
    int rc = 0;
    if (st || naxis < 2 || naxis > 3) {
        rc = sv_error_set(err, SV_ERR_FORMAT, "%s: expected an image of 2 or 3 axes (features, "
                          "steps[, samples]), it has %d", path, naxis);
        goto done;
    }
    if (naxis == 2)
        ax[2] = 1;
    long long total = (long long)ax[0] * ax[1] * ax[2];
    if (ax[0] < 1 || ax[1] < 1 || ax[2] < 1 || total >= TENSOR_MAX_VALUES) {
        rc = sv_error_set(err, SV_ERR_FORMAT, "%s: image of %ld x %ld x %ld values (empty or "
                          "over 2^31)", path, ax[0], ax[1], ax[2]);
        goto done;
    }
    *x = malloc((size_t)total * sizeof **x);
    if (!*x) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    int anynul = 0;
    float nul = NAN;
    fits_read_img(fp, TFLOAT, 1, (LONGLONG)total, &nul, *x, &anynul, &st);
    if (st) {
        rc = sv_fits_fail(err, SV_ERR_IO, path, "cannot read the image (truncated?)", st);
        goto done;
    }
    *f = (int)ax[0];
    *t = (int)ax[1];
    *n = (int)ax[2];
done:
    st = 0;
    fits_close_file(fp, &st);
    if (rc) {
        free(*x);
        *x = NULL;
    }
    return rc;
}

void sv_tensor_scores_free(sv_tensor_scores *s)
{
    if (!s)
        return;
    free(s->probs);
    free(s->last);
    free(s->bad);
    memset(s, 0, sizeof *s);
}

/* Run every sample through net (T steps), batch at a time, into s->probs. */
static int run_all(const nn_net *net, const float *x, int batch, sv_tensor_scores *s,
                   size_t in_size, sv_error *err)
{
    size_t out_size = net->layers[net->output].out_size;
    sv_lc_infer *fast = sv_lc_infer_new(net, batch, NULL);
    nn_workspace *ws = fast ? NULL : nn_workspace_new(net, batch, 0, err);
    if (!fast && !ws)
        return err ? err->status : SV_ERR_NOMEM;
    int st = 0;
    for (int i = 0; i < s->n && !st; i += batch) {
        int nb = s->n - i < batch ? s->n - i : batch;
        const float *in[1] = {x + (size_t)i * in_size};
        const float *o = NULL;
        if (fast)
            o = sv_lc_infer_run(fast, nb, in, err);
        else if (!(st = nn_forward(ws, (nn_net *)net, nb, in, 0, err)))
            o = nn_workspace_output(ws);
        if (!o && !st)
            st = err ? err->status : SV_ERR_INTERNAL;
        if (o)
            memcpy(s->probs + (size_t)i * out_size, o, (size_t)nb * out_size * sizeof(float));
    }
    sv_lc_infer_free(fast);
    nn_workspace_free(ws);
    return st;
}

int sv_tensor_score_file(const sv_model *m, const char *path, int batch, sv_tensor_scores *out,
                         sv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m || !path || batch < 1)
        return sv_error_set(err, SV_ERR_ARG, "sv_tensor_score_file: bad arguments");
    const nn_net *net = m->net;
    const nn_layer *I = &net->layers[net->inputs[0]], *O = &net->layers[net->output];
    if (m->task != SV_TASK_LIGHTCURVE || net->n_inputs != 1 || I->rank != 2 || O->rank > 2)
        return sv_error_set(err, SV_ERR_ARG, "model '%s' is not a light-curve model with one "
                            "sequence input (time, features)", m->name);
    float *x = NULL;
    int n = 0, t = 0, f = 0, st;
    if ((st = read_cube(path, &x, &n, &t, &f, err)))
        return st;
    if (f != I->shape[1]) {
        free(x);
        return sv_error_set(err, SV_ERR_SHAPE, "%s: %d features per step (NAXIS1), model '%s' "
                            "takes %d", path, f, m->name, I->shape[1]);
    }
    nn_net *retimed = NULL;
    if (t != I->shape[0] && (st = nn_net_with_steps(net, t, &retimed, err))) {
        free(x);
        return sv_error_prefix(err, "%s: %d steps (NAXIS2), model '%s' was built for %d: ",
                               path, t, m->name, I->shape[0]);
    }
    const nn_net *use = retimed ? retimed : net;
    const nn_layer *Ou = &use->layers[use->output];
    out->n = n;
    out->t = t;
    out->per_step = Ou->rank == 2;
    out->k = Ou->shape[Ou->rank - 1];
    size_t per = Ou->out_size;
    out->probs = malloc((size_t)n * per * sizeof(float));
    out->last = malloc((size_t)n * sizeof(int));
    out->bad = calloc((size_t)n, sizeof(int));
    if (!out->probs || !out->last || !out->bad) {
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    /* padding, and bad values (set to 0 for the run; NaN results after) */
    const char *mv = sv_model_get_prov(m, "LCMASK");
    float mask_value = mv ? strtof(mv, NULL) : 0.0f;
    for (int i = 0; i < n; i++) {
        out->last[i] = -1;
        for (int s = 0; s < t; s++) {
            float *v = x + ((size_t)i * t + s) * f;
            int pad = 1;
            for (int j = 0; j < f; j++) {
                if (!isfinite(v[j])) {
                    out->bad[i] = 1;
                    v[j] = 0.0f;
                }
                if (v[j] != mask_value)
                    pad = 0;
            }
            if (!pad)
                out->last[i] = s;
        }
    }
    if ((st = run_all(use, x, batch, out, (size_t)t * f, err))) {
        sv_error_prefix(err, "%s: ", path);
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (out->bad[i])
            for (size_t q = 0; q < per; q++)
                out->probs[(size_t)i * per + q] = NAN;
done:
    if (st)
        sv_tensor_scores_free(out);
    nn_net_free(retimed);
    free(x);
    return st;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct tw {
    const sv_model *m;
    const sv_tensor_scores *s;
    int all_steps;
    int fits;
} tw;

/* The rows: (sample, step) pairs, and the probabilities of a row (NULL for
 * a sample without a valid last step). */
static long tw_rows(const tw *w) { return (long)w->s->n * (w->all_steps ? w->s->t : 1); }

static const float *tw_row(const tw *w, long r, int *sample, int *step)
{
    const sv_tensor_scores *s = w->s;
    int i = (int)(w->all_steps ? r / s->t : r);
    int t = w->all_steps ? (int)(r % s->t) : s->last[i];
    *sample = i;
    *step = t;
    if (t < 0 || (!s->per_step && w->all_steps))
        return NULL;
    return s->probs + ((size_t)i * (s->per_step ? s->t : 1) + (s->per_step ? t : 0)) * s->k;
}

static int tw_write(const char *tmp, void *user, sv_error *err)
{
    const tw *w = user;
    const sv_model *m = w->m;
    int K = w->s->k;
    if (!w->fits) {
        FILE *f = sv_report_csv_create(tmp, err);
        if (!f)
            return SV_ERR_IO;
        fprintf(f, "sample,step");
        for (int k = 0; k < K; k++)
            fprintf(f, ",%s", k < m->n_classes ? m->classes[k] : "?");
        fprintf(f, "\n");
        for (long r = 0; r < tw_rows(w); r++) {
            int i, t;
            const float *p = tw_row(w, r, &i, &t);
            fprintf(f, "%d,%d", i, t);
            for (int k = 0; k < K; k++)
                fprintf(f, ",%.9g", p ? (double)p[k] : NAN);
            fprintf(f, "\n");
        }
        return sv_report_csv_close(f, tmp, err);
    }
    int s = 0;
    fitsfile *f = sv_report_fits_create(tmp, &s, err);
    if (!f)
        return SV_ERR_IO;
    int nc = 2 + K;
    char **ttype = calloc((size_t)nc, sizeof *ttype), **tform = calloc((size_t)nc, sizeof *tform);
    if (!ttype || !tform) {
        free(ttype);
        free(tform);
        return sv_report_fits_close(f, MEMORY_ALLOCATION, tmp, err);
    }
    ttype[0] = "SAMPLE";
    ttype[1] = "STEP";
    tform[0] = tform[1] = "1J";
    for (int k = 0; k < K; k++) {
        ttype[2 + k] = (char *)(k < m->n_classes ? m->classes[k] : "?");
        tform[2 + k] = "1E";
    }
    fits_create_tbl(f, BINARY_TBL, 0, nc, ttype, tform, NULL, "SCORES", &s);
    fits_update_key_str(f, "MODEL", (char *)m->name, "model name", &s);
    fits_update_key_log(f, "ALLSTEPS", w->all_steps, "every step (T) or the last unpadded", &s);
    for (long r = 0; r < tw_rows(w) && !s; r++) {
        int i, t;
        const float *p = tw_row(w, r, &i, &t);
        fits_write_col(f, TINT, 1, r + 1, 1, 1, &i, &s);
        fits_write_col(f, TINT, 2, r + 1, 1, 1, &t, &s);
        for (int k = 0; k < K; k++)
            sv_report_fits_put_double(f, 3 + k, r + 1, p ? (double)p[k] : NAN, &s);
    }
    free(ttype);
    free(tform);
    return sv_report_fits_close(f, s, tmp, err);
}

int sv_tensor_scores_write(const sv_model *m, const sv_tensor_scores *s, int all_steps,
                           const char *path, sv_error *err)
{
    int kind = sv_report_kind(path);
    if (!kind)
        return sv_error_set(err, SV_ERR_ARG, "%s: unknown table format (use .fits or .csv)",
                            path);
    if (all_steps && !s->per_step)
        return sv_error_set(err, SV_ERR_ARG, "model '%s' gives one output per sample, not one "
                            "per step (--all-steps)", m->name);
    tw w = {m, s, all_steps, kind == 1};
    return sv_report_write_atomic(path, tw_write, &w, err);
}
