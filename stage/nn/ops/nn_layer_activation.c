/* nn_layer_activation.c — Activation (and Keras LeakyReLU, ReLU, Softmax
 * on the last axis): the activation alone.  See nn/nn_ops.h. */
#include <string.h>

#include "nn/nn_ops.h"

static int last_dim(const nn_layer *L) { return L->shape[L->rank - 1]; }

static void nn_activation_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t n = (size_t)c->batch * L->out_size;
    memcpy(c->y, c->x[0], n * sizeof(float));
    nn_act_forward(L->act, L->alpha, c->y, n / (size_t)last, last);
}

static void nn_activation_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t n = (size_t)c->batch * L->out_size;
    nn_act_backward(L->act, L->alpha, c->y, c->dy, n / (size_t)last, last);
    if (c->dx[0])
        for (size_t i = 0; i < n; i++)
            c->dx[0][i] += c->dy[i];
}

static int activation_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                            sv_error *err)
{
    (void)L;
    (void)err;
    nn_shape_set(out, in[0]->rank, in[0]->shape);
    return 0;
}

const nn_op nn_op_activation = {
    .name = "activation",
    .n_in_min = 1,
    .n_in_max = 1,
    .shape = activation_shape,
    .forward = nn_activation_forward,
    .backward = nn_activation_backward,
};
