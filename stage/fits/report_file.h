/* report_file.h — the files of stampvet's reports (evaluate.h, compare.h): the
 * format a name asks for, and writing them atomically as CSV or FITS
 * tables.
 *
 * A report is written to a temporary file next to its name, which is
 * renamed into place only when complete; a failed write leaves no file.
 * fptr arguments are cfitsio fitsfile pointers (void * keeps cfitsio out
 * of this header).
 *
 * Thread safety: all functions are reentrant (the temporary names of
 * atomic_file.h differ between concurrent callers). */
#ifndef SV_REPORT_FILE_H
#define SV_REPORT_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if path ends in .fits/.fit/.fts (optionally .gz), 2 if .csv, else 0. */
int sv_report_kind(const char *path);

/* Write `path` atomically (sv_atomic_write, atomic_file.h): write(tmp,
 * user, err) writes the temporary file, which keeps the extension of path
 * (.fits.gz, .csv), and which is then renamed to path, or removed when
 * anything failed.
 * Returns write's status, or SV_ERR_IO when the rename fails. */
int sv_report_write_atomic(const char *path,
                           int (*write)(const char *tmp, void *user, sv_error *err), void *user,
                           sv_error *err);

/* The current UTC time as FITS DATE text (YYYY-MM-DDThh:mm:ss). */
void sv_report_utc_now(char *buf, size_t cap);

/* Create the CSV file tmp.  Returns it, or NULL with err set. */
FILE *sv_report_csv_create(const char *tmp, sv_error *err);

/* Close a CSV file made by sv_report_csv_create.  Returns 0, or SV_ERR_IO
 * when writing or closing failed. */
int sv_report_csv_close(FILE *f, const char *tmp, sv_error *err);

/* Create the FITS file tmp with an empty primary HDU (*status 0: go on
 * writing with cfitsio calls that take status).  Returns the fitsfile, or
 * NULL with err set. */
void *sv_report_fits_create(const char *tmp, int *status, sv_error *err);

/* One double into a FITS table cell; NaN and infinities as null. */
void sv_report_fits_put_double(void *fptr, int col, long row, double v, int *status);

/* Finish a FITS file made by sv_report_fits_create: checksums of the
 * current HDU and of the primary HDU, close.  status: the cfitsio status
 * of the writing.  Returns 0, or SV_ERR_IO with err saying why. */
int sv_report_fits_close(void *fptr, int status, const char *tmp, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
