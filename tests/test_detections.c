/* test_detections.c — column presets and mapping, where positions come
 * from, pixel origins and bad coordinates, and FITS binary tables of any
 * column types read in chunks. */
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

#include "pipeline/detections.h"
#include "pipeline/stage_params.h"
#include "fits/stamps.h"

static char tmpdir[256];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sv_test_det_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_presets(void **state)
{
    sv_det_map m;
    assert_int_equal(sv_det_map_preset("ztf", &m), 0);
    assert_string_equal(m.x, "xpos");
    assert_string_equal(m.ra, "ra");
    assert_string_equal(m.id, "candid");
    assert_int_equal(m.origin, 1);
    assert_int_equal(sv_det_map_preset("sextractor", &m), 0);
    assert_string_equal(m.x, "X_IMAGE");
    assert_string_equal(m.dec, "DELTA_J2000");
    assert_string_equal(m.id, "NUMBER");
    assert_int_equal(m.origin, 1);
    assert_int_equal(sv_det_map_preset("lsst", &m), 0);
    assert_string_equal(m.x, "x");
    assert_string_equal(m.id, "diaSourceId");
    assert_int_equal(m.origin, 0);
    assert_int_equal(sv_det_map_preset("generic", &m), 0);
    assert_int_equal(sv_det_map_preset("hst", &m), SV_ERR_ARG);

    /* explicit mapping over a preset */
    sv_error err;
    sv_error_clear(&err);
    dia_kv kv[5] = {{"preset", "lsst"}, {"col_x", "cx"}, {"pixel_origin", "1"},
                    {"coords", "sky"}, {"col_dec", "decl"}};
    sv_stage_config cfg;
    assert_int_equal(sv_stage_config_parse(kv, 5, &cfg, &err), 0);
    assert_int_equal(sv_det_map_from_config(&cfg, &m, &err), 0);
    assert_string_equal(m.x, "cx");
    assert_string_equal(m.y, "y");
    assert_string_equal(m.dec, "decl");
    assert_int_equal(m.origin, 1);
    assert_int_equal(m.coords, SV_COORDS_SKY);
}

/* an in-memory table */
static int64_t ids[4] = {11, 12, 13, 14};
static double xs[4] = {10.0, 20.5, NAN, 1e9};
static double ys[4] = {5.0, 7.25, 3.0, INFINITY};
static float ras[4] = {150.0f, 150.001f, 150.002f, 150.003f};
static double decs[4] = {2.0, 2.001, 2.002, 2.003};
static char names[4 * 8] = "aaaaaaa\0bbbbbbb\0ccccccc\0ddddddd";

static dia_table make_table(dia_column *cols, const char *xname, int with_sky, int with_xy)
{
    int n = 0;
    cols[n++] = (dia_column){.name = "CANDID", .type = DIA_COL_INT64, .repeat = 1, .data = ids};
    if (with_xy) {
        cols[n++] = (dia_column){.name = xname, .type = DIA_COL_FLOAT64, .repeat = 1, .data = xs};
        cols[n++] = (dia_column){.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = ys};
    }
    if (with_sky) {
        cols[n++] = (dia_column){.name = "ra", .type = DIA_COL_FLOAT32, .repeat = 1, .data = ras};
        cols[n++] = (dia_column){.name = "dec", .type = DIA_COL_FLOAT64, .repeat = 1, .data = decs};
    }
    cols[n++] = (dia_column){.name = "objname", .type = DIA_COL_STRING, .repeat = 8, .data = names};
    return (dia_table){.nrows = 4, .ncols = n, .cols = cols};
}

static void test_plan_in_memory(void **state)
{
    sv_det_map m;
    sv_det_map_preset("ztf", &m);
    dia_column cols[8];
    sv_det_plan plan;
    sv_error err;
    sv_error_clear(&err);

    /* x/y present: pixels, whatever the sky columns; names match in any case */
    dia_table t = make_table(cols, "XPOS", 1, 1);
    assert_int_equal(sv_table_validate(&t, "t", &err), 0);
    sv_col_source src = sv_table_source(&t, "cands");
    assert_int_equal(sv_det_plan_make(&m, &src, 0, NULL, &plan, &err), 0);
    assert_int_equal(plan.use_sky, 0);
    assert_int_equal(plan.col_a, 1);
    assert_int_equal(plan.col_b, 2);
    assert_int_equal(plan.col_id, 0);
    assert_non_null(strstr(plan.what, "XPOS"));

    /* only ra/dec: the WCS is needed */
    t = make_table(cols, "xpos", 1, 0);
    src = sv_table_source(&t, "cands");
    assert_int_equal(sv_det_plan_make(&m, &src, 1, NULL, &plan, &err), 0);
    assert_int_equal(plan.use_sky, 1);
    assert_int_equal(sv_det_plan_make(&m, &src, 0, NULL, &plan, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "cands"));
    assert_non_null(strstr(err.text, "WCS"));
    /* coords = pixel insists on x/y */
    m.coords = SV_COORDS_PIXEL;
    assert_int_equal(sv_det_plan_make(&m, &src, 1, NULL, &plan, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "'xpos'"));
    m.coords = SV_COORDS_AUTO;

    /* neither: the error names what it looked for */
    t = make_table(cols, "xpos", 0, 0);
    src = sv_table_source(&t, "cands.fits");
    assert_int_equal(sv_det_plan_make(&m, &src, 1, NULL, &plan, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "cands.fits"));
    assert_non_null(strstr(err.text, "'xpos','ypos'"));
    assert_non_null(strstr(err.text, "'ra','dec'"));
    assert_non_null(strstr(err.text, "col_x"));

    /* a string column mapped as x */
    t = make_table(cols, "xpos", 0, 1);
    snprintf(m.x, sizeof m.x, "objname");
    src = sv_table_source(&t, "cands");
    assert_int_equal(sv_det_plan_make(&m, &src, 1, NULL, &plan, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "objname"));
    assert_non_null(strstr(err.text, "numeric"));
}

static void test_features_plan(void **state)
{
    sv_model *model = sv_model_new(NULL);
    snprintf(model->name, sizeof model->name, "acai-like");
    model->n_features = 2;
    snprintf(model->features[0], SV_LABEL_MAX, "dec");
    snprintf(model->features[1], SV_LABEL_MAX, "magpsf");
    sv_det_map m;
    sv_det_map_preset("ztf", &m);
    dia_column cols[8];
    dia_table t = make_table(cols, "xpos", 1, 1);
    sv_col_source src = sv_table_source(&t, "cands");
    sv_det_plan plan;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_det_plan_make(&m, &src, 0, model, &plan, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "'magpsf'"));
    assert_non_null(strstr(err.text, "acai-like"));
    snprintf(model->features[1], SV_LABEL_MAX, "RA");
    assert_int_equal(sv_det_plan_make(&m, &src, 0, model, &plan, &err), 0);
    assert_int_equal(plan.n_feat, 2);
    assert_int_equal(plan.col_feat[0], 4);
    assert_int_equal(plan.col_feat[1], 3);
    sv_model_free(model);
}

static void test_positions(void **state)
{
    sv_det_map m;
    sv_det_map_preset("ztf", &m);
    dia_column cols[8];
    dia_table t = make_table(cols, "xpos", 1, 1);
    sv_col_source src = sv_table_source(&t, "cands");
    sv_det_plan plan;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_det_plan_make(&m, &src, 0, NULL, &plan, &err), 0);
    double a[4], b[4], x0[4], y0[4];
    uint32_t flags[4] = {0, 0, 0, 0};
    sv_column_read_double(&cols[plan.col_a], 0, 4, a);
    sv_column_read_double(&cols[plan.col_b], 0, 4, b);
    assert_int_equal(sv_det_positions(&plan, &m, NULL, 4, a, b, x0, y0, flags), 2);
    assert_float_equal(x0[0], 9.0, 0); /* 1-based -> 0-based */
    assert_float_equal(y0[1], 6.25, 0);
    assert_int_equal(flags[0], 0);
    assert_int_equal(flags[2], SV_FLAG_BADCOORD);
    assert_int_equal(flags[3], SV_FLAG_BADCOORD);
    assert_true(isnan(x0[2]) && isnan(y0[2]));
    /* LSST origin 0 */
    m.origin = 0;
    flags[0] = 0;
    sv_det_positions(&plan, &m, NULL, 1, a, b, x0, y0, flags);
    assert_float_equal(x0[0], 10.0, 0);

    /* sky positions through a TAN WCS at 1"/pixel, reference pixel 50.5 */
    char hdr[80 * 9 + 1];
    const char *cards[] = {"CTYPE1  = 'RA---TAN'", "CTYPE2  = 'DEC--TAN'", "CRPIX1  = 50.5",
                           "CRPIX2  = 50.5", "CRVAL1  = 150.0", "CRVAL2  = 2.0",
                           "CD1_1   = -0.000277777778", "CD2_2   = 0.000277777778", "END"};
    for (int k = 0; k < 9; k++)
        snprintf(hdr + 80 * k, 81, "%-80.80s", cards[k]);
    sv_wcs *w = NULL;
    assert_int_equal(sv_wcs_from_header(hdr, 9, "h", &w, &err), 0);
    plan.use_sky = 1;
    double ra[3] = {150.0, 150.0, NAN}, dec[3] = {2.0, 2.0 + 10.0 / 3600.0, 2.0};
    uint32_t f3[3] = {0, 0, 0};
    assert_int_equal(sv_det_positions(&plan, &m, w, 3, ra, dec, x0, y0, f3), 1);
    assert_float_equal(x0[0], 49.5, 1e-6); /* CRPIX 50.5 is 0-based 49.5 */
    assert_float_equal(y0[0], 49.5, 1e-6);
    assert_float_equal(y0[1], 59.5, 1e-4);
    assert_int_equal(f3[2], SV_FLAG_BADCOORD);
    sv_wcs_free(w);
}

static void test_table_validate(void **state)
{
    sv_error err;
    sv_error_clear(&err);
    dia_column cols[8];
    dia_table t = make_table(cols, "xpos", 1, 1);
    cols[1].name = NULL;
    assert_int_equal(sv_table_validate(&t, "host table", &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "column 2"));
    t = make_table(cols, "xpos", 1, 1);
    cols[2].data = NULL;
    assert_int_equal(sv_table_validate(&t, "host table", &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "ypos"));
    t = make_table(cols, "ypos", 1, 1);
    assert_int_equal(sv_table_validate(&t, "host table", &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "two columns"));
    t = make_table(cols, "xpos", 1, 1);
    cols[1].type = (dia_col_type)42;
    assert_int_equal(sv_table_validate(&t, "host table", &err), SV_ERR_ARG);
    t = make_table(cols, "xpos", 1, 1);
    t.nrows = -1;
    assert_int_equal(sv_table_validate(&t, "host table", &err), SV_ERR_ARG);
    assert_int_equal(sv_table_validate(NULL, "host table", &err), SV_ERR_ARG);
    /* zero rows and no data pointers is a valid table */
    t = make_table(cols, "xpos", 1, 1);
    t.nrows = 0;
    for (int i = 0; i < t.ncols; i++)
        cols[i].data = NULL;
    assert_int_equal(sv_table_validate(&t, "host table", &err), 0);
}

/* a FITS table with many column types */
#define NR 1000
static void write_rich_table(const char *path)
{
    fitsfile *fp;
    int status = 0;
    char name[512];
    snprintf(name, sizeof name, "!%s", path);
    char *ttype[] = {"candid", "xpos", "ypos", "mag", "flagsb", "isdiffpos", "good", "bits",
                     "vec", "scaled", "withnull", "shortv"};
    char *tform[] = {"1K", "1D", "1E", "1E", "1B", "1A", "1L", "12X", "6E", "1I", "1J", "1I"};
    char *tunit[] = {"", "pix", "pix", "mag", "", "", "", "", "adu", "", "", ""};
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, 12, ttype, tform, tunit, "CANDS", &status);
    long dims[2] = {3, 2};
    fits_write_tdim(fp, 9, 2, dims, &status);
    double sc = 0.5, zero = 100.0;
    fits_write_key(fp, TDOUBLE, "TSCAL10", &sc, NULL, &status);
    fits_write_key(fp, TDOUBLE, "TZERO10", &zero, NULL, &status);
    long tnull = -999;
    fits_write_key(fp, TLONG, "TNULL11", &tnull, NULL, &status);
    fits_write_key_str(fp, "SURVEY", "ZTF", "kept in the output", &status);
    fits_set_hdustruc(fp, &status);
    for (int i = 0; i < NR && !status; i++) {
        long long id = 1000000000000000000LL + i;
        double x = 1.0 + i, y = 2.0 + 0.5 * i;
        float mag = 18.0f + 0.001f * i, vec[6] = {1, 2, 3, 4, 5, (float)i};
        unsigned char b = (unsigned char)(i % 256);
        char s[2] = {i % 2 ? 't' : 'f', 0}, *sp = s, l = (char)(i % 3 == 0);
        char bits[12] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1};
        double scaled = 100.0 + 0.5 * (i % 50);
        int wn = i % 7 == 0 ? -999 : i;
        short sv = (short)(-i);
        fits_write_col(fp, TLONGLONG, 1, i + 1, 1, 1, &id, &status);
        fits_write_col(fp, TDOUBLE, 2, i + 1, 1, 1, &x, &status);
        fits_write_col(fp, TDOUBLE, 3, i + 1, 1, 1, &y, &status);
        fits_write_col(fp, TFLOAT, 4, i + 1, 1, 1, &mag, &status);
        fits_write_col(fp, TBYTE, 5, i + 1, 1, 1, &b, &status);
        fits_write_col(fp, TSTRING, 6, i + 1, 1, 1, &sp, &status);
        fits_write_col(fp, TLOGICAL, 7, i + 1, 1, 1, &l, &status);
        fits_write_col(fp, TBIT, 8, i + 1, 1, 12, bits, &status);
        fits_write_col(fp, TFLOAT, 9, i + 1, 1, 6, vec, &status);
        fits_write_col(fp, TDOUBLE, 10, i + 1, 1, 1, &scaled, &status);
        fits_write_col(fp, TINT, 11, i + 1, 1, 1, &wn, &status);
        fits_write_col(fp, TSHORT, 12, i + 1, 1, 1, &sv, &status);
    }
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
}

/* sv_table_column / sv_column_cell_num / sv_column_cell_str: every column
 * type, vector cells (first element), blank-padded and NUL-ended strings,
 * numbers in strings, non-finite values */
static void test_column_cells(void **state)
{
    (void)state;
    static const int16_t i16[2] = {-7, 300};
    static const int32_t i32[2] = {2147483647, -1};
    static const int64_t i64[2] = {9007199254740993LL, -4};
    static const uint8_t u8[2] = {255, 0};
    static const float f32[4] = {1.5f, 9.f, -2.f, 0.f}; /* repeat 2 */
    static const double f64[2] = {0.1, 1e300 * 1e300};
    static const char str[2 * 8] = {' ', ' ', '4', '2', '.', '5', ' ', ' ',
                                    'Z', 'T', 'F', '\0', 'x', 'x', 'x', 'x'};
    dia_column c[7] = {
        {"mag_i16", DIA_COL_INT16, 1, 0, {0, 0}, NULL, NULL, i16},
        {"I32", DIA_COL_INT32, 1, 0, {0, 0}, NULL, NULL, i32},
        {"objid", DIA_COL_INT64, 1, 0, {0, 0}, NULL, NULL, i64},
        {"u8", DIA_COL_UINT8, 1, 0, {0, 0}, NULL, NULL, u8},
        {"vec", DIA_COL_FLOAT32, 2, 1, {2, 0}, NULL, NULL, f32},
        {"f64", DIA_COL_FLOAT64, 1, 0, {0, 0}, NULL, NULL, f64},
        {"name", DIA_COL_STRING, 8, 0, {0, 0}, NULL, NULL, str},
    };
    dia_table t = {2, 7, c, 0, NULL};
    assert_ptr_equal(sv_table_column(&t, "i32"), &c[1]);
    assert_ptr_equal(sv_table_column(&t, "OBJID"), &c[2]);
    assert_null(sv_table_column(&t, "i3"));
    assert_null(sv_table_column(&t, NULL));
    char b[32];
    assert_float_equal(sv_column_cell_num(&c[0], 0), -7, 0);
    assert_float_equal(sv_column_cell_num(&c[3], 0), 255, 0);
    assert_float_equal(sv_column_cell_num(&c[4], 1), -2, 0); /* row 1 of a 2-vector */
    assert_float_equal(sv_column_cell_num(&c[6], 0), 42.5, 0);
    assert_true(isnan(sv_column_cell_num(&c[6], 1)));         /* "ZTF" is not a number */
    sv_column_cell_str(&c[2], 0, b, sizeof b);
    assert_string_equal(b, "9007199254740993");                /* int64 exactly */
    sv_column_cell_str(&c[1], 0, b, sizeof b);
    assert_string_equal(b, "2147483647");
    sv_column_cell_str(&c[4], 0, b, sizeof b);
    assert_string_equal(b, "1.5");
    sv_column_cell_str(&c[4], 1, b, sizeof b);
    assert_string_equal(b, "-2");
    sv_column_cell_str(&c[5], 0, b, sizeof b);
    assert_string_equal(b, "0.10000000000000001");
    sv_column_cell_str(&c[5], 1, b, sizeof b);
    assert_string_equal(b, "");                                /* infinity */
    sv_column_cell_str(&c[6], 0, b, sizeof b);
    assert_string_equal(b, "42.5");
    sv_column_cell_str(&c[6], 1, b, sizeof b);
    assert_string_equal(b, "ZTF");                             /* up to its NUL */
    sv_column_cell_str(&c[6], 1, b, 3);
    assert_string_equal(b, "ZT");                              /* truncated, terminated */
}

static void test_fits_table(void **state)
{
    char path[300];
    snprintf(path, sizeof path, "%s/rich.fits", tmpdir);
    write_rich_table(path);
    sv_det_file *f = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_det_file_open(path, &f, &err), 0);
    assert_int_equal(sv_det_file_nrows(f), NR);
    const sv_det_schema *sch = sv_det_file_schema(f);
    assert_int_equal(sch->ncols, 12);
    assert_string_equal(sch->ttype[8], "vec");
    assert_string_equal(sch->tform[7], "12X");
    assert_string_equal(sch->tunit[3], "mag");
    assert_int_equal(sch->rowbytes, 8 + 8 + 4 + 4 + 1 + 1 + 1 + 2 + 24 + 2 + 4 + 2);
    int tdim = 0, tnull = 0, survey = 0;
    for (int i = 0; i < sch->nextra; i++) {
        tdim += !strncmp(sch->extra[i], "TDIM9", 5);
        tnull += !strncmp(sch->extra[i], "TNULL11", 7);
        survey += !strncmp(sch->extra[i], "SURVEY", 6);
        assert_true(strncmp(sch->extra[i], "TTYPE", 5) && strncmp(sch->extra[i], "NAXIS", 5));
    }
    assert_int_equal(tdim, 1);
    assert_int_equal(tnull, 1);
    assert_int_equal(survey, 1);

    sv_col_source src = sv_det_file_source(f);
    sv_det_map m;
    sv_det_map_preset("ztf", &m);
    sv_det_plan plan;
    assert_int_equal(sv_det_plan_make(&m, &src, 0, NULL, &plan, &err), 0);
    assert_int_equal(plan.col_id, 0);
    /* vector, string, logical and bit columns are not numeric scalars */
    assert_true(src.numeric(src.src, 4));
    assert_false(src.numeric(src.src, 5));
    assert_false(src.numeric(src.src, 6));
    assert_false(src.numeric(src.src, 7));
    assert_false(src.numeric(src.src, 8));
    assert_true(src.integer(src.src, 10));
    assert_false(src.integer(src.src, 3));

    /* chunked reads equal one read */
    static double all[NR], part[NR];
    static int64_t id[NR];
    assert_int_equal(sv_det_file_read_double(f, 1, 0, NR, all, &err), 0);
    for (int r0 = 0; r0 < NR; r0 += 333) {
        int n = NR - r0 < 333 ? NR - r0 : 333;
        assert_int_equal(sv_det_file_read_double(f, 1, r0, n, part + r0, &err), 0);
    }
    assert_memory_equal(all, part, sizeof all);
    assert_float_equal(all[999], 1000.0, 0);
    assert_int_equal(sv_det_file_read_int64(f, 0, 0, NR, id, &err), 0);
    assert_true(id[999] == 1000000000000000999LL); /* not through a double */
    /* scaling applied, TNULL -> NaN */
    assert_int_equal(sv_det_file_read_double(f, 9, 0, 3, all, &err), 0);
    assert_float_equal(all[2], 101.0, 1e-9);
    assert_int_equal(sv_det_file_read_double(f, 10, 0, 8, all, &err), 0);
    assert_true(isnan(all[0]) && isnan(all[7]));
    assert_float_equal(all[1], 1.0, 0);
    /* raw rows: exactly the stored bytes */
    unsigned char *raw = malloc(sch->rowbytes * 10);
    assert_int_equal(sv_det_file_read_raw(f, 990, 10, raw, &err), 0);
    long long first = 0;
    for (int k = 0; k < 8; k++)
        first = first << 8 | raw[k];
    assert_true(first == 1000000000000000990LL);
    assert_int_equal(sv_det_file_read_raw(f, 995, 10, raw, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, path));
    free(raw);
    sv_det_file_close(f);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* CSV: types from the values, quoting, empty cells; the table reads as a
 * FITS one does. */
static void test_csv_table(void **state)
{
    char path[300];
    snprintf(path, sizeof path, "%s/det.csv", tmpdir);
    write_text(path, "# a comment\n"
                     "id, xpos ,ypos,name,mixed,gappy\n"
                     "1660293514215020001,10.5,20,\"a, b\",3,\n"
                     "\n"
                     "2,11,21.5,c,x,5\n");
    sv_det_file *f = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_det_file_open(path, &f, &err), 0);
    assert_string_equal(sv_det_file_format(f), "CSV");
    const sv_det_schema *s = sv_det_file_schema(f);
    assert_int_equal(sv_det_file_nrows(f), 2);
    assert_int_equal(s->ncols, 6);
    const char *names[6] = {"id", "xpos", "ypos", "name", "mixed", "gappy"};
    const char *forms[6] = {"1K", "1D", "1D", "4A", "1A", "1D"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(s->ttype[i], names[i]);
        assert_string_equal(s->tform[i], forms[i]);
    }
    sv_col_source src = sv_det_file_source(f);
    assert_true(src.integer(src.src, 0));
    assert_true(src.numeric(src.src, 1) && !src.integer(src.src, 1));
    assert_false(src.numeric(src.src, 3));
    int64_t id[2];
    double v[2];
    assert_int_equal(sv_det_file_read_int64(f, 0, 0, 2, id, &err), 0);
    assert_true(id[0] == 1660293514215020001LL && id[1] == 2);
    assert_int_equal(sv_det_file_read_double(f, 2, 0, 2, v, &err), 0);
    assert_float_equal(v[0], 20, 0);
    assert_float_equal(v[1], 21.5, 0);
    assert_int_equal(sv_det_file_read_double(f, 5, 0, 2, v, &err), 0);
    assert_true(isnan(v[0]));
    assert_float_equal(v[1], 5, 0);
    unsigned char raw[2 * 64];
    assert_int_equal(s->rowbytes, 8 + 8 + 8 + 4 + 1 + 8);
    assert_int_equal(sv_det_file_read_raw(f, 0, 2, raw, &err), 0);
    assert_memory_equal(raw + 24, "a, b", 4);
    sv_det_file_close(f);
}

/* ECSV: the YAML header's datatypes and units (flow and block entries,
 * nested meta), the data's header line, quoted values, empty values. */
static void test_ecsv_table(void **state)
{
    char path[300];
    snprintf(path, sizeof path, "%s/det.ecsv", tmpdir);
    write_text(path, "# %ECSV 1.0\n"
                     "# ---\n"
                     "# datatype:\n"
                     "# - {name: id, datatype: int64}\n"
                     "# - {name: x, unit: pix, datatype: float64, description: 'x, 1-based'}\n"
                     "# - {name: ok, datatype: bool}\n"
                     "# - name: label\n"
                     "#   datatype: string\n"
                     "#   meta: !!omap\n"
                     "#   - {a: 1}\n"
                     "# - {name: q, datatype: int16}\n"
                     "# meta: !!omap\n"
                     "# - {EXPID: e1}\n"
                     "# schema: astropy-2.0\n"
                     "id x ok label q\n"
                     "1 10.5 True \"a b\" -3\n"
                     "2 \"\" False c 7\n");
    sv_det_file *f = NULL;
    sv_error err;
    sv_error_clear(&err);
    if (sv_det_file_open(path, &f, &err))
        fail_msg("%s", err.text);
    assert_string_equal(sv_det_file_format(f), "ECSV");
    const sv_det_schema *s = sv_det_file_schema(f);
    assert_int_equal(s->ncols, 5);
    const char *forms[5] = {"1K", "1D", "1L", "3A", "1I"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(s->tform[i], forms[i]);
    assert_string_equal(s->tunit[1], "pix");
    double v[2];
    assert_int_equal(sv_det_file_read_double(f, 1, 0, 2, v, &err), 0);
    assert_float_equal(v[0], 10.5, 0);
    assert_true(isnan(v[1]));
    assert_int_equal(sv_det_file_read_double(f, 4, 0, 2, v, &err), 0);
    assert_float_equal(v[0], -3, 0);
    sv_det_file_close(f);
}

/* Damaged text tables: the file, the line and the problem. */
static void test_text_table_errors(void **state)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"a,b\n1,2\n3\n", "line 3: 1 fields, the header names 2 columns"},
        {"a,b,A\n1,2,3\n", "line 1: two columns named 'A'"},
        {"a,,c\n1,2,3\n", "line 1: an empty column name"},
        {"a,b\n1,\"2\n", "line 2: unterminated quote"},
        {"# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: int8}\n"
         "# - {name: b, datatype: float64}\na b\n300 1\n",
         "line 7: column 'a': '300' is not an integer in [-128, 127]"},
        {"# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: float64}\n"
         "# - {name: b, datatype: float64}\na c\n1 2\n",
         "line 6: column 2 is 'c' here but 'b' in the ECSV header"},
        {"# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: string, subtype: 'float64[2]'}\n"
         "a\n\"[1,2]\"\n", "line 4: ECSV column 'a' is an array"},
        {"# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: complex128}\na\n1\n",
         "line 4: ECSV column 'a': datatype 'complex128'"},
        {"# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: float64}\n", "no data header"},
    };
    char path[300];
    snprintf(path, sizeof path, "%s/bad.txt", tmpdir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        sv_det_file *f = NULL;
        sv_error err;
        sv_error_clear(&err);
        assert_int_equal(sv_det_file_open(path, &f, &err), SV_ERR_FORMAT);
        assert_null(f);
        if (!strstr(err.text, bad[i].want) || !strstr(err.text, path))
            fail_msg("case %zu: '%s' does not say '%s'", i, err.text, bad[i].want);
    }
}

static void test_fits_table_errors(void **state)
{
    char path[300];
    sv_det_file *f = (sv_det_file *)0x1;
    sv_error err;
    sv_error_clear(&err);
    /* missing file */
    snprintf(path, sizeof path, "%s/none.fits", tmpdir);
    assert_int_equal(sv_det_file_open(path, &f, &err), SV_ERR_IO);
    assert_null(f);
    assert_non_null(strstr(err.text, path));
    /* not FITS, and text that is no CSV (no comma) */
    snprintf(path, sizeof path, "%s/garbage.fits", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs("this is not a FITS file at all\n", fp);
    fclose(fp);
    assert_int_equal(sv_det_file_open(path, &f, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "garbage.fits: not a detection table"));
    fp = fopen(path, "wb");
    fputs("\x01\x02\x03 binary", fp);
    fclose(fp);
    assert_int_equal(sv_det_file_open(path, &f, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "garbage.fits: not a detection table"));
    assert_null(strstr(err.text, "cfitsio"));
    /* an image, no table */
    snprintf(path, sizeof path, "%s/image.fits", tmpdir);
    fitsfile *ff;
    int status = 0;
    char name[400];
    snprintf(name, sizeof name, "!%s", path);
    long naxes[2] = {4, 4};
    float pix[16] = {0};
    fits_create_file(&ff, name, &status);
    fits_create_img(ff, FLOAT_IMG, 2, naxes, &status);
    fits_write_img(ff, TFLOAT, 1, 16, pix, &status);
    fits_close_file(ff, &status);
    assert_int_equal(sv_det_file_open(path, &f, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "no binary table"));
    /* an ASCII table */
    snprintf(path, sizeof path, "%s/ascii.fits", tmpdir);
    snprintf(name, sizeof name, "!%s", path);
    char *tt[] = {"x"}, *tf[] = {"F8.3"};
    fits_create_file(&ff, name, &status);
    fits_create_img(ff, BYTE_IMG, 0, NULL, &status);
    fits_create_tbl(ff, ASCII_TBL, 0, 1, tt, tf, NULL, "A", &status);
    fits_close_file(ff, &status);
    assert_int_equal(sv_det_file_open(path, &f, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "ASCII"));
    /* a variable-length column */
    snprintf(path, sizeof path, "%s/vla.fits", tmpdir);
    snprintf(name, sizeof name, "!%s", path);
    char *vt[] = {"xpos", "lc"}, *vf[] = {"1D", "1PE(10)"};
    fits_create_file(&ff, name, &status);
    fits_create_img(ff, BYTE_IMG, 0, NULL, &status);
    fits_create_tbl(ff, BINARY_TBL, 0, 2, vt, vf, NULL, "V", &status);
    fits_close_file(ff, &status);
    assert_int_equal(status, 0);
    assert_int_equal(sv_det_file_open(path, &f, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "'lc'"));
    /* a truncated table: opens or not, but reading never crashes */
    char rich[300];
    snprintf(rich, sizeof rich, "%s/rich.fits", tmpdir);
    write_rich_table(rich);
    snprintf(path, sizeof path, "%s/cut.fits", tmpdir);
    FILE *in = fopen(rich, "rb"), *out = fopen(path, "wb");
    char buf[2880];
    for (int blk = 0; blk < 6 && fread(buf, 1, sizeof buf, in) == sizeof buf; blk++)
        fwrite(buf, 1, sizeof buf, out);
    fclose(in);
    fclose(out);
    int st = sv_det_file_open(path, &f, &err);
    if (st == 0) {
        static double v[NR];
        assert_int_equal(sv_det_file_read_double(f, 1, 0, NR, v, &err), SV_ERR_IO);
        assert_non_null(strstr(err.text, "cut.fits"));
        sv_det_file_close(f);
    } else {
        assert_non_null(strstr(err.text, "cut.fits"));
    }
    /* extended syntax picks the HDU */
    char sel[320];
    snprintf(sel, sizeof sel, "%s[1]", rich);
    assert_int_equal(sv_det_file_open(sel, &f, &err), 0);
    sv_det_file_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_plan_in_memory),
        cmocka_unit_test(test_features_plan),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_table_validate),
        cmocka_unit_test(test_column_cells),
        cmocka_unit_test(test_fits_table),
        cmocka_unit_test(test_fits_table_errors),
        cmocka_unit_test(test_csv_table),
        cmocka_unit_test(test_ecsv_table),
        cmocka_unit_test(test_text_table_errors),
    };
    return cmocka_run_group_tests_name("detections", tests, setup, teardown);
}
