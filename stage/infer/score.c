/* score.c — see score.h. */
#include "infer/score.h"

#include <stdlib.h>
#include <string.h>

#include "nn/fast/nn_plan.h"
#include "model/preprocess.h"

#define SCORE_BATCH_MAX (1 << 20)

struct sv_scorer {
    const sv_model *m;
    nn_plan *plan;      /* the network, compiled (nn_plan.h)          */
    int max_batch;
    int threads;        /* threads of nn_plan_run                     */
    size_t in_size;     /* network stamp input per triplet            */
    int n_out;
    float *in0;         /* max_batch * in_size                        */
    float *in1;         /* max_batch * n_features                     */
    float *scratch;     /* preprocessing scratch of sv_scorer_run     */
    size_t scratch_cap; /* floats                                     */
};

sv_scorer *sv_scorer_new_threads(const sv_model *m, int max_batch, int threads, sv_error *err)
{
    if (!m || !m->net || !m->net->finalized) {
        sv_error_set(err, SV_ERR_ARG, "scorer: no model with a finalised network");
        return NULL;
    }
    if (m->task == SV_TASK_LIGHTCURVE) {
        sv_error_set(err, SV_ERR_ARG, "model '%s': a light-curve model does not score stamps",
                     m->name);
        return NULL;
    }
    if (sv_model_validate(m, err))
        return NULL;
    if (max_batch <= 0)
        max_batch = 64;
    if (max_batch > SCORE_BATCH_MAX) {
        sv_error_set(err, SV_ERR_ARG, "scorer: batch %d exceeds %d", max_batch,
                     SCORE_BATCH_MAX);
        return NULL;
    }
    if (threads < 1 || threads > SV_SCORER_THREADS_MAX) {
        sv_error_set(err, SV_ERR_ARG, "scorer: %d threads (1..%d)", threads,
                     SV_SCORER_THREADS_MAX);
        return NULL;
    }
    sv_scorer *s = calloc(1, sizeof *s);
    if (!s) {
        sv_error_set(err, SV_ERR_NOMEM, "scorer: out of memory");
        return NULL;
    }
    s->m = m;
    s->max_batch = max_batch;
    s->threads = threads;
    s->in_size = (size_t)m->pre.out_h * (size_t)m->pre.out_w * (size_t)m->pre.n_channels;
    s->in0 = malloc((size_t)max_batch * s->in_size * sizeof(float));
    s->in1 = m->n_features > 0 ? malloc((size_t)max_batch * (size_t)m->n_features * sizeof(float))
                               : NULL;
    if (!s->in0 || (m->n_features > 0 && !s->in1)) {
        sv_error_set(err, SV_ERR_NOMEM, "scorer: out of memory");
        sv_scorer_free(s);
        return NULL;
    }
    s->plan = nn_plan_new(m->net, max_batch, err);
    if (!s->plan) {
        sv_error_prefix(err, "model '%s': ", m->name);
        sv_scorer_free(s);
        return NULL;
    }
    s->n_out = (int)nn_plan_out_size(s->plan);
    return s;
}

sv_scorer *sv_scorer_new(const sv_model *m, int max_batch, sv_error *err)
{
    return sv_scorer_new_threads(m, max_batch, 1, err);
}

void sv_scorer_free(sv_scorer *s)
{
    if (!s)
        return;
    nn_plan_free(s->plan);
    free(s->in0);
    free(s->in1);
    free(s->scratch);
    free(s);
}

int sv_scorer_n_outputs(const sv_scorer *s) { return s->n_out; }
int sv_scorer_max_batch(const sv_scorer *s) { return s->max_batch; }
int sv_scorer_threads(const sv_scorer *s) { return s->threads; }
const char *sv_scorer_isa(const sv_scorer *s) { return nn_plan_isa(s->plan); }

void sv_scorer_release_threads(sv_scorer *s)
{
    if (s)
        nn_plan_release_threads(s->plan);
}

int sv_scorer_prepare(sv_scorer *s, int slot, const sv_triplet *t, const float *features,
                      float *scratch, int *n_bad)
{
    const sv_model *m = s->m;
    if (slot < 0 || slot >= s->max_batch || !t || !scratch)
        return SV_ERR_ARG;
    if (t->h < 1 || t->w < 1 || t->h > SV_STAMP_DIM_MAX || t->w > SV_STAMP_DIM_MAX)
        return SV_ERR_SHAPE;
    for (int c = 0; c < m->pre.n_channels; c++)
        if (!t->chan[m->pre.channel[c]])
            return SV_ERR_ARG;
    if (m->n_features > 0 && !features)
        return SV_ERR_ARG;
    int bad = 0;
    int st = sv_preprocess_triplet(&m->pre, t->chan, t->h, t->w,
                                   s->in0 + (size_t)slot * s->in_size, scratch, &bad);
    if (st)
        return st;
    if (n_bad)
        *n_bad = bad;
    if (m->n_features > 0)
        memcpy(s->in1 + (size_t)slot * m->n_features, features,
               (size_t)m->n_features * sizeof(float));
    return SV_OK;
}

int sv_scorer_infer(sv_scorer *s, int n, float *out, sv_error *err)
{
    if (n < 1 || n > s->max_batch || !out)
        return sv_error_set(err, SV_ERR_ARG, "scorer: %d triplets to infer (1..%d)", n,
                            s->max_batch);
    const float *inputs[2] = {s->in0, s->in1};
    return nn_plan_run(s->plan, n, inputs, out, s->threads, err);
}

int sv_scorer_run(sv_scorer *s, int n, const sv_triplet *t, const float *features, float *out,
                  int *n_bad, sv_error *err)
{
    const sv_model *m = s->m;
    if (n < 0 || (n > 0 && (!t || !out)))
        return sv_error_set(err, SV_ERR_ARG, "scorer: invalid arguments");
    if (m->n_features > 0 && n > 0 && !features)
        return sv_error_set(err, SV_ERR_ARG, "model '%s' needs %d features per triplet, none "
                            "given", m->name, m->n_features);
    for (int done = 0; done < n;) {
        int b = n - done < s->max_batch ? n - done : s->max_batch;
        for (int i = 0; i < b; i++) {
            const sv_triplet *tr = &t[done + i];
            if (tr->h < 1 || tr->w < 1 || tr->h > SV_STAMP_DIM_MAX || tr->w > SV_STAMP_DIM_MAX)
                return sv_error_set(err, SV_ERR_SHAPE, "triplet %d: stamp of %dx%d pixels",
                                    done + i, tr->w, tr->h);
            for (int c = 0; c < m->pre.n_channels; c++)
                if (!tr->chan[m->pre.channel[c]])
                    return sv_error_set(err, SV_ERR_ARG, "triplet %d: channel %d missing",
                                        done + i, (int)m->pre.channel[c]);
            size_t need = (size_t)tr->h * (size_t)tr->w;
            if (need > s->scratch_cap) {
                float *ns = realloc(s->scratch, need * sizeof *ns);
                if (!ns)
                    return sv_error_set(err, SV_ERR_NOMEM, "scorer: out of memory");
                s->scratch = ns;
                s->scratch_cap = need;
            }
            int bad = 0;
            int st = sv_scorer_prepare(s, i, tr,
                                       m->n_features > 0
                                           ? features + (size_t)(done + i) * m->n_features
                                           : NULL,
                                       s->scratch, &bad);
            if (st)
                return sv_error_set(err, st, "triplet %d: preprocessing failed (%s)", done + i,
                                    sv_status_name(st));
            if (n_bad)
                n_bad[done + i] = bad;
        }
        if (sv_scorer_infer(s, b, out + (size_t)done * s->n_out, err))
            return sv_error_prefix(err, "model '%s', triplets %d..%d: ", m->name, done,
                                   done + b - 1);
        done += b;
    }
    return 0;
}
