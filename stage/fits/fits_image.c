/* fits_image.c — see fits_image.h. */
#include "fits/fits_image.h"
#include "fits/fits_guard.h"
#include "fits/fits_error.h"

#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>
#include <wcslib/wcs.h>
#include <wcslib/wcsfix.h>
#include <wcslib/wcshdr.h>

/* ---- images ----------------------------------------------------------- */

/* Is the current HDU an image with at least two axes of data? */
static int hdu_has_image(fitsfile *fp)
{
    int status = 0, hdutype = -1, naxis = 0;
    if (fits_get_hdu_type(fp, &hdutype, &status) || hdutype != IMAGE_HDU)
        return 0;
    if (fits_get_img_dim(fp, &naxis, &status))
        return 0;
    return naxis >= 2;
}

/* Open path and move to its image HDU: the one selected by extended syntax,
 * else the primary when it has an image, else the first image extension. */
static int open_image_hdu(const char *path, fitsfile **out, long naxes[2], int *hdu_out,
                          sv_error *err)
{
    fitsfile *fp = NULL;
    int status = 0, hdu = 1, nhdu = 0, hdutype = 0, naxis = 0;
    long ax[9] = {0};
    *out = NULL;
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    if (fits_open_file(&fp, path, READONLY, &status))
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot open as a FITS image", status);
    fits_get_hdu_num(fp, &hdu);
    if (hdu == 1 && !hdu_has_image(fp)) {
        fits_get_num_hdus(fp, &nhdu, &status);
        for (int i = 2; i <= nhdu && !status; i++) {
            fits_movabs_hdu(fp, i, &hdutype, &status);
            if (!status && hdu_has_image(fp)) {
                hdu = i;
                break;
            }
        }
    }
    fits_get_hdu_type(fp, &hdutype, &status);
    if (status) {
        fits_close_file(fp, &(int){0});
        return sv_fits_fail(err, SV_ERR_IO, path, "unreadable FITS file", status);
    }
    if (hdutype != IMAGE_HDU) {
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_FORMAT, "%s: HDU %d is a table, not an image", path,
                            hdu);
    }
    if (fits_get_img_dim(fp, &naxis, &status) || naxis < 2 || naxis > 9 ||
        fits_get_img_size(fp, naxis, ax, &status)) {
        fits_close_file(fp, &(int){0});
        if (status)
            return sv_fits_fail(err, SV_ERR_IO, path, "unreadable image header", status);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no 2-D image in the file (NAXIS = %d)",
                            path, naxis);
    }
    for (int a = 2; a < naxis; a++)
        if (ax[a] != 1) {
            fits_close_file(fp, &(int){0});
            return sv_error_set(err, SV_ERR_FORMAT,
                                "%s: HDU %d is a %d-D image (NAXIS%d = %ld), not a 2-D one",
                                path, hdu, naxis, a + 1, ax[a]);
        }
    if (ax[0] < 1 || ax[1] < 1 || ax[0] > SV_IMAGE_MAX_SIDE || ax[1] > SV_IMAGE_MAX_SIDE) {
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_FORMAT, "%s: image of %ld x %ld pixels (1..%d a side)",
                            path, ax[0], ax[1], SV_IMAGE_MAX_SIDE);
    }
    naxes[0] = ax[0];
    naxes[1] = ax[1];
    *hdu_out = hdu;
    *out = fp;
    return SV_OK;
}

/* The fast path of sv_image_read for the common case: an uncompressed
 * BITPIX = -32 image without scaling in a plain FITS file named by `path`
 * itself (no extended syntax, not gzipped).  The pixels are read straight
 * into buf with pread and byte-swapped in place: what cfitsio gives for
 * such an image (IEEE NaN stays NaN), without its buffering and per-pixel
 * null checks.  Returns 1 when done, 0 when the image is not such a case
 * (the caller reads it through cfitsio), -1 on a read error. */
static int read_plain_float(const char *path, fitsfile *fp, size_t n, float *buf)
{
    int status = 0, bitpix = 0;
    if (strpbrk(path, "[]()+") || strstr(path, "://") || path[0] == '-')
        return 0;
    if (fits_get_img_type(fp, &bitpix, &status) || bitpix != FLOAT_IMG ||
        fits_is_compressed_image(fp, &status) || status)
        return 0;
    double scale = 1.0, zero = 0.0;
    if (fits_read_key(fp, TDOUBLE, "BSCALE", &scale, NULL, &status))
        status = 0, scale = 1.0;
    if (fits_read_key(fp, TDOUBLE, "BZERO", &zero, NULL, &status))
        status = 0, zero = 0.0;
    if (scale != 1.0 || zero != 0.0)
        return 0;
    LONGLONG head = 0, data = 0, end = 0;
    if (fits_get_hduaddrll(fp, &head, &data, &end, &status) || data < 0 ||
        (LONGLONG)(n * sizeof(float)) > end - data)
        return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    char magic[6];
    if (pread(fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic ||
        memcmp(magic, "SIMPLE", sizeof magic)) {
        close(fd);
        return 0;
    }
    char *dst = (char *)buf;
    size_t left = n * sizeof(float);
    off_t off = (off_t)data;
    while (left > 0) {
        size_t chunk = left < ((size_t)1 << 24) ? left : ((size_t)1 << 24);
        ssize_t got = pread(fd, dst, chunk, off);
        if (got <= 0) {
            close(fd);
            return -1;
        }
        dst += got;
        off += got;
        left -= (size_t)got;
    }
    close(fd);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t *u = (uint32_t *)buf;
    for (size_t i = 0; i < n; i++)
        u[i] = __builtin_bswap32(u[i]);
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    return 0; /* unknown byte order: cfitsio reads it */
#endif
    return 1;
}

/* sv_image_read and sv_image_read_reuse: keep (a buffer of keep_cap
 * floats, or NULL) is used for the pixels when large enough, else freed. */
static int image_read(const char *path, sv_image *img, float *keep, size_t keep_cap,
                      size_t *cap_out, sv_error *err)
{
    memset(img, 0, sizeof *img);
    if (cap_out)
        *cap_out = 0;
    if (!path || !*path) {
        free(keep);
        return sv_error_set(err, SV_ERR_ARG, "no image file name given");
    }
    fitsfile *fp = NULL;
    long naxes[2];
    int hdu = 1, status = 0;
    int st = open_image_hdu(path, &fp, naxes, &hdu, err);
    if (st) {
        free(keep);
        return st;
    }
    size_t n = (size_t)naxes[0] * (size_t)naxes[1];
    if (keep && keep_cap >= n) {
        img->data = keep;
    } else {
        free(keep);
        keep_cap = n;
        img->data = malloc(n * sizeof(float));
    }
    if (!img->data) {
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory for a %ld x %ld image", path,
                            naxes[0], naxes[1]);
    }
    float nulval = NAN;
    int anynul = 0;
    int fast = read_plain_float(path, fp, n, img->data);
    if (fast < 0) {
        fits_close_file(fp, &(int){0});
        sv_image_free(img);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot read the pixels (truncated file?)",
                            path);
    }
    /* read row blocks so that one call never exceeds cfitsio's LONGLONG
     * element counts on any platform */
    long rows_per = (long)((1L << 26) / naxes[0]);
    if (rows_per < 1)
        rows_per = 1;
    for (long y = 0; y < naxes[1] && !status && !fast; y += rows_per) {
        long nr = naxes[1] - y < rows_per ? naxes[1] - y : rows_per;
        fits_read_img(fp, TFLOAT, (LONGLONG)y * naxes[0] + 1, (LONGLONG)nr * naxes[0], &nulval,
                      img->data + (size_t)y * (size_t)naxes[0], &anynul, &status);
    }
    if (status) {
        int st = status;
        fits_close_file(fp, &(int){0});
        sv_image_free(img);
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot read the pixels (truncated file?)", st);
    }
    char *hdr = NULL;
    int nkeys = 0;
    if (fits_convert_hdr2str(fp, 0, NULL, 0, &hdr, &nkeys, &status)) {
        int st = status;
        fits_close_file(fp, &(int){0});
        sv_image_free(img);
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot read the header", st);
    }
    img->header = malloc((size_t)nkeys * 80 + 1);
    if (!img->header) {
        fits_free_memory(hdr, &status);
        fits_close_file(fp, &(int){0});
        sv_image_free(img);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(img->header, hdr, (size_t)nkeys * 80);
    img->header[(size_t)nkeys * 80] = '\0';
    img->ncards = nkeys;
    fits_free_memory(hdr, &status);
    fits_close_file(fp, &(int){0});
    img->width = (int32_t)naxes[0];
    img->height = (int32_t)naxes[1];
    img->hdu = hdu;
    if (cap_out)
        *cap_out = keep_cap;
    return SV_OK;
}

int sv_image_read(const char *path, sv_image *img, sv_error *err)
{
    if (!img)
        return sv_error_set(err, SV_ERR_ARG, "sv_image_read: no image to fill");
    return image_read(path, img, NULL, 0, NULL, err);
}

int sv_image_read_reuse(const char *path, sv_image *img, size_t *cap, sv_error *err)
{
    if (!img || !cap)
        return sv_error_set(err, SV_ERR_ARG, "sv_image_read_reuse: no image to fill");
    float *keep = img->data;
    size_t keep_cap = keep ? *cap : 0;
    free(img->header);
    img->header = NULL;
    img->data = NULL;
    return image_read(path, img, keep, keep_cap, cap, err);
}

void sv_image_free(sv_image *img)
{
    if (!img)
        return;
    free(img->data);
    free(img->header);
    memset(img, 0, sizeof *img);
}

int sv_mask_read(const char *path, uint32_t **mask, int32_t *width, int32_t *height,
                 sv_error *err)
{
    *mask = NULL;
    *width = *height = 0;
    if (!path || !*path)
        return sv_error_set(err, SV_ERR_ARG, "no mask file name given");
    fitsfile *fp;
    long naxes[2];
    int hdu, st = open_image_hdu(path, &fp, naxes, &hdu, err);
    if (st)
        return st;
    size_t n = (size_t)naxes[0] * (size_t)naxes[1];
    uint32_t *m = malloc(n * sizeof *m);
    long rows_per = (long)((1L << 20) / naxes[0]);
    if (rows_per < 1)
        rows_per = 1;
    LONGLONG *buf = malloc((size_t)rows_per * (size_t)naxes[0] * sizeof *buf);
    if (!m || !buf) {
        free(m);
        free(buf);
        fits_close_file(fp, &(int){0});
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    }
    int status = 0, anynul = 0;
    LONGLONG nulval = 0;
    for (long y = 0; y < naxes[1] && !status; y += rows_per) {
        long nr = naxes[1] - y < rows_per ? naxes[1] - y : rows_per;
        size_t cnt = (size_t)nr * (size_t)naxes[0];
        fits_read_img(fp, TLONGLONG, (LONGLONG)y * naxes[0] + 1, (LONGLONG)cnt, &nulval, buf,
                      &anynul, &status);
        for (size_t i = 0; i < cnt && !status; i++)
            m[(size_t)y * (size_t)naxes[0] + i] = (uint32_t)(uint64_t)buf[i];
    }
    free(buf);
    fits_close_file(fp, &(int){0});
    if (status) {
        free(m);
        return sv_fits_fail(err, SV_ERR_IO, path, "cannot read the mask pixels", status);
    }
    *mask = m;
    *width = (int32_t)naxes[0];
    *height = (int32_t)naxes[1];
    return SV_OK;
}

int sv_header_double(const char *header, int ncards, const char *key, double *value)
{
    size_t kl = key ? strlen(key) : 0;
    if (!header || kl == 0 || kl > 8 || !value)
        return -1;
    for (int c = 0; c < ncards; c++) {
        const char *card = header + (size_t)c * 80;
        if (strnlen(card, 80) < 80)
            return -1;
        if (strncmp(card, key, kl) || (kl < 8 && card[kl] != ' ') || strncmp(card + 8, "= ", 2))
            continue;
        char text[72];
        memcpy(text, card + 10, 70);
        text[70] = '\0';
        char *end;
        double v = strtod(text, &end);
        if (end == text || !isfinite(v))
            return -1;
        *value = v;
        return 0;
    }
    return -1;
}

int sv_header_string(const char *header, int ncards, const char *key, char *buf, size_t len)
{
    if (!header || !key || !buf || len == 0)
        return -1;
    size_t kl = strlen(key);
    if (kl == 0 || kl > 8)
        return -1;
    for (int c = 0; c < ncards; c++) {
        const char *card = header + (size_t)c * 80;
        if (strnlen(card, 80) < 80)
            return -1;
        if (strncmp(card, key, kl) || (kl < 8 && card[kl] != ' ') || strncmp(card + 8, "= ", 2))
            continue;
        const char *q = memchr(card + 10, '\'', 70);
        if (!q)
            return -1;
        size_t k = 0;
        for (const char *p = q + 1; p < card + 80; p++) {
            if (*p == '\'') {
                if (p + 1 < card + 80 && p[1] == '\'') {
                    p++;
                } else {
                    break;
                }
            }
            if (k + 1 < len)
                buf[k++] = *p;
        }
        while (k > 0 && buf[k - 1] == ' ')
            k--;
        buf[k] = '\0';
        return 0;
    }
    return -1;
}

/* ---- WCS -------------------------------------------------------------- */

struct sv_wcs {
    int nwcs;
    struct wcsprm *all;   /* as wcspih returned it                          */
    struct wcsprm *w;     /* the primary representation, wcsset done        */
};

/* wcspih's Flex scanner is not thread-safe (WCSLIB's own note). */
static pthread_mutex_t wcs_parse_lock = PTHREAD_MUTEX_INITIALIZER;

void sv_wcs_free(sv_wcs *w)
{
    if (!w)
        return;
    if (w->all)
        wcsvfree(&w->nwcs, &w->all);
    free(w);
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ')
            return 0;
    return 1;
}

/* WCSLIB sizes its arrays from NAXIS, WCSAXESa and the largest axis number
 * of any WCS keyword (CTYPE999 means 999 axes, NAXIS = 555556 a matrix of
 * 3e11 elements): an image here has 2 axes, so more than SV_WCS_MAX_AXES is
 * refused before WCSLIB sees the header. */
#define SV_WCS_MAX_AXES 9

static int wcs_axes_check(const char *header, int nkey, const char *origin, sv_error *err)
{
    static const char *const axis_keys[] = {"CTYPE", "CRPIX", "CRVAL", "CDELT", "CUNIT",
                                            "CROTA", "CRDER", "CSYER", "CNAME", NULL};
    static const char *const matrix_keys[] = {"PC", "CD", "PV", "PS", NULL};
    for (int c = 0; c < nkey; c++) {
        const char *card = header + (size_t)c * 80;
        char key[9];
        memcpy(key, card, 8);
        key[8] = '\0';
        for (int i = 7; i >= 0 && key[i] == ' '; i--)
            key[i] = '\0';
        long axis = 0;
        if (!strcmp(key, "NAXIS") || !strncmp(key, "WCSAXES", 7)) {
            long long v = 0;
            if (sv_fits_card_int(card, 1, key, &v) == 0)
                axis = v < 0 ? SV_WCS_MAX_AXES + 1 : (long)(v > 1000000 ? 1000000 : v);
        } else {
            for (int k = 0; axis_keys[k] && !axis; k++)
                if (!strncmp(key, axis_keys[k], 5) && isdigit((unsigned char)key[5]))
                    axis = strtol(key + 5, NULL, 10);
            for (int k = 0; matrix_keys[k] && !axis; k++)
                if (!strncmp(key, matrix_keys[k], 2) && isdigit((unsigned char)key[2])) {
                    char *end = NULL;
                    axis = strtol(key + 2, &end, 10);
                    /* PCi_j, CDi_j: j is an axis too; PVi_m, PSi_m: m is not */
                    if (end && *end == '_' && key[1] != 'V' && key[1] != 'S') {
                        long j = strtol(end + 1, NULL, 10);
                        if (j > axis)
                            axis = j;
                    }
                }
        }
        if (axis > SV_WCS_MAX_AXES)
            return sv_error_set(err, SV_ERR_FORMAT,
                                "%s: header card %d (%s) implies %ld WCS axes (at most %d here)",
                                origin, c + 1, key, axis, SV_WCS_MAX_AXES);
    }
    return SV_OK;
}

int sv_wcs_from_header(const char *header, int ncards, const char *origin, sv_wcs **out,
                       sv_error *err)
{
    if (!out)
        return sv_error_set(err, SV_ERR_ARG, "sv_wcs_from_header: no output pointer");
    *out = NULL;
    if (!origin)
        origin = "header";
    if (!header || ncards <= 0)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no WCS (no header)", origin);
    if (ncards > 1000000)
        return sv_error_set(err, SV_ERR_ARG, "%s: %d header cards is absurd", origin, ncards);
    /* WCSLIB's parser is not hardened: every card must pass the guard
     * (printable ASCII, balanced quotes, well-formed values) first.  The
     * text ends at a NUL; a card cut short by it is padded with blanks. */
    int nkey = 0;
    if (sv_fits_guard_header(header, ncards, origin, &nkey, err))
        return err ? err->status : SV_ERR_FORMAT;
    size_t have = strnlen(header, (size_t)ncards * 80);
    if (nkey == 0)
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no WCS (empty header)", origin);
    char *buf = malloc((size_t)nkey * 80 + 1);
    sv_wcs *w = calloc(1, sizeof *w);
    if (!buf || !w) {
        free(buf);
        free(w);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", origin);
    }
    memcpy(buf, header, have);
    memset(buf + have, ' ', (size_t)nkey * 80 - have);
    buf[(size_t)nkey * 80] = '\0';
    /* the axes of the text WCSLIB reads: a card cut short by a NUL is
     * padded, so it is checked as padded (a NAXIS cut so would pass) */
    if (wcs_axes_check(buf, nkey, origin, err)) {
        free(buf);
        free(w);
        return err ? err->status : SV_ERR_FORMAT;
    }

    int nreject = 0, st, fixstat[NWCSFIX];
    char why[256] = "";
    pthread_mutex_lock(&wcs_parse_lock);
    st = wcspih(buf, nkey, WCSHDR_all, 0, &nreject, &w->nwcs, &w->all);
    if (st == 0 && w->nwcs > 0) {
        for (int i = 0; i < w->nwcs; i++)
            if (w->all[i].alt[0] == ' ' || w->all[i].alt[0] == '\0') {
                w->w = &w->all[i];
                break;
            }
        if (w->w) {
            wcsfix(7, NULL, w->w, fixstat);
            /* celfix and spcfix run wcsset: when it failed there (a singular
             * matrix, say), do not run it again; WCSLIB 7's linset leaks
             * its matrices when called again after a failure. */
            int failed = fixstat[CELFIX] > 0 ? CELFIX : fixstat[SPCFIX] > 0 ? SPCFIX : -1;
            if (failed >= 0) {
                st = fixstat[failed];
                snprintf(why, sizeof why, "%s",
                         st < 11 ? wcsfix_errmsg[st] : "wcsfix failed");
            } else if ((st = wcsset(w->w)))
                snprintf(why, sizeof why, "%s",
                         st > 0 && st < 15 ? wcs_errmsg[st] : "wcsset failed");
        }
    } else if (st) {
        snprintf(why, sizeof why, "WCSLIB header parser status %d", st);
    }
    pthread_mutex_unlock(&wcs_parse_lock);
    free(buf);

    if (why[0]) {
        sv_wcs_free(w);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: broken WCS: %s", origin, why);
    }
    if (!w->w || w->w->naxis < 2) {
        sv_wcs_free(w);
        return sv_error_set(err, SV_ERR_FORMAT, "%s: no WCS (no CTYPE/CRVAL cards)", origin);
    }
    if (w->w->lng < 0 || w->w->lat < 0) {
        char c1[72], c2[72];
        snprintf(c1, sizeof c1, "%s", w->w->ctype[0]);
        snprintf(c2, sizeof c2, "%s", w->w->ctype[1]);
        int none = blank(c1) && blank(c2);
        sv_wcs_free(w);
        if (none)
            return sv_error_set(err, SV_ERR_FORMAT, "%s: no WCS (no CTYPE cards)", origin);
        return sv_error_set(err, SV_ERR_FORMAT,
                            "%s: broken WCS: no celestial axes (CTYPE1 = '%s', CTYPE2 = '%s')",
                            origin, c1, c2);
    }
    if (w->w->lng > 1 || w->w->lat > 1) {
        sv_wcs_free(w);
        return sv_error_set(err, SV_ERR_FORMAT,
                            "%s: broken WCS: celestial axes are not the first two image axes",
                            origin);
    }
    *out = w;
    return SV_OK;
}

/* Transform n points, one at a time through a small buffer so that a
 * failing point gives NaN for itself only. */
int sv_wcs_pix2sky(sv_wcs *w, int n, const double *x, const double *y, double *ra, double *dec)
{
    int bad = 0, naxis = w->w->naxis;
    double pix[9], img[9], wld[9], phi, theta;
    int stat;
    for (int i = 0; i < n; i++) {
        ra[i] = dec[i] = NAN;
        if (!isfinite(x[i]) || !isfinite(y[i]) || naxis > 9) {
            bad++;
            continue;
        }
        for (int a = 0; a < naxis; a++)
            pix[a] = 1.0;
        pix[0] = x[i] + 1.0;
        pix[1] = y[i] + 1.0;
        if (wcsp2s(w->w, 1, naxis, pix, img, &phi, &theta, wld, &stat) || stat) {
            bad++;
            continue;
        }
        ra[i] = wld[w->w->lng];
        dec[i] = wld[w->w->lat];
    }
    return bad;
}

int sv_wcs_sky2pix(sv_wcs *w, int n, const double *ra, const double *dec, double *x, double *y)
{
    int bad = 0, naxis = w->w->naxis;
    double pix[9], img[9], wld[9], phi, theta;
    int stat;
    for (int i = 0; i < n; i++) {
        x[i] = y[i] = NAN;
        if (!isfinite(ra[i]) || !isfinite(dec[i]) || fabs(dec[i]) > 90.0 || naxis > 9) {
            bad++;
            continue;
        }
        for (int a = 0; a < naxis; a++)
            wld[a] = w->w->crval[a];
        wld[w->w->lng] = ra[i];
        wld[w->w->lat] = dec[i];
        if (wcss2p(w->w, 1, naxis, wld, &phi, &theta, img, pix, &stat) || stat ||
            !isfinite(pix[0]) || !isfinite(pix[1])) {
            bad++;
            continue;
        }
        x[i] = pix[0] - 1.0;
        y[i] = pix[1] - 1.0;
    }
    return bad;
}

double sv_wcs_pixel_scale(sv_wcs *w, double x, double y)
{
    double px[5] = {x, x - 0.5, x + 0.5, x, x}, py[5] = {y, y, y, y - 0.5, y + 0.5};
    double ra[5], dec[5];
    if (sv_wcs_pix2sky(w, 5, px, py, ra, dec))
        return NAN;
    double c = cos(dec[0] * M_PI / 180.0);
    double tx[5], ty[5];
    for (int i = 1; i < 5; i++) {
        double d = ra[i] - ra[0];
        while (d > 180.0)
            d -= 360.0;
        while (d < -180.0)
            d += 360.0;
        tx[i] = d * c * 3600.0;
        ty[i] = (dec[i] - dec[0]) * 3600.0;
    }
    double a11 = tx[2] - tx[1], a21 = ty[2] - ty[1]; /* d/dx */
    double a12 = tx[4] - tx[3], a22 = ty[4] - ty[3]; /* d/dy */
    double det = fabs(a11 * a22 - a12 * a21);
    return det > 0 && isfinite(det) ? sqrt(det) : NAN;
}
