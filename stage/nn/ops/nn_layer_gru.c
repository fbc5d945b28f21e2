/* nn_layer_gru.c — Keras GRU, forward and backward (full BPTT).
 * See nn_layers.h.
 *
 * Gate order z, r, h in the 3u columns of kernel / recurrent_kernel / bias.
 * Initial state 0.  ra = recurrent activation, act = activation.
 *   xp = x W + b_in                 (b_in = bias, or bias[0] when reset_after)
 *   reset_after = 0:
 *     z = ra(xp_z + h U_z), r = ra(xp_r + h U_r)
 *     hh = act(xp_h + (r * h) U_h)
 *   reset_after = 1:                (b_rec = bias[1])
 *     in = h U + b_rec
 *     z = ra(xp_z + in_z), r = ra(xp_r + in_r), hh = act(xp_h + r * in_h)
 *   h' = z * h + (1 - z) * hh
 * Masked (two producers, nn.h): at a masked step h' = h, as Keras' K.rnn.
 *
 * cache layout (floats), N = max batch, T steps, u units, with every
 * [N][T][k] block sample-major like the layer's own tensors:
 *   xp  N*T*3u | hs N*T*u | h0 N*u (zeros) | step N*3u | tmp N*u
 *   training: z, r, hh, inn (N*T*u each) | dxp N*T*3u | dh, dhp N*u | dg N*3u
 *             | carry N*u (the gradient a masked step passes on)
 * icache (masked layers): keep N*T (1 = step used, 0 = masked).
 */
#include <cblas.h>
#include <string.h>

#include "nn/nn_ops.h"

typedef struct gru_buf {
    float *xp, *hs, *h0, *step, *tmp;
    float *z, *r, *hh, *inn, *dxp, *dh, *dhp, *dg, *carry;
} gru_buf;

static void gru_bufs(const nn_layer *L, const nn_layer *In, int max_batch, int training,
                     float *base, gru_buf *b, size_t *total)
{
    size_t N = (size_t)max_batch, T = (size_t)In->shape[0], u = (size_t)L->units;
    size_t off = 0;
#define TAKE(field, n)                                                         \
    do {                                                                       \
        if (base)                                                              \
            b->field = base + off;                                             \
        off += (n);                                                            \
    } while (0)
    TAKE(xp, N * T * 3 * u);
    TAKE(hs, N * T * u);
    TAKE(h0, N * u);
    TAKE(step, N * 3 * u);
    TAKE(tmp, N * u);
    if (training) {
        TAKE(z, N * T * u);
        TAKE(r, N * T * u);
        TAKE(hh, N * T * u);
        TAKE(inn, N * T * u);
        TAKE(dxp, N * T * 3 * u);
        TAKE(dh, N * u);
        TAKE(dhp, N * u);
        TAKE(dg, N * 3 * u);
        TAKE(carry, N * u);
    }
#undef TAKE
    *total = off;
}

static size_t nn_gru_cache_size(const nn_layer *L, const nn_layer *In, int max_batch, int training)
{
    gru_buf b;
    size_t n;
    gru_bufs(L, In, max_batch, training, NULL, &b, &n);
    return n;
}

/* The cache is laid out for the workspace's max batch; the batch of this
 * call only uses a prefix of each block (every block is sample-major). */

static float ract(nn_act a, float x)
{
    nn_act_forward(a, 0.0f, &x, 1, 1);
    return x;
}

/* The derivative, from the activation's output y. */
static float ract_grad(nn_act a, float y)
{
    float d = 1.0f;
    nn_act_backward(a, 0.0f, &y, &d, 1, 1);
    return d;
}

static void nn_gru_forward(nn_lctx *c)
{
    const nn_layer *L = c->L, *In = c->in_layer[0];
    int N = c->batch, T = In->shape[0], F = In->shape[1], u = L->units, u3 = 3 * u;
    int max_batch = c->max_batch;
    gru_buf b;
    size_t tot;
    gru_bufs(L, In, max_batch, c->training, c->cache, &b, &tot);
    const float *W = L->p[0].w, *U = L->p[1].w;
    const float *b_in = L->use_bias ? L->p[2].w : NULL;
    const float *b_rec = (L->use_bias && L->reset_after) ? L->p[2].w + u3 : NULL;
    int ra = L->reset_after;
    int *keep = L->n_in == 2 ? c->icache : NULL;
    if (keep)
        nn_seq_mask(c->x[1], N, T, c->in_layer[1]->shape[1], L->mask_value, keep);

    /* input projections for every step at once */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N * T, u3, F, 1.0f, c->x[0], F, W, u3,
                0.0f, b.xp, u3);
    if (b_in)
        for (size_t i = 0; i < (size_t)N * T; i++)
            for (int j = 0; j < u3; j++)
                b.xp[i * u3 + j] += b_in[j];
    memset(b.h0, 0, (size_t)N * u * sizeof(float));

    for (int t = 0; t < T; t++) {
        const float *hp = t ? b.hs + (size_t)(t - 1) * u : b.h0;
        int ldh = t ? T * u : u;
        if (ra) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, u3, u, 1.0f, hp, ldh, U, u3,
                        0.0f, b.step, u3);
            if (b_rec)
                for (int n = 0; n < N; n++)
                    for (int j = 0; j < u3; j++)
                        b.step[(size_t)n * u3 + j] += b_rec[j];
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, 2 * u, u, 1.0f, hp, ldh, U,
                        u3, 0.0f, b.step, u3);
        }
        /* gates z, r */
        for (int n = 0; n < N; n++) {
            const float *xp = b.xp + ((size_t)n * T + t) * u3;
            const float *st = b.step + (size_t)n * u3;
            const float *h = hp + (size_t)n * ldh;
            float *tmp = b.tmp + (size_t)n * u;
            for (int j = 0; j < u; j++) {
                float z = ract(L->recurrent_act, xp[j] + st[j]);
                float r = ract(L->recurrent_act, xp[u + j] + st[u + j]);
                /* park z in hs(t) until h is computed; r goes to tmp/cache */
                b.hs[((size_t)n * T + t) * u + j] = z;
                if (c->training) {
                    b.z[((size_t)n * T + t) * u + j] = z;
                    b.r[((size_t)n * T + t) * u + j] = r;
                }
                tmp[j] = ra ? r : r * h[j];
            }
        }
        if (!ra) /* (r * h) U_h */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, u, u, 1.0f, b.tmp, u,
                        U + 2 * u, u3, 0.0f, b.step + 2 * u, u3);
        for (int n = 0; n < N; n++) {
            const float *xp = b.xp + ((size_t)n * T + t) * u3;
            const float *st = b.step + (size_t)n * u3;
            const float *h = hp + (size_t)n * ldh;
            const float *tmp = b.tmp + (size_t)n * u;
            float *hs = b.hs + ((size_t)n * T + t) * u;
            float *hh = b.step + (size_t)n * u3; /* z, r columns are free now */
            for (int j = 0; j < u; j++)
                hh[j] = ra ? xp[2 * u + j] + tmp[j] * st[2 * u + j] : xp[2 * u + j] + st[2 * u + j];
            if (c->training && ra)
                memcpy(b.inn + ((size_t)n * T + t) * u, st + 2 * u, (size_t)u * sizeof(float));
            nn_act_forward(L->act, L->alpha, hh, 1, u);
            for (int j = 0; j < u; j++) {
                float z = hs[j];
                if (c->training)
                    b.hh[((size_t)n * T + t) * u + j] = hh[j];
                hs[j] = z * h[j] + (1.0f - z) * hh[j];
            }
            if (keep && !keep[(size_t)n * T + t]) /* masked: keep the state */
                memcpy(hs, h, (size_t)u * sizeof(float));
        }
    }
    /* output */
    if (L->return_sequences) {
        memcpy(c->y, b.hs, (size_t)N * T * u * sizeof(float));
    } else {
        for (int n = 0; n < N; n++)
            memcpy(c->y + (size_t)n * u, b.hs + ((size_t)n * T + T - 1) * u,
                   (size_t)u * sizeof(float));
    }
}

static void nn_gru_backward(nn_lctx *c)
{
    const nn_layer *L = c->L, *In = c->in_layer[0];
    int N = c->batch, T = In->shape[0], F = In->shape[1], u = L->units, u3 = 3 * u;
    int max_batch = c->max_batch;
    gru_buf b;
    size_t tot;
    gru_bufs(L, In, max_batch, 1, c->cache, &b, &tot);
    const float *W = L->p[0].w, *U = L->p[1].w;
    int ra = L->reset_after;
    float *gW = c->g[0], *gU = c->g[1], *gb = L->use_bias ? c->g[2] : NULL;
    const int *keep = L->n_in == 2 ? c->icache : NULL;

    memset(b.dh, 0, (size_t)N * u * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const float *hp = t ? b.hs + (size_t)(t - 1) * u : b.h0;
        int ldh = t ? T * u : u;
        /* incoming gradient of h_t */
        for (int n = 0; n < N; n++) {
            float *dh = b.dh + (size_t)n * u;
            const float *dy = NULL;
            if (L->return_sequences)
                dy = c->dy + ((size_t)n * T + t) * u;
            else if (t == T - 1)
                dy = c->dy + (size_t)n * u;
            if (dy)
                for (int j = 0; j < u; j++)
                    dh[j] += dy[j];
            /* a masked step passes its whole gradient to step t-1: set it
             * aside, and the gates see none */
            if (keep && !keep[(size_t)n * T + t]) {
                memcpy(b.carry + (size_t)n * u, dh, (size_t)u * sizeof(float));
                memset(dh, 0, (size_t)u * sizeof(float));
            }
        }
        /* through h' = z h + (1-z) hh and the candidate activation */
        for (int n = 0; n < N; n++) {
            size_t o = ((size_t)n * T + t) * u;
            const float *dh = b.dh + (size_t)n * u, *h = hp + (size_t)n * ldh;
            const float *z = b.z + o, *hh = b.hh + o;
            float *dxp = b.dxp + ((size_t)n * T + t) * u3;
            float *dhp = b.dhp + (size_t)n * u;
            for (int j = 0; j < u; j++) {
                dxp[j] = dh[j] * (h[j] - hh[j]);        /* dz (pre ract') */
                dxp[2 * u + j] = dh[j] * (1.0f - z[j]); /* dhh (pre act') */
                dhp[j] = dh[j] * z[j];
            }
            nn_act_backward(L->act, L->alpha, hh, dxp + 2 * u, 1, u);
        }
        /* reset gate gradient and the candidate's recurrent path */
        if (ra) {
            for (int n = 0; n < N; n++) {
                size_t o = ((size_t)n * T + t) * u;
                float *dxp = b.dxp + ((size_t)n * T + t) * u3;
                float *dg = b.dg + (size_t)n * u3;
                const float *r = b.r + o, *inn = b.inn + o;
                for (int j = 0; j < u; j++) {
                    dxp[u + j] = dxp[2 * u + j] * inn[j]; /* dr */
                    dg[2 * u + j] = dxp[2 * u + j] * r[j]; /* d inner_h */
                }
            }
        } else {
            /* drh = dhh_pre U_h^T into tmp; gU_h += (r h)^T dhh_pre */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, u, u, 1.0f, b.dxp + (size_t)t * u3 + 2 * u,
                        T * u3, U + 2 * u, u3, 0.0f, b.tmp, u);
            if (gU && t > 0) {
                /* r*h into step (free as scratch here), ld u */
                for (int n = 0; n < N; n++)
                    for (int j = 0; j < u; j++)
                        b.step[(size_t)n * u + j] =
                            b.r[((size_t)n * T + t) * u + j] * hp[(size_t)n * ldh + j];
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, u, u, N, 1.0f, b.step, u,
                            b.dxp + (size_t)t * u3 + 2 * u, T * u3, 1.0f, gU + 2 * u, u3);
            }
            for (int n = 0; n < N; n++) {
                size_t o = ((size_t)n * T + t) * u;
                float *dxp = b.dxp + ((size_t)n * T + t) * u3;
                const float *drh = b.tmp + (size_t)n * u, *h = hp + (size_t)n * ldh;
                const float *r = b.r + o;
                float *dhp = b.dhp + (size_t)n * u;
                for (int j = 0; j < u; j++) {
                    dxp[u + j] = drh[j] * h[j]; /* dr */
                    dhp[j] += drh[j] * r[j];
                }
            }
        }
        /* through the recurrent activation */
        for (int n = 0; n < N; n++) {
            size_t o = ((size_t)n * T + t) * u;
            float *dxp = b.dxp + ((size_t)n * T + t) * u3;
            const float *z = b.z + o, *r = b.r + o;
            float *dg = b.dg + (size_t)n * u3;
            for (int j = 0; j < u; j++) {
                dxp[j] *= ract_grad(L->recurrent_act, z[j]);
                dxp[u + j] *= ract_grad(L->recurrent_act, r[j]);
                dg[j] = dxp[j];
                dg[u + j] = dxp[u + j];
            }
        }
        /* recurrent kernel and state gradients */
        int ncol = ra ? u3 : 2 * u;
        if (gU && t > 0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, u, ncol, N, 1.0f, hp, ldh, b.dg,
                        u3, 1.0f, gU, u3);
        if (ra && gb)
            for (int n = 0; n < N; n++)
                for (int j = 0; j < u3; j++)
                    gb[u3 + j] += b.dg[(size_t)n * u3 + j];
        if (t > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, u, ncol, 1.0f, b.dg, u3, U,
                        u3, 1.0f, b.dhp, u);
        /* dh for step t-1 */
        memcpy(b.dh, b.dhp, (size_t)N * u * sizeof(float));
        if (keep)
            for (int n = 0; n < N; n++)
                if (!keep[(size_t)n * T + t])
                    for (int j = 0; j < u; j++)
                        b.dh[(size_t)n * u + j] += b.carry[(size_t)n * u + j];
    }
    /* input kernel, input bias and input gradients from dxp (N*T x 3u) */
    if (gW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, F, u3, N * T, 1.0f, c->x[0], F,
                    b.dxp, u3, 1.0f, gW, u3);
    if (gb)
        for (size_t i = 0; i < (size_t)N * T; i++)
            for (int j = 0; j < u3; j++)
                gb[j] += b.dxp[i * u3 + j];
    if (c->dx[0])
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N * T, F, u3, 1.0f, b.dxp, u3, W, u3,
                    1.0f, c->dx[0], F);
}

/* ---- descriptor ------------------------------------------------------------ */

static int gru_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                     sv_error *err)
{
    const nn_layer *In0 = in[0];
    int T = In0->shape[0], F = In0->shape[1], u = L->units;
    if ((long)3 * u > NN_DIM_LIMIT)
        return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (gru): too many units", L->name);
    int dims[2] = {T, u};
    if (L->return_sequences)
        nn_shape_set(out, 2, dims);
    else
        nn_shape_set(out, 1, dims + 1);
    nn_shape_param(out, "kernel", 2, F, 3 * u, 0, 0, 1);
    nn_shape_param(out, "recurrent_kernel", 2, u, 3 * u, 0, 0, 1);
    if (L->use_bias) {
        if (L->reset_after)
            nn_shape_param(out, "bias", 2, 2, 3 * u, 0, 0, 1);
        else
            nn_shape_param(out, "bias", 1, 3 * u, 0, 0, 0, 1);
    }
    return nn_seq_mask_input(L, in, err);
}

static void gru_mem(const nn_layer *L, const nn_layer *const *in, int max_batch, int training,
                    nn_mem *m)
{
    m->cache = nn_gru_cache_size(L, in[0], max_batch, training);
    if (L->n_in == 2) /* the step mask */
        m->icache = (size_t)max_batch * in[0]->shape[0];
}

const nn_op nn_op_gru = {
    .name = "gru",
    .n_in_min = 1,
    .n_in_max = 2,
    .in_rank = 2,
    .in_what = "a sequence input (T,F)",
    .defaults = nn_rnn_defaults,
    .check = nn_rnn_check,
    .shape = gru_shape,
    .mem = gru_mem,
    .forward = nn_gru_forward,
    .backward = nn_gru_backward,
    .describe = nn_rnn_describe,
};
