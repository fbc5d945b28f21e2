/* nn_layer_concat.c — Concatenate on the last axis of 2..NN_MAX_INPUTS
 * producers of one rank whose other axes agree.  See nn/nn_ops.h. */
#include <string.h>

#include "nn/nn_ops.h"

static int last_dim(const nn_layer *L) { return L->shape[L->rank - 1]; }

static void nn_concat_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t outer = (size_t)c->batch * (L->out_size / (size_t)last);
    int off = 0;
    for (int i = 0; i < L->n_in; i++) {
        int li = last_dim(c->in_layer[i]);
        for (size_t r = 0; r < outer; r++)
            memcpy(c->y + r * last + off, c->x[i] + r * li, (size_t)li * sizeof(float));
        off += li;
    }
}

static void nn_concat_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t outer = (size_t)c->batch * (L->out_size / (size_t)last);
    int off = 0;
    for (int i = 0; i < L->n_in; i++) {
        int li = last_dim(c->in_layer[i]);
        if (c->dx[i])
            for (size_t r = 0; r < outer; r++) {
                float *dx = c->dx[i] + r * li;
                const float *dy = c->dy + r * last + off;
                for (int j = 0; j < li; j++)
                    dx[j] += dy[j];
            }
        off += li;
    }
}

static int concat_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                        sv_error *err)
{
    const nn_layer *In0 = in[0];
    const char *nm = L->name;
    char sbuf[64], b2[64];
    int r = In0->rank, dims[NN_MAX_RANK] = {0};
    if (L->concat_axis != -1 && L->concat_axis != r)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "layer '%s' (concatenate): only the last axis (-1) is supported, "
                            "got axis %d",
                            nm, L->concat_axis);
    long last = 0;
    for (int i = 0; i < L->n_in; i++) {
        const nn_layer *J = in[i];
        if (J->rank != r)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (concatenate): input '%s' has shape %s, input "
                                "'%s' has shape %s (ranks differ)",
                                nm, In0->name, nn_shape_str(In0, sbuf, sizeof sbuf), J->name,
                                nn_shape_str(J, b2, sizeof b2));
        for (int d = 0; d < r - 1; d++)
            if (J->shape[d] != In0->shape[d])
                return sv_error_set(err, SV_ERR_SHAPE,
                                    "layer '%s' (concatenate): input '%s' has shape %s, input "
                                    "'%s' has shape %s (all but the last axis must agree)",
                                    nm, In0->name, nn_shape_str(In0, sbuf, sizeof sbuf), J->name,
                                    nn_shape_str(J, b2, sizeof b2));
        last += J->shape[r - 1];
    }
    if (last > NN_DIM_LIMIT)
        return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (concatenate): too wide", nm);
    for (int d = 0; d < r - 1; d++)
        dims[d] = In0->shape[d];
    dims[r - 1] = (int)last;
    nn_shape_set(out, r, dims);
    return 0;
}

const nn_op nn_op_concat = {
    .name = "concatenate",
    .n_in_min = 2,
    .n_in_max = NN_MAX_INPUTS,
    .shape = concat_shape,
    .forward = nn_concat_forward,
    .backward = nn_concat_backward,
};
