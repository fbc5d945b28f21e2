/* stamp_file.h — one stamp (a cutout, as ZTF alerts carry them) from a
 * FITS file on disk or in memory, as stored: no flip, blank pixels NaN.
 *
 * Every header is checked by fits/fits_guard.h before cfitsio sees it.
 *
 * Thread safety: reentrant (given a reentrant cfitsio build). */
#ifndef SV_STAMP_FILE_H
#define SV_STAMP_FILE_H

#include <stddef.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest stamp side (pixels) the readers and scorers accept. */
#define SV_STAMP_DIM_MAX 16384

/* Read a 2-D FITS image (the primary HDU, or the first image HDU with data,
 * as for compressed images) as stored: *pix gets h x w floats, row-major
 * with NAXIS1 fastest, NaN for blank pixels.  Gzipped files are read as
 * cfitsio reads them.  The caller frees *pix.  Returns 0, SV_ERR_IO (cannot
 * open) or SV_ERR_FORMAT (not a 2-D image, absurd size) with err naming the
 * file. */
int sv_stamp_read(const char *path, float **pix, int *h, int *w, sv_error *err);

/* The same from len bytes of a FITS file in memory (not compressed with
 * gzip: inflate it first); name names it in messages.  header, if
 * non-NULL, gets the image HDU's header as *n_cards 80-character cards,
 * NUL-terminated (free it with free(); NULL on failure).  The buffer is
 * read, never written or kept. */
int sv_stamp_read_memory(const void *buf, size_t len, const char *name, float **pix, int *h,
                         int *w, char **header, int *n_cards, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
