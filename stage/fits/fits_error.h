/* fits_error.h — cfitsio's status codes turned into stampvet errors, in one
 * style: "PATH: WHAT (cfitsio: TEXT)", so a raw cfitsio message is never
 * the whole error and every reader names its file the same way.
 *
 * Thread safety: reentrant.  cfitsio keeps its message stack per thread
 * (built with --enable-reentrant, as Debian's is); sv_fits_fail clears the
 * calling thread's stack so a stale message never leaks into a later one.
 */
#ifndef SV_FITS_ERROR_H
#define SV_FITS_ERROR_H

#include <fitsio.h>

#include "core/sv_error.h"

/* cfitsio's short text for `status` (at most FLEN_STATUS - 1 characters)
 * in buf, which is returned; "" for a status cfitsio does not know. */
const char *sv_fits_status_text(int status, char buf[FLEN_STATUS]);

/* Set err (may be NULL) to code with the message
 * "PATH: WHAT (cfitsio: TEXT)" and clear cfitsio's message stack.
 * Given: path (the file's name, not NULL), what (a short phrase, not NULL),
 * status (the cfitsio status of the failed call; 0 leaves out the
 * parenthesis).  Returns code. */
int sv_fits_fail(sv_error *err, int code, const char *path, const char *what, int status);

#endif
