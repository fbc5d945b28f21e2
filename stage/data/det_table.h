/* det_table.h — detection tables as column sources: a host's in-memory
 * dia_table, and a detection file (FITS BINTABLE, FITS_LDAC, CSV, ECSV)
 * read in chunks.  What the columns mean (presets, mapping, positions) is
 * pipeline/detections.h.
 *
 * Thread safety: all functions are reentrant; an sv_det_file is used by
 * one thread at a time.
 */
#ifndef SV_DET_TABLE_H
#define SV_DET_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "dia_stage.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest column name / TFORM / TUNIT kept, with its NUL. */
#define SV_COLNAME_MAX 72

/* A column source: n columns with names; numeric(i) says whether column i
 * holds one number per row (a scalar of an integer or floating type);
 * integer(i) whether it is an integer type; text(i) whether it holds one
 * text value per row: SV_COL_TEXT (a string), SV_COL_LOGICAL (a FITS
 * logical, read as text "T", "F", or "" for a null), else 0 (text may be
 * NULL: no text columns). */
#define SV_COL_TEXT 1
#define SV_COL_LOGICAL 2
typedef struct sv_col_source {
    int ncols;
    const char *(*name)(const void *src, int i);
    int (*numeric)(const void *src, int i);
    int (*integer)(const void *src, int i);
    const void *src;
    const char *origin;       /* the table's name for messages             */
    int (*text)(const void *src, int i);
} sv_col_source;

/* ---- in-memory tables (dia_table) -------------------------------------- */

/* Check a host's table: nrows >= 0, columns with names, known types,
 * repeat >= 1, data for nrows > 0.  Returns 0 or SV_ERR_ARG naming the
 * column. */
int sv_table_validate(const dia_table *t, const char *origin, sv_error *err);

/* A column source over a validated dia_table. */
sv_col_source sv_table_source(const dia_table *t, const char *origin);

/* Rows row0 .. row0+n-1 of a scalar numeric column as double / int64
 * (floating values are truncated towards zero for int64; NaN gives 0). */
void sv_column_read_double(const dia_column *c, int64_t row0, int n, double *out);
void sv_column_read_int64(const dia_column *c, int64_t row0, int n, int64_t *out);

/* Bytes of one element of a column type (STRING: 1). */
size_t sv_col_type_size(dia_col_type t);

/* The column named `name` (ASCII case-insensitive), or NULL. */
const dia_column *sv_table_column(const dia_table *t, const char *name);

/* Row r's value (the first element of a vector cell) as a number:
 * integer and floating cells as they are, a string cell parsed as a number
 * (NaN when it is not one). */
double sv_column_cell_num(const dia_column *c, int64_t r);

/* Row r's value as text in buf (cap >= 1 bytes, always terminated): a
 * string cell without leading and trailing blanks (up to its first NUL);
 * integers exactly; an integral float below 9e15 without a fraction, other
 * floats with 17 significant digits; "" for NaN and infinities. */
void sv_column_cell_str(const dia_column *c, int64_t r, char *buf, size_t cap);

/* ---- FITS binary tables, read in chunks -------------------------------- */

/* The input table's columns and the header cards the output keeps: what the
 * catalog writer needs to reproduce every input column with its type,
 * unit, dimensions, scaling and null value. */
typedef struct sv_det_schema {
    int ncols;
    char (*ttype)[SV_COLNAME_MAX];
    char (*tform)[SV_COLNAME_MAX];
    char (*tunit)[SV_COLNAME_MAX];
    int nextra;
    char (*extra)[81];        /* other header records (TDIMn, TNULLn,
                                 TSCALn, TZEROn, TDISPn, COMMENT, ...)      */
    size_t rowbytes;          /* NAXIS1                                     */
} sv_det_schema;

typedef struct sv_det_file sv_det_file;

/* Open the detection table of `path`, whose format its first bytes say
 * (det_text.h):
 *   FITS     the HDU selected with cfitsio extended syntax ("cands.fits[2]"),
 *            else a FITS_LDAC catalogue's LDAC_OBJECTS table (SExtractor:
 *            the LDAC_IMHEAD table before it holds the image's header, not
 *            detections), else the first binary table;
 *   CSV, ECSV  read into an in-memory binary table (det_text.h), so the
 *            output copies their columns as it copies a FITS table's.
 * Returns 0 with *out set, or SV_ERR_IO (cannot open or read) /
 * SV_ERR_FORMAT (none of these formats, no binary table, an ASCII table, a
 * variable-length array column, a FITS_LDAC file with no or several
 * LDAC_OBJECTS tables or LDAC_IMHEAD named, a damaged CSV/ECSV line) with
 * err naming the file and the problem (a cfitsio message, when there is
 * one, only follows ours). */
int sv_det_file_open(const char *path, sv_det_file **out, sv_error *err);
void sv_det_file_close(sv_det_file *f);

int64_t sv_det_file_nrows(const sv_det_file *f);
const char *sv_det_file_path(const sv_det_file *f);
/* What was read: "FITS BINTABLE, HDU 2", "FITS_LDAC LDAC_OBJECTS, HDU 3",
 * "CSV", "ECSV" (the output's DETFMT card). */
const char *sv_det_file_format(const sv_det_file *f);
const sv_det_schema *sv_det_file_schema(const sv_det_file *f);
/* A column source over the file's columns. */
sv_col_source sv_det_file_source(const sv_det_file *f);

/* Rows row0 .. row0+n-1 (0-based) of column col (0-based): as double (TNULL
 * and NaN give NaN; scaling applied), as int64, or the raw row bytes
 * (n * rowbytes, exactly as stored).  Return 0 or SV_ERR_IO naming file,
 * column and rows. */
int sv_det_file_read_double(sv_det_file *f, int col, int64_t row0, int n, double *out,
                            sv_error *err);
int sv_det_file_read_int64(sv_det_file *f, int col, int64_t row0, int n, int64_t *out,
                           sv_error *err);
int sv_det_file_read_raw(sv_det_file *f, int64_t row0, int n, unsigned char *out,
                         sv_error *err);

/* Rows row0 .. row0+n-1 of a text or logical column (sv_col_source.text)
 * as text: row i's value at out + i * width, NUL-terminated, without
 * leading and trailing blanks; a logical gives "T", "F" or "" (null); a
 * value of width or more characters gives "?" (never one of the short
 * words a reader looks for).  width >= 2.  Returns 0, SV_ERR_ARG for a
 * column of another type, SV_ERR_NOMEM, or SV_ERR_IO naming file, column
 * and rows. */
int sv_det_file_read_text(sv_det_file *f, int col, int64_t row0, int n, char *out,
                          size_t width, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
