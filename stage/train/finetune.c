/* finetune.c — transfer learning from a base model.  See finetune.h. */
#include "train/finetune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

static const char *const freeze_names[] = {"conv", "all-but-head", "none", "recurrent"};

const char *sv_freeze_name(sv_freeze f)
{
    if ((int)f < 0 || (int)f > SV_FREEZE_RECURRENT)
        return "unknown";
    return freeze_names[f];
}

int sv_freeze_from_name(const char *name, sv_freeze *f)
{
    if (!name || !f)
        return SV_ERR_ARG;
    for (int i = 0; i <= SV_FREEZE_RECURRENT; i++)
        if (!strcmp(name, freeze_names[i])) {
            *f = (sv_freeze)i;
            return 0;
        }
    return SV_ERR_ARG;
}

int sv_finetune_head(const nn_net *net)
{
    if (!net || net->output < 0 || net->output >= net->n_layers)
        return -1;
    return net->layers[net->output].kind == NN_DENSE ? net->output : -1;
}

static int same_classes(const sv_model *base, int realbogus, int k,
                        const char (*classes)[SV_LABEL_MAX])
{
    if (realbogus)
        return base->task == SV_TASK_REALBOGUS && base->n_classes == 1;
    if ((base->task != SV_TASK_CLASS && base->task != SV_TASK_LIGHTCURVE) || base->multilabel ||
        base->n_classes != k)
        return 0;
    for (int c = 0; c < k; c++)
        if (strcmp(base->classes[c], classes[c]))
            return 0;
    return 1;
}

/* A copy of base's network with the output Dense replaced by n_out units. */
static int replace_head(const nn_net *base, int n_out, uint64_t seed, nn_net **out,
                        sv_error *err)
{
    int head = sv_finetune_head(base);
    if (head < 0 || head != base->n_layers - 1)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "cannot replace the head: the output layer '%s' is not a final "
                            "Dense layer",
                            base->output >= 0 ? base->layers[base->output].name : "?");
    nn_net *net = nn_net_new();
    if (!net)
        return sv_error_set(err, SV_ERR_NOMEM, "finetune: out of memory");
    int st = 0;
    for (int i = 0; i < base->n_layers && !st; i++) {
        nn_layer L = base->layers[i];
        if (i == head) {
            L.units = n_out;
            L.act = n_out == 1 ? NN_ACT_SIGMOID : NN_ACT_SOFTMAX;
            L.trainable = 1;
            L.use_bias = 1;
        }
        int idx = nn_net_add(net, &L, err);
        if (idx < 0)
            st = idx;
    }
    if (!st) {
        net->output = head;
        st = nn_net_finalize(net, err);
    }
    if (st) {
        nn_net_free(net);
        return st;
    }
    /* Glorot for everything from the seed, then the base's weights back on
     * every layer but the head */
    nn_net_init_weights(net, seed);
    for (int i = 0; i < base->n_layers; i++) {
        if (i == head)
            continue;
        for (int j = 0; j < base->layers[i].n_params; j++)
            memcpy(net->layers[i].p[j].w, base->layers[i].p[j].w,
                   base->layers[i].p[j].size * sizeof(float));
    }
    *out = net;
    return 0;
}

int sv_finetune_prepare(const sv_model *base, int realbogus, int n_classes,
                        const char (*classes)[SV_LABEL_MAX], uint64_t seed, sv_model **out,
                        int *head_replaced, sv_error *err)
{
    if (out)
        *out = NULL;
    if (!base || !base->net || !out || (!realbogus && !classes))
        return sv_error_set(err, SV_ERR_ARG, "finetune: NULL argument");
    if (!realbogus && (n_classes < 2 || n_classes > SV_MAX_CLASSES))
        return sv_error_set(err, SV_ERR_ARG, "finetune: %d classes (2..%d)", n_classes,
                            SV_MAX_CLASSES);
    if (base->task == SV_TASK_LIGHTCURVE && realbogus)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "finetune: base model '%s' classifies light curves, not real/bogus",
                            base->name);
    if (base->task != SV_TASK_REALBOGUS && base->task != SV_TASK_CLASS &&
        base->task != SV_TASK_LIGHTCURVE)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "finetune: base model '%s' is a %s model, not a stamp classifier",
                            base->name, sv_task_name(base->task));
    int replace = !same_classes(base, realbogus, n_classes, classes);
    nn_net *net = NULL;
    int st;
    if (replace) {
        st = replace_head(base->net, realbogus ? 1 : n_classes, seed, &net, err);
        if (st) {
            sv_error_prefix(err, "base model '%s': ", base->name);
            return st;
        }
    } else {
        net = nn_net_clone(base->net);
        if (!net)
            return sv_error_set(err, SV_ERR_NOMEM, "finetune: out of memory");
    }
    sv_model *m = sv_model_new(NULL);
    if (!m) {
        nn_net_free(net);
        return sv_error_set(err, SV_ERR_NOMEM, "finetune: out of memory");
    }
    *m = *base;
    m->net = net;
    m->n_prov = 0;
    m->checksum[0] = '\0';
    m->path[0] = '\0';
    m->version[0] = '\0'; /* the child's own: the writer derives it (model_fits.h) */
    snprintf(m->name, sizeof m->name, "%.60s-ft", base->name);
    if (replace) {
        if (realbogus) {
            m->task = SV_TASK_REALBOGUS;
            m->n_classes = 1;
            memset(m->classes, 0, sizeof m->classes);
            snprintf(m->classes[0], SV_LABEL_MAX, "real");
        } else {
            m->task = base->task == SV_TASK_LIGHTCURVE ? SV_TASK_LIGHTCURVE : SV_TASK_CLASS;
            m->n_classes = n_classes;
            memset(m->classes, 0, sizeof m->classes);
            for (int c = 0; c < n_classes; c++)
                snprintf(m->classes[c], SV_LABEL_MAX, "%s", classes[c]);
        }
        m->multilabel = 0;
    }
    st = sv_model_validate(m, err);
    if (st) {
        sv_model_free(m);
        return st;
    }
    if (head_replaced)
        *head_replaced = replace;
    *out = m;
    return 0;
}

static int is_conv(nn_kind k)
{
    return k == NN_CONV2D || k == NN_DEPTHWISE_CONV2D || k == NN_SEPARABLE_CONV2D;
}

int sv_finetune_freeze(sv_model *m, sv_freeze policy, float body_lr_scale, float *lr_scale,
                       sv_error *err)
{
    if (!m || !m->net || !lr_scale)
        return sv_error_set(err, SV_ERR_ARG, "finetune: NULL argument");
    if ((int)policy < 0 || (int)policy > SV_FREEZE_RECURRENT)
        return sv_error_set(err, SV_ERR_ARG, "finetune: unknown freeze policy %d", (int)policy);
    if (body_lr_scale < 0)
        body_lr_scale = policy == SV_FREEZE_NONE ? 0.1f : 1.0f;
    nn_net *net = m->net;
    int head = sv_finetune_head(net);
    if (head < 0) /* no Dense head: the last layer with parameters */
        for (int i = net->n_layers - 1; i >= 0 && head < 0; i--)
            if (net->layers[i].n_params > 0)
                head = i;
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        int frozen = 0;
        if (i != head && L->n_params > 0) {
            if (policy == SV_FREEZE_ALL_BUT_HEAD)
                frozen = 1;
            else if (policy == SV_FREEZE_CONV)
                frozen = is_conv(L->kind) || (L->kind == NN_BATCHNORM && L->rank == 3);
            else if (policy == SV_FREEZE_RECURRENT)
                frozen = L->kind == NN_GRU;
        }
        L->trainable = !frozen;
        lr_scale[i] = frozen ? 0.0f : (i == head ? 1.0f : body_lr_scale);
    }
    return 0;
}

sv_finetune_config sv_finetune_defaults(void)
{
    sv_finetune_config c;
    memset(&c, 0, sizeof c);
    c.freeze = SV_FREEZE_CONV;
    c.body_lr_scale = -1.0f;
    c.train = sv_train_defaults();
    c.name = NULL;
    return c;
}

int sv_finetune(const sv_model *base, const sv_stamp_source *data, const char *data_path,
                const sv_finetune_config *cfg_in, sv_model **out, sv_train_result *res,
                sv_error *err)
{
    if (out)
        *out = NULL;
    if (!base || !data || !out)
        return sv_error_set(err, SV_ERR_ARG, "finetune: NULL argument");
    sv_finetune_config cfg = cfg_in ? *cfg_in : sv_finetune_defaults();
    sv_model *m = NULL;
    int replaced = 0;
    int st = sv_finetune_prepare(base, data->realbogus, data->n_classes,
                                 (const char(*)[SV_LABEL_MAX])data->classes,
                                 sv_seed_mix(cfg.train.seed, 0x4ead, 0, 0), &m, &replaced, err);
    if (st)
        return st;
    if (cfg.name && cfg.name[0])
        snprintf(m->name, sizeof m->name, "%s", cfg.name);
    if (cfg.version && cfg.version[0])
        snprintf(m->version, sizeof m->version, "%s", cfg.version);
    /* the model now works at the fine-tuning data's pixel scale (the stage
     * resamples other images to it when asked to) */
    if (data->pixscale > 0)
        m->pre.pixel_scale = data->pixscale;
    float *scale = malloc((size_t)m->net->n_layers * sizeof *scale);
    sv_train_result *r = calloc(1, sizeof *r);
    if (!scale || !r) {
        st = sv_error_set(err, SV_ERR_NOMEM, "finetune: out of memory");
        goto fail;
    }
    if ((st = sv_finetune_freeze(m, cfg.freeze, cfg.body_lr_scale, scale, err)))
        goto fail;
    cfg.train.layer_lr_scale = scale;
    if ((st = sv_train(m, data, &cfg.train, r, err)))
        goto fail;

    const char *dp = data_path ? data_path : data->origin;
    const char *dbase = strrchr(dp, '/');
    dbase = dbase ? dbase + 1 : dp;
    char v[160];
    float body = cfg.body_lr_scale < 0 ? (cfg.freeze == SV_FREEZE_NONE ? 0.1f : 1.0f)
                                       : cfg.body_lr_scale;
    st = sv_train_record(m, "finetune", dp, &cfg.train, r);
    if (!st)
        st = sv_model_set_prov(m, "PARENT", base->name);
    if (!st)
        st = sv_model_set_prov(m, "PARENTCK", base->checksum[0] ? base->checksum : "unknown");
    if (!st)
        st = sv_model_set_prov(m, "FTDATA", dbase);
    snprintf(v, sizeof v, "%ld", r->n_train + r->n_val);
    if (!st)
        st = sv_model_set_prov(m, "FTNLAB", v);
    if (!st)
        st = sv_model_set_prov(m, "FTFREEZE", sv_freeze_name(cfg.freeze));
    if (!st)
        st = sv_model_set_prov(m, "FTHEAD", replaced ? "new" : "kept");
    snprintf(v, sizeof v, "%g", (double)body);
    if (!st)
        st = sv_model_set_prov(m, "FTBODYLR", v);
    snprintf(v, sizeof v, "finetuned from %.30s on %.30s, freeze %s, head %s", base->name,
             dbase, sv_freeze_name(cfg.freeze), replaced ? "new" : "kept");
    if (!st)
        st = sv_model_add_history(m, v);
    if (st) {
        st = sv_error_set(err, SV_ERR_ARG, "finetune: the model's provenance table is full");
        goto fail;
    }
    if (res)
        *res = *r;
    free(r);
    free(scale);
    *out = m;
    return 0;
fail:
    free(r);
    free(scale);
    sv_model_free(m);
    return st;
}
