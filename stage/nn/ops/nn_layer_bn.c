/* nn_layer_bn.c — BatchNormalization over the last axis, forward and
 * backward.  See nn_layers.h.
 *
 * Inference (and a frozen layer in training, as Keras 2 under TF2):
 *     y = (x - moving_mean) * s + beta,  s = gamma / sqrt(moving_var + eps)
 * (TF's fused kernel order).
 * Training: batch statistics over every axis but the last, normalised with
 * the biased variance.  The moving statistics are updated as Keras does:
 *     moving = moving * momentum + batch * (1 - momentum),
 * where the batch variance is the UNBIASED one (n/(n-1)) for image inputs
 * (H,W,C) — Keras 2 runs those through TF's fused batch norm, which applies
 * Bessel's correction — and the biased one (tf.nn.moments) for vector and
 * sequence inputs, which Keras 2 does not fuse.
 *
 * cache (training): xhat (batch * out_size) then inv_std (C); icache[0]
 * holds the mode of the last forward (1 = batch statistics). */
#include <math.h>
#include <string.h>

#include "nn/nn_ops.h"

static void bn_inference(nn_lctx *c, int C, size_t rows)
{
    const nn_layer *L = c->L;
    const float *gamma = L->p[0].w, *beta = L->p[1].w, *mean = L->p[2].w, *var = L->p[3].w;
    float *s = c->scratch; /* C floats */
    for (int j = 0; j < C; j++)
        s[j] = (float)(gamma[j] / sqrt((double)var[j] + (double)L->epsilon));
    for (size_t r = 0; r < rows; r++) {
        const float *x = c->x[0] + r * C;
        float *y = c->y + r * C;
        for (int j = 0; j < C; j++)
            y[j] = (x[j] - mean[j]) * s[j] + beta[j];
    }
}

static void nn_bn_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int C = L->shape[L->rank - 1];
    size_t rows = (size_t)c->batch * (L->out_size / (size_t)C);
    int batch_stats = c->training && L->trainable;
    if (c->training)
        c->icache[0] = batch_stats;
    if (!batch_stats) {
        bn_inference(c, C, rows);
        return;
    }
    double *mean = (double *)c->scratch, *var = mean + C; /* 2C doubles */
    for (int j = 0; j < C; j++)
        mean[j] = var[j] = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *x = c->x[0] + r * C;
        for (int j = 0; j < C; j++)
            mean[j] += x[j];
    }
    for (int j = 0; j < C; j++)
        mean[j] /= (double)rows;
    for (size_t r = 0; r < rows; r++) {
        const float *x = c->x[0] + r * C;
        for (int j = 0; j < C; j++) {
            double d = x[j] - mean[j];
            var[j] += d * d;
        }
    }
    for (int j = 0; j < C; j++)
        var[j] /= (double)rows;

    float *xhat = c->cache, *inv = c->cache + (size_t)c->batch * L->out_size;
    const float *gamma = L->p[0].w, *beta = L->p[1].w;
    for (int j = 0; j < C; j++)
        inv[j] = (float)(1.0 / sqrt(var[j] + (double)L->epsilon));
    for (size_t r = 0; r < rows; r++) {
        const float *x = c->x[0] + r * C;
        float *xh = xhat + r * C, *y = c->y + r * C;
        for (int j = 0; j < C; j++) {
            xh[j] = (float)((x[j] - mean[j]) * inv[j]);
            y[j] = gamma[j] * xh[j] + beta[j];
        }
    }
    /* moving statistics (the caller serialises training forwards) */
    nn_layer *Lw = c->Lw;
    if (Lw) {
        double m = L->momentum;
        double adj = (L->rank == 3 && rows > 1) ? (double)rows / (double)(rows - 1) : 1.0;
        float *mm = Lw->p[2].w, *mv = Lw->p[3].w;
        for (int j = 0; j < C; j++) {
            mm[j] = (float)(mm[j] * m + mean[j] * (1.0 - m));
            mv[j] = (float)(mv[j] * m + var[j] * adj * (1.0 - m));
        }
    }
}

static void nn_bn_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int C = L->shape[L->rank - 1];
    size_t rows = (size_t)c->batch * (L->out_size / (size_t)C);
    const float *gamma = L->p[0].w;
    const float *d = c->dy;
    if (!c->icache[0]) {
        /* inference-mode forward: y = (x - mean) * s + beta, constant stats */
        if (c->dx[0]) {
            const float *var = L->p[3].w;
            float *s = c->scratch;
            for (int j = 0; j < C; j++)
                s[j] = (float)(gamma[j] / sqrt((double)var[j] + (double)L->epsilon));
            for (size_t r = 0; r < rows; r++)
                for (int j = 0; j < C; j++)
                    c->dx[0][r * C + j] += d[r * C + j] * s[j];
        }
        /* gamma and beta still get their gradients if asked */
        if (c->g[0] || c->g[1]) {
            const float *mean = L->p[2].w, *var = L->p[3].w;
            for (size_t r = 0; r < rows; r++)
                for (int j = 0; j < C; j++) {
                    float xh = (float)((c->x[0][r * C + j] - mean[j]) /
                                       sqrt((double)var[j] + (double)L->epsilon));
                    if (c->g[0])
                        c->g[0][j] += d[r * C + j] * xh;
                    if (c->g[1])
                        c->g[1][j] += d[r * C + j];
                }
        }
        return;
    }
    const float *xhat = c->cache, *inv = c->cache + (size_t)c->batch * L->out_size;
    double *sd = (double *)c->scratch, *sdx = sd + C; /* 2C doubles */
    for (int j = 0; j < C; j++)
        sd[j] = sdx[j] = 0.0;
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < C; j++) {
            sd[j] += d[r * C + j];
            sdx[j] += (double)d[r * C + j] * xhat[r * C + j];
        }
    if (c->g[0])
        for (int j = 0; j < C; j++)
            c->g[0][j] += (float)sdx[j];
    if (c->g[1])
        for (int j = 0; j < C; j++)
            c->g[1][j] += (float)sd[j];
    if (c->dx[0]) {
        double n = (double)rows;
        for (size_t r = 0; r < rows; r++)
            for (int j = 0; j < C; j++) {
                double k = (double)gamma[j] * inv[j] / n;
                c->dx[0][r * C + j] +=
                    (float)(k * (n * d[r * C + j] - sd[j] - xhat[r * C + j] * sdx[j]));
            }
    }
}

/* ---- descriptor ------------------------------------------------------------ */

static int bn_check(nn_layer *L, sv_error *err)
{
    if (!(L->epsilon > 0.0f) || !isfinite(L->epsilon))
        return sv_error_set(err, SV_ERR_ARG,
                            "layer '%s' (batch_normalization): epsilon %g must be > 0", L->name,
                            (double)L->epsilon);
    if (!(L->momentum >= 0.0f && L->momentum <= 1.0f))
        return sv_error_set(err, SV_ERR_ARG,
                            "layer '%s' (batch_normalization): momentum %g not in [0,1]",
                            L->name, (double)L->momentum);
    return 0;
}

static int bn_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out, sv_error *err)
{
    (void)L;
    (void)err;
    const nn_layer *In0 = in[0];
    int c = In0->shape[In0->rank - 1];
    nn_shape_set(out, In0->rank, In0->shape);
    nn_shape_param(out, "gamma", 1, c, 0, 0, 0, 1);
    nn_shape_param(out, "beta", 1, c, 0, 0, 0, 1);
    nn_shape_param(out, "moving_mean", 1, c, 0, 0, 0, 0);
    nn_shape_param(out, "moving_variance", 1, c, 0, 0, 0, 0);
    return 0;
}

static void bn_mem(const nn_layer *L, const nn_layer *const *in, int max_batch, int training,
                   nn_mem *m)
{
    (void)in;
    size_t C = (size_t)L->shape[L->rank - 1];
    m->scratch = 4 * C; /* 2C doubles */
    if (training) {
        m->cache = (size_t)max_batch * L->out_size + C;
        m->icache = 1;
    }
}

static void bn_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    nn_describe_add(buf, cap, &k, "eps %g mom %g", (double)L->epsilon, (double)L->momentum);
}

static const char *const bn_aliases[] = {"batchnormalization", "batchnorm", NULL};

const nn_op nn_op_batchnorm = {
    .name = "batch_normalization",
    .aliases = bn_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .check = bn_check,
    .shape = bn_shape,
    .mem = bn_mem,
    .forward = nn_bn_forward,
    .backward = nn_bn_backward,
    .describe = bn_describe,
};
