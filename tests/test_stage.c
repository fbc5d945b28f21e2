/* test_stage.c — the stage through its ABI, in memory and from files: one
 * row per detection in input order, scores equal to the model run on the
 * documented stamps, flags for bad detections, errors for bad inputs
 * (naming what is wrong), threads and batches that do not change results,
 * resampling, masks, features, cancellation, and zero detections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/catalog.h"
#include "dia_host.h"
#include "fits/fits_image.h"
#include "model/model_fits.h"
#include "infer/score.h"
#include "pipeline/stage.h"
#include "pipeline/stage_plugin.h"
#include "stage_test_util.h"
#include "fits/stamps.h"
#include "data/stamp_table.h"

#define S 31
#define NW 160
#define NH 128

static char dir[256];
static char rb_path[300], cls_path[300], cls21_path[300], feat_path[300], noscale_path[300];
static char sci_path[300], ref_path[300], diff_path[300], det_path[300], out_path[300];
static st_exposure X;
static const dia_stage_descriptor *D;

/* the detections: a good one, a near-edge one, one in a corner, NaN, far
 * off the image, another good one */
#define ND 6
static int64_t det_id[ND] = {101, 102, 103, 104, 105, 106};
static double det_x[ND] = {40.3, 5.6, 160.0, NAN, 1e6, 120.5};   /* 1-based */
static double det_y[ND] = {50.8, 64.0, 128.0, 10.0, 20.0, 90.2};
static float det_mag[ND] = {18.0f, 19.0f, 20.0f, 21.0f, 22.0f, 17.5f};

static void join(char *out, const char *name)
{
    snprintf(out, 300, "%.200s/%.60s", dir, name);
}

static int group_setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/sv_test_stage_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    join(rb_path, "rb.fits");
    join(cls_path, "cls.fits");
    join(cls21_path, "cls21.fits");
    join(feat_path, "feat.fits");
    join(noscale_path, "noscale.fits");
    join(sci_path, "sci.fits");
    join(ref_path, "ref.fits");
    join(diff_path, "diff.fits");
    join(det_path, "det.fits");
    join(out_path, "out.fits");
    const char *cls[3] = {"transient", "variable", "bogus"};
    const char *feats[1] = {"magpsf"};
    if (st_write_model(rb_path, S, SV_TASK_REALBOGUS, 1, NULL, 1.0, SV_NORM_L2, 1, 0, NULL) ||
        st_write_model(cls_path, S, SV_TASK_CLASS, 3, cls, 1.0, SV_NORM_L2, 2, 0, NULL) ||
        st_write_model(cls21_path, 21, SV_TASK_CLASS, 3, cls, 1.0, SV_NORM_ZSCORE, 3, 0, NULL) ||
        st_write_model(feat_path, S, SV_TASK_REALBOGUS, 1, NULL, 1.0, SV_NORM_L2, 4, 1, feats) ||
        st_write_model(noscale_path, S, SV_TASK_REALBOGUS, 1, NULL, 0.0, SV_NORM_L2, 5, 0, NULL))
        return -1;
    double xs[4] = {39.3, 4.6, 119.5, 80.0}, ys[4] = {49.8, 63.0, 89.2, 20.0};
    double fl[4] = {5000, 4000, 3000, 6000}, rf[4] = {0, 0.5, 1.0, 0.2};
    if (st_exposure_make(&X, NW, NH, 77, 4, xs, ys, fl, rf, 1.0))
        return -1;
    for (int c = 0; c < 3; c++)
        if (st_write_image(c == 0 ? sci_path : c == 1 ? ref_path : diff_path, X.img[c], NW, NH,
                           &X, 1))
            return -1;
    double id[ND], mag[ND];
    for (int i = 0; i < ND; i++) {
        id[i] = (double)det_id[i];
        mag[i] = det_mag[i];
    }
    const char *nm[4] = {"candid", "xpos", "ypos", "magpsf"};
    const char *fm[4] = {"1K", "1D", "1D", "1E"}, *un[4] = {"", "pix", "pix", "mag"};
    const double *v[4] = {id, det_x, det_y, mag};
    if (st_write_table(det_path, ND, 4, nm, fm, un, v))
        return -1;
    dia_host_register_static("stampvet", sv_stage_descriptor);
    D = sv_stage_descriptor();
    return 0;
}

static int group_teardown(void **state)
{
    st_exposure_free(&X);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------ */

static char log_text[8192];

static void log_cb(void *user, dia_log_level level, const char *msg)
{
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof log_text - n, "[%d] %s\n", (int)level, msg);
}

static volatile int cancel_flag;

/* The number of the column named `name` in the open table (CASESEN). */
static int fcol(fitsfile *fp, const char *name)
{
    int c = 0, status = 0;
    fits_get_colnum(fp, CASESEN, (char *)name, &c, &status);
    if (status)
        fail_msg("no column %s", name);
    return c;
}

static dia_instance *make(int n, const dia_kv *kv)
{
    dia_kv all[16];
    all[0] = (dia_kv){"rb_model", rb_path};
    for (int i = 0; i < n; i++)
        all[i + 1] = kv[i];
    char err[1024] = "";
    dia_instance *inst = NULL;
    dia_host_services sv = {sizeof sv, NULL, log_cb, &cancel_flag, NULL};
    if (D->create(all, (size_t)n + 1, &sv, &inst, err, sizeof err) != DIA_OK)
        fail_msg("create: %s", err);
    return inst;
}

static dia_exposure exposure(void)
{
    dia_exposure x = {.struct_size = sizeof x, .exposure_id = "exp-1", .band = "r",
                      .mjd = 60000.25, .survey = "TEST"};
    x.science = (dia_image){X.img[0], NW, NH, 0, X.header, X.ncards};
    x.reference = (dia_image){X.img[1], NW, NH, 0, X.header, X.ncards};
    x.difference = (dia_image){X.img[2], NW, NH, 0, X.header, X.ncards};
    return x;
}

static dia_column det_cols[4];

static dia_table detections(int n)
{
    det_cols[0] = (dia_column){.name = "candid", .type = DIA_COL_INT64, .repeat = 1,
                               .data = det_id, .description = "id"};
    det_cols[1] = (dia_column){.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1,
                               .data = det_x, .unit = "pix"};
    det_cols[2] = (dia_column){.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1,
                               .data = det_y, .unit = "pix"};
    det_cols[3] = (dia_column){.name = "magpsf", .type = DIA_COL_FLOAT32, .repeat = 1,
                               .data = det_mag};
    return (dia_table){.nrows = n, .ncols = 4, .cols = det_cols};
}

static const dia_column *col(const dia_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name))
            return &t->cols[i];
    fail_msg("no column %s", name);
    return NULL;
}

static const char *meta(const dia_table *t, const char *key)
{
    for (int i = 0; i < t->nmeta; i++)
        if (!strcmp(t->meta[i].key, key))
            return t->meta[i].value;
    return NULL;
}

/* ---- in memory ---------------------------------------------------------- */

static void test_memory_rows_and_flags(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res = NULL;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_string_equal(D->last_error(inst), "");
    assert_int_equal(res->nrows, ND);
    assert_int_equal(res->ncols, 4 + 7); /* drb, drbversion, REAL, FLAGS, BADFRAC, XPIX, YPIX */
    assert_string_equal(res->cols[5].name, "drbversion");
    assert_int_equal(res->cols[5].type, DIA_COL_STRING);
    /* input columns first, copied (not the host's pointers) */
    assert_string_equal(res->cols[0].name, "candid");
    assert_ptr_not_equal(res->cols[0].data, det_id);
    assert_memory_equal(res->cols[0].data, det_id, sizeof det_id);
    assert_string_equal(res->cols[1].unit, "pix");
    assert_string_equal(res->cols[0].description, "id");
    const float *rb = col(res, "drb")->data, *bf = col(res, "BADFRAC")->data;
    const int32_t *fl = col(res, "FLAGS")->data;
    const double *xp = col(res, "XPIX")->data;
    const uint8_t *real = col(res, "REAL")->data;
    /* good */
    assert_true(isfinite(rb[0]) && rb[0] >= 0 && rb[0] <= 1);
    assert_int_equal(fl[0], 0);
    assert_float_equal(bf[0], 0, 0);
    assert_float_equal(xp[0], 40.3, 1e-12);
    assert_int_equal(real[0], rb[0] >= 0.5f);
    /* near the edge: scored and flagged */
    assert_true(isfinite(rb[1]));
    assert_int_equal(fl[1], SV_FLAG_EDGE);
    /* the last pixel (1-based 160, 128) is in the image: scored, at the edge */
    assert_true(isfinite(rb[2]));
    assert_int_equal(fl[2], SV_FLAG_EDGE);
    /* NaN position */
    assert_true(isnan(rb[3]));
    assert_int_equal(fl[3], SV_FLAG_BADCOORD);
    assert_true(isnan(bf[3]));
    assert_true(isnan(xp[3]));
    /* far off the image */
    assert_true(isnan(rb[4]));
    assert_int_equal(fl[4], SV_FLAG_OFF_IMAGE);
    assert_int_equal(real[4], 0);
    assert_true(isfinite(rb[5]));
    /* provenance */
    sv_model *m = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_model_read_fits(rb_path, &m, &err), 0);
    assert_string_equal(meta(res, "RBMCKSUM"), m->checksum);
    assert_string_equal(meta(res, "RBMODEL"), m->name);
    assert_string_equal(meta(res, "EXPID"), "exp-1");
    assert_string_equal(meta(res, "NDET"), "6");
    assert_string_equal(meta(res, "NSCORED"), "4");
    assert_string_equal(meta(res, "FLAG16"), "BADCOORD");
    assert_non_null(meta(res, "DATE"));
    assert_non_null(meta(res, "SVVERS"));
    sv_model_free(m);
    /* a second call replaces the result; the first stays valid until then */
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_int_equal(res->nrows, ND);
    D->destroy(inst);
}

/* The score is the model's on the documented stamp: centred on the pixel
 * that contains the detection, and at an edge only the in-image part,
 * padded at the end by the model's preprocessing. */
static void test_score_is_the_models(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res = NULL;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    const float *rb = col(res, "drb")->data;

    sv_model *m = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_model_read_fits(rb_path, &m, &err), 0);
    sv_scorer *sc = sv_scorer_new(m, 4, &err);
    assert_non_null(sc);
    static float st[3][S * S];
    for (int k = 0; k < 3; k++) {
        int row = k == 0 ? 0 : k == 1 ? 1 : 5;
        long cx = (long)floor(det_x[row] - 1 + 0.5), cy = (long)floor(det_y[row] - 1 + 0.5);
        long x0 = cx - S / 2, y0 = cy - S / 2;
        long xa = x0 < 0 ? 0 : x0, ya = y0 < 0 ? 0 : y0;
        long xb = x0 + S > NW ? NW : x0 + S, yb = y0 + S > NH ? NH : y0 + S;
        int w = (int)(xb - xa), h = (int)(yb - ya);
        for (int c = 0; c < 3; c++)
            for (int j = 0; j < h; j++)
                for (int i = 0; i < w; i++)
                    st[c][j * w + i] = X.img[c][(ya + j) * NW + xa + i];
        sv_triplet t = {{st[0], st[1], st[2]}, h, w};
        float score;
        assert_int_equal(sv_scorer_run(sc, 1, &t, NULL, &score, NULL, &err), 0);
        assert_memory_equal(&score, &rb[row], sizeof score);
        if (k == 1)
            assert_int_equal(w, S / 2 + 6); /* the edge case really is cut short */
    }
    sv_scorer_free(sc);
    sv_model_free(m);
    D->destroy(inst);
}

static void test_threads_and_batches(void **state)
{
    dia_kv a[2] = {{"threads", "1"}, {"batch", "1"}};
    dia_kv b[3] = {{"threads", "3"}, {"batch", "2"}, {"class_model", cls_path}};
    dia_kv c[3] = {{"threads", "1"}, {"batch", "64"}, {"class_model", cls_path}};
    dia_instance *ia = make(2, a), *ib = make(3, b), *ic = make(3, c);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *ra, *rb, *rc;
    assert_int_equal(D->process(ia, &x, &det, &ra), DIA_OK);
    assert_int_equal(D->process(ib, &x, &det, &rb), DIA_OK);
    assert_int_equal(D->process(ic, &x, &det, &rc), DIA_OK);
    assert_memory_equal(col(ra, "drb")->data, col(rb, "drb")->data, ND * sizeof(float));
    assert_memory_equal(col(rb, "P_BOGUS")->data, col(rc, "P_BOGUS")->data, ND * sizeof(float));
    assert_memory_equal(col(rb, "CLASS")->data, col(rc, "CLASS")->data,
                        (size_t)ND * col(rc, "CLASS")->repeat);
    /* probabilities sum to one; the label is their argmax */
    const float *p[3] = {col(rb, "P_TRANSIENT")->data, col(rb, "P_VARIABLE")->data,
                         col(rb, "P_BOGUS")->data};
    const char *lab = col(rb, "CLASS")->data;
    int lw = col(rb, "CLASS")->repeat;
    assert_int_equal(lw, 9);
    for (int i = 0; i < ND; i++) {
        if (i == 3 || i == 4) {
            assert_true(isnan(p[0][i]));
            assert_int_equal(lab[i * lw], '\0');
            continue;
        }
        assert_float_equal(p[0][i] + p[1][i] + p[2][i], 1.0, 1e-5);
        int best = p[1][i] > p[0][i] ? 1 : 0;
        best = p[2][i] > p[best][i] ? 2 : best;
        const char *names[3] = {"transient", "variable", "bogus"};
        assert_int_equal(strncmp(lab + i * lw, names[best], (size_t)lw), 0);
    }
    D->destroy(ia);
    D->destroy(ib);
    D->destroy(ic);
}

static void test_class_model_other_geometry(void **state)
{
    dia_kv kv[2] = {{"class_model", cls21_path}, {"save_stamps", "columns"}};
    dia_instance *inst = make(2, kv);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    const float *p0 = col(res, "P_TRANSIENT")->data;
    assert_true(isfinite(p0[0]) && isfinite(p0[1]));
    /* stamps are the real/bogus model's S x S, NaN outside the image */
    const dia_column *sci = col(res, "SCI");
    assert_int_equal(sci->repeat, S * S);
    assert_int_equal(sci->ndim, 2);
    assert_int_equal(sci->dims[0], S);
    const float *s1 = (const float *)sci->data + (size_t)1 * S * S;
    assert_true(isnan(s1[S / 2 * S + 0]));       /* left of x = 0 */
    assert_float_equal(s1[(S / 2) * S + S / 2], X.img[0][63 * NW + 5], 0); /* the centre */
    const float *s3 = (const float *)sci->data + (size_t)3 * S * S;
    assert_true(isnan(s3[0]) && isnan(s3[S * S / 2]));
    D->destroy(inst);
}

static void test_sky_positions(void **state)
{
    /* ra/dec of the detections through the exposure's WCS */
    sv_wcs *w = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_wcs_from_header(X.header, X.ncards, "x", &w, &err), 0);
    double px[ND], py[ND], ra[ND], dec[ND];
    for (int i = 0; i < ND; i++) {
        px[i] = det_x[i] - 1;
        py[i] = det_y[i] - 1;
    }
    sv_wcs_pix2sky(w, ND, px, py, ra, dec);
    sv_wcs_free(w);
    dia_column cols[3] = {
        {.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = det_id},
        {.name = "ra", .type = DIA_COL_FLOAT64, .repeat = 1, .data = ra},
        {.name = "dec", .type = DIA_COL_FLOAT64, .repeat = 1, .data = dec},
    };
    dia_table det = {.nrows = ND, .ncols = 3, .cols = cols};
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    const double *xp = col(res, "XPIX")->data, *yp = col(res, "YPIX")->data;
    for (int i = 0; i < 3; i++) {
        assert_float_equal(xp[i], det_x[i], 1e-6);
        assert_float_equal(yp[i], det_y[i], 1e-6);
    }
    assert_non_null(strstr(meta(res, "POSITION"), "sky"));
    const int32_t *fl = col(res, "FLAGS")->data;
    assert_int_equal(fl[3], SV_FLAG_BADCOORD);
    /* without a WCS, sky positions cannot be placed */
    x.science.header = x.reference.header = x.difference.header = NULL;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_null(res);
    assert_non_null(strstr(D->last_error(inst), "'ra','dec'"));
    assert_non_null(strstr(D->last_error(inst), "WCS"));
    /* a broken WCS is the same */
    static char broken[sizeof X.header];
    memcpy(broken, X.header, sizeof broken);
    memcpy(broken + 80 * 5, "CTYPE1  = 'RA---QQQ'", 20);
    x.science.header = x.reference.header = x.difference.header = broken;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    D->destroy(inst);
}

static void test_missing_wcs_with_pixels(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    x.science.header = NULL;
    x.reference.header = NULL;
    x.difference.header = NULL;
    dia_table det = detections(ND);
    const dia_table *res;
    log_text[0] = '\0';
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_non_null(strstr(log_text, "sizes only"));
    assert_int_equal(res->nrows, ND);
    D->destroy(inst);
}

static void test_grid_mismatch(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res;
    /* images of different sizes */
    x.reference.width = NW - 1;
    x.reference.stride = NW;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "reference"));
    /* a reference WCS shifted by two pixels */
    x = exposure();
    static char shifted[sizeof X.header];
    memcpy(shifted, X.header, sizeof shifted);
    char card[81];
    snprintf(card, sizeof card, "CRPIX1  = %20.6f%50s", NW / 2.0 + 2.5, "");
    memcpy(shifted + 80 * 7, card, 80);
    x.reference.header = shifted;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "grid_tolerance"));
    D->destroy(inst);
    dia_kv tol = {"grid_tolerance", "3"};
    inst = make(1, &tol);
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    D->destroy(inst);
}

static void test_missing_columns(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    det.ncols = 1; /* only candid */
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "'xpos','ypos'"));
    assert_non_null(strstr(D->last_error(inst), "detection table"));
    D->destroy(inst);
    /* an explicit mapping to a column that is not there */
    dia_kv kv[2] = {{"col_x", "X_IMAGE"}, {"coords", "pixel"}};
    inst = make(2, kv);
    det = detections(ND);
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "'X_IMAGE'"));
    D->destroy(inst);
}

static void test_zero_detections(void **state)
{
    dia_kv kv[1] = {{"class_model", cls_path}};
    dia_instance *inst = make(1, kv);
    dia_exposure x = exposure();
    dia_table det = detections(0);
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_int_equal(res->nrows, 0);
    assert_int_equal(res->ncols, 4 + 3 + 3 + 1 + 4);
    assert_string_equal(meta(res, "NDET"), "0");
    D->destroy(inst);
}

static void test_bad_arguments(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res = (const dia_table *)0x1;
    assert_int_equal(D->process(inst, NULL, &det, &res), DIA_ERR_ARGUMENT);
    assert_null(res);
    assert_int_equal(D->process(inst, &x, NULL, &res), DIA_ERR_ARGUMENT);
    x.struct_size = 8;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_ARGUMENT);
    assert_non_null(strstr(D->last_error(inst), "struct_size"));
    x = exposure();
    x.difference.data = NULL;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_ARGUMENT);
    assert_non_null(strstr(D->last_error(inst), "difference"));
    x = exposure();
    x.science.stride = 3;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_ARGUMENT);
    x = exposure();
    det_cols[1].data = NULL;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_ARGUMENT);
    assert_int_equal(D->process(inst, &x, &det, NULL), DIA_ERR_ARGUMENT);
    assert_int_equal(D->process(NULL, &x, &det, &res), DIA_ERR_ARGUMENT);
    assert_int_equal(D->process_files(inst, NULL), DIA_ERR_ARGUMENT);
    D->destroy(inst);
}

static void test_mask_and_nan(void **state)
{
    static uint32_t mask[NW * NH];
    memset(mask, 0, sizeof mask);
    /* the first detection's pixel (39, 50) masked with bit 2, a block of
     * NaN in the science image around the last one */
    mask[50 * NW + 39] = 2;
    static float sci[NW * NH];
    memcpy(sci, X.img[0], sizeof sci);
    for (int y = 80; y < 100; y++)
        for (int x = 110; x < 130; x++)
            sci[y * NW + x] = NAN;
    dia_kv kv[1] = {{"nan_frac_max", "0.1"}};
    dia_instance *inst = make(1, kv);
    dia_exposure x = exposure();
    x.science.data = sci;
    x.mask = mask;
    dia_table det = detections(ND);
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    const int32_t *fl = col(res, "FLAGS")->data;
    const float *bf = col(res, "BADFRAC")->data, *rb = col(res, "drb")->data;
    assert_int_equal(fl[0], SV_FLAG_MASKED);
    assert_float_equal(bf[0], 3.0 / (3.0 * S * S), 1e-7);
    /* the NaN block covers the last detection's own pixel too */
    assert_int_equal(fl[5], SV_FLAG_BADFRAC | SV_FLAG_BADCENTRE);
    assert_float_equal(bf[5], 400.0 / (3.0 * S * S), 1e-6);
    assert_true(isfinite(rb[5]));
    D->destroy(inst);
    /* mask_bits without bit 2: not masked */
    dia_kv kv2[1] = {{"mask_bits", "1"}};
    inst = make(1, kv2);
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    fl = col(res, "FLAGS")->data;
    assert_int_equal(fl[0], 0);
    D->destroy(inst);
}

/* A non-finite value at a detection's own pixel in any one of the three
 * images (NaN in the science or difference image, +inf in the reference)
 * flags it BADCENTRE and keeps it from REAL, in memory and from files, with
 * a class model of another stamp size, and with resampling; the other rows
 * are untouched and every input row is in the output, in order (issue 11,
 * siblings of item 3). */
static void test_bad_centre_each_image(void **state)
{
    (void)state;
    static float img[NW * NH];
    dia_kv cfgs[3][2] = {{{"rb_threshold", "0"}, {"threads", "1"}},
                         {{"rb_threshold", "0"}, {"class_model", cls21_path}},
                         {{"rb_threshold", "0"}, {"resample", "true"}}};
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 3; c++) {
            memcpy(img, X.img[c], sizeof img);
            img[50 * NW + 39] = c == 1 ? INFINITY : NAN; /* detection 0's pixel */
            dia_instance *inst = make(2, cfgs[k]);
            dia_exposure x = exposure();
            dia_image *im = c == 0 ? &x.science : c == 1 ? &x.reference : &x.difference;
            im->data = img;
            dia_table det = detections(ND);
            const dia_table *res;
            assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
            assert_int_equal(res->nrows, ND);
            const int64_t *id = col(res, "candid")->data;
            const int32_t *fl = col(res, "FLAGS")->data;
            const uint8_t *real = col(res, "REAL")->data;
            for (int i = 0; i < ND; i++)
                assert_true(id[i] == det_id[i]);
            if (!(fl[0] & SV_FLAG_BADCENTRE) || real[0])
                fail_msg("config %d, image %d: FLAGS %d REAL %d", k, c, fl[0], real[0]);
            assert_false(fl[0] & SV_FLAG_BADFRAC); /* one value of 3 x S x S */
            assert_false(fl[5] & SV_FLAG_BADCENTRE);
            assert_int_equal(real[5], 1); /* threshold 0: every clean scored row */
            D->destroy(inst);
        }
}

static void test_features(void **state)
{
    dia_kv kv[1] = {{"rb_model", feat_path}};
    char err[1024];
    dia_instance *inst = NULL;
    assert_int_equal(D->create(kv, 1, NULL, &inst, err, sizeof err), DIA_OK);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    const float *rb = col(res, "drb")->data;
    assert_true(isfinite(rb[0]));
    /* the feature changes the score */
    float keep = rb[0];
    det_mag[0] += 5;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_true(((const float *)col(res, "drb")->data)[0] != keep);
    det_mag[0] -= 5;
    det.ncols = 3; /* no magpsf */
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "'magpsf'"));
    D->destroy(inst);
}

static void test_rb_column_clash(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    det_cols[3].name = "DRB"; /* ZTF candidates carry drb: the preset's score name */
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "rb_column"));
    D->destroy(inst);
    dia_kv kv[1] = {{"rb_column", "drb_sv"}};
    inst = make(1, kv);
    det = detections(ND);
    det_cols[3].name = "drb";
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_string_equal(res->cols[4].name, "drb_sv");
    assert_string_equal(res->cols[5].name, "drb_svversion"); /* renamed with it */
    D->destroy(inst);
}

static void test_cancel(void **state)
{
    dia_instance *inst = make(0, NULL);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res = NULL;
    cancel_flag = 1;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_CANCELLED);
    assert_null(res);
    cancel_flag = 0;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    D->destroy(inst);
}

static void test_resample(void **state)
{
    /* the same sky at 0.5"/pixel, seen by a 1"/pixel model */
    double xs[1] = {100.0}, ys[1] = {80.0}, fl[1] = {20000};
    st_exposure fine;
    assert_int_equal(st_exposure_make(&fine, 200, 160, 5, 1, xs, ys, fl, NULL, 0.5), 0);
    dia_exposure x = {.struct_size = sizeof x, .mjd = NAN};
    x.science = (dia_image){fine.img[0], 200, 160, 0, fine.header, fine.ncards};
    x.reference = (dia_image){fine.img[1], 200, 160, 0, fine.header, fine.ncards};
    x.difference = (dia_image){fine.img[2], 200, 160, 0, fine.header, fine.ncards};
    int64_t id[2] = {1, 2};
    double px[2] = {101.0, 150.0}, py[2] = {81.0, 20.0};
    dia_column cols[3] = {
        {.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = id},
        {.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = px},
        {.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = py},
    };
    dia_table det = {.nrows = 2, .ncols = 3, .cols = cols};
    dia_kv kv[3] = {{"resample", "true"}, {"resample_kernel", "bilinear"},
                    {"save_stamps", "columns"}};
    dia_instance *inst = make(3, kv);
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_float_equal(strtod(meta(res, "RSSTEP"), NULL), 2.0, 1e-6);
    assert_string_equal(meta(res, "RSKERNEL"), "bilinear");
    const int32_t *f = col(res, "FLAGS")->data;
    assert_int_equal(f[0], 0);          /* 31 px at step 2 = 62 px: inside */
    assert_int_equal(f[1], SV_FLAG_EDGE); /* 20 - 30 < 0 */
    /* the stamp spans 2 image pixels per stamp pixel: the source's peak at
     * the centre, and a pixel 5 stamp pixels right samples image x + 10 */
    const float *sci = col(res, "SCI")->data;
    /* the widened triangle at step 2 on pixel centres: weights 1/4, 1/2, 1/4 */
    const double w3[3] = {0.25, 0.5, 0.25};
    for (int k = 0; k < 2; k++) {
        double want = 0;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                want += w3[dy + 1] * w3[dx + 1] * fine.img[0][(80 + dy) * 200 + 100 + 10 * k + dx];
        assert_float_equal(sci[(S / 2) * S + S / 2 + 5 * k], want, 1e-4 * fabs(want));
    }
    D->destroy(inst);
    /* no WCS: no pixel scale */
    x.science.header = x.reference.header = x.difference.header = NULL;
    inst = make(1, kv);
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "resample"));
    D->destroy(inst);
    /* a model without a pixel scale cannot be resampled to */
    dia_kv bad[2] = {{"rb_model", noscale_path}, {"resample", "1"}};
    char err[1024];
    dia_instance *no = NULL;
    assert_int_equal(D->create(bad, 2, NULL, &no, err, sizeof err), DIA_ERR_CONFIG);
    assert_non_null(strstr(err, "PIXSCALE"));
    st_exposure_free(&fine);
}

/* ---- from files ---------------------------------------------------------- */

static dia_file_job job(void)
{
    dia_file_job j = {sizeof j, sci_path, ref_path, diff_path, det_path, NULL, out_path,
                      "exp-1", 0};
    return j;
}

/* Each preset names its score as its survey does and keeps the input's
 * origin: the same table read as LSST (x/y 0-based) gives a reliability
 * column and XPIX equal to the input's x, 0-based, cut one pixel further;
 * the file path writes the same names and PIXORIG. */
static void test_preset_conventions(void **state)
{
    dia_kv kv[3] = {{"preset", "lsst"}, {"col_x", "xpos"}, {"col_y", "ypos"}};
    dia_instance *inst = make(3, kv);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    assert_string_equal(res->cols[4].name, "reliability");
    assert_string_equal(res->cols[5].name, "REAL"); /* no version column */
    const dia_column *xc = col(res, "XPIX");
    assert_non_null(strstr(xc->description, "0-based"));
    assert_float_equal(((const double *)xc->data)[0], det_x[0], 0);
    assert_string_equal(meta(res, "PIXORIG"), "0");
    assert_string_equal(meta(res, "RBCOL"), "reliability");
    dia_file_job j = job();
    j.overwrite = 1;
    assert_int_equal(D->process_files(inst, &j), DIA_OK);
    D->destroy(inst);
    fitsfile *fp;
    int status = 0, orig = -1, anynul;
    double xp[ND];
    fits_open_diskfile(&fp, out_path, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    fits_read_col(fp, TDOUBLE, fcol(fp, "XPIX"), 1, 1, ND, NULL, xp, &anynul, &status);
    fits_read_key(fp, TINT, "PIXORIG", &orig, NULL, &status);
    assert_int_equal(fcol(fp, "reliability"), 5);
    assert_int_equal(status, 0);
    fits_close_file(fp, &status);
    assert_int_equal(orig, 0);
    assert_float_equal(xp[0], det_x[0], 0);
    /* SExtractor and generic: rb, 1-based */
    const char *presets[2] = {"sextractor", "generic"};
    for (int p = 0; p < 2; p++) {
        dia_kv k2[3] = {{"preset", presets[p]}, {"col_x", "xpos"}, {"col_y", "ypos"}};
        inst = make(3, k2);
        assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
        assert_string_equal(res->cols[4].name, "rb");
        assert_string_equal(meta(res, "PIXORIG"), "1");
        assert_non_null(strstr(col(res, "XPIX")->description, "1-based"));
        D->destroy(inst);
    }
}

static void test_files_equal_memory(void **state)
{
    dia_kv kv[2] = {{"class_model", cls_path}, {"save_stamps", "extension"}};
    dia_instance *inst = make(2, kv);
    dia_file_job j = job();
    unlink(out_path);
    assert_int_equal(D->process_files(inst, &j), DIA_OK);
    dia_exposure x = exposure();
    dia_table det = detections(ND);
    const dia_table *res;
    assert_int_equal(D->process(inst, &x, &det, &res), DIA_OK);
    fitsfile *fp;
    int status = 0, anynul, ncols;
    long nrows;
    fits_open_diskfile(&fp, out_path, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    fits_get_num_rows(fp, &nrows, &status);
    fits_get_num_cols(fp, &ncols, &status);
    assert_int_equal(nrows, ND);
    assert_int_equal(ncols, 4 + 3 + 3 + 1 + 4);
    float rb[ND], p1[ND];
    long long id[ND];
    int flags[ND];
    fits_read_col(fp, TLONGLONG, 1, 1, 1, ND, NULL, id, &anynul, &status);
    fits_read_col(fp, TFLOAT, fcol(fp, "drb"), 1, 1, ND, NULL, rb, &anynul, &status);
    fits_read_col(fp, TFLOAT, fcol(fp, "P_BOGUS"), 1, 1, ND, NULL, p1, &anynul, &status);
    fits_read_col(fp, TINT, fcol(fp, "FLAGS"), 1, 1, ND, NULL, flags, &anynul, &status);
    assert_int_equal(status, 0);
    for (int i = 0; i < ND; i++)
        assert_true(id[i] == det_id[i]);
    assert_memory_equal(rb, col(res, "drb")->data, sizeof rb);
    assert_memory_equal(p1, col(res, "P_BOGUS")->data, sizeof p1);
    assert_memory_equal(flags, col(res, "FLAGS")->data, sizeof flags);
    /* one output schema: the file's own columns are the memory table's, by
     * name, place, unit and description (TCOMMn); in memory the stamps of
     * save_stamps = extension follow as columns */
    assert_int_equal(res->ncols, ncols + 3);
    for (int c = 5; c <= ncols; c++) {
        char key[FLEN_KEYWORD], v[FLEN_VALUE], u[FLEN_VALUE] = "";
        const dia_column *m = &res->cols[c - 1];
        snprintf(key, sizeof key, "TTYPE%d", c);
        fits_read_key_str(fp, key, v, NULL, &status);
        assert_string_equal(v, m->name);
        snprintf(key, sizeof key, "TCOMM%d", c);
        fits_read_key_str(fp, key, v, NULL, &status);
        assert_string_equal(v, m->description);
        snprintf(key, sizeof key, "TUNIT%d", c);
        int s2 = 0;
        fits_read_key_str(fp, key, u, NULL, &s2);
        assert_string_equal(u, m->unit ? m->unit : "");
        assert_int_equal(status, 0);
    }
    assert_string_equal(res->cols[ncols].name, "SCI");
    assert_int_equal(res->cols[ncols].repeat, S * S);
    char v[FLEN_VALUE];
    fits_read_key_str(fp, "DETFILE", v, NULL, &status);
    assert_int_equal(status, 0);
    fits_read_key_str(fp, "CLMODEL", v, NULL, &status);
    assert_string_equal(v, "test-class-31");
    int dok, hok;
    fits_verify_chksum(fp, &dok, &hok, &status);
    assert_int_equal(dok, 1);
    assert_int_equal(hok, 1);
    fits_movnam_hdu(fp, BINARY_TBL, "STAMPS", 0, &status);
    fits_get_num_rows(fp, &nrows, &status);
    assert_int_equal(status, 0);
    assert_int_equal(nrows, ND);
    fits_close_file(fp, &status);
    D->destroy(inst);
}

/* compress_stamps: the STAMPS table tile-compressed (ZTABLE), smaller,
 * checksummed, read back by the stamp reader row for row as the plain one;
 * no temporary file left; refused without save_stamps = extension */
static void test_files_compressed_stamps(void **state)
{
    (void)state;
    char plain[300], packed[300];
    join(plain, "stamps_plain.fits");
    join(packed, "stamps_packed.fits");
    for (int c = 0; c < 2; c++) {
        dia_kv kv[2] = {{"save_stamps", "extension"}, {"compress_stamps", c ? "true" : "false"}};
        dia_instance *inst = make(2, kv);
        dia_file_job j = job();
        j.output = c ? packed : plain;
        unlink(j.output);
        assert_int_equal(D->process_files(inst, &j), DIA_OK);
        D->destroy(inst);
    }
    fitsfile *fp;
    int status = 0, ztable = 0, dok = 0, hok = 0;
    fits_open_diskfile(&fp, packed, READONLY, &status);
    fits_movabs_hdu(fp, 3, NULL, &status);
    fits_read_key(fp, TLOGICAL, "ZTABLE", &ztable, NULL, &status);
    fits_verify_chksum(fp, &dok, &hok, &status);
    assert_int_equal(status, 0);
    fits_close_file(fp, &status);
    assert_true(ztable);
    assert_int_equal(dok, 1);
    assert_int_equal(hok, 1);
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_reader *r[2] = {sv_stamp_reader_open(plain, SV_STAMP_VERIFY_CHECKSUM, &err),
                             sv_stamp_reader_open(packed, SV_STAMP_VERIFY_CHECKSUM, &err)};
    if (!r[0] || !r[1])
        fail_msg("%s", err.text);
    sv_stamp_batch b[2];
    memset(b, 0, sizeof b);
    for (int c = 0; c < 2; c++) {
        assert_int_equal(sv_stamp_reader_nrows(r[c]), ND);
        assert_int_equal(sv_stamp_batch_init(&b[c], ND, S, &err), 0);
        assert_int_equal(sv_stamp_reader_read(r[c], 0, ND, &b[c], &err), ND);
    }
    size_t px = (size_t)ND * S * S * sizeof(float);
    assert_memory_equal(b[0].id, b[1].id, ND * sizeof *b[0].id);
    assert_memory_equal(b[0].sci, b[1].sci, px);
    assert_memory_equal(b[0].ref, b[1].ref, px);
    assert_memory_equal(b[0].diff, b[1].diff, px);
    assert_memory_equal(b[0].x, b[1].x, ND * sizeof *b[0].x);
    assert_memory_equal(b[0].flags, b[1].flags, ND * sizeof *b[0].flags);
    assert_int_equal(sv_stamp_reader_meta(r[1])->stamp_size, S);
    for (int c = 0; c < 2; c++) {
        sv_stamp_batch_free(&b[c]);
        sv_stamp_reader_close(r[c]);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -q svtmp", dir);
    assert_int_not_equal(system(cmd), 0);
    /* without save_stamps = extension there is nothing to compress */
    dia_kv bad[1] = {{"compress_stamps", "true"}};
    dia_kv all[2] = {{"rb_model", rb_path}, bad[0]};
    char msg[1024] = "";
    dia_instance *inst = NULL;
    dia_host_services sv = {sizeof sv, NULL, log_cb, &cancel_flag};
    assert_int_not_equal(D->create(all, 2, &sv, &inst, msg, sizeof msg), DIA_OK);
    assert_non_null(strstr(msg, "needs save_stamps = extension"));
    unlink(plain);
    unlink(packed);
}

/* more rows than one chunk: streamed, still in order */
static void test_files_many_rows(void **state)
{
    enum { N = SV_STAGE_CHUNK + 700 };
    static double id[N], x[N], y[N], mag[N];
    for (int i = 0; i < N; i++) {
        id[i] = 1000000 + i;
        x[i] = 1 + fmod(i * 7.31, NW + 20) - 10;
        y[i] = 1 + fmod(i * 3.17, NH);
        mag[i] = 18;
    }
    x[17] = NAN;
    char path[300], out[300];
    join(path, "many.fits");
    join(out, "many_out.fits");
    const char *nm[4] = {"candid", "xpos", "ypos", "magpsf"};
    const char *fm[4] = {"1K", "1D", "1D", "1E"}, *un[4] = {"", "", "", ""};
    const double *v[4] = {id, x, y, mag};
    assert_int_equal(st_write_table(path, N, 4, nm, fm, un, v), 0);
    dia_kv kv[2] = {{"threads", "2"}, {"batch", "32"}};
    dia_instance *inst = make(2, kv);
    dia_file_job j = job();
    j.detections = path;
    j.output = out;
    assert_int_equal(D->process_files(inst, &j), DIA_OK);
    fitsfile *fp;
    int status = 0, anynul;
    long nrows;
    fits_open_diskfile(&fp, out, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    fits_get_num_rows(fp, &nrows, &status);
    assert_int_equal(nrows, N);
    static long long rid[N];
    static double xp[N];
    static int fl[N];
    fits_read_col(fp, TLONGLONG, 1, 1, 1, N, NULL, rid, &anynul, &status);
    fits_read_col(fp, TDOUBLE, fcol(fp, "XPIX"), 1, 1, N, NULL, xp, &anynul, &status);
    fits_read_col(fp, TINT, fcol(fp, "FLAGS"), 1, 1, N, NULL, fl, &anynul, &status);
    assert_int_equal(status, 0);
    int off = 0;
    for (int i = 0; i < N; i++) {
        assert_true(rid[i] == 1000000 + i);
        if (i != 17)
            assert_float_equal(xp[i], x[i], 0);
        off += (fl[i] & SV_FLAG_OFF_IMAGE) != 0;
    }
    assert_int_equal(fl[17], SV_FLAG_BADCOORD);
    assert_true(off > 0);
    fits_close_file(fp, &status);
    D->destroy(inst);
}

static void test_files_zero_rows(void **state)
{
    char path[300], out[300];
    join(path, "none.fits");
    join(out, "none_out.fits");
    const char *nm[3] = {"candid", "xpos", "ypos"};
    const char *fm[3] = {"1K", "1D", "1D"}, *un[3] = {"", "", ""};
    double z[1] = {0};
    const double *v[3] = {z, z, z};
    assert_int_equal(st_write_table(path, 0, 3, nm, fm, un, v), 0);
    dia_instance *inst = make(0, NULL);
    dia_file_job j = job();
    j.detections = path;
    j.output = out;
    assert_int_equal(D->process_files(inst, &j), DIA_OK);
    fitsfile *fp;
    int status = 0, ncols;
    long nrows = -1;
    fits_open_diskfile(&fp, out, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    fits_get_num_rows(fp, &nrows, &status);
    fits_get_num_cols(fp, &ncols, &status);
    assert_int_equal(status, 0);
    assert_int_equal(nrows, 0);
    assert_int_equal(ncols, 3 + 7);
    fits_close_file(fp, &status);
    D->destroy(inst);
}

static void expect_file_error(dia_instance *inst, dia_file_job *j, dia_status want,
                              const char *needle)
{
    /* an existing output stays untouched, even when it may be replaced */
    j->overwrite = 1;
    FILE *fp = fopen(j->output, "w");
    fputs("previous", fp);
    fclose(fp);
    dia_status st = D->process_files(inst, j);
    if (st != want)
        fail_msg("status %s, wanted %s: %s", dia_status_name(st), dia_status_name(want),
                 D->last_error(inst));
    if (!strstr(D->last_error(inst), needle))
        fail_msg("'%s' does not mention '%s'", D->last_error(inst), needle);
    char buf[16] = "";
    fp = fopen(j->output, "r");
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "previous");
}

static void test_files_bad_inputs(void **state)
{
    dia_instance *inst = make(0, NULL);
    char bad[300], small[300], garbage[300], nocols[300], out[300];
    join(out, "bad_out.fits");
    /* a truncated science image */
    join(bad, "truncated.fits");
    FILE *in = fopen(sci_path, "rb"), *o = fopen(bad, "wb");
    char block[2880];
    for (int k = 0; k < 3 && fread(block, 1, sizeof block, in) == sizeof block; k++)
        fwrite(block, 1, sizeof block, o);
    fclose(in);
    fclose(o);
    dia_file_job j = job();
    j.output = out;
    j.science = bad;
    expect_file_error(inst, &j, DIA_ERR_IO, "truncated.fits");
    /* not FITS at all */
    join(garbage, "garbage.fits");
    o = fopen(garbage, "w");
    fputs("garbage", o);
    fclose(o);
    j = job();
    j.output = out;
    j.detections = garbage; /* text without a comma: no CSV either (det_text.h) */
    expect_file_error(inst, &j, DIA_ERR_FORMAT, "garbage.fits: not a detection table");
    j = job();
    j.output = out;
    j.reference = "/nonexistent/ref.fits";
    expect_file_error(inst, &j, DIA_ERR_IO, "/nonexistent/ref.fits");
    /* images of different sizes */
    join(small, "small.fits");
    assert_int_equal(st_write_image(small, X.img[1], NW - 10, NH, &X, 1), 0);
    j = job();
    j.output = out;
    j.reference = small;
    expect_file_error(inst, &j, DIA_ERR_DATA, "small.fits");
    /* a detection table without the mapped columns */
    join(nocols, "nocols.fits");
    const char *nm[2] = {"candid", "flux"};
    const char *fm[2] = {"1K", "1E"}, *un[2] = {"", ""};
    double a[2] = {1, 2};
    const double *v[2] = {a, a};
    assert_int_equal(st_write_table(nocols, 2, 2, nm, fm, un, v), 0);
    j = job();
    j.output = out;
    j.detections = nocols;
    expect_file_error(inst, &j, DIA_ERR_DATA, "nocols.fits");
    expect_file_error(inst, &j, DIA_ERR_DATA, "'xpos'");
    /* a mask of another size */
    j = job();
    j.output = out;
    j.mask = small;
    expect_file_error(inst, &j, DIA_ERR_DATA, "mask");
    /* an output folder that does not exist */
    j = job();
    j.output = "/nonexistent/dir/out.fits";
    assert_int_equal(D->process_files(inst, &j), DIA_ERR_IO);
    assert_non_null(strstr(D->last_error(inst), "/nonexistent/dir/out.fits"));
    /* no temporary file is left behind */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -c tmp > %s/count.txt", dir, dir);
    assert_int_not_equal(system(cmd), -1);
    char cpath[300];
    join(cpath, "count.txt");
    FILE *cf = fopen(cpath, "r");
    int count = -1;
    assert_int_equal(fscanf(cf, "%d", &count), 1);
    fclose(cf);
    assert_int_equal(count, 0);
    D->destroy(inst);
}

/* the whole file's bytes, for "untouched" (caller frees) */
static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*len + 1);
    assert_int_equal(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

/* process_files never writes over an input (by path, symbolic or hard
 * link, a model too) and replaces an existing output only with overwrite;
 * an ABI 1.0 job (no overwrite field) gets the safe answer (issue 11,
 * item 1). */
static void test_files_never_over_inputs(void **state)
{
    (void)state;
    dia_instance *inst = make(0, NULL);
    const char *inputs[5] = {sci_path, ref_path, diff_path, det_path, rb_path};
    char *before[5];
    long len[5];
    for (int i = 0; i < 5; i++)
        before[i] = slurp(inputs[i], &len[i]);
    char ln[300], hard[300], dotted[300], out[300];
    join(ln, "link_to_det.fits");
    join(hard, "hard_to_ref.fits");
    join(out, "guarded_out.fits");
    unlink(ln);
    unlink(hard);
    unlink(out);
    assert_int_equal(symlink(det_path, ln), 0);
    assert_int_equal(link(ref_path, hard), 0);
    snprintf(dotted, sizeof dotted, "%s/./%s", dir, strrchr(diff_path, '/') + 1);
    const char *outs[5] = {sci_path, ln, hard, dotted, rb_path};
    const char *says[5] = {"science image", "detection table", "reference image",
                           "difference image", "real/bogus model"};
    for (int k = 0; k < 5; k++) {
        dia_file_job j = job();
        j.output = outs[k];
        j.overwrite = 1;
        assert_int_equal(D->process_files(inst, &j), DIA_ERR_ARGUMENT);
        if (!strstr(D->last_error(inst), says[k]))
            fail_msg("'%s' does not name the %s", D->last_error(inst), says[k]);
    }
    for (int i = 0; i < 5; i++) {
        long n;
        char *after = slurp(inputs[i], &n);
        assert_int_equal(n, len[i]);
        assert_memory_equal(after, before[i], (size_t)n);
        free(after);
        free(before[i]);
    }
    /* an existing output: refused without overwrite, also from an ABI 1.0 host */
    dia_file_job j = job();
    j.output = out;
    assert_int_equal(D->process_files(inst, &j), DIA_OK);
    assert_int_equal(D->process_files(inst, &j), DIA_ERR_ARGUMENT);
    assert_non_null(strstr(D->last_error(inst), "exists"));
    j.struct_size = DIA_FILE_JOB_SIZE_1_0;
    j.overwrite = 1; /* beyond an ABI 1.0 struct: not read */
    assert_int_equal(D->process_files(inst, &j), DIA_ERR_ARGUMENT);
    j.struct_size = sizeof j;
    assert_int_equal(D->process_files(inst, &j), DIA_OK);
    unlink(ln);
    unlink(hard);
    unlink(out);
    D->destroy(inst);
}

/* ---- progress (ABI 1.2) ------------------------------------------------- */

typedef struct progress_log {
    int calls, monotonic;
    int64_t last_done, last_total;
} progress_log;

static void progress_cb(void *user, int64_t done, int64_t total)
{
    progress_log *p = user;
    if (p->calls && done <= p->last_done)
        p->monotonic = 0;
    if (p->calls && total != p->last_total)
        p->monotonic = 0;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

/* the host's progress callback: strictly increasing rows_done, ending at
 * rows_total = the number of detections, in memory and from files; one
 * (0, 0) call for an empty table */
static void test_progress(void **state)
{
    (void)state;
    enum { N = 2 * SV_STAGE_CHUNK + 7 };
    static int64_t id[N];
    static double x[N], y[N];
    static float mag[N];
    for (int i = 0; i < N; i++) { /* mostly off the image: cheap rows */
        id[i] = i;
        x[i] = i % 997 ? 1e6 : 40.3;
        y[i] = 50.8;
        mag[i] = 18;
    }
    dia_column c[4] = {
        {.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = id},
        {.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = x},
        {.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = y},
        {.name = "magpsf", .type = DIA_COL_FLOAT32, .repeat = 1, .data = mag}};
    dia_table det = {.nrows = N, .ncols = 4, .cols = c};
    dia_kv kv[1] = {{"rb_model", rb_path}};
    progress_log pl = {0, 1, 0, 0};
    dia_host_services sv = {sizeof sv, &pl, NULL, NULL, progress_cb};
    dia_instance *inst = NULL;
    char err[512];
    assert_int_equal(D->create(kv, 1, &sv, &inst, err, sizeof err), DIA_OK);
    dia_exposure xp = exposure();
    const dia_table *res;
    assert_int_equal(D->process(inst, &xp, &det, &res), DIA_OK);
    assert_int_equal(res->nrows, N);
    assert_int_equal(pl.calls, 3); /* three chunks */
    assert_true(pl.monotonic);
    assert_true(pl.last_done == N && pl.last_total == N);
    /* from files: the job's detection table */
    pl = (progress_log){0, 1, 0, 0};
    dia_file_job j = job();
    char po[300];
    join(po, "progress_out.fits");
    j.output = po;
    j.overwrite = 1;
    assert_int_equal(D->process_files(inst, &j), DIA_OK);
    assert_true(pl.calls >= 1 && pl.monotonic);
    assert_true(pl.last_done == ND && pl.last_total == ND);
    unlink(po);
    /* zero detections */
    pl = (progress_log){0, 1, 0, 0};
    det.nrows = 0;
    assert_int_equal(D->process(inst, &xp, &det, &res), DIA_OK);
    assert_int_equal(pl.calls, 1);
    assert_true(pl.last_done == 0 && pl.last_total == 0);
    D->destroy(inst);
}

/* a host of ABI 1.1 passes a dia_host_services without `progress`: the
 * stage reads none of it (the struct is on the heap, exactly that size, so
 * AddressSanitizer reports a read past its end) and logs as before */
static void test_progress_old_host(void **state)
{
    (void)state;
    struct services_1_1 { /* dia_host_services as ABI 1.1 declared it */
        uint32_t struct_size;
        void *user;
        void (*log)(void *user, dia_log_level level, const char *message);
        const volatile int *cancel;
    };
    assert_int_equal(sizeof(struct services_1_1), DIA_HOST_SERVICES_SIZE_1_1);
    struct services_1_1 *old = calloc(1, sizeof *old);
    assert_non_null(old);
    old->struct_size = (uint32_t)sizeof *old;
    old->log = log_cb;
    dia_kv kv[1] = {{"rb_model", rb_path}};
    dia_instance *inst = NULL;
    char err[512];
    assert_int_equal(D->create(kv, 1, (const dia_host_services *)(void *)old, &inst, err,
                               sizeof err),
                     DIA_OK);
    free(old); /* the stage keeps its own copy (dia_stage.h) */
    log_text[0] = '\0';
    dia_exposure xp = exposure();
    dia_table det = detections(ND);
    const dia_table *res;
    assert_int_equal(D->process(inst, &xp, &det, &res), DIA_OK);
    assert_int_equal(res->nrows, ND);
    assert_non_null(strstr(log_text, "[2] ")); /* the summary line, through log */
    D->destroy(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_rows_and_flags),
        cmocka_unit_test(test_score_is_the_models),
        cmocka_unit_test(test_threads_and_batches),
        cmocka_unit_test(test_class_model_other_geometry),
        cmocka_unit_test(test_sky_positions),
        cmocka_unit_test(test_missing_wcs_with_pixels),
        cmocka_unit_test(test_grid_mismatch),
        cmocka_unit_test(test_missing_columns),
        cmocka_unit_test(test_zero_detections),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_mask_and_nan),
        cmocka_unit_test(test_bad_centre_each_image),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_preset_conventions),
        cmocka_unit_test(test_rb_column_clash),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_resample),
        cmocka_unit_test(test_files_equal_memory),
        cmocka_unit_test(test_files_compressed_stamps),
        cmocka_unit_test(test_files_many_rows),
        cmocka_unit_test(test_files_zero_rows),
        cmocka_unit_test(test_files_bad_inputs),
        cmocka_unit_test(test_files_never_over_inputs),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_progress_old_host),
    };
    return cmocka_run_group_tests_name("stage", tests, group_setup, group_teardown);
}
