/* sim_scene.c — stars and Sersic galaxies (see sim_scene.h). */
#include "sim/sim_scene.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double sim_sersic_bn(double n)
{
    /* Ciotti & Bertin (1999), eq. 18; accurate to < 1e-4 for n > 0.36 */
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n) +
           131.0 / (1148175.0 * n * n * n) - 2194697.0 / (30690717750.0 * n * n * n * n);
}

double sim_sersic_frac_within(double n, double x)
{
    if (x <= 0)
        return 0;
    double b = sim_sersic_bn(n);
    return gsl_sf_gamma_inc_P(2.0 * n, b * pow(x, 1.0 / n));
}

static double sersic_ie(const sim_sersic *g, double b)
{
    double tot = 2.0 * M_PI * g->n * g->q * g->re * g->re * exp(b) *
                 exp(gsl_sf_lngamma(2.0 * g->n) - 2.0 * g->n * log(b));
    return g->flux / tot;
}

/* elliptical radius in units of r_e */
static inline double ell_radius(const sim_sersic *g, double c, double s, double dx, double dy)
{
    double xp = c * dx + s * dy, yp = (-s * dx + c * dy) / g->q;
    return sqrt(xp * xp + yp * yp) / g->re;
}

double sim_sersic_sb(const sim_sersic *g, double dx, double dy)
{
    double b = sim_sersic_bn(g->n);
    double m = ell_radius(g, cos(g->theta), sin(g->theta), dx, dy);
    return sersic_ie(g, b) * exp(-b * (pow(m, 1.0 / g->n) - 1.0));
}

int sim_sersic_add(const sim_sersic *g, const sim_psf *psf, double flux_scale, double sx,
                   double sy, float *img, int w, int h, double cut)
{
    double flux = g->flux * flux_scale;
    if (!(flux > 0) || !(g->re > 0))
        return 0;
    double x = g->x + sx, y = g->y + sy;
    double b = sim_sersic_bn(g->n), ie = sersic_ie(g, b) * flux_scale;
    double c = cos(g->theta), s = sin(g->theta), inv_n = 1.0 / g->n;

    /* Extent: out to where the surface brightness drops below 5 cut (a
     * tenth of the sky noise), within [2 px, min(12 r_e, 150 px)]; the
     * light beyond is accounted for by normalising to the exact fraction
     * inside.  A galaxy whose peak (after seeing) is below ~0.5 sigma of
     * the sky is sampled more coarsely, and its PSF kernel is shorter. */
    double xmax = 12.0, lim = 5.0 * cut;
    if (lim > 0 && ie > lim) {
        double t = 1.0 + log(ie / lim) / b; /* (m)^(1/n) at the limit */
        xmax = fmin(xmax, pow(t, g->n));
    } else if (lim > 0)
        xmax = 1.0;
    double R = fmin(fmax(xmax * g->re, 2.0), 150.0);
    double frac = sim_sersic_frac_within(g->n, R / g->re);
    double peak = flux * psf->i0; /* a bound on the convolved peak */
    int faint = peak < 25.0 * cut;
    double kmax = (faint ? 2.0 : peak > 2500.0 * cut ? 4.0 : 2.5) * psf->fwhm_maj;
    int kr = (int)ceil(fmin(sim_psf_radius(psf, flux, cut), kmax));
    if (kr < 2)
        kr = 2;
    /* bounding box of the ellipse (semi-axes R, qR) */
    int gx = (int)ceil(sqrt(R * R * c * c + g->q * g->q * R * R * s * s)) + 1;
    int gy = (int)ceil(sqrt(R * R * s * s + g->q * g->q * R * R * c * c)) + 1;
    int ci = (int)lround(x), cj = (int)lround(y);
    if (ci + gx + kr < 0 || cj + gy + kr < 0 || ci - gx - kr >= w || cj - gy - kr >= h)
        return 0; /* entirely off the image */
    int gnx = 2 * gx + 1, gny = 2 * gy + 1, kn = 2 * kr + 1;
    int onx = gnx + 2 * kr, ony = gny + 2 * kr;
    float *gal = calloc((size_t)gnx * gny, sizeof *gal);
    double *kd = malloc((size_t)kn * kn * sizeof *kd);
    float *ker = malloc((size_t)kn * kn * sizeof *ker);
    float *out = calloc((size_t)onx * ony, sizeof *out);
    if (!gal || !kd || !ker || !out) {
        free(gal);
        free(kd);
        free(ker);
        free(out);
        return -1;
    }
    /* pixel-integrated intrinsic profile */
    double sum = 0;
    for (int j = 0; j < gny; j++) {
        double dy = cj - gy + j - y;
        for (int i = 0; i < gnx; i++) {
            double dx = ci - gx + i - x;
            double mc = ell_radius(g, c, s, dx, dy) * g->re;
            if (mc > R + 0.75)
                continue;
            int ns = faint ? (mc < 1.0 ? 3 : 1)
                           : mc < 1.0 ? 7 : (mc < 2.0 * g->re || g->re < 2.0) ? 3 : 1;
            double hs = 1.0 / ns, acc = 0;
            for (int bb = 0; bb < ns; bb++)
                for (int aa = 0; aa < ns; aa++) {
                    double ex = dx - 0.5 + (aa + 0.5) * hs, ey = dy - 0.5 + (bb + 0.5) * hs;
                    double mm = ell_radius(g, c, s, ex, ey);
                    if (mm * g->re <= R)
                        acc += exp(-b * (exp(inv_n * log(mm > 1e-12 ? mm : 1e-12)) - 1.0));
                }
            double v = ie * acc * hs * hs;
            gal[j * gnx + i] = (float)v;
            sum += v;
        }
    }
    double norm = sum > 0 ? flux * frac / sum : 0;
    sim_psf_kernel(psf, kr, kd);
    for (int t = 0; t < kn * kn; t++)
        ker[t] = (float)(kd[t] * norm);
    /* out = gal (*) ker, scattering each non-zero galaxy pixel */
    for (int j = 0; j < gny; j++)
        for (int i = 0; i < gnx; i++) {
            float v = gal[j * gnx + i];
            if (v == 0.0f)
                continue;
            for (int kj = 0; kj < kn; kj++) {
                float *o = out + (long)(j + kj) * onx + i;
                const float *kk = ker + (long)kj * kn;
                for (int ki = 0; ki < kn; ki++)
                    o[ki] += v * kk[ki];
            }
        }
    int ox = ci - gx - kr, oy = cj - gy - kr;
    for (int j = 0; j < ony; j++) {
        int yy = oy + j;
        if (yy < 0 || yy >= h)
            continue;
        for (int i = 0; i < onx; i++) {
            int xx = ox + i;
            if (xx >= 0 && xx < w)
                img[(long)yy * w + xx] += out[j * onx + i];
        }
    }
    free(gal);
    free(kd);
    free(ker);
    free(out);
    return 0;
}

void sim_sersic_sample_point(const sim_sersic *g, gsl_rng *r, double *x, double *y)
{
    double b = sim_sersic_bn(g->n);
    double t = gsl_ran_gamma(r, 2.0 * g->n, 1.0);
    double m = g->re * pow(t / b, g->n);
    if (m > 6.0 * g->re)
        m = 6.0 * g->re;
    double phi = 2.0 * M_PI * gsl_rng_uniform(r);
    double xp = m * cos(phi), yp = m * g->q * sin(phi);
    double c = cos(g->theta), s = sin(g->theta);
    *x = g->x + c * xp - s * yp;
    *y = g->y + s * xp + c * yp;
}

void sim_scene_galaxy_shape(const sv_sim_survey *s, double mag, gsl_rng *r, sim_sersic *g)
{
    /* half-light radius: 1" at m = 20, 0.12 dex smaller per magnitude
     * fainter, 0.2 dex scatter, within 0.15"..10" */
    double lre = log10(1.0) - 0.12 * (mag - 20.0) + gsl_ran_gaussian(r, 0.2);
    double re = pow(10.0, lre);
    re = re < 0.15 ? 0.15 : re > 10.0 ? 10.0 : re;
    g->re = re / s->pixscale;
    if (gsl_rng_uniform(r) < 0.6) { /* disc dominated */
        g->n = 0.7 + 0.8 * gsl_rng_uniform(r);
        g->q = 0.25 + 0.75 * gsl_rng_uniform(r);
    } else { /* spheroid dominated */
        g->n = 2.5 + 2.0 * gsl_rng_uniform(r);
        g->q = 0.5 + 0.5 * gsl_rng_uniform(r);
    }
    g->theta = M_PI * gsl_rng_uniform(r);
}

double sim_scene_draw_mag(gsl_rng *r, double slope, double m0, double m1)
{
    double a = pow(10.0, slope * (m0 - 20.0)), b = pow(10.0, slope * (m1 - 20.0));
    double u = gsl_rng_uniform(r);
    return 20.0 + log10(a + u * (b - a)) / slope;
}

static double counts(double dn20, double slope, double m0, double m1)
{
    /* integral of dn20 10^(slope (m - 20)) dm */
    return dn20 / (slope * M_LN10) * (pow(10.0, slope * (m1 - 20.0)) - pow(10.0, slope * (m0 - 20.0)));
}

long sim_scene_field(const sv_sim_survey *s, int b, double x0, double y0, double x1, double y1,
                     double bright, double faint, gsl_rng *r, sim_source **out)
{
    double area = (x1 - x0) * (y1 - y0) * s->pixscale * s->pixscale / (3600.0 * 3600.0);
    double gal_bright = bright > 14.0 ? bright : 14.0;
    double mu_s = area * counts(s->star_dn20, s->star_slope, bright, faint);
    double mu_g = faint > gal_bright ? area * counts(s->gal_dn20, s->gal_slope, gal_bright, faint) : 0;
    unsigned ns = gsl_ran_poisson(r, mu_s), ng = gsl_ran_poisson(r, mu_g);
    *out = NULL;
    if (ns + ng == 0)
        return 0;
    sim_source *v = calloc(ns + ng, sizeof *v);
    if (!v)
        return -1;
    double zp = s->band[b].zp;
    for (unsigned k = 0; k < ns + ng; k++) {
        sim_source *p = v + k;
        p->is_galaxy = k >= ns;
        p->mag = p->is_galaxy ? sim_scene_draw_mag(r, s->gal_slope, gal_bright, faint)
                              : sim_scene_draw_mag(r, s->star_slope, bright, faint);
        p->g.x = x0 + (x1 - x0) * gsl_rng_uniform(r);
        p->g.y = y0 + (y1 - y0) * gsl_rng_uniform(r);
        p->g.flux = sv_sim_flux(zp, p->mag);
        if (p->is_galaxy)
            sim_scene_galaxy_shape(s, p->mag, r, &p->g);
    }
    *out = v;
    return (long)(ns + ng);
}

int sim_scene_render(const sim_source *src, long n, const sim_psf *psf, double flux_scale,
                     double sx, double sy, float *img, int w, int h, double cut)
{
    for (long k = 0; k < n; k++) {
        const sim_source *p = src + k;
        if (p->is_galaxy) {
            if (sim_sersic_add(&p->g, psf, flux_scale, sx, sy, img, w, h, cut))
                return -1;
        } else
            sim_psf_add(psf, img, w, h, p->g.x + sx, p->g.y + sy, p->g.flux * flux_scale, cut);
    }
    return 0;
}
