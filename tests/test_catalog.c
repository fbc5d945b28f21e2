/* test_catalog.c — the output file: input columns copied with their types
 * and cards, the stage's columns, FLAGn and provenance cards, checksums,
 * stamps as columns or a STAMPS extension, zero rows, and atomic writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "pipeline/catalog.h"
#include "pipeline/detections.h"
#include "pipeline/stage_params.h"
#include "data/stamp_table.h"
#include "fits/stamps.h"

static char tmpdir[256];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sv_test_cat_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_provenance(void **state)
{
    sv_provenance p;
    memset(&p, 0, sizeof p);
    assert_int_equal(sv_prov_str(&p, "RBMODEL", "braai", "model"), 0);
    assert_int_equal(sv_prov_dbl(&p, "RBTHRESH", 0.5, NULL), 0);
    assert_int_equal(sv_prov_str(&p, "RBMODEL", "braai-d6_m9", "model"), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(sv_prov_get(&p, "RBMODEL"), "braai-d6_m9");
    assert_int_equal(sv_prov_str(&p, "lower", "x", NULL), SV_ERR_ARG);
    assert_int_equal(sv_prov_str(&p, "TOOLONGKEY", "x", NULL), SV_ERR_ARG);
    assert_int_equal(sv_prov_str(&p, "BIN", "a\001b", NULL), 0);
    assert_string_equal(sv_prov_get(&p, "BIN"), "a?b");
    assert_null(sv_prov_get(&p, "NONE"));
}

static sv_model *class_model(const char *const *names, int n)
{
    sv_model *m = sv_model_new(NULL);
    m->task = SV_TASK_CLASS;
    snprintf(m->name, sizeof m->name, "cls");
    m->n_classes = n;
    for (int k = 0; k < n; k++)
        snprintf(m->classes[k], SV_LABEL_MAX, "%s", names[k]);
    return m;
}

/* The generic conventions: score "rb", no version column, origin 1. */
static const sv_out_names *rb_names(const char *score)
{
    static sv_out_names nm;
    nm = (sv_out_names){score, NULL, "", 1, NULL};
    return &nm;
}

static void test_schema(void **state)
{
    sv_out_schema s;
    sv_error err;
    sv_error_clear(&err);
    const char *cls[3] = {"transient", "SN-Ia", "variable"};
    sv_model *m = class_model(cls, 3);
    assert_int_equal(sv_out_schema_make(rb_names("rb"), m, SV_SAVE_COLUMNS, 63, &s, &err), 0);
    const char *want[] = {"rb",     "REAL",  "P_TRANSIENT", "P_SN_IA", "P_VARIABLE", "CLASS",
                          "FLAGS",  "BADFRAC", "XPIX",     "YPIX",    "SCI",        "REF",
                          "DIFF"};
    assert_int_equal(sv_out_schema_ncols(&s), 13);
    for (int i = 0; i < 13; i++)
        assert_string_equal(sv_out_schema_colname(&s, i), want[i]);
    assert_int_equal(sv_out_schema_col(&s, 5)->repeat, 9); /* CLASS: the longest name */
    assert_int_equal(sv_out_schema_col(&s, 5)->type, DIA_COL_STRING);
    assert_int_equal(sv_out_schema_make(rb_names("rb"), NULL, SV_SAVE_NONE, 63, &s, &err), 0);
    assert_int_equal(sv_out_schema_ncols(&s), 6);
    assert_string_equal(sv_out_schema_colname(&s, 2), "FLAGS");
    /* bad and clashing names */
    assert_int_equal(sv_out_schema_make(rb_names("r b"), NULL, SV_SAVE_NONE, 63, &s, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "rb_column"));
    assert_int_equal(sv_out_schema_make(rb_names("flags"), NULL, SV_SAVE_NONE, 63, &s, &err), SV_ERR_ARG);
    const char *dup[2] = {"sn ia", "sn-ia"};
    sv_model *m2 = class_model(dup, 2);
    assert_int_equal(sv_out_schema_make(rb_names("rb"), m2, SV_SAVE_NONE, 63, &s, &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "P_SN_IA"));
    /* an input column named like an output one */
    assert_int_equal(sv_out_schema_make(rb_names("rb"), NULL, SV_SAVE_NONE, 63, &s, &err), 0);
    int64_t v[1] = {0};
    dia_column cols[2] = {{.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = v},
                          {.name = "RB", .type = DIA_COL_INT64, .repeat = 1, .data = v}};
    dia_table t = {1, 2, cols, 0, NULL};
    sv_col_source src = sv_table_source(&t, "ztf.fits");
    assert_int_equal(sv_out_schema_check_clash(&s, &src, &err), SV_ERR_SHAPE);
    assert_non_null(strstr(err.text, "'RB'"));
    assert_non_null(strstr(err.text, "rb_column"));
    assert_non_null(strstr(err.text, "ztf.fits"));
    cols[1].name = "drb";
    assert_int_equal(sv_out_schema_check_clash(&s, &src, &err), 0);
    sv_model_free(m);
    sv_model_free(m2);
}

/* an input table: candid K, xpos D (TUNIT pix), vec 3E with TDIM, flag I
 * with TNULL, name 6A, and a note card */
static void write_input(const char *path, int n)
{
    fitsfile *fp;
    int status = 0;
    char name[400];
    snprintf(name, sizeof name, "!%s", path);
    char *tt[] = {"candid", "xpos", "vec", "qual", "name"};
    char *tf[] = {"1K", "1D", "4E", "1I", "6A"};
    char *tu[] = {"", "pix", "adu", "", ""};
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, 5, tt, tf, tu, "CANDS", &status);
    long dims[2] = {2, 2};
    fits_write_tdim(fp, 3, 2, dims, &status);
    long tnull = -1;
    fits_write_key(fp, TLONG, "TNULL4", &tnull, "null flag", &status);
    fits_write_key_str(fp, "NIGHT", "20260101", "observing night", &status);
    fits_set_hdustruc(fp, &status);
    for (int i = 0; i < n; i++) {
        long long id = 1660293514215020000LL + i;
        double x = 10.5 + i;
        float vec[4] = {(float)i, 1, 2, 3};
        short q = (short)(i == 1 ? -1 : i);
        char nm[16], *np = nm;
        snprintf(nm, sizeof nm, "obj%d", i);
        fits_write_col(fp, TLONGLONG, 1, i + 1, 1, 1, &id, &status);
        fits_write_col(fp, TDOUBLE, 2, i + 1, 1, 1, &x, &status);
        fits_write_col(fp, TFLOAT, 3, i + 1, 1, 4, vec, &status);
        fits_write_col(fp, TSHORT, 4, i + 1, 1, 1, &q, &status);
        fits_write_col(fp, TSTRING, 5, i + 1, 1, 1, &np, &status);
    }
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
}

typedef struct res_bufs {
    float rb[8], prob[8 * 2], badfrac[8], st[3][8 * 25];
    uint8_t real[8];
    int16_t label[8];
    int32_t flags[8];
    double x[8], y[8];
    int64_t id[8];
} res_bufs;

static sv_results make_results(res_bufs *b, int n, int K, int stamps)
{
    for (int i = 0; i < n; i++) {
        b->rb[i] = i == 2 ? NAN : 0.1f * (float)(i + 1);
        b->real[i] = b->rb[i] >= 0.25f;
        b->flags[i] = i == 2 ? (int32_t)SV_FLAG_OFF_IMAGE : (i == 1 ? (int32_t)SV_FLAG_EDGE : 0);
        b->badfrac[i] = i == 2 ? NAN : 0.01f * (float)i;
        b->x[i] = 11.5 + i;
        b->y[i] = 3.0;
        b->id[i] = 1660293514215020000LL + i;
        b->label[i] = i == 2 ? -1 : (int16_t)(i % K);
        for (int k = 0; k < K; k++)
            b->prob[i * K + k] = i == 2 ? NAN : (k == i % K ? 0.75f : 0.25f);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 25; p++)
                b->st[c][i * 25 + p] = (float)(c * 1000 + i * 100 + p);
    }
    sv_results r = {.n = n, .rb = b->rb, .real = b->real, .prob = b->prob, .label = b->label,
                    .flags = b->flags, .badfrac = b->badfrac, .xpix = b->x, .ypix = b->y,
                    .id = b->id};
    if (stamps)
        for (int c = 0; c < 3; c++)
            r.stamp[c] = b->st[c];
    return r;
}

static int count_leftovers(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += sv_atomic_is_tmp_name(e->d_name, NULL, 0, NULL); /* atomic_file.h */
    closedir(d);
    return n;
}

static void write_catalog(const char *in, const char *out, int n, sv_stamp_save save,
                          const sv_model *cls, const sv_out_names *names)
{
    sv_det_file *f = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_det_file_open(in, &f, &err), 0);
    sv_out_schema s;
    assert_int_equal(sv_out_schema_make(names, cls, save, 5, &s, &err), 0);
    snprintf(s.survey, sizeof s.survey, "ZTF");
    snprintf(s.band, sizeof s.band, "r");
    s.pixscale = 1.01;
    sv_provenance p;
    memset(&p, 0, sizeof p);
    sv_prov_str(&p, "RBMODEL", "test-model", "model");
    sv_prov_dbl(&p, "RBTHRESH", 0.25, "threshold");
    sv_prov_dbl(&p, "MJD-OBS", 60310.123456789012, "from the science image");
    sv_out_schema_prov(&s, &p);
    sv_prov_str(&p, "DETFILE",
                "/a/very/long/path/that/does/not/fit/in/one/card/because/it/is/longer/than/"
                "sixty/eight/characters.fits",
                NULL);
    sv_catalog *cat = NULL;
    int existed = access(out, F_OK) == 0;
    assert_int_equal(sv_catalog_open(out, sv_det_file_schema(f), &s, n, &p, &cat, &err), 0);
    unsigned char raw[8 * 64];
    assert_int_equal(sv_det_file_read_raw(f, 0, n, raw, &err), 0);
    res_bufs b;
    int K = cls ? cls->n_classes : 1;
    sv_results r = make_results(&b, n, K, save != SV_SAVE_NONE);
    /* two chunks */
    int h = n / 2;
    sv_results r1 = r, r2 = r;
    r1.n = h;
    r2.n = n - h;
    r2.rb += h;
    r2.real += h;
    r2.prob += h * K;
    r2.label += h;
    r2.flags += h;
    r2.badfrac += h;
    r2.xpix += h;
    r2.ypix += h;
    r2.id += h;
    for (int c = 0; c < 3 && r.stamp[c]; c++)
        r2.stamp[c] += h * 25;
    assert_int_equal(sv_catalog_write(cat, 0, raw, &r1, &err), 0);
    assert_int_equal(sv_catalog_write(cat, h, raw + h * sv_det_file_schema(f)->rowbytes, &r2,
                                      &err),
                     0);
    /* the output appears only on commit */
    assert_int_equal(access(out, F_OK), existed ? 0 : -1);
    assert_int_equal(sv_catalog_commit(cat, &err), 0);
    assert_int_equal(access(out, F_OK), 0);
    assert_int_equal(count_leftovers(), 0);
    sv_det_file_close(f);
}

static void read_key(fitsfile *fp, const char *key, char *val)
{
    int status = 0;
    char comment[FLEN_COMMENT];
    fits_read_key_str(fp, key, val, comment, &status);
    assert_int_equal(status, 0);
}

static void test_write_and_read_back(void **state)
{
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/in.fits", tmpdir);
    snprintf(out, sizeof out, "%s/out.fits", tmpdir);
    write_input(in, 5);
    const char *cls[2] = {"transient", "bogus"};
    sv_model *m = class_model(cls, 2);
    write_catalog(in, out, 5, SV_SAVE_COLUMNS, m, rb_names("rb"));
    sv_model_free(m);

    fitsfile *fp;
    int status = 0, ncols = 0, hdutype;
    long nrows = 0;
    fits_open_diskfile(&fp, out, READONLY, &status);
    /* every HDU's checksum verifies */
    int nhdu = 0;
    fits_get_num_hdus(fp, &nhdu, &status);
    assert_int_equal(nhdu, 2);
    for (int h = 1; h <= nhdu; h++) {
        int dok = 0, hok = 0;
        fits_movabs_hdu(fp, h, &hdutype, &status);
        fits_verify_chksum(fp, &dok, &hok, &status);
        assert_int_equal(dok, 1);
        assert_int_equal(hok, 1);
    }
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    assert_int_equal(status, 0);
    fits_get_num_rows(fp, &nrows, &status);
    fits_get_num_cols(fp, &ncols, &status);
    assert_int_equal(nrows, 5);
    assert_int_equal(ncols, 5 + 2 + 2 + 1 + 4 + 3);
    char v[FLEN_VALUE];
    read_key(fp, "TTYPE1", v);
    assert_string_equal(v, "candid");
    read_key(fp, "TFORM3", v);
    assert_string_equal(v, "4E");
    read_key(fp, "TDIM3", v);
    assert_string_equal(v, "(2,2)");
    read_key(fp, "TUNIT2", v);
    assert_string_equal(v, "pix");
    read_key(fp, "NIGHT", v);
    assert_string_equal(v, "20260101");
    read_key(fp, "TTYPE6", v);
    assert_string_equal(v, "rb");
    read_key(fp, "TTYPE8", v);
    assert_string_equal(v, "P_TRANSIENT");
    read_key(fp, "TTYPE10", v);
    assert_string_equal(v, "CLASS");
    read_key(fp, "TFORM10", v);
    assert_string_equal(v, "9A");
    read_key(fp, "TTYPE15", v);
    assert_string_equal(v, "SCI");
    read_key(fp, "TDIM15", v);
    assert_string_equal(v, "(5,5)");
    read_key(fp, "FLAG1", v);
    assert_string_equal(v, "EDGE");
    read_key(fp, "FLAG8", v);
    assert_string_equal(v, "OFFIMAGE");
    read_key(fp, "FLAG32", v);
    assert_string_equal(v, "FAILED");
    read_key(fp, "RBMODEL", v);
    assert_string_equal(v, "test-model");
    read_key(fp, "DATE", v);
    char *longv = NULL;
    fits_read_key_longstr(fp, "DETFILE", &longv, NULL, &status);
    assert_non_null(strstr(longv, "characters.fits"));
    fits_free_memory(longv, &status);
    double thr = 0;
    fits_read_key(fp, TDOUBLE, "RBTHRESH", &thr, NULL, &status);
    assert_float_equal(thr, 0.25, 0);

    /* values: input bytes intact (64-bit ids, TNULL), results in order */
    long long id[5];
    short q[5];
    int anynul = 0;
    char nul[5];
    fits_read_col(fp, TLONGLONG, 1, 1, 1, 5, NULL, id, &anynul, &status);
    assert_true(id[4] == 1660293514215020004LL);
    fits_read_colnull(fp, TSHORT, 4, 1, 1, 5, q, nul, &anynul, &status);
    assert_int_equal(nul[1], 1);
    assert_int_equal(q[3], 3);
    float vec[20];
    fits_read_col(fp, TFLOAT, 3, 1, 1, 20, NULL, vec, &anynul, &status);
    assert_float_equal(vec[4 * 3], 3, 0);
    float rb[5], p0[5], st[3 * 25];
    fits_read_col(fp, TFLOAT, 6, 1, 1, 5, NULL, rb, &anynul, &status);
    assert_float_equal(rb[0], 0.1, 1e-7);
    assert_true(isnan(rb[2]));
    assert_float_equal(rb[4], 0.5, 1e-7);
    char real[5];
    fits_read_col(fp, TLOGICAL, 7, 1, 1, 5, NULL, real, &anynul, &status);
    assert_int_equal(real[0], 0);
    assert_int_equal(real[4], 1);
    fits_read_col(fp, TFLOAT, 8, 1, 1, 5, NULL, p0, &anynul, &status);
    assert_float_equal(p0[0], 0.75, 0);
    assert_float_equal(p0[1], 0.25, 0);
    char lb[5][16], *lbp[5] = {lb[0], lb[1], lb[2], lb[3], lb[4]};
    fits_read_col(fp, TSTRING, 10, 1, 1, 5, NULL, lbp, &anynul, &status);
    assert_string_equal(lb[0], "transient");
    assert_string_equal(lb[1], "bogus");
    assert_true(!strcmp(lb[2], "") || !strcmp(lb[2], " ")); /* cfitsio's empty string */
    int flags[5];
    fits_read_col(fp, TINT, 11, 1, 1, 5, NULL, flags, &anynul, &status);
    assert_int_equal(flags[1], SV_FLAG_EDGE);
    assert_int_equal(flags[2], SV_FLAG_OFF_IMAGE);
    double xp[5];
    fits_read_col(fp, TDOUBLE, 13, 1, 1, 5, NULL, xp, &anynul, &status);
    assert_float_equal(xp[3], 14.5, 0);
    fits_read_col(fp, TFLOAT, 17, 4, 1, 25, NULL, st, &anynul, &status);
    assert_float_equal(st[7], 2000 + 300 + 7, 0);
    assert_int_equal(status, 0);
    fits_close_file(fp, &status);
}

static void test_stamps_extension(void **state)
{
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/in.fits", tmpdir);
    snprintf(out, sizeof out, "%s/out_ext.fits", tmpdir);
    write_input(in, 6);
    write_catalog(in, out, 6, SV_SAVE_EXTENSION, NULL, rb_names("rb"));
    /* the labelled-stamps reader takes the file as it is */
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_reader *r = sv_stamp_reader_open(out, SV_STAMP_VERIFY_CHECKSUM, &err);
    if (!r)
        fail_msg("stamp reader: %s", err.text);
    assert_int_equal(sv_stamp_reader_nrows(r), 6);
    const sv_stamp_meta *meta = sv_stamp_reader_meta(r);
    assert_int_equal(meta->stamp_size, 5);
    assert_int_equal(meta->n_class, 0);
    assert_string_equal(meta->survey, "ZTF");
    assert_float_equal(meta->pixscale, 1.01, 1e-12);
    assert_true(meta->columns & SV_STAMP_COL_POS);
    assert_true(meta->columns & SV_STAMP_COL_FLAGS);
    sv_stamp_batch b;
    assert_int_equal(sv_stamp_batch_init(&b, 6, 5, &err), 0);
    assert_int_equal(sv_stamp_reader_read(r, 0, 6, &b, &err), 6);
    assert_true(b.id[5] == 1660293514215020005LL);
    assert_int_equal(b.label[3], -1);
    assert_int_equal(b.flags[2], SV_FLAG_OFF_IMAGE);
    assert_float_equal(b.x[1], 12.5, 0);
    assert_float_equal(b.diff[4 * 25 + 24], 2000 + 400 + 24, 0);
    sv_stamp_batch_free(&b);
    sv_stamp_reader_close(r);
    /* the main table has no stamp columns */
    fitsfile *fp;
    int status = 0, ncols = 0;
    fits_open_diskfile(&fp, out, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    fits_get_num_cols(fp, &ncols, &status);
    assert_int_equal(ncols, 5 + 6);
    fits_close_file(fp, &status);
}

/* The survey conventions per preset (detections.h, catalog.h): ZTF drb +
 * drbversion, LSST reliability, SExtractor and generic rb; the positions'
 * origin is the input's, and rb_column renames the score and its version
 * column together. */
static void test_preset_names(void **state)
{
    static const struct {
        const char *preset, *rb_column, *score, *version;
        int origin;
        const char *flags;
    } want[] = {
        {"ztf", "", "drb", "drbversion", 1, "FLAGS"},
        {"lsst", "", "reliability", "", 0, "FLAGS"},
        {"sextractor", "", "rb", "", 1, "SV_FLAGS"}, /* beside SExtractor's FLAGS */
        {"generic", "", "rb", "", 1, "FLAGS"},
        {"ztf", "drb_sv", "drb_sv", "drb_svversion", 1, "FLAGS"},
        {"lsst", "rb", "rb", "", 0, "FLAGS"},
    };
    for (size_t t = 0; t < sizeof want / sizeof want[0]; t++) {
        dia_kv kv[2] = {{"preset", want[t].preset}, {"rb_column", want[t].rb_column}};
        sv_stage_config cfg;
        sv_det_map map;
        sv_error err;
        sv_error_clear(&err);
        assert_int_equal(sv_stage_config_parse(kv, 2, &cfg, &err), 0);
        assert_int_equal(sv_det_map_from_config(&cfg, &map, &err), 0);
        assert_string_equal(map.score, want[t].score);
        assert_string_equal(map.score_version, want[t].version);
        assert_int_equal(map.origin, want[t].origin);
        sv_out_names nm = {map.score, map.score_version, "d6_m7", map.origin, map.flags};
        sv_out_schema s;
        assert_int_equal(sv_out_schema_make(&nm, NULL, SV_SAVE_NONE, 63, &s, &err), 0);
        int v = want[t].version[0] != '\0';
        assert_int_equal(sv_out_schema_ncols(&s), 6 + v);
        assert_string_equal(sv_out_schema_colname(&s, 0), want[t].score);
        if (v) {
            assert_string_equal(sv_out_schema_colname(&s, 1), want[t].version);
            assert_int_equal(sv_out_schema_col(&s, 1)->type, DIA_COL_STRING);
            assert_int_equal(sv_out_schema_col(&s, 1)->repeat, 5); /* "d6_m7" */
        }
        const sv_out_col *x = sv_out_schema_col(&s, 4 + v);
        assert_string_equal(x->name, "XPIX");
        assert_non_null(strstr(x->description, want[t].origin ? "1-based" : "0-based"));
        sv_provenance p;
        memset(&p, 0, sizeof p);
        sv_out_schema_prov(&s, &p);
        assert_string_equal(sv_prov_get(&p, "RBCOL"), want[t].score);
        assert_string_equal(sv_prov_get(&p, "FLAGCOL"), want[t].flags);
        assert_string_equal(sv_out_schema_colname(&s, 2 + v), want[t].flags);
        assert_string_equal(sv_prov_get(&p, "PIXORIG"), want[t].origin ? "1" : "0");
    }
}

/* A ZTF-named, 0-based (pixel_origin = 0) file: the names, the version on
 * every row, TCOMMn saying the origin, PIXORIG, the STAMPS extension's X
 * still 1-based (stamp_table.h), MJD-OBS with every digit. */
static void test_conventions_in_file(void **state)
{
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/in.fits", tmpdir);
    snprintf(out, sizeof out, "%s/out_conv.fits", tmpdir);
    write_input(in, 4);
    sv_out_names nm = {"drb", "drbversion", "d6_m7", 0, "FLAGS"};
    write_catalog(in, out, 4, SV_SAVE_EXTENSION, NULL, &nm);
    fitsfile *fp;
    int status = 0, anynul = 0;
    fits_open_diskfile(&fp, out, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    assert_int_equal(status, 0);
    char v[FLEN_VALUE];
    read_key(fp, "TTYPE6", v);
    assert_string_equal(v, "drb");
    read_key(fp, "TTYPE7", v);
    assert_string_equal(v, "drbversion");
    read_key(fp, "TFORM7", v);
    assert_string_equal(v, "5A");
    read_key(fp, "TTYPE11", v);
    assert_string_equal(v, "XPIX");
    read_key(fp, "TCOMM11", v);
    assert_non_null(strstr(v, "0-based"));
    read_key(fp, "TCOMM6", v);
    assert_non_null(strstr(v, "real/bogus score"));
    read_key(fp, "RBCOL", v);
    assert_string_equal(v, "drb");
    int orig = -1;
    fits_read_key(fp, TINT, "PIXORIG", &orig, NULL, &status);
    assert_int_equal(orig, 0);
    /* every digit of the double: the card's text reads back exactly */
    double mjd = 0;
    fits_read_key(fp, TDOUBLE, "MJD-OBS", &mjd, NULL, &status);
    assert_true(mjd == 60310.123456789012);
    char vers[4][16], *vp[4] = {vers[0], vers[1], vers[2], vers[3]};
    fits_read_col(fp, TSTRING, 7, 1, 1, 4, NULL, vp, &anynul, &status);
    for (int i = 0; i < 4; i++)
        assert_string_equal(vers[i], "d6_m7");
    double xp[4];
    fits_read_col(fp, TDOUBLE, 11, 1, 1, 4, NULL, xp, &anynul, &status);
    assert_float_equal(xp[1], 12.5, 0); /* as given: the schema's origin */
    fits_movnam_hdu(fp, BINARY_TBL, "STAMPS", 0, &status);
    int cx = 0;
    fits_get_colnum(fp, CASESEN, "X", &cx, &status);
    fits_read_col(fp, TDOUBLE, cx, 1, 1, 4, NULL, xp, &anynul, &status);
    assert_float_equal(xp[1], 13.5, 0); /* 1-based in the labelled-stamps layout */
    assert_int_equal(status, 0);
    fits_close_file(fp, &status);
}

static void test_zero_rows(void **state)
{
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/empty.fits", tmpdir);
    snprintf(out, sizeof out, "%s/out_empty.fits", tmpdir);
    write_input(in, 0);
    write_catalog(in, out, 0, SV_SAVE_EXTENSION, NULL, rb_names("rb"));
    fitsfile *fp;
    int status = 0, ncols = 0;
    long nrows = -1;
    fits_open_diskfile(&fp, out, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "DETECTIONS", 0, &status);
    fits_get_num_cols(fp, &ncols, &status);
    fits_get_num_rows(fp, &nrows, &status);
    assert_int_equal(status, 0);
    assert_int_equal(nrows, 0);
    assert_int_equal(ncols, 11);
    fits_movnam_hdu(fp, BINARY_TBL, "STAMPS", 0, &status);
    fits_get_num_rows(fp, &nrows, &status);
    assert_int_equal(status, 0);
    assert_int_equal(nrows, 0);
    fits_close_file(fp, &status);
}

static void test_atomic(void **state)
{
    char in[300], out[300];
    snprintf(in, sizeof in, "%s/in.fits", tmpdir);
    snprintf(out, sizeof out, "%s/keep.fits", tmpdir);
    write_input(in, 3);
    FILE *fp = fopen(out, "w");
    fputs("old content", fp);
    fclose(fp);
    sv_det_file *f = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_det_file_open(in, &f, &err), 0);
    sv_out_schema s;
    sv_out_schema_make(rb_names("rb"), NULL, SV_SAVE_NONE, 5, &s, &err);
    sv_catalog *cat = NULL;
    assert_int_equal(sv_catalog_open(out, sv_det_file_schema(f), &s, 3, NULL, &cat, &err), 0);
    assert_int_equal(count_leftovers(), 1);
    sv_catalog_abort(cat);
    assert_int_equal(count_leftovers(), 0);
    char buf[32] = "";
    fp = fopen(out, "r");
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "old content");
    /* rows outside the table are refused, and the file never appears */
    assert_int_equal(sv_catalog_open(out, sv_det_file_schema(f), &s, 3, NULL, &cat, &err), 0);
    res_bufs b;
    sv_results r = make_results(&b, 4, 1, 0);
    unsigned char raw[4 * 64] = {0};
    assert_int_not_equal(sv_catalog_write(cat, 0, raw, &r, &err), 0);
    sv_catalog_abort(cat);
    assert_int_equal(count_leftovers(), 0);
    /* a folder that does not exist */
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/out.fits", tmpdir);
    assert_int_equal(sv_catalog_open(bad, sv_det_file_schema(f), &s, 3, NULL, &cat, &err),
                     SV_ERR_IO);
    assert_null(cat);
    assert_non_null(strstr(err.text, bad));
    sv_det_file_close(f);
    /* the old file is replaced by a complete one */
    write_catalog(in, out, 3, SV_SAVE_NONE, NULL, rb_names("rb"));
    fitsfile *ff;
    int status = 0;
    fits_open_diskfile(&ff, out, READONLY, &status);
    assert_int_equal(status, 0);
    fits_close_file(ff, &status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provenance),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_write_and_read_back),
        cmocka_unit_test(test_stamps_extension),
        cmocka_unit_test(test_preset_names),
        cmocka_unit_test(test_conventions_in_file),
        cmocka_unit_test(test_zero_rows),
        cmocka_unit_test(test_atomic),
    };
    return cmocka_run_group_tests_name("catalog", tests, setup, teardown);
}
