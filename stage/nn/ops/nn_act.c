/* nn_act.c — the activation functions every layer kind fuses (Keras
 * semantics), forward and backward.  See nn_layers.h. */
#include <math.h>
#include <string.h>

#include "nn/nn_layers.h"

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
