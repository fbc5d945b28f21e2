/* nn_layer_pool.c — MaxPool2D, AveragePool2D (TF "same": padded cells are
 * ignored by max and not counted by the average) and GlobalAveragePooling2D,
 * forward and backward, NHWC.  See nn_layers.h. */
#include <float.h>
#include <string.h>

#include "nn/nn_ops.h"

/* valid window rows [y0,y1) and columns [x0,x1) of output (oy,ox) */
static void window(const nn_window *g, int oy, int ox, int *y0, int *y1, int *x0, int *x1)
{
    int a = oy * g->sh - g->pt, b = ox * g->sw - g->pl;
    *y0 = a < 0 ? 0 : a;
    *y1 = a + g->kh > g->h ? g->h : a + g->kh;
    *x0 = b < 0 ? 0 : b;
    *x1 = b + g->kw > g->w ? g->w : b + g->kw;
}

static void nn_pool_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    int is_max = L->kind == NN_MAXPOOL2D;
    for (int s = 0; s < c->batch; s++) {
        const float *x = c->x[0] + (size_t)s * in_sz;
        float *y = c->y + (size_t)s * out_sz;
        int *arg = (is_max && c->training) ? c->icache + (size_t)s * out_sz : NULL;
        for (int oy = 0; oy < g.ho; oy++)
            for (int ox = 0; ox < g.wo; ox++) {
                int y0, y1, x0, x1;
                window(&g, oy, ox, &y0, &y1, &x0, &x1);
                float *yr = y + ((size_t)oy * g.wo + ox) * g.c;
                int *ar = arg ? arg + ((size_t)oy * g.wo + ox) * g.c : NULL;
                if (is_max) {
                    for (int ci = 0; ci < g.c; ci++) {
                        float m = -FLT_MAX;
                        int am = -1;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++) {
                                int idx = (iy * g.w + ix) * g.c + ci;
                                float v = x[idx];
                                if (am < 0 || v > m) {
                                    m = v;
                                    am = idx;
                                }
                            }
                        yr[ci] = m;
                        if (ar)
                            ar[ci] = am;
                    }
                } else {
                    float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
                    for (int ci = 0; ci < g.c; ci++) {
                        float acc = 0.0f;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                                acc += x[(iy * g.w + ix) * g.c + ci];
                        yr[ci] = acc * inv;
                    }
                }
            }
    }
}

static void nn_pool_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    if (!c->dx[0])
        return;
    nn_window g;
    nn_window_of(L, c->in_layer[0], &g);
    size_t in_sz = c->in_layer[0]->out_size, out_sz = L->out_size;
    for (int s = 0; s < c->batch; s++) {
        float *dx = c->dx[0] + (size_t)s * in_sz;
        const float *d = c->dy + (size_t)s * out_sz;
        if (L->kind == NN_MAXPOOL2D) {
            const int *arg = c->icache + (size_t)s * out_sz;
            for (size_t i = 0; i < out_sz; i++)
                dx[arg[i]] += d[i];
            continue;
        }
        for (int oy = 0; oy < g.ho; oy++)
            for (int ox = 0; ox < g.wo; ox++) {
                int y0, y1, x0, x1;
                window(&g, oy, ox, &y0, &y1, &x0, &x1);
                float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
                const float *dr = d + ((size_t)oy * g.wo + ox) * g.c;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        float *dp = dx + ((size_t)iy * g.w + ix) * g.c;
                        for (int ci = 0; ci < g.c; ci++)
                            dp[ci] += dr[ci] * inv;
                    }
            }
    }
}

/* ---- GlobalAveragePooling2D: (H,W,C) -> (C) -------------------------------- */

static void nn_gap_forward(nn_lctx *c)
{
    const nn_layer *In = c->in_layer[0];
    int hw = In->shape[0] * In->shape[1], ch = In->shape[2];
    double *acc = (double *)c->scratch; /* ch doubles, sized by nn_layer_mem */
    for (int s = 0; s < c->batch; s++) {
        const float *x = c->x[0] + (size_t)s * In->out_size;
        for (int ci = 0; ci < ch; ci++)
            acc[ci] = 0.0;
        for (int p = 0; p < hw; p++)
            for (int ci = 0; ci < ch; ci++)
                acc[ci] += x[(size_t)p * ch + ci];
        float *y = c->y + (size_t)s * ch;
        for (int ci = 0; ci < ch; ci++)
            y[ci] = (float)(acc[ci] / hw);
    }
}

static void nn_gap_backward(nn_lctx *c)
{
    if (!c->dx[0])
        return;
    const nn_layer *In = c->in_layer[0];
    int hw = In->shape[0] * In->shape[1], ch = In->shape[2];
    float inv = 1.0f / (float)hw;
    for (int s = 0; s < c->batch; s++) {
        float *dx = c->dx[0] + (size_t)s * In->out_size;
        const float *d = c->dy + (size_t)s * ch;
        for (int p = 0; p < hw; p++)
            for (int ci = 0; ci < ch; ci++)
                dx[(size_t)p * ch + ci] += d[ci] * inv;
    }
}

/* ---- descriptors -------------------------------------------------------------- */

static void pool_defaults(nn_layer *L)
{
    L->kh = L->kw = 2;
    L->sh = L->sw = 0; /* 0: equal to the pool size (Keras strides=None) */
}

static int pool_check(nn_layer *L, sv_error *err)
{
    if (L->sh <= 0)
        L->sh = L->kh;
    if (L->sw <= 0)
        L->sw = L->kw;
    return nn_window_check(L, err);
}

static int pool_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                      sv_error *err)
{
    int ho, wo, st;
    if ((st = nn_window_out(L, in[0], &ho, &wo, err)))
        return st;
    int dims[3] = {ho, wo, in[0]->shape[2]};
    nn_shape_set(out, 3, dims);
    return 0;
}

static void maxpool_mem(const nn_layer *L, const nn_layer *const *in, int max_batch,
                        int training, nn_mem *m)
{
    (void)in;
    if (training)
        m->icache = (size_t)max_batch * L->out_size;
}

static int gap_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                     sv_error *err)
{
    (void)L;
    (void)err;
    int dims[1] = {in[0]->shape[2]};
    nn_shape_set(out, 1, dims);
    return 0;
}

static void gap_mem(const nn_layer *L, const nn_layer *const *in, int max_batch, int training,
                    nn_mem *m)
{
    (void)in;
    (void)max_batch;
    (void)training;
    m->scratch = 2 * (size_t)L->shape[0]; /* C doubles */
}

static const char *const maxpool_aliases[] = {"maxpooling2d", "maxpool2d", NULL};
static const char *const avgpool_aliases[] = {"averagepooling2d", "avgpool2d", "averagepool2d",
                                              NULL};
static const char *const gap_aliases[] = {"globalaveragepooling2d", "globalavgpool2d",
                                          "globalaveragepool", NULL};

const nn_op nn_op_maxpool2d = {
    .name = "max_pooling2d",
    .aliases = maxpool_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 3,
    .in_what = "an image input (H,W,C)",
    .defaults = pool_defaults,
    .check = pool_check,
    .shape = pool_shape,
    .mem = maxpool_mem,
    .forward = nn_pool_forward,
    .backward = nn_pool_backward,
    .describe = nn_window_describe,
};

const nn_op nn_op_avgpool2d = {
    .name = "average_pooling2d",
    .aliases = avgpool_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 3,
    .in_what = "an image input (H,W,C)",
    .defaults = pool_defaults,
    .check = pool_check,
    .shape = pool_shape,
    .forward = nn_pool_forward,
    .backward = nn_pool_backward,
    .describe = nn_window_describe,
};

const nn_op nn_op_global_avgpool2d = {
    .name = "global_average_pooling2d",
    .aliases = gap_aliases,
    .n_in_min = 1,
    .n_in_max = 1,
    .in_rank = 3,
    .in_what = "an image input (H,W,C)",
    .shape = gap_shape,
    .mem = gap_mem,
    .forward = nn_gap_forward,
    .backward = nn_gap_backward,
};
