/* test_h5_heap_check.c — the HDF5 global-heap guard (h5_heap_check.h):
 * the fuzzer's file whose free-space object of size 0 hangs HDF5 1.10 is
 * refused with the file and the reason, quickly, by the guard and by the
 * Keras importer behind it; every real HDF5 model of the fixtures (braai,
 * RAPID) passes it; a collection damaged here byte by byte is refused. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/import/h5_heap_check.h"
#include "model/import/keras_import.h"
#include "nn/nn.h"

static const char *srcdir(void)
{
    const char *s = getenv("SV_SRCDIR");
    return s && *s ? s : ".";
}

#define HANG "tests/fuzz/regress/keras/global_heap_free_space_of_size_0.h5"

static void test_hang_file_refused(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/" HANG, srcdir());
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_heap_check(path, &err), SV_ERR_FORMAT);
    printf("# %s\n", err.text);
    assert_non_null(strstr(err.text, path));
    assert_non_null(strstr(err.text, "global heap"));
    /* the importer stops there too, before HDF5 reads the heap */
    nn_net *net = NULL;
    sv_error_clear(&err);
    assert_int_equal(sv_keras_import_net(path, NULL, &net, &err), SV_ERR_FORMAT);
    assert_null(net);
    assert_non_null(strstr(err.text, "global heap"));
}

/* the same file with the free-space object's size put back (the bytes to
 * the collection's end) passes the guard: the check is of that defect */
static void test_repaired_copy_passes(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/" HANG, srcdir());
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char d[1 << 16];
    size_t n = fread(d, 1, sizeof d, f);
    fclose(f);
    size_t at = 0;
    while (at + 4 < n && memcmp(d + at, "GCOL", 4))
        at++;
    assert_true(at + 16 < n);
    uint64_t size = 0;
    for (int i = 7; i >= 0; i--)
        size = size << 8 | d[at + 8 + i];
    /* walk to the free-space object */
    size_t p = at + 16;
    while (d[p] | d[p + 1]) {
        uint64_t os = 0;
        for (int i = 7; i >= 0; i--)
            os = os << 8 | d[p + 8 + i];
        p += 16 + ((os + 7) & ~(uint64_t)7);
    }
    uint64_t free_bytes = at + size - p;
    for (int i = 0; i < 8; i++)
        d[p + 8 + i] = (unsigned char)(free_bytes >> (8 * i));
    char tmp[] = "/tmp/sv_h5heapXXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, d, n), (ssize_t)n);
    close(fd);
    sv_error err;
    sv_error_clear(&err);
    int st = sv_h5_heap_check(tmp, &err);
    if (st)
        printf("# %s\n", err.text);
    assert_int_equal(st, 0);
    /* and an object running past the collection's end is refused */
    for (int i = 0; i < 8; i++)
        d[p + 8 + i] = (unsigned char)((free_bytes + 64) >> (8 * i));
    f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
    assert_int_equal(sv_h5_heap_check(tmp, &err), SV_ERR_FORMAT);
    unlink(tmp);
}

/* no false alarm on the real models */
static void test_real_models_pass(void **state)
{
    (void)state;
    static const char *const files[] = {
        "braai/d6_m7.h5", "braai/d6_m7.weights.h5", "braai/braai_d6_m9.weights.h5",
        "rapid/rapid2019_gru_noredshift.hdf5", "rapid/rapid2019_gru_redshift.hdf5",
        "rapid/rapid2020_lstm_ztf_noredshift.hdf5", "rapid/rapid2021_tcn_ztf_redshift.hdf5"};
    int checked = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/../shared/fixtures/%s", srcdir(), files[i]);
        if (access(path, R_OK)) {
            printf("# SKIP: %s: not there (../shared/fixtures)\n", path);
            continue;
        }
        sv_error err;
        sv_error_clear(&err);
        int st = sv_h5_heap_check(path, &err);
        if (st)
            printf("# %s\n", err.text);
        assert_int_equal(st, 0);
        checked++;
    }
    printf("# %d real HDF5 models pass the global-heap check\n", checked);
}

static void test_unreadable(void **state)
{
    (void)state;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_heap_check("/nonexistent/x.h5", &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "/nonexistent/x.h5"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hang_file_refused),
        cmocka_unit_test(test_repaired_copy_passes),
        cmocka_unit_test(test_real_models_pass),
        cmocka_unit_test(test_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
