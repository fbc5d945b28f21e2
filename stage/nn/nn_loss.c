/* nn_loss.c — cross-entropy losses and their gradients, Keras 2 (TF2)
 * formulas, computed in double.  See nn_engine.h.
 *
 * Clipping: probabilities are clipped to [eps, 1-eps] (eps = 1e-7) as Keras
 * does; the gradient treats the clip as the identity (straight-through), so
 * that a saturated output still receives a gradient in the right direction.
 */
#include <math.h>
#include <stddef.h>

#include "nn/nn_engine.h"

#define NN_EPS 1e-7

static double clip(double p)
{
    return p < NN_EPS ? NN_EPS : (p > 1.0 - NN_EPS ? 1.0 - NN_EPS : p);
}

float nn_loss_bce(const float *p, const float *y, int n, int k, const float *class_weight,
                  float *grad)
{
    if (n <= 0 || k <= 0)
        return 0.0f;
    double total = 0.0, scale = 1.0 / ((double)n * k);
    for (size_t i = 0; i < (size_t)n * k; i++) {
        double pc = clip(p[i]), t = y[i];
        double w = class_weight ? t * class_weight[1] + (1.0 - t) * class_weight[0] : 1.0;
        /* Keras 2: -(y log(p + eps) + (1 - y) log(1 - p + eps)) after the clip */
        double l = -(t * log(pc + NN_EPS) + (1.0 - t) * log(1.0 - pc + NN_EPS));
        total += w * l;
        if (grad)
            grad[i] = (float)(w * scale * (-t / (pc + NN_EPS) + (1.0 - t) / (1.0 - pc + NN_EPS)));
    }
    return (float)(total * scale);
}

/* One row of Keras categorical cross-entropy: q = p / sum(p), clipped;
 * l = -sum y log q.  Adds g * dl/dp into grad (if non-NULL), returns l. */
static double cce_row(const float *p, const float *y, int k, double g, float *grad)
{
    double S = 0.0;
    for (int j = 0; j < k; j++)
        S += p[j];
    if (!(S > 0.0))
        S = NN_EPS;
    double l = 0.0, sy = 0.0;
    for (int j = 0; j < k; j++) {
        double q = clip(p[j] / S);
        l -= y[j] * log(q);
        /* d/dp_j of -sum_c y_c log(p_c / S) = -y_j / p_j + sum(y) / S,
         * with p_j / S replaced by its clipped value */
        sy += y[j];
    }
    if (grad)
        for (int j = 0; j < k; j++) {
            double q = clip(p[j] / S);
            grad[j] = (float)(g * (-y[j] / (q * S) + sy / S));
        }
    return l;
}

float nn_loss_cce(const float *p, const float *y, int n, int k, const float *class_weight,
                  float *grad)
{
    if (n <= 0 || k <= 0)
        return 0.0f;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *pi = p + (size_t)i * k, *yi = y + (size_t)i * k;
        double w = 1.0;
        if (class_weight) {
            w = 0.0;
            for (int j = 0; j < k; j++)
                w += (double)yi[j] * class_weight[j];
        }
        total += w * cce_row(pi, yi, k, w / n, grad ? grad + (size_t)i * k : NULL);
    }
    return (float)(total / n);
}

float nn_loss_cce_seq(const float *p, const float *y, const float *mask, int n, int t, int k,
                      const float *class_weight, float *grad)
{
    if (n <= 0 || t <= 0 || k <= 0)
        return 0.0f;
    double msum = 0.0;
    size_t steps = (size_t)n * t;
    for (size_t s = 0; s < steps; s++)
        msum += mask ? mask[s] : 1.0;
    double total = 0.0;
    for (size_t s = 0; s < steps; s++) {
        const float *ps = p + s * k, *ys = y + s * k;
        double m = mask ? mask[s] : 1.0;
        double w = 1.0;
        if (class_weight) {
            w = 0.0;
            for (int j = 0; j < k; j++)
                w += (double)ys[j] * class_weight[j];
        }
        if (m == 0.0 || msum <= 0.0) {
            if (grad)
                for (int j = 0; j < k; j++)
                    grad[s * k + j] = 0.0f;
            continue;
        }
        total += m * w * cce_row(ps, ys, k, m * w / msum, grad ? grad + s * k : NULL);
    }
    return msum > 0.0 ? (float)(total / msum) : 0.0f;
}
