/* test_h5_heap_check.c — the HDF5 global-heap guard (h5_heap_check.h):
 * the fuzzer's file whose free-space object of size 0 hangs HDF5 1.10 is
 * refused with the file and the reason, quickly, by the guard and by the
 * Keras importer behind it; every real HDF5 model of the fixtures (braai,
 * RAPID) and a fuzz seed pass it; the two defects HDF5 does not survive
 * (a free-space object of size 0, a reference to an object the heap does
 * not hold, a reference longer than its object) made byte by byte in copies
 * of the seed are refused. */
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

/* a file of the keras reader's seeds, as read (n bytes) */
static size_t read_seed(unsigned char *d, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/keras/global_avgpool.h5", srcdir());
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(d, 1, cap, f);
    fclose(f);
    return n;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* write d[0..n) to a temporary file and check it */
static int check_bytes(const unsigned char *d, size_t n, sv_error *err)
{
    char tmp[] = "/tmp/sv_h5heapXXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, d, n), (ssize_t)n);
    close(fd);
    sv_error_clear(err);
    int st = sv_h5_heap_check(tmp, err);
    printf("# %s\n", st ? err->text : "passes");
    unlink(tmp);
    return st;
}

/* A valid seed (a Keras file written by h5py) passes; the two defects
 * made in copies of it, byte by byte, are refused. */
static void test_damaged_seed_copies(void **state)
{
    (void)state;
    static unsigned char d[1 << 16], c[1 << 16];
    size_t n = read_seed(d, sizeof d);
    sv_error err;
    assert_int_equal(check_bytes(d, n, &err), 0);
    size_t at = 0;
    while (at + 16 < n && memcmp(d + at, "GCOL", 4))
        at++;
    assert_true(at + 16 < n);
    /* the free-space object (index 0) given size 0: HDF5's walk would stop */
    memcpy(c, d, n);
    size_t p = at + 16;
    int nobj = 0;
    while (c[p] | c[p + 1]) {
        p += 16 + ((get64(c + p + 8) + 7) & ~(uint64_t)7);
        nobj++;
    }
    assert_true(nobj >= 2);
    put64(c + p + 8, 0);
    assert_int_equal(check_bytes(c, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "loop"));
    /* a reference to object 1 made to name object nobj + 1, which is not there */
    memcpy(c, d, n);
    uint64_t size1 = get64(c + at + 16 + 8);
    size_t ref = 0;
    for (size_t i = 4; i + 12 <= n && !ref; i++)
        if (get64(c + i) == at && c[i + 8] == 1 && !c[i + 9] && !c[i + 10] && !c[i + 11] &&
            (c[i - 4] | c[i - 3] << 8 | c[i - 2] << 16 | (uint64_t)c[i - 1] << 24) == size1)
            ref = i;
    assert_true(ref > 0);
    c[ref + 8] = (unsigned char)(nobj + 1);
    assert_int_equal(check_bytes(c, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "variable-length reference"));
    assert_non_null(strstr(err.text, "no such object"));
    /* the same reference claiming one byte more than object 1 holds: HDF5
     * would allocate the claimed length */
    memcpy(c, d, n);
    put64(c + ref - 4, (get64(c + ref - 4) & ~(uint64_t)0xffffffff) | (size1 + 1));
    assert_int_equal(check_bytes(c, n, &err), SV_ERR_FORMAT);
    assert_non_null(strstr(err.text, "would allocate"));
    /* and exactly its size passes (a real reference) */
    put64(c + ref - 4, (get64(c + ref - 4) & ~(uint64_t)0xffffffff) | size1);
    assert_int_equal(check_bytes(c, n, &err), 0);
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
        cmocka_unit_test(test_damaged_seed_copies),
        cmocka_unit_test(test_real_models_pass),
        cmocka_unit_test(test_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
