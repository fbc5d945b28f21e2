/* sim_psf.h — Moffat point-spread functions for the survey simulator.
 *
 * The PSF is an elliptical Moffat (1969) profile
 *     I(x, y) = I0 (1 + u)^-beta,   u = (x'/a_maj)^2 + (y'/a_min)^2
 * with (x', y') the offset rotated by the position angle theta (radians,
 * from +x towards +y), a = FWHM / (2 sqrt(2^(1/beta) - 1)) on each axis and
 * I0 = (beta - 1) / (pi a_maj a_min) so that the profile integrates to 1.
 * The "FWHM" of a PSF here is the geometric mean of the major- and
 * minor-axis FWHM (what a circularised measurement gives); the axis ratio
 * q = FWHM_min / FWHM_maj.
 *
 * Coordinates are 0-based pixel coordinates: pixel (i, j) of a w x h
 * row-major image (i along NAXIS1, fastest) covers [i-0.5, i+0.5] x
 * [j-0.5, j+0.5].  Rendering integrates the profile over each pixel by
 * sub-sampling in the core (where the curvature matters) and by the pixel
 * centre in the wings.
 *
 * Thread safety: a sim_psf is read-only after sim_psf_init; all functions
 * are reentrant.
 */
#ifndef SV_SIM_PSF_H
#define SV_SIM_PSF_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_psf {
    double fwhm;      /* pixels, geometric mean of major and minor FWHM      */
    double beta;      /* Moffat index (> 1)                                  */
    double q;         /* axis ratio minor/major, 0 < q <= 1                  */
    double theta;     /* position angle of the major axis, radians           */
    /* derived by sim_psf_init */
    double a_maj, a_min;       /* Moffat alpha per axis, pixels              */
    double fwhm_maj;           /* major-axis FWHM, pixels                    */
    double cxx, cxy, cyy;      /* u = cxx dx^2 + 2 cxy dx dy + cyy dy^2      */
    double i0;                 /* peak value per unit flux, per pixel^2      */
    int nsub;                  /* sub-samples per pixel axis in the core     */
    double r_core;             /* radius of the sub-sampled core, pixels     */
} sim_psf;

/* Set up a PSF.  fwhm in pixels (> 0), beta > 1, 0 < q <= 1.  Returns 0,
 * or -1 for invalid parameters (p is then unusable). */
int sim_psf_init(sim_psf *p, double fwhm, double beta, double q, double theta);

/* The profile at offset (dx, dy) from the centre, per unit flux per
 * pixel^2 (a point sample, not pixel-integrated). */
double sim_psf_value(const sim_psf *p, double dx, double dy);

/* The pixel-integrated profile (per unit flux) of the pixel centred at
 * offset (dx, dy) from the source centre. */
double sim_psf_pixel(const sim_psf *p, double dx, double dy);

/* Radius (pixels, along the major axis) beyond which a source of total
 * flux `flux` contributes less than `cut` per pixel; at least 1.5 FWHM,
 * at most 256. */
double sim_psf_radius(const sim_psf *p, double flux, double cut);

/* Fraction of the flux outside radius r along the major axis (exact for
 * the continuous profile). */
double sim_psf_flux_outside(const sim_psf *p, double r);

/* Add a point source of total flux `flux` centred at (x, y) to img (w x h
 * floats), out to sim_psf_radius(p, flux, cut).  Parts outside the image
 * are dropped. */
void sim_psf_add(const sim_psf *p, float *img, int w, int h, double x, double y, double flux,
                 double cut);

/* Add a source moving uniformly from (x0, y0) to (x1, y1) during the
 * exposure (a trailed PSF): the PSF integrated along the segment, sampled
 * every 0.25 pixel. */
void sim_psf_add_trail(const sim_psf *p, float *img, int w, int h, double x0, double y0,
                       double x1, double y1, double flux, double cut);

/* Point samples of the profile at integer offsets -r..r (both axes),
 * row-major (2r+1)^2 values, normalised to sum 1: the kernel used to
 * convolve an extended (pixel-integrated) source with the PSF. */
void sim_psf_kernel(const sim_psf *p, int r, double *k);

/* Pixel-integrated PSF of a source centred on a pixel centre, sampled at
 * integer offsets -r..r, normalised to sum 1 (the detection filter). */
void sim_psf_pixel_kernel(const sim_psf *p, int r, double *k);

/* Covariance (cxx, cxy, cyy; pixels^2) of the Gaussian with the same
 * major/minor FWHM and orientation: the Gaussian approximation used to
 * derive the PSF-matching kernel. */
void sim_psf_gauss_cov(const sim_psf *p, double cov[3]);

/* Noise-equivalent area 1 / sum(P_i^2) of the pixel-integrated PSF
 * (pixels), for a source centred on a pixel centre. */
double sim_psf_neff(const sim_psf *p);

#ifdef __cplusplus
}
#endif
#endif
