/* batch_test_stage.c — a second, minimal DIA stage, for testing the batch
 * engine against the ABI alone (tests/test_batch.c, tests/batch_*.sh with
 * --stage PATH).  It is a real stage, not a mock: process_files() opens the
 * three images (a corrupt or mismatched one is an error naming the file),
 * reads the difference image, copies the detection table to the output and
 * adds a SCORE column (the difference pixel under each detection's x/y,
 * times `scale`), and writes the output atomically (temporary file in the
 * same folder, checksums, rename; nothing left on failure).  Provenance in
 * the primary header: SVCFGHSH (sv_params_hash of its configuration),
 * MODELCK (the primary CHECKSUM of the `model` file, if any), DATE.
 *
 * Parameters: threads (accepted, unused), delay_ms (sleep before each
 * exposure, polling the cancel flag: makes runs long enough to interrupt),
 * scale, model (a FITS file), xcol/ycol (pixel columns, default x/y:
 * 0-based; any column named xpos/ypos or X_IMAGE/Y_IMAGE is also found).
 */
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "batch/batch.h"
#include "core/params_hash.h"
#include "dia_host.h"
#include "dia_stage.h"
#include "fits/fits_dates.h"

static const dia_param_desc params[] = {
    {"threads", DIA_PARAM_INT, "1", 1, 64, NULL, "accepted for the batch convention"},
    {"delay_ms", DIA_PARAM_INT, "0", 0, 600000, NULL, "sleep before each exposure"},
    {"scale", DIA_PARAM_REAL, "1", -1e6, 1e6, NULL, "score = difference pixel x scale"},
    {"model", DIA_PARAM_PATH, "", 0, 0, NULL, "a FITS file whose CHECKSUM is recorded"},
    {"xcol", DIA_PARAM_STRING, "x", 0, 0, NULL, "x pixel column (0-based)"},
    {"ycol", DIA_PARAM_STRING, "y", 0, 0, NULL, "y pixel column (0-based)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

struct dia_instance {
    dia_host_services host;
    int delay_ms;
    double scale;
    char xcol[72], ycol[72];
    char hash[65];
    char model_ck[FLEN_VALUE];
    char err[1024];
};

static void set_err(dia_instance *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(dia_instance *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->err, sizeof in->err, fmt, ap);
    va_end(ap);
}

static int cancelled(const dia_instance *in)
{
    return in->host.cancel && __atomic_load_n(in->host.cancel, __ATOMIC_RELAXED);
}

static dia_status t_create(const dia_kv *kv, size_t n, const dia_host_services *services,
                           dia_instance **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (dia_params_check(params, NPARAMS, kv, n, errbuf, errlen) != DIA_OK)
        return DIA_ERR_CONFIG;
    dia_instance *in = calloc(1, sizeof *in);
    if (!in)
        return DIA_ERR_NOMEM;
    if (services)
        memcpy(&in->host, services,
               services->struct_size < sizeof in->host ? services->struct_size
                                                        : sizeof in->host);
    in->delay_ms = atoi(dia_params_lookup(params, NPARAMS, kv, n, "delay_ms"));
    in->scale = strtod(dia_params_lookup(params, NPARAMS, kv, n, "scale"), NULL);
    snprintf(in->xcol, sizeof in->xcol, "%s", dia_params_lookup(params, NPARAMS, kv, n, "xcol"));
    snprintf(in->ycol, sizeof in->ycol, "%s", dia_params_lookup(params, NPARAMS, kv, n, "ycol"));
    sv_params_hash(params, NPARAMS, kv, n, in->hash);
    const char *model = dia_params_lookup(params, NPARAMS, kv, n, "model");
    if (model && *model) {
        fitsfile *f = NULL;
        int status = 0;
        char v[FLEN_VALUE];
        if (fits_open_diskfile(&f, model, READONLY, &status) ||
            fits_read_key(f, TSTRING, "CHECKSUM", v, NULL, &status)) {
            snprintf(errbuf, errlen, "batch-test: model %s: cannot read its CHECKSUM", model);
            status = 0;
            if (f)
                fits_close_file(f, &status);
            free(in);
            return DIA_ERR_IO;
        }
        snprintf(in->model_ck, sizeof in->model_ck, "%s", v);
        fits_close_file(f, &status);
    }
    *out = in;
    return DIA_OK;
}

static void t_destroy(dia_instance *in) { free(in); }

static dia_status t_process(dia_instance *in, const dia_exposure *e, const dia_table *d,
                            const dia_table **r)
{
    if (r)
        *r = NULL;
    if (in)
        set_err(in, "batch-test: only process_files is implemented");
    return DIA_ERR_UNSUPPORTED;
}

static const char *t_last_error(const dia_instance *in) { return in ? in->err : "no instance"; }

/* Open one image: 2-D, returns 0 and its size, or sets the error. */
static int open_image(dia_instance *in, const char *what, const char *path, fitsfile **f,
                      long size[2])
{
    int status = 0, naxis = 0;
    char msg[FLEN_ERRMSG];
    if (fits_open_image(f, path, READONLY, &status) ||
        fits_get_img_dim(*f, &naxis, &status) || naxis != 2 ||
        fits_get_img_size(*f, 2, size, &status)) {
        if (status)
            fits_get_errstatus(status, msg);
        else
            snprintf(msg, sizeof msg, "not a 2-D image (NAXIS=%d)", naxis);
        set_err(in, "%s image %s: %s", what, path, msg);
        status = 0;
        if (*f)
            fits_close_file(*f, &status);
        *f = NULL;
        return -1;
    }
    return 0;
}

static int find_col(fitsfile *f, const char *const *names, int *col)
{
    for (int i = 0; names[i]; i++) {
        int status = 0;
        if (fits_get_colnum(f, CASEINSEN, (char *)names[i], col, &status) == 0)
            return 1;
    }
    return 0;
}

static dia_status t_process_files(dia_instance *in, const dia_file_job *job)
{
    if (!in || !job || job->struct_size < sizeof(dia_file_job) || !job->output)
        return DIA_ERR_ARGUMENT;
    in->err[0] = '\0';
    for (int t = 0; t < in->delay_ms; t += 10) {
        if (cancelled(in)) {
            set_err(in, "cancelled before %s", job->output);
            return DIA_ERR_CANCELLED;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fitsfile *img[3] = {NULL, NULL, NULL}, *det = NULL, *out = NULL;
    const char *what[3] = {"science", "reference", "difference"};
    const char *path[3] = {job->science, job->reference, job->difference};
    long size[3][2];
    float *diff = NULL;
    dia_status rc = DIA_OK;
    int status = 0;
    char msg[FLEN_ERRMSG], tmp[4200] = "";
    for (int i = 0; i < 3; i++)
        if (open_image(in, what[i], path[i], &img[i], size[i])) {
            rc = DIA_ERR_FORMAT;
            goto done;
        }
    for (int i = 1; i < 3; i++)
        if (size[i][0] != size[0][0] || size[i][1] != size[0][1]) {
            set_err(in, "%s image %s is %ldx%ld, the science image %ldx%ld", what[i], path[i],
                    size[i][0], size[i][1], size[0][0], size[0][1]);
            rc = DIA_ERR_DATA;
            goto done;
        }
    long w = size[0][0], h = size[0][1];
    diff = malloc((size_t)(w * h) * sizeof *diff);
    if (!diff) {
        rc = DIA_ERR_NOMEM;
        goto done;
    }
    float nanv = NAN;
    int anynul = 0;
    if (fits_read_img(img[2], TFLOAT, 1, w * h, &nanv, diff, &anynul, &status)) {
        fits_get_errstatus(status, msg);
        set_err(in, "difference image %s: %s", job->difference, msg);
        rc = DIA_ERR_FORMAT;
        goto done;
    }
    if (fits_open_table(&det, job->detections, READONLY, &status)) {
        fits_get_errstatus(status, msg);
        set_err(in, "detections %s: %s", job->detections, msg);
        rc = DIA_ERR_FORMAT;
        goto done;
    }
    const char *xn[] = {in->xcol, "xpos", "X_IMAGE", NULL};
    const char *yn[] = {in->ycol, "ypos", "Y_IMAGE", NULL};
    int xc = 0, yc = 0;
    if (!find_col(det, xn, &xc) || !find_col(det, yn, &yc)) {
        set_err(in, "detections %s: no '%s'/'%s' columns", job->detections, in->xcol,
                in->ycol);
        rc = DIA_ERR_DATA;
        goto done;
    }
    sv_atomic_file af; /* the project's temporary-file pattern (atomic_file.h) */
    sv_error aerr;
    sv_error_clear(&aerr);
    if (sv_atomic_begin_name(&af, job->output, &aerr)) {
        set_err(in, "%s", aerr.text);
        rc = DIA_ERR_IO;
        goto done;
    }
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    if (fits_create_diskfile(&out, tmp, &status)) {
        fits_get_errstatus(status, msg);
        set_err(in, "output %s: cannot create %s: %s", job->output, tmp, msg);
        tmp[0] = '\0';
        rc = DIA_ERR_IO;
        goto done;
    }
    fits_create_img(out, BYTE_IMG, 0, NULL, &status);
    fits_write_key_str(out, "STAGE", "batch-test", "the batch engine's test stage", &status);
    fits_write_key_str(out, "SVCFGHSH", in->hash, "configuration hash", &status);
    if (in->model_ck[0])
        fits_write_key_str(out, "MODELCK", in->model_ck, "model CHECKSUM", &status);
    if (job->exposure_id)
        fits_write_key_str(out, "EXPID", job->exposure_id, "exposure", &status);
    sv_fits_write_date(out, &status); /* fits_write_date: gmtime(), not thread-safe */
    fits_copy_hdu(det, out, 0, &status);
    int ncols = 0;
    long nrows = 0;
    fits_get_num_cols(out, &ncols, &status);
    fits_get_num_rows(out, &nrows, &status);
    fits_insert_col(out, ncols + 1, "SCORE", "1E", &status);
    for (long r = 1; r <= nrows && !status; r++) {
        double x = 0, y = 0;
        float s = NAN;
        fits_read_col(det, TDOUBLE, xc, r, 1, 1, NULL, &x, &anynul, &status);
        fits_read_col(det, TDOUBLE, yc, r, 1, 1, NULL, &y, &anynul, &status);
        long ix = lround(x), iy = lround(y);
        if (isfinite(x) && isfinite(y) && ix >= 0 && iy >= 0 && ix < w && iy < h)
            s = (float)(diff[iy * w + ix] * in->scale);
        fits_write_col(out, TFLOAT, ncols + 1, r, 1, 1, &s, &status);
        if (cancelled(in))
            break;
    }
    if (!status && cancelled(in)) {
        set_err(in, "cancelled while writing %s", job->output);
        rc = DIA_ERR_CANCELLED;
        goto done;
    }
    int hdutype;
    fits_movabs_hdu(out, 1, &hdutype, &status);
    sv_fits_write_chksum(out, &status);
    fits_movabs_hdu(out, 2, &hdutype, &status);
    sv_fits_write_chksum(out, &status);
    if (status) {
        fits_get_errstatus(status, msg);
        set_err(in, "output %s: %s", job->output, msg);
        rc = DIA_ERR_IO;
        goto done;
    }
    fits_close_file(out, &status);
    out = NULL;
    if (status) {
        fits_get_errstatus(status, msg);
        set_err(in, "output %s: %s (%s)", job->output, msg, strerror(errno));
        rc = DIA_ERR_IO;
        goto done;
    }
    tmp[0] = '\0'; /* the commit removes it when it fails */
    if (sv_atomic_commit(&af, &aerr)) {
        set_err(in, "output %s", aerr.text);
        rc = DIA_ERR_IO;
        goto done;
    }
done:
    status = 0;
    for (int i = 0; i < 3; i++)
        if (img[i])
            fits_close_file(img[i], &status);
    status = 0;
    if (det)
        fits_close_file(det, &status);
    status = 0;
    if (out)
        fits_close_file(out, &status);
    if (tmp[0])
        unlink(tmp);
    free(diff);
    return rc;
}

static const dia_stage_descriptor descriptor = {
    .abi_major = DIA_ABI_MAJOR,
    .abi_minor = DIA_ABI_MINOR,
    .struct_size = sizeof(dia_stage_descriptor),
    .name = "batch-test",
    .version = "1",
    .description = "Copies the detections with the difference pixel under each: a "
                   "second stage for the batch engine's tests.",
    .params = params,
    .n_params = NPARAMS,
    .create = t_create,
    .destroy = t_destroy,
    .process = t_process,
    .process_files = t_process_files,
    .last_error = t_last_error,
};

DIA_EXPORT const dia_stage_descriptor *dia_stage_entry(void) { return &descriptor; }
