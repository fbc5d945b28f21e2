/* stamps.h — cutting stamp triplets out of an exposure, and the stamp
 * quality flags.
 *
 * ---------------------------------------------------------------------------
 * Geometry (no resampling)
 *
 * Positions are 0-based pixel coordinates: (0, 0) is the centre of the first
 * pixel (FITS pixel (1, 1)); a detection table's 1-based columns are
 * converted before they get here (detections.h).  A stamp of side S is
 * centred on the pixel that CONTAINS the detection:
 *
 *     cx = floor(x + 0.5),  cy = floor(y + 0.5)
 *     stamp pixel (i, j), 0 <= i, j < S   <-   image pixel (cx - S/2 + i, cy - S/2 + j)
 *
 * (S/2 in integer division), so the detection's pixel is stamp pixel
 * (S/2, S/2): FITS pixel (32, 32) of a 63 x 63 stamp.  There is no
 * sub-pixel shift.  This is ZTF's convention: on the five ZTF alert cutouts
 * of the project's fixtures the difference-image centroid sits within a
 * few tenths of a pixel of stamp pixel 31 (0-based) with the centre at
 * round(xpos), round(ypos) of the 1-based alert positions, and a pixel off
 * with floor (e.g. candid 1660293514215020000, xpos = 1305.58: centroid at
 * 30.39, predicted 30.58 by round and 31.58 by floor).  Stamps are stored
 * as in a FITS cutout: row-major, NAXIS1 (x) fastest, no flip.
 *
 * Near an edge.  The full S x S stamp keeps the detection at its centre;
 * pixels that fall outside the image are NaN in it and the stamp is flagged
 * SV_FLAG_EDGE.  The in-image part is a rectangle, columns [i0, i1) and rows
 * [j0, j1) of the stamp (sv_cut_info).  For scoring, the stage hands the
 * model only that rectangle, and the model's preprocessing pads it at the
 * END of each axis with its pad value (preprocess.h): exactly what ZTF does
 * with the smaller cutouts it makes at a CCD edge, so edge detections get
 * the score the model's training data taught it.  (A detection near the
 * low edge therefore sits left of / below the network input's centre, as
 * in ZTF's own alert stamps.)
 *
 * A detection whose centre pixel lies outside the image is SV_FLAG_OFF_IMAGE
 * and gets no stamp pixels and no score.
 *
 * ---------------------------------------------------------------------------
 * Resampling (optional, `resample = true`)
 *
 * To show a model trained at p_model arcsec/pixel an image at p_image
 * arcsec/pixel (an ILMT image at 0.33"/pixel to a ZTF model at 1.01"), the
 * stamp is sampled on a grid of step s = p_model / p_image image pixels,
 * with p_image the local pixel scale at the detection through the WCS
 * (sv_wcs_pixel_scale).  The grid keeps the image's orientation and parity;
 * it is centred exactly on the detection (sub-pixel):
 *
 *     stamp pixel (i, j)  <-  image position (x + (i - S/2) s, y + (j - S/2) s)
 *
 * Kernel (sv_kernel), separable, anti-aliased when shrinking: the weight of
 * image pixel k for a sample at u is K((k - u) / max(1, s)), so the kernel
 * widens with the step and averages all the pixels a stamp pixel covers
 * (Pillow's and SWarp's approach):
 *   - SV_KERNEL_LANCZOS3: K(t) = sinc(t) sinc(t / 3) for |t| < 3 (default);
 *   - SV_KERNEL_BILINEAR: K(t) = max(0, 1 - |t|).
 * Pixels outside the image, NaN or masked get weight 0 and the weights of
 * the others are renormalised.  A stamp pixel whose NEAREST image pixel is
 * outside the image is outside (NaN, SV_FLAG_EDGE, as above); one whose
 * nearest pixel is NaN or masked is NaN or masked too (bad pixels are not
 * interpolated away, they are counted).  Values are interpolated surface
 * brightness (per image pixel); the models' normalisations (l2, l2-rows,
 * minmax, zscore) make the absolute scale irrelevant.
 *
 * ---------------------------------------------------------------------------
 * The sign of the difference.  sv_stamp_cut cuts DIFF as the host gives it
 * (sci - ref).  ZTF's alert cutouts show a negative detection (isdiffpos =
 * 'f') with its difference inverted, ref - sci, so that the source is
 * positive, and braai was trained on such cutouts.  The stage therefore
 * multiplies the cut DIFF stamp of a negative detection by -1 (NaN stays
 * NaN, the `bad` map and the flags are unchanged) right after the cut and
 * before preprocessing; the saved stamps are the inverted ones
 * (stage_score.c; the sign from the detection table's col_sign,
 * detections.h; the choice by the parameter diff_positive, stage_params.h:
 * auto = yes when a sign column is in use, as with the ztf preset's
 * isdiffpos).  SCI and REF are never changed.
 *
 * ---------------------------------------------------------------------------
 * Bad pixels.  A pixel is bad when its value is NaN or infinite, or when the
 * mask (if any) has one of `mask_bits` set there.  BADFRAC is the fraction
 * of bad values over the in-image part of the three stamps.  For scoring,
 * bad pixels become NaN and the model's preprocessing fills them (nan_fill).
 *
 * Thread safety: all functions are reentrant; the frames are only read.
 */
#ifndef SV_STAMPS_H
#define SV_STAMPS_H

#include <stdint.h>

#include "fits/fits_image.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the stamp-quality flags (the FLAGS column) ------------------------- */
#define SV_FLAG_EDGE      0x01u /* the stamp reaches beyond the image: padded   */
#define SV_FLAG_BADFRAC   0x02u /* bad (NaN/inf/masked) fraction > nan_frac_max */
#define SV_FLAG_MASKED    0x04u /* the detection's own pixel is masked          */
#define SV_FLAG_OFF_IMAGE 0x08u /* the detection's pixel is outside the image:
                                   no stamp, no score                           */
#define SV_FLAG_BADCOORD  0x10u /* NaN/infinite coordinates, or sky coordinates
                                   the WCS cannot place: no stamp, no score     */
#define SV_FLAG_FAILED    0x20u /* the network gave a non-finite output: no score */
#define SV_FLAG_BADCENTRE 0x40u /* the detection's own pixel is NaN or infinite in
                                   the science, reference or difference image  */
#define SV_FLAG_BADSIGN   0x80u /* the detection's sign (col_sign, detections.h)
                                   is unreadable: it is scored as a positive
                                   detection (DIFF not inverted)               */
#define SV_N_FLAGS 8

/* The flags that keep a detection from being labelled REAL whatever its
 * score, by default (the stage's veto_flags): its own pixel masked or not
 * finite.  See dia_stage.h / stage.h on masked pixels. */
#define SV_FLAG_VETO_DEFAULT (SV_FLAG_MASKED | SV_FLAG_BADCENTRE)

typedef struct sv_flag_doc {
    uint32_t bit;
    const char *name;        /* e.g. "EDGE"                                 */
    const char *meaning;     /* one line, fits a FITS card comment (<= 47)  */
} sv_flag_doc;

/* The flags, in bit order. */
extern const sv_flag_doc sv_flag_docs[SV_N_FLAGS];

/* ---- the exposure as the cutter sees it ------------------------------- */

typedef struct sv_frames {
    const float *img[3];     /* by sv_channel: SCI, REF, DIFF               */
    int64_t stride[3];       /* floats between rows                         */
    int32_t width, height;
    const uint32_t *mask;    /* NULL: no mask                               */
    int64_t mask_stride;
    uint32_t mask_bits;      /* bits of the mask that make a pixel bad      */
} sv_frames;

typedef enum sv_kernel { SV_KERNEL_LANCZOS3 = 0, SV_KERNEL_BILINEAR = 1 } sv_kernel;

/* "lanczos3", "bilinear"; the parser returns 0 or SV_ERR_ARG. */
const char *sv_kernel_name(sv_kernel k);
int sv_kernel_from_name(const char *name, sv_kernel *k);

/* Largest stamp side, pixels. */
#define SV_STAMP_SIDE_MAX 1024

/* Smallest and largest resampling step accepted (image pixels per stamp
 * pixel). */
#define SV_RESAMPLE_STEP_MIN (1.0 / 16.0)
#define SV_RESAMPLE_STEP_MAX 16.0

typedef struct sv_cut_info {
    uint32_t flags;          /* EDGE, BADFRAC, MASKED, BADCENTRE, OFF_IMAGE  */
    int i0, i1, j0, j1;      /* in-image part: columns [i0,i1), rows [j0,j1)*/
    int n_in;                /* in-image pixels of one stamp                */
    int n_bad;               /* bad values over the three stamps            */
    float bad_frac;          /* n_bad / (3 n_in); NaN when off the image    */
} sv_cut_info;

/* Scratch for sv_stamp_cut with resampling: *scratch_len doubles at
 * *scratch, grown with realloc as needed (the caller frees).  Plain cuts
 * need none (scratch may be NULL). */
typedef struct sv_cut_scratch {
    double *buf;
    size_t len;
} sv_cut_scratch;

/* Cut the triplet of side S around (x, y) (0-based pixels).
 *   step    1.0: plain cut (no interpolation); otherwise the resampling step
 *           in image pixels per stamp pixel, in [SV_RESAMPLE_STEP_MIN,
 *           SV_RESAMPLE_STEP_MAX], with `kernel`;
 *   out     three arrays of S*S floats (SCI, REF, DIFF): the raw stamps, NaN
 *           outside the image (bad pixels keep their values; see `bad`);
 *   bad     S*S bytes or NULL: 0 good, 1 NaN/inf (in any channel), 2
 *           masked, 4 outside the image;
 *   nan_frac_max  BADFRAC above this sets SV_FLAG_BADFRAC.
 * x, y must be finite (the caller flags BADCOORD first).  Returns 0, or
 * SV_ERR_ARG for bad arguments, SV_ERR_NOMEM when scratch cannot grow.  A
 * detection off the image is not an error: info->flags has OFF_IMAGE and
 * the stamps are all NaN. */
int sv_stamp_cut(const sv_frames *f, int S, double x, double y, double step, sv_kernel kernel,
                 double nan_frac_max, float *const out[3], uint8_t *bad, sv_cut_scratch *scratch,
                 sv_cut_info *info);

/* 1 when the pixel containing (x, y) (0-based) lies in the image, so that
 * sv_stamp_cut gives a stamp; 0 when it would flag SV_FLAG_OFF_IMAGE (or x,
 * y is not finite).  Reentrant. */
int sv_stamp_on_image(const sv_frames *f, double x, double y);

/* Copy the in-image rectangle of a cut stamp (out of sv_stamp_cut, with its
 * `bad` map and info) into rect (3 arrays of at least (i1-i0)*(j1-j0)
 * floats, row-major), making masked pixels NaN: the raw triplet the model's
 * preprocessing takes.  Returns the rectangle's width and height through
 * w, h (0 when off the image). */
void sv_stamp_rect(int S, const float *const stamp[3], const uint8_t *bad,
                   const sv_cut_info *info, float *const rect[3], int *w, int *h);

/* ---- the same-grid check ---------------------------------------------- */

/* Check that science, reference and difference share one pixel grid.
 *   width/height  the three images' sizes (SCI, REF, DIFF order);
 *   wcs           their WCS, each may be NULL (missing);
 *   tolerance     pixels;
 *   names         three names for messages ("sci.fits", ...).
 * Sizes must be equal.  Where two or more WCS exist, the first one present
 * places five test pixels (the four corners and the centre) on the sky and
 * each other WCS must bring them back within `tolerance` pixels.  Returns 0
 * (and *n_wcs_compared = number of WCS taking part, 0 or 1 meaning the grid
 * was checked from the sizes only), or SV_ERR_SHAPE with err naming the
 * images, the pixel and the disagreement. */
int sv_grid_check(const int32_t width[3], const int32_t height[3], sv_wcs *const wcs[3],
                  double tolerance, const char *const names[3], int *n_wcs_compared,
                  sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
