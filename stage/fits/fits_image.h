/* fits_image.h — exposure images from FITS files, and their WCS.
 *
 * sv_image_read() reads one 2-D image: the HDU named by cfitsio extended
 * syntax when the path selects one ("exp.fits[SCI]", "exp.fits[1]"), else
 * the primary HDU when it holds an image, else the first image extension
 * with data (a tile-compressed .fz image lives in an extension).  Plain,
 * gzipped (.gz) and tile-compressed files are read as cfitsio reads them;
 * BSCALE/BZERO are applied and BLANK (integer images) or NaN pixels become
 * NaN.  The header comes with the pixels as FITS header text (80-character
 * cards, as fits_hdr2str gives it; a compressed image's header is converted
 * back to that of the uncompressed image) so that a file and an in-memory
 * dia_image go through the same WCS code.
 *
 * sv_wcs_from_header() builds the celestial WCS from header text with
 * WCSLIB (wcspih, wcsfix, wcsset; all informal extensions admitted:
 * CDi_j, PCi_j, CROTA, TPV, SIP ...).  The primary representation is used.
 * Pixel coordinates in this API are 0-BASED (pixel (0,0) is the centre of
 * the first pixel, FITS pixel (1,1)).
 *
 * Thread safety: sv_image_read is reentrant (given Debian's reentrant
 * cfitsio).  WCSLIB's header parser is not thread-safe: sv_wcs_from_header
 * serialises it with a lock private to this file.  One sv_wcs is used by
 * one thread at a time (WCSLIB's transformation routines take a non-const
 * struct); distinct sv_wcs may be used concurrently.
 */
#ifndef SV_FITS_IMAGE_H
#define SV_FITS_IMAGE_H

#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest accepted image side, pixels. */
#define SV_IMAGE_MAX_SIDE 65536

typedef struct sv_image {
    float *data;        /* width * height floats, row-major, NAXIS1 fastest */
    int32_t width;      /* NAXIS1                                           */
    int32_t height;     /* NAXIS2                                           */
    char *header;       /* ncards * 80 characters plus a NUL                */
    int ncards;
    int hdu;            /* 1-based number of the HDU read                   */
} sv_image;

/* Read the image of `path` into *img (zeroed first; free with
 * sv_image_free).  Returns 0, or with err naming the file:
 *   SV_ERR_IO      cannot open, not FITS, truncated or unreadable;
 *   SV_ERR_FORMAT  no 2-D image (a table, NAXIS other than 2 unless the
 *                  extra axes have length 1, a side over SV_IMAGE_MAX_SIDE);
 *   SV_ERR_NOMEM. */
int sv_image_read(const char *path, sv_image *img, sv_error *err);

/* sv_image_read for a caller that reads image after image: img holds the
 * previous image of an earlier call (or is zeroed) and *cap the floats its
 * data can hold (0 at first).  The pixel buffer is kept when the new image
 * fits in it, else replaced, so that a series of same-sized exposures
 * allocates (and page-faults) its pixels once.  On success *cap is the
 * buffer's size in floats; on failure img is freed (zeroed) and *cap is 0.
 * Free with sv_image_free.  Errors as sv_image_read.  Reentrant. */
int sv_image_read_reuse(const char *path, sv_image *img, size_t *cap, sv_error *err);

/* Free what sv_image_read allocated and zero *img.  NULL is allowed. */
void sv_image_free(sv_image *img);

/* Read a mask image (same HDU rules as sv_image_read): *mask gets
 * *width x *height values, each the image's integer value taken as 32 bits
 * (BITPIX 8/16/32 masks keep every bit; a floating-point mask is rounded;
 * blank or NaN pixels become 0).  The caller frees *mask.  Returns 0 or an
 * error as sv_image_read. */
int sv_mask_read(const char *path, uint32_t **mask, int32_t *width, int32_t *height,
                 sv_error *err);

/* The value of a string card (e.g. "FILTER") in header text, copied to buf
 * without quotes and trailing blanks; 0 when found, -1 when absent. */
int sv_header_string(const char *header, int ncards, const char *key, char *buf, size_t len);

/* The value of a numeric card (e.g. "EXPTIME") in header text; 0 when found
 * and a finite number, -1 otherwise.  Reentrant. */
int sv_header_double(const char *header, int ncards, const char *key, double *value);

typedef struct sv_wcs sv_wcs;

/* Build the celestial WCS of header text (ncards cards of 80 characters;
 * reading stops early at a NUL byte, so a short buffer is safe).
 * `origin` names the header in messages (a file name, "science image").
 * Returns 0 with *out set, or SV_ERR_FORMAT with *out NULL and err saying
 * whether the header has no celestial WCS at all ("no WCS") or a broken one
 * (WCSLIB's reason), SV_ERR_ARG for bad arguments, SV_ERR_NOMEM. */
int sv_wcs_from_header(const char *header, int ncards, const char *origin, sv_wcs **out,
                       sv_error *err);

void sv_wcs_free(sv_wcs *w);

/* Pixel (0-based) to sky (degrees), n points.  A point that cannot be
 * transformed (non-finite input, outside the projection) gets NaN.
 * Returns the number of such points. */
int sv_wcs_pix2sky(sv_wcs *w, int n, const double *x, const double *y, double *ra, double *dec);

/* Sky (degrees) to pixel (0-based), n points; failures get NaN and are
 * counted in the return value. */
int sv_wcs_sky2pix(sv_wcs *w, int n, const double *ra, const double *dec, double *x, double *y);

/* Local pixel scale at pixel (x, y) (0-based), arcsec per pixel: the square
 * root of the absolute determinant of the WCS Jacobian there (central
 * differences over one pixel, on the tangent plane).  NaN when the WCS
 * cannot transform the neighbourhood. */
double sv_wcs_pixel_scale(sv_wcs *w, double x, double y);

#ifdef __cplusplus
}
#endif
#endif
