/* nn_layer_add.c — Add: the element-wise sum of 2..NN_MAX_INPUTS tensors of
 * one shape (Keras Add, ONNX Add of equal shapes), with a fused output
 * activation; forward and backward.  See nn_layers.h. */
#include <string.h>

#include "nn/nn_layers.h"

void nn_add_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    size_t n = (size_t)c->batch * L->out_size;
    memcpy(c->y, c->x[0], n * sizeof(float));
    for (int i = 1; i < L->n_in; i++)
        for (size_t k = 0; k < n; k++)
            c->y[k] += c->x[i][k];
    int last = L->shape[L->rank - 1];
    nn_act_forward(L->act, L->alpha, c->y, n / (size_t)last, last);
}

void nn_add_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    size_t n = (size_t)c->batch * L->out_size;
    int last = L->shape[L->rank - 1];
    nn_act_backward(L->act, L->alpha, c->y, c->dy, n / (size_t)last, last);
    for (int i = 0; i < L->n_in; i++)
        if (c->dx[i])
            for (size_t k = 0; k < n; k++)
                c->dx[i][k] += c->dy[k];
}
