/* nn_layer_basic.c — activations, Dense, Flatten, Dropout, Concatenate and
 * Activation layers, forward and backward.  See nn_layers.h. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/nn_layers.h"

/* ---- activations --------------------------------------------------------- */

void nn_act_forward(nn_act act, float alpha, float *y, size_t rows, int last)
{
    size_t n = rows * (size_t)last;
    switch (act) {
    case NN_ACT_LINEAR:
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0.0f ? y[i] : alpha * y[i];
        break;
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            /* stable for both signs */
            float x = y[i];
            if (x >= 0.0f) {
                y[i] = 1.0f / (1.0f + expf(-x));
            } else {
                float e = expf(x);
                y[i] = e / (1.0f + e);
            }
        }
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(y[i]);
        break;
    case NN_ACT_HARD_SIGMOID:
    case NN_ACT_HARD_SIGMOID_K3: {
        const float slope = act == NN_ACT_HARD_SIGMOID ? 0.2f : 1.0f / 6.0f;
        for (size_t i = 0; i < n; i++) {
            float v = slope * y[i] + 0.5f;
            y[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
        break;
    }
    case NN_ACT_SOFTMAX:
        for (size_t r = 0; r < rows; r++) {
            float *v = y + r * (size_t)last;
            float mx = v[0];
            for (int j = 1; j < last; j++)
                if (v[j] > mx)
                    mx = v[j];
            double s = 0.0;
            for (int j = 0; j < last; j++) {
                v[j] = expf(v[j] - mx);
                s += v[j];
            }
            float inv = (float)(1.0 / s);
            for (int j = 0; j < last; j++)
                v[j] *= inv;
        }
        break;
    default:
        break;
    }
}

void nn_act_backward(nn_act act, float alpha, const float *y, float *dy, size_t rows, int last)
{
    size_t n = rows * (size_t)last;
    switch (act) {
    case NN_ACT_LINEAR:
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            if (!(y[i] > 0.0f))
                dy[i] = 0.0f;
        break;
    case NN_ACT_LEAKY_RELU: /* alpha >= 0, so y > 0 exactly when x > 0 */
        for (size_t i = 0; i < n; i++)
            if (!(y[i] > 0.0f))
                dy[i] *= alpha;
        break;
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            dy[i] *= y[i] * (1.0f - y[i]);
        break;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            dy[i] *= 1.0f - y[i] * y[i];
        break;
    case NN_ACT_HARD_SIGMOID:
    case NN_ACT_HARD_SIGMOID_K3: {
        const float slope = act == NN_ACT_HARD_SIGMOID ? 0.2f : 1.0f / 6.0f;
        for (size_t i = 0; i < n; i++)
            dy[i] = (y[i] > 0.0f && y[i] < 1.0f) ? slope * dy[i] : 0.0f;
        break;
    }
    case NN_ACT_SOFTMAX:
        for (size_t r = 0; r < rows; r++) {
            const float *v = y + r * (size_t)last;
            float *g = dy + r * (size_t)last;
            double s = 0.0;
            for (int j = 0; j < last; j++)
                s += (double)g[j] * v[j];
            for (int j = 0; j < last; j++)
                g[j] = v[j] * (float)(g[j] - s);
        }
        break;
    default:
        break;
    }
}

static int last_dim(const nn_layer *L) { return L->shape[L->rank - 1]; }

/* ---- Dense ---------------------------------------------------------------- */

void nn_dense_forward(nn_lctx *c)
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

void nn_dense_backward(nn_lctx *c)
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

/* ---- Flatten and inference Dropout: a copy ------------------------------- */

void nn_copy_forward(nn_lctx *c)
{
    memcpy(c->y, c->x[0], (size_t)c->batch * c->L->out_size * sizeof(float));
}

void nn_copy_backward(nn_lctx *c)
{
    if (!c->dx[0])
        return;
    size_t n = (size_t)c->batch * c->L->out_size;
    for (size_t i = 0; i < n; i++)
        c->dx[0][i] += c->dy[i];
}

/* ---- Dropout (inverted, as Keras): cache = the per-element factor --------- */

void nn_dropout_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    size_t n = (size_t)c->batch * L->out_size;
    if (!c->training || L->rate <= 0.0f) {
        memcpy(c->y, c->x[0], n * sizeof(float));
        if (c->training && c->cache)
            for (size_t i = 0; i < n; i++)
                c->cache[i] = 1.0f;
        return;
    }
    float keep = 1.0f - L->rate, scale = 1.0f / keep;
    for (size_t i = 0; i < n; i++) {
        float f = sv_xoshiro_uniform(c->rng) >= (double)L->rate ? scale : 0.0f;
        c->cache[i] = f;
        c->y[i] = c->x[0][i] * f;
    }
}

void nn_dropout_backward(nn_lctx *c)
{
    if (!c->dx[0])
        return;
    size_t n = (size_t)c->batch * c->L->out_size;
    for (size_t i = 0; i < n; i++)
        c->dx[0][i] += c->dy[i] * c->cache[i];
}

/* ---- Concatenate on the last axis ----------------------------------------- */

void nn_concat_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t outer = (size_t)c->batch * (L->out_size / (size_t)last);
    int off = 0;
    for (int i = 0; i < L->n_in; i++) {
        int li = last_dim(c->in_layer[i]);
        for (size_t r = 0; r < outer; r++)
            memcpy(c->y + r * last + off, c->x[i] + r * li, (size_t)li * sizeof(float));
        off += li;
    }
}

void nn_concat_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t outer = (size_t)c->batch * (L->out_size / (size_t)last);
    int off = 0;
    for (int i = 0; i < L->n_in; i++) {
        int li = last_dim(c->in_layer[i]);
        if (c->dx[i])
            for (size_t r = 0; r < outer; r++) {
                float *dx = c->dx[i] + r * li;
                const float *dy = c->dy + r * last + off;
                for (int j = 0; j < li; j++)
                    dx[j] += dy[j];
            }
        off += li;
    }
}

/* ---- Activation layer ------------------------------------------------------ */

void nn_activation_forward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t n = (size_t)c->batch * L->out_size;
    memcpy(c->y, c->x[0], n * sizeof(float));
    nn_act_forward(L->act, L->alpha, c->y, n / (size_t)last, last);
}

void nn_activation_backward(nn_lctx *c)
{
    const nn_layer *L = c->L;
    int last = last_dim(L);
    size_t n = (size_t)c->batch * L->out_size;
    nn_act_backward(L->act, L->alpha, c->y, c->dy, n / (size_t)last, last);
    if (c->dx[0])
        for (size_t i = 0; i < n; i++)
            c->dx[0][i] += c->dy[i];
}
