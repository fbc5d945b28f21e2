/* sim_exposure.h — full simulated exposures (`stampvet simulate --exposure`):
 * science, reference and difference images on one pixel grid with a TAN
 * WCS, and the difference-image detection table with truth columns.
 *
 * The whole field (stars and galaxies from the survey's number counts) is
 * rendered once, sources only in their local windows; n_det objects are
 * injected at random positions at least a few FWHM apart, their classes in
 * the exact proportions of cfg.class_weight (transient, variable,
 * asteroid, bogus; shuffled) and bogus sub-types drawn from
 * cfg.bogus_weight; noise is drawn in one pass over each image, in row
 * blocks with their own random streams (so the images do not depend on the
 * number of threads); the difference image is made by one convolution.
 * Every injected object is then detected with the matched filter where it
 * was put, and listed (in injection order) whatever its S/N, with its
 * truth.  Residuals of field stars are in the images but not listed.
 *
 * Detection table (EXTNAME 'DETECTIONS'), ZTF-style column names:
 *   candid K  identifier      xpos, ypos D  1-based FITS pixel
 *   ra, dec D degrees (the WCS)   magpsf, sigmapsf E   isdiffpos 1A 't'/'f'
 *   fwhm E  science FWHM (pixels)
 * truth: TRUECLS 16A, SUBTYPE 16A, TRUEMAG E, SNR E (signed matched-filter
 *   S/N), TRUEX, TRUEY D (true source centre, 1-based; NaN when none)
 *
 * Files: PREFIX_sci.fits, PREFIX_ref.fits, PREFIX_diff.fits (float32,
 * BUNIT adu), PREFIX_det.fits, and PREFIX_mask.fits (uint8 bits: 1
 * saturated/bleed, 2 bad column, 4 hot pixel, 8 cosmic ray) when asked.
 * Each is written atomically (temporary file, then rename) with checksums.
 *
 * Thread safety: reentrant.
 */
#ifndef SV_SIM_EXPOSURE_H
#define SV_SIM_EXPOSURE_H

#include <stdint.h>

#include "sim/sim_classes.h"
#include "sim/sim_frame.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_sim_exposure_params {
    sv_sim_config cfg;
    int width, height;      /* pixels                                        */
    long n_det;             /* detections to inject                          */
    double ra0, dec0;       /* field centre, degrees (NaN: survey default)   */
    double rotation;        /* position angle of +y from north, degrees      */
    int threads;
    int with_mask;
    int edge_margin;        /* pixels kept free at the image edges           */
} sv_sim_exposure_params;

/* Defaults: cfg defaults with class weights 0.10 transient, 0.25 variable,
 * 0.05 asteroid, 0.60 bogus; 3072 x 3072; 10000 detections; survey
 * pointing; 1 thread; no mask; margin 8. */
void sv_sim_exposure_params_default(sv_sim_exposure_params *p);

int sv_sim_exposure_params_check(const sv_sim_exposure_params *p, sv_error *err);

typedef struct sv_sim_detection {
    int64_t candid;
    double xpos, ypos;          /* 1-based FITS pixel                       */
    double ra, dec;             /* degrees                                  */
    float magpsf, sigmapsf;
    char isdiffpos;             /* 't' or 'f'                               */
    float snr;                  /* signed                                   */
    sv_sim_class cls;
    sv_sim_subtype sub;
    float true_mag;
    double true_x, true_y;      /* 1-based; NaN when none                   */
} sv_sim_detection;

typedef struct sv_sim_exposure {
    int w, h;
    float *sci, *ref, *diff;    /* w*h, row-major, NAXIS1 fastest          */
    uint8_t *mask;              /* NULL unless asked for                     */
    char *header;               /* shared header cards (WCS, survey,
                                   conditions): 80-character cards, no END  */
    int ncards;
    long n_det;
    sv_sim_detection *det;
    sim_conditions cond;
    char survey[16], band[8];
    double zp, pixscale;
    uint64_t seed;
} sv_sim_exposure;

/* Simulate an exposure in memory.  Returns 0 or a status with err. */
int sv_sim_exposure_make(const sv_sim_exposure_params *p, sv_sim_exposure *out, sv_error *err);

/* Write PREFIX_{sci,ref,diff,det}.fits (+ _mask.fits).  Returns 0 or a
 * status with err naming the file. */
int sv_sim_exposure_write(const sv_sim_exposure *e, const char *prefix, sv_error *err);

void sv_sim_exposure_free(sv_sim_exposure *e);

#ifdef __cplusplus
}
#endif
#endif
