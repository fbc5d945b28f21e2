/* sim_classes.h — what the simulator injects: the physical classes and
 * sub-types of detections, the classification schemes, the configuration
 * shared by stamp sets and exposures, and the injection of one object into
 * a frame.
 *
 * Physical classes and sub-types:
 *   transient  sn_host      new point source on a host galaxy, placed by
 *                           the host's light (supernova-like)
 *              sn_nuclear   the same at the host's nucleus (TDE-like)
 *              sn_hostless  new point source, no visible host
 *   variable   var_star     a star of the reference whose flux changed
 *                           (positive or negative difference)
 *              agn          the same at a galaxy's nucleus
 *   asteroid   asteroid     a moving point source, science image only
 *              ast_trail    the same, trailed (longer than the FWHM)
 *   bogus      dipole       misregistered star (proper motion, local
 *                           astrometric error): a +/- pair
 *              psf_resid    bright star whose local PSF differs from the
 *                           one the kernel matched (ring / core residual)
 *              cosmic_ray   muon track, spot or worm (science only)
 *              hot_pixel    single hot pixel (+ charge-transfer tail)
 *              bad_column   column segment with a charge excess/deficit
 *              saturated    saturated star core and bleed trail
 *              noise_peak   pure noise, a constrained realisation with the
 *                           S/N of a detection near the threshold
 *
 * Schemes (label lists written to the stamp table):
 *   rb      bogus, real          (real = transient, variable, asteroid)
 *   3class  transient, variable, asteroid  (no bogus in the set)
 *   4class  transient, variable, asteroid, bogus
 *
 * Thread safety: reentrant; a gsl_rng belongs to one thread at a time.
 */
#ifndef SV_SIM_CLASSES_H
#define SV_SIM_CLASSES_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "sim/sim_frame.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sv_sim_class {
    SV_SIM_TRANSIENT = 0,
    SV_SIM_VARIABLE,
    SV_SIM_ASTEROID,
    SV_SIM_BOGUS,
    SV_SIM_NCLASS
} sv_sim_class;

typedef enum sv_sim_subtype {
    SV_SIM_SN_HOST = 0,
    SV_SIM_SN_NUCLEAR,
    SV_SIM_SN_HOSTLESS,
    SV_SIM_VAR_STAR,
    SV_SIM_AGN,
    SV_SIM_ASTEROID_POINT,
    SV_SIM_ASTEROID_TRAIL,
    SV_SIM_DIPOLE,
    SV_SIM_PSF_RESID,
    SV_SIM_COSMIC_RAY,
    SV_SIM_HOT_PIXEL,
    SV_SIM_BAD_COLUMN,
    SV_SIM_SATURATED,
    SV_SIM_NOISE_PEAK,
    SV_SIM_NSUB
} sv_sim_subtype;

#define SV_SIM_NBOGUS 7 /* dipole .. noise_peak, in that order */

const char *sv_sim_class_name(sv_sim_class c);
const char *sv_sim_subtype_name(sv_sim_subtype t);
sv_sim_class sv_sim_subtype_class(sv_sim_subtype t);

typedef enum sv_sim_scheme {
    SV_SIM_SCHEME_RB = 0,
    SV_SIM_SCHEME_3CLASS,
    SV_SIM_SCHEME_4CLASS
} sv_sim_scheme;

/* "rb", "3class", "4class" (also "real-bogus", "3", "4"); 0 or SV_ERR_ARG. */
int sv_sim_scheme_parse(const char *text, sv_sim_scheme *scheme, sv_error *err);
const char *sv_sim_scheme_name(sv_sim_scheme scheme);

/* The scheme's class names in label order; returns their number. */
int sv_sim_scheme_classes(sv_sim_scheme scheme, const char *names[SV_SIM_NCLASS]);

/* Label of a physical class in a scheme, -1 when the scheme excludes it. */
int sv_sim_scheme_label(sv_sim_scheme scheme, sv_sim_class c);

typedef struct sv_sim_config {
    char survey[16];          /* "ztf", "ilmt"                                 */
    char band[16];            /* "" = the survey's default; stamp sets also
                                 take a list "g,r" (each stamp's band drawn
                                 uniformly from it)                          */
    uint64_t seed;
    /* brightness of real detections: S/N on the difference, drawn from
     * N(>S) ~ S^-snr_slope between snr_min and snr_max (snr_slope 0:
     * log-uniform); or, when mag_min < mag_max, difference magnitudes
     * uniform in [mag_min, mag_max].  snr_min is also the detection
     * threshold every detection must pass (|S/N| >= snr_min). */
    double snr_min, snr_max, snr_slope;
    double mag_min, mag_max;
    /* relative frequencies of the physical classes (transient, variable,
     * asteroid, bogus) and of the bogus sub-types (dipole, psf_resid,
     * cosmic_ray, hot_pixel, bad_column, saturated, noise_peak) */
    double class_weight[SV_SIM_NCLASS];
    double bogus_weight[SV_SIM_NBOGUS];
} sv_sim_config;

/* Defaults: ztf, default band, seed 1, S/N 5..100 slope 1.5, no magnitude
 * range, classes 1:1:1:1, bogus sub-types 20:20:15:10:5:10:20. */
void sv_sim_config_default(sv_sim_config *cfg);

/* Parse "w1,w2,...": exactly n non-negative numbers, not all zero.
 * Returns 0 or SV_ERR_ARG naming `what`. */
int sv_sim_parse_weights(const char *text, double *w, int n, const char *what, sv_error *err);

/* Check a configuration (ranges, survey, band).  0 or SV_ERR_ARG. */
int sv_sim_config_check(const sv_sim_config *cfg, sv_error *err);

/* Draw a sub-type of physical class c. */
sv_sim_subtype sim_draw_subtype(const sv_sim_config *cfg, sv_sim_class c, gsl_rng *r);

/* Draw the S/N of a real detection from the configured distribution
 * (snr_min .. snr_max, slope snr_slope). */
double sim_draw_snr(const sv_sim_config *cfg, gsl_rng *r);

typedef struct sim_truth {
    sv_sim_class cls;
    sv_sim_subtype sub;
    double x, y;          /* true centre of the source (NaN: none)          */
    double nx, ny;        /* where to look for the detection                */
    int sign;             /* expected sign of the difference (0: either)    */
    int rb;               /* search radius, pixels                          */
    double true_mag;      /* injected difference magnitude; for artefacts of
                             a star, that star's magnitude; else NaN        */
} sim_truth;

/* Inject one object of sub-type `sub` centred near (x, y) into the frame
 * (before sim_frame_realize).  Returns 0 or -1 (memory). */
int sim_inject(sim_frame *fr, const sv_sim_config *cfg, sv_sim_subtype sub, double x, double y,
               gsl_rng *r, sim_truth *t);

#ifdef __cplusplus
}
#endif
#endif
