/* nn_layer_conv.c — Conv2D (im2col + sgemm), DepthwiseConv2D (direct) and
 * SeparableConv2D (depthwise, then 1x1 pointwise by sgemm, then bias and
 * activation), forward and backward, NHWC, TF "same" padding rules.
 * See nn_layers.h. */
#include <cblas.h>
#include <string.h>

#include "nn/nn_ops.h"

/* A 1x1 stride-1 convolution reads its input directly as the P x C matrix. */
static int is_pointwise(const nn_window *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1;
}

/* col (P x K), K = kh*kw*c, row (oy,ox), column (ky,kx,ci); zero padding. */
static void im2col(const nn_window *g, const float *x, float *col)
{
    size_t K = (size_t)g->kh * g->kw * g->c;
    size_t cb = (size_t)g->c * sizeof(float);
    for (int oy = 0; oy < g->ho; oy++)
        for (int ox = 0; ox < g->wo; ox++) {
            float *row = col + ((size_t)oy * g->wo + ox) * K;
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky;
                float *dst = row + (size_t)ky * g->kw * g->c;
                if (iy < 0 || iy >= g->h) {
                    memset(dst, 0, cb * g->kw);
                    continue;
                }
                int ix0 = ox * g->sw - g->pl;
                if (ix0 >= 0 && ix0 + g->kw <= g->w) {
                    memcpy(dst, x + ((size_t)iy * g->w + ix0) * g->c, cb * g->kw);
                    continue;
                }
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ix0 + kx;
                    if (ix < 0 || ix >= g->w)
                        memset(dst + (size_t)kx * g->c, 0, cb);
                    else
                        memcpy(dst + (size_t)kx * g->c, x + ((size_t)iy * g->w + ix) * g->c, cb);
                }
            }
        }
}

/* dx += col2im(dcol) */
static void col2im_add(const nn_window *g, const float *dcol, float *dx)
{
    size_t K = (size_t)g->kh * g->kw * g->c;
    for (int oy = 0; oy < g->ho; oy++)
        for (int ox = 0; ox < g->wo; ox++) {
            const float *row = dcol + ((size_t)oy * g->wo + ox) * K;
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky;
                if (iy < 0 || iy >= g->h)
                    continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ox * g->sw - g->pl + kx;
                    if (ix < 0 || ix >= g->w)
                        continue;
                    const float *s = row + ((size_t)ky * g->kw + kx) * g->c;
                    float *d = dx + ((size_t)iy * g->w + ix) * g->c;
                    for (int ci = 0; ci < g->c; ci++)
                        d[ci] += s[ci];
                }
            }
        }
}

static void add_bias(float *y, const float *b, size_t rows, int n)
{
    for (size_t r = 0; r < rows; r++) {
        float *v = y + r * (size_t)n;
        for (int j = 0; j < n; j++)
            v[j] += b[j];
    }
}

static void bias_grad(const float *d, float *gb, size_t rows, int n)
{
    for (size_t r = 0; r < rows; r++) {
        const float *v = d + r * (size_t)n;
        for (int j = 0; j < n; j++)
            gb[j] += v[j];
    }
}

/* ---- Conv2D ---------------------------------------------------------------- */

static void nn_conv2d_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    int K = g.kh * g.kw * g.c;
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    const float *W = L->p[0].w;
    for (int s = 0; s < c->batch; s++) {
        const float *x = c->x[0] + (size_t)s * in_sz;
        float *y = c->y + (size_t)s * out_sz;
        const float *col = x;
        if (!is_pointwise(&g)) {
            im2col(&g, x, c->scratch);
            col = c->scratch;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.p, g.co, K, 1.0f, col, K, W,
                    g.co, 0.0f, y, g.co);
    }
    size_t rows = (size_t)c->batch * g.p;
    if (L->use_bias)
        add_bias(c->y, L->p[1].w, rows, g.co);
    nn_act_forward(L->act, L->alpha, c->y, rows, g.co);
}

static void nn_conv2d_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    int K = g.kh * g.kw * g.c;
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    size_t rows = (size_t)c->batch * g.p;
    nn_act_backward(L->act, L->alpha, c->y, c->dy, rows, g.co);
    if (L->use_bias && c->g[1])
        bias_grad(c->dy, c->g[1], rows, g.co);
    const float *W = L->p[0].w;
    for (int s = 0; s < c->batch; s++) {
        const float *x = c->x[0] + (size_t)s * in_sz;
        const float *d = c->dy + (size_t)s * out_sz;
        int pw = is_pointwise(&g);
        if (c->g[0]) {
            const float *col = x;
            if (!pw) {
                im2col(&g, x, c->scratch);
                col = c->scratch;
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.co, g.p, 1.0f, col, K, d,
                        g.co, 1.0f, c->g[0], g.co);
        }
        if (c->dx[0]) {
            float *dx = c->dx[0] + (size_t)s * in_sz;
            if (pw) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.p, K, g.co, 1.0f, d, g.co,
                            W, g.co, 1.0f, dx, K);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.p, K, g.co, 1.0f, d, g.co,
                            W, g.co, 0.0f, c->scratch2, K);
                col2im_add(&g, c->scratch2, dx);
            }
        }
    }
}

/* ---- depthwise core (one sample) -------------------------------------------- */

/* y (P x c*dm) = depthwise(x) [+ bias]; output channel ci*dm + m. */
static void dw_sample(const nn_window *g, int dm, const float *x, const float *k, const float *bias,
                      float *y)
{
    int cd = g->c * dm;
    for (int oy = 0; oy < g->ho; oy++)
        for (int ox = 0; ox < g->wo; ox++) {
            float *yr = y + ((size_t)oy * g->wo + ox) * cd;
            if (bias)
                memcpy(yr, bias, (size_t)cd * sizeof(float));
            else
                memset(yr, 0, (size_t)cd * sizeof(float));
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky;
                if (iy < 0 || iy >= g->h)
                    continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ox * g->sw - g->pl + kx;
                    if (ix < 0 || ix >= g->w)
                        continue;
                    const float *xi = x + ((size_t)iy * g->w + ix) * g->c;
                    const float *kk = k + ((size_t)ky * g->kw + kx) * cd;
                    if (dm == 1) {
                        for (int ci = 0; ci < cd; ci++)
                            yr[ci] += xi[ci] * kk[ci];
                    } else {
                        for (int ci = 0; ci < g->c; ci++) {
                            float xv = xi[ci];
                            for (int m = 0; m < dm; m++)
                                yr[ci * dm + m] += xv * kk[ci * dm + m];
                        }
                    }
                }
            }
        }
}

/* gk += dK, dx += dX for one sample, from d (P x c*dm). */
static void dw_sample_back(const nn_window *g, int dm, const float *x, const float *k,
                           const float *d, float *gk, float *dx)
{
    int cd = g->c * dm;
    for (int oy = 0; oy < g->ho; oy++)
        for (int ox = 0; ox < g->wo; ox++) {
            const float *dr = d + ((size_t)oy * g->wo + ox) * cd;
            for (int ky = 0; ky < g->kh; ky++) {
                int iy = oy * g->sh - g->pt + ky;
                if (iy < 0 || iy >= g->h)
                    continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    int ix = ox * g->sw - g->pl + kx;
                    if (ix < 0 || ix >= g->w)
                        continue;
                    size_t xo = ((size_t)iy * g->w + ix) * g->c;
                    size_t ko = ((size_t)ky * g->kw + kx) * cd;
                    for (int ci = 0; ci < g->c; ci++) {
                        float xv = x[xo + ci], acc = 0.0f;
                        for (int m = 0; m < dm; m++) {
                            float dv = dr[ci * dm + m];
                            if (gk)
                                gk[ko + ci * dm + m] += xv * dv;
                            acc += k[ko + ci * dm + m] * dv;
                        }
                        if (dx)
                            dx[xo + ci] += acc;
                    }
                }
            }
        }
}

/* ---- DepthwiseConv2D ------------------------------------------------------ */

static void nn_dwconv_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    const float *bias = L->use_bias ? L->p[1].w : NULL;
    for (int s = 0; s < c->batch; s++)
        dw_sample(&g, L->depth_multiplier, c->x[0] + (size_t)s * in_sz, L->p[0].w, bias,
                  c->y + (size_t)s * out_sz);
    nn_act_forward(L->act, L->alpha, c->y, (size_t)c->batch * g.p, g.co);
}

static void nn_dwconv_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    size_t rows = (size_t)c->batch * g.p;
    nn_act_backward(L->act, L->alpha, c->y, c->dy, rows, g.co);
    if (L->use_bias && c->g[1])
        bias_grad(c->dy, c->g[1], rows, g.co);
    if (!c->g[0] && !c->dx[0])
        return;
    for (int s = 0; s < c->batch; s++)
        dw_sample_back(&g, L->depth_multiplier, c->x[0] + (size_t)s * in_sz, L->p[0].w,
                       c->dy + (size_t)s * out_sz, c->g[0],
                       c->dx[0] ? c->dx[0] + (size_t)s * in_sz : NULL);
}

/* ---- SeparableConv2D -------------------------------------------------------
 * cache (training): the depthwise output of every sample (P x c*dm each);
 * scratch: one sample's depthwise output (inference) or its gradient. */

static void nn_sepconv_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    int dm = L->depth_multiplier, cd = g.c * dm;
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    size_t mid_sz = (size_t)g.p * cd;
    for (int s = 0; s < c->batch; s++) {
        float *mid = c->training ? c->cache + (size_t)s * mid_sz : c->scratch;
        dw_sample(&g, dm, c->x[0] + (size_t)s * in_sz, L->p[0].w, NULL, mid);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.p, g.co, cd, 1.0f, mid, cd,
                    L->p[1].w, g.co, 0.0f, c->y + (size_t)s * out_sz, g.co);
    }
    size_t rows = (size_t)c->batch * g.p;
    if (L->use_bias)
        add_bias(c->y, L->p[2].w, rows, g.co);
    nn_act_forward(L->act, L->alpha, c->y, rows, g.co);
}

static void nn_sepconv_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    int dm = L->depth_multiplier, cd = g.c * dm;
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    size_t mid_sz = (size_t)g.p * cd;
    size_t rows = (size_t)c->batch * g.p;
    nn_act_backward(L->act, L->alpha, c->y, c->dy, rows, g.co);
    if (L->use_bias && c->g[2])
        bias_grad(c->dy, c->g[2], rows, g.co);
    for (int s = 0; s < c->batch; s++) {
        const float *mid = c->cache + (size_t)s * mid_sz;
        const float *d = c->dy + (size_t)s * out_sz;
        if (c->g[1])
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cd, g.co, g.p, 1.0f, mid, cd, d,
                        g.co, 1.0f, c->g[1], g.co);
        if (c->g[0] || c->dx[0]) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.p, cd, g.co, 1.0f, d, g.co,
                        L->p[1].w, g.co, 0.0f, c->scratch, cd);
            dw_sample_back(&g, dm, c->x[0] + (size_t)s * in_sz, L->p[0].w, c->scratch, c->g[0],
                           c->dx[0] ? c->dx[0] + (size_t)s * in_sz : NULL);
        }
    }
}

/* ---- descriptors -------------------------------------------------------------- */

static int conv_check(nn_layer *L, sv_error *err)
{
    const char *nm = L->name, *kn = nn_kind_name(L->kind);
    if (L->kind != NN_DEPTHWISE_CONV2D && nn_bad_dim(L->filters))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): filters %d", nm, kn, L->filters);
    if (L->kind != NN_CONV2D && nn_bad_dim(L->depth_multiplier))
        return sv_error_set(err, SV_ERR_ARG, "layer '%s' (%s): depth_multiplier %d", nm, kn,
                            L->depth_multiplier);
    return nn_window_check(L, err);
}

static int conv_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                      sv_error *err)
{
    const nn_layer *In0 = in[0];
    int ho, wo, st;
    if ((st = nn_window_out(L, In0, &ho, &wo, err)))
        return st;
    int cin = In0->shape[2], dm = L->depth_multiplier;
    if ((long)cin * dm > NN_DIM_LIMIT)
        return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (%s): too many channels", L->name,
                            nn_kind_name(L->kind));
    int dims[3] = {ho, wo, L->filters};
    switch (L->kind) {
    case NN_CONV2D:
        nn_shape_set(out, 3, dims);
        nn_shape_param(out, "kernel", 4, L->kh, L->kw, cin, L->filters, 1);
        if (L->use_bias)
            nn_shape_param(out, "bias", 1, L->filters, 0, 0, 0, 1);
        break;
    case NN_DEPTHWISE_CONV2D:
        dims[2] = cin * dm;
        nn_shape_set(out, 3, dims);
        nn_shape_param(out, "depthwise_kernel", 4, L->kh, L->kw, cin, dm, 1);
        if (L->use_bias)
            nn_shape_param(out, "bias", 1, cin * dm, 0, 0, 0, 1);
        break;
    default: /* separable */
        nn_shape_set(out, 3, dims);
        nn_shape_param(out, "depthwise_kernel", 4, L->kh, L->kw, cin, dm, 1);
        nn_shape_param(out, "pointwise_kernel", 4, 1, 1, cin * dm, L->filters, 1);
        if (L->use_bias)
            nn_shape_param(out, "bias", 1, L->filters, 0, 0, 0, 1);
        break;
    }
    return 0;
}

static void conv2d_mem(const nn_layer *L, const nn_layer *const *in, int max_batch,
                       int training, nn_mem *m)
{
    (void)max_batch;
    size_t P = (size_t)L->shape[0] * L->shape[1];
    size_t K = (size_t)L->kh * L->kw * in[0]->shape[2];
    int pw = L->kh == 1 && L->kw == 1 && L->sh == 1 && L->sw == 1;
    if (!pw) {
        m->scratch = P * K;
        if (training)
            m->scratch2 = P * K;
    }
}

static void sepconv_mem(const nn_layer *L, const nn_layer *const *in, int max_batch,
                        int training, nn_mem *m)
{
    size_t P = (size_t)L->shape[0] * L->shape[1];
    size_t cd = (size_t)in[0]->shape[2] * L->depth_multiplier;
    m->scratch = P * cd;
    if (training)
        m->cache = (size_t)max_batch * P * cd;
}

static const char *const conv2d_aliases[] = {"convolution2d", NULL};
static const char *const dwconv_aliases[] = {"depthwiseconv2d", NULL};
static const char *const sepconv_aliases[] = {"separableconv2d", "separableconvolution2d", NULL};

const nn_op nn_op_conv2d = {
    .name = "conv2d",
    .aliases = conv2d_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 3,
    .in_what = "an image input (H,W,C)",
    .check = conv_check,
    .shape = conv_shape,
    .mem = conv2d_mem,
    .forward = nn_conv2d_forward,
    .backward = nn_conv2d_backward,
    .describe = nn_window_describe,
};

const nn_op nn_op_depthwise_conv2d = {
    .name = "depthwise_conv2d",
    .aliases = dwconv_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 3,
    .in_what = "an image input (H,W,C)",
    .check = conv_check,
    .shape = conv_shape,
    .forward = nn_dwconv_forward,
    .backward = nn_dwconv_backward,
    .describe = nn_window_describe,
};

const nn_op nn_op_separable_conv2d = {
    .name = "separable_conv2d",
    .aliases = sepconv_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 3,
    .in_what = "an image input (H,W,C)",
    .check = conv_check,
    .shape = conv_shape,
    .mem = sepconv_mem,
    .forward = nn_sepconv_forward,
    .backward = nn_sepconv_backward,
    .describe = nn_window_describe,
};
