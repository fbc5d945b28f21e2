/* nn_layer_mask.c — Keras Masking and the step mask that masked recurrent
 * layers read (nn.h); forward and backward.  See nn_layers.h.
 *
 * Keras: mask = any(x != mask_value, axis=-1); Masking outputs x * mask. */
#include <math.h>
#include <string.h>

#include "nn/nn_ops.h"

/* Does the step (F values) hold a value other than the mask value?  NaN
 * differs from everything: kept, as in Keras. */
static int step_kept(const float *v, int F, float mask_value)
{
    for (int f = 0; f < F; f++)
        if (v[f] != mask_value)
            return 1;
    return 0;
}

void nn_seq_mask(const float *x, int N, int T, int F, float mask_value, int *keep)
{
    for (size_t s = 0; s < (size_t)N * T; s++)
        keep[s] = step_kept(x + s * F, F, mask_value);
}

static void nn_masking_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    const int T = L->shape[0], F = L->shape[1];
    for (size_t s = 0; s < (size_t)c->batch * T; s++) {
        const float *x = c->x[0] + s * F;
        if (step_kept(x, F, L->mask_value))
            memcpy(c->y + s * F, x, (size_t)F * sizeof(float));
        else
            memset(c->y + s * F, 0, (size_t)F * sizeof(float));
    }
}

static void nn_masking_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    if (!c->dx[0])
        return;
    const int T = L->shape[0], F = L->shape[1];
    for (size_t s = 0; s < (size_t)c->batch * T; s++)
        if (step_kept(c->x[0] + s * F, F, L->mask_value))
            for (int f = 0; f < F; f++)
                c->dx[0][s * F + f] += c->dy[s * F + f];
}

static int masking_check(nn_layer *L, sv_error *err)
{
    if (!isfinite(L->mask_value))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (masking): mask value %g", L->name,
                            (double)L->mask_value);
    return 0;
}

static int masking_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                         sv_error *err)
{
    (void)L;
    (void)err;
    nn_shape_set(out, 2, in[0]->shape);
    return 0;
}

static void masking_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    nn_describe_add(buf, cap, &k, "mask %g", (double)L->mask_value);
}

const nn_op nn_op_masking = {
    .name = "masking",
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 2,
    .in_what = "a sequence input (T,F)",
    .check = masking_check,
    .shape = masking_shape,
    .forward = nn_masking_forward,
    .backward = nn_masking_backward,
    .describe = masking_describe,
};
