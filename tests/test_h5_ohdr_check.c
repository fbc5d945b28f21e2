/* test_h5_ohdr_check.c — the HDF5 object-header guard (h5_ohdr_check.h):
 * the fuzzer's file whose attribute message makes HDF5 1.10 read outside
 * its memory (a dataspace size of 97 in a 64-byte message) is refused
 * with the file, the header and the reason, by the guard and by the Keras
 * importer behind it, before HDF5 decodes it; every real HDF5 model of the
 * fixtures (braai, RAPID) and the fuzz seeds pass; in copies of a seed,
 * each of the defects it judges, made byte by byte in every attribute
 * message of every object header the walk reaches (root, its continuation
 * chunk, the groups below it through their symbol tables), is refused, and
 * one made outside any message is not. */
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

#include "model/import/h5_bytes.h"
#include "model/import/h5_ohdr_check.h"
#include "model/import/keras_import.h"
#include "nn/nn.h"

static const char *srcdir(void)
{
    const char *s = getenv("SV_SRCDIR");
    return s && *s ? s : ".";
}

#define OVERFLOW "tests/fuzz/regress/keras/keras-hdf5-attribute-message-overflow.h5"
#define VLEN_BASE "tests/fuzz/regress/keras/vlen_string_of_1_3_gb_characters.h5"
#define VLEN_LEN "tests/fuzz/regress/keras/vlen_reference_of_1_4_gb_to_no_heap.h5"

static void test_overflow_file_refused(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/" OVERFLOW, srcdir());
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_ohdr_check(path, &err), SV_ERR_FORMAT);
    printf("# %s\n", err.text);
    assert_non_null(strstr(err.text, path));
    assert_non_null(strstr(err.text, "object header at byte 96"));
    assert_non_null(strstr(err.text, "dataspace (97 bytes)"));
    /* the importer stops there too, before HDF5 decodes the message (under
     * AddressSanitizer, H5Aexists would report a heap-buffer-overflow) */
    nn_net *net = NULL;
    sv_error_clear(&err);
    assert_int_equal(sv_keras_import_net(path, NULL, &net, &err), SV_ERR_FORMAT);
    assert_null(net);
    assert_non_null(strstr(err.text, "object header"));
}

/* a variable-length string whose base type claims 1,329,809,153-byte
 * characters (keras_version of 5 "characters": HDF5 1.10.8 allocated
 * 6.5 GB converting it, in h5py as in the importer) */
static void test_vlen_base_size_refused(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/" VLEN_BASE, srcdir());
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_ohdr_check(path, &err), SV_ERR_FORMAT);
    printf("# %s\n", err.text);
    assert_non_null(strstr(err.text, path));
    assert_non_null(strstr(err.text, "variable-length string attribute whose base type is "
                                     "1329809153 bytes"));
    nn_net *net = NULL;
    sv_error_clear(&err);
    assert_int_equal(sv_keras_import_net(path, NULL, &net, &err), SV_ERR_FORMAT);
    assert_null(net);
    assert_non_null(strstr(err.text, "base type"));
}

/* a keras_version reference claiming 1,409,286,149 characters at an
 * address that is no heap collection (HDF5 1.10.8 allocated 1.4 GB) */
static void test_vlen_length_beyond_file_refused(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/" VLEN_LEN, srcdir());
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_ohdr_check(path, &err), SV_ERR_FORMAT);
    printf("# %s\n", err.text);
    assert_non_null(strstr(err.text, path));
    assert_non_null(strstr(err.text, "claims 1409286149 elements of 1 bytes"));
    nn_net *net = NULL;
    sv_error_clear(&err);
    assert_int_equal(sv_keras_import_net(path, NULL, &net, &err), SV_ERR_FORMAT);
    assert_null(net);
}

/* the seed's bytes (n) */
static unsigned char *read_seed(size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/keras/global_avgpool.h5", srcdir());
    unsigned char *d = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_read_file(path, &d, n, &err), 0);
    return d;
}

/* the attribute messages of the seed's version 1 object headers at oh[]
 * (root 96, model_weights 1056, model_weights/gap 2008: h5py's addresses),
 * following continuation messages: their bodies' offsets */
static int attribute_bodies(const unsigned char *d, size_t n, size_t *body, int cap)
{
    static const size_t oh[] = {96, 1056, 2008};
    int k = 0;
    for (size_t i = 0; i < sizeof oh / sizeof oh[0]; i++) {
        assert_int_equal(d[oh[i]], 1); /* version 1 headers */
        size_t cs[8], cl[8];
        int nc = 1;
        cs[0] = oh[i] + 16;
        cl[0] = sv_h5_le(d + oh[i] + 8, 4);
        for (int c = 0; c < nc; c++)
            for (size_t p = cs[c]; p + 8 <= cs[c] + cl[c] && p + 8 <= n;) {
                unsigned type = (unsigned)sv_h5_le(d + p, 2);
                size_t size = sv_h5_le(d + p + 2, 2);
                if (type == 0x10 && nc < 8) {
                    cs[nc] = sv_h5_le(d + p + 8, 8);
                    cl[nc++] = sv_h5_le(d + p + 16, 8);
                }
                if (type == 0x0C && k < cap)
                    body[k++] = p + 8;
                p += 8 + size;
            }
    }
    return k;
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void test_damaged_seed_copies(void **state)
{
    (void)state;
    size_t n;
    unsigned char *d = read_seed(&n), *c = malloc(n);
    assert_non_null(c);
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_ohdr_check_bytes(d, n, "seed", &err), 0);
    size_t body[32];
    int na = attribute_bodies(d, n, body, 32);
    assert_int_equal(na, 7); /* backend, keras_version, model_config; 3 + 1 below */
    for (int a = 0; a < na; a++) {
        const unsigned char *m = d + body[a];
        assert_int_equal(m[0], 1); /* h5py writes version 1 attribute messages */
        unsigned nname = (unsigned)sv_h5_le(m + 2, 2), ndt = (unsigned)sv_h5_le(m + 4, 2),
                 nds = (unsigned)sv_h5_le(m + 6, 2);
        struct {
            const char *what, *says;
            size_t off;
            unsigned value; /* 2 bytes at m + off */
        } cut[] = {
            {"dataspace size + 97", "do not fit it", 6, nds + 97},
            {"datatype size + 97", "do not fit it", 4, ndt + 97},
            {"name size + 97", "do not fit it", 2, nname + 97},
            {"name size 0", "do not fit it", 2, 0},
            {"version 4", "version 4", 0, 4 | (m[1] << 8)},
        };
        for (size_t k = 0; k < sizeof cut / sizeof cut[0]; k++) {
            memcpy(c, d, n);
            put16(c + body[a] + cut[k].off, cut[k].value);
            sv_error_clear(&err);
            int st = sv_h5_ohdr_check_bytes(c, n, "copy", &err);
            if (st != SV_ERR_FORMAT || !strstr(err.text, cut[k].says))
                fail_msg("attribute %d, %s: status %d '%s'", a, cut[k].what, st, err.text);
        }
        /* the name without its NUL */
        memcpy(c, d, n);
        c[body[a] + 8 + nname - 1] = 'x';
        assert_int_equal(sv_h5_ohdr_check_bytes(c, n, "copy", &err), SV_ERR_FORMAT);
        assert_non_null(strstr(err.text, "without its NUL"));
        /* a first dimension so large that the data cannot fit (rank >= 1) */
        size_t ds = body[a] + 8 + ((nname + 7u) & ~7u) + ((ndt + 7u) & ~7u);
        if (d[ds + 1] >= 1) {
            memcpy(c, d, n);
            c[ds + 8 + 3] = 0x40; /* dimension 0 += 2^30 */
            sv_error_clear(&err);
            assert_int_equal(sv_h5_ohdr_check_bytes(c, n, "copy", &err), SV_ERR_FORMAT);
            assert_non_null(strstr(err.text, "does not fit"));
        }
        /* the message's size past its chunk */
        memcpy(c, d, n);
        put16(c + body[a] - 6, 0xfff0);
        sv_error_clear(&err);
        assert_int_equal(sv_h5_ohdr_check_bytes(c, n, "copy", &err), SV_ERR_FORMAT);
        assert_non_null(strstr(err.text, "past the end of its chunk"));
    }
    /* a byte changed in a dataset's values is none of the walk's business */
    memcpy(c, d, n);
    c[n - 1] ^= 0x55;
    assert_int_equal(sv_h5_ohdr_check_bytes(c, n, "copy", &err), 0);
    free(c);
    free(d);
}

/* no false alarm on the real models and the fuzz seeds */
static void test_real_models_pass(void **state)
{
    (void)state;
    static const char *const files[] = {
        "../shared/fixtures/braai/d6_m7.h5", "../shared/fixtures/braai/d6_m7.weights.h5",
        "../shared/fixtures/braai/braai_d6_m9.weights.h5",
        "../shared/fixtures/rapid/rapid2019_gru_noredshift.hdf5",
        "../shared/fixtures/rapid/rapid2019_gru_redshift.hdf5",
        "../shared/fixtures/rapid/rapid2020_lstm_ztf_noredshift.hdf5",
        "../shared/fixtures/rapid/rapid2021_tcn_ztf_redshift.hdf5",
        "tests/fuzz/keras/global_avgpool.h5", "tests/fuzz/keras/maxpool_valid_odd.h5"};
    int checked = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", srcdir(), files[i]);
        if (access(path, R_OK)) {
            printf("# SKIP: %s: not there\n", path);
            continue;
        }
        sv_error err;
        sv_error_clear(&err);
        int st = sv_h5_ohdr_check(path, &err);
        if (st)
            printf("# %s\n", err.text);
        assert_int_equal(st, 0);
        checked++;
    }
    printf("# %d HDF5 files pass the object-header check\n", checked);
}

static void test_unreadable_and_not_hdf5(void **state)
{
    (void)state;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_h5_ohdr_check("/nonexistent/x.h5", &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "/nonexistent/x.h5"));
    static const unsigned char text[] = "not an HDF5 file at all";
    assert_int_equal(sv_h5_ohdr_check_bytes(text, sizeof text, "text", &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow_file_refused),
        cmocka_unit_test(test_vlen_base_size_refused),
        cmocka_unit_test(test_vlen_length_beyond_file_refused),
        cmocka_unit_test(test_damaged_seed_copies),
        cmocka_unit_test(test_real_models_pass),
        cmocka_unit_test(test_unreadable_and_not_hdf5),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
