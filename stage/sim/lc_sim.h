/* lc_sim.h — simulated light curves of transients and variables as a survey
 * sees them in its alert stream (`stampvet simulate --lightcurves`).
 *
 * Every choice (light-curve shapes, timescales, peak magnitudes, colours,
 * cadences, depths, noise, metadata) is documented with its source in
 * doc/lightcurves.md.  In short:
 *   classes   SNIa, SNII, SNIbc, SLSN, TDE, AGN, VAR (periodic variable
 *             stars: RR Lyrae, eclipsing binaries, Miras);
 *   shapes    supernovae: the Villar et al. (2019) extension of the Bazin
 *             et al. (2009) rise/decline function with class-dependent
 *             rise, plateau and fall timescales; TDE: Gaussian rise and
 *             exponential decline (van Velzen et al. 2021); AGN: damped
 *             random walk (Kelly et al. 2009; MacLeod et al. 2010);
 *             variables: periodic templates;
 *   colours   blackbody temperature evolution per class, redshifted, with
 *             cosmological distance (flat LCDM, H0 70, Om 0.3) and time
 *             dilation;
 *   cadence   ztf: g/r, a field revisited every 1-3 nights (mostly 2-3),
 *             weather losses, a seasonal gap, 5-sigma depth ~20.5;
 *             lsst: ugrizy, pairs of visits in two filters, rolling cadence
 *             (active seasons revisited every 1-4 nights, rest seasons
 *             every 4-10), single-visit depths of Ivezic et al. (2019);
 *   noise     Ivezic et al. (2019) eq. 5 photometric errors plus a 1%
 *             floor; a 5-sigma |flux| is a detection (sign = isdiffpos),
 *             anything else an upper limit at the 5-sigma limiting flux;
 *   metadata  gal_b (Galactic latitude, deg), host_sep (arcsec, NaN
 *             hostless), host_photoz (NaN unknown), rb (real/bogus score),
 *             p_transient, p_variable (stamp classifier outputs).
 * Fluxes are in microjansky (AB zero point 23.9).  Each candidate has an
 * alert time (T_ALERT): one of its detections chosen at random, so that a
 * set holds histories at every phase, from the first detection on.
 *
 * Deterministic for a seed: candidate i draws from GSL's MT19937 seeded
 * with a hash of (seed, i), so results do not depend on the thread count.
 *
 * Thread safety: reentrant.
 */
#ifndef SV_LC_SIM_H
#define SV_LC_SIM_H

#include <stdint.h>

#include "data/lightcurve.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SV_LCSIM_SNIA = 0,
    SV_LCSIM_SNII,
    SV_LCSIM_SNIBC,
    SV_LCSIM_SLSN,
    SV_LCSIM_TDE,
    SV_LCSIM_AGN,
    SV_LCSIM_VAR,
    SV_LCSIM_N_CLASSES
};

typedef enum sv_lcsim_survey { SV_LCSIM_ZTF = 0, SV_LCSIM_LSST = 1 } sv_lcsim_survey;

#define SV_LCSIM_N_META 6
#define SV_LCSIM_N_TRUTH 5

typedef struct sv_lcsim_config {
    sv_lcsim_survey survey;
    long n;                       /* candidates (1000)                      */
    uint64_t seed;                /* (1)                                    */
    double fraction[SV_LCSIM_N_CLASSES]; /* relative class shares (doc)    */
    double days;                  /* length of the observing window (400)   */
    double mjd_start;             /* first night (59000)                    */
    double depth_offset;          /* added to every depth, mag (0)          */
    int threads;                  /* (1); results do not depend on it       */
} sv_lcsim_config;

/* Defaults above; class shares SNIa .25, SNII .17, SNIbc .10, SLSN .08,
 * TDE .07, AGN .15, VAR .18 (an imbalanced alert stream, see the doc). */
sv_lcsim_config sv_lcsim_defaults(sv_lcsim_survey survey);

/* "SNIa", "SNII", ...; NULL when unknown. */
const char *sv_lcsim_class_name(int c);
/* "ztf" / "lsst"; the parser returns 0 or SV_ERR_ARG. */
const char *sv_lcsim_survey_name(sv_lcsim_survey s);
int sv_lcsim_survey_from_name(const char *name, sv_lcsim_survey *s);

/* Names of the truth columns written next to the metadata (TRUE_<name>):
 * z, peakmag (brightest simulated true magnitude in any band), tpeak (MJD
 * of the light-curve reference time: Bazin/Villar t0, TDE peak, 0 for
 * AGN/VAR), subtype (0 for single-type classes; VAR: 0 RR Lyrae, 1
 * eclipsing binary, 2 Mira), ndet (detections up to T_ALERT). */
extern const char sv_lcsim_truth_names[SV_LCSIM_N_TRUTH][SV_LABEL_MAX];

/* Simulate cfg->n candidates into *out (free with sv_lc_set_free): bands
 * of the survey, classes in the order above (n_classes 7), metadata
 * gal_b, host_sep, host_photoz, rb, p_transient, p_variable, labels,
 * T_ALERT.  truth (may be NULL) receives a malloc'ed n x SV_LCSIM_N_TRUTH
 * array (caller frees).  Returns 0 or a status with err set. */
int sv_lcsim_run(const sv_lcsim_config *cfg, sv_lc_set *out, float **truth, sv_error *err);

/* The light-curve shape of the supernova classes (Villar et al. 2019,
 * eq. 1), exposed for tests: flux relative to the amplitude A at rest-frame
 * time t (days) for reference time t0, plateau duration gamma, plateau
 * slope beta (per day, as a fraction of A), rise and fall timescales. */
double sv_lcsim_villar(double t, double t0, double gamma, double beta, double tau_rise,
                       double tau_fall);

/* Distance modulus (flat LCDM, H0 = 70 km/s/Mpc, Om = 0.3) for 0 < z <= 5. */
double sv_lcsim_distmod(double z);

/* Photometric error (Ivezic et al. 2019 eq. 5 in flux, plus a 1% floor) of
 * a source of total flux f_tot (>= 0) observed at 5-sigma limiting flux f5
 * (same unit). */
double sv_lcsim_flux_error(double f_tot, double f5, double gamma);

#ifdef __cplusplus
}
#endif
#endif
