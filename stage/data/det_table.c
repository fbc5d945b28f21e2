/* det_table.c — see det_table.h. */
#include "data/det_table.h"
#include "data/det_text.h"
#include "fits/fits_guard.h"
#include "fits/fits_error.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fitsio.h>

/* ---- in-memory tables ------------------------------------------------- */

size_t sv_col_type_size(dia_col_type t)
{
    switch (t) {
    case DIA_COL_INT32: return 4;
    case DIA_COL_INT64: return 8;
    case DIA_COL_FLOAT32: return 4;
    case DIA_COL_FLOAT64: return 8;
    case DIA_COL_STRING: return 1;
    case DIA_COL_UINT8: return 1;
    case DIA_COL_INT16: return 2;
    }
    return 0;
}

int sv_table_validate(const dia_table *t, const char *origin, sv_error *err)
{
    if (!origin)
        origin = "detection table";
    if (!t)
        return sv_error_set(err, SV_ERR_ARG, "%s: no table given", origin);
    if (t->nrows < 0 || t->ncols < 0 || (t->ncols > 0 && !t->cols))
        return sv_error_set(err, SV_ERR_ARG, "%s: %lld rows, %d columns%s", origin,
                            (long long)t->nrows, t->ncols,
                            t->ncols > 0 && !t->cols ? " but no column array" : "");
    if (t->nmeta < 0 || (t->nmeta > 0 && !t->meta))
        return sv_error_set(err, SV_ERR_ARG, "%s: bad meta list (%d entries)", origin, t->nmeta);
    for (int i = 0; i < t->ncols; i++) {
        const dia_column *c = &t->cols[i];
        if (!c->name || !*c->name)
            return sv_error_set(err, SV_ERR_ARG, "%s: column %d has no name", origin, i + 1);
        if (sv_col_type_size(c->type) == 0)
            return sv_error_set(err, SV_ERR_ARG, "%s: column '%s' has unknown type %d", origin,
                                c->name, (int)c->type);
        if (c->repeat < 1)
            return sv_error_set(err, SV_ERR_ARG, "%s: column '%s' has repeat %d", origin,
                                c->name, c->repeat);
        if (c->ndim < 0 || c->ndim > 2 ||
            (c->ndim == 2 && (c->dims[0] < 1 || c->dims[1] < 1 ||
                              (int64_t)c->dims[0] * c->dims[1] != c->repeat)))
            return sv_error_set(err, SV_ERR_ARG, "%s: column '%s' has bad dimensions", origin,
                                c->name);
        if (t->nrows > 0 && !c->data)
            return sv_error_set(err, SV_ERR_ARG, "%s: column '%s' has no data", origin, c->name);
        for (int j = 0; j < i; j++)
            if (!strcasecmp(t->cols[j].name, c->name))
                return sv_error_set(err, SV_ERR_ARG, "%s: two columns named '%s'", origin,
                                    c->name);
    }
    return SV_OK;
}

static const char *tab_name(const void *src, int i)
{
    return ((const dia_table *)src)->cols[i].name;
}

static int tab_numeric(const void *src, int i)
{
    const dia_column *c = &((const dia_table *)src)->cols[i];
    return c->repeat == 1 && c->type != DIA_COL_STRING;
}

static int tab_integer(const void *src, int i)
{
    const dia_column *c = &((const dia_table *)src)->cols[i];
    return c->repeat == 1 && (c->type == DIA_COL_INT16 || c->type == DIA_COL_INT32 ||
                              c->type == DIA_COL_INT64 || c->type == DIA_COL_UINT8);
}

static int tab_text(const void *src, int i)
{
    const dia_column *c = &((const dia_table *)src)->cols[i];
    return c->type == DIA_COL_STRING && c->ndim < 2 ? SV_COL_TEXT : 0;
}

sv_col_source sv_table_source(const dia_table *t, const char *origin)
{
    sv_col_source s = {t->ncols, tab_name, tab_numeric, tab_integer, t, origin, tab_text};
    return s;
}

void sv_column_read_double(const dia_column *c, int64_t row0, int n, double *out)
{
    for (int i = 0; i < n; i++) {
        int64_t r = row0 + i;
        switch (c->type) {
        case DIA_COL_INT32: out[i] = ((const int32_t *)c->data)[r]; break;
        case DIA_COL_INT64: out[i] = (double)((const int64_t *)c->data)[r]; break;
        case DIA_COL_FLOAT32: out[i] = ((const float *)c->data)[r]; break;
        case DIA_COL_FLOAT64: out[i] = ((const double *)c->data)[r]; break;
        case DIA_COL_UINT8: out[i] = ((const uint8_t *)c->data)[r]; break;
        case DIA_COL_INT16: out[i] = ((const int16_t *)c->data)[r]; break;
        default: out[i] = NAN; break;
        }
    }
}

static int64_t to_i64(double v)
{
    if (!(v == v))
        return 0;
    if (v >= 9.2e18)
        return INT64_MAX;
    if (v <= -9.2e18)
        return INT64_MIN;
    return (int64_t)v;
}

void sv_column_read_int64(const dia_column *c, int64_t row0, int n, int64_t *out)
{
    for (int i = 0; i < n; i++) {
        int64_t r = row0 + i;
        switch (c->type) {
        case DIA_COL_INT32: out[i] = ((const int32_t *)c->data)[r]; break;
        case DIA_COL_INT64: out[i] = ((const int64_t *)c->data)[r]; break;
        case DIA_COL_FLOAT32: out[i] = to_i64(((const float *)c->data)[r]); break;
        case DIA_COL_FLOAT64: out[i] = to_i64(((const double *)c->data)[r]); break;
        case DIA_COL_UINT8: out[i] = ((const uint8_t *)c->data)[r]; break;
        case DIA_COL_INT16: out[i] = ((const int16_t *)c->data)[r]; break;
        default: out[i] = 0; break;
        }
    }
}

const dia_column *sv_table_column(const dia_table *t, const char *name)
{
    for (int c = 0; t && name && c < t->ncols; c++)
        if (t->cols[c].name && !strcasecmp(t->cols[c].name, name))
            return &t->cols[c];
    return NULL;
}

/* the string cell of row r: its start and its length without the blanks
 * around it (up to its first NUL) */
static const char *cell_text(const dia_column *c, int64_t r, size_t *len)
{
    size_t rep = (size_t)(c->repeat > 0 ? c->repeat : 1);
    const char *p = (const char *)c->data + (size_t)r * rep;
    size_t n = strnlen(p, rep), a = 0;
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    while (a < n && isspace((unsigned char)p[a]))
        a++;
    *len = n - a;
    return p + a;
}

double sv_column_cell_num(const dia_column *c, int64_t r)
{
    size_t i = (size_t)r * (size_t)(c->repeat > 0 ? c->repeat : 1);
    switch (c->type) {
    case DIA_COL_INT32: return ((const int32_t *)c->data)[i];
    case DIA_COL_INT64: return (double)((const int64_t *)c->data)[i];
    case DIA_COL_FLOAT32: return ((const float *)c->data)[i];
    case DIA_COL_FLOAT64: return ((const double *)c->data)[i];
    case DIA_COL_UINT8: return ((const uint8_t *)c->data)[i];
    case DIA_COL_INT16: return ((const int16_t *)c->data)[i];
    case DIA_COL_STRING: {
        size_t n = 0;
        const char *p = cell_text(c, r, &n);
        char buf[64], *end = NULL;
        if (n == 0 || n >= sizeof buf)
            return NAN;
        memcpy(buf, p, n);
        buf[n] = '\0';
        double v = strtod(buf, &end);
        return *end ? NAN : v;
    }
    }
    return NAN;
}

void sv_column_cell_str(const dia_column *c, int64_t r, char *buf, size_t cap)
{
    size_t i = (size_t)r * (size_t)(c->repeat > 0 ? c->repeat : 1);
    buf[0] = '\0';
    if (c->type == DIA_COL_STRING) {
        size_t n = 0;
        const char *p = cell_text(c, r, &n);
        snprintf(buf, cap, "%.*s", (int)n, p);
    } else if (c->type == DIA_COL_INT64) {
        snprintf(buf, cap, "%lld", (long long)((const int64_t *)c->data)[i]);
    } else {
        double v = sv_column_cell_num(c, r);
        if (isfinite(v))
            snprintf(buf, cap, v == floor(v) && fabs(v) < 9e15 ? "%.0f" : "%.17g", v);
    }
}

/* ---- FITS tables -------------------------------------------------------- */

struct sv_det_file {
    fitsfile *fp;
    char path[1024];
    char format[48];   /* "FITS BINTABLE HDU 2", "FITS_LDAC", "CSV", "ECSV" */
    int64_t nrows;
    sv_det_schema schema;
    int *typecode;     /* per column, cfitsio's                              */
    long *repeat;
};

/* Header keywords of a binary table that describe its structure and are
 * written anew by the output writer. */
static int structural(const char *key)
{
    static const char *const fixed[] = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "PCOUNT",
                                        "GCOUNT", "TFIELDS", "THEAP", "EXTNAME", "EXTVER",
                                        "EXTLEVEL", "CHECKSUM", "DATASUM", "END", "EXTEND",
                                        "DATE", NULL};
    for (int i = 0; fixed[i]; i++)
        if (!strcmp(key, fixed[i]))
            return 1;
    static const char *const indexed[] = {"NAXIS", "TTYPE", "TFORM", "TUNIT", NULL};
    for (int i = 0; indexed[i]; i++) {
        size_t n = strlen(indexed[i]);
        if (!strncmp(key, indexed[i], n) && key[n] >= '0' && key[n] <= '9')
            return 1;
    }
    return 0;
}

/* Open a FITS file and move to its detection table: the HDU named with
 * cfitsio syntax, else the FITS_LDAC LDAC_OBJECTS table, else the first
 * binary table.  Sets f->fp (closed by the caller on failure) and
 * f->format. */
static int open_fits_table(sv_det_file *f, const char *path, sv_error *err)
{
    int status = 0, hdutype = 0, hdu = 1, nhdu = 0;
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_file(&f->fp, path, READONLY, &status)) {
        f->fp = NULL;
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot open the detection table", status);
    }
    fits_get_hdu_num(f->fp, &hdu);
    fits_get_hdu_type(f->fp, &hdutype, &status);
    fits_get_num_hdus(f->fp, &nhdu, &status);
    int chosen = hdu != 1 || hdutype != IMAGE_HDU; /* named by the user */
    int n_objects = 0, n_imhead = 0, first_table = 0, objects = 0;
    for (int i = 2; i <= nhdu && !status; i++) { /* what the file holds */
        char extname[FLEN_VALUE] = "";
        fits_movabs_hdu(f->fp, i, &hdutype, &status);
        int s2 = 0;
        fits_read_key_str(f->fp, "EXTNAME", extname, NULL, &s2);
        if (hdutype == BINARY_TBL && !strcmp(extname, "LDAC_OBJECTS") && !n_objects++)
            objects = i;
        n_imhead += hdutype == BINARY_TBL && !strcmp(extname, "LDAC_IMHEAD");
        if ((hdutype == BINARY_TBL || hdutype == ASCII_TBL) && !first_table)
            first_table = i;
    }
    if (status)
        return sv_fits_fail(err, SV_ERR_IO, path, "unreadable FITS file", status);
    int ldac = n_objects > 0 || n_imhead > 0;
    if (chosen) {
        char extname[FLEN_VALUE] = "";
        int s2 = 0;
        fits_movabs_hdu(f->fp, hdu, &hdutype, &status);
        fits_read_key_str(f->fp, "EXTNAME", extname, NULL, &s2);
        if (!strcmp(extname, "LDAC_IMHEAD"))
            return sv_error_set(err, SV_ERR_FORMAT,
                                "%s: extension %d is LDAC_IMHEAD, the image header of a "
                                "FITS_LDAC catalogue; the detections are in LDAC_OBJECTS%s",
                                path, hdu - 1, objects ? "" : " (none in this file)");
    } else if (ldac) {
        if (n_objects == 0)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: a FITS_LDAC catalogue (LDAC_IMHEAD) "
                                "without an LDAC_OBJECTS table", path);
        if (n_objects > 1)
            return sv_error_set(err, SV_ERR_FORMAT,
                                "%s: %d LDAC_OBJECTS tables (a catalogue of several chips); "
                                "name the one of this exposure, e.g. %s[%d]",
                                path, n_objects, path, objects - 1);
        hdu = objects;
    } else {
        hdu = first_table ? first_table : 1;
    }
    fits_movabs_hdu(f->fp, hdu, &hdutype, &status);
    if (status)
        return sv_fits_fail(err, SV_ERR_IO, path, "unreadable FITS file", status);
    if (hdutype == ASCII_TBL)
        return sv_error_set(err, SV_ERR_FORMAT,
                            "%s: the detection table is an ASCII table; give a binary table "
                            "(BINTABLE)",
                            path);
    if (hdutype != BINARY_TBL)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no binary table (BINTABLE) in the file",
                            path);
    if (ldac && hdu == objects)
        snprintf(f->format, sizeof f->format, "FITS_LDAC LDAC_OBJECTS, HDU %d", hdu);
    else
        snprintf(f->format, sizeof f->format, "FITS BINTABLE, HDU %d", hdu);
    return SV_OK;
}

void sv_det_file_close(sv_det_file *f)
{
    if (!f)
        return;
    int status = 0;
    if (f->fp)
        fits_close_file(f->fp, &status);
    free(f->schema.ttype);
    free(f->schema.tform);
    free(f->schema.tunit);
    free(f->schema.extra);
    free(f->typecode);
    free(f->repeat);
    free(f);
}

int sv_det_file_open(const char *path, sv_det_file **out, sv_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return sv_error_set(err, SV_ERR_ARG, "no detection table file name given");
    sv_det_file *f = calloc(1, sizeof *f);
    if (!f)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    sv_det_format fmt = sv_det_text_sniff(path);
    int st = fmt == SV_DET_CSV || fmt == SV_DET_ECSV ? sv_det_text_read(path, fmt, &f->fp, err)
             : fmt == SV_DET_UNKNOWN ? sv_error_set(err, SV_ERR_FORMAT, "%s: not a detection "
                                                    "table: neither FITS (it does not begin "
                                                    "with SIMPLE = T), nor CSV (no comma in its "
                                                    "first line), nor ECSV (# %%ECSV)", path)
                                     : open_fits_table(f, path, err);
    if (st) {
        sv_det_file_close(f);
        return st;
    }
    if (fmt != SV_DET_FITS)
        snprintf(f->format, sizeof f->format, "%s", fmt == SV_DET_CSV ? "CSV" : "ECSV");
    int status = 0;
    LONGLONG nrows = 0, naxis1 = 0;
    int ncols = 0;
    fits_get_num_rowsll(f->fp, &nrows, &status);
    fits_get_num_cols(f->fp, &ncols, &status);
    fits_read_key(f->fp, TLONGLONG, "NAXIS1", &naxis1, NULL, &status);
    if (status || nrows < 0 || ncols < 0 || ncols > 999) {
        int st = status;
        sv_det_file_close(f);
        return sv_fits_fail(err, SV_ERR_FORMAT, path, "bad binary table header", st);
    }
    f->nrows = nrows;
    f->schema.ncols = ncols;
    f->schema.rowbytes = (size_t)naxis1;
    size_t nc = ncols > 0 ? (size_t)ncols : 1;
    f->schema.ttype = calloc(nc, sizeof *f->schema.ttype);
    f->schema.tform = calloc(nc, sizeof *f->schema.tform);
    f->schema.tunit = calloc(nc, sizeof *f->schema.tunit);
    f->typecode = calloc(nc, sizeof *f->typecode);
    f->repeat = calloc(nc, sizeof *f->repeat);
    if (!f->schema.ttype || !f->schema.tform || !f->schema.tunit || !f->typecode ||
        !f->repeat) {
        sv_det_file_close(f);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < ncols; i++) {
        char key[FLEN_KEYWORD], val[FLEN_VALUE];
        long width = 0;
        snprintf(key, sizeof key, "TTYPE%d", i + 1);
        int s2 = 0;
        if (fits_read_key(f->fp, TSTRING, key, val, NULL, &s2))
            snprintf(val, sizeof val, "col%d", i + 1);
        snprintf(f->schema.ttype[i], SV_COLNAME_MAX, "%s", val);
        snprintf(key, sizeof key, "TFORM%d", i + 1);
        fits_read_key(f->fp, TSTRING, key, val, NULL, &status);
        snprintf(f->schema.tform[i], SV_COLNAME_MAX, "%s", val);
        snprintf(key, sizeof key, "TUNIT%d", i + 1);
        s2 = 0;
        if (fits_read_key(f->fp, TSTRING, key, val, NULL, &s2))
            val[0] = '\0';
        snprintf(f->schema.tunit[i], SV_COLNAME_MAX, "%s", val);
        fits_get_coltype(f->fp, i + 1, &f->typecode[i], &f->repeat[i], &width, &status);
        if (status)
            break;
        if (f->typecode[i] < 0) {
            sv_error_set(err, SV_ERR_FORMAT,
                         "%s: column '%s' is a variable-length array (TFORM%d = '%s'); such "
                         "columns are not supported in a detection table",
                         path, f->schema.ttype[i], i + 1, f->schema.tform[i]);
            sv_det_file_close(f);
            return SV_ERR_FORMAT;
        }
    }
    if (status) {
        int st = status;
        sv_det_file_close(f);
        return sv_fits_fail(err, SV_ERR_FORMAT, path, "bad column definitions", st);
    }
    /* the other header records, kept in the output */
    int nkeys = 0;
    fits_get_hdrspace(f->fp, &nkeys, NULL, &status);
    f->schema.extra = calloc(nkeys > 0 ? (size_t)nkeys : 1, sizeof *f->schema.extra);
    if (!f->schema.extra) {
        sv_det_file_close(f);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int k = 1; k <= nkeys && !status; k++) {
        char rec[FLEN_CARD], key[FLEN_KEYWORD];
        int len = 0;
        if (fits_read_record(f->fp, k, rec, &status))
            break;
        int s2 = 0;
        if (fits_get_keyname(rec, key, &len, &s2) || structural(key))
            continue;
        snprintf(f->schema.extra[f->schema.nextra++], 81, "%s", rec);
    }
    if (status) {
        int st = status;
        sv_det_file_close(f);
        return sv_fits_fail(err, SV_ERR_FORMAT, path, "unreadable header", st);
    }
    *out = f;
    return SV_OK;
}

int64_t sv_det_file_nrows(const sv_det_file *f) { return f->nrows; }
const char *sv_det_file_format(const sv_det_file *f) { return f->format; }
const char *sv_det_file_path(const sv_det_file *f) { return f->path; }
const sv_det_schema *sv_det_file_schema(const sv_det_file *f) { return &f->schema; }

static const char *file_name(const void *src, int i)
{
    return ((const sv_det_file *)src)->schema.ttype[i];
}

static int file_numeric(const void *src, int i)
{
    const sv_det_file *f = src;
    int t = f->typecode[i];
    return f->repeat[i] == 1 &&
           (t == TBYTE || t == TSBYTE || t == TSHORT || t == TUSHORT || t == TINT ||
            t == TUINT || t == TLONG || t == TULONG || t == TLONGLONG || t == TULONGLONG ||
            t == TFLOAT || t == TDOUBLE);
}

static int file_integer(const void *src, int i)
{
    const sv_det_file *f = src;
    int t = f->typecode[i];
    return f->repeat[i] == 1 &&
           (t == TBYTE || t == TSBYTE || t == TSHORT || t == TUSHORT || t == TINT ||
            t == TUINT || t == TLONG || t == TULONG || t == TLONGLONG);
}

static int file_text(const void *src, int i)
{
    const sv_det_file *f = src;
    int t = f->typecode[i];
    if (t == TSTRING && f->repeat[i] >= 1)
        return SV_COL_TEXT;
    return t == TLOGICAL && f->repeat[i] == 1 ? SV_COL_LOGICAL : 0;
}

sv_col_source sv_det_file_source(const sv_det_file *f)
{
    sv_col_source s = {f->schema.ncols, file_name, file_numeric, file_integer, f, f->path,
                       file_text};
    return s;
}

int sv_det_file_read_double(sv_det_file *f, int col, int64_t row0, int n, double *out,
                            sv_error *err)
{
    if (n <= 0)
        return SV_OK;
    int status = 0, anynul = 0;
    double nulval = NAN;
    if (fits_read_col(f->fp, TDOUBLE, col + 1, row0 + 1, 1, n, &nulval, out, &anynul,
                      &status)) {
        char what[160];
        snprintf(what, sizeof what, "cannot read column '%s', rows %lld..%lld",
                 f->schema.ttype[col], (long long)row0 + 1, (long long)row0 + n);
        return sv_fits_fail(err, SV_ERR_IO, f->path, what, status);
    }
    return SV_OK;
}

int sv_det_file_read_int64(sv_det_file *f, int col, int64_t row0, int n, int64_t *out,
                           sv_error *err)
{
    if (n <= 0)
        return SV_OK;
    int status = 0, anynul = 0;
    LONGLONG nulval = 0;
    if (fits_read_col(f->fp, TLONGLONG, col + 1, row0 + 1, 1, n, &nulval, out, &anynul,
                      &status)) {
        char what[160];
        snprintf(what, sizeof what, "cannot read column '%s', rows %lld..%lld",
                 f->schema.ttype[col], (long long)row0 + 1, (long long)row0 + n);
        return sv_fits_fail(err, SV_ERR_IO, f->path, what, status);
    }
    return SV_OK;
}

int sv_det_file_read_raw(sv_det_file *f, int64_t row0, int n, unsigned char *out,
                         sv_error *err)
{
    if (n <= 0 || f->schema.rowbytes == 0)
        return SV_OK;
    int status = 0;
    if (fits_read_tblbytes(f->fp, row0 + 1, 1, (LONGLONG)n * (LONGLONG)f->schema.rowbytes, out,
                           &status)) {
        char what[160];
        snprintf(what, sizeof what, "cannot read rows %lld..%lld (truncated file?)",
                 (long long)row0 + 1, (long long)row0 + n);
        return sv_fits_fail(err, SV_ERR_IO, f->path, what, status);
    }
    return SV_OK;
}

/* s without leading and trailing blanks into out (width bytes), "?" when
 * it does not fit */
static void put_text(const char *s, char *out, size_t width)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= width)
        snprintf(out, width, "?");
    else
        snprintf(out, width, "%.*s", (int)len, s);
}

int sv_det_file_read_text(sv_det_file *f, int col, int64_t row0, int n, char *out,
                          size_t width, sv_error *err)
{
    if (n <= 0)
        return SV_OK;
    if (width < 2 || col < 0 || col >= f->schema.ncols || !file_text(f, col))
        return sv_error_set(err, SV_ERR_ARG, "%s: column %d is not a text or logical column",
                            f->path, col + 1);
    int status = 0, anynul = 0;
    char what[160];
    snprintf(what, sizeof what, "cannot read column '%s', rows %lld..%lld",
             f->schema.ttype[col], (long long)row0 + 1, (long long)row0 + n);
    if (f->typecode[col] == TLOGICAL) {
        char *v = malloc((size_t)n);
        if (!v)
            return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", f->path);
        char nulval = 2;
        if (fits_read_col(f->fp, TLOGICAL, col + 1, row0 + 1, 1, n, &nulval, v, &anynul,
                          &status)) {
            free(v);
            return sv_fits_fail(err, SV_ERR_IO, f->path, what, status);
        }
        for (int i = 0; i < n; i++)
            snprintf(out + (size_t)i * width, width, "%s", v[i] == 1 ? "T" : v[i] == 0 ? "F" : "");
        free(v);
        return SV_OK;
    }
    size_t w = (size_t)f->repeat[col] + 1;
    char *buf = malloc((size_t)n * w);
    char **ptr = malloc((size_t)n * sizeof *ptr);
    if (!buf || !ptr) {
        free(buf);
        free(ptr);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", f->path);
    }
    for (int i = 0; i < n; i++)
        ptr[i] = buf + (size_t)i * w;
    char nul[2] = "";
    if (fits_read_col(f->fp, TSTRING, col + 1, row0 + 1, 1, n, nul, ptr, &anynul, &status)) {
        free(buf);
        free(ptr);
        return sv_fits_fail(err, SV_ERR_IO, f->path, what, status);
    }
    for (int i = 0; i < n; i++) {
        ptr[i][w - 1] = '\0';
        put_text(ptr[i], out + (size_t)i * width, width);
    }
    free(buf);
    free(ptr);
    return SV_OK;
}
