/* sim_frame.h — one simulated science/reference/difference image triple,
 * the common machinery of labelled stamps (a small patch per stamp) and
 * full exposures (one large frame).
 *
 * Life of a frame:
 *   sim_conditions_draw      seeing, PSF shapes, sky, reference depth,
 *                            registration and flux-scale errors
 *   sim_frame_init           expected images = sky; PSFs, matching kernel,
 *                            detection filter
 *   sim_frame_add_*          sources into the expected images (science and
 *                            reference separately); detector artefacts and
 *                            noise-peak constraints queued
 *   sim_frame_realize        noise, artefacts, saturation and bleeding,
 *                            difference image, noise-peak constraints
 *   sim_frame_detect         matched-filter detection near a position
 *
 * The reference is a co-add of `ref_epochs` exposures scaled to the
 * science zero point and registered to the science pixel grid; it is
 * displayed at the science sky level (background-matched, as ZTF's template
 * cutouts are) while its noise follows its own sky.  Sources appear in the
 * reference shifted by the registration error (shift_x, shift_y) and with
 * the flux-scale error applied.
 *
 * Thread safety: a frame belongs to one thread; distinct frames are
 * independent.
 */
#ifndef SV_SIM_FRAME_H
#define SV_SIM_FRAME_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "sim/sim_detector.h"
#include "sim/sim_diff.h"
#include "sim/sim_noise.h"
#include "sim/sim_psf.h"
#include "sim/sim_scene.h"
#include "sim/sim_survey.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_conditions {
    int band;
    double seeing_sci, seeing_ref;   /* FWHM, arcsec                          */
    double beta_sci, beta_ref;
    double q_sci, q_ref, pa_sci, pa_ref;
    double sky_mag;                  /* science sky, mag / arcsec^2           */
    double sky_sci, sky_ref_own;     /* DN / pixel                            */
    int ref_epochs;
    double shift_x, shift_y;         /* reference registration error, pixels  */
    double ref_flux_scale;           /* 1 + reference flux-scale error        */
    double depth;                    /* survey's median 5-sigma depth, mag    */
    double sat_mag;                  /* survey's median saturation mag        */
} sim_conditions;

/* Draw the observing conditions of one exposure pair. */
void sim_conditions_draw(const sv_sim_survey *s, int band, gsl_rng *r, sim_conditions *c);

typedef struct sim_hot {
    int i, j;
    double amp, cti, ref_frac;
} sim_hot;

typedef struct sim_badcol {
    int i, j0, j1;
    double amp;
} sim_badcol;

typedef struct sim_peak {
    int i, j;
    double nu;
} sim_peak;

typedef struct sim_frame {
    const sv_sim_survey *s;
    sim_conditions cond;
    int w, h;
    int threads;
    double zp;
    double cut;                   /* DN: sources are followed down to this  */
    sim_psf psf_sci, psf_ref;
    sim_kernel K;
    sim_filter filt;
    sim_noise nsci, nref;
    sim_varmodel vm;
    float *sci_model, *ref_model; /* expected images                         */
    float *sci, *ref, *diff;      /* realised images                         */
    float *work;
    uint8_t *mask;                /* optional (science image artefacts)      */
    sim_cosmic *cr;
    long ncr, cap_cr;
    sim_hot *hot;
    long nhot, cap_hot;
    sim_badcol *badcol;
    long nbadcol, cap_badcol;
    sim_peak *peak;
    long npeak, cap_peak;
} sim_frame;

/* Set up a w x h frame for survey s (which must outlive the frame) under
 * conditions c.  with_mask: keep a mask of the science artefacts.  Returns
 * 0, or -1 when out of memory (the frame is then freed). */
int sim_frame_init(sim_frame *fr, const sv_sim_survey *s, const sim_conditions *c, int w, int h,
                   int with_mask, int threads);
void sim_frame_free(sim_frame *fr);

/* A point source at (x, y): flux_sci DN in the science image, flux_ref DN
 * in the reference (before the flux-scale error). */
void sim_frame_add_point(sim_frame *fr, double x, double y, double flux_sci, double flux_ref);

/* A point source in the science image only, rendered with its own PSF
 * (a PSF that differs locally from the one the kernel was matched to). */
void sim_frame_add_point_psf(sim_frame *fr, const sim_psf *psf, double x, double y,
                             double flux_sci);

/* A source moving from (x0, y0) to (x1, y1) during the science exposure. */
void sim_frame_add_trail(sim_frame *fr, double x0, double y0, double x1, double y1,
                         double flux_sci);

/* A galaxy in both images (flux scaled by scale_sci / scale_ref). */
int sim_frame_add_galaxy(sim_frame *fr, const sim_sersic *g, double scale_sci,
                         double scale_ref);

/* The field's stars and galaxies over the frame plus `pad` pixels, from
 * the saturation limit - 2 mag to the depth + 1.5 mag.  Returns the number
 * of sources or -1 (memory). */
long sim_frame_add_field(sim_frame *fr, gsl_rng *r, double pad);

/* Queue artefacts and constraints (applied by sim_frame_realize). */
int sim_frame_add_cosmic(sim_frame *fr, const sim_cosmic *cr);
int sim_frame_add_hot(sim_frame *fr, const sim_hot *hp);
int sim_frame_add_badcol(sim_frame *fr, const sim_badcol *bc);
int sim_frame_add_peak(sim_frame *fr, int i, int j, double nu);

/* Expected S/N on the difference of a point source of flux F at (x, y)
 * (science only), given what is already in the expected images. */
double sim_frame_expected_snr(const sim_frame *fr, double x, double y, double flux);

/* The flux giving expected S/N `snr` at (x, y); see above. */
double sim_frame_flux_for_snr(const sim_frame *fr, double x, double y, double snr);

/* Realise the images.  r != NULL: all noise from r (a stamp); r == NULL:
 * noise in row blocks from streams of `seed` (an exposure, thread-count
 * independent), artefact noise from the stream SIM_STREAM_DETECTOR.
 * Returns 0 or -1 (memory). */
int sim_frame_realize(sim_frame *fr, gsl_rng *r, uint64_t seed);

typedef struct sim_det {
    int i, j;          /* detection pixel (0-based)                      */
    double xc, yc;     /* sub-pixel position (0-based)                   */
    double snr;        /* matched-filter S/N (signed)                    */
    double flux;       /* PSF flux on the difference (signed), DN        */
} sim_det;

/* Detect the extremum of sign `sign` (+1, -1; 0 = whichever has the
 * larger |S/N|) within rb pixels of (x, y). */
void sim_frame_detect(const sim_frame *fr, double x, double y, int rb, int sign, sim_det *d);

#ifdef __cplusplus
}
#endif
#endif
