/* sim_diff.h — PSF matching, the difference image, and the detection
 * statistic of the simulated pipeline.
 *
 * Matching (a simplification of Alard & Lupton 1998): both PSFs are
 * approximated by Gaussians with their FWHM, axis ratio and orientation
 * (covariances C_sci, C_ref); the matching kernel is the Gaussian of
 * covariance C_sci - C_ref applied to the reference when that is positive
 * (the usual case: a sharper reference), or C_ref - C_sci applied to the
 * science image when the science image is the sharper; when one axis is
 * sharper in each image, the larger difference is matched and the other
 * axis left unmatched (clipped).  The kernel is exact only for Gaussian
 * PSFs: for the Moffat PSFs of the images it leaves the residuals of real
 * pipelines around bright stars (different wings, different beta), on top
 * of the registration and flux-scale errors drawn per image.
 *
 *     diff = (sci - sky_sci) - K (*) (ref - sky_ref)     (reference convolved)
 *     diff = K (*) (sci - sky_sci) - (ref - sky_ref)     (science convolved)
 *
 * Edges are handled by replicating the border pixels.
 *
 * Detection statistic: the PSF-matched filter S/N of the difference at a
 * pixel, with the per-pixel variance a pipeline would assume (variances of
 * the two images, the convolved one times sum(K^2), correlations ignored):
 *     S/N = sum(w d / v) / sqrt(sum(w^2 / v)),   F = sum(w d / v) / sum(w^2 / v)
 * where w is the pixel-integrated PSF of the difference image centred on
 * the pixel.
 *
 * Thread safety: reentrant; objects are read-only after creation.
 */
#ifndef SV_SIM_DIFF_H
#define SV_SIM_DIFF_H

#include "sim/sim_noise.h"
#include "sim/sim_psf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_kernel {
    int r;            /* radius: (2r+1)^2 taps; 0 = identity             */
    float *k;         /* taps, sum 1                                      */
    int conv_ref;     /* 1: reference convolved; 0: science convolved     */
    double cov[3];    /* Gaussian covariance xx, xy, yy (pixels^2)        */
    double sumsq;     /* sum of k^2                                       */
} sim_kernel;

/* Derive the matching kernel for the two PSFs.  Returns 0 or -1 (memory). */
int sim_kernel_match(const sim_psf *sci, const sim_psf *ref, sim_kernel *K);
void sim_kernel_free(sim_kernel *K);

/* out rows y0..y1-1 (all columns) = K (*) in, edges replicated.  in and
 * out must not overlap. */
void sim_convolve_rows(const float *in, float *out, int w, int h, const sim_kernel *K, int y0,
                       int y1);

/* The whole difference image (see above); threads >= 1.  work: w*h floats
 * of scratch.  Returns 0 or -1 (a thread could not be created: then done
 * in this thread anyway, so the result is always complete). */
int sim_diff_make(const float *sci, const float *ref, int w, int h, double sky_sci,
                  double sky_ref, const sim_kernel *K, float *diff, float *work, int threads);

/* Recompute diff inside [x0,x1) x [y0,y1) only (clipped to the image). */
void sim_diff_region(const float *sci, const float *ref, int w, int h, double sky_sci,
                     double sky_ref, const sim_kernel *K, float *diff, int x0, int y0, int x1,
                     int y1);

/* The variance model a pipeline would use for the difference. */
typedef struct sim_varmodel {
    const float *sci_model, *ref_model;   /* expected images (DN)           */
    sim_noise nsci, nref;
    const sim_kernel *K;
} sim_varmodel;

/* Per-pixel variance of the difference at index idx. */
double sim_var_diff(const sim_varmodel *vm, long idx);

typedef struct sim_filter {
    int r;          /* radius                                           */
    double *w;      /* (2r+1)^2, sum 1                                   */
} sim_filter;

/* The matched filter: the science PSF (convolved with K when the science
 * image is the convolved one), pixel-integrated, out to 2 FWHM.  Returns
 * 0 or -1 (memory). */
int sim_filter_make(const sim_psf *sci, const sim_kernel *K, sim_filter *f);
void sim_filter_free(sim_filter *f);

/* S/N (and flux, if non-NULL) at pixel (i, j). */
double sim_filter_snr(const sim_filter *f, const float *diff, const sim_varmodel *vm, int w,
                      int h, int i, int j, double *flux);

/* The extremum of sign `sign` (+1 largest S/N, -1 most negative) of the
 * S/N within rb pixels of (i0, j0).  Writes the pixel, its S/N and flux,
 * and a sub-pixel position from a parabola through the 3x3 S/N values. */
void sim_filter_peak(const sim_filter *f, const float *diff, const sim_varmodel *vm, int w,
                     int h, int i0, int j0, int rb, int sign, int *pi, int *pj, double *snr,
                     double *flux, double *xc, double *yc);

/* Standard deviation of the S/N at pixel (i, j) under the true pixel noise
 * (white in each image; the convolution correlates the difference, which
 * the pipeline's S/N ignores, so this exceeds 1 when the kernel is wide).
 * Returns 1 when (i, j) is too close to the edge. */
double sim_filter_snr_std(const sim_filter *f, const sim_varmodel *vm, int w, int h, int i,
                          int j);

/* Noise peak as a constrained realisation (Hoffman & Ribak 1991): modify
 * the noise of sci and ref (their expected images and noise models in vm)
 * so that the S/N at pixel (i, j) becomes exactly nu, keeping the noise
 * Gaussian with the right covariance given that constraint, then refresh
 * diff around (i, j).  Returns 0, or -1 (memory or position off-image). */
int sim_constrain_peak(const sim_filter *f, const sim_varmodel *vm, float *sci, float *ref,
                       float *diff, int w, int h, double sky_sci, double sky_ref, int i, int j,
                       double nu);

#ifdef __cplusplus
}
#endif
#endif
