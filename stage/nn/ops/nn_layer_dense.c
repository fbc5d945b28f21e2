/* nn_layer_dense.c — Dense (Keras Dense; on a (T, F) input it applies to
 * every time step, as Dense and TimeDistributed(Dense) do): kernel (in,
 * units), bias (units), fused activation.  See nn/nn_ops.h. */
#include <cblas.h>
#include <string.h>

#include "nn/nn_ops.h"

static int last_dim(const nn_layer *L) { return L->shape[L->rank - 1]; }

static void nn_dense_forward(nn_lctx *c)
{
    const nn_layer *L = c->L, *In = c->in_layer[0];
    int fin = last_dim(In), u = L->units;
    int m = (int)((size_t)c->batch * (In->out_size / (size_t)fin));
    const float *W = L->p[0].w;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, u, fin, 1.0f, c->x[0], fin, W, u,
                0.0f, c->y, u);
    if (L->use_bias) {
        const float *b = L->p[1].w;
        for (int r = 0; r < m; r++) {
            float *y = c->y + (size_t)r * u;
            for (int j = 0; j < u; j++)
                y[j] += b[j];
        }
    }
    nn_act_forward(L->act, L->alpha, c->y, (size_t)m, u);
}

static void nn_dense_backward(nn_lctx *c)
{
    const nn_layer *L = c->L, *In = c->in_layer[0];
    int fin = last_dim(In), u = L->units;
    int m = (int)((size_t)c->batch * (In->out_size / (size_t)fin));
    float *d = c->dy;
    nn_act_backward(L->act, L->alpha, c->y, d, (size_t)m, u);
    if (c->g[0])
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, fin, u, m, 1.0f, c->x[0], fin, d, u,
                    1.0f, c->g[0], u);
    if (L->use_bias && c->g[1]) {
        float *gb = c->g[1];
        for (int r = 0; r < m; r++)
            for (int j = 0; j < u; j++)
                gb[j] += d[(size_t)r * u + j];
    }
    if (c->dx[0])
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, fin, u, 1.0f, d, u, L->p[0].w, u,
                    1.0f, c->dx[0], fin);
}

static int dense_check(nn_layer *L, sv_error *err)
{
    if (nn_bad_dim(L->units))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (dense): units %d", L->name, L->units);
    return 0;
}

static int dense_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                       sv_error *err)
{
    (void)err;
    const nn_layer *In0 = in[0];
    int dims[NN_MAX_RANK];
    for (int d = 0; d < In0->rank; d++)
        dims[d] = In0->shape[d];
    int fin = In0->shape[In0->rank - 1];
    dims[In0->rank - 1] = L->units;
    nn_shape_set(out, In0->rank, dims);
    nn_shape_param(out, "kernel", 2, fin, L->units, 0, 0, 1);
    if (L->use_bias)
        nn_shape_param(out, "bias", 1, L->units, 0, 0, 0, 1);
    return 0;
}

static void dense_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    if (!L->use_bias)
        nn_describe_add(buf, cap, &k, "no-bias");
}

const nn_op nn_op_dense = {
    .name = "dense",
    .n_in_min = 1,
    .n_in_max = 1,
    .check = dense_check,
    .shape = dense_shape,
    .forward = nn_dense_forward,
    .backward = nn_dense_backward,
    .describe = dense_describe,
};
