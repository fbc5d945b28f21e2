/* train.c — the training loop.  See train.h. */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "nn/fast/nn_train.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "model/preprocess.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

sv_train_config sv_train_defaults(void)
{
    sv_train_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 30;
    c.batch = 64;
    c.opt = nn_opt_defaults(NN_OPT_ADAM);
    c.opt.lr = 1e-3f;
    c.val_fraction = 0.1;
    c.patience = 5;
    c.min_delta = 0.0;
    c.augment = 1;
    c.class_weight = SV_CW_BALANCED;
    c.seed = 1;
    c.threads = 1;
    c.slices = 4;
    return c;
}

void sv_dihedral(const float *in, float *out, int h, int w, int t)
{
    int tr = (t & 4) && h == w, fy = t & 2, fx = t & 1;
    for (int u = 0; u < h; u++)
        for (int v = 0; v < w; v++) {
            int a = tr ? v : u, b = tr ? u : v;
            if (fy)
                a = h - 1 - a;
            if (fx)
                b = w - 1 - b;
            out[(size_t)u * w + v] = in[(size_t)a * w + b];
        }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the trainer ------------------------------------------------------------ */

typedef struct slice_ctx {
    nn_workspace *ws;     /* the reference engine, or NULL                  */
    nn_tws *fast;         /* the fast path (nn_train.h), or NULL            */
    nn_net *net;          /* the master net, or a private clone (BN)        */
    float *x;             /* slice_cap * in_size network input              */
    float *y;             /* slice_cap * n_out targets                      */
    float *g;             /* slice_cap * n_out dLoss/dOutput                */
    float *tmp;           /* 3 * h * w transformed raw triplet              */
    float *scratch;       /* h * w preprocessing scratch                    */
    double loss_sum;      /* sum over samples of the weighted loss          */
    long correct, count;
    int status;
    sv_error err;
} slice_ctx;

typedef struct trainer {
    sv_model *m;
    nn_net *net;
    int n_out;            /* network outputs (1 for real/bogus)             */
    int k;                /* label values                                   */
    int h, w;
    size_t in_size, raw_per;
    int direct;           /* ready network inputs (dataset.h n_inputs)      */
    int n_in;
    size_t in_sizes[4];
    int S, slice_cap;
    slice_ctx *sl;
    float cw[SV_MAX_CLASSES];
    int bn;               /* training BatchNormalization present            */
    nn_tplan *tp;         /* the fast path, when it covers the network      */
    nn_tws **fws;         /* fast path: the slices' workspaces, in order    */
    /* the current job */
    int training;
    const float *raw;
    const int *lab;
    const unsigned char *aug;
    int batch;
} trainer;

static void slice_range(const trainer *T, int s, int *start, int *n)
{
    long a = (long)s * T->batch / T->S, b = (long)(s + 1) * T->batch / T->S;
    *start = (int)a;
    *n = (int)(b - a);
}

static void slice_task(int s, void *ctx)
{
    trainer *T = ctx;
    slice_ctx *c = &T->sl[s];
    int start, n;
    slice_range(T, s, &start, &n);
    if (T->training) {
        if (c->fast)
            nn_tws_zero_grads(c->fast);
        else
            nn_workspace_zero_grads(c->ws);
    }
    if (n <= 0 || c->status)
        return;
    size_t hw = (size_t)T->h * T->w;
    for (int i = 0; i < n && T->direct; i++) { /* ready inputs: split per input */
        const float *r = T->raw + (size_t)(start + i) * T->raw_per;
        float *dst = c->x;
        for (int j = 0; j < T->n_in; j++) {
            memcpy(dst + (size_t)i * T->in_sizes[j], r, T->in_sizes[j] * sizeof(float));
            r += T->in_sizes[j];
            dst += (size_t)T->slice_cap * T->in_sizes[j];
        }
        int y = T->lab[start + i];
        for (int j = 0; j < T->n_out; j++)
            c->y[(size_t)i * T->n_out + j] = j == y ? 1.0f : 0.0f;
    }
    for (int i = 0; i < n && !T->direct; i++) {
        const float *r = T->raw + (size_t)(start + i) * T->raw_per;
        const float *src = r;
        int t = T->aug ? T->aug[start + i] : 0;
        if (t) {
            for (int p = 0; p < 3; p++)
                sv_dihedral(r + p * hw, c->tmp + p * hw, T->h, T->w, t);
            src = c->tmp;
        }
        const float *chan[3] = {src, src + hw, src + 2 * hw};
        if (sv_preprocess_triplet(&T->m->pre, chan, T->h, T->w, c->x + (size_t)i * T->in_size,
                                  c->scratch, NULL)) {
            c->status = sv_error_set(&c->err, SV_ERR_ARG,
                                     "preprocessing failed for a %dx%d stamp", T->h, T->w);
            return;
        }
        int y = T->lab[start + i];
        if (T->n_out == 1) {
            c->y[i] = (float)y;
        } else {
            for (int j = 0; j < T->n_out; j++)
                c->y[(size_t)i * T->n_out + j] = j == y ? 1.0f : 0.0f;
        }
    }
    const float *in[4] = {c->x, NULL, NULL, NULL};
    for (int j = 1; T->direct && j < T->n_in; j++)
        in[j] = in[j - 1] + (size_t)T->slice_cap * T->in_sizes[j - 1];
    int st = c->fast ? nn_tws_forward(c->fast, n, c->x, T->training, &c->err)
                     : nn_forward(c->ws, c->net, n, in, T->training, &c->err);
    if (st) {
        c->status = st;
        return;
    }
    const float *p = c->fast ? nn_tws_output(c->fast) : nn_workspace_output(c->ws);
    float loss;
    float *g = T->training ? c->g : NULL;
    if (T->n_out == 1)
        loss = nn_loss_bce(p, c->y, n, 1, T->cw, g);
    else
        loss = nn_loss_cce(p, c->y, n, T->n_out, T->cw, g);
    c->loss_sum += (double)loss * n;
    c->count += n;
    for (int i = 0; i < n; i++) {
        int pred;
        if (T->n_out == 1) {
            pred = p[i] >= 0.5f;
        } else {
            const float *q = p + (size_t)i * T->n_out;
            pred = 0;
            for (int j = 1; j < T->n_out; j++)
                if (q[j] > q[pred])
                    pred = j;
        }
        c->correct += pred == T->lab[start + i];
    }
    if (T->training) {
        /* the loss averaged over the slice; the step wants the minibatch mean */
        float scale = (float)n / (float)T->batch;
        for (size_t i = 0; i < (size_t)n * T->n_out; i++)
            g[i] *= scale;
        st = c->fast ? nn_tws_backward(c->fast, g, &c->err)
                     : nn_backward(c->ws, c->net, g, NULL, &c->err);
        if (st)
            c->status = st;
    }
}

static void trainer_free(trainer *T)
{
    if (!T->sl)
        return;
    for (int s = 0; s < T->S; s++) {
        slice_ctx *c = &T->sl[s];
        nn_workspace_free(c->ws);
        nn_tws_free(c->fast);
        if (c->net && c->net != T->net)
            nn_net_free(c->net);
        free(c->x);
        free(c->y);
        free(c->g);
        free(c->tmp);
        free(c->scratch);
    }
    free(T->sl);
    T->sl = NULL;
    nn_tplan_free(T->tp);
    T->tp = NULL;
    free(T->fws);
}

static int has_training_bn(const nn_net *net)
{
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == NN_BATCHNORM && net->layers[i].trainable)
            return 1;
    return 0;
}

static int trainer_init(trainer *T, sv_model *m, const sv_stamp_source *src, int k, int S,
                        int batch, nn_isa isa, sv_error *err)
{
    int h = src->h, w = src->w;
    memset(T, 0, sizeof *T);
    T->m = m;
    T->net = m->net;
    T->n_out = (int)m->net->layers[m->net->output].out_size;
    T->k = k;
    T->h = h;
    T->w = w;
    T->in_size = m->net->layers[m->net->inputs[0]].out_size;
    T->raw_per = (size_t)3 * h * w;
    if (src->n_inputs > 0) { /* ready inputs: sizes checked by sv_train */
        T->direct = 1;
        T->n_in = src->n_inputs;
        T->raw_per = T->in_size = 0;
        for (int j = 0; j < src->n_inputs; j++) {
            T->in_sizes[j] = (size_t)src->input_size[j];
            T->raw_per += T->in_sizes[j];
        }
        T->in_size = T->raw_per;
        h = w = 1; /* unused stamp buffers stay tiny */
    }
    T->S = S;
    T->slice_cap = (batch + S - 1) / S;
    T->bn = has_training_bn(m->net);
    T->sl = calloc((size_t)S, sizeof *T->sl);
    if (!T->sl)
        return sv_error_set(err, SV_ERR_NOMEM, "training: out of memory");
    if (!T->bn && isa != NN_ISA_REFERENCE) { /* the fast path, unless it does not cover
                                                 the network */
        sv_error e;
        sv_error_clear(&e);
        T->tp = nn_tplan_new(m->net, isa, 0, &e);
        if (!T->tp && e.status != SV_ERR_UNSUPPORTED) {
            trainer_free(T);
            return sv_error_set(err, e.status ? e.status : SV_ERR_NOMEM, "training: %s",
                                e.text);
        }
        if (T->tp && !(T->fws = calloc((size_t)S, sizeof *T->fws))) {
            trainer_free(T);
            return sv_error_set(err, SV_ERR_NOMEM, "training: out of memory");
        }
    }
    size_t hw = (size_t)h * w;
    for (int s = 0; s < S; s++) {
        slice_ctx *c = &T->sl[s];
        sv_error_clear(&c->err);
        c->net = T->net;
        if (T->bn && S > 1) {
            c->net = nn_net_clone(T->net);
            if (!c->net) {
                trainer_free(T);
                return sv_error_set(err, SV_ERR_NOMEM, "training: out of memory (net copy)");
            }
        }
        if (T->tp)
            T->fws[s] = c->fast = nn_tws_new(T->tp, T->slice_cap, err);
        else
            c->ws = nn_workspace_new(T->net, T->slice_cap, 1, err);
        c->x = malloc((size_t)T->slice_cap * T->in_size * sizeof(float));
        c->y = malloc((size_t)T->slice_cap * T->n_out * sizeof(float));
        c->g = malloc((size_t)T->slice_cap * T->n_out * sizeof(float));
        c->tmp = malloc(3 * hw * sizeof(float));
        c->scratch = malloc(hw * sizeof(float));
        if ((!c->ws && !c->fast) || !c->x || !c->y || !c->g || !c->tmp || !c->scratch) {
            int st = (c->ws || c->fast) ? sv_error_set(err, SV_ERR_NOMEM, "training: out of memory")
                           : (err ? err->status : SV_ERR_NOMEM);
            trainer_free(T);
            return st ? st : SV_ERR_NOMEM;
        }
    }
    return 0;
}

/* Copy every parameter (trainable and not) of src into dst (same shape). */
static void copy_params(nn_net *dst, const nn_net *src)
{
    for (int i = 0; i < src->n_layers; i++)
        for (int j = 0; j < src->layers[i].n_params; j++)
            memcpy(dst->layers[i].p[j].w, src->layers[i].p[j].w,
                   src->layers[i].p[j].size * sizeof(float));
}

/* BN with per-slice nets: master moving statistics = mean of the slices'
 * (those that ran), in slice order. */
static void bn_average_moving(trainer *T)
{
    nn_net *M = T->net;
    int used = 0;
    for (int s = 0; s < T->S; s++) {
        int a0, ns;
        slice_range(T, s, &a0, &ns);
        used += ns > 0;
    }
    if (used == 0)
        return;
    for (int i = 0; i < M->n_layers; i++) {
        nn_layer *L = &M->layers[i];
        if (L->kind != NN_BATCHNORM)
            continue;
        for (int j = 0; j < L->n_params; j++) {
            if (L->p[j].trainable)
                continue;
            for (size_t e = 0; e < L->p[j].size; e++) {
                double acc = 0;
                for (int s = 0; s < T->S; s++) {
                    int a0, ns;
                    slice_range(T, s, &a0, &ns);
                    if (ns > 0)
                        acc += T->sl[s].net->layers[i].p[j].w[e];
                }
                L->p[j].w[e] = (float)(acc / used);
            }
        }
    }
}

static int run_job(trainer *T, int threads, sv_error *err)
{
    for (int s = 0; s < T->S; s++) {
        T->sl[s].status = 0;
        sv_error_clear(&T->sl[s].err);
    }
    sv_parallel_for(threads, T->S, slice_task, T);
    for (int s = 0; s < T->S; s++)
        if (T->sl[s].status)
            return sv_error_set(err, T->sl[s].status, "%s", T->sl[s].err.text);
    return 0;
}

/* Snapshot of all parameters, for restoring the best epoch. */
static float *snapshot_new(const nn_net *net)
{
    size_t n = nn_net_count_params(net, 0);
    return malloc((n ? n : 1) * sizeof(float));
}

static void snapshot_take(float *buf, const nn_net *net)
{
    size_t o = 0;
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++) {
            const nn_param *p = &net->layers[i].p[j];
            memcpy(buf + o, p->w, p->size * sizeof(float));
            o += p->size;
        }
}

static void snapshot_restore(const float *buf, nn_net *net)
{
    size_t o = 0;
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++) {
            nn_param *p = &net->layers[i].p[j];
            memcpy(p->w, buf + o, p->size * sizeof(float));
            o += p->size;
        }
}

static int check_model_source(const sv_model *m, const sv_stamp_source *src, const char *what,
                              sv_error *err)
{
    const nn_net *net = m->net;
    int n_out = (int)net->layers[net->output].out_size;
    if (m->task == SV_TASK_REALBOGUS) {
        if (!src->realbogus)
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: model '%s' is real/bogus but the %s data has %d classes "
                                "(%s, ...), not real/bogus labels",
                                src->origin, m->name, what, src->n_classes, src->classes[0]);
        if (n_out != 1)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "model '%s': a real/bogus network needs one output, not %d",
                                m->name, n_out);
    } else if (m->task == SV_TASK_CLASS || (m->task == SV_TASK_LIGHTCURVE && src->n_inputs > 0)) {
        if (src->realbogus || src->n_classes != m->n_classes)
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: model '%s' has %d classes but the %s data has %d%s",
                                src->origin, m->name, m->n_classes, what, src->n_classes,
                                src->realbogus ? " (real/bogus labels)" : "");
        for (int c = 0; c < m->n_classes; c++)
            if (strcmp(m->classes[c], src->classes[c]))
                return sv_error_set(err, SV_ERR_ARG,
                                    "%s: class %d is '%s' in the %s data but '%s' in model "
                                    "'%s'",
                                    src->origin, c, src->classes[c], what, m->classes[c],
                                    m->name);
        if (n_out != m->n_classes || m->multilabel)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "model '%s': training needs one softmax over the %d classes "
                                "(the network gives %d outputs%s)",
                                m->name, m->n_classes, n_out,
                                m->multilabel ? ", multi-label" : "");
    } else {
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "model '%s': training a %s model from stamps is not supported",
                            m->name, sv_task_name(m->task));
    }
    /* ready inputs (light curves) must match the network's inputs; stamps
     * need a stamp model */
    if ((src->n_inputs > 0) != (m->task == SV_TASK_LIGHTCURVE))
        return sv_error_set(err, SV_ERR_ARG, "%s: model '%s' is a %s model but the %s data %s",
                            src->origin, m->name, sv_task_name(m->task), what,
                            src->n_inputs > 0 ? "holds prepared light curves, not stamps"
                                              : "holds stamps");
    if (src->n_inputs > 0) {
        if (src->n_inputs != net->n_inputs || src->n_inputs > 4)
            return sv_error_set(err, SV_ERR_SHAPE, "%s: %d inputs per sample but model '%s' "
                                "takes %d", src->origin, src->n_inputs, m->name, net->n_inputs);
        for (int j = 0; j < src->n_inputs; j++)
            if ((size_t)src->input_size[j] != net->layers[net->inputs[j]].out_size)
                return sv_error_set(err, SV_ERR_SHAPE, "%s: input %d has %ld values per sample "
                                    "but model '%s' takes %zu", src->origin, j,
                                    src->input_size[j], m->name,
                                    net->layers[net->inputs[j]].out_size);
        if (n_out != m->n_classes || m->multilabel)
            return sv_error_set(err, SV_ERR_SHAPE, "model '%s': training needs one softmax "
                                "over the %d classes per sample (the network gives %d outputs)",
                                m->name, m->n_classes, n_out);
    }
    return 0;
}

int sv_train(sv_model *m, const sv_stamp_source *src, const sv_train_config *cfg_in,
             sv_train_result *res_out, sv_error *err)
{
    if (!m || !m->net || !src)
        return sv_error_set(err, SV_ERR_ARG, "train: NULL model or data");
    sv_train_config cfg = cfg_in ? *cfg_in : sv_train_defaults();
    int st = sv_model_validate(m, err);
    if (st)
        return st;
    if ((m->net->n_inputs != 1 || m->n_features > 0) && src->n_inputs == 0)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "model '%s': training a network with a feature input is not "
                            "supported",
                            m->name);
    if ((st = check_model_source(m, src, "training", err)))
        return st;
    if (cfg.val_source && (st = check_model_source(m, cfg.val_source, "validation", err)))
        return st;
    if (cfg.val_source && (cfg.val_source->h != src->h || cfg.val_source->w != src->w ||
                           cfg.val_source->n_inputs != src->n_inputs))
        return sv_error_set(err, SV_ERR_SHAPE,
                            "%s: validation stamps are %dx%d but training stamps %dx%d",
                            cfg.val_source->origin, cfg.val_source->h, cfg.val_source->w,
                            src->h, src->w);
    if (cfg.epochs < 1 || cfg.epochs > SV_TRAIN_MAX_EPOCHS)
        return sv_error_set(err, SV_ERR_ARG, "train: epochs %d not in 1..%d", cfg.epochs,
                            SV_TRAIN_MAX_EPOCHS);
    if (cfg.batch < 1 || cfg.batch > 65536)
        return sv_error_set(err, SV_ERR_ARG, "train: batch %d not in 1..65536", cfg.batch);
    if (cfg.slices < 1 || cfg.slices > 64)
        return sv_error_set(err, SV_ERR_ARG, "train: slices %d not in 1..64", cfg.slices);
    if (!(cfg.val_fraction >= 0 && cfg.val_fraction < 1))
        return sv_error_set(err, SV_ERR_ARG, "train: validation fraction %g not in [0, 1)",
                            cfg.val_fraction);
    if (cfg.patience < 0)
        return sv_error_set(err, SV_ERR_ARG, "train: negative patience");
    if (cfg.threads < 1)
        cfg.threads = 1;
    if ((src->n_inputs == 0 && (src->h < 1 || src->w < 1)) || src->n < 1)
        return sv_error_set(err, SV_ERR_ARG, "%s: no stamps", src->origin);

    int k = src->n_classes;
    long n = src->n;
    if (k < 2 || k > SV_MAX_CLASSES)
        return sv_error_set(err, SV_ERR_ARG, "%s: %d label values (2..%d)", src->origin, k,
                            SV_MAX_CLASSES);
    for (long i = 0; i < n; i++)
        if (src->labels[i] < 0 || src->labels[i] >= k)
            return sv_error_set(err, SV_ERR_ARG, "%s: sample %ld has label %d, outside 0..%d",
                                src->origin, i, src->labels[i], k - 1);
    if (cfg.val_source)
        for (long i = 0; i < cfg.val_source->n; i++)
            if (cfg.val_source->labels[i] < 0 || cfg.val_source->labels[i] >= k)
                return sv_error_set(err, SV_ERR_ARG,
                                    "%s: sample %ld has label %d, outside 0..%d",
                                    cfg.val_source->origin, i, cfg.val_source->labels[i], k - 1);
    long *tr_idx = malloc((size_t)n * sizeof *tr_idx), *va_idx = NULL;
    long ntr = 0, nva = 0;
    if (!tr_idx)
        return sv_error_set(err, SV_ERR_NOMEM, "train: out of memory");
    if (cfg.val_source) {
        for (long i = 0; i < n; i++)
            tr_idx[i] = i;
        ntr = n;
        nva = cfg.val_source->n;
        va_idx = malloc((size_t)(nva > 0 ? nva : 1) * sizeof *va_idx);
        if (va_idx)
            for (long i = 0; i < nva; i++)
                va_idx[i] = i;
    } else {
        va_idx = malloc((size_t)n * sizeof *va_idx);
        if (va_idx)
            sv_split_stratified(src->labels, n, k, cfg.val_fraction,
                                sv_seed_mix(cfg.seed, 0x5b117ULL, 0, 0), tr_idx, &ntr, va_idx,
                                &nva);
    }
    const sv_stamp_source *vsrc = cfg.val_source ? cfg.val_source : src;

    trainer T;
    memset(&T, 0, sizeof T);
    float *raw = NULL, *best = NULL;
    int *lab = NULL;
    unsigned char *aug = NULL;
    long *perm = NULL;
    nn_optimizer *opt = NULL;
    sv_train_result *res = calloc(1, sizeof *res);
    if (!va_idx || !res) {
        st = sv_error_set(err, SV_ERR_NOMEM, "train: out of memory");
        goto done;
    }
    if (ntr < 1) {
        st = sv_error_set(err, SV_ERR_ARG, "%s: no training samples left after the split",
                          src->origin);
        goto done;
    }

    /* class weights over the training samples */
    long cnt[SV_MAX_CLASSES] = {0};
    for (long i = 0; i < ntr; i++)
        cnt[src->labels[tr_idx[i]]]++;
    res->n_weights = k;
    for (int c = 0; c < k; c++) {
        float wgt = 1.0f;
        if (cfg.class_weight == SV_CW_BALANCED)
            wgt = cnt[c] ? (float)((double)ntr / ((double)k * (double)cnt[c])) : 0.0f;
        else if (cfg.class_weight == SV_CW_CUSTOM)
            wgt = cfg.custom_weight[c];
        if (!(wgt >= 0) || !isfinite(wgt)) {
            st = sv_error_set(err, SV_ERR_ARG, "train: class weight %g for '%s'", (double)wgt,
                              src->classes[c]);
            goto done;
        }
        res->class_weight[c] = wgt;
    }

    st = trainer_init(&T, m, src, k, cfg.slices, cfg.batch, cfg.isa, err);
    if (st)
        goto done;
    memcpy(T.cw, res->class_weight, sizeof T.cw);

    raw = malloc((size_t)cfg.batch * T.raw_per * sizeof(float));
    lab = malloc((size_t)cfg.batch * sizeof *lab);
    aug = malloc((size_t)cfg.batch);
    perm = malloc((size_t)ntr * sizeof *perm);
    best = snapshot_new(m->net);
    if (!raw || !lab || !aug || !perm || !best) {
        st = sv_error_set(err, SV_ERR_NOMEM, "train: out of memory for a batch of %d",
                          cfg.batch);
        goto done;
    }
    opt = nn_optimizer_new(m->net, &cfg.opt, err);
    if (!opt) {
        st = err ? err->status : SV_ERR_NOMEM;
        if (!st)
            st = SV_ERR_NOMEM;
        goto done;
    }
    if (cfg.layer_lr_scale)
        for (int i = 0; i < m->net->n_layers; i++)
            nn_optimizer_set_layer_lr_scale(opt, i, cfg.layer_lr_scale[i]);

    res->n_train = ntr;
    res->n_val = nva;
    res->best_val_loss = NAN;
    res->best_val_accuracy = NAN;
    res->best_epoch = 0;
    snapshot_take(best, m->net);
    double t_start = now_s(), train_time = 0;
    long train_samples = 0;
    int wait = 0;
    int square = src->h == src->w;

    for (int epoch = 1; epoch <= cfg.epochs; epoch++) {
        double t0 = now_s();
        memcpy(perm, tr_idx, (size_t)ntr * sizeof *perm);
        sv_rng rs = {sv_seed_mix(cfg.seed, 1, (uint64_t)epoch, 0)};
        sv_shuffle(&rs, perm, ntr);
        for (int s = 0; s < T.S; s++) {
            T.sl[s].loss_sum = 0;
            T.sl[s].correct = T.sl[s].count = 0;
        }
        long steps = (ntr + cfg.batch - 1) / cfg.batch;
        for (long step = 0; step < steps; step++) {
            long first = step * cfg.batch;
            int b = (int)(ntr - first < cfg.batch ? ntr - first : cfg.batch);
            if ((st = sv_source_fetch(src, perm + first, b, raw, err)))
                goto done;
            sv_rng ra = {sv_seed_mix(cfg.seed, 2, (uint64_t)epoch, (uint64_t)step)};
            for (int i = 0; i < b; i++) {
                lab[i] = src->labels[perm[first + i]];
                aug[i] = cfg.augment && !T.direct
                             ? (unsigned char)sv_rng_below(&ra, square ? 8 : 4)
                             : 0;
            }
            for (int s = 0; s < T.S; s++) {
                uint64_t seed = sv_seed_mix(cfg.seed, 3, (uint64_t)epoch * 1000003ULL +
                                                             (uint64_t)step,
                                            (uint64_t)s);
                nn_workspace_seed(T.sl[s].ws, seed);
                nn_tws_seed(T.sl[s].fast, seed);
                if (T.sl[s].net != T.net)
                    copy_params(T.sl[s].net, T.net);
            }
            T.training = 1;
            T.raw = raw;
            T.lab = lab;
            T.aug = aug;
            T.batch = b;
            if ((st = run_job(&T, cfg.threads, err)))
                goto done;
            if (T.tp) { /* slices summed in slice order, then one step, over threads */
                nn_tplan_update(T.tp, T.fws, T.S, opt, m->net,
                                cfg.threads < T.S ? cfg.threads : T.S);
            } else {
                for (int s = 1; s < T.S; s++)
                    nn_workspace_add_grads(T.sl[0].ws, T.sl[s].ws);
                nn_optimizer_step(opt, m->net, T.sl[0].ws, 1.0f);
            }
            if (T.sl[0].net != T.net)
                bn_average_moving(&T);
        }
        double loss_sum = 0;
        long correct = 0, count = 0;
        for (int s = 0; s < T.S; s++) {
            loss_sum += T.sl[s].loss_sum;
            correct += T.sl[s].correct;
            count += T.sl[s].count;
        }
        double t_train = now_s() - t0;
        train_time += t_train;
        train_samples += count;

        sv_epoch_stats e;
        memset(&e, 0, sizeof e);
        e.epoch = epoch;
        e.loss = count ? loss_sum / count : NAN;
        e.accuracy = count ? (double)correct / count : NAN;
        e.val_loss = e.val_accuracy = NAN;
        e.stamps_per_s = t_train > 0 ? count / t_train : 0;

        if (nva > 0) {
            for (int s = 0; s < T.S; s++) {
                T.sl[s].loss_sum = 0;
                T.sl[s].correct = T.sl[s].count = 0;
            }
            for (long first = 0; first < nva; first += cfg.batch) {
                int b = (int)(nva - first < cfg.batch ? nva - first : cfg.batch);
                if ((st = sv_source_fetch(vsrc, va_idx + first, b, raw, err)))
                    goto done;
                for (int i = 0; i < b; i++)
                    lab[i] = vsrc->labels[va_idx[first + i]];
                T.training = 0;
                T.raw = raw;
                T.lab = lab;
                T.aug = NULL;
                T.batch = b;
                if ((st = run_job(&T, cfg.threads, err)))
                    goto done;
            }
            double vl = 0;
            long vc = 0, vn = 0;
            for (int s = 0; s < T.S; s++) {
                vl += T.sl[s].loss_sum;
                vc += T.sl[s].correct;
                vn += T.sl[s].count;
            }
            e.val_loss = vn ? vl / vn : NAN;
            e.val_accuracy = vn ? (double)vc / vn : NAN;
            if (res->best_epoch == 0 || e.val_loss < res->best_val_loss - cfg.min_delta) {
                res->best_val_loss = e.val_loss;
                res->best_val_accuracy = e.val_accuracy;
                res->best_epoch = epoch;
                snapshot_take(best, m->net);
                e.best = 1;
                wait = 0;
            } else {
                wait++;
            }
        } else {
            res->best_epoch = epoch;
            e.best = 1;
        }
        e.seconds = now_s() - t0;
        res->history[res->n_history++] = e;
        res->epochs_run = epoch;
        int stop = 0;
        if (cfg.progress && cfg.progress(&e, cfg.progress_user))
            stop = 1;
        if (nva > 0 && cfg.patience > 0 && wait >= cfg.patience)
            stop = 1;
        if (stop) {
            res->stopped_early = epoch < cfg.epochs;
            break;
        }
    }
    if (nva > 0)
        snapshot_restore(best, m->net);
    res->seconds = now_s() - t_start;
    res->stamps_per_s = train_time > 0 ? train_samples / train_time : 0;
    st = 0;

done:
    if (res_out && res && st == 0)
        *res_out = *res;
    free(res);
    nn_optimizer_free(opt);
    trainer_free(&T);
    free(raw);
    free(lab);
    free(aug);
    free(perm);
    free(best);
    free(tr_idx);
    free(va_idx);
    return st;
}

/* ---- provenance ------------------------------------------------------------ */

int sv_train_record(sv_model *m, const char *what, const char *data_path,
                    const sv_train_config *cfg, const sv_train_result *res)
{
    if (!m || !cfg || !res)
        return SV_ERR_ARG;
    char v[96], date[32];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tmv);
    const char *base = data_path ? strrchr(data_path, '/') : NULL;
    base = base ? base + 1 : (data_path ? data_path : "memory");
    int st = 0;
#define PROV(key, ...)                                                                          \
    do {                                                                                        \
        snprintf(v, sizeof v, __VA_ARGS__);                                                     \
        if (!st)                                                                                \
            st = sv_model_set_prov(m, key, v);                                                  \
    } while (0)
    PROV("CREATOR", "stampvet %s %s", PACKAGE_VERSION, what ? what : "train");
    PROV("DATE", "%s", date);
    PROV("TRDATA", "%s", base);
    PROV("TRNTRAIN", "%ld", res->n_train);
    PROV("TRNVAL", "%ld", res->n_val);
    PROV("TRSEED", "%llu", (unsigned long long)cfg->seed);
    PROV("TRBATCH", "%d", cfg->batch);
    PROV("TROPT", "%s", cfg->opt.kind == NN_OPT_ADAM ? "adam" : "sgd");
    PROV("TRLR", "%g", (double)cfg->opt.lr);
    PROV("TRAUG", "%s", cfg->augment ? "dihedral8" : "none");
    PROV("TRCLSWT", "%s",
         cfg->class_weight == SV_CW_BALANCED ? "balanced"
                                             : (cfg->class_weight == SV_CW_NONE ? "none" : "custom"));
    PROV("TRSLICES", "%d", cfg->slices);
    PROV("TREPOCHS", "%d", res->epochs_run);
    PROV("TRBEST", "%d", res->best_epoch);
    if (!isnan(res->best_val_loss)) {
        PROV("VALLOSS", "%.6f", res->best_val_loss);
        PROV("VALACC", "%.6f", res->best_val_accuracy);
    }
#undef PROV
    snprintf(v, sizeof v, "%s %s: %ld+%ld stamps, %d epochs (best %d), seed %llu", date,
             what ? what : "train", res->n_train, res->n_val, res->epochs_run,
             res->best_epoch, (unsigned long long)cfg->seed);
    if (!st)
        st = sv_model_add_history(m, v);
    return st;
}
