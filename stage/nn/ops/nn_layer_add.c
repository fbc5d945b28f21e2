/* nn_layer_add.c — Add: the element-wise sum of 2..NN_MAX_INPUTS tensors of
 * one shape (Keras Add, ONNX Add of equal shapes), with a fused output
 * activation; forward and backward.  See nn_layers.h. */
#include <string.h>

#include "nn/nn_ops.h"

static void nn_add_forward(nn_lctx *c)
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

static void nn_add_backward(nn_lctx *c)
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

static int add_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out, sv_error *err)
{
    const nn_layer *In0 = in[0];
    for (int i = 1; i < L->n_in; i++) {
        const nn_layer *J = in[i];
        int same = J->rank == In0->rank;
        for (int d = 0; same && d < In0->rank; d++)
            same = J->shape[d] == In0->shape[d];
        if (!same) {
            char b1[64], b2[64];
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (add): input '%s' has shape %s, input '%s' has "
                                "shape %s (they must be equal)",
                                L->name, In0->name, nn_shape_str(In0, b1, sizeof b1), J->name,
                                nn_shape_str(J, b2, sizeof b2));
        }
    }
    nn_shape_set(out, In0->rank, In0->shape);
    return 0;
}

const nn_op nn_op_add = {
    .name = "add",
    .n_in_min = 2,
    .n_in_max = NN_MAX_INPUTS,
    .shape = add_shape,
    .forward = nn_add_forward,
    .backward = nn_add_backward,
};
