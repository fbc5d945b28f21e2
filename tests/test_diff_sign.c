/* test_diff_sign.c — the detection's sign (col_sign) and diff_positive:
 * ZTF shows a negative detection (isdiffpos = 'f') with its difference
 * inverted, and braai was trained on such cutouts; the stage does the
 * same for a host that hands it sci - ref.
 *
 *  - the sign of a value: text t/f, true/false, 1/0 (case, blanks), a
 *    logical, a number; unreadable values;
 *  - the column plan: the preset's column when present, a named one that
 *    must exist (the error names table and column), none, a vector column;
 *  - the stage on a simulated exposure, in memory and from files (a text,
 *    a FITS logical and a numeric column): a negative row's DIFF stamp is
 *    exactly minus a positive row's at the same place, its score that of
 *    the inverted stamp; an unreadable sign is flagged BADSIGN and scored
 *    as positive; diff_positive = no / auto without a sign column never
 *    invert; yes without one warns; the provenance cards;
 *  - REAL DATA: every 'f' alert of $SV_FIXTURES/ztf-alerts-dev as a host
 *    would hand it (sci, ref, diff = -(ZTF's diff cutout), a one-row ztf
 *    table with isdiffpos = 'f' at the cutout centre), scored by the stage
 *    with the shipped braai d6_m7, in memory and from files, must give
 *    ZTF's drb to 1e-5 (the tolerance of braai_drb.sh) on every alert not
 *    marked known_mismatch; with diff_positive = no some must differ.
 *    Skips that part visibly without the fixtures. */
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

#include "dia_host.h"
#include "fits/stamp_file.h"
#include "fits/stamps.h"
#include "pipeline/detections.h"
#include "pipeline/stage.h"
#include "pipeline/stage_plugin.h"
#include "pipeline/stage_params.h"
#include "stage_test_util.h"

#define S 31
#define NW 96
#define NH 80

static char dir[256];
static char rb_path[300], cls_path[300];
static st_exposure X;
static const dia_stage_descriptor *D;

static void join(char *out, const char *name)
{
    snprintf(out, 300, "%.200s/%.60s", dir, name);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/sv_test_diff_sign_XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    join(rb_path, "rb.fits");
    join(cls_path, "cls.fits");
    const char *cls[3] = {"transient", "variable", "bogus"};
    if (st_write_model(rb_path, S, SV_TASK_REALBOGUS, 1, NULL, 1.0, SV_NORM_L2, 11, 0, NULL) ||
        st_write_model(cls_path, S, SV_TASK_CLASS, 3, cls, 1.0, SV_NORM_L2, 12, 0, NULL))
        return -1;
    /* one source fainter in sci than in ref (a negative detection) */
    double xs[1] = {47.0}, ys[1] = {39.0}, fl[1] = {3000}, rf[1] = {2.5};
    if (st_exposure_make(&X, NW, NH, 5, 1, xs, ys, fl, rf, 1.0))
        return -1;
    dia_host_register_static("stampvet", sv_stage_descriptor);
    D = sv_stage_descriptor();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    st_exposure_free(&X);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char log_text[8192];

static void log_cb(void *user, dia_log_level level, const char *msg)
{
    (void)user;
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof log_text - n, "[%d] %s\n", (int)level, msg);
}

/* an instance of the stage with kv (rb_model first when model is set) */
static dia_instance *make(const char *model, int n, const dia_kv *kv)
{
    dia_kv all[16];
    int k = 0;
    if (model)
        all[k++] = (dia_kv){"rb_model", model};
    for (int i = 0; i < n; i++)
        all[k++] = kv[i];
    char err[1024] = "";
    dia_instance *inst = NULL;
    dia_host_services sv = {sizeof sv, NULL, log_cb, NULL, NULL};
    if (D->create(all, (size_t)k, &sv, &inst, err, sizeof err) != DIA_OK)
        fail_msg("create: %s", err);
    return inst;
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

/* ---- the sign of a value ------------------------------------------------ */

static void test_sign_values(void **state)
{
    (void)state;
    const char *pos[] = {"t", "T", "1", "true", "TRUE", "True", " t ", "\ttrue"};
    const char *neg[] = {"f", "F", "0", "false", "FALSE", "False", "f  "};
    const char *bad[] = {"", " ", "x", "tr", "yes", "no", "2", "-1", "ff", "t f", "?", "+"};
    for (size_t i = 0; i < sizeof pos / sizeof *pos; i++)
        assert_int_equal(sv_det_sign_text(pos[i]), 1);
    for (size_t i = 0; i < sizeof neg / sizeof *neg; i++)
        assert_int_equal(sv_det_sign_text(neg[i]), -1);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (sv_det_sign_text(bad[i]) != 0)
            fail_msg("'%s' read as a sign", bad[i]);
    }
    assert_int_equal(sv_det_sign_text(NULL), 0);
    assert_int_equal(sv_det_sign_number(1), 1);
    assert_int_equal(sv_det_sign_number(12.5), 1);
    assert_int_equal(sv_det_sign_number(1e-30), 1);
    assert_int_equal(sv_det_sign_number(INFINITY), 1);
    assert_int_equal(sv_det_sign_number(0), -1);
    assert_int_equal(sv_det_sign_number(-3.2), -1);
    assert_int_equal(sv_det_sign_number(-INFINITY), -1);
    assert_int_equal(sv_det_sign_number(NAN), 0);
    /* the flag is documented, and no other flag's bit */
    int found = 0;
    for (int b = 0; b < SV_N_FLAGS; b++) {
        found += sv_flag_docs[b].bit == SV_FLAG_BADSIGN && !strcmp(sv_flag_docs[b].name, "BADSIGN");
        for (int c = 0; c < b; c++)
            assert_true(sv_flag_docs[c].bit != sv_flag_docs[b].bit);
    }
    assert_int_equal(found, 1);
}

/* ---- the column plan ---------------------------------------------------- */

static int plan_of(const char *preset, const char *col_sign, const dia_table *t, sv_det_plan *p,
                   sv_error *err)
{
    dia_kv kv[2] = {{"preset", preset}, {"col_sign", col_sign}};
    sv_stage_config cfg;
    sv_error_clear(err);
    assert_int_equal(sv_stage_config_parse(kv, col_sign ? 2 : 1, &cfg, err), 0);
    sv_det_map map;
    assert_int_equal(sv_det_map_from_config(&cfg, &map, err), 0);
    sv_col_source src = sv_table_source(t, "cands");
    return sv_det_plan_make(&map, &src, 0, NULL, p, err);
}

static void test_sign_plan(void **state)
{
    (void)state;
    double xv[2] = {10, 20};
    char sv[2] = {'t', 'f'};
    float flux[2] = {1, -1};
    float vec[4] = {0};
    dia_column c[5] = {
        {.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = xv},
        {.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = xv},
        {.name = "ISDIFFPOS", .type = DIA_COL_STRING, .repeat = 1, .data = sv},
        {.name = "flux", .type = DIA_COL_FLOAT32, .repeat = 1, .data = flux},
        {.name = "vec", .type = DIA_COL_FLOAT32, .repeat = 2, .data = vec},
    };
    dia_table t = {.nrows = 2, .ncols = 5, .cols = c};
    dia_table t_nosign = {.nrows = 2, .ncols = 2, .cols = c};
    sv_det_plan p;
    sv_error err;
    /* ztf: isdiffpos (case-insensitive), text */
    assert_int_equal(plan_of("ztf", NULL, &t, &p, &err), 0);
    assert_int_equal(p.col_sign, 2);
    assert_int_equal(p.sign_kind, SV_COL_TEXT);
    /* ztf without the column: no sign, no error */
    assert_int_equal(plan_of("ztf", NULL, &t_nosign, &p, &err), 0);
    assert_int_equal(p.col_sign, -1);
    /* none: not used even when present */
    assert_int_equal(plan_of("ztf", "none", &t, &p, &err), 0);
    assert_int_equal(p.col_sign, -1);
    /* the other presets: none unless named */
    const char *others[3] = {"sextractor", "lsst", "generic"};
    for (int k = 0; k < 3; k++) {
        sv_det_map map;
        assert_int_equal(sv_det_map_preset(others[k], &map), 0);
        assert_string_equal(map.sign, "");
    }
    sv_det_map map;
    assert_int_equal(sv_det_map_preset("ztf", &map), 0);
    assert_string_equal(map.sign, "isdiffpos");
    /* a named numeric column */
    assert_int_equal(plan_of("ztf", "flux", &t, &p, &err), 0);
    assert_int_equal(p.col_sign, 3);
    assert_int_equal(p.sign_kind, 0);
    /* a named column that is missing: an error naming table and column */
    assert_int_equal(plan_of("ztf", "snr", &t, &p, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "cands"));
    assert_non_null(strstr(err.text, "'snr'"));
    assert_non_null(strstr(err.text, "col_sign"));
    /* a vector column: an error */
    assert_int_equal(plan_of("ztf", "vec", &t, &p, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "'vec'"));
    /* a bad diff_positive value: refused by the parameter table */
    dia_kv bad[1] = {{"diff_positive", "maybe"}};
    sv_stage_config cfg;
    assert_int_equal(sv_stage_config_parse(bad, 1, &cfg, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "diff_positive"));
    dia_kv good[1] = {{"diff_positive", "yes"}};
    assert_int_equal(sv_stage_config_parse(good, 1, &cfg, &err), 0);
    assert_string_equal(cfg.diff_positive, "yes");
    assert_int_equal(sv_stage_config_parse(NULL, 0, &cfg, &err), 0);
    assert_string_equal(cfg.diff_positive, "auto");
    assert_string_equal(cfg.col_sign, "");
}

/* ---- the stage on a simulated exposure ---------------------------------- */

/* rows at one place, with these isdiffpos texts (width 8) */
#define NR 12
static const char *sign_txt[NR] = {"t", "f", "T", "F", "1", "0", "true", "false", "x", "",
                                   "FALSE", "maybe"};
/* what they mean: +1, -1, 0 unreadable */
static const int sign_val[NR] = {1, -1, 1, -1, 1, -1, 1, -1, 0, 0, -1, 0};
static int64_t r_id[NR];
static double r_x[NR], r_y[NR];
static char r_sign[NR * 8];
static float r_flux[NR];
static dia_column r_cols[5];

static dia_table sign_table(const char *sign_name, int numeric)
{
    for (int i = 0; i < NR; i++) {
        r_id[i] = 1000 + i;
        r_x[i] = 48.0; /* the source, 1-based */
        r_y[i] = 40.0;
        memset(r_sign + 8 * i, ' ', 8);
        memcpy(r_sign + 8 * i, sign_txt[i], strlen(sign_txt[i]));
        r_flux[i] = sign_val[i] > 0 ? 120.0f * (float)(i + 1) : sign_val[i] < 0 ? -7.5f * (float)i
                                                                                   : NAN;
    }
    r_cols[0] = (dia_column){.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = r_id};
    r_cols[1] = (dia_column){.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = r_x};
    r_cols[2] = (dia_column){.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = r_y};
    r_cols[3] = numeric ? (dia_column){.name = sign_name, .type = DIA_COL_FLOAT32, .repeat = 1,
                                       .data = r_flux}
                        : (dia_column){.name = sign_name, .type = DIA_COL_STRING, .repeat = 8,
                                       .data = r_sign};
    return (dia_table){.nrows = NR, .ncols = 4, .cols = r_cols};
}

static dia_exposure exposure(void)
{
    dia_exposure x = {.struct_size = sizeof x, .exposure_id = "exp-sign", .mjd = NAN};
    x.science = (dia_image){X.img[0], NW, NH, 0, X.header, X.ncards};
    x.reference = (dia_image){X.img[1], NW, NH, 0, X.header, X.ncards};
    x.difference = (dia_image){X.img[2], NW, NH, 0, X.header, X.ncards};
    return x;
}

/* Check a result of sign_table's rows: with invert, negative rows' DIFF
 * stamps are minus the positive rows' (SCI, REF equal) and their scores
 * equal among themselves and differ from the positive ones; unreadable
 * ones are BADSIGN and positive.  Without, every row is the first. */
static void check_rows(const dia_table *res, int invert, int flags_expected)
{
    const float *rb = col(res, "drb")->data;
    const int32_t *fl = col(res, "FLAGS")->data;
    const float *st[3] = {col(res, "SCI")->data, col(res, "REF")->data, col(res, "DIFF")->data};
    const size_t SS = (size_t)S * S;
    float pos = rb[0], negv = NAN;
    for (int i = 0; i < NR; i++) {
        int neg = invert && sign_val[i] < 0;
        assert_true(isfinite(rb[i]));
        assert_int_equal((fl[i] & SV_FLAG_BADSIGN) != 0, flags_expected && sign_val[i] == 0);
        for (int c = 0; c < 2; c++)
            assert_memory_equal(st[c] + i * SS, st[c], SS * sizeof(float));
        for (size_t p = 0; p < SS; p++) {
            float a = st[2][i * SS + p], b = st[2][p];
            if (neg)
                assert_true(a == -b);
            else
                assert_true(a == b);
        }
        if (neg) {
            if (isnan(negv))
                negv = rb[i];
            assert_true(rb[i] == negv);
        } else {
            assert_true(rb[i] == pos);
        }
    }
    if (invert)
        assert_true(fabsf(negv - pos) > 1e-6f); /* the model sees the inverted stamp */
}

static void test_stage_memory(void **state)
{
    (void)state;
    dia_exposure x = exposure();
    const dia_table *res;
    /* ztf preset, isdiffpos text: auto inverts */
    dia_kv kv[2] = {{"save_stamps", "columns"}, {"class_model", cls_path}};
    dia_instance *inst = make(rb_path, 2, kv);
    dia_table t = sign_table("isdiffpos", 0);
    log_text[0] = 0;
    assert_int_equal(D->process(inst, &x, &t, &res), DIA_OK);
    assert_int_equal(res->nrows, NR);
    check_rows(res, 1, 1);
    assert_string_equal(meta(res, "DIFFPOS"), "T");
    assert_string_equal(meta(res, "SIGNCOL"), "isdiffpos");
    assert_string_equal(meta(res, "NINVERT"), "5");
    assert_string_equal(meta(res, "FLAG128"), "BADSIGN");
    assert_non_null(strstr(log_text, "bad sign 3)"));
    assert_non_null(strstr(log_text, "5 negative with DIFF inverted"));
    /* the class model sees the inverted stamp too: negative rows equal */
    const float *pt = col(res, "P_TRANSIENT")->data;
    assert_true(pt[1] == pt[3] && pt[1] == pt[5]);
    assert_true(pt[0] == pt[2] && pt[0] == pt[8]);
    D->destroy(inst);

    /* diff_positive = no: nothing inverted, no flags (signs not read) */
    dia_kv kno[2] = {{"save_stamps", "columns"}, {"diff_positive", "no"}};
    inst = make(rb_path, 2, kno);
    assert_int_equal(D->process(inst, &x, &t, &res), DIA_OK);
    check_rows(res, 0, 0);
    assert_string_equal(meta(res, "DIFFPOS"), "F");
    assert_null(meta(res, "SIGNCOL"));
    assert_string_equal(meta(res, "NINVERT"), "0");
    D->destroy(inst);

    /* a numeric column named by col_sign (generic preset): > 0 positive,
     * NaN unreadable */
    dia_kv knum[4] = {{"save_stamps", "columns"}, {"preset", "generic"}, {"col_sign", "flux"},
                      {"rb_column", "drb"}};
    dia_kv kxy[2] = {{"col_x", "xpos"}, {"col_y", "ypos"}};
    dia_kv all[6] = {knum[0], knum[1], knum[2], knum[3], kxy[0], kxy[1]};
    inst = make(rb_path, 6, all);
    dia_table tn = sign_table("flux", 1);
    assert_int_equal(D->process(inst, &x, &tn, &res), DIA_OK);
    check_rows(res, 1, 1);
    assert_string_equal(meta(res, "SIGNCOL"), "flux");
    D->destroy(inst);

    /* sextractor-like (generic) without col_sign: auto does not invert,
     * though the table has an isdiffpos column */
    dia_kv kgen[5] = {{"save_stamps", "columns"}, {"preset", "generic"}, {"rb_column", "drb"},
                      {"col_x", "xpos"}, {"col_y", "ypos"}};
    inst = make(rb_path, 5, kgen);
    assert_int_equal(D->process(inst, &x, &t, &res), DIA_OK);
    check_rows(res, 0, 0);
    assert_string_equal(meta(res, "DIFFPOS"), "F");
    D->destroy(inst);

    /* yes without a sign column: a warning, nothing inverted */
    dia_kv kyes[6] = {{"save_stamps", "columns"}, {"preset", "generic"}, {"rb_column", "drb"},
                      {"col_x", "xpos"}, {"col_y", "ypos"}, {"diff_positive", "yes"}};
    inst = make(rb_path, 6, kyes);
    log_text[0] = 0;
    assert_int_equal(D->process(inst, &x, &t, &res), DIA_OK);
    check_rows(res, 0, 0);
    assert_non_null(strstr(log_text, "no sign column"));
    D->destroy(inst);

    /* col_sign naming a missing column: process fails naming it */
    dia_kv kmiss[1] = {{"col_sign", "snr"}};
    inst = make(rb_path, 1, kmiss);
    assert_int_equal(D->process(inst, &x, &t, &res), DIA_ERR_DATA);
    assert_non_null(strstr(D->last_error(inst), "detection table"));
    assert_non_null(strstr(D->last_error(inst), "'snr'"));
    D->destroy(inst);
}

/* From files: the same rows as a FITS table with a text column and with a
 * logical column (null = unreadable); STAMPS as the in-memory stamps. */
static void test_stage_files(void **state)
{
    (void)state;
    char sci[300], ref[300], diff[300], det[300], detl[300], out[300], out2[300];
    join(sci, "sci.fits");
    join(ref, "ref.fits");
    join(diff, "diff.fits");
    join(det, "det.fits");
    join(detl, "detl.fits");
    join(out, "out.fits");
    join(out2, "out2.fits");
    const char *ip[3] = {sci, ref, diff};
    for (int c = 0; c < 3; c++)
        assert_int_equal(st_write_image(ip[c], X.img[c], NW, NH, &X, 1), 0);
    dia_table t = sign_table("isdiffpos", 0);
    for (int logical = 0; logical < 2; logical++) {
        fitsfile *fp;
        int status = 0;
        char name[320];
        snprintf(name, sizeof name, "!%s", logical ? detl : det);
        const char *nm[4] = {"candid", "xpos", "ypos", "isdiffpos"};
        const char *fm[4] = {"1K", "1D", "1D", logical ? "1L" : "8A"};
        fits_create_file(&fp, name, &status);
        fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
        fits_create_tbl(fp, BINARY_TBL, 0, 4, (char **)nm, (char **)fm, NULL, "CANDS", &status);
        fits_write_col(fp, TLONGLONG, 1, 1, 1, NR, r_id, &status);
        fits_write_col(fp, TDOUBLE, 2, 1, 1, NR, r_x, &status);
        fits_write_col(fp, TDOUBLE, 3, 1, 1, NR, r_y, &status);
        if (logical) {
            for (int i = 0; i < NR; i++) {
                if (sign_val[i]) {
                    char v = sign_val[i] > 0;
                    fits_write_col(fp, TLOGICAL, 4, i + 1, 1, 1, &v, &status);
                } else {
                    fits_write_col_null(fp, 4, i + 1, 1, 1, &status);
                }
            }
        } else {
            char *sp[NR];
            char buf[NR][9];
            for (int i = 0; i < NR; i++) {
                snprintf(buf[i], 9, "%s", sign_txt[i]);
                sp[i] = buf[i];
            }
            fits_write_col(fp, TSTRING, 4, 1, 1, NR, sp, &status);
        }
        fits_close_file(fp, &status);
        assert_int_equal(status, 0);
        dia_kv kv[1] = {{"save_stamps", "columns"}};
        dia_instance *inst = make(rb_path, 1, kv);
        dia_file_job j = {sizeof j, sci, ref, diff, logical ? detl : det, NULL,
                          logical ? out2 : out, "exp", 1};
        assert_int_equal(D->process_files(inst, &j), DIA_OK);
        /* the memory result, for the text table */
        dia_exposure x = exposure();
        const dia_table *res;
        assert_int_equal(D->process(inst, &x, &t, &res), DIA_OK);
        check_rows(res, 1, 1);
        const float *rbm = col(res, "drb")->data;
        const int32_t *flm = col(res, "FLAGS")->data;
        float rb[NR];
        int fl[NR], anynul, c, ninv = -1;
        char v[FLEN_VALUE] = "";
        fits_open_diskfile(&fp, logical ? out2 : out, READONLY, &status);
        fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
        fits_get_colnum(fp, CASESEN, "drb", &c, &status);
        fits_read_col(fp, TFLOAT, c, 1, 1, NR, NULL, rb, &anynul, &status);
        fits_get_colnum(fp, CASESEN, "FLAGS", &c, &status);
        fits_read_col(fp, TINT, c, 1, 1, NR, NULL, fl, &anynul, &status);
        fits_read_key(fp, TSTRING, "SIGNCOL", v, NULL, &status);
        int dp = 0;
        fits_read_key(fp, TLOGICAL, "DIFFPOS", &dp, NULL, &status);
        fits_read_key(fp, TINT, "NINVERT", &ninv, NULL, &status);
        /* the DIFF stamps, as in memory */
        const size_t SS = (size_t)S * S;
        float *d = malloc(NR * SS * sizeof(float));
        fits_get_colnum(fp, CASESEN, "DIFF", &c, &status);
        fits_read_col(fp, TFLOAT, c, 1, 1, (LONGLONG)(NR * SS), NULL, d, &anynul, &status);
        fits_close_file(fp, &status);
        assert_int_equal(status, 0);
        assert_string_equal(v, "isdiffpos");
        assert_int_equal(dp, 1);
        assert_int_equal(ninv, 5);
        for (int i = 0; i < NR; i++) {
            assert_true(rb[i] == rbm[i]);
            assert_int_equal(fl[i], flm[i]);
        }
        assert_memory_equal(d, col(res, "DIFF")->data, NR * SS * sizeof(float));
        free(d);
        D->destroy(inst);
    }
}

/* ---- REAL DATA: ZTF's negative alerts ----------------------------------- */

#define MAX_ALERTS 256

typedef struct alert {
    char candid[32];
    char isdiffpos[8];
    double drb;
    int mismatch;
} alert;

/* split a CSV line at commas outside quotes, in place */
static int csv_split(char *line, char **f, int max)
{
    int n = 0, q = 0;
    char *w = line, *start = line;
    for (char *p = line;; p++) {
        if (*p == '"') {
            q = !q;
            continue;
        }
        if ((*p == ',' && !q) || !*p) {
            int end = !*p;
            *w = '\0';
            if (n < max)
                f[n++] = start;
            if (end)
                break;
            start = w = p + 1;
            continue;
        }
        *w++ = *p;
    }
    return n;
}

/* candid, isdiffpos, drb and known_mismatch of alerts.csv, by name */
static int read_alerts(const char *path, alert *a, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[8192];
    char *fld[64];
    int c_id = -1, c_pos = -1, c_drb = -1, c_mm = -1, n = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    line[strcspn(line, "\r\n")] = 0;
    int nf = csv_split(line, fld, 64);
    for (int i = 0; i < nf; i++) {
        if (!strcmp(fld[i], "candid"))
            c_id = i;
        else if (!strcmp(fld[i], "isdiffpos"))
            c_pos = i;
        else if (!strcmp(fld[i], "drb"))
            c_drb = i;
        else if (!strcmp(fld[i], "known_mismatch"))
            c_mm = i;
    }
    if (c_id < 0 || c_pos < 0 || c_drb < 0) {
        fclose(f);
        return -1;
    }
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        nf = csv_split(line, fld, 64);
        if (nf <= c_id || nf <= c_pos || nf <= c_drb || !fld[c_id][0])
            continue;
        memset(&a[n], 0, sizeof a[n]);
        snprintf(a[n].candid, sizeof a[n].candid, "%s", fld[c_id]);
        snprintf(a[n].isdiffpos, sizeof a[n].isdiffpos, "%s", fld[c_pos]);
        a[n].drb = atof(fld[c_drb]);
        a[n].mismatch = c_mm >= 0 && c_mm < nf ? atoi(fld[c_mm]) : 0;
        n++;
    }
    fclose(f);
    return n;
}

static void write_float_image(const char *path, const float *p, int w, int h)
{
    fitsfile *fp;
    int status = 0;
    char name[4200];
    snprintf(name, sizeof name, "!%s", path);
    long naxes[2] = {w, h};
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, FLOAT_IMG, 2, naxes, &status);
    fits_write_img(fp, TFLOAT, 1, (LONGLONG)w * h, (void *)p, &status);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
}

static void test_ztf_negative_alerts(void **state)
{
    (void)state;
    const char *fx = getenv("SV_FIXTURES");
    char csv[4096], model[4096];
    snprintf(csv, sizeof csv, "%s/ztf-alerts-dev/alerts.csv", fx ? fx : "");
    FILE *probe = fx && *fx ? fopen(csv, "r") : NULL;
    if (!probe) {
        printf("# SKIP: real-data fixtures not found (SV_FIXTURES='%s'; expected "
               "ztf-alerts-dev/alerts.csv)\n",
               fx ? fx : "");
        skip();
    }
    fclose(probe);
    const char *models = getenv("STAMPVET_MODELS");
    const char *src = getenv("SV_SRCDIR");
    if (models && *models)
        snprintf(model, sizeof model, "%s/braai-d6_m7.fits", models);
    else
        snprintf(model, sizeof model, "%s/models/braai-d6_m7.fits", src ? src : ".");
    probe = fopen(model, "rb");
    if (!probe)
        fail_msg("the shipped model %s is missing", model);
    fclose(probe);

    static alert al[MAX_ALERTS];
    int n = read_alerts(csv, al, MAX_ALERTS);
    assert_true(n > 0);
    dia_kv kauto[1] = {{"threads", "1"}};
    dia_kv kno[1] = {{"diff_positive", "no"}};
    dia_instance *inst = make(model, 1, kauto), *inst_no = make(model, 1, kno);
    int nf = 0, checked = 0, differ = 0;
    double worst = 0, worst_no = 0;
    for (int a = 0; a < n; a++) {
        if (strcmp(al[a].isdiffpos, "f"))
            continue;
        nf++;
        static const char *const cname[3] = {"sci", "ref", "diff"};
        float *pix[3] = {NULL, NULL, NULL};
        int h = 0, w = 0;
        sv_error err;
        sv_error_clear(&err);
        for (int c = 0; c < 3; c++) {
            char path[16400];
            int hh, ww;
            snprintf(path, sizeof path, "%s/ztf-alerts-dev/%s_%s.fits.gz", fx, al[a].candid,
                     cname[c]);
            if (sv_stamp_read(path, &pix[c], &hh, &ww, &err))
                fail_msg("%s", err.text);
            if (c > 0 && (hh != h || ww != w))
                fail_msg("%s: cutouts of different sizes", al[a].candid);
            h = hh;
            w = ww;
        }
        /* ZTF's diff of an 'f' alert is ref - sci; the host's is sci - ref */
        size_t np = (size_t)w * h;
        int pos_centre = pix[2][(size_t)(h / 2) * w + w / 2] > 0;
        for (size_t p = 0; p < np; p++)
            if (pix[2][p] == pix[2][p])
                pix[2][p] = -pix[2][p];
        /* the cutout centre, 1-based: the model's 63-pixel stamp covers the
         * whole cutout, so the stage hands the model the cutout itself */
        int64_t id = strtoll(al[a].candid, NULL, 10);
        double xpos = w / 2 + 1, ypos = h / 2 + 1;
        char sign[1] = {'f'};
        dia_column c[4] = {
            {.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = &id},
            {.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = &xpos},
            {.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = &ypos},
            {.name = "isdiffpos", .type = DIA_COL_STRING, .repeat = 1, .data = sign},
        };
        dia_table t = {.nrows = 1, .ncols = 4, .cols = c};
        dia_exposure x = {.struct_size = sizeof x, .mjd = NAN};
        x.science = (dia_image){pix[0], w, h, 0, NULL, 0};
        x.reference = (dia_image){pix[1], w, h, 0, NULL, 0};
        x.difference = (dia_image){pix[2], w, h, 0, NULL, 0};
        const dia_table *res;
        if (D->process(inst, &x, &t, &res) != DIA_OK)
            fail_msg("%s: %s", al[a].candid, D->last_error(inst));
        double drb = ((const float *)col(res, "drb")->data)[0];
        assert_string_equal(meta(res, "NINVERT"), "1");
        if (D->process(inst_no, &x, &t, &res) != DIA_OK)
            fail_msg("%s: %s", al[a].candid, D->last_error(inst_no));
        double drb_no = ((const float *)col(res, "drb")->data)[0];

        /* the same through files: sci, ref, the host's diff, a FITS table */
        char sp[300], rp[300], dp[300], tp[300], op[300];
        join(sp, "a_sci.fits");
        join(rp, "a_ref.fits");
        join(dp, "a_diff.fits");
        join(tp, "a_det.fits");
        join(op, "a_out.fits");
        write_float_image(sp, pix[0], w, h);
        write_float_image(rp, pix[1], w, h);
        write_float_image(dp, pix[2], w, h);
        {
            fitsfile *fp;
            int status = 0;
            char name[320];
            snprintf(name, sizeof name, "!%s", tp);
            const char *nm[4] = {"candid", "xpos", "ypos", "isdiffpos"};
            const char *fm[4] = {"1K", "1D", "1D", "1A"};
            char sv[2] = "f", *svp[1] = {sv};
            long long idl = id;
            fits_create_file(&fp, name, &status);
            fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
            fits_create_tbl(fp, BINARY_TBL, 0, 4, (char **)nm, (char **)fm, NULL, "CANDS",
                            &status);
            fits_write_col(fp, TLONGLONG, 1, 1, 1, 1, &idl, &status);
            fits_write_col(fp, TDOUBLE, 2, 1, 1, 1, &xpos, &status);
            fits_write_col(fp, TDOUBLE, 3, 1, 1, 1, &ypos, &status);
            fits_write_col(fp, TSTRING, 4, 1, 1, 1, svp, &status);
            fits_close_file(fp, &status);
            assert_int_equal(status, 0);
        }
        dia_file_job j = {sizeof j, sp, rp, dp, tp, NULL, op, "alert", 1};
        if (D->process_files(inst, &j) != DIA_OK)
            fail_msg("%s (files): %s", al[a].candid, D->last_error(inst));
        float drb_f = NAN;
        {
            fitsfile *fp;
            int status = 0, anynul, cn;
            fits_open_diskfile(&fp, op, READONLY, &status);
            fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
            fits_get_colnum(fp, CASESEN, "drb", &cn, &status);
            fits_read_col(fp, TFLOAT, cn, 1, 1, 1, NULL, &drb_f, &anynul, &status);
            fits_close_file(fp, &status);
            assert_int_equal(status, 0);
        }
        for (int k = 0; k < 3; k++)
            free(pix[k]);

        double d = fabs(drb - al[a].drb), dno = fabs(drb_no - al[a].drb);
        printf("# %s %dx%d diff centre %s  stage %.9f  files %.9f  ZTF drb %.9f  |d| %.1e  "
               "diff_positive=no %.9f (|d| %.1e)%s\n",
               al[a].candid, w, h, pos_centre ? "> 0" : "<= 0", drb, (double)drb_f, al[a].drb,
               d, drb_no, dno, al[a].mismatch ? "  known_mismatch: not held to drb" : "");
        assert_true((float)drb == drb_f);
        if (dno > 1e-3)
            differ++;
        if (al[a].mismatch)
            continue;
        checked++;
        if (d > worst)
            worst = d;
        if (dno > worst_no)
            worst_no = dno;
        if (!(d <= 1e-5))
            fail_msg("%s: the stage's drb %.9f is not ZTF's %.9f (|d| = %.2e > 1e-5)",
                     al[a].candid, drb, al[a].drb, d);
    }
    printf("# %d 'f' alerts, %d held to ZTF's drb: largest |stage - drb| %.2e (diff_positive "
           "= auto); with diff_positive = no %d of %d differ by > 1e-3 (largest %.3f)\n",
           nf, checked, worst, differ, nf, worst_no);
    assert_true(checked > 0);
    assert_true(differ > 0);
    D->destroy(inst);
    D->destroy(inst_no);
}

int main(void)
{
    (void)st_write_table;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_values),
        cmocka_unit_test(test_sign_plan),
        cmocka_unit_test(test_stage_memory),
        cmocka_unit_test(test_stage_files),
        cmocka_unit_test(test_ztf_negative_alerts),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
