/* fits_dates.h — cfitsio's dated keywords, written thread-safely.
 *
 * fits_write_date() and fits_write_chksum() (which dates the CHECKSUM and
 * DATASUM comments) call gmtime(), whose static result two threads
 * writing two files at once overwrite under each other (ThreadSanitizer
 * shows the race, and a comment may get the other thread's date).  The
 * stage promises that distinct instances run concurrently, so every
 * stampvet writer goes through these instead:
 *   sv_fits_write_date    writes DATE itself, from gmtime_r;
 *   sv_fits_write_chksum  runs fits_write_chksum under a process-wide lock
 *                         private to this file.
 * A host that calls gmtime() itself from another thread at the same time
 * can still race with cfitsio inside the lock: that is the host's gmtime.
 *
 * Thread safety: both are thread-safe on distinct fitsfile handles. */
#ifndef SV_FITS_DATES_H
#define SV_FITS_DATES_H

#include <fitsio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* DATE = 'YYYY-MM-DDThh:mm:ss' (UTC, now) in the current HDU, as
 * fits_write_date writes it.  cfitsio status convention. */
int sv_fits_write_date(fitsfile *fp, int *status);

/* fits_write_chksum of the current HDU, serialised.  cfitsio status
 * convention. */
int sv_fits_write_chksum(fitsfile *fp, int *status);

#ifdef __cplusplus
}
#endif
#endif
