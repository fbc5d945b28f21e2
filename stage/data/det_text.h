/* det_text.h — detection tables written as text: CSV and ECSV, read into
 * an in-memory FITS binary table so that the detection reader
 * (detections.h) and the output writer (catalog.h) see one format.
 *
 * What a file is, by its first bytes (not its name):
 *   FITS   "SIMPLE  =" or gzip's magic bytes: detections.h reads it
 *          (BINTABLE, FITS_LDAC);
 *   ECSV   the first line starts with "# %ECSV" (astropy's Enhanced CSV,
 *          1.0): a YAML header in '#' lines gives every column's name,
 *          datatype (bool, int8..int64, uint8..uint64, float16..float64,
 *          string) and unit, and the delimiter (' ' by default, or ',');
 *          the first data line repeats the names;
 *   CSV    other text (printable ASCII, tabs, line ends, UTF-8) whose first
 *          line that is not blank or a '#' comment names the columns,
 *          separated by commas (a detection table has two at least),
 *          RFC 4180 quoting (csv.h).  A column's type is what all its
 *          values are: integers that fit in 64 bits (1K), else numbers
 *          (1D; an empty cell, "nan" or "NaN" is NaN), else text (nA, n its
 *          longest value); a column of integers with empty cells is 1D
 *          (NaN for the empty ones).
 * ECSV empty values are NaN (floats), 0 (integers, and F for bool) or ''
 * (strings), as astropy writes masked values.
 *
 * Refused, with the file, line (and column) and the problem: a row with
 * more or fewer fields than the header, an unterminated quote, an empty,
 * duplicate (case-insensitive) or non-ASCII column name or one longer than
 * 68 characters, more than 999 columns, a line longer than 1 MB, a value
 * that is not of its ECSV datatype, an ECSV array column (subtype), an
 * ECSV header whose names differ from the data's header line, a text
 * value longer than 1024 bytes.
 *
 * Memory: the file is read twice (types, then values) and held once, as the
 * FITS table, in memory.
 *
 * Thread safety: reentrant.
 */
#ifndef SV_DET_TEXT_H
#define SV_DET_TEXT_H

#include <fitsio.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sv_det_format {
    SV_DET_FITS = 0,   /* FITS, or a name cfitsio resolves (extended syntax) */
    SV_DET_CSV = 1,
    SV_DET_ECSV = 2,
    SV_DET_UNKNOWN = 3 /* none of these                                   */
} sv_det_format;

/* The format of the file `path` from its first bytes; SV_DET_FITS when
 * path names no regular file (cfitsio syntax such as "cands.fits[2]"). */
sv_det_format sv_det_text_sniff(const char *path);

/* Read the CSV or ECSV file `path` into a new in-memory FITS file (cfitsio
 * "mem://") whose current HDU is the table (EXTNAME = the format's name).
 * Returns 0 with *fp set (close it with fits_close_file), or SV_ERR_IO
 * (cannot read), SV_ERR_FORMAT (see above) or SV_ERR_NOMEM with err saying
 * "PATH: line N: problem". */
int sv_det_text_read(const char *path, sv_det_format format, fitsfile **fp, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
