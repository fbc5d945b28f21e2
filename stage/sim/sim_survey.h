/* sim_survey.h — survey profiles of the simulator (`--survey ztf|ilmt`).
 *
 * A profile is the instrument and site of one survey: pixel scale,
 * exposure, detector gain/noise/saturation, the distributions of seeing
 * and sky the exposures are drawn from, the depth of its reference images,
 * its registration and photometric-scaling residuals, source counts and
 * the detector artefact rates.  Every number and its source is listed in
 * doc/simulation.md.
 *
 * Photometric convention: a source of magnitude m gives
 *     F = 10^(-0.4 (m - zp))  DN
 * in one science exposure (zp is the band's zero point for the exposure),
 * and the sky gives 10^(-0.4 (sky_mag - zp)) * pixscale^2 DN per pixel.
 * The reference image is scaled to the science zero point.
 *
 * Thread safety: profiles are returned by value; all functions reentrant.
 */
#ifndef SV_SIM_SURVEY_H
#define SV_SIM_SURVEY_H

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_SIM_MAX_BANDS 4

typedef struct sv_sim_band {
    char name[8];
    double zp;           /* magnitude of 1 DN in one science exposure        */
    double sky_mag;      /* median sky brightness, mag / arcsec^2            */
    double sky_sigma;    /* scatter of the sky brightness (mag)              */
    double lambda_nm;    /* effective wavelength (seeing scales as its -1/5) */
} sv_sim_band;

typedef struct sv_sim_survey {
    char name[16];
    char description[96];
    double pixscale;          /* arcsec / pixel                                */
    double exptime;           /* s, one science exposure (TDI: drift time)     */
    double gain;              /* e- / DN                                       */
    double read_noise;        /* e- rms per pixel                              */
    double saturation;        /* DN, full well / ADC limit                     */
    double seeing_median;     /* science FWHM in the default band, arcsec
                                 (log-normal); other bands scale it by
                                 (lambda / lambda_default)^-1/5              */
    double seeing_sigma_ln;   /* its log-normal width                          */
    double seeing_min, seeing_max;
    double ref_seeing_median; /* reference (coadd) FWHM, arcsec                */
    double ref_seeing_sigma_ln;
    double beta_min, beta_max;   /* Moffat beta, drawn per image              */
    double q_min, ref_q_min;     /* lowest PSF axis ratio (science, reference)*/
    int tdi;                     /* drift scan: PSF elongated along y         */
    int ref_epochs_min, ref_epochs_max; /* epochs co-added in the reference    */
    double astrom_rms;        /* registration residual per axis, pixels        */
    double photscale_rms;     /* fractional flux-scale error of the reference  */
    double star_dn20, star_slope; /* dN/dm at m=20 (per deg^2 per mag), d log10 N/dm */
    double gal_dn20, gal_slope;
    double cr_rate;           /* cosmic-ray events per cm^2 per s              */
    double pixel_um;          /* pixel pitch, micron                           */
    double thick_um;          /* sensitive thickness of the CCD, micron        */
    double limiting_mag;      /* published median 5-sigma depth (default band) */
    double ra0, dec0;         /* default pointing of simulated exposures, deg  */
    int quad_w, quad_h;       /* readout image a cutout is cut from, pixels
                                 (0: stamps never meet an edge)              */
    int diff_positive;        /* 1: a stamp's difference is shown with its
                                 detection positive (a negative detection's
                                 cutout is ref - sci, as ZTF's alerts)        */
    int nband, default_band;
    sv_sim_band band[SV_SIM_MAX_BANDS];
} sv_sim_survey;

/* Copy the profile `name` ("ztf", "ilmt"; case-insensitive) into *out.
 * Returns 0, or SV_ERR_ARG with err listing the known names. */
int sv_sim_survey_get(const char *name, sv_sim_survey *out, sv_error *err);

/* "ztf, ilmt" */
const char *sv_sim_survey_names(void);

/* Index of band `name` in s (NULL or "" = the default band); -1 unknown. */
int sv_sim_survey_band_index(const sv_sim_survey *s, const char *name);

/* Parse a band list "g,r" (names as sv_sim_survey_band_index takes them;
 * NULL or "" = the default band alone) into idx.  Returns the number of
 * bands (1..SV_SIM_MAX_BANDS), or -1 for an unknown, empty or repeated name
 * or too many.  Reentrant. */
int sv_sim_survey_band_list(const sv_sim_survey *s, const char *text, int idx[SV_SIM_MAX_BANDS]);

/* Factor by which the seeing of band b differs from the default band's:
 * (lambda_b / lambda_default)^(-1/5), the wavelength dependence of the
 * FWHM of a Kolmogorov-turbulence seeing disc (1 when a wavelength is not
 * set).  Reentrant. */
double sv_sim_survey_seeing_scale(const sv_sim_survey *s, int b);

/* Flux (DN) of magnitude mag at zero point zp, and back (|flux| used). */
double sv_sim_flux(double zp, double mag);
double sv_sim_mag(double zp, double flux);

/* Sky level (DN / pixel) of a sky brightness sky_mag in band b. */
double sv_sim_survey_sky_dn(const sv_sim_survey *s, int b, double sky_mag);

/* Per-pixel variance (DN^2) of a single science exposure at level v DN. */
double sv_sim_survey_var(const sv_sim_survey *s, double v);

/* The 5-sigma (nsigma) point-source depth of one science exposure in band
 * b at the median sky, for a Moffat PSF of FWHM seeing (arcsec) and index
 * beta, with PSF-fit photometry (noise-equivalent area of the
 * pixel-integrated PSF, sky + read noise). */
double sv_sim_survey_depth(const sv_sim_survey *s, int b, double seeing, double beta,
                           double nsigma);

/* The magnitude at which a star's peak pixel reaches saturation at median
 * seeing and sky (beta = mean of the profile's range). */
double sv_sim_survey_saturation_mag(const sv_sim_survey *s, int b);

#ifdef __cplusplus
}
#endif
#endif
