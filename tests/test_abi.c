/* test_abi.c — the DIA stage ABI: loader, version checks, parameters,
 * static registration and the thread contract, on stampvet.so and on
 * deliberately broken modules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dia_host.h"
#include "pipeline/stage.h"
#include "pipeline/stage_plugin.h"
#include "stage_test_util.h"

static char module_path[4096], bad_path[4096], noentry_path[4096];
static char tmpdir[256], model_file[512];

/* a small real real/bogus model for the instances (the shipped default may
 * not be installed) */
static int make_model(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sv_test_abi_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(model_file, sizeof model_file, "%s/rb.fits", tmpdir);
    return st_write_model(model_file, 31, SV_TASK_REALBOGUS, 1, NULL, 1.0, SV_NORM_L2, 3, 0,
                          NULL);
}

static int remove_model(void **state)
{
    unlink(model_file);
    rmdir(tmpdir);
    return 0;
}

static void build_paths(void)
{
    const char *b = getenv("SV_BUILDDIR");
    if (!b)
        b = ".";
    snprintf(module_path, sizeof module_path, "%s/.libs/stampvet.so", b);
    snprintf(bad_path, sizeof bad_path, "%s/tests/.libs/bad_abi_module.so", b);
    snprintf(noentry_path, sizeof noentry_path, "%s/tests/.libs/no_entry_module.so", b);
}

static void test_module_loads(void **state)
{
    char err[512] = "";
    dia_host_stage *st = NULL;
    assert_int_equal(dia_host_open(module_path, &st, err, sizeof err), DIA_OK);
    const dia_stage_descriptor *d = dia_host_descriptor(st);
    assert_non_null(d);
    assert_string_equal(d->name, "stampvet");
    assert_int_equal(d->abi_major, DIA_ABI_MAJOR);
    assert_true(d->struct_size >= sizeof(dia_stage_descriptor));
    assert_true(d->n_params > 0);
    for (int i = 0; i < d->n_params; i++) {
        assert_non_null(d->params[i].key);
        assert_non_null(d->params[i].help);
    }
    dia_instance *inst = NULL;
    dia_kv model = {"rb_model", model_file};
    assert_int_equal(d->create(&model, 1, NULL, &inst, err, sizeof err), DIA_OK);
    assert_non_null(inst);
    assert_non_null(d->last_error(inst));
    d->destroy(inst);
    d->destroy(NULL);
    dia_host_close(st);
}

static void expect_open_error(const char *path, dia_status want, const char *needle)
{
    char err[512] = "";
    dia_host_stage *st = (dia_host_stage *)0x1;
    dia_status rc = dia_host_open(path, &st, err, sizeof err);
    assert_int_equal(rc, want);
    assert_null(st);
    assert_true(strlen(err) > 0);
    if (needle && !strstr(err, needle))
        fail_msg("error text '%s' does not mention '%s'", err, needle);
}

static void test_wrong_major(void **state)
{
    setenv("TEST_ABI_MODE", "major", 1);
    expect_open_error(bad_path, DIA_ERR_FORMAT, "major");
}

static void test_small_descriptor(void **state)
{
    setenv("TEST_ABI_MODE", "small", 1);
    expect_open_error(bad_path, DIA_ERR_FORMAT, "smaller");
}

static void test_null_descriptor_and_missing_function(void **state)
{
    setenv("TEST_ABI_MODE", "null", 1);
    expect_open_error(bad_path, DIA_ERR_FORMAT, "NULL");
    setenv("TEST_ABI_MODE", "nofunc", 1);
    expect_open_error(bad_path, DIA_ERR_FORMAT, "mandatory");
}

static void test_newer_minor_accepted(void **state)
{
    setenv("TEST_ABI_MODE", "newer", 1);
    char err[512] = "";
    dia_host_stage *st = NULL;
    assert_int_equal(dia_host_open(bad_path, &st, err, sizeof err), DIA_OK);
    assert_int_equal(dia_host_descriptor(st)->abi_minor, DIA_ABI_MINOR + 1);
    dia_host_close(st);
}

static void test_missing_entry(void **state)
{
    expect_open_error(noentry_path, DIA_ERR_FORMAT, "dia_stage_entry");
}

static void test_not_a_shared_object(void **state)
{
    char path[] = "/tmp/sv_not_so_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "SIMPLE  =                    T\n", 31), 31);
    close(fd);
    char so[64];
    snprintf(so, sizeof so, "%s.so", path);
    assert_int_equal(rename(path, so), 0);
    expect_open_error(so, DIA_ERR_IO, so);
    unlink(so);
}

static void test_bad_paths_never_crash(void **state)
{
    expect_open_error("/nonexistent/dir/stage.so", DIA_ERR_IO, "/nonexistent/dir/stage.so");
    expect_open_error("", DIA_ERR_ARGUMENT, NULL);
    expect_open_error(NULL, DIA_ERR_ARGUMENT, NULL);
    expect_open_error("/", DIA_ERR_IO, NULL);
    expect_open_error("no_such_registered_stage", DIA_ERR_ARGUMENT, "no_such_registered_stage");
    /* no error buffer at all: still no crash */
    dia_host_stage *st = NULL;
    assert_int_not_equal(dia_host_open("/nonexistent.so", &st, NULL, 0), DIA_OK);
    assert_int_not_equal(dia_host_open("/nonexistent.so", NULL, NULL, 0), DIA_OK);
    dia_host_close(NULL);
}

static void expect_config_error(const dia_stage_descriptor *d, const char *key,
                                const char *value, const char *needle)
{
    dia_kv kv = {key, value};
    char err[512] = "";
    dia_instance *inst = (dia_instance *)0x1;
    assert_int_equal(d->create(&kv, 1, NULL, &inst, err, sizeof err), DIA_ERR_CONFIG);
    assert_null(inst);
    if (!strstr(err, needle))
        fail_msg("error text '%s' does not mention '%s'", err, needle);
}

static void test_parameters(void **state)
{
    char err[512] = "";
    dia_host_stage *st = NULL;
    assert_int_equal(dia_host_open(module_path, &st, err, sizeof err), DIA_OK);
    const dia_stage_descriptor *d = dia_host_descriptor(st);
    expect_config_error(d, "treshold", "0.5", "'treshold'");
    expect_config_error(d, "threads", "0", "'threads'");
    expect_config_error(d, "threads", "100000", "outside");
    expect_config_error(d, "threads", "two", "not an integer");
    expect_config_error(d, "rb_threshold", "1.5", "'rb_threshold'");
    expect_config_error(d, "rb_threshold", "nan", "finite");
    expect_config_error(d, "preset", "hst", "ztf|sextractor|lsst|generic");
    expect_config_error(d, "resample", "maybe", "boolean");

    dia_kv twice[2] = {{"threads", "1"}, {"threads", "2"}};
    dia_instance *inst = NULL;
    assert_int_equal(d->create(twice, 2, NULL, &inst, err, sizeof err), DIA_ERR_CONFIG);
    assert_non_null(strstr(err, "twice"));

    dia_kv good[4] = {{"threads", "2"}, {"rb_threshold", "0.7"}, {"preset", "lsst"},
                      {"rb_model", model_file}};
    assert_int_equal(d->create(good, 4, NULL, &inst, err, sizeof err), DIA_OK);
    d->destroy(inst);

    assert_string_equal(dia_params_lookup(d->params, d->n_params, good, 3, "preset"), "lsst");
    assert_string_equal(dia_params_lookup(d->params, d->n_params, good, 3, "batch"), "64");
    assert_null(dia_params_lookup(d->params, d->n_params, good, 3, "nope"));
    dia_host_close(st);
}

/* Without rb_model the shipped default, braai d6_m7, is used, from
 * $STAMPVET_MODELS (make check: the source tree's models/) or the installed
 * data folder, and from nowhere else; when it is not there the error names
 * the path and says that rb_model must be given.  A model that does not
 * fit the configuration is refused by name. */
static void test_default_model(void **state)
{
    char err[1024] = "", where[1024];
    const dia_stage_descriptor *d = sv_stage_descriptor();
    dia_instance *inst = NULL;
    dia_status st = d->create(NULL, 0, NULL, &inst, err, sizeof err);
    if (sv_stage_default_model(where, sizeof where) == 0) {
        assert_int_equal(st, DIA_OK);
        assert_non_null(strstr(where, "/braai-d6_m7.fits"));
        d->destroy(inst);
    } else {
        assert_int_equal(st, DIA_ERR_CONFIG);
        assert_null(inst);
        assert_non_null(strstr(err, "rb_model"));
        assert_non_null(strstr(err, "braai-d6_m7.fits"));
    }
    /* a folder without it: refused, naming the path looked at (no fallback) */
    const char *env = getenv(SV_MODELS_ENV);
    char saved[1024] = "";
    if (env)
        snprintf(saved, sizeof saved, "%s", env);
    assert_int_equal(setenv(SV_MODELS_ENV, "/nonexistent-models", 1), 0);
    assert_int_equal(sv_stage_default_model(where, sizeof where), SV_ERR_IO);
    assert_string_equal(where, "/nonexistent-models/braai-d6_m7.fits");
    assert_int_equal(d->create(NULL, 0, NULL, &inst, err, sizeof err), DIA_ERR_CONFIG);
    assert_null(inst);
    assert_non_null(strstr(err, "/nonexistent-models/braai-d6_m7.fits"));
    /* unset: the installed data folder only */
    assert_int_equal(unsetenv(SV_MODELS_ENV), 0);
    sv_stage_default_model(where, sizeof where);
    assert_string_equal(where, SV_PKGDATADIR "/models/braai-d6_m7.fits");
    if (env)
        assert_int_equal(setenv(SV_MODELS_ENV, saved, 1), 0);
    dia_kv kv[2] = {{"rb_model", model_file}, {"stamp_size", "63"}};
    assert_int_equal(d->create(kv, 2, NULL, &inst, err, sizeof err), DIA_ERR_CONFIG);
    assert_non_null(strstr(err, "stamp_size"));
    assert_non_null(strstr(err, model_file));
    kv[1] = (dia_kv){"channels", "DIFF"};
    assert_int_equal(d->create(kv, 2, NULL, &inst, err, sizeof err), DIA_ERR_CONFIG);
    assert_non_null(strstr(err, "channels"));
    kv[1] = (dia_kv){"class_model", model_file};
    assert_int_equal(d->create(kv, 2, NULL, &inst, err, sizeof err), DIA_ERR_CONFIG);
    assert_non_null(strstr(err, "realbogus"));
    kv[0] = (dia_kv){"rb_model", "/nonexistent/model.fits"};
    assert_int_equal(d->create(kv, 1, NULL, &inst, err, sizeof err), DIA_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/model.fits"));
}

static void test_static_registration(void **state)
{
    char err[512] = "";
    dia_host_stage *st = NULL;
    assert_int_equal(dia_host_register_static("stampvet", sv_stage_descriptor), DIA_OK);
    assert_int_equal(dia_host_register_static("stampvet", sv_stage_descriptor), DIA_OK);
    assert_int_equal(dia_host_open("stampvet", &st, err, sizeof err), DIA_OK);
    assert_string_equal(dia_host_origin(st), "static:stampvet");
    assert_ptr_equal(dia_host_descriptor(st), sv_stage_descriptor());
    dia_host_close(st);
}

/* Two instances, two threads, at once: each keeps its own configuration and
 * its own last-error text, and each processes exposures in memory with its
 * own worker threads; the results equal those of one thread alone. */
#define EXP_N 96
static float ex_img[3][EXP_N * EXP_N];
static char ex_hdr[80 * 16 + 1];
static int64_t ex_id[5] = {1, 2, 3, 4, 5};
static double ex_x[5] = {48.0, 10.3, 2.0, 70.7, -40.0}, ex_y[5] = {48.0, 80.1, 50.0, NAN, 3.0};

static void exposure_setup(void)
{
    double xs[3] = {47.0, 9.3, 1.0}, ys[3] = {47.0, 79.1, 49.0}, fl[3] = {4000, 2500, 3000};
    st_exposure x;
    assert_int_equal(st_exposure_make(&x, EXP_N, EXP_N, 11, 3, xs, ys, fl, NULL, 1.0), 0);
    for (int c = 0; c < 3; c++)
        memcpy(ex_img[c], x.img[c], sizeof ex_img[c]);
    memcpy(ex_hdr, x.header, sizeof ex_hdr);
    st_exposure_free(&x);
}

static dia_status run_exposure(const dia_stage_descriptor *d, dia_instance *inst,
                               const dia_table **res)
{
    dia_exposure x = {.struct_size = sizeof x, .exposure_id = "t", .mjd = 60000.123456789012};
    x.science = (dia_image){ex_img[0], EXP_N, EXP_N, 0, ex_hdr, 16};
    x.reference = (dia_image){ex_img[1], EXP_N, EXP_N, 0, ex_hdr, 16};
    x.difference = (dia_image){ex_img[2], EXP_N, EXP_N, 0, ex_hdr, 16};
    dia_column cols[3] = {
        {.name = "candid", .type = DIA_COL_INT64, .repeat = 1, .data = ex_id},
        {.name = "xpos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = ex_x},
        {.name = "ypos", .type = DIA_COL_FLOAT64, .repeat = 1, .data = ex_y},
    };
    dia_table det = {.nrows = 5, .ncols = 3, .cols = cols};
    return d->process(inst, &x, &det, res);
}

static float reference_rb[5];

typedef struct worker {
    const dia_stage_descriptor *d;
    const char *threads;
    int failures;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 40; i++) {
        dia_kv kv[4] = {{"threads", w->threads}, {"batch", "2"}, {"rb_model", model_file},
                        {"save_stamps", i % 2 ? "columns" : "none"}};
        dia_instance *inst = NULL;
        char err[512];
        if (w->d->create(kv, 4, NULL, &inst, err, sizeof err) != DIA_OK) {
            w->failures++;
            continue;
        }
        dia_kv bad = {"batch", "0"};
        dia_instance *no = NULL;
        if (w->d->create(&bad, 1, NULL, &no, err, sizeof err) != DIA_ERR_CONFIG ||
            !strstr(err, "'batch'"))
            w->failures++;
        /* an empty exposure is refused with a reason, never a crash */
        const dia_table *res = NULL;
        dia_exposure x = {.struct_size = sizeof x};
        dia_table det = {0};
        dia_status rc = w->d->process(inst, &x, &det, &res);
        const char *text = w->d->last_error(inst);
        if (rc == DIA_OK || !text || !*text || res)
            w->failures++;
        /* a real one gives the reference scores */
        if (run_exposure(w->d, inst, &res) != DIA_OK || res->nrows != 5) {
            w->failures++;
        } else {
            const float *rb = res->cols[3].data;
            for (int k = 0; k < 5; k++)
                if (memcmp(&rb[k], &reference_rb[k], sizeof(float)))
                    w->failures++;
        }
        w->d->destroy(inst);
    }
    return NULL;
}

static void test_two_instances_two_threads(void **state)
{
    char err[512] = "";
    dia_host_stage *st = NULL;
    assert_int_equal(dia_host_open(module_path, &st, err, sizeof err), DIA_OK);
    const dia_stage_descriptor *d = dia_host_descriptor(st);
    exposure_setup();
    dia_kv kv[1] = {{"rb_model", model_file}};
    dia_instance *one = NULL;
    assert_int_equal(d->create(kv, 1, NULL, &one, err, sizeof err), DIA_OK);
    const dia_table *res = NULL;
    assert_int_equal(run_exposure(d, one, &res), DIA_OK);
    assert_int_equal(res->nrows, 5);
    assert_string_equal(res->cols[3].name, "drb"); /* preset ztf: ZTF's name */
    memcpy(reference_rb, res->cols[3].data, sizeof reference_rb);
    /* provenance: the host's MJD with every digit, the ABI configuration */
    int seen = 0;
    for (int i = 0; i < res->nmeta; i++) {
        if (!strcmp(res->meta[i].key, "MJD-OBS"))
            seen += strtod(res->meta[i].value, NULL) == 60000.123456789012;
        if (!strcmp(res->meta[i].key, "SVCONFIG"))
            seen += strstr(res->meta[i].value, "rb_model=") != NULL;
        if (!strcmp(res->meta[i].key, "RBMVERS"))
            seen += res->meta[i].value[0] != '\0';
    }
    assert_int_equal(seen, 3);
    assert_true(isfinite(reference_rb[0]) && isfinite(reference_rb[1]));
    assert_true(isnan(reference_rb[3]) && isnan(reference_rb[4]));
    d->destroy(one);
    worker w[2] = {{d, "1", 0}, {d, "2", 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_worker, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(w[0].failures, 0);
    assert_int_equal(w[1].failures, 0);
    dia_host_close(st);
}

int main(void)
{
    build_paths();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_module_loads),
        cmocka_unit_test(test_wrong_major),
        cmocka_unit_test(test_small_descriptor),
        cmocka_unit_test(test_null_descriptor_and_missing_function),
        cmocka_unit_test(test_newer_minor_accepted),
        cmocka_unit_test(test_missing_entry),
        cmocka_unit_test(test_not_a_shared_object),
        cmocka_unit_test(test_bad_paths_never_crash),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_static_registration),
        cmocka_unit_test(test_two_instances_two_threads),
    };
    return cmocka_run_group_tests_name("abi", tests, make_model, remove_model);
}
