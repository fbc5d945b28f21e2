/* sim_psf.c — Moffat PSFs (see sim_psf.h). */
#include "sim/sim_psf.h"

#include <math.h>
#include <stdlib.h>

int sim_psf_init(sim_psf *p, double fwhm, double beta, double q, double theta)
{
    if (!(fwhm > 0) || !(beta > 1.0) || !(q > 0) || q > 1.0 || !isfinite(theta))
        return -1;
    p->fwhm = fwhm;
    p->beta = beta;
    p->q = q;
    p->theta = theta;
    double fmaj = fwhm / sqrt(q), fmin = fwhm * sqrt(q);
    double k = 2.0 * sqrt(pow(2.0, 1.0 / beta) - 1.0);
    p->fwhm_maj = fmaj;
    p->a_maj = fmaj / k;
    p->a_min = fmin / k;
    double c = cos(theta), s = sin(theta);
    double im = 1.0 / (p->a_maj * p->a_maj), in = 1.0 / (p->a_min * p->a_min);
    /* x' = c dx + s dy ; y' = -s dx + c dy */
    p->cxx = c * c * im + s * s * in;
    p->cyy = s * s * im + c * c * in;
    p->cxy = c * s * (im - in);
    p->i0 = (beta - 1.0) / (M_PI * p->a_maj * p->a_min);
    /* Sub-sampling: enough that the midpoint rule resolves the core
     * curvature (error ~ h^2 f''/24 < 0.2% of the peak). */
    int n = (int)ceil(10.0 / fwhm);
    p->nsub = n < 2 ? 2 : n > 8 ? 8 : n;
    p->r_core = 2.0 * fmaj;
    return 0;
}

static inline double moffat(const sim_psf *p, double dx, double dy)
{
    double u = p->cxx * dx * dx + 2.0 * p->cxy * dx * dy + p->cyy * dy * dy;
    return p->i0 * exp(-p->beta * log1p(u));
}

double sim_psf_value(const sim_psf *p, double dx, double dy) { return moffat(p, dx, dy); }

double sim_psf_pixel(const sim_psf *p, double dx, double dy)
{
    if (dx * dx + dy * dy > p->r_core * p->r_core)
        return moffat(p, dx, dy);
    int n = p->nsub;
    double h = 1.0 / n, sum = 0;
    for (int b = 0; b < n; b++) {
        double yy = dy - 0.5 + (b + 0.5) * h;
        for (int a = 0; a < n; a++)
            sum += moffat(p, dx - 0.5 + (a + 0.5) * h, yy);
    }
    return sum * h * h;
}

double sim_psf_radius(const sim_psf *p, double flux, double cut)
{
    double rmin = 1.5 * p->fwhm_maj, rmax = 256.0;
    if (!(flux > 0) || !(cut > 0))
        return rmin;
    double ratio = p->i0 * flux / cut;
    if (ratio <= 1.0)
        return rmin;
    double r = p->a_maj * sqrt(fmax(0.0, pow(ratio, 1.0 / p->beta) - 1.0));
    return r < rmin ? rmin : r > rmax ? rmax : r;
}

double sim_psf_flux_outside(const sim_psf *p, double r)
{
    /* Within elliptical radius u: 1 - (1+u)^(1-beta); along the major axis
     * the radius r gives u = (r/a_maj)^2. */
    double u = (r / p->a_maj) * (r / p->a_maj);
    return pow(1.0 + u, 1.0 - p->beta);
}

void sim_psf_add(const sim_psf *p, float *img, int w, int h, double x, double y, double flux,
                 double cut)
{
    if (!(flux != 0) || !isfinite(x) || !isfinite(y))
        return;
    double R = sim_psf_radius(p, fabs(flux), cut);
    int i0 = (int)floor(x - R + 0.5), i1 = (int)ceil(x + R - 0.5);
    int j0 = (int)floor(y - R + 0.5), j1 = (int)ceil(y + R - 0.5);
    if (i0 < 0)
        i0 = 0;
    if (j0 < 0)
        j0 = 0;
    if (i1 > w - 1)
        i1 = w - 1;
    if (j1 > h - 1)
        j1 = h - 1;
    double R2 = R * R;
    for (int j = j0; j <= j1; j++) {
        double dy = j - y;
        float *row = img + (long)j * w;
        for (int i = i0; i <= i1; i++) {
            double dx = i - x;
            if (dx * dx + dy * dy > R2)
                continue;
            row[i] += (float)(flux * sim_psf_pixel(p, dx, dy));
        }
    }
}

void sim_psf_add_trail(const sim_psf *p, float *img, int w, int h, double x0, double y0,
                       double x1, double y1, double flux, double cut)
{
    double L = hypot(x1 - x0, y1 - y0);
    int n = (int)ceil(L / 0.25);
    if (n < 1)
        n = 1;
    /* each sub-position carries flux/n; its render radius must be set by
     * the whole trail's surface brightness, so use the sub-flux with a
     * floor scaled to it */
    for (int k = 0; k < n; k++) {
        double t = (k + 0.5) / n;
        sim_psf_add(p, img, w, h, x0 + t * (x1 - x0), y0 + t * (y1 - y0), flux / n,
                    cut / n);
    }
}

void sim_psf_kernel(const sim_psf *p, int r, double *k)
{
    int n = 2 * r + 1;
    double sum = 0;
    for (int j = -r; j <= r; j++)
        for (int i = -r; i <= r; i++)
            sum += k[(j + r) * n + (i + r)] = moffat(p, i, j);
    for (int t = 0; t < n * n; t++)
        k[t] /= sum;
}

void sim_psf_pixel_kernel(const sim_psf *p, int r, double *k)
{
    int n = 2 * r + 1;
    double sum = 0;
    for (int j = -r; j <= r; j++)
        for (int i = -r; i <= r; i++)
            sum += k[(j + r) * n + (i + r)] = sim_psf_pixel(p, i, j);
    for (int t = 0; t < n * n; t++)
        k[t] /= sum;
}

void sim_psf_gauss_cov(const sim_psf *p, double cov[3])
{
    const double f2s = 1.0 / (2.0 * sqrt(2.0 * log(2.0)));
    double smaj = p->fwhm_maj * f2s, smin = p->fwhm * sqrt(p->q) * f2s;
    double c = cos(p->theta), s = sin(p->theta);
    cov[0] = c * c * smaj * smaj + s * s * smin * smin;
    cov[1] = c * s * (smaj * smaj - smin * smin);
    cov[2] = s * s * smaj * smaj + c * c * smin * smin;
}

double sim_psf_neff(const sim_psf *p)
{
    int r = (int)ceil(sim_psf_radius(p, 1.0, 1e-6));
    double s2 = 0, s1 = 0;
    for (int j = -r; j <= r; j++)
        for (int i = -r; i <= r; i++) {
            double v = sim_psf_pixel(p, i, j);
            s1 += v;
            s2 += v * v;
        }
    return s1 * s1 / s2;
}
