/* nn_layer_conv1d.c — Keras Conv1D over a sequence (T, C): dilated, strided,
 * valid / same / causal padding, fused activation; forward and backward.
 * See nn_layers.h.
 *
 *   y[t, f] = act(b[f] + sum_{k, c} x[t*s - pb + k*d, c] W[k, c, f])
 * with x = 0 outside 0..T-1 (pb from nn_conv1d_geometry: causal pads
 * (K-1)*d steps in front, as Keras' causal padding).  Each kernel tap k is
 * one matrix product over the output steps whose input step exists (rows of
 * x strided by s).  No cache or scratch. */
#include <cblas.h>

#include "nn/nn_ops.h"

typedef struct conv1d_geom {
    int T, C, To, Fo, K, s, d, pb;
} conv1d_geom;

static void geom_of(const nn_lctx *c, conv1d_geom *g)
{
    const nn_layer *L = c->L, *In = c->in_layer[0];
    g->T = In->shape[0];
    g->C = In->shape[1];
    g->Fo = L->filters;
    g->K = L->kh;
    g->s = L->sh;
    g->d = L->dilation;
    nn_conv1d_geometry(g->T, g->K, g->s, g->d, L->padding, &g->To, &g->pb);
}

/* Output steps [lo, hi) whose input step t*s - pb + k*d lies in 0..T-1. */
static void tap_range(const conv1d_geom *g, int k, int *lo, int *hi)
{
    long off = (long)k * g->d - g->pb; /* input step of output 0 */
    long a = off >= 0 ? 0 : (-off + g->s - 1) / g->s;
    long b = off > g->T - 1 ? 0 : (g->T - 1 - off) / g->s + 1;
    if (b > g->To)
        b = g->To;
    *lo = (int)a;
    *hi = (int)(b > a ? b : a);
}

static void nn_conv1d_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    conv1d_geom g;
    geom_of(c, &g);
    const float *W = L->p[0].w, *bias = L->use_bias ? L->p[1].w : NULL;
    for (int n = 0; n < c->batch; n++) {
        const float *x = c->x[0] + (size_t)n * g.T * g.C;
        float *y = c->y + (size_t)n * g.To * g.Fo;
        for (int t = 0; t < g.To; t++)
            for (int f = 0; f < g.Fo; f++)
                y[(size_t)t * g.Fo + f] = bias ? bias[f] : 0.0f;
        for (int k = 0; k < g.K; k++) {
            int lo, hi;
            tap_range(&g, k, &lo, &hi);
            if (hi <= lo)
                continue;
            const float *xr = x + (size_t)((long)lo * g.s - g.pb + (long)k * g.d) * g.C;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, g.Fo, g.C, 1.0f, xr,
                        g.s * g.C, W + (size_t)k * g.C * g.Fo, g.Fo, 1.0f,
                        y + (size_t)lo * g.Fo, g.Fo);
        }
    }
    nn_act_forward(L->act, L->alpha, c->y, (size_t)c->batch * g.To, g.Fo);
}

static void nn_conv1d_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    conv1d_geom g;
    geom_of(c, &g);
    nn_act_backward(L->act, L->alpha, c->y, c->dy, (size_t)c->batch * g.To, g.Fo);
    const float *W = L->p[0].w;
    float *gW = c->g[0], *gb = L->use_bias ? c->g[1] : NULL;
    for (int n = 0; n < c->batch; n++) {
        const float *x = c->x[0] + (size_t)n * g.T * g.C;
        const float *dy = c->dy + (size_t)n * g.To * g.Fo;
        float *dx = c->dx[0] ? c->dx[0] + (size_t)n * g.T * g.C : NULL;
        if (gb)
            for (int t = 0; t < g.To; t++)
                for (int f = 0; f < g.Fo; f++)
                    gb[f] += dy[(size_t)t * g.Fo + f];
        for (int k = 0; k < g.K; k++) {
            int lo, hi;
            tap_range(&g, k, &lo, &hi);
            if (hi <= lo)
                continue;
            size_t row = (size_t)((long)lo * g.s - g.pb + (long)k * g.d);
            const float *dyr = dy + (size_t)lo * g.Fo;
            if (gW)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.C, g.Fo, hi - lo, 1.0f,
                            x + row * g.C, g.s * g.C, dyr, g.Fo, 1.0f,
                            gW + (size_t)k * g.C * g.Fo, g.Fo);
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, g.C, g.Fo, 1.0f, dyr,
                            g.Fo, W + (size_t)k * g.C * g.Fo, g.Fo, 1.0f, dx + row * g.C,
                            g.s * g.C);
        }
    }
}

/* ---- descriptor ------------------------------------------------------------ */

static int conv1d_check(nn_layer *L, sv_error *err)
{
    const char *nm = L->name;
    if (nn_bad_dim(L->filters) || nn_bad_dim(L->kh) || nn_bad_dim(L->sh) ||
        nn_bad_dim(L->dilation))
        return sv_error_set(err, SV_ERR_ARG,
                            "layer '%s' (conv1d): filters %d, kernel %d, stride %d, "
                            "dilation %d (all must be >= 1)",
                            nm, L->filters, L->kh, L->sh, L->dilation);
    if (L->padding != NN_PAD_VALID && L->padding != NN_PAD_SAME && L->padding != NN_PAD_CAUSAL)
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (conv1d): unknown padding %d", nm,
                            (int)L->padding);
    if (L->act == NN_ACT_SOFTMAX)
        return sv_error_set(err, SV_ERR_UNSUPPORTED,
                            "layer '%s' (conv1d): softmax as fused activation not supported",
                            nm);
    return 0;
}

static int conv1d_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                        sv_error *err)
{
    const nn_layer *In0 = in[0];
    char sbuf[64];
    int to, pb;
    if ((long)(L->kh - 1) * L->dilation + 1 > NN_DIM_LIMIT)
        return sv_error_set(err, SV_ERR_ARG,
                            "layer '%s' (conv1d): kernel %d x dilation %d too wide", L->name,
                            L->kh, L->dilation);
    nn_conv1d_geometry(In0->shape[0], L->kh, L->sh, L->dilation, L->padding, &to, &pb);
    if (to <= 0)
        return sv_error_set(err, SV_ERR_SHAPE,
                            "layer '%s' (conv1d): kernel %d (dilation %d) longer than its "
                            "input %s from layer '%s' (valid padding)",
                            L->name, L->kh, L->dilation, nn_shape_str(In0, sbuf, sizeof sbuf),
                            In0->name);
    int dims[2] = {to, L->filters};
    nn_shape_set(out, 2, dims);
    nn_shape_param(out, "kernel", 3, L->kh, In0->shape[1], L->filters, 0, 1);
    if (L->use_bias)
        nn_shape_param(out, "bias", 1, L->filters, 0, 0, 0, 1);
    return 0;
}

static void conv1d_describe(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    const char *pad = L->padding == NN_PAD_CAUSAL ? "causal"
                      : L->padding == NN_PAD_SAME ? "same"
                                                  : "valid";
    nn_describe_add(buf, cap, &k, "k%d s%d d%d %s", L->kh, L->sh, L->dilation, pad);
    if (!L->use_bias)
        nn_describe_add(buf, cap, &k, " no-bias");
}

static const char *const conv1d_aliases[] = {"convolution1d", NULL};

const nn_op nn_op_conv1d = {
    .name = "conv1d",
    .aliases = conv1d_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 2,
    .in_what = "a sequence input (T,C)",
    .check = conv1d_check,
    .shape = conv1d_shape,
    .forward = nn_conv1d_forward,
    .backward = nn_conv1d_backward,
    .describe = conv1d_describe,
};
