/* nn_layer_flatten.c — Flatten: channels-last memory order is kept, so it
 * is a copy (and equals Keras' channels-last Flatten).  See nn/nn_ops.h. */
#include <string.h>

#include "nn/nn_ops.h"

static void flatten_forward(nn_lctx *c)
{
    memcpy(c->y, c->x[0], (size_t)c->batch * c->L->out_size * sizeof(float));
}

static void flatten_backward(nn_lctx *c)
{
    if (!c->dx[0])
        return;
    size_t n = (size_t)c->batch * c->L->out_size;
    for (size_t i = 0; i < n; i++)
        c->dx[0][i] += c->dy[i];
}

static int flatten_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                         sv_error *err)
{
    (void)L;
    (void)err;
    int dims[1] = {(int)in[0]->out_size};
    nn_shape_set(out, 1, dims);
    return 0;
}

const nn_op nn_op_flatten = {
    .name = "flatten",
    .n_in_min = 1,
    .n_in_max = 1,
    .shape = flatten_shape,
    .forward = flatten_forward,
    .backward = flatten_backward,
};
