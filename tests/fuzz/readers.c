/* readers.c — see readers.h. */
#include "config.h"
#include "readers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/detections.h"
#include "data/feature_table.h"
#include "fits/fits_image.h"
#include "data/lightcurve.h"
#include "batch/manifest.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "nn/nn.h"
#include "infer/score.h"
#include "pipeline/stage_config_file.h"
#include "data/stamp_table.h"
#ifdef HAVE_HDF5
#include "model/import/keras_import.h"
#endif
#ifdef HAVE_ONNX
#include "model/import/onnx_import.h"
#endif
#ifdef HAVE_AVRO
#include "data/alert_packet.h"
#endif

/* At most this many rows of a table are read (the size checks are what
 * matter; reading a million rows would only slow the fuzzer down). */
#define MAX_ROWS 4096

static int read_det(const char *path, sv_error *err)
{
    sv_det_file *f = NULL;
    int st = sv_det_file_open(path, &f, err);
    if (st)
        return st;
    const sv_det_schema *s = sv_det_file_schema(f);
    int64_t n = sv_det_file_nrows(f);
    if (n > MAX_ROWS)
        n = MAX_ROWS;
    double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
    int64_t *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    unsigned char *raw = malloc((size_t)(n > 0 ? n : 1) * (s->rowbytes ? s->rowbytes : 1));
    if (!d || !k || !raw)
        st = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
    for (int c = 0; !st && n > 0 && c < s->ncols; c++) {
        /* a column that does not convert is refused, not fatal */
        sv_error e2 = {0};
        sv_det_file_read_double(f, c, 0, (int)n, d, &e2);
        sv_det_file_read_int64(f, c, 0, (int)n, k, &e2);
    }
    if (!st && n > 0)
        st = sv_det_file_read_raw(f, 0, (int)n, raw, err);
    free(d);
    free(k);
    free(raw);
    sv_det_file_close(f);
    return st;
}

static int read_image(const char *path, sv_error *err)
{
    sv_image img = {0};
    int st = sv_image_read(path, &img, err);
    if (!st) {
        sv_wcs *w = NULL;
        sv_error e2 = {0};
        if (!sv_wcs_from_header(img.header, img.ncards, path, &w, &e2)) {
            double x = img.width / 2.0, y = img.height / 2.0, ra, dec;
            sv_wcs_pix2sky(w, 1, &x, &y, &ra, &dec);
            sv_wcs_pixel_scale(w, x, y);
            sv_wcs_free(w);
        }
    }
    sv_image_free(&img);
    uint32_t *mask = NULL;
    int32_t mw = 0, mh = 0;
    sv_error e3 = {0};
    if (!sv_mask_read(path, &mask, &mw, &mh, &e3))
        free(mask);
    return st;
}

/* The in-memory path: the file's bytes are header text, as a host would
 * hand it over in a dia_image. */
static char *slurp(const char *path, size_t *len, sv_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        sv_error_set(err, SV_ERR_IO, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap && cap < (1u << 26)) {
            char *nb = realloc(buf, (cap *= 2) + 1);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(fp);
    if (!buf) {
        sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int read_header(const char *path, sv_error *err)
{
    size_t len = 0;
    char *text = slurp(path, &len, err);
    if (!text)
        return err ? err->status : SV_ERR_IO;
    /* ncards covers the text; the last card may be short (the NUL ends it) */
    sv_wcs *w = NULL;
    int st = sv_wcs_from_header(text, (int)((len + 79) / 80), path, &w, err);
    if (!st) {
        double x = 10, y = 20, ra, dec, px, py;
        sv_wcs_pix2sky(w, 1, &x, &y, &ra, &dec);
        sv_wcs_sky2pix(w, 1, &ra, &dec, &px, &py);
        sv_wcs_free(w);
    }
    free(text);
    return st;
}

static int read_model(const char *path, sv_error *err)
{
    sv_model *m = NULL;
    int st = sv_model_read_fits(path, &m, err);
    sv_model_free(m);
    return st;
}

#ifdef HAVE_HDF5
static int read_keras(const char *path, sv_error *err)
{
    nn_net *net = NULL;
    int st = sv_keras_import_net(path, NULL, &net, err);
    nn_net_free(net);
    return st;
}

static int read_keras_json(const char *path, sv_error *err)
{
    size_t len = 0;
    char *text = slurp(path, &len, err);
    if (!text)
        return err ? err->status : SV_ERR_IO;
    nn_net *net = NULL;
    int st = sv_keras_net_from_json(text, path, &net, err);
    nn_net_free(net);
    free(text);
    return st;
}
#endif

static int read_config(const char *path, sv_error *err)
{
    sv_kvlist list = {0};
    int st = sv_config_file_read(path, &list, err);
    sv_kvlist_free(&list);
    return st;
}

static int read_manifest(const char *path, sv_error *err)
{
    sv_manifest *m = NULL;
    int st = sv_manifest_read(path, &m, err);
    sv_manifest_free(m);
    return st;
}

static int read_features(const char *path, sv_error *err)
{
    sv_feature_table *t = NULL;
    int st = sv_feature_table_read(path, &t, err);
    if (!st)
        sv_feature_table_id_column(t);
    sv_feature_table_free(t);
    return st;
}

static int read_lightcurve(const char *path, sv_error *err)
{
    sv_lc_read_options opt = sv_lc_read_defaults();
    sv_lc_set s;
    memset(&s, 0, sizeof s);
    sv_lc_fits_is_lightcurve(path);
    int st = sv_lc_read_fits(path, &opt, &s, err);
    if (!st)
        st = sv_lc_set_index(&s, err);
    sv_lc_set_free(&s);
    return st;
}

static int read_stamptable(const char *path, sv_error *err)
{
    sv_stamp_reader *r = sv_stamp_reader_open(path, SV_STAMP_VERIFY_CHECKSUM, err);
    if (!r)
        return err && err->status ? err->status : SV_ERR_FORMAT;
    const sv_stamp_meta *meta = sv_stamp_reader_meta(r);
    sv_stamp_batch b;
    memset(&b, 0, sizeof b);
    int st = sv_stamp_batch_init(&b, 64, meta->stamp_size, err);
    long got = 0, rows = 0;
    while (!st && rows < MAX_ROWS && (got = sv_stamp_reader_next(r, &b, err)) > 0)
        rows += got;
    if (!st && got < 0)
        st = (int)got;
    sv_stamp_batch_free(&b);
    sv_stamp_reader_close(r);
    return st;
}

static int read_cutout(const char *path, sv_error *err)
{
    float *pix = NULL;
    int h = 0, w = 0;
    int st = sv_stamp_read(path, &pix, &h, &w, err);
    free(pix);
    return st;
}

#ifdef HAVE_ONNX
/* The import maps the whole graph before it checks the outputs against
 * the task: a model that is no real/bogus one is imported again as a
 * classifier, so both description paths run. */
static int read_onnx(const char *path, sv_error *err)
{
    sv_import_options opt = sv_import_options_defaults();
    opt.features = "f1,f2,f3,f4";
    sv_model *m = NULL;
    int st = sv_onnx_import(path, &opt, &m, err);
    if (st == SV_ERR_ARG) {
        sv_error_clear(err);
        opt.task = SV_TASK_CLASS;
        st = sv_onnx_import(path, &opt, &m, err);
    }
    sv_model_free(m);
    return st;
}
#endif

#ifdef HAVE_AVRO
static volatile double avro_sink; /* keeps the reads below from being dropped */

/* Every alert of a container file, each field and cutout looked at as the
 * scorer does (alert_score.c). */
static int read_avro(const char *path, sv_error *err)
{
    sv_alert_reader *r = NULL;
    int st = sv_alert_reader_new(NULL, &r, err);
    if (st)
        return st;
    sv_alert_set set;
    memset(&set, 0, sizeof set);
    st = sv_alert_read_file(r, path, &set, err);
    double sum = 0;
    for (long i = 0; i < set.n; i++) {
        const sv_alert *a = &set.alerts[i];
        sum += sv_alert_field_real(&a->candidate, "magpsf");
        for (int h = 0; h < a->n_history; h++)
            sum += sv_alert_field_real(&a->history[h], "jd");
        for (int c = 0; c < 3; c++)
            if (a->cutout[c].pix)
                sum += a->cutout[c].pix[a->cutout[c].h * a->cutout[c].w - 1];
    }
    avro_sink = sum;
    sv_alert_set_free(&set);
    sv_alert_reader_free(r);
    return st;
}
#endif

const sv_fuzz_reader sv_fuzz_readers[] = {
    {"det", ".fits", read_det},
    {"image", ".fits", read_image},
    {"header", ".hdr", read_header},
    {"cutout", ".fits", read_cutout},
    {"model", ".fits", read_model},
#ifdef HAVE_HDF5
    {"keras", ".h5", read_keras},
    {"keras_json", ".json", read_keras_json},
#endif
    {"config", ".conf", read_config},
    {"manifest", ".txt", read_manifest},
    {"features", ".csv", read_features},
    {"lightcurve", ".fits", read_lightcurve},
    {"stamptable", ".fits", read_stamptable},
#ifdef HAVE_ONNX
    {"onnx", ".onnx", read_onnx},
#endif
#ifdef HAVE_AVRO
    {"avro", ".avro", read_avro},
#endif
    {NULL, NULL, NULL},
};

const sv_fuzz_reader *sv_fuzz_reader_find(const char *name)
{
    for (const sv_fuzz_reader *r = sv_fuzz_readers; r->name; r++)
        if (!strcmp(r->name, name))
            return r;
    return NULL;
}
