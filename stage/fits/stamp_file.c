/* stamp_file.c — see stamp_file.h. */
#include "fits/stamp_file.h"
#include "fits/fits_guard.h"
#include "fits/fits_error.h"

#include <stdlib.h>
#include <string.h>

#include <fitsio.h>

/* Read the stamp of an open FITS file (see sv_stamp_read); closes fp.
 * name names it in messages; header, if non-NULL, gets the image HDU's
 * header (fits_hdr2str). */
static int stamp_read_open(fitsfile *fp, const char *name, float **pix, int *h, int *w,
                           char **header, int *n_cards, sv_error *err)
{
    int status = 0, naxis = 0, hdutype = 0, nhdu = 0;
    long naxes[3] = {0, 0, 0};
    /* the primary HDU, or the first image extension holding data (a
     * compressed image lives in an extension, the primary is empty) */
    fits_get_num_hdus(fp, &nhdu, &status);
    for (int i = 1; i <= nhdu && !status; i++) {
        if (fits_movabs_hdu(fp, i, &hdutype, &status))
            break;
        if (hdutype != IMAGE_HDU)
            continue;
        if (fits_get_img_dim(fp, &naxis, &status))
            break;
        if (naxis > 0)
            break;
    }
    if (status) {
        fits_close_file(fp, &(int){0});
        return sv_fits_fail(err, SV_ERR_FORMAT, name, "unreadable FITS file", status);
    }
    if (naxis < 2 || naxis > 3 || fits_get_img_size(fp, naxis, naxes, &status)) {
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no 2-D image (NAXIS = %d)", name, naxis);
    }
    if (naxis == 3 && naxes[2] != 1) {
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_FORMAT, "%s: a %ldx%ldx%ld cube, not a 2-D stamp", name,
                            naxes[0], naxes[1], naxes[2]);
    }
    if (naxes[0] < 1 || naxes[1] < 1 || naxes[0] > SV_STAMP_DIM_MAX || naxes[1] > SV_STAMP_DIM_MAX) {
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_FORMAT, "%s: stamp of %ldx%ld pixels (1..%d each)", name,
                            naxes[0], naxes[1], SV_STAMP_DIM_MAX);
    }
    long n = naxes[0] * naxes[1];
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!buf) {
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", name);
    }
    float nulval = __builtin_nanf("");
    int anynul = 0;
    if (fits_read_img(fp, TFLOAT, 1, n, &nulval, buf, &anynul, &status)) {
        free(buf);
        fits_close_file(fp, &(int){0});
        return sv_fits_fail(err, SV_ERR_IO, name, "cannot read the image (truncated?)", status);
    }
    if (header) {
        int nk = 0;
        if (fits_hdr2str(fp, 0, NULL, 0, header, &nk, &status)) {
            free(buf);
            fits_close_file(fp, &(int){0});
            return sv_fits_fail(err, SV_ERR_FORMAT, name, "unreadable header", status);
        }
        *n_cards = nk;
    }
    fits_close_file(fp, &status);
    *pix = buf;
    *w = (int)naxes[0];
    *h = (int)naxes[1];
    return 0;
}

int sv_stamp_read(const char *path, float **pix, int *h, int *w, sv_error *err)
{
    fitsfile *fp = NULL;
    int status = 0;
    *pix = NULL;
    *h = *w = 0;
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_diskfile(&fp, path, READONLY, &status)) {
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot open as FITS", status);
    }
    return stamp_read_open(fp, path, pix, h, w, NULL, NULL, err);
}

int sv_stamp_read_memory(const void *buf, size_t len, const char *name, float **pix, int *h,
                         int *w, char **header, int *n_cards, sv_error *err)
{
    fitsfile *fp = NULL;
    int status = 0;
    *pix = NULL;
    *h = *w = 0;
    if (header) {
        *header = NULL;
        *n_cards = 0;
    }
    if (len < 2880)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: %zu bytes, shorter than one FITS block "
                            "(2880)", name, len);
    /* cfitsio's memory driver reads the caller's buffer in place: it only
     * writes or reallocates it in READWRITE mode */
    void *mem = (void *)buf;
    size_t size = len;
    if (fits_open_memfile(&fp, name, READONLY, &mem, &size, 0, NULL, &status)) {
        return sv_fits_fail(err, SV_ERR_FORMAT, name, "not a FITS file", status);
    }
    int st = stamp_read_open(fp, name, pix, h, w, header, n_cards, err);
    if (st && header && *header) {
        fits_free_memory(*header, &(int){0});
        *header = NULL;
    }
    return st;
}
