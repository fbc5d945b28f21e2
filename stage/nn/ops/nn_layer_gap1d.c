/* nn_layer_gap1d.c — GlobalAveragePooling1D (Keras): (steps, channels) ->
 * (channels), the mean over the steps; forward and backward.  See
 * nn/nn_ops.h.
 *
 * Masks: the engine carries a Keras mask as a second producer (nn.h), as
 * for GRU and LSTM.  With two producers, step t of a sample counts when
 * in[1] holds a value other than mask_value at t, and the output is the
 * mean over the counted steps, as Keras' masked GlobalAveragePooling1D
 * (sum(x * mask) / sum(mask)).  A sample whose every step is masked gives
 * zeros (Keras divides 0 by 0: NaN).  With one producer every step counts,
 * as Keras without a mask.
 *
 * scratch: C doubles (the sums); icache (masked): max_batch * T ints, the
 * kept steps, written by forward and read by backward. */
#include <math.h>
#include <string.h>

#include "nn/nn_ops.h"

static void gap1d_forward(nn_lctx *c)
{
    const nn_layer *In = c->in_layer[0];
    const int T = In->shape[0], C = In->shape[1];
    const int masked = c->L->n_in == 2;
    double *acc = (double *)c->scratch;
    if (masked)
        nn_seq_mask(c->x[1], c->batch, T, c->in_layer[1]->shape[1], c->L->mask_value,
                    c->icache);
    for (int s = 0; s < c->batch; s++) {
        const float *x = c->x[0] + (size_t)s * In->out_size;
        const int *keep = masked ? c->icache + (size_t)s * T : NULL;
        int n = 0;
        for (int ci = 0; ci < C; ci++)
            acc[ci] = 0.0;
        for (int t = 0; t < T; t++) {
            if (keep && !keep[t])
                continue;
            n++;
            for (int ci = 0; ci < C; ci++)
                acc[ci] += x[(size_t)t * C + ci];
        }
        float *y = c->y + (size_t)s * C;
        for (int ci = 0; ci < C; ci++)
            y[ci] = n ? (float)(acc[ci] / n) : 0.0f;
    }
}

static void gap1d_backward(nn_lctx *c)
{
    if (!c->dx[0])
        return; /* the mask producer gets no gradient: the mask is a step function */
    const nn_layer *In = c->in_layer[0];
    const int T = In->shape[0], C = In->shape[1];
    const int masked = c->L->n_in == 2;
    for (int s = 0; s < c->batch; s++) {
        const int *keep = masked ? c->icache + (size_t)s * T : NULL;
        int n = T;
        if (keep) {
            n = 0;
            for (int t = 0; t < T; t++)
                n += keep[t] != 0;
        }
        if (!n)
            continue;
        float inv = 1.0f / (float)n;
        float *dx = c->dx[0] + (size_t)s * In->out_size;
        const float *d = c->dy + (size_t)s * C;
        for (int t = 0; t < T; t++) {
            if (keep && !keep[t])
                continue;
            for (int ci = 0; ci < C; ci++)
                dx[(size_t)t * C + ci] += d[ci] * inv;
        }
    }
}

static int gap1d_check(nn_layer *L, sv_error *err)
{
    if (!isfinite(L->mask_value))
        return sv_error_set(err, SV_ERR_ARG,
                            "layer '%s' (global_average_pooling1d): mask value %g", L->name,
                            (double)L->mask_value);
    return 0;
}

static int gap1d_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                       sv_error *err)
{
    int dims[1] = {in[0]->shape[1]};
    nn_shape_set(out, 1, dims);
    return nn_seq_mask_input(L, in, err);
}

static void gap1d_mem(const nn_layer *L, const nn_layer *const *in, int max_batch,
                      int training, nn_mem *m)
{
    (void)training;
    m->scratch = 2 * (size_t)L->shape[0]; /* C doubles */
    if (L->n_in == 2)
        m->icache = (size_t)max_batch * in[0]->shape[0];
}

static void gap1d_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    if (L->n_in == 2)
        nn_describe_add(buf, cap, &k, "masked(%g)", (double)L->mask_value);
}

static const char *const gap1d_aliases[] = {"globalaveragepooling1d", "globalavgpool1d", NULL};

const nn_op nn_op_global_avgpool1d = {
    .name = "global_average_pooling1d",
    .aliases = gap1d_aliases,
    .n_in_min = 1,
    .n_in_max = 2,
    .in_rank = 2,
    .in_what = "a sequence input (T,C)",
    .check = gap1d_check,
    .shape = gap1d_shape,
    .mem = gap1d_mem,
    .forward = gap1d_forward,
    .backward = gap1d_backward,
    .describe = gap1d_describe,
};
