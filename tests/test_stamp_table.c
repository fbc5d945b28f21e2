/* test_stamp_table.c — the labelled-stamps FITS table (stamp_table.h):
 * bit-exact round trips with every column group, chunked streaming and
 * random access, atomic replacement, label checks on writing, label by
 * name on reading, gzipped tables, and damaged files (truncated, garbage,
 * missing column, wrong TDIM, label out of range, corrupted data under
 * checksum verification) each giving an error that names the file. */
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
#include "data/stamp_table.h"

static char tmpdir[256];

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static const char *const classes4[] = {"transient", "variable", "asteroid", "bogus"};

/* fill rows [0, n) of b with values derived from global row numbers */
static void fill_batch(sv_stamp_batch *b, long n, long first_row)
{
    int S = b->stamp_size;
    size_t np = (size_t)S * S;
    b->n = n;
    for (long i = 0; i < n; i++) {
        long g = first_row + i;
        b->id[i] = 1000000000000LL + g;
        for (size_t j = 0; j < np; j++) {
            b->sci[i * np + j] = (float)(g * 1.5 + j * 0.25);
            b->ref[i * np + j] = (float)(-g - 1e-3 * j);
            b->diff[i * np + j] = (float)sin((double)(g + j));
        }
        if (g % 7 == 3) /* NaN pixels must survive */
            b->sci[i * np + 5] = NAN;
        b->label[i] = (int32_t)(g % 4);
        b->label_name[i][0] = '\0';
        b->x[i] = 1.0 + g * 0.5;
        b->y[i] = 2048.25 - g;
        b->flags[i] = (int32_t)(g & 5);
        snprintf(b->true_cls[i], sizeof b->true_cls[i], "%s", classes4[g % 4]);
        snprintf(b->subtype[i], sizeof b->subtype[i], "sub_%ld", g % 13);
        b->mag[i] = (float)(18.0 + 0.01 * g);
        b->true_mag[i] = g % 5 ? (float)(18.1 + 0.01 * g) : NAN;
        b->snr[i] = (float)(g % 2 ? -5.5 - g : 5.5 + g);
        b->dx[i] = (float)(0.1 * (g % 3) - 0.1);
        b->dy[i] = NAN;
        b->fwhm_sci[i] = 2.0f;
        b->fwhm_ref[i] = 1.8f;
    }
}

static sv_stamp_meta meta4(int S, unsigned columns)
{
    sv_stamp_meta m;
    sv_stamp_meta_init(&m, S);
    assert_int_equal(sv_stamp_meta_set_classes(&m, classes4, 4, NULL), 0);
    strcpy(m.survey, "ztf");
    strcpy(m.band, "r");
    m.pixscale = 1.01;
    m.has_seed = 1;
    m.seed = 18446744073709551557ull; /* a large unsigned seed survives */
    m.columns = columns;
    return m;
}

/* write total rows in batches of `step` */
static void write_table(const char *path, int S, long total, long step, unsigned columns)
{
    sv_stamp_meta m = meta4(S, columns);
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_writer *w = sv_stamp_writer_create(path, &m, &err);
    assert_non_null(w);
    assert_int_equal(sv_stamp_writer_key_str(w, "CREATOR", "test_stamp_table", NULL, &err), 0);
    assert_int_equal(sv_stamp_writer_key_dbl(w, "SNRMIN", 5.0, "threshold", &err), 0);
    sv_stamp_batch b;
    assert_int_equal(sv_stamp_batch_init(&b, step, S, &err), 0);
    for (long first = 0; first < total; first += step) {
        long n = total - first < step ? total - first : step;
        fill_batch(&b, n, first);
        assert_int_equal(sv_stamp_writer_append(w, &b, &err), 0);
    }
    assert_int_equal(sv_stamp_writer_rows(w), total);
    sv_stamp_batch_free(&b);
    assert_int_equal(sv_stamp_writer_finish(w, &err), 0);
}

static void check_rows(const sv_stamp_batch *got, long first_row, unsigned columns)
{
    int S = got->stamp_size;
    size_t np = (size_t)S * S;
    sv_stamp_batch want;
    assert_int_equal(sv_stamp_batch_init(&want, got->n, S, NULL), 0);
    fill_batch(&want, got->n, first_row);
    for (long i = 0; i < got->n; i++) {
        long g = first_row + i;
        assert_int_equal(got->id[i], want.id[i]);
        assert_memory_equal(got->sci + i * np, want.sci + i * np, np * sizeof(float));
        assert_memory_equal(got->ref + i * np, want.ref + i * np, np * sizeof(float));
        assert_memory_equal(got->diff + i * np, want.diff + i * np, np * sizeof(float));
        assert_int_equal(got->label[i], g % 4);
        assert_string_equal(got->label_name[i], classes4[g % 4]);
        if (columns & SV_STAMP_COL_POS) {
            assert_true(got->x[i] == want.x[i]);
            assert_true(got->y[i] == want.y[i]);
        } else
            assert_true(isnan(got->x[i]));
        if (columns & SV_STAMP_COL_FLAGS)
            assert_int_equal(got->flags[i], want.flags[i]);
        if (columns & SV_STAMP_COL_TRUTH) {
            assert_string_equal(got->true_cls[i], want.true_cls[i]);
            assert_string_equal(got->subtype[i], want.subtype[i]);
            assert_memory_equal(&got->mag[i], &want.mag[i], sizeof(float));
            assert_memory_equal(&got->true_mag[i], &want.true_mag[i], sizeof(float));
            assert_memory_equal(&got->snr[i], &want.snr[i], sizeof(float));
            assert_memory_equal(&got->dx[i], &want.dx[i], sizeof(float));
            assert_true(isnan(got->dy[i]));
            assert_true(got->fwhm_ref[i] == 1.8f);
        } else {
            assert_string_equal(got->true_cls[i], "");
            assert_true(isnan(got->snr[i]));
        }
    }
    sv_stamp_batch_free(&want);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const unsigned groups[] = {0, SV_STAMP_COL_TRUTH,
                                      SV_STAMP_COL_POS | SV_STAMP_COL_FLAGS | SV_STAMP_COL_TRUTH};
    for (int k = 0; k < 3; k++) {
        char p[512];
        tmp_path(p, sizeof p, "rt.fits");
        write_table(p, 21, 138, 50, groups[k]);
        sv_error err;
        sv_error_clear(&err);
        sv_stamp_reader *r = sv_stamp_reader_open(p, SV_STAMP_VERIFY_CHECKSUM, &err);
        assert_non_null(r);
        const sv_stamp_meta *m = sv_stamp_reader_meta(r);
        assert_int_equal(sv_stamp_reader_nrows(r), 138);
        assert_int_equal(m->stamp_size, 21);
        assert_int_equal(m->n_class, 4);
        for (int c = 0; c < 4; c++)
            assert_string_equal(m->class_name[c], classes4[c]);
        assert_string_equal(m->survey, "ztf");
        assert_string_equal(m->band, "r");
        assert_string_equal(m->bunit, "adu");
        assert_true(m->pixscale == 1.01);
        assert_true(m->has_seed);
        assert_true(m->seed == 18446744073709551557ull);
        assert_int_equal(m->columns, groups[k]);
        sv_stamp_batch b;
        assert_int_equal(sv_stamp_batch_init(&b, 200, 21, &err), 0);
        assert_int_equal(sv_stamp_reader_read(r, 0, 200, &b, &err), 138);
        check_rows(&b, 0, groups[k]);
        sv_stamp_batch_free(&b);
        sv_stamp_reader_close(r);
        /* the header cards the caller added are there */
        fitsfile *f = NULL;
        int st = 0;
        char val[FLEN_VALUE];
        fits_open_file(&f, p, READONLY, &st);
        fits_movnam_hdu(f, BINARY_TBL, "STAMPS", 0, &st);
        fits_read_key_str(f, "CREATOR", val, NULL, &st);
        assert_int_equal(st, 0);
        assert_string_equal(val, "test_stamp_table");
        fits_read_key_str(f, "TDIM2", val, NULL, &st);
        assert_string_equal(val, "(21,21)");
        fits_close_file(f, &st);
        unlink(p);
    }
}

static void test_chunked(void **state)
{
    (void)state;
    char p[512];
    tmp_path(p, sizeof p, "chunk.fits");
    write_table(p, 15, 101, 101, SV_STAMP_COL_TRUTH);
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_reader *r = sv_stamp_reader_open(p, 0, &err);
    assert_non_null(r);
    sv_stamp_batch b;
    assert_int_equal(sv_stamp_batch_init(&b, 16, 15, &err), 0);
    long total = 0, calls = 0, got;
    while ((got = sv_stamp_reader_next(r, &b, &err)) > 0) {
        assert_true(got <= 16);
        check_rows(&b, total, SV_STAMP_COL_TRUTH);
        total += got;
        calls++;
    }
    assert_int_equal(got, 0);
    assert_int_equal(total, 101);
    assert_int_equal(calls, 7); /* 6 x 16 + 5 */
    /* random access, and past the end */
    assert_int_equal(sv_stamp_reader_read(r, 97, 10, &b, &err), 4);
    check_rows(&b, 97, SV_STAMP_COL_TRUTH);
    assert_int_equal(sv_stamp_reader_read(r, 101, 10, &b, &err), 0);
    sv_stamp_reader_rewind(r, 50);
    assert_int_equal(sv_stamp_reader_next(r, &b, &err), 16);
    check_rows(&b, 50, SV_STAMP_COL_TRUTH);
    /* a batch of the wrong stamp size is refused, naming the file */
    sv_stamp_batch wrong;
    assert_int_equal(sv_stamp_batch_init(&wrong, 4, 16, &err), 0);
    assert_true(sv_stamp_reader_read(r, 0, 4, &wrong, &err) < 0);
    assert_non_null(strstr(err.text, "chunk.fits"));
    sv_stamp_batch_free(&wrong);
    sv_stamp_batch_free(&b);
    sv_stamp_reader_close(r);
    unlink(p);
}

/* files, counting the hidden temporary files of atomic_file.h too */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || sv_atomic_is_tmp_name(e->d_name, NULL, 0, NULL))
            n++;
    closedir(d);
    return n;
}

static void test_atomic(void **state)
{
    (void)state;
    char p[512];
    tmp_path(p, sizeof p, "atomic.fits");
    write_table(p, 9, 10, 10, 0);
    struct stat before;
    assert_int_equal(stat(p, &before), 0);
    assert_int_equal(count_entries(tmpdir), 1);

    /* an aborted rewrite leaves the old file and no temporary */
    sv_stamp_meta m = meta4(9, 0);
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_writer *w = sv_stamp_writer_create(p, &m, &err);
    assert_non_null(w);
    assert_int_equal(count_entries(tmpdir), 2); /* the temporary beside it */
    sv_stamp_batch b;
    assert_int_equal(sv_stamp_batch_init(&b, 3, 9, &err), 0);
    fill_batch(&b, 3, 0);
    assert_int_equal(sv_stamp_writer_append(w, &b, &err), 0);
    sv_stamp_writer_abort(w);
    assert_int_equal(count_entries(tmpdir), 1);
    sv_stamp_reader *r = sv_stamp_reader_open(p, 0, &err);
    assert_non_null(r);
    assert_int_equal(sv_stamp_reader_nrows(r), 10);
    sv_stamp_reader_close(r);

    /* a bad row makes the append fail; the writer is then only abortable */
    w = sv_stamp_writer_create(p, &m, &err);
    b.label[1] = 4;
    assert_int_not_equal(sv_stamp_writer_append(w, &b, &err), 0);
    assert_non_null(strstr(err.text, "atomic.fits"));
    assert_non_null(strstr(err.text, "row 2"));
    b.label[1] = 1;
    strcpy(b.label_name[1], "bogus"); /* contradicts LABEL 1 = variable */
    assert_int_not_equal(sv_stamp_writer_append(w, &b, &err), 0);
    assert_non_null(strstr(err.text, "LABELNAM"));
    sv_stamp_writer_abort(w);

    /* a finished rewrite replaces it */
    write_table(p, 9, 3, 3, 0);
    r = sv_stamp_reader_open(p, 0, &err);
    assert_int_equal(sv_stamp_reader_nrows(r), 3);
    sv_stamp_reader_close(r);
    assert_int_equal(count_entries(tmpdir), 1);

    /* an unwritable folder is an error naming the path */
    w = sv_stamp_writer_create("/nonexistent-dir/x.fits", &m, &err);
    assert_null(w);
    assert_non_null(strstr(err.text, "/nonexistent-dir/x.fits"));
    sv_stamp_batch_free(&b);
    unlink(p);
}

static void test_label_by_name_and_unlabelled(void **state)
{
    (void)state;
    char p[512];
    tmp_path(p, sizeof p, "names.fits");
    write_table(p, 8, 6, 6, 0);
    /* a team labels by name only: LABEL = -1, LABELNAM = class */
    fitsfile *f = NULL;
    int st = 0, col;
    fits_open_file(&f, p, READWRITE, &st);
    fits_movnam_hdu(f, BINARY_TBL, "STAMPS", 0, &st);
    fits_get_colnum(f, CASEINSEN, "LABEL", &col, &st);
    int minus1 = -1;
    fits_write_col(f, TINT, col, 3, 1, 1, &minus1, &st);
    fits_get_colnum(f, CASEINSEN, "LABELNAM", &col, &st);
    char *nm[] = {"asteroid"};
    fits_write_col(f, TSTRING, col, 3, 1, 1, nm, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_reader *r = sv_stamp_reader_open(p, 0, &err);
    assert_non_null(r);
    sv_stamp_batch b;
    assert_int_equal(sv_stamp_batch_init(&b, 8, 8, &err), 0);
    assert_int_equal(sv_stamp_reader_read(r, 0, 8, &b, &err), 6);
    assert_int_equal(b.label[2], 2);
    assert_string_equal(b.label_name[2], "asteroid");
    sv_stamp_reader_close(r);

    /* an unlabelled table: no classes, every LABEL -1 */
    sv_stamp_meta m;
    sv_stamp_meta_init(&m, 8);
    sv_stamp_writer *w = sv_stamp_writer_create(p, &m, &err);
    assert_non_null(w);
    fill_batch(&b, 5, 0);
    assert_int_not_equal(sv_stamp_writer_append(w, &b, &err), 0); /* labels 0..3 */
    sv_stamp_writer_abort(w);
    w = sv_stamp_writer_create(p, &m, &err);
    for (int i = 0; i < 5; i++)
        b.label[i] = -1;
    assert_int_equal(sv_stamp_writer_append(w, &b, &err), 0);
    assert_int_equal(sv_stamp_writer_finish(w, &err), 0);
    r = sv_stamp_reader_open(p, 0, &err);
    assert_non_null(r);
    assert_int_equal(sv_stamp_reader_meta(r)->n_class, 0);
    assert_false(sv_stamp_reader_meta(r)->has_seed);
    assert_int_equal(sv_stamp_reader_read(r, 0, 8, &b, &err), 5);
    assert_int_equal(b.label[4], -1);
    assert_string_equal(b.label_name[4], "");
    sv_stamp_reader_close(r);
    sv_stamp_batch_free(&b);
    unlink(p);
}

static void test_gzip(void **state)
{
    (void)state;
    char p[512], gz[512], name[600];
    tmp_path(p, sizeof p, "plain.fits");
    tmp_path(gz, sizeof gz, "zipped.fits.gz");
    write_table(p, 11, 20, 20, SV_STAMP_COL_TRUTH);
    fitsfile *in = NULL, *out = NULL;
    int st = 0;
    snprintf(name, sizeof name, "!%s", gz);
    fits_open_file(&in, p, READONLY, &st);
    fits_create_file(&out, name, &st);
    fits_copy_file(in, out, 1, 1, 1, &st);
    fits_close_file(in, &st);
    fits_close_file(out, &st);
    assert_int_equal(st, 0);
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_reader *r = sv_stamp_reader_open(gz, SV_STAMP_VERIFY_CHECKSUM, &err);
    assert_non_null(r);
    sv_stamp_batch b;
    assert_int_equal(sv_stamp_batch_init(&b, 32, 11, &err), 0);
    assert_int_equal(sv_stamp_reader_read(r, 0, 32, &b, &err), 20);
    check_rows(&b, 0, SV_STAMP_COL_TRUTH);
    sv_stamp_batch_free(&b);
    sv_stamp_reader_close(r);
    unlink(p);
    unlink(gz);
}

/* open `path` and expect an error mentioning the file name and `what` */
static void expect_open_error(const char *path, unsigned flags, const char *what)
{
    sv_error err;
    sv_error_clear(&err);
    sv_stamp_reader *r = sv_stamp_reader_open(path, flags, &err);
    if (r) {
        /* some damage only shows when the rows are read */
        sv_stamp_batch b;
        assert_int_equal(sv_stamp_batch_init(&b, 64, sv_stamp_reader_meta(r)->stamp_size, NULL), 0);
        long got = sv_stamp_reader_read(r, 0, 64, &b, &err);
        sv_stamp_batch_free(&b);
        sv_stamp_reader_close(r);
        assert_true(got < 0);
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!strstr(err.text, base) || !strstr(err.text, what))
        fail_msg("error '%s' should name %s and say '%s'", err.text, base, what);
}

static void copy_truncated(const char *src, const char *dst, double keep)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    fseek(in, 0, SEEK_SET);
    long m = (long)(n * keep);
    char *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, in), (size_t)n);
    fwrite(buf, 1, (size_t)m, out);
    free(buf);
    fclose(in);
    fclose(out);
}

/* a table made directly with cfitsio, columns as given */
static void write_custom(const char *path, int ncol, char **tt, char **tf, const char *tdim,
                         int nclass)
{
    fitsfile *f = NULL;
    int st = 0;
    char name[600];
    snprintf(name, sizeof name, "!%s", path);
    fits_create_file(&f, name, &st);
    fits_create_img(f, BYTE_IMG, 0, NULL, &st);
    fits_create_tbl(f, BINARY_TBL, 0, ncol, tt, tf, NULL, "STAMPS", &st);
    if (tdim)
        fits_update_key_str(f, "TDIM2", tdim, NULL, &st);
    fits_update_key(f, TINT, "NCLASS", &nclass, NULL, &st);
    if (nclass >= 1)
        fits_update_key_str(f, "CLASS1", "bogus", NULL, &st);
    if (nclass >= 2)
        fits_update_key_str(f, "CLASS2", "real", NULL, &st);
    long long id = 7;
    int lab = 5;
    float pix[16] = {0};
    fits_write_col(f, TLONGLONG, 1, 1, 1, 1, &id, &st);
    for (int c = 2; c <= 4 && c <= ncol; c++)
        if (tf[c - 1][strlen(tf[c - 1]) - 1] == 'E')
            fits_write_col(f, TFLOAT, c, 1, 1, 16, pix, &st);
    for (int c = 1; c <= ncol; c++)
        if (!strcmp(tt[c - 1], "LABEL"))
            fits_write_col(f, TINT, c, 1, 1, 1, &lab, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
}

static void test_damaged(void **state)
{
    (void)state;
    char good[512], p[512];
    tmp_path(good, sizeof good, "good.fits");
    write_table(good, 17, 40, 40, SV_STAMP_COL_TRUTH);

    tmp_path(p, sizeof p, "truncated.fits");
    copy_truncated(good, p, 0.6);
    expect_open_error(p, 0, "truncated");
    unlink(p);

    tmp_path(p, sizeof p, "garbage.fits");
    FILE *g = fopen(p, "wb");
    fputs("SIMPLE  =                    T / but nothing else is FITS\n", g);
    fclose(g);
    expect_open_error(p, 0, "cannot open");
    unlink(p);

    tmp_path(p, sizeof p, "missing.fits");
    expect_open_error(p, 0, "cannot open");

    /* data corrupted in place: found by the checksum */
    tmp_path(p, sizeof p, "flipped.fits");
    copy_truncated(good, p, 1.0);
    FILE *fp = fopen(p, "r+b");
    fseek(fp, -20000, SEEK_END);
    int ch = fgetc(fp);
    fseek(fp, -1, SEEK_CUR);
    fputc(ch ^ 0x40, fp);
    fclose(fp);
    expect_open_error(p, SV_STAMP_VERIFY_CHECKSUM, "checksum");
    unlink(p);

    /* no DIFF column */
    char *tt3[] = {"ID", "SCI", "REF", "LABEL"};
    char *tf3[] = {"K", "16E", "16E", "J"};
    tmp_path(p, sizeof p, "nodiff.fits");
    write_custom(p, 4, tt3, tf3, "(4,4)", 2);
    expect_open_error(p, 0, "DIFF");
    unlink(p);

    /* TDIM not square and not matching */
    char *tt[] = {"ID", "SCI", "REF", "DIFF", "LABEL"};
    char *tf[] = {"K", "16E", "16E", "16E", "J"};
    tmp_path(p, sizeof p, "tdim.fits");
    write_custom(p, 5, tt, tf, "(2,8)", 2);
    expect_open_error(p, 0, "TDIM2");
    unlink(p);

    /* 15 pixels: not a square stamp */
    char *tf15[] = {"K", "15E", "15E", "15E", "J"};
    tmp_path(p, sizeof p, "notsquare.fits");
    write_custom(p, 5, tt, tf15, NULL, 2);
    expect_open_error(p, 0, "square");
    unlink(p);

    /* LABEL 5 with two classes */
    tmp_path(p, sizeof p, "label.fits");
    write_custom(p, 5, tt, tf, "(4,4)", 2);
    expect_open_error(p, 0, "row 1: LABEL 5");
    unlink(p);

    /* NCLASS says 2 but CLASS2 is missing */
    tmp_path(p, sizeof p, "nclass.fits");
    write_custom(p, 5, tt, tf, "(4,4)", 2);
    fitsfile *f = NULL;
    int st = 0;
    fits_open_file(&f, p, READWRITE, &st);
    fits_movnam_hdu(f, BINARY_TBL, "STAMPS", 0, &st);
    fits_delete_key(f, "CLASS2", &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    expect_open_error(p, 0, "CLASS2");
    unlink(p);

    /* a FITS file without any table */
    tmp_path(p, sizeof p, "image.fits");
    char name[600];
    snprintf(name, sizeof name, "!%s", p);
    long naxes[2] = {4, 4};
    fits_create_file(&f, name, &st);
    fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
    fits_close_file(f, &st);
    expect_open_error(p, 0, "no STAMPS");
    unlink(p);
    unlink(good);
}

static void test_meta_checks(void **state)
{
    (void)state;
    sv_stamp_meta m;
    sv_stamp_meta_init(&m, 63);
    sv_error err;
    sv_error_clear(&err);
    const char *dup[] = {"real", "real"};
    assert_int_not_equal(sv_stamp_meta_set_classes(&m, dup, 2, &err), 0);
    const char *longname[] = {"a-class-name-longer-than-16"};
    assert_int_not_equal(sv_stamp_meta_set_classes(&m, longname, 1, &err), 0);
    const char *ok[] = {"bogus", "real"};
    assert_int_equal(sv_stamp_meta_set_classes(&m, ok, 2, &err), 0);
    assert_int_equal(sv_stamp_meta_class_index(&m, "real"), 1);
    assert_int_equal(sv_stamp_meta_class_index(&m, "asteroid"), -1);
    sv_stamp_batch b;
    assert_int_not_equal(sv_stamp_batch_init(&b, 0, 63, &err), 0);
    assert_int_not_equal(sv_stamp_batch_init(&b, 4, 0, &err), 0);
    sv_stamp_batch_free(&b); /* safe on a failed batch */
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sv-stamptab-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_atomic),
        cmocka_unit_test(test_label_by_name_and_unlabelled),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_meta_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
