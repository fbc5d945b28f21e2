/* nn_layer_conv.c — Conv2D (im2col + sgemm), DepthwiseConv2D (direct) and
 * SeparableConv2D (depthwise, then 1x1 pointwise by sgemm, then bias and
 * activation), forward and backward, NHWC, TF "same" padding rules.
 * See nn_layers.h. */
#include <cblas.h>
#include <string.h>

#include "nn/nn_layers.h"

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

void nn_conv2d_forward(nn_lctx *c)
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

void nn_conv2d_backward(nn_lctx *c)
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

void nn_dwconv_forward(nn_lctx *c)
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

void nn_dwconv_backward(nn_lctx *c)
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

void nn_sepconv_forward(nn_lctx *c)
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

void nn_sepconv_backward(nn_lctx *c)
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
