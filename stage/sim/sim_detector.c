/* sim_detector.c — saturation, bleed trails, cosmic rays, hot pixels, bad
 * columns (see sim_detector.h). */
#include "sim/sim_detector.h"

#include <gsl/gsl_randist.h>
#include <math.h>

#include "sim/sim_noise.h"
#include "core/rng.h"

long sim_det_saturate(float *img, uint8_t *mask, int w, int h, double sat, int x0, int x1)
{
    long nsat = 0;
    if (x0 < 0)
        x0 = 0;
    if (x1 > w)
        x1 = w;
    float fs = (float)sat;
    for (int i = x0; i < x1; i++) {
        int j = 0;
        while (j < h) {
            if (img[(long)j * w + i] <= fs) {
                j++;
                continue;
            }
            int a = j;
            double excess = 0;
            while (j < h && img[(long)j * w + i] > fs) {
                excess += img[(long)j * w + i] - sat;
                img[(long)j * w + i] = fs;
                if (mask)
                    mask[(long)j * w + i] |= SIM_MASK_SAT;
                nsat++;
                j++;
            }
            int bnd = j; /* first pixel after the run */
            /* half the excess up (increasing y), half down; what runs off
             * an edge is lost (read out). */
            double up = 0.5 * excess, down = 0.5 * excess;
            for (int k = bnd; k < h && up > 0; k++) {
                float *p = img + (long)k * w + i;
                double room = sat - *p;
                if (room <= 0)
                    continue;
                double take = room < up ? room : up;
                *p += (float)take;
                up -= take;
                if (mask && *p >= fs)
                    mask[(long)k * w + i] |= SIM_MASK_SAT;
                if (*p >= fs)
                    nsat++;
            }
            for (int k = a - 1; k >= 0 && down > 0; k--) {
                float *p = img + (long)k * w + i;
                double room = sat - *p;
                if (room <= 0)
                    continue;
                double take = room < down ? room : down;
                *p += (float)take;
                down -= take;
                if (mask && *p >= fs)
                    mask[(long)k * w + i] |= SIM_MASK_SAT;
                if (*p >= fs)
                    nsat++;
            }
            /* continue the scan after the filled part of the trail */
            while (j < h && img[(long)j * w + i] >= fs)
                j++;
        }
    }
    return nsat;
}

void sim_det_cosmic_draw(const sv_sim_survey *s, gsl_rng *r, double x, double y, sim_cosmic *cr)
{
    cr->x = x;
    cr->y = y;
    cr->angle = 2.0 * M_PI * gsl_rng_uniform(r);
    cr->seed = gsl_rng_get(r);
    double u = gsl_rng_uniform(r);
    if (u < 0.7) { /* muon */
        cr->kind = 0;
        double c = pow(gsl_rng_uniform_pos(r), 0.25); /* cos(theta), pdf ~ cos^3 */
        if (c < 0.05)
            c = 0.05;
        double tan_t = sqrt(1.0 - c * c) / c;
        cr->len = s->thick_um * tan_t / s->pixel_um;
        if (cr->len > 200.0)
            cr->len = 200.0;
        double path = s->thick_um / c;
        double dedx = 80.0 + 8.0 * gsl_ran_landau(r);
        dedx = dedx < 40.0 ? 40.0 : dedx > 2000.0 ? 2000.0 : dedx;
        cr->charge = path * dedx;
    } else if (u < 0.9) { /* spot */
        cr->kind = 1;
        cr->len = 0;
        cr->charge = exp(log(300.0) + (log(8000.0) - log(300.0)) * gsl_rng_uniform(r));
    } else { /* worm */
        cr->kind = 2;
        cr->len = 2.0 + 6.0 * gsl_rng_uniform(r);
        cr->charge = exp(log(1000.0) + (log(20000.0) - log(1000.0)) * gsl_rng_uniform(r));
    }
}

/* deposit q DN at (x, y) with Gaussian diffusion sigma sd (3x3 pixels) */
static void deposit(float *img, uint8_t *mask, int w, int h, double x, double y, double q,
                    double sd)
{
    int ci = (int)lround(x), cj = (int)lround(y);
    double wx[3], wy[3];
    for (int k = -1; k <= 1; k++) {
        double a = (ci + k - 0.5 - x) / (sd * M_SQRT2), b = (ci + k + 0.5 - x) / (sd * M_SQRT2);
        wx[k + 1] = 0.5 * (erf(b) - erf(a));
        a = (cj + k - 0.5 - y) / (sd * M_SQRT2);
        b = (cj + k + 0.5 - y) / (sd * M_SQRT2);
        wy[k + 1] = 0.5 * (erf(b) - erf(a));
    }
    for (int b = -1; b <= 1; b++) {
        int j = cj + b;
        if (j < 0 || j >= h)
            continue;
        for (int a = -1; a <= 1; a++) {
            int i = ci + a;
            if (i < 0 || i >= w)
                continue;
            double v = q * wx[a + 1] * wy[b + 1];
            img[(long)j * w + i] += (float)v;
            if (mask && v > 1.0)
                mask[(long)j * w + i] |= SIM_MASK_CR;
        }
    }
}

void sim_det_cosmic_add(const sim_cosmic *cr, double gain, float *img, uint8_t *mask, int w,
                        int h)
{
    double q = cr->charge / gain, sd = 0.3;
    if (cr->kind == 1) {
        deposit(img, mask, w, h, cr->x, cr->y, q, sd + 0.2);
        return;
    }
    int n = (int)ceil(cr->len / 0.1) + 1;
    double x = cr->x, y = cr->y, ang = cr->angle;
    uint64_t st = cr->seed;
    for (int k = 0; k < n; k++) {
        deposit(img, mask, w, h, x, y, q / n, sd);
        if (cr->kind == 2) { /* worm: the direction wanders */
            sv_lcg64_next(&st);
            ang += ((double)(st >> 11) / 9007199254740992.0 - 0.5) * 0.6;
        }
        x += 0.1 * cos(ang);
        y += 0.1 * sin(ang);
    }
}

void sim_det_hot_pixel(float *img, uint8_t *mask, int w, int h, int i, int j, double amp,
                       double cti, double gain, gsl_rng *r)
{
    if (i < 0 || i >= w || j < 0 || j >= h)
        return;
    double noise = amp > 0 ? gsl_ran_gaussian_ziggurat(r, sqrt(amp / gain)) : 0;
    img[(long)j * w + i] += (float)((1.0 - cti) * amp + noise);
    if (mask)
        mask[(long)j * w + i] |= SIM_MASK_HOT;
    if (j + 1 < h)
        img[(long)(j + 1) * w + i] += (float)(cti * amp);
}

void sim_det_bad_column(float *img, uint8_t *mask, int w, int h, int i, int j0, int j1,
                        double amp, double gain, gsl_rng *r)
{
    if (i < 0 || i >= w)
        return;
    if (j0 < 0)
        j0 = 0;
    if (j1 > h)
        j1 = h;
    double sd = amp > 0 ? sqrt(amp / gain) : 0;
    for (int j = j0; j < j1; j++) {
        img[(long)j * w + i] += (float)(amp + (sd > 0 ? gsl_ran_gaussian_ziggurat(r, sd) : 0));
        if (mask)
            mask[(long)j * w + i] |= SIM_MASK_BADCOL;
    }
}
