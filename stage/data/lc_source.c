/* lc_source.c — light curves as ready-input samples; running light-curve
 * models.  See lc_source.h. */
#include "data/lc_source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/fast/lc_infer.h"
#include "nn/nn_engine.h"
#include "core/parallel.h"

/* ---- the model check ---------------------------------------------------------- */

int sv_lc_model_check(const sv_model *m, sv_error *err)
{
    if (!m || !m->net || !m->net->finalized)
        return sv_error_set(err, SV_ERR_ARG, "light-curve model: no network");
    if (m->task != SV_TASK_LIGHTCURVE)
        return sv_error_set(err, SV_ERR_ARG, "model '%s' is a %s model, not a light-curve model",
                            m->name, sv_task_name(m->task));
    const sv_lcprep *p = &m->lc;
    if (p->mode == SV_LCMODE_NONE)
        return sv_error_set(err, SV_ERR_FORMAT, "model '%s' declares no light-curve "
                            "preprocessing (card LCMODE); it cannot classify histories "
                            "(import it with --lc-prep)", m->name);
    sv_error e;
    sv_error_clear(&e);
    if (sv_lcprep_validate(p, &e))
        return sv_error_set(err, SV_ERR_FORMAT, "model '%s': %s", m->name, e.text);
    const nn_net *net = m->net;
    int T = p->n_steps, F = sv_lcprep_n_features(p), M = sv_lcprep_meta_size(p);
    int want = M > 0 ? 2 : 1;
    if (net->n_inputs != want)
        return sv_error_set(err, SV_ERR_SHAPE, "model '%s': the network has %d inputs but the "
                            "preprocessing gives %d (sequence%s)", m->name, net->n_inputs, want,
                            M > 0 ? " and metadata" : " only");
    const nn_layer *I = &net->layers[net->inputs[0]];
    if (I->rank != 2 || I->shape[0] != T || I->shape[1] != F)
        return sv_error_set(err, SV_ERR_SHAPE, "model '%s': sequence input '%s' is not (%d, %d) "
                            "as the preprocessing gives", m->name, I->name, T, F);
    if (M > 0) {
        const nn_layer *J = &net->layers[net->inputs[1]];
        if (J->rank != 1 || J->shape[0] != M)
            return sv_error_set(err, SV_ERR_SHAPE, "model '%s': metadata input '%s' is not (%d)",
                                m->name, J->name, M);
    }
    const nn_layer *O = &net->layers[net->output];
    int k = O->shape[O->rank - 1];
    if (k != m->n_classes || (O->rank == 2 && O->shape[0] != T) || O->rank > 2)
        return sv_error_set(err, SV_ERR_SHAPE, "model '%s': output '%s' is not (%d) or (%d, %d)",
                            m->name, O->name, m->n_classes, T, m->n_classes);
    return 0;
}

/* ---- the source ------------------------------------------------------------------- */

typedef struct lcs_ctx {
    float *data;     /* n x per */
    int *labels;
    size_t per;
} lcs_ctx;

static int lcs_fetch(void *ctx, const long *idx, int count, float *out, sv_error *err)
{
    (void)err;
    lcs_ctx *c = ctx;
    for (int i = 0; i < count; i++)
        memcpy(out + (size_t)i * c->per, c->data + (size_t)idx[i] * c->per,
               c->per * sizeof(float));
    return 0;
}

static void lcs_close(void *ctx)
{
    lcs_ctx *c = ctx;
    if (!c)
        return;
    free(c->data);
    free(c->labels);
    free(c);
}

typedef struct prep_job {
    const sv_lc_set *set;
    const sv_lcprep *p;
    const sv_lcprep_map *map;
    const long *cand;  /* candidate index per sample slot */
    long n;
    size_t per, seq;
    float *data;
    int *nvalid;
    int tasks;
    int status[64];      /* per task */
} prep_job;

static void prep_task(int task, void *ctx)
{
    prep_job *J = ctx;
    long a = (long)task * J->n / J->tasks, b = (long)(task + 1) * J->n / J->tasks;
    for (long i = a; i < b; i++) {
        const sv_lc *L = &J->set->lc[J->cand[i]];
        float *x = J->data + (size_t)i * J->per;
        sv_error e;
        sv_error_clear(&e);
        if (sv_lcprep_apply(J->p, J->map, L, L->t_alert, x, x + J->seq, &J->nvalid[i], &e)) {
            J->status[task] = e.status;
            return;
        }
    }
}

int sv_lc_source_open(sv_stamp_source *src, const sv_lc_set *set, const sv_lcprep *p,
                      const sv_lc_source_options *opt_in, sv_lc_source_info *info,
                      sv_error *err)
{
    sv_lc_source_options opt;
    memset(&opt, 0, sizeof opt);
    if (opt_in)
        opt = *opt_in;
    memset(src, 0, sizeof *src);
    sv_lc_source_info inf;
    memset(&inf, 0, sizeof inf);
    if (!set || !p)
        return sv_error_set(err, SV_ERR_ARG, "light-curve source: NULL argument");
    int st = sv_lcprep_validate(p, err);
    if (st)
        return st;
    if (p->mode == SV_LCMODE_NONE)
        return sv_error_set(err, SV_ERR_ARG, "light-curve source: no preprocessing declared");
    /* classes */
    int k = opt.n_classes > 0 ? opt.n_classes : set->n_classes;
    if (k < 1 || k > SV_MAX_CLASSES)
        return sv_error_set(err, SV_ERR_ARG, "%s: no classes (an unlabelled light-curve set)",
                            set->origin);
    int cmap[SV_MAX_CLASSES];
    for (int c = 0; c < set->n_classes; c++) {
        cmap[c] = -1;
        if (opt.n_classes > 0) {
            for (int j = 0; j < opt.n_classes; j++)
                if (!strcmp(set->classes[c], opt.classes[j]))
                    cmap[c] = j;
        } else {
            cmap[c] = c;
        }
    }
    sv_lcprep_map map;
    if ((st = sv_lcprep_bind(p, set, &map, err)))
        return st;
    inf.n_dropped_bands = map.n_dropped_bands;
    inf.n_missing_meta = map.n_missing_meta;
    long *cand = malloc((size_t)(set->n > 0 ? set->n : 1) * sizeof *cand);
    if (!cand)
        return sv_error_set(err, SV_ERR_NOMEM, "light-curve source: out of memory");
    long n = 0;
    for (long i = 0; i < set->n; i++) {
        int l = set->lc[i].label;
        if (l < 0 || l >= set->n_classes || cmap[l] < 0) {
            inf.n_unlabelled++;
            continue;
        }
        cand[n++] = i;
    }
    size_t seq = (size_t)p->n_steps * sv_lcprep_n_features(p);
    size_t per = seq + (size_t)sv_lcprep_meta_size(p);
    lcs_ctx *c = calloc(1, sizeof *c);
    int *nvalid = malloc((size_t)(n > 0 ? n : 1) * sizeof *nvalid);
    float *data = malloc((size_t)(n > 0 ? n : 1) * per * sizeof(float));
    if (!c || !nvalid || !data) {
        free(cand);
        free(c);
        free(nvalid);
        free(data);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory preparing %ld light curves",
                            set->origin, n);
    }
    prep_job J;
    memset(&J, 0, sizeof J);
    J.set = set;
    J.p = p;
    J.map = &map;
    J.cand = cand;
    J.n = n;
    J.per = per;
    J.seq = seq;
    J.data = data;
    J.nvalid = nvalid;
    J.tasks = 64;
    sv_parallel_for(opt.threads > 0 ? opt.threads : 1, J.tasks, prep_task, &J);
    int pst = 0;
    for (int t = 0; t < J.tasks; t++)
        if (J.status[t] && !pst)
            pst = J.status[t];
    if (pst) {
        free(cand);
        free(c);
        free(nvalid);
        free(data);
        return sv_error_set(err, pst, "%s: preparing the light curves failed", set->origin);
    }
    /* keep the samples with something to classify (compacted in order) */
    long m = 0;
    c->labels = malloc((size_t)(n > 0 ? n : 1) * sizeof *c->labels);
    if (!c->labels) {
        free(cand);
        free(c);
        free(nvalid);
        free(data);
        return sv_error_set(err, SV_ERR_NOMEM, "light-curve source: out of memory");
    }
    for (long i = 0; i < n; i++) {
        if (nvalid[i] <= 0) {
            inf.n_no_detection++;
            continue;
        }
        if (m != i)
            memmove(data + (size_t)m * per, data + (size_t)i * per, per * sizeof(float));
        c->labels[m] = cmap[set->lc[cand[i]].label];
        m++;
    }
    free(cand);
    free(nvalid);
    if (m == 0) {
        lcs_close(c);
        free(data);
        return sv_error_set(err, SV_ERR_ARG, "%s: no labelled light curve with a detection "
                            "(%ld unlabelled, %ld without detection)", set->origin,
                            inf.n_unlabelled, inf.n_no_detection);
    }
    c->data = data;
    c->per = per;
    inf.n_used = m;
    src->n = m;
    src->h = src->w = 0;
    src->realbogus = 0;
    src->n_classes = k;
    for (int j = 0; j < k; j++)
        snprintf(src->classes[j], SV_LABEL_MAX, "%s",
                 opt.n_classes > 0 ? opt.classes[j] : set->classes[j]);
    src->labels = c->labels;
    src->rows = NULL;
    src->n_skipped = inf.n_unlabelled + inf.n_no_detection;
    snprintf(src->origin, sizeof src->origin, "%s", set->origin);
    snprintf(src->survey, sizeof src->survey, "%s", set->survey);
    src->fetch = lcs_fetch;
    src->close = lcs_close;
    src->ctx = c;
    src->n_inputs = sv_lcprep_meta_size(p) > 0 ? 2 : 1;
    src->input_size[0] = (long)seq;
    src->input_size[1] = sv_lcprep_meta_size(p);
    if (info)
        *info = inf;
    return 0;
}

/* ---- scoring ready inputs -------------------------------------------------------- */

typedef struct score_job {
    nn_net *net;
    nn_workspace *ws[64];
    sv_lc_infer *fast[64];   /* the fast path, or NULL: nn_forward        */
    const float *buf;   /* chunk of samples, per floats each */
    size_t per, sizes[4];
    int n_in;
    long count;         /* samples in the chunk */
    int batch, parts;
    float *in[64];      /* per part: batch x per split per input */
    float *out;         /* chunk outputs, k each */
    int k, last_step, out_per;
    int status[64];
    sv_error err[64];
} score_job;

static void score_task(int p, void *ctx)
{
    score_job *J = ctx;
    long a = (long)p * J->count / J->parts, b = (long)(p + 1) * J->count / J->parts;
    for (long s = a; s < b && !J->status[p]; s += J->batch) {
        int nb = (int)(b - s < J->batch ? b - s : J->batch);
        float *dst = J->in[p];
        const float *ptr[4];
        for (int j = 0; j < J->n_in; j++) {
            size_t off = 0;
            for (int q = 0; q < j; q++)
                off += J->sizes[q];
            for (int i = 0; i < nb; i++)
                memcpy(dst + (size_t)i * J->sizes[j], J->buf + (size_t)(s + i) * J->per + off,
                       J->sizes[j] * sizeof(float));
            ptr[j] = dst;
            dst += (size_t)J->batch * J->sizes[j];
        }
        const float *o;
        if (J->fast[p]) {
            o = sv_lc_infer_run(J->fast[p], nb, ptr, &J->err[p]);
            if (!o) {
                J->status[p] = J->err[p].status ? J->err[p].status : SV_ERR_INTERNAL;
                return;
            }
        } else {
            int st = nn_forward(J->ws[p], J->net, nb, ptr, 0, &J->err[p]);
            if (st) {
                J->status[p] = st;
                return;
            }
            o = nn_workspace_output(J->ws[p]);
        }
        for (int i = 0; i < nb; i++)
            memcpy(J->out + (size_t)(s + i) * J->k,
                   o + (size_t)i * J->out_per + (size_t)J->last_step * J->k,
                   (size_t)J->k * sizeof(float));
    }
}

int sv_source_score_direct(const sv_model *m, const sv_stamp_source *src, int threads,
                           int batch, float **scores, int *n_out, sv_error *err)
{
    if (!m || !m->net || !src || !scores)
        return sv_error_set(err, SV_ERR_ARG, "score: NULL argument");
    *scores = NULL;
    const nn_net *net = m->net;
    if (src->n_inputs < 1 || src->n_inputs > 4)
        return sv_error_set(err, SV_ERR_ARG, "%s: model '%s' is a %s model but the data holds "
                            "stamps", src->origin, m->name, sv_task_name(m->task));
    if (src->n_inputs != net->n_inputs)
        return sv_error_set(err, SV_ERR_SHAPE, "%s: %d inputs per sample but model '%s' takes "
                            "%d", src->origin, src->n_inputs, m->name, net->n_inputs);
    size_t per = 0, sizes[4];
    for (int j = 0; j < src->n_inputs; j++) {
        sizes[j] = (size_t)src->input_size[j];
        if (sizes[j] != net->layers[net->inputs[j]].out_size)
            return sv_error_set(err, SV_ERR_SHAPE, "%s: input %d has %zu values per sample but "
                                "model '%s' takes %zu", src->origin, j, sizes[j], m->name,
                                net->layers[net->inputs[j]].out_size);
        per += sizes[j];
    }
    const nn_layer *O = &net->layers[net->output];
    int k = O->shape[O->rank - 1];
    int last = 0;
    if (O->rank == 2) {
        if (m->task == SV_TASK_LIGHTCURVE && m->lc.mode != SV_LCMODE_NONE &&
            m->lc.align == SV_LCALIGN_START)
            return sv_error_set(err, SV_ERR_UNSUPPORTED, "model '%s' gives one output per time "
                                "step on start-aligned sequences: classify histories (stampvet "
                                "run --history) to read each at its last valid step", m->name);
        last = O->shape[0] - 1;
    }
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    if (batch < 1)
        batch = 64;
    long chunk = (long)threads * batch * 4;
    score_job *J = calloc(1, sizeof *J);
    float *out = malloc((size_t)(src->n > 0 ? src->n : 1) * k * sizeof(float));
    float *buf = malloc((size_t)chunk * per * sizeof(float));
    long *idx = malloc((size_t)chunk * sizeof *idx);
    int st = 0;
    if (!J || !out || !buf || !idx) {
        st = sv_error_set(err, SV_ERR_NOMEM, "score: out of memory");
        goto done;
    }
    J->net = (nn_net *)net; /* inference only reads it */
    J->per = per;
    J->n_in = src->n_inputs;
    memcpy(J->sizes, sizes, sizeof sizes);
    J->batch = batch;
    J->parts = threads;
    J->k = k;
    J->last_step = last;
    J->out_per = (int)O->out_size;
    for (int p = 0; p < threads; p++) {
        J->fast[p] = sv_lc_infer_new(net, batch, NULL);
        J->ws[p] = J->fast[p] ? NULL : nn_workspace_new(net, batch, 0, err);
        J->in[p] = malloc((size_t)batch * per * sizeof(float));
        if ((!J->fast[p] && !J->ws[p]) || !J->in[p]) {
            st = J->ws[p] ? sv_error_set(err, SV_ERR_NOMEM, "score: out of memory")
                          : (err && err->status ? err->status : SV_ERR_NOMEM);
            goto done;
        }
    }
    for (long first = 0; first < src->n; first += chunk) {
        long cnt = src->n - first < chunk ? src->n - first : chunk;
        for (long i = 0; i < cnt; i++)
            idx[i] = first + i;
        if ((st = sv_source_fetch(src, idx, (int)cnt, buf, err)))
            goto done;
        J->buf = buf;
        J->count = cnt;
        J->out = out + (size_t)first * k;
        for (int p = 0; p < threads; p++) {
            J->status[p] = 0;
            sv_error_clear(&J->err[p]);
        }
        sv_parallel_for(threads, threads, score_task, J);
        for (int p = 0; p < threads; p++)
            if (J->status[p]) {
                st = sv_error_set(err, J->status[p], "%s: %s", src->origin, J->err[p].text);
                goto done;
            }
    }
done:
    if (J)
        for (int p = 0; p < 64; p++) {
            nn_workspace_free(J->ws[p]);
            sv_lc_infer_free(J->fast[p]);
            free(J->in[p]);
        }
    free(J);
    free(buf);
    free(idx);
    if (st) {
        free(out);
        return st;
    }
    *scores = out;
    if (n_out)
        *n_out = k;
    return 0;
}

/* ---- classifying histories ------------------------------------------------------- */

struct sv_lc_scorer {
    const sv_model *m;
    nn_workspace *ws;        /* the reference engine, when fast is NULL    */
    sv_lc_infer *fast;
    int max_batch;
    int T, F, M, k, out_rank;
    float *seq, *meta;
    int *nv;
    int *slot;
};

sv_lc_scorer *sv_lc_scorer_new(const sv_model *m, int max_batch, sv_error *err)
{
    if (sv_lc_model_check(m, err))
        return NULL;
    if (max_batch < 1)
        max_batch = 64;
    sv_lc_scorer *s = calloc(1, sizeof *s);
    if (!s) {
        sv_error_set(err, SV_ERR_NOMEM, "light-curve scorer: out of memory");
        return NULL;
    }
    s->m = m;
    s->max_batch = max_batch;
    s->T = m->lc.n_steps;
    s->F = sv_lcprep_n_features(&m->lc);
    s->M = sv_lcprep_meta_size(&m->lc);
    s->k = m->n_classes;
    s->out_rank = m->net->layers[m->net->output].rank;
    s->fast = sv_lc_infer_new(m->net, max_batch, NULL);
    s->ws = s->fast ? NULL : nn_workspace_new(m->net, max_batch, 0, err);
    s->seq = malloc((size_t)max_batch * s->T * s->F * sizeof(float));
    s->meta = malloc((size_t)max_batch * (s->M > 0 ? s->M : 1) * sizeof(float));
    s->nv = malloc((size_t)max_batch * sizeof *s->nv);
    s->slot = malloc((size_t)max_batch * sizeof *s->slot);
    if ((!s->ws && !s->fast) || !s->seq || !s->meta || !s->nv || !s->slot) {
        if (s->ws || s->fast)
            sv_error_set(err, SV_ERR_NOMEM, "light-curve scorer: out of memory");
        sv_lc_scorer_free(s);
        return NULL;
    }
    return s;
}

void sv_lc_scorer_free(sv_lc_scorer *s)
{
    if (!s)
        return;
    nn_workspace_free(s->ws);
    sv_lc_infer_free(s->fast);
    free(s->seq);
    free(s->meta);
    free(s->nv);
    free(s->slot);
    free(s);
}

int sv_lc_scorer_run(sv_lc_scorer *s, const sv_lc_set *set, const long *idx, int n,
                     const double *t_now, float *prob, int *ok, sv_error *err)
{
    if (!s || !set || (n > 0 && (!idx || !prob || !ok)))
        return sv_error_set(err, SV_ERR_ARG, "light-curve scorer: NULL argument");
    const sv_lcprep *p = &s->m->lc;
    sv_lcprep_map map;
    int st = sv_lcprep_bind(p, set, &map, err);
    if (st)
        return st;
    size_t TF = (size_t)s->T * s->F;
    for (int first = 0; first < n; first += s->max_batch) {
        int cnt = n - first < s->max_batch ? n - first : s->max_batch;
        int b = 0;
        for (int i = 0; i < cnt; i++) {
            long c = idx[first + i];
            float *pr = prob + (size_t)(first + i) * s->k;
            ok[first + i] = 0;
            for (int j = 0; j < s->k; j++)
                pr[j] = NAN;
            if (c < 0 || c >= set->n)
                return sv_error_set(err, SV_ERR_ARG, "light-curve scorer: candidate %ld outside "
                                    "0..%ld", c, set->n - 1);
            const sv_lc *L = &set->lc[c];
            double tn = t_now && isfinite(t_now[first + i]) ? t_now[first + i] : L->t_alert;
            if ((st = sv_lcprep_apply(p, &map, L, tn, s->seq + (size_t)b * TF,
                                      s->M > 0 ? s->meta + (size_t)b * s->M : NULL, &s->nv[b],
                                      err)))
                return st;
            if (s->nv[b] <= 0)
                continue; /* no detection: flagged by the caller, not guessed */
            s->slot[b] = first + i;
            b++;
        }
        if (b == 0)
            continue;
        const float *in[2] = {s->seq, s->meta};
        const float *o;
        if (s->fast) {
            if (!(o = sv_lc_infer_run(s->fast, b, in, err)))
                return err && err->status ? err->status : SV_ERR_INTERNAL;
        } else {
            if ((st = nn_forward(s->ws, s->m->net, b, in, 0, err)))
                return st;
            o = nn_workspace_output(s->ws);
        }
        size_t out_per = s->m->net->layers[s->m->net->output].out_size;
        for (int i = 0; i < b; i++) {
            int step = 0;
            if (s->out_rank == 2)
                step = p->align == SV_LCALIGN_END ? s->T - 1 : s->nv[i] - 1;
            memcpy(prob + (size_t)s->slot[i] * s->k, o + (size_t)i * out_per + (size_t)step * s->k,
                   (size_t)s->k * sizeof(float));
            ok[s->slot[i]] = 1;
        }
    }
    return 0;
}
