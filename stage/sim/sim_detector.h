/* sim_detector.h — detector artefacts of the simulated science images:
 * saturation with bleed trails, cosmic rays, hot pixels and bad columns.
 *
 * Saturation: a pixel cannot hold more than the saturation level; the
 * excess charge spills along its column (the CCD's parallel-transfer
 * direction, image y) into the neighbours above and below, filling each to
 * saturation in turn: a bleed trail whose length is the excess charge.
 *
 * Cosmic rays: minimum-ionising muons cross the sensitive thickness t at a
 * zenith angle theta drawn from the sea-level intensity I ~ cos^2(theta)
 * (through a horizontal surface: pdf(cos theta) ~ cos^3 theta), leaving a
 * straight track of projected length t tan(theta) with a Landau-distributed
 * charge of most probable ~80 e-/micron in silicon (Bichsel 1988); the rest
 * are compact "spots" and curly "worms" of low-energy electrons.  Charge
 * diffuses with a Gaussian of sigma 0.3 pixel.  Cosmic rays are sharp:
 * they are not convolved with the PSF, and they hit the science image only
 * (the reference is a co-add with outlier rejection).
 *
 * Hot pixels carry extra dark charge (with its own Poisson noise) and a
 * charge-transfer tail into the next pixel read out; bad columns carry a
 * constant excess (positive or negative) over a run of rows.
 *
 * Mask bits are OR-ed into an optional uint8 mask (NULL = none).
 * Thread safety: reentrant.
 */
#ifndef SV_SIM_DETECTOR_H
#define SV_SIM_DETECTOR_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "sim/sim_survey.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SIM_MASK_SAT = 1, SIM_MASK_BADCOL = 2, SIM_MASK_HOT = 4, SIM_MASK_CR = 8 };

/* Clip columns x0..x1-1 of img at `sat` and bleed the excess along each
 * column.  Returns the number of saturated pixels. */
long sim_det_saturate(float *img, uint8_t *mask, int w, int h, double sat, int x0, int x1);

typedef struct sim_cosmic {
    int kind;            /* 0 muon track, 1 spot, 2 worm                */
    double x, y;         /* where it starts (pixels)                     */
    double len;          /* projected length (pixels)                    */
    double angle;        /* direction in the image plane (radians)       */
    double charge;       /* total charge, e-                             */
    uint64_t seed;       /* shape details of worms                       */
} sim_cosmic;

/* Draw a cosmic ray hitting near (x, y). */
void sim_det_cosmic_draw(const sv_sim_survey *s, gsl_rng *r, double x, double y, sim_cosmic *cr);

/* Deposit it (charge / gain DN) into img. */
void sim_det_cosmic_add(const sim_cosmic *cr, double gain, float *img, uint8_t *mask, int w,
                        int h);

/* A hot pixel of amp DN at (i, j) with a fraction cti of it trailing into
 * (i, j+1); Poisson noise of the extra charge drawn from r. */
void sim_det_hot_pixel(float *img, uint8_t *mask, int w, int h, int i, int j, double amp,
                       double cti, double gain, gsl_rng *r);

/* Column i, rows j0..j1-1, offset by amp DN per pixel (noise drawn from r
 * when amp > 0). */
void sim_det_bad_column(float *img, uint8_t *mask, int w, int h, int i, int j0, int j1,
                        double amp, double gain, gsl_rng *r);

#ifdef __cplusplus
}
#endif
#endif
