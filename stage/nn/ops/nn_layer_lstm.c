/* nn_layer_lstm.c — Keras LSTM, forward and backward (full BPTT), with
 * Keras masking.  See nn_layers.h.
 *
 * Gate order i, f, c, o in the 4u columns of kernel / recurrent_kernel /
 * bias (Keras).  Initial state h = c = 0.  ra = recurrent activation,
 * act = activation:
 *   z = x W + h U + b
 *   i = ra(z_i), f = ra(z_f), g = act(z_c), o = ra(z_o)
 *   c' = f * c + i * g,  h' = o * act(c')
 * Masked (two producers, nn.h): at a masked step h' = h, c' = c (and the
 * output repeats the previous one), as Keras' K.rnn does.
 *
 * cache layout (floats), N = max batch, T steps, u units, each [N][T][k]
 * block sample-major:
 *   xp N*T*4u | hs N*T*u | cs N*T*u | h0 N*u | c0 N*u | step N*4u
 *   training: gates N*T*4u (after activation) | ac N*T*u (act(c')) |
 *             dz N*T*4u | dh N*u | dc N*u | tmp N*u
 * icache (masked layers): keep N*T (1 = step used, 0 = masked).
 */
#include <cblas.h>
#include <string.h>

#include "nn/nn_ops.h"

typedef struct lstm_buf {
    float *xp, *hs, *cs, *h0, *c0, *step;
    float *gates, *ac, *dz, *dh, *dc, *tmp;
} lstm_buf;

static size_t lstm_bufs(const nn_layer *L, const nn_layer *In, int max_batch, int training,
                        float *base, lstm_buf *b)
{
    size_t N = (size_t)max_batch, T = (size_t)In->shape[0], u = (size_t)L->units;
    size_t off = 0;
#define TAKE(field, n)                                                         \
    do {                                                                       \
        if (base)                                                              \
            b->field = base + off;                                             \
        off += (n);                                                            \
    } while (0)
    TAKE(xp, N * T * 4 * u);
    TAKE(hs, N * T * u);
    TAKE(cs, N * T * u);
    TAKE(h0, N * u);
    TAKE(c0, N * u);
    TAKE(step, N * 4 * u);
    if (training) {
        TAKE(gates, N * T * 4 * u);
        TAKE(ac, N * T * u);
        TAKE(dz, N * T * 4 * u);
        TAKE(dh, N * u);
        TAKE(dc, N * u);
        TAKE(tmp, N * u);
    }
#undef TAKE
    return off;
}

static size_t nn_lstm_cache_size(const nn_layer *L, const nn_layer *In, int max_batch, int training)
{
    lstm_buf b;
    return lstm_bufs(L, In, max_batch, training, NULL, &b);
}

static void nn_lstm_forward(nn_lctx *c)
{
    const nn_layer *L = c->L, *In = c->in_layer[0];
    const int N = c->batch, T = In->shape[0], F = In->shape[1], u = L->units, u4 = 4 * u;
    lstm_buf b;
    lstm_bufs(L, In, c->max_batch, c->training, c->cache, &b);
    const float *W = L->p[0].w, *U = L->p[1].w;
    const float *bias = L->use_bias ? L->p[2].w : NULL;
    int *keep = L->n_in == 2 ? c->icache : NULL;
    if (keep)
        nn_seq_mask(c->x[1], N, T, c->in_layer[1]->shape[1], L->mask_value, keep);

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N * T, u4, F, 1.0f, c->x[0], F, W, u4,
                0.0f, b.xp, u4);
    if (bias)
        for (size_t i = 0; i < (size_t)N * T; i++)
            for (int j = 0; j < u4; j++)
                b.xp[i * u4 + j] += bias[j];
    memset(b.h0, 0, (size_t)N * u * sizeof(float));
    memset(b.c0, 0, (size_t)N * u * sizeof(float));

    for (int t = 0; t < T; t++) {
        const float *hp = t ? b.hs + (size_t)(t - 1) * u : b.h0;
        const float *cp = t ? b.cs + (size_t)(t - 1) * u : b.c0;
        const int ldh = t ? T * u : u;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, u4, u, 1.0f, hp, ldh, U, u4,
                    0.0f, b.step, u4);
        for (int n = 0; n < N; n++) {
            size_t o = (size_t)n * T + t;
            float *z = b.step + (size_t)n * u4;
            const float *xp = b.xp + o * u4;
            const float *hprev = hp + (size_t)n * ldh, *cprev = cp + (size_t)n * ldh;
            float *h = b.hs + o * u, *cc = b.cs + o * u;
            for (int j = 0; j < u4; j++)
                z[j] += xp[j];
            nn_act_forward(L->recurrent_act, 0.0f, z, 2, u); /* i, f */
            nn_act_forward(L->act, L->alpha, z + 2 * u, 1, u);
            nn_act_forward(L->recurrent_act, 0.0f, z + 3 * u, 1, u);
            for (int j = 0; j < u; j++)
                cc[j] = z[u + j] * cprev[j] + z[j] * z[2 * u + j];
            memcpy(h, cc, (size_t)u * sizeof(float));
            nn_act_forward(L->act, L->alpha, h, 1, u);
            if (c->training) {
                memcpy(b.gates + o * u4, z, (size_t)u4 * sizeof(float));
                memcpy(b.ac + o * u, h, (size_t)u * sizeof(float));
            }
            for (int j = 0; j < u; j++)
                h[j] *= z[3 * u + j];
            if (keep && !keep[o]) { /* masked: keep the state */
                memcpy(h, hprev, (size_t)u * sizeof(float));
                memcpy(cc, cprev, (size_t)u * sizeof(float));
            }
        }
    }
    if (L->return_sequences)
        memcpy(c->y, b.hs, (size_t)N * T * u * sizeof(float));
    else
        for (int n = 0; n < N; n++)
            memcpy(c->y + (size_t)n * u, b.hs + ((size_t)n * T + T - 1) * u,
                   (size_t)u * sizeof(float));
}

static void nn_lstm_backward(nn_lctx *c)
{
    const nn_layer *L = c->L, *In = c->in_layer[0];
    const int N = c->batch, T = In->shape[0], F = In->shape[1], u = L->units, u4 = 4 * u;
    lstm_buf b;
    lstm_bufs(L, In, c->max_batch, 1, c->cache, &b);
    const float *W = L->p[0].w, *U = L->p[1].w;
    const int *keep = L->n_in == 2 ? c->icache : NULL;
    float *gW = c->g[0], *gU = c->g[1], *gb = L->use_bias ? c->g[2] : NULL;

    memset(b.dh, 0, (size_t)N * u * sizeof(float));
    memset(b.dc, 0, (size_t)N * u * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const float *hp = t ? b.hs + (size_t)(t - 1) * u : b.h0;
        const float *cp = t ? b.cs + (size_t)(t - 1) * u : b.c0;
        const int ldh = t ? T * u : u;
        for (int n = 0; n < N; n++) {
            size_t o = (size_t)n * T + t;
            float *dh = b.dh + (size_t)n * u, *dc = b.dc + (size_t)n * u;
            float *dz = b.dz + o * u4, *tmp = b.tmp + (size_t)n * u;
            const float *dy = NULL;
            if (L->return_sequences)
                dy = c->dy + o * u;
            else if (t == T - 1)
                dy = c->dy + (size_t)n * u;
            if (dy)
                for (int j = 0; j < u; j++)
                    dh[j] += dy[j];
            if (keep && !keep[o]) { /* masked: the gradient passes to t-1 */
                memset(dz, 0, (size_t)u4 * sizeof(float));
                continue;
            }
            const float *g = b.gates + o * u4, *ac = b.ac + o * u;
            const float *cprev = cp + (size_t)n * ldh;
            for (int j = 0; j < u; j++)
                tmp[j] = dh[j] * g[3 * u + j];
            nn_act_backward(L->act, L->alpha, ac, tmp, 1, u); /* d c' */
            for (int j = 0; j < u; j++) {
                float dct = dc[j] + tmp[j];
                dz[j] = dct * g[2 * u + j];          /* d i */
                dz[u + j] = dct * cprev[j];          /* d f */
                dz[2 * u + j] = dct * g[j];          /* d g */
                dz[3 * u + j] = dh[j] * ac[j];       /* d o */
                dc[j] = dct * g[u + j];              /* d c for step t-1 */
                dh[j] = 0.0f;                        /* refilled below   */
            }
            nn_act_backward(L->recurrent_act, 0.0f, g, dz, 2, u);
            nn_act_backward(L->act, L->alpha, g + 2 * u, dz + 2 * u, 1, u);
            nn_act_backward(L->recurrent_act, 0.0f, g + 3 * u, dz + 3 * u, 1, u);
        }
        /* dh(t-1) = dz U^T (+ the carried gradient of masked samples) */
        const float *dzt = b.dz + (size_t)t * u4;
        if (t > 0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, u, u4, 1.0f, dzt, T * u4, U,
                        u4, 1.0f, b.dh, u);
            if (gU)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, u, u4, N, 1.0f, hp, ldh, dzt,
                            T * u4, 1.0f, gU, u4);
        }
    }
    if (gW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, F, u4, N * T, 1.0f, c->x[0], F, b.dz,
                    u4, 1.0f, gW, u4);
    if (gb)
        for (size_t i = 0; i < (size_t)N * T; i++)
            for (int j = 0; j < u4; j++)
                gb[j] += b.dz[i * u4 + j];
    if (c->dx[0])
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N * T, F, u4, 1.0f, b.dz, u4, W, u4,
                    1.0f, c->dx[0], F);
}

/* ---- descriptor ------------------------------------------------------------ */

static int lstm_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                      sv_error *err)
{
    const nn_layer *In0 = in[0];
    int T = In0->shape[0], F = In0->shape[1], u = L->units;
    if ((long)4 * u > NN_DIM_LIMIT)
        return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (lstm): too many units", L->name);
    int dims[2] = {L->return_sequences ? T : u, u};
    nn_shape_set(out, L->return_sequences ? 2 : 1, dims);
    nn_shape_param(out, "kernel", 2, F, 4 * u, 0, 0, 1);
    nn_shape_param(out, "recurrent_kernel", 2, u, 4 * u, 0, 0, 1);
    if (L->use_bias)
        nn_shape_param(out, "bias", 1, 4 * u, 0, 0, 0, 1);
    return nn_seq_mask_input(L, in, err);
}

static void lstm_mem(const nn_layer *L, const nn_layer *const *in, int max_batch, int training,
                     nn_mem *m)
{
    m->cache = nn_lstm_cache_size(L, in[0], max_batch, training);
    if (L->n_in == 2)
        m->icache = (size_t)max_batch * in[0]->shape[0];
}

/* Keras defaults, and unit_forget_bias: the forget gate's bias starts at 1 */
static void lstm_init(nn_layer *L, sv_xoshiro *r)
{
    nn_init_default(L, r);
    if (L->use_bias && L->n_params == 3)
        for (int k = 0; k < L->units; k++)
            L->p[2].w[L->units + k] = 1.0f;
}

const nn_op nn_op_lstm = {
    .name = "lstm",
    .n_in_min = 1,
    .n_in_max = 2,
    .in_rank = 2,
    .in_what = "a sequence input (T,F)",
    .defaults = nn_rnn_defaults,
    .check = nn_rnn_check,
    .shape = lstm_shape,
    .mem = lstm_mem,
    .forward = nn_lstm_forward,
    .backward = nn_lstm_backward,
    .init = lstm_init,
    .describe = nn_rnn_describe,
};
