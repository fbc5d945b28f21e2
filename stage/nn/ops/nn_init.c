/* nn_init.c — the default initial weights (Keras initialisers) every
 * layer kind uses unless its descriptor says otherwise.  See nn/nn_ops.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_ops.h"

static void glorot(sv_xoshiro *r, nn_param *p, double fan_in, double fan_out)
{
    double lim = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < p->size; i++)
        p->w[i] = (float)((2.0 * sv_xoshiro_uniform(r) - 1.0) * lim);
}

static double gauss(sv_xoshiro *r)
{
    double u1 = sv_xoshiro_uniform(r), u2 = sv_xoshiro_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Keras Orthogonal for a (rows, cols) matrix: orthonormal rows when
 * rows <= cols, else orthonormal columns; by Gram-Schmidt on Gaussians. */
static void orthogonal(sv_xoshiro *r, nn_param *p)
{
    int rows = p->dims[0], cols = p->dims[1];
    int nv = rows <= cols ? rows : cols;  /* vectors to orthonormalise */
    int len = rows <= cols ? cols : rows; /* their length */
    double *v = malloc((size_t)nv * len * sizeof *v);
    if (!v) { /* fall back to Glorot */
        glorot(r, p, rows, cols);
        return;
    }
    for (size_t i = 0; i < (size_t)nv * len; i++)
        v[i] = gauss(r);
    for (int a = 0; a < nv; a++) {
        double *va = v + (size_t)a * len;
        for (int pass = 0; pass < 2; pass++)
            for (int b = 0; b < a; b++) {
                double *vb = v + (size_t)b * len, d = 0;
                for (int k = 0; k < len; k++)
                    d += va[k] * vb[k];
                for (int k = 0; k < len; k++)
                    va[k] -= d * vb[k];
            }
        double nrm = 0;
        for (int k = 0; k < len; k++)
            nrm += va[k] * va[k];
        nrm = sqrt(nrm);
        if (nrm < 1e-12)
            nrm = 1;
        for (int k = 0; k < len; k++)
            va[k] /= nrm;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            p->w[(size_t)i * cols + j] =
                (float)(rows <= cols ? v[(size_t)i * len + j] : v[(size_t)j * len + i]);
    free(v);
}

void nn_init_default(nn_layer *L, sv_xoshiro *r)
{
    for (int j = 0; j < L->n_params; j++) {
        nn_param *p = &L->p[j];
        const char *n = p->name;
        if (!strcmp(n, "kernel") || !strcmp(n, "pointwise_kernel") ||
            !strcmp(n, "depthwise_kernel")) {
            double fin, fout;
            if (p->rank == 4) {
                double rf = (double)p->dims[0] * p->dims[1];
                fin = rf * p->dims[2];
                fout = rf * p->dims[3];
            } else if (p->rank == 3) { /* Conv1D (k, cin, filters) */
                fin = (double)p->dims[0] * p->dims[1];
                fout = (double)p->dims[0] * p->dims[2];
            } else {
                fin = p->dims[0];
                fout = p->dims[1];
            }
            glorot(r, p, fin, fout);
        } else if (!strcmp(n, "recurrent_kernel")) {
            orthogonal(r, p);
        } else if (!strcmp(n, "gamma") || !strcmp(n, "moving_variance")) {
            for (size_t k = 0; k < p->size; k++)
                p->w[k] = 1.0f;
        } else {
            memset(p->w, 0, p->size * sizeof(float));
        }
    }
}
