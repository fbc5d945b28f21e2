/* nn_layer_dropout.c — Dropout (inverted, as Keras): the identity at
 * inference; in training cache = the per-element factor (0 or 1/(1-rate)).
 * See nn/nn_ops.h. */
#include <string.h>

#include "nn/nn_ops.h"

static void nn_dropout_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    size_t n = (size_t)c->batch * L->out_size;
    if (!c->training || L->rate <= 0.0f) {
        memcpy(c->y, c->x[0], n * sizeof(float));
        if (c->training && c->cache)
            for (size_t i = 0; i < n; i++)
                c->cache[i] = 1.0f;
        return;
    }
    float keep = 1.0f - L->rate, scale = 1.0f / keep;
    for (size_t i = 0; i < n; i++) {
        float f = sv_xoshiro_uniform(c->rng) >= (double)L->rate ? scale : 0.0f;
        c->cache[i] = f;
        c->y[i] = c->x[0][i] * f;
    }
}

static void nn_dropout_backward(nn_lctx *c)
{
    if (!c->dx[0])
        return;
    size_t n = (size_t)c->batch * c->L->out_size;
    for (size_t i = 0; i < n; i++)
        c->dx[0][i] += c->dy[i] * c->cache[i];
}

static int dropout_check(nn_layer *L, sv_error *err)
{
    if (!(L->rate >= 0.0f && L->rate < 1.0f))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (dropout): rate %g not in [0,1)",
                            L->name, (double)L->rate);
    return 0;
}

static int dropout_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                         sv_error *err)
{
    (void)L;
    (void)err;
    nn_shape_set(out, in[0]->rank, in[0]->shape);
    return 0;
}

static void dropout_mem(const nn_layer *L, const nn_layer *const *in, int max_batch,
                        int training, nn_mem *m)
{
    (void)in;
    if (training)
        m->cache = (size_t)max_batch * L->out_size;
}

static void dropout_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    nn_describe_add(buf, cap, &k, "rate %g", (double)L->rate);
}

const nn_op nn_op_dropout = {
    .name = "dropout",
    .n_in_min = 1,
    .n_in_max = 1,
    .check = dropout_check,
    .shape = dropout_shape,
    .mem = dropout_mem,
    .forward = nn_dropout_forward,
    .backward = nn_dropout_backward,
    .describe = dropout_describe,
};
