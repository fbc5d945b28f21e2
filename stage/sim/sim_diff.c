/* sim_diff.c — PSF matching, difference images, matched-filter detection
 * (see sim_diff.h). */
#include "sim/sim_diff.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* eigen-decomposition of the symmetric 2x2 matrix [[a, b], [b, c]] */
static void eig2(double a, double b, double c, double lam[2], double vec[2][2])
{
    double m = 0.5 * (a + c), d = sqrt(0.25 * (a - c) * (a - c) + b * b);
    lam[0] = m + d;
    lam[1] = m - d;
    double th = 0.5 * atan2(2.0 * b, a - c); /* major-axis angle */
    vec[0][0] = cos(th);
    vec[0][1] = sin(th);
    vec[1][0] = -sin(th);
    vec[1][1] = cos(th);
}

int sim_kernel_match(const sim_psf *sci, const sim_psf *ref, sim_kernel *K)
{
    memset(K, 0, sizeof *K);
    double cs[3], cr[3];
    sim_psf_gauss_cov(sci, cs);
    sim_psf_gauss_cov(ref, cr);
    double d[3] = {cs[0] - cr[0], cs[1] - cr[1], cs[2] - cr[2]};
    double lam[2], vec[2][2];
    eig2(d[0], d[1], d[2], lam, vec);
    /* which image to convolve: the one that is sharper (positive part of
     * D for the reference, negative part for the science image) */
    double pos = fmax(lam[0], 0) + fmax(lam[1], 0), neg = fmax(-lam[0], 0) + fmax(-lam[1], 0);
    K->conv_ref = pos >= neg;
    double l0 = K->conv_ref ? fmax(lam[0], 0) : fmax(-lam[1], 0);
    double l1 = K->conv_ref ? fmax(lam[1], 0) : fmax(-lam[0], 0);
    const double *v0 = K->conv_ref ? vec[0] : vec[1], *v1 = K->conv_ref ? vec[1] : vec[0];
    K->cov[0] = l0 * v0[0] * v0[0] + l1 * v1[0] * v1[0];
    K->cov[1] = l0 * v0[0] * v0[1] + l1 * v1[0] * v1[1];
    K->cov[2] = l0 * v0[1] * v0[1] + l1 * v1[1] * v1[1];
    double lmax = fmax(l0, l1);
    if (lmax < 0.02) { /* nothing to match */
        K->r = 0;
        K->k = malloc(sizeof *K->k);
        if (!K->k)
            return -1;
        K->k[0] = 1.0f;
        K->sumsq = 1.0;
        return 0;
    }
    /* regularise a degenerate (line) kernel; pixel integration makes the
     * extra 0.01 px^2 invisible */
    double a = K->cov[0] + 0.01, b = K->cov[1], c = K->cov[2] + 0.01;
    double det = a * c - b * b;
    double ia = c / det, ib = -b / det, ic = a / det;
    int r = (int)ceil(3.5 * sqrt(lmax));
    if (r < 1)
        r = 1;
    int n = 2 * r + 1;
    K->r = r;
    K->k = malloc((size_t)n * n * sizeof *K->k);
    if (!K->k)
        return -1;
    double *tmp = malloc((size_t)n * n * sizeof *tmp), sum = 0;
    if (!tmp) {
        free(K->k);
        K->k = NULL;
        return -1;
    }
    const int ns = 5;
    for (int j = -r; j <= r; j++)
        for (int i = -r; i <= r; i++) {
            double acc = 0;
            for (int bb = 0; bb < ns; bb++)
                for (int aa = 0; aa < ns; aa++) {
                    double x = i - 0.5 + (aa + 0.5) / ns, y = j - 0.5 + (bb + 0.5) / ns;
                    acc += exp(-0.5 * (ia * x * x + 2 * ib * x * y + ic * y * y));
                }
            tmp[(j + r) * n + i + r] = acc;
            sum += acc;
        }
    K->sumsq = 0;
    for (int t = 0; t < n * n; t++) {
        double v = tmp[t] / sum;
        K->k[t] = (float)v;
        K->sumsq += v * v;
    }
    free(tmp);
    return 0;
}

void sim_kernel_free(sim_kernel *K)
{
    if (K) {
        free(K->k);
        K->k = NULL;
    }
}

void sim_convolve_rows(const float *in, float *out, int w, int h, const sim_kernel *K, int y0,
                       int y1)
{
    int r = K->r, n = 2 * r + 1;
    for (int y = y0; y < y1; y++) {
        float *acc = out + (long)y * w;
        memset(acc, 0, (size_t)w * sizeof *acc);
        for (int dy = -r; dy <= r; dy++) {
            int sy = y + dy;
            sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
            const float *src = in + (long)sy * w;
            for (int dx = -r; dx <= r; dx++) {
                float kv = K->k[(dy + r) * n + dx + r];
                int xa = dx < 0 ? -dx : 0, xb = dx > 0 ? w - dx : w;
                if (xa > w)
                    xa = w;
                if (xb < 0)
                    xb = 0;
                const float *s = src + dx;
                for (int x = xa; x < xb; x++)
                    acc[x] += kv * s[x];
                for (int x = 0; x < xa; x++)
                    acc[x] += kv * src[0];
                for (int x = xb > xa ? xb : xa; x < w; x++)
                    acc[x] += kv * src[w - 1];
            }
        }
    }
}

typedef struct conv_job {
    const float *in;
    float *out;
    int w, h, y0, y1;
    const sim_kernel *K;
} conv_job;

static void *conv_worker(void *arg)
{
    conv_job *j = arg;
    sim_convolve_rows(j->in, j->out, j->w, j->h, j->K, j->y0, j->y1);
    return NULL;
}

static int convolve_threads(const float *in, float *out, int w, int h, const sim_kernel *K,
                            int threads)
{
    if (threads < 1)
        threads = 1;
    if (threads > 16)
        threads = 16;
    conv_job jobs[16];
    pthread_t tid[16];
    int ok[16] = {0}, rc = 0;
    for (int t = 0; t < threads; t++)
        jobs[t] = (conv_job){in, out, w, h, (int)((long)h * t / threads),
                             (int)((long)h * (t + 1) / threads), K};
    for (int t = 1; t < threads; t++)
        ok[t] = pthread_create(&tid[t], NULL, conv_worker, &jobs[t]) == 0;
    conv_worker(&jobs[0]);
    for (int t = 1; t < threads; t++) {
        if (ok[t])
            pthread_join(tid[t], NULL);
        else {
            conv_worker(&jobs[t]);
            rc = -1;
        }
    }
    return rc;
}

int sim_diff_make(const float *sci, const float *ref, int w, int h, double sky_sci,
                  double sky_ref, const sim_kernel *K, float *diff, float *work, int threads)
{
    int rc = convolve_threads(K->conv_ref ? ref : sci, work, w, h, K, threads);
    float ds = (float)(sky_sci - sky_ref);
    long n = (long)w * h;
    if (K->conv_ref)
        for (long i = 0; i < n; i++)
            diff[i] = sci[i] - work[i] - ds;
    else
        for (long i = 0; i < n; i++)
            diff[i] = work[i] - ref[i] - ds;
    return rc;
}

static float conv_at(const float *in, int w, int h, const sim_kernel *K, int x, int y)
{
    int r = K->r, n = 2 * r + 1;
    double acc = 0;
    for (int dy = -r; dy <= r; dy++) {
        int sy = y + dy;
        sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
        for (int dx = -r; dx <= r; dx++) {
            int sx = x + dx;
            sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
            acc += K->k[(dy + r) * n + dx + r] * in[(long)sy * w + sx];
        }
    }
    return (float)acc;
}

void sim_diff_region(const float *sci, const float *ref, int w, int h, double sky_sci,
                     double sky_ref, const sim_kernel *K, float *diff, int x0, int y0, int x1,
                     int y1)
{
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > w ? w : x1;
    y1 = y1 > h ? h : y1;
    float ds = (float)(sky_sci - sky_ref);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            long i = (long)y * w + x;
            diff[i] = K->conv_ref ? sci[i] - conv_at(ref, w, h, K, x, y) - ds
                                  : conv_at(sci, w, h, K, x, y) - ref[i] - ds;
        }
}

double sim_var_diff(const sim_varmodel *vm, long idx)
{
    double vs = sim_noise_var(&vm->nsci, vm->sci_model[idx]);
    double vr = sim_noise_var(&vm->nref, vm->ref_model[idx]);
    return vm->K->conv_ref ? vs + vm->K->sumsq * vr : vm->K->sumsq * vs + vr;
}

int sim_filter_make(const sim_psf *sci, const sim_kernel *K, sim_filter *f)
{
    int rs = (int)ceil(2.0 * sci->fwhm_maj);
    int ns = 2 * rs + 1;
    double *ps = malloc((size_t)ns * ns * sizeof *ps);
    if (!ps)
        return -1;
    sim_psf_pixel_kernel(sci, rs, ps);
    if (K->conv_ref || K->r == 0) {
        f->r = rs;
        f->w = ps;
        return 0;
    }
    int rk = K->r, nk = 2 * rk + 1, r = rs + rk, n = 2 * r + 1;
    double *w = calloc((size_t)n * n, sizeof *w);
    if (!w) {
        free(ps);
        return -1;
    }
    for (int j = 0; j < ns; j++)
        for (int i = 0; i < ns; i++)
            for (int b = 0; b < nk; b++)
                for (int a = 0; a < nk; a++)
                    w[(j + b) * n + i + a] += ps[j * ns + i] * K->k[b * nk + a];
    double sum = 0;
    for (int t = 0; t < n * n; t++)
        sum += w[t];
    for (int t = 0; t < n * n; t++)
        w[t] /= sum;
    free(ps);
    f->r = r;
    f->w = w;
    return 0;
}

void sim_filter_free(sim_filter *f)
{
    if (f) {
        free(f->w);
        f->w = NULL;
    }
}

double sim_filter_snr(const sim_filter *f, const float *diff, const sim_varmodel *vm, int w,
                      int h, int i, int j, double *flux)
{
    int r = f->r, n = 2 * r + 1;
    double num = 0, den = 0;
    for (int b = -r; b <= r; b++) {
        int y = j + b;
        if (y < 0 || y >= h)
            continue;
        for (int a = -r; a <= r; a++) {
            int x = i + a;
            if (x < 0 || x >= w)
                continue;
            long idx = (long)y * w + x;
            double wt = f->w[(b + r) * n + a + r], v = sim_var_diff(vm, idx);
            num += wt * diff[idx] / v;
            den += wt * wt / v;
        }
    }
    if (den <= 0) {
        if (flux)
            *flux = 0;
        return 0;
    }
    if (flux)
        *flux = num / den;
    return num / sqrt(den);
}

void sim_filter_peak(const sim_filter *f, const float *diff, const sim_varmodel *vm, int w,
                     int h, int i0, int j0, int rb, int sign, int *pi, int *pj, double *snr,
                     double *flux, double *xc, double *yc)
{
    int bi = i0 < 0 ? 0 : i0 >= w ? w - 1 : i0, bj = j0 < 0 ? 0 : j0 >= h ? h - 1 : j0;
    double best = -INFINITY;
    for (int j = j0 - rb; j <= j0 + rb; j++) {
        if (j < 0 || j >= h)
            continue;
        for (int i = i0 - rb; i <= i0 + rb; i++) {
            if (i < 0 || i >= w)
                continue;
            double s = sign * sim_filter_snr(f, diff, vm, w, h, i, j, NULL);
            if (s > best) {
                best = s;
                bi = i;
                bj = j;
            }
        }
    }
    double fl;
    double s0 = sim_filter_snr(f, diff, vm, w, h, bi, bj, &fl);
    *pi = bi;
    *pj = bj;
    *snr = s0;
    if (flux)
        *flux = fl;
    double ox = 0, oy = 0;
    if (bi > 0 && bi < w - 1) {
        double sl = sim_filter_snr(f, diff, vm, w, h, bi - 1, bj, NULL);
        double sr = sim_filter_snr(f, diff, vm, w, h, bi + 1, bj, NULL);
        double den = sl - 2 * s0 + sr;
        if (fabs(den) > 1e-12)
            ox = 0.5 * (sl - sr) / den;
    }
    if (bj > 0 && bj < h - 1) {
        double sd = sim_filter_snr(f, diff, vm, w, h, bi, bj - 1, NULL);
        double su = sim_filter_snr(f, diff, vm, w, h, bi, bj + 1, NULL);
        double den = sd - 2 * s0 + su;
        if (fabs(den) > 1e-12)
            oy = 0.5 * (sd - su) / den;
    }
    ox = ox > 0.5 ? 0.5 : ox < -0.5 ? -0.5 : ox;
    oy = oy > 0.5 ? 0.5 : oy < -0.5 ? -0.5 : oy;
    if (xc)
        *xc = bi + ox;
    if (yc)
        *yc = bj + oy;
}

/* The S/N functional at (i, j): a (nf x nf) with S = sum(a d), its
 * convolution with K (na x na, na = nf + 2 rk) and its variance under the
 * true noise.  Returns -1 near the edge or without memory. */
static int snr_functional(const sim_filter *f, const sim_varmodel *vm, int w, int h, int i,
                          int j, double **pa, double **pka, double *pvar)
{
    const sim_kernel *K = vm->K;
    int rf = f->r, nf = 2 * rf + 1, rk = K->r, nk = 2 * rk + 1;
    int ra = rf + rk, na = 2 * ra + 1;
    if (i - ra - rk < 0 || j - ra - rk < 0 || i + ra + rk >= w || j + ra + rk >= h)
        return -1;
    double *a = calloc((size_t)nf * nf, sizeof *a), *ka = calloc((size_t)na * na, sizeof *ka);
    if (!a || !ka) {
        free(a);
        free(ka);
        return -1;
    }
    double den = 0;
    for (int b = -rf; b <= rf; b++)
        for (int c = -rf; c <= rf; c++) {
            long idx = (long)(j + b) * w + i + c;
            double wt = f->w[(b + rf) * nf + c + rf], v = sim_var_diff(vm, idx);
            a[(b + rf) * nf + c + rf] = wt / v;
            den += wt * wt / v;
        }
    double norm = 1.0 / sqrt(den);
    for (int t = 0; t < nf * nf; t++)
        a[t] *= norm;
    /* K a (K is centrosymmetric, so K^T a = K (*) a) */
    for (int b = 0; b < nf; b++)
        for (int c = 0; c < nf; c++)
            for (int bb = 0; bb < nk; bb++)
                for (int cc = 0; cc < nk; cc++)
                    ka[(b + bb) * na + c + cc] += a[b * nf + c] * K->k[bb * nk + cc];
    double var = 0;
    for (int b = -ra; b <= ra; b++)
        for (int c = -ra; c <= ra; c++) {
            long idx = (long)(j + b) * w + i + c;
            double vs = sim_noise_var(&vm->nsci, vm->sci_model[idx]);
            double vr = sim_noise_var(&vm->nref, vm->ref_model[idx]);
            double av = (abs(b) <= rf && abs(c) <= rf) ? a[(b + rf) * nf + c + rf] : 0;
            double kv = ka[(b + ra) * na + c + ra];
            var += K->conv_ref ? av * av * vs + kv * kv * vr : kv * kv * vs + av * av * vr;
        }
    *pa = a;
    *pka = ka;
    *pvar = var;
    return 0;
}

double sim_filter_snr_std(const sim_filter *f, const sim_varmodel *vm, int w, int h, int i,
                          int j)
{
    double *a, *ka, var;
    if (snr_functional(f, vm, w, h, i, j, &a, &ka, &var))
        return 1.0;
    free(a);
    free(ka);
    return sqrt(var);
}

int sim_constrain_peak(const sim_filter *f, const sim_varmodel *vm, float *sci, float *ref,
                       float *diff, int w, int h, double sky_sci, double sky_ref, int i, int j,
                       double nu)
{
    const sim_kernel *K = vm->K;
    int rf = f->r, nf = 2 * rf + 1, rk = K->r, ra = rf + rk, na = 2 * ra + 1;
    double *a, *ka, var;
    if (snr_functional(f, vm, w, h, i, j, &a, &ka, &var))
        return -1;
    double s0 = 0;
    for (int b = -rf; b <= rf; b++)
        for (int c = -rf; c <= rf; c++)
            s0 += a[(b + rf) * nf + c + rf] * diff[(long)(j + b) * w + i + c];
    double cst = (nu - s0) / var;
    for (int b = -ra; b <= ra; b++)
        for (int c = -ra; c <= ra; c++) {
            long idx = (long)(j + b) * w + i + c;
            double vs = sim_noise_var(&vm->nsci, vm->sci_model[idx]);
            double vr = sim_noise_var(&vm->nref, vm->ref_model[idx]);
            double av = (abs(b) <= rf && abs(c) <= rf) ? a[(b + rf) * nf + c + rf] : 0;
            double kv = ka[(b + ra) * na + c + ra];
            if (K->conv_ref) {
                sci[idx] += (float)(cst * av * vs);
                ref[idx] -= (float)(cst * kv * vr);
            } else {
                sci[idx] += (float)(cst * kv * vs);
                ref[idx] -= (float)(cst * av * vr);
            }
        }
    free(a);
    free(ka);
    sim_diff_region(sci, ref, w, h, sky_sci, sky_ref, K, diff, i - ra - rk, j - ra - rk,
                    i + ra + rk + 1, j + ra + rk + 1);
    return 0;
}
