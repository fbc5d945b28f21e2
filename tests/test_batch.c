/* test_batch.c — the batch engine (stage/batch/batch.c) on the test stage module
 * (tests/batch_test_stage.c) through the ABI only: configuration hash,
 * output verification for resume, failure isolation, resume and --force,
 * shards, cancellation, per-exposure overrides, progress reports. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "batch/batch.h"
#include "core/params_hash.h"
#include "batch/manifest.h"

static char tmpdir[256], module[4096];

/* ---- fixtures ------------------------------------------------------------ */

static void write_image(const char *path, int w, int h, float base)
{
    fitsfile *f = NULL;
    int status = 0;
    long naxes[2] = {w, h};
    float *px = malloc((size_t)(w * h) * sizeof *px);
    for (int i = 0; i < w * h; i++)
        px[i] = base + (float)i;
    remove(path);
    fits_create_diskfile(&f, path, &status);
    fits_create_img(f, FLOAT_IMG, 2, naxes, &status);
    fits_write_img(f, TFLOAT, 1, (LONGLONG)w * h, px, &status);
    fits_close_file(f, &status);
    free(px);
    assert_int_equal(status, 0);
}

static void write_detections(const char *path, int n)
{
    fitsfile *f = NULL;
    int status = 0;
    char *ttype[] = {"id", "x", "y"};
    char *tform[] = {"1K", "1D", "1D"};
    remove(path);
    fits_create_diskfile(&f, path, &status);
    fits_create_tbl(f, BINARY_TBL, n, 3, ttype, tform, NULL, "DETECTIONS", &status);
    for (int r = 1; r <= n; r++) {
        long long id = 1000 + r;
        double x = r % 16, y = (3 * r) % 16;
        fits_write_col(f, TLONGLONG, 1, r, 1, 1, &id, &status);
        fits_write_col(f, TDOUBLE, 2, r, 1, 1, &x, &status);
        fits_write_col(f, TDOUBLE, 3, r, 1, 1, &y, &status);
    }
    fits_close_file(f, &status);
    assert_int_equal(status, 0);
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* A night of n exposures, e<i>; exposure `bad` (or -1) has a corrupt
 * science image.  Writes night.txt and returns the manifest. */
static sv_manifest *make_night(int n, int bad, const char *extra)
{
    char p[600], manifest[600];
    path_of(manifest, sizeof manifest, "night.txt");
    FILE *fp = fopen(manifest, "w");
    assert_non_null(fp);
    fprintf(fp, "# test night\n");
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "sci%d.fits", i);
        path_of(p, sizeof p, name);
        if (i == bad) {
            FILE *g = fopen(p, "w");
            fputs("SIMPLE  =                    T / then garbage\n", g);
            fclose(g);
        } else {
            write_image(p, 16, 16, 0);
        }
        snprintf(name, sizeof name, "ref%d.fits", i);
        path_of(p, sizeof p, name);
        write_image(p, 16, 16, 0);
        snprintf(name, sizeof name, "diff%d.fits", i);
        path_of(p, sizeof p, name);
        write_image(p, 16, 16, (float)i);
        snprintf(name, sizeof name, "det%d.fits", i);
        path_of(p, sizeof p, name);
        write_detections(p, 3 + i);
        fprintf(fp, "sci%d.fits ref%d.fits diff%d.fits det%d.fits out/e%d.fits %s\n", i, i, i,
                i, i, i == n - 1 && extra ? extra : "");
    }
    fclose(fp);
    path_of(p, sizeof p, "out");
    mkdir(p, 0755);
    sv_manifest *m = NULL;
    sv_error err;
    assert_int_equal(sv_manifest_read(manifest, &m, &err), 0);
    return m;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_batch.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    const char *b = getenv("SV_BUILDDIR");
    snprintf(module, sizeof module, "%s/tests/.libs/batch_test_stage.so", b ? b : ".");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int clean_out(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/out '%s'/*.fits", tmpdir, tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the configuration hash ------------------------------------------------- */

static const dia_param_desc hp[] = {
    {"threads", DIA_PARAM_INT, "1", 1, 64, NULL, ""},
    {"alpha", DIA_PARAM_REAL, "0.5", 0, 1, NULL, ""},
    {"name", DIA_PARAM_STRING, "x", 0, 0, NULL, ""},
};

static void test_config_hash(void **state)
{
    (void)state;
    char a[65], b[65];
    sv_params_hash(hp, 3, NULL, 0, a);
    assert_int_equal(strlen(a), 64);
    dia_kv same[] = {{"name", "x"}, {"alpha", "0.5"}, {"threads", "8"}};
    sv_params_hash(hp, 3, same, 3, b);
    assert_string_equal(a, b); /* defaults explicit, order, threads: no change */
    dia_kv other[] = {{"alpha", "0.25"}};
    sv_params_hash(hp, 3, other, 1, b);
    assert_string_not_equal(a, b);
    dia_kv later[] = {{"alpha", "0.25"}, {"alpha", "0.5"}};
    sv_params_hash(hp, 3, later, 2, b);
    assert_string_equal(a, b); /* the last value counts */
    /* the definition: sha256("alpha=0.5\nname=x\n"), threads left out */
    assert_string_equal(a, "4d64546cb8bbc67734ac8caced3a6fa2f7f06f34a2e310af635d677f487f6a42");
}

/* ---- output verification ----------------------------------------------------- */

static void write_output(const char *path, const char *hash, const char *model_ck,
                         int checksum, int rows)
{
    fitsfile *f = NULL;
    int status = 0, t;
    remove(path);
    fits_create_diskfile(&f, path, &status);
    fits_create_img(f, BYTE_IMG, 0, NULL, &status);
    if (hash)
        fits_write_key_str(f, "SVCFGHSH", hash, "", &status);
    if (model_ck)
        fits_write_key_str(f, "RBMODCK", model_ck, "", &status);
    char *ttype[] = {"a"};
    char *tform[] = {"1J"};
    fits_create_tbl(f, BINARY_TBL, rows, 1, ttype, tform, NULL, "T", &status);
    for (int r = 1; r <= rows; r++)
        fits_write_col(f, TINT, 1, r, 1, 1, &r, &status);
    if (checksum) {
        fits_write_chksum(f, &status);
        fits_movabs_hdu(f, 1, &t, &status);
        fits_write_chksum(f, &status);
    }
    fits_close_file(f, &status);
    assert_int_equal(status, 0);
}

static void test_output_complete(void **state)
{
    (void)state;
    char p[600], why[256];
    int64_t rows = 0;
    const char *models[] = {"aBcD1234aBcD1234"};
    path_of(p, sizeof p, "o.fits");
    remove(p);
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h1", NULL, 0, &rows, why,
                                              sizeof why),
                     0);
    assert_string_equal(why, "no output yet");

    write_output(p, "h1", "aBcD1234aBcD1234", 1, 7);
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h1", models, 1, &rows, why,
                                              sizeof why),
                     1);
    assert_int_equal(rows, 7);
    /* another configuration, another model: complete but out of date */
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h2", models, 1, &rows, why,
                                              sizeof why),
                     -1);
    assert_non_null(strstr(why, "another configuration"));
    const char *other[] = {"zzzz1234zzzz1234"};
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h1", other, 1, &rows, why,
                                              sizeof why),
                     -1);
    assert_non_null(strstr(why, "another model"));
    /* no hash card at all */
    write_output(p, NULL, NULL, 1, 2);
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h1", NULL, 0, &rows, why,
                                              sizeof why),
                     -1);
    assert_int_equal(sv_batch_output_complete(p, NULL, NULL, NULL, 0, &rows, why, sizeof why),
                     1);
    /* no checksums: incomplete */
    write_output(p, "h1", NULL, 0, 2);
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h1", NULL, 0, &rows, why,
                                              sizeof why),
                     0);
    assert_non_null(strstr(why, "no CHECKSUM"));
    /* one flipped data byte: damaged */
    write_output(p, "h1", NULL, 1, 50);
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    fseek(fp, 2 * 2880 + 10, SEEK_SET);
    fputc(0x5a, fp);
    fclose(fp);
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h1", NULL, 0, &rows, why,
                                              sizeof why),
                     0);
    assert_non_null(strstr(why, "does not verify"));
    /* truncated */
    write_output(p, "h1", NULL, 1, 50);
    assert_int_equal(truncate(p, 2 * 2880 + 100), 0);
    assert_int_equal(sv_batch_output_complete(p, "SVCFGHSH", "h1", NULL, 0, &rows, why,
                                              sizeof why),
                     0);
}

/* ---- the engine ------------------------------------------------------------------ */

typedef struct progress_log {
    int calls;
    size_t last_done;
    int monotonic;
} progress_log;

static void on_progress(void *user, const sv_manifest_entry *e, const sv_batch_result *r,
                        const sv_batch_tally *t)
{
    progress_log *p = user;
    p->calls++;
    if (t->done != p->last_done + 1)
        p->monotonic = 0;
    p->last_done = t->done;
}

static sv_batch *open_batch(const sv_manifest *m, sv_batch_options *o, const dia_kv *cfg,
                            size_t ncfg, int workers, int force)
{
    memset(o, 0, sizeof *o);
    o->stage = module;
    o->config = cfg;
    o->n_config = ncfg;
    o->workers = workers;
    o->force = force;
    sv_batch *b = NULL;
    sv_error err;
    sv_error_clear(&err);
    if (sv_batch_open(m, o, &b, &err))
        fail_msg("sv_batch_open: %s", err.text);
    return b;
}

static int64_t rows_of(const char *path)
{
    fitsfile *f = NULL;
    int status = 0;
    long n = -1;
    if (fits_open_table(&f, path, READONLY, &status))
        return -1;
    fits_get_num_rows(f, &n, &status);
    fits_close_file(f, &status);
    return n;
}

/* A catalog as the stage writes it (catalog.h): a BINTABLE with RBCOL /
 * FLAGCOL cards naming the score and flags columns, and REAL. */
static void write_catalog(const char *path, const char *flagcol, int n, const float *score,
                          const char *real, const int *flags, int rbcol_card)
{
    fitsfile *f = NULL;
    int status = 0;
    remove(path);
    fits_create_diskfile(&f, path, &status);
    fits_create_img(f, BYTE_IMG, 0, NULL, &status);
    char *ttype[] = {"candid", "drb", "REAL", (char *)flagcol};
    char *tform[] = {"1K", "1E", "1L", "1J"};
    fits_create_tbl(f, BINARY_TBL, n, 4, ttype, tform, NULL, "DETECTIONS", &status);
    if (rbcol_card)
        fits_write_key_str(f, "RBCOL", "drb", "the real/bogus score column", &status);
    if (strcmp(flagcol, "FLAGS"))
        fits_write_key_str(f, "FLAGCOL", flagcol, "the flags column", &status);
    for (int r = 1; r <= n; r++) {
        long long id = r;
        fits_write_col(f, TLONGLONG, 1, r, 1, 1, &id, &status);
    }
    fits_write_col(f, TFLOAT, 2, 1, 1, n, (void *)score, &status);
    fits_write_col(f, TLOGICAL, 3, 1, 1, n, (void *)real, &status);
    fits_write_col(f, TINT, 4, 1, 1, n, (void *)flags, &status);
    fits_close_file(f, &status);
    assert_int_equal(status, 0);
}

static void test_output_scores(void **state)
{
    (void)state;
    char p[600];
    path_of(p, sizeof p, "cat.fits");
    int64_t nr = 0, nf = 0;
    double med = 0;
    /* 5 rows, one NaN score: the median of the four finite ones */
    const float s5[] = {0.9f, NAN, 0.1f, 0.7f, 0.3f};
    const char r5[] = {1, 0, 0, 1, 0};
    const int f5[] = {0, 4, 0, 64, 0};
    write_catalog(p, "FLAGS", 5, s5, r5, f5, 1);
    assert_int_equal(sv_batch_output_scores(p, &nr, &nf, &med), 0);
    assert_int_equal(nr, 2);
    assert_int_equal(nf, 2);
    assert_true(fabs(med - 0.5) < 1e-6); /* (0.3 + 0.7) / 2 */
    /* odd count, another flags column (the sextractor preset's SV_FLAGS) */
    const float s3[] = {0.2f, 0.95f, 0.6f};
    const char r3[] = {0, 1, 1};
    const int f3[] = {1, 0, 0};
    write_catalog(p, "SV_FLAGS", 3, s3, r3, f3, 1);
    assert_int_equal(sv_batch_output_scores(p, &nr, &nf, &med), 0);
    assert_int_equal(nr, 2);
    assert_int_equal(nf, 1);
    assert_true(fabs(med - 0.6) < 1e-6);
    /* no finite score: counts known, median NaN */
    const float sn[] = {NAN, NAN};
    const char rn[] = {0, 0};
    const int fn[] = {8, 8};
    write_catalog(p, "FLAGS", 2, sn, rn, fn, 1);
    assert_int_equal(sv_batch_output_scores(p, &nr, &nf, &med), 0);
    assert_int_equal(nr, 0);
    assert_int_equal(nf, 2);
    assert_true(isnan(med));
    /* not the stage's catalog (no RBCOL), another stage's table, no file */
    write_catalog(p, "FLAGS", 3, s3, r3, f3, 0);
    assert_int_equal(sv_batch_output_scores(p, &nr, &nf, &med), -1);
    assert_int_equal(nr, -1);
    assert_int_equal(nf, -1);
    assert_true(isnan(med));
    write_output(p, "h1", NULL, 1, 3);
    assert_int_equal(sv_batch_output_scores(p, &nr, &nf, &med), -1);
    remove(p);
    assert_int_equal(sv_batch_output_scores(p, &nr, &nf, &med), -1);
}

static void test_isolation_resume_force(void **state)
{
    (void)state;
    sv_manifest *m = make_night(6, 2, NULL);
    sv_batch_options o;
    progress_log pl = {0, 0, 1};
    sv_batch *b = open_batch(m, &o, NULL, 0, 2, 0);
    sv_error err;
    sv_batch_close(b);
    memset(&o, 0, sizeof o);
    o.stage = module;
    o.workers = 2;
    o.progress = on_progress;
    o.progress_user = &pl;
    assert_int_equal(sv_batch_open(m, &o, &b, &err), 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    assert_int_equal(pl.calls, 6);
    assert_true(pl.monotonic);
    sv_batch_tally t = sv_batch_get_tally(b);
    assert_int_equal(t.total, 6);
    assert_int_equal(t.ok, 5);
    assert_int_equal(t.failed, 1);
    assert_int_equal(t.detections, 3 + 4 + 6 + 7 + 8);
    for (size_t i = 0; i < 6; i++) {
        const sv_batch_result *r = sv_batch_get(b, i);
        if (i == 2) {
            assert_int_equal(r->status, SV_BATCH_FAILED);
            if (!strstr(r->error, "sci2.fits"))
                fail_msg("error does not name the file: %s", r->error);
            struct stat st;
            assert_int_not_equal(stat(m->entries[i].output, &st), 0); /* no output */
        } else {
            assert_int_equal(r->status, SV_BATCH_OK);
            assert_int_equal(r->detections, 3 + (int)i);
            assert_int_equal(rows_of(m->entries[i].output), 3 + (int)i);
            assert_string_equal(r->error, "");
        }
    }
    char summary[600];
    path_of(summary, sizeof summary, "summary.csv");
    assert_int_equal(sv_batch_write_summary(b, summary, &err), 0);
    sv_batch_close(b);

    /* rerun: the five complete outputs are skipped, the bad one fails again */
    b = open_batch(m, &o, NULL, 0, 3, 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    t = sv_batch_get_tally(b);
    assert_int_equal(t.skipped, 5);
    assert_int_equal(t.failed, 1);
    assert_int_equal(sv_batch_get(b, 4)->detections, 7);
    sv_batch_close(b);

    /* a damaged output is redone */
    FILE *fp = fopen(m->entries[3].output, "r+b");
    fseek(fp, 2880 * 2 + 5, SEEK_SET);
    fputc('#', fp);
    fclose(fp);
    b = open_batch(m, &o, NULL, 0, 1, 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    assert_int_equal(sv_batch_get(b, 3)->status, SV_BATCH_OK);
    assert_int_equal(sv_batch_get(b, 0)->status, SV_BATCH_SKIPPED);
    sv_batch_close(b);

    /* another configuration: everything is redone */
    dia_kv cfg[] = {{"scale", "2"}};
    b = open_batch(m, &o, cfg, 1, 2, 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    t = sv_batch_get_tally(b);
    assert_int_equal(t.ok, 5);
    assert_int_equal(t.skipped, 0);
    sv_batch_close(b);

    /* --force */
    b = open_batch(m, &o, cfg, 1, 2, 1);
    assert_int_equal(sv_batch_run(b, &err), 0);
    assert_int_equal(sv_batch_get_tally(b).ok, 5);
    sv_batch_close(b);
    sv_manifest_free(m);
}

static void test_overrides_and_bad_override(void **state)
{
    (void)state;
    sv_manifest *m = make_night(3, -1, "scale=3");
    sv_batch_options o;
    sv_batch *b = open_batch(m, &o, NULL, 0, 1, 0);
    sv_error err;
    assert_int_equal(sv_batch_run(b, &err), 0);
    assert_int_equal(sv_batch_get_tally(b).ok, 3);
    sv_batch_close(b);
    /* the override made its own configuration: its hash differs */
    char h0[FLEN_VALUE], h2[FLEN_VALUE];
    fitsfile *f = NULL;
    int status = 0;
    fits_open_diskfile(&f, m->entries[0].output, READONLY, &status);
    fits_read_key(f, TSTRING, "SVCFGHSH", h0, NULL, &status);
    fits_close_file(f, &status);
    fits_open_diskfile(&f, m->entries[2].output, READONLY, &status);
    fits_read_key(f, TSTRING, "SVCFGHSH", h2, NULL, &status);
    fits_close_file(f, &status);
    assert_int_equal(status, 0);
    assert_string_not_equal(h0, h2);
    sv_manifest_free(m);

    /* an override the stage does not know stops the run before it starts */
    m = make_night(2, -1, "no_such_key=1");
    memset(&o, 0, sizeof o);
    o.stage = module;
    o.workers = 1;
    assert_int_not_equal(sv_batch_open(m, &o, &b, &err), 0);
    if (!strstr(err.text, "night.txt:3:") || !strstr(err.text, "no_such_key"))
        fail_msg("error does not name the line and key: %s", err.text);
    sv_manifest_free(m);
    /* so does a base configuration the stage refuses */
    m = make_night(1, -1, NULL);
    dia_kv bad[] = {{"model", "/nonexistent/model.fits"}};
    o.config = bad;
    o.n_config = 1;
    assert_int_not_equal(sv_batch_open(m, &o, &b, &err), 0);
    assert_non_null(strstr(err.text, "/nonexistent/model.fits"));
    sv_manifest_free(m);
}

static void test_model_checksum_provenance(void **state)
{
    (void)state;
    sv_manifest *m = make_night(2, -1, NULL);
    char model[600];
    path_of(model, sizeof model, "model.fits");
    write_output(model, "x", NULL, 1, 1); /* any FITS file with a CHECKSUM */
    dia_kv cfg[] = {{"model", model}};
    sv_batch_options o;
    sv_error err;
    sv_batch *b = open_batch(m, &o, cfg, 1, 1, 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    assert_int_equal(sv_batch_get_tally(b).ok, 2);
    sv_batch_close(b);
    b = open_batch(m, &o, cfg, 1, 1, 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    assert_int_equal(sv_batch_get_tally(b).skipped, 2);
    sv_batch_close(b);
    /* a new model file at the same path: outputs are out of date (the
     * primary CHECKSUM identifies a model: stampvet model files carry a
     * digest of their weights in the primary header) */
    write_output(model, "y", NULL, 1, 1);
    b = open_batch(m, &o, cfg, 1, 1, 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    assert_int_equal(sv_batch_get_tally(b).ok, 2);
    assert_int_equal(sv_batch_get_tally(b).skipped, 0);
    sv_batch_close(b);
    sv_manifest_free(m);
}

static void test_shards(void **state)
{
    (void)state;
    sv_manifest *m = make_night(7, -1, NULL);
    char out[600], cmd[700];
    path_of(out, sizeof out, "out");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    assert_int_equal(system(cmd), 0); /* the engine makes the output folder */
    sv_batch_options o;
    sv_error err;
    sv_batch *b = open_batch(m, &o, NULL, 0, 2, 0);
    assert_int_not_equal(sv_batch_select_shard(b, 4, 3, &err), 0);
    assert_int_equal(sv_batch_select_shard(b, 2, 3, &err), 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    for (size_t i = 0; i < 7; i++) {
        struct stat st;
        int want = i % 3 == 1;
        assert_int_equal(sv_batch_selected(b, i), want);
        assert_int_equal(stat(m->entries[i].output, &st) == 0, want);
    }
    assert_int_equal(sv_batch_get_tally(b).total, 2); /* indices 1 and 4 */
    sv_batch_close(b);
    sv_manifest_free(m);
}

static void test_cancel(void **state)
{
    (void)state;
    sv_manifest *m = make_night(4, -1, NULL);
    volatile int stop = 1;
    sv_batch_options o;
    memset(&o, 0, sizeof o);
    o.stage = module;
    o.workers = 2;
    o.cancel = &stop;
    sv_batch *b = NULL;
    sv_error err;
    assert_int_equal(sv_batch_open(m, &o, &b, &err), 0);
    assert_int_equal(sv_batch_run(b, &err), 0);
    sv_batch_tally t = sv_batch_get_tally(b);
    assert_int_equal(t.cancelled, 4);
    assert_int_equal(t.done, 4);
    for (size_t i = 0; i < 4; i++) {
        struct stat st;
        assert_int_equal(sv_batch_get(b, i)->status, SV_BATCH_CANCELLED);
        assert_int_not_equal(stat(m->entries[i].output, &st), 0);
    }
    char summary[600];
    path_of(summary, sizeof summary, "cancelled.csv");
    assert_int_equal(sv_batch_write_summary(b, summary, &err), 0);
    sv_batch_close(b);
    sv_manifest_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_hash),
        cmocka_unit_test(test_output_complete),
        cmocka_unit_test(test_output_scores),
        cmocka_unit_test_setup(test_isolation_resume_force, clean_out),
        cmocka_unit_test_setup(test_overrides_and_bad_override, clean_out),
        cmocka_unit_test_setup(test_model_checksum_provenance, clean_out),
        cmocka_unit_test_setup(test_shards, clean_out),
        cmocka_unit_test_setup(test_cancel, clean_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
