/* report_file.c — report files.  See report_file.h. */
#include "fits/report_file.h"
#include "fits/fits_dates.h"

#include "core/atomic_file.h"
#include "fits/fits_error.h"

#include <fitsio.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *fits_ext[] = {".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz"};

static size_t ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a > b && !strcasecmp(s + a - b, suf) ? b : 0;
}

int sv_report_kind(const char *path)
{
    if (!path)
        return 0;
    for (size_t i = 0; i < sizeof fits_ext / sizeof fits_ext[0]; i++)
        if (ends_with(path, fits_ext[i]))
            return 1;
    if (ends_with(path, ".csv"))
        return 2;
    return 0;
}

int sv_report_write_atomic(const char *path,
                           int (*write)(const char *tmp, void *user, sv_error *err), void *user,
                           sv_error *err)
{
    return sv_atomic_write(path, write, user, err);
}

void sv_report_utc_now(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tmv);
}

FILE *sv_report_csv_create(const char *tmp, sv_error *err)
{
    FILE *f = fopen(tmp, "w");
    if (!f)
        sv_error_set(err, SV_ERR_IO, "%s: cannot create the report", tmp);
    return f;
}

int sv_report_csv_close(FILE *f, const char *tmp, sv_error *err)
{
    int bad = ferror(f);
    if (fclose(f) || bad)
        return sv_error_set(err, SV_ERR_IO, "%s: write failed", tmp);
    return 0;
}

void *sv_report_fits_create(const char *tmp, int *status, sv_error *err)
{
    fitsfile *f = NULL;
    *status = 0;
    fits_create_file(&f, tmp, status);
    if (*status) {
        sv_error_set(err, SV_ERR_IO, "%s: cannot create the report (cfitsio %d)", tmp, *status);
        return NULL;
    }
    fits_create_img(f, BYTE_IMG, 0, NULL, status);
    return f;
}

void sv_report_fits_put_double(void *fptr, int col, long row, double v, int *status)
{
    if (isfinite(v))
        fits_write_col(fptr, TDOUBLE, col, row, 1, 1, &v, status);
    else
        fits_write_colnull(fptr, TDOUBLE, col, row, 1, 1, &v, &v, status);
}

int sv_report_fits_close(void *fptr, int status, const char *tmp, sv_error *err)
{
    fitsfile *f = fptr;
    int s = status;
    sv_fits_write_chksum(f, &s);
    fits_movabs_hdu(f, 1, NULL, &s);
    sv_fits_write_chksum(f, &s);
    int s2 = 0;
    fits_close_file(f, &s2);
    if (s || s2) {
        return sv_fits_fail(err, SV_ERR_IO, tmp, "cannot write the report", s ? s : s2);
    }
    return 0;
}
