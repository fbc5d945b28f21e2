/* sim_scene.h — the static sky: stars and Sersic galaxies.
 *
 * Galaxies are Sersic (1963) profiles
 *     I(m) = I_e exp(-b_n [(m / r_e)^(1/n) - 1])
 * with m the elliptical radius sqrt(x'^2 + (y'/q)^2) (x' along the major
 * axis), r_e the half-light radius along the major axis and b_n from the
 * asymptotic expansion of Ciotti & Bertin (1999).  A galaxy is sampled
 * pixel-integrated (sub-sampled where the profile is steep), normalised to
 * the exact light fraction inside its window, and convolved with the PSF
 * point-sampled on the pixel grid (sim_psf_kernel).
 *
 * The field population follows power-law differential number counts
 * dN/dm = A 10^(slope (m - 20)) per deg^2 per mag for stars and galaxies
 * separately (profile numbers in sim_survey.h, sources in
 * doc/simulation.md); positions are uniform.
 *
 * Thread safety: reentrant; a gsl_rng belongs to one thread at a time.
 */
#ifndef SV_SIM_SCENE_H
#define SV_SIM_SCENE_H

#include <gsl/gsl_rng.h>

#include "sim/sim_psf.h"
#include "sim/sim_survey.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_sersic {
    double x, y;        /* centre, 0-based pixel coordinates               */
    double flux;        /* total flux, DN                                  */
    double re;          /* half-light radius along the major axis, pixels  */
    double n;           /* Sersic index                                     */
    double q, theta;    /* axis ratio, position angle (radians from +x)    */
} sim_sersic;

/* b_n with I(r_e) enclosing half the light (Ciotti & Bertin 1999). */
double sim_sersic_bn(double n);

/* Fraction of the light inside elliptical radius x * r_e. */
double sim_sersic_frac_within(double n, double x);

/* Surface brightness (DN / pixel^2) at offset (dx, dy) from the centre. */
double sim_sersic_sb(const sim_sersic *g, double dx, double dy);

/* Add galaxy g, scaled by flux_scale and shifted by (sx, sy), convolved
 * with psf, to img (w x h).  `cut` (DN/pixel) sets how far the profile and
 * the PSF wings are followed.  Returns 0, or -1 when out of memory. */
int sim_sersic_add(const sim_sersic *g, const sim_psf *psf, double flux_scale, double sx,
                   double sy, float *img, int w, int h, double cut);

/* Draw a position from the galaxy's light distribution (a supernova
 * following the host's light). */
void sim_sersic_sample_point(const sim_sersic *g, gsl_rng *r, double *x, double *y);

/* Draw a galaxy's shape for magnitude mag: r_e (log-normal, shrinking
 * towards faint magnitudes), n (disc-like or spheroid-like), q, theta.
 * x, y, flux are left to the caller. */
void sim_scene_galaxy_shape(const sv_sim_survey *s, double mag, gsl_rng *r, sim_sersic *g);

/* A magnitude from dN/dm ~ 10^(slope m) between m0 and m1. */
double sim_scene_draw_mag(gsl_rng *r, double slope, double m0, double m1);

typedef struct sim_source {
    int is_galaxy;
    double mag;
    sim_sersic g;       /* x, y, flux (and the shape for a galaxy) */
} sim_source;

/* Draw the stars and galaxies of band b over [x0, x1) x [y0, y1) (pixels)
 * between magnitudes bright and faint.  *out is malloc'ed (caller frees).
 * Returns the count, or -1 when out of memory. */
long sim_scene_field(const sv_sim_survey *s, int b, double x0, double y0, double x1, double y1,
                     double bright, double faint, gsl_rng *r, sim_source **out);

/* Render sources, flux scaled by flux_scale and shifted by (sx, sy), into
 * img with psf.  Returns 0 or -1 (out of memory). */
int sim_scene_render(const sim_source *src, long n, const sim_psf *psf, double flux_scale,
                     double sx, double sy, float *img, int w, int h, double cut);

#ifdef __cplusplus
}
#endif
#endif
