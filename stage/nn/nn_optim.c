/* nn_optim.c — SGD with momentum and Adam, Keras 2 update rules.
 * See nn_engine.h.
 *
 *   SGD:  v = momentum * v - lr * g;  w += v
 *   Adam: t += 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *         w -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
 * with g = grad_scale * gradient + weight_decay * w, and lr multiplied by
 * the layer's scale (nn_optimizer_set_layer_lr_scale).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_engine.h"
#include "nn/nn_layers.h"

struct nn_optimizer {
    nn_opt_config cfg;
    int n_layers;
    long step;
    double adam_lr;      /* Adam's bias correction of the current step    */
    float *lr_scale;     /* per layer                                    */
    float **m, **v;      /* [layer * NN_MAX_PARAMS + j], trainable params */
    size_t *size;
};

nn_opt_config nn_opt_defaults(nn_opt_kind kind)
{
    nn_opt_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    if (kind == NN_OPT_ADAM) {
        c.lr = 1e-3f;
    } else {
        c.lr = 1e-2f;
        c.momentum = 0.9f;
    }
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-7f;
    c.weight_decay = 0.0f;
    return c;
}

void nn_optimizer_free(nn_optimizer *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n_layers * NN_MAX_PARAMS; i++) {
        if (opt->m)
            free(opt->m[i]);
        if (opt->v)
            free(opt->v[i]);
    }
    free(opt->m);
    free(opt->v);
    free(opt->size);
    free(opt->lr_scale);
    free(opt);
}

nn_optimizer *nn_optimizer_new(const nn_net *net, const nn_opt_config *cfg, sv_error *err)
{
    if (!net || !net->finalized || !cfg) {
        sv_error_set(err, SV_ERR_ARG, "nn_optimizer_new: network missing or not finalised");
        return NULL;
    }
    if (cfg->kind != NN_OPT_SGD && cfg->kind != NN_OPT_ADAM) {
        sv_error_set(err, SV_ERR_ARG, "nn_optimizer_new: unknown optimiser kind %d",
                     (int)cfg->kind);
        return NULL;
    }
    if (!(cfg->lr >= 0.0f) || !isfinite(cfg->lr) || !(cfg->momentum >= 0.0f) ||
        !(cfg->momentum < 1.0f) || !(cfg->weight_decay >= 0.0f) ||
        (cfg->kind == NN_OPT_ADAM &&
         (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f) ||
          !(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f) || !(cfg->eps > 0.0f)))) {
        sv_error_set(err, SV_ERR_ARG,
                     "nn_optimizer_new: bad hyper-parameters (lr %g, momentum %g, beta1 %g, "
                     "beta2 %g, eps %g, weight decay %g)",
                     (double)cfg->lr, (double)cfg->momentum, (double)cfg->beta1,
                     (double)cfg->beta2, (double)cfg->eps, (double)cfg->weight_decay);
        return NULL;
    }
    nn_optimizer *o = calloc(1, sizeof *o);
    if (!o)
        goto nomem;
    o->cfg = *cfg;
    o->n_layers = net->n_layers;
    size_t np = (size_t)net->n_layers * NN_MAX_PARAMS;
    o->lr_scale = malloc((size_t)net->n_layers * sizeof *o->lr_scale);
    o->m = calloc(np, sizeof *o->m);
    o->v = calloc(np, sizeof *o->v);
    o->size = calloc(np, sizeof *o->size);
    if (!o->lr_scale || !o->m || !o->v || !o->size)
        goto nomem;
    for (int i = 0; i < net->n_layers; i++) {
        o->lr_scale[i] = 1.0f;
        const nn_layer *L = &net->layers[i];
        for (int j = 0; j < L->n_params; j++) {
            if (!L->p[j].trainable)
                continue;
            size_t k = (size_t)i * NN_MAX_PARAMS + j;
            o->size[k] = L->p[j].size;
            if (cfg->kind == NN_OPT_ADAM || cfg->momentum > 0.0f) {
                o->m[k] = calloc(L->p[j].size, sizeof(float));
                if (!o->m[k])
                    goto nomem;
            }
            if (cfg->kind == NN_OPT_ADAM) {
                o->v[k] = calloc(L->p[j].size, sizeof(float));
                if (!o->v[k])
                    goto nomem;
            }
        }
    }
    return o;
nomem:
    nn_optimizer_free(o);
    sv_error_set(err, SV_ERR_NOMEM, "nn_optimizer_new: out of memory");
    return NULL;
}

void nn_optimizer_set_layer_lr_scale(nn_optimizer *opt, int layer, float scale)
{
    if (opt && layer >= 0 && layer < opt->n_layers)
        opt->lr_scale[layer] = scale;
}

void nn_optimizer_begin(nn_optimizer *opt)
{
    if (!opt)
        return;
    opt->step++;
    double t = (double)opt->step;
    opt->adam_lr = opt->cfg.kind == NN_OPT_ADAM
                       ? sqrt(1.0 - pow(opt->cfg.beta2, t)) / (1.0 - pow(opt->cfg.beta1, t))
                       : 0.0;
}

/* the update of elements lo .. lo+n-1 of parameter j of layer i from their
 * gradients g[0 .. n-1], in the step nn_optimizer_begin started */
static void apply_param(nn_optimizer *opt, nn_net *net, int i, int j, size_t lo, size_t n,
                        const float *g, float grad_scale)
{
    nn_layer *L = &net->layers[i];
    float ls = opt->lr_scale[i];
    nn_param *p = &L->p[j];
    size_t k = (size_t)i * NN_MAX_PARAMS + j;
    if (!L->trainable || ls == 0.0f || !p->trainable || !g || opt->size[k] != p->size ||
        lo > p->size || n > p->size - lo)
        return;
    const nn_opt_config *c = &opt->cfg;
    float *w = p->w + lo;
    double lr = (double)c->lr * ls;
    if (c->kind == NN_OPT_SGD) {
        float *v = opt->m[k] ? opt->m[k] + lo : NULL;
        for (size_t e = 0; e < n; e++) {
            double ge = (double)grad_scale * g[e] + (double)c->weight_decay * w[e];
            if (v) {
                v[e] = (float)(c->momentum * (double)v[e] - lr * ge);
                w[e] += v[e];
            } else {
                w[e] = (float)(w[e] - lr * ge);
            }
        }
    } else {
        float *m = opt->m[k] + lo, *v = opt->v[k] + lo;
        double a = lr * opt->adam_lr;
        for (size_t e = 0; e < n; e++) {
            double ge = (double)grad_scale * g[e] + (double)c->weight_decay * w[e];
            m[e] = (float)(c->beta1 * (double)m[e] + (1.0 - c->beta1) * ge);
            v[e] = (float)(c->beta2 * (double)v[e] + (1.0 - c->beta2) * ge * ge);
            w[e] = (float)(w[e] - a * m[e] / (sqrt((double)v[e]) + c->eps));
        }
    }
}

/* one update of every parameter from the gradients of ws, or (ws NULL) of
 * grads[] */
static void step_from(nn_optimizer *opt, nn_net *net, const nn_workspace *ws,
                      const float *const *grads, float grad_scale)
{
    if (!opt || !net || (!ws && !grads) || net->n_layers != opt->n_layers)
        return;
    nn_optimizer_begin(opt);
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++) {
            size_t k = (size_t)i * NN_MAX_PARAMS + j;
            const float *g = ws ? nn_workspace_grad_const(ws, i, j) : grads[k];
            apply_param(opt, net, i, j, 0, net->layers[i].p[j].size, g, grad_scale);
        }
}

void nn_optimizer_step(nn_optimizer *opt, nn_net *net, const nn_workspace *ws, float grad_scale)
{
    step_from(opt, net, ws, NULL, grad_scale);
}

void nn_optimizer_step_grads(nn_optimizer *opt, nn_net *net, const float *const *grads,
                             float grad_scale)
{
    step_from(opt, net, NULL, grads, grad_scale);
}

void nn_optimizer_apply_range(nn_optimizer *opt, nn_net *net, int layer, int j, size_t lo,
                              size_t n, const float *g, float grad_scale)
{
    if (!opt || !net || net->n_layers != opt->n_layers || layer < 0 ||
        layer >= net->n_layers || j < 0 || j >= net->layers[layer].n_params || opt->step < 1)
        return;
    apply_param(opt, net, layer, j, lo, n, g, grad_scale);
}
