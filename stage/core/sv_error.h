/* sv_error.h — the error record every stampvet object carries.
 *
 * A function that can fail returns an int status (0 = success, negative =
 * failure) and, when given a non-NULL sv_error, writes what went wrong and
 * where (file name, HDU, column, layer ...) into it, in the spirit of
 * WCSLIB's wcserr.  Nothing here touches process-global state.
 *
 * Thread safety: an sv_error belongs to one thread at a time; the functions
 * below are reentrant.
 */
#ifndef SV_ERROR_H
#define SV_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "stampvet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The status codes (enum sv_status), the sv_error record and
 * sv_status_name are public: stampvet.h. */

/* Clear the record.  err may be NULL.  Thread-safe on distinct records. */
void sv_error_clear(sv_error *err);

/* Set status and a printf-style message; returns status so that callers can
 * write `return sv_error_set(err, SV_ERR_IO, "%s: cannot open", path);`.
 * err may be NULL (the message is then dropped).  The text is truncated to
 * SV_ERROR_TEXT_MAX-1 bytes. */
int sv_error_set(sv_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix existing text with context ("model.fits: " + old text); keeps the
 * status.  Returns err->status (or SV_ERR_INTERNAL when err is NULL). */
int sv_error_prefix(sv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
